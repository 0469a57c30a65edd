//! What the operator's settings change, seen over HTTP: the public URL in every absolute link,
//! the password length, the export lifetime, the signing key kept across restarts, `/readyz`
//! with the database down, and export keys kept private between Instore staffs.

use chrono::{DateTime, Utc};
use kadro::app::App;
use kadro::db::Query;
use kadro::http::time;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::exports::{export_status, start_export};
use crate::helpers::{Backend, TestApp, create_b2b_staff, test_config, until, within};
use crate::instore_support::{geo, group, staff, staff_token, store};
use crate::{on_both_backends, per_backend};

per_backend!(
    public_url_makes_every_absolute_link,
    password_min_length_is_the_configured_one,
    export_lifetime_is_the_configured_one,
);
on_both_backends!(
    signing_key_survives_a_restart,
    readyz_reports_a_database_that_is_down,
    instore_export_keys_are_private_to_their_staff,
);

const PUBLIC: &str = "https://directory.example.com";

async fn public_url_makes_every_absolute_link(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.public_url = Some(PUBLIC.into())).await
    else {
        return;
    };
    for n in 0..3 {
        create_b2b_staff(&app.state, &format!("s{n}@example.com"), false, None).await;
    }
    let (_, first) = app.get("/api/v1/staff-users/?limit=2").await;
    assert_eq!(
        first["next"],
        json!(format!("{PUBLIC}/api/v1/staff-users/?limit=2&page=2"))
    );
    let (_, second) = app.get("/api/v1/staff-users/?limit=2&page=2").await;
    assert_eq!(
        second["previous"],
        json!(format!("{PUBLIC}/api/v1/staff-users/?limit=2"))
    );
    let key = start_export(&app, "fields=id&format=csv").await;
    app.drain_jobs().await;
    let (_, status) = export_status(&app, &key).await;
    let url = status["url"].as_str().expect("download url");
    assert!(url.starts_with(&format!("{PUBLIC}/export_file/")), "{url}");
    // The link works once the public prefix is mapped back to this server.
    let local = url.replacen(PUBLIC, &app.base, 1);
    assert_eq!(
        app.client.get(local).send().await.unwrap().status(),
        StatusCode::OK
    );
}

async fn password_min_length_is_the_configured_one(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.password_min_length = 20).await else {
        return;
    };
    let g = geo(&app).await;
    let shop = store(&app, g.township, "Shop").await;
    let body = |email: &str, password: &str| {
        json!({
            "retail_stores": [shop], "first_name": "A", "last_name": "B", "email": email,
            "password": password, "remote_id": email, "permission_groups": [],
        })
    };
    let twenty = "kadro-long-pass-1234";
    assert_eq!(twenty.len(), 20);
    let (status, refused) = app
        .post("/api/v1/staffs/", body("short@example.com", &twenty[1..]))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(
        refused["password"],
        json!(["This password is too short. It must contain at least 20 characters."])
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM staffs").await, 0);
    let (status, made) = app
        .post("/api/v1/staffs/", body("long@example.com", twenty))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    // The default is Django's 8.
    let Some(default) = TestApp::spawn(backend).await else {
        return;
    };
    assert_eq!(default.state.config.password_min_length, 8);
}

async fn export_lifetime_is_the_configured_one(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.export_ttl_seconds = 90).await else {
        return;
    };
    let before = time::now();
    let key = start_export(&app, "fields=id&format=csv").await;
    let after = time::now();
    let expires: DateTime<Utc> = Query::new("SELECT expires_at FROM exports WHERE cache_key = $1")
        .bind(&key)
        .scalar(&app.state.db)
        .await
        .unwrap();
    let ttl = chrono::Duration::seconds(90);
    assert!(
        before + ttl <= expires && expires <= after + ttl,
        "expires {expires}, requested between {before} and {after}"
    );
    app.drain_jobs().await;
    let (_, status) = export_status(&app, &key).await;
    let url = status["url"].as_str().unwrap();
    let link_expiry: i64 = url
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("expires="))
        .expect("expires in the link")
        .parse()
        .unwrap();
    assert_eq!(link_expiry, expires.timestamp());
}

