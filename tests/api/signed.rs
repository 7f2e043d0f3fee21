//! Signed calls to `/api/v1/services`: the seed's v1 scheme check by check, v2 with nonces,
//! rolls, allowlists, refusals, several instances, Redis and its outages, and the caches.

use reqwest::Method;
use serde_json::{Value, json};

use herald::keys::signing::{self, V2Request};

use crate::helpers::*;
use crate::keys::Owner;
use crate::{db_tests, store_tests};

fn now() -> i64 {
    herald::db::now_unix()
}

/// A v1 call with `query` and the `secret` header (when given).
async fn v1_call(app: &TestApp, query: &str, secret: Option<&str>) -> (u16, Value) {
    v1_call_from(app, None, query, secret).await
}

async fn v1_call_from(
    app: &TestApp,
    ip: Option<&str>,
    query: &str,
    secret: Option<&str>,
) -> (u16, Value) {
    let mut request = app
        .client
        .get(app.url(&format!("/api/v1/services?{query}")));
    if let Some(secret) = secret {
        request = request.header("secret", secret);
    }
    if let Some(ip) = ip {
        request = request.header("x-forwarded-for", ip);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

/// A signed v1 call for `key` at `timestamp`.
/// A v1 call stamped `offset` seconds from now, answered within the same clock second: a
/// call the clock ticked during is made again, so a boundary case is decided by the window,
/// not by how long the earlier steps took or where the second ended.
async fn v1_from_now(app: &TestApp, key: &str, secret: &str, offset: i64) -> (u16, Value) {
    loop {
        let t = now();
        let answer = v1(app, key, secret, t + offset).await;
        if now() == t {
            return answer;
        }
    }
}

async fn v1(app: &TestApp, key: &str, secret: &str, timestamp: i64) -> (u16, Value) {
    let query = signing::v1_query(key, timestamp);
    v1_call(app, &query, Some(&signing::v1_signature(secret, &query))).await
}

/// What a v2 call sends; `sign` may differ from what is sent (to tamper).
struct V2<'a> {
    method: &'a str,
    path: &'a str,
    body: &'a [u8],
    nonce: String,
    timestamp: i64,
}

impl<'a> V2<'a> {
    fn get(path: &'a str) -> Self {
        Self {
            method: "GET",
            path,
            body: b"",
            nonce: uuid::Uuid::new_v4().simple().to_string(),
            timestamp: now(),
        }
    }

    fn signature(&self, secret: &str) -> String {
        let (path, query) = self.path.split_once('?').unwrap_or((self.path, ""));
        let timestamp = self.timestamp.to_string();
        signing::v2_signature(
            secret,
            &V2Request {
                method: self.method,
                path,
                query,
                body: self.body,
                timestamp: &timestamp,
                nonce: &self.nonce,
            },
        )
    }

    async fn send(&self, app: &TestApp, key: &str, signature: &str, body: &[u8]) -> (u16, Value) {
        self.send_from(app, None, key, signature, body).await
    }

    async fn send_from(
        &self,
        app: &TestApp,
        ip: Option<&str>,
        key: &str,
        signature: &str,
        body: &[u8],
    ) -> (u16, Value) {
        let mut request = app
            .client
            .request(self.method.parse().unwrap(), app.url(self.path))
            .header("herald-key", key)
            .header("herald-timestamp", self.timestamp.to_string())
            .header("herald-nonce", &self.nonce)
            .header("herald-signature", signature)
            .body(body.to_vec());
        if let Some(ip) = ip {
            request = request.header("x-forwarded-for", ip);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }
}

/// A v2 GET of `/api/v1/services`, signed properly.
async fn v2(app: &TestApp, key: &str, secret: &str) -> (u16, Value) {
    let call = V2::get("/api/v1/services");
    call.send(app, key, &call.signature(secret), b"").await
}

#[test]
fn the_seed_test_vector_and_the_documented_v2_vectors_hold() {
    let query =
        "key=c0883231-4aa9-4a1f-a77b-3ef250af-e449-42e9-856a-b3ada17c426b&timestamp=1700000000";
    let secret = "QhOaeXTAAkW6yWt31jWDeERkBsZ3X4UmPds656YD";
    let expected = "GOpcbtY9GM4yAoIBnFdzNCBEmKMQxaTdEvd0BByD05E=";
    assert_eq!(signing::v1_signature(secret, query), expected);
    assert!(signing::v1_verify(secret, query, expected));
    assert!(!signing::v1_verify(
        secret,
        &query.replace("1700000000", "1700000001"),
        expected
    ));
    let doc = include_str!("../../docs/signing.md");
    assert!(doc.contains(expected));
    let v2 = |method, path, query, body: &[u8]| {
        signing::v2_signature(
            "hks_live_example",
            &V2Request {
                method,
                path,
                query,
                body,
                timestamp: "1700000000",
                nonce: "0123456789abcdef01234567",
            },
        )
    };
    let first = v2(
        "POST",
        "/api/v1/services/notifications",
        "b=2&a=1",
        br#"{"channel":"email"}"#,
    );
    let second = v2("GET", "/api/v1/services/h%c3%a9llo", "z=%7e&a=b+c", b"");
    for signature in [&first, &second] {
        assert!(
            doc.contains(&format!("Herald-Signature: {signature}")),
            "docs/signing.md shows {signature}"
        );
    }
    // Canonicalisation: query order, encodings of the same path, case of the method.
    assert_eq!(
        first,
        v2(
            "post",
            "/api/v1/services/notifications",
            "a=1&b=2",
            br#"{"channel":"email"}"#
        )
    );
    assert_eq!(
        second,
        v2("GET", "/api/v1/services/héllo", "a=b%2Bc&z=~", b"")
    );
    assert_ne!(
        second,
        v2("GET", "/api/v1/services/hello", "a=b%2Bc&z=~", b"")
    );
    assert_ne!(
        first,
        v2(
            "POST",
            "/api/v1/services/notifications",
            "a=1&b=2",
            br#"{"channel":"sms"}"#
        )
    );
}

async fn v1_calls_are_checked_in_the_seeds_order(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = Owner::new(&app, "ada@example.com").await;
    let (id, key, secret) = owner.create_key("k").await;
    let t = now();
    let (status, body) = v1(&app, &key, &secret, t).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            body["data"]["your_email"].as_str(),
            body["data"]["key_id"].as_str()
        ),
        (Some("ada@example.com"), Some(key.as_str()))
    );
    assert_eq!(body["version"], herald::VERSION);

    let code = |answer: (u16, Value)| {
        (
            answer.0,
            answer.1["code"].as_str().unwrap_or_default().to_owned(),
        )
    };
    let sign = |query: &str| signing::v1_signature(&secret, query);
    // 1. key and timestamp only, both present: a clean 4000011 (the seed crashed with a 500).
    for query in [
        format!("key={key}"),
        format!("timestamp={t}"),
        String::new(),
        format!("key={key}&timestamp={t}&extra=1"),
        format!("key={key}&timestamp=soon"),
    ] {
        assert_eq!(
            code(v1_call(&app, &query, Some(&sign(&query))).await),
            (400, "4000011".into()),
            "{query:?}"
        );
    }
    // 2. the secret header.
    let query = signing::v1_query(&key, t);
    assert_eq!(
        code(v1_call(&app, &query, None).await),
        (400, "4000012".into())
    );
    // 3. a known key (checked after the header: an unknown key without a header is 4000012).
    let unknown = signing::v1_query("hk_live_nosuchkey", t);
    assert_eq!(
        code(v1_call(&app, &unknown, None).await),
        (400, "4000012".into())
    );
    assert_eq!(
        code(v1_call(&app, &unknown, Some(&sign(&unknown))).await),
        (404, "4040003".into())
    );
    // 5. the signature, before the window: an old call with a wrong signature is 4000012.
    let old = signing::v1_query(&key, t - 3600);
    assert_eq!(
        code(v1_call(&app, &old, Some("d3Jvbmc=")).await),
        (400, "4000012".into())
    );
    assert_eq!(
        code(
            v1_call(
                &app,
                &query,
                Some(&signing::v1_signature("wrong secret", &query))
            )
            .await
        ),
        (400, "4000012".into())
    );
    // 6. the window: strictly inside 60 seconds either way.
    for off in [-60, 60, -3600, 3600] {
        assert_eq!(
            code(v1_from_now(&app, &key, &secret, off).await),
            (400, "4000013".into()),
            "{off}"
        );
    }
    for off in [-58, 58] {
        assert_eq!(v1_from_now(&app, &key, &secret, off).await.0, 200, "{off}");
    }
    // 7. after the signature: a disabled key.
    owner
        .call(
            Method::PUT,
            &format!("/api/v1/users/apikeys/{id}"),
            Some(json!({"status": "disabled"})),
        )
        .await;
    assert_eq!(
        code(v1(&app, &key, &secret, t).await),
        (403, "4030006".into())
    );
}
db_tests!(v1_calls_are_checked_in_the_seeds_order);

