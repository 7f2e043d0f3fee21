//! The dashboard's JSON API against the fake Discord: the servers a user manages (from their
//! own Discord token, cached for a bounded time), settings with revisions, diff, restore and
//! stale forms, manager roles with read-only and expiring access, the audit log and its
//! export, and removing the bot after a fresh check with Discord.

use reqwest::Method;
use serde_json::{Value, json};

use crate::db_tests;
use crate::fake_discord::FakeDiscord;
use crate::fake_oauth::{FakeOAuth, Shape};
use crate::helpers::*;
use crate::keys::PASSWORD;

pub const SERVER: u64 = 810_000_000_000_000_001;
pub const OTHER_SERVER: u64 = 810_000_000_000_000_002;
const THIRD_SERVER: u64 = 810_000_000_000_000_004;
pub const CHANNEL: u64 = 810_000_000_000_000_101;
pub const LOG_CHANNEL: u64 = 810_000_000_000_000_102;
/// A channel whose overwrites keep the bot from posting (and let one role post).
const QUIET_CHANNEL: u64 = 810_000_000_000_000_103;
pub const MOD_ROLE: u64 = 810_000_000_000_000_201;
const HELPER_ROLE: u64 = 810_000_000_000_000_202;
pub const ADMIN_ROLE: u64 = 810_000_000_000_000_203;
/// The bot's role: View Channels and Send Messages, not Embed Links.
pub const BOT_ROLE: u64 = 810_000_000_000_000_204;
pub const MANAGE_GUILD: u64 = 0x20;
const ADMINISTRATOR: u64 = 0x8;

pub struct Dash {
    pub app: TestApp,
    pub discord: FakeDiscord,
    pub oauth: FakeOAuth,
}

/// Herald with the bot in `SERVER` (two channels, two roles), Discord sign-in on, and the
/// user cache shortened to a second so that losing a right shows within the test.
pub async fn dash(backend: Backend) -> Dash {
    let (discord, oauth) = FakeDiscord::start_with_oauth().await;
    discord.add_server(
        SERVER,
        1,
        &[CHANNEL, LOG_CHANNEL, QUIET_CHANNEL],
        &[
            (MOD_ROLE, 0),
            (HELPER_ROLE, 0),
            (ADMIN_ROLE, MANAGE_GUILD),
            (BOT_ROLE, 0x400 | 0x800),
        ],
    );
    discord.set_member(
        SERVER,
        crate::fake_discord::BOT_ID.parse().unwrap(),
        &[BOT_ROLE],
    );
    // @everyone may not send there and the bot's role may not even see it; a role the bot
    // lacks may send (which must not count for the bot).
    discord.set_overwrites(
        SERVER,
        QUIET_CHANNEL,
        json!([
            {"id": SERVER.to_string(), "type": 0, "allow": "0", "deny": "2048"},
            {"id": BOT_ROLE.to_string(), "type": 0, "allow": "0", "deny": "1024"},
            {"id": MOD_ROLE.to_string(), "type": 0, "allow": "3072", "deny": "0"},
        ]),
    );
    // User 7001 manages the server on Discord's side too: their notifications may post there.
    discord.set_member(SERVER, 7001, &[ADMIN_ROLE]);
    let env = [
        ("DISCORD_CLIENT_ID", FakeOAuth::CLIENT_ID),
        ("DISCORD_CLIENT_SECRET", FakeOAuth::CLIENT_SECRET),
        ("DISCORD_USER_CACHE_SECS", "1"),
        ("DISCORD_CDN_BASE", "http://cdn.test:8080"),
        ("NOTIFY_POLL_MS", "100"),
        ("NOTIFY_BACKOFF_BASE_SECS", "1"),
        ("NOTIFY_BACKOFF_MAX_SECS", "1"),
    ];
    let app = spawn_app_with(backend, Some(discord.clone()), &env).await;
    app.wait_for_bot("ready").await;
    let db = app.state.db().clone();
    eventually("the bot's server recorded", || async {
        (herald::guilds::active_count(&db).await.unwrap() == 1).then_some(())
    })
    .await;
    Dash {
        app,
        discord,
        oauth,
    }
}

impl Dash {
    /// The Discord user the next sign-in with Discord consents as.
    pub fn next_discord_user(&self, id: u64, locale: &str) {
        let mut profile = Shape::Discord.default_profile();
        profile["id"] = json!(id.to_string());
        profile["username"] = json!(format!("user{id}"));
        profile["email"] = json!(format!("user{id}@example.com"));
        profile["locale"] = json!(locale);
        self.oauth.set_profile(profile);
    }

    /// Signs Discord user `id` in through the real sign-in flow; answers a bearer token.
    pub async fn sign_in(&self, id: u64) -> String {
        self.browser_of(id, "en-US").await.1
    }

    /// The same in a browser whose Discord speaks `locale`: the browser and a bearer token.
    async fn browser_of(&self, id: u64, locale: &str) -> (Browser, String) {
        self.next_discord_user(id, locale);
        let browser = self.app.browser();
        let start = browser.get("/auth/discord/login?next=/").await;
        assert_eq!(start.status, 303, "{}", start.body);
        let consent = browser.get(start.location.as_deref().unwrap()).await;
        let done = browser.get(consent.location.as_deref().unwrap()).await;
        let cookie = done
            .set_cookies
            .iter()
            .find_map(|c| c.strip_prefix("herald_access="))
            .unwrap_or_else(|| panic!("no access cookie: {:?}", done.set_cookies));
        let token = cookie.split(';').next().unwrap().to_owned();
        (browser, token)
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        token: &str,
    ) -> (u16, Value) {
        self.app
            .send_json(method, path, body.as_ref(), Some(token))
            .await
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.call(Method::GET, path, None, token).await
    }

