//! `/api/v1/staff-users/` (seeds 000/001): superuser-only list and detail of B2B staff
//! accounts; PATCH changes `is_superuser` alone.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::accounts::{self, StaffUserOut};
use super::user_filter::UserFilter;
use crate::auth::Superuser;
use crate::b2b::export::StaffUsersExport;
use crate::exports::{self, ExportList, ExportParams};
use crate::http::error::{ApiError, ApiResult};
use crate::http::filters::Filter;
use crate::http::json::Body;
use crate::http::pagination::{PageRequest, Paginated};
use crate::http::request::{IdPath, RequestUrl};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/staff-users", get(list))
        .route("/api/v1/staff-users/{id}", get(detail).patch(update))
}

/// Lists staff users (superusers only); with `fields` or `status_cache_key`, exports them.
#[utoipa::path(get, path = "/api/v1/staff-users/", tag = "b2b staff users",
    params(("page" = Option<u32>, Query), ("limit" = Option<u32>, Query), ExportParams),
    responses((status = 200, body = Paginated<StaffUserOut>,
        description = "The page; with `fields`: `ExportStarted`; with `status_cache_key`: `ExportStatus`"),
        (status = 400, description = "Bad filter, unknown export field or format, or a NUL character in a query parameter"),
        (status = 403), (status = 404, description = "Invalid page, or unknown export key")))]
pub async fn list(
    State(state): State<AppState>,
    Superuser(caller): Superuser,
    url: RequestUrl,
    Filter(filter): Filter<UserFilter>,
    page: PageRequest,
) -> ApiResult<Response> {
    let export = |_: &RequestUrl| {
        let filter = filter.clone();
        Ok(ExportList::of(StaffUsersExport { filter }))
    };
    if let Some(response) = exports::intercept(&state, &caller, &url, export).await? {
        return Ok(response);
    }
    let (count, rows) = accounts::staff_page(&state.db, &filter, page.window()).await?;
    Ok(page
        .respond_rows::<_, StaffUserOut>(count, rows)?
        .into_response())
}

/// One staff user (superusers only).
#[utoipa::path(get, path = "/api/v1/staff-users/{id}/", tag = "b2b staff users",
    params(("id" = i64, Path)), responses((status = 200, body = StaffUserOut), (status = 404)))]
pub async fn detail(
    State(state): State<AppState>,
    _: Superuser,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<StaffUserOut>> {
    let account = accounts::staff_by_id(&state.db, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(axum::Json(account.into()))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct StaffUserPatch {
    pub is_superuser: Option<bool>,
}

/// Grants or removes superuser rights; the last active superuser cannot be demoted.
#[utoipa::path(patch, path = "/api/v1/staff-users/{id}/", tag = "b2b staff users",
    params(("id" = i64, Path)), request_body = StaffUserPatch,
    responses((status = 200, body = StaffUserPatch), (status = 400), (status = 404)))]
pub async fn update(
    State(state): State<AppState>,
    _: Superuser,
    IdPath(id): IdPath,
    patch: Body<StaffUserPatch>,
) -> ApiResult<axum::Json<StaffUserPatch>> {
    let wanted = patch.into_inner()?.is_superuser;
    let is_superuser = accounts::change_superuser(&state.db, id, wanted).await?;
    Ok(axum::Json(StaffUserPatch {
        is_superuser: Some(is_superuser),
    }))
}
