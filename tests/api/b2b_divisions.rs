//! `/api/v1/divisions/` and `/api/v1/my-divisions/`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, create_b2b_staff};
use crate::on_both_backends;

on_both_backends!(
    division_crud_and_shape,
    parent_rules_word_for_word,
    division_filters_and_bad_values,
    deactivate_cascades_to_users_locally,
    division_bad_input_writes_nothing,
    my_divisions_and_permissions,
);

pub async fn create_division(app: &TestApp, name: &str, kind: &str, parent: Option<i64>) -> i64 {
    let (status, body) = app
        .post(
            "/api/v1/divisions/",
            json!({"name": name, "division_type": kind, "parent": parent}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_i64().unwrap()
}

async fn division_crud_and_shape(app: TestApp) {
    let (status, created) = app
        .post("/api/v1/divisions/", json!({"name": "Akinon Main Division", "division_type": "main", "erp_code": "ERP-1", "extra_data": {"region": "EU"}}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_i64().unwrap();
    let keys = crate::helpers::sorted_keys(&created);
    assert_eq!(
        keys,
        [
            "created_date",
            "division_type",
            "erp_code",
            "extra_data",
            "id",
            "is_active",
            "modified_date",
            "name",
            "parent"
        ]
    );
    assert_eq!(created["is_active"], true);
    assert_eq!(created["parent"], Value::Null);
    assert_eq!(created["extra_data"], json!({"region": "EU"}));

    let token = app.token.clone();
    let path = format!("/api/v1/divisions/{id}/");
    let (status, patched) = app
        .call(
            Method::PATCH,
            &path,
            Some(&token),
            Some(json!({"name": "Renamed"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (patched["name"].clone(), patched["erp_code"].clone()),
        (json!("Renamed"), json!("ERP-1"))
    );
    let (status, put) = app
        .call(
            Method::PUT,
            &path,
            Some(&token),
            Some(json!({"name": "Put", "division_type": "main"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        put["erp_code"], "ERP-1",
        "optional fields left out of a PUT keep their value"
    );
    let (status, body) = app
        .call(
            Method::PUT,
            &path,
            Some(&token),
            Some(json!({"name": "Put"})),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"division_type": ["This field is required."]})
        )
    );

    let sub = create_division(&app, "Sub", "sub", Some(id)).await;
    // A division with sub-divisions cannot be deleted.
    let (status, body) = app.call(Method::DELETE, &path, Some(&token), None).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"detail": "The division still has users or sub-divisions; deactivate it instead."})
        )
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM divisions").await, 2);
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/divisions/{sub}/"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.get(&format!("/api/v1/divisions/{sub}/")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(app.count("SELECT COUNT(*) FROM divisions").await, 1);

    // A division that users still belong to stays, and so do they.
    create_b2b_staff(&app.state, "member@example.com", false, Some(id)).await;
    let (status, body) = app.call(Method::DELETE, &path, Some(&token), None).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"detail": "The division still has users or sub-divisions; deactivate it instead."})
        )
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM divisions").await, 1);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM users WHERE division_id = {id}"
        ))
        .await,
        1
    );
}

