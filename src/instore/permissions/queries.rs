//! The SQL of permissions: reading them with the groups that grant them, the grant check of
//! an Instore call, and keeping the table in step with the route table.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{GROUP_PERMISSIONS, PermissionFilter, PermissionOut};
use crate::db::list::{ListSource, Window, linked_ids, list_page};
use crate::db::{Db, Query};
use crate::http::time;
use crate::instore::routes::{ENDPOINTS, Endpoint};

const COLUMNS: &str =
    "id, name, path, method, label, parent, is_visible_for_user, created_date, modified_date";
const SOURCE: ListSource = ListSource::new("permissions", COLUMNS, "id");

#[derive(Debug, sqlx::FromRow)]
struct PermissionRow {
    id: i64,
    name: String,
    path: String,
    method: Option<String>,
    label: Option<String>,
    parent: Option<String>,
    is_visible_for_user: bool,
    created_date: DateTime<Utc>,
    modified_date: DateTime<Utc>,
}

/// One page of permissions with the groups that grant them.
pub async fn page(
    db: &Db,
    filter: &PermissionFilter,
    window: Window,
) -> Result<(i64, Vec<PermissionOut>), sqlx::Error> {
    let (count, rows) = list_page::<PermissionRow>(db, &SOURCE, window, filter).await?;
    Ok((count, with_groups(db, rows).await?))
}

/// One permission with the groups that grant it.
pub async fn by_id(db: &Db, id: i64) -> Result<Option<PermissionOut>, sqlx::Error> {
    let row: Option<PermissionRow> =
        Query::new(format!("SELECT {COLUMNS} FROM permissions WHERE id = $1"))
            .bind(id)
            .fetch_optional(db)
            .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(with_groups(db, vec![row]).await?.pop())
}

/// The permissions a staff holds through its groups (all of them for a superuser), by id.
pub async fn of_staff(
    db: &Db,
    staff_id: i64,
    superuser: bool,
) -> Result<Vec<PermissionOut>, sqlx::Error> {
    let mut q = Query::new(format!("SELECT {COLUMNS} FROM permissions"));
    if !superuser {
        q.push(
            " WHERE id IN (SELECT pgp.permission_id FROM permission_group_permissions pgp \
             JOIN staff_permission_groups spg ON spg.group_id = pgp.group_id \
             WHERE spg.staff_id = ",
        )
        .push_bind(staff_id)
        .push(")");
    }
    q.push(" ORDER BY id");
    with_groups(db, q.fetch_all(db).await?).await
}

/// Attaches to each permission the groups that grant it, in one query.
async fn with_groups(db: &Db, rows: Vec<PermissionRow>) -> Result<Vec<PermissionOut>, sqlx::Error> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut groups = linked_ids(db, &GROUP_PERMISSIONS.reversed(), &ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| PermissionOut {
            permission_groups: groups.remove(&r.id).unwrap_or_default(),
            id: r.id,
            is_visible_for_user: r.is_visible_for_user,
            created_date: r.created_date,
            modified_date: r.modified_date,
            name: r.name,
            path: r.path,
            label: r.label,
            method: r.method,
            parent: r.parent,
        })
        .collect())
}

/// Whether one of the staff's groups grants `endpoint`.
pub async fn grants(db: &Db, staff_id: i64, endpoint: &Endpoint) -> Result<bool, sqlx::Error> {
    let found: i64 = Query::new(
        "SELECT COUNT(*) FROM staff_permission_groups spg \
         JOIN permission_group_permissions pgp ON pgp.group_id = spg.group_id \
         JOIN permissions p ON p.id = pgp.permission_id \
         WHERE spg.staff_id = $1 AND p.path = $2 AND p.method = $3",
    )
    .bind(staff_id)
    .bind(endpoint.route)
    .bind(endpoint.verb.as_str())
    .scalar(db)
    .await?;
    Ok(found > 0)
}

/// Brings the `permissions` table in step with [`ENDPOINTS`]: new routes are added, changed
/// names and labels updated, rows of routes that no longer exist removed (with their grants).
/// Rows keep their ids, so groups keep their grants across restarts. Safe when several
/// processes start at once.
pub async fn sync(db: &Db) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    let rows: Vec<PermissionRow> = Query::new(format!("SELECT {COLUMNS} FROM permissions"))
        .fetch_all(&mut tx)
        .await?;
    let mut stored: BTreeMap<(String, String), PermissionRow> = rows
        .into_iter()
        .map(|r| ((r.path.clone(), r.method.clone().unwrap_or_default()), r))
        .collect();
    let now = time::now();
    for e in ENDPOINTS {
        let key = (e.route.to_owned(), e.verb.as_str().to_owned());
        match stored.remove(&key) {
            None => {
                Query::new(
                    "INSERT INTO permissions (name, path, method, label, parent, \
                     is_visible_for_user, created_date, modified_date) \
                     VALUES ($1, $2, $3, $4, $5, TRUE, $6, $6) ON CONFLICT (path, method) DO NOTHING",
                )
                .bind(e.name)
                .bind(e.route)
                .bind(e.verb.as_str())
                .bind(e.label)
                .bind(e.parent)
                .bind(now)
                .execute(&mut tx)
                .await?;
            }
            Some(row)
                if row.name != e.name
                    || row.label.as_deref() != Some(e.label)
                    || row.parent.as_deref() != Some(e.parent)
                    || !row.is_visible_for_user =>
            {
                Query::new(
                    "UPDATE permissions SET name = $1, label = $2, parent = $3, \
                     is_visible_for_user = TRUE, modified_date = $4 WHERE id = $5",
                )
                .bind(e.name)
                .bind(e.label)
                .bind(e.parent)
                .bind(now)
                .bind(row.id)
                .execute(&mut tx)
                .await?;
            }
            Some(_) => {}
        }
    }
    for stale in stored.into_values() {
        Query::new("DELETE FROM permissions WHERE id = $1")
            .bind(stale.id)
            .execute(&mut tx)
            .await?;
    }
    tx.commit().await
}
