//! Notifications on the web: the API for programs and signed-in users.

pub mod api;
mod doc;
mod pages;

use super::route::Table;
use crate::state::AppState;

pub fn routes(state: &AppState, table: &mut Table) {
    api::routes(state, table);
    pages::routes(state, table);
}

/// This feature's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi;
    doc::Doc::openapi()
}
