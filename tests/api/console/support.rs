//! A console client over plain HTTP: cookies kept by hand, redirects not followed, CSRF tokens
//! read from the pages.

use kadro::auth::password;
use kadro::db::Query;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, HeaderMap, LOCATION, SET_COOKIE};

use crate::helpers::TestApp;

/// The password `set_password` gives B2B accounts.
pub const ROOT_PASSWORD: &str = "console-Pass-2024";

/// Gives the B2B account `email` the password [`ROOT_PASSWORD`].
pub async fn set_password(app: &TestApp, email: &str) {
    let hash = password::hash_now(ROOT_PASSWORD).expect("hash");
    let changed = Query::new("UPDATE users SET password_hash = $1 WHERE email = $2")
        .bind(hash)
        .bind(email)
        .execute(&app.state.db)
        .await
        .expect("set password");
    assert_eq!(changed, 1, "no account {email}");
}

/// A browser-like HTTP client of the console.
pub struct ConsoleClient {
    pub base: String,
    http: reqwest::Client,
    pub cookies: Vec<(String, String)>,
}

/// An answer: status, headers and text.
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The value of the first hidden `csrf` field of the page.
    pub fn csrf(&self) -> String {
        let at = self
            .text
            .find("name=\"csrf\" value=\"")
            .unwrap_or_else(|| panic!("no CSRF field in {}", self.text));
        let rest = &self.text[at + "name=\"csrf\" value=\"".len()..];
        rest[..rest.find('"').expect("end of value")].to_owned()
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect()
    }
}

impl ConsoleClient {
    pub fn new(app: &TestApp) -> ConsoleClient {
        ConsoleClient {
            base: app.base.clone(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            cookies: Vec::new(),
        }
    }

    fn keep(&mut self, page: &Page) {
        for cookie in page.set_cookies() {
            let pair = cookie.split(';').next().unwrap_or("");
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            self.cookies.retain(|(n, _)| n != name);
            if !value.is_empty() && !cookie.contains("Max-Age=0") {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let header = self
            .cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let request = if header.is_empty() {
            request
        } else {
            request.header(COOKIE, header)
        };
        let response = request.send().await.expect("console request");
        let page = Page {
            status: response.status(),
            headers: response.headers().clone(),
            text: response.text().await.expect("body"),
        };
        self.keep(&page);
        page
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let request = self.http.get(format!("{}{path}", self.base));
        self.send(request).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body);
        self.send(request).await
    }

    /// Posts a `multipart/form-data` form: `fields` in order, then `file` (its name and
    /// content) when given, as a browser sends it.
    pub async fn post_multipart(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        file: Option<(&str, &str)>,
    ) -> Page {
        const BOUNDARY: &str = "----kadro-console-test-boundary";
        let mut body = String::new();
        for (name, value) in fields {
            body.push_str(&format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            ));
        }
        if let Some((filename, content)) = file {
            body.push_str(&format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
                 Content-Type: text/csv\r\n\r\n{content}\r\n"
            ));
        }
        body.push_str(&format!("--{BOUNDARY}--\r\n"));
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .header(
                "Content-Type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(body);
        self.send(request).await
    }

    /// Signs a B2B account in; returns the answer to the sign-in form.
    pub async fn sign_in(&mut self, email: &str, password: &str) -> Page {
        let form = self.get("/admin/login").await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.text);
        let csrf = form.csrf();
        self.post(
            "/admin/login",
            &[
                ("csrf", &csrf),
                ("kind", "b2b"),
                ("email", email),
                ("password", password),
            ],
        )
        .await
    }
}
