//! Tests of `herald::web::error`.

use herald::web::error::*;
use std::collections::HashSet;

#[test]
fn codes_are_unique_and_start_with_their_status() {
    let mut seen = HashSet::new();
    for code in ErrorCode::ALL {
        let text = code.code();
        assert_eq!(text.len(), 7, "{code:?}");
        assert!(text.starts_with(code.status().as_str()), "{code:?}");
        assert!(seen.insert(text), "{code:?} reuses a number");
    }
}

#[test]
fn seed_codes_keep_their_numbers() {
    assert_eq!(ErrorCode::NotAuthorized.code(), "4010001");
    assert_eq!(ErrorCode::EmailTaken.code(), "4000003");
    assert_eq!(ErrorCode::WrongCredentials.code(), "4000004");
    assert_eq!(ErrorCode::BadServiceQuery.code(), "4000011");
    assert_eq!(ErrorCode::OAuthStateInvalid.code(), "4000016");
    assert_eq!(ErrorCode::ApiKeyNotFound.code(), "4040003");
    assert_eq!(ErrorCode::DiscordCallFailed.code(), "5000001");
}

#[tokio::test]
async fn malformed_json_and_wrong_content_type_map_to_their_codes() {
    use warp::Filter;
    let route = warp::post()
        .and(warp::body::json::<serde_json::Value>())
        .map(|v: serde_json::Value| warp::reply::json(&v))
        .recover(recover);
    let response = warp::test::request()
        .method("POST")
        .header("content-type", "application/json")
        .body("{not json")
        .reply(&route)
        .await;
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(body["code"], "4000017");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("key must be a string"),
        "{body}"
    );

    let response = warp::test::request()
        .method("POST")
        .header("content-type", "text/plain")
        .body("{}")
        .reply(&route)
        .await;
    let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(
        (response.status().as_u16(), body["code"].as_str()),
        (415, Some("4150000"))
    );
}

#[test]
fn the_docs_table_lists_every_code() {
    let table = include_str!("../../../docs/errors.md");
    for code in ErrorCode::ALL {
        let row = format!(
            "| {} | {} | {} |",
            code.code(),
            code.status().as_u16(),
            code.message()
        );
        assert!(table.contains(&row), "docs/errors.md lacks: {row}");
    }
}
