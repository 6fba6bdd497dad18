//! `certgate ca list|add|set|remove`: the trusted CAs, as Get/New/Set/Remove-
//! AzureADTrustedCertificateAuthority manage them. JSON field names follow Microsoft Graph's
//! `certificateAuthorities[]`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use base64::Engine as _;
use certgate_core::clock::{rfc3339, Clock, SystemClock};
use certgate_core::store::Store;
use certgate_core::trusted_ca::{
    add_cas, remove_ca, set_ca, AuthorityType, CaId, CaRecord, CaSettings, TrustError,
};
use certgate_pki::parse_certificates;
use clap::{ArgAction, Args, Subcommand};
use serde_json::{json, Value};

use crate::{cli_actor, GlobalArgs};

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

/// A CA in Graph's `certificateAuthorities[]` shape, plus certgate's own fields.
pub(crate) fn ca_json(ca: &CaRecord) -> Value {
    json!({
        "id": ca.id.0,
        "displayName": ca.settings.display_name,
        "isRootAuthority": ca.settings.authority_type == AuthorityType::Root,
        "certificate": base64::engine::general_purpose::STANDARD.encode(&ca.certificate_der),
        "certificateRevocationListUrl": ca.settings.crl_url,
        "deltaCertificateRevocationListUrl": ca.settings.delta_crl_url,
        "issuer": ca.facts.trusted_issuer,
        "issuerSki": ca.facts.trusted_issuer_ski,
        "isExemptFromCrlValidation": ca.settings.exempt_from_crl_validation,
        "isIssuerHintEnabled": ca.settings.send_as_issuer_hint,
        "sha256Thumbprint": ca.facts.sha256_thumbprint,
        "notBefore": rfc3339(ca.facts.not_before),
        "notAfter": rfc3339(ca.facts.not_after),
    })
}

fn print_table(cas: &[CaRecord]) {
    if cas.is_empty() {
        println!("no trusted CAs (add one with `certgate ca add FILE`)");
        return;
    }
    for ca in cas {
        let s = &ca.settings;
        println!(
            "{}  {} \"{}\"",
            ca.id,
            s.authority_type.as_str(),
            s.display_name
        );
        println!("    issuer     {}", ca.facts.trusted_issuer);
        println!(
            "    issuer SKI {}",
            ca.facts.trusted_issuer_ski.as_deref().unwrap_or("(none)")
        );
        println!("    sha256     {}", ca.facts.sha256_thumbprint);
        println!(
            "    valid      {} .. {}",
            rfc3339(ca.facts.not_before),
            rfc3339(ca.facts.not_after)
        );
        println!(
            "    CRL        {}",
            s.crl_url.as_deref().unwrap_or("(none)")
        );
        println!(
            "    delta CRL  {}",
            s.delta_crl_url.as_deref().unwrap_or("(none)")
        );
        println!(
            "    flags      {}{}",
            if s.exempt_from_crl_validation {
                "exempt-from-crl-validation "
            } else {
                ""
            },
            if s.send_as_issuer_hint {
                "issuer-hint"
            } else {
                ""
            }
        );
    }
}

/// Prints a refusal with its code; exit 1.
fn refused(error: &TrustError, json: bool) -> ExitCode {
    if json {
        println!(
            "{}",
            json!({ "ok": false, "code": error.code(), "message": error.to_string() })
        );
    } else {
        eprintln!("certgate ca: {error} ({})", error.code());
    }
    ExitCode::FAILURE
}

