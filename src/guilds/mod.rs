//! Discord servers: the ones the bot is in (`presence`, kept from gateway events), who may
//! manage each in Herald (`access`), their settings with every revision (`settings`), and what
//! was done to them (`audit`). Pages, the JSON API and slash commands all go through `Guilds`,
//! which checks access on every call.

pub mod access;
pub mod audit;
pub mod invite;
pub mod posts;
pub mod presence;
pub mod relay;
pub mod rights;
pub mod settings;
mod user_guilds;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serenity::all::{ChannelType, GuildId, UserId};
use url::Url;

use crate::accounts::Accounts;
use crate::cache::TtlCache;
use crate::config::Config;
use crate::db::{Db, DbError, now_unix};
use crate::notifications::{history, store};
use crate::state::{BotHandle, BotUnavailable};
use access::{Access, Level, UserGuild, Via};
use audit::{Actor, Source};
pub use presence::{GuildInfo, active_count, record_left, record_present};
use settings::{Choices, Current, Revision, Settings};

#[derive(Debug, thiserror::Error)]
pub enum GuildsError {
    #[error("link a Discord account to manage your servers")]
    DiscordNotLinked,
    #[error("Discord did not answer as expected: {0}")]
    Discord(String),
    #[error(transparent)]
    Bot(#[from] BotUnavailable),
    #[error("no such server of yours")]
    NotFound,
    #[error("your access to this server is read-only")]
    ReadOnly,
    #[error(
        "the settings were changed by someone else meanwhile (now revision {current}); \
         reload them and make your change again"
    )]
    Stale { current: i64 },
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("no such revision")]
    RevisionNotFound,
    #[error("adding the bot needs DISCORD_CLIENT_ID (the Discord application) configured")]
    InviteUnavailable,
    #[error(
        "only the server's owner and members with Administrator or Manage Server may change \
         manager roles"
    )]
    ManagerRolesLocked,
    /// The bot cannot post in a channel a command named: what it lacks there, as catalogue
    /// keys (`dashboard.perm_view_channels`, ...), for a checklist.
    #[error("the bot lacks permissions in channel {channel}: {}", missing.join(", "))]
    BotCannotPost {
        channel: u64,
        missing: Vec<&'static str>,
    },
    #[error("no delivery of that notification to this server's channels is dead")]
    NothingDead,
    #[error(transparent)]
    Db(#[from] DbError),
}

type Result<T, E = GuildsError> = std::result::Result<T, E>;

/// A Discord id as a path, a form or JSON gives it: digits, 1 to 2^63 - 1 (what the database
/// stores).
pub fn parse_id(raw: &str) -> Option<u64> {
    raw.parse::<u64>()
        .ok()
        .filter(|id| *id > 0 && *id <= i64::MAX as u64)
}

/// A server the user may open in the dashboard.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Listed {
    /// The server's id, as a string.
    pub id: String,
    pub name: String,
    /// Discord's icon hash; `None` shows initials.
    pub icon: Option<String>,
    /// The icon's address on Discord's CDN, when the server has one.
    pub icon_url: Option<String>,
    pub bot_present: bool,
    pub member_count: Option<u64>,
    pub access: Access,
}

impl Listed {
    /// Discord's entry for the user, with what the gateway told Herald (a newer name and icon,
    /// the bot's presence, the member count) when it knows the server.
    fn of(guild: &UserGuild, known: Option<&presence::Known>, access: Access, cdn: &Url) -> Self {
        let icon = known
            .filter(|k| k.present)
            .map_or(guild.icon.clone(), |k| k.icon.clone());
        Self {
            id: guild.id.to_string(),
            name: known.map_or(guild.name.clone(), |k| k.name.clone()),
            icon_url: icon
                .as_deref()
                .and_then(|hash| icon_url(cdn, guild.id, hash)),
            icon,
            bot_present: known.is_some_and(|k| k.present),
            member_count: known.and_then(|k| k.member_count),
            access,
        }
    }
}

