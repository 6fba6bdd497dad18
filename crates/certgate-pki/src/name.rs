//! Distinguished names: comparison by RFC 5280 §7.1 rules and the string forms
//! administrators copy (RFC 4514, Windows, Entra `certificateUserIds`).

use std::fmt::Write as _;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use x509_parser::x509::X509Name;

use crate::der::{self, DerError, DerResult, Reader, Tlv};
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
    /// The attribute type, e.g. 2.5.4.3 (commonName).
    pub fn oid(&self) -> &Oid {
        &self.oid
    }

    /// The value's content octets, as encoded.
    pub fn value(&self) -> &[u8] {
        &self.value
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
///
/// A name parsed from a certificate is only checked for structure at parse time; its
/// attributes and comparison key are decoded on first use. Chain building compares the
/// encodings first, and an issuer almost always encodes its name exactly as its subjects
/// do, so the key is usually never built.
#[derive(Clone)]
pub struct Name {
    /// The encoding is `bytes[range]`: a name read from a certificate shares the
    /// certificate's buffer instead of copying its part of it.
    bytes: Arc<[u8]>,
    range: Range<usize>,
    decoded: OnceLock<Decoded>,
    fingerprint: OnceLock<u64>,
}

#[derive(Clone, Debug)]
struct Decoded {
    rdns: Vec<Vec<NameAttribute>>,
    key: Vec<Vec<(Oid, NormalizedValue)>>,
}

impl std::fmt::Debug for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Name").field(&self.to_rfc4514()).finish()
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        // The encoding determines the key, so equal encodings are equal names; different
        // fingerprints are different names. Only names that differ in encoding but not in
        // fingerprint (the same name written differently, PKITS 4.3.x) build their keys.
        self.der() == other.der()
            || (!rdns_certainly_differ(self.der(), other.der())
                && self.fingerprint() == other.fingerprint()
                && self.key() == other.key())
    }
}
impl Eq for Name {}

impl std::hash::Hash for Name {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Equal names have equal keys and so equal fingerprints.
        state.write_u64(self.fingerprint())
    }
}

impl Name {
    /// A Name from its DER encoding (`RDNSequence`, RFC 5280 §4.1.2.4): a SEQUENCE OF
    /// non-empty SETs of `SEQUENCE { type OID, value ANY }`, nothing after it.
    pub(crate) fn from_der(der: &[u8]) -> DerResult<Self> {
        walk_rdns(der, |_, _, _| ())?;
        Ok(Name {
            bytes: Arc::from(der),
            range: 0..der.len(),
            decoded: OnceLock::new(),
            fingerprint: OnceLock::new(),
        })
    }

    /// A Name from an encoding [`check_der`] accepted.
    pub(crate) fn from_checked_der(der: &[u8]) -> Self {
        Name {
            bytes: Arc::from(der),
            range: 0..der.len(),
            decoded: OnceLock::new(),
            fingerprint: OnceLock::new(),
        }
    }

    /// The name encoded at `bytes[range]` (a certificate's issuer or subject), checked as
    /// [`Name::from_der`] checks it, sharing `bytes`.
    pub(crate) fn from_shared(bytes: &Arc<[u8]>, range: Range<usize>) -> DerResult<Self> {
        let der = bytes.get(range.clone()).ok_or(DerError("truncated"))?;
        walk_rdns(der, |_, _, _| ())?;
        Ok(Name {
            bytes: Arc::clone(bytes),
            range,
            decoded: OnceLock::new(),
            fingerprint: OnceLock::new(),
        })
    }

    pub(crate) fn from_parser(name: &X509Name<'_>) -> DerResult<Self> {
        Self::from_der(name.as_raw())
    }

