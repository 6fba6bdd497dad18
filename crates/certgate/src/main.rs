//! certgate: client-certificate sign-in for mail and office apps.

// Outside tests nothing may panic on a value it did not check: untrusted input reaches
// every crate, and a panic in a request is a denial of service at best.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

use std::path::PathBuf;
use std::process::ExitCode;

use certgate_core::clock::{Clock, SystemClock};
use clap::{Args, Parser, Subcommand};

/// `println!` for the command's results, through [`output::line`]: a reader that has gone
/// away (`certgate ca list --json | head -c 100`) ends the command quietly.
macro_rules! outln {
    () => {
        $crate::output::line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))
    };
}

mod admin;
mod binding;
mod ca;
mod client;
mod config;
mod crl;
mod demo;
mod device;
mod directory;
mod directory_config;
mod est;
mod federation;
mod front_door_config;
mod limits_config;
mod output;
mod pki;
mod remote;
mod rp;
mod serve;
mod signins;
mod strength;
mod user;
mod verify;

#[derive(Parser)]
#[command(
    name = "certgate",
    version,
    about = "Client-certificate sign-in for mail and office apps"
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Where certgate keeps its state.
#[derive(Args, Clone, Debug)]
pub(crate) struct GlobalArgs {
    /// Data directory: the SQLite database, certgate.toml.
    #[arg(
        long,
        global = true,
        env = "CERTGATE_DATA_DIR",
        default_value = "certgate-data"
    )]
    data_dir: PathBuf,
    /// Configuration file (default: <data-dir>/certgate.toml when it exists).
    #[arg(long, global = true, env = "CERTGATE_CONFIG")]
    config: Option<PathBuf>,
    /// Drive a running server through its admin API instead of the local store
    /// (`https://host:port`; ca, user, crl, pki revoke|crl|list|crls, signins, binding,
    /// strength, audit, rp, federation).
    #[arg(long, global = true, env = "CERTGATE_SERVER", value_name = "URL")]
    server: Option<String>,
    /// Admin token for --server (`certgate admin token create` on the server). Prefer
    /// CERTGATE_TOKEN: a flag shows in `ps` and the shell's history.
    #[arg(long, global = true, env = "CERTGATE_TOKEN", hide_env_values = true)]
    token: Option<remote::Token>,
    /// Trust only this CA (PEM) for --server's TLS certificate, e.g. certgate's own root.
    #[arg(long, global = true, env = "CERTGATE_SERVER_CA", value_name = "FILE")]
    server_ca: Option<PathBuf>,
}

impl GlobalArgs {
    pub(crate) fn load(&self) -> anyhow::Result<config::Config> {
        config::Config::load(&self.data_dir, self.config.as_deref())
    }

    /// The configuration and its store, opened, for a command that works on the local store.
    pub(crate) async fn local(&self) -> anyhow::Result<Local> {
        let config = self.load()?;
        let store = config.open_store().await?;
        Ok(Local {
            config,
            store,
            now: SystemClock.now(),
            actor: cli_actor(),
        })
    }
}

/// What a command that works on the local store starts from.
pub(crate) struct Local {
    pub(crate) config: config::Config,
    pub(crate) store: certgate_store::SqlStore,
    /// When the command runs: what it changes is dated so.
    pub(crate) now: certgate_pki::UnixTime,
    /// Who its audit events name.
    pub(crate) actor: String,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a certificate chain like `openssl verify`: exit 0 valid, 1 rejected, 2 usage
    /// error or unreadable input.
    Verify(verify::VerifyArgs),
    /// Trusted certificate authorities (Get/New/Set/Remove-AzureADTrustedCertificateAuthority).
    #[command(subcommand)]
    Ca(ca::CaCommand),
    /// The CRL cache: status and refresh.
    #[command(subcommand)]
    Crl(crl::CrlCommand),
    /// certgate's own CA: init, issue, revoke, publish CRLs, list.
    #[command(subcommand)]
    Pki(pki::PkiCommand),
    /// Run the server: publishes certgate's CRLs and CA certificates over HTTP and keeps the
    /// CRL cache fresh.
    Serve(serve::ServeArgs),
    /// Show the audit log, newest first.
    Audit(AuditArgs),
    /// OpenID Connect clients (applications).
    #[command(subcommand)]
    Client(client::ClientCommand),
    /// Query the sign-in log, newest first.
    Signins(signins::SigninsArgs),
    /// The directory: users, their certificateUserIds, StsRefreshTokensValidFrom.
    #[command(subcommand)]
    User(user::UserCommand),
    /// The directory source (`[directory.ldap]`): Active Directory or LDAP as where users
    /// come from. `status`, and `sync [--dry-run]`.
    #[command(subcommand)]
    Directory(directory::DirectoryCommand),
    /// Username-binding rules: which user a certificate signs in as.
    #[command(subcommand)]
    Binding(binding::BindingCommand),
    /// Authentication-strength rules: single- or multi-factor by issuer and policy OID.
    #[command(subcommand)]
    Strength(strength::StrengthCommand),
    /// Administration: admin API tokens.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Relying parties of the federation service (SAML 2.0 / WS-Federation): Microsoft 365,
    /// SAML service providers, WS-Federation applications.
    #[command(subcommand)]
    Rp(rp::RpCommand),
    /// The federation service's token-signing keys.
    #[command(subcommand)]
    Federation(federation::FederationCommand),
    /// Enrollment over EST (RFC 7030): one-time enrollment codes for devices.
    #[command(subcommand)]
    Est(est::EstCommand),
    /// Device provisioning: a new certificate packed as an iOS configuration profile, an
    /// Android / MDM JSON profile or a PKCS#12.
    #[command(subcommand)]
    Device(device::DeviceCommand),
}

