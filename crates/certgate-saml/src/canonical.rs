//! A writer that emits XML already in its Exclusive XML Canonicalization 1.0 form
//! (<https://www.w3.org/TR/xml-exc-c14n/>, which inherits the rules of Canonical XML 1.0 §2.3,
//! <https://www.w3.org/TR/xml-c14n/>), for the element shapes this crate emits.
//!
//! Why emit canonically instead of canonicalizing: there is no mature pure-Rust XML-DSig
//! implementation (samael, the Rust SAML crate, signs through C bindings to libxmlsec1 and
//! libxml2), and certgate only ever signs documents it writes itself. A document written with
//! the rules below *is* its own canonical form, so the digest is SHA-256 over the very bytes
//! written, and no general-purpose canonicalizer (namespace axis, document subsets, DTD
//! attribute defaults) is needed. Verifiers (xmlsec1 in the tests) canonicalize what they
//! parse and must arrive at the same bytes; the tests check that they do.
//!
//! The rules, and how this writer keeps them:
//! - No XML declaration, no DOCTYPE, no comments, no processing instructions; no whitespace
//!   between elements (none is written, so none needs to be preserved).
//! - Empty elements as a start/end tag pair, never `<a/>` ([`Writer::leaf`] and
//!   [`Writer::close`] always write the end tag).
//! - Namespace declarations before attributes, sorted by prefix; an element declares a prefix
//!   only when it or one of its attributes uses it and no output ancestor declares it with the
//!   same URI (exc-c14n §3, "visibly utilized"). Every element this crate emits uses a prefix
//!   (`saml:`, `samlp:`, `ds:`) and no attribute is prefixed, so each call site passes the one
//!   declaration its element needs or none; in particular no `xsi:type` is written, because
//!   exc-c14n would drop the `xs:` prefix that its value refers to. The one exception is the
//!   WS-Federation metadata's `xsi:type="fed:…"`, signed with an InclusiveNamespaces
//!   PrefixList that keeps `fed` where it is declared (see `wsfed::metadata`), and written
//!   with [`Writer::open_qualified`].
//! - Attributes sorted by (namespace URI, local name); all are unprefixed (empty namespace
//!   URI), so by name in code-point order, which [`Writer::open`] does.
//! - Attribute values in double quotes with `&` `<` `"` TAB LF CR as `&amp;` `&lt;` `&quot;`
//!   `&#x9;` `&#xA;` `&#xD;`; text with `&` `<` `>` CR as `&amp;` `&lt;` `&gt;` `&#xD;`; every
//!   other character as itself in UTF-8. Character references written this way survive a
//!   parser's attribute-value and line-end normalization, so the reparsed document
//!   canonicalizes back to these bytes.
//! - Characters XML 1.0 cannot carry at all (§2.2: controls other than TAB LF CR, U+FFFE,
//!   U+FFFF) are refused by [`check_text`] before anything is written.

use crate::error::SamlError;

/// Appends canonical XML to a string.
#[derive(Default)]
pub(crate) struct Writer {
    out: String,
}

impl Writer {
    pub(crate) fn new() -> Self {
        Writer::default()
    }

    /// `<name xmlns:p="uri" a="..." b="...">`. `attributes` are sorted here; none may be
    /// prefixed.
    pub(crate) fn open(
        &mut self,
        name: &str,
        namespace: Option<(&str, &str)>,
        attributes: &[(&str, &str)],
    ) {
        self.open_qualified(name, namespace.as_slice(), attributes, &[]);
    }

    /// A start tag that declares several prefixes and may carry namespace-qualified
    /// attributes (`xsi:type`), for the few elements that need more than [`Writer::open`]
    /// allows. `namespaces` are `(prefix, uri)` and are written sorted by prefix;
    /// `qualified_attributes` are `(namespace uri, prefix:local, value)` and are written after
    /// the unprefixed `attributes` (whose namespace URI is empty, so they sort first), in
    /// (namespace URI, local name) order, as Canonical XML 1.0 §2.2 orders attributes.
    pub(crate) fn open_qualified(
        &mut self,
        name: &str,
        namespaces: &[(&str, &str)],
        attributes: &[(&str, &str)],
        qualified_attributes: &[(&str, &str, &str)],
    ) {
        self.out.push('<');
        self.out.push_str(name);
        let mut declarations: Vec<&(&str, &str)> = namespaces.iter().collect();
        declarations.sort_by(|a, b| a.0.cmp(b.0));
        for (prefix, uri) in declarations {
            self.out.push_str(" xmlns:");
            self.out.push_str(prefix);
            self.out.push_str("=\"");
            escape_attribute(&mut self.out, uri);
            self.out.push('"');
        }
        let mut sorted: Vec<&(&str, &str)> = attributes.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        for (attribute, value) in sorted {
            debug_assert!(!attribute.contains(':'), "prefixed attribute {attribute}");
            self.attribute(attribute, value);
        }
        let local_name = |qualified: &str| -> String {
            qualified
                .split_once(':')
                .map_or(qualified, |(_, local)| local)
                .to_owned()
        };
        let mut qualified: Vec<&(&str, &str, &str)> = qualified_attributes.iter().collect();
        qualified.sort_by(|a, b| (a.0, local_name(a.1)).cmp(&(b.0, local_name(b.1))));
        for (_, attribute, value) in qualified {
            self.attribute(attribute, value);
        }
        self.out.push('>');
    }

