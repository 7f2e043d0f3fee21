//! The Discord channel, through the running bot: a message (subject as content, text in an
//! embed, no mentions) to a server's channel whose server the owner manages, or a direct
//! message to the owner ("me"), who must have linked Discord.
//!
//! While the bot is down, deliveries wait without using up attempts. A 429 reschedules after
//! the wait Discord asked for (serenity's limiter handles most of them before they surface).
//! Closed DMs (50007), an unknown channel (10003), missing access or permissions (50001,
//! 50013) are permanent, with the reason in words.

use std::sync::Arc;
use std::time::Duration;

use serenity::all::{
    ButtonStyle, ChannelId, CreateActionRow, CreateAllowedMentions, CreateButton, CreateEmbed,
    CreateMessage, GuildId, Http, Permissions, UserId,
};
use sqlx::Row;

use super::content::Renderer;
use super::job::{Job, Outcome};
use crate::cache::TtlCache;
use crate::db::Db;
use crate::state::{BotHandle, Discord};

/// How long a "does this user manage that server" answer is reused.
const MANAGES_TTL: Duration = Duration::from_secs(60);
/// How long deliveries wait for a bot that is down before looking again.
const BOT_DOWN_WAIT: Duration = Duration::from_secs(15);
/// A 429 without a usable wait.
const RATE_LIMIT_WAIT: Duration = Duration::from_secs(2);
/// Discord's limit on a message's content.
const CONTENT_MAX: usize = 2000;
/// Discord's limit on an embed's description.
const EMBED_MAX: usize = 4096;

pub struct DiscordChannel {
    bot: Arc<BotHandle>,
    db: Db,
    renderer: Renderer,
    /// (Discord user, server) -> whether the user manages the server.
    manages: TtlCache<(u64, u64), bool>,
}

impl DiscordChannel {
    pub fn new(bot: Arc<BotHandle>, db: Db) -> Self {
        Self {
            bot,
            db,
            renderer: Renderer::default(),
            manages: TtlCache::new(MANAGES_TTL, 10_000),
        }
    }

    /// The bot is up: deliveries may be claimed.
    pub fn ready(&self) -> bool {
        self.bot.discord().is_ok()
    }

    pub async fn send(&self, job: &Job) -> Outcome {
        let discord = match self.bot.discord() {
            Ok(discord) => discord,
            Err(down) => {
                return Outcome::Deferred {
                    retry_after: BOT_DOWN_WAIT,
                    answer: down.to_string(),
                };
            }
        };
        match self.deliver(&discord, job).await {
            Ok((message_id, server)) => Outcome::Sent {
                provider_id: Some(message_id),
                answer: "posted by the bot".into(),
                server,
            },
            Err(outcome) => outcome,
        }
    }

    /// Posts the job; answers the message's id and, for a user's post in a server's channel,
    /// that server (its audit log records the post).
    async fn deliver(
        &self,
        discord: &Discord,
        job: &Job,
    ) -> Result<(String, Option<u64>), Outcome> {
        let owner = self.owner_discord_id(job.user_id).await?;
        if let Some(member) = &job.recipient.discord_user {
            return Ok((self.to_member(discord, owner, member, job).await?, None));
        }
        let Some(raw) = &job.recipient.discord_channel else {
            let Some(owner) = owner else {
                return Err(Outcome::Permanent(
                    "the owner has not linked Discord to their account".into(),
                ));
            };
            let dm = UserId::new(owner)
                .create_dm_channel(&discord.http)
                .await
                .map_err(classify)?;
            return Ok((self.post(discord, dm.id, job).await?, None));
        };
        let channel = raw
            .parse::<u64>()
            .ok()
            .filter(|id| *id != 0)
            .map(ChannelId::new)
            .ok_or_else(|| Outcome::Permanent(format!("{raw} is not a channel id")))?;
        if job.literal {
            // Herald's own post (an audit entry to a server's log channel, which a manager
            // chose among the channels the bot sees): no owner's right to check, and no audit
            // entry of its own (it is one).
            return Ok((self.post(discord, channel, job).await?, None));
        }
        let Some(owner) = owner else {
            return Err(Outcome::Permanent(
                "link Discord to your account to post in a server's channel".into(),
            ));
        };
        let server = self.check_manages(discord, owner, channel).await?;
        Ok((self.post(discord, channel, job).await?, Some(server.get())))
    }

