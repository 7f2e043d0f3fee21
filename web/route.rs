//! How routes are declared and assembled.
//!
//! Every route is registered in a `Table` as a method and a path pattern
//! (`/api/v1/users/{id}`, `/static/{*path}`). The server matches each request against the table
//! once, before any warp filter runs: no match is a 404, a path that exists under other methods
//! is a 405 with `Allow`, and a match puts `Matched` in the request's extensions. Each route's
//! warp filter then only compares that index, so a request is routed in one pass and the filter
//! types stay small (every route is boxed). The table is also the list of what is routed, which
//! a test holds against the OpenAPI document.

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

/// Every route of the server: method and path pattern.
#[derive(Debug, Clone, Default)]
pub struct Table {
    entries: Vec<Entry>,
}

/// The route a request matched, with its path parameters (percent-decoded).
#[derive(Debug, Clone)]
pub struct Matched {
    id: usize,
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

impl Table {
    /// Registers `method pattern` and returns the filter that passes exactly its requests,
    /// with the pattern's parameters.
    pub fn route(&mut self, method: Method, pattern: &'static str) -> BoxedFilter<(Params,)> {
        let id = self.entries.len();
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
        warp::ext::optional::<Matched>()
            .and_then(move |matched: Option<Matched>| async move {
                match matched {
                    Some(m) if m.id == id => Ok(m.params),
                    _ => Err(warp::reject::not_found()),
                }
            })
            .boxed()
    }

    /// A route without parameters.
    pub fn plain(&mut self, method: Method, pattern: &'static str) -> BoxedFilter<()> {
        self.route(method, pattern)
            .map(|_| ())
            .untuple_one()
            .boxed()
    }

    pub fn get(&mut self, pattern: &'static str) -> BoxedFilter<()> {
        self.plain(Method::GET, pattern)
    }

    pub fn post(&mut self, pattern: &'static str) -> BoxedFilter<()> {
        self.plain(Method::POST, pattern)
    }

    pub fn get_with(&mut self, pattern: &'static str) -> BoxedFilter<(Params,)> {
        self.route(Method::GET, pattern)
    }

    pub fn post_with(&mut self, pattern: &'static str) -> BoxedFilter<(Params,)> {
        self.route(Method::POST, pattern)
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Matches a request's method and path against every route.
    pub fn lookup(&self, method: &Method, path: &str) -> Lookup {
        let mut allowed = Vec::new();
        for (id, entry) in self.entries.iter().enumerate() {
            let Some(params) = match_path(&entry.segments, path) else {
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

fn match_path(segments: &[Segment], path: &str) -> Option<Params> {
    let rest = path.strip_prefix('/')?;
    let mut parts = if rest.is_empty() {
        Vec::new()
    } else {
        rest.split('/').collect::<Vec<_>>()
    };
    let mut params = Vec::new();
    for (i, segment) in segments.iter().enumerate() {
        match segment {
            Segment::Rest => {
                let tail = parts.get(i..).filter(|t| !t.is_empty())?.join("/");
                params.push(decode(&tail)?);
                parts.clear();
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

/// Tries each route in turn (each is matched by index, so order does not matter).
pub fn any_of(routes: impl IntoIterator<Item = Route>) -> Route {
    routes
        .into_iter()
        .reduce(|all, next| all.or(next).unify().boxed())
        .expect("at least one route")
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
