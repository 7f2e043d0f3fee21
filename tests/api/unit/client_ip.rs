//! Tests of `herald::web::client_ip`.

use std::net::IpAddr;

use herald::web::client_ip::*;
use http::HeaderMap;

fn headers(xff: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("x-forwarded-for", xff.parse().unwrap());
    h
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn untrusted_peers_cannot_claim_another_address() {
    let got = resolve(ip("203.0.113.9"), &headers("1.2.3.4"), &[]);
    assert_eq!(got, ip("203.0.113.9"));
}

#[test]
fn trusted_proxy_passes_on_the_client() {
    let trusted = ["10.0.0.0/8".parse().unwrap()];
    let got = resolve(ip("10.0.0.2"), &headers("198.51.100.7, 10.0.0.3"), &trusted);
    assert_eq!(got, ip("198.51.100.7"));
}

#[test]
fn forged_left_hops_are_ignored() {
    let trusted = ["10.0.0.2/32".parse().unwrap()];
    let got = resolve(ip("10.0.0.2"), &headers("6.6.6.6, 198.51.100.7"), &trusted);
    assert_eq!(got, ip("198.51.100.7"));
}

#[test]
fn trusted_proxy_without_header_is_the_client() {
    let trusted = ["127.0.0.1/32".parse().unwrap()];
    assert_eq!(
        resolve(ip("127.0.0.1"), &HeaderMap::new(), &trusted),
        ip("127.0.0.1")
    );
}
