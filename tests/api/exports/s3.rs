//! Exports on an S3-compatible store: a real S3 server (moto's standalone server in CI) named by
//! `KADRO_TEST_S3_ENDPOINT`; the tests skip without it unless `KADRO_TEST_REQUIRE_S3=1`.

use kadro::config::{Config, Secret};
use kadro::exports::cleanup;
use kadro::http::time;
use reqwest::StatusCode;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use super::*;
use crate::helpers::{Backend, TestApp};
use crate::per_backend;

per_backend!(
    export_is_built_to_s3_and_downloaded,
    expiry_deletes_the_object,
    readyz_fails_while_the_store_is_down,
);

/// The S3 server of the tests, or `None` (the test is skipped).
pub fn s3_endpoint() -> Option<String> {
    match std::env::var("KADRO_TEST_S3_ENDPOINT") {
        Ok(endpoint) if !endpoint.is_empty() => Some(endpoint.trim_end_matches('/').to_owned()),
        _ => {
            assert!(
                std::env::var("KADRO_TEST_REQUIRE_S3").is_err(),
                "KADRO_TEST_REQUIRE_S3 is set but KADRO_TEST_S3_ENDPOINT is not"
            );
            eprintln!("\n*** KADRO_TEST_S3_ENDPOINT is not set: SKIPPING this S3 test ***\n");
            None
        }
    }
}

/// A bucket of its own on the S3 server.
#[derive(Clone)]
pub struct Bucket {
    pub endpoint: String,
    pub name: String,
    client: reqwest::Client,
}

impl Bucket {
    pub async fn create(endpoint: &str) -> Bucket {
        let bucket = Bucket {
            endpoint: endpoint.to_owned(),
            name: format!("kadro-test-{}", uuid::Uuid::new_v4().simple()),
            client: reqwest::Client::new(),
        };
        let response = bucket.client.put(bucket.url("")).send().await.unwrap();
        assert!(
            response.status().is_success(),
            "create bucket: {response:?}"
        );
        bucket
    }

    fn url(&self, key: &str) -> String {
        format!("{}/{}/{key}", self.endpoint, self.name)
    }

    /// Points `config` at this bucket, under `prefix`.
    pub fn configure(&self, config: &mut Config, endpoint: &str, prefix: &str) {
        config.export_store = Some(format!("s3://{}/{prefix}", self.name));
        config.s3_endpoint = Some(endpoint.to_owned());
        config.aws_access_key_id = Some(Secret::new("kadro-test"));
        config.aws_secret_access_key = Some(Secret::new("kadro-test-secret"));
    }

