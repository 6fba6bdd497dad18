//! A bounded XML reader for untrusted protocol messages and metadata: quick-xml tokenizes,
//! this module enforces the rules and builds a small owned tree that keeps what Exclusive XML
//! Canonicalization needs (raw prefixes, the namespace declarations made on each element,
//! resolved namespace URIs, every text node) so that a signature is verified over the very
//! tree the caller then reads values from.
//!
//! Refused, each with its own [`SamlError`] code: more than `max_bytes` of input, nesting
//! deeper than [`MAX_DEPTH`], more than [`MAX_NODES`] nodes, more than [`MAX_ATTRIBUTES`]
//! attributes on an element, any DOCTYPE (so there are no external entities and no entity
//! expansion, XML 1.0 §2.8), entity references other than the five predefined ones (§4.6),
//! processing instructions other than the XML declaration, input that is not UTF-8 (or
//! declares another encoding), unbound prefixes and duplicate attributes (Namespaces in XML
//! 1.0 §5, §6.3), and anything but whitespace and comments after the root element.
//!
//! What the tree normalizes, as an XML processor must before canonicalization (C14N 1.0
//! §2.1): line ends in text (XML 1.0 §2.11), attribute values (§3.3.3: references replaced,
//! whitespace characters become spaces), CDATA sections become text, adjacent text is merged
//! and comments are dropped. Merging matters beyond C14N: a reader that took only the first
//! text node of `alice@evil.example<!---->.contoso.example` would read a different name than
//! the one that was signed.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::error::SamlError;

/// Protocol messages (AuthnRequest, LogoutRequest): far above any real request.
pub(crate) const MESSAGE_MAX_BYTES: usize = 256 * 1024;
/// Service-provider metadata, which can carry several certificates and many endpoints.
pub(crate) const METADATA_MAX_BYTES: usize = 1024 * 1024;
pub(crate) const MAX_DEPTH: usize = 32;
pub(crate) const MAX_NODES: usize = 20_000;
pub(crate) const MAX_ATTRIBUTES: usize = 64;

pub(crate) const XML_NAMESPACE: &str = "http://www.w3.org/XML/1998/namespace";
const XMLNS_NAMESPACE: &str = "http://www.w3.org/2000/xmlns/";

/// A parsed document: its root element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Document {
    pub(crate) root: Element,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Element {
    /// The prefix as written (`None`: unprefixed).
    pub(crate) prefix: Option<String>,
    pub(crate) local_name: String,
    /// The namespace the prefix (or the default namespace) resolves to; `None`: no namespace.
    pub(crate) namespace: Option<String>,
    /// The `xmlns` / `xmlns:p` attributes written on this element, in document order:
    /// (prefix, URI); prefix `None` is the default namespace, URI `""` undeclares it.
    pub(crate) namespace_declarations: Vec<(Option<String>, String)>,
    /// Every other attribute, in document order.
    pub(crate) attributes: Vec<Attribute>,
    pub(crate) children: Vec<Node>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Attribute {
    pub(crate) prefix: Option<String>,
    pub(crate) local_name: String,
    pub(crate) namespace: Option<String>,
    /// Normalized and unescaped (XML 1.0 §3.3.3).
    pub(crate) value: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Node {
    Element(Element),
    /// Character data, line ends normalized and references replaced; never empty, never two
    /// in a row.
    Text(String),
}

impl Element {
    /// Whether this element is `{namespace}local_name`.
    pub(crate) fn is(&self, namespace: &str, local_name: &str) -> bool {
        self.namespace.as_deref() == Some(namespace) && self.local_name == local_name
    }

    /// An unqualified attribute's value (SAML's attributes are all unqualified).
    pub(crate) fn attribute(&self, local_name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.namespace.is_none() && a.local_name == local_name)
            .map(|a| a.value.as_str())
    }

    pub(crate) fn child_elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The child elements named `{namespace}local_name`.
    pub(crate) fn children_named<'a>(
        &'a self,
        namespace: &'a str,
        local_name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.child_elements()
            .filter(move |e| e.is(namespace, local_name))
    }

    /// All text directly inside this element, concatenated.
    pub(crate) fn text(&self) -> String {
        let mut out = String::new();
        for node in &self.children {
            if let Node::Text(t) = node {
                out.push_str(t);
            }
        }
        out
    }

    /// Whether the element holds only whitespace text besides its child elements.
    pub(crate) fn has_only_whitespace_text(&self) -> bool {
        self.children.iter().all(|n| match n {
            Node::Text(t) => t.chars().all(is_xml_whitespace),
            Node::Element(_) => true,
        })
    }

    /// `{namespace}local` for messages.
    pub(crate) fn expanded_name(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{{{ns}}}{}", self.local_name),
            None => self.local_name.clone(),
        }
    }
}

