//! Active Directory's explicit certificate mappings (`altSecurityIdentities`) as
//! certificateUserIds values.
//!
//! The six X509 forms are Microsoft's ("Certificate-based authentication changes on Windows
//! domain controllers", KB5014754, "Manually map certificates to a user via the
//! altSecurityIdentities attribute"):
//!
//! | AD value | certificateUserIds |
//! |---|---|
//! | `X509:<I>issuer<S>subject` | `X509:<I>issuer<S>subject` |
//! | `X509:<I>issuer<SR>serial` | `X509:<I>issuer<SR>serial` (lower-case hex) |
//! | `X509:<SKI>hex` | `X509:<SKI>hex` (lower-case) |
//! | `X509:<SHA1-PUKEY>hex` | `X509:<SHA1-PUKEY>hex` (lower-case) |
//! | `X509:<S>subject` | `X509:<S>subject` |
//! | `X509:<RFC822>mail` | `X509:<RFC822>mail` |
//!
//! The forms look alike, but certgate compares certificateUserIds *exactly* with what
//! [`certgate_pki::Identity`] renders from a certificate, so each part is rewritten into
//! that rendering:
//!
//! - **DNs.** AD writes issuer and subject most-significant RDN first (X.500 order, as the
//!   certificate encodes them: `DC=com,DC=contoso,CN=Users,CN=Bob`), which is the reverse of
//!   the LDAP string order of RFC 4514 (`CN=Bob,CN=Users,DC=contoso,DC=com`). Entra ID's
//!   certificateUserIds ("Certificate user IDs", Microsoft Entra documentation) and certgate's
//!   `Name::to_entra` use the same X.500 order, so the RDN order is kept; what changes is the
//!   spelling: attribute names become the Windows short names certgate renders (`ST` → `S`,
//!   `emailAddress` → `E`, `cn` → `CN`, known OIDs → their names), spaces around `,`, `+` and
//!   `=` go, and values are unquoted (Windows quotes values with special characters,
//!   `O="Contoso, Ltd"`) and re-escaped as RFC 4514 §2.4 says.
//! - **Serial numbers.** AD's `<SR>` holds the serial number's bytes in reverse order, as
//!   certutil prints it (KB5014754: "the serial number … in reversed byte order"); certgate's
//!   `<SR>` is the same reversed form (`Identity::serial_reversed`), so the byte order is kept
//!   and only the hex is normalised.
//!
//! Values that are not X509 mappings (`Kerberos:user@REALM` maps a Kerberos principal of a
//! trusted realm, not a certificate) are not certificate mappings and are left out.

use std::fmt::Write as _;

use super::EntryError;
use crate::escape_control;

/// The longest altSecurityIdentities value read, in bytes: certificateUserIds values have at
/// most 1024 characters, and a UTF-8 character has at most four bytes.
pub(super) const MAX_MAPPING_BYTES: usize = 4 * crate::directory::MAX_CERTIFICATE_USER_ID_CHARS;

