//! The dashboard's pages: `/dashboard` (the servers you manage) and `/dashboard/{id}` (one
//! server: overview, settings with history, diff and restore, audit log, adding and removing
//! the bot). No JavaScript: every change is a form with the CSRF token; the page reloads itself
//! while it waits for Discord to confirm the bot joined.

use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::http::{Method, header};
use warp::reply::{Reply, Response};

use super::guild_id;
use super::settings_form::{SettingsForm, base_revision, form_settings, settings_form};
use crate::guilds::audit::{self, Entry, Source, shown};
use crate::guilds::settings::{Change, Settings};
use crate::guilds::{GuildsError, Listed, MAX_WAIT_RELOADS, Viewer};
use crate::state::AppState;
use crate::web::chart;
use crate::web::context::PageSession;
use crate::web::error::{ApiError, ErrorCode};
use crate::web::reply::{Form, error_page, page, see_other, sign_in_first, when};
use crate::web::route::{Params, Table, params, query, with_state};
use crate::web::session::page_session;

pub fn routes(state: &AppState, table: &mut Table) {
    let get = || with_state(state).and(page_session(state));
    table.add(
        Method::GET,
        "/dashboard",
        get().and(query()).then(list_page).boxed(),
    );
    // Before `/dashboard/{guild_id}/..`: the table takes the first pattern that matches.
    table.add(
        Method::GET,
        "/dashboard/invite/return",
        get().and(query()).then(invite_return).boxed(),
    );
    table.add(
        Method::GET,
        "/dashboard/{guild_id}",
        params().and(get()).and(query()).then(guild_page).boxed(),
    );
    table.add(
        Method::GET,
        "/dashboard/{guild_id}/add-bot",
        params().and(get()).then(add_bot).boxed(),
    );
    for (pattern, csv) in [
        ("/dashboard/{guild_id}/audit.csv", true),
        ("/dashboard/{guild_id}/audit.json", false),
    ] {
        let route = params()
            .and(get())
            .then(move |p, s, session| export(p, s, session, csv))
            .boxed();
        table.add(Method::GET, pattern, route);
    }
    let form = || {
        params()
            .and(with_state(state))
            .and(page_session(state))
            .and(warp::body::form::<Form>())
    };
    table.add(
        Method::POST,
        "/dashboard/{guild_id}/settings",
        form().then(save).boxed(),
    );
    table.add(
        Method::POST,
        "/dashboard/{guild_id}/revisions/{revision}/restore",
        form().then(restore).boxed(),
    );
    table.add(
        Method::POST,
        "/dashboard/{guild_id}/remove-bot",
        form().then(remove_bot).boxed(),
    );
}

#[derive(Deserialize, Default)]
struct ListQuery {
    refresh: Option<String>,
}

#[derive(Serialize)]
struct ListView {
    link_discord: bool,
    guilds: Vec<GuildCard>,
}

#[derive(Serialize)]
struct GuildCard {
    id: String,
    name: String,
    initials: String,
    icon_url: Option<String>,
    bot_present: bool,
    member_count: Option<u64>,
    read_only: bool,
    via_role: bool,
}

impl GuildCard {
    fn of(g: &Listed) -> Self {
        Self {
            id: g.id.clone(),
            name: g.name.clone(),
            initials: initials(&g.name),
            icon_url: g.icon_url.clone(),
            bot_present: g.bot_present,
            member_count: g.member_count,
            read_only: !g.access.can_write(),
            via_role: matches!(g.access.via, crate::guilds::access::Via::Role { .. }),
        }
    }
}

/// What a server without an icon shows: the first letter of up to three words.
fn initials(name: &str) -> String {
    name.split_whitespace()
        .filter_map(|w| w.chars().next())
        .take(3)
        .flat_map(char::to_uppercase)
        .collect()
}

fn viewer(session: &PageSession) -> Option<Viewer> {
    session.user.as_ref().map(|u| Viewer {
        user_id: u.id,
        source: Source::Web,
    })
}

async fn list_page(state: AppState, session: PageSession, q: ListQuery) -> Response {
    let Some(user) = &session.user else {
        return sign_in_first("/dashboard");
    };
    let refresh = q.refresh.as_deref() == Some("true");
    let view = match state.guilds().list(user.id, refresh).await {
        Ok(listed) => ListView {
            link_discord: false,
            guilds: listed.iter().map(GuildCard::of).collect(),
        },
        Err(GuildsError::DiscordNotLinked) => ListView {
            link_discord: true,
            guilds: Vec::new(),
        },
        Err(err) => return error_page(&state, &session, err.into()),
    };
    page(&state, &session, "pages/dashboard").render(&view)
}

