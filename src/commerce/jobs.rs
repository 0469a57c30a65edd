//! Background Commerce calls: durable, retried with backoff until Commerce accepts.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::{Commerce, Profile};
use crate::b2b::users::store as users;
use crate::config::Config;
use crate::db::{Query, Target};
use crate::jobs::worker::{JobError, JobHandler, JobRunner};
use crate::jobs::{self, ClaimedJob, NewJob};
use crate::state::AppState;

pub const UPDATE_REMOTE_ID: &str = "commerce.update_remote_id";
pub const SYNC_ACTIVE: &str = "commerce.sync_active";
pub const SYNC_USER: &str = "commerce.sync_user";
pub const SETTLE_REGISTRATION: &str = "commerce.settle_registration";

/// Registers the Commerce job handlers.
pub fn register(runner: JobRunner) -> JobRunner {
    runner
        .with_handler(UPDATE_REMOTE_ID, Arc::new(UpdateRemoteId))
        .with_handler(SYNC_ACTIVE, Arc::new(SyncActive))
        .with_handler(SYNC_USER, Arc::new(SyncUser))
        .with_handler(SETTLE_REGISTRATION, Arc::new(SettleRegistration))
}

/// When the recovery job of a request's Commerce calls may run: by then every call of the
/// request has ended (each waits at most the timeout for a slot, then the timeout for its
/// answer, and a request makes at most two).
pub fn recovery_delay(config: &Config) -> Duration {
    config.commerce_timeout() * 4 + Duration::from_secs(10)
}

/// Queues the job that sets Commerce right if the request calling it dies before it commits
/// its own change: it sends the user as kadro then has it. Cancelled by the request's commit.
pub async fn queue_sync_user<'a>(
    target: impl Into<Target<'a>>,
    config: &Config,
    user_id: i64,
) -> Result<i64, sqlx::Error> {
    let job = NewJob::new(SYNC_USER, json!({ "user_id": user_id })).after(recovery_delay(config));
    jobs::enqueue(target, job).await
}

/// Queues the job that settles a reserved registration if the request registering it dies.
pub async fn queue_settle_registration<'a>(
    target: impl Into<Target<'a>>,
    config: &Config,
    user_id: i64,
) -> Result<i64, sqlx::Error> {
    let job = NewJob::new(SETTLE_REGISTRATION, json!({ "user_id": user_id }))
        .after(recovery_delay(config));
    jobs::enqueue(target, job).await
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

/// Sends the user's current profile and `is_active` to Commerce: the recovery of an update or
/// (de)activation whose request died between the Commerce call and its commit.
struct SyncUser;

#[async_trait::async_trait]
impl JobHandler for SyncUser {
    async fn run(&self, state: &AppState, job: &ClaimedJob) -> Result<(), JobError> {
        let Commerce::Remote(remote) = &state.commerce else {
            return Ok(());
        };
        let Some(user) = crate::b2b::accounts::by_id(&state.db, user_id(job)?).await? else {
            return Ok(());
        };
        let profile = Profile {
            email: &user.email,
            first_name: &user.first_name,
            last_name: &user.last_name,
            phone_number: &user.phone_number,
        };
        let retry = |e: super::CommerceError| JobError::Retry(e.to_string());
        remote.update_profile(&profile).await.map_err(retry)?;
        if let Some(remote_id) = user.remote_id {
            remote
                .set_active(remote_id, user.is_active)
                .await
                .map_err(retry)?;
        }
        Ok(())
    }
}

/// Settles a registration whose request died between reserving the user and confirming it:
/// Commerce is asked whether it has the account; the user is confirmed when it has, removed
/// when it has not.
struct SettleRegistration;

#[async_trait::async_trait]
impl JobHandler for SettleRegistration {
    async fn run(&self, state: &AppState, job: &ClaimedJob) -> Result<(), JobError> {
        let id = user_id(job)?;
        let Some(email) = users::reserved_email(&state.db, id).await? else {
            return Ok(());
        };
        let found = match &state.commerce {
            Commerce::Local => Some(id),
            Commerce::Remote(remote) => remote
                .find_id_by_email(&email)
                .await
                .map_err(|e| JobError::Retry(e.to_string()))?,
        };
        match found {
            Some(remote_id) => users::confirm_registration(&state.db, id, Some(remote_id)).await?,
            None => users::release_registration(&state.db, id).await?,
        };
        Ok(())
    }
}