/// One altSecurityIdentities value as a certificateUserIds value; `Ok(None)` for a value that
/// is not an X509 mapping.
pub fn certificate_user_id_from_mapping(value: &str) -> Result<Option<String>, EntryError> {
    let unparseable = |why: &str| EntryError::CertificateMappingUnparseable {
        value: escape_control(value).into_owned(),
        why: why.to_owned(),
    };
    if value.len() > MAX_MAPPING_BYTES {
        return Err(unparseable("it is longer than 4096 bytes"));
    }
    if value.chars().any(char::is_control) {
        return Err(unparseable("it contains control characters"));
    }
    let Some((scheme, rest)) = value.split_once(':') else {
        return Err(unparseable(
            "a mapping starts with X509: (or Kerberos: for a principal)",
        ));
    };
    if !scheme.eq_ignore_ascii_case("X509") {
        if scheme.eq_ignore_ascii_case("Kerberos") {
            return Ok(None);
        }
        return Err(unparseable(
            "a mapping starts with X509: (or Kerberos: for a principal)",
        ));
    }
    let parts = split_tagged(rest).map_err(|why| unparseable(&why))?;
    let tags: Vec<String> = parts
        .iter()
        .map(|(tag, _)| tag.to_ascii_uppercase())
        .collect();
    let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
    let converted = match (tags.as_slice(), parts.as_slice()) {
        (["I", "S"], [(_, issuer), (_, subject)]) => format!(
            "X509:<I>{}<S>{}",
            entra_dn(issuer).map_err(|why| unparseable(&format!("the issuer: {why}")))?,
            entra_dn(subject).map_err(|why| unparseable(&format!("the subject: {why}")))?
        ),
        (["I", "SR"], [(_, issuer), (_, serial)]) => format!(
            "X509:<I>{}<SR>{}",
            entra_dn(issuer).map_err(|why| unparseable(&format!("the issuer: {why}")))?,
            hex_part(serial, None).ok_or_else(|| unparseable(
                "the serial number after <SR> must be hexadecimal (its bytes reversed, as certutil prints it)"
            ))?
        ),
        (["S"], [(_, subject)]) => format!(
            "X509:<S>{}",
            entra_dn(subject).map_err(|why| unparseable(&format!("the subject: {why}")))?
        ),
        (["SKI"], [(_, ski)]) => format!(
            "X509:<SKI>{}",
            hex_part(ski, None)
                .ok_or_else(|| unparseable("the subject key identifier must be hexadecimal"))?
        ),
        (["SHA1-PUKEY"], [(_, hash)]) => format!(
            "X509:<SHA1-PUKEY>{}",
            hex_part(hash, Some(20)).ok_or_else(|| unparseable(
                "the SHA-1 public key hash must be 20 bytes of hexadecimal (40 digits)"
            ))?
        ),
        (["RFC822"], [(_, mail)]) => {
            let mail = mail.trim();
            let is_address = matches!(mail.split('@').collect::<Vec<_>>().as_slice(),
                [local, domain] if !local.is_empty() && !domain.is_empty())
                && !mail.contains(char::is_whitespace);
            if !is_address {
                return Err(unparseable("the RFC 822 name must be one local@domain address"));
            }
            format!("X509:<RFC822>{mail}")
        }
        _ => {
            return Err(unparseable(
                "the X509 forms are <I>issuer<S>subject, <I>issuer<SR>serial, <SKI>hex, <SHA1-PUKEY>hex, <S>subject and <RFC822>address",
            ))
        }
    };
    Ok(Some(converted))
}

/// Splits `<TAG>body<TAG>body…` into its parts. A `<` starts a tag only outside a quoted
/// DN value and when not escaped with `\` (RFC 4514 §2.4 escapes `<` in DN values).
fn split_tagged(text: &str) -> Result<Vec<(&str, &str)>, String> {
    let mut parts = Vec::new();
    let mut rest = text;
    loop {
        let Some(after_open) = rest.strip_prefix('<') else {
            return Err("the value after X509: must start with a <TAG>".into());
        };
        let Some((tag, body_and_more)) = after_open.split_once('>') else {
            return Err("a <TAG> is not closed with >".into());
        };
        let body_end = next_tag_start(body_and_more);
        parts.push((tag, &body_and_more[..body_end]));
        if body_end == body_and_more.len() {
            return Ok(parts);
        }
        rest = &body_and_more[body_end..];
        if parts.len() > 2 {
            return Err("a mapping has at most two <TAG> parts".into());
        }
    }
}

/// The byte index of the first `<` that starts a tag, or the text's length.
fn next_tag_start(text: &str) -> usize {
    let (mut escaped, mut quoted) = (false, false);
    for (index, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            '<' if !quoted => return index,
            _ => {}
        }
    }
    text.len()
}

/// Hex with optional spaces or colons, as lower-case hex without separators; `None` when it
/// is not hex or (with `bytes`) not that many bytes.
fn hex_part(text: &str, bytes: Option<usize>) -> Option<String> {
    let decoded = crate::parse_hex(text.trim())?;
    if bytes.is_some_and(|expected| decoded.len() != expected) {
        return None;
    }
    Some(crate::hex(&decoded))
}

/// One attribute value of a DN as written.
enum DnValue {
    Text(String),
    /// `#hex`: the BER encoding, for attributes without a string form.
    Encoded(Vec<u8>),
}

