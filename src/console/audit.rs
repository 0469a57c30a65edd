//! `/admin/audit`: the audit log (`GET /api/v1/audit-events/`, superusers), newest first,
//! filtered with the API's own filters one page at a time.

use axum::extract::{RawQuery, State};
use axum::response::Response;
use maud::{Markup, html};
use serde_json::Value;

use super::Console;
use super::layout::{self, Input, ListFilter, ListPage, page, show};
use super::session::Session;

const ACTOR_KINDS: &[(&str, &str)] = &[
    ("", "Any"),
    ("user", "B2B account"),
    ("staff", "Instore staff"),
    ("service", "Service token"),
    ("cli", "Command line"),
    ("anonymous", "Anonymous"),
];

const LIST: ListPage = ListPage {
    path: "/admin/audit",
    api: "/api/v1/audit-events/",
    filters: &[
        ListFilter::search("action", "Action (exact, or a prefix ending in .)"),
        ListFilter {
            name: "actor_kind",
            label: "Actor",
            input: Input::Choice(ACTOR_KINDS),
        },
        ListFilter {
            name: "actor_id",
            label: "Actor id",
            input: Input::Text("number"),
        },
        ListFilter::search("target_type", "Target type"),
        ListFilter {
            name: "target_id",
            label: "Target id",
            input: Input::Text("number"),
        },
        ListFilter {
            name: "created_date__gte",
            label: "From (day)",
            input: Input::Text("date"),
        },
        ListFilter {
            name: "created_date__lte",
            label: "To (day, included)",
            input: Input::Text("date"),
        },
    ],
    page_size: 50,
};

/// The last day of a range is included: a plain date `to` asks the API for events up to the
/// end of that day.
fn whole_days(query: &mut [(String, String)]) {
    for (name, value) in query.iter_mut() {
        if name == "created_date__lte"
            && chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok()
        {
            value.push_str("T23:59:59.999999Z");
        }
    }
}

pub async fn list(
    State(console): State<Console>,
    session: Session,
    RawQuery(raw): RawQuery,
) -> Response {
    let access = session.access(&console).await;
    if !access.superuser {
        return layout::refusal(403, "You do not have permission to perform this action.");
    }
    let listed = LIST
        .fetch(&console, &session, raw.as_deref(), whole_days)
        .await;
    let body = html! {
        (LIST.filter_form(&listed))
        @if listed.answer.ok() {
            table #events {
                thead { tr { th { "When (UTC)" } th { "Action" } th { "Actor" } th { "Target" } th { "Changes" } th { "Client" } } }
                tbody {
                    @for e in listed.results() {
                        tr {
                            td { (show(&e["created_date"])) }
                            td { code { (show(&e["action"])) } }
                            td { (actor(&e["actor"])) }
                            td { (show(&e["target"]["type"])) " #" (show(&e["target"]["id"])) }
                            td { (changes(&e["changes"])) }
                            td { (show(&e["ip"])) }
                        }
                    }
                }
            }
            (LIST.pager(&listed))
        }
    };
    layout::respond(
        listed.status(),
        page("Audit log", Some((&session, &access)), body),
    )
}

fn actor(actor: &Value) -> Markup {
    html! {
        (show(&actor["kind"]))
        @if !actor["id"].is_null() { " #" (show(&actor["id"])) }
        @if let Some(email) = actor["email"].as_str() { br; small { (email) } }
    }
}

/// `{"field": [old, new]}` as one line a field.
fn changes(changes: &Value) -> Markup {
    let fields = changes.as_object();
    html! {
        @if let Some(fields) = fields {
            @for (field, change) in fields {
                div {
                    strong { (field) } ": "
                    @match change.as_array().map(Vec::as_slice) {
                        Some([old, new]) => { (show(old)) " → " (show(new)) }
                        _ => { (show(change)) }
                    }
                }
            }
        }
    }
}
