//! What every target's batch ends with: its refused rows and the import's progress, written in
//! the batch's transaction (a dry run's writes are rolled back first, its report kept).

use super::record::{self, BatchCounts, ImportRow};
use crate::db::Tx;
use crate::http::error::{ApiError, FieldErrors};
use crate::state::AppState;

/// The refused rows of a batch: (row, field, message), one entry per message.
#[derive(Debug, Default)]
pub struct Refused(Vec<(i64, String, String)>);

impl Refused {
    pub fn add(&mut self, row: i64, field: impl Into<String>, message: impl Into<String>) {
        self.0.push((row, field.into(), message.into()));
    }

    /// Every message of `errors`, on `row`.
    pub fn add_all(&mut self, row: i64, errors: &FieldErrors) {
        for (field, messages) in errors.iter() {
            for message in messages {
                self.add(row, field, message.clone());
            }
        }
    }
}

/// Records the batch's refused rows and progress and commits `tx`; in a dry run, `tx` (the
/// rows' writes) is rolled back and only the report and progress are committed.
pub async fn commit(
    state: &AppState,
    import: &ImportRow,
    mut tx: Tx,
    mut counts: BatchCounts,
    mut refused: Refused,
) -> Result<(), ApiError> {
    if import.dry_run {
        drop(tx); // rolled back: a dry run writes no account
        tx = state.db.begin().await?;
    }
    refused.0.sort_by_key(|r| r.0);
    let mut failed_rows: Vec<i64> = refused.0.iter().map(|r| r.0).collect();
    failed_rows.dedup();
    counts.failed = failed_rows.len() as i64;
    for (row, field, message) in &refused.0 {
        record::add_error(&mut tx, import.id, *row, field, message).await?;
    }
    record::add_batch(&mut tx, import.id, counts).await?;
    tx.commit().await?;
    state.job_signal.notify_one();
    Ok(())
}
