//! certgate-server: the only crate that wires tokio, HTTP and the store together.
//!
//! - [`crl_refresh`]: the CRL service (download, accept, persist, swap the validation state);
//! - [`HttpCrlFetcher`]: the HTTP adapter of certgate-core's CRL fetcher port;
//! - [`publish`]: the HTTP endpoints that publish certgate's own CA certificates and CRLs;
//! - [`device_http`]: `/my/device`, the self-service device provisioning page;
//! - [`browser_headers`]: the security headers of every page certgate writes;
//! - [`app`]: `certgate serve`, the listener and the background jobs.

// Outside tests nothing may panic on a value it did not check: untrusted input reaches
// every crate, and a panic in a request is a denial of service at best.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

pub mod admin_api;
pub mod app;
pub mod browser_headers;
pub mod certauth;
mod crl_fetch;
pub mod crl_refresh;
pub mod demo;
pub mod device_http;
pub mod est;
pub mod federation_http;
pub mod federation_service;
pub mod flow;
pub mod front_door;
pub mod limits;
pub mod metrics;
pub mod oidc_policy;
mod outbound_http;
mod pages;
pub mod publish;
pub mod reasons;
pub mod refusal;
pub mod second_factor;
pub mod signin_http;
pub mod signin_recorder;
pub mod tls_client;
pub mod web;
pub mod web_context;

pub use crl_fetch::HttpCrlFetcher;
