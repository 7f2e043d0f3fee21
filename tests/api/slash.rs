//! Slash commands through the fake Discord: `/settings` and `/audit` over the dashboard's
//! domain (the same validation, revisions and audit entries, with source `slash_command`),
//! access from what Discord says of the member, answers in the caller's language with codes,
//! a pager that turns after Herald restarted, and every name localised.

use serde_json::{Value, json};

use crate::dashboard::{CHANNEL, Dash, LOG_CHANNEL, MANAGE_GUILD, MOD_ROLE, SERVER, dash};
use crate::db_tests;
use crate::fake_discord::Caller;
use crate::helpers::*;

/// A member Discord gives Manage Server (`ko`: speaking Korean).
pub fn manager(id: u64, locale: &'static str) -> Caller {
    Caller {
        id,
        roles: vec![],
        permissions: MANAGE_GUILD | 0x400 | 0x800,
        locale,
    }
}

pub fn member(id: u64, roles: Vec<u64>) -> Caller {
    Caller {
        id,
        roles,
        permissions: 0x400 | 0x800,
        locale: "en-US",
    }
}

/// `/settings <sub>` with options, as Discord sends it (channels resolved).
fn settings(sub: &str, options: Value) -> Value {
    let mut channels = serde_json::Map::new();
    for option in options.as_array().unwrap() {
        if option["type"] == 7 {
            let id = option["value"].as_str().unwrap().to_owned();
            channels.insert(
                id.clone(),
                json!({"id": id, "name": format!("channel-{id}"), "type": 0,
                    "permissions": "3072"}),
            );
        }
    }
    json!({"name": "settings", "options": [{"name": sub, "type": 1, "options": options}],
        "resolved": {"channels": channels}})
}

