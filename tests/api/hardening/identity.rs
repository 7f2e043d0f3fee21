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

async fn the_owner_clicking_a_link_for_an_account_they_did_not_create_verifies_nothing(
    backend: Backend,
) {
    let smtp = SmtpCapture::start();
    let app = spawn_app_with(backend, None, &[("SMTP_URL", &smtp.url())]).await;
    // The attacker pre-registers the victim's address; the victim gets the verification mail.
    let attacker = app.register("victim@example.com", PASSWORD).await;
    let mail = smtp
        .wait_for_mail("victim@example.com", |m| m.subject().contains("Verify"))
        .await;
    let link = mail.link_containing("/verify-email?token=").unwrap();
    // The victim opens it in their own browser, signed in to nothing (or to their own account).
    let victim = app.browser();
    let page = victim.get(&link).await;
    assert_eq!(page.status, 303, "sign in first: {}", page.body);
    assert!(
        page.location
            .as_deref()
            .unwrap()
            .starts_with("/login?next=%2Fverify-email%3Ftoken%3D")
    );
    let (_, me) = app.me(&attacker.access_token).await;
    assert_eq!(
        me["email_verified"], false,
        "the attacker's account stays unverified"
    );
    let (status, body) = app
        .post_json(
            "/api/v1/auth/verify/request",
            &json!({}),
            Some(&attacker.access_token),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    // So it still cannot collect provider links (they need a verified address).
    let browser = app.browser();
    browser
        .submit(
            "/login",
            "/login",
            &[("email", "victim@example.com"), ("password", PASSWORD)],
        )
        .await;
    let csrf = browser.get("/account").await.csrf();
    let page = browser
        .post_form("/auth/google/link", &[("csrf", &csrf)])
        .await;
    assert!(
        page.body.contains("4030005") || page.body.contains("4030004") || page.status == 404,
        "{}",
        page.body
    );
}
db_tests!(the_owner_clicking_a_link_for_an_account_they_did_not_create_verifies_nothing);

async fn forgot_answers_alike_however_often_an_address_is_asked_for(backend: Backend) {
    let smtp = SmtpCapture::start();
    let app = spawn_app_with(
        backend,
        None,
        &[("SMTP_URL", &smtp.url()), TRUST_LOCAL_PROXY],
    )
    .await;
    app.register("known@example.com", PASSWORD).await;
    for email in ["known@example.com", "unknown@example.com"] {
        for n in 0..5 {
            let ip = format!("198.51.100.{}", if email.starts_with('k') { 1 } else { 2 });
            let (status, body) = app
                .post_json_from(&ip, "/api/v1/auth/forgot", &json!({"email": email}))
                .await;
            assert_eq!(
                status, 202,
                "{email} #{n}: the recipient's budget never shows: {body}"
            );
        }
    }
    // The mails themselves are capped: three from one sender an hour. (They go through the
    // outbox: wait for them, then long enough for a fourth to show, were there one.)
    let resets = || {
        smtp.mails()
            .iter()
            .filter(|m| m.subject().contains("Reset"))
            .count()
    };
    eventually("the reset mails", || async {
        (resets() >= 3).then_some(())
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(resets(), 3);
}
db_tests!(forgot_answers_alike_however_often_an_address_is_asked_for);

async fn a_reset_link_sent_to_a_previous_address_stops_working(backend: Backend) {
    let smtp = SmtpCapture::start();
    let app = spawn_app_with(backend, None, &[("SMTP_URL", &smtp.url())]).await;
    let browser = app.browser();
    browser
        .submit(
            "/register",
            "/register",
            &[("email", "old@example.com"), ("password", PASSWORD)],
        )
        .await;
    app.post_json(
        "/api/v1/auth/forgot",
        &json!({"email": "old@example.com"}),
        None,
    )
    .await;
    let reset = smtp
        .wait_for_mail("old@example.com", |m| m.subject().contains("Reset"))
        .await;
    let reset = reset
        .link_containing("token=")
        .unwrap()
        .split("token=")
        .nth(1)
        .unwrap()
        .to_owned();
    // The owner moves to a new address.
    let account = browser.get("/account").await;
    browser
        .post_form(
            "/account/email",
            &[("csrf", &account.csrf()), ("email", "new@example.com")],
        )
        .await;
    let confirm = smtp.wait_for_mail("new@example.com", |_| true).await;
    let link = confirm.link_containing("/confirm-email?token=").unwrap();
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let form = browser.get(&link).await;
    let page = browser
        .post_form(
            "/confirm-email",
            &[("csrf", &form.csrf()), ("token", &token)],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let (status, body) = app
        .post_json(
            "/api/v1/auth/reset",
            &json!({"token": reset, "password": "taken over!"}),
            None,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("4000001")),
        "the old mailbox controls nothing now"
    );
}
db_tests!(a_reset_link_sent_to_a_previous_address_stops_working);

async fn a_confirmation_link_works_only_in_the_session_that_asked(backend: Backend) {
    let smtp = SmtpCapture::start();
    let app = spawn_app_with(backend, None, &[("SMTP_URL", &smtp.url())]).await;
    // The attacker asks to attach the victim's address to the attacker's account.
    let attacker = app.browser();
    attacker
        .submit(
            "/register",
            "/register",
            &[("email", "attacker@example.com"), ("password", PASSWORD)],
        )
        .await;
    let account = attacker.get("/account").await;
    attacker
        .post_form(
            "/account/email",
            &[("csrf", &account.csrf()), ("email", "victim@example.com")],
        )
        .await;
    let mail = smtp.wait_for_mail("victim@example.com", |_| true).await;
    let link = mail.link_containing("/confirm-email?token=").unwrap();
    let token = link.split("token=").nth(1).unwrap().to_owned();
    // The victim, signed in to their own account, clicks it.
    let victim = app.browser();
    victim
        .submit(
            "/register",
            "/register",
            &[("email", "someone@example.com"), ("password", PASSWORD)],
        )
        .await;
    let form = victim.get(&link).await;
    let page = victim
        .post_form(
            "/confirm-email",
            &[("csrf", &form.csrf()), ("token", &token)],
        )
        .await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("4030005"));
    let who = app.login("attacker@example.com", PASSWORD).await;
    let (_, me) = app.me(&who.access_token).await;
    assert_eq!(me["email"], "attacker@example.com", "nothing changed");
}
db_tests!(a_confirmation_link_works_only_in_the_session_that_asked);

async fn addresses_stored_before_canonical_form_are_rewritten(backend: Backend) {
    let app = spawn_app(backend).await;
    let hash = herald::accounts::password::hash(PASSWORD);
    sqlx::query("INSERT INTO users (email, password_hash, locale, role, status, created_at, updated_at) VALUES ('someone@exámple.com', ?, 'en', 'user', 'active', 0, 0)")
        .bind(hash)
        .execute(app.state.db().pool()).await.unwrap();
    assert_eq!(
        app.try_login("someone@exámple.com", PASSWORD).await.0,
        400,
        "not found as stored"
    );
    let rewritten = herald::accounts::users::recanonicalise(app.state.db())
        .await
        .unwrap();
    assert_eq!(rewritten, 1);
    app.login("someone@exámple.com", PASSWORD).await;
}
db_tests!(addresses_stored_before_canonical_form_are_rewritten);
