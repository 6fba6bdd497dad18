//! `certgate verify --purpose server` accepts the TLS certificates certgate issues for its own
//! listeners (`pki issue-server`), so the CA/Browser Forum server profile it applies and the
//! built-in CA agree.

mod common;

use common::Env;

#[test]
fn issued_server_certificates_pass_verify_purpose_server() {
    let env = Env::sqlite();
    env.ok(&["pki", "init", "--organization", "Contoso"]);
    let root = env.path("data/pki/root.pem");
    let root = root.to_str().expect("utf-8");
    let requests: [&[&str]; 3] = [
        &[
            "--dns",
            "certauth.contoso.example",
            "--dns",
            "localhost",
            "--ip",
            "127.0.0.1",
        ],
        &["--dns", "localhost"],
        &["--ip", "::1"],
    ];
    for (index, names) in requests.iter().enumerate() {
        let out = env.path(&format!("tls{index}"));
        let out = out.to_str().expect("utf-8");
        let mut args = vec!["pki", "issue-server", "--out", out];
        args.extend_from_slice(names);
        env.ok(&args);
        let pem = std::fs::read_dir(out)
            .expect("issue-server output")
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .find(|path| path.extension().is_some_and(|e| e == "pem"))
            .unwrap_or_else(|| panic!("no certificate written for {names:?}"));
        let pem = pem.to_str().expect("utf-8");
        let output = env.run(&["verify", "--trust", root, "--purpose", "server", pem]);
        assert!(
            output.status.success(),
            "certgate verify --purpose server rejected the certificate for {names:?}"
        );
    }
}
