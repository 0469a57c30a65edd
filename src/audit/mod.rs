//! The audit log: who changed what, when, from where.
//!
//! Every write of the API (and of the command line) calls [`record`] with the transaction of the
//! change it records, so a committed change always has its event and a rolled-back one never
//! does. Failed logins are the one exception: they are recorded on their own, because the
//! attempt itself is what matters.
//!
//! What the event needs from the request (the acting account, the request id, the client's
//! address and `User-Agent`) reaches [`record`] through a task-local set by the [`context`]
//! middleware, as the request id does for jobs: no write path passes it along. The
//! [`Caller`](crate::auth::Caller) extractor names the actor once it has authenticated.
//!
//! Events are append-only: nothing updates or deletes them but retention
//! (`KADRO_AUDIT_RETENTION_DAYS`, [`purge_before`]). Recording an event also queues its
//! webhook deliveries in the same transaction ([`crate::webhooks::outbox`]).

pub mod actions;
pub mod export;
pub mod routes;

pub use export::export_sources;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::auth::Caller;
use crate::db::{Db, Query, Tx};
use crate::http::client::TrustedProxies;
use crate::http::{current_request_id, time};

/// Who acted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// A B2B account (user or staff user).
    User(i64),
    /// An Instore staff.
    Staff(i64),
    /// A configured service token.
    Service,
    /// The command line.
    Cli,
    /// Nobody authenticated (a failed login).
    Anonymous,
}

impl Actor {
    fn kind(&self) -> &'static str {
        match self {
            Actor::User(_) => "user",
            Actor::Staff(_) => "staff",
            Actor::Service => "service",
            Actor::Cli => "cli",
            Actor::Anonymous => "anonymous",
        }
    }

    fn id(&self) -> Option<i64> {
        match self {
            Actor::User(id) | Actor::Staff(id) => Some(*id),
            _ => None,
        }
    }

    /// The account a stored owner (`owner_kind`, `owner_id` of an export or an import) names;
    /// what a background job records on that account's behalf.
    pub fn of_owner(kind: &str, id: Option<i64>) -> Actor {
        match (kind, id) {
            ("user", Some(id)) => Actor::User(id),
            ("staff", Some(id)) => Actor::Staff(id),
            _ => Actor::Service,
        }
    }
}

impl From<&Caller> for Actor {
    fn from(caller: &Caller) -> Self {
        match caller {
            Caller::Service => Actor::Service,
            Caller::User(u) => Actor::User(u.id),
            Caller::Staff(s) => Actor::Staff(s.id),
        }
    }
}

/// One event to record.
#[derive(Clone, Debug)]
pub struct Event {
    pub action: &'static str,
    pub target_type: &'static str,
    pub target_id: Option<i64>,
    /// `{"field": [old, new]}`; secret fields are dropped by [`record`] whatever is passed.
    pub changes: Map<String, Value>,
    /// Who acted, when it is not the request's caller (a login names the account logging in).
    pub actor: Option<Actor>,
    /// The login name of an actor that has no account (a failed login).
    pub actor_email: Option<String>,
}

impl Event {
    pub fn new(action: &'static str, target_type: &'static str, target_id: i64) -> Self {
        Event {
            action,
            target_type,
            target_id: Some(target_id),
            changes: Map::new(),
            actor: None,
            actor_email: None,
        }
    }

    /// An event whose target may be unknown (a failed login naming no account).
    pub fn on(action: &'static str, target_type: &'static str, target_id: Option<i64>) -> Self {
        Event {
            target_id,
            ..Event::new(action, target_type, 0)
        }
    }

    /// The changes of the event: see [`diff`] and [`created`].
    pub fn changes(mut self, changes: Map<String, Value>) -> Self {
        self.changes = changes;
        self
    }

    /// One changed field.
    pub fn change(mut self, field: &str, old: impl Into<Value>, new: impl Into<Value>) -> Self {
        self.changes
            .insert(field.to_owned(), Value::Array(vec![old.into(), new.into()]));
        self
    }

