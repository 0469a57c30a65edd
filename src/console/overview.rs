//! `/admin/`: how big the directory is, how busy the workers are, the caller's latest exports.

use axum::extract::State;
use axum::response::Response;
use maud::html;
use serde_json::Value;

use super::Console;
use super::layout::{self, page};
use super::session::Session;
use crate::exports::record;
use crate::jobs;

/// The lists counted on the overview: (label, API list, may the caller read it).
fn counted(access: &super::session::Access) -> [(&'static str, &'static str, bool); 4] {
    [
        ("B2B users", "/api/v1/users/?limit=1", access.b2b),
        (
            "B2B staff users",
            "/api/v1/staff-users/?limit=1",
            access.b2b,
        ),
        ("Instore staffs", "/api/v1/staffs/?limit=1", access.staffs),
        (
            "Retail stores",
            "/api/v1/retail_stores/?limit=1",
            access.stores,
        ),
    ]
}

pub async fn show(State(console): State<Console>, session: Session) -> Response {
    let console = &console;
    let access = session.access(console).await;
    let mut counts = Vec::new();
    for (label, path, allowed) in counted(&access) {
        if allowed {
            let answer = session.get(console, path).await;
            counts.push((label, answer.body.get("count").and_then(Value::as_i64)));
        }
    }
    let depth = if session.caller.is_superuser() {
        jobs::queue_depth(&console.app.db).await.ok()
    } else {
        None
    };
    let exports = record::recent(&console.app.db, &session.caller, 5)
        .await
        .unwrap_or_default();
    let body = html! {
        @if !access.any() {
            p.error role="alert" { "Your account may use no page of the console besides this one." }
        }
        section.cards aria-label="Counts" {
            @for (label, count) in &counts {
                div.card { div.n { (count.map_or("—".to_owned(), |c| c.to_string())) } div { (label) } }
            }
            @if let Some(depth) = depth {
                div.card { div.n { (depth) } div { "Jobs queued or running" } }
            }
        }
        h2 { "Recent exports" }
        @if exports.is_empty() {
            p { "No exports yet. " a href="/admin/exports" { "Start one" } "." }
        } @else {
            table {
                thead { tr { th { "List" } th { "Format" } th { "Status" } th { "Rows" } th { "Started" } } }
                tbody {
                    @for e in &exports {
                        tr {
                            td { a href=(format!("/admin/exports/{}/{}", e.list, e.cache_key)) { (e.list) } }
                            td { (e.format) }
                            td { (e.status().as_str()) }
                            td { (e.rows_written) @if let Some(t) = e.rows_total { " / " (t) } }
                            td { (e.created_at.format("%Y-%m-%d %H:%M UTC")) }
                        }
                    }
                }
            }
        }
    };
    layout::respond(200, page("Overview", Some((&session, &access)), body))
}
