//! The benchmark: Herald beside a bare warp server, under the same load, on this machine.
//!
//! `cargo bench --bench load` builds Herald in release, starts a bare warp 0.4 hello-world
//! server and Herald (SQLite, logging at info to files, Redis for v2 nonces when one answers
//! on 127.0.0.1:6379) as processes of their own, drives each with the same closed-loop load
//! (32 keep-alive connections, a warm-up, then a measured run), and prints requests per
//! second, p50 and p99, and each figure's ratio to bare warp. Then the notification outbox:
//! intake of signed sends (each one committed before its 202) and e-mail delivery into a fast
//! local SMTP sink, on SQLite and, when MariaDB answers on 127.0.0.1:3306, on MariaDB. The
//! table is also written to `benches/results.md`. Speed targets live here, never in the tests.

#[path = "support/smtp_sink.rs"]
mod smtp_sink;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use herald::keys::signing::{self, V2Request};

const CONNECTIONS: usize = 32;
const WARM_UP: Duration = Duration::from_secs(3);
const MEASURE: Duration = Duration::from_secs(10);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(port) = args
        .iter()
        .position(|a| a == "--hello")
        .map(|i| &args[i + 1])
    {
        return hello_server(port.parse().expect("a port"));
    }
    // `cargo bench` passes `--bench`; `-- notifications` runs the notification rows alone.
    let only_notifications = args.iter().any(|a| a == "notifications");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let warp = Server::hello();
    let redis = redis_answers();
    let sink = smtp_sink::Sink::start();
    let sqlite_url = format!("sqlite://{}/bench.db", dir.path().display());
    let herald = Server::herald(dir.path(), &sqlite_url, redis, sink.port);
    let setup = Setup::new(herald.port);

    let mut rows = Vec::new();
    let bare = run(warp.port, &Scenario::Plain("/healthz".into()));
    rows.push((
        "bare warp, GET /healthz (hello world)".to_owned(),
        bare.clone(),
    ));
    let scenarios = [
        ("Herald GET /healthz", Scenario::Plain("/healthz".into())),
        (
            "Herald GET /api/v1/users/me (JWT)",
            Scenario::Bearer(setup.access.clone()),
        ),
        (
            "Herald GET /api/v1/services (v1 signed)",
            Scenario::V1(setup.key.clone(), setup.secret.clone()),
        ),
        (
            if redis {
                "Herald GET /api/v1/services (v2 signed, Redis nonces)"
            } else {
                "Herald GET /api/v1/services (v2 signed, database nonces)"
            },
            Scenario::V2(setup.key.clone(), setup.secret.clone()),
        ),
    ];
    for (name, scenario) in scenarios {
        if only_notifications {
            break;
        }
        rows.push((name.to_owned(), run(herald.port, &scenario)));
    }
    let mut deliveries = Vec::new();
    let intake = Scenario::Intake(setup.key.clone(), setup.secret.clone());
    rows.push((
        "Herald POST /api/v1/services/notifications (v1 signed, SQLite)".into(),
        run(herald.port, &intake),
    ));
    deliveries.push(("SQLite", deliver(herald.port, &setup, &sink)));
    drop(herald);
    if let Some(mariadb) = MariaDb::create() {
        let herald = Server::herald(dir.path(), &mariadb.url, redis, sink.port);
        let setup = Setup::new(herald.port);
        let intake = Scenario::Intake(setup.key.clone(), setup.secret.clone());
        rows.push((
            "Herald POST /api/v1/services/notifications (v1 signed, MariaDB)".into(),
            run(herald.port, &intake),
        ));
        deliveries.push(("MariaDB", deliver(herald.port, &setup, &sink)));
    }
    let bare_after = run(warp.port, &Scenario::Plain("/healthz".into()));
    // The baseline is the mean of the runs before and after, against drift of the machine.
    let baseline = (bare.rps + bare_after.rps) / 2.0;
    let mut table = report(&rows, baseline, redis);
    table.push_str(&delivery_report(&deliveries));
    print!("{table}");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/results.md");
    if !only_notifications {
        std::fs::write(path, &table).expect("benches/results.md is writable");
    }
    drop(warp);
}

