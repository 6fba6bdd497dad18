//! The domain password checked by real binds against a Samba Active Directory DC (see
//! `samba_dc`): the right password, a wrong one, and the account states AD reports by its
//! `data` sub-codes (locked, disabled, account expired, must change), each
//! with its reason code; a DC certificate from another CA, nothing listening and a server that
//! never answers each give their code. (An empty password cannot even be made into a
//! `DomainPassword`: certgate-core's unit tests.)

mod samba_dc;

use std::net::{Ipv4Addr, TcpListener};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use certgate_core::domain_password::{DomainAccount, DomainPassword, DomainPasswordVerifier};
use certgate_ldap::{
    BindName, LdapDirectory, LdapPasswordVerifier, LdapSourceConfig, PasswordSource, Transport,
};

use samba_dc::{dc, SambaDc, BASE_DN, STAFF_OU};

const PASSWORD: &str = "Pw-F4ctor!pass";
/// Wrong passwords that lock an account in this test domain.
const DOMAIN_LOCKOUT_THRESHOLD: u32 = 3;

fn config(dc: &SambaDc, url: &str, transport: Transport) -> LdapSourceConfig {
    LdapSourceConfig::new(
        url,
        transport,
        &dc.ca_file,
        dc.admin_bind_dn(),
        PasswordSource::File(dc.admin_password_file.clone()),
        BASE_DN,
    )
}

fn verifier(config: LdapSourceConfig) -> LdapPasswordVerifier {
    LdapPasswordVerifier::new(
        LdapDirectory::new(config).expect("directory settings"),
        BindName::Upn,
    )
}

fn account(name: &str) -> DomainAccount {
    DomainAccount {
        upn: format!("{name}@certgate.test"),
        dn: Some(format!("CN={name},{STAFF_OU}")),
    }
}

fn unicode_pwd(password: &str) -> String {
    use base64::Engine as _;
    let quoted: Vec<u8> = format!("\"{password}\"")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    base64::engine::general_purpose::STANDARD.encode(quoted)
}

/// An enabled account with [`PASSWORD`], and `extra` LDIF lines.
fn user_ldif(name: &str, extra: &str) -> String {
    format!(
        "dn: CN={name},{STAFF_OU}\nchangetype: add\nobjectClass: user\nsAMAccountName: {name}\n\
         userPrincipalName: {name}@certgate.test\nunicodePwd:: {}\nuserAccountControl: 512\n{extra}\n",
        unicode_pwd(PASSWORD)
    )
}

/// The DC with this binary's accounts: the domain locks an account after
/// [`DOMAIN_LOCKOUT_THRESHOLD`] wrong passwords.
///
/// An expired password (`data 532`) is not among them: it needs a password older than the
/// maximum password age, Samba ignores a maximum age under one day, and pwdLastSet can only
/// be written as 0 or -1. Its mapping is in certgate-core's sub-code table.
fn domain() -> &'static SambaDc {
    static READY: OnceLock<()> = OnceLock::new();
    let dc = dc();
    READY.get_or_init(|| {
        dc.ldapmodify(&format!(
            "dn: {BASE_DN}\nchangetype: modify\nreplace: lockoutThreshold\n\
             lockoutThreshold: {DOMAIN_LOCKOUT_THRESHOLD}\n-\n\n"
        ));
        let mut ldif = String::new();
        for name in [
            "pw-right",
            "pw-wrong",
            "pw-locked",
            "pw-starttls",
            "pw-aged",
        ] {
            ldif.push_str(&user_ldif(name, ""));
            ldif.push('\n');
        }
        // Disabled after its password was set (514 = ACCOUNTDISABLE | NORMAL_ACCOUNT).
        ldif.push_str(&user_ldif("pw-disabled", ""));
        ldif.push_str(&format!(
            "\ndn: CN=pw-disabled,{STAFF_OU}\nchangetype: modify\nreplace: userAccountControl\n\
             userAccountControl: 514\n-\n\n"
        ));
        // accountExpires in 1970 (a FILETIME: 100 ns since 1601).
        ldif.push_str(&user_ldif(
            "pw-account-expired",
            "accountExpires: 116444736000000000\n",
        ));
        // pwdLastSet = 0: the password must be changed at next logon.
        ldif.push_str(&user_ldif("pw-must-change", ""));
        ldif.push_str(&format!(
            "\ndn: CN=pw-must-change,{STAFF_OU}\nchangetype: modify\nreplace: pwdLastSet\n\
             pwdLastSet: 0\n-\n\n"
        ));
        dc.ldapmodify(&ldif);
    });
    dc
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn check(
    verifier: &LdapPasswordVerifier,
    account: &DomainAccount,
    password: &str,
) -> Result<(), String> {
    let password = DomainPassword::new(password.to_owned()).map_err(|e| e.code().to_owned())?;
    runtime()
        .block_on(verifier.verify(account, &password))
        .map_err(|error| error.code().to_owned())
}

