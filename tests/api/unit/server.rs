//! Tests of `herald::web::server`.

use herald::web::server::*;

#[test]
fn hosts_match_exactly_or_by_wildcard_suffix() {
    let allowed = vec!["herald.example.com".to_owned(), "*.example.org".to_owned()];
    assert!(host_matches(&allowed, "herald.example.com"));
    assert!(host_matches(&allowed, "Herald.Example.com:8443"));
    assert!(host_matches(&allowed, "a.example.org"));
    assert!(!host_matches(&allowed, "example.org"));
    assert!(!host_matches(&allowed, "evilexample.org"));
    assert!(!host_matches(&allowed, "herald.example.com.evil.io"));
}

#[test]
fn request_ids_are_kept_when_sane() {
    let mut headers = http::HeaderMap::new();
    headers.insert("x-request-id", "abc-123_x.y:z".parse().unwrap());
    assert_eq!(request_id(&headers), "abc-123_x.y:z");
    headers.insert("x-request-id", "has space".parse().unwrap());
    assert_eq!(request_id(&headers).len(), 32);
    headers.insert("x-request-id", "a".repeat(129).parse().unwrap());
    assert_eq!(request_id(&headers).len(), 32);
}
