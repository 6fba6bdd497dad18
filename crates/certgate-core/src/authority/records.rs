//! What certgate keeps about its CAs and the certificates they issued.

use certgate_pki::UnixTime;

use crate::trusted_ca::CaId;

/// The row id of one of certgate's own CAs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AuthorityId(pub i64);

/// Which of the two CAs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthorityRole {
    /// The self-signed root, which relying parties trust; it signs only the issuing CA and its own
    /// CRLs.
    Root,
    /// The issuing CA under the root, which signs user and server certificates.
    Issuing,
}

impl AuthorityRole {
    /// The role's name in the store and in the publication URLs (`root`, `issuing`).
    pub fn as_str(self) -> &'static str {
        match self {
            AuthorityRole::Root => "root",
            AuthorityRole::Issuing => "issuing",
        }
    }
    /// Reads the name [`as_str`](Self::as_str) writes; `None` for anything else.
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
    /// Row id.
    pub id: AuthorityId,
    /// Root or issuing.
    pub role: AuthorityRole,
    /// The CA certificate, DER.
    pub certificate_der: Vec<u8>,
    /// PKCS#8, sealed with the configured passphrase unless `key_sealed` is false.
    pub private_key: Vec<u8>,
    /// Whether `private_key` is sealed with the passphrase (`certgate_ca::sealed_key`); false only
    /// when `pki init` ran without a passphrase, with `--allow-unencrypted-keys`.
    pub key_sealed: bool,
    /// When `pki init` stored it.
    pub created_at: UnixTime,
}

/// A certificate certgate issued, and what became of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedRecord {
    /// Serial number content octets, as in the certificate (random, RFC 5280 §4.1.2.2); unique.
    pub serial: Vec<u8>,
    /// The CA that signed it (the issuing CA).
    pub authority: AuthorityId,
    /// The UPN it was issued to.
    pub upn: String,
    /// The e-mail address in its SAN, if any.
    pub email: Option<String>,
    /// Its subject DN, Windows form.
    pub subject: String,
    /// notBefore.
    pub not_before: UnixTime,
    /// notAfter.
    pub not_after: UnixTime,
    /// The certificate, DER.
    pub certificate_der: Vec<u8>,
    /// When certgate issued it.
    pub issued_at: UnixTime,
    /// When it was revoked; `None` while it is not.
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
