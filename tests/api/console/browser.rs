//! The console in a real browser: headless Chromium driven over WebDriver (ChromeDriver from
//! Debian's `chromium-driver`). Without a browser these tests say SKIPPING, unless
//! `KADRO_TEST_REQUIRE_BROWSER=1` makes that a failure. With `KADRO_TEST_SCREENSHOTS=1` they
//! save the README's screenshots under `docs/console/`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

use super::support::{ROOT_PASSWORD, set_password};
use crate::b2b_divisions::create_division;
use crate::b2b_users::create_user;
use crate::helpers::{TestApp, until, within};
use crate::instore_support::{self as instore, PASSWORD};
use crate::on_both_backends;
use kadro::auth::token::{self, AccountKind};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A ChromeDriver process (ended with the test) and its browser session.
pub(super) struct Browser {
    pub(super) client: Client,
    driver: Child,
    port: u16,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // ChromeDriver's `/shutdown` quits the browsers it started (also when a test failed
        // before `close`); then the driver itself is ended by its own pid.
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
            use std::io::{Read, Write};
            let _ = stream.write_all(
                b"GET /shutdown HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
            );
            let _ = stream.read_to_end(&mut Vec::new());
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Starts Chromium under ChromeDriver, or says SKIPPING (fails when a browser is required).
pub(super) async fn browser() -> Option<Browser> {
    let chromium = std::env::var("KADRO_TEST_CHROMIUM").unwrap_or_else(|_| CHROMIUM.into());
    let driver = std::env::var("KADRO_TEST_CHROMEDRIVER").unwrap_or_else(|_| CHROMEDRIVER.into());
    if !Path::new(&chromium).exists() || !Path::new(&driver).exists() {
        assert!(
            std::env::var("KADRO_TEST_REQUIRE_BROWSER").is_err(),
            "KADRO_TEST_REQUIRE_BROWSER is set but {chromium} or {driver} is missing \
             (apt-get install chromium chromium-driver)"
        );
        eprintln!(
            "\n*** {chromium} or {driver} is missing: SKIPPING this browser test \
             (apt-get install chromium chromium-driver) ***\n"
        );
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let child = Command::new(&driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let profile = tempfile::tempdir().expect("profile dir");
    let status = format!("http://127.0.0.1:{port}/status");
    until("chromedriver answers", || async {
        reqwest::get(&status)
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1280,860", "--hide-scrollbars",
                format!("--user-data-dir={}", profile.path().display()),
            ],
        }),
    );
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("WebDriver session");
    Some(Browser {
        client,
        driver: child,
        port,
        _profile: profile,
    })
}

impl Browser {
    pub(super) async fn open(&self, app: &TestApp, path: &str) {
        self.client.goto(&app.url(path)).await.expect("goto");
    }

    pub(super) async fn fill(&self, css: &str, text: &str) {
        let field = self.client.find(Locator::Css(css)).await.expect(css);
        field.clear().await.expect("clear");
        field.send_keys(text).await.expect("type");
    }

    pub(super) async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .expect("click");
    }

    pub(super) async fn text(&self) -> String {
        self.client
            .find(Locator::Css("main"))
            .await
            .expect("main")
            .text()
            .await
            .expect("text")
    }

    /// Clicks `css` (a link or a submit button) and waits until the next page has replaced this
    /// one.
    pub(super) async fn submit(&self, css: &str) {
        let old = self.client.find(Locator::Css("html")).await.expect("page");
        self.click(css).await;
        within("the next page", async {
            while old.tag_name().await.is_ok() {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        })
        .await;
        self.client
            .wait()
            .for_element(Locator::Css("main"))
            .await
            .expect("the next page's content");
    }

    /// The current path, without a trailing slash.
    pub(super) async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("url");
        url.path().trim_end_matches('/').to_owned()
    }

    /// Saves a screenshot for the README when `KADRO_TEST_SCREENSHOTS=1`.
    pub(super) async fn screenshot(&self, app: &TestApp, name: &str) {
        if std::env::var("KADRO_TEST_SCREENSHOTS").is_err()
            || app.backend != crate::helpers::Backend::Sqlite
        {
            return;
        }
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/console");
        std::fs::create_dir_all(&dir).expect("docs/console");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
    }

