//! `/api/v1/staffs/` (seeds 002 and 003): the staffs who work in retail stores, their
//! assignments, permission groups, passwords and login.

pub mod access;
pub mod export;
pub mod filter;
pub mod login;
pub mod queries;
pub mod write;

pub use export::StaffsExport;
pub use filter::StaffFilter;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::exports::{self, ExportList, ExportParams};
use crate::http::error::{ApiError, ApiResult};
use crate::http::filters::Filter;
use crate::http::json::{Body, present};
use crate::http::pagination::{PageRequest, Paginated};
use crate::http::request::{IdPath, RequestUrl};
use crate::http::time::{optional_timestamp, timestamp};
use crate::instore::permissions::{self, PermissionOut};
use crate::instore::stores::StoreOut;
use crate::state::AppState;
use write::Mode;

/// A staff as seed 002 shows it: stores nested down to the city, groups as ids.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct StaffOut {
    pub id: i64,
    pub retail_stores: Vec<StoreOut>,
    #[serde(serialize_with = "optional_timestamp")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_login: Option<DateTime<Utc>>,
    pub is_superuser: bool,
    pub is_staff: bool,
    #[serde(serialize_with = "timestamp")]
    #[schema(value_type = String, format = DateTime, example = "2024-09-01T20:21:37.015406Z")]
    pub date_joined: DateTime<Utc>,
    #[serde(serialize_with = "timestamp")]
    #[schema(value_type = String, format = DateTime)]
    pub created_date: DateTime<Utc>,
    #[serde(serialize_with = "timestamp")]
    #[schema(value_type = String, format = DateTime)]
    pub modified_date: DateTime<Utc>,
    #[schema(example = "John")]
    pub first_name: String,
    #[schema(example = "Doe")]
    pub last_name: String,
    pub email: String,
    pub is_active: bool,
    #[schema(example = "3333")]
    pub remote_id: Option<String>,
    pub username: Option<String>,
    pub permission_groups: Vec<i64>,
    /// The store the staff is logged in at.
    pub current_store: Option<StoreOut>,
}

/// An item of `duplicate_email_staffs/`: seed 003's keys, without `retail_stores`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DuplicateStaffOut {
    pub id: i64,
    #[serde(serialize_with = "optional_timestamp")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_login: Option<DateTime<Utc>>,
    pub is_superuser: bool,
    pub is_staff: bool,
    #[serde(serialize_with = "timestamp")]
    #[schema(value_type = String, format = DateTime)]
    pub date_joined: DateTime<Utc>,
    #[serde(serialize_with = "timestamp")]
    #[schema(value_type = String, format = DateTime)]
    pub created_date: DateTime<Utc>,
    #[serde(serialize_with = "timestamp")]
    #[schema(value_type = String, format = DateTime)]
    pub modified_date: DateTime<Utc>,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub is_active: bool,
    pub remote_id: Option<String>,
    pub username: Option<String>,
    pub permission_groups: Vec<i64>,
    pub current_store: Option<StoreOut>,
}

impl From<StaffOut> for DuplicateStaffOut {
    fn from(s: StaffOut) -> Self {
        DuplicateStaffOut {
            id: s.id,
            last_login: s.last_login,
            is_superuser: s.is_superuser,
            is_staff: s.is_staff,
            date_joined: s.date_joined,
            created_date: s.created_date,
            modified_date: s.modified_date,
            first_name: s.first_name,
            last_name: s.last_name,
            email: s.email,
            is_active: s.is_active,
            remote_id: s.remote_id,
            username: s.username,
            permission_groups: s.permission_groups,
            current_store: s.current_store,
        }
    }
}

/// A staff to create or change. Create requires `retail_stores`, `first_name`, `last_name`,
/// `email`, `password` and `remote_id` (which may be null); PUT requires `retail_stores`,
/// `first_name`, `last_name` and `email`; PATCH takes any subset. Absent fields are left
/// unchanged. `password` is read on create only (later: `change_password/`).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct StaffIn {
    /// Ids of the staff's retail stores (at least one).
    #[serde(default, deserialize_with = "present")]
    #[schema(example = json!([3, 5]))]
    pub retail_stores: Option<Vec<i64>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(max_length = 150, example = "John")]
    pub first_name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(max_length = 150, example = "Doe")]
    pub last_name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(format = Email)]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(write_only, format = Password)]
    pub password: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub is_active: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    pub is_staff: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, example = "3333")]
    pub remote_id: Option<Option<String>>,
    /// Unique when set (compared case-insensitively); login name.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub username: Option<Option<String>>,
    /// Ids of the staff's permission groups.
    #[serde(default, deserialize_with = "present")]
    pub permission_groups: Option<Vec<i64>>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ChangePasswordIn {
    /// The staff's id.
    #[serde(default, deserialize_with = "present")]
    #[schema(example = 32)]
    pub staff: Option<i64>,
    #[serde(default, deserialize_with = "present")]
    #[schema(write_only, format = Password)]
    pub new_password: Option<String>,
}

