//! The SQL of permission groups: a group with its granted permission ids, read in one query
//! per page; a group and its grants written in one transaction.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{GroupFilter, PermissionGroupIn, PermissionGroupOut};
use crate::audit;
use crate::db::list::{Link, ListSource, Window, linked_ids, list_page, replace_links};
use crate::db::{Db, Query, Tx};
use crate::http::error::{ApiError, ApiResult};
use crate::http::json::Body;
use crate::http::time;
use crate::instore::permissions::GROUP_PERMISSIONS;
use crate::instore::references::{Table, existing_ids};
use crate::instore::staffs::queries::{STAFF_GROUPS, staffs_linked_to};

const NAME_MAX: usize = 150;
const COLUMNS: &str = "id, name, created_date, modified_date";
const SOURCE: ListSource = ListSource::new("permission_groups", COLUMNS, "id");

#[derive(Debug, sqlx::FromRow)]
struct GroupRow {
    id: i64,
    name: String,
    created_date: DateTime<Utc>,
    modified_date: DateTime<Utc>,
}

/// One page of groups with their grants.
pub async fn page(
    db: &Db,
    filter: &GroupFilter,
    window: Window,
) -> Result<(i64, Vec<PermissionGroupOut>), sqlx::Error> {
    let (count, rows) = list_page::<GroupRow>(db, &SOURCE, window, filter).await?;
    Ok((count, with_permissions(db, rows).await?))
}

/// Deletes a group (its grants and staff links go with it; the event names those staffs);
/// false when there was none.
pub async fn delete(db: &Db, id: i64) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let staffs = staffs_linked_to(&mut tx, &STAFF_GROUPS, id).await?;
    let removed = Query::new("DELETE FROM permission_groups WHERE id = $1")
        .bind(id)
        .execute(&mut tx)
        .await?;
    if removed != 1 {
        return Ok(false);
    }
    let event = audit::Event::new("permission_group.delete", "permission_group", id);
    audit::record(&mut tx, event.unlinked("staffs", staffs)).await?;
    tx.commit().await?;
    Ok(true)
}

pub async fn by_id(db: &Db, id: i64) -> Result<Option<PermissionGroupOut>, sqlx::Error> {
    let row: Option<GroupRow> = Query::new(format!(
        "SELECT {COLUMNS} FROM permission_groups WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(with_permissions(db, vec![row]).await?.pop())
}

/// Attaches the granted permission ids to each group, in one query.
async fn with_permissions(
    db: &Db,
    rows: Vec<GroupRow>,
) -> Result<Vec<PermissionGroupOut>, sqlx::Error> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut granted = linked_ids(db, &GROUP_PERMISSIONS, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| PermissionGroupOut {
            permissions: granted.remove(&r.id).unwrap_or_default(),
            id: r.id,
            name: r.name,
            created_date: r.created_date,
            modified_date: r.modified_date,
        })
        .collect())
}

/// Creates (`id` none) or updates a group and its grants in one transaction.
pub async fn save(
    db: &Db,
    id: Option<i64>,
    body: Body<PermissionGroupIn>,
    partial: bool,
) -> ApiResult<PermissionGroupOut> {
    save_with_members(db, id, body, partial, Provisioned::default()).await
}

/// What SCIM's Groups write besides the name: `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct Provisioned {
    /// The group's staffs (ids), replacing the ones it has.
    pub members: Option<Vec<i64>>,
    /// The SCIM client's id of the group (`Some(None)` clears it).
    pub external_id: Option<Option<String>>,
}

/// The longest `external_id` kept.
const EXTERNAL_ID_MAX: usize = 255;

