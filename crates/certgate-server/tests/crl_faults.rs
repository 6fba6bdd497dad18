//! The "last good CRL kept" promise, end to end: a CRL service on a SQLite store refreshes the
//! CRLs of a root and an issuing CA from a real HTTP server on 127.0.0.1 whose answers each
//! test changes between refreshes (down, slow, oversized, truncated, forged, older, expired,
//! an HTML page, 404, the wrong kind, another CA's CRL). Every fault has its own reason code,
//! in the refresh report and in `status()`, and the leaf still validates against the CRL that
//! was cached before it.
//!
//! Validation and acceptance time is a `FixedClock` at the test PKI's fixed instant; every
//! download runs under a limit of 1 s (2 s for the running server), so no test can hang.

mod common;

use std::cmp::Ordering;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use certgate_ca::{sign_crl, Authority, CrlRequest, RevocationReason, RevokedSerial};
use certgate_core::clock::{Clock, FixedClock};
use certgate_core::crl_cache::{compare_crl_numbers, CrlKind};
use certgate_core::crl_fetch::{FetchLimits, NoProgress};
use certgate_core::trusted_ca::{add_cas, AuthorityType, CaId, CaSettings};
use certgate_pki::{Certificate, UnixTime};
use certgate_server::app::{self};
use certgate_server::crl_refresh::{
    CrlService, CrlSettings, CrlStatusRow, RefreshOutcome, RefreshReport, Urgency,
};
use certgate_server::HttpCrlFetcher;
use certgate_store::SqlStore;
use certgate_testpki::{at, instants, ChainSpec, KeyKind, TestPki, VALIDATION_TIME};
use common::{read_and_record, Request, TestServer};
use tempfile::TempDir;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const ROOT_CRL: &str = "/crl/root.crl";
const ISSUING_CRL: &str = "/crl/issuing.crl";

/// The CRL number of the good CRLs every test starts from.
const GOOD_NUMBER: u64 = 10;

/// The time limit of every download the CRL service makes here.
const CAP: Duration = Duration::from_secs(1);
/// The size limit: a CRL of the fixtures is a few hundred bytes, one with 200 entries 7 KB.
const MAX_BYTES: u64 = 4096;

fn settings() -> CrlSettings {
    let limits = FetchLimits {
        max_bytes: MAX_BYTES,
        max_duration: CAP,
    };
    CrlSettings {
        interactive: limits,
        background: limits,
        max_interval_seconds: 3600,
        ..CrlSettings::default()
    }
}

// ---------------------------------------------------------------------------------------------
// The CRL distribution point: a small HTTP/1.1 server whose answer per path the test sets.

/// What the server answers on one path. Paths without an answer get 404.
#[derive(Clone, Debug)]
enum Answer {
    /// A complete response. With `etag`, a request whose If-None-Match carries it gets 304.
    Respond {
        status: u16,
        content_type: &'static str,
        etag: Option<String>,
        body: Vec<u8>,
    },
    /// Announces the whole body in Content-Length, then sends one byte every `every`.
    Drip { body: Vec<u8>, every: Duration },
    /// Announces the whole body in Content-Length, sends the first half and closes.
    CloseEarly { body: Vec<u8> },
    /// 302 Found to `location`.
    Redirect { location: String },
}

impl Answer {
    fn crl(der: Vec<u8>) -> Answer {
        Answer::Respond {
            status: 200,
            content_type: "application/pkix-crl",
            etag: None,
            body: der,
        }
    }

    fn crl_with_etag(der: Vec<u8>, etag: &str) -> Answer {
        Answer::Respond {
            status: 200,
            content_type: "application/pkix-crl",
            etag: Some(etag.to_owned()),
            body: der,
        }
    }

    fn status(status: u16) -> Answer {
        Answer::Respond {
            status,
            content_type: "text/plain",
            etag: None,
            body: b"no CRL here\n".to_vec(),
        }
    }

    /// What a captive portal or a misconfigured web server sends: an error page, status 200.
    fn html_error_page() -> Answer {
        Answer::Respond {
            status: 200,
            content_type: "text/html; charset=utf-8",
            etag: None,
            body: b"<!DOCTYPE html>\n<html><head><title>Service Unavailable</title></head>\
                    <body><h1>The CRL service is down for maintenance</h1></body></html>\n"
                .to_vec(),
        }
    }
}

type Answers = Arc<Mutex<HashMap<String, Answer>>>;
type Requests = Arc<Mutex<Vec<Request>>>;

struct CrlServer {
    base: String,
    answers: Answers,
    requests: Requests,
    accept: Option<JoinHandle<()>>,
}