/// A server icon's address: `{cdn}/icons/{id}/{hash}.png`. Only a hash of Discord's shape
/// (32 hex digits, `a_` first when animated) makes one; anything else shows initials.
pub fn icon_url(cdn: &Url, guild_id: u64, hash: &str) -> Option<String> {
    let digits = hash.strip_prefix("a_").unwrap_or(hash);
    let valid = digits.len() == 32 && digits.bytes().all(|b| b.is_ascii_hexdigit());
    valid.then(|| {
        let base = cdn.as_str().trim_end_matches('/');
        format!("{base}/icons/{guild_id}/{hash}.png")
    })
}

/// A server's page: what Herald knows of it and what the bot can do there.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Overview {
    #[serde(flatten)]
    pub listed: Listed,
    /// Text channels the bot sees: `[id, name]`.
    pub channels: Vec<(String, String)>,
    /// Roles a manager role may name: `[id, name]`.
    pub roles: Vec<(String, String)>,
    /// Each permission Herald's features need, and whether the bot has it here; absent when
    /// that cannot be known (the bot not in the server, or down).
    pub permissions: Option<Vec<Needed>>,
    /// Whether the bot can post in each text channel it knows of, its overwrites counted;
    /// absent when that cannot be known.
    pub posting: Option<Vec<Posting>>,
}

/// Whether the bot can see and post in one channel.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Posting {
    pub id: String,
    pub name: String,
    pub can_post: bool,
    /// What a post with an embed needs there and the bot lacks (catalogue keys), for the
    /// checklist a command answers with.
    #[serde(skip)]
    pub missing: Vec<&'static str>,
}

/// What the bot may do in a server: in it as a whole, and in each text channel.
struct BotRights {
    needed: Vec<Needed>,
    posting: Vec<Posting>,
}

/// A permission Herald needs in a server.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Needed {
    /// Its name in the message catalogue (`dashboard.perm_send_messages`, ...).
    pub key: &'static str,
    pub granted: bool,
}

/// Who is asking, and through which door.
#[derive(Debug, Clone, Copy)]
pub struct Viewer {
    pub user_id: i64,
    pub source: Source,
}

/// A member acting from Discord itself (a slash command): the interaction carries their roles
/// and the permissions Discord computed for them, fresh for each call.
#[derive(Debug, Clone)]
pub struct Member {
    pub guild_id: u64,
    pub discord_id: u64,
    pub roles: Vec<u64>,
    pub permissions: u64,
}

/// Proof that an access check passed: who may act on which server, and how. Only `Guilds`
/// makes one, so whatever takes a grant was checked.
#[derive(Debug, Clone)]
pub struct Grant {
    guild_id: u64,
    access: Access,
    actor: Actor,
}

impl Grant {
    pub fn guild_id(&self) -> u64 {
        self.guild_id
    }

    pub fn access(&self) -> Access {
        self.access
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// The grant lets its holder write, or `ReadOnly`.
    pub fn writable(&self) -> Result<()> {
        if self.access.can_write() {
            Ok(())
        } else {
            Err(GuildsError::ReadOnly)
        }
    }
}

pub struct Guilds {
    db: Db,
    accounts: Arc<Accounts>,
    bot: Arc<BotHandle>,
    discord_api: user_guilds::UserGuilds,
    /// (server, Discord user) -> the member's roles (`None`: not a member).
    member_roles: TtlCache<(u64, u64), Option<Arc<Vec<u64>>>>,
    /// Servers a user is removing the bot from right now: the gateway's GUILD_DELETE for them
    /// is left to the removal, which records who asked.
    removing: Mutex<HashSet<u64>>,
    invites: invite::Invites,
    /// Discord's CDN, for icons.
    cdn: Url,
    /// Seal the audit posts queued for log channels (the workers open them).
    keys: crate::crypto::Keys,
    /// Wakes the notification workers when a post is queued.
    wake: Arc<tokio::sync::Notify>,
}

/// How many times a server page reloads itself while waiting for Discord to confirm the bot
/// joined (every 2 s): half a minute, then the user is told to reload.
pub const MAX_WAIT_RELOADS: i64 = 15;

impl Guilds {
    pub fn new(
        config: &Config,
        db: Db,
        accounts: Arc<Accounts>,
        bot: Arc<BotHandle>,
        wake: Arc<tokio::sync::Notify>,
    ) -> Self {
        Self {
            db,
            accounts,
            bot,
            discord_api: user_guilds::UserGuilds::new(config),
            member_roles: TtlCache::new(config.discord.user_cache, 100_000),
            removing: Mutex::default(),
            invites: invite::Invites::new(config),
            cdn: config.discord.cdn_base.clone(),
            keys: crate::crypto::Keys::derive(&config.secret_key),
            wake,
        }
    }

