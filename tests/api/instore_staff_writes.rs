//! Staff writes: bad input that writes nothing, PUT and PATCH semantics, usernames that must
//! be unique and emails that need not be.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::helpers::sorted_keys;
use crate::instore_support::{PASSWORD, created, geo, group, id, login, staff, staff_token, store};
use crate::on_both_backends;

on_both_backends!(
    bad_input_writes_nothing,
    put_and_patch_leave_absent_fields_alone,
    usernames_are_unique_and_emails_are_not,
);

/// Seed 003's keys of a `duplicate_email_staffs` item.
const DUPLICATE_KEYS: [&str; 15] = [
    "created_date",
    "current_store",
    "date_joined",
    "email",
    "first_name",
    "id",
    "is_active",
    "is_staff",
    "is_superuser",
    "last_login",
    "last_name",
    "modified_date",
    "permission_groups",
    "remote_id",
    "username",
];

fn store_ids(staff: &Value) -> Vec<i64> {
    staff["retail_stores"]
        .as_array()
        .unwrap()
        .iter()
        .map(id)
        .collect()
}

async fn bad_input_writes_nothing(app: TestApp) {
    let g = geo(&app).await;
    let shop = store(&app, g.township, "Shop").await;
    let existing = staff(&app, "kept@example.com", Some("kept"), &[shop], &[]).await;
    let base = json!({
        "retail_stores": [shop],
        "first_name": "John",
        "last_name": "Doe",
        "email": "john@example.com",
        "password": PASSWORD,
        "remote_id": "r1",
    });
    let with = |patch: Value| {
        let mut body = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let cases = [
        (
            with(json!({"first_name": "x".repeat(151)})),
            json!({"first_name": ["Ensure this field has no more than 150 characters."]}),
        ),
        (
            with(json!({"last_name": "y".repeat(151)})),
            json!({"last_name": ["Ensure this field has no more than 150 characters."]}),
        ),
        (
            with(json!({"email": "john.example.com"})),
            json!({"email": ["Enter a valid email address."]}),
        ),
        (
            with(json!({"retail_stores": [shop, 999]})),
            json!({"retail_stores": ["Invalid pk \"999\" - object does not exist."]}),
        ),
        (
            with(json!({"retail_stores": []})),
            json!({"retail_stores": ["This list may not be empty."]}),
        ),
        (
            with(json!({"retail_stores": shop})),
            json!({"retail_stores": ["Expected a list of items but got type \"int\"."]}),
        ),
        (
            with(json!({"retail_stores": ["three"]})),
            json!({"retail_stores": ["A valid integer is required."]}),
        ),
        (
            with(json!({"permission_groups": [42]})),
            json!({"permission_groups": ["Invalid pk \"42\" - object does not exist."]}),
        ),
        (
            with(json!({"first_name": 7})),
            json!({"first_name": ["Not a valid string."]}),
        ),
        (
            with(json!({"is_active": "maybe"})),
            json!({"is_active": ["Must be a valid boolean."]}),
        ),
        (
            with(json!({"remote_id": 12})),
            json!({"remote_id": ["Not a valid string."]}),
        ),
        (
            with(json!({"password": "password"})),
            json!({"password": ["This password is too common."]}),
        ),
        (
            with(json!({"username": "KEPT"})),
            json!({"username": ["A staff with that username already exists."]}),
        ),
        (
            with(json!({"username": "no spaces"})),
            json!({"username": ["Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."]}),
        ),
        (
            with(json!({"first_name": "nul\u{0}"})),
            json!({"first_name": ["Null characters are not allowed."]}),
        ),
    ];
    let before = counts(&app).await;
    for (body, expected) in cases {
        let (status, answer) = app.post("/api/v1/staffs/", body.clone()).await;
        assert_eq!(
            (status, answer),
            (StatusCode::BAD_REQUEST, expected),
            "{body}"
        );
    }
    // The same on an update: the staff is unchanged.
    let path = format!("/api/v1/staffs/{existing}/");
    let (_, original) = app.get(&path).await;
    for body in [
        json!({"first_name": "Changed", "retail_stores": [999]}),
        json!({"first_name": "Changed", "email": "bad"}),
        json!({"first_name": "Changed", "permission_groups": [1]}),
        json!({"first_name": "Changed", "last_name": ""}),
    ] {
        let (status, _) = app
            .call(Method::PATCH, &path, Some(&app.token), Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    let huge = with(json!({"first_name": "x".repeat(1024 * 1024)}));
    assert_eq!(
        app.post("/api/v1/staffs/", huge).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let (status, body) = app.post("/api/v1/staffs/", json!([1, 2])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(counts(&app).await, before);
    assert_eq!(app.get(&path).await.1, original);

    // SQL- and formula-looking text is data: stored and returned as given.
    let odd = created(
        &app,
        "/api/v1/staffs/",
        with(json!({"first_name": "=1+1", "last_name": "'; DROP TABLE staffs; --", "remote_id": "@SUM(A1)"})),
    )
    .await;
    assert_eq!(
        (
            odd["first_name"].clone(),
            odd["last_name"].clone(),
            odd["remote_id"].clone()
        ),
        (
            json!("=1+1"),
            json!("'; DROP TABLE staffs; --"),
            json!("@SUM(A1)")
        )
    );
}

async fn counts(app: &TestApp) -> Vec<i64> {
    let mut out = Vec::new();
    for table in [
        "staffs",
        "staff_retail_stores",
        "staff_permission_groups",
        "api_tokens",
    ] {
        out.push(app.count(&format!("SELECT COUNT(*) FROM {table}")).await);
    }
    out
}

async fn put_and_patch_leave_absent_fields_alone(app: TestApp) {
    let g = geo(&app).await;
    let (a, b) = (
        store(&app, g.township, "A").await,
        store(&app, g.township, "B").await,
    );
    let grp = group(&app, "G", &[]).await;
    let sid = staff(&app, "p@example.com", Some("pat"), &[a, b], &[grp]).await;
    let path = format!("/api/v1/staffs/{sid}/");

    let (status, body) = app
        .call(
            Method::PUT,
            &path,
            Some(&app.token),
            Some(json!({"first_name": "P"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({
            "retail_stores": ["This field is required."],
            "last_name": ["This field is required."],
            "email": ["This field is required."],
        })
    );
    let full = json!({"retail_stores": [a, b], "first_name": "Pat", "last_name": "Doe", "email": "p@example.com", "is_staff": true});
    let (status, body) = app
        .call(Method::PUT, &path, Some(&app.token), Some(full))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["username"].clone(), body["is_staff"].clone()),
        (json!("pat"), json!(true))
    );
    assert_eq!(body["remote_id"], "r-p@example.com");
    assert_eq!(body["permission_groups"], json!([grp]));

    let (status, body) = app
        .call(
            Method::PATCH,
            &path,
            Some(&app.token),
            Some(json!({"last_name": "Smith", "remote_id": null, "username": ""})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (
            body["last_name"].clone(),
            body["first_name"].clone(),
            body["remote_id"].clone(),
            body["username"].clone()
        ),
        (json!("Smith"), json!("Pat"), Value::Null, Value::Null)
    );
    assert_eq!(store_ids(&body), [a, b]);
    // A password in PUT or PATCH is ignored: passwords change through change_password/.
    let (status, _) = app
        .call(
            Method::PATCH,
            &path,
            Some(&app.token),
            Some(json!({"password": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Logged in at B; taking B away clears current_store.
    let (status, session) = login(
        &app,
        json!({"email": "p@example.com", "password": PASSWORD, "retail_store": b}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!(session["staff"]["current_store"]["id"], b);
    let (_, body) = app
        .call(
            Method::PATCH,
            &path,
            Some(&app.token),
            Some(json!({"retail_stores": [a]})),
        )
        .await;
    assert_eq!(
        (store_ids(&body), body["current_store"].clone()),
        (vec![a], Value::Null)
    );

    // Deactivating through PATCH revokes the tokens too; PATCH can reactivate.
    let token = staff_token(&app, sid).await;
    let (_, body) = app
        .call(
            Method::PATCH,
            &path,
            Some(&app.token),
            Some(json!({"is_active": false})),
        )
        .await;
    assert_eq!(body["is_active"], false);
    assert_eq!(
        app.call(Method::GET, "/api/v1/auth/me/", Some(&token), None)
            .await,
        (
            StatusCode::UNAUTHORIZED,
            json!({"detail": "Invalid token."})
        )
    );
    let (_, body) = app
        .call(
            Method::PATCH,
            &path,
            Some(&app.token),
            Some(json!({"is_active": true})),
        )
        .await;
    assert_eq!(body["is_active"], true);
    let (status, _) = login(
        &app,
        json!({"username": "P@EXAMPLE.COM", "password": PASSWORD, "retail_store": a}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the username was cleared");
    let (status, _) = login(
        &app,
        json!({"email": "P@EXAMPLE.COM", "password": PASSWORD, "retail_store": a}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

async fn usernames_are_unique_and_emails_are_not(app: TestApp) {
    let g = geo(&app).await;
    let shop = store(&app, g.township, "Shop").await;
    let first = staff(&app, "Ada@Example.com", Some("ada"), &[shop], &[]).await;
    let second = staff(&app, "ada@example.COM", None, &[shop], &[]).await;
    let third = staff(&app, "ADA@EXAMPLE.COM", None, &[shop], &[]).await;
    let _other = staff(&app, "grace@example.com", None, &[shop], &[]).await;

    let (status, body) = app.post("/api/v1/staffs/", json!({
        "retail_stores": [shop], "first_name": "A", "last_name": "B", "email": "x@example.com",
        "password": PASSWORD, "remote_id": null, "username": "ADA"
    })).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"username": ["A staff with that username already exists."]})
        )
    );
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/staffs/{second}/"),
            Some(&app.token),
            Some(json!({"username": "Ada"})),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"username": ["A staff with that username already exists."]})
        )
    );
    // Its own username is no collision.
    let (status, _) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/staffs/{first}/"),
            Some(&app.token),
            Some(json!({"username": "ada"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let (status, dups) = app.get("/api/v1/staffs/duplicate_email_staffs/").await;
    assert_eq!(status, StatusCode::OK);
    let dups = dups.as_array().unwrap();
    assert_eq!(
        dups.iter().map(id).collect::<Vec<_>>(),
        [first, second, third]
    );
    for item in dups {
        assert_eq!(sorted_keys(item), DUPLICATE_KEYS);
    }
    assert_eq!(dups[0]["username"], "ada");
}
