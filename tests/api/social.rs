//! Social sign-in against local fakes of Discord, Google and Kakao, through a cookie-keeping
//! browser: sign-up, linking rules, the account page, provider tokens, and the attacks.

use herald::accounts::oauth::Provider;
use sqlx::Row;

use crate::db_tests;
use crate::fake_oauth::{FakeOAuth, Shape};
use crate::helpers::*;
use crate::smtp::SmtpCapture;

struct Fakes {
    discord: FakeOAuth,
    google: FakeOAuth,
    kakao: FakeOAuth,
    smtp: SmtpCapture,
}

impl Fakes {
    fn of(&self, provider: Provider) -> &FakeOAuth {
        match provider {
            Provider::Discord => &self.discord,
            Provider::Google => &self.google,
            Provider::Kakao => &self.kakao,
        }
    }
}

async fn app_with_providers(backend: Backend, with_kakao: bool) -> (TestApp, Fakes) {
    let fakes = Fakes {
        discord: FakeOAuth::start(Shape::Discord).await,
        google: FakeOAuth::start(Shape::Google).await,
        kakao: FakeOAuth::start(Shape::Kakao).await,
        smtp: SmtpCapture::start(),
    };
    let (d, g, k) = (
        fakes.discord.base_url(),
        fakes.google.base_url(),
        fakes.kakao.base_url(),
    );
    let urls = [
        format!("{g}/o/oauth2/v2/auth"),
        format!("{g}/token"),
        format!("{g}/v1/userinfo"),
    ];
    let mut env = vec![
        ("DISCORD_CLIENT_ID", FakeOAuth::CLIENT_ID),
        ("DISCORD_CLIENT_SECRET", FakeOAuth::CLIENT_SECRET),
        ("DISCORD_API_BASE", d.as_str()),
        ("GOOGLE_CLIENT_ID", FakeOAuth::CLIENT_ID),
        ("GOOGLE_CLIENT_SECRET", FakeOAuth::CLIENT_SECRET),
        ("GOOGLE_AUTHORIZE_URL", urls[0].as_str()),
        ("GOOGLE_TOKEN_URL", urls[1].as_str()),
        ("GOOGLE_USERINFO_URL", urls[2].as_str()),
    ];
    if with_kakao {
        env.extend([
            ("KAKAO_CLIENT_ID", FakeOAuth::CLIENT_ID),
            ("KAKAO_CLIENT_SECRET", FakeOAuth::CLIENT_SECRET),
            ("KAKAO_AUTH_BASE", k.as_str()),
            ("KAKAO_API_BASE", k.as_str()),
        ]);
    }
    let smtp_url = fakes.smtp.url();
    env.push(("SMTP_URL", smtp_url.as_str()));
    let app = spawn_app_with(backend, None, &env).await;
    (app, fakes)
}

/// Starts a sign-in and lets the fake provider consent; returns the callback URL.
async fn consent(browser: &Browser, provider: &str, next: &str) -> String {
    let start = browser
        .get(&format!("/auth/{provider}/login?next={next}"))
        .await;
    assert_eq!(start.status, 303, "{}", start.body);
    let at_provider = browser.get(start.location.as_deref().unwrap()).await;
    assert_eq!(at_provider.status, 302, "{}", at_provider.body);
    at_provider.location.unwrap()
}

/// A complete sign-in; returns the callback's answer (a redirect to `next` on success).
async fn sign_in(browser: &Browser, provider: &str, next: &str) -> Page {
    let callback = consent(browser, provider, next).await;
    browser.get(&callback).await
}

async fn user_count(app: &TestApp) -> i64 {
    sqlx::query("SELECT COUNT(*) FROM users")
        .fetch_one(app.state.db().pool())
        .await
        .unwrap()
        .get(0)
}

async fn user_id_by_email(app: &TestApp, email: &str) -> i64 {
    sqlx::query("SELECT id FROM users WHERE email = ?")
        .bind(email)
        .fetch_one(app.state.db().pool())
        .await
        .unwrap()
        .get(0)
}

