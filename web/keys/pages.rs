//! The API keys page of the account (`/account/keys`): list, create (the secret shown once),
//! memo, disable and enable, roll, delete, and each key's allowlist. No JavaScript; every form
//! carries the CSRF token.

use serde::Serialize;
use warp::Filter;
use warp::http::Method;
use warp::reply::Response;

use crate::accounts::users::User;
use crate::keys::store::{ApiKey, KeyStatus};
use crate::keys::{DEFAULT_GRACE_SECS, KeyChange, WithSecret};
use crate::state::AppState;
use crate::web::context::PageSession;
use crate::web::error::{ApiError, ErrorCode};
use crate::web::reply::{Form, error_page, page, see_other, sign_in_first, when};
use crate::web::route::{Params, Table, params, query, with_state};
use crate::web::session::page_session;

pub fn routes(state: &AppState, table: &mut Table) {
    let form = || {
        params()
            .and(with_state(state))
            .and(page_session(state))
            .and(warp::body::form::<Form>())
    };
    table.add(
        Method::GET,
        "/account/keys",
        with_state(state)
            .and(page_session(state))
            .and(query::<NoticeQuery>())
            .then(|state, session, q: NoticeQuery| {
                let notice = (q.notice.as_deref() == Some("saved")).then_some("keys.saved");
                keys_page(state, session, notice, None)
            })
            .boxed(),
    );
    table.add(Method::POST, "/account/keys", form().then(create).boxed());
    let actions = [
        ("/account/keys/{key_id}/memo", Action::Memo),
        ("/account/keys/{key_id}/status", Action::Status),
        ("/account/keys/{key_id}/delete", Action::Delete),
        ("/account/keys/{key_id}/allowlist", Action::Allow),
        (
            "/account/keys/{key_id}/allowlist/{entry_id}/delete",
            Action::Disallow,
        ),
    ];
    for (pattern, action) in actions {
        let route = form()
            .then(move |p, s, session, f| act(p, s, session, f, action))
            .boxed();
        table.add(Method::POST, pattern, route);
    }
    table.add(
        Method::POST,
        "/account/keys/{key_id}/roll",
        form().then(roll).boxed(),
    );
}

#[derive(serde::Deserialize, Default)]
struct NoticeQuery {
    notice: Option<String>,
}

#[derive(Serialize)]
struct KeysView {
    keys: Vec<KeyRow>,
    /// Just made or rolled: the one time its secret is shown.
    revealed: Option<Revealed>,
    grace_options: Vec<GraceOption>,
}

#[derive(Serialize)]
struct KeyRow {
    id: i64,
    access_key: String,
    memo: String,
    active: bool,
    created: String,
    expires: Option<String>,
    last_used: Option<String>,
    last_used_ip: Option<String>,
    previous_until: Option<String>,
    entries: Vec<EntryRow>,
}

#[derive(Serialize)]
struct EntryRow {
    id: i64,
    ip_address: String,
}

#[derive(Serialize)]
struct Revealed {
    access_key: String,
    secret: String,
}

#[derive(Serialize)]
struct GraceOption {
    seconds: i64,
    label_key: &'static str,
    selected: bool,
}

/// The page, with a notice, or with the secret of a key just made or rolled.
async fn keys_page(
    state: AppState,
    session: PageSession,
    notice: Option<&'static str>,
    revealed: Option<WithSecret>,
) -> Response {
    let Some(user) = &session.user else {
        return sign_in_first("/account/keys");
    };
    let rows = match rows(&state, user).await {
        Ok(rows) => rows,
        Err(err) => return error_page(&state, &session, err),
    };
    let view = KeysView {
        keys: rows,
        revealed: revealed.map(|made| Revealed {
            access_key: made.key.access_key,
            secret: made.secret,
        }),
        grace_options: [
            (0, "keys.grace_none"),
            (3600, "keys.grace_hour"),
            (DEFAULT_GRACE_SECS, "keys.grace_day"),
            (7 * 86_400, "keys.grace_week"),
        ]
        .into_iter()
        .map(|(seconds, label_key)| GraceOption {
            seconds,
            label_key,
            selected: seconds == DEFAULT_GRACE_SECS,
        })
        .collect(),
    };
    page(&state, &session, "pages/keys")
        .notice(notice)
        .render(&view)
}

