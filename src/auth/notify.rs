//! Hearing other nodes' authentication changes on PostgreSQL: `LISTEN kadro_auth` on a
//! connection of its own; each notification (sent by the triggers of migration 0011 when such
//! a change commits) forgets every cached caller.
//!
//! A node never serves a cache that may have missed a notification: until the listener is
//! connected, and from the moment its connection is lost until it is back, the cache is not
//! used ([`AuthCache::set_live`]), and everything cached before is forgotten.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;

use super::cache::AuthCache;

/// The channel the triggers notify.
pub const CHANNEL: &str = "kadro_auth";

/// Waits between reconnection attempts, doubling up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Listens until `stop` is cancelled, reconnecting whenever the connection is lost.
pub async fn listen(pool: PgPool, cache: Arc<AuthCache>, stop: CancellationToken) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        cache.set_live(false);
        let connected = tokio::select! {
            connected = connect(&pool) => connected,
            _ = stop.cancelled() => return,
        };
        match connected {
            Ok(mut listener) => {
                cache.set_live(true);
                tracing::debug!("listening for authentication changes");
                backoff = FIRST_BACKOFF;
                loop {
                    let received = tokio::select! {
                        received = listener.try_recv() => received,
                        _ = stop.cancelled() => return,
                    };
                    match received {
                        Ok(Some(_)) => cache.forget_all(),
                        Ok(None) => {
                            tracing::warn!("lost the authentication change listener; reconnecting");
                            break;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "authentication change listener failed; reconnecting");
                            break;
                        }
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for authentication changes; token cache bypassed");
            }
        }
        cache.set_live(false);
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.cancelled() => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn connect(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}