async fn each_provider_signs_up_a_new_user_and_keeps_its_tokens_sealed(backend: Backend) {
    let (app, fakes) = app_with_providers(backend, true).await;
    let cases = [
        (Provider::Discord, "nelly@discord.com", "guilds"),
        (Provider::Google, "x@gmail.com", "openid"),
        (Provider::Kakao, "k@kakao.com", "talk_message"),
    ];
    for (provider, email, scope) in cases {
        let browser = app.browser();
        let done = sign_in(&browser, provider.as_str(), "/dashboard").await;
        assert_eq!(done.status, 303, "{provider:?}: {}", done.body);
        assert_eq!(done.location.as_deref(), Some("/dashboard"));
        assert!(
            done.set_cookies
                .iter()
                .any(|c| c.starts_with("herald_access=") && c.contains("HttpOnly"))
        );
        let account = browser.get("/account").await;
        assert_eq!(account.status, 200);
        assert!(
            account.body.contains(email),
            "{provider:?} account page shows {email}"
        );

        let fake = fakes.of(provider);
        let asked = fake.authorize_requests().pop().unwrap();
        assert_eq!(asked["code_challenge_method"], "S256");
        assert!(
            asked["scope"].contains(scope),
            "{provider:?} asks for {scope}: {}",
            asked["scope"]
        );

        let user_id = user_id_by_email(&app, email).await;
        let stored: String =
            sqlx::query("SELECT access_token FROM oauth_accounts WHERE user_id = ?")
                .bind(user_id)
                .fetch_one(app.state.db().pool())
                .await
                .unwrap()
                .get(0);
        let issued = fake.issued_access_tokens().pop().unwrap();
        assert!(!stored.contains(&issued), "stored encrypted");
        let usable = app
            .state
            .accounts()
            .provider_access_token(user_id, provider)
            .await
            .unwrap();
        assert_eq!(usable, issued);
    }
    assert_eq!(user_count(&app).await, 3);
    // Signing in again is the same account.
    let again = sign_in(&app.browser(), "google", "/").await;
    assert_eq!(again.status, 303);
    assert_eq!(user_count(&app).await, 3);
}
db_tests!(each_provider_signs_up_a_new_user_and_keeps_its_tokens_sealed);

async fn tampered_foreign_and_replayed_callbacks_are_refused(backend: Backend) {
    let (app, _fakes) = app_with_providers(backend, false).await;
    let attacker = app.browser();
    let callback = consent(&attacker, "google", "/").await;

    // The state in the URL does not match the cookie.
    let tampered = callback.replace("state=", "state=x");
    let page = attacker.get(&tampered).await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("4000016"), "{}", page.body);

    // Someone else's callback URL, opened in the victim's browser: no binding cookie.
    let callback = consent(&attacker, "google", "/").await;
    let victim = app.browser();
    let page = victim.get(&callback).await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("4000016"));
    assert!(
        !page
            .set_cookies
            .iter()
            .any(|c| c.starts_with("herald_access=e")),
        "no session"
    );

    // The genuine one works once; replaying it fails.
    let page = attacker.get(&callback).await;
    assert_eq!(page.status, 303);
    let page = attacker.get(&callback).await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("4000016"));
}
db_tests!(tampered_foreign_and_replayed_callbacks_are_refused);

async fn cancelled_consent_and_unknown_providers_get_friendly_error_pages(backend: Backend) {
    let (app, fakes) = app_with_providers(backend, false).await;
    fakes.google.deny_next();
    let page = sign_in(&app.browser(), "google", "/").await;
    assert_eq!(page.status, 400);
    assert!(
        page.body.contains("4000025") && page.body.contains("<html"),
        "{}",
        page.body
    );

    let page = app.browser().get("/auth/kakao/login").await;
    assert_eq!(page.status, 404, "kakao is not configured here");
    assert!(page.body.contains("4040006"));
    let (_, listed) = app.get_json("/api/v1/auth/providers").await;
    assert_eq!(
        listed["providers"],
        serde_json::json!(["discord", "google"])
    );
    let login = app.browser().get("/login").await;
    assert!(login.body.contains("/auth/google/login") && !login.body.contains("/auth/kakao/login"));
}
db_tests!(cancelled_consent_and_unknown_providers_get_friendly_error_pages);

