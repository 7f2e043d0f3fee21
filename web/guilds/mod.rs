//! The dashboard on the web: the JSON API over the servers a user manages, and its pages.

pub mod api;
mod pages;
mod settings_form;

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