fn report(rows: &[(String, Stats)], baseline: f64, redis: bool) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "# Benchmark\n\n{} cores, {CONNECTIONS} connections, {}s warm-up, {}s measured; Herald release build, SQLite unless a row says MariaDB, logs at info to files only (LOG_FORMAT=off){}.\n\n",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        WARM_UP.as_secs(),
        MEASURE.as_secs(),
        if redis { ", Redis for v2 nonces" } else { "" },
    ));
    out.push_str("| what | req/s | p50 ms | p99 ms | ratio to bare warp | errors |\n|---|---|---|---|---|---|\n");
    for (name, s) in rows {
        out.push_str(&format!(
            "| {name} | {:.0} | {:.2} | {:.2} | {:.2} | {} |\n",
            s.rps,
            s.p50_ms,
            s.p99_ms,
            s.rps / baseline,
            s.errors
        ));
    }
    out
}

/// A bare warp 0.4 server: hello world on every path.
fn hello_server(port: u16) {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async move {
        use warp::Filter;
        let routes = warp::any().map(|| "Hello, World!");
        warp::serve(routes).run(([127, 0, 0, 1], port)).await;
    });
}

/// A server process, stopped when dropped.
struct Server {
    port: u16,
    child: Child,
}

impl Server {
    fn hello() -> Self {
        let port = free_port();
        let child = Command::new(std::env::current_exe().expect("this binary"))
            .args(["--hello", &port.to_string()])
            .stdout(Stdio::null())
            .spawn()
            .expect("the hello server starts");
        Self::ready(port, child)
    }

    fn herald(dir: &std::path::Path, db_url: &str, redis: bool, smtp_port: u16) -> Self {
        let port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_herald"));
        command
            .env_clear()
            .env("HERALD_PORT", port.to_string())
            .env("DATABASE_URL", db_url)
            .env("SMTP_URL", format!("smtp://127.0.0.1:{smtp_port}"))
            .env("NOTIFY_POLL_MS", "200")
            .env(
                "SECRET_KEY",
                "bench-secret-key-that-is-long-enough-0123456789",
            )
            .env("LOG_DIR", dir.join("logs"))
            .env("RUST_LOG", "info")
            .env("LOG_FORMAT", "off")
            .env("HERALD_ENV", "production")
            .env("HERALD_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if redis {
            command
                .env("REDIS_URL", "redis://127.0.0.1:6379/")
                .env("REDIS_NAMESPACE", format!("bench-{port}"));
        }
        let child = command.spawn().expect("herald starts");
        Self::ready(port, child)
    }

