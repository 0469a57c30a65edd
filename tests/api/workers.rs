//! The real background workers, end to end: `spawn_workers` with the production retry policy,
//! the lease-extending heartbeat, a lost lease, and the periodic export cleanup of a process
//! that starts workers. (`jobs.rs` drives the queue step by step instead.)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use kadro::app::App;
use kadro::db::Query;
use kadro::http::time;
use kadro::jobs::worker::{JobError, JobHandler, JobRunner};
use kadro::jobs::{self, ClaimedJob, NewJob};
use kadro::state::AppState;
use reqwest::StatusCode;
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::exports::{export_status, files_under, start_export};
use crate::helpers::{TestApp, test_config, until, within};
use crate::on_both_backends;

on_both_backends!(
    production_retry_policy_and_lease,
    real_worker_retries_after_the_production_backoff,
    heartbeat_keeps_a_long_jobs_lease,
    lost_lease_stops_the_workers_writes,
    real_worker_builds_an_export_and_a_restarted_node_cleans_it_up,
);

/// Records the wall-clock start and end of each run; fails the first `failures` runs.
struct Recorder {
    failures: usize,
    runs: std::sync::Mutex<Vec<(DateTime<Utc>, DateTime<Utc>)>>,
}

#[async_trait::async_trait]
impl JobHandler for Recorder {
    async fn run(&self, _state: &AppState, _job: &ClaimedJob) -> Result<(), JobError> {
        let started = time::now();
        let mut runs = self.runs.lock().unwrap();
        runs.push((started, time::now()));
        if runs.len() <= self.failures {
            Err(JobError::Retry(format!("failure {}", runs.len())))
        } else {
            Ok(())
        }
    }
}

/// Runs until the test lets it finish, counting its starts.
struct Held {
    starts: AtomicUsize,
    release: CancellationToken,
}

/// Sets a flag when dropped without having been disarmed: the worker abandoned the run.
struct AbandonedFlag<'a>(&'a AtomicBool, bool);

