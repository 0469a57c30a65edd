//! What the webhook endpoints read and answer, and the rows behind them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::list::{Conditions, ListFilter};
use crate::http::filters::{FilterParser, FromQuery};
use crate::http::json::present;
use crate::http::time::{optional_timestamp, timestamp};

/// A webhook to create or change. `url` and `events` are required on create and PUT;
/// `secret` is generated when a create leaves it out, and kept when a change does.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct WebhookIn {
    #[serde(default, deserialize_with = "present")]
    #[schema(
        example = "https://hooks.example.com/kadro",
        max_length = 2000,
        nullable = false,
        required = true,
        pattern = r"^https://([a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?\.)+[a-z]{2,12}(/[A-Za-z0-9._~-]+)*/?$"
    )]
    pub url: Option<String>,
    /// Audit actions (`user.create`), a prefix of them (`user.*`) or `*` for every action.
    #[serde(default, deserialize_with = "present")]
    #[schema(example = json!(["user.*", "staff.deactivate"]), min_items = 1, max_items = 100, nullable = false, required = true)]
    pub events: Option<Vec<String>>,
    /// The key of the signatures (write-only), at least 16 characters.
    #[serde(default, deserialize_with = "present")]
    #[schema(min_length = 16, max_length = 255, write_only, nullable = false)]
    pub secret: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub is_active: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    #[schema(max_length = 255, nullable = false)]
    pub description: Option<String>,
}

/// A webhook as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookOut {
    pub id: i64,
    pub url: String,
    pub events: Vec<String>,
    pub is_active: bool,
    pub description: String,
    /// Only in the answer of the create that generated or set it; never shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(serialize_with = "timestamp")]
    #[schema(value_type = String, format = DateTime)]
    pub created_date: DateTime<Utc>,
    #[serde(serialize_with = "timestamp")]
    #[schema(value_type = String, format = DateTime)]
    pub modified_date: DateTime<Utc>,
}

#[derive(Debug, sqlx::FromRow)]
pub struct WebhookRow {
    pub id: i64,
    pub url: String,
    pub is_active: bool,
    pub description: String,
    pub created_date: DateTime<Utc>,
    pub modified_date: DateTime<Utc>,
}

impl WebhookRow {
    pub fn shown(self, events: Vec<String>) -> WebhookOut {
        WebhookOut {
            id: self.id,
            url: self.url,
            events,
            is_active: self.is_active,
            description: self.description,
            secret: None,
            created_date: self.created_date,
            modified_date: self.modified_date,
        }
    }
}

/// `is_active`.
#[derive(Debug, Default)]
pub struct WebhookFilter {
    pub is_active: Option<bool>,
}

impl FromQuery for WebhookFilter {
    fn from_query(p: &mut FilterParser<'_>) -> Self {
        WebhookFilter {
            is_active: p.boolean("is_active"),
        }
    }
}

impl ListFilter for WebhookFilter {
    fn apply(&self, c: &mut Conditions<'_>) {
        if let Some(active) = self.is_active {
            c.raw("is_active = ", active, "");
        }
    }
}

/// Where a delivery stands.
pub const STATUSES: &[&str] = &["waiting", "pending", "delivered", "failed"];

/// One delivery of one event to one webhook.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryOut {
    pub id: i64,
    /// The audit event delivered (`Kadro-Event-Id`).
    pub event_id: i64,
    #[schema(example = "user.update")]
    pub event_type: String,
    /// `waiting` (behind an earlier delivery for the same object), `pending`, `delivered` or
    /// `failed` (no 2xx within 24 hours).
    #[schema(example = "delivered")]
    pub status: String,
    pub attempts: i64,
    /// The HTTP status of the last answer; null when none came (timeout, refused address).
    pub last_status_code: Option<i64>,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
    #[serde(serialize_with = "optional_timestamp")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_attempt_date: Option<DateTime<Utc>>,
    /// When the next attempt is due, while the delivery is pending.
    #[serde(serialize_with = "optional_timestamp")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_attempt_date: Option<DateTime<Utc>>,
    #[serde(serialize_with = "timestamp")]
    #[schema(value_type = String, format = DateTime)]
    pub created_date: DateTime<Utc>,
}

#[derive(Debug, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: i64,
    pub event_id: i64,
    pub action: String,
    pub status: String,
    pub attempts: i64,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub last_attempt_date: Option<DateTime<Utc>>,
    pub next_attempt_date: Option<DateTime<Utc>>,
    pub created_date: DateTime<Utc>,
}

impl From<DeliveryRow> for DeliveryOut {
    fn from(r: DeliveryRow) -> Self {
        DeliveryOut {
            id: r.id,
            event_id: r.event_id,
            event_type: r.action,
            status: r.status,
            attempts: r.attempts,
            last_status_code: r.last_status_code,
            last_error: r.last_error,
            last_attempt_date: r.last_attempt_date,
            next_attempt_date: r.next_attempt_date,
            created_date: r.created_date,
        }
    }
}

/// A webhook's deliveries: `status`.
#[derive(Debug, Default)]
pub struct DeliveryFilter {
    pub webhook_id: i64,
    pub status: Option<&'static str>,
}

impl FromQuery for DeliveryFilter {
    fn from_query(p: &mut FilterParser<'_>) -> Self {
        DeliveryFilter {
            webhook_id: 0,
            status: p.choice("status", STATUSES),
        }
    }
}

impl ListFilter for DeliveryFilter {
    fn apply(&self, c: &mut Conditions<'_>) {
        c.eq("webhook_id", Some(self.webhook_id))
            .eq("status", self.status);
    }
}