pub(crate) fn is_xml_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// Parses `input` under the limits above, `max_bytes` being the input size limit.
pub(crate) fn parse(input: &[u8], max_bytes: usize) -> Result<Document, SamlError> {
    if input.len() > max_bytes {
        return Err(SamlError::XmlTooLarge {
            size: input.len(),
            limit: max_bytes,
        });
    }
    let text = std::str::from_utf8(input).map_err(|e| SamlError::XmlNotUtf8 {
        offset: e.valid_up_to(),
    })?;
    // A UTF-8 byte order mark is allowed (XML 1.0 §4.3.3) and is not part of the document.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    Builder::default().run(text)
}

#[derive(Default)]
struct Builder {
    /// Open elements, innermost last.
    stack: Vec<Element>,
    /// In-scope namespace declarations, innermost last, with how many each open element
    /// pushed (so closing an element pops exactly its own).
    scope: Vec<(Option<String>, String)>,
    pushed: Vec<usize>,
    root: Option<Element>,
    nodes: usize,
    seen_declaration_position: bool,
}

impl Builder {
    fn run(mut self, text: &str) -> Result<Document, SamlError> {
        let mut reader = Reader::from_str(text);
        let config = reader.config_mut();
        config.check_end_names = true;
        config.expand_empty_elements = false;
        config.trim_text(false);
        loop {
            let position = reader.buffer_position();
            let event = reader.read_event().map_err(|e| SamlError::XmlMalformed {
                reason: format!("at byte {position}: {e}"),
            })?;
            let first_event = !self.seen_declaration_position;
            self.seen_declaration_position = true;
            match event {
                Event::Decl(declaration) => {
                    if !first_event || position != 0 {
                        return Err(malformed(position, "XML declaration not at the start"));
                    }
                    if let Some(encoding) = declaration.encoding() {
                        let encoding = encoding.map_err(|e| SamlError::XmlMalformed {
                            reason: format!("XML declaration: {e}"),
                        })?;
                        if !encoding.eq_ignore_ascii_case("utf-8") {
                            return Err(SamlError::XmlNotUtf8 { offset: 0 });
                        }
                    }
                    let version = declaration.version().map_err(|e| SamlError::XmlMalformed {
                        reason: format!("XML declaration: {e}"),
                    })?;
                    if version.as_ref() != "1.0" {
                        return Err(malformed(position, "only XML 1.0 is accepted"));
                    }
                }
                Event::DocType(_) => return Err(SamlError::XmlDoctypeRefused),
                Event::PI(_) => return Err(SamlError::XmlProcessingInstructionRefused),
                Event::Comment(_) => {
                    // Dropped (C14N without comments); still counted against the node budget.
                    self.count_node()?;
                }
                Event::Start(start) => self.open(&start, position)?,
                Event::Empty(start) => {
                    self.open(&start, position)?;
                    self.close(position)?;
                }
                Event::End(_) => self.close(position)?,
                Event::Text(t) => self.text(position, &normalize_line_ends(&t.into_inner()))?,
                Event::CData(t) => self.text(position, &normalize_line_ends(&t.into_inner()))?,
                Event::GeneralRef(reference) => {
                    let name: &str = &reference;
                    let replacement = resolve_reference(name)?;
                    self.text(position, &replacement)?;
                }
                Event::Eof => break,
            }
        }
        if !self.stack.is_empty() {
            return Err(malformed(
                text.len() as u64,
                "the document ends inside an element",
            ));
        }
        match self.root {
            Some(root) => Ok(Document { root }),
            None => Err(malformed(0, "no root element")),
        }
    }

