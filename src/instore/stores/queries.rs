//! The SQL of retail stores: one query reads stores with their address, township and city,
//! whatever how many stores are asked for.

use chrono::{DateTime, Utc};

use super::{AddressOut, StoreFilter, StoreIn, StoreOut};
use crate::audit;
use crate::db::list::{ListSource, Window, list_page, push_id_set};
use crate::db::{Db, Query, Target, Tx};
use crate::http::error::{ApiError, ApiResult};
use crate::http::json::Body;
use crate::http::time;
use crate::http::validate::{Validator, invalid_pk, text_problem};
use crate::instore::geography::{TownshipRow, township_columns};
use crate::instore::staffs::queries::{STAFF_STORES, staffs_linked_to};

const FROM: &str = "retail_stores rs JOIN addresses a ON a.retail_store_id = rs.id \
    JOIN townships t ON t.id = a.township_id JOIN cities c ON c.id = t.city_id";

const COLUMNS: &str = concat!(
    "rs.id AS store_id, rs.name AS store_name, rs.email AS store_email, \
     rs.remote_id AS store_remote_id, rs.is_active AS store_is_active, \
     rs.fast_delivery AS store_fast_delivery, rs.omnitron_id AS store_omnitron_id, \
     rs.created_date AS store_created_date, rs.modified_date AS store_modified_date, \
     a.id AS address_id, a.phone_number AS address_phone_number, a.line AS address_line, \
     a.postcode AS address_postcode, a.created_date AS address_created_date, \
     a.modified_date AS address_modified_date, ",
    township_columns!()
);

const SOURCE: ListSource = ListSource::new(FROM, COLUMNS, "rs.id");

pub const NAME_MAX: usize = 255;
const REMOTE_ID_MAX: usize = 255;
const PHONE_MAX: usize = 128;
const LINE_MAX: usize = 512;
const POSTCODE_MAX: usize = 32;

#[derive(Debug, sqlx::FromRow)]
struct StoreRow {
    store_id: i64,
    store_name: String,
    store_email: String,
    store_remote_id: Option<String>,
    store_is_active: bool,
    store_fast_delivery: bool,
    store_omnitron_id: Option<i64>,
    store_created_date: DateTime<Utc>,
    store_modified_date: DateTime<Utc>,
    address_id: i64,
    address_phone_number: String,
    address_line: String,
    address_postcode: Option<String>,
    address_created_date: DateTime<Utc>,
    address_modified_date: DateTime<Utc>,
    #[sqlx(flatten)]
    township: TownshipRow,
}

impl From<StoreRow> for StoreOut {
    fn from(r: StoreRow) -> Self {
        StoreOut {
            id: r.store_id,
            address: AddressOut {
                id: r.address_id,
                township: r.township.into(),
                created_date: r.address_created_date,
                modified_date: r.address_modified_date,
                phone_number: r.address_phone_number,
                line: r.address_line,
                postcode: r.address_postcode,
                retail_store: r.store_id,
            },
            created_date: r.store_created_date,
            modified_date: r.store_modified_date,
            omnitron_id: r.store_omnitron_id,
            name: r.store_name,
            email: r.store_email,
            remote_id: r.store_remote_id,
            is_active: r.store_is_active,
            fast_delivery: r.store_fast_delivery,
        }
    }
}

pub async fn page(
    db: &Db,
    filter: &StoreFilter,
    window: Window,
) -> Result<(i64, Vec<StoreOut>), sqlx::Error> {
    let (count, rows) = list_page::<StoreRow>(db, &SOURCE, window, filter).await?;
    Ok((count, rows.into_iter().map(Into::into).collect()))
}

pub async fn by_id<'a>(
    target: impl Into<Target<'a>>,
    id: i64,
) -> Result<Option<StoreOut>, sqlx::Error> {
    let row: Option<StoreRow> =
        Query::new(format!("SELECT {COLUMNS} FROM {FROM} WHERE rs.id = $1"))
            .bind(id)
            .fetch_optional(target)
            .await?;
    Ok(row.map(Into::into))
}

/// The stores of `ids` (in one query), ordered by id; ids that do not exist are skipped.
pub async fn by_ids<'a>(
    target: impl Into<Target<'a>>,
    ids: &[i64],
) -> Result<Vec<StoreOut>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let target = target.into();
    let mut q = Query::new(format!("SELECT {COLUMNS} FROM {FROM} WHERE rs.id"));
    push_id_set(&mut q, target.dialect(), ids);
    q.push(" ORDER BY rs.id");
    let rows: Vec<StoreRow> = q.fetch_all(target).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// A store and its address after the body was merged over what is stored.
struct Merged {
    name: String,
    email: String,
    remote_id: Option<String>,
    is_active: bool,
    fast_delivery: bool,
    omnitron_id: Option<i64>,
    township: i64,
    phone_number: String,
    line: String,
    postcode: Option<String>,
}

