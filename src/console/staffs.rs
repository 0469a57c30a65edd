//! Instore staffs: search, create with stores and groups (each list searchable), edit,
//! deactivate, change password, permission info. Every button is
//! shown only when the caller's permission groups grant its endpoint.

use axum::extract::{Path, RawQuery, State};
use axum::http::Method;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde_json::{Map, Value, json};

use super::Console;
use super::api::Problems;
use super::layout::{
    self, ListFilter, ListPage, csrf, general_errors, page, query_string, show, text_field, value,
};
use super::session::{Form, Posted, Session};
use super::users::active_badge;

const LIST: ListPage = ListPage {
    path: "/admin/staffs",
    api: "/api/v1/staffs/",
    filters: &[
        ListFilter::search("username", "Username contains"),
        ListFilter::search("email", "Email contains"),
        ListFilter::search("first_name", "First name contains"),
        ListFilter::search("last_name", "Last name contains"),
        ListFilter::search("retail_stores", "Store id"),
        ListFilter::search("permission_groups", "Group id"),
    ],
    page_size: 25,
};
/// Stores and groups offered as checkboxes: the first of each list (no unbounded reads).
const CHOICES: u64 = 200;
const TEXT_FIELDS: &[(&str, &str, &str)] = &[
    ("first_name", "First name", "text"),
    ("last_name", "Last name", "text"),
    ("email", "Email", "email"),
    ("username", "Username", "text"),
    ("remote_id", "Remote id", "text"),
];
const NOT_ALLOWED: &str = "You do not have permission to perform this action.";
/// The pickers' search boxes, and the button that narrows them instead of saving.
const STORE_SEARCH: &str = "store_search";
const GROUP_SEARCH: &str = "group_search";
const FIND: &str = "find";

