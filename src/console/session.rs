//! Console sessions: the API token in a cookie, the caller it names, the CSRF token derived
//! from it, and what the caller may reach.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Redirect, Response};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::Console;
use super::api::{Answer, Client};
use super::layout;
use crate::auth::{self, Caller};
use crate::http::error::ApiError;
use crate::instore::permissions;
use crate::instore::routes::{ENDPOINTS, Verb};

/// The session cookie: an API token.
pub const SESSION_COOKIE: &str = "kadro_console";
/// Before sign-in: a random value the sign-in form's CSRF token is derived from.
pub const LOGIN_COOKIE: &str = "kadro_console_login";
/// The hidden form field that carries the CSRF token.
pub const CSRF_FIELD: &str = "csrf";
/// Largest form body the console reads.
const FORM_LIMIT: usize = 64 * 1024;

/// A signed-in console user.
pub struct Session {
    pub token: String,
    pub caller: Caller,
    /// The token every form of this session must send back.
    pub csrf: String,
    /// The browser's request, as the API should see its client.
    pub client: Client,
}

impl Session {
    pub async fn get(&self, console: &Console, path: &str) -> Answer {
        console
            .call(Method::GET, path, Some(&self.token), &self.client, None)
            .await
    }

    pub async fn send(
        &self,
        console: &Console,
        method: Method,
        path: &str,
        body: &serde_json::Value,
    ) -> Answer {
        console
            .call(method, path, Some(&self.token), &self.client, Some(body))
            .await
    }

    /// Sends `body` (a stream) of `content_type` with `POST`: an upload.
    pub async fn upload(
        &self,
        console: &Console,
        path: &str,
        content_type: &str,
        body: axum::body::Body,
    ) -> Answer {
        console
            .call_with(
                Method::POST,
                path,
                Some(&self.token),
                &self.client,
                Some(content_type),
                body,
            )
            .await
    }

    /// What this caller may reach, for showing only what it can use.
    pub async fn access(&self, console: &Console) -> Access {
        let b2b = self.caller.require_b2b_staff().is_ok();
        let instore = |route: &'static str, verb: Verb| {
            let caller = self.caller.clone();
            let db = console.app.db.clone();
            async move {
                match ENDPOINTS
                    .iter()
                    .find(|e| e.route == route && e.verb == verb)
                {
                    Some(endpoint) => permissions::authorize(&db, &caller, endpoint).await.is_ok(),
                    None => false,
                }
            }
        };
        Access {
            b2b,
            superuser: self.caller.require_superuser().is_ok(),
            staffs: instore("instore:staff-list", Verb::Get).await,
            staff_create: instore("instore:staff-list", Verb::Post).await,
            staff_update: instore("instore:staff-detail", Verb::Patch).await,
            staff_deactivate: instore("instore:staff-detail", Verb::Delete).await,
            staff_password: instore("instore:staff-change-password", Verb::Post).await,
            staff_permissions: instore("instore:staff-list-staff-permission-info", Verb::Get).await,
            stores: instore("instore:retail-store-list", Verb::Get).await,
            store_create: instore("instore:retail-store-list", Verb::Post).await,
            store_update: instore("instore:retail-store-detail", Verb::Patch).await,
            groups: instore("instore:permission-group-list", Verb::Get).await,
            group_create: instore("instore:permission-group-list", Verb::Post).await,
            group_update: instore("instore:permission-group-detail", Verb::Patch).await,
            permissions: instore("instore:permission-list", Verb::Get).await,
        }
    }
}

/// The parts of the console a caller may use; the API checks each request again.
#[derive(Clone, Copy, Debug, Default)]
pub struct Access {
    /// B2B staff or superuser: B2B users.
    pub b2b: bool,
    /// B2B superuser or service: staff users.
    pub superuser: bool,
    pub staffs: bool,
    pub staff_create: bool,
    pub staff_update: bool,
    pub staff_deactivate: bool,
    pub staff_password: bool,
    pub staff_permissions: bool,
    pub stores: bool,
    pub store_create: bool,
    pub store_update: bool,
    pub groups: bool,
    pub group_create: bool,
    pub group_update: bool,
    pub permissions: bool,
}

