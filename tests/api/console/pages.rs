//! The console's audit log, imports, retail stores, staff passwords and the staffs' store
//! picker, over plain HTTP: what each page shows, what it changes through the API, and what it
//! refuses.

use kadro::db::Query;
use reqwest::StatusCode;

use super::support::{ConsoleClient, ROOT_PASSWORD, set_password};
use crate::b2b_divisions::create_division;
use crate::b2b_users::create_user;
use crate::helpers::{TestApp, create_b2b_staff};
use crate::instore_support::{self as instore, PASSWORD};
use crate::on_both_backends;

on_both_backends!(
    audit_log_is_filtered_paged_and_for_superusers_only,
    stores_are_searched_and_edited_through_the_api,
    staff_password_changes_and_permissions_show,
    imports_upload_run_and_report,
    imports_instore_staffs,
    staffs_pick_one_of_their_open_stores,
);

async fn signed_in_root(app: &TestApp) -> ConsoleClient {
    set_password(app, "root@example.com").await;
    let mut console = ConsoleClient::new(app);
    let answer = console.sign_in("root@example.com", ROOT_PASSWORD).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.text);
    console
}

async fn audit_log_is_filtered_paged_and_for_superusers_only(app: TestApp) {
    let division = create_division(&app, "Main", "main", None).await;
    let ada = create_user(&app, division, "ada@example.com").await;
    create_user(&app, division, "grace@example.com").await;
    let mut console = signed_in_root(&app).await;
    let overview = console.get("/admin/").await;
    assert!(overview.text.contains("href=\"/admin/audit\""));

    let all = console.get("/admin/audit").await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    assert!(all.text.contains("user.create") && all.text.contains("division.create"));

    // The API's filters: action, target, a day range (the last day included).
    let users = console
        .get(&format!(
            "/admin/audit?action=user.create&target_type=user&target_id={ada}"
        ))
        .await;
    assert_eq!(users.status, StatusCode::OK);
    assert!(users.text.contains("1 rows"), "{}", users.text);
    assert!(users.text.contains("ada@example.com") && !users.text.contains("grace@example.com"));
    let today = chrono::Utc::now().date_naive().to_string();
    let today_only = console
        .get(&format!(
            "/admin/audit?action=user.&created_date__gte={today}&created_date__lte={today}"
        ))
        .await;
    assert!(today_only.text.contains("2 rows"), "{}", today_only.text);
    let before = console
        .get("/admin/audit?created_date__lte=2000-01-01")
        .await;
    assert!(before.text.contains("0 rows"), "{}", before.text);
    // The console never asks for more than its page size, whatever the link says.
    let limited = console.get("/admin/audit?limit=100000&page=1").await;
    assert_eq!(limited.status, StatusCode::OK);

    // A bad value: the API's words beside the field.
    let bad = console.get("/admin/audit?actor_id=abc").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);
    assert!(
        bad.text.contains("id=\"f-actor_id-error\""),
        "error beside the field: {}",
        bad.text
    );

    // A B2B staff that is not a superuser: no link, and the page is refused.
    create_b2b_staff(&app.state, "staff@example.com", false, None).await;
    set_password(&app, "staff@example.com").await;
    let mut staff = ConsoleClient::new(&app);
    staff.sign_in("staff@example.com", ROOT_PASSWORD).await;
    let overview = staff.get("/admin/").await;
    assert!(!overview.text.contains("href=\"/admin/audit\""));
    assert!(!overview.text.contains("href=\"/admin/imports\""));
    assert_eq!(
        staff.get("/admin/audit").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        staff.get("/admin/imports").await.status,
        StatusCode::FORBIDDEN
    );
}

