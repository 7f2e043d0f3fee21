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

/// The server a route's first `{guild_id}` names; anything but an id names no server of the
/// caller's (the same 404 as another user's server).
fn guild_id(params: &super::route::Params) -> Result<u64, super::error::ApiError> {
    use super::error::{ApiError, ErrorCode};
    crate::guilds::parse_id(params.get(0))
        .ok_or_else(|| ApiError::new(ErrorCode::GuildNotFound, "no such server of yours"))
}

/// This feature's part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi;
    api::Doc::openapi()
}
