//! The admin console over plain HTTP: sessions, cookies, CSRF and who may see what. The
//! browser tests (`browser.rs`) drive the pages themselves in Chromium.

mod browser;
mod pages;
mod support;
mod walk;

use kadro::db::Query;
use reqwest::StatusCode;

use self::support::{ConsoleClient, ROOT_PASSWORD, set_password};
use crate::b2b_divisions::create_division;
use crate::b2b_users::create_user;
use crate::helpers::TestApp;
use crate::instore_support::{self as instore, PASSWORD};
use crate::on_both_backends;

on_both_backends!(
    sign_in_starts_a_strict_session_and_sign_out_ends_it,
    forged_forms_are_refused_and_change_nothing,
    accounts_see_only_what_they_may_use,
);

async fn sign_in_starts_a_strict_session_and_sign_out_ends_it(app: TestApp) {
    set_password(&app, "root@example.com").await;
    let mut console = ConsoleClient::new(&app);
    let anonymous = console.get("/admin/").await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert_eq!(anonymous.location(), "/admin/login");

    let wrong = console
        .sign_in("root@example.com", "not-the-password")
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(
        wrong
            .text
            .contains("Unable to log in with provided credentials."),
        "the API's words: {}",
        wrong.text
    );
    let csp = wrong.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(console.cookie("kadro_console").is_none());

    let signed_in = console.sign_in("root@example.com", ROOT_PASSWORD).await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.text
    );
    let set = signed_in.set_cookies().join("\n");
    assert!(
        set.contains("kadro_console=")
            && set.contains("HttpOnly")
            && set.contains("SameSite=Strict"),
        "{set}"
    );
    assert!(
        !set.contains("Secure"),
        "plain HTTP gets no Secure cookie: {set}"
    );
    let token = console
        .cookie("kadro_console")
        .expect("session cookie")
        .to_owned();
    let overview = console.get("/admin/").await;
    assert_eq!(overview.status, StatusCode::OK);
    assert!(overview.text.contains("B2B users") && overview.text.contains("Recent exports"));

    // The session is an API token of the account; signing out revokes it.
    let (status, _) = app
        .call(reqwest::Method::GET, "/api/v1/auth/me/", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let csrf = overview.csrf();
    let out = console.post("/admin/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.location(), "/admin/login");
    let (status, _) = app
        .call(reqwest::Method::GET, "/api/v1/auth/me/", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(console.get("/admin/").await.status, StatusCode::SEE_OTHER);

    // Behind an HTTPS proxy the cookie is Secure.
    let mut https = ConsoleClient::new(&app);
    let form = https.get("/admin/login").await;
    let csrf = form.csrf();
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(app.url("/admin/login"))
        .header("X-Forwarded-Proto", "https")
        .header(
            "Cookie",
            format!(
                "kadro_console_login={}",
                https.cookie("kadro_console_login").unwrap()
            ),
        )
        .form(&[
            ("csrf", csrf.as_str()),
            ("kind", "b2b"),
            ("email", "root@example.com"),
            ("password", ROOT_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("Secure"), "{cookie}");
}

async fn forged_forms_are_refused_and_change_nothing(app: TestApp) {
    set_password(&app, "root@example.com").await;
    let division = create_division(&app, "Main", "main", None).await;
    let user = create_user(&app, division, "ada@example.com").await;
    let mut console = ConsoleClient::new(&app);
    assert_eq!(
        console
            .sign_in("root@example.com", ROOT_PASSWORD)
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let page = console.get(&format!("/admin/users/{user}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let good = page.csrf();

    let path = format!("/admin/users/{user}");
    for forged in [
        vec![],
        vec![("csrf", "0".repeat(64))],
        vec![("csrf", flip_last(&good))],
    ] {
        let mut form: Vec<(&str, &str)> = forged.iter().map(|(k, v)| (*k, v.as_str())).collect();
        form.push(("first_name", "Forged"));
        let refused = console.post(&path, &form).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
        assert!(refused.text.contains("CSRF"));
        let deactivate = console.post(&format!("{path}/deactivate"), &form).await;
        assert_eq!(deactivate.status, StatusCode::FORBIDDEN);
    }
    let (_, after) = app.get(&format!("/api/v1/users/{user}/")).await;
    assert_eq!(
        (after["first_name"].as_str(), after["is_active"].as_bool()),
        (Some("firstname"), Some(true))
    );

    // Another session's token does not fit this session.
    let mut other = ConsoleClient::new(&app);
    other.sign_in("root@example.com", ROOT_PASSWORD).await;
    let theirs = other.get("/admin/").await.csrf();
    assert_ne!(theirs, good);
    let refused = console
        .post(&path, &[("csrf", &theirs), ("first_name", "Forged")])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // A sign-in form without its token is refused before any password is checked.
    let mut fresh = ConsoleClient::new(&app);
    let refused = fresh
        .post(
            "/admin/login",
            &[
                ("kind", "b2b"),
                ("email", "root@example.com"),
                ("password", ROOT_PASSWORD),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(fresh.cookie("kadro_console").is_none());

    // With the token, the same edit goes through the API and its validation.
    let blank = console
        .post(&path, &[("csrf", &good), ("first_name", &"x".repeat(300))])
        .await;
    assert_eq!(blank.status, StatusCode::BAD_REQUEST, "{}", blank.text);
    assert!(
        blank.text.contains("field-error"),
        "errors beside the field: {}",
        blank.text
    );
    let saved = console
        .post(
            &path,
            &[
                ("csrf", &good),
                ("first_name", "Grace"),
                ("last_name", "Hopper"),
                ("phone_number", "0555"),
                ("division", &division.to_string()),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text);
    let (_, after) = app.get(&format!("/api/v1/users/{user}/")).await;
    assert_eq!(after["first_name"], "Grace");
}

/// `token` with its last hexadecimal digit changed.
fn flip_last(token: &str) -> String {
    let last = if token.ends_with('0') { "1" } else { "0" };
    format!("{}{last}", &token[..token.len() - 1])
}

async fn accounts_see_only_what_they_may_use(app: TestApp) {
    // A B2B user that is not staff may not use the console; its new token is revoked.
    let division = create_division(&app, "Main", "main", None).await;
    let user = create_user(&app, division, "plain@example.com").await;
    set_password(&app, "plain@example.com").await;
    let mut console = ConsoleClient::new(&app);
    let refused = console.sign_in("plain@example.com", ROOT_PASSWORD).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
    assert!(
        refused
            .text
            .contains("This account may not use the console.")
    );
    assert!(console.cookie("kadro_console").is_none());
    let tokens: i64 = Query::new(
        "SELECT COUNT(*) FROM api_tokens WHERE account_kind = 'user' AND account_id = $1",
    )
    .bind(user)
    .scalar(&app.state.db)
    .await
    .unwrap();
    assert_eq!(tokens, 0);

    // An Instore staff whose group grants the staff list sees that page and nothing else.
    let geo = instore::geo(&app).await;
    let store = instore::store(&app, geo.township, "Shop 1").await;
    let readers = instore::group(
        &app,
        "Readers",
        &[
            ("instore:staff-list", "GET"),
            ("instore:staff-detail", "GET"),
        ],
    )
    .await;
    instore::staff(
        &app,
        "reader@example.com",
        Some("reader"),
        &[store],
        &[readers],
    )
    .await;
    let mut staff = ConsoleClient::new(&app);
    let form = staff.get("/admin/login").await;
    let csrf = form.csrf();
    let store_text = store.to_string();
    let wrong_store = staff
        .post(
            "/admin/login",
            &[
                ("csrf", &csrf),
                ("kind", "staff"),
                ("username", "reader"),
                ("staff_password", PASSWORD),
                ("retail_store", "999999"),
            ],
        )
        .await;
    assert_eq!(wrong_store.status, StatusCode::BAD_REQUEST);
    assert!(
        wrong_store
            .text
            .contains("The staff is not assigned to this retail store."),
        "{}",
        wrong_store.text
    );
    let signed_in = staff
        .post(
            "/admin/login",
            &[
                ("csrf", &csrf),
                ("kind", "staff"),
                ("username", "reader"),
                ("staff_password", PASSWORD),
                ("retail_store", &store_text),
            ],
        )
        .await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.text
    );
    let overview = staff.get("/admin/").await;
    assert!(overview.text.contains("href=\"/admin/staffs\""));
    assert!(!overview.text.contains("href=\"/admin/users\""));
    assert!(!overview.text.contains("href=\"/admin/groups\""));
    assert_eq!(staff.get("/admin/staffs").await.status, StatusCode::OK);
    let listed = staff.get("/admin/staffs").await;
    assert!(
        !listed.text.contains("Create a staff"),
        "no create button without the permission"
    );
    assert_eq!(
        staff.get("/admin/users").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        staff.get("/admin/groups").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        staff.get(&format!("/admin/users/{user}")).await.status,
        StatusCode::FORBIDDEN
    );
    // Posting the create form anyway: the API refuses it.
    let csrf = overview.csrf();
    let forced = staff
        .post(
            "/admin/staffs/new",
            &[
                ("csrf", &csrf),
                ("email", "x@example.com"),
                ("password", PASSWORD),
                ("retail_stores", &store_text),
            ],
        )
        .await;
    assert_eq!(forced.status, StatusCode::FORBIDDEN, "{}", forced.text);
    let (_, list) = app.get("/api/v1/staffs/?email=x@example.com").await;
    assert_eq!(list["count"], 0);
}

/// The console signs in through the API's login endpoints, so their per-address limit holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_sign_in_is_throttled_like_the_api() {
    let app = TestApp::spawn_with(crate::helpers::Backend::Sqlite, |c| {
        c.login_rate_per_minute = 2;
    })
    .await
    .expect("SQLite app");
    let mut console = ConsoleClient::new(&app);
    for _ in 0..2 {
        let wrong = console.sign_in("root@example.com", "wrong-password").await;
        assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "{}", wrong.text);
    }
    let limited = console.sign_in("root@example.com", "wrong-password").await;
    assert_eq!(
        limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        limited.text
    );
    assert!(limited.text.contains("role=\"alert\""), "{}", limited.text);
}

on_both_backends!(superusers_promote_and_demote_staff_users);

async fn superusers_promote_and_demote_staff_users(app: TestApp) {
    set_password(&app, "root@example.com").await;
    let (colleague, _) =
        crate::helpers::create_b2b_staff(&app.state, "colleague@example.com", false, None).await;
    let mut console = ConsoleClient::new(&app);
    console.sign_in("root@example.com", ROOT_PASSWORD).await;
    let list = console.get("/admin/staff-users").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert!(list.text.contains("colleague@example.com") && list.text.contains("Promote"));
    let csrf = list.csrf();
    let root: i64 = Query::new("SELECT id FROM users WHERE email = 'root@example.com'")
        .scalar(&app.state.db)
        .await
        .unwrap();

    // The last active superuser stays one: the API's refusal, in its words.
    let refused = console
        .post(
            &format!("/admin/staff-users/{root}"),
            &[("csrf", &csrf), ("is_superuser", "false")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
    assert!(
        refused
            .text
            .contains("The last active superuser cannot be demoted.")
    );

    let promoted = console
        .post(
            &format!("/admin/staff-users/{colleague}"),
            &[("csrf", &csrf), ("is_superuser", "true")],
        )
        .await;
    assert_eq!(promoted.status, StatusCode::SEE_OTHER, "{}", promoted.text);
    let (_, seen) = app.get(&format!("/api/v1/staff-users/{colleague}/")).await;
    assert_eq!(seen["is_superuser"], true);
    let demoted = console
        .post(
            &format!("/admin/staff-users/{root}"),
            &[("csrf", &csrf), ("is_superuser", "false")],
        )
        .await;
    assert_eq!(demoted.status, StatusCode::SEE_OTHER, "{}", demoted.text);
    // No longer a superuser: the page is refused.
    assert_eq!(
        console.get("/admin/staff-users").await.status,
        StatusCode::FORBIDDEN
    );
}

on_both_backends!(divisions_show_their_tree_and_what_deactivation_affects);

async fn divisions_show_their_tree_and_what_deactivation_affects(app: TestApp) {
    set_password(&app, "root@example.com").await;
    let main = create_division(&app, "Istanbul", "main", None).await;
    let sub = create_division(&app, "Kadikoy", "sub", Some(main)).await;
    let other = create_division(&app, "Ankara", "main", None).await;
    create_division(&app, "Cankaya", "sub", Some(other)).await;
    for name in ["ada", "grace"] {
        create_user(&app, sub, &format!("{name}@example.com")).await;
    }
    // The API's `parent` filter lists one main division's sub-divisions.
    let (status, subs) = app.get(&format!("/api/v1/divisions/?parent={main}")).await;
    assert_eq!(status, StatusCode::OK, "{subs}");
    assert_eq!(
        (subs["count"].as_i64(), subs["results"][0]["id"].as_i64()),
        (Some(1), Some(sub))
    );

    let mut console = ConsoleClient::new(&app);
    console.sign_in("root@example.com", ROOT_PASSWORD).await;
    let tree = console.get("/admin/divisions").await;
    assert_eq!(tree.status, StatusCode::OK, "{}", tree.text);
    assert!(tree.text.contains("Istanbul") && tree.text.contains("Ankara"));
    assert!(
        !tree.text.contains("Kadikoy"),
        "sub-divisions are under their main division"
    );
    let main_page = console.get(&format!("/admin/divisions/{main}")).await;
    assert!(main_page.text.contains("Kadikoy") && !main_page.text.contains("Cankaya"));
    let sub_page = console.get(&format!("/admin/divisions/{sub}")).await;
    assert!(
        sub_page.text.contains("also deactivates its 2 users"),
        "{}",
        sub_page.text
    );
    let csrf = sub_page.csrf();
    let done = console
        .post(
            &format!("/admin/divisions/{sub}/deactivate"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
    let (_, users) = app
        .get(&format!("/api/v1/users/?division={sub}&is_active=false"))
        .await;
    assert_eq!(users["count"], 2);
}
