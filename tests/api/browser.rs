//! The dashboard in a real headless Chromium (Debian's `chromium` and `chromium-driver`),
//! driven over WebDriver: sign in with Discord, see the servers, change a setting, see the
//! audit entry and the diff, restore, add the bot through Discord's page, remove it; once in
//! Korean and on a phone-sized screen. Each page is saved as a PNG in `screenshots/`.
//!
//! Built to run when `HERALD_TEST_CHROMEDRIVER` names the driver (`.ci/run` installs the
//! browser and sets it); elsewhere the test is reported as ignored. It runs on SQLite: what it
//! checks is the pages in a browser; the database behaviour under them is tested on both
//! backends in `dashboard`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::dashboard::{Dash, MANAGE_GUILD, OTHER_SERVER, SERVER, dash};
use crate::helpers::*;

/// A chromedriver with one headless Chromium session; both go when dropped.
struct Chrome {
    driver: Child,
    client: Client,
    base: String,
}

impl Chrome {
    async fn start(base: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let path = option_env!("HERALD_TEST_CHROMEDRIVER").unwrap_or("chromedriver");
        let driver = Command::new(path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{path} does not start: {e}"));
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--disable-gpu", "--window-size=1280,1000", "--lang=en-US"]}),
        );
        let url = format!("http://127.0.0.1:{port}");
        let client = eventually("chromedriver answers", || async {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
                .ok()
        })
        .await;
        Self {
            driver,
            client,
            base: base.to_owned(),
        }
    }

    async fn open(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
    }

    async fn source(&self) -> String {
        self.client.source().await.unwrap()
    }

    async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
            .click()
            .await
            .unwrap();
    }

    /// Waits until the page shows `text` (following the page's own reloads).
    async fn wait_for(&self, text: &str) -> String {
        eventually(&format!("the page shows {text:?}"), || async {
            let source = self.source().await;
            source.contains(text).then_some(source)
        })
        .await
    }

    /// Saves the page as `screenshots/<name>.png`.
    async fn shot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// Nothing on the page is wider than the window (no sideways scrolling on a phone).
    async fn fits(&self) -> bool {
        let script = "return document.documentElement.scrollWidth <= window.innerWidth;";
        self.client.execute(script, vec![]).await.unwrap() == json!(true)
    }

    async fn close(self) {
        let Chrome {
            mut driver, client, ..
        } = self;
        let _ = client.close().await;
        let _ = driver.kill();
        let _ = driver.wait();
    }
}

async fn sign_in_with_discord(chrome: &Chrome) {
    chrome.open("/login").await;
    chrome.click("a.provider-discord").await;
    // The fake Discord consents at once and Herald signs the user in.
    eventually("signed in", || async {
        let source = chrome.source().await;
        source.contains("href=\"/dashboard\"").then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(herald_test_browser),
    ignore = "install chromium and chromium-driver and set HERALD_TEST_CHROMEDRIVER to run it"
)]
async fn the_dashboard_works_in_a_real_browser() {
    let d: Dash = dash(Backend::Sqlite).await;
    d.oauth.set_user_guilds(
        "7001",
        &[
            (SERVER, "Team", true, 0),
            (OTHER_SERVER, "Another", false, MANAGE_GUILD),
        ],
    );
    d.next_discord_user(7001, "en-US");
    let chrome = Chrome::start(&d.app.base).await;
    sign_in_with_discord(&chrome).await;

    chrome.open("/dashboard").await;
    let list = chrome.wait_for("Your Discord servers").await;
    assert!(list.contains("Herald is here") && list.contains("Herald is not here"));
    chrome.shot("01-dashboard").await;

    chrome
        .click(&format!("a[href=\"/dashboard/{SERVER}\"]"))
        .await;
    chrome.wait_for("Default notification channel").await;
    chrome.shot("02-server").await;

    // Change a setting through the form.
    chrome
        .client
        .find(Locator::Css("select[name=language]"))
        .await
        .unwrap()
        .select_by_value("ko")
        .await
        .unwrap();
    chrome.click("#settings button[type=submit]").await;
    let saved = chrome.wait_for("Settings saved.").await;
    assert!(
        saved.contains("<code>settings.updated</code>"),
        "the audit entry shows"
    );
    assert!(saved.contains("revision 1"));
    chrome.shot("03-saved-with-audit").await;

    chrome
        .open(&format!("/dashboard/{SERVER}?from=0&to=1#diff"))
        .await;
    let diff = chrome.wait_for("Changes from revision 0 to 1").await;
    assert!(
        diff.contains("<ins>ko</ins>"),
        "the diff shows the new language"
    );
    chrome.shot("04-diff").await;

    // A second save, then restore the first.
    chrome.open(&format!("/dashboard/{SERVER}")).await;
    chrome
        .client
        .find(Locator::Css("select[name=language]"))
        .await
        .unwrap()
        .select_by_value("en")
        .await
        .unwrap();
    chrome.click("#settings button[type=submit]").await;
    chrome.wait_for("revision 2").await;
    chrome
        .click(&format!(
            "form[action=\"/dashboard/{SERVER}/revisions/1/restore\"] button"
        ))
        .await;
    let restored = chrome.wait_for("restores 1").await;
    assert!(restored.contains("<code>settings.restored</code>"));
    chrome.shot("05-restored").await;

    // Add the bot to the other server: Discord's page, then back to a page that waits.
    chrome.open(&format!("/dashboard/{OTHER_SERVER}")).await;
    chrome.wait_for("Add Herald to this server").await;
    chrome.shot("06-before-adding").await;
    chrome
        .click(&format!("a[href=\"/dashboard/{OTHER_SERVER}/add-bot\"]"))
        .await;
    let added = chrome.wait_for("Herald is here").await;
    assert!(added.contains("<code>bot.added</code>"));
    chrome.shot("07-added").await;

    // Remove the bot from the first server.
    chrome.open(&format!("/dashboard/{SERVER}")).await;
    chrome.click("#remove button[type=submit]").await;
    let removed = chrome.wait_for("<code>bot.removed</code>").await;
    assert!(removed.contains("Herald is not here"));
    chrome.shot("08-removed").await;
    chrome.close().await;

    // Once in Korean, on a phone-sized screen.
    d.oauth
        .set_user_guilds("7005", &[(OTHER_SERVER, "Another", true, 0)]);
    d.next_discord_user(7005, "ko");
    let chrome = Chrome::start(&d.app.base).await;
    sign_in_with_discord(&chrome).await;
    chrome.client.set_window_size(390, 844).await.unwrap();
    chrome.open("/dashboard").await;
    let list = chrome.wait_for("내 Discord 서버").await;
    assert!(list.contains("<html lang=\"ko\">"));
    assert!(chrome.fits().await, "the list fits a phone's width");
    chrome.shot("09-dashboard-ko-phone").await;
    chrome.open(&format!("/dashboard/{OTHER_SERVER}")).await;
    chrome.wait_for("기본 알림 채널").await;
    assert!(chrome.fits().await, "the server page fits a phone's width");
    chrome.shot("10-server-ko-phone").await;
    chrome.close().await;
    tokio::time::sleep(Duration::from_millis(10)).await;
}
