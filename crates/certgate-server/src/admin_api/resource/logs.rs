//! The sign-in log and the audit log as the admin API shows them (Graph's `signIn` and
//! `directoryAudit` names).

use certgate_core::audit::AuditEvent;
use certgate_core::clock::rfc3339;
use certgate_core::signin::SignInRecord;
use serde::{Deserialize, Serialize};

/// One sign-in attempt (Graph's `signIn` where it has the field).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignIn {
    /// When the attempt was made.
    pub created_date_time: String,
    /// Shown to the person on the error page and in every log line of the attempt.
    pub correlation_id: String,
    /// The client's IP address.
    pub ip_address: String,
    /// What was signed in to: `certauth`, an OpenID Connect client, `admin-api`, ...
    pub app_display_name: String,
    /// The user the certificate mapped to, when it did.
    pub user_principal_name: Option<String>,
    /// `success` or `failure`.
    pub result: String,
    /// `ok` or the stable reason code.
    pub reason_code: String,
    /// The full reason, for administrators.
    pub detail: String,
    /// The end-entity certificate's subject DN (Windows form), when it parses.
    pub certificate_subject: Option<String>,
    /// Its issuer DN (Windows form).
    pub certificate_issuer: Option<String>,
    /// Its serial number, hex.
    pub certificate_serial_number: Option<String>,
    /// Its SHA-256 thumbprint, hex.
    pub certificate_thumbprint: Option<String>,
    /// The username-binding rule that matched, e.g. `PrincipalName->userPrincipalName`.
    pub binding_rule: Option<String>,
    /// `single-factor` or `multi-factor`.
    pub authentication_strength: Option<String>,
}

impl From<&SignInRecord> for SignIn {
    fn from(r: &SignInRecord) -> Self {
        SignIn {
            created_date_time: rfc3339(r.at),
            correlation_id: r.correlation_id.clone(),
            ip_address: r.client_address.clone(),
            app_display_name: r.application.clone(),
            user_principal_name: r.user.clone(),
            result: r.result.as_str().to_owned(),
            reason_code: r.reason_code.clone(),
            detail: r.detail.clone(),
            certificate_subject: r.certificate_subject.clone(),
            certificate_issuer: r.certificate_issuer.clone(),
            certificate_serial_number: r.certificate_serial.clone(),
            certificate_thumbprint: r.certificate_thumbprint.clone(),
            binding_rule: r.binding_rule.clone(),
            authentication_strength: r.strength.clone(),
        }
    }
}

/// One audit event (Graph's `directoryAudit` names).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryAudit {
    /// When it happened.
    pub activity_date_time: String,
    /// `cli:<user>`, `api:<token name>`, `api:<admin UPN>`, `server`, `scheduler`, ...
    pub initiated_by: String,
    /// The stable action name: `ca.add`, `user.set`, ...
    pub activity_display_name: String,
    /// What it was done to: a CA id, a serial, a UPN, ...
    pub target: String,
    /// `success` or `failure`.
    pub result: String,
    /// `ok` or the reason code.
    pub result_reason: String,
    /// The full message, for people.
    pub detail: String,
}

impl From<&AuditEvent> for DirectoryAudit {
    fn from(e: &AuditEvent) -> Self {
        DirectoryAudit {
            activity_date_time: rfc3339(e.at),
            initiated_by: e.actor.clone(),
            activity_display_name: e.action.clone(),
            target: e.target.clone(),
            result: if e.outcome == "ok" {
                "success"
            } else {
                "failure"
            }
            .to_owned(),
            result_reason: e.outcome.clone(),
            detail: e.detail.clone(),
        }
    }
}
