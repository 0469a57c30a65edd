//! Every write endpoint names every wrong field of a body in one 400, as DRF does, and
//! writes nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::b2b_divisions::create_division;
use crate::b2b_users::create_user;
use crate::helpers::{TestApp, create_b2b_staff};
use crate::instore_support::{PASSWORD, created, geo, group, id, staff, store};
use crate::on_both_backends;

on_both_backends!(
    every_write_endpoint_names_every_wrong_field,
    a_body_that_is_not_an_object_is_refused_whole,
);

/// Tables a write could touch.
const TABLES: [&str; 16] = [
    "users",
    "divisions",
    "api_tokens",
    "jobs",
    "staffs",
    "staff_retail_stores",
    "staff_permission_groups",
    "retail_stores",
    "addresses",
    "permission_groups",
    "permission_group_permissions",
    "countries",
    "cities",
    "townships",
    "exports",
    "webhooks",
];

/// The row counts of every table, and what `path` shows (for updates: its modified date and
/// every field).
pub async fn snapshot(app: &TestApp, path: &str) -> Value {
    let mut counts = serde_json::Map::new();
    for table in TABLES {
        let count = app.count(&format!("SELECT COUNT(*) FROM {table}")).await;
        counts.insert(table.to_owned(), json!(count));
    }
    let shown = if path.ends_with("s/") || path.contains("login") || path.contains("password") {
        Value::Null
    } else {
        app.get(path).await.1
    };
    json!({"counts": counts, "shown": shown})
}