pub(crate) async fn run(command: CaCommand, global: GlobalArgs) -> anyhow::Result<ExitCode> {
    let config = global.load()?;
    let store = config.open_store().await?;
    let now = SystemClock.now();
    let actor = cli_actor();
    match command {
        CaCommand::List { json } => {
            let cas = store.list_cas().await?;
            if json {
                let list: Vec<Value> = cas.iter().map(ca_json).collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({ "certificateAuthorities": list }))?
                );
            } else {
                print_table(&cas);
            }
            Ok(ExitCode::SUCCESS)
        }
        CaCommand::Add(args) => {
            let bytes = std::fs::read(&args.file)
                .with_context(|| format!("reading {}", args.file.display()))?;
            let certificates = match parse_certificates(&bytes) {
                Ok(certificates) => certificates,
                Err(reason) => {
                    return Ok(refused(
                        &TrustError::CertificateMalformed(reason),
                        args.json,
                    ))
                }
            };
            if certificates.len() > 1 && (args.crl_url.is_some() || args.delta_crl_url.is_some()) {
                anyhow::bail!(
                    "{} holds {} certificates; --crl-url and --delta-crl-url apply to one CA: add the bundle, then `certgate ca set ID --crl-url ...` per CA",
                    args.file.display(),
                    certificates.len()
                );
            }
            let ders = certificates.iter().map(|c| c.der().to_vec()).collect();
            let result = add_cas(
                &store,
                ders,
                |certificate| CaSettings {
                    display_name: args.name.clone().unwrap_or_default(),
                    authority_type: if args.root
                        || (!args.intermediate && certificate.is_self_issued())
                    {
                        AuthorityType::Root
                    } else {
                        AuthorityType::Intermediate
                    },
                    crl_url: args.crl_url.clone(),
                    delta_crl_url: args.delta_crl_url.clone(),
                    exempt_from_crl_validation: args.exempt_from_crl_validation,
                    send_as_issuer_hint: !args.no_issuer_hint,
                },
                now,
                &actor,
            )
            .await;
            match result {
                Ok(records) => {
                    if args.json {
                        let list: Vec<Value> = records.iter().map(ca_json).collect();
                        println!(
                            "{}",
                            serde_json::to_string_pretty(
                                &json!({ "certificateAuthorities": list })
                            )?
                        );
                    } else {
                        for record in &records {
                            println!(
                                "added CA {}: {} \"{}\"",
                                record.id,
                                record.settings.authority_type.as_str(),
                                record.facts.trusted_issuer
                            );
                        }
                        if records.iter().any(|r| {
                            r.settings.crl_url.is_none() && !r.settings.exempt_from_crl_validation
                        }) {
                            println!("note: a CA without a CRL URL and not exempt makes its certificates fail with crl-unavailable; set one with `certgate ca set ID --crl-url URL`");
                        }
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(error) => Ok(refused(&error, args.json)),
            }
        }
        CaCommand::Set(args) => {
            let result = set_ca(
                &store,
                CaId(args.id),
                |mut settings| {
                    if let Some(name) = args.name.clone() {
                        settings.display_name = name;
                    }
                    if args.root {
                        settings.authority_type = AuthorityType::Root;
                    }
                    if args.intermediate {
                        settings.authority_type = AuthorityType::Intermediate;
                    }
                    if args.no_crl_url {
                        settings.crl_url = None;
                        settings.delta_crl_url = None;
                    }
                    if let Some(url) = args.crl_url.clone() {
                        settings.crl_url = Some(url);
                    }
                    if args.no_delta_crl_url {
                        settings.delta_crl_url = None;
                    }
                    if let Some(url) = args.delta_crl_url.clone() {
                        settings.delta_crl_url = Some(url);
                    }
                    if let Some(exempt) = args.exempt_from_crl_validation {
                        settings.exempt_from_crl_validation = exempt;
                    }
                    if let Some(hint) = args.issuer_hint {
                        settings.send_as_issuer_hint = hint;
                    }
                    settings
                },
                now,
                &actor,
            )
            .await;
            match result {
                Ok(record) => {
                    if args.json {
                        println!("{}", serde_json::to_string_pretty(&ca_json(&record))?);
                    } else {
                        print_table(std::slice::from_ref(&record));
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(error) => Ok(refused(&error, args.json)),
            }
        }
        CaCommand::Remove { id, json } => match remove_ca(&store, CaId(id), now, &actor).await {
            Ok(record) => {
                if json {
                    println!("{}", json!({ "ok": true, "removed": ca_json(&record) }));
                } else {
                    println!(
                        "removed CA {}: \"{}\"",
                        record.id, record.facts.trusted_issuer
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(error) => Ok(refused(&error, json)),
        },
    }
}
