//! `/api/v1/staff-users/` (seeds 000/001): superuser-only list and detail of B2B staff
//! accounts; PATCH changes `is_superuser` alone.

use crate::audit::Event;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::accounts::{self, ACCOUNT_COLUMNS, Account, StaffUserOut};
use super::user_filter::UserFilter;
use crate::auth::Superuser;
use crate::b2b::export::StaffUsersExport;
use crate::db::list::{ListSource, list_page};
use crate::db::{Db, Query};
use crate::exports::{self, ExportList, ExportParams};
use crate::http::error::{ApiError, ApiResult};
use crate::http::filters::Filter;
use crate::http::json::Body;
use crate::http::pagination::{PageRequest, Paginated};
use crate::http::request::{IdPath, RequestUrl};
use crate::state::AppState;

/// Every B2B account with `is_staff`.
const STAFF_USERS: ListSource = ListSource {
    always: "users.is_staff = TRUE",
    ..ListSource::new("users", ACCOUNT_COLUMNS, "users.id")
};

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
    let (count, rows) =
        list_page::<Account>(&state.db, &STAFF_USERS, page.window(), &filter).await?;
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
    let account = staff_by_id(&state.db, id)
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
    let current = staff_by_id(&state.db, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let wanted = patch
        .into_inner()?
        .is_superuser
        .unwrap_or(current.is_superuser);
    if wanted != current.is_superuser && !set_superuser(&state.db, id, wanted).await? {
        return Err(ApiError::field(
            "is_superuser",
            "The last active superuser cannot be demoted.",
        ));
    }
    Ok(axum::Json(StaffUserPatch {
        is_superuser: Some(wanted),
    }))
}

async fn staff_by_id(db: &Db, id: i64) -> Result<Option<Account>, sqlx::Error> {
    Query::new(format!(
        "SELECT {ACCOUNT_COLUMNS} FROM users WHERE users.id = $1 AND users.is_staff = TRUE"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Sets `is_superuser`; the last active superuser is not demoted
/// ([`accounts::is_last_superuser`]). False when refused.
async fn set_superuser(db: &Db, id: i64, value: bool) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    if !value && accounts::is_last_superuser(&mut tx, id).await? {
        return Ok(false);
    }
    Query::new("UPDATE users SET is_superuser = $1 WHERE id = $2 AND is_staff = TRUE")
        .bind(value)
        .bind(id)
        .execute(&mut tx)
        .await?;
    let event = Event::new("staff_user.update", "staff_user", id);
    crate::audit::record(&mut tx, event.change("is_superuser", !value, value)).await?;
    tx.commit().await?;
    Ok(true)
}
