//! The webhooks' SQL: their rows and subscribed actions, checked and written with their audit
//! events in one transaction.

use std::collections::{BTreeSet, HashMap};

use rand::RngCore;
use serde_json::json;

use super::address;
use super::types::{WebhookFilter, WebhookIn, WebhookOut, WebhookRow};
use crate::audit::{self, Event, actions};
use crate::db::list::{self, ListSource, push_id_list};
use crate::db::{Db, Query, Tx};
use crate::http::error::{ApiError, ApiResult};
use crate::http::json::Body;
use crate::http::time;
use crate::http::validate::Validator;

const COLUMNS: &str = "id, url, is_active, description, created_date, modified_date";
const SOURCE: ListSource = ListSource::new("webhooks", COLUMNS, "id");
const URL_MAX: usize = 2000;
const DESCRIPTION_MAX: usize = 255;
const SECRET_MIN: usize = 16;
const SECRET_MAX: usize = 255;
/// Most actions or patterns one webhook may list.
const EVENTS_MAX: usize = 100;

/// One page of webhooks, by id, with their actions (one query for the page).
pub async fn page(
    db: &Db,
    filter: &WebhookFilter,
    window: list::Window,
) -> Result<(i64, Vec<WebhookOut>), sqlx::Error> {
    let (count, rows) = list::list_page::<WebhookRow>(db, &SOURCE, window, filter).await?;
    Ok((count, with_events(db, rows).await?))
}

pub async fn by_id(db: &Db, id: i64) -> Result<Option<WebhookOut>, sqlx::Error> {
    let row: Option<WebhookRow> =
        Query::new(format!("SELECT {COLUMNS} FROM webhooks WHERE id = $1"))
            .bind(id)
            .fetch_optional(db)
            .await?;
    Ok(match row {
        Some(row) => with_events(db, vec![row]).await?.pop(),
        None => None,
    })
}

async fn with_events(db: &Db, rows: Vec<WebhookRow>) -> Result<Vec<WebhookOut>, sqlx::Error> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut events: HashMap<i64, Vec<String>> = HashMap::new();
    if !ids.is_empty() {
        let mut q =
            Query::new("SELECT webhook_id, pattern FROM webhook_events WHERE webhook_id IN ");
        push_id_list(&mut q, &ids);
        q.push(" ORDER BY pattern");
        let links: Vec<(i64, String)> = q.fetch_all(db).await?;
        for (id, pattern) in links {
            events.entry(id).or_default().push(pattern);
        }
    }
    Ok(rows
        .into_iter()
        .map(|r| {
            let listed = events.remove(&r.id).unwrap_or_default();
            r.shown(listed)
        })
        .collect())
}

/// A webhook's fields once checked.
struct Checked {
    url: String,
    events: Vec<String>,
    is_active: bool,
    description: String,
    /// A new secret to store, and whether kadro generated it.
    secret: Option<String>,
}

/// Creates (`id` none) or changes a webhook; `partial` for PATCH. A create answers with the
/// secret, the one time it is shown.
pub async fn save(
    db: &Db,
    allow_private: bool,
    id: Option<i64>,
    body: Body<WebhookIn>,
    partial: bool,
) -> ApiResult<WebhookOut> {
    let current = match id {
        Some(id) => Some(by_id(db, id).await?.ok_or(ApiError::NotFound)?),
        None => None,
    };
    let (body, mut check) = body.into_parts();
    let fields = check_fields(&mut check, body, current.as_ref(), partial, allow_private);
    check.finish()?;
    let mut tx = db.begin().await?;
    let saved = write(&mut tx, id, &fields).await?;
    let before = current.as_ref().map(shown_fields);
    let after = json!({"url": fields.url, "events": fields.events,
        "is_active": fields.is_active, "description": fields.description});
    let names = ["webhook.create", "webhook.update"];
    audit::record(
        &mut tx,
        audit::saved(names, "webhook", saved, before.as_ref(), &after),
    )
    .await?;
    tx.commit().await?;
    let mut out = by_id(db, saved).await?.ok_or(ApiError::NotFound)?;
    if id.is_none() {
        out.secret = fields.secret;
    }
    Ok(out)
}

fn shown_fields(w: &WebhookOut) -> serde_json::Value {
    json!({"url": w.url, "events": w.events, "is_active": w.is_active,
        "description": w.description})
}

