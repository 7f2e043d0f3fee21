//! A server's shared notes: a title (unique in the server, compared byte for byte), a body of
//! up to 4,000 characters, and tags. Members read them; managers (a write `Grant`) write them,
//! and every write is an audit entry of the server, in the same transaction.

use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::crypto::Keys;
use crate::db::{Db, DbError, now_unix, on_unique};
use crate::guilds::audit::{self, Actor};
use crate::guilds::presence::snowflake;
use crate::guilds::{Grant, GuildsError};

/// A memo query: the columns `memo` reads, then the rest of the statement.
macro_rules! select {
    ($rest:literal) => {
        concat!(
            "SELECT id, title, body, tags, author_discord_id, created_at, updated_at FROM memos ",
            $rest
        )
    };
}

pub const TITLE_MAX: usize = 100;
pub const BODY_MAX: usize = 4000;
pub const TAGS_MAX: usize = 10;
pub const TAG_MAX: usize = 24;
/// How much of a body an audit entry keeps (the entry says what changed, not the whole note).
const BODY_SHOWN: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum MemoError {
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("no memo of this server has that title")]
    NotFound,
    #[error("this server already has a memo with that title")]
    TitleTaken,
    #[error(transparent)]
    Guilds(#[from] GuildsError),
    #[error(transparent)]
    Db(#[from] DbError),
}

type Result<T, E = MemoError> = std::result::Result<T, E>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Memo {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    pub author_discord_id: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A memo as someone typed it, checked once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
}

impl Draft {
    /// Trims the title and body; tags are split at commas and spaces, lower-cased, deduplicated.
    pub fn parse(title: &str, body: &str, tags: &str) -> Result<Self> {
        let title = title.trim().to_owned();
        let body = body.trim().to_owned();
        let invalid = |field, reason: String| MemoError::Invalid { field, reason };
        if title.is_empty() || title.chars().count() > TITLE_MAX {
            return Err(invalid("title", format!("1 to {TITLE_MAX} characters")));
        }
        if title.chars().any(char::is_control) {
            return Err(invalid("title", "no control characters".into()));
        }
        if body.is_empty() || body.chars().count() > BODY_MAX {
            return Err(invalid("body", format!("1 to {BODY_MAX} characters")));
        }
        let mut list: Vec<String> = Vec::new();
        for tag in tags
            .split([',', ' '])
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            let tag = tag.trim_start_matches('#').to_lowercase();
            let shaped = tag.chars().count() <= TAG_MAX
                && tag
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '-' || c == '_');
            if !shaped {
                return Err(invalid(
                    "tags",
                    format!("letters, digits, - and _, up to {TAG_MAX} characters each"),
                ));
            }
            if !list.contains(&tag) {
                list.push(tag);
            }
        }
        if list.len() > TAGS_MAX {
            return Err(invalid("tags", format!("at most {TAGS_MAX}")));
        }
        Ok(Self {
            title,
            body,
            tags: list,
        })
    }
}

pub struct Memos {
    db: Db,
    /// Seal the log-channel posts of audit entries.
    keys: Keys,
}

impl Memos {
    pub fn new(db: Db, keys: Keys) -> Self {
        Self { db, keys }
    }

    pub async fn create(&self, grant: &Grant, draft: &Draft) -> Result<Memo> {
        grant.writable()?;
        let (guild, now) = (grant.guild_id(), now_unix());
        let author = grant.actor().discord_id.unwrap_or_default();
        let mut tx = self.db.begin_write().await?;
        sqlx::query(
            "INSERT INTO memos (guild_id, title, body, tags, author_discord_id, created_at, \
             updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(snowflake(guild))
        .bind(&draft.title)
        .bind(&draft.body)
        .bind(draft.tags.join(","))
        .bind(snowflake(author))
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| on_unique(DbError::from(e), MemoError::TitleTaken))?;
        let id = crate::db::last_insert_id(&mut tx).await?;
        let detail = json!({"memo_id": id, "title": draft.title});
        self.audit(&mut tx, grant.actor(), guild, "memo.created", &detail, now)
            .await?;
        tx.commit().await.map_err(DbError::from)?;
        self.get(guild, id).await
    }

    /// Replaces the memo's title, body and tags; the entry has the before and after of each.
    pub async fn update(&self, grant: &Grant, id: i64, draft: &Draft) -> Result<Memo> {
        grant.writable()?;
        let (guild, now) = (grant.guild_id(), now_unix());
        let mut tx = self.db.begin_write().await?;
        let before = memo_on(&mut tx, guild, id).await?;
        sqlx::query(
            "UPDATE memos SET title = ?, body = ?, tags = ?, updated_at = ? \
             WHERE id = ? AND guild_id = ?",
        )
        .bind(&draft.title)
        .bind(&draft.body)
        .bind(draft.tags.join(","))
        .bind(now)
        .bind(id)
        .bind(snowflake(guild))
        .execute(&mut *tx)
        .await
        .map_err(|e| on_unique(DbError::from(e), MemoError::TitleTaken))?;
        let changes = changes(&before, draft);
        let detail = json!({"memo_id": id, "title": draft.title, "changes": changes});
        self.audit(&mut tx, grant.actor(), guild, "memo.updated", &detail, now)
            .await?;
        tx.commit().await.map_err(DbError::from)?;
        self.get(guild, id).await
    }

