//! `certgate rp add|list|show|set|remove`: the federation service's relying parties (AD FS's
//! relying party trusts). Every change goes through the admin API's `RelyingPartyPatch`, in
//! the local mode as in the remote one, so both read the options the same way; the rules are
//! certgate-core's (`federation::prepare_relying_party`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use certgate_core::federation::{
    self, add_relying_party, find_relying_party, list_relying_parties, microsoft365,
    remove_relying_party, set_relying_party, ClaimRule, FederationError, Protocol,
    RelyingPartyDraft,
};
use certgate_core::federation::{certificate_context_rules, UserField};
use certgate_saml::SpMetadata;
use certgate_server::admin_api::resource::{
    Collection, NewRelyingParty, RelyingParty, RelyingPartyClaim, RelyingPartyPatch,
};
use clap::{ArgAction, Args, Subcommand, ValueEnum};

use crate::output::{self, refused};
use crate::remote::{segment, Remote};
use crate::{GlobalArgs, Local};

#[derive(Subcommand)]
pub(crate) enum RpCommand {
    /// Register a relying party: the Microsoft 365 preset, a SAML 2.0 service provider or a
    /// WS-Federation relying party.
    #[command(subcommand)]
    Add(AddCommand),
    /// List the relying parties.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one relying party (by ID, name or identifier).
    Show {
        rp: String,
        #[arg(long)]
        json: bool,
    },
    /// Change a relying party (by ID, name or identifier).
    Set(SetArgs),
    /// Remove a relying party (by ID, name or identifier).
    Remove {
        rp: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum AddCommand {
    /// Microsoft 365 (an Entra ID federated domain) in one command: audience/realm
    /// urn:federation:MicrosoftOnline, replies to login.microsoftonline.com, persistent NameID
    /// = the user's immutable ID, and the claims Entra ID expects.
    Microsoft365(Microsoft365Args),
    /// A SAML 2.0 service provider, from its metadata or from its entity ID and endpoints.
    Saml(SamlArgs),
    /// A WS-Federation (passive requestor) relying party.
    Wsfed(WsfedArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum ProtocolArg {
    Saml,
    Wsfed,
}

impl From<ProtocolArg> for Protocol {
    fn from(protocol: ProtocolArg) -> Self {
        match protocol {
            ProtocolArg::Saml => Protocol::Saml,
            ProtocolArg::Wsfed => Protocol::WsFed,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum NameIdFormatArg {
    Persistent,
    Email,
    Unspecified,
}

impl NameIdFormatArg {
    fn as_str(self) -> &'static str {
        match self {
            NameIdFormatArg::Persistent => "persistent",
            NameIdFormatArg::Email => "email",
            NameIdFormatArg::Unspecified => "unspecified",
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum PasswordRequestsArg {
    /// Refuse, telling the administrator to set PromptLoginBehavior to Disabled.
    Refuse,
    /// Answer with a fresh certificate sign-in (the token says what really happened).
    FreshCertificate,
    /// Ask for the domain password after the certificate, checked by the directory source
    /// (`[directory.ldap]`); the token states the password. Refused at sign-in without a
    /// directory source.
    DomainPassword,
}

impl PasswordRequestsArg {
    fn as_str(self) -> &'static str {
        match self {
            PasswordRequestsArg::Refuse => "refuse",
            PasswordRequestsArg::FreshCertificate => "fresh-certificate",
            PasswordRequestsArg::DomainPassword => "domain-password",
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum ClaimFamily {
    /// AD FS's certificate-context claims: issuer, subject, serial number, validity, raw
    /// data, EKU, SAN, subject key identifier, thumbprint.
    CertificateContext,
}

/// The settings `add` and `set` share.
#[derive(Args)]
struct Settings {
    /// The NameID (SAML 2.0) or NameIdentifier (SAML 1.1) format.
    #[arg(long, value_enum)]
    name_id_format: Option<NameIdFormatArg>,
    /// Where the NameID comes from: user.immutableId, user.upn, user.mail, ...
    #[arg(long, value_name = "SOURCE")]
    name_id_source: Option<String>,
    /// A claim rule, CLAIM=SOURCE (e.g. http://schemas.xmlsoap.org/claims/UPN=user.upn or
    /// IDPEmail=user.upn); repeat for several. Replaces the claim list.
    #[arg(long = "claim", value_name = "CLAIM=SOURCE")]
    claims: Vec<String>,
    /// Add a family of claims to the list.
    #[arg(long = "claims", value_enum, value_name = "FAMILY")]
    claim_families: Vec<ClaimFamily>,
    /// SAML: also sign the Response (the Assertion is always signed). On by default for a SAML
    /// service provider, off for the Microsoft 365 preset; `--sign-response=false` turns it off.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set, value_name = "true|false")]
    sign_response: Option<bool>,
    /// SAML: refuse requests not signed by the service provider's certificate.
    /// `--require-signed-requests=false` turns it off.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set, value_name = "true|false")]
    require_signed_requests: Option<bool>,
    /// What a WS-Federation request for password authentication gets.
    #[arg(long, value_enum)]
    password_requests: Option<PasswordRequestsArg>,
    /// Ask every sign-in for the user's domain password after the certificate, whatever the
    /// request says (checked by the directory source, `[directory.ldap]`; refused at sign-in
    /// on a node without one). `--require-domain-password=false` turns it off.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set, value_name = "true|false")]
    require_domain_password: Option<bool>,
    /// The Issuer certgate uses towards this relying party (default: the service's entity
    /// ID). Microsoft 365 wants the IssuerUri set on the federated domain; with several
    /// domains, `{upn-domain}` in it is replaced by the user's UPN suffix.
    #[arg(long, value_name = "URI")]
    issuer: Option<String>,
    /// How long an assertion may be used, in seconds (60 to 86400; default 3600).
    #[arg(long = "token-lifetime", value_name = "SECONDS")]
    token_lifetime: Option<i64>,
    #[arg(long, conflicts_with = "enabled")]
    disabled: bool,
    #[arg(long)]
    enabled: bool,
}

impl Settings {
    /// The options as a patch; `--claims FAMILY` adds to `claims` (the relying party's
    /// current list, or the one `--claim` gives).
    fn patch(&self, claims: &[RelyingPartyClaim]) -> Result<RelyingPartyPatch, FederationError> {
        let mut rules: Option<Vec<RelyingPartyClaim>> = None;
        if !self.claims.is_empty() {
            rules = Some(
                self.claims
                    .iter()
                    .map(|text| ClaimRule::parse(text).map(|rule| (&rule).into()))
                    .collect::<Result<_, _>>()?,
            );
        }
        for family in &self.claim_families {
            let list = rules.get_or_insert_with(|| claims.to_vec());
            let added = match family {
                ClaimFamily::CertificateContext => certificate_context_rules(),
            };
            for rule in &added {
                let claim = RelyingPartyClaim::from(rule);
                if !list.contains(&claim) {
                    list.push(claim);
                }
            }
        }
        Ok(RelyingPartyPatch {
            name_id_format: self.name_id_format.map(|f| f.as_str().to_owned()),
            name_id_source: self.name_id_source.clone(),
            claims: rules,
            sign_response: self.sign_response,
            require_signed_requests: self.require_signed_requests,
            password_requests: self.password_requests.map(|p| p.as_str().to_owned()),
            require_domain_password: self.require_domain_password,
            issuer: self.issuer.clone().map(Some),
            token_lifetime_seconds: self.token_lifetime,
            enabled: match (self.enabled, self.disabled) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            },
            ..RelyingPartyPatch::default()
        })
    }
}

#[derive(Args)]
pub(crate) struct Microsoft365Args {
    #[arg(long, value_enum)]
    protocol: ProtocolArg,
    /// Default "Microsoft 365".
    #[arg(long)]
    name: Option<String>,
    #[command(flatten)]
    settings: Settings,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub(crate) struct SamlArgs {
    #[arg(long)]
    name: String,
    /// The service provider's metadata (md:EntityDescriptor): entity ID, HTTP-POST
    /// AssertionConsumerServices, HTTP-Redirect SingleLogoutService, signing certificates,
    /// AuthnRequestsSigned, NameIDFormat.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["entity_id", "acs", "slo"])]
    metadata: Option<PathBuf>,
    /// The service provider's entityID (the Audience).
    #[arg(
        long,
        value_name = "ID",
        required_unless_present = "metadata",
        requires = "acs"
    )]
    entity_id: Option<String>,
    /// An AssertionConsumerService URL (HTTP-POST); repeat for several, the first is the
    /// default.
    #[arg(long, value_name = "URL")]
    acs: Vec<String>,
    /// The SingleLogoutService URL (HTTP-Redirect).
    #[arg(long, value_name = "URL")]
    slo: Option<String>,
    /// A certificate (PEM or DER) that signs the service provider's requests; repeat for
    /// several.
    #[arg(long = "request-certificate", value_name = "PEM_FILE")]
    request_certificates: Vec<PathBuf>,
    #[command(flatten)]
    settings: Settings,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub(crate) struct WsfedArgs {
    #[arg(long)]
    name: String,
    /// The realm (wtrealm): the Audience of the tokens.
    #[arg(long, value_name = "URI")]
    realm: String,
    /// A reply address (wreply) the relying party may ask for; repeat for several, the
    /// first is the default.
    #[arg(long = "reply", value_name = "URL", required = true)]
    replies: Vec<String>,
    #[command(flatten)]
    settings: Settings,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub(crate) struct SetArgs {
    /// ID, name or identifier.
    rp: String,
    /// A new name.
    #[arg(long)]
    name: Option<String>,
    /// A new identifier (SAML entityID / WS-Fed realm).
    #[arg(long, value_name = "URI")]
    identifier: Option<String>,
    /// Replaces the reply URLs (SAML ACS / WS-Fed wreply); repeat for several.
    #[arg(long = "reply", value_name = "URL")]
    replies: Vec<String>,
    #[arg(long, value_name = "URL", conflicts_with = "no_logout_url")]
    logout_url: Option<String>,
    #[arg(long)]
    no_logout_url: bool,
    /// Use the service's entity ID as the Issuer again.
    #[arg(long, conflicts_with = "issuer")]
    no_issuer: bool,
    /// SAML: the service provider's signing certificate(s), PEM or DER; replaces the list
    /// (for a certificate rollover at the service provider). Repeat for several files.
    #[arg(long = "request-certificate", value_name = "FILE")]
    request_certificates: Vec<PathBuf>,
    #[command(flatten)]
    settings: Settings,
    #[arg(long)]
    json: bool,
}

impl SetArgs {
    /// `--request-certificate` files as the patch's base64 list; None when not given.
    fn request_certificates(&self) -> anyhow::Result<Result<Option<Vec<String>>, Refused>> {
        use base64::Engine as _;
        if self.request_certificates.is_empty() {
            return Ok(Ok(None));
        }
        let mut all = Vec::new();
        for path in &self.request_certificates {
            match read_certificates(path)? {
                Ok(ders) => all.extend(
                    ders.iter()
                        .map(|der| base64::engine::general_purpose::STANDARD.encode(der)),
                ),
                Err(refusal) => return Ok(Err(refusal)),
            }
        }
        Ok(Ok(Some(all)))
    }

    fn patch(
        &self,
        current_claims: &[RelyingPartyClaim],
    ) -> Result<RelyingPartyPatch, FederationError> {
        let mut patch = self.settings.patch(current_claims)?;
        patch.display_name = self.name.clone();
        patch.identifier = self.identifier.clone();
        if !self.replies.is_empty() {
            patch.reply_urls = Some(self.replies.clone());
        }
        patch.logout_url = match (&self.logout_url, self.no_logout_url) {
            (Some(url), _) => Some(Some(url.clone())),
            (None, true) => Some(None),
            (None, false) => None,
        };
        if self.no_issuer {
            patch.issuer = Some(None);
        }
        Ok(patch)
    }
}

/// Why an `rp` command was refused before anything was changed.
enum Refused {
    Federation(FederationError),
    /// A code and a message (SAML metadata that does not parse, a certificate file that
    /// holds no certificate).
    Other(String, String),
}

impl From<FederationError> for Refused {
    fn from(error: FederationError) -> Self {
        Refused::Federation(error)
    }
}

impl Refused {
    fn print(&self, json: bool) -> ExitCode {
        match self {
            Refused::Federation(error) => refused("rp", error.code(), &error.to_string(), json),
            Refused::Other(code, message) => refused("rp", code, message, json),
        }
    }
}

impl AddCommand {
    fn json(&self) -> bool {
        match self {
            AddCommand::Microsoft365(args) => args.json,
            AddCommand::Saml(args) => args.json,
            AddCommand::Wsfed(args) => args.json,
        }
    }

    /// The relying party to register: the preset, metadata or options, then the settings.
    fn draft(&self) -> anyhow::Result<Result<RelyingPartyDraft, Refused>> {
        let (mut draft, settings) = match self {
            AddCommand::Microsoft365(args) => {
                let mut draft = microsoft365(args.protocol.into(), None);
                if let Some(name) = &args.name {
                    draft.name = name.clone();
                }
                (draft, &args.settings)
            }
            AddCommand::Saml(args) => {
                let mut draft = match &args.metadata {
                    Some(path) => match metadata_draft(&args.name, path)? {
                        Ok(draft) => draft,
                        Err(refusal) => return Ok(Err(refusal)),
                    },
                    None => {
                        let mut draft = RelyingPartyDraft::new(
                            &args.name,
                            Protocol::Saml,
                            args.entity_id.as_deref().unwrap_or_default(),
                            args.acs.clone(),
                        );
                        draft.logout_url = args.slo.clone();
                        draft
                    }
                };
                for path in &args.request_certificates {
                    match read_certificates(path)? {
                        Ok(mut ders) => draft.request_certificates.append(&mut ders),
                        Err(refusal) => return Ok(Err(refusal)),
                    }
                }
                (draft, &args.settings)
            }
            AddCommand::Wsfed(args) => (
                RelyingPartyDraft::new(
                    &args.name,
                    Protocol::WsFed,
                    &args.realm,
                    args.replies.clone(),
                ),
                &args.settings,
            ),
        };
        let claims: Vec<RelyingPartyClaim> = draft.claims.iter().map(Into::into).collect();
        let patch = match settings.patch(&claims) {
            Ok(patch) => patch,
            Err(error) => return Ok(Err(error.into())),
        };
        draft = match patch.apply(draft) {
            Ok(draft) => draft,
            Err(error) => return Ok(Err(error.into())),
        };
        Ok(Ok(draft))
    }
}

/// A SAML relying party from the service provider's metadata: the HTTP-POST
/// AssertionConsumerServices with the default first (metadata §2.2.3), the HTTP-Redirect
/// SingleLogoutService, the signing certificates, AuthnRequestsSigned, and the first
/// NameIDFormat certgate issues.
fn metadata_draft(name: &str, path: &Path) -> anyhow::Result<Result<RelyingPartyDraft, Refused>> {
    let xml = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let metadata = match SpMetadata::parse(&xml) {
        Ok(metadata) => metadata,
        Err(error) => {
            return Ok(Err(Refused::Other(
                error.code().to_owned(),
                format!("{}: {error}", path.display()),
            )))
        }
    };
    let mut services: Vec<_> = metadata.post_assertion_consumer_services().collect();
    // Metadata §2.2.3: isDefault="true" first, then those without isDefault, then the rest;
    // the sort is stable, so document order decides within each group.
    services.sort_by_key(|service| match service.is_default {
        Some(true) => 0,
        None => 1,
        Some(false) => 2,
    });
    let mut draft = RelyingPartyDraft::new(
        name,
        Protocol::Saml,
        &metadata.entity_id,
        services.iter().map(|s| s.location.clone()).collect(),
    );
    draft.logout_url = metadata
        .redirect_single_logout_service()
        .map(|slo| slo.location.clone());
    if draft.logout_url.is_none() && !metadata.single_logout_services.is_empty() {
        let bindings: Vec<&str> = metadata
            .single_logout_services
            .iter()
            .map(|slo| slo.binding.rsplit(':').next().unwrap_or(&slo.binding))
            .collect();
        eprintln!(
            "warning: {}: the service provider offers single logout over {} only; certgate sends logout messages over HTTP-Redirect, so single logout is off for \"{name}\" (add an HTTP-Redirect SingleLogoutService to the metadata, or give its HTTP-Redirect endpoint with `certgate rp set \"{name}\" --logout-url URL`)",
            path.display(),
            bindings.join(", ")
        );
    }
    draft.request_certificates = metadata.signing_certificates.clone();
    draft.require_signed_requests = metadata.authn_requests_signed;
    if let Some(format) = metadata
        .name_id_formats
        .iter()
        .find_map(|format| federation::NameIdFormat::parse(format))
    {
        draft.name_id_format = format;
        // An emailAddress NameID carries the UPN: every user has one, and it is the address
        // Microsoft-style service providers expect.
        if format == federation::NameIdFormat::EmailAddress {
            draft.name_id_source = federation::ClaimSource::User(UserField::Upn);
        }
    }
    Ok(Ok(draft))
}

/// The DER certificates of a PEM or DER file.
fn read_certificates(path: &Path) -> anyhow::Result<Result<Vec<Vec<u8>>, Refused>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(match certgate_pki::parse_certificates(&bytes) {
        Ok(certificates) if !certificates.is_empty() => {
            Ok(certificates.iter().map(|c| c.der().to_vec()).collect())
        }
        Ok(_) => Err(Refused::Other(
            "rp-field-invalid".into(),
            format!("{} holds no certificate", path.display()),
        )),
        Err(reason) => Err(Refused::Other(
            reason.code().to_owned(),
            format!("{}: {reason}", path.display()),
        )),
    })
}

fn print_rp(rp: &RelyingParty) {
    outln!("{}  {}", rp.display_name, rp.id);
    let row = |label: &str, value: &str| outln!("    {label:<24}{value}");
    row("protocol", &rp.protocol);
    row("identifier", &rp.identifier);
    for url in &rp.reply_urls {
        row("replyUrl", url);
    }
    row("logoutUrl", rp.logout_url.as_deref().unwrap_or("(none)"));
    row(
        "nameId",
        &format!("{} from {}", rp.name_id_format, rp.name_id_source),
    );
    for claim in &rp.claims {
        row("claim", &format!("{} = {}", claim.claim_type, claim.source));
    }
    row("signResponse", &rp.sign_response.to_string());
    row(
        "requireSignedRequests",
        &rp.require_signed_requests.to_string(),
    );
    row(
        "requestCertificates",
        &rp.request_certificates.len().to_string(),
    );
    row("passwordRequests", &rp.password_requests);
    row(
        "requireDomainPassword",
        &rp.require_domain_password.to_string(),
    );
    row(
        "issuer",
        rp.issuer.as_deref().unwrap_or("(the service's entity ID)"),
    );
    row("tokenLifetime", &format!("{} s", rp.token_lifetime_seconds));
    row(
        "enabled",
        if rp.enabled {
            "true"
        } else {
            "false (disabled)"
        },
    );
}

fn print_one(rp: &RelyingParty, json: bool, verb: &str) -> anyhow::Result<ExitCode> {
    output::record(rp, json, |rp| {
        if !verb.is_empty() {
            outln!("{verb} relying party {} ({})", rp.display_name, rp.id);
        }
        print_rp(rp);
    })
}

fn print_list(parties: &[RelyingParty], json: bool) -> anyhow::Result<ExitCode> {
    output::list(
        "value",
        parties,
        json,
        "no relying parties (add one with `certgate rp add microsoft365|saml|wsfed`)",
        |rp| {
            outln!(
                "{}  {:<5} {:<8} {:<28} {}",
                rp.id,
                rp.protocol,
                if rp.enabled { "enabled" } else { "disabled" },
                format!("\"{}\"", rp.display_name),
                rp.identifier
            );
        },
    )
}

fn print_removed(rp: &RelyingParty, json: bool) -> anyhow::Result<ExitCode> {
    output::removed(
        rp,
        json,
        format_args!("removed relying party {} ({})", rp.display_name, rp.id),
    )
}

fn rp_refused(error: &FederationError, json: bool) -> ExitCode {
    refused("rp", error.code(), &error.to_string(), json)
}

pub(crate) async fn run(command: RpCommand, global: GlobalArgs) -> anyhow::Result<ExitCode> {
    if let Some(remote) = global.remote()? {
        return run_remote(command, remote).await;
    }
    let Local {
        store,
        now,
        actor,
        config,
    } = global.local().await?;
    match command {
        RpCommand::Add(add) => {
            let json = add.json();
            let draft = match add.draft()? {
                Ok(draft) => draft,
                Err(refusal) => return Ok(refusal.print(json)),
            };
            match add_relying_party(&store, draft, now, &actor).await {
                Ok(rp) => {
                    warn_without_directory(&rp.name, rp.require_domain_password, &config);
                    print_one(&(&rp).into(), json, "added")
                }
                Err(error) => Ok(rp_refused(&error, json)),
            }
        }
        RpCommand::List { json } => match list_relying_parties(&store).await {
            Ok(parties) => {
                let parties: Vec<RelyingParty> = parties.iter().map(Into::into).collect();
                print_list(&parties, json)
            }
            Err(error) => Ok(rp_refused(&error, json)),
        },
        RpCommand::Show { rp, json } => match find_relying_party(&store, &rp).await {
            Ok(rp) => print_one(&(&rp).into(), json, ""),
            Err(error) => Ok(rp_refused(&error, json)),
        },
        RpCommand::Set(args) => {
            let current = match find_relying_party(&store, &args.rp).await {
                Ok(rp) => rp,
                Err(error) => return Ok(rp_refused(&error, args.json)),
            };
            let claims: Vec<RelyingPartyClaim> = current.claims.iter().map(Into::into).collect();
            let mut patch = match args.patch(&claims) {
                Ok(patch) => patch,
                Err(error) => return Ok(rp_refused(&error, args.json)),
            };
            match args.request_certificates()? {
                Ok(certificates) => patch.request_certificates = certificates,
                Err(refusal) => return Ok(refusal.print(args.json)),
            }
            match set_relying_party(&store, &current.id, |draft| patch.apply(draft), now, &actor)
                .await
            {
                Ok(rp) => {
                    warn_without_directory(&rp.name, rp.require_domain_password, &config);
                    print_one(&(&rp).into(), args.json, "changed")
                }
                Err(error) => Ok(rp_refused(&error, args.json)),
            }
        }
        RpCommand::Remove { rp, json } => {
            match remove_relying_party(&store, &rp, now, &actor).await {
                Ok(rp) => print_removed(&(&rp).into(), json),
                Err(error) => Ok(rp_refused(&error, json)),
            }
        }
    }
}

/// Warns (on stderr, so that `--json` output stays whole) when an application asks every
/// sign-in for the domain password and this node's certgate.toml has no directory source to
/// check it. A warning, not a refusal: the nodes that take sign-ins may have their own
/// configuration, and each refuses such a sign-in without one
/// (`domain-password-not-configured`).
pub(crate) fn warn_without_directory(
    application: &str,
    requires: bool,
    config: &crate::config::Config,
) {
    if requires && config.directory.is_none() {
        eprintln!(
            "certgate: warning: {application} asks every sign-in for the domain password, and this certgate.toml has no [directory.ldap]: a node without one refuses those sign-ins (domain-password-not-configured)"
        );
    }
}

fn remote_refused(refusal: &crate::remote::Refusal, json: bool) -> ExitCode {
    refused("rp", &refusal.code, &refusal.message, json)
}

async fn run_remote(command: RpCommand, remote: Remote) -> anyhow::Result<ExitCode> {
    match command {
        RpCommand::Add(add) => {
            let json = add.json();
            let draft = match add.draft()? {
                Ok(draft) => draft,
                Err(refusal) => return Ok(refusal.print(json)),
            };
            let new = NewRelyingParty::from(draft);
            match remote
                .post::<_, RelyingParty>("/relyingParties", Some(&new))
                .await?
            {
                Ok(rp) => print_one(&rp, json, "added"),
                Err(refusal) => Ok(remote_refused(&refusal, json)),
            }
        }
        RpCommand::List { json } => {
            match remote
                .get::<Collection<RelyingParty>>("/relyingParties")
                .await?
            {
                Ok(list) => print_list(&list.value, json),
                Err(refusal) => Ok(remote_refused(&refusal, json)),
            }
        }
        RpCommand::Show { rp, json } => {
            match remote
                .get::<RelyingParty>(&format!("/relyingParties/{}", segment(&rp)))
                .await?
            {
                Ok(rp) => print_one(&rp, json, ""),
                Err(refusal) => Ok(remote_refused(&refusal, json)),
            }
        }
        RpCommand::Set(args) => {
            let current = match remote
                .get::<RelyingParty>(&format!("/relyingParties/{}", segment(&args.rp)))
                .await?
            {
                Ok(rp) => rp,
                Err(refusal) => return Ok(remote_refused(&refusal, args.json)),
            };
            let mut patch = match args.patch(&current.claims) {
                Ok(patch) => patch,
                Err(error) => return Ok(rp_refused(&error, args.json)),
            };
            match args.request_certificates()? {
                Ok(certificates) => patch.request_certificates = certificates,
                Err(refusal) => return Ok(refusal.print(args.json)),
            }
            match remote
                .patch::<_, RelyingParty>(
                    &format!("/relyingParties/{}", segment(&current.id)),
                    &patch,
                )
                .await?
            {
                Ok(rp) => print_one(&rp, args.json, "changed"),
                Err(refusal) => Ok(remote_refused(&refusal, args.json)),
            }
        }
        RpCommand::Remove { rp, json } => {
            match remote
                .delete::<RelyingParty>(&format!("/relyingParties/{}", segment(&rp)))
                .await?
            {
                Ok(rp) => print_removed(&rp, json),
                Err(refusal) => Ok(remote_refused(&refusal, json)),
            }
        }
    }
}
