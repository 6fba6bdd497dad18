//! The set of CAs an administrator trusts: roots (trust anchors) and intermediates
//! (RFC 5280 §6.1.1 (d); Entra's CertificateAuthorityInformation).

use std::collections::HashMap;
use std::sync::Arc;

use crate::certificate::Certificate;
use crate::name::Name;
use crate::signature::SignatureCache;

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

/// Up to this many CAs, lookups compare names one by one instead of hashing.
const LINEAR_LOOKUP_MAX: usize = 32;

/// Trusted roots and intermediates, indexed by subject name.
///
/// CAs whose subjects are the same name (RFC 5280 §7.1) share a group. A lookup tries the
/// name's exact encoding first, which is what an issuer field nearly always carries, so the
/// name's comparison key is built only when the encodings differ.
#[derive(Clone, Debug, Default)]
pub struct TrustStore {
    cas: Vec<TrustedCa>,
    groups: Vec<Vec<usize>>,
    group_by_name: HashMap<Name, usize>,
    group_by_der: HashMap<Vec<u8>, usize>,
    /// CA keys parsed, and verdicts on signatures over CA certificates, from the paths
    /// validation checked; shared by the store's copies (a key parses, and a signature
    /// verifies, the same whatever the store trusts).
    signature_cache: Arc<SignatureCache>,
}

impl TrustStore {
    /// An empty store, which trusts nothing.
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn signature_cache(&self) -> &SignatureCache {
        &self.signature_cache
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
        let subject = certificate.subject();
        let group = match self.group_by_name.get(subject) {
            Some(&group) => group,
            None => {
                self.groups.push(Vec::new());
                self.group_by_name
                    .insert(subject.clone(), self.groups.len() - 1);
                self.groups.len() - 1
            }
        };
        self.group_by_der.insert(subject.der().to_vec(), group);
        if let Some(members) = self.groups.get_mut(group) {
            members.push(index);
        }
        self.cas.push(TrustedCa { certificate, kind });
    }

    /// The number of CAs, roots and intermediates.
    pub fn len(&self) -> usize {
        self.cas.len()
    }

    /// Whether the store holds no CA.
    pub fn is_empty(&self) -> bool {
        self.cas.is_empty()
    }

    /// All CAs with their kinds.
    pub fn iter(&self) -> impl Iterator<Item = (&Certificate, CaKind)> {
        self.cas.iter().map(|ca| (&ca.certificate, ca.kind))
    }

    /// The group of CAs whose subject is `subject`, found once for a search step that then
    /// walks the group more than once.
    pub(crate) fn group_of_subject(&self, subject: &Name) -> Option<usize> {
        if self.cas.len() <= LINEAR_LOOKUP_MAX {
            // A few CAs: comparing names directly (exact bytes first, then the streaming
            // comparison, which stops at the first differing attribute) is cheaper than
            // hashing, and a miss never builds the name's key.
            let by_der = self
                .cas
                .iter()
                .position(|ca| ca.certificate.subject().der() == subject.der());
            by_der
                .or_else(|| {
                    self.cas
                        .iter()
                        .position(|ca| ca.certificate.subject() == subject)
                })
                .and_then(|index| self.group_of(index))
        } else {
            match self.group_by_der.get(subject.der()) {
                Some(&group) => Some(group),
                None => self.group_by_name.get(subject).copied(),
            }
        }
    }

    /// The CAs of a group from [`TrustStore::group_of_subject`].
    pub(crate) fn in_group(&self, group: Option<usize>) -> impl Iterator<Item = &TrustedCa> + '_ {
        group
            .and_then(|group| self.groups.get(group))
            .into_iter()
            .flatten()
            .filter_map(|&i| self.cas.get(i))
    }

    fn group_of(&self, index: usize) -> Option<usize> {
        self.groups
            .iter()
            .position(|members| members.contains(&index))
    }

    /// True when `der` is byte-identical to a trusted root.
    pub(crate) fn find_by_der(&self, der: &[u8]) -> Option<&TrustedCa> {
        self.cas.iter().find(|ca| ca.certificate.der() == der)
    }
}
