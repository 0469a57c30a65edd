//! Expiry: export keys and files live `KADRO_EXPORT_TTL_SECONDS`; a periodic task in every
//! process that runs workers deletes what has expired, and expired imports with their reports
//! ([`crate::imports::cleanup`]), and purges old finished jobs, and audit
//! events and finished webhook deliveries older than `KADRO_AUDIT_RETENTION_DAYS`. It also lets
//! go webhook deliveries left waiting behind nothing ([`crate::webhooks::outbox::release_stranded`]).

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::format::Format;
use super::job::file_name;
use super::record;
use crate::http::time;
use crate::jobs;
use crate::state::AppState;
use crate::webhooks::outbox;

/// How often the cleanup runs.
pub const EVERY: Duration = Duration::from_secs(600);

/// Finished jobs (done or failed) are kept this long for inspection.
pub const JOB_RETENTION: chrono::Duration = chrono::Duration::days(7);

const BATCH: i64 = 500;

/// What one cleanup removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Cleaned {
    pub exports: u64,
    pub imports: u64,
    pub jobs: u64,
    pub audit_events: u64,
    pub webhook_deliveries: u64,
    pub webhook_released: u64,
}

/// Deletes the files and rows of exports and imports expired at `now`, and jobs finished before
/// `now - JOB_RETENTION`. Safe to run concurrently in several processes.
pub async fn run_once(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<Cleaned> {
    let mut cleaned = Cleaned::default();
    loop {
        let expired = record::expired(&state.db, now, BATCH).await?;
        for export in &expired {
            let name = match (&export.file_name, Format::parse(&export.format)) {
                (Some(name), _) => Some(name.clone()),
                (None, Some(format)) => Some(file_name(&export.cache_key, format)),
                (None, None) => None,
            };
            if let Some(name) = name {
                state.exports.delete(&name).await?;
                state.exports.discard_scratch(&name).await?;
            }
            record::delete(&state.db, export.id).await?;
            cleaned.exports += 1;
        }
        if (expired.len() as i64) < BATCH {
            break;
        }
    }
    cleaned.imports = crate::imports::cleanup::run_once(&state.db, now).await?;
    cleaned.jobs = jobs::purge_finished(&state.db, now - JOB_RETENTION).await?;
    let audit_cutoff = now - state.config.audit_retention();
    cleaned.audit_events = crate::audit::purge_before(&state.db, audit_cutoff).await?;
    cleaned.webhook_deliveries = outbox::purge_before(&state.db, audit_cutoff).await?;
    cleaned.webhook_released = outbox::release_stranded(&state.db).await?;
    Ok(cleaned)
}

/// Runs [`run_once`] every [`EVERY`] until `stop` is cancelled.
pub async fn run_periodically(state: AppState, stop: CancellationToken) {
    let mut ticks = tokio::time::interval(EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.cancelled() => return,
        }
        match run_once(&state, time::now()).await {
            Ok(cleaned) if cleaned != Cleaned::default() => {
                tracing::info!(
                    exports = cleaned.exports,
                    imports = cleaned.imports,
                    jobs = cleaned.jobs,
                    audit_events = cleaned.audit_events,
                    webhook_deliveries = cleaned.webhook_deliveries,
                    webhook_released = cleaned.webhook_released,
                    "cleanup"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cleanup failed"),
        }
    }
}