    fn count_node(&mut self) -> Result<(), SamlError> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(SamlError::XmlTooManyNodes { limit: MAX_NODES });
        }
        Ok(())
    }

    fn text(&mut self, position: u64, text: &str) -> Result<(), SamlError> {
        if let Some(c) = text.chars().find(|c| !is_xml_char(*c)) {
            return Err(malformed(
                position,
                &format!("U+{:04X} is not an XML character", u32::from(c)),
            ));
        }
        match self.stack.last_mut() {
            None => {
                // Outside the root only whitespace may appear (XML 1.0 §2.1 Misc).
                if text.chars().all(is_xml_whitespace) {
                    Ok(())
                } else if self.root.is_some() {
                    Err(malformed(position, "content after the root element"))
                } else {
                    Err(malformed(position, "text before the root element"))
                }
            }
            Some(parent) => {
                if text.is_empty() {
                    return Ok(());
                }
                if let Some(Node::Text(previous)) = parent.children.last_mut() {
                    previous.push_str(text);
                    return Ok(());
                }
                parent.children.push(Node::Text(text.to_owned()));
                self.count_node()
            }
        }
    }

    fn open(&mut self, start: &BytesStart<'_>, position: u64) -> Result<(), SamlError> {
        if self.root.is_some() {
            return Err(malformed(position, "content after the root element"));
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(SamlError::XmlTooDeep { limit: MAX_DEPTH });
        }
        self.count_node()?;
        let qualified_name = start.name().0;
        let (prefix, local_name) = split_qualified_name(qualified_name)
            .ok_or_else(|| malformed(position, &format!("bad element name {qualified_name:?}")))?;

        // Declarations first: they apply to the element's own name and attributes.
        let mut namespace_declarations: Vec<(Option<String>, String)> = Vec::new();
        let mut raw_attributes: Vec<(Option<&str>, &str, String)> = Vec::new();
        let mut attributes = start.attributes();
        attributes.with_checks(true);
        for attribute in attributes {
            let attribute = attribute.map_err(|e| match e {
                quick_xml::events::attributes::AttrError::Duplicated(..) => {
                    SamlError::XmlDuplicateAttribute {
                        element: qualified_name.to_owned(),
                        attribute: String::new(),
                    }
                }
                e => malformed(position, &format!("in <{qualified_name}>: {e}")),
            })?;
            if namespace_declarations.len() + raw_attributes.len() >= MAX_ATTRIBUTES {
                return Err(SamlError::XmlTooManyAttributes {
                    element: qualified_name.to_owned(),
                    limit: MAX_ATTRIBUTES,
                });
            }
            let key = attribute.key.0;
            let value = normalize_attribute_value(&attribute.value)
                .map_err(|e| with_position(e, position))?;
            let (attribute_prefix, attribute_local) = split_qualified_name(key)
                .ok_or_else(|| malformed(position, &format!("bad attribute name {key:?}")))?;
            match (attribute_prefix, attribute_local) {
                (None, "xmlns") => {
                    if value == XML_NAMESPACE || value == XMLNS_NAMESPACE {
                        return Err(malformed(position, "reserved namespace as default"));
                    }
                    namespace_declarations.push((None, value));
                }
                (Some("xmlns"), declared) => {
                    check_declaration(declared, &value)
                        .map_err(|reason| malformed(position, &reason))?;
                    namespace_declarations.push((Some(declared.to_owned()), value));
                }
                (attribute_prefix, attribute_local) => {
                    raw_attributes.push((attribute_prefix, attribute_local, value));
                }
            }
        }
        for (i, (declared, _)) in namespace_declarations.iter().enumerate() {
            if namespace_declarations[..i]
                .iter()
                .any(|(p, _)| p == declared)
            {
                return Err(SamlError::XmlDuplicateAttribute {
                    element: qualified_name.to_owned(),
                    attribute: match declared {
                        Some(p) => format!("xmlns:{p}"),
                        None => "xmlns".to_owned(),
                    },
                });
            }
        }
        self.pushed.push(namespace_declarations.len());
        self.scope.extend(namespace_declarations.iter().cloned());

        let namespace = self.resolve(prefix, true, qualified_name)?;
        let mut resolved_attributes: Vec<Attribute> = Vec::with_capacity(raw_attributes.len());
        for (attribute_prefix, attribute_local, value) in raw_attributes {
            // Unprefixed attributes are in no namespace (Namespaces in XML §6.2).
            let attribute_namespace = match attribute_prefix {
                None => None,
                Some(_) => self.resolve(attribute_prefix, false, qualified_name)?,
            };
            let duplicate = resolved_attributes
                .iter()
                .any(|a| a.namespace == attribute_namespace && a.local_name == attribute_local);
            if duplicate {
                return Err(SamlError::XmlDuplicateAttribute {
                    element: qualified_name.to_owned(),
                    attribute: attribute_local.to_owned(),
                });
            }
            if let Some(c) = value.chars().find(|c| !is_xml_char(*c)) {
                return Err(malformed(
                    position,
                    &format!("U+{:04X} is not an XML character", u32::from(c)),
                ));
            }
            resolved_attributes.push(Attribute {
                prefix: attribute_prefix.map(str::to_owned),
                local_name: attribute_local.to_owned(),
                namespace: attribute_namespace,
                value,
            });
        }
        self.stack.push(Element {
            prefix: prefix.map(str::to_owned),
            local_name: local_name.to_owned(),
            namespace,
            namespace_declarations,
            attributes: resolved_attributes,
            children: Vec::new(),
        });
        Ok(())
    }

    /// The namespace `prefix` is bound to; unprefixed element names take the default
    /// namespace, unprefixed attributes none.
    fn resolve(
        &self,
        prefix: Option<&str>,
        is_element: bool,
        element: &str,
    ) -> Result<Option<String>, SamlError> {
        match prefix {
            Some("xml") => Ok(Some(XML_NAMESPACE.to_owned())),
            Some("xmlns") => Err(malformed(0, "the xmlns prefix names no element")),
            Some(p) => self
                .scope
                .iter()
                .rev()
                .find(|(declared, _)| declared.as_deref() == Some(p))
                .map(|(_, uri)| Some(uri.clone()))
                .ok_or_else(|| SamlError::XmlUnboundPrefix {
                    prefix: p.to_owned(),
                    element: element.to_owned(),
                }),
            None if is_element => Ok(self
                .scope
                .iter()
                .rev()
                .find(|(declared, _)| declared.is_none())
                .and_then(|(_, uri)| (!uri.is_empty()).then(|| uri.clone()))),
            None => Ok(None),
        }
    }

    fn close(&mut self, position: u64) -> Result<(), SamlError> {
        let element = self
            .stack
            .pop()
            .ok_or_else(|| malformed(position, "end tag without a start tag"))?;
        let pushed = self.pushed.pop().unwrap_or(0);
        self.scope.truncate(self.scope.len().saturating_sub(pushed));
        match self.stack.last_mut() {
            Some(parent) => parent.children.push(Node::Element(element)),
            None => self.root = Some(element),
        }
        Ok(())
    }
}

