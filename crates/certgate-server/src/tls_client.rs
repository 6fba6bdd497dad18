//! What a TLS listener knows about its client, handed to every request of the connection:
//! the address, the certificate chain it presented, and a memo the connection's requests
//! share. The connection layer (`limits`) attaches it; handlers read it.

use std::any::Any;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// What the TLS handshake established about the client, available to handlers as a request
/// extension.
#[derive(Clone, Debug)]
pub struct TlsClient {
    /// The client's address and port, as the TCP connection shows it.
    pub address: SocketAddr,
    /// The certificates the client sent, end entity first; empty when it sent none.
    pub chain: Arc<Vec<Vec<u8>>>,
    /// Shared by every request of this connection (the front door keeps the connection's
    /// certificate decision here instead of validating on every request).
    pub memo: ConnectionMemo,
}

/// Values handlers keep for the life of a connection, at most one of each type (the front
/// door keeps its certificate decision and its upstream connections here).
#[derive(Clone, Default)]
pub struct ConnectionMemo(Arc<Mutex<Vec<Arc<dyn Any + Send + Sync>>>>);

impl ConnectionMemo {
    fn values(&self) -> std::sync::MutexGuard<'_, Vec<Arc<dyn Any + Send + Sync>>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The value of type `T`, if one was kept.
    pub fn get<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.values()
            .iter()
            .find(|value| value.is::<T>())
            .and_then(|value| Arc::clone(value).downcast::<T>().ok())
    }

    /// Keeps `value` for the connection's later requests, in place of any `T` kept before.
    pub fn set<T: Any + Send + Sync>(&self, value: Arc<T>) {
        let mut values = self.values();
        match values.iter_mut().find(|kept| kept.is::<T>()) {
            Some(kept) => *kept = value,
            None => values.push(value),
        }
    }

    /// The value of type `T`, kept first from `make` when there is none.
    pub fn get_or_insert_with<T: Any + Send + Sync>(&self, make: impl FnOnce() -> T) -> Arc<T> {
        let mut values = self.values();
        if let Some(kept) = values
            .iter()
            .find(|value| value.is::<T>())
            .and_then(|value| Arc::clone(value).downcast::<T>().ok())
        {
            return kept;
        }
        let made = Arc::new(make());
        values.push(Arc::clone(&made) as Arc<dyn Any + Send + Sync>);
        made
    }
}

impl std::fmt::Debug for ConnectionMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConnectionMemo")
    }
}