    pub async fn save(&self, token: &str, base: i64, settings: Value) -> (u16, Value) {
        let path = format!("/api/v1/guilds/{SERVER}/settings");
        let body = json!({"base_revision": base, "settings": settings});
        self.call(Method::PUT, &path, Some(body), token).await
    }
}

fn ids(listed: &Value) -> Vec<String> {
    listed
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn the_list_shows_managed_servers_with_the_bot_first_from_a_bounded_cache(backend: Backend) {
    let d = dash(backend).await;
    let token = d.sign_in(7001).await;
    d.oauth.set_user_guilds(
        "7001",
        &[
            (OTHER_SERVER, "Another", false, ADMINISTRATOR),
            (810_000_000_000_000_003, "Just a member", false, 0x400),
            (SERVER, "Team", false, MANAGE_GUILD),
            (THIRD_SERVER, "Odd Icon Club", true, 0),
        ],
    );
    let hash = "a_0123456789abcdef0123456789abcdef";
    d.oauth.set_user_guild_icons(
        "7001",
        &[(OTHER_SERVER, hash), (THIRD_SERVER, "../../x\"><script>")],
    );
    let (status, listed) = d.get("/api/v1/guilds", &token).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(
        ids(&listed),
        [
            SERVER.to_string(),
            OTHER_SERVER.to_string(),
            THIRD_SERVER.to_string()
        ]
    );
    assert_eq!(listed[0]["bot_present"], true);
    assert_eq!(listed[0]["member_count"], 3);
    assert_eq!(listed[0]["access"]["level"], "read_write");
    assert_eq!(listed[1]["bot_present"], false);
    // An icon from Discord's CDN; no icon, or one of another shape, shows initials.
    let icon = format!("http://cdn.test:8080/icons/{OTHER_SERVER}/{hash}.png");
    assert_eq!(listed[1]["icon_url"], icon.as_str());
    assert_eq!(listed[0]["icon_url"], Value::Null);
    assert_eq!(listed[2]["icon_url"], Value::Null);
    let (browser, _) = d.browser_of(7001, "en-US").await;
    let page = browser.get("/dashboard").await;
    assert!(
        page.body
            .contains(&format!("<img class=\"icon\" src=\"{}\"", icon)),
        "{}",
        page.body
    );
    assert!(page.body.contains(">OIC</span>"), "{}", page.body);
    assert!(!page.body.contains("<script>"), "{}", page.body);
    // Within the cache bound Discord is not asked again; a refresh asks it.
    let asked = d.oauth.guild_list_requests();
    d.get("/api/v1/guilds", &token).await;
    assert_eq!(d.oauth.guild_list_requests(), asked);
    d.get("/api/v1/guilds?refresh=true", &token).await;
    assert_eq!(d.oauth.guild_list_requests(), asked + 1);

    // A user without Discord linked is told to link it.
    let password_user = d.app.register("plain@example.com", PASSWORD).await;
    let (status, error) = d.get("/api/v1/guilds", &password_user.access_token).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (404, Some("4040007")),
        "{error}"
    );
}

