//! Text that reaches an operator's terminal or the CRL fetcher is checked when it is set: a CA
//! display name with control characters and a CRL URL the fetcher could not request are
//! refused at `ca add` / `ca set`, and what `ca list` prints from a certificate is escaped.

mod common;

use common::Env;

fn refusal(env: &Env, args: &[&str]) -> String {
    let output = env.json(args, 1);
    assert_eq!(output["ok"], false, "{output}");
    output["code"].as_str().expect("code").to_owned()
}

/// A self-signed CA whose common name holds an OSC title sequence and a BEL.
fn hostile_ca(env: &Env) -> String {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Evil\u{1b}]0;owned\u{7} Root");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    // A conforming CA certificate otherwise (RFC 5280 §4.2.1.3), so that `ca add` takes it.
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let key = rcgen::KeyPair::generate().expect("key");
    let certificate = params.self_signed(&key).expect("certificate");
    let path = env.path("hostile.pem");
    std::fs::write(&path, certificate.pem()).expect("write");
    path.to_str().expect("utf-8").to_owned()
}

#[test]
fn ca_names_and_crl_urls_are_checked_at_the_door_and_escaped_on_output() {
    let env = Env::sqlite();
    let pki = certgate_testpki::TestPki::three_level(&certgate_testpki::ChainSpec::default())
        .expect("test PKI");
    let root = env.path("root.cer");
    std::fs::write(&root, &pki.root.der).expect("write");
    let root = root.to_str().expect("utf-8");

    assert_eq!(
        refusal(
            &env,
            &[
                "ca",
                "add",
                root,
                "--name",
                "Evil\u{1b}]0;owned\u{7}",
                "--json"
            ]
        ),
        "ca-name-invalid"
    );
    assert_eq!(
        refusal(
            &env,
            &["ca", "add", root, "--crl-url", "http://[::1", "--json"]
        ),
        "ca-url-malformed"
    );
    let listed = env.json(&["ca", "list", "--json"], 0);
    assert_eq!(
        listed["certificateAuthorities"].as_array().map(Vec::len),
        Some(0),
        "nothing was stored: {listed}"
    );

    let added = env.json(&["ca", "add", root, "--json"], 0);
    let id = added["certificateAuthorities"][0]["id"].to_string();
    assert_eq!(
        refusal(
            &env,
            &["ca", "set", &id, "--crl-url", "http://[::1", "--json"]
        ),
        "ca-url-malformed"
    );
    assert_eq!(
        refusal(&env, &["ca", "set", &id, "--name", "bell\u{7}", "--json"]),
        "ca-name-invalid"
    );

    // The subject is the certificate's word: whatever it holds, the table escapes it.
    let hostile = hostile_ca(&env);
    env.ok(&["ca", "add", &hostile]);
    let table = env.ok(&["ca", "list"]);
    assert!(
        !table.contains('\u{1b}') && !table.contains('\u{7}'),
        "raw control characters in: {table:?}"
    );
    assert!(table.contains("Evil"), "{table}");
}
