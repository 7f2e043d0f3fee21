//! Managing API keys: the API at the seed's paths, the limits, ownership, the secret at rest,
//! and the account page.

use reqwest::Method;
use serde_json::{Value, json};

use crate::db_tests;
use crate::helpers::*;

pub const PASSWORD: &str = "correct horse battery";

/// A signed-in user and a way to call the key API as them.
pub struct Owner<'a> {
    pub app: &'a TestApp,
    pub access: String,
}

impl<'a> Owner<'a> {
    pub async fn new(app: &'a TestApp, email: &str) -> Owner<'a> {
        let tokens = app.register(email, PASSWORD).await;
        Owner {
            app,
            access: tokens.access_token,
        }
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.app
            .send_json(method, path, body.as_ref(), Some(&self.access))
            .await
    }

    /// A new key: (id, access key, secret).
    pub async fn create_key(&self, memo: &str) -> (i64, String, String) {
        let (status, key) = self
            .call(
                Method::POST,
                "/api/v1/users/apikeys",
                Some(json!({"user_memo": memo})),
            )
            .await;
        assert_eq!(status, 201, "{key}");
        (
            key["id"].as_i64().unwrap(),
            key["access_key"].as_str().unwrap().to_owned(),
            key["secret_key"].as_str().unwrap().to_owned(),
        )
    }
}

async fn keys_are_made_listed_changed_and_deleted_with_the_seeds_fields(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = Owner::new(&app, "ada@example.com").await;
    let (status, key) = owner
        .call(
            Method::POST,
            "/api/v1/users/apikeys",
            Some(json!({"user_memo": "billing"})),
        )
        .await;
    assert_eq!(status, 201, "{key}");
    for field in [
        "id",
        "access_key",
        "secret_key",
        "user_memo",
        "status",
        "created_at",
    ] {
        assert!(!key[field].is_null(), "{field} in {key}");
    }
    let access = key["access_key"].as_str().unwrap();
    let secret = key["secret_key"].as_str().unwrap();
    assert!(herald::keys::format::is_access_key(access), "{access}");
    assert!(herald::keys::format::is_secret(secret), "{secret}");
    assert_eq!(
        (key["user_memo"].as_str(), key["status"].as_str()),
        (Some("billing"), Some("active"))
    );

    let (_, list) = owner.call(Method::GET, "/api/v1/users/apikeys", None).await;
    let listed = &list.as_array().unwrap()[0];
    assert_eq!(listed["access_key"], access);
    assert!(
        listed.get("secret_key").is_none(),
        "the secret is shown once only: {listed}"
    );

    let id = key["id"].as_i64().unwrap();
    let path = format!("/api/v1/users/apikeys/{id}");
    let (status, changed) = owner
        .call(
            Method::PUT,
            &path,
            Some(json!({"user_memo": "reports", "status": "disabled"})),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(
        (changed["user_memo"].as_str(), changed["status"].as_str()),
        (Some("reports"), Some("disabled"))
    );
    let (status, body) = owner
        .call(
            Method::PUT,
            &path,
            Some(json!({"user_memo": "x".repeat(41)})),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("4000021")));
    let (status, _) = owner.call(Method::DELETE, &path, None).await;
    assert_eq!(status, 204);
    let (status, body) = owner.call(Method::DELETE, &path, None).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("4040003")));
}
db_tests!(keys_are_made_listed_changed_and_deleted_with_the_seeds_fields);

async fn a_fourth_active_key_is_refused_even_when_asked_for_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = Owner::new(&app, "ada@example.com").await;
    let attempts = (0..6).map(|i| {
        owner.call(
            Method::POST,
            "/api/v1/users/apikeys",
            Some(json!({"user_memo": format!("k{i}")})),
        )
    });
    let answers = futures_util::future::join_all(attempts).await;
    let made = answers.iter().filter(|(s, _)| *s == 201).count();
    let refused = answers
        .iter()
        .filter(|(s, b)| *s == 400 && b["code"] == "4000007")
        .count();
    assert_eq!((made, refused), (3, 3), "{answers:?}");
    // A disabled key frees a place; enabling it again would pass the limit.
    let first = answers.iter().find(|(s, _)| *s == 201).unwrap().1["id"]
        .as_i64()
        .unwrap();
    let path = format!("/api/v1/users/apikeys/{first}");
    owner
        .call(Method::PUT, &path, Some(json!({"status": "disabled"})))
        .await;
    owner.create_key("fourth").await;
    let (status, body) = owner
        .call(Method::PUT, &path, Some(json!({"status": "active"})))
        .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("4000007")));
}
db_tests!(a_fourth_active_key_is_refused_even_when_asked_for_at_once);

async fn another_users_key_answers_exactly_as_a_missing_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let ada = Owner::new(&app, "ada@example.com").await;
    let mallory = Owner::new(&app, "mallory@example.com").await;
    let (id, _, _) = ada.create_key("mine").await;
    let missing = 987_654;
    for (method, suffix, body) in [
        (Method::PUT, "", Some(json!({"user_memo": "stolen"}))),
        (Method::DELETE, "", None),
        (Method::POST, "/roll", Some(json!({}))),
        (Method::GET, "/whitelists", None),
        (
            Method::POST,
            "/whitelists",
            Some(json!({"ip_address": "203.0.113.7"})),
        ),
    ] {
        let theirs = mallory
            .call(
                method.clone(),
                &format!("/api/v1/users/apikeys/{id}{suffix}"),
                body.clone(),
            )
            .await;
        let none = mallory
            .call(
                method.clone(),
                &format!("/api/v1/users/apikeys/{missing}{suffix}"),
                body,
            )
            .await;
        assert_eq!(theirs, none, "{method} {suffix}");
        assert_eq!(
            (theirs.0, theirs.1["code"].as_str()),
            (404, Some("4040003"))
        );
    }
    let (_, list) = ada.call(Method::GET, "/api/v1/users/apikeys", None).await;
    assert_eq!(list[0]["user_memo"], "mine", "untouched");
}
db_tests!(another_users_key_answers_exactly_as_a_missing_one);

