//! The database layer on both backends: migrations, SQLite settings, schema parity.

use herald::config::DatabaseConfig;
use herald::db::{Backend as DbBackend, Db};
use herald::guilds::{self, GuildInfo};
use sqlx::Row;

use crate::db_tests;
use crate::helpers::*;

async fn migrated(db: &TestDb) -> Db {
    let config = DatabaseConfig {
        url: db.url.clone(),
        max_connections: 2,
    };
    let db = Db::connect(&config).await.unwrap();
    db.migrate().await.unwrap();
    db
}

async fn migrations_apply_once_and_again_without_change(backend: Backend) {
    let test_db = TestDb::new(backend).await;
    let db = migrated(&test_db).await;
    let before = db.schema().await.unwrap();
    db.migrate().await.unwrap();
    assert_eq!(db.schema().await.unwrap(), before);
    assert!(before.contains_key("guilds"), "{before:?}");
}
db_tests!(migrations_apply_once_and_again_without_change);

async fn guilds_are_recorded_updated_and_left(backend: Backend) {
    let test_db = TestDb::new(backend).await;
    let db = migrated(&test_db).await;
    let keys = herald::crypto::Keys::derive(&herald::crypto::Secret::new("test"));
    let mut guild = GuildInfo {
        id: 1_234_567_890_123_456_789,
        name: "Team".into(),
        icon: None,
        member_count: Some(5),
        preferred_locale: Some("ko".into()),
    };
    guilds::record_present(&db, &keys, &guild).await.unwrap();
    guild.name = "Team renamed".into();
    guilds::record_present(&db, &keys, &guild).await.unwrap();
    assert_eq!(
        guilds::active_count(&db).await.unwrap(),
        1,
        "an update is not a second server"
    );
    let name: String = sqlx::query("SELECT name FROM guilds WHERE id = ?")
        .bind(guild.id as i64)
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get(0);
    assert_eq!(name, "Team renamed");
    guilds::record_left(&db, &keys, guild.id, &guilds::audit::Actor::bot())
        .await
        .unwrap();
    assert_eq!(guilds::active_count(&db).await.unwrap(), 0);
    guilds::record_present(&db, &keys, &guild).await.unwrap();
    assert_eq!(
        guilds::active_count(&db).await.unwrap(),
        1,
        "a rejoin counts again"
    );
}
db_tests!(guilds_are_recorded_updated_and_left);

#[tokio::test]
async fn sqlite_runs_with_wal_foreign_keys_and_a_busy_timeout() {
    let test_db = TestDb::new(Backend::Sqlite).await;
    let db = migrated(&test_db).await;
    assert_eq!(db.backend(), DbBackend::Sqlite);
    let pool = db.pool();
    let pragma = |name: &'static str| async move {
        let row = sqlx::query(name).fetch_one(pool).await.unwrap();
        row.try_get::<String, _>(0)
            .or_else(|_| row.try_get::<i64, _>(0).map(|n| n.to_string()))
            .unwrap()
    };
    assert_eq!(pragma("PRAGMA journal_mode").await, "wal");
    assert_eq!(pragma("PRAGMA foreign_keys").await, "1");
    assert_eq!(pragma("PRAGMA busy_timeout").await, "5000");
}

#[tokio::test]
async fn sqlite_file_and_its_directory_are_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/deeper/herald.db");
    let config = DatabaseConfig {
        url: format!("sqlite://{}", path.display()),
        max_connections: 1,
    };
    let db = Db::connect(&config).await.unwrap();
    db.migrate().await.unwrap();
    assert!(path.exists());
}

/// Both backends end with the same tables and columns, so their migrations cannot drift.
#[tokio::test]
#[cfg_attr(
    not(herald_test_mysql),
    ignore = "set HERALD_TEST_MYSQL_URL to compare with MySQL/MariaDB"
)]
async fn both_backends_end_with_the_same_schema() {
    let sqlite = TestDb::new(Backend::Sqlite).await;
    let mysql = TestDb::new(Backend::MySql).await;
    let sqlite_schema = migrated(&sqlite).await.schema().await.unwrap();
    let mysql_schema = migrated(&mysql).await.schema().await.unwrap();
    assert!(!sqlite_schema.is_empty());
    assert_eq!(sqlite_schema, mysql_schema);
}
