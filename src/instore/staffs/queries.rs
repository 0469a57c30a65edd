//! The SQL of staffs. Reading any number of staffs takes two queries: the staffs with the ids of
//! their stores and groups (aggregated by the database in the same row), then every store
//! involved (with address, township and city) at once.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use super::{DuplicateStaffOut, StaffOut};
use crate::auth::lockout::LoginAccount;
use crate::auth::token::{self, AccountKind};
use crate::db::list::{Link, ListFilter, ListSource, Window, linked_ids, list_page};
use crate::db::{Db, Query, Target, Tx};
use crate::http::time;
use crate::instore::stores;

/// A staff's columns and its links as ascending id lists (`"3,8"`, NULL for none): the links
/// come back with the row, so a page of staffs costs no query per join table. `string_agg`
/// with `ORDER BY` is the same text on PostgreSQL and SQLite (3.44 and later).
pub const COLUMNS: &str = "s.id, s.first_name, s.last_name, s.email, s.username, s.remote_id, \
    s.is_active, s.is_staff, s.is_superuser, s.current_store_id, s.last_login, s.date_joined, \
    s.created_date, s.modified_date, \
    (SELECT string_agg(CAST(l.retail_store_id AS TEXT), ',' ORDER BY l.retail_store_id) \
     FROM staff_retail_stores l WHERE l.staff_id = s.id) AS store_ids, \
    (SELECT string_agg(CAST(l.group_id AS TEXT), ',' ORDER BY l.group_id) \
     FROM staff_permission_groups l WHERE l.staff_id = s.id) AS group_ids";

pub const SOURCE: ListSource = ListSource {
    kept_count: Some("staffs"),
    ..ListSource::new("staffs s", COLUMNS, "s.id")
};

/// A staff's retail stores.
pub const STAFF_STORES: Link = Link {
    table: "staff_retail_stores",
    owner: "staff_id",
    other: "retail_store_id",
};

/// A staff's permission groups.
pub const STAFF_GROUPS: Link = Link {
    table: "staff_permission_groups",
    owner: "staff_id",
    other: "group_id",
};

/// The staffs `link` ties to `other` (a store or a group about to be deleted), ascending: its
/// deletion event names them, since their links go with it.
pub async fn staffs_linked_to<'a>(
    target: impl Into<Target<'a>>,
    link: &Link,
    other: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    let mut staffs = linked_ids(target, &link.reversed(), &[other]).await?;
    Ok(staffs.remove(&other).unwrap_or_default())
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct StaffRow {
    pub id: i64,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub username: Option<String>,
    pub remote_id: Option<String>,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub current_store_id: Option<i64>,
    pub last_login: Option<DateTime<Utc>>,
    pub date_joined: DateTime<Utc>,
    pub created_date: DateTime<Utc>,
    pub modified_date: DateTime<Utc>,
    /// The staff's stores' ids, ascending, comma-separated ([`COLUMNS`]).
    pub store_ids: Option<String>,
    /// The staff's groups' ids, ascending, comma-separated.
    pub group_ids: Option<String>,
}

impl StaffRow {
    /// The ids of the staff's stores, ascending.
    pub fn stores(&self) -> Vec<i64> {
        id_list(self.store_ids.as_deref())
    }

    /// The ids of the staff's permission groups, ascending.
    pub fn groups(&self) -> Vec<i64> {
        id_list(self.group_ids.as_deref())
    }
}

/// `"3,8"` → `[3, 8]`; the text is the database's own aggregate of integer ids.
fn id_list(ids: Option<&str>) -> Vec<i64> {
    ids.unwrap_or_default()
        .split(',')
        .filter_map(|id| id.trim().parse().ok())
        .collect()
}

pub async fn page(
    db: &Db,
    filter: &(impl ListFilter + ?Sized),
    window: Window,
) -> Result<(i64, Vec<StaffOut>), sqlx::Error> {
    let (count, rows) = list_page::<StaffRow>(db, &SOURCE, window, filter).await?;
    Ok((count, assemble(db, rows).await?))
}

