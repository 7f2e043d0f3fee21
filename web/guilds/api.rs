//! `/api/v1/guilds`: the servers a signed-in user manages, their settings with revisions, the
//! audit log, and removing the bot. Every call checks the caller's access to the server.

use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use warp::Filter;
use warp::http::{Method, header};
use warp::reply::{Reply, Response};

use super::guild_id;
use crate::guilds::audit::{self, Source};
use crate::guilds::settings::{Change, Current, Revision, Settings};
use crate::guilds::{Listed, Overview, Viewer};
use crate::state::AppState;
use crate::web::error::{ApiError, ErrorBody, ErrorCode};
use crate::web::route::{Params, Table, json, params, query, respond, with_state};
use crate::web::session::{Authed, bearer};

#[derive(OpenApi)]
#[openapi(paths(
    list, get, settings, save, revisions, diff, restore, audit_log, remove_bot
))]
pub struct Doc;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    /// `true` asks Discord again instead of the answer cached for up to a minute.
    refresh: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveSettings {
    /// The revision these settings were edited from: a save made meanwhile by someone else
    /// refuses this one (4090003) instead of being overwritten.
    pub base_revision: i64,
    pub settings: Settings,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Restore {
    /// The revision now current, as the caller last saw it.
    pub base_revision: i64,
}

#[derive(Deserialize, Default)]
pub struct DiffQuery {
    from: Option<String>,
    to: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct AuditQuery {
    actor_user_id: Option<String>,
    actor_discord_id: Option<String>,
    action: Option<String>,
    since: Option<String>,
    until: Option<String>,
    before: Option<String>,
    limit: Option<String>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<audit::Entry>,
    /// Pass as `before` for the next page; absent on the last.
    pub next_before: Option<i64>,
}

pub fn routes(state: &AppState, table: &mut Table) {
    let s = || with_state(state);
    let authed = || bearer(state);
    table.add(
        Method::GET,
        "/api/v1/guilds",
        s().and(authed())
            .and(query())
            .then(list)
            .map(respond)
            .boxed(),
    );
    table.add(
        Method::GET,
        "/api/v1/guilds/{guild_id}",
        params()
            .and(s())
            .and(authed())
            .then(get)
            .map(respond)
            .boxed(),
    );
    table.add(
        Method::GET,
        "/api/v1/guilds/{guild_id}/settings",
        params()
            .and(s())
            .and(authed())
            .then(settings)
            .map(respond)
            .boxed(),
    );
    table.add(
        Method::PUT,
        "/api/v1/guilds/{guild_id}/settings",
        params()
            .and(s())
            .and(authed())
            .and(json())
            .then(save)
            .map(respond)
            .boxed(),
    );
    table.add(
        Method::GET,
        "/api/v1/guilds/{guild_id}/settings/revisions",
        params()
            .and(s())
            .and(authed())
            .then(revisions)
            .map(respond)
            .boxed(),
    );
    table.add(
        Method::GET,
        "/api/v1/guilds/{guild_id}/settings/diff",
        params()
            .and(s())
            .and(authed())
            .and(query())
            .then(diff)
            .map(respond)
            .boxed(),
    );
    table.add(
        Method::POST,
        "/api/v1/guilds/{guild_id}/settings/revisions/{revision}/restore",
        params()
            .and(s())
            .and(authed())
            .and(json())
            .then(restore)
            .map(respond)
            .boxed(),
    );
    table.add(
        Method::GET,
        "/api/v1/guilds/{guild_id}/audit",
        params()
            .and(s())
            .and(authed())
            .and(query())
            .then(audit_log)
            .map(respond)
            .boxed(),
    );
    table.add(
        Method::DELETE,
        "/api/v1/guilds/{guild_id}/bot",
        params()
            .and(s())
            .and(authed())
            .then(remove_bot)
            .map(respond)
            .boxed(),
    );
}

fn viewer(authed: &Authed) -> Viewer {
    Viewer {
        user_id: authed.user.id,
        source: Source::Api,
    }
}

/// A server id; anything else names no server of the caller's.
/// An integer query parameter, when present.
fn number(raw: &Option<String>, field: &str) -> Result<Option<i64>, ApiError> {
    raw.as_deref()
        .map(|v| {
            v.parse()
                .map_err(|_| ApiError::new(ErrorCode::InvalidField, format!("{field}: an integer")))
        })
        .transpose()
}

/// The servers you manage on Discord or through a manager role; servers with the bot first.
#[utoipa::path(get, path = "/api/v1/guilds", tag = "dashboard", security(("bearer" = [])),
    params(("refresh" = Option<bool>, Query, description = "Ask Discord again instead of the answer cached for up to a minute")),
    responses((status = 200, description = "Your servers", body = [Listed]),
        (status = 401, description = "4010001 not signed in", body = ErrorBody),
        (status = 404, description = "4040007 no Discord account linked", body = ErrorBody),
        (status = 503, description = "5030007 Discord did not answer", body = ErrorBody)))]
