//! HTTP conventions shared by every endpoint: pagination, filters, bodies, slashes.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, create_b2b_staff};
use crate::on_both_backends;

on_both_backends!(
    pagination_envelope_and_links,
    page_past_the_end_and_bad_pages,
    filter_values_are_validated,
    contains_filter_is_case_insensitive_and_literal,
    bodies_too_large_wrong_type_or_malformed,
    trailing_slash_is_optional,
    unknown_routes_and_methods,
    staff_user_patch_rules,
    the_schema_says_how_filters_and_pages_are_read,
);

async fn seed_staff(app: &TestApp, n: usize) {
    for i in 0..n {
        create_b2b_staff(&app.state, &format!("staff{i:02}@example.com"), false, None).await;
    }
}

async fn pagination_envelope_and_links(app: TestApp) {
    seed_staff(&app, 5).await; // 6 staff users with root
    let (status, body) = app.get("/api/v1/staff-users/?limit=2&email=example").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["count"], 6);
    assert_eq!(body["previous"], Value::Null);
    assert_eq!(
        body["next"],
        json!(app.url("/api/v1/staff-users/?limit=2&email=example&page=2"))
    );
    let ids: Vec<i64> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids[0] < ids[1], "stable order by id");

    let (_, page2) = app
        .get("/api/v1/staff-users/?limit=2&email=example&page=2")
        .await;
    assert_eq!(
        page2["previous"],
        json!(app.url("/api/v1/staff-users/?limit=2&email=example"))
    );
    assert_eq!(
        page2["next"],
        json!(app.url("/api/v1/staff-users/?limit=2&email=example&page=3"))
    );
    let (_, page3) = app
        .get("/api/v1/staff-users/?page=3&limit=2&email=example")
        .await;
    assert_eq!(page3["next"], Value::Null);
    assert_eq!(
        page3["previous"],
        json!(app.url("/api/v1/staff-users/?page=2&limit=2&email=example"))
    );

    // Default limit 20; over 1000 is capped; nonsense falls back to the default.
    let (_, all) = app.get("/api/v1/staff-users/?limit=abc").await;
    assert_eq!(all["results"].as_array().unwrap().len(), 6);
    // 1,000 more staff users, so the cap shows: a page holds at most 1,000 rows.
    let added = kadro::db::Query::new(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) \
         INSERT INTO users (email, is_staff, date_joined) \
         SELECT 'bulk' || i || '@example.com', $1, $2 FROM n",
    )
    .bind(true)
    .bind(kadro::http::time::now())
    .execute(&app.state.db)
    .await
    .unwrap();
    assert_eq!(added, 1000);
    let (_, capped) = app.get("/api/v1/staff-users/?limit=100000").await;
    assert_eq!(capped["count"], json!(1006));
    assert_eq!(capped["results"].as_array().unwrap().len(), 1000);
    let (_, exact) = app.get("/api/v1/staff-users/?limit=1000").await;
    assert_eq!(exact["results"].as_array().unwrap().len(), 1000);
    let (_, below) = app.get("/api/v1/staff-users/?limit=999").await;
    assert_eq!(below["results"].as_array().unwrap().len(), 999);
    for nonsense in ["", "limit=abc", "limit=0", "limit=-5"] {
        let (_, page) = app.get(&format!("/api/v1/staff-users/?{nonsense}")).await;
        assert_eq!(page["results"].as_array().unwrap().len(), 20, "{nonsense}");
    }

    // The exact keys of seed 001.
    let item = &all["results"][0];
    let keys = crate::helpers::sorted_keys(item);
    assert_eq!(
        keys,
        [
            "date_joined",
            "division",
            "email",
            "first_name",
            "id",
            "is_active",
            "is_staff",
            "is_superuser",
            "last_login",
            "last_name",
            "phone_number",
            "remote_id",
            "shop_token"
        ]
    );
    let joined = item["date_joined"].as_str().unwrap();
    assert_eq!(
        joined.len(),
        "2024-12-12T12:57:07.517766Z".len(),
        "{joined}"
    );
    assert!(joined.ends_with('Z'));
}

