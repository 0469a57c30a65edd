//! Following a request in the logs: the `kadro` binary with JSON logs, where a request's lines,
//! a 500's error line and the lines of the jobs the request queued all name its request id.

use std::time::Duration;

use kadro::db::{Db, DbOptions, Query};
use serde_json::Value;

use crate::helpers::{Backend, TestDb, tempdir::TempDirGuard};
use crate::per_backend;
use crate::process::{DEADLINE, Kadro, Stream, kadro};

per_backend!(request_ids_follow_errors_and_jobs);

const SERVICE_TOKEN: &str = "tracing-test-service-token";

/// The JSON log line `line` if its message is `message` and its span names `request_id`.
fn logged(line: &str, message: &str, request_id: &str) -> Option<Value> {
    let entry: Value = serde_json::from_str(line).ok()?;
    (entry["fields"]["message"] == message && entry["span"]["request_id"] == request_id)
        .then_some(entry)
}

async fn request_ids_follow_errors_and_jobs(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let export_dir = TempDirGuard(
        std::env::temp_dir().join(format!("kadro-exports-{}", uuid::Uuid::new_v4().simple())),
    );
    let mut cmd = kadro(&db);
    cmd.env("KADRO_LOG", "info")
        .env("KADRO_LOG_FORMAT", "json")
        .env("KADRO_SERVICE_TOKENS", SERVICE_TOKEN)
        .env("KADRO_EXPORT_DIR", &export_dir.0)
        .args(["serve", "--bind", "127.0.0.1:0", "--workers", "1"]);
    let mut server = Kadro::spawn(cmd);
    let listening = server.wait_for_line("start-up line", DEADLINE, |stream, line| {
        stream == Stream::Stderr && line.contains("kadro listening")
    });
    let listening: Value = serde_json::from_str(&listening).expect("a JSON log line");
    let base = format!("http://{}", listening["fields"]["addr"].as_str().unwrap());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let get = |path: &str, request_id: &str| {
        client
            .get(format!("{base}{path}"))
            .header("Authorization", format!("Token {SERVICE_TOKEN}"))
            .header("x-request-id", request_id)
            .send()
    };

    // An export request queues a build job; the job's lines name the request.
    let response = get(
        "/api/v1/staff-users/?fields=id&format=csv",
        "export-request-1",
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let done = server.wait_for_line("export job done", DEADLINE, |_, line| {
        logged(line, "job done", "export-request-1").is_some()
    });
    let done = logged(&done, "job done", "export-request-1").unwrap();
    assert_eq!(done["span"]["kind"], "export.build", "{done}");
    assert_eq!(done["span"]["attempt"], 1, "{done}");
    let request = server.wait_for_line("export request line", DEADLINE, |_, line| {
        logged(line, "request", "export-request-1").is_some()
    });
    let request = logged(&request, "request", "export-request-1").unwrap();
    assert_eq!(request["span"]["caller"], "service", "{request}");
    assert_eq!(request["span"]["route"], "/api/v1/staff-users", "{request}");

    // A database the server cannot use any more: a 500 whose error line names the request.
    let pool = Db::connect(&db.url, &DbOptions { max_connections: 1 })
        .await
        .unwrap();
    Query::new("ALTER TABLE divisions RENAME TO divisions_gone")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let response = get("/api/v1/divisions/", "broken-request-1").await.unwrap();
    assert_eq!(response.status(), 500);
    assert_eq!(response.headers()["x-request-id"], "broken-request-1");
    let error = server.wait_for_line("internal error line", DEADLINE, |_, line| {
        logged(line, "internal error", "broken-request-1").is_some()
    });
    let error = logged(&error, "internal error", "broken-request-1").unwrap();
    assert_eq!(error["level"], "ERROR", "{error}");
    assert!(
        error["fields"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("divisions")),
        "{error}"
    );
    let request = server.wait_for_line("failed request line", DEADLINE, |_, line| {
        logged(line, "request", "broken-request-1").is_some()
    });
    assert_eq!(
        logged(&request, "request", "broken-request-1").unwrap()["fields"]["status"],
        500
    );
}
