//! The durable job queue: exactly-once claims, retries with backoff, lease expiry, release.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kadro::db::Query;
use kadro::http::time;
use kadro::jobs::worker::{JobError, JobHandler, JobRunner, Step};
use kadro::jobs::{self, ClaimedJob, NewJob, RetryPolicy};
use kadro::state::AppState;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::helpers::{TestApp, until, within};
use crate::on_both_backends;

on_both_backends!(
    concurrent_workers_claim_each_job_once,
    failed_job_is_retried_after_backoff,
    permanent_failure_and_exhausted_attempts,
    expired_lease_is_taken_over,
    shutdown_releases_the_running_job,
);

/// Fails its first `failures` runs, then succeeds.
struct Flaky {
    failures: usize,
    runs: AtomicUsize,
}

#[async_trait::async_trait]
impl JobHandler for Flaky {
    async fn run(&self, _state: &AppState, _job: &ClaimedJob) -> Result<(), JobError> {
        let run = self.runs.fetch_add(1, Ordering::SeqCst);
        if run < self.failures {
            Err(JobError::Retry(format!("boom {run}")))
        } else {
            Ok(())
        }
    }
}

struct Never;

#[async_trait::async_trait]
impl JobHandler for Never {
    async fn run(&self, _state: &AppState, _job: &ClaimedJob) -> Result<(), JobError> {
        std::future::pending().await
    }
}

struct Permanent;

#[async_trait::async_trait]
impl JobHandler for Permanent {
    async fn run(&self, _state: &AppState, _job: &ClaimedJob) -> Result<(), JobError> {
        Err(JobError::Permanent("bad payload".into()))
    }
}

async fn job_row(app: &TestApp, id: i64) -> (String, i64) {
    #[derive(sqlx::FromRow)]
    struct Row {
        status: String,
        attempts: i64,
    }
    let row: Row = Query::new("SELECT status, attempts FROM jobs WHERE id = $1")
        .bind(id)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    (row.status, row.attempts)
}

async fn concurrent_workers_claim_each_job_once(app: TestApp) {
    let total = 120;
    for i in 0..total {
        jobs::enqueue(&app.state.db, NewJob::new("test.noop", json!({ "n": i })))
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    for w in 0..6 {
        let db = app.state.db.clone();
        tasks.push(tokio::spawn(async move {
            let worker = format!("worker-{w}");
            let mut claimed = Vec::new();
            while let Some(job) =
                jobs::claim_next(&db, &worker, time::now(), Duration::from_secs(60))
                    .await
                    .unwrap()
            {
                claimed.push(job.id);
                jobs::complete(&db, job.id, &worker).await.unwrap();
            }
            claimed
        }));
    }
    let mut seen = HashSet::new();
    let mut count = 0;
    for task in tasks {
        for id in within("a worker's claims", task).await.unwrap() {
            count += 1;
            assert!(seen.insert(id), "job {id} claimed twice");
        }
    }
    assert_eq!(count, total);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM jobs WHERE status = 'done'")
            .await,
        total as i64
    );
}

async fn failed_job_is_retried_after_backoff(app: TestApp) {
    let mut runner = JobRunner::default().with_handler(
        "test.flaky",
        Arc::new(Flaky {
            failures: 2,
            runs: AtomicUsize::new(0),
        }),
    );
    runner.retry = RetryPolicy {
        base: Duration::from_secs(30),
        cap: Duration::from_secs(45),
    };
    let id = jobs::enqueue(&app.state.db, NewJob::new("test.flaky", json!({})))
        .await
        .unwrap();
    let stop = CancellationToken::new();
    let run_at = |app: &TestApp| {
        let db = app.state.db.clone();
        async move {
            Query::new("SELECT run_at FROM jobs WHERE id = $1")
                .bind(id)
                .scalar::<chrono::DateTime<chrono::Utc>>(&db)
                .await
                .unwrap()
        }
    };
    // The retry is due `delay` after the failure: after the attempt started, before it ended.
    let fail_once = |expected_delay: i64| {
        let runner = &runner;
        let stop = &stop;
        let app = &app;
        async move {
            let before = time::now();
            assert_eq!(
                runner.run_one(&app.state, "w", stop).await.unwrap(),
                Step::Failed(id)
            );
            let after = time::now();
            let due = run_at(app).await;
            let delay = chrono::Duration::seconds(expected_delay);
            assert!(
                before + delay <= due && due <= after + delay,
                "retry due at {due}, expected {expected_delay} s after the failure"
            );
        }
    };
    fail_once(30).await;
    assert_eq!(job_row(&app, id).await, ("queued".into(), 1));
    // Not due yet: the backoff keeps it waiting.
    assert_eq!(
        runner.run_one(&app.state, "w", &stop).await.unwrap(),
        Step::Idle
    );
    // Time passes: the retry runs, fails again and backs off twice as long (capped at 45 s).
    let move_due_date_to_now = || {
        Query::new("UPDATE jobs SET run_at = $1 WHERE id = $2")
            .bind(time::now())
            .bind(id)
    };
    move_due_date_to_now().execute(&app.state.db).await.unwrap();
    fail_once(45).await;
    assert_eq!(job_row(&app, id).await, ("queued".into(), 2));
    move_due_date_to_now().execute(&app.state.db).await.unwrap();
    assert_eq!(
        runner.run_one(&app.state, "w", &stop).await.unwrap(),
        Step::Done(id)
    );
    assert_eq!(job_row(&app, id).await, ("done".into(), 3));
}

