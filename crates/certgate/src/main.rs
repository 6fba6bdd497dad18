//! certgate: client-certificate sign-in for mail and office apps.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod verify;

#[derive(Parser)]
#[command(
    name = "certgate",
    version,
    about = "Client-certificate sign-in for mail and office apps"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a certificate chain like `openssl verify`: exit 0 valid, 1 rejected, 2 usage
    /// error or unreadable input.
    Verify(verify::VerifyArgs),
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
    match cli.command {
        Command::Verify(args) => verify::run(args),
    }
}
