//! `/api/v1/cities/`: cities of a country, read as seed 002 nests them (`country` as an id).
//! The work is done by [`Level`], shared with townships; these handlers give it the city's
//! table and messages and carry the OpenAPI description.

use std::marker::PhantomData;

use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;

use super::level::{Level, LevelRow, PlaceFilter, PlaceIn};
use super::{CITY_COLUMNS, Children, CityOut, CityRow};
use crate::db::Db;
use crate::db::list::ListSource;
use crate::http::crud::Resource;
use crate::http::error::ApiResult;
use crate::http::filters::Filter;
use crate::http::json::{Body, present};
use crate::http::pagination::{PageRequest, Paginated};
use crate::state::AppState;

const CITIES: Level<CityRow> = Level {
    table: "cities",
    source: ListSource::new("cities c", CITY_COLUMNS, "c.id"),
    alias: "c",
    parent: "country",
    parent_column: "country_id",
    children: Children {
        table: "townships",
        column: "city_id",
        in_use: "This city cannot be deleted while townships refer to it.",
    },
    row: PhantomData,
};

impl LevelRow for CityRow {
    type Out = CityOut;
    const LEVEL: Level<Self> = CITIES;
    fn name(&self) -> &str {
        &self.city_name
    }
    fn parent(&self) -> i64 {
        self.city_country
    }
    fn omnitron_id(&self) -> Option<i64> {
        self.city_omnitron_id
    }
}

/// A city to create or change; `name` and `country` are required on create and PUT.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CityIn {
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, required = true, pattern = r"^[^\x00]*\S[^\x00]*$")]
    pub name: Option<String>,
    /// The country's id.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, required = true)]
    pub country: Option<i64>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 0)]
    pub omnitron_id: Option<Option<i64>>,
}

impl From<CityIn> for PlaceIn {
    fn from(body: CityIn) -> Self {
        PlaceIn {
            name: body.name,
            parent: body.country,
            omnitron_id: body.omnitron_id,
        }
    }
}

/// Lists cities; filters `name` (contains), `country`, `omnitron_id`.
#[utoipa::path(get, path = "/api/v1/cities/", tag = "instore geography",
    params(("page" = Option<u32>, Query), ("limit" = Option<u32>, Query),
        ("name" = Option<String>, Query), ("country" = Option<i64>, Query),
        ("omnitron_id" = Option<i64>, Query)),
    responses((status = 200, body = Paginated<CityOut>),
        (status = 400, description = "A bad filter value, or a NUL character in a query parameter"),
        (status = 403), (status = 404, description = "Invalid page")))]
pub async fn list(
    State(state): State<AppState>,
    Filter(filter): Filter<PlaceFilter<CityRow>>,
    page: PageRequest,
) -> ApiResult<axum::Json<Paginated<CityOut>>> {
    let (count, rows) = CITIES.list(&state.db, &filter, page.window()).await?;
    page.respond_rows(count, rows)
}

/// Acitys behind the shared handlers.
pub struct Cities;

impl Resource for Cities {
    type In = CityIn;
    type Out = CityOut;

    async fn detail(db: &Db, id: i64) -> Result<Option<CityOut>, sqlx::Error> {
        CITIES.detail(db, id).await
    }

    async fn save(
        db: &Db,
        id: Option<i64>,
        body: Body<CityIn>,
        partial: bool,
    ) -> ApiResult<CityOut> {
        CITIES.save(db, id, body.map(Into::into), partial).await
    }

    async fn delete(db: &Db, id: i64) -> ApiResult<()> {
        CITIES.destroy(db, id).await
    }
}

crate::crud_handlers! {
    resource: Cities,
    name: "a city",
    list_path: "/api/v1/cities/",
    detail_path: "/api/v1/cities/{id}/",
    tag: "instore geography",
    input: CityIn,
    output: CityOut,
    required: "`name` and `country`",
    delete_doc: "Deletes a city that no township references (204).",
    delete_responses: ((status = 204), (status = 400, description = "Townships still reference it"), (status = 404)),
}