async fn list(state: AppState, authed: Authed, q: ListQuery) -> Result<Response, ApiError> {
    let refresh = q.refresh.as_deref() == Some("true");
    let listed = state.guilds().list(authed.user.id, refresh).await?;
    Ok(warp::reply::json(&listed).into_response())
}

/// One server: the bot's presence, member count, and the channels and roles it sees.
#[utoipa::path(get, path = "/api/v1/guilds/{guild_id}", tag = "dashboard", security(("bearer" = [])),
    params(("guild_id" = String, Path, description = "The server's id")),
    responses((status = 200, description = "The server", body = Overview),
        (status = 401, description = "4010001 not signed in", body = ErrorBody),
        (status = 404, description = "4040009 not a server of yours", body = ErrorBody)))]
async fn get(params: Params, state: AppState, authed: Authed) -> Result<Response, ApiError> {
    let overview = state
        .guilds()
        .overview(viewer(&authed), guild_id(&params)?)
        .await?;
    Ok(warp::reply::json(&overview).into_response())
}

/// The server's settings in force and their revision (0 before the first save).
#[utoipa::path(get, path = "/api/v1/guilds/{guild_id}/settings", tag = "dashboard", security(("bearer" = [])),
    params(("guild_id" = String, Path, description = "The server's id")),
    responses((status = 200, description = "The settings", body = Current),
        (status = 401, description = "4010001 not signed in", body = ErrorBody),
        (status = 404, description = "4040009 not a server of yours", body = ErrorBody)))]
async fn settings(params: Params, state: AppState, authed: Authed) -> Result<Response, ApiError> {
    let current = state
        .guilds()
        .settings(viewer(&authed), guild_id(&params)?)
        .await?;
    Ok(warp::reply::json(&current).into_response())
}

/// Saves the settings as a new revision, based on the revision they were edited from.
#[utoipa::path(put, path = "/api/v1/guilds/{guild_id}/settings", tag = "dashboard", security(("bearer" = [])),
    params(("guild_id" = String, Path, description = "The server's id")), request_body = SaveSettings,
    responses((status = 200, description = "Saved (or unchanged): the settings in force", body = Current),
        (status = 400, description = "4000021 a field is invalid; 4000017 malformed JSON", body = ErrorBody),
        (status = 401, description = "4010001 not signed in", body = ErrorBody),
        (status = 403, description = "4030007 your access is read-only", body = ErrorBody),
        (status = 404, description = "4040009 not a server of yours", body = ErrorBody),
        (status = 409, description = "4090003 saved by someone else meanwhile", body = ErrorBody)))]