    /// The servers the user manages or holds a manager role in; servers with the bot first.
    /// `refresh` asks Discord again instead of the cached answer.
    pub async fn list(&self, user_id: i64, refresh: bool) -> Result<Vec<Listed>> {
        let (mine, discord_id) = self.user_guilds(user_id, refresh).await?;
        let ids: Vec<u64> = mine.iter().map(|g| g.id).collect();
        let known = presence::known(&self.db, &ids).await?;
        let mut listed = Vec::new();
        for guild in mine.iter() {
            let access = match self.access_in(guild, discord_id).await {
                Ok(Some(access)) => access,
                // Discord failing to answer for one server (the bot down or gone from it)
                // hides that server's role-given access only; Discord's own rights show.
                Ok(None) | Err(GuildsError::Bot(_)) => continue,
                Err(GuildsError::Discord(cause)) => {
                    tracing::warn!(guild = guild.id, error = %cause, "manager roles unchecked");
                    continue;
                }
                Err(other) => return Err(other),
            };
            let known = known.iter().find(|k| k.id == guild.id);
            listed.push(Listed::of(guild, known, access, &self.cdn));
        }
        listed.sort_by(|a, b| b.bot_present.cmp(&a.bot_present).then(a.name.cmp(&b.name)));
        Ok(listed)
    }

    /// The user's access to `guild_id`, or `NotFound`; `write` also refuses read-only access.
    pub async fn require(&self, viewer: Viewer, guild_id: u64, write: bool) -> Result<Access> {
        let (access, _) = self.open(viewer, guild_id).await?;
        if write && !access.can_write() {
            return Err(GuildsError::ReadOnly);
        }
        Ok(access)
    }

    /// The user's access to `guild_id` and the server as Discord lists it for them.
    async fn open(&self, viewer: Viewer, guild_id: u64) -> Result<(Access, UserGuild)> {
        let (mine, discord_id) = self.user_guilds(viewer.user_id, false).await?;
        let guild = mine
            .iter()
            .find(|g| g.id == guild_id)
            .ok_or(GuildsError::NotFound)?;
        let access = self
            .access_in(guild, discord_id)
            .await?
            .ok_or(GuildsError::NotFound)?;
        Ok((access, guild.clone()))
    }

    pub async fn overview(&self, viewer: Viewer, guild_id: u64) -> Result<Overview> {
        let (access, guild) = self.open(viewer, guild_id).await?;
        let known = presence::known(&self.db, &[guild_id]).await?.pop();
        let choices = self.choices(guild_id).unwrap_or_default();
        let text = |list: Vec<(u64, String)>| {
            list.into_iter()
                .map(|(id, name)| (id.to_string(), name))
                .collect()
        };
        let rights = self.bot_rights(guild_id).await;
        let (permissions, posting) = match rights {
            Some(r) => (Some(r.needed), Some(r.posting)),
            None => (None, None),
        };
        Ok(Overview {
            listed: Listed::of(&guild, known.as_ref(), access, &self.cdn),
            channels: text(choices.channels),
            roles: text(choices.roles),
            permissions,
            posting,
        })
    }