#[derive(Deserialize, Default)]
struct GuildQuery {
    from: Option<String>,
    to: Option<String>,
    action: Option<String>,
    actor_discord_id: Option<String>,
    /// Back from Discord's invite: reload until the gateway confirms, this many times so far.
    waiting: Option<String>,
    notice: Option<String>,
}

#[derive(Serialize)]
struct GuildView {
    guild: GuildCard,
    can_write: bool,
    can_remove: bool,
    waiting: bool,
    /// The permissions Herald needs here, each granted or not (when known).
    permissions: Option<Vec<crate::guilds::Needed>>,
    /// Some needed permission is missing.
    lacking: bool,
    /// Each text channel, and whether the bot can post there (when known).
    posting: Option<Vec<crate::guilds::Posting>>,
    /// Waited the most reloads; the user is asked to reload later.
    wait_over: bool,
    channel_count: usize,
    form: SettingsForm,
    revisions: Vec<RevisionRow>,
    diff: Option<DiffView>,
    audit: Vec<AuditRow>,
    audit_filter: AuditFilterView,
    /// Deliveries per day by outcome, an SVG drawn here.
    chart: String,
    legend: Vec<chart::LegendItem>,
    deliveries: Vec<DeliveryRow>,
}

#[derive(Serialize)]
struct DeliveryRow {
    when: String,
    to: String,
    state: &'static str,
    attempts: i64,
    error: Option<String>,
}

#[derive(Serialize)]
struct RevisionRow {
    revision: i64,
    when: String,
    who: String,
    source: &'static str,
    restored_from: Option<i64>,
    current: bool,
    from: bool,
    to: bool,
}

#[derive(Serialize)]
struct DiffView {
    from: i64,
    to: i64,
    changes: Vec<ChangeRow>,
}

#[derive(Serialize)]
struct ChangeRow {
    field: String,
    before: String,
    after: String,
}

#[derive(Serialize)]
struct AuditRow {
    when: String,
    who: String,
    source: &'static str,
    action: String,
    changes: Vec<ChangeRow>,
    /// A notification posted in one of the server's channels.
    notification: Option<NotificationNote>,
}

#[derive(Serialize)]
struct NotificationNote {
    id: i64,
    channel: String,
}

#[derive(Serialize, Default)]
struct AuditFilterView {
    action: String,
    actor: String,
}

async fn guild_page(
    params: Params,
    state: AppState,
    session: PageSession,
    q: GuildQuery,
) -> Response {
    let Some(viewer) = viewer(&session) else {
        return sign_in_first(&format!("/dashboard/{}", params.get(0)));
    };
    let notice = match q.notice.as_deref() {
        Some("saved") => Some("dashboard.saved"),
        Some("restored") => Some("dashboard.restored"),
        _ => None,
    };
    match view(&state, session.locale, viewer, &params, &q, None).await {
        Ok((view, refresh)) => page(&state, &session, "pages/guild")
            .notice(notice)
            .refresh(refresh)
            .render(&view),
        Err(err) => error_page(&state, &session, err),
    }
}