/// Runs a command and answers its reply: the text and its embeds', after checking it is
/// private.
pub async fn run(d: &Dash, id: &str, caller: &Caller, data: Value) -> String {
    d.discord.command_in(id, SERVER, caller, data);
    let answer = d.discord.reply_to(id).await;
    assert_eq!(answer["type"], 4, "{answer}");
    assert_eq!(answer["data"]["flags"], 64, "private: {answer}");
    // The text, then what its embeds say (a long list goes in one).
    let mut text = answer["data"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    for embed in answer["data"]["embeds"].as_array().into_iter().flatten() {
        text.push('\n');
        text.push_str(embed["description"].as_str().unwrap_or_default());
    }
    text
}

async fn settings_from_discord_are_revised_audited_and_checked_like_the_dashboards(
    backend: Backend,
) {
    let d = dash(backend).await;
    // 7001 has linked Discord to a Herald account: the entries name both.
    let token = d.sign_in(7001).await;
    d.oauth
        .set_user_guilds("7001", &[(SERVER, "Team", true, 0)]);
    let boss = manager(7001, "en-US");
    let log = json!({"name": "log_channel", "type": 7, "value": LOG_CHANNEL.to_string()});
    let korean = json!({"name": "language", "type": 4, "value": 1});
    let saved = run(&d, "9101", &boss, settings("set", json!([log, korean]))).await;
    assert!(saved.starts_with("Saved as revision 1."), "{saved}");
    assert!(
        saved.contains(&format!("Log channel: <#{LOG_CHANNEL}>")),
        "{saved}"
    );
    assert!(saved.contains("Bot language: Korean"), "{saved}");
    // A caller whose Discord speaks a language Herald does not is answered in the server's.
    let german = Caller {
        locale: "de",
        ..member(7004, vec![])
    };
    let memos = json!({"name": "memo", "options": [{"name": "list", "type": 1, "options": []}]});
    let listed = run(&d, "9121", &german, memos).await;
    assert_eq!(listed, "이 서버에는 아직 메모가 없습니다.");

    // The dashboard sees the same revision and audit entry, made from Discord.
    let (_, current) = d
        .get(&format!("/api/v1/guilds/{SERVER}/settings"), &token)
        .await;
    assert_eq!(current["revision"], 1, "{current}");
    assert_eq!(current["settings"]["language"], "ko");
    let (_, audit) = d
        .get(&format!("/api/v1/guilds/{SERVER}/audit"), &token)
        .await;
    let entry = &audit["items"][0];
    assert_eq!(entry["action"], "settings.updated", "{audit}");
    assert_eq!(entry["source"], "slash_command");
    assert_eq!(entry["actor_discord_id"], "7001");
    assert!(
        entry["actor_user_id"].is_i64(),
        "the linked Herald user: {entry}"
    );

    // In Korean, for a Korean caller; the history lists who saved from where.
    let shown = run(
        &d,
        "9102",
        &manager(7003, "ko"),
        settings("show", json!([])),
    )
    .await;
    assert!(shown.contains("기록 채널"), "{shown}");
    assert!(shown.contains("언어: 한국어"), "{shown}");
    let notify = json!({"name": "notify_channel", "type": 7, "value": CHANNEL.to_string()});
    let second = run(&d, "9103", &boss, settings("set", json!([notify]))).await;
    assert!(second.starts_with("Saved as revision 2."), "{second}");
    let history = run(&d, "9104", &boss, settings("history", json!([]))).await;
    assert!(history.contains("**#2**"), "{history}");
    assert!(history.contains("<@7001> · slash_command"), "{history}");
    let revision = json!({"name": "revision", "type": 4, "value": 1});
    let restored = run(&d, "9105", &boss, settings("restore", json!([revision]))).await;
    assert!(
        restored.starts_with("Revision 1 restored as revision 3."),
        "{restored}"
    );
    let (_, current) = d
        .get(&format!("/api/v1/guilds/{SERVER}/settings"), &token)
        .await;
    assert_eq!(
        current["settings"]["notify_channel"],
        Value::Null,
        "{current}"
    );

    // A channel of another server is refused with the dashboard's code; nothing is saved.
    let elsewhere = json!({"name": "notify_channel", "type": 7, "value": "999000111"});
    let refused = run(&d, "9106", &boss, settings("set", json!([elsewhere]))).await;
    assert!(refused.ends_with("(code 4000021)"), "{refused}");
    // A member without Manage Server nor a manager role: as for a server not theirs.
    let stranger = member(7004, vec![]);
    let refused = run(&d, "9107", &stranger, settings("show", json!([]))).await;
    assert!(refused.ends_with("(code 4040009)"), "{refused}");
    // A read-only manager role reads, and may not write (in Korean for a Korean server).
    let roles = json!({"manager_roles": [{"role_id": MOD_ROLE.to_string(), "access": "read"}]});
    let (status, body) = d.save(&token, 3, roles).await;
    assert_eq!(status, 200, "{body}");
    let reader = member(7005, vec![MOD_ROLE]);
    let shown = run(&d, "9108", &reader, settings("show", json!([]))).await;
    assert!(shown.contains(&format!("<@&{MOD_ROLE}>")), "{shown}");
    let korean_reader = Caller {
        locale: "ko",
        ..member(7005, vec![MOD_ROLE])
    };
    let refused = run(&d, "9109", &korean_reader, settings("set", json!([korean]))).await;
    assert!(refused.ends_with("(코드 4030007)"), "{refused}");
    let (_, current) = d
        .get(&format!("/api/v1/guilds/{SERVER}/settings"), &token)
        .await;
    assert_eq!(
        current["revision"], 4,
        "nothing saved by the refusals: {current}"
    );
}

async fn the_audit_pager_turns_after_herald_restarted(backend: Backend) {
    let d = dash(backend).await;
    let boss = manager(7001, "en-US");
    // Ten saves: more than a page.
    for n in 0..10 {
        let language = json!({"name": "language", "type": 4, "value": n % 2});
        let id = format!("92{n:02}");
        let saved = run(&d, &id, &boss, settings("set", json!([language]))).await;
        assert!(saved.starts_with("Saved"), "{saved}");
    }
    d.discord.command_in(
        "9301",
        SERVER,
        &boss,
        json!({"name": "audit", "options": []}),
    );
    let first = d.discord.answer_to("9301").await;
    let content = first["data"]["content"].as_str().unwrap();
    assert_eq!(content.matches("Settings changed").count(), 8, "{content}");
    let button = &first["data"]["components"][0]["components"][0];
    assert_eq!(button["label"], "Older", "{first}");
    let custom_id = button["custom_id"].as_str().unwrap().to_owned();
    assert!(
        custom_id.starts_with(&format!("audit:{SERVER}:")),
        "{custom_id}"
    );

    // The page's state is in the button: it turns on a Herald that never saw it.
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
    d.discord.press_in("9302", SERVER, &boss, &custom_id);
    let turned = d.discord.answer_to("9302").await;
    assert_eq!(turned["type"], 7, "the same message, updated: {turned}");
    let older = turned["data"]["content"].as_str().unwrap();
    // The bot's arrival and the two oldest saves.
    assert_eq!(older.matches("Settings changed").count(), 2, "{older}");
    assert!(older.contains("Herald joined the server"), "{older}");
    assert_eq!(
        turned["data"]["components"],
        json!([]),
        "the last page: {turned}"
    );
    // Someone else's press is checked anew: no access, no page.
    d.discord
        .press_in("9303", SERVER, &member(7004, vec![]), &custom_id);
    let refused = d.discord.answer_to("9303").await;
    assert_eq!(refused["type"], 4, "{refused}");
    let text = refused["data"]["content"].as_str().unwrap();
    assert!(text.ends_with("(code 4040009)"), "{text}");
}

async fn help_lists_what_the_caller_may_run(backend: Backend) {
    let d = dash(backend).await;
    let help =
        |sub: &str| json!({"name": "herald", "options": [{"name": sub, "type": 1, "options": []}]});
    let plain = run(&d, "9401", &member(7004, vec![]), help("help")).await;
    assert!(plain.contains("`/herald status`"), "{plain}");
    assert!(!plain.contains("`/settings"), "{plain}");
    let boss = run(&d, "9402", &manager(7001, "ko"), help("help")).await;
    assert!(
        boss.contains("`/settings set`: 이 서버의 설정을 바꿉니다"),
        "{boss}"
    );
    let status = run(&d, "9403", &manager(7001, "en-US"), help("status")).await;
    assert!(status.contains("Bot: **ready** · in 1 servers"), "{status}");
}

db_tests!(
    settings_from_discord_are_revised_audited_and_checked_like_the_dashboards,
    the_audit_pager_turns_after_herald_restarted,
    help_lists_what_the_caller_may_run,
);

/// Every command, subcommand, option and choice has a Korean name and both descriptions, and
/// the catalogue's English names are the commands' own.
#[test]
fn every_command_is_named_and_described_in_both_languages() {
    use herald::i18n::{self, Locale};
    fn walk(command: &herald::commands::Command, path: &str) {
        let en_name = i18n::text(Locale::En, &format!("cmd.{path}.name"));
        assert_eq!(en_name, command.name, "{path}");
        let description = command.description.as_deref().unwrap_or_default();
        assert!(!description.is_empty(), "{path} is described");
        // Discord refuses to register a command past its limits: names of 1 to 32 lower-case
        // characters, descriptions of 1 to 100, in every language.
        let fits = |name: &str, text: &str| {
            let n = name.chars().count();
            (1..=32).contains(&n)
                && name
                    .chars()
                    .all(|c| !c.is_uppercase() && !c.is_whitespace())
                && text.chars().count() <= 100
        };
        assert!(fits(&command.name, description), "{path}");
        let names = command
            .name_localizations
            .iter()
            .zip(command.description_localizations.iter());
        for ((_, name), (_, text)) in names {
            assert!(fits(name, text), "{path}: {name} / {text}");
        }
        for p in &command.parameters {
            let text = p.description.as_deref().unwrap_or_default();
            assert!(fits(&p.name, text), "{path} {}", p.name);
            let names = p
                .name_localizations
                .iter()
                .zip(p.description_localizations.iter());
            for ((_, name), (_, text)) in names {
                assert!(fits(name, text), "{path} {}: {name} / {text}", p.name);
            }
        }
        let ko = |list: &[(std::borrow::Cow<str>, std::borrow::Cow<str>)]| {
            list.iter().any(|(l, text)| l == "ko" && !text.is_empty())
        };
        assert!(ko(&command.name_localizations), "{path}: Korean name");
        assert!(
            ko(&command.description_localizations),
            "{path}: Korean description"
        );
        for p in &command.parameters {
            assert!(ko(&p.name_localizations), "{path} {}: Korean name", p.name);
            assert!(ko(&p.description_localizations), "{path} {}", p.name);
            assert!(p.description.as_deref().is_some_and(|d| !d.is_empty()));
            for choice in p.choices.iter() {
                assert!(
                    ko(&choice.localizations),
                    "{path} {}: {}",
                    p.name,
                    choice.name
                );
            }
        }
        for sub in &command.subcommands {
            walk(sub, &format!("{path}.{}", sub.name));
        }
    }
    for command in herald::commands::all() {
        walk(&command, &command.name.clone());
    }
}

/// `/memo <sub>` with options.
fn memo(sub: &str, options: Value) -> Value {
    json!({"name": "memo", "options": [{"name": sub, "type": 1, "options": options}]})
}

fn title(value: &str) -> Value {
    json!({"name": "title", "type": 3, "value": value})
}

/// The value of the modal field `id` as the bot offered it.
fn field(modal: &Value, id: &str) -> Value {
    modal["data"]["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| &row["components"][0])
        .find(|c| c["custom_id"] == id)
        .map(|c| c["value"].clone())
        .unwrap_or(Value::Null)
}

async fn memos_are_written_in_a_form_read_by_members_and_audited(backend: Backend) {
    let d = dash(backend).await;
    let boss = manager(7001, "en-US");
    let reader = member(7004, vec![]);
    d.discord
        .command_in("9501", SERVER, &boss, memo("add", json!([])));
    let form = d.discord.answer_to("9501").await;
    assert_eq!(form["type"], 9, "a modal: {form}");
    assert_eq!(form["data"]["custom_id"], "memo");
    let body = "1. build\n2. ship it";
    let fields = [
        ("title", " Deploy steps "),
        ("tags", "ops, Deploy"),
        ("body", body),
    ];
    d.discord.submit_in("9502", SERVER, &boss, "memo", &fields);
    let saved = d.discord.answer_to("9502").await;
    assert_eq!(
        saved["data"]["content"], "Memo **Deploy steps** saved.",
        "{saved}"
    );
    assert_eq!(saved["data"]["flags"], 64);

    // Members find it as they type, and read it.
    let typing = json!([{"name": "title", "type": 3, "value": "dep", "focused": true}]);
    d.discord
        .autocomplete_in("9503", SERVER, &reader, memo("show", typing));
    let choices = d.discord.answer_to("9503").await;
    assert_eq!(choices["type"], 8, "{choices}");
    assert_eq!(
        choices["data"]["choices"],
        json!([{"name": "Deploy steps", "value": "Deploy steps"}])
    );
    d.discord.command_in(
        "9504",
        SERVER,
        &reader,
        memo("show", json!([title("Deploy steps")])),
    );
    let shown = d.discord.answer_to("9504").await;
    let card = &shown["data"]["embeds"][0];
    assert_eq!(card["title"], "Deploy steps", "{shown}");
    assert_eq!(card["description"], body);
    assert_eq!(card["footer"]["text"], "Last changed · #ops #deploy");
    // ...but may not write: no form opens, and a forged form is refused.
    let refused = run(&d, "9505", &reader, memo("add", json!([]))).await;
    assert!(refused.ends_with("(code 4040009)"), "{refused}");
    let forged = [("title", "Deploy steps"), ("tags", ""), ("body", "gone")];
    d.discord
        .submit_in("9506", SERVER, &reader, "memo:edit:1", &forged);
    let refused = d.discord.answer_to("9506").await;
    let text = refused["data"]["content"].as_str().unwrap();
    assert!(text.ends_with("(code 4040009)"), "{text}");
    // A second memo with the same title is refused; one with a tag of the wrong shape too.
    d.discord.submit_in("9507", SERVER, &boss, "memo", &fields);
    let taken = d.discord.answer_to("9507").await;
    let text = taken["data"]["content"].as_str().unwrap();
    assert!(text.ends_with("(code 4090004)"), "{text}");
    let bad = [("title", "Other"), ("tags", "no spaces!"), ("body", "x")];
    d.discord.submit_in("9508", SERVER, &boss, "memo", &bad);
    let text = d.discord.answer_to("9508").await["data"]["content"].clone();
    assert!(text.as_str().unwrap().ends_with("(code 4000021)"), "{text}");

    // Editing opens the form filled in; the change is audited with its before and after.
    d.discord.command_in(
        "9509",
        SERVER,
        &boss,
        memo("edit", json!([title("Deploy steps")])),
    );
    let form = d.discord.answer_to("9509").await;
    assert_eq!(field(&form, "body"), body, "{form}");
    assert_eq!(field(&form, "tags"), "ops, deploy");
    let custom_id = form["data"]["custom_id"].as_str().unwrap().to_owned();
    assert!(custom_id.starts_with("memo:edit:"), "{custom_id}");
    let edited = [
        ("title", "Deploy steps"),
        ("tags", "ops"),
        ("body", "1. build\n2. test"),
    ];
    d.discord
        .submit_in("9510", SERVER, &boss, &custom_id, &edited);
    let updated = d.discord.answer_to("9510").await;
    assert_eq!(updated["data"]["content"], "Memo **Deploy steps** updated.");
    let token = d.sign_in(7001).await;
    d.oauth
        .set_user_guilds("7001", &[(SERVER, "Team", true, 0)]);
    let (_, audit) = d
        .get(
            &format!("/api/v1/guilds/{SERVER}/audit?action=memo."),
            &token,
        )
        .await;
    let items = audit["items"].as_array().unwrap();
    let actions: Vec<&str> = items
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["memo.updated", "memo.created"], "{audit}");
    assert_eq!(items[0]["source"], "slash_command");
    let changes = &items[0]["detail"]["changes"];
    assert_eq!(changes[0]["field"], "body", "{changes}");
    assert_eq!(changes[0]["after"], "1. build\n2. test");
    assert_eq!(changes[1]["before"], "ops, deploy");

    let found = run(
        &d,
        "9511",
        &reader,
        memo(
            "search",
            json!([{"name": "query", "type": 3, "value": "TEST"}]),
        ),
    )
    .await;
    assert!(
        found.contains("**Deploy steps**: 1. build 2. test"),
        "{found}"
    );
    let listed = run(&d, "9512", &reader, memo("list", json!([]))).await;
    assert!(listed.contains("• **Deploy steps** #ops"), "{listed}");
    let gone = run(
        &d,
        "9513",
        &boss,
        memo("delete", json!([title("Deploy steps")])),
    )
    .await;
    assert_eq!(gone, "Memo **Deploy steps** deleted.");
    let korean = Caller {
        locale: "ko",
        ..member(7004, vec![])
    };
    let missing = run(
        &d,
        "9514",
        &korean,
        memo("show", json!([title("Deploy steps")])),
    )
    .await;
    assert_eq!(
        missing,
        "이 서버에 그 제목의 메모가 없습니다. (코드 4040011)"
    );
}
db_tests!(memos_are_written_in_a_form_read_by_members_and_audited);
