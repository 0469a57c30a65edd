//! Webhook secrets stay out of the logs: the `kadro` binary, logging at debug level, creates
//! webhooks, attempts deliveries that fail and logs why, and never writes a secret.

use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{Backend, TestDb, tempdir::TempDirGuard};
use crate::per_backend;
use crate::process::{DEADLINE, Kadro, Stream, kadro};

per_backend!(secrets_never_reach_the_logs);

const SERVICE_TOKEN: &str = "webhook-logs-service-token";
const GIVEN_SECRET: &str = "given-secret-4f9a1c7e2b";

async fn secrets_never_reach_the_logs(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("try later"))
        .mount(&receiver)
        .await;
    let export_dir = TempDirGuard(
        std::env::temp_dir().join(format!("kadro-exports-{}", uuid::Uuid::new_v4().simple())),
    );
    let mut cmd = kadro(&db);
    cmd.env("KADRO_LOG", "debug")
        .env("KADRO_LOG_FORMAT", "json")
        .env("KADRO_SERVICE_TOKENS", SERVICE_TOKEN)
        .env("KADRO_EXPORT_DIR", &export_dir.0)
        .env("KADRO_WEBHOOK_ALLOW_PRIVATE", "1")
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
    let post = |path: &str, body: Value| {
        client
            .post(format!("{base}{path}"))
            .header("Authorization", format!("Token {SERVICE_TOKEN}"))
            .json(&body)
            .send()
    };
    let url = format!("{}/hook", receiver.uri());
    let given = post(
        "/api/v1/webhooks/",
        json!({"url": url, "events": ["division.*"], "secret": GIVEN_SECRET}),
    )
    .await
    .unwrap();
    assert_eq!(given.status(), 201);
    let generated: Value = post(
        "/api/v1/webhooks/",
        json!({"url": url, "events": ["division.create"]}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let generated = generated["secret"].as_str().unwrap().to_owned();
    let division = post(
        "/api/v1/divisions/",
        json!({"name": "Main", "division_type": "main"}),
    )
    .await
    .unwrap();
    assert_eq!(division.status(), 201);

    for _ in 0..2 {
        server.wait_for_line("a failed delivery", DEADLINE, |_, line| {
            line.contains("webhook delivery failed")
        });
    }
    server.drain();
    let logs = format!(
        "{}{}",
        server.text(Stream::Stdout),
        server.text(Stream::Stderr)
    );
    assert!(logs.contains("answered 500 Internal Server Error: try later"));
    assert!(!logs.contains(GIVEN_SECRET), "the given secret was logged");
    assert!(
        !logs.contains(&generated),
        "the generated secret was logged"
    );
    assert!(!logs.contains("whsec_"), "a secret was logged");
}
