//! Brute-force protection of both logins: the per-account lockout (kept in the database, safe
//! under parallel attempts), the per-address rate limit (429), and unlocking.

use kadro::auth::housekeeping::{self, Tidied};
use kadro::auth::lockout;
use kadro::config::Config;
use kadro::db::Query;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::auth::set_password;
use crate::helpers::{Backend, TestApp, create_b2b_staff};
use crate::instore_support::{PASSWORD, geo, login as staff_login, staff, staff_token, store};
use crate::process::kadro_args;
use crate::{on_both_backends, per_backend};

on_both_backends!(failed_logins_keep_the_token_cache);

per_backend!(
    lockout_refuses_even_the_right_password_and_a_success_resets,
    locked_wrong_and_unknown_answer_alike_at_the_same_cost,
    fifty_parallel_attempts_check_at_most_the_limit,
    parallel_right_passwords_all_sign_in,
    staff_login_locks_and_unlocks_too,
    addresses_are_rate_limited_with_retry_after,
    unlock_is_for_superusers_and_known_accounts,
    idle_guards_are_forgotten,
    unlock_commands_lift_locks,
);

const BAD: &str = "Unable to log in with provided credentials.";

fn bad_credentials() -> Value {
    json!({ "non_field_errors": [BAD] })
}

async fn spawn(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Option<TestApp> {
    TestApp::spawn_with(backend, |c| {
        c.login_max_failures = 3;
        c.login_lockout_seconds = 60;
        adjust(c);
    })
    .await
}

async fn login(app: &TestApp, email: &str, password: &str) -> (StatusCode, Value) {
    app.call(
        Method::POST,
        "/api/v1/auth/login/",
        None,
        Some(json!({"email": email, "password": password})),
    )
    .await
}

/// A B2B account `email` with the password "s3cret-enough"; returns its id.
async fn account(app: &TestApp, email: &str) -> i64 {
    let (id, _) = create_b2b_staff(&app.state, email, false, None).await;
    set_password(app, email, "s3cret-enough").await;
    id
}

async fn lockout_refuses_even_the_right_password_and_a_success_resets(backend: Backend) {
    let Some(app) = spawn(backend, |_| {}).await else {
        return;
    };
    let id = account(&app, "jane@example.com").await;
    // Two failures, then the right password: the count starts over.
    for _ in 0..2 {
        assert_eq!(
            login(&app, "jane@example.com", "wrong").await.0,
            StatusCode::BAD_REQUEST
        );
    }
    assert_eq!(
        login(&app, "jane@example.com", "s3cret-enough").await.0,
        StatusCode::OK
    );
    for _ in 0..2 {
        assert_eq!(
            login(&app, "jane@example.com", "wrong").await.0,
            StatusCode::BAD_REQUEST
        );
    }
    assert_eq!(
        login(&app, "jane@example.com", "s3cret-enough").await.0,
        StatusCode::OK
    );
    // Three failures in a row lock the account: the right password is refused as a wrong one.
    for _ in 0..3 {
        assert_eq!(
            login(&app, "JANE@example.com", "wrong").await.0,
            StatusCode::BAD_REQUEST
        );
    }
    let (status, body) = login(&app, "jane@example.com", "s3cret-enough").await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, bad_credentials()));
    let key = format!("user:{id}");
    let locks: i64 = Query::new("SELECT locks FROM login_guards WHERE account = $1")
        .bind(key.as_str())
        .scalar(&app.state.db)
        .await
        .unwrap();
    assert_eq!(locks, 1);
    // When the lock has run out, the right password works again and forgets everything.
    Query::new("UPDATE login_guards SET locked_until = $1 WHERE account = $2")
        .bind(chrono::Utc::now() - chrono::Duration::seconds(1))
        .bind(key.as_str())
        .execute(&app.state.db)
        .await
        .unwrap();
    assert_eq!(
        login(&app, "jane@example.com", "s3cret-enough").await.0,
        StatusCode::OK
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM login_guards").await, 0);
}

