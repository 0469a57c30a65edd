//! `/api/v1/permissions/` (read-only, generated from [`ENDPOINTS`] at every start) and the
//! authorisation of Instore calls: superusers and service tokens pass, a non-superuser staff
//! passes when one of its permission groups grants the route and method, nobody else does.

pub mod groups;

use std::collections::BTreeMap;

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::routes::{ENDPOINTS, Endpoint};
use crate::auth::Caller;
use crate::db::list::{Conditions, Link, ListFilter, ListSource, linked_ids, list_page};
use crate::db::{Db, Query};
use crate::http::error::{ApiError, ApiResult};
use crate::http::filters::{Filter, FilterParser, FromQuery};
use crate::http::pagination::{PageRequest, Paginated};
use crate::http::request::IdPath;
use crate::http::time::{self, timestamp};
use crate::state::AppState;

const COLUMNS: &str =
    "id, name, path, method, label, parent, is_visible_for_user, created_date, modified_date";
const SOURCE: ListSource = ListSource::new("permissions", COLUMNS, "id");

/// Which groups grant which permissions.
pub const GROUP_PERMISSIONS: Link = Link {
    table: "permission_group_permissions",
    owner: "group_id",
    other: "permission_id",
};

#[derive(Debug, sqlx::FromRow)]
struct PermissionRow {
    id: i64,
    name: String,
    path: String,
    method: Option<String>,
    label: Option<String>,
    parent: Option<String>,
    is_visible_for_user: bool,
    created_date: DateTime<Utc>,
    modified_date: DateTime<Utc>,
}

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
    let (count, rows) =
        list_page::<PermissionRow>(&state.db, &SOURCE, page.window(), &filter).await?;
    let results = with_groups(&state.db, rows).await?;
    Ok(axum::Json(page.respond(count, results)?))
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
    let permission = by_id(&state.db, id).await?;
    Ok(axum::Json(permission.ok_or(ApiError::NotFound)?))
}

/// One permission with the groups that grant it.
pub async fn by_id(db: &Db, id: i64) -> Result<Option<PermissionOut>, sqlx::Error> {
    let row: Option<PermissionRow> =
        Query::new(format!("SELECT {COLUMNS} FROM permissions WHERE id = $1"))
            .bind(id)
            .fetch_optional(db)
            .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(with_groups(db, vec![row]).await?.pop())
}

/// The permissions a staff holds through its groups (all of them for a superuser), by id.
pub async fn of_staff(
    db: &Db,
    staff_id: i64,
    superuser: bool,
) -> Result<Vec<PermissionOut>, sqlx::Error> {
    let mut q = Query::new(format!("SELECT {COLUMNS} FROM permissions"));
    if !superuser {
        q.push(
            " WHERE id IN (SELECT pgp.permission_id FROM permission_group_permissions pgp \
             JOIN staff_permission_groups spg ON spg.group_id = pgp.group_id \
             WHERE spg.staff_id = ",
        )
        .push_bind(staff_id)
        .push(")");
    }
    q.push(" ORDER BY id");
    with_groups(db, q.fetch_all(db).await?).await
}

/// Attaches to each permission the groups that grant it, in one query.
async fn with_groups(db: &Db, rows: Vec<PermissionRow>) -> Result<Vec<PermissionOut>, sqlx::Error> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut groups = linked_ids(db, &GROUP_PERMISSIONS.reversed(), &ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| PermissionOut {
            permission_groups: groups.remove(&r.id).unwrap_or_default(),
            id: r.id,
            is_visible_for_user: r.is_visible_for_user,
            created_date: r.created_date,
            modified_date: r.modified_date,
            name: r.name,
            path: r.path,
            label: r.label,
            method: r.method,
            parent: r.parent,
        })
        .collect())
}

/// Whether `caller` may call `endpoint`; 403 otherwise. B2B accounts other than superusers
/// never reach Instore endpoints.
pub async fn authorize(db: &Db, caller: &Caller, endpoint: &Endpoint) -> Result<(), ApiError> {
    let allowed = match caller {
        Caller::Service => true,
        Caller::User(user) => user.is_superuser,
        Caller::Staff(staff) if staff.is_superuser => true,
        Caller::Staff(staff) => grants(db, staff.id, endpoint).await?,
    };
    if allowed {
        Ok(())
    } else {
        Err(ApiError::PermissionDenied)
    }
}

async fn grants(db: &Db, staff_id: i64, endpoint: &Endpoint) -> Result<bool, sqlx::Error> {
    let found: i64 = Query::new(
        "SELECT COUNT(*) FROM staff_permission_groups spg \
         JOIN permission_group_permissions pgp ON pgp.group_id = spg.group_id \
         JOIN permissions p ON p.id = pgp.permission_id \
         WHERE spg.staff_id = $1 AND p.path = $2 AND p.method = $3",
    )
    .bind(staff_id)
    .bind(endpoint.route)
    .bind(endpoint.verb.as_str())
    .scalar(db)
    .await?;
    Ok(found > 0)
}

/// Brings the `permissions` table in step with [`ENDPOINTS`]: new routes are added, changed
/// names and labels updated, rows of routes that no longer exist removed (with their grants).
/// Rows keep their ids, so groups keep their grants across restarts. Safe when several
/// processes start at once.
pub async fn sync(db: &Db) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    let rows: Vec<PermissionRow> = Query::new(format!("SELECT {COLUMNS} FROM permissions"))
        .fetch_all(&mut tx)
        .await?;
    let mut stored: BTreeMap<(String, String), PermissionRow> = rows
        .into_iter()
        .map(|r| ((r.path.clone(), r.method.clone().unwrap_or_default()), r))
        .collect();
    let now = time::now();
    for e in ENDPOINTS {
        let key = (e.route.to_owned(), e.verb.as_str().to_owned());
        match stored.remove(&key) {
            None => {
                Query::new(
                    "INSERT INTO permissions (name, path, method, label, parent, \
                     is_visible_for_user, created_date, modified_date) \
                     VALUES ($1, $2, $3, $4, $5, TRUE, $6, $6) ON CONFLICT (path, method) DO NOTHING",
                )
                .bind(e.name)
                .bind(e.route)
                .bind(e.verb.as_str())
                .bind(e.label)
                .bind(e.parent)
                .bind(now)
                .execute(&mut tx)
                .await?;
            }
            Some(row)
                if row.name != e.name
                    || row.label.as_deref() != Some(e.label)
                    || row.parent.as_deref() != Some(e.parent)
                    || !row.is_visible_for_user =>
            {
                Query::new(
                    "UPDATE permissions SET name = $1, label = $2, parent = $3, \
                     is_visible_for_user = TRUE, modified_date = $4 WHERE id = $5",
                )
                .bind(e.name)
                .bind(e.label)
                .bind(e.parent)
                .bind(now)
                .bind(row.id)
                .execute(&mut tx)
                .await?;
            }
            Some(_) => {}
        }
    }
    for stale in stored.into_values() {
        Query::new("DELETE FROM permissions WHERE id = $1")
            .bind(stale.id)
            .execute(&mut tx)
            .await?;
    }
    tx.commit().await
}
