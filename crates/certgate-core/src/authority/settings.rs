//! How the built-in CA runs: where it publishes, how its keys are sealed, how long its CRLs
//! live, and how many certificates one certificate may obtain.

use zeroize::Zeroizing;

use super::AuthorityRole;
use crate::crl_cache::CrlKind;
use crate::trusted_ca::{AuthorityType, CaSettings};

/// Where certgate publishes its CA certificates and CRLs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicationUrls {
    base: String,
}

impl PublicationUrls {
    /// `base` is the HTTP origin (and optional path prefix) certgate is reachable at, e.g.
    /// `http://pki.contoso.example`. CRLs go over plain HTTP on purpose: fetching a CRL over
    /// HTTPS would need revocation checking of the HTTPS certificate first (RFC 5280 §8).
    pub fn new(base: &str) -> Self {
        PublicationUrls {
            base: base.trim_end_matches('/').to_owned(),
        }
    }
    /// The URL of `role`'s CRL of `kind`: `<base>/pki/<role>.crl`, or `<role>-delta.crl` for the
    /// delta CRL.
    pub fn crl(&self, role: AuthorityRole, kind: CrlKind) -> String {
        let suffix = match kind {
            CrlKind::Base => "",
            CrlKind::Delta => "-delta",
        };
        format!("{}/pki/{}{suffix}.crl", self.base, role.as_str())
    }
    /// The URL of `role`'s CA certificate (the AIA caIssuers URL): `<base>/pki/<role>.crt`.
    pub fn certificate(&self, role: AuthorityRole) -> String {
        format!("{}/pki/{}.crt", self.base, role.as_str())
    }
    /// How certgate's own `role` CA is trusted, so that its sign-in accepts the certificates
    /// the CA issues: revocation from the CRLs published here, named as an issuer hint.
    pub fn trusted_ca_settings(&self, role: AuthorityRole) -> CaSettings {
        CaSettings {
            display_name: String::new(),
            authority_type: match role {
                AuthorityRole::Root => AuthorityType::Root,
                AuthorityRole::Issuing => AuthorityType::Intermediate,
            },
            crl_url: Some(self.crl(role, CrlKind::Base)),
            delta_crl_url: Some(self.crl(role, CrlKind::Delta)),
            exempt_from_crl_validation: false,
            send_as_issuer_hint: true,
        }
    }
}

/// How the built-in CA runs.
#[derive(Clone)]
pub struct PkiSettings {
    /// Where the CRLs and CA certificates are published; written into every certificate.
    pub urls: PublicationUrls,
    /// Seals private keys at rest. `None` only with `allow_unencrypted_keys`.
    pub key_passphrase: Option<Zeroizing<Vec<u8>>>,
    /// Permits CA keys without a passphrase (`pki init --allow-unencrypted-keys`); not recommended.
    pub allow_unencrypted_keys: bool,
    /// A new base CRL is published when the current one is older than this.
    pub base_crl_period_seconds: i64,
    /// Validity of a base CRL beyond its period (overlap for clients that cache it).
    pub base_crl_overlap_seconds: i64,
    /// Validity of a delta CRL (RFC 5280 §5.2.4); every publication run signs a new one.
    pub delta_crl_validity_seconds: i64,
    /// How many unexpired, unrevoked certificates obtained with a certificate (the
    /// self-service device page, EST re-enrollment) one user may hold at once: without a
    /// bound, one certificate could mint any number of others. An administrator's issuance
    /// does not count and is not limited.
    pub max_derived_certificates_per_user: u32,
    /// Whether a certificate of another trusted CA may obtain a certgate certificate on
    /// `/my/device` (default false). Then the child ends no later than its parent, and the
    /// parent's CA listing it on a CRL revokes the child at that CRL refresh. EST
    /// re-enrollment always needs a certificate certgate issued.
    pub derive_from_trusted_cas: bool,
}

/// The default of [`PkiSettings::max_derived_certificates_per_user`]: a phone, a tablet and
/// a spare, each re-enrolled once or twice before the old certificate expires.
pub const DEFAULT_MAX_DERIVED_CERTIFICATES_PER_USER: u32 = 10;

impl PkiSettings {
    /// Defaults: a base CRL every 7 days valid one day longer, delta CRLs valid 2 days, 10 derived
    /// certificates per user, no derivation from other CAs' certificates, keys sealed.
    pub fn new(urls: PublicationUrls, key_passphrase: Option<Zeroizing<Vec<u8>>>) -> Self {
        PkiSettings {
            urls,
            key_passphrase,
            allow_unencrypted_keys: false,
            base_crl_period_seconds: 7 * 86_400,
            base_crl_overlap_seconds: 86_400,
            delta_crl_validity_seconds: 2 * 86_400,
            max_derived_certificates_per_user: DEFAULT_MAX_DERIVED_CERTIFICATES_PER_USER,
            derive_from_trusted_cas: false,
        }
    }
}
