//! A fake Discord on 127.0.0.1: REST (`/api/v10/...`) and the gateway (`/gw`, plain JSON
//! websocket), as described in shared/DISCORD_OFFLINE.md. It records every REST request and
//! every gateway frame the bot sends, and lets a test push events, drop or close the gateway.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use warp::Filter;
use warp::ws::{Message, WebSocket};

use crate::fake_oauth::FakeOAuth;

pub const BOT_ID: &str = "4242";

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub body: Value,
}

enum Control {
    Dispatch(&'static str, Value),
    Close(u16),
    Drop,
}

#[derive(Default)]
struct Inner {
    requests: Mutex<Vec<Recorded>>,
    frames: Mutex<Vec<Value>>,
    connection: Mutex<Option<mpsc::UnboundedSender<Control>>>,
    reject_token: Mutex<bool>,
    stall: Mutex<bool>,
    guilds: Mutex<Vec<Value>>,
    seq: AtomicU64,
    connections: AtomicU64,
    /// (server, user) -> the member's role ids.
    members: Mutex<HashMap<(u64, u64), Vec<u64>>>,
    /// Channel -> (HTTP status, Discord error code) answered to messages posted there.
    failures: Mutex<HashMap<u64, (u16, i64)>>,
    messages: AtomicU64,
}

/// Who runs a command: a member of a server, as an interaction describes them.
pub struct Caller {
    pub id: u64,
    pub roles: Vec<u64>,
    /// What Discord computed for the member in the channel.
    pub permissions: u64,
    pub locale: &'static str,
}

/// The channel a DM to `user` goes through.
pub fn dm_channel(user: u64) -> u64 {
    9_000_000_000 + user
}

#[derive(Clone)]
pub struct FakeDiscord {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
}

impl FakeDiscord {
    pub async fn start() -> Self {
        let inner = Arc::new(Inner::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let routes = gateway(inner.clone(), addr).or(rest(inner.clone(), addr));
        tokio::spawn(warp::serve(routes).incoming(listener).run());
        Self { addr, inner }
    }

    /// The fake Discord with its OAuth side on the same base URL, as the real one has: users
    /// sign in with Discord and Herald lists their servers with their own tokens.
    pub async fn start_with_oauth() -> (Self, FakeOAuth) {
        let inner = Arc::new(Inner::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let oauth = FakeOAuth::discord_at(addr);
        let routes = gateway(inner.clone(), addr)
            .or(invite(inner.clone()))
            .or(oauth.routes())
            .or(rest(inner.clone(), addr));
        tokio::spawn(warp::serve(routes).incoming(listener).run());
        (Self { addr, inner }, oauth)
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// From now on, IDENTIFY is answered with close code 4004 (authentication failed).
    pub fn reject_token(&self, reject: bool) {
        *self.inner.reject_token.lock().unwrap() = reject;
    }

    /// From now on, new gateway connections get no HELLO: Discord is there but not answering.
    pub fn stall_gateway(&self, stall: bool) {
        *self.inner.stall.lock().unwrap() = stall;
    }

    /// Servers announced with GUILD_CREATE right after READY.
    pub fn add_guild(&self, id: u64, name: &str) {
        self.inner.guilds.lock().unwrap().push(guild(id, name));
    }

    /// A server with text channels and roles (`(id, permission bits)`; the @everyone role,
    /// whose id is the server's, has none), announced with GUILD_CREATE after READY.
    pub fn add_server(&self, id: u64, owner: u64, channels: &[u64], roles: &[(u64, u64)]) {
        let mut server = guild(id, "server");
        server["owner_id"] = json!(owner.to_string());
        server["channels"] = channels
            .iter()
            .map(|c| {
                json!({"id": c.to_string(), "type": 0, "guild_id": id.to_string(),
                "name": format!("channel-{c}"), "position": 0, "permission_overwrites": [],
                "nsfw": false})
            })
            .collect();
        server["roles"] = std::iter::once((id, 0))
            .chain(roles.iter().copied())
            .map(|(role, bits)| json!({"id": role.to_string(), "name": format!("role-{role}"),
                "color": 0, "hoist": false,
                "colors": {"primary_color": 0, "secondary_color": null, "tertiary_color": null}, "position": 0, "permissions": bits.to_string(),
                "managed": false, "mentionable": false, "flags": 0}))
            .collect();
        self.inner.guilds.lock().unwrap().push(server);
    }

    /// A channel's permission overwrites (`[{id, type: 0 role | 1 member, allow, deny}]`), as
    /// the next GUILD_CREATE carries them.
    pub fn set_overwrites(&self, server: u64, channel: u64, overwrites: Value) {
        let mut guilds = self.inner.guilds.lock().unwrap();
        let found = guilds
            .iter_mut()
            .filter(|g| id_of(g) == Some(server))
            .flat_map(|g| g["channels"].as_array_mut().unwrap().iter_mut())
            .find(|c| id_of(c) == Some(channel))
            .expect("a channel of the server");
        found["permission_overwrites"] = overwrites;
    }

    /// The servers announced after READY, as GUILD_CREATE carries them.
    pub fn servers(&self) -> Vec<Value> {
        self.inner.guilds.lock().unwrap().clone()
    }

    /// Makes `user` a member of `server` with these roles.
    pub fn set_member(&self, server: u64, user: u64, roles: &[u64]) {
        self.inner
            .members
            .lock()
            .unwrap()
            .insert((server, user), roles.to_vec());
    }

    /// Messages posted to `channel` are answered with this status and Discord error code.
    pub fn fail_channel(&self, channel: u64, status: u16, code: i64) {
        self.inner
            .failures
            .lock()
            .unwrap()
            .insert(channel, (status, code));
    }

    pub fn heal_channel(&self, channel: u64) {
        self.inner.failures.lock().unwrap().remove(&channel);
    }

    /// Messages the bot posted successfully: (channel, body).
    pub fn posted(&self) -> Vec<(u64, Value)> {
        let failures = self.inner.failures.lock().unwrap().clone();
        self.requests()
            .into_iter()
            .filter(|r| r.method == "POST")
            .filter_map(|r| {
                let rest = r.path.strip_prefix("/api/v10/channels/")?;
                let channel: u64 = rest.strip_suffix("/messages")?.parse().ok()?;
                Some((channel, r.body))
            })
            .filter(|(c, _)| !failures.contains_key(c))
            .collect()
    }

    pub fn send_event(&self, event: &'static str, data: Value) {
        self.control(Control::Dispatch(event, data));
    }

    /// Closes the gateway with a close frame carrying `code`.
    pub fn close_gateway(&self, code: u16) {
        self.control(Control::Close(code));
    }

    /// Drops the gateway connection without a close frame, as a network failure would.
    pub fn drop_gateway(&self) {
        self.control(Control::Drop);
    }

    fn control(&self, control: Control) {
        let sender = self.inner.connection.lock().unwrap().clone();
        sender.expect("the bot is connected").send(control).ok();
    }

    /// How many gateway connections the bot has opened.
    pub fn connections(&self) -> u64 {
        self.inner.connections.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.requests.lock().unwrap().clone()
    }

    /// Gateway frames the bot sent, in order.
    pub fn frames(&self) -> Vec<Value> {
        self.inner.frames.lock().unwrap().clone()
    }

    /// Waits for a REST request matching `pred`.
    pub async fn wait_for_request(&self, what: &str, pred: impl Fn(&Recorded) -> bool) -> Recorded {
        crate::helpers::eventually(what, || async { self.requests().into_iter().find(&pred) }).await
    }

    /// Waits until the bot has sent `count` frames with this opcode.
    pub async fn wait_for_op(&self, op: u64, count: usize) {
        crate::helpers::eventually(
            &format!("{count} gateway frame(s) with op {op}"),
            || async {
                let n = self.frames().iter().filter(|f| f["op"] == op).count();
                (n >= count).then_some(())
            },
        )
        .await
    }

    /// A slash-command interaction as Discord sends it to the bot.
    pub fn interaction(&self, id: &str, token: &str, command: &str) {
        self.interaction_in(id, token, command, "en-US");
    }

    /// A slash command in `server` from a member (`data` as Discord sends it: name, options,
    /// resolved), with the roles and the permissions Discord computed for them.
    pub fn command_in(&self, id: &str, server: u64, member: &Caller, data: Value) {
        self.chat_input(id, 2, server, member, data);
    }

    /// A button pressed in `server` by a member: `custom_id` as the bot made it.
    pub fn press_in(&self, id: &str, server: u64, member: &Caller, custom_id: &str) {
        let data = json!({"custom_id": custom_id, "component_type": 2});
        let mut event = self.in_server(id, 3, server, member, data);
        event["message"] = json!({
            "id": "6001", "channel_id": "3001", "author": {"id": BOT_ID, "username": "fakebot",
            "discriminator": "0000", "bot": true}, "content": "", "timestamp":
            "2026-01-01T00:00:00+00:00", "edited_timestamp": null, "tts": false,
            "mention_everyone": false, "mentions": [], "mention_roles": [], "attachments": [],
            "embeds": [], "pinned": false, "type": 0, "flags": 64
        });
        self.send_event("INTERACTION_CREATE", event);
    }

    /// Autocomplete while a member types an option (`data` marks it `"focused": true`).
    pub fn autocomplete_in(&self, id: &str, server: u64, member: &Caller, data: Value) {
        self.chat_input(id, 4, server, member, data);
    }

    /// A chat-input command's interaction of `kind` (2 run, 4 autocomplete).
    fn chat_input(&self, id: &str, kind: u8, server: u64, member: &Caller, mut data: Value) {
        data["id"] = json!("5002");
        data["type"] = json!(1);
        let event = self.in_server(id, kind, server, member, data);
        self.send_event("INTERACTION_CREATE", event);
    }

    /// A modal form sent back: its custom id and each text field's value.
    pub fn submit_in(
        &self,
        id: &str,
        server: u64,
        member: &Caller,
        custom_id: &str,
        fields: &[(&str, &str)],
    ) {
        let rows: Vec<Value> = fields
            .iter()
            .map(|(field, value)| {
                json!({"type": 1, "components": [{"type": 4, "custom_id": field, "value": value}]})
            })
            .collect();
        let data = json!({"custom_id": custom_id, "components": rows});
        self.send_event(
            "INTERACTION_CREATE",
            self.in_server(id, 5, server, member, data),
        );
    }

    fn in_server(&self, id: &str, kind: u8, server: u64, member: &Caller, data: Value) -> Value {
        json!({
            "id": id, "application_id": BOT_ID, "type": kind, "data": data,
            "guild_id": server.to_string(), "channel_id": "3001",
            "member": {
                "user": {"id": member.id.to_string(), "username": format!("user{}", member.id),
                    "discriminator": "0000"},
                "roles": member.roles.iter().map(u64::to_string).collect::<Vec<_>>(),
                "joined_at": "2026-01-01T00:00:00+00:00", "deaf": false, "mute": false,
                "flags": 0, "permissions": member.permissions.to_string()
            },
            "token": format!("itoken-{id}"), "version": 1, "locale": member.locale,
            "guild_locale": "en-US", "entitlements": [], "attachment_size_limit": 8388608
        })
    }

    /// The first answer to interaction `id` (its callback's body).
    pub async fn answer_to(&self, id: &str) -> Value {
        let path = format!("/api/v10/interactions/{id}/itoken-{id}/callback");
        self.wait_for_request(&format!("the answer to interaction {id}"), |r| {
            r.path == path
        })
        .await
        .body
    }

    /// The answer to interaction `id` as the user sees it: the callback, or for a deferred
    /// one (type 5, "thinking") the follow-up that replaced it, with the deferral's flags.
    pub async fn reply_to(&self, id: &str) -> Value {
        let answer = self.answer_to(id).await;
        if answer["type"] != 5 {
            return answer;
        }
        let path = format!("/api/v10/webhooks/{BOT_ID}/itoken-{id}");
        let followup = self
            .wait_for_request(&format!("the follow-up to {id}"), |r| {
                r.method == "POST" && r.path == path
            })
            .await
            .body;
        let mut data = followup;
        data["flags"] = answer["data"]["flags"].clone();
        json!({"type": 4, "deferred": true, "data": data})
    }

    /// The same from a user whose Discord speaks `locale`.
    pub fn interaction_in(&self, id: &str, token: &str, command: &str, locale: &str) {
        self.send_event(
            "INTERACTION_CREATE",
            json!({
                "id": id, "application_id": BOT_ID, "type": 2,
                "data": {"id": "5001", "name": command, "type": 1},
                "channel_id": "3001", "user": {"id": "7", "username": "tester"},
                "token": token, "version": 1, "locale": locale, "entitlements": [],
                "attachment_size_limit": 8388608
            }),
        );
    }
}

fn rest(
    inner: Arc<Inner>,
    addr: SocketAddr,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    warp::method()
        .and(warp::path::full())
        .and(warp::body::bytes())
        .map(
            move |method: warp::http::Method, path: warp::path::FullPath, body: bytes::Bytes| {
                let path = path.as_str().to_owned();
                let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                inner.requests.lock().unwrap().push(Recorded {
                    method: method.to_string(),
                    path: path.clone(),
                    body: body.clone(),
                });
                rest_answer(&inner, method.as_str(), &path, &body, addr)
            },
        )
}

/// Discord's consent page for adding the bot (`scope` with `bot`; sign-ins go on to the OAuth
/// fake): consents at once, puts the bot in the server (GUILD_CREATE on the gateway) and sends
/// the user back to `redirect_uri` with `state` and `guild_id`, as Discord does.
fn invite(
    inner: Arc<Inner>,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    warp::get()
        .and(warp::path!("oauth2" / "authorize"))
        .and(warp::query::raw())
        .and_then(move |raw: String| {
            let inner = inner.clone();
            async move {
                let q: HashMap<String, String> = url::form_urlencoded::parse(raw.as_bytes())
                    .into_owned()
                    .collect();
                let bot = q
                    .get("scope")
                    .is_some_and(|s| s.split(' ').any(|p| p == "bot"));
                if !bot {
                    return Err(warp::reject::not_found());
                }
                inner.requests.lock().unwrap().push(Recorded {
                    method: "GET".into(),
                    path: "/oauth2/authorize".into(),
                    body: serde_json::to_value(&q).unwrap(),
                });
                let id: u64 = q["guild_id"].parse().unwrap();
                let server = guild(id, "Invited");
                inner.guilds.lock().unwrap().push(server.clone());
                let sender = inner.connection.lock().unwrap().clone();
                if let Some(sender) = sender {
                    sender.send(Control::Dispatch("GUILD_CREATE", server)).ok();
                }
                let back: String = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("code", "invite-code")
                    .append_pair("state", &q["state"])
                    .append_pair("guild_id", &q["guild_id"])
                    .append_pair("permissions", &q["permissions"])
                    .finish();
                let location = format!("{}?{back}", q["redirect_uri"]);
                use warp::Reply;
                let found = warp::reply::with_status(warp::reply(), warp::http::StatusCode::FOUND);
                Ok::<_, warp::Rejection>(
                    warp::reply::with_header(found, "location", location).into_response(),
                )
            }
        })
}

fn user(id: &str) -> Value {
    json!({"id": id, "username": format!("user{id}"), "discriminator": "0000", "avatar": null})
}

fn error(status: u16, code: i64, message: &str) -> warp::reply::Response {
    use warp::Reply;
    let body = if status == 429 {
        json!({"message": message, "retry_after": 0.2, "global": false})
    } else {
        json!({"message": message, "code": code})
    };
    warp::reply::with_status(
        warp::reply::json(&body),
        warp::http::StatusCode::from_u16(status).unwrap(),
    )
    .into_response()
}

fn rest_answer(
    inner: &Inner,
    method: &str,
    path: &str,
    body: &Value,
    addr: SocketAddr,
) -> warp::reply::Response {
    use warp::Reply;
    use warp::http::StatusCode;
    let ok = |v: Value| warp::reply::json(&v).into_response();
    let segments: Vec<&str> = path.trim_start_matches("/api/v10/").split('/').collect();
    match (method, segments.as_slice()) {
        ("GET", ["guilds", server, "members", member]) => {
            let key = (server.parse().unwrap_or(0), member.parse().unwrap_or(0));
            match inner.members.lock().unwrap().get(&key) {
                Some(roles) => ok(json!({
                    "user": user(member), "roles": roles.iter().map(u64::to_string).collect::<Vec<_>>(),
                    "joined_at": "2026-01-01T00:00:00+00:00", "deaf": false, "mute": false, "flags": 0
                })),
                None => error(404, 10007, "Unknown Member"),
            }
        }
        ("GET", ["channels", channel]) => {
            let servers = inner.guilds.lock().unwrap().clone();
            let found = servers.iter().find_map(|g| {
                g["channels"]
                    .as_array()?
                    .iter()
                    .find(|c| c["id"] == *channel)
                    .cloned()
            });
            match found {
                Some(found) => ok(found),
                None => error(404, 10003, "Unknown Channel"),
            }
        }
        ("POST", ["users", "@me", "channels"]) => {
            let recipient = body["recipient_id"].as_str().unwrap_or("0");
            ok(json!({
                "id": dm_channel(recipient.parse().unwrap_or(0)).to_string(), "type": 1,
                "recipients": [user(recipient)], "last_message_id": null
            }))
        }
        ("POST", ["channels", channel, "messages"]) => {
            let channel_id: u64 = channel.parse().unwrap_or(0);
            if let Some((status, code)) = inner.failures.lock().unwrap().get(&channel_id) {
                return error(*status, *code, "refused by the fake");
            }
            let id = 7_000_000 + inner.messages.fetch_add(1, Ordering::SeqCst);
            ok(json!({
                "id": id.to_string(), "channel_id": channel, "author": user(BOT_ID),
                "content": body["content"].as_str().unwrap_or(""),
                "timestamp": "2026-01-01T00:00:00+00:00", "edited_timestamp": null,
                "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
                "attachments": [], "embeds": [], "pinned": false, "type": 0
            }))
        }
        ("GET", ["gateway"]) => ok(json!({"url": format!("ws://{addr}/gw")})),
        ("GET", ["gateway", "bot"]) => ok(json!({
            "url": format!("ws://{addr}/gw"), "shards": 1,
            "session_start_limit": {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
        })),
        ("GET", ["oauth2", "applications", "@me"]) => ok(json!({
            "id": BOT_ID, "name": "fakebot", "description": "", "bot_public": true,
            "bot_require_code_grant": false, "verify_key": "00"
        })),
        ("PUT", ["applications", _, "commands"])
        | ("PUT", ["applications", _, "guilds", _, "commands"]) => ok(json!([])),
        ("DELETE", ["users", "@me", "guilds", server]) => {
            // The bot leaves: the server goes, and the gateway says so.
            let mut servers = inner.guilds.lock().unwrap();
            servers.retain(|g| g["id"] != *server);
            let sender = inner.connection.lock().unwrap().clone();
            if let Some(sender) = sender {
                let gone = json!({"id": server, "unavailable": false});
                sender.send(Control::Dispatch("GUILD_DELETE", gone)).ok();
            }
            warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT).into_response()
        }
        ("POST", ["webhooks", _, _]) => {
            // A follow-up to an interaction (the answer after a deferral).
            let id = 7_000_000 + inner.messages.fetch_add(1, Ordering::SeqCst);
            ok(json!({
                "id": id.to_string(), "channel_id": "3001", "author": user(BOT_ID),
                "content": body["content"].as_str().unwrap_or(""),
                "timestamp": "2026-01-01T00:00:00+00:00", "edited_timestamp": null,
                "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
                "attachments": [], "embeds": [], "pinned": false, "type": 0
            }))
        }
        ("POST", ["interactions", _, _, "callback"]) => {
            warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT).into_response()
        }
        _ => warp::reply::with_status(
            warp::reply::json(&json!({"message": "404: Not Found", "code": 0})),
            StatusCode::NOT_FOUND,
        )
        .into_response(),
    }
}

fn gateway(
    inner: Arc<Inner>,
    addr: SocketAddr,
) -> impl Filter<Extract = (impl warp::Reply,), Error = warp::Rejection> + Clone {
    warp::path!("gw")
        .and(warp::ws())
        .map(move |ws: warp::ws::Ws| {
            let inner = inner.clone();
            ws.on_upgrade(move |socket| session(inner, socket, addr))
        })
}

/// One gateway connection: HELLO, then answer the bot and relay the test's controls.
async fn session(inner: Arc<Inner>, socket: WebSocket, addr: SocketAddr) {
    inner.connections.fetch_add(1, Ordering::SeqCst);
    let (tx, mut controls) = mpsc::unbounded_channel();
    *inner.connection.lock().unwrap() = Some(tx);
    let (mut sink, mut stream) = socket.split();
    if *inner.stall.lock().unwrap() {
        // Hold the socket open and silent until the bot gives up on it.
        while let Some(Ok(_)) = stream.next().await {}
        return;
    }
    let send = |v: Value| Message::text(v.to_string());
    let hello = json!({"op": 10, "d": {"heartbeat_interval": 1000}});
    if sink.send(send(hello)).await.is_err() {
        return;
    }
    let dispatch = |inner: &Inner, event: &str, data: Value| {
        let s = inner.seq.fetch_add(1, Ordering::SeqCst) + 1;
        send(json!({"op": 0, "s": s, "t": event, "d": data}))
    };
    loop {
        tokio::select! {
            frame = stream.next() => {
                let Some(Ok(frame)) = frame else { return };
                if let Some((code, _)) = frame.close_frame() {
                    inner.frames.lock().unwrap().push(json!({"close": code}));
                    return;
                }
                let Ok(text) = frame.to_str() else { continue };
                let Ok(frame) = serde_json::from_str::<Value>(text) else { continue };
                inner.frames.lock().unwrap().push(frame.clone());
                let replies: Vec<Message> = match frame["op"].as_u64() {
                    Some(1) => vec![send(json!({"op": 11}))],
                    Some(2) if *inner.reject_token.lock().unwrap() => {
                        let _ = sink.send(Message::close_with(4004u16, "Authentication failed.")).await;
                        return;
                    }
                    Some(2) => {
                        let mut out = vec![dispatch(&inner, "READY", ready(addr))];
                        let guilds = inner.guilds.lock().unwrap().clone();
                        out.extend(guilds.into_iter().map(|g| dispatch(&inner, "GUILD_CREATE", g)));
                        out
                    }
                    Some(6) => vec![dispatch(&inner, "RESUMED", json!({}))],
                    _ => vec![],
                };
                for reply in replies {
                    if sink.send(reply).await.is_err() { return; }
                }
            }
            control = controls.recv() => match control {
                Some(Control::Dispatch(event, data)) => {
                    if sink.send(dispatch(&inner, event, data)).await.is_err() { return; }
                }
                Some(Control::Close(code)) => {
                    let _ = sink.send(Message::close_with(code, "closed by the test")).await;
                    return;
                }
                Some(Control::Drop) | None => return,
            }
        }
    }
}

fn ready(addr: SocketAddr) -> Value {
    json!({
        "v": 10,
        "user": {"id": BOT_ID, "username": "fakebot", "discriminator": "0000", "bot": true},
        "guilds": [],
        "session_id": "fake-session",
        "resume_gateway_url": format!("ws://{addr}/gw"),
        "application": {"id": BOT_ID, "flags": 0}
    })
}

/// A snowflake given as a string, as Discord writes them.
fn id_of(object: &Value) -> Option<u64> {
    object["id"].as_str()?.parse().ok()
}

fn guild(id: u64, name: &str) -> Value {
    json!({
        "id": id.to_string(), "name": name, "icon": null, "owner_id": "7",
        "afk_timeout": 300, "verification_level": 0, "default_message_notifications": 0,
        "explicit_content_filter": 0, "roles": [], "emojis": [], "stickers": [],
        "features": [], "mfa_level": 0, "system_channel_flags": 0, "premium_tier": 0,
        "preferred_locale": "en-US", "nsfw_level": 0, "premium_progress_bar_enabled": false,
        "joined_at": "2026-01-01T00:00:00+00:00", "large": false, "member_count": 3,
        "members": [], "channels": [], "threads": [], "presences": [], "voice_states": [],
        "stage_instances": [], "guild_scheduled_events": [], "unavailable": false
    })
}
