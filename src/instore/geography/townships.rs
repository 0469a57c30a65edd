//! `/api/v1/townships/`: townships of a city, read with their city nested as seed 002 shows.
//! The work is done by [`Level`], shared with cities; these handlers give it the township's
//! table and messages and carry the OpenAPI description.

use std::marker::PhantomData;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::level::{Level, LevelRow, PlaceFilter, PlaceIn};
use super::{Children, TOWNSHIP_COLUMNS, TownshipOut, TownshipRow};
use crate::db::list::ListSource;
use crate::http::error::{ApiError, ApiResult};
use crate::http::filters::Filter;
use crate::http::json::{Body, present};
use crate::http::pagination::{PageRequest, Paginated};
use crate::http::request::IdPath;
use crate::state::AppState;

const TOWNSHIPS: Level<TownshipRow> = Level {
    table: "townships",
    source: ListSource::new(
        "townships t JOIN cities c ON c.id = t.city_id",
        TOWNSHIP_COLUMNS,
        "t.id",
    ),
    alias: "t",
    parent: "city",
    parent_column: "city_id",
    children: Children {
        table: "addresses",
        column: "township_id",
        in_use: "This township cannot be deleted while store addresses refer to it.",
    },
    row: PhantomData,
};

impl LevelRow for TownshipRow {
    type Out = TownshipOut;
    const LEVEL: Level<Self> = TOWNSHIPS;
    fn name(&self) -> &str {
        &self.township_name
    }
    fn parent(&self) -> i64 {
        self.city.city_id
    }
    fn omnitron_id(&self) -> Option<i64> {
        self.township_omnitron_id
    }
}

/// A township to create or change; `name` and `city` are required on create and PUT.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TownshipIn {
    #[serde(default, deserialize_with = "present")]
    pub name: Option<String>,
    /// The city's id.
    #[serde(default, deserialize_with = "present")]
    pub city: Option<i64>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub omnitron_id: Option<Option<i64>>,
}

impl From<TownshipIn> for PlaceIn {
    fn from(body: TownshipIn) -> Self {
        PlaceIn {
            name: body.name,
            parent: body.city,
            omnitron_id: body.omnitron_id,
        }
    }
}

/// Lists townships; filters `name` (contains), `city`, `omnitron_id`.
#[utoipa::path(get, path = "/api/v1/townships/", tag = "instore geography",
    params(("page" = Option<u32>, Query), ("limit" = Option<u32>, Query),
        ("name" = Option<String>, Query), ("city" = Option<i64>, Query),
        ("omnitron_id" = Option<i64>, Query)),
    responses((status = 200, body = Paginated<TownshipOut>),
        (status = 400, description = "A bad filter value, or a NUL character in a query parameter"),
        (status = 403), (status = 404, description = "Invalid page")))]
pub async fn list(
    State(state): State<AppState>,
    Filter(filter): Filter<PlaceFilter<TownshipRow>>,
    page: PageRequest,
) -> ApiResult<axum::Json<Paginated<TownshipOut>>> {
    let (count, rows) = TOWNSHIPS.list(&state.db, &filter, page.window()).await?;
    page.respond_rows(count, rows)
}

/// One township with its city.
#[utoipa::path(get, path = "/api/v1/townships/{id}/", tag = "instore geography",
    params(("id" = i64, Path)), responses((status = 200, body = TownshipOut), (status = 404)))]
pub async fn detail(
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<TownshipOut>> {
    let place = TOWNSHIPS.detail(&state.db, id).await?;
    Ok(axum::Json(place.ok_or(ApiError::NotFound)?))
}

/// Creates a township (201).
#[utoipa::path(post, path = "/api/v1/townships/", tag = "instore geography", request_body = TownshipIn,
    responses((status = 201, body = TownshipOut), (status = 400)))]
pub async fn create(
    State(state): State<AppState>,
    body: Body<TownshipIn>,
) -> ApiResult<(StatusCode, axum::Json<TownshipOut>)> {
    let out = TOWNSHIPS
        .save(&state.db, None, body.map(Into::into), false)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(out)))
}

/// Replaces a township (`name` and `city` required).
#[utoipa::path(put, path = "/api/v1/townships/{id}/", tag = "instore geography",
    params(("id" = i64, Path)), request_body = TownshipIn,
    responses((status = 200, body = TownshipOut), (status = 400), (status = 404)))]
pub async fn update(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    body: Body<TownshipIn>,
) -> ApiResult<axum::Json<TownshipOut>> {
    let out = TOWNSHIPS
        .save(&state.db, Some(id), body.map(Into::into), false)
        .await?;
    Ok(axum::Json(out))
}

/// Changes the fields given.
#[utoipa::path(patch, path = "/api/v1/townships/{id}/", tag = "instore geography",
    params(("id" = i64, Path)), request_body = TownshipIn,
    responses((status = 200, body = TownshipOut), (status = 400), (status = 404)))]
pub async fn partial_update(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    body: Body<TownshipIn>,
) -> ApiResult<axum::Json<TownshipOut>> {
    let out = TOWNSHIPS
        .save(&state.db, Some(id), body.map(Into::into), true)
        .await?;
    Ok(axum::Json(out))
}

/// Deletes a township that no store address references (204).
#[utoipa::path(delete, path = "/api/v1/townships/{id}/", tag = "instore geography",
    params(("id" = i64, Path)),
    responses((status = 204), (status = 400, description = "Store addresses still reference it"), (status = 404)))]
pub async fn destroy(State(state): State<AppState>, IdPath(id): IdPath) -> ApiResult<StatusCode> {
    TOWNSHIPS.destroy(&state.db, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
