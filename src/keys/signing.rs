//! The two ways a program signs a call to `/api/v1/services`, as pure functions: Herald checks
//! with them, `herald sign` and the benchmark sign with them. docs/signing.md describes both for
//! people who write clients in other languages.
//!
//! v1, the seed's scheme: the query string is exactly `key=<access key>&timestamp=<unix
//! seconds>`, and the header `secret` is `base64(HMAC-SHA256(secret key, query string))`.
//!
//! v2: headers `Herald-Key`, `Herald-Timestamp`, `Herald-Nonce` and
//! `Herald-Signature: v2=<base64(HMAC-SHA256(secret key, canonical request))>`, where the
//! canonical request is these seven lines joined by `\n`:
//!
//! ```text
//! HERALD-V2
//! <METHOD>
//! <canonical path>
//! <canonical query>
//! <lowercase hex SHA-256 of the body>
//! <timestamp>
//! <nonce>
//! ```
//!
//! Canonical path and query: percent-decode, then percent-encode every byte except
//! `A-Z a-z 0-9 - . _ ~` (and `/` in the path) as `%XX` with upper-case hex; the query's pairs
//! (`name=value`, a missing `=` meaning an empty value; `+` is a plus sign, not a space) are
//! sorted by name, then value, and joined with `&`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// v1: how far a timestamp may be from now, seconds (strictly inside).
pub const V1_WINDOW_SECS: i64 = 60;
/// v2: how far a timestamp may be from now, seconds; also how long a nonce is remembered.
pub const V2_WINDOW_SECS: i64 = 300;

fn mac(secret: &str, message: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(message);
    mac
}

/// The v1 query string for a key at a time.
pub fn v1_query(access_key: &str, timestamp: i64) -> String {
    format!("key={access_key}&timestamp={timestamp}")
}

/// The v1 `secret` header for a query string.
pub fn v1_signature(secret: &str, query: &str) -> String {
    STANDARD.encode(mac(secret, query.as_bytes()).finalize().into_bytes())
}

/// Whether `signature` (the `secret` header) signs `query` under `secret`; constant time.
pub fn v1_verify(secret: &str, query: &str, signature: &str) -> bool {
    let Ok(given) = STANDARD.decode(signature.trim()) else {
        return false;
    };
    mac(secret, query.as_bytes()).verify_slice(&given).is_ok()
}

/// What a v2 signature covers.
#[derive(Debug, Clone, Copy)]
pub struct V2Request<'a> {
    pub method: &'a str,
    /// The path as sent (percent-encoded or not).
    pub path: &'a str,
    /// The raw query string, without `?` (empty when there is none).
    pub query: &'a str,
    pub body: &'a [u8],
    pub timestamp: &'a str,
    pub nonce: &'a str,
}

/// The canonical request v2 signs.
pub fn v2_canonical(request: &V2Request<'_>) -> String {
    let body_hash: String = Sha256::digest(request.body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    [
        "HERALD-V2",
        &request.method.to_ascii_uppercase(),
        &canonical_path(request.path),
        &canonical_query(request.query),
        &body_hash,
        request.timestamp,
        request.nonce,
    ]
    .join("\n")
}

/// The `Herald-Signature` value for a request under `secret`.
pub fn v2_signature(secret: &str, request: &V2Request<'_>) -> String {
    let digest = mac(secret, v2_canonical(request).as_bytes()).finalize();
    format!("v2={}", STANDARD.encode(digest.into_bytes()))
}

/// Whether any `v2=` value of the `Herald-Signature` header signs the request under `secret`;
/// constant time per value. (During a roll a caller may send one per secret.)
pub fn v2_verify(secret: &str, request: &V2Request<'_>, header: &str) -> bool {
    let canonical = v2_canonical(request);
    header
        .split(',')
        .filter_map(|part| part.trim().strip_prefix("v2="))
        .take(4)
        .filter_map(|value| STANDARD.decode(value.trim()).ok())
        .any(|given| {
            mac(secret, canonical.as_bytes())
                .verify_slice(&given)
                .is_ok()
        })
}

/// A nonce v2 accepts: 16 to 64 characters of `A-Z a-z 0-9 - _`.
pub fn valid_nonce(nonce: &str) -> bool {
    (16..=64).contains(&nonce.len())
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn canonical_path(path: &str) -> String {
    let path = if path.is_empty() { "/" } else { path };
    encode(&decode(path), true)
}

fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (encode(&decode(name), false), encode(&decode(value), false))
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn decode(text: &str) -> Vec<u8> {
    percent_encoding::percent_decode_str(text).collect()
}

fn encode(bytes: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        let unreserved = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
        if unreserved || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What `herald sign` prints for a call: how to send it signed, and a curl command that does.
pub fn print(args: &crate::cli::SignArgs) -> Result<String, String> {
    let timestamp = args.timestamp.unwrap_or_else(crate::db::now_unix);
    let method = args.method.to_ascii_uppercase();
    let base = args.base.trim_end_matches('/');
    match args.scheme.as_str() {
        "v1" => {
            let (path, _) = args.path.split_once('?').unwrap_or((&args.path, ""));
            let query = v1_query(&args.key, timestamp);
            let signature = v1_signature(&args.secret, &query);
            Ok(format!(
                "query: {query}\nsecret: {signature}\n\ncurl -X {method} '{base}{path}?{query}' \\\n  -H 'secret: {signature}'\n"
            ))
        }
        "v2" => {
            let nonce = args
                .nonce
                .clone()
                .unwrap_or_else(|| crate::crypto::random_token(24));
            if !valid_nonce(&nonce) {
                return Err("a nonce is 16 to 64 characters of A-Z a-z 0-9 - _".into());
            }
            let (path, query) = args.path.split_once('?').unwrap_or((&args.path, ""));
            let timestamp = timestamp.to_string();
            let request = V2Request {
                method: &method,
                path,
                query,
                body: args.body.as_bytes(),
                timestamp: &timestamp,
                nonce: &nonce,
            };
            let signature = v2_signature(&args.secret, &request);
            let headers = format!(
                "Herald-Key: {}\nHerald-Timestamp: {timestamp}\nHerald-Nonce: {nonce}\nHerald-Signature: {signature}\n",
                args.key
            );
            let data = if args.body.is_empty() {
                String::new()
            } else {
                format!(
                    " \\\n  -H 'Content-Type: application/json' --data-binary '{}'",
                    args.body
                )
            };
            let curl_headers: String = headers
                .lines()
                .map(|h| format!(" \\\n  -H '{h}'"))
                .collect();
            Ok(format!(
                "canonical request:\n{}\n\n{headers}\ncurl -X {method} '{base}{}'{curl_headers}{data}\n",
                v2_canonical(&request),
                args.path
            ))
        }
        other => Err(format!("unknown scheme {other:?}: v1 or v2")),
    }
}