    /// What the bot may do in the server, from its roles there (the member's roles from the
    /// bot's cached lookup, each role's permissions and each channel's overwrites from the
    /// gateway's cache).
    async fn bot_rights(&self, guild_id: u64) -> Option<BotRights> {
        let discord = self.bot.discord().ok()?;
        let me = discord.cache.current_user().id.get();
        let roles = self.member_roles(guild_id, me).await.ok()??;
        let guild = discord.cache.guild(GuildId::new(guild_id))?;
        let server = rights::in_server(&guild, &roles);
        let needed = invite::NEEDED
            .iter()
            .map(|(bit, key)| Needed {
                key,
                granted: server & bit == *bit,
            })
            .collect();
        let mut posting: Vec<Posting> = guild
            .channels
            .values()
            .filter(|c| matches!(c.kind, ChannelType::Text | ChannelType::News))
            .map(|c| {
                let bits = rights::in_channel(server, c, &roles, me);
                Posting {
                    id: c.id.to_string(),
                    name: c.name.clone(),
                    can_post: rights::can_post(bits),
                    // The channel's posting needs are the server's: see, post, embed.
                    missing: invite::NEEDED
                        .iter()
                        .filter(|(bit, _)| bits & bit != *bit)
                        .map(|(_, key)| *key)
                        .collect(),
                }
            })
            .collect();
        posting.sort_by(|a, b| a.name.cmp(&b.name));
        Some(BotRights { needed, posting })
    }

    /// The web's and the API's access check: the user's servers from Discord (cached briefly)
    /// and the server's manager roles. `write` also refuses read-only access.
    pub async fn grant(&self, viewer: Viewer, guild_id: u64, write: bool) -> Result<Grant> {
        let access = self.require(viewer, guild_id, write).await?;
        Ok(Grant {
            guild_id,
            access,
            actor: self.actor(viewer).await?,
        })
    }

    /// A slash command's access check, from what Discord says of the member in this very
    /// interaction: Administrator or Manage Server (the owner has both), else the server's
    /// manager roles the member holds. Anyone else is refused as for a server not theirs.
    pub async fn grant_member(&self, member: &Member, write: bool) -> Result<Grant> {
        let access = if member.permissions & (access::ADMINISTRATOR | access::MANAGE_GUILD) != 0 {
            Access {
                level: Level::ReadWrite,
                via: Via::Discord,
            }
        } else {
            let managers = settings::current(&self.db, member.guild_id)
                .await?
                .settings
                .manager_roles;
            access::by_roles(&managers, &member.roles, now_unix()).ok_or(GuildsError::NotFound)?
        };
        let user_id = self
            .accounts
            .user_of_discord(member.discord_id)
            .await
            .map_err(user_guilds::token_error)?;
        let grant = Grant {
            guild_id: member.guild_id,
            access,
            actor: Actor {
                user_id,
                discord_id: Some(member.discord_id),
                source: Source::SlashCommand,
            },
        };
        if write {
            grant.writable()?;
        }
        Ok(grant)
    }

    /// Who a member is (with their linked Herald user) and whether they may write on the
    /// server: for actions open to members too, such as an assignee closing their task.
    pub async fn member_actor(&self, member: &Member) -> Result<(Actor, bool)> {
        match self.grant_member(member, true).await {
            Ok(grant) => Ok((grant.actor, true)),
            Err(GuildsError::NotFound | GuildsError::ReadOnly) => {
                let user_id = self
                    .accounts
                    .user_of_discord(member.discord_id)
                    .await
                    .map_err(user_guilds::token_error)?;
                let actor = Actor {
                    user_id,
                    discord_id: Some(member.discord_id),
                    source: Source::SlashCommand,
                };
                Ok((actor, false))
            }
            Err(other) => Err(other),
        }
    }

    pub async fn settings(&self, viewer: Viewer, guild_id: u64) -> Result<Current> {
        self.require(viewer, guild_id, false).await?;
        settings::current(&self.db, guild_id).await
    }

    pub async fn settings_of(&self, grant: &Grant) -> Result<Current> {
        settings::current(&self.db, grant.guild_id).await
    }

    /// Saves new settings based on `base_revision` (see `settings::store`).
    pub async fn save_settings(
        &self,
        viewer: Viewer,
        guild_id: u64,
        base_revision: i64,
        new: &Settings,
    ) -> Result<Current> {
        let grant = self.grant(viewer, guild_id, true).await?;
        self.save_settings_as(&grant, base_revision, new).await
    }

