//! Token lifecycle: an account's token list (never the key), revoking one or all, expiry, and
//! `last_used` written at most once a minute.

use kadro::auth::housekeeping;
use kadro::db::Query;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::auth::set_password;
use crate::helpers::{Backend, TestApp, create_b2b_staff, sorted_keys};
use crate::instore_support::{PASSWORD, geo, login as staff_login, staff, staff_token, store};
use crate::{on_both_backends, per_backend};

on_both_backends!(
    an_accounts_tokens_are_listed_without_keys,
    revoking_one_or_all_ends_those_tokens,
    staff_tokens_are_listed_and_revoked_under_instore_permissions,
    last_used_is_written_at_most_once_a_minute,
);

per_backend!(revocation_drops_cached_callers, expired_tokens_are_refused,);

/// Logs `email` in with the password "s3cret-enough" and `agent`; returns the token.
async fn login(app: &TestApp, email: &str, agent: &str) -> String {
    let response = app
        .client
        .post(app.url("/api/v1/auth/login/"))
        .header("User-Agent", agent)
        .json(&json!({"email": email, "password": "s3cret-enough"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["token"].as_str().unwrap().to_owned()
}

async fn me(app: &TestApp, token: &str) -> StatusCode {
    app.call(Method::GET, "/api/v1/auth/me/", Some(token), None)
        .await
        .0
}

async fn an_accounts_tokens_are_listed_without_keys(app: TestApp) {
    let (id, _) = create_b2b_staff(&app.state, "jane@example.com", false, None).await;
    set_password(&app, "jane@example.com", "s3cret-enough").await;
    let phone = login(&app, "jane@example.com", "Phone/1.0").await;
    let laptop = login(&app, "jane@example.com", "Laptop/2.0").await;
    let path = format!("/api/v1/users/{id}/tokens/");
    let (status, list) = app.get(&path).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let text = list.to_string();
    assert!(!text.contains(&phone) && !text.contains(&laptop), "{text}");
    assert_eq!(list["count"], 3, "{list}"); // the harness's token, then the two logins
    let results = list["results"].as_array().unwrap();
    for token in results {
        assert_eq!(
            sorted_keys(token),
            ["created_date", "id", "last_used", "user_agent"]
        );
        assert!(token["created_date"].as_str().unwrap().ends_with('Z'));
    }
    let agents: Vec<&Value> = results.iter().map(|t| &t["user_agent"]).collect();
    assert_eq!(
        agents,
        [&Value::Null, &json!("Phone/1.0"), &json!("Laptop/2.0")]
    );
    // Paginated like every list.
    let (_, page) = app.get(&format!("{path}?limit=2")).await;
    assert_eq!(page["results"].as_array().unwrap().len(), 2);
    assert_eq!(
        page["next"],
        json!(app.url(&format!("{path}?limit=2&page=2")))
    );
    // The account itself may look; another account may not; an unknown id is a 404.
    let (status, own) = app.call(Method::GET, &path, Some(&phone), None).await;
    assert_eq!((status, own["count"].clone()), (StatusCode::OK, json!(3)));
    let (_, other) = create_b2b_staff(&app.state, "other@example.com", false, None).await;
    let (status, body) = app.call(Method::GET, &path, Some(&other), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(
        app.call(Method::GET, &path, None, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = app.get("/api/v1/users/999999/tokens/").await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_FOUND, json!({"detail": "Not found."}))
    );
}

async fn revoking_one_or_all_ends_those_tokens(app: TestApp) {
    let (id, first) = create_b2b_staff(&app.state, "jane@example.com", false, None).await;
    set_password(&app, "jane@example.com", "s3cret-enough").await;
    let second = login(&app, "jane@example.com", "Phone/1.0").await;
    let third = login(&app, "jane@example.com", "Laptop/2.0").await;
    let path = format!("/api/v1/users/{id}/tokens/");
    let (_, list) = app.get(&path).await;
    let ids: Vec<i64> = list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    // Another account's token id is not this account's: 404, nothing revoked.
    let (_, other) = create_b2b_staff(&app.state, "other@example.com", false, None).await;
    let other_id: i64 = Query::new("SELECT MAX(id) FROM api_tokens")
        .scalar(&app.state.db)
        .await
        .unwrap();
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("{path}{other_id}/"),
            Some(&app.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(me(&app, &other).await, StatusCode::OK);
    // A superuser revokes one.
    let (status, body) = app
        .call(
            Method::DELETE,
            &format!("{path}{}/", ids[1]),
            Some(&app.token),
            None,
        )
        .await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    let (status, body) = app
        .call(Method::GET, "/api/v1/auth/me/", Some(&second), None)
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::UNAUTHORIZED,
            json!({"detail": "Invalid token."})
        )
    );
    assert_eq!(me(&app, &first).await, StatusCode::OK);
    // Another account may not revoke; the account itself may revoke all of its own.
    assert_eq!(
        app.call(Method::DELETE, &path, Some(&other), None).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.call(Method::DELETE, &path, Some(&third), None).await.0,
        StatusCode::NO_CONTENT
    );
    for token in [&first, &third] {
        assert_eq!(me(&app, token).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(me(&app, &other).await, StatusCode::OK);
    let (_, list) = app.get(&path).await;
    assert_eq!(list["count"], 0);
    assert_eq!(
        app.call(
            Method::DELETE,
            "/api/v1/users/999999/tokens/",
            Some(&app.token),
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
}

async fn staff_tokens_are_listed_and_revoked_under_instore_permissions(app: TestApp) {
    let g = geo(&app).await;
    let shop = store(&app, g.township, "Shop").await;
    let sid = staff(&app, "ok@example.com", Some("ok"), &[shop], &[]).await;
    let (status, body) = staff_login(
        &app,
        json!({"username": "ok", "password": PASSWORD, "retail_store": shop}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/staffs/{sid}/tokens/");
    let (status, list) = app.get(&path).await;
    assert_eq!((status, list["count"].clone()), (StatusCode::OK, json!(1)));
    assert_eq!(
        sorted_keys(&list["results"][0]),
        ["created_date", "id", "last_used", "user_agent"]
    );
    assert!(!list.to_string().contains(&token));
    // A staff without the permission may not, even for itself; a B2B non-superuser neither.
    let (_, plain) = create_b2b_staff(&app.state, "plain@example.com", false, None).await;
    for who in [&token, &plain] {
        assert_eq!(
            app.call(Method::GET, &path, Some(who), None).await.0,
            StatusCode::FORBIDDEN
        );
    }
    let token_id = list["results"][0]["id"].as_i64().unwrap();
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("{path}{token_id}/"),
            Some(&app.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(me(&app, &token).await, StatusCode::UNAUTHORIZED);
    let more = staff_token(&app, sid).await;
    assert_eq!(
        app.call(Method::DELETE, &path, Some(&app.token), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(me(&app, &more).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get("/api/v1/staffs/999999/tokens/").await.0,
        StatusCode::NOT_FOUND
    );
    let (status, _) = app
        .call(Method::DELETE, &format!("{path}x/"), Some(&app.token), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn last_used(app: &TestApp, token_id: i64) -> Option<chrono::DateTime<chrono::Utc>> {
    Query::new("SELECT last_used FROM api_tokens WHERE id = $1")
        .bind(token_id)
        .scalar(&app.state.db)
        .await
        .unwrap()
}

async fn last_used_is_written_at_most_once_a_minute(app: TestApp) {
    let (id, token) = create_b2b_staff(&app.state, "jane@example.com", false, None).await;
    let token_id: i64 = Query::new("SELECT id FROM api_tokens WHERE account_id = $1")
        .bind(id)
        .scalar(&app.state.db)
        .await
        .unwrap();
    assert_eq!(last_used(&app, token_id).await, None);
    assert_eq!(me(&app, &token).await, StatusCode::OK);
    let first = last_used(&app, token_id)
        .await
        .expect("written on first use");
    for _ in 0..5 {
        assert_eq!(me(&app, &token).await, StatusCode::OK);
    }
    assert_eq!(
        last_used(&app, token_id).await,
        Some(first),
        "not rewritten within the minute"
    );
    // A minute later the next request writes it again.
    let earlier = first - chrono::Duration::seconds(61);
    Query::new("UPDATE api_tokens SET last_used = $1 WHERE id = $2")
        .bind(earlier)
        .bind(token_id)
        .execute(&app.state.db)
        .await
        .unwrap();
    assert_eq!(me(&app, &token).await, StatusCode::OK);
    let again = last_used(&app, token_id).await.unwrap();
    assert!(again >= first, "{again} after {first}");
    let (_, list) = app.get(&format!("/api/v1/users/{id}/tokens/")).await;
    assert_eq!(
        list["results"][0]["last_used"],
        json!(kadro::http::time::format(&again))
    );
}

async fn revocation_drops_cached_callers(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.auth_cache_ms = 600_000).await else {
        return;
    };
    let (id, token) = create_b2b_staff(&app.state, "jane@example.com", false, None).await;
    assert_eq!(me(&app, &token).await, StatusCode::OK); // now cached for ten minutes
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/users/{id}/tokens/"),
            Some(&app.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(me(&app, &token).await, StatusCode::UNAUTHORIZED);
}

async fn expired_tokens_are_refused(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.token_ttl_seconds = Some(3600)).await else {
        return;
    };
    let (id, token) = create_b2b_staff(&app.state, "jane@example.com", false, None).await;
    assert_eq!(me(&app, &token).await, StatusCode::OK);
    Query::new("UPDATE api_tokens SET created_at = $1 WHERE account_id = $2")
        .bind(chrono::Utc::now() - chrono::Duration::seconds(3601))
        .bind(id)
        .execute(&app.state.db)
        .await
        .unwrap();
    let (status, body) = app
        .call(Method::GET, "/api/v1/auth/me/", Some(&token), None)
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::UNAUTHORIZED,
            json!({"detail": "Invalid token."})
        )
    );
    // A token within its lifetime still works.
    assert_eq!(me(&app, &app.token).await, StatusCode::OK);
    // Housekeeping deletes expired tokens, and only those.
    let tidied = housekeeping::run_once(
        &app.state.db,
        app.state.config.token_ttl(),
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(tidied.expired_tokens, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM api_tokens").await, 1);
    assert_eq!(me(&app, &app.token).await, StatusCode::OK);
}

#[test]
fn the_openapi_document_lists_the_new_endpoints() {
    let spec = serde_json::to_value(kadro::openapi::spec()).unwrap();
    let paths = &spec["paths"];
    for (path, method, statuses) in [
        (
            "/api/v1/users/{id}/unlock/",
            "post",
            &["204", "403", "404"][..],
        ),
        ("/api/v1/users/{id}/tokens/", "get", &["200", "403", "404"]),
        (
            "/api/v1/users/{id}/tokens/",
            "delete",
            &["204", "403", "404"],
        ),
        (
            "/api/v1/users/{id}/tokens/{token_id}/",
            "delete",
            &["204", "404"],
        ),
        (
            "/api/v1/staffs/{id}/unlock/",
            "post",
            &["204", "403", "404"],
        ),
        ("/api/v1/staffs/{id}/tokens/", "get", &["200", "403", "404"]),
        ("/api/v1/staffs/{id}/tokens/", "delete", &["204", "404"]),
        (
            "/api/v1/staffs/{id}/tokens/{token_id}/",
            "delete",
            &["204", "404"],
        ),
        ("/api/v1/auth/login/", "post", &["200", "400", "429"]),
        ("/api/v1/staffs/login/", "post", &["200", "400", "429"]),
    ] {
        let responses = &paths[path][method]["responses"];
        for status in statuses {
            assert!(responses.get(*status).is_some(), "{method} {path} {status}");
        }
    }
    let token = &spec["components"]["schemas"]["TokenOut"]["properties"];
    let mut fields: Vec<&String> = token.as_object().unwrap().keys().collect();
    fields.sort();
    assert_eq!(fields, ["created_date", "id", "last_used", "user_agent"]);
}
