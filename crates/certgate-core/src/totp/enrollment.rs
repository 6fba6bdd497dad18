//! What the enrollment page shows: the otpauth URI (Google Authenticator's Key Uri Format,
//! which every authenticator app reads) and the same URI as a QR code in inline SVG.

use qrcode::render::svg;
use qrcode::QrCode;

use super::secret::{TotpSecret, PERIOD_SECONDS};

/// `otpauth://totp/{issuer}:{account}?secret=…&issuer=…&algorithm=…&digits=…&period=30`.
///
/// The issuer and account are percent-encoded (RFC 3986: everything but unreserved
/// characters), in the label and in the parameters alike, so a space, `@`, `&`, `#` or a
/// colon in either cannot change how the URI parses; the colon between them is the only
/// literal one. The issuer is repeated as a parameter because apps prefer it over the label
/// prefix.
pub fn otpauth_uri(secret: &TotpSecret, issuer: &str, account: &str) -> String {
    let issuer = percent_encode(issuer);
    format!(
        "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}\
         &algorithm={algorithm}&digits={digits}&period={PERIOD_SECONDS}",
        account = percent_encode(account),
        secret = &*secret.to_base32(),
        algorithm = secret.algorithm().as_str(),
        digits = secret.digits().count(),
    )
}

/// `text` as a QR code in an `<svg>` element ready to inline in HTML (no XML declaration),
/// with `role="img"` and an `aria-label` for screen readers. `None` when the text does not
/// fit in a QR code (about 2,300 bytes at error correction level M).
pub fn qr_svg(text: &str) -> Option<String> {
    let code = QrCode::new(text.as_bytes()).ok()?;
    let image = code
        .render::<svg::Color<'_>>()
        .min_dimensions(240, 240)
        .build();
    let start = image.find("<svg")?;
    Some(image[start..].replacen(
        "<svg ",
        "<svg role=\"img\" aria-label=\"QR code to scan with your authenticator app\" ",
        1,
    ))
}

/// RFC 3986 §2.1 percent-encoding of everything but the unreserved characters (§2.3).
fn percent_encode(text: &str) -> String {
    use std::fmt::Write as _;
    text.bytes()
        .fold(String::with_capacity(text.len()), |mut out, byte| {
            if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
                out.push(char::from(byte));
            } else {
                let _ = write!(out, "%{byte:02X}");
            }
            out
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::totp::secret::{Digits, TotpAlgorithm};

    fn rfc_secret(algorithm: TotpAlgorithm) -> TotpSecret {
        TotpSecret::from_key(b"12345678901234567890", algorithm, Digits::Six).expect("key")
    }

    #[test]
    fn otpauth_uri_is_exact_for_a_fixed_secret() {
        assert_eq!(
            otpauth_uri(
                &rfc_secret(TotpAlgorithm::Sha1),
                "Contoso Sign-in",
                "alice@contoso.com"
            ),
            "otpauth://totp/Contoso%20Sign-in:alice%40contoso.com\
             ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Contoso%20Sign-in\
             &algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(
            otpauth_uri(&rfc_secret(TotpAlgorithm::Sha256), "certgate", "bob"),
            "otpauth://totp/certgate:bob?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=certgate&algorithm=SHA256&digits=6&period=30"
        );
    }

    #[test]
    fn otpauth_uri_encodes_characters_that_would_change_its_meaning() {
        let uri = otpauth_uri(&rfc_secret(TotpAlgorithm::Sha1), "A&B: Ltd", "x#y?z/é+");
        assert!(
            uri.starts_with("otpauth://totp/A%26B%3A%20Ltd:x%23y%3Fz%2F%C3%A9%2B?secret="),
            "{uri}"
        );
        assert!(uri.contains("&issuer=A%26B%3A%20Ltd&"), "{uri}");
        assert_eq!(
            uri.matches(':').count(),
            2,
            "only the scheme's and the label's colons"
        );
    }

    #[test]
    fn qr_svg_is_an_inline_svg_element() {
        let uri = otpauth_uri(
            &rfc_secret(TotpAlgorithm::Sha1),
            "Contoso Sign-in",
            "alice@contoso.com",
        );
        let svg = qr_svg(&uri).expect("fits");
        assert!(
            svg.starts_with("<svg role=\"img\" aria-label="),
            "{}",
            &svg[..80]
        );
        assert!(svg.contains("<path"));
        assert!(svg.ends_with("</svg>"));
        assert!(!svg.contains("<?xml"));
        assert!(svg.len() > 1000);
    }

    #[test]
    fn qr_svg_refuses_text_too_long_for_a_qr_code() {
        assert!(qr_svg(&"x".repeat(4000)).is_none());
    }
}
