//! B2B divisions as a tree (superusers): main divisions page by page, each division with its
//! sub-divisions, its users and activate / deactivate saying what the change affects.

use axum::extract::{Path, RawQuery, State};
use axum::http::Method;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde_json::json;

use super::Console;
use super::api::Problems;
use super::layout::{self, csrf, general_errors, page, pager, show};
use super::session::{Posted, Session};
use super::users::active_badge;

const PAGE_SIZE: u64 = 25;
/// Sub-divisions shown under a main division (one page of the API's list).
const SUBS: u64 = 100;
const NOT_ALLOWED: &str = "You do not have permission to perform this action.";

pub async fn list(
    State(console): State<Console>,
    session: Session,
    RawQuery(raw): RawQuery,
) -> Response {
    let access = session.access(&console).await;
    if !access.superuser {
        return layout::refusal(403, NOT_ALLOWED);
    }
    let page_no: u64 = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "page")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(1);
    let path = format!("/api/v1/divisions/?division_type=main&limit={PAGE_SIZE}&page={page_no}");
    let answer = session.get(&console, &path).await;
    if !answer.ok() {
        let message = answer.problems().general(&[]).join(" ");
        return layout::refusal(answer.status.as_u16(), &message);
    }
    let empty = Vec::new();
    let query = vec![("page".to_owned(), page_no.to_string())];
    let body = html! {
        ul.tree {
            @for d in answer.body["results"].as_array().unwrap_or(&empty) {
                li {
                    a href=(format!("/admin/divisions/{}", d["id"])) { (show(&d["name"])) }
                    " " (active_badge(&d["is_active"]))
                }
            }
        }
        (pager("/admin/divisions", &query, page_no, PAGE_SIZE, answer.body["count"].as_u64().unwrap_or(0)))
    };
    layout::respond(200, page("Divisions", Some((&session, &access)), body))
}

pub async fn detail(
    State(console): State<Console>,
    session: Session,
    Path(id): Path<i64>,
) -> Response {
    render(&console, &session, id, Problems::default()).await
}

async fn render(console: &Console, session: &Session, id: i64, problems: Problems) -> Response {
    let access = session.access(console).await;
    let division = session
        .get(console, &format!("/api/v1/divisions/{id}/"))
        .await;
    if !division.ok() {
        let message = division.problems().general(&[]).join(" ");
        return layout::refusal(division.status.as_u16(), &message);
    }
    let d = &division.body;
    let subs = session
        .get(
            console,
            &format!("/api/v1/divisions/?parent={id}&limit={SUBS}"),
        )
        .await;
    let users = session
        .get(console, &format!("/api/v1/users/?division={id}&limit=1"))
        .await;
    let user_count = users.body["count"].as_u64().unwrap_or(0);
    let empty = Vec::new();
    let active = d["is_active"].as_bool() == Some(true);
    let body = html! {
        (general_errors(&problems, &[]))
        dl.detail {
            dt { "Type" } dd { (show(&d["division_type"])) }
            dt { "Status" } dd { (active_badge(&d["is_active"])) }
            dt { "ERP code" } dd { (show(&d["erp_code"])) }
            @if let Some(parent) = d["parent"].as_i64() {
                dt { "Main division" } dd { a href=(format!("/admin/divisions/{parent}")) { "#" (parent) } }
            }
            dt { "Users" } dd { a href=(format!("/admin/users?division={id}")) { (user_count) " users" } }
        }
        @if d["division_type"] == "main" {
            h2 { "Sub-divisions" }
            ul.tree {
                @for s in subs.body["results"].as_array().unwrap_or(&empty) {
                    li {
                        a href=(format!("/admin/divisions/{}", s["id"])) { (show(&s["name"])) }
                        " " (active_badge(&s["is_active"]))
                    }
                }
            }
        }
        div.actions {
            @if active {
                form method="post" action=(format!("/admin/divisions/{id}/deactivate")) {
                    (csrf(session))
                    p { "Deactivating this division also deactivates its " (user_count) " users (their Commerce accounts follow in the background)." }
                    button.danger type="submit" { "Deactivate" }
                }
            } @else {
                form method="post" action=(format!("/admin/divisions/{id}/activate")) {
                    (csrf(session))
                    p { "Activating re-activates this division only; its users stay as they are." }
                    button type="submit" { "Activate" }
                }
            }
        }
    };
    let status = if problems.is_empty() { 200 } else { 400 };
    let title = format!("Division {}", show(&d["name"]));
    layout::respond(status, page(&title, Some((session, &access)), body))
}

/// `activate` or `deactivate`, through the API.
pub async fn action(
    State(console): State<Console>,
    Path((id, what)): Path<(i64, String)>,
    posted: Posted,
) -> Response {
    if what != "activate" && what != "deactivate" {
        return layout::refusal(404, "Not found.");
    }
    let path = format!("/api/v1/divisions/{id}/{what}/");
    let answer = posted
        .session
        .send(&console, Method::POST, &path, &json!({}))
        .await;
    if answer.ok() {
        return Redirect::to(&format!("/admin/divisions/{id}")).into_response();
    }
    render(&console, &posted.session, id, answer.problems()).await
}
