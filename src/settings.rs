//! Settings kept in the database: the signing key generated on first start.

use rand::RngCore;

use crate::config::Secret;
use crate::db::{Db, Query};

/// The signing key: read from `settings`, or generated and stored once. Concurrent first starts
/// agree on one key (the insert is conditional and everyone re-reads).
pub async fn secret_key(db: &Db) -> anyhow::Result<Secret> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    Query::new(
        "INSERT INTO settings (key, value) VALUES ('secret_key', $1) ON CONFLICT (key) DO NOTHING",
    )
    .bind(hex::encode(bytes))
    .execute(db)
    .await?;
    let key: String = Query::new("SELECT value FROM settings WHERE key = 'secret_key'")
        .scalar(db)
        .await?;
    Ok(Secret::new(key))
}
