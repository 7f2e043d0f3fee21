//! The signed service API for programs (`/api/v1/services`): who is calling. The notification
//! routes join it in `web/notifications`.

use serde::Serialize;
use utoipa::ToSchema;
use warp::Filter;
use warp::http::Method;
use warp::reply::{Reply, Response};

use super::error::ErrorBody;
use super::route::Table;
use super::signed::{Signed, signed};
use crate::keys::calls::Scheme;
use crate::state::AppState;

/// The seed's success envelope, which its callers read.
#[derive(Serialize, ToSchema)]
pub struct Envelope<T: ToSchema> {
    pub data: T,
    #[schema(example = "0.1.0")]
    pub version: &'static str,
}

impl<T: Serialize + ToSchema> Envelope<T> {
    /// The envelope as JSON text.
    pub fn body(data: T) -> String {
        serde_json::to_string(&Envelope {
            data,
            version: crate::VERSION,
        })
        .expect("an envelope serialises")
    }

    pub fn reply(data: T) -> Response {
        warp::reply::json(&Envelope {
            data,
            version: crate::VERSION,
        })
        .into_response()
    }
}

/// Who a signed call came from.
#[derive(Serialize, ToSchema)]
pub struct Whoami {
    /// The key owner's e-mail address (absent when the account has none).
    pub your_email: Option<String>,
    /// The access key the call was signed with.
    pub key_id: String,
    pub scheme: Scheme,
}

pub fn routes(state: &AppState, table: &mut Table) {
    table.add(
        Method::GET,
        "/api/v1/services",
        signed(state).map(whoami).boxed(),
    );
}

/// Who is calling: the owner of the key that signed the request.
#[utoipa::path(get, path = "/api/v1/services", tag = "services",
    security(("v1" = []), ("v2" = [])),
    responses((status = 200, description = "The caller", body = Envelope<Whoami>),
        (status = 400, description = "4000011 the query must be key and timestamp only (v1); 4000012 signature missing or wrong; 4000013 timestamp outside the window; 4000027 nonce used before (v2)", body = ErrorBody),
        (status = 403, description = "4030006 the key is disabled or expired, its owner blocked, or this address not on its allowlist", body = ErrorBody),
        (status = 404, description = "4040003 no such key; 4040001 the key's owner does not exist", body = ErrorBody),
        (status = 503, description = "5030006 replay protection unavailable (v2)", body = ErrorBody)))]
fn whoami(signed: Signed) -> Response {
    let caller = signed.caller;
    Envelope::reply(Whoami {
        your_email: caller.email,
        key_id: caller.access_key,
        scheme: caller.scheme,
    })
}

/// The signed schemes, for the OpenAPI document (docs/signing.md has the whole story).
struct SignedSchemes;

impl utoipa::Modify for SignedSchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "v1",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "secret",
                "v1: query key=<access key>&timestamp=<unix seconds>; header secret = \
                 base64(HMAC-SHA256(secret key, query string)). See docs/signing.md.",
            ))),
        );
        components.add_security_scheme(
            "v2",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Herald-Signature",
                "v2: headers Herald-Key, Herald-Timestamp, Herald-Nonce and Herald-Signature: \
                 v2=<base64 HMAC-SHA256 of the canonical request>. See docs/signing.md.",
            ))),
        );
    }
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(whoami),
    modifiers(&SignedSchemes),
    tags((name = "services", description = "Signed calls from programs (API keys)"))
)]
pub struct Doc;
