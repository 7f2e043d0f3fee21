//! What new keys look like: `hk_live_<random><checksum>` for the public access key and
//! `hks_live_<random><checksum>` for the secret. The random part comes from the operating
//! system's CSPRNG; the last six characters are the CRC32 of the rest in base62, so a scanner
//! can recognise a leaked Herald secret offline, without a false alarm on random text (GitHub's
//! token format is the model).

use crate::crypto::random_token;

pub const ACCESS_PREFIX: &str = "hk_live_";
pub const SECRET_PREFIX: &str = "hks_live_";
const ACCESS_RANDOM: usize = 24;
const SECRET_RANDOM: usize = 32;
const CHECKSUM: usize = 6;

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A new public access key.
pub fn new_access_key() -> String {
    with_checksum(ACCESS_PREFIX, &random_token(ACCESS_RANDOM))
}

/// A new secret.
pub fn new_secret() -> String {
    with_checksum(SECRET_PREFIX, &random_token(SECRET_RANDOM))
}

/// Whether `text` is a well-formed Herald secret (prefix, length and checksum): what a secret
/// scanner runs on leaked text.
pub fn is_secret(text: &str) -> bool {
    well_formed(text, SECRET_PREFIX, SECRET_RANDOM)
}

/// Whether `text` is a well-formed access key of the current format.
pub fn is_access_key(text: &str) -> bool {
    well_formed(text, ACCESS_PREFIX, ACCESS_RANDOM)
}

fn with_checksum(prefix: &str, random: &str) -> String {
    let body = format!("{prefix}{random}");
    let checksum = checksum(&body);
    format!("{body}{checksum}")
}

fn well_formed(text: &str, prefix: &str, random: usize) -> bool {
    let Some(rest) = text.strip_prefix(prefix) else {
        return false;
    };
    if rest.len() != random + CHECKSUM || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let (body, sum) = text.split_at(text.len() - CHECKSUM);
    checksum(body) == sum
}

/// CRC32 of `body`, six base62 digits (62^6 > 2^32).
fn checksum(body: &str) -> String {
    let mut n = crc32fast::hash(body.as_bytes()) as u64;
    let mut digits = [b'0'; CHECKSUM];
    for digit in digits.iter_mut().rev() {
        *digit = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(digits.to_vec()).expect("base62 is ASCII")
}
