//! A server's team tasks: a title, assignees and an optional due time. Managers add and assign;
//! an assignee or a manager marks one done or reopens it. Every change is an audit entry of the
//! server, in the same transaction.
//!
//! Before the due time the assignees are alerted in the channel the task was added in (e.g.
//! 24 h and 1 h before): each alert is an outbox notification queued with the task, so it is
//! retried and recorded like any post. When the task changes (assignees, done, reopened) its
//! waiting alerts are cancelled and queued again from what it now is.

use std::sync::Arc;

use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::crypto::Keys;
use crate::db::{Db, DbError, now_unix};
use crate::guilds::audit::{self, Actor};
use crate::guilds::presence::snowflake;
use crate::guilds::{Grant, GuildsError};
use crate::i18n::{self, Locale};
use crate::notifications::request::{Channel, Draft, Priority, Recipient};
use crate::notifications::store;

pub const TITLE_MAX: usize = 200;
pub const ASSIGNEES_MAX: usize = 10;
/// Alerts per task, and how far before the due time one may be.
pub const ALERTS_MAX: usize = 3;
const ALERT_MAX_SECS: i64 = 30 * 86_400;
/// When nothing else is asked: a day and an hour before.
pub const DEFAULT_ALERTS: [i64; 2] = [86_400, 3600];
/// The prefix of an alert's Done button: `task:<id>:done`.
pub const BUTTON: &str = "task";

#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("no task of this server has that number")]
    NotFound,
    #[error("only its assignees and the server's managers may change a task")]
    NotAllowed,
    #[error(transparent)]
    Guilds(#[from] GuildsError),
    #[error(transparent)]
    Accounts(#[from] crate::accounts::AccountsError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for TaskError {
    fn from(err: sqlx::Error) -> Self {
        Self::Db(err.into())
    }
}

type Result<T, E = TaskError> = std::result::Result<T, E>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub id: i64,
    pub guild_id: u64,
    pub channel_id: u64,
    pub title: String,
    pub due_at: Option<i64>,
    /// Seconds before the due time, largest first.
    pub alerts: Vec<i64>,
    /// `open` or `done`.
    pub state: String,
    pub created_by: u64,
    pub done_by: Option<u64>,
    pub assignees: Vec<u64>,
}

/// A new task as typed, checked once.
#[derive(Debug, Clone)]
pub struct NewTask {
    pub channel_id: u64,
    pub title: String,
    pub due_at: Option<i64>,
    pub alerts: Vec<i64>,
    pub assignees: Vec<u64>,
}

impl NewTask {
    pub fn check(mut self) -> Result<Self> {
        self.title = self.title.trim().to_owned();
        let count = self.title.chars().count();
        if count == 0 || count > TITLE_MAX || self.title.chars().any(char::is_control) {
            return Err(invalid("title", format!("1 to {TITLE_MAX} characters")));
        }
        self.assignees.sort_unstable();
        self.assignees.dedup();
        if self.assignees.len() > ASSIGNEES_MAX {
            return Err(invalid("assignees", format!("at most {ASSIGNEES_MAX}")));
        }
        Ok(self)
    }
}

/// `24h, 1h` (or `30m`, `2d`; `none` for no alert) into seconds before the due time.
pub fn parse_alerts(raw: &str) -> Result<Vec<i64>> {
    let raw = raw.trim().to_lowercase();
    if raw == "none" || raw == "없음" {
        return Ok(Vec::new());
    }
    let mut alerts = Vec::new();
    for part in raw.split([',', ' ']).filter(|p| !p.is_empty()) {
        let secs = crate::notifications::request::parse_delay(part)
            .filter(|s| (60..=ALERT_MAX_SECS).contains(s))
            .ok_or_else(|| invalid("alerts", "like 24h, 1h or 30m, up to 30d".into()))?;
        alerts.push(secs);
    }
    alerts.sort_unstable_by(|a, b| b.cmp(a));
    alerts.dedup();
    if alerts.len() > ALERTS_MAX {
        return Err(invalid("alerts", format!("at most {ALERTS_MAX}")));
    }
    Ok(alerts)
}

fn invalid(field: &'static str, reason: String) -> TaskError {
    TaskError::Invalid { field, reason }
}

/// Who acts on a task, and whether they manage the server (a write grant).
pub struct Doer<'a> {
    pub actor: &'a Actor,
    pub manages: bool,
}

pub struct Tasks {
    db: Db,
    /// Who a task's creator is on Herald (the account its alerts are sent for).
    accounts: Arc<crate::accounts::Accounts>,
    /// Seal the alerts at rest, as Herald's other own posts.
    keys: Keys,
    wake: Arc<tokio::sync::Notify>,
}