async fn next_never_leads_off_the_site(backend: Backend) {
    let (app, _fakes) = app_with_providers(backend, false).await;
    for next in [
        "https://evil.example/x",
        "//evil.example",
        "%2F%2Fevil.example",
        "/\\evil.example",
    ] {
        let page = sign_in(&app.browser(), "google", next).await;
        assert_eq!(page.location.as_deref(), Some("/account"), "next={next}");
    }
    let page = sign_in(&app.browser(), "google", "%2Fdocs%3Fa%3D1").await;
    assert_eq!(page.location.as_deref(), Some("/docs?a=1"));
}
db_tests!(next_never_leads_off_the_site);

async fn an_unverified_address_cannot_take_over_an_account(backend: Backend) {
    let (app, fakes) = app_with_providers(backend, false).await;
    app.state
        .accounts()
        .create_admin("victim@example.com", "victim password")
        .await
        .unwrap();
    let victim_id = user_id_by_email(&app, "victim@example.com").await;

    // The attacker controls a Google account claiming the victim's address, unverified.
    fakes.google.set_profile(
        serde_json::json!({"sub": "attacker-1", "email": "victim@example.com",
                                                "email_verified": false, "name": "Mallory"}),
    );
    let page = sign_in(&app.browser(), "google", "/").await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("4000024"), "{}", page.body);
    let links: i64 = sqlx::query("SELECT COUNT(*) FROM oauth_accounts")
        .fetch_one(app.state.db().pool())
        .await
        .unwrap()
        .get(0);
    assert_eq!(links, 0);
    assert_eq!(user_count(&app).await, 1);

    // Verified at both ends: the same person, linked, and told by e-mail.
    fakes.google.set_profile(
        serde_json::json!({"sub": "victim-google", "email": "victim@example.com",
                                                "email_verified": true, "name": "Victim"}),
    );
    let page = sign_in(&app.browser(), "google", "/").await;
    assert_eq!(page.status, 303);
    let linked = app
        .state
        .accounts()
        .linked_accounts(victim_id)
        .await
        .unwrap();
    assert_eq!(linked.len(), 1);
    fakes
        .smtp
        .wait_for_mail("victim@example.com", |m| {
            m.subject().contains("sign-in method")
        })
        .await;
}
db_tests!(an_unverified_address_cannot_take_over_an_account);

async fn an_unverified_herald_address_is_not_joined_either(backend: Backend) {
    let (app, fakes) = app_with_providers(backend, false).await;
    app.register("someone@example.com", "a good password").await;
    fakes.discord.set_profile(serde_json::json!({"id": "42", "username": "s", "email": "someone@example.com", "verified": true}));
    let page = sign_in(&app.browser(), "discord", "/").await;
    assert!(
        page.body.contains("4000024"),
        "Herald never verified the address: {}",
        page.body
    );
}
db_tests!(an_unverified_herald_address_is_not_joined_either);

