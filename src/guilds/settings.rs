//! Each server's settings and every revision of them. A save names the revision it was based
//! on: when someone else saved meanwhile, it is refused (`Stale`), never silently merged or
//! overwritten. Every save is a new revision with its author and an audit entry with the
//! before and after of each field; a restore is a save of an old revision's values.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::Row;

use super::audit::{self, Actor};
use super::presence::snowflake;
use super::{GuildsError, Result};
use crate::db::{Db, DbError, now_unix};

/// The most manager roles a server may name.
pub const MAX_MANAGER_ROLES: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    En,
    Ko,
}

impl Language {
    /// From a Discord locale such as `ko` or `en-US`: Korean for `ko*`, else English.
    pub fn of_locale(locale: Option<&str>) -> Self {
        match locale {
            Some(l) if l.starts_with("ko") => Self::Ko,
            _ => Self::En,
        }
    }
}

/// What a manager role lets its members do in Herald.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RoleAccess {
    Read,
    ReadWrite,
}

/// A Discord role whose members manage the server in Herald without MANAGE_GUILD.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManagerRole {
    /// The role's id (a string: snowflakes pass JavaScript's integers).
    #[serde(with = "id_text")]
    #[schema(value_type = String, example = "123456789012345678")]
    pub role_id: u64,
    pub access: RoleAccess,
    /// Unix seconds; the role gives nothing from then on. Never when absent.
    #[serde(default)]
    pub expires_at: Option<i64>,
}

/// A server's settings. Absent fields are unset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Where Discord notifications to "the server" go.
    #[serde(default, with = "opt_id_text")]
    #[schema(value_type = Option<String>)]
    pub notify_channel: Option<u64>,
    /// The bot's language here; the server's preferred locale when unset.
    #[serde(default)]
    pub language: Option<Language>,
    /// Where Herald posts this server's audit entries.
    #[serde(default, with = "opt_id_text")]
    #[schema(value_type = Option<String>)]
    pub log_channel: Option<u64>,
    #[serde(default)]
    pub manager_roles: Vec<ManagerRole>,
}

/// The channels and roles of the server, as the bot sees them: what settings may name.
#[derive(Debug, Clone, Default)]
pub struct Choices {
    /// Text channels: (id, name).
    pub channels: Vec<(u64, String)>,
    /// Roles other than @everyone: (id, name).
    pub roles: Vec<(u64, String)>,
}

impl Settings {
    /// Checks every field against what the server has; `choices` is `None` when the bot is
    /// not in the server (then no channel or role can be checked, so none is accepted). A
    /// manager role kept exactly as it is in `before` is not checked again: a role deleted on
    /// Discord or expired since must not block saving another field.
    pub fn check(&self, before: &Settings, choices: Option<&Choices>, now: i64) -> Result<()> {
        let invalid = |field: &'static str, reason: &str| GuildsError::Invalid {
            field,
            reason: reason.to_owned(),
        };
        let absent = "the bot is not in this server: add it first";
        for (field, channel) in [
            ("notify_channel", self.notify_channel),
            ("log_channel", self.log_channel),
        ] {
            let Some(channel) = channel else { continue };
            let choices = choices.ok_or_else(|| invalid(field, absent))?;
            if !choices.channels.iter().any(|(id, _)| *id == channel) {
                return Err(invalid(field, "not a text channel of this server"));
            }
        }
        if self.manager_roles.len() > MAX_MANAGER_ROLES {
            let reason = format!("at most {MAX_MANAGER_ROLES}");
            return Err(invalid("manager_roles", &reason));
        }
        for (i, role) in self.manager_roles.iter().enumerate() {
            if self.manager_roles[..i]
                .iter()
                .any(|r| r.role_id == role.role_id)
            {
                return Err(invalid("manager_roles", "a role is named twice"));
            }
            if before.manager_roles.contains(role) {
                continue;
            }
            let choices = choices.ok_or_else(|| invalid("manager_roles", absent))?;
            if !choices.roles.iter().any(|(id, _)| *id == role.role_id) {
                return Err(invalid("manager_roles", "not a role of this server"));
            }
            if role.expires_at.is_some_and(|at| at <= now) {
                return Err(invalid("manager_roles", "expires_at is in the past"));
            }
        }
        Ok(())
    }
}

/// One field's change.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Change {
    pub field: String,
    #[schema(value_type = Object)]
    pub before: Value,
    #[schema(value_type = Object)]
    pub after: Value,
}

