//! certgate as an HTTP client of other servers (CRL distribution points, the second-factor
//! webhook): the client settings both share and how their errors are told.

use std::error::Error as StdError;

use reqwest::{redirect, ClientBuilder};

const USER_AGENT: &str = concat!("certgate/", env!("CARGO_PKG_VERSION"));

/// A client that never uses a proxy from the environment and never follows a redirect: the
/// configured URL is the only address fetched (a proxy variable set for other tools must not
/// silently reroute revocation data or one-time codes), and a 3xx is the caller's to refuse.
pub(crate) fn client_builder() -> ClientBuilder {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(redirect::Policy::none())
        .user_agent(USER_AGENT)
}

/// The error and its causes, outermost first, as one line: reqwest's own message ("error
/// sending request") says little, the OS or TLS error at the bottom says what went wrong.
pub(crate) fn error_chain(error: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = current {
        let text = e.to_string();
        // Some layers repeat their cause in their own message.
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}