/// The server page's data; `form` replaces the stored settings in the form (a refused save
/// shows what was typed). Answers the view and, while waiting for the bot, a reload delay.
async fn view(
    state: &AppState,
    locale: crate::i18n::Locale,
    viewer: Viewer,
    params: &Params,
    q: &GuildQuery,
    form: Option<(i64, &Settings)>,
) -> Result<(GuildView, Option<String>), ApiError> {
    let guilds = state.guilds();
    let guild_id = guild_id(params)?;
    let overview = guilds.overview(viewer, guild_id).await?;
    let current = guilds.settings(viewer, guild_id).await?;
    let revisions = guilds.revisions(viewer, guild_id).await?;
    let number = |raw: &Option<String>| raw.as_deref().and_then(|v| v.parse::<i64>().ok());
    let (from, to) = (number(&q.from), number(&q.to));
    let diff = match (from, to) {
        (Some(from), Some(to)) => Some(DiffView {
            from,
            to,
            changes: guilds
                .diff(viewer, guild_id, from, to)
                .await?
                .iter()
                .map(change_row)
                .collect(),
        }),
        _ => None,
    };
    let filter = audit::Filter {
        action: q.action.clone().filter(|a| !a.is_empty()),
        actor_discord_id: q
            .actor_discord_id
            .as_deref()
            .and_then(|v| v.trim().parse().ok()),
        limit: 50,
        ..audit::Filter::default()
    };
    let entries = guilds.audit(viewer, guild_id, &filter).await?;
    let (daily, recent) = guilds.deliveries(viewer, guild_id, 30).await?;
    let waited = number(&q.waiting);
    let waiting = waited.is_some() && !overview.listed.bot_present;
    // Each reload counts itself, so that the page stops after MAX_WAIT_RELOADS.
    let refresh = waited
        .filter(|n| waiting && *n < MAX_WAIT_RELOADS)
        .map(|n| format!("2; url=/dashboard/{guild_id}?waiting={}", n + 1));
    let (base, shown) = match form {
        Some((base, settings)) => (base, settings.clone()),
        None => (current.revision, current.settings.clone()),
    };
    let can_write = overview.listed.access.can_write();
    let view = GuildView {
        guild: GuildCard::of(&overview.listed),
        can_write,
        can_remove: can_write && overview.listed.access.via == crate::guilds::access::Via::Discord,
        waiting,
        lacking: overview
            .permissions
            .as_ref()
            .is_some_and(|p| p.iter().any(|n| !n.granted)),
        permissions: overview.permissions.clone(),
        posting: overview.posting.clone(),
        wait_over: waiting && refresh.is_none(),
        channel_count: overview.channels.len(),
        form: settings_form(base, &shown, &overview.channels, &overview.roles),
        revisions: revisions
            .iter()
            .map(|r| RevisionRow {
                revision: r.revision,
                when: when(r.created_at),
                who: who(r.author_user_id, r.author_discord_id.as_deref()),
                source: r.source.as_str(),
                restored_from: r.restored_from,
                current: r.revision == current.revision,
                from: Some(r.revision) == from.or(Some(current.revision - 1)),
                to: Some(r.revision) == to.or(Some(current.revision)),
            })
            .collect(),
        diff,
        audit: entries.iter().map(audit_row).collect(),
        chart: chart::daily_svg(&daily, locale),
        legend: chart::legend(locale),
        deliveries: recent
            .into_iter()
            .map(|d| DeliveryRow {
                when: when(d.updated_at),
                to: d.to,
                state: d.state.as_str(),
                attempts: d.attempts,
                error: d.error,
            })
            .collect(),
        audit_filter: AuditFilterView {
            action: q.action.clone().unwrap_or_default(),
            actor: q.actor_discord_id.clone().unwrap_or_default(),
        },
    };
    Ok((view, refresh))
}

fn who(user_id: Option<i64>, discord_id: Option<&str>) -> String {
    match (user_id, discord_id) {
        (Some(user), Some(discord)) => format!("#{user} (Discord {discord})"),
        (Some(user), None) => format!("#{user}"),
        (None, Some(discord)) => format!("Discord {discord}"),
        (None, None) => "Discord".to_owned(),
    }
}

fn change_row(c: &Change) -> ChangeRow {
    ChangeRow {
        field: c.field.clone(),
        before: shown(&c.before),
        after: shown(&c.after),
    }
}

