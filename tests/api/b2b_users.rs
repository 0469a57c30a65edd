//! `/api/v1/users/` in local mode: the rules of seed 004, filters, scopes and bad input.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::b2b_divisions::create_division;
use crate::helpers::{TestApp, create_b2b_staff};
use crate::on_both_backends;

on_both_backends!(
    create_user_like_the_seed,
    list_and_detail_shapes,
    user_filters,
    pagination_across_filters,
    existing_superuser_is_updated_others_refused,
    inactive_division_rules,
    update_reactivates_and_validates,
    activate_deactivate_and_remote_id,
    scopes_and_permissions,
    user_bad_input_writes_nothing,
);

pub fn user_body(division: i64, email: &str) -> Value {
    json!({
        "division": division,
        "email": email,
        "first_name": "firstname",
        "last_name": "lastname",
        "phone_number": "05XXXXXXXXX",
        "password": "a-good-password"
    })
}

pub async fn create_user(app: &TestApp, division: i64, email: &str) -> i64 {
    let (status, body) = app.post("/api/v1/users/", user_body(division, email)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["id"].as_i64().unwrap()
}

async fn create_user_like_the_seed(app: TestApp) {
    let division = create_division(&app, "Akinon Main Division", "main", None).await;
    let (status, body) = app
        .post(
            "/api/v1/users/",
            user_body(division, "firstname.lastname@akinon.com"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let id = body["id"].as_i64().unwrap();
    assert_eq!(
        body,
        json!({"id": id, "email": "firstname.lastname@akinon.com", "first_name": "firstname", "last_name": "lastname",
               "phone_number": "05XXXXXXXXX", "division": division})
    );
    // Local mode: remote_id is the user's own id; a shop token is generated; the password is hashed.
    #[derive(sqlx::FromRow)]
    struct Stored {
        remote_id: Option<i64>,
        shop_token: String,
        password_hash: String,
        is_staff: bool,
    }
    let stored: Stored = kadro::db::Query::new(
        "SELECT remote_id, shop_token, password_hash, is_staff FROM users WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(stored.remote_id, Some(id));
    assert_eq!(stored.shop_token.len(), 40);
    assert!(stored.password_hash.starts_with("$argon2id$"));
    assert!(!stored.is_staff);
    // The seed's own example password is refused by the default policy.
    let mut weak = user_body(division, "weak@example.com");
    weak["password"] = json!("123456");
    let (status, body) = app.post("/api/v1/users/", weak).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"password": ["This password is too short. It must contain at least 8 characters.", "This password is entirely numeric."]})
    );
}

async fn list_and_detail_shapes(app: TestApp) {
    let division = create_division(&app, "Akinon Main Division", "main", None).await;
    let id = create_user(&app, division, "firstname.lastname@test.com").await;
    let (status, list) = app.get("/api/v1/users/").await;
    assert_eq!(status, StatusCode::OK);
    // Staff accounts without remote_id (the harness superuser) are not listed.
    assert_eq!(list["count"], 1);
    let item = list["results"][0].clone();
    let (status, detail) = app.get(&format!("/api/v1/users/{id}/")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(item, detail);
    assert_eq!(
        detail["division"],
        json!({"id": division, "name": "Akinon Main Division", "division_type": "main"})
    );
    let keys = crate::helpers::sorted_keys(&detail);
    assert_eq!(
        keys,
        [
            "date_joined",
            "division",
            "email",
            "first_name",
            "id",
            "is_active",
            "last_login",
            "last_name",
            "phone_number",
            "remote_id",
            "shop_token"
        ]
    );
    assert_eq!(detail["remote_id"], id);
    assert_eq!(detail["last_login"], Value::Null);
    assert!(detail["shop_token"].is_string() && detail["is_active"] == true);
}

async fn user_filters(app: TestApp) {
    let main = create_division(&app, "Main", "main", None).await;
    let sub = create_division(&app, "Sub", "sub", Some(main)).await;
    let ada = create_user(&app, main, "Ada.Lovelace@Example.com").await;
    let alan = create_user(&app, sub, "alan@turing.org").await;
    let token = app.token.clone();
    app.call(
        Method::PATCH,
        &format!("/api/v1/users/{alan}/"),
        Some(&token),
        Some(json!({"first_name": "Alan", "last_name": "Türing", "phone_number": "+44 7700"})),
    )
    .await;
    app.post(&format!("/api/v1/users/{ada}/deactivate/"), json!({}))
        .await;
    let cases: Vec<(String, Vec<i64>)> = vec![
        (format!("id={ada}"), vec![ada]),
        ("is_active=True".into(), vec![alan]),
        ("is_active=false".into(), vec![ada]),
        ("is_active=1".into(), vec![alan]),
        ("email=ADA.love".into(), vec![ada]),
        ("email=example".into(), vec![ada]),
        ("first_name=ALA".into(), vec![alan]),
        ("first_name=first".into(), vec![ada]),
        ("last_name=RING".into(), vec![alan]),
        ("phone_number=7700".into(), vec![alan]),
        (format!("division={sub}"), vec![alan]),
        ("division_type=main".into(), vec![ada]),
        ("division_type=sub".into(), vec![alan]),
        ("email=a&is_active=false".into(), vec![ada]),
        ("email=%25".into(), vec![]),
        ("email=%27%20OR%20%271%27%3D%271".into(), vec![]),
    ];
    for (query, expected) in cases {
        let (status, body) = app.get(&format!("/api/v1/users/?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}");
        let ids: Vec<i64> = body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, expected, "{query}");
        assert_eq!(body["count"], expected.len(), "{query}");
    }
    let (status, body) = app
        .get("/api/v1/users/?id=abc&is_active=perhaps&division=x&division_type=branch")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({
            "id": ["Enter a number."],
            "is_active": ["Select a valid choice. perhaps is not one of the available choices."],
            "division": ["Enter a number."],
            "division_type": ["Select a valid choice. branch is not one of the available choices."],
        })
    );
}

async fn pagination_across_filters(app: TestApp) {
    let main = create_division(&app, "Main", "main", None).await;
    let other = create_division(&app, "Other", "main", None).await;
    for i in 0..7 {
        create_user(
            &app,
            if i % 2 == 0 { main } else { other },
            &format!("p{i}@example.com"),
        )
        .await;
    }
    let (_, page1) = app
        .get(&format!("/api/v1/users/?division={main}&limit=3"))
        .await;
    assert_eq!(page1["count"], 4);
    assert_eq!(
        page1["next"],
        json!(app.url(&format!("/api/v1/users/?division={main}&limit=3&page=2")))
    );
    let (_, page2) = app
        .get(&format!("/api/v1/users/?division={main}&limit=3&page=2"))
        .await;
    assert_eq!(page2["results"].as_array().unwrap().len(), 1);
    assert_eq!(page2["next"], Value::Null);
    assert_eq!(
        page2["previous"],
        json!(app.url(&format!("/api/v1/users/?division={main}&limit=3")))
    );
    let (_, all) = app.get("/api/v1/users/?limit=5&page=2").await;
    assert_eq!(
        (
            all["count"].clone(),
            all["results"].as_array().unwrap().len()
        ),
        (json!(7), 2)
    );
    let (status, _) = app
        .get(&format!("/api/v1/users/?division={main}&limit=3&page=3"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The kept counts follow deactivation.
    let (_, active) = app.get("/api/v1/users/?is_active=true").await;
    assert_eq!(active["count"], 7);
    app.post(&format!("/api/v1/divisions/{other}/deactivate/"), json!({}))
        .await;
    let (_, active) = app.get("/api/v1/users/?is_active=true").await;
    let (_, inactive) = app.get("/api/v1/users/?is_active=false").await;
    assert_eq!(
        (active["count"].clone(), inactive["count"].clone()),
        (json!(4), json!(3))
    );
}

async fn existing_superuser_is_updated_others_refused(app: TestApp) {
    let division = create_division(&app, "Main", "main", None).await;
    create_user(&app, division, "taken@example.com").await;
    let before = app.count("SELECT COUNT(*) FROM users").await;
    let (status, body) = app
        .post("/api/v1/users/", user_body(division, "TAKEN@example.com"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "user_already_exists");
    assert!(body["detail"].is_string());
    // The harness superuser re-registered: its profile fields are updated, nothing else.
    let mut again = user_body(division, "root@example.com");
    again["first_name"] = json!("Root");
    let (status, body) = app.post("/api/v1/users/", again).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], 1);
    let (_, me) = app.get("/api/v1/auth/me/").await;
    assert_eq!(
        (
            me["first_name"].clone(),
            me["division"].clone(),
            me["is_superuser"].clone()
        ),
        (json!("Root"), json!(division), json!(true))
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, before);
}

async fn inactive_division_rules(app: TestApp) {
    let division = create_division(&app, "Main", "main", None).await;
    let user = create_user(&app, division, "u@example.com").await;
    app.post(
        &format!("/api/v1/divisions/{division}/deactivate/"),
        json!({}),
    )
    .await;
    let expected = json!({"detail": "Deactivated divisions cannot be assigned to users.", "code": "division_not_active"});
    let (status, body) = app
        .post("/api/v1/users/", user_body(division, "new@example.com"))
        .await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, expected.clone()));
    let (status, body) = app
        .post(&format!("/api/v1/users/{user}/activate/"), json!({}))
        .await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, expected.clone()));
    let token = app.token.clone();
    let (status, body) = app
        .call(
            Method::PUT,
            &format!("/api/v1/users/{user}/"),
            Some(&token),
            Some(json!({"first_name": "X"})),
        )
        .await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, expected));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE is_active = TRUE AND is_staff = FALSE")
            .await,
        0
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE first_name = 'X'")
            .await,
        0
    );
}

