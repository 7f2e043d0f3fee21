//! Accounts through the JSON API: registration, sign-in, tokens, sessions, profile,
//! verification and reset by real e-mail, administration, and the limits.

use reqwest::Method;
use serde_json::json;

use crate::db_tests;
use crate::helpers::*;
use crate::smtp::SmtpCapture;

const PASSWORD: &str = "correct horse battery";

async fn app_with_smtp(backend: Backend) -> (TestApp, SmtpCapture) {
    let smtp = SmtpCapture::start();
    let app = spawn_app_with(backend, None, &[("SMTP_URL", &smtp.url())]).await;
    (app, smtp)
}

fn token(v: &serde_json::Value, name: &str) -> String {
    v[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} in {v}"))
        .to_owned()
}

async fn register_answers_tokens_and_the_account_exists(backend: Backend) {
    let app = spawn_app(backend).await;
    let tokens = app.register("  Ada@Example.COM ", PASSWORD).await;
    assert_eq!(tokens.token_type, "bearer");
    assert!(tokens.expires_in > 0);
    assert_eq!(tokens.access_token.clone().split('.').count(), 3, "a JWT");
    let (status, me) = app.me(&tokens.access_token).await;
    assert_eq!(status, 200);
    assert_eq!(me["email"], "ada@example.com", "normalised");
    assert_eq!(me["role"], "user");
    assert_eq!(me["email_verified"], false);
    assert_eq!(me["has_password"], true);
}
db_tests!(register_answers_tokens_and_the_account_exists);

async fn registration_refuses_taken_addresses_bad_input_and_role_smuggling(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("ada@example.com", PASSWORD).await;
    let app = &app;
    let register = |body: serde_json::Value| async move {
        app.post_json("/api/v1/auth/register", &body, None).await
    };
    let (status, body) = register(json!({"email": "ADA@example.com", "password": PASSWORD})).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("4000003")));
    let (_, body) = register(json!({"email": "not-an-email", "password": PASSWORD})).await;
    assert_eq!(body["code"], "4000019");
    let (_, body) = register(json!({"email": "b@example.com", "password": "short"})).await;
    assert_eq!(body["code"], "4000020");
    let (_, body) = register(json!({"email": "b@example.com"})).await;
    assert_eq!(body["code"], "4000015");
    let (status, body) =
        register(json!({"email": "c@example.com", "password": PASSWORD, "role": "admin"})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("4000017")),
        "{body}"
    );
    assert!(body["detail"].as_str().unwrap().contains("role"));
    let (status, _) = app.try_login("c@example.com", PASSWORD).await;
    assert_eq!(status, 400, "nothing was created");
}
db_tests!(registration_refuses_taken_addresses_bad_input_and_role_smuggling);

async fn login_gives_one_answer_for_unknown_address_and_wrong_password(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("ada@example.com", PASSWORD).await;
    let tokens = app.login("ADA@example.com", PASSWORD).await;
    assert_eq!(app.me(&tokens.access_token).await.0, 200);
    let (s1, wrong) = app.try_login("ada@example.com", "wrong password!").await;
    let (s2, unknown) = app.try_login("nobody@example.com", PASSWORD).await;
    assert_eq!((s1, s2), (400, 400));
    assert_eq!(wrong, unknown, "identical bodies");
    assert_eq!(wrong["code"], "4000004");
}
db_tests!(login_gives_one_answer_for_unknown_address_and_wrong_password);

async fn refresh_tokens_rotate_and_a_reused_one_ends_the_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.register("ada@example.com", PASSWORD).await;
    let app = &app;
    let refresh = |t: String| async move {
        app.post_json("/api/v1/auth/refresh", &json!({"refresh_token": t}), None)
            .await
    };
    let (status, second) = refresh(first.refresh_token.clone()).await;
    assert_eq!(status, 200);
    assert_ne!(second["refresh_token"], first.refresh_token.as_str());
    assert_eq!(app.me(&token(&second, "access_token")).await.0, 200);

    // The second pair was used: the first refresh token again is theft. The session ends.
    let (status, _) = refresh(token(&second, "refresh_token")).await;
    assert_eq!(status, 200);
    let (status, body) = refresh(first.refresh_token.clone()).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("4000001")));
    let (status, body) = app.me(&token(&second, "access_token")).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("4010001")));

    // Another session of the same account is untouched.
    let other = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(app.me(&other.access_token.clone()).await.0, 200);
    let (status, _) = refresh("not-a-token".into()).await;
    assert_eq!(status, 400);
}
db_tests!(refresh_tokens_rotate_and_a_reused_one_ends_the_session);