impl Tasks {
    pub fn new(
        db: Db,
        accounts: Arc<crate::accounts::Accounts>,
        keys: Keys,
        wake: Arc<tokio::sync::Notify>,
    ) -> Self {
        Self {
            db,
            accounts,
            keys,
            wake,
        }
    }

    /// Adds a task and queues its alerts; answers it and how many alerts were queued.
    pub async fn create(&self, grant: &Grant, new: NewTask) -> Result<(Task, usize)> {
        grant.writable()?;
        let new = new.check()?;
        let (guild, now) = (grant.guild_id(), now_unix());
        let creator = grant.actor().discord_id.unwrap_or_default();
        let mut tx = self.db.begin_write().await?;
        sqlx::query(
            "INSERT INTO tasks (guild_id, channel_id, title, due_at, alerts, state, created_by, \
             created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'open', ?, ?, ?)",
        )
        .bind(snowflake(guild))
        .bind(snowflake(new.channel_id))
        .bind(&new.title)
        .bind(new.due_at)
        .bind(join(&new.alerts))
        .bind(snowflake(creator))
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let id = crate::db::last_insert_id(&mut tx).await?;
        set_assignees(&mut tx, id, &new.assignees).await?;
        let task = task_on(&mut tx, guild, id).await?;
        let queued = self.realert(&mut tx, &task, grant.actor(), now).await?;
        let detail = json!({"task_id": id, "title": task.title, "due_at": task.due_at,
            "assignees": ids(&task.assignees)});
        audit::record(
            &mut tx,
            &self.keys,
            guild,
            grant.actor(),
            "task.created",
            &detail,
            now,
        )
        .await?;
        tx.commit().await?;
        self.wake.notify_one();
        Ok((task, queued))
    }

    /// Adds or removes an assignee (a manager's change); the alerts follow.
    pub async fn assign(&self, grant: &Grant, id: i64, member: u64, add: bool) -> Result<Task> {
        grant.writable()?;
        let (guild, now) = (grant.guild_id(), now_unix());
        let mut tx = self.db.begin_write().await?;
        let before = self.locked(&mut tx, guild, id).await?;
        let mut assignees = before.assignees.clone();
        assignees.retain(|a| *a != member);
        if add {
            assignees.push(member);
        }
        if assignees.len() > ASSIGNEES_MAX {
            return Err(invalid("assignees", format!("at most {ASSIGNEES_MAX}")));
        }
        set_assignees(&mut tx, id, &assignees).await?;
        touch(&mut tx, id, now).await?;
        let task = task_on(&mut tx, guild, id).await?;
        self.realert(&mut tx, &task, grant.actor(), now).await?;
        let detail = json!({"task_id": id, "title": task.title, "changes": [{
            "field": "assignees", "before": mentions(&before.assignees),
            "after": mentions(&task.assignees)}]});
        audit::record(
            &mut tx,
            &self.keys,
            guild,
            grant.actor(),
            "task.assigned",
            &detail,
            now,
        )
        .await?;
        tx.commit().await?;
        self.wake.notify_one();
        Ok(task)
    }

    /// Marks a task done (`true`) or open again; an assignee or a manager may.
    pub async fn set_done(&self, guild: u64, id: i64, doer: &Doer<'_>, done: bool) -> Result<Task> {
        let now = now_unix();
        let mut tx = self.db.begin_write().await?;
        let before = self.locked(&mut tx, guild, id).await?;
        let who = doer.actor.discord_id.unwrap_or_default();
        if !doer.manages && !before.assignees.contains(&who) {
            return Err(TaskError::NotAllowed);
        }
        if (before.state == "done") == done {
            // Pressed twice, or closed by two at once: already so, nothing to write.
            return Ok(before);
        }
        let (state, done_by) = if done {
            ("done", Some(snowflake(who)))
        } else {
            ("open", None)
        };
        sqlx::query("UPDATE tasks SET state = ?, done_by = ?, updated_at = ? WHERE id = ?")
            .bind(state)
            .bind(done_by)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let task = task_on(&mut tx, guild, id).await?;
        self.realert(&mut tx, &task, doer.actor, now).await?;
        let action = if done { "task.done" } else { "task.reopened" };
        let detail = json!({"task_id": id, "title": task.title, "changes": [{
            "field": "state", "before": before.state, "after": task.state}]});
        audit::record(&mut tx, &self.keys, guild, doer.actor, action, &detail, now).await?;
        tx.commit().await?;
        self.wake.notify_one();
        Ok(task)
    }

