//! One refusal for every listener: a status, a stable reason code, a message a person can act
//! on, what to do next and a correlation ID. A handler returns a [`Refusal`]; the layer
//! [`answer_by_accept`], on every listener, answers it as certgate's page or, when the client
//! asked for JSON (`Accept: application/json`), as JSON, and counts it in `/metrics` by code.
//! The admin API answers JSON only (Graph's error shape); its errors are counted by the same
//! layer through [`Refused`].

use std::borrow::Cow;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;

use crate::metrics::Metrics;

/// The code every listener answers a store outage with.
pub(crate) const STORE_UNAVAILABLE: &str = "store-unavailable";

/// A refused request.
#[derive(Clone, Debug)]
pub(crate) struct Refusal {
    /// The HTTP status of the answer.
    pub status: StatusCode,
    /// The stable reason code, shown on the page, in the JSON, the log and `/metrics`.
    pub code: Cow<'static, str>,
    /// What went wrong, in words the person who sees it can act on.
    pub message: Cow<'static, str>,
    /// What the person should do about it, when the message does not already say so.
    pub next_step: Option<Cow<'static, str>>,
    /// The page's heading.
    pub heading: &'static str,
    /// Shown to the person and written to the server log, so that a support call finds the
    /// line.
    pub correlation: String,
    /// A link the page offers (href, label), for example back to a form.
    pub link: Option<(&'static str, &'static str)>,
    /// What only the server log gets (a database error's text, say).
    pub log_detail: Option<String>,
}

impl Refusal {
    /// A refusal with a new correlation ID.
    pub(crate) fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Refusal {
        Refusal {
            status,
            code: code.into(),
            message: message.into(),
            next_step: None,
            heading: "Request refused",
            correlation: certgate_core::signin::correlation_id(),
            link: None,
            log_detail: None,
        }
    }

    /// 503 `store-unavailable`: the database did not answer (in time). `detail` goes to the
    /// server log, not to the client.
    pub(crate) fn store_unavailable(detail: &dyn std::fmt::Display) -> Refusal {
        let mut refusal = Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            STORE_UNAVAILABLE,
            "certgate cannot reach its database right now. Try again in a minute; if it keeps happening, tell your administrator the correlation ID.",
        )
        .heading("Service unavailable");
        refusal.log_detail = Some(detail.to_string());
        refusal
    }

    /// 503 for a store error met while answering: `store-unavailable` for an outage, the
    /// error's own code otherwise (`store-corrupt`, ...). The detail goes to the server log.
    pub(crate) fn of_store(error: &certgate_core::store::StoreError) -> Refusal {
        if let certgate_core::store::StoreError::Unavailable { .. } = error {
            return Refusal::store_unavailable(error);
        }
        let mut refusal = Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            error.code(),
            "certgate cannot answer this right now because of a problem with its database. Tell your administrator the correlation ID.",
        )
        .heading("Service unavailable");
        refusal.log_detail = Some(error.to_string());
        refusal
    }

    /// Replaces the page's heading ("Request refused").
    pub(crate) fn heading(mut self, heading: &'static str) -> Refusal {
        self.heading = heading;
        self
    }

    /// Adds what the person should do about it.
    pub(crate) fn next_step(mut self, next_step: impl Into<Cow<'static, str>>) -> Refusal {
        self.next_step = Some(next_step.into());
        self
    }

    /// The correlation ID of the sign-in this refusal ends (instead of a new one).
    pub(crate) fn correlation(mut self, correlation: impl Into<String>) -> Refusal {
        self.correlation = correlation.into();
        self
    }

    /// Adds a link to the page, for example back to the form.
    pub(crate) fn link(mut self, href: &'static str, label: &'static str) -> Refusal {
        self.link = Some((href, label));
        self
    }

    /// The server log's line: every refusal with its code and correlation ID; the server's
    /// own failures (5xx) as errors, with what only the log may see.
    fn log(&self) {
        let detail = self.log_detail.as_deref().unwrap_or("");
        if self.status.is_server_error() {
            tracing::error!(code = %self.code, correlation = %self.correlation, status = self.status.as_u16(), message = %self.message, detail, "request refused");
        } else {
            tracing::info!(code = %self.code, correlation = %self.correlation, status = self.status.as_u16(), message = %self.message, detail, "request refused");
        }
    }

    fn html(&self) -> Response {
        let mut response = crate::pages::render(&crate::pages::RefusalPage {
            title: self.heading,
            message: &self.message,
            next_step: self.next_step.as_deref(),
            code: &self.code,
            correlation: &self.correlation,
            link: self.link,
        });
        *response.status_mut() = self.status;
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }

    fn json(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "result": "failure",
            "code": self.code,
            "message": self.message,
            "correlationId": self.correlation,
        });
        if let Some(step) = &self.next_step {
            body["nextStep"] = serde_json::Value::from(step.as_ref());
        }
        body
    }
}

