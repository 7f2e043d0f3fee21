//! The OpenAPI document describes every API route, and every documented operation is routed.

use crate::db_tests;
use crate::helpers::*;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

async fn the_document_is_openapi_3_1_and_lists_the_api(backend: Backend) {
    let app = spawn_app(backend).await;
    let (status, doc) = app.get_json("/api/openapi.json").await;
    assert_eq!(status, 200);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["version"], herald::VERSION);
    for path in ["/healthz", "/readyz", "/api/v1/status"] {
        assert!(doc["paths"][path].is_object(), "{path} is documented");
    }
}
db_tests!(the_document_is_openapi_3_1_and_lists_the_api);

async fn every_documented_operation_is_routed(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, doc) = app.get_json("/api/openapi.json").await;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        // Path parameters get a placeholder value: routing, not the answer, is under test.
        let concrete = path
            .split('/')
            .map(|s| if s.starts_with('{') { "1" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        for method in METHODS.iter().filter(|m| item[**m].is_object()) {
            let request = app
                .client
                .request(method.to_uppercase().parse().unwrap(), app.url(&concrete));
            let response = request.json(&serde_json::json!({})).send().await.unwrap();
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            let unrouted = body["code"] == "4040000" || status == 405;
            assert!(
                !unrouted,
                "{method} {path} is documented but not routed ({status})"
            );
            checked += 1;
        }
    }
    assert!(checked >= 3);
}
db_tests!(every_documented_operation_is_routed);

async fn the_docs_page_shows_every_operation(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, doc) = app.get_json("/api/openapi.json").await;
    let html = app.get("/docs").await.text().await.unwrap();
    for path in doc["paths"].as_object().unwrap().keys() {
        assert!(
            html.contains(&format!("<code>{path}</code>")),
            "/docs lacks {path}"
        );
    }
}
db_tests!(the_docs_page_shows_every_operation);

async fn every_routed_api_operation_is_documented(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, doc) = app.get_json("/api/openapi.json").await;
    let web = herald::web::routes(&app.state);
    let mut checked = 0;
    for entry in web
        .table
        .entries()
        .iter()
        .filter(|e| e.pattern.starts_with("/api/") || e.pattern.ends_with("z"))
    {
        if entry.pattern == "/api/openapi.json" {
            continue;
        }
        let method = entry.method.as_str().to_lowercase();
        assert!(
            doc["paths"][entry.pattern][&method].is_object(),
            "{} {} is routed but not documented",
            entry.method,
            entry.pattern
        );
        checked += 1;
    }
    assert!(checked >= 17, "{checked}");
}
db_tests!(every_routed_api_operation_is_documented);

/// The statuses an operation documents.
fn documented(op: &serde_json::Value) -> Vec<u16> {
    op["responses"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.parse().unwrap())
        .collect()
}

async fn every_answer_an_operation_gives_is_documented(backend: Backend) {
    let app = spawn_app(backend).await;
    let tokens = app.register("ada@example.com", "a good password").await;
    let bearer = tokens.access_token.as_str().to_owned();
    let (_, doc) = app.get_json("/api/openapi.json").await;
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS.iter().filter(|m| item[**m].is_object()) {
            operations.push((path.clone(), *method, item[*method].clone()));
        }
    }
    // Sign-outs last: they end the session the other calls use.
    operations.sort_by_key(|(path, _, _)| path.contains("logout"));
    for (path, method, op) in operations {
        let concrete = path
            .split('/')
            .map(|s| if s.starts_with('{') { "1" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let allowed = documented(&op);
        let attempts: [(Option<&str>, &str); 3] = [
            (None, "{}"),
            (Some(bearer.as_str()), "{}"),
            (Some(bearer.as_str()), "{not json"),
        ];
        for (auth, body) in attempts {
            let mut request = app
                .client
                .request(method.to_uppercase().parse().unwrap(), app.url(&concrete))
                .header("content-type", "application/json")
                .body(body.to_owned());
            if let Some(token) = auth {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let answer = response.text().await.unwrap();
            assert!(
                allowed.contains(&status),
                "{method} {path} answered {status} ({answer}) but documents {allowed:?}"
            );
        }
    }
}
db_tests!(every_answer_an_operation_gives_is_documented);

async fn wrong_methods_get_405_with_allow_and_unknown_ids_404(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .client
        .delete(app.url("/api/v1/users/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET, PATCH");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "4050000");
    let tokens = app.register("ada@example.com", "a good password").await;
    let (status, body) = app
        .send_json(
            reqwest::Method::PATCH,
            "/api/v1/users/abc",
            Some(&serde_json::json!({})),
            Some(tokens.access_token.as_str()),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("4040000")),
        "{body}"
    );
    let response = app
        .client
        .post(app.url("/no/such/thing"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        404,
        "an unknown path is a 404 whatever the method"
    );
}
db_tests!(wrong_methods_get_405_with_allow_and_unknown_ids_404);

async fn the_schemas_say_what_the_server_checks(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, doc) = app.get_json("/api/openapi.json").await;
    let schemas = &doc["components"]["schemas"];
    let status_ref = &doc["paths"]["/api/v1/status"]["get"]["responses"]["200"]["content"]["application/json"]
        ["schema"]["$ref"];
    assert_eq!(status_ref, "#/components/schemas/ServiceStatus");
    assert!(schemas["ServiceStatus"]["properties"]["guild_count"].is_object());
    assert_eq!(
        schemas["UserStatus"]["enum"],
        serde_json::json!(["active", "blocked", "deleted"])
    );
    let register = &schemas["RegisterRequest"]["properties"];
    assert_eq!(
        (
            register["password"]["minLength"].as_u64(),
            register["password"]["maxLength"].as_u64()
        ),
        (Some(8), Some(1024))
    );
    assert_eq!(register["email"]["format"], "email");
    assert!(
        register["locale"]["pattern"]
            .as_str()
            .unwrap()
            .contains("en|ko")
    );
    let params = doc["paths"]["/api/v1/users"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let per_page = params.iter().find(|p| p["name"] == "per_page").unwrap();
    assert_eq!(
        (
            per_page["schema"]["minimum"].as_u64(),
            per_page["schema"]["maximum"].as_u64()
        ),
        (Some(1), Some(100))
    );
    let tokens = app.register("ada@example.com", "a good password").await;
    let (status, body) = app
        .send_json(
            reqwest::Method::GET,
            "/api/v1/users?per_page=500",
            None,
            Some(tokens.access_token.as_str()),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("4000021")),
        "as documented, not clamped silently"
    );
}
db_tests!(the_schemas_say_what_the_server_checks);
