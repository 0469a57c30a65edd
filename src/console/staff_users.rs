//! B2B staff users (superusers only): the list with the API's filters, and promote / demote.
//! The API keeps the last active superuser; its refusal is shown in its words.

use axum::extract::{Path, RawQuery, State};
use axum::http::Method;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde_json::json;

use super::Console;
use super::api::Problems;
use super::layout::{self, csrf, general_errors, page, pager, query_string, show, text_field};
use super::session::{Posted, Session};
use super::users::active_badge;

const PAGE_SIZE: u64 = 25;
const NOT_ALLOWED: &str = "You do not have permission to perform this action.";

pub async fn list(
    State(console): State<Console>,
    session: Session,
    RawQuery(raw): RawQuery,
) -> Response {
    render(&console, &session, raw.as_deref(), Problems::default()).await
}

async fn render(
    console: &Console,
    session: &Session,
    raw: Option<&str>,
    problems: Problems,
) -> Response {
    let access = session.access(console).await;
    if !access.superuser {
        return layout::refusal(403, NOT_ALLOWED);
    }
    let query: Vec<(String, String)> = form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .into_owned()
        .filter(|(k, v)| !v.trim().is_empty() && (k == "email" || k == "page"))
        .collect();
    let mut api = query.clone();
    api.push(("limit".into(), PAGE_SIZE.to_string()));
    let path = format!("/api/v1/staff-users/?{}", query_string(&api));
    let answer = session.get(console, &path).await;
    let mut problems = problems;
    if !answer.ok() {
        problems = answer.problems();
    }
    let email = query
        .iter()
        .find(|(k, _)| k == "email")
        .map_or("", |(_, v)| v.as_str());
    let page_no = query
        .iter()
        .find(|(k, _)| k == "page")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(1);
    let empty = Vec::new();
    let rows = answer.body["results"].as_array().unwrap_or(&empty);
    let body = html! {
        form.filters method="get" action="/admin/staff-users" role="search" {
            (text_field("email", "Email contains", "search", email, &problems))
            button type="submit" { "Search" }
        }
        (general_errors(&problems, &["email"]))
        table {
            thead { tr { th { "Email" } th { "Active" } th { "Superuser" } th { "Change" } } }
            tbody {
                @for u in rows {
                    @let superuser = u["is_superuser"].as_bool() == Some(true);
                    tr {
                        td { (show(&u["email"])) }
                        td { (active_badge(&u["is_active"])) }
                        td { @if superuser { "yes" } @else { "no" } }
                        td {
                            form method="post" action=(format!("/admin/staff-users/{}", u["id"])) {
                                (csrf(session))
                                input type="hidden" name="is_superuser" value=(!superuser);
                                @if superuser {
                                    button.secondary type="submit" { "Demote" }
                                } @else {
                                    button type="submit" { "Promote to superuser" }
                                }
                            }
                        }
                    }
                }
            }
        }
        (pager("/admin/staff-users", &query, page_no, PAGE_SIZE, answer.body["count"].as_u64().unwrap_or(0)))
    };
    let status = if problems.is_empty() { 200 } else { 400 };
    layout::respond(
        status,
        page("B2B staff users", Some((session, &access)), body),
    )
}

/// Promotes or demotes with `PATCH /api/v1/staff-users/{id}/`.
pub async fn update(
    State(console): State<Console>,
    Path(id): Path<i64>,
    posted: Posted,
) -> Response {
    let wanted = posted.form.get("is_superuser") == Some("true");
    let path = format!("/api/v1/staff-users/{id}/");
    let body = json!({ "is_superuser": wanted });
    let answer = posted
        .session
        .send(&console, Method::PATCH, &path, &body)
        .await;
    if answer.ok() {
        return Redirect::to("/admin/staff-users").into_response();
    }
    render(&console, &posted.session, None, answer.problems()).await
}