async fn stores_are_searched_and_edited_through_the_api(app: TestApp) {
    let geo = instore::geo(&app).await;
    let kadikoy = instore::store(&app, geo.township, "Kadikoy").await;
    instore::store(&app, geo.township, "Besiktas").await;
    let mut console = signed_in_root(&app).await;
    let listed = console.get("/admin/stores?name=kadi").await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    assert!(listed.text.contains("Kadikoy") && !listed.text.contains("Besiktas"));
    assert!(listed.text.contains("1 rows"));

    let detail = console.get(&format!("/admin/stores/{kadikoy}")).await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.text);
    let csrf = detail.csrf();
    let path = format!("/admin/stores/{kadikoy}");
    let township = geo.township.to_string();
    let form = store_form;
    // An unknown township: the API's words beside the address's field; nothing changes.
    let mut bad = form("Kadikoy Moda", "999999");
    bad.push(("csrf", &csrf));
    let refused = console.post(&path, &bad).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
    assert!(
        refused.text.contains("id=\"f-address_township-error\""),
        "{}",
        refused.text
    );
    let (_, unchanged) = app.get(&format!("/api/v1/retail_stores/{kadikoy}/")).await;
    assert_eq!(unchanged["name"], "Kadikoy");

    let mut good = form("Kadikoy Moda", &township);
    good.push(("csrf", &csrf));
    let saved = console.post(&path, &good).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text);
    let (_, store) = app.get(&format!("/api/v1/retail_stores/{kadikoy}/")).await;
    assert_eq!(
        (
            store["name"].as_str(),
            store["remote_id"].as_str(),
            store["omnitron_id"].as_i64(),
            store["fast_delivery"].as_bool(),
            store["address"]["line"].as_str(),
        ),
        (
            Some("Kadikoy Moda"),
            None,
            Some(7),
            Some(true),
            Some("Moda Caddesi 1")
        ),
        "{store}"
    );

    // A staff whose group lists stores: the list, no edit form; the API refuses a forced edit.
    let readers = instore::group(
        &app,
        "Store readers",
        &[
            ("instore:retail-store-list", "GET"),
            ("instore:retail-store-detail", "GET"),
        ],
    )
    .await;
    instore::staff(
        &app,
        "r@example.com",
        Some("reader"),
        &[kadikoy],
        &[readers],
    )
    .await;
    let mut staff = ConsoleClient::new(&app);
    let login = staff.get("/admin/login").await;
    let signed = staff
        .post(
            "/admin/login",
            &[
                ("csrf", &login.csrf()),
                ("kind", "staff"),
                ("username", "reader"),
                ("staff_password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.text);
    let page = staff.get(&format!("/admin/stores/{kadikoy}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(!page.text.contains("action=\"/admin/stores/"));
    let mut forced = form("Forced", &township);
    let csrf = page.csrf();
    forced.push(("csrf", &csrf));
    let refused = staff.post(&path, &forced).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    let (_, store) = app.get(&format!("/api/v1/retail_stores/{kadikoy}/")).await;
    assert_eq!(store["name"], "Kadikoy Moda");
}

/// The store form as a browser posts it.
fn store_form<'a>(name: &'a str, township: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("email", "kadikoy@example.com"),
        ("remote_id", ""),
        ("omnitron_id", "7"),
        ("address_line", "Moda Caddesi 1"),
        ("address_postcode", ""),
        ("address_phone_number", "+902161234567"),
        ("address_township", township),
        ("is_active", "true"),
        ("fast_delivery", "true"),
    ]
}

