//! Building blocks of the Instore tests: geography, stores, groups and staffs made through the
//! API, tokens for staffs, and a comparison of JSON shapes with the seeds' examples.

use kadro::auth::token::{self, AccountKind};
use kadro::db::Query;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::TestApp;

pub const PASSWORD: &str = "kadro-Pass-2024";

/// Ids of one country → city → township chain.
pub struct Geo {
    pub country: i64,
    pub city: i64,
    pub township: i64,
}

pub async fn created(app: &TestApp, path: &str, body: Value) -> Value {
    let (status, out) = app.post(path, body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "POST {path} {body}: {out}");
    out
}

pub fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id in {v}"))
}

pub async fn geo(app: &TestApp) -> Geo {
    let country = id(&created(
        app,
        "/api/v1/countries/",
        json!({"name": "Türkiye", "code": "TR"}),
    )
    .await);
    let city = id(&created(
        app,
        "/api/v1/cities/",
        json!({"name": "Test City 2", "country": country, "omnitron_id": 2}),
    )
    .await);
    let township = id(&created(
        app,
        "/api/v1/townships/",
        json!({"name": "Test Township 3", "city": city, "omnitron_id": 16}),
    )
    .await);
    Geo {
        country,
        city,
        township,
    }
}

pub async fn store(app: &TestApp, township: i64, name: &str) -> i64 {
    id(&created(
        app,
        "/api/v1/retail_stores/",
        json!({
            "name": name,
            "email": "shop@example.com",
            "remote_id": name.to_lowercase().replace(' ', "-"),
            "omnitron_id": 2,
            "address": {"township": township, "line": format!("{name} Address"), "phone_number": "+32043843443"},
        }),
    )
    .await)
}

/// A staff with the given stores, groups and username; returns its id.
pub async fn staff(
    app: &TestApp,
    email: &str,
    username: Option<&str>,
    stores: &[i64],
    groups: &[i64],
) -> i64 {
    id(&created(
        app,
        "/api/v1/staffs/",
        json!({
            "retail_stores": stores,
            "first_name": "John",
            "last_name": "Doe",
            "email": email,
            "username": username,
            "password": PASSWORD,
            "remote_id": format!("r-{email}"),
            "permission_groups": groups,
        }),
    )
    .await)
}

/// A token for a staff, issued directly (no password hashing).
pub async fn staff_token(app: &TestApp, staff: i64) -> String {
    let mut tx = app.state.db.begin().await.unwrap();
    let token = token::issue(&mut tx, AccountKind::Staff, staff)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    token
}

pub async fn make_superuser_staff(app: &TestApp, staff: i64) {
    Query::new("UPDATE staffs SET is_superuser = TRUE WHERE id = $1")
        .bind(staff)
        .execute(&app.state.db)
        .await
        .unwrap();
}

/// The id of the permission of `route` and `method`.
pub async fn permission(app: &TestApp, route: &str, method: &str) -> i64 {
    Query::new("SELECT id FROM permissions WHERE path = $1 AND method = $2")
        .bind(route)
        .bind(method)
        .scalar(&app.state.db)
        .await
        .unwrap_or_else(|e| panic!("no permission {route} {method}: {e}"))
}

pub async fn group(app: &TestApp, name: &str, grants: &[(&str, &str)]) -> i64 {
    let mut permissions = Vec::new();
    for (route, method) in grants {
        permissions.push(permission(app, route, method).await);
    }
    id(&created(
        app,
        "/api/v1/permission_groups/",
        json!({"name": name, "permissions": permissions}),
    )
    .await)
}

pub async fn login(app: &TestApp, body: Value) -> (StatusCode, Value) {
    app.call(Method::POST, "/api/v1/staffs/login/", None, Some(body))
        .await
}

pub async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    app.call(method, path, Some(token), body).await
}

/// Asserts that `actual` has the shape of `example`: the same keys at every level and the same
/// JSON types; a null matches only where the field may be null (see `nullable_shape`).
pub fn assert_shape(example: &Value, actual: &Value, at: &str) {
    match (example, actual) {
        (Value::Null, Value::Null) => {}
        // The seeds show some fields only as null; their type when set comes from CONTRACT.
        (Value::Null, _) => match nullable_shape(at) {
            Some(shape) => assert_shape(&shape, actual, at),
            None => panic!("type at {at}: the seed shows null, got {actual}"),
        },
        (_, Value::Null) if nullable_shape(at).is_some() => {}
        (Value::Object(e), Value::Object(a)) => {
            let mut ek: Vec<&String> = e.keys().collect();
            let mut ak: Vec<&String> = a.keys().collect();
            ek.sort();
            ak.sort();
            assert_eq!(ak, ek, "keys at {at}");
            for (k, v) in e {
                assert_shape(v, &a[k], &format!("{at}.{k}"));
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if let Some(first) = e.first() {
                for (i, item) in a.iter().enumerate() {
                    assert_shape(first, item, &format!("{at}[{i}]"));
                }
            }
        }
        (Value::Bool(_), Value::Bool(_)) | (Value::String(_), Value::String(_)) => {}
        (Value::Number(e), Value::Number(a)) => {
            assert_eq!(e.is_i64(), a.is_i64(), "integer at {at}");
        }
        _ => panic!("type at {at}: example {example}, got {actual}"),
    }
}

/// The shape of a field that the seeds show only as null, or that may be null, keyed by the
/// last segment of its path: `username` and `postcode` are strings, `last_login` a timestamp,
/// `current_store` a store as in `retail_stores` (CONTRACT §3).
fn nullable_shape(at: &str) -> Option<Value> {
    let field = at.rsplit(['.', '[']).next().unwrap_or(at);
    match field {
        "username" | "postcode" | "last_login" => Some(json!("text")),
        "current_store" => {
            let list: Value =
                serde_json::from_str(include_str!("fixtures/seed_002_staff_list.json")).unwrap();
            Some(list["results"][0]["retail_stores"][0].clone())
        }
        _ => None,
    }
}

/// RFC 3339 UTC with microseconds, as in the seeds.
pub fn assert_timestamp(v: &Value) {
    let s = v.as_str().unwrap_or_else(|| panic!("not a timestamp: {v}"));
    assert_eq!(s.len(), "2022-07-27T07:05:04.685806Z".len(), "{s}");
    assert!(s.ends_with('Z') && s.as_bytes()[19] == b'.', "{s}");
}
