//! The audit log beyond the API's writes: its export (with the list's filters) and the event of
//! a download, the command line's writes, the old and new links of a staff update, and the
//! staffs that lose a deleted store or group.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::b2b_divisions::create_division;
use crate::b2b_users::create_user;
use crate::exports::read_csv;
use crate::helpers::{Backend, TestApp};
use crate::{on_both_backends, per_backend};

on_both_backends!(
    the_log_exports_with_its_filters,
    an_export_refused_records_nothing,
    a_staff_update_names_old_and_new_links,
);
per_backend!(command_line_writes_are_recorded_without_secrets);

async fn newest(app: &TestApp) -> Value {
    let (status, list) = app.get("/api/v1/audit-events/?limit=1").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["results"][0].clone()
}

async fn the_log_exports_with_its_filters(app: TestApp) {
    let root = app
        .count("SELECT id FROM users WHERE email = 'root@example.com'")
        .await;
    let division = create_division(&app, "Main", "main", None).await;
    let user = create_user(&app, division, "someone@example.com").await;
    app.post(&format!("/api/v1/users/{user}/deactivate/"), json!({}))
        .await;
    let query = "action=user.&fields=id&fields=action&fields=target_id&fields=actor_email\
        &fields=changes&format=csv";
    let (status, started) = app.get(&format!("/api/v1/audit-events/?{query}")).await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let key = started["cache_key"].as_str().expect("cache_key").to_owned();
    let request = newest(&app).await;
    assert_eq!(request["action"], "export.request");
    assert_eq!(request["changes"]["list"], json!([null, "audit_events"]));
    let export_id = request["target"]["id"].as_i64().unwrap();

    app.drain_jobs().await;
    let (status, done) = app
        .get(&format!("/api/v1/audit-events/?status_cache_key={key}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["progress"]["rows_written"], 2, "{done}");
    let events_before = app.count("SELECT COUNT(*) FROM audit_events").await;
    let response = app
        .client
        .get(done["url"].as_str().unwrap())
        .header("user-agent", "sheet-reader/1.0")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let disposition = response.headers()["content-disposition"].to_str().unwrap();
    assert!(disposition.contains("audit-events-"), "{disposition}");
    let sheet = read_csv(&response.bytes().await.unwrap());
    // In id order: the create, then the deactivation; only `user.` actions (the filter).
    assert_eq!(sheet.len(), 3, "{sheet:?}");
    assert_eq!(
        sheet[0],
        ["id", "action", "target_id", "actor_email", "changes"]
    );
    assert_eq!(sheet[1][1], "user.create");
    assert_eq!(sheet[2][1], "user.deactivate");
    for row in &sheet[1..] {
        assert_eq!(row[2], user.to_string());
        assert_eq!(row[3], "root@example.com");
    }
    let changes: Value = serde_json::from_str(&sheet[2][4]).unwrap();
    assert_eq!(changes, json!({"is_active": [true, false]}));
    assert!(
        !sheet.concat().concat().to_lowercase().contains("password"),
        "{sheet:?}"
    );

    // The download is recorded, by the account the export was made for.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events").await,
        events_before + 1
    );
    let download = newest(&app).await;
    assert_eq!(download["action"], "export.download", "{download}");
    assert_eq!(
        download["actor"],
        json!({"kind": "user", "id": root, "email": "root@example.com"})
    );
    assert_eq!(
        download["target"],
        json!({"type": "export", "id": export_id})
    );
    assert_eq!(
        download["changes"],
        json!({"list": [null, "audit_events"], "format": [null, "csv"]})
    );
    assert_eq!(download["ip"], "127.0.0.1");
    assert_eq!(download["user_agent"], "sheet-reader/1.0");

    // A link that fails (tampered) records nothing.
    let tampered = done["url"]
        .as_str()
        .unwrap()
        .replace("signature=", "signature=0");
    let response = app.client.get(&tampered).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events").await,
        events_before + 1
    );

    // Every format; the list without export parameters is still the list.
    for format in ["xls", "xlsx"] {
        let (status, body) = app
            .get(&format!(
                "/api/v1/audit-events/?fields=id&fields=created_date&format={format}"
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, page) = app.get("/api/v1/audit-events/?action=user.").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["count"], 2);
}

async fn an_export_refused_records_nothing(app: TestApp) {
    create_division(&app, "Main", "main", None).await;
    let events = app.count("SELECT COUNT(*) FROM audit_events").await;
    let (status, body) = app
        .get("/api/v1/audit-events/?fields=id&fields=password_hash&format=pdf")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let allowed = "id, created_date, action, actor_kind, actor_id, actor_email, target_type, \
        target_id, changes, request_id, ip, user_agent";
    assert_eq!(
        body,
        json!({
            "fields": [format!("Unknown field \"password_hash\". Allowed: {allowed}")],
            "format": ["Select a valid choice. pdf is not one of the available choices: csv, xls, xlsx."],
        })
    );
    let (status, body) = app.get("/api/v1/audit-events/?actor_id=x&fields=id").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body, json!({"actor_id": ["Enter a number."]}));
    // Not a superuser: 403, as the list.
    let (_, staff) =
        crate::helpers::create_b2b_staff(&app.state, "staff@example.com", false, None).await;
    let (status, _) = app
        .call(
            Method::GET,
            "/api/v1/audit-events/?fields=id",
            Some(&staff),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .get("/api/v1/audit-events/?status_cache_key=0123456789abcdef0123456789abcdef")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(app.count("SELECT COUNT(*) FROM exports").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events").await, events);
}

async fn a_staff_update_names_old_and_new_links(app: TestApp) {
    use crate::instore_support as support;
    let geo = support::geo(&app).await;
    let a = support::store(&app, geo.township, "Shop A").await;
    let b = support::store(&app, geo.township, "Shop B").await;
    let c = support::store(&app, geo.township, "Shop C").await;
    let g1 = support::group(&app, "Cashiers", &[]).await;
    let g2 = support::group(&app, "Managers", &[]).await;
    let staff = support::staff(&app, "s@example.com", Some("s1"), &[b, a], &[g1]).await;
    let created = newest(&app).await;
    assert_eq!(created["action"], "staff.create");
    assert_eq!(created["changes"]["retail_stores"], json!([null, [a, b]]));
    assert_eq!(created["changes"]["permission_groups"], json!([null, [g1]]));

    let path = format!("/api/v1/staffs/{staff}/");
    let patch = |body: Value| {
        let app = &app;
        let path = path.clone();
        async move {
            let (status, out) = app
                .call(Method::PATCH, &path, Some(&app.token), Some(body))
                .await;
            assert_eq!(status, StatusCode::OK, "{out}");
            newest(app).await
        }
    };
    let event = patch(json!({"retail_stores": [c, b], "permission_groups": [g2, g1]})).await;
    assert_eq!(event["action"], "staff.update");
    assert_eq!(
        event["changes"],
        json!({"retail_stores": [[a, b], [b, c]], "permission_groups": [[g1], [g1, g2]]})
    );
    // The same sets in another order: no change named.
    let event =
        patch(json!({"retail_stores": [b, c], "permission_groups": [g2, g1], "last_name": "Roe"}))
            .await;
    assert_eq!(event["changes"], json!({"last_name": ["Doe", "Roe"]}));
    // Emptied; a body without them keeps them and names nothing.
    let event = patch(json!({"permission_groups": []})).await;
    assert_eq!(
        event["changes"],
        json!({"permission_groups": [[g1, g2], []]})
    );
    let event = patch(json!({"first_name": "Jane"})).await;
    assert_eq!(event["changes"], json!({"first_name": ["John", "Jane"]}));
    // PUT names them too.
    let (status, out) = app
        .call(
            Method::PUT,
            &path,
            Some(&app.token),
            Some(json!({
                "retail_stores": [a], "first_name": "Jane", "last_name": "Roe",
                "email": "s@example.com", "username": "s1", "remote_id": "r-s@example.com",
                "permission_groups": [g2],
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{out}");
    let event = newest(&app).await;
    assert_eq!(
        event["changes"],
        json!({"retail_stores": [[b, c], [a]], "permission_groups": [[], [g2]]})
    );

    // Deleting a store or a group names the staffs that lose it; one no staff had names none.
    let other = support::staff(&app, "t@example.com", Some("t1"), &[a, b], &[g2]).await;
    for (path, action) in [
        (format!("/api/v1/retail_stores/{a}/"), "store.delete"),
        (
            format!("/api/v1/permission_groups/{g2}/"),
            "permission_group.delete",
        ),
    ] {
        let (status, _) = app
            .call(Method::DELETE, &path, Some(&app.token), None)
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let event = newest(&app).await;
        assert_eq!(event["action"], action);
        assert_eq!(event["changes"], json!({"staffs": [[staff, other], []]}));
    }
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/permission_groups/{g1}/"),
            Some(&app.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(newest(&app).await["changes"], json!({}));
    let (_, shown) = app.get(&format!("/api/v1/staffs/{other}/")).await;
    assert_eq!(
        shown["retail_stores"].as_array().unwrap().len(),
        1,
        "{shown}"
    );
    assert_eq!(shown["permission_groups"], json!([]), "{shown}");
}

/// `createsuperuser`, `user set-password`, `token issue` and `token revoke` each record their
/// event as the command line, and no column of any event holds the password or the token.
async fn command_line_writes_are_recorded_without_secrets(backend: Backend) {
    use crate::process::kadro_args;
    use kadro::db::{Db, DbOptions, Query};
    let Some(db) = crate::helpers::TestDb::create(backend).await else {
        return;
    };
    let first = "first-Password-7781";
    let second = "second-Password-9924";
    let args = [
        "createsuperuser",
        "--email",
        "ops@example.com",
        "--password-stdin",
    ];
    let (code, stdout, stderr) = kadro_args(&db, &args, &format!("{first}\n"));
    assert_eq!(code, 0, "{stderr}");
    let id: i64 = stdout.trim().parse().expect("the new id");
    let args = [
        "user",
        "set-password",
        "ops@example.com",
        "--password-stdin",
    ];
    let (code, _, stderr) = kadro_args(&db, &args, &format!("{second}\n"));
    assert_eq!(code, 0, "{stderr}");
    let (code, token, stderr) =
        kadro_args(&db, &["token", "issue", "--email", "ops@example.com"], "");
    assert_eq!(code, 0, "{stderr}");
    let token = token.trim().to_owned();
    assert_eq!(token.len(), 40, "{token}");
    let (code, _, stderr) = kadro_args(&db, &["token", "revoke", &token], "");
    assert_eq!(code, 0, "{stderr}");
    // A refused command records nothing.
    let (code, _, _) = kadro_args(
        &db,
        &["token", "issue", "--email", "nobody@example.com"],
        "",
    );
    assert_eq!(code, 1);

    let pool = Db::connect(&db.url, &DbOptions { max_connections: 1 })
        .await
        .unwrap();
    let rows: Vec<(String, String, String, Option<i64>, String)> = Query::new(
        "SELECT action, actor_kind, target_type, target_id, changes FROM audit_events ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let everything: Vec<(String,)> = Query::new(
        "SELECT action || '|' || actor_kind || '|' || COALESCE(actor_email, '') || '|' || \
         target_type || '|' || changes || '|' || COALESCE(request_id, '') || '|' || \
         COALESCE(ip, '') || '|' || COALESCE(user_agent, '') FROM audit_events",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    let summary: Vec<(&str, &str, &str, Option<i64>)> = rows
        .iter()
        .map(|(a, k, t, i, _)| (a.as_str(), k.as_str(), t.as_str(), *i))
        .collect();
    assert_eq!(
        summary,
        [
            ("staff_user.create", "cli", "staff_user", Some(id)),
            ("user.password_change", "cli", "user", Some(id)),
            ("token.issue", "cli", "user", Some(id)),
            ("token.revoke", "cli", "user", Some(id)),
        ]
    );
    let created: Value = serde_json::from_str(&rows[0].4).unwrap();
    assert_eq!(
        created,
        json!({"email": [null, "ops@example.com"], "is_active": [null, true],
               "is_staff": [null, true], "is_superuser": [null, true]})
    );
    for (line,) in &everything {
        for secret in [first, second, token.as_str(), "argon2"] {
            assert!(!line.contains(secret), "{secret} in {line}");
        }
    }
}
