//! A fake Discord on 127.0.0.1: REST (`/api/v10/...`) and the gateway (`/gw`, plain JSON
//! websocket), as described in shared/DISCORD_OFFLINE.md. It records every REST request and
//! every gateway frame the bot sends, and lets a test push events, drop or close the gateway.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use warp::Filter;
use warp::ws::{Message, WebSocket};

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
                let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                inner.requests.lock().unwrap().push(Recorded {
                    method: method.to_string(),
                    path: path.clone(),
                    body,
                });
                rest_answer(method.as_str(), &path, addr)
            },
        )
}

fn rest_answer(method: &str, path: &str, addr: SocketAddr) -> warp::reply::Response {
    use warp::Reply;
    use warp::http::StatusCode;
    let ok = |v: Value| warp::reply::json(&v).into_response();
    let segments: Vec<&str> = path.trim_start_matches("/api/v10/").split('/').collect();
    match (method, segments.as_slice()) {
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