fn check_declaration(prefix: &str, uri: &str) -> Result<(), String> {
    if uri.is_empty() {
        // Undeclaring a prefix is XML 1.1 only (Namespaces in XML 1.0 §3).
        return Err(format!("xmlns:{prefix}=\"\" undeclares a prefix"));
    }
    match prefix {
        "xml" if uri == XML_NAMESPACE => Ok(()),
        "xml" => Err("the xml prefix is bound to another namespace".to_owned()),
        "xmlns" => Err("the xmlns prefix cannot be declared".to_owned()),
        _ if uri == XML_NAMESPACE || uri == XMLNS_NAMESPACE => {
            Err(format!("xmlns:{prefix} binds a reserved namespace"))
        }
        _ => Ok(()),
    }
}

/// `prefix:local` or `local`, each an NCName (checked loosely: no empty parts, no second
/// colon, no characters that cannot start or be in a name).
fn split_qualified_name(name: &str) -> Option<(Option<&str>, &str)> {
    let (prefix, local) = match name.split_once(':') {
        Some((p, l)) => (Some(p), l),
        None => (None, name),
    };
    let ok = |part: &str| {
        let mut chars = part.chars();
        chars
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_' || !c.is_ascii() && is_xml_char(c))
            && chars.all(|c| {
                c.is_alphanumeric()
                    || matches!(c, '_' | '-' | '.')
                    || !c.is_ascii() && is_xml_char(c)
            })
    };
    if prefix.is_some_and(|p| !ok(p)) || !ok(local) {
        return None;
    }
    Some((prefix, local))
}

