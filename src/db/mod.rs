//! The database: one `AnyPool` over SQLite (embedded default) or MySQL/MariaDB, chosen by
//! `DATABASE_URL`. Both backends take `?` placeholders; the few dialect differences live in
//! `Backend`. Times are stored as Unix seconds (`BIGINT`), which both backends carry through
//! `Any` unchanged.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor, Row};

use crate::config::DatabaseConfig;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static MYSQL_MIGRATIONS: Migrator = sqlx::migrate!("migrations/mysql");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    MySql,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot create the database directory {path}: {source}")]
    Directory {
        path: String,
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl DbError {
    /// True when the error is a unique-constraint violation (e.g. an e-mail taken twice).
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, DbError::Sqlx(sqlx::Error::Database(e)) if e.is_unique_violation())
    }
}

impl DbError {
    /// True when MySQL/MariaDB rolled the transaction back to break a deadlock (it may be
    /// run again as it was).
    pub fn is_deadlock(&self) -> bool {
        matches!(self, DbError::Sqlx(sqlx::Error::Database(e)) if e.code().as_deref() == Some("40001"))
    }
}

/// The one place a unique violation gets its meaning: it becomes `conflict`; any other
/// database error stays what it is.
pub fn on_unique<E: From<DbError>>(err: DbError, conflict: E) -> E {
    if err.is_unique_violation() {
        conflict
    } else {
        err.into()
    }
}

/// A cheap, cloneable handle on the pool.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    /// Where writes go. On SQLite, one connection: SQLite lets one writer in at a time, and
    /// writers queued on the pool are handed the connection as soon as it is free, where
    /// writers racing for the file lock sleep in SQLite's busy handler (1 ms, 2 ms, 5 ms ...)
    /// and throughput falls by an order of magnitude. On MySQL/MariaDB, the pool itself.
    writer: AnyPool,
    backend: Backend,
}

impl Db {
    /// Connects (creating the SQLite file and its directory when missing). Does not migrate.
    pub async fn connect(config: &DatabaseConfig) -> Result<Self, DbError> {
        install_default_drivers();
        let backend = if config.url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::MySql
        };
        let url = match backend {
            Backend::Sqlite => prepare_sqlite_url(&config.url)?,
            Backend::MySql => config.url.clone(),
        };
        let pool = pool_options(backend, config.max_connections)
            .connect(&url)
            .await?;
        let writer = match backend {
            Backend::Sqlite => pool_options(backend, 1).connect(&url).await?,
            Backend::MySql => pool.clone(),
        };
        tracing::info!(target: "db", backend = ?backend, url = %config.redacted_url(), "database connected");
        Ok(Self {
            pool,
            writer,
            backend,
        })
    }

    /// Applies pending migrations of this backend.
    pub async fn migrate(&self) -> Result<(), DbError> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::MySql => &MYSQL_MIGRATIONS,
        };
        migrator.run(&self.writer).await?;
        tracing::info!(target: "db", "database migrated");
        Ok(())
    }

    pub async fn ping(&self) -> Result<(), DbError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// For reads, and for nothing that writes (see `writer`).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// For a single statement that writes, outside a transaction.
    pub fn writer(&self) -> &AnyPool {
        &self.writer
    }

    /// A transaction that is going to write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads and then writes fails with
    /// SQLITE_BUSY when another writer got there first, and the busy timeout does not cover
    /// that upgrade. Concurrent writers wait their turn instead.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, DbError> {
        let begin = match self.backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::MySql => "BEGIN",
        };
        Ok(self.writer.begin_with(begin).await?)
    }

    /// The tail of an `INSERT` that updates the row instead when `key` already exists, copying
    /// `columns` from the values the insert carried.
    pub fn upsert(&self, key: &[&str], columns: &[&str]) -> String {
        match self.backend {
            Backend::Sqlite => {
                let sets: Vec<String> = columns
                    .iter()
                    .map(|c| format!("{c} = excluded.{c}"))
                    .collect();
                format!(
                    "ON CONFLICT ({}) DO UPDATE SET {}",
                    key.join(", "),
                    sets.join(", ")
                )
            }
            Backend::MySql => {
                let sets: Vec<String> = columns
                    .iter()
                    .map(|c| format!("{c} = VALUES({c})"))
                    .collect();
                format!("ON DUPLICATE KEY UPDATE {}", sets.join(", "))
            }
        }
    }

    /// Appended to a `SELECT` that claims rows for a worker: ` FOR UPDATE SKIP LOCKED` on
    /// MySQL/MariaDB, so concurrent workers pass over each other's rows instead of queueing;
    /// nothing on SQLite, whose write transaction already excludes every other writer.
    pub fn skip_locked(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "",
            Backend::MySql => " FOR UPDATE SKIP LOCKED",
        }
    }

    /// Appended to a `SELECT` inside `begin_write`: ` FOR UPDATE` on MySQL/MariaDB, so the
    /// rows read stay as read until commit (and a concurrent writer's commit is seen); nothing
    /// on SQLite, whose write transaction already holds the whole database.
    pub fn lock_rows(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "",
            Backend::MySql => " FOR UPDATE",
        }
    }

    /// The UTC day (days since 1970-01-01) of a column of Unix seconds, as an integer: SQLite
    /// divides integers as integers, MySQL's `/` gives a decimal (`DIV` does not).
    pub fn day_of(&self, column: &str) -> String {
        match self.backend {
            Backend::Sqlite => format!("({column} / 86400)"),
            Backend::MySql => format!("({column} DIV 86400)"),
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }

    /// Every application table with its sorted column names (migration bookkeeping excluded).
    /// The schema-parity test compares this across backends.
    pub async fn schema(&self) -> Result<BTreeMap<String, Vec<String>>, DbError> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
                 AND m.name <> '_sqlx_migrations'"
            }
            Backend::MySql => {
                "SELECT CAST(table_name AS CHAR), CAST(column_name AS CHAR) \
                 FROM information_schema.columns \
                 WHERE table_schema = DATABASE() AND table_name <> '_sqlx_migrations'"
            }
        };
        let mut schema: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for row in sqlx::query(sql).fetch_all(&self.pool).await? {
            let table: String = row.try_get(0)?;
            let column: String = row.try_get(1)?;
            schema.entry(table).or_default().push(column);
        }
        schema.values_mut().for_each(|cols| cols.sort());
        Ok(schema)
    }
}

