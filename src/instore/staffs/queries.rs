//! The SQL of staffs. Reading any number of staffs takes a fixed number of queries: the staffs,
//! their store links, their group links, then every store involved (with address, township and
//! city) at once.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use super::filter::StaffFilter;
use super::{DuplicateStaffOut, StaffOut};
use crate::db::{Db, Query, Target};
use crate::http::pagination::PageRequest;
use crate::instore::validate::push_id_list;
use crate::instore::{Source, list_page, stores};

pub const COLUMNS: &str = "s.id, s.first_name, s.last_name, s.email, s.username, s.remote_id, \
    s.is_active, s.is_staff, s.is_superuser, s.current_store_id, s.last_login, s.date_joined, \
    s.created_date, s.modified_date";

const SOURCE: Source = Source {
    from: "staffs s",
    columns: COLUMNS,
    id: "s.id",
    kept_count: Some("staffs"),
};

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
}

pub async fn page(
    db: &Db,
    filter: &StaffFilter,
    page: &PageRequest,
) -> Result<(i64, Vec<StaffOut>), sqlx::Error> {
    let dialect = db.dialect();
    let conditions = |q: &mut Query| filter.push_conditions(q, dialect);
    let (count, rows) = list_page::<StaffRow>(db, &SOURCE, page, conditions).await?;
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

/// Staffs whose email another staff shares (compared case-insensitively), grouped by email.
pub async fn duplicate_emails(db: &Db) -> Result<Vec<DuplicateStaffOut>, sqlx::Error> {
    let rows: Vec<StaffRow> = Query::new(format!(
        "SELECT {COLUMNS} FROM staffs s WHERE lower(s.email) IN \
         (SELECT lower(email) FROM staffs GROUP BY lower(email) HAVING COUNT(*) > 1) \
         ORDER BY lower(s.email), s.id"
    ))
    .fetch_all(db)
    .await?;
    Ok(assemble(db, rows)
        .await?
        .into_iter()
        .map(DuplicateStaffOut::from)
        .collect())
}

/// `(staff, other)` pairs of a join table for the given staffs, ordered by `other`.
async fn links(
    db: &Db,
    table: &str,
    other_column: &str,
    staff_ids: &[i64],
) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    if staff_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Query::new(format!(
        "SELECT staff_id, {other_column} FROM {table} WHERE staff_id IN "
    ));
    push_id_list(&mut q, staff_ids);
    q.push(" ORDER BY ").push(other_column);
    q.fetch_all(db).await
}

/// Turns staff rows into the nested shape of seed 002 with three more queries, whatever the
/// number of rows.
pub async fn assemble(db: &Db, rows: Vec<StaffRow>) -> Result<Vec<StaffOut>, sqlx::Error> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let store_links = links(db, "staff_retail_stores", "retail_store_id", &ids).await?;
    let group_links = links(db, "staff_permission_groups", "group_id", &ids).await?;
    let store_ids: BTreeSet<i64> = store_links
        .iter()
        .map(|(_, store)| *store)
        .chain(rows.iter().filter_map(|r| r.current_store_id))
        .collect();
    let store_ids: Vec<i64> = store_ids.into_iter().collect();
    let stores: HashMap<i64, stores::StoreOut> = stores::by_ids(db, &store_ids)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    let mut staff_stores: HashMap<i64, Vec<stores::StoreOut>> = HashMap::new();
    for (staff, store) in store_links {
        if let Some(store) = stores.get(&store) {
            staff_stores.entry(staff).or_default().push(store.clone());
        }
    }
    let mut staff_groups: HashMap<i64, Vec<i64>> = HashMap::new();
    for (staff, group) in group_links {
        staff_groups.entry(staff).or_default().push(group);
    }
    Ok(rows
        .into_iter()
        .map(|r| StaffOut {
            id: r.id,
            retail_stores: staff_stores.remove(&r.id).unwrap_or_default(),
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
            permission_groups: staff_groups.remove(&r.id).unwrap_or_default(),
            current_store: r.current_store_id.and_then(|id| stores.get(&id).cloned()),
        })
        .collect())
}