async fn page_past_the_end_and_bad_pages(app: TestApp) {
    for path in [
        "/api/v1/staff-users/?page=2",
        "/api/v1/staff-users/?page=0",
        "/api/v1/staff-users/?page=x",
    ] {
        let (status, body) = app.get(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body, json!({ "detail": "Invalid page." }));
    }
    let (status, body) = app.get("/api/v1/staff-users/?format=json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["count"], 1);
    let (status, _) = app.get("/api/v1/staff-users/?format=yaml").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn filter_values_are_validated(app: TestApp) {
    let (status, body) = app
        .get("/api/v1/staff-users/?is_active=maybe&division=abc&division_type=huge")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({
            "is_active": ["Select a valid choice. maybe is not one of the available choices."],
            "division": ["Enter a number."],
            "division_type": ["Select a valid choice. huge is not one of the available choices."],
        })
    );
    for (query, count) in [
        ("is_active=True", 1),
        ("is_active=0", 0),
        ("is_active=", 1),
        ("id=999", 0),
    ] {
        let (status, body) = app.get(&format!("/api/v1/staff-users/?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}");
        assert_eq!(body["count"], count, "{query}");
    }
}

async fn contains_filter_is_case_insensitive_and_literal(app: TestApp) {
    create_b2b_staff(&app.state, "Ada.Lovelace@Example.com", false, None).await;
    create_b2b_staff(&app.state, "ada_100%@example.com", false, None).await;
    let (_, body) = app.get("/api/v1/staff-users/?email=ADA.LOVE").await;
    assert_eq!(body["count"], 1);
    // `%` and `_` are literal characters, not wildcards; SQL-looking text is just text.
    let (_, body) = app.get("/api/v1/staff-users/?email=100%25").await;
    assert_eq!(body["count"], 1);
    let (_, body) = app.get("/api/v1/staff-users/?email=a_a").await;
    assert_eq!(body["count"], 0);
    let (status, body) = app
        .get("/api/v1/staff-users/?email=%27%20OR%201%3D1%20--")
        .await;
    assert_eq!((status, body["count"].clone()), (StatusCode::OK, json!(0)));
}

async fn bodies_too_large_wrong_type_or_malformed(app: TestApp) {
    let (id, _) = create_b2b_staff(&app.state, "s@example.com", false, None).await;
    let path = format!("/api/v1/staff-users/{id}/");
    let auth = format!("Token {}", app.token);
    let send = |body: Vec<u8>, content_type: &'static str| {
        app.client
            .patch(app.url(&path))
            .header("Authorization", &auth)
            .header("Content-Type", content_type)
            .body(body)
            .send()
    };
    let big = format!(
        "{{\"is_superuser\": true, \"pad\": \"{}\"}}",
        "x".repeat(1024 * 1024 + 10)
    );
    let response = send(big.into_bytes(), "application/json").await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"detail": "Request body is too large (limit 1 MiB)."})
    );

    let response = send(
        b"is_superuser=true".to_vec(),
        "application/x-www-form-urlencoded",
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"detail": "Unsupported media type \"application/x-www-form-urlencoded\" in request."})
    );

    let response = send(b"{\"is_superuser\": tru".to_vec(), "application/json")
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("JSON parse error - "),
        "{body}"
    );

    let response = send(
        b"{\"is_superuser\": \"very\"}".to_vec(),
        "application/json; charset=utf-8",
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"is_superuser": ["Must be a valid boolean."]})
    );

    // Nothing was written by any of these.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE is_superuser = TRUE")
            .await,
        1
    );
}

