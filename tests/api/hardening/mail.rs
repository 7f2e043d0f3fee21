//! Account e-mail: correct messages, honest failures, and no live links in logs.

use serde_json::json;

use crate::db_tests;
use crate::helpers::*;
use crate::smtp::SmtpCapture;

async fn mails_have_a_message_id_and_a_plain_text_part_without_html_entities(backend: Backend) {
    let smtp = SmtpCapture::start();
    let app = spawn_app_with(backend, None, &[("SMTP_URL", &smtp.url())]).await;
    app.register("ada@example.com", "a good password").await;
    let mail = smtp
        .wait_for_mail("ada@example.com", |m| m.subject().contains("Verify"))
        .await;
    let id = mail.header("message-id").expect("a Message-ID");
    assert!(id.starts_with('<') && id.ends_with("@localhost>"), "{id}");
    assert!(mail.header("date").is_some());
    let text = mail
        .data
        .split("Content-Type: text/plain")
        .nth(1)
        .expect("a text part");
    let text = text.split("Content-Type: text/html").next().unwrap();
    assert!(text.contains("account's"), "{text}");
    assert!(
        !text.contains("&#x27;") && !text.contains("&amp;"),
        "{text}"
    );
}
db_tests!(mails_have_a_message_id_and_a_plain_text_part_without_html_entities);

/// Account mails go through the outbox: an SMTP outage delays them instead of losing them,
/// a refusal is logged with its (masked) recipient, and the API never shows them, nor is
/// their live link kept once they are final.
async fn account_mail_waits_out_an_outage_and_keeps_no_live_link(backend: Backend) {
    let port = SmtpCapture::free_port();
    let url = format!("smtp://127.0.0.1:{port}");
    let fast = [
        ("SMTP_URL", url.as_str()),
        ("NOTIFY_POLL_MS", "100"),
        ("NOTIFY_BACKOFF_BASE_SECS", "1"),
        ("NOTIFY_BACKOFF_MAX_SECS", "1"),
        ("NOTIFY_MAX_ATTEMPTS", "50"),
    ];
    let app = spawn_app_with(backend, None, &fast).await;
    // Unique in this test binary: the captured log is shared by every test.
    let email = format!("lovelace.{}@example.com", uuid::Uuid::new_v4().simple());
    let masked = herald::telemetry::mask_email(&email);
    let tokens = app.register(&email, "a good password").await;
    let failures = |outcome: &'static str| {
        let masked = masked.clone();
        move || {
            log_lines()
                .into_iter()
                .filter(|l| {
                    l["message"] == "delivery failed"
                        && l["to"] == masked.as_str()
                        && l["outcome"] == outcome
                })
                .count()
        }
    };
    let transient = failures("transient");
    eventually("a failed try while SMTP is down", || async {
        (transient() > 0).then_some(())
    })
    .await;
    // Waiting in the outbox, the mail's live link is sealed, not stored as text.
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT body_text FROM notifications WHERE creator = 'system'")
            .fetch_all(app.state.db().pool())
            .await
            .unwrap();
    assert!(
        !stored.is_empty() && stored.iter().all(|b| !b.contains("token=")),
        "{stored:?}"
    );
    let smtp = SmtpCapture::start_on(port);
    smtp.wait_for_mail(&email, |m| m.subject().contains("Verify"))
        .await;

    smtp.refuse_all(true);
    let body = json!({"email": email});
    let (status, _) = app.post_json("/api/v1/auth/forgot", &body, None).await;
    assert_eq!(status, 202);
    let permanent = failures("permanent");
    eventually("the refusal in the log, with its recipient", || async {
        (permanent() == 1).then_some(())
    })
    .await;

    let (status, list) = app
        .send_json(
            reqwest::Method::GET,
            "/api/v1/notifications",
            None,
            Some(&tokens.access_token),
        )
        .await;
    assert_eq!(
        (status, &list["items"]),
        (200, &json!([])),
        "account mails are not listed"
    );
    let kept: Vec<String> =
        sqlx::query_scalar("SELECT body_text FROM notifications WHERE creator = 'system'")
            .fetch_all(app.state.db().pool())
            .await
            .unwrap();
    assert_eq!(kept.len(), 2);
    assert!(
        kept.iter().all(String::is_empty),
        "no live link kept: {kept:?}"
    );
}
db_tests!(account_mail_waits_out_an_outage_and_keeps_no_live_link);

async fn reset_links_reach_the_log_only_on_a_local_instance(backend: Backend) {
    let public = spawn_app_with(
        backend,
        None,
        &[("HERALD_PUBLIC_URL", "https://herald.example.com")],
    )
    .await;
    let (status, body) = public
        .post_json(
            "/api/v1/auth/forgot",
            &json!({"email": "x@example.com"}),
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("5030003")),
        "no SMTP and a public URL: refuse"
    );
    let local = spawn_app(backend).await;
    local
        .register("dev.person@example.com", "a good password")
        .await;
    let (status, _) = local
        .post_json(
            "/api/v1/auth/forgot",
            &json!({"email": "dev.person@example.com"}),
            None,
        )
        .await;
    assert_eq!(status, 202);
    eventually("the development mail in the log", || async {
        log_lines()
            .into_iter()
            .any(|l| {
                l["message"].as_str().is_some_and(|m| {
                    m.contains("DEVELOPMENT E-MAIL") && m.contains("/reset-password?token=")
                }) && l["to"] == "**v.perso*@example.com"
            })
            .then_some(())
    })
    .await;
}
db_tests!(reset_links_reach_the_log_only_on_a_local_instance);

async fn forgot_does_the_same_work_for_known_and_unknown_addresses(backend: Backend) {
    let smtp = SmtpCapture::start();
    let app = spawn_app_with(backend, None, &[("SMTP_URL", &smtp.url())]).await;
    app.register("ada@example.com", "a good password").await;
    // With token storage broken, a request for a real account still answers as any other:
    // nothing account-specific happens before the answer.
    sqlx::query("ALTER TABLE email_tokens RENAME TO email_tokens_away")
        .execute(app.state.db().pool())
        .await
        .unwrap();
    for email in ["ada@example.com", "nobody@example.com"] {
        let (status, body) = app
            .post_json("/api/v1/auth/forgot", &json!({"email": email}), None)
            .await;
        assert_eq!(
            (status, body["status"].as_str()),
            (202, Some("accepted")),
            "{email}"
        );
    }
}
db_tests!(forgot_does_the_same_work_for_known_and_unknown_addresses);
