//! `/api/v1/cities/`: cities of a country, read as seed 002 nests them (`country` as an id).

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{CITY_COLUMNS, Children, CityOut, CityRow, NAME_MAX, delete_place};
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

const SOURCE: Source = Source {
    from: "cities c",
    columns: CITY_COLUMNS,
    id: "c.id",
    kept_count: None,
};

/// A city to create or change; `name` and `country` are required on create and PUT.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CityIn {
    #[serde(default, deserialize_with = "present")]
    pub name: Option<String>,
    /// The country's id.
    #[serde(default, deserialize_with = "present")]
    pub country: Option<i64>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub omnitron_id: Option<Option<i64>>,
}

/// Lists cities; filters `name` (contains), `country`, `omnitron_id`.
#[utoipa::path(get, path = "/api/v1/cities/", tag = "instore geography",
    params(("page" = Option<u32>, Query), ("limit" = Option<u32>, Query),
        ("name" = Option<String>, Query), ("country" = Option<i64>, Query),
        ("omnitron_id" = Option<i64>, Query)),
    responses((status = 200, body = Paginated<CityOut>), (status = 403)))]
pub async fn list(
    State(state): State<AppState>,
    url: RequestUrl,
    page: PageRequest,
) -> ApiResult<axum::Json<Paginated<CityOut>>> {
    check_renderer(&url)?;
    let mut p = FilterParser::new(&url);
    let (name, country) = (p.text("name"), p.integer("country"));
    let omnitron_id = p.integer("omnitron_id");
    p.finish()?;
    let dialect = state.db.dialect();
    let filter = |q: &mut Query| {
        if let Some(name) = &name {
            push_contains(q, dialect, "c.name", name);
        }
        if let Some(country) = country {
            q.push(" AND c.country_id = ").push_bind(country);
        }
        if let Some(id) = omnitron_id {
            q.push(" AND c.omnitron_id = ").push_bind(id);
        }
    };
    let (count, rows) = list_page::<CityRow>(&state.db, &SOURCE, &page, filter).await?;
    let rows = rows.into_iter().map(Into::into).collect();
    Ok(axum::Json(page.respond(count, rows)?))
}

/// One city.
#[utoipa::path(get, path = "/api/v1/cities/{id}/", tag = "instore geography",
    params(("id" = i64, Path)), responses((status = 200, body = CityOut), (status = 404)))]
pub async fn detail(
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<CityOut>> {
    let city = by_id(&state.db, id).await?.ok_or(ApiError::NotFound)?;
    Ok(axum::Json(city.into()))
}

/// Creates a city (201).
#[utoipa::path(post, path = "/api/v1/cities/", tag = "instore geography", request_body = CityIn,
    responses((status = 201, body = CityOut), (status = 400)))]
pub async fn create(
    State(state): State<AppState>,
    Json(body): Json<CityIn>,
) -> ApiResult<(StatusCode, axum::Json<CityOut>)> {
    let out = save(&state.db, None, body, false).await?;
    Ok((StatusCode::CREATED, axum::Json(out)))
}

/// Replaces a city (`name` and `country` required).
#[utoipa::path(put, path = "/api/v1/cities/{id}/", tag = "instore geography",
    params(("id" = i64, Path)), request_body = CityIn,
    responses((status = 200, body = CityOut), (status = 400), (status = 404)))]
pub async fn update(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    Json(body): Json<CityIn>,
) -> ApiResult<axum::Json<CityOut>> {
    Ok(axum::Json(save(&state.db, Some(id), body, false).await?))
}

/// Changes the fields given.
#[utoipa::path(patch, path = "/api/v1/cities/{id}/", tag = "instore geography",
    params(("id" = i64, Path)), request_body = CityIn,
    responses((status = 200, body = CityOut), (status = 400), (status = 404)))]
pub async fn partial_update(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    Json(body): Json<CityIn>,
) -> ApiResult<axum::Json<CityOut>> {
    Ok(axum::Json(save(&state.db, Some(id), body, true).await?))
}

/// Deletes a city that no township references (204).
#[utoipa::path(delete, path = "/api/v1/cities/{id}/", tag = "instore geography",
    params(("id" = i64, Path)),
    responses((status = 204), (status = 400, description = "Townships still reference it"), (status = 404)))]
pub async fn destroy(State(state): State<AppState>, IdPath(id): IdPath) -> ApiResult<StatusCode> {
    let children = Children {
        table: "townships",
        column: "city_id",
        in_use: "This city cannot be deleted while townships refer to it.",
    };
    match delete_place(&state.db, "cities", id, children).await? {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(ApiError::NotFound),
    }
}

pub async fn by_id(db: &Db, id: i64) -> Result<Option<CityRow>, sqlx::Error> {
    Query::new(format!(
        "SELECT {CITY_COLUMNS} FROM cities c WHERE c.id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Creates (`id` none) or updates a city: the body is merged over the stored row, checked,
/// then written in one statement; an unknown country is a 400 on `country`.
async fn save(db: &Db, id: Option<i64>, body: CityIn, partial: bool) -> ApiResult<CityOut> {
    let current = match id {
        Some(id) => Some(by_id(db, id).await?.ok_or(ApiError::NotFound)?),
        None => None,
    };
    let mut check = Checker::new();
    if !partial {
        check.required("name", body.name.as_ref());
        check.required("country", body.country.as_ref());
    }
    let name = body.name.or(current.as_ref().map(|c| c.city_name.clone()));
    let country = body.country.or(current.as_ref().map(|c| c.city_country));
    let omnitron_id = body
        .omnitron_id
        .unwrap_or(current.as_ref().and_then(|c| c.city_omnitron_id));
    let name = name.unwrap_or_default();
    if !check.has("name") {
        check.text("name", &name, NAME_MAX, false);
    }
    check.non_negative("omnitron_id", omnitron_id);
    check.finish()?;
    let country = country.unwrap_or_default();
    let sql = match id {
        None => {
            "INSERT INTO cities (name, country_id, omnitron_id, created_date, modified_date) \
                 VALUES ($1, $2, $3, $4, $4) RETURNING id"
        }
        Some(_) => {
            "UPDATE cities SET name = $1, country_id = $2, omnitron_id = $3, \
                    modified_date = $4 WHERE id = $5 RETURNING id"
        }
    };
    let mut q = Query::new(sql)
        .bind(name)
        .bind(country)
        .bind(omnitron_id)
        .bind(time::now());
    if let Some(id) = id {
        q = q.bind(id);
    }
    let saved: Option<i64> = q.scalar_optional(db).await.map_err(|e| {
        if crate::db::is_foreign_key_violation(&e) {
            ApiError::field("country", missing_pk(country))
        } else {
            e.into()
        }
    })?;
    let saved = saved.ok_or(ApiError::NotFound)?;
    Ok(by_id(db, saved).await?.ok_or(ApiError::NotFound)?.into())
}
