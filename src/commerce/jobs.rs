//! Background Commerce calls: durable, retried with backoff until Commerce accepts.

use std::sync::Arc;

use serde_json::json;

use super::Commerce;
use crate::app::AppState;
use crate::db::{Query, Target};
use crate::jobs::worker::{JobError, JobHandler, JobRunner};
use crate::jobs::{self, ClaimedJob, NewJob};

pub const UPDATE_REMOTE_ID: &str = "commerce.update_remote_id";
pub const SYNC_ACTIVE: &str = "commerce.sync_active";

/// Registers the Commerce job handlers.
pub fn register(runner: JobRunner) -> JobRunner {
    runner
        .with_handler(UPDATE_REMOTE_ID, Arc::new(UpdateRemoteId))
        .with_handler(SYNC_ACTIVE, Arc::new(SyncActive))
}

/// Queues the lookup of a user's Commerce id.
pub async fn queue_update_remote_id<'a>(
    target: impl Into<Target<'a>>,
    user_id: i64,
) -> Result<i64, sqlx::Error> {
    jobs::enqueue(
        target,
        NewJob::new(UPDATE_REMOTE_ID, json!({ "user_id": user_id })),
    )
    .await
}

fn user_id(job: &ClaimedJob) -> Result<i64, JobError> {
    serde_json::from_str::<serde_json::Value>(&job.payload)
        .ok()
        .and_then(|p| p.get("user_id").and_then(serde_json::Value::as_i64))
        .ok_or_else(|| JobError::Permanent(format!("bad payload {}", job.payload)))
}

/// `GET /users/?email=…` on Commerce, then stores `results[0].id` as the user's `remote_id`.
struct UpdateRemoteId;

#[async_trait::async_trait]
impl JobHandler for UpdateRemoteId {
    async fn run(&self, state: &AppState, job: &ClaimedJob) -> Result<(), JobError> {
        let id = user_id(job)?;
        let email: Option<String> = Query::new("SELECT email FROM users WHERE id = $1")
            .bind(id)
            .scalar_optional(&state.db)
            .await?;
        let Some(email) = email else {
            return Err(JobError::Permanent(format!("user {id} is gone")));
        };
        let remote_id = match &state.commerce {
            Commerce::Local => Some(id),
            Commerce::Remote(remote) => remote
                .find_id_by_email(&email)
                .await
                .map_err(|e| JobError::Retry(e.to_string()))?,
        };
        let Some(remote_id) = remote_id else {
            return Err(JobError::Retry(format!(
                "Commerce has no user with email of user {id} yet"
            )));
        };
        Query::new("UPDATE users SET remote_id = $1 WHERE id = $2")
            .bind(remote_id)
            .bind(id)
            .execute(&state.db)
            .await?;
        Ok(())
    }
}

/// Sends the user's current `is_active` to Commerce. Sending the current state rather than the
/// one at queue time keeps Commerce right even when jobs run late or out of order.
struct SyncActive;

#[async_trait::async_trait]
impl JobHandler for SyncActive {
    async fn run(&self, state: &AppState, job: &ClaimedJob) -> Result<(), JobError> {
        let id = user_id(job)?;
        #[derive(sqlx::FromRow)]
        struct Row {
            remote_id: Option<i64>,
            is_active: bool,
        }
        let row: Option<Row> = Query::new("SELECT remote_id, is_active FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&state.db)
            .await?;
        let Some(row) = row else { return Ok(()) };
        match (&state.commerce, row.remote_id) {
            (Commerce::Remote(remote), Some(remote_id)) => remote
                .set_active(remote_id, row.is_active)
                .await
                .map_err(|e| JobError::Retry(e.to_string())),
            _ => Ok(()),
        }
    }
}
