//! `/api/v1/countries/`: countries with their ISO 3166-1 alpha-2 `code`.

mod queries;

pub use queries::ISO_3166_ALPHA2;

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Children, delete_place};
use crate::db::Db;
use crate::db::list::{Conditions, ListFilter};
use crate::http::crud::Resource;
use crate::http::error::ApiResult;
use crate::http::filters::{Filter, FilterParser, FromQuery};
use crate::http::json::{Body, present};
use crate::http::pagination::{PageRequest, Paginated};
use crate::http::time::timestamp;
use crate::state::AppState;

#[derive(Clone, Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct CountryOut {
    pub id: i64,
    pub name: String,
    #[schema(example = "TR")]
    pub code: String,
    pub omnitron_id: Option<i64>,
    #[serde(serialize_with = "timestamp")]
    #[schema(value_type = String, format = DateTime)]
    pub created_date: DateTime<Utc>,
    #[serde(serialize_with = "timestamp")]
    #[schema(value_type = String, format = DateTime)]
    pub modified_date: DateTime<Utc>,
}

/// A country to create or change; `name` and `code` are required on create and PUT.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CountryIn {
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, required = true, pattern = r"^[^\x00]*\S[^\x00]*$")]
    pub name: Option<String>,
    /// An ISO 3166-1 alpha-2 code.
    #[serde(default, deserialize_with = "present")]
    #[schema(example = "TR", nullable = false, required = true)]
    pub code: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 0)]
    pub omnitron_id: Option<Option<i64>>,
}

/// Lists countries; filters `name` (contains), `code`, `omnitron_id`.
#[utoipa::path(get, path = "/api/v1/countries/", tag = "instore geography",
    params(("page" = Option<u32>, Query), ("limit" = Option<u32>, Query),
        ("name" = Option<String>, Query), ("code" = Option<String>, Query),
        ("omnitron_id" = Option<i64>, Query)),
    responses((status = 200, body = Paginated<CountryOut>),
        (status = 400, description = "A bad filter value, or a NUL character in a query parameter"),
        (status = 403), (status = 404, description = "Invalid page")))]
pub async fn list(
    State(state): State<AppState>,
    Filter(filter): Filter<CountryFilter>,
    page: PageRequest,
) -> ApiResult<axum::Json<Paginated<CountryOut>>> {
    let (count, countries) = queries::page(&state.db, &filter, page.window()).await?;
    Ok(axum::Json(page.respond(count, countries)?))
}

/// `name` (contains), `code` (exact, any case), `omnitron_id`.
#[derive(Debug, Default)]
pub struct CountryFilter {
    pub name: Option<String>,
    pub code: Option<String>,
    pub omnitron_id: Option<i64>,
}

impl FromQuery for CountryFilter {
    fn from_query(p: &mut FilterParser<'_>) -> Self {
        CountryFilter {
            name: p.text("name"),
            code: p.text("code").map(|c| c.to_uppercase()),
            omnitron_id: p.integer("omnitron_id"),
        }
    }
}

impl ListFilter for CountryFilter {
    fn apply(&self, c: &mut Conditions<'_>) {
        c.contains("name", self.name.as_deref())
            .eq("code", self.code.as_deref())
            .eq("omnitron_id", self.omnitron_id);
    }
}

/// Countries behind the shared handlers.
pub struct Countries;

impl Resource for Countries {
    type In = CountryIn;
    type Out = CountryOut;

    async fn detail(db: &Db, id: i64) -> Result<Option<CountryOut>, sqlx::Error> {
        queries::by_id(db, id).await
    }

    async fn save(
        db: &Db,
        id: Option<i64>,
        body: Body<CountryIn>,
        partial: bool,
    ) -> ApiResult<CountryOut> {
        queries::save(db, id, body, partial).await
    }

    async fn delete(db: &Db, id: i64) -> ApiResult<()> {
        let children = Children {
            table: "cities",
            column: "country_id",
            in_use: "This country cannot be deleted while cities refer to it.",
        };
        delete_place(db, "countries", id, &children).await
    }
}

crate::crud_handlers! {
    resource: Countries,
    name: "a country",
    list_path: "/api/v1/countries/",
    detail_path: "/api/v1/countries/{id}/",
    tag: "instore geography",
    input: CountryIn,
    output: CountryOut,
    required: "`name` and `code`",
    delete_doc: "Deletes a country that no city references (204).",
    delete_responses: ((status = 204), (status = 400, description = "Cities still reference it"), (status = 404)),
}
