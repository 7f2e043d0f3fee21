//! `spawn_app`: the whole of Herald on port 0 with a fresh database (a temp SQLite file, or a
//! MariaDB database created for the test and dropped after), optionally talking to a fake
//! Discord; plus a captured log so tests can read what Herald wrote.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use herald::app::Herald;
use herald::config::Config;
use herald::state::AppState;
use sqlx::Connection;

use crate::fake_discord::FakeDiscord;

/// Polls `probe` every 20 ms until it gives `Some`, for at most 15 seconds; past that the test
/// fails, naming `what` it waited for. The one way tests wait for something to happen.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Lets tests speak for any client address through `X-Forwarded-For`.
pub const TRUST_LOCAL_PROXY: (&str, &str) = ("TRUSTED_PROXIES", "127.0.0.1");

/// Which database a test runs on. `db_tests!` runs a test on each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    MySql,
}

impl Backend {
    /// The MariaDB server to create test databases on. The MySQL variants are compiled to run
    /// only when `HERALD_TEST_MYSQL_URL` was set for the build (see build.rs), so reaching this
    /// without it is a broken setup, not a reason to skip.
    pub fn mysql_url() -> String {
        std::env::var("HERALD_TEST_MYSQL_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())
            .map(|u| u.trim_end_matches('/').to_owned())
            .expect("HERALD_TEST_MYSQL_URL is set (the MySQL tests were built with it)")
    }
}

/// For each `async fn name(backend: Backend)`, defines `mod name { sqlite; mysql }`: the test on
/// SQLite, and on MySQL/MariaDB. Without `HERALD_TEST_MYSQL_URL` at build time the MySQL
/// variant is reported as ignored, never as passed.
#[macro_export]
macro_rules! db_tests {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(
                not(herald_test_mysql),
                ignore = "set HERALD_TEST_MYSQL_URL to run it on MySQL/MariaDB"
            )]
            async fn mysql() {
                super::$name($crate::helpers::Backend::MySql).await
            }
        }
    )+};
}

/// Where limits and nonces live in a test: this process (and the database), or Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Local,
    Redis,
}

impl Store {
    /// The variables that put an app on this store: Redis in a namespace of this test's own
    /// (apps that must share state are given the same `namespace`).
    pub fn env(self, namespace: &str) -> Vec<(String, String)> {
        match self {
            Store::Local => Vec::new(),
            Store::Redis => {
                let url = std::env::var("HERALD_TEST_REDIS_URL")
                    .expect("HERALD_TEST_REDIS_URL is set (the Redis tests were built with it)");
                vec![
                    ("REDIS_URL".into(), url),
                    ("REDIS_NAMESPACE".into(), format!("test-{namespace}")),
                ]
            }
        }
    }
}

/// For each `async fn name(backend: Backend, store: Store)`, defines `mod name { sqlite; mysql;
/// redis }`: on each database with local limits and database nonces, and on SQLite with Redis
/// (reported as ignored unless `HERALD_TEST_REDIS_URL` was set for the build).
#[macro_export]
macro_rules! store_tests {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            use $crate::helpers::{Backend, Store};

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(Backend::Sqlite, Store::Local).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(
                not(herald_test_mysql),
                ignore = "set HERALD_TEST_MYSQL_URL to run it on MySQL/MariaDB"
            )]
            async fn mysql() {
                super::$name(Backend::MySql, Store::Local).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(
                not(herald_test_redis),
                ignore = "set HERALD_TEST_REDIS_URL to run it with Redis"
            )]
            async fn redis() {
                super::$name(Backend::Sqlite, Store::Redis).await
            }
        }
    )+};
}