    /// The keys in the bucket with their sizes (one listing page is enough here).
    pub async fn objects(&self) -> Vec<(String, u64)> {
        let text = self
            .client
            .get(format!("{}?list-type=2", self.url("")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let between = |text: &str, tag: &str| -> String {
            let open = format!("<{tag}>");
            let (_, rest) = text.split_once(&open).expect(tag);
            rest.split_once(&format!("</{tag}>"))
                .expect(tag)
                .0
                .to_owned()
        };
        text.split("<Contents>")
            .skip(1)
            .map(|object| {
                (
                    between(object, "Key"),
                    between(object, "Size").parse().unwrap(),
                )
            })
            .collect()
    }
}

/// kadro on `backend` with its exports in a new bucket under `exports/`.
async fn spawn_on_s3(backend: Backend, endpoint: &str) -> Option<(TestApp, Bucket)> {
    let bucket = Bucket::create(endpoint).await;
    let app = TestApp::spawn_with(backend, |c| bucket.configure(c, endpoint, "exports")).await?;
    Some((app, bucket))
}

async fn export_is_built_to_s3_and_downloaded(backend: Backend) {
    let Some(endpoint) = s3_endpoint() else {
        return;
    };
    let Some((app, bucket)) = spawn_on_s3(backend, &endpoint).await else {
        return;
    };
    // Over 5 MiB: uploaded as a multipart upload of several parts.
    insert_many_staff(&app, 100_000).await;
    let key = start_export(
        &app,
        "fields=id&fields=email&fields=first_name&fields=date_joined&fields=language&fields=is_active&format=csv",
    )
    .await;
    let (content_type, _, bytes) = build_and_download(&app, &key).await;
    assert_eq!(content_type, "text/csv; charset=utf-8");
    let rows = read_csv(&bytes);
    assert_eq!(
        rows.len(),
        100_000 + 1 + 1,
        "header, root and the bulk rows"
    );
    assert_eq!(rows[0][1], "email");
    assert!(bytes.len() > 5 * 1024 * 1024, "{} bytes", bytes.len());
    let object = format!("exports/{key}.csv");
    assert_eq!(bucket.objects().await, vec![(object, bytes.len() as u64)]);
    // Nothing stays on the local disk: the scratch file is removed once uploaded.
    assert_eq!(
        files_under(&app.export_dir.0),
        Vec::<std::path::PathBuf>::new()
    );
}

async fn expiry_deletes_the_object(backend: Backend) {
    let Some(endpoint) = s3_endpoint() else {
        return;
    };
    let Some((app, bucket)) = spawn_on_s3(backend, &endpoint).await else {
        return;
    };
    let key = start_export(&app, "fields=id&fields=email&format=xlsx").await;
    let (_, _, bytes) = build_and_download(&app, &key).await;
    assert!(!read_workbook("xlsx", &bytes).is_empty());
    let stored = vec![(format!("exports/{key}.xlsx"), bytes.len() as u64)];
    assert_eq!(bucket.objects().await, stored);
    // Not expired yet: nothing is deleted.
    assert_eq!(
        cleanup::run_once(&app.state, time::now())
            .await
            .unwrap()
            .exports,
        0
    );
    assert_eq!(bucket.objects().await, stored);
    let later = time::now() + chrono::Duration::seconds(86_400 + 1);
    assert_eq!(
        cleanup::run_once(&app.state, later).await.unwrap().exports,
        1
    );
    assert_eq!(bucket.objects().await, vec![]);
    assert_eq!(export_status(&app, &key).await.0, StatusCode::NOT_FOUND);
}

/// A TCP relay to the S3 server that can be taken down and brought back on the same port.
struct Relay {
    port: u16,
    target: String,
    tasks: JoinSet<()>,
}

impl Relay {
    async fn start(target: &str) -> Relay {
        let mut relay = Relay {
            port: 0,
            target: target.to_owned(),
            tasks: JoinSet::new(),
        };
        relay.up().await;
        relay
    }

    async fn up(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.port = listener.local_addr().unwrap().port();
        let target = self.target.clone();
        self.tasks.spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                connections.spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
    }

    /// Closes the port and every relayed connection.
    async fn down(&mut self) {
        self.tasks.shutdown().await;
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

async fn readyz_fails_while_the_store_is_down(backend: Backend) {
    let Some(endpoint) = s3_endpoint() else {
        return;
    };
    let target = endpoint
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let mut relay = Relay::start(&target).await;
    let bucket = Bucket::create(&endpoint).await;
    let Some(app) =
        TestApp::spawn_with(backend, |c| bucket.configure(c, &relay.endpoint(), "x")).await
    else {
        return;
    };
    let readyz = || async {
        let response = app.client.get(app.url("/readyz")).send().await.unwrap();
        let status = response.status();
        (status, response.json::<serde_json::Value>().await.unwrap())
    };
    assert_eq!(readyz().await.0, StatusCode::OK);
    relay.down().await;
    let (status, body) = readyz().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "export store unreachable");
    relay.up().await;
    crate::helpers::until("ready again", || async {
        readyz().await.0 == StatusCode::OK
    })
    .await;
    // A missing bucket is not ready either.
    let Some(other) = TestApp::spawn_with(backend, |c| {
        let missing = Bucket {
            name: "kadro-test-no-such-bucket".into(),
            ..bucket.clone()
        };
        missing.configure(c, &endpoint, "x");
    })
    .await
    else {
        return;
    };
    let response = other.client.get(other.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
}
