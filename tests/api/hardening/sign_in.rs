//! The sign-in limits: bounded memory, counted before hashing, per account and source.

use serde_json::json;

use crate::db_tests;
use crate::helpers::*;

const PASSWORD: &str = "correct horse battery";

async fn a_flood_of_huge_addresses_stores_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let junk = "x".repeat(64 * 1024);
    let mut refused = 0;
    for i in 0..60 {
        let body = json!({"email": format!("{junk}{i}@example.com"), "password": "whatever"});
        let (status, body) = app.post_json("/api/v1/auth/login", &body, None).await;
        match status {
            400 => assert_eq!(
                body["code"], "4000019",
                "invalid input is refused, not counted"
            ),
            429 => refused += 1,
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(refused, 30, "the per-address limit still applies");
    // One key: this client's address. Nothing of the 64 KiB values was kept.
    assert_eq!(app.state.limiter().memory_keys(), 1);
}
db_tests!(a_flood_of_huge_addresses_stores_nothing);

async fn concurrent_guesses_are_counted_before_the_password_is_checked(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("ada@example.com", PASSWORD).await;
    let runs_before = app.state.accounts().hasher().runs();
    let guesses = (0..25).map(|i| {
        let app = &app;
        async move {
            app.try_login("ada@example.com", &format!("guess number {i}"))
                .await
        }
    });
    let answers = futures_util::future::join_all(guesses).await;
    let checked = answers
        .iter()
        .filter(|(s, b)| *s == 400 && b["code"] == "4000004")
        .count();
    let locked = answers
        .iter()
        .filter(|(s, b)| *s == 429 && b["code"] == "4290002")
        .count();
    assert_eq!((checked, locked), (5, 20), "{answers:?}");
    assert_eq!(
        app.state.accounts().hasher().runs() - runs_before,
        5,
        "only five were hashed"
    );
    let (status, body) = app.try_login("ada@example.com", PASSWORD).await;
    assert_eq!((status, body["code"].as_str()), (429, Some("4290002")));
}
db_tests!(concurrent_guesses_are_counted_before_the_password_is_checked);

async fn a_stranger_cannot_lock_the_owner_out(backend: Backend) {
    let app = spawn_app_with(backend, None, &[TRUST_LOCAL_PROXY]).await;
    app.register("ada@example.com", PASSWORD).await;
    let attempt = |ip: &'static str, password: &'static str| {
        let app = &app;
        async move {
            let body = json!({"email": "ada@example.com", "password": password});
            app.post_json_from(ip, "/api/v1/auth/login", &body).await
        }
    };
    for _ in 0..5 {
        assert_eq!(attempt("203.0.113.7", "wrong password!").await.0, 400);
    }
    let (status, body) = attempt("203.0.113.7", PASSWORD).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("4290002")),
        "locked for the guesser"
    );
    let (status, _) = attempt("198.51.100.9", PASSWORD).await;
    assert_eq!(status, 200, "the owner, elsewhere, signs in");
}
db_tests!(a_stranger_cannot_lock_the_owner_out);

async fn distributed_guessing_hits_a_ceiling_that_known_browsers_pass(backend: Backend) {
    let app = spawn_app_with(backend, None, &[TRUST_LOCAL_PROXY]).await;
    app.register("ada@example.com", PASSWORD).await;
    // Ada signed in from her browser once: it carries a device cookie.
    let browser = app.browser();
    let page = browser
        .submit(
            "/login",
            "/login",
            &[("email", "ada@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(page.status, 303);
    assert!(
        page.set_cookies
            .iter()
            .any(|c| c.starts_with("herald_device=")),
        "{:?}",
        page.set_cookies
    );
    browser
        .post_form(
            "/logout",
            &[("csrf", &browser.get("/account").await.csrf())],
        )
        .await;

    for n in 0..10 {
        let ip = format!("203.0.113.{}", n + 10);
        for _ in 0..5 {
            let body = json!({"email": "ada@example.com", "password": "wrong password!"});
            assert_eq!(
                app.post_json_from(&ip, "/api/v1/auth/login", &body).await.0,
                400
            );
        }
    }
    let body = json!({"email": "ada@example.com", "password": PASSWORD});
    let (status, answer) = app
        .post_json_from("198.51.100.1", "/api/v1/auth/login", &body)
        .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (429, Some("4290002")),
        "fifty failures everywhere lock the account"
    );
    let page = browser
        .submit(
            "/login",
            "/login",
            &[("email", "ada@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(
        (page.status, page.location.as_deref()),
        (303, Some("/account")),
        "{}",
        page.body
    );
}
db_tests!(distributed_guessing_hits_a_ceiling_that_known_browsers_pass);

async fn ipv6_clients_are_counted_by_their_64(backend: Backend) {
    let app = spawn_app_with(backend, None, &[TRUST_LOCAL_PROXY]).await;
    let register = |ip: String, n: u32| {
        let app = &app;
        async move {
            let body = json!({"email": format!("user{n}@example.com"), "password": PASSWORD});
            app.post_json_from(&ip, "/api/v1/auth/register", &body)
                .await
                .0
        }
    };
    for n in 0..10 {
        assert_eq!(register(format!("2001:db8:1:2::{n:x}"), n).await, 201);
    }
    assert_eq!(
        register("2001:db8:1:2:ffff::1".into(), 10).await,
        429,
        "the same /64"
    );
    assert_eq!(
        register("2001:db8:1:3::1".into(), 11).await,
        201,
        "another /64"
    );
}
db_tests!(ipv6_clients_are_counted_by_their_64);

async fn bad_reset_tokens_cost_no_hashing_and_resets_are_limited(backend: Backend) {
    let app = spawn_app(backend).await;
    let runs_before = app.state.accounts().hasher().runs();
    let mut codes = Vec::new();
    for i in 0..25 {
        let body = json!({"token": format!("forged-{i}"), "password": "a new password"});
        let (status, body) = app.post_json("/api/v1/auth/reset", &body, None).await;
        codes.push((status, body["code"].as_str().unwrap_or_default().to_owned()));
    }
    assert!(
        codes[..20].iter().all(|(s, c)| *s == 400 && c == "4000001"),
        "{codes:?}"
    );
    assert!(
        codes[20..].iter().all(|(s, c)| *s == 429 && c == "4290001"),
        "{codes:?}"
    );
    assert_eq!(
        app.state.accounts().hasher().runs(),
        runs_before,
        "no password was hashed"
    );
}
db_tests!(bad_reset_tokens_cost_no_hashing_and_resets_are_limited);