/// A database that exists for one test.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    mysql_name: Option<String>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}/herald.db", dir.path().display());
                Self {
                    url,
                    _dir: Some(dir),
                    mysql_name: None,
                }
            }
            Backend::MySql => {
                let server = Backend::mysql_url();
                let name = format!("herald_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = sqlx::MySqlConnection::connect(&server).await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE `{name}`")))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                Self {
                    url: format!("{server}/{name}"),
                    _dir: None,
                    mysql_name: Some(name),
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.mysql_name.take() else {
            return;
        };
        let server = Backend::mysql_url();
        // Drop runs outside async: use a small runtime on its own thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut conn) = sqlx::MySqlConnection::connect(&server).await {
                    let sql = format!("DROP DATABASE IF EXISTS `{name}`");
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

/// The variables every test app starts with; tests add or override more.
pub fn base_env(db_url: &str) -> HashMap<String, String> {
    [
        ("DATABASE_URL", db_url),
        ("HERALD_PORT", "0"),
        (
            "SECRET_KEY",
            "test-secret-key-that-is-long-enough-0123456789",
        ),
        ("DISCORD_READY_TIMEOUT_SECS", "2"),
        ("DISCORD_RETRY_SECS", "1"),
        ("SHUTDOWN_TIMEOUT_SECS", "5"),
        ("DATABASE_MAX_CONNECTIONS", "5"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// A token pair as the API answers it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: String,
    pub expires_in: i64,
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub discord: Option<FakeDiscord>,
    herald: Option<Herald>,
    /// The database, for the app that made it (a twin shares it and does not own it).
    db: Option<TestDb>,
    db_url: String,
    env: Vec<(String, String)>,
}

/// Starts Herald on `backend` without a bot.
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, None, &[]).await
}

/// Starts Herald with a bot talking to `discord` (when given) and extra variables.
pub async fn spawn_app_with(
    backend: Backend,
    discord: Option<FakeDiscord>,
    env: &[(&str, &str)],
) -> TestApp {
    capture_logs();
    let db = TestDb::new(backend).await;
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let mut app = start_on(db.url.clone(), discord, env).await;
    app.db = Some(db);
    app
}

/// Herald on an existing database.
async fn start_on(
    db_url: String,
    discord: Option<FakeDiscord>,
    env: Vec<(String, String)>,
) -> TestApp {
    let mut vars = base_env(&db_url);
    if let Some(discord) = &discord {
        vars.insert("DISCORD_TOKEN".into(), "fake-bot-token".into());
        vars.insert("DISCORD_API_BASE".into(), discord.base_url());
    }
    for (k, v) in &env {
        vars.insert(k.clone(), v.clone());
    }
    let config = Config::from_map(&vars).expect("test configuration is valid");
    let herald = herald::app::start(config).await.expect("herald starts");
    TestApp {
        base: format!("http://{}", herald.addr),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        state: herald.state.clone(),
        discord,
        herald: Some(herald),
        db: None,
        db_url,
        env,
    }
}

/// Herald on `backend` with the limits and nonces of `store`, in a Redis namespace of its own.
pub async fn spawn_app_on_store(backend: Backend, store: Store, env: &[(&str, &str)]) -> TestApp {
    let namespace = uuid::Uuid::new_v4().simple().to_string();
    let mut all: Vec<(String, String)> = store.env(&namespace);
    all.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let borrowed: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    spawn_app_with(backend, None, &borrowed).await
}

impl TestApp {
    /// A second Herald instance on the same database, with the same variables (Redis
    /// namespace included): what two instances behind one load balancer share.
    pub async fn twin(&self) -> TestApp {
        let mut env = self.env.clone();
        // One public URL for both, as behind one load balancer (tokens name it as issuer).
        let public = self.state.config().public_url.to_string();
        env.push(("HERALD_PUBLIC_URL".into(), public));
        start_on(self.db_url.clone(), None, env).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    pub fn discord(&self) -> &FakeDiscord {
        self.discord
            .as_ref()
            .expect("the app was spawned with a fake Discord")
    }

    /// Stops Herald as SIGTERM would and waits for it.
    /// Herald stopped, then started again on the same database and the same fake Discord.
    pub async fn restarted(mut self) -> TestApp {
        self.shutdown().await;
        let mut next = start_on(self.db_url.clone(), self.discord.clone(), self.env.clone()).await;
        next.db = self.db.take();
        next
    }

    pub async fn shutdown(&mut self) {
        if let Some(herald) = self.herald.take() {
            herald.shutdown();
            herald.stopped().await;
        }
    }

    /// Waits until `/readyz` reports the bot in `state`, returning the body.
    pub async fn wait_for_bot(&self, state: &str) -> serde_json::Value {
        eventually(&format!("the bot to be {state}"), || async {
            let (_, body) = self.get_json("/readyz").await;
            (body["bot"]["state"] == state).then_some(body)
        })
        .await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(herald) = &self.herald {
            herald.shutdown();
        }
    }
}

/// Everything Herald logs in this test binary, as JSON lines.
static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = Capture(buffer.clone());
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_env_filter("info,herald=debug")
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one global logger");
        buffer
    });
}

