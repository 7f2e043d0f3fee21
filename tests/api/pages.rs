//! The account pages in a browser: forms with CSRF tokens, languages, cookies, and the e-mailed
//! links; and a check that no secret of any flow reaches the logs.

use serde_json::json;

use crate::db_tests;
use crate::helpers::*;
use crate::smtp::SmtpCapture;

const PASSWORD: &str = "a good password";

async fn register_sign_out_and_sign_in_through_the_pages(backend: Backend) {
    let app = spawn_app(backend).await;
    let browser = app.browser();
    let page = browser
        .submit(
            "/register",
            "/register",
            &[("email", "ada@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(
        (page.status, page.location.as_deref()),
        (303, Some("/account"))
    );
    for cookie in page.set_cookies.iter().filter(|c| c.starts_with("herald_")) {
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );
    }
    let account = browser.get("/account").await;
    assert_eq!(account.status, 200);
    assert!(account.body.contains("ada@example.com"));

    let csrf = account.csrf();
    let page = browser.post_form("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(page.location.as_deref(), Some("/login"));
    let page = browser.get("/account").await;
    assert_eq!(
        page.location.as_deref(),
        Some("/login?next=%2Faccount"),
        "signed out"
    );

    let page = browser
        .submit(
            "/login",
            "/login",
            &[
                ("email", "ada@example.com"),
                ("password", "wrong password"),
                ("next", "/docs"),
            ],
        )
        .await;
    assert_eq!(page.status, 400);
    assert!(
        page.body.contains("4000004") && page.body.contains("ada@example.com"),
        "the form keeps the address"
    );
    let page = browser
        .submit(
            "/login",
            "/login",
            &[
                ("email", "ada@example.com"),
                ("password", PASSWORD),
                ("next", "/docs"),
            ],
        )
        .await;
    assert_eq!(page.location.as_deref(), Some("/docs"));
    assert_eq!(
        browser.get("/login").await.location.as_deref(),
        Some("/account"),
        "already signed in"
    );
    let page = app
        .browser()
        .submit(
            "/login",
            "/login",
            &[
                ("email", "ada@example.com"),
                ("password", PASSWORD),
                ("next", "https://evil.example"),
            ],
        )
        .await;
    assert_eq!(page.location.as_deref(), Some("/account"));
}
db_tests!(register_sign_out_and_sign_in_through_the_pages);

async fn forms_without_the_right_csrf_token_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let browser = app.browser();
    browser.get("/register").await; // has a CSRF cookie now
    let page = browser
        .post_form(
            "/register",
            &[("email", "a@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(page.status, 403);
    assert!(page.body.contains("4030002"));
    // A token from another browser does not match this browser's cookie.
    let foreign = app.browser().get("/register").await.csrf();
    let page = browser
        .post_form(
            "/register",
            &[
                ("csrf", &foreign),
                ("email", "a@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(page.status, 403);
    // A fresh browser posting straight away has no cookie at all.
    let page = app
        .browser()
        .post_form(
            "/login",
            &[
                ("csrf", &foreign),
                ("email", "a@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(page.status, 403);
    assert_eq!(
        app.try_login("a@example.com", PASSWORD).await.0,
        400,
        "nothing was registered"
    );
    // Signed-in actions too.
    let signed_in = app.browser();
    signed_in
        .submit(
            "/register",
            "/register",
            &[("email", "b@example.com"), ("password", PASSWORD)],
        )
        .await;
    let page = signed_in
        .post_form("/logout-all", &[("csrf", "forged")])
        .await;
    assert_eq!(page.status, 403);
    assert_eq!(
        signed_in.get("/account").await.status,
        200,
        "still signed in"
    );
}
db_tests!(forms_without_the_right_csrf_token_are_refused);

async fn pages_speak_korean_to_korean_browsers_and_users(backend: Backend) {
    let app = spawn_app(backend).await;
    let browser = app.browser();
    let page = browser
        .get_with("/login", ("accept-language", "ko-KR,ko;q=0.9,en;q=0.5"))
        .await;
    assert!(
        page.body.contains("<html lang=\"ko\">") && page.body.contains("로그인"),
        "{}",
        page.body
    );
    let page = browser
        .get_with("/login", ("accept-language", "en-US"))
        .await;
    assert!(page.body.contains("Sign in") && !page.body.contains("로그인"));
    let page = browser
        .submit(
            "/login",
            "/login",
            &[("email", "x@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert!(page.body.contains("Wrong e-mail or password."));

    browser
        .submit(
            "/register",
            "/register",
            &[("email", "ada@example.com"), ("password", PASSWORD)],
        )
        .await;
    let csrf = browser.get("/account").await.csrf();
    let page = browser
        .post_form(
            "/account/profile",
            &[
                ("csrf", &csrf),
                ("display_name", "에이다"),
                ("locale", "ko"),
            ],
        )
        .await;
    assert_eq!(page.location.as_deref(), Some("/account?notice=saved"));
    let page = browser
        .get_with("/account?notice=saved", ("accept-language", "en"))
        .await;
    assert!(
        page.body.contains("내 계정") && page.body.contains("저장되었습니다."),
        "the user's language wins"
    );
    assert!(page.body.contains("에이다"));
}
db_tests!(pages_speak_korean_to_korean_browsers_and_users);

async fn an_expired_page_session_is_renewed_with_the_refresh_cookie(backend: Backend) {
    let app = spawn_app(backend).await;
    let tokens = app.register("ada@example.com", PASSWORD).await;
    let refresh = tokens.refresh_token.as_str();
    let response = app
        .client
        .get(app.url("/account"))
        .header(
            "cookie",
            format!("herald_access=expired-or-garbage; herald_refresh={refresh}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookies: Vec<_> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(
        cookies.iter().any(|c| c.starts_with("herald_access=ey")),
        "{cookies:?}"
    );
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("herald_refresh=") && !c.contains(refresh))
    );
    let renewed = cookies
        .iter()
        .find(|c| c.starts_with("herald_refresh="))
        .unwrap();
    let renewed = renewed
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("herald_refresh=");
    // Spent by the renewal: within the grace period it yields the same successor.
    let (status, again) = app
        .post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": refresh}),
            None,
        )
        .await;
    assert_eq!(
        (status, again["refresh_token"].as_str()),
        (200, Some(renewed))
    );
}
db_tests!(an_expired_page_session_is_renewed_with_the_refresh_cookie);

async fn reset_and_verification_links_work_in_the_browser(backend: Backend) {
    let smtp = SmtpCapture::start();
    let app = spawn_app_with(backend, None, &[("SMTP_URL", &smtp.url())]).await;
    let browser = app.browser();
    browser
        .submit(
            "/register",
            "/register",
            &[("email", "ada@example.com"), ("password", PASSWORD)],
        )
        .await;

    let mail = smtp
        .wait_for_mail("ada@example.com", |m| m.subject().contains("Verify"))
        .await;
    let link = mail.link_containing("/verify-email?token=").unwrap();
    let page = browser.get(&link).await;
    assert!(
        page.body.contains("type=\"submit\""),
        "opening the link alone changes nothing"
    );
    let account = browser.get("/account").await;
    assert!(account.body.contains("not verified"));
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let page = browser
        .post_form(
            "/verify-email",
            &[("csrf", &page.csrf()), ("token", &token)],
        )
        .await;
    assert!(
        page.body.contains("Your e-mail address is verified."),
        "{}",
        page.body
    );
    assert!(!browser.get("/account").await.body.contains("not verified"));

    let stranger = app.browser();
    let page = stranger
        .submit(
            "/forgot-password",
            "/forgot-password",
            &[("email", "ada@example.com")],
        )
        .await;
    assert!(page.body.contains("a link is on its way"));
    let mail = smtp
        .wait_for_mail("ada@example.com", |m| m.subject().contains("Reset"))
        .await;
    let link = mail.link_containing("/reset-password?token=").unwrap();
    let form = stranger.get(&link).await;
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let page = stranger
        .post_form(
            "/reset-password",
            &[
                ("csrf", &form.csrf()),
                ("token", &token),
                ("password", "the new password"),
            ],
        )
        .await;
    assert!(
        page.body.contains("Your password has been changed."),
        "{}",
        page.body
    );
    assert_eq!(
        app.try_login("ada@example.com", "the new password").await.0,
        200
    );
    assert_eq!(
        browser.get("/account").await.status,
        303,
        "the old browser session ended"
    );
}
db_tests!(reset_and_verification_links_work_in_the_browser);

/// Every flow at once, then the whole captured log is searched for the secrets it handled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_logs() {
    use crate::fake_oauth::{FakeOAuth, Shape};
    let smtp = SmtpCapture::start();
    let google = FakeOAuth::start(Shape::Google).await;
    let g = google.base_url();
    let (auth, token_url, info) = (
        format!("{g}/o/oauth2/v2/auth"),
        format!("{g}/token"),
        format!("{g}/v1/userinfo"),
    );
    let app = spawn_app_with(
        Backend::Sqlite,
        None,
        &[
            ("SMTP_URL", &smtp.url()),
            ("GOOGLE_CLIENT_ID", FakeOAuth::CLIENT_ID),
            ("GOOGLE_CLIENT_SECRET", FakeOAuth::CLIENT_SECRET),
            ("GOOGLE_AUTHORIZE_URL", &auth),
            ("GOOGLE_TOKEN_URL", &token_url),
            ("GOOGLE_USERINFO_URL", &info),
        ],
    )
    .await;
    let password = "Pw-4f1c3-unique-secret";
    let tokens = app.register("secret.keeper@example.com", password).await;
    let login = app.login("secret.keeper@example.com", password).await;
    app.try_login("secret.keeper@example.com", "Wrong-9d2e-unique")
        .await;
    let (_, refreshed) = app
        .post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": login.refresh_token}),
            None,
        )
        .await;
    app.post_json(
        "/api/v1/auth/forgot",
        &json!({"email": "secret.keeper@example.com"}),
        None,
    )
    .await;
    let mail = smtp
        .wait_for_mail("secret.keeper@example.com", |m| {
            m.subject().contains("Reset")
        })
        .await;
    let reset = mail
        .link_containing("token=")
        .unwrap()
        .split("token=")
        .nth(1)
        .unwrap()
        .to_owned();
    app.post_json(
        "/api/v1/auth/reset",
        &json!({"token": reset, "password": "New-77ab-unique-secret"}),
        None,
    )
    .await;
    let browser = app.browser();
    let start = browser.get("/auth/google/login").await;
    let at_google = browser.get(start.location.as_deref().unwrap()).await;
    let done = browser.get(at_google.location.as_deref().unwrap()).await;
    assert_eq!(done.status, 303);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let log = log_lines()
        .iter()
        .map(|l| l.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        log.contains("secret.keeper") || log.contains("**cret.keepe*@"),
        "the flows were logged at all"
    );
    let mut secrets = vec![
        password.to_owned(),
        "Wrong-9d2e-unique".to_owned(),
        "New-77ab-unique-secret".to_owned(),
        reset,
        FakeOAuth::CLIENT_SECRET.to_owned(),
        app.state.config().secret_key.expose().to_owned(),
    ];
    for t in [&tokens, &login] {
        secrets.push(t.access_token.clone());
        secrets.push(t.refresh_token.clone());
    }
    for name in ["access_token", "refresh_token"] {
        secrets.push(refreshed[name].as_str().unwrap().to_owned());
    }
    secrets.extend(google.issued_access_tokens());
    secrets.extend(google.issued_refresh_tokens());
    for secret in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "a secret reached the logs: {secret}"
        );
    }
}

async fn browsers_get_a_page_for_a_missing_address_and_programs_get_json(backend: Backend) {
    let app = spawn_app(backend).await;
    let browser = app.browser();
    let page = browser
        .get_with(
            "/no/such/page",
            ("accept", "text/html,application/xhtml+xml"),
        )
        .await;
    assert_eq!(page.status, 404);
    assert!(
        page.body.contains("<html") && page.body.contains("4040000"),
        "{}",
        page.body
    );
    let page = browser
        .get_with("/api/v1/nothing", ("accept", "text/html"))
        .await;
    assert_eq!(page.status, 404);
    assert!(page.body.starts_with('{'), "the API always answers JSON");
    let (status, body) = app.get_json("/no/such/page").await;
    assert_eq!((status, body["code"].as_str()), (404, Some("4040000")));
    let page = browser.get_with("/", ("accept-language", "ko")).await;
    assert!(
        page.body
            .contains("<strong>0</strong>개 서버에서 활동 중입니다.")
            && page.body.contains("꺼짐"),
        "{}",
        page.body
    );
    let page = browser.get_with("/login", ("accept-language", "ko")).await;
    assert!(
        page.body.contains("<title>로그인 · Herald</title>"),
        "each page has its own title"
    );
}
db_tests!(browsers_get_a_page_for_a_missing_address_and_programs_get_json);
