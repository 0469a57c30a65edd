//! The filters of the staff list, shared with its exports.

use serde::{Deserialize, Serialize};

use super::queries::{STAFF_GROUPS, STAFF_STORES};
use crate::db::list::{Conditions, ListFilter};
use crate::http::filters::{FilterParser, FromQuery};

/// `id`, `is_active`, `is_staff`, `remote_id`, `retail_stores`, `permission_groups` and
/// `current_store` exact; `first_name`, `last_name`, `email`, `username` case-insensitive
/// contains. Conditions apply to the `staffs` table under the alias `s`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffFilter {
    pub id: Option<i64>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub username: Option<String>,
    pub remote_id: Option<String>,
    pub is_active: Option<bool>,
    pub is_staff: Option<bool>,
    pub retail_stores: Option<i64>,
    pub permission_groups: Option<i64>,
    pub current_store: Option<i64>,
}

impl FromQuery for StaffFilter {
    fn from_query(p: &mut FilterParser<'_>) -> Self {
        StaffFilter {
            id: p.integer("id"),
            first_name: p.text("first_name"),
            last_name: p.text("last_name"),
            email: p.text("email"),
            username: p.text("username"),
            remote_id: p.text("remote_id"),
            is_active: p.boolean("is_active"),
            is_staff: p.boolean("is_staff"),
            retail_stores: p.integer("retail_stores"),
            permission_groups: p.integer("permission_groups"),
            current_store: p.integer("current_store"),
        }
    }
}

impl ListFilter for StaffFilter {
    fn apply(&self, c: &mut Conditions<'_>) {
        c.eq("s.id", self.id)
            .contains("s.first_name", self.first_name.as_deref())
            .contains("s.last_name", self.last_name.as_deref())
            .contains("s.email", self.email.as_deref())
            .contains("s.username", self.username.as_deref())
            .eq("s.remote_id", self.remote_id.as_deref())
            .eq("s.is_active", self.is_active)
            .eq("s.is_staff", self.is_staff)
            .linked("s.id", &STAFF_STORES, self.retail_stores)
            .linked("s.id", &STAFF_GROUPS, self.permission_groups)
            .eq("s.current_store_id", self.current_store);
    }
}
