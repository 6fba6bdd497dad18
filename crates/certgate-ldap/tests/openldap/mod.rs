//! A throw-away OpenLDAP server (`slapd`) on 127.0.0.1 for the generic-profile tests: one per
//! test process, configured and filled offline on first use ([`server`]).
//!
//! Everything is its own: a cn=config directory written with `slapadd -n 0` in a temporary
//! directory, its pid and args files there, a port no other test uses (Samba's DC has 389 and
//! 636), and a TLS certificate for 127.0.0.1 from a test CA made here, offered through StartTLS
//! and required (`olcSecurity: tls=1`: slapd refuses a bind that has not started TLS).
//! Debian's system slapd (its /etc/ldap/slapd.d, its service) is neither used nor touched.
//!
//! The directory is `dc=example,dc=test`: inetOrgPerson people (entryUUID set by slapadd, one
//! of them fixed so a test can name it), groupOfNames groups nested in each other, and a
//! service account `cn=sync` that certgate binds as. The rootdn is exempt from size limits,
//! so the tests bind as `cn=sync`, who gets at most [`SIZE_LIMIT`] entries per search or page.
//!
//! slapd runs in the foreground under `sh`, whose standard input is a pipe held by this process:
//! when the test process ends, however it ends, the pipe closes and `sh` stops slapd.

#![allow(dead_code)] // each test binary that includes the harness uses a part of it

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};

/// The suffix.
pub(crate) const SUFFIX: &str = "dc=example,dc=test";
/// The people.
pub(crate) const PEOPLE: &str = "ou=people,dc=example,dc=test";
/// The groups.
pub(crate) const GROUPS: &str = "ou=groups,dc=example,dc=test";
/// The account certgate binds as.
pub(crate) const SYNC_DN: &str = "cn=sync,dc=example,dc=test";
/// Its password.
pub(crate) const SYNC_PASSWORD: &str = "sync-Pass!word";
/// How many people (beside ada, who has a fixed entryUUID) the directory has.
pub(crate) const NUMBERED_PEOPLE: usize = 12;
/// The most entries `cn=sync` gets from one search, or from one page of a paged one
/// (`olcLimits size.soft/size.hard/size.pr`); the paged total is unlimited.
pub(crate) const SIZE_LIMIT: usize = 5;
/// How many groups person02 is in directly: more than two pages.
pub(crate) const MANY_GROUPS: usize = 12;
/// ada's entryUUID.
pub(crate) const ADA_UUID: &str = "6f1c2a9e-4b7d-4e0a-9c3b-2d5e8f7a1b0c";

/// The running server.
pub(crate) struct Slapd {
    /// Everything of this server: `slapd.d/`, `data/`, `tls/`, the log.
    pub(crate) dir: PathBuf,
    /// Its port on 127.0.0.1 (plain LDAP, where StartTLS is offered).
    pub(crate) port: u16,
    /// The CA that issued the server's certificate (PEM).
    pub(crate) ca_file: PathBuf,
    /// A file with `cn=sync`'s password.
    pub(crate) password_file: PathBuf,
    shell: Child,
    _shell_stdin: ChildStdin,
}

impl Slapd {
    /// `ldap://127.0.0.1:<port>`.
    pub(crate) fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }
}

/// The server, started on first use. Panics with the reason (slapd missing, a configuration
/// slapadd refuses, slapd not answering, with its log) so that a run without it fails loudly.
pub(crate) fn server() -> &'static Slapd {
    static SERVER: OnceLock<Slapd> = OnceLock::new();
    SERVER.get_or_init(start)
}

