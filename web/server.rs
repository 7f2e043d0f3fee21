//! The HTTP server: our own accept loop around warp's routes, so that we control graceful
//! shutdown (bounded) and can wrap every request in the cross-cutting concerns warp filters
//! handle poorly: request id, client address, trusted hosts, body limit, CORS, security
//! headers and the access log.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use http::header::{self, HeaderValue};
use http::{Request, StatusCode};
use http_body_util::Limited;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower_service::Service;
use tracing::Instrument;
use warp::reply::{Reply, Response};

use super::client_ip;
use super::context::RequestContext;
use super::cors::Cors;
use super::error::{ApiError, ErrorCode};
use super::route::{Lookup, Table};
use crate::config::HttpConfig;
use crate::telemetry::{ACCESS, mask_email};

/// What every request passes through before and after the routes.
struct Middleware<S> {
    http: HttpConfig,
    cors: Cors,
    web: Web<S>,
}

/// A route as the server calls it: a warp filter turned into a service.
pub trait RouteService:
    Service<Request<Limited<Incoming>>, Response = Response, Error = Infallible, Future: Send>
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> RouteService for S where
    S: Service<Request<Limited<Incoming>>, Response = Response, Error = Infallible, Future: Send>
        + Clone
        + Send
        + Sync
        + 'static
{
}

/// Serves `routes` on `listener` until `shutdown` fires, then lets requests in flight finish
/// for at most `HttpConfig::shutdown_timeout`. At most `max_connections` are served at once
/// (the rest wait in the listen queue); a client gets `header_timeout` to send its headers.
pub async fn serve<S: RouteService>(
    listener: TcpListener,
    web: Web<S>,
    http: HttpConfig,
    shutdown: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(http.max_connections));
    // HTTP/1 only: the header timeout and the connection cap bound HTTP/1 clients, and
    // HTTP/2 (which would multiplex past both) is the reverse proxy's business.
    let mut builder = auto::Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(http.header_timeout);
    let middleware = Arc::new(Middleware {
        cors: Cors::new(&http.cors_origins),
        web,
        http,
    });
    let graceful = GracefulShutdown::new();

    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            _ = shutdown.cancelled() => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(err) => {
                    // Usually too many open files: back off briefly instead of spinning.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let middleware = middleware.clone();
        let handler = hyper::service::service_fn(move |req| handle(middleware.clone(), peer, req));
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), handler)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(err) = conn.await {
                tracing::debug!(error = %err, "connection ended with an error");
            }
            drop(slot);
        });
    }

    drop(listener);
    let limit = middleware.http.shutdown_timeout;
    tracing::info!(
        open = graceful.count(),
        "web surface stopped accepting; finishing requests in flight"
    );
    if tokio::time::timeout(limit, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "requests still running after {}s; closing them",
            limit.as_secs()
        );
    }
}

/// The routes and their table, as `web::routes` assembles them.
pub struct Web<S> {
    pub table: Arc<Table>,
    /// One service per route, by the id the table's `lookup` gives.
    pub routes: Arc<Vec<S>>,
    /// For paths no route has.
    pub fallback: S,
    /// Where each answer is counted.
    pub metrics: Arc<crate::metrics::Metrics>,
}

async fn handle<S: RouteService>(
    middleware: Arc<Middleware<S>>,
    peer: SocketAddr,
    mut req: Request<Incoming>,
) -> Result<Response, Infallible> {
    let started = Instant::now();
    let ctx = RequestContext::new(
        request_id(req.headers()),
        client_ip::resolve(peer.ip(), req.headers(), &middleware.http.trusted_proxies),
    );
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let cors_origin = middleware.cors.allow(req.headers());
    req.extensions_mut().insert(ctx.clone());
    let span = tracing::info_span!(
        "request",
        request_id = %ctx.request_id,
        method = %method,
        path = %path
    );

    let (mut response, route) = middleware.route(req).instrument(span.clone()).await;
    middleware
        .web
        .metrics
        .request(route, &method, response.status().as_u16());

    let headers = response.headers_mut();
    add_session_cookies(headers, ctx.take_cookies());
    middleware.cors.decorate(cors_origin, headers);
    add_security_headers(headers);
    if path.starts_with("/api/") {
        // API answers carry tokens and personal data: never cache them.
        headers
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
    }
    if let Ok(value) = HeaderValue::from_str(&ctx.request_id) {
        headers.insert("x-request-id", value);
    }
    // Outside the span: the line carries the request id itself.
    log_access(&ctx, &method, &path, response.status(), started);
    Ok(response)
}

/// Adds the session's cookies, except those the response sets itself (a sign-out's cleared
/// cookies win over the renewal the same request made).
fn add_session_cookies(headers: &mut http::HeaderMap, cookies: Vec<String>) {
    let name = |c: &str| c.split_once('=').map(|(n, _)| n.trim().to_owned());
    let own: Vec<String> = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok().and_then(name))
        .collect();
    for cookie in cookies {
        if name(&cookie).is_some_and(|n| own.contains(&n)) {
            continue;
        }
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            headers.append(header::SET_COOKIE, value);
        }
    }
}