/// Opens the verification link mailed to `email` and confirms it in `browser`.
async fn verify_by_mail(browser: &Browser, smtp: &SmtpCapture, email: &str) {
    let mail = smtp
        .wait_for_mail(email, |m| m.subject().contains("Verify"))
        .await;
    let link = mail.link_containing("/verify-email?token=").unwrap();
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let form = browser.get(&link).await;
    let page = browser
        .post_form(
            "/verify-email",
            &[("csrf", &form.csrf()), ("token", &token)],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
}

/// Registers through the page form; the browser is then signed in.
async fn register_in(browser: &Browser, email: &str) {
    let page = browser
        .submit(
            "/register",
            "/register",
            &[("email", email), ("password", "a good password")],
        )
        .await;
    assert_eq!(
        (page.status, page.location.as_deref()),
        (303, Some("/account")),
        "{}",
        page.body
    );
}

async fn the_account_page_links_and_unlinks_but_keeps_a_way_in(backend: Backend) {
    let (app, fakes) = app_with_providers(backend, true).await;
    let browser = app.browser();
    register_in(&browser, "ada@example.com").await;
    // Not before the address is verified (a pre-registered address must not collect links).
    let csrf = browser.get("/account").await.csrf();
    let page = browser
        .post_form("/auth/google/link", &[("csrf", &csrf)])
        .await;
    assert_eq!(page.status, 403);
    assert!(page.body.contains("4030004"), "{}", page.body);
    verify_by_mail(&browser, &fakes.smtp, "ada@example.com").await;
    let csrf = browser.get("/account").await.csrf();
    let start = browser
        .post_form("/auth/google/link", &[("csrf", &csrf)])
        .await;
    assert_eq!(start.status, 303, "{}", start.body);
    let at_google = browser.get(start.location.as_deref().unwrap()).await;
    let done = browser.get(at_google.location.as_deref().unwrap()).await;
    assert_eq!(done.location.as_deref(), Some("/account"), "{}", done.body);
    let account = browser.get("/account").await;
    assert!(
        account.body.contains("x@gmail.com"),
        "the linked Google account is listed"
    );
    let ada = user_id_by_email(&app, "ada@example.com").await;
    assert_eq!(
        app.state
            .accounts()
            .linked_accounts(ada)
            .await
            .unwrap()
            .len(),
        1
    );

    // Linking without the CSRF token is refused.
    let page = browser.post_form("/auth/discord/link", &[]).await;
    assert_eq!(page.status, 403);

    // Another Herald user cannot link the same Google account.
    let other = app.browser();
    register_in(&other, "bob@example.com").await;
    verify_by_mail(&other, &fakes.smtp, "bob@example.com").await;
    let csrf = other.get("/account").await.csrf();
    let start = other
        .post_form("/auth/google/link", &[("csrf", &csrf)])
        .await;
    let at_google = other.get(start.location.as_deref().unwrap()).await;
    let page = other.get(at_google.location.as_deref().unwrap()).await;
    assert!(page.body.contains("4000023"), "{}", page.body);

    // Ada still has her password: Google can go.
    let csrf = browser.get("/account").await.csrf();
    let page = browser
        .post_form("/account/unlink/google", &[("csrf", &csrf)])
        .await;
    assert_eq!(page.location.as_deref(), Some("/account?notice=unlinked"));
    assert!(
        app.state
            .accounts()
            .linked_accounts(ada)
            .await
            .unwrap()
            .is_empty()
    );

    // A Kakao-only user cannot remove Kakao.
    let kakao_only = app.browser();
    sign_in(&kakao_only, "kakao", "/account").await;
    let csrf = kakao_only.get("/account").await.csrf();
    let page = kakao_only
        .post_form("/account/unlink/kakao", &[("csrf", &csrf)])
        .await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("4000022"), "{}", page.body);
}
db_tests!(the_account_page_links_and_unlinks_but_keeps_a_way_in);

async fn non_browser_clients_get_the_authorization_url_as_json(backend: Backend) {
    let (app, _fakes) = app_with_providers(backend, false).await;
    let response = app.get("/api/v1/auth/discord/authorize?next=/docs").await;
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.starts_with("herald_oauth=")
            && cookie.contains("HttpOnly")
            && cookie.contains("Path=/auth"),
        "{cookie}"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    let url = body["authorization_url"].as_str().unwrap();
    assert!(
        url.contains("code_challenge_method=S256") && url.contains("state="),
        "{url}"
    );
    assert!(
        url.contains(&format!("redirect_uri={}", "http%3A%2F%2F127.0.0.1")),
        "{url}"
    );
    let (status, body) = app.get_json("/api/v1/auth/myspace/authorize").await;
    assert_eq!((status, body["code"].as_str()), (404, Some("4040006")));
}
db_tests!(non_browser_clients_get_the_authorization_url_as_json);

async fn expired_provider_tokens_are_refreshed_and_kakaos_new_refresh_token_kept(backend: Backend) {
    let (app, fakes) = app_with_providers(backend, true).await;
    // Within the minute of slack Herald keeps: stale at once, yet valid for the sign-in.
    fakes.kakao.set_expires_in(30);
    fakes.kakao.rotate_refresh_tokens(true);
    sign_in(&app.browser(), "kakao", "/").await;
    let user = user_id_by_email(&app, "k@kakao.com").await;
    let first_refresh = fakes.kakao.issued_refresh_tokens()[0].clone();

    let fresh = app
        .state
        .accounts()
        .provider_access_token(user, Provider::Kakao)
        .await
        .unwrap();
    let grants: Vec<_> = fakes
        .kakao
        .token_requests()
        .into_iter()
        .filter(|r| r["grant_type"] == "refresh_token")
        .collect();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0]["refresh_token"], first_refresh);
    assert_eq!(&fresh, fakes.kakao.issued_access_tokens().last().unwrap());

    // Still expiring at once: the next call refreshes with the rotated token, as stored.
    app.state
        .accounts()
        .provider_access_token(user, Provider::Kakao)
        .await
        .unwrap();
    let grants: Vec<_> = fakes
        .kakao
        .token_requests()
        .into_iter()
        .filter(|r| r["grant_type"] == "refresh_token")
        .collect();
    let rotated = fakes.kakao.issued_refresh_tokens()[1].clone();
    assert_ne!(rotated, first_refresh);
    assert_eq!(grants[1]["refresh_token"], rotated);
}
db_tests!(expired_provider_tokens_are_refreshed_and_kakaos_new_refresh_token_kept);

