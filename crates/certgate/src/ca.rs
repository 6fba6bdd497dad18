//! `certgate ca list|add|set|remove`: the trusted CAs, as Get/New/Set/Remove-
//! AzureADTrustedCertificateAuthority manage them. JSON field names follow Microsoft Graph's
//! `certificateAuthorities[]`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use base64::Engine as _;
use certgate_core::escape_control;
use certgate_core::trusted_ca::{
    add_cas, remove_ca, set_ca, AuthorityType, CaId, TrustError, TrustedCaStore,
};
use certgate_pki::{parse_certificates, Certificate};
use certgate_server::admin_api::resource::{
    CertificateAuthority, CertificateAuthorityPatch, Collection, NewCertificateAuthority,
};
use clap::{ArgAction, Args, Subcommand};

use crate::output;
use crate::remote::Remote;
use crate::{GlobalArgs, Local};

#[derive(Subcommand)]
pub(crate) enum CaCommand {
    /// List the trusted CAs.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Trust a CA from a .cer (DER or PEM) or a .p7b bundle. A bundle's CAs are added
    /// together or not at all.
    Add(AddArgs),
    /// Change a trusted CA's settings.
    Set(SetArgs),
    /// Stop trusting a CA (its cached CRLs go too).
    Remove {
        id: i64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub(crate) struct AddArgs {
    /// Certificate file: DER or PEM .cer/.crt/.pem, or a PKCS#7 .p7b bundle.
    file: PathBuf,
    /// Trust anchor (default for a self-signed certificate).
    #[arg(long, conflicts_with = "intermediate")]
    root: bool,
    /// Intermediate CA (default for a certificate that is not self-signed).
    #[arg(long)]
    intermediate: bool,
    /// CRL distribution point URL (http or https). Only for a single certificate.
    #[arg(long)]
    crl_url: Option<String>,
    /// Delta CRL distribution point URL. Only for a single certificate.
    #[arg(long)]
    delta_crl_url: Option<String>,
    /// Display name (default: the CA's subject).
    #[arg(long)]
    name: Option<String>,
    /// Let certificates from this CA have an unknown revocation status (no usable CRL).
    /// Weakens revocation: only for CAs that publish no CRL.
    #[arg(long)]
    exempt_from_crl_validation: bool,
    /// Do not name this CA in the TLS CertificateRequest.
    #[arg(long)]
    no_issuer_hint: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub(crate) struct SetArgs {
    id: i64,
    #[arg(long)]
    name: Option<String>,
    #[arg(long, conflicts_with = "intermediate")]
    root: bool,
    #[arg(long)]
    intermediate: bool,
    #[arg(long, conflicts_with = "no_crl_url")]
    crl_url: Option<String>,
    /// Remove the CRL URL (and the delta URL with it).
    #[arg(long)]
    no_crl_url: bool,
    #[arg(long, conflicts_with = "no_delta_crl_url")]
    delta_crl_url: Option<String>,
    #[arg(long)]
    no_delta_crl_url: bool,
    #[arg(long, action = ArgAction::Set, value_name = "true|false")]
    exempt_from_crl_validation: Option<bool>,
    #[arg(long, action = ArgAction::Set, value_name = "true|false")]
    issuer_hint: Option<bool>,
    #[arg(long)]
    json: bool,
}

fn print_ca(ca: &CertificateAuthority) {
    // Names and URLs are escaped: a record from before names were checked, or a subject DN
    // from a certificate, must not put control sequences on the operator's terminal.
    outln!(
        "{}  {} \"{}\"",
        ca.id,
        authority_type(ca),
        escape_control(&ca.display_name)
    );
    outln!("    issuer     {}", escape_control(&ca.issuer));
    outln!(
        "    issuer SKI {}",
        ca.issuer_ski.as_deref().unwrap_or("(none)")
    );
    outln!("    sha256     {}", ca.sha256_thumbprint);
    outln!("    valid      {} .. {}", ca.not_before, ca.not_after);
    outln!(
        "    CRL        {}",
        escape_control(
            ca.certificate_revocation_list_url
                .as_deref()
                .unwrap_or("(none)")
        )
    );
    outln!(
        "    delta CRL  {}",
        escape_control(
            ca.delta_certificate_revocation_list_url
                .as_deref()
                .unwrap_or("(none)")
        )
    );
    outln!(
        "    flags      {}{}",
        if ca.is_exempt_from_crl_validation {
            "exempt-from-crl-validation "
        } else {
            ""
        },
        if ca.is_issuer_hint_enabled {
            "issuer-hint"
        } else {
            ""
        }
    );
}

fn authority_type(ca: &CertificateAuthority) -> &'static str {
    if ca.is_root_authority {
        AuthorityType::Root.as_str()
    } else {
        AuthorityType::Intermediate.as_str()
    }
}

/// Prints a refusal with its code; exit 1.
fn refused(code: &str, message: &str, json: bool) -> ExitCode {
    output::refused("ca", code, message, json)
}

fn trust_refused(error: &TrustError, json: bool) -> ExitCode {
    refused(error.code(), &error.to_string(), json)
}

fn print_list(cas: &[CertificateAuthority], json: bool) -> anyhow::Result<ExitCode> {
    output::list(
        "certificateAuthorities",
        cas,
        json,
        "no trusted CAs (add one with `certgate ca add FILE`)",
        print_ca,
    )
}

fn print_added(records: &[CertificateAuthority], json: bool) -> anyhow::Result<ExitCode> {
    if json {
        return print_list(records, json);
    }
    for record in records {
        outln!(
            "added CA {}: {} \"{}\"",
            record.id,
            authority_type(record),
            escape_control(&record.issuer)
        );
    }
    if records
        .iter()
        .any(|r| r.certificate_revocation_list_url.is_none() && !r.is_exempt_from_crl_validation)
    {
        outln!("note: a CA without a CRL URL and not exempt makes its certificates fail with crl-unavailable; set one with `certgate ca set ID --crl-url URL`");
    }
    Ok(ExitCode::SUCCESS)
}

fn print_changed(record: &CertificateAuthority, json: bool) -> anyhow::Result<ExitCode> {
    output::record(record, json, print_ca)
}

fn print_removed(record: &CertificateAuthority, json: bool) -> anyhow::Result<ExitCode> {
    output::removed(
        record,
        json,
        format_args!(
            "removed CA {}: \"{}\"",
            record.id,
            escape_control(&record.issuer)
        ),
    )
}

/// A file's bytes and the certificates in it.
struct CertificateFile {
    bytes: Vec<u8>,
    certificates: Vec<Certificate>,
}

/// The file's certificates; `Err` is the refusal to print. A bundle cannot take CRL URLs.
fn read_certificates(args: &AddArgs) -> anyhow::Result<Result<CertificateFile, TrustError>> {
    let bytes =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let certificates = match parse_certificates(&bytes) {
        Ok(certificates) => certificates,
        Err(reason) => return Ok(Err(TrustError::CertificateMalformed(reason))),
    };
    if certificates.len() > 1 && (args.crl_url.is_some() || args.delta_crl_url.is_some()) {
        anyhow::bail!(
            "{} holds {} certificates; --crl-url and --delta-crl-url apply to one CA: add the bundle, then `certgate ca set ID --crl-url ...` per CA",
            args.file.display(),
            certificates.len()
        );
    }
    Ok(Ok(CertificateFile {
        bytes,
        certificates,
    }))
}

pub(crate) async fn run(command: CaCommand, global: GlobalArgs) -> anyhow::Result<ExitCode> {
    if let Some(remote) = global.remote()? {
        return run_remote(command, remote).await;
    }
    let Local {
        store, now, actor, ..
    } = global.local().await?;
    match command {
        CaCommand::List { json } => {
            let cas: Vec<CertificateAuthority> =
                store.list_cas().await?.iter().map(Into::into).collect();
            print_list(&cas, json)
        }
        CaCommand::Add(args) => {
            let file = match read_certificates(&args)? {
                Ok(file) => file,
                Err(error) => return Ok(trust_refused(&error, args.json)),
            };
            let new = new_authority(&args, &file.bytes);
            let ders = file.certificates.iter().map(|c| c.der().to_vec()).collect();
            let result = add_cas(
                &store,
                ders,
                |certificate| new.settings_for(certificate),
                now,
                &actor,
            )
            .await;
            match result {
                Ok(records) => {
                    let records: Vec<CertificateAuthority> =
                        records.iter().map(Into::into).collect();
                    print_added(&records, args.json)
                }
                Err(error) => Ok(trust_refused(&error, args.json)),
            }
        }
        CaCommand::Set(args) => {
            let json = args.json;
            let patch = patch_of(args);
            let result = set_ca(
                &store,
                CaId(patch.0),
                |settings| patch.1.apply(settings),
                now,
                &actor,
            )
            .await;
            match result {
                Ok(record) => print_changed(&(&record).into(), json),
                Err(error) => Ok(trust_refused(&error, json)),
            }
        }
        CaCommand::Remove { id, json } => match remove_ca(&store, CaId(id), now, &actor).await {
            Ok(record) => print_removed(&(&record).into(), json),
            Err(error) => Ok(trust_refused(&error, json)),
        },
    }
}

/// `--root` / `--intermediate` as the API's `isRootAuthority`; neither leaves it unset.
fn is_root_authority(root: bool, intermediate: bool) -> Option<bool> {
    if root {
        Some(true)
    } else if intermediate {
        Some(false)
    } else {
        None
    }
}

/// `ca set`'s flags as the admin API's PATCH: `--no-crl-url` removes the delta URL too.
fn patch_of(args: SetArgs) -> (i64, CertificateAuthorityPatch) {
    let mut patch = CertificateAuthorityPatch {
        display_name: args.name,
        is_root_authority: is_root_authority(args.root, args.intermediate),
        is_exempt_from_crl_validation: args.exempt_from_crl_validation,
        is_issuer_hint_enabled: args.issuer_hint,
        ..CertificateAuthorityPatch::default()
    };
    if args.no_crl_url {
        patch.certificate_revocation_list_url = Some(None);
        patch.delta_certificate_revocation_list_url = Some(None);
    }
    if let Some(url) = args.crl_url {
        patch.certificate_revocation_list_url = Some(Some(url));
    }
    if args.no_delta_crl_url {
        patch.delta_certificate_revocation_list_url = Some(None);
    }
    if let Some(url) = args.delta_crl_url {
        patch.delta_certificate_revocation_list_url = Some(Some(url));
    }
    (args.id, patch)
}

/// `ca add`'s flags as the admin API's POST, for the certificates in `bytes`.
fn new_authority(args: &AddArgs, bytes: &[u8]) -> NewCertificateAuthority {
    NewCertificateAuthority {
        certificate: base64::engine::general_purpose::STANDARD.encode(bytes),
        is_root_authority: is_root_authority(args.root, args.intermediate),
        certificate_revocation_list_url: args.crl_url.clone(),
        delta_certificate_revocation_list_url: args.delta_crl_url.clone(),
        display_name: args.name.clone(),
        is_exempt_from_crl_validation: Some(args.exempt_from_crl_validation),
        is_issuer_hint_enabled: Some(!args.no_issuer_hint),
    }
}

async fn run_remote(command: CaCommand, remote: Remote) -> anyhow::Result<ExitCode> {
    match command {
        CaCommand::List { json } => {
            match remote
                .get::<Collection<CertificateAuthority>>("/certificateAuthorities")
                .await?
            {
                Ok(list) => print_list(&list.value, json),
                Err(refusal) => Ok(refused(&refusal.code, &refusal.message, json)),
            }
        }
        CaCommand::Add(args) => {
            let bytes = match read_certificates(&args)? {
                Ok(file) => file.bytes,
                Err(error) => return Ok(trust_refused(&error, args.json)),
            };
            let new = new_authority(&args, &bytes);
            match remote
                .post::<_, Collection<CertificateAuthority>>("/certificateAuthorities", Some(&new))
                .await?
            {
                Ok(added) => print_added(&added.value, args.json),
                Err(refusal) => Ok(refused(&refusal.code, &refusal.message, args.json)),
            }
        }
        CaCommand::Set(args) => {
            let json = args.json;
            let (id, patch) = patch_of(args);
            match remote
                .patch::<_, CertificateAuthority>(&format!("/certificateAuthorities/{id}"), &patch)
                .await?
            {
                Ok(record) => print_changed(&record, json),
                Err(refusal) => Ok(refused(&refusal.code, &refusal.message, json)),
            }
        }
        CaCommand::Remove { id, json } => {
            match remote
                .delete::<CertificateAuthority>(&format!("/certificateAuthorities/{id}"))
                .await?
            {
                Ok(record) => print_removed(&record, json),
                Err(refusal) => Ok(refused(&refusal.code, &refusal.message, json)),
            }
        }
    }
}
