//! The admin REST API, in process on port 0: plain HTTP for the API's logic, and the real
//! certificate sign-in listener (rustls, client-certificate handshakes) for administrators'
//! certificates. Covers access (no credentials, a wrong, revoked or good token, admin and
//! non-admin certificates), each resource's round trip with Graph's names, error codes and
//! statuses, the audit entries every change leaves, and the OpenAPI document: served equal to
//! docs/openapi.json (`CERTGATE_UPDATE_GOLDEN=1` rewrites it), naming exactly the routes the
//! router serves, and describing every answer's properties. Store-backed tests run on SQLite
//! and PostgreSQL.

mod common;

use certgate_core::crl_cache::CrlCacheStore;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use base64::Engine as _;
use certgate_ca::Authority;
use certgate_core::admin_token::{create_admin_token, revoke_admin_token, AdminTokenStore};
use certgate_core::clock::{Clock, FixedClock};
use certgate_core::directory::{add_user, UserDraft};
use certgate_core::signin::{SignInLog, SignInQuery};
use certgate_core::trusted_ca::CaRecord;
use certgate_core::validation_state::SharedState;
use certgate_oidc::{Issuer, Provider, ProviderConfig};
use certgate_pki::UnixTime;
use certgate_server::admin_api::{self, AdminContext};
use certgate_server::certauth::{CertAuthTls, ClientCertificates};
use certgate_server::crl_refresh::{CrlService, CrlSettings};
use certgate_server::oidc_policy::DirectoryRefreshPolicy;
use certgate_server::HttpCrlFetcher;
use certgate_store::SqlStore;
use certgate_testpki::{ChainSpec, CrlSpec, KeyKind, TestPki, VALIDATION_TIME};
use common::{Backend, Credential, TestDatabase, TrustedPki};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::sync::watch;

const TOKEN_NAME: &str = "test-token";
const PASSPHRASE: &[u8] = b"admin api test passphrase";

type Service = CrlService<SqlStore, HttpCrlFetcher, Arc<dyn Clock>>;

struct Fixture {
    store: Arc<SqlStore>,
    crl: Arc<Service>,
    clock: Arc<FixedClock>,
    /// `http://127.0.0.1:port/api/v1`
    base: String,
    /// The certificate sign-in listener with the API nested, and its certificate.
    tls_addr: SocketAddr,
    server_certificate: Vec<u8>,
    token: String,
    pki: TestPki,
    issuing: Authority,
    cas: Vec<CaRecord>,
    revoked: Credential,
    http: reqwest::Client,
    _shutdown: watch::Sender<bool>,
    _database: TestDatabase,
}

fn now() -> UnixTime {
    UnixTime(VALIDATION_TIME)
}

async fn serve_plain(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/api/v1")
}

impl Fixture {
    async fn new(backend: Backend) -> Fixture {
        let TrustedPki {
            pki,
            issuing,
            revoked,
            cas,
            store,
            database,
        } = TrustedPki::new(backend, "admin@corp.example", |_| true).await;
        for (upn, groups, enabled) in [
            ("admin@corp.example", vec!["certgate-admins"], true),
            ("bob@corp.example", vec!["staff"], true),
            ("dora@corp.example", vec!["certgate-admins"], false),
        ] {
            add_user(
                &*store,
                UserDraft {
                    groups: groups.into_iter().map(str::to_owned).collect(),
                    enabled,
                    ..UserDraft::new(upn)
                },
                now(),
                "test",
            )
            .await
            .expect("user");
        }
        let (_, secret) = create_admin_token(&*store, TOKEN_NAME, now(), "test")
            .await
            .expect("token");

        let clock = Arc::new(FixedClock::at(VALIDATION_TIME));
        let dyn_clock: Arc<dyn Clock> = clock.clone();
        let crl = Arc::new(CrlService::new(
            Arc::clone(&store),
            HttpCrlFetcher::new().expect("fetcher"),
            Arc::clone(&dyn_clock),
            Arc::new(SharedState::default()),
            CrlSettings::default(),
            "server",
        ));
        crl.rebuild().await.expect("validation state");
        let provider = Provider::open(
            ProviderConfig::new(Issuer::parse("https://localhost:8443").expect("issuer")),
            (*store).clone(),
            DirectoryRefreshPolicy {
                directory: Arc::clone(&store),
                state: Arc::clone(crl.state()),
                clock: Arc::clone(&dyn_clock),
            },
            PASSPHRASE,
            now(),
        )
        .await
        .expect("provider");
        let context = Arc::new(
            AdminContext::new(Arc::clone(&store), Arc::clone(&dyn_clock), Arc::clone(&crl))
                .with_applications(Arc::new(provider))
                .with_key_passphrase(zeroize::Zeroizing::new(PASSPHRASE.to_vec())),
        );
        let app = Router::new().nest("/api/v1", admin_api::routes(context));
        let base = serve_plain(app.clone()).await;

        let (identity, server_certificate) = common::localhost_identity();
        let tls = Arc::new(CertAuthTls::new(identity, ClientCertificates::Request).expect("TLS"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let tls_addr = listener.local_addr().expect("address");
        let (shutdown, stop) = watch::channel(false);
        tokio::spawn(certgate_server::certauth::serve(
            listener,
            tls,
            Arc::clone(crl.state()),
            app,
            stop,
        ));
        Fixture {
            store,
            crl,
            clock,
            base,
            tls_addr,
            server_certificate,
            token: secret.expose().to_owned(),
            revoked,
            pki,
            issuing,
            cas,
            http: reqwest::Client::new(),
            _shutdown: shutdown,
            _database: database,
        }
    }

    /// A certificate for `upn` from the trusted issuing CA.
    fn credential(&self, upn: &str) -> Credential {
        Credential::issue(&self.issuing, upn, 365, VALIDATION_TIME - 3600)
    }

    /// A request over plain HTTP with the admin token.
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        self.send(method, path, body, Some(&self.token)).await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        bearer: Option<&str>,
    ) -> Answer {
        let mut builder = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = bearer {
            builder = builder.bearer_auth(token);
        }
        if let Some(body) = body {
            builder = builder
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        Answer::of(builder.send().await.expect("request")).await
    }

    /// A bodyless request over the certificate sign-in listener with one extra header.
    async fn call_tls_with(
        &self,
        method: Method,
        path: &str,
        credential: Option<&Credential>,
        bearer: Option<&str>,
        (name, value): (&str, &str),
    ) -> Answer {
        self.call_tls_request(method, path, None, credential, bearer, Some((name, value)))
            .await
    }

    /// A request over the certificate sign-in listener, presenting `credential`.
    async fn call_tls(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        credential: Option<&Credential>,
        bearer: Option<&str>,
    ) -> Answer {
        self.call_tls_request(method, path, body, credential, bearer, None)
            .await
    }

    async fn call_tls_request(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        credential: Option<&Credential>,
        bearer: Option<&str>,
        header: Option<(&str, &str)>,
    ) -> Answer {
        let mut client = reqwest::Client::builder()
            .tls_certs_only([
                reqwest::Certificate::from_der(&self.server_certificate).expect("server root")
            ])
            .resolve("localhost", self.tls_addr);
        if let Some(credential) = credential {
            client = client.identity(
                reqwest::Identity::from_pem(pem(credential).as_bytes()).expect("identity"),
            );
        }
        let client = client.build().expect("client");
        let mut builder = client.request(
            method,
            format!("https://localhost:{}/api/v1{path}", self.tls_addr.port()),
        );
        if let Some(token) = bearer {
            builder = builder.bearer_auth(token);
        }
        if let Some((name, value)) = header {
            builder = builder.header(name, value);
        }
        if let Some(body) = body {
            builder = builder
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        Answer::of(builder.send().await.expect("request")).await
    }

    async fn audit(&self) -> Vec<Value> {
        let answer = self
            .call(Method::GET, "/auditLogs/directoryAudits?$top=200", None)
            .await;
        answer.ok(200, "DirectoryAuditCollection");
        answer.body["value"].as_array().expect("value").clone()
    }
}

fn pem(credential: &Credential) -> String {
    let block = |label: &str, der: &[u8]| {
        let text = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = text
            .as_bytes()
            .chunks(64)
            .map(|line| std::str::from_utf8(line).expect("base64"))
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    };
    let mut out = block("PRIVATE KEY", &credential.key_pkcs8);
    for der in &credential.chain {
        out.push_str(&block("CERTIFICATE", der));
    }
    out
}

/// An answer: status, the WWW-Authenticate header, the JSON body.
struct Answer {
    status: StatusCode,
    challenge: Option<String>,
    body: Value,
}

impl Answer {
    async fn of(response: reqwest::Response) -> Answer {
        let status = response.status();
        let challenge = response
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().expect("header").to_owned());
        let text = response.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("JSON ({e}): {text}"))
        };
        Answer {
            status,
            challenge,
            body,
        }
    }

    /// The status, and the body matches the named schema of the OpenAPI document.
    #[track_caller]
    fn ok(&self, status: u16, schema: &str) {
        assert_eq!(self.status.as_u16(), status, "{:#}", self.body);
        conforms(schema, &self.body);
    }