    /// `{field: [ids, []]}` when `ids` is not empty: the links a deletion took with it (the
    /// staffs of a deleted store).
    pub fn unlinked(self, field: &str, ids: Vec<i64>) -> Self {
        if ids.is_empty() {
            return self;
        }
        self.change(field, ids, Vec::<i64>::new())
    }

    /// Acted by `actor` rather than by the request's caller.
    pub fn by(mut self, actor: Actor) -> Self {
        self.actor = Some(actor);
        self
    }
}

/// Field names that never reach an event, whatever a write passes: passwords, hashes, tokens
/// and keys.
pub fn is_secret(field: &str) -> bool {
    let field = field.to_ascii_lowercase();
    ["password", "hash", "token", "secret", "key"]
        .iter()
        .any(|word| field.contains(word))
}

/// Fields that every write changes and no event needs to repeat.
const BOOKKEEPING: &[&str] = &["modified_date", "updated_at", "modified_at"];

/// `{"field": [old, new]}` for every field of two JSON objects that differs (a field missing
/// on one side is `null` there).
pub fn diff(old: &Value, new: &Value) -> Map<String, Value> {
    let empty = Map::new();
    let old = old.as_object().unwrap_or(&empty);
    let new = new.as_object().unwrap_or(&empty);
    let mut changes = Map::new();
    let fields = old
        .keys()
        .chain(new.keys().filter(|k| !old.contains_key(*k)));
    for field in fields.filter(|f| !BOOKKEEPING.contains(&f.as_str())) {
        let before = old.get(field).unwrap_or(&Value::Null);
        let after = new.get(field).unwrap_or(&Value::Null);
        if before != after {
            changes.insert(
                field.clone(),
                Value::Array(vec![before.clone(), after.clone()]),
            );
        }
    }
    changes
}

/// `{"field": [null, value]}` for every field of a created object.
pub fn created(new: &Value) -> Map<String, Value> {
    diff(&Value::Null, new)
}

/// `actions[0]` (create) with every field when there was no row `before`, otherwise
/// `actions[1]` (update) with the fields that changed.
pub fn saved<T: serde::Serialize>(
    actions: [&'static str; 2],
    target_type: &'static str,
    id: i64,
    before: Option<&T>,
    after: &T,
) -> Event {
    match before {
        None => Event::new(actions[0], target_type, id).changes(created_of(after)),
        Some(before) => Event::new(actions[1], target_type, id).changes(diff_of(before, after)),
    }
}

/// [`created`] of a serialisable value (the new row as the API shows it).
pub fn created_of<T: serde::Serialize>(new: &T) -> Map<String, Value> {
    created(&serde_json::to_value(new).unwrap_or_default())
}

/// [`diff`] of two serialisable values (a row before and after a write).
pub fn diff_of<T: serde::Serialize>(old: &T, new: &T) -> Map<String, Value> {
    let old = serde_json::to_value(old).unwrap_or_default();
    let new = serde_json::to_value(new).unwrap_or_default();
    diff(&old, &new)
}

/// What the request being handled tells an event.
#[derive(Debug, Default)]
struct Context {
    ip: Option<String>,
    user_agent: Option<String>,
    actor: Mutex<Option<Actor>>,
}

tokio::task_local! {
    static CONTEXT: Arc<Context>;
}

/// Middleware: the client's address and `User-Agent` for every event the request records.
pub async fn context(req: Request, next: Next) -> Response {
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| {
            let proxies = req.extensions().get::<TrustedProxies>();
            proxies
                .map_or(peer.ip(), |p| p.client(peer.ip(), req.headers()))
                .to_canonical()
                .to_string()
        });
    let user_agent = req
        .headers()
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().chars().take(512).collect::<String>())
        .filter(|v| !v.is_empty());
    let context = Context {
        ip,
        user_agent,
        actor: Mutex::new(None),
    };
    CONTEXT.scope(Arc::new(context), next.run(req)).await
}

/// Names the request's actor (the `Caller` extractor calls it once it has authenticated).
pub fn set_actor(actor: Actor) {
    let _ = CONTEXT.try_with(|c| {
        if let Ok(mut slot) = c.actor.lock() {
            *slot = Some(actor);
        }
    });
}

