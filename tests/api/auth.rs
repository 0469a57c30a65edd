//! Token and bearer auth, 401/403 shapes, login and logout.

use kadro::auth::password::hash_now;
use kadro::db::Query;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, create_b2b_staff};
use crate::on_both_backends;

on_both_backends!(
    token_and_bearer_schemes_both_work,
    missing_and_bad_tokens_get_401_with_www_authenticate,
    deactivated_account_token_is_rejected,
    login_then_logout,
    login_failures_look_alike,
    login_bad_input,
    service_token_acts_as_superuser,
    non_superuser_gets_403_shape,
);

async fn token_and_bearer_schemes_both_work(app: TestApp) {
    for scheme in ["Token", "Bearer", "token", "bearer"] {
        let response = app
            .client
            .get(app.url("/api/v1/auth/me/"))
            .header("Authorization", format!("{scheme} {}", app.token))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "scheme {scheme}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["email"], "root@example.com");
        assert_eq!(body["account_type"], "user");
        assert_eq!(body["is_superuser"], true);
        assert!(body.get("password").is_none() && body.get("password_hash").is_none());
    }
}

async fn missing_and_bad_tokens_get_401_with_www_authenticate(app: TestApp) {
    let cases: [(Option<&str>, &str); 5] = [
        (None, "Authentication credentials were not provided."),
        (Some("Token nope"), "Invalid token."),
        (
            Some("Bearer 0123456789012345678901234567890123456789"),
            "Invalid token.",
        ),
        (
            Some("Token"),
            "Invalid token header. No credentials provided.",
        ),
        (
            Some("Basic dXNlcjpwYXNz"),
            "Authentication credentials were not provided.",
        ),
    ];
    for (header, detail) in cases {
        let mut req = app.client.get(app.url("/api/v1/auth/me/"));
        if let Some(h) = header {
            req = req.header("Authorization", h);
        }
        let response = req.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{header:?}");
        assert_eq!(response.headers()["www-authenticate"], "Token");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body, json!({ "detail": detail }), "{header:?}");
    }
}

