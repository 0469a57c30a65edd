//! SCIM's `meta.version` as an ETag (RFC 7644 §3.14): `If-Match` guards writes (412 when
//! stale, nothing changed) and `If-None-Match` answers an unchanged read with 304.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::instore_support::{geo, group, store};
use crate::on_both_backends;
use crate::scim_support::{assert_error, new_user, patch, scim, scim_with};

on_both_backends!(
    versions_guard_user_writes_and_reads,
    group_versions_follow_their_members,
    a_change_between_check_and_write_is_a_412,
);

const STALE: &str = "W/\"00000000000000000000\"";

fn version(resource: &Value) -> String {
    resource["meta"]["version"].as_str().unwrap().to_owned()
}

async fn versions_guard_user_writes_and_reads(app: TestApp) {
    let root = Some(app.token.as_str());
    let g = geo(&app).await;
    let shop = store(&app, g.township, "Shop").await;
    let (status, headers, created) = scim_with(
        &app,
        Method::POST,
        "/scim/v2/Users",
        root,
        Some(new_user("ada", shop)),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let v1 = version(&created);
    assert_eq!(headers["etag"], v1.as_str());
    let path = format!("/scim/v2/Users/{}", created["id"].as_str().unwrap());

    // If-None-Match: 304 while unchanged, with no body and the ETag.
    let (status, headers, body) = scim_with(
        &app,
        Method::GET,
        &path,
        root,
        None,
        &[("If-None-Match", &v1)],
    )
    .await;
    assert_eq!((status, body), (StatusCode::NOT_MODIFIED, Value::Null));
    assert_eq!(headers["etag"], v1.as_str());
    let (status, _, body) = scim_with(
        &app,
        Method::GET,
        &path,
        root,
        None,
        &[("If-None-Match", STALE)],
    )
    .await;
    assert_eq!((status, version(&body)), (StatusCode::OK, v1.clone()));

    // A stale If-Match: 412, nothing written.
    let rename = patch(json!([{"op": "replace", "path": "userName", "value": "eve"}]));
    for (method, body) in [
        (Method::PUT, Some(new_user("eve", shop))),
        (Method::PATCH, Some(rename.clone())),
        (Method::DELETE, None),
    ] {
        let (status, _, answer) = scim_with(
            &app,
            method.clone(),
            &path,
            root,
            body,
            &[("If-Match", STALE)],
        )
        .await;
        assert_eq!(
            status,
            StatusCode::PRECONDITION_FAILED,
            "{method}: {answer}"
        );
        assert_error(&answer, "412", None);
    }
    let unchanged = "SELECT COUNT(*) FROM staffs WHERE username = 'ada' AND is_active = TRUE \
                     AND deprovisioned_date IS NULL";
    assert_eq!(app.count(unchanged).await, 1);

    // The current version (strong or weak form) lets the write through; the answer is
    // projected as asked and carries the new version.
    let strong = v1.trim_start_matches("W/").to_owned();
    let (status, headers, patched) = scim_with(
        &app,
        Method::PATCH,
        &format!("{path}?attributes=userName"),
        root,
        Some(rename),
        &[("If-Match", &strong)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    let id = created["id"].clone();
    assert_eq!(
        patched,
        json!({"schemas": created["schemas"], "id": id, "userName": "eve"})
    );
    let v2 = headers["etag"].to_str().unwrap().to_owned();
    assert_ne!(v2, v1);

    // A change through the staff API is a new version too.
    let staff = format!("/api/v1/staffs/{}/", id.as_str().unwrap());
    let (status, _) = app
        .call(
            Method::PATCH,
            &staff,
            root,
            Some(json!({"first_name": "Augusta"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = scim_with(
        &app,
        Method::GET,
        &path,
        root,
        None,
        &[("If-None-Match", &v2)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let v3 = version(&body);
    assert_ne!(v3, v2);
    let (status, _, _) = scim_with(
        &app,
        Method::DELETE,
        &path,
        root,
        None,
        &[("If-Match", &v2)],
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    let (status, _, _) = scim_with(
        &app,
        Method::DELETE,
        &path,
        root,
        None,
        &[("If-Match", &v3)],
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

async fn group_versions_follow_their_members(app: TestApp) {
    let root = Some(app.token.as_str());
    let g = geo(&app).await;
    let shop = store(&app, g.township, "Shop").await;
    let crew = group(&app, "Crew", &[]).await;
    let path = format!("/scim/v2/Groups/{crew}");
    let (_, headers, before) = scim_with(&app, Method::GET, &path, root, None, &[]).await;
    let v1 = version(&before);
    assert_eq!(headers["etag"], v1.as_str());

    // A staff given the group through the staff API changes the group's version.
    let (status, user) = scim(
        &app,
        Method::POST,
        "/scim/v2/Users",
        root,
        Some(new_user("ada", shop)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let staff = format!("/api/v1/staffs/{}/", user["id"].as_str().unwrap());
    let (status, _) = app
        .call(
            Method::PATCH,
            &staff,
            root,
            Some(json!({"permission_groups": [crew]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, after) = scim_with(
        &app,
        Method::GET,
        &path,
        root,
        None,
        &[("If-None-Match", &v1)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(after["members"][0]["value"], user["id"]);
    let v2 = version(&after);
    assert_ne!(v2, v1);

    let rename = patch(json!([{"op": "replace", "path": "displayName", "value": "Tills"}]));
    let (status, _, answer) = scim_with(
        &app,
        Method::PATCH,
        &path,
        root,
        Some(rename.clone()),
        &[("If-Match", &v1)],
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{answer}");
    assert_error(&answer, "412", None);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM permission_groups WHERE name = 'Crew'")
            .await,
        1
    );
    let (status, _, answer) = scim_with(
        &app,
        Method::PATCH,
        &path,
        root,
        Some(rename),
        &[("If-Match", &v2)],
    )
    .await;
    assert_eq!(
        (status, &answer["displayName"]),
        (StatusCode::OK, &json!("Tills"))
    );
    let (status, _, _) = scim_with(
        &app,
        Method::DELETE,
        &path,
        root,
        None,
        &[("If-Match", "*")],
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

/// On PostgreSQL, a staff write in progress when a PATCH with the current `If-Match` arrives:
/// the PATCH reads the User with its row locked, so it waits for that write, sees the new
/// version and answers 412 instead of overwriting the change.
async fn a_change_between_check_and_write_is_a_412(app: TestApp) {
    if app.state.db.dialect() != kadro::db::Dialect::Postgres {
        // SQLite has one writer: the two transactions cannot overlap.
        return;
    }
    let root = Some(app.token.as_str());
    let g = geo(&app).await;
    let shop = store(&app, g.township, "Shop").await;
    let (_, created) = scim(
        &app,
        Method::POST,
        "/scim/v2/Users",
        root,
        Some(new_user("ada", shop)),
    )
    .await;
    let id: i64 = created["id"].as_str().unwrap().parse().unwrap();
    let v1 = version(&created);
    // Another write of the staff, its transaction still open.
    let mut other = app.state.db.begin().await.unwrap();
    kadro::db::Query::new("UPDATE staffs SET first_name = 'Augusta' WHERE id = $1")
        .bind(id)
        .execute(&mut other)
        .await
        .unwrap();
    let ops = patch(json!([{"op": "replace", "path": "name.familyName", "value": "King"}]));
    let request = app
        .client
        .request(Method::PATCH, app.url(&format!("/scim/v2/Users/{id}")))
        .header("Authorization", format!("Bearer {}", app.token))
        .header("If-Match", v1.as_str())
        .header("Content-Type", "application/scim+json")
        .body(ops.to_string())
        .send();
    let request = tokio::spawn(request);
    // The PATCH either waits for the other write's row lock or (unguarded) went ahead.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let waiting: i64 = kadro::db::Query::new(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND wait_event_type = 'Lock'",
        )
        .scalar(&app.state.db)
        .await
        .unwrap();
        if waiting > 0 || request.is_finished() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the PATCH never ran");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    other.commit().await.unwrap();
    let answer = request.await.unwrap().unwrap();
    assert_eq!(answer.status(), StatusCode::PRECONDITION_FAILED);
    let body: Value = answer.json().await.unwrap();
    assert_error(&body, "412", None);
    let (_, now) = app.get(&format!("/api/v1/staffs/{id}/")).await;
    assert_eq!(
        (now["first_name"].as_str(), now["last_name"].as_str()),
        (Some("Augusta"), Some("Lovelace"))
    );
}
