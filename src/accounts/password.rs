//! Password hashing: argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane), bcrypt hashes
//! imported from the seed accepted and upgraded, and a dummy hash so that a login for an
//! unknown account costs the same as one for a known account.

use std::sync::LazyLock;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 1024;

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("OWASP parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashed once, verified against whenever there is no real hash to check.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| hash("not-a-real-password-0000"));

/// Whether a password's length is acceptable (counted in characters, not bytes).
pub fn acceptable(password: &str) -> bool {
    (MIN_LEN..=MAX_LEN).contains(&password.chars().count())
}

/// A PHC-format argon2id hash with a random salt. CPU-heavy: call from a blocking thread.
pub fn hash(password: &str) -> String {
    argon2()
        .hash_password(password.as_bytes())
        .expect("hashing an in-range password does not fail")
        .to_string()
}

#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Valid,
    /// Correct, but stored in an old scheme: store `hash(password)` instead.
    ValidNeedsUpgrade,
    Invalid,
}

/// Checks `password` against `stored`, or against the dummy hash when there is none, so the
/// work done does not reveal whether an account exists. CPU-heavy: call from a blocking thread.
pub fn verify(password: &str, stored: Option<&str>) -> Verdict {
    let Some(stored) = stored else {
        let _ = argon2().verify_password(password.as_bytes(), DUMMY_HASH.as_str());
        return Verdict::Invalid;
    };
    if stored.starts_with("$2") {
        // bcrypt, from the seed's database.
        return match bcrypt::verify(password, stored) {
            Ok(true) => Verdict::ValidNeedsUpgrade,
            _ => Verdict::Invalid,
        };
    }
    match argon2().verify_password(password.as_bytes(), stored) {
        Ok(()) => Verdict::Valid,
        Err(_) => Verdict::Invalid,
    }
}