    /// A direct message to a member of a server the owner manages on Discord now (so the bot
    /// is never a way to message strangers); answers the message's id.
    async fn to_member(
        &self,
        discord: &Discord,
        owner: Option<u64>,
        member: &str,
        job: &Job,
    ) -> Result<String, Outcome> {
        let Some(owner) = owner else {
            return Err(Outcome::Permanent(
                "link Discord to your account to message a server's members".into(),
            ));
        };
        let id = |raw: Option<&str>| raw.and_then(|r| r.parse::<u64>().ok()).filter(|i| *i != 0);
        let (Some(user), Some(guild)) = (id(Some(member)), id(job.recipient.guild.as_deref()))
        else {
            return Err(Outcome::Permanent("not a member of a server".into()));
        };
        let guild = GuildId::new(guild);
        if !self.manages_cached(discord, owner, guild).await? {
            return Err(Outcome::Permanent(
                "you do not manage that server (owner, Administrator or Manage Server is needed)"
                    .into(),
            ));
        }
        if let Err(e) = discord.http.get_member(guild, UserId::new(user)).await {
            return Err(match discord_code(&e) {
                Some(10007) => Outcome::Permanent(format!("{user} is not a member of that server")),
                _ => classify(e),
            });
        }
        let dm = UserId::new(user)
            .create_dm_channel(&discord.http)
            .await
            .map_err(classify)?;
        self.post(discord, dm.id, job).await
    }

    async fn post(
        &self,
        discord: &Discord,
        channel: ChannelId,
        job: &Job,
    ) -> Result<String, Outcome> {
        let message = self.message(job)?;
        let sent = channel
            .send_message(&discord.http, message)
            .await
            .map_err(classify)?;
        Ok(sent.id.to_string())
    }

    fn message(&self, job: &Job) -> Result<CreateMessage, Outcome> {
        let rendered = job.render(&self.renderer, false)?;
        let mut message = CreateMessage::new()
            // Text from a program must never ping @everyone, roles or users.
            .allowed_mentions(CreateAllowedMentions::new());
        if !rendered.subject.is_empty() {
            message = message.content(truncate(&rendered.subject, CONTENT_MAX));
        }
        if !rendered.text.is_empty() {
            message =
                message.embed(CreateEmbed::new().description(truncate(&rendered.text, EMBED_MAX)));
        }
        if job.literal {
            message = with_extras(message, job.data.as_ref());
        }
        Ok(message)
    }

    /// The owner's linked Discord user id, if any.
    async fn owner_discord_id(&self, user_id: i64) -> Result<Option<u64>, Outcome> {
        let row = sqlx::query(
            "SELECT provider_user_id FROM oauth_accounts WHERE user_id = ? AND provider = 'discord'",
        )
        .bind(user_id)
        .fetch_optional(self.db.pool())
        .await
        .map_err(|e| Outcome::Transient(format!("database: {e}")))?;
        Ok(row
            .and_then(|r| r.try_get::<String, _>(0).ok())
            .and_then(|id| id.parse().ok()))
    }

    /// The owner must be the server's owner or hold ADMINISTRATOR or MANAGE_GUILD there;
    /// answers the server.
    async fn check_manages(
        &self,
        discord: &Discord,
        owner: u64,
        channel: ChannelId,
    ) -> Result<GuildId, Outcome> {
        let guild_id = match guild_of(discord, channel) {
            Some(guild_id) => guild_id,
            None => guild_from_discord(discord, channel).await?,
        };
        if self.manages_cached(discord, owner, guild_id).await? {
            Ok(guild_id)
        } else {
            Err(Outcome::Permanent(format!(
                "you do not manage the server of channel {channel} \
                 (owner, Administrator or Manage Server is needed)"
            )))
        }
    }
}

impl DiscordChannel {
    /// Whether the owner manages the server, asked of Discord at most once a minute.
    async fn manages_cached(
        &self,
        discord: &Discord,
        owner: u64,
        guild_id: GuildId,
    ) -> Result<bool, Outcome> {
        let key = (owner, guild_id.get());
        if let Some(known) = self.manages.get(&key) {
            return Ok(known);
        }
        let known = manages(discord, &discord.http, guild_id, owner).await?;
        self.manages.put(key, known);
        Ok(known)
    }
}

/// The server a channel belongs to, from the bot's cache (filled by the gateway).
fn guild_of(discord: &Discord, channel: ChannelId) -> Option<GuildId> {
    discord.cache.guilds().into_iter().find(|guild| {
        discord
            .cache
            .guild(*guild)
            .is_some_and(|g| g.channels.contains_key(&channel))
    })
}