async fn settings_are_revised_diffed_restored_and_a_stale_form_is_refused(backend: Backend) {
    let d = dash(backend).await;
    let token = d.sign_in(7001).await;
    d.oauth
        .set_user_guilds("7001", &[(SERVER, "Team", true, 0)]);
    let path = format!("/api/v1/guilds/{SERVER}/settings");
    let (status, start) = d.get(&path, &token).await;
    assert_eq!(
        (status, start["revision"].as_i64()),
        (200, Some(0)),
        "{start}"
    );

    let first = json!({"notify_channel": CHANNEL.to_string(), "language": "ko"});
    let (status, saved) = d.save(&token, 0, first.clone()).await;
    assert_eq!(
        (status, saved["revision"].as_i64()),
        (200, Some(1)),
        "{saved}"
    );
    // A form edited from revision 0 is stale now: refused, and nothing is written.
    let (status, error) = d.save(&token, 0, json!({"language": "en"})).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (409, Some("4090003")),
        "{error}"
    );
    let second = json!({"log_channel": LOG_CHANNEL.to_string(), "language": "ko"});
    let (status, saved) = d.save(&token, 1, second).await;
    assert_eq!(
        (status, saved["revision"].as_i64()),
        (200, Some(2)),
        "{saved}"
    );

    let (_, revisions) = d.get(&format!("{path}/revisions"), &token).await;
    let revisions = revisions.as_array().unwrap();
    assert_eq!(revisions.len(), 2, "{revisions:?}");
    assert_eq!(revisions[0]["revision"], 2);
    assert_eq!(revisions[0]["author_discord_id"], "7001");
    assert_eq!(revisions[0]["source"], "api");

    let (status, diff) = d.get(&format!("{path}/diff?from=1&to=2"), &token).await;
    assert_eq!(status, 200, "{diff}");
    let fields: Vec<&str> = diff
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["log_channel", "notify_channel"], "{diff}");
    assert_eq!(diff[1]["before"], CHANNEL.to_string());
    assert_eq!(diff[1]["after"], Value::Null);

    let restore = format!("{path}/revisions/1/restore");
    let (status, error) = d
        .call(
            Method::POST,
            &restore,
            Some(json!({"base_revision": 1})),
            &token,
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (409, Some("4090003")),
        "{error}"
    );
    let (status, restored) = d
        .call(
            Method::POST,
            &restore,
            Some(json!({"base_revision": 2})),
            &token,
        )
        .await;
    assert_eq!(
        (status, restored["revision"].as_i64()),
        (200, Some(3)),
        "{restored}"
    );
    assert_eq!(restored["settings"]["notify_channel"], CHANNEL.to_string());
    assert_eq!(restored["settings"]["log_channel"], Value::Null);
    let (_, now) = d.get(&path, &token).await;
    assert_eq!(now["settings"], restored["settings"]);
    let missing = format!("{path}/revisions/9/restore");
    let (status, error) = d
        .call(
            Method::POST,
            &missing,
            Some(json!({"base_revision": 3})),
            &token,
        )
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (404, Some("4040010")),
        "{error}"
    );

    // Every save is in the audit log with the before and after of each field.
    let audit = format!("/api/v1/guilds/{SERVER}/audit");
    let (_, log) = d.get(&audit, &token).await;
    let actions: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "settings.restored",
            "settings.updated",
            "settings.updated",
            "bot.added"
        ]
    );
    let restored_entry = &log["items"][0];
    assert_eq!(restored_entry["detail"]["restored_from"], 1);
    assert_eq!(restored_entry["actor_discord_id"], "7001");
    assert_eq!(restored_entry["source"], "api");
    let changes = restored_entry["detail"]["changes"].as_array().unwrap();
    assert!(
        changes.iter().any(|c| c["field"] == "log_channel"
            && c["before"] == json!(LOG_CHANNEL.to_string())
            && c["after"] == Value::Null),
        "{restored_entry}"
    );
    let (_, only) = d
        .get(&format!("{audit}?action=settings.restored"), &token)
        .await;
    assert_eq!(only["items"].as_array().unwrap().len(), 1, "{only}");
    let (_, prefix) = d.get(&format!("{audit}?action=settings."), &token).await;
    assert_eq!(prefix["items"].as_array().unwrap().len(), 3, "{prefix}");
    let (_, paged) = d.get(&format!("{audit}?limit=2"), &token).await;
    let next = paged["next_before"].as_i64().unwrap();
    let (_, rest) = d
        .get(&format!("{audit}?limit=2&before={next}"), &token)
        .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 2, "{rest}");

    let csv = d
        .app
        .client
        .get(d.app.url(&format!("{audit}?format=csv")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(lines[0].starts_with("id,at,actor_user_id,actor_discord_id,source,action,detail"));
    assert!(lines[1].contains(",api,settings.restored,\"{"), "{text}");
}

async fn bad_settings_get_clear_errors_and_change_nothing(backend: Backend) {
    let d = dash(backend).await;
    let token = d.sign_in(7001).await;
    d.oauth
        .set_user_guilds("7001", &[(SERVER, "Team", false, ADMINISTRATOR)]);
    let now = herald::db::now_unix();
    let bad = [
        json!({"notify_channel": "999"}),
        json!({"log_channel": "not a number"}),
        json!({"language": "fr"}),
        json!({"manager_roles": [{"role_id": SERVER.to_string(), "access": "read"}]}),
        json!({"manager_roles": [{"role_id": MOD_ROLE.to_string(), "access": "read", "expires_at": now - 1}]}),
        json!({"manager_roles": [{"role_id": MOD_ROLE.to_string(), "access": "read"},
            {"role_id": MOD_ROLE.to_string(), "access": "read_write"}]}),
        json!({"unknown": 1}),
    ];
    for settings in bad {
        let (status, error) = d.save(&token, 0, settings.clone()).await;
        assert_eq!(status, 400, "{settings}: {error}");
        let code = error["code"].as_str().unwrap();
        assert!(
            code == "4000021" || code == "4000017",
            "{settings}: {error}"
        );
    }
    let (_, current) = d
        .get(&format!("/api/v1/guilds/{SERVER}/settings"), &token)
        .await;
    assert_eq!(current["revision"], 0, "{current}");
    let (_, log) = d
        .get(&format!("/api/v1/guilds/{SERVER}/audit"), &token)
        .await;
    assert_eq!(
        log["items"].as_array().unwrap().len(),
        1,
        "only the bot's arrival: {log}"
    );
}

async fn every_call_checks_access_to_the_server(backend: Backend) {
    let d = dash(backend).await;
    let owner = d.sign_in(7001).await;
    d.oauth
        .set_user_guilds("7001", &[(SERVER, "Team", false, MANAGE_GUILD)]);
    let stranger = d.sign_in(7002).await;
    d.oauth
        .set_user_guilds("7002", &[(OTHER_SERVER, "Theirs", true, 0)]);
    let calls = |id: String| {
        [
            (Method::GET, format!("/api/v1/guilds/{id}"), None),
            (Method::GET, format!("/api/v1/guilds/{id}/settings"), None),
            (
                Method::PUT,
                format!("/api/v1/guilds/{id}/settings"),
                Some(json!({"base_revision": 0, "settings": {"language": "en"}})),
            ),
            (
                Method::GET,
                format!("/api/v1/guilds/{id}/settings/revisions"),
                None,
            ),
            (
                Method::GET,
                format!("/api/v1/guilds/{id}/settings/diff?from=0&to=0"),
                None,
            ),
            (
                Method::POST,
                format!("/api/v1/guilds/{id}/settings/revisions/1/restore"),
                Some(json!({"base_revision": 0})),
            ),
            (Method::GET, format!("/api/v1/guilds/{id}/audit"), None),
            (Method::DELETE, format!("/api/v1/guilds/{id}/bot"), None),
        ]
    };
    // Another user's server, a server that does not exist, and an id that is not one.
    for id in [SERVER.to_string(), "123".into(), "abc".into()] {
        for (method, path, body) in calls(id) {
            let (status, error) = d.call(method.clone(), &path, body, &stranger).await;
            assert_eq!(
                (status, error["code"].as_str()),
                (404, Some("4040009")),
                "{method} {path}: {error}"
            );
        }
    }
    // The owner loses MANAGE_GUILD on Discord: refused once the cache bound has passed.
    let (status, _) = d.get(&format!("/api/v1/guilds/{SERVER}"), &owner).await;
    assert_eq!(status, 200);
    d.oauth
        .set_user_guilds("7001", &[(SERVER, "Team", false, 0x400)]);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, error) = d
        .get(&format!("/api/v1/guilds/{SERVER}/settings"), &owner)
        .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (404, Some("4040009")),
        "{error}"
    );
    assert_eq!(
        herald::guilds::active_count(d.app.state.db())
            .await
            .unwrap(),
        1
    );
}

