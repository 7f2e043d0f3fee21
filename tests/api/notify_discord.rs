//! Discord deliveries through the bot and the fake Discord: a server's channel the owner
//! manages, a DM to the owner, Discord's refusals, 429s, fallback to e-mail, and a bot that is
//! down while deliveries are due.

use serde_json::{Value, json};

use crate::db_tests;
use crate::fake_discord::{FakeDiscord, dm_channel};
use crate::helpers::*;
use crate::notifications::{FAST, Program};
use crate::smtp::SmtpCapture;

const SERVER: u64 = 500;
const CHANNEL: u64 = 501;
const LOCKED_CHANNEL: u64 = 502;
const MANAGER_ROLE: u64 = 600;
const MEMBER_ROLE: u64 = 601;
/// The owner's Discord user id once linked.
const OWNER: u64 = 77;
const MANAGE_GUILD: u64 = 0x20;

/// A fake Discord with one server: the owner holds a Manage Server role there.
async fn discord() -> FakeDiscord {
    let discord = FakeDiscord::start().await;
    discord.add_server(
        SERVER,
        1,
        &[CHANNEL, LOCKED_CHANNEL],
        &[(MANAGER_ROLE, MANAGE_GUILD), (MEMBER_ROLE, 0x400)],
    );
    discord.set_member(SERVER, OWNER, &[MANAGER_ROLE]);
    discord
}

async fn app(backend: Backend, discord: FakeDiscord, smtp: Option<&SmtpCapture>) -> TestApp {
    let url = smtp.map(SmtpCapture::url);
    let mut env: Vec<(&str, &str)> = FAST.to_vec();
    if let Some(url) = &url {
        env.push(("SMTP_URL", url));
    }
    spawn_app_with(backend, Some(discord), &env).await
}

/// The bot is up and has the server from the gateway: before that, a post to its channel is
/// retried (transient), which would make the attempt counts of these tests depend on timing.
async fn ready(app: &TestApp) {
    app.wait_for_bot("ready").await;
    let cache = app.state.bot().discord().unwrap().cache;
    eventually("the server in the bot's cache", || async {
        cache.guild(serenity::all::GuildId::new(SERVER)).map(|_| ())
    })
    .await;
}

/// Links `discord_id` to the program's owner. (Discord sign-in itself is tested in `social`;
/// here the link is the fixture.)
async fn link(program: &Program<'_>, discord_id: u64) {
    let (_, me) = program.app.me(&program.access).await;
    let now = herald::db::now_unix();
    sqlx::query(
        "INSERT INTO oauth_accounts (user_id, provider, provider_user_id, created_at, updated_at) \
         VALUES (?, 'discord', ?, ?, ?)",
    )
    .bind(me["id"].as_i64().unwrap())
    .bind(discord_id.to_string())
    .bind(now)
    .bind(now)
    .execute(program.app.state.db().pool())
    .await
    .unwrap();
}

fn delivery<'v>(notification: &'v Value, to: &str) -> &'v Value {
    notification["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["to"] == to)
        .unwrap_or_else(|| panic!("no delivery to {to} in {notification}"))
}

async fn messages_reach_a_managed_channel_and_the_owners_dms(backend: Backend) {
    let discord = discord().await;
    let app = app(backend, discord.clone(), None).await;
    ready(&app).await;
    let program = Program::new(&app, "owner@example.com").await;
    link(&program, OWNER).await;
    let (status, accepted) = program
        .send(json!({"channel": "discord", "to": [CHANNEL.to_string(), "me"],
            "subject": "Deploy {{version}}", "text": "@everyone it shipped", "data": {"version": "1.2"}}))
        .await;
    assert_eq!(status, 202, "{accepted}");
    let done = program
        .wait_all(accepted["id"].as_i64().unwrap(), "sent")
        .await;

    let posted = discord.posted();
    let (_, in_channel) = posted
        .iter()
        .find(|(c, _)| *c == CHANNEL)
        .expect("posted in the channel");
    assert_eq!(in_channel["content"], "Deploy 1.2");
    assert_eq!(
        in_channel["embeds"][0]["description"],
        "@everyone it shipped"
    );
    assert_eq!(
        in_channel["allowed_mentions"]["parse"],
        json!([]),
        "no pings from programs"
    );
    assert!(
        posted.iter().any(|(c, _)| *c == dm_channel(OWNER)),
        "a DM to the owner"
    );
    let dm = discord
        .wait_for_request("a DM channel", |r| r.path.ends_with("/users/@me/channels"))
        .await;
    assert_eq!(dm.body["recipient_id"], OWNER.to_string());
    let channel = delivery(&done, &format!("discord:{CHANNEL}"));
    let message_id: u64 = channel["provider_id"].as_str().unwrap().parse().unwrap();
    assert!(
        message_id >= 7_000_000,
        "the message id Discord gave: {message_id}"
    );
    assert_eq!(channel["attempts"], 1);
}