async fn rows(state: &AppState, user: &User) -> Result<Vec<KeyRow>, ApiError> {
    let keys = state.keys().list(user.id).await?;
    let mut rows = Vec::with_capacity(keys.len());
    for key in keys {
        let entries = state.keys().allowlist(user.id, key.id).await?;
        rows.push(row(key, entries));
    }
    Ok(rows)
}

fn row(key: ApiKey, entries: Vec<crate::keys::store::AllowEntry>) -> KeyRow {
    let now = crate::db::now_unix();
    KeyRow {
        id: key.id,
        access_key: key.access_key,
        memo: key.memo,
        active: key.status == KeyStatus::Active,
        created: when(key.created_at),
        expires: key.expires_at.map(when),
        last_used: key.last_used_at.map(when),
        last_used_ip: key.last_used_ip,
        previous_until: key.previous_until.filter(|at| *at > now).map(when),
        entries: entries
            .into_iter()
            .map(|e| EntryRow {
                id: e.id,
                ip_address: e.ip_address,
            })
            .collect(),
    }
}

async fn create(_: Params, state: AppState, session: PageSession, form: Form) -> Response {
    let made = async {
        let user = session.form_user(&form)?;
        let expires_at = match form.get("expires_days").map(str::trim) {
            None | Some("") => None,
            Some(days) => {
                let days: i64 = days
                    .parse()
                    .ok()
                    .filter(|d| (1..=3650).contains(d))
                    .ok_or_else(|| {
                        ApiError::new(ErrorCode::InvalidField, "expires_days: 1 to 3650")
                    })?;
                Some(crate::db::now_unix() + days * 86_400)
            }
        };
        let memo = form.text("memo");
        Ok::<_, ApiError>(state.keys().create(user.id, &memo, expires_at).await?)
    };
    match made.await {
        Ok(made) => keys_page(state, session, Some("keys.created"), Some(made)).await,
        Err(err) => error_page(&state, &session, err),
    }
}

async fn roll(params: Params, state: AppState, session: PageSession, form: Form) -> Response {
    let rolled = async {
        let user = session.form_user(&form)?;
        let grace = form
            .get("grace_seconds")
            .and_then(|g| g.parse().ok())
            .unwrap_or(DEFAULT_GRACE_SECS);
        Ok::<_, ApiError>(state.keys().roll(user.id, key_id(&params)?, grace).await?)
    };
    match rolled.await {
        Ok(made) => keys_page(state, session, Some("keys.rolled"), Some(made)).await,
        Err(err) => error_page(&state, &session, err),
    }
}

#[derive(Clone, Copy)]
enum Action {
    Memo,
    Status,
    Delete,
    Allow,
    Disallow,
}

/// A change to a key: back to the page with a notice, or the error page.
async fn act(
    params: Params,
    state: AppState,
    session: PageSession,
    form: Form,
    action: Action,
) -> Response {
    let done = async {
        let user = session.form_user(&form)?;
        let (keys, id) = (state.keys(), key_id(&params)?);
        match action {
            Action::Memo => {
                let change = KeyChange {
                    memo: Some(form.text("memo")),
                    status: None,
                };
                keys.update(user.id, id, change).await?;
            }
            Action::Status => {
                let status = if form.get("status") == Some("active") {
                    KeyStatus::Active
                } else {
                    KeyStatus::Disabled
                };
                let change = KeyChange {
                    memo: None,
                    status: Some(status),
                };
                keys.update(user.id, id, change).await?;
            }
            Action::Delete => keys.delete(user.id, id).await?,
            Action::Allow => {
                keys.allow(user.id, id, &form.text("ip_address")).await?;
            }
            Action::Disallow => {
                let entry = params.id(1).map_err(|_| {
                    ApiError::new(ErrorCode::WhitelistEntryNotFound, "no such entry")
                })?;
                keys.disallow(user.id, id, entry).await?;
            }
        }
        Ok::<_, ApiError>(())
    };
    match done.await {
        Ok(()) => see_other("/account/keys?notice=saved"),
        Err(err) => error_page(&state, &session, err),
    }
}

fn key_id(params: &Params) -> Result<i64, ApiError> {
    params
        .id(0)
        .map_err(|_| ApiError::new(ErrorCode::ApiKeyNotFound, "no such key"))
}
