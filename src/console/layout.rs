//! The console's page skeleton and the pieces every page uses: navigation, messages, form
//! fields with their errors beside them, pagination, and the list page every list is built on
//! ([`ListPage`]).

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use serde_json::Value;

use super::Console;
use super::api::{Answer, Problems};
use super::session::{Access, CSRF_FIELD, Session};

/// A whole page; `nav` is `None` on pages shown before sign-in.
pub fn page(title: &str, nav: Option<(&Session, &Access)>, body: Markup) -> Markup {
    skeleton(title, nav, body, None)
}

/// A page that reloads itself every `seconds` (a `<meta http-equiv="refresh">`, no script),
/// for watching a background job.
pub fn page_refreshing(
    title: &str,
    nav: Option<(&Session, &Access)>,
    body: Markup,
    seconds: u32,
) -> Markup {
    skeleton(title, nav, body, Some(seconds))
}

fn skeleton(
    title: &str,
    nav: Option<(&Session, &Access)>,
    body: Markup,
    refresh: Option<u32>,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(seconds) = refresh { meta http-equiv="refresh" content=(seconds); }
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
                                @if access.stores { li { a href="/admin/stores" { "Retail stores" } } }
                                @if access.groups { li { a href="/admin/groups" { "Permission groups" } } }
                                li { a href="/admin/exports" { "Exports" } }
                                @if access.superuser { li { a href="/admin/imports" { "Imports" } } }
                                @if access.superuser { li { a href="/admin/audit" { "Audit log" } } }
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

/// How a list filter is asked for.
pub enum Input {
    /// An `<input>` of this type (`search`, `number`, `date`).
    Text(&'static str),
    /// A `<select>` of (value, label); the first is usually "any" with an empty value.
    Choice(&'static [(&'static str, &'static str)]),
}

/// One filter of a list page: the API's query parameter, its label and its input.
pub struct ListFilter {
    pub name: &'static str,
    pub label: &'static str,
    pub input: Input,
}

impl ListFilter {
    pub const fn search(name: &'static str, label: &'static str) -> ListFilter {
        ListFilter {
            name,
            label,
            input: Input::Text("search"),
        }
    }
}

/// "Any", "Active", "Inactive": the choices of an `is_active` filter.
pub const ACTIVE_CHOICES: &[(&str, &str)] =
    &[("", "Any"), ("true", "Active"), ("false", "Inactive")];

/// A console list over one of the API's paginated lists: its filters are the API's own query
/// parameters, passed on as they are (and nothing else, so a console link can never ask the
/// API for more than a page, or for an export), one page at a time.
pub struct ListPage {
    /// The console page, e.g. `/admin/stores`.
    pub path: &'static str,
    /// The API list, e.g. `/api/v1/retail_stores/`.
    pub api: &'static str,
    pub filters: &'static [ListFilter],
    pub page_size: u64,
}

/// One page of a list as the API answered it, with the query that asked for it.
pub struct Listed {
    pub query: Vec<(String, String)>,
    pub answer: Answer,
    pub problems: Problems,
}

impl ListPage {
    /// The filters and page of the console's query string that the API list takes.
    pub fn query(&self, raw: Option<&str>) -> Vec<(String, String)> {
        form_urlencoded::parse(raw.unwrap_or("").as_bytes())
            .into_owned()
            .filter(|(k, v)| {
                !v.trim().is_empty() && (self.filters.iter().any(|f| f.name == k) || k == "page")
            })
            .collect()
    }

    /// Asks the API for the page `raw` names; `adapt` may rewrite the query sent to the API
    /// (not the one the page links keep).
    pub async fn fetch(
        &self,
        console: &Console,
        session: &Session,
        raw: Option<&str>,
        adapt: impl Fn(&mut [(String, String)]),
    ) -> Listed {
        let query = self.query(raw);
        let mut api = query.clone();
        adapt(&mut api);
        api.push(("limit".into(), self.page_size.to_string()));
        let answer = session
            .get(console, &format!("{}?{}", self.api, query_string(&api)))
            .await;
        let problems = if answer.ok() {
            Problems::default()
        } else {
            answer.problems()
        };
        Listed {
            query,
            answer,
            problems,
        }
    }

    /// The filter form (each field with its errors beside it) and the errors about no field.
    pub fn filter_form(&self, listed: &Listed) -> Markup {
        let names: Vec<&str> = self.filters.iter().map(|f| f.name).collect();
        html! {
            form.filters method="get" action=(self.path) role="search" {
                @for f in self.filters {
                    @match f.input {
                        Input::Text(kind) => (text_field(f.name, f.label, kind, listed.get(f.name), &listed.problems)),
                        Input::Choice(choices) => (select_field(f.name, f.label, choices, listed.get(f.name), &listed.problems)),
                    }
                }
                button type="submit" { "Search" }
            }
            (general_errors(&listed.problems, &names))
        }
    }

    /// Links to the neighbouring pages, keeping the filters.
    pub fn pager(&self, listed: &Listed) -> Markup {
        let page_no = listed.get("page").parse().unwrap_or(1);
        let count = listed.answer.body["count"].as_u64().unwrap_or(0);
        pager(self.path, &listed.query, page_no, self.page_size, count)
    }
}

impl Listed {
    /// The value of query parameter `name` (empty when absent).
    pub fn get(&self, name: &str) -> &str {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The rows of the page (none when the API refused).
    pub fn results(&self) -> &[Value] {
        self.answer.body["results"]
            .as_array()
            .map_or(&[], Vec::as_slice)
    }

    /// The page's status: the API's, when it refused.
    pub fn status(&self) -> u16 {
        if self.answer.ok() {
            200
        } else {
            self.answer.status.as_u16()
        }
    }
}

/// A labelled `<select>` with its errors beside it.
pub fn select_field(
    name: &str,
    label: &str,
    choices: &[(&str, &str)],
    current: &str,
    problems: &Problems,
) -> Markup {
    let errors = problems.of(name);
    let id = format!("f-{name}");
    let error_id = format!("{id}-error");
    html! {
        div.field {
            label for=(id) { (label) }
            select id=(id) name=(name)
                aria-invalid=[(!errors.is_empty()).then_some("true")]
                aria-describedby=[(!errors.is_empty()).then_some(&error_id)] {
                @for (value, text) in choices {
                    option value=(value) selected[*value == current] { (text) }
                }
            }
            @if !errors.is_empty() {
                span.field-error id=(error_id) { @for e in errors { (e) " " } }
            }
        }
    }
}
