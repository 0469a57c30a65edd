//! A superuser walks the console from its navigation in a real browser: every page opens from
//! a link, loads nothing from another origin and runs no script; on the way it promotes a staff
//! user, deactivates a division and creates a permission group.

use fantoccini::Locator;

use super::browser::browser;
use super::support::set_password;
use crate::b2b_divisions::create_division;
use crate::b2b_users::create_user;
use crate::helpers::{TestApp, create_b2b_staff};
use crate::instore_support as instore;
use crate::on_both_backends;

on_both_backends!(browser_walks_every_page_from_the_navigation);

async fn browser_walks_every_page_from_the_navigation(app: TestApp) {
    let Some(browser) = browser().await else {
        return;
    };
    set_password(&app, "root@example.com").await;
    let (colleague, _) = create_b2b_staff(&app.state, "colleague@example.com", false, None).await;
    let main = create_division(&app, "Istanbul", "main", None).await;
    let sub = create_division(&app, "Kadikoy", "sub", Some(main)).await;
    let ada = create_user(&app, sub, "ada@example.com").await;
    let geo = instore::geo(&app).await;
    instore::store(&app, geo.township, "Moda").await;
    browser.sign_in(&app, "root@example.com").await;

    let mut links = Vec::new();
    for a in browser
        .client
        .find_all(Locator::Css("nav a"))
        .await
        .expect("the navigation")
    {
        links.push(a.attr("href").await.unwrap().unwrap_or_default());
    }
    for page in [
        "/admin/",
        "/admin/users",
        "/admin/staff-users",
        "/admin/divisions",
        "/admin/staffs",
        "/admin/stores",
        "/admin/groups",
        "/admin/exports",
        "/admin/imports",
        "/admin/audit",
    ] {
        assert!(links.iter().any(|l| l == page), "{page} in {links:?}");
    }
    let origin = app.url("/");
    let origin = origin.trim_end_matches('/');
    for link in &links {
        browser.submit(&format!("nav a[href='{link}']")).await;
        assert_eq!(
            format!("{}/", browser.path().await),
            format!("{}/", link.trim_end_matches('/')),
        );
        let h1 = browser.client.find(Locator::Css("main h1")).await;
        assert!(h1.is_ok(), "{link} has a heading");
        // Everything the page loaded came from kadro itself, and it holds no script.
        let loaded = browser
            .client
            .execute(
                "return [performance.getEntriesByType('resource').map(e => e.name), \
                 document.scripts.length];",
                vec![],
            )
            .await
            .expect("read what the page loaded");
        let resources = loaded[0].as_array().cloned().unwrap_or_default();
        assert!(
            resources
                .iter()
                .all(|r| r.as_str().is_some_and(|r| r.starts_with(origin))),
            "{link} loaded {resources:?}"
        );
        assert_eq!(loaded[1], 0, "{link} has no script");
    }

    // Staff users: promote a colleague.
    browser.submit("nav a[href='/admin/staff-users']").await;
    browser
        .submit(&format!(
            "form[action='/admin/staff-users/{colleague}'] button"
        ))
        .await;
    let (_, seen) = app.get(&format!("/api/v1/staff-users/{colleague}/")).await;
    assert_eq!(seen["is_superuser"], true, "{seen}");

    // Divisions: from the tree to a sub-division, told what deactivation affects.
    browser.submit("nav a[href='/admin/divisions']").await;
    browser
        .submit(&format!("a[href='/admin/divisions/{main}']"))
        .await;
    browser
        .submit(&format!("a[href='/admin/divisions/{sub}']"))
        .await;
    let text = browser.text().await;
    assert!(text.contains("also deactivates its 1 users"), "{text}");
    browser.screenshot(&app, "division").await;
    browser.submit("form[action$='/deactivate'] button").await;
    let (_, user) = app.get(&format!("/api/v1/users/{ada}/")).await;
    assert_eq!(user["is_active"], false, "{user}");

    // Permission groups: create one from the grid; a missing name is refused beside its field.
    browser.submit("nav a[href='/admin/groups']").await;
    browser.submit("a[href='/admin/groups/new']").await;
    browser.click("table.grid input[type=checkbox]").await;
    browser.submit("main form button[type=submit]").await;
    assert!(
        browser
            .client
            .find(Locator::Css("#f-name-error"))
            .await
            .is_ok(),
        "{}",
        browser.text().await
    );
    browser.fill("#f-name", "Auditors").await;
    browser.submit("main form button[type=submit]").await;
    assert!(browser.text().await.contains("Saved."));
    let (_, groups) = app.get("/api/v1/permission_groups/?name=Auditors").await;
    let granted = groups["results"][0]["permissions"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(
        (groups["count"].as_i64(), granted),
        (Some(1), 1),
        "the checked box stays checked after the refusal: {groups}"
    );
    browser.close().await;
}