fn audit_row(e: &Entry) -> AuditRow {
    let changes = e.detail["changes"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|c| ChangeRow {
                    field: c["field"].as_str().unwrap_or_default().to_owned(),
                    before: shown(&c["before"]),
                    after: shown(&c["after"]),
                })
                .collect()
        })
        .unwrap_or_default();
    AuditRow {
        when: when(e.at),
        who: who(e.actor_user_id, e.actor_discord_id.as_deref()),
        source: e.source.as_str(),
        action: e.action.clone(),
        changes,
        notification: e.detail["notification_id"]
            .as_i64()
            .map(|id| NotificationNote {
                id,
                channel: e.detail["channel_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            }),
    }
}

async fn save(params: Params, state: AppState, session: PageSession, form: Form) -> Response {
    let Some(viewer) = viewer(&session) else {
        return sign_in_first("/dashboard");
    };
    let attempt = async {
        session.form_user(&form)?;
        let settings = form_settings(&form)?;
        let base = base_revision(&form)?;
        let saved = state
            .guilds()
            .save_settings(viewer, guild_id(&params)?, base, &settings)
            .await;
        saved.map_err(|e| (ApiError::from(e), Some((base, settings))))?;
        Ok::<_, (ApiError, Option<(i64, Settings)>)>(())
    };
    match attempt.await {
        Ok(()) => see_other(&format!(
            "/dashboard/{}?notice=saved#settings",
            params.get(0)
        )),
        Err((err, typed)) => refused(&state, &session, viewer, &params, err, typed).await,
    }
}

/// A refused form: the page again, with the error above it and what was typed kept.
async fn refused(
    state: &AppState,
    session: &PageSession,
    viewer: Viewer,
    params: &Params,
    err: ApiError,
    typed: Option<(i64, Settings)>,
) -> Response {
    let form = typed.as_ref().map(|(base, s)| (*base, s));
    match view(
        state,
        session.locale,
        viewer,
        params,
        &GuildQuery::default(),
        form,
    )
    .await
    {
        Ok((view, _)) => page(state, session, "pages/guild")
            .error(Some(&err))
            .render(&view),
        Err(_) => error_page(state, session, err),
    }
}

impl From<ApiError> for (ApiError, Option<(i64, Settings)>) {
    fn from(err: ApiError) -> Self {
        (err, None)
    }
}

async fn restore(params: Params, state: AppState, session: PageSession, form: Form) -> Response {
    let Some(viewer) = viewer(&session) else {
        return sign_in_first("/dashboard");
    };
    let attempt = async {
        session.form_user(&form)?;
        let revision: i64 = params
            .get(1)
            .parse()
            .map_err(|_| ApiError::new(ErrorCode::RevisionNotFound, "no such revision"))?;
        let base = base_revision(&form)?;
        let guilds = state.guilds();
        guilds
            .restore(viewer, guild_id(&params)?, revision, base)
            .await?;
        Ok::<_, ApiError>(())
    };
    match attempt.await {
        Ok(()) => see_other(&format!(
            "/dashboard/{}?notice=restored#history",
            params.get(0)
        )),
        Err(err) => refused(&state, &session, viewer, &params, err, None).await,
    }
}

async fn remove_bot(params: Params, state: AppState, session: PageSession, form: Form) -> Response {
    let Some(viewer) = viewer(&session) else {
        return sign_in_first("/dashboard");
    };
    let attempt = async {
        session.form_user(&form)?;
        let guild = guild_id(&params)?;
        state.guilds().remove_bot(viewer, guild).await?;
        Ok::<_, ApiError>(guild)
    };
    match attempt.await {
        Ok(guild) => see_other(&format!("/dashboard/{guild}")),
        Err(err) => error_page(&state, &session, err),
    }
}

async fn add_bot(params: Params, state: AppState, session: PageSession) -> Response {
    let Some(viewer) = viewer(&session) else {
        return sign_in_first(&format!("/dashboard/{}", params.get(0)));
    };
    let url = async {
        let guild = guild_id(&params)?;
        Ok::<_, ApiError>(state.guilds().invite_url(viewer, guild).await?)
    };
    match url.await {
        Ok(url) => see_other(&url),
        Err(err) => error_page(&state, &session, err),
    }
}

#[derive(Deserialize, Default)]
struct InviteReturn {
    state: Option<String>,
    guild_id: Option<String>,
    error: Option<String>,
}

/// Discord sends the user back here after the invite; the signed `state` says which server
/// page to return to, and only for the user who asked.
async fn invite_return(state: AppState, session: PageSession, q: InviteReturn) -> Response {
    let Some(user) = &session.user else {
        return sign_in_first("/dashboard");
    };
    let signed = q.state.as_deref().unwrap_or_default();
    let Some(guild) = state.guilds().invite_state(user.id, signed) else {
        let err = ApiError::new(
            ErrorCode::OAuthStateInvalid,
            "the invite link is invalid or has expired",
        );
        return error_page(&state, &session, err);
    };
    let named = q.guild_id.as_deref().and_then(|g| g.parse::<u64>().ok());
    if q.error.is_some() || named.is_some_and(|g| g != guild) {
        // Cancelled at Discord (or another server chosen): back to the page as it is.
        return see_other(&format!("/dashboard/{guild}"));
    }
    see_other(&format!("/dashboard/{guild}?waiting=0"))
}

async fn export(params: Params, state: AppState, session: PageSession, csv: bool) -> Response {
    let Some(viewer) = viewer(&session) else {
        return sign_in_first("/dashboard");
    };
    let entries = async {
        let guild = guild_id(&params)?;
        let filter = audit::Filter {
            limit: audit::PAGE_MAX,
            ..audit::Filter::default()
        };
        Ok::<_, ApiError>((guild, state.guilds().audit(viewer, guild, &filter).await?))
    };
    let (guild, entries) = match entries.await {
        Ok(found) => found,
        Err(err) => return error_page(&state, &session, err),
    };
    let (body, kind, ext) = if csv {
        (audit::to_csv(&entries), "text/csv; charset=utf-8", "csv")
    } else {
        let json = serde_json::to_string_pretty(&entries).expect("entries serialise");
        (json, "application/json", "json")
    };
    let file = format!("attachment; filename=\"herald-audit-{guild}.{ext}\"");
    let mut response = warp::reply::Response::new(body.into());
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, kind.parse().expect("a header value"));
    headers.insert(
        header::CONTENT_DISPOSITION,
        file.parse().expect("a header value"),
    );
    response.into_response()
}
