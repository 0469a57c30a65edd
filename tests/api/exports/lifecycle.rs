//! Who may see a key, signed links, restart after a crash, failure, expiry and cleanup.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use kadro::app::App;
use kadro::auth::{B2bCaller, Caller, StaffCaller};
use kadro::b2b::export::StaffUsersExport;
use kadro::db::Query;
use kadro::exports::format::Format;
use kadro::exports::link;
use kadro::exports::store::StoredFile;
use kadro::exports::{self, BuildExport, ExportList, ExportStore, LocalDirStore};
use kadro::http::error::ApiError;
use kadro::http::request::RequestUrl;
use kadro::http::time;
use kadro::jobs::worker::{JobHandler, Step};
use kadro::jobs::{self};
use reqwest::StatusCode;
use serde_json::json;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::helpers::{TestApp, test_config, within};
use crate::on_both_backends;

on_both_backends!(
    only_the_owner_or_a_superuser_sees_a_key,
    unknown_and_expired_keys_are_not_found,
    tampered_or_expired_links_are_forbidden,
    crashed_export_is_restarted_by_another_process,
    failed_export_says_why_and_leaves_no_file,
    cleanup_deletes_expired_exports_and_old_jobs,
);

async fn request_url(path_and_query: &str) -> RequestUrl {
    let (mut parts, ()) = axum::http::Request::builder()
        .uri(path_and_query)
        .header("host", "kadro.test")
        .body(())
        .unwrap()
        .into_parts();
    RequestUrl::from_request_parts(&mut parts, &())
        .await
        .unwrap()
}

fn staff_users() -> ExportList {
    ExportList::of(StaffUsersExport::default())
}

async fn only_the_owner_or_a_superuser_sees_a_key(app: TestApp) {
    let user = |id| {
        Caller::User(B2bCaller {
            id,
            is_staff: true,
            is_superuser: false,
            division_id: None,
        })
    };
    let (owner, other) = (user(1001), user(1002));
    let fields = ["id".to_owned()];
    let key = exports::start(&app.state, &owner, &staff_users(), &fields, Format::Csv)
        .await
        .unwrap();
    let url = request_url(&format!("/api/v1/users/?status_cache_key={key}")).await;
    let status_as = |caller: Caller| {
        let (state, url) = (app.state.clone(), url.clone());
        async move {
            exports::intercept(&state, &caller, &url, |_| {
                unreachable!("not an export request")
            })
            .await
            .map(|r| r.expect("a status answer").status())
        }
    };
    assert_eq!(status_as(owner.clone()).await.unwrap(), StatusCode::OK);
    for stranger in [
        other,
        // An Instore staff with the same id is someone else.
        Caller::Staff(StaffCaller {
            id: 1001,
            is_superuser: false,
        }),
    ] {
        assert!(matches!(status_as(stranger).await, Err(ApiError::NotFound)));
    }
    // Superusers (the test's root account, a service token) see every key.
    assert_eq!(status_as(Caller::Service).await.unwrap(), StatusCode::OK);
    let (status, body) = export_status(&app, &key).await;
    assert_eq!(
        (status, &body["status"]),
        (StatusCode::OK, &json!("waiting"))
    );
}

