//! Checking a CRL's signature, and remembering the signers whose signature verified.

use super::Crl;
use crate::certificate::{Certificate, PublicKeyInfo};
use crate::error::Reason;
use crate::signature::{verify_signed_data, AlgorithmPolicy, Keep};

/// A signer whose signature over this CRL verified, under which algorithm policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct VerifiedSigner {
    public_key: Vec<u8>,
    inherited_parameters: Option<Vec<u8>>,
    algorithms: AlgorithmPolicy,
}

/// Signers remembered per CRL; a CRL normally has exactly one.
const MAX_REMEMBERED_SIGNERS: usize = 4;

impl Crl {
    /// Checks the CRL's signature with `issuer`'s public key. This is only the cryptography:
    /// whether that certificate may sign this CRL is the revocation checker's question.
    pub fn verify_signature(
        &self,
        issuer: &Certificate,
        algorithms: &AlgorithmPolicy,
    ) -> Result<(), Reason> {
        self.verify_signature_with(issuer.public_key(), None, algorithms)
    }

    /// As [`Crl::verify_signature`], remembering keys that verified: hashing a 20 MB CRL costs
    /// tens of milliseconds, far too much to repeat on every sign-in.
    pub(crate) fn verify_signature_with(
        &self,
        key: &PublicKeyInfo,
        inherited_parameters: Option<&[u8]>,
        algorithms: &AlgorithmPolicy,
    ) -> Result<(), Reason> {
        let already = self.remembered().iter().any(|s| {
            s.public_key == key.der
                && s.inherited_parameters.as_deref() == inherited_parameters
                && s.algorithms == *algorithms
        });
        if already {
            return Ok(());
        }
        verify_signed_data(
            key,
            inherited_parameters,
            &self.signature_algorithm,
            self.tbs_der(),
            &self.signature,
            algorithms,
            Keep::Nothing,
        )
        .map_err(|reason| match reason {
            Reason::SignatureInvalid { .. } => Reason::CrlSignatureInvalid,
            other => other,
        })?;
        let verified = VerifiedSigner {
            public_key: key.der.to_vec(),
            inherited_parameters: inherited_parameters.map(<[u8]>::to_vec),
            algorithms: *algorithms,
        };
        let mut remembered = self.remembered();
        if remembered.len() < MAX_REMEMBERED_SIGNERS && !remembered.contains(&verified) {
            remembered.push(verified);
        }
        Ok(())
    }

    pub(super) fn remembered(&self) -> std::sync::MutexGuard<'_, Vec<VerifiedSigner>> {
        // A poisoned lock only means another thread panicked mid-push; the list is still a
        // list of keys that verified.
        self.verified_signers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
