//! The one integration-test binary: Herald end to end over HTTP, with a fake Discord.

mod fake_discord;
mod fake_oauth;
mod helpers;
mod smtp;

mod accounts;
mod bot;
mod browser;
mod dashboard;
mod database;
mod hardening;
mod http_basics;
mod keys;
mod metrics;
mod notifications;
mod notify_discord;
mod notify_kakao;
mod openapi;
mod outbox_crash;
mod pages;
mod process;
mod signed;
mod slash;
mod social;
mod team;
mod unit;
