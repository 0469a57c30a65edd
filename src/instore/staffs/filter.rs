//! The filters of the staff list, shared with its exports.

use serde::{Deserialize, Serialize};

use crate::db::{Dialect, Query};
use crate::http::error::ApiError;
use crate::http::filters::FilterParser;
use crate::http::request::RequestUrl;
use crate::instore::push_contains;

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

impl StaffFilter {
    /// Reads the filters of a request; other parameters (`page`, `fields`, ...) are ignored.
    pub fn parse(url: &RequestUrl) -> Result<Self, ApiError> {
        let mut p = FilterParser::new(url);
        let filter = StaffFilter {
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
        };
        p.finish()?;
        Ok(filter)
    }

    /// Appends ` AND …` conditions on `staffs s` to `q`.
    pub fn push_conditions(&self, q: &mut Query, dialect: Dialect) {
        if let Some(id) = self.id {
            q.push(" AND s.id = ").push_bind(id);
        }
        for (column, value) in [
            ("s.first_name", &self.first_name),
            ("s.last_name", &self.last_name),
            ("s.email", &self.email),
            ("s.username", &self.username),
        ] {
            if let Some(value) = value {
                push_contains(q, dialect, column, value);
            }
        }
        if let Some(remote_id) = &self.remote_id {
            q.push(" AND s.remote_id = ").push_bind(remote_id.as_str());
        }
        if let Some(active) = self.is_active {
            q.push(" AND s.is_active = ").push_bind(active);
        }
        if let Some(staff) = self.is_staff {
            q.push(" AND s.is_staff = ").push_bind(staff);
        }
        if let Some(store) = self.retail_stores {
            q.push(
                " AND s.id IN (SELECT staff_id FROM staff_retail_stores WHERE retail_store_id = ",
            )
            .push_bind(store)
            .push(")");
        }
        if let Some(group) = self.permission_groups {
            q.push(" AND s.id IN (SELECT staff_id FROM staff_permission_groups WHERE group_id = ")
                .push_bind(group)
                .push(")");
        }
        if let Some(store) = self.current_store {
            q.push(" AND s.current_store_id = ").push_bind(store);
        }
    }
}
