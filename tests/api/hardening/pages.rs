//! What the pages say when something goes wrong, in both languages, and what they keep private.

use crate::db_tests;
use crate::fake_discord::FakeDiscord;
use crate::helpers::*;

async fn korean_error_pages_say_what_happened_in_korean(backend: Backend) {
    let app = spawn_app(backend).await;
    let browser = app.browser();
    let page = browser
        .get_with_all(
            "/no/such/page",
            &[("accept-language", "ko"), ("accept", "text/html")],
        )
        .await;
    assert_eq!(page.status, 404);
    assert!(
        page.body.contains("페이지를 찾을 수 없습니다"),
        "a 404 says so: {}",
        page.body
    );
    assert!(
        page.body.contains("이 주소에는 아무것도 없습니다."),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("href=\"/login\""),
        "a way back for a visitor"
    );
    let page = browser
        .post_form("/account/profile", &[("csrf", "forged")])
        .await;
    assert_eq!(page.status, 403);
    assert!(
        page.body.contains("4030002") && page.body.contains("Not allowed"),
        "{}",
        page.body
    );

    browser
        .submit(
            "/register",
            "/register",
            &[
                ("email", "ada@example.com"),
                ("password", "a good password"),
            ],
        )
        .await;
    let page = browser
        .get_with("/nothing/here", ("accept", "text/html"))
        .await;
    assert!(
        page.body.contains("href=\"/account\""),
        "a signed-in user goes back to the account: {}",
        page.body
    );
}
db_tests!(korean_error_pages_say_what_happened_in_korean);

async fn the_bots_failure_reason_is_for_administrators_only(backend: Backend) {
    let discord = FakeDiscord::start().await;
    discord.reject_token(true);
    let app = spawn_app_with(backend, Some(discord.clone()), &[]).await;
    app.wait_for_bot("failed").await;
    let visitor = app.browser().get("/").await;
    assert!(
        visitor.body.contains("could not connect to Discord"),
        "{}",
        visitor.body
    );
    assert!(!visitor.body.contains("invalid token"), "{}", visitor.body);

    app.state
        .accounts()
        .create_admin("root@example.com", "an admin password")
        .await
        .unwrap();
    let admin = app.browser();
    admin
        .submit(
            "/login",
            "/login",
            &[
                ("email", "root@example.com"),
                ("password", "an admin password"),
            ],
        )
        .await;
    let page = admin.get("/").await;
    assert!(page.body.contains("invalid token"), "{}", page.body);
}
db_tests!(the_bots_failure_reason_is_for_administrators_only);

async fn a_used_verification_link_says_already_verified(backend: Backend) {
    let smtp = crate::smtp::SmtpCapture::start();
    let app = spawn_app_with(backend, None, &[("SMTP_URL", &smtp.url())]).await;
    let browser = app.browser();
    browser
        .submit(
            "/register",
            "/register",
            &[
                ("email", "ada@example.com"),
                ("password", "a good password"),
            ],
        )
        .await;
    let mail = smtp
        .wait_for_mail("ada@example.com", |m| m.subject().contains("Verify"))
        .await;
    let link = mail.link_containing("/verify-email?token=").unwrap();
    let token = link.split("token=").nth(1).unwrap().to_owned();
    for expected in ["Your e-mail address is verified.", "already verified"] {
        let form = browser.get(&link).await;
        let page = browser
            .post_form(
                "/verify-email",
                &[("csrf", &form.csrf()), ("token", &token)],
            )
            .await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains(expected), "{expected}: {}", page.body);
    }
}
db_tests!(a_used_verification_link_says_already_verified);

async fn signing_out_in_a_second_tab_after_the_first_did_works(backend: Backend) {
    let app = spawn_app(backend).await;
    let browser = app.browser();
    browser
        .submit(
            "/register",
            "/register",
            &[
                ("email", "ada@example.com"),
                ("password", "a good password"),
            ],
        )
        .await;
    let tab_a = browser.get("/account").await.csrf();
    let tab_b = browser.get("/account").await.csrf();
    assert_eq!(
        browser
            .post_form("/logout", &[("csrf", &tab_a)])
            .await
            .location
            .as_deref(),
        Some("/login")
    );
    let page = browser.post_form("/logout", &[("csrf", &tab_b)]).await;
    assert_eq!(
        (page.status, page.location.as_deref()),
        (303, Some("/login")),
        "{}",
        page.body
    );
}
db_tests!(signing_out_in_a_second_tab_after_the_first_did_works);

async fn head_requests_answer_like_get(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.client.head(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
}
db_tests!(head_requests_answer_like_get);
