//! Tests of `herald::accounts::jwt`.

use herald::accounts::jwt::*;

fn jwt(key: &str, issuer: &str, ttl: i64) -> Jwt {
    Jwt::new(key.as_bytes(), issuer, ttl)
}

#[test]
fn tokens_round_trip_with_every_claim() {
    let j = jwt("k", "https://herald.test/", 900);
    let claims = j.verify(&j.issue(42, "sess")).unwrap();
    assert_eq!((claims.sub.as_str(), claims.sid.as_str()), ("42", "sess"));
    assert_eq!(claims.exp - claims.iat, 900);
    assert_eq!(claims.aud, AUDIENCE);
    assert_eq!(claims.jti.len(), 32);
}

#[test]
fn forged_expired_and_foreign_tokens_are_refused() {
    let j = jwt("k", "https://herald.test/", 900);
    let token = j.issue(1, "s");
    assert_eq!(
        jwt("other", "https://herald.test/", 900)
            .verify(&token)
            .unwrap_err(),
        JwtError::Invalid
    );
    assert_eq!(
        jwt("k", "https://elsewhere/", 900)
            .verify(&token)
            .unwrap_err(),
        JwtError::Invalid
    );
    let expired = jwt("k", "https://herald.test/", -60).issue(1, "s");
    assert_eq!(j.verify(&expired).unwrap_err(), JwtError::Expired);
    let mut parts: Vec<&str> = token.split('.').collect();
    let none_header = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        br#"{"alg":"none","typ":"JWT"}"#,
    );
    parts[0] = &none_header;
    assert_eq!(
        j.verify(&format!("{}.{}.", parts[0], parts[1]))
            .unwrap_err(),
        JwtError::Invalid
    );
}
