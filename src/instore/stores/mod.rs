//! `/api/v1/retail_stores/`: retail stores with their one address, read nested down to the
//! city exactly as seed 002 shows a staff's `retail_stores`, written with ids.

mod queries;

pub use queries::{by_id, by_ids};

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::list::{Conditions, ListFilter};
use crate::http::error::{ApiError, ApiResult};
use crate::http::filters::{Filter, FilterParser, FromQuery};
use crate::http::json::{Body, present};
use crate::http::pagination::{PageRequest, Paginated};
use crate::http::request::IdPath;
use crate::http::time::timestamp;
use crate::instore::geography::TownshipOut;
use crate::state::AppState;

/// A store's address, with its township and city nested.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AddressOut {
    pub id: i64,
    pub township: TownshipOut,
    #[serde(serialize_with = "timestamp")]
    #[schema(value_type = String, format = DateTime)]
    pub created_date: DateTime<Utc>,
    #[serde(serialize_with = "timestamp")]
    #[schema(value_type = String, format = DateTime)]
    pub modified_date: DateTime<Utc>,
    #[schema(example = "+32043843443")]
    pub phone_number: String,
    #[schema(example = "Shop 2 Address")]
    pub line: String,
    pub postcode: Option<String>,
    /// The store's id.
    pub retail_store: i64,
}

/// A retail store as seed 002 shows the items of a staff's `retail_stores`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct StoreOut {
    pub id: i64,
    pub address: AddressOut,
    #[serde(serialize_with = "timestamp")]
    #[schema(value_type = String, format = DateTime, example = "2022-07-27T07:05:04.694591Z")]
    pub created_date: DateTime<Utc>,
    #[serde(serialize_with = "timestamp")]
    #[schema(value_type = String, format = DateTime)]
    pub modified_date: DateTime<Utc>,
    pub omnitron_id: Option<i64>,
    #[schema(example = "Shop 2")]
    pub name: String,
    pub email: String,
    #[schema(example = "shop2")]
    pub remote_id: Option<String>,
    pub is_active: bool,
    pub fast_delivery: bool,
}

/// The address of a store to create or change; `township` and `line` are required when a
/// store is created or replaced.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct AddressIn {
    /// The township's id.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, required = true)]
    pub township: Option<i64>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub phone_number: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, required = true, pattern = r"^[^\x00]*\S[^\x00]*$")]
    pub line: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub postcode: Option<Option<String>>,
}

/// A store to create or change; `name` and `address` are required on create and PUT.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct StoreIn {
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, required = true, pattern = r"^[^\x00]*\S[^\x00]*$")]
    pub name: Option<String>,
    /// An email address, or blank.
    #[serde(default, deserialize_with = "present")]
    #[schema(
        nullable = false,
        max_length = 254,
        pattern = r"^$|^[A-Za-z0-9_+-]+(\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9]+(-[A-Za-z0-9]+)*(\.[A-Za-z0-9]+(-[A-Za-z0-9]+)*)*\.[A-Za-z]{2,}$"
    )]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub remote_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub is_active: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub fast_delivery: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 0)]
    pub omnitron_id: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, required = true)]
    pub address: Option<AddressIn>,
}

/// The filters of the store list.
#[derive(Debug, Default)]
pub struct StoreFilter {
    pub name: Option<String>,
    pub is_active: Option<bool>,
    pub remote_id: Option<String>,
    pub omnitron_id: Option<i64>,
    pub township: Option<i64>,
    pub city: Option<i64>,
}

impl FromQuery for StoreFilter {
    fn from_query(p: &mut FilterParser<'_>) -> Self {
        StoreFilter {
            name: p.text("name"),
            is_active: p.boolean("is_active"),
            remote_id: p.text("remote_id"),
            omnitron_id: p.integer("omnitron_id"),
            township: p.integer("township"),
            city: p.integer("city"),
        }
    }
}