    /// An error answer with this status and code, in Graph's shape, whose message is the
    /// person-readable one (it says `saying`).
    #[track_caller]
    fn refused_saying(&self, status: u16, code: &str, saying: &str) {
        self.refused(status, code);
        assert!(
            self.body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(saying)),
            "{:#}",
            self.body
        );
    }

    /// An error answer with this status and code, in Graph's shape.
    #[track_caller]
    fn refused(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "{:#}", self.body);
        assert_eq!(self.body["error"]["code"], code, "{:#}", self.body);
        conforms("Error", &self.body);
        assert!(
            self.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{:#}",
            self.body
        );
    }
}

fn document() -> Value {
    serde_json::from_str(admin_api::openapi_document()).expect("OpenAPI JSON")
}

/// `value` has exactly the properties the schema names (recursively through `$ref`s).
#[track_caller]
fn conforms(schema_name: &str, value: &Value) {
    let document = document();
    let schema = &document["components"]["schemas"][schema_name];
    assert!(schema.is_object(), "no schema {schema_name}");
    check(&document, schema, value, schema_name);
}

fn check(document: &Value, schema: &Value, value: &Value, at: &str) {
    if let Some(target) = schema["$ref"].as_str() {
        let name = target.rsplit('/').next().expect("ref");
        return check(
            document,
            &document["components"]["schemas"][name],
            value,
            at,
        );
    }
    if let Some(options) = schema["oneOf"].as_array() {
        if value.is_null() {
            return;
        }
        let object = options.iter().find(|o| o["$ref"].is_string()).expect("ref");
        return check(document, object, value, at);
    }
    if let Some(properties) = schema["properties"].as_object() {
        let object = value
            .as_object()
            .unwrap_or_else(|| panic!("{at}: not an object: {value}"));
        let documented: BTreeSet<&String> = properties.keys().collect();
        let present: BTreeSet<&String> = object.keys().collect();
        assert_eq!(
            present, documented,
            "{at}: properties differ from the schema"
        );
        for (name, property) in properties {
            check(document, property, &object[name], &format!("{at}.{name}"));
        }
    }
    if schema["type"] == "array" {
        for (i, item) in value.as_array().expect("array").iter().enumerate() {
            check(document, &schema["items"], item, &format!("{at}[{i}]"));
        }
    }
}

fn b64(der: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(der)
}

/// Runs `$behaviour` on SQLite and on PostgreSQL, under explicit names.
macro_rules! on_both_backends {
    ($($behaviour:ident => $sqlite:ident, $postgres:ident;)+) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $sqlite() {
            $behaviour(Fixture::new(Backend::Sqlite).await).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $postgres() {
            $behaviour(Fixture::new(Backend::Postgres).await).await;
        }
    )+};
}

on_both_backends! {
    tokens_are_checked_and_revoked_tokens_refused
        => tokens_are_checked_and_revoked_tokens_refused_on_sqlite,
           tokens_are_checked_and_revoked_tokens_refused_on_postgres;
    trusted_cas_round_trip_with_graph_names
        => trusted_cas_round_trip_with_graph_names_on_sqlite,
           trusted_cas_round_trip_with_graph_names_on_postgres;
    users_round_trip_with_graph_names
        => users_round_trip_with_graph_names_on_sqlite,
           users_round_trip_with_graph_names_on_postgres;
    a_synchronised_user_takes_only_group_changes
        => a_synchronised_user_takes_only_group_changes_on_sqlite,
           a_synchronised_user_takes_only_group_changes_on_postgres;
    binding_and_strength_rules_round_trip
        => binding_and_strength_rules_round_trip_on_sqlite,
           binding_and_strength_rules_round_trip_on_postgres;
    applications_round_trip_and_the_secret_is_shown_once
        => applications_round_trip_and_the_secret_is_shown_once_on_sqlite,
           applications_round_trip_and_the_secret_is_shown_once_on_postgres;
    relying_parties_round_trip_and_duplicates_are_refused
        => relying_parties_round_trip_and_duplicates_are_refused_on_sqlite,
           relying_parties_round_trip_and_duplicates_are_refused_on_postgres;
    token_signing_keys_are_listed_and_rotated
        => token_signing_keys_are_listed_and_rotated_on_sqlite,
           token_signing_keys_are_listed_and_rotated_on_postgres;
    crl_status_and_refresh_on_request
        => crl_status_and_refresh_on_request_on_sqlite,
           crl_status_and_refresh_on_request_on_postgres;
    admin_certificates_on_the_certificate_sign_in_listener
        => admin_certificates_on_the_certificate_sign_in_listener_on_sqlite,
           admin_certificates_on_the_certificate_sign_in_listener_on_postgres;
}

// ---- The document -----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_is_served_without_credentials_and_matches_the_checked_in_file() {
    let fixture = Fixture::new(Backend::Sqlite).await;
    let served = fixture
        .http
        .get(format!("{}/openapi.json", fixture.base))
        .send()
        .await
        .expect("request");
    assert_eq!(served.status(), 200);
    assert_eq!(
        served.headers()["content-type"].to_str().expect("type"),
        "application/json"
    );
    let served = served.text().await.expect("body");
    assert_eq!(served, admin_api::openapi_document());
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    if std::env::var_os("CERTGATE_UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::write(&path, &served).expect("write docs/openapi.json");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "reading {}: {e} (CERTGATE_UPDATE_GOLDEN=1 creates it)",
            path.display()
        )
    });
    assert!(
        checked_in == served,
        "docs/openapi.json differs from the document certgate serves (CERTGATE_UPDATE_GOLDEN=1 cargo test -p certgate-server --test admin_api rewrites it)"
    );
    assert_eq!(document()["openapi"], "3.1.0");
}

