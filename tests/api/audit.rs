//! The audit log: an event for every write, in the write's transaction; nothing for a failed
//! write; no secret in any event; the list's filters; retention.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::b2b_divisions::create_division;
use crate::b2b_users::{create_user, user_body};
use crate::helpers::{Backend, TestApp};
use crate::{on_both_backends, per_backend};

on_both_backends!(
    every_write_records_its_event,
    a_failed_write_records_nothing,
    list_filters_and_detail,
    only_superusers_read_the_log,
    logins_logouts_tokens_and_exports,
    instore_writes_record_their_events,
);
per_backend!(
    retention_deletes_old_events,
    failures_and_locks_are_recorded,
    the_command_line_acts_as_cli,
);

/// One write of the table: the request, then the event it must have recorded.
struct Step {
    method: Method,
    path: String,
    body: Option<Value>,
    action: &'static str,
    target: (&'static str, i64),
    /// Fields that must be in `changes` with these `[old, new]` values (others may be too).
    changes: Value,
}

fn step(
    method: Method,
    path: impl Into<String>,
    body: Option<Value>,
    action: &'static str,
    target: (&'static str, i64),
    changes: Value,
) -> Step {
    Step {
        method,
        path: path.into(),
        body,
        action,
        target,
        changes,
    }
}

/// The newest event.
async fn newest(app: &TestApp) -> Value {
    let (status, list) = app.get("/api/v1/audit-events/?limit=1").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["results"][0].clone()
}

async fn events(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) FROM audit_events").await
}

/// Runs the steps in order; each must succeed and record exactly one event as described,
/// by the harness's superuser, with the request's id.
async fn run(app: &TestApp, root: i64, steps: Vec<Step>) {
    let token = app.token.clone();
    for s in steps {
        let before = events(app).await;
        let (status, body) = app
            .call(s.method.clone(), &s.path, Some(&token), s.body.clone())
            .await;
        assert!(
            status.is_success(),
            "{} {}: {status} {body}",
            s.method,
            s.path
        );
        assert_eq!(events(app).await, before + 1, "{} {}", s.method, s.path);
        let event = newest(app).await;
        assert_eq!(event["action"], s.action, "{event}");
        assert_eq!(
            event["actor"],
            json!({"kind": "user", "id": root, "email": "root@example.com"}),
            "{event}"
        );
        assert_eq!(
            event["target"],
            json!({"type": s.target.0, "id": s.target.1}),
            "{event}"
        );
        for (field, change) in s.changes.as_object().unwrap() {
            assert_eq!(&event["changes"][field], change, "{field} in {event}");
        }
        assert_eq!(event["ip"], "127.0.0.1", "{event}");
        assert!(event["request_id"].as_str().is_some_and(|r| !r.is_empty()));
    }
}

/// No event holds a password, a hash or a token, under any name.
async fn assert_no_secret(app: &TestApp, secrets: &[&str]) {
    let rows: Vec<(String,)> = kadro::db::Query::new("SELECT changes FROM audit_events")
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    for (changes,) in rows {
        for secret in secrets {
            assert!(!changes.contains(secret), "{secret} in {changes}");
        }
        let lower = changes.to_lowercase();
        for word in ["password", "hash", "token"] {
            assert!(!lower.contains(word), "{word} in {changes}");
        }
    }
}

async fn root_id(app: &TestApp) -> i64 {
    app.count("SELECT id FROM users WHERE email = 'root@example.com'")
        .await
}

async fn every_write_records_its_event(app: TestApp) {
    let root = root_id(&app).await;
    let division = create_division(&app, "Main", "main", None).await;
    let user = create_user(&app, division, "someone@example.com").await;
    let event = newest(&app).await;
    assert_eq!(event["action"], "user.create");
    assert_eq!(
        event["changes"]["email"],
        json!([null, "someone@example.com"])
    );
    let (staff, _) =
        crate::helpers::create_b2b_staff(&app.state, "staff@example.com", false, None).await;
    let d = |s: &str| format!("/api/v1/divisions/{division}/{s}");
    let u = |s: &str| format!("/api/v1/users/{user}/{s}");
    let steps = vec![
        step(
            Method::POST,
            "/api/v1/divisions/",
            Some(json!({"name": "Sub", "division_type": "main"})),
            "division.create",
            ("division", division + 1),
            json!({"name": [null, "Sub"]}),
        ),
        step(
            Method::PATCH,
            d(""),
            Some(json!({"name": "Renamed"})),
            "division.update",
            ("division", division),
            json!({"name": ["Main", "Renamed"]}),
        ),
        step(
            Method::POST,
            d("deactivate/"),
            None,
            "division.deactivate",
            ("division", division),
            json!({"is_active": [true, false]}),
        ),
        step(
            Method::POST,
            d("activate/"),
            None,
            "division.activate",
            ("division", division),
            json!({"is_active": [false, true]}),
        ),
        step(
            Method::DELETE,
            format!("/api/v1/divisions/{}/", division + 1),
            None,
            "division.delete",
            ("division", division + 1),
            json!({}),
        ),
        step(
            Method::PATCH,
            u(""),
            Some(json!({"first_name": "New"})),
            "user.update",
            ("user", user),
            json!({"first_name": ["firstname", "New"], "is_active": [false, true]}),
        ),
        step(
            Method::POST,
            u("deactivate/"),
            None,
            "user.deactivate",
            ("user", user),
            json!({"is_active": [true, false]}),
        ),
        step(
            Method::POST,
            u("activate/"),
            None,
            "user.activate",
            ("user", user),
            json!({"is_active": [false, true]}),
        ),
        step(
            Method::POST,
            u("update_remote_id/"),
            None,
            "user.update_remote_id",
            ("user", user),
            json!({}),
        ),
        step(
            Method::PATCH,
            format!("/api/v1/staff-users/{staff}/"),
            Some(json!({"is_superuser": true})),
            "staff_user.update",
            ("staff_user", staff),
            json!({"is_superuser": [false, true]}),
        ),
    ];
    run(&app, root, steps).await;
    assert_no_secret(&app, &["a-good-password"]).await;
}

async fn a_failed_write_records_nothing(app: TestApp) {
    let division = create_division(&app, "Main", "main", None).await;
    let before = events(&app).await;
    // Bad input, a duplicate, a missing row, a refused permission: no event.
    let (status, _) = app.post("/api/v1/divisions/", json!({"name": ""})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    create_user(&app, division, "dup@example.com").await;
    let before_dup = events(&app).await;
    let (status, _) = app
        .post("/api/v1/users/", user_body(division, "dup@example.com"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(events(&app).await, before_dup);
    let (status, _) = app
        .post("/api/v1/divisions/999999/activate/", json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(events(&app).await, before_dup);
    let root = root_id(&app).await;
    let (status, _) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/staff-users/{root}/"),
            Some(&app.token.clone()),
            Some(json!({"is_superuser": false})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the last superuser stays");
    assert_eq!(events(&app).await, before_dup);
    assert_eq!(before_dup, before + 1, "only the user that was created");
}

async fn list_filters_and_detail(app: TestApp) {
    let division = create_division(&app, "Main", "main", None).await;
    let user = create_user(&app, division, "a@example.com").await;
    app.post(&format!("/api/v1/users/{user}/deactivate/"), json!({}))
        .await;
    let ids = |list: &Value| -> Vec<String> {
        list["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, all) = app.get("/api/v1/audit-events/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(all["count"], 3);
    // Newest first.
    assert_eq!(
        ids(&all),
        ["user.deactivate", "user.create", "division.create"]
    );
    for (query, expected) in [
        ("action=user.", vec!["user.deactivate", "user.create"]),
        ("action=user.create", vec!["user.create"]),
        ("action=user", vec![]),
        ("target_type=division", vec!["division.create"]),
        (
            &format!("target_id={user}&target_type=user") as &str,
            vec!["user.deactivate", "user.create"],
        ),
        (
            "actor_kind=user",
            vec!["user.deactivate", "user.create", "division.create"],
        ),
        ("actor_kind=service", vec![]),
        (
            "created_date__gte=2000-01-01",
            vec!["user.deactivate", "user.create", "division.create"],
        ),
        ("created_date__lte=2000-01-01T00:00:00Z", vec![]),
    ] {
        let (status, list) = app.get(&format!("/api/v1/audit-events/?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}: {list}");
        assert_eq!(ids(&list), expected, "{query}");
    }
    let root = root_id(&app).await;
    let (_, mine) = app
        .get(&format!("/api/v1/audit-events/?actor_id={root}&limit=2"))
        .await;
    assert_eq!(mine["count"], 3);
    assert!(mine["next"].as_str().is_some());
    let (status, bad) = app
        .get("/api/v1/audit-events/?actor_id=x&created_date__gte=yesterday")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        bad,
        json!({"actor_id": ["Enter a number."], "created_date__gte": ["Enter a valid date/time."]})
    );
    let id = all["results"][0]["id"].as_i64().unwrap();
    let (status, one) = app.get(&format!("/api/v1/audit-events/{id}/")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one, all["results"][0]);
    let keys = crate::helpers::sorted_keys(&one);
    assert_eq!(
        keys,
        [
            "action",
            "actor",
            "changes",
            "created_date",
            "id",
            "ip",
            "request_id",
            "target",
            "user_agent"
        ]
    );
    let (status, _) = app.get("/api/v1/audit-events/999999/").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn only_superusers_read_the_log(app: TestApp) {
    let (_, staff) =
        crate::helpers::create_b2b_staff(&app.state, "staff@example.com", false, None).await;
    for path in ["/api/v1/audit-events/", "/api/v1/audit-events/1/"] {
        let (status, _) = app.call(Method::GET, path, Some(&staff), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        let (status, _) = app.call(Method::GET, path, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
    let (status, _) = app
        .call(
            Method::DELETE,
            "/api/v1/audit-events/1/",
            Some(&app.token.clone()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

async fn retention_deletes_old_events(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.audit_retention_days = 30).await else {
        return;
    };
    create_division(&app, "Main", "main", None).await;
    create_division(&app, "Other", "main", None).await;
    let old = kadro::http::time::now() - chrono::Duration::days(31);
    kadro::db::Query::new(
        "UPDATE audit_events SET created_date = $1 WHERE id = (SELECT MIN(id) FROM audit_events)",
    )
    .bind(old)
    .execute(&app.state.db)
    .await
    .unwrap();
    let cleaned = kadro::exports::cleanup::run_once(&app.state, kadro::http::time::now())
        .await
        .unwrap();
    assert_eq!(cleaned.audit_events, 1);
    let (_, list) = app.get("/api/v1/audit-events/").await;
    assert_eq!(list["count"], 1);
    assert_eq!(
        list["results"][0]["changes"]["name"],
        json!([null, "Other"])
    );
}

async fn login(app: &TestApp, email: &str, password: &str) -> (StatusCode, Value) {
    let body = json!({"email": email, "password": password});
    app.call(Method::POST, "/api/v1/auth/login/", None, Some(body))
        .await
}

async fn logins_logouts_tokens_and_exports(app: TestApp) {
    let root = root_id(&app).await;
    let division = create_division(&app, "Main", "main", None).await;
    let user = create_user(&app, division, "u@example.com").await;
    let (status, body) = login(&app, "u@example.com", "a-good-password").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    let event = newest(&app).await;
    assert_eq!(event["action"], "auth.login");
    assert_eq!(
        event["actor"],
        json!({"kind": "user", "id": user, "email": "u@example.com"})
    );
    assert_eq!(event["target"], json!({"type": "user", "id": user}));

    let (status, _) = app
        .call(Method::POST, "/api/v1/auth/logout/", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let event = newest(&app).await;
    assert_eq!(event["action"], "auth.logout");
    assert_eq!(event["actor"]["id"], user);

    login(&app, "u@example.com", "a-good-password").await;
    let u = |s: &str| format!("/api/v1/users/{user}/{s}");
    let steps = vec![
        step(
            Method::DELETE,
            u("tokens/"),
            None,
            "token.revoke",
            ("user", user),
            json!({"revoked_count": [null, 1]}),
        ),
        step(
            Method::POST,
            u("unlock/"),
            None,
            "auth.unlock",
            ("user", user),
            json!({}),
        ),
    ];
    run(&app, root, steps).await;

    let (status, _) = app.get("/api/v1/staff-users/?fields=id&fields=email").await;
    assert_eq!(status, StatusCode::OK);
    let event = newest(&app).await;
    assert_eq!(event["action"], "export.request");
    assert_eq!(event["target"]["type"], "export");
    assert_eq!(event["changes"]["fields"], json!([null, ["id", "email"]]));
    assert_no_secret(&app, &["a-good-password", &token]).await;
}

async fn failures_and_locks_are_recorded(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.login_max_failures = 2).await else {
        return;
    };
    let division = create_division(&app, "Main", "main", None).await;
    let user = create_user(&app, division, "u@example.com").await;
    for _ in 0..2 {
        let (status, _) = login(&app, "u@example.com", "wrong-password-1").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    let (status, _) = login(&app, "nobody@example.com", "wrong-password-2").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, failed) = app
        .get("/api/v1/audit-events/?action=auth.login_failed")
        .await;
    assert_eq!(failed["count"], 3, "{failed}");
    let unknown = &failed["results"][0];
    assert_eq!(
        unknown["actor"],
        json!({"kind": "anonymous", "email": "nobody@example.com"})
    );
    assert_eq!(unknown["target"], json!({"type": "user", "id": null}));
    assert_eq!(
        failed["results"][1]["target"],
        json!({"type": "user", "id": user})
    );
    let (_, locked) = app.get("/api/v1/audit-events/?action=auth.locked").await;
    assert_eq!(locked["count"], 1, "{locked}");
    assert_eq!(
        locked["results"][0]["target"],
        json!({"type": "user", "id": user})
    );
    assert_eq!(locked["results"][0]["actor"], json!({"kind": "service"}));
    assert_no_secret(&app, &["wrong-password"]).await;
}

async fn instore_writes_record_their_events(app: TestApp) {
    use crate::instore_support as support;
    let root = root_id(&app).await;
    let geo = support::geo(&app).await;
    let (_, countries) = app.get("/api/v1/audit-events/?action=country.create").await;
    assert_eq!(
        countries["results"][0]["changes"]["code"],
        json!([null, "TR"])
    );
    let store = support::store(&app, geo.township, "Shop").await;
    let group = support::group(&app, "Cashiers", &[]).await;
    let staff = support::staff(&app, "s@example.com", Some("s1"), &[store], &[group]).await;
    let (_, created) = app.get("/api/v1/audit-events/?action=staff.create").await;
    let changes = &created["results"][0]["changes"];
    assert_eq!(changes["username"], json!([null, "s1"]));
    assert_eq!(changes["retail_stores"], json!([null, [store]]));
    let c = geo.country;
    let steps = vec![
        step(
            Method::PATCH,
            format!("/api/v1/countries/{c}/"),
            Some(json!({"name": "Turkey"})),
            "country.update",
            ("country", c),
            json!({"name": ["Türkiye", "Turkey"]}),
        ),
        step(
            Method::PATCH,
            format!("/api/v1/cities/{}/", geo.city),
            Some(json!({"omnitron_id": 7})),
            "city.update",
            ("city", geo.city),
            json!({"omnitron_id": [2, 7]}),
        ),
        step(
            Method::PATCH,
            format!("/api/v1/townships/{}/", geo.township),
            Some(json!({"name": "T"})),
            "township.update",
            ("township", geo.township),
            json!({"name": ["Test Township 3", "T"]}),
        ),
        step(
            Method::PATCH,
            format!("/api/v1/retail_stores/{store}/"),
            Some(json!({"name": "Shop 2"})),
            "store.update",
            ("store", store),
            json!({"name": ["Shop", "Shop 2"]}),
        ),
        step(
            Method::PATCH,
            format!("/api/v1/permission_groups/{group}/"),
            Some(json!({"name": "Tills"})),
            "permission_group.update",
            ("permission_group", group),
            json!({"name": ["Cashiers", "Tills"]}),
        ),
        step(
            Method::PATCH,
            format!("/api/v1/staffs/{staff}/"),
            Some(json!({"last_name": "Roe", "password": "ignored-pass-1"})),
            "staff.update",
            ("staff", staff),
            json!({"last_name": ["Doe", "Roe"]}),
        ),
        step(
            Method::POST,
            "/api/v1/staffs/change_password/",
            Some(json!({"staff": staff, "new_password": "Another-pass-99"})),
            "staff.password_change",
            ("staff", staff),
            json!({}),
        ),
        step(
            Method::DELETE,
            format!("/api/v1/staffs/{staff}/"),
            None,
            "staff.deactivate",
            ("staff", staff),
            json!({}),
        ),
        step(
            Method::DELETE,
            format!("/api/v1/permission_groups/{group}/"),
            None,
            "permission_group.delete",
            ("permission_group", group),
            json!({"staffs": [[staff], []]}),
        ),
        step(
            Method::DELETE,
            format!("/api/v1/retail_stores/{store}/"),
            None,
            "store.delete",
            ("store", store),
            json!({"staffs": [[staff], []]}),
        ),
        step(
            Method::DELETE,
            format!("/api/v1/townships/{}/", geo.township),
            None,
            "township.delete",
            ("township", geo.township),
            json!({}),
        ),
        step(
            Method::DELETE,
            format!("/api/v1/cities/{}/", geo.city),
            None,
            "city.delete",
            ("city", geo.city),
            json!({}),
        ),
        step(
            Method::DELETE,
            format!("/api/v1/countries/{c}/"),
            None,
            "country.delete",
            ("country", c),
            json!({}),
        ),
    ];
    run(&app, root, steps).await;
    assert_no_secret(
        &app,
        &[support::PASSWORD, "ignored-pass-1", "Another-pass-99"],
    )
    .await;
}

async fn the_command_line_acts_as_cli(backend: Backend) {
    use crate::process::kadro_args;
    use kadro::db::{Db, DbOptions, Query};
    let Some(db) = crate::helpers::TestDb::create(backend).await else {
        return;
    };
    let args = [
        "createsuperuser",
        "--email",
        "ops@example.com",
        "--password-stdin",
    ];
    let (code, _, stderr) = kadro_args(&db, &args, "correct horse battery\n");
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = kadro_args(&db, &["user", "unlock", "ops@example.com"], "");
    assert_eq!(code, 0, "{stderr}");
    let pool = Db::connect(&db.url, &DbOptions { max_connections: 1 })
        .await
        .unwrap();
    let rows: Vec<(String, String)> =
        Query::new("SELECT action, actor_kind FROM audit_events ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;
    assert!(
        rows.contains(&("auth.unlock".into(), "cli".into())),
        "{rows:?}"
    );
}