    /// A name built from attributes (a distribution point's name relative to its CRL issuer,
    /// tests). Its encoding is generated, so that equal encodings still mean equal names.
    pub(crate) fn from_rdns(rdns: Vec<Vec<NameAttribute>>) -> Self {
        let mut sequence = Vec::new();
        for rdn in &rdns {
            let mut set = Vec::new();
            for attribute in rdn {
                let mut pair = Vec::new();
                // Every Oid here was decoded from DER or is a well-formed constant.
                let oid = crate::oid::encode(attribute.oid.as_str()).unwrap_or_default();
                der::write_tlv(&mut pair, der::tag::OID, &oid);
                // NameAttribute tags are one identifier octet (see `Name::decoded`).
                der::write_tlv(&mut pair, attribute.tag as u8, &attribute.value);
                der::write_tlv(&mut set, der::tag::SEQUENCE, &pair);
            }
            der::write_tlv(&mut sequence, der::tag::SET, &set);
        }
        let mut der = Vec::new();
        der::write_tlv(&mut der, der::tag::SEQUENCE, &sequence);
        let decoded = OnceLock::new();
        let _ = decoded.set(Decoded::new(rdns));
        Name {
            range: 0..der.len(),
            bytes: Arc::from(der),
            decoded,
            fingerprint: OnceLock::new(),
        }
    }

    fn decoded(&self) -> &Decoded {
        self.decoded.get_or_init(|| {
            let mut rdns: Vec<Vec<NameAttribute>> = Vec::new();
            // The structure was checked when the name was parsed, so this walk succeeds.
            let _ = walk_rdns(self.der(), |new_rdn, oid, value| {
                if new_rdn || rdns.is_empty() {
                    rdns.push(Vec::new());
                }
                let (Some(rdn), Some(oid)) = (rdns.last_mut(), Oid::from_der_content(oid)) else {
                    return;
                };
                // The tag is the value's identifier octet, class included, so that a
                // context-specific [12] is never mistaken for a UTF8String.
                rdn.push(NameAttribute {
                    oid,
                    tag: u32::from(value.tag),
                    value: value.value.to_vec(),
                });
            });
            Decoded::new(rdns)
        })
    }

    fn key(&self) -> &[Vec<(Oid, NormalizedValue)>] {
        &self.decoded().key
    }

    /// A 64-bit digest of the comparison key, computed once. Names made of single-attribute
    /// RDNs of common types with UTF-8-compatible strings (nearly all) are digested straight
    /// from their encoding; others from their key. Both routes feed the same bytes, so equal
    /// names always have equal fingerprints.
    fn fingerprint(&self) -> u64 {
        *self.fingerprint.get_or_init(|| {
            streamed_fingerprint(self.der()).unwrap_or_else(|| key_fingerprint(self.key()))
        })
    }

    /// The DER encoding as it appeared in the certificate or CRL.
    pub fn der(&self) -> &[u8] {
        self.bytes.get(self.range.clone()).unwrap_or_default()
    }

    /// The RelativeDistinguishedNames in encoding order (most significant first, e.g. `C`
    /// before `CN`), each with its attributes; decoded on first use.
    pub fn rdns(&self) -> &[Vec<NameAttribute>] {
        &self.decoded().rdns
    }

    /// Whether the name is an empty sequence, as an end entity named only by its
    /// subjectAltName has (RFC 5280 §4.1.2.6).
    pub fn is_empty(&self) -> bool {
        // An empty RDNSequence is the two octets 30 00.
        self.range.len() <= 2
    }

    /// True when `prefix`'s RDNs are the first RDNs of this name (directoryName subtrees,
    /// RFC 5280 §4.2.1.10).
    pub fn starts_with(&self, prefix: &Name) -> bool {
        let (key, prefix) = (self.key(), prefix.key());
        prefix.len() <= key.len() && key[..prefix.len()] == prefix[..]
    }