/// Without `KADRO_SECRET_KEY`, the key made at the first start is kept in the database: a
/// download link signed before a restart still works after it.
async fn signing_key_survives_a_restart(app: TestApp) {
    let key = start_export(&app, "fields=id&format=csv").await;
    app.drain_jobs().await;
    let (_, status) = export_status(&app, &key).await;
    let url = status["url"].as_str().unwrap().to_owned();
    let path_and_query = url.strip_prefix(&app.base).expect("a link to this server");

    let restarted = App::build(test_config(&app.db.url, &app.export_dir.0))
        .await
        .expect("restart");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let server = tokio::spawn(restarted.serve(listener, stop.clone()));
    let response = app
        .client
        .get(format!("{base}{path_and_query}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // A link signed with another key is refused by the same server.
    let forged = path_and_query.replacen("signature=", "signature=0", 1);
    let response = app
        .client
        .get(format!("{base}{forged}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    stop.cancel();
    within("the restarted process stops", server)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        app.count("SELECT COUNT(*) FROM settings WHERE key = 'secret_key'")
            .await,
        1
    );
}

async fn readyz_reports_a_database_that_is_down(app: TestApp) {
    let ready = |app: &TestApp| {
        let request = app.client.get(app.url("/readyz"));
        async move {
            let response = request.send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    };
    assert_eq!(
        ready(&app).await,
        (StatusCode::OK, json!({"status": "ready"}))
    );
    match app.db.postgres_admin() {
        // PostgreSQL: the database refuses connections and the open ones are cut.
        Some((admin_url, name)) => {
            let admin = sqlx::PgPool::connect(admin_url).await.unwrap();
            let refuse = format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false");
            sqlx::query(&refuse).execute(&admin).await.unwrap();
            sqlx::query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            )
            .bind(name)
            .execute(&admin)
            .await
            .unwrap();
            assert_eq!(
                ready(&app).await,
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({"status": "database unreachable"})
                )
            );
            // /healthz does not depend on the database.
            let (status, _) = app.call(Method::GET, "/healthz", None, None).await;
            assert_eq!(status, StatusCode::OK);
            let allow = format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true");
            sqlx::query(&allow).execute(&admin).await.unwrap();
            admin.close().await;
            // Back once the database is.
            let app = &app;
            until("ready again", || async move {
                ready(app).await.0 == StatusCode::OK
            })
            .await;
        }
        // SQLite: the pool is gone.
        None => {
            app.state.db.close().await;
            assert_eq!(
                ready(&app).await,
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({"status": "database unreachable"})
                )
            );
        }
    }
}

async fn instore_export_keys_are_private_to_their_staff(app: TestApp) {
    let g = geo(&app).await;
    let shop = store(&app, g.township, "Shop").await;
    let readers = group(&app, "Readers", &[("instore:staff-list", "GET")]).await;
    let alice = staff(&app, "alice@example.com", None, &[shop], &[readers]).await;
    let bob = staff(&app, "bob@example.com", None, &[shop], &[readers]).await;
    let (alice, bob) = (staff_token(&app, alice).await, staff_token(&app, bob).await);
    let (status, started) = app
        .call(
            Method::GET,
            "/api/v1/staffs/?fields=id&fields=email&format=csv",
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let key = started["cache_key"].as_str().unwrap();
    let status_path = format!("/api/v1/staffs/?status_cache_key={key}");
    let (status, own) = app
        .call(Method::GET, &status_path, Some(&alice), None)
        .await;
    assert_eq!(
        (status, &own["status"]),
        (StatusCode::OK, &json!("waiting"))
    );
    // Another staff with the same permission does not learn the key exists.
    let (status, other) = app.call(Method::GET, &status_path, Some(&bob), None).await;
    assert_eq!(
        (status, other),
        (StatusCode::NOT_FOUND, json!({"detail": "Not found."}))
    );
    // A B2B superuser sees every key.
    let (status, _) = app.get(&status_path).await;
    assert_eq!(status, StatusCode::OK);
}
