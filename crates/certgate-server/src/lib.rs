//! certgate-server: the only crate that wires tokio, HTTP and the store together.
//!
//! What the CLI and the tests use is public:
//! - [`app`]: `certgate serve`, the four listeners and the background jobs;
//! - [`crl_refresh`]: the CRL service (download, accept, persist, swap the validation state),
//!   with [`HttpCrlFetcher`], the HTTP adapter of certgate-core's CRL fetcher port;
//! - [`admin_api`]: the admin API's routes and its resource types (what `--server` speaks);
//! - [`certauth`], [`federation_http`], [`limits`], [`oidc_policy`], [`second_factor`],
//!   [`domain_password`],
//!   [`reasons`], [`demo`]: the settings and services `serve` and the CLI build them from.
//!
//! Everything else is private to the crate: the web listener's pages and flow (`web`, `flow`,
//! `web_context`), the front door (`front_door`), EST (`est`), device pages (`device_http`),
//! publication of certgate's own CA (`publish`), the one refusal type (`refusal`), security
//! headers (`browser_headers`), metrics and the sign-in recorder.

// Outside tests nothing may panic on a value it did not check: untrusted input reaches
// every crate, and a panic in a request is a denial of service at best.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

pub mod admin_api;
pub mod app;
mod background_thread;
mod browser_headers;
pub mod certauth;
mod crl_fetch;
pub mod crl_refresh;
pub mod demo;
mod device_http;
mod directory_snapshot;
pub mod directory_sync;
pub mod domain_password;
mod est;
pub mod federation_http;
mod federation_service;
mod flow;
mod front_door;
pub mod limits;
mod metrics;
pub mod oidc_policy;
mod outbound_http;
mod pages;
mod publish;
pub mod reasons;
mod refusal;
pub mod second_factor;
mod signin_http;
mod signin_recorder;
mod tls_client;
mod web;
mod web_context;

pub use crl_fetch::HttpCrlFetcher;