pub async fn row<'a>(
    target: impl Into<Target<'a>>,
    id: i64,
) -> Result<Option<StaffRow>, sqlx::Error> {
    Query::new(format!("SELECT {COLUMNS} FROM staffs s WHERE s.id = $1"))
        .bind(id)
        .fetch_optional(target)
        .await
}

pub async fn by_id(db: &Db, id: i64) -> Result<Option<StaffOut>, sqlx::Error> {
    let Some(row) = row(db, id).await? else {
        return Ok(None);
    };
    Ok(assemble(db, vec![row]).await?.pop())
}

/// A staff SCIM still finds: not deleted through SCIM ([`super::write::end_in`]).
pub async fn provisioned_by_id(db: &Db, id: i64) -> Result<Option<StaffOut>, sqlx::Error> {
    let row: Option<StaffRow> = Query::new(format!(
        "SELECT {COLUMNS} FROM staffs s WHERE s.id = $1 AND s.deprovisioned_date IS NULL"
    ))
    .bind(id)
    .fetch_optional(db)
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(assemble(db, vec![row]).await?.pop())
}

/// [`provisioned_by_id`] in a write's transaction, the staff's row locked until it ends
/// (`FOR UPDATE` on PostgreSQL; SQLite's writer is alone): what a SCIM precondition is
/// checked against, so no other write can come between the check and the write.
pub async fn provisioned_locked(tx: &mut Tx, id: i64) -> Result<Option<StaffOut>, sqlx::Error> {
    let row: Option<StaffRow> = Query::new(format!(
        "SELECT {COLUMNS} FROM staffs s WHERE s.id = $1 AND s.deprovisioned_date IS NULL {}",
        tx.dialect().for_update()
    ))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(assemble(tx, vec![row]).await?.pop())
}

/// Staffs whose email another staff shares (compared case-insensitively), grouped by email.
pub async fn duplicate_emails(db: &Db) -> Result<Vec<DuplicateStaffOut>, sqlx::Error> {
    let (folded_s, folded) = (db.dialect().folded("s.email"), db.dialect().folded("email"));
    let rows: Vec<StaffRow> = Query::new(format!(
        "SELECT {COLUMNS} FROM staffs s WHERE {folded_s} IN \
         (SELECT {folded} FROM staffs GROUP BY {folded} HAVING COUNT(*) > 1) \
         ORDER BY {folded_s}, s.id"
    ))
    .fetch_all(db)
    .await?;
    Ok(assemble(db, rows)
        .await?
        .into_iter()
        .map(DuplicateStaffOut::from)
        .collect())
}

/// Turns staff rows into the nested shape of seed 002 with one more query (every store of
/// the rows, current ones included), whatever the number of rows.
/// Runs on a pool or in a transaction (a write reading what it is about to change).
pub async fn assemble<'a>(
    target: impl Into<Target<'a>>,
    rows: Vec<StaffRow>,
) -> Result<Vec<StaffOut>, sqlx::Error> {
    let links: Vec<(Vec<i64>, Vec<i64>)> = rows.iter().map(|r| (r.stores(), r.groups())).collect();
    let store_ids: BTreeSet<i64> = links
        .iter()
        .flat_map(|(stores, _)| stores.iter().copied())
        .chain(rows.iter().filter_map(|r| r.current_store_id))
        .collect();
    let store_ids: Vec<i64> = store_ids.into_iter().collect();
    let stores: HashMap<i64, stores::StoreOut> = stores::by_ids(target, &store_ids)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    Ok(rows
        .into_iter()
        .zip(links)
        .map(|(r, (store_ids, permission_groups))| StaffOut {
            id: r.id,
            retail_stores: store_ids
                .iter()
                .filter_map(|id| stores.get(id).cloned())
                .collect(),
            last_login: r.last_login,
            is_superuser: r.is_superuser,
            is_staff: r.is_staff,
            date_joined: r.date_joined,
            created_date: r.created_date,
            modified_date: r.modified_date,
            first_name: r.first_name,
            last_name: r.last_name,
            email: r.email,
            is_active: r.is_active,
            remote_id: r.remote_id,
            username: r.username,
            permission_groups,
            current_store: r.current_store_id.and_then(|id| stores.get(&id).cloned()),
        })
        .collect())
}