async fn manager_roles_give_read_or_write_until_they_expire(backend: Backend) {
    let d = dash(backend).await;
    let owner = d.sign_in(7001).await;
    d.oauth
        .set_user_guilds("7001", &[(SERVER, "Team", true, 0)]);
    let reader = d.sign_in(7003).await;
    d.oauth
        .set_user_guilds("7003", &[(SERVER, "Team", false, 0x400)]);
    d.discord.set_member(SERVER, 7003, &[MOD_ROLE]);
    let helper = d.sign_in(7004).await;
    d.oauth
        .set_user_guilds("7004", &[(SERVER, "Team", false, 0x400)]);
    d.discord.set_member(SERVER, 7004, &[HELPER_ROLE]);
    // Before any manager role, neither sees the server.
    let (status, listed) = d.get("/api/v1/guilds", &reader).await;
    assert_eq!((status, ids(&listed).len()), (200, 0), "{listed}");

    // Far enough ahead that a loaded machine reaches the checks below before it.
    let expires = herald::db::now_unix() + 8;
    let roles = json!({"manager_roles": [
        {"role_id": MOD_ROLE.to_string(), "access": "read"},
        {"role_id": HELPER_ROLE.to_string(), "access": "read_write", "expires_at": expires}]});
    let (status, saved) = d.save(&owner, 0, roles).await;
    assert_eq!(status, 200, "{saved}");

    let (_, listed) = d.get("/api/v1/guilds", &reader).await;
    assert_eq!(ids(&listed), [SERVER.to_string()]);
    assert_eq!(listed[0]["access"]["level"], "read");
    assert_eq!(listed[0]["access"]["via"]["role_id"], MOD_ROLE.to_string());
    let (status, _) = d
        .get(&format!("/api/v1/guilds/{SERVER}/audit"), &reader)
        .await;
    assert_eq!(status, 200);
    // Read-only: no save, no restore, no removing the bot.
    let (status, error) = d.save(&reader, 1, json!({"language": "en"})).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (403, Some("4030007")),
        "{error}"
    );
    let restore = format!("/api/v1/guilds/{SERVER}/settings/revisions/1/restore");
    let (status, _) = d
        .call(
            Method::POST,
            &restore,
            Some(json!({"base_revision": 1})),
            &reader,
        )
        .await;
    assert_eq!(status, 403);
    let bot = format!("/api/v1/guilds/{SERVER}/bot");
    let (status, error) = d.call(Method::DELETE, &bot, None, &reader).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (403, Some("4030007")),
        "{error}"
    );

    // Read-write until the role's expiry, then nothing.
    let (status, saved) = d
        .save(
            &helper,
            1,
            json!({"language": "ko",
        "manager_roles": saved["settings"]["manager_roles"]}),
        )
        .await;
    assert_eq!(
        (status, saved["revision"].as_i64()),
        (200, Some(2)),
        "{saved}"
    );
    let (status, error) = d.call(Method::DELETE, &bot, None, &helper).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (403, Some("4030007")),
        "{error}"
    );
    // A role cannot extend itself or hand out rights: only Discord's managers change roles.
    let forever = json!({"language": "ko", "manager_roles": [
        {"role_id": MOD_ROLE.to_string(), "access": "read"},
        {"role_id": HELPER_ROLE.to_string(), "access": "read_write"}]});
    let (status, error) = d.save(&helper, 2, forever).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (403, Some("4030007")),
        "{error}"
    );
    let wait = (expires - herald::db::now_unix() + 1).max(0) as u64;
    tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
    let (status, error) = d.save(&helper, 2, json!({"language": "en"})).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (404, Some("4040009")),
        "{error}"
    );
    let (_, listed) = d.get("/api/v1/guilds", &helper).await;
    assert_eq!(ids(&listed).len(), 0, "{listed}");
    // The expired role, kept as it is, does not block the owner saving another field.
    let (_, now) = d
        .get(&format!("/api/v1/guilds/{SERVER}/settings"), &owner)
        .await;
    let mut next = now["settings"].clone();
    next["language"] = json!("en");
    let (status, saved) = d.save(&owner, 2, next).await;
    assert_eq!(
        (status, saved["revision"].as_i64()),
        (200, Some(3)),
        "{saved}"
    );
}

