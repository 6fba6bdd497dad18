//! `certgate binding list|add|remove|set-default-affinity`: the username-binding rules, as
//! Entra's `certificateUserBindings` and `x509CertificateDefaultRequiredAffinityLevel`. JSON
//! field names follow Microsoft Graph.

use std::process::ExitCode;

use certgate_core::binding::{
    Affinity, BindingPolicy, BindingRule, CertificateField, UserAttribute,
};
use certgate_core::clock::{Clock, SystemClock};
use certgate_core::directory::{
    add_binding_rule, binding_policy, remove_binding_rule, set_default_required_affinity,
};
use clap::Subcommand;
use serde_json::{json, Value};

use crate::user::refused;
use crate::{cli_actor, GlobalArgs};

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

fn rule_json(rule: &BindingRule) -> Value {
    json!({
        "priority": rule.priority,
        "x509CertificateField": rule.certificate_field.as_str(),
        "userProperty": rule.user_attribute.as_str(),
        "trustAffinityLevel": rule.affinity().as_str(),
    })
}

fn policy_json(policy: &BindingPolicy) -> Value {
    let rules: Vec<Value> = policy.effective_rules().iter().map(rule_json).collect();
    json!({
        "certificateUserBindings": rules,
        "usesDefaultBindings": policy.uses_default_rules(),
        "x509CertificateDefaultRequiredAffinityLevel": policy.default_required_affinity.as_str(),
    })
}

fn print_policy(policy: &BindingPolicy) {
    println!(
        "required affinity: {}{}",
        policy.default_required_affinity,
        if policy.default_required_affinity == Affinity::High {
            " (low-affinity rules are skipped)"
        } else {
            ""
        }
    );
    if policy.uses_default_rules() {
        println!("no rule configured; the defaults apply:");
    }
    for rule in policy.effective_rules() {
        let skipped = rule.affinity() < policy.default_required_affinity;
        println!(
            "{:>4}  {:<22} -> {:<19} {} affinity{}",
            rule.priority,
            rule.certificate_field.as_str(),
            rule.user_attribute.as_str(),
            rule.affinity(),
            if skipped { "  (skipped)" } else { "" }
        );
    }
}

pub(crate) async fn run(command: BindingCommand, global: GlobalArgs) -> anyhow::Result<ExitCode> {
    let config = global.load()?;
    let store = config.open_store().await?;
    let now = SystemClock.now();
    let actor = cli_actor();
    let refuse = |error: certgate_core::binding::BindingRuleError, json| {
        refused("binding", error.code(), &error.to_string(), json)
    };
    match command {
        BindingCommand::List { json } => match binding_policy(&store).await {
            Ok(policy) => {
                if json {
                    println!("{}", serde_json::to_string_pretty(&policy_json(&policy))?);
                } else {
                    print_policy(&policy);
                }
                Ok(ExitCode::SUCCESS)
            }
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
                Ok(rule) => {
                    if json {
                        println!("{}", serde_json::to_string_pretty(&rule_json(&rule))?);
                    } else {
                        println!(
                            "added binding rule {}: {rule} ({} affinity)",
                            rule.priority,
                            rule.affinity()
                        );
                        if was_default {
                            println!("note: the configured rules now replace the default rules; add the defaults you still want");
                        }
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(error) => Ok(refuse(error, json)),
            }
        }
        BindingCommand::Remove { priority, json } => {
            match remove_binding_rule(&store, priority, now, &actor).await {
                Ok(rule) => {
                    if json {
                        println!("{}", json!({ "ok": true, "removed": rule_json(&rule) }));
                    } else {
                        println!("removed binding rule {}: {rule}", rule.priority);
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(error) => Ok(refuse(error, json)),
            }
        }
        BindingCommand::SetDefaultAffinity { affinity, json } => {
            match set_default_required_affinity(&store, affinity, now, &actor).await {
                Ok(()) => {
                    if json {
                        println!(
                            "{}",
                            json!({ "ok": true, "x509CertificateDefaultRequiredAffinityLevel": affinity.as_str() })
                        );
                    } else {
                        println!("required affinity is now {affinity}");
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(error) => Ok(refuse(error, json)),
            }
        }
    }
}
