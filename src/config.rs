//! One typed configuration, read from the environment (after `.env`) and validated once at start.
//!
//! Each section reads its own variables next to its struct, through a `Reader` that records
//! every variable it reads with the value in effect (secrets redacted): that record is what
//! `herald check-config` prints and what the `.env.example` test checks, so neither can miss a
//! variable. `Config::from_map` takes the variables as a map so tests can vary them without
//! touching the process environment. Every problem names the variable and what it expects.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use url::Url;

use crate::crypto::Secret;

/// The real Discord; `DISCORD_API_BASE` overrides it (tests point it at a local fake).
pub const DISCORD_API_DEFAULT: &str = "https://discord.com";
/// Where Discord serves server icons; `DISCORD_CDN_BASE` overrides it.
pub const DISCORD_CDN_DEFAULT: &str = "https://cdn.discordapp.com";
pub const SECRET_KEY_MIN_LEN: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Development => "development",
            Self::Production => "production",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
    /// Nothing on standard output: the files are the log (saves formatting every line twice).
    Off,
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Text => "text",
            Self::Off => "off",
            Self::Json => "json",
        })
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
    pub redis: RedisConfig,
    pub keys: KeysConfig,
    pub notify: NotifyConfig,
    pub metrics: MetricsConfig,
    /// Every variable read, with the value in effect (secrets redacted), in reading order.
    described: Vec<(&'static str, String)>,
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
    /// Discord's CDN, for server icons on the dashboard.
    pub cdn_base: Url,
    /// How long the web surface waits for the bot before starting without it.
    pub ready_timeout: Duration,
    /// The first wait before the bot tries again after a failure; it doubles up to 5 minutes.
    pub retry_initial: Duration,
    /// The shards this process runs; `None` runs the single shard 0 of 1.
    pub shards: Option<ShardRange>,
    /// How long Discord's answers about a user (their servers, their roles) are trusted by the
    /// dashboard: at most a minute, so a user who lost a right is refused within it.
    pub user_cache: Duration,
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

impl fmt::Display for ShardRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}/{}", self.first, self.last, self.total)
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
    /// Where replies to notification e-mails go, when not to `from`.
    pub reply_to: Option<String>,
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
}

impl fmt::Display for TokenAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Basic => "basic",
            Self::Body => "body",
        })
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

/// Where instances share what must be shared (limits, replay protection); `None`: this
/// process's memory for limits and the database for nonces.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// `redis://[:password@]host:6379[/db]`; may carry a password.
    pub url: Option<Secret>,
    /// Every key Herald writes starts with this, so several deployments can share one Redis.
    pub namespace: String,
}

impl RedisConfig {
    fn read(r: &mut Reader) -> Self {
        let url = r.secret("REDIS_URL");
        if let Some(url) = &url
            && !Url::parse(url.expose()).is_ok_and(|u| matches!(u.scheme(), "redis" | "rediss"))
        {
            r.fail("REDIS_URL", "expected redis://[:password@]host[:port][/db]");
        }
        let namespace = r.value(
            "REDIS_NAMESPACE",
            "herald".to_owned(),
            "1 to 64 characters of A-Z a-z 0-9 - _",
            |v| {
                let ok = (1..=64).contains(&v.len())
                    && v.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                ok.then(|| v.to_owned())
            },
        );
        Self { url, namespace }
    }
}

/// API keys for programs.
#[derive(Debug, Clone)]
pub struct KeysConfig {
    /// Active keys a user may hold at once.
    pub per_user: u32,
}

impl KeysConfig {
    fn read(r: &mut Reader) -> Self {
        Self {
            per_user: r.value("API_KEYS_PER_USER", 3, "a number from 1 to 100", |v| {
                v.parse().ok().filter(|n| (1..=100).contains(n))
            }),
        }
    }
}