async fn a_key_whose_owner_is_gone_is_4040001(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = Owner::new(&app, "ada@example.com").await;
    let (_, key, secret) = owner.create_key("k").await;
    sqlx::query("UPDATE users SET status = 'deleted'")
        .execute(app.state.db().pool())
        .await
        .unwrap();
    app.state.keys().calls().forget(&key);
    let (status, body) = v1(&app, &key, &secret, now()).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("4040001")));
}
db_tests!(a_key_whose_owner_is_gone_is_4040001);

async fn v2_calls_sign_everything_and_count_each_nonce_once(backend: Backend, store: Store) {
    let app = spawn_app_on_store(backend, store, &[]).await;
    let owner = Owner::new(&app, "ada@example.com").await;
    let (_, key, secret) = owner.create_key("k").await;
    let (status, body) = v2(&app, &key, &secret).await;
    assert_eq!(
        (status, body["data"]["scheme"].as_str()),
        (200, Some("v2")),
        "{body}"
    );

    let code = |answer: (u16, Value)| {
        (
            answer.0,
            answer.1["code"].as_str().unwrap_or_default().to_owned(),
        )
    };
    // The same call again: a replay.
    let call = V2::get("/api/v1/services?b=2&a=1");
    let signature = call.signature(&secret);
    assert_eq!(call.send(&app, &key, &signature, b"").await.0, 200);
    assert_eq!(
        code(call.send(&app, &key, &signature, b"").await),
        (400, "4000027".into())
    );
    // A tampered body, method or query.
    let mut call = V2::get("/api/v1/services");
    call.body = b"{\"amount\": 1}";
    let signature = call.signature(&secret);
    assert_eq!(
        code(
            call.send(&app, &key, &signature, b"{\"amount\": 1000}")
                .await
        ),
        (400, "4000012".into())
    );
    let call = V2::get("/api/v1/services?a=1");
    let tampered = V2 {
        path: "/api/v1/services?a=2",
        ..V2::get("")
    };
    let tampered = V2 {
        nonce: call.nonce.clone(),
        timestamp: call.timestamp,
        ..tampered
    };
    assert_eq!(
        code(
            tampered
                .send(&app, &key, &call.signature(&secret), b"")
                .await
        ),
        (400, "4000012".into())
    );
    // Outside 300 seconds.
    let mut call = V2::get("/api/v1/services");
    call.timestamp -= 301;
    assert_eq!(
        code(call.send(&app, &key, &call.signature(&secret), b"").await),
        (400, "4000013".into())
    );
    // Missing or malformed headers are a clean 4000012, never a 500.
    let mut call = V2::get("/api/v1/services");
    call.nonce = "short".into();
    assert_eq!(
        code(call.send(&app, &key, &call.signature(&secret), b"").await),
        (400, "4000012".into())
    );
    let response = app
        .client
        .get(app.url("/api/v1/services"))
        .header("herald-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    // Unknown key.
    let call = V2::get("/api/v1/services");
    assert_eq!(
        code(
            call.send(&app, "hk_live_nosuchkey", &call.signature(&secret), b"")
                .await
        ),
        (404, "4040003".into())
    );
}
store_tests!(v2_calls_sign_everything_and_count_each_nonce_once);

async fn a_nonce_replayed_to_another_instance_is_refused(backend: Backend, store: Store) {
    let one = spawn_app_on_store(backend, store, &[]).await;
    let two = one.twin().await;
    let owner = Owner::new(&one, "ada@example.com").await;
    let (_, key, secret) = owner.create_key("k").await;
    let call = V2::get("/api/v1/services");
    let signature = call.signature(&secret);
    assert_eq!(call.send(&one, &key, &signature, b"").await.0, 200);
    let (status, body) = call.send(&two, &key, &signature, b"").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("4000027")),
        "the other instance knows the nonce"
    );
}
store_tests!(a_nonce_replayed_to_another_instance_is_refused);

