//! What certgate keeps about its CAs and the certificates they issued.

use certgate_pki::UnixTime;

use crate::trusted_ca::CaId;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AuthorityId(pub i64);

/// Which of the two CAs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthorityRole {
    Root,
    Issuing,
}

impl AuthorityRole {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthorityRole::Root => "root",
            AuthorityRole::Issuing => "issuing",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "root" => Some(AuthorityRole::Root),
            "issuing" => Some(AuthorityRole::Issuing),
            _ => None,
        }
    }
}

/// One of certgate's CAs as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorityRecord {
    pub id: AuthorityId,
    pub role: AuthorityRole,
    pub certificate_der: Vec<u8>,
    /// PKCS#8, sealed with the configured passphrase unless `key_sealed` is false.
    pub private_key: Vec<u8>,
    pub key_sealed: bool,
    pub created_at: UnixTime,
}

/// A certificate certgate issued, and what became of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedRecord {
    pub serial: Vec<u8>,
    pub authority: AuthorityId,
    pub upn: String,
    pub email: Option<String>,
    pub subject: String,
    pub not_before: UnixTime,
    pub not_after: UnixTime,
    pub certificate_der: Vec<u8>,
    pub issued_at: UnixTime,
    pub revoked_at: Option<UnixTime>,
    /// RFC 5280 reason name, e.g. `keyCompromise`.
    pub revocation_reason: Option<String>,
    /// The certificate that authenticated the request for this one (EST re-enrollment,
    /// `/my/device`); `None` for a certificate issued with an enrollment code or by an
    /// administrator. Revoking the parent revokes this certificate too.
    pub parent: Option<ParentCertificate>,
}

/// The certificate a signed-in requester presented to get a new one: whoever held it (and its
/// key) got the new certificate, so the new one is worth no more than it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParentCertificate {
    /// Serial number content octets, as in the certificate.
    pub serial: Vec<u8>,
    /// The parent's issuer DN (Windows form), for people reading the record.
    pub issuer: String,
    /// The certgate CA that issued the parent, when certgate did (its certificate is on
    /// record byte for byte); `None` for a certificate of another trusted CA, which only
    /// `/my/device` accepts. Only parents certgate issued can be revoked here, so only they
    /// take descendants with them.
    pub authority: Option<AuthorityId>,
    /// For a parent of another trusted CA: that CA's record (the issuing CA on the parent's
    /// validated path). When that CA's CRL lists the parent, the CRL refresh revokes the
    /// children (`Store::put_cached_crl`).
    pub trusted_ca: Option<CaId>,
    /// For a parent of another trusted CA: its notAfter, the latest its children may end.
    pub not_after: Option<UnixTime>,
}

impl ParentCertificate {
    /// Whether certgate's CA issued the parent.
    pub fn is_issued_here(&self) -> bool {
        self.authority.is_some()
    }
}

impl IssuedRecord {
    /// `valid`, `expired` or `revoked` at `now`.
    pub fn status(&self, now: UnixTime) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.not_after < now {
            "expired"
        } else {
            "valid"
        }
    }
}
