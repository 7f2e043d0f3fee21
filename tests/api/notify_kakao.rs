//! Kakao "send to me" through the outbox, against the fake Kakao: the seed's route, a token
//! refreshed (and its rotated refresh token kept), and the failures that need the user.

use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Row;

use crate::db_tests;
use crate::fake_oauth::{FakeOAuth, Shape};
use crate::helpers::*;
use crate::notifications::{FAST, Program};

async fn app(backend: Backend, kakao: &FakeOAuth) -> TestApp {
    let base = kakao.base_url();
    let mut env: Vec<(&str, &str)> = FAST.to_vec();
    env.extend([
        ("KAKAO_CLIENT_ID", FakeOAuth::CLIENT_ID),
        ("KAKAO_CLIENT_SECRET", FakeOAuth::CLIENT_SECRET),
        ("KAKAO_AUTH_BASE", base.as_str()),
        ("KAKAO_API_BASE", base.as_str()),
    ]);
    spawn_app_with(backend, None, &env).await
}

/// Links the fake's Kakao user to the program's owner with tokens the fake issued, sealed as
/// Herald stores them. (Kakao sign-in itself is tested in `social`; here it is the fixture.)
async fn link(program: &Program<'_>, kakao: &FakeOAuth, expires_at: i64) -> (String, String) {
    let (access, refresh) = kakao.grant("talk_message");
    let (_, me) = program.app.me(&program.access).await;
    let keys = program.app.state.accounts().keys();
    let now = herald::db::now_unix();
    sqlx::query(
        "INSERT INTO oauth_accounts (user_id, provider, provider_user_id, scopes, access_token, \
         refresh_token, token_expires_at, created_at, updated_at) \
         VALUES (?, 'kakao', '123456789', 'talk_message', ?, ?, ?, ?, ?)",
    )
    .bind(me["id"].as_i64().unwrap())
    .bind(keys.encrypt(&access))
    .bind(keys.encrypt(&refresh))
    .bind(expires_at)
    .bind(now)
    .bind(now)
    .execute(program.app.state.db().pool())
    .await
    .unwrap();
    (access, refresh)
}

async fn kakao_send(program: &Program<'_>, title: &str, message: &str) -> (u16, Value) {
    let body = json!({"title": title, "message": message});
    let (status, _, answer) = program
        .call(
            Method::POST,
            "/api/v1/services/kakao/send",
            Some(&body),
            None,
        )
        .await;
    (status, answer)
}

async fn the_seeds_kakao_route_sends_to_me(backend: Backend) {
    let kakao = FakeOAuth::start(Shape::Kakao).await;
    let app = app(backend, &kakao).await;
    let program = Program::new(&app, "owner@example.com").await;
    let (access, _) = link(&program, &kakao, herald::db::now_unix() + 3600).await;
    let (status, answer) = kakao_send(&program, "Build", "green").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["state"], "sent");
    assert!(answer["version"].is_string());
    let memos = kakao.memos();
    assert_eq!(memos.len(), 1);
    assert_eq!(memos[0].0, access, "the owner's own token");
    assert_eq!(memos[0].1["object_type"], "text");
    assert_eq!(memos[0].1["text"], "Build\n\ngreen");
    assert_eq!(
        memos[0].1["link"]["web_url"],
        app.state.config().public_url.to_string()
    );
    let id = answer["data"]["id"].as_i64().unwrap();
    assert_eq!(program.get(id).await["deliveries"][0]["to"], "me");
}

async fn an_expired_token_is_refreshed_and_the_rotated_one_kept(backend: Backend) {
    let kakao = FakeOAuth::start(Shape::Kakao).await;
    kakao.rotate_refresh_tokens(true);
    let app = app(backend, &kakao).await;
    let program = Program::new(&app, "owner@example.com").await;
    let (stale, old_refresh) = link(&program, &kakao, herald::db::now_unix() - 10).await;
    let (status, answer) = kakao_send(&program, "t", "m").await;
    assert_eq!(
        (status, &answer["data"]["state"]),
        (200, &json!("sent")),
        "{answer}"
    );
    let used = &kakao.memos()[0].0;
    assert_ne!(used, &stale, "a fresh access token");
    assert_eq!(Some(used), kakao.issued_access_tokens().last());
    let row = sqlx::query("SELECT refresh_token FROM oauth_accounts WHERE provider = 'kakao'")
        .fetch_one(app.state.db().pool())
        .await
        .unwrap();
    let sealed: String = row.get(0);
    let kept = app.state.accounts().keys().decrypt(&sealed).unwrap();
    assert_ne!(kept, old_refresh);
    assert_eq!(
        Some(&kept),
        kakao.issued_refresh_tokens().last(),
        "the rotated token is kept"
    );
}

async fn no_link_or_no_consent_fails_with_what_to_do(backend: Backend) {
    let kakao = FakeOAuth::start(Shape::Kakao).await;
    let app = app(backend, &kakao).await;
    let program = Program::new(&app, "owner@example.com").await;
    let (status, error) = kakao_send(&program, "t", "m").await;
    assert_eq!(
        (status, error["code"].as_str()),
        (400, Some("4000014")),
        "{error}"
    );
    assert!(
        error["detail"]
            .as_str()
            .unwrap()
            .contains("no Kakao account is linked")
    );

    link(&program, &kakao, herald::db::now_unix() + 3600).await;
    kakao.set_memo_consent(false);
    let (status, error) = kakao_send(&program, "t", "m").await;
    assert_eq!(
        (status, error["code"].as_str()),
        (400, Some("4000014")),
        "{error}"
    );
    assert!(
        error["detail"].as_str().unwrap().contains("talk_message"),
        "{error}"
    );
    assert!(kakao.memos().is_empty());
}

db_tests!(
    the_seeds_kakao_route_sends_to_me,
    an_expired_token_is_refreshed_and_the_rotated_one_kept,
    no_link_or_no_consent_fails_with_what_to_do,
);