async fn failed_sign_ins_spread_over_two_instances_lock_the_account(
    backend: Backend,
    store: Store,
) {
    let one = spawn_app_on_store(backend, store, &[]).await;
    let two = one.twin().await;
    one.register("ada@example.com", "correct horse battery")
        .await;
    for n in 0..10 {
        let app = if n % 2 == 0 { &one } else { &two };
        let (status, _) = app.try_login("ada@example.com", "wrong password!").await;
        assert!(status == 400 || status == 429, "{status}");
    }
    let a = one
        .try_login("ada@example.com", "correct horse battery")
        .await;
    let b = two
        .try_login("ada@example.com", "correct horse battery")
        .await;
    match store {
        // Shared counts: ten failures lock the account on both instances.
        Store::Redis => {
            assert_eq!((a.0, a.1["code"].as_str()), (429, Some("4290002")));
            assert_eq!((b.0, b.1["code"].as_str()), (429, Some("4290002")));
        }
        // Without Redis each instance counts its own five: both are locked too (5 each).
        Store::Local => {
            assert_eq!(a.0, 429);
            assert_eq!(b.0, 429);
        }
    }
}
store_tests!(failed_sign_ins_spread_over_two_instances_lock_the_account);

async fn a_roll_keeps_the_old_secret_working_for_its_grace_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = Owner::new(&app, "ada@example.com").await;
    let (id, key, old) = owner.create_key("k").await;
    let (status, rolled) = owner
        .call(
            Method::POST,
            &format!("/api/v1/users/apikeys/{id}/roll"),
            Some(json!({"grace_seconds": 3600})),
        )
        .await;
    assert_eq!(status, 200, "{rolled}");
    let new = rolled["secret_key"].as_str().unwrap();
    assert_ne!(new, old);
    assert!(rolled["previous_secret_valid_until"].as_i64().unwrap() > now());
    assert_eq!(
        v1(&app, &key, &old, now()).await.0,
        200,
        "the old secret, within its grace"
    );
    assert_eq!(v1(&app, &key, new, now()).await.0, 200);
    // Both signatures at once, in either order, as a caller moving over may send them.
    let call = V2::get("/api/v1/services");
    let both = format!("{}, {}", call.signature(&old), call.signature(new));
    assert_eq!(call.send(&app, &key, &both, b"").await.0, 200);
    // The grace ends.
    sqlx::query("UPDATE api_keys SET previous_until = ?")
        .bind(now() - 1)
        .execute(app.state.db().pool())
        .await
        .unwrap();
    app.state.keys().calls().forget(&key);
    let (status, body) = v1(&app, &key, &old, now()).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("4000012")));
    assert_eq!(v1(&app, &key, new, now()).await.0, 200);
    // A roll without grace ends the old secret at once.
    let (_, again) = owner
        .call(
            Method::POST,
            &format!("/api/v1/users/apikeys/{id}/roll"),
            Some(json!({"grace_seconds": 0})),
        )
        .await;
    assert_eq!(v1(&app, &key, new, now()).await.0, 400);
    assert_eq!(
        v1(&app, &key, again["secret_key"].as_str().unwrap(), now())
            .await
            .0,
        200
    );
    let (status, body) = owner
        .call(
            Method::POST,
            &format!("/api/v1/users/apikeys/{id}/roll"),
            Some(json!({"grace_seconds": 700000})),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("4000021")),
        "at most 7 days"
    );
}
db_tests!(a_roll_keeps_the_old_secret_working_for_its_grace_only);