impl CrlServer {
    async fn start() -> CrlServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("local addr"));
        let answers: Answers = Arc::default();
        let requests: Requests = Arc::default();
        let accept = {
            let answers = Arc::clone(&answers);
            let requests = Arc::clone(&requests);
            tokio::spawn(async move {
                while let Ok((socket, _)) = listener.accept().await {
                    tokio::spawn(serve_connection(
                        socket,
                        Arc::clone(&answers),
                        Arc::clone(&requests),
                    ));
                }
            })
        };
        CrlServer {
            base,
            answers,
            requests,
            accept: Some(accept),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn answer(&self, path: &str, answer: Answer) {
        self.answers
            .lock()
            .expect("answers lock")
            .insert(path.to_owned(), answer);
    }

    fn requests_for(&self, path: &str) -> Vec<Request> {
        self.requests
            .lock()
            .expect("requests lock")
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// Closes the listening socket: from now on connecting to the port is refused.
    async fn go_down(&mut self) {
        if let Some(accept) = self.accept.take() {
            accept.abort();
            let _ = accept.await;
        }
    }
}

impl Drop for CrlServer {
    fn drop(&mut self) {
        if let Some(accept) = &self.accept {
            accept.abort();
        }
    }
}

async fn serve_connection(mut socket: TcpStream, answers: Answers, requests: Requests) {
    let Some(request) = read_and_record(&mut socket, &requests).await else {
        return;
    };
    let answer = answers
        .lock()
        .expect("answers lock")
        .get(&request.path)
        .cloned()
        .unwrap_or_else(|| Answer::status(404));
    let _ = write_answer(&mut socket, &request, answer).await;
    // FIN rather than RST: the client has sent everything, so closing loses nothing it wrote.
    let _ = socket.shutdown().await;
}

async fn write_answer(
    socket: &mut TcpStream,
    request: &Request,
    answer: Answer,
) -> std::io::Result<()> {
    match answer {
        Answer::Respond {
            status,
            content_type,
            etag,
            body,
        } => {
            if let Some(etag) = &etag {
                if request.header("if-none-match") == Some(etag.as_str()) {
                    let head = response_head(304, &[format!("ETag: {etag}")]);
                    return socket.write_all(head.as_bytes()).await;
                }
            }
            let mut headers = vec![
                format!("Content-Type: {content_type}"),
                format!("Content-Length: {}", body.len()),
            ];
            headers.extend(etag.map(|etag| format!("ETag: {etag}")));
            socket
                .write_all(response_head(status, &headers).as_bytes())
                .await?;
            socket.write_all(&body).await
        }
        Answer::Drip { body, every } => {
            let head = response_head(200, &crl_headers(body.len()));
            socket.write_all(head.as_bytes()).await?;
            for byte in body {
                socket.write_all(&[byte]).await?;
                tokio::time::sleep(every).await;
            }
            Ok(())
        }
        Answer::CloseEarly { body } => {
            let head = response_head(200, &crl_headers(body.len()));
            socket.write_all(head.as_bytes()).await?;
            socket.write_all(&body[..body.len() / 2]).await
        }
        Answer::Redirect { location } => {
            let headers = [format!("Location: {location}"), "Content-Length: 0".into()];
            let head = response_head(302, &headers);
            socket.write_all(head.as_bytes()).await
        }
    }
}

fn crl_headers(length: usize) -> Vec<String> {
    vec![
        "Content-Type: application/pkix-crl".to_owned(),
        format!("Content-Length: {length}"),
    ]
}

fn response_head(status: u16, headers: &[String]) -> String {
    let reason = match status {
        200 => "OK",
        302 => "Found",
        304 => "Not Modified",
        404 => "Not Found",
        _ => "Status",
    };
    common::response_head(&format!("{status} {reason}"), headers)
}

// ---------------------------------------------------------------------------------------------
// The PKI and its CRLs.

/// A CRL of `authority` with the fixtures' update interval (valid at VALIDATION_TIME).
fn crl(authority: &Authority, number: u64, revoked: &[Vec<u8>]) -> Vec<u8> {
    crl_valid_between(
        authority,
        number,
        instants::CRL_THIS_UPDATE,
        instants::CRL_NEXT_UPDATE,
        revoked,
    )
}

fn crl_valid_between(
    authority: &Authority,
    number: u64,
    this_update: i64,
    next_update: i64,
    revoked: &[Vec<u8>],
) -> Vec<u8> {
    sign_crl(
        authority,
        &CrlRequest {
            crl_number: number,
            this_update: at(this_update),
            next_update: at(next_update),
            revoked: revoked
                .iter()
                .map(|serial| RevokedSerial {
                    serial: serial.clone(),
                    revoked_at: at(instants::CRL_THIS_UPDATE),
                    reason: RevocationReason::KeyCompromise,
                })
                .collect(),
            delta_of: None,
            freshest_crl_url: None,
        },
    )
    .expect("sign CRL")
}

/// A forgery that gets as far as the signature check: the issuing CA's exact subject, an
/// authorityKeyIdentifier equal to its subjectKeyIdentifier, a higher CRL number, a current
/// update interval, and a signature made with a key that is not the CA's.
fn crl_signed_with_another_key(pki: &TestPki, number: u64) -> Vec<u8> {
    let real = Certificate::from_der(&pki.intermediate.der).expect("issuing CA");
    let ski = real
        .extensions()
        .subject_key_id
        .clone()
        .expect("the issuing CA has a subjectKeyIdentifier");
    let other_key =
        rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("another key");
    let issuer =
        rcgen::Issuer::from_ca_cert_der(&pki.intermediate.der.as_slice().into(), other_key)
            .expect("issuer from the real CA certificate");
    let params = rcgen::CertificateRevocationListParams {
        this_update: at(instants::CRL_THIS_UPDATE),
        next_update: at(instants::CRL_NEXT_UPDATE),
        crl_number: rcgen::SerialNumber::from(number),
        issuing_distribution_point: None,
        revoked_certs: Vec::new(),
        key_identifier_method: rcgen::KeyIdMethod::PreSpecified(ski),
    };
    params
        .signed_by(&issuer)
        .expect("sign forged CRL")
        .der()
        .to_vec()
}

/// Whether the CAs' certificates may have an unknown revocation status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CrlRequirement {
    Required,
    Exempt,
}

type Service = CrlService<SqlStore, HttpCrlFetcher, Arc<FixedClock>>;

