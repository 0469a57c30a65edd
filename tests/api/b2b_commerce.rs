//! The Commerce platform sync (CONTRACT §6) against a real HTTP fake: every call's method,
//! path, headers and JSON, and the database unchanged when Commerce fails.

use std::time::Duration;

use kadro::config::Secret;
use kadro::db::Query;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::b2b_divisions::create_division;
use crate::b2b_users::user_body;
use crate::helpers::{Backend, TestApp};
use crate::per_backend;

per_backend!(
    create_registers_on_commerce,
    create_without_commerce_id_queues_lookup,
    update_and_activation_calls,
    update_remote_id_retries_until_commerce_answers,
    division_deactivation_syncs_in_background,
);

const TOKEN: &str = "commerce-secret";

/// kadro against a Commerce fake, with a timeout no healthy call on a loaded machine reaches.
async fn commerce_app(backend: Backend, commerce_url: &str) -> Option<TestApp> {
    commerce_app_with_timeout(backend, commerce_url, 10_000).await
}

async fn commerce_app_with_timeout(
    backend: Backend,
    commerce_url: &str,
    timeout_ms: u64,
) -> Option<TestApp> {
    let url = commerce_url.to_owned();
    TestApp::spawn_with(backend, move |c| {
        c.commerce_url = Some(url);
        c.commerce_token = Some(Secret::new(TOKEN));
        c.commerce_timeout_ms = timeout_ms;
    })
    .await
}

fn registration_body(email: &str) -> Value {
    json!({"email": email, "first_name": "firstname", "last_name": "lastname", "phone_number": "05XXXXXXXXX", "password": "a-good-password"})
}