async fn allowlists_admit_only_their_addresses_whoever_asks_for_what(backend: Backend) {
    // Directly connected (the peer is 127.0.0.1) and behind a trusted proxy (X-Forwarded-For).
    let direct = spawn_app(backend).await;
    let proxied = spawn_app_with(backend, None, &[TRUST_LOCAL_PROXY]).await;
    for (app, behind_proxy) in [(&direct, false), (&proxied, true)] {
        let owner = Owner::new(app, "ada@example.com").await;
        let (id, key, secret) = owner.create_key("k").await;
        let path = format!("/api/v1/users/apikeys/{id}/whitelists");
        let allow =
            |ip: &'static str| owner.call(Method::POST, &path, Some(json!({"ip_address": ip})));
        let from = |ip: Option<&'static str>| {
            let (key, secret) = (key.clone(), secret.clone());
            async move {
                let query = signing::v1_query(&key, now());
                v1_call_from(
                    app,
                    ip,
                    &query,
                    Some(&signing::v1_signature(&secret, &query)),
                )
                .await
            }
        };
        assert_eq!(
            from(None).await.0,
            200,
            "an empty allowlist allows everyone"
        );
        allow("203.0.113.0/24").await;
        allow("2001:db8:1::/48").await;
        let refused = from(Some("198.51.100.1")).await;
        assert_eq!(
            (refused.0, refused.1["code"].as_str()),
            (403, Some("4030006"))
        );
        if behind_proxy {
            assert_eq!(
                from(Some("203.0.113.200")).await.0,
                200,
                "IPv4 in the range"
            );
            assert_eq!(
                from(Some("2001:db8:1:ffff::1")).await.0,
                200,
                "IPv6 in the range"
            );
            assert_eq!(from(Some("2001:db8:2::1")).await.0, 403);
            assert_eq!(
                from(None).await.0,
                403,
                "the proxy itself is not the client"
            );
        } else {
            // Not a trusted proxy: X-Forwarded-For is ignored, the peer (127.0.0.1) counts.
            assert_eq!(from(Some("203.0.113.200")).await.0, 403);
            allow("127.0.0.1").await;
            assert_eq!(from(Some("198.51.100.1")).await.0, 200);
        }
        // The refusal for a disabled key reads the same as for an address: nothing leaks.
        owner
            .call(
                Method::PUT,
                &format!("/api/v1/users/apikeys/{id}"),
                Some(json!({"status": "disabled"})),
            )
            .await;
        let disabled = from(Some("203.0.113.200")).await;
        assert_eq!(disabled.1, refused.1, "one answer whichever check failed");
    }
}
db_tests!(allowlists_admit_only_their_addresses_whoever_asks_for_what);

