//! `/admin/imports`: upload a CSV file of B2B users or Instore staffs (a multipart form, no script), follow its
//! import (the page reloads itself until it ends) and fetch the error report. The file is
//! streamed to the API's import endpoint as it arrives, never held whole in memory, so the
//! API's own limits, checks and messages apply.

use axum::body::{Body, Bytes};
use axum::extract::multipart::{Field, Multipart, MultipartRejection};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};

use super::Console;
use super::api::Problems;
use super::layout::{
    self, csrf, general_errors, page, page_refreshing, query_string, select_field, show,
};
use super::session::{CSRF_REFUSED, Form, Session};

/// The lists that can be imported: (name in the console's links, label, API endpoint).
const IMPORTS: &[(&str, &str, &str)] = &[
    ("users", "B2B users", "/api/v1/users/import/"),
    ("staffs", "Instore staffs", "/api/v1/staffs/import/"),
];
const MODES: &[(&str, &str)] = &[
    ("create", "Create (an existing key is a refused row)"),
    ("upsert", "Create or update (by the key)"),
];
const FORM_FIELDS: &[&str] = &["list", "mode", "dry_run", "file"];
const NOT_ALLOWED: &str = "You do not have permission to perform this action.";

fn endpoint(list: &str) -> Option<&'static str> {
    IMPORTS
        .iter()
        .find(|(n, _, _)| *n == list)
        .map(|(_, _, p)| *p)
}

pub async fn form(State(console): State<Console>, session: Session) -> Response {
    render(&console, &session, &Problems::default(), 200).await
}

async fn render(
    console: &Console,
    session: &Session,
    problems: &Problems,
    status: u16,
) -> Response {
    let access = session.access(console).await;
    if !access.superuser {
        return layout::refusal(403, NOT_ALLOWED);
    }
    let lists: Vec<(&str, &str)> = IMPORTS.iter().map(|(n, l, _)| (*n, *l)).collect();
    let body = html! {
        p { "A CSV file with a header row." }
        ul {
            li { strong { "B2B users" } " (the key is the email): " code { "email" } " (required), "
                code { "first_name" } ", " code { "last_name" } ", " code { "phone_number" } ", "
                code { "division" } " or " code { "division_erp_code" } ", " code { "is_active" } ", "
                code { "remote_id" } ", " code { "password" } " or " code { "password_hash" } "." }
            li { strong { "Instore staffs" } " (the key is the username or remote id): "
                code { "username" } " or " code { "remote_id" } " (at least one), "
                code { "first_name" } ", " code { "last_name" } ", " code { "email" } ", "
                code { "password" } " (new staffs), " code { "is_active" } ", " code { "is_staff" } ", "
                code { "retail_stores" } " and " code { "permission_groups" } " (ids separated by "
                code { "|" } ")." }
        }
        // The file comes last: the fields before it are read first, the CSRF token included.
        form method="post" action="/admin/imports" enctype="multipart/form-data" {
            (csrf(session))
            (general_errors(problems, FORM_FIELDS))
            (select_field("list", "List", &lists, "users", problems))
            (select_field("mode", "Mode", MODES, "create", problems))
            div.field {
                label { input #f-dry_run type="checkbox" name="dry_run" value="true"; " Dry run: check every row, write nothing" }
                @for e in problems.of("dry_run") { span.field-error { (e) } }
            }
            (file_field(problems))
            button type="submit" { "Upload and import" }
        }
    };
    layout::respond(status, page("Imports", Some((session, &access)), body))
}

fn file_field(problems: &Problems) -> Markup {
    let errors = problems.of("file");
    html! {
        div.field {
            label for="f-file" { "CSV file" }
            input #f-file type="file" name="file" accept=".csv,text/csv" required
                aria-invalid=[(!errors.is_empty()).then_some("true")]
                aria-describedby=[(!errors.is_empty()).then_some("f-file-error")];
            @if !errors.is_empty() {
                span.field-error #f-file-error { @for e in errors { (e) " " } }
            }
        }
    }
}

/// Reads the form's fields up to the file, checks the CSRF token, then streams the file to the
/// API (`POST …/import/?mode=&dry_run=`) and shows the import's progress page.
pub async fn upload(
    State(console): State<Console>,
    session: Session,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let Ok(mut multipart) = multipart else {
        return layout::refusal(400, "The upload is not a multipart form.");
    };
    let mut fields: Vec<(String, String)> = Vec::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return layout::refusal(400, &format!("The upload was cut off: {e}")),
        };
        let name = field.name().unwrap_or("").to_owned();
        if name == "file" {
            let form = Form(fields);
            if !form.csrf_matches(&session.csrf) {
                return layout::refusal(403, CSRF_REFUSED);
            }
            return forward(&console, &session, &form, field).await;
        }
        if fields.len() > 16 {
            break;
        }
        match field.text().await {
            Ok(text) if text.len() <= 4096 => fields.push((name, text)),
            _ => return layout::refusal(400, "A form field is too large."),
        }
    }
    let form = Form(fields);
    if !form.csrf_matches(&session.csrf) {
        return layout::refusal(403, CSRF_REFUSED);
    }
    let mut problems = Problems::default();
    problems.add("file", "No file was submitted.");
    render(&console, &session, &problems, 400).await
}

