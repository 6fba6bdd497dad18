// TEMPORARY STUB (not committed)
use crate::{
    certificate::{Certificate, UnixTime},
    error::Reason,
    name::Name,
    signature::AlgorithmPolicy,
};
pub struct RevocationSnapshot;
impl RevocationSnapshot {
    pub fn empty() -> Self {
        RevocationSnapshot
    }
}
pub(crate) struct CrlSigner<'a> {
    pub certificate: &'a Certificate,
    pub inherited_parameters: Option<&'a [u8]>,
}
pub(crate) trait CrlSignerSource {
    fn crl_signers(&self, issuer: &Name) -> Vec<CrlSigner<'_>>;
}
pub(crate) struct RevocationQuery<'a> {
    pub certificate: &'a Certificate,
    pub at: UnixTime,
    pub algorithms: &'a AlgorithmPolicy,
}
pub(crate) struct RevocationProof {
    pub base_crl_number: Vec<u8>,
    pub delta_crl_number: Option<Vec<u8>>,
}
pub(crate) fn check_revocation(
    q: &RevocationQuery<'_>,
    _s: &RevocationSnapshot,
    signers: &dyn CrlSignerSource,
) -> Result<RevocationProof, Reason> {
    let _ = signers.crl_signers(q.certificate.issuer());
    Err(Reason::CrlUnavailable {
        issuer: String::new(),
    })
}
impl RevocationSnapshot {
    pub fn new(_c: Vec<crate::crl::Crl>) -> Self {
        RevocationSnapshot
    }
}
