//! The `export.build` job: stream an export's rows from the database into its file.
//!
//! Rows are read in keyset batches by the async task and sent over a small bounded channel to a
//! blocking task that owns the file writer, so at most a few batches are in memory whatever the
//! row count, and file I/O never blocks the runtime. Each attempt starts over in a fresh scratch
//! file that is only published (renamed) once complete; a crashed attempt leaves a scratch file
//! that the next attempt, or the cleanup, removes.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::format::{self, Format};
use super::record::{self, ExportRow, Status};
use super::source::RowSource;
use crate::http::time;
use crate::jobs::ClaimedJob;
use crate::jobs::worker::{JobError, JobHandler};
use crate::state::AppState;

pub const BUILD_JOB: &str = "export.build";

/// Attempts of an export before it is `failed`; a crash counts as one.
pub const MAX_ATTEMPTS: i64 = 3;

/// Rows per database round trip.
pub const BATCH_ROWS: i64 = 1000;

/// How often `rows_written` is saved while a file is written.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

#[derive(Debug, Serialize, Deserialize)]
pub struct BuildPayload {
    pub cache_key: String,
}

/// Why an attempt failed; `reason` is what the client is told, the rest goes to the log.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("storage: {0}")]
    Storage(#[from] std::io::Error),
    /// The stored request cannot be built (never retried).
    #[error("invalid export: {0}")]
    Invalid(String),
    #[error("the file writer stopped before the last row")]
    Interrupted,
}

impl ExportError {
    pub fn reason(&self) -> String {
        match self {
            ExportError::Database(_) => "The rows could not be read from the database.".into(),
            ExportError::Storage(_) => "The export file could not be written.".into(),
            ExportError::Invalid(why) => why.clone(),
            ExportError::Interrupted => "The export was interrupted.".into(),
        }
    }
}

/// The file name of an export in the store.
pub fn file_name(cache_key: &str, format: Format) -> String {
    format!("{cache_key}.{}", format.extension())
}

/// Builds one export; registered under [`BUILD_JOB`].
pub struct BuildExport;

#[async_trait::async_trait]
impl JobHandler for BuildExport {
    async fn run(&self, state: &AppState, job: &ClaimedJob) -> Result<(), JobError> {
        let payload: BuildPayload = serde_json::from_str(&job.payload)
            .map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
        let Some(export) = record::by_key(&state.db, &payload.cache_key).await? else {
            return Ok(()); // expired and cleaned up before it ran
        };
        if export.status() == Status::Completed || export.is_expired(time::now()) {
            return Ok(());
        }
        let format = Format::parse(&export.format).unwrap_or(Format::Xls);
        let name = file_name(&export.cache_key, format);
        let started = Instant::now();
        match build(state, &export, format, &name).await {
            Ok(rows) => {
                let elapsed = started.elapsed().as_secs_f64();
                metrics::histogram!("kadro_export_duration_seconds", "format" => format.extension())
                    .record(elapsed);
                tracing::info!(cache_key = %export.cache_key, rows, elapsed, "export built");
                Ok(())
            }
            Err(err) => {
                if let Err(e) = state.exports.discard_scratch(&name).await {
                    tracing::warn!(error = %e, "could not remove a failed export's scratch file");
                }
                let last =
                    job.attempts >= job.max_attempts || matches!(err, ExportError::Invalid(_));
                if last {
                    record::fail(&state.db, export.id, &err.reason()).await?;
                    Err(JobError::Permanent(err.to_string()))
                } else {
                    record::retry_later(&state.db, export.id).await?;
                    Err(JobError::Retry(err.to_string()))
                }
            }
        }
    }
}

/// One attempt: from a fresh scratch file to the published file; the number of rows written.
async fn build(
    state: &AppState,
    export: &ExportRow,
    format: Format,
    name: &str,
) -> Result<u64, ExportError> {
    let source = state
        .export_sources
        .get(&export.list)
        .ok_or_else(|| ExportError::Invalid(format!("Unknown export list: {}", export.list)))?;
    let fields: Vec<String> = serde_json::from_str(&export.fields)
        .map_err(|e| ExportError::Invalid(format!("Unknown export fields: {e}")))?;
    source.build(state, export, &fields, format, name).await
}

