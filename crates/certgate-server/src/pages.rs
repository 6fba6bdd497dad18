//! certgate's own pages, from the templates in `templates/`: checked when the crate compiles
//! and HTML-escaped by default (a value is inserted unescaped only where the template says
//! `|safe`: the page style and the QR code certgate draws itself). One layout, one form field
//! for authenticator codes. The pages' Content-Security-Policy allows the layout's inline
//! style by its hash (`browser_headers`).

use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

/// A rendered page; a template that fails to render (it cannot, short of a formatting error
/// in a value) answers 500 with a plain message rather than a half page.
pub(crate) fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(%error, "a page did not render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
                "certgate could not write this page (reason code page-render-failed). Try again; if it persists, tell your administrator.",
            )
                .into_response()
        }
    }
}

/// A refusal: the message, what to do, the reason code and the correlation ID.
#[derive(Template)]
#[template(path = "refusal.html")]
pub(crate) struct RefusalPage<'a> {
    pub title: &'a str,
    pub message: &'a str,
    pub next_step: Option<&'a str>,
    pub code: &'a str,
    pub correlation: &'a str,
    pub link: Option<(&'a str, &'a str)>,
}

/// Paragraphs of text and an optional link.
#[derive(Template)]
#[template(path = "message.html")]
pub(crate) struct MessagePage<'a> {
    pub title: &'a str,
    pub paragraphs: &'a [&'a str],
    /// The first paragraph is a problem to announce (`role="alert"`).
    pub alert: bool,
    pub link: Option<(&'a str, &'a str)>,
}

/// `/certauth` without an application: what the certificate signed in as.
#[derive(Template)]
#[template(path = "certificate_accepted.html")]
pub(crate) struct CertificateAcceptedPage<'a> {
    pub title: &'a str,
    pub display_name: &'a str,
    pub upn: &'a str,
    pub subject: &'a str,
    pub issuer: &'a str,
    pub serial: &'a str,
    pub strength: &'a str,
    pub correlation: &'a str,
}

/// The start of a sign-in for an application: what happens next.
#[derive(Template)]
#[template(path = "signin_start.html")]
pub(crate) struct SignInStartPage<'a> {
    pub title: &'a str,
    pub application: &'a str,
    /// The certificate sign-in listener's `/certauth?flow=…`.
    pub location: &'a str,
}

/// The authenticator code of a sign-in.
#[derive(Template)]
#[template(path = "totp.html")]
pub(crate) struct TotpPage<'a> {
    pub title: &'a str,
    pub flow: &'a str,
    pub upn: &'a str,
    pub problem: Option<&'a str>,
}

/// The domain password after the certificate.
#[derive(Template)]
#[template(path = "domain_password.html")]
pub(crate) struct DomainPasswordPage<'a> {
    pub title: &'a str,
    pub flow: &'a str,
    pub upn: &'a str,
    pub problem: Option<&'a str>,
}

/// The key of a new authenticator (shown once, at the first step of an enrollment).
pub(crate) struct NewKey<'a> {
    /// An SVG certgate drew from the key: inserted as it is.
    pub qr_svg: &'a str,
    pub secret: &'a str,
    pub otpauth_uri: &'a str,
}

/// Setting up an authenticator app: the key, then its first code (or the code again).
#[derive(Template)]
#[template(path = "totp_enroll.html")]
pub(crate) struct TotpEnrollPage<'a> {
    pub title: &'a str,
    pub flow: &'a str,
    pub key: Option<NewKey<'a>>,
    pub problem: Option<&'a str>,
}

/// "Continue as …?" before the code goes to the application.
#[derive(Template)]
#[template(path = "confirm.html")]
pub(crate) struct ConfirmPage<'a> {
    pub title: &'a str,
    pub flow: &'a str,
    pub application: &'a str,
    pub display_name: &'a str,
    pub upn: &'a str,
}

/// The Temporary Access Pass that allows a first second-factor enrollment.
#[derive(Template)]
#[template(path = "access_pass.html")]
pub(crate) struct AccessPassPage<'a> {
    pub title: &'a str,
    pub flow: &'a str,
    pub upn: &'a str,
    /// Reason code and message of the refusal the page answers.
    pub problem: Option<(&'a str, &'a str)>,
}

/// `/my/device`: the device set-up form.
#[derive(Template)]
#[template(path = "device_form.html")]
pub(crate) struct DeviceFormPage<'a> {
    pub title: &'a str,
    pub action: &'a str,
    pub display_name: &'a str,
    pub upn: &'a str,
    pub eas_host: &'a str,
    pub min_password_chars: usize,
    pub ask_totp_code: bool,
    pub correlation: &'a str,
}

/// The form a browser posts on to a relying party (SAML HTTP-POST, WS-Fed); no layout, its
/// own Content-Security-Policy (`browser_headers::autopost_policy`).
#[derive(Template)]
#[template(path = "autopost.html")]
pub(crate) struct AutoPostPage<'a> {
    pub action: &'a str,
    pub fields: &'a [(&'a str, &'a str)],
}

/// The demo application's home page.
#[derive(Template)]
#[template(path = "demo_home.html")]
pub(crate) struct DemoHomePage<'a> {
    pub title: &'a str,
}

/// The demo application after a sign-in: the ID token's claims.
#[derive(Template)]
#[template(path = "demo_signed_in.html")]
pub(crate) struct DemoSignedInPage<'a> {
    pub title: &'a str,
    pub upn: &'a str,
    pub claims: Vec<(String, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_the_style_is_the_hashed_one() {
        let html = RefusalPage {
            title: "<b>",
            message: "<script>alert(1)</script>",
            next_step: Some("\"quoted\" & 'single'"),
            code: "x-code",
            correlation: "c",
            link: Some(("/back?a=1&b=2", "Back")),
        }
        .render()
        .expect("renders");
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&#60;script&#62;"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(html.contains("&#34;quoted&#34; &#38;"), "{html}");
        assert!(html.contains("href=\"/back?a=1&#38;b=2\""), "{html}");
        assert!(html.contains(&format!(
            "<style>{}</style>",
            crate::browser_headers::PAGE_STYLE
        )));
    }

    #[test]
    fn every_code_field_is_the_same_field() {
        let verify = TotpPage {
            title: "t",
            flow: "f",
            upn: "u",
            problem: None,
        }
        .render()
        .expect("renders");
        let enroll = TotpEnrollPage {
            title: "t",
            flow: "f",
            key: None,
            problem: Some("p"),
        }
        .render()
        .expect("renders");
        let field = "<input id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" pattern=\"[0-9]{6,8}\" maxlength=\"8\" required autofocus>";
        assert!(verify.contains(field), "{verify}");
        assert!(enroll.contains(field), "{enroll}");
        assert!(verify.contains("<input type=\"hidden\" name=\"flow\" value=\"f\">"));
    }
}
