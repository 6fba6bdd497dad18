//! Input format of the `path` target:
//!
//! ```text
//! byte 0  flags: bits 0-4 blob i is a to-be-signed structure the harness signs (harness_key)
//!                bit 5 accept legacy algorithms (SHA-1, DSA, RSA-1024: the PKITS data)
//!                bit 6 validate at 2011-04-15 (PKITS) instead of 2026-01-01 (certgate-testpki)
//!                bit 7 revocation depth EndEntity instead of Chain
//! byte 1  knobs: bit 0 initial-explicit-policy, bit 1 initial-policy-mapping-inhibit,
//!                bit 2 initial-any-policy-inhibit, bit 3 initial policy set {NIST test policy 1},
//!                bit 4 middle certificates are trusted intermediates instead of presented ones,
//!                bits 5-6 purpose (client, server, any, EKU list), bit 7 reject a missing EKU
//! byte 2  extras: bit 0 the end entity's issuer is exempt from revocation,
//!                 bit 1 max depth 2, bit 2 expect the DNS name www.example.com
//! then up to MAX_BLOBS blobs, each a big-endian u16 length and that many bytes (the last one
//! may be short: it takes what is left).
//! ```
//!
//! The target parses every blob both as a certificate and as a CRL. Certificates keep their
//! order: the first is the end entity, the last the trusted root.

pub const MAX_BLOBS: usize = 5;
pub const HEADER_LEN: usize = 3;

pub mod flags {
    pub const LEGACY_ALGORITHMS: u8 = 1 << 5;
    pub const PKITS_TIME: u8 = 1 << 6;
    pub const REVOCATION_END_ENTITY: u8 = 1 << 7;
}

pub mod knobs {
    pub const EXPLICIT_POLICY: u8 = 1 << 0;
    pub const INHIBIT_POLICY_MAPPING: u8 = 1 << 1;
    pub const INHIBIT_ANY_POLICY: u8 = 1 << 2;
    pub const NIST_TEST_POLICY_1: u8 = 1 << 3;
    pub const TRUSTED_INTERMEDIATES: u8 = 1 << 4;
    pub const PURPOSE_SHIFT: u8 = 5;
    pub const PURPOSE_ANY: u8 = 2 << PURPOSE_SHIFT;
    pub const REJECT_MISSING_EKU: u8 = 1 << 7;
}

pub mod extras {
    pub const EXEMPT_END_ENTITY_ISSUER: u8 = 1 << 0;
    pub const MAX_DEPTH_2: u8 = 1 << 1;
    pub const EXPECT_DNS_NAME: u8 = 1 << 2;
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathInput<'a> {
    pub flags: u8,
    pub knobs: u8,
    pub extras: u8,
    pub blobs: Vec<&'a [u8]>,
}

impl<'a> PathInput<'a> {
    pub fn split(data: &'a [u8]) -> Option<Self> {
        let (header, mut rest) = data.split_at_checked(HEADER_LEN)?;
        let mut blobs = Vec::with_capacity(MAX_BLOBS);
        while blobs.len() < MAX_BLOBS && rest.len() >= 2 {
            let length = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
            let body = &rest[2..];
            let (blob, after) = body.split_at(length.min(body.len()));
            blobs.push(blob);
            rest = after;
        }
        Some(PathInput {
            flags: header[0],
            knobs: header[1],
            extras: header[2],
            blobs,
        })
    }

    /// Whether blob `index` is to be signed with the harness key.
    pub fn signs(&self, index: usize) -> bool {
        index < 5 && self.flags & (1 << index) != 0
    }

    /// The inverse of [`PathInput::split`], for the seed generator. Blobs longer than 65,535
    /// bytes do not fit the format and are cut.
    pub fn join(&self) -> Vec<u8> {
        let mut out = vec![self.flags, self.knobs, self.extras];
        for blob in self.blobs.iter().take(MAX_BLOBS) {
            let blob = &blob[..blob.len().min(usize::from(u16::MAX))];
            out.extend_from_slice(&(blob.len() as u16).to_be_bytes());
            out.extend_from_slice(blob);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_then_split_gives_the_blobs_back() {
        let blobs: Vec<&[u8]> = vec![b"leaf", b"", b"root", &[0; 300]];
        let input = PathInput {
            flags: 0b101,
            knobs: 7,
            extras: 1,
            blobs,
        };
        assert_eq!(PathInput::split(&input.join()), Some(input));
    }

    #[test]
    fn short_last_blob_takes_the_rest() {
        let parsed = PathInput::split(&[0, 0, 0, 0, 9, b'a', b'b']).expect("header present");
        assert_eq!(parsed.blobs, vec![&b"ab"[..]]);
        assert!(PathInput::split(&[0, 0]).is_none());
    }
}
