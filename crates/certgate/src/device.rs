//! `certgate device profile`: a new certificate for a user, packed for a phone or tablet (an
//! Apple configuration profile, the Android / MDM JSON profile, or the PKCS#12 alone).

use std::path::PathBuf;
use std::process::ExitCode;

use certgate_ca::KeyAlgorithm;
use certgate_core::clock::{rfc3339, SystemClock};
use certgate_core::device::{
    provision_device, DeviceProfileRequest, PasswordDelivery, Platform, ProfileSigning,
    DEFAULT_KEY_ALGORITHM, DEFAULT_VALIDITY_DAYS,
};
use certgate_core::directory::find_user;
use clap::{Args, Subcommand};
use zeroize::Zeroizing;

use crate::pki::{random_password, write_file};
use crate::{cli_actor, GlobalArgs};

#[derive(Subcommand)]
pub(crate) enum DeviceCommand {
    /// Issue a new certificate to a user and write it for a device: an iOS configuration
    /// profile with an Exchange ActiveSync account that signs in with it, the Android / MDM
    /// JSON profile, or the PKCS#12 alone.
    Profile(ProfileArgs),
}

#[derive(Args)]
pub(crate) struct ProfileArgs {
    /// The user (UPN or object ID); the certificate carries their UPN and mail.
    #[arg(long)]
    upn: String,
    /// ios (.mobileconfig), android (JSON) or pkcs12.
    #[arg(long, value_parser = parse_platform)]
    platform: Platform,
    /// The Exchange ActiveSync host name the device connects to (ios, android).
    #[arg(long)]
    eas_host: Option<String>,
    /// PKCS#12 password, at least 8 characters (default: CERTGATE_P12_PASSWORD, or a random
    /// one that is printed).
    #[arg(long, env = "CERTGATE_P12_PASSWORD", hide_env_values = true)]
    p12_password: Option<String>,
    /// Write the password into the profile too. The file then protects the private key no
    /// better than the way it travels: for MDM pushes over a protected channel only.
    #[arg(long)]
    embed_password: bool,
    /// Sign the iOS profile with certgate's issuing CA (CMS SignedData); the device shows it
    /// as verified when it trusts certgate's root.
    #[arg(long)]
    sign: bool,
    #[arg(long, default_value_t = DEFAULT_VALIDITY_DAYS)]
    days: u32,
    /// rsa-2048 by default: older Android key chains and some mail apps cannot use EC keys.
    #[arg(long, default_value_t = DEFAULT_KEY_ALGORITHM, value_parser = parse_algorithm)]
    key_algorithm: KeyAlgorithm,
    /// The file to write (readable by its owner only: it holds a private key).
    #[arg(long)]
    out: PathBuf,
}

fn parse_platform(text: &str) -> Result<Platform, String> {
    Platform::parse(text)
        .ok_or_else(|| format!("unknown platform {text}: use ios, android or pkcs12"))
}

fn parse_algorithm(text: &str) -> Result<KeyAlgorithm, String> {
    KeyAlgorithm::parse(text).ok_or_else(|| {
        format!("unknown key algorithm {text}: use rsa-2048, rsa-3072, ecdsa-p256 or ecdsa-p384")
    })
}

fn refused(code: &str, message: &str) -> ExitCode {
    eprintln!("certgate device: {message} ({code})");
    ExitCode::FAILURE
}

pub(crate) async fn run(command: DeviceCommand, global: GlobalArgs) -> anyhow::Result<ExitCode> {
    let DeviceCommand::Profile(args) = command;
    let config = global.load()?;
    let store = config.open_store().await?;
    let settings = config.pki_settings(false);
    let user = match find_user(&store, &args.upn).await {
        Ok(user) => user,
        Err(error) => return Ok(refused(error.code(), &error.to_string())),
    };
    let (password, generated) = match args.p12_password {
        Some(password) if !password.is_empty() => (Zeroizing::new(password), false),
        _ => (Zeroizing::new(random_password()?), true),
    };
    let mut request = DeviceProfileRequest::new(args.platform, args.eas_host, password.clone());
    request.validity_days = args.days;
    request.key_algorithm = args.key_algorithm;
    if args.embed_password {
        request.password = PasswordDelivery::EmbeddedInProfile;
    }
    if args.sign {
        request.signing = ProfileSigning::SignedByIssuingCa;
    }
    let profile = match provision_device(
        &store,
        &SystemClock,
        &settings,
        &cli_actor(),
        &user,
        &request,
    )
    .await
    {
        Ok(profile) => profile,
        Err(error) => return Ok(refused(error.code(), &error.to_string())),
    };
    write_file(&args.out, &profile.bytes, true)?;
    outln!(
        "issued serial {} to {} (valid until {})",
        certgate_core::hex(&profile.serial),
        user.upn,
        rfc3339(profile.not_after)
    );
    outln!(
        "  {} {}{}",
        match profile.platform {
            Platform::Ios => "configuration profile",
            Platform::Android => "Android profile",
            Platform::Pkcs12 => "PKCS#12",
        },
        args.out.display(),
        if profile.signed {
            " (signed by the issuing CA)"
        } else {
            ""
        }
    );
    if generated {
        outln!("  PKCS#12 password: {}", password.as_str());
    }
    Ok(ExitCode::SUCCESS)
}