async fn unknown_and_expired_keys_are_not_found(app: TestApp) {
    for key in ["0123456789abcdef0123456789abcdef", "nope", ""] {
        let (status, body) = export_status(&app, key).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{key:?}");
        assert_eq!(body, json!({"detail": "Not found."}));
    }
    let key = start_export(&app, "fields=id").await;
    let (status, _) = export_status(&app, &key).await;
    assert_eq!(status, StatusCode::OK);
    Query::new("UPDATE exports SET expires_at = $1 WHERE cache_key = $2")
        .bind(time::now() - chrono::Duration::seconds(1))
        .bind(key.as_str())
        .execute(&app.state.db)
        .await
        .unwrap();
    let (status, _) = export_status(&app, &key).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn tampered_or_expired_links_are_forbidden(app: TestApp) {
    let key = start_export(&app, "fields=id&fields=email&format=csv").await;
    let (_, _, bytes) = build_and_download(&app, &key).await;
    assert_eq!(read_csv(&bytes)[1], ["1", "root@example.com"]);
    let (_, body) = export_status(&app, &key).await;
    let url = body["url"].as_str().unwrap().to_owned();
    let get = |url: String| {
        let client = app.client.clone();
        async move { client.get(url).send().await.unwrap().status() }
    };
    assert_eq!(get(url.clone()).await, StatusCode::OK, "no token needed");

    let (path, query) = url.split_once('?').unwrap();
    let expires: i64 = query
        .split('&')
        .find_map(|p| p.strip_prefix("expires="))
        .unwrap()
        .parse()
        .unwrap();
    let mut flipped = url.clone();
    let last = flipped.pop().unwrap();
    flipped.push(if last == '0' { '1' } else { '0' });
    let forbidden = [
        flipped,
        url.replace(
            &format!("expires={expires}"),
            &format!("expires={}", expires + 60),
        ),
        url.replace(".csv?", ".xls?"),
        path.to_owned(),
        format!("{path}?expires={expires}"),
        app.url(&link::signed_path(
            &app.state.secret_key,
            &format!("{key}.csv"),
            time::now().timestamp() - 1,
        )),
    ];
    for link in forbidden {
        let response = app.client.get(&link).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{link}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["code"], "invalid_link");
    }
    // A good signature for a file that does not exist (or is not ready) is a 404.
    let waiting = start_export(&app, "fields=id&format=csv").await;
    let later = time::now().timestamp() + 3600;
    for file in [
        "0123456789abcdef0123456789abcdef.csv".to_owned(),
        format!("{waiting}.csv"),
    ] {
        let link = app.url(&link::signed_path(&app.state.secret_key, &file, later));
        assert_eq!(get(link).await, StatusCode::NOT_FOUND, "{file}");
    }
    // Once the export expires, its link stops working even before the link's own expiry.
    Query::new("UPDATE exports SET expires_at = $1 WHERE cache_key = $2")
        .bind(time::now() - chrono::Duration::seconds(1))
        .bind(key.as_str())
        .execute(&app.state.db)
        .await
        .unwrap();
    assert_eq!(get(url).await, StatusCode::FORBIDDEN);
}

/// A store that stops forever when asked to publish, as a process killed at that moment.
#[derive(Debug)]
struct Hangs {
    inner: LocalDirStore,
    reached: Arc<Notify>,
}

/// A store whose disk is full when the file is published.
#[derive(Debug)]
struct DiskFull(LocalDirStore);

#[async_trait::async_trait]
impl ExportStore for Hangs {
    async fn scratch(&self, name: &str) -> io::Result<PathBuf> {
        self.inner.scratch(name).await
    }
    async fn publish(&self, _scratch: &Path, _name: &str) -> io::Result<()> {
        self.reached.notify_one();
        std::future::pending().await
    }
    async fn discard_scratch(&self, name: &str) -> io::Result<()> {
        self.inner.discard_scratch(name).await
    }
    async fn open(&self, name: &str) -> io::Result<Option<StoredFile>> {
        self.inner.open(name).await
    }
    async fn delete(&self, name: &str) -> io::Result<()> {
        self.inner.delete(name).await
    }
}

#[async_trait::async_trait]
impl ExportStore for DiskFull {
    async fn scratch(&self, name: &str) -> io::Result<PathBuf> {
        self.0.scratch(name).await
    }
    async fn publish(&self, _scratch: &Path, _name: &str) -> io::Result<()> {
        Err(io::Error::other("No space left on device"))
    }
    async fn discard_scratch(&self, name: &str) -> io::Result<()> {
        self.0.discard_scratch(name).await
    }
    async fn open(&self, name: &str) -> io::Result<Option<StoredFile>> {
        self.0.open(name).await
    }
    async fn delete(&self, name: &str) -> io::Result<()> {
        self.0.delete(name).await
    }
}

