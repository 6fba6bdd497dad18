//! `certgate strength list|add|remove`: the rules that make a certificate sign-in single- or
//! multi-factor, as Entra's `authenticationModeConfiguration.rules`. JSON field names follow
//! Microsoft Graph's `x509CertificateRule`.

use std::process::ExitCode;

use certgate_core::clock::{rfc3339, Clock, SystemClock};
use certgate_core::directory::{add_strength_rule, remove_strength_rule, strength_rules};
use certgate_core::strength::{
    IssuerSelector, Precedence, Strength, StrengthRule, StrengthRuleError, StrengthRuleId,
    StrengthRuleSpec,
};
use clap::Subcommand;
use serde_json::{json, Value};

use crate::user::refused;
use crate::{cli_actor, GlobalArgs};

#[derive(Subcommand)]
pub(crate) enum StrengthCommand {
    /// List the rules. Precedence: issuer and policy OID > policy OID > issuer; rules that
    /// disagree at the deciding level, or no matching rule, mean single-factor.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Add a rule by issuer, policy OID, or both.
    Add {
        /// The issuing CA: its subject DN as `certgate ca list` shows it (`CN=..., O=...`) or
        /// its subject key identifier in hex.
        #[arg(long)]
        issuer: Option<String>,
        /// A certificate policy OID, dotted.
        #[arg(long)]
        policy_oid: Option<String>,
        /// single-factor or multi-factor.
        #[arg(long, value_parser = parse_strength)]
        strength: Strength,
        #[arg(long)]
        json: bool,
    },
    /// Remove a rule by id.
    Remove {
        id: i64,
        #[arg(long)]
        json: bool,
    },
}

fn parse_strength(text: &str) -> Result<Strength, String> {
    Strength::parse(text).ok_or_else(|| "single-factor or multi-factor".to_owned())
}

fn rule_json(rule: &StrengthRule) -> Value {
    let spec = &rule.spec;
    let (subject, ski) = match &spec.issuer {
        Some(IssuerSelector::Subject(dn)) => (Some(dn.as_str()), None),
        Some(IssuerSelector::SubjectKeyIdentifier(ski)) => (None, Some(ski.as_str())),
        None => (None, None),
    };
    let precedence = spec.precedence();
    let identifier = match precedence {
        Precedence::PolicyOid => spec.policy_oid.as_deref(),
        Precedence::Issuer => subject.or(ski),
        Precedence::IssuerAndPolicyOid => None,
    };
    json!({
        "id": rule.id.0,
        "x509CertificateRuleType": precedence.graph_name(),
        "identifier": identifier,
        "issuerSubjectIdentifier": subject,
        "issuerSubjectKeyIdentifier": ski,
        "policyOidIdentifier": spec.policy_oid,
        "x509CertificateAuthenticationMode": spec.strength.graph_name(),
        "createdDateTime": rfc3339(rule.created_at),
    })
}

pub(crate) async fn run(command: StrengthCommand, global: GlobalArgs) -> anyhow::Result<ExitCode> {
    let config = global.load()?;
    let store = config.open_store().await?;
    let now = SystemClock.now();
    let actor = cli_actor();
    let refuse = |error: StrengthRuleError, json| {
        refused("strength", error.code(), &error.to_string(), json)
    };
    match command {
        StrengthCommand::List { json } => match strength_rules(&store).await {
            Ok(rules) => {
                if json {
                    let list: Vec<Value> = rules.iter().map(rule_json).collect();
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&json!({
                            "x509CertificateAuthenticationDefaultMode": Strength::SingleFactor.graph_name(),
                            "rules": list,
                        }))?
                    );
                } else if rules.is_empty() {
                    println!("no strength rules: every certificate sign-in is single-factor");
                } else {
                    for rule in &rules {
                        println!(
                            "{:>4}  {:<26} {}",
                            rule.id,
                            rule.spec.precedence().graph_name(),
                            rule.spec
                        );
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(error) => Ok(refuse(error, json)),
        },
        StrengthCommand::Add {
            issuer,
            policy_oid,
            strength,
            json,
        } => {
            let issuer = match issuer.as_deref().map(IssuerSelector::parse).transpose() {
                Ok(issuer) => issuer,
                Err(error) => return Ok(refuse(error, json)),
            };
            let spec = StrengthRuleSpec {
                issuer,
                policy_oid: policy_oid.map(|oid| oid.trim().to_owned()),
                strength,
            };
            match add_strength_rule(&store, spec, now, &actor).await {
                Ok(rule) => {
                    if json {
                        println!("{}", serde_json::to_string_pretty(&rule_json(&rule))?);
                    } else {
                        println!("added strength rule {}: {}", rule.id, rule.spec);
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(error) => Ok(refuse(error, json)),
            }
        }
        StrengthCommand::Remove { id, json } => {
            match remove_strength_rule(&store, StrengthRuleId(id), now, &actor).await {
                Ok(rule) => {
                    if json {
                        println!("{}", json!({ "ok": true, "removed": rule_json(&rule) }));
                    } else {
                        println!("removed strength rule {}: {}", rule.id, rule.spec);
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(error) => Ok(refuse(error, json)),
            }
        }
    }
}
