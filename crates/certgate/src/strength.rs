//! `certgate strength list|add|remove`: the rules that make a certificate sign-in single- or
//! multi-factor, as Entra's `authenticationModeConfiguration.rules`. JSON field names follow
//! Microsoft Graph's `x509CertificateRule`.

use std::process::ExitCode;

use certgate_core::strength::{
    add_strength_rule, remove_strength_rule, strength_rules, IssuerSelector, Strength,
    StrengthRuleError, StrengthRuleId, StrengthRuleSpec,
};
use certgate_server::admin_api::resource::{
    AuthenticationModeRule, AuthenticationModeRules, NewAuthenticationModeRule,
};
use clap::Subcommand;
use serde_json::json;

use crate::output::{self, refused};
use crate::remote::Remote;
use crate::{GlobalArgs, Local};

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

/// The rule as `certgate strength list` describes it (`policy 1.2.3 -> multi-factor`).
fn describe(rule: &AuthenticationModeRule) -> String {
    let spec = StrengthRuleSpec {
        issuer: match (
            &rule.issuer_subject_identifier,
            &rule.issuer_subject_key_identifier,
        ) {
            (Some(dn), _) => Some(IssuerSelector::Subject(dn.clone())),
            (None, Some(ski)) => Some(IssuerSelector::SubjectKeyIdentifier(ski.clone())),
            (None, None) => None,
        },
        policy_oid: rule.policy_oid_identifier.clone(),
        strength: Strength::parse(&rule.x509_certificate_authentication_mode)
            .unwrap_or(Strength::SingleFactor),
    };
    spec.to_string()
}

/// `strength add`'s flags as a rule (`--issuer` is a DN when it has an `=`, else hex), or the
/// refusal to exit with.
fn rule_of(
    issuer: Option<&str>,
    policy_oid: Option<String>,
    strength: Strength,
    json: bool,
) -> Result<StrengthRuleSpec, ExitCode> {
    let issuer =
        issuer
            .map(IssuerSelector::parse)
            .transpose()
            .map_err(|error: StrengthRuleError| {
                refused("strength", error.code(), &error.to_string(), json)
            })?;
    Ok(StrengthRuleSpec {
        issuer,
        policy_oid: policy_oid.map(|oid| oid.trim().to_owned()),
        strength,
    })
}

fn print_list(rules: &[AuthenticationModeRule], json: bool) -> anyhow::Result<ExitCode> {
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "x509CertificateAuthenticationDefaultMode": Strength::SingleFactor.graph_name(),
                "rules": rules,
            }))?
        );
    } else if rules.is_empty() {
        outln!("no strength rules: every certificate sign-in is single-factor");
    } else {
        for rule in rules {
            outln!(
                "{:>4}  {:<26} {}",
                rule.id,
                rule.x509_certificate_rule_type,
                describe(rule)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_added(rule: &AuthenticationModeRule, json: bool) -> anyhow::Result<ExitCode> {
    output::record(rule, json, |rule| {
        outln!("added strength rule {}: {}", rule.id, describe(rule));
    })
}

fn print_removed(rule: &AuthenticationModeRule, json: bool) -> anyhow::Result<ExitCode> {
    output::removed(
        rule,
        json,
        format_args!("removed strength rule {}: {}", rule.id, describe(rule)),
    )
}

pub(crate) async fn run(command: StrengthCommand, global: GlobalArgs) -> anyhow::Result<ExitCode> {
    if let Some(remote) = global.remote()? {
        return run_remote(command, remote).await;
    }
    let Local {
        store, now, actor, ..
    } = global.local().await?;
    let refuse = |error: StrengthRuleError, json| {
        refused("strength", error.code(), &error.to_string(), json)
    };
    match command {
        StrengthCommand::List { json } => match strength_rules(&store).await {
            Ok(rules) => {
                let rules: Vec<AuthenticationModeRule> = rules.iter().map(Into::into).collect();
                print_list(&rules, json)
            }
            Err(error) => Ok(refuse(error, json)),
        },
        StrengthCommand::Add {
            issuer,
            policy_oid,
            strength,
            json,
        } => {
            let spec = match rule_of(issuer.as_deref(), policy_oid, strength, json) {
                Ok(spec) => spec,
                Err(exit) => return Ok(exit),
            };
            match add_strength_rule(&store, spec, now, &actor).await {
                Ok(rule) => print_added(&(&rule).into(), json),
                Err(error) => Ok(refuse(error, json)),
            }
        }
        StrengthCommand::Remove { id, json } => {
            match remove_strength_rule(&store, StrengthRuleId(id), now, &actor).await {
                Ok(rule) => print_removed(&(&rule).into(), json),
                Err(error) => Ok(refuse(error, json)),
            }
        }
    }
}

async fn run_remote(command: StrengthCommand, remote: Remote) -> anyhow::Result<ExitCode> {
    let refuse = |refusal: crate::remote::Refusal, json| {
        refused("strength", &refusal.code, &refusal.message, json)
    };
    match command {
        StrengthCommand::List { json } => {
            match remote
                .get::<AuthenticationModeRules>("/authenticationModeRules")
                .await?
            {
                Ok(rules) => print_list(&rules.value, json),
                Err(refusal) => Ok(refuse(refusal, json)),
            }
        }
        StrengthCommand::Add {
            issuer,
            policy_oid,
            strength,
            json,
        } => {
            // The same reading of the flags as locally.
            let new = match rule_of(issuer.as_deref(), policy_oid, strength, json) {
                Ok(spec) => NewAuthenticationModeRule::from(&spec),
                Err(exit) => return Ok(exit),
            };
            match remote
                .post::<_, AuthenticationModeRule>("/authenticationModeRules", Some(&new))
                .await?
            {
                Ok(rule) => print_added(&rule, json),
                Err(refusal) => Ok(refuse(refusal, json)),
            }
        }
        StrengthCommand::Remove { id, json } => {
            match remote
                .delete::<AuthenticationModeRule>(&format!("/authenticationModeRules/{id}"))
                .await?
            {
                Ok(rule) => print_removed(&rule, json),
                Err(refusal) => Ok(refuse(refusal, json)),
            }
        }
    }
}
