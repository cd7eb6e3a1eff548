//! `axum-users`: the standalone user-management server.
//!
//! `axum-users serve` (the default) runs registration, login (Bearer JWT at `/auth/jwt`,
//! cookie at `/auth/cookie`), profile and admin routes from configuration;
//! `axum-users create-superuser --email E` makes an administrator; `axum-users users ...` lists,
//! shows, (de)activates, deletes users and sets passwords; `axum-users migrate` creates or
//! updates the schema.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

mod admin;
mod build;
mod config;
mod metrics;
mod serve;

use config::Config;

#[derive(Parser)]
#[command(
    name = "axum-users",
    version,
    about = "User management server (FastAPI Users compatible)"
)]
struct Cli {
    /// A TOML configuration file (settings as in the environment, without the AXUM_USERS_ prefix, lower-case).
    #[arg(long, global = true, env = "AXUM_USERS_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Create an active, verified superuser, or make an existing user a superuser.
    CreateSuperuser {
        /// The user's e-mail address.
        #[arg(long)]
        email: String,
        /// The password of a new user (else AXUM_USERS_PASSWORD, else asked on the terminal).
        #[arg(long)]
        password: Option<String>,
    },
    /// Create or update the database schema, then exit.
    Migrate,
    /// Look users up and manage them (works while the server runs; answers are JSON).
    Users {
        #[command(subcommand)]
        command: admin::UsersCommand,
    },
    /// Print the current TOTP code of a secret (base32, as `/auth/mfa/totp/setup` answers it):
    /// what an authenticator app would show, for trying the second factor from a shell.
    TotpCode {
        /// The base32 secret.
        secret: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::TotpCode { secret }) = &cli.command {
        return match totp_code(secret) {
            Ok(code) => {
                println!("{code}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("error: {err:#}");
                ExitCode::FAILURE
            }
        };
    }
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err:#}");
            return ExitCode::FAILURE;
        }
    };
    init_logging(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve::serve(config).await,
            Command::CreateSuperuser { email, password } => {
                admin::create_superuser(config, &email, password).await
            }
            Command::Users { command } => admin::users(config, command).await,
            // Answered above, before the configuration is read.
            Command::TotpCode { .. } => Ok(()),
            Command::Migrate => build::open_store(&config).await.map(|_| {
                tracing::info!("database schema is up to date");
            }),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if config.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// The current code of a TOTP secret: SHA-1, 6 digits, 30-second steps, as the server checks.
fn totp_code(secret: &str) -> anyhow::Result<String> {
    let secret = totp_rs::Secret::try_from_base32(secret.trim())
        .map_err(|_| anyhow::anyhow!("the secret is not base32 (A-Z, 2-7)"))?;
    let totp = totp_rs::Builder::new()
        .with_secret(secret)
        .build()
        .map_err(|e| anyhow::anyhow!("not a usable TOTP secret: {e}"))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("the clock is before 1970")?
        .as_secs();
    Ok(totp.generate(now).to_string())
}

/// Reads a password for a new superuser: the flag, the environment, or the terminal.
fn read_password(given: Option<String>) -> anyhow::Result<String> {
    if let Some(p) = given {
        return Ok(p);
    }
    if let Ok(p) = std::env::var("AXUM_USERS_PASSWORD") {
        return Ok(p);
    }
    rpassword::prompt_password("Password: ").context(
        "no password given: pass --password, set AXUM_USERS_PASSWORD, or run on a terminal",
    )
}
