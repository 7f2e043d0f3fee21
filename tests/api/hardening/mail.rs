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

async fn a_failed_send_is_logged_with_its_recipient_and_costs_no_quota(backend: Backend) {
    let smtp = SmtpCapture::start();
    let app = spawn_app_with(backend, None, &[("SMTP_URL", &smtp.url())]).await;
    // Unique in this test binary: the captured log is shared by every test.
    let email = format!("lovelace.{}@example.com", uuid::Uuid::new_v4().simple());
    let masked = herald::telemetry::mask_email(&email);
    app.register(&email, "a good password").await;
    smtp.wait_for_mail(&email, |_| true).await;
    smtp.refuse_all(true);
    let body = json!({"email": email});
    let forgot = || app.post_json("/api/v1/auth/forgot", &body, None);
    for sent in 1..=3 {
        assert_eq!(forgot().await.0, 202);
        // One at a time: each failure gives its quota back before the next request.
        eventually("the failure in the log, with its recipient", || async {
            let n = log_lines()
                .into_iter()
                .filter(|l| l["message"] == "e-mail not sent" && l["to"] == masked.as_str())
                .count();
            (n == sent).then_some(())
        })
        .await;
    }
    smtp.refuse_all(false);
    let (status, answer) = forgot().await;
    assert_eq!(
        status, 202,
        "failed sends did not use up the hourly quota: {answer}"
    );
    smtp.wait_for_mail(&email, |m| m.subject().contains("Reset"))
        .await;
}
db_tests!(a_failed_send_is_logged_with_its_recipient_and_costs_no_quota);

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