/// The part of an attempt that knows the list's row type: called by the list's registered
/// source once it has read its parameters back.
pub(super) async fn build_rows<S: RowSource>(
    state: &AppState,
    export: &ExportRow,
    source: S,
    fields: &[String],
    format: Format,
    name: &str,
) -> Result<u64, ExportError> {
    record::start(&state.db, export.id).await?;
    // Whatever an earlier, crashed attempt left behind goes first.
    state.exports.discard_scratch(name).await?;
    let scratch = state.exports.scratch(name).await?;
    let rows = stream(state, export.id, source, fields, format, &scratch).await?;
    state.exports.publish(&scratch, name).await?;
    record::complete(&state.db, export.id, rows as i64, name).await?;
    Ok(rows)
}

/// What the reading side sends the writing side.
enum Chunk<R> {
    Rows(Vec<R>),
    /// Every row was sent: complete the file.
    End,
}

async fn stream<S: RowSource>(
    state: &AppState,
    export_id: i64,
    source: S,
    fields: &[String],
    format: Format,
    path: &Path,
) -> Result<u64, ExportError> {
    let resolved: Vec<&'static str> = fields
        .iter()
        .map(|f| S::FIELDS.iter().copied().find(|a| a == f))
        .collect::<Option<_>>()
        .ok_or_else(|| ExportError::Invalid("Unknown export field.".into()))?;
    // The rows come from the read replica when there is one; the export's record stays on
    // the primary.
    let (db, rows) = (&state.db, &state.replica);
    let total: i64 = source.count(rows.dialect()).scalar(rows).await?;
    record::set_total(db, export_id, total).await?;

    let written = Arc::new(AtomicU64::new(0));
    let (tx, rx) = mpsc::channel::<Chunk<S::Row>>(2);
    let writer = {
        let (headers, fields, path) = (fields.to_vec(), resolved.clone(), path.to_owned());
        let written = written.clone();
        tokio::task::spawn_blocking(move || {
            write_file::<S>(format, &path, &headers, &fields, rx, &written)
        })
    };
    let mut after = i64::MIN;
    let mut saved = Instant::now();
    loop {
        let batch: Vec<S::Row> = source
            .batch(rows.dialect(), &resolved, after, BATCH_ROWS)
            .fetch_all(rows)
            .await?;
        let full = batch.len() as i64 == BATCH_ROWS;
        let Some(last) = batch.last() else { break };
        after = S::id(last);
        if tx.send(Chunk::Rows(batch)).await.is_err() {
            break; // the writer stopped; its error is returned below
        }
        if saved.elapsed() >= PROGRESS_EVERY {
            record::progress(db, export_id, written.load(Ordering::Relaxed) as i64).await?;
            saved = Instant::now();
        }
        if !full {
            break;
        }
    }
    let _ = tx.send(Chunk::End).await;
    drop(tx);
    writer
        .await
        .map_err(|e| ExportError::Storage(std::io::Error::other(e)))?
}

/// The blocking side: writes every row it receives; completes the file only on [`Chunk::End`].
fn write_file<S: RowSource>(
    format: Format,
    path: &Path,
    headers: &[String],
    fields: &[&'static str],
    mut rx: mpsc::Receiver<Chunk<S::Row>>,
    written: &AtomicU64,
) -> Result<u64, ExportError> {
    let mut out = format::create(format, path, headers)?;
    let mut count = 0u64;
    while let Some(chunk) = rx.blocking_recv() {
        match chunk {
            Chunk::Rows(rows) => {
                let mut cells = Vec::with_capacity(fields.len());
                for row in &rows {
                    cells.clear();
                    cells.extend(fields.iter().map(|f| S::cell(row, f)));
                    out.write_row(&cells)?;
                }
                count += rows.len() as u64;
                written.store(count, Ordering::Relaxed);
            }
            Chunk::End => {
                out.finish()?;
                return Ok(count);
            }
        }
    }
    Err(ExportError::Interrupted)
}
