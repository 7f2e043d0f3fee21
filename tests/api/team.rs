//! Slash commands for the team's own data, through the fake Discord: reminders (previewed,
//! delivered through the outbox with buttons, snoozed, done, repeated, cancelled), tasks with
//! assignees and alerts, notifications re-driven from Discord, API keys, and `/herald`.
//! Time passing is played by making the waiting deliveries due in the database.

use serde_json::{Value, json};

use crate::dashboard::{ADMIN_ROLE, BOT_ROLE, CHANNEL, Dash, SERVER};
use crate::db_tests;
use crate::fake_discord::{Caller, dm_channel};
use crate::helpers::*;
use crate::slash::{manager, member, run};

const QUIET_CHANNEL: u64 = 810_000_000_000_000_103;

/// The dashboard's server, where the bot may also embed links in `CHANNEL` (its role alone
/// may not: the dashboard's checklist shows that), told through the gateway.
async fn dash(backend: Backend) -> Dash {
    let d = crate::dashboard::dash(backend).await;
    let channel = json!({"id": CHANNEL.to_string(), "type": 0, "guild_id": SERVER.to_string(),
        "name": format!("channel-{CHANNEL}"), "position": 0, "nsfw": false,
        "permission_overwrites": [{"id": BOT_ROLE.to_string(), "type": 0, "allow": "16384",
            "deny": "0"}]});
    d.discord.send_event("CHANNEL_UPDATE", channel);
    let cache = d.app.state.bot().discord().unwrap().cache;
    eventually("the channel's overwrites in the cache", || async {
        let guild = cache.guild(serenity::all::GuildId::new(SERVER))?;
        let found = guild
            .channels
            .get(&serenity::all::ChannelId::new(CHANNEL))?;
        (!found.permission_overwrites.is_empty()).then_some(())
    })
    .await;
    d
}

/// `/<group> <sub>` with options, resolving the channels and users they name.
fn cmd(group: &str, sub: &str, options: Value) -> Value {
    let (mut channels, mut users) = (serde_json::Map::new(), serde_json::Map::new());
    for option in options.as_array().unwrap() {
        let id = option["value"].as_str().unwrap_or_default().to_owned();
        match option["type"].as_u64() {
            Some(7) => {
                let channel = json!({"id": id, "name": format!("channel-{id}"), "type": 0,
                    "permissions": "3072"});
                channels.insert(id, channel);
            }
            Some(6) => {
                let user = json!({"id": id, "username": format!("user{id}"),
                    "discriminator": "0000"});
                users.insert(id, user);
            }
            _ => {}
        }
    }
    json!({"name": group, "options": [{"name": sub, "type": 1, "options": options}],
        "resolved": {"channels": channels, "users": users}})
}

fn text(name: &str, value: &str) -> Value {
    json!({"name": name, "type": 3, "value": value})
}

fn int(name: &str, value: i64) -> Value {
    json!({"name": name, "type": 4, "value": value})
}

fn channel(name: &str, id: u64) -> Value {
    json!({"name": name, "type": 7, "value": id.to_string()})
}

fn user(name: &str, id: u64) -> Value {
    json!({"name": name, "type": 6, "value": id.to_string()})
}

/// The first `<t:SECONDS:` in an answer.
fn stamp(answer: &str) -> i64 {
    let rest = answer.split("<t:").nth(1).expect("a timestamp");
    rest.split(':').next().unwrap().parse().unwrap()
}

/// Time passes: the outbox's waiting deliveries of `notification` are due now.
async fn make_due(d: &Dash, notification: i64) {
    let done = sqlx::query(
        "UPDATE deliveries SET next_attempt_at = ? WHERE notification_id = ? \
         AND state = 'scheduled'",
    )
    .bind(herald::db::now_unix())
    .bind(notification)
    .execute(d.app.state.db().pool())
    .await
    .unwrap();
    assert_eq!(done.rows_affected(), 1, "one delivery was waiting");
}

/// The reminder's queued occurrence (`notification_id`, or `snoozed_id` with `snoozed`).
async fn occurrence(d: &Dash, reminder: i64, column: &str) -> i64 {
    let sql = format!("SELECT {column} FROM reminders WHERE id = ?");
    sqlx::query_scalar::<_, Option<i64>>(sqlx::AssertSqlSafe(sql))
        .bind(reminder)
        .fetch_one(d.app.state.db().pool())
        .await
        .unwrap()
        .expect("an occurrence")
}

/// States of a notification's deliveries.
async fn states(d: &Dash, notification: i64) -> Vec<String> {
    sqlx::query_scalar("SELECT state FROM deliveries WHERE notification_id = ? ORDER BY id")
        .bind(notification)
        .fetch_all(d.app.state.db().pool())
        .await
        .unwrap()
}

/// Waits until the deliveries of notification `n` are in the states `want`, in order.
async fn until_states(d: &Dash, n: i64, want: &[&str], what: &str) {
    eventually(what, || async {
        (states(d, n).await == want).then_some(())
    })
    .await;
}

/// `/notify send via: Discord` run by `who`: answers the reply.
async fn send_discord(
    d: &Dash,
    id: &str,
    who: &Caller,
    to: &str,
    subject: &str,
    body: &str,
) -> String {
    let send = json!([
        int("via", 1),
        text("to", to),
        text("subject", subject),
        text("text", body)
    ]);
    run(d, id, who, cmd("notify", "send", send)).await
}

/// Waits for the `n`-th message posted to `channel` (1-based) and answers it.
async fn nth_post(d: &Dash, channel: u64, n: usize) -> Value {
    eventually(&format!("post {n} to {channel}"), || async {
        let posts: Vec<Value> = d
            .discord
            .posted()
            .into_iter()
            .filter(|(c, _)| *c == channel)
            .map(|(_, body)| body)
            .collect();
        posts.get(n - 1).cloned()
    })
    .await
}

