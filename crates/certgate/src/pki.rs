//! `certgate pki init|issue|revoke|crl|list|crls`: certgate's own CA (the AD CS role).
//! revoke, crl, list and crls also drive a server's admin API (`--server`).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use certgate_ca::KeyAlgorithm;
use certgate_core::authority::{
    AuthorityRole, BaseCrl, BuiltInCa, InitRequest, IssueRequest, PkiError,
};
use certgate_core::clock::{rfc3339, Clock, SystemClock};
use certgate_core::crl_cache::CrlKind;
use certgate_core::device::file_stem;
use certgate_core::trusted_ca::add_cas;
use certgate_server::admin_api::resource::{
    CertificateRevocation, Collection, IssuedCertificate, PublishedCrl, RevocationRequest,
};
use clap::{Args, Subcommand};
use zeroize::Zeroizing;

use crate::remote::{Refusal, Remote};
use crate::{cli_actor, GlobalArgs};

#[derive(Subcommand)]
pub(crate) enum PkiCommand {
    /// Create certgate's root and issuing CA (keys sealed with CERTGATE_CA_KEY_PASSPHRASE) and
    /// publish their first CRLs.
    Init(InitArgs),
    /// Issue a client certificate: clientAuth, UPN and e-mail in the SAN, CRL and AIA URLs
    /// pointing at certgate. Writes <out>/<upn>.pem, .key and a password-protected .p12.
    Issue(IssueArgs),
    /// Issue a TLS server certificate for certgate's certificate sign-in listener (or any
    /// HTTPS host): writes <out>/<name>.pem (with the chain) and <name>.key.
    IssueServer {
        /// DNS name (SAN); repeatable. The first names the files.
        #[arg(long = "dns", required_unless_present = "ips")]
        dns_names: Vec<String>,
        /// IP address (SAN); repeatable.
        #[arg(long = "ip")]
        ips: Vec<std::net::IpAddr>,
        #[arg(long, default_value_t = 397)]
        days: u32,
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Revoke a certificate certgate issued. Durable when this returns; relying parties see
    /// it with the next `certgate pki crl` (or the server's next scheduled publication).
    Revoke {
        /// Serial number in hex (as `certgate pki list` prints it; `:` allowed).
        #[arg(long)]
        serial: String,
        /// keyCompromise, cACompromise, affiliationChanged, superseded,
        /// cessationOfOperation, certificateHold, privilegeWithdrawn, unspecified.
        #[arg(long, default_value = "unspecified")]
        reason: String,
    },
    /// Publish a delta CRL for each CA (and a new base CRL when due or with --base).
    Crl {
        /// Start a new base CRL now.
        #[arg(long)]
        base: bool,
        /// Also write the CRLs and CA certificates to this directory.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Every certificate certgate issued, with its status.
    List {
        #[arg(long)]
        json: bool,
    },
    /// The CRLs certgate's CA publishes now: each CA's latest base and delta CRL.
    Crls {
        #[arg(long)]
        json: bool,
    },
}

impl PkiCommand {
    /// Why the command has no remote mode, for those that have none.
    pub(crate) fn why_not_remote(&self) -> Option<&'static str> {
        match self {
            PkiCommand::Init(_) => Some("`pki init` creates the CA's private keys where it runs; run it on the server's machine, so that the keys never cross a network"),
            PkiCommand::Issue(_) | PkiCommand::IssueServer { .. } => Some("`pki issue` writes the new private key on this machine, and the server never hands out a private key it made; run it on the server's machine, or have the device make its own key (EST) or ask for a device profile (POST /api/v1/users/{upn}/deviceProfiles)"),
            PkiCommand::Crl { out: Some(_), .. } => Some("`pki crl --out` writes the CRLs into a local directory; with --server, publish without --out and fetch the CRLs from the URLs it prints"),
            PkiCommand::Revoke { .. } | PkiCommand::Crl { .. } | PkiCommand::List { .. } | PkiCommand::Crls { .. } => None,
        }
    }
}

#[derive(Args)]
pub(crate) struct InitArgs {
    #[arg(long, default_value = "certgate")]
    organization: String,
    #[arg(long, default_value = "ecdsa-p256", value_parser = parse_algorithm)]
    key_algorithm: KeyAlgorithm,
    #[arg(long, default_value_t = 3650)]
    root_days: u32,
    #[arg(long, default_value_t = 1825)]
    issuing_days: u32,
    /// Keep the CA keys unencrypted in the database when no passphrase is configured.
    /// Anyone who can read the database can then issue certificates.
    #[arg(long)]
    allow_unencrypted_keys: bool,
    /// Also add both CAs to the trust store, with certgate's CRL URLs.
    #[arg(long)]
    trust: bool,
}

#[derive(Args)]
pub(crate) struct IssueArgs {
    #[arg(long)]
    upn: String,
    #[arg(long)]
    email: Option<String>,
    /// Subject common name (default: the UPN).
    #[arg(long)]
    name: Option<String>,
    #[arg(long, default_value_t = 365)]
    days: u32,
    /// certificatePolicies OID (e.g. for a multi-factor authentication-strength rule).
    #[arg(long = "policy", value_name = "OID")]
    policies: Vec<String>,
    #[arg(long, default_value = "ecdsa-p256", value_parser = parse_algorithm)]
    key_algorithm: KeyAlgorithm,
    /// Output directory.
    #[arg(long, default_value = ".")]
    out: PathBuf,
    /// PKCS#12 password (default: CERTGATE_P12_PASSWORD, or a random one that is printed).
    #[arg(long, env = "CERTGATE_P12_PASSWORD", hide_env_values = true)]
    p12_password: Option<String>,
}

fn parse_algorithm(text: &str) -> Result<KeyAlgorithm, String> {
    KeyAlgorithm::parse(text).ok_or_else(|| {
        format!("unknown key algorithm {text}: use ecdsa-p256, ecdsa-p384, rsa-2048 or rsa-3072")
    })
}

fn refused(error: &PkiError) -> ExitCode {
    eprintln!("certgate pki: {error} ({})", error.code());
    ExitCode::FAILURE
}

/// Writes a file; one that holds a secret (a private key, a PKCS#12 bundle, a profile with
/// one) is readable by its owner only (0600 whatever the umask, see
/// [`certgate_core::private_file`]).
pub(crate) fn write_file(path: &Path, bytes: &[u8], secret: bool) -> anyhow::Result<()> {
    let written = if secret {
        certgate_core::private_file::write(path, bytes)
    } else {
        std::fs::File::create(path)
            .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()))
    };
    written.with_context(|| format!("writing {}", path.display()))
}