async fn staff_password_changes_and_permissions_show(app: TestApp) {
    let geo = instore::geo(&app).await;
    let shop = instore::store(&app, geo.township, "Shop").await;
    let cashiers = instore::group(&app, "Cashiers", &[("instore:staff-list", "GET")]).await;
    let staff = instore::staff(
        &app,
        "deniz@example.com",
        Some("deniz"),
        &[shop],
        &[cashiers],
    )
    .await;
    let old_token = instore::staff_token(&app, staff).await;
    let mut console = signed_in_root(&app).await;
    let page = console.get(&format!("/admin/staffs/{staff}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(
        page.text.contains("id=\"permissions\"") && page.text.contains("instore:staff-list"),
        "{}",
        page.text
    );
    let path = format!("/admin/staffs/{staff}/password");
    let csrf = page.csrf();
    let short = console
        .post(&path, &[("csrf", &csrf), ("new_password", "short")])
        .await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST, "{}", short.text);
    assert!(
        short.text.contains("id=\"f-new_password-error\"")
            && short.text.contains("This password is too short"),
        "{}",
        short.text
    );
    let forged = console
        .post(&path, &[("new_password", "Another-Pass-2025")])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .call(
            reqwest::Method::GET,
            "/api/v1/staffs/",
            Some(&old_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "unchanged so far");

    let changed = console
        .post(
            &path,
            &[("csrf", &csrf), ("new_password", "Another-Pass-2025")],
        )
        .await;
    assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.text);
    let shown = console.get(changed.location()).await;
    assert!(shown.text.contains("Password changed."));
    let (status, _) = app
        .call(
            reqwest::Method::GET,
            "/api/v1/staffs/",
            Some(&old_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "signed out everywhere");
    let (status, body) = instore::login(
        &app,
        serde_json::json!({"username": "deniz", "password": "Another-Pass-2025", "retail_store": shop}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Two good rows and one refused (a bad email) for division `division`, with a column no
/// field reads.
fn csv(division: i64) -> String {
    format!(
        "email,first_name,last_name,division,password,nickname\r\n\
         new1@example.com,Ada,Lovelace,{division},a-good-password,a\r\n\
         new2@example.com,Grace,Hopper,{division},a-good-password,g\r\n\
         not-an-email,Bad,Row,{division},a-good-password,b\r\n"
    )
}

async fn imports_upload_run_and_report(app: TestApp) {
    let division = create_division(&app, "Main", "main", None).await;
    let csv = csv(division);
    let mut console = signed_in_root(&app).await;
    let form = console.get("/admin/imports").await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.text);
    assert!(form.text.contains("enctype=\"multipart/form-data\""));
    let csrf = form.csrf();
    let users = || async {
        Query::new("SELECT COUNT(*) FROM users WHERE email LIKE 'new%'")
            .scalar::<i64>(&app.state.db)
            .await
            .unwrap()
    };

    // Without the CSRF token (or with it after the file): refused, nothing imported.
    let forged = console
        .post_multipart(
            "/admin/imports",
            &[("list", "users")],
            Some(("u.csv", &csv)),
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.text);
    let imports = app.count("SELECT COUNT(*) FROM imports").await;
    assert_eq!(imports, 0);

    // A file the API refuses: its words beside the file field.
    let no_email = console
        .post_multipart(
            "/admin/imports",
            &[("csrf", &csrf), ("list", "users"), ("mode", "create")],
            Some(("u.csv", "first_name\r\nAda\r\n")),
        )
        .await;
    assert_eq!(
        no_email.status,
        StatusCode::BAD_REQUEST,
        "{}",
        no_email.text
    );
    assert!(
        no_email.text.contains("id=\"f-file-error\""),
        "{}",
        no_email.text
    );

    // A dry run: checked, not written.
    let dry = console
        .post_multipart(
            "/admin/imports",
            &[
                ("csrf", &csrf),
                ("list", "users"),
                ("mode", "create"),
                ("dry_run", "true"),
            ],
            Some(("u.csv", &csv)),
        )
        .await;
    assert_eq!(dry.status, StatusCode::SEE_OTHER, "{}", dry.text);
    let watching = console.get(dry.location()).await;
    assert_eq!(watching.status, StatusCode::OK, "{}", watching.text);
    assert!(
        watching.text.contains("http-equiv=\"refresh\"") && watching.text.contains("Dry run"),
        "the page reloads itself until the import ends: {}",
        watching.text
    );
    app.drain_jobs().await;
    let done = console.get(dry.location()).await;
    assert!(
        !done.text.contains("http-equiv=\"refresh\""),
        "{}",
        done.text
    );
    assert!(done.text.contains("completed"), "{}", done.text);
    assert_eq!(users().await, 0);

    let real = console
        .post_multipart(
            "/admin/imports",
            &[("csrf", &csrf), ("list", "users"), ("mode", "create")],
            Some(("u.csv", &csv)),
        )
        .await;
    assert_eq!(real.status, StatusCode::SEE_OTHER, "{}", real.text);
    app.drain_jobs().await;
    let done = console.get(real.location()).await;
    assert!(done.text.contains("completed"), "{}", done.text);
    assert!(
        done.text.contains("id=\"import-created\">2<"),
        "{}",
        done.text
    );
    assert!(
        done.text.contains("id=\"import-failed\">1<"),
        "{}",
        done.text
    );
    assert!(
        done.text.contains("nickname"),
        "the unread column: {}",
        done.text
    );
    assert_eq!(users().await, 2);
    let at = done
        .text
        .find("id=\"error-report\" href=\"")
        .expect("report link")
        + "id=\"error-report\" href=\"".len();
    let link = done.text[at..]
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let report = reqwest::get(&link).await.unwrap().text().await.unwrap();
    assert!(
        report.starts_with("row,field,message") && report.contains(",email,"),
        "{report}"
    );
}

async fn staffs_pick_one_of_their_open_stores(app: TestApp) {
    let geo = instore::geo(&app).await;
    let kadikoy = instore::store(&app, geo.township, "Kadikoy").await;
    let besiktas = instore::store(&app, geo.township, "Besiktas").await;
    let closed = instore::store(&app, geo.township, "Closed shop").await;
    instore::store(&app, geo.township, "Not theirs").await;
    let group = instore::group(&app, "Readers", &[("instore:staff-list", "GET")]).await;
    let staff = instore::staff(
        &app,
        "two@example.com",
        Some("two"),
        &[kadikoy, besiktas, closed],
        &[group],
    )
    .await;
    instore::staff(&app, "none@example.com", Some("none"), &[closed], &[group]).await;
    Query::new("UPDATE retail_stores SET is_active = FALSE WHERE id = $1")
        .bind(closed)
        .execute(&app.state.db)
        .await
        .unwrap();
    let mut console = ConsoleClient::new(&app);
    let login = console.get("/admin/login").await;
    assert!(!login.text.contains("name=\"retail_store\""));
    let csrf = login.csrf();

    // A wrong password: the API's words, and no store is named.
    let wrong = console
        .post(
            "/admin/login",
            &[
                ("csrf", &csrf),
                ("kind", "staff"),
                ("username", "two"),
                ("staff_password", "not-it"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "{}", wrong.text);
    assert!(
        wrong
            .text
            .contains("Unable to log in with provided credentials.")
    );
    assert!(!wrong.text.contains("Kadikoy"));

    // The right one: a choice of its open stores only.
    let picker = console
        .post(
            "/admin/login",
            &[
                ("csrf", &csrf),
                ("kind", "staff"),
                ("username", "two"),
                ("staff_password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(picker.status, StatusCode::OK, "{}", picker.text);
    assert!(
        picker.text.contains(&format!("value=\"{kadikoy}\""))
            && picker.text.contains(&format!("value=\"{besiktas}\""))
            && !picker.text.contains("Closed shop")
            && !picker.text.contains("Not theirs"),
        "{}",
        picker.text
    );
    assert!(console.cookie("kadro_console").is_none());
    let csrf = picker.csrf();
    let signed = console
        .post(
            "/admin/login",
            &[
                ("csrf", &csrf),
                ("kind", "staff"),
                ("username", "two"),
                ("staff_password", PASSWORD),
                ("retail_store", &besiktas.to_string()),
            ],
        )
        .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.text);
    let current: Option<i64> = Query::new("SELECT current_store_id FROM staffs WHERE id = $1")
        .bind(staff)
        .scalar(&app.state.db)
        .await
        .unwrap();
    assert_eq!(current, Some(besiktas));
    assert_eq!(console.get("/admin/staffs").await.status, StatusCode::OK);

    // A staff with no open store is told so.
    let mut other = ConsoleClient::new(&app);
    let login = other.get("/admin/login").await;
    let refused = other
        .post(
            "/admin/login",
            &[
                ("csrf", &login.csrf()),
                ("kind", "staff"),
                ("username", "none"),
                ("staff_password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
    assert!(
        refused
            .text
            .contains("No open retail store is assigned to this staff."),
        "{}",
        refused.text
    );
}

async fn imports_instore_staffs(app: TestApp) {
    let geo = instore::geo(&app).await;
    let shop = instore::store(&app, geo.township, "Kadikoy").await;
    let mut console = signed_in_root(&app).await;
    let form = console.get("/admin/imports").await;
    assert!(
        form.text
            .contains("<option value=\"staffs\">Instore staffs</option>"),
        "{}",
        form.text
    );
    let csrf = form.csrf();
    let csv = format!(
        "username,first_name,last_name,email,password,retail_stores\r\n\
         deniz,Deniz,Yilmaz,deniz@example.com,{PASSWORD},{shop}\r\n\
         ,No,Key,nokey@example.com,{PASSWORD},{shop}\r\n"
    );
    let started = console
        .post_multipart(
            "/admin/imports",
            &[("csrf", &csrf), ("list", "staffs"), ("mode", "create")],
            Some(("staffs.csv", &csv)),
        )
        .await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.text);
    assert!(started.location().starts_with("/admin/imports/staffs/"));
    app.drain_jobs().await;
    let done = console.get(started.location()).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert!(
        done.text.contains("Import of Instore staffs"),
        "{}",
        done.text
    );
    assert!(
        done.text.contains("id=\"import-created\">1<"),
        "{}",
        done.text
    );
    assert!(
        done.text.contains("id=\"import-failed\">1<"),
        "{}",
        done.text
    );
    assert!(done.text.contains("id=\"error-report\""), "{}", done.text);
    let (status, _) = instore::login(
        &app,
        serde_json::json!({"username": "deniz", "password": PASSWORD, "retail_store": shop}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}