async fn every_write_endpoint_names_every_wrong_field(app: TestApp) {
    let division = create_division(&app, "Main", "main", None).await;
    let user = create_user(&app, division, "user@example.com").await;
    let (b2b_staff, _) = create_b2b_staff(&app.state, "staff@example.com", false, None).await;
    let g = geo(&app).await;
    let shop = store(&app, g.township, "Shop").await;
    let cashiers = group(&app, "Cashiers", &[]).await;
    let john = staff(&app, "john@example.com", Some("john"), &[shop], &[cashiers]).await;
    staff(&app, "mary@example.com", Some("mary"), &[shop], &[]).await;
    let (country, city, township) = (g.country, g.city, g.township);
    let missing = |id: i64| format!("Invalid pk \"{id}\" - object does not exist.");
    let spare_city = id(&created(
        &app,
        "/api/v1/cities/",
        json!({"name": "Spare", "country": country}),
    )
    .await);
    let hook = id(&created(
        &app,
        "/api/v1/webhooks/",
        json!({"url": "https://hooks.example.com/kadro", "events": ["user.*"]}),
    )
    .await);
    let not_list = |got: &str| format!("Expected a list of items but got type \"{got}\".");
    let cases: Vec<(Method, String, Value, Value)> = vec![
        (
            Method::POST,
            "/api/v1/auth/login/".into(),
            json!({"email": 5, "password": null}),
            json!({"email": ["Not a valid string."], "password": ["This field may not be null."]}),
        ),
        (
            Method::POST,
            "/api/v1/users/".into(),
            json!({"first_name": 5, "last_name": "Doe", "email": "a<b@x.com",
                "password": "a-good-password", "division": "x"}),
            json!({"first_name": ["Not a valid string."], "email": ["Enter a valid email address."],
                "division": ["A valid integer is required."]}),
        ),
        (
            Method::PUT,
            format!("/api/v1/users/{user}/"),
            json!({"first_name": 5, "last_name": "", "division": null}),
            json!({"first_name": ["Not a valid string."], "last_name": ["This field may not be blank."],
                "division": ["This field may not be null."]}),
        ),
        (
            Method::PATCH,
            format!("/api/v1/users/{user}/"),
            json!({"first_name": "", "phone_number": 5, "division": "x"}),
            json!({"first_name": ["This field may not be blank."], "phone_number": ["Not a valid string."],
                "division": ["A valid integer is required."]}),
        ),
        (
            Method::PATCH,
            format!("/api/v1/users/{user}/"),
            json!({"first_name": 5, "phone_number": 7, "division": 999_999}),
            json!({"first_name": ["Not a valid string."], "phone_number": ["Not a valid string."],
                "division": [missing(999_999)]}),
        ),
        (
            Method::PATCH,
            format!("/api/v1/staff-users/{b2b_staff}/"),
            json!({"is_superuser": "very"}),
            json!({"is_superuser": ["Must be a valid boolean."]}),
        ),
        (
            Method::POST,
            "/api/v1/divisions/".into(),
            json!({"name": 5, "division_type": "side", "is_active": "yes"}),
            json!({"name": ["Not a valid string."], "division_type": ["\"side\" is not a valid choice."],
                "is_active": ["Must be a valid boolean."]}),
        ),
        (
            Method::PUT,
            format!("/api/v1/divisions/{division}/"),
            json!({"name": "", "division_type": 1, "extra_data": "x"}),
            json!({"name": ["This field may not be blank."], "division_type": ["Not a valid string."],
                "extra_data": ["Expected a dictionary of items but got type \"str\"."]}),
        ),
        (
            Method::PATCH,
            format!("/api/v1/divisions/{division}/"),
            json!({"parent": "x", "erp_code": 5, "is_active": "maybe"}),
            json!({"parent": ["A valid integer is required."], "erp_code": ["Not a valid string."],
                "is_active": ["Must be a valid boolean."]}),
        ),
        (
            Method::POST,
            "/api/v1/staffs/".into(),
            json!({"retail_stores": "1", "first_name": 7, "last_name": "Doe",
                "email": "john.example.com", "password": PASSWORD, "remote_id": "r-1"}),
            json!({"retail_stores": [not_list("str")], "first_name": ["Not a valid string."],
                "email": ["Enter a valid email address."]}),
        ),
        (
            Method::PUT,
            format!("/api/v1/staffs/{john}/"),
            json!({"retail_stores": [], "first_name": "", "last_name": "Doe",
                "email": "john@example.com", "is_active": "maybe"}),
            json!({"retail_stores": ["This list may not be empty."],
                "first_name": ["This field may not be blank."], "is_active": ["Must be a valid boolean."]}),
        ),
        (
            Method::PATCH,
            format!("/api/v1/staffs/{john}/"),
            json!({"username": "no spaces", "remote_id": 12, "permission_groups": "x"}),
            json!({"username": ["Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."],
                "remote_id": ["Not a valid string."], "permission_groups": [not_list("str")]}),
        ),
        // References to rows that do not exist, and a username taken, are named with the rest.
        (
            Method::POST,
            "/api/v1/staffs/".into(),
            json!({"retail_stores": [shop, 999_999], "first_name": 7, "last_name": "Doe",
                "email": "new@example.com", "password": PASSWORD, "remote_id": "r-2",
                "permission_groups": [424_242]}),
            json!({"retail_stores": [missing(999_999)], "first_name": ["Not a valid string."],
                "permission_groups": [missing(424_242)]}),
        ),
        (
            Method::PATCH,
            format!("/api/v1/staffs/{john}/"),
            json!({"username": "MARY", "first_name": "", "retail_stores": [999_999]}),
            json!({"username": ["A staff with that username already exists."],
                "first_name": ["This field may not be blank."], "retail_stores": [missing(999_999)]}),
        ),
        (
            Method::POST,
            "/api/v1/staffs/change_password/".into(),
            json!({"staff": 999_999, "new_password": "123"}),
            json!({"staff": [missing(999_999)], "new_password": [
                "This password is too short. It must contain at least 8 characters.",
                "This password is entirely numeric."]}),
        ),
        (
            Method::POST,
            "/api/v1/retail_stores/".into(),
            json!({"name": "", "email": "nope", "address": {"township": 999_999, "line": "l"}}),
            json!({"name": ["This field may not be blank."], "email": ["Enter a valid email address."],
                "address": [format!("township: {}", missing(999_999))]}),
        ),
        (
            Method::POST,
            "/api/v1/permission_groups/".into(),
            json!({"name": "", "permissions": [999_999]}),
            json!({"name": ["This field may not be blank."], "permissions": [missing(999_999)]}),
        ),
        (
            Method::POST,
            "/api/v1/staffs/change_password/".into(),
            json!({"staff": "me", "new_password": 5}),
            json!({"staff": ["A valid integer is required."], "new_password": ["Not a valid string."]}),
        ),
        (
            Method::POST,
            "/api/v1/staffs/login/".into(),
            json!({"username": 5, "password": 7, "retail_store": "a"}),
            json!({"username": ["Not a valid string."], "password": ["Not a valid string."],
                "retail_store": ["A valid integer is required."]}),
        ),
        (
            Method::POST,
            "/api/v1/retail_stores/".into(),
            json!({"name": "", "email": "nope", "is_active": "yes",
                "address": {"township": township, "line": "l"}}),
            json!({"name": ["This field may not be blank."], "email": ["Enter a valid email address."],
                "is_active": ["Must be a valid boolean."]}),
        ),
        (
            Method::PUT,
            format!("/api/v1/retail_stores/{shop}/"),
            json!({"name": "Shop", "fast_delivery": 1, "omnitron_id": -1, "address": "Main"}),
            json!({"fast_delivery": ["Must be a valid boolean."],
                "omnitron_id": ["Ensure this value is greater than or equal to 0."],
                "address": ["Invalid data. Expected a dictionary."]}),
        ),
        (
            Method::PATCH,
            format!("/api/v1/retail_stores/{shop}/"),
            json!({"remote_id": 5, "email": "x", "address": {"line": ""}}),
            json!({"remote_id": ["Not a valid string."], "email": ["Enter a valid email address."],
                "address": ["line: This field may not be blank."]}),
        ),
        (
            Method::POST,
            "/api/v1/permission_groups/".into(),
            json!({"name": 5, "permissions": "1,2"}),
            json!({"name": ["Not a valid string."], "permissions": [not_list("str")]}),
        ),
        (
            Method::PUT,
            format!("/api/v1/permission_groups/{cashiers}/"),
            json!({"name": "", "permissions": [1, "x"]}),
            json!({"name": ["This field may not be blank."], "permissions": ["A valid integer is required."]}),
        ),
        (
            Method::PATCH,
            format!("/api/v1/permission_groups/{cashiers}/"),
            json!({"name": null, "permissions": {}}),
            json!({"name": ["This field may not be null."], "permissions": [not_list("dict")]}),
        ),
        (
            Method::POST,
            "/api/v1/countries/".into(),
            json!({"name": "", "code": "XX", "omnitron_id": "7"}),
            json!({"name": ["This field may not be blank."],
                "code": ["\"XX\" is not a valid ISO 3166-1 alpha-2 country code."],
                "omnitron_id": ["A valid integer is required."]}),
        ),
        (
            Method::PUT,
            format!("/api/v1/countries/{country}/"),
            json!({"name": 5, "code": 33, "omnitron_id": -1}),
            json!({"name": ["Not a valid string."], "code": ["Not a valid string."],
                "omnitron_id": ["Ensure this value is greater than or equal to 0."]}),
        ),
        (
            Method::PATCH,
            format!("/api/v1/countries/{country}/"),
            json!({"name": null, "code": "", "omnitron_id": 1.5}),
            json!({"name": ["This field may not be null."],
                "code": ["\"\" is not a valid ISO 3166-1 alpha-2 country code."],
                "omnitron_id": ["A valid integer is required."]}),
        ),
        (
            Method::POST,
            "/api/v1/cities/".into(),
            json!({"name": 5, "country": "one", "omnitron_id": -1}),
            json!({"name": ["Not a valid string."], "country": ["A valid integer is required."],
                "omnitron_id": ["Ensure this value is greater than or equal to 0."]}),
        ),
        (
            Method::PUT,
            format!("/api/v1/cities/{city}/"),
            json!({"name": "", "country": null, "omnitron_id": "x"}),
            json!({"name": ["This field may not be blank."], "country": ["This field may not be null."],
                "omnitron_id": ["A valid integer is required."]}),
        ),
        (
            Method::PATCH,
            format!("/api/v1/cities/{spare_city}/"),
            json!({"name": ["x"], "country": 1.5, "omnitron_id": true}),
            json!({"name": ["Not a valid string."], "country": ["A valid integer is required."],
                "omnitron_id": ["A valid integer is required."]}),
        ),
        (
            Method::POST,
            "/api/v1/townships/".into(),
            json!({"name": 5, "city": "one", "omnitron_id": -1}),
            json!({"name": ["Not a valid string."], "city": ["A valid integer is required."],
                "omnitron_id": ["Ensure this value is greater than or equal to 0."]}),
        ),
        (
            Method::PUT,
            format!("/api/v1/townships/{township}/"),
            json!({"name": "", "city": null, "omnitron_id": "x"}),
            json!({"name": ["This field may not be blank."], "city": ["This field may not be null."],
                "omnitron_id": ["A valid integer is required."]}),
        ),
        (
            Method::PATCH,
            format!("/api/v1/townships/{township}/"),
            json!({"name": "  ", "city": [city], "omnitron_id": {}}),
            json!({"name": ["This field may not be blank."], "city": ["A valid integer is required."],
                "omnitron_id": ["A valid integer is required."]}),
        ),
        (
            Method::POST,
            "/api/v1/webhooks/".into(),
            json!({"url": "http://hooks.example.com/kadro", "events": "user.*", "is_active": "yes"}),
            json!({"url": ["Enter an https URL."], "events": [not_list("str")],
                "is_active": ["Must be a valid boolean."]}),
        ),
        (
            Method::PUT,
            format!("/api/v1/webhooks/{hook}/"),
            json!({"url": 5, "events": [], "description": 7}),
            json!({"url": ["Not a valid string."], "events": ["This list may not be empty."],
                "description": ["Not a valid string."]}),
        ),
        (
            Method::PATCH,
            format!("/api/v1/webhooks/{hook}/"),
            json!({"url": null, "events": ["nope.x"], "secret": "short"}),
            json!({"url": ["This field may not be null."],
                "events": ["\"nope.x\" is not a valid choice."],
                "secret": ["Ensure this field has at least 16 characters."]}),
        ),
    ];
    let token = app.token.clone();
    for (method, path, body, expected) in cases {
        let before = snapshot(&app, &path).await;
        let answer = app
            .call(method.clone(), &path, Some(&token), Some(body.clone()))
            .await;
        assert_eq!(
            answer,
            (StatusCode::BAD_REQUEST, expected),
            "{method} {path} {body}"
        );
        assert_eq!(
            snapshot(&app, &path).await,
            before,
            "{method} {path} wrote something"
        );
    }
}

async fn a_body_that_is_not_an_object_is_refused_whole(app: TestApp) {
    let token = app.token.clone();
    for (body, got) in [(json!([1]), "list"), (json!("x"), "str"), (json!(5), "int")] {
        let answer = app
            .call(Method::POST, "/api/v1/divisions/", Some(&token), Some(body))
            .await;
        assert_eq!(
            answer,
            (
                StatusCode::BAD_REQUEST,
                json!({"non_field_errors": [format!("Invalid data. Expected a dictionary, but got {got}.")]})
            )
        );
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM divisions").await, 0);
}
