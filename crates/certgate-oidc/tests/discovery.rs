//! The discovery document against its golden file. `CERTGATE_UPDATE_GOLDEN=1 cargo test -p
//! certgate-oidc --test discovery` rewrites the file; review the diff before committing it.

use std::path::PathBuf;

use certgate_oidc::{discovery_document, Endpoints, Issuer};

fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("CERTGATE_UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::write(&path, actual).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "reading {}: {e} (CERTGATE_UPDATE_GOLDEN=1 creates it)",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "{} differs from what certgate produces now (CERTGATE_UPDATE_GOLDEN=1 rewrites it):\n\
         --- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}

#[test]
fn discovery_document_matches_the_golden_file() {
    let issuer = Issuer::parse("https://login.example.test/").expect("issuer");
    let document = discovery_document(&issuer, &Endpoints::under(&issuer));
    let mut json = serde_json::to_string_pretty(&document).expect("json");
    json.push('\n');
    golden("discovery.json", &json);
}

#[test]
fn discovery_document_states_what_certgate_enforces() {
    let issuer = Issuer::parse("https://login.example.test").expect("issuer");
    let document = discovery_document(&issuer, &Endpoints::under(&issuer));
    assert_eq!(document.issuer, "https://login.example.test");
    assert_eq!(document.response_types_supported, ["code"]);
    assert_eq!(document.code_challenge_methods_supported, ["S256"]);
    assert_eq!(document.id_token_signing_alg_values_supported, ["ES256"]);
    assert_eq!(document.subject_types_supported, ["public"]);
    assert_eq!(
        document.grant_types_supported,
        ["authorization_code", "refresh_token"]
    );
    assert!(document.jwks_uri.starts_with(&document.issuer));
}