/// Who may read `/metrics`.
#[derive(Debug, Clone)]
pub struct MetricsConfig {
    /// `Authorization: Bearer <token>` on the main port.
    pub token: Option<Secret>,
    /// A separate address serving `/metrics` without a token (keep it private).
    pub addr: Option<std::net::SocketAddr>,
}

impl MetricsConfig {
    fn read(r: &mut Reader) -> Self {
        let token = r.secret("METRICS_TOKEN");
        if token.as_ref().is_some_and(|t| t.expose().len() < 16) {
            r.fail("METRICS_TOKEN", "at least 16 characters");
        }
        Self {
            token,
            addr: r.optional("METRICS_ADDR", "an address such as 127.0.0.1:9100", |v| {
                v.parse().ok()
            }),
        }
    }
}

/// The notification outbox and its workers.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    /// How often a worker looks for due deliveries that no local wake-up announced (another
    /// instance's, scheduled ones, retries).
    pub poll_interval: Duration,
    /// How long a claimed delivery stays with its worker before another may take it over.
    pub lease: Duration,
    /// Tries per delivery before it is dead.
    pub max_attempts: u32,
    /// The first retry's delay; each later one doubles, up to `backoff_max`, with jitter.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// How far ahead a notification may be scheduled.
    pub max_schedule: Duration,
    /// Sends in flight at once, per channel, per instance.
    pub email_concurrency: usize,
    pub discord_concurrency: usize,
    pub kakao_concurrency: usize,
    /// Recipients one call may name.
    pub max_recipients: usize,
    /// How long `send_by_gmail_sync` waits for the outcome before answering.
    pub sync_wait: Duration,
}

impl NotifyConfig {
    fn read(r: &mut Reader) -> Self {
        let concurrency = |r: &mut Reader, var, default| {
            r.value(var, default, "a number from 1 to 256", |v| {
                v.parse().ok().filter(|n| (1..=256).contains(n))
            })
        };
        Self {
            poll_interval: Duration::from_millis(r.value(
                "NOTIFY_POLL_MS",
                1000,
                "milliseconds from 50 to 60000",
                |v| v.parse().ok().filter(|n| (50..=60_000).contains(n)),
            )),
            lease: Duration::from_secs(r.value(
                "NOTIFY_LEASE_SECS",
                60,
                "seconds from 10 to 3600",
                |v| v.parse().ok().filter(|n| (10..=3600).contains(n)),
            )),
            max_attempts: r.value("NOTIFY_MAX_ATTEMPTS", 10, "a number from 1 to 50", |v| {
                v.parse().ok().filter(|n| (1..=50).contains(n))
            }),
            backoff_base: r.seconds("NOTIFY_BACKOFF_BASE_SECS", 15),
            backoff_max: r.seconds("NOTIFY_BACKOFF_MAX_SECS", 3600),
            max_schedule: Duration::from_secs(
                86_400
                    * r.value(
                        "NOTIFY_MAX_SCHEDULE_DAYS",
                        365,
                        "a number of days from 1 to 3650",
                        |v| v.parse().ok().filter(|n| (1..=3650).contains(n)),
                    ),
            ),
            email_concurrency: concurrency(r, "NOTIFY_EMAIL_CONCURRENCY", 16),
            discord_concurrency: concurrency(r, "NOTIFY_DISCORD_CONCURRENCY", 4),
            kakao_concurrency: concurrency(r, "NOTIFY_KAKAO_CONCURRENCY", 4),
            max_recipients: r.value(
                "NOTIFY_MAX_RECIPIENTS",
                1000,
                "a number from 1 to 10000",
                |v| v.parse().ok().filter(|n| (1..=10_000).contains(n)),
            ),
            sync_wait: r.seconds("NOTIFY_SYNC_WAIT_SECS", 30),
        }
    }
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
        redact_password(&self.url)
    }

    fn read(r: &mut Reader) -> Self {
        let url = r
            .value(
                "DATABASE_URL",
                "sqlite://data/herald.db".to_owned(),
                "a sqlite://, mysql:// or mariadb:// URL",
                |v| {
                    let known = ["sqlite:", "mysql://", "mariadb://"];
                    known
                        .iter()
                        .any(|p| v.starts_with(p))
                        .then(|| v.replacen("mariadb://", "mysql://", 1))
                },
            )
            .to_owned();
        r.redact("DATABASE_URL", redact_password(&url));
        Self {
            url,
            max_connections: r.value(
                "DATABASE_MAX_CONNECTIONS",
                10,
                "a number of connections from 1 to 1000",
                |v| v.parse().ok().filter(|n| (1..=1000).contains(n)),
            ),
        }
    }
}