async fn removing_the_bot_asks_discord_afresh_and_is_audited(backend: Backend) {
    let d = dash(backend).await;
    let owner = d.sign_in(7001).await;
    d.oauth
        .set_user_guilds("7001", &[(SERVER, "Team", false, MANAGE_GUILD)]);
    let (status, _) = d.get("/api/v1/guilds", &owner).await;
    assert_eq!(status, 200);
    // Discord takes the right away; the cached list still has it, the removal does not.
    d.oauth
        .set_user_guilds("7001", &[(SERVER, "Team", false, 0)]);
    let bot = format!("/api/v1/guilds/{SERVER}/bot");
    let (status, error) = d.call(Method::DELETE, &bot, None, &owner).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (404, Some("4040009")),
        "{error}"
    );
    assert!(!d.discord.requests().iter().any(|r| r.method == "DELETE"));

    d.oauth
        .set_user_guilds("7001", &[(SERVER, "Team", false, MANAGE_GUILD)]);
    let (status, body) = d.call(Method::DELETE, &bot, None, &owner).await;
    assert_eq!(status, 204, "{body}");
    d.discord
        .wait_for_request("the bot leaves", |r| {
            r.method == "DELETE" && r.path == format!("/api/v10/users/@me/guilds/{SERVER}")
        })
        .await;
    assert_eq!(
        herald::guilds::active_count(d.app.state.db())
            .await
            .unwrap(),
        0
    );
    let (_, listed) = d.get("/api/v1/guilds?refresh=true", &owner).await;
    assert_eq!(listed[0]["bot_present"], false, "{listed}");
    let (_, log) = d
        .get(&format!("/api/v1/guilds/{SERVER}/audit"), &owner)
        .await;
    let first = &log["items"][0];
    assert_eq!(first["action"], "bot.removed", "{log}");
    assert_eq!(first["actor_discord_id"], "7001");
    assert!(first["actor_user_id"].is_i64(), "{first}");
    let removals = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "bot.removed")
        .count();
    assert_eq!(
        removals, 1,
        "the gateway's GUILD_DELETE adds no second entry: {log}"
    );
}

/// The value of the `<option>` whose text is `label` in a page.
fn option_value(body: &str, label: &str) -> String {
    let end = body
        .find(&format!(">{label}</option>"))
        .unwrap_or_else(|| panic!("no {label}"));
    let start = body[..end].rfind("value=\"").unwrap() + 7;
    body[start..start + body[start..].find('"').unwrap()].to_owned()
}