impl Access {
    /// True when the caller may use any page besides the overview.
    pub fn any(&self) -> bool {
        self.b2b || self.staffs || self.groups || self.stores
    }
}

/// `HMAC-SHA256(secret key, purpose ‖ value)` in hex: a CSRF token only this server can make.
pub fn csrf_token(console: &Console, purpose: &str, value: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(console.app.secret_key.expose().as_bytes())
        .expect("HMAC takes any key length");
    mac.update(purpose.as_bytes());
    mac.update(b"\0");
    mac.update(value.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The value of cookie `name` in the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value for the console's path: `HttpOnly`, `SameSite=Strict`, and `Secure`
/// when the console is served over HTTPS. An empty value clears the cookie.
pub fn set_cookie(console: &Console, headers: &HeaderMap, name: &str, value: &str) -> String {
    let https = console
        .app
        .config
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"))
        || headers
            .get("x-forwarded-proto")
            .is_some_and(|p| p.as_bytes().eq_ignore_ascii_case(b"https"));
    let mut cookie = format!("{name}={value}; Path=/admin; HttpOnly; SameSite=Strict");
    if value.is_empty() {
        cookie.push_str("; Max-Age=0");
    }
    if https {
        cookie.push_str("; Secure");
    }
    cookie
}

impl FromRequestParts<Console> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, console: &Console) -> Result<Self, Response> {
        let to_login = || Redirect::to("/admin/login").into_response();
        let token = cookie(&parts.headers, SESSION_COOKIE)
            .ok_or_else(to_login)?
            .to_owned();
        let caller = match auth::authenticate(&console.app, &token).await {
            Ok(caller) => caller,
            Err(ApiError::Unauthenticated(_)) => return Err(to_login()),
            Err(e) => return Err(e.into_response()),
        };
        Ok(Session {
            csrf: csrf_token(console, "session", &token),
            token,
            caller,
            client: Client::of(&parts.headers, &parts.extensions),
        })
    }
}

/// A form posted by a signed-in user, its CSRF token checked.
pub struct Posted {
    pub session: Session,
    pub form: Form,
}

/// The pairs of an `application/x-www-form-urlencoded` body, repeated names kept.
#[derive(Debug, Default)]
pub struct Form(pub Vec<(String, String)>);

impl Form {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Reads the body of `req` (at most [`FORM_LIMIT`] bytes).
    pub async fn read(req: Request) -> Result<Form, Response> {
        let bytes = axum::body::to_bytes(req.into_body(), FORM_LIMIT)
            .await
            .map_err(|_| layout::refusal(413, "The form is too large."))?;
        Ok(Form(form_urlencoded::parse(&bytes).into_owned().collect()))
    }

    /// True when the form's CSRF token equals `expected` (compared in constant time).
    pub fn csrf_matches(&self, expected: &str) -> bool {
        self.get(CSRF_FIELD)
            .is_some_and(|sent| bool::from(sent.as_bytes().ct_eq(expected.as_bytes())))
    }
}

/// What a form without a valid CSRF token gets.
pub const CSRF_REFUSED: &str = "This form was not sent by a console page of this session (missing or wrong CSRF token). Reload the page and try again.";

impl FromRequest<Console> for Posted {
    type Rejection = Response;

    async fn from_request(req: Request, console: &Console) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let session = Session::from_request_parts(&mut parts, console).await?;
        let form = Form::read(Request::from_parts(parts, body)).await?;
        if !form.csrf_matches(&session.csrf) {
            return Err(layout::refusal(403, CSRF_REFUSED));
        }
        Ok(Posted { session, form })
    }
}