/// [`save`], and what SCIM's Groups also write ([`Provisioned`]): the group's staffs and its
/// external id, in the same transaction, checked and audited with the rest.
pub async fn save_with_members(
    db: &Db,
    id: Option<i64>,
    body: Body<PermissionGroupIn>,
    partial: bool,
    provisioned: Provisioned,
) -> ApiResult<PermissionGroupOut> {
    let Provisioned {
        members,
        external_id,
    } = provisioned;
    let current = match id {
        Some(id) => Some(by_id(db, id).await?.ok_or(ApiError::NotFound)?),
        None => None,
    };
    let (body, mut check) = body.into_parts();
    if !partial {
        check.required("name", body.name.as_ref());
    }
    let name = body
        .name
        .or(current.as_ref().map(|c| c.name.clone()))
        .unwrap_or_default();
    check.text("name", &name, NAME_MAX, false);
    if let Some(Some(external_id)) = &external_id {
        check.text("external_id", external_id, EXTERNAL_ID_MAX, true);
    }
    if let Some(permissions) = &body.permissions {
        check.ids("permissions", permissions);
    }
    // The references are checked in the write's transaction and named with the other errors.
    let mut tx = db.begin().await?;
    let permissions = match &body.permissions {
        Some(ids) if !check.has("permissions") => {
            Some(existing_ids(&mut tx, &mut check, Table::Permissions, "permissions", ids).await?)
        }
        _ => None,
    };
    if let Some(ids) = &members {
        check.ids("members", ids);
    }
    let members = match &members {
        Some(ids) if !check.has("members") => {
            Some(existing_ids(&mut tx, &mut check, Table::Staffs, "members", ids).await?)
        }
        _ => None,
    };
    check.finish()?;
    let id = write(&mut tx, id, &name).await?;
    if let Some(permissions) = &permissions {
        replace_links(&mut tx, &GROUP_PERMISSIONS, id, permissions).await?;
    }
    let mut before = current
        .as_ref()
        .map(|c| json!({"name": c.name, "permissions": c.permissions}));
    let granted = permissions.or(current.map(|c| c.permissions));
    let mut after = json!({"name": name, "permissions": granted.unwrap_or_default()});
    if let Some(members) = &members {
        let link = STAFF_GROUPS.reversed();
        if let Some(before) = &mut before {
            before["members"] = json!(linked_ids_in(&mut tx, &link, id).await?);
        }
        replace_links(&mut tx, &link, id, members).await?;
        after["members"] = json!(members);
    }
    if let Some(external_id) = &external_id {
        if let Some(before) = &mut before {
            before["external_id"] = json!(external_id_of(&mut tx, id).await?);
        }
        Query::new("UPDATE permission_groups SET external_id = $1 WHERE id = $2")
            .bind(external_id.clone())
            .bind(id)
            .execute(&mut tx)
            .await?;
        after["external_id"] = json!(external_id);
    }
    let actions = ["permission_group.create", "permission_group.update"];
    let event = audit::saved(actions, "permission_group", id, before.as_ref(), &after);
    audit::record(&mut tx, event).await?;
    tx.commit().await?;
    by_id(db, id).await?.ok_or(ApiError::NotFound)
}

async fn external_id_of(tx: &mut Tx, id: i64) -> Result<Option<String>, sqlx::Error> {
    Query::new("SELECT external_id FROM permission_groups WHERE id = $1")
        .bind(id)
        .scalar(tx)
        .await
}

/// The ids `owner` links to through `link`, read in the write's transaction.
async fn linked_ids_in(tx: &mut Tx, link: &Link, owner: i64) -> Result<Vec<i64>, sqlx::Error> {
    Query::new(format!(
        "SELECT {} FROM {} WHERE {} = $1 ORDER BY {}",
        link.other, link.table, link.owner, link.other
    ))
    .bind(owner)
    .scalars(tx)
    .await
}

async fn write(tx: &mut Tx, id: Option<i64>, name: &str) -> Result<i64, sqlx::Error> {
    let now = time::now();
    match id {
        None => {
            Query::new(
                "INSERT INTO permission_groups (name, created_date, modified_date) \
                 VALUES ($1, $2, $2) RETURNING id",
            )
            .bind(name)
            .bind(now)
            .scalar(tx)
            .await
        }
        Some(id) => {
            Query::new(
                "UPDATE permission_groups SET name = $1, modified_date = $2 WHERE id = $3 \
                 RETURNING id",
            )
            .bind(name)
            .bind(now)
            .bind(id)
            .scalar(tx)
            .await
        }
    }
}
