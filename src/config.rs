//! One typed configuration, read from the environment (after `.env`) and validated once at start.
//!
//! `Config::from_map` takes the variables as a map so tests can vary them without touching the
//! process environment. Every problem names the variable and what it expects.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use url::Url;

/// The real Discord; `DISCORD_API_BASE` overrides it (tests point it at a local fake).
pub const DISCORD_API_DEFAULT: &str = "https://discord.com";
pub const SECRET_KEY_MIN_LEN: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// A value that must never be printed. `Debug` shows `[redacted]`; read it with `expose`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub env: Environment,
    pub host: IpAddr,
    pub port: u16,
    pub public_url: Url,
    pub database: DatabaseConfig,
    pub secret_key: Secret,
    /// No SECRET_KEY was set: the key above is random and lives as long as the process.
    pub secret_key_ephemeral: bool,
    pub discord: DiscordConfig,
    pub http: HttpConfig,
    pub log: LogConfig,
    pub auth: AuthConfig,
    pub mail: MailConfig,
    pub oauth: OAuthConfig,
}

#[derive(Clone)]
pub struct DatabaseConfig {
    /// May carry a password: never logged as is, see `redacted_url`.
    pub url: String,
    pub max_connections: u32,
}

#[derive(Debug, Clone)]
pub struct DiscordConfig {
    pub token: Option<Secret>,
    pub dev_guild_id: Option<u64>,
    pub api_base: Url,
    /// How long the web surface waits for the bot before starting without it.
    pub ready_timeout: Duration,
    /// The first wait before the bot tries again after a failure; it doubles up to 5 minutes.
    pub retry_initial: Duration,
    /// The shards this process runs; `None` runs the single shard 0 of 1.
    pub shards: Option<ShardRange>,
}

/// Shards `first..=last` of `total`, so several processes can split one bot's gateway load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardRange {
    pub first: u32,
    pub last: u32,
    pub total: u32,
}

impl ShardRange {
    /// `FIRST-LAST/TOTAL`, e.g. `0-3/8`; a single shard may be written `2/8`.
    pub fn parse(raw: &str) -> Option<Self> {
        let (range, total) = raw.split_once('/')?;
        let (first, last) = range.split_once('-').unwrap_or((range, range));
        let shards = Self {
            first: first.trim().parse().ok()?,
            last: last.trim().parse().ok()?,
            total: total.trim().parse().ok()?,
        };
        (shards.first <= shards.last && shards.last < shards.total).then_some(shards)
    }
}

#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub body_limit: u64,
    /// Empty: any host is accepted.
    pub allowed_hosts: Vec<String>,
    /// Empty: no cross-origin access.
    pub cors_origins: Vec<String>,
    pub trusted_proxies: Vec<IpNet>,
    pub shutdown_timeout: Duration,
    /// How long a client may take to send a request's headers.
    pub header_timeout: Duration,
    /// How long a request may run before it is answered 503 and stopped.
    pub request_timeout: Duration,
    /// Connections served at once; more wait in the listen queue.
    pub max_connections: usize,
}

#[derive(Debug, Clone)]
pub struct LogConfig {
    pub dir: PathBuf,
    pub retention: usize,
    pub filter: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Lifetime of access tokens (JWT).
    pub access_ttl: Duration,
    /// Lifetime of a session (its refresh tokens).
    pub refresh_ttl: Duration,
    /// Send cookies with `Secure`; defaults to on when the public URL is https.
    pub cookie_secure: bool,
}

#[derive(Debug, Clone)]
pub struct MailConfig {
    /// `smtp://user:pass@host:587` (STARTTLS), `smtps://...:465` (TLS); `None`: no SMTP.
    pub smtp_url: Option<Secret>,
    pub from: String,
}

/// A provider's client credentials; a provider is offered only when it has them.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    pub client_id: String,
    pub client_secret: Secret,
    /// How the token endpoint receives them.
    pub auth: TokenAuth,
}

/// How a client authenticates at a provider's token endpoint (RFC 6749 2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenAuth {
    /// HTTP Basic (`client_secret_basic`): what every server must accept.
    Basic,
    /// In the form body (`client_secret_post`): what Kakao requires.
    Body,
}