async fn the_pages_change_settings_show_history_diff_and_audit_and_refuse_forged_forms(
    backend: Backend,
) {
    let d = dash(backend).await;
    let (browser, token) = d.browser_of(7001, "en-US").await;
    d.oauth
        .set_user_guilds("7001", &[(SERVER, "Team", true, 0)]);
    let list = browser.get("/dashboard").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(
        list.body.contains(&format!("href=\"/dashboard/{SERVER}\"")),
        "{}",
        list.body
    );
    assert!(list.body.contains("Herald is here"), "{}", list.body);

    let page_url = format!("/dashboard/{SERVER}");
    let server_page = browser.get(&page_url).await;
    assert_eq!(server_page.status, 200, "{}", server_page.body);
    for label in [
        "Default notification channel",
        "Bot language",
        "Log channel",
        "Role",
    ] {
        assert!(server_page.body.contains(label), "{label} is labelled");
    }
    // The checklist of what Herald needs: its role lacks Embed Links.
    assert!(
        server_page
            .body
            .contains("class=\"missing\"><span aria-hidden=\"true\">✗</span> Embed Links"),
        "{}",
        server_page.body
    );
    assert!(
        server_page
            .body
            .contains("class=\"granted\"><span aria-hidden=\"true\">✓</span> Send Messages")
    );
    // Where the bot can post, the channels' overwrites counted.
    for (channel, can) in [(CHANNEL, "can post"), (QUIET_CHANNEL, "cannot post")] {
        let shown = format!("#channel-{channel} <span class=\"hint\">({can}");
        assert!(
            server_page.body.contains(&shown),
            "{shown}: {}",
            server_page.body
        );
    }
    let channel = option_value(&server_page.body, &format!("#channel-{CHANNEL}"));
    assert_eq!(channel, CHANNEL.to_string());
    let csrf = server_page.csrf();
    let action = format!("/dashboard/{SERVER}/settings");
    let fields = |base: &'static str, language: &'static str| {
        vec![
            ("base_revision", base),
            ("notify_channel", ""),
            ("language", language),
            ("log_channel", ""),
            ("role_0", ""),
        ]
    };
    // A forged form (no CSRF value, or another one) changes nothing.
    let forged = browser.post_form(&action, &fields("0", "ko")).await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    let mut wrong: Vec<(&str, &str)> = fields("0", "ko");
    wrong.push(("csrf", "forged"));
    assert_eq!(browser.post_form(&action, &wrong).await.status, 403);

    let mut first: Vec<(&str, &str)> = fields("0", "ko");
    first.push(("csrf", &csrf));
    first[1] = ("notify_channel", &channel);
    let saved = browser.post_form(&action, &first).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let after = browser.get(saved.location.as_deref().unwrap()).await;
    assert!(after.body.contains("Settings saved."), "{}", after.body);
    assert!(after.body.contains("revision 1"), "{}", after.body);
    // The same form again, edited from revision 0: refused with a clear message, kept as typed.
    let mut stale: Vec<(&str, &str)> = fields("0", "en");
    stale.push(("csrf", &csrf));
    let refused = browser.post_form(&action, &stale).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(
        refused.body.contains("changed by someone else"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("4090003"), "{}", refused.body);

    let mut second: Vec<(&str, &str)> = fields("1", "en");
    second.push(("csrf", &csrf));
    assert_eq!(browser.post_form(&action, &second).await.status, 303);
    let diff = browser.get(&format!("{page_url}?from=1&to=2")).await;
    assert!(
        diff.body.contains("Changes from revision 1 to 2"),
        "{}",
        diff.body
    );
    assert!(
        diff.body.contains(&format!(
            "<td><del>{CHANNEL}</del></td><td><ins>—</ins></td>"
        )),
        "{}",
        diff.body
    );
    let restore = browser
        .post_form(
            &format!("/dashboard/{SERVER}/revisions/1/restore"),
            &[("csrf", &csrf), ("base_revision", "2")],
        )
        .await;
    assert_eq!(restore.status, 303, "{}", restore.body);
    let restored = browser.get(&page_url).await;
    assert!(restored.body.contains("revision 3"), "{}", restored.body);
    assert!(restored.body.contains("restores 1"), "{}", restored.body);
    assert!(
        restored.body.contains("<code>settings.restored</code>"),
        "{}",
        restored.body
    );
    assert!(restored.body.contains("<td>web</td>"), "{}", restored.body);

    // A notification to the server's channel shows in its deliveries and both charts.
    let (status, sent) = d
        .app
        .send_json(
            Method::POST,
            "/api/v1/notifications",
            Some(
                &json!({"channel": "discord", "to": [CHANNEL.to_string()], "subject": "s",
                "text": "deployed"}),
            ),
            Some(&token),
        )
        .await;
    assert_eq!(status, 202, "{sent}");
    // The chart and the list are read one after the other: wait until both show it sent.
    let delivered = eventually("the delivery shows on the server page", || async {
        let page = browser.get(&page_url).await;
        let both = page.body.contains("<td>sent</td>") && page.body.contains(", sent 1</title>");
        both.then_some(page)
    })
    .await;
    assert!(
        delivered
            .body
            .contains(&format!("<code>discord:{CHANNEL}</code>"))
    );
    assert!(
        delivered.body.contains("<svg class=\"chart\""),
        "{}",
        delivered.body
    );
    assert!(
        delivered.body.contains(", sent 1</title>"),
        "{}",
        delivered.body
    );
    let mine = browser.get("/account/notifications").await;
    assert!(mine.body.contains(", sent 1</title>"), "{}", mine.body);
    // The post is in the server's audit log, recorded with its delivery.
    let id = sent["id"].as_i64().unwrap();
    assert!(
        delivered.body.contains(&format!(
            "<code>notification.sent</code></td>\n      <td><div>notification {id} in channel {CHANNEL}</div>"
        )),
        "{}",
        delivered.body
    );

    let csv = browser.get(&format!("/dashboard/{SERVER}/audit.csv")).await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.body.lines().count(), 6, "{}", csv.body);
    // Another user's browser gets no page, no form and no export of this server.
    let (stranger, _) = d.browser_of(7002, "en-US").await;
    d.oauth.set_user_guilds("7002", &[]);
    assert_eq!(stranger.get(&page_url).await.status, 404);
    assert_eq!(
        stranger
            .get(&format!("/dashboard/{SERVER}/audit.csv"))
            .await
            .status,
        404
    );
    let csrf = stranger.get("/account").await.csrf();
    let mut theirs: Vec<(&str, &str)> = fields("3", "ko");
    theirs.push(("csrf", &csrf));
    assert_eq!(stranger.post_form(&action, &theirs).await.status, 404);
}

