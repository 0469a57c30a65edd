//! References a body makes to other Instore rows (`retail_stores`, `permissions`, ...),
//! checked inside the write's transaction.

use std::collections::BTreeSet;

use crate::db::{Query, Tx};
use crate::http::validate::{Validator, invalid_pk};

/// Tables whose ids a body may reference; the name is kadro's, never the client's.
#[derive(Clone, Copy, Debug)]
pub enum Table {
    Countries,
    Cities,
    Townships,
    RetailStores,
    Permissions,
    PermissionGroups,
    Staffs,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Countries => "countries",
            Table::Cities => "cities",
            Table::Townships => "townships",
            Table::RetailStores => "retail_stores",
            Table::Permissions => "permissions",
            Table::PermissionGroups => "permission_groups",
            Table::Staffs => "staffs",
        }
    }
}

/// Checks inside `tx` that every id of `ids` exists in `table`; the first missing id is named
/// on `field` in `check`, with the body's other errors. Returns the ids without repetitions,
/// in their first order.
pub async fn existing_ids(
    tx: &mut Tx,
    check: &mut Validator,
    table: Table,
    field: &str,
    ids: &[i64],
) -> Result<Vec<i64>, sqlx::Error> {
    let mut seen = BTreeSet::new();
    let unique: Vec<i64> = ids.iter().copied().filter(|id| seen.insert(*id)).collect();
    if unique.is_empty() {
        return Ok(unique);
    }
    let mut q = Query::new(format!("SELECT id FROM {} WHERE id IN (", table.name()));
    for (i, id) in unique.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.push_bind(*id);
    }
    q.push(")");
    let found: BTreeSet<i64> = q.scalars::<i64>(&mut *tx).await?.into_iter().collect();
    if let Some(missing) = unique.iter().find(|id| !found.contains(id)) {
        check.add(field, invalid_pk(*missing));
    }
    Ok(unique)
}
