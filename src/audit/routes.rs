//! `GET /api/v1/audit-events/` and `GET /api/v1/audit-events/{id}/` (superusers): the audit
//! log, newest first. There is no endpoint that changes an event.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::export::AuditExport;
use crate::auth::Superuser;
use crate::db::list::{self, Conditions, ListFilter, ListSource};
use crate::db::{Db, Query};
use crate::exports::{self, ExportList, ExportParams};
use crate::http::error::{ApiError, ApiResult};
use crate::http::filters::{Filter, FilterParser, FromQuery};
use crate::http::pagination::{PageRequest, Paginated};
use crate::http::request::{IdPath, RequestUrl};
use crate::http::time;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/audit-events", get(list))
        .route("/api/v1/audit-events/{id}", get(detail))
}

pub const COLUMNS: &str = "id, created_date, action, actor_kind, actor_id, actor_email, \
    target_type, target_id, changes, request_id, ip, user_agent";

const SOURCE: ListSource = ListSource::new("audit_events", COLUMNS, "id DESC");

#[derive(Debug, sqlx::FromRow)]
pub struct EventRow {
    pub id: i64,
    pub created_date: DateTime<Utc>,
    pub action: String,
    pub actor_kind: String,
    pub actor_id: Option<i64>,
    pub actor_email: Option<String>,
    pub target_type: String,
    pub target_id: Option<i64>,
    pub changes: String,
    pub request_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Who acted: `{"kind": "user" | "staff", "id", "email"}`, or only the kind (`service`,
/// `cli`; `anonymous` with the login name tried, for a failed login).
#[derive(Debug, Serialize, ToSchema)]
pub struct ActorOut {
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TargetOut {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<i64>,
}

/// One audit event.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventOut {
    pub id: i64,
    #[serde(serialize_with = "time::timestamp")]
    #[schema(value_type = String, format = DateTime)]
    pub created_date: DateTime<Utc>,
    pub action: String,
    pub actor: ActorOut,
    pub target: TargetOut,
    /// `{"field": [old, new]}`; never a password, hash or token.
    #[schema(value_type = Object)]
    pub changes: Value,
    pub request_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl From<EventRow> for EventOut {
    fn from(r: EventRow) -> Self {
        EventOut {
            id: r.id,
            created_date: r.created_date,
            action: r.action,
            actor: ActorOut {
                id: r.actor_id,
                email: r.actor_email,
                kind: r.actor_kind,
            },
            target: TargetOut {
                kind: r.target_type,
                id: r.target_id,
            },
            changes: serde_json::from_str(&r.changes).unwrap_or_default(),
            request_id: r.request_id,
            ip: r.ip,
            user_agent: r.user_agent,
        }
    }
}

/// The list filters (stored with an export of the list, hence `Serialize`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct EventFilter {
    /// Exact, or a prefix when it ends with `.` (`user.`).
    pub action: Option<String>,
    pub actor_kind: Option<String>,
    pub actor_id: Option<i64>,
    pub target_type: Option<String>,
    pub target_id: Option<i64>,
    pub created_gte: Option<DateTime<Utc>>,
    pub created_lte: Option<DateTime<Utc>>,
}

impl FromQuery for EventFilter {
    fn from_query(p: &mut FilterParser<'_>) -> Self {
        EventFilter {
            action: p.text("action"),
            actor_kind: p.text("actor_kind"),
            actor_id: p.integer("actor_id"),
            target_type: p.text("target_type"),
            target_id: p.integer("target_id"),
            created_gte: p.datetime("created_date__gte"),
            created_lte: p.datetime("created_date__lte"),
        }
    }
}

impl ListFilter for EventFilter {
    fn apply(&self, c: &mut Conditions<'_>) {
        match self.action.as_deref() {
            Some(prefix) if prefix.ends_with('.') => {
                // A range on the action index: `user.` ≤ action < `user/`.
                let end = format!("{}/", &prefix[..prefix.len() - 1]);
                c.raw("action >= ", prefix, "").raw("action < ", end, "");
            }
            exact => {
                c.eq("action", exact);
            }
        }
        c.eq("actor_kind", self.actor_kind.as_deref())
            .eq("actor_id", self.actor_id)
            .eq("target_type", self.target_type.as_deref())
            .eq("target_id", self.target_id);
        if let Some(t) = self.created_gte {
            c.raw("created_date >= ", t, "");
        }
        if let Some(t) = self.created_lte {
            c.raw("created_date <= ", t, "");
        }
    }
}

/// One page of events, newest first.
pub async fn page(
    db: &Db,
    filter: &EventFilter,
    window: list::Window,
) -> Result<(i64, Vec<EventRow>), sqlx::Error> {
    list::list_page(db, &SOURCE, window, filter).await
}

/// Lists audit events, newest first; with `fields` or `status_cache_key`, exports them.
#[utoipa::path(get, path = "/api/v1/audit-events/", tag = "audit",
    params(("action" = Option<String>, Query, description = "Exact, or a prefix ending with `.` (`user.`)"),
        ("actor_kind" = Option<String>, Query), ("actor_id" = Option<i64>, Query),
        ("target_type" = Option<String>, Query), ("target_id" = Option<i64>, Query),
        ("created_date__gte" = Option<String>, Query), ("created_date__lte" = Option<String>, Query),
        ("page" = Option<u32>, Query), ("limit" = Option<u32>, Query), ExportParams),
    responses((status = 200, body = Paginated<EventOut>,
            description = "The page; with `fields`: `ExportStarted`; with `status_cache_key`: `ExportStatus`"),
        (status = 400, description = "A bad filter value, or an unknown export field or format"),
        (status = 401), (status = 403),
        (status = 404, description = "Invalid page, or unknown export key")))]
pub async fn list(
    State(state): State<AppState>,
    Superuser(caller): Superuser,
    url: RequestUrl,
    Filter(filter): Filter<EventFilter>,
    page_request: PageRequest,
) -> ApiResult<Response> {
    let export = |_: &RequestUrl| {
        let filter = filter.clone();
        Ok(ExportList::of(AuditExport { filter }))
    };
    if let Some(response) = exports::intercept(&state, &caller, &url, export).await? {
        return Ok(response);
    }
    let (count, rows) = page(&state.db, &filter, page_request.window()).await?;
    Ok(page_request
        .respond_rows::<_, EventOut>(count, rows)?
        .into_response())
}

/// One audit event.
#[utoipa::path(get, path = "/api/v1/audit-events/{id}/", tag = "audit",
    params(("id" = i64, Path)),
    responses((status = 200, body = EventOut), (status = 401), (status = 403), (status = 404)))]
pub async fn detail(
    State(state): State<AppState>,
    _: Superuser,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<EventOut>> {
    let row: Option<EventRow> =
        Query::new(format!("SELECT {COLUMNS} FROM audit_events WHERE id = $1"))
            .bind(id)
            .fetch_optional(&state.db)
            .await?;
    Ok(axum::Json(row.ok_or(ApiError::NotFound)?.into()))
}
