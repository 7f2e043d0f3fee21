//! Logging with `tracing`, in three categories chosen by event target:
//! `access` (one JSON line per HTTP request), `db` (the database and sqlx), and `app` (the rest).
//! Everything goes to stdout (text, JSON, or nothing with `LOG_FORMAT=off`) and, as JSON, to daily-rotating files under
//! `LOG_DIR/<category>/`, keeping `LOG_RETENTION` files per category.

use tracing::Metadata;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{InitError, RollingFileAppender, Rotation};
use tracing_subscriber::filter::{EnvFilter, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{Layer, Registry};

use crate::config::{LogConfig, LogFormat};

/// The event target of access-log lines.
pub const ACCESS: &str = "access";
/// The event target of database lines (sqlx's own targets count too).
pub const DB: &str = "db";

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("cannot open log files under LOG_DIR ({0})")]
    Files(#[from] InitError),
    #[error("cannot create LOG_DIR: {0}")]
    Directory(std::io::Error),
    #[error("a global logger is already installed")]
    AlreadySet(#[from] tracing::subscriber::SetGlobalDefaultError),
}

/// Keeps the background log writers alive; dropping it flushes them.
#[must_use = "logs are lost when the guard is dropped"]
pub struct TelemetryGuard(#[allow(dead_code)] Vec<WorkerGuard>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    App,
    Db,
    Access,
}

impl Category {
    const ALL: [Category; 3] = [Category::App, Category::Db, Category::Access];

    pub fn of(meta: &Metadata<'_>) -> Self {
        let target = meta.target();
        if target == ACCESS {
            Category::Access
        } else if target == DB || target.starts_with("sqlx") {
            Category::Db
        } else {
            Category::App
        }
    }

    fn name(self) -> &'static str {
        match self {
            Category::App => "app",
            Category::Db => "db",
            Category::Access => "access",
        }
    }
}

/// Installs the global subscriber for the process.
pub fn init(config: &LogConfig) -> Result<TelemetryGuard, TelemetryError> {
    let (subscriber, guard) = build(config)?;
    tracing::subscriber::set_global_default(subscriber)?;
    Ok(guard)
}

/// The subscriber `init` installs, built without installing it (tests use it scoped).
pub fn build(
    config: &LogConfig,
) -> Result<(impl tracing::Subscriber + Send + Sync, TelemetryGuard), TelemetryError> {
    let mut guards = Vec::new();
    let mut layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = Vec::new();

    if let Some(layer) = stdout_layer(config.format, &mut guards) {
        layers.push(layer);
    }

    for category in Category::ALL {
        // The appender prunes old files by listing the directory: it must exist first.
        let dir = config.dir.join(category.name());
        std::fs::create_dir_all(&dir).map_err(TelemetryError::Directory)?;
        let appender = RollingFileAppender::builder()
            .rotation(Rotation::DAILY)
            .filename_prefix(category.name())
            .filename_suffix("log")
            .max_log_files(config.retention)
            .build(dir)?;
        let (writer, guard) = tracing_appender::non_blocking(appender);
        guards.push(guard);
        layers.push(
            tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_ansi(false)
                .with_writer(writer)
                .with_filter(filter_fn(move |meta| Category::of(meta) == category))
                .boxed(),
        );
    }

    // The filter was validated with the configuration; fall back to `info` all the same.
    let filter = EnvFilter::try_new(&config.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let subscriber = Registry::default().with(layers).with(filter);
    Ok((subscriber, TelemetryGuard(guards)))
}

/// The standard-output layer for `format`, none when it is `off`.
fn stdout_layer(
    format: LogFormat,
    guards: &mut Vec<WorkerGuard>,
) -> Option<Box<dyn Layer<Registry> + Send + Sync>> {
    if format == LogFormat::Off {
        return None;
    }
    // Colours only for a person at a terminal: redirected output (a file, a log collector)
    // gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    // Written by a background thread, like the files: a request never waits on stdout.
    let (writer, guard) = tracing_appender::non_blocking(std::io::stdout());
    guards.push(guard);
    let layer = tracing_subscriber::fmt::layer()
        .with_target(true)
        .with_ansi(ansi)
        .with_writer(writer);
    Some(match format {
        LogFormat::Json => layer.json().flatten_event(true).boxed(),
        _ => layer.boxed(),
    })
}

/// Masks an e-mail for logs as the seed did: `**` + local part from its third to its
/// second-to-last character + `*@` + domain (`johndoe@x.io` -> `**hndo*@x.io`).
pub fn mask_email(email: &str) -> String {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return "***".to_owned();
    };
    let chars: Vec<char> = local.chars().collect();
    let middle: String = if chars.len() > 3 {
        chars[2..chars.len() - 1].iter().collect()
    } else {
        String::new()
    };
    format!("**{middle}*@{domain}")
}
