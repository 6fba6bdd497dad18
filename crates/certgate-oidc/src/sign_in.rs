//! What a certificate sign-in established, as the OIDC provider needs it: who (object ID,
//! UPN), when, with which certificate, and how strongly. It travels from the sign-in into the
//! authorization code, the grant and every token of the grant.

use std::fmt;

use certgate_pki::UnixTime;
use serde::{Deserialize, Serialize};

/// The user's directory object ID: the `sub` and `oid` of every token (a stable identifier
/// that survives a UPN change, as Entra's `oid`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ObjectId(pub String);

impl ObjectId {
    /// The object ID as written into `sub` and `oid`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The user's claims at sign-in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserClaims {
    /// The directory object ID: `sub` and `oid`.
    pub object_id: ObjectId,
    /// The user principal name, in the `upn` claim.
    pub upn: String,
    /// Released with the `profile` scope.
    pub display_name: Option<String>,
    /// Released with the `email` scope.
    pub email: Option<String>,
}

/// The certificate a sign-in used. Tokens carry it (`x5_issuer`, `x5_serial`) and refresh
/// tokens are bound to it: a refresh fails once it is revoked.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CertificateRef {
    /// Issuer DN as the sign-in records it (AD FS's certificate-context `issuer` claim).
    pub issuer: String,
    /// Serial number, lowercase hex without separators.
    pub serial: String,
}

/// How the private key of the certificate is held, when known. Decides the RFC 8176 `amr`
/// value of the certificate factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CertificateKind {
    /// Software key, or unknown: `swk` (proof of possession of a software-secured key).
    Software,
    /// Hardware-secured key (TPM, token): `hwk`.
    Hardware,
    /// Smart card: `sc`.
    SmartCard,
}

impl CertificateKind {
    /// The name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            CertificateKind::Software => "software",
            CertificateKind::Hardware => "hardware",
            CertificateKind::SmartCard => "smart-card",
        }
    }

    /// From the stored name; None for an unknown one.
    pub fn parse(text: &str) -> Option<CertificateKind> {
        match text {
            "software" => Some(CertificateKind::Software),
            "hardware" => Some(CertificateKind::Hardware),
            "smart-card" => Some(CertificateKind::SmartCard),
            _ => None,
        }
    }

    fn amr(self) -> &'static str {
        match self {
            CertificateKind::Software => "swk",
            CertificateKind::Hardware => "hwk",
            CertificateKind::SmartCard => "sc",
        }
    }
}

/// A factor used after the certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SecondFactor {
    /// RFC 6238 TOTP: `otp`.
    Totp,
    /// A code sent by SMS: `sms`.
    Sms,
    /// A voice call: `tel`.
    Voice,
}

impl SecondFactor {
    /// The name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            SecondFactor::Totp => "totp",
            SecondFactor::Sms => "sms",
            SecondFactor::Voice => "voice",
        }
    }

    /// From the stored name; None for an unknown one.
    pub fn parse(text: &str) -> Option<SecondFactor> {
        match text {
            "totp" => Some(SecondFactor::Totp),
            "sms" => Some(SecondFactor::Sms),
            "voice" => Some(SecondFactor::Voice),
            _ => None,
        }
    }

    fn amr(self) -> &'static str {
        match self {
            SecondFactor::Totp => "otp",
            SecondFactor::Sms => "sms",
            SecondFactor::Voice => "tel",
        }
    }
}

/// The strength the sign-in reached (issue 4 item 4: a multi-factor certificate alone, or a
/// single-factor certificate plus a second factor, is multi-factor).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Assurance {
    /// One factor: a single-factor certificate, no second factor ([`ACR_CERTIFICATE`]).
    SingleFactor,
    /// Two or more factors ([`ACR_MFA`], and `mfa` in `amr`).
    MultiFactor,
}

impl Assurance {
    /// The name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Assurance::SingleFactor => "single-factor",
            Assurance::MultiFactor => "multi-factor",
        }
    }

    /// From the stored name; None for an unknown one.
    pub fn parse(text: &str) -> Option<Assurance> {
        match text {
            "single-factor" => Some(Assurance::SingleFactor),
            "multi-factor" => Some(Assurance::MultiFactor),
            _ => None,
        }
    }

    /// The `acr` value (see [`ACR_CERTIFICATE`], [`ACR_MFA`]).
    pub fn acr(self) -> &'static str {
        match self {
            Assurance::SingleFactor => ACR_CERTIFICATE,
            Assurance::MultiFactor => ACR_MFA,
        }
    }
}

/// `acr` of a single-factor certificate sign-in.
pub const ACR_CERTIFICATE: &str = "urn:certgate:acr:certificate";
/// `acr` of a multi-factor sign-in (a multi-factor certificate, or certificate + second
/// factor).
pub const ACR_MFA: &str = "urn:certgate:acr:mfa";