pub async fn list(
    State(console): State<Console>,
    session: Session,
    RawQuery(raw): RawQuery,
) -> Response {
    let access = session.access(&console).await;
    if !access.staffs {
        return layout::refusal(403, NOT_ALLOWED);
    }
    let listed = LIST.fetch(&console, &session, raw.as_deref(), |_| {}).await;
    let body = html! {
        @if access.staff_create { p { a href="/admin/staffs/new" { "Create a staff" } } }
        (LIST.filter_form(&listed))
        @if listed.answer.ok() {
            table {
                thead { tr { th { "Username" } th { "Name" } th { "Email" } th { "Stores" } th { "Active" } } }
                tbody {
                    @for s in listed.results() {
                        tr {
                            td { a href=(format!("/admin/staffs/{}", s["id"])) { (show(&s["username"])) } }
                            td { (show(&s["first_name"])) " " (show(&s["last_name"])) }
                            td { (show(&s["email"])) }
                            td { @for st in s["retail_stores"].as_array().map_or(&[][..], Vec::as_slice) { (show(&st["name"])) " " } }
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
        page("Instore staffs", Some((&session, &access)), body),
    )
}

/// (id, label) of the first stores or groups whose name contains `search` (all when empty),
/// for the checkboxes.
async fn choices(
    console: &Console,
    session: &Session,
    path: &str,
    search: &str,
) -> Vec<(i64, String)> {
    let mut query = vec![("limit", CHOICES.to_string())];
    if !search.trim().is_empty() {
        query.push(("name", search.trim().to_owned()));
    }
    let answer = session
        .get(console, &format!("{path}?{}", query_string(&query)))
        .await;
    answer.body["results"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter_map(|r| Some((r["id"].as_i64()?, show(&r["name"]))))
                .collect()
        })
        .unwrap_or_default()
}

/// The staff form: text fields, password (on creation), stores and groups.
async fn staff_form(
    console: &Console,
    session: &Session,
    action: &str,
    values: &Map<String, Value>,
    problems: &Problems,
    creating: bool,
) -> Markup {
    let search = |name: &str| values.get(name).map(value).unwrap_or_default();
    let (store_search, group_search) = (search(STORE_SEARCH), search(GROUP_SEARCH));
    let mut stores = choices(console, session, "/api/v1/retail_stores/", &store_search).await;
    let mut groups = choices(
        console,
        session,
        "/api/v1/permission_groups/",
        &group_search,
    )
    .await;
    if let Some(own) = values.get("retail_store_objects").and_then(Value::as_array) {
        for s in own {
            if let Some(id) = s["id"]
                .as_i64()
                .filter(|id| !stores.iter().any(|(i, _)| i == id))
            {
                stores.push((id, show(&s["name"])));
            }
        }
    }
    // What is picked stays on the form (and picked) whatever the search shows.
    keep_picked(&mut stores, values, "retail_stores", "Store");
    keep_picked(&mut groups, values, "permission_groups", "Group");
    let picked = |field: &str, id: i64| picked_ids(values, field).contains(&id);
    let mut known: Vec<&str> = TEXT_FIELDS.iter().map(|(f, _, _)| *f).collect();
    known.extend(["password", "retail_stores", "permission_groups"]);
    let errors = |field: &str| {
        html! {
            @for e in problems.of(field) { p.field-error { (e) } }
        }
    };
    html! {
        form method="post" action=(action) {
            (csrf(session))
            (general_errors(problems, &known))
            @for (name, label, kind) in TEXT_FIELDS {
                (text_field(name, label, kind, &values.get(*name).map(value).unwrap_or_default(), problems))
            }
            @if creating { (text_field("password", "Password", "password", "", problems)) }
            // The form's first button, so that Enter in any field saves it.
            button.hidden-default type="submit" tabindex="-1" aria-hidden="true" { "Save" }
            fieldset {
                legend { "Retail stores" }
                (errors("retail_stores"))
                (finder(STORE_SEARCH, "Find stores by name", &store_search, "stores"))
                @for (id, name) in &stores {
                    div { label { input type="checkbox" name="retail_stores" value=(id) checked[picked("retail_stores", *id)]; " " (name) } }
                }
                @if stores.is_empty() { p { "No store matches." } }
            }
            fieldset {
                legend { "Permission groups" }
                (errors("permission_groups"))
                (finder(GROUP_SEARCH, "Find groups by name", &group_search, "groups"))
                @for (id, name) in &groups {
                    div { label { input type="checkbox" name="permission_groups" value=(id) checked[picked("permission_groups", *id)]; " " (name) } }
                }
                @if groups.is_empty() { p { "No group matches." } }
            }
            button.save type="submit" { @if creating { "Create" } @else { "Save" } }
        }
    }
}

/// The search box of a picker; its button shows the form again with the lists narrowed,
/// everything typed and picked kept, and nothing saved.
fn finder(name: &str, label: &str, current: &str, what: &str) -> Markup {
    let id = format!("f-{name}");
    html! {
        div.finder {
            label for=(id) { (label) }
            input type="search" id=(id) name=(name) value=(current);
            button.secondary type="submit" name=(FIND) value=(what) formnovalidate { "Find" }
        }
    }
}

/// The ids posted (or held) in `field`.
fn picked_ids(values: &Map<String, Value>, field: &str) -> Vec<i64> {
    values
        .get(field)
        .and_then(Value::as_array)
        .map(|ids| ids.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default()
}

/// Adds the picked ids a narrowed list does not show, labelled by id.
fn keep_picked(
    choices: &mut Vec<(i64, String)>,
    values: &Map<String, Value>,
    field: &str,
    what: &str,
) {
    for id in picked_ids(values, field) {
        if !choices.iter().any(|(i, _)| *i == id) {
            choices.push((id, format!("{what} #{id}")));
        }
    }
}

/// The form as it was posted, with its searches, to show again.
fn shown_again(form: &Form, body: &Map<String, Value>) -> Map<String, Value> {
    let mut shown = body.clone();
    for name in [STORE_SEARCH, GROUP_SEARCH] {
        shown.insert(name.into(), json!(form.get(name).unwrap_or("")));
    }
    shown
}

/// The API body of a posted staff form.
fn body_of(form: &Form, creating: bool) -> Map<String, Value> {
    let mut body = Map::new();
    for (name, _, _) in TEXT_FIELDS {
        let text = form.get(name).unwrap_or("").trim();
        let optional = ["username", "remote_id"].contains(name);
        let v = if optional && text.is_empty() {
            Value::Null
        } else {
            json!(text)
        };
        body.insert((*name).into(), v);
    }
    if creating {
        body.insert("password".into(), json!(form.get("password").unwrap_or("")));
    }
    for list in ["retail_stores", "permission_groups"] {
        let ids: Vec<Value> = form
            .all(list)
            .iter()
            .filter_map(|v| v.parse::<i64>().ok())
            .map(Value::from)
            .collect();
        body.insert(list.into(), Value::Array(ids));
    }
    body
}

pub async fn new_form(State(console): State<Console>, session: Session) -> Response {
    let access = session.access(&console).await;
    if !access.staff_create {
        return layout::refusal(403, NOT_ALLOWED);
    }
    let form = staff_form(
        &console,
        &session,
        "/admin/staffs/new",
        &Map::new(),
        &Problems::default(),
        true,
    )
    .await;
    layout::respond(200, page("Create a staff", Some((&session, &access)), form))
}

/// Creates a staff with `POST /api/v1/staffs/`.
pub async fn create(State(console): State<Console>, posted: Posted) -> Response {
    let body = body_of(&posted.form, true);
    let session = &posted.session;
    if posted.form.get(FIND).is_some() {
        let access = session.access(&console).await;
        if !access.staff_create {
            return layout::refusal(403, NOT_ALLOWED);
        }
        let shown = shown_again(&posted.form, &body);
        let form = staff_form(
            &console,
            session,
            "/admin/staffs/new",
            &shown,
            &Problems::default(),
            true,
        )
        .await;
        return layout::respond(200, page("Create a staff", Some((session, &access)), form));
    }
    let answer = session
        .send(
            &console,
            Method::POST,
            "/api/v1/staffs/",
            &Value::Object(body.clone()),
        )
        .await;
    if answer.ok() {
        let id = answer.body["id"].as_i64().unwrap_or_default();
        return Redirect::to(&format!("/admin/staffs/{id}?saved=1")).into_response();
    }
    let access = session.access(&console).await;
    let form = staff_form(
        &console,
        session,
        "/admin/staffs/new",
        &shown_again(&posted.form, &body),
        &answer.problems(),
        true,
    )
    .await;
    layout::respond(
        answer.status.as_u16(),
        page("Create a staff", Some((session, &access)), form),
    )
}

pub async fn detail(
    State(console): State<Console>,
    session: Session,
    Path(id): Path<i64>,
    RawQuery(raw): RawQuery,
) -> Response {
    let notice = match raw.as_deref() {
        Some(q) if q.contains("password") => Some("Password changed."),
        Some(q) if q.contains("saved") => Some("Saved."),
        _ => None,
    };
    render(&console, &session, id, None, Problems::default(), notice).await
}

/// The permissions the staff holds through its groups, as the API lists them.
fn permission_info(held: &Value) -> Markup {
    let rows = held.as_array().map_or(&[][..], Vec::as_slice);
    html! {
        h2 { "Permissions" }
        @if rows.is_empty() {
            p { "No permission: the staff's groups grant no route." }
        } @else {
            table #permissions {
                thead { tr { th { "Route" } th { "Method" } th { "Name" } } }
                tbody {
                    @for p in rows {
                        tr { td { (show(&p["path"])) } td { (show(&p["method"])) } td { (show(&p["name"])) } }
                    }
                }
            }
        }
    }
}

async fn render(
    console: &Console,
    session: &Session,
    id: i64,
    sent: Option<Map<String, Value>>,
    problems: Problems,
    notice: Option<&str>,
) -> Response {
    let (problems, password_problems) = if problems.0.contains_key("new_password") {
        (Problems::default(), problems)
    } else {
        (problems, Problems::default())
    };
    let access = session.access(console).await;
    let answer = session.get(console, &format!("/api/v1/staffs/{id}/")).await;
    if !answer.ok() {
        return layout::refusal(
            answer.status.as_u16(),
            &answer.problems().general(&[]).join(" "),
        );
    }
    let staff = &answer.body;
    let mut values = staff.as_object().cloned().unwrap_or_default();
    let store_ids: Vec<Value> = staff["retail_stores"]
        .as_array()
        .map(|a| a.iter().map(|s| s["id"].clone()).collect())
        .unwrap_or_default();
    values.insert(
        "retail_store_objects".into(),
        staff["retail_stores"].clone(),
    );
    values.insert("retail_stores".into(), Value::Array(store_ids));
    if let Some(sent) = sent {
        values.extend(sent);
    }
    let permissions = if access.staff_permissions {
        let held = session
            .get(
                console,
                &format!("/api/v1/staffs/{id}/list_staff_permission_info/"),
            )
            .await;
        held.ok().then_some(held.body)
    } else {
        None
    };
    let form = if access.staff_update {
        staff_form(
            console,
            session,
            &format!("/admin/staffs/{id}"),
            &values,
            &problems,
            false,
        )
        .await
    } else {
        html! {}
    };
    let body = html! {
        @if let Some(notice) = notice { (layout::notice(notice)) }
        dl.detail {
            dt { "Status" } dd { (active_badge(&staff["is_active"])) }
            dt { "Superuser" } dd { (show(&staff["is_superuser"])) }
            dt { "Current store" } dd { (show(&staff["current_store"]["name"])) }
            dt { "Last login" } dd { (show(&staff["last_login"])) }
        }
        @if access.staff_update { h2 { "Edit" } }
        (form)
        @if let Some(held) = &permissions { (permission_info(held)) }
        @if access.staff_password {
            h2 #password-title { "Change password" }
            form method="post" action=(format!("/admin/staffs/{id}/password")) aria-labelledby="password-title" {
                (csrf(session))
                (general_errors(&password_problems, &["new_password"]))
                (text_field("new_password", "New password", "password", "", &password_problems))
                p { "The staff is signed out everywhere once the password is changed." }
                button type="submit" { "Change password" }
            }
        }
        @if access.staff_deactivate && staff["is_active"].as_bool() == Some(true) {
            div.actions {
                form method="post" action=(format!("/admin/staffs/{id}/deactivate")) {
                    (csrf(session)) button.danger type="submit" { "Deactivate" }
                }
            }
        }
    };
    let status = if problems.is_empty() && password_problems.is_empty() {
        200
    } else {
        400
    };
    let title = format!("Instore staff {}", show(&staff["username"]));
    layout::respond(status, page(&title, Some((session, &access)), body))
}

/// Saves the edit form with `PATCH /api/v1/staffs/{id}/`.
pub async fn update(
    State(console): State<Console>,
    Path(id): Path<i64>,
    posted: Posted,
) -> Response {
    let body = body_of(&posted.form, false);
    let shown = shown_again(&posted.form, &body);
    if posted.form.get(FIND).is_some() {
        return render(
            &console,
            &posted.session,
            id,
            Some(shown),
            Problems::default(),
            None,
        )
        .await;
    }
    let path = format!("/api/v1/staffs/{id}/");
    let answer = posted
        .session
        .send(&console, Method::PATCH, &path, &Value::Object(body.clone()))
        .await;
    if answer.ok() {
        return Redirect::to(&format!("/admin/staffs/{id}?saved=1")).into_response();
    }
    render(
        &console,
        &posted.session,
        id,
        Some(shown),
        answer.problems(),
        None,
    )
    .await
}

/// Deactivates with `DELETE /api/v1/staffs/{id}/`.
pub async fn deactivate(
    State(console): State<Console>,
    Path(id): Path<i64>,
    posted: Posted,
) -> Response {
    let path = format!("/api/v1/staffs/{id}/");
    let answer = posted
        .session
        .send(&console, Method::DELETE, &path, &json!({}))
        .await;
    if answer.ok() {
        return Redirect::to(&format!("/admin/staffs/{id}?saved=1")).into_response();
    }
    render(&console, &posted.session, id, None, answer.problems(), None).await
}

/// Sets a new password with `POST /api/v1/staffs/change_password/`; the password policy's
/// messages come back beside the field.
pub async fn change_password(
    State(console): State<Console>,
    Path(id): Path<i64>,
    posted: Posted,
) -> Response {
    let body =
        json!({ "staff": id, "new_password": posted.form.get("new_password").unwrap_or("") });
    let answer = posted
        .session
        .send(
            &console,
            Method::POST,
            "/api/v1/staffs/change_password/",
            &body,
        )
        .await;
    if answer.ok() {
        return Redirect::to(&format!("/admin/staffs/{id}?password=1")).into_response();
    }
    let mut problems = answer.problems();
    if !problems.0.contains_key("new_password") && !problems.is_empty() {
        // Every refusal of this form is shown beside it, not beside the edit form.
        let general = problems.general(&[]);
        problems = Problems::default();
        for message in general {
            problems.add("new_password", message);
        }
    }
    render(&console, &posted.session, id, None, problems, None).await
}