async fn save(
    params: Params,
    state: AppState,
    authed: Authed,
    body: SaveSettings,
) -> Result<Response, ApiError> {
    let current = state
        .guilds()
        .save_settings(
            viewer(&authed),
            guild_id(&params)?,
            body.base_revision,
            &body.settings,
        )
        .await?;
    Ok(warp::reply::json(&current).into_response())
}

/// Every revision of the settings, newest first, with its author and source.
#[utoipa::path(get, path = "/api/v1/guilds/{guild_id}/settings/revisions", tag = "dashboard", security(("bearer" = [])),
    params(("guild_id" = String, Path, description = "The server's id")),
    responses((status = 200, description = "The revisions", body = [Revision]),
        (status = 401, description = "4010001 not signed in", body = ErrorBody),
        (status = 404, description = "4040009 not a server of yours", body = ErrorBody)))]
async fn revisions(params: Params, state: AppState, authed: Authed) -> Result<Response, ApiError> {
    let list = state
        .guilds()
        .revisions(viewer(&authed), guild_id(&params)?)
        .await?;
    Ok(warp::reply::json(&list).into_response())
}

/// What changed between two revisions, field by field (`from=0` is the unset start).
#[utoipa::path(get, path = "/api/v1/guilds/{guild_id}/settings/diff", tag = "dashboard", security(("bearer" = [])),
    params(("guild_id" = String, Path, description = "The server's id"),
        ("from" = i64, Query, description = "The earlier revision"),
        ("to" = i64, Query, description = "The later revision")),
    responses((status = 200, description = "The changed fields", body = [Change]),
        (status = 400, description = "4000021 from or to missing or not an integer", body = ErrorBody),
        (status = 401, description = "4010001 not signed in", body = ErrorBody),
        (status = 404, description = "4040009 not a server of yours; 4040010 no such revision", body = ErrorBody)))]
async fn diff(
    params: Params,
    state: AppState,
    authed: Authed,
    q: DiffQuery,
) -> Result<Response, ApiError> {
    let required = |v: Option<i64>, field: &str| {
        v.ok_or_else(|| ApiError::new(ErrorCode::InvalidField, format!("{field} is required")))
    };
    let from = required(number(&q.from, "from")?, "from")?;
    let to = required(number(&q.to, "to")?, "to")?;
    let changes = state
        .guilds()
        .diff(viewer(&authed), guild_id(&params)?, from, to)
        .await?;
    Ok(warp::reply::json(&changes).into_response())
}

/// Makes an old revision's settings current again, as a new revision.
#[utoipa::path(post, path = "/api/v1/guilds/{guild_id}/settings/revisions/{revision}/restore", tag = "dashboard", security(("bearer" = [])),
    params(("guild_id" = String, Path, description = "The server's id"),
        ("revision" = i64, Path, description = "The revision to restore")), request_body = Restore,
    responses((status = 200, description = "Restored: the settings in force", body = Current),
        (status = 400, description = "4000021 a channel or role it names is gone", body = ErrorBody),
        (status = 401, description = "4010001 not signed in", body = ErrorBody),
        (status = 403, description = "4030007 your access is read-only", body = ErrorBody),
        (status = 404, description = "4040009 not a server of yours; 4040010 no such revision", body = ErrorBody),
        (status = 409, description = "4090003 saved by someone else meanwhile", body = ErrorBody)))]
async fn restore(
    params: Params,
    state: AppState,
    authed: Authed,
    body: Restore,
) -> Result<Response, ApiError> {
    let revision: i64 = params
        .get(1)
        .parse()
        .map_err(|_| ApiError::new(ErrorCode::RevisionNotFound, "no such revision"))?;
    let current = state
        .guilds()
        .restore(
            viewer(&authed),
            guild_id(&params)?,
            revision,
            body.base_revision,
        )
        .await?;
    Ok(warp::reply::json(&current).into_response())
}