async fn a_provider_reporting_a_lookalike_address_does_not_enter_the_victims_account(
    backend: Backend,
) {
    let (app, fakes) = app_with_providers(backend, false).await;
    app.state
        .accounts()
        .create_admin("victim@example.com", "victim password")
        .await
        .unwrap();
    let victim_id = user_id_by_email(&app, "victim@example.com").await;
    // An IDN look-alike domain the attacker owns, reported as verified by their provider.
    fakes.google.set_profile(
        serde_json::json!({"sub": "attacker-2", "email": "victim@exámple.com",
                                                "email_verified": true, "name": "Mallory"}),
    );
    let page = sign_in(&app.browser(), "google", "/").await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert!(
        app.state
            .accounts()
            .linked_accounts(victim_id)
            .await
            .unwrap()
            .is_empty(),
        "nothing joined the victim"
    );
    assert_eq!(
        user_count(&app).await,
        2,
        "the attacker got an account of their own"
    );
    let theirs = user_id_by_email(&app, "victim@xn--exmple-qta.com").await;
    assert_ne!(theirs, victim_id);
}
db_tests!(a_provider_reporting_a_lookalike_address_does_not_enter_the_victims_account);

async fn a_provider_name_of_150_characters_signs_up_cut_to_100(backend: Backend) {
    let (app, fakes) = app_with_providers(backend, false).await;
    let long = "가".repeat(150);
    fakes.discord.set_profile(
        serde_json::json!({"id": "77", "username": "long", "global_name": long,
        "email": "long@discord.com", "verified": true, "avatar": "not a hash\u{0}"}),
    );
    let page = sign_in(&app.browser(), "discord", "/").await;
    assert_eq!(page.status, 303, "this person can sign up: {}", page.body);
    let id = user_id_by_email(&app, "long@discord.com").await;
    let user = app.state.accounts().user(id).await.unwrap();
    assert_eq!(user.display_name.unwrap().chars().count(), 100);
}
db_tests!(a_provider_name_of_150_characters_signs_up_cut_to_100);

async fn a_google_user_without_a_verified_address_can_add_one_and_a_password(backend: Backend) {
    let (app, fakes) = app_with_providers(backend, false).await;
    fakes.google.set_profile(
        serde_json::json!({"sub": "g-unverified", "email": "new.person@gmail.com",
                                                "email_verified": false, "name": "New"}),
    );
    let browser = app.browser();
    assert_eq!(sign_in(&browser, "google", "/account").await.status, 303);
    let account = browser.get("/account").await;
    assert!(
        account.body.contains("action=\"/account/email\""),
        "an address can be added: {}",
        account.body
    );
    assert!(
        !account.body.contains("action=\"/account/password\""),
        "a password needs an address first"
    );
    assert!(
        account.body.contains("disabled"),
        "Google is the only way in: no live unlink button"
    );
    assert!(
        account.body.contains("only way to sign in"),
        "{}",
        account.body
    );

    let page = browser
        .post_form(
            "/account/email",
            &[("csrf", &account.csrf()), ("email", "new.person@gmail.com")],
        )
        .await;
    assert_eq!(
        page.location.as_deref(),
        Some("/account?notice=email_sent"),
        "{}",
        page.body
    );
    let mail = fakes
        .smtp
        .wait_for_mail("new.person@gmail.com", |_| true)
        .await;
    let link = mail
        .link_containing("/confirm-email?token=")
        .expect("a confirmation link");
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let form = browser.get(&link).await;
    let page = browser
        .post_form(
            "/confirm-email",
            &[("csrf", &form.csrf()), ("token", &token)],
        )
        .await;
    assert!(page.body.contains("confirmed"), "{}", page.body);

    let account = browser.get("/account").await;
    assert!(
        account.body.contains("new.person@gmail.com")
            && account.body.contains("action=\"/account/password\"")
    );
    let page = browser
        .post_form(
            "/account/password",
            &[("csrf", &account.csrf()), ("password", "my own password")],
        )
        .await;
    assert_eq!(
        page.location.as_deref(),
        Some("/account?notice=password_set"),
        "{}",
        page.body
    );
    assert_eq!(
        app.try_login("new.person@gmail.com", "my own password")
            .await
            .0,
        200
    );
}
db_tests!(a_google_user_without_a_verified_address_can_add_one_and_a_password);