async fn locked_wrong_and_unknown_answer_alike_at_the_same_cost(backend: Backend) {
    let Some(app) = spawn(backend, |_| {}).await else {
        return;
    };
    account(&app, "jane@example.com").await;
    let hashes = || app.state.passwords.verifications();
    // A wrong password and an unknown account: the same answer, one hash each.
    for email in ["jane@example.com", "nobody@example.com"] {
        for _ in 0..3 {
            let before = hashes();
            let (status, body) = login(&app, email, "wrong").await;
            assert_eq!(
                (status, body),
                (StatusCode::BAD_REQUEST, bad_credentials()),
                "{email}"
            );
            assert_eq!(hashes() - before, 1, "{email}");
        }
    }
    // Both are locked now, the real and the unknown account alike: the same answer, no hash,
    // and no write.
    let guards = || async {
        let rows: Vec<(String, chrono::DateTime<chrono::Utc>)> =
            Query::new("SELECT account, updated_at FROM login_guards ORDER BY account")
                .fetch_all(&app.state.db)
                .await
                .unwrap();
        rows
    };
    let before_locked = guards().await;
    assert_eq!(before_locked.len(), 2);
    for (email, password) in [
        ("jane@example.com", "s3cret-enough"),
        ("nobody@example.com", "s3cret-enough"),
        ("Nobody@Example.com", "wrong"),
    ] {
        let before = hashes();
        let (status, body) = login(&app, email, password).await;
        assert_eq!(
            (status, body),
            (StatusCode::BAD_REQUEST, bad_credentials()),
            "{email}"
        );
        assert_eq!(hashes(), before, "{email}: a locked account costs no hash");
    }
    assert_eq!(guards().await, before_locked);
}

async fn fifty_parallel_attempts_check_at_most_the_limit(backend: Backend) {
    let Some(app) = spawn(backend, |c| c.login_max_failures = 5).await else {
        return;
    };
    account(&app, "jane@example.com").await;
    let before = app.state.passwords.verifications();
    let attempts = (0..50)
        .map(|i| json!({"email": "jane@example.com", "password": format!("guess-{i}")}))
        .collect();
    let answers = in_parallel(&app, "/api/v1/auth/login/", attempts).await;
    for (status, body) in answers {
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, bad_credentials()));
    }
    assert_eq!(
        app.state.passwords.verifications() - before,
        5,
        "50 parallel attempts checked exactly the 5 allowed passwords"
    );
    // And the account is locked: the right password is refused without a hash.
    let before = app.state.passwords.verifications();
    assert_eq!(
        login(&app, "jane@example.com", "s3cret-enough").await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(app.state.passwords.verifications(), before);
}

/// Many clients signing in to one account at once (a service's workers sharing it): every
/// correct password gets its token, though each success forgets the account's guard row while
/// other attempts are claiming it.
async fn parallel_right_passwords_all_sign_in(backend: Backend) {
    let Some(app) = spawn(backend, |c| c.login_max_failures = 1000).await else {
        return;
    };
    account(&app, "jane@example.com").await;
    let attempts = (0..40)
        .map(|_| json!({"email": "jane@example.com", "password": "s3cret-enough"}))
        .collect();
    let answers = in_parallel(&app, "/api/v1/auth/login/", attempts).await;
    for (status, body) in answers {
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body["token"].is_string(), "{body}");
    }
}

/// Sends every body to `path` at once, each from its own task; the answers in any order.
async fn in_parallel(app: &TestApp, path: &str, bodies: Vec<Value>) -> Vec<(StatusCode, Value)> {
    let mut set = tokio::task::JoinSet::new();
    for body in bodies {
        let request = app.client.post(app.url(path)).json(&body);
        set.spawn(async move {
            let response = request.send().await.expect("request");
            let status = response.status();
            (status, response.json::<Value>().await.expect("JSON body"))
        });
    }
    set.join_all().await
}

