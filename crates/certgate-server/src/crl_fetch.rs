//! The HTTP adapter for the [`CrlFetcher`] port: downloads a CA's CRL distribution point with
//! reqwest, enforcing the size and time limits while the body streams in.
//!
//! The limits exist because a CRL URL is a remote party's answer that certgate waits on: a
//! server that announces or sends more than the limit is cut off before the body is buffered,
//! and one that drips bytes slowly is cut off by a single deadline covering connect, headers
//! and body alike (a per-read timeout would let it stretch the download forever).

use std::time::Duration;

use certgate_core::crl_fetch::{
    Conditional, CrlFetcher, FetchError, FetchLimits, FetchOutcome, FetchProgress,
};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Client, StatusCode, Url};

use crate::outbound_http::{client_builder, error_chain};

/// Downloads CRLs over http:// and https:// (TLS verified against the platform's roots).
///
/// Never uses a proxy from the environment: the CRL URLs come from trusted-CA records, and a
/// proxy variable set for other tools must not silently reroute revocation data. Redirects are
/// never followed, for the same reason: the URL on the CA record is the only address fetched,
/// and a 3xx is refused as [`FetchError::Redirected`] naming its Location.
#[derive(Clone, Debug)]
pub struct HttpCrlFetcher {
    client: Client,
}

impl HttpCrlFetcher {
    /// Fails only when the HTTP client cannot be built (the TLS backend or the platform's
    /// certificate verifier failed to initialise). The port has no variant for that, so it is
    /// reported as every CRL URL being unreachable, which is what it amounts to.
    pub fn new() -> Result<Self, FetchError> {
        let client = client_builder()
            .build()
            .map_err(|error| FetchError::Unreachable {
                url: "any CRL URL".into(),
                detail: format!(
                    "the HTTP client could not be set up ({})",
                    error_chain(&error)
                ),
            })?;
        Ok(HttpCrlFetcher { client })
    }

    /// `shown` is the URL as configured, the one every error and progress report names.
    async fn download(
        &self,
        shown: &str,
        url: Url,
        conditional: &Conditional,
        limits: FetchLimits,
        progress: &dyn FetchProgress,
        started: &mut bool,
    ) -> Result<FetchOutcome, FetchError> {
        let shown = shown.to_owned();
        let mut response = self
            .client
            .get(url)
            .headers(conditional_headers(conditional))
            .send()
            .await
            .map_err(|error| send_error(&shown, error))?;

        let status = response.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(FetchOutcome::NotModified);
        }
        if status.is_redirection() {
            if let Some(location) = redirect_target(&response) {
                return Err(FetchError::Redirected {
                    url: shown,
                    status: status.as_u16(),
                    location,
                });
            }
        }
        if status != StatusCode::OK {
            return Err(FetchError::HttpStatus {
                url: shown,
                status: status.as_u16(),
            });
        }

        let headers = response.headers();
        let etag = header_text(headers, header::ETAG);
        let last_modified = header_text(headers, header::LAST_MODIFIED);
        let content_type = header_text(headers, header::CONTENT_TYPE);
        let announced = response.content_length();
        if let Some(size) = announced.filter(|&size| size > limits.max_bytes) {
            return Err(FetchError::TooLarge {
                url: shown,
                limit_bytes: limits.max_bytes,
                size,
            });
        }

        progress.started(&shown, announced);
        *started = true;
        // One buffer of the announced length (already checked against the limit), so that a
        // 150 MB CRL is never regrown and copied on the way in; what the remote party
        // announces but does not send is address space the kernel never backs.
        let capacity = announced.unwrap_or(0).min(limits.max_bytes);
        let mut body = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
        loop {
            let chunk = match response.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                // hyper reports a connection closed before the announced length (or before the
                // last chunk of a chunked body) as a body error: the download ended early.
                Err(_) => {
                    return Err(FetchError::Truncated {
                        url: shown,
                        received: body.len() as u64,
                        expected: announced,
                    })
                }
            };
            let size = body.len() as u64 + chunk.len() as u64;
            if size > limits.max_bytes {
                return Err(FetchError::TooLarge {
                    url: shown,
                    limit_bytes: limits.max_bytes,
                    size,
                });
            }
            body.extend_from_slice(&chunk);
            progress.advanced(chunk.len() as u64);
        }
        if let Some(expected) = announced.filter(|&expected| (body.len() as u64) < expected) {
            return Err(FetchError::Truncated {
                url: shown,
                received: body.len() as u64,
                expected: Some(expected),
            });
        }

        // A body without a Content-Length grew by doubling: give back the unused tail.
        body.shrink_to_fit();
        Ok(FetchOutcome::Fetched {
            body,
            etag,
            last_modified,
            content_type,
        })
    }
}

impl CrlFetcher for HttpCrlFetcher {
    /// Calls `progress.started` once the 200 response's headers are in, `advanced` per body
    /// chunk, and `finished` once the download is over after `started`, however it ended
    /// (success, limit, timeout or truncation), so a progress display can always clear itself.
    async fn fetch(
        &self,
        url: &str,
        conditional: &Conditional,
        limits: FetchLimits,
        progress: &dyn FetchProgress,
    ) -> Result<FetchOutcome, FetchError> {
        let parsed = allowed_url(url)?;
        let mut started = false;
        let outcome = tokio::time::timeout(
            limits.max_duration,
            self.download(url, parsed, conditional, limits, progress, &mut started),
        )
        .await;
        if started {
            progress.finished();
        }
        outcome.unwrap_or_else(|_elapsed| {
            Err(FetchError::Timeout {
                url: url.to_owned(),
                limit_seconds: whole_seconds_rounded_up(limits.max_duration),
            })
        })
    }
}

fn is_allowed_scheme(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https")
}

fn allowed_url(url: &str) -> Result<Url, FetchError> {
    Url::parse(url)
        .ok()
        .filter(is_allowed_scheme)
        .ok_or_else(|| FetchError::UrlNotAllowed {
            url: url.to_owned(),
        })
}

/// Where a 3xx points, for the administrator to check and configure instead: the Location
/// resolved against the requested URL (a `Url` prints percent-encoded, so nothing the remote
/// party sent reaches a terminal raw), or the header as sent, escaped, when it does not resolve.
fn redirect_target(response: &reqwest::Response) -> Option<String> {
    let raw = response.headers().get(header::LOCATION)?;
    let text = String::from_utf8_lossy(raw.as_bytes());
    Some(match response.url().join(&text) {
        Ok(target) => target.to_string(),
        Err(_) => text.escape_default().to_string(),
    })
}

/// The validators of the last download, each sent only if it is a valid header value (a
/// corrupt cached validator just makes the request unconditional).
fn conditional_headers(conditional: &Conditional) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let validators = [
        (header::IF_NONE_MATCH, &conditional.etag),
        (header::IF_MODIFIED_SINCE, &conditional.last_modified),
    ];
    for (name, value) in validators {
        if let Some(value) = value.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(name, value);
        }
    }
    headers
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

fn send_error(url: &str, error: reqwest::Error) -> FetchError {
    FetchError::Unreachable {
        url: url.to_owned(),
        detail: error_chain(&error.without_url()),
    }
}

fn whole_seconds_rounded_up(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}
