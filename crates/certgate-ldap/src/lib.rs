//! certgate-ldap: Active Directory or another LDAP directory as certgate's directory source.
//!
//! [`LdapDirectory`] implements certgate-core's
//! [`DirectorySource`](certgate_core::directory_source::DirectorySource) port: it connects over
//! LDAPS or StartTLS (never plain LDAP: the bind password would cross the network in clear
//! text), verifies the server against the configured CA file only, binds with a DN and a
//! password from the environment or a file, and reads every entry under the base DN that the
//! filter selects, page by page (RFC 2696), every value as bytes. The mapping to users and
//! the sync plan are certgate-core's (`certgate_core::directory_source`).
//!
//! [`LdapPasswordVerifier`] implements the
//! [`DomainPasswordVerifier`](certgate_core::domain_password::DomainPasswordVerifier) port: the
//! user's domain password checked by a bind as the user, over the same verified TLS.
//!
//! This is the only crate with an LDAP client; its failures are
//! [`SourceError`](certgate_core::directory_source::SourceError)s with stable reason codes.

// Outside tests nothing may panic on a value it did not check: what the directory server
// sends is untrusted input.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

mod config;
mod password;
mod source;
mod wire;

pub use config::{LdapSourceConfig, PasswordSource, Transport};
pub use password::{BindName, LdapPasswordVerifier};
pub use source::{LdapDirectory, PageObserver};
