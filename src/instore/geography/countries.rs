//! `/api/v1/countries/`: countries with their ISO 3166-1 alpha-2 `code`.

use crate::audit;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Children, NAME_MAX, delete_place};
use crate::db::list::{Conditions, ListFilter, ListSource, list_page};
use crate::db::{Db, Query};
use crate::http::crud::Resource;
use crate::http::error::{ApiError, ApiResult};
use crate::http::filters::{Filter, FilterParser, FromQuery};
use crate::http::json::{Body, present};
use crate::http::pagination::{PageRequest, Paginated};
use crate::http::time::{self, timestamp};
use crate::state::AppState;

const COLUMNS: &str = "id, name, code, omnitron_id, created_date, modified_date";
const SOURCE: ListSource = ListSource::new("countries", COLUMNS, "id");

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
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(example = "TR")]
    pub code: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
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
    let (count, rows) = list_page(&state.db, &SOURCE, page.window(), &filter).await?;
    page.respond_rows(count, rows)
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
        by_id(db, id).await
    }

    async fn save(
        db: &Db,
        id: Option<i64>,
        body: Body<CountryIn>,
        partial: bool,
    ) -> ApiResult<CountryOut> {
        save(db, id, body, partial).await
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

pub async fn by_id(db: &Db, id: i64) -> Result<Option<CountryOut>, sqlx::Error> {
    Query::new(format!("SELECT {COLUMNS} FROM countries WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Creates (`id` none) or updates a country: the body is merged over the stored row, checked,
/// then written in one statement.
async fn save(
    db: &Db,
    id: Option<i64>,
    body: Body<CountryIn>,
    partial: bool,
) -> ApiResult<CountryOut> {
    let current = match id {
        Some(id) => Some(by_id(db, id).await?.ok_or(ApiError::NotFound)?),
        None => None,
    };
    let (body, mut check) = body.into_parts();
    if !partial {
        check.required("name", body.name.as_ref());
        check.required("code", body.code.as_ref());
    }
    let name = body
        .name
        .or(current.as_ref().map(|c| c.name.clone()))
        .unwrap_or_default();
    let code = body.code.map(|c| c.trim().to_uppercase());
    let code = code
        .or(current.as_ref().map(|c| c.code.clone()))
        .unwrap_or_default();
    let omnitron_id = body
        .omnitron_id
        .unwrap_or(current.as_ref().and_then(|c| c.omnitron_id));
    check.text("name", &name, NAME_MAX, false);
    if !check.has("code") && !is_country_code(&code) {
        check.add(
            "code",
            format!("\"{code}\" is not a valid ISO 3166-1 alpha-2 country code."),
        );
    }
    check.non_negative("omnitron_id", omnitron_id);
    check.finish()?;
    let sql = match id {
        None => format!(
            "INSERT INTO countries (name, code, omnitron_id, created_date, modified_date) \
             VALUES ($1, $2, $3, $4, $4) RETURNING {COLUMNS}"
        ),
        Some(_) => format!(
            "UPDATE countries SET name = $1, code = $2, omnitron_id = $3, modified_date = $4 \
             WHERE id = $5 RETURNING {COLUMNS}"
        ),
    };
    let mut q = Query::new(sql)
        .bind(name)
        .bind(code)
        .bind(omnitron_id)
        .bind(time::now());
    if let Some(id) = id {
        q = q.bind(id);
    }
    let mut tx = db.begin().await?;
    let out: CountryOut = q.fetch_optional(&mut tx).await?.ok_or(ApiError::NotFound)?;
    let actions = ["country.create", "country.update"];
    let event = audit::saved(actions, "country", out.id, current.as_ref(), &out);
    audit::record(&mut tx, event).await?;
    tx.commit().await?;
    Ok(out)
}

/// Whether `code` is an assigned ISO 3166-1 alpha-2 code.
pub fn is_country_code(code: &str) -> bool {
    code.len() == 2 && ISO_3166_ALPHA2.split(' ').any(|c| c == code)
}

/// The 249 officially assigned ISO 3166-1 alpha-2 codes.
const ISO_3166_ALPHA2: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG \
BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX \
CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN \
GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI \
KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ \
MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR \
PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC \
TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT \
ZA ZM ZW";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_codes() {
        assert_eq!(ISO_3166_ALPHA2.split(' ').count(), 249);
        assert!(is_country_code("TR") && is_country_code("DE"));
        assert!(!is_country_code("XX") && !is_country_code("tr") && !is_country_code("TUR"));
    }
}
