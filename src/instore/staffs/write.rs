//! Staff writes: create, full and partial update, deactivation and password change, each
//! checked completely before anything is written and then done in one transaction.

use super::queries::{self, StaffRow};
use super::queries::{STAFF_GROUPS, STAFF_STORES};
use super::{ChangePasswordIn, StaffIn};
use crate::audit::{self, Event};
use crate::auth::password::Passwords;
use crate::auth::token::{self, AccountKind};
use crate::db::list::{Link, linked_ids, push_id_list, replace_links};
use crate::db::{Db, Query, Tx};
use crate::http::error::{ApiError, ApiResult};
use crate::http::json::Body;
use crate::http::time;
use crate::http::validate::{Validator, invalid_pk};
use crate::instore::references::{Table, existing_ids};

pub const FIRST_NAME_MAX: usize = 30;
pub const LAST_NAME_MAX: usize = 150;
pub const USERNAME_MAX: usize = 150;
pub const REMOTE_ID_MAX: usize = 255;

pub const USERNAME_TAKEN: &str = "A staff with that username already exists.";

/// A staff after the body was merged over what is stored.
#[derive(serde::Serialize)]
struct Merged {
    first_name: String,
    last_name: String,
    email: String,
    username: Option<String>,
    remote_id: Option<String>,
    is_active: bool,
    is_staff: bool,
    #[serde(skip)]
    retail_stores: Option<Vec<i64>>,
    #[serde(skip)]
    permission_groups: Option<Vec<i64>>,
}

/// Which write a body is for: the required fields differ.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Create,
    Replace,
    Patch,
}

fn merge(
    current: Option<&StaffRow>,
    body: StaffIn,
    mut check: Validator,
    mode: Mode,
    passwords: &Passwords,
) -> ApiResult<(Merged, Validator)> {
    if mode != Mode::Patch {
        check.required("retail_stores", body.retail_stores.as_ref());
        check.required("first_name", body.first_name.as_ref());
        check.required("last_name", body.last_name.as_ref());
        check.required("email", body.email.as_ref());
    }
    if mode == Mode::Create {
        check.required("password", body.password.as_ref());
        check.required("remote_id", body.remote_id.as_ref());
    }
    // A blank username is no username: several staffs may have none.
    let username = body.username.map(|u| u.filter(|u| !u.trim().is_empty()));
    let m = Merged {
        first_name: body
            .first_name
            .or(current.map(|c| c.first_name.clone()))
            .unwrap_or_default(),
        last_name: body
            .last_name
            .or(current.map(|c| c.last_name.clone()))
            .unwrap_or_default(),
        email: body
            .email
            .or(current.map(|c| c.email.clone()))
            .unwrap_or_default(),
        username: username.unwrap_or(current.and_then(|c| c.username.clone())),
        remote_id: body
            .remote_id
            .unwrap_or(current.and_then(|c| c.remote_id.clone())),
        is_active: body
            .is_active
            .or(current.map(|c| c.is_active))
            .unwrap_or(true),
        is_staff: body
            .is_staff
            .or(current.map(|c| c.is_staff))
            .unwrap_or(false),
        retail_stores: body.retail_stores,
        permission_groups: body.permission_groups,
    };
    for (field, value, max) in [
        ("first_name", &m.first_name, FIRST_NAME_MAX),
        ("last_name", &m.last_name, LAST_NAME_MAX),
    ] {
        check.text(field, value, max, false);
    }
    check.email("email", &m.email, false);
    if let Some(username) = &m.username {
        check.text("username", username, USERNAME_MAX, false);
        if !check.has("username") && !is_username(username) {
            check.add(
                "username",
                "Enter a valid username. This value may contain only letters, numbers, and \
                 @/./+/-/_ characters.",
            );
        }
    }
    if let Some(remote_id) = &m.remote_id {
        check.text("remote_id", remote_id, REMOTE_ID_MAX, true);
    }
    if let Some(stores) = &m.retail_stores {
        if stores.is_empty() {
            check.add("retail_stores", "This list may not be empty.");
        }
        check.ids("retail_stores", stores);
    }
    if let Some(groups) = &m.permission_groups {
        check.ids("permission_groups", groups);
    }
    if let (Mode::Create, Some(password)) = (mode, &body.password) {
        check.absorb(passwords.validate("password", password))?;
    }
    Ok((m, check))
}