async fn deactivated_account_token_is_rejected(app: TestApp) {
    let (id, token) = create_b2b_staff(&app.state, "temp@example.com", false, None).await;
    let (status, _) = app
        .call(Method::GET, "/api/v1/auth/me/", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    Query::new("UPDATE users SET is_active = FALSE WHERE id = $1")
        .bind(id)
        .execute(&app.state.db)
        .await
        .unwrap();
    let (status, body) = app
        .call(Method::GET, "/api/v1/auth/me/", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, json!({ "detail": "User inactive or deleted." }));
}

pub async fn set_password(app: &TestApp, email: &str, password: &str) {
    Query::new("UPDATE users SET password_hash = $1 WHERE email = $2")
        .bind(hash_now(password).unwrap())
        .bind(email)
        .execute(&app.state.db)
        .await
        .unwrap();
}

async fn login_then_logout(app: TestApp) {
    set_password(&app, "root@example.com", "s3cret-enough").await;
    // Email is compared case-insensitively.
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/auth/login/",
            None,
            Some(json!({"email": "ROOT@example.com", "password": "s3cret-enough"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 40);
    assert_eq!(body["user"]["email"], "root@example.com");
    assert!(body["user"]["last_login"].is_string());
    // Only a hash of the token is stored.
    let plain: i64 = Query::new("SELECT COUNT(*) FROM api_tokens WHERE key_hash = $1")
        .bind(token.clone())
        .scalar(&app.state.db)
        .await
        .unwrap();
    assert_eq!(plain, 0);
    let (status, me) = app
        .call(Method::GET, "/api/v1/auth/me", Some(&token), None)
        .await;
    assert_eq!(
        (status, me["email"].clone()),
        (StatusCode::OK, json!("root@example.com"))
    );
    let (status, body) = app
        .call(Method::POST, "/api/v1/auth/logout/", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({ "detail": "Successfully logged out." }));
    let (status, _) = app
        .call(Method::GET, "/api/v1/auth/me/", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The harness token still works: logout revokes only the presented token.
    assert_eq!(app.get("/api/v1/auth/me/").await.0, StatusCode::OK);
}

async fn login_failures_look_alike(app: TestApp) {
    set_password(&app, "root@example.com", "s3cret-enough").await;
    let (id, _) = create_b2b_staff(&app.state, "gone@example.com", false, None).await;
    set_password(&app, "gone@example.com", "s3cret-enough").await;
    Query::new("UPDATE users SET is_active = FALSE WHERE id = $1")
        .bind(id)
        .execute(&app.state.db)
        .await
        .unwrap();
    let tokens_before = app.count("SELECT COUNT(*) FROM api_tokens").await;
    let expected = json!({ "non_field_errors": ["Unable to log in with provided credentials."] });
    for (email, password) in [
        ("root@example.com", "wrong-password"),
        ("nobody@example.com", "s3cret-enough"),
        ("gone@example.com", "s3cret-enough"),
    ] {
        let (status, body) = app
            .call(
                Method::POST,
                "/api/v1/auth/login/",
                None,
                Some(json!({"email": email, "password": password})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{email}");
        assert_eq!(body, expected, "{email}");
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM api_tokens").await,
        tokens_before
    );
}

async fn login_bad_input(app: TestApp) {
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/auth/login/",
            None,
            Some(json!({"email": "a@b.c"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({ "password": ["This field is required."] }));
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/auth/login/",
            None,
            Some(json!({"email": 5, "password": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({ "email": ["Not a valid string."] }));
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/auth/login/",
            None,
            Some(json!({"email": "' OR 1=1 --", "password": "' OR ''='"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({ "non_field_errors": ["Unable to log in with provided credentials."] })
    );
}

async fn service_token_acts_as_superuser(app: TestApp) {
    let backend = app.backend;
    drop(app);
    let app = TestApp::spawn_with(backend, |c| {
        c.service_tokens = vec![kadro::config::Secret::new(
            "omnitron-service-token-0123456789",
        )]
    })
    .await
    .unwrap();
    let (status, body) = app
        .call(
            Method::GET,
            "/api/v1/auth/me/",
            Some("omnitron-service-token-0123456789"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({ "account_type": "service", "is_superuser": true })
    );
    let (status, _) = app
        .call(
            Method::GET,
            "/api/v1/staff-users/",
            Some("omnitron-service-token-0123456789"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

async fn non_superuser_gets_403_shape(app: TestApp) {
    let (_, token) = create_b2b_staff(&app.state, "plain@example.com", false, None).await;
    let (status, body) = app
        .call(Method::GET, "/api/v1/staff-users/", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body,
        json!({ "detail": "You do not have permission to perform this action." })
    );
}

mod cached {
    use std::time::{Duration, Instant};

    use kadro::db::{Db, DbOptions};

    use super::*;
    use crate::helpers::{Backend, until};
    use crate::per_backend;

    per_backend!(auth_cache_forgets_what_a_write_may_have_changed);

    async fn set_active(db: &Db, id: i64, active: bool) {
        Query::new("UPDATE users SET is_active = $1 WHERE id = $2")
            .bind(active)
            .bind(id)
            .execute(db)
            .await
            .unwrap();
    }

    async fn auth_cache_forgets_what_a_write_may_have_changed(backend: Backend) {
        let Some(app) = TestApp::spawn_with(backend, |c| c.auth_cache_ms = 60_000).await else {
            return;
        };
        until("the cache is in use", || async {
            app.state.auth_cache.is_live()
        })
        .await;
        let division = crate::b2b_divisions::create_division(&app, "Main", "main", None).await;
        let (staff, token) =
            create_b2b_staff(&app.state, "cached@example.com", false, Some(division)).await;
        let status = || async {
            app.call(Method::GET, "/api/v1/users/", Some(&token), None)
                .await
                .0
        };
        assert_eq!(status().await, StatusCode::OK);
        // Another process's change (a pool of its own) that no node hears of stays unseen while
        // the entry lives: the cache is in use.
        let other = Db::connect(&app.db.url, &DbOptions::default())
            .await
            .unwrap();
        if backend == Backend::Postgres {
            Query::new("ALTER TABLE users DISABLE TRIGGER users_auth_changed")
                .execute(&other)
                .await
                .unwrap();
        }
        set_active(&other, staff, false).await;
        assert_eq!(status().await, StatusCode::OK);
        if backend == Backend::Postgres {
            Query::new("ALTER TABLE users ENABLE TRIGGER users_auth_changed")
                .execute(&other)
                .await
                .unwrap();
            set_active(&other, staff, true).await;
            assert_eq!(status().await, StatusCode::OK);
            // On PostgreSQL another process's deactivation is heard (NOTIFY) at once.
            set_active(&other, staff, false).await;
            let started = Instant::now();
            until("the deactivation is heard", || async {
                status().await == StatusCode::UNAUTHORIZED
            })
            .await;
            assert!(started.elapsed() < Duration::from_secs(1));
            set_active(&app.state.db, staff, true).await;
        }
        other.close().await;
        // Any successful write through this process forgets every cached caller...
        let (status_code, _) = app
            .post(
                "/api/v1/divisions/",
                json!({"name": "Other", "division_type": "main"}),
            )
            .await;
        assert_eq!(status_code, StatusCode::CREATED);
        if backend == Backend::Sqlite {
            assert_eq!(status().await, StatusCode::UNAUTHORIZED);
            set_active(&app.state.db, staff, true).await;
        }
        // ...and so does any write through its pool, with no request involved.
        assert_eq!(status().await, StatusCode::OK);
        set_active(&app.state.db, staff, false).await;
        let (code, body) = app
            .call(Method::GET, "/api/v1/users/", Some(&token), None)
            .await;
        assert_eq!(
            (code, body),
            (
                StatusCode::UNAUTHORIZED,
                json!({"detail": "User inactive or deleted."})
            )
        );
        // Deactivation through the API takes effect on the very next request.
        let user = crate::b2b_users::create_user(&app, division, "u@example.com").await;
        Query::new("UPDATE users SET is_staff = TRUE WHERE id = $1")
            .bind(user)
            .execute(&app.state.db)
            .await
            .unwrap();
        let mut tx = app.state.db.begin().await.unwrap();
        let user_token = kadro::auth::token::issue(&mut tx, kadro::auth::AccountKind::User, user)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            app.call(Method::GET, "/api/v1/auth/me/", Some(&user_token), None)
                .await
                .0,
            StatusCode::OK
        );
        let (code, _) = app
            .post(&format!("/api/v1/users/{user}/deactivate/"), json!({}))
            .await;
        assert_eq!(code, StatusCode::OK);
        assert_eq!(
            app.call(Method::GET, "/api/v1/auth/me/", Some(&user_token), None)
                .await
                .0,
            StatusCode::UNAUTHORIZED
        );
    }
}

mod listener {
    use kadro::db::{Db, DbOptions};

    use super::*;
    use crate::helpers::{Backend, until};

    /// PostgreSQL only: the connection that hears other nodes' changes is cut; the node drops
    /// its whole cache (it may have missed a notification) and listens again.
    #[cfg_attr(
        not(kadro_pg),
        ignore = "KADRO_TEST_DATABASE_URL was not set when the tests were built"
    )]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lost_listener_drops_the_cache_and_reconnects() {
        let Some(app) = TestApp::spawn_with(Backend::Postgres, |c| c.auth_cache_ms = 60_000).await
        else {
            return;
        };
        until("listening", || async { app.state.auth_cache.is_live() }).await;
        let (staff, token) = create_b2b_staff(&app.state, "heard@example.com", false, None).await;
        let me = || async {
            app.call(Method::GET, "/api/v1/auth/me/", Some(&token), None)
                .await
                .0
        };
        assert_eq!(me().await, StatusCode::OK);
        // A change no node hears of: the cached caller stays.
        let other = Db::connect(&app.db.url, &DbOptions::default())
            .await
            .unwrap();
        for sql in [
            "ALTER TABLE users DISABLE TRIGGER users_auth_changed",
            "UPDATE users SET is_active = FALSE WHERE id = $1",
            "ALTER TABLE users ENABLE TRIGGER users_auth_changed",
        ] {
            let mut query = Query::new(sql);
            if sql.contains("$1") {
                query = query.bind(staff);
            }
            query.execute(&other).await.unwrap();
        }
        assert_eq!(me().await, StatusCode::OK);
        // The listener's connection is cut: whatever it may have missed, the cache goes.
        let cut: i64 = Query::new(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN %'",
        )
        .scalar(&other)
        .await
        .unwrap();
        assert_eq!(cut, 1);
        until("the cache is dropped", || async {
            me().await == StatusCode::UNAUTHORIZED
        })
        .await;
        until("listening again", || async {
            app.state.auth_cache.is_live()
        })
        .await;
        other.close().await;
    }
}
