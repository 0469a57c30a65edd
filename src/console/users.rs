//! B2B users: the API's filters and pages, a user's detail and edit form, activate, deactivate
//! and the Commerce id lookup.

use axum::extract::{Path, RawQuery, State};
use axum::http::Method;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde_json::{Map, Value, json};

use super::Console;
use super::api::{Answer, Problems};
use super::layout::{
    self, csrf, general_errors, page, pager, query_string, show, text_field, value,
};
use super::session::{Posted, Session};

/// The list filters the console offers: the API's own (`GET /api/v1/users/`).
const FILTERS: &[(&str, &str)] = &[
    ("email", "Email contains"),
    ("first_name", "First name contains"),
    ("last_name", "Last name contains"),
    ("phone_number", "Phone contains"),
    ("division", "Division id"),
];
const PAGE_SIZE: u64 = 25;
const EDITABLE: &[(&str, &str)] = &[
    ("first_name", "First name"),
    ("last_name", "Last name"),
    ("phone_number", "Phone number"),
    ("division", "Division id"),
];

/// The query parameters the console passes on: filters and the page, nothing else (so a
/// console link can never start an export).
fn passed_query(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .into_owned()
        .filter(|(k, v)| {
            !v.trim().is_empty()
                && (FILTERS.iter().any(|(f, _)| f == k) || k == "is_active" || k == "page")
        })
        .collect()
}

pub async fn list(
    State(console): State<Console>,
    session: Session,
    RawQuery(raw): RawQuery,
) -> Response {
    let access = session.access(&console).await;
    if !access.b2b {
        return layout::refusal(403, "You do not have permission to perform this action.");
    }
    let query = passed_query(raw.as_deref());
    let mut api = query.clone();
    api.push(("limit".into(), PAGE_SIZE.to_string()));
    let answer = session
        .get(&console, &format!("/api/v1/users/?{}", query_string(&api)))
        .await;
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    };
    let problems = if answer.ok() {
        Problems::default()
    } else {
        answer.problems()
    };
    let active = get("is_active");
    let body = html! {
        form.filters method="get" action="/admin/users" role="search" {
            @for (name, label) in FILTERS {
                (text_field(name, label, "search", get(name), &problems))
            }
            div.field {
                label for="f-is_active" { "Active" }
                select id="f-is_active" name="is_active" {
                    option value="" selected[active.is_empty()] { "Any" }
                    option value="true" selected[active == "true"] { "Active" }
                    option value="false" selected[active == "false"] { "Inactive" }
                }
            }
            button type="submit" { "Search" }
        }
        (general_errors(&problems, &FILTERS.iter().map(|(f, _)| *f).collect::<Vec<_>>()))
        @if answer.ok() { (rows(&answer, &query)) }
    };
    let status = if answer.ok() {
        200
    } else {
        answer.status.as_u16()
    };
    layout::respond(status, page("B2B users", Some((&session, &access)), body))
}

fn rows(answer: &Answer, query: &[(String, String)]) -> Markup {
    let count = answer.body["count"].as_u64().unwrap_or(0);
    let page_no = query
        .iter()
        .find(|(k, _)| k == "page")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(1);
    let empty = Vec::new();
    let results = answer.body["results"].as_array().unwrap_or(&empty);
    html! {
        table {
            thead { tr { th { "Email" } th { "Name" } th { "Phone" } th { "Division" } th { "Active" } } }
            tbody {
                @for u in results {
                    tr {
                        td { a href=(format!("/admin/users/{}", u["id"])) { (show(&u["email"])) } }
                        td { (show(&u["first_name"])) " " (show(&u["last_name"])) }
                        td { (show(&u["phone_number"])) }
                        td { (show(&u["division"]["name"])) }
                        td { (active_badge(&u["is_active"])) }
                    }
                }
            }
        }
        (pager("/admin/users", query, page_no, PAGE_SIZE, count))
    }
}

pub fn active_badge(v: &Value) -> Markup {
    if v.as_bool() == Some(true) {
        html! { span.badge { "active" } }
    } else {
        html! { span.badge.off { "inactive" } }
    }
}

pub async fn detail(
    State(console): State<Console>,
    session: Session,
    Path(id): Path<i64>,
    RawQuery(raw): RawQuery,
) -> Response {
    let saved = raw.as_deref().is_some_and(|q| q.contains("saved"));
    render(&console, &session, id, None, Problems::default(), saved).await
}

