//! The SQL of countries, and the checks of a country to write.

use super::{CountryFilter, CountryIn, CountryOut};
use crate::audit;
use crate::db::list::{ListSource, Window, list_page};
use crate::db::{Db, Query};
use crate::http::error::{ApiError, ApiResult};
use crate::http::json::Body;
use crate::http::time;
use crate::instore::geography::NAME_MAX;

const COLUMNS: &str = "id, name, code, omnitron_id, created_date, modified_date";
const SOURCE: ListSource = ListSource::new("countries", COLUMNS, "id");

pub async fn page(
    db: &Db,
    filter: &CountryFilter,
    window: Window,
) -> Result<(i64, Vec<CountryOut>), sqlx::Error> {
    list_page(db, &SOURCE, window, filter).await
}

pub async fn by_id(db: &Db, id: i64) -> Result<Option<CountryOut>, sqlx::Error> {
    Query::new(format!("SELECT {COLUMNS} FROM countries WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Creates (`id` none) or updates a country: the body is merged over the stored row, checked,
/// then written in one statement.
pub async fn save(
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
pub const ISO_3166_ALPHA2: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG \
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
