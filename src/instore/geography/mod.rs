//! Geography: countries, cities and townships, the places a retail store's address points to.
//! Cities and townships are read nested as seed 002 shows them (`township → city`, with the
//! city's `country` as an id) and written with ids.

pub mod cities;
pub mod countries;
mod level;
pub mod townships;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::{Db, Query};
use crate::http::error::{ApiError, ApiResult};
use crate::http::time::timestamp;

/// Longest name of a country, city or township.
pub const NAME_MAX: usize = 255;

/// The columns of a city under `c`, named as [`CityRow`] reads them.
macro_rules! city_columns {
    () => {
        "c.id AS city_id, c.name AS city_name, c.country_id AS city_country, \
         c.omnitron_id AS city_omnitron_id, c.created_date AS city_created_date, \
         c.modified_date AS city_modified_date"
    };
}

/// The columns of a township under `t` and of its city under `c`, as [`TownshipRow`] reads them.
macro_rules! township_columns {
    () => {
        concat!(
            "t.id AS township_id, t.name AS township_name, \
             t.omnitron_id AS township_omnitron_id, t.created_date AS township_created_date, \
             t.modified_date AS township_modified_date, ",
            $crate::instore::geography::city_columns!()
        )
    };
}
pub(crate) use {city_columns, township_columns};

pub const CITY_COLUMNS: &str = city_columns!();
pub const TOWNSHIP_COLUMNS: &str = township_columns!();

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct CityRow {
    pub city_id: i64,
    pub city_name: String,
    pub city_country: i64,
    pub city_omnitron_id: Option<i64>,
    pub city_created_date: DateTime<Utc>,
    pub city_modified_date: DateTime<Utc>,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TownshipRow {
    pub township_id: i64,
    pub township_name: String,
    pub township_omnitron_id: Option<i64>,
    pub township_created_date: DateTime<Utc>,
    pub township_modified_date: DateTime<Utc>,
    #[sqlx(flatten)]
    pub city: CityRow,
}

/// A city as seed 002 nests it; `country` is the country's id.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CityOut {
    pub id: i64,
    #[serde(serialize_with = "timestamp")]
    #[schema(value_type = String, format = DateTime, example = "2022-07-27T07:05:04.685806Z")]
    pub created_date: DateTime<Utc>,
    #[serde(serialize_with = "timestamp")]
    #[schema(value_type = String, format = DateTime)]
    pub modified_date: DateTime<Utc>,
    pub omnitron_id: Option<i64>,
    pub name: String,
    pub country: i64,
}

/// A township with its city nested, as seed 002 shows it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TownshipOut {
    pub id: i64,
    pub city: CityOut,
    #[serde(serialize_with = "timestamp")]
    #[schema(value_type = String, format = DateTime, example = "2022-07-27T07:05:04.690712Z")]
    pub created_date: DateTime<Utc>,
    #[serde(serialize_with = "timestamp")]
    #[schema(value_type = String, format = DateTime)]
    pub modified_date: DateTime<Utc>,
    pub omnitron_id: Option<i64>,
    pub name: String,
}

impl From<CityRow> for CityOut {
    fn from(r: CityRow) -> Self {
        CityOut {
            id: r.city_id,
            created_date: r.city_created_date,
            modified_date: r.city_modified_date,
            omnitron_id: r.city_omnitron_id,
            name: r.city_name,
            country: r.city_country,
        }
    }
}

impl From<TownshipRow> for TownshipOut {
    fn from(r: TownshipRow) -> Self {
        TownshipOut {
            id: r.township_id,
            city: r.city.into(),
            created_date: r.township_created_date,
            modified_date: r.township_modified_date,
            omnitron_id: r.township_omnitron_id,
            name: r.township_name,
        }
    }
}

/// What refers to a row of a geography table: the child table and its column.
pub struct Children {
    pub table: &'static str,
    pub column: &'static str,
    /// The 400's detail when children exist.
    pub in_use: &'static str,
}

/// Deletes row `id` of a geography table unless rows of `children` still refer to it (400,
/// nothing deleted); 404 when there is no such row.
pub async fn delete_place(
    db: &Db,
    table: &'static str,
    id: i64,
    children: &Children,
) -> ApiResult<()> {
    let mut tx = db.begin().await?;
    let used: i64 = Query::new(format!(
        "SELECT COUNT(*) FROM {} WHERE {} = $1",
        children.table, children.column
    ))
    .bind(id)
    .scalar(&mut tx)
    .await?;
    if used > 0 {
        return Err(ApiError::BadRequest(children.in_use.to_owned()));
    }
    let removed = Query::new(format!("DELETE FROM {table} WHERE id = $1"))
        .bind(id)
        .execute(&mut tx)
        .await
        .map_err(|e| match crate::db::is_foreign_key_violation(&e) {
            true => ApiError::BadRequest(children.in_use.to_owned()),
            false => e.into(),
        })?;
    if removed == 0 {
        return Err(ApiError::NotFound);
    }
    let (target, actions) = audit_names(table);
    crate::audit::record(&mut tx, crate::audit::Event::new(actions[2], target, id)).await?;
    tx.commit().await?;
    Ok(())
}

/// The audit target type and actions (create, update, delete) of a geography table.
pub fn audit_names(table: &str) -> (&'static str, [&'static str; 3]) {
    match table {
        "countries" => (
            "country",
            ["country.create", "country.update", "country.delete"],
        ),
        "cities" => ("city", ["city.create", "city.update", "city.delete"]),
        _ => (
            "township",
            ["township.create", "township.update", "township.delete"],
        ),
    }
}