async fn logout_ends_one_session_and_logout_all_ends_every_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.register("ada@example.com", PASSWORD).await;
    let b = app.login("ada@example.com", PASSWORD).await;
    let c = app.login("ada@example.com", PASSWORD).await;
    let (status, _) = app
        .post_json(
            "/api/v1/auth/logout",
            &json!({}),
            Some(&a.access_token.clone()),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(app.me(&a.access_token.clone()).await.0, 401);
    let (status, _) = app
        .post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": a.refresh_token.clone()}),
            None,
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(app.me(&b.access_token.clone()).await.0, 200);

    let (status, _) = app
        .post_json(
            "/api/v1/auth/logout-all",
            &json!({}),
            Some(&b.access_token.clone()),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(app.me(&b.access_token.clone()).await.0, 401);
    assert_eq!(app.me(&c.access_token.clone()).await.0, 401);
    let (status, _) = app.post_json("/api/v1/auth/logout", &json!({}), None).await;
    assert_eq!(status, 401);
}
db_tests!(logout_ends_one_session_and_logout_all_ends_every_one);

async fn users_change_their_profile_but_not_their_role(backend: Backend) {
    let app = spawn_app(backend).await;
    let access = app.register("ada@example.com", PASSWORD).await.access_token;
    let app = &app;
    let patch = |body: serde_json::Value| {
        let access = access.clone();
        async move {
            app.send_json(
                Method::PATCH,
                "/api/v1/users/me",
                Some(&body),
                Some(&access),
            )
            .await
        }
    };
    let (status, me) =
        patch(json!({"display_name": " Ada L. ", "locale": "ko-KR", "nickname": "ada"})).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(
        (me["display_name"].as_str(), me["locale"].as_str()),
        (Some("Ada L."), Some("ko"))
    );
    let (_, me) = patch(json!({"nickname": null})).await;
    assert!(me["nickname"].is_null(), "null clears");
    assert_eq!(me["display_name"], "Ada L.", "absent fields stay");
    let (status, body) = patch(json!({"role": "admin"})).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("4000017")));
    let (_, body) = patch(json!({"locale": "fr"})).await;
    assert_eq!(body["code"], "4000021");
    let (_, body) = patch(json!({"avatar_url": "javascript:alert(1)"})).await;
    assert_eq!(body["code"], "4000021");
    let (_, me) = app.me(&access).await;
    assert_eq!(me["role"], "user");
}
db_tests!(users_change_their_profile_but_not_their_role);

async fn verification_mail_arrives_and_its_link_verifies_once(backend: Backend) {
    let (app, smtp) = app_with_smtp(backend).await;
    let tokens = app.register("ada@example.com", PASSWORD).await;
    let mail = smtp
        .wait_for_mail("ada@example.com", |m| m.subject().contains("Verify"))
        .await;
    let link = mail
        .link_containing("/verify-email?token=")
        .expect("a verification link");
    assert!(link.starts_with(&app.base), "{link} points at this server");
    let verification = link.split("token=").nth(1).unwrap().to_owned();
    let body = json!({"token": verification});
    let (status, _) = app.post_json("/api/v1/auth/verify", &body, None).await;
    assert_eq!(status, 401, "only the account's own session verifies");
    let stranger = app.register("stranger@example.com", PASSWORD).await;
    let (status, answer) = app
        .post_json("/api/v1/auth/verify", &body, Some(&stranger.access_token))
        .await;
    assert_eq!((status, answer["code"].as_str()), (403, Some("4030005")));
    let (status, _) = app
        .post_json("/api/v1/auth/verify", &body, Some(&tokens.access_token))
        .await;
    assert_eq!(status, 200);
    let (_, me) = app.me(&tokens.access_token).await;
    assert_eq!(me["email_verified"], true);
    let (status, body) = app
        .post_json("/api/v1/auth/verify", &body, Some(&tokens.access_token))
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("already_verified")),
        "a second click says so"
    );
    let (status, _) = app
        .post_json("/api/v1/auth/verify/request", &json!({}), None)
        .await;
    assert_eq!(status, 401);
}
db_tests!(verification_mail_arrives_and_its_link_verifies_once);