async fn forward(
    console: &Console,
    session: &Session,
    form: &Form,
    mut file: Field<'_>,
) -> Response {
    let list = form.get("list").unwrap_or("users");
    let Some(path) = endpoint(list) else {
        let mut problems = Problems::default();
        problems.add("list", format!("\"{list}\" is not a valid choice."));
        return render(console, session, &problems, 400).await;
    };
    let options = query_string(&[
        ("mode", form.get("mode").unwrap_or("create")),
        ("dry_run", form.get("dry_run").unwrap_or("false")),
    ]);
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let chunks = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    });
    let feed = async move {
        loop {
            let chunk = match file.chunk().await {
                Ok(Some(chunk)) => Ok(chunk),
                Ok(None) => break,
                Err(e) => Err(std::io::Error::other(e.to_string())),
            };
            let cut = chunk.is_err();
            // The API stops reading when it refuses the file: stop sending then.
            if sender.send(chunk).await.is_err() || cut {
                break;
            }
        }
    };
    let api_path = format!("{path}?{options}");
    let (answer, ()) = tokio::join!(
        session.upload(console, &api_path, "text/csv", Body::from_stream(chunks)),
        feed
    );
    if let Some(key) = answer.body["cache_key"].as_str().filter(|_| answer.ok()) {
        return Redirect::to(&format!("/admin/imports/{list}/{key}")).into_response();
    }
    // The API's words: about mode or dry run beside them, anything else beside the file.
    let mut problems = Problems::default();
    let given = answer.problems();
    for (field, messages) in &given.0 {
        let shown = if ["mode", "dry_run"].contains(&field.as_str()) {
            field.as_str()
        } else {
            "file"
        };
        for message in messages {
            problems.add(shown, message.clone());
        }
    }
    let status = if answer.status.is_client_error() {
        answer.status.as_u16()
    } else {
        502
    };
    render(console, session, &problems, status).await
}

/// An import's progress: status, rows, what was created, updated and refused, the error report;
/// the page reloads itself every second until the import has ended.
pub async fn progress(
    State(console): State<Console>,
    session: Session,
    Path((list, key)): Path<(String, String)>,
) -> Response {
    let access = session.access(&console).await;
    let Some(path) = endpoint(&list) else {
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
    let progress = &s["progress"];
    let done = progress["rows_done"].as_i64().unwrap_or(0);
    let total = progress["rows_total"].as_i64();
    let finished = matches!(status, "completed" | "failed");
    let empty = Vec::new();
    let warnings = s["warnings"].as_array().unwrap_or(&empty);
    let body = html! {
        @if s["dry_run"].as_bool() == Some(true) {
            p.notice { "Dry run: every row is checked, nothing is written." }
        }
        p role="status" { "Status: " strong #import-status { (status) } }
        @if let Some(total) = total {
            label for="import-progress" { (done) " of " (total) " rows" }
            progress #import-progress value=(done) max=(total.max(1)) {}
        }
        dl.detail {
            dt { "Created" } dd #import-created { (show(&progress["created"])) }
            dt { "Updated" } dd #import-updated { (show(&progress["updated"])) }
            dt { "Refused rows" } dd #import-failed { (show(&progress["failed"])) }
        }
        @if !warnings.is_empty() {
            p { "Columns no field reads (ignored): " @for w in warnings { code { (show(w)) } " " } }
        }
        @if let Some(reason) = s["reason"].as_str() { p.error role="alert" { (reason) } }
        @if let Some(url) = s["errors_url"].as_str() {
            p { a #error-report href=(url) download { "Download the error report (row, field, message)" } }
        }
        @if !finished { p { "This page refreshes until the import has ended." } }
        p { a href="/admin/imports" { "Import another file" } }
    };
    let label = IMPORTS
        .iter()
        .find(|(n, _, _)| *n == list)
        .map_or("", |(_, l, _)| *l);
    let title = format!("Import of {label}");
    let nav = Some((&session, &access));
    let markup = if finished {
        page(&title, nav, body)
    } else {
        page_refreshing(&title, nav, body, 1)
    };
    layout::respond(200, markup)
}
