//! The bot against the fake Discord: readiness, `/ping`, reconnects, a rejected token, an
//! unresponsive Discord, and a clean gateway close on shutdown.

use std::time::{Duration, Instant};

use crate::db_tests;
use crate::fake_discord::{BOT_ID, FakeDiscord};
use crate::helpers::*;

async fn app_with_bot(backend: Backend, env: &[(&str, &str)]) -> TestApp {
    let discord = FakeDiscord::start().await;
    spawn_app_with(backend, Some(discord), env).await
}

async fn bot_gets_ready_registers_commands_and_answers_ping(backend: Backend) {
    let app = app_with_bot(backend, &[]).await;
    let ready = app.wait_for_bot("ready").await;
    assert_eq!(ready["bot"]["user"], "fakebot");
    assert!(
        app.state.bot().discord().is_ok(),
        "Http and Cache are shared with the web side"
    );

    let registration = app
        .discord()
        .wait_for_request("global command registration", |r| {
            r.method == "PUT" && r.path == format!("/api/v10/applications/{BOT_ID}/commands")
        })
        .await;
    let names: Vec<_> = registration
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].clone())
        .collect();
    assert!(names.contains(&"ping".into()), "{names:?}");
    // What Discord is told: the managers' groups hidden from members by default, every group
    // of the team's commands there, each with its Korean name.
    let registered = |name: &str| {
        registration
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} is registered"))
    };
    for name in ["settings", "audit"] {
        assert_eq!(
            registered(name)["default_member_permissions"],
            "32",
            "{name}"
        );
    }
    for (name, korean) in [
        ("memo", "메모"),
        ("task", "할일"),
        ("remind", "리마인더"),
        ("notify", "알림"),
        ("apikey", "api키"),
        ("herald", "herald"),
    ] {
        let command = registered(name);
        assert!(
            command["default_member_permissions"].is_null(),
            "{name} is open to members"
        );
        if name != "herald" {
            assert_eq!(command["name_localizations"]["ko"], korean, "{command}");
        }
    }

    app.discord().interaction("9001", "itoken-abc", "ping");
    let callback = app
        .discord()
        .wait_for_request("the ping reply", |r| {
            r.path == "/api/v10/interactions/9001/itoken-abc/callback"
        })
        .await;
    assert_eq!(callback.body["type"], 4, "a channel message reply");
    let content = callback.body["data"]["content"].as_str().unwrap();
    assert!(content.starts_with("Pong!"), "{content}");
    assert_eq!(callback.body["data"]["flags"], 64, "ephemeral");

    app.discord()
        .interaction_in("9011", "itoken-ko", "ping", "ko");
    let callback = app
        .discord()
        .wait_for_request("the Korean reply", |r| r.path.contains("/9011/itoken-ko/"))
        .await;
    let content = callback.body["data"]["content"].as_str().unwrap();
    assert!(
        content.starts_with("퐁!"),
        "in the caller's language: {content}"
    );

    // What the bot logs about an interaction carries the interaction's id.
    app.discord()
        .interaction("9777", "itoken-unknown", "no-such-command");
    eventually("a log line in the interaction's span", || async {
        log_lines()
            .into_iter()
            .any(|l| l["span"]["request_id"] == "9777")
            .then_some(())
    })
    .await;
}
db_tests!(bot_gets_ready_registers_commands_and_answers_ping);

async fn dev_guild_gets_the_commands_instead_of_global(backend: Backend) {
    let app = app_with_bot(backend, &[("DISCORD_DEV_GUILD_ID", "99")]).await;
    app.wait_for_bot("ready").await;
    app.discord()
        .wait_for_request("guild command registration", |r| {
            r.method == "PUT"
                && r.path == format!("/api/v10/applications/{BOT_ID}/guilds/99/commands")
        })
        .await;
    assert!(
        !app.discord()
            .requests()
            .iter()
            .any(|r| r.path == format!("/api/v10/applications/{BOT_ID}/commands")),
        "nothing is registered globally"
    );
}
db_tests!(dev_guild_gets_the_commands_instead_of_global);

async fn servers_the_bot_joins_and_leaves_are_counted_without_asking_discord(backend: Backend) {
    let discord = FakeDiscord::start().await;
    discord.add_guild(111, "Team One");
    let app = spawn_app_with(backend, Some(discord), &[]).await;
    app.wait_for_bot("ready").await;
    let count = || async {
        app.get_json("/api/v1/status").await.1["guild_count"]
            .as_u64()
            .unwrap()
    };
    eventually("the server counted", || async {
        (count().await == 1).then_some(())
    })
    .await;
    let home = app.get("/").await.text().await.unwrap();
    assert!(
        home.contains("Active in <strong>1</strong> server."),
        "{home}"
    );

    app.discord().send_event(
        "GUILD_DELETE",
        serde_json::json!({"id": "111", "unavailable": false}),
    );
    eventually("the server gone", || async {
        (count().await == 0).then_some(())
    })
    .await;
}
db_tests!(servers_the_bot_joins_and_leaves_are_counted_without_asking_discord);

