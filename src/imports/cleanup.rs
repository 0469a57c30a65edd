//! Retention: an import expires `KADRO_IMPORT_RETENTION_SECONDS` after its upload; then its
//! row, its error report (`import_errors`, by cascade) and any upload still on disk (an import
//! that never finished) are deleted. Called by the periodic cleanup of
//! [`crate::exports::cleanup`], so every process with workers runs it.

use chrono::{DateTime, Utc};

use super::job::remove_upload;
use crate::db::{Db, Query};

const BATCH: i64 = 500;

/// Deletes the imports expired at `now` with their reports and uploads; how many. Safe to run
/// in several processes at once (a file or row already gone is no error).
pub async fn run_once(db: &Db, now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    let mut deleted = 0;
    loop {
        let expired: Vec<(i64, String)> = Query::new(
            "SELECT id, file_path FROM imports WHERE expires_at <= $1 ORDER BY id LIMIT $2",
        )
        .bind(now)
        .bind(BATCH)
        .fetch_all(db)
        .await?;
        for (id, file_path) in &expired {
            remove_upload(file_path).await;
            deleted += Query::new("DELETE FROM imports WHERE id = $1")
                .bind(*id)
                .execute(db)
                .await?;
        }
        if (expired.len() as i64) < BATCH {
            return Ok(deleted);
        }
    }
}
