//! Tests of `herald::accounts::password`.

use herald::accounts::password::*;

#[test]
fn argon2id_hashes_verify_and_use_owasp_parameters() {
    let hashed = hash("correct horse battery");
    assert!(
        hashed.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hashed}"
    );
    assert_eq!(
        verify("correct horse battery", Some(&hashed)),
        Verdict::Valid
    );
    assert_eq!(
        verify("wrong horse battery", Some(&hashed)),
        Verdict::Invalid
    );
    assert_ne!(hash("correct horse battery"), hashed, "salted");
}

#[test]
fn seed_bcrypt_hashes_are_accepted_and_flagged_for_upgrade() {
    let seed = bcrypt::hash("seed-password", 4).unwrap();
    assert_eq!(
        verify("seed-password", Some(&seed)),
        Verdict::ValidNeedsUpgrade
    );
    assert_eq!(verify("other-password", Some(&seed)), Verdict::Invalid);
}

#[test]
fn no_stored_hash_is_always_invalid() {
    assert_eq!(verify("not-a-real-password-0000", None), Verdict::Invalid);
}

#[test]
fn length_limits_count_characters() {
    assert!(!acceptable("short"));
    assert!(acceptable("비밀번호비밀번호"));
    assert!(acceptable(&"x".repeat(1024)));
    assert!(!acceptable(&"x".repeat(1025)));
}
