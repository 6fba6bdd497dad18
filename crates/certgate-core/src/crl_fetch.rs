//! The CRL fetcher port: how the CRL service downloads a CA's configured CRL URL.
//!
//! The service only ever passes URLs from trusted-CA records (never a URL found in a presented
//! certificate: that would let anyone who can present a certificate make certgate send requests
//! to addresses of their choosing).

use std::future::Future;
use std::time::Duration;

use certgate_pki::ReasonCode;

/// Limits for one download, enforced while the body streams in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FetchLimits {
    /// Largest body accepted, announced (Content-Length) or received.
    pub max_bytes: u64,
    /// Total time for the whole download: connect, headers and body.
    pub max_duration: Duration,
}

impl FetchLimits {
    /// For downloads someone is waiting on (Entra's interactive limits: 20 MB, 10 s).
    pub const INTERACTIVE: FetchLimits = FetchLimits {
        max_bytes: 20 * 1024 * 1024,
        max_duration: Duration::from_secs(10),
    };
    /// For scheduled refreshes in the background (Entra's background limit: 150 MB).
    pub const BACKGROUND: FetchLimits = FetchLimits {
        max_bytes: 150 * 1024 * 1024,
        max_duration: Duration::from_secs(60),
    };
}

/// Validators from the last successful download, for a conditional GET.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Conditional {
    /// The `ETag` the server sent, for `If-None-Match`.
    pub etag: Option<String>,
    /// The `Last-Modified` the server sent, for `If-Modified-Since`.
    pub last_modified: Option<String>,
}

/// A completed download.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchOutcome {
    /// 304: the cached CRL is still the current one.
    NotModified,
    /// 200: the whole body, within the limits.
    Fetched {
        /// The bytes as served; the CRL service decides whether they are a CRL (DER or PEM).
        body: Vec<u8>,
        /// The `ETag` header, kept for the next conditional GET.
        etag: Option<String>,
        /// The `Last-Modified` header, kept for the next conditional GET.
        last_modified: Option<String>,
        /// The `Content-Type` header, as sent (informational).
        content_type: Option<String>,
    },
}

/// Why a download failed. Each variant has a stable code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The URL's scheme is not `http` or `https`; nothing was sent.
    #[error("the CRL URL {url} is not an http:// or https:// URL")]
    UrlNotAllowed {
        /// The URL as configured.
        url: String,
    },
    /// DNS, the connection or TLS failed.
    #[error("could not download {url}: {detail}; check that the CRL distribution point is reachable from this server")]
    Unreachable {
        /// The URL as configured.
        url: String,
        /// The underlying error, for the log.
        detail: String,
    },
    /// The server answered neither 200 nor 304 (an error status, or a 3xx without a Location).
    #[error("{url} answered HTTP {status}; the CA's CRL distribution point is not publishing the CRL there")]
    HttpStatus {
        /// The URL as configured.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// A 3xx with a Location. Never followed: the CRL URL on the CA record is the only address
    /// certgate fetches, and a redirect would let whoever answers that URL point certgate at any
    /// host, loopback and internal addresses included.
    #[error("{url} answered HTTP {status} redirecting to {location}; certgate does not follow redirects for CRLs: if that is where the CA publishes its CRL, set it as the CA's CRL URL (`certgate ca set`)")]
    Redirected {
        /// The URL as configured.
        url: String,
        /// The 3xx status code.
        status: u16,
        /// The Location resolved against the URL (or as sent, escaped, if it does not resolve).
        location: String,
    },
    /// The download took longer than [`FetchLimits::max_duration`].
    #[error("downloading {url} took longer than the {limit_seconds} s limit; the CRL is too slow to fetch (raise the limit or move the CRL closer)")]
    Timeout {
        /// The URL as configured.
        url: String,
        /// The limit, in whole seconds (rounded up).
        limit_seconds: u64,
    },
    /// The CRL is larger than [`FetchLimits::max_bytes`].
    #[error("{url} is larger than the {limit_bytes}-byte limit (announced or received {size} bytes); raise the CRL size limit or partition the CRL")]
    TooLarge {
        /// The URL as configured.
        url: String,
        /// The limit, in bytes.
        limit_bytes: u64,
        /// The Content-Length announced, or the bytes received when the limit was crossed.
        size: u64,
    },
    /// The body ended before the announced length (the connection closed early).
    #[error("the download of {url} ended early: received {received} bytes{}", expected.map(|e| format!(" of {e}")).unwrap_or_default())]
    Truncated {
        /// The URL as configured.
        url: String,
        /// Bytes received.
        received: u64,
        /// The Content-Length announced, when there was one.
        expected: Option<u64>,
    },
}

