//! The notification outbox end to end: signed and bearer sends, delivery into a real local
//! SMTP server, idempotency (and its race), limits, scheduling and cancel, transient and
//! permanent failures, re-drive, ownership, the seed's e-mail routes, and two instances.

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};

use herald::keys::signing::{self, V2Request};
use herald::notifications::NotifyError;
use herald::notifications::request::SendRequest;

use crate::db_tests;
use crate::helpers::*;
use crate::keys::Owner;
use crate::smtp::SmtpCapture;

/// A program with an API key, calling with v2 signatures.
pub struct Program<'a> {
    pub app: &'a TestApp,
    pub key: String,
    pub secret: String,
    /// The key owner's bearer token (the other door).
    pub access: String,
}

impl<'a> Program<'a> {
    pub async fn new(app: &'a TestApp, email: &str) -> Program<'a> {
        let owner = Owner::new(app, email).await;
        let (_, key, secret) = owner.create_key("notifier").await;
        Program {
            app,
            key,
            secret,
            access: owner.access,
        }
    }

    /// A v2-signed call; answers status, the `Idempotency-Replay` header, and the JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> (u16, bool, Value) {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let (bare, query) = path.split_once('?').unwrap_or((path, ""));
        let timestamp = herald::db::now_unix().to_string();
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let signature = signing::v2_signature(
            &self.secret,
            &V2Request {
                method: method.as_str(),
                path: bare,
                query,
                body: body.as_bytes(),
                timestamp: &timestamp,
                nonce: &nonce,
            },
        );
        let mut request = self
            .app
            .client
            .request(method, self.app.url(path))
            .header("herald-key", &self.key)
            .header("herald-timestamp", &timestamp)
            .header("herald-nonce", &nonce)
            .header("herald-signature", signature)
            .header("content-type", "application/json")
            .body(body);
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let replay = response.headers().get("idempotency-replay").is_some();
        (status, replay, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn send(&self, body: Value) -> (u16, Value) {
        let (status, _, body) = self
            .call(
                Method::POST,
                "/api/v1/services/notifications",
                Some(&body),
                None,
            )
            .await;
        (status, body)
    }

    pub async fn get(&self, id: i64) -> Value {
        let path = format!("/api/v1/services/notifications/{id}");
        let (status, _, body) = self.call(Method::GET, &path, None, None).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Waits until every delivery of `id` is in `state`.
    pub async fn wait_all(&self, id: i64, state: &str) -> Value {
        eventually(&format!("every delivery of {id} {state}"), || async {
            let n = self.get(id).await;
            let all = n["deliveries"]
                .as_array()
                .unwrap()
                .iter()
                .all(|d| d["state"] == state);
            all.then_some(n)
        })
        .await
    }

    pub async fn list(&self, query: &str) -> Value {
        let path = format!("/api/v1/services/notifications{query}");
        let (status, _, body) = self.call(Method::GET, &path, None, None).await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

/// Fast workers for tests: short polls and retries.
pub const FAST: [(&str, &str); 3] = [
    ("NOTIFY_POLL_MS", "100"),
    ("NOTIFY_BACKOFF_BASE_SECS", "1"),
    ("NOTIFY_BACKOFF_MAX_SECS", "1"),
];

/// Mails to anyone but the sender (whose own verification mail comes too).
fn to_others(smtp: &SmtpCapture) -> Vec<crate::smtp::Mail> {
    smtp.mails()
        .into_iter()
        .filter(|m| m.to[0] != "sender@example.com")
        .collect()
}

async fn app_with_smtp(backend: Backend, smtp_url: &str, extra: &[(&str, &str)]) -> TestApp {
    let mut env = vec![
        ("SMTP_URL", smtp_url),
        ("MAIL_REPLY_TO", "Help <help@example.com>"),
    ];
    env.extend(FAST);
    env.extend(extra);
    spawn_app_with(backend, None, &env).await
}

async fn a_signed_send_is_delivered_personalised_with_its_message_id(backend: Backend) {
    let smtp = SmtpCapture::start();
    let app = app_with_smtp(backend, &smtp.url(), &[]).await;
    let program = Program::new(&app, "sender@example.com").await;
    let (status, accepted) = program
        .send(json!({
            "channel": "email",
            "to": [{"name": "Ada", "email": "ada@example.com"}, "bob@example.com"],
            "subject": "Hello {{name}}",
            "text": "Dear {{name}}, your order {{order}} shipped.",
            "html": "<p>Dear {{name}}</p>",
            "data": {"order": "A-17"}
        }))
        .await;
    assert_eq!(status, 202, "{accepted}");
    assert_eq!(accepted["state"], "queued");
    assert_eq!(accepted["recipients"], 2);
    let id = accepted["id"].as_i64().unwrap();

    let done = program.wait_all(id, "sent").await;
    let ada = smtp.wait_for_mail("ada@example.com", |_| true).await;
    assert_eq!(ada.subject(), "Hello Ada");
    assert!(ada.data.contains("your order A-17 shipped"), "{}", ada.data);
    assert!(ada.header("reply-to").unwrap().contains("help@example.com"));
    assert!(ada.header("date").is_some());
    let bob = smtp.wait_for_mail("bob@example.com", |_| true).await;
    assert_eq!(bob.subject(), "Hello", "no name: an empty value");

    let deliveries = done["deliveries"].as_array().unwrap();
    let ada_delivery = deliveries
        .iter()
        .find(|d| d["to"] == "ada@example.com")
        .unwrap();
    assert_eq!(
        ada_delivery["provider_id"].as_str().unwrap(),
        ada.header("message-id").unwrap(),
        "the delivery keeps the Message-ID"
    );
    assert_eq!(ada_delivery["attempts"], 1);
    assert_eq!(ada_delivery["history"][0]["outcome"], "sent");
    assert_eq!(done["created_by"]["kind"], "api_key");
    let to_them = to_others(&smtp).len();
    assert_eq!(to_them, 2, "each recipient once");
}

async fn bad_sends_get_their_own_codes_and_write_nothing(backend: Backend) {
    let app = spawn_app_with(backend, None, &[("NOTIFY_MAX_RECIPIENTS", "3")]).await;
    let program = Program::new(&app, "sender@example.com").await;
    let base = json!({"channel": "email", "to": ["a@example.com"], "subject": "s", "text": "t"});
    let with = |field: &str, value: Value| {
        let mut body = base.clone();
        body[field] = value;
        body
    };
    let cases = [
        (
            with("to", json!(["a@x.io", "b@x.io", "c@x.io", "d@x.io"])),
            "4000028",
        ),
        (with("subject", json!("s".repeat(256))), "4000029"),
        (with("text", json!("t".repeat(4001))), "4000030"),
        (with("html", json!("h".repeat(256 * 1024 + 1))), "4000031"),
        (
            with("to", json!(["a@example.com", "not an address"])),
            "4000033",
        ),
        (
            with("to", json!([{"email": "a@x.io", "phone": "1"}])),
            "4000033",
        ),
        (with("delay", json!("5s")), "4000034"),
        (
            with("send_at", json!(herald::db::now_unix() + 400 * 86_400)),
            "4000034",
        ),
        (with("send_at", json!("tomorrow")), "4000021"),
        (with("channel", json!("fax")), "4000017"),
        (with("text", json!("{{#if}")), "4000021"),
        (with("subject", json!("")), "4000015"),
        // Templates from callers are a safe subset: no partials (an inline partial calling
        // itself would overflow the stack), decorators, log, subexpressions or each in each.
        (
            with(
                "text",
                json!(r#"{{#*inline "a"}}{{> a}}{{/inline}}{{> a}}"#),
            ),
            "4000021",
        ),
        (with("text", json!("{{> header}}")), "4000021"),
        (with("text", json!(r#"{{log "spam"}}"#)), "4000021"),
        (
            with(
                "text",
                json!("{{#each a}}{{#each ../a}}x{{/each}}{{/each}}"),
            ),
            "4000021",
        ),
        (with("text", json!("{{#if (eq a b)}}x{{/if}}")), "4000021"),
        // Discord and Kakao show text: HTML alone is not enough there.
        (
            json!({"channel": "discord", "to": ["123"], "html": "<p>x</p>"}),
            "4000015",
        ),
        (
            json!({"channel": "email", "subject": "s", "text": "t"}),
            "4000015",
        ),
    ];
    for (body, code) in cases {
        let (status, error) = program.send(body.clone()).await;
        assert_eq!(status, 400, "{body} -> {error}");
        assert_eq!(error["code"], code, "{body} -> {error}");
    }
    let list = program.list("").await;
    assert_eq!(list["items"], json!([]), "nothing half-written");
    // What a template may do is still plenty.
    let (status, body) = program
        .send(json!({"channel": "email", "to": ["a@example.com"], "subject": "{{#if vip}}VIP {{/if}}{{name}}",
            "text": "{{#each items}}- {{this}}\n{{/each}}{{#if (gt 1 0)}}{{/if}}", "data": {"items": [1, 2]}}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("4000021")),
        "subexpressions: {body}"
    );
    let (status, body) = program
        .send(json!({"channel": "email", "to": ["a@example.com"], "subject": "{{#if vip}}VIP {{/if}}{{name}}",
            "text": "{{#each items}}- {{this}} {{#if (lookup ../flags @index)}}!{{/if}}{{/each}}"}))
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = program
        .send(json!({"channel": "email", "to": ["a@example.com"], "subject": "{{#if vip}}VIP {{/if}}{{name}}",
            "text": "{{#each items}}- {{this}}{{#if @last}}.{{/if}}{{/each}} {{eq 1 1}}",
            "delay": "1h"}))
        .await;
    assert_eq!(status, 202, "{body}");
    // A filter that does not parse is refused, not dropped.
    let (status, _, error) = program
        .call(
            Method::GET,
            "/api/v1/services/notifications?state=dead&before=abc",
            None,
            None,
        )
        .await;
    assert_eq!((status, error["code"].as_str()), (400, Some("4000021")));
}

async fn an_idempotency_key_replays_the_first_answer_and_refuses_another_body(backend: Backend) {
    let app = spawn_app(backend).await;
    let program = Program::new(&app, "sender@example.com").await;
    let other = Program::new(&app, "other@example.com").await;
    let body = json!({"channel": "email", "to": ["a@example.com"], "subject": "s", "text": "t",
        "delay": "1h"});
    let path = "/api/v1/services/notifications";
    let (status, replay, first) = program
        .call(Method::POST, path, Some(&body), Some("k-1"))
        .await;
    assert_eq!((status, replay), (202, false), "{first}");
    let (status, replay, again) = program
        .call(Method::POST, path, Some(&body), Some("k-1"))
        .await;
    assert_eq!((status, replay), (202, true));
    assert_eq!(again, first, "the first answer, again");

    let mut changed = body.clone();
    changed["text"] = json!("other");
    let (status, _, error) = program
        .call(Method::POST, path, Some(&changed), Some("k-1"))
        .await;
    assert_eq!((status, error["code"].as_str()), (422, Some("4220001")));

    // Keys are per owner: another owner's "k-1" is theirs.
    let (status, replay, theirs) = other
        .call(Method::POST, path, Some(&body), Some("k-1"))
        .await;
    assert_eq!((status, replay), (202, false));
    assert_ne!(theirs["id"], first["id"]);

    let (status, _, error) = program
        .call(Method::POST, path, Some(&body), Some(&"k".repeat(256)))
        .await;
    assert_eq!((status, error["code"].as_str()), (400, Some("4000021")));
    assert_eq!(program.list("").await["items"].as_array().unwrap().len(), 1);
}

async fn racing_requests_with_one_key_create_one_notification(backend: Backend) {
    let app = spawn_app(backend).await;
    let program = Program::new(&app, "sender@example.com").await;
    let body = json!({"channel": "email", "to": ["a@example.com"], "subject": "s", "text": "t",
        "delay": "1h"});
    let path = "/api/v1/services/notifications";
    let answers = futures_util::future::join_all(
        (0..12).map(|_| program.call(Method::POST, path, Some(&body), Some("race"))),
    )
    .await;
    let ids: std::collections::HashSet<i64> = answers
        .iter()
        .map(|(status, _, body)| {
            assert_eq!(*status, 202, "{body}");
            body["id"].as_i64().unwrap()
        })
        .collect();
    assert_eq!(ids.len(), 1, "one notification: {answers:?}");
    assert_eq!(answers.iter().filter(|(_, replay, _)| !replay).count(), 1);
    assert_eq!(program.list("").await["items"].as_array().unwrap().len(), 1);
}

async fn a_scheduled_notification_waits_and_can_be_cancelled(backend: Backend) {
    let smtp = SmtpCapture::start();
    let app = app_with_smtp(backend, &smtp.url(), &[]).await;
    let program = Program::new(&app, "sender@example.com").await;
    let at = herald::db::now_unix() + 3600;
    let (status, accepted) = program
        .send(
            json!({"channel": "email", "to": ["a@example.com", "b@example.com"],
            "subject": "later", "text": "t", "send_at": at}),
        )
        .await;
    assert_eq!(status, 202, "{accepted}");
    assert_eq!(
        (accepted["state"].as_str(), accepted["send_at"].as_i64()),
        (Some("scheduled"), Some(at))
    );
    let id = accepted["id"].as_i64().unwrap();
    let path = format!("/api/v1/services/notifications/{id}/cancel");
    let (status, _, cancelled) = program.call(Method::POST, &path, None, None).await;
    assert_eq!(status, 200, "{cancelled}");
    assert!(
        cancelled["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["state"] == "cancelled")
    );
    let (status, _, error) = program.call(Method::POST, &path, None, None).await;
    assert_eq!((status, error["code"].as_str()), (409, Some("4090001")));

    // RFC 3339 and delays are understood too.
    let (status, accepted) = program
        .send(
            json!({"channel": "email", "to": ["a@example.com"], "subject": "s", "text": "t",
            "send_at": "2099-01-01T09:00:00+09:00"}),
        )
        .await;
    assert_eq!(status, 400, "beyond the maximum: {accepted}");
    let (status, accepted) = program
        .send(
            json!({"channel": "email", "to": ["a@example.com"], "subject": "s", "text": "t",
            "delay": "2h"}),
        )
        .await;
    assert_eq!(status, 202);
    let due = accepted["send_at"].as_i64().unwrap() - herald::db::now_unix();
    assert!((7190..=7200).contains(&due), "{due}");
    let sent = to_others(&smtp).len();
    assert_eq!(sent, 0, "nothing scheduled was sent");
}

async fn a_down_smtp_server_delays_mail_and_loses_none(backend: Backend) {
    let port = SmtpCapture::free_port();
    let url = format!("smtp://127.0.0.1:{port}");
    // Enough attempts that none runs out while the server is down, however slow the machine.
    let app = app_with_smtp(backend, &url, &[("NOTIFY_MAX_ATTEMPTS", "50")]).await;
    let program = Program::new(&app, "sender@example.com").await;
    let to: Vec<String> = (0..5).map(|i| format!("r{i}@example.com")).collect();
    let (status, accepted) = program
        .send(json!({"channel": "email", "to": to, "subject": "s", "text": "t"}))
        .await;
    assert_eq!(status, 202);
    let id = accepted["id"].as_i64().unwrap();
    let failed = eventually("a transient failure", || async {
        let n = program.get(id).await;
        (n["deliveries"][0]["state"] == "failed").then_some(n)
    })
    .await;
    assert_eq!(failed["deliveries"][0]["last_error"]["class"], "transient");

    let smtp = SmtpCapture::start_on(port);
    let done = program.wait_all(id, "sent").await;
    let mut received: Vec<String> = smtp.mails().iter().map(|m| m.to[0].clone()).collect();
    received.retain(|t| t != "sender@example.com");
    received.sort();
    assert_eq!(received, to, "every message, once");
    let attempts = done["deliveries"][0]["history"].as_array().unwrap();
    assert!(attempts.len() >= 2, "{attempts:?}");
    assert_eq!(attempts.last().unwrap()["outcome"], "sent");
}

async fn a_permanent_refusal_is_dead_until_redriven(backend: Backend) {
    let smtp = SmtpCapture::start();
    smtp.refuse_all(true);
    let app = app_with_smtp(backend, &smtp.url(), &[]).await;
    let program = Program::new(&app, "sender@example.com").await;
    let (_, accepted) = program
        .send(json!({"channel": "email", "to": ["a@example.com"], "subject": "s", "text": "t"}))
        .await;
    let id = accepted["id"].as_i64().unwrap();
    let dead = program.wait_all(id, "dead").await;
    let delivery = &dead["deliveries"][0];
    assert_eq!(delivery["attempts"], 1, "a 5xx is not retried");
    assert_eq!(delivery["last_error"]["class"], "permanent");
    assert!(
        delivery["last_error"]["message"]
            .as_str()
            .unwrap()
            .contains("554")
    );
    let (_, _, dead_list) = program
        .call(
            Method::GET,
            "/api/v1/services/notifications?state=dead",
            None,
            None,
        )
        .await;
    assert_eq!(dead_list["items"][0]["id"], id);

    smtp.refuse_all(false);
    let path = format!("/api/v1/services/notifications/{id}/retry");
    let (status, _, _) = program.call(Method::POST, &path, None, None).await;
    assert_eq!(status, 200);
    let sent = program.wait_all(id, "sent").await;
    assert_eq!(
        sent["deliveries"][0]["history"].as_array().unwrap().len(),
        2
    );
    let (status, _, error) = program.call(Method::POST, &path, None, None).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (409, Some("4090001")),
        "nothing dead now"
    );
}

async fn another_owners_notification_answers_as_missing(backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = Program::new(&app, "alice@example.com").await;
    let mallory = Program::new(&app, "mallory@example.com").await;
    let (_, accepted) = alice
        .send(
            json!({"channel": "email", "to": ["a@example.com"], "subject": "s", "text": "t",
            "delay": "1h"}),
        )
        .await;
    let id = accepted["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{accepted}"));
    for (method, path) in [
        (Method::GET, format!("/api/v1/services/notifications/{id}")),
        (
            Method::POST,
            format!("/api/v1/services/notifications/{id}/cancel"),
        ),
        (
            Method::POST,
            format!("/api/v1/services/notifications/{id}/retry"),
        ),
        (
            Method::GET,
            "/api/v1/services/notifications/999999".to_owned(),
        ),
    ] {
        let (status, _, error) = mallory.call(method, &path, None, None).await;
        assert_eq!(
            (status, error["code"].as_str()),
            (404, Some("4040008")),
            "{path}"
        );
    }
    for path in [
        format!("/api/v1/notifications/{id}"),
        "/api/v1/notifications/abc".to_owned(),
    ] {
        let (status, error) = app
            .send_json(Method::GET, &path, None, Some(&mallory.access))
            .await;
        assert_eq!(
            (status, error["code"].as_str()),
            (404, Some("4040008")),
            "{path}"
        );
    }
    assert_eq!(mallory.list("").await["items"], json!([]));
    // The owner sees it through both doors.
    let (status, mine) = app
        .send_json(
            Method::GET,
            &format!("/api/v1/notifications/{id}"),
            None,
            Some(&alice.access),
        )
        .await;
    assert_eq!((status, mine["id"].as_i64()), (200, Some(id)));
}

async fn a_signed_in_user_sends_and_lists_with_a_bearer_token(backend: Backend) {
    let smtp = SmtpCapture::start();
    let app = app_with_smtp(backend, &smtp.url(), &[]).await;
    let user = Program::new(&app, "user@example.com").await;
    let body = json!({"channel": "email", "to": ["friend@example.com"], "subject": "hi",
        "text": "from the web", "priority": "high"});
    let (status, accepted) = app
        .send_json(
            Method::POST,
            "/api/v1/notifications",
            Some(&body),
            Some(&user.access),
        )
        .await;
    assert_eq!(status, 202, "{accepted}");
    assert!(
        accepted["url"]
            .as_str()
            .unwrap()
            .starts_with("/api/v1/notifications/")
    );
    smtp.wait_for_mail("friend@example.com", |_| true).await;
    let (status, page) = app
        .send_json(
            Method::GET,
            "/api/v1/notifications?channel=email",
            None,
            Some(&user.access),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["items"][0]["id"], accepted["id"]);
    let (status, _) = app
        .send_json(Method::POST, "/api/v1/notifications", Some(&body), None)
        .await;
    assert_eq!(status, 401);
    // The signed door does not take a bearer token.
    let (status, _) = app
        .send_json(
            Method::POST,
            "/api/v1/services/notifications",
            Some(&body),
            Some(&user.access),
        )
        .await;
    assert_eq!(status, 400);
}

async fn the_seeds_email_routes_go_through_the_outbox(backend: Backend) {
    let smtp = SmtpCapture::start();
    let app = app_with_smtp(backend, &smtp.url(), &[]).await;
    let program = Program::new(&app, "sender@example.com").await;
    let body = json!({"mailing_list": [{"name": "Ada", "email": "ada@example.com"},
        {"name": "Bob", "email": "bob@example.com"}]});
    let (status, _, sync) = program
        .call(
            Method::POST,
            "/api/v1/services/email/send_by_gmail_sync",
            Some(&body),
            Some("s-1"),
        )
        .await;
    assert_eq!(status, 200, "{sync}");
    assert_eq!(
        (
            sync["data"]["sent"].as_i64(),
            sync["data"]["failed"].as_i64()
        ),
        (Some(2), Some(0))
    );
    assert!(sync["version"].is_string());
    assert!(
        smtp.wait_for_mail("ada@example.com", |_| true)
            .await
            .data
            .contains("Hello Ada")
    );
    let (status, replay, again) = program
        .call(
            Method::POST,
            "/api/v1/services/email/send_by_gmail_sync",
            Some(&body),
            Some("s-1"),
        )
        .await;
    assert_eq!((status, replay), (200, true));
    assert_eq!(again, sync, "the final answer is what a replay gets");

    let (status, _, queued) = program
        .call(
            Method::POST,
            "/api/v1/services/email/send_by_gmail_async",
            Some(&body),
            None,
        )
        .await;
    assert_eq!(status, 200, "{queued}");
    let id = queued["data"]["id"].as_i64().unwrap();
    program.wait_all(id, "sent").await;
    let to_list = to_others(&smtp).len();
    assert_eq!(to_list, 4, "two by each route, none by the replay");
}

async fn two_instances_deliver_each_notification_exactly_once(backend: Backend) {
    let smtp = SmtpCapture::start();
    let app = app_with_smtp(backend, &smtp.url(), &[]).await;
    let twin = app.twin().await;
    let program = Program::new(&app, "sender@example.com").await;
    let on_twin = Program {
        app: &twin,
        key: program.key.clone(),
        secret: program.secret.clone(),
        access: program.access.clone(),
    };
    let total = 2000;
    let sends = (0..total).map(|i| {
        let caller = if i % 2 == 0 { &program } else { &on_twin };
        caller.send(
            json!({"channel": "email", "to": [format!("r{i}@example.com")],
            "subject": "s", "text": "t"}),
        )
    });
    // As a busy program would: many requests in flight, not thousands at once.
    let answers: Vec<(u16, Value)> = futures_util::stream::iter(sends)
        .buffer_unordered(64)
        .collect()
        .await;
    for (status, body) in answers {
        assert_eq!(status, 202, "{body}");
    }
    // The sender's own verification mail comes too.
    eventually("every message", || async {
        (smtp.mails().len() > total).then_some(())
    })
    .await;
    // Time for a duplicate to show up, were there one.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let mut to: Vec<String> = smtp.mails().iter().map(|m| m.to[0].clone()).collect();
    to.retain(|t| t.starts_with('r'));
    let received = to.len();
    to.sort();
    to.dedup();
    assert_eq!((to.len(), received), (total, total), "each exactly once");
}

/// Deliveries whose worker died holding them: one still has attempts left and is sent on a
/// new claim; one used its last attempt and is dead, not sent again.
async fn abandoned_deliveries_are_claimed_again_until_their_attempts_run_out(backend: Backend) {
    let smtp = SmtpCapture::start();
    let app = app_with_smtp(backend, &smtp.url(), &[("NOTIFY_MAX_ATTEMPTS", "3")]).await;
    let program = Program::new(&app, "sender@example.com").await;
    let (_, accepted) = program
        .send(
            json!({"channel": "email", "to": ["left@example.com", "spent@example.com"],
            "subject": "s", "text": "t", "delay": "1h"}),
        )
        .await;
    let id = accepted["id"].as_i64().unwrap();
    // As a worker that claimed them and was killed leaves them: sending, lease over.
    let past = herald::db::now_unix() - 1;
    sqlx::query(
        "UPDATE deliveries SET state = 'sending', claimed_by = 'w-killed', lease_until = ?, \
         next_attempt_at = ?, attempts = CASE WHEN recipient LIKE '%left%' THEN 1 ELSE 3 END \
         WHERE notification_id = ?",
    )
    .bind(past)
    .bind(past)
    .bind(id)
    .execute(app.state.db().writer())
    .await
    .unwrap();
    let settled = eventually("both deliveries settled", || async {
        let n = program.get(id).await;
        let states: Vec<&str> = n["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["state"].as_str().unwrap())
            .collect();
        (!states.contains(&"sending")).then_some(n)
    })
    .await;
    let by_to = |to: &str| {
        settled["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["to"].to_string().contains(to))
            .unwrap()
            .clone()
    };
    let (left, spent) = (by_to("left@"), by_to("spent@"));
    assert_eq!(
        (left["state"].as_str(), left["attempts"].as_i64()),
        (Some("sent"), Some(2))
    );
    assert_eq!(spent["state"], "dead", "{spent}");
    assert!(
        spent["last_error"]["message"]
            .as_str()
            .unwrap()
            .contains("stopped during every attempt"),
        "{spent}"
    );
    let received: Vec<String> = to_others(&smtp).iter().map(|m| m.to[0].clone()).collect();
    assert_eq!(
        received,
        ["left@example.com"],
        "the spent one is not sent again"
    );
}

/// Sends racing each other are each stored whole under an id of their own (they share
/// transactions: see `notifications::intake`); one that cannot be stored fails alone.
async fn racing_sends_get_their_own_notifications_and_a_bad_one_fails_alone(backend: Backend) {
    let smtp = SmtpCapture::start();
    let app = app_with_smtp(backend, &smtp.url(), &[]).await;
    let program = Program::new(&app, "racer@example.com").await;
    let user_id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE email = ?")
        .bind("racer@example.com")
        .fetch_one(app.state.db().pool())
        .await
        .unwrap();
    let notifications = app.state.notifications();
    // Every tenth send is for a user who does not exist: its insert breaks a foreign key.
    let bad = |i: usize| i % 10 == 3;
    let answers = futures_util::future::join_all((0..60).map(|i| async move {
        let owner = herald::notifications::Owner::user(if bad(i) { i64::MAX } else { user_id });
        let to = vec![json!(format!("r{i}@example.com"))];
        let request = SendRequest::email(to, format!("s{i}"), "t".into(), None);
        let answer = notifications
            .send(owner, request, None, false, |id, _| id.to_string())
            .await;
        (i, answer)
    }))
    .await;
    let mut ids = std::collections::HashSet::new();
    for (i, answer) in answers {
        if bad(i) {
            assert!(matches!(answer, Err(NotifyError::Db(_))), "{i}: {answer:?}");
            continue;
        }
        let answer = answer.unwrap();
        assert!(ids.insert(answer.id), "{i}: id {} twice", answer.id);
        let n = program.get(answer.id).await;
        assert_eq!(n["subject"], format!("s{i}"), "{n}");
        let deliveries = n["deliveries"].as_array().unwrap();
        assert_eq!(deliveries.len(), 1, "{n}");
        assert_eq!(deliveries[0]["to"], format!("r{i}@example.com"), "{n}");
    }
    assert_eq!(ids.len(), 54);
    let listed = program.list("?limit=100").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 54, "{listed}");
}

db_tests!(
    racing_sends_get_their_own_notifications_and_a_bad_one_fails_alone,
    abandoned_deliveries_are_claimed_again_until_their_attempts_run_out,
    a_signed_send_is_delivered_personalised_with_its_message_id,
    bad_sends_get_their_own_codes_and_write_nothing,
    an_idempotency_key_replays_the_first_answer_and_refuses_another_body,
    racing_requests_with_one_key_create_one_notification,
    a_scheduled_notification_waits_and_can_be_cancelled,
    a_down_smtp_server_delays_mail_and_loses_none,
    a_permanent_refusal_is_dead_until_redriven,
    another_owners_notification_answers_as_missing,
    a_signed_in_user_sends_and_lists_with_a_bearer_token,
    the_seeds_email_routes_go_through_the_outbox,
    two_instances_deliver_each_notification_exactly_once,
);

async fn the_account_page_shows_each_recipient_and_cancels_and_redrives(backend: Backend) {
    let smtp = SmtpCapture::start();
    let app = app_with_smtp(backend, &smtp.url(), &[]).await;
    let user = Program::new(&app, "pages@example.com").await;
    let browser = app.browser();
    let login = [
        ("email", "pages@example.com"),
        ("password", crate::keys::PASSWORD),
    ];
    browser.submit("/login", "/login", &login).await;
    let send = |body: Value| {
        let access = user.access.clone();
        let app = &app;
        async move {
            let (status, accepted) = app
                .send_json(
                    Method::POST,
                    "/api/v1/notifications",
                    Some(&body),
                    Some(&access),
                )
                .await;
            assert_eq!(status, 202, "{accepted}");
            accepted["id"].as_i64().unwrap()
        }
    };
    let later = send(json!({"channel": "email", "to": ["later@example.com"],
        "subject": "Weekly <report>", "text": "t", "delay": "1h"}))
    .await;
    smtp.refuse_all(true);
    let refused = send(
        json!({"channel": "email", "to": ["nope@example.com"], "subject": "Refused",
        "text": "t"}),
    )
    .await;
    user.wait_all(refused, "dead").await;

    let page = browser.get("/account/notifications").await;
    assert_eq!(page.status, 200);
    for expected in [
        "Weekly &lt;report&gt;",
        "later@example.com",
        "scheduled",
        "nope@example.com",
        "dead",
        "554",
    ] {
        assert!(page.body.contains(expected), "{expected} in {}", page.body);
    }
    let dead_only = browser.get("/account/notifications?state=dead").await;
    assert!(dead_only.body.contains("Refused") && !dead_only.body.contains("Weekly"));
    // In the user's language.
    let (status, _) = app
        .send_json(
            Method::PATCH,
            "/api/v1/users/me",
            Some(&json!({"locale": "ko"})),
            Some(&user.access),
        )
        .await;
    assert_eq!(status, 200);
    let korean = browser.get("/account/notifications").await;
    assert!(
        korean.body.contains("예약됨") && korean.body.contains("알림"),
        "{}",
        korean.body
    );

    let page = "/account/notifications";
    let done = browser
        .submit(page, &format!("{page}/{later}/cancel"), &[])
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(user.get(later).await["deliveries"][0]["state"], "cancelled");
    smtp.refuse_all(false);
    browser
        .submit(page, &format!("{page}/{refused}/retry"), &[])
        .await;
    user.wait_all(refused, "sent").await;

    // Without the CSRF token, or for another user's notification: refused.
    let forged = browser
        .post_form(&format!("{page}/{refused}/retry"), &[])
        .await;
    assert_eq!(forged.status, 403);
    let other = Program::new(&app, "other@example.com").await;
    let (_, theirs) = app
        .send_json(
            Method::POST,
            "/api/v1/notifications",
            Some(
                &json!({"channel": "email", "to": ["x@example.com"], "subject": "s", "text": "t",
                "delay": "1h"}),
            ),
            Some(&other.access),
        )
        .await;
    let theirs = theirs["id"].as_i64().unwrap();
    // (Nothing of this user's is left to act on here: take the token from another page.)
    let refused = browser
        .submit("/account/keys", &format!("{page}/{theirs}/cancel"), &[])
        .await;
    assert_eq!(refused.status, 404);
    assert_eq!(
        other.get(theirs).await["deliveries"][0]["state"],
        "scheduled"
    );
}

db_tests!(the_account_page_shows_each_recipient_and_cancels_and_redrives);
