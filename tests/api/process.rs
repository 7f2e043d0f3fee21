//! The `herald` binary as an operator runs it: CLI, configuration errors, migrate, and a
//! no-configuration start that stops cleanly on SIGTERM.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn herald(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_herald"));
    // Nothing from the developer's or CI's environment leaks in; PATH is harmless.
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd.current_dir(dir).args(args).envs(env.iter().copied());
    cmd
}

fn run(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    herald(dir, env, args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn version_and_help_describe_the_commands() {
    let dir = tempfile::tempdir().unwrap();
    let version = run(dir.path(), &[], &["--version"]);
    assert!(version.status.success());
    assert_eq!(
        text(&version.stdout).trim(),
        format!("herald {}", herald::VERSION)
    );
    let help = text(&run(dir.path(), &[], &["--help"]).stdout);
    for command in ["serve", "migrate", "check-config"] {
        assert!(help.contains(command), "{help}");
    }
}

#[test]
fn check_config_prints_the_effective_configuration_with_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("DISCORD_TOKEN", "very-secret-bot-token"), ("PORT", "9321")];
    let out = run(dir.path(), &env, &["check-config"]);
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    assert!(stdout.contains("HERALD_PORT=9321"), "{stdout}");
    assert!(stdout.contains("DISCORD_TOKEN=[redacted]"), "{stdout}");
    assert!(!stdout.contains("very-secret-bot-token"));
}

#[test]
fn a_dotenv_file_is_read_and_the_environment_wins() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "HERALD_PORT=9444\nLOG_RETENTION=4\n",
    )
    .unwrap();
    let stdout = text(&run(dir.path(), &[("LOG_RETENTION", "6")], &["check-config"]).stdout);
    assert!(stdout.contains("HERALD_PORT=9444"), "{stdout}");
    assert!(stdout.contains("LOG_RETENTION=6"), "{stdout}");
}

#[test]
fn a_bad_value_stops_herald_with_a_message_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &[("HERALD_PORT", "eighty")], &[]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("HERALD_PORT: expected a port number"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn production_refuses_to_start_without_its_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &[("HERALD_ENV", "production")], &[]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("SECRET_KEY"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn migrate_creates_and_migrates_the_default_database() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &[], &["migrate"]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(dir.path().join("data/herald.db").exists());
}

#[test]
fn with_no_configuration_herald_serves_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = herald(dir.path(), &[("PORT", &port.to_string())], &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/readyz");
    let body = (0..100)
        .find_map(|_| {
            std::thread::sleep(Duration::from_millis(100));
            http_get(&url)
        })
        .expect("herald answers on its port");
    assert!(body.contains("\"state\":\"disabled\""), "{body}");
    let env = [("PORT", port.to_string())];
    let env: Vec<_> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert!(
        run(dir.path(), &env, &["healthcheck"]).status.success(),
        "healthcheck passes"
    );
    assert!(
        dir.path().join("data/herald.db").exists(),
        "default SQLite file"
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = wait_with_timeout(&mut child, Duration::from_secs(10));
    assert_eq!(exit.and_then(|s| s.code()), Some(0), "exit 0 after SIGTERM");
    let output = child.wait_with_output().unwrap();
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("DISCORD_TOKEN is not set"),
        "one clear warning: {stdout}"
    );
    assert_eq!(stdout.matches("DISCORD_TOKEN is not set").count(), 1);
    assert!(dir.path().join("logs/app").is_dir() && dir.path().join("logs/access").is_dir());
    assert!(
        !stdout.contains('\u{1b}'),
        "no colour codes when stdout is not a terminal"
    );
    for category in ["app", "access", "db"] {
        for file in std::fs::read_dir(dir.path().join("logs").join(category)).unwrap() {
            let content = std::fs::read_to_string(file.unwrap().path()).unwrap();
            assert!(
                !content.contains('\u{1b}'),
                "no colour codes in the {category} log"
            );
        }
    }
    let down = run(dir.path(), &env, &["healthcheck"]);
    assert!(!down.status.success(), "healthcheck fails once stopped");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A tiny blocking GET, so this test needs no async runtime.
fn http_get(url: &str) -> Option<String> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest.split_once('/')?;
    let mut stream = std::net::TcpStream::connect(host).ok()?;
    write!(
        stream,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

fn wait_with_timeout(
    child: &mut std::process::Child,
    limit: Duration,
) -> Option<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    None
}

#[test]
fn create_admin_makes_an_administrator_who_can_sign_in() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut child = create_admin(dir.path(), "Root@Example.com");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"an admin password\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("administrator root@example.com created"));

    let again = create_admin(dir.path(), "root@example.com");
    let out = again.wait_with_output().unwrap();
    assert!(
        !out.status.success(),
        "the address is taken (and an empty password refused)"
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let db = herald::db::Db::connect(&herald::config::DatabaseConfig {
            url: format!("sqlite://{}/data/herald.db", dir.path().display()),
            max_connections: 1,
        })
        .await
        .unwrap();
        let row = sqlx::query(
            "SELECT role, email_verified_at FROM users WHERE email = 'root@example.com'",
        )
        .fetch_one(db.pool())
        .await
        .unwrap();
        assert_eq!(sqlx::Row::get::<String, _>(&row, 0), "admin");
        assert!(sqlx::Row::get::<Option<i64>, _>(&row, 1).is_some());
    });
}

fn create_admin(dir: &Path, email: &str) -> std::process::Child {
    let args = ["user", "create-admin", "--email", email, "--password-stdin"];
    herald(dir, &[], &args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn check_config_says_an_unset_secret_key_is_ephemeral() {
    let dir = tempfile::tempdir().unwrap();
    let stdout = text(&run(dir.path(), &[], &["check-config"]).stdout);
    assert!(
        stdout.contains("SECRET_KEY=(not set: an ephemeral key"),
        "{stdout}"
    );
    let key = "k".repeat(40);
    let stdout = text(&run(dir.path(), &[("SECRET_KEY", &key)], &["check-config"]).stdout);
    assert!(stdout.contains("SECRET_KEY=[redacted]"), "{stdout}");
}

#[test]
fn create_admin_explains_how_to_give_the_password_without_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let out = herald(
        dir.path(),
        &[],
        &["user", "create-admin", "--email", "root@example.com"],
    )
    .stdin(Stdio::null())
    .output()
    .unwrap();
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("--password-stdin"), "{stderr}");
    assert!(!stderr.contains("No such device"), "{stderr}");
}

#[test]
fn create_admin_says_when_standard_input_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let out = create_admin(dir.path(), "root@example.com")
        .wait_with_output()
        .unwrap();
    assert!(!out.status.success());
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(stderr.contains("no password on standard input"), "{stderr}");
    assert!(
        !stdout.contains("ephemeral") && !stderr.contains("ephemeral"),
        "the key warning is for the server, not for a created administrator: {stdout}"
    );
}