async fn allowlists_take_addresses_and_ranges_up_to_ten(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = Owner::new(&app, "ada@example.com").await;
    let (id, _, _) = owner.create_key("k").await;
    let path = format!("/api/v1/users/apikeys/{id}/whitelists");
    let add = |ip: &str| owner.call(Method::POST, &path, Some(json!({"ip_address": ip})));
    let (status, first) = add("203.0.113.7").await;
    assert_eq!(status, 201, "{first}");
    let (status, again) = add("203.0.113.7/32").await;
    assert_eq!(
        (status, &again),
        (200, &first),
        "the same entry, in another spelling, answered again"
    );
    assert_eq!(add("2001:db8::/64").await.0, 201);
    let (_, range) = add("198.51.100.77/24").await;
    assert_eq!(
        range["ip_address"], "198.51.100.0/24",
        "stored as its network"
    );
    for bad in ["not-an-ip", "300.1.1.1", "10.0.0.0/33", ""] {
        let (status, body) = add(bad).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("4000009")),
            "{bad:?}"
        );
    }
    for n in 0..7 {
        assert_eq!(add(&format!("192.0.2.{n}")).await.0, 201);
    }
    let (status, body) = add("192.0.2.200").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("4000010")),
        "an 11th entry"
    );
    let (_, list) = owner.call(Method::GET, &path, None).await;
    assert_eq!(list.as_array().unwrap().len(), 10);
    let entry = first["id"].as_i64().unwrap();
    assert_eq!(
        owner
            .call(Method::DELETE, &format!("{path}/{entry}"), None)
            .await
            .0,
        204
    );
    let (status, body) = owner
        .call(Method::DELETE, &format!("{path}/{entry}"), None)
        .await;
    assert_eq!((status, body["code"].as_str()), (404, Some("4040004")));
}
db_tests!(allowlists_take_addresses_and_ranges_up_to_ten);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_not_stored_in_plain_text() {
    let app = spawn_app(Backend::Sqlite).await;
    let owner = Owner::new(&app, "ada@example.com").await;
    let (id, _, secret) = owner.create_key("k").await;
    let (_, rolled) = owner
        .call(
            Method::POST,
            &format!("/api/v1/users/apikeys/{id}/roll"),
            Some(json!({"grace_seconds": 60})),
        )
        .await;
    let rolled = rolled["secret_key"].as_str().unwrap().to_owned();
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(app.state.db().pool())
        .await
        .unwrap();
    let url = app.state.config().database.url.clone();
    let path = url
        .trim_start_matches("sqlite://")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
    let file = String::from_utf8_lossy(&bytes);
    assert!(
        file.contains("hk_live_"),
        "the file was read: access keys are public"
    );
    for secret in [&secret, &rolled] {
        assert!(
            !file.contains(secret.as_str()),
            "a secret is in the database file"
        );
        assert!(
            !file.contains(&secret[9..30]),
            "part of a secret is in the database file"
        );
    }
}

async fn the_keys_page_makes_shows_once_and_manages_keys(backend: Backend) {
    let app = spawn_app(backend).await;
    let browser = app.browser();
    browser
        .submit(
            "/register",
            "/register",
            &[("email", "ada@example.com"), ("password", PASSWORD)],
        )
        .await;
    let page = browser
        .submit(
            "/account/keys",
            "/account/keys",
            &[("memo", "reports"), ("expires_days", "30")],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let secret_at = page
        .body
        .find("hks_live_")
        .expect("the new secret is shown");
    let secret: String = page.body[secret_at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    assert!(herald::keys::format::is_secret(&secret), "{secret}");
    let again = browser.get("/account/keys").await;
    assert!(!again.body.contains(&secret), "shown once only");
    assert!(again.body.contains("reports") && again.body.contains("expires"));
    let id: i64 = sqlx::Row::get(
        &sqlx::query("SELECT id FROM api_keys")
            .fetch_one(app.state.db().pool())
            .await
            .unwrap(),
        0,
    );

    let act = |path: String, fields: Vec<(&'static str, &'static str)>| {
        let browser = &browser;
        async move { browser.submit("/account/keys", &path, &fields).await }
    };
    let page = act(
        format!("/account/keys/{id}/allowlist"),
        vec![("ip_address", "203.0.113.0/24")],
    )
    .await;
    assert_eq!(
        page.location.as_deref(),
        Some("/account/keys?notice=saved"),
        "{}",
        page.body
    );
    act(
        format!("/account/keys/{id}/status"),
        vec![("status", "disabled")],
    )
    .await;
    let listed = browser.get("/account/keys").await;
    assert!(
        listed.body.contains("203.0.113.0/24") && listed.body.contains("disabled"),
        "{}",
        listed.body
    );
    let page = act(
        format!("/account/keys/{id}/roll"),
        vec![("grace_seconds", "3600")],
    )
    .await;
    assert!(
        page.body.contains("hks_live_") && !page.body.contains(&secret),
        "a new secret, shown once"
    );
    act(format!("/account/keys/{id}/delete"), vec![]).await;
    assert!(
        browser
            .get("/account/keys")
            .await
            .body
            .contains("no API keys yet")
    );

    let page = browser
        .post_form(&format!("/account/keys/{id}/delete"), &[("csrf", "forged")])
        .await;
    assert_eq!(page.status, 403, "forms need the CSRF token");
}
db_tests!(the_keys_page_makes_shows_once_and_manages_keys);
