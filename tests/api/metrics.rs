//! `/metrics`: Prometheus text behind the operator's token or on its own address, with HTTP
//! requests by route pattern (never a raw path), delivery outcomes and latency, and the
//! outbox's depth.

use serde_json::json;

use crate::db_tests;
use crate::helpers::*;
use crate::notifications::{FAST, Program};
use crate::smtp::SmtpCapture;

const TOKEN: &str = "metrics-token-0123456789";

async fn scrape(app: &TestApp, token: Option<&str>) -> (u16, String) {
    let mut request = app.client.get(app.url("/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The value of the sample `name{labels}` in `text`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

async fn metrics_count_requests_deliveries_and_the_queue(backend: Backend) {
    let smtp = SmtpCapture::start();
    let url = smtp.url();
    let mut env: Vec<(&str, &str)> = FAST.to_vec();
    env.extend([("SMTP_URL", url.as_str()), ("METRICS_TOKEN", TOKEN)]);
    let app = spawn_app_with(backend, None, &env).await;
    assert_eq!(scrape(&app, None).await.0, 401);
    assert_eq!(scrape(&app, Some("metrics-token-wrong-value")).await.0, 401);

    let program = Program::new(&app, "sender@example.com").await;
    let (_, sent) = program
        .send(json!({"channel": "email", "to": ["a@example.com"], "subject": "s", "text": "t"}))
        .await;
    program.wait_all(sent["id"].as_i64().unwrap(), "sent").await;
    program
        .send(
            json!({"channel": "email", "to": ["b@example.com"], "subject": "s", "text": "t",
            "delay": "1h"}),
        )
        .await;
    app.get("/no/such/path/12345").await;

    let (status, text) = scrape(&app, Some(TOKEN)).await;
    assert_eq!(status, 200, "{text}");
    let route = r#"herald_http_requests_total{route="/api/v1/services/notifications",method="POST",status="202"}"#;
    assert_eq!(sample(&text, route), Some(2.0), "{text}");
    assert!(
        sample(
            &text,
            r#"herald_http_requests_total{route="unmatched",method="GET",status="404"}"#
        )
        .is_some()
    );
    assert!(!text.contains("12345"), "no raw path becomes a label");
    let email_sent = r#"herald_delivery_attempts_total{channel="email",outcome="sent"}"#;
    // The sender's verification mail is a delivery too.
    assert!(sample(&text, email_sent).unwrap() >= 1.0, "{text}");
    assert_eq!(
        sample(&text, r#"herald_deliveries{state="scheduled"}"#),
        Some(1.0)
    );
    assert!(sample(&text, r#"herald_deliveries{state="sent"}"#).unwrap() >= 1.0);
    assert!(sample(&text, "herald_delivery_latency_seconds_count").unwrap() >= 1.0);
    assert_eq!(sample(&text, "herald_oldest_due_seconds"), Some(0.0));
    assert!(text.contains("# TYPE herald_delivery_latency_seconds histogram"));
}

async fn metrics_can_live_on_their_own_address_instead(backend: Backend) {
    let port = SmtpCapture::free_port();
    let addr = format!("127.0.0.1:{port}");
    let app = spawn_app_with(backend, None, &[("METRICS_ADDR", &addr)]).await;
    let text = eventually("metrics on their own address", || async {
        let response = app
            .client
            .get(format!("http://{addr}/metrics"))
            .send()
            .await
            .ok()?;
        (response.status() == 200).then_some(response.text().await.ok()?)
    })
    .await;
    assert!(
        text.contains("herald_deliveries{state=\"queued\"} 0"),
        "{text}"
    );
    let (status, _) = scrape(&app, Some(TOKEN)).await;
    assert_eq!(status, 404, "no token configured: not on the public port");
}

db_tests!(
    metrics_count_requests_deliveries_and_the_queue,
    metrics_can_live_on_their_own_address_instead,
);
