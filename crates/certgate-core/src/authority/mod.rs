//! certgate's own CA (the AD CS role): a root and an issuing CA whose keys are sealed at rest,
//! client certificates with the user's UPN and e-mail, durable revocation, and base + delta
//! CRLs published at the URLs written into every certificate.
//!
//! The cryptography is certgate-ca's; this service decides what to issue and keeps the
//! records.
//!
//! [`BuiltInCa`] is the service; its operations live by responsibility:
//! - `hierarchy`: `pki init`, creating the root and issuing CA ([`BuiltInCa::init`]).
//! - `keys`: the CA records and their private keys, sealed at rest and unsealed to sign.
//! - `issuing`: client and server certificates, and CMS signatures with the issuing CA.
//! - `derivation`: which certificate may obtain another ([`BuiltInCa::derivation_parent`]).
//! - `revocation`: revoking a certificate with its descendants, and what a trusted CA's CRL
//!   means for certificates derived from its certificates ([`ParentRevocations`]).
//! - `crl_publication`: base and delta CRLs ([`BuiltInCa::publish_crls`]).
//! - `records`, `settings`, `error`: what is stored, how the CA runs, and [`PkiError`].

mod crl_publication;
mod derivation;
mod error;
mod hierarchy;
mod issuing;
mod keys;
mod own_ca_store;
mod records;
mod revocation;
mod settings;

use crate::Store;
pub use crl_publication::{BaseCrl, PublishedCrl};
pub use derivation::DerivedFor;
pub use error::PkiError;
pub use hierarchy::InitRequest;
pub use issuing::{common_name_for_display_name, IssueRequest, Issued, IssuedForKey, ServerIssued};
pub use own_ca_store::OwnCaStore;
pub use records::{AuthorityId, AuthorityRecord, AuthorityRole, IssuedRecord, ParentCertificate};
pub use revocation::{ParentRevocations, Revocation};
pub use settings::{PkiSettings, PublicationUrls, DEFAULT_MAX_DERIVED_CERTIFICATES_PER_USER};

use certgate_pki::{Certificate, UnixTime};
use time::OffsetDateTime;

use crate::audit::AuditEvent;
use crate::clock::Clock;
use crate::store::StoreError;

/// The built-in CA service.
pub struct BuiltInCa<'a, S, C> {
    store: &'a S,
    clock: &'a C,
    settings: &'a PkiSettings,
    actor: &'a str,
}

fn to_offset(at: UnixTime) -> OffsetDateTime {
    // Times here come from the clock or from certificates this CA issued, all within the
    // years OffsetDateTime supports.
    OffsetDateTime::from_unix_timestamp(at.0).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

impl<'a, S: Store, C: Clock> BuiltInCa<'a, S, C> {
    /// The service over `store` and `clock`; `actor` is recorded in the audit events it writes
    /// (`cli:<user>`, `server`).
    pub fn new(store: &'a S, clock: &'a C, settings: &'a PkiSettings, actor: &'a str) -> Self {
        BuiltInCa {
            store,
            clock,
            settings,
            actor,
        }
    }

    async fn audit(
        &self,
        action: &str,
        target: impl Into<String>,
        outcome: &str,
        detail: impl Into<String>,
    ) -> Result<(), StoreError> {
        self.store
            .append_audit(&AuditEvent::new(
                self.clock.now(),
                self.actor,
                action,
                target,
                outcome,
                detail,
            ))
            .await
    }
}

fn subject_of(der: &[u8]) -> String {
    Certificate::from_der(der)
        .map(|c| c.subject().to_windows())
        .unwrap_or_else(|reason| format!("(unreadable certificate: {})", reason.code()))
}