async fn expired_keys_and_blocked_owners_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let owner = Owner::new(&app, "ada@example.com").await;
    let (status, made) = owner
        .call(
            Method::POST,
            "/api/v1/users/apikeys",
            Some(json!({"user_memo": "short", "expires_at": now() + 3600})),
        )
        .await;
    assert_eq!(status, 201);
    let (key, secret) = (
        made["access_key"].as_str().unwrap(),
        made["secret_key"].as_str().unwrap(),
    );
    assert_eq!(v1(&app, key, secret, now()).await.0, 200);
    sqlx::query("UPDATE api_keys SET expires_at = ?")
        .bind(now() - 1)
        .execute(app.state.db().pool())
        .await
        .unwrap();
    app.state.keys().calls().forget(key);
    assert_eq!(
        v1(&app, key, secret, now()).await.1["code"],
        "4030006",
        "expired"
    );

    let (_, other, other_secret) = owner.create_key("other").await;
    app.state
        .accounts()
        .create_admin("root@example.com", "an admin password")
        .await
        .unwrap();
    let admin = app.login("root@example.com", "an admin password").await;
    let (_, me) = app.me(&owner.access).await;
    let (status, _) = app
        .send_json(
            Method::PATCH,
            &format!("/api/v1/users/{}", me["id"]),
            Some(&json!({"status": "blocked"})),
            Some(&admin.access_token),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = v1(&app, &other, &other_secret, now()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("4030006")),
        "blocked at once on this instance"
    );
}
db_tests!(expired_keys_and_blocked_owners_are_refused);