    pub async fn save_settings_as(
        &self,
        grant: &Grant,
        base_revision: i64,
        new: &Settings,
    ) -> Result<Current> {
        self.store_as(grant, base_revision, new, None).await
    }

    /// Makes an old revision's values current again, as a new revision.
    pub async fn restore(
        &self,
        viewer: Viewer,
        guild_id: u64,
        revision: i64,
        base_revision: i64,
    ) -> Result<Current> {
        let grant = self.grant(viewer, guild_id, true).await?;
        self.restore_as(&grant, revision, base_revision).await
    }

    pub async fn restore_as(
        &self,
        grant: &Grant,
        revision: i64,
        base_revision: i64,
    ) -> Result<Current> {
        grant.writable()?;
        let old = settings::revision_of(&self.db, grant.guild_id, revision).await?;
        // Channels or roles deleted since then are refused like any other save.
        self.store_as(grant, base_revision, &old.settings, Some(revision))
            .await
    }

    /// Checks and stores `new` as the next revision, a restore of `restored_from` if named.
    async fn store_as(
        &self,
        grant: &Grant,
        base_revision: i64,
        new: &Settings,
        restored_from: Option<i64>,
    ) -> Result<Current> {
        grant.writable()?;
        self.check_change(grant.access, grant.guild_id, base_revision, new)
            .await?;
        let save = settings::Save {
            guild_id: grant.guild_id,
            base_revision,
            settings: new,
            actor: &grant.actor,
            restored_from,
        };
        let saved = settings::store(&self.db, &self.keys, save).await?;
        self.wake.notify_one();
        Ok(saved)
    }

    pub async fn revisions(&self, viewer: Viewer, guild_id: u64) -> Result<Vec<Revision>> {
        self.require(viewer, guild_id, false).await?;
        settings::revisions(&self.db, guild_id, 500).await
    }

    /// The latest `limit` revisions, newest first.
    pub async fn revisions_of(&self, grant: &Grant, limit: u32) -> Result<Vec<Revision>> {
        settings::revisions(&self.db, grant.guild_id, limit).await
    }

    /// What changed from revision `from` to revision `to` (0 is the unset start).
    pub async fn diff(
        &self,
        viewer: Viewer,
        guild_id: u64,
        from: i64,
        to: i64,
    ) -> Result<Vec<settings::Change>> {
        self.require(viewer, guild_id, false).await?;
        let at = |n: i64| async move {
            match n {
                0 => Ok(Settings::default()),
                n => Ok(settings::revision_of(&self.db, guild_id, n).await?.settings),
            }
        };
        let (a, b): (Result<Settings>, Result<Settings>) = (at(from).await, at(to).await);
        Ok(settings::diff(&a?, &b?))
    }

    /// Discord deliveries to the server's channels: per day by outcome over the last `days`
    /// days, and the latest 20 with their errors.
    pub async fn deliveries(
        &self,
        viewer: Viewer,
        guild_id: u64,
        days: i64,
    ) -> Result<(Vec<history::Day>, Vec<history::Recent>)> {
        self.require(viewer, guild_id, false).await?;
        let channels = self.channel_ids(guild_id);
        let today = now_unix().div_euclid(86_400);
        let scope = history::Scope::DiscordChannels(&channels);
        let daily = history::daily(&self.db, scope, days, today).await?;
        let recent = history::recent(&self.db, &channels, 20).await?;
        Ok((daily, recent))
    }

    /// The latest dead deliveries to the server's channels (a manager's view).
    pub async fn dead_of(&self, grant: &Grant, limit: u32) -> Result<Vec<history::Recent>> {
        let channels = self.channel_ids(grant.guild_id);
        Ok(history::dead(&self.db, &channels, limit).await?)
    }

