//! The B2B accounts as exported rows: staff users (seed 001) and users (seed 004), one row
//! shape with the account's division joined in the same batch query.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::b2b::user_filter::UserFilter;
use crate::b2b::users::store::UserScope;
use crate::db::list::ListFilter;
use crate::db::{Dialect, Query};
use crate::exports::format::Cell;
use crate::exports::{ExportSources, RowSource};

/// The exportable fields of staff users and users (seed 001's list).
pub const ACCOUNT_FIELDS: &[&str] = &[
    "id",
    "email",
    "first_name",
    "last_name",
    "phone_number",
    "division",
    "is_active",
    "shop_token",
    "remote_id",
    "date_joined",
    "language",
    "last_login",
    "division__name",
    "division__id",
    "division__division_type",
];

const SELECT: &str = "SELECT users.id, users.email, users.first_name, users.last_name, \
    users.phone_number, users.division_id, users.is_active, users.shop_token, users.remote_id, \
    users.date_joined, users.language, users.last_login, divisions.name AS division_name, \
    divisions.division_type AS division_type \
    FROM users LEFT JOIN divisions ON divisions.id = users.division_id";

#[derive(Debug, sqlx::FromRow)]
pub struct AccountRow {
    id: i64,
    email: String,
    first_name: String,
    last_name: String,
    phone_number: String,
    division_id: Option<i64>,
    is_active: bool,
    shop_token: String,
    remote_id: Option<i64>,
    date_joined: DateTime<Utc>,
    language: String,
    last_login: Option<DateTime<Utc>>,
    division_name: Option<String>,
    division_type: Option<String>,
}

fn account_cell<'r>(row: &'r AccountRow, field: &str) -> Cell<'r> {
    match field {
        "id" => Cell::Int(row.id),
        "email" => Cell::text(&row.email),
        "first_name" => Cell::text(&row.first_name),
        "last_name" => Cell::text(&row.last_name),
        "phone_number" => Cell::text(&row.phone_number),
        "division" | "division__id" => Cell::int(row.division_id),
        "is_active" => Cell::Bool(row.is_active),
        "shop_token" => Cell::text(&row.shop_token),
        "remote_id" => Cell::int(row.remote_id),
        "date_joined" => Cell::Time(row.date_joined),
        "language" => Cell::text(&row.language),
        "last_login" => Cell::time(row.last_login),
        "division__name" => Cell::opt_text(row.division_name.as_deref()),
        "division__division_type" => Cell::opt_text(row.division_type.as_deref()),
        _ => Cell::Empty,
    }
}

/// `… WHERE <condition> <filter> <scope>` (the keyset part is added by [`keyset`]).
fn account_query(
    select: &str,
    condition: &str,
    filter: &UserFilter,
    scope: UserScope,
    dialect: Dialect,
) -> Query {
    let mut q = Query::new(format!("{select} WHERE {condition}"));
    filter.push_conditions(&mut q, dialect);
    scope.push_condition(&mut q);
    q
}

fn keyset(mut q: Query, after: i64, limit: i64) -> Query {
    q.push(" AND users.id > ")
        .push_bind(after)
        .push(" ORDER BY users.id LIMIT ")
        .push_bind(limit);
    q
}

/// `/api/v1/staff-users/`: B2B staff accounts with the list's filters.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StaffUsersExport {
    pub filter: UserFilter,
}

const STAFF: &str = "users.is_staff = TRUE";

impl RowSource for StaffUsersExport {
    const LIST: &'static str = "staff_users";
    type Row = AccountRow;
    const FIELDS: &'static [&'static str] = ACCOUNT_FIELDS;

    fn count(&self, dialect: Dialect) -> Query {
        account_query(
            "SELECT COUNT(*) FROM users",
            STAFF,
            &self.filter,
            UserScope::All,
            dialect,
        )
    }

    fn batch(&self, dialect: Dialect, _fields: &[&'static str], after: i64, limit: i64) -> Query {
        keyset(
            account_query(SELECT, STAFF, &self.filter, UserScope::All, dialect),
            after,
            limit,
        )
    }

    fn id(row: &AccountRow) -> i64 {
        row.id
    }

    fn cell<'r>(row: &'r AccountRow, field: &str) -> Cell<'r> {
        account_cell(row, field)
    }
}

/// `/api/v1/users/`: accounts known to the Commerce platform (`remote_id` set) with the list's
/// filters, within the caller's scope (a staff user who is not a superuser sees their division
/// and its sub-divisions).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UsersExport {
    pub filter: UserFilter,
    pub scope: UserScope,
}

const WITH_REMOTE_ID: &str = "users.remote_id IS NOT NULL";

impl RowSource for UsersExport {
    const LIST: &'static str = "users";
    type Row = AccountRow;
    const FIELDS: &'static [&'static str] = ACCOUNT_FIELDS;

    fn count(&self, dialect: Dialect) -> Query {
        account_query(
            "SELECT COUNT(*) FROM users",
            WITH_REMOTE_ID,
            &self.filter,
            self.scope,
            dialect,
        )
    }

    fn batch(&self, dialect: Dialect, _fields: &[&'static str], after: i64, limit: i64) -> Query {
        let q = account_query(SELECT, WITH_REMOTE_ID, &self.filter, self.scope, dialect);
        keyset(q, after, limit)
    }

    fn id(row: &AccountRow) -> i64 {
        row.id
    }

    fn cell<'r>(row: &'r AccountRow, field: &str) -> Cell<'r> {
        account_cell(row, field)
    }
}

/// The B2B lists that can be exported, added to the registry at start.
pub fn export_sources(sources: ExportSources) -> ExportSources {
    sources.with::<StaffUsersExport>().with::<UsersExport>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exports::ExportList;

    #[test]
    fn stored_form_round_trips() {
        let list = ExportList::of(UsersExport {
            filter: UserFilter {
                email: Some("ada".into()),
                ..UserFilter::default()
            },
            scope: UserScope::Division(3),
        });
        let (name, filter) = list.to_stored();
        assert_eq!(name, "users");
        let users: UsersExport = serde_json::from_str(&filter).unwrap();
        assert_eq!(users.filter.email.as_deref(), Some("ada"));
        assert_eq!(users.scope, UserScope::Division(3));
        let sources = export_sources(ExportSources::default());
        assert!(sources.get(&name).is_some());
        assert!(sources.get("nope").is_none());
    }

    /// Exports recorded before sources were registered by their contexts keep these names.
    #[test]
    fn stored_names_do_not_change() {
        let list = ExportList::of(StaffUsersExport::default());
        assert_eq!(list.name(), "staff_users");
        assert_eq!(
            export_sources(ExportSources::default()).names(),
            ["staff_users", "users"]
        );
    }
}