    fn ready(port: u16, child: Child) -> Self {
        let server = Self { port, child };
        for _ in 0..200 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the server on port {port} did not come up");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn redis_answers() -> bool {
    let Ok(mut stream) = TcpStream::connect("127.0.0.1:6379") else {
        return false;
    };
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n"
}

/// A user, a bearer token and an API key on the Herald under test.
struct Setup {
    access: String,
    key: String,
    secret: String,
}

impl Setup {
    fn new(port: u16) -> Self {
        let mut conn = Connection::open(port);
        let register = br#"{"email":"bench@example.com","password":"a benchmark password"}"#;
        let (status, body) = conn.send(
            "POST",
            "/api/v1/auth/register",
            &[("content-type", "application/json")],
            register,
        );
        assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
        let tokens: serde_json::Value = serde_json::from_slice(&body).expect("tokens");
        let access = tokens["access_token"].as_str().expect("a token").to_owned();
        let bearer = format!("Bearer {access}");
        let (status, body) = conn.send(
            "POST",
            "/api/v1/users/apikeys",
            &[
                ("content-type", "application/json"),
                ("authorization", &bearer),
            ],
            br#"{"user_memo":"bench"}"#,
        );
        assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
        let key: serde_json::Value = serde_json::from_slice(&body).expect("a key");
        Self {
            access,
            key: key["access_key"].as_str().expect("access key").to_owned(),
            secret: key["secret_key"].as_str().expect("secret").to_owned(),
        }
    }
}

#[derive(Clone)]
enum Scenario {
    Plain(String),
    Bearer(String),
    V1(String, String),
    V2(String, String),
    /// A v1-signed send of one e-mail, scheduled an hour ahead so the workers stay idle and
    /// the figure is the intake's alone (delivery is measured on its own).
    Intake(String, String),
}

/// One request of a scenario, and the status that counts as a success.
struct Req {
    method: &'static str,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    ok: u16,
}

impl Req {
    fn get(path: String, headers: Vec<(String, String)>) -> Self {
        Self {
            method: "GET",
            path,
            headers,
            body: Vec::new(),
            ok: 200,
        }
    }
}

impl Scenario {
    /// The request to send as the `seq`-th of connection `conn` (v2 needs a nonce of its own).
    fn request(&self, conn: usize, seq: u64) -> Req {
        match self {
            Scenario::Plain(path) => Req::get(path.clone(), Vec::new()),
            Scenario::Bearer(token) => Req::get(
                "/api/v1/users/me".into(),
                vec![("authorization".into(), format!("Bearer {token}"))],
            ),
            Scenario::V1(key, secret) => {
                let query = signing::v1_query(key, herald::db::now_unix());
                let signature = signing::v1_signature(secret, &query);
                Req::get(
                    format!("/api/v1/services?{query}"),
                    vec![("secret".into(), signature)],
                )
            }
            Scenario::Intake(key, secret) => {
                let query = signing::v1_query(key, herald::db::now_unix());
                let signature = signing::v1_signature(secret, &query);
                let body = format!(
                    r#"{{"channel":"email","to":["r{conn}.{seq}@example.com"],"subject":"s","text":"t","delay":"1h"}}"#
                );
                Req {
                    method: "POST",
                    path: format!("/api/v1/services/notifications?{query}"),
                    headers: vec![
                        ("secret".into(), signature),
                        ("content-type".into(), "application/json".into()),
                    ],
                    body: body.into_bytes(),
                    ok: 202,
                }
            }
            Scenario::V2(key, secret) => {
                let timestamp = herald::db::now_unix().to_string();
                let nonce = format!("bench{conn:04}n{seq:016}");
                let request = V2Request {
                    method: "GET",
                    path: "/api/v1/services",
                    query: "",
                    body: b"",
                    timestamp: &timestamp,
                    nonce: &nonce,
                };
                let signature = signing::v2_signature(secret, &request);
                Req::get(
                    "/api/v1/services".into(),
                    vec![
                        ("herald-key".into(), key.clone()),
                        ("herald-timestamp".into(), timestamp),
                        ("herald-nonce".into(), nonce),
                        ("herald-signature".into(), signature),
                    ],
                )
            }
        }
    }
}

#[derive(Clone, Debug)]
struct Stats {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

/// Closed-loop load: each connection sends its next request as soon as the last one is
/// answered. Latencies of the measured part only.
fn run(port: u16, scenario: &Scenario) -> Stats {
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..CONNECTIONS)
        .map(|conn| {
            let (scenario, measuring, stop, errors) = (
                scenario.clone(),
                measuring.clone(),
                stop.clone(),
                errors.clone(),
            );
            std::thread::spawn(move || {
                let mut connection = Connection::open(port);
                let mut latencies = Vec::with_capacity(100_000);
                let mut seq = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let req = scenario.request(conn, seq);
                    seq += 1;
                    let headers: Vec<(&str, &str)> = req
                        .headers
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect();
                    let started = Instant::now();
                    let (status, _) = connection.send(req.method, &req.path, &headers, &req.body);
                    let took = started.elapsed();
                    if measuring.load(Ordering::Relaxed) {
                        latencies.push(took.as_micros() as u32);
                        if status != req.ok {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                latencies
            })
        })
        .collect();
    std::thread::sleep(WARM_UP);
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    std::thread::sleep(MEASURE);
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut all: Vec<u32> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("a worker"))
        .collect();
    all.sort_unstable();
    let percentile = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    Stats {
        rps: all.len() as f64 / elapsed.as_secs_f64(),
        p50_ms: percentile(0.50),
        p99_ms: percentile(0.99),
        errors: errors.load(Ordering::Relaxed),
    }
}

/// A keep-alive HTTP/1.1 connection: just enough of a client to measure servers, not itself.
struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Connection {
    fn open(port: u16) -> Self {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("the server answers");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        Self {
            stream,
            buffer: Vec::with_capacity(16 * 1024),
        }
    }

    fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, Vec<u8>) {
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        let mut bytes = request.into_bytes();
        bytes.extend_from_slice(body);
        self.stream.write_all(&bytes).expect("the request is sent");
        self.read_response()
    }