/// Lists staffs; filters `id`, `first_name`, `last_name`, `email`, `username` (contains),
/// `remote_id`, `is_active`, `is_staff`, `retail_stores`, `permission_groups`, `current_store`.
#[utoipa::path(get, path = "/api/v1/staffs/", tag = "instore staffs",
    params(("page" = Option<u32>, Query), ("limit" = Option<u32>, Query),
        ("email" = Option<String>, Query),
        ("first_name" = Option<String>, Query), ("last_name" = Option<String>, Query),
        ("username" = Option<String>, Query), ("remote_id" = Option<String>, Query),
        ("is_active" = Option<bool>, Query), ("is_staff" = Option<bool>, Query),
        ("retail_stores" = Option<i64>, Query), ("permission_groups" = Option<i64>, Query),
        ("current_store" = Option<i64>, Query), ExportParams),
    responses((status = 200, body = Paginated<StaffOut>,
        description = "The page; with `fields`: `ExportStarted`; with `status_cache_key`: `ExportStatus`"),
        (status = 400, description = "Bad filter, unknown export field or format, or a NUL character in a query parameter"), (status = 403),
        (status = 404, description = "Invalid page, or unknown export key")))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    url: RequestUrl,
    Filter(filter): Filter<StaffFilter>,
    page: PageRequest,
) -> ApiResult<Response> {
    let export = |_: &RequestUrl| {
        Ok(ExportList::of(StaffsExport {
            filter: filter.clone(),
        }))
    };
    if let Some(response) = exports::intercept(&state, &caller, &url, export).await? {
        return Ok(response);
    }
    let (count, staffs) = queries::page(&state.db, &filter, page.window()).await?;
    Ok(axum::Json(page.respond(count, staffs)?).into_response())
}

/// One staff.
#[utoipa::path(get, path = "/api/v1/staffs/{id}/", tag = "instore staffs",
    params(("id" = i64, Path), ("format" = Option<String>, Query)),
    responses((status = 200, body = StaffOut), (status = 404)))]
pub async fn detail(
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<StaffOut>> {
    Ok(axum::Json(
        queries::by_id(&state.db, id)
            .await?
            .ok_or(ApiError::NotFound)?,
    ))
}

/// Creates a staff (201).
#[utoipa::path(post, path = "/api/v1/staffs/", tag = "instore staffs", request_body = StaffIn,
    responses((status = 201, body = StaffOut), (status = 400)))]
pub async fn create(
    State(state): State<AppState>,
    body: Body<StaffIn>,
) -> ApiResult<(StatusCode, axum::Json<StaffOut>)> {
    let id = write::save(&state.db, &state.passwords, None, body, Mode::Create).await?;
    let staff = queries::by_id(&state.db, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok((StatusCode::CREATED, axum::Json(staff)))
}

/// Updates a staff (`retail_stores`, `first_name`, `last_name`, `email` required).
#[utoipa::path(put, path = "/api/v1/staffs/{id}/", tag = "instore staffs",
    params(("id" = i64, Path)), request_body = StaffIn,
    responses((status = 200, body = StaffOut), (status = 400), (status = 404)))]
pub async fn update(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    body: Body<StaffIn>,
) -> ApiResult<axum::Json<StaffOut>> {
    write::save(&state.db, &state.passwords, Some(id), body, Mode::Replace).await?;
    Ok(axum::Json(
        queries::by_id(&state.db, id)
            .await?
            .ok_or(ApiError::NotFound)?,
    ))
}

/// Changes the fields given.
#[utoipa::path(patch, path = "/api/v1/staffs/{id}/", tag = "instore staffs",
    params(("id" = i64, Path)), request_body = StaffIn,
    responses((status = 200, body = StaffOut), (status = 400), (status = 404)))]
pub async fn partial_update(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    body: Body<StaffIn>,
) -> ApiResult<axum::Json<StaffOut>> {
    write::save(&state.db, &state.passwords, Some(id), body, Mode::Patch).await?;
    Ok(axum::Json(
        queries::by_id(&state.db, id)
            .await?
            .ok_or(ApiError::NotFound)?,
    ))
}

/// Deactivates a staff: its tokens are revoked and it can no longer log in (204).
#[utoipa::path(delete, path = "/api/v1/staffs/{id}/", tag = "instore staffs",
    params(("id" = i64, Path)), responses((status = 204), (status = 404)))]
pub async fn destroy(State(state): State<AppState>, IdPath(id): IdPath) -> ApiResult<StatusCode> {
    match write::deactivate(&state.db, id).await? {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(ApiError::NotFound),
    }
}

/// The permissions the staff holds through its groups (every permission for a superuser).
#[utoipa::path(get, path = "/api/v1/staffs/{id}/list_staff_permission_info/",
    tag = "instore staffs", params(("id" = i64, Path), ("format" = Option<String>, Query)),
    responses((status = 200, body = Vec<PermissionOut>), (status = 404)))]
pub async fn permission_info(
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<Vec<PermissionOut>>> {
    let staff = queries::row(&state.db, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let held = permissions::of_staff(&state.db, staff.id, staff.is_superuser).await?;
    Ok(axum::Json(held))
}

/// Sets a staff's password (checked against the password policy) and logs it out everywhere;
/// answers 200 with no content.
#[utoipa::path(post, path = "/api/v1/staffs/change_password/", tag = "instore staffs",
    request_body = ChangePasswordIn, responses((status = 200), (status = 400)))]
pub async fn change_password(
    State(state): State<AppState>,
    body: Body<ChangePasswordIn>,
) -> ApiResult<StatusCode> {
    write::change_password(&state.db, &state.passwords, body).await?;
    Ok(StatusCode::OK)
}

/// Every staff whose email address another staff shares (case-insensitively), grouped by
/// address; not paginated.
#[utoipa::path(get, path = "/api/v1/staffs/duplicate_email_staffs/", tag = "instore staffs",
    params(("format" = Option<String>, Query)),
    responses((status = 200, body = Vec<DuplicateStaffOut>),
        (status = 404, description = "`format` other than `json`")))]
pub async fn duplicate_emails(
    State(state): State<AppState>,
) -> ApiResult<axum::Json<Vec<DuplicateStaffOut>>> {
    Ok(axum::Json(queries::duplicate_emails(&state.db).await?))
}