/// A DN as AD writes it in a mapping (RDNs most significant first), in the form certgate's
/// `Name::to_entra` renders: the same RDN order, Windows short names, `,` between RDNs and
/// `+` inside one, no spaces around them, RFC 4514 §2.4 escaping.
pub(super) fn entra_dn(text: &str) -> Result<String, String> {
    let rdns = parse_dn(text)?;
    let mut out = String::with_capacity(text.len());
    for (index, rdn) in rdns.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        for (position, (name, value)) in rdn.iter().enumerate() {
            if position > 0 {
                out.push('+');
            }
            out.push_str(name);
            out.push('=');
            match value {
                DnValue::Text(text) => escape_value(text, &mut out),
                DnValue::Encoded(bytes) => {
                    out.push('#');
                    for byte in bytes {
                        let _ = write!(out, "{byte:02x}");
                    }
                }
            }
        }
    }
    Ok(out)
}

/// RFC 4514 §2.4 escaping, exactly as certgate-pki renders names: `,` `+` `"` `\` `<` `>` `;`
/// always, `#` and space first, space last.
fn escape_value(value: &str, out: &mut String) {
    let last = value.chars().count().saturating_sub(1);
    for (index, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (index == 0 && (c == '#' || c == ' '))
            || (index == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
}

type Rdn = Vec<(String, DnValue)>;

/// Parses a DN string: RDNs separated by `,` (or `;`, RFC 1779), attributes by `+`, values
/// RFC 4514-escaped, `"quoted"` (RFC 1779, as Windows writes them) or `#hex`; spaces around
/// separators are ignored.
fn parse_dn(text: &str) -> Result<Vec<Rdn>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut position = 0;
    let mut rdns: Vec<Rdn> = Vec::new();
    let mut rdn: Rdn = Vec::new();
    let skip_spaces = |position: &mut usize| {
        while chars.get(*position) == Some(&' ') {
            *position += 1;
        }
    };
    loop {
        skip_spaces(&mut position);
        let name_start = position;
        while chars
            .get(position)
            .is_some_and(|c| *c != '=' && !matches!(c, ',' | ';' | '+'))
        {
            position += 1;
        }
        if chars.get(position) != Some(&'=') {
            return Err("each RDN is NAME=value".into());
        }
        let name: String = chars[name_start..position].iter().collect();
        let name = short_name(name.trim())?;
        position += 1;
        skip_spaces(&mut position);
        let value = match chars.get(position) {
            Some('"') => {
                position += 1;
                let mut bytes = Vec::new();
                loop {
                    match chars.get(position) {
                        None => return Err("a quoted value is not closed".into()),
                        Some('"') => {
                            position += 1;
                            break;
                        }
                        Some('\\') => {
                            position += 1;
                            read_escape(&chars, &mut position, &mut bytes)?;
                        }
                        Some(c) => {
                            push_char(*c, &mut bytes);
                            position += 1;
                        }
                    }
                }
                skip_spaces(&mut position);
                DnValue::Text(utf8(bytes)?)
            }
            Some('#') => {
                position += 1;
                let start = position;
                while chars.get(position).is_some_and(char::is_ascii_hexdigit) {
                    position += 1;
                }
                let digits: String = chars[start..position].iter().collect();
                let bytes = crate::parse_hex(&digits)
                    .ok_or("a #value must be an even number of hex digits")?;
                skip_spaces(&mut position);
                DnValue::Encoded(bytes)
            }
            _ => {
                let mut bytes = Vec::new();
                // Bytes up to here were written escaped, so trailing spaces before them stay.
                let mut kept_length = 0;
                while let Some(c) = chars.get(position) {
                    match c {
                        ',' | ';' | '+' => break,
                        '\\' => {
                            position += 1;
                            read_escape(&chars, &mut position, &mut bytes)?;
                            kept_length = bytes.len();
                        }
                        '"' | '<' | '>' => {
                            return Err(format!("the character {c} must be escaped in a value"))
                        }
                        _ => {
                            push_char(*c, &mut bytes);
                            position += 1;
                            if *c != ' ' {
                                kept_length = bytes.len();
                            }
                        }
                    }
                }
                bytes.truncate(kept_length);
                DnValue::Text(utf8(bytes)?)
            }
        };
        rdn.push((name, value));
        match chars.get(position) {
            None => {
                rdns.push(rdn);
                return Ok(rdns);
            }
            Some('+') => {}
            Some(',' | ';') => rdns.push(std::mem::take(&mut rdn)),
            Some(c) => return Err(format!("unexpected {c} after a value")),
        }
        position += 1;
    }
}

fn push_char(c: char, bytes: &mut Vec<u8>) {
    let mut buffer = [0u8; 4];
    bytes.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
}

/// After a `\`: two hex digits are one byte (of UTF-8), any other character stands for itself.
fn read_escape(chars: &[char], position: &mut usize, bytes: &mut Vec<u8>) -> Result<(), String> {
    let Some(first) = chars.get(*position) else {
        return Err("a value ends with a lone \\".into());
    };
    if let (Some(high), Some(low)) = (
        first.to_digit(16),
        chars.get(*position + 1).and_then(|c| c.to_digit(16)),
    ) {
        // Both are below 16, so the byte fits.
        bytes.push((high * 16 + low) as u8);
        *position += 2;
    } else {
        push_char(*first, bytes);
        *position += 1;
    }
    Ok(())
}

fn utf8(bytes: Vec<u8>) -> Result<String, String> {
    let text = String::from_utf8(bytes).map_err(|_| "a \\XX escape is not UTF-8".to_string())?;
    if text.chars().any(char::is_control) {
        return Err("a value contains control characters".into());
    }
    Ok(text)
}

/// The name certgate-pki renders for an attribute type written as a keyword (any case) or an
/// OID (`2.5.4.3` or `OID.2.5.4.3`). An unknown keyword is refused: it has no OID to compare.
fn short_name(written: &str) -> Result<String, String> {
    let oid = written
        .strip_prefix("OID.")
        .or_else(|| written.strip_prefix("oid."))
        .unwrap_or(written);
    let by_oid = match oid {
        "2.5.4.3" => Some("CN"),
        "2.5.4.4" => Some("SN"),
        "2.5.4.5" => Some("SERIALNUMBER"),
        "2.5.4.6" => Some("C"),
        "2.5.4.7" => Some("L"),
        "2.5.4.8" => Some("S"),
        "2.5.4.9" => Some("STREET"),
        "2.5.4.10" => Some("O"),
        "2.5.4.11" => Some("OU"),
        "2.5.4.12" => Some("T"),
        "2.5.4.42" => Some("G"),
        "2.5.4.43" => Some("I"),
        "2.5.4.46" => Some("dnQualifier"),
        "0.9.2342.19200300.100.1.25" => Some("DC"),
        "0.9.2342.19200300.100.1.1" => Some("UID"),
        "1.2.840.113549.1.9.1" => Some("E"),
        _ => None,
    };
    if let Some(name) = by_oid {
        return Ok(name.to_owned());
    }
    if !oid.is_empty()
        && oid
            .split('.')
            .all(|arc| !arc.is_empty() && arc.bytes().all(|b| b.is_ascii_digit()))
    {
        // certgate-pki renders a type it has no name for as its dotted OID.
        return Ok(oid.to_owned());
    }
    let name = match written.to_ascii_lowercase().as_str() {
        "cn" | "commonname" => "CN",
        "sn" | "surname" => "SN",
        "serialnumber" => "SERIALNUMBER",
        "c" | "countryname" => "C",
        "l" | "localityname" => "L",
        "s" | "st" | "stateorprovincename" => "S",
        "street" | "streetaddress" => "STREET",
        "o" | "organizationname" => "O",
        "ou" | "organizationalunitname" => "OU",
        "t" | "title" => "T",
        "g" | "gn" | "givenname" => "G",
        "i" | "initials" => "I",
        "dnqualifier" => "dnQualifier",
        "dc" | "domaincomponent" => "DC",
        "uid" | "userid" => "UID",
        "e" | "email" | "emailaddress" => "E",
        _ => {
            return Err(format!(
                "{written} is not an attribute type certgate knows; write its OID"
            ))
        }
    };
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(value: &str) -> Result<Option<String>, String> {
        certificate_user_id_from_mapping(value).map_err(|error| error.code().to_owned())
    }

    #[test]
    fn each_ad_form_becomes_the_certificate_user_ids_form() {
        let table = [
            (
                "X509:<I>DC=com,DC=contoso,CN=CONTOSO-DC-CA<S>DC=com,DC=contoso,CN=Users,CN=Amanda Morgan",
                "X509:<I>DC=com,DC=contoso,CN=CONTOSO-DC-CA<S>DC=com,DC=contoso,CN=Users,CN=Amanda Morgan",
            ),
            (
                "X509:<I>DC=com,DC=contoso,CN=CONTOSO-DC-CA<SR>1200000000AC11000000002B",
                "X509:<I>DC=com,DC=contoso,CN=CONTOSO-DC-CA<SR>1200000000ac11000000002b",
            ),
            (
                "X509:<SKI>123456789ABCDEF0",
                "X509:<SKI>123456789abcdef0",
            ),
            (
                "X509:<SHA1-PUKEY>ED913FA41377DBFB8EAC2BC6FCAE71ECD4A974FD",
                "X509:<SHA1-PUKEY>ed913fa41377dbfb8eac2bc6fcae71ecd4a974fd",
            ),
            (
                "X509:<S>C=US, O=Contoso, CN=Amanda Morgan",
                "X509:<S>C=US,O=Contoso,CN=Amanda Morgan",
            ),
            (
                "X509:<RFC822>amanda@contoso.com",
                "X509:<RFC822>amanda@contoso.com",
            ),
        ];
        for (ad, expected) in table {
            assert_eq!(convert(ad), Ok(Some(expected.to_owned())), "{ad}");
        }
    }

    #[test]
    fn dn_spelling_is_rewritten_as_certgate_renders_names() {
        let table = [
            // Windows short names, case, spaces.
            (
                "c=US; st=Texas; o=Contoso; cn=Bob",
                "C=US,S=Texas,O=Contoso,CN=Bob",
            ),
            (
                "emailAddress=bob@contoso.com, CN=Bob",
                "E=bob@contoso.com,CN=Bob",
            ),
            ("OID.2.5.4.3=Bob", "CN=Bob"),
            ("1.2.3.4=x", "1.2.3.4=x"),
            // Windows quotes values with special characters; certgate escapes them.
            ("O=\"Contoso, Ltd\",CN=Bob", "O=Contoso\\, Ltd,CN=Bob"),
            ("O=Contoso\\2C Ltd,CN=Bob", "O=Contoso\\, Ltd,CN=Bob"),
            // Multi-valued RDN, UTF-8 by escape and as is.
            ("CN=Bob + UID=bob", "CN=Bob+UID=bob"),
            ("CN=Jos\\C3\\A9", "CN=Jos\u{e9}"),
            ("CN=Jos\u{e9}", "CN=Jos\u{e9}"),
            // An escaped trailing space is part of the value.
            ("CN=Bob\\ ", "CN=Bob\\ "),
            ("CN=#0c03426f62", "CN=#0c03426f62"),
        ];
        for (written, expected) in table {
            assert_eq!(entra_dn(written).as_deref(), Ok(expected), "{written}");
        }
    }

    #[test]
    fn kerberos_principals_are_not_certificate_mappings() {
        assert_eq!(convert("Kerberos:bob@CONTOSO.COM"), Ok(None));
    }

    #[test]
    fn unparseable_mappings_are_refused_with_a_code() {
        for bad in [
            "X509:",
            "X509:<I>CN=CA",
            "X509:<S>",
            "X509:<S>CN",
            "X509:<S>nickname=Bob",
            "X509:<I>CN=CA<S>CN=Bob<SR>01",
            "X509:<SR>01",
            "X509:<SKI>not-hex",
            "X509:<SHA1-PUKEY>abcd",
            "X509:<RFC822>not an address",
            "X509:<PN>bob@contoso.com",
            "X509<S>CN=Bob",
            "SMTP:bob@contoso.com",
            "X509:<S>CN=\"Bob",
            "X509:<S>CN=Bob\\",
            "X509:<S>CN=Bob\u{1b}[31m",
            "X509:<S>CN=\\ff\\fe",
        ] {
            assert_eq!(
                convert(bad),
                Err("directory-entry-certificate-mapping-unparseable".to_owned()),
                "{bad:?}"
            );
        }
        let huge = format!("X509:<S>CN={}", "a".repeat(MAX_MAPPING_BYTES));
        assert_eq!(
            convert(&huge),
            Err("directory-entry-certificate-mapping-unparseable".to_owned())
        );
    }

    /// Generated mappings, shaped like the six forms but with DN types, values, escapes,
    /// quotes and spacing drawn at random: whatever they convert to is a valid
    /// certificateUserIds value that converts to itself again (the rendering is a fixed point,
    /// so a synced value never drifts between syncs).
    #[test]
    fn every_conversion_is_a_valid_value_and_a_fixed_point() {
        const TYPES: &[&str] = &[
            "CN",
            "cn",
            "O",
            "OU",
            "C",
            "S",
            "ST",
            "E",
            "emailAddress",
            "DC",
            "OID.2.5.4.10",
            "1.2.3.4",
            "title",
            "nickname",
        ];
        const VALUE_PIECES: &[&str] = &[
            "a", "Bob", " ", "\\,", "\\2C", "\\ ", "\\#", "\\\\", "\\<", "\\\"", "#", "+", ",",
            "<", "\"", "\u{e9}", "=", "\\c3\\a9", "\\ff",
        ];
        const HEX: &[&str] = &["0A", "ff", " ", ":", "1200000000AC11000000002B", "zz", ""];
        // A fixed linear congruential generator: the same cases every run.
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |bound: usize| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 33) as usize) % bound
        };
        let dn = |next: &mut dyn FnMut(usize) -> usize| {
            let mut text = String::new();
            for rdn in 0..1 + next(4) {
                if rdn > 0 {
                    text.push_str([",", ", ", ";", " + "][next(4)]);
                }
                text.push_str(TYPES[next(TYPES.len())]);
                text.push_str(["=", " = "][next(2)]);
                let quoted = next(4) == 0;
                if quoted {
                    text.push('"');
                }
                for _ in 0..1 + next(4) {
                    text.push_str(VALUE_PIECES[next(VALUE_PIECES.len())]);
                }
                if quoted {
                    text.push('"');
                }
            }
            text
        };
        let (mut converted, mut refused) = (0, 0);
        for _ in 0..20_000 {
            let value = match next(6) {
                0 => format!("X509:<I>{}<S>{}", dn(&mut next), dn(&mut next)),
                1 => format!("X509:<I>{}<SR>{}", dn(&mut next), HEX[next(HEX.len())]),
                2 => format!("X509:<S>{}", dn(&mut next)),
                3 => format!("X509:<SKI>{}{}", HEX[next(HEX.len())], HEX[next(HEX.len())]),
                4 => format!("X509:<SHA1-PUKEY>{}", "ab".repeat(18 + next(4))),
                _ => format!("X509:<RFC822>{}", ["a@b", "a b@c", "@", "x@y@z"][next(4)]),
            };
            match certificate_user_id_from_mapping(&value) {
                Ok(Some(output)) => {
                    converted += 1;
                    assert!(
                        crate::directory::normalize_certificate_user_id(&output).is_ok(),
                        "{value:?} -> {output:?} is not a certificateUserIds value"
                    );
                    assert_eq!(
                        certificate_user_id_from_mapping(&output),
                        Ok(Some(output.clone())),
                        "{value:?}"
                    );
                }
                Ok(None) => panic!("{value:?} is an X509 mapping"),
                Err(error) => {
                    refused += 1;
                    assert_eq!(
                        error.code(),
                        "directory-entry-certificate-mapping-unparseable"
                    );
                }
            }
        }
        // Both paths must be well exercised, or the test shows little.
        assert!(
            converted > 3_000 && refused > 3_000,
            "{converted} converted, {refused} refused"
        );
    }

    #[test]
    fn an_escaped_angle_bracket_does_not_start_a_tag() {
        assert_eq!(
            convert("X509:<I>CN=A\\<B<S>CN=Bob"),
            Ok(Some("X509:<I>CN=A\\<B<S>CN=Bob".to_owned()))
        );
        assert_eq!(
            convert("X509:<I>O=\"A<B\"<S>CN=Bob"),
            Ok(Some("X509:<I>O=A\\<B<S>CN=Bob".to_owned()))
        );
    }
}