async fn trailing_slash_is_optional(app: TestApp) {
    let (id, _) = create_b2b_staff(&app.state, "slash@example.com", false, None).await;
    let (a_status, a) = app.get(&format!("/api/v1/staff-users/{id}")).await;
    let (b_status, b) = app.get(&format!("/api/v1/staff-users/{id}/")).await;
    assert_eq!((a_status, b_status), (StatusCode::OK, StatusCode::OK));
    assert_eq!(a, b);
    assert_eq!(a["email"], "slash@example.com");
    let (status, _) = app.get("/api/v1/staff-users").await;
    assert_eq!(status, StatusCode::OK);
}

async fn unknown_routes_and_methods(app: TestApp) {
    let (status, body) = app.get("/api/v1/nothing-here/").await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_FOUND, json!({"detail": "Not found."}))
    );
    for path in [
        "/api/v1/staff-users/999999/",
        "/api/v1/staff-users/abc/",
        "/api/v1/staff-users/-1/",
    ] {
        let (status, body) = app.get(path).await;
        assert_eq!(
            (status, body),
            (StatusCode::NOT_FOUND, json!({"detail": "Not found."})),
            "{path}"
        );
    }
    let (status, body) = app
        .call(
            Method::DELETE,
            "/api/v1/staff-users/",
            Some(&app.token.clone()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body, json!({"detail": "Method \"DELETE\" not allowed."}));
}

async fn staff_user_patch_rules(app: TestApp) {
    let (id, _) = create_b2b_staff(&app.state, "promote@example.com", false, None).await;
    let path = format!("/api/v1/staff-users/{id}/");
    let token = app.token.clone();
    let (status, body) = app
        .call(
            Method::PATCH,
            &path,
            Some(&token),
            Some(json!({"is_superuser": true, "email": "x@y.z"})),
        )
        .await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"is_superuser": true}))
    );
    let (_, detail) = app.get(&path).await;
    assert_eq!(
        detail["email"], "promote@example.com",
        "only is_superuser changes"
    );
    assert_eq!(detail["is_superuser"], true);
    // Demote root; then the promoted account is the last active superuser and stays one.
    let (root_status, _) = app
        .call(
            Method::PATCH,
            "/api/v1/staff-users/1/",
            Some(&token),
            Some(json!({"is_superuser": false})),
        )
        .await;
    assert_eq!(root_status, StatusCode::OK);
    let (_, new_token) = create_b2b_staff(&app.state, "x@example.com", false, None).await;
    let (status, _) = app
        .call(
            Method::PATCH,
            &path,
            Some(&new_token),
            Some(json!({"is_superuser": false})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let service_like =
        kadro::db::Query::new("SELECT COUNT(*) FROM users WHERE is_superuser = TRUE")
            .scalar::<i64>(&app.state.db)
            .await
            .unwrap();
    assert_eq!(service_like, 1);
    // Use the promoted account's own token to try to demote itself.
    let (_, own) = {
        let mut tx = app.state.db.begin().await.unwrap();
        let t = kadro::auth::token::issue(&mut tx, kadro::auth::AccountKind::User, id)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        ((), t)
    };
    let (status, body) = app
        .call(
            Method::PATCH,
            &path,
            Some(&own),
            Some(json!({"is_superuser": false})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"is_superuser": ["The last active superuser cannot be demoted."]})
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE is_superuser = TRUE")
            .await,
        1
    );
}

mod last_superuser {
    use super::*;

    on_both_backends!(concurrent_demotions_leave_one_superuser);