    /// Drives the dead deliveries of a notification to the server's channels again (only
    /// those: its other recipients are its owner's business); an audit entry says who did.
    pub async fn redrive(&self, grant: &Grant, notification_id: i64) -> Result<u64> {
        grant.writable()?;
        let labels: Vec<String> = self
            .channel_ids(grant.guild_id)
            .iter()
            .map(|c| format!("discord:{c}"))
            .collect();
        let now = now_unix();
        let mut tx = self.db.begin_write().await?;
        let lock = self.db.lock_rows();
        let count = store::redrive_on(&mut tx, lock, notification_id, Some(&labels), now).await?;
        if count == 0 {
            return Err(GuildsError::NothingDead);
        }
        let detail = serde_json::json!({"notification_id": notification_id, "deliveries": count});
        audit::record(
            &mut tx,
            &self.keys,
            grant.guild_id,
            &grant.actor,
            "notification.retried",
            &detail,
            now,
        )
        .await?;
        tx.commit().await.map_err(DbError::from)?;
        self.wake.notify_one();
        Ok(count)
    }

    /// Whether a Discord user may still write on the server, asked afresh (their roles from
    /// Discord, briefly cached; the permissions those give, from the gateway's cache): the
    /// owner, Administrator or Manage Server, or a read-write manager role not expired. An
    /// error when the bot cannot tell now (it is down, or Discord did not answer).
    pub async fn still_writes(&self, guild_id: u64, discord_id: u64) -> Result<bool> {
        let discord = self.bot.discord()?;
        let Some(roles) = self.member_roles(guild_id, discord_id).await? else {
            return Ok(false);
        };
        let server = {
            let guild = discord
                .cache
                .guild(GuildId::new(guild_id))
                .ok_or(GuildsError::NotFound)?;
            if guild.owner_id.get() == discord_id {
                return Ok(true);
            }
            rights::in_server(&guild, &roles)
        };
        if server & (access::ADMINISTRATOR | access::MANAGE_GUILD) != 0 {
            return Ok(true);
        }
        let managers = settings::current(&self.db, guild_id)
            .await?
            .settings
            .manager_roles;
        Ok(access::by_roles(&managers, &roles, now_unix()).is_some_and(|a| a.can_write()))
    }

    /// The server's default notification channel, when its settings name one.
    pub async fn notify_channel(&self, guild_id: u64) -> Result<Option<u64>> {
        Ok(settings::current(&self.db, guild_id)
            .await?
            .settings
            .notify_channel)
    }

    /// The language Herald speaks in the server: its setting, else the server's community
    /// language, else English.
    pub async fn language(&self, guild_id: u64) -> Result<crate::i18n::Locale, DbError> {
        let mut conn = self.db.pool().acquire().await?;
        relay::language(&mut conn, guild_id).await
    }

    /// The server's last seven days in figures.
    pub async fn week(&self, grant: &Grant) -> Result<crate::stats::Week> {
        let channels = self.channel_ids(grant.guild_id);
        Ok(crate::stats::week(&self.db, grant.guild_id, &channels, now_unix()).await?)
    }

    /// The server's text channels as the bot's cache has them (none without the bot).
    fn channel_ids(&self, guild_id: u64) -> Vec<u64> {
        self.choices(guild_id)
            .map(|c| c.channels.into_iter().map(|(id, _)| id).collect())
            .unwrap_or_default()
    }

    pub async fn audit(
        &self,
        viewer: Viewer,
        guild_id: u64,
        filter: &audit::Filter,
    ) -> Result<Vec<audit::Entry>> {
        self.require(viewer, guild_id, false).await?;
        Ok(audit::list(&self.db, guild_id, filter).await?)
    }

    pub async fn audit_of(
        &self,
        grant: &Grant,
        filter: &audit::Filter,
    ) -> Result<Vec<audit::Entry>> {
        Ok(audit::list(&self.db, grant.guild_id, filter).await?)
    }