    /// Attribute values of the given type, as text, in encoding order.
    pub fn attribute_texts<'a>(&'a self, oid: &'a str) -> impl Iterator<Item = String> + 'a {
        self.rdns()
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
            Order::Encoding => Box::new(self.rdns().iter()),
            Order::Reversed => Box::new(self.rdns().iter().rev()),
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

impl Decoded {
    fn new(rdns: Vec<Vec<NameAttribute>>) -> Self {
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
        Decoded { rdns, key }
    }
}

/// Checks that `der` is a Name as [`Name::from_der`] requires, without allocating.
pub(crate) fn check_der(der: &[u8]) -> DerResult<()> {
    walk_rdns(der, |_, _, _| ())
}

/// Walks an RDNSequence, calling `visit(first_in_its_rdn, type, value)` for each attribute in
/// encoding order, without allocating.
fn walk_rdns<'a>(der: &'a [u8], mut visit: impl FnMut(bool, &'a [u8], Tlv<'a>)) -> DerResult<()> {
    let mut rdns = Reader::new(der::single(der, der::tag::SEQUENCE)?);
    while !rdns.is_empty() {
        let mut attributes = Reader::new(rdns.expect(der::tag::SET)?);
        if attributes.is_empty() {
            return Err(DerError("an empty relative distinguished name"));
        }
        let mut first = true;
        while !attributes.is_empty() {
            let mut pair = Reader::new(attributes.expect(der::tag::SEQUENCE)?);
            let oid = pair.expect(der::tag::OID)?;
            if !crate::oid::is_well_formed(oid) {
                return Err(DerError("a malformed attribute type"));
            }
            let value = pair.read()?;
            pair.finish()?;
            visit(first, oid, value);
            first = false;
        }
    }
    Ok(())
}

/// FNV-1a, 64 bits: a fixed, dependency-free digest for [`Name::fingerprint`] (not a
/// defence against crafted collisions; a collision only costs a full key comparison).
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn byte(&mut self, byte: u8) {
        self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    fn bytes(&mut self, bytes: &[u8]) {
        bytes.iter().for_each(|&b| self.byte(b));
    }
    fn attribute_type(&mut self, dotted: &str) {
        self.byte(0xfe);
        self.bytes(dotted.as_bytes());
        self.byte(0);
    }
}

/// The fingerprint read straight from the encoding, or `None` when the name needs its key
/// (a multi-valued RDN, an uncommon attribute type, a value that is not UTF-8 text).
fn streamed_fingerprint(der: &[u8]) -> Option<u64> {
    let mut rdns = Reader::new(der::single(der, der::tag::SEQUENCE).ok()?);
    let mut digest = Fnv::new();
    while !rdns.is_empty() {
        let (oid, value) = single_attribute(&mut rdns)?;
        digest.byte(0xfd);
        digest.attribute_type(crate::oid::common_oid(oid)?);
        let text = utf8_text(value)?;
        digest.byte(1);
        if text.is_ascii() {
            folded_ascii(text.as_bytes()).for_each(|b| digest.byte(b));
        } else {
            let mut buffer = [0u8; 4];
            folded(text).for_each(|c| digest.bytes(c.encode_utf8(&mut buffer).as_bytes()));
        }
    }
    Some(digest.0)
}

/// The fingerprint of a built key: the same bytes [`streamed_fingerprint`] feeds.
fn key_fingerprint(key: &[Vec<(Oid, NormalizedValue)>]) -> u64 {
    let mut digest = Fnv::new();
    for rdn in key {
        digest.byte(0xfd);
        for (oid, value) in rdn {
            digest.attribute_type(oid.as_str());
            match value {
                NormalizedValue::Text(text) => {
                    digest.byte(1);
                    digest.bytes(text.as_bytes());
                }
                NormalizedValue::Raw(tag, bytes) => {
                    digest.byte(2);
                    digest.bytes(&tag.to_be_bytes());
                    digest.bytes(bytes);
                }
            }
        }
    }
    digest.0
}

/// True when two well-formed names certainly differ: a different number of RDNs, or RDNs at
/// the same position that are single attributes of different types or of different
/// UTF-8-compatible text (compared as [`folded`] compares them). False means "maybe equal".
/// One walk over both encodings, in step, without allocating or hashing: names that differ
/// at all usually differ in one attribute's text.
fn rdns_certainly_differ(a: &[u8], b: &[u8]) -> bool {
    let (Ok(a_rdns), Ok(b_rdns)) = (
        der::single(a, der::tag::SEQUENCE),
        der::single(b, der::tag::SEQUENCE),
    ) else {
        return false;
    };
    let (mut a_rdns, mut b_rdns) = (Reader::new(a_rdns), Reader::new(b_rdns));
    loop {
        match (a_rdns.is_empty(), b_rdns.is_empty()) {
            (true, true) => return false,
            (false, false) => {}
            _ => return true,
        }
        let (Some(a_rdn), Some(b_rdn)) = (a_rdns.read().ok(), b_rdns.read().ok()) else {
            return false;
        };
        if a_rdn.raw == b_rdn.raw {
            continue;
        }
        if attributes_differ(a_rdn.raw, b_rdn.raw) {
            return true;
        }
    }
}

/// Whether two RDNs (their whole encodings) certainly differ; "maybe equal" for multi-valued
/// RDNs.
fn attributes_differ(a_rdn: &[u8], b_rdn: &[u8]) -> bool {
    let (Some((a_oid, a_value)), Some((b_oid, b_value))) = (
        single_attribute(&mut Reader::new(a_rdn)),
        single_attribute(&mut Reader::new(b_rdn)),
    ) else {
        return false;
    };
    if a_oid != b_oid {
        return true;
    }
    let is_text = |value: Tlv<'_>| matches!(value.tag, 12 | 19 | 22 | 18 | 26);
    if !is_text(a_value) || !is_text(b_value) {
        return false;
    }
    let (a, b) = (a_value.value, b_value.value);
    if a.is_ascii() && b.is_ascii() {
        // Text with no whitespace to collapse or trim folds by case alone.
        if !has_foldable_whitespace(a) && !has_foldable_whitespace(b) {
            return !a.eq_ignore_ascii_case(b);
        }
        return !folded_ascii(a).eq(folded_ascii(b));
    }
    match (std::str::from_utf8(a), std::str::from_utf8(b)) {
        (Ok(a_text), Ok(b_text)) => !folded(a_text).eq(folded(b_text)),
        _ => false,
    }
}

/// Whether [`folded_ascii`] would change `text` other than by case: whitespace at either end,
/// a whitespace character other than a space, or two spaces in a row.
fn has_foldable_whitespace(text: &[u8]) -> bool {
    // One pass; "after a space" starts true so that a leading space counts.
    let mut after_space = true;
    for &byte in text {
        match byte {
            b' ' if after_space => return true,
            b' ' => after_space = true,
            b'\t' | b'\n' | 0x0b | 0x0c | b'\r' => return true,
            _ => after_space = false,
        }
    }
    after_space && !text.is_empty()
}

/// The next RDN's only attribute, as (type OID content, value); `None` for a multi-valued RDN.
fn single_attribute<'a>(rdns: &mut Reader<'a>) -> Option<(&'a [u8], Tlv<'a>)> {
    let mut set = Reader::new(rdns.expect(der::tag::SET).ok()?);
    let mut pair = Reader::new(set.expect(der::tag::SEQUENCE).ok()?);
    if !set.is_empty() {
        return None;
    }
    let oid = pair.expect(der::tag::OID).ok()?;
    Some((oid, pair.read().ok()?))
}

