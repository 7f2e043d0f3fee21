//! The OpenAPI document describes every API route, and every documented operation is routed.

use crate::db_test;
use crate::helpers::*;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

db_test! {
    async fn the_document_is_openapi_3_1_and_lists_the_api(backend) {
        let app = spawn_app(backend).await;
        let (status, doc) = app.get_json("/api/openapi.json").await;
        assert_eq!(status, 200);
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
        assert_eq!(doc["info"]["version"], herald::VERSION);
        for path in ["/healthz", "/readyz", "/api/v1/status"] {
            assert!(doc["paths"][path].is_object(), "{path} is documented");
        }
    }
}

db_test! {
    async fn every_documented_operation_is_routed(backend) {
        let app = spawn_app(backend).await;
        let (_, doc) = app.get_json("/api/openapi.json").await;
        let mut checked = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            // Path parameters get a placeholder value: routing, not the answer, is under test.
            let concrete = path.split('/').map(|s| if s.starts_with('{') { "1" } else { s }).collect::<Vec<_>>().join("/");
            for method in METHODS.iter().filter(|m| item[**m].is_object()) {
                let request = app.client.request(method.to_uppercase().parse().unwrap(), app.url(&concrete));
                let response = request.json(&serde_json::json!({})).send().await.unwrap();
                let status = response.status().as_u16();
                let body: serde_json::Value = response.json().await.unwrap_or_default();
                let unrouted = body["code"] == "4040000" || status == 405;
                assert!(!unrouted, "{method} {path} is documented but not routed ({status})");
                checked += 1;
            }
        }
        assert!(checked >= 3);
    }
}

db_test! {
    async fn the_docs_page_shows_every_operation(backend) {
        let app = spawn_app(backend).await;
        let (_, doc) = app.get_json("/api/openapi.json").await;
        let html = app.get("/docs").await.text().await.unwrap();
        for path in doc["paths"].as_object().unwrap().keys() {
            assert!(html.contains(&format!("<code>{path}</code>")), "/docs lacks {path}");
        }
    }
}