    /// A channel a command will have the bot post in: a text channel of the grant's server,
    /// where the bot can see, post and embed (else what it lacks, for a checklist).
    pub async fn check_channel(&self, grant: &Grant, channel: u64) -> Result<()> {
        let invalid = |reason: &str| GuildsError::Invalid {
            field: "channel",
            reason: reason.to_owned(),
        };
        let choices = self
            .choices(grant.guild_id)
            .ok_or_else(|| invalid("the bot is not in this server: add it first"))?;
        if !choices.channels.iter().any(|(id, _)| *id == channel) {
            return Err(invalid("not a text channel of this server"));
        }
        // What it lacks there; nothing known when its roles cannot be read (the post itself
        // will then say).
        let id = channel.to_string();
        let missing = self
            .bot_rights(grant.guild_id)
            .await
            .and_then(|rights| rights.posting.into_iter().find(|p| p.id == id))
            .map(|p| p.missing)
            .unwrap_or_default();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(GuildsError::BotCannotPost { channel, missing })
        }
    }

    /// What settings may name in the server, as the bot sees it now (`None` without the bot).
    pub fn choices_of(&self, grant: &Grant) -> Option<Choices> {
        self.choices(grant.guild_id)
    }

    /// The bot leaves the server. Checked with Discord itself, not the cache: only someone who
    /// manages the server on Discord now may remove the bot.
    pub async fn remove_bot(&self, viewer: Viewer, guild_id: u64) -> Result<()> {
        let (mine, _) = self.user_guilds(viewer.user_id, true).await?;
        let guild = mine.iter().find(|g| g.id == guild_id);
        if !guild.is_some_and(UserGuild::manageable) {
            return Err(match guild {
                Some(_) if self.require(viewer, guild_id, false).await.is_ok() => {
                    GuildsError::ReadOnly
                }
                _ => GuildsError::NotFound,
            });
        }
        let discord = self.bot.discord()?;
        let actor = self.actor(viewer).await?;
        self.removing
            .lock()
            .expect("removing lock")
            .insert(guild_id);
        let left = discord.http.leave_guild(GuildId::new(guild_id)).await;
        let recorded = match left {
            Ok(()) => presence::record_left(&self.db, &self.keys, guild_id, &actor).await,
            Err(_) => Ok(()),
        };
        self.removing
            .lock()
            .expect("removing lock")
            .remove(&guild_id);
        left.map_err(|e| GuildsError::Discord(e.to_string()))?;
        Ok(recorded?)
    }

    /// Discord's page that adds the bot to the server, for someone who may write there.
    pub async fn invite_url(&self, viewer: Viewer, guild_id: u64) -> Result<String> {
        self.require(viewer, guild_id, true).await?;
        self.invites
            .url(viewer.user_id, guild_id)
            .ok_or(GuildsError::InviteUnavailable)
    }

    /// The server an invite's `state` was made for, when `user_id` made it and it is fresh.
    pub fn invite_state(&self, user_id: i64, state: &str) -> Option<u64> {
        self.invites.returned(user_id, state)
    }

    /// Discord says the bot is no longer in the server (GUILD_DELETE): kicked, or the server
    /// deleted. A removal asked for here records itself, with the user who asked.
    pub async fn bot_left(&self, guild_id: u64) -> Result<(), DbError> {
        if self
            .removing
            .lock()
            .expect("removing lock")
            .contains(&guild_id)
        {
            return Ok(());
        }
        presence::record_left(&self.db, &self.keys, guild_id, &Actor::bot()).await?;
        self.wake.notify_one();
        Ok(())
    }

    /// Discord says the bot is in a server (GUILD_CREATE): a join, a rejoin or an update.
    pub async fn bot_present(&self, guild: &GuildInfo) -> Result<(), DbError> {
        presence::record_present(&self.db, &self.keys, guild).await?;
        self.wake.notify_one();
        Ok(())
    }
}

impl Guilds {
    /// The user's servers from Discord (cached briefly) and their Discord id.
    async fn user_guilds(&self, user_id: i64, refresh: bool) -> Result<(Arc<Vec<UserGuild>>, u64)> {
        let discord_id = self.discord_id(user_id).await?;
        let token = || async {
            self.accounts
                .provider_access_token(user_id, crate::accounts::oauth::Provider::Discord)
                .await
                .map_err(user_guilds::token_error)
        };
        let guilds = self.discord_api.of(user_id, refresh, token).await?;
        Ok((guilds, discord_id))
    }

