//! The command line: `herald [serve]`, `herald migrate`, `herald check-config`.

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "herald",
    version,
    about = "Herald: a Discord bot with a web surface"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the bot and the web surface (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Print the effective configuration, secrets redacted, and exit.
    CheckConfig,
    /// Exit 0 when the local server answers /healthz (for container health checks).
    Healthcheck,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Print what signs a call to /api/v1/services (see docs/signing.md): the query string
    /// and header for v1, the headers for v2, and a curl command.
    Sign(SignArgs),
}

#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// The key's access key (hk_live_...).
    #[arg(long)]
    pub key: String,
    /// The key's secret; read from HERALD_SECRET_KEY when not given here (keeps it out of
    /// the shell's history).
    #[arg(long, env = "HERALD_SECRET_KEY", hide_env_values = true)]
    pub secret: String,
    /// v1 (the seed's scheme) or v2.
    #[arg(long, default_value = "v2")]
    pub scheme: String,
    #[arg(long, default_value = "GET")]
    pub method: String,
    /// The path, and for v2 an optional query: /api/v1/services/notifications?state=dead
    #[arg(long, default_value = "/api/v1/services")]
    pub path: String,
    /// The request body (v2 signs it).
    #[arg(long, default_value = "")]
    pub body: String,
    /// Unix seconds; now when not given.
    #[arg(long)]
    pub timestamp: Option<i64>,
    /// v2 only; random when not given.
    #[arg(long)]
    pub nonce: Option<String>,
    /// The server, for the curl line.
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    pub base: String,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an administrator (first setup). Prompts for the password, or reads it from
    /// standard input with --password-stdin.
    CreateAdmin {
        #[arg(long)]
        email: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}
