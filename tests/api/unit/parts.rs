//! Pure functions and small parts, tested directly.

use std::time::Duration;

use herald::accounts::email::Email;
use herald::accounts::hashing::{Busy, Hasher, Lane};
use herald::i18n::{self, Locale};
use herald::limits::{Limit, MemoryStore, ip_subject};

#[test]
fn addresses_are_canonical_and_lookalikes_stay_apart() {
    let canonical = |raw: &str| Email::parse(raw).map(|e| e.to_string());
    assert_eq!(
        canonical("  John.Doe@Example.COM ").as_deref(),
        Some("john.doe@example.com")
    );
    assert_eq!(
        canonical("ｊｏｈｎ＠example.com").as_deref(),
        Some("john@example.com"),
        "full width"
    );
    assert_eq!(
        canonical("victim@exámple.com").as_deref(),
        Some("victim@xn--exmple-qta.com")
    );
    assert_eq!(
        canonical("victím@example.com").as_deref(),
        Some("victím@example.com")
    );
    assert_ne!(
        canonical("victím@example.com"),
        canonical("victim@example.com")
    );
    for bad in [
        "",
        "no-at",
        "@example.com",
        "a@b",
        "a@.com",
        "a b@example.com",
        "a@example..com",
        "a@b@c.com",
        "<a>@x.com",
        "vic\u{200b}tim@example.com",
        "a\u{2060}@example.com",
        "a@exa\u{ad}mple.com",
        ".a@example.com",
        "a.@example.com",
        "a@exa_mple.com",
    ] {
        assert!(Email::parse(bad).is_none(), "{bad:?}");
    }
    assert!(Email::parse(&format!("{}@example.com", "a".repeat(65))).is_none());
    assert!(Email::parse(&"a".repeat(100_000)).is_none());
}

#[test]
fn limit_stores_hold_a_bounded_number_of_keys() {
    let store = MemoryStore::with_capacity(100);
    let limit = Limit::new("test", 5, 60);
    for i in 0..1_000 {
        store.take(&limit, limit.key(&[&i.to_string()])).unwrap();
    }
    assert!(store.len() <= 100, "{}", store.len());
    let key = limit.key(&["x".repeat(1 << 20).as_str()]);
    assert_eq!(
        key.hex().len(),
        32,
        "a key is 16 bytes whatever it was made from"
    );
}

#[test]
fn a_limit_refuses_past_its_budget_and_refunds_give_back() {
    let store = MemoryStore::default();
    let limit = Limit::new("test", 2, 60);
    let key = limit.key(&["a"]);
    store.take(&limit, key).unwrap();
    store.take(&limit, key).unwrap();
    let wait = store.take(&limit, key).unwrap_err();
    assert!((1..=60).contains(&wait.0));
    store.refund(key);
    assert!(store.take(&limit, key).is_ok());
    assert!(
        store.take(&limit, limit.key(&["b"])).is_ok(),
        "keys are separate"
    );
}