    async fn discord_id(&self, user_id: i64) -> Result<u64> {
        let linked = self
            .accounts
            .linked_accounts(user_id)
            .await
            .map_err(user_guilds::token_error)?;
        linked
            .iter()
            .find(|l| l.provider == crate::accounts::oauth::Provider::Discord)
            .and_then(|l| l.provider_user_id.parse().ok())
            .ok_or(GuildsError::DiscordNotLinked)
    }

    /// Validates `new` against the settings in force and what the caller may change: access
    /// through a manager role may not touch the manager roles (else a time-limited role could
    /// drop its own expiry, or hand read-write to another).
    async fn check_change(
        &self,
        access: Access,
        guild_id: u64,
        base_revision: i64,
        new: &Settings,
    ) -> Result<()> {
        let current = settings::current(&self.db, guild_id).await?;
        if current.revision != base_revision {
            return Err(GuildsError::Stale {
                current: current.revision,
            });
        }
        let by_role = matches!(access.via, Via::Role { .. });
        if by_role && new.manager_roles != current.settings.manager_roles {
            return Err(GuildsError::ManagerRolesLocked);
        }
        new.check(
            &current.settings,
            self.choices(guild_id).as_ref(),
            now_unix(),
        )
    }

    /// Discord's own rights first; else the server's manager roles the member holds.
    async fn access_in(&self, guild: &UserGuild, discord_id: u64) -> Result<Option<Access>> {
        if guild.manageable() {
            return Ok(Some(Access {
                level: Level::ReadWrite,
                via: Via::Discord,
            }));
        }
        let managers = settings::current(&self.db, guild.id)
            .await?
            .settings
            .manager_roles;
        if managers.is_empty() {
            return Ok(None);
        }
        let roles = self.member_roles(guild.id, discord_id).await?;
        Ok(roles.and_then(|roles| access::by_roles(&managers, &roles, now_unix())))
    }

    /// The member's roles, from the bot (cached briefly).
    async fn member_roles(&self, guild_id: u64, user: u64) -> Result<Option<Arc<Vec<u64>>>> {
        if let Some(roles) = self.member_roles.get(&(guild_id, user)) {
            return Ok(roles);
        }
        let discord = self.bot.discord()?;
        let roles = match discord
            .http
            .get_member(GuildId::new(guild_id), UserId::new(user))
            .await
        {
            Ok(member) => Some(Arc::new(member.roles.iter().map(|r| r.get()).collect())),
            // Not a member; or the bot cannot see the server (it left): no role to go by.
            Err(e) if user_guilds::is_not_found(&e) || user_guilds::is_forbidden(&e) => None,
            Err(e) => return Err(GuildsError::Discord(e.to_string())),
        };
        self.member_roles.put((guild_id, user), roles.clone());
        Ok(roles)
    }

    /// What settings may name in the server, from the bot's cache; `None` without the bot.
    fn choices(&self, guild_id: u64) -> Option<Choices> {
        let discord = self.bot.discord().ok()?;
        let guild = discord.cache.guild(GuildId::new(guild_id))?;
        let mut channels: Vec<(u64, String)> = guild
            .channels
            .values()
            .filter(|c| matches!(c.kind, ChannelType::Text | ChannelType::News))
            .map(|c| (c.id.get(), c.name.clone()))
            .collect();
        let mut roles: Vec<(u64, String)> = guild
            .roles
            .values()
            .filter(|r| r.id.get() != guild_id)
            .map(|r| (r.id.get(), r.name.clone()))
            .collect();
        channels.sort_by(|a, b| a.1.cmp(&b.1));
        roles.sort_by(|a, b| a.1.cmp(&b.1));
        Some(Choices { channels, roles })
    }

    async fn actor(&self, viewer: Viewer) -> Result<Actor> {
        Ok(Actor {
            user_id: Some(viewer.user_id),
            discord_id: self.discord_id(viewer.user_id).await.ok(),
            source: viewer.source,
        })
    }
}