fn start() -> Slapd {
    let started = Instant::now();
    let [slapd, slapadd] = ["slapd", "slapadd"].map(|tool| {
        installed(tool).unwrap_or_else(|| {
            panic!(
                "`{tool}` is not installed: the generic LDAP tests run a real OpenLDAP server. \
                 Install it with `DEBIAN_FRONTEND=noninteractive apt-get install slapd ldap-utils` \
                 (scripts/setup.sh does)"
            )
        })
    });
    remove_stale_servers();
    let dir = std::env::temp_dir().join(format!("certgate-slapd-{}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).expect("remove a previous test slapd of this pid");
    }
    let (config_dir, data, tls) = (dir.join("slapd.d"), dir.join("data"), dir.join("tls"));
    for path in [&config_dir, &data, &tls] {
        std::fs::create_dir_all(path).expect("create the test slapd directories");
    }
    let ca_file = write_certificates(&tls);
    let port = free_port();

    let config = dir.join("config.ldif");
    std::fs::write(&config, config_ldif(&dir)).expect("write the configuration");
    run(Command::new(&slapadd)
        .args(["-n", "0", "-F"])
        .arg(&config_dir)
        .arg("-l")
        .arg(&config));
    let content = dir.join("content.ldif");
    std::fs::write(&content, content_ldif()).expect("write the directory content");
    run(Command::new(&slapadd)
        .args(["-n", "1", "-F"])
        .arg(&config_dir)
        .arg("-l")
        .arg(&content));

    let log = std::fs::File::create(dir.join("slapd.out")).expect("create the slapd log");
    // `-d 0`: in the foreground, no debug output. The shell stops slapd once its standard
    // input (the pipe this process holds) closes.
    let script = "\"$0\" -d 0 -F \"$1\" -h \"$2\" & pid=$!; cat >/dev/null; kill $pid; wait $pid";
    let mut shell = Command::new("sh")
        .args(["-c", script])
        .arg(&slapd)
        .arg(&config_dir)
        .arg(format!("ldap://127.0.0.1:{port}/"))
        .stdin(Stdio::piped())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start slapd");
    let shell_stdin = shell.stdin.take().expect("the shell's stdin");
    let password_file = dir.join("sync-password");
    std::fs::write(&password_file, format!("{SYNC_PASSWORD}\n")).expect("write the password");
    let mut server = Slapd {
        dir: dir.clone(),
        port,
        ca_file,
        password_file,
        shell,
        _shell_stdin: shell_stdin,
    };
    wait_until_listening(&mut server);
    eprintln!(
        "test slapd ready on 127.0.0.1:{port} in {:.1} s ({})",
        started.elapsed().as_secs_f64(),
        dir.display()
    );
    server
}

/// Removes the directories of test processes that have ended (their slapd ended with them):
/// each process has its own, named after its pid.
fn remove_stale_servers() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|name| name.strip_prefix("certgate-slapd-"))
        else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            // Another process may be removing it too: either way it goes.
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// cn=config: the schemas inetOrgPerson needs, TLS, an mdb database for the suffix, and the
/// limits of `cn=sync`.
fn config_ldif(dir: &Path) -> String {
    let path = |name: &str| dir.join(name).display().to_string();
    format!(
        "dn: cn=config\nobjectClass: olcGlobal\ncn: config\n\
         olcPidFile: {pid}\nolcArgsFile: {args}\n\
         olcTLSCACertificateFile: {ca}\nolcTLSCertificateFile: {cert}\n\
         olcTLSCertificateKeyFile: {key}\nolcSecurity: tls=1\n\n\
         dn: cn=module{{0}},cn=config\nobjectClass: olcModuleList\ncn: module{{0}}\n\
         olcModulePath: /usr/lib/ldap\nolcModuleLoad: back_mdb\n\n\
         dn: cn=schema,cn=config\nobjectClass: olcSchemaConfig\ncn: schema\n\n\
         include: file:///etc/ldap/schema/core.ldif\n\n\
         include: file:///etc/ldap/schema/cosine.ldif\n\n\
         include: file:///etc/ldap/schema/inetorgperson.ldif\n\n\
         dn: olcDatabase={{-1}}frontend,cn=config\nobjectClass: olcDatabaseConfig\n\
         objectClass: olcFrontendConfig\nolcDatabase: {{-1}}frontend\n\n\
         dn: olcDatabase={{0}}config,cn=config\nobjectClass: olcDatabaseConfig\n\
         olcDatabase: {{0}}config\nolcAccess: {{0}}to * by * none\n\n\
         dn: olcDatabase={{1}}mdb,cn=config\nobjectClass: olcDatabaseConfig\n\
         objectClass: olcMdbConfig\nolcDatabase: {{1}}mdb\nolcSuffix: {SUFFIX}\n\
         olcDbDirectory: {data}\nolcRootDN: cn=admin,{SUFFIX}\nolcRootPW: admin-Pass!word\n\
         olcAccess: {{0}}to attrs=userPassword by anonymous auth by * none\n\
         olcAccess: {{1}}to * by dn.exact=\"{SYNC_DN}\" read by * none\n\
         olcLimits: {{0}}dn.exact=\"{SYNC_DN}\" size.soft={SIZE_LIMIT} size.hard={SIZE_LIMIT} \
         size.pr={SIZE_LIMIT} size.prtotal=unlimited\n\n",
        pid = path("slapd.pid"),
        args = path("slapd.args"),
        ca = path("tls/ca.pem"),
        cert = path("tls/server.pem"),
        key = path("tls/server-key.pem"),
        data = path("data"),
    )
}