async fn crashed_export_is_restarted_by_another_process(app: TestApp) {
    insert_many_staff(&app, 2500).await;
    let key = start_export(&app, "fields=id&fields=email&format=xlsx").await;
    // The export was asked for ten minutes ago, and a worker took its job then under a
    // one-minute lease...
    let then = time::now() - chrono::Duration::minutes(10);
    Query::new("UPDATE jobs SET run_at = $1")
        .bind(then)
        .execute(&app.state.db)
        .await
        .unwrap();
    let job = jobs::claim_next(
        &app.state.db,
        "crashed-worker",
        then,
        Duration::from_secs(60),
    )
    .await
    .unwrap()
    .expect("the export job");
    // ...and its process died after writing every row, before publishing the file.
    let reached = Arc::new(Notify::new());
    let mut doomed_state = app.state.clone();
    doomed_state.exports = Arc::new(Hangs {
        inner: LocalDirStore::new(&app.export_dir.0),
        reached: reached.clone(),
    });
    let crashed = {
        let job = job.clone();
        tokio::spawn(async move { BuildExport.run(&doomed_state, &job).await })
    };
    within("the build reaches publishing", reached.notified()).await;
    crashed.abort();
    let _ = within("the crashed build ends", crashed).await;
    let (_, body) = export_status(&app, &key).await;
    assert_eq!(body["status"], "processing");
    assert_eq!(body["progress"]["rows_total"], 2501);
    let left = files_under(&app.export_dir.0);
    assert_eq!(left.len(), 1, "one scratch file: {left:?}");
    assert!(left[0].to_string_lossy().contains("/.partial/"), "{left:?}");

    // The process starts again; its worker takes over the job whose lease has expired.
    let restarted = App::build(test_config(&app.db.url, &app.export_dir.0))
        .await
        .unwrap();
    let step = restarted
        .jobs
        .run_one(
            &restarted.state,
            "restarted-worker",
            &CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(step, Step::Done(job.id));
    restarted.state.db.close().await;
    let attempts: i64 = Query::new("SELECT attempts FROM jobs WHERE id = $1")
        .bind(job.id)
        .scalar(&app.state.db)
        .await
        .unwrap();
    assert_eq!(attempts, 2);
    let (_, _, bytes) = build_and_download(&app, &key).await;
    let rows = read_text("xlsx", &bytes);
    assert_eq!(rows.len(), 2502);
    assert_eq!(rows[2501][1], "bulk2499@example.com");
    let files = files_under(&app.export_dir.0);
    assert_eq!(
        files.len(),
        1,
        "the crashed attempt's scratch file is gone: {files:?}"
    );
    assert!(files[0].ends_with(format!("{key}.xlsx")));
}

async fn failed_export_says_why_and_leaves_no_file(app: TestApp) {
    insert_many_staff(&app, 1500).await;
    let key = start_export(&app, "fields=id&fields=first_name").await;
    let mut state = app.state.clone();
    state.exports = Arc::new(DiskFull(LocalDirStore::new(&app.export_dir.0)));
    let stop = CancellationToken::new();
    for attempt in 1..=exports::job::MAX_ATTEMPTS {
        Query::new("UPDATE jobs SET run_at = $1")
            .bind(time::now())
            .execute(&app.state.db)
            .await
            .unwrap();
        let step = app.jobs.run_one(&state, "w", &stop).await.unwrap();
        assert!(matches!(step, Step::Failed(_)), "{step:?}");
        let (_, body) = export_status(&app, &key).await;
        let last = attempt == exports::job::MAX_ATTEMPTS;
        assert_eq!(
            body["status"],
            if last { "failed" } else { "waiting" },
            "{body}"
        );
        assert!(
            files_under(&app.export_dir.0).is_empty(),
            "attempt {attempt}"
        );
    }
    let (_, body) = export_status(&app, &key).await;
    assert_eq!(
        body,
        json!({"is_ready": false, "url": null, "status": "failed",
               "progress": {"rows_written": 0, "rows_total": 1501},
               "reason": "The export file could not be written."})
    );
    let job_status: String = Query::new("SELECT status FROM jobs")
        .scalar(&app.state.db)
        .await
        .unwrap();
    assert_eq!(job_status, "failed");
    assert_eq!(app.drain_jobs().await, 0, "not retried any more");
}

async fn cleanup_deletes_expired_exports_and_old_jobs(app: TestApp) {
    let done = start_export(&app, "fields=id&format=csv").await;
    build_and_download(&app, &done).await;
    let waiting = start_export(&app, "fields=id&format=xls").await;
    assert_eq!(files_under(&app.export_dir.0).len(), 1);
    let now = time::now();
    let cleaned = exports::cleanup::run_once(&app.state, now).await.unwrap();
    assert_eq!(cleaned, exports::cleanup::Cleaned::default());

    let ttl = chrono::Duration::seconds(app.state.config.export_ttl_seconds as i64);
    let later = now + ttl + chrono::Duration::seconds(1);
    let cleaned = exports::cleanup::run_once(&app.state, later).await.unwrap();
    assert_eq!(cleaned.exports, 2);
    assert!(files_under(&app.export_dir.0).is_empty());
    assert_eq!(app.count("SELECT COUNT(*) FROM exports").await, 0);
    for key in [&done, &waiting] {
        assert_eq!(export_status(&app, key).await.0, StatusCode::NOT_FOUND);
    }
    // The waiting export's job finds nothing to do.
    assert_eq!(app.drain_jobs().await, 1);
    // Finished jobs go after a week.
    let week = later + exports::cleanup::JOB_RETENTION + chrono::Duration::seconds(1);
    let cleaned = exports::cleanup::run_once(&app.state, week).await.unwrap();
    assert_eq!(cleaned.jobs, 2);
    assert_eq!(app.count("SELECT COUNT(*) FROM jobs").await, 0);
}
