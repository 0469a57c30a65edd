//! `/api/v1/permission_groups/`: named sets of permissions that staffs are given.

mod queries;

/// SCIM writes and deletes groups through the same checks and audit events.
pub use queries::{Provisioned, delete, save_with_members};

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::Db;
use crate::db::list::{Conditions, ListFilter};
use crate::http::crud::Resource;
use crate::http::error::{ApiError, ApiResult};
use crate::http::filters::{Filter, FilterParser, FromQuery};
use crate::http::json::{Body, present};
use crate::http::pagination::{PageRequest, Paginated};
use crate::http::time::timestamp;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionGroupOut {
    pub id: i64,
    #[schema(example = "Cashiers")]
    pub name: String,
    /// Ids of the permissions the group grants.
    pub permissions: Vec<i64>,
    #[serde(serialize_with = "timestamp")]
    #[schema(value_type = String, format = DateTime)]
    pub created_date: DateTime<Utc>,
    #[serde(serialize_with = "timestamp")]
    #[schema(value_type = String, format = DateTime)]
    pub modified_date: DateTime<Utc>,
}

/// A group to create or change; `name` is required on create and PUT, `permissions` (ids)
/// replaces the granted set when given.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PermissionGroupIn {
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, required = true, pattern = r"^[^\x00]*\S[^\x00]*$")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub permissions: Option<Vec<i64>>,
}

/// Lists permission groups; filter `name` (contains).
#[utoipa::path(get, path = "/api/v1/permission_groups/", tag = "instore permissions",
    params(("page" = Option<u32>, Query), ("limit" = Option<u32>, Query),
        ("name" = Option<String>, Query)),
    responses((status = 200, body = Paginated<PermissionGroupOut>),
        (status = 400, description = "A bad filter value, or a NUL character in a query parameter"),
        (status = 403), (status = 404, description = "Invalid page")))]
pub async fn list(
    State(state): State<AppState>,
    Filter(filter): Filter<GroupFilter>,
    page: PageRequest,
) -> ApiResult<axum::Json<Paginated<PermissionGroupOut>>> {
    let (count, groups) = queries::page(&state.db, &filter, page.window()).await?;
    Ok(axum::Json(page.respond(count, groups)?))
}

/// `name` (contains).
#[derive(Debug, Default)]
pub struct GroupFilter {
    pub name: Option<String>,
}

impl FromQuery for GroupFilter {
    fn from_query(p: &mut FilterParser<'_>) -> Self {
        GroupFilter {
            name: p.text("name"),
        }
    }
}

impl ListFilter for GroupFilter {
    fn apply(&self, c: &mut Conditions<'_>) {
        c.contains("name", self.name.as_deref());
    }
}

/// Permission groups behind the shared handlers.
pub struct Groups;

impl Resource for Groups {
    type In = PermissionGroupIn;
    type Out = PermissionGroupOut;

    async fn detail(db: &Db, id: i64) -> Result<Option<PermissionGroupOut>, sqlx::Error> {
        queries::by_id(db, id).await
    }

    async fn save(
        db: &Db,
        id: Option<i64>,
        body: Body<PermissionGroupIn>,
        partial: bool,
    ) -> ApiResult<PermissionGroupOut> {
        queries::save(db, id, body, partial).await
    }

    async fn delete(db: &Db, id: i64) -> ApiResult<()> {
        match queries::delete(db, id).await? {
            true => Ok(()),
            false => Err(ApiError::NotFound),
        }
    }
}

crate::crud_handlers! {
    resource: Groups,
    name: "a permission group",
    list_path: "/api/v1/permission_groups/",
    detail_path: "/api/v1/permission_groups/{id}/",
    tag: "instore permissions",
    input: PermissionGroupIn,
    output: PermissionGroupOut,
    required: "`name`",
    delete_doc: "Deletes a permission group; its staffs lose what it granted (204).",
    delete_responses: ((status = 204), (status = 404)),
}
