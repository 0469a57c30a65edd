//! A short-lived cache of token → caller, saving the token lookup on most requests. On by
//! default (`KADRO_AUTH_CACHE_MS`); it never serves a caller that a committed change has made
//! stale, as far as this process can know it:
//!
//! - every write that commits through this process's pool (an API request, a job, the
//!   harness of a test) forgets the whole cache before the next lookup ([`crate::db::Writes`]);
//! - on PostgreSQL, other nodes' changes arrive as `NOTIFY kadro_auth` (database triggers,
//!   migration 0011) and are forgotten by [`super::notify::listen`]; while that listener is not
//!   connected the cache is bypassed, and a lost connection forgets everything;
//! - on SQLite (one process) a change by another process (the CLI, a `sqlite3` shell) is seen
//!   when the entry expires.
//!
//! A lookup that started before the cache was last forgotten does not store its answer
//! ([`Ticket`]), so a read racing a deactivation cannot put the old caller back.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

use super::Caller;
use crate::db::Writes;
use crate::state::AppState;

/// Entries kept at most; past it the cache starts over.
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug)]
pub struct AuthCache {
    ttl: Duration,
    /// The writes of this process's pool; a new one forgets everything.
    writes: Writes,
    /// False while other nodes' changes cannot be heard (PostgreSQL without its listener).
    live: AtomicBool,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Digest → caller and the instant the entry ends.
    entries: HashMap<String, (Caller, Instant)>,
    /// Bumped each time everything is forgotten.
    generation: u64,
    /// The pool's write count when last compared.
    seen_writes: u64,
}

impl Inner {
    fn forget(&mut self) {
        self.entries.clear();
        self.generation += 1;
    }
}

/// Taken before a token is looked up; its answer is stored only if nothing was forgotten since.
#[derive(Clone, Copy, Debug)]
pub struct Ticket(u64);

impl AuthCache {
    /// A cache of `ttl` (zero: off) following `writes`; `live` is false for a node that must
    /// first hear other nodes' changes ([`AuthCache::set_live`]).
    pub fn new(ttl: Duration, writes: Writes, live: bool) -> Self {
        Self {
            ttl,
            inner: Mutex::new(Inner {
                seen_writes: writes.count(),
                ..Inner::default()
            }),
            writes,
            live: AtomicBool::new(live),
        }
    }

    pub fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    /// Whether other nodes' changes are heard (always, on SQLite).
    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    fn usable(&self) -> bool {
        self.enabled() && self.is_live()
    }

    /// Runs `f` on the entries once any write since the last call has forgotten them.
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> Option<T> {
        let mut inner = self.inner.lock().ok()?;
        let writes = self.writes.count();
        if writes != inner.seen_writes {
            inner.seen_writes = writes;
            inner.forget();
        }
        Some(f(&mut inner))
    }

    pub fn ticket(&self) -> Ticket {
        Ticket(self.with(|inner| inner.generation).unwrap_or(u64::MAX))
    }

    /// The caller of a token digest, if cached within the time to live.
    pub fn get(&self, digest: &str) -> Option<Caller> {
        if !self.usable() {
            return None;
        }
        self.with(|inner| {
            let (caller, ends) = inner.entries.get(digest)?;
            (Instant::now() < *ends).then(|| caller.clone())
        })
        .flatten()
    }

    /// Stores what a lookup that began with `ticket` found, for the time to live or less when
    /// the token itself ends sooner (`valid_for`, with `KADRO_TOKEN_TTL_SECONDS`).
    pub fn put(
        &self,
        digest: String,
        caller: &Caller,
        ticket: Ticket,
        valid_for: Option<Duration>,
    ) {
        if !self.usable() {
            return;
        }
        self.with(|inner| {
            if inner.generation != ticket.0 {
                return;
            }
            if inner.entries.len() >= MAX_ENTRIES {
                inner.entries.clear();
            }
            let keep = valid_for.map_or(self.ttl, |v| v.min(self.ttl));
            inner
                .entries
                .insert(digest, (caller.clone(), Instant::now() + keep));
        });
    }

    /// Forgets every cached caller (after writes, and when tokens are revoked).
    pub fn forget_all(&self) {
        self.with(Inner::forget);
    }

    /// Whether other nodes' changes are heard; turning it off forgets everything.
    pub fn set_live(&self, live: bool) {
        if !live {
            self.live.store(false, Ordering::Release);
        }
        self.forget_all();
        if live {
            self.live.store(true, Ordering::Release);
        }
    }
}

/// Forgets every cached caller after a successful write request (also those whose writes did
/// not go through [`crate::db::Tx::commit`] or a statement on the pool).
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

#[cfg(test)]
mod tests {
    use super::*;

    fn caller() -> Caller {
        Caller::Service
    }

    #[test]
    fn a_lookup_older_than_the_last_forget_is_not_stored() {
        let cache = AuthCache::new(Duration::from_secs(60), Writes::default(), true);
        let ticket = cache.ticket();
        cache.forget_all();
        cache.put("a".into(), &caller(), ticket, None);
        assert!(cache.get("a").is_none());
        cache.put("a".into(), &caller(), cache.ticket(), None);
        assert!(cache.get("a").is_some());
    }

    #[test]
    fn not_live_means_not_used() {
        let cache = AuthCache::new(Duration::from_secs(60), Writes::default(), false);
        cache.put("a".into(), &caller(), cache.ticket(), None);
        assert!(cache.get("a").is_none());
        cache.set_live(true);
        cache.put("a".into(), &caller(), cache.ticket(), None);
        assert!(cache.get("a").is_some());
        cache.set_live(false);
        assert!(cache.get("a").is_none());
        cache.set_live(true);
        assert!(
            cache.get("a").is_none(),
            "a lost listener forgets everything"
        );
    }
}
