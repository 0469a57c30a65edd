//! The console's page skeleton and the pieces every page uses: navigation, messages, form
//! fields with their errors beside them, pagination.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use serde_json::Value;

use super::api::Problems;
use super::session::{Access, CSRF_FIELD, Session};

/// A whole page; `nav` is `None` on pages shown before sign-in.
pub fn page(title: &str, nav: Option<(&Session, &Access)>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · kadro console" }
                link rel="stylesheet" href="/admin/static/console.css";
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/admin/" { "kadro" }
                    @if let Some((session, access)) = nav {
                        nav aria-label="Console" {
                            ul {
                                li { a href="/admin/" { "Overview" } }
                                @if access.b2b { li { a href="/admin/users" { "B2B users" } } }
                                @if access.superuser { li { a href="/admin/staff-users" { "Staff users" } } }
                                @if access.superuser { li { a href="/admin/divisions" { "Divisions" } } }
                                @if access.staffs { li { a href="/admin/staffs" { "Instore staffs" } } }
                                @if access.groups { li { a href="/admin/groups" { "Permission groups" } } }
                                li { a href="/admin/exports" { "Exports" } }
                            }
                        }
                        form.signout method="post" action="/admin/logout" {
                            (csrf(session))
                            span.who { (who(session)) }
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main #main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

fn who(session: &Session) -> String {
    use crate::auth::Caller;
    match &session.caller {
        Caller::Service => "service".into(),
        Caller::User(u) if u.is_superuser => format!("B2B superuser #{}", u.id),
        Caller::User(u) => format!("B2B staff #{}", u.id),
        Caller::Staff(s) => format!("Instore staff #{}", s.id),
    }
}

/// The hidden CSRF field of a session's forms.
pub fn csrf(session: &Session) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(session.csrf); }
}

/// A page as an HTML response with `status`.
pub fn respond(status: u16, markup: Markup) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    (status, Html(markup.into_string())).into_response()
}

/// A short error page (no navigation).
pub fn refusal(status: u16, message: &str) -> Response {
    let title = match status {
        403 => "Not allowed",
        404 => "Not found",
        _ => "Cannot do that",
    };
    respond(
        status,
        page(
            title,
            None,
            html! {
                p.error role="alert" { (message) }
                p { a href="/admin/" { "Back to the console" } }
            },
        ),
    )
}

/// The messages of `problems` not tied to one of `fields`, as an alert.
pub fn general_errors(problems: &Problems, fields: &[&str]) -> Markup {
    let general = problems.general(fields);
    html! {
        @if !general.is_empty() {
            div.error role="alert" {
                @for message in general { p { (message) } }
            }
        }
    }
}

/// A labelled text input with its errors beside it.
pub fn text_field(name: &str, label: &str, kind: &str, value: &str, problems: &Problems) -> Markup {
    let errors = problems.of(name);
    let id = format!("f-{name}");
    let error_id = format!("{id}-error");
    html! {
        div.field {
            label for=(id) { (label) }
            input id=(id) name=(name) type=(kind) value=(value)
                aria-invalid=[(!errors.is_empty()).then_some("true")]
                aria-describedby=[(!errors.is_empty()).then_some(&error_id)];
            @if !errors.is_empty() {
                span.field-error id=(error_id) { @for e in errors { (e) " " } }
            }
        }
    }
}

/// A JSON value as display text (`—` for null).
pub fn show(value: &Value) -> String {
    match value {
        Value::Null => "—".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A JSON value as a form value (empty for null).
pub fn value(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Links to the previous and next pages of a list of `count` rows, keeping `query`.
pub fn pager(base: &str, query: &[(String, String)], page: u64, limit: u64, count: u64) -> Markup {
    let pages = count.div_ceil(limit).max(1);
    let link = |p: u64| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in query.iter().filter(|(k, _)| k != "page") {
            q.append_pair(k, v);
        }
        q.append_pair("page", &p.to_string());
        format!("{base}?{}", q.finish())
    };
    html! {
        nav.pager aria-label="Pages" {
            @if page > 1 { a href=(link(page - 1)) rel="prev" { "← Previous" } }
            span { "Page " (page) " of " (pages) " · " (count) " rows" }
            @if page < pages { a href=(link(page + 1)) rel="next" { "Next →" } }
        }
    }
}

/// A saved-changes notice.
pub fn notice(message: &str) -> Markup {
    html! { p.notice role="status" { (message) } }
}

/// `pairs` as a query string (the encoder is not `Send`, so it never lives across an await).
pub fn query_string<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        q.append_pair(k.as_ref(), v.as_ref());
    }
    q.finish()
}