async fn a_dropped_gateway_connection_is_resumed(backend: Backend) {
    let app = app_with_bot(backend, &[]).await;
    app.wait_for_bot("ready").await;
    let discord = app.discord().clone();
    discord.wait_for_op(1, 1).await; // a heartbeat: the session is live
    discord.drop_gateway();
    eventually("a second gateway connection", || async {
        (discord.connections() >= 2).then_some(())
    })
    .await;
    // Serenity resumes the session (op 6), or re-identifies (op 2) if it cannot.
    eventually("a resume or a fresh identify", || async {
        let frames = discord.frames();
        let resumed = frames.iter().any(|f| f["op"] == 6);
        let identifies = frames.iter().filter(|f| f["op"] == 2).count();
        (resumed || identifies >= 2).then_some(())
    })
    .await;
    app.wait_for_bot("ready").await;
    discord.interaction("9002", "itoken-after", "ping");
    discord
        .wait_for_request("ping after the reconnect", |r| {
            r.path.contains("/9002/itoken-after/callback")
        })
        .await;
}
db_tests!(a_dropped_gateway_connection_is_resumed);

async fn a_rejected_token_leaves_the_web_serving_and_the_bot_attaches_later(backend: Backend) {
    let discord = FakeDiscord::start().await;
    discord.reject_token(true);
    let app = spawn_app_with(backend, Some(discord.clone()), &[]).await;

    let failed = app.wait_for_bot("failed").await;
    assert!(failed["bot"]["retry_at"].as_i64().is_some());
    assert!(
        failed["bot"].get("reason").is_none(),
        "the reason is not public: {failed}"
    );
    let herald::state::BotStatus::Failed { reason, .. } = app.state.bot().status() else {
        panic!("the bot has failed");
    };
    assert!(reason.contains("invalid token"), "{reason}");
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!(status, 503);
    assert_eq!(body["ready"], false);
    assert_eq!(body["database"]["ok"], true);
    let (status, _) = app.get_json("/healthz").await;
    assert_eq!(status, 200, "the web surface serves without the bot");
    assert!(app.state.bot().discord().is_err());

    // The token is fixed on Discord's side: the retry succeeds without a restart.
    discord.reject_token(false);
    app.wait_for_bot("ready").await;
    let (status, _) = app.get_json("/readyz").await;
    assert_eq!(status, 200);
    assert!(
        app.state.bot().discord().is_ok(),
        "features attach to the running web surface"
    );
    discord.interaction("9003", "itoken-late", "ping");
    discord
        .wait_for_request("ping from the late bot", |r| {
            r.path.contains("/9003/itoken-late/callback")
        })
        .await;
}
db_tests!(a_rejected_token_leaves_the_web_serving_and_the_bot_attaches_later);

async fn an_unresponsive_discord_does_not_hold_up_the_web_surface(backend: Backend) {
    let discord = FakeDiscord::start().await;
    discord.stall_gateway(true);
    let started = Instant::now();
    let app = spawn_app_with(backend, Some(discord), &[]).await;
    // The listener is bound at once; the web surface starts after the ready timeout (2 s).
    let (status, body) = app.get_json("/readyz").await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "served within a few seconds"
    );
    assert_eq!(status, 503);
    assert_eq!(body["bot"]["state"], "connecting");
    let (status, _) = app.get_json("/api/v1/status").await;
    assert_eq!(status, 200, "what does not need Discord keeps working");
}
db_tests!(an_unresponsive_discord_does_not_hold_up_the_web_surface);

async fn shutdown_closes_the_gateway_and_the_listener(backend: Backend) {
    let mut app = app_with_bot(backend, &[]).await;
    app.wait_for_bot("ready").await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let started = Instant::now();
    app.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown is prompt"
    );
    let frames = app.discord().frames();
    assert!(
        frames.iter().any(|f| f["close"] == 1000),
        "a normal close frame: {frames:?}"
    );
    assert!(
        tokio::net::TcpStream::connect(&addr).await.is_err(),
        "no longer accepting"
    );
}
db_tests!(shutdown_closes_the_gateway_and_the_listener);

async fn a_session_discord_will_not_resume_is_identified_afresh(backend: Backend) {
    let app = app_with_bot(backend, &[]).await;
    app.wait_for_bot("ready").await;
    let discord = app.discord().clone();
    discord.wait_for_op(2, 1).await;
    // 4009 (session timed out) cannot be resumed: serenity identifies again (~5 s later).
    discord.close_gateway(4009);
    discord.wait_for_op(2, 2).await;
    app.wait_for_bot("ready").await;
    discord.interaction("9004", "itoken-reidentified", "ping");
    discord
        .wait_for_request("ping after re-identify", |r| {
            r.path.contains("/9004/itoken-reidentified/callback")
        })
        .await;
}
db_tests!(a_session_discord_will_not_resume_is_identified_afresh);

async fn a_process_runs_the_shards_it_is_given(backend: Backend) {
    let app = app_with_bot(backend, &[("DISCORD_SHARDS", "1-1/2")]).await;
    app.wait_for_bot("ready").await;
    let identify = app
        .discord()
        .frames()
        .into_iter()
        .find(|f| f["op"] == 2)
        .unwrap();
    assert_eq!(identify["d"]["shard"], serde_json::json!([1, 2]));
}
db_tests!(a_process_runs_the_shards_it_is_given);