async fn update_reactivates_and_validates(app: TestApp) {
    let division = create_division(&app, "Main", "main", None).await;
    let second = create_division(&app, "Second", "main", None).await;
    let user = create_user(&app, division, "u@example.com").await;
    app.post(&format!("/api/v1/users/{user}/deactivate/"), json!({}))
        .await;
    let token = app.token.clone();
    // Seed 004's PUT example.
    let (status, body) = app
        .call(Method::PUT, &format!("/api/v1/users/{user}/"), Some(&token),
            Some(json!({"division": second, "first_name": "firstname", "last_name": "lastname", "phone_number": "5554443322"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"id": user, "first_name": "firstname", "last_name": "lastname", "phone_number": "5554443322", "division": second})
    );
    let (_, detail) = app.get(&format!("/api/v1/users/{user}/")).await;
    assert_eq!(detail["is_active"], true, "an update re-activates");
    assert_eq!(detail["email"], "u@example.com");
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/users/{user}/"),
            Some(&token),
            Some(json!({"division": 999999})),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"division": ["Invalid pk \"999999\" - object does not exist."]})
        )
    );
    let (status, _) = app
        .call(
            Method::PATCH,
            "/api/v1/users/999999/",
            Some(&token),
            Some(json!({"first_name": "X"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn activate_deactivate_and_remote_id(app: TestApp) {
    let division = create_division(&app, "Main", "main", None).await;
    let user = create_user(&app, division, "u@example.com").await;
    let (status, body) = app
        .post(&format!("/api/v1/users/{user}/deactivate/"), json!({}))
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!({})));
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM users WHERE id = {user} AND is_active = FALSE"
        ))
        .await,
        1
    );
    let (status, body) = app
        .post(&format!("/api/v1/users/{user}/activate/"), json!({}))
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!({})));
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM users WHERE id = {user} AND is_active = TRUE"
        ))
        .await,
        1
    );
    kadro::db::Query::new("UPDATE users SET remote_id = NULL WHERE id = $1")
        .bind(user)
        .execute(&app.state.db)
        .await
        .unwrap();
    let (status, body) = app
        .post(
            &format!("/api/v1/users/{user}/update_remote_id/"),
            json!({}),
        )
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!({})));
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM users WHERE id = {user} AND remote_id = {user}"
        ))
        .await,
        1
    );
    for action in ["activate", "deactivate", "update_remote_id"] {
        let (status, _) = app
            .post(&format!("/api/v1/users/999999/{action}/"), json!({}))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{action}");
    }
}

