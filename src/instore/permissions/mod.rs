//! `/api/v1/permissions/` (read-only, generated from the route table
//! ([`ENDPOINTS`](super::routes::ENDPOINTS)) at every start) and the authorisation of Instore
//! calls: superusers and service tokens pass, a non-superuser staff passes when one of its
//! permission groups grants the route and method, nobody else does.

pub mod groups;
mod queries;

pub use queries::{of_staff, sync};

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::routes::Endpoint;
use crate::auth::Caller;
use crate::db::Db;
use crate::db::list::{Conditions, Link, ListFilter};
use crate::http::error::{ApiError, ApiResult};
use crate::http::filters::{Filter, FilterParser, FromQuery};
use crate::http::pagination::{PageRequest, Paginated};
use crate::http::request::IdPath;
use crate::http::time::timestamp;
use crate::state::AppState;

/// Which groups grant which permissions.
pub const GROUP_PERMISSIONS: Link = Link {
    table: "permission_group_permissions",
    owner: "group_id",
    other: "permission_id",
};

/// A permission as seed 003 shows it; `permission_groups` are the groups that grant it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionOut {
    pub id: i64,
    pub is_visible_for_user: bool,
    #[serde(serialize_with = "timestamp")]
    #[schema(value_type = String, format = DateTime)]
    pub created_date: DateTime<Utc>,
    #[serde(serialize_with = "timestamp")]
    #[schema(value_type = String, format = DateTime)]
    pub modified_date: DateTime<Utc>,
    #[schema(example = "Staff List")]
    pub name: String,
    /// The name of the route it grants.
    #[schema(example = "instore:staff-list")]
    pub path: String,
    pub label: Option<String>,
    #[schema(example = "GET")]
    pub method: Option<String>,
    pub parent: Option<String>,
    pub permission_groups: Vec<i64>,
}

/// Lists permissions; filters `name` (contains), `path`, `method`, `parent`.
#[utoipa::path(get, path = "/api/v1/permissions/", tag = "instore permissions",
    params(("page" = Option<u32>, Query), ("limit" = Option<u32>, Query),
        ("name" = Option<String>, Query), ("path" = Option<String>, Query),
        ("method" = Option<String>, Query), ("parent" = Option<String>, Query)),
    responses((status = 200, body = Paginated<PermissionOut>),
        (status = 400, description = "A bad filter value, or a NUL character in a query parameter"),
        (status = 403), (status = 404, description = "Invalid page")))]
pub async fn list(
    State(state): State<AppState>,
    Filter(filter): Filter<PermissionFilter>,
    page: PageRequest,
) -> ApiResult<axum::Json<Paginated<PermissionOut>>> {
    let (count, permissions) = queries::page(&state.db, &filter, page.window()).await?;
    Ok(axum::Json(page.respond(count, permissions)?))
}

/// `name` (contains), `path`, `method`, `parent` (exact).
#[derive(Debug, Default)]
pub struct PermissionFilter {
    pub name: Option<String>,
    pub path: Option<String>,
    pub method: Option<String>,
    pub parent: Option<String>,
}

impl FromQuery for PermissionFilter {
    fn from_query(p: &mut FilterParser<'_>) -> Self {
        PermissionFilter {
            name: p.text("name"),
            path: p.text("path"),
            method: p.text("method"),
            parent: p.text("parent"),
        }
    }
}

impl ListFilter for PermissionFilter {
    fn apply(&self, c: &mut Conditions<'_>) {
        c.contains("name", self.name.as_deref())
            .eq("path", self.path.as_deref())
            .eq("method", self.method.as_deref())
            .eq("parent", self.parent.as_deref());
    }
}

/// One permission.
#[utoipa::path(get, path = "/api/v1/permissions/{id}/", tag = "instore permissions",
    params(("id" = i64, Path)), responses((status = 200, body = PermissionOut), (status = 404)))]
pub async fn detail(
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<PermissionOut>> {
    let permission = queries::by_id(&state.db, id).await?;
    Ok(axum::Json(permission.ok_or(ApiError::NotFound)?))
}

/// Whether `caller` may call `endpoint`; 403 otherwise. B2B accounts other than superusers
/// never reach Instore endpoints.
pub async fn authorize(db: &Db, caller: &Caller, endpoint: &Endpoint) -> Result<(), ApiError> {
    let allowed = match caller {
        Caller::Service => true,
        Caller::User(user) => user.is_superuser,
        Caller::Staff(staff) if staff.is_superuser => true,
        Caller::Staff(staff) => queries::grants(db, staff.id, endpoint).await?,
    };
    if allowed {
        Ok(())
    } else {
        Err(ApiError::PermissionDenied)
    }
}
