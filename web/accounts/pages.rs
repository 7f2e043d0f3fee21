//! Account pages (server-rendered, no JavaScript needed): sign in, register, forgot and reset
//! password, verify or confirm an e-mail address, and the account page with profile, sign-in
//! methods and sign-out. Every form POST carries the CSRF token, checked before anything else.

use serde::{Deserialize, Serialize};
use warp::Filter;
use warp::http::Method;
use warp::reply::Response;

use crate::accounts::oauth::Provider;
use crate::accounts::sessions::{Origin, Tokens};
use crate::accounts::social::{safe_next, sign_in_methods};
use crate::accounts::users::User;
use crate::accounts::{ProfileUpdate, Registration, Verified};
use crate::state::AppState;
use crate::web::context::PageSession;
use crate::web::context::RequestContext;
use crate::web::error::{ApiError, ErrorCode};
use crate::web::reply::{Empty, Form, error_page, page, see_other, sign_in_first, with_cookies};
use crate::web::route::{Params, Table, ctx, params, query, with_state};
use crate::web::session::{
    clear_session_cookies, device_cookie, note_user, origin, page_session, session_cookies,
};

#[derive(Deserialize, Default)]
struct PageQuery {
    next: Option<String>,
    token: Option<String>,
    notice: Option<String>,
}

/// A provider button on the sign-in and register pages.
#[derive(Serialize)]
struct ProviderButton {
    id: &'static str,
    label: &'static str,
}

pub fn routes(state: &AppState, table: &mut Table) {
    // What every page gets: the state, the session, and the query or the submitted form.
    let get = || {
        with_state(state)
            .and(page_session(state))
            .and(query::<PageQuery>())
    };
    let post = || {
        with_state(state)
            .and(page_session(state))
            .and(warp::body::form::<Form>())
    };
    let (page_get, page_post) = (Method::GET, Method::POST);
    table.add(
        page_get.clone(),
        "/login",
        get()
            .map(|s: AppState, session: PageSession, q: PageQuery| {
                login_page(&s, &session, q.next, "", None)
            })
            .boxed(),
    );
    table.add(
        page_post.clone(),
        "/login",
        post().and(ctx()).and(origin(state)).then(login).boxed(),
    );
    table.add(
        page_get.clone(),
        "/register",
        get()
            .map(|s: AppState, session: PageSession, _| {
                register_page(&s, &session, &Form::default(), None)
            })
            .boxed(),
    );
    table.add(
        page_post.clone(),
        "/register",
        post().and(ctx()).and(origin(state)).then(register).boxed(),
    );
    table.add(
        page_get.clone(),
        "/forgot-password",
        get()
            .map(|s: AppState, session: PageSession, _| {
                page(&s, &session, "pages/forgot").render(&Empty {})
            })
            .boxed(),
    );
    table.add(
        page_post.clone(),
        "/forgot-password",
        post().and(origin(state)).then(forgot).boxed(),
    );
    table.add(
        page_get.clone(),
        "/reset-password",
        get()
            .map(|s: AppState, session: PageSession, q: PageQuery| {
                page(&s, &session, "pages/reset").render(&TokenForm::new(q.token))
            })
            .boxed(),
    );
    table.add(
        page_post.clone(),
        "/reset-password",
        post().and(origin(state)).then(reset).boxed(),
    );
    table.add(
        page_get.clone(),
        "/verify-email",
        get()
            .map(|s: AppState, session: PageSession, q: PageQuery| {
                token_page(&s, &session, "pages/verify", "/verify-email", q.token)
            })
            .boxed(),
    );
    table.add(
        page_post.clone(),
        "/verify-email",
        post().then(verify).boxed(),
    );
    table.add(
        page_get.clone(),
        "/confirm-email",
        get()
            .map(|s: AppState, session: PageSession, q: PageQuery| {
                token_page(
                    &s,
                    &session,
                    "pages/confirm_email",
                    "/confirm-email",
                    q.token,
                )
            })
            .boxed(),
    );
    table.add(
        page_post.clone(),
        "/confirm-email",
        post().then(confirm_email).boxed(),
    );
    table.add(page_get, "/account", get().then(account_page).boxed());
    table.add(
        page_post.clone(),
        "/account/profile",
        post().then(update_profile).boxed(),
    );
    table.add(
        page_post.clone(),
        "/account/verify",
        post().and(origin(state)).then(send_verification).boxed(),
    );
    table.add(
        page_post.clone(),
        "/account/email",
        post().and(origin(state)).then(request_email).boxed(),
    );
    table.add(
        page_post.clone(),
        "/account/password",
        post().then(set_password).boxed(),
    );
    table.add(
        page_post.clone(),
        "/account/unlink/{provider}",
        params().and(post()).then(unlink).boxed(),
    );
    table.add(
        page_post.clone(),
        "/logout",
        post()
            .then(|s, session, form| logout(s, session, form, false))
            .boxed(),
    );
    table.add(
        page_post,
        "/logout-all",
        post()
            .then(|s, session, form| logout(s, session, form, true))
            .boxed(),
    );
}

