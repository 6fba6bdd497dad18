//! A throw-away Samba Active Directory domain controller on 127.0.0.1 for the tests: one per
//! test binary, provisioned and started on first use ([`dc`]), with its fixture accounts.
//! certgate-ldap's tests and the CLI's `directory` tests (crates/certgate/tests/
//! directory_sync_cli.rs, which includes this file by path) share it.
//!
//! Samba listens on the fixed ports 389 and 636, so only one DC can run on a machine at a
//! time: a lock file serialises test processes, and within a process every test shares the one
//! DC (the fixtures are created once and only read). The DC's TLS certificate is made here
//! (an IP address subjectAltName for 127.0.0.1): the certificate Samba generates for itself has
//! no subjectAltName at all, and rustls (like every current TLS client) checks the server's
//! name against the subjectAltName only (RFC 6125 §6.4.4).
//!
//! Samba runs in the foreground (`-i`) with its standard input a pipe held by this process; it
//! stops when that pipe closes, that is when the test process ends, however it ends.

#![allow(dead_code)] // each test binary that includes the harness uses a part of it

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};

/// The test domain.
pub(crate) const REALM: &str = "CERTGATE.TEST";
/// Its base DN.
pub(crate) const BASE_DN: &str = "DC=certgate,DC=test";
/// The fixture accounts of the mapping tests live here.
pub(crate) const STAFF_OU: &str = "OU=Staff,DC=certgate,DC=test";
/// More accounts than one small page, for the paging test.
pub(crate) const PAGING_OU: &str = "OU=Paging,DC=certgate,DC=test";
/// The fixture groups: alice in Sales, Sales in All Staff (nested), bob in the distribution
/// group VPN Notices, and Outer in Inner in Outer (a cycle) with carol in Inner.
pub(crate) const GROUPS_OU: &str = "OU=Groups,DC=certgate,DC=test";
/// How many accounts `PAGING_OU` holds.
pub(crate) const PAGING_ACCOUNTS: usize = 12;
/// The Administrator's password (Samba's default policy wants upper, lower, digit, symbol).
pub(crate) const ADMIN_PASSWORD: &str = "Adm1n-Pass!word";
/// bob's mS-DS-ConsistencyGuid: the bytes 00 01 … 0f.
pub(crate) const BOB_CONSISTENCY_GUID: [u8; 16] = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
];

/// The running DC.
pub(crate) struct SambaDc {
    /// Everything of this DC: `dc/` (Samba's target directory), `tls/`, logs.
    pub(crate) dir: PathBuf,
    /// The CA that issued the DC's certificate (PEM).
    pub(crate) ca_file: PathBuf,
    /// A CA that did not (PEM).
    pub(crate) unrelated_ca_file: PathBuf,
    /// A file with the Administrator's password, as an operator would keep it.
    pub(crate) admin_password_file: PathBuf,
    /// What `samba-tool user show dave` printed as dave's objectGUID.
    pub(crate) dave_guid_text: String,
    samba: Child,
    _samba_stdin: ChildStdin,
    _lock: std::fs::File,
}

impl SambaDc {
    /// The Administrator's bind name (AD accepts a UPN as the bind DN).
    pub(crate) fn admin_bind_dn(&self) -> String {
        format!("Administrator@{}", REALM.to_ascii_lowercase())
    }