impl FetchError {
    /// Every code [`FetchError::code`] answers with.
    pub const CODES: &'static [ReasonCode] = &[
        ReasonCode::new(
            "crl-url-not-allowed",
            "The CRL URL is not an http:// or https:// URL, so certgate does not fetch it.",
            "Set an http:// or https:// CRL URL (`certgate ca set ID --crl-url URL`).",
        ),
        ReasonCode::new(
            "crl-fetch-failed",
            "The CRL URL could not be downloaded: the name did not resolve, the connection failed, or TLS failed.",
            "Check that the CRL distribution point is reachable from this server (DNS, firewall, proxy); `certgate crl refresh` tries again now.",
        ),
        ReasonCode::new(
            "crl-fetch-http-status",
            "The CRL URL answered with an HTTP error status (such as 404 or 500) instead of the CRL.",
            "Check where the CA publishes its CRL and correct the URL if needed (`certgate ca set ID --crl-url URL`).",
        ),
        ReasonCode::new(
            "crl-fetch-redirected",
            "The CRL URL answered with a redirect; certgate does not follow redirects for CRLs, so that whoever answers the URL cannot point certgate at another host.",
            "If the redirect target is where the CA publishes its CRL, set it as the CA's CRL URL (`certgate ca set ID --crl-url URL`).",
        ),
        ReasonCode::new(
            "crl-fetch-timeout",
            "Downloading the CRL took longer than the time limit (10 s interactive, 60 s in the background, by default).",
            "Raise `[crl] interactive_timeout_seconds` or `background_timeout_seconds`, or publish the CRL on a closer or faster server.",
        ),
        ReasonCode::new(
            "crl-too-large",
            "The CRL is larger than the size limit (20 MiB interactive, 150 MiB in the background, by default), as announced or as received.",
            "Raise `[crl] interactive_max_bytes` or `background_max_bytes`, or have the CA partition its CRL.",
        ),
        ReasonCode::new(
            "crl-fetch-truncated",
            "The CRL download ended before all of it arrived (the connection closed early).",
            "Try again with `certgate crl refresh`; if it keeps happening, check the network path and the server that serves the CRL.",
        ),
    ];

    /// The stable reason code (listed in [`Self::CODES`]).
    pub fn code(&self) -> &'static str {
        match self {
            FetchError::UrlNotAllowed { .. } => "crl-url-not-allowed",
            FetchError::Unreachable { .. } => "crl-fetch-failed",
            FetchError::HttpStatus { .. } => "crl-fetch-http-status",
            FetchError::Redirected { .. } => "crl-fetch-redirected",
            FetchError::Timeout { .. } => "crl-fetch-timeout",
            FetchError::TooLarge { .. } => "crl-too-large",
            FetchError::Truncated { .. } => "crl-fetch-truncated",
        }
    }
}

/// Told how a download progresses (the CLI draws a progress bar from it).
pub trait FetchProgress: Send + Sync {
    /// The response headers arrived; `total` is the Content-Length when there is one.
    fn started(&self, url: &str, total: Option<u64>);
    /// `bytes` more arrived.
    fn advanced(&self, bytes: u64);
    /// The download is over, whichever way it ended (called only after [`started`](Self::started)).
    fn finished(&self);
}

/// Progress nobody watches.
pub struct NoProgress;

impl FetchProgress for NoProgress {
    fn started(&self, _url: &str, _total: Option<u64>) {}
    fn advanced(&self, _bytes: u64) {}
    fn finished(&self) {}
}

/// Downloads a CRL URL.
pub trait CrlFetcher: Send + Sync {
    /// Downloads `url` (a GET, conditional when `conditional` holds validators) within `limits`,
    /// following no redirects, and reports the progress.
    fn fetch(
        &self,
        url: &str,
        conditional: &Conditional,
        limits: FetchLimits,
        progress: &dyn FetchProgress,
    ) -> impl Future<Output = Result<FetchOutcome, FetchError>> + Send;
}