fn providers(state: &AppState) -> Vec<ProviderButton> {
    state
        .accounts()
        .providers()
        .configured()
        .into_iter()
        .map(|p| ProviderButton {
            id: p.as_str(),
            label: p.label(),
        })
        .collect()
}

#[derive(Serialize)]
struct LoginView<'a> {
    next: String,
    next_query: String,
    email: &'a str,
    providers: Vec<ProviderButton>,
}

fn login_page(
    state: &AppState,
    session: &PageSession,
    next: Option<String>,
    email: &str,
    error: Option<ApiError>,
) -> Response {
    let next = safe_next(next.as_deref());
    if session.user.is_some() && error.is_none() {
        return see_other(&next);
    }
    let view = LoginView {
        next_query: url::form_urlencoded::byte_serialize(next.as_bytes()).collect(),
        next,
        email,
        providers: providers(state),
    };
    page(state, session, "pages/login")
        .error(error.as_ref())
        .render(&view)
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
    if let Err(err) = session.check_csrf(form.csrf()) {
        return login_page(&state, &session, next, &email, Some(err));
    }
    match state
        .accounts()
        .login(&email, &form.text("password"), &origin)
        .await
    {
        Ok((user, tokens)) => {
            note_user(&ctx, &user);
            signed_in(&state, &user, &safe_next(next.as_deref()), &tokens)
        }
        Err(err) => login_page(&state, &session, next, &email, Some(err.into())),
    }
}

#[derive(Serialize)]
struct RegisterView {
    email: String,
    display_name: String,
    next_query: &'static str,
    providers: Vec<ProviderButton>,
}

fn register_page(
    state: &AppState,
    session: &PageSession,
    form: &Form,
    error: Option<ApiError>,
) -> Response {
    let view = RegisterView {
        email: form.text("email"),
        display_name: form.text("display_name"),
        next_query: "%2Faccount",
        providers: providers(state),
    };
    page(state, session, "pages/register")
        .error(error.as_ref())
        .render(&view)
}

async fn register(
    state: AppState,
    session: PageSession,
    form: Form,
    ctx: RequestContext,
    origin: Origin,
) -> Response {
    if let Err(err) = session.check_csrf(form.csrf()) {
        return register_page(&state, &session, &form, Some(err));
    }
    let registration = Registration {
        email: form.text("email"),
        password: form.text("password"),
        display_name: form.get("display_name").map(str::to_owned),
        locale: Some(session.locale.code().to_owned()),
    };
    match state.accounts().register(registration, &origin).await {
        Ok((user, tokens)) => {
            note_user(&ctx, &user);
            signed_in(&state, &user, "/account", &tokens)
        }
        Err(err) => register_page(&state, &session, &form, Some(err.into())),
    }
}

/// Redirects with fresh session cookies and the browser's device cookie.
fn signed_in(state: &AppState, user: &User, next: &str, tokens: &Tokens) -> Response {
    let mut cookies = session_cookies(state, tokens);
    cookies.push(device_cookie(state, user));
    with_cookies(see_other(next), &cookies)
}

