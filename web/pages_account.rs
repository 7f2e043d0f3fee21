//! Account pages (server-rendered, no JavaScript needed): sign in, register, forgot and reset
//! password, verify e-mail, and the account page with profile, sign-in methods and sign-out.
//! Every form POST carries the CSRF token, checked before anything else.

use std::collections::HashMap;

use serde_json::{Value, json};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;

use super::error::{ApiError, ErrorCode};
use super::oauth::{safe_next, see_other};
use super::session::{
    PageSession, append_cookies, clear_session_cookies, origin, page_session, session_cookies,
};
use super::{RequestContext, render_page, with_state};
use crate::accounts::oauth::Provider;
use crate::accounts::sessions::Origin;
use crate::accounts::{ProfileUpdate, Registration};
use crate::i18n::{self, Locale};
use crate::state::AppState;

/// A submitted form's fields.
#[derive(serde::Deserialize, Default)]
#[serde(transparent)]
pub struct Form(HashMap<String, String>);

impl Form {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
    fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().to_owned()
    }
}

#[derive(serde::Deserialize)]
struct PageQuery {
    next: Option<String>,
    token: Option<String>,
    notice: Option<String>,
}

pub fn routes(state: &AppState) -> BoxedFilter<(Response,)> {
    let get = |path: &'static str| {
        warp::path(path)
            .and(warp::path::end())
            .and(warp::get())
            .and(with_state(state))
            .and(page_session(state))
            .and(warp::query::<PageQuery>())
    };
    let post = |path: &'static str| {
        warp::path(path)
            .and(warp::path::end())
            .and(warp::post())
            .and(with_state(state))
            .and(page_session(state))
            .and(warp::body::form::<Form>())
    };
    let login_page =
        get("login").map(|s, session, q: PageQuery| login_page(&s, &session, q.next, "", None));
    let login = post("login").and(ctx()).and(origin()).then(login);
    let register_page =
        get("register").map(|s, session, _| register_page(&s, &session, &Form::default(), None));
    let register = post("register").and(ctx()).and(origin()).then(register);
    let forgot_page =
        get("forgot-password").map(|s, session, _| simple(&s, &session, "pages/forgot", json!({})));
    let forgot = post("forgot-password").and(ctx()).then(forgot);
    let reset_page = get("reset-password").map(|s, session, q: PageQuery| {
        simple(&s, &session, "pages/reset", json!({ "token": q.token }))
    });
    let reset = post("reset-password").then(reset);
    let verify_page = get("verify-email").map(|s, session, q: PageQuery| {
        simple(&s, &session, "pages/verify", json!({ "token": q.token }))
    });
    let verify = post("verify-email").then(verify);
    let account = get("account").then(account_page);
    let profile = warp::path("account")
        .and(post("profile"))
        .then(update_profile);
    let send_verification = warp::path("account")
        .and(post("verify"))
        .and(ctx())
        .then(send_verification);
    let unlink = warp::path!("account" / "unlink" / String)
        .and(warp::post())
        .and(with_state(state))
        .and(page_session(state))
        .and(warp::body::form::<Form>())
        .then(unlink);
    let sign_out = post("logout").then(|s, session, form| logout(s, session, form, false));
    let sign_out_all = post("logout-all").then(|s, session, form| logout(s, session, form, true));

    login_page
        .or(login)
        .unify()
        .or(register_page)
        .unify()
        .or(register)
        .unify()
        .or(forgot_page)
        .unify()
        .or(forgot)
        .unify()
        .or(reset_page)
        .unify()
        .or(reset)
        .unify()
        .or(verify_page)
        .unify()
        .or(verify)
        .unify()
        .or(account)
        .unify()
        .or(profile)
        .unify()
        .or(send_verification)
        .unify()
        .or(unlink)
        .unify()
        .or(sign_out)
        .unify()
        .or(sign_out_all)
        .unify()
        .boxed()
}

fn ctx() -> impl Filter<Extract = (RequestContext,), Error = warp::Rejection> + Clone {
    warp::ext::get::<RequestContext>()
}

/// An error as the page shows it: in the user's language where there is a translation.
fn error_view(locale: Locale, err: &ApiError) -> Value {
    let code = err.code.code();
    let message = i18n::lookup(locale, &format!("err_{code}"))
        .unwrap_or_else(|| err.code.message().to_owned());
    json!({ "code": code, "message": message })
}

/// The friendly error page (a code, a message, a way back), never a bare 500.
pub fn error_page(state: &AppState, session: &PageSession, err: ApiError) -> Response {
    let status = err.code.status();
    let data = json!({ "error": error_view(session.locale, &err), "error_page": true });
    render_page(state, session, "pages/error", status, data)
}

fn simple(state: &AppState, session: &PageSession, template: &str, data: Value) -> Response {
    render_page(state, session, template, StatusCode::OK, data)
}

fn providers(state: &AppState) -> Vec<Value> {
    state
        .accounts()
        .providers()
        .configured()
        .into_iter()
        .map(|p| json!({ "id": p.as_str(), "label": p.label() }))
        .collect()
}

