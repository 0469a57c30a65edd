//! `/api/v1/users/` (seed 004): B2B users, managed by B2B staff within their divisions.

pub mod access;
mod events;
pub mod service;
pub mod store;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use self::service::{UserCreateIn, UserCreatedOut, UserUpdateIn, UserUpdatedOut};
use self::store::{UserOut, UserScope};
use super::user_filter::UserFilter;
use crate::auth::Caller;
use crate::b2b::export::UsersExport;
use crate::exports::{self, ExportList, ExportParams};
use crate::http::error::{ApiError, ApiResult};
use crate::http::filters::Filter;
use crate::http::json::Body;
use crate::http::pagination::{PageRequest, Paginated};
use crate::http::request::{IdPath, RequestUrl};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/users", get(list).post(create))
        .route(
            "/api/v1/users/{id}",
            get(detail).put(update).patch(partial_update),
        )
        .route("/api/v1/users/{id}/activate", post(activate))
        .route("/api/v1/users/{id}/deactivate", post(deactivate))
        .route(
            "/api/v1/users/{id}/update_remote_id",
            post(update_remote_id),
        )
        .merge(access::router())
}

/// Superusers and service tokens see every user; other B2B staff the users of their division
/// and its sub-divisions; everyone else is refused.
pub fn scope_of(caller: &Caller) -> Result<UserScope, ApiError> {
    Ok(match caller.require_b2b_staff()? {
        None => UserScope::All,
        Some(staff) => staff
            .division_id
            .map_or(UserScope::Nothing, UserScope::Division),
    })
}

/// Lists users whose `remote_id` is set.
#[utoipa::path(get, path = "/api/v1/users/", tag = "b2b users",
    params(("id" = Option<i64>, Query, description = "exact"), ("is_active" = Option<bool>, Query),
        ("email" = Option<String>, Query, description = "case-insensitive contains"),
        ("first_name" = Option<String>, Query, description = "case-insensitive contains"),
        ("last_name" = Option<String>, Query, description = "case-insensitive contains"),
        ("phone_number" = Option<String>, Query, description = "case-insensitive contains"),
        ("division" = Option<i64>, Query, description = "exact"), ("division_type" = Option<String>, Query, description = "main or sub"),
        ("page" = Option<u32>, Query), ("limit" = Option<u32>, Query), ExportParams),
    responses((status = 200, body = Paginated<UserOut>,
        description = "The page; with `fields`: `ExportStarted`; with `status_cache_key`: `ExportStatus`"),
        (status = 400, description = "Bad filter, unknown export field or format, or a NUL character in a query parameter"), (status = 403),
        (status = 404, description = "Invalid page, or unknown export key")))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    url: RequestUrl,
    Filter(filter): Filter<UserFilter>,
    page: PageRequest,
) -> ApiResult<Response> {
    let scope = scope_of(&caller)?;
    let export = |_: &RequestUrl| {
        let filter = filter.clone();
        Ok(ExportList::of(UsersExport { filter, scope }))
    };
    if let Some(response) = exports::intercept(&state, &caller, &url, export).await? {
        return Ok(response);
    }
    let (count, rows) = store::list(&state.db, scope, &filter, page.window()).await?;
    Ok(page
        .respond_rows::<_, UserOut>(count, rows)?
        .into_response())
}

/// Creates a user (and its Commerce account); an existing superuser's profile is updated.
#[utoipa::path(post, path = "/api/v1/users/", tag = "b2b users", request_body = UserCreateIn,
    responses((status = 200, body = UserCreatedOut), (status = 400, description = "Validation, `division_not_active`, `user_already_exists`"),
        (status = 502, description = "`api_connection_error`")))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Body<UserCreateIn>,
) -> ApiResult<axum::Json<UserCreatedOut>> {
    let scope = scope_of(&caller)?;
    Ok(axum::Json(service::create(&state, scope, body).await?))
}

/// One user, listed or not, within the caller's scope.
#[utoipa::path(get, path = "/api/v1/users/{id}/", tag = "b2b users", params(("id" = i64, Path)),
    responses((status = 200, body = UserOut), (status = 404)))]
pub async fn detail(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<UserOut>> {
    let scope = scope_of(&caller)?;
    let row = store::by_id(&state.db, scope, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(axum::Json(row.into()))
}

/// Updates a user's profile (PUT and PATCH alike: every field optional); an inactive user is
/// re-activated when its division is active.
#[utoipa::path(put, path = "/api/v1/users/{id}/", tag = "b2b users", params(("id" = i64, Path)), request_body = UserUpdateIn,
    responses((status = 200, body = UserUpdatedOut), (status = 400), (status = 404), (status = 502)))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
    body: Body<UserUpdateIn>,
) -> ApiResult<axum::Json<UserUpdatedOut>> {
    let scope = scope_of(&caller)?;
    Ok(axum::Json(service::update(&state, scope, id, body).await?))
}

/// Same as PUT: every field of a user update is optional.
#[utoipa::path(patch, path = "/api/v1/users/{id}/", tag = "b2b users", params(("id" = i64, Path)), request_body = UserUpdateIn,
    responses((status = 200, body = UserUpdatedOut), (status = 400), (status = 404), (status = 502)))]
pub async fn partial_update(
    state: State<AppState>,
    caller: Caller,
    id: IdPath,
    body: Body<UserUpdateIn>,
) -> ApiResult<axum::Json<UserUpdatedOut>> {
    update(state, caller, id, body).await
}

/// Activates a user (its division must be active); with Commerce, Commerce is told first.
#[utoipa::path(post, path = "/api/v1/users/{id}/activate/", tag = "b2b users", params(("id" = i64, Path)),
    responses((status = 200, description = "`{}`"), (status = 400, description = "`division_not_active`"), (status = 404), (status = 502)))]
pub async fn activate(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<Value>> {
    service::set_active(&state, scope_of(&caller)?, id, true).await?;
    Ok(axum::Json(json!({})))
}

/// Deactivates a user; with Commerce, Commerce is told first.
///
/// The last active superuser cannot be deactivated.
#[utoipa::path(post, path = "/api/v1/users/{id}/deactivate/", tag = "b2b users", params(("id" = i64, Path)),
    responses((status = 200, description = "`{}`"),
        (status = 400, description = "The last active superuser cannot be deactivated"),
        (status = 404), (status = 502)))]
pub async fn deactivate(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<Value>> {
    service::set_active(&state, scope_of(&caller)?, id, false).await?;
    Ok(axum::Json(json!({})))
}

/// Queues the lookup of the user's Commerce id (`GET /users/?email=…` on Commerce).
#[utoipa::path(post, path = "/api/v1/users/{id}/update_remote_id/", tag = "b2b users", params(("id" = i64, Path)),
    responses((status = 200, description = "`{}`"), (status = 404)))]
pub async fn update_remote_id(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<Value>> {
    service::update_remote_id(&state, scope_of(&caller)?, id).await?;
    Ok(axum::Json(json!({})))
}