    fn read_response(&mut self) -> (u16, Vec<u8>) {
        let head_end = loop {
            if let Some(end) = find(&self.buffer, b"\r\n\r\n") {
                break end + 4;
            }
            self.fill();
        };
        let head = String::from_utf8_lossy(&self.buffer[..head_end]).to_ascii_lowercase();
        let status: u16 = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("responses carry Content-Length");
        while self.buffer.len() < head_end + length {
            self.fill();
        }
        let body = self.buffer[head_end..head_end + length].to_vec();
        self.buffer.drain(..head_end + length);
        (status, body)
    }

    fn fill(&mut self) {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).expect("the server answers");
        assert!(n > 0, "the server closed the connection");
        self.buffer.extend_from_slice(&chunk[..n]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Messages the delivery benchmark sends: five sends of 1,000 recipients, all due at once.
const DELIVERIES: u64 = 5_000;

/// E-mail delivery into the sink: messages per second from the first to the last.
fn deliver(port: u16, setup: &Setup, sink: &smtp_sink::Sink) -> (u64, f64) {
    sink.reset();
    let mut conn = Connection::open(port);
    for batch in 0..DELIVERIES / 1000 {
        let to: Vec<String> = (0..1000)
            .map(|i| format!("d{batch}.{i}@example.com"))
            .collect();
        // Due in 10 s (the earliest a schedule allows): every delivery is due at once.
        let body = serde_json::json!({"channel": "email", "to": to, "subject": "Hello {{name}}",
            "text": "Delivery benchmark", "delay": "10s"})
        .to_string();
        let query = signing::v1_query(&setup.key, herald::db::now_unix());
        let signature = signing::v1_signature(&setup.secret, &query);
        let headers = [
            ("secret", signature.as_str()),
            ("content-type", "application/json"),
        ];
        let path = format!("/api/v1/services/notifications?{query}");
        let (status, answer) = conn.send("POST", &path, &headers, body.as_bytes());
        assert_eq!(status, 202, "{}", String::from_utf8_lossy(&answer));
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while sink.count() < DELIVERIES && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let (count, secs) = sink.span();
    (count, if secs > 0.0 { count as f64 / secs } else { 0.0 })
}

fn delivery_report(rows: &[(&str, (u64, f64))]) -> String {
    let mut out = String::from(
        "\n| e-mail delivery into a local SMTP sink | messages | messages/s |\n|---|---|---|\n",
    );
    for (backend, (count, rate)) in rows {
        out.push_str(&format!(
            "| {backend} | {count} of {DELIVERIES} | {rate:.0} |\n"
        ));
    }
    out
}

/// A database of its own on the local MariaDB, dropped at the end; none when it does not answer.
struct MariaDb {
    url: String,
    name: String,
}

impl MariaDb {
    const SERVER: &str = "mysql://root@127.0.0.1:3306";

    fn create() -> Option<Self> {
        TcpStream::connect("127.0.0.1:3306").ok()?;
        let name = format!("herald_bench_{}", std::process::id());
        Self::execute(&format!("CREATE DATABASE `{name}`"))?;
        Some(Self {
            url: format!("{}/{name}", Self::SERVER),
            name,
        })
    }

    fn execute(sql: &str) -> Option<()> {
        use sqlx::Connection as _;
        let runtime = tokio::runtime::Runtime::new().ok()?;
        runtime.block_on(async {
            let mut conn = sqlx::MySqlConnection::connect(Self::SERVER).await.ok()?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(&mut conn)
                .await
                .ok()
                .map(|_| ())
        })
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        Self::execute(&format!("DROP DATABASE IF EXISTS `{}`", self.name));
    }
}
