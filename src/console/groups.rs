//! Permission groups: the list, creation, and each group as a grid of Instore routes × methods whose
//! checkboxes are the group's permissions.

use std::collections::BTreeMap;

use axum::extract::{Path, RawQuery, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde_json::{Value, json};

use super::Console;
use super::api::Problems;
use super::layout::{self, csrf, general_errors, page, pager, show, text_field};
use super::session::{Access, Posted, Session};

const PAGE_SIZE: u64 = 25;
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
/// More than the route table holds: every permission on one page.
const ALL_PERMISSIONS: &str = "/api/v1/permissions/?limit=1000";
const NOT_ALLOWED: &str = "You do not have permission to perform this action.";

pub async fn list(
    State(console): State<Console>,
    session: Session,
    RawQuery(raw): RawQuery,
) -> Response {
    let access = session.access(&console).await;
    if !access.groups {
        return layout::refusal(403, NOT_ALLOWED);
    }
    let page_no: u64 = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "page")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(1);
    let path = format!("/api/v1/permission_groups/?limit={PAGE_SIZE}&page={page_no}");
    let answer = session.get(&console, &path).await;
    if !answer.ok() {
        return layout::refusal(
            answer.status.as_u16(),
            &answer.problems().general(&[]).join(" "),
        );
    }
    let empty = Vec::new();
    let query = vec![("page".to_owned(), page_no.to_string())];
    let body = html! {
        @if access.group_create { p { a href="/admin/groups/new" { "Create a permission group" } } }
        table {
            thead { tr { th { "Name" } th { "Permissions" } } }
            tbody {
                @for g in answer.body["results"].as_array().unwrap_or(&empty) {
                    tr {
                        td { a href=(format!("/admin/groups/{}", g["id"])) { (show(&g["name"])) } }
                        td { (g["permissions"].as_array().map_or(0, Vec::len)) }
                    }
                }
            }
        }
        (pager("/admin/groups", &query, page_no, PAGE_SIZE, answer.body["count"].as_u64().unwrap_or(0)))
    };
    layout::respond(
        200,
        page("Permission groups", Some((&session, &access)), body),
    )
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
    sent: Option<(String, Vec<i64>)>,
    problems: Problems,
    saved: bool,
) -> Response {
    let access = session.access(console).await;
    let group = session
        .get(console, &format!("/api/v1/permission_groups/{id}/"))
        .await;
    if !group.ok() {
        return layout::refusal(
            group.status.as_u16(),
            &group.problems().general(&[]).join(" "),
        );
    }
    let (name, granted) = sent.unwrap_or_else(|| {
        let ids = group.body["permissions"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default();
        (show(&group.body["name"]), ids)
    });
    let shown = Grid {
        action: format!("/admin/groups/{id}"),
        name: &name,
        granted: &granted,
        problems: &problems,
        editable: access.group_update,
    };
    let body = html! {
        @if saved { (layout::notice("Saved.")) }
        (grid_form(console, session, &access, &shown).await)
    };
    let status = if problems.is_empty() { 200 } else { 400 };
    let title = format!("Permission group {}", show(&group.body["name"]));
    layout::respond(status, page(&title, Some((session, &access)), body))
}

/// A group's form: its name and the grid of routes × methods.
struct Grid<'a> {
    action: String,
    name: &'a str,
    granted: &'a [i64],
    problems: &'a Problems,
    editable: bool,
}

