//! `/api/v1/townships/`: townships of a city, read with their city nested as seed 002 shows.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{Children, NAME_MAX, TOWNSHIP_COLUMNS, TownshipOut, TownshipRow, delete_place};
use crate::app::AppState;
use crate::db::{Db, Query};
use crate::http::error::{ApiError, ApiResult};
use crate::http::filters::{FilterParser, check_renderer};
use crate::http::json::{Json, present};
use crate::http::pagination::{PageRequest, Paginated};
use crate::http::request::{IdPath, RequestUrl};
use crate::http::time;
use crate::instore::validate::{Checker, missing_pk};
use crate::instore::{Source, list_page, push_contains};

const FROM: &str = "townships t JOIN cities c ON c.id = t.city_id";
const SOURCE: Source = Source {
    from: FROM,
    columns: TOWNSHIP_COLUMNS,
    id: "t.id",
    kept_count: None,
};

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

/// Lists townships; filters `name` (contains), `city`, `omnitron_id`.
#[utoipa::path(get, path = "/api/v1/townships/", tag = "instore geography",
    params(("page" = Option<u32>, Query), ("limit" = Option<u32>, Query),
        ("name" = Option<String>, Query), ("city" = Option<i64>, Query),
        ("omnitron_id" = Option<i64>, Query)),
    responses((status = 200, body = Paginated<TownshipOut>), (status = 403)))]
pub async fn list(
    State(state): State<AppState>,
    url: RequestUrl,
    page: PageRequest,
) -> ApiResult<axum::Json<Paginated<TownshipOut>>> {
    check_renderer(&url)?;
    let mut p = FilterParser::new(&url);
    let (name, city) = (p.text("name"), p.integer("city"));
    let omnitron_id = p.integer("omnitron_id");
    p.finish()?;
    let dialect = state.db.dialect();
    let filter = |q: &mut Query| {
        if let Some(name) = &name {
            push_contains(q, dialect, "t.name", name);
        }
        if let Some(city) = city {
            q.push(" AND t.city_id = ").push_bind(city);
        }
        if let Some(id) = omnitron_id {
            q.push(" AND t.omnitron_id = ").push_bind(id);
        }
    };
    let (count, rows) = list_page::<TownshipRow>(&state.db, &SOURCE, &page, filter).await?;
    let rows = rows.into_iter().map(Into::into).collect();
    Ok(axum::Json(page.respond(count, rows)?))
}

/// One township with its city.
#[utoipa::path(get, path = "/api/v1/townships/{id}/", tag = "instore geography",
    params(("id" = i64, Path)), responses((status = 200, body = TownshipOut), (status = 404)))]
pub async fn detail(
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<TownshipOut>> {
    let township = by_id(&state.db, id).await?.ok_or(ApiError::NotFound)?;
    Ok(axum::Json(township.into()))
}

/// Creates a township (201).
#[utoipa::path(post, path = "/api/v1/townships/", tag = "instore geography", request_body = TownshipIn,
    responses((status = 201, body = TownshipOut), (status = 400)))]
pub async fn create(
    State(state): State<AppState>,
    Json(body): Json<TownshipIn>,
) -> ApiResult<(StatusCode, axum::Json<TownshipOut>)> {
    let out = save(&state.db, None, body, false).await?;
    Ok((StatusCode::CREATED, axum::Json(out)))
}

/// Replaces a township (`name` and `city` required).
#[utoipa::path(put, path = "/api/v1/townships/{id}/", tag = "instore geography",
    params(("id" = i64, Path)), request_body = TownshipIn,
    responses((status = 200, body = TownshipOut), (status = 400), (status = 404)))]
pub async fn update(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    Json(body): Json<TownshipIn>,
) -> ApiResult<axum::Json<TownshipOut>> {
    Ok(axum::Json(save(&state.db, Some(id), body, false).await?))
}

/// Changes the fields given.
#[utoipa::path(patch, path = "/api/v1/townships/{id}/", tag = "instore geography",
    params(("id" = i64, Path)), request_body = TownshipIn,
    responses((status = 200, body = TownshipOut), (status = 400), (status = 404)))]
pub async fn partial_update(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    Json(body): Json<TownshipIn>,
) -> ApiResult<axum::Json<TownshipOut>> {
    Ok(axum::Json(save(&state.db, Some(id), body, true).await?))
}

/// Deletes a township that no store address references (204).
#[utoipa::path(delete, path = "/api/v1/townships/{id}/", tag = "instore geography",
    params(("id" = i64, Path)),
    responses((status = 204), (status = 400, description = "Store addresses still reference it"), (status = 404)))]
pub async fn destroy(State(state): State<AppState>, IdPath(id): IdPath) -> ApiResult<StatusCode> {
    let children = Children {
        table: "addresses",
        column: "township_id",
        in_use: "This township cannot be deleted while store addresses refer to it.",
    };
    match delete_place(&state.db, "townships", id, children).await? {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(ApiError::NotFound),
    }
}

pub async fn by_id(db: &Db, id: i64) -> Result<Option<TownshipRow>, sqlx::Error> {
    Query::new(format!(
        "SELECT {TOWNSHIP_COLUMNS} FROM {FROM} WHERE t.id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Creates (`id` none) or updates a township: the body is merged over the stored row,
/// checked, then written in one statement; an unknown city is a 400 on `city`.
async fn save(db: &Db, id: Option<i64>, body: TownshipIn, partial: bool) -> ApiResult<TownshipOut> {
    let current = match id {
        Some(id) => Some(by_id(db, id).await?.ok_or(ApiError::NotFound)?),
        None => None,
    };
    let mut check = Checker::new();
    if !partial {
        check.required("name", body.name.as_ref());
        check.required("city", body.city.as_ref());
    }
    let name = body
        .name
        .or(current.as_ref().map(|t| t.township_name.clone()));
    let city = body.city.or(current.as_ref().map(|t| t.city.city_id));
    let omnitron_id = body
        .omnitron_id
        .unwrap_or(current.as_ref().and_then(|t| t.township_omnitron_id));
    let name = name.unwrap_or_default();
    if !check.has("name") {
        check.text("name", &name, NAME_MAX, false);
    }
    check.non_negative("omnitron_id", omnitron_id);
    check.finish()?;
    let city = city.unwrap_or_default();
    let sql = match id {
        None => {
            "INSERT INTO townships (name, city_id, omnitron_id, created_date, modified_date) \
                 VALUES ($1, $2, $3, $4, $4) RETURNING id"
        }
        Some(_) => {
            "UPDATE townships SET name = $1, city_id = $2, omnitron_id = $3, \
                    modified_date = $4 WHERE id = $5 RETURNING id"
        }
    };
    let mut q = Query::new(sql)
        .bind(name)
        .bind(city)
        .bind(omnitron_id)
        .bind(time::now());
    if let Some(id) = id {
        q = q.bind(id);
    }
    let saved: Option<i64> = q.scalar_optional(db).await.map_err(|e| {
        if crate::db::is_foreign_key_violation(&e) {
            ApiError::field("city", missing_pk(city))
        } else {
            e.into()
        }
    })?;
    let saved = saved.ok_or(ApiError::NotFound)?;
    Ok(by_id(db, saved).await?.ok_or(ApiError::NotFound)?.into())
}
