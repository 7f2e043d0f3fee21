//! The outbox across a crash: a Herald process killed with SIGKILL in the middle of sending
//! 500 e-mails, then started again on the same database. Every message arrives; the only
//! duplicates are messages that were inside an SMTP transaction at the kill (at-least-once).

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::db_tests;
use crate::helpers::*;
use crate::smtp::SmtpCapture;

/// Sends in flight at once: the most messages a kill can catch inside a transaction.
const CONCURRENCY: usize = 4;
const RECIPIENTS: usize = 500;

/// A Herald process, killed when dropped (also when an assertion fails first).
struct Process(Child);

impl Process {
    /// SIGKILL: no shutdown, no lease handed back.
    fn kill(&mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(db_url: &str, smtp: &SmtpCapture, port: u16, dir: &std::path::Path) -> Process {
    let child = Command::new(env!("CARGO_BIN_EXE_herald"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", db_url)
        .env("HERALD_PORT", port.to_string())
        .env("HERALD_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .env("SECRET_KEY", "crash-test-secret-key-long-enough-0123456789")
        .env("SMTP_URL", smtp.url())
        .env("NOTIFY_POLL_MS", "100")
        .env("NOTIFY_LEASE_SECS", "10")
        .env("NOTIFY_EMAIL_CONCURRENCY", CONCURRENCY.to_string())
        .env("LOG_DIR", dir.join("logs"))
        .env("LOG_FORMAT", "off")
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("herald starts");
    Process(child)
}

async fn wait_up(client: &reqwest::Client, base: &str) {
    eventually("herald to answer", || async {
        let up = client.get(format!("{base}/healthz")).send().await;
        up.is_ok_and(|r| r.status().is_success()).then_some(())
    })
    .await;
}

/// Mails to the 500 recipients, by address, counted.
fn received(smtp: &SmtpCapture) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for mail in smtp.mails() {
        if mail.to[0].starts_with("r") {
            *counts.entry(mail.to[0].clone()).or_default() += 1;
        }
    }
    counts
}

async fn a_kill_in_the_middle_of_sending_loses_nothing(backend: Backend) {
    let db = TestDb::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpCapture::start();
    smtp.slow(Duration::from_millis(10));
    let port = SmtpCapture::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut herald = start(&db.url, &smtp, port, dir.path());
    wait_up(&client, &base).await;

    let tokens: serde_json::Value = client
        .post(format!("{base}/api/v1/auth/register"))
        .json(&json!({"email": "sender@example.com", "password": "a good password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let to: Vec<String> = (0..RECIPIENTS)
        .map(|i| format!("r{i}@example.com"))
        .collect();
    let accepted = client
        .post(format!("{base}/api/v1/notifications"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .json(&json!({"channel": "email", "to": to, "subject": "s", "text": "t"}))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status().as_u16(), 202);

    eventually("a hundred messages out", || async {
        (received(&smtp).len() >= 100).then_some(())
    })
    .await;
    herald.kill();
    let at_kill = received(&smtp).len();
    assert!(at_kill < RECIPIENTS, "killed mid-way ({at_kill} sent)");

    let _herald = start(&db.url, &smtp, port, dir.path());
    wait_up(&client, &base).await;
    let all = eventually("every message after the restart", || async {
        let counts = received(&smtp);
        (counts.len() == RECIPIENTS).then_some(counts)
    })
    .await;
    // Time for a stray duplicate to show up, were there one more.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let duplicates: usize = received(&smtp).values().map(|n| n - 1).sum();
    eprintln!(
        "{backend:?}: killed after {at_kill} of {RECIPIENTS}; after the restart all {} arrived, \
         {duplicates} twice",
        all.len()
    );
    assert!(
        duplicates <= CONCURRENCY,
        "only messages inside an SMTP transaction at the kill may come twice: {duplicates}"
    );
}

db_tests!(a_kill_in_the_middle_of_sending_loses_nothing);
