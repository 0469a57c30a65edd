//! `/api/v1/divisions/` (CRUD for superusers, activate/deactivate) and `/api/v1/my-divisions/`.

pub mod store;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;
use utoipa::ToSchema;

use self::store::{DivisionFields, DivisionFilter, DivisionOut, DivisionRow};
use super::user_filter::DIVISION_TYPES;
use crate::auth::{Caller, Superuser};
use crate::http::error::{ApiError, ApiResult};
use crate::http::filters::Filter;
use crate::http::json::{Body, present};
use crate::http::pagination::{PageRequest, Paginated};
use crate::http::request::IdPath;
use crate::http::validate::invalid_pk;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/divisions", get(list).post(create))
        .route(
            "/api/v1/divisions/{id}",
            get(detail).put(replace).patch(modify).delete(remove),
        )
        .route("/api/v1/divisions/{id}/activate", post(activate))
        .route("/api/v1/divisions/{id}/deactivate", post(deactivate))
        .route("/api/v1/my-divisions", get(my_divisions))
}

/// A division in a request body; on PATCH every field is optional.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct DivisionIn {
    #[serde(default)]
    pub name: Option<String>,
    /// `main` or `sub`.
    #[serde(default)]
    pub division_type: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub parent: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub erp_code: Option<Option<String>>,
    #[serde(default)]
    pub is_active: Option<bool>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub extra_data: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Lists divisions; filters `name`, `erp_code` (contains), `division_type`, `is_active`.
#[utoipa::path(get, path = "/api/v1/divisions/", tag = "b2b divisions",
    params(("name" = Option<String>, Query), ("erp_code" = Option<String>, Query), ("division_type" = Option<String>, Query),
        ("is_active" = Option<bool>, Query), ("page" = Option<u32>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = Paginated<DivisionOut>),
        (status = 400, description = "A bad filter value, or a NUL character in a query parameter"),
        (status = 403), (status = 404, description = "Invalid page")))]
pub async fn list(
    State(state): State<AppState>,
    _: Superuser,
    Filter(filter): Filter<DivisionFilter>,
    page: PageRequest,
) -> ApiResult<axum::Json<Paginated<DivisionOut>>> {
    let (count, rows) = store::list(&state.db, &filter, page.window()).await?;
    page.respond_rows(count, rows)
}

#[utoipa::path(post, path = "/api/v1/divisions/", tag = "b2b divisions", request_body = DivisionIn,
    responses((status = 201, body = DivisionOut), (status = 400), (status = 403)))]
pub async fn create(
    State(state): State<AppState>,
    _: Superuser,
    body: Body<DivisionIn>,
) -> ApiResult<(StatusCode, axum::Json<DivisionOut>)> {
    let mut tx = state.db.begin().await?;
    let fields = merge(&mut tx, None, body, true).await?;
    let id = store::insert(&mut tx, &fields).await?;
    let row = store::by_id(&mut tx, id).await?.ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(row.into())))
}

#[utoipa::path(get, path = "/api/v1/divisions/{id}/", tag = "b2b divisions", params(("id" = i64, Path)),
    responses((status = 200, body = DivisionOut), (status = 404)))]
pub async fn detail(
    State(state): State<AppState>,
    _: Superuser,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<DivisionOut>> {
    let row = store::by_id(&state.db, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(axum::Json(row.into()))
}

#[utoipa::path(put, path = "/api/v1/divisions/{id}/", tag = "b2b divisions", params(("id" = i64, Path)), request_body = DivisionIn,
    responses((status = 200, body = DivisionOut), (status = 400), (status = 404)))]
pub async fn replace(
    state: State<AppState>,
    caller: Caller,
    id: IdPath,
    body: Body<DivisionIn>,
) -> ApiResult<axum::Json<DivisionOut>> {
    write(state, caller, id, body, true).await
}

#[utoipa::path(patch, path = "/api/v1/divisions/{id}/", tag = "b2b divisions", params(("id" = i64, Path)), request_body = DivisionIn,
    responses((status = 200, body = DivisionOut), (status = 400), (status = 404)))]
pub async fn modify(
    state: State<AppState>,
    caller: Caller,
    id: IdPath,
    body: Body<DivisionIn>,
) -> ApiResult<axum::Json<DivisionOut>> {
    write(state, caller, id, body, false).await
}

async fn write(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
    body: Body<DivisionIn>,
    complete: bool,
) -> ApiResult<axum::Json<DivisionOut>> {
    caller.require_superuser()?;
    let mut tx = state.db.begin().await?;
    let current = store::by_id(&mut tx, id).await?.ok_or(ApiError::NotFound)?;
    let fields = merge(&mut tx, Some(&current), body, complete).await?;
    store::update(&mut tx, id, &fields).await?;
    let row = store::by_id(&mut tx, id).await?.ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(axum::Json(row.into()))
}

/// Deletes a division that no user and no sub-division refers to.
#[utoipa::path(delete, path = "/api/v1/divisions/{id}/", tag = "b2b divisions", params(("id" = i64, Path)),
    responses((status = 204), (status = 400, description = "Still in use"), (status = 404)))]