async fn staff_login_locks_and_unlocks_too(backend: Backend) {
    let Some(app) = spawn(backend, |_| {}).await else {
        return;
    };
    let g = geo(&app).await;
    let shop = store(&app, g.township, "Shop").await;
    let sid = staff(&app, "ok@example.com", Some("ok"), &[shop], &[]).await;
    let attempt = |password: &str, by_email: bool| {
        let name = if by_email {
            json!({"email": "ok@example.com"})
        } else {
            json!({"username": "ok"})
        };
        let mut body = name;
        body["password"] = json!(password);
        body["retail_store"] = json!(shop);
        body
    };
    let before = app.state.passwords.verifications();
    let bodies = (0..50)
        .map(|i| attempt(&format!("guess-{i}"), i % 2 == 0))
        .collect();
    let answers = in_parallel(&app, "/api/v1/staffs/login/", bodies).await;
    for (status, body) in answers {
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, bad_credentials()));
    }
    // Username and email name the same account: one lockout.
    assert_eq!(app.state.passwords.verifications() - before, 3);
    let (status, body) = staff_login(&app, attempt(PASSWORD, false)).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, bad_credentials()));
    // A superuser lifts the lock.
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/api/v1/staffs/{sid}/unlock/"),
            Some(&app.token),
            None,
        )
        .await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    let (status, body) = staff_login(&app, attempt(PASSWORD, true)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn addresses_are_rate_limited_with_retry_after(backend: Backend) {
    let Some(app) = spawn(backend, |c| {
        c.login_rate_per_minute = 3;
        c.login_max_failures = 0;
        c.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await
    else {
        return;
    };
    let attempt = |forwarded: &'static str, path: &'static str| {
        let app = &app;
        async move {
            app.client
                .post(app.url(path))
                .header("X-Forwarded-For", forwarded)
                .json(&json!({"email": "a@example.com", "password": "wrong"}))
                .send()
                .await
                .unwrap()
        }
    };
    // Both logins draw on one allowance; bad input counts too.
    assert_eq!(
        attempt("198.51.100.1", "/api/v1/auth/login/")
            .await
            .status(),
        400
    );
    assert_eq!(
        attempt("198.51.100.1", "/api/v1/staffs/login/")
            .await
            .status(),
        400
    );
    assert_eq!(
        attempt("198.51.100.1", "/api/v1/auth/login/")
            .await
            .status(),
        400
    );
    let refused = attempt("198.51.100.1", "/api/v1/auth/login/").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&wait), "{wait}");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(
        body,
        json!({"detail": format!("Request was throttled. Expected available in {wait} seconds.")})
    );
    // The proxy is trusted, so the client is the forwarded address: another one is not limited,
    // and a client cannot escape by prepending addresses of its own.
    assert_eq!(
        attempt("198.51.100.2", "/api/v1/auth/login/")
            .await
            .status(),
        400
    );
    assert_eq!(
        attempt("203.0.113.5, 198.51.100.1", "/api/v1/auth/login/")
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

async fn unlock_is_for_superusers_and_known_accounts(backend: Backend) {
    let Some(app) = spawn(backend, |_| {}).await else {
        return;
    };
    let id = account(&app, "jane@example.com").await;
    for _ in 0..3 {
        login(&app, "jane@example.com", "wrong").await;
    }
    assert_eq!(
        login(&app, "jane@example.com", "s3cret-enough").await.0,
        StatusCode::BAD_REQUEST
    );
    let (_, plain) = create_b2b_staff(&app.state, "plain@example.com", false, None).await;
    let g = geo(&app).await;
    let shop = store(&app, g.township, "Shop").await;
    let sid = staff(&app, "s@example.com", Some("s"), &[shop], &[]).await;
    let staff_tok = staff_token(&app, sid).await;
    let unlock = format!("/api/v1/users/{id}/unlock/");
    for (token, expected) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some(plain.as_str()), StatusCode::FORBIDDEN),
        (Some(staff_tok.as_str()), StatusCode::FORBIDDEN),
    ] {
        assert_eq!(
            app.call(Method::POST, &unlock, token, None).await.0,
            expected
        );
        let staff_unlock = format!("/api/v1/staffs/{sid}/unlock/");
        assert_eq!(
            app.call(Method::POST, &staff_unlock, token, None).await.0,
            expected
        );
    }
    assert_eq!(
        login(&app, "jane@example.com", "s3cret-enough").await.0,
        StatusCode::BAD_REQUEST
    );
    for path in [
        "/api/v1/users/999999/unlock/",
        "/api/v1/staffs/999999/unlock/",
    ] {
        let (status, body) = app.call(Method::POST, path, Some(&app.token), None).await;
        assert_eq!(
            (status, body),
            (StatusCode::NOT_FOUND, json!({"detail": "Not found."}))
        );
    }
    let (status, _) = app
        .call(Method::POST, &unlock, Some(&app.token), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        login(&app, "jane@example.com", "s3cret-enough").await.0,
        StatusCode::OK
    );
}

async fn idle_guards_are_forgotten(backend: Backend) {
    let Some(app) = spawn(backend, |_| {}).await else {
        return;
    };
    account(&app, "jane@example.com").await;
    for email in [
        "jane@example.com",
        "nobody@example.com",
        "ghost@example.com",
    ] {
        login(&app, email, "wrong").await;
    }
    // Lock one name far into the future: a lock in force is kept however idle.
    Query::new(
        "UPDATE login_guards SET locked_until = $1 WHERE account = 'user?ghost@example.com'",
    )
    .bind(chrono::Utc::now() + chrono::Duration::days(2))
    .execute(&app.state.db)
    .await
    .unwrap();
    let now = chrono::Utc::now();
    let tidy = |at| housekeeping::run_once(&app.state.db, None, at);
    assert_eq!(tidy(now).await.unwrap(), Tidied::default());
    let later = now + lockout::FORGET_AFTER + chrono::Duration::seconds(1);
    let tidied = tidy(later).await.unwrap();
    assert_eq!((tidied.login_guards, tidied.expired_tokens), (2, 0));
    let left: Vec<String> = Query::new("SELECT account FROM login_guards")
        .scalars(&app.state.db)
        .await
        .unwrap();
    assert_eq!(left, ["user?ghost@example.com"]);
}

async fn unlock_commands_lift_locks(backend: Backend) {
    let Some(app) = spawn(backend, |_| {}).await else {
        return;
    };
    account(&app, "jane@example.com").await;
    let g = geo(&app).await;
    let shop = store(&app, g.township, "Shop").await;
    let sid = staff(&app, "ok@example.com", Some("ok"), &[shop], &[]).await;
    let staff_attempt =
        |password: &str| json!({"username": "ok", "password": password, "retail_store": shop});
    for _ in 0..3 {
        login(&app, "jane@example.com", "wrong").await;
        staff_login(&app, staff_attempt("wrong")).await;
    }
    assert_eq!(
        login(&app, "jane@example.com", "s3cret-enough").await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        staff_login(&app, staff_attempt(PASSWORD)).await.0,
        StatusCode::BAD_REQUEST
    );

    let (code, _, stderr) = kadro_args(&app.db, &["user", "unlock", "JANE@example.com"], "");
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        login(&app, "jane@example.com", "s3cret-enough").await.0,
        StatusCode::OK
    );
    let sid = sid.to_string();
    let (code, _, stderr) = kadro_args(&app.db, &["instore", "staff", "unlock", &sid], "");
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        staff_login(&app, staff_attempt(PASSWORD)).await.0,
        StatusCode::OK
    );
    let (code, _, stderr) = kadro_args(&app.db, &["instore", "staff", "unlock", "999999"], "");
    assert_eq!((code, stderr.trim()), (1, "kadro: no staff with id 999999"));
    let (code, _, stderr) = kadro_args(&app.db, &["user", "unlock", "nobody@example.com"], "");
    assert_eq!(code, 1, "{stderr}");
}

