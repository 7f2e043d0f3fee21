//! The account's notifications page (`/account/notifications`): what the user sent, newest
//! first, each recipient's state, attempts and last error; filters by state and channel;
//! cancel (scheduled) and re-drive (dead) buttons. No JavaScript; every form carries CSRF.

use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::http::Method;
use warp::reply::Response;

use crate::notifications::request::Channel;
use crate::notifications::store::{Filter as ListFilter, Notification, State};
use crate::state::AppState;
use crate::web::context::PageSession;
use crate::web::error::{ApiError, ErrorCode};
use crate::web::reply::{Form, error_page, page, see_other, sign_in_first, when};
use crate::web::route::{Params, Table, params, query, with_state};
use crate::web::session::page_session;

const PAGE: &str = "/account/notifications";
const PAGE_SIZE: u32 = 20;

pub fn routes(state: &AppState, table: &mut Table) {
    table.add(
        Method::GET,
        PAGE,
        with_state(state)
            .and(page_session(state))
            .and(query::<ListQuery>())
            .then(notifications_page)
            .boxed(),
    );
    for (pattern, action) in [
        ("/account/notifications/{id}/cancel", Action::Cancel),
        ("/account/notifications/{id}/retry", Action::Retry),
    ] {
        let route = params()
            .and(with_state(state))
            .and(page_session(state))
            .and(warp::body::form::<Form>())
            .then(move |p, s, session, f| act(p, s, session, f, action))
            .boxed();
        table.add(Method::POST, pattern, route);
    }
}

#[derive(Deserialize, Default)]
struct ListQuery {
    state: Option<String>,
    channel: Option<String>,
    before: Option<i64>,
    notice: Option<String>,
}

#[derive(Serialize)]
struct PageView {
    items: Vec<Item>,
    states: Vec<Choice>,
    channels: Vec<Choice>,
    /// The next page's link, when there is one.
    next: Option<String>,
    /// The user's deliveries per day by outcome over 30 days, an SVG drawn here.
    chart: String,
    legend: Vec<crate::web::chart::LegendItem>,
}

#[derive(Serialize)]
struct Choice {
    value: &'static str,
    /// The message key of its label.
    label: &'static str,
    selected: bool,
}

/// The message key naming a state.
fn state_label(state: State) -> &'static str {
    match state {
        State::Queued => "notifications.state_queued",
        State::Scheduled => "notifications.state_scheduled",
        State::Sending => "notifications.state_sending",
        State::Sent => "notifications.state_sent",
        State::Failed => "notifications.state_failed",
        State::Dead => "notifications.state_dead",
        State::Cancelled => "notifications.state_cancelled",
    }
}

#[derive(Serialize)]
struct Item {
    id: i64,
    subject: String,
    channels: String,
    created: String,
    send_at: String,
    cancellable: bool,
    redrivable: bool,
    deliveries: Vec<Row>,
}

#[derive(Serialize)]
struct Row {
    to: String,
    channel: &'static str,
    state: &'static str,
    state_label: &'static str,
    attempts: i64,
    error: Option<String>,
}

async fn notifications_page(state: AppState, session: PageSession, q: ListQuery) -> Response {
    let Some(user) = session.user.clone() else {
        return sign_in_first(PAGE);
    };
    let filter = ListFilter {
        state: q.state.as_deref().and_then(State::parse),
        channel: q.channel.as_deref().and_then(Channel::parse),
        before: q.before,
        limit: PAGE_SIZE,
        ..ListFilter::default()
    };
    let items = match items(&state, user.id, &filter).await {
        Ok(items) => items,
        Err(err) => return error_page(&state, &session, err),
    };
    let daily = match state.notifications().daily(user.id, 30).await {
        Ok(daily) => daily,
        Err(err) => return error_page(&state, &session, err.into()),
    };
    let next = (items.len() == PAGE_SIZE as usize)
        .then(|| items.last().map(|last| next_link(&filter, last.id)))
        .flatten();
    let view = PageView {
        items,
        states: State::ALL
            .iter()
            .map(|s| Choice {
                value: s.as_str(),
                label: state_label(*s),
                selected: filter.state == Some(*s),
            })
            .collect(),
        channels: Channel::ALL
            .iter()
            .map(|c| Choice {
                value: c.as_str(),
                label: match c {
                    Channel::Email => "notifications.channel_email",
                    Channel::Discord => "notifications.channel_discord",
                    Channel::Kakao => "notifications.channel_kakao",
                },
                selected: filter.channel == Some(*c),
            })
            .collect(),
        next,
        chart: crate::web::chart::daily_svg(&daily, session.locale),
        legend: crate::web::chart::legend(session.locale),
    };
    let notice = (q.notice.as_deref() == Some("saved")).then_some("notifications.saved");
    page(&state, &session, "pages/notifications")
        .notice(notice)
        .render(&view)
}

async fn items(state: &AppState, user_id: i64, filter: &ListFilter) -> Result<Vec<Item>, ApiError> {
    let notifications = state.notifications();
    let mut items = Vec::new();
    for summary in notifications.list(user_id, filter).await? {
        items.push(item(notifications.get(user_id, summary.id).await?));
    }
    Ok(items)
}

fn item(n: Notification) -> Item {
    let any = |state: State| n.deliveries.iter().any(|d| d.state == state);
    Item {
        id: n.id,
        subject: n.subject.clone(),
        channels: n
            .channels
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(" → "),
        created: when(n.created_at),
        send_at: when(n.send_at),
        cancellable: any(State::Scheduled),
        redrivable: any(State::Dead),
        deliveries: n
            .deliveries
            .into_iter()
            .map(|d| Row {
                to: d.to,
                channel: d.channel.as_str(),
                state: d.state.as_str(),
                state_label: state_label(d.state),
                attempts: d.attempts,
                error: d.last_error.map(|e| format!("{}: {}", e.class, e.message)),
            })
            .collect(),
    }
}

fn next_link(filter: &ListFilter, before: i64) -> String {
    let mut url = url::form_urlencoded::Serializer::new(String::new());
    if let Some(state) = filter.state {
        url.append_pair("state", state.as_str());
    }
    if let Some(channel) = filter.channel {
        url.append_pair("channel", channel.as_str());
    }
    url.append_pair("before", &before.to_string());
    format!("{PAGE}?{}", url.finish())
}

#[derive(Clone, Copy)]
enum Action {
    Cancel,
    Retry,
}

async fn act(
    params: Params,
    state: AppState,
    session: PageSession,
    form: Form,
    action: Action,
) -> Response {
    let done = async {
        let user = session.form_user(&form)?;
        let id = params
            .id(0)
            .map_err(|_| ApiError::new(ErrorCode::NotificationNotFound, "no such notification"))?;
        let notifications = state.notifications();
        match action {
            Action::Cancel => notifications.cancel(user.id, id).await?,
            Action::Retry => notifications.retry(user.id, id).await?,
        };
        Ok::<_, ApiError>(())
    };
    match done.await {
        Ok(()) => see_other(&format!("{PAGE}?notice=saved")),
        Err(err) => error_page(&state, &session, err),
    }
}
