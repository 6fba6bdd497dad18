//! Scopes (RFC 6749 §3.3): a set of case-sensitive tokens, written space-delimited.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Makes the request an OpenID Connect one (OpenID Connect Core §3.1.2.1); required in every
/// request certgate serves.
pub const OPENID: &str = "openid";
/// Releases `name` (OpenID Connect Core §5.4).
pub const PROFILE: &str = "profile";
/// Releases `email` (OpenID Connect Core §5.4).
pub const EMAIL: &str = "email";
/// Asks for a refresh token (OpenID Connect Core §11); without it none is issued.
pub const OFFLINE_ACCESS: &str = "offline_access";

/// A set of scope tokens, kept sorted so that the text form is stable.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScopeSet(BTreeSet<String>);

/// A scope string that is not a space-delimited list of `NQCHAR` tokens.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not a valid scope list (space-separated tokens of printable ASCII without \" or \\)")]
pub struct ScopeMalformed(pub String);

impl ScopeSet {
    /// Parses `scope` (RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`,
    /// separated by single spaces; extra spaces are tolerated).
    pub fn parse(text: &str) -> Result<ScopeSet, ScopeMalformed> {
        let tokens: BTreeSet<String> = text
            .split(' ')
            .filter(|token| !token.is_empty())
            .map(str::to_owned)
            .collect();
        let valid = |token: &String| {
            token
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
        };
        if tokens.is_empty() || !tokens.iter().all(valid) {
            return Err(ScopeMalformed(text.to_owned()));
        }
        Ok(ScopeSet(tokens))
    }

    /// A set of known tokens, unchecked: for constants in code and tests, not for input.
    pub fn of(tokens: &[&str]) -> ScopeSet {
        ScopeSet(tokens.iter().map(|t| (*t).to_owned()).collect())
    }

    /// Whether `token` is in the set (case-sensitive).
    pub fn contains(&self, token: &str) -> bool {
        self.0.contains(token)
    }

    /// Whether every token of `self` is in `other`.
    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }

    /// Tokens of `self` that `allowed` does not contain.
    pub fn outside<'a>(&'a self, allowed: &ScopeSet) -> Vec<&'a str> {
        self.0
            .iter()
            .filter(|token| !allowed.0.contains(*token))
            .map(String::as_str)
            .collect()
    }

    /// The tokens, in sorted order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for token in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(token)?;
            first = false;
        }
        Ok(())
    }
}

impl Serialize for ScopeSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ScopeSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ScopeSet, D::Error> {
        let text = String::deserialize(deserializer)?;
        ScopeSet::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_sorted_and_deduplicated() {
        let scopes = ScopeSet::parse("profile openid  profile email").expect("valid");
        assert_eq!(scopes.to_string(), "email openid profile");
        assert!(scopes.contains(OPENID));
        assert!(ScopeSet::of(&[OPENID]).is_subset(&scopes));
        assert_eq!(
            ScopeSet::of(&[OPENID, "admin"]).outside(&scopes),
            vec!["admin"]
        );
    }

    #[test]
    fn malformed_scopes_are_refused() {
        for text in ["", "   ", "open\"id", "a\\b", "tab\there", "ünï"] {
            assert!(ScopeSet::parse(text).is_err(), "{text:?}");
        }
    }
}
