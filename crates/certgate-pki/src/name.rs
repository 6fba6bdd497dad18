//! Distinguished names: comparison by RFC 5280 §7.1 rules and the string forms
//! administrators copy (RFC 4514, Windows, Entra `certificateUserIds`).

use std::fmt::Write as _;

use x509_parser::x509::X509Name;

use crate::oid::Oid;

/// One attribute of a relative distinguished name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameAttribute {
    pub(crate) oid: Oid,
    /// The ASN.1 tag of the value (PrintableString, UTF8String, ...).
    pub(crate) tag: u32,
    pub(crate) value: Vec<u8>,
}

impl NameAttribute {
    pub fn oid(&self) -> &Oid {
        &self.oid
    }

    /// The value decoded as text when it is one of the directory string types.
    pub fn text(&self) -> Option<String> {
        decode_directory_string(self.tag, &self.value)
    }

    fn normalized(&self) -> NormalizedValue {
        match self.text() {
            Some(text) => NormalizedValue::Text(fold_string(&text)),
            None => NormalizedValue::Raw(self.tag, self.value.clone()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum NormalizedValue {
    Text(String),
    Raw(u32, Vec<u8>),
}

/// An X.501 distinguished name with its encoding and a comparison key.
///
/// Two names are the same (RFC 5280 §7.1) when their RDN sequences match attribute by attribute,
/// with directory strings compared case-insensitively with whitespace folded (a simplified
/// RFC 4518 string preparation) and regardless of the string type used to encode them, which
/// PKITS 4.3.3–4.3.11 exercise.
#[derive(Clone, Debug)]
pub struct Name {
    der: Vec<u8>,
    rdns: Vec<Vec<NameAttribute>>,
    key: Vec<Vec<(Oid, NormalizedValue)>>,
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for Name {}

impl std::hash::Hash for Name {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key.hash(state)
    }
}

impl Name {
    pub(crate) fn from_parser(name: &X509Name<'_>) -> Self {
        let rdns: Vec<Vec<NameAttribute>> = name
            .iter_rdn()
            .map(|rdn| {
                rdn.iter()
                    .map(|attr| NameAttribute {
                        oid: Oid::from_parser(attr.attr_type()),
                        tag: attr.attr_value().tag().0,
                        value: attr.attr_value().data.to_vec(),
                    })
                    .collect()
            })
            .collect();
        Self::from_rdns(name.as_raw().to_vec(), rdns)
    }

    pub(crate) fn from_rdns(der: Vec<u8>, rdns: Vec<Vec<NameAttribute>>) -> Self {
        let key = rdns
            .iter()
            .map(|rdn| {
                let mut set: Vec<(Oid, NormalizedValue)> = rdn
                    .iter()
                    .map(|a| (a.oid.clone(), a.normalized()))
                    .collect();
                set.sort();
                set
            })
            .collect();
        Name { der, rdns, key }
    }

    /// The DER encoding as it appeared in the certificate or CRL.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    pub fn rdns(&self) -> &[Vec<NameAttribute>] {
        &self.rdns
    }

    pub fn is_empty(&self) -> bool {
        self.rdns.is_empty()
    }

    /// True when `prefix`'s RDNs are the first RDNs of this name (directoryName subtrees,
    /// RFC 5280 §4.2.1.10).
    pub fn starts_with(&self, prefix: &Name) -> bool {
        prefix.key.len() <= self.key.len() && self.key[..prefix.key.len()] == prefix.key[..]
    }

    /// Attribute values of the given type, as text, in encoding order.
    pub fn attribute_texts<'a>(&'a self, oid: &'a str) -> impl Iterator<Item = String> + 'a {
        self.rdns
            .iter()
            .flatten()
            .filter(move |a| a.oid.as_str() == oid)
            .filter_map(NameAttribute::text)
    }

    /// RFC 4514 string: last RDN first, `,` between RDNs, `+` inside one.
    pub fn to_rfc4514(&self) -> String {
        self.render(Order::Reversed, ",", ShortNames::Ldap)
    }

    /// The form Windows and .NET show (`CN=Bob, OU=Users, DC=contoso, DC=com`).
    pub fn to_windows(&self) -> String {
        self.render(Order::Reversed, ", ", ShortNames::Windows)
    }

    /// The form Entra ID's `certificateUserIds` uses for `<I>` and `<S>`: RDNs in encoding
    /// order (`DC=com,DC=contoso,OU=Users,CN=Bob`), no spaces after commas.
    pub fn to_entra(&self) -> String {
        self.render(Order::Encoding, ",", ShortNames::Windows)
    }

    fn render(&self, order: Order, separator: &str, names: ShortNames) -> String {
        let mut out = String::new();
        let rdns: Box<dyn Iterator<Item = &Vec<NameAttribute>>> = match order {
            Order::Encoding => Box::new(self.rdns.iter()),
            Order::Reversed => Box::new(self.rdns.iter().rev()),
        };
        for (i, rdn) in rdns.enumerate() {
            if i > 0 {
                out.push_str(separator);
            }
            for (j, attr) in rdn.iter().enumerate() {
                if j > 0 {
                    out.push('+');
                }
                out.push_str(&short_name(&attr.oid, names));
                out.push('=');
                match attr.text() {
                    Some(text) => escape_value(&text, &mut out),
                    None => {
                        out.push('#');
                        for byte in &attr.value {
                            let _ = write!(out, "{byte:02x}");
                        }
                    }
                }
            }
        }
        out
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_rfc4514())
    }
}

#[derive(Clone, Copy)]
enum Order {
    Encoding,
    Reversed,
}

#[derive(Clone, Copy, PartialEq)]
enum ShortNames {
    Ldap,
    Windows,
}

fn short_name(oid: &Oid, names: ShortNames) -> String {
    let windows = names == ShortNames::Windows;
    let short = match oid.as_str() {
        "2.5.4.3" => "CN",
        "2.5.4.4" => "SN",
        "2.5.4.5" => "SERIALNUMBER",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" if windows => "S",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.12" => "T",
        "2.5.4.42" => "G",
        "2.5.4.43" => "I",
        "2.5.4.46" => "dnQualifier",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        "1.2.840.113549.1.9.1" if windows => "E",
        "1.2.840.113549.1.9.1" => "emailAddress",
        other => return other.to_string(),
    };
    short.to_string()
}

/// RFC 4514 §2.4 escaping.
fn escape_value(value: &str, out: &mut String) {
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Decodes the directory string types; `None` for anything else.
pub(crate) fn decode_directory_string(tag: u32, value: &[u8]) -> Option<String> {
    match tag {
        // UTF8String, PrintableString, IA5String, NumericString, VisibleString
        12 | 19 | 22 | 18 | 26 => std::str::from_utf8(value).ok().map(str::to_string),
        // TeletexString: treated as Latin-1, as most software does.
        20 => Some(value.iter().map(|&b| b as char).collect()),
        // BMPString: UTF-16BE.
        30 => {
            if !value.len().is_multiple_of(2) {
                return None;
            }
            let units: Vec<u16> = value
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        // UniversalString: UTF-32BE.
        28 => {
            if !value.len().is_multiple_of(4) {
                return None;
            }
            value
                .chunks_exact(4)
                .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
                .collect()
        }
        _ => None,
    }
}

/// Case-folds and collapses whitespace (RFC 4518 §2.3 and §2.6.1, simplified).
pub(crate) fn fold_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(oid: &str, tag: u32, value: &str) -> NameAttribute {
        NameAttribute {
            oid: Oid::new(oid),
            tag,
            value: value.as_bytes().to_vec(),
        }
    }

    fn name(parts: &[(&str, u32, &str)]) -> Name {
        Name::from_rdns(
            Vec::new(),
            parts.iter().map(|(o, t, v)| vec![attr(o, *t, v)]).collect(),
        )
    }

    #[test]
    fn printable_and_utf8_with_different_case_and_spaces_are_equal() {
        let a = name(&[("2.5.4.6", 19, "US"), ("2.5.4.3", 19, "Good  CA ")]);
        let b = name(&[("2.5.4.6", 19, "us"), ("2.5.4.3", 12, "good ca")]);
        assert_eq!(a, b);
    }

    #[test]
    fn different_order_is_different_name() {
        let a = name(&[("2.5.4.6", 19, "US"), ("2.5.4.10", 19, "Test")]);
        let b = name(&[("2.5.4.10", 19, "Test"), ("2.5.4.6", 19, "US")]);
        assert_ne!(a, b);
    }

    #[test]
    fn string_forms_follow_each_tool() {
        let n = name(&[
            ("0.9.2342.19200300.100.1.25", 22, "com"),
            ("0.9.2342.19200300.100.1.25", 22, "contoso"),
            ("2.5.4.11", 12, "UserAccounts"),
            ("2.5.4.3", 12, "Doe, Jane"),
        ]);
        assert_eq!(
            n.to_entra(),
            "DC=com,DC=contoso,OU=UserAccounts,CN=Doe\\, Jane"
        );
        assert_eq!(
            n.to_windows(),
            "CN=Doe\\, Jane, OU=UserAccounts, DC=contoso, DC=com"
        );
        assert_eq!(
            n.to_rfc4514(),
            "CN=Doe\\, Jane,OU=UserAccounts,DC=contoso,DC=com"
        );
    }

    #[test]
    fn prefix_matching_uses_folded_values() {
        let full = name(&[
            ("2.5.4.6", 19, "US"),
            ("2.5.4.10", 19, "Test"),
            ("2.5.4.3", 19, "x"),
        ]);
        let prefix = name(&[("2.5.4.6", 19, "us"), ("2.5.4.10", 12, "TEST")]);
        assert!(full.starts_with(&prefix));
        assert!(!prefix.starts_with(&full));
    }
}
