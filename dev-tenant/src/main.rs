//! `cargo run -p dev-tenant -- --config dev-tenant.toml [--port N] [--https-cert-out PATH]`
//!
//! Runs a local Entra External ID tenant and Graph `/v1.0/me` until Ctrl-C.
#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool prints its banner and errors"
)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use dev_tenant::{Config, DevTenant, HttpsConfig};

/// A local stand-in for a Microsoft Entra External ID tenant and Microsoft Graph /v1.0/me.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// TOML configuration; the quickstart tenant when absent.
    #[arg(long, env = "DEV_TENANT_CONFIG")]
    config: Option<PathBuf>,
    /// Port to listen on (127.0.0.1); overrides `server.bind`. 0 picks a free port.
    #[arg(long, conflicts_with = "bind")]
    port: Option<u16>,
    /// Address to listen on, e.g. `0.0.0.0:8443` in a container; overrides `server.bind`.
    /// Set an admin token then: without one the admin API answers loopback clients only.
    #[arg(long, env = "DEV_TENANT_BIND")]
    bind: Option<SocketAddr>,
    /// Guard the admin API with this bearer token instead of loopback-only (overrides
    /// `server.admin_token`).
    #[arg(long, env = "DEV_TENANT_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Serve HTTPS and write the CA certificate (PEM) that clients must trust to this path.
    #[arg(long)]
    https_cert_out: Option<PathBuf>,
    /// Sign this seeded user in without the login page (overrides `auto_login`).
    #[arg(long, env = "DEV_TENANT_AUTO_LOGIN")]
    auto_login: Option<String>,
    /// With --auto-login: the sign-in counts as multifactor.
    #[arg(long, requires = "auto_login")]
    auto_login_mfa: bool,
    /// Print the quickstart configuration as TOML and exit.
    #[arg(long)]
    print_default_config: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut message = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                message.push_str(&format!(": {s}"));
                source = s.source();
            }
            eprintln!("dev-tenant: {message}");
            eprintln!(
                "(the default configuration is dev-tenant/dev-tenant.toml in the workspace; without --config the quickstart tenant runs)"
            );
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), dev_tenant::Error> {
    if args.print_default_config {
        print!("{}", Config::quickstart().to_toml_string()?);
        return Ok(());
    }
    let mut config = match &args.config {
        Some(path) => Config::from_file(path)?,
        None => Config::quickstart(),
    };
    if let Some(port) = args.port {
        config.server.bind = Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    if let Some(bind) = args.bind {
        config.server.bind = Some(bind);
    }
    if let Some(user) = args.auto_login {
        config.auto_login = Some(dev_tenant::AutoLogin::new(user, args.auto_login_mfa));
        config.validate()?;
    }
    if let Some(token) = args.admin_token {
        config.server.admin_token = Some(dev_tenant::Secret::new(token));
    }
    if let Some(path) = args.https_cert_out {
        config.server.https = Some(HttpsConfig::new(Some(path)));
    }
    let cert_out = config
        .server
        .https
        .as_ref()
        .and_then(|h| h.cert_out.clone());
    let tenant = DevTenant::start(config).await?;
    println!("dev tenant running");
    println!("  authority:   {}", tenant.authority());
    println!("  discovery:   {}", tenant.discovery_url());
    println!("  issuer:      {}", tenant.issuer());
    println!("  graph:       {}v1.0/me", tenant.graph_url());
    println!("  admin API:   {}/_admin/requests", tenant.base_url());
    if let Some(path) = cert_out {
        println!(
            "  CA cert:     {} (trust it: NODE_EXTRA_CA_CERTS / REQUESTS_CA_BUNDLE)",
            path.display()
        );
    }
    for user in &tenant.config().users {
        println!("  user:        {} / {}", user.email, user.password.secret());
    }
    for app in &tenant.config().apps {
        if let Some(secret) = app.client_secrets.first() {
            println!(
                "  app:         {} client_id={} secret={}",
                app.name,
                app.client_id,
                secret.secret()
            );
        }
    }
    println!("Ctrl-C to stop.");
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("dev-tenant: cannot wait for Ctrl-C: {e}");
    }
    Ok(())
}
