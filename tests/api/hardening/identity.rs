//! Look-alike addresses: the database must not decide who an address belongs to.

use serde_json::json;

use crate::db_tests;
use crate::helpers::*;
use crate::smtp::SmtpCapture;

const PASSWORD: &str = "correct horse battery";

async fn a_reset_for_a_lookalike_domain_mails_nobody(backend: Backend) {
    let smtp = SmtpCapture::start();
    let app = spawn_app_with(backend, None, &[("SMTP_URL", &smtp.url())]).await;
    app.register("victim@example.com", PASSWORD).await;
    let verify = smtp
        .wait_for_mail("victim@example.com", |m| m.subject().contains("Verify"))
        .await;
    let before = smtp.mails().len();
    assert!(before >= 1, "{verify:?}");

    // An IDN domain the attacker owns; MariaDB's unicode_ci collation equated it with the
    // victim's and the link went to the typed address.
    let (status, _) = app
        .post_json(
            "/api/v1/auth/forgot",
            &json!({"email": "victim@exámple.com"}),
            None,
        )
        .await;
    assert_eq!(status, 202, "the same answer as for any address");
    // Full-width letters are the same address once canonical: the link goes to the
    // stored address, never to the typed text.
    let (status, _) = app
        .post_json(
            "/api/v1/auth/forgot",
            &json!({"email": "ＶＩＣＴＩＭ@example.com"}),
            None,
        )
        .await;
    assert_eq!(status, 202);
    let reset = smtp
        .wait_for_mail("victim@example.com", |m| m.subject().contains("Reset"))
        .await;
    assert_eq!(reset.to, ["victim@example.com"]);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mails = smtp.mails();
    assert_eq!(
        mails.len(),
        before + 1,
        "one reset mail, to the victim only: {mails:?}"
    );
    assert!(
        mails
            .iter()
            .all(|m| m.to.iter().all(|t| t == "victim@example.com"))
    );
}
db_tests!(a_reset_for_a_lookalike_domain_mails_nobody);

async fn lookalike_spellings_get_no_fresh_lock_budget(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("victim@example.com", PASSWORD).await;
    // An accented look-alike is another (unknown) address: its failures are its own.
    for _ in 0..6 {
        let (status, _) = app.try_login("victím@example.com", "wrong password!").await;
        assert!(status == 400 || status == 429, "{status}");
    }
    assert_eq!(
        app.try_login("victim@example.com", PASSWORD).await.0,
        200,
        "the victim is untouched"
    );

    // Zero-width and bidi characters are refused outright and count for nothing.
    for sneaky in [
        "vic\u{200b}tim@example.com",
        "victim\u{202e}@example.com",
        "victim@exa\u{ad}mple.com",
    ] {
        let (status, body) = app.try_login(sneaky, "wrong password!").await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("4000019")),
            "{sneaky:?}"
        );
    }
    // Full-width letters are the victim's address: they spend the victim's budget, not a new one.
    let spellings = [
        "ｖictim@example.com",
        "vｉctim@example.com",
        "viｃtim@example.com",
        "VICTIM@example.com",
        "victim@ＥＸＡＭＰＬＥ.com",
    ];
    for spelling in spellings {
        let (status, body) = app.try_login(spelling, "wrong password!").await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("4000004")),
            "{spelling}"
        );
    }
    let (status, body) = app.try_login("victim@example.com", PASSWORD).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("4290002")),
        "locked after five: {body}"
    );
}
db_tests!(lookalike_spellings_get_no_fresh_lock_budget);

async fn registering_a_lookalike_of_a_taken_address_stays_separate(backend: Backend) {
    let app = spawn_app(backend).await;
    let victim = app.register("victim@example.com", PASSWORD).await;
    let (status, body) = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"email": "ＶＩＣＴＩＭ@example.com", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("4000003")),
        "the same address, canonical"
    );
    let attacker = app.register("victím@example.com", PASSWORD).await;
    let (_, me) = app.me(attacker.access_token.as_str()).await;
    assert_eq!(me["email"], "victím@example.com");
    let (_, me) = app.me(victim.access_token.as_str()).await;
    assert_eq!(me["email"], "victim@example.com");
    let idn = app.register("someone@exámple.com", PASSWORD).await;
    let (_, me) = app.me(idn.access_token.as_str()).await;
    assert_eq!(
        me["email"], "someone@xn--exmple-qta.com",
        "IDN domains are stored as ASCII"
    );
}
db_tests!(registering_a_lookalike_of_a_taken_address_stays_separate);

async fn a_reset_by_the_real_owner_drops_links_made_before_the_address_was_proven(
    backend: Backend,
) {
    let smtp = SmtpCapture::start();
    let app = spawn_app_with(backend, None, &[("SMTP_URL", &smtp.url())]).await;
    // The attacker registered the victim's address first (never verified) and, in some
    // earlier version or by another path, attached a provider account of their own.
    let tokens = app.register("victim@example.com", PASSWORD).await;
    let (_, me) = app.me(tokens.access_token.as_str()).await;
    sqlx::query("INSERT INTO oauth_accounts (user_id, provider, provider_user_id, created_at, updated_at) VALUES (?, 'google', 'attacker-google', 0, 0)")
        .bind(me["id"].as_i64().unwrap())
        .execute(app.state.db().pool()).await.unwrap();
    // The real owner takes the address back with a password reset.
    app.post_json(
        "/api/v1/auth/forgot",
        &json!({"email": "victim@example.com"}),
        None,
    )
    .await;
    let mail = smtp
        .wait_for_mail("victim@example.com", |m| m.subject().contains("Reset"))
        .await;
    let link = mail.link_containing("/reset-password?token=").unwrap();
    let token = link.split("token=").nth(1).unwrap();
    let (status, body) = app
        .post_json(
            "/api/v1/auth/reset",
            &json!({"token": token, "password": "the owner's password"}),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["unlinked_providers"],
        json!(["google"]),
        "the owner is told"
    );
    let left: i64 = sqlx::Row::get(
        &sqlx::query("SELECT COUNT(*) FROM oauth_accounts")
            .fetch_one(app.state.db().pool())
            .await
            .unwrap(),
        0,
    );
    assert_eq!(left, 0, "the attacker's way in is gone");
    assert_eq!(
        app.me(tokens.access_token.as_str()).await.0,
        401,
        "and so are the attacker's sessions"
    );
}
db_tests!(a_reset_by_the_real_owner_drops_links_made_before_the_address_was_proven);