/// Creates a directory (and its parents) that will hold keys or the database: 0700.
pub(crate) fn create_private_dir(path: &Path) -> anyhow::Result<()> {
    certgate_core::private_file::create_dir_all(path)
        .with_context(|| format!("creating {}", path.display()))
}

pub(crate) fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

pub(crate) fn random_password() -> anyhow::Result<String> {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 20];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| anyhow::anyhow!("no system randomness"))?;
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect())
}

pub(crate) async fn run(command: PkiCommand, global: GlobalArgs) -> anyhow::Result<ExitCode> {
    if let Some(remote) = global.remote()? {
        return run_remote(command, remote).await;
    }
    let config = global.load()?;
    let store = config.open_store().await?;
    let clock = SystemClock;
    let actor = cli_actor();
    let allow_unencrypted =
        matches!(&command, PkiCommand::Init(args) if args.allow_unencrypted_keys);
    let settings = config.pki_settings(allow_unencrypted);
    let ca = BuiltInCa::new(&store, &clock, &settings, &actor);
    match command {
        PkiCommand::Init(args) => {
            if settings.key_passphrase.is_none() && args.allow_unencrypted_keys {
                eprintln!("WARNING: the CA private keys will be stored UNENCRYPTED in the database; anyone who can read it can issue certificates. Set CERTGATE_CA_KEY_PASSPHRASE to seal them.");
            }
            let records = match ca
                .init(&InitRequest {
                    organization: args.organization,
                    key_algorithm: args.key_algorithm,
                    root_validity_days: args.root_days,
                    issuing_validity_days: args.issuing_days,
                })
                .await
            {
                Ok(records) => records,
                Err(error) => return Ok(refused(&error)),
            };
            let dir = config.data_dir.join("pki");
            create_private_dir(&dir)?;
            for record in &records {
                let path = dir.join(format!("{}.pem", record.role.as_str()));
                write_file(
                    &path,
                    pem("CERTIFICATE", &record.certificate_der).as_bytes(),
                    false,
                )?;
                outln!(
                    "{} CA certificate: {}",
                    record.role.as_str(),
                    path.display()
                );
            }
            let urls = &settings.urls;
            for role in [AuthorityRole::Root, AuthorityRole::Issuing] {
                outln!(
                    "{} CRLs: {} (delta {})",
                    role.as_str(),
                    urls.crl(role, CrlKind::Base),
                    urls.crl(role, CrlKind::Delta)
                );
            }
            if args.trust {
                let now = clock.now();
                for record in &records {
                    let role = record.role;
                    let added = add_cas(
                        &store,
                        vec![record.certificate_der.clone()],
                        |_| urls.trusted_ca_settings(role),
                        now,
                        &actor,
                    )
                    .await;
                    match added {
                        Ok(added) => {
                            for r in added {
                                outln!("trusted as CA {}: {}", r.id, r.facts.trusted_issuer)
                            }
                        }
                        Err(error) => {
                            eprintln!("certgate pki: {error} ({})", error.code());
                            return Ok(ExitCode::FAILURE);
                        }
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        PkiCommand::Issue(args) => {
            let issued = match ca
                .issue(&IssueRequest {
                    upn: args.upn.clone(),
                    email: args.email.clone(),
                    common_name: args.name.clone(),
                    validity_days: args.days,
                    policy_oids: args.policies.clone(),
                    key_algorithm: args.key_algorithm,
                    parent: None,
                })
                .await
            {
                Ok(issued) => issued,
                Err(error) => return Ok(refused(&error)),
            };
            let (password, generated) = match args.p12_password.clone() {
                Some(password) if !password.is_empty() => (Zeroizing::new(password), false),
                _ => (Zeroizing::new(random_password()?), true),
            };
            let record = &issued.record;
            let p12 = certgate_ca::pkcs12(
                &record.certificate_der,
                &issued.private_key_pkcs8_der,
                &issued.chain_der,
                &password,
                &record.upn,
            )?;
            create_private_dir(&args.out)?;
            let stem = file_stem(&record.upn);
            let cert_path = args.out.join(format!("{stem}.pem"));
            let key_path = args.out.join(format!("{stem}.key"));
            let p12_path = args.out.join(format!("{stem}.p12"));
            let chain_path = args.out.join(format!("{stem}-chain.pem"));
            write_file(
                &cert_path,
                pem("CERTIFICATE", &record.certificate_der).as_bytes(),
                false,
            )?;
            write_file(
                &key_path,
                pem("PRIVATE KEY", &issued.private_key_pkcs8_der).as_bytes(),
                true,
            )?;
            write_file(&p12_path, &p12, true)?;
            let chain: String = issued
                .chain_der
                .iter()
                .map(|der| pem("CERTIFICATE", der))
                .collect();
            write_file(&chain_path, chain.as_bytes(), false)?;
            outln!(
                "issued serial {} to {}",
                certgate_core::hex(&record.serial),
                record.upn
            );
            outln!("  subject     {}", record.subject);
            outln!(
                "  valid       {} .. {}",
                rfc3339(record.not_before),
                rfc3339(record.not_after)
            );
            outln!("  certificate {}", cert_path.display());
            outln!("  key         {}", key_path.display());
            outln!("  chain       {}", chain_path.display());
            outln!("  PKCS#12     {}", p12_path.display());
            if generated {
                outln!("  PKCS#12 password: {}", password.as_str());
            }
            Ok(ExitCode::SUCCESS)
        }
        PkiCommand::IssueServer {
            dns_names,
            ips,
            days,
            out,
        } => {
            let issued = match ca
                .issue_server(&certgate_ca::ServerCertificateRequest {
                    dns_names: dns_names.clone(),
                    ip_addresses: ips.clone(),
                    validity_days: days,
                    key_algorithm: KeyAlgorithm::EcdsaP256,
                })
                .await
            {
                Ok(issued) => issued,
                Err(error) => return Ok(refused(&error)),
            };
            let stem = file_stem(
                &dns_names
                    .first()
                    .cloned()
                    .or_else(|| ips.first().map(ToString::to_string))
                    .unwrap_or_else(|| "server".into()),
            );
            create_private_dir(&out)?;
            let mut chain = pem("CERTIFICATE", &issued.certificate_der);
            // The issuing CA only: clients have (or are given) the root.
            if let Some(issuing) = issued.chain_der.first() {
                chain.push_str(&pem("CERTIFICATE", issuing));
            }
            let cert_path = out.join(format!("{stem}.pem"));
            let key_path = out.join(format!("{stem}.key"));
            write_file(&cert_path, chain.as_bytes(), false)?;
            write_file(
                &key_path,
                pem("PRIVATE KEY", &issued.private_key_pkcs8_der).as_bytes(),
                true,
            )?;
            outln!(
                "TLS certificate (with the issuing CA): {}",
                cert_path.display()
            );
            outln!("private key: {}", key_path.display());
            outln!("valid until {}", rfc3339(issued.not_after));
            Ok(ExitCode::SUCCESS)
        }
        PkiCommand::Revoke { serial, reason } => {
            let Some(bytes) = certgate_core::parse_hex(&serial) else {
                eprintln!("certgate pki: \"{serial}\" is not a hexadecimal serial number");
                return Ok(ExitCode::from(2));
            };
            match ca.revoke(&bytes, &reason).await {
                Ok(revocation) => {
                    print_revocation(&CertificateRevocation::new(&revocation, clock.now()));
                    Ok(ExitCode::SUCCESS)
                }
                Err(error) => Ok(refused(&error)),
            }
        }
        PkiCommand::Crl { base, out } => {
            let published = match ca
                .publish_crls(if base {
                    BaseCrl::Always
                } else {
                    BaseCrl::WhenDue
                })
                .await
            {
                Ok(published) => published,
                Err(error) => return Ok(refused(&error)),
            };
            let authorities = certgate_core::authority::OwnCaStore::authorities(&store).await?;
            print_published(&PublishedCrl::list(
                &published,
                &authorities,
                &settings.urls,
            ));
            if let Some(dir) = &out {
                std::fs::create_dir_all(dir)?;
                for crl in &published {
                    let role = authorities
                        .iter()
                        .find(|a| a.id == crl.authority)
                        .map_or(AuthorityRole::Issuing, |a| a.role);
                    let suffix = match crl.kind {
                        CrlKind::Base => "",
                        CrlKind::Delta => "-delta",
                    };
                    write_file(
                        &dir.join(format!("{}{suffix}.crl", role.as_str())),
                        &crl.der,
                        false,
                    )?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        PkiCommand::List { json } => {
            let issued = match ca.issued().await {
                Ok(issued) => issued,
                Err(error) => return Ok(refused(&error)),
            };
            let now = clock.now();
            let issued: Vec<IssuedCertificate> = issued
                .iter()
                .map(|record| IssuedCertificate::new(record, now))
                .collect();
            print_issued(&issued, json)?;
            Ok(ExitCode::SUCCESS)
        }
        PkiCommand::Crls { json } => {
            let current = match ca.current_crls().await {
                Ok(current) => current,
                Err(error) => return Ok(refused(&error)),
            };
            let authorities = certgate_core::authority::OwnCaStore::authorities(&store).await?;
            print_crls(
                &PublishedCrl::list(&current, &authorities, &settings.urls),
                json,
            )?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `pki revoke|crl|list|crls` through a server's admin API; the rest say why they have no
/// remote mode.
async fn run_remote(command: PkiCommand, remote: Remote) -> anyhow::Result<ExitCode> {
    if let Some(why) = command.why_not_remote() {
        eprintln!("certgate pki: no remote mode: {why}");
        return Ok(ExitCode::from(2));
    }
    let refused = |refusal: Refusal| {
        eprintln!("certgate pki: {} ({})", refusal.message, refusal.code);
        ExitCode::FAILURE
    };
    match command {
        PkiCommand::Revoke { serial, reason } => {
            // The local command's check, so that a typo reads the same either way.
            if certgate_core::parse_hex(&serial).is_none() {
                eprintln!("certgate pki: \"{serial}\" is not a hexadecimal serial number");
                return Ok(ExitCode::from(2));
            }
            let path = format!("/pki/issuedCertificates/{}/revoke", serial.replace(':', ""));
            let request = RevocationRequest { reason };
            match remote
                .post::<_, CertificateRevocation>(&path, Some(&request))
                .await?
            {
                Ok(revocation) => {
                    print_revocation(&revocation);
                    Ok(ExitCode::SUCCESS)
                }
                Err(refusal) => Ok(refused(refusal)),
            }
        }
        PkiCommand::Crl { base, .. } => {
            let path = format!("/pki/crls/publish?base={base}");
            match remote
                .post::<(), Collection<PublishedCrl>>(&path, None)
                .await?
            {
                Ok(published) => {
                    print_published(&published.value);
                    Ok(ExitCode::SUCCESS)
                }
                Err(refusal) => Ok(refused(refusal)),
            }
        }
        PkiCommand::List { json } => {
            match remote
                .get::<Collection<IssuedCertificate>>("/pki/issuedCertificates")
                .await?
            {
                Ok(issued) => {
                    print_issued(&issued.value, json)?;
                    Ok(ExitCode::SUCCESS)
                }
                Err(refusal) => Ok(refused(refusal)),
            }
        }
        PkiCommand::Crls { json } => {
            match remote.get::<Collection<PublishedCrl>>("/pki/crls").await? {
                Ok(current) => {
                    print_crls(&current.value, json)?;
                    Ok(ExitCode::SUCCESS)
                }
                Err(refusal) => Ok(refused(refusal)),
            }
        }
        // why_not_remote answered for these above.
        PkiCommand::Init(_) | PkiCommand::Issue(_) | PkiCommand::IssueServer { .. } => {
            Ok(ExitCode::from(2))
        }
    }
}

fn print_revocation(revocation: &CertificateRevocation) {
    let named = &revocation.certificate;
    let revoked_at = named.revoked_at.as_deref().unwrap_or_default();
    let reason = named.revocation_reason.as_deref().unwrap_or_default();
    if revocation.revoked_now {
        outln!(
            "revoked serial {} ({}) at {revoked_at}: {reason}",
            named.serial,
            named.upn
        );
    } else {
        outln!(
            "serial {} ({}) was already revoked at {revoked_at} ({reason}); its descendants below were not",
            named.serial,
            named.upn
        );
    }
    // Certificates issued on the strength of this one (re-enrollment, /my/device), and
    // theirs: revoked with it.
    for descendant in &revocation.descendants {
        outln!(
            "revoked descendant {} ({}), issued on the strength of {}",
            descendant.serial,
            descendant.upn,
            descendant.parent_serial.as_deref().unwrap_or_default()
        );
    }
    outln!(
        "{} descendant certificate(s) revoked",
        revocation.descendants.len()
    );
    outln!("publish it with `certgate pki crl` (a running server publishes on its own schedule)");
}

/// One CRL as `pki crl` and `pki crls` print it.
fn crl_line(crl: &PublishedCrl) -> String {
    format!(
        "{} {} CRL number {}{}: {} entries, next update {} at {}",
        crl.ca,
        crl.kind,
        crl.crl_number,
        crl.base_crl_number
            .map(|b| format!(" (on base {b})"))
            .unwrap_or_default(),
        crl.entries,
        crl.next_update,
        crl.url
    )
}

fn print_published(published: &[PublishedCrl]) {
    for crl in published {
        outln!("published {}", crl_line(crl));
    }
}

fn print_crls(current: &[PublishedCrl], json: bool) -> anyhow::Result<()> {
    if json {
        outln!("{}", serde_json::to_string_pretty(current)?);
    } else if current.is_empty() {
        outln!("no CRLs published yet (certgate pki init publishes the first ones)");
    } else {
        for crl in current {
            outln!("{}", crl_line(crl));
        }
    }
    Ok(())
}

fn print_issued(issued: &[IssuedCertificate], json: bool) -> anyhow::Result<()> {
    if json {
        outln!("{}", serde_json::to_string_pretty(issued)?);
    } else if issued.is_empty() {
        outln!("no certificates issued yet (certgate pki issue --upn ...)");
    } else {
        for certificate in issued {
            outln!(
                "{}  {:<8} {}  {} .. {}{}",
                certificate.serial,
                certificate.status,
                certificate.upn,
                certificate.not_before,
                certificate.not_after,
                match (&certificate.revoked_at, &certificate.revocation_reason) {
                    (Some(at), Some(reason)) => format!("  revoked {at} ({reason})"),
                    _ => String::new(),
                }
            );
        }
    }
    Ok(())
}