async fn forgot(state: AppState, session: PageSession, form: Form, origin: Origin) -> Response {
    let result = match session.check_csrf(form.csrf()) {
        Ok(()) => state
            .accounts()
            .forgot_password(&form.text("email"), &origin)
            .await
            .map_err(ApiError::from),
        Err(err) => Err(err),
    };
    let reply = page(&state, &session, "pages/forgot");
    match result {
        Ok(()) => reply.notice(Some("forgot.sent")).render(&Empty {}),
        Err(err) => reply.error(Some(&err)).render(&Empty {}),
    }
}

/// A page that spends an e-mailed token: the form, or how it ended.
#[derive(Serialize, Default)]
struct TokenForm {
    token: Option<String>,
    done: bool,
    already: bool,
    /// The link cannot be used again: offer the way to a new one instead of the form.
    dead_link: bool,
    /// After a reset: providers that were unlinked (labels).
    unlinked: Vec<&'static str>,
}

impl TokenForm {
    fn new(token: Option<String>) -> Self {
        Self {
            token,
            ..Self::default()
        }
    }
}

async fn reset(state: AppState, session: PageSession, form: Form, origin: Origin) -> Response {
    let token = form.text("token");
    let result = match session.check_csrf(form.csrf()) {
        Ok(()) => state
            .accounts()
            .reset_password(&token, &form.text("password"), &origin)
            .await
            .map_err(ApiError::from),
        Err(err) => Err(err),
    };
    match result {
        Ok(done) => {
            let view = TokenForm {
                done: true,
                unlinked: done.unlinked.iter().map(|p| p.label()).collect(),
                ..TokenForm::default()
            };
            // Every session ended with the reset, this one included.
            let response = page(&state, &session, "pages/reset").render(&view);
            with_cookies(response, &clear_session_cookies(&state))
        }
        Err(err) => token_error(&state, &session, "pages/reset", token, err),
    }
}

async fn verify(state: AppState, session: PageSession, form: Form) -> Response {
    let token = form.text("token");
    let result = async {
        session.check_csrf(form.csrf())?;
        let user = session.signed_in()?;
        Ok::<_, ApiError>(state.accounts().verify_email(&token, user.id).await?)
    };
    let result = result.await;
    match result {
        Ok(verified) => {
            let view = TokenForm {
                done: true,
                already: verified == Verified::Already,
                ..TokenForm::default()
            };
            page(&state, &session, "pages/verify").render(&view)
        }
        Err(err) => token_error(&state, &session, "pages/verify", token, err),
    }
}

async fn confirm_email(state: AppState, session: PageSession, form: Form) -> Response {
    let token = form.text("token");
    let result = async {
        session.check_csrf(form.csrf())?;
        let user = session.signed_in()?;
        Ok::<_, ApiError>(state.accounts().confirm_email(&token, user.id).await?)
    };
    let result = result.await;
    match result {
        Ok(()) => {
            let view = TokenForm {
                done: true,
                ..TokenForm::default()
            };
            page(&state, &session, "pages/confirm_email").render(&view)
        }
        Err(err) => token_error(&state, &session, "pages/confirm_email", token, err),
    }
}

/// A link that only the account's own session may use: sign in first, then come back to it.
fn token_page(
    state: &AppState,
    session: &PageSession,
    template: &'static str,
    path: &str,
    token: Option<String>,
) -> Response {
    if session.user.is_none() {
        let token: String =
            url::form_urlencoded::byte_serialize(token.as_deref().unwrap_or_default().as_bytes())
                .collect();
        let back = format!("{path}?token={token}");
        return sign_in_first(&back);
    }
    page(state, session, template).render(&TokenForm::new(token))
}

fn token_error(
    state: &AppState,
    session: &PageSession,
    template: &'static str,
    token: String,
    err: ApiError,
) -> Response {
    let view = TokenForm {
        dead_link: matches!(err.code, ErrorCode::TokenInvalid | ErrorCode::TokenExpired),
        token: Some(token),
        ..TokenForm::default()
    };
    page(state, session, template)
        .error(Some(&err))
        .render(&view)
}