/// Line ends as an XML processor passes them on: CR LF and lone CR become LF (XML 1.0
/// §2.11).
fn normalize_line_ends(text: &str) -> String {
    if !text.contains('\r') {
        return text.to_owned();
    }
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// A reference in text: the five predefined entities (XML 1.0 §4.6) and character
/// references (§4.1). Anything else would need a DTD, which is refused.
fn resolve_reference(name: &str) -> Result<String, SamlError> {
    let c = match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "apos" => '\'',
        "quot" => '"',
        _ => match name.strip_prefix('#') {
            Some(number) => character_reference(number).ok_or_else(|| SamlError::XmlMalformed {
                reason: format!("&{name}; is not a valid character reference"),
            })?,
            None => {
                return Err(SamlError::XmlEntityRefused {
                    name: name.chars().take(64).collect(),
                })
            }
        },
    };
    Ok(c.to_string())
}

fn character_reference(number: &str) -> Option<char> {
    let value = match number.strip_prefix('x') {
        Some(hex) if !hex.is_empty() && hex.len() <= 8 => u32::from_str_radix(hex, 16).ok()?,
        Some(_) => return None,
        None if !number.is_empty() && number.len() <= 10 => number.parse::<u32>().ok()?,
        None => return None,
    };
    char::from_u32(value).filter(|c| is_xml_char(*c))
}

