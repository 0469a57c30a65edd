//! Exports: pick a list, its filters, fields and format; watch the build; download the file.
//! The export is the API's (`?fields=…` on the list, then `?status_cache_key=…`).

use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde_json::Value;

use super::Console;
use super::api::Problems;
use super::layout::{self, csrf, general_errors, page, query_string, show};
use super::session::{Access, Posted, Session};

/// The exportable lists the console offers: (stored list name, label, API path).
const LISTS: &[(&str, &str, &str)] = &[
    ("users", "B2B users", "/api/v1/users/"),
    ("staff_users", "B2B staff users", "/api/v1/staff-users/"),
    ("staffs", "Instore staffs", "/api/v1/staffs/"),
];
/// API parameters that a filter text may not set: they belong to the export itself.
const RESERVED: &[&str] = &["fields", "format", "status_cache_key", "page", "limit"];

fn allowed(access: &Access, list: &str) -> bool {
    match list {
        "users" | "staff_users" => access.b2b,
        "staffs" => access.staffs,
        _ => false,
    }
}

fn api_path(list: &str) -> Option<&'static str> {
    LISTS
        .iter()
        .find(|(name, _, _)| *name == list)
        .map(|(_, _, path)| *path)
}

pub async fn form(
    State(console): State<Console>,
    session: Session,
    RawQuery(raw): RawQuery,
) -> Response {
    let list = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "list")
        .map(|(_, v)| v.into_owned());
    render(
        &console,
        &session,
        list.as_deref(),
        &[],
        Problems::default(),
    )
    .await
}

async fn render(
    console: &Console,
    session: &Session,
    list: Option<&str>,
    chosen: &[&str],
    problems: Problems,
) -> Response {
    let access = session.access(console).await;
    let offered: Vec<_> = LISTS
        .iter()
        .filter(|(name, _, _)| allowed(&access, name))
        .collect();
    let list = list.filter(|l| offered.iter().any(|(name, _, _)| name == l));
    let fields = list
        .and_then(|l| console.app.export_sources.get(l))
        .map(|s| s.fields())
        .unwrap_or_default();
    let body = html! {
        @if offered.is_empty() {
            p { "Your account may export no list." }
        }
        form.filters method="get" action="/admin/exports" {
            div.field {
                label for="f-list" { "List" }
                select id="f-list" name="list" {
                    @for (name, label, _) in &offered {
                        option value=(name) selected[list == Some(*name)] { (label) }
                    }
                }
            }
            button.secondary type="submit" { "Choose" }
        }
        @if let Some(list) = list {
            form method="post" action="/admin/exports" {
                (csrf(session))
                input type="hidden" name="list" value=(list);
                (general_errors(&problems, &["fields", "format", "filters"]))
                fieldset {
                    legend { "Fields, in this order" }
                    @for e in problems.of("fields") { p.field-error { (e) } }
                    @for f in fields {
                        div { label { input type="checkbox" name="fields" value=(f) checked[chosen.contains(f)]; " " (f) } }
                    }
                }
                div.field {
                    label for="f-format" { "Format" }
                    select id="f-format" name="format" {
                        option value="csv" { "CSV" }
                        option value="xlsx" { "Excel (.xlsx)" }
                        option value="xls" { "Excel 97 (.xls)" }
                    }
                    @for e in problems.of("format") { span.field-error { (e) } }
                }
                (layout::text_field("filters", "Filters, as the API takes them (e.g. is_active=true&email=shop)", "text", "", &problems))
                button type="submit" { "Start the export" }
            }
        }
    };
    let status = if problems.is_empty() { 200 } else { 400 };
    layout::respond(status, page("Exports", Some((session, &access)), body))
}

/// Starts an export through the list's API and shows its progress page.
pub async fn start(State(console): State<Console>, posted: Posted) -> Response {
    let session = &posted.session;
    let list = posted.form.get("list").unwrap_or("");
    let access = session.access(&console).await;
    let Some(path) = api_path(list).filter(|_| allowed(&access, list)) else {
        return layout::refusal(403, "You do not have permission to perform this action.");
    };
    let fields = posted.form.all("fields");
    let mut query: Vec<(String, String)> =
        form_urlencoded::parse(posted.form.get("filters").unwrap_or("").as_bytes())
            .into_owned()
            .filter(|(k, _)| !RESERVED.contains(&k.as_str()))
            .collect();
    for f in &fields {
        query.push(("fields".into(), (*f).to_owned()));
    }
    let format = posted.form.get("format").unwrap_or("xlsx");
    query.push(("format".into(), format.to_owned()));
    let answer = session
        .get(&console, &format!("{path}?{}", query_string(&query)))
        .await;
    match answer.body.get("cache_key").and_then(Value::as_str) {
        Some(key) if answer.ok() => {
            Redirect::to(&format!("/admin/exports/{list}/{key}")).into_response()
        }
        _ => {
            let mut problems = answer.problems();
            // Filter errors name the filter; show them beside the filter text.
            let filter_errors: Vec<String> = problems
                .0
                .iter()
                .filter(|(k, _)| {
                    !["fields", "format", "detail", "non_field_errors"].contains(&k.as_str())
                })
                .flat_map(|(k, v)| v.iter().map(move |m| format!("{k}: {m}")))
                .collect();
            problems.0.retain(|k, _| {
                ["fields", "format", "detail", "non_field_errors"].contains(&k.as_str())
            });
            for e in filter_errors {
                problems.add("filters", e);
            }
            render(&console, session, Some(list), &fields, problems).await
        }
    }
}

/// The progress of an export; the page reloads itself (an HTTP `Refresh`, no script) until
/// the file is ready or the export failed.
pub async fn progress(
    State(console): State<Console>,
    session: Session,
    Path((list, key)): Path<(String, String)>,
) -> Response {
    let access = session.access(&console).await;
    let Some(path) = api_path(&list) else {
        return layout::refusal(404, "Not found.");
    };
    let query = query_string(&[("status_cache_key", key.as_str())]);
    let answer = session.get(&console, &format!("{path}?{query}")).await;
    if !answer.ok() {
        return layout::refusal(
            answer.status.as_u16(),
            &answer.problems().general(&[]).join(" "),
        );
    }
    let s = &answer.body;
    let status = s["status"].as_str().unwrap_or("waiting");
    let written = s["progress"]["rows_written"].as_i64().unwrap_or(0);
    let total = s["progress"]["rows_total"].as_i64();
    let done = s["is_ready"].as_bool() == Some(true) || status == "failed";
    let body = html! {
        p role="status" { "Status: " strong #export-status { (status) } }
        @if let Some(total) = total {
            label for="export-progress" { (written) " of " (total) " rows" }
            progress #export-progress value=(written) max=(total.max(1)) {}
        }
        @if let Some(reason) = s["reason"].as_str() { p.error role="alert" { (reason) } }
        @if let Some(url) = s["url"].as_str() {
            p { a #download href=(url) download { "Download the file" } }
        }
        @if !done { p { "This page refreshes until the file is ready." } }
        p { a href="/admin/exports" { "Start another export" } }
    };
    let title = format!("Export of {}", show(&Value::String(list)));
    let mut response = layout::respond(200, page(&title, Some((&session, &access)), body));
    if !done {
        response
            .headers_mut()
            .insert(header::REFRESH, header::HeaderValue::from_static("1"));
    }
    response
}
