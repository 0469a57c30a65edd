//! Faults around the Commerce platform: a hanging Commerce slows only the requests that need
//! it, the circuit breaker fails fast and recovers, a registration left half-done by a crash is
//! settled by its recovery job, and the last superuser survives racing demotions and
//! deactivations.

use std::time::{Duration, Instant};

use kadro::b2b::users::service::{self, Reserved};
use kadro::b2b::users::store::{NewUser, UserScope};
use kadro::db::Query;
use reqwest::{Method, StatusCode};
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::auth::set_password;
use crate::b2b_divisions::create_division;
use crate::b2b_users::user_body;
use crate::helpers::{Backend, TestApp, create_b2b_staff};
use crate::per_backend;

per_backend!(
    hanging_commerce_stalls_only_its_own_requests,
    breaker_opens_after_failures_and_closes_after_a_success,
    crashed_registration_is_settled_by_its_recovery_job,
    last_superuser_survives_racing_demotion_and_deactivation,
);

/// Waits until the fake has received `n` requests; fails after a deadline instead of hanging.
async fn wait_for_requests(server: &MockServer, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let received = server.received_requests().await.map_or(0, |r| r.len());
        if received >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "Commerce got {received} of {n} calls"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// While every Commerce call hangs (more of them than the pool has connections), unrelated
/// writes, logins, job claims and `/readyz` answer at once: no connection and no SQLite writer
/// turn is held across a Commerce call. The test does not wait for the hanging calls.
async fn hanging_commerce_stalls_only_its_own_requests(backend: Backend) {
    let commerce = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(120)))
        .mount(&commerce)
        .await;
    let url = commerce.uri();
    let Some(app) = TestApp::spawn_with(backend, move |c| {
        c.commerce_url = Some(url);
        c.commerce_timeout_ms = 60_000;
        c.commerce_max_in_flight = 16;
    })
    .await
    else {
        return;
    };
    let division = create_division(&app, "Main", "main", None).await;
    set_password(&app, "root@example.com", "s3cret-enough").await;
    let hanging = 12; // more than the test pool's 8 connections
    let mut creates = tokio::task::JoinSet::new();
    for i in 0..hanging {
        let (client, url, token) = (
            app.client.clone(),
            app.url("/api/v1/users/"),
            app.token.clone(),
        );
        creates.spawn(async move {
            let body = user_body(division, &format!("hang{i}@example.com"));
            let _ = client
                .post(url)
                .header("Authorization", format!("Token {token}"))
                .json(&body)
                .send()
                .await;
        });
    }
    wait_for_requests(&commerce, hanging).await;

    let started = Instant::now();
    create_division(&app, "Unrelated", "main", None).await;
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/auth/login/",
            None,
            Some(json!({"email": "root@example.com", "password": "s3cret-enough"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(status, StatusCode::OK);
    app.drain_jobs().await;
    let (status, _) = app.get("/api/v1/users/?limit=5").await;
    assert_eq!(status, StatusCode::OK);
    // Well within the Commerce timeout (60 s): nothing waited for Commerce.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    // The reserved users are invisible while their registration hangs.
    let (_, list) = app.get("/api/v1/users/").await;
    assert_eq!(list["count"], 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE registering = TRUE")
            .await,
        hanging as i64
    );
    creates.abort_all();
}

/// After the configured consecutive failures the breaker opens: writes that need Commerce
/// answer 502 without calling it; once the cool-down has passed, a successful trial call
/// closes it again. `/metrics` shows its state.
async fn breaker_opens_after_failures_and_closes_after_a_success(backend: Backend) {
    let commerce = MockServer::start().await;
    let url = commerce.uri();
    let Some(app) = TestApp::spawn_with(backend, move |c| {
        c.commerce_url = Some(url);
        c.commerce_timeout_ms = 5_000;
        c.commerce_breaker_failures = 3;
        c.commerce_breaker_cooldown_ms = 300;
    })
    .await
    else {
        return;
    };
    let division = create_division(&app, "Main", "main", None).await;
    let failing = Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(503))
        .mount_as_scoped(&commerce)
        .await;
    let user = |i: usize| user_body(division, &format!("u{i}@example.com"));
    for i in 0..3 {
        let (status, body) = app.post("/api/v1/users/", user(i)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::BAD_GATEWAY, Some("api_connection_error"))
        );
    }
    assert_eq!(failing.received_requests().await.len(), 3);
    let (_, metrics) = app.call(Method::GET, "/metrics", None, None).await;
    assert!(
        metrics
            .as_str()
            .unwrap()
            .contains("kadro_commerce_breaker_open 1"),
        "{metrics}"
    );
    // Open: answered at once, Commerce not called.
    let started = Instant::now();
    let (status, _) = app.post("/api/v1/users/", user(3)).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(failing.received_requests().await.len(), 3);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE email LIKE 'u%'")
            .await,
        0
    );
    drop(failing);

    Mock::given(method("POST"))
        .and(path("/users/registration"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 501})))
        .mount(&commerce)
        .await;
    // Waiting longer than the cool-down can only make the trial call more certain.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (status, body) = app.post("/api/v1/users/", user(4)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = app.post("/api/v1/users/", user(5)).await;
    assert_eq!(status, StatusCode::OK);
    let (_, metrics) = app.call(Method::GET, "/metrics", None, None).await;
    assert!(
        metrics
            .as_str()
            .unwrap()
            .contains("kadro_commerce_breaker_open 0"),
        "{metrics}"
    );
}