#[derive(Args)]
struct AuditArgs {
    #[arg(long, default_value_t = 50)]
    limit: i64,
    #[arg(long)]
    json: bool,
}

/// Runs an async command on a multi-threaded runtime; errors print with their context and
/// exit 1.
pub(crate) fn run_async<F>(future: F) -> ExitCode
where
    F: std::future::Future<Output = anyhow::Result<ExitCode>>,
{
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("certgate: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(future) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("certgate: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            // clap uses exit 0 for --help/--version and 2 for usage errors, as we do.
            return ExitCode::from(if err.use_stderr() { 2 } else { 0 });
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CERTGATE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let global = cli.global;
    if global.server.is_some() {
        if let Some(why) = remote::why_not(&cli.command) {
            eprintln!("certgate: no remote mode (unset CERTGATE_SERVER to work on the local store): {why}");
            return ExitCode::from(2);
        }
    }
    match cli.command {
        Command::Verify(args) => verify::run(args, &global),
        Command::Ca(command) => run_async(ca::run(command, global)),
        Command::Crl(command) => run_async(crl::run(command, global)),
        Command::Pki(command) => run_async(pki::run(command, global)),
        Command::Serve(args) => run_async(serve::run(args, global)),
        Command::Audit(args) => run_async(audit(args, global)),
        Command::Signins(args) => run_async(signins::run(args, global)),
        Command::Client(command) => run_async(client::run(command, global)),
        Command::User(command) => run_async(user::run(command, global)),
        Command::Directory(command) => run_async(directory::run(command, global)),
        Command::Binding(command) => run_async(binding::run(command, global)),
        Command::Strength(command) => run_async(strength::run(command, global)),
        Command::Admin(command) => run_async(admin::run(command, global)),
        Command::Rp(command) => run_async(rp::run(command, global)),
        Command::Federation(command) => run_async(federation::run(command, global)),
        Command::Est(command) => run_async(est::run(command, global)),
        Command::Device(command) => run_async(device::run(command, global)),
    }
}

async fn audit(args: AuditArgs, global: GlobalArgs) -> anyhow::Result<ExitCode> {
    use certgate_core::audit::AuditLog;
    use certgate_server::admin_api::resource::{Collection, DirectoryAudit};
    let events: Vec<DirectoryAudit> = match global.remote()? {
        Some(remote) => {
            let path = format!("/auditLogs/directoryAudits?$top={}", args.limit);
            match remote.get::<Collection<DirectoryAudit>>(&path).await? {
                Ok(list) => list.value,
                Err(refusal) => {
                    return Ok(output::refused(
                        "audit",
                        &refusal.code,
                        &refusal.message,
                        args.json,
                    ))
                }
            }
        }
        None => {
            let config = global.load()?;
            let store = config.open_store().await?;
            let events = store.audit_events(args.limit).await?;
            events.iter().map(Into::into).collect()
        }
    };
    if args.json {
        let rows: Vec<_> = events
            .iter()
            .map(|e| {
                serde_json::json!({
                    "at": e.activity_date_time, "actor": e.initiated_by,
                    "action": e.activity_display_name, "target": e.target,
                    "outcome": e.result_reason, "detail": e.detail,
                })
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        for e in &events {
            outln!(
                "{}  {:<10} {:<12} {:<24} {:<28} {}",
                e.activity_date_time,
                e.initiated_by,
                e.activity_display_name,
                e.target,
                e.result_reason,
                e.detail
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The actor recorded in the audit log for CLI commands.
pub(crate) fn cli_actor() -> String {
    let user = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}
