//! The `import.run` job: reads an uploaded file in batches and imports its rows, resuming
//! after the last committed batch when an earlier attempt died.

use std::collections::HashSet;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::file::{self, Rows};
use super::record::{self, ImportRow, NewImport};
use super::{staffs, users, xlsx};
use crate::audit::{self, Actor, Event};
use crate::db::Db;
use crate::exports::record::Status;
use crate::http::error::{ApiError, ApiResult};
use crate::http::time;
use crate::jobs::worker::{JobError, JobHandler};
use crate::jobs::{self, ClaimedJob, NewJob};
use crate::state::AppState;

pub const RUN_JOB: &str = "import.run";

/// Attempts of an import before it is `failed`; a crash counts as one, and each resumes.
pub const MAX_ATTEMPTS: i64 = 5;

#[derive(Debug, Serialize, Deserialize)]
pub struct RunPayload {
    pub cache_key: String,
}

/// Records a new import and queues its run job, in one transaction; returns the job's id.
pub async fn queue(db: &Db, new: NewImport<'_>) -> ApiResult<i64> {
    let payload = serde_json::to_value(RunPayload {
        cache_key: new.cache_key.to_owned(),
    })
    .map_err(|e| ApiError::Internal(e.into()))?;
    let started = start_event(&new);
    let mut tx = db.begin().await?;
    let id = record::insert(&mut tx, new).await?;
    audit::record(
        &mut tx,
        Event {
            target_id: Some(id),
            ..started
        },
    )
    .await?;
    let job = NewJob {
        max_attempts: MAX_ATTEMPTS,
        ..NewJob::new(RUN_JOB, payload)
    };
    let job_id = jobs::enqueue(&mut tx, job).await?;
    tx.commit().await?;
    Ok(job_id)
}

/// Runs one import; registered under [`RUN_JOB`].
pub struct RunImport;

#[async_trait::async_trait]
impl JobHandler for RunImport {
    async fn run(&self, state: &AppState, job: &ClaimedJob) -> Result<(), JobError> {
        let payload: RunPayload = serde_json::from_str(&job.payload)
            .map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
        let Some(import) = record::by_key(&state.db, &payload.cache_key).await? else {
            return Ok(());
        };
        if matches!(import.status(), Status::Completed | Status::Failed)
            || import.expires_at <= time::now()
        {
            return Ok(());
        }
        match run(state, &import).await {
            Ok(()) => {
                finish(state, &import, None).await?;
                remove_upload(&import.file_path).await;
                tracing::info!(cache_key = %import.cache_key, "import completed");
                Ok(())
            }
            Err(err) if job.attempts >= job.max_attempts => {
                let reason = match &err {
                    ApiError::Validation(_) => "The file's header row is not valid.",
                    _ => "The import stopped on an internal error.",
                };
                finish(state, &import, Some(reason)).await?;
                remove_upload(&import.file_path).await;
                Err(JobError::Permanent(err.to_string()))
            }
            Err(err) => Err(JobError::Retry(err.to_string())),
        }
    }
}

/// What an import is, as its audit events tell it (never a password or a hash: the rows are
/// not named, only counted).
fn described(event: Event, target: &str, upsert: bool, dry_run: bool) -> Event {
    event
        .change("kind", Value::Null, target)
        .change(
            "mode",
            Value::Null,
            if upsert { "upsert" } else { "create" },
        )
        .change("dry_run", Value::Null, dry_run)
}

/// `import.start`, recorded with the import by the request (or command) that asked for it.
fn start_event(new: &NewImport<'_>) -> Event {
    let format = std::path::Path::new(new.file_path)
        .extension()
        .map(|e| e.to_string_lossy().into_owned());
    described(
        Event::on("import.start", "import", None),
        new.target,
        new.upsert,
        new.dry_run,
    )
    .change("format", Value::Null, format)
}

/// Ends the import (`completed`, or `failed` with `reason`) and records `import.finish` with
/// its counts in the same transaction. A worker acts for the account that asked; the command
/// line that runs its own import stays the actor.
async fn finish(
    state: &AppState,
    import: &ImportRow,
    reason: Option<&str>,
) -> Result<(), sqlx::Error> {
    let mut tx = state.db.begin().await?;
    let done = record::finish(&mut tx, import.id, reason).await?;
    let actor = audit::current_actor()
        .unwrap_or_else(|| Actor::of_owner(&import.owner_kind, import.owner_id));
    let status = if reason.is_some() {
        "failed"
    } else {
        "completed"
    };
    let event = described(
        Event::new("import.finish", "import", import.id).by(actor),
        &import.target,
        import.upsert(),
        import.dry_run,
    )
    .change("status", Value::Null, status)
    .change("rows_total", Value::Null, done.rows_total)
    .change("rows_done", Value::Null, done.rows_done)
    .change("created", Value::Null, done.created)
    .change("updated", Value::Null, done.updated)
    .change("failed", Value::Null, done.failed)
    .change("reason", Value::Null, reason);
    audit::record(&mut tx, event).await?;
    tx.commit().await?;
    Ok(())
}

/// Removes an upload (an XLSX file is removed once converted to CSV, which is removed here);
/// what the status and the report need is in the database.
pub async fn remove_upload(file_path: &str) {
    let path = PathBuf::from(file_path).with_extension("csv");
    if let Err(e) = tokio::fs::remove_file(&path).await
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(error = %e, "could not remove an import's upload");
    }
    let _ = tokio::fs::remove_file(path.with_extension("xlsx")).await;
}

fn io(e: impl Into<anyhow::Error>) -> ApiError {
    ApiError::Internal(e.into())
}

/// One attempt, from the first row not yet committed to the end of the file.
async fn run(state: &AppState, import: &ImportRow) -> Result<(), ApiError> {
    let target = super::target(&import.target)
        .ok_or_else(|| io(anyhow::anyhow!("unknown import target {}", import.target)))?;
    let mut path = PathBuf::from(&import.file_path);
    if path.extension().is_some_and(|e| e == "xlsx") {
        // Converted once; a resumed attempt finds the CSV recorded.
        let csv = path.with_extension("csv");
        let (from, to) = (path.clone(), csv.clone());
        tokio::task::spawn_blocking(move || xlsx::to_csv(&from, &to))
            .await
            .map_err(io)?
            .map_err(io)?;
        record::set_file_path(&state.db, import.id, &csv.to_string_lossy()).await?;
        let _ = tokio::fs::remove_file(&path).await;
        path = csv;
    }
    let columns = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || file::read_columns(&path, target))
            .await
            .map_err(io)??
    };
    let total = match import.rows_total {
        Some(total) => total,
        None => {
            let path = path.clone();
            tokio::task::spawn_blocking(move || file::count_rows(path))
                .await
                .map_err(io)?
                .map_err(io)?
        }
    };
    record::start(&state.db, import.id, total).await?;
    let skip = import.rows_done;
    let mut rows = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || Rows::open(&path, skip))
            .await
            .map_err(io)?
            .map_err(io)?
    };
    let mut seen = HashSet::new();
    let batch_rows = state.config.import_batch_rows as usize;
    loop {
        let (back, batch) = tokio::task::spawn_blocking(move || {
            let batch = rows.batch(batch_rows);
            (rows, batch)
        })
        .await
        .map_err(io)?;
        rows = back;
        let batch = batch.map_err(io)?;
        if batch.is_empty() {
            return Ok(());
        }
        match target.name {
            "staffs" => staffs::import_batch(state, import, &columns, batch, &mut seen).await?,
            _ => users::import_batch(state, import, &columns, batch, &mut seen).await?,
        }
    }
}
