//! API keys on the web: the management API and the account page.

pub mod api;
pub mod pages;

use super::route::Table;
use crate::state::AppState;

pub fn routes(state: &AppState, table: &mut Table) {
    api::routes(state, table);
    pages::routes(state, table);
}

/// This feature's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi;
    api::Doc::openapi()
}