impl Drop for AbandonedFlag<'_> {
    fn drop(&mut self) {
        if self.1 {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

#[async_trait::async_trait]
impl JobHandler for Held {
    async fn run(&self, _state: &AppState, _job: &ClaimedJob) -> Result<(), JobError> {
        self.starts.fetch_add(1, Ordering::SeqCst);
        self.release.cancelled().await;
        Ok(())
    }
}

#[derive(Debug, PartialEq, Eq, sqlx::FromRow)]
struct JobState {
    status: String,
    attempts: i64,
    locked_by: Option<String>,
}

async fn job_state(app: &TestApp, id: i64) -> JobState {
    Query::new("SELECT status, attempts, locked_by FROM jobs WHERE id = $1")
        .bind(id)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
}

async fn wait_for_status(app: &TestApp, id: i64, status: &'static str) {
    until(&format!("job {id} {status}"), || async move {
        job_state(app, id).await.status == status
    })
    .await;
}

/// What every kadro process runs its workers with: retries start at 2 s and double up to a
/// 10 min cap; a lease lasts a minute and is extended while the job runs.
async fn production_retry_policy_and_lease(app: TestApp) {
    let runner = &app.jobs;
    assert_eq!(runner.retry.base, Duration::from_secs(2));
    assert_eq!(runner.retry.cap, Duration::from_secs(600));
    assert_eq!(runner.lease, Duration::from_secs(60));
    let delays: Vec<u64> = (1..=11).map(|n| runner.retry.delay(n).as_secs()).collect();
    assert_eq!(
        delays,
        [2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600],
        "2 s doubling, capped at 10 min"
    );
}

async fn real_worker_retries_after_the_production_backoff(app: TestApp) {
    let recorder = Arc::new(Recorder {
        failures: 1,
        runs: Default::default(),
    });
    // The application's own runner: its retry policy is the production one.
    let runner = app
        .jobs
        .clone()
        .with_handler("test.recorder", recorder.clone());
    let id = jobs::enqueue(&app.state.db, NewJob::new("test.recorder", json!({})))
        .await
        .unwrap();
    let stop = CancellationToken::new();
    let mut workers = runner.spawn_workers(app.state.clone(), 1, stop.clone());
    wait_for_status(&app, id, "done").await;
    stop.cancel();
    within("workers stop", async {
        while workers.join_next().await.is_some() {}
    })
    .await;

    let runs = recorder.runs.lock().unwrap().clone();
    assert_eq!(runs.len(), 2, "one failure, one success");
    assert_eq!(job_state(&app, id).await.attempts, 2);
    let run_at: DateTime<Utc> = Query::new("SELECT run_at FROM jobs WHERE id = $1")
        .bind(id)
        .scalar(&app.state.db)
        .await
        .unwrap();
    let (first_end, second_start) = (runs[0].1, runs[1].0);
    // The retry was due 2 s after the failure (not sooner, not a doubled 4 s), and the worker
    // did not take it before it was due.
    let backoff = run_at - first_end;
    assert!(
        backoff >= chrono::Duration::seconds(2) && backoff < chrono::Duration::seconds(4),
        "retry due {backoff} after the failure"
    );
    assert!(second_start >= run_at, "retried before it was due");
}

/// The job outlives its first lease: while it runs, the heartbeat moves the lease on, so the
/// other workers, polling all along, never take it over.
async fn heartbeat_keeps_a_long_jobs_lease(app: TestApp) {
    let held = Arc::new(Held {
        starts: AtomicUsize::new(0),
        release: CancellationToken::new(),
    });
    // The heartbeat extends every second; a stall of up to two seconds on a loaded machine
    // still keeps the lease.
    let mut runner = JobRunner::default().with_handler("test.held", held.clone());
    runner.lease = Duration::from_secs(3);
    runner.poll = Duration::from_millis(50);
    let id = jobs::enqueue(&app.state.db, NewJob::new("test.held", json!({})))
        .await
        .unwrap();
    let stop = CancellationToken::new();
    let mut workers = runner.spawn_workers(app.state.clone(), 3, stop.clone());
    wait_for_status(&app, id, "running").await;
    let (owner, first_lease_end) = lease(&app, id).await;
    // Well past the end of the first lease: only the heartbeat can have kept the job.
    let past = first_lease_end + chrono::Duration::seconds(1);
    until("the first lease is long over", || async move {
        time::now() > past
    })
    .await;
    let (holder, lease_end) = lease(&app, id).await;
    assert_eq!(holder, owner, "the job changed hands");
    assert!(
        lease_end > first_lease_end,
        "lease not extended: {lease_end} <= {first_lease_end}"
    );
    assert_eq!(job_state(&app, id).await.status, "running");
    assert_eq!(
        held.starts.load(Ordering::SeqCst),
        1,
        "taken over and run again"
    );
    held.release.cancel();
    wait_for_status(&app, id, "done").await;
    stop.cancel();
    within("workers stop", async {
        while workers.join_next().await.is_some() {}
    })
    .await;
    assert_eq!(held.starts.load(Ordering::SeqCst), 1, "ran exactly once");
    let state = job_state(&app, id).await;
    assert_eq!((state.status.as_str(), state.attempts), ("done", 1));
}

/// Who holds the job `id`, and until when.
async fn lease(app: &TestApp, id: i64) -> (String, DateTime<Utc>) {
    #[derive(sqlx::FromRow)]
    struct Lease {
        locked_by: String,
        locked_until: DateTime<Utc>,
    }
    let row: Lease = Query::new("SELECT locked_by, locked_until FROM jobs WHERE id = $1")
        .bind(id)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    (row.locked_by, row.locked_until)
}

/// Runs until cancelled, recording whether the worker dropped it.
struct Abandoned {
    dropped: AtomicBool,
    starts: AtomicUsize,
}

#[async_trait::async_trait]
impl JobHandler for Abandoned {
    async fn run(&self, _state: &AppState, _job: &ClaimedJob) -> Result<(), JobError> {
        self.starts.fetch_add(1, Ordering::SeqCst);
        let _flag = AbandonedFlag(&self.dropped, true);
        std::future::pending().await
    }
}

async fn lost_lease_stops_the_workers_writes(app: TestApp) {
    let handler = Arc::new(Abandoned {
        dropped: AtomicBool::new(false),
        starts: AtomicUsize::new(0),
    });
    let mut runner = JobRunner::default().with_handler("test.abandoned", handler.clone());
    runner.lease = Duration::from_millis(600);
    let id = jobs::enqueue(&app.state.db, NewJob::new("test.abandoned", json!({})))
        .await
        .unwrap();
    let stop = CancellationToken::new();
    let mut workers = runner.spawn_workers(app.state.clone(), 1, stop.clone());
    wait_for_status(&app, id, "running").await;
    // Another process takes the job over (as after a long pause of this one).
    let until_later = time::now() + chrono::Duration::minutes(10);
    let stolen =
        Query::new("UPDATE jobs SET locked_by = 'other-node', locked_until = $1 WHERE id = $2")
            .bind(until_later)
            .bind(id)
            .execute(&app.state.db)
            .await
            .unwrap();
    assert_eq!(stolen, 1);
    // The heartbeat notices, the worker abandons the run...
    until("the worker abandons the run", || async {
        handler.dropped.load(Ordering::SeqCst)
    })
    .await;
    stop.cancel();
    within("workers stop", async {
        while workers.join_next().await.is_some() {}
    })
    .await;
    // ...and writes nothing over the new owner's claim: neither a failure nor a release.
    assert_eq!(
        job_state(&app, id).await,
        JobState {
            status: "running".into(),
            attempts: 1,
            locked_by: Some("other-node".into()),
        }
    );
    assert_eq!(handler.starts.load(Ordering::SeqCst), 1);
    let error: Option<String> = Query::new("SELECT last_error FROM jobs WHERE id = $1")
        .bind(id)
        .scalar(&app.state.db)
        .await
        .unwrap();
    assert_eq!(error, None);
}

/// The export is built by the process's own worker (no step-by-step draining); after it
/// expires, a process that starts with workers runs the cleanup at once and removes the file
/// and the key.
async fn real_worker_builds_an_export_and_a_restarted_node_cleans_it_up(app: TestApp) {
    let stop = CancellationToken::new();
    let mut workers = app.jobs.spawn_workers(app.state.clone(), 1, stop.clone());
    let key = start_export(&app, "fields=id&fields=email&format=csv").await;
    let test = &app;
    let key_ref = key.as_str();
    until("the worker builds the export", || async move {
        export_status(test, key_ref).await.1["status"] == "completed"
    })
    .await;
    stop.cancel();
    within("workers stop", async {
        while workers.join_next().await.is_some() {}
    })
    .await;
    let files = |dir: &std::path::Path| files_under(dir).len();
    assert_eq!(files(&app.export_dir.0), 1);

    Query::new("UPDATE exports SET expires_at = $1 WHERE cache_key = $2")
        .bind(time::now() - chrono::Duration::seconds(1))
        .bind(&key)
        .execute(&app.state.db)
        .await
        .unwrap();
    // A second process on the same database and export directory, with a worker.
    let mut config = test_config(&app.db.url, &app.export_dir.0);
    config.workers = 1;
    let second = App::build(config).await.expect("build second process");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let second_stop = CancellationToken::new();
    let server = tokio::spawn(second.serve(listener, second_stop.clone()));
    until("the second process's cleanup runs", || async {
        files(&app.export_dir.0) == 0
    })
    .await;
    until("the expired key is gone", || async move {
        export_status(test, key_ref).await.0 == StatusCode::NOT_FOUND
    })
    .await;
    second_stop.cancel();
    within("the second process stops", server)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(app.count("SELECT COUNT(*) FROM exports").await, 0);
}