async fn each_provider_gets_its_client_secret_the_configured_way(backend: Backend) {
    let (app, fakes) = app_with_providers(backend, true).await;
    for provider in ["discord", "google", "kakao"] {
        assert_eq!(
            sign_in(&app.browser(), provider, "/").await.status,
            303,
            "{provider}"
        );
    }
    let used = |fake: &FakeOAuth| fake.token_requests()[0]["_client_auth"].clone();
    assert_eq!(used(&fakes.discord), "basic");
    assert_eq!(used(&fakes.google), "basic");
    assert_eq!(
        used(&fakes.kakao),
        "body",
        "Kakao reads the secret from the body only"
    );

    let google = FakeOAuth::start(Shape::Google).await;
    let g = google.base_url();
    let urls = [
        format!("{g}/o/oauth2/v2/auth"),
        format!("{g}/token"),
        format!("{g}/v1/userinfo"),
    ];
    let app = spawn_app_with(
        backend,
        None,
        &[
            ("GOOGLE_CLIENT_ID", FakeOAuth::CLIENT_ID),
            ("GOOGLE_CLIENT_SECRET", FakeOAuth::CLIENT_SECRET),
            ("GOOGLE_AUTHORIZE_URL", &urls[0]),
            ("GOOGLE_TOKEN_URL", &urls[1]),
            ("GOOGLE_USERINFO_URL", &urls[2]),
            ("GOOGLE_TOKEN_AUTH", "body"),
        ],
    )
    .await;
    assert_eq!(sign_in(&app.browser(), "google", "/").await.status, 303);
    assert_eq!(used(&google), "body", "configurable per provider");
}
db_tests!(each_provider_gets_its_client_secret_the_configured_way);

async fn starting_a_sign_in_or_a_link_with_an_expired_access_cookie_keeps_the_session(
    backend: Backend,
) {
    let (app, fakes) = app_with_providers(backend, false).await;
    let browser = app.browser();
    register_in(&browser, "ada@example.com").await;
    verify_by_mail(&browser, &fakes.smtp, "ada@example.com").await;
    // The access cookie expires (replaced by garbage); the refresh cookie is still good.
    let csrf = browser.get("/account").await.csrf();
    browser.set_cookie("herald_access=expired; Path=/");
    let start = browser
        .post_form("/auth/google/link", &[("csrf", &csrf)])
        .await;
    assert_eq!(start.status, 303, "{}", start.body);
    assert!(
        start
            .set_cookies
            .iter()
            .any(|c| c.starts_with("herald_access=ey")),
        "renewed cookies ride on the redirect: {:?}",
        start.set_cookies
    );
    let at_google = browser.get(start.location.as_deref().unwrap()).await;
    let done = browser.get(at_google.location.as_deref().unwrap()).await;
    assert_eq!(done.location.as_deref(), Some("/account"), "{}", done.body);
    let ada = user_id_by_email(&app, "ada@example.com").await;
    assert_eq!(
        app.state
            .accounts()
            .linked_accounts(ada)
            .await
            .unwrap()
            .len(),
        1
    );

    browser.set_cookie("herald_access=expired; Path=/");
    let start = browser.get("/auth/google/login?next=/account").await;
    assert!(
        start
            .set_cookies
            .iter()
            .any(|c| c.starts_with("herald_access=ey")),
        "{:?}",
        start.set_cookies
    );
    assert_eq!(browser.get("/account").await.status, 200, "still signed in");
}
db_tests!(starting_a_sign_in_or_a_link_with_an_expired_access_cookie_keeps_the_session);