/// Attribute-value normalization of XML 1.0 §3.3.3 for CDATA attributes (there is no DTD,
/// so every attribute is CDATA): references replaced, each literal TAB, LF, CR (a CR LF
/// pair counting once, after §2.11) becomes a space; a character reference keeps its
/// character.
fn normalize_attribute_value(raw: &str) -> Result<String, SamlError> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find(['&', '<', '\t', '\n', '\r']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        match tail.as_bytes()[0] {
            b'&' => {
                let end = tail.find(';').ok_or_else(|| SamlError::XmlMalformed {
                    reason: "unterminated reference in an attribute value".to_owned(),
                })?;
                out.push_str(&resolve_reference(&tail[1..end])?);
                rest = &tail[end + 1..];
            }
            b'<' => {
                return Err(SamlError::XmlMalformed {
                    reason: "'<' in an attribute value".to_owned(),
                })
            }
            b'\r' if tail.as_bytes().get(1) == Some(&b'\n') => {
                out.push(' ');
                rest = &tail[2..];
            }
            _ => {
                out.push(' ');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn malformed(position: u64, reason: &str) -> SamlError {
    SamlError::XmlMalformed {
        reason: format!("at byte {position}: {reason}"),
    }
}

fn with_position(error: SamlError, position: u64) -> SamlError {
    match error {
        SamlError::XmlMalformed { reason } => malformed(position, &reason),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(xml: &str) -> Result<Document, SamlError> {
        parse(xml.as_bytes(), MESSAGE_MAX_BYTES)
    }

    #[test]
    fn builds_the_tree_with_namespaces() {
        let doc = parse_str(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<p:a xmlns:p=\"urn:p\" xmlns=\"urn:d\" p:x=\"1&amp;&#x41;\" y=\"a\r\nb\tc\">\
             <b>t&lt;1<![CDATA[<&>]]><!-- c -->t2</b><p:c xmlns=\"\"><d/></p:c></p:a>\n<!-- after -->\n",
        )
        .unwrap();
        let root = &doc.root;
        assert_eq!(root.prefix.as_deref(), Some("p"));
        assert_eq!(root.namespace.as_deref(), Some("urn:p"));
        assert_eq!(root.namespace_declarations.len(), 2);
        assert_eq!(root.attributes[0].namespace.as_deref(), Some("urn:p"));
        assert_eq!(root.attributes[0].value, "1&A");
        assert_eq!(root.attribute("y"), Some("a b c"));
        let b = root.child_elements().next().unwrap();
        assert_eq!(b.namespace.as_deref(), Some("urn:d"));
        assert_eq!(b.children, vec![Node::Text("t<1<&>t2".into())]);
        let d = root
            .child_elements()
            .nth(1)
            .unwrap()
            .child_elements()
            .next()
            .unwrap();
        assert_eq!(d.namespace, None);
    }

    #[test]
    fn hostile_and_malformed_input_is_refused_with_codes() {
        let cases: &[(&str, &str)] = &[
            (
                "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>",
                "saml-xml-doctype-refused",
            ),
            ("<a>&x;</a>", "saml-xml-entity-refused"),
            ("<a x=\"&x;\"/>", "saml-xml-entity-refused"),
            ("<?pi x?><a/>", "saml-xml-processing-instruction-refused"),
            ("<a><?pi x?></a>", "saml-xml-processing-instruction-refused"),
            ("<p:a/>", "saml-xml-unbound-prefix"),
            ("<a p:x=\"1\"/>", "saml-xml-unbound-prefix"),
            ("<a x=\"1\" x=\"2\"/>", "saml-xml-duplicate-attribute"),
            (
                "<a xmlns:p=\"urn:x\" xmlns:q=\"urn:x\" p:x=\"1\" q:x=\"2\"/>",
                "saml-xml-duplicate-attribute",
            ),
            ("<a/><b/>", "saml-xml-malformed"),
            ("<a/>text", "saml-xml-malformed"),
            ("<a>", "saml-xml-malformed"),
            ("<a></b>", "saml-xml-malformed"),
            ("", "saml-xml-malformed"),
            ("<a>&#0;</a>", "saml-xml-malformed"),
            ("<a>&#xD800;</a>", "saml-xml-malformed"),
            ("<a>\u{1}</a>", "saml-xml-malformed"),
            ("<a x=\"<\"/>", "saml-xml-malformed"),
            ("<a xmlns:p=\"\"/>", "saml-xml-malformed"),
            (
                "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a/>",
                "saml-xml-not-utf8",
            ),
            ("<?xml version=\"1.1\"?><a/>", "saml-xml-malformed"),
        ];
        for (xml, code) in cases {
            match parse_str(xml) {
                Err(e) => assert_eq!(e.code(), *code, "{xml}: {e}"),
                Ok(doc) => panic!("{xml} accepted: {doc:?}"),
            }
        }
        assert_eq!(
            parse(b"<a>\xff</a>", MESSAGE_MAX_BYTES).unwrap_err().code(),
            "saml-xml-not-utf8"
        );
    }

    #[test]
    fn limits_are_enforced() {
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert_eq!(parse_str(&deep).unwrap_err().code(), "saml-xml-too-deep");
        let ok = "<a>".repeat(MAX_DEPTH) + &"</a>".repeat(MAX_DEPTH);
        assert!(parse_str(&ok).is_ok());

        let many = format!("<a>{}</a>", "<b/>".repeat(MAX_NODES));
        assert_eq!(
            parse_str(&many).unwrap_err().code(),
            "saml-xml-too-many-nodes"
        );

        let attributes: String = (0..=MAX_ATTRIBUTES)
            .map(|i| format!(" a{i}=\"\""))
            .collect();
        assert_eq!(
            parse_str(&format!("<a{attributes}/>")).unwrap_err().code(),
            "saml-xml-too-many-attributes"
        );

        let big = vec![b' '; 11];
        assert_eq!(parse(&big, 10).unwrap_err().code(), "saml-xml-too-large");
    }
}