/// Creates the directory of a SQLite file and asks sqlx to create the file itself.
fn prepare_sqlite_url(url: &str) -> Result<String, DbError> {
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?;
    let file = options.get_filename();
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| DbError::Directory {
            path: dir.display().to_string(),
            source,
        })?;
    }
    let has_mode = url.contains("mode=");
    Ok(match (has_mode, url.contains('?')) {
        (true, _) => url.to_owned(),
        (false, true) => format!("{url}&mode=rwc"),
        (false, false) => format!("{url}?mode=rwc"),
    })
}

/// The id the last `INSERT` on this connection generated. (`Any` does not carry SQLite's
/// rowid in its query result, so ask the connection, in each backend's words.)
pub async fn last_insert_id(conn: &mut sqlx::AnyConnection) -> Result<i64, DbError> {
    let sql = if conn.backend_name().eq_ignore_ascii_case("sqlite") {
        "SELECT last_insert_rowid()"
    } else {
        // Unsigned in MySQL, which `Any` does not carry: ask for a signed value.
        "SELECT CAST(LAST_INSERT_ID() AS SIGNED)"
    };
    let row = sqlx::query(sql).fetch_one(&mut *conn).await?;
    Ok(row.try_get::<i64, _>(0)?)
}

/// A value for a query whose placeholders are decided at run time (optional filters).
pub enum Bind {
    Int(i64),
    Text(String),
}

/// A query built from constants with `?` for each of `binds`, in order: the values are bound,
/// never written into the SQL.
pub fn query_with(sql: String, binds: Vec<Bind>) -> AnyQuery<'static> {
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for bind in binds {
        query = match bind {
            Bind::Int(v) => query.bind(v),
            Bind::Text(v) => query.bind(v),
        };
    }
    query
}

pub type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// Seconds since the Unix epoch: the one time representation in the database.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// Pool settings for `backend`, each new connection set up for Herald's use.
fn pool_options(backend: Backend, max_connections: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                let setup = match backend {
                    // WAL lets readers and one writer work at once; the busy timeout makes
                    // a second writer wait instead of failing at once.
                    Backend::Sqlite => {
                        "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
                         PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL;"
                    }
                    Backend::MySql => "SET time_zone = '+00:00'",
                };
                conn.execute(setup).await?;
                Ok(())
            })
        })
}
