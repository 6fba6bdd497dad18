//! The set of CAs an administrator trusts: roots (trust anchors) and intermediates
//! (RFC 5280 §6.1.1 (d); Entra's CertificateAuthorityInformation).

use std::collections::HashMap;

use crate::certificate::Certificate;
use crate::name::Name;

/// The role a trusted CA plays (Entra's `authorityType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaKind {
    /// A trust anchor: paths end here.
    Root,
    /// A CA the client need not send: used to build paths, which must still end at a root.
    Intermediate,
}

#[derive(Clone, Debug)]
pub(crate) struct TrustedCa {
    pub(crate) certificate: Certificate,
    pub(crate) kind: CaKind,
}

/// Trusted roots and intermediates, indexed by subject name.
#[derive(Clone, Debug, Default)]
pub struct TrustStore {
    cas: Vec<TrustedCa>,
    by_subject: HashMap<Name, Vec<usize>>,
}

impl TrustStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a CA. A certificate already present (same DER) is not added twice.
    pub fn add(&mut self, certificate: Certificate, kind: CaKind) {
        if self
            .cas
            .iter()
            .any(|ca| ca.certificate.der() == certificate.der() && ca.kind == kind)
        {
            return;
        }
        let index = self.cas.len();
        self.by_subject
            .entry(certificate.subject().clone())
            .or_default()
            .push(index);
        self.cas.push(TrustedCa { certificate, kind });
    }

    pub fn len(&self) -> usize {
        self.cas.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cas.is_empty()
    }

    /// All CAs with their kinds.
    pub fn iter(&self) -> impl Iterator<Item = (&Certificate, CaKind)> {
        self.cas.iter().map(|ca| (&ca.certificate, ca.kind))
    }

    pub(crate) fn with_subject<'a>(
        &'a self,
        subject: &Name,
    ) -> impl Iterator<Item = &'a TrustedCa> + 'a {
        self.by_subject
            .get(subject)
            .into_iter()
            .flatten()
            .filter_map(|&i| self.cas.get(i))
    }

    /// True when `der` is byte-identical to a trusted root.
    pub(crate) fn find_by_der(&self, der: &[u8]) -> Option<&TrustedCa> {
        self.cas.iter().find(|ca| ca.certificate.der() == der)
    }
}