/// The fields that differ from `before` to `after`, in the settings' field order.
pub fn diff(before: &Settings, after: &Settings) -> Vec<Change> {
    let (a, b) = (fields(before), fields(after));
    a.into_iter()
        .zip(b)
        .filter(|((_, x), (_, y))| x != y)
        .map(|((field, before), (_, after))| Change {
            field,
            before,
            after,
        })
        .collect()
}

fn fields(settings: &Settings) -> Vec<(String, Value)> {
    let value = serde_json::to_value(settings).expect("settings serialise");
    let Value::Object(map) = value else {
        unreachable!("settings serialise as an object")
    };
    // serde_json's map is ordered by key: both sides list the same fields in the same order.
    map.into_iter().collect()
}

/// The settings in force, and the revision they are.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Current {
    /// 0 until the first save.
    pub revision: i64,
    pub settings: Settings,
    pub updated_at: Option<i64>,
}

/// One saved revision.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Revision {
    pub revision: i64,
    pub settings: Settings,
    pub author_user_id: Option<i64>,
    pub author_discord_id: Option<String>,
    pub source: audit::Source,
    /// The revision this one restored, for a restore.
    pub restored_from: Option<i64>,
    pub created_at: i64,
}

pub async fn current(db: &Db, guild_id: u64) -> Result<Current> {
    let row =
        sqlx::query("SELECT revision, settings, updated_at FROM guild_settings WHERE guild_id = ?")
            .bind(snowflake(guild_id))
            .fetch_optional(db.pool())
            .await
            .map_err(DbError::from)?;
    let Some(row) = row else {
        return Ok(Current {
            revision: 0,
            settings: Settings::default(),
            updated_at: None,
        });
    };
    Ok(Current {
        revision: row.try_get("revision").map_err(DbError::from)?,
        settings: parse(
            &row.try_get::<String, _>("settings")
                .map_err(DbError::from)?,
        ),
        updated_at: row.try_get("updated_at").map_err(DbError::from)?,
    })
}

/// Every revision, newest first (at most `limit`).
pub async fn revisions(db: &Db, guild_id: u64, limit: u32) -> Result<Vec<Revision>> {
    let rows = sqlx::query(
        "SELECT revision, settings, author_user_id, author_discord_id, source, restored_from, \
         created_at FROM guild_setting_revisions WHERE guild_id = ? \
         ORDER BY revision DESC LIMIT ?",
    )
    .bind(snowflake(guild_id))
    .bind(i64::from(limit.clamp(1, 500)))
    .fetch_all(db.pool())
    .await
    .map_err(DbError::from)?;
    rows.iter().map(revision).collect()
}

pub async fn revision_of(db: &Db, guild_id: u64, number: i64) -> Result<Revision> {
    let row = sqlx::query(
        "SELECT revision, settings, author_user_id, author_discord_id, source, restored_from, \
         created_at FROM guild_setting_revisions WHERE guild_id = ? AND revision = ?",
    )
    .bind(snowflake(guild_id))
    .bind(number)
    .fetch_optional(db.pool())
    .await
    .map_err(DbError::from)?
    .ok_or(GuildsError::RevisionNotFound)?;
    revision(&row)
}

fn revision(row: &sqlx::any::AnyRow) -> Result<Revision> {
    let get = || -> std::result::Result<Revision, sqlx::Error> {
        let source: String = row.try_get("source")?;
        Ok(Revision {
            revision: row.try_get("revision")?,
            settings: parse(&row.try_get::<String, _>("settings")?),
            author_user_id: row.try_get("author_user_id")?,
            author_discord_id: row
                .try_get::<Option<i64>, _>("author_discord_id")?
                .map(|id| id.to_string()),
            source: audit::Source::parse(&source).unwrap_or(audit::Source::Web),
            restored_from: row.try_get("restored_from")?,
            created_at: row.try_get("created_at")?,
        })
    };
    Ok(get().map_err(DbError::from)?)
}

/// Stored settings are Herald's own JSON; a row it cannot read is shown as unset rather than
/// locking the server out of its dashboard.
fn parse(raw: &str) -> Settings {
    serde_json::from_str(raw).unwrap_or_default()
}

/// A save: the new values, the revision they were based on, and (for a restore) the
/// revision they came from.
pub struct Save<'a> {
    pub guild_id: u64,
    pub base_revision: i64,
    pub settings: &'a Settings,
    pub actor: &'a Actor,
    pub restored_from: Option<i64>,
}