async fn grid_form(
    console: &Console,
    session: &Session,
    access: &Access,
    form: &Grid<'_>,
) -> Markup {
    let permissions = if access.permissions {
        session.get(console, ALL_PERMISSIONS).await.body["results"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    // route → method → (permission id, label)
    let mut grid: BTreeMap<String, BTreeMap<String, (i64, String)>> = BTreeMap::new();
    for p in &permissions {
        if let (Some(pid), Some(route), Some(method)) =
            (p["id"].as_i64(), p["path"].as_str(), p["method"].as_str())
        {
            grid.entry(route.to_owned())
                .or_default()
                .insert(method.to_owned(), (pid, show(&p["name"])));
        }
    }
    let (problems, granted, editable) = (form.problems, form.granted, form.editable);
    html! {
        form method="post" action=(form.action) {
            (csrf(session))
            (general_errors(problems, &["name", "permissions"]))
            (text_field("name", "Name", "text", form.name, problems))
            @for e in problems.of("permissions") { p.field-error { (e) } }
            table.grid {
                caption { "Permissions: Instore routes × methods" }
                thead { tr { th scope="col" { "Route" } @for m in METHODS { th scope="col" { (m) } } } }
                tbody {
                    @for (route, methods) in &grid {
                        tr {
                            th scope="row" { (route) }
                            @for m in METHODS {
                                td {
                                    @if let Some((pid, label)) = methods.get(m) {
                                        input type="checkbox" name="permissions" value=(pid)
                                            aria-label=(format!("{label} ({m} {route})"))
                                            checked[granted.contains(pid)] disabled[!editable];
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if editable { p { button type="submit" { "Save" } } }
        }
    }
}

/// The name and permissions of a posted group form, as the API takes them.
fn posted_group(posted: &Posted) -> (String, Vec<i64>) {
    let name = posted.form.get("name").unwrap_or("").trim().to_owned();
    let ids = posted
        .form
        .all("permissions")
        .iter()
        .filter_map(|v| v.parse().ok())
        .collect();
    (name, ids)
}

/// The creation form: a name and an empty grid.
pub async fn new_form(State(console): State<Console>, session: Session) -> Response {
    creation(&console, &session, "", &[], &Problems::default(), 200).await
}

async fn creation(
    console: &Console,
    session: &Session,
    name: &str,
    granted: &[i64],
    problems: &Problems,
    status: u16,
) -> Response {
    let access = session.access(console).await;
    if !access.group_create {
        return layout::refusal(403, NOT_ALLOWED);
    }
    let shown = Grid {
        action: "/admin/groups/new".into(),
        name,
        granted,
        problems,
        editable: true,
    };
    let body = grid_form(console, session, &access, &shown).await;
    layout::respond(
        status,
        page("Create a permission group", Some((session, &access)), body),
    )
}

/// Creates a group with `POST /api/v1/permission_groups/`.
pub async fn create(State(console): State<Console>, posted: Posted) -> Response {
    let (name, ids) = posted_group(&posted);
    let body = json!({ "name": name, "permissions": ids });
    let answer = posted
        .session
        .send(&console, Method::POST, "/api/v1/permission_groups/", &body)
        .await;
    if answer.ok() {
        let id = answer.body["id"].as_i64().unwrap_or_default();
        return Redirect::to(&format!("/admin/groups/{id}?saved=1")).into_response();
    }
    if answer.status != StatusCode::BAD_REQUEST {
        return layout::refusal(
            answer.status.as_u16(),
            &answer.problems().general(&[]).join(" "),
        );
    }
    let problems = answer.problems();
    creation(&console, &posted.session, &name, &ids, &problems, 400).await
}

/// Saves a group with `PATCH /api/v1/permission_groups/{id}/`.
pub async fn update(
    State(console): State<Console>,
    Path(id): Path<i64>,
    posted: Posted,
) -> Response {
    let (name, ids) = posted_group(&posted);
    let path = format!("/api/v1/permission_groups/{id}/");
    let body = json!({ "name": name, "permissions": ids });
    let answer = posted
        .session
        .send(&console, Method::PATCH, &path, &body)
        .await;
    if answer.ok() {
        return Redirect::to(&format!("/admin/groups/{id}?saved=1")).into_response();
    }
    render(
        &console,
        &posted.session,
        id,
        Some((name, ids)),
        answer.problems(),
        false,
    )
    .await
}
