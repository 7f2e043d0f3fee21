//! Tests of `herald::telemetry`.

use herald::config::{LogConfig, LogFormat};
use herald::telemetry::*;

#[test]
fn masks_email_like_the_seed() {
    assert_eq!(mask_email("johndoe@example.com"), "**hndo*@example.com");
    assert_eq!(mask_email("abc@x.io"), "***@x.io");
    assert_eq!(mask_email("not-an-email"), "***");
}

#[test]
fn each_category_lands_in_its_own_json_file() {
    categories_in_files(LogFormat::Json);
}

#[test]
fn with_standard_output_off_the_files_still_get_everything() {
    categories_in_files(LogFormat::Off);
}

fn categories_in_files(format: LogFormat) {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        dir: dir.path().to_path_buf(),
        retention: 2,
        filter: "info".into(),
        format,
    };
    let (subscriber, guard) = build(&config).unwrap();
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(target: "access", path = "/x", status = 200u16, "request");
        tracing::info!(target: "db", "connected");
        tracing::info!(target: "sqlx::query", "select 1");
        tracing::info!("app started");
        tracing::debug!("filtered out by the level");
    });
    drop(guard);
    let read = |category: &str| {
        let sub = dir.path().join(category);
        let file = std::fs::read_dir(&sub).unwrap().next().unwrap().unwrap();
        let name = file.file_name().into_string().unwrap();
        assert!(
            name.starts_with(category) && name.ends_with(".log"),
            "{name}"
        );
        std::fs::read_to_string(file.path()).unwrap()
    };
    let access = read("access");
    let line: serde_json::Value = serde_json::from_str(access.lines().next().unwrap()).unwrap();
    assert_eq!(line["path"], "/x");
    assert_eq!(line["status"], 200);
    let db = read("db");
    assert!(db.contains("connected") && db.contains("select 1"));
    let app = read("app");
    assert!(app.contains("app started") && !app.contains("request"));
    assert!(!app.contains("filtered out"));
}
