//! A TCP proxy on 127.0.0.1 between certgate-ldap and a real directory server that breaks the
//! connection on cue, as a failing network or server does in the middle of a read: after a
//! number of bytes from the server it closes the connection, stops forwarding (a stall), or
//! forwards the rest a few bytes at a time (a trickle).
//!
//! It forwards TLS records without looking into them, so the client still verifies the real
//! server's certificate; the test DC's certificate names 127.0.0.1, which the proxy's address
//! keeps. Counting the bytes of a healthy read ([`FaultyProxy::bytes_from_server`]) tells a
//! test where to break the next one.

#![allow(dead_code)] // each test binary that includes the proxy uses a part of it

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does to the server's bytes of each new connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Forwards everything both ways.
    None,
    /// Forwards the server's first `n` bytes, then closes both sides.
    CloseAfter(u64),
    /// Forwards the server's first `n` bytes, then forwards nothing more and keeps both
    /// connections open, as a hung server or a black-holing firewall does.
    StallAfter(u64),
    /// Forwards the server's first `after` bytes at once, then `chunk` bytes every `every`:
    /// each message arrives, but slowly.
    Trickle {
        /// Bytes forwarded at full speed.
        after: u64,
        /// Bytes per step after that.
        chunk: usize,
        /// Time between two steps.
        every: Duration,
    },
}

/// A proxy to `upstream`, listening on a port of its own; stops when dropped.
pub(crate) struct FaultyProxy {
    address: SocketAddr,
    fault: Arc<Mutex<Fault>>,
    /// Bytes the server sent on the last connection (forwarded or not).
    last_connection_bytes: Arc<AtomicU64>,
    connections: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultyProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultyProxy {
    /// Listens on 127.0.0.1 (a free port) and forwards each connection to `upstream`.
    pub(crate) async fn start(upstream: SocketAddr) -> FaultyProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the proxy listens");
        let address = listener.local_addr().expect("the proxy's address");
        let fault = Arc::new(Mutex::new(Fault::None));
        let last_connection_bytes = Arc::new(AtomicU64::new(0));
        let connections = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn({
            let fault = fault.clone();
            let last_connection_bytes = last_connection_bytes.clone();
            let connections = connections.clone();
            async move {
                // The tasks of the connections end with the accept loop (a stalled one would
                // otherwise outlive the proxy).
                let mut relays = tokio::task::JoinSet::new();
                while let Ok((client, _)) = listener.accept().await {
                    let fault = *fault.lock().expect("the fault");
                    connections.fetch_add(1, Ordering::SeqCst);
                    last_connection_bytes.store(0, Ordering::SeqCst);
                    relays.spawn(relay(
                        client,
                        upstream,
                        fault,
                        last_connection_bytes.clone(),
                    ));
                }
            }
        });
        FaultyProxy {
            address,
            fault,
            last_connection_bytes,
            connections,
            task,
        }
    }

    /// `ldaps://127.0.0.1:<port>`.
    pub(crate) fn ldaps_url(&self) -> String {
        format!("ldaps://127.0.0.1:{}", self.address.port())
    }

    /// What the next connections get.
    pub(crate) fn set_fault(&self, fault: Fault) {
        *self.fault.lock().expect("the fault") = fault;
    }

    /// Bytes the server sent on the last connection so far.
    pub(crate) fn bytes_from_server(&self) -> u64 {
        self.last_connection_bytes.load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub(crate) fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }
}

async fn relay(client: TcpStream, upstream: SocketAddr, fault: Fault, counted: Arc<AtomicU64>) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let to_server = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        let _ = server_write.shutdown().await;
    });
    let mut forwarded: u64 = 0;
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let read = match server_read.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        counted.fetch_add(read as u64, Ordering::SeqCst);
        let bytes = &buffer[..read];
        let allowed = match fault {
            Fault::None => bytes.len(),
            Fault::CloseAfter(limit) | Fault::StallAfter(limit) => {
                usize::try_from(limit.saturating_sub(forwarded))
                    .unwrap_or(usize::MAX)
                    .min(bytes.len())
            }
            Fault::Trickle { .. } => bytes.len(),
        };
        match fault {
            Fault::Trickle {
                after,
                chunk,
                every,
            } => {
                for piece in split_after(bytes, after.saturating_sub(forwarded), chunk) {
                    if forwarded >= after {
                        tokio::time::sleep(every).await;
                    }
                    if client_write.write_all(piece).await.is_err() {
                        to_server.abort();
                        return;
                    }
                    forwarded += piece.len() as u64;
                }
            }
            _ => {
                if client_write.write_all(&bytes[..allowed]).await.is_err() {
                    break;
                }
                forwarded += allowed as u64;
            }
        }
        if allowed < bytes.len() {
            match fault {
                Fault::CloseAfter(_) => break,
                Fault::StallAfter(_) => {
                    // Hold both connections, read nothing more: the client waits for bytes
                    // that never come, until its own timeout or the proxy's end.
                    std::future::pending::<()>().await;
                }
                _ => {}
            }
        }
    }
    to_server.abort();
    let _ = client_write.shutdown().await;
}

/// `bytes` as one piece of up to `full_speed` bytes, then pieces of `chunk` bytes.
fn split_after(bytes: &[u8], full_speed: u64, chunk: usize) -> Vec<&[u8]> {
    let first = usize::try_from(full_speed)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    let mut pieces = Vec::new();
    if first > 0 {
        pieces.push(&bytes[..first]);
    }
    pieces.extend(bytes[first..].chunks(chunk.max(1)));
    pieces
}