/// A path of the document with its parameters filled in.
fn concrete(path: &str) -> String {
    path.replace("{id}", "1")
        .replace("{idOrUpn}", "admin@corp.example")
        .replace("{priority}", "1")
        .replace("{appId}", "nobody")
        .replace("{idOrName}", "nobody")
        .replace("{serial}", "0badc0de")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_is_documented_and_every_documented_route_is_served() {
    let fixture = Fixture::new(Backend::Sqlite).await;
    let document = document();
    let mut documented = BTreeSet::new();
    for (path, methods) in document["paths"].as_object().expect("paths") {
        for (method, operation) in methods.as_object().expect("methods") {
            documented.insert((method.to_ascii_uppercase(), path.clone()));
            assert!(operation["operationId"].is_string(), "{method} {path}");
            assert!(operation["responses"].is_object(), "{method} {path}");
        }
    }
    let registered: BTreeSet<(String, String)> = admin_api::registered_routes()
        .into_iter()
        .map(|(method, path)| (method.to_owned(), path.to_owned()))
        .collect();
    assert_eq!(documented, registered);

    // Each documented route answers (401 without credentials: it exists and is guarded; the
    // document itself is public), and on each path the methods not documented get 405.
    let paths: BTreeSet<&String> = registered.iter().map(|(_, path)| path).collect();
    for path in paths {
        for method in admin_api::methods() {
            let method = Method::from_bytes(method.as_bytes()).expect("method");
            let answer = fixture
                .send(method.clone(), &concrete(path), None, None)
                .await;
            if registered.contains(&(method.to_string(), path.clone())) {
                if path == "/openapi.json" {
                    assert_eq!(answer.status, 200);
                } else {
                    answer.refused(401, "admin-credentials-missing");
                    let challenge = answer.challenge.as_deref().unwrap_or_default();
                    assert!(
                        challenge.starts_with("Bearer"),
                        "{method} {path}: {challenge}"
                    );
                }
            } else {
                answer.refused(405, "method-not-allowed");
            }
        }
    }
    fixture
        .call(Method::GET, "/noSuchThing", None)
        .await
        .refused(404, "route-not-found");
}

// ---- Access -----------------------------------------------------------------------------------

async fn tokens_are_checked_and_revoked_tokens_refused(fixture: Fixture) {
    let wrong = fixture
        .send(Method::GET, "/users", None, Some("cgadm_0000"))
        .await;
    wrong.refused(401, "admin-token-invalid");
    assert_eq!(
        wrong.challenge.as_deref(),
        Some("Bearer realm=\"certgate\", error=\"invalid_token\"")
    );
    let basic = fixture
        .http
        .get(format!("{}/users", fixture.base))
        .basic_auth("admin", Some("password"))
        .send()
        .await
        .expect("request");
    Answer::of(basic)
        .await
        .refused(401, "admin-authorization-scheme-unsupported");

    fixture
        .call(Method::GET, "/users", None)
        .await
        .ok(200, "UserCollection");
    let tokens = fixture.store.admin_tokens().await.expect("tokens");
    assert_eq!(tokens[0].last_used_at, Some(now()));

    revoke_admin_token(&*fixture.store, TOKEN_NAME, now(), "test")
        .await
        .expect("revoke");
    fixture
        .call(Method::GET, "/users", None)
        .await
        .refused(401, "admin-token-revoked");
}

// ---- Trusted CAs ------------------------------------------------------------------------------

async fn trusted_cas_round_trip_with_graph_names(fixture: Fixture) {
    let list = fixture
        .call(Method::GET, "/certificateAuthorities", None)
        .await;
    list.ok(200, "CertificateAuthorityCollection");
    assert_eq!(list.body["value"].as_array().expect("list").len(), 2);
    assert_eq!(list.body["value"][0]["isRootAuthority"], true);
    assert_eq!(
        list.body["value"][0]["certificate"],
        b64(&fixture.pki.root.der)
    );

    // Another organisation's root and issuing CA, as one PEM bundle: added together.
    let other = TestPki::three_level(&ChainSpec {
        serial_seed: 0x0A11,
        ..ChainSpec::with_key(KeyKind::EcdsaP256)
    })
    .expect("PKI");
    let bundle = format!("{}{}", other.root.pem, other.intermediate.pem);
    let added = fixture
        .call(
            Method::POST,
            "/certificateAuthorities",
            Some(json!({"certificate": b64(bundle.as_bytes()), "displayName": "Fabrikam"})),
        )
        .await;
    added.ok(201, "CertificateAuthorityCollection");
    let added = added.body["value"].as_array().expect("added").clone();
    assert_eq!(added.len(), 2);
    assert_eq!(added[0]["isRootAuthority"], true);
    assert_eq!(added[1]["isRootAuthority"], false);
    assert_eq!(added[1]["displayName"], "Fabrikam");
    assert_eq!(added[1]["isIssuerHintEnabled"], true);
    assert_eq!(added[1]["certificateRevocationListUrl"], Value::Null);
    let id = added[1]["id"].as_i64().expect("id");

    // The service's refusal (its rules are certgate-core's tests/trusted_cas.rs), with its
    // status and message.
    let third = TestPki::three_level(&ChainSpec {
        serial_seed: 0x0B22,
        ..ChainSpec::with_key(KeyKind::EcdsaP256)
    })
    .expect("PKI");
    let mixed = format!("{}{}", third.root.pem, other.root.pem);
    fixture
        .call(
            Method::POST,
            "/certificateAuthorities",
            Some(json!({"certificate": b64(mixed.as_bytes())})),
        )
        .await
        .refused_saying(409, "ca-duplicate", "is already trusted as CA");

    // The API's own refusals: what the request body carries and how.
    for (body, status, code) in [
        (
            json!({"certificate": "not base64!"}),
            400,
            "ca-certificate-malformed",
        ),
        (
            json!({"certificate": b64(mixed.as_bytes()), "certificateRevocationListUrl": "http://x/r.crl"}),
            400,
            "ca-urls-need-one-certificate",
        ),
        (
            json!({"certificate": b64(&third.root.der), "isRoot": true}),
            400,
            "request-body-invalid",
        ),
    ] {
        fixture
            .call(Method::POST, "/certificateAuthorities", Some(body))
            .await
            .refused(status, code);
    }
    let not_json = fixture
        .http
        .post(format!("{}/certificateAuthorities", fixture.base))
        .bearer_auth(&fixture.token)
        .body("certificate=x")
        .send()
        .await
        .expect("request");
    Answer::of(not_json)
        .await
        .refused(415, "request-content-type");

    // Change, read back, clear a URL with null.
    let patched = fixture
        .call(
            Method::PATCH,
            &format!("/certificateAuthorities/{id}"),
            Some(json!({
                "certificateRevocationListUrl": "http://pki.fabrikam.example/issuing.crl",
                "deltaCertificateRevocationListUrl": "http://pki.fabrikam.example/issuing-delta.crl",
                "isIssuerHintEnabled": false,
                "displayName": "Fabrikam Issuing",
            })),
        )
        .await;
    patched.ok(200, "CertificateAuthority");
    assert_eq!(
        patched.body["deltaCertificateRevocationListUrl"],
        "http://pki.fabrikam.example/issuing-delta.crl"
    );
    assert_eq!(patched.body["isIssuerHintEnabled"], false);
    fixture
        .call(
            Method::PATCH,
            &format!("/certificateAuthorities/{id}"),
            Some(json!({"certificateRevocationListUrl": null})),
        )
        .await
        .refused_saying(
            400,
            "ca-delta-without-base",
            "a delta CRL URL needs a base CRL URL",
        );
    let cleared = fixture
        .call(
            Method::PATCH,
            &format!("/certificateAuthorities/{id}"),
            Some(json!({"certificateRevocationListUrl": null, "deltaCertificateRevocationListUrl": null})),
        )
        .await;
    cleared.ok(200, "CertificateAuthority");
    assert_eq!(cleared.body["certificateRevocationListUrl"], Value::Null);
    let one = fixture
        .call(Method::GET, &format!("/certificateAuthorities/{id}"), None)
        .await;
    one.ok(200, "CertificateAuthority");
    assert_eq!(one.body, cleared.body);
    assert_eq!(one.body["issuer"], added[1]["issuer"]);
    assert!(one.body["issuerSki"]
        .as_str()
        .is_some_and(|s| s.len() == 40));

    // Remove; then it is gone.
    let removed = fixture
        .call(
            Method::DELETE,
            &format!("/certificateAuthorities/{id}"),
            None,
        )
        .await;
    removed.ok(200, "CertificateAuthority");
    assert_eq!(removed.body["id"], id);
    for method in [Method::GET, Method::DELETE] {
        fixture
            .call(method, &format!("/certificateAuthorities/{id}"), None)
            .await
            .refused_saying(404, "ca-not-found", &format!("no trusted CA has id {id}"));
    }
    fixture
        .call(Method::GET, "/certificateAuthorities/not-a-number", None)
        .await
        .refused(404, "ca-not-found");

    // This node's validation state follows at once.
    assert_eq!(
        fixture.crl.state().load().generation(),
        fixture.store.generation().await.expect("generation")
    );
    let audit = fixture.audit().await;
    let actions: Vec<&str> = audit
        .iter()
        .filter(|e| e["initiatedBy"] == "api:test-token")
        .map(|e| e["activityDisplayName"].as_str().expect("action"))
        .collect();
    assert_eq!(
        actions,
        ["ca.remove", "ca.set", "ca.set", "ca.add", "ca.add"],
        "{audit:#?}"
    );
}

// ---- Users ------------------------------------------------------------------------------------

/// A user the directory sync brought: shown with its origin and directory groups, its
/// directory attributes refused (409) and left as they were, its groups changed, its directory
/// groups not writable. (The rule itself is certgate-core's
/// tests/directory_source.rs.)
async fn a_synchronised_user_takes_only_group_changes(fixture: Fixture) {
    use certgate_core::directory::UserStore;
    use certgate_core::directory_source::{
        apply_sync, map_entries, plan_sync, AttributeMap, DirectoryEntry,
    };
    let dn = "CN=erin,OU=Staff,DC=corp,DC=example";
    let entry = DirectoryEntry::new(dn)
        .with("userPrincipalName", &[b"erin@corp.example"])
        .with("objectGUID", &[&[7; 16]])
        .with("userAccountControl", &[b"512"]);
    let known = fixture.store.list_users().await.expect("users");
    let mut mapped = map_entries(&[entry], &AttributeMap::active_directory());
    mapped.entries[0].directory_groups = vec!["Sales".into()];
    let plan = plan_sync(
        &known,
        mapped,
        now(),
        std::time::Duration::from_secs(86_400),
    );
    let outcome = apply_sync(fixture.store.as_ref(), &plan, now(), "directory-sync").await;
    assert_eq!(outcome.failed, []);

    let erin = fixture
        .call(Method::GET, "/users/erin@corp.example", None)
        .await;
    erin.ok(200, "User");
    assert_eq!(erin.body["onPremisesSyncEnabled"], true);
    assert_eq!(erin.body["onPremisesDistinguishedName"], dn);
    assert_eq!(erin.body["directoryGroups"], json!(["Sales"]));
    assert_eq!(erin.body["groups"], json!([]));
    let bob = fixture
        .call(Method::GET, "/users/bob@corp.example", None)
        .await;
    assert_eq!(bob.body["onPremisesSyncEnabled"], false);
    assert_eq!(bob.body["onPremisesDistinguishedName"], Value::Null);

    fixture
        .call(
            Method::PATCH,
            "/users/erin@corp.example",
            Some(json!({"displayName": "Erin E.", "accountEnabled": false})),
        )
        .await
        .refused_saying(
            409,
            "user-attribute-from-directory",
            "change displayName, accountEnabled in the directory",
        );
    let patched = fixture
        .call(
            Method::PATCH,
            "/users/erin@corp.example",
            Some(json!({"groups": ["vpn-users"]})),
        )
        .await;
    patched.ok(200, "User");
    assert_eq!(patched.body["groups"], json!(["vpn-users"]));
    assert_eq!(patched.body["directoryGroups"], json!(["Sales"]));
    // Directory groups are the sync's alone: the API has no way to write them.
    fixture
        .call(
            Method::PATCH,
            "/users/erin@corp.example",
            Some(json!({"directoryGroups": ["certgate-admins"]})),
        )
        .await
        .refused_saying(400, "request-body-invalid", "directoryGroups");
    assert_eq!(patched.body["displayName"], erin.body["displayName"]);
    assert_eq!(patched.body["accountEnabled"], true);
}

async fn users_round_trip_with_graph_names(fixture: Fixture) {
    let cuid = "X509:<SKI>0A1B2C3D";
    let added = fixture
        .call(
            Method::POST,
            "/users",
            Some(json!({
                "userPrincipalName": "carol@corp.example",
                "displayName": "Carol",
                "mail": "carol@corp.example",
                "proxyAddresses": ["SMTP:carol@corp.example"],
                "authorizationInfo": {"certificateUserIds": [cuid]},
                "groups": ["staff"],
            })),
        )
        .await;
    added.ok(201, "User");
    assert_eq!(added.body["userPrincipalName"], "carol@corp.example");
    assert_eq!(
        added.body["authorizationInfo"]["certificateUserIds"][0],
        "X509:<SKI>0a1b2c3d"
    );
    assert_eq!(added.body["accountEnabled"], true);
    assert_eq!(added.body["signInSessionsValidFromDateTime"], Value::Null);
    let id = added.body["id"].as_str().expect("id").to_owned();
    assert_eq!(added.body["onPremisesImmutableId"], id.as_str());

    for key in ["carol@corp.example", "CAROL@corp.example", id.as_str()] {
        let one = fixture
            .call(Method::GET, &format!("/users/{key}"), None)
            .await;
        one.ok(200, "User");
        assert_eq!(one.body, added.body);
    }
    let list = fixture.call(Method::GET, "/users", None).await;
    list.ok(200, "UserCollection");
    let upns: Vec<&str> = list.body["value"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u["userPrincipalName"].as_str().expect("upn"))
        .collect();
    assert_eq!(
        upns,
        [
            "admin@corp.example",
            "bob@corp.example",
            "carol@corp.example",
            "dora@corp.example"
        ]
    );

    // Refusals: the service's, one per status (the directory's rules are certgate-core's
    // tests/directory.rs), and the API's own for the request body.
    fixture
        .call(
            Method::POST,
            "/users",
            Some(json!({"userPrincipalName": "Bob@corp.example"})),
        )
        .await
        .refused_saying(409, "user-upn-taken", "is already used by bob@corp.example");
    for (body, status, code) in [
        (
            json!({"userPrincipalName": "not-a-upn"}),
            400,
            "user-upn-invalid",
        ),
        (
            json!({"userPrincipalName": "dave@corp.example", "acountEnabled": false}),
            400,
            "request-body-invalid",
        ),
        (json!({}), 400, "request-body-invalid"),
    ] {
        fixture
            .call(Method::POST, "/users", Some(body))
            .await
            .refused(status, code);
    }

    // PATCH: lists replaced whole, mail removed with null, disabled.
    let patched = fixture
        .call(
            Method::PATCH,
            "/users/carol@corp.example",
            Some(json!({
                "mail": null,
                "accountEnabled": false,
                "authorizationInfo": {"certificateUserIds": []},
                "groups": ["staff", "certgate-admins"],
            })),
        )
        .await;
    patched.ok(200, "User");
    assert_eq!(patched.body["mail"], Value::Null);
    assert_eq!(patched.body["accountEnabled"], false);
    assert_eq!(
        patched.body["authorizationInfo"]["certificateUserIds"],
        json!([])
    );
    assert_eq!(patched.body["groups"], json!(["staff", "certgate-admins"]));
    assert_eq!(patched.body["displayName"], "Carol");
    fixture
        .call(
            Method::PATCH,
            "/users/carol@corp.example",
            Some(json!({"userPrincipalName": "admin@corp.example"})),
        )
        .await
        .refused(409, "user-upn-taken");

    // StsRefreshTokensValidFrom as Set-MsolUser: a past date is refused and changes nothing; a
    // future date stores now.
    fixture
        .call(
            Method::POST,
            "/users/carol@corp.example/stsRefreshTokensValidFrom",
            Some(json!({"date": "2025-01-01"})),
        )
        .await
        .refused(400, "sts-date-not-in-future");
    fixture
        .call(
            Method::POST,
            "/users/carol@corp.example/stsRefreshTokensValidFrom",
            Some(json!({"date": "tomorrow"})),
        )
        .await
        .refused(400, "date-invalid");
    let unchanged = fixture
        .call(Method::GET, "/users/carol@corp.example", None)
        .await;
    assert_eq!(
        unchanged.body["signInSessionsValidFromDateTime"],
        Value::Null
    );
    let future = fixture
        .call(
            Method::POST,
            "/users/carol@corp.example/stsRefreshTokensValidFrom",
            Some(json!({"date": "2027-06-01T00:00:00Z"})),
        )
        .await;
    future.ok(200, "User");
    assert_eq!(
        future.body["signInSessionsValidFromDateTime"],
        "2026-01-01T00:00:00Z"
    );
    fixture.clock.advance(60);
    let revoked = fixture
        .call(
            Method::POST,
            "/users/carol@corp.example/revokeSignInSessions",
            None,
        )
        .await;
    revoked.ok(200, "User");
    assert_eq!(
        revoked.body["signInSessionsValidFromDateTime"],
        "2026-01-01T00:01:00Z"
    );

    // Remove; then it is gone.
    let removed = fixture
        .call(Method::DELETE, &format!("/users/{id}"), None)
        .await;
    removed.ok(200, "User");
    assert_eq!(removed.body["userPrincipalName"], "carol@corp.example");
    for (method, path) in [
        (Method::GET, "/users/carol@corp.example"),
        (Method::DELETE, "/users/carol@corp.example"),
        (
            Method::POST,
            "/users/carol@corp.example/revokeSignInSessions",
        ),
    ] {
        fixture
            .call(method, path, None)
            .await
            .refused(404, "user-not-found");
    }

    let audit = fixture.audit().await;
    let actions: Vec<&str> = audit
        .iter()
        .filter(|e| e["initiatedBy"] == "api:test-token")
        .map(|e| e["activityDisplayName"].as_str().expect("action"))
        .collect();
    assert_eq!(
        actions,
        [
            "user.remove",
            "user.revoke-sessions",
            "user.set-sts-refresh-tokens-valid-from",
            "user.set",
            "user.add"
        ],
        "{audit:#?}"
    );
    assert!(audit.iter().all(|e| e["result"] == "success"));
}

// ---- Rules ------------------------------------------------------------------------------------

async fn binding_and_strength_rules_round_trip(fixture: Fixture) {
    let defaults = fixture
        .call(Method::GET, "/certificateUserBindings", None)
        .await;
    defaults.ok(200, "CertificateUserBindings");
    assert_eq!(defaults.body["usesDefaultBindings"], true);
    assert_eq!(
        defaults.body["certificateUserBindings"]
            .as_array()
            .expect("rules")
            .len(),
        4
    );
    let added = fixture
        .call(
            Method::POST,
            "/certificateUserBindings",
            Some(json!({"x509CertificateField": "SubjectKeyIdentifier", "userProperty": "certificateUserIds", "priority": 5})),
        )
        .await;
    added.ok(201, "CertificateUserBinding");
    assert_eq!(added.body["trustAffinityLevel"], "high");
    for (body, status, code) in [
        (
            json!({"x509CertificateField": "PrincipalName", "userProperty": "userPrincipalName", "priority": 5}),
            409,
            "binding-priority-taken",
        ),
        (
            json!({"x509CertificateField": "Subject", "userProperty": "userPrincipalName"}),
            400,
            "binding-rule-invalid",
        ),
        (
            json!({"x509CertificateField": "Nickname", "userProperty": "userPrincipalName"}),
            400,
            "binding-field-invalid",
        ),
    ] {
        fixture
            .call(Method::POST, "/certificateUserBindings", Some(body))
            .await
            .refused(status, code);
    }
    let high = fixture
        .call(
            Method::PATCH,
            "/certificateUserBindings",
            Some(json!({"x509CertificateDefaultRequiredAffinityLevel": "high"})),
        )
        .await;
    high.ok(200, "CertificateUserBindings");
    assert_eq!(high.body["usesDefaultBindings"], false);
    assert_eq!(
        high.body["x509CertificateDefaultRequiredAffinityLevel"],
        "high"
    );
    let removed = fixture
        .call(Method::DELETE, "/certificateUserBindings/5", None)
        .await;
    removed.ok(200, "CertificateUserBinding");
    fixture
        .call(Method::DELETE, "/certificateUserBindings/5", None)
        .await
        .refused(404, "binding-rule-not-found");

    let empty = fixture
        .call(Method::GET, "/authenticationModeRules", None)
        .await;
    empty.ok(200, "AuthenticationModeRules");
    assert_eq!(empty.body["value"], json!([]));
    let rule = fixture
        .call(
            Method::POST,
            "/authenticationModeRules",
            Some(json!({"policyOidIdentifier": "1.3.6.1.4.1.99999.1.1", "x509CertificateAuthenticationMode": "x509CertificateMultiFactor"})),
        )
        .await;
    rule.ok(201, "AuthenticationModeRule");
    assert_eq!(rule.body["x509CertificateRuleType"], "policyOID");
    assert_eq!(rule.body["identifier"], "1.3.6.1.4.1.99999.1.1");
    let issuer = fixture
        .call(
            Method::POST,
            "/authenticationModeRules",
            Some(json!({"issuerSubjectIdentifier": fixture.cas[1].facts.trusted_issuer, "x509CertificateAuthenticationMode": "single-factor"})),
        )
        .await;
    issuer.ok(201, "AuthenticationModeRule");
    assert_eq!(issuer.body["x509CertificateRuleType"], "issuerSubject");
    for (body, status, code) in [
        (
            json!({"policyOidIdentifier": "1.3.6.1.4.1.99999.1.1", "x509CertificateAuthenticationMode": "single-factor"}),
            409,
            "strength-rule-duplicate",
        ),
        (
            json!({"x509CertificateAuthenticationMode": "single-factor"}),
            400,
            "strength-rule-empty",
        ),
        (
            json!({"issuerSubjectKeyIdentifier": "zz", "x509CertificateAuthenticationMode": "single-factor"}),
            400,
            "strength-issuer-invalid",
        ),
        (
            json!({"policyOidIdentifier": "1.2.3", "x509CertificateAuthenticationMode": "three-factor"}),
            400,
            "strength-mode-invalid",
        ),
    ] {
        fixture
            .call(Method::POST, "/authenticationModeRules", Some(body))
            .await
            .refused(status, code);
    }
    let id = rule.body["id"].as_i64().expect("id");
    fixture
        .call(
            Method::DELETE,
            &format!("/authenticationModeRules/{id}"),
            None,
        )
        .await
        .ok(200, "AuthenticationModeRule");
    fixture
        .call(
            Method::DELETE,
            &format!("/authenticationModeRules/{id}"),
            None,
        )
        .await
        .refused(404, "strength-rule-not-found");
    let left = fixture
        .call(Method::GET, "/authenticationModeRules", None)
        .await;
    assert_eq!(left.body["value"].as_array().expect("rules").len(), 1);

    let audit = fixture.audit().await;
    let actions: Vec<&str> = audit
        .iter()
        .filter(|e| e["initiatedBy"] == "api:test-token")
        .map(|e| e["activityDisplayName"].as_str().expect("action"))
        .collect();
    assert_eq!(
        actions,
        [
            "strength.remove",
            "strength.add",
            "strength.add",
            "binding.remove",
            "binding.set-default-affinity",
            "binding.add"
        ]
    );
}

// ---- Applications -----------------------------------------------------------------------------

async fn applications_round_trip_and_the_secret_is_shown_once(fixture: Fixture) {
    let created = fixture
        .call(
            Method::POST,
            "/applications",
            Some(json!({
                "appId": "mail-app",
                "displayName": "Mail",
                "redirectUris": ["https://mail.corp.example/callback"],
            })),
        )
        .await;
    created.ok(201, "CreatedApplication");
    assert_eq!(created.body["clientType"], "confidential");
    let secret = created.body["clientSecret"].as_str().expect("secret");
    assert!(secret.len() >= 32);
    let public = fixture
        .call(
            Method::POST,
            "/applications",
            Some(json!({
                "displayName": "Phone app",
                "clientType": "public",
                "redirectUris": ["com.corp.mail:/oauth2"],
                "allowedScopes": ["openid", "offline_access"],
                "consentPrompt": "skip",
            })),
        )
        .await;
    public.ok(201, "CreatedApplication");
    assert_eq!(public.body["clientSecret"], Value::Null);
    assert_eq!(public.body["appId"].as_str().expect("id").len(), 36);
    assert_eq!(public.body["requireDomainPassword"], false, "the default");
    let always = fixture
        .call(
            Method::POST,
            "/applications",
            Some(json!({
                "appId": "mail-always",
                "displayName": "Mail with the domain password",
                "clientType": "public",
                "redirectUris": ["com.corp.mail:/always"],
                "requireDomainPassword": true,
            })),
        )
        .await;
    always.ok(201, "CreatedApplication");
    let stored = fixture
        .call(Method::GET, "/applications/mail-always", None)
        .await;
    stored.ok(200, "Application");
    assert_eq!(stored.body["requireDomainPassword"], true);

    let one = fixture
        .call(Method::GET, "/applications/mail-app", None)
        .await;
    one.ok(200, "Application");
    assert!(!one.body.to_string().contains(secret));
    let list = fixture.call(Method::GET, "/applications", None).await;
    list.ok(200, "ApplicationCollection");
    assert_eq!(list.body["value"].as_array().expect("apps").len(), 3);

    for (body, status, code) in [
        (
            json!({"appId": "mail-app", "displayName": "Again", "redirectUris": ["https://x.example/cb"]}),
            409,
            "application-id-taken",
        ),
        (
            json!({"displayName": "Bad", "redirectUris": ["http://rp.example/cb"]}),
            400,
            "client-redirect-uri-invalid",
        ),
        (
            json!({"displayName": "Bad", "redirectUris": ["https://x.example/cb"], "clientType": "secret"}),
            400,
            "client-type-invalid",
        ),
        (
            json!({"appId": "has space", "displayName": "Bad", "redirectUris": ["https://x.example/cb"]}),
            400,
            "client-id-invalid",
        ),
    ] {
        fixture
            .call(Method::POST, "/applications", Some(body))
            .await
            .refused(status, code);
    }
    let removed = fixture
        .call(Method::DELETE, "/applications/mail-app", None)
        .await;
    removed.ok(200, "Application");
    for method in [Method::GET, Method::DELETE] {
        fixture
            .call(method, "/applications/mail-app", None)
            .await
            .refused(404, "application-not-found");
    }
    let audit = fixture.audit().await;
    let actions: Vec<&str> = audit
        .iter()
        .filter(|e| e["initiatedBy"] == "api:test-token")
        .map(|e| e["activityDisplayName"].as_str().expect("action"))
        .collect();
    assert_eq!(
        actions,
        [
            "oidc.client.delete",
            "oidc.client.register",
            "oidc.client.register",
            "oidc.client.register"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applications_answer_503_when_the_provider_is_not_running() {
    let fixture = Fixture::new(Backend::Sqlite).await;
    let dyn_clock: Arc<dyn Clock> = fixture.clock.clone();
    let context = Arc::new(AdminContext::new(
        Arc::clone(&fixture.store),
        dyn_clock,
        Arc::clone(&fixture.crl),
    ));
    let base = serve_plain(Router::new().nest("/api/v1", admin_api::routes(context))).await;
    let answer = fixture
        .http
        .get(format!("{base}/applications"))
        .bearer_auth(&fixture.token)
        .send()
        .await
        .expect("request");
    Answer::of(answer)
        .await
        .refused(503, "applications-unavailable");
}

/// The routes of certgate's own CA need the CA's settings, which a server that does not run the
/// CA with its key passphrase lacks: 503 with a code, never a half answer. A body the API does
/// not read is refused before anything else. (`certgate`'s admin_remote test drives these
/// routes against a server that runs the CA.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_ca_routes_answer_503_when_the_server_does_not_run_the_ca() {
    let fixture = Fixture::new(Backend::Sqlite).await;
    let revoke = "/pki/issuedCertificates/0badc0de/revoke";
    for (method, path, body) in [
        (Method::GET, "/pki/issuedCertificates", None),
        (
            Method::POST,
            revoke,
            Some(json!({"reason": "keyCompromise"})),
        ),
        (Method::GET, "/pki/crls", None),
        (Method::POST, "/pki/crls/publish?base=true", None),
    ] {
        fixture
            .call(method, path, body)
            .await
            .refused(503, "pki-unavailable");
    }
    let extra = json!({"reason": "keyCompromise", "cascade": false});
    fixture
        .call(Method::POST, revoke, Some(extra))
        .await
        .refused(400, "request-body-invalid");
    fixture
        .call(Method::POST, "/pki/crls/publish?base=maybe", None)
        .await
        .refused(400, "request-query-invalid");
}

// ---- Federation -------------------------------------------------------------------------------

fn wsfed_body(name: &str, realm: &str) -> Value {
    json!({
        "displayName": name,
        "protocol": "wsfed",
        "identifier": realm,
        "replyUrls": ["https://app.corp.example/signin"],
    })
}

async fn relying_parties_round_trip_and_duplicates_are_refused(fixture: Fixture) {
    let added = fixture
        .call(
            Method::POST,
            "/relyingParties",
            Some(json!({
                "displayName": "Payroll",
                "protocol": "saml",
                "identifier": "https://payroll.corp.example/sp",
                "replyUrls": ["https://payroll.corp.example/acs", "https://payroll.corp.example/acs2"],
                "logoutUrl": "https://payroll.corp.example/slo",
                "nameIdFormat": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
                "nameIdSource": "user.upn",
                "claims": [
                    {"claimType": "IDPEmail", "source": "user.upn"},
                    {"claimType": "http://schemas.microsoft.com/ws/2008/06/identity/claims/serialnumber", "source": "certificate.serialNumber"},
                ],
                "signResponse": true,
                "passwordRequests": "fresh-certificate",
                "issuer": "https://idp.corp.example/payroll",
                "tokenLifetimeSeconds": 900,
            })),
        )
        .await;
    added.ok(201, "RelyingParty");
    let body = &added.body;
    assert!(body["id"].as_str().expect("id").starts_with("rp_"));
    assert_eq!(body["protocol"], "saml");
    assert_eq!(body["nameIdFormat"], "email");
    assert_eq!(body["nameIdSource"], "user.upn");
    assert_eq!(body["claims"][1]["source"], "certificate.serialNumber");
    assert_eq!(body["replyUrls"][1], "https://payroll.corp.example/acs2");
    assert_eq!(body["signResponse"], true);
    assert_eq!(body["requireSignedRequests"], false);
    assert_eq!(body["requestCertificates"], json!([]));
    assert_eq!(body["passwordRequests"], "fresh-certificate");
    assert_eq!(body["tokenLifetimeSeconds"], 900);
    assert_eq!(body["enabled"], true);
    let id = body["id"].as_str().expect("id").to_owned();

    for key in [id.as_str(), "payroll"] {
        let one = fixture
            .call(Method::GET, &format!("/relyingParties/{key}"), None)
            .await;
        one.ok(200, "RelyingParty");
        assert_eq!(one.body, added.body);
    }
    let defaults = fixture
        .call(
            Method::POST,
            "/relyingParties",
            Some(wsfed_body("Expenses", "urn:expenses")),
        )
        .await;
    defaults.ok(201, "RelyingParty");
    assert_eq!(defaults.body["nameIdFormat"], "persistent");
    assert_eq!(defaults.body["nameIdSource"], "user.immutableId");
    assert_eq!(defaults.body["passwordRequests"], "refuse");
    assert_eq!(defaults.body["issuer"], Value::Null);
    let list = fixture.call(Method::GET, "/relyingParties", None).await;
    list.ok(200, "RelyingPartyCollection");
    let names: Vec<&str> = list.body["value"]
        .as_array()
        .expect("list")
        .iter()
        .map(|rp| rp["displayName"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["Expenses", "Payroll"]);

    // The service's refusal (its rules, uniqueness and what a setting may be, are
    // certgate-core's tests/federation.rs), with its status and message.
    fixture
        .call(
            Method::POST,
            "/relyingParties",
            Some(wsfed_body("EXPENSES", "urn:other")),
        )
        .await
        .refused_saying(
            409,
            "rp-taken",
            "the name \"EXPENSES\" is already registered",
        );
    // The API's own refusals: what the request body carries and how.
    for (body, status, code) in [
        (
            json!({"displayName": "Bad", "protocol": "oidc", "identifier": "urn:bad", "replyUrls": ["https://app.corp.example/"]}),
            400,
            "rp-field-invalid",
        ),
        (
            json!({"displayName": "Bad", "protocol": "saml", "identifier": "urn:bad", "replyUrls": ["https://app.corp.example/"], "wtrealm": "x"}),
            400,
            "request-body-invalid",
        ),
    ] {
        fixture
            .call(Method::POST, "/relyingParties", Some(body))
            .await
            .refused(status, code);
    }

    // A request certificate, and PATCH semantics: absent stays, null clears, lists replace.
    let certificate = b64(&fixture.pki.leaf.der);
    let changed = fixture
        .call(
            Method::PATCH,
            "/relyingParties/payroll",
            Some(json!({
                "logoutUrl": null,
                "issuer": null,
                "claims": [{"claimType": "http://schemas.xmlsoap.org/claims/UPN", "source": "user.upn"}],
                "requestCertificates": [certificate],
                "requireSignedRequests": true,
                "requireDomainPassword": true,
                "enabled": false,
            })),
        )
        .await;
    changed.ok(200, "RelyingParty");
    assert_eq!(changed.body["requireDomainPassword"], true);
    assert_eq!(added.body["requireDomainPassword"], false, "the default");
    assert_eq!(changed.body["logoutUrl"], Value::Null);
    assert_eq!(changed.body["issuer"], Value::Null);
    assert_eq!(changed.body["claims"].as_array().expect("claims").len(), 1);
    assert_eq!(changed.body["requestCertificates"][0], certificate.as_str());
    assert_eq!(changed.body["requireSignedRequests"], true);
    assert_eq!(changed.body["enabled"], false);
    assert_eq!(changed.body["replyUrls"], added.body["replyUrls"]);
    assert_eq!(
        changed.body["createdDateTime"],
        added.body["createdDateTime"]
    );
    fixture
        .call(
            Method::PATCH,
            "/relyingParties/payroll",
            Some(json!({"requestCertificates": ["not base64!"]})),
        )
        .await
        .refused(400, "rp-field-invalid");
    fixture
        .call(
            Method::PATCH,
            "/relyingParties/nobody",
            Some(json!({"enabled": true})),
        )
        .await
        .refused_saying(
            404,
            "rp-not-found",
            "no relying party is named or has the ID \"nobody\"",
        );

    let removed = fixture
        .call(Method::DELETE, &format!("/relyingParties/{id}"), None)
        .await;
    removed.ok(200, "RelyingParty");
    assert_eq!(removed.body["displayName"], "Payroll");
    for method in [Method::GET, Method::DELETE] {
        fixture
            .call(method, &format!("/relyingParties/{id}"), None)
            .await
            .refused_saying(
                404,
                "rp-not-found",
                &format!("no relying party is named or has the ID \"{id}\""),
            );
    }
    let actions: Vec<String> = fixture
        .audit()
        .await
        .iter()
        .filter(|e| e["initiatedBy"] == "api:test-token")
        .map(|e| {
            e["activityDisplayName"]
                .as_str()
                .expect("action")
                .to_owned()
        })
        .collect();
    assert_eq!(actions, ["rp.remove", "rp.set", "rp.add", "rp.add"]);
}

async fn token_signing_keys_are_listed_and_rotated(fixture: Fixture) {
    let empty = fixture
        .call(Method::GET, "/federation/signingKeys", None)
        .await;
    empty.ok(200, "TokenSigningKeyCollection");
    assert_eq!(empty.body["value"], json!([]));
    fixture
        .call(Method::POST, "/federation/signingKeys/rotate", None)
        .await
        .refused_saying(
            409,
            "federation-no-signing-key",
            "the federation service has no token-signing key yet",
        );

    let first = certgate_core::federation::ensure_token_signing_keys(
        &*fixture.store,
        PASSPHRASE,
        now(),
        "test",
    )
    .await
    .expect("keys");
    let listed = fixture
        .call(Method::GET, "/federation/signingKeys", None)
        .await;
    listed.ok(200, "TokenSigningKeyCollection");
    let states = |body: &Value| -> Vec<(String, String)> {
        body["value"]
            .as_array()
            .expect("keys")
            .iter()
            .map(|k| {
                (
                    k["thumbprint"].as_str().expect("thumbprint").to_owned(),
                    k["state"].as_str().expect("state").to_owned(),
                )
            })
            .collect()
    };
    let old_next = first.next.expect("next").thumbprint;
    let mut before = states(&listed.body);
    before.sort();
    let mut expected = vec![
        (first.current.thumbprint.clone(), "current".to_owned()),
        (old_next.clone(), "next".to_owned()),
    ];
    expected.sort();
    assert_eq!(before, expected);
    assert!(!listed.body.to_string().contains("sealed"));

    let rotated = fixture
        .call(Method::POST, "/federation/signingKeys/rotate", None)
        .await;
    rotated.ok(200, "TokenSigningKeyCollection");
    let after = states(&rotated.body);
    assert_eq!(after.len(), 3);
    assert!(after.contains(&(first.current.thumbprint.clone(), "retired".to_owned())));
    assert!(after.contains(&(old_next.clone(), "current".to_owned())));
    let current = rotated.body["value"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["state"] == "current")
        .expect("current");
    assert_eq!(current["activatedDateTime"], rfc3339_now());
    let actions: Vec<String> = fixture
        .audit()
        .await
        .iter()
        .filter(|e| e["initiatedBy"] == "api:test-token")
        .map(|e| {
            e["activityDisplayName"]
                .as_str()
                .expect("action")
                .to_owned()
        })
        .collect();
    assert_eq!(actions, ["federation.keys.rotate"]);
}

fn rfc3339_now() -> String {
    certgate_core::clock::rfc3339(now())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_answers_503_when_the_server_has_no_passphrase() {
    let fixture = Fixture::new(Backend::Sqlite).await;
    certgate_core::federation::ensure_token_signing_keys(
        &*fixture.store,
        PASSPHRASE,
        now(),
        "test",
    )
    .await
    .expect("keys");
    let dyn_clock: Arc<dyn Clock> = fixture.clock.clone();
    let context = Arc::new(AdminContext::new(
        Arc::clone(&fixture.store),
        dyn_clock,
        Arc::clone(&fixture.crl),
    ));
    let base = serve_plain(Router::new().nest("/api/v1", admin_api::routes(context))).await;
    let answer = fixture
        .http
        .post(format!("{base}/federation/signingKeys/rotate"))
        .bearer_auth(&fixture.token)
        .send()
        .await
        .expect("request");
    Answer::of(answer)
        .await
        .refused(503, "federation-keys-unavailable");
}

// ---- CRLs and logs ----------------------------------------------------------------------------

async fn crl_status_and_refresh_on_request(fixture: Fixture) {
    // A newer CRL for the issuing CA, served over HTTP; the root's URL leads nowhere.
    let newer = TestPki::crl(
        &fixture.pki.intermediate,
        &CrlSpec {
            crl_number: 7,
            ..CrlSpec::default()
        },
    )
    .expect("CRL");
    let crl_server = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let crl_addr = crl_server.local_addr().expect("address");
    let app = Router::new().route(
        "/issuing.crl",
        axum::routing::get(move || {
            let newer = newer.clone();
            async move { newer }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(crl_server, app).await;
    });
    let (root, issuing) = (fixture.cas[0].id.0, fixture.cas[1].id.0);
    for (id, url) in [
        (issuing, format!("http://{crl_addr}/issuing.crl")),
        (root, "http://127.0.0.1:9/root.crl".to_owned()),
    ] {
        fixture
            .call(
                Method::PATCH,
                &format!("/certificateAuthorities/{id}"),
                Some(json!({"certificateRevocationListUrl": url})),
            )
            .await
            .ok(200, "CertificateAuthority");
    }
    let status = fixture.call(Method::GET, "/crlStatus", None).await;
    status.ok(200, "CrlStatusCollection");
    let rows = status.body["value"].as_array().expect("rows");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1]["caId"], issuing);
    assert_eq!(rows[1]["kind"], "base");
    assert_eq!(rows[1]["cached"]["crlNumber"], "01");

    let one = fixture
        .call(
            Method::POST,
            &format!("/crlStatus/refresh?caId={issuing}"),
            None,
        )
        .await;
    one.ok(200, "CrlRefreshReportCollection");
    assert_eq!(one.body["value"].as_array().expect("reports").len(), 1);
    assert_eq!(one.body["value"][0]["outcome"], "updated", "{:#}", one.body);
    let all = fixture.call(Method::POST, "/crlStatus/refresh", None).await;
    all.ok(200, "CrlRefreshReportCollection");
    let failed = all.body["value"]
        .as_array()
        .expect("reports")
        .iter()
        .find(|r| r["caId"] == root)
        .expect("root report")
        .clone();
    assert_eq!(failed["outcome"], "failed");
    assert!(
        failed["code"]
            .as_str()
            .is_some_and(|c| c.starts_with("crl-fetch")),
        "{failed}"
    );
    let status = fixture.call(Method::GET, "/crlStatus", None).await;
    assert_eq!(status.body["value"][1]["cached"]["crlNumber"], "07");
    assert!(status.body["value"][0]["lastErrorCode"].is_string());

    fixture
        .call(Method::POST, "/crlStatus/refresh?caId=999", None)
        .await
        .refused(404, "ca-not-found");
    fixture
        .call(Method::POST, "/crlStatus/refresh?caId=x", None)
        .await
        .refused(400, "request-query-invalid");
    let audit = fixture.audit().await;
    let requests: Vec<(&str, &str)> = audit
        .iter()
        .filter(|e| e["activityDisplayName"] == "crl.refresh-request")
        .map(|e| {
            assert_eq!(e["initiatedBy"], "api:test-token");
            (
                e["target"].as_str().expect("target"),
                e["result"].as_str().expect("result"),
            )
        })
        .collect();
    assert_eq!(
        requests,
        [
            ("all CAs", "failure"),
            (format!("ca {issuing}").as_str(), "success")
        ]
    );
}

/// The admin group counts only when assigned in certgate: a directory group of that name (a
/// directory administrator's doing, or a name clash) does not make its members certgate
/// administrators.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_group_named_like_the_admin_group_grants_nothing() {
    use certgate_core::directory::UserStore;
    use certgate_core::directory_source::{
        apply_sync, map_entries, plan_sync, AttributeMap, DirectoryEntry,
    };
    let fixture = Fixture::new(Backend::Sqlite).await;
    let entry = DirectoryEntry::new("CN=erin,OU=Staff,DC=corp,DC=example")
        .with("userPrincipalName", &[b"erin@corp.example"])
        .with("objectGUID", &[&[7; 16]])
        .with("userAccountControl", &[b"512"]);
    let known = fixture.store.list_users().await.expect("users");
    let mut mapped = map_entries(&[entry], &AttributeMap::active_directory());
    mapped.entries[0].directory_groups = vec!["certgate-admins".into()];
    let plan = plan_sync(
        &known,
        mapped,
        now(),
        std::time::Duration::from_secs(86_400),
    );
    let outcome = apply_sync(fixture.store.as_ref(), &plan, now(), "directory-sync").await;
    assert_eq!(outcome.failed, []);

    let erin = fixture.credential("erin@corp.example");
    fixture
        .call_tls(Method::GET, "/users", None, Some(&erin), None)
        .await
        .refused(403, "admin-group-missing");
    // The same name assigned in certgate does.
    fixture
        .call(
            Method::PATCH,
            "/users/erin@corp.example",
            Some(json!({"groups": ["certgate-admins"]})),
        )
        .await
        .ok(200, "User");
    fixture
        .call_tls(Method::GET, "/users", None, Some(&erin), None)
        .await
        .ok(200, "UserCollection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_log_is_queryable_with_filters() {
    let fixture = Fixture::new(Backend::Sqlite).await;
    let admin = fixture.credential("admin@corp.example");
    let bob = fixture.credential("bob@corp.example");
    fixture
        .call_tls(Method::GET, "/users", None, Some(&admin), None)
        .await
        .ok(200, "UserCollection");
    fixture
        .call_tls(Method::GET, "/users", None, Some(&bob), None)
        .await
        .refused(403, "admin-group-missing");
    let all = fixture.call(Method::GET, "/auditLogs/signIns", None).await;
    all.ok(200, "SignInCollection");
    assert_eq!(all.body["value"].as_array().expect("log").len(), 2);
    assert_eq!(all.body["value"][0]["appDisplayName"], "admin-api");
    let failures = fixture
        .call(Method::GET, "/auditLogs/signIns?result=failure&top=5", None)
        .await;
    failures.ok(200, "SignInCollection");
    let failures = failures.body["value"].as_array().expect("log").clone();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0]["userPrincipalName"], "bob@corp.example");
    assert_eq!(failures[0]["reasonCode"], "admin-group-missing");
    let by_user = fixture
        .call(
            Method::GET,
            "/auditLogs/signIns?user=ADMIN@corp.example&code=ok",
            None,
        )
        .await;
    assert_eq!(by_user.body["value"].as_array().expect("log").len(), 1);
    let later = fixture
        .call(
            Method::GET,
            "/auditLogs/signIns?since=2026-01-02T00:00:00Z",
            None,
        )
        .await;
    assert_eq!(later.body["value"], json!([]));
    for query in [
        "result=maybe",
        "since=yesterday",
        "$top=0",
        "$top=5000",
        "colour=red",
    ] {
        fixture
            .call(Method::GET, &format!("/auditLogs/signIns?{query}"), None)
            .await
            .refused(400, "request-query-invalid");
    }
}

// ---- Administrators' certificates -------------------------------------------------------------

async fn admin_certificates_on_the_certificate_sign_in_listener(fixture: Fixture) {
    let admin = fixture.credential("admin@corp.example");
    fixture
        .call_tls(Method::GET, "/users", None, Some(&admin), None)
        .await
        .ok(200, "UserCollection");
    let added = fixture
        .call_tls(
            Method::POST,
            "/users",
            Some(json!({"userPrincipalName": "erin@corp.example"})),
            Some(&admin),
            None,
        )
        .await;
    added.ok(201, "User");

    // Not an administrator, disabled, revoked, a stranger's certificate, no certificate.
    fixture
        .call_tls(
            Method::GET,
            "/users",
            None,
            Some(&fixture.credential("bob@corp.example")),
            None,
        )
        .await
        .refused(403, "admin-group-missing");
    fixture
        .call_tls(
            Method::GET,
            "/users",
            None,
            Some(&fixture.credential("dora@corp.example")),
            None,
        )
        .await
        .refused(403, "user-disabled");
    let revoked = fixture
        .call_tls(Method::GET, "/users", None, Some(&fixture.revoked), None)
        .await;
    revoked.refused(401, "cert-revoked");
    assert!(revoked.challenge.is_some_and(|c| c.starts_with("Bearer")));
    fixture
        .call_tls(
            Method::GET,
            "/users",
            None,
            Some(&fixture.credential("nobody@corp.example")),
            None,
        )
        .await
        .refused(401, "binding-not-found");
    fixture
        .call_tls(Method::GET, "/users", None, None, None)
        .await
        .refused(401, "admin-credentials-missing");

    // A change with the (ambient) certificate from another site's page is refused; from the
    // API's own origin, or with a token, it goes through.
    let port = fixture.tls_addr.port();
    for (name, value) in [
        ("origin", "https://evil.example".to_owned()),
        ("sec-fetch-site", "cross-site".to_owned()),
        ("origin", "null".to_owned()),
    ] {
        fixture
            .call_tls_with(
                Method::POST,
                "/users/erin@corp.example/revokeSignInSessions",
                Some(&admin),
                None,
                (name, &value),
            )
            .await
            .refused(403, "admin-cross-site-request");
    }
    fixture
        .call_tls_with(
            Method::POST,
            "/users/erin@corp.example/revokeSignInSessions",
            Some(&admin),
            None,
            ("origin", &format!("https://localhost:{port}")),
        )
        .await
        .ok(200, "User");
    fixture
        .call_tls_with(
            Method::POST,
            "/users/erin@corp.example/revokeSignInSessions",
            None,
            Some(&fixture.token),
            ("sec-fetch-site", "cross-site"),
        )
        .await
        .ok(200, "User");
    fixture
        .call_tls_with(
            Method::GET,
            "/users",
            Some(&admin),
            None,
            ("sec-fetch-site", "cross-site"),
        )
        .await
        .ok(200, "UserCollection");

    // A bearer token decides alone: a wrong one is refused even with an admin certificate;
    // the right one works on this listener too.
    fixture
        .call_tls(
            Method::GET,
            "/users",
            None,
            Some(&admin),
            Some("cgadm_wrong"),
        )
        .await
        .refused(401, "admin-token-invalid");
    fixture
        .call_tls(Method::GET, "/users", None, None, Some(&fixture.token))
        .await
        .ok(200, "UserCollection");

    // The change is the administrator's in the audit log; every certificate attempt is in
    // the sign-in log.
    let audit = fixture.audit().await;
    assert!(
        audit
            .iter()
            .any(|e| e["initiatedBy"] == "api:admin@corp.example"
                && e["activityDisplayName"] == "user.add"),
        "{audit:#?}"
    );
    let log = fixture
        .store
        .signins(&SignInQuery {
            limit: 20,
            ..SignInQuery::default()
        })
        .await
        .expect("log");
    let codes: Vec<&str> = log.iter().map(|r| r.reason_code.as_str()).collect();
    assert_eq!(
        codes,
        [
            "ok",
            "ok",
            "binding-not-found",
            "cert-revoked",
            "user-disabled",
            "admin-group-missing",
            "ok",
            "ok"
        ]
    );
    assert!(log.iter().all(|r| r.application == "admin-api"));
}

#[test]
fn request_schemas_name_exactly_the_fields_the_api_reads() {
    use certgate_server::admin_api::resource::{
        AuthorizationInfo, CertificateAuthorityPatch, CertificateUserBindingsPatch, NewApplication,
        NewAuthenticationModeRule, NewCertificateAuthority, NewCertificateUserBinding,
        NewRelyingParty, NewUser, RelyingPartyClaim, RelyingPartyPatch, RevocationRequest,
        StsRefreshTokensValidFrom, UserPatch,
    };
    let claims = || {
        Some(vec![RelyingPartyClaim {
            claim_type: "IDPEmail".into(),
            source: "user.upn".into(),
        }])
    };
    let text = || Some("x".to_owned());
    let info = AuthorizationInfo {
        certificate_user_ids: vec!["X509:<SKI>00".into()],
    };
    let every_field = [
        (
            "NewCertificateAuthority",
            serde_json::to_value(NewCertificateAuthority {
                certificate: "x".into(),
                is_root_authority: Some(true),
                certificate_revocation_list_url: text(),
                delta_certificate_revocation_list_url: text(),
                display_name: text(),
                is_exempt_from_crl_validation: Some(false),
                is_issuer_hint_enabled: Some(true),
            }),
        ),
        (
            "CertificateAuthorityPatch",
            serde_json::to_value(CertificateAuthorityPatch {
                display_name: text(),
                is_root_authority: Some(true),
                certificate_revocation_list_url: Some(None),
                delta_certificate_revocation_list_url: Some(text()),
                is_exempt_from_crl_validation: Some(true),
                is_issuer_hint_enabled: Some(false),
            }),
        ),
        (
            "NewUser",
            serde_json::to_value(NewUser {
                user_principal_name: "a@b.example".into(),
                display_name: text(),
                mail: text(),
                on_premises_immutable_id: text(),
                proxy_addresses: vec![],
                authorization_info: info.clone(),
                account_enabled: Some(true),
                groups: vec![],
            }),
        ),
        (
            "UserPatch",
            serde_json::to_value(UserPatch {
                user_principal_name: text(),
                display_name: text(),
                mail: Some(None),
                on_premises_immutable_id: text(),
                proxy_addresses: Some(vec![]),
                authorization_info: Some(info),
                account_enabled: Some(false),
                groups: Some(vec![]),
            }),
        ),
        (
            "StsRefreshTokensValidFrom",
            serde_json::to_value(StsRefreshTokensValidFrom { date: "x".into() }),
        ),
        (
            "RevocationRequest",
            serde_json::to_value(RevocationRequest {
                reason: "keyCompromise".into(),
            }),
        ),
        (
            "NewCertificateUserBinding",
            serde_json::to_value(NewCertificateUserBinding {
                x509_certificate_field: "Subject".into(),
                user_property: "certificateUserIds".into(),
                priority: Some(1),
            }),
        ),
        (
            "CertificateUserBindingsPatch",
            serde_json::to_value(CertificateUserBindingsPatch {
                x509_certificate_default_required_affinity_level: "low".into(),
            }),
        ),
        (
            "NewAuthenticationModeRule",
            serde_json::to_value(NewAuthenticationModeRule {
                issuer_subject_identifier: text(),
                issuer_subject_key_identifier: text(),
                policy_oid_identifier: text(),
                x509_certificate_authentication_mode: "single-factor".into(),
            }),
        ),
        (
            "NewApplication",
            serde_json::to_value(NewApplication {
                app_id: text(),
                display_name: "x".into(),
                client_type: text(),
                redirect_uris: vec![],
                post_logout_redirect_uris: vec![],
                consent_prompt: text(),
                allowed_scopes: Some(vec![]),
                id_token_lifetime_seconds: Some(1),
                access_token_lifetime_seconds: Some(1),
                refresh_token_lifetime_seconds: Some(1),
                require_domain_password: Some(true),
            }),
        ),
    ];
    let federation = [
        (
            "NewRelyingParty",
            serde_json::to_value(NewRelyingParty {
                display_name: "x".into(),
                protocol: "saml".into(),
                identifier: "urn:x".into(),
                reply_urls: vec![],
                logout_url: text(),
                name_id_format: text(),
                name_id_source: text(),
                claims: claims(),
                sign_response: Some(true),
                require_signed_requests: Some(true),
                request_certificates: Some(vec![]),
                password_requests: text(),
                require_domain_password: Some(true),
                issuer: text(),
                token_lifetime_seconds: Some(60),
                enabled: Some(true),
            }),
        ),
        (
            "RelyingPartyPatch",
            serde_json::to_value(RelyingPartyPatch {
                display_name: text(),
                identifier: text(),
                reply_urls: Some(vec![]),
                logout_url: Some(None),
                name_id_format: text(),
                name_id_source: text(),
                claims: claims(),
                sign_response: Some(true),
                require_signed_requests: Some(true),
                request_certificates: Some(vec![]),
                password_requests: text(),
                require_domain_password: Some(false),
                issuer: Some(text()),
                token_lifetime_seconds: Some(60),
                enabled: Some(true),
            }),
        ),
    ];
    for (schema, value) in every_field.into_iter().chain(federation) {
        conforms(schema, &value.expect("JSON"));
    }
}

// ---- Limits -----------------------------------------------------------------------------------

/// An oversized body gets 413 and oversized headers 431, each with a JSON reason, on the plain
/// listener and on the certificate sign-in listener, never a 400, a reset stream or a closed
/// connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_get_413_and_oversized_headers_431() {
    let fixture = Fixture::new(Backend::Sqlite).await;
    let large_body = json!({"certificate": "A".repeat(admin_api::MAX_BODY_BYTES + 1)});
    fixture
        .call(
            Method::POST,
            "/certificateAuthorities",
            Some(large_body.clone()),
        )
        .await
        .refused(413, "request-body-too-large");
    fixture
        .call_tls(
            Method::POST,
            "/certificateAuthorities",
            Some(large_body),
            None,
            Some(&fixture.token),
        )
        .await
        .refused(413, "request-body-too-large");

    let large_header = "x".repeat(admin_api::MAX_HEADER_BYTES);
    let answer = Answer::of(
        fixture
            .http
            .get(format!("{}/users", fixture.base))
            .bearer_auth(&fixture.token)
            .header("x-padding", &large_header)
            .send()
            .await
            .expect("request"),
    )
    .await;
    answer.refused(431, "request-headers-too-large");
    fixture
        .call_tls_with(
            Method::GET,
            "/users",
            None,
            Some(&fixture.token),
            ("x-padding", &large_header),
        )
        .await
        .refused(431, "request-headers-too-large");

    // Within the limits, the same requests are served.
    fixture
        .call(Method::GET, "/users", None)
        .await
        .ok(200, "UserCollection");
}