async fn password_reset_by_mail_changes_the_password_and_ends_sessions(backend: Backend) {
    let (app, smtp) = app_with_smtp(backend).await;
    let old = app.register("ada@example.com", PASSWORD).await;
    let (status, body) = app
        .post_json(
            "/api/v1/auth/forgot",
            &json!({"email": "Ada@example.com"}),
            None,
        )
        .await;
    assert_eq!((status, body["status"].as_str()), (202, Some("accepted")));
    let (status, _) = app
        .post_json(
            "/api/v1/auth/forgot",
            &json!({"email": "nobody@example.com"}),
            None,
        )
        .await;
    assert_eq!(status, 202, "the same answer for an unknown address");

    let mail = smtp
        .wait_for_mail("ada@example.com", |m| m.subject().contains("Reset"))
        .await;
    let reset = mail.link_containing("/reset-password?token=").unwrap();
    let reset = reset.split("token=").nth(1).unwrap();
    let (_, body) = app
        .post_json(
            "/api/v1/auth/reset",
            &json!({"token": reset, "password": "short"}),
            None,
        )
        .await;
    assert_eq!(body["code"], "4000020");
    let (status, _) = app
        .post_json(
            "/api/v1/auth/reset",
            &json!({"token": reset, "password": "a brand new secret"}),
            None,
        )
        .await;
    assert_eq!(status, 200);

    assert_eq!(app.try_login("ada@example.com", PASSWORD).await.0, 400);
    assert_eq!(
        app.try_login("ada@example.com", "a brand new secret")
            .await
            .0,
        200
    );
    assert_eq!(
        app.me(&old.access_token.clone()).await.0,
        401,
        "old sessions end"
    );
    let (_, body) = app
        .post_json(
            "/api/v1/auth/reset",
            &json!({"token": reset, "password": "another secret!"}),
            None,
        )
        .await;
    assert_eq!(body["code"], "4000001", "single use");
    assert!(
        smtp.mails()
            .iter()
            .all(|m| !m.to.iter().any(|t| t.contains("nobody"))),
        "no mail for an unknown address"
    );
}
db_tests!(password_reset_by_mail_changes_the_password_and_ends_sessions);

#[tokio::test]
async fn production_without_smtp_says_email_is_unavailable() {
    let key = "k".repeat(40);
    let app = spawn_app_with(
        Backend::Sqlite,
        None,
        &[("HERALD_ENV", "production"), ("SECRET_KEY", &key)],
    )
    .await;
    let (status, body) = app
        .post_json(
            "/api/v1/auth/forgot",
            &json!({"email": "a@example.com"}),
            None,
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (503, Some("5030003")));
}

async fn administrators_list_and_change_users_and_others_cannot(backend: Backend) {
    let app = spawn_app(backend).await;
    app.state
        .accounts()
        .create_admin("root@example.com", PASSWORD)
        .await
        .unwrap();
    let admin = app.login("root@example.com", PASSWORD).await;
    let admin = admin.access_token.clone();
    let user = app.register("ada@example.com", PASSWORD).await.access_token;
    let (_, me) = app.me(&user).await;
    let ada = me["id"].as_i64().unwrap();

    let (status, page) = app
        .send_json(
            Method::GET,
            "/api/v1/users?page=1&per_page=1",
            None,
            Some(&admin),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            page["total"].as_u64(),
            page["items"].as_array().unwrap().len()
        ),
        (Some(2), 1)
    );
    let (status, body) = app
        .send_json(Method::GET, "/api/v1/users", None, Some(&user))
        .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("4030001")));
    let path = format!("/api/v1/users/{ada}");
    let (status, _) = app
        .send_json(
            Method::PATCH,
            &path,
            Some(&json!({"role": "admin"})),
            Some(&user),
        )
        .await;
    assert_eq!(status, 403, "a user cannot promote themselves");

    let (status, changed) = app
        .send_json(
            Method::PATCH,
            &path,
            Some(&json!({"role": "staff"})),
            Some(&admin),
        )
        .await;
    assert_eq!((status, changed["role"].as_str()), (200, Some("staff")));
    let (status, _) = app
        .send_json(
            Method::PATCH,
            &path,
            Some(&json!({"status": "blocked"})),
            Some(&admin),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(app.me(&user).await.0, 401, "a blocked user's sessions end");
    let (status, body) = app.try_login("ada@example.com", PASSWORD).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("4030003")));

    let (_, root) = app.me(&admin).await;
    let own = format!("/api/v1/users/{}", root["id"]);
    let (status, _) = app
        .send_json(
            Method::PATCH,
            &own,
            Some(&json!({"status": "blocked"})),
            Some(&admin),
        )
        .await;
    assert_eq!(status, 403, "not on themselves");
    let (status, body) = app
        .send_json(
            Method::PATCH,
            "/api/v1/users/999999",
            Some(&json!({"role": "user"})),
            Some(&admin),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (404, Some("4040001")));
}
db_tests!(administrators_list_and_change_users_and_others_cannot);

