//! Herald: a Discord bot that owns its runtime and serves a web surface from the same process.
//!
//! `src/` holds the boot and the shared domain; `commands/` (the bot's cogs) and `web/` (the
//! HTTP surface) are thin adapters over it, mounted here so the crate stays one package.
//! Only `app` wires the adapters together; nothing else in `src/` reaches into them.

pub mod accounts;
pub mod app;
pub mod cache;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod db;
pub mod guilds;
pub mod i18n;
pub mod keys;
pub mod limits;
pub mod mail;
pub mod memos;
pub mod metrics;
pub mod notifications;
pub mod probe;
pub mod reminders;
pub mod shared;
pub mod state;
pub mod stats;
pub mod tasks;
pub mod telemetry;
pub mod templates;
pub mod when;

#[path = "../commands/mod.rs"]
pub mod commands;
#[path = "../web/mod.rs"]
pub mod web;

/// The version shown by `--version`, the OpenAPI document and `/api/v1/status`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