async fn parent_rules_word_for_word(app: TestApp) {
    let main = create_division(&app, "Main", "main", None).await;
    let sub = create_division(&app, "Sub", "sub", Some(main)).await;
    let (status, body) = app
        .post(
            "/api/v1/divisions/",
            json!({"name": "X", "division_type": "sub", "parent": sub}),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"parent": ["The type of division is not main."]})
        )
    );
    let (status, body) = app
        .post(
            "/api/v1/divisions/",
            json!({"name": "X", "division_type": "main", "parent": main}),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"parent": ["The main division can not have parent."]})
        )
    );
    let (status, body) = app
        .post(
            "/api/v1/divisions/",
            json!({"name": "X", "division_type": "sub", "parent": 999999}),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"parent": ["Invalid pk \"999999\" - object does not exist."]})
        )
    );
    let token = app.token.clone();
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/divisions/{main}/"),
            Some(&token),
            Some(json!({"division_type": "sub"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(app.count("SELECT COUNT(*) FROM divisions").await, 2);
}

async fn division_filters_and_bad_values(app: TestApp) {
    let main = create_division(&app, "Istanbul Main", "main", None).await;
    create_division(&app, "Ankara Sub", "sub", Some(main)).await;
    let other = create_division(&app, "Izmir", "main", None).await;
    app.post(&format!("/api/v1/divisions/{other}/deactivate/"), json!({}))
        .await;
    let (status, _) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/divisions/{main}/"),
            Some(&app.token.clone()),
            Some(json!({"erp_code": "ERP-7"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for (query, expected) in [
        ("name=istanbul", 1),
        ("division_type=sub", 1),
        ("division_type=main", 2),
        ("is_active=false", 1),
        ("is_active=true&division_type=main", 1),
        ("erp_code=x", 0),
        ("erp_code=rp-7", 1),
        ("erp_code=ERP-7&name=ankara", 0),
    ] {
        let (status, body) = app.get(&format!("/api/v1/divisions/?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}");
        assert_eq!(body["count"], expected, "{query}");
    }
    let (status, body) = app
        .get("/api/v1/divisions/?division_type=branch&is_active=yes")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"division_type": ["Select a valid choice. branch is not one of the available choices."],
               "is_active": ["Select a valid choice. yes is not one of the available choices."]})
    );
}

async fn deactivate_cascades_to_users_locally(app: TestApp) {
    let main = create_division(&app, "Main", "main", None).await;
    let other = create_division(&app, "Other", "main", None).await;
    for (i, division) in [main, main, other].iter().enumerate() {
        let (status, body) = app
            .post("/api/v1/users/", json!({"division": division, "email": format!("u{i}@example.com"), "first_name": "F", "last_name": "L", "password": "a-good-password"}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = app
        .post(&format!("/api/v1/divisions/{main}/deactivate/"), json!({}))
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!({})));
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM users WHERE division_id = {main} AND is_active = TRUE"
        ))
        .await,
        0
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM users WHERE division_id = {other} AND is_active = TRUE"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM jobs").await,
        0,
        "local mode makes no Commerce jobs"
    );
    let (_, division) = app.get(&format!("/api/v1/divisions/{main}/")).await;
    assert_eq!(division["is_active"], false);
    // activate/ re-activates the division only.
    let (status, _) = app
        .post(&format!("/api/v1/divisions/{main}/activate/"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, division) = app.get(&format!("/api/v1/divisions/{main}/")).await;
    assert_eq!(division["is_active"], true);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM users WHERE division_id = {main} AND is_active = TRUE"
        ))
        .await,
        0
    );
    let (status, _) = app
        .post("/api/v1/divisions/999999/deactivate/", json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn division_bad_input_writes_nothing(app: TestApp) {
    let cases = [
        (
            json!({"name": 5, "division_type": "main"}),
            json!({"name": ["Not a valid string."]}),
        ),
        (
            json!({"name": "x".repeat(300), "division_type": "main"}),
            json!({"name": ["Ensure this field has no more than 255 characters."]}),
        ),
        (
            json!({"name": "", "division_type": "main"}),
            json!({"name": ["This field may not be blank."]}),
        ),
        (
            json!({"name": "X", "division_type": "galaxy"}),
            json!({"division_type": ["\"galaxy\" is not a valid choice."]}),
        ),
        (
            json!({"name": "X", "division_type": "main", "extra_data": [1, 2]}),
            json!({"extra_data": ["Expected a dictionary of items but got type \"list\"."]}),
        ),
        (
            json!({"name": "X", "division_type": "main", "parent": "one"}),
            json!({"parent": ["A valid integer is required."]}),
        ),
        (
            json!({"name": "X", "division_type": "main", "is_active": "yes"}),
            json!({"is_active": ["Must be a valid boolean."]}),
        ),
        (
            json!({"name": "X\u{0}Y", "division_type": "main"}),
            json!({"name": ["Null characters are not allowed."]}),
        ),
    ];
    let mut answers = Vec::new();
    for (body, _) in &cases {
        let (status, answer) = app.post("/api/v1/divisions/", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {answer}");
        answers.push(answer);
    }
    // Each answer names the wrong field and says what is wrong with it, in DRF's words.
    let expected: Vec<&Value> = cases.iter().map(|(_, answer)| answer).collect();
    assert_eq!(answers.iter().collect::<Vec<_>>(), expected);
    // Text that looks like SQL or a formula is stored and returned as given.
    for name in ["'; DROP TABLE divisions; --", "=HYPERLINK(\"http://x\")"] {
        let (status, body) = app
            .post(
                "/api/v1/divisions/",
                json!({"name": name, "division_type": "main"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(body["name"], name);
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM divisions").await, 2);
}

async fn my_divisions_and_permissions(app: TestApp) {
    let main = create_division(&app, "Main", "main", None).await;
    let sub = create_division(&app, "Sub", "sub", Some(main)).await;
    create_division(&app, "Elsewhere", "main", None).await;
    let (_, main_staff) = create_b2b_staff(&app.state, "main@example.com", false, Some(main)).await;
    let (_, sub_staff) = create_b2b_staff(&app.state, "sub@example.com", false, Some(sub)).await;
    let ids = |body: &Value| {
        body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_i64().unwrap())
            .collect::<Vec<_>>()
    };
    let (status, body) = app
        .call(
            Method::GET,
            "/api/v1/my-divisions/",
            Some(&main_staff),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&body), [main, sub]);
    let (_, body) = app
        .call(Method::GET, "/api/v1/my-divisions/", Some(&sub_staff), None)
        .await;
    assert_eq!(ids(&body), [sub]);
    // Division CRUD is for superusers only.
    let (status, _) = app
        .call(Method::GET, "/api/v1/divisions/", Some(&main_staff), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/divisions/",
            Some(&main_staff),
            Some(json!({"name": "N", "division_type": "main"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/divisions/{main}/deactivate/"),
            Some(&main_staff),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .call(Method::GET, "/api/v1/divisions/", None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM divisions WHERE is_active = TRUE")
            .await,
        3
    );
}