fn login_page(
    state: &AppState,
    session: &PageSession,
    next: Option<String>,
    email: &str,
    error: Option<ApiError>,
) -> Response {
    if session.user.is_some() && error.is_none() {
        return see_other(&safe_next(next.as_deref()));
    }
    let status = error.as_ref().map_or(StatusCode::OK, |e| e.code.status());
    let next = safe_next(next.as_deref());
    let data = json!({
        "next": next,
        "next_query": url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>(),
        "email": email,
        "providers": providers(state),
        "error": error.map(|e| error_view(session.locale, &e)),
    });
    render_page(state, session, "pages/login", status, data)
}

async fn login(
    state: AppState,
    session: PageSession,
    form: Form,
    ctx: RequestContext,
    origin: Origin,
) -> Response {
    let next = form.get("next").map(str::to_owned);
    let email = form.text("email");
    if let Err(err) = session.check_csrf(form.get("csrf")) {
        return login_page(&state, &session, next, &email, Some(err));
    }
    match state
        .accounts()
        .login(&email, &form.text("password"), ctx.client_ip, &origin)
        .await
    {
        Ok((user, tokens)) => {
            super::session::note_user(&ctx, &user);
            signed_in(&state, &session, &safe_next(next.as_deref()), &tokens)
        }
        Err(err) => login_page(&state, &session, next, &email, Some(err.into())),
    }
}

fn register_page(
    state: &AppState,
    session: &PageSession,
    form: &Form,
    error: Option<ApiError>,
) -> Response {
    let status = error.as_ref().map_or(StatusCode::OK, |e| e.code.status());
    let data = json!({
        "email": form.text("email"),
        "display_name": form.text("display_name"),
        "providers": providers(state),
        "next_query": "%2Faccount",
        "error": error.map(|e| error_view(session.locale, &e)),
    });
    render_page(state, session, "pages/register", status, data)
}

async fn register(
    state: AppState,
    session: PageSession,
    form: Form,
    ctx: RequestContext,
    origin: Origin,
) -> Response {
    let email = form.text("email");
    if let Err(err) = session.check_csrf(form.get("csrf")) {
        return register_page(&state, &session, &form, Some(err));
    }
    let registration = Registration {
        email: email.clone(),
        password: form.text("password"),
        display_name: form.get("display_name").map(str::to_owned),
        locale: Some(session.locale.code().to_owned()),
    };
    match state
        .accounts()
        .register(registration, ctx.client_ip, &origin)
        .await
    {
        Ok((user, tokens)) => {
            super::session::note_user(&ctx, &user);
            signed_in(&state, &session, "/account", &tokens)
        }
        Err(err) => register_page(&state, &session, &form, Some(err.into())),
    }
}

/// Redirects with fresh session cookies.
fn signed_in(
    state: &AppState,
    session: &PageSession,
    next: &str,
    tokens: &crate::accounts::sessions::Tokens,
) -> Response {
    let mut response = see_other(next);
    session.apply(&mut response);
    append_cookies(&mut response, &session_cookies(state, tokens));
    response
}

async fn forgot(
    state: AppState,
    session: PageSession,
    form: Form,
    ctx: RequestContext,
) -> Response {
    let result = match session.check_csrf(form.get("csrf")) {
        Ok(()) => state
            .accounts()
            .forgot_password(&form.text("email"), ctx.client_ip)
            .await
            .map_err(ApiError::from),
        Err(err) => Err(err),
    };
    let data = match result {
        Ok(()) => json!({ "notice": i18n::text(session.locale, "forgot_sent") }),
        Err(err) => json!({ "error": error_view(session.locale, &err) }),
    };
    simple(&state, &session, "pages/forgot", data)
}

async fn reset(state: AppState, session: PageSession, form: Form) -> Response {
    let (password, accounts) = (form.text("password"), state.clone());
    let mut response = token_form(&state, &session, &form, "pages/reset", |token| async move {
        accounts.accounts().reset_password(&token, &password).await
    })
    .await;
    if response.status() == StatusCode::OK {
        // Every session ended with the reset, this one included.
        append_cookies(&mut response, &clear_session_cookies(&state));
    }
    response
}

async fn verify(state: AppState, session: PageSession, form: Form) -> Response {
    let accounts = state.clone();
    token_form(
        &state,
        &session,
        &form,
        "pages/verify",
        |token| async move { accounts.accounts().verify_email(&token).await.map(|_| ()) },
    )
    .await
}

/// A form that spends an e-mailed token: CSRF first, then `action`; the page shows either
/// its done state or the form again with the error.
async fn token_form<F, Fut>(
    state: &AppState,
    session: &PageSession,
    form: &Form,
    template: &str,
    action: F,
) -> Response
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = Result<(), crate::accounts::AccountsError>>,
{
    let token = form.text("token");
    let result = match session.check_csrf(form.get("csrf")) {
        Ok(()) => action(token.clone()).await.map_err(ApiError::from),
        Err(err) => Err(err),
    };
    match result {
        Ok(()) => simple(state, session, template, json!({ "done": true })),
        Err(err) => {
            // A dead link cannot be retried: offer the way to a new one instead of the form.
            let dead = matches!(err.code, ErrorCode::TokenInvalid | ErrorCode::TokenExpired);
            let data = json!({ "token": token, "dead_link": dead, "error": error_view(session.locale, &err) });
            render_page(state, session, template, err.code.status(), data)
        }
    }
}

