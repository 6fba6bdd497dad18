//! The two HTTP bindings messages arrive by (SAML bindings §3.4 HTTP-Redirect, §3.5
//! HTTP-POST): decoding (base64, raw DEFLATE), RelayState, and the signature each binding
//! carries — an enveloped XML signature for POST, a signature over the query string for
//! Redirect (§3.4.4.1) — kept with the received message until the caller, who knows whether
//! the sender must sign, asks for it to be verified.

use std::io::{Read as _, Write as _};

use base64::Engine as _;

use crate::dsig_verify::{
    decode_base64_text, lenient_base64, verify_enveloped, verify_with_trusted, SignatureAlgorithm,
};
use crate::error::SamlError;
use crate::xml_in::{self, Document};

/// RelayState "MUST NOT exceed 80 bytes in length" (bindings §3.4.3, §3.5.3).
pub(crate) const RELAY_STATE_MAX_BYTES: usize = 80;
/// A query string longer than this is refused before any decoding.
const QUERY_MAX_BYTES: usize = 128 * 1024;
/// A POST form value longer than this is refused before any decoding (base64 of the
/// message limit, with room for line breaks).
const POST_VALUE_MAX_BYTES: usize = xml_in::MESSAGE_MAX_BYTES / 3 * 4 + 16 * 1024;
const DEFLATE_ENCODING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:URL-Encoding:DEFLATE";

/// A message received over HTTP-POST or HTTP-Redirect, with its RelayState and whatever
/// signature it came with. The message has been read and checked for form; its signature
/// has **not** been checked: call [`Received::verify_signature`] when the sender must sign
/// (its metadata says `AuthnRequestsSigned="true"`, or certgate's configuration says so).
#[derive(Debug)]
pub struct Received<M> {
    message: M,
    relay_state: Option<String>,
    signature: ReceivedSignature,
}

#[derive(Debug)]
enum ReceivedSignature {
    /// HTTP-POST: the parsed document, whose root may carry an enveloped signature. The
    /// message was read from this very tree.
    Enveloped(Box<Document>),
    /// HTTP-Redirect with `SigAlg` and `Signature`.
    Query {
        sig_alg: String,
        signed_octets: Vec<u8>,
        signature_base64: String,
    },
    /// HTTP-Redirect without a signature.
    None,
}

impl<M> Received<M> {
    /// The message, read and checked for form but not (yet) for its signature.
    pub fn message(&self) -> &M {
        &self.message
    }

    /// The message, giving up the signature: for a caller that has verified it, or does not
    /// require one.
    pub fn into_message(self) -> M {
        self.message
    }

    /// RelayState, decoded; at most 80 bytes (bindings §3.4.3).
    pub fn relay_state(&self) -> Option<&str> {
        self.relay_state.as_deref()
    }

    /// Whether the message came with a signature (verified or not).
    pub fn is_signed(&self) -> bool {
        match &self.signature {
            ReceivedSignature::Enveloped(document) => document
                .root
                .children_named(crate::signature::DS, "Signature")
                .next()
                .is_some(),
            ReceivedSignature::Query { .. } => true,
            ReceivedSignature::None => false,
        }
    }

    /// Verifies the binding's signature with the sender's `trusted_certificates` (DER, from
    /// its metadata; the message's own KeyInfo is never trusted): for HTTP-POST the enveloped
    /// XML signature over the root element (SAML core §5.4, bindings §3.5.4), for
    /// HTTP-Redirect the signature over `SAMLRequest=…&RelayState=…&SigAlg=…` as received
    /// (bindings §3.4.4.1). A message without a signature fails with
    /// [`SamlError::SignatureMissing`].
    pub fn verify_signature(&self, trusted_certificates: &[Vec<u8>]) -> Result<(), SamlError> {
        match &self.signature {
            ReceivedSignature::Enveloped(document) => {
                verify_enveloped(document, trusted_certificates)
            }
            ReceivedSignature::Query {
                sig_alg,
                signed_octets,
                signature_base64,
            } => {
                let algorithm = SignatureAlgorithm::from_uri("SigAlg", sig_alg)?;
                let signature = decode_base64_text("Signature", signature_base64)?;
                verify_with_trusted(algorithm, trusted_certificates, signed_octets, &signature)
            }
            ReceivedSignature::None => Err(SamlError::SignatureMissing),
        }
    }
}