    /// Two superusers demote each other at the same moment, round after round: one demotion
    /// wins, the other is refused, and an active superuser always remains.
    async fn concurrent_demotions_leave_one_superuser(app: TestApp) {
        let (second, second_token) =
            create_b2b_staff(&app.state, "second@example.com", true, None).await;
        let app = std::sync::Arc::new(app);
        for round in 0..8 {
            kadro::db::Query::new("UPDATE users SET is_superuser = TRUE WHERE id IN (1, $1)")
                .bind(second)
                .execute(&app.state.db)
                .await
                .unwrap();
            let demote = |token: String, target: i64| {
                let app = app.clone();
                tokio::spawn(async move {
                    let path = format!("/api/v1/staff-users/{target}/");
                    app.call(
                        Method::PATCH,
                        &path,
                        Some(&token),
                        Some(json!({"is_superuser": false})),
                    )
                    .await
                    .0
                })
            };
            let a = demote(app.token.clone(), second);
            let b = demote(second_token.clone(), 1);
            let mut statuses = [a.await.unwrap(), b.await.unwrap()];
            statuses.sort();
            // The loser is refused as the last superuser (400), or, when the winner committed
            // before its request was authorised, as no longer a superuser (403).
            assert_eq!(statuses[0], StatusCode::OK, "round {round}");
            assert!(
                matches!(statuses[1], StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN),
                "round {round}: {statuses:?}"
            );
            assert_eq!(
                app.count("SELECT COUNT(*) FROM users WHERE is_superuser = TRUE")
                    .await,
                1,
                "round {round}"
            );
        }
    }
}

/// The OpenAPI document says what the server accepts of a list's query: a typed filter takes
/// its value as text too (trimmed, a sign allowed, Django's boolean spellings, blank for no
/// filter), `format` also takes `json` and a blank, and a paged list documents the 400 of a NUL
/// character in its query.
async fn the_schema_says_how_filters_and_pages_are_read(app: TestApp) {
    let (status, schema) = app.get("/api/schema/").await;
    assert_eq!(status, StatusCode::OK);
    let parameter = |path: &str, name: &str| {
        schema["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{path} has no {name}"))["schema"]
            .clone()
    };
    assert_eq!(
        parameter("/api/v1/cities/", "country"),
        json!({"anyOf": [{"type": "integer", "format": "int64"},
            {"type": "string", "pattern": "^\\s*([+-]?[0-9]+)?\\s*$"}],
            "description": "An empty value means no filter."})
    );
    assert_eq!(
        parameter("/api/v1/divisions/", "is_active"),
        json!({"anyOf": [{"type": "boolean"},
            {"type": "string", "pattern": "^\\s*(true|True|1|false|False|0)?\\s*$"}],
            "description": "An empty value means no filter."})
    );
    assert_eq!(
        parameter("/api/v1/staff-users/", "format"),
        json!({"anyOf": [{"$ref": "#/components/schemas/Format"},
            {"type": "string", "enum": ["json", ""]}]})
    );
    assert_eq!(
        parameter("/api/v1/cities/", "name"),
        json!({"type": "string"}),
        "a text filter is any text"
    );
    let operations = schema["paths"].as_object().unwrap().values();
    for operation in operations.map(|item| &item["get"]) {
        let paged = operation["parameters"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|p| p["name"] == "page"));
        if paged {
            assert!(
                operation["responses"]["400"].is_object(),
                "{}",
                operation["operationId"]
            );
        }
    }
    // What the document says, the server does.
    seed_staff(&app, 2).await;
    for (query, count) in [("", 3), ("?is_active=", 3), ("?is_active= True ", 3)] {
        let (status, body) = app.get(&format!("/api/v1/staff-users/{query}")).await;
        assert_eq!(
            (status, &body["count"]),
            (StatusCode::OK, &json!(count)),
            "{query}"
        );
    }
    for query in ["?id=", "?id=+1", "?id= 1", "?format=", "?format=json"] {
        let (status, _) = app.get(&format!("/api/v1/staff-users/{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}");
    }
    let (status, body) = app.get("/api/v1/staff-users/?id=1.5&is_active=yes").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"id": ["Enter a number."],
            "is_active": ["Select a valid choice. yes is not one of the available choices."]})
    );
    let (status, body) = app.get("/api/v1/users/1/tokens/?page=%00").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}