/// A user created while Commerce answers with `remote_id`.
async fn registered_user(
    app: &TestApp,
    server: &MockServer,
    division: i64,
    email: &str,
    remote_id: i64,
) -> i64 {
    let _guard = Mock::given(method("POST"))
        .and(path("/users/registration"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": remote_id})))
        .expect(1)
        .mount_as_scoped(server)
        .await;
    let (status, body) = app.post("/api/v1/users/", user_body(division, email)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["id"].as_i64().unwrap()
}

async fn snapshot(app: &TestApp) -> Vec<(i64, String, String, bool, Option<i64>, Option<i64>)> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
        email: String,
        first_name: String,
        is_active: bool,
        remote_id: Option<i64>,
        division_id: Option<i64>,
    }
    let rows: Vec<Row> = Query::new(
        "SELECT id, email, first_name, is_active, remote_id, division_id FROM users ORDER BY id",
    )
    .fetch_all(&app.state.db)
    .await
    .unwrap();
    rows.into_iter()
        .map(|r| {
            (
                r.id,
                r.email,
                r.first_name,
                r.is_active,
                r.remote_id,
                r.division_id,
            )
        })
        .collect()
}

async fn create_registers_on_commerce(backend: Backend) {
    let server = MockServer::start().await;
    let Some(app) = commerce_app(backend, &server.uri()).await else {
        return;
    };
    let division = create_division(&app, "Main", "main", None).await;
    Mock::given(method("POST"))
        .and(path("/users/registration"))
        .and(header("Authorization", format!("Token {TOKEN}").as_str()))
        .and(header("Content-Type", "application/json"))
        .and(body_json(registration_body("new@example.com")))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"id": 777, "email": "new@example.com"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (status, body) = app
        .post("/api/v1/users/", user_body(division, "new@example.com"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["id"].as_i64().unwrap();
    let (_, detail) = app.get(&format!("/api/v1/users/{id}/")).await;
    assert_eq!(detail["remote_id"], 777);
    assert_eq!(app.count("SELECT COUNT(*) FROM jobs").await, 0);
    server.verify().await;
}

async fn create_without_commerce_id_queues_lookup(backend: Backend) {
    let server = MockServer::start().await;
    let Some(app) = commerce_app(backend, &server.uri()).await else {
        return;
    };
    let division = create_division(&app, "Main", "main", None).await;
    Mock::given(method("POST"))
        .and(path("/users/registration"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"detail": "ok"})))
        .expect(1)
        .mount(&server)
        .await;
    let (status, body) = app
        .post("/api/v1/users/", user_body(division, "later@example.com"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let id = body["id"].as_i64().unwrap();
    // Without remote_id the user is not listed yet.
    assert_eq!(app.get("/api/v1/users/").await.1["count"], 0);
    Mock::given(method("GET"))
        .and(path("/users/"))
        .and(query_param("email", "later@example.com"))
        .and(header("Authorization", format!("Token {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"count": 1, "results": [{"id": 4242, "email": "later@example.com"}]}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(app.drain_jobs().await, 1);
    let (_, detail) = app.get(&format!("/api/v1/users/{id}/")).await;
    assert_eq!(detail["remote_id"], 4242);
    assert_eq!(app.get("/api/v1/users/").await.1["count"], 1);
    server.verify().await;
}

async fn update_and_activation_calls(backend: Backend) {
    let server = MockServer::start().await;
    let Some(app) = commerce_app(backend, &server.uri()).await else {
        return;
    };
    let division = create_division(&app, "Main", "main", None).await;
    let user = registered_user(&app, &server, division, "u@example.com", 900).await;
    let auth = format!("Token {TOKEN}");
    Mock::given(method("PATCH"))
        .and(path("/users/profile"))
        .and(header("Authorization", auth.as_str()))
        .and(body_json(json!({"email": "u@example.com", "first_name": "New", "last_name": "lastname", "phone_number": "5554443322"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    let token = app.token.clone();
    let (status, _) = app
        .call(
            Method::PUT,
            &format!("/api/v1/users/{user}/"),
            Some(&token),
            Some(json!({"first_name": "New", "phone_number": "5554443322"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for active in [false, true] {
        let _mock = Mock::given(method("PATCH"))
            .and(path("/users/900/"))
            .and(header("Authorization", auth.as_str()))
            .and(body_json(json!({"is_active": active})))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
            .expect(1)
            .mount_as_scoped(&server)
            .await;
        let action = if active { "activate" } else { "deactivate" };
        let (status, body) = app
            .post(&format!("/api/v1/users/{user}/{action}/"), json!({}))
            .await;
        assert_eq!((status, body), (StatusCode::OK, json!({})), "{action}");
        assert_eq!(
            app.count(&format!(
                "SELECT COUNT(*) FROM users WHERE id = {user} AND is_active = {active}"
            ))
            .await,
            1
        );
    }
    server.verify().await;

    // An update re-activates an inactive user, on Commerce too: the profile, then
    // `PATCH {"is_active": true}`.
    Mock::given(method("PATCH"))
        .and(path("/users/900/"))
        .and(body_json(json!({"is_active": false})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    let (status, _) = app
        .post(&format!("/api/v1/users/{user}/deactivate/"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    server.reset().await;
    Mock::given(method("PATCH"))
        .and(path("/users/profile"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/users/900/"))
        .and(header("Authorization", auth.as_str()))
        .and(body_json(json!({"is_active": true})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/users/{user}/"),
            Some(&token),
            Some(json!({"first_name": "Back"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM users WHERE id = {user} AND is_active = TRUE AND first_name = 'Back'"
        ))
        .await,
        1
    );
    server.verify().await;
}

async fn update_remote_id_retries_until_commerce_answers(backend: Backend) {
    let server = MockServer::start().await;
    let Some(app) = commerce_app(backend, &server.uri()).await else {
        return;
    };
    let division = create_division(&app, "Main", "main", None).await;
    let user = registered_user(&app, &server, division, "u@example.com", 1).await;
    Query::new("UPDATE users SET remote_id = NULL WHERE id = $1")
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
    {
        let _down = Mock::given(method("GET"))
            .and(path("/users/"))
            .respond_with(ResponseTemplate::new(500))
            .expect(1)
            .mount_as_scoped(&server)
            .await;
        assert_eq!(app.drain_jobs().await, 1);
    }
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM users WHERE id = {user} AND remote_id IS NULL"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM jobs WHERE status = 'queued' AND attempts = 1")
            .await,
        1
    );
    Mock::given(method("GET"))
        .and(path("/users/"))
        .and(query_param("email", "u@example.com"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": [{"id": 31337}]})))
        .expect(1)
        .mount(&server)
        .await;
    // The retry waits for its backoff; once due, it succeeds.
    assert_eq!(app.drain_jobs().await, 0);
    Query::new("UPDATE jobs SET run_at = $1")
        .bind(kadro::http::time::now())
        .execute(&app.state.db)
        .await
        .unwrap();
    assert_eq!(app.drain_jobs().await, 1);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM users WHERE id = {user} AND remote_id = 31337"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM jobs WHERE status = 'done'")
            .await,
        1
    );
    server.verify().await;
}

async fn division_deactivation_syncs_in_background(backend: Backend) {
    let server = MockServer::start().await;
    let Some(app) = commerce_app(backend, &server.uri()).await else {
        return;
    };
    let division = create_division(&app, "Main", "main", None).await;
    let other = create_division(&app, "Other", "main", None).await;
    for (i, d) in [division, division, division, other]
        .into_iter()
        .enumerate()
    {
        registered_user(
            &app,
            &server,
            d,
            &format!("u{i}@example.com"),
            500 + i as i64,
        )
        .await;
    }
    // A user Commerce does not know (no remote id yet) is deactivated here only: no job.
    let unknown: i64 = Query::new(
        "INSERT INTO users (email, division_id, is_active, date_joined) \
         VALUES ('unknown@example.com', $1, TRUE, $2) RETURNING id",
    )
    .bind(division)
    .bind(kadro::http::time::now())
    .scalar(&app.state.db)
    .await
    .unwrap();
    // The request itself makes no Commerce call.
    let (status, _) = app
        .post(
            &format!("/api/v1/divisions/{division}/deactivate/"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.method.as_str() == "PATCH")
            .count(),
        0
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM jobs WHERE kind = 'commerce.sync_active'")
            .await,
        3
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM users WHERE id = {unknown} AND is_active = FALSE"
        ))
        .await,
        1
    );
    for remote_id in 500..503 {
        Mock::given(method("PATCH"))
            .and(path(format!("/users/{remote_id}/")))
            .and(body_json(json!({"is_active": false})))
            .respond_with(ResponseTemplate::new(200))
            .expect(1)
            .mount(&server)
            .await;
    }
    assert_eq!(app.drain_jobs().await, 3);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM jobs WHERE status = 'done'")
            .await,
        3
    );
    server.verify().await;
}

mod every_failure {
    use super::*;

    per_backend!(each_call_fails_cleanly_on_errors_timeout_and_refused);

    /// How Commerce fails.
    #[derive(Clone, Copy, Debug)]
    enum Failure {
        Status400,
        Status500,
        Timeout,
        Refused,
    }

    /// Every Commerce call of a request (update, activate, deactivate) and of the background
    /// lookup, against each way Commerce can fail: 502 and nothing changed.
    async fn each_call_fails_cleanly_on_errors_timeout_and_refused(backend: Backend) {
        for failure in [
            Failure::Status400,
            Failure::Status500,
            Failure::Timeout,
            Failure::Refused,
        ] {
            let server = MockServer::start().await;
            let url = match failure {
                Failure::Refused => {
                    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                    let url = format!("http://{}", free.local_addr().unwrap());
                    drop(free);
                    url
                }
                Failure::Status400 | Failure::Status500 => {
                    let status = if matches!(failure, Failure::Status400) {
                        400
                    } else {
                        500
                    };
                    let answer =
                        ResponseTemplate::new(status).set_body_json(json!({"email": ["taken"]}));
                    Mock::given(wiremock::matchers::any())
                        .respond_with(answer)
                        .mount(&server)
                        .await;
                    server.uri()
                }
                Failure::Timeout => {
                    Mock::given(wiremock::matchers::any())
                        .respond_with(
                            ResponseTemplate::new(200)
                                .set_body_json(json!({}))
                                .set_delay(Duration::from_secs(3)),
                        )
                        .mount(&server)
                        .await;
                    server.uri()
                }
            };
            // Only the timeout case needs a short timeout (the fake answers after 3 s).
            let timeout_ms = if matches!(failure, Failure::Timeout) {
                400
            } else {
                10_000
            };
            let Some(app) = commerce_app_with_timeout(backend, &url, timeout_ms).await else {
                return;
            };
            let division = create_division(&app, "Main", "main", None).await;
            // A linked user and an inactive linked user, written directly (creating them would call Commerce).
            let mut ids = Vec::new();
            for (email, active) in [("on@example.com", true), ("off@example.com", false)] {
                let id: i64 = Query::new(
                    "INSERT INTO users (email, first_name, division_id, is_active, remote_id, date_joined) \
                     VALUES ($1, 'Before', $2, $3, 77, $4) RETURNING id",
                )
                .bind(email)
                .bind(division)
                .bind(active)
                .bind(kadro::http::time::now())
                .scalar(&app.state.db)
                .await
                .unwrap();
                ids.push(id);
            }
            let (on, off) = (ids[0], ids[1]);
            let before = snapshot(&app).await;
            let token = app.token.clone();
            let requests = [
                (
                    Method::PUT,
                    format!("/api/v1/users/{on}/"),
                    Some(json!({"first_name": "After"})),
                ),
                (
                    Method::PATCH,
                    format!("/api/v1/users/{off}/"),
                    Some(json!({"first_name": "After"})),
                ),
                (
                    Method::POST,
                    format!("/api/v1/users/{on}/deactivate/"),
                    None,
                ),
                (Method::POST, format!("/api/v1/users/{off}/activate/"), None),
                (
                    Method::POST,
                    "/api/v1/users/".to_owned(),
                    Some(user_body(division, "new@example.com")),
                ),
            ];
            for (method, path, body) in requests {
                let (status, answer) = app.call(method.clone(), &path, Some(&token), body).await;
                assert_eq!(
                    (status, answer),
                    (
                        StatusCode::BAD_GATEWAY,
                        json!({
                            "detail": "The Commerce platform could not be reached or refused the request.",
                            "code": "api_connection_error"
                        })
                    ),
                    "{failure:?} {method} {path}"
                );
                assert_eq!(snapshot(&app).await, before, "{failure:?} {method} {path}");
            }
            // The background lookup fails, stays queued for a retry, and changes nothing.
            Query::new("UPDATE users SET remote_id = NULL WHERE id = $1")
                .bind(on)
                .execute(&app.state.db)
                .await
                .unwrap();
            let (status, _) = app
                .post(&format!("/api/v1/users/{on}/update_remote_id/"), json!({}))
                .await;
            assert_eq!(status, StatusCode::OK);
            app.drain_jobs().await;
            assert_eq!(
                app.count("SELECT COUNT(*) FROM jobs WHERE status = 'queued' AND attempts = 1")
                    .await,
                1,
                "{failure:?}"
            );
            assert_eq!(
                app.count(&format!(
                    "SELECT COUNT(*) FROM users WHERE id = {on} AND remote_id IS NULL"
                ))
                .await,
                1
            );
        }
    }
}
