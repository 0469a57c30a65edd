//! The audit log as exported rows (`GET /api/v1/audit-events/?fields=…`): the list's filters,
//! one row per event, `changes` as its JSON text.

use serde::{Deserialize, Serialize};

use super::routes::{COLUMNS, EventFilter, EventRow};
use crate::db::list::ListFilter;
use crate::db::{Dialect, Query};
use crate::exports::format::Cell;
use crate::exports::{ExportSources, RowSource};

/// The exportable fields of audit events: the event's columns, the actor and target flat.
pub const EVENT_FIELDS: &[&str] = &[
    "id",
    "created_date",
    "action",
    "actor_kind",
    "actor_id",
    "actor_email",
    "target_type",
    "target_id",
    "changes",
    "request_id",
    "ip",
    "user_agent",
];

/// `/api/v1/audit-events/` with the list's filters (superusers only, as the list).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AuditExport {
    pub filter: EventFilter,
}

impl RowSource for AuditExport {
    const LIST: &'static str = "audit_events";
    type Row = EventRow;
    const FIELDS: &'static [&'static str] = EVENT_FIELDS;

    fn count(&self, dialect: Dialect) -> Query {
        let mut q = Query::new("SELECT COUNT(*) FROM audit_events WHERE 1 = 1");
        self.filter.push_conditions(&mut q, dialect);
        q
    }

    fn batch(&self, dialect: Dialect, _fields: &[&'static str], after: i64, limit: i64) -> Query {
        let mut q = Query::new(format!("SELECT {COLUMNS} FROM audit_events WHERE 1 = 1"));
        self.filter.push_conditions(&mut q, dialect);
        q.push(" AND id > ")
            .push_bind(after)
            .push(" ORDER BY id LIMIT ")
            .push_bind(limit);
        q
    }

    fn id(row: &EventRow) -> i64 {
        row.id
    }

    fn cell<'r>(row: &'r EventRow, field: &str) -> Cell<'r> {
        match field {
            "id" => Cell::Int(row.id),
            "created_date" => Cell::Time(row.created_date),
            "action" => Cell::text(&row.action),
            "actor_kind" => Cell::text(&row.actor_kind),
            "actor_id" => Cell::int(row.actor_id),
            "actor_email" => Cell::opt_text(row.actor_email.as_deref()),
            "target_type" => Cell::text(&row.target_type),
            "target_id" => Cell::int(row.target_id),
            "changes" => Cell::text(&row.changes),
            "request_id" => Cell::opt_text(row.request_id.as_deref()),
            "ip" => Cell::opt_text(row.ip.as_deref()),
            "user_agent" => Cell::opt_text(row.user_agent.as_deref()),
            _ => Cell::Empty,
        }
    }
}

/// The audit log's export, added to the registry at start.
pub fn export_sources(sources: ExportSources) -> ExportSources {
    sources.with::<AuditExport>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exports::ExportList;

    #[test]
    fn stored_form_round_trips() {
        let since = "2026-01-02T03:04:05Z".parse().ok();
        let list = ExportList::of(AuditExport {
            filter: EventFilter {
                action: Some("user.".into()),
                actor_id: Some(4),
                created_gte: since,
                ..EventFilter::default()
            },
        });
        let (name, filter) = list.to_stored();
        assert_eq!(name, "audit_events");
        let back: AuditExport = serde_json::from_str(&filter).unwrap();
        assert_eq!(back.filter.action.as_deref(), Some("user."));
        assert_eq!(back.filter.actor_id, Some(4));
        assert_eq!(back.filter.created_gte, since);
        assert!(since.is_some());
        assert_eq!(
            export_sources(ExportSources::default()).names(),
            ["audit_events"]
        );
    }
}