fn check_fields(
    check: &mut Validator,
    body: WebhookIn,
    current: Option<&WebhookOut>,
    partial: bool,
    allow_private: bool,
) -> Checked {
    if !partial {
        check.required("url", body.url.as_ref());
        check.required("events", body.events.as_ref());
    }
    let url = body
        .url
        .or(current.map(|c| c.url.clone()))
        .unwrap_or_default();
    check.text("url", &url, URL_MAX, false);
    if !check.has("url")
        && let Some(problem) = address::problem(&url, allow_private)
    {
        check.add("url", problem);
    }
    let events = match body.events {
        Some(events) => checked_events(check, events),
        None => current.map(|c| c.events.clone()).unwrap_or_default(),
    };
    let description = body
        .description
        .or(current.map(|c| c.description.clone()))
        .unwrap_or_default();
    check.text("description", &description, DESCRIPTION_MAX, true);
    let secret = match (body.secret, current) {
        (Some(secret), _) => {
            check.text("secret", &secret, SECRET_MAX, false);
            if !check.has("secret") && secret.chars().count() < SECRET_MIN {
                check.add(
                    "secret",
                    format!("Ensure this field has at least {SECRET_MIN} characters."),
                );
            }
            Some(secret)
        }
        (None, None) => Some(generate_secret()),
        (None, Some(_)) => None,
    };
    Checked {
        url,
        events,
        is_active: body
            .is_active
            .or(current.map(|c| c.is_active))
            .unwrap_or(true),
        description,
        secret,
    }
}

/// The listed actions, each a known action, `prefix.*` or `*`; without repetitions, sorted.
fn checked_events(check: &mut Validator, events: Vec<String>) -> Vec<String> {
    if check.has("events") {
        return vec![];
    }
    if events.is_empty() {
        check.add("events", "This list may not be empty.");
    } else if events.len() > EVENTS_MAX {
        check.add(
            "events",
            format!("Ensure this field has no more than {EVENTS_MAX} elements."),
        );
    } else {
        for bad in events.iter().filter(|e| !actions::is_pattern(e)) {
            let shown: String = bad.chars().take(100).collect();
            check.add("events", format!("\"{shown}\" is not a valid choice."));
        }
    }
    let unique: BTreeSet<String> = events.into_iter().collect();
    unique.into_iter().collect()
}

/// `whsec_` and 32 random bytes in hex.
fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("whsec_{}", hex::encode(bytes))
}

async fn write(tx: &mut Tx, id: Option<i64>, f: &Checked) -> ApiResult<i64> {
    let now = time::now();
    let saved: Option<i64> = match id {
        None => {
            Query::new(
                "INSERT INTO webhooks (url, secret, is_active, description, created_date, \
             modified_date) VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
            )
            .bind(&f.url)
            .bind(f.secret.clone().unwrap_or_default())
            .bind(f.is_active)
            .bind(&f.description)
            .bind(now)
            .scalar_optional(&mut *tx)
            .await?
        }
        Some(id) => {
            Query::new(
                "UPDATE webhooks SET url = $1, secret = COALESCE($2, secret), is_active = $3, \
             description = $4, modified_date = $5, \
             failures = CASE WHEN is_active THEN failures ELSE 0 END \
             WHERE id = $6 RETURNING id",
            )
            .bind(&f.url)
            .bind(f.secret.clone())
            .bind(f.is_active)
            .bind(&f.description)
            .bind(now)
            .bind(id)
            .scalar_optional(&mut *tx)
            .await?
        }
    };
    let saved = saved.ok_or(ApiError::NotFound)?;
    Query::new("DELETE FROM webhook_events WHERE webhook_id = $1")
        .bind(saved)
        .execute(&mut *tx)
        .await?;
    let mut insert = Query::new("INSERT INTO webhook_events (webhook_id, pattern) VALUES ");
    for (i, pattern) in f.events.iter().enumerate() {
        if i > 0 {
            insert.push(", ");
        }
        insert
            .push("(")
            .push_bind(saved)
            .push(", ")
            .push_bind(pattern)
            .push(")");
    }
    if !f.events.is_empty() {
        insert.execute(&mut *tx).await?;
    }
    Ok(saved)
}

/// Deletes a webhook with its actions and deliveries; false when there was none.
pub async fn delete(db: &Db, id: i64) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    // Jobs of its pending deliveries find no delivery and end.
    let removed = Query::new("DELETE FROM webhooks WHERE id = $1")
        .bind(id)
        .execute(&mut tx)
        .await?;
    if removed != 1 {
        return Ok(false);
    }
    audit::record(&mut tx, Event::new("webhook.delete", "webhook", id)).await?;
    tx.commit().await?;
    Ok(true)
}
