//! Permissions generated from the route table, permission groups, and authorisation of every
//! Instore route for every kind of caller.

use kadro::config::Secret;
use kadro::db::Query;
use kadro::instore::routes::{ENDPOINTS, Endpoint, Verb};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::sorted_keys;
use crate::helpers::{TestApp, create_b2b_staff};
use crate::instore_support::{
    created, geo, group, id, make_superuser_staff, permission, send, staff, staff_token, store,
};
use crate::on_both_backends;

on_both_backends!(
    permissions_follow_the_route_table,
    sync_keeps_ids_and_removes_stale_routes,
    permission_groups_crud,
    authorisation_route_by_route,
    the_schema_documents_every_route,
);

const SERVICE: &str = "omnitron-service-token-0123456789";

const PERMISSION_KEYS: [&str; 10] = [
    "created_date",
    "id",
    "is_visible_for_user",
    "label",
    "method",
    "modified_date",
    "name",
    "parent",
    "path",
    "permission_groups",
];

async fn permissions_follow_the_route_table(app: TestApp) {
    let (status, list) = app.get("/api/v1/permissions/?limit=1000").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["count"], ENDPOINTS.len());
    let mut stored: Vec<(String, String)> = list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert_eq!(sorted_keys(p), PERMISSION_KEYS);
            assert_eq!(p["is_visible_for_user"], true);
            assert_eq!(p["permission_groups"], json!([]));
            (
                p["path"].as_str().unwrap().to_owned(),
                p["method"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut table: Vec<(String, String)> = ENDPOINTS
        .iter()
        .map(|e| (e.route.to_owned(), e.verb.as_str().to_owned()))
        .collect();
    stored.sort();
    table.sort();
    assert_eq!(stored, table);
    let before = table.len();
    table.dedup();
    assert_eq!(table.len(), before, "one row per route and method");

    let id = permission(&app, "instore:staff-list", "POST").await;
    let (status, one) = app.get(&format!("/api/v1/permissions/{id}/")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            one["name"].clone(),
            one["label"].clone(),
            one["parent"].clone()
        ),
        (
            json!("Staff Create"),
            json!("Create a staff"),
            json!("Staffs")
        )
    );
    let (_, filtered) = app
        .get("/api/v1/permissions/?path=instore:staff-list&method=GET")
        .await;
    assert_eq!(filtered["count"], 1);
    let (_, filtered) = app.get("/api/v1/permissions/?parent=Geography").await;
    assert_eq!(filtered["count"], 18);
    // Read-only.
    for method in [Method::POST, Method::PUT, Method::DELETE] {
        let path = if method == Method::POST {
            "/api/v1/permissions/".to_owned()
        } else {
            format!("/api/v1/permissions/{id}/")
        };
        let (status, _) = app
            .call(method.clone(), &path, Some(&app.token), Some(json!({})))
            .await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
    }
}

async fn sync_keeps_ids_and_removes_stale_routes(app: TestApp) {
    let kept = permission(&app, "instore:staff-list", "GET").await;
    let group_id = group(&app, "Old", &[("instore:staff-list", "GET")]).await;
    let now = kadro::http::time::now();
    let stale: i64 = Query::new(
        "INSERT INTO permissions (name, path, method, label, parent, is_visible_for_user, \
         created_date, modified_date) VALUES ('Gone', 'instore:gone', 'GET', NULL, NULL, TRUE, $1, $1) \
         RETURNING id",
    )
    .bind(now)
    .scalar(&app.state.db)
    .await
    .unwrap();
    Query::new(
        "INSERT INTO permission_group_permissions (group_id, permission_id) VALUES ($1, $2)",
    )
    .bind(group_id)
    .bind(stale)
    .execute(&app.state.db)
    .await
    .unwrap();
    Query::new("UPDATE permissions SET name = 'Renamed by hand' WHERE id = $1")
        .bind(kept)
        .execute(&app.state.db)
        .await
        .unwrap();
    // What a restart does.
    kadro::instore::permissions::sync(&app.state.db)
        .await
        .unwrap();
    kadro::instore::permissions::sync(&app.state.db)
        .await
        .unwrap();
    assert_eq!(
        app.count("SELECT COUNT(*) FROM permissions").await,
        ENDPOINTS.len() as i64
    );
    assert_eq!(permission(&app, "instore:staff-list", "GET").await, kept);
    let (_, one) = app.get(&format!("/api/v1/permissions/{kept}/")).await;
    assert_eq!(one["name"], "Staff List");
    assert_eq!(one["permission_groups"], json!([group_id]));
    let (_, g) = app
        .get(&format!("/api/v1/permission_groups/{group_id}/"))
        .await;
    assert_eq!(
        g["permissions"],
        json!([kept]),
        "the stale grant went with its route"
    );
}

