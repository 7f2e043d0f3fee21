//! Tests of `herald::accounts::oauth`.

use herald::accounts::oauth::*;
use serde_json::json;

#[test]
fn each_provider_profile_shape_is_read() {
    let discord = parse_profile(
        Provider::Discord,
        &json!({"id": "80351110224678912", "username": "nelly", "global_name": "Nelly",
                "avatar": "abc", "email": "nelly@discord.com", "verified": true}),
    )
    .unwrap();
    assert_eq!(discord.provider_user_id, "80351110224678912");
    assert!(discord.email_verified);
    assert_eq!(discord.display_name.as_deref(), Some("Nelly"));
    assert_eq!(
        discord.avatar_url.as_deref(),
        Some("https://cdn.discordapp.com/avatars/80351110224678912/abc.png")
    );

    let kakao = parse_profile(
        Provider::Kakao,
        &json!({"id": 123456789, "kakao_account": {"email": "k@kakao.com",
                "is_email_verified": true, "is_email_valid": false,
                "profile": {"nickname": "K"}}}),
    )
    .unwrap();
    assert_eq!(kakao.provider_user_id, "123456789");
    assert!(!kakao.email_verified, "an invalid address is not verified");

    let google = parse_profile(
        Provider::Google,
        &json!({"sub": "1", "email_verified": false}),
    )
    .unwrap();
    assert!(!google.email_verified);
    assert!(parse_profile(Provider::Google, &json!({"email": "x@y.z"})).is_none());
}
