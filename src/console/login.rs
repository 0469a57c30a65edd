//! Sign-in and sign-out. B2B accounts sign in with `POST /api/v1/auth/login/`, Instore staffs
//! with `POST /api/v1/staffs/login/` at a store of theirs; both through the API itself, so its
//! checks (and login throttling) apply. The token the API issues becomes the session.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
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
use crate::instore::staffs::login::stores_for;

/// What a B2B account that is neither staff nor superuser is told.
pub const NO_CONSOLE: &str = "This account may not use the console.";

const B2B_FIELDS: &[&str] = &["email", "password"];
const STAFF_FIELDS: &[&str] = &["username", "staff_password"];
/// What a staff with the right password but no open store is told.
pub const NO_STORE: &str = "No open retail store is assigned to this staff.";

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
                    p { "Then choose the store you work at now." }
                    button type="submit" { "Continue" }
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
    let answer = if staff {
        let store = text("retail_store");
        let store = if store.trim().is_empty() {
            match pick_store(
                &console,
                &client,
                &text("username"),
                &text("staff_password"),
            )
            .await
            {
                Picked::One(store) => Value::from(store),
                Picked::Choose(stores) => return store_picker(&console, &headers, &form, &stores),
                Picked::Refused(status, problems) => {
                    return refused(&console, &headers, &form, status, problems);
                }
            }
        } else {
            store.trim().parse::<i64>().map_or(Value::Null, Value::from)
        };
        let body = staff_login(&form, store);
        console
            .call(
                Method::POST,
                "/api/v1/staffs/login/",
                None,
                &client,
                Some(&body),
            )
            .await
    } else {
        let body = json!({ "email": text("email"), "password": text("password") });
        console
            .call(
                Method::POST,
                "/api/v1/auth/login/",
                None,
                &client,
                Some(&body),
            )
            .await
    };
    if !answer.ok() {
        return refused(&console, &headers, &form, answer.status, answer.problems());
    }
    let Some(issued) = answer.body.get("token").and_then(Value::as_str) else {
        return layout::refusal(502, "The API issued no token.");
    };
    let caller = auth::authenticate(&console.app, issued).await;
    if matches!(&caller, Ok(Caller::User(u)) if !u.is_staff && !u.is_superuser) || caller.is_err() {
        let _ = token::revoke(&console.app.db, issued).await;
        let mut problems = Problems::default();
        problems.add("non_field_errors", NO_CONSOLE);
        return refused(&console, &headers, &form, StatusCode::BAD_REQUEST, problems);
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

/// The sign-in page again, the API's refusal beside the form that was sent.
fn refused(
    console: &Console,
    headers: &HeaderMap,
    form: &Form,
    status: StatusCode,
    mut problems: Problems,
) -> Response {
    let staff = form.get("kind") == Some("staff");
    if let Some(messages) = problems.0.remove("password") {
        let field = if staff { "staff_password" } else { "password" };
        problems.0.insert(field.into(), messages);
    }
    let (b2b, staffs) = if staff {
        (Problems::default(), problems)
    } else {
        (problems, Problems::default())
    };
    let status = if status.is_client_error() {
        status.as_u16()
    } else {
        400
    };
    let text = |name: &str| form.get(name).unwrap_or("");
    show(
        console,
        headers,
        text("email"),
        text("username"),
        b2b,
        staffs,
        status,
    )
}

/// The body of `POST /api/v1/staffs/login/` for the staff form, at `store`.
fn staff_login(form: &Form, store: Value) -> Value {
    let login = form.get("username").unwrap_or("");
    let key = if login.contains('@') {
        "email"
    } else {
        "username"
    };
    json!({ key: login, "password": form.get("staff_password").unwrap_or(""), "retail_store": store })
}

/// Where a staff that named no store signs in.
enum Picked {
    /// Its only open store.
    One(i64),
    /// One of these (id, name), for it to choose.
    Choose(Vec<(i64, String)>),
    /// Refused: the API's answer (in its words), or no open store.
    Refused(StatusCode, Problems),
}

/// Finds the stores a staff may sign in at. The API checks the password first (at no store,
/// which it refuses only after the password, and with its throttling and lockout); only then
/// are the staff's open stores read, so they are shown to no one who lacks the password.
async fn pick_store(console: &Console, client: &Client, login: &str, password: &str) -> Picked {
    let probe = json!({ "username": login, "password": password, "retail_store": 0 });
    let probe = if login.contains('@') {
        json!({ "email": login, "password": password, "retail_store": 0 })
    } else {
        probe
    };
    let answer = console
        .call(
            Method::POST,
            "/api/v1/staffs/login/",
            None,
            client,
            Some(&probe),
        )
        .await;
    let password_accepted = answer.status.as_u16() == 400
        && answer
            .body
            .as_object()
            .is_some_and(|errors| errors.len() == 1 && errors.contains_key("retail_store"));
    if !password_accepted {
        return Picked::Refused(answer.status, answer.problems());
    }
    match stores_for(&console.app.db, login).await {
        Ok(stores) if stores.len() == 1 => Picked::One(stores[0].0),
        Ok(stores) if !stores.is_empty() => Picked::Choose(stores),
        Ok(_) => {
            let mut problems = Problems::default();
            problems.add("non_field_errors", NO_STORE);
            Picked::Refused(StatusCode::BAD_REQUEST, problems)
        }
        Err(_) => {
            let mut problems = Problems::default();
            problems.add("detail", "The stores could not be read; try again.");
            Picked::Refused(StatusCode::INTERNAL_SERVER_ERROR, problems)
        }
    }
}

/// The second step of a staff's sign-in: its open stores to choose from. The login and
/// password typed in the first step ride along in the form (never in a cookie or a URL).
fn store_picker(
    console: &Console,
    headers: &HeaderMap,
    form: &Form,
    stores: &[(i64, String)],
) -> Response {
    let seed = cookie(headers, LOGIN_COOKIE).unwrap_or("");
    let csrf = csrf_token(console, "login", seed);
    let body = html! {
        form.card method="post" action="/admin/login" {
            input type="hidden" name=(CSRF_FIELD) value=(csrf);
            input type="hidden" name="kind" value="staff";
            input type="hidden" name="username" value=(form.get("username").unwrap_or(""));
            input type="hidden" name="staff_password" value=(form.get("staff_password").unwrap_or(""));
            p { "Signing in as " strong { (form.get("username").unwrap_or("")) } "." }
            div.field {
                label for="f-retail_store" { "Store" }
                select #f-retail_store name="retail_store" required {
                    @for (id, name) in stores { option value=(id) { (name) " (#" (id) ")" } }
                }
            }
            button type="submit" { "Sign in at this store" }
            p { a href="/admin/login" { "Start again" } }
        }
    };
    layout::respond(200, layout::page("Choose your store", None, body))
}