impl ListFilter for StoreFilter {
    fn apply(&self, c: &mut Conditions<'_>) {
        c.contains("rs.name", self.name.as_deref())
            .eq("rs.is_active", self.is_active)
            .eq("rs.remote_id", self.remote_id.as_deref())
            .eq("rs.omnitron_id", self.omnitron_id)
            .eq("t.id", self.township)
            .eq("c.id", self.city);
    }
}

/// Lists stores; filters `name` (contains), `is_active`, `remote_id`, `omnitron_id`,
/// `township`, `city`.
#[utoipa::path(get, path = "/api/v1/retail_stores/", tag = "instore retail stores",
    params(("page" = Option<u32>, Query), ("limit" = Option<u32>, Query),
        ("name" = Option<String>, Query), ("is_active" = Option<bool>, Query),
        ("remote_id" = Option<String>, Query), ("omnitron_id" = Option<i64>, Query),
        ("township" = Option<i64>, Query), ("city" = Option<i64>, Query)),
    responses((status = 200, body = Paginated<StoreOut>),
        (status = 400, description = "A bad filter value, or a NUL character in a query parameter"),
        (status = 403), (status = 404, description = "Invalid page")))]
pub async fn list(
    State(state): State<AppState>,
    Filter(filter): Filter<StoreFilter>,
    page: PageRequest,
) -> ApiResult<axum::Json<Paginated<StoreOut>>> {
    let (count, stores) = queries::page(&state.db, &filter, page.window()).await?;
    Ok(axum::Json(page.respond(count, stores)?))
}

/// One store with its address.
#[utoipa::path(get, path = "/api/v1/retail_stores/{id}/", tag = "instore retail stores",
    params(("id" = i64, Path)), responses((status = 200, body = StoreOut), (status = 404)))]
pub async fn detail(
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<StoreOut>> {
    Ok(axum::Json(
        by_id(&state.db, id).await?.ok_or(ApiError::NotFound)?,
    ))
}

/// Creates a store and its address in one transaction (201).
#[utoipa::path(post, path = "/api/v1/retail_stores/", tag = "instore retail stores",
    request_body = StoreIn, responses((status = 201, body = StoreOut), (status = 400)))]
pub async fn create(
    State(state): State<AppState>,
    body: Body<StoreIn>,
) -> ApiResult<(StatusCode, axum::Json<StoreOut>)> {
    let out = queries::save(&state.db, None, body, false).await?;
    Ok((StatusCode::CREATED, axum::Json(out)))
}

/// Replaces a store (`name` and `address` required).
#[utoipa::path(put, path = "/api/v1/retail_stores/{id}/", tag = "instore retail stores",
    params(("id" = i64, Path)), request_body = StoreIn,
    responses((status = 200, body = StoreOut), (status = 400), (status = 404)))]
pub async fn update(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    body: Body<StoreIn>,
) -> ApiResult<axum::Json<StoreOut>> {
    Ok(axum::Json(
        queries::save(&state.db, Some(id), body, false).await?,
    ))
}

/// Changes the fields given, the address' too.
#[utoipa::path(patch, path = "/api/v1/retail_stores/{id}/", tag = "instore retail stores",
    params(("id" = i64, Path)), request_body = StoreIn,
    responses((status = 200, body = StoreOut), (status = 400), (status = 404)))]
pub async fn partial_update(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    body: Body<StoreIn>,
) -> ApiResult<axum::Json<StoreOut>> {
    Ok(axum::Json(
        queries::save(&state.db, Some(id), body, true).await?,
    ))
}

/// Deletes a store and its address; staffs lose it from `retail_stores` and, when it was their
/// `current_store`, have none (204). Deactivating (`is_active`) keeps the history instead.
#[utoipa::path(delete, path = "/api/v1/retail_stores/{id}/", tag = "instore retail stores",
    params(("id" = i64, Path)), responses((status = 204), (status = 404)))]
pub async fn destroy(State(state): State<AppState>, IdPath(id): IdPath) -> ApiResult<StatusCode> {
    match queries::delete(&state.db, id).await? {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(ApiError::NotFound),
    }
}
