//! Tests of `herald::config`.

use std::collections::HashMap;

use herald::config::*;

fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn defaults_need_no_configuration() {
    let config = Config::from_map(&vars(&[])).unwrap();
    assert_eq!(config.env, Environment::Development);
    assert_eq!(config.port, 8000);
    assert_eq!(config.host.to_string(), "127.0.0.1");
    assert_eq!(config.database.url, "sqlite://data/herald.db");
    assert_eq!(config.discord.api_base.as_str(), "https://discord.com/");
    assert!(config.discord.token.is_none());
    assert!(config.secret_key.expose().len() >= SECRET_KEY_MIN_LEN);
    assert!(
        config.secret_key_ephemeral,
        "an ephemeral key is known as such"
    );
}

#[test]
fn port_falls_back_to_platform_port() {
    let config = Config::from_map(&vars(&[("PORT", "9123")])).unwrap();
    assert_eq!(config.port, 9123);
    let config = Config::from_map(&vars(&[("PORT", "9123"), ("HERALD_PORT", "9000")])).unwrap();
    assert_eq!(config.port, 9000);
}

#[test]
fn bad_values_name_their_variable_and_all_are_reported() {
    let err = Config::from_map(&vars(&[
        ("HERALD_PORT", "eighty"),
        ("DISCORD_API_BASE", "http://127.0.0.1:9/api/v10"),
        ("TRUSTED_PROXIES", "10.0.0.0/8,not-an-ip"),
    ]))
    .unwrap_err();
    let vars: Vec<_> = err.0.iter().map(|i| i.var).collect();
    assert_eq!(vars, ["HERALD_PORT", "DISCORD_API_BASE", "TRUSTED_PROXIES"]);
    let text = err.to_string();
    assert!(
        text.contains("HERALD_PORT: expected a port number"),
        "{text}"
    );
}

#[test]
fn production_requires_a_secret_key() {
    let err = Config::from_map(&vars(&[("HERALD_ENV", "production")])).unwrap_err();
    assert_eq!(err.0[0].var, "SECRET_KEY");
    let key = "k".repeat(40);
    let config =
        Config::from_map(&vars(&[("HERALD_ENV", "production"), ("SECRET_KEY", &key)])).unwrap();
    assert!(!config.secret_key_ephemeral);
    assert_eq!(config.log.format, LogFormat::Json);
}

#[test]
fn secrets_never_show_in_debug_or_describe() {
    let config = Config::from_map(&vars(&[
        ("DISCORD_TOKEN", "bot-token-value"),
        ("SECRET_KEY", &"s3cr3t".repeat(8)),
        ("DATABASE_URL", "mysql://herald:hunter2@db:3306/herald"),
    ]))
    .unwrap();
    let debug = format!("{config:?}");
    let described = format!("{:?}", config.describe());
    for text in [debug, described] {
        assert!(!text.contains("bot-token-value"), "{text}");
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}

#[test]
fn env_example_documents_every_variable() {
    let example = include_str!("../../../.env.example");
    let config = Config::from_map(&vars(&[])).unwrap();
    for (var, _) in config.describe() {
        let line = format!("\n{var}=");
        assert!(example.contains(&line), ".env.example lacks {var}");
    }
    // And .env.example itself is a valid configuration.
    let parsed: HashMap<String, String> = example
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    Config::from_map(&parsed).expect(".env.example is valid");
}

#[test]
fn shard_ranges_parse_and_reject_nonsense() {
    let shards = |raw: &str| ShardRange::parse(raw).map(|s| (s.first, s.last, s.total));
    assert_eq!(shards("0-3/8"), Some((0, 3, 8)));
    assert_eq!(shards("2/8"), Some((2, 2, 8)));
    assert_eq!(shards("3-1/8"), None);
    assert_eq!(shards("0-8/8"), None);
    assert_eq!(shards("0-3"), None);
    let err = Config::from_map(&vars(&[("DISCORD_SHARDS", "9/4")])).unwrap_err();
    assert_eq!(err.0[0].var, "DISCORD_SHARDS");
}

#[test]
fn lists_and_single_addresses_parse() {
    let config = Config::from_map(&vars(&[
        ("TRUSTED_PROXIES", "10.0.0.1, 192.168.0.0/16"),
        ("ALLOWED_HOSTS", "Herald.example.com,*.example.org"),
        ("DATABASE_URL", "mariadb://root@127.0.0.1/herald"),
    ]))
    .unwrap();
    assert_eq!(config.http.trusted_proxies.len(), 2);
    assert_eq!(
        config.http.allowed_hosts,
        ["herald.example.com", "*.example.org"]
    );
    assert_eq!(config.database.url, "mysql://root@127.0.0.1/herald");
}

#[test]
fn log_format_off_is_understood_and_nonsense_is_refused() {
    let config = Config::from_map(&vars(&[("LOG_FORMAT", "off")])).unwrap();
    assert_eq!(config.log.format, herald::config::LogFormat::Off);
    let err = Config::from_map(&vars(&[("LOG_FORMAT", "xml")])).unwrap_err();
    assert!(err.to_string().contains("LOG_FORMAT"), "{err}");
}