async fn repeated_failures_lock_the_account_for_a_while(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("ada@example.com", PASSWORD).await;
    for _ in 0..5 {
        assert_eq!(
            app.try_login("ada@example.com", "wrong password!").await.0,
            400
        );
    }
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        429,
        "locked, even with the right password"
    );
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "4290002");
    // Unknown addresses lock the same way: the lock reveals nothing.
    for _ in 0..5 {
        app.try_login("ghost@example.com", "wrong password!").await;
    }
    assert_eq!(
        app.try_login("ghost@example.com", "wrong password!")
            .await
            .1["code"],
        "4290002"
    );
}
db_tests!(repeated_failures_lock_the_account_for_a_while);

async fn one_address_cannot_register_without_limit(backend: Backend) {
    let app = spawn_app(backend).await;
    for i in 0..10 {
        app.register(&format!("user{i}@example.com"), PASSWORD)
            .await;
    }
    let response = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .json(&json!({"email": "user10@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "4290001");
}
db_tests!(one_address_cannot_register_without_limit);

async fn forged_expired_and_foreign_access_tokens_are_refused(backend: Backend) {
    use jsonwebtoken::{EncodingKey, Header, encode};
    let app = spawn_app(backend).await;
    let tokens = app.register("ada@example.com", PASSWORD).await;
    let real = tokens.access_token.clone();
    let claims = app.state.accounts().authenticate(&real).await.unwrap();
    let now = herald::db::now_unix();
    let make = |key: &[u8], aud: &str, exp: i64| {
        let body = json!({"sub": claims.0.id.to_string(), "sid": claims.1, "iat": now, "exp": exp,
                          "iss": app.state.config().public_url.as_str(), "aud": aud, "jti": "x"});
        encode(&Header::default(), &body, &EncodingKey::from_secret(key)).unwrap()
    };
    let keys = herald::crypto::Keys::derive(&app.state.config().secret_key);
    assert_eq!(
        app.me(&make(&keys.jwt, "herald", now + 600)).await.0,
        200,
        "the test builds real tokens"
    );
    for forged in [
        make(b"some other key", "herald", now + 600),
        make(&keys.jwt, "herald", now - 120),
        make(&keys.jwt, "another-service", now + 600),
        format!("{real}x"),
    ] {
        let (status, body) = app.me(&forged).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("4010001")),
            "{forged}"
        );
    }
}
db_tests!(forged_expired_and_foreign_access_tokens_are_refused);

async fn bcrypt_hashes_from_the_seed_sign_in_and_are_upgraded(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("seed@example.com", PASSWORD).await;
    let bcrypt_hash = bcrypt::hash("seed password 1", 4).unwrap();
    sqlx::query("UPDATE users SET password_hash = ? WHERE email = ?")
        .bind(&bcrypt_hash)
        .bind("seed@example.com")
        .execute(app.state.db().pool())
        .await
        .unwrap();
    assert_eq!(
        app.try_login("seed@example.com", "seed password 1").await.0,
        200
    );
    let stored: String = sqlx::Row::get(
        &sqlx::query("SELECT password_hash FROM users WHERE email = ?")
            .bind("seed@example.com")
            .fetch_one(app.state.db().pool())
            .await
            .unwrap(),
        0,
    );
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    assert_eq!(
        app.try_login("seed@example.com", "seed password 1").await.0,
        200
    );
}
db_tests!(bcrypt_hashes_from_the_seed_sign_in_and_are_upgraded);

async fn malformed_json_gets_the_json_error_body(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "4000017");
    assert!(body["detail"].as_str().unwrap().contains("EOF"), "{body}");
}
db_tests!(malformed_json_gets_the_json_error_body);
