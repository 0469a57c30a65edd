//! B2B users: the API's filters and pages, a user's detail and edit form, activate, deactivate
//! and the Commerce id lookup.

use axum::extract::{Path, RawQuery, State};
use axum::http::Method;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde_json::{Map, Value, json};

use super::Console;
use super::api::Problems;
use super::layout::{
    self, ACTIVE_CHOICES, Input, ListFilter, ListPage, csrf, general_errors, page, show,
    text_field, value,
};
use super::session::{Posted, Session};

/// The list filters the console offers: the API's own (`GET /api/v1/users/`).
const LIST: ListPage = ListPage {
    path: "/admin/users",
    api: "/api/v1/users/",
    filters: &[
        ListFilter::search("email", "Email contains"),
        ListFilter::search("first_name", "First name contains"),
        ListFilter::search("last_name", "Last name contains"),
        ListFilter::search("phone_number", "Phone contains"),
        ListFilter::search("division", "Division id"),
        ListFilter {
            name: "is_active",
            label: "Active",
            input: Input::Choice(ACTIVE_CHOICES),
        },
    ],
    page_size: 25,
};
const EDITABLE: &[(&str, &str)] = &[
    ("first_name", "First name"),
    ("last_name", "Last name"),
    ("phone_number", "Phone number"),
    ("division", "Division id"),
];

pub async fn list(
    State(console): State<Console>,
    session: Session,
    RawQuery(raw): RawQuery,
) -> Response {
    let access = session.access(&console).await;
    if !access.b2b {
        return layout::refusal(403, "You do not have permission to perform this action.");
    }
    let listed = LIST.fetch(&console, &session, raw.as_deref(), |_| {}).await;
    let body = html! {
        (LIST.filter_form(&listed))
        @if listed.answer.ok() {
            table {
                thead { tr { th { "Email" } th { "Name" } th { "Phone" } th { "Division" } th { "Active" } } }
                tbody {
                    @for u in listed.results() {
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
            (LIST.pager(&listed))
        }
    };
    layout::respond(
        listed.status(),
        page("B2B users", Some((&session, &access)), body),
    )
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
