//! Access tokens: HS256 JWTs with `sub`, `sid` (the session), `exp`, `iat`, `iss`, `aud` and
//! `jti`. One format serves the API (bearer) and the pages (cookie).

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};

use crate::db::now_unix;

/// The audience every Herald access token is for.
pub const AUDIENCE: &str = "herald";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub sid: String,
    pub exp: i64,
    pub iat: i64,
    pub iss: String,
    pub aud: String,
    pub jti: String,
}

#[derive(Debug, PartialEq, Eq)]
pub enum JwtError {
    Expired,
    Invalid,
}

#[derive(Clone)]
pub struct Jwt {
    encoding: EncodingKey,
    decoding: DecodingKey,
    issuer: String,
    pub ttl_secs: i64,
}

impl Jwt {
    pub fn new(key: &[u8], issuer: &str, ttl_secs: i64) -> Self {
        Self {
            encoding: EncodingKey::from_secret(key),
            decoding: DecodingKey::from_secret(key),
            issuer: issuer.to_owned(),
            ttl_secs,
        }
    }

    pub fn issue(&self, user_id: i64, session_id: &str) -> String {
        let now = now_unix();
        let claims = Claims {
            sub: user_id.to_string(),
            sid: session_id.to_owned(),
            exp: now + self.ttl_secs,
            iat: now,
            iss: self.issuer.clone(),
            aud: AUDIENCE.to_owned(),
            jti: uuid::Uuid::new_v4().simple().to_string(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing of plain claims does not fail")
    }

    pub fn verify(&self, token: &str) -> Result<Claims, JwtError> {
        // Only HS256: a token claiming `none` or another algorithm is refused.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = 5;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|err| match err.kind() {
                ErrorKind::ExpiredSignature => JwtError::Expired,
                _ => JwtError::Invalid,
            })
    }
}