    /// The server's tasks, open first then by due time: `limit` from the `offset`-th.
    /// `assignee` keeps only theirs; `open` only the open ones.
    pub async fn list(
        &self,
        guild: u64,
        open: bool,
        assignee: Option<u64>,
        offset: u32,
        limit: u32,
    ) -> Result<Vec<Task>> {
        let mut sql = String::from("SELECT t.* FROM tasks t WHERE t.guild_id = ?");
        if open {
            sql.push_str(" AND t.state = 'open'");
        }
        if assignee.is_some() {
            sql.push_str(
                " AND EXISTS (SELECT 1 FROM task_assignees a WHERE a.task_id = t.id \
                 AND a.discord_id = ?)",
            );
        }
        // Open before done; no due time after every due time.
        sql.push_str(
            " ORDER BY CASE WHEN t.state = 'open' THEN 0 ELSE 1 END, \
             CASE WHEN t.due_at IS NULL THEN 1 ELSE 0 END, t.due_at, t.id LIMIT ? OFFSET ?",
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(snowflake(guild));
        if let Some(who) = assignee {
            query = query.bind(snowflake(who));
        }
        let rows = query
            .bind(i64::from(limit.clamp(1, 50)))
            .bind(i64::from(offset))
            .fetch_all(self.db.pool())
            .await?;
        let mut conn = self.db.pool().acquire().await.map_err(DbError::from)?;
        let mut tasks = Vec::with_capacity(rows.len());
        for row in &rows {
            tasks.push(with_assignees(&mut conn, task(row)?).await?);
        }
        Ok(tasks)
    }

    pub async fn get(&self, guild: u64, id: i64) -> Result<Task> {
        let mut conn = self.db.pool().acquire().await.map_err(DbError::from)?;
        task_on(&mut conn, guild, id).await
    }

    /// Open tasks whose title holds `typed`, for autocomplete: (id, label).
    pub async fn choices(&self, guild: u64, typed: &str, open: bool) -> Result<Vec<(i64, String)>> {
        let rows = sqlx::query(
            "SELECT id, title FROM tasks WHERE guild_id = ? AND (state = 'open') = ? \
             AND INSTR(LOWER(title), ?) > 0 ORDER BY id DESC LIMIT 25",
        )
        .bind(snowflake(guild))
        .bind(open)
        .bind(typed.trim().to_lowercase())
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let id: i64 = r.try_get("id")?;
                let title: String = r.try_get("title")?;
                let title: String = title.chars().take(80).collect();
                Ok((id, format!("#{id} · {title}")))
            })
            .collect()
    }
}

