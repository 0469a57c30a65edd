//! Sign-in and sign-out. B2B accounts sign in with `POST /api/v1/auth/login/`, Instore staffs
//! with `POST /api/v1/staffs/login/` at a store of theirs; both through the API itself, so its
//! checks (and login throttling) apply. The token the API issues becomes the session.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde_json::{Value, json};

use super::Console;
use super::api::{Client, Problems};
use super::layout::{self, general_errors, text_field};
use super::session::{
    CSRF_FIELD, CSRF_REFUSED, Form, LOGIN_COOKIE, Posted, SESSION_COOKIE, cookie, csrf_token,
    set_cookie,
};
use crate::auth::{self, Caller, token};

/// What a B2B account that is neither staff nor superuser is told.
pub const NO_CONSOLE: &str = "This account may not use the console.";

const B2B_FIELDS: &[&str] = &["email", "password"];
const STAFF_FIELDS: &[&str] = &["username", "staff_password", "retail_store"];

/// The sign-in page (or the overview, when already signed in).
pub async fn form(State(console): State<Console>, headers: HeaderMap) -> Response {
    if let Some(token) = cookie(&headers, SESSION_COOKIE)
        && auth::authenticate(&console.app, token).await.is_ok()
    {
        return Redirect::to("/admin/").into_response();
    }
    show(
        &console,
        &headers,
        "",
        "",
        Problems::default(),
        Problems::default(),
        200,
    )
}

fn show(
    console: &Console,
    headers: &HeaderMap,
    email: &str,
    username: &str,
    b2b: Problems,
    staff: Problems,
    status: u16,
) -> Response {
    let seed = match cookie(headers, LOGIN_COOKIE) {
        Some(seed) => seed.to_owned(),
        None => token::generate(),
    };
    let csrf = csrf_token(console, "login", &seed);
    let hidden = html! { input type="hidden" name=(CSRF_FIELD) value=(csrf); };
    let body: Markup = html! {
        div.cards {
            section.card aria-labelledby="b2b-title" {
                h2 #b2b-title { "B2B account" }
                form method="post" action="/admin/login" {
                    (hidden)
                    input type="hidden" name="kind" value="b2b";
                    (general_errors(&b2b, B2B_FIELDS))
                    (text_field("email", "Email", "email", email, &b2b))
                    (text_field("password", "Password", "password", "", &b2b))
                    button type="submit" { "Sign in" }
                }
            }
            section.card aria-labelledby="staff-title" {
                h2 #staff-title { "Instore staff" }
                form method="post" action="/admin/login" {
                    (hidden)
                    input type="hidden" name="kind" value="staff";
                    (general_errors(&staff, STAFF_FIELDS))
                    (text_field("username", "Username or email", "text", username, &staff))
                    (text_field("staff_password", "Password", "password", "", &staff))
                    (text_field("retail_store", "Store id (one of your stores)", "number", "", &staff))
                    button type="submit" { "Sign in at this store" }
                }
            }
        }
    };
    let mut response = layout::respond(status, layout::page("Sign in", None, body));
    if let Ok(value) = set_cookie(console, headers, LOGIN_COOKIE, &seed).parse() {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// Signs in through the API and starts a session.
pub async fn submit(State(console): State<Console>, req: Request) -> Response {
    let client = Client::of(req.headers(), req.extensions());
    let headers = client.headers.clone();
    let form = match Form::read(req).await {
        Ok(form) => form,
        Err(refused) => return refused,
    };
    let expected = cookie(&headers, LOGIN_COOKIE).map(|seed| csrf_token(&console, "login", seed));
    if !expected.is_some_and(|e| form.csrf_matches(&e)) {
        return layout::refusal(403, CSRF_REFUSED);
    }
    let text = |name: &str| form.get(name).unwrap_or("").to_owned();
    let staff = form.get("kind") == Some("staff");
    let (path, body) = if staff {
        let login = text("username");
        let key = if login.contains('@') {
            "email"
        } else {
            "username"
        };
        let store = text("retail_store");
        let store: Value = store.trim().parse::<i64>().map_or(Value::Null, Value::from);
        (
            "/api/v1/staffs/login/",
            json!({ key: login, "password": text("staff_password"), "retail_store": store }),
        )
    } else {
        (
            "/api/v1/auth/login/",
            json!({ "email": text("email"), "password": text("password") }),
        )
    };
    let answer = console
        .call(Method::POST, path, None, &client, Some(&body))
        .await;
    let failed = |problems: Problems| {
        let (b2b, staffs) = if staff {
            (Problems::default(), problems)
        } else {
            (problems, Problems::default())
        };
        let status = if answer.status.is_client_error() {
            answer.status.as_u16()
        } else {
            400
        };
        show(
            &console,
            &headers,
            &text("email"),
            &text("username"),
            b2b,
            staffs,
            status,
        )
    };
    if !answer.ok() {
        let mut problems = answer.problems();
        if let Some(messages) = problems.0.remove("password") {
            let field = if staff { "staff_password" } else { "password" };
            problems.0.insert(field.into(), messages);
        }
        return failed(problems);
    }
    let Some(issued) = answer.body.get("token").and_then(Value::as_str) else {
        return layout::refusal(502, "The API issued no token.");
    };
    let caller = auth::authenticate(&console.app, issued).await;
    if matches!(&caller, Ok(Caller::User(u)) if !u.is_staff && !u.is_superuser) || caller.is_err() {
        let _ = token::revoke(&console.app.db, issued).await;
        let mut problems = Problems::default();
        problems.add("non_field_errors", NO_CONSOLE);
        return failed(problems);
    }
    let mut response = Redirect::to("/admin/").into_response();
    for (name, value) in [(SESSION_COOKIE, issued), (LOGIN_COOKIE, "")] {
        if let Ok(v) = set_cookie(&console, &headers, name, value).parse() {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

/// Ends the session: the API revokes the token, the cookie is cleared.
pub async fn logout(State(console): State<Console>, posted: Posted) -> Response {
    let session = posted.session;
    let answer = session
        .send(&console, Method::POST, "/api/v1/auth/logout/", &json!({}))
        .await;
    if !answer.ok() {
        return layout::refusal(
            answer.status.as_u16(),
            &answer.problems().general(&[]).join(" "),
        );
    }
    let mut response = Redirect::to("/admin/login").into_response();
    if let Ok(v) = set_cookie(&console, &session.client.headers, SESSION_COOKIE, "").parse() {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}