    /// `ldapsearch` over LDAPS, verifying the DC against `ca_file`, as Administrator; its
    /// LDIF output (binary values as `name:: base64`).
    pub(crate) fn ldapsearch(&self, base: &str, filter: &str, attributes: &[&str]) -> String {
        let output = Command::new("ldapsearch")
            .env("LDAPTLS_CACERT", &self.ca_file)
            .env("LDAPTLS_REQCERT", "demand")
            .args(["-LLL", "-o", "ldif-wrap=no", "-H", "ldaps://127.0.0.1"])
            .args([
                "-D",
                &self.admin_bind_dn(),
                "-w",
                ADMIN_PASSWORD,
                "-b",
                base,
                filter,
            ])
            .args(attributes)
            .output()
            .expect("run ldapsearch");
        assert!(
            output.status.success(),
            "ldapsearch failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

impl SambaDc {
    /// Applies LDIF change records (`changetype: add|modify|delete`) over LDAPS as
    /// Administrator, as an administrator changes the directory between two syncs.
    pub(crate) fn ldapmodify(&self, ldif: &str) {
        let path = self.dir.join(format!(
            "change-{}-{}.ldif",
            std::process::id(),
            CHANGE_FILES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::write(&path, ldif).expect("write the LDIF changes");
        run(Command::new("ldapmodify")
            .env("LDAPTLS_CACERT", &self.ca_file)
            .env("LDAPTLS_REQCERT", "demand")
            .args([
                "-H",
                "ldaps://127.0.0.1",
                "-D",
                &self.admin_bind_dn(),
                "-w",
                ADMIN_PASSWORD,
            ])
            .arg("-f")
            .arg(&path));
    }
}

/// Names the LDIF files of [`SambaDc::ldapmodify`] apart.
static CHANGE_FILES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The DC, started on first use. Panics with the reason (Samba missing, a port taken, a
/// provisioning failure with its output) so that a test run without a DC fails loudly.
pub(crate) fn dc() -> &'static SambaDc {
    static DC: OnceLock<SambaDc> = OnceLock::new();
    DC.get_or_init(start)
}

fn start() -> SambaDc {
    let started = Instant::now();
    let [samba_binary, samba_tool, _, _] =
        ["samba", "samba-tool", "ldapadd", "ldapsearch"].map(|tool| {
            installed(tool).unwrap_or_else(|| {
                panic!(
                    "`{tool}` is not installed: the LDAP directory tests run a real Samba AD DC. \
                     Install it with `apt-get install samba samba-ad-dc ldap-utils winbind` \
                     (scripts/setup.sh does)"
                )
            })
        });
    let lock = std::fs::File::create(std::env::temp_dir().join("certgate-samba-dc.lock"))
        .expect("create the Samba DC lock file");
    // Another test process may be using the ports: wait for it to finish.
    lock.lock().expect("lock the Samba DC lock file");
    // The previous holder's Samba may still be closing its listeners when the lock is freed
    // (it stops when its test process's pipe closes): give it a few seconds.
    for port in [389, 636] {
        let free_by = Instant::now() + Duration::from_secs(15);
        let mut bound = TcpListener::bind((Ipv4Addr::LOCALHOST, port));
        while bound.is_err() && Instant::now() < free_by {
            std::thread::sleep(Duration::from_millis(200));
            bound = TcpListener::bind((Ipv4Addr::LOCALHOST, port));
        }
        if let Err(error) = bound {
            panic!(
                "127.0.0.1:{port} is not free ({error}): the Samba DC of the LDAP tests needs \
                 ports 389 and 636; stop whatever listens there (`ss -ltnp`) and run again"
            );
        }
    }

    // Under the lock no other test DC runs, so a directory a crashed run left is stale.
    let dir = std::env::temp_dir().join("certgate-samba-dc");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).expect("remove the previous test DC");
    }
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).expect("create the test DC directory");
    let (ca_file, unrelated_ca_file) = write_certificates(&tls);

    let target = dir.join("dc");
    let tls_path = |name: &str| tls.join(name).display().to_string();
    run(Command::new(&samba_tool)
        .args(["domain", "provision"])
        .arg(format!("--realm={REALM}"))
        .args([
            "--domain=CERTGATE",
            "--server-role=dc",
            "--dns-backend=NONE",
        ])
        .args(["--host-name=dc1", "--host-ip=127.0.0.1"])
        .arg(format!("--targetdir={}", target.display()))
        .arg(format!("--adminpass={ADMIN_PASSWORD}"))
        .args([
            "--option=interfaces=lo",
            "--option=bind interfaces only=yes",
        ])
        .arg("--option=netbios name=DC1")
        .arg(format!("--option=log file={}/log.%m", dir.display()))
        .arg("--option=tls enabled=yes")
        .arg(format!("--option=tls keyfile={}", tls_path("dc-key.pem")))
        .arg(format!("--option=tls certfile={}", tls_path("dc.pem")))
        .arg(format!("--option=tls cafile={}", tls_path("ca.pem"))));

    let log = std::fs::File::create(dir.join("samba.out")).expect("create the Samba log");
    let mut samba = Command::new(&samba_binary)
        .arg("-s")
        .arg(target.join("etc/smb.conf"))
        .args(["-i", "-M", "single"])
        .stdin(Stdio::piped())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start samba");
    let samba_stdin = samba.stdin.take().expect("samba's stdin");

    let admin_password_file = dir.join("admin-password");
    std::fs::write(&admin_password_file, format!("{ADMIN_PASSWORD}\n"))
        .expect("write the password file");
    let mut dc = SambaDc {
        dir: dir.clone(),
        ca_file,
        unrelated_ca_file,
        admin_password_file,
        dave_guid_text: String::new(),
        samba,
        _samba_stdin: samba_stdin,
        _lock: lock,
    };
    wait_until_ldaps_answers(&mut dc);
    add_fixtures(&dc);
    dc.dave_guid_text = create_dave_with_samba_tool(&samba_tool);
    eprintln!(
        "test Samba DC ready in {:.1} s ({})",
        started.elapsed().as_secs_f64(),
        dir.display()
    );
    dc
}

/// Where `tool` is: on the PATH, or in /usr/sbin (where Debian puts `samba`, and which a
/// non-login PATH may lack).
fn installed(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
}

/// Runs a command to completion; panics with its output when it fails.
fn run(command: &mut Command) -> String {
    let output = command.output().expect("run a Samba tool");
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A test CA, the DC's certificate from it (for 127.0.0.1 only, so that `localhost` is a
/// name it does not have), and an unrelated CA.
fn write_certificates(tls: &Path) -> (PathBuf, PathBuf) {
    let make_ca = |name: &str| {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let certificate = params.self_signed(&key).expect("CA certificate");
        (params, key, certificate)
    };
    let (ca_params, ca_key, ca) = make_ca("certgate test DC CA");
    let (_, _, unrelated) = make_ca("certgate unrelated CA");

    let key = KeyPair::generate().expect("DC key");
    let mut params = CertificateParams::new(Vec::new()).expect("DC params");
    params
        .subject_alt_names
        .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    params
        .distinguished_name
        .push(DnType::CommonName, "dc1.certgate.test");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let issuer = Issuer::from_params(&ca_params, &ca_key);
    let certificate = params.signed_by(&key, &issuer).expect("DC certificate");

    let write = |name: &str, text: &str, mode: u32| {
        let path = tls.join(name);
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(mode)
            .open(&path)
            .and_then(|mut file| file.write_all(text.as_bytes()))
            .expect("write a test DC TLS file");
        path
    };
    let ca_file = write("ca.pem", &ca.pem(), 0o644);
    let unrelated_ca_file = write("unrelated-ca.pem", &unrelated.pem(), 0o644);
    write("dc.pem", &certificate.pem(), 0o644);
    // Samba refuses a private key that others can read.
    write("dc-key.pem", &key.serialize_pem(), 0o600);
    (ca_file, unrelated_ca_file)
}

/// Waits for LDAPS to accept and Samba to answer a search (it opens its ports before its
/// LDAP server is ready); panics with Samba's log when it exits or takes too long.
fn wait_until_ldaps_answers(dc: &mut SambaDc) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = dc.samba.try_wait().expect("samba's status") {
            panic!(
                "samba exited ({status}) before answering:\n{}",
                std::fs::read_to_string(dc.dir.join("samba.out")).unwrap_or_default()
            );
        }
        let listening =
            TcpStream::connect_timeout(&(Ipv4Addr::LOCALHOST, 636).into(), Duration::from_secs(1))
                .is_ok();
        if listening {
            let probe = Command::new("ldapsearch")
                .env("LDAPTLS_CACERT", &dc.ca_file)
                .env("LDAPTLS_REQCERT", "demand")
                .args(["-LLL", "-H", "ldaps://127.0.0.1", "-D", &dc.admin_bind_dn()])
                .args([
                    "-w",
                    ADMIN_PASSWORD,
                    "-b",
                    BASE_DN,
                    "-s",
                    "base",
                    "(objectClass=*)",
                ])
                .args(["dn"])
                .output()
                .expect("run ldapsearch");
            if probe.status.success() {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "samba did not answer LDAPS within 60 s:\n{}",
            std::fs::read_to_string(dc.dir.join("samba.out")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Base64 of the UTF-16LE of `"password"`: AD's unicodePwd (MS-ADTS §3.1.1.3.1.5.1).
fn unicode_pwd(password: &str) -> String {
    let quoted: Vec<u8> = format!("\"{password}\"")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    base64(&quoted)
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The accounts the tests read, added over LDAPS in one `ldapadd`.
fn add_fixtures(dc: &SambaDc) {
    let mut ldif = format!(
        "dn: {STAFF_OU}\nobjectClass: organizationalUnit\n\n\
         dn: {PAGING_OU}\nobjectClass: organizationalUnit\n\n\
         dn: {GROUPS_OU}\nobjectClass: organizationalUnit\n\n"
    );
    // alice: enabled, every attribute, SMTP and X500 proxy addresses, four X509 mappings
    // written the Windows way and a Kerberos one.
    ldif.push_str(&format!(
        "dn: CN=alice,{STAFF_OU}\nobjectClass: user\nsAMAccountName: alice\n\
         userPrincipalName: alice@certgate.test\ndisplayName: Alice Archer\n\
         mail: alice@certgate.test\n\
         proxyAddresses: SMTP:alice@certgate.test\n\
         proxyAddresses: smtp:a.archer@certgate.test\n\
         proxyAddresses: X500:/o=Certgate/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=alice\n\
         altSecurityIdentities: X509:<I>C=US, O=Contoso, CN=Contoso Issuing CA<SR>1200000000AC11000000002B\n\
         altSecurityIdentities: X509:<I>C=US, O=Contoso, CN=Contoso Issuing CA<S>C=US, S=Texas, O=\"Contoso, Ltd\", CN=Alice Archer\n\
         altSecurityIdentities: X509:<SKI>ABCDEF0123456789\n\
         altSecurityIdentities: X509:<RFC822>alice@certgate.test\n\
         altSecurityIdentities: Kerberos:alice@OTHER.EXAMPLE\n\
         unicodePwd:: {}\nuserAccountControl: 512\n\n",
        unicode_pwd("Al1ce-Pass!word")
    ));
    // bob: his immutable ID comes from mS-DS-ConsistencyGuid.
    ldif.push_str(&format!(
        "dn: CN=bob,{STAFF_OU}\nobjectClass: user\nsAMAccountName: bob\n\
         userPrincipalName: bob@certgate.test\nmS-DS-ConsistencyGuid:: {}\n\
         unicodePwd:: {}\nuserAccountControl: 512\n\n",
        base64(&BOB_CONSISTENCY_GUID),
        unicode_pwd("B0b-Pass!word")
    ));
    // carol: disabled (ACCOUNTDISABLE | NORMAL_ACCOUNT).
    ldif.push_str(&format!(
        "dn: CN=carol,{STAFF_OU}\nobjectClass: user\nsAMAccountName: carol\n\
         userPrincipalName: carol@certgate.test\nuserAccountControl: 514\n\n"
    ));
    // mallory: a mapping that does not parse.
    ldif.push_str(&format!(
        "dn: CN=mallory,{STAFF_OU}\nobjectClass: user\nsAMAccountName: mallory\n\
         userPrincipalName: mallory@certgate.test\n\
         altSecurityIdentities: X509:<SKI>not-hex\nuserAccountControl: 514\n\n"
    ));
    // The groups, after their members. groupType 2 is a global distribution group (not a
    // security group: it is not in the account's token, yet the in-chain rule finds it).
    ldif.push_str(&format!(
        "dn: CN=Sales,{GROUPS_OU}\nobjectClass: group\nsAMAccountName: sales\n\
         member: CN=alice,{STAFF_OU}\n\n\
         dn: CN=All Staff,{GROUPS_OU}\nobjectClass: group\nsAMAccountName: all-staff\n\
         member: CN=Sales,{GROUPS_OU}\n\n\
         dn: CN=VPN Notices,{GROUPS_OU}\nobjectClass: group\nsAMAccountName: vpn-notices\n\
         groupType: 2\nmember: CN=bob,{STAFF_OU}\n\n\
         dn: CN=Inner,{GROUPS_OU}\nobjectClass: group\nsAMAccountName: inner\n\
         member: CN=carol,{STAFF_OU}\n\n\
         dn: CN=Outer,{GROUPS_OU}\nobjectClass: group\nsAMAccountName: outer\n\
         member: CN=Inner,{GROUPS_OU}\n\n\
         dn: CN=Inner,{GROUPS_OU}\nchangetype: modify\nadd: member\n\
         member: CN=Outer,{GROUPS_OU}\n-\n\n"
    ));
    for index in 1..=PAGING_ACCOUNTS {
        ldif.push_str(&format!(
            "dn: CN=page{index:02},{PAGING_OU}\nobjectClass: user\nsAMAccountName: page{index:02}\n\
             userPrincipalName: page{index:02}@certgate.test\nuserAccountControl: 514\n\n"
        ));
    }
    let path = dc.dir.join("fixtures.ldif");
    std::fs::write(&path, ldif).expect("write the fixtures");
    run(Command::new("ldapadd")
        .env("LDAPTLS_CACERT", &dc.ca_file)
        .env("LDAPTLS_REQCERT", "demand")
        .args([
            "-H",
            "ldaps://127.0.0.1",
            "-D",
            &dc.admin_bind_dn(),
            "-w",
            ADMIN_PASSWORD,
        ])
        .arg("-f")
        .arg(&path));
}

/// dave, as an administrator creates accounts: with samba-tool (over signed and sealed LDAP:
/// samba-tool cannot use LDAPS). Returns the objectGUID samba-tool shows for him.
fn create_dave_with_samba_tool(samba_tool: &Path) -> String {
    let admin = ["-H", "ldap://127.0.0.1", "-U", "Administrator"];
    let password = format!("--password={ADMIN_PASSWORD}");
    run(Command::new(samba_tool)
        .args([
            "user",
            "create",
            "dave",
            "D4ve-Pass!word",
            "--use-username-as-cn",
        ])
        .args(["--userou=OU=Staff", "--mail-address=dave@certgate.test"])
        .args(admin)
        .arg(&password));
    let shown = run(Command::new(samba_tool)
        .args(["user", "show", "dave", "--attributes=objectGUID"])
        .args(admin)
        .arg(&password));
    shown
        .lines()
        .find_map(|line| line.strip_prefix("objectGUID: "))
        .map(|guid| guid.trim().to_owned())
        .unwrap_or_else(|| panic!("samba-tool user show printed no objectGUID:\n{shown}"))
}