/// Stores `save` as the next revision, with its audit entry, in one transaction. Unchanged
/// values store nothing and answer the current revision.
pub async fn store(db: &Db, keys: &crate::crypto::Keys, save: Save<'_>) -> Result<Current> {
    let guild_id = save.guild_id;
    match store_once(db, keys, save).await {
        // Two first saves on MySQL both lock the gap where the row will be and deadlock:
        // one of them was first, so the other is as stale as any late form.
        Err(GuildsError::Db(e)) if e.is_deadlock() => Err(GuildsError::Stale {
            current: current(db, guild_id).await?.revision,
        }),
        done => done,
    }
}

async fn store_once(db: &Db, keys: &crate::crypto::Keys, save: Save<'_>) -> Result<Current> {
    let now = now_unix();
    let mut tx = db.begin_write().await?;
    let sql = format!(
        "SELECT revision, settings FROM guild_settings WHERE guild_id = ?{}",
        db.lock_rows()
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(snowflake(save.guild_id))
        .fetch_optional(&mut *tx)
        .await
        .map_err(DbError::from)?;
    let (revision, before) = match &row {
        Some(row) => (
            row.try_get::<i64, _>("revision").map_err(DbError::from)?,
            parse(
                &row.try_get::<String, _>("settings")
                    .map_err(DbError::from)?,
            ),
        ),
        None => (0, Settings::default()),
    };
    if revision != save.base_revision {
        return Err(GuildsError::Stale { current: revision });
    }
    let changes = diff(&before, save.settings);
    if changes.is_empty() {
        return Ok(Current {
            revision,
            settings: before,
            updated_at: None,
        });
    }
    let next = revision + 1;
    let text = serde_json::to_string(save.settings).expect("settings serialise");
    write_revision(&mut tx, &save, next, &text, now).await?;
    let (action, mut detail) = match save.restored_from {
        Some(from) => ("settings.restored", json!({"restored_from": from})),
        None => ("settings.updated", json!({})),
    };
    detail["revision"] = json!(next);
    detail["changes"] = serde_json::to_value(&changes).expect("changes serialise");
    audit::record(
        &mut tx,
        keys,
        save.guild_id,
        save.actor,
        action,
        &detail,
        now,
    )
    .await?;
    tx.commit().await.map_err(DbError::from)?;
    Ok(Current {
        revision: next,
        settings: save.settings.clone(),
        updated_at: Some(now),
    })
}

async fn write_revision(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    save: &Save<'_>,
    next: i64,
    text: &str,
    now: i64,
) -> Result<()> {
    let guild = snowflake(save.guild_id);
    // Two first saves racing on MySQL both read "no row": the second insert meets the primary
    // key, which is the same stale form as any other.
    let stale = |e: sqlx::Error| {
        crate::db::on_unique(DbError::from(e), GuildsError::Stale { current: next })
    };
    sqlx::query(
        "INSERT INTO guild_setting_revisions (guild_id, revision, settings, author_user_id, \
         author_discord_id, source, restored_from, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(guild)
    .bind(next)
    .bind(text)
    .bind(save.actor.user_id)
    .bind(save.actor.discord_id.map(snowflake))
    .bind(save.actor.source.as_str())
    .bind(save.restored_from)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(stale)?;
    if next == 1 {
        sqlx::query(
            "INSERT INTO guild_settings (guild_id, revision, settings, updated_at) \
             VALUES (?, ?, ?, ?)",
        )
        .bind(guild)
        .bind(next)
        .bind(text)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(stale)?;
    } else {
        sqlx::query(
            "UPDATE guild_settings SET revision = ?, settings = ?, updated_at = ? \
             WHERE guild_id = ? AND revision = ?",
        )
        .bind(next)
        .bind(text)
        .bind(now)
        .bind(guild)
        .bind(next - 1)
        .execute(&mut **tx)
        .await
        .map_err(DbError::from)?;
    }
    Ok(())
}

/// Snowflakes as JSON strings (JavaScript's numbers lose their last digits); numbers are
/// accepted too.
mod id_text {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(id: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&id.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(u64),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(n),
            Raw::Text(t) => crate::guilds::parse_id(&t)
                .ok_or_else(|| D::Error::custom("an id is a string of digits")),
        }
    }
}

mod opt_id_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(id: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match id {
            Some(id) => s.serialize_str(&id.to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        #[derive(Deserialize)]
        struct Wrap(#[serde(with = "super::id_text")] u64);
        Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
    }
}