/// The server's audit log, newest first; filtered by actor, action (or an action prefix
/// ending in `.`) and time; as JSON pages or a CSV file.
#[utoipa::path(get, path = "/api/v1/guilds/{guild_id}/audit", tag = "dashboard", security(("bearer" = [])),
    params(("guild_id" = String, Path, description = "The server's id"),
        ("actor_user_id" = Option<i64>, Query, description = "Only this Herald user's entries"),
        ("actor_discord_id" = Option<String>, Query, description = "Only this Discord user's entries"),
        ("action" = Option<String>, Query, description = "An action, or a prefix ending in `.` such as `settings.`"),
        ("since" = Option<i64>, Query, description = "At or after (Unix seconds)"),
        ("until" = Option<i64>, Query, description = "Before (Unix seconds)"),
        ("before" = Option<i64>, Query, description = "Entries with a smaller id (the next page)"),
        ("limit" = Option<u32>, Query, description = "1 to 200; 50 when absent"),
        ("format" = Option<String>, Query, description = "`json` (default) or `csv`")),
    responses((status = 200, description = "The entries", body = AuditPage),
        (status = 400, description = "4000021 a filter is invalid", body = ErrorBody),
        (status = 401, description = "4010001 not signed in", body = ErrorBody),
        (status = 404, description = "4040009 not a server of yours", body = ErrorBody)))]
async fn audit_log(
    params: Params,
    state: AppState,
    authed: Authed,
    q: AuditQuery,
) -> Result<Response, ApiError> {
    let discord = number(&q.actor_discord_id, "actor_discord_id")?;
    let filter = audit::Filter {
        actor_user_id: number(&q.actor_user_id, "actor_user_id")?,
        actor_discord_id: discord.map(|id| id.max(0) as u64),
        action: q.action.clone().filter(|a| !a.is_empty()),
        since: number(&q.since, "since")?,
        until: number(&q.until, "until")?,
        before: number(&q.before, "before")?,
        limit: number(&q.limit, "limit")?.map_or(50, |l| l.clamp(1, 200) as u32),
    };
    let guild = guild_id(&params)?;
    let items = state
        .guilds()
        .audit(viewer(&authed), guild, &filter)
        .await?;
    match q.format.as_deref() {
        Some("csv") => {
            let file = format!("attachment; filename=\"herald-audit-{guild}.csv\"");
            Ok(warp::http::Response::builder()
                .header(header::CONTENT_TYPE, "text/csv; charset=utf-8")
                .header(header::CONTENT_DISPOSITION, file)
                .body(audit::to_csv(&items).into())
                .expect("a valid response"))
        }
        None | Some("json") => {
            let full = items.len() == filter.limit as usize;
            let next_before = items.last().filter(|_| full).map(|e| e.id);
            Ok(warp::reply::json(&AuditPage { items, next_before }).into_response())
        }
        Some(_) => Err(ApiError::new(
            ErrorCode::InvalidField,
            "format: json or csv",
        )),
    }
}

/// The bot leaves the server. Checked with Discord at the time of the call: only its owner, or
/// a member with ADMINISTRATOR or MANAGE_GUILD, may do this.
#[utoipa::path(delete, path = "/api/v1/guilds/{guild_id}/bot", tag = "dashboard", security(("bearer" = [])),
    params(("guild_id" = String, Path, description = "The server's id")),
    responses((status = 204, description = "The bot left"),
        (status = 401, description = "4010001 not signed in", body = ErrorBody),
        (status = 403, description = "4030007 a manager role does not let you remove the bot", body = ErrorBody),
        (status = 404, description = "4040009 not a server of yours", body = ErrorBody),
        (status = 503, description = "5030001 the bot is unavailable; 5030007 Discord did not answer", body = ErrorBody)))]
async fn remove_bot(params: Params, state: AppState, authed: Authed) -> Result<Response, ApiError> {
    state
        .guilds()
        .remove_bot(viewer(&authed), guild_id(&params)?)
        .await?;
    Ok(warp::http::StatusCode::NO_CONTENT.into_response())
}
