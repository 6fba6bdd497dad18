//! What a TLS listener knows about its client, handed to every request of the connection:
//! the address, the certificate chain it presented, and a memo the connection's requests
//! share. The connection layer (`limits`) attaches it; handlers read it.

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

/// One value a handler keeps for the life of a connection.
#[derive(Clone, Default)]
pub struct ConnectionMemo(Arc<Mutex<Option<Arc<dyn std::any::Any + Send + Sync>>>>);

impl ConnectionMemo {
    /// The value, if one of type `T` was kept.
    pub fn get<T: std::any::Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
            .and_then(|value| value.downcast::<T>().ok())
    }

    /// Keeps `value` for the connection's later requests, in place of any value kept before.
    pub fn set<T: std::any::Any + Send + Sync>(&self, value: Arc<T>) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(value);
    }
}

impl std::fmt::Debug for ConnectionMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConnectionMemo")
    }
}