/// Django's username characters: letters, digits and `@.+-_`.
fn is_username(value: &str) -> bool {
    value
        .chars()
        .all(|c| c.is_alphanumeric() || "@.+-_".contains(c))
}

/// Creates a staff (`id` none) or updates one; returns its id.
pub async fn save(
    db: &Db,
    passwords: &Passwords,
    id: Option<i64>,
    body: Body<StaffIn>,
    mode: Mode,
) -> ApiResult<i64> {
    let current = match id {
        Some(id) => Some(queries::row(db, id).await?.ok_or(ApiError::NotFound)?),
        None => None,
    };
    let checked = check(current, body, mode, passwords).await?;
    let mut tx = db.begin().await?;
    let staff_id = apply(&mut tx, checked).await?;
    tx.commit().await?;
    Ok(staff_id)
}

/// A staff body checked as far as it can be without the database, its password hashed: the
/// first half of a write, done with no transaction open.
pub struct Checked {
    current: Option<StaffRow>,
    merged: Merged,
    check: Validator,
    hash: Option<String>,
}

/// Merges `body` over `current` (the staff it changes, none for a new one) and checks every
/// field; the references and the username's uniqueness are checked by [`apply`].
pub async fn check(
    current: Option<StaffRow>,
    body: Body<StaffIn>,
    mode: Mode,
    passwords: &Passwords,
) -> ApiResult<Checked> {
    // Passwords change through `change_password/` only; PUT and PATCH ignore the field.
    let (body, check) = body.into_parts();
    let password = body.password.clone().filter(|_| mode == Mode::Create);
    let (merged, check) = merge(current.as_ref(), body, check, mode, passwords)?;
    // Hashing is slow and never done in a transaction; a body already refused skips it.
    let hash = match password {
        Some(password) if !check.failed() => Some(passwords.hash(password).await?),
        _ => None,
    };
    Ok(Checked {
        current,
        merged,
        check,
        hash,
    })
}

impl Checked {
    /// Whether this creates a staff (rather than changing one).
    pub fn is_new(&self) -> bool {
        self.current.is_none()
    }