/// The suffix's entries: `cn=sync`, ada (fixed entryUUID, no displayName: her cn is shown),
/// the numbered people, and the groups (ada in staff, staff in everyone; person01 in
/// everyone directly; person02 in [`MANY_GROUPS`] clubs).
fn content_ldif() -> String {
    let mut ldif = format!(
        "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n\
         dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n\n\
         dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups\n\n\
         dn: {SYNC_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n\
         cn: sync\nuserPassword: {SYNC_PASSWORD}\n\n\
         dn: uid=ada,{PEOPLE}\nobjectClass: inetOrgPerson\nuid: ada\ncn: Ada Lovelace\n\
         sn: Lovelace\nmail: ada@example.test\nentryUUID: {ADA_UUID}\n\n"
    );
    for index in 1..=NUMBERED_PEOPLE {
        ldif.push_str(&format!(
            "dn: uid=person{index:02},{PEOPLE}\nobjectClass: inetOrgPerson\nuid: person{index:02}\n\
             cn: Person {index}\nsn: Person\ndisplayName: Person Number {index}\n\
             mail: person{index:02}@example.test\n\n"
        ));
    }
    ldif.push_str(&format!(
        "dn: cn=staff,{GROUPS}\nobjectClass: groupOfNames\ncn: staff\nmember: uid=ada,{PEOPLE}\n\n\
         dn: cn=everyone,{GROUPS}\nobjectClass: groupOfNames\ncn: everyone\n\
         member: cn=staff,{GROUPS}\nmember: uid=person01,{PEOPLE}\n\n"
    ));
    // person02 is in more groups than one page of cn=sync holds.
    for index in 1..=MANY_GROUPS {
        ldif.push_str(&format!(
            "dn: cn=club{index},{GROUPS}\nobjectClass: groupOfNames\ncn: club{index}\n\
             member: uid=person02,{PEOPLE}\n\n"
        ));
    }
    ldif
}

/// Where `tool` is: on the PATH, or in /usr/sbin (where Debian puts slapd and slapadd, and
/// which a non-login PATH may lack).
fn installed(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
}

/// A port nobody listens on now (the kernel's pick); slapd binds it a moment later.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("a free port on 127.0.0.1")
        .port()
}

/// Runs a command to completion; panics with its output when it fails.
fn run(command: &mut Command) -> String {
    let output = command.output().expect("run an OpenLDAP tool");
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A test CA and the server's certificate from it, for 127.0.0.1 only. Returns the CA file.
fn write_certificates(tls: &Path) -> PathBuf {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "certgate test slapd CA");
    let ca = ca_params.self_signed(&ca_key).expect("CA certificate");

    let key = KeyPair::generate().expect("server key");
    let mut params = CertificateParams::new(Vec::new()).expect("server params");
    params
        .subject_alt_names
        .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    params
        .distinguished_name
        .push(DnType::CommonName, "ldap.example.test");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let issuer = Issuer::from_params(&ca_params, &ca_key);
    let certificate = params.signed_by(&key, &issuer).expect("server certificate");

    let write = |name: &str, text: &str, mode: u32| {
        let path = tls.join(name);
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(mode)
            .open(&path)
            .and_then(|mut file| file.write_all(text.as_bytes()))
            .expect("write a test slapd TLS file");
        path
    };
    write("server.pem", &certificate.pem(), 0o644);
    write("server-key.pem", &key.serialize_pem(), 0o600);
    write("ca.pem", &ca.pem(), 0o644)
}

/// Waits for slapd to accept connections; panics with its log when it exits or takes too
/// long.
fn wait_until_listening(server: &mut Slapd) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if TcpStream::connect((Ipv4Addr::LOCALHOST, server.port)).is_ok() {
            return;
        }
        let log = || std::fs::read_to_string(server.dir.join("slapd.out")).unwrap_or_default();
        if let Ok(Some(status)) = server.shell.try_wait() {
            panic!("slapd exited ({status}) before listening:\n{}", log());
        }
        assert!(
            Instant::now() < deadline,
            "slapd did not listen on 127.0.0.1:{} within 20 s:\n{}",
            server.port,
            log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