fn redact_password(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("[redacted]"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

impl DiscordConfig {
    fn read(r: &mut Reader) -> Self {
        Self {
            token: r.secret("DISCORD_TOKEN"),
            dev_guild_id: r.optional(
                "DISCORD_DEV_GUILD_ID",
                "a Discord server id (a number)",
                |v| v.parse().ok(),
            ),
            api_base: r.value(
                "DISCORD_API_BASE",
                Url::parse(DISCORD_API_DEFAULT).expect("constant URL"),
                "scheme, host and optional port only, such as https://discord.com",
                origin_url,
            ),
            cdn_base: r.value(
                "DISCORD_CDN_BASE",
                Url::parse(DISCORD_CDN_DEFAULT).expect("constant URL"),
                "scheme, host and optional port only, such as https://cdn.discordapp.com",
                origin_url,
            ),
            ready_timeout: r.seconds("DISCORD_READY_TIMEOUT_SECS", 5),
            retry_initial: r
                .seconds("DISCORD_RETRY_SECS", 5)
                .max(Duration::from_secs(1)),
            shards: r.optional(
                "DISCORD_SHARDS",
                "FIRST-LAST/TOTAL with FIRST <= LAST < TOTAL, such as 0-3/8",
                ShardRange::parse,
            ),
            user_cache: r
                .seconds("DISCORD_USER_CACHE_SECS", 60)
                .min(Duration::from_secs(60)),
        }
    }
}

impl HttpConfig {
    fn read(r: &mut Reader) -> Self {
        let cors_origins = r.list("CORS_ORIGINS");
        for origin in &cors_origins {
            if origin != "*" && origin_url(origin).is_none() {
                r.fail(
                    "CORS_ORIGINS",
                    format!("expected origins such as https://app.example.com, got {origin:?}"),
                );
            }
        }
        let mut trusted_proxies = Vec::new();
        for item in r.list("TRUSTED_PROXIES") {
            match parse_net(&item) {
                Some(net) => trusted_proxies.push(net),
                None => r.fail(
                    "TRUSTED_PROXIES",
                    format!("expected IP addresses or CIDR ranges, got {item:?}"),
                ),
            }
        }
        Self {
            body_limit: r.value(
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
            cors_origins,
            trusted_proxies,
            shutdown_timeout: r.seconds("SHUTDOWN_TIMEOUT_SECS", 10),
            header_timeout: r
                .seconds("HTTP_HEADER_TIMEOUT_SECS", 10)
                .max(Duration::from_secs(1)),
            request_timeout: r
                .seconds("HTTP_REQUEST_TIMEOUT_SECS", 30)
                .max(Duration::from_secs(1)),
            max_connections: r.value(
                "HTTP_MAX_CONNECTIONS",
                1024,
                "a number of connections from 1",
                |v| v.parse().ok().filter(|n| *n >= 1),
            ),
        }
    }
}

impl LogConfig {
    fn read(r: &mut Reader, env: Environment) -> Self {
        let production = env == Environment::Production;
        let filter = r.value("RUST_LOG", "info".to_owned(), "a log filter", |v| {
            Some(v.to_owned())
        });
        if tracing_subscriber::EnvFilter::try_new(&filter).is_err() {
            r.fail(
                "RUST_LOG",
                "expected a filter such as `info` or `herald=debug,sqlx=warn`",
            );
        }
        Self {
            dir: PathBuf::from(r.value("LOG_DIR", "logs".to_owned(), "a directory", |v| {
                Some(v.to_owned())
            })),
            retention: r.value(
                "LOG_RETENTION",
                if production { 10 } else { 1 },
                "a number of daily files to keep, from 1",
                |v| v.parse().ok().filter(|n| *n >= 1),
            ),
            filter,
            format: r.value(
                "LOG_FORMAT",
                if production {
                    LogFormat::Json
                } else {
                    LogFormat::Text
                },
                "text, json or off",
                |v| match v {
                    "text" => Some(LogFormat::Text),
                    "json" => Some(LogFormat::Json),
                    "off" => Some(LogFormat::Off),
                    _ => None,
                },
            ),
        }
    }
}

impl AuthConfig {
    fn read(r: &mut Reader, public_url: &Url) -> Self {
        Self {
            access_ttl: Duration::from_secs(r.value(
                "ACCESS_TOKEN_TTL_SECS",
                900,
                "seconds from 60 to 86400",
                |v| v.parse().ok().filter(|n| (60..=86_400).contains(n)),
            )),
            refresh_ttl: Duration::from_secs(
                86_400
                    * r.value("REFRESH_TOKEN_TTL_DAYS", 30, "days from 1 to 365", |v| {
                        v.parse().ok().filter(|n| (1..=365).contains(n))
                    }),
            ),
            cookie_secure: r.value(
                "COOKIE_SECURE",
                public_url.scheme() == "https",
                "true or false",
                parse_bool,
            ),
        }
    }
}

impl MailConfig {
    fn read(r: &mut Reader) -> Self {
        let smtp_url = r.secret("SMTP_URL");
        let valid = |u: &Url| matches!(u.scheme(), "smtp" | "smtps") && u.host().is_some();
        if let Some(url) = &smtp_url
            && !Url::parse(url.expose()).is_ok_and(|u| valid(&u))
        {
            r.fail(
                "SMTP_URL",
                "expected smtp://[user:pass@]host[:port] or smtps://...",
            );
        }
        Self {
            smtp_url,
            from: r.value(
                "MAIL_FROM",
                "Herald <herald@localhost>".to_owned(),
                "a mailbox such as Herald <no-reply@example.com>",
                |v| v.contains('@').then(|| v.to_owned()),
            ),
            reply_to: r.optional(
                "MAIL_REPLY_TO",
                "a mailbox such as Support <help@example.com>",
                |v| v.contains('@').then(|| v.to_owned()),
            ),
        }
    }
}

impl OAuthConfig {
    fn read(r: &mut Reader) -> Self {
        let url = |r: &mut Reader, var: &'static str, default: &str| {
            r.value(
                var,
                Url::parse(default).expect("constant URL"),
                "an http(s) URL",
                http_url,
            )
        };
        Self {
            discord: credentials(r, "DISCORD", TokenAuth::Basic),
            google: credentials(r, "GOOGLE", TokenAuth::Basic),
            kakao: credentials(r, "KAKAO", TokenAuth::Body),
            google_authorize_url: url(
                r,
                "GOOGLE_AUTHORIZE_URL",
                "https://accounts.google.com/o/oauth2/v2/auth",
            ),
            google_token_url: url(r, "GOOGLE_TOKEN_URL", "https://oauth2.googleapis.com/token"),
            google_userinfo_url: url(
                r,
                "GOOGLE_USERINFO_URL",
                "https://openidconnect.googleapis.com/v1/userinfo",
            ),
            kakao_auth_base: url(r, "KAKAO_AUTH_BASE", "https://kauth.kakao.com"),
            kakao_api_base: url(r, "KAKAO_API_BASE", "https://kapi.kakao.com"),
        }
    }
}

/// A provider's `<P>_CLIENT_ID`, `<P>_CLIENT_SECRET` and `<P>_TOKEN_AUTH`: both halves of the
/// credentials or neither (one alone is a mistake worth stopping for).
fn credentials(
    r: &mut Reader,
    provider: &'static str,
    auth: TokenAuth,
) -> Option<ClientCredentials> {
    let [id_var, secret_var, auth_var] = match provider {
        "DISCORD" => [
            "DISCORD_CLIENT_ID",
            "DISCORD_CLIENT_SECRET",
            "DISCORD_TOKEN_AUTH",
        ],
        "GOOGLE" => [
            "GOOGLE_CLIENT_ID",
            "GOOGLE_CLIENT_SECRET",
            "GOOGLE_TOKEN_AUTH",
        ],
        _ => ["KAKAO_CLIENT_ID", "KAKAO_CLIENT_SECRET", "KAKAO_TOKEN_AUTH"],
    };
    let id = r.optional(id_var, "a client id", |v| Some(v.to_owned()));
    let secret = r.secret(secret_var);
    let auth = r.value(auth_var, auth, "basic or body", TokenAuth::parse);
    match (id, secret) {
        (Some(client_id), Some(client_secret)) => Some(ClientCredentials {
            client_id,
            client_secret,
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

/// Reads variables, collecting every problem instead of stopping at the first, and recording
/// each variable with the value in effect.
pub struct Reader<'a> {
    vars: &'a HashMap<String, String>,
    issues: Vec<ConfigIssue>,
    described: Vec<(&'static str, String)>,
}

impl<'a> Reader<'a> {
    fn new(vars: &'a HashMap<String, String>) -> Self {
        Self {
            vars,
            issues: Vec::new(),
            described: Vec::new(),
        }
    }

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

    fn record(&mut self, var: &'static str, shown: String) {
        match self.described.iter_mut().find(|(v, _)| *v == var) {
            Some(entry) => entry.1 = shown,
            None => self.described.push((var, shown)),
        }
    }

    /// Replaces what `check-config` shows for `var` (a URL with its password hidden).
    fn redact(&mut self, var: &'static str, shown: String) {
        self.record(var, shown);
    }

    /// `var` parsed by `parse`, or `default` when unset; a bad value is recorded with
    /// `expected`.
    pub fn value<T: fmt::Display>(
        &mut self,
        var: &'static str,
        default: T,
        expected: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> T {
        let value = match self.get(var) {
            None => default,
            Some(raw) => parse(raw).unwrap_or_else(|| {
                self.fail(var, format!("expected {expected}, got {raw:?}"));
                default
            }),
        };
        self.record(var, value.to_string());
        value
    }

    /// `var` parsed by `parse`, or `None` when unset.
    pub fn optional<T: fmt::Display>(
        &mut self,
        var: &'static str,
        expected: &str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Option<T> {
        let value = self.get(var).and_then(|raw| {
            let parsed = parse(raw);
            if parsed.is_none() {
                self.fail(var, format!("expected {expected}, got {raw:?}"));
            }
            parsed
        });
        let shown = value
            .as_ref()
            .map_or("(not set)".to_owned(), ToString::to_string);
        self.record(var, shown);
        value
    }

    /// A secret: shown as `[redacted]` when set.
    pub fn secret(&mut self, var: &'static str) -> Option<Secret> {
        let value = self.get(var).map(Secret::new);
        let shown = if value.is_some() {
            "[redacted]"
        } else {
            "(not set)"
        };
        self.record(var, shown.to_owned());
        value
    }

    /// Whole seconds.
    pub fn seconds(&mut self, var: &'static str, default: u64) -> Duration {
        let secs = self.value(var, default, "a whole number of seconds", |v| {
            v.parse().ok()
        });
        Duration::from_secs(secs)
    }

    /// A comma-separated list.
    pub fn list(&mut self, var: &'static str) -> Vec<String> {
        let items: Vec<String> = self
            .get(var)
            .map(|raw| {
                raw.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        let shown = if items.is_empty() {
            "(none)".to_owned()
        } else {
            items.join(",")
        };
        self.record(var, shown);
        items
    }
}

impl Config {
    /// Reads the process environment (call `dotenvy::dotenv()` first to honour `.env`).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_map(&std::env::vars().collect())
    }

    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let mut r = Reader::new(vars);
        let env = r.value(
            "HERALD_ENV",
            Environment::Development,
            "development or production",
            |v| match v.to_ascii_lowercase().as_str() {
                "development" | "dev" => Some(Environment::Development),
                "production" | "prod" => Some(Environment::Production),
                _ => None,
            },
        );
        let host = r.value(
            "HERALD_HOST",
            IpAddr::from([127, 0, 0, 1]),
            "an IP address such as 127.0.0.1 or 0.0.0.0",
            |v| v.parse().ok(),
        );
        // HERALD_PORT wins; PORT is what hosting platforms set.
        let platform_port = r.optional("PORT", "a port number 0-65535", |v| v.parse::<u16>().ok());
        let port = r.value(
            "HERALD_PORT",
            platform_port.unwrap_or(8000),
            "a port number 0-65535",
            |v| v.parse().ok(),
        );
        let default_public = format!("http://{}:{port}", display_host(host));
        let public_url = r.value(
            "HERALD_PUBLIC_URL",
            Url::parse(&default_public).expect("built from an IP and a port"),
            "an http(s) URL such as https://herald.example.com",
            http_url,
        );
        let database = DatabaseConfig::read(&mut r);
        let (secret_key, secret_key_ephemeral) = read_secret_key(&mut r, env);
        let config = Self {
            discord: DiscordConfig::read(&mut r),
            http: HttpConfig::read(&mut r),
            log: LogConfig::read(&mut r, env),
            auth: AuthConfig::read(&mut r, &public_url),
            mail: MailConfig::read(&mut r),
            oauth: OAuthConfig::read(&mut r),
            redis: RedisConfig::read(&mut r),
            keys: KeysConfig::read(&mut r),
            notify: NotifyConfig::read(&mut r),
            metrics: MetricsConfig::read(&mut r),
            env,
            host,
            port,
            public_url,
            database,
            secret_key,
            secret_key_ephemeral,
            described: Vec::new(),
        };
        if !r.issues.is_empty() {
            return Err(ConfigError(r.issues));
        }
        Ok(Self {
            described: r.described,
            ..config
        })
    }

    pub fn is_production(&self) -> bool {
        self.env == Environment::Production
    }

    /// Every variable Herald read, with the value in effect (secrets redacted).
    pub fn describe(&self) -> &[(&'static str, String)] {
        &self.described
    }
}

/// SECRET_KEY: required in production; in development an ephemeral one when unset.
fn read_secret_key(r: &mut Reader, env: Environment) -> (Secret, bool) {
    let key = r.secret("SECRET_KEY");
    match key {
        Some(key) if key.expose().len() >= SECRET_KEY_MIN_LEN => (key, false),
        Some(_) => {
            r.fail(
                "SECRET_KEY",
                format!(
                    "expected at least {SECRET_KEY_MIN_LEN} characters (try `openssl rand -base64 48`)"
                ),
            );
            (Secret::new(""), false)
        }
        None if env == Environment::Production => {
            r.fail(
                "SECRET_KEY",
                "is required when HERALD_ENV=production (at least 32 random characters)",
            );
            (Secret::new(""), false)
        }
        None => {
            r.record(
                "SECRET_KEY",
                "(not set: an ephemeral key, sessions end when Herald restarts)".to_owned(),
            );
            (Secret::new(crate::crypto::random_token(48)), true)
        }
    }
}

fn parse_bool(raw: &str) -> Option<bool> {
    match raw.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
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
