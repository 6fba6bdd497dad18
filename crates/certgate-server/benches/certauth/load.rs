//! The certauth workload, the same for both servers (the load generator itself is
//! `common::load`): a sign-in is a new TCP connection, a full TLS 1.3 handshake presenting the
//! client certificate and the issuing CA (X25519, no resumption), `GET /certauth` over
//! HTTP/1.1 with `Connection: close`, and reading the whole response.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::common::cpu::Accounting;
use crate::common::load::{Client, Exchange, Workload};

const REQUEST: &[u8] = b"GET /certauth HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\nUser-Agent: certgate-bench\r\nConnection: close\r\n\r\n";

/// What a good answer looks like.
#[derive(Clone, Debug)]
pub(crate) enum Expect {
    /// certgate: 200 and a JSON body with `"result":"success"`.
    Certgate,
    /// nginx: 200 and exactly `SUCCESS <serial in upper-case hex>\n`.
    Nginx { body: String },
}

pub(crate) struct Target {
    pub(crate) name: &'static str,
    pub(crate) addr: SocketAddr,
    pub(crate) expect: Expect,
    /// The server's processes, for CPU accounting.
    pub(crate) accounting: Accounting,
}

impl Target {
    /// `Ok` when `exchange` is a successful sign-in.
    pub(crate) fn judge(&self, exchange: &Exchange) -> Result<(), String> {
        let good = exchange.status == 200
            && match &self.expect {
                Expect::Certgate => exchange.body_contains(b"\"result\":\"success\""),
                Expect::Nginx { body } => exchange.body == body.as_bytes(),
            };
        if good {
            Ok(())
        } else {
            Err(format!(
                "HTTP {}: {}",
                exchange.status,
                String::from_utf8_lossy(&exchange.body).trim()
            ))
        }
    }
}

/// One sign-in on a new connection.
pub(crate) async fn sign_in(client: &Client, addr: SocketAddr) -> Result<Exchange, String> {
    client.exchange(addr, REQUEST).await
}

/// Sign-ins back to back against one target.
pub(crate) struct SignIns {
    pub(crate) client: Arc<Client>,
    pub(crate) target: Arc<Target>,
}

impl Workload for SignIns {
    type Session = ();

    fn session(&self) {}

    async fn run(&self, _: &mut ()) -> Result<(), String> {
        let exchange = sign_in(&self.client, self.target.addr).await?;
        self.target.judge(&exchange)
    }
}
