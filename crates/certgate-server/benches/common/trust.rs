//! The settings the benchmarks trust their test root and issuing CA with.

use certgate_core::trusted_ca::{AuthorityType, CaSettings};
use certgate_pki::Certificate;

/// How a benchmark trusts its two CAs.
pub(crate) struct TestCas<'a> {
    /// The root's and the issuing CA's CRL URLs.
    pub(crate) crl_urls: (Option<&'a str>, Option<&'a str>),
    /// Both exempt from CRL checks (a run without revocation).
    pub(crate) exempt: bool,
    /// Whether the issuing CA is named in the CertificateRequest too (the root always is).
    pub(crate) hint_issuing: bool,
}

impl TestCas<'_> {
    /// The settings of `certificate`, the root (self-issued) or the issuing CA.
    pub(crate) fn settings(&self, certificate: &Certificate) -> CaSettings {
        let root = certificate.is_self_issued();
        CaSettings {
            display_name: String::new(),
            authority_type: if root {
                AuthorityType::Root
            } else {
                AuthorityType::Intermediate
            },
            crl_url: if root {
                self.crl_urls.0
            } else {
                self.crl_urls.1
            }
            .map(str::to_owned),
            delta_crl_url: None,
            exempt_from_crl_validation: self.exempt,
            send_as_issuer_hint: root || self.hint_issuing,
        }
    }
}
