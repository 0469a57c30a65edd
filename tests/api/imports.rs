//! Bulk imports of B2B users: upload, the background job, status, error report, passwords.

use kadro::db::Query;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::b2b_divisions::create_division;
use crate::helpers::{TestApp, create_b2b_staff};
use crate::{on_both_backends, per_backend};

on_both_backends!(
    create_then_upsert_and_rerun,
    dry_run_writes_nothing,
    bad_rows_are_reported_with_row_and_field,
    bad_uploads_are_refused_at_once,
    bom_quotes_and_newlines,
    django_hash_logs_in_and_is_rehashed,
    django_bcrypt_hash_logs_in_and_is_rehashed,
    keys_are_private,
    resumes_after_the_last_committed_batch,
);

per_backend!(
    oversized_upload_is_413,
    commerce_down_does_not_stop_an_import
);

const IMPORT: &str = "/api/v1/users/import/";

/// Posts `body` as an upload of `content_type` to `path` (an import route) with `query`.
pub async fn send_file(
    app: &TestApp,
    path: &str,
    token: &str,
    query: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let response = app
        .client
        .post(app.url(&format!("{path}?{query}")))
        .header("Authorization", format!("Token {token}"))
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .expect("upload");
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn upload_as(app: &TestApp, token: &str, query: &str, csv: &str) -> (StatusCode, Value) {
    send_file(
        app,
        IMPORT,
        token,
        query,
        "text/csv",
        csv.as_bytes().to_vec(),
    )
    .await
}

async fn upload(app: &TestApp, query: &str, csv: &str) -> (StatusCode, Value) {
    upload_as(app, &app.token.clone(), query, csv).await
}

/// Runs the import a 202 answered (`started`) and returns its final status.
pub async fn finish(app: &TestApp, path: &str, started: (StatusCode, Value)) -> Value {
    let (status, body) = started;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let key = body["cache_key"].as_str().unwrap().to_owned();
    assert_eq!(key.len(), 32);
    app.drain_jobs().await;
    let (status, body) = app.get(&format!("{path}?status_cache_key={key}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "completed", "{body}");
    body
}

/// Uploads `csv`, runs the job, and returns the final status.
async fn import(app: &TestApp, query: &str, csv: &str) -> Value {
    finish(app, IMPORT, upload(app, query, csv).await).await
}

pub fn progress(status: &Value) -> (i64, i64, i64, i64) {
    let p = &status["progress"];
    let n = |k: &str| p[k].as_i64().unwrap();
    assert_eq!(p["rows_total"], p["rows_done"], "{status}");
    (n("rows_done"), n("created"), n("updated"), n("failed"))
}

pub async fn error_report(app: &TestApp, status: &Value) -> String {
    let url = status["errors_url"].as_str().expect("errors_url");
    let response = app.client.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

async fn users(app: &TestApp) -> Vec<(String, String, String, Option<i64>, bool)> {
    Query::new(
        "SELECT email, first_name, phone_number, division_id, is_active FROM users \
         WHERE is_staff = FALSE ORDER BY email",
    )
    .fetch_all(&app.state.db)
    .await
    .unwrap()
}

async fn create_then_upsert_and_rerun(app: TestApp) {
    let division = create_division(&app, "Main", "main", None).await;
    let csv = format!(
        "email,first_name,last_name,phone_number,division,password\n\
         a@example.com,Ann,Lee,0555,{division},a-good-password\n\
         b@example.com,Bob,Ray,,{division},another-good-one\n"
    );
    let status = import(&app, "", &csv).await;
    assert_eq!(progress(&status), (2, 2, 0, 0));
    assert_eq!(status["errors_url"], Value::Null);
    assert_eq!(status["warnings"], json!([]));
    assert_eq!(users(&app).await.len(), 2);
    // Imported users are listed (local mode: remote_id is their own id).
    let (_, list) = app.get("/api/v1/users/?email=example.com").await;
    assert_eq!(list["count"], 2, "{list}");

    // create mode refuses existing emails, row by row.
    let status = import(&app, "mode=create", &csv).await;
    assert_eq!(progress(&status), (2, 0, 0, 2));
    let report = error_report(&app, &status).await;
    assert!(
        report.starts_with("row,field,message\r\n2,email,"),
        "{report}"
    );

    // upsert updates what differs (an unknown column is a warning), then changes nothing.
    let changed = "email,first_name,nickname\na@example.com,Anna,x\nb@example.com,Bob,y\nc@example.com,Cy,z\n";
    let status = import(&app, "mode=upsert", changed).await;
    assert_eq!(progress(&status), (3, 0, 1, 1), "{status}");
    assert_eq!(status["warnings"], json!(["nickname"]));
    let report = error_report(&app, &status).await;
    assert!(
        report.contains("4,last_name,This field is required."),
        "{report}"
    );
    let before = users(&app).await;
    assert_eq!(before[0].1, "Anna");
    let status = import(&app, "mode=upsert", &csv.replace("Ann,", "Anna,")).await;
    assert_eq!(progress(&status), (2, 0, 0, 0), "{status}");
    assert_eq!(users(&app).await, before);
}

async fn dry_run_writes_nothing(app: TestApp) {
    let division = create_division(&app, "Main", "main", None).await;
    let csv = format!(
        "email,first_name,last_name,division,password\n\
         a@example.com,Ann,Lee,{division},a-good-password\n\
         bad,Bob,Ray,{division},a-good-password\n"
    );
    let jobs_before = app.count("SELECT COUNT(*) FROM jobs").await;
    let status = import(&app, "dry_run=true", &csv).await;
    assert_eq!(status["dry_run"], true);
    assert_eq!(progress(&status), (2, 1, 0, 1));
    assert!(users(&app).await.is_empty());
    // Only the import's own job was queued.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM jobs").await,
        jobs_before + 1
    );
}

async fn bad_rows_are_reported_with_row_and_field(app: TestApp) {
    let division = create_division(&app, "Main", "main", None).await;
    let csv = format!(
        "email,first_name,last_name,division,is_active,password,password_hash\n\
         ok@example.com,Ok,Row,{division},true,a-good-password,\n\
         not-an-email,A,B,{division},,a-good-password,\n\
         ok@example.com,Dup,Row,{division},,a-good-password,\n\
         c@example.com,C,D,999999,,a-good-password,\n\
         d@example.com,D,E,{division},,short,\n\
         e@example.com,E,F,x,,a-good-password,\n\
         f@example.com,F,G,{division},maybe,a-good-password,\n\
         g@example.com,G,H,{division},,,md5$abc$def\n"
    );
    let status = import(&app, "", &csv).await;
    assert_eq!(progress(&status), (8, 1, 0, 7), "{status}");
    let report = error_report(&app, &status).await;
    let lines: Vec<&str> = report.lines().collect();
    for expected in [
        "3,email,Enter a valid email address.",
        "4,email,This email appears on an earlier row of the file.",
        "5,division,\"Invalid pk \"\"999999\"\" - object does not exist.\"",
        "6,password,This password is too short. It must contain at least 8 characters.",
        "7,division,A valid integer is required.",
        "8,is_active,Must be a valid boolean.",
        "9,password_hash,Unknown password hash format: use argon2 or pbkdf2_sha256 or bcrypt_sha256.",
    ] {
        assert!(lines.contains(&expected), "{expected} not in {report}");
    }
    assert_eq!(users(&app).await.len(), 1);
    // The link is the credential: a changed signature is refused.
    let url = status["errors_url"]
        .as_str()
        .unwrap()
        .replace("signature=", "signature=0");
    let response = app.client.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

async fn bad_uploads_are_refused_at_once(app: TestApp) {
    let (status, body) = upload(&app, "", "first_name,last_name\nA,B\n").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({"file": ["The column \"email\" is required."]}));
    let (status, _) = upload(&app, "", "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = upload(&app, "mode=merge", "email\n").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["mode"].is_array());
    let (status, _) = app
        .call(
            Method::POST,
            IMPORT,
            Some(&app.token.clone()),
            Some(json!({"email": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(app.count("SELECT COUNT(*) FROM imports").await, 0);
    // Nothing is left in the upload directory.
    let dir = app.export_dir.0.join(".imports");
    let left = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0);
}

async fn oversized_upload_is_413(backend: crate::helpers::Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.import_max_bytes = 64).await else {
        return;
    };
    let big = format!("email\n{}", "a@example.com\n".repeat(10));
    let (status, body) = upload(&app, "", &big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    // A chunked body (no Content-Length) is cut off at the limit as well.
    let stream = futures_util::stream::iter(
        (0..10).map(|_| Ok::<_, std::io::Error>("a@example.com\n".to_owned())),
    );
    let response = app
        .client
        .post(app.url(IMPORT))
        .header("Authorization", format!("Token {}", app.token))
        .header("Content-Type", "text/csv")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(app.count("SELECT COUNT(*) FROM imports").await, 0);
    // Within the limit, and JSON bodies keep their own limit elsewhere.
    let (status, _) = upload(&app, "", "email\n").await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

async fn bom_quotes_and_newlines(app: TestApp) {
    let division = create_division(&app, "Main", "main", None).await;
    let csv = format!(
        "\u{feff}email,first_name,last_name,division,password\r\n\
         a@example.com,\"Ann, \"\"the\"\"\",\"Lee\r\nJr\",{division},a-good-password\r\n"
    );
    let status = import(&app, "", &csv).await;
    assert_eq!(progress(&status), (1, 1, 0, 0), "{status}");
    let (first, last): (String, String) =
        Query::new("SELECT first_name, last_name FROM users WHERE email = 'a@example.com'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(
        (first.as_str(), last.as_str()),
        ("Ann, \"the\"", "Lee\r\nJr")
    );
}

/// `pbkdf2_sha256` as Django stores it: 600,000 iterations, the salt as text, base64 of the
/// derived key (computed with Python's `hashlib.pbkdf2_hmac`).
const DJANGO_HASH: &str =
    "pbkdf2_sha256$600000$django-salt-1$RJGxn4RRg/PJGqJ3wTYpzxiKnbJIZ3yqzf4zImGmZ+I=";

/// `bcrypt_sha256` as Django stores it: bcrypt (cost 4 here) of the hex SHA-256 of the password
/// (computed with Python's `bcrypt` and `hashlib`).
const DJANGO_BCRYPT_HASH: &str =
    "bcrypt_sha256$$2b$04$xv9R0jrZ.zB1zQM7347lyuGXF5NNYre1opIoOIwr.WXNCRruTd2Fi";

async fn django_hash_logs_in_and_is_rehashed(app: TestApp) {
    legacy_hash_logs_in_and_is_rehashed(app, DJANGO_HASH).await;
}

async fn django_bcrypt_hash_logs_in_and_is_rehashed(app: TestApp) {
    legacy_hash_logs_in_and_is_rehashed(app, DJANGO_BCRYPT_HASH).await;
}

async fn legacy_hash_logs_in_and_is_rehashed(app: TestApp, legacy: &str) {
    let division = create_division(&app, "Main", "main", None).await;
    let csv = format!(
        "email,first_name,last_name,division,password_hash\n\
         dj@example.com,D,J,{division},{legacy}\n"
    );
    let status = import(&app, "", &csv).await;
    assert_eq!(progress(&status), (1, 1, 0, 0), "{status}");
    let stored = || async {
        Query::new("SELECT password_hash FROM users WHERE email = 'dj@example.com'")
            .scalar::<String>(&app.state.db)
            .await
            .unwrap()
    };
    assert_eq!(stored().await, legacy);
    let login = |password: &str| {
        app.call(
            Method::POST,
            "/api/v1/auth/login/",
            None,
            Some(json!({"email": "dj@example.com", "password": password})),
        )
    };
    let (status, _) = login("wrong-password").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(stored().await, legacy);
    let (status, body) = login("imported-pass-9").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rehashed = stored().await;
    assert!(rehashed.starts_with("$argon2id$"), "{rehashed}");
    let (status, _) = login("imported-pass-9").await;
    assert_eq!(status, StatusCode::OK);
    // Neither the hash nor a password appears in the status.
    let status = status_text(&app).await;
    assert!(
        !status.contains("pbkdf2") && !status.contains("bcrypt"),
        "{status}"
    );
}

async fn status_text(app: &TestApp) -> String {
    let key: String = Query::new("SELECT cache_key FROM imports ORDER BY id DESC LIMIT 1")
        .scalar(&app.state.db)
        .await
        .unwrap();
    app.get(&format!("{IMPORT}?status_cache_key={key}"))
        .await
        .1
        .to_string()
}

async fn keys_are_private(app: TestApp) {
    let division = create_division(&app, "Main", "main", None).await;
    let (status, body) = upload(&app, "", "email\na@example.com\n").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let key = body["cache_key"].as_str().unwrap().to_owned();
    let (_, staff) = create_b2b_staff(&app.state, "staff@example.com", false, Some(division)).await;
    let path = format!("{IMPORT}?status_cache_key={key}");
    let (status, _) = app.call(Method::GET, &path, Some(&staff), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = upload_as(&app, &staff, "", "email\n").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.call(Method::GET, &path, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app
        .get(&format!("{IMPORT}?status_cache_key={}", "0".repeat(32)))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = app.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "waiting");
}

async fn resumes_after_the_last_committed_batch(app: TestApp) {
    let division = create_division(&app, "Main", "main", None).await;
    let mut csv = String::from("email,first_name,last_name,division,password_hash\n");
    let hash = kadro::auth::password::hash_now("resumed-pass").unwrap();
    for n in 0..1500 {
        csv.push_str(&format!("u{n}@example.com,U,{n},{division},\"{hash}\"\n"));
    }
    let (status, body) = upload(&app, "", &csv).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let key = body["cache_key"].as_str().unwrap().to_owned();
    // An earlier attempt committed the first batch (rows and progress together), then died.
    let import: kadro::imports::record::ImportRow =
        kadro::imports::record::by_key(&app.state.db, &key)
            .await
            .unwrap()
            .unwrap();
    let first: Vec<_> =
        kadro::imports::file::Rows::open(std::path::Path::new(&import.file_path), 0)
            .unwrap()
            .batch(1000)
            .unwrap();
    let columns = kadro::imports::file::read_columns(
        std::path::Path::new(&import.file_path),
        kadro::imports::users::TARGET,
    )
    .unwrap();
    kadro::imports::users::import_batch(
        &app.state,
        &import,
        &columns,
        first,
        &mut Default::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE is_staff = FALSE")
            .await,
        1000
    );
    app.drain_jobs().await;
    let (_, status) = app.get(&format!("{IMPORT}?status_cache_key={key}")).await;
    assert_eq!(progress(&status), (1500, 1500, 0, 0), "{status}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE is_staff = FALSE")
            .await,
        1500
    );
    let same: i64 = Query::new("SELECT COUNT(*) FROM users WHERE password_hash = $1")
        .bind(hash)
        .scalar(&app.state.db)
        .await
        .unwrap();
    assert_eq!(same, 1500);
}

async fn commerce_down_does_not_stop_an_import(backend: crate::helpers::Backend) {
    let server = wiremock::MockServer::start().await;
    let url = server.uri();
    let Some(app) = TestApp::spawn_with(backend, move |c| {
        c.commerce_url = Some(url);
        c.commerce_token = Some(kadro::config::Secret::new("commerce-token"));
        c.commerce_timeout_ms = 2_000;
    })
    .await
    else {
        return;
    };
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let division = create_division(&app, "Main", "main", None).await;
    let hash = kadro::auth::password::hash_now("commerce-pass").unwrap();
    let csv = format!(
        "email,first_name,last_name,division,password_hash,remote_id\n\
         new@example.com,N,U,{division},\"{hash}\",\n\
         known@example.com,K,U,{division},\"{hash}\",42\n"
    );
    let status = import(&app, "", &csv).await;
    assert_eq!(progress(&status), (2, 2, 0, 0), "{status}");
    let remote: Vec<(String, Option<i64>)> =
        Query::new("SELECT email, remote_id FROM users WHERE is_staff = FALSE ORDER BY email")
            .fetch_all(&app.state.db)
            .await
            .unwrap();
    assert_eq!(
        remote,
        vec![
            ("known@example.com".into(), Some(42)),
            ("new@example.com".into(), None)
        ]
    );
    // The lookup failed once (Commerce down) and waits for its retry; Commerce then answers.
    let job =
        "SELECT COUNT(*) FROM jobs WHERE kind = 'commerce.update_remote_id' AND status = 'queued'";
    assert_eq!(app.count(job).await, 1);
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .and(wiremock::matchers::path("/users/"))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .set_body_json(json!({"count": 1, "results": [{"id": 77}]})),
        )
        .mount(&server)
        .await;
    Query::new("UPDATE jobs SET run_at = $1 WHERE kind = 'commerce.update_remote_id'")
        .bind(kadro::http::time::now())
        .execute(&app.state.db)
        .await
        .unwrap();
    app.drain_jobs().await;
    let id: Option<i64> = Query::new("SELECT remote_id FROM users WHERE email = 'new@example.com'")
        .scalar(&app.state.db)
        .await
        .unwrap();
    assert_eq!(id, Some(77));
}