/// Captured log lines (all tests in this binary share them: filter by something unique).
pub fn log_lines() -> Vec<serde_json::Value> {
    let buffer = LOGS.get().expect("logs are captured").lock().unwrap();
    String::from_utf8_lossy(&buffer)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

impl TestApp {
    /// POSTs JSON, with a bearer token when given; returns the status and the JSON body.
    pub async fn post_json(
        &self,
        path: &str,
        body: &serde_json::Value,
        bearer: Option<&str>,
    ) -> (u16, serde_json::Value) {
        self.send_json(reqwest::Method::POST, path, Some(body), bearer)
            .await
    }

    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
        bearer: Option<&str>,
    ) -> (u16, serde_json::Value) {
        let mut request = self.client.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }

    /// POSTs JSON as if from `ip`: the app must trust 127.0.0.1 as a proxy (`TRUST_LOCAL_PROXY`).
    pub async fn post_json_from(
        &self,
        ip: &str,
        path: &str,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let response = self
            .client
            .post(self.url(path))
            .header("x-forwarded-for", ip)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }

    /// Registers through the API and returns the tokens.
    pub async fn register(&self, email: &str, password: &str) -> Tokens {
        let body = serde_json::json!({"email": email, "password": password});
        let (status, tokens) = self.post_json("/api/v1/auth/register", &body, None).await;
        assert_eq!(status, 201, "{tokens}");
        serde_json::from_value(tokens).unwrap()
    }

    /// Signs in through the API, which must succeed.
    pub async fn login(&self, email: &str, password: &str) -> Tokens {
        let (status, tokens) = self.try_login(email, password).await;
        assert_eq!(status, 200, "{tokens}");
        serde_json::from_value(tokens).unwrap()
    }

    /// Tries to sign in: the status and the body, whatever they are.
    pub async fn try_login(&self, email: &str, password: &str) -> (u16, serde_json::Value) {
        let body = serde_json::json!({"email": email, "password": password});
        self.post_json("/api/v1/auth/login", &body, None).await
    }

    /// Trades a refresh token: the status and the body.
    pub async fn refresh(&self, refresh_token: &str) -> (u16, serde_json::Value) {
        let body = serde_json::json!({"refresh_token": refresh_token});
        self.post_json("/api/v1/auth/refresh", &body, None).await
    }

    pub async fn me(&self, access_token: &str) -> (u16, serde_json::Value) {
        self.send_json(
            reqwest::Method::GET,
            "/api/v1/users/me",
            None,
            Some(access_token),
        )
        .await
    }

    /// A browser: keeps cookies, does not follow redirects (tests follow them on purpose).
    pub fn browser(&self) -> Browser {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        Browser {
            base: self.base.clone(),
            client: reqwest::Client::builder()
                .cookie_provider(jar.clone())
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            jar,
        }
    }
}

pub struct Browser {
    pub base: String,
    pub client: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub set_cookies: Vec<String>,
    pub body: String,
}

impl Page {
    /// The CSRF value of the page's forms.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self.body.find(marker).expect("the page has a form") + marker.len();
        let end = self.body[start..].find('"').unwrap();
        self.body[start..start + end].to_owned()
    }
}

impl Browser {
    /// Stores a cookie as if the site had set it (e.g. `herald_access=expired; Path=/`).
    pub fn set_cookie(&self, cookie: &str) {
        let url = reqwest::Url::parse(&self.base).unwrap();
        self.jar.add_cookie_str(cookie, &url);
    }

    fn absolute(&self, url: &str) -> String {
        if url.starts_with("http") {
            url.to_owned()
        } else {
            format!("{}{url}", self.base)
        }
    }

    async fn page(response: reqwest::Response) -> Page {
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        let set_cookies = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        Page {
            status,
            location,
            set_cookies,
            body: response.text().await.unwrap(),
        }
    }

    pub async fn get(&self, url: &str) -> Page {
        Self::page(self.client.get(self.absolute(url)).send().await.unwrap()).await
    }

    pub async fn get_with(&self, url: &str, header: (&str, &str)) -> Page {
        self.get_with_all(url, &[header]).await
    }

    pub async fn get_with_all(&self, url: &str, headers: &[(&str, &str)]) -> Page {
        let mut request = self.client.get(self.absolute(url));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Self::page(request.send().await.unwrap()).await
    }

    pub async fn post_form(&self, url: &str, fields: &[(&str, &str)]) -> Page {
        let request = self.client.post(self.absolute(url)).form(fields);
        Self::page(request.send().await.unwrap()).await
    }

    /// Loads the form page at `page`, then submits `fields` with its CSRF value to `action`.
    pub async fn submit(&self, page: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.get(page).await.csrf();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_form(action, &all).await
    }
}