async fn the_bot_is_added_through_discord_and_removed_from_the_page_in_korean(backend: Backend) {
    let d = dash(backend).await;
    let (browser, _) = d.browser_of(7001, "ko").await;
    d.oauth.set_user_guilds(
        "7001",
        &[
            (SERVER, "Team", true, 0),
            (OTHER_SERVER, "Another", false, MANAGE_GUILD),
        ],
    );
    let list = browser.get("/dashboard").await;
    assert!(list.body.contains("<html lang=\"ko\">"), "{}", list.body);
    assert!(list.body.contains("Herald 없음"), "{}", list.body);
    let other = browser.get(&format!("/dashboard/{OTHER_SERVER}")).await;
    assert!(
        other.body.contains("이 서버에 Herald 추가"),
        "{}",
        other.body
    );

    let to_discord = browser
        .get(&format!("/dashboard/{OTHER_SERVER}/add-bot"))
        .await;
    assert_eq!(to_discord.status, 303, "{}", to_discord.body);
    let authorize = to_discord.location.unwrap();
    assert!(authorize.starts_with(&format!("{}/oauth2/authorize?", d.discord.base_url())));
    let back = browser.get(&authorize).await;
    assert_eq!(back.status, 302, "{}", back.body);
    let asked = d
        .discord
        .requests()
        .into_iter()
        .find(|r| r.path == "/oauth2/authorize")
        .unwrap()
        .body;
    assert_eq!(asked["scope"], "bot applications.commands");
    assert_eq!(asked["permissions"], "19456");
    assert_eq!(asked["guild_id"], OTHER_SERVER.to_string());
    assert_eq!(asked["disable_guild_select"], "true");
    assert_eq!(asked["client_id"], FakeOAuth::CLIENT_ID);
    let returned = browser.get(back.location.as_deref().unwrap()).await;
    assert_eq!(returned.status, 303, "{}", returned.body);
    let waiting = returned.location.unwrap();
    assert_eq!(waiting, format!("/dashboard/{OTHER_SERVER}?waiting=0"));
    // The page reloads itself until Discord's GUILD_CREATE is recorded.
    let shown = eventually("the page shows the bot", || async {
        let page = browser.get(&waiting).await;
        (!page.body.contains("http-equiv=\"refresh\"")).then_some(page)
    })
    .await;
    assert!(shown.body.contains("Herald 있음"), "{}", shown.body);
    // Someone else's state (or a forged one) leads nowhere.
    let (other_user, _) = d.browser_of(7009, "en-US").await;
    let forged_back = other_user.get(back.location.as_deref().unwrap()).await;
    assert_eq!(forged_back.status, 400, "{}", forged_back.body);

    let page = browser.get(&format!("/dashboard/{SERVER}")).await;
    assert!(
        page.body.contains("이 서버에서 Herald 내보내기"),
        "{}",
        page.body
    );
    let removed = browser
        .post_form(
            &format!("/dashboard/{SERVER}/remove-bot"),
            &[("csrf", &page.csrf())],
        )
        .await;
    assert_eq!(removed.status, 303, "{}", removed.body);
    let after = browser.get(removed.location.as_deref().unwrap()).await;
    assert!(after.body.contains("Herald 없음"), "{}", after.body);
    assert!(
        after.body.contains("<code>bot.removed</code>"),
        "{}",
        after.body
    );
}

async fn a_user_without_discord_is_offered_to_link_it(backend: Backend) {
    let d = dash(backend).await;
    let browser = d.app.browser();
    let signed_out = browser.get("/dashboard").await;
    assert_eq!(signed_out.status, 303);
    assert_eq!(
        signed_out.location.as_deref(),
        Some("/login?next=%2Fdashboard")
    );
    d.app.register("plain@example.com", PASSWORD).await;
    let login = [("email", "plain@example.com"), ("password", PASSWORD)];
    browser.submit("/login", "/login", &login).await;
    let page = browser.get("/dashboard").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("action=\"/auth/discord/link\""),
        "{}",
        page.body
    );
}

/// The states of the deliveries to `channel`, oldest first.
async fn states_to(d: &Dash, channel: u64) -> Vec<String> {
    sqlx::query_scalar("SELECT state FROM deliveries WHERE recipient_label = ? ORDER BY id")
        .bind(format!("discord:{channel}"))
        .fetch_all(d.app.state.db().pool())
        .await
        .unwrap()
}

