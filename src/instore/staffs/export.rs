//! Instore staffs as exported rows (CONTRACT §5): stores and permission groups flattened to
//! their names joined with ", ", the current store by name.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::list::ListFilter;
use crate::db::{Dialect, Query};
use crate::exports::format::Cell;
use crate::exports::{ExportSources, RowSource};
use crate::instore::staffs::StaffFilter;

/// The exportable fields of staffs.
pub const STAFF_FIELDS: &[&str] = &[
    "id",
    "first_name",
    "last_name",
    "email",
    "username",
    "is_active",
    "is_staff",
    "is_superuser",
    "remote_id",
    "date_joined",
    "last_login",
    "retail_stores",
    "permission_groups",
    "current_store",
];

#[derive(Debug, sqlx::FromRow)]
pub struct StaffExportRow {
    id: i64,
    first_name: String,
    last_name: String,
    email: String,
    username: Option<String>,
    is_active: bool,
    is_staff: bool,
    is_superuser: bool,
    remote_id: Option<String>,
    date_joined: DateTime<Utc>,
    last_login: Option<DateTime<Utc>>,
    retail_stores: Option<String>,
    permission_groups: Option<String>,
    current_store: Option<String>,
}

/// The names of the rows linked to staff `s`, ordered by id and joined with ", ", as one
/// correlated subquery: the batch stays a single statement whatever its size.
fn joined_names(dialect: Dialect, link: &str, link_column: &str, table: &str) -> String {
    match dialect {
        Dialect::Postgres => format!(
            "(SELECT string_agg(x.name, ', ' ORDER BY x.id) FROM {link} l JOIN {table} x ON x.id = l.{link_column} \
             WHERE l.staff_id = s.id)"
        ),
        Dialect::Sqlite => format!(
            "(SELECT group_concat(name, ', ') FROM (SELECT x.name FROM {link} l JOIN {table} x ON x.id = l.{link_column} \
             WHERE l.staff_id = s.id ORDER BY x.id))"
        ),
    }
}

/// `/api/v1/staffs/`: staffs with the list's filters.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StaffsExport {
    pub filter: StaffFilter,
}

impl RowSource for StaffsExport {
    const LIST: &'static str = "staffs";
    type Row = StaffExportRow;
    const FIELDS: &'static [&'static str] = STAFF_FIELDS;

    fn count(&self, dialect: Dialect) -> Query {
        let mut q = Query::new("SELECT COUNT(*) FROM staffs s WHERE 1 = 1");
        self.filter.push_conditions(&mut q, dialect);
        q
    }

    fn batch(&self, dialect: Dialect, fields: &[&'static str], after: i64, limit: i64) -> Query {
        let wanted = |field: &str, sql: String| {
            if fields.contains(&field) {
                sql
            } else {
                "NULL".to_owned()
            }
        };
        let mut q = Query::new(format!(
            "SELECT s.id, s.first_name, s.last_name, s.email, s.username, s.is_active, s.is_staff, s.is_superuser, \
             s.remote_id, s.date_joined, s.last_login, {} AS retail_stores, {} AS permission_groups, \
             cs.name AS current_store FROM staffs s LEFT JOIN retail_stores cs ON cs.id = s.current_store_id \
             WHERE 1 = 1",
            wanted(
                "retail_stores",
                joined_names(
                    dialect,
                    "staff_retail_stores",
                    "retail_store_id",
                    "retail_stores"
                )
            ),
            wanted(
                "permission_groups",
                joined_names(
                    dialect,
                    "staff_permission_groups",
                    "group_id",
                    "permission_groups"
                )
            ),
        ));
        self.filter.push_conditions(&mut q, dialect);
        q.push(" AND s.id > ")
            .push_bind(after)
            .push(" ORDER BY s.id LIMIT ")
            .push_bind(limit);
        q
    }

    fn id(row: &StaffExportRow) -> i64 {
        row.id
    }

    fn cell<'r>(row: &'r StaffExportRow, field: &str) -> Cell<'r> {
        match field {
            "id" => Cell::Int(row.id),
            "first_name" => Cell::text(&row.first_name),
            "last_name" => Cell::text(&row.last_name),
            "email" => Cell::text(&row.email),
            "username" => Cell::opt_text(row.username.as_deref()),
            "is_active" => Cell::Bool(row.is_active),
            "is_staff" => Cell::Bool(row.is_staff),
            "is_superuser" => Cell::Bool(row.is_superuser),
            "remote_id" => Cell::opt_text(row.remote_id.as_deref()),
            "date_joined" => Cell::Time(row.date_joined),
            "last_login" => Cell::time(row.last_login),
            "retail_stores" => Cell::opt_text(row.retail_stores.as_deref()),
            "permission_groups" => Cell::opt_text(row.permission_groups.as_deref()),
            "current_store" => Cell::opt_text(row.current_store.as_deref()),
            _ => Cell::Empty,
        }
    }
}

/// The Instore lists that can be exported, added to the registry at start.
pub fn export_sources(sources: ExportSources) -> ExportSources {
    sources.with::<StaffsExport>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exports::ExportList;

    /// Exports recorded before sources were registered by their contexts keep this name and
    /// filter shape.
    #[test]
    fn stored_form_is_unchanged() {
        let (name, filter) = ExportList::of(StaffsExport::default()).to_stored();
        assert_eq!(name, "staffs");
        let back: StaffsExport = serde_json::from_str(&filter).unwrap();
        assert_eq!(serde_json::to_value(back).unwrap().to_string(), filter);
        assert_eq!(export_sources(ExportSources::default()).names(), ["staffs"]);
    }
}