    fn attribute(&mut self, name: &str, value: &str) {
        self.out.push(' ');
        self.out.push_str(name);
        self.out.push_str("=\"");
        escape_attribute(&mut self.out, value);
        self.out.push('"');
    }

    pub(crate) fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    pub(crate) fn text(&mut self, text: &str) {
        escape_text(&mut self.out, text);
    }

    /// An element with only text (possibly empty) inside.
    pub(crate) fn leaf(
        &mut self,
        name: &str,
        namespace: Option<(&str, &str)>,
        attributes: &[(&str, &str)],
        text: &str,
    ) {
        self.open(name, namespace, attributes);
        self.text(text);
        self.close(name);
    }

    /// Markup that is already canonical in this position (a signature built by this crate).
    pub(crate) fn raw(&mut self, canonical: &str) {
        self.out.push_str(canonical);
    }

    pub(crate) fn finish(self) -> String {
        self.out
    }
}

/// Text node escaping of Canonical XML 1.0 §2.3 (`&` `<` `>` CR).
pub(crate) fn escape_text(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

/// Attribute value escaping of Canonical XML 1.0 §2.3 (`&` `<` `"` TAB LF CR).
pub(crate) fn escape_attribute(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

/// Refuses characters that XML 1.0 cannot carry, even as character references (XML 1.0
/// §2.2 `Char`; Rust strings hold no surrogates).
pub(crate) fn check_text(field: &'static str, value: &str) -> Result<(), SamlError> {
    match value.chars().find(|c| !is_xml_char(*c)) {
        None => Ok(()),
        Some(c) => Err(SamlError::invalid(
            field,
            format!(
                "U+{:04X} cannot appear in an XML 1.0 document",
                u32::from(c)
            ),
        )),
    }
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Non-empty and XML-safe.
pub(crate) fn check_required(field: &'static str, value: &str) -> Result<(), SamlError> {
    if value.is_empty() {
        return Err(SamlError::invalid(field, "must not be empty"));
    }
    check_text(field, value)
}

/// `xs:NCName`, restricted to ASCII: the SAML schema types `ID` and `InResponseTo` as NCName.
/// Non-ASCII NCNames are legal XML but no SP in practice sends them; refusing them keeps the
/// check small and exact.
pub(crate) fn check_ncname(field: &'static str, value: &str) -> Result<(), SamlError> {
    let mut bytes = value.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
    let rest_ok = bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if first_ok && rest_ok {
        Ok(())
    } else {
        Err(SamlError::invalid(
            field,
            format!(
                "\"{}\" is not an XML NCName (a letter or _ followed by letters, digits, _ - .)",
                value.escape_debug()
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_escaping_follows_c14n() {
        let mut w = Writer::new();
        w.leaf("a", None, &[], "x&y<z>w\r\n\t\"'");
        assert_eq!(w.finish(), "<a>x&amp;y&lt;z&gt;w&#xD;\n\t\"'</a>");
    }

    #[test]
    fn attribute_escaping_and_order_follow_c14n() {
        let mut w = Writer::new();
        w.open(
            "p:a",
            Some(("p", "urn:x")),
            &[("b", "1&<>\"\t\n\r'"), ("ID", "2"), ("Aa", "3")],
        );
        w.close("p:a");
        assert_eq!(
            w.finish(),
            "<p:a xmlns:p=\"urn:x\" Aa=\"3\" ID=\"2\" b=\"1&amp;&lt;>&quot;&#x9;&#xA;&#xD;'\"></p:a>"
        );
    }

    #[test]
    fn qualified_start_tag_sorts_declarations_by_prefix_and_attributes_by_namespace() {
        let mut w = Writer::new();
        w.open_qualified(
            "md:R",
            &[("xsi", "urn:xsi"), ("fed", "urn:fed")],
            &[("z", "1"), ("a", "2")],
            &[("urn:xsi", "xsi:type", "fed:T"), ("urn:b", "b:x", "3")],
        );
        w.close("md:R");
        assert_eq!(
            w.finish(),
            "<md:R xmlns:fed=\"urn:fed\" xmlns:xsi=\"urn:xsi\" a=\"2\" z=\"1\" b:x=\"3\" xsi:type=\"fed:T\"></md:R>"
        );
    }

    #[test]
    fn characters_xml_cannot_carry_are_refused() {
        assert!(check_text("f", "ok\t\n\r é 𝄞").is_ok());
        for bad in ["\u{0}", "\u{1b}", "\u{FFFE}", "\u{FFFF}"] {
            assert!(check_text("f", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ncname_check() {
        assert!(check_ncname("f", "_a1-b.c").is_ok());
        assert!(check_ncname("f", "id123").is_ok());
        for bad in ["", "1abc", "-a", "a:b", "a b", "é"] {
            assert!(check_ncname("f", bad).is_err(), "{bad:?}");
        }
    }
}