fn merge(current: Option<&StoreOut>, body: Body<StoreIn>, partial: bool) -> (Merged, Validator) {
    let (body, mut check) = body.into_parts();
    if !partial {
        check.required("name", body.name.as_ref());
        check.required("address", body.address.as_ref());
    }
    let address_given = body.address.is_some();
    let address = body.address.unwrap_or_default();
    let old = current.map(|c| &c.address);
    if address_given && (!partial || old.is_none()) {
        for (field, given) in [
            ("township", address.township.is_some()),
            ("line", address.line.is_some()),
        ] {
            if !given {
                check.add("address", format!("{field}: This field is required."));
            }
        }
    }
    let merged = Merged {
        name: body
            .name
            .or(current.map(|c| c.name.clone()))
            .unwrap_or_default(),
        email: body
            .email
            .or(current.map(|c| c.email.clone()))
            .unwrap_or_default(),
        remote_id: body
            .remote_id
            .unwrap_or(current.and_then(|c| c.remote_id.clone())),
        is_active: body
            .is_active
            .or(current.map(|c| c.is_active))
            .unwrap_or(true),
        fast_delivery: body
            .fast_delivery
            .or(current.map(|c| c.fast_delivery))
            .unwrap_or(false),
        omnitron_id: body
            .omnitron_id
            .unwrap_or(current.and_then(|c| c.omnitron_id)),
        township: address
            .township
            .or(old.map(|a| a.township.id))
            .unwrap_or_default(),
        phone_number: address
            .phone_number
            .or(old.map(|a| a.phone_number.clone()))
            .unwrap_or_default(),
        line: address
            .line
            .or(old.map(|a| a.line.clone()))
            .unwrap_or_default(),
        postcode: address
            .postcode
            .unwrap_or(old.and_then(|a| a.postcode.clone())),
    };
    check.text("name", &merged.name, NAME_MAX, false);
    check.email("email", &merged.email, true);
    if let Some(remote_id) = &merged.remote_id {
        check.text("remote_id", remote_id, REMOTE_ID_MAX, true);
    }
    check.non_negative("omnitron_id", merged.omnitron_id);
    if !check.has("address") {
        let postcode = merged.postcode.as_deref().unwrap_or("");
        for (field, value, max, blank) in [
            (
                "phone_number",
                merged.phone_number.as_str(),
                PHONE_MAX,
                true,
            ),
            ("line", merged.line.as_str(), LINE_MAX, false),
            ("postcode", postcode, POSTCODE_MAX, true),
        ] {
            if let Some(problem) = text_problem(value, max, blank) {
                check.add("address", format!("{field}: {problem}"));
            }
        }
    }
    (merged, check)
}

/// Creates (`id` none) or updates a store and its address in one transaction.
pub async fn save(
    db: &Db,
    id: Option<i64>,
    body: Body<StoreIn>,
    partial: bool,
) -> ApiResult<StoreOut> {
    let current = match id {
        Some(id) => Some(by_id(db, id).await?.ok_or(ApiError::NotFound)?),
        None => None,
    };
    let (m, mut check) = merge(current.as_ref(), body, partial);
    // The township is checked in the write's transaction and named with the other errors.
    let mut tx = db.begin().await?;
    if !check.has("address") {
        let township_known: i64 = Query::new("SELECT COUNT(*) FROM townships WHERE id = $1")
            .bind(m.township)
            .scalar(&mut tx)
            .await?;
        if township_known == 0 {
            check.add("address", format!("township: {}", invalid_pk(m.township)));
        }
    }
    check.finish()?;
    let id = write(&mut tx, id, &m).await?;
    let out = by_id(&mut tx, id).await?.ok_or(ApiError::NotFound)?;
    let actions = ["store.create", "store.update"];
    let event = audit::saved(actions, "store", id, current.as_ref(), &out);
    audit::record(&mut tx, event).await?;
    tx.commit().await?;
    Ok(out)
}

async fn write(tx: &mut Tx, id: Option<i64>, m: &Merged) -> Result<i64, sqlx::Error> {
    let now = time::now();
    let store = Query::new(match id {
        None => {
            "INSERT INTO retail_stores (name, email, remote_id, is_active, fast_delivery, \
                 omnitron_id, created_date, modified_date) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
                 RETURNING id"
        }
        Some(_) => {
            "UPDATE retail_stores SET name = $1, email = $2, remote_id = $3, \
                    is_active = $4, fast_delivery = $5, omnitron_id = $6, modified_date = $7 \
                    WHERE id = $8 RETURNING id"
        }
    })
    .bind(m.name.as_str())
    .bind(m.email.as_str())
    .bind(m.remote_id.clone())
    .bind(m.is_active)
    .bind(m.fast_delivery)
    .bind(m.omnitron_id)
    .bind(now);
    let store_id: i64 = match id {
        None => store.scalar(&mut *tx).await?,
        Some(id) => store.bind(id).scalar(&mut *tx).await?,
    };
    Query::new(
        "INSERT INTO addresses (retail_store_id, township_id, phone_number, line, postcode, \
         created_date, modified_date) VALUES ($1, $2, $3, $4, $5, $6, $6) \
         ON CONFLICT (retail_store_id) DO UPDATE SET township_id = excluded.township_id, \
         phone_number = excluded.phone_number, line = excluded.line, \
         postcode = excluded.postcode, modified_date = excluded.modified_date",
    )
    .bind(store_id)
    .bind(m.township)
    .bind(m.phone_number.as_str())
    .bind(m.line.as_str())
    .bind(m.postcode.clone())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(store_id)
}

/// Deletes a store; its address goes with it and staffs lose it (the event names them). False
/// when absent.
pub async fn delete(db: &Db, id: i64) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let staffs = staffs_linked_to(&mut tx, &STAFF_STORES, id).await?;
    let removed = Query::new("DELETE FROM retail_stores WHERE id = $1")
        .bind(id)
        .execute(&mut tx)
        .await?;
    if removed == 0 {
        return Ok(false);
    }
    let event = audit::Event::new("store.delete", "store", id);
    audit::record(&mut tx, event.unlinked("staffs", staffs)).await?;
    tx.commit().await?;
    Ok(true)
}
