//! The reasons a certificate is revoked for (RFC 5280 §5.3.1, CRLReason).

/// Why a certificate was revoked (RFC 5280 §5.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RevocationReason {
    /// unspecified (0): no reason given; a CRL entry then has no reasonCode.
    Unspecified,
    /// keyCompromise (1): the subject's private key is known or suspected to be compromised.
    KeyCompromise,
    /// cACompromise (2): the certificate is a CA's, and that CA's private key is known or
    /// suspected to be compromised.
    CaCompromise,
    /// affiliationChanged (3): the subject's name or other information changed.
    AffiliationChanged,
    /// superseded (4): the certificate was replaced by a new one.
    Superseded,
    /// cessationOfOperation (5): the certificate is no longer needed.
    CessationOfOperation,
    /// certificateHold (6): suspended, not revoked for good; a later CRL may lift the hold.
    CertificateHold,
    /// Only meaningful in a delta CRL: the certificate is no longer on hold.
    RemoveFromCrl,
    /// privilegeWithdrawn (9): a privilege the certificate asserts was withdrawn.
    PrivilegeWithdrawn,
    /// aACompromise (10): an attribute authority's key is compromised.
    AaCompromise,
}

impl RevocationReason {
    pub(super) fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::Unspecified,
            1 => Self::KeyCompromise,
            2 => Self::CaCompromise,
            3 => Self::AffiliationChanged,
            4 => Self::Superseded,
            5 => Self::CessationOfOperation,
            6 => Self::CertificateHold,
            // 7 is not used.
            8 => Self::RemoveFromCrl,
            9 => Self::PrivilegeWithdrawn,
            10 => Self::AaCompromise,
            _ => return None,
        })
    }

    /// The CRLReason enumerated value.
    pub fn code(self) -> u8 {
        match self {
            Self::Unspecified => 0,
            Self::KeyCompromise => 1,
            Self::CaCompromise => 2,
            Self::AffiliationChanged => 3,
            Self::Superseded => 4,
            Self::CessationOfOperation => 5,
            Self::CertificateHold => 6,
            Self::RemoveFromCrl => 8,
            Self::PrivilegeWithdrawn => 9,
            Self::AaCompromise => 10,
        }
    }

    /// Reads the RFC 5280 name (`keyCompromise`, any case, `-`/`_` ignored) as people type it.
    /// `removeFromCRL` is refused: it is not a reason to revoke.
    pub fn parse(text: &str) -> Option<Self> {
        let folded: String = text
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .flat_map(char::to_lowercase)
            .collect();
        [
            Self::Unspecified,
            Self::KeyCompromise,
            Self::CaCompromise,
            Self::AffiliationChanged,
            Self::Superseded,
            Self::CessationOfOperation,
            Self::CertificateHold,
            Self::PrivilegeWithdrawn,
            Self::AaCompromise,
        ]
        .into_iter()
        .find(|reason| reason.as_str().to_lowercase() == folded)
    }

    /// The RFC 5280 ASN.1 name, e.g. `keyCompromise`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::KeyCompromise => "keyCompromise",
            Self::CaCompromise => "cACompromise",
            Self::AffiliationChanged => "affiliationChanged",
            Self::Superseded => "superseded",
            Self::CessationOfOperation => "cessationOfOperation",
            Self::CertificateHold => "certificateHold",
            Self::RemoveFromCrl => "removeFromCRL",
            Self::PrivilegeWithdrawn => "privilegeWithdrawn",
            Self::AaCompromise => "aACompromise",
        }
    }
}

impl std::fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
