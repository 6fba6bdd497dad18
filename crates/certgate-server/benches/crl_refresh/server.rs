//! The CA's CRL distribution point: an axum server on 127.0.0.1:0 serving the root CRL and
//! the issuing CA's CRL, with an ETag per CRL so an unchanged CRL is answered 304 as a real
//! web server would. The issuing CRL can be swapped while the server runs.

use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{Context, Result};
use axum::body::Bytes;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

#[derive(Clone)]
struct Published {
    body: Bytes,
    etag: String,
}

#[derive(Clone)]
pub(crate) struct CrlServer {
    base: String,
    root: Arc<Mutex<Published>>,
    issuing: Arc<Mutex<Published>>,
}

impl CrlServer {
    /// Binds and starts serving on the current runtime.
    pub(crate) async fn start(root_crl: Vec<u8>, issuing_crl: Vec<u8>) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the CRL server")?;
        let base = format!("http://{}", listener.local_addr()?);
        let published = |body: Vec<u8>, tag: &str| {
            Arc::new(Mutex::new(Published {
                body: Bytes::from(body),
                etag: format!("\"{tag}\""),
            }))
        };
        let server = CrlServer {
            base,
            root: published(root_crl, "root-1"),
            issuing: published(issuing_crl, "issuing-1"),
        };
        let root = Arc::clone(&server.root);
        let issuing = Arc::clone(&server.issuing);
        let app = Router::new()
            .route(
                "/root.crl",
                get(move |headers: HeaderMap| answer(Arc::clone(&root), headers)),
            )
            .route(
                "/issuing.crl",
                get(move |headers: HeaderMap| answer(Arc::clone(&issuing), headers)),
            );
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                eprintln!("the CRL server stopped: {error}");
            }
        });
        Ok(server)
    }

    pub(crate) fn root_url(&self) -> String {
        format!("{}/root.crl", self.base)
    }

    pub(crate) fn issuing_url(&self) -> String {
        format!("{}/issuing.crl", self.base)
    }

    /// Publishes a new issuing CRL; the next download gets it.
    pub(crate) fn publish_issuing(&self, body: Vec<u8>, tag: &str) {
        *self.issuing.lock().unwrap_or_else(PoisonError::into_inner) = Published {
            body: Bytes::from(body),
            etag: format!("\"{tag}\""),
        };
    }
}

async fn answer(published: Arc<Mutex<Published>>, headers: HeaderMap) -> Response {
    // Bytes clones share the buffer: the lock is held for a pointer copy.
    let current = published
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value == current.etag);
    if unchanged {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, current.etag)]).into_response();
    }
    (
        [
            (header::CONTENT_TYPE, "application/pkix-crl".to_owned()),
            (header::ETAG, current.etag),
        ],
        current.body,
    )
        .into_response()
}