    pub(super) async fn sign_in(&self, app: &TestApp, email: &str) {
        self.open(app, "/admin/login").await;
        self.fill("#f-email", email).await;
        self.fill("#f-password", ROOT_PASSWORD).await;
        self.submit("section[aria-labelledby=b2b-title] button[type=submit]")
            .await;
        assert_eq!(self.path().await, "/admin", "{}", self.text().await);
    }

    pub(super) async fn close(self) {
        let client = self.client.clone();
        client.close().await.expect("close the browser");
    }
}

on_both_backends!(
    browser_edits_a_store_and_reads_the_audit_log,
    browser_imports_a_file_and_watches_it,
    browser_searches_edits_and_deactivates_a_user,
    browser_creates_a_staff_with_stores_and_groups,
    browser_exports_and_downloads,
    browser_staff_sees_only_its_pages,
);

async fn browser_searches_edits_and_deactivates_a_user(app: TestApp) {
    let Some(browser) = browser().await else {
        return;
    };
    set_password(&app, "root@example.com").await;
    let division = create_division(&app, "Istanbul Main", "main", None).await;
    for name in ["ada", "grace", "linus", "margaret"] {
        create_user(&app, division, &format!("{name}@example.com")).await;
    }
    let user = create_user(&app, division, "target@example.com").await;
    let mut tx = app.state.db.begin().await.unwrap();
    let user_token = token::issue(&mut tx, AccountKind::User, user)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    browser.open(&app, "/admin/login").await;
    browser.screenshot(&app, "sign-in").await;
    browser.sign_in(&app, "root@example.com").await;
    browser.screenshot(&app, "overview").await;

    browser.submit("nav a[href='/admin/users']").await;
    browser.fill("#f-email", "target").await;
    browser.submit("form.filters button[type=submit]").await;
    let found = browser.text().await;
    assert!(
        found.contains("target@example.com") && !found.contains("ada@example.com"),
        "{found}"
    );
    assert!(found.contains("1 rows"), "{found}");
    browser
        .submit(&format!("a[href='/admin/users/{user}']"))
        .await;
    browser.fill("#f-first_name", "Hedy").await;
    browser.fill("#f-last_name", "Lamarr").await;
    browser.submit("main form button[type=submit]").await;
    assert!(browser.text().await.contains("Saved."));
    browser.screenshot(&app, "user").await;
    let (_, seen) = app.get(&format!("/api/v1/users/{user}/")).await;
    assert_eq!(
        (seen["first_name"].as_str(), seen["last_name"].as_str()),
        (Some("Hedy"), Some("Lamarr"))
    );

    // An error comes back beside its field, in the API's words.
    browser.fill("#f-division", "999999").await;
    browser.submit("main form button[type=submit]").await;
    let error = browser
        .client
        .find(Locator::Css("#f-division-error"))
        .await
        .expect("error beside the field");
    assert!(!error.text().await.unwrap().is_empty());

    let (status, _) = app
        .call(
            reqwest::Method::GET,
            "/api/v1/auth/me/",
            Some(&user_token),
            None,
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK);
    browser.open(&app, &format!("/admin/users/{user}")).await;
    browser.submit("form[action$='/deactivate'] button").await;
    assert!(browser.text().await.contains("inactive"));
    let (status, _) = app
        .call(
            reqwest::Method::GET,
            "/api/v1/auth/me/",
            Some(&user_token),
            None,
        )
        .await;
    assert_eq!(
        status,
        reqwest::StatusCode::UNAUTHORIZED,
        "the deactivated user's token is refused"
    );
    browser.close().await;
}

