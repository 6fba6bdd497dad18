//! Message identifiers (`ID` attributes of Assertion and Response).

use std::fmt;

use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};

use crate::canonical::check_ncname;
use crate::error::SamlError;

/// An `xs:ID`: `_` followed by 32 lowercase hex digits from the system random source
/// (128 bits, as SAML core §1.3.4 asks: "the probability of two randomly chosen identifiers
/// being identical MUST be less than or equal to 2^-128"). The `_` makes it an NCName even
/// when the first hex digit is a digit.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MessageId(String);

impl MessageId {
    /// A fresh random ID; fails only if the system random source does.
    pub fn random() -> Result<Self, SamlError> {
        let mut bytes = [0u8; 16];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| SamlError::Random)?;
        let mut id = String::with_capacity(33);
        id.push('_');
        for b in bytes {
            id.push_str(&format!("{b:02x}"));
        }
        Ok(MessageId(id))
    }

    /// An ID chosen elsewhere (a golden test, a stored message); it must be an NCName.
    pub fn parse(id: &str) -> Result<Self, SamlError> {
        check_ncname("id", id)?;
        Ok(MessageId(id.to_owned()))
    }

    /// The ID as written into the `ID` attribute.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_are_underscore_and_32_hex_and_differ() {
        let a = MessageId::random().unwrap();
        let b = MessageId::random().unwrap();
        assert_ne!(a, b);
        for id in [&a, &b] {
            let s = id.as_str();
            assert_eq!(s.len(), 33);
            assert!(s.starts_with('_'));
            assert!(s[1..]
                .bytes()
                .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')));
        }
    }

    #[test]
    fn parse_refuses_non_ncname() {
        assert!(MessageId::parse("_abc").is_ok());
        assert!(MessageId::parse("1abc").is_err());
        assert!(MessageId::parse("a\"b").is_err());
    }
}
