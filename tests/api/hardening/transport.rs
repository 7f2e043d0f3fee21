//! The HTTP server's own limits, and the cookies' binding to host and session.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::db_tests;
use crate::helpers::*;

/// Reads until the peer closes or `within` passes; `None` on a timeout.
async fn read_all(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut buf = Vec::new();
    match tokio::time::timeout(within, stream.read_to_end(&mut buf)).await {
        Ok(_) => Some(String::from_utf8_lossy(&buf).into_owned()),
        Err(_) => None,
    }
}

async fn slow_headers_are_cut_off(backend: Backend) {
    let app = spawn_app_with(backend, None, &[("HTTP_HEADER_TIMEOUT_SECS", "1")]).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    let closed = read_all(&mut slow, Duration::from_secs(5)).await;
    assert!(
        closed.is_some(),
        "a client that never finishes its headers is disconnected"
    );
}
db_tests!(slow_headers_are_cut_off);

async fn connections_beyond_the_cap_wait_their_turn(backend: Backend) {
    let env = [
        ("HTTP_MAX_CONNECTIONS", "2"),
        ("HTTP_HEADER_TIMEOUT_SECS", "2"),
    ];
    let app = spawn_app_with(backend, None, &env).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut idle = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(&addr).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\n")
            .await
            .unwrap();
        idle.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = TcpStream::connect(&addr).await.unwrap();
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    assert!(
        read_all(&mut third, Duration::from_millis(700))
            .await
            .is_none(),
        "not served while two slots are held"
    );
    let answer = read_all(&mut third, Duration::from_secs(6))
        .await
        .expect("served once a slot frees");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}
db_tests!(connections_beyond_the_cap_wait_their_turn);

async fn a_request_that_runs_too_long_is_answered_503(backend: Backend) {
    // A provider token endpoint that accepts connections and never answers.
    let black_hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hole = format!("http://{}/token", black_hole.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = black_hole.accept().await {
            held.push(stream);
        }
    });
    let google = crate::fake_oauth::FakeOAuth::start(crate::fake_oauth::Shape::Google).await;
    let g = google.base_url();
    let (auth, info) = (format!("{g}/o/oauth2/v2/auth"), format!("{g}/v1/userinfo"));
    let env = [
        ("HTTP_REQUEST_TIMEOUT_SECS", "1"),
        ("GOOGLE_CLIENT_ID", crate::fake_oauth::FakeOAuth::CLIENT_ID),
        (
            "GOOGLE_CLIENT_SECRET",
            crate::fake_oauth::FakeOAuth::CLIENT_SECRET,
        ),
        ("GOOGLE_AUTHORIZE_URL", &auth),
        ("GOOGLE_TOKEN_URL", &hole),
        ("GOOGLE_USERINFO_URL", &info),
    ];
    let app = spawn_app_with(backend, None, &env).await;
    let browser = app.browser();
    let start = browser.get("/auth/google/login").await;
    let at_google = browser.get(start.location.as_deref().unwrap()).await;
    let started = std::time::Instant::now();
    let page = browser.get(at_google.location.as_deref().unwrap()).await;
    assert_eq!(page.status, 503, "{}", page.body);
    assert!(page.body.contains("5030005"), "{}", page.body);
    assert!(started.elapsed() < Duration::from_secs(10));
}
db_tests!(a_request_that_runs_too_long_is_answered_503);

async fn a_csrf_token_is_good_for_one_session_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let browser = app.browser();
    browser
        .submit(
            "/register",
            "/register",
            &[
                ("email", "ada@example.com"),
                ("password", "a good password"),
            ],
        )
        .await;
    let first_session_token = browser.get("/account").await.csrf();
    let page = browser
        .post_form("/logout", &[("csrf", &first_session_token)])
        .await;
    assert_eq!(page.location.as_deref(), Some("/login"));
    browser
        .submit(
            "/login",
            "/login",
            &[
                ("email", "ada@example.com"),
                ("password", "a good password"),
            ],
        )
        .await;
    // Same browser, same CSRF cookie, another session: the old form token is worthless.
    let page = browser
        .post_form(
            "/account/profile",
            &[("csrf", &first_session_token), ("display_name", "x")],
        )
        .await;
    assert_eq!(page.status, 403);
    assert!(page.body.contains("4030002"));
    let fresh = browser.get("/account").await.csrf();
    assert_ne!(fresh, first_session_token);
    let page = browser
        .post_form(
            "/account/profile",
            &[("csrf", &fresh), ("display_name", "x")],
        )
        .await;
    assert_eq!(page.location.as_deref(), Some("/account?notice=saved"));
}
db_tests!(a_csrf_token_is_good_for_one_session_only);

async fn https_deployments_bind_cookies_to_the_host(backend: Backend) {
    let app = spawn_app_with(
        backend,
        None,
        &[("HERALD_PUBLIC_URL", "https://herald.example.com")],
    )
    .await;
    let response = app.client.get(app.url("/login")).send().await.unwrap();
    let cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let csrf = cookies
        .iter()
        .find(|c| c.starts_with("__Host-herald_csrf="))
        .unwrap_or_else(|| panic!("{cookies:?}"));
    assert!(
        csrf.contains("Secure") && csrf.contains("Path=/") && !csrf.contains("Domain"),
        "{csrf}"
    );
}
db_tests!(https_deployments_bind_cookies_to_the_host);