impl TokenAuth {
    fn parse(raw: &str) -> Option<Self> {
        match raw.to_ascii_lowercase().as_str() {
            "basic" => Some(Self::Basic),
            "body" | "post" => Some(Self::Body),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Basic => "basic",
            Self::Body => "body",
        }
    }
}

#[derive(Debug, Clone)]
pub struct OAuthConfig {
    pub discord: Option<ClientCredentials>,
    pub google: Option<ClientCredentials>,
    pub kakao: Option<ClientCredentials>,
    pub google_authorize_url: Url,
    pub google_token_url: Url,
    pub google_userinfo_url: Url,
    /// kauth.kakao.com: authorize and token endpoints.
    pub kakao_auth_base: Url,
    /// kapi.kakao.com: profile and messages.
    pub kakao_api_base: Url,
}

/// One invalid variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct ConfigIssue {
    pub var: &'static str,
    pub problem: String,
}

/// Every invalid variable at once, so an operator fixes them in one go.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n{}", .0.iter().map(|i| format!("  - {i}")).collect::<Vec<_>>().join("\n"))]
pub struct ConfigError(pub Vec<ConfigIssue>);

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &self.redacted_url())
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

impl DatabaseConfig {
    /// The URL with any password replaced, safe for logs and `check-config`.
    pub fn redacted_url(&self) -> String {
        match Url::parse(&self.url) {
            Ok(mut url) if url.password().is_some() => {
                let _ = url.set_password(Some("[redacted]"));
                url.to_string()
            }
            _ => self.url.clone(),
        }
    }
}

/// Reads variables, collecting every problem instead of stopping at the first.
struct Reader<'a> {
    vars: &'a HashMap<String, String>,
    issues: Vec<ConfigIssue>,
}

impl<'a> Reader<'a> {
    /// A set, non-blank value.
    fn get(&self, var: &str) -> Option<&'a str> {
        self.vars
            .get(var)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    fn fail(&mut self, var: &'static str, problem: impl Into<String>) {
        self.issues.push(ConfigIssue {
            var,
            problem: problem.into(),
        });
    }

