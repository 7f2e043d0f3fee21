//! Cryptographic helpers shared by every domain: random tokens from the OS RNG, keys derived
//! from `SECRET_KEY` (one per purpose), signed values, authenticated encryption, hashing, and
//! constant-time comparison.

use std::fmt;

use aes_gcm::aead::{Aead, Generate, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// A value that must never be printed. `Debug` shows `[redacted]`; read it with `expose`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `len` characters of [A-Za-z0-9] from the operating system's CSPRNG, without modulo bias.
pub fn random_token(len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        getrandom::fill(&mut buf).expect("the OS random source is available");
        // 248 = 4 * 62: bytes at or above it would favour the first characters.
        for b in buf.iter().filter(|b| **b < 248) {
            if out.len() == len {
                break;
            }
            out.push(ALPHANUMERIC[(*b % 62) as usize] as char);
        }
    }
    out
}

/// 32 random bytes, base64url: an opaque bearer secret (refresh tokens, e-mail links).
pub fn opaque_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 as lowercase hex: how opaque tokens are stored, so a database leak reveals none.
pub fn sha256_hex(value: &str) -> String {
    Sha256::digest(value.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Equality that takes the same time wherever the inputs differ.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// Keys for each purpose, derived from `SECRET_KEY` so one secret serves all and no two
/// purposes share a key.
#[derive(Clone)]
pub struct Keys {
    pub jwt: Vec<u8>,
    signing: Vec<u8>,
    csrf: Vec<u8>,
    encryption: [u8; 32],
    /// API key secrets get a key of their own: a leak of one kind of sealed value says nothing
    /// about the other.
    key_secrets: [u8; 32],
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys([redacted])")
    }
}

impl Keys {
    pub fn derive(secret: &Secret) -> Self {
        let derive = |purpose: &str| hmac(secret.expose().as_bytes(), purpose.as_bytes());
        let aes = |purpose: &str| {
            let mut key = [0u8; 32];
            key.copy_from_slice(&derive(purpose));
            key
        };
        Self {
            jwt: derive("herald/jwt/v1"),
            signing: derive("herald/signed-values/v1"),
            csrf: derive("herald/csrf/v1"),
            encryption: aes("herald/encryption/v1"),
            key_secrets: aes("herald/api-key-secrets/v1"),
        }
    }

    /// `payload` made tamper-evident: `base64url(payload).base64url(mac)`.
    pub fn sign(&self, purpose: &str, payload: &[u8]) -> String {
        let body = URL_SAFE_NO_PAD.encode(payload);
        let mac = hmac(&self.signing, format!("{purpose}\n{body}").as_bytes());
        format!("{body}.{}", URL_SAFE_NO_PAD.encode(mac))
    }

    /// The payload of a value `sign` made for the same purpose, or `None` if it was altered.
    pub fn verify(&self, purpose: &str, signed: &str) -> Option<Vec<u8>> {
        let (body, mac) = signed.split_once('.')?;
        let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
        let expected = hmac(&self.signing, format!("{purpose}\n{body}").as_bytes());
        ct_eq(&mac, &expected)
            .then(|| URL_SAFE_NO_PAD.decode(body).ok())
            .flatten()
    }

    /// The CSRF form token for a browser's CSRF cookie and its session (empty when signed
    /// out): a token taken from one session is worthless in another.
    pub fn csrf_token(&self, cookie: &str, session_id: &str) -> String {
        let message = format!("{cookie}\n{session_id}");
        URL_SAFE_NO_PAD.encode(hmac(&self.csrf, message.as_bytes()))
    }

    /// AES-256-GCM with a random nonce: `base64url(nonce || ciphertext)`.
    pub fn encrypt(&self, plaintext: &str) -> String {
        seal(&self.encryption, plaintext)
    }

    /// The plaintext, or `None` when the value was altered or made with another key.
    pub fn decrypt(&self, encoded: &str) -> Option<String> {
        open(&self.encryption, encoded)
    }

    /// An API key's secret as stored.
    pub fn encrypt_key_secret(&self, secret: &str) -> String {
        seal(&self.key_secrets, secret)
    }

    pub fn decrypt_key_secret(&self, sealed: &str) -> Option<String> {
        open(&self.key_secrets, sealed)
    }
}

/// AES-256-GCM with a random nonce: `base64url(nonce || ciphertext)`.
fn seal(key: &[u8; 32], plaintext: &str) -> String {
    let cipher = Aes256Gcm::new_from_slice(key).expect("32-byte key");
    let nonce = Nonce::generate();
    let ciphertext = cipher
        .encrypt(&nonce, plaintext.as_bytes())
        .expect("encryption of an in-memory buffer does not fail");
    let mut out = nonce.to_vec();
    out.extend_from_slice(&ciphertext);
    URL_SAFE_NO_PAD.encode(out)
}

fn open(key: &[u8; 32], encoded: &str) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD.decode(encoded).ok()?;
    if bytes.len() < 12 {
        return None;
    }
    let (nonce, ciphertext) = bytes.split_at(12);
    let cipher = Aes256Gcm::new_from_slice(key).ok()?;
    let nonce = Nonce::try_from(nonce).ok()?;
    let plaintext = cipher.decrypt(&nonce, ciphertext).ok()?;
    String::from_utf8(plaintext).ok()
}
