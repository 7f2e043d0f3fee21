//! How routes are declared and assembled.
//!
//! Every route is registered in a `Table` with its method and path pattern
//! (`/api/v1/users/{id}`, `/static/{*path}`) and the boxed warp filter that answers it (its
//! extractors and handler; no path matching of its own). The server matches each request
//! against the table once, before any filter runs: no match is a 404, a path that exists under
//! other methods is a 405 with `Allow`, and a match is handed to that route's filter alone, with
//! `Matched` (its parameters) in the request's extensions. No request walks a chain of routes,
//! and every route's type stays small. The table is also the list of what is routed, which a
//! test holds against the OpenAPI document.

use std::convert::Infallible;

use serde::de::DeserializeOwned;
use warp::filters::BoxedFilter;
use warp::http::Method;
use warp::reply::{Reply, Response};
use warp::{Filter, Rejection};

use super::context::RequestContext;
use super::error::ApiError;
use crate::state::AppState;

/// A route, or a feature's routes combined: each answers a response or rejects.
pub type Route = BoxedFilter<(Response,)>;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(&'static str),
    Param,
    /// The rest of the path, one or more segments.
    Rest,
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub method: Method,
    pub pattern: &'static str,
    segments: Vec<Segment>,
}

/// Every route of the server: method, path pattern and the filter that answers it.
#[derive(Default)]
pub struct Table {
    entries: Vec<Entry>,
    routes: Vec<Route>,
}

/// The route a request matched, with its path parameters (percent-decoded).
#[derive(Debug, Clone)]
pub struct Matched {
    pub id: usize,
    pub params: Params,
}

/// The `{..}` segments of the matched pattern, in order.
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<String>);

impl Params {
    pub fn get(&self, index: usize) -> &str {
        self.0.get(index).map_or("", String::as_str)
    }

    /// A numeric id; anything else names nothing, so it is a 404, not a 400 or 405.
    pub fn id(&self, index: usize) -> Result<i64, ApiError> {
        self.get(index).parse().map_err(|_| {
            ApiError::new(
                super::error::ErrorCode::RouteNotFound,
                "no resource has this id",
            )
        })
    }
}

/// What the table says about a request.
pub enum Lookup {
    Found(Matched),
    /// The path exists, under these methods only.
    WrongMethod(Vec<Method>),
    NotFound,
}

/// The path parameters of the route a request matched: how a route whose pattern has
/// `{..}` segments starts.
pub fn params() -> BoxedFilter<(Params,)> {
    warp::ext::get::<Matched>()
        .map(|m: Matched| m.params)
        .boxed()
}

impl Table {
    /// Registers `route` to answer `method pattern`.
    pub fn add(&mut self, method: Method, pattern: &'static str, route: Route) {
        let segments = parse(pattern);
        assert!(
            !self
                .entries
                .iter()
                .any(|e| e.method == method && e.segments == segments),
            "{method} {pattern} is routed twice"
        );
        self.entries.push(Entry {
            method,
            pattern,
            segments,
        });
        self.routes.push(route);
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The routes, by the ids `lookup` gives, and the table without them.
    pub fn take_routes(&mut self) -> Vec<Route> {
        std::mem::take(&mut self.routes)
    }

    /// Matches a request's method and path against every route, splitting the path once.
    pub fn lookup(&self, method: &Method, path: &str) -> Lookup {
        let Some(rest) = path.strip_prefix('/') else {
            return Lookup::NotFound;
        };
        let parts: Vec<&str> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('/').collect()
        };
        let mut allowed = Vec::new();
        for (id, entry) in self.entries.iter().enumerate() {
            let Some(params) = match_parts(&entry.segments, &parts) else {
                continue;
            };
            // HEAD is GET without the body (hyper leaves the body out).
            let head = method == Method::HEAD && entry.method == Method::GET;
            if entry.method == method || head {
                return Lookup::Found(Matched { id, params });
            }
            if !allowed.contains(&entry.method) {
                allowed.push(entry.method.clone());
            }
        }
        if allowed.is_empty() {
            Lookup::NotFound
        } else {
            Lookup::WrongMethod(allowed)
        }
    }
}

fn parse(pattern: &'static str) -> Vec<Segment> {
    assert!(pattern.starts_with('/'), "{pattern} must start with /");
    pattern[1..]
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            if s.starts_with("{*") {
                Segment::Rest
            } else if s.starts_with('{') {
                Segment::Param
            } else {
                Segment::Literal(s)
            }
        })
        .collect()
}

fn match_parts(segments: &[Segment], parts: &[&str]) -> Option<Params> {
    let mut params = Vec::new();
    for (i, segment) in segments.iter().enumerate() {
        match segment {
            Segment::Rest => {
                let tail = parts.get(i..).filter(|t| !t.is_empty())?.join("/");
                params.push(decode(&tail)?);
                return Some(Params(params));
            }
            Segment::Literal(literal) => {
                if parts.get(i) != Some(literal) {
                    return None;
                }
            }
            Segment::Param => {
                let part = parts.get(i).filter(|p| !p.is_empty())?;
                params.push(decode(part)?);
            }
        }
    }
    (parts.len() == segments.len()).then_some(Params(params))
}

fn decode(raw: &str) -> Option<String> {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// Hands the state to a handler.
pub fn with_state(state: &AppState) -> BoxedFilter<(AppState,)> {
    let state = state.clone();
    warp::any().map(move || state.clone()).boxed()
}

/// The request's context (id, client address, session).
pub fn ctx() -> BoxedFilter<(RequestContext,)> {
    warp::ext::get::<RequestContext>().boxed()
}

/// A JSON body; malformed input is 4000017 (4000015 for a missing field).
pub fn json<T: DeserializeOwned + Send + 'static>() -> BoxedFilter<(T,)> {
    warp::body::json().boxed()
}

/// A query string that never rejects: unknown parameters are ignored and a repeated one keeps
/// its first value, so no query can make a request fall through to other routes.
pub fn query<T: DeserializeOwned + Default + Send + 'static>() -> BoxedFilter<(T,)> {
    warp::query::raw()
        .or(warp::any().map(String::new))
        .unify()
        .map(|raw: String| first_values(&raw))
        .boxed()
}

pub fn first_values<T: DeserializeOwned + Default>(raw: &str) -> T {
    let mut seen = std::collections::HashSet::new();
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(raw.as_bytes())
        .filter(|(k, _)| seen.insert(k.to_string()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    serde_urlencoded::from_str(&encoded).unwrap_or_default()
}

/// Runs a handler's result through the one error mapping.
pub fn respond<T: Reply>(result: Result<T, ApiError>) -> Response {
    match result {
        Ok(reply) => reply.into_response(),
        Err(err) => err.into_response(),
    }
}

/// A filter's rejection from an `ApiError` (filters reject; handlers return errors).
pub fn reject(err: ApiError) -> Rejection {
    err.into()
}

/// Turns a handler that cannot fail into a route's response type.
pub fn infallible<T: Reply>(reply: T) -> Result<Response, Infallible> {
    Ok(reply.into_response())
}