async fn audit_entries_reach_the_log_channel_through_the_outbox_and_an_outage_loses_none(
    backend: Backend,
) {
    let d = dash(backend).await;
    let token = d.sign_in(7001).await;
    d.oauth
        .set_user_guilds("7001", &[(SERVER, "Team", true, 0)]);
    // Discord fails every post to the log channel for now.
    d.discord.fail_channel(LOG_CHANNEL, 502, 0);
    let settings = json!({"log_channel": LOG_CHANNEL.to_string(), "language": "ko"});
    let (status, saved) = d.save(&token, 0, settings).await;
    assert_eq!(status, 200, "{saved}");
    // Tried, refused by Discord, and kept for a retry (the outcome is recorded just after the
    // attempt, so it is waited for).
    eventually("the first attempt recorded as failed", || async {
        (states_to(&d, LOG_CHANNEL).await == ["failed"]).then_some(())
    })
    .await;
    d.discord.heal_channel(LOG_CHANNEL);
    eventually("the entry posted once Discord is back", || async {
        (states_to(&d, LOG_CHANNEL).await == ["sent"]).then_some(())
    })
    .await;
    let posts: Vec<String> = d
        .discord
        .posted()
        .into_iter()
        .filter(|(c, _)| *c == LOG_CHANNEL)
        .map(|(_, body)| {
            body["embeds"][0]["description"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    let last = posts.last().unwrap();
    assert!(
        last.contains("설정이 바뀌었습니다"),
        "in the server's language: {last}"
    );
    assert!(last.contains("<@7001>"), "{last}");
    assert!(
        last.contains(&format!("`log_channel`: — → {LOG_CHANNEL}")),
        "{last}"
    );
    // The next change is posted too, in the language it sets; the post is Herald's own and
    // never listed as the user's notification.
    let (status, _) = d
        .save(
            &token,
            1,
            json!({"log_channel": LOG_CHANNEL.to_string(), "language": "en"}),
        )
        .await;
    assert_eq!(status, 200);
    eventually("the second entry posted", || async {
        (states_to(&d, LOG_CHANNEL).await == ["sent", "sent"]).then_some(())
    })
    .await;
    let posted = d.discord.posted();
    let (_, second) = posted
        .iter()
        .rev()
        .find(|(c, _)| *c == LOG_CHANNEL)
        .unwrap();
    let text = second["embeds"][0]["description"].as_str().unwrap();
    assert!(text.contains("Settings changed"), "{second}");
    assert_eq!(second["content"], "Herald audit");
    let (_, mine) = d.get("/api/v1/notifications", &token).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 0, "{mine}");
}

/// The server's audit entries of one action, oldest first.
async fn entries_of(d: &Dash, token: &str, action: &str) -> Vec<Value> {
    let path = format!("/api/v1/guilds/{SERVER}/audit?action={action}");
    let (status, body) = d.get(&path, token).await;
    assert_eq!(status, 200, "{body}");
    let mut items = body["items"].as_array().unwrap().clone();
    items.reverse();
    items
}

async fn notifications_posted_in_the_server_are_audited_with_their_sender_and_relayed(
    backend: Backend,
) {
    let d = dash(backend).await;
    let token = d.sign_in(7001).await;
    d.oauth
        .set_user_guilds("7001", &[(SERVER, "Team", true, 0)]);
    let settings = json!({"log_channel": LOG_CHANNEL.to_string()});
    assert_eq!(d.save(&token, 0, settings).await.0, 200);
    let send = |to: Value| {
        let body = json!({"channel": "discord", "to": [to], "text": "deployed"});
        let token = token.clone();
        let app = &d.app;
        async move {
            let (status, sent) = app
                .send_json(
                    Method::POST,
                    "/api/v1/notifications",
                    Some(&body),
                    Some(&token),
                )
                .await;
            assert_eq!(status, 202, "{sent}");
            sent["id"].as_i64().unwrap()
        }
    };
    let to_channel = send(json!(CHANNEL.to_string())).await;
    // A direct message to the sender is no post in the server.
    let to_me = send(json!("me")).await;
    let entries = eventually("the post audited", || async {
        let entries = entries_of(&d, &token, "notification.sent").await;
        (!entries.is_empty()).then_some(entries)
    })
    .await;
    eventually("the direct message sent", || async {
        let (_, n) = d
            .get(&format!("/api/v1/notifications/{to_me}"), &token)
            .await;
        (n["deliveries"][0]["state"] == "sent").then_some(())
    })
    .await;
    // Herald's posts of these entries to the log channel are not audited in turn (an entry
    // of a post would be queued with the post's own record: a third delivery).
    eventually("both entries posted to the log channel", || async {
        (states_to(&d, LOG_CHANNEL).await == ["sent", "sent"]).then_some(())
    })
    .await;
    let entries_now = entries_of(&d, &token, "notification.sent").await;
    assert_eq!(entries_now.len(), 1, "{entries_now:?}");
    let entry = &entries[0];
    assert_eq!(entry["source"], "api");
    assert_eq!(entry["actor_discord_id"], "7001");
    assert!(entry["actor_user_id"].is_i64());
    assert_eq!(entry["detail"]["notification_id"], to_channel);
    assert_eq!(entry["detail"]["channel_id"], CHANNEL.to_string());
    let message = &entry["detail"]["message_id"];
    let posted = d.discord.posted();
    let (_, relayed) = posted
        .iter()
        .rev()
        .find(|(c, _)| *c == LOG_CHANNEL)
        .unwrap();
    let text = relayed["embeds"][0]["description"].as_str().unwrap();
    assert!(text.contains("Notification posted"), "{text}");
    assert!(text.contains(&format!("<#{CHANNEL}>")), "{text}");
    assert!(message.is_string(), "{entry}");
}

db_tests!(
    notifications_posted_in_the_server_are_audited_with_their_sender_and_relayed,
    audit_entries_reach_the_log_channel_through_the_outbox_and_an_outage_loses_none,
    the_pages_change_settings_show_history_diff_and_audit_and_refuse_forged_forms,
    the_bot_is_added_through_discord_and_removed_from_the_page_in_korean,
    a_user_without_discord_is_offered_to_link_it,
    the_list_shows_managed_servers_with_the_bot_first_from_a_bounded_cache,
    settings_are_revised_diffed_restored_and_a_stale_form_is_refused,
    bad_settings_get_clear_errors_and_change_nothing,
    every_call_checks_access_to_the_server,
    manager_roles_give_read_or_write_until_they_expire,
    removing_the_bot_asks_discord_afresh_and_is_audited,
);