async fn changes_reach_other_instances_within_the_cache_bound(backend: Backend) {
    let one = spawn_app(backend).await;
    let two = one.twin().await;
    let owner = Owner::new(&one, "ada@example.com").await;
    let (id, key, secret) = owner.create_key("k").await;
    assert_eq!(
        v1(&two, &key, &secret, now()).await.0,
        200,
        "the other instance caches the key"
    );
    owner
        .call(
            Method::PUT,
            &format!("/api/v1/users/apikeys/{id}"),
            Some(json!({"status": "disabled"})),
        )
        .await;
    assert_eq!(
        v1(&one, &key, &secret, now()).await.0,
        403,
        "at once where it was changed"
    );
    let started = std::time::Instant::now();
    eventually("the other instance to see the change", || async {
        (v1(&two, &key, &secret, now()).await.0 == 403).then_some(())
    })
    .await;
    assert!(
        started.elapsed() <= herald::keys::calls::CACHE_TTL + std::time::Duration::from_secs(1)
    );

    // Sessions likewise: sign-out everywhere ends them here at once, there within the bound.
    let tokens = one.login("ada@example.com", "correct horse battery").await;
    assert_eq!(two.me(&tokens.access_token).await.0, 200);
    one.post_json(
        "/api/v1/auth/logout-all",
        &json!({}),
        Some(&tokens.access_token),
    )
    .await;
    assert_eq!(one.me(&tokens.access_token).await.0, 401);
    let started = std::time::Instant::now();
    eventually("the other instance to see the sign-out", || async {
        (two.me(&tokens.access_token).await.0 == 401).then_some(())
    })
    .await;
    assert!(
        started.elapsed()
            <= herald::accounts::sessions::CACHE_TTL + std::time::Duration::from_secs(1)
    );
}
db_tests!(changes_reach_other_instances_within_the_cache_bound);

async fn the_last_use_is_recorded_and_no_secret_reaches_the_logs(backend: Backend) {
    let app = spawn_app_with(backend, None, &[TRUST_LOCAL_PROXY]).await;
    let owner = Owner::new(&app, "secret.logger@example.com").await;
    let (_, key, secret) = owner.create_key("k").await;
    let query = signing::v1_query(&key, now());
    let signature = signing::v1_signature(&secret, &query);
    assert_eq!(
        v1_call_from(&app, Some("203.0.113.9"), &query, Some(&signature))
            .await
            .0,
        200
    );
    let call = V2::get("/api/v1/services");
    let v2_signature = call.signature(&secret);
    assert_eq!(call.send(&app, &key, &v2_signature, b"").await.0, 200);
    let used = eventually("the last use recorded", || async {
        let (_, list) = owner.call(Method::GET, "/api/v1/users/apikeys", None).await;
        list[0]["last_used_ip"].as_str().map(str::to_owned)
    })
    .await;
    assert_eq!(used, "203.0.113.9");
    let log = log_lines()
        .iter()
        .map(|l| l.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        log.contains("**cret.logge*@example.com"),
        "the calls were logged, as their owner"
    );
    for needle in [secret.as_str(), signature.as_str(), v2_signature.as_str()] {
        assert!(
            !log.contains(needle),
            "a secret or signature reached the logs: {needle}"
        );
    }
}
db_tests!(the_last_use_is_recorded_and_no_secret_reaches_the_logs);

