//! The HTTP surface: one folder or file per feature, each exposing its routes (registered in
//! the route table) and its part of the OpenAPI document; `route` and `reply` hold what they
//! share. Handlers parse input, call one domain function and render; errors go through
//! `error`, the one mapping to the JSON body.

pub mod accounts;
pub mod chart;
pub mod client_ip;
pub mod context;
pub mod cors;
pub mod error;
pub mod guilds;
mod home;
pub mod keys;
pub mod metrics;
pub mod notifications;
pub mod openapi;
mod ops;
pub mod reply;
pub mod route;
pub mod server;
pub mod services;
pub mod session;
pub mod signed;

use std::sync::Arc;

use warp::Filter;

pub use context::RequestContext;
pub use error::ApiError;
pub use server::{RouteService, Web, serve};

use crate::state::AppState;
use route::Table;

/// Every route in its table, each behind the one rejection handler, and the fallback for
/// paths no route has (a page for browsers, else the JSON 404).
pub fn routes(state: &AppState) -> Web<impl RouteService> {
    let mut table = Table::default();
    ops::routes(state, &mut table);
    metrics::routes(state, &mut table);
    openapi::routes(state, &mut table);
    accounts::routes(state, &mut table);
    keys::routes(state, &mut table);
    services::routes(state, &mut table);
    notifications::routes(state, &mut table);
    guilds::routes(state, &mut table);
    home::routes(state, &mut table);
    let routes = table
        .take_routes()
        .into_iter()
        .map(|route| warp::service(route.recover(error::recover).unify().boxed()))
        .collect();
    let fallback = home::not_found_page(state)
        .recover(error::recover)
        .unify()
        .boxed();
    Web {
        table: Arc::new(table),
        routes: Arc::new(routes),
        fallback: warp::service(fallback),
        metrics: state.metrics().clone(),
    }
}