pub async fn remove(
    State(state): State<AppState>,
    _: Superuser,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    let mut tx = state.db.begin().await?;
    store::by_id(&mut tx, id).await?.ok_or(ApiError::NotFound)?;
    if store::in_use(&mut tx, id).await? {
        return Err(ApiError::BadRequest(
            "The division still has users or sub-divisions; deactivate it instead.".into(),
        ));
    }
    store::delete(&mut tx, id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Re-activates the division only (its users stay as they are).
#[utoipa::path(post, path = "/api/v1/divisions/{id}/activate/", tag = "b2b divisions", params(("id" = i64, Path)),
    responses((status = 200, description = "`{}`"), (status = 404)))]
pub async fn activate(
    State(state): State<AppState>,
    _: Superuser,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<serde_json::Value>> {
    let mut tx = state.db.begin().await?;
    store::by_id(&mut tx, id).await?.ok_or(ApiError::NotFound)?;
    store::set_active(&mut tx, id, true).await?;
    tx.commit().await?;
    Ok(axum::Json(serde_json::json!({})))
}

/// Deactivates the division and its users in one transaction; their Commerce accounts are
/// deactivated by durable background jobs.
#[utoipa::path(post, path = "/api/v1/divisions/{id}/deactivate/", tag = "b2b divisions", params(("id" = i64, Path)),
    responses((status = 200, description = "`{}`"), (status = 404)))]
pub async fn deactivate(
    State(state): State<AppState>,
    _: Superuser,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<serde_json::Value>> {
    let mut tx = state.db.begin().await?;
    store::by_id(&mut tx, id).await?.ok_or(ApiError::NotFound)?;
    let users = store::deactivate_users(&mut tx, id, !state.commerce.is_local()).await?;
    store::set_active(&mut tx, id, false).await?;
    tx.commit().await?;
    state.job_signal.notify_one();
    tracing::info!(division = id, users, "division deactivated");
    Ok(axum::Json(serde_json::json!({})))
}

/// The caller's division and, for a main division, its sub-divisions.
#[utoipa::path(get, path = "/api/v1/my-divisions/", tag = "b2b divisions",
    responses((status = 200, body = Paginated<DivisionOut>),
        (status = 400, description = "A bad filter value, or a NUL character in a query parameter"),
        (status = 401), (status = 404, description = "Invalid page")))]
pub async fn my_divisions(
    State(state): State<AppState>,
    caller: Caller,
    page: PageRequest,
) -> ApiResult<axum::Json<Paginated<DivisionOut>>> {
    let division = match &caller {
        Caller::User(u) => u.division_id,
        Caller::Service => None,
        Caller::Staff(_) => return Err(ApiError::PermissionDenied),
    };
    let (count, rows) = match division {
        Some(d) => store::own_and_subs(&state.db, d, page.window()).await?,
        None => (0, Vec::new()),
    };
    page.respond_rows(count, rows)
}

/// Validates a body against the stored row (PATCH) or alone (POST, PUT: `complete`).
async fn merge(
    tx: &mut crate::db::Tx,
    current: Option<&DivisionRow>,
    body: Body<DivisionIn>,
    complete: bool,
) -> ApiResult<DivisionFields> {
    let (body, mut v) = body.into_parts();
    if complete {
        v.required("name", body.name.as_ref());
        v.required("division_type", body.division_type.as_ref());
    }
    let name = body
        .name
        .or_else(|| current.map(|c| c.name.clone()))
        .unwrap_or_default();
    v.text("name", &name, 255, false);
    let division_type = body
        .division_type
        .or_else(|| current.map(|c| c.division_type.clone()))
        .unwrap_or_default();
    if !DIVISION_TYPES.contains(&division_type.as_str()) && !v.has("division_type") {
        v.add(
            "division_type",
            format!("\"{division_type}\" is not a valid choice."),
        );
    }
    // As in DRF, an optional field left out of a PUT keeps its value.
    let erp_code = match body.erp_code {
        Some(code) => code,
        None => current.and_then(|c| c.erp_code.clone()),
    };
    if let Some(code) = &erp_code {
        v.text("erp_code", code, 255, true);
    }
    let parent_id = match body.parent {
        Some(parent) => parent,
        None => current.and_then(|c| c.parent_id),
    };
    let parent = match parent_id {
        Some(pid) if Some(pid) == current.map(|c| c.id) => {
            v.add("parent", "A division cannot be its own parent.");
            None
        }
        Some(pid) => match store::by_id(&mut *tx, pid).await? {
            Some(p) => Some(p),
            None => {
                v.add("parent", invalid_pk(pid));
                None
            }
        },
        None => None,
    };
    if !v.has("parent") {
        match (division_type.as_str(), &parent, parent_id) {
            ("main", _, Some(_)) => v.add("parent", "The main division can not have parent."),
            ("sub", Some(p), _) if p.division_type != "main" => {
                v.add("parent", "The type of division is not main.")
            }
            ("sub", None, None) => v.add("parent", "A sub division needs a main parent."),
            _ => {}
        }
    }
    if let Some(c) = current
        && c.division_type == "main"
        && division_type == "sub"
        && store::has_subs(&mut *tx, c.id).await?
    {
        v.add(
            "division_type",
            "A division with sub-divisions must stay main.",
        );
    }
    v.finish()?;
    Ok(DivisionFields {
        name,
        division_type,
        parent_id,
        erp_code,
        is_active: body
            .is_active
            .or(current.map(|c| c.is_active))
            .unwrap_or(true),
        extra_data: body
            .extra_data
            .map(serde_json::Value::Object)
            .or_else(|| current.map(|c| c.extra_data.0.clone()))
            .unwrap_or_else(|| serde_json::json!({})),
    })
}
