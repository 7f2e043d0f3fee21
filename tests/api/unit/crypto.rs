//! Tests of `herald::crypto`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use herald::crypto::Secret;
use herald::crypto::*;

fn keys(secret: &str) -> Keys {
    Keys::derive(&Secret::new(secret))
}

#[test]
fn tokens_have_the_length_and_alphabet_asked_for_and_differ() {
    let a = random_token(40);
    let b = random_token(40);
    assert_eq!(a.len(), 40);
    assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
    assert_ne!(a, b);
    assert_ne!(opaque_token(), opaque_token());
}

#[test]
fn signed_values_reject_tampering_other_purposes_and_other_keys() {
    let k = keys("a".repeat(32).as_str());
    let signed = k.sign("oauth", b"payload");
    assert_eq!(k.verify("oauth", &signed).as_deref(), Some(&b"payload"[..]));
    assert_eq!(k.verify("session", &signed), None);
    assert_eq!(keys("b".repeat(32).as_str()).verify("oauth", &signed), None);
    let tampered = signed.replacen('c', "d", 1);
    assert!(tampered == signed || k.verify("oauth", &tampered).is_none());
    let forged = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(b"other"),
        signed.split_once('.').unwrap().1
    );
    assert_eq!(k.verify("oauth", &forged), None);
}

#[test]
fn encryption_round_trips_and_detects_changes() {
    let k = keys("c".repeat(32).as_str());
    let sealed = k.encrypt("provider-access-token");
    assert!(!sealed.contains("provider-access-token"));
    assert_ne!(sealed, k.encrypt("provider-access-token"), "random nonce");
    assert_eq!(k.decrypt(&sealed).as_deref(), Some("provider-access-token"));
    assert_eq!(keys("d".repeat(32).as_str()).decrypt(&sealed), None);
    let mut bytes = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    assert_eq!(k.decrypt(&URL_SAFE_NO_PAD.encode(bytes)), None);
}

#[test]
fn purposes_get_distinct_keys() {
    let k = keys("e".repeat(32).as_str());
    assert_ne!(k.jwt, k.csrf_token("x", "").into_bytes());
    assert_ne!(k.csrf_token("x", ""), k.csrf_token("y", ""));
    assert_ne!(k.csrf_token("x", "s1"), k.csrf_token("x", "s2"));
    assert_eq!(sha256_hex("abc").len(), 64);
}