#[test]
fn ipv6_addresses_count_by_their_64() {
    let subject = |ip: &str| ip_subject(ip.parse().unwrap());
    assert_eq!(subject("2001:db8:1:2::1"), subject("2001:db8:1:2:ffff::9"));
    assert_ne!(subject("2001:db8:1:2::1"), subject("2001:db8:1:3::1"));
    assert_eq!(subject("::ffff:192.0.2.1"), "192.0.2.1");
    assert_eq!(subject("192.0.2.1"), "192.0.2.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_hashing_lane_answers_busy_and_sign_in_keeps_going() {
    let hasher = std::sync::Arc::new(Hasher::new(2, 8, 1));
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let held = {
        let hasher = hasher.clone();
        tokio::spawn(async move { hasher.run(Lane::Other, move || gate.recv().ok()).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        hasher.run(Lane::Other, || ()).await,
        Err(Busy),
        "the other lane is full"
    );
    for _ in 0..3 {
        let sign_in = tokio::time::timeout(Duration::from_secs(2), hasher.run(Lane::SignIn, || 1));
        assert_eq!(sign_in.await.expect("sign-in is not starved"), Ok(1));
    }
    release.send(()).unwrap();
    assert!(held.await.unwrap().is_ok());
    assert_eq!(hasher.run(Lane::Other, || 2).await, Ok(2));
}

/// `key.one` / `key.other` count as `key`: languages differ in plural forms, not in messages.
fn messages(locale: Locale) -> std::collections::BTreeMap<String, Vec<String>> {
    let catalogue = i18n::catalogue(locale);
    let mut out = std::collections::BTreeMap::new();
    for key in catalogue.keys() {
        let base = key
            .strip_suffix(".one")
            .or(key.strip_suffix(".other"))
            .unwrap_or(key);
        let mut holes: Vec<String> = i18n::placeholders(catalogue.get(key).unwrap())
            .iter()
            .map(|p| p.to_string())
            .collect();
        holes.sort();
        holes.dedup();
        out.entry(base.to_owned()).or_insert(holes);
    }
    out
}

#[test]
fn both_languages_have_the_same_messages_and_placeholders() {
    let (en, ko) = (messages(Locale::En), messages(Locale::Ko));
    let en_keys: Vec<_> = en.keys().collect();
    let ko_keys: Vec<_> = ko.keys().collect();
    assert_eq!(
        en_keys, ko_keys,
        "the same keys in locales/en.txt and locales/ko.txt"
    );
    for (key, holes) in &en {
        assert_eq!(holes, &ko[key], "{key}: the same placeholders");
    }
    for (key, text) in i18n::catalogue(Locale::Ko)
        .keys()
        .map(|k| (k, i18n::catalogue(Locale::Ko).get(k).unwrap()))
    {
        assert!(!text.trim().is_empty(), "{key} is blank in Korean");
    }
}

#[test]
fn every_error_code_has_both_languages() {
    for code in herald::web::error::ErrorCode::ALL {
        for locale in Locale::ALL {
            let key = format!("error.{}", code.code());
            assert!(i18n::has(locale, &key), "{key} lacks {locale:?}");
        }
        assert_ne!(
            code.message_in(Locale::En),
            code.message_in(Locale::Ko),
            "{code:?}"
        );
    }
}

#[test]
fn the_docs_table_lists_every_code_with_its_message() {
    let table = include_str!("../../../docs/errors.md");
    for code in herald::web::error::ErrorCode::ALL {
        let row = format!(
            "| {} | {} | {} |",
            code.code(),
            code.status().as_u16(),
            code.message()
        );
        assert!(table.contains(&row), "docs/errors.md lacks: {row}");
    }
}

#[test]
fn messages_fill_placeholders_and_pick_plural_forms() {
    assert_eq!(
        i18n::message(Locale::En, "home.active", &[("count", "1")]),
        "Active in <strong>1</strong> server."
    );
    assert_eq!(
        i18n::message(Locale::En, "home.active", &[("count", "3")]),
        "Active in <strong>3</strong> servers."
    );
    assert_eq!(
        i18n::message(Locale::Ko, "home.active", &[("count", "3")]),
        "<strong>3</strong>개 서버에서 활동 중입니다."
    );
    assert!(i18n::Catalogue::parse("no equals sign").is_err());
    assert!(
        i18n::Catalogue::parse("a = 1\na = 2").is_err(),
        "a key twice is an error"
    );
}

#[test]
fn a_busy_hashing_queue_is_503_with_retry_after() {
    let err = herald::web::ApiError::from(herald::accounts::AccountsError::Busy);
    assert_eq!(
        (err.code.code(), err.retry_after),
        ("5030004".to_owned(), Some(1))
    );
}

#[test]
fn next_stays_on_the_site() {
    use herald::accounts::social::safe_next;
    assert_eq!(safe_next(Some("/dashboard?x=1")), "/dashboard?x=1");
    for bad in [
        "https://evil.example",
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/ok\nLocation: x",
        "///evil.example",
    ] {
        assert_eq!(safe_next(Some(bad)), "/account", "{bad:?}");
    }
    assert_eq!(safe_next(None), "/account");
}

#[tokio::test]
async fn flooding_one_limit_cannot_evict_another_limits_counts() {
    use herald::limits::Limiter;
    let limiter = Limiter::default();
    let lock = Limit::new("lock", 1, 600);
    limiter.take(&lock, &["victim"]).await.unwrap();
    assert!(limiter.take(&lock, &["victim"]).await.is_err(), "locked");
    let flood = Limit::new("flood", 1, 600);
    for i in 0..(herald::limits::MAX_KEYS + 5_000) {
        let _ = limiter.take(&flood, &[&i.to_string()]).await;
    }
    assert!(
        limiter.take(&lock, &["victim"]).await.is_err(),
        "still locked after the flood"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_request_keeps_its_hashing_slot_until_the_hash_ends() {
    let hasher = std::sync::Arc::new(Hasher::new(2, 8, 1));
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let (started, running) = std::sync::mpsc::channel::<()>();
    let request = {
        let hasher = hasher.clone();
        tokio::spawn(async move {
            hasher
                .run(Lane::Other, move || {
                    started.send(()).unwrap();
                    gate.recv().ok()
                })
                .await
        })
    };
    tokio::task::spawn_blocking(move || running.recv().unwrap())
        .await
        .unwrap();
    request.abort(); // the client went away; the hash goes on
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        hasher.run(Lane::Other, || ()).await,
        Err(Busy),
        "the slot is still taken"
    );
    release.send(()).unwrap();
    crate::helpers::eventually("the hashing slot to free", || async {
        hasher.run(Lane::Other, || ()).await.ok()
    })
    .await;
}
