//! `certgate binding list|add|remove|set-default-affinity`: the username-binding rules, as
//! Entra's `certificateUserBindings` and `x509CertificateDefaultRequiredAffinityLevel`. JSON
//! field names follow Microsoft Graph.

use certgate_core::binding::{
    add_binding_rule, binding_policy, remove_binding_rule, set_default_required_affinity,
};
use certgate_core::directory::{Affinity, CertificateField, UserAttribute};
use std::process::ExitCode;

use certgate_server::admin_api::resource::{
    CertificateUserBinding, CertificateUserBindings, CertificateUserBindingsPatch,
    NewCertificateUserBinding,
};
use clap::Subcommand;
use serde_json::json;

use crate::output::{self, refused};
use crate::remote::Remote;
use crate::{GlobalArgs, Local};

#[derive(Subcommand)]
pub(crate) enum BindingCommand {
    /// List the rules in the order they are tried, and the required affinity.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Add a rule. The first configured rule replaces the defaults (PrincipalName and
    /// RFC822Name to userPrincipalName, SubjectKeyIdentifier and SHA1PublicKey to
    /// certificateUserIds).
    Add {
        /// PrincipalName, RFC822Name, Subject, IssuerAndSubject, IssuerAndSerialNumber,
        /// SubjectKeyIdentifier or SHA1PublicKey.
        #[arg(long, value_parser = parse_field)]
        field: CertificateField,
        /// userPrincipalName, proxyAddresses or certificateUserIds.
        #[arg(long, value_parser = parse_attribute)]
        attribute: UserAttribute,
        /// 1 is tried first (default: after the last rule).
        #[arg(long)]
        priority: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// Remove the rule with this priority.
    Remove {
        priority: u32,
        #[arg(long)]
        json: bool,
    },
    /// low: every rule applies; high: only IssuerAndSerialNumber, SubjectKeyIdentifier and
    /// SHA1PublicKey rules (certificateUserIds pinned to one certificate or key) apply.
    SetDefaultAffinity {
        #[arg(value_parser = parse_affinity)]
        affinity: Affinity,
        #[arg(long)]
        json: bool,
    },
}

fn parse_field(text: &str) -> Result<CertificateField, String> {
    CertificateField::parse(text).ok_or_else(|| {
        let names: Vec<&str> = CertificateField::ALL.iter().map(|f| f.as_str()).collect();
        format!("one of {}", names.join(", "))
    })
}

fn parse_attribute(text: &str) -> Result<UserAttribute, String> {
    UserAttribute::parse(text).ok_or_else(|| {
        let names: Vec<&str> = UserAttribute::ALL.iter().map(|a| a.as_str()).collect();
        format!("one of {}", names.join(", "))
    })
}

fn parse_affinity(text: &str) -> Result<Affinity, String> {
    Affinity::parse(text).ok_or_else(|| "low or high".to_owned())
}

fn print_policy(policy: &CertificateUserBindings, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        outln!("{}", serde_json::to_string_pretty(policy)?);
        return Ok(ExitCode::SUCCESS);
    }
    let high = policy.x509_certificate_default_required_affinity_level == Affinity::High.as_str();
    outln!(
        "required affinity: {}{}",
        policy.x509_certificate_default_required_affinity_level,
        if high {
            " (low-affinity rules are skipped)"
        } else {
            ""
        }
    );
    if policy.uses_default_bindings {
        outln!("no rule configured; the defaults apply:");
    }
    for rule in &policy.certificate_user_bindings {
        let skipped = high && rule.trust_affinity_level == Affinity::Low.as_str();
        outln!(
            "{:>4}  {:<22} -> {:<19} {} affinity{}",
            rule.priority,
            rule.x509_certificate_field,
            rule.user_property,
            rule.trust_affinity_level,
            if skipped { "  (skipped)" } else { "" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn print_added(
    rule: &CertificateUserBinding,
    was_default: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    output::record(rule, json, |rule| {
        outln!(
            "added binding rule {}: {}->{} ({} affinity)",
            rule.priority,
            rule.x509_certificate_field,
            rule.user_property,
            rule.trust_affinity_level
        );
        if was_default {
            outln!("note: the configured rules now replace the default rules; add the defaults you still want");
        }
    })
}

fn print_removed(rule: &CertificateUserBinding, json: bool) -> anyhow::Result<ExitCode> {
    output::removed(
        rule,
        json,
        format_args!(
            "removed binding rule {}: {}->{}",
            rule.priority, rule.x509_certificate_field, rule.user_property
        ),
    )
}

fn print_affinity(affinity: Affinity, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        outln!(
            "{}",
            json!({ "ok": true, "x509CertificateDefaultRequiredAffinityLevel": affinity.as_str() })
        );
    } else {
        outln!("required affinity is now {affinity}");
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn run(command: BindingCommand, global: GlobalArgs) -> anyhow::Result<ExitCode> {
    if let Some(remote) = global.remote()? {
        return run_remote(command, remote).await;
    }
    let Local {
        store, now, actor, ..
    } = global.local().await?;
    let refuse = |error: certgate_core::binding::BindingRuleError, json| {
        refused("binding", error.code(), &error.to_string(), json)
    };
    match command {
        BindingCommand::List { json } => match binding_policy(&store).await {
            Ok(policy) => print_policy(&(&policy).into(), json),
            Err(error) => Ok(refuse(error, json)),
        },
        BindingCommand::Add {
            field,
            attribute,
            priority,
            json,
        } => {
            let was_default = match binding_policy(&store).await {
                Ok(policy) => policy.uses_default_rules(),
                Err(error) => return Ok(refuse(error, json)),
            };
            match add_binding_rule(&store, field, attribute, priority, now, &actor).await {
                Ok(rule) => print_added(&(&rule).into(), was_default, json),
                Err(error) => Ok(refuse(error, json)),
            }
        }
        BindingCommand::Remove { priority, json } => {
            match remove_binding_rule(&store, priority, now, &actor).await {
                Ok(rule) => print_removed(&(&rule).into(), json),
                Err(error) => Ok(refuse(error, json)),
            }
        }
        BindingCommand::SetDefaultAffinity { affinity, json } => {
            match set_default_required_affinity(&store, affinity, now, &actor).await {
                Ok(()) => print_affinity(affinity, json),
                Err(error) => Ok(refuse(error, json)),
            }
        }
    }
}

async fn run_remote(command: BindingCommand, remote: Remote) -> anyhow::Result<ExitCode> {
    let refuse = |refusal: crate::remote::Refusal, json| {
        refused("binding", &refusal.code, &refusal.message, json)
    };
    match command {
        BindingCommand::List { json } => {
            match remote
                .get::<CertificateUserBindings>("/certificateUserBindings")
                .await?
            {
                Ok(policy) => print_policy(&policy, json),
                Err(refusal) => Ok(refuse(refusal, json)),
            }
        }
        BindingCommand::Add {
            field,
            attribute,
            priority,
            json,
        } => {
            let was_default = match remote
                .get::<CertificateUserBindings>("/certificateUserBindings")
                .await?
            {
                Ok(policy) => policy.uses_default_bindings,
                Err(refusal) => return Ok(refuse(refusal, json)),
            };
            let new = NewCertificateUserBinding {
                x509_certificate_field: field.as_str().to_owned(),
                user_property: attribute.as_str().to_owned(),
                priority,
            };
            match remote
                .post::<_, CertificateUserBinding>("/certificateUserBindings", Some(&new))
                .await?
            {
                Ok(rule) => print_added(&rule, was_default, json),
                Err(refusal) => Ok(refuse(refusal, json)),
            }
        }
        BindingCommand::Remove { priority, json } => {
            match remote
                .delete::<CertificateUserBinding>(&format!("/certificateUserBindings/{priority}"))
                .await?
            {
                Ok(rule) => print_removed(&rule, json),
                Err(refusal) => Ok(refuse(refusal, json)),
            }
        }
        BindingCommand::SetDefaultAffinity { affinity, json } => {
            let patch = CertificateUserBindingsPatch {
                x509_certificate_default_required_affinity_level: affinity.as_str().to_owned(),
            };
            match remote
                .patch::<_, CertificateUserBindings>("/certificateUserBindings", &patch)
                .await?
            {
                Ok(_) => print_affinity(affinity, json),
                Err(refusal) => Ok(refuse(refusal, json)),
            }
        }
    }
}