/// Decodes an HTTP-POST `SAMLRequest`/`SAMLResponse` form value (already form-decoded):
/// base64 of the XML (bindings §3.5.4); `read` turns the tree into the message.
pub(crate) fn receive_post<M>(
    field: &'static str,
    form_value: &str,
    relay_state: Option<&str>,
    read: impl FnOnce(&Document) -> Result<M, SamlError>,
) -> Result<Received<M>, SamlError> {
    if form_value.len() > POST_VALUE_MAX_BYTES {
        return Err(SamlError::XmlTooLarge {
            size: form_value.len(),
            limit: POST_VALUE_MAX_BYTES,
        });
    }
    let xml = decode_base64_text(field, form_value)?;
    if !starts_like_xml(&xml)
        && inflate(field, &xml, xml_in::MESSAGE_MAX_BYTES).is_ok_and(|xml| starts_like_xml(&xml))
    {
        // Some service providers deflate over HTTP-POST too; say so rather than let the
        // parser report compressed bytes as text that is not UTF-8.
        return Err(SamlError::PostDeflated { field });
    }
    let document = xml_in::parse(&xml, xml_in::MESSAGE_MAX_BYTES)?;
    let relay_state = relay_state.map(check_relay_state).transpose()?;
    let message = read(&document)?;
    Ok(Received {
        message,
        relay_state,
        signature: ReceivedSignature::Enveloped(Box::new(document)),
    })
}

/// Decodes an HTTP-Redirect query string (everything after `?`, exactly as received):
/// `field` (`SAMLRequest` or `SAMLResponse`) is base64 of raw DEFLATE (bindings §3.4.4.1).
pub(crate) fn receive_redirect<M>(
    field: &'static str,
    raw_query: &str,
    read: impl FnOnce(&Document) -> Result<M, SamlError>,
) -> Result<Received<M>, SamlError> {
    let query = RedirectQuery::split(raw_query, field)?;
    let relay_state = query
        .relay_state
        .map(|raw| percent_decode_utf8("RelayState", raw))
        .transpose()?
        .map(|value| check_relay_state(&value))
        .transpose()?;
    if let Some(encoding) = query.encoding {
        if percent_decode_utf8("SAMLEncoding", encoding)? != DEFLATE_ENCODING {
            return Err(SamlError::QueryMalformed {
                reason: format!("SAMLEncoding must be {DEFLATE_ENCODING}"),
            });
        }
    }
    let base64_text = percent_decode_utf8(field, query.message)?;
    let deflated = lenient_base64()
        .decode(base64_text.trim())
        .map_err(|_| SamlError::Base64Invalid { field })?;
    let xml = inflate(field, &deflated, xml_in::MESSAGE_MAX_BYTES)?;
    let document = xml_in::parse(&xml, xml_in::MESSAGE_MAX_BYTES)?;
    let message = read(&document)?;

    let signature = match (query.sig_alg, query.signature) {
        (Some(sig_alg), Some(signature)) => {
            // The signed octets are built from the values as received, URL-encoding and all,
            // in this order, RelayState only when present (bindings §3.4.4.1).
            let mut signed = format!("{field}={}", query.message);
            if let Some(relay_state) = query.relay_state {
                signed.push_str("&RelayState=");
                signed.push_str(relay_state);
            }
            signed.push_str("&SigAlg=");
            signed.push_str(sig_alg);
            ReceivedSignature::Query {
                sig_alg: percent_decode_utf8("SigAlg", sig_alg)?,
                signed_octets: signed.into_bytes(),
                signature_base64: percent_decode_utf8("Signature", signature)?,
            }
        }
        (None, None) => ReceivedSignature::None,
        _ => {
            return Err(SamlError::QueryMalformed {
                reason: "SigAlg and Signature must come together".to_owned(),
            })
        }
    };
    Ok(Received {
        message,
        relay_state,
        signature,
    })
}

/// The parameters of a Redirect-binding query string, raw (still URL-encoded).
struct RedirectQuery<'q> {
    message: &'q str,
    relay_state: Option<&'q str>,
    sig_alg: Option<&'q str>,
    signature: Option<&'q str>,
    encoding: Option<&'q str>,
}

