//! Probes, the JSON error body, request ids, hosts, CORS, body limit, client address and the
//! access log, all through real HTTP.

use crate::db_tests;
use crate::helpers::*;

async fn probes_report_a_bot_less_instance_as_ready(backend: Backend) {
    let app = spawn_app(backend).await;
    let (status, body) = app.get_json("/healthz").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!(status, 200);
    assert_eq!(body["ready"], true);
    assert_eq!(body["database"]["ok"], true);
    assert_eq!(body["bot"]["state"], "disabled");
}
db_tests!(probes_report_a_bot_less_instance_as_ready);

async fn readyz_is_503_when_the_database_is_gone(backend: Backend) {
    let app = spawn_app(backend).await;
    app.state.db().close().await;
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!(status, 503);
    assert_eq!(body["database"]["ok"], false);
    // The cause goes to the log; the public sees a fixed word.
    assert_eq!(body["database"]["error"], "unavailable", "{body}");
}
db_tests!(readyz_is_503_when_the_database_is_gone);

fn assert_error_body(body: &serde_json::Value, status: u16, code: &str) {
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(body["detail"].is_string(), "{body}");
}

async fn unknown_paths_and_methods_get_the_json_error_body(backend: Backend) {
    let app = spawn_app(backend).await;
    let (status, body) = app.get_json("/no/such/page").await;
    assert_eq!(status, 404);
    assert_error_body(&body, 404, "4040000");

    let response = app.client.delete(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_error_body(&response.json().await.unwrap(), 405, "4050000");
}
db_tests!(unknown_paths_and_methods_get_the_json_error_body);

async fn bodies_over_the_limit_are_refused_with_413(backend: Backend) {
    let app = spawn_app_with(backend, None, &[("HTTP_BODY_LIMIT", "2048")]).await;
    let response = app
        .client
        .post(app.url("/api/v1/status"))
        .body(vec![b'x'; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_error_body(&response.json().await.unwrap(), 413, "4130000");
}
db_tests!(bodies_over_the_limit_are_refused_with_413);

async fn request_ids_are_echoed_when_sane_and_made_otherwise(backend: Backend) {
    let app = spawn_app(backend).await;
    let echoed = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-42.a")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-42.a");
    let replaced = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "bad id!")
        .send()
        .await
        .unwrap();
    let id = replaced.headers()["x-request-id"].to_str().unwrap();
    assert_ne!(id, "bad id!");
    assert_eq!(id.len(), 32);
    let missing = app.get("/nowhere").await;
    assert!(
        missing.headers().contains_key("x-request-id"),
        "errors carry one too"
    );
}
db_tests!(request_ids_are_echoed_when_sane_and_made_otherwise);

async fn hosts_outside_allowed_hosts_are_refused_but_probes_answer(backend: Backend) {
    let app = spawn_app_with(backend, None, &[("ALLOWED_HOSTS", "herald.example.com")]).await;
    let request =
        |path: &str, host: &str| app.client.get(app.url(path)).header("host", host).send();
    let refused = request("/api/v1/status", "evil.example").await.unwrap();
    assert_eq!(refused.status(), 400);
    assert_error_body(&refused.json().await.unwrap(), 400, "4000018");
    let allowed = request("/api/v1/status", "herald.example.com:8000")
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
    let probe = request("/healthz", "10.1.2.3:8000").await.unwrap();
    assert_eq!(probe.status(), 200);
}
db_tests!(hosts_outside_allowed_hosts_are_refused_but_probes_answer);

async fn cors_grants_only_configured_origins(backend: Backend) {
    let app = spawn_app_with(
        backend,
        None,
        &[("CORS_ORIGINS", "https://app.example.com")],
    )
    .await;
    let preflight = |origin: &str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/v1/status"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .send()
    };
    let granted = preflight("https://app.example.com").await.unwrap();
    assert_eq!(granted.status(), 204);
    assert_eq!(
        granted.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let denied = preflight("https://evil.example").await.unwrap();
    assert!(!denied.headers().contains_key("access-control-allow-origin"));

    let actual = app
        .client
        .get(app.url("/api/v1/status"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        actual.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
}
db_tests!(cors_grants_only_configured_origins);

/// The access-log line of the request that carried `request_id`.
async fn access_line(request_id: &str) -> serde_json::Value {
    eventually("the access log line", || async {
        log_lines()
            .into_iter()
            .find(|l| l["target"] == "access" && l["request_id"] == request_id)
    })
    .await
}

async fn each_request_writes_one_json_access_line(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = format!("access-{}", uuid::Uuid::new_v4().simple());
    app.client
        .get(app.url("/nowhere?q=1"))
        .header("x-request-id", &id)
        .send()
        .await
        .unwrap();
    let line = access_line(&id).await;
    assert_eq!(line["method"], "GET");
    assert_eq!(line["path"], "/nowhere");
    assert_eq!(line["status"], 404);
    assert_eq!(line["client_ip"], "127.0.0.1");
    assert!(
        line["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
        "{line}"
    );
    assert_eq!(line["level"], "INFO");
    let lines = log_lines()
        .into_iter()
        .filter(|l| l["request_id"] == id.as_str())
        .count();
    assert_eq!(lines, 1, "exactly one line per request");
}
db_tests!(each_request_writes_one_json_access_line);

async fn forwarded_for_counts_only_from_trusted_proxies(backend: Backend) {
    let untrusted = spawn_app(backend).await;
    let id = format!("xff-{}", uuid::Uuid::new_v4().simple());
    untrusted
        .client
        .get(untrusted.url("/healthz"))
        .header("x-request-id", &id)
        .header("x-forwarded-for", "198.51.100.7")
        .send()
        .await
        .unwrap();
    assert_eq!(
        access_line(&id).await["client_ip"],
        "127.0.0.1",
        "a forged header is ignored"
    );

    let trusted = spawn_app_with(backend, None, &[("TRUSTED_PROXIES", "127.0.0.1")]).await;
    let id = format!("xff-{}", uuid::Uuid::new_v4().simple());
    trusted
        .client
        .get(trusted.url("/healthz"))
        .header("x-request-id", &id)
        .header("x-forwarded-for", "198.51.100.7")
        .send()
        .await
        .unwrap();
    assert_eq!(access_line(&id).await["client_ip"], "198.51.100.7");
}
db_tests!(forwarded_for_counts_only_from_trusted_proxies);

async fn home_page_and_static_files_are_served(backend: Backend) {
    let app = spawn_app(backend).await;
    let home = app.get("/").await;
    assert_eq!(home.headers()["content-type"], "text/html; charset=utf-8");
    let html = home.text().await.unwrap();
    assert!(
        html.contains("Active in <strong>0</strong> servers."),
        "{html}"
    );
    assert!(html.contains("disabled"));
    let css = app.get("/static/style.css").await;
    assert_eq!(css.status(), 200);
    assert_eq!(css.headers()["content-type"], "text/css");
    assert_eq!(app.get("/static/missing.css").await.status(), 404);
}
db_tests!(home_page_and_static_files_are_served);

async fn responses_carry_security_headers_and_api_answers_are_not_cached(backend: Backend) {
    let app = spawn_app(backend).await;
    let api = app.get("/api/v1/status").await;
    assert_eq!(api.headers()["cache-control"], "no-store");
    let page = app.get("/").await;
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    assert_eq!(page.headers()["x-frame-options"], "DENY");
}
db_tests!(responses_carry_security_headers_and_api_answers_are_not_cached);

async fn the_access_log_names_the_signed_in_user_with_a_masked_address(backend: Backend) {
    let app = spawn_app(backend).await;
    let tokens = app.register("johndoe@example.com", "a good password").await;
    let id = format!("user-{}", uuid::Uuid::new_v4().simple());
    app.client
        .get(app.url("/api/v1/users/me"))
        .bearer_auth(tokens.access_token.as_str())
        .header("x-request-id", &id)
        .send()
        .await
        .unwrap();
    let line = access_line(&id).await;
    assert!(line["user_id"].as_i64().is_some(), "{line}");
    assert_eq!(line["email"], "**hndo*@example.com");
    assert!(
        !line.to_string().contains("johndoe@"),
        "never the plain address"
    );
}
db_tests!(the_access_log_names_the_signed_in_user_with_a_masked_address);

async fn every_line_a_request_causes_carries_its_id(backend: Backend) {
    let smtp = crate::smtp::SmtpCapture::start();
    let app = spawn_app_with(backend, None, &[("SMTP_URL", &smtp.url())]).await;
    app.register("ada@example.com", "a good password").await;
    // A database failure in work the request hands to the background.
    sqlx::query("ALTER TABLE email_tokens RENAME TO email_tokens_away")
        .execute(app.state.db().pool())
        .await
        .unwrap();
    let id = format!("trace-{}", uuid::Uuid::new_v4().simple());
    let response = app
        .client
        .post(app.url("/api/v1/auth/forgot"))
        .header("x-request-id", &id)
        .json(&serde_json::json!({"email": "ada@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], id.as_str());
    let line = eventually("the database error's log line", || async {
        log_lines().into_iter().find(|l| {
            l["message"] == "e-mail link not created" && l["span"]["request_id"] == id.as_str()
        })
    })
    .await;
    assert_eq!(line["target"], "db", "and goes to the db category");
}
db_tests!(every_line_a_request_causes_carries_its_id);
