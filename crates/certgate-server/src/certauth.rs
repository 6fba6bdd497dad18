//! The certificate sign-in listener (AD FS's certauth endpoint, Entra's certauth host): HTTPS
//! that asks every client for a certificate.
//!
//! The TLS layer requests a certificate, names the trusted CAs flagged as issuer hints in the
//! CertificateRequest, checks proof of possession (the client's CertificateVerify signature)
//! and otherwise lets any certificate, or none, through: the decision is the validation
//! engine's, made per request against the current validation state, so that a person gets a
//! page that says what is wrong instead of a TLS alert. TLS session resumption is off, so
//! every connection proves possession of its key afresh.

use std::sync::{Arc, Mutex};

use axum::Router;
use certgate_core::validation_state::{SharedState, ValidationState};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::Acceptor;
use rustls::server::NoServerSessionStorage;
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::LazyConfigAcceptor;

use crate::limits::ListenerLimits;

pub use crate::tls_client::{ConnectionMemo, TlsClient};

/// Requests a client certificate, accepts any, and checks proof of possession.
#[derive(Debug)]
struct AnyClientCertificate {
    hints: Vec<DistinguishedName>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCertificate {
    fn offer_client_auth(&self) -> bool {
        true
    }

    /// A client without a certificate still gets an answer: a page saying it needs one.
    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // Deliberately no decision here: see the module comment.
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The listener's own certificate and key.
pub struct ServerIdentity {
    /// The server certificate first, then the intermediates sent with it.
    pub chain: Vec<CertificateDer<'static>>,
    /// The private key of the first certificate.
    pub key: PrivateKeyDer<'static>,
}

impl Clone for ServerIdentity {
    fn clone(&self) -> Self {
        ServerIdentity {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl ServerIdentity {
    /// Reads a PEM certificate chain and a PEM (PKCS#8, SEC1 or PKCS#1) private key.
    pub fn from_pem(chain_pem: &[u8], key_pem: &[u8]) -> Result<ServerIdentity, String> {
        use rustls::pki_types::pem::PemObject;
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain_pem)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("the TLS certificate chain is not PEM: {e}"))?;
        if chain.is_empty() {
            return Err("the TLS certificate file holds no certificate".into());
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|e| format!("the TLS private key is not PEM: {e}"))?;
        Ok(ServerIdentity { chain, key })
    }
}

/// Whether a listener asks clients for certificates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientCertificates {
    /// The certificate sign-in listener: ask, with issuer hints.
    Request,
    /// The web listener (OpenID Connect, pages, admin API): never ask, so browsers do not
    /// prompt for a certificate on every page.
    Ignore,
}

/// Builds TLS configurations for a listener, anew whenever the validation state (and so
/// the issuer hints) changes.
pub struct CertAuthTls {
    identity: ServerIdentity,
    client_certificates: ClientCertificates,
    provider: Arc<CryptoProvider>,
    current: Mutex<Option<(i64, Configs)>>,
}

/// The two configurations of one generation, which differ only in who picks the cipher suite.
#[derive(Clone)]
struct Configs {
    /// AES-128-GCM with SHA-256 first, whatever the client prefers.
    server_order: Arc<ServerConfig>,
    /// The client's order, for a client that puts ChaCha20-Poly1305 first.
    client_order: Arc<ServerConfig>,
}

impl Configs {
    /// The cipher suite choice Go's TLS server makes: a client that lists ChaCha20-Poly1305
    /// first says it has no AES hardware and gets its own order; every other client gets
    /// AES-128-GCM, whose SHA-256 key schedule and transcript hash run in hardware on current
    /// CPUs where AES-256-GCM's SHA-384 does not (OpenSSL clients list AES-256-GCM first).
    /// All three TLS 1.3 suites are of equal standing in RFC 8446 and every current profile.
    fn for_client(&self, hello: &rustls::server::ClientHello<'_>) -> Arc<ServerConfig> {
        let chacha_first = hello.cipher_suites().first().is_some_and(|suite| {
            matches!(
                suite,
                rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256
                    | rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
                    | rustls::CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
            )
        });
        Arc::clone(if chacha_first {
            &self.client_order
        } else {
            &self.server_order
        })
    }
}

/// aws-lc-rs's suites with AES-128-GCM before AES-256-GCM (TLS 1.3 and 1.2 alike), the rest
/// in its order.
fn aes128_first(mut provider: CryptoProvider) -> CryptoProvider {
    let rank = |suite: rustls::CipherSuite| match suite {
        rustls::CipherSuite::TLS13_AES_128_GCM_SHA256 => 0,
        rustls::CipherSuite::TLS13_AES_256_GCM_SHA384 => 1,
        _ => 2,
    };
    provider.cipher_suites.sort_by_key(|suite| {
        let suite = suite.suite();
        let tls12_aes128 = matches!(
            suite,
            rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
                | rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        );
        (rank(suite), !tls12_aes128)
    });
    provider
}

impl CertAuthTls {
    /// TLS for a listener with this identity and client-certificate policy; fails here, at
    /// start-up rather than on the first connection, when the key does not fit the certificate.
    pub fn new(
        identity: ServerIdentity,
        client_certificates: ClientCertificates,
    ) -> Result<Self, String> {
        let tls = CertAuthTls {
            identity,
            client_certificates,
            provider: Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
            current: Mutex::new(None),
        };
        // Fail at start-up, not on the first connection, when the key does not fit.
        tls.build(&ValidationState::default())?;
        Ok(tls)
    }

    fn build(&self, state: &ValidationState) -> Result<Configs, String> {
        let client_order = self.build_with(state, Arc::clone(&self.provider))?;
        let mut server_order =
            (*self.build_with(state, Arc::new(aes128_first((*self.provider).clone())))?).clone();
        server_order.ignore_client_order = true;
        Ok(Configs {
            server_order: Arc::new(server_order),
            client_order,
        })
    }

    fn build_with(
        &self,
        state: &ValidationState,
        provider: Arc<CryptoProvider>,
    ) -> Result<Arc<ServerConfig>, String> {
        let verifier = AnyClientCertificate {
            hints: state
                .issuer_hints()
                .iter()
                .map(|der| DistinguishedName::from(der.clone()))
                .collect(),
            algorithms: self.provider.signature_verification_algorithms,
        };
        let builder = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| format!("TLS versions: {e}"))?;
        let builder = match self.client_certificates {
            ClientCertificates::Request => builder.with_client_cert_verifier(Arc::new(verifier)),
            ClientCertificates::Ignore => builder.with_no_client_auth(),
        };
        let mut config = builder
            .with_single_cert(self.identity.chain.clone(), self.identity.key.clone_key())
            .map_err(|e| format!("the TLS certificate and key do not fit together: {e}"))?;
        // No resumption: a resumed session would skip proof of possession.
        config.session_storage = Arc::new(NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// The configurations for the state's generation.
    fn config_for(&self, state: &ValidationState) -> Option<Configs> {
        let mut current = self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((generation, config)) = current.as_ref() {
            if *generation == state.generation() {
                return Some(config.clone());
            }
        }
        match self.build(state) {
            Ok(config) => {
                *current = Some((state.generation(), config.clone()));
                Some(config)
            }
            Err(error) => {
                tracing::error!(%error, "building the TLS configuration failed");
                current.as_ref().map(|(_, config)| config.clone())
            }
        }
    }
}

/// Accepts TLS connections on `listener` and serves `app` on each, with the client's
/// certificate chain as a [`TlsClient`] request extension. HTTP/1.1 and HTTP/2 (ALPN). Under
/// the default [`ListenerLimits`].
pub async fn serve(
    listener: TcpListener,
    tls: Arc<CertAuthTls>,
    state: Arc<SharedState>,
    app: Router,
    shutdown: watch::Receiver<bool>,
) {
    serve_with_limits(
        listener,
        tls,
        state,
        app,
        ListenerLimits::default(),
        shutdown,
    )
    .await;
}

/// [`serve`] under `limits`: at most `max_connections` at once, the TLS handshake within
/// `handshake_timeout`, then the HTTP limits of [`crate::limits`].
pub async fn serve_with_limits(
    listener: TcpListener,
    tls: Arc<CertAuthTls>,
    state: Arc<SharedState>,
    app: Router,
    limits: ListenerLimits,
    shutdown: watch::Receiver<bool>,
) {
    crate::limits::accept_loop(listener, limits, shutdown, move |tcp, address, permit| {
        let Some(config) = tls.config_for(&state.load()) else {
            return;
        };
        let app = app.clone();
        tokio::spawn(async move {
            let handshake = async {
                let start = LazyConfigAcceptor::new(Acceptor::default(), tcp).await?;
                let config = config.for_client(&start.client_hello());
                start.into_stream(config).await
            };
            let stream = match tokio::time::timeout(limits.handshake_timeout, handshake).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(error)) => {
                    tracing::debug!(%address, %error, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%address, "TLS handshake timed out");
                    return;
                }
            };
            let chain: Vec<Vec<u8>> = stream
                .get_ref()
                .1
                .peer_certificates()
                .map(|certs| certs.iter().map(|c| c.to_vec()).collect())
                .unwrap_or_default();
            let client = TlsClient {
                address,
                chain: Arc::new(chain),
                memo: ConnectionMemo::default(),
            };
            crate::limits::serve_connection(stream, app, Some(client), limits, address).await;
            drop(permit);
        });
    })
    .await;
}