impl<'q> RedirectQuery<'q> {
    /// Splits at `&` and `=`. Parameter names are compared decoded, so that a second
    /// `SAMLRequest` spelled `SAML%52equest` is caught as a duplicate; any duplicate of any
    /// parameter is refused (which of two values was signed would be a guess).
    fn split(raw_query: &'q str, field: &'static str) -> Result<Self, SamlError> {
        if raw_query.len() > QUERY_MAX_BYTES {
            return Err(SamlError::QueryMalformed {
                reason: format!(
                    "{} bytes; at most {QUERY_MAX_BYTES} are accepted",
                    raw_query.len()
                ),
            });
        }
        let raw_query = raw_query.strip_prefix('?').unwrap_or(raw_query);
        let mut seen: Vec<String> = Vec::new();
        let mut query = RedirectQuery {
            message: "",
            relay_state: None,
            sig_alg: None,
            signature: None,
            encoding: None,
        };
        let mut message = None;
        for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
            let (raw_name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = percent_decode(raw_name).map_err(|reason| SamlError::QueryMalformed {
                reason: format!("parameter name: {reason}"),
            })?;
            let name = String::from_utf8_lossy(&name).into_owned();
            if seen.contains(&name) {
                return Err(SamlError::QueryParameterDuplicated {
                    name: name.chars().take(64).collect(),
                });
            }
            if seen.len() >= 64 {
                return Err(SamlError::QueryMalformed {
                    reason: "more than 64 parameters".to_owned(),
                });
            }
            let slot = match name.as_str() {
                n if n == field => &mut message,
                "RelayState" => &mut query.relay_state,
                "SigAlg" => &mut query.sig_alg,
                "Signature" => &mut query.signature,
                "SAMLEncoding" => &mut query.encoding,
                _ => {
                    seen.push(name);
                    continue;
                }
            };
            if raw_name != name {
                // The signed octets name the parameters literally; an encoded name could not
                // have been signed as the sender meant.
                return Err(SamlError::QueryMalformed {
                    reason: format!("the parameter name {name} is URL-encoded"),
                });
            }
            *slot = Some(value);
            seen.push(name);
        }
        query.message = message.ok_or_else(|| SamlError::QueryMalformed {
            reason: format!("the {field} parameter is missing"),
        })?;
        Ok(query)
    }
}