/// A root and an issuing CA trusted with CRL URLs on the test server, a leaf under them, and
/// the CRL service on a fresh SQLite store. Nothing is fetched yet.
struct Fixture {
    server: CrlServer,
    service: Service,
    store: Arc<SqlStore>,
    clock: Arc<FixedClock>,
    pki: TestPki,
    root: Authority,
    issuing: Authority,
    issuing_id: CaId,
    leaf: Certificate,
    issuing_certificate: Certificate,
    // Last: the store's connections close before the directory goes.
    _dir: TempDir,
}

impl Fixture {
    async fn new(requirement: CrlRequirement) -> Fixture {
        Fixture::with_settings(requirement, settings()).await
    }

    async fn with_settings(requirement: CrlRequirement, settings: CrlSettings) -> Fixture {
        let pki = TestPki::three_level(&ChainSpec::with_key(KeyKind::EcdsaP256)).expect("PKI");
        let root = Authority::from_parts(pki.root.der.clone(), &pki.root.key_pkcs8_der)
            .expect("root authority");
        let issuing = Authority::from_parts(
            pki.intermediate.der.clone(),
            &pki.intermediate.key_pkcs8_der,
        )
        .expect("issuing authority");
        let server = CrlServer::start().await;
        let dir = TempDir::new().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("certgate.db").display());
        let store = Arc::new(SqlStore::connect(&url).await.expect("SQLite store"));
        let clock = Arc::new(FixedClock::at(VALIDATION_TIME));

        let (root_url, issuing_url) = (server.url(ROOT_CRL), server.url(ISSUING_CRL));
        let records = add_cas(
            &*store,
            vec![pki.root.der.clone(), pki.intermediate.der.clone()],
            |certificate| {
                let is_root = certificate.is_self_issued();
                CaSettings {
                    display_name: String::new(),
                    authority_type: if is_root {
                        AuthorityType::Root
                    } else {
                        AuthorityType::Intermediate
                    },
                    crl_url: Some(if is_root { &root_url } else { &issuing_url }.clone()),
                    delta_crl_url: None,
                    exempt_from_crl_validation: requirement == CrlRequirement::Exempt,
                    send_as_issuer_hint: true,
                }
            },
            clock.now(),
            "test",
        )
        .await
        .expect("trust the CAs");
        assert_eq!(records.len(), 2);
        let issuing_id = records
            .iter()
            .find(|r| r.settings.authority_type == AuthorityType::Intermediate)
            .map(|r| r.id)
            .expect("the issuing CA was added");

        let service = CrlService::new(
            Arc::clone(&store),
            HttpCrlFetcher::new().expect("HTTP client"),
            Arc::clone(&clock),
            Arc::default(),
            settings,
            "test",
        );
        service.rebuild().await.expect("initial state");
        Fixture {
            server,
            service,
            store,
            clock,
            leaf: Certificate::from_der(&pki.leaf.der).expect("leaf"),
            issuing_certificate: Certificate::from_der(&pki.intermediate.der).expect("issuing"),
            pki,
            root,
            issuing,
            issuing_id,
            _dir: dir,
        }
    }

    /// Serves good CRLs (number [`GOOD_NUMBER`]) for both CAs, refreshes, and checks that the
    /// leaf validates with them.
    async fn with_good_crls() -> Fixture {
        let fixture = Fixture::new(CrlRequirement::Required).await;
        fixture.answer(ROOT_CRL, Answer::crl(crl(&fixture.root, GOOD_NUMBER, &[])));
        fixture.answer(
            ISSUING_CRL,
            Answer::crl(crl(&fixture.issuing, GOOD_NUMBER, &[])),
        );
        let reports = fixture.refresh_all().await;
        assert_eq!(reports.len(), 2);
        for report in &reports {
            assert!(
                matches!(report.outcome, RefreshOutcome::Updated { .. }),
                "{report:?}"
            );
        }
        assert_eq!(fixture.validate_leaf(), Ok(()));
        fixture
    }

    fn answer(&self, path: &str, answer: Answer) {
        self.server.answer(path, answer);
    }

    async fn refresh_all(&self) -> Vec<RefreshReport> {
        self.service
            .refresh(None, Urgency::Interactive, &NoProgress)
            .await
            .expect("refresh")
    }

    async fn refresh_issuing(&self) -> RefreshReport {
        let mut reports = self
            .service
            .refresh(Some(self.issuing_id), Urgency::Interactive, &NoProgress)
            .await
            .expect("refresh");
        assert_eq!(reports.len(), 1, "{reports:?}");
        let report = reports.remove(0);
        assert_eq!(
            (report.ca_id, report.kind),
            (self.issuing_id, CrlKind::Base)
        );
        report
    }

    /// The leaf (sent with the issuing CA, as a client does) against the service's state.
    fn validate_leaf(&self) -> Result<(), &'static str> {
        validate_leaf_in(self.service.state(), self)
    }

    async fn issuing_status(&self) -> CrlStatusRow {
        self.service
            .status()
            .await
            .expect("status")
            .into_iter()
            .find(|row| row.ca.id == self.issuing_id && row.kind == CrlKind::Base)
            .expect("a status row for the issuing CA")
    }

    /// Answers the issuing CA's CRL URL with `answer`, refreshes that CA and checks the refresh
    /// is refused with `code` while the last good CRL stays in use (see below).
    async fn issuing_answer_is_refused(&self, answer: Answer, code: &str) -> RefreshReport {
        self.answer(ISSUING_CRL, answer);
        let report = self.refresh_issuing().await;
        self.assert_refused_keeping_last_good_crl(&report, code)
            .await;
        report
    }

    /// A refresh of the issuing CA failed with `code` and nothing else changed: the report
    /// and `status()` carry the code, the good CRL is still the cached one, and the leaf still
    /// validates with it.
    async fn assert_refused_keeping_last_good_crl(&self, report: &RefreshReport, code: &str) {
        match &report.outcome {
            RefreshOutcome::Failed {
                code: reported,
                message,
                kept_cached,
            } => {
                assert_eq!(reported, code, "{message}");
                assert!(*kept_cached, "the report says the cached CRL is kept");
            }
            other => panic!("expected a {code} failure, got {other:?}"),
        }
        let row = self.issuing_status().await;
        let fetch = row.fetch.expect("the attempt is recorded");
        assert_eq!(
            fetch.last_error.as_ref().map(|(code, _)| code.as_str()),
            Some(code),
            "{:?}",
            fetch.last_error
        );
        assert_eq!(
            fetch.consecutive_failures, 0,
            "a refresh asked for by hand does not feed the scheduler's backoff"
        );
        assert_eq!(fetch.last_success_at, Some(UnixTime(VALIDATION_TIME)));
        let cached = row.cached.expect("the good CRL is still cached");
        assert_eq!(
            compare_crl_numbers(&cached.crl_number, &GOOD_NUMBER.to_be_bytes()),
            Ordering::Equal,
            "cached CRL number {:?}",
            cached.crl_number
        );
        assert_eq!(self.validate_leaf(), Ok(()));
    }
}