/// The statements `GET /api/v1/auth/me/` cost, from its `Server-Timing` header.
async fn me_queries(app: &TestApp) -> u32 {
    let response = app
        .client
        .get(app.url("/api/v1/auth/me/"))
        .header("Authorization", format!("Token {}", app.token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let timing = response.headers()["server-timing"]
        .to_str()
        .unwrap()
        .to_owned();
    timing
        .strip_prefix("db;desc=\"")
        .and_then(|rest| rest.strip_suffix(" queries\""))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("server-timing {timing:?}"))
}

/// The statements of a cached `/auth/me/`, once the cache is settled: on
/// PostgreSQL it is used only after its listener is connected, and the notification of the
/// test's own setup writes may arrive late and empty it. Settled means two answers 200 ms apart
/// cost the same, fewer statements than an uncached one.
async fn settled_cache_cost(app: &TestApp) -> u32 {
    let mut cold = me_queries(app).await;
    for _ in 0..50 {
        let first = me_queries(app).await;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let second = me_queries(app).await;
        cold = cold.max(first).max(second);
        if first == second && second < cold {
            return second;
        }
    }
    panic!("the token cache never served /auth/me/ (uncached: {cold} statements)");
}

async fn failed_logins_keep_the_token_cache(app: TestApp) {
    account(&app, "jane@example.com").await;
    let warm = settled_cache_cost(&app).await;
    // Failed logins write login guards, which change nothing a token grants.
    for email in ["jane@example.com", "nobody@example.com"] {
        assert_eq!(login(&app, email, "wrong").await.0, StatusCode::BAD_REQUEST);
    }
    assert_eq!(me_queries(&app).await, warm, "still cached");
    // A successful login resets its guard (bookkeeping too) but issues a token: a real write.
    assert_eq!(
        login(&app, "jane@example.com", "s3cret-enough").await.0,
        StatusCode::OK
    );
    let after = me_queries(&app).await;
    assert!(
        after > warm,
        "a token issued: the cache starts over ({after} > {warm})"
    );
}
