//! Signed webhooks: integrators are told of every change the audit log records.
//!
//! A webhook subscribes to audit actions (`user.create`), their prefix (`user.*`) or all of
//! them (`*`), from the audit log's one list ([`crate::audit::actions`]). Recording an event
//! queues a delivery per matching active webhook in the same transaction ([`outbox`]); the job
//! workers send it ([`delivery`]), signed with the webhook's secret, at least once, in order
//! per object, retrying with exponential backoff for 24 hours. Targets are checked
//! ([`address`]): `https` and public addresses only, unless `KADRO_WEBHOOK_ALLOW_PRIVATE`.

pub mod address;
pub mod delivery;
pub mod outbox;
pub mod queries;
pub mod routes;
pub mod types;

use std::sync::Arc;
use std::time::Duration;

use crate::jobs::RetryPolicy;
use crate::jobs::worker::JobRunner;

pub use routes::router;

/// The job of one delivery attempt.
pub const DELIVER_JOB: &str = "webhook.deliver";

/// The delay before each next attempt: 30 s, doubling, at most 4 hours apart.
pub const SCHEDULE: RetryPolicy = RetryPolicy {
    base: Duration::from_secs(30),
    cap: Duration::from_secs(4 * 3600),
};

/// How long a delivery is retried before it is marked failed.
pub const RETRY_HOURS: i64 = 24;

/// Registers the delivery job.
pub fn register(runner: JobRunner) -> JobRunner {
    runner.with_handler(DELIVER_JOB, Arc::new(delivery::Deliver))
}