/// Up to two staffs whose `column` (`username` or `email`) is `value`, ignoring case: two mean
/// the login is ambiguous.
pub async fn login_candidates(
    db: &Db,
    column: &str,
    value: &str,
) -> Result<Vec<LoginAccount>, sqlx::Error> {
    Query::new(format!(
        "SELECT id, password_hash, is_active FROM staffs WHERE {} ORDER BY id LIMIT 2",
        db.dialect().same_text(column, "$1")
    ))
    .bind(value)
    .fetch_all(db)
    .await
}

/// The open stores (id, name) of the one staff whose `column` is `value`; none when no staff
/// or several have it.
pub async fn login_stores(
    db: &Db,
    column: &str,
    value: &str,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    let found = login_candidates(db, column, value).await?;
    let [staff] = found.as_slice() else {
        return Ok(Vec::new());
    };
    Query::new(
        "SELECT rs.id, rs.name FROM staff_retail_stores l \
         JOIN retail_stores rs ON rs.id = l.retail_store_id \
         WHERE l.staff_id = $1 AND rs.is_active ORDER BY rs.name, rs.id LIMIT 500",
    )
    .bind(staff.id)
    .fetch_all(db)
    .await
}

/// Whether `store` is one of the staff's stores (`None` when not) and open.
pub async fn store_is_active(db: &Db, staff: i64, store: i64) -> Result<Option<bool>, sqlx::Error> {
    Query::new(
        "SELECT rs.is_active FROM staff_retail_stores l \
         JOIN retail_stores rs ON rs.id = l.retail_store_id \
         WHERE l.staff_id = $1 AND l.retail_store_id = $2",
    )
    .bind(staff)
    .bind(store)
    .scalar_optional(db)
    .await
}

/// A successful login: the staff's current store and last login, and a new token, in one
/// transaction.
pub async fn record_login(
    db: &Db,
    id: i64,
    store: i64,
    user_agent: Option<&str>,
) -> Result<String, sqlx::Error> {
    let mut tx = db.begin().await?;
    let now = time::now();
    Query::new(
        "UPDATE staffs SET current_store_id = $1, last_login = $2, modified_date = $2 WHERE id = $3",
    )
    .bind(store)
    .bind(now)
    .bind(id)
    .execute(&mut tx)
    .await?;
    let token = token::issue_for(&mut tx, AccountKind::Staff, id, user_agent).await?;
    let event = crate::audit::Event::new("auth.login", "staff", id);
    crate::audit::record(&mut tx, event.by(crate::audit::Actor::Staff(id))).await?;
    tx.commit().await?;
    Ok(token)
}

/// The staff an import row names: by `username` (compared as the API compares it) when given,
/// else by `remote_id` (the oldest such staff).
pub async fn row_by_key(
    db: &Db,
    username: Option<&str>,
    remote_id: Option<&str>,
) -> Result<Option<StaffRow>, sqlx::Error> {
    let (condition, key) = match (username, remote_id) {
        (Some(username), _) => (db.dialect().same_text("s.username", "$1"), username),
        (None, Some(remote_id)) => ("s.remote_id = $1".to_owned(), remote_id),
        (None, None) => return Ok(None),
    };
    Query::new(format!(
        "SELECT {COLUMNS} FROM staffs s WHERE {condition} ORDER BY s.id LIMIT 1"
    ))
    .bind(key)
    .fetch_optional(db)
    .await
}