fn check_relay_state(value: &str) -> Result<String, SamlError> {
    if value.len() > RELAY_STATE_MAX_BYTES {
        return Err(SamlError::RelayStateTooLong {
            length: value.len(),
            limit: RELAY_STATE_MAX_BYTES,
        });
    }
    Ok(value.to_owned())
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte.
fn percent_decode(raw: &str) -> Result<Vec<u8>, String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let digit = |at: usize| {
                    bytes
                        .get(at)
                        .and_then(|b| char::from(*b).to_digit(16))
                        .ok_or_else(|| format!("bad percent-encoding at byte {i}"))
                };
                // Two hex digits exactly (u8::from_str_radix would also take "+5").
                let value = digit(i + 1)? * 16 + digit(i + 2)?;
                out.push(u8::try_from(value).map_err(|_| "unreachable: two hex digits")?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    Ok(out)
}

fn percent_decode_utf8(field: &'static str, raw: &str) -> Result<String, SamlError> {
    let bytes = percent_decode(raw).map_err(|reason| SamlError::QueryMalformed {
        reason: format!("{field}: {reason}"),
    })?;
    String::from_utf8(bytes).map_err(|_| SamlError::QueryMalformed {
        reason: format!("{field} is not UTF-8 after URL-decoding"),
    })
}

/// Percent-encodes all but the RFC 3986 §2.3 unreserved characters.
pub(crate) fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Whether `bytes` begin as an XML document does: `<` after an optional UTF-8 byte order mark
/// and XML white space.
fn starts_like_xml(bytes: &[u8]) -> bool {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    bytes
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .is_some_and(|&b| b == b'<')
}

/// Raw DEFLATE (RFC 1951) decoding that stops at `limit` bytes of output: a few kilobytes
/// can inflate to gigabytes.
fn inflate(field: &'static str, deflated: &[u8], limit: usize) -> Result<Vec<u8>, SamlError> {
    let mut out = Vec::new();
    let limit_plus_one = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    flate2::read::DeflateDecoder::new(deflated)
        .take(limit_plus_one)
        .read_to_end(&mut out)
        .map_err(|e| SamlError::InflateFailed {
            field,
            reason: e.to_string(),
        })?;
    if out.len() > limit {
        return Err(SamlError::InflatedTooLarge { field, limit });
    }
    Ok(out)
}

/// Raw DEFLATE (RFC 1951) encoding, for the Redirect binding.
pub(crate) fn deflate(data: &[u8]) -> Result<Vec<u8>, SamlError> {
    let mut encoder =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail but for allocation; the errors are mapped anyway.
    encoder
        .write_all(data)
        .and_then(|()| encoder.finish())
        .map_err(|_| SamlError::Signing)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_root(document: &Document) -> Result<String, SamlError> {
        Ok(document.root.local_name.clone())
    }

    fn redirect_value(xml: &str) -> String {
        percent_encode(
            &base64::engine::general_purpose::STANDARD.encode(deflate(xml.as_bytes()).unwrap()),
        )
    }

    #[test]
    fn redirect_query_is_split_decoded_and_signed_octets_kept_raw() {
        let value = redirect_value("<a/>");
        let query =
            format!("SigAlg=x%3Ay&SAMLRequest={value}&other=1&RelayState=a%20b&Signature=AAAA");
        let received = receive_redirect("SAMLRequest", &query, read_root).unwrap();
        assert_eq!(received.message(), "a");
        assert_eq!(received.relay_state(), Some("a b"));
        match &received.signature {
            ReceivedSignature::Query {
                sig_alg,
                signed_octets,
                ..
            } => {
                assert_eq!(sig_alg, "x:y");
                assert_eq!(
                    String::from_utf8_lossy(signed_octets),
                    format!("SAMLRequest={value}&RelayState=a%20b&SigAlg=x%3Ay")
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn redirect_query_refusals() {
        let value = redirect_value("<a/>");
        let cases = [
            (
                format!("SAMLRequest={value}&SAMLRequest={value}"),
                "saml-query-parameter-duplicated",
            ),
            (
                format!("SAMLRequest={value}&SAML%52equest={value}"),
                "saml-query-parameter-duplicated",
            ),
            (
                format!("SAMLRequest={value}&RelayState=1&RelayState=2"),
                "saml-query-parameter-duplicated",
            ),
            (
                format!("SAMLRequest={value}&RelayState={}", "x".repeat(81)),
                "saml-relay-state-too-long",
            ),
            (
                format!("SAMLRequest={value}&SigAlg=a"),
                "saml-query-malformed",
            ),
            ("RelayState=x".to_owned(), "saml-query-malformed"),
            ("SAMLRequest=%zz".to_owned(), "saml-query-malformed"),
            ("SAMLRequest=%+5".to_owned(), "saml-query-malformed"),
            ("SAMLRequest=%4".to_owned(), "saml-query-malformed"),
            ("SAMLRequest=!!!".to_owned(), "saml-base64-invalid"),
            ("SAMLRequest=AAAA".to_owned(), "saml-inflate-failed"),
        ];
        for (query, code) in cases {
            let error = receive_redirect("SAMLRequest", &query, read_root).unwrap_err();
            assert_eq!(error.code(), code, "{query}: {error}");
        }
    }

    /// SAML bindings §3.5.4: HTTP-POST carries base64 of the XML itself. A deflated value is
    /// refused with a code that says so, not as XML that is not UTF-8.
    #[test]
    fn a_deflated_post_message_is_told_it_is_deflated() {
        let xml = "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\"/>";
        let engine = base64::engine::general_purpose::STANDARD;
        let deflated = engine.encode(deflate(xml.as_bytes()).unwrap());
        let error = receive_post("SAMLRequest", &deflated, None, read_root).unwrap_err();
        assert_eq!(error.code(), "saml-post-deflated", "{error}");
        assert!(error.to_string().contains("HTTP-Redirect"), "{error}");
        // The same message uncompressed, with a byte order mark and leading white space, is
        // read; bytes that are neither XML nor DEFLATE keep the parser's own answer.
        for plain in [xml.to_owned(), format!("\u{feff}\n  {xml}")] {
            assert!(receive_post("SAMLRequest", &engine.encode(plain), None, read_root).is_ok());
        }
        let garbage = engine.encode([0xff, 0xfe, 0x00, 0x01]);
        let error = receive_post("SAMLRequest", &garbage, None, read_root).unwrap_err();
        assert_ne!(error.code(), "saml-post-deflated", "{error}");
    }

    #[test]
    fn deflate_bomb_is_cut_off() {
        let bomb = deflate(&vec![b' '; 20 * 1024 * 1024]).unwrap();
        assert!(bomb.len() < 100 * 1024);
        let query = format!(
            "SAMLRequest={}",
            percent_encode(&base64::engine::general_purpose::STANDARD.encode(bomb))
        );
        let error = receive_redirect("SAMLRequest", &query, read_root).unwrap_err();
        assert_eq!(error.code(), "saml-inflated-too-large");
    }
}