    /// Whether writing would change nothing: the fields as stored and, when the body names
    /// them, the same stores and groups (a re-run import leaves such a staff untouched).
    pub async fn changes_nothing(&self, tx: &mut Tx) -> Result<bool, sqlx::Error> {
        let (Some(c), m) = (&self.current, &self.merged) else {
            return Ok(false);
        };
        // A refused body is never "unchanged": its errors must reach the caller.
        if self.check.failed() {
            return Ok(false);
        }
        let same = c.first_name == m.first_name
            && c.last_name == m.last_name
            && c.email == m.email
            && c.username == m.username
            && c.remote_id == m.remote_id
            && c.is_active == m.is_active
            && c.is_staff == m.is_staff
            && self.hash.is_none();
        if !same {
            return Ok(false);
        }
        for (link, ids) in [
            (&STAFF_STORES, &m.retail_stores),
            (&STAFF_GROUPS, &m.permission_groups),
        ] {
            let Some(ids) = ids else { continue };
            let mut wanted = ids.clone();
            wanted.sort_unstable();
            wanted.dedup();
            let held: Vec<i64> = Query::new(format!(
                "SELECT {} FROM {} WHERE {} = $1 ORDER BY {}",
                link.other, link.table, link.owner, link.other
            ))
            .bind(c.id)
            .scalars(&mut *tx)
            .await?;
            if held != wanted {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// The second half of a write, in the caller's transaction: the references and the username
/// are checked with the other errors (a refusal writes nothing), then the staff is written,
/// linked and recorded in the audit log. Returns its id.
pub async fn apply(tx: &mut Tx, checked: Checked) -> ApiResult<i64> {
    let Checked {
        current,
        merged: m,
        mut check,
        hash,
    } = checked;
    let id = current.as_ref().map(|c| c.id);
    let stores = match &m.retail_stores {
        Some(ids) if !check.has("retail_stores") => {
            Some(existing_ids(tx, &mut check, Table::RetailStores, "retail_stores", ids).await?)
        }
        _ => None,
    };
    let groups = match &m.permission_groups {
        Some(ids) if !check.has("permission_groups") => Some(
            existing_ids(
                tx,
                &mut check,
                Table::PermissionGroups,
                "permission_groups",
                ids,
            )
            .await?,
        ),
        _ => None,
    };
    if let Some(username) = m.username.as_ref().filter(|_| !check.has("username")) {
        let taken: i64 = Query::new(format!(
            "SELECT COUNT(*) FROM staffs WHERE {} AND id <> $2",
            tx.dialect().same_text("username", "$1")
        ))
        .bind(username.as_str())
        .bind(id.unwrap_or(0))
        .scalar(&mut *tx)
        .await?;
        if taken > 0 {
            check.add("username", USERNAME_TAKEN);
        }
    }
    check.finish()?;
    // What the links were, for the event of an update that replaces them.
    let links_before = match id.filter(|_| current.is_some()) {
        Some(id) => Some(LinksBefore {
            stores: links_of(tx, &STAFF_STORES, id, m.retail_stores.is_some()).await?,
            groups: links_of(tx, &STAFF_GROUPS, id, m.permission_groups.is_some()).await?,
        }),
        None => None,
    };
    let staff_id = write(tx, id, &m, hash.as_deref()).await?;
    if let Some(stores) = &stores {
        replace_links(tx, &STAFF_STORES, staff_id, stores).await?;
        // A store taken away cannot stay the one the staff is logged in at.
        let mut q = Query::new("UPDATE staffs SET current_store_id = NULL WHERE id = ");
        q.push_bind(staff_id).push(" AND current_store_id NOT IN ");
        push_id_list(&mut q, stores);
        q.execute(&mut *tx).await?;
    }
    if let Some(groups) = &groups {
        replace_links(tx, &STAFF_GROUPS, staff_id, groups).await?;
    }
    if current.as_ref().is_some_and(|c| c.is_active) && !m.is_active {
        end_sessions(tx, staff_id).await?;
    }
    let event = event(current.as_ref(), links_before, staff_id, &m);
    audit::record(tx, event).await?;
    Ok(staff_id)
}

/// A staff's store and group ids before an update (`None`: not read, the body keeps them).
struct LinksBefore {
    stores: Option<Vec<i64>>,
    groups: Option<Vec<i64>>,
}

/// The ids `link` gives staff `id` (sorted), when `wanted`.
async fn links_of(
    tx: &mut Tx,
    link: &Link,
    id: i64,
    wanted: bool,
) -> Result<Option<Vec<i64>>, sqlx::Error> {
    if !wanted {
        return Ok(None);
    }
    Ok(Some(
        linked_ids(tx, link, &[id])
            .await?
            .remove(&id)
            .unwrap_or_default(),
    ))
}

/// `staff.create` with every field, or `staff.update` with the fields that changed; the stores
/// and groups of an update are named (old ids, new ids, each sorted) when the body set them to
/// something else.
fn event(
    current: Option<&StaffRow>,
    links: Option<LinksBefore>,
    staff_id: i64,
    m: &Merged,
) -> Event {
    let old = current.map_or(serde_json::Value::Null, |c| {
        serde_json::json!({
            "first_name": c.first_name, "last_name": c.last_name, "email": c.email,
            "username": c.username, "remote_id": c.remote_id, "is_active": c.is_active,
            "is_staff": c.is_staff,
        })
    });
    let mut changes = audit::diff(&old, &serde_json::to_value(m).unwrap_or_default());
    let (old_stores, old_groups) = links.map_or((None, None), |l| (l.stores, l.groups));
    for (field, old, new) in [
        ("retail_stores", old_stores, &m.retail_stores),
        ("permission_groups", old_groups, &m.permission_groups),
    ] {
        let Some(new) = new else { continue };
        let mut new = new.clone();
        new.sort_unstable();
        new.dedup();
        match old {
            Some(old) if old == new => {}
            Some(old) => {
                changes.insert(field.into(), serde_json::json!([old, new]));
            }
            None => {
                changes.insert(field.into(), serde_json::json!([null, new]));
            }
        }
    }
    let action = if current.is_some() {
        "staff.update"
    } else {
        "staff.create"
    };
    Event::new(action, "staff", staff_id).changes(changes)
}

async fn write(
    tx: &mut Tx,
    id: Option<i64>,
    m: &Merged,
    hash: Option<&str>,
) -> Result<i64, sqlx::Error> {
    let now = time::now();
    let q = match id {
        None => Query::new(
            "INSERT INTO staffs (first_name, last_name, email, username, remote_id, is_active, \
             is_staff, password_hash, is_superuser, date_joined, created_date, modified_date) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, FALSE, $9, $9, $9) RETURNING id",
        ),
        Some(_) => Query::new(
            "UPDATE staffs SET first_name = $1, last_name = $2, email = $3, username = $4, \
             remote_id = $5, is_active = $6, is_staff = $7, \
             password_hash = COALESCE($8, password_hash), modified_date = $9, \
             deprovisioned_date = CASE WHEN $6 THEN NULL ELSE deprovisioned_date END \
             WHERE id = $10 RETURNING id",
        ),
    };
    let mut q = q
        .bind(m.first_name.as_str())
        .bind(m.last_name.as_str())
        .bind(m.email.as_str())
        .bind(m.username.clone())
        .bind(m.remote_id.clone())
        .bind(m.is_active)
        .bind(m.is_staff)
        .bind(hash)
        .bind(now);
    if let Some(id) = id {
        q = q.bind(id);
    }
    q.scalar(tx).await
}

/// Revokes every token of a staff and forgets where it was logged in.
async fn end_sessions(tx: &mut Tx, staff_id: i64) -> Result<(), sqlx::Error> {
    token::revoke_all(tx, AccountKind::Staff, staff_id).await?;
    Query::new("UPDATE staffs SET current_store_id = NULL WHERE id = $1")
        .bind(staff_id)
        .execute(tx)
        .await
        .map(|_| ())
}

/// DELETE: deactivates the staff and revokes its tokens; false when there is no such staff.
pub async fn deactivate(db: &Db, id: i64) -> Result<bool, sqlx::Error> {
    end(db, id, false).await
}

async fn end(db: &Db, id: i64, deprovision: bool) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    if !end_in(&mut tx, id, deprovision).await? {
        return Ok(false);
    }
    tx.commit().await?;
    Ok(true)
}

/// [`deactivate`] in the caller's transaction; with `deprovision` (SCIM's DELETE) the staff is
/// also marked deprovisioned, so that SCIM no longer finds it (`staff.deprovision`). False
/// when there is no such staff (or, deprovisioning, SCIM already does not find it).
pub async fn end_in(tx: &mut Tx, id: i64, deprovision: bool) -> Result<bool, sqlx::Error> {
    let now = time::now();
    let q = if deprovision {
        Query::new(
            "UPDATE staffs SET is_active = FALSE, modified_date = $1, deprovisioned_date = $1 \
             WHERE id = $2 AND deprovisioned_date IS NULL",
        )
    } else {
        Query::new("UPDATE staffs SET is_active = FALSE, modified_date = $1 WHERE id = $2")
    };
    let changed = q.bind(now).bind(id).execute(&mut *tx).await?;
    if changed == 0 {
        return Ok(false);
    }
    end_sessions(tx, id).await?;
    let action = if deprovision {
        "staff.deprovision"
    } else {
        "staff.deactivate"
    };
    audit::record(tx, Event::new(action, "staff", id)).await?;
    Ok(true)
}

/// Sets a new password (checked against the policy) and revokes the staff's tokens, so
/// whoever held the old password is logged out.
pub async fn change_password(
    db: &Db,
    passwords: &Passwords,
    body: Body<ChangePasswordIn>,
) -> ApiResult<()> {
    let (
        ChangePasswordIn {
            staff,
            new_password,
        },
        mut check,
    ) = body.into_parts();
    check.required("staff", staff.as_ref());
    check.required("new_password", new_password.as_ref());
    if let Some(password) = &new_password {
        check.absorb(passwords.validate("new_password", password))?;
    }
    if let Some(staff) = staff
        && queries::row(db, staff).await?.is_none()
    {
        check.add("staff", invalid_pk(staff));
    }
    check.finish()?;
    let (Some(staff), Some(new_password)) = (staff, new_password) else {
        return Ok(());
    };
    let hash = passwords.hash(new_password).await?;
    let mut tx = db.begin().await?;
    Query::new("UPDATE staffs SET password_hash = $1, modified_date = $2 WHERE id = $3")
        .bind(hash)
        .bind(time::now())
        .bind(staff)
        .execute(&mut tx)
        .await?;
    token::revoke_all(&mut tx, AccountKind::Staff, staff).await?;
    audit::record(&mut tx, Event::new("staff.password_change", "staff", staff)).await?;
    tx.commit().await?;
    Ok(())
}