/// A sign-in method on the account page.
#[derive(Serialize)]
struct MethodView {
    id: &'static str,
    label: &'static str,
    linked: bool,
    email: Option<String>,
    configured: bool,
    /// Unlinking would leave no way in: the button is disabled and says why.
    last: bool,
}

#[derive(Serialize)]
struct AccountView<'a> {
    email: Option<&'a str>,
    email_verified: bool,
    display_name: Option<&'a str>,
    nickname: Option<&'a str>,
    locale_en: bool,
    locale_ko: bool,
    has_password: bool,
    mail_available: bool,
    methods: Vec<MethodView>,
}

async fn account_page(state: AppState, session: PageSession, query: PageQuery) -> Response {
    let Some(user) = &session.user else {
        return sign_in_first("/account");
    };
    let linked = match state.accounts().linked_accounts(user.id).await {
        Ok(linked) => linked,
        Err(err) => return error_page(&state, &session, err.into()),
    };
    let only_one = sign_in_methods(user, &linked) <= 1;
    let configured = state.accounts().providers().configured();
    let methods = Provider::ALL
        .into_iter()
        .filter_map(|p| {
            let link = linked.iter().find(|l| l.provider == p);
            let configured = configured.contains(&p);
            (configured || link.is_some()).then(|| MethodView {
                id: p.as_str(),
                label: p.label(),
                linked: link.is_some(),
                email: link.and_then(|l| l.provider_email.clone()),
                configured,
                last: link.is_some() && only_one,
            })
        })
        .collect();
    let notice = query.notice.as_deref().and_then(|n| match n {
        "saved" => Some("account.saved"),
        "verification_sent" => Some("account.verification_sent"),
        "email_sent" => Some("account.email_sent"),
        "password_set" => Some("account.password_saved"),
        "unlinked" => Some("account.unlinked"),
        _ => None,
    });
    let view = AccountView {
        email: user.email_str(),
        email_verified: user.email_verified(),
        display_name: user.display_name.as_deref(),
        nickname: user.nickname.as_deref(),
        locale_en: user.locale == crate::i18n::Locale::En,
        locale_ko: user.locale == crate::i18n::Locale::Ko,
        has_password: user.password_hash.is_some(),
        mail_available: state.accounts().messages().available(),
        methods,
    };
    page(&state, &session, "pages/account")
        .notice(notice)
        .render(&view)
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
    F: FnOnce(AppState, User, Form) -> Fut,
    Fut: Future<Output = Result<(), ApiError>>,
{
    if let Err(err) = session.check_csrf(form.csrf()) {
        return error_page(&state, &session, err);
    }
    let Some(user) = session.user.clone() else {
        return sign_in_first("/account");
    };
    match action(state.clone(), user, form).await {
        Ok(()) => see_other(&format!("/account?notice={notice}")),
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
    origin: Origin,
) -> Response {
    account_action(
        state,
        session,
        form,
        "verification_sent",
        |state, user, _| async move {
            state
                .accounts()
                .request_verification(&user, &origin)
                .await?;
            Ok(())
        },
    )
    .await
}

async fn request_email(
    state: AppState,
    session: PageSession,
    form: Form,
    origin: Origin,
) -> Response {
    account_action(
        state,
        session,
        form,
        "email_sent",
        |state, user, form| async move {
            state
                .accounts()
                .request_email(&user, &form.text("email"), &origin)
                .await?;
            Ok(())
        },
    )
    .await
}

async fn set_password(state: AppState, session: PageSession, form: Form) -> Response {
    account_action(
        state,
        session,
        form,
        "password_set",
        |state, user, form| async move {
            state
                .accounts()
                .set_password(&user, &form.text("password"))
                .await?;
            Ok(())
        },
    )
    .await
}

async fn unlink(params: Params, state: AppState, session: PageSession, form: Form) -> Response {
    let raw = params.get(0).to_owned();
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
    // Signed out already (another tab did it): nothing to protect, just go to the sign-in page.
    let nobody = session.user.is_none() && session.refresh_token.is_none();
    if !nobody && let Err(err) = session.check_csrf(form.csrf()) {
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
    with_cookies(see_other("/login"), &clear_session_cookies(&state))
}
