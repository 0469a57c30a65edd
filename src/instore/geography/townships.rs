//! `/api/v1/townships/`: townships of a city, read with their city nested as seed 002 shows.
//! The work is done by [`Level`], shared with cities; these handlers give it the township's
//! table and messages and carry the OpenAPI description.

use std::marker::PhantomData;

use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;

use super::level::{Level, LevelRow, PlaceFilter, PlaceIn};
use super::{Children, TOWNSHIP_COLUMNS, TownshipOut, TownshipRow};
use crate::db::Db;
use crate::db::list::ListSource;
use crate::http::crud::Resource;
use crate::http::error::ApiResult;
use crate::http::filters::Filter;
use crate::http::json::{Body, present};
use crate::http::pagination::{PageRequest, Paginated};
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
    #[schema(nullable = false, required = true, pattern = r"^[^\x00]*\S[^\x00]*$")]
    pub name: Option<String>,
    /// The city's id.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, required = true)]
    pub city: Option<i64>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 0)]
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

/// Townships behind the shared handlers.
pub struct Townships;

impl Resource for Townships {
    type In = TownshipIn;
    type Out = TownshipOut;

    async fn detail(db: &Db, id: i64) -> Result<Option<TownshipOut>, sqlx::Error> {
        TOWNSHIPS.detail(db, id).await
    }

    async fn save(
        db: &Db,
        id: Option<i64>,
        body: Body<TownshipIn>,
        partial: bool,
    ) -> ApiResult<TownshipOut> {
        TOWNSHIPS.save(db, id, body.map(Into::into), partial).await
    }

    async fn delete(db: &Db, id: i64) -> ApiResult<()> {
        TOWNSHIPS.destroy(db, id).await
    }
}

crate::crud_handlers! {
    resource: Townships,
    name: "a township with its city",
    list_path: "/api/v1/townships/",
    detail_path: "/api/v1/townships/{id}/",
    tag: "instore geography",
    input: TownshipIn,
    output: TownshipOut,
    required: "`name` and `city`",
    delete_doc: "Deletes a township that no store address references (204).",
    delete_responses: ((status = 204), (status = 400, description = "Store addresses still reference it"), (status = 404)),
}