/// The text of a UTF8String, PrintableString, IA5String, NumericString or VisibleString.
fn utf8_text(value: Tlv<'_>) -> Option<&str> {
    matches!(value.tag, 12 | 19 | 22 | 18 | 26)
        .then(|| std::str::from_utf8(value.value).ok())
        .flatten()
}

/// [`folded`] for ASCII text, byte by byte: lowercase, whitespace runs collapsed to one
/// space, none at either end (ASCII whitespace as `char::is_whitespace` defines it).
fn folded_ascii(text: &[u8]) -> impl Iterator<Item = u8> + '_ {
    let is_space = |b: u8| matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ');
    let mut index = 0;
    let mut pending_space = false;
    let mut started = false;
    std::iter::from_fn(move || loop {
        let &byte = text.get(index)?;
        if is_space(byte) {
            index += 1;
            pending_space = started;
            continue;
        }
        if pending_space {
            pending_space = false;
            return Some(b' ');
        }
        started = true;
        index += 1;
        return Some(byte.to_ascii_lowercase());
    })
}

/// The characters of [`fold_string`]'s result, without building it.
fn folded(text: &str) -> impl Iterator<Item = char> + '_ {
    text.split_whitespace()
        .enumerate()
        .flat_map(|(index, word)| {
            (index > 0)
                .then_some(' ')
                .into_iter()
                .chain(word.chars().flat_map(char::to_lowercase))
        })
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
        Name::from_rdns(parts.iter().map(|(o, t, v)| vec![attr(o, *t, v)]).collect())
    }

    #[test]
    fn printable_and_utf8_with_different_case_and_spaces_are_equal() {
        let a = name(&[("2.5.4.6", 19, "US"), ("2.5.4.3", 19, "Good  CA ")]);
        let b = name(&[("2.5.4.6", 19, "us"), ("2.5.4.3", 12, "good ca")]);
        assert_eq!(a, b);
    }

    #[test]
    fn fingerprints_agree_with_the_keys() {
        let names = [
            name(&[("2.5.4.6", 19, "US"), ("2.5.4.3", 19, "Good  CA ")]),
            name(&[("2.5.4.6", 19, "us"), ("2.5.4.3", 12, "good ca")]),
            name(&[("2.5.4.6", 19, "us"), ("2.5.4.3", 12, "good cb")]),
            name(&[
                ("2.5.4.6", 19, "us"),
                ("2.5.4.3", 12, "good ca"),
                ("2.5.4.11", 12, "x"),
            ]),
            name(&[("2.5.4.6", 19, "US"), ("2.5.4.10", 19, "Good CA")]),
            name(&[("2.5.4.6", 19, "US"), ("2.5.4.3", 30, "\0g\0o")]),
            name(&[("2.5.4.6", 19, "US"), ("2.5.4.3", 0x80, "good ca")]),
            name(&[("2.5.4.6", 19, "US"), ("2.5.4.3", 12, "\u{130}X")]),
            name(&[("2.5.4.6", 19, "US"), ("2.5.4.3", 12, "i\u{307}x")]),
            name(&[
                ("2.5.4.6", 19, "US"),
                ("2.5.4.3", 12, "\tGood\r\n\x0bCA\x0c"),
            ]),
            name(&[("2.5.4.6", 19, "US"), ("2.5.4.3", 12, "GoodCA")]),
            name(&[("2.5.4.6", 19, "US"), ("2.5.4.3", 12, " good ca\u{a0}")]),
            Name::from_rdns(vec![vec![
                attr("2.5.4.6", 19, "US"),
                attr("2.5.4.3", 19, "Good CA"),
            ]]),
            Name::from_rdns(vec![vec![
                attr("2.5.4.3", 12, "good ca"),
                attr("2.5.4.6", 19, "us"),
            ]]),
            Name::from_rdns(Vec::new()),
        ];
        let mut streamed = 0;
        for a in &names {
            for b in &names {
                let reparsed = |n: &Name| Name::from_der(n.der()).expect("generated names parse");
                let (a, b) = (reparsed(a), reparsed(b));
                let by_keys = a.key() == b.key();
                assert_eq!(a == b, by_keys, "{a} vs {b}");
                if by_keys {
                    assert!(!rdns_certainly_differ(a.der(), b.der()), "{a} vs {b}");
                }
                if by_keys {
                    assert_eq!(a.fingerprint(), b.fingerprint(), "{a} vs {b}");
                }
                // Both routes to a fingerprint agree wherever the streamed one applies.
                if let Some(fingerprint) = streamed_fingerprint(a.der()) {
                    streamed += 1;
                    assert_eq!(fingerprint, key_fingerprint(a.key()), "{a}");
                }
            }
        }
        assert!(streamed > names.len() * names.len() / 2, "{streamed}");
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