async fn browser_creates_a_staff_with_stores_and_groups(app: TestApp) {
    let Some(browser) = browser().await else {
        return;
    };
    set_password(&app, "root@example.com").await;
    let geo = instore::geo(&app).await;
    let first = instore::store(&app, geo.township, "Kadikoy").await;
    let second = instore::store(&app, geo.township, "Besiktas").await;
    let cashiers = instore::group(
        &app,
        "Cashiers",
        &[
            ("instore:staff-list", "GET"),
            ("instore:retail-store-list", "GET"),
        ],
    )
    .await;
    instore::group(&app, "Managers", &[("instore:staff-list", "POST")]).await;
    browser.sign_in(&app, "root@example.com").await;
    browser.open(&app, "/admin/staffs/new").await;
    browser.fill("#f-first_name", "Deniz").await;
    browser.fill("#f-last_name", "Yilmaz").await;
    browser.fill("#f-email", "deniz@example.com").await;
    browser.fill("#f-username", "deniz").await;
    browser.fill("#f-remote_id", "r-deniz").await;
    // The pickers are searched by name; what is typed and picked stays.
    browser.fill("#f-store_search", "kadi").await;
    browser.submit("button[name=find][value=stores]").await;
    let narrowed = browser.text().await;
    assert!(
        narrowed.contains("Kadikoy") && !narrowed.contains("Besiktas"),
        "{narrowed}"
    );
    browser
        .click(&format!("input[name=retail_stores][value='{first}']"))
        .await;
    browser.fill("#f-store_search", "besik").await;
    browser.fill("#f-group_search", "cash").await;
    browser.submit("button[name=find][value=groups]").await;
    let narrowed = browser.text().await;
    assert!(
        narrowed.contains("Besiktas") && !narrowed.contains("Managers"),
        "{narrowed}"
    );
    assert_eq!(
        browser
            .client
            .find(Locator::Css(&format!(
                "input[name=retail_stores][value='{first}']"
            )))
            .await
            .expect("the picked store stays")
            .prop("checked")
            .await
            .unwrap()
            .as_deref(),
        Some("true")
    );
    assert_eq!(
        browser
            .client
            .find(Locator::Css("#f-username"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("deniz")
    );
    browser
        .click(&format!("input[name=retail_stores][value='{second}']"))
        .await;
    browser
        .click(&format!(
            "input[name=permission_groups][value='{cashiers}']"
        ))
        .await;
    browser.fill("#f-password", "short").await;
    browser.submit("main form button.save").await;
    let refused = browser.text().await;
    assert!(
        refused.contains("This password is too short"),
        "the API's words beside the field: {refused}"
    );
    browser.fill("#f-password", PASSWORD).await;
    browser.screenshot(&app, "staff-form").await;
    browser.submit("main form button.save").await;
    assert!(
        browser.text().await.contains("Saved."),
        "{}",
        browser.client.source().await.unwrap()
    );
    let (_, list) = app.get("/api/v1/staffs/?username=deniz").await;
    let staff = &list["results"][0];
    let mut stores: Vec<i64> = staff["retail_stores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    stores.sort_unstable();
    assert_eq!(stores, vec![first, second]);
    assert_eq!(staff["permission_groups"], json!([cashiers]));

    // A new password, and the staff's permissions, on its page.
    let id = staff["id"].as_i64().unwrap();
    browser.open(&app, &format!("/admin/staffs/{id}")).await;
    assert!(browser.text().await.contains("instore:retail-store-list"));
    browser.fill("#f-new_password", "Another-Pass-2025").await;
    browser.submit("form[action$='/password'] button").await;
    assert!(
        browser.text().await.contains("Password changed."),
        "{}",
        browser.text().await
    );
    let (status, _) = instore::login(
        &app,
        json!({"username": "deniz", "password": "Another-Pass-2025", "retail_store": first}),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::OK);

    browser
        .open(&app, &format!("/admin/groups/{cashiers}"))
        .await;
    browser.screenshot(&app, "permission-group").await;
    let grid = browser.text().await;
    assert!(
        grid.contains("instore:staff-list") && grid.contains("DELETE"),
        "{grid}"
    );
    browser.close().await;
}

async fn browser_exports_and_downloads(app: TestApp) {
    let Some(browser) = browser().await else {
        return;
    };
    set_password(&app, "root@example.com").await;
    let division = create_division(&app, "Main", "main", None).await;
    for name in ["ada", "grace"] {
        create_user(&app, division, &format!("{name}@example.com")).await;
    }
    browser.sign_in(&app, "root@example.com").await;
    browser.open(&app, "/admin/exports?list=users").await;
    browser.click("input[name=fields][value=email]").await;
    browser.click("input[name=fields][value=id]").await;
    let format = browser
        .client
        .find(Locator::Css("#f-format"))
        .await
        .unwrap();
    format.select_by_value("csv").await.unwrap();
    browser
        .submit("main form[method=post] button[type=submit]")
        .await;
    assert!(
        browser.path().await.starts_with("/admin/exports/users/"),
        "{}",
        browser.client.source().await.unwrap()
    );
    assert!(
        browser.text().await.contains("waiting"),
        "{}",
        browser.text().await
    );
    app.drain_jobs().await;
    let link = within("the export is ready in the page", async {
        loop {
            // The page may reload between finding the link and reading it: try again then.
            if let Ok(a) = browser.client.find(Locator::Css("#download")).await
                && let Ok(Some(href)) = a.attr("href").await
            {
                break href;
            }
            // The page reloads itself (an HTTP `Refresh`) until the file is ready.
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await;
    browser.screenshot(&app, "export").await;
    let file = reqwest::get(link).await.unwrap().text().await.unwrap();
    let lines: Vec<&str> = file.lines().collect();
    assert_eq!(
        lines[0].trim_start_matches('\u{feff}'),
        "id,email",
        "fields in the list's order: {file}"
    );
    assert!(
        file.contains("ada@example.com") && file.contains("grace@example.com"),
        "{file}"
    );
    browser.open(&app, "/admin/").await;
    assert!(browser.text().await.contains("completed"));
    browser.close().await;
}

async fn browser_staff_sees_only_its_pages(app: TestApp) {
    let Some(browser) = browser().await else {
        return;
    };
    let geo = instore::geo(&app).await;
    let store = instore::store(&app, geo.township, "Kadikoy").await;
    let other = instore::store(&app, geo.township, "Besiktas").await;
    let readers = instore::group(&app, "Readers", &[("instore:staff-list", "GET")]).await;
    let staff = instore::staff(
        &app,
        "reader@example.com",
        Some("reader"),
        &[store, other],
        &[readers],
    )
    .await;
    browser.open(&app, "/admin/login").await;
    browser.fill("#f-username", "reader").await;
    browser.fill("#f-staff_password", PASSWORD).await;
    browser
        .submit("section[aria-labelledby=staff-title] button[type=submit]")
        .await;
    // The second step: one of the staff's stores.
    browser.screenshot(&app, "store-picker").await;
    let picker = browser
        .client
        .find(Locator::Css("#f-retail_store"))
        .await
        .expect("the store picker");
    picker
        .select_by_value(&store.to_string())
        .await
        .expect("pick the store");
    browser.submit("main form button[type=submit]").await;
    assert_eq!(browser.path().await, "/admin", "{}", browser.text().await);
    let (_, seen) = app.get(&format!("/api/v1/staffs/{staff}/")).await;
    assert_eq!(seen["current_store"]["id"].as_i64(), Some(store), "{seen}");
    let links: Vec<Value> = {
        let mut out = Vec::new();
        for a in browser
            .client
            .find_all(Locator::Css("header nav a"))
            .await
            .unwrap()
        {
            out.push(Value::String(
                a.attr("href").await.unwrap().unwrap_or_default(),
            ));
        }
        out
    };
    assert_eq!(
        links,
        vec![
            json!("/admin/"),
            json!("/admin/staffs"),
            json!("/admin/exports")
        ]
    );
    browser.open(&app, "/admin/groups").await;
    assert!(
        browser
            .text()
            .await
            .contains("You do not have permission to perform this action.")
    );
    browser.open(&app, "/admin/users").await;
    assert!(
        browser
            .text()
            .await
            .contains("You do not have permission to perform this action.")
    );
    browser.close().await;
}

async fn browser_edits_a_store_and_reads_the_audit_log(app: TestApp) {
    let Some(browser) = browser().await else {
        return;
    };
    set_password(&app, "root@example.com").await;
    let geo = instore::geo(&app).await;
    let store = instore::store(&app, geo.township, "Kadikoy").await;
    for name in ["Besiktas", "Uskudar", "Sisli"] {
        instore::store(&app, geo.township, name).await;
    }
    browser.sign_in(&app, "root@example.com").await;
    browser.submit("nav a[href='/admin/stores']").await;
    // A new store: an unknown township is refused beside its field, then it is created.
    browser.submit("a[href='/admin/stores/new']").await;
    browser.fill("#f-name", "Moda").await;
    browser.fill("#f-email", "moda@example.com").await;
    browser.fill("#f-address_line", "Moda Caddesi 2").await;
    browser
        .fill("#f-address_phone_number", "+902161234568")
        .await;
    browser.fill("#f-address_township", "999999").await;
    browser.submit("main form button[type=submit]").await;
    assert!(
        browser
            .client
            .find(Locator::Css("#f-address_township-error"))
            .await
            .is_ok(),
        "{}",
        browser.text().await
    );
    browser
        .fill("#f-address_township", &geo.township.to_string())
        .await;
    browser.submit("main form button[type=submit]").await;
    assert!(
        browser.text().await.contains("Saved."),
        "{}",
        browser.text().await
    );
    let (_, created) = app.get("/api/v1/retail_stores/?name=Moda").await;
    assert_eq!(created["count"], 1, "{created}");
    assert_eq!(created["results"][0]["address"]["line"], "Moda Caddesi 2");
    browser.submit("nav a[href='/admin/stores']").await;
    browser.fill("#f-name", "kadi").await;
    browser.submit("form.filters button[type=submit]").await;
    let found = browser.text().await;
    assert!(
        found.contains("Kadikoy") && !found.contains("Besiktas"),
        "{found}"
    );
    browser
        .submit(&format!("a[href='/admin/stores/{store}']"))
        .await;
    browser.fill("#f-name", "Kadikoy Moda").await;
    browser.fill("#f-address_line", "Moda Caddesi 1").await;
    browser.submit("main form button[type=submit]").await;
    assert!(
        browser.text().await.contains("Saved."),
        "{}",
        browser.text().await
    );
    browser.screenshot(&app, "store").await;
    let (_, seen) = app.get(&format!("/api/v1/retail_stores/{store}/")).await;
    assert_eq!(
        (seen["name"].as_str(), seen["address"]["line"].as_str()),
        (Some("Kadikoy Moda"), Some("Moda Caddesi 1"))
    );

    browser.submit("nav a[href='/admin/audit']").await;
    browser.fill("#f-action", "store.update").await;
    browser.submit("form.filters button[type=submit]").await;
    let log = browser.text().await;
    assert!(
        log.contains("store.update") && log.contains("Kadikoy Moda") && log.contains("1 rows"),
        "{log}"
    );
    assert!(!log.contains("store.create"), "{log}");
    browser.screenshot(&app, "audit").await;
    browser.close().await;
}

async fn browser_imports_a_file_and_watches_it(app: TestApp) {
    let Some(browser) = browser().await else {
        return;
    };
    set_password(&app, "root@example.com").await;
    let division = create_division(&app, "Main", "main", None).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.csv");
    std::fs::write(
        &file,
        format!(
            "email,first_name,last_name,division,password\r\n\
             ayse@example.com,Ayse,Kaya,{division},a-good-password\r\n\
             mehmet@example.com,Mehmet,Demir,{division},a-good-password\r\n\
             broken,Bad,Row,{division},a-good-password\r\n"
        ),
    )
    .unwrap();
    browser.sign_in(&app, "root@example.com").await;
    browser.submit("nav a[href='/admin/imports']").await;
    let upload = browser.client.find(Locator::Css("#f-file")).await.unwrap();
    upload
        .send_keys(&file.display().to_string())
        .await
        .expect("choose the file");
    browser.submit("main form button[type=submit]").await;
    assert!(
        browser.path().await.starts_with("/admin/imports/users/"),
        "{}",
        browser.client.source().await.unwrap()
    );
    app.drain_jobs().await;
    within("the import ends in the page", async {
        // The page reloads itself (a `<meta http-equiv="refresh">`) until the import ends.
        loop {
            if let Ok(status) = browser.client.find(Locator::Css("#import-status")).await
                && status.text().await.is_ok_and(|t| t == "completed")
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await;
    browser.screenshot(&app, "import").await;
    let text = browser.text().await;
    assert!(text.contains("Refused rows"), "{text}");
    let report = browser
        .client
        .find(Locator::Css("#error-report"))
        .await
        .expect("the error report link")
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let report = reqwest::get(report).await.unwrap().text().await.unwrap();
    assert!(report.contains("4,email,"), "{report}");
    let (_, listed) = app.get("/api/v1/users/?email=mehmet").await;
    assert_eq!(listed["count"], 1);
    browser.close().await;
}