async fn scopes_and_permissions(app: TestApp) {
    let a = create_division(&app, "A", "main", None).await;
    let a_sub = create_division(&app, "A sub", "sub", Some(a)).await;
    let b = create_division(&app, "B", "main", None).await;
    let in_a = create_user(&app, a, "in-a@example.com").await;
    let in_a_sub = create_user(&app, a_sub, "in-a-sub@example.com").await;
    let in_b = create_user(&app, b, "in-b@example.com").await;
    let (_, staff_a) = create_b2b_staff(&app.state, "staff-a@example.com", false, Some(a)).await;
    let (_, staff_a_sub) =
        create_b2b_staff(&app.state, "staff-asub@example.com", false, Some(a_sub)).await;
    let ids = |body: &Value| {
        body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_i64().unwrap())
            .collect::<Vec<_>>()
    };

    let (_, list) = app
        .call(Method::GET, "/api/v1/users/", Some(&staff_a), None)
        .await;
    assert_eq!(ids(&list), [in_a, in_a_sub]);
    assert_eq!(list["count"], 2);
    let (_, list) = app
        .call(Method::GET, "/api/v1/users/", Some(&staff_a_sub), None)
        .await;
    assert_eq!(ids(&list), [in_a_sub]);
    // Other people's users are invisible: 404, not 403, and nothing changes.
    for (method, path, body) in [
        (Method::GET, format!("/api/v1/users/{in_b}/"), None),
        (
            Method::PATCH,
            format!("/api/v1/users/{in_b}/"),
            Some(json!({"first_name": "Hijacked"})),
        ),
        (
            Method::POST,
            format!("/api/v1/users/{in_b}/deactivate/"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/users/{in_b}/update_remote_id/"),
            None,
        ),
    ] {
        let (status, _) = app.call(method, &path, Some(&staff_a), body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, _) = app
        .call(
            Method::GET,
            &format!("/api/v1/users/{in_a}/"),
            Some(&staff_a_sub),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a sub-division's staff does not see the main division's users"
    );
    // Creating into another division is refused as if it did not exist.
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/users/",
            Some(&staff_a),
            Some(user_body(b, "sneaky@example.com")),
        )
        .await;
    assert_eq!(
        (status, body["division"].clone()),
        (
            StatusCode::BAD_REQUEST,
            json!([format!("Invalid pk \"{b}\" - object does not exist.")])
        )
    );
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/users/",
            Some(&staff_a),
            Some(user_body(a_sub, "ok@example.com")),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE first_name = 'Hijacked' OR email = 'sneaky@example.com'").await, 0);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM users WHERE id = {in_b} AND is_active = TRUE"
        ))
        .await,
        1
    );

    // Non-staff accounts (a user's own login) and tokenless calls are refused.
    kadro::db::Query::new("UPDATE users SET is_staff = FALSE WHERE email = 'staff-a@example.com'")
        .execute(&app.state.db)
        .await
        .unwrap();
    let (status, body) = app
        .call(Method::GET, "/api/v1/users/", Some(&staff_a), None)
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::FORBIDDEN,
            json!({"detail": "You do not have permission to perform this action."})
        )
    );
    let (status, _) = app.call(Method::GET, "/api/v1/users/", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn user_bad_input_writes_nothing(app: TestApp) {
    let division = create_division(&app, "Main", "main", None).await;
    let before = app.count("SELECT COUNT(*) FROM users").await;
    let mut cases = vec![
        (
            json!({}),
            vec!["division", "email", "first_name", "last_name", "password"],
        ),
        (
            json!({"division": "one", "email": "a@b.co", "first_name": "F", "last_name": "L", "password": "a-good-password"}),
            vec!["division"],
        ),
        (
            json!({"division": 999999, "email": "a@b.co", "first_name": "F", "last_name": "L", "password": "a-good-password"}),
            vec!["division"],
        ),
    ];
    for (field, value) in [
        ("email", json!("not-an-email")),
        ("email", json!(42)),
        ("first_name", json!("x".repeat(151))),
        ("last_name", json!("")),
        ("phone_number", json!("9".repeat(129))),
        ("password", json!("short")),
        ("first_name", json!(["array"])),
    ] {
        let mut body = user_body(division, "valid@example.com");
        body[field] = value;
        cases.push((body, vec![field]));
    }
    for (body, fields) in cases {
        let (status, answer) = app.post("/api/v1/users/", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let keys = crate::helpers::sorted_keys(&answer);
        assert_eq!(keys, fields, "{body} → {answer}");
    }
    // Formula- and SQL-looking names are data: stored and returned as given.
    let mut body = user_body(division, "formula@example.com");
    body["first_name"] = json!("=cmd|' /C calc'!A0");
    body["last_name"] = json!("Robert'); DROP TABLE users;--");
    let (status, created) = app.post("/api/v1/users/", body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(created["first_name"], "=cmd|' /C calc'!A0");
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, before + 1);
}

mod concurrency {
    use super::*;

    on_both_backends!(concurrent_updates_all_succeed);

    /// Many writers at once: each waits for its turn (SQLite) or its row (PostgreSQL); none fails.
    async fn concurrent_updates_all_succeed(app: TestApp) {
        let division = create_division(&app, "Main", "main", None).await;
        let mut users = Vec::new();
        for i in 0..4 {
            users.push(create_user(&app, division, &format!("c{i}@example.com")).await);
        }
        let app = std::sync::Arc::new(app);
        let mut tasks = Vec::new();
        for n in 0..40 {
            let app = app.clone();
            let user = users[n % users.len()];
            tasks.push(tokio::spawn(async move {
                let token = app.token.clone();
                let body = json!({"first_name": format!("Name{n}")});
                app.call(
                    Method::PATCH,
                    &format!("/api/v1/users/{user}/"),
                    Some(&token),
                    Some(body),
                )
                .await
                .0
            }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap(), StatusCode::OK);
        }
        assert_eq!(
            app.count("SELECT COUNT(*) FROM users WHERE first_name LIKE 'Name%'")
                .await,
            4
        );
    }
}
