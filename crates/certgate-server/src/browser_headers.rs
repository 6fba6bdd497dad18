//! The headers every response certgate writes itself carries, so that a browser treats its
//! pages as what they are: sign-in pages that must not be framed, sniffed, leaked through
//! `Referer`, cached, or run script that certgate did not write.
//!
//! Applied as a layer to every router of the plain HTTP, certificate sign-in and web
//! listeners, and to the mail front door's own refusal pages — never to the responses the
//! front door proxies (the mail server owns those pages and their policy). A handler that
//! sets one of these headers itself keeps its value (the auto-posting form's policy allows
//! its script, the JWKS is cacheable).

use std::sync::LazyLock;

use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use axum::response::Response;
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// The one stylesheet of certgate's pages (`templates/layout.html`), inline and allowed
/// by its hash: no page needs a style from anywhere else, and no injected style runs.
pub(crate) const PAGE_STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5}dt{font-weight:600}code{word-break:break-all}";

/// Where the web listener serves the script of the auto-posting federation form.
pub(crate) const AUTOPOST_SCRIPT_PATH: &str = "/static/autopost.js";

/// The script: submits the page's form (a button stays for browsers without scripts).
pub(crate) const AUTOPOST_SCRIPT: &str = "document.getElementById(\"autopost\").submit();\n";

/// HSTS (RFC 6797) for one year, without `includeSubDomains`: certgate does not own the
/// other hosts of its domain (AD FS's default).
const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000";

/// `style-src` for [`PAGE_STYLE`]: CSP Level 3 §8.4 hash source of the `<style>` content.
fn style_source() -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, PAGE_STYLE.as_bytes());
    format!("'sha256-{}'", STANDARD.encode(digest.as_ref()))
}

/// The policy of every page: nothing loads or runs but certgate's own stylesheet and inline
/// images (the QR code is inline SVG, which needs nothing); no page may be framed
/// (`frame-ancestors`, CSP Level 2 §7.7). There is no `form-action`: a sign-in ends in a form
/// post or a redirect to the application, wherever it is, and Chromium applies
/// `form-action` to the redirect after a form post too.
static PAGE_POLICY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "default-src 'none'; style-src {}; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'",
        style_source()
    )
});

/// The policy of the auto-posting form: [`PAGE_POLICY`] with certgate's own script.
static AUTOPOST_POLICY: LazyLock<String> =
    LazyLock::new(|| format!("{}; script-src 'self'", *PAGE_POLICY));

/// The Content-Security-Policy of certgate's pages.
pub(crate) fn page_policy() -> &'static str {
    &PAGE_POLICY
}

/// The Content-Security-Policy of the auto-posting form (allows `/static/autopost.js`).
pub(crate) fn autopost_policy() -> &'static str {
    &AUTOPOST_POLICY
}

/// Which listener a response leaves from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Listener {
    /// The plain HTTP listener (CRLs, CA certificates, health, metrics): published files
    /// stay cacheable, and HSTS means nothing over HTTP (RFC 6797 §8.1).
    PlainHttp,
    /// An HTTPS listener: HSTS, and nothing cached unless the handler says so.
    Https,
}

fn insert_absent(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if !headers.contains_key(&name) {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    }
}

/// Adds the hardening headers that `headers` does not set already.
pub(crate) fn apply(headers: &mut HeaderMap, listener: Listener) {
    insert_absent(headers, header::CONTENT_SECURITY_POLICY, page_policy());
    // For browsers without CSP Level 2 (RFC 7034).
    insert_absent(headers, header::X_FRAME_OPTIONS, "DENY");
    insert_absent(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    insert_absent(headers, header::REFERRER_POLICY, "no-referrer");
    if listener == Listener::Https {
        insert_absent(
            headers,
            header::STRICT_TRANSPORT_SECURITY,
            STRICT_TRANSPORT_SECURITY,
        );
        // Sign-in, code and device pages, and API answers with secrets: never stored. A
        // handler that means to be cached (the JWKS, the static script) says so itself.
        insert_absent(headers, header::CACHE_CONTROL, "no-store");
    }
}

/// `router` with the headers on every response.
pub(crate) fn harden(router: Router, listener: Listener) -> Router {
    router.layer(axum::middleware::map_response(
        move |mut response: Response| async move {
            apply(response.headers_mut(), listener);
            response
        },
    ))
}

/// `GET /static/autopost.js`.
pub(crate) async fn autopost_script() -> Response {
    use axum::response::IntoResponse;
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            ),
        ],
        AUTOPOST_SCRIPT,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_policy_allows_no_script_and_no_framing() {
        let policy = page_policy();
        assert!(policy.starts_with("default-src 'none';"), "{policy}");
        assert!(!policy.contains("script-src"), "{policy}");
        assert!(!policy.contains("unsafe-inline"), "{policy}");
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert!(autopost_policy().ends_with("script-src 'self'"));
        assert!(!autopost_policy().contains("unsafe-inline"));
    }

    #[test]
    fn the_style_hash_is_that_of_the_page_style() {
        // The hash of the style as the page writes it: the layout must inline exactly PAGE_STYLE.
        use askama::Template as _;
        let page = crate::pages::MessagePage {
            title: "t",
            paragraphs: &["b"],
            alert: false,
            link: None,
        }
        .render()
        .expect("renders");
        assert!(
            page.contains(&format!("<style>{PAGE_STYLE}</style>")),
            "{page}"
        );
    }

    #[test]
    fn handler_values_are_kept_and_hsts_is_https_only() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("max-age=300"),
        );
        apply(&mut headers, Listener::Https);
        assert_eq!(headers[header::CACHE_CONTROL], "max-age=300");
        assert_eq!(
            headers[header::STRICT_TRANSPORT_SECURITY],
            "max-age=31536000"
        );
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
        let mut plain = HeaderMap::new();
        apply(&mut plain, Listener::PlainHttp);
        assert!(!plain.contains_key(header::STRICT_TRANSPORT_SECURITY));
        assert!(!plain.contains_key(header::CACHE_CONTROL));
        assert_eq!(plain[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }
}