async fn permanent_failure_and_exhausted_attempts(app: TestApp) {
    let runner = JobRunner::default()
        .with_handler("test.permanent", Arc::new(Permanent))
        .with_handler(
            "test.flaky",
            Arc::new(Flaky {
                failures: 100,
                runs: AtomicUsize::new(0),
            }),
        );
    let stop = CancellationToken::new();
    let permanent = jobs::enqueue(&app.state.db, NewJob::new("test.permanent", json!({})))
        .await
        .unwrap();
    assert_eq!(
        runner.run_one(&app.state, "w", &stop).await.unwrap(),
        Step::Failed(permanent)
    );
    assert_eq!(job_row(&app, permanent).await, ("failed".into(), 1));

    let limited = jobs::enqueue(
        &app.state.db,
        NewJob {
            max_attempts: 2,
            ..NewJob::new("test.flaky", json!({}))
        },
    )
    .await
    .unwrap();
    for _ in 0..2 {
        Query::new("UPDATE jobs SET run_at = $1 WHERE id = $2")
            .bind(time::now())
            .bind(limited)
            .execute(&app.state.db)
            .await
            .unwrap();
        assert_eq!(
            runner.run_one(&app.state, "w", &stop).await.unwrap(),
            Step::Failed(limited)
        );
    }
    assert_eq!(job_row(&app, limited).await, ("failed".into(), 2));
    let error: Option<String> = Query::new("SELECT last_error FROM jobs WHERE id = $1")
        .bind(limited)
        .scalar(&app.state.db)
        .await
        .unwrap();
    assert_eq!(error.as_deref(), Some("boom 1"));
}

async fn expired_lease_is_taken_over(app: TestApp) {
    let id = jobs::enqueue(&app.state.db, NewJob::new("test.flaky", json!({})))
        .await
        .unwrap();
    // A worker claims the job under a real lease, then its task is killed mid-run.
    let mut runner = JobRunner::default().with_handler("test.flaky", Arc::new(Never));
    runner.lease = Duration::from_secs(30);
    let state = app.state.clone();
    let doomed = tokio::spawn(async move {
        runner
            .run_one(&state, "doomed", &CancellationToken::new())
            .await
    });
    let test = &app;
    until("the job runs", || async move {
        job_row(test, id).await.0 == "running"
    })
    .await;
    doomed.abort();
    let _ = within("the killed worker ends", doomed).await;
    let lease = Duration::from_secs(30);
    // While the lease holds, nobody else takes the job.
    assert!(
        jobs::claim_next(&app.state.db, "rescuer", time::now(), lease)
            .await
            .unwrap()
            .is_none()
    );
    // Once it has expired, another worker does, and the attempt is counted.
    let later = time::now() + chrono::Duration::seconds(31);
    let taken = jobs::claim_next(&app.state.db, "rescuer", later, lease)
        .await
        .unwrap()
        .expect("taken over");
    assert_eq!((taken.id, taken.attempts), (id, 2));
    // The dead worker can no longer touch it: its completion, failure and lease extension
    // change nothing while the rescuer holds the job.
    jobs::complete(&app.state.db, id, "doomed").await.unwrap();
    let doomed_claim = ClaimedJob {
        attempts: 1,
        ..taken.clone()
    };
    jobs::fail(
        &app.state.db,
        &doomed_claim,
        "doomed",
        "late",
        true,
        RetryPolicy::default(),
    )
    .await
    .unwrap();
    assert!(
        !jobs::extend_lease(&app.state.db, id, "doomed", later)
            .await
            .unwrap()
    );
    assert_eq!(job_row(&app, id).await, ("running".into(), 2));
    jobs::complete(&app.state.db, id, "rescuer").await.unwrap();
    assert_eq!(job_row(&app, id).await, ("done".into(), 2));
}

async fn shutdown_releases_the_running_job(app: TestApp) {
    let id = jobs::enqueue(&app.state.db, NewJob::new("test.never", json!({})))
        .await
        .unwrap();
    let runner = JobRunner::default().with_handler("test.never", Arc::new(Never));
    let stop = CancellationToken::new();
    let state = app.state.clone();
    let task = {
        let stop = stop.clone();
        tokio::spawn(async move { runner.run_one(&state, "w", &stop).await.unwrap() })
    };
    let test = &app;
    until("the job runs", || async move {
        job_row(test, id).await.0 == "running"
    })
    .await;
    stop.cancel();
    assert_eq!(
        within("the worker stops", task).await.unwrap(),
        Step::Released(id)
    );
    assert_eq!(job_row(&app, id).await, ("queued".into(), 0));
}