/// The server of a channel the cache does not list (a thread, or a server that has not
/// arrived through the gateway yet), asked of Discord: unknown or hidden from the bot is
/// permanent; a server not in the cache yet is transient (retried, and bounded by attempts).
async fn guild_from_discord(discord: &Discord, channel: ChannelId) -> Result<GuildId, Outcome> {
    match discord.http.get_channel(channel).await {
        Err(e) => Err(classify(e)),
        Ok(serenity::all::Channel::Guild(found))
            if discord.cache.guild(found.guild_id).is_some() =>
        {
            Ok(found.guild_id)
        }
        Ok(serenity::all::Channel::Guild(_)) => Err(Outcome::Transient(
            "the bot is still receiving this channel's server from Discord".into(),
        )),
        Ok(_) => Err(Outcome::Permanent(format!(
            "channel {channel} is not a server's channel"
        ))),
    }
}

async fn manages(
    discord: &Discord,
    http: &Http,
    guild_id: GuildId,
    user: u64,
) -> Result<bool, Outcome> {
    let member = match http.get_member(guild_id, UserId::new(user)).await {
        Ok(member) => member,
        Err(e) if discord_code(&e) == Some(10007) => return Ok(false),
        Err(e) => return Err(classify(e)),
    };
    let Some(guild) = discord.cache.guild(guild_id) else {
        return Err(Outcome::Permanent("the bot left the server".into()));
    };
    let permissions = guild.member_permissions(&member);
    Ok(permissions.contains(Permissions::ADMINISTRATOR)
        || permissions.contains(Permissions::MANAGE_GUILD))
}

fn discord_code(err: &serenity::Error) -> Option<isize> {
    match err {
        serenity::Error::Http(serenity::all::HttpError::UnsuccessfulRequest(response)) => {
            Some(response.error.code)
        }
        _ => None,
    }
}

/// Discord's answer as an outcome: which failures may pass later, and which never will.
fn classify(err: serenity::Error) -> Outcome {
    use serenity::all::HttpError;
    let serenity::Error::Http(HttpError::UnsuccessfulRequest(response)) = &err else {
        // Connection failures, timeouts, a body that did not parse: may pass later.
        return Outcome::Transient(err.to_string());
    };
    let status = response.status_code.as_u16();
    let code = response.error.code;
    let said = format!("{} ({code}, HTTP {status})", response.error.message);
    match (status, code) {
        (429, _) => Outcome::Deferred {
            retry_after: RATE_LIMIT_WAIT,
            answer: said,
        },
        (_, 50007) => {
            Outcome::Permanent(format!("the user does not accept direct messages: {said}"))
        }
        (_, 10003) => Outcome::Permanent(format!("unknown channel: {said}")),
        (_, 50001) => Outcome::Permanent(format!("the bot cannot see this channel: {said}")),
        (_, 50013) => Outcome::Permanent(format!("the bot lacks permission to post here: {said}")),
        (500.., _) => Outcome::Transient(said),
        _ => Outcome::Permanent(said),
    }
}

/// What only Herald's own posts may carry (a reminder, a task alert): the users it pings
/// (`data.ping`, Discord ids; nobody else, and never @everyone or roles) and a row of buttons
/// (`data.buttons`, each `{"id", "label"}`), whose custom ids the bot's handlers understand.
fn with_extras(mut message: CreateMessage, data: Option<&serde_json::Value>) -> CreateMessage {
    let Some(data) = data else { return message };
    let pinged: Vec<UserId> = data["ping"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|id| id.as_str()?.parse().ok())
        .filter(|id| *id != 0)
        .map(UserId::new)
        .take(25)
        .collect();
    if !pinged.is_empty() {
        message = message.allowed_mentions(CreateAllowedMentions::new().users(pinged));
    }
    let buttons: Vec<CreateButton> = data["buttons"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| {
            let button = CreateButton::new(b["id"].as_str()?).label(b["label"].as_str()?);
            Some(match b["style"].as_str() {
                Some("success") => button.style(ButtonStyle::Success),
                _ => button.style(ButtonStyle::Secondary),
            })
        })
        .take(5)
        .collect();
    if !buttons.is_empty() {
        message = message.components(vec![CreateActionRow::Buttons(buttons)]);
    }
    message
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}