/// Runs `work` with `actor` as the actor of every event it records (the command line).
pub async fn acting_as<F: Future>(actor: Actor, work: F) -> F::Output {
    let context = Context {
        actor: Mutex::new(Some(actor)),
        ..Context::default()
    };
    CONTEXT.scope(Arc::new(context), work).await
}

/// The actor the current request or command names, if any (a job run by a worker has none).
pub fn current_actor() -> Option<Actor> {
    CONTEXT
        .try_with(|c| c.actor.lock().ok().and_then(|a| a.clone()))
        .ok()
        .flatten()
}

fn current_client() -> (Option<String>, Option<String>) {
    CONTEXT
        .try_with(|c| (c.ip.clone(), c.user_agent.clone()))
        .unwrap_or_default()
}

/// Writes `event` and queues its webhook deliveries; pass the transaction of the change it
/// records.
pub async fn record(tx: &mut Tx, event: Event) -> Result<(), sqlx::Error> {
    debug_assert!(
        actions::is_known(event.action),
        "audit action {:?} is missing from audit::actions::ACTIONS",
        event.action
    );
    let actor = event
        .actor
        .clone()
        .or_else(current_actor)
        .unwrap_or(Actor::Service);
    let (ip, user_agent) = current_client();
    let changes: Map<String, Value> = event
        .changes
        .into_iter()
        .filter(|(field, _)| !is_secret(field))
        .collect();
    let created_date = time::now();
    // The actor's email is read in the same statement.
    let id: i64 = Query::new(
        "INSERT INTO audit_events (created_date, action, actor_kind, actor_id, actor_email, \
         target_type, target_id, changes, request_id, ip, user_agent) \
         VALUES ($1, $2, $3, $4, COALESCE($5, CASE $3 \
           WHEN 'user' THEN (SELECT email FROM users WHERE id = $4) \
           WHEN 'staff' THEN (SELECT email FROM staffs WHERE id = $4) END), \
         $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(created_date)
    .bind(event.action)
    .bind(actor.kind())
    .bind(actor.id())
    .bind(event.actor_email)
    .bind(event.target_type)
    .bind(event.target_id)
    .bind(Value::Object(changes.clone()).to_string())
    .bind(current_request_id())
    .bind(ip)
    .bind(user_agent)
    .scalar(&mut *tx)
    .await?;
    let occurred = crate::webhooks::outbox::Occurrence {
        event_id: id,
        action: event.action,
        created_date,
        target_type: event.target_type,
        target_id: event.target_id,
        changes,
    };
    crate::webhooks::outbox::queue(tx, &occurred).await
}

/// Writes `event` on its own, as bookkeeping: the process's caches (the token cache) are not
/// told that something changed (a failed login changes nothing they hold).
pub async fn record_alone(db: &Db, event: Event) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    record(&mut tx, event).await?;
    tx.commit_bookkeeping().await
}

/// Deletes the events created before `cutoff` (retention); how many.
pub async fn purge_before(db: &Db, cutoff: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    Query::new("DELETE FROM audit_events WHERE created_date < $1")
        .bind(cutoff)
        .execute(db)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_names_changed_fields_only() {
        let changes = diff(
            &json!({"a": 1, "b": "x", "c": null}),
            &json!({"a": 2, "b": "x", "d": true}),
        );
        assert_eq!(
            Value::Object(changes),
            json!({"a": [1, 2], "d": [null, true]})
        );
        assert_eq!(
            Value::Object(created(&json!({"name": "n"}))),
            json!({"name": [null, "n"]})
        );
    }

    #[test]
    fn secrets_are_recognised() {
        for f in [
            "password",
            "password_hash",
            "shop_token",
            "key_hash",
            "Secret",
        ] {
            assert!(is_secret(f), "{f}");
        }
        for f in ["email", "is_active", "name", "remote_id"] {
            assert!(!is_secret(f), "{f}");
        }
    }
}