/// A crash between the reservation of a new user and its confirmation leaves a reserved row
/// that no request shows; its recovery job asks Commerce and confirms the user (Commerce has
/// it) or removes it (Commerce has not).
async fn crashed_registration_is_settled_by_its_recovery_job(backend: Backend) {
    let commerce = MockServer::start().await;
    let url = commerce.uri();
    let Some(app) = TestApp::spawn_with(backend, move |c| {
        c.commerce_url = Some(url);
    })
    .await
    else {
        return;
    };
    let division = create_division(&app, "Main", "main", None).await;
    let mut reserved = Vec::new();
    for email in ["kept@example.com", "lost@example.com"] {
        let new = NewUser {
            email,
            password_hash: "",
            first_name: "First",
            last_name: "Last",
            phone_number: "",
            division_id: division,
            shop_token: "shop",
        };
        // Step one of a create, then the process "dies": register() never runs.
        match service::reserve(&app.state, UserScope::All, &new)
            .await
            .unwrap()
        {
            Reserved::New {
                id,
                recovery: Some(_),
            } => reserved.push(id),
            _ => panic!("not reserved"),
        }
    }
    let (kept, lost) = (reserved[0], reserved[1]);
    for id in [kept, lost] {
        let (status, _) = app.get(&format!("/api/v1/users/{id}/")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    // The email stays taken while reserved.
    let (status, body) = app
        .post("/api/v1/users/", user_body(division, "kept@example.com"))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("user_already_exists"))
    );
    // Not due before every call of the dead request has surely ended.
    assert_eq!(app.drain_jobs().await, 0);

    Mock::given(method("GET"))
        .and(path("/users/"))
        .and(query_param("email", "kept@example.com"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": [{"id": 9001}]})))
        .mount(&commerce)
        .await;
    Mock::given(method("GET"))
        .and(path("/users/"))
        .and(query_param("email", "lost@example.com"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": []})))
        .mount(&commerce)
        .await;
    Query::new("UPDATE jobs SET run_at = $1")
        .bind(kadro::http::time::now())
        .execute(&app.state.db)
        .await
        .unwrap();
    assert_eq!(app.drain_jobs().await, 2);
    let (status, body) = app.get(&format!("/api/v1/users/{kept}/")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["remote_id"], 9001);
    assert_eq!(
        app.count(&format!("SELECT COUNT(*) FROM users WHERE id = {lost}"))
            .await,
        0
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE registering = TRUE")
            .await,
        0
    );
}

/// Two superusers; in each round one is demoted while the other is deactivated, at the same
/// time. Whatever the interleaving, an active superuser remains, and the refused request says
/// why.
async fn last_superuser_survives_racing_demotion_and_deactivation(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.service_tokens = vec![kadro::config::Secret::new("service-token")];
    })
    .await
    else {
        return;
    };
    let root: i64 = app
        .count("SELECT id FROM users WHERE email = 'root@example.com'")
        .await;
    for round in 0..10 {
        let (other, _) =
            create_b2b_staff(&app.state, &format!("su{round}@example.com"), true, None).await;
        let (demote_path, deactivate_path) = (
            format!("/api/v1/staff-users/{root}/"),
            format!("/api/v1/users/{other}/deactivate/"),
        );
        let demote = app.call(
            Method::PATCH,
            &demote_path,
            Some("service-token"),
            Some(json!({"is_superuser": false})),
        );
        let deactivate = app.call(Method::POST, &deactivate_path, Some("service-token"), None);
        let ((s1, b1), (s2, b2)) = tokio::join!(demote, deactivate);
        let remaining = app
            .count("SELECT COUNT(*) FROM users WHERE is_superuser = TRUE AND is_active = TRUE")
            .await;
        assert_eq!(remaining, 1, "round {round}: {s1} {b1} / {s2} {b2}");
        assert!(
            s1 == StatusCode::OK || s2 == StatusCode::OK,
            "round {round}: one of them passes"
        );
        // Put root back as the only superuser for the next round.
        Query::new("UPDATE users SET is_superuser = TRUE, is_active = TRUE WHERE id = $1")
            .bind(root)
            .execute(&app.state.db)
            .await
            .unwrap();
        Query::new("UPDATE users SET is_superuser = FALSE WHERE id = $1")
            .bind(other)
            .execute(&app.state.db)
            .await
            .unwrap();
    }
    // Alone, the last superuser can be neither deactivated nor demoted.
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/users/{root}/deactivate/"),
            Some("service-token"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"detail": "The last active superuser cannot be deactivated."})
    );
}
