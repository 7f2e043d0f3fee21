//! Signed service calls: every route under `/api/v1/services` takes its caller from here, by
//! the seed's v1 scheme or by v2 (`keys::signing` describes both), and by nothing else: no JWT,
//! no unsigned mode in any environment.

use bytes::Bytes;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::{HeaderMap, Method};

use super::context::{LoggedUser, RequestContext};
use super::error::ApiError;
use super::route::{reject, with_state};
use crate::keys::calls::{Caller, V2Call};
use crate::keys::signing::V2Request;
use crate::state::AppState;

/// A verified caller and the body it sent (v2 signed it; routes parse it themselves).
pub struct Signed {
    pub caller: Caller,
    pub body: Bytes,
}

/// The verified caller of a signed request, or the refusal the checks give.
pub fn signed(state: &AppState) -> BoxedFilter<(Signed,)> {
    warp::method()
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(warp::body::bytes())
        .and(with_state(state))
        .and(warp::ext::get::<RequestContext>())
        .and_then(
            |method: Method,
             path: warp::path::FullPath,
             query: String,
             headers: HeaderMap,
             body: Bytes,
             state: AppState,
             ctx: RequestContext| async move {
                let calls = state.keys().calls();
                let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
                let caller =
                    if header("herald-key").is_some() || header("herald-signature").is_some() {
                        let call = V2Call {
                            request: V2Request {
                                method: method.as_str(),
                                path: path.as_str(),
                                query: &query,
                                body: &body,
                                timestamp: header("herald-timestamp").unwrap_or_default(),
                                nonce: header("herald-nonce").unwrap_or_default(),
                            },
                            key: header("herald-key").unwrap_or_default(),
                            signature: header("herald-signature").unwrap_or_default(),
                        };
                        calls.verify_v2(&call, ctx.client_ip).await
                    } else {
                        calls
                            .verify_v1(&query, header("secret"), ctx.client_ip)
                            .await
                    };
                let caller = caller.map_err(|e| reject(ApiError::from(e)))?;
                let _ = ctx.user.set(LoggedUser {
                    id: caller.user_id,
                    email: caller.email.clone().unwrap_or_default(),
                });
                Ok::<_, warp::Rejection>(Signed { caller, body })
            },
        )
        .boxed()
}
