//! The SMTP connection: kept open between messages, with `TCP_NODELAY` set.
//!
//! Why not lettre's pooled transport alone: lettre 0.11.23 leaves Nagle's algorithm on and
//! writes a message's body and its closing `.` in two writes; the second waits for the
//! server's delayed ACK (40 ms on Linux) on every message, which caps a connection at about
//! 25 messages a second (lettre PR #1159 fixes it upstream; no release has it yet). For
//! `smtp://` (plain or STARTTLS) Herald opens the TCP connection itself, sets `TCP_NODELAY`,
//! and hands it to lettre's own SMTP connection for EHLO, STARTTLS, AUTH and the message.
//! Implicit TLS (`smtps://`) stays on lettre's transport, so its TLS set-up stays lettre's.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::{PoolConfig, SMTP_PORT, SUBMISSION_PORT};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::net::TcpStream;

use super::MailError;

/// A connection idle this long is checked with NOOP before it is used again.
const CHECK_AFTER: Duration = Duration::from_secs(5);
/// A connection idle this long is closed (servers drop idle clients after a few minutes).
const CLOSE_AFTER: Duration = Duration::from_secs(50);

pub enum Smtp {
    Pooled(Pool),
    /// `smtps://`: lettre's own pooled transport.
    Lettre(AsyncSmtpTransport<Tokio1Executor>),
}

impl Smtp {
    /// From `SMTP_URL`, keeping up to `connections` open. The error never quotes the URL
    /// (it may hold a password).
    pub fn from_url(url: &str, connections: usize, timeout: Duration) -> Result<Self, MailError> {
        let invalid = || MailError::Config("SMTP_URL could not be parsed".into());
        let parsed = url::Url::parse(url).map_err(|_| invalid())?;
        if parsed.scheme() == "smtps" {
            let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                .map_err(|_| invalid())?
                .timeout(Some(timeout))
                .pool_config(PoolConfig::new().max_size(connections as u32))
                .build();
            return Ok(Self::Lettre(transport));
        }
        Pool::from_url(&parsed, connections, timeout).map(Self::Pooled)
    }

    pub async fn send(&self, message: Message) -> Result<(), MailError> {
        match self {
            Self::Pooled(pool) => pool.send(&message).await,
            Self::Lettre(transport) => transport
                .send(message)
                .await
                .map(drop)
                .map_err(MailError::from_smtp),
        }
    }
}

/// STARTTLS: whether the server must offer it, and how to check its certificate.
enum StartTls {
    Required(TlsParameters),
    Opportunistic(TlsParameters),
}

pub struct Pool {
    host: String,
    port: u16,
    tls: Option<StartTls>,
    credentials: Option<Credentials>,
    hello: ClientId,
    timeout: Duration,
    /// Idle connections, the most recently used last.
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
    connections: usize,
}

impl Pool {
    /// The same URL forms as lettre's: `smtp://user:pass@host:port/hello-name?tls=required`.
    fn from_url(url: &url::Url, connections: usize, timeout: Duration) -> Result<Self, MailError> {
        let invalid = |what: &str| MailError::Config(format!("SMTP_URL: {what}"));
        if url.scheme() != "smtp" {
            return Err(invalid("the scheme is smtp or smtps"));
        }
        let host = url.host_str().ok_or_else(|| invalid("no host"))?.to_owned();
        let tls_mode = url.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v);
        let params = || TlsParameters::new(host.clone()).map_err(|_| invalid("TLS set-up failed"));
        let (tls, default_port) = match tls_mode.as_deref() {
            None => (None, SMTP_PORT),
            Some("required") => (Some(StartTls::Required(params()?)), SUBMISSION_PORT),
            Some("opportunistic") => (Some(StartTls::Opportunistic(params()?)), SUBMISSION_PORT),
            Some(_) => return Err(invalid("tls is required or opportunistic")),
        };
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| invalid("the user name or password is not UTF-8"))
        };
        let credentials = match url.password() {
            Some(password) => Some(Credentials::new(decode(url.username())?, decode(password)?)),
            None => None,
        };
        let hello = match url.path().trim_matches('/') {
            "" => ClientId::default(),
            name => ClientId::Domain(name.to_owned()),
        };
        Ok(Self {
            port: url.port().unwrap_or(default_port),
            host,
            tls,
            credentials,
            hello,
            timeout,
            idle: Mutex::new(Vec::new()),
            connections,
        })
    }

    async fn send(&self, message: &Message) -> Result<(), MailError> {
        let within = |e| timeout_error(e, self.timeout);
        let mut conn = match self.reuse().await {
            Some(conn) => conn,
            None => tokio::time::timeout(self.timeout, self.connect())
                .await
                .map_err(within)??,
        };
        let raw = message.formatted();
        let sent = tokio::time::timeout(self.timeout, conn.send(message.envelope(), &raw)).await;
        // A connection that failed mid-message, or timed out, is not used again.
        if sent.is_ok() && !conn.has_broken() {
            self.park(conn);
        }
        sent.map_err(within)?
            .map(drop)
            .map_err(MailError::from_smtp)
    }

    /// An idle connection that still answers, if there is one.
    async fn reuse(&self) -> Option<AsyncSmtpConnection> {
        loop {
            let (mut conn, since) = self.idle.lock().expect("smtp pool lock").pop()?;
            let idle = since.elapsed();
            if idle < CHECK_AFTER {
                return Some(conn);
            }
            if idle < CLOSE_AFTER && conn.test_connected().await {
                return Some(conn);
            }
            conn.abort().await;
        }
    }

    fn park(&self, conn: AsyncSmtpConnection) {
        let mut idle = self.idle.lock().expect("smtp pool lock");
        // More than the outbox runs at once: the surplus is dropped (closing its socket).
        if idle.len() < self.connections {
            idle.push((conn, Instant::now()));
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, MailError> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| transient(format!("cannot connect to the SMTP server: {e}")))?;
        // The reason this module exists (see above).
        tcp.set_nodelay(true)
            .map_err(|e| transient(format!("TCP_NODELAY: {e}")))?;
        let mut conn = AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello)
            .await
            .map_err(MailError::from_smtp)?;
        match &self.tls {
            Some(StartTls::Required(params)) => conn.starttls(params.clone(), &self.hello).await,
            Some(StartTls::Opportunistic(params)) if conn.can_starttls() => {
                conn.starttls(params.clone(), &self.hello).await
            }
            _ => Ok(()),
        }
        .map_err(MailError::from_smtp)?;
        if let Some(credentials) = &self.credentials {
            conn.auth(DEFAULT_MECHANISMS, credentials)
                .await
                .map_err(MailError::from_smtp)?;
        }
        Ok(conn)
    }
}

fn transient(text: String) -> MailError {
    MailError::Send {
        text,
        permanent: false,
    }
}

fn timeout_error(_: tokio::time::error::Elapsed, limit: Duration) -> MailError {
    transient(format!(
        "the SMTP server did not answer within {}s",
        limit.as_secs()
    ))
}