/// The last use is written at most once a minute per key: a busy key costs no write per call.
async fn the_last_use_is_written_at_most_once_a_minute(backend: Backend) {
    let app = spawn_app_with(backend, None, &[TRUST_LOCAL_PROXY]).await;
    let owner = Owner::new(&app, "busy.key@example.com").await;
    let (_, key, secret) = owner.create_key("k").await;
    let call_from = |ip: &'static str| {
        let query = signing::v1_query(&key, now());
        let signature = signing::v1_signature(&secret, &query);
        let app = &app;
        async move {
            v1_call_from(app, Some(ip), &query, Some(&signature))
                .await
                .0
        }
    };
    assert_eq!(call_from("203.0.113.1").await, 200);
    let last_use = || async {
        let (_, list) = owner.call(Method::GET, "/api/v1/users/apikeys", None).await;
        (
            list[0]["last_used_ip"].clone(),
            list[0]["last_used_at"].clone(),
        )
    };
    let first = eventually("the first use recorded", || async {
        let seen = last_use().await;
        seen.0.is_string().then_some(seen)
    })
    .await;
    for ip in ["203.0.113.2", "203.0.113.3"] {
        assert_eq!(call_from(ip).await, 200);
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(last_use().await, first, "no second write within the minute");
}
db_tests!(the_last_use_is_written_at_most_once_a_minute);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_v2_refuses_and_sign_in_goes_on() {
    // A Redis that is not there (nothing listens on port 1).
    let app = spawn_app_with(
        Backend::Sqlite,
        None,
        &[("REDIS_URL", "redis://127.0.0.1:1/")],
    )
    .await;
    let owner = Owner::new(&app, "ada@example.com").await;
    let (_, key, secret) = owner.create_key("k").await;
    let (status, body) = v2(&app, &key, &secret).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("5030006")),
        "no replay check, no call: {body}"
    );
    assert_eq!(
        v1(&app, &key, &secret, now()).await.0,
        200,
        "v1 has no nonces"
    );
    app.login("ada@example.com", "correct horse battery").await;
    for _ in 0..5 {
        app.try_login("ada@example.com", "wrong password!").await;
    }
    let (status, _) = app
        .try_login("ada@example.com", "correct horse battery")
        .await;
    assert_eq!(status, 429, "limits go on in memory");
    assert!(log_lines().iter().any(|l| {
        l["message"]
            .as_str()
            .is_some_and(|m| m.contains("Redis is unavailable"))
    }));
}

#[test]
fn herald_sign_prints_the_documented_signatures() {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_herald"))
            .env_clear()
            .args(["sign"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let v1 = run(&[
        "--scheme",
        "v1",
        "--key",
        "c0883231-4aa9-4a1f-a77b-3ef250af-e449-42e9-856a-b3ada17c426b",
        "--secret",
        "QhOaeXTAAkW6yWt31jWDeERkBsZ3X4UmPds656YD",
        "--timestamp",
        "1700000000",
    ]);
    assert!(
        v1.contains("secret: GOpcbtY9GM4yAoIBnFdzNCBEmKMQxaTdEvd0BByD05E="),
        "{v1}"
    );
    let v2 = run(&[
        "--key",
        "hk_live_example",
        "--secret",
        "hks_live_example",
        "--method",
        "POST",
        "--path",
        "/api/v1/services/notifications?b=2&a=1",
        "--body",
        "{\"channel\":\"email\"}",
        "--timestamp",
        "1700000000",
        "--nonce",
        "0123456789abcdef01234567",
    ]);
    assert!(
        v2.contains("Herald-Signature: v2=FM+7uC+w/LTiLw2DX7S9lWQRNuiGXIiZrfXZSgeRIeA="),
        "{v2}"
    );
    assert!(v2.contains("curl -X POST"), "{v2}");
}