async fn discords_refusals_are_permanent_with_a_reason(backend: Backend) {
    let discord = discord().await;
    let app = app(backend, discord.clone(), None).await;
    ready(&app).await;
    let program = Program::new(&app, "owner@example.com").await;
    link(&program, OWNER).await;
    discord.fail_channel(LOCKED_CHANNEL, 403, 50013);
    discord.fail_channel(dm_channel(OWNER), 403, 50007);
    let (_, accepted) = program
        .send(
            json!({"channel": "discord", "to": [LOCKED_CHANNEL.to_string(), "me", "999"],
            "subject": "s", "text": "t"}),
        )
        .await;
    let dead = program
        .wait_all(accepted["id"].as_i64().unwrap(), "dead")
        .await;
    let reason = |to: &str| {
        delivery(&dead, to)["last_error"]["message"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(reason(&format!("discord:{LOCKED_CHANNEL}")).contains("lacks permission"));
    assert!(reason("me").contains("does not accept direct messages"));
    assert!(
        reason("discord:999").contains("unknown"),
        "{}",
        reason("discord:999")
    );
    assert!(
        dead["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["attempts"] == 1)
    );

    // A member without Manage Server may not post through Herald.
    let other = Program::new(&app, "member@example.com").await;
    link(&other, 78).await;
    discord.set_member(SERVER, 78, &[MEMBER_ROLE]);
    let (_, accepted) = other
        .send(
            json!({"channel": "discord", "to": [CHANNEL.to_string()], "subject": "s", "text": "t"}),
        )
        .await;
    let dead = other
        .wait_all(accepted["id"].as_i64().unwrap(), "dead")
        .await;
    let message = dead["deliveries"][0]["last_error"]["message"]
        .as_str()
        .unwrap();
    assert!(message.contains("do not manage"), "{message}");
    assert!(
        !discord.posted().iter().any(|(c, _)| *c == CHANNEL),
        "nothing posted"
    );
}

async fn a_rate_limit_reschedules_without_using_up_attempts(backend: Backend) {
    let discord = discord().await;
    let app = app(backend, discord.clone(), None).await;
    ready(&app).await;
    let program = Program::new(&app, "owner@example.com").await;
    link(&program, OWNER).await;
    discord.fail_channel(CHANNEL, 429, 0);
    let (_, accepted) = program
        .send(
            json!({"channel": "discord", "to": [CHANNEL.to_string()], "subject": "s", "text": "t"}),
        )
        .await;
    let id = accepted["id"].as_i64().unwrap();
    eventually("a deferred attempt", || async {
        let n = program.get(id).await;
        (n["deliveries"][0]["history"][0]["outcome"] == "deferred").then_some(())
    })
    .await;
    discord.heal_channel(CHANNEL);
    let sent = program.wait_all(id, "sent").await;
    assert_eq!(
        sent["deliveries"][0]["attempts"], 1,
        "the 429s did not count"
    );
}

async fn a_permanent_discord_failure_falls_back_to_email(backend: Backend) {
    let smtp = SmtpCapture::start();
    let discord = discord().await;
    let app = app(backend, discord.clone(), Some(&smtp)).await;
    ready(&app).await;
    let program = Program::new(&app, "owner@example.com").await;
    link(&program, OWNER).await;
    discord.fail_channel(LOCKED_CHANNEL, 403, 50001);
    let (status, accepted) = program
        .send(json!({"channels": ["discord", "email"],
            "to": [{"discord_channel": LOCKED_CHANNEL.to_string(), "email": "ops@example.com"}],
            "subject": "fallback", "text": "t"}))
        .await;
    assert_eq!(status, 202, "{accepted}");
    let sent = program
        .wait_all(accepted["id"].as_i64().unwrap(), "sent")
        .await;
    let d = &sent["deliveries"][0];
    assert_eq!(d["channel"], "email");
    let history: Vec<(&str, &str)> = d["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["channel"].as_str().unwrap(),
                a["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(history, [("discord", "permanent"), ("email", "sent")]);
    smtp.wait_for_mail("ops@example.com", |m| m.subject() == "fallback")
        .await;
}

async fn discord_deliveries_wait_for_a_bot_that_is_down(backend: Backend) {
    let discord = discord().await;
    discord.reject_token(true);
    let app = app(backend, discord.clone(), None).await;
    app.wait_for_bot("failed").await;
    let program = Program::new(&app, "owner@example.com").await;
    link(&program, OWNER).await;
    let (_, accepted) = program
        .send(
            json!({"channel": "discord", "to": [CHANNEL.to_string()], "subject": "s", "text": "t"}),
        )
        .await;
    let id = accepted["id"].as_i64().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let waiting = program.get(id).await;
    assert_eq!(waiting["deliveries"][0]["state"], "queued");
    assert_eq!(
        waiting["deliveries"][0]["attempts"], 0,
        "no attempt burnt while down"
    );

    discord.reject_token(false);
    ready(&app).await;
    program.wait_all(id, "sent").await;
    assert!(discord.posted().iter().any(|(c, _)| *c == CHANNEL));
}

db_tests!(
    messages_reach_a_managed_channel_and_the_owners_dms,
    discords_refusals_are_permanent_with_a_reason,
    a_rate_limit_reschedules_without_using_up_attempts,
    a_permanent_discord_failure_falls_back_to_email,
    discord_deliveries_wait_for_a_bot_that_is_down,
);
/// Serenity skips an event it cannot parse, silently: the fake's servers must parse.
#[tokio::test]
async fn the_fakes_servers_are_guilds_serenity_reads() {
    let discord = discord().await;
    let server = discord.servers().remove(0);
    let guild: serenity::all::Guild = serde_json::from_value(server).unwrap();
    assert_eq!(guild.channels.len(), 2);
    assert_eq!(guild.roles.len(), 3, "@everyone and two roles");
}