fn ldaps(dc: &SambaDc) -> LdapPasswordVerifier {
    verifier(config(dc, "ldaps://127.0.0.1", Transport::Ldaps))
}

#[test]
fn the_right_password_is_accepted_and_a_wrong_one_refused() {
    let dc = domain();
    let verifier = ldaps(dc);
    assert_eq!(check(&verifier, &account("pw-right"), PASSWORD), Ok(()));
    assert_eq!(
        check(&verifier, &account("pw-wrong"), "Not-The-Passw0rd"),
        Err("domain-password-wrong".into())
    );
    // No such account: the same answer as a wrong password (AD's 525 is not revealed).
    assert_eq!(
        check(&verifier, &account("nobody-here"), PASSWORD),
        Err("domain-password-wrong".into())
    );
    // By the DN the sync recorded, as for a generic LDAP directory.
    let by_dn = LdapPasswordVerifier::new(
        LdapDirectory::new(config(dc, "ldaps://127.0.0.1", Transport::Ldaps)).expect("settings"),
        BindName::EntryDn,
    );
    assert_eq!(check(&by_dn, &account("pw-right"), PASSWORD), Ok(()));
    let local_user = DomainAccount {
        upn: "pw-right@certgate.test".into(),
        dn: None,
    };
    assert_eq!(
        check(&by_dn, &local_user, PASSWORD),
        Err("domain-password-account-not-in-directory".into())
    );
}

#[test]
fn starttls_checks_the_password_too() {
    let dc = domain();
    let verifier = verifier(config(dc, "ldap://127.0.0.1", Transport::StartTls));
    assert_eq!(check(&verifier, &account("pw-starttls"), PASSWORD), Ok(()));
    assert_eq!(
        check(&verifier, &account("pw-starttls"), "wrong"),
        Err("domain-password-wrong".into())
    );
}

#[test]
fn account_states_come_back_as_their_reason_codes() {
    let dc = domain();
    let verifier = ldaps(dc);
    for (name, code) in [
        ("pw-disabled", "domain-password-account-disabled"),
        ("pw-account-expired", "domain-password-account-expired"),
        ("pw-must-change", "domain-password-must-change"),
    ] {
        assert_eq!(
            check(&verifier, &account(name), PASSWORD),
            Err(code.to_owned()),
            "{name}"
        );
    }
}

#[test]
fn an_account_the_domain_locked_is_reported_as_locked() {
    let dc = domain();
    let verifier = ldaps(dc);
    let locked = account("pw-locked");
    for _ in 0..DOMAIN_LOCKOUT_THRESHOLD {
        assert_eq!(
            check(&verifier, &locked, "Wrong-Passw0rd"),
            Err("domain-password-wrong".into())
        );
    }
    // Locked in the domain: even the right password is refused, with the lockout's code.
    assert_eq!(
        check(&verifier, &locked, PASSWORD),
        Err("domain-password-account-locked".into())
    );
}

#[test]
fn a_dc_certificate_from_another_ca_sends_no_password() {
    let dc = domain();
    let mut settings = config(dc, "ldaps://127.0.0.1", Transport::Ldaps);
    settings.ca_file = dc.unrelated_ca_file.clone();
    assert_eq!(
        check(&verifier(settings), &account("pw-right"), PASSWORD),
        Err("domain-password-directory-tls-failed".into())
    );
}

#[test]
fn an_unreachable_or_silent_directory_is_unreachable_within_the_time_limit() {
    let dc = domain();
    // Nothing listens on a port just freed.
    let free = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("port");
    let port = free.local_addr().expect("address").port();
    drop(free);
    let nothing = verifier(config(
        dc,
        &format!("ldaps://127.0.0.1:{port}"),
        Transport::Ldaps,
    ));
    assert_eq!(
        check(&nothing, &account("pw-right"), PASSWORD),
        Err("domain-password-directory-unreachable".into())
    );
    // A server that accepts the connection and never answers the TLS handshake.
    let silent = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("port");
    let mut settings = config(
        dc,
        &format!(
            "ldaps://127.0.0.1:{}",
            silent.local_addr().expect("address").port()
        ),
        Transport::Ldaps,
    );
    settings.connect_timeout = Duration::from_secs(1);
    settings.operation_timeout = Duration::from_secs(1);
    let started = Instant::now();
    assert_eq!(
        check(&verifier(settings), &account("pw-right"), PASSWORD),
        Err("domain-password-directory-unreachable".into())
    );
    let took = started.elapsed();
    assert!(took < Duration::from_secs(4), "took {took:?}");
    eprintln!("a silent directory was given up after {took:?}");
    drop(silent);
}
