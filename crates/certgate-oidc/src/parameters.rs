//! Request parameters as the HTTP layer decoded them (query string or form body), and the
//! `application/x-www-form-urlencoded` encoding of what goes back (RFC 6749 Appendix B).

use std::collections::BTreeMap;

/// Decoded name/value pairs. Parameters sent without a value are treated as omitted
/// (RFC 6749 §3.1); a parameter sent twice is an error to whoever reads it (§3.1, §3.2).
#[derive(Debug, Default)]
pub(crate) struct Parameters {
    values: BTreeMap<String, Vec<String>>,
}

/// A parameter that appeared more than once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Repeated(pub(crate) String);

impl Parameters {
    pub(crate) fn from_pairs<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> Parameters {
        let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, value) in pairs {
            if value.as_ref().is_empty() {
                continue;
            }
            values
                .entry(name.as_ref().to_owned())
                .or_default()
                .push(value.as_ref().to_owned());
        }
        Parameters { values }
    }

    /// The value of `name`, or `None` when absent.
    pub(crate) fn single(&self, name: &str) -> Result<Option<&str>, Repeated> {
        match self.values.get(name).map(Vec::as_slice) {
            None | Some([]) => Ok(None),
            Some([value]) => Ok(Some(value)),
            Some(_) => Err(Repeated(name.to_owned())),
        }
    }

    /// The value when it appeared exactly once; `None` when absent or repeated (for echoing
    /// `state` in an error, where a repeated value cannot be trusted either way).
    pub(crate) fn single_or_none(&self, name: &str) -> Option<&str> {
        self.single(name).ok().flatten()
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// The first parameter (by name) that appeared more than once.
    pub(crate) fn first_repeated(&self) -> Option<Repeated> {
        self.values
            .iter()
            .find(|(_, values)| values.len() > 1)
            .map(|(name, _)| Repeated(name.clone()))
    }
}

/// `application/x-www-form-urlencoded` encoding of one name or value.
pub(crate) fn form_urlencode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(byte))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Decodes one `application/x-www-form-urlencoded` name or value; `None` when a `%` escape is
/// malformed or the result is not UTF-8.
pub(crate) fn form_urldecode(text: &str) -> Option<String> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(byte) = bytes.next() {
        match byte {
            b'+' => out.push(b' '),
            b'%' => {
                let high = char::from(bytes.next()?).to_digit(16)?;
                let low = char::from(bytes.next()?).to_digit(16)?;
                // Two hex digits are at most 0xff.
                out.push((high * 16 + low) as u8);
            }
            _ => out.push(byte),
        }
    }
    String::from_utf8(out).ok()
}

/// `uri` with `pairs` added to its query component, keeping any query it already has
/// (RFC 6749 §3.1.2: the redirection endpoint's query MUST be retained).
pub(crate) fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = uri.to_owned();
    let mut separator = if uri.contains('?') {
        if uri.ends_with('?') || uri.ends_with('&') {
            ""
        } else {
            "&"
        }
    } else {
        "?"
    };
    for (name, value) in pairs {
        out.push_str(separator);
        out.push_str(&form_urlencode(name));
        out.push('=');
        out.push_str(&form_urlencode(value));
        separator = "&";
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_are_omitted_and_repeats_are_reported() {
        let parameters = Parameters::from_pairs(&[
            ("a", "1"),
            ("b", ""),
            ("c", "x"),
            ("c", "y"),
            ("d", ""),
            ("d", "2"),
        ]);
        assert_eq!(parameters.single("a"), Ok(Some("1")));
        assert_eq!(parameters.single("b"), Ok(None));
        assert!(!parameters.contains("b"));
        assert_eq!(parameters.single("c"), Err(Repeated("c".into())));
        assert_eq!(parameters.single_or_none("c"), None);
        assert_eq!(parameters.single("d"), Ok(Some("2")));
        assert_eq!(parameters.first_repeated(), Some(Repeated("c".into())));
    }

    #[test]
    fn form_encoding_round_trips() {
        for text in ["plain", "a b+c", "x=y&z", "ünï/cødé?#", "%41"] {
            assert_eq!(form_urldecode(&form_urlencode(text)).as_deref(), Some(text));
        }
        assert_eq!(form_urlencode("a b&c"), "a+b%26c");
        assert_eq!(form_urldecode("%4"), None);
        assert_eq!(form_urldecode("%zz"), None);
        assert_eq!(form_urldecode("%ff"), None);
    }

    #[test]
    fn query_is_appended_keeping_an_existing_one() {
        assert_eq!(
            with_query("https://rp.test/cb", &[("code", "a b"), ("state", "s")]),
            "https://rp.test/cb?code=a+b&state=s"
        );
        assert_eq!(
            with_query("https://rp.test/cb?tenant=1", &[("code", "c")]),
            "https://rp.test/cb?tenant=1&code=c"
        );
    }
}
