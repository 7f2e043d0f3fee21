//! Tests of `herald::web::cors`.

use herald::web::cors::*;
use http::{HeaderMap, Method, StatusCode, header};

fn request(origin: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(header::ORIGIN, origin.parse().unwrap());
    h.insert(
        header::ACCESS_CONTROL_REQUEST_METHOD,
        "POST".parse().unwrap(),
    );
    h
}

#[test]
fn allowed_origin_gets_a_full_preflight() {
    let cors = Cors::new(&["https://app.example.com".into()]);
    let response = cors
        .preflight(&Method::OPTIONS, &request("https://app.example.com"))
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://app.example.com"
    );
}

#[test]
fn other_origins_get_no_grant() {
    let cors = Cors::new(&["https://app.example.com".into()]);
    let response = cors
        .preflight(&Method::OPTIONS, &request("https://evil.example"))
        .unwrap();
    assert!(
        !response
            .headers()
            .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
    );
    let mut out = HeaderMap::new();
    cors.decorate(cors.allow(&request("https://evil.example")), &mut out);
    assert!(out.is_empty());
}

#[test]
fn plain_options_is_not_a_preflight() {
    let cors = Cors::new(&[]);
    assert!(
        cors.preflight(&Method::OPTIONS, &HeaderMap::new())
            .is_none()
    );
}