impl<S: RouteService> Middleware<S> {
    /// The request's answer and the route pattern it counts under: refused before routing,
    /// a preflight, a 405 from the table, or the matched route's (bounded by the request
    /// timeout).
    async fn route(&self, mut req: Request<Incoming>) -> (Response, &'static str) {
        if let Err(err) = self.check(&req) {
            return (err.into_response(), "refused");
        }
        if let Some(preflight) = self.cors.preflight(req.method(), req.headers()) {
            return (preflight, "preflight");
        }
        let (mut route, pattern) = match self.web.table.lookup(req.method(), req.uri().path()) {
            Lookup::Found(matched) => {
                let route = self.web.routes[matched.id].clone();
                let pattern = self.web.table.entries()[matched.id].pattern;
                req.extensions_mut().insert(matched);
                (route, pattern)
            }
            Lookup::WrongMethod(allowed) => return (method_not_allowed(&allowed), "unmatched"),
            Lookup::NotFound => (self.web.fallback.clone(), "unmatched"),
        };
        let limit = self.http.body_limit as usize;
        let call = route.call(req.map(|body| Limited::new(body, limit)));
        let response = match tokio::time::timeout(self.http.request_timeout, call).await {
            Ok(Ok(response)) => response,
            Ok(Err(never)) => match never {},
            Err(_) => {
                tracing::error!("the request ran past HTTP_REQUEST_TIMEOUT_SECS and was stopped");
                ApiError::new(
                    ErrorCode::RequestTimeout,
                    format!("no answer within {}s", self.http.request_timeout.as_secs()),
                )
                .into_response()
            }
        };
        (response, pattern)
    }

    /// Refusals that need no route: a host we do not serve, a body declared too large.
    fn check<B>(&self, req: &Request<B>) -> Result<(), ApiError> {
        // Probes from orchestrators use bare addresses; they are answered whatever the host.
        let probe = matches!(req.uri().path(), "/healthz" | "/readyz");
        if !probe && !self.host_allowed(req) {
            return Err(ApiError::new(
                ErrorCode::HostNotAllowed,
                "the Host header is not in ALLOWED_HOSTS",
            ));
        }
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > self.http.body_limit) {
            return Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("the body limit is {} bytes", self.http.body_limit),
            ));
        }
        Ok(())
    }

    fn host_allowed<B>(&self, req: &Request<B>) -> bool {
        if self.http.allowed_hosts.is_empty() {
            return true;
        }
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| req.uri().host())
            .unwrap_or_default();
        host_matches(&self.http.allowed_hosts, host)
    }
}

/// `host` (port ignored) equals an allowed name, or ends with one given as `*.suffix`.
pub fn host_matches(allowed: &[String], host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
    .to_ascii_lowercase();
    allowed
        .iter()
        .any(|pattern| match pattern.strip_prefix("*.") {
            Some(suffix) => name
                .strip_suffix(suffix)
                .is_some_and(|rest| rest.ends_with('.')),
            None => *pattern == name,
        })
}

/// The caller's request id when it is sane (1-128 of `[A-Za-z0-9._:-]`), else a new one.
pub fn request_id(headers: &http::HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|id| {
            (1..=128).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
        })
        .map(str::to_owned)
        .unwrap_or_else(new_request_id)
}

/// A new request id: a random prefix drawn once per process and a counter, 32 hex digits.
/// Unique without a random draw per request.
fn new_request_id() -> String {
    static PREFIX: std::sync::LazyLock<u64> = std::sync::LazyLock::new(|| {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).expect("the OS random source is available");
        u64::from_le_bytes(bytes)
    });
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{:016x}{n:016x}", *PREFIX)
}

/// 405 with the methods the path does accept (RFC 9110 15.5.6).
fn method_not_allowed(allowed: &[http::Method]) -> Response {
    let list = allowed
        .iter()
        .map(http::Method::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    let mut response =
        ApiError::new(ErrorCode::MethodNotAllowed, format!("allowed: {list}")).into_response();
    if let Ok(value) = HeaderValue::from_str(&list) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}

fn add_security_headers(headers: &mut http::HeaderMap) {
    let defaults = [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "strict-origin-when-cross-origin"),
        // Pages use no scripts at all; styles and images come from here (avatars: https).
        (
            "content-security-policy",
            "default-src 'self'; script-src 'none'; img-src 'self' https: data:; \
             object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
        ),
    ];
    for (name, value) in defaults {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
}

fn log_access(
    ctx: &RequestContext,
    method: &http::Method,
    path: &str,
    status: StatusCode,
    started: Instant,
) {
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let user = ctx.user.get();
    let user_id = user.map(|u| u.id);
    let email = user.map(|u| mask_email(&u.email));
    macro_rules! access {
        ($level:ident) => {
            tracing::$level!(
                target: ACCESS,
                request_id = %ctx.request_id,
                method = %method,
                path,
                status = status.as_u16(),
                latency_ms = (latency_ms * 100.0).round() / 100.0,
                client_ip = %ctx.client_ip,
                user_id,
                email,
                "request"
            )
        };
    }
    if status.is_server_error() {
        access!(error);
    } else {
        access!(info);
    }
}