/// A completed certificate sign-in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authentication {
    /// Who signed in.
    pub user: UserClaims,
    /// When the user presented the certificate (OIDC `auth_time`).
    #[serde(with = "crate::unix_time")]
    pub auth_time: UnixTime,
    /// The certificate presented.
    pub certificate: CertificateRef,
    /// How the certificate's private key is held; decides its `amr` value.
    pub certificate_kind: CertificateKind,
    /// The factor used after the certificate, if any.
    pub second_factor: Option<SecondFactor>,
    /// The directory accepted the user's domain password in this sign-in (after the
    /// certificate): `pwd` in `amr`. Absent (false) in sign-ins kept before certgate had the
    /// step.
    #[serde(default)]
    pub domain_password: bool,
    /// The strength reached; decides `acr`.
    pub assurance: Assurance,
}

impl Authentication {
    /// RFC 8176 authentication method references: the certificate (`swk`, `hwk` or `sc`),
    /// then `pwd` when the domain password was checked, then the second factor (`otp`, `sms`,
    /// `tel`), then `mfa` for a multi-factor sign-in.
    pub fn amr(&self) -> Vec<&'static str> {
        let mut amr = vec![self.certificate_kind.amr()];
        if self.domain_password {
            amr.push("pwd");
        }
        if let Some(factor) = self.second_factor {
            amr.push(factor.amr());
        }
        if self.assurance == Assurance::MultiFactor {
            amr.push("mfa");
        }
        amr
    }

    /// The `acr` value of the sign-in's assurance.
    pub fn acr(&self) -> &'static str {
        self.assurance.acr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authentication(
        kind: CertificateKind,
        second_factor: Option<SecondFactor>,
        assurance: Assurance,
    ) -> Authentication {
        Authentication {
            user: UserClaims {
                object_id: ObjectId("u".into()),
                upn: "u@example.test".into(),
                display_name: None,
                email: None,
            },
            auth_time: UnixTime(0),
            certificate: CertificateRef {
                issuer: "CN=CA".into(),
                serial: "01".into(),
            },
            certificate_kind: kind,
            second_factor,
            domain_password: false,
            assurance,
        }
    }

    #[test]
    fn amr_and_acr_follow_rfc_8176_by_table() {
        use Assurance::*;
        use CertificateKind::*;
        /// (certificate, second factor, assurance, amr, acr)
        type Case = (
            CertificateKind,
            Option<SecondFactor>,
            Assurance,
            &'static [&'static str],
            &'static str,
        );
        let cases: &[Case] = &[
            (Software, None, SingleFactor, &["swk"], ACR_CERTIFICATE),
            (Hardware, None, SingleFactor, &["hwk"], ACR_CERTIFICATE),
            (SmartCard, None, MultiFactor, &["sc", "mfa"], ACR_MFA),
            (
                Software,
                Some(SecondFactor::Totp),
                MultiFactor,
                &["swk", "otp", "mfa"],
                ACR_MFA,
            ),
            (
                Software,
                Some(SecondFactor::Sms),
                MultiFactor,
                &["swk", "sms", "mfa"],
                ACR_MFA,
            ),
            (
                Hardware,
                Some(SecondFactor::Voice),
                MultiFactor,
                &["hwk", "tel", "mfa"],
                ACR_MFA,
            ),
        ];
        for (kind, factor, assurance, amr, acr) in cases {
            let authentication = authentication(*kind, *factor, *assurance);
            assert_eq!(authentication.amr(), *amr, "{kind:?} {factor:?}");
            assert_eq!(authentication.acr(), *acr);
        }
    }

    #[test]
    fn a_checked_domain_password_is_pwd_next_to_the_certificate() {
        // Certificate + domain password: two factors.
        let mut with_password =
            authentication(CertificateKind::Software, None, Assurance::MultiFactor);
        with_password.domain_password = true;
        assert_eq!(with_password.amr(), ["swk", "pwd", "mfa"]);
        assert_eq!(with_password.acr(), ACR_MFA);
        // Certificate + domain password + one-time code.
        with_password.second_factor = Some(SecondFactor::Totp);
        assert_eq!(with_password.amr(), ["swk", "pwd", "otp", "mfa"]);
        // A sign-in kept before the step reads as one without the password.
        let mut kept = serde_json::to_value(&with_password).expect("serialized");
        kept.as_object_mut()
            .expect("an object")
            .remove("domain_password");
        let read: Authentication = serde_json::from_value(kept).expect("readable");
        assert!(!read.domain_password);
        assert_eq!(read.amr(), ["swk", "otp", "mfa"]);
    }

    #[test]
    fn stored_names_round_trip() {
        for kind in [
            CertificateKind::Software,
            CertificateKind::Hardware,
            CertificateKind::SmartCard,
        ] {
            assert_eq!(CertificateKind::parse(kind.as_str()), Some(kind));
        }
        for factor in [SecondFactor::Totp, SecondFactor::Sms, SecondFactor::Voice] {
            assert_eq!(SecondFactor::parse(factor.as_str()), Some(factor));
        }
        for assurance in [Assurance::SingleFactor, Assurance::MultiFactor] {
            assert_eq!(Assurance::parse(assurance.as_str()), Some(assurance));
        }
    }
}