async fn render(
    console: &Console,
    session: &Session,
    id: i64,
    sent: Option<&Map<String, Value>>,
    problems: Problems,
    saved: bool,
) -> Response {
    let access = session.access(console).await;
    let answer = session.get(console, &format!("/api/v1/users/{id}/")).await;
    if !answer.ok() {
        let message = answer.problems().general(&[]).join(" ");
        return layout::refusal(answer.status.as_u16(), &message);
    }
    let user = &answer.body;
    let current = |field: &str| match sent.and_then(|s| s.get(field)) {
        Some(v) => value(v),
        None if field == "division" => value(&user["division"]["id"]),
        None => value(&user[field]),
    };
    let action = |what: &str| format!("/admin/users/{id}/{what}");
    let fields: Vec<&str> = EDITABLE.iter().map(|(f, _)| *f).collect();
    let body = html! {
        @if saved { (layout::notice("Saved.")) }
        dl.detail {
            dt { "Email" } dd { (show(&user["email"])) }
            dt { "Status" } dd { (active_badge(&user["is_active"])) }
            dt { "Division" } dd { (show(&user["division"]["name"])) }
            dt { "Commerce id" } dd { (show(&user["remote_id"])) }
            dt { "Joined" } dd { (show(&user["date_joined"])) }
            dt { "Last login" } dd { (show(&user["last_login"])) }
        }
        h2 { "Edit" }
        form method="post" action=(format!("/admin/users/{id}")) {
            (csrf(session))
            (general_errors(&problems, &fields))
            @for (name, label) in EDITABLE {
                (text_field(name, label, "text", &current(name), &problems))
            }
            button type="submit" { "Save" }
        }
        div.actions {
            @if user["is_active"].as_bool() == Some(true) {
                form method="post" action=(action("deactivate")) {
                    (csrf(session)) button.danger type="submit" { "Deactivate" }
                }
            } @else {
                form method="post" action=(action("activate")) {
                    (csrf(session)) button type="submit" { "Activate" }
                }
            }
            form method="post" action=(action("update_remote_id")) {
                (csrf(session)) button.secondary type="submit" { "Look up the Commerce id" }
            }
        }
    };
    let status = if problems.is_empty() { 200 } else { 400 };
    let title = format!("B2B user #{id}");
    layout::respond(status, page(&title, Some((session, &access)), body))
}

/// Saves the edit form with `PATCH /api/v1/users/{id}/`; errors come back beside the fields.
pub async fn update(
    State(console): State<Console>,
    Path(id): Path<i64>,
    posted: Posted,
) -> Response {
    let mut sent = Map::new();
    for (name, _) in EDITABLE {
        let text = posted.form.get(name).unwrap_or("").trim();
        let v = match *name {
            "division" if text.is_empty() => Value::Null,
            "division" => text.parse::<i64>().map_or(json!(text), Value::from),
            _ => json!(text),
        };
        sent.insert((*name).to_owned(), v);
    }
    let answer = posted
        .session
        .send(
            &console,
            Method::PATCH,
            &format!("/api/v1/users/{id}/"),
            &Value::Object(sent.clone()),
        )
        .await;
    if answer.ok() {
        return Redirect::to(&format!("/admin/users/{id}?saved=1")).into_response();
    }
    render(
        &console,
        &posted.session,
        id,
        Some(&sent),
        answer.problems(),
        false,
    )
    .await
}

/// `activate`, `deactivate` or `update_remote_id`, through the API.
pub async fn action(
    State(console): State<Console>,
    Path((id, what)): Path<(i64, String)>,
    posted: Posted,
) -> Response {
    if !["activate", "deactivate", "update_remote_id"].contains(&what.as_str()) {
        return layout::refusal(404, "Not found.");
    }
    let answer = posted
        .session
        .send(
            &console,
            Method::POST,
            &format!("/api/v1/users/{id}/{what}/"),
            &json!({}),
        )
        .await;
    if answer.ok() {
        return Redirect::to(&format!("/admin/users/{id}?saved=1")).into_response();
    }
    render(
        &console,
        &posted.session,
        id,
        None,
        answer.problems(),
        false,
    )
    .await
}
