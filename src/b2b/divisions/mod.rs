//! `/api/v1/divisions/` (CRUD for superusers, activate/deactivate) and `/api/v1/my-divisions/`.

mod service;
pub mod store;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;
use utoipa::ToSchema;

use self::store::{DivisionFilter, DivisionOut};
use crate::auth::{Caller, Superuser};
use crate::http::error::{ApiError, ApiResult};
use crate::http::filters::Filter;
use crate::http::json::{Body, present};
use crate::http::pagination::{PageRequest, Paginated};
use crate::http::request::IdPath;
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
    #[schema(required = true, pattern = r"^[^\x00]*\S[^\x00]*$")]
    pub name: Option<String>,
    /// `main` or `sub`.
    #[serde(default)]
    #[schema(required = true, pattern = "^(main|sub)$")]
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

/// Lists divisions; filters `name`, `erp_code` (contains), `division_type`, `is_active`,
/// `parent` (the sub-divisions of a main division).
#[utoipa::path(get, path = "/api/v1/divisions/", tag = "b2b divisions",
    params(("name" = Option<String>, Query), ("erp_code" = Option<String>, Query), ("division_type" = Option<String>, Query),
        ("is_active" = Option<bool>, Query), ("parent" = Option<i64>, Query, description = "exact: the sub-divisions of this main division"),
        ("page" = Option<u32>, Query), ("limit" = Option<u32>, Query)),
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

/// Creates a division (a main division, or a sub-division of one).
#[utoipa::path(post, path = "/api/v1/divisions/", tag = "b2b divisions", request_body = DivisionIn,
    responses((status = 201, body = DivisionOut), (status = 400), (status = 403)))]
pub async fn create(
    State(state): State<AppState>,
    _: Superuser,
    body: Body<DivisionIn>,
) -> ApiResult<(StatusCode, axum::Json<DivisionOut>)> {
    let row = service::create(&state.db, body).await?;
    Ok((StatusCode::CREATED, axum::Json(row.into())))
}

/// One division.
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

/// Replaces a division's fields.
#[utoipa::path(put, path = "/api/v1/divisions/{id}/", tag = "b2b divisions", params(("id" = i64, Path)), request_body = DivisionIn,
    responses((status = 200, body = DivisionOut), (status = 400), (status = 404)))]
pub async fn replace(
    State(state): State<AppState>,
    _: Superuser,
    IdPath(id): IdPath,
    body: Body<DivisionIn>,
) -> ApiResult<axum::Json<DivisionOut>> {
    let row = service::update(&state.db, id, body, true).await?;
    Ok(axum::Json(row.into()))
}

/// Changes the fields given.
#[utoipa::path(patch, path = "/api/v1/divisions/{id}/", tag = "b2b divisions", params(("id" = i64, Path)), request_body = DivisionIn,
    responses((status = 200, body = DivisionOut), (status = 400), (status = 404)))]
pub async fn modify(
    State(state): State<AppState>,
    _: Superuser,
    IdPath(id): IdPath,
    body: Body<DivisionIn>,
) -> ApiResult<axum::Json<DivisionOut>> {
    let row = service::update(&state.db, id, body, false).await?;
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
    service::delete(&state.db, id).await?;
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
    service::activate(&state.db, id).await?;
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
    service::deactivate(&state, id).await?;
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
