//! Refresh rotation under concurrency, and the browser's session across tabs and failures.

use serde_json::{Value, json};
use sqlx::Row;

use crate::db_test;
use crate::helpers::*;

const PASSWORD: &str = "correct horse battery";

fn field(v: &Value, name: &str) -> String {
    v[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} in {v}"))
        .to_owned()
}

async fn refresh(app: &TestApp, token: &str) -> (u16, Value) {
    app.post_json(
        "/api/v1/auth/refresh",
        &json!({"refresh_token": token}),
        None,
    )
    .await
}

db_test! {
    async fn the_same_refresh_token_twice_at_once_gets_one_successor(backend) {
        let app = spawn_app(backend).await;
        let first = app.register("ada@example.com", PASSWORD).await;
        let token = field(&first, "refresh_token");
        let answers = futures_util::future::join_all((0..8).map(|_| refresh(&app, &token))).await;
        assert!(answers.iter().all(|(status, _)| *status == 200), "{answers:?}");
        let successors: std::collections::HashSet<String> =
            answers.iter().map(|(_, b)| field(b, "refresh_token")).collect();
        assert_eq!(successors.len(), 1, "one successor for all: {successors:?}");
        for (_, pair) in &answers {
            assert_eq!(app.me(&field(pair, "access_token")).await.0, 200, "the session lives");
        }
        let successor = successors.into_iter().next().unwrap();
        assert_eq!(refresh(&app, &successor).await.0, 200, "and it renews on");
    }
}

db_test! {
    async fn parallel_refreshes_of_different_sessions_all_succeed(backend) {
        let app = spawn_app(backend).await;
        app.register("ada@example.com", PASSWORD).await;
        let mut tokens = Vec::new();
        for _ in 0..8 {
            let (_, pair) = app.login("ada@example.com", PASSWORD).await;
            tokens.push(field(&pair, "refresh_token"));
        }
        let answers = futures_util::future::join_all(tokens.iter().map(|t| refresh(&app, t))).await;
        assert!(answers.iter().all(|(status, _)| *status == 200), "no 'database is locked': {answers:?}");
    }
}

db_test! {
    async fn reuse_after_the_grace_period_ends_the_session(backend) {
        let app = spawn_app(backend).await;
        let first = app.register("ada@example.com", PASSWORD).await;
        let (_, second) = refresh(&app, &field(&first, "refresh_token")).await;
        // A minute later the first token shows up again: stolen.
        sqlx::query("UPDATE refresh_tokens SET used_at = used_at - 60 WHERE used_at IS NOT NULL")
            .execute(app.state.db().pool()).await.unwrap();
        let (status, body) = refresh(&app, &field(&first, "refresh_token")).await;
        assert_eq!((status, body["code"].as_str()), (400, Some("4000001")));
        assert_eq!(refresh(&app, &field(&second, "refresh_token")).await.0, 400, "the session ended");
        assert_eq!(app.me(&field(&second, "access_token")).await.0, 401);
    }
}

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

db_test! {
    async fn two_tabs_reloading_after_expiry_stay_signed_in(backend) {
        let app = spawn_app(backend).await;
        let tokens = app.register("ada@example.com", PASSWORD).await;
        // Sixteen idle minutes later both tabs reload with the same, expired access cookie.
        let cookies = format!("herald_access=expired; herald_refresh={}", field(&tokens, "refresh_token"));
        let (a, b) = tokio::join!(get_with_cookies(&app, "/account", &cookies), get_with_cookies(&app, "/account", &cookies));
        for tab in [&a, &b] {
            assert_eq!(tab.status(), 200, "both tabs stay signed in");
        }
        let (ra, rb) = (set_cookie(&a, "herald_refresh").unwrap(), set_cookie(&b, "herald_refresh").unwrap());
        assert_eq!(cookie_value(ra), cookie_value(rb), "one successor for both tabs");
        let renewed = format!("herald_access=expired; herald_refresh={}", cookie_value(ra));
        let next = get_with_cookies(&app, "/account", &renewed).await;
        assert_eq!(next.status(), 200, "the session survived");
        assert!(next.text().await.unwrap().contains("ada@example.com"));
    }
}

db_test! {
    async fn a_database_failure_never_signs_the_browser_out(backend) {
        let app = spawn_app(backend).await;
        let tokens = app.register("ada@example.com", PASSWORD).await;
        let cookies = format!("herald_access=expired; herald_refresh={}", field(&tokens, "refresh_token"));
        let pool = app.state.db().pool();
        sqlx::query("ALTER TABLE refresh_tokens RENAME TO refresh_tokens_away").execute(pool).await.unwrap();
        let response = get_with_cookies(&app, "/account", &cookies).await;
        let cleared = set_cookie(&response, "herald_refresh");
        assert!(cleared.is_none(), "cookies stay when the database fails: {cleared:?}");
        sqlx::query("ALTER TABLE refresh_tokens_away RENAME TO refresh_tokens").execute(pool).await.unwrap();
        let response = get_with_cookies(&app, "/account", &cookies).await;
        assert_eq!(response.status(), 200, "the same cookie still signs in");
    }
}

db_test! {
    async fn redirects_carry_the_renewed_session(backend) {
        let app = spawn_app(backend).await;
        let tokens = app.register("ada@example.com", PASSWORD).await;
        let cookies = format!("herald_access=expired; herald_refresh={}", field(&tokens, "refresh_token"));
        // Signed in, /login redirects onwards: the renewal must ride on the redirect.
        let response = get_with_cookies(&app, "/login?next=%2Faccount", &cookies).await;
        assert_eq!(response.status(), 303);
        let access = set_cookie(&response, "herald_access").expect("renewed access cookie");
        assert!(cookie_value(access).starts_with("ey"), "{access}");
        assert!(set_cookie(&response, "herald_refresh").is_some());
    }
}

db_test! {
    async fn a_repeated_query_parameter_spends_the_refresh_token_once(backend) {
        let app = spawn_app(backend).await;
        let tokens = app.register("ada@example.com", PASSWORD).await;
        let cookies = format!("herald_access=expired; herald_refresh={}", field(&tokens, "refresh_token"));
        let response = get_with_cookies(&app, "/login?next=%2Fa&next=%2Fb&notice=x&notice=y", &cookies).await;
        assert_eq!(response.status(), 303);
        assert_eq!(response.headers()["location"], "/a", "the first value counts");
        let issued: i64 = sqlx::query("SELECT COUNT(*) FROM refresh_tokens")
            .fetch_one(app.state.db().pool()).await.unwrap().get(0);
        assert_eq!(issued, 2, "one renewal: the first token and its one successor");
        let renewed = cookie_value(set_cookie(&response, "herald_refresh").unwrap()).to_owned();
        assert_eq!(refresh(&app, &renewed).await.0, 200, "no false theft alarm ended the session");
    }
}