fn buttons(post: &Value) -> Vec<String> {
    post["components"][0]["components"]
        .as_array()
        .map(|row| {
            row.iter()
                .map(|b| b["custom_id"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A button pressed on a message: the message as updated in place.
async fn press(d: &Dash, id: &str, who: &Caller, custom_id: &str) -> Value {
    d.discord.press_in(id, SERVER, who, custom_id);
    d.discord.answer_to(id).await
}

async fn reminders_are_previewed_delivered_with_buttons_snoozed_done_and_repeated(
    backend: Backend,
) {
    let d = dash(backend).await;
    d.sign_in(7001).await;
    let me = manager(7001, "en-US");

    // Without a Herald account there is nothing to send for: told how to link.
    let unlinked = member(7009, vec![]);
    let when = text("when", "in 2h");
    let refused = run(
        &d,
        "9601",
        &unlinked,
        cmd("remind", "me", json!([when, text("text", "x")])),
    )
    .await;
    assert!(refused.ends_with("(code 4030008)"), "{refused}");
    assert!(refused.contains("/herald link"), "{refused}");

    // The preview while typing, in UTC until a zone is set; an unreadable time says so.
    let typing = |value: &str| {
        let mut data = cmd(
            "remind",
            "me",
            json!([{"name": "when", "type": 3, "value": value,
            "focused": true}]),
        );
        data["options"][0]["options"][0]["focused"] = json!(true);
        data
    };
    d.discord
        .autocomplete_in("9602", SERVER, &me, typing("tomorrow 9:00"));
    let choices = d.discord.answer_to("9602").await;
    let choice = &choices["data"]["choices"][0];
    assert_eq!(choice["value"], "tomorrow 9:00", "{choices}");
    let shown = choice["name"].as_str().unwrap();
    assert!(
        shown.starts_with("✓ ") && shown.contains("09:00 (UTC)"),
        "{shown}"
    );
    d.discord
        .autocomplete_in("9603", SERVER, &me, typing("whenever"));
    let choices = d.discord.answer_to("9603").await;
    let shown = choices["data"]["choices"][0]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        shown.starts_with("✗ That time could not be read"),
        "{shown}"
    );

    let zone = run(
        &d,
        "9604",
        &me,
        cmd("herald", "timezone", json!([text("zone", "asia/seoul")])),
    )
    .await;
    assert_eq!(zone, "Your time zone is now **Asia/Seoul**.");

    // Set, listed, delivered as a direct message with its four buttons.
    let asked = herald::db::now_unix();
    let set = run(
        &d,
        "9605",
        &me,
        cmd(
            "remind",
            "me",
            json!([text("when", "in 2h"), text("text", "stand up")]),
        ),
    )
    .await;
    assert!(set.starts_with("Reminder **#1** set for <t:"), "{set}");
    assert!(set.contains("Times are read in Asia/Seoul"), "{set}");
    assert!(!set.contains("/herald timezone"), "the zone is set: {set}");
    assert!((stamp(&set) - (asked + 7200)).abs() <= 5, "{set}");
    let listed = run(&d, "9606", &me, cmd("remind", "list", json!([]))).await;
    assert!(
        listed.contains("**#1**") && listed.contains("stand up · waiting"),
        "{listed}"
    );

    make_due(&d, occurrence(&d, 1, "notification_id").await).await;
    let post = nth_post(&d, dm_channel(7001), 1).await;
    assert_eq!(post["content"], "⏰ Reminder", "{post}");
    assert_eq!(post["embeds"][0]["description"], "stand up");
    assert_eq!(
        buttons(&post),
        [
            "remind:1:snooze:1200",
            "remind:1:snooze:3600",
            "remind:1:tomorrow",
            "remind:1:done"
        ]
    );

    // Only its owner may press; the snooze comes back, with its buttons, and is listed.
    let other = member(7004, vec![]);
    let refused = press(&d, "9607", &other, "remind:1:snooze:1200").await;
    assert_eq!(refused["data"]["flags"], 64, "{refused}");
    assert!(
        refused["data"]["content"]
            .as_str()
            .unwrap()
            .ends_with("(code 4030009)")
    );
    let pressed_at = herald::db::now_unix();
    let snoozed = press(&d, "9608", &me, "remind:1:snooze:1200").await;
    assert_eq!(snoozed["type"], 7, "the message is updated: {snoozed}");
    let content = snoozed["data"]["content"].as_str().unwrap();
    assert!(content.contains("💤 Snoozed until <t:"), "{content}");
    assert!(
        (stamp(content) - (pressed_at + 1200)).abs() <= 5,
        "{content}"
    );
    assert_eq!(snoozed["data"]["components"], json!([]), "buttons gone");
    let listed = run(&d, "9609", &me, cmd("remind", "list", json!([]))).await;
    assert!(
        listed.contains("stand up · waiting"),
        "the snooze waits: {listed}"
    );
    make_due(&d, occurrence(&d, 1, "notification_id").await).await;
    let again = nth_post(&d, dm_channel(7001), 2).await;
    assert_eq!(again["embeds"][0]["description"], "stand up");
    assert_eq!(buttons(&again).len(), 4, "{again}");

    // Done: it leaves the list.
    let done = press(&d, "9610", &me, "remind:1:done").await;
    assert!(
        done["data"]["content"]
            .as_str()
            .unwrap()
            .contains("✅ Done"),
        "{done}"
    );
    let listed = run(&d, "9611", &me, cmd("remind", "list", json!([]))).await;
    assert_eq!(listed, "You have no reminders to come.");

    // A daily one: once its occurrence is due, the sweep queues tomorrow's at the same time.
    let daily = json!([
        text("when", "tomorrow 8:30"),
        text("text", "water the plants"),
        int("repeat", 0)
    ]);
    let set = run(&d, "9612", &me, cmd("remind", "me", daily)).await;
    assert!(set.contains("every day"), "{set}");
    let first = stamp(&set);
    let queued = occurrence(&d, 2, "notification_id").await;
    // Two days pass: yesterday's 08:30 was the last occurrence (Seoul keeps no DST).
    sqlx::query("UPDATE reminders SET next_at = ? WHERE id = 2")
        .bind(first - 2 * 86_400)
        .execute(d.app.state.db().pool())
        .await
        .unwrap();
    let now = herald::db::now_unix();
    let expected = if first - 86_400 > now {
        first - 86_400
    } else {
        first
    };
    assert_eq!(
        d.app
            .state
            .reminders()
            .sweep(d.app.state.guilds())
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        d.app
            .state
            .reminders()
            .sweep(d.app.state.guilds())
            .await
            .unwrap(),
        0,
        "moved once only"
    );
    let next = occurrence(&d, 2, "notification_id").await;
    assert_ne!(next, queued, "a new occurrence is queued");
    let due: i64 = sqlx::query_scalar("SELECT send_at FROM notifications WHERE id = ?")
        .bind(next)
        .fetch_one(d.app.state.db().pool())
        .await
        .unwrap();
    assert_eq!(due, expected, "the next 08:30 in Seoul after now");

    // A repeat that a DST gap moved (02:30 does not exist in New York on 2026-03-08, so that
    // day it came at 03:00) returns to 02:30 afterwards.
    let zone = cmd(
        "herald",
        "timezone",
        json!([text("zone", "America/New_York")]),
    );
    run(&d, "9620", &me, zone).await;
    let nightly = json!([
        text("when", "tomorrow 2:30"),
        text("text", "backup"),
        int("repeat", 0)
    ]);
    let set = run(&d, "9621", &me, cmd("remind", "me", nightly)).await;
    let first = stamp(&set);
    let id: i64 = sqlx::query_scalar("SELECT MAX(id) FROM reminders")
        .fetch_one(d.app.state.db().pool())
        .await
        .unwrap();
    sqlx::query("UPDATE reminders SET next_at = ? WHERE id = ?")
        .bind(1_772_953_200_i64) // 2026-03-08T07:00:00Z, 03:00 EDT
        .bind(id)
        .execute(d.app.state.db().pool())
        .await
        .unwrap();
    assert_eq!(
        d.app
            .state
            .reminders()
            .sweep(d.app.state.guilds())
            .await
            .unwrap(),
        1
    );
    let moved: i64 = sqlx::query_scalar("SELECT next_at FROM reminders WHERE id = ?")
        .bind(id)
        .fetch_one(d.app.state.db().pool())
        .await
        .unwrap();
    let now = herald::db::now_unix();
    // December keeps EST (no change between today and tomorrow).
    let expected = if first - 86_400 > now {
        first - 86_400
    } else {
        first
    };
    assert_eq!(moved, expected, "02:30 New York time again");

    // Cancelled: the waiting occurrence is cancelled in the outbox too.
    let typed = json!([{"name": "reminder", "type": 4, "value": "water", "focused": true}]);
    d.discord
        .autocomplete_in("9613", SERVER, &me, cmd("remind", "cancel", typed));
    let choices = d.discord.answer_to("9613").await;
    assert_eq!(choices["data"]["choices"][0]["value"], 2, "{choices}");
    let gone = run(
        &d,
        "9614",
        &me,
        cmd("remind", "cancel", json!([int("reminder", 2)])),
    )
    .await;
    assert_eq!(gone, "Reminder **#2** cancelled.");
    assert_eq!(states(&d, next).await, ["cancelled"]);
    let again = run(
        &d,
        "9615",
        &me,
        cmd("remind", "cancel", json!([int("reminder", 2)])),
    )
    .await;
    assert!(again.ends_with("(code 4040012)"), "{again}");

    // In Korean, for a Korean caller whose zone is unset (Seoul by default).
    let korean = Caller {
        locale: "ko",
        ..manager(7001, "ko")
    };
    let past = run(
        &d,
        "9616",
        &korean,
        cmd(
            "remind",
            "me",
            json!([text("when", "2020-01-01 10:00"), text("text", "x")]),
        ),
    )
    .await;
    assert_eq!(past, "이미 지난 시간입니다. (코드 4000036)");

    // Closed direct messages: the reminder falls back to the owner's verified address.
    d.discord.fail_channel(dm_channel(7001), 403, 50007);
    let set = run(
        &d,
        "9622",
        &me,
        cmd(
            "remind",
            "me",
            json!([text("when", "in 1h"), text("text", "by mail")]),
        ),
    )
    .await;
    let id: i64 = set
        .split("**#")
        .nth(1)
        .unwrap()
        .split("**")
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let queued = occurrence(&d, id, "notification_id").await;
    make_due(&d, queued).await;
    eventually("tried by e-mail", || async {
        let row: (String, String) =
            sqlx::query_as("SELECT channel, state FROM deliveries WHERE notification_id = ?")
                .bind(queued)
                .fetch_one(d.app.state.db().pool())
                .await
                .unwrap();
        (row == ("email".to_owned(), "sent".to_owned())).then_some(())
    })
    .await;
    let listed = run(&d, "9623", &me, cmd("remind", "list", json!([]))).await;
    assert!(listed.contains("by mail · delivered"), "{listed}");
}
db_tests!(reminders_are_previewed_delivered_with_buttons_snoozed_done_and_repeated);

async fn the_reminder_limit_and_a_double_snooze_hold_under_a_race(backend: Backend) {
    let d = dash(backend).await;
    d.sign_in(7001).await;
    let me = manager(7001, "en-US");
    let set = run(
        &d,
        "9631",
        &me,
        cmd(
            "remind",
            "me",
            json!([text("when", "in 1h"), text("text", "one")]),
        ),
    )
    .await;
    assert!(set.starts_with("Reminder **#1**"), "{set}");
    // 98 more waiting (copies of the first): one short of the limit.
    let db = d.app.state.db().pool();
    for _ in 0..(herald::reminders::ACTIVE_MAX - 2) {
        sqlx::query(
            "INSERT INTO reminders (user_id, discord_id, guild_id, channel_id, body, time_zone, \
             repeat_every, anchor_day, anchor_minute, locale, next_at, state, created_at, \
             updated_at) SELECT user_id, discord_id, guild_id, channel_id, body, time_zone, \
             repeat_every, anchor_day, anchor_minute, locale, next_at, state, created_at, \
             updated_at FROM reminders WHERE id = 1",
        )
        .execute(db)
        .await
        .unwrap();
    }
    // Two at once for the last place: one is set, the other refused.
    for id in ["9632", "9633"] {
        let data = cmd(
            "remind",
            "me",
            json!([text("when", "in 2h"), text("text", id)]),
        );
        d.discord.command_in(id, SERVER, &me, data);
    }
    let mut answers = Vec::new();
    for id in ["9632", "9633"] {
        let answer = d.discord.reply_to(id).await;
        answers.push(answer["data"]["content"].as_str().unwrap().to_owned());
    }
    let set = answers
        .iter()
        .filter(|a| a.starts_with("Reminder **#"))
        .count();
    let refused = answers
        .iter()
        .filter(|a| a.ends_with("(code 4000039)"))
        .count();
    assert_eq!((set, refused), (1, 1), "{answers:?}");
    let waiting: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM reminders WHERE state = 'active'")
        .fetch_one(db)
        .await
        .unwrap();
    assert_eq!(waiting, herald::reminders::ACTIVE_MAX);

    // Snoozed twice at once (a double click): one snooze waits, the other is cancelled.
    make_due(&d, occurrence(&d, 1, "notification_id").await).await;
    nth_post(&d, dm_channel(7001), 1).await;
    sqlx::query("UPDATE reminders SET state = 'cancelled' WHERE id > 1")
        .execute(db)
        .await
        .unwrap();
    d.discord
        .press_in("9634", SERVER, &me, "remind:1:snooze:1200");
    d.discord
        .press_in("9635", SERVER, &me, "remind:1:snooze:3600");
    for id in ["9634", "9635"] {
        let answer = d.discord.answer_to(id).await;
        assert_eq!(answer["type"], 7, "{answer}");
    }
    let snoozes: Vec<String> = sqlx::query_scalar(
        "SELECT d.state FROM deliveries d JOIN notifications n ON n.id = d.notification_id \
         WHERE n.data LIKE '%\"reminder_id\":1}%' AND d.state IN ('scheduled', 'cancelled') \
         ORDER BY d.state",
    )
    .fetch_all(db)
    .await
    .unwrap();
    assert_eq!(snoozes, ["cancelled", "scheduled"], "one snooze waits");
}
db_tests!(the_reminder_limit_and_a_double_snooze_hold_under_a_race);

async fn channel_reminders_are_for_managers_audited_and_checked_for_the_bots_rights(
    backend: Backend,
) {
    let d = dash(backend).await;
    let token = d.sign_in(7001).await;
    d.oauth
        .set_user_guilds("7001", &[(SERVER, "Team", true, 0)]);
    let boss = manager(7001, "en-US");
    let options = |to: u64| {
        json!([
            channel("channel", to),
            text("when", "in 1h"),
            text("text", "standup")
        ])
    };
    // Where the bot cannot see nor post: a checklist of what it lacks, nothing set.
    let refused = run(
        &d,
        "9701",
        &boss,
        cmd("remind", "channel", options(QUIET_CHANNEL)),
    )
    .await;
    assert!(
        refused.starts_with(&format!("Herald cannot post in <#{QUIET_CHANNEL}>")),
        "{refused}"
    );
    assert!(
        refused.contains("☐ View Channels") && refused.contains("☐ Send Messages"),
        "{refused}"
    );
    assert!(
        refused.contains("☐ Embed Links"),
        "its role may not embed: {refused}"
    );
    assert!(refused.ends_with("(code 4030011)"), "{refused}");
    // A member without Manage Server may not post to a channel.
    let refused = run(
        &d,
        "9702",
        &member(7004, vec![]),
        cmd("remind", "channel", options(CHANNEL)),
    )
    .await;
    assert!(refused.ends_with("(code 4040009)"), "{refused}");
    let set = run(
        &d,
        "9703",
        &boss,
        cmd("remind", "channel", options(CHANNEL)),
    )
    .await;
    assert!(set.contains(&format!("<#{CHANNEL}>")), "{set}");
    // Discord refuses the post: it dies in the outbox, and a manager drives it again from
    // Discord, with its text (Herald's own posts stay sealed, not emptied, when they die).
    d.discord.fail_channel(CHANNEL, 403, 50013);
    let occurrence_1 = occurrence(&d, 1, "notification_id").await;
    make_due(&d, occurrence_1).await;
    until_states(&d, occurrence_1, &["dead"], "the reminder's post dies").await;
    let listed = run(&d, "9704", &boss, cmd("remind", "list", json!([]))).await;
    assert!(
        listed.contains("could not be delivered: the bot lacks permission"),
        "{listed}"
    );
    d.discord.heal_channel(CHANNEL);
    let retry = format!("notify:retry:{SERVER}:{occurrence_1}");
    let retried = press(&d, "9705", &boss, &retry).await;
    assert!(
        retried["data"]["content"]
            .as_str()
            .unwrap()
            .contains("1 delivery(ies) queued again"),
        "{retried}"
    );
    let post = nth_post(&d, CHANNEL, 1).await;
    assert_eq!(post["embeds"][0]["description"], "standup", "{post}");
    assert_eq!(post["content"], "⏰ Reminder from <@7001>", "{post}");
    assert_eq!(
        post["allowed_mentions"]["parse"],
        json!([]),
        "nobody pinged: {post}"
    );
    assert_eq!(buttons(&post).len(), 4);
    let (_, audit) = d
        .get(
            &format!("/api/v1/guilds/{SERVER}/audit?action=reminder."),
            &token,
        )
        .await;
    assert_eq!(audit["items"][0]["action"], "reminder.created", "{audit}");
    assert_eq!(audit["items"][0]["source"], "slash_command");
    assert_eq!(audit["items"][0]["detail"]["text"], "standup");

    // Another manager sees the server's channel reminders, whoever set them, and may stop
    // one; a member may not.
    let other = manager(7003, "en-US");
    let listed = run(&d, "9706", &other, cmd("remind", "list", json!([]))).await;
    assert!(
        listed.contains("**#1**") && listed.contains("<@7001>"),
        "{listed}"
    );
    let refused = run(
        &d,
        "9707",
        &member(7004, vec![]),
        cmd("remind", "cancel", json!([int("reminder", 1)])),
    )
    .await;
    assert!(refused.ends_with("(code 4040012)"), "{refused}");
    let gone = run(
        &d,
        "9708",
        &other,
        cmd("remind", "cancel", json!([int("reminder", 1)])),
    )
    .await;
    assert_eq!(gone, "Reminder **#1** cancelled.");
    let (_, audit) = d
        .get(
            &format!("/api/v1/guilds/{SERVER}/audit?action=reminder.cancelled"),
            &token,
        )
        .await;
    assert_eq!(audit["items"][0]["actor_discord_id"], "7003", "{audit}");

    // A daily channel reminder goes on while its setter manages the server, and stops once
    // they no longer do.
    d.sign_in(7003).await;
    d.discord.set_member(SERVER, 7003, &[ADMIN_ROLE]);
    let daily = json!([
        channel("channel", CHANNEL),
        text("when", "in 1h"),
        text("text", "standup"),
        int("repeat", 0)
    ]);
    let set = run(&d, "9709", &other, cmd("remind", "channel", daily)).await;
    assert!(set.starts_with("Reminder **#2**"), "{set}");
    let due = || async {
        sqlx::query("UPDATE reminders SET next_at = ? WHERE id = 2")
            .bind(herald::db::now_unix() - 60)
            .execute(d.app.state.db().pool())
            .await
            .unwrap();
    };
    due().await;
    let reminders = d.app.state.reminders();
    assert_eq!(
        reminders.sweep(d.app.state.guilds()).await.unwrap(),
        1,
        "still a manager"
    );
    d.discord.set_member(SERVER, 7003, &[]);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await; // the roles' cache
    due().await;
    assert_eq!(reminders.sweep(d.app.state.guilds()).await.unwrap(), 0);
    let state: String = sqlx::query_scalar("SELECT state FROM reminders WHERE id = 2")
        .fetch_one(d.app.state.db().pool())
        .await
        .unwrap();
    assert_eq!(state, "cancelled");
    let (_, audit) = d
        .get(
            &format!("/api/v1/guilds/{SERVER}/audit?action=reminder.stopped"),
            &token,
        )
        .await;
    assert_eq!(audit["items"][0]["detail"]["set_by"], "7003", "{audit}");
    assert_eq!(audit["items"][0]["source"], "bot");
}
db_tests!(channel_reminders_are_for_managers_audited_and_checked_for_the_bots_rights);

async fn tasks_are_assigned_alerted_closed_by_their_assignee_and_audited(backend: Backend) {
    let d = dash(backend).await;
    let token = d.sign_in(7001).await;
    d.oauth
        .set_user_guilds("7001", &[(SERVER, "Team", true, 0)]);
    let boss = manager(7001, "en-US");
    let doer = member(7004, vec![]);
    let stranger = member(7005, vec![]);

    let refused = run(
        &d,
        "9801",
        &doer,
        cmd("task", "add", json!([text("title", "x")])),
    )
    .await;
    assert!(
        refused.ends_with("(code 4040009)"),
        "members do not add: {refused}"
    );
    let add = json!([
        text("title", "Ship v2"),
        user("assignee", 7004),
        text("due", "in 3h"),
        text("alerts", "2h, 1h"),
        channel("channel", CHANNEL)
    ]);
    let added = run(&d, "9802", &boss, cmd("task", "add", add)).await;
    assert!(added.starts_with("Task **#1** added: Ship v2"), "{added}");
    assert!(
        added.contains("open · assigned: <@7004> · due: <t:"),
        "{added}"
    );
    assert!(added.contains("alerted here 2 time(s)"), "{added}");
    let alerts: Vec<i64> = sqlx::query_scalar(
        "SELECT notification_id FROM task_alerts WHERE task_id = 1 ORDER BY notification_id",
    )
    .fetch_all(d.app.state.db().pool())
    .await
    .unwrap();
    assert_eq!(alerts.len(), 2);

    // The first alert: the assignee pinged in the task's channel, with a Done button.
    make_due(&d, alerts[0]).await;
    let post = nth_post(&d, CHANNEL, 1).await;
    let content = post["content"].as_str().unwrap();
    assert!(
        content.starts_with("⏰ <@7004> task **#1** is due <t:"),
        "{post}"
    );
    assert_eq!(post["allowed_mentions"]["users"], json!(["7004"]), "{post}");
    assert_eq!(post["embeds"][0]["description"], "Ship v2");
    assert_eq!(buttons(&post), ["task:1:done"]);

    // Someone neither assigned nor managing may not close it; the assignee may.
    let refused = press(&d, "9803", &stranger, "task:1:done").await;
    assert!(
        refused["data"]["content"]
            .as_str()
            .unwrap()
            .ends_with("(code 4030010)"),
        "{refused}"
    );
    let closed = press(&d, "9804", &doer, "task:1:done").await;
    assert_eq!(closed["type"], 7, "{closed}");
    assert!(
        closed["data"]["content"]
            .as_str()
            .unwrap()
            .contains("✅ Done by <@7004>"),
        "{closed}"
    );
    assert_eq!(
        states(&d, alerts[1]).await,
        ["cancelled"],
        "no alert for a done task"
    );

    // Reopened by the assignee: its alerts are queued again.
    let reopened = run(
        &d,
        "9805",
        &doer,
        cmd("task", "reopen", json!([int("task", 1)])),
    )
    .await;
    assert_eq!(reopened, "Task **#1** open again: Ship v2");
    let waiting: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM task_alerts WHERE task_id = 1")
        .fetch_one(d.app.state.db().pool())
        .await
        .unwrap();
    assert_eq!(waiting, 2, "{reopened}");

    // Another assignee; the list for members, theirs only on asking.
    let assigned = run(
        &d,
        "9806",
        &boss,
        cmd(
            "task",
            "assign",
            json!([int("task", 1), user("member", 7006)]),
        ),
    )
    .await;
    assert!(assigned.contains("assigned: <@7004> <@7006>"), "{assigned}");
    let second = run(
        &d,
        "9807",
        &boss,
        cmd(
            "task",
            "add",
            json!([text("title", "Write notes"), channel("channel", CHANNEL)]),
        ),
    )
    .await;
    assert!(
        second.contains("assigned: - · due: no due time"),
        "{second}"
    );
    let listed = run(&d, "9808", &doer, cmd("task", "list", json!([]))).await;
    assert!(
        listed.contains("**#1** Ship v2 · open") && listed.contains("**#2** Write notes"),
        "{listed}"
    );
    let mine = run(
        &d,
        "9809",
        &doer,
        cmd("task", "list", json!([int("show", 1)])),
    )
    .await;
    assert!(
        mine.contains("Ship v2") && !mine.contains("Write notes"),
        "{mine}"
    );
    let done = run(
        &d,
        "9810",
        &boss,
        cmd("task", "done", json!([int("task", 2)])),
    )
    .await;
    assert_eq!(done, "Task **#2** done: Write notes");
    let missing = run(
        &d,
        "9811",
        &boss,
        cmd("task", "done", json!([int("task", 99)])),
    )
    .await;
    assert!(missing.ends_with("(code 4040013)"), "{missing}");

    let (_, audit) = d
        .get(
            &format!("/api/v1/guilds/{SERVER}/audit?action=task."),
            &token,
        )
        .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "task.done",
            "task.created",
            "task.assigned",
            "task.reopened",
            "task.done",
            "task.created"
        ],
        "{audit}"
    );
    let by_assignee = &audit["items"][4];
    assert_eq!(by_assignee["actor_discord_id"], "7004", "{by_assignee}");
    assert_eq!(by_assignee["source"], "slash_command");

    // Korean.
    let korean = Caller {
        locale: "ko",
        ..member(7004, vec![])
    };
    let listed = run(&d, "9812", &korean, cmd("task", "list", json!([]))).await;
    assert!(
        listed.starts_with("**할 일**") && listed.contains("진행 중"),
        "{listed}"
    );
}
db_tests!(tasks_are_assigned_alerted_closed_by_their_assignee_and_audited);

async fn the_task_pager_turns_after_herald_restarted(backend: Backend) {
    let d = dash(backend).await;
    let boss = manager(7001, "en-US");
    let add = json!([text("title", "Task 1"), channel("channel", CHANNEL)]);
    run(&d, "9851", &boss, cmd("task", "add", add)).await;
    for n in 2..=12 {
        sqlx::query(
            "INSERT INTO tasks (guild_id, channel_id, title, alerts, state, created_by, \
             created_at, updated_at) SELECT guild_id, channel_id, ?, alerts, state, created_by, \
             created_at, updated_at FROM tasks WHERE id = 1",
        )
        .bind(format!("Task {n}"))
        .execute(d.app.state.db().pool())
        .await
        .unwrap();
    }
    let reader = member(7004, vec![]);
    d.discord
        .command_in("9852", SERVER, &reader, cmd("task", "list", json!([])));
    let first = d.discord.reply_to("9852").await;
    let content = first["data"]["content"].as_str().unwrap();
    assert!(
        content.contains("**#10** Task 10") && !content.contains("**#11**"),
        "{content}"
    );
    let custom_id = first["data"]["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(custom_id, format!("tasks:{SERVER}:10:open"));

    let Dash {
        app,
        discord,
        oauth,
    } = d;
    let app = app.restarted().await;
    app.wait_for_bot("ready").await;
    let d = Dash {
        app,
        discord,
        oauth,
    };
    let turned = press(&d, "9853", &reader, &custom_id).await;
    assert_eq!(turned["type"], 7, "{turned}");
    let content = turned["data"]["content"].as_str().unwrap();
    assert!(
        content.contains("**#11** Task 11") && content.contains("**#12** Task 12"),
        "{content}"
    );
    assert!(!content.contains("**#10**"), "{content}");
    // A button naming another server is refused.
    let forged = "tasks:810000000000000002:0:open";
    let refused = press(&d, "9854", &reader, forged).await;
    assert!(
        refused["data"]["content"]
            .as_str()
            .unwrap()
            .ends_with("(code 4040009)"),
        "{refused}"
    );
}
db_tests!(the_task_pager_turns_after_herald_restarted);

async fn a_dead_notification_is_listed_and_re_driven_from_discord(backend: Backend) {
    let d = dash(backend).await;
    let token = d.sign_in(7001).await;
    d.oauth
        .set_user_guilds("7001", &[(SERVER, "Team", true, 0)]);
    let boss = manager(7001, "en-US");
    d.discord.fail_channel(CHANNEL, 403, 50013);
    let queued = send_discord(
        &d,
        "9901",
        &boss,
        &format!("<#{CHANNEL}>"),
        "Deploy",
        "v2 is out",
    )
    .await;
    assert!(
        queued.starts_with("Notification **#1** queued."),
        "{queued}"
    );
    until_states(&d, 1, &["dead"], "the delivery dies").await;
    let status = run(
        &d,
        "9902",
        &boss,
        cmd("notify", "status", json!([int("id", 1)])),
    )
    .await;
    assert!(
        status.contains(&format!("discord:{CHANNEL} · discord · dead")),
        "{status}"
    );
    assert!(status.contains("lacks permission"), "{status}");

    // Managers see the server's dead deliveries with a button; members are refused.
    d.discord
        .command_in("9903", SERVER, &boss, cmd("notify", "failed", json!([])));
    let listed = d.discord.reply_to("9903").await;
    assert_eq!(
        listed["deferred"], true,
        "it answered \"thinking\" first: {listed}"
    );
    let shown = listed["data"]["content"].as_str().unwrap();
    assert!(shown.contains(&format!("#1 · <#{CHANNEL}>")), "{listed}");
    let button = listed["data"]["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap();
    assert_eq!(button, format!("notify:retry:{SERVER}:1"));
    let refused = press(&d, "9904", &member(7004, vec![]), button).await;
    assert!(
        refused["data"]["content"]
            .as_str()
            .unwrap()
            .ends_with("(code 4040009)")
    );
    d.discord.heal_channel(CHANNEL);
    let retried = press(&d, "9905", &boss, button).await;
    assert_eq!(
        retried["data"]["content"], "Notification **#1**: 1 delivery(ies) queued again.",
        "{retried}"
    );
    let post = nth_post(&d, CHANNEL, 1).await;
    assert_eq!(post["content"], "Deploy", "{post}");
    until_states(&d, 1, &["sent"], "sent").await;
    let again = press(&d, "9906", &boss, button).await;
    assert!(
        again["data"]["content"]
            .as_str()
            .unwrap()
            .ends_with("(code 4090001)"),
        "{again}"
    );
    // Its owner re-drives their own from the command too.
    d.discord.fail_channel(CHANNEL, 403, 50013);
    let queued = send_discord(&d, "9907", &boss, &format!("<#{CHANNEL}>"), "Again", "t").await;
    assert!(
        queued.starts_with("Notification **#2** queued."),
        "{queued}"
    );
    until_states(&d, 2, &["dead"], "the second dies").await;
    d.discord.heal_channel(CHANNEL);
    let retried = run(
        &d,
        "9908",
        &boss,
        cmd("notify", "retry", json!([int("id", 2)])),
    )
    .await;
    assert!(
        retried.starts_with("**Notification #2**: Again"),
        "{retried}"
    );
    until_states(&d, 2, &["sent"], "the second is sent").await;
    let stranger = run(
        &d,
        "9909",
        &manager(7002, "en-US"),
        cmd("notify", "status", json!([int("id", 2)])),
    )
    .await;
    assert!(
        stranger.ends_with("(code 4030008)"),
        "not linked: {stranger}"
    );
    d.sign_in(7002).await;
    let status = cmd("notify", "status", json!([int("id", 2)]));
    let other = run(&d, "9910", &manager(7002, "en-US"), status).await;
    assert!(
        other.ends_with("(code 4040008)"),
        "another's is as missing as none: {other}"
    );
    let (_, audit) = d
        .get(
            &format!("/api/v1/guilds/{SERVER}/audit?action=notification.retried"),
            &token,
        )
        .await;
    assert_eq!(audit["items"][0]["detail"]["notification_id"], 1, "{audit}");
    assert_eq!(audit["items"][0]["source"], "slash_command");
}
db_tests!(a_dead_notification_is_listed_and_re_driven_from_discord);

async fn members_are_messaged_only_for_who_manages_their_server(backend: Backend) {
    let d = dash(backend).await;
    let token = d.sign_in(7001).await;
    d.discord.set_member(SERVER, 7004, &[]);
    let boss = manager(7001, "en-US");
    // A member gets a direct message; someone not in the server is not reached.
    let queued = send_discord(
        &d,
        "9921",
        &boss,
        "<@7004>, <@!7777>",
        "Standup moved",
        "to 10:00",
    )
    .await;
    assert!(
        queued.starts_with("Notification **#1** queued."),
        "{queued}"
    );
    let post = nth_post(&d, dm_channel(7004), 1).await;
    assert_eq!(post["content"], "Standup moved", "{post}");
    until_states(&d, 1, &["sent", "dead"], "both final").await;
    let status = run(
        &d,
        "9922",
        &boss,
        cmd("notify", "status", json!([int("id", 1)])),
    )
    .await;
    assert!(
        status.contains("discord-user:7004 · discord · sent"),
        "{status}"
    );
    assert!(
        status.contains("7777 is not a member of that server"),
        "{status}"
    );
    // `server` is the server's default notification channel.
    let notify = json!([channel("notify_channel", CHANNEL)]);
    let saved = run(&d, "9924", &boss, cmd("settings", "set", notify)).await;
    assert!(saved.starts_with("Saved as revision 1."), "{saved}");
    send_discord(&d, "9925", &boss, "server", "To all", "t").await;
    let post = nth_post(&d, CHANNEL, 1).await;
    assert_eq!(post["content"], "To all", "{post}");

    // Someone who does not manage the server on Discord cannot have the bot message its
    // members (a Herald account is not enough).
    d.sign_in(7002).await;
    send_discord(&d, "9923", &manager(7002, "en-US"), "<@7004>", "hi", "t").await;
    until_states(&d, 3, &["dead"], "refused at sending").await;
    assert_eq!(
        d.discord
            .posted()
            .iter()
            .filter(|(c, _)| *c == dm_channel(7004))
            .count(),
        1,
        "no second message to the member"
    );
    // Through the API, a member needs their server.
    let body = json!({"channel": "discord", "to": [{"discord_user": "7004"}], "subject": "s",
        "text": "t"});
    let (status, answer) = d
        .app
        .send_json(
            http::Method::POST,
            "/api/v1/notifications",
            Some(&body),
            Some(&token),
        )
        .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("4000033")),
        "{answer}"
    );
}
db_tests!(members_are_messaged_only_for_who_manages_their_server);

async fn api_keys_are_managed_privately_and_herald_links_and_counts(backend: Backend) {
    let d = dash(backend).await;
    let boss = manager(7001, "en-US");
    // Not linked yet: the link into Discord's sign-in, and keys refused.
    let link = run(&d, "9951", &boss, cmd("herald", "link", json!([]))).await;
    assert!(link.contains("/auth/discord/login?next=/account"), "{link}");
    let refused = run(&d, "9952", &boss, cmd("apikey", "list", json!([]))).await;
    assert!(refused.ends_with("(code 4030008)"), "{refused}");

    let token = d.sign_in(7001).await;
    let link = run(&d, "9953", &boss, cmd("herald", "link", json!([]))).await;
    assert!(
        link.starts_with("This Discord account is linked to Herald account #"),
        "{link}"
    );
    let made = run(
        &d,
        "9954",
        &boss,
        cmd("apikey", "create", json!([text("memo", "ci")])),
    )
    .await;
    assert!(made.starts_with("Key **#1** made."), "{made}");
    let secret = made.rsplit('`').nth(1).unwrap().to_owned();
    let (status, keys) = d.get("/api/v1/users/apikeys", &token).await;
    assert_eq!(status, 200, "{keys}");
    let access_key = keys[0]["access_key"].as_str().unwrap().to_owned();
    assert!(made.contains(&access_key), "the same key: {made}");
    assert_eq!(keys[0]["user_memo"], "ci");
    let listed = run(&d, "9955", &boss, cmd("apikey", "list", json!([]))).await;
    assert!(
        listed.contains(&format!("**#1** · `{access_key}` · ci · active")),
        "{listed}"
    );
    assert!(!listed.contains(&secret), "a secret is shown once only");
    let rolled = run(
        &d,
        "9956",
        &boss,
        cmd(
            "apikey",
            "roll",
            json!([int("key", 1), int("grace_hours", 0)]),
        ),
    )
    .await;
    let new_secret = rolled.rsplit('`').nth(1).unwrap();
    assert_ne!(new_secret, secret, "{rolled}");
    let off = run(
        &d,
        "9957",
        &boss,
        cmd("apikey", "disable", json!([int("key", 1)])),
    )
    .await;
    assert!(off.contains("· disabled"), "{off}");
    let (_, keys) = d.get("/api/v1/users/apikeys", &token).await;
    assert_eq!(keys[0]["status"], "disabled", "{keys}");
    // Another user's key is as missing as none.
    d.sign_in(7002).await;
    let theirs = run(
        &d,
        "9958",
        &manager(7002, "en-US"),
        cmd("apikey", "disable", json!([int("key", 1)])),
    )
    .await;
    assert!(theirs.ends_with("(code 4040003)"), "{theirs}");

    // The server's week, and help listing what each may run.
    let memo = [("title", "Notes"), ("tags", ""), ("body", "b")];
    d.discord.submit_in("9959", SERVER, &boss, "memo", &memo);
    d.discord.answer_to("9959").await;
    let stats = run(&d, "9960", &boss, cmd("herald", "stats", json!([]))).await;
    // The bot joining, and the memo.
    assert!(stats.contains("Changes in the audit log: 2"), "{stats}");
    assert!(
        stats.contains("Memos: 1 (1 new)") && stats.contains("• `memo.created` × 1"),
        "{stats}"
    );
    let help = run(
        &d,
        "9961",
        &member(7004, vec![]),
        cmd("herald", "help", json!([])),
    )
    .await;
    assert!(
        help.contains("`/remind me`") && !help.contains("`/task add`"),
        "{help}"
    );
    let help = run(&d, "9962", &boss, cmd("herald", "help", json!([]))).await;
    assert!(
        help.contains("`/task add`") && help.contains("`/notify failed`"),
        "{help}"
    );
}
db_tests!(api_keys_are_managed_privately_and_herald_links_and_counts);