impl Refusal {
    /// The refusal answered as `headers` ask (page or JSON) here, for code that runs outside
    /// the routers that [`answer_by_accept`] wraps (connection-level limits).
    pub(crate) fn answer(self, headers: &HeaderMap) -> Response {
        if !wants_json(headers) {
            return self.into_response();
        }
        self.log();
        let mut response = (
            self.status,
            [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
            axum::Json(self.json()),
        )
            .into_response();
        response.extensions_mut().insert(Refused(self.code));
        response
    }
}

impl IntoResponse for Refusal {
    /// The page; [`answer_by_accept`] turns it into JSON when the client asked for JSON.
    fn into_response(self) -> Response {
        self.log();
        let mut response = self.html();
        response.extensions_mut().insert(Refused(self.code.clone()));
        response.extensions_mut().insert(Arc::new(self));
        response
    }
}

/// The reason code of a refused response, for the layer to count.
#[derive(Clone, Debug)]
pub(crate) struct Refused(pub Cow<'static, str>);

/// Whether the client prefers JSON to HTML: `application/json` (or `application/*`) named
/// with a quality above zero and at least that of `text/html` (or `text/*`, `*/*`). A browser
/// (`text/html,…,*/*;q=0.8`) gets the page; `curl` without `Accept` too.
pub(crate) fn wants_json(headers: &HeaderMap) -> bool {
    let mut json = 0.0_f32;
    let mut html = 0.0_f32;
    for value in headers.get_all(header::ACCEPT) {
        let Ok(value) = value.to_str() else { continue };
        for range in value.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let quality = parts
                .filter_map(|p| p.trim().strip_prefix("q=").map(str::trim))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0)
                .clamp(0.0, 1.0);
            match media.as_str() {
                "application/json" | "application/*" => json = json.max(quality),
                "text/html" | "text/*" | "*/*" => html = html.max(quality),
                _ => {}
            }
        }
    }
    json > 0.0 && json >= html
}

/// Answers refusals as JSON to clients that asked for JSON, and counts every refusal (and
/// admin API error) in the metrics by reason code. On every listener.
pub(crate) fn answer_by_accept(router: Router, metrics: Metrics) -> Router {
    router.layer(axum::middleware::from_fn(
        move |request: Request, next: Next| {
            let metrics = metrics.clone();
            async move {
                let json = wants_json(request.headers());
                let response = next.run(request).await;
                if let Some(Refused(code)) = response.extensions().get::<Refused>() {
                    metrics.refused(code);
                }
                match response.extensions().get::<Arc<Refusal>>().cloned() {
                    Some(refusal) if json => {
                        let (mut parts, _) = response.into_parts();
                        parts.headers.remove(header::CONTENT_LENGTH);
                        parts.headers.insert(
                            header::CONTENT_TYPE,
                            HeaderValue::from_static("application/json"),
                        );
                        Response::from_parts(
                            parts,
                            axum::body::Body::from(refusal.json().to_string()),
                        )
                    }
                    _ => response,
                }
            }
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_str(value).expect("header"),
        );
        headers
    }

    #[test]
    fn json_only_when_asked_for_at_least_as_much_as_html() {
        assert!(wants_json(&accept("application/json")));
        assert!(wants_json(&accept("application/json, */*;q=0.1")));
        assert!(wants_json(&accept("text/html;q=0.5, application/json")));
        assert!(!wants_json(&accept(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        )));
        assert!(!wants_json(&accept("*/*")));
        assert!(!wants_json(&HeaderMap::new()));
        assert!(!wants_json(&accept("application/json;q=0")));
        assert!(!wants_json(&accept("text/html, application/json;q=0.5")));
    }

    #[tokio::test]
    async fn the_page_escapes_what_it_shows_and_keeps_the_refusal_for_json() {
        let response = Refusal::new(StatusCode::FORBIDDEN, "x-code", "<script>").into_response();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let refusal = response
            .extensions()
            .get::<Arc<Refusal>>()
            .expect("kept")
            .clone();
        assert_eq!(refusal.json()["code"], "x-code");
        assert_eq!(refusal.json()["message"], "<script>");
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        let body = String::from_utf8_lossy(&body);
        assert!(body.contains("&#60;script&#62;"), "{body}");
        assert!(!body.contains("<script>"), "{body}");
        assert!(body.contains("<code>x-code</code>"), "{body}");
    }
}