    pub async fn delete(&self, grant: &Grant, id: i64) -> Result<Memo> {
        grant.writable()?;
        let (guild, now) = (grant.guild_id(), now_unix());
        let mut tx = self.db.begin_write().await?;
        let memo = memo_on(&mut tx, guild, id).await?;
        sqlx::query("DELETE FROM memos WHERE id = ? AND guild_id = ?")
            .bind(id)
            .bind(snowflake(guild))
            .execute(&mut *tx)
            .await
            .map_err(DbError::from)?;
        let detail = json!({"memo_id": id, "title": memo.title});
        self.audit(&mut tx, grant.actor(), guild, "memo.deleted", &detail, now)
            .await?;
        tx.commit().await.map_err(DbError::from)?;
        Ok(memo)
    }

    pub async fn get(&self, guild_id: u64, id: i64) -> Result<Memo> {
        let mut conn = self.db.pool().acquire().await.map_err(DbError::from)?;
        memo_on(&mut conn, guild_id, id).await
    }

    pub async fn by_title(&self, guild_id: u64, title: &str) -> Result<Memo> {
        let row = sqlx::query(select!("WHERE guild_id = ? AND title = ?"))
            .bind(snowflake(guild_id))
            .bind(title.trim())
            .fetch_optional(self.db.pool())
            .await
            .map_err(DbError::from)?;
        found(row)
    }

    /// The server's memos by title: `limit` of them from the `offset`-th.
    pub async fn page(&self, guild_id: u64, offset: u32, limit: u32) -> Result<Vec<Memo>> {
        let rows = sqlx::query(select!(
            "WHERE guild_id = ? ORDER BY title LIMIT ? OFFSET ?"
        ))
        .bind(snowflake(guild_id))
        .bind(i64::from(limit.clamp(1, 50)))
        .bind(i64::from(offset))
        .fetch_all(self.db.pool())
        .await
        .map_err(DbError::from)?;
        rows.iter().map(memo).collect()
    }

    /// Memos whose title, body or tags hold `query` (case-insensitive for ASCII letters).
    pub async fn search(&self, guild_id: u64, query: &str, limit: u32) -> Result<Vec<Memo>> {
        let query = query.trim().to_lowercase();
        // INSTR, not LIKE: `%` and `_` in the query stay literal.
        let rows = sqlx::query(select!(
            "WHERE guild_id = ? AND (INSTR(LOWER(title), ?) > 0 \
             OR INSTR(LOWER(body), ?) > 0 OR INSTR(tags, ?) > 0) ORDER BY title LIMIT ?"
        ))
        .bind(snowflake(guild_id))
        .bind(&query)
        .bind(&query)
        .bind(&query)
        .bind(i64::from(limit.clamp(1, 50)))
        .fetch_all(self.db.pool())
        .await
        .map_err(DbError::from)?;
        rows.iter().map(memo).collect()
    }

    /// Titles holding what was typed so far, for autocomplete (Discord shows at most 25).
    pub async fn titles(&self, guild_id: u64, typed: &str) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT title FROM memos WHERE guild_id = ? AND INSTR(LOWER(title), ?) > 0 \
             ORDER BY title LIMIT 25",
        )
        .bind(snowflake(guild_id))
        .bind(typed.trim().to_lowercase())
        .fetch_all(self.db.pool())
        .await
        .map_err(DbError::from)?;
        Ok(rows
            .iter()
            .filter_map(|r| r.try_get::<String, _>("title").ok())
            .collect())
    }

    async fn audit(
        &self,
        conn: &mut sqlx::AnyConnection,
        actor: &Actor,
        guild: u64,
        action: &str,
        detail: &serde_json::Value,
        now: i64,
    ) -> Result<()> {
        audit::record(conn, &self.keys, guild, actor, action, detail, now).await?;
        Ok(())
    }
}

async fn memo_on(conn: &mut sqlx::AnyConnection, guild: u64, id: i64) -> Result<Memo> {
    let row = sqlx::query(select!("WHERE guild_id = ? AND id = ?"))
        .bind(snowflake(guild))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(DbError::from)?;
    found(row)
}

/// The memo a lookup found, or `NotFound`.
fn found(row: Option<sqlx::any::AnyRow>) -> Result<Memo> {
    row.as_ref()
        .map(memo)
        .transpose()?
        .ok_or(MemoError::NotFound)
}

fn memo(row: &sqlx::any::AnyRow) -> Result<Memo> {
    let tags: String = row.try_get("tags").map_err(DbError::from)?;
    let get = |e: sqlx::Error| MemoError::Db(DbError::from(e));
    Ok(Memo {
        id: row.try_get("id").map_err(get)?,
        title: row.try_get("title").map_err(get)?,
        body: row.try_get("body").map_err(get)?,
        tags: tags
            .split(',')
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect(),
        author_discord_id: row
            .try_get::<i64, _>("author_discord_id")
            .map_err(get)?
            .to_string(),
        created_at: row.try_get("created_at").map_err(get)?,
        updated_at: row.try_get("updated_at").map_err(get)?,
    })
}

/// The fields an edit changed, a long body shortened.
fn changes(before: &Memo, after: &Draft) -> Vec<serde_json::Value> {
    let short = |body: &str| {
        let mut shown: String = body.chars().take(BODY_SHOWN).collect();
        if body.chars().count() > BODY_SHOWN {
            shown.push('…');
        }
        shown
    };
    let mut out = Vec::new();
    if before.title != after.title {
        out.push(json!({"field": "title", "before": before.title, "after": after.title}));
    }
    if before.body != after.body {
        out.push(
            json!({"field": "body", "before": short(&before.body), "after": short(&after.body)}),
        );
    }
    if before.tags != after.tags {
        out.push(json!({"field": "tags", "before": before.tags.join(", "),
            "after": after.tags.join(", ")}));
    }
    out
}