    /// Parses `var` with `parse`, or returns `default`; a bad value is recorded with `expected`.
    fn parse<T>(
        &mut self,
        var: &'static str,
        default: T,
        expected: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> T {
        let Some(raw) = self.get(var) else {
            return default;
        };
        match parse(raw) {
            Some(value) => value,
            None => {
                self.fail(var, format!("expected {expected}, got {raw:?}"));
                default
            }
        }
    }

    fn list(&self, var: &str) -> Vec<String> {
        self.get(var)
            .map(|raw| {
                raw.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn seconds(&mut self, var: &'static str, default: u64) -> Duration {
        let secs = self.parse(var, default, "a whole number of seconds", |v| {
            v.parse().ok()
        });
        Duration::from_secs(secs)
    }
}

impl Config {
    /// Reads the process environment (call `dotenvy::dotenv()` first to honour `.env`).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_map(&std::env::vars().collect())
    }

    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let mut r = Reader {
            vars,
            issues: Vec::new(),
        };

        let env = r.parse(
            "HERALD_ENV",
            Environment::Development,
            "development or production",
            |v| match v.to_ascii_lowercase().as_str() {
                "development" | "dev" => Some(Environment::Development),
                "production" | "prod" => Some(Environment::Production),
                _ => None,
            },
        );
        let host = r.parse(
            "HERALD_HOST",
            IpAddr::from([127, 0, 0, 1]),
            "an IP address such as 127.0.0.1 or 0.0.0.0",
            |v| v.parse().ok(),
        );
        // HERALD_PORT wins; PORT is what hosting platforms set.
        let port_var = if r.get("HERALD_PORT").is_some() {
            "HERALD_PORT"
        } else {
            "PORT"
        };
        let port = r.parse(port_var, 8000, "a port number 0-65535", |v| v.parse().ok());
        let default_public = format!("http://{}:{port}", display_host(host));
        let public_url = r
            .parse(
                "HERALD_PUBLIC_URL",
                None,
                "an http(s) URL such as https://herald.example.com",
                |v| http_url(v).map(Some),
            )
            .unwrap_or_else(|| Url::parse(&default_public).expect("built from an IP and a port"));

        let database = DatabaseConfig {
            url: r
                .parse(
                    "DATABASE_URL",
                    "sqlite://data/herald.db".to_owned(),
                    "a sqlite://, mysql:// or mariadb:// URL",
                    |v| {
                        let ok = ["sqlite:", "mysql://", "mariadb://"]
                            .iter()
                            .any(|p| v.starts_with(p));
                        ok.then(|| v.to_owned())
                    },
                )
                .replacen("mariadb://", "mysql://", 1),
            max_connections: r.parse(
                "DATABASE_MAX_CONNECTIONS",
                10,
                "a number of connections from 1 to 1000",
                |v| v.parse().ok().filter(|n| (1..=1000).contains(n)),
            ),
        };

        let secret_key = match r.get("SECRET_KEY") {
            Some(key) if key.len() >= SECRET_KEY_MIN_LEN => Secret::new(key),
            Some(_) => {
                r.fail(
                    "SECRET_KEY",
                    format!(
                        "expected at least {SECRET_KEY_MIN_LEN} characters (try `openssl rand -base64 48`)"
                    ),
                );
                Secret::new("")
            }
            None if env == Environment::Production => {
                r.fail(
                    "SECRET_KEY",
                    "is required when HERALD_ENV=production (at least 32 random characters)",
                );
                Secret::new("")
            }
            None => Secret::new(crate::crypto::random_token(48)),
        };
        let secret_key_ephemeral = r.get("SECRET_KEY").is_none();

        let discord = DiscordConfig {
            token: r.get("DISCORD_TOKEN").map(Secret::new),
            dev_guild_id: r.parse(
                "DISCORD_DEV_GUILD_ID",
                None,
                "a Discord server id (a number)",
                |v| v.parse().ok().map(Some),
            ),
            api_base: r.parse(
                "DISCORD_API_BASE",
                Url::parse(DISCORD_API_DEFAULT).expect("constant URL"),
                "scheme, host and optional port only, such as https://discord.com",
                origin_url,
            ),
            ready_timeout: r.seconds("DISCORD_READY_TIMEOUT_SECS", 5),
            retry_initial: r
                .seconds("DISCORD_RETRY_SECS", 5)
                .max(Duration::from_secs(1)),
            shards: r.parse(
                "DISCORD_SHARDS",
                None,
                "FIRST-LAST/TOTAL with FIRST <= LAST < TOTAL, such as 0-3/8",
                |v| ShardRange::parse(v).map(Some),
            ),
        };

        let http = HttpConfig {
            body_limit: r.parse(
                "HTTP_BODY_LIMIT",
                1024 * 1024,
                "a size in bytes from 1024",
                |v| v.parse().ok().filter(|n| *n >= 1024),
            ),
            allowed_hosts: r
                .list("ALLOWED_HOSTS")
                .into_iter()
                .map(|h| h.to_ascii_lowercase())
                .filter(|h| h != "*")
                .collect(),
            cors_origins: r.list("CORS_ORIGINS"),
            trusted_proxies: {
                let raw = r.list("TRUSTED_PROXIES");
                let mut nets = Vec::new();
                for item in raw {
                    match parse_net(&item) {
                        Some(net) => nets.push(net),
                        None => r.fail(
                            "TRUSTED_PROXIES",
                            format!("expected IP addresses or CIDR ranges, got {item:?}"),
                        ),
                    }
                }
                nets
            },
            shutdown_timeout: r.seconds("SHUTDOWN_TIMEOUT_SECS", 10),
            header_timeout: r
                .seconds("HTTP_HEADER_TIMEOUT_SECS", 10)
                .max(Duration::from_secs(1)),
            request_timeout: r
                .seconds("HTTP_REQUEST_TIMEOUT_SECS", 30)
                .max(Duration::from_secs(1)),
            max_connections: r.parse(
                "HTTP_MAX_CONNECTIONS",
                1024,
                "a number of connections from 1",
                |v| v.parse().ok().filter(|n| *n >= 1),
            ),
        };
        let origins = http.cors_origins.clone();
        for origin in origins {
            if origin != "*" && origin_url(&origin).is_none() {
                r.fail(
                    "CORS_ORIGINS",
                    format!("expected origins such as https://app.example.com, got {origin:?}"),
                );
            }
        }

        let log = LogConfig {
            dir: r
                .get("LOG_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("logs")),
            retention: r.parse(
                "LOG_RETENTION",
                if env == Environment::Production {
                    10
                } else {
                    1
                },
                "a number of daily files to keep, from 1",
                |v| v.parse().ok().filter(|n| *n >= 1),
            ),
            filter: r.get("RUST_LOG").unwrap_or("info").to_owned(),
            format: r.parse(
                "LOG_FORMAT",
                if env == Environment::Production {
                    LogFormat::Json
                } else {
                    LogFormat::Text
                },
                "text or json",
                |v| match v {
                    "text" => Some(LogFormat::Text),
                    "json" => Some(LogFormat::Json),
                    _ => None,
                },
            ),
        };
        if tracing_subscriber::EnvFilter::try_new(&log.filter).is_err() {
            r.fail(
                "RUST_LOG",
                "expected a filter such as `info` or `herald=debug,sqlx=warn`",
            );
        }

        let auth = AuthConfig {
            access_ttl: Duration::from_secs(r.parse(
                "ACCESS_TOKEN_TTL_SECS",
                900,
                "seconds from 60 to 86400",
                |v| v.parse().ok().filter(|n| (60..=86_400).contains(n)),
            )),
            refresh_ttl: Duration::from_secs(
                86_400
                    * r.parse("REFRESH_TOKEN_TTL_DAYS", 30, "days from 1 to 365", |v| {
                        v.parse().ok().filter(|n| (1..=365).contains(n))
                    }),
            ),
            cookie_secure: r.parse(
                "COOKIE_SECURE",
                public_url.scheme() == "https",
                "true or false",
                parse_bool,
            ),
        };
        let mail = MailConfig {
            smtp_url: r.parse(
                "SMTP_URL",
                None,
                "smtp://[user:pass@]host[:port] or smtps://...",
                |v| {
                    Url::parse(v)
                        .ok()
                        .filter(|u| matches!(u.scheme(), "smtp" | "smtps") && u.host().is_some())
                        .map(|_| Some(Secret::new(v)))
                },
            ),
            from: r.parse(
                "MAIL_FROM",
                "Herald <herald@localhost>".to_owned(),
                "a mailbox such as Herald <no-reply@example.com>",
                |v| v.contains('@').then(|| v.to_owned()),
            ),
        };
        let url = |r: &mut Reader, var: &'static str, default: &str| {
            r.parse(
                var,
                Url::parse(default).expect("constant URL"),
                "an http(s) URL",
                http_url,
            )
        };
        let oauth = OAuthConfig {
            discord: credentials(
                &mut r,
                [
                    "DISCORD_CLIENT_ID",
                    "DISCORD_CLIENT_SECRET",
                    "DISCORD_TOKEN_AUTH",
                ],
                TokenAuth::Basic,
            ),
            google: credentials(
                &mut r,
                [
                    "GOOGLE_CLIENT_ID",
                    "GOOGLE_CLIENT_SECRET",
                    "GOOGLE_TOKEN_AUTH",
                ],
                TokenAuth::Basic,
            ),
            kakao: credentials(
                &mut r,
                ["KAKAO_CLIENT_ID", "KAKAO_CLIENT_SECRET", "KAKAO_TOKEN_AUTH"],
                TokenAuth::Body,
            ),
            google_authorize_url: url(
                &mut r,
                "GOOGLE_AUTHORIZE_URL",
                "https://accounts.google.com/o/oauth2/v2/auth",
            ),
            google_token_url: url(
                &mut r,
                "GOOGLE_TOKEN_URL",
                "https://oauth2.googleapis.com/token",
            ),
            google_userinfo_url: url(
                &mut r,
                "GOOGLE_USERINFO_URL",
                "https://openidconnect.googleapis.com/v1/userinfo",
            ),
            kakao_auth_base: url(&mut r, "KAKAO_AUTH_BASE", "https://kauth.kakao.com"),
            kakao_api_base: url(&mut r, "KAKAO_API_BASE", "https://kapi.kakao.com"),
        };

        if !r.issues.is_empty() {
            return Err(ConfigError(r.issues));
        }
        Ok(Self {
            env,
            host,
            port,
            public_url,
            database,
            secret_key,
            secret_key_ephemeral,
            discord,
            http,
            log,
            auth,
            mail,
            oauth,
        })
    }

    pub fn is_production(&self) -> bool {
        self.env == Environment::Production
    }

    /// The effective configuration as (variable, value) rows, secrets redacted.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        let redact = |s: Option<&Secret>| match s {
            Some(_) => "[redacted]".to_owned(),
            None => "(not set)".to_owned(),
        };
        let client_id = |c: &Option<ClientCredentials>| {
            c.as_ref()
                .map_or("(not set)".to_owned(), |c| c.client_id.clone())
        };
        let auth = |c: &Option<ClientCredentials>, default: TokenAuth| {
            c.as_ref().map_or(default, |c| c.auth).name().to_owned()
        };
        let list = |l: &[String]| {
            if l.is_empty() {
                "(none)".to_owned()
            } else {
                l.join(",")
            }
        };
        vec![
            ("HERALD_ENV", format!("{:?}", self.env).to_lowercase()),
            ("HERALD_HOST", self.host.to_string()),
            ("HERALD_PORT", self.port.to_string()),
            ("HERALD_PUBLIC_URL", self.public_url.to_string()),
            ("DATABASE_URL", self.database.redacted_url()),
            (
                "DATABASE_MAX_CONNECTIONS",
                self.database.max_connections.to_string(),
            ),
            (
                "SECRET_KEY",
                if self.secret_key_ephemeral {
                    "(not set: an ephemeral key, sessions end when Herald restarts)".to_owned()
                } else {
                    redact(Some(&self.secret_key))
                },
            ),
            ("DISCORD_TOKEN", redact(self.discord.token.as_ref())),
            (
                "DISCORD_DEV_GUILD_ID",
                self.discord
                    .dev_guild_id
                    .map_or("(not set)".into(), |g| g.to_string()),
            ),
            ("DISCORD_API_BASE", self.discord.api_base.to_string()),
            (
                "DISCORD_READY_TIMEOUT_SECS",
                self.discord.ready_timeout.as_secs().to_string(),
            ),
            (
                "DISCORD_RETRY_SECS",
                self.discord.retry_initial.as_secs().to_string(),
            ),
            (
                "DISCORD_SHARDS",
                self.discord
                    .shards
                    .map_or("(not set: shard 0 of 1)".into(), |s| {
                        format!("{}-{}/{}", s.first, s.last, s.total)
                    }),
            ),
            ("HTTP_BODY_LIMIT", self.http.body_limit.to_string()),
            ("ALLOWED_HOSTS", list(&self.http.allowed_hosts)),
            ("CORS_ORIGINS", list(&self.http.cors_origins)),
            (
                "TRUSTED_PROXIES",
                list(
                    &self
                        .http
                        .trusted_proxies
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>(),
                ),
            ),
            (
                "SHUTDOWN_TIMEOUT_SECS",
                self.http.shutdown_timeout.as_secs().to_string(),
            ),
            (
                "HTTP_HEADER_TIMEOUT_SECS",
                self.http.header_timeout.as_secs().to_string(),
            ),
            (
                "HTTP_REQUEST_TIMEOUT_SECS",
                self.http.request_timeout.as_secs().to_string(),
            ),
            (
                "HTTP_MAX_CONNECTIONS",
                self.http.max_connections.to_string(),
            ),
            (
                "ACCESS_TOKEN_TTL_SECS",
                self.auth.access_ttl.as_secs().to_string(),
            ),
            (
                "REFRESH_TOKEN_TTL_DAYS",
                (self.auth.refresh_ttl.as_secs() / 86_400).to_string(),
            ),
            ("COOKIE_SECURE", self.auth.cookie_secure.to_string()),
            ("SMTP_URL", redact(self.mail.smtp_url.as_ref())),
            ("MAIL_FROM", self.mail.from.clone()),
            ("DISCORD_CLIENT_ID", client_id(&self.oauth.discord)),
            (
                "DISCORD_TOKEN_AUTH",
                auth(&self.oauth.discord, TokenAuth::Basic),
            ),
            (
                "DISCORD_CLIENT_SECRET",
                redact(self.oauth.discord.as_ref().map(|c| &c.client_secret)),
            ),
            ("GOOGLE_CLIENT_ID", client_id(&self.oauth.google)),
            (
                "GOOGLE_TOKEN_AUTH",
                auth(&self.oauth.google, TokenAuth::Basic),
            ),
            (
                "GOOGLE_CLIENT_SECRET",
                redact(self.oauth.google.as_ref().map(|c| &c.client_secret)),
            ),
            (
                "GOOGLE_AUTHORIZE_URL",
                self.oauth.google_authorize_url.to_string(),
            ),
            ("GOOGLE_TOKEN_URL", self.oauth.google_token_url.to_string()),
            (
                "GOOGLE_USERINFO_URL",
                self.oauth.google_userinfo_url.to_string(),
            ),
            ("KAKAO_CLIENT_ID", client_id(&self.oauth.kakao)),
            ("KAKAO_TOKEN_AUTH", auth(&self.oauth.kakao, TokenAuth::Body)),
            (
                "KAKAO_CLIENT_SECRET",
                redact(self.oauth.kakao.as_ref().map(|c| &c.client_secret)),
            ),
            ("KAKAO_AUTH_BASE", self.oauth.kakao_auth_base.to_string()),
            ("KAKAO_API_BASE", self.oauth.kakao_api_base.to_string()),
            ("LOG_DIR", self.log.dir.display().to_string()),
            ("LOG_RETENTION", self.log.retention.to_string()),
            (
                "LOG_FORMAT",
                format!("{:?}", self.log.format).to_lowercase(),
            ),
            ("RUST_LOG", self.log.filter.clone()),
        ]
    }
}

