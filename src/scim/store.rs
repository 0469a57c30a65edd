//! SCIM's reads: pages of Users (staffs not deprovisioned) and Groups (permission groups with
//! their member staffs) in the order asked, through the list toolkit. Writes go through
//! Instore's services (`staffs::write`, `permissions::groups`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::db::list::{ListFilter, ListSource, Order, Window, list_page_ordered, push_id_list};
use crate::db::{Db, Query};
use crate::instore::staffs::StaffOut;
use crate::instore::staffs::queries::{self, StaffRow};

/// What every User SCIM lists meets: staffs deleted through SCIM are gone (RFC 7644 §3.6).
pub const PROVISIONED: &str = "s.deprovisioned_date IS NULL";
/// What every Group meets: all are listed.
pub const ANY_GROUP: &str = "1 = 1";

const GROUPS: ListSource = ListSource::new(
    "permission_groups g",
    "g.id, g.name, g.external_id, g.created_date, g.modified_date",
    "g.id",
);

/// A permission group as SCIM shows it.
#[derive(Debug, sqlx::FromRow)]
pub struct GroupRow {
    pub id: i64,
    pub name: String,
    pub external_id: Option<String>,
    pub created_date: DateTime<Utc>,
    pub modified_date: DateTime<Utc>,
}

/// A group member: a staff's id and username.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRow {
    pub group_id: i64,
    pub staff_id: i64,
    pub username: Option<String>,
}

pub async fn users(
    db: &Db,
    filter: &impl ListFilter,
    window: Window,
    order: Option<Order>,
) -> Result<(i64, Vec<StaffOut>), sqlx::Error> {
    let (count, rows) =
        list_page_ordered::<StaffRow>(db, &queries::SOURCE, window, filter, order).await?;
    Ok((count, queries::assemble(db, rows).await?))
}

pub async fn groups(
    db: &Db,
    filter: &impl ListFilter,
    window: Window,
    order: Option<Order>,
) -> Result<(i64, Vec<GroupRow>), sqlx::Error> {
    list_page_ordered::<GroupRow>(db, &GROUPS, window, filter, order).await
}

pub async fn group(db: &Db, id: i64) -> Result<Option<GroupRow>, sqlx::Error> {
    let mut q = GROUPS.select(GROUPS.columns);
    q.push(" AND g.id = ").push_bind(id);
    q.fetch_optional(db).await
}

/// The staffs of each group (not deprovisioned ones), by group id, in one query.
pub async fn members(db: &Db, groups: &[i64]) -> Result<HashMap<i64, Vec<MemberRow>>, sqlx::Error> {
    let mut out: HashMap<i64, Vec<MemberRow>> = HashMap::new();
    if groups.is_empty() {
        return Ok(out);
    }
    let mut q = Query::new(format!(
        "SELECT spg.group_id, s.id AS staff_id, s.username FROM staff_permission_groups spg \
         JOIN staffs s ON s.id = spg.staff_id WHERE {PROVISIONED} AND spg.group_id IN "
    ));
    push_id_list(&mut q, groups);
    q.push(" ORDER BY s.id");
    let rows: Vec<MemberRow> = q.fetch_all(db).await?;
    for row in rows {
        out.entry(row.group_id).or_default().push(row);
    }
    Ok(out)
}

/// Which of `ids` are staffs SCIM knows (not deprovisioned).
pub async fn provisioned(db: &Db, ids: &[i64]) -> Result<Vec<i64>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Query::new(format!(
        "SELECT s.id FROM staffs s WHERE {PROVISIONED} AND s.id IN "
    ));
    push_id_list(&mut q, ids);
    q.scalars(db).await
}

/// The deprovisioned staffs of a group: SCIM does not show them, and a SCIM write of the
/// group's members keeps them.
pub async fn hidden_members(db: &Db, group: i64) -> Result<Vec<i64>, sqlx::Error> {
    Query::new(
        "SELECT s.id FROM staff_permission_groups spg JOIN staffs s ON s.id = spg.staff_id \
         WHERE spg.group_id = $1 AND s.deprovisioned_date IS NOT NULL",
    )
    .bind(group)
    .scalars(db)
    .await
}

/// The most retail store ids the staff extension's schema lists as `canonicalValues`.
pub const MAX_LISTED_STORES: i64 = 200;

/// The ids of the first [`MAX_LISTED_STORES`] retail stores, for the schema.
pub async fn store_ids(db: &Db) -> Result<Vec<i64>, sqlx::Error> {
    Query::new("SELECT id FROM retail_stores ORDER BY id LIMIT $1")
        .bind(MAX_LISTED_STORES)
        .scalars(db)
        .await
}