async fn account_page(state: AppState, session: PageSession, query: PageQuery) -> Response {
    let Some(user) = &session.user else {
        return see_other("/login?next=%2Faccount");
    };
    let linked = match state.accounts().linked_accounts(user.id).await {
        Ok(linked) => linked,
        Err(err) => return error_page(&state, &session, err.into()),
    };
    let configured = state.accounts().providers().configured();
    let methods: Vec<Value> = Provider::ALL
        .into_iter()
        .filter_map(|p| {
            let link = linked.iter().find(|l| l.provider == p);
            let configured = configured.contains(&p);
            (configured || link.is_some()).then(|| {
                json!({
                    "id": p.as_str(),
                    "label": p.label(),
                    "linked": link.is_some(),
                    "email": link.and_then(|l| l.provider_email.clone()),
                    "configured": configured,
                })
            })
        })
        .collect();
    let notice = query.notice.as_deref().and_then(|n| match n {
        "saved" => Some("account_saved"),
        "verification_sent" => Some("account_verification_sent"),
        "unlinked" => Some("account_unlinked"),
        _ => None,
    });
    let data = json!({
        "notice": notice.map(|key| i18n::text(session.locale, key)),
        "email": user.email,
        "email_verified": user.email_verified(),
        "display_name": user.display_name,
        "nickname": user.nickname,
        "locale_en": user.locale == "en",
        "locale_ko": user.locale == "ko",
        "has_password": user.password_hash.is_some(),
        "methods": methods,
    });
    simple(&state, &session, "pages/account", data)
}

/// Runs a signed-in account action: CSRF first, then the action; back to the account page
/// with a notice, or the error page.
async fn account_action<F, Fut>(
    state: AppState,
    session: PageSession,
    form: Form,
    notice: &str,
    action: F,
) -> Response
where
    F: FnOnce(AppState, crate::accounts::users::User, Form) -> Fut,
    Fut: std::future::Future<Output = Result<(), ApiError>>,
{
    if let Err(err) = session.check_csrf(form.get("csrf")) {
        return error_page(&state, &session, err);
    }
    let Some(user) = session.user.clone() else {
        return see_other("/login?next=%2Faccount");
    };
    match action(state.clone(), user, form).await {
        Ok(()) => {
            let mut response = see_other(&format!("/account?notice={notice}"));
            session.apply(&mut response);
            response
        }
        Err(err) => error_page(&state, &session, err),
    }
}

async fn update_profile(state: AppState, session: PageSession, form: Form) -> Response {
    account_action(
        state,
        session,
        form,
        "saved",
        |state, user, form| async move {
            let change = ProfileUpdate {
                display_name: Some(form.get("display_name").map(str::to_owned)),
                nickname: Some(form.get("nickname").map(str::to_owned)),
                avatar_url: None,
                locale: form.get("locale").map(str::to_owned),
            };
            state.accounts().update_profile(user.id, change).await?;
            Ok(())
        },
    )
    .await
}

async fn send_verification(
    state: AppState,
    session: PageSession,
    form: Form,
    ctx: RequestContext,
) -> Response {
    account_action(
        state,
        session,
        form,
        "verification_sent",
        |state, user, _| async move {
            state
                .accounts()
                .request_verification(&user, ctx.client_ip)
                .await?;
            Ok(())
        },
    )
    .await
}

async fn unlink(raw: String, state: AppState, session: PageSession, form: Form) -> Response {
    account_action(
        state,
        session,
        form,
        "unlinked",
        |state, user, _| async move {
            let provider = Provider::parse(&raw)
                .ok_or_else(|| ApiError::new(ErrorCode::ProviderNotLinked, "unknown provider"))?;
            state.accounts().unlink(&user, provider).await?;
            Ok(())
        },
    )
    .await
}

async fn logout(state: AppState, session: PageSession, form: Form, everywhere: bool) -> Response {
    if let Err(err) = session.check_csrf(form.get("csrf")) {
        return error_page(&state, &session, err);
    }
    let accounts = state.accounts();
    let result = match (&session.user, &session.session_id, &session.refresh_token) {
        (Some(user), _, _) if everywhere => accounts.logout_everywhere(user.id).await,
        (_, Some(session_id), _) => accounts.logout(session_id).await,
        (_, None, Some(refresh)) => accounts.logout_refresh(refresh).await,
        _ => Ok(()),
    };
    if let Err(err) = result {
        return error_page(&state, &session, err.into());
    }
    let mut response = see_other("/login");
    session.apply(&mut response);
    append_cookies(&mut response, &clear_session_cookies(&state));
    response
}
