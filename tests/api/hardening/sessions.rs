//! Refresh rotation under concurrency, and the browser's session across tabs and failures.

use serde_json::Value;
use sqlx::Row;

use crate::db_tests;
use crate::helpers::*;

const PASSWORD: &str = "correct horse battery";

fn field(v: &Value, name: &str) -> String {
    v[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} in {v}"))
        .to_owned()
}

async fn the_same_refresh_token_twice_at_once_gets_one_successor(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.register("ada@example.com", PASSWORD).await;
    let token = first.refresh_token.clone();
    let answers = futures_util::future::join_all((0..8).map(|_| app.refresh(&token))).await;
    assert!(
        answers.iter().all(|(status, _)| *status == 200),
        "{answers:?}"
    );
    let successors: std::collections::HashSet<String> = answers
        .iter()
        .map(|(_, b)| field(b, "refresh_token"))
        .collect();
    assert_eq!(successors.len(), 1, "one successor for all: {successors:?}");
    for (_, pair) in &answers {
        assert_eq!(
            app.me(&field(pair, "access_token")).await.0,
            200,
            "the session lives"
        );
    }
    let successor = successors.into_iter().next().unwrap();
    assert_eq!(app.refresh(&successor).await.0, 200, "and it renews on");
}
db_tests!(the_same_refresh_token_twice_at_once_gets_one_successor);

async fn parallel_refreshes_of_different_sessions_all_succeed(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("ada@example.com", PASSWORD).await;
    let mut tokens = Vec::new();
    for _ in 0..8 {
        let pair = app.login("ada@example.com", PASSWORD).await;
        tokens.push(pair.refresh_token.clone());
    }
    let answers = futures_util::future::join_all(tokens.iter().map(|t| app.refresh(t))).await;
    assert!(
        answers.iter().all(|(status, _)| *status == 200),
        "no 'database is locked': {answers:?}"
    );
}
db_tests!(parallel_refreshes_of_different_sessions_all_succeed);

async fn reuse_after_the_grace_period_ends_the_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.register("ada@example.com", PASSWORD).await;
    let (_, second) = app.refresh(&first.refresh_token).await;
    // A minute later the first token shows up again: stolen.
    sqlx::query("UPDATE refresh_tokens SET used_at = used_at - 60 WHERE used_at IS NOT NULL")
        .execute(app.state.db().pool())
        .await
        .unwrap();
    let (status, body) = app.refresh(&first.refresh_token).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("4000001")));
    assert_eq!(
        app.refresh(&field(&second, "refresh_token")).await.0,
        400,
        "the session ended"
    );
    assert_eq!(app.me(&field(&second, "access_token")).await.0, 401);
}
db_tests!(reuse_after_the_grace_period_ends_the_session);

/// A request as a browser sends it, with the given cookies.
async fn get_with_cookies(app: &TestApp, path: &str, cookies: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("cookie", cookies)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap()
}

fn set_cookie<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
}

fn cookie_value(set_cookie: &str) -> &str {
    set_cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
}

async fn two_tabs_reloading_after_expiry_stay_signed_in(backend: Backend) {
    let app = spawn_app(backend).await;
    let tokens = app.register("ada@example.com", PASSWORD).await;
    // Sixteen idle minutes later both tabs reload with the same, expired access cookie.
    let cookies = format!(
        "herald_access=expired; herald_refresh={}",
        tokens.refresh_token.clone()
    );
    let (a, b) = tokio::join!(
        get_with_cookies(&app, "/account", &cookies),
        get_with_cookies(&app, "/account", &cookies)
    );
    for tab in [&a, &b] {
        assert_eq!(tab.status(), 200, "both tabs stay signed in");
    }
    let (ra, rb) = (
        set_cookie(&a, "herald_refresh").unwrap(),
        set_cookie(&b, "herald_refresh").unwrap(),
    );
    assert_eq!(
        cookie_value(ra),
        cookie_value(rb),
        "one successor for both tabs"
    );
    let renewed = format!("herald_access=expired; herald_refresh={}", cookie_value(ra));
    let next = get_with_cookies(&app, "/account", &renewed).await;
    assert_eq!(next.status(), 200, "the session survived");
    assert!(next.text().await.unwrap().contains("ada@example.com"));
}
db_tests!(two_tabs_reloading_after_expiry_stay_signed_in);

async fn a_database_failure_never_signs_the_browser_out(backend: Backend) {
    let app = spawn_app(backend).await;
    let tokens = app.register("ada@example.com", PASSWORD).await;
    let cookies = format!(
        "herald_access=expired; herald_refresh={}",
        tokens.refresh_token.clone()
    );
    let pool = app.state.db().pool();
    sqlx::query("ALTER TABLE refresh_tokens RENAME TO refresh_tokens_away")
        .execute(pool)
        .await
        .unwrap();
    let response = get_with_cookies(&app, "/account", &cookies).await;
    let cleared = set_cookie(&response, "herald_refresh");
    assert!(
        cleared.is_none(),
        "cookies stay when the database fails: {cleared:?}"
    );
    sqlx::query("ALTER TABLE refresh_tokens_away RENAME TO refresh_tokens")
        .execute(pool)
        .await
        .unwrap();
    let response = get_with_cookies(&app, "/account", &cookies).await;
    assert_eq!(response.status(), 200, "the same cookie still signs in");
}
db_tests!(a_database_failure_never_signs_the_browser_out);

async fn redirects_carry_the_renewed_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let tokens = app.register("ada@example.com", PASSWORD).await;
    let cookies = format!(
        "herald_access=expired; herald_refresh={}",
        tokens.refresh_token.clone()
    );
    // Signed in, /login redirects onwards: the renewal must ride on the redirect.
    let response = get_with_cookies(&app, "/login?next=%2Faccount", &cookies).await;
    assert_eq!(response.status(), 303);
    let access = set_cookie(&response, "herald_access").expect("renewed access cookie");
    assert!(cookie_value(access).starts_with("ey"), "{access}");
    assert!(set_cookie(&response, "herald_refresh").is_some());
}
db_tests!(redirects_carry_the_renewed_session);

async fn a_repeated_query_parameter_spends_the_refresh_token_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let tokens = app.register("ada@example.com", PASSWORD).await;
    let cookies = format!(
        "herald_access=expired; herald_refresh={}",
        tokens.refresh_token.clone()
    );
    let response = get_with_cookies(
        &app,
        "/login?next=%2Fa&next=%2Fb&notice=x&notice=y",
        &cookies,
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        "/a",
        "the first value counts"
    );
    let issued: i64 = sqlx::query("SELECT COUNT(*) FROM refresh_tokens")
        .fetch_one(app.state.db().pool())
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        issued, 2,
        "one renewal: the first token and its one successor"
    );
    let renewed = cookie_value(set_cookie(&response, "herald_refresh").unwrap()).to_owned();
    assert_eq!(
        app.refresh(&renewed).await.0,
        200,
        "no false theft alarm ended the session"
    );
}
db_tests!(a_repeated_query_parameter_spends_the_refresh_token_once);
