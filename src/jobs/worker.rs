//! The worker loop: claim, run the kind's handler under a lease, record the outcome.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{ClaimedJob, RetryPolicy};
use crate::http::{time, with_request_id};
use crate::state::AppState;

/// Why a job attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth retrying later (a remote service down, a timeout).
    #[error("{0}")]
    Retry(String),
    /// Retrying cannot help (the payload is invalid, the row is gone).
    #[error("{0}")]
    Permanent(String),
}

impl From<sqlx::Error> for JobError {
    fn from(e: sqlx::Error) -> Self {
        JobError::Retry(format!("database: {e}"))
    }
}

/// Runs jobs of one kind.
#[async_trait::async_trait]
pub trait JobHandler: Send + Sync {
    async fn run(&self, state: &AppState, job: &ClaimedJob) -> Result<(), JobError>;
}

/// Handlers by job kind, and the timing of claims and leases.
#[derive(Clone)]
pub struct JobRunner {
    handlers: Arc<HashMap<&'static str, Arc<dyn JobHandler>>>,
    pub retry: RetryPolicy,
    pub lease: Duration,
    pub poll: Duration,
}

impl Default for JobRunner {
    fn default() -> Self {
        Self {
            handlers: Arc::new(HashMap::new()),
            retry: RetryPolicy::default(),
            lease: Duration::from_secs(60),
            poll: Duration::from_millis(500),
        }
    }
}

/// What one step of a worker did.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    Idle,
    Done(i64),
    Failed(i64),
    Released(i64),
}

impl JobRunner {
    pub fn with_handler(mut self, kind: &'static str, handler: Arc<dyn JobHandler>) -> Self {
        Arc::make_mut(&mut self.handlers).insert(kind, handler);
        self
    }

    /// Claims and runs at most one job. Tests drive the queue with this, step by step.
    pub async fn run_one(
        &self,
        state: &AppState,
        worker: &str,
        stop: &CancellationToken,
    ) -> anyhow::Result<Step> {
        let Some(job) = super::claim_next(&state.db, worker, time::now(), self.lease).await? else {
            return Ok(Step::Idle);
        };
        let span = tracing::info_span!(
            "job",
            kind = %job.kind,
            job = job.id,
            attempt = job.attempts,
            request_id = tracing::field::Empty,
        );
        if let Some(id) = &job.request_id {
            span.record("request_id", id.as_str());
        }
        // Jobs that this job queues keep the id of the request at the origin.
        let request_id = job.request_id.clone();
        with_request_id(request_id, self.run_claimed(state, worker, stop, job))
            .instrument(span)
            .await
    }

    /// Claims and runs the job `id` if it is due ([`Step::Idle`] when it is not, or another
    /// worker holds it).
    pub async fn run_job(
        &self,
        state: &AppState,
        worker: &str,
        stop: &CancellationToken,
        id: i64,
    ) -> anyhow::Result<Step> {
        let Some(job) = super::claim_job(&state.db, id, worker, time::now(), self.lease).await?
        else {
            return Ok(Step::Idle);
        };
        let span =
            tracing::info_span!("job", kind = %job.kind, job = job.id, attempt = job.attempts);
        self.run_claimed(state, worker, stop, job)
            .instrument(span)
            .await
    }

    async fn run_claimed(
        &self,
        state: &AppState,
        worker: &str,
        stop: &CancellationToken,
        job: ClaimedJob,
    ) -> anyhow::Result<Step> {
        let db = &state.db;
        let started = std::time::Instant::now();
        let outcome = match self.handlers.get(job.kind.as_str()) {
            None => Err(JobError::Permanent(format!(
                "no handler for job kind {:?}",
                job.kind
            ))),
            Some(handler) => {
                let run = handler.run(state, &job);
                let heartbeat = self.keep_lease(state, &job, worker);
                tokio::select! {
                    result = run => result,
                    _ = heartbeat => Err(JobError::Retry("lease lost".into())),
                    _ = stop.cancelled() => {
                        super::release(db, job.id, worker).await?;
                        tracing::info!("job released at shutdown");
                        return Ok(Step::Released(job.id));
                    }
                }
            }
        };
        let elapsed = started.elapsed().as_secs_f64();
        metrics::histogram!("kadro_job_duration_seconds", "kind" => job.kind.clone())
            .record(elapsed);
        match outcome {
            Ok(()) => {
                super::complete(db, job.id, worker).await?;
                tracing::info!(elapsed, "job done");
                Ok(Step::Done(job.id))
            }
            Err(err) => {
                let permanent = matches!(err, JobError::Permanent(_));
                super::fail(db, &job, worker, &err.to_string(), permanent, self.retry).await?;
                tracing::warn!(error = %err, permanent, "job failed");
                Ok(Step::Failed(job.id))
            }
        }
    }

    /// Extends the lease every third of its length; resolves only if the lease was lost.
    async fn keep_lease(&self, state: &AppState, job: &ClaimedJob, worker: &str) {
        let period = self.lease / 3;
        loop {
            tokio::time::sleep(period).await;
            let until = time::now() + chrono::Duration::from_std(self.lease).unwrap_or_default();
            match super::extend_lease(&state.db, job.id, worker, until).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => tracing::warn!(error = %e, "could not extend lease"),
            }
        }
    }

    /// Runs `count` workers until `stop` is cancelled; a running job is released at shutdown.
    pub fn spawn_workers(
        &self,
        state: AppState,
        count: usize,
        stop: CancellationToken,
    ) -> tokio::task::JoinSet<()> {
        let mut set = tokio::task::JoinSet::new();
        for n in 0..count {
            let runner = self.clone();
            let state = state.clone();
            let stop = stop.clone();
            let worker = format!("{}-{}-{n}", hostname(), std::process::id());
            set.spawn(async move {
                while !stop.is_cancelled() {
                    match runner.run_one(&state, &worker, &stop).await {
                        Ok(Step::Idle) => {
                            tokio::select! {
                                _ = tokio::time::sleep(runner.poll) => {}
                                _ = state.job_signal.notified() => {}
                                _ = stop.cancelled() => {}
                            }
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "job worker error");
                            tokio::select! {
                                _ = tokio::time::sleep(runner.poll * 4) => {}
                                _ = stop.cancelled() => {}
                            }
                        }
                    }
                }
            });
        }
        set
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| "kadro".into())
}