async fn permission_groups_crud(app: TestApp) {
    let list_perm = permission(&app, "instore:staff-list", "GET").await;
    let detail_perm = permission(&app, "instore:staff-detail", "GET").await;
    let g = created(
        &app,
        "/api/v1/permission_groups/",
        json!({"name": "Cashiers", "permissions": [detail_perm, list_perm, list_perm]}),
    )
    .await;
    assert_eq!(
        sorted_keys(&g),
        ["created_date", "id", "modified_date", "name", "permissions"]
    );
    let mut expected = vec![list_perm, detail_perm];
    expected.sort_unstable();
    assert_eq!(g["permissions"], json!(expected));
    let path = format!("/api/v1/permission_groups/{}/", id(&g));

    let before = app
        .count("SELECT COUNT(*) FROM permission_group_permissions")
        .await;
    let bad: Vec<(Method, &str, Value, Value)> = vec![
        (
            Method::POST,
            "/api/v1/permission_groups/",
            json!({"name": "cashiers_2", "permissions": [999999]}),
            json!({"permissions": ["Invalid pk \"999999\" - object does not exist."]}),
        ),
        (
            Method::POST,
            "/api/v1/permission_groups/",
            json!({"name": "Cashiers"}),
            json!({"name": ["permission group with this name already exists."]}),
        ),
        (
            Method::POST,
            "/api/v1/permission_groups/",
            json!({"permissions": []}),
            json!({"name": ["This field is required."]}),
        ),
        (
            Method::POST,
            "/api/v1/permission_groups/",
            json!({"name": "x".repeat(151)}),
            json!({"name": ["Ensure this field has no more than 150 characters."]}),
        ),
        (
            Method::POST,
            "/api/v1/permission_groups/",
            json!({"name": "Ids", "permissions": "1,2"}),
            json!({"permissions": ["Expected a list of items but got type \"str\"."]}),
        ),
        (
            Method::POST,
            "/api/v1/permission_groups/",
            json!({"name": "Many", "permissions": vec![list_perm; 1001]}),
            json!({"permissions": ["Ensure this field has no more than 1000 elements."]}),
        ),
        (
            Method::PUT,
            &path,
            json!({"permissions": []}),
            json!({"name": ["This field is required."]}),
        ),
        (
            Method::PATCH,
            &path,
            json!({"permissions": [list_perm, 999999]}),
            json!({"permissions": ["Invalid pk \"999999\" - object does not exist."]}),
        ),
    ];
    for (method, p, body, answer) in bad {
        let (status, got) = app
            .call(method.clone(), p, Some(&app.token), Some(body.clone()))
            .await;
        assert_eq!(
            (status, got),
            (StatusCode::BAD_REQUEST, answer),
            "{method} {body}"
        );
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM permission_group_permissions")
            .await,
        before
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM permission_groups").await, 1);

    let (status, renamed) = app
        .call(
            Method::PATCH,
            &path,
            Some(&app.token),
            Some(json!({"name": "Tills"})),
        )
        .await;
    assert_eq!(
        (status, renamed["permissions"].clone()),
        (StatusCode::OK, json!(expected)),
        "grants kept"
    );
    let (status, replaced) = app
        .call(
            Method::PUT,
            &path,
            Some(&app.token),
            Some(json!({"name": "Tills", "permissions": []})),
        )
        .await;
    assert_eq!(
        (status, replaced["permissions"].clone()),
        (StatusCode::OK, json!([]))
    );
    let (_, list) = app.get("/api/v1/permission_groups/?name=TILL").await;
    assert_eq!(list["count"], 1);

    let g = geo(&app).await;
    let shop = store(&app, g.township, "Shop").await;
    let member = staff(&app, "member@example.com", None, &[shop], &[id(&renamed)]).await;
    let (status, _) = app
        .call(Method::DELETE, &path, Some(&app.token), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, s) = app.get(&format!("/api/v1/staffs/{member}/")).await;
    assert_eq!(s["permission_groups"], json!([]));
    assert_eq!(app.get(&path).await.0, StatusCode::NOT_FOUND);
}

/// A concrete URL for an endpoint: ids that do not exist, so no call changes anything.
fn url_of(e: &Endpoint) -> String {
    format!("{}/", e.path.replace("{id}", "999999"))
}

/// What a caller that may call `e` gets back with [`url_of`] and an empty body: the handler
/// ran (404 for a missing id, 400 for an empty body, 200 for a read).
fn allowed_status(e: &Endpoint) -> StatusCode {
    if e.path.contains("{id}") {
        StatusCode::NOT_FOUND
    } else if e.verb == Verb::Get {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    }
}

async fn call(app: &TestApp, e: &Endpoint, token: Option<&str>) -> (StatusCode, Value) {
    let method = Method::from_bytes(e.verb.as_str().as_bytes()).unwrap();
    let body = (e.verb != Verb::Get && e.verb != Verb::Delete).then(|| json!({}));
    app.call(method, &url_of(e), token, body).await
}

async fn authorisation_route_by_route(app: TestApp) {
    let backend = app.backend;
    drop(app);
    let app = TestApp::spawn_with(backend, |c| c.service_tokens = vec![Secret::new(SERVICE)])
        .await
        .unwrap();
    let g = geo(&app).await;
    let shop = store(&app, g.township, "Shop").await;
    let per_route = group(&app, "Per route", &[]).await;
    let granted = staff_token(
        &app,
        staff(&app, "granted@example.com", None, &[shop], &[per_route]).await,
    )
    .await;
    let plain = staff_token(
        &app,
        staff(&app, "plain@example.com", None, &[shop], &[]).await,
    )
    .await;
    let super_id = staff(&app, "super@example.com", None, &[shop], &[]).await;
    make_superuser_staff(&app, super_id).await;
    let superstaff = staff_token(&app, super_id).await;
    let inactive_id = staff(&app, "inactive@example.com", None, &[shop], &[per_route]).await;
    let inactive = staff_token(&app, inactive_id).await;
    Query::new("UPDATE staffs SET is_active = FALSE WHERE id = $1")
        .bind(inactive_id)
        .execute(&app.state.db)
        .await
        .unwrap();
    let (_, b2b_plain) = create_b2b_staff(&app.state, "b2b@example.com", false, None).await;
    let denied = json!({"detail": "You do not have permission to perform this action."});
    let group_path = format!("/api/v1/permission_groups/{per_route}/");

    for (i, e) in ENDPOINTS.iter().enumerate() {
        let what = format!("{} {}", e.verb.as_str(), e.path);
        let allowed = allowed_status(e);
        for (who, token) in [
            ("superuser", app.token.as_str()),
            ("service", SERVICE),
            ("instore superuser", &superstaff),
        ] {
            let (status, body) = call(&app, e, Some(token)).await;
            assert_eq!(status, allowed, "{who}: {what}: {body}");
        }
        for (who, token) in [
            ("staff without group", plain.as_str()),
            ("B2B staff", &b2b_plain),
        ] {
            assert_eq!(
                call(&app, e, Some(token)).await,
                (StatusCode::FORBIDDEN, denied.clone()),
                "{who}: {what}"
            );
        }
        assert_eq!(
            call(&app, e, Some(&inactive)).await,
            (
                StatusCode::UNAUTHORIZED,
                json!({"detail": "User inactive or deleted."})
            ),
            "{what}"
        );
        assert_eq!(
            call(&app, e, None).await.0,
            StatusCode::UNAUTHORIZED,
            "{what}"
        );

        // A group granting any other route or method does not open this one.
        let other = &ENDPOINTS[(i + 1) % ENDPOINTS.len()];
        let other_perm = permission(&app, other.route, other.verb.as_str()).await;
        let (status, _) = send(
            &app,
            Method::PATCH,
            &group_path,
            &app.token,
            Some(json!({"permissions": [other_perm]})),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            call(&app, e, Some(&granted)).await,
            (StatusCode::FORBIDDEN, denied.clone()),
            "other grant: {what}"
        );
        let this_perm = permission(&app, e.route, e.verb.as_str()).await;
        let (status, _) = send(
            &app,
            Method::PATCH,
            &group_path,
            &app.token,
            Some(json!({"permissions": [this_perm]})),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = call(&app, e, Some(&granted)).await;
        assert_eq!(status, allowed, "granted: {what}: {body}");
    }
    // The public login is not in the table and needs no token.
    let (status, _) = app
        .call(Method::POST, "/api/v1/staffs/login/", None, Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn the_schema_documents_every_route(app: TestApp) {
    let (status, schema) = app.get("/api/schema/").await;
    assert_eq!(status, StatusCode::OK);
    let paths = &schema["paths"];
    for e in ENDPOINTS {
        let path = format!("{}/", e.path);
        let method = e.verb.as_str().to_lowercase();
        assert!(
            paths[&path][&method].is_object(),
            "{method} {path} missing from the schema"
        );
    }
    assert!(paths["/api/v1/staffs/login/"]["post"].is_object());
    for name in [
        "StaffOut",
        "StoreOut",
        "PermissionOut",
        "PermissionGroupOut",
        "StaffIn",
        "StaffLoginOut",
    ] {
        assert!(schema["components"]["schemas"][name].is_object(), "{name}");
    }
}
