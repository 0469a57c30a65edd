//! A NUL character (U+0000) in any JSON string, at any depth, or in any query parameter is a
//! 400 naming the field or parameter, on both backends, and writes nothing. (PostgreSQL
//! cannot store or compare text holding one: it used to answer 500.)

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::b2b_divisions::create_division;
use crate::b2b_users::{create_user, user_body};
use crate::body_errors::snapshot;
use crate::helpers::TestApp;
use crate::instore_support::{PASSWORD, geo, staff, store};
use crate::on_both_backends;

on_both_backends!(
    null_characters_in_bodies,
    null_characters_in_query_parameters,
);

const NUL: &str = "Null characters are not allowed.";

async fn null_characters_in_bodies(app: TestApp) {
    let division = create_division(&app, "Main", "main", None).await;
    let user = create_user(&app, division, "user@example.com").await;
    let g = geo(&app).await;
    let shop = store(&app, g.township, "Shop").await;
    let john = staff(&app, "john@example.com", Some("john"), &[shop], &[]).await;
    let mut new_user = user_body(division, "new@example.com");
    new_user["phone_number"] = json!("0\u{0}1");
    let cases: Vec<(Method, String, Value, &str)> = vec![
        (
            Method::POST,
            "/api/v1/auth/login/".into(),
            json!({"email": "root@example.com\u{0}", "password": "x"}),
            "email",
        ),
        (
            Method::POST,
            "/api/v1/staffs/login/".into(),
            json!({"email": "john@example.com\u{0}", "password": PASSWORD, "retail_store": shop}),
            "email",
        ),
        (
            Method::POST,
            "/api/v1/divisions/".into(),
            json!({"name": "Sub", "division_type": "main", "extra_data": {"note": "a\u{0}b"}}),
            "extra_data",
        ),
        (
            Method::PATCH,
            format!("/api/v1/divisions/{division}/"),
            json!({"extra_data": {"deep": [{"k\u{0}": 1}]}}),
            "extra_data",
        ),
        (
            Method::POST,
            "/api/v1/users/".into(),
            new_user,
            "phone_number",
        ),
        (
            Method::PATCH,
            format!("/api/v1/users/{user}/"),
            json!({"first_name": "\u{0}"}),
            "first_name",
        ),
        (
            Method::POST,
            "/api/v1/staffs/".into(),
            json!({"retail_stores": [shop], "first_name": "A", "last_name": "B",
                "email": "ab@example.com", "password": PASSWORD, "remote_id": "r\u{0}"}),
            "remote_id",
        ),
        (
            Method::PATCH,
            format!("/api/v1/staffs/{john}/"),
            json!({"username": "jo\u{0}hn"}),
            "username",
        ),
        (
            Method::POST,
            "/api/v1/staffs/change_password/".into(),
            json!({"staff": john, "new_password": "another-Pass-77\u{0}"}),
            "new_password",
        ),
        (
            Method::POST,
            "/api/v1/retail_stores/".into(),
            json!({"name": "Shop 2", "address": {"township": g.township, "line": "l\u{0}"}}),
            "address",
        ),
        (
            Method::POST,
            "/api/v1/permission_groups/".into(),
            json!({"name": "G\u{0}"}),
            "name",
        ),
        (
            Method::POST,
            "/api/v1/countries/".into(),
            json!({"name": "France", "code": "F\u{0}"}),
            "code",
        ),
        (
            Method::POST,
            "/api/v1/cities/".into(),
            json!({"name": "\u{0}", "country": g.country}),
            "name",
        ),
        (
            Method::PUT,
            format!("/api/v1/townships/{}/", g.township),
            json!({"name": "T\u{0}", "city": g.city}),
            "name",
        ),
    ];
    let token = app.token.clone();
    for (method, path, body, field) in cases {
        let before = snapshot(&app, &path).await;
        let answer = app
            .call(method.clone(), &path, Some(&token), Some(body.clone()))
            .await;
        assert_eq!(
            answer,
            (StatusCode::BAD_REQUEST, json!({ field: [NUL] })),
            "{method} {path} {body}"
        );
        assert_eq!(snapshot(&app, &path).await, before, "{method} {path}");
    }
}

async fn null_characters_in_query_parameters(app: TestApp) {
    let token = app.token.clone();
    for (path_and_query, parameter) in [
        ("/api/v1/users/?status_cache_key=%00", "status_cache_key"),
        (
            "/api/v1/staff-users/?status_cache_key=%00",
            "status_cache_key",
        ),
        (
            "/api/v1/staffs/?status_cache_key=ab%00cd",
            "status_cache_key",
        ),
        ("/api/v1/users/?fields=email%00&format=csv", "fields"),
        ("/api/v1/users/?email=a%00", "email"),
        ("/api/v1/divisions/?name=%00", "name"),
        ("/api/v1/countries/?name=T%00", "name"),
        ("/api/v1/retail_stores/?name=%00", "name"),
        ("/api/v1/staffs/?username=%00", "username"),
        ("/api/v1/divisions/?page=1%00", "page"),
        ("/api/v1/users/?unknown%00=1", "unknown\u{0}"),
    ] {
        let answer = app
            .call(Method::GET, path_and_query, Some(&token), None)
            .await;
        assert_eq!(
            answer,
            (StatusCode::BAD_REQUEST, json!({ parameter: [NUL] })),
            "{path_and_query}"
        );
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM exports").await, 0);
}
