//! [`LdapPasswordVerifier`]: certgate-core's
//! [`DomainPasswordVerifier`](certgate_core::domain_password::DomainPasswordVerifier) port over
//! LDAP: a simple bind as the user, on a connection of its own, over the same verified TLS as
//! the sync (LDAPS or StartTLS, the configured CA only; plain LDAP was refused when the
//! directory source was built).

use std::time::Duration;

use certgate_core::directory_source::SourceError;
use certgate_core::domain_password::{
    bind_refusal, DomainAccount, DomainPassword, DomainPasswordError, DomainPasswordVerifier,
};
use ldap3::LdapError;

use crate::source::LdapDirectory;

/// LDAP result code invalidCredentials (RFC 4511 §4.1.9).
const INVALID_CREDENTIALS: u32 = 49;

/// The name a user binds with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindName {
    /// The user's UPN (Active Directory accepts it as the bind name, MS-ADTS §5.1.1.1.1). The
    /// UPN is what the certificate signed in as and what the token carries, so the password
    /// checked is that very account's; it also survives an entry moved to another OU since
    /// the last sync, which a DN would not.
    Upn,
    /// The DN of the user's entry as the last sync recorded it: a generic LDAP directory
    /// (OpenLDAP) binds by DN only. A user added in certgate has none and is refused.
    EntryDn,
}

/// Checks domain passwords by binding as the user.
#[derive(Clone, Debug)]
pub struct LdapPasswordVerifier {
    directory: LdapDirectory,
    bind_name: BindName,
}

impl LdapPasswordVerifier {
    /// A verifier over `directory`'s connection settings (URL, TLS, CA, timeouts), binding by
    /// `bind_name`.
    pub fn new(directory: LdapDirectory, bind_name: BindName) -> LdapPasswordVerifier {
        LdapPasswordVerifier {
            directory,
            bind_name,
        }
    }

    /// The longest a check takes: connecting (TLS included) and the bind, each with its own
    /// time limit.
    pub fn time_limit(&self) -> Duration {
        let config = self.directory.config();
        config.connect_timeout + config.operation_timeout
    }

    async fn bind(&self, bind_name: &str, password: &str) -> Result<(), DomainPasswordError> {
        let config = self.directory.config();
        let mut ldap = self.directory.connect().await.map_err(connection_refusal)?;
        let result = ldap
            .with_timeout(config.operation_timeout)
            .simple_bind(bind_name, password)
            .await;
        // The connection served this bind only; a failed unbind changes nothing.
        let _ = ldap.unbind().await;
        match result {
            Ok(result) if result.rc == 0 => Ok(()),
            Ok(result) if result.rc == INVALID_CREDENTIALS => Err(bind_refusal(&result.text)),
            Ok(result) => Err(DomainPasswordError::DirectoryRefused {
                detail: format!(
                    "the bind was answered with LDAP result {} ({})",
                    result.rc,
                    certgate_core::escape_control(&result.text)
                ),
            }),
            Err(LdapError::Timeout { .. }) => Err(DomainPasswordError::DirectoryUnreachable {
                detail: format!(
                    "{} did not answer the bind within {:?}",
                    config.url, config.operation_timeout
                ),
            }),
            Err(other) => Err(DomainPasswordError::DirectoryUnreachable {
                detail: format!("{}: {other}", config.url),
            }),
        }
    }
}

/// A failed connection as the password check reports it: no password was sent.
fn connection_refusal(error: SourceError) -> DomainPasswordError {
    let detail = format!("{error} ({})", error.code());
    match error {
        SourceError::TlsFailed { .. } | SourceError::CaFileInvalid { .. } => {
            DomainPasswordError::DirectoryTlsFailed { detail }
        }
        SourceError::Timeout { .. } | SourceError::Unreachable { .. } => {
            DomainPasswordError::DirectoryUnreachable { detail }
        }
        _ => DomainPasswordError::DirectoryRefused { detail },
    }
}

impl DomainPasswordVerifier for LdapPasswordVerifier {
    async fn verify(
        &self,
        account: &DomainAccount,
        password: &DomainPassword,
    ) -> Result<(), DomainPasswordError> {
        // DomainPassword cannot be empty; checked again here because an empty simple bind is
        // an unauthenticated bind that succeeds (RFC 4513 §5.1.2), and this is the last
        // place before the wire.
        if password.expose().is_empty() {
            return Err(DomainPasswordError::Empty);
        }
        let bind_name = match self.bind_name {
            BindName::Upn => Some(account.upn.as_str()),
            BindName::EntryDn => account.dn.as_deref(),
        }
        .filter(|name| !name.trim().is_empty())
        .ok_or(DomainPasswordError::AccountNotInDirectory)?;
        // One limit over the whole check: a server that accepts the connection and then
        // stalls the TLS handshake or StartTLS must not hold the sign-in page.
        let limit = self.time_limit();
        tokio::time::timeout(limit, self.bind(bind_name, password.expose()))
            .await
            .unwrap_or_else(|_| {
                Err(DomainPasswordError::DirectoryUnreachable {
                    detail: format!(
                        "{} did not complete the connection and bind within {limit:?}",
                        self.directory.config().url
                    ),
                })
            })
    }
}