fn validate_leaf_in(
    state: &certgate_core::validation_state::SharedState,
    fixture: &Fixture,
) -> Result<(), &'static str> {
    state
        .load()
        .validate(
            &fixture.leaf,
            std::slice::from_ref(&fixture.issuing_certificate),
            fixture.clock.now(),
        )
        .map(|_| ())
        .map_err(|rejection| rejection.code())
}

/// Polls `done` every 20 ms until it holds or `limit` passes.
async fn wait_until<F, Fut>(limit: Duration, what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn healthz(addr: SocketAddr) -> String {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("HTTP client");
    let response = client
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .expect("/healthz answers");
    assert_eq!(response.status().as_u16(), 200);
    String::from_utf8(response.bytes().await.expect("body").to_vec()).expect("UTF-8")
}

// ---------------------------------------------------------------------------------------------
// Each fault: its own code, the last good CRL kept.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_endpoint_fails_with_crl_fetch_failed_and_keeps_the_last_good_crl() {
    let mut fixture = Fixture::with_good_crls().await;
    fixture.server.go_down().await;
    let report = fixture.refresh_issuing().await;
    fixture
        .assert_refused_keeping_last_good_crl(&report, "crl-fetch-failed")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_slower_than_the_time_cap_fails_with_crl_fetch_timeout_within_the_cap() {
    let fixture = Fixture::with_good_crls().await;
    // A few hundred bytes at one byte per 50 ms: far longer than the 1 s cap.
    let newer = crl(&fixture.issuing, GOOD_NUMBER + 1, &[]);
    fixture.answer(
        ISSUING_CRL,
        Answer::Drip {
            body: newer,
            every: Duration::from_millis(50),
        },
    );
    let started = Instant::now();
    let report = fixture.refresh_issuing().await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= CAP && elapsed < CAP + Duration::from_secs(1),
        "the refresh took {elapsed:?} under a cap of {CAP:?}"
    );
    fixture
        .assert_refused_keeping_last_good_crl(&report, "crl-fetch-timeout")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crl_larger_than_the_size_cap_fails_with_crl_too_large() {
    let fixture = Fixture::with_good_crls().await;
    let serials: Vec<Vec<u8>> = (0..200)
        .map(|i| certgate_testpki::revoked_serial(7, i))
        .collect();
    let large = crl(&fixture.issuing, GOOD_NUMBER + 1, &serials);
    assert!(large.len() as u64 > MAX_BYTES, "{} bytes", large.len());
    fixture
        .issuing_answer_is_refused(Answer::crl(large), "crl-too-large")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_closed_before_the_announced_length_fails_with_crl_fetch_truncated() {
    let fixture = Fixture::with_good_crls().await;
    let newer = crl(&fixture.issuing, GOOD_NUMBER + 1, &[]);
    fixture
        .issuing_answer_is_refused(Answer::CloseEarly { body: newer }, "crl-fetch-truncated")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crl_signed_with_another_key_fails_with_crl_signature_invalid() {
    let fixture = Fixture::with_good_crls().await;
    let forged = crl_signed_with_another_key(&fixture.pki, GOOD_NUMBER + 1);
    fixture
        .issuing_answer_is_refused(Answer::crl(forged), "crl-signature-invalid")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crl_with_a_lower_number_than_the_cached_one_fails_with_crl_number_regressed() {
    let fixture = Fixture::with_good_crls().await;
    let older = crl(&fixture.issuing, GOOD_NUMBER - 1, &[]);
    fixture
        .issuing_answer_is_refused(Answer::crl(older), "crl-number-regressed")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crl_past_its_next_update_fails_with_crl_stale() {
    let fixture = Fixture::with_good_crls().await;
    let expired = crl_valid_between(
        &fixture.issuing,
        GOOD_NUMBER + 1,
        VALIDATION_TIME - 10 * 86_400,
        VALIDATION_TIME - 86_400,
        &[],
    );
    fixture
        .issuing_answer_is_refused(Answer::crl(expired), "crl-stale")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_error_page_with_status_200_fails_with_crl_not_a_crl() {
    let fixture = Fixture::with_good_crls().await;
    let report = fixture
        .issuing_answer_is_refused(Answer::html_error_page(), "crl-not-a-crl")
        .await;
    if let RefreshOutcome::Failed { message, .. } = &report.outcome {
        assert!(message.contains("<!DOCTYPE html>"), "{message}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_404_fails_with_crl_fetch_http_status() {
    let fixture = Fixture::with_good_crls().await;
    fixture
        .issuing_answer_is_refused(Answer::status(404), "crl-fetch-http-status")
        .await;
}

/// A redirect is refused even to a path of the same server that serves a good, newer CRL: the
/// report and `status()` name the Location so the administrator can configure it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_fails_with_crl_fetch_redirected_naming_the_location() {
    let fixture = Fixture::with_good_crls().await;
    let moved = "/moved/issuing.crl";
    let newer = crl(&fixture.issuing, GOOD_NUMBER + 1, &[]);
    fixture.answer(moved, Answer::crl(newer));
    let location = fixture.server.url(moved);

    let report = fixture
        .issuing_answer_is_refused(
            Answer::Redirect {
                location: location.clone(),
            },
            "crl-fetch-redirected",
        )
        .await;

    if let RefreshOutcome::Failed { message, .. } = &report.outcome {
        assert!(message.contains(&location), "{message}");
    }
    let row = fixture.issuing_status().await;
    let (_, message) = row.fetch.and_then(|f| f.last_error).expect("recorded");
    assert!(message.contains(&location), "{message}");
    assert!(fixture.server.requests_for(moved).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_crl_at_the_base_url_fails_with_crl_wrong_kind() {
    let fixture = Fixture::with_good_crls().await;
    let delta = sign_crl(
        &fixture.issuing,
        &CrlRequest {
            crl_number: GOOD_NUMBER + 1,
            this_update: at(instants::CRL_THIS_UPDATE),
            next_update: at(instants::CRL_NEXT_UPDATE),
            revoked: Vec::new(),
            delta_of: Some(GOOD_NUMBER),
            freshest_crl_url: None,
        },
    )
    .expect("delta CRL");
    fixture
        .issuing_answer_is_refused(Answer::crl(delta), "crl-wrong-kind")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crl_of_another_ca_fails_with_crl_issuer_mismatch() {
    let fixture = Fixture::with_good_crls().await;
    // The root's CRL, current and correctly signed, but not the issuing CA's.
    let roots = crl(&fixture.root, GOOD_NUMBER + 1, &[]);
    fixture
        .issuing_answer_is_refused(Answer::crl(roots), "crl-issuer-mismatch")
        .await;
}

// ---------------------------------------------------------------------------------------------
// Without a usable CRL validation fails closed, unless the CA is exempt.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaf_is_rejected_with_crl_unavailable_when_no_crl_was_ever_fetched() {
    let mut fixture = Fixture::new(CrlRequirement::Required).await;
    fixture.server.go_down().await;
    let reports = fixture.refresh_all().await;
    assert_eq!(reports.len(), 2);
    for report in &reports {
        match &report.outcome {
            RefreshOutcome::Failed {
                code, kept_cached, ..
            } => {
                assert_eq!(code, "crl-fetch-failed");
                assert!(!kept_cached, "nothing was cached to keep");
            }
            other => panic!("expected a failure, got {other:?}"),
        }
    }
    for row in fixture.service.status().await.expect("status") {
        assert!(row.cached.is_none());
        assert_eq!(
            row.fetch.and_then(|f| f.last_error).map(|(code, _)| code),
            Some("crl-fetch-failed".to_owned())
        );
    }
    assert_eq!(fixture.validate_leaf(), Err("crl-unavailable"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaf_is_rejected_with_crl_stale_once_the_cached_crl_passes_its_next_update() {
    let fixture = Fixture::with_good_crls().await;
    fixture.clock.set(instants::CRL_NEXT_UPDATE - 1);
    fixture.service.rebuild().await.expect("rebuild");
    assert_eq!(
        fixture.validate_leaf(),
        Ok(()),
        "still current a second before"
    );
    fixture.clock.set(instants::CRL_NEXT_UPDATE + 1);
    fixture.service.rebuild().await.expect("rebuild");
    assert_eq!(fixture.validate_leaf(), Err("crl-stale"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaf_of_cas_exempt_from_crl_validation_validates_without_any_crl() {
    let mut fixture = Fixture::new(CrlRequirement::Exempt).await;
    fixture.server.go_down().await;
    let reports = fixture.refresh_all().await;
    assert!(reports.iter().all(|r| matches!(
        &r.outcome,
        RefreshOutcome::Failed {
            kept_cached: false,
            ..
        }
    )));
    assert!(fixture
        .service
        .status()
        .await
        .expect("status")
        .iter()
        .all(|row| row.cached.is_none()));
    assert_eq!(fixture.validate_leaf(), Ok(()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaf_listed_in_a_newer_crl_is_rejected_with_cert_revoked_after_refresh() {
    let fixture = Fixture::with_good_crls().await;
    let revoking = crl(
        &fixture.issuing,
        GOOD_NUMBER + 1,
        std::slice::from_ref(&fixture.pki.leaf.serial),
    );
    fixture.answer(ISSUING_CRL, Answer::crl(revoking));
    let report = fixture.refresh_issuing().await;
    assert!(
        matches!(
            &report.outcome,
            RefreshOutcome::Updated { crl_number, entries: 1, .. }
                if compare_crl_numbers(crl_number, &[11]) == Ordering::Equal
        ),
        "{report:?}"
    );
    assert_eq!(fixture.validate_leaf(), Err("cert-revoked"));
}

/// A refresh after the cached CRL's nextUpdate that brought nothing newer is a `crl-stale`
/// failure in the report and in `status()`, not a success: sign-ins are being refused.
async fn assert_reported_stale(fixture: &Fixture, report: &RefreshReport) {
    match &report.outcome {
        RefreshOutcome::Failed {
            code, kept_cached, ..
        } => {
            assert_eq!(code, "crl-stale");
            assert!(*kept_cached);
        }
        other => panic!("expected crl-stale, got {other:?}"),
    }
    let fetch = fixture.issuing_status().await.fetch.expect("fetch status");
    assert_eq!(
        fetch.last_error.map(|(code, _)| code).as_deref(),
        Some("crl-stale")
    );
    assert_eq!(fetch.last_success_at, Some(UnixTime(VALIDATION_TIME)));
    assert_eq!(fixture.validate_leaf(), Err("crl-stale"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_crl_served_again_after_its_next_update_is_reported_as_crl_stale() {
    let fixture = Fixture::with_good_crls().await;
    fixture.clock.set(instants::CRL_NEXT_UPDATE + 1);
    let report = fixture.refresh_issuing().await;
    assert_reported_stale(&fixture, &report).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_modified_after_the_cached_crls_next_update_is_reported_as_crl_stale() {
    let fixture = Fixture::new(CrlRequirement::Required).await;
    fixture.answer(ROOT_CRL, Answer::crl(crl(&fixture.root, GOOD_NUMBER, &[])));
    fixture.answer(
        ISSUING_CRL,
        Answer::crl_with_etag(crl(&fixture.issuing, GOOD_NUMBER, &[]), "\"v10\""),
    );
    fixture.refresh_all().await;
    fixture.clock.set(instants::CRL_NEXT_UPDATE + 1);
    let report = fixture.refresh_issuing().await;
    let requests = fixture.server.requests_for(ISSUING_CRL);
    assert_eq!(
        requests.last().and_then(|r| r.header("if-none-match")),
        Some("\"v10\""),
        "the server answered 304"
    );
    assert_reported_stale(&fixture, &report).await;
}

// ---------------------------------------------------------------------------------------------
// Conditional GET.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_refresh_sends_if_none_match_and_a_304_is_not_modified() {
    let fixture = Fixture::new(CrlRequirement::Required).await;
    let etag = "\"issuing-crl-10\"";
    fixture.answer(ROOT_CRL, Answer::crl(crl(&fixture.root, GOOD_NUMBER, &[])));
    fixture.answer(
        ISSUING_CRL,
        Answer::crl_with_etag(crl(&fixture.issuing, GOOD_NUMBER, &[]), etag),
    );
    let first = fixture.refresh_issuing().await;
    assert!(
        matches!(first.outcome, RefreshOutcome::Updated { .. }),
        "{first:?}"
    );
    let second = fixture.refresh_issuing().await;
    assert_eq!(second.outcome, RefreshOutcome::NotModified);

    let requests = fixture.server.requests_for(ISSUING_CRL);
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].header("if-none-match"), None);
    assert_eq!(requests[1].header("if-none-match"), Some(etag));
    let row = fixture.issuing_status().await;
    let fetch = row.fetch.expect("fetch status");
    assert_eq!(fetch.last_error, None);
    assert_eq!(fetch.consecutive_failures, 0);
    assert_eq!(row.cached.and_then(|c| c.etag).as_deref(), Some(etag));
}

// ---------------------------------------------------------------------------------------------
// The server keeps serving while its own refresh is stuck on a slow CRL.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_server_answers_healthz_and_keeps_validating_during_a_slow_drip_refresh() {
    let fixture = &Fixture::with_good_crls().await;
    let background_cap = Duration::from_secs(2);
    let config = TestServer::new()
        .crl(CrlSettings {
            background: FetchLimits {
                max_bytes: MAX_BYTES,
                max_duration: background_cap,
            },
            ..settings()
        })
        .config();
    let clock: Arc<dyn Clock> = fixture.clock.clone();
    let server = app::start(Arc::clone(&fixture.store), clock, config)
        .await
        .expect("server starts");
    // The state comes from the store's CRL cache, without any download.
    assert_eq!(validate_leaf_in(server.state(), fixture), Ok(()));
    assert_eq!(healthz(server.local_addr).await, "ok\n");

    // The issuing CA's CRL endpoint turns slow, and time moves to when a scheduled refresh is
    // due (past the 1 h maximum interval, long before the cached CRL's nextUpdate).
    let newer = crl(&fixture.issuing, GOOD_NUMBER + 1, &[]);
    fixture.answer(
        ISSUING_CRL,
        Answer::Drip {
            body: newer,
            every: Duration::from_millis(50),
        },
    );
    fixture.clock.advance(2 * 3600);
    wait_until(
        Duration::from_secs(5),
        "the server's scheduled refresh requests the slow CRL",
        move || async move { fixture.server.requests_for(ISSUING_CRL).len() >= 2 },
    )
    .await;

    // While the server's own download drips:
    assert_eq!(healthz(server.local_addr).await, "ok\n");
    assert_eq!(validate_leaf_in(server.state(), fixture), Ok(()));
    let row = fixture.issuing_status().await;
    assert_eq!(
        row.fetch.and_then(|f| f.last_error),
        None,
        "/healthz answered before the slow download hit its {background_cap:?} cap"
    );

    wait_until(
        Duration::from_secs(10),
        "the server records the timeout",
        move || async move {
            fixture
                .issuing_status()
                .await
                .fetch
                .and_then(|f| f.last_error)
                .is_some_and(|(code, _)| code == "crl-fetch-timeout")
        },
    )
    .await;
    assert_eq!(healthz(server.local_addr).await, "ok\n");
    assert_eq!(validate_leaf_in(server.state(), fixture), Ok(()));
    let cached = fixture.issuing_status().await.cached.expect("still cached");
    assert_eq!(
        compare_crl_numbers(&cached.crl_number, &GOOD_NUMBER.to_be_bytes()),
        Ordering::Equal
    );
    server.stop().await;
}

/// The CRL cache lives in the store: a new service on the same database (a restarted process)
/// validates with the cached CRLs while the CRL endpoint is down, without fetching anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_service_validates_from_the_persisted_cache_with_the_endpoint_down() {
    let mut fixture = Fixture::with_good_crls().await;
    fixture.server.go_down().await;
    let restarted: Service = CrlService::new(
        Arc::clone(&fixture.store),
        HttpCrlFetcher::new().expect("HTTP client"),
        Arc::clone(&fixture.clock),
        Arc::default(),
        settings(),
        "test",
    );
    assert_eq!(
        validate_leaf_in(restarted.state(), &fixture),
        Err("chain-incomplete"),
        "an empty state trusts nothing"
    );
    restarted.rebuild().await.expect("load from the store");
    assert_eq!(validate_leaf_in(restarted.state(), &fixture), Ok(()));
    assert_eq!(restarted.state().load().revocation().len(), 2);
}

// ---------------------------------------------------------------------------------------------
// The scheduler: background limits for a CA's first CRL; retries never outlast the cached CRL.

/// The interactive limit of [`settings`] (4 KiB) and a background limit far above it.
fn settings_with_larger_background_limit() -> CrlSettings {
    CrlSettings {
        background: FetchLimits {
            max_bytes: 64 * 1024,
            max_duration: CAP,
        },
        ..settings()
    }
}

/// An issuing CRL over the interactive limit (4 KiB) and under the background one (64 KiB).
fn crl_between_the_limits(fixture: &Fixture, number: u64) -> Vec<u8> {
    let serials: Vec<Vec<u8>> = (0..200)
        .map(|i| certgate_testpki::revoked_serial(7, i))
        .collect();
    let large = crl(&fixture.issuing, number, &serials);
    assert!(
        large.len() as u64 > MAX_BYTES && large.len() < 64 * 1024,
        "{} bytes",
        large.len()
    );
    large
}

impl Fixture {
    async fn issuing_fetch_status(&self) -> certgate_core::crl_cache::CrlFetchStatus {
        self.issuing_status()
            .await
            .fetch
            .expect("the attempt is recorded")
    }

    /// When the scheduler next asks any of the CAs' URLs.
    async fn next_scheduled(&self) -> i64 {
        self.service
            .status()
            .await
            .expect("status")
            .iter()
            .filter_map(|row| row.fetch.as_ref().map(|f| f.next_attempt_at.0))
            .min()
            .expect("attempts are recorded")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduler_loads_a_first_crl_larger_than_the_interactive_limit() {
    let fixture = Fixture::with_settings(
        CrlRequirement::Required,
        settings_with_larger_background_limit(),
    )
    .await;
    fixture.answer(ROOT_CRL, Answer::crl(crl(&fixture.root, GOOD_NUMBER, &[])));
    let large = crl_between_the_limits(&fixture, GOOD_NUMBER);
    fixture.answer(ISSUING_CRL, Answer::crl(large.clone()));
    assert_eq!(fixture.validate_leaf(), Err("crl-unavailable"));

    let reports = fixture.service.refresh_due().await.expect("refresh due");
    assert_eq!(reports.len(), 2, "{reports:?}");
    for report in &reports {
        assert!(
            matches!(report.outcome, RefreshOutcome::Updated { .. }),
            "{report:?}"
        );
    }
    let cached = fixture.issuing_status().await.cached.expect("cached");
    assert_eq!(cached.bytes, large.len() as i64);
    assert_eq!(fixture.validate_leaf(), Ok(()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_by_hand_refuses_a_crl_over_the_interactive_limit_and_leaves_it_to_the_scheduler() {
    let fixture = Fixture::with_settings(
        CrlRequirement::Required,
        settings_with_larger_background_limit(),
    )
    .await;
    fixture.answer(ROOT_CRL, Answer::crl(crl(&fixture.root, GOOD_NUMBER, &[])));
    fixture.answer(
        ISSUING_CRL,
        Answer::crl(crl_between_the_limits(&fixture, GOOD_NUMBER)),
    );

    let report = fixture.refresh_issuing().await;
    match &report.outcome {
        RefreshOutcome::Failed {
            code,
            message,
            kept_cached,
        } => {
            assert_eq!(code, "crl-too-large", "{message}");
            assert!(!kept_cached);
            assert!(
                message.contains("the background refresh of `certgate serve` loads CRLs up to 65536 bytes and fetches this one at its next run"),
                "{message}"
            );
        }
        other => panic!("expected crl-too-large, got {other:?}"),
    }
    let fetch = fixture.issuing_fetch_status().await;
    assert_eq!(fetch.consecutive_failures, 0);
    assert!(
        fetch.next_attempt_at.0 <= fixture.clock.now().0,
        "the scheduler is due at once: {:?}",
        fetch.next_attempt_at
    );

    let reports = fixture.service.refresh_due().await.expect("refresh due");
    let issuing = reports
        .iter()
        .find(|r| r.ca_id == fixture.issuing_id)
        .expect("the scheduler asked the issuing CA's URL");
    assert!(
        matches!(issuing.outcome, RefreshOutcome::Updated { .. }),
        "{issuing:?}"
    );
    assert_eq!(fixture.validate_leaf(), Ok(()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crl_over_the_background_limit_is_refused_by_the_scheduler_too() {
    // The interactive and background limits of `settings()` are both 4 KiB.
    let fixture = Fixture::new(CrlRequirement::Required).await;
    fixture.answer(ROOT_CRL, Answer::crl(crl(&fixture.root, GOOD_NUMBER, &[])));
    let serials: Vec<Vec<u8>> = (0..200)
        .map(|i| certgate_testpki::revoked_serial(7, i))
        .collect();
    fixture.answer(
        ISSUING_CRL,
        Answer::crl(crl(&fixture.issuing, GOOD_NUMBER, &serials)),
    );
    let reports = fixture.service.refresh_due().await.expect("refresh due");
    let issuing = reports
        .iter()
        .find(|r| r.ca_id == fixture.issuing_id)
        .expect("the issuing CA's URL");
    match &issuing.outcome {
        RefreshOutcome::Failed { code, message, .. } => {
            assert_eq!(code, "crl-too-large");
            assert!(!message.contains("background refresh"), "{message}");
        }
        other => panic!("expected crl-too-large, got {other:?}"),
    }
    assert_eq!(fixture.issuing_fetch_status().await.consecutive_failures, 1);
    assert_eq!(fixture.validate_leaf(), Err("crl-unavailable"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshes_by_hand_that_fail_leave_the_scheduled_retry_where_it_was() {
    let fixture = Fixture::with_good_crls().await;
    fixture.answer(ISSUING_CRL, Answer::status(503));
    // The scheduler fails once (both URLs are due within the hour): its retry is set.
    fixture.clock.advance(2 * 3600);
    fixture.service.refresh_due().await.expect("refresh due");
    let scheduled = fixture.issuing_fetch_status().await;
    assert_eq!(scheduled.consecutive_failures, 1);
    // An administrator tries by hand, three times, while the endpoint is still down.
    for _ in 0..3 {
        fixture.clock.advance(5);
        let report = fixture.refresh_issuing().await;
        assert!(
            matches!(&report.outcome, RefreshOutcome::Failed { code, .. } if code == "crl-fetch-http-status"),
            "{report:?}"
        );
    }
    let after = fixture.issuing_fetch_status().await;
    assert_eq!(
        after.consecutive_failures, 1,
        "no backoff from the manual attempts"
    );
    assert_eq!(after.next_attempt_at, scheduled.next_attempt_at);
    assert_eq!(after.last_attempt_at, fixture.clock.now());
    assert_eq!(
        after.last_error.as_ref().map(|(code, _)| code.as_str()),
        Some("crl-fetch-http-status")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_retries_reach_a_repaired_endpoint_before_the_cached_crl_expires() {
    let fixture = Fixture::with_good_crls().await;
    let expires = instants::CRL_NEXT_UPDATE;
    // The endpoint fails from 20 minutes before the cached CRLs expire and is repaired 200 s
    // before: a doubling backoff (30 s, 1, 2, 4, 8, then 15 min) would sleep through the
    // repair and past nextUpdate.
    let repaired_at = expires - 200;
    fixture.clock.set(expires - 1200);
    fixture.answer(ROOT_CRL, Answer::status(503));
    fixture.answer(ISSUING_CRL, Answer::status(503));
    let mut attempts = Vec::new();
    let mut updated = std::collections::HashSet::new();
    loop {
        let now = fixture.clock.now().0;
        assert!(
            now < expires,
            "no attempt reached the repaired endpoint before nextUpdate: attempts at {attempts:?} s before it"
        );
        if now >= repaired_at {
            let current_until = expires + 30 * 86_400;
            fixture.answer(
                ROOT_CRL,
                Answer::crl(crl_valid_between(
                    &fixture.root,
                    GOOD_NUMBER + 1,
                    now - 60,
                    current_until,
                    &[],
                )),
            );
            fixture.answer(
                ISSUING_CRL,
                Answer::crl(crl_valid_between(
                    &fixture.issuing,
                    GOOD_NUMBER + 1,
                    now - 60,
                    current_until,
                    &[],
                )),
            );
        }
        attempts.push(expires - now);
        let reports = fixture.service.refresh_due().await.expect("refresh due");
        assert!(!reports.is_empty(), "nothing was due at {now}");
        updated.extend(
            reports
                .iter()
                .filter(|r| matches!(r.outcome, RefreshOutcome::Updated { .. }))
                .map(|r| r.ca_id),
        );
        if updated.len() == 2 {
            break;
        }
        let next = fixture.next_scheduled().await;
        assert!(
            next > now,
            "the next attempt {next} is after this one {now}"
        );
        fixture.clock.set(next);
    }
    assert!(attempts.len() > 5, "{attempts:?}");
    fixture.clock.set(expires + 1);
    fixture.service.rebuild().await.expect("rebuild");
    assert_eq!(
        fixture.validate_leaf(),
        Ok(()),
        "the CRLs fetched before the old ones expired are current"
    );
}