fn parse_bool(raw: &str) -> Option<bool> {
    match raw.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Both halves of a provider's credentials, or neither; one alone is a mistake worth stopping for.
fn credentials(
    r: &mut Reader,
    [id_var, secret_var, auth_var]: [&'static str; 3],
    default_auth: TokenAuth,
) -> Option<ClientCredentials> {
    let auth = r.parse(auth_var, default_auth, "basic or body", TokenAuth::parse);
    match (r.get(id_var), r.get(secret_var)) {
        (Some(id), Some(secret)) => Some(ClientCredentials {
            client_id: id.to_owned(),
            client_secret: Secret::new(secret),
            auth,
        }),
        (None, None) => None,
        (Some(_), None) => {
            r.fail(secret_var, format!("is required when {id_var} is set"));
            None
        }
        (None, Some(_)) => {
            r.fail(id_var, format!("is required when {secret_var} is set"));
            None
        }
    }
}

fn display_host(host: IpAddr) -> String {
    match host {
        IpAddr::V6(v6) => format!("[{v6}]"),
        IpAddr::V4(v4) if v4.is_unspecified() => "127.0.0.1".into(),
        IpAddr::V4(v4) => v4.to_string(),
    }
}

fn http_url(raw: &str) -> Option<Url> {
    Url::parse(raw)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

/// An http(s) URL with nothing after the host and port (serenity appends `/api/v10/...` itself).
fn origin_url(raw: &str) -> Option<Url> {
    http_url(raw).filter(|u| {
        u.path() == "/" && u.query().is_none() && u.fragment().is_none() && !raw.ends_with("//")
    })
}

/// A CIDR range, or a single address taken as a one-address range.
fn parse_net(raw: &str) -> Option<IpNet> {
    raw.parse::<IpNet>()
        .ok()
        .or_else(|| raw.parse::<IpAddr>().ok().map(IpNet::from))
}
