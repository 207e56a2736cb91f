//! `cargo run -p quickstart`: the Edit-profile quickstart, offline, in one process.
//!
//! **What it shows.** Microsoft's quickstart "Edit profile in a sample Node.js web app" in Rust:
//! sign in to a web app (authorization code + PKCE), read the ID token's claims and the Microsoft
//! Graph profile, then edit the profile through the EditProfileService API, which a Conditional
//! Access policy protects with multifactor authentication and which calls Graph on the user's
//! behalf (on-behalf-of). Three servers run here:
//!
//! - the **dev tenant** (`http://127.0.0.1:3002`): the stand-in for the Entra External ID tenant
//!   (login page, MFA page, token endpoint, Conditional Access) and for Graph `/v1.0/me`;
//! - the **API** (`http://127.0.0.1:3001`, health at `/healthz`);
//! - the **web app** (`http://localhost:3000`): open this one.
//!
//! **Run it.**
//!
//! ```text
//! cargo run -p quickstart
//! cargo run -p quickstart -- --web-port 8000 --api-port 8001 --tenant-port 8002
//! WEB_PORT=8000 cargo run -p quickstart          # the same through the environment
//! REDIS_URL=redis://127.0.0.1:6379 cargo run -p quickstart   # sessions and token caches in Redis
//! ```
//!
//! With Redis, what the apps store there is sealed with `DATA_KEYS` (`--data-keys`); unset, each
//! run makes a random key (an earlier run's sessions are useless anyway: the dev tenant signs with
//! a new key at each start).
//!
//! Open <http://localhost:3000>, sign in as `alice@contoso.com` / `Passw0rd!` (or
//! `bob@contoso.com`). "Edit profile" asks for a one-time code: the MFA page shows it in a
//! dev-only hint, and this program's log prints it ("dev-tenant one-time MFA code"). Ctrl-C stops
//! all three servers gracefully. `RUST_LOG` sets the log filter (default `info`).
//!
//! **With a real tenant.** The dev tenant plays the part of `https://{subdomain}.ciamlogin.com/`
//! and `https://graph.microsoft.com/`. Against a real Entra External ID tenant, run the two apps
//! on their own — `cargo run -p api` and `cargo run -p web-app` — with each app's variables (its
//! `.env`) naming your tenant and your app registrations; `examples/README.md` lists them and the
//! registrations to create. Nothing in the apps changes.
#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line program prints its banner and errors"
)]

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use dev_tenant::quickstart as q;
use quickstart::{Options, Ports};

/// How long in-flight requests get to finish after Ctrl-C.
const DRAIN: Duration = Duration::from_secs(10);

/// The Edit-profile quickstart: dev tenant + EditProfileService API + web app in one process.
// No Debug: it holds DATA_KEYS.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// The web app's port (http://localhost:PORT).
    #[arg(long, env = "WEB_PORT", default_value_t = Ports::QUICKSTART.web)]
    web_port: u16,
    /// The EditProfileService API's port (http://127.0.0.1:PORT).
    #[arg(long, env = "API_PORT", default_value_t = Ports::QUICKSTART.api)]
    api_port: u16,
    /// The dev tenant's port (http://127.0.0.1:PORT), also serving Graph /v1.0/me.
    #[arg(long, env = "TENANT_PORT", default_value_t = Ports::QUICKSTART.tenant)]
    tenant_port: u16,
    /// Keep web sessions and token caches in Redis instead of memory.
    #[arg(long, env = "REDIS_URL")]
    redis_url: Option<String>,
    /// With Redis: the keys that seal what is stored there (id:base64url-32-bytes[,...]);
    /// a random key for this run when unset.
    #[arg(long, env = "DATA_KEYS", hide_env_values = true)]
    data_keys: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let mut options = Options::new(Ports {
        web: args.web_port,
        api: args.api_port,
        tenant: args.tenant_port,
    });
    if let Some(url) = args.redis_url {
        options = options.redis_url(url);
    }
    if let Some(keys) = args.data_keys {
        options = options.data_keys(keys);
    }
    let running = match quickstart::start(options).await {
        Ok(running) => running,
        Err(e) => {
            let mut message = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            eprintln!("quickstart: {message}");
            eprintln!(
                "(another program on the port? choose others with --web-port, --api-port, --tenant-port)"
            );
            return ExitCode::FAILURE;
        }
    };

    println!();
    println!("Edit profile quickstart is running.");
    println!();
    println!("  Open            {}", running.web_url());
    println!(
        "  Sign in as      {} / {}   (or {})",
        q::ALICE_EMAIL,
        q::USER_PASSWORD,
        q::BOB_EMAIL
    );
    println!("  MFA code        shown on the MFA page (dev-only hint) and logged here as");
    println!("                  \"dev-tenant one-time MFA code\" when you select Edit profile");
    println!();
    println!("  Web app         {}", running.web_url());
    println!(
        "  API             {}   (health: /healthz)",
        running.api_url()
    );
    println!(
        "  Dev tenant      {}   (Entra External ID + Graph stand-in)",
        running.tenant().authority()
    );
    println!();
    println!("Ctrl-C to stop.");

    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("quickstart: cannot wait for Ctrl-C ({e}); stopping");
    }
    println!("Stopping: letting in-flight requests finish...");
    match tokio::time::timeout(DRAIN, running.shutdown()).await {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("quickstart: a server failed: {e}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!(
                "quickstart: requests still running after {}s; stopping anyway",
                DRAIN.as_secs()
            );
            ExitCode::SUCCESS
        }
    }
}
