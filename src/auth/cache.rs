//! An optional, short-lived cache of token → caller, saving the token lookup on most requests.
//!
//! Off by default (`KADRO_AUTH_CACHE_MS=0`): every request then reads the token and its account,
//! so a deactivated account's token stops working at once. When on, the whole cache is
//! forgotten after every successful write request handled by this process (deactivations,
//! logouts, password and permission changes all are writes), so in a single process nothing
//! changes; a change made by another kadro process, the CLI or by hand in the database is
//! seen within the configured time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

use super::Caller;
use crate::state::AppState;

/// Entries kept at most; past it the cache starts over.
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug)]
pub struct AuthCache {
    ttl: Duration,
    /// Digest → caller and the instant the entry ends.
    entries: Mutex<HashMap<String, (Caller, Instant)>>,
}

impl AuthCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    /// The caller of a token digest, if cached within the time to live.
    pub fn get(&self, digest: &str) -> Option<Caller> {
        if !self.enabled() {
            return None;
        }
        let entries = self.entries.lock().ok()?;
        let (caller, ends) = entries.get(digest)?;
        (Instant::now() < *ends).then(|| caller.clone())
    }

    /// Caches a token's caller for the time to live, or less when the token itself ends
    /// sooner (`valid_for`, with `KADRO_TOKEN_TTL_SECONDS`).
    pub fn put(&self, digest: String, caller: &Caller, valid_for: Option<Duration>) {
        if !self.enabled() {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            let keep = valid_for.map_or(self.ttl, |v| v.min(self.ttl));
            entries.insert(digest, (caller.clone(), Instant::now() + keep));
        }
    }

    /// Forgets every cached caller (after writes, and when tokens are revoked).
    pub fn forget_all(&self) {
        if self.enabled()
            && let Ok(mut entries) = self.entries.lock()
        {
            entries.clear();
        }
    }
}

/// Forgets every cached caller after a successful write request.
pub async fn forget_after_writes(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let response = next.run(req).await;
    if write && response.status().as_u16() < 400 {
        state.auth_cache.forget_all();
    }
    response
}
