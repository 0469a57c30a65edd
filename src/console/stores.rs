//! Retail stores: search with the API's filters, creation, a store's detail and its edit form
//! (`PATCH /api/v1/retail_stores/{id}/`), shown only to callers whose groups grant them.

use axum::extract::{Path, RawQuery, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde_json::{Map, Value, json};

use super::Console;
use super::api::{Answer, Problems};
use super::layout::{
    self, ACTIVE_CHOICES, Input, ListFilter, ListPage, csrf, general_errors, page, select_field,
    show, text_field, value,
};
use super::session::{Form, Posted, Session};
use super::users::active_badge;

const LIST: ListPage = ListPage {
    path: "/admin/stores",
    api: "/api/v1/retail_stores/",
    filters: &[
        ListFilter::search("name", "Name contains"),
        ListFilter::search("remote_id", "Remote id"),
        ListFilter {
            name: "city",
            label: "City id",
            input: Input::Text("number"),
        },
        ListFilter {
            name: "township",
            label: "Township id",
            input: Input::Text("number"),
        },
        ListFilter {
            name: "is_active",
            label: "Active",
            input: Input::Choice(ACTIVE_CHOICES),
        },
    ],
    page_size: 25,
};

/// The store's own text fields: (API field, label, input type).
const STORE_FIELDS: &[(&str, &str, &str)] = &[
    ("name", "Name", "text"),
    ("email", "Email", "email"),
    ("remote_id", "Remote id", "text"),
    ("omnitron_id", "Omnitron id", "number"),
];
/// The address's fields, as `address_…` form fields: (API field, label, input type).
const ADDRESS_FIELDS: &[(&str, &str, &str)] = &[
    ("line", "Address", "text"),
    ("postcode", "Postcode", "text"),
    ("phone_number", "Phone number", "text"),
    ("township", "Township id", "number"),
];
const YES_NO: &[(&str, &str)] = &[("true", "Yes"), ("false", "No")];
const NOT_ALLOWED: &str = "You do not have permission to perform this action.";

pub async fn list(
    State(console): State<Console>,
    session: Session,
    RawQuery(raw): RawQuery,
) -> Response {
    let access = session.access(&console).await;
    if !access.stores {
        return layout::refusal(403, NOT_ALLOWED);
    }
    let listed = LIST.fetch(&console, &session, raw.as_deref(), |_| {}).await;
    let body = html! {
        @if access.store_create { p { a href="/admin/stores/new" { "Create a retail store" } } }
        (LIST.filter_form(&listed))
        @if listed.answer.ok() {
            table {
                thead { tr { th { "Name" } th { "City" } th { "Township" } th { "Remote id" } th { "Active" } } }
                tbody {
                    @for s in listed.results() {
                        tr {
                            td { a href=(format!("/admin/stores/{}", s["id"])) { (show(&s["name"])) } }
                            td { (show(&s["address"]["township"]["city"]["name"])) }
                            td { (show(&s["address"]["township"]["name"])) }
                            td { (show(&s["remote_id"])) }
                            td { (active_badge(&s["is_active"])) }
                        }
                    }
                }
            }
            (LIST.pager(&listed))
        }
    };
    layout::respond(
        listed.status(),
        page("Retail stores", Some((&session, &access)), body),
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

/// The form's values: the store as the API has it, flattened (`address_line`, …), then what
/// was sent (after a refusal).
fn form_values(store: &Value, sent: Option<&Form>) -> Map<String, Value> {
    let mut values = Map::new();
    for (name, _, _) in STORE_FIELDS {
        values.insert((*name).into(), json!(value(&store[*name])));
    }
    for (name, _, _) in ADDRESS_FIELDS {
        let shown = match *name {
            "township" => value(&store["address"]["township"]["id"]),
            _ => value(&store["address"][*name]),
        };
        values.insert(format!("address_{name}"), json!(shown));
    }
    for flag in ["is_active", "fast_delivery"] {
        values.insert(flag.into(), json!(value(&store[flag])));
    }
    if let Some(form) = sent {
        for (k, v) in &form.0 {
            if values.contains_key(k) {
                values.insert(k.clone(), json!(v));
            }
        }
    }
    values
}

async fn render(
    console: &Console,
    session: &Session,
    id: i64,
    sent: Option<&Form>,
    problems: Problems,
    saved: bool,
) -> Response {
    let access = session.access(console).await;
    let answer = session
        .get(console, &format!("/api/v1/retail_stores/{id}/"))
        .await;
    if !answer.ok() {
        return layout::refusal(
            answer.status.as_u16(),
            &answer.problems().general(&[]).join(" "),
        );
    }
    let store = &answer.body;
    let values = form_values(store, sent);
    let body = html! {
        @if saved { (layout::notice("Saved.")) }
        dl.detail {
            dt { "Status" } dd { (active_badge(&store["is_active"])) }
            dt { "City" } dd { (show(&store["address"]["township"]["city"]["name"])) }
            dt { "Township" } dd { (show(&store["address"]["township"]["name"])) }
            dt { "Address" } dd { (show(&store["address"]["line"])) }
            dt { "Modified" } dd { (show(&store["modified_date"])) }
        }
        p { a href=(format!("/admin/staffs?retail_stores={id}")) { "Staffs of this store" } }
        @if access.store_update {
            h2 { "Edit" }
            (store_form(session, &format!("/admin/stores/{id}"), &values, &problems, "Save"))
        }
    };
    let status = if problems.is_empty() { 200 } else { 400 };
    let title = format!("Retail store {}", show(&store["name"]));
    layout::respond(status, page(&title, Some((session, &access)), body))
}

/// The store's form: its fields, its address, its flags; each error beside its field.
fn store_form(
    session: &Session,
    action: &str,
    values: &Map<String, Value>,
    problems: &Problems,
    button: &str,
) -> Markup {
    let current = |name: &str| values.get(name).map(value).unwrap_or_default();
    let mut known: Vec<String> = STORE_FIELDS.iter().map(|(f, _, _)| f.to_string()).collect();
    known.extend(
        ADDRESS_FIELDS
            .iter()
            .map(|(f, _, _)| format!("address_{f}")),
    );
    known.extend(["is_active".into(), "fast_delivery".into()]);
    let known: Vec<&str> = known.iter().map(String::as_str).collect();
    html! {
        form method="post" action=(action) {
            (csrf(session))
            (general_errors(problems, &known))
            @for (name, label, kind) in STORE_FIELDS {
                (text_field(name, label, kind, &current(name), problems))
            }
            fieldset {
                legend { "Address" }
                @for (name, label, kind) in ADDRESS_FIELDS {
                    @let field = format!("address_{name}");
                    (text_field(&field, label, kind, &current(&field), problems))
                }
            }
            (select_field("is_active", "Active", YES_NO, &current("is_active"), problems))
            (select_field("fast_delivery", "Fast delivery", YES_NO, &current("fast_delivery"), problems))
            button type="submit" { (button) }
        }
    }
}

/// The creation form, empty (an open store without fast delivery) or as it was sent.
async fn creation(
    console: &Console,
    session: &Session,
    sent: Option<&Form>,
    problems: &Problems,
    status: u16,
) -> Response {
    let access = session.access(console).await;
    if !access.store_create {
        return layout::refusal(403, NOT_ALLOWED);
    }
    let fresh = json!({ "is_active": true, "fast_delivery": false });
    let values = form_values(&fresh, sent);
    let body = store_form(session, "/admin/stores/new", &values, problems, "Create");
    layout::respond(
        status,
        page("Create a retail store", Some((session, &access)), body),
    )
}

pub async fn new_form(State(console): State<Console>, session: Session) -> Response {
    creation(&console, &session, None, &Problems::default(), 200).await
}

/// Creates a store with `POST /api/v1/retail_stores/`.
pub async fn create(State(console): State<Console>, posted: Posted) -> Response {
    let answer = posted
        .session
        .send(
            &console,
            Method::POST,
            "/api/v1/retail_stores/",
            &body_of(&posted.form),
        )
        .await;
    if answer.ok() {
        let id = answer.body["id"].as_i64().unwrap_or_default();
        return Redirect::to(&format!("/admin/stores/{id}?saved=1")).into_response();
    }
    if answer.status != StatusCode::BAD_REQUEST {
        return not_the_form(&answer);
    }
    let problems = address_problems(answer.problems());
    creation(
        &console,
        &posted.session,
        Some(&posted.form),
        &problems,
        400,
    )
    .await
}

/// A refusal that is not about the form's values (no permission, gone): the API's words alone.
fn not_the_form(answer: &Answer) -> Response {
    let status = if answer.status.is_client_error() {
        answer.status.as_u16()
    } else {
        502
    };
    layout::refusal(status, &answer.problems().general(&[]).join(" "))
}

/// A text field as the API takes it: blank optional fields are null, numbers are numbers
/// (anything else is sent as typed, for the API to refuse in its words).
fn field_value(name: &str, text: &str) -> Value {
    let text = text.trim();
    match name {
        "remote_id" | "omnitron_id" | "postcode" if text.is_empty() => Value::Null,
        "omnitron_id" | "township" => text.parse::<i64>().map_or(json!(text), Value::from),
        "is_active" | "fast_delivery" => text.parse::<bool>().map_or(json!(text), Value::from),
        _ => json!(text),
    }
}

/// The API body of a posted store form.
fn body_of(form: &Form) -> Value {
    let mut body = Map::new();
    for name in STORE_FIELDS
        .iter()
        .map(|(f, _, _)| *f)
        .chain(["is_active", "fast_delivery"])
    {
        if let Some(text) = form.get(name) {
            body.insert(name.into(), field_value(name, text));
        }
    }
    let mut address = Map::new();
    for (name, _, _) in ADDRESS_FIELDS {
        if let Some(text) = form.get(&format!("address_{name}")) {
            address.insert((*name).into(), field_value(name, text));
        }
    }
    body.insert("address".into(), Value::Object(address));
    Value::Object(body)
}

/// The API names an address field at the start of its message (`address: ["township: …"]`):
/// such a message goes beside that field (`address_township`), the others stay general.
fn address_problems(given: Problems) -> Problems {
    let mut problems = Problems::default();
    for (field, messages) in given.0 {
        for message in messages {
            let beside = (field == "address")
                .then(|| message.split_once(": "))
                .flatten()
                .filter(|(name, _)| ADDRESS_FIELDS.iter().any(|(f, _, _)| f == name));
            match beside {
                Some((name, text)) => problems.add(&format!("address_{name}"), text),
                None => problems.add(&field, message),
            }
        }
    }
    problems
}

/// Saves the edit form with `PATCH /api/v1/retail_stores/{id}/`; the address's errors come
/// back beside its fields.
pub async fn update(
    State(console): State<Console>,
    Path(id): Path<i64>,
    posted: Posted,
) -> Response {
    let answer = posted
        .session
        .send(
            &console,
            Method::PATCH,
            &format!("/api/v1/retail_stores/{id}/"),
            &body_of(&posted.form),
        )
        .await;
    if answer.ok() {
        return Redirect::to(&format!("/admin/stores/{id}?saved=1")).into_response();
    }
    if answer.status != StatusCode::BAD_REQUEST {
        return not_the_form(&answer);
    }
    let problems = address_problems(answer.problems());
    render(
        &console,
        &posted.session,
        id,
        Some(&posted.form),
        problems,
        false,
    )
    .await
}
