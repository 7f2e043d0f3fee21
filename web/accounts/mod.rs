//! Accounts on the web: the JSON API, the pages, and social sign-in in the browser.

pub mod api;
pub mod oauth;
pub mod pages;

use super::route::Table;
use crate::state::AppState;

pub fn routes(state: &AppState, table: &mut Table) {
    api::routes(state, table);
    oauth::routes(state, table);
    pages::routes(state, table);
}

/// This feature's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi;
    let mut doc = api::Doc::openapi();
    doc.merge(oauth::Doc::openapi());
    doc
}
