//! Periodic tidying of authentication tables, in every process that runs workers: login guards
//! idle for [`lockout::FORGET_AFTER`] and, with `KADRO_TOKEN_TTL_SECONDS`, expired tokens.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::lockout;
use crate::db::{Db, Query};
use crate::http::time;

/// How often the tidying runs.
pub const EVERY: Duration = Duration::from_secs(600);

/// What one run removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tidied {
    pub login_guards: u64,
    pub expired_tokens: u64,
}

/// Removes idle login guards and tokens older than `token_ttl` (when set) at `now`.
pub async fn run_once(
    db: &Db,
    token_ttl: Option<Duration>,
    now: DateTime<Utc>,
) -> Result<Tidied, sqlx::Error> {
    let login_guards = lockout::forget_idle(db, now).await?;
    let expired_tokens = match token_ttl.and_then(|ttl| chrono::Duration::from_std(ttl).ok()) {
        Some(ttl) => {
            Query::new("DELETE FROM api_tokens WHERE created_at <= $1")
                .bind(now - ttl)
                .execute(db)
                .await?
        }
        None => 0,
    };
    Ok(Tidied {
        login_guards,
        expired_tokens,
    })
}

/// Runs [`run_once`] every [`EVERY`] until `stop` is cancelled.
pub async fn run_periodically(db: Db, token_ttl: Option<Duration>, stop: CancellationToken) {
    let mut ticks = tokio::time::interval(EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.cancelled() => return,
        }
        match run_once(&db, token_ttl, time::now()).await {
            Ok(tidied) if tidied != Tidied::default() => tracing::info!(
                login_guards = tidied.login_guards,
                expired_tokens = tidied.expired_tokens,
                "auth tidied"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "auth tidying failed"),
        }
    }
}