impl Tasks {
    async fn locked(&self, conn: &mut AnyConnection, guild: u64, id: i64) -> Result<Task> {
        let sql = format!(
            "SELECT id FROM tasks WHERE id = ? AND guild_id = ?{}",
            self.db.lock_rows()
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(snowflake(guild))
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(TaskError::NotFound)?;
        task_on(conn, guild, id).await
    }

    /// Cancels the task's waiting alerts and, for an open task with a due time and assignees,
    /// queues one per alert still ahead. Queued under the acting user's Herald account, else
    /// under the last who saved the server's settings; answers how many were queued.
    async fn realert(
        &self,
        conn: &mut AnyConnection,
        task: &Task,
        actor: &Actor,
        now: i64,
    ) -> Result<usize> {
        let waiting = sqlx::query("SELECT notification_id FROM task_alerts WHERE task_id = ?")
            .bind(task.id)
            .fetch_all(&mut *conn)
            .await?;
        for row in waiting {
            store::cancel_on(conn, row.try_get(0)?, now).await?;
        }
        sqlx::query("DELETE FROM task_alerts WHERE task_id = ?")
            .bind(task.id)
            .execute(&mut *conn)
            .await?;
        let Some(due) = task.due_at.filter(|_| task.state == "open") else {
            return Ok(0);
        };
        if task.assignees.is_empty() {
            return Ok(0);
        }
        let Some(owner) = self.alert_owner(conn, task, actor).await? else {
            return Ok(0);
        };
        let locale = crate::guilds::relay::language(conn, task.guild_id).await?;
        let mut queued = 0;
        for before in task.alerts.iter().filter(|b| due - **b > now) {
            let draft = self.alert(task, due, locale);
            let draft = Draft {
                send_at: Some(due - before),
                ..draft
            };
            let id = store::insert_system_on(conn, owner, &draft, now).await?;
            sqlx::query("INSERT INTO task_alerts (task_id, notification_id) VALUES (?, ?)")
                .bind(task.id)
                .bind(id)
                .execute(&mut *conn)
                .await?;
            queued += 1;
        }
        Ok(queued)
    }

    /// Whom the outbox sends a task's alerts for: the acting user's Herald account, else the
    /// account of who added the task, else the last who saved the server's settings.
    async fn alert_owner(
        &self,
        conn: &mut AnyConnection,
        task: &Task,
        actor: &Actor,
    ) -> Result<Option<i64>> {
        if let Some(user) = actor.user_id {
            return Ok(Some(user));
        }
        if let Some(user) = self.accounts.user_of_discord(task.created_by).await? {
            return Ok(Some(user));
        }
        Ok(crate::guilds::relay::owner(conn, task.guild_id, actor).await?)
    }

    /// An alert: the assignees pinged in the task's channel, with a Done button.
    fn alert(&self, task: &Task, due: i64, locale: Locale) -> Draft {
        let subject = i18n::message(
            locale,
            "task.alert",
            &[
                ("mentions", &mentions(&task.assignees)),
                ("id", &task.id.to_string()),
                ("due", &format!("<t:{due}:R>")),
            ],
        );
        let button = json!({"id": format!("{BUTTON}:{}:done", task.id),
            "label": i18n::text(locale, "task.button_done"), "style": "success"});
        Draft {
            channels: vec![Channel::Discord],
            recipients: vec![Recipient {
                discord_channel: Some(task.channel_id.to_string()),
                ..Recipient::default()
            }],
            subject,
            text: self.keys.encrypt(&task.title),
            html: None,
            data: Some(json!({"ping": ids(&task.assignees), "buttons": [button],
                "task_id": task.id})),
            priority: Priority::Normal,
            send_at: None,
        }
    }
}

async fn set_assignees(conn: &mut AnyConnection, id: i64, assignees: &[u64]) -> Result<()> {
    sqlx::query("DELETE FROM task_assignees WHERE task_id = ?")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    for who in assignees {
        sqlx::query("INSERT INTO task_assignees (task_id, discord_id) VALUES (?, ?)")
            .bind(id)
            .bind(snowflake(*who))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

async fn touch(conn: &mut AnyConnection, id: i64, now: i64) -> Result<()> {
    sqlx::query("UPDATE tasks SET updated_at = ? WHERE id = ?")
        .bind(now)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn task_on(conn: &mut AnyConnection, guild: u64, id: i64) -> Result<Task> {
    let row = sqlx::query("SELECT * FROM tasks WHERE id = ? AND guild_id = ?")
        .bind(id)
        .bind(snowflake(guild))
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(TaskError::NotFound)?;
    with_assignees(conn, task(&row)?).await
}

async fn with_assignees(conn: &mut AnyConnection, mut task: Task) -> Result<Task> {
    let rows =
        sqlx::query("SELECT discord_id FROM task_assignees WHERE task_id = ? ORDER BY discord_id")
            .bind(task.id)
            .fetch_all(&mut *conn)
            .await?;
    task.assignees = rows
        .iter()
        .map(|r| r.try_get::<i64, _>(0).map(|v| v as u64))
        .collect::<Result<_, _>>()?;
    Ok(task)
}

fn task(row: &AnyRow) -> Result<Task> {
    let alerts: String = row.try_get("alerts")?;
    Ok(Task {
        id: row.try_get("id")?,
        guild_id: row.try_get::<i64, _>("guild_id")? as u64,
        channel_id: row.try_get::<i64, _>("channel_id")? as u64,
        title: row.try_get("title")?,
        due_at: row.try_get("due_at")?,
        alerts: alerts.split(',').filter_map(|a| a.parse().ok()).collect(),
        state: row.try_get("state")?,
        created_by: row.try_get::<i64, _>("created_by")? as u64,
        done_by: row.try_get::<Option<i64>, _>("done_by")?.map(|v| v as u64),
        assignees: Vec::new(),
    })
}

fn join(alerts: &[i64]) -> String {
    alerts
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Discord ids as strings (as the API and the audit log show snowflakes).
fn ids(users: &[u64]) -> Vec<String> {
    users.iter().map(u64::to_string).collect()
}

/// `<@1> <@2>`, or `-` for nobody.
pub fn mentions(users: &[u64]) -> String {
    if users.is_empty() {
        return "-".into();
    }
    users
        .iter()
        .map(|u| format!("<@{u}>"))
        .collect::<Vec<_>>()
        .join(" ")
}
