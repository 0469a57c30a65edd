//! The console's API client: requests sent through the application's own router, in-process,
//! with the session's token, so the console sees exactly what an API client would.

use std::collections::BTreeMap;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap, Method, Request, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt;

use super::Console;
use crate::http::client::TrustedProxies;
use crate::http::hosts::CheckedHost;

/// Largest API answer the console reads (a page of at most a few hundred rows).
const ANSWER_LIMIT: usize = 16 * 1024 * 1024;

/// Request headers passed on to the API: who the client is and how it reached us.
const FORWARDED: [header::HeaderName; 4] = [
    header::HOST,
    header::USER_AGENT,
    header::HeaderName::from_static("x-forwarded-for"),
    header::HeaderName::from_static("x-forwarded-proto"),
];

/// The browser's side of a console request, passed on to the API so that it sees the same
/// client (its address for login throttling, its user agent, the host it asked for).
#[derive(Clone, Debug, Default)]
pub struct Client {
    pub headers: HeaderMap,
    extensions: Extensions,
}

impl Client {
    /// Keeps the headers and only the extensions that name the client: the connection's
    /// address, the trusted proxies and the checked `Host` (for links); the console's own
    /// route parameters stay behind.
    pub fn of(headers: &HeaderMap, extensions: &Extensions) -> Client {
        let mut kept = Extensions::new();
        if let Some(peer) = extensions.get::<ConnectInfo<SocketAddr>>() {
            kept.insert(*peer);
        }
        if let Some(proxies) = extensions.get::<TrustedProxies>() {
            kept.insert(proxies.clone());
        }
        if let Some(host) = extensions.get::<CheckedHost>() {
            kept.insert(host.clone());
        }
        Client {
            headers: headers.clone(),
            extensions: kept,
        }
    }
}

/// An API answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

impl Answer {
    pub fn ok(&self) -> bool {
        self.status.is_success()
    }

    /// The error body as field → messages (`detail` and `non_field_errors` included), in the
    /// API's own words.
    pub fn problems(&self) -> Problems {
        let mut problems = Problems::default();
        match &self.body {
            Value::Object(map) => {
                for (field, value) in map {
                    problems.collect(field, value);
                }
            }
            Value::Array(items) => {
                for item in items {
                    problems.collect("non_field_errors", item);
                }
            }
            Value::String(text) => problems.add("detail", text.clone()),
            _ => {}
        }
        if problems.0.is_empty() {
            problems.add("detail", format!("The API answered {}.", self.status));
        }
        problems
    }
}

/// Error messages by field, as the API gave them.
#[derive(Debug, Default)]
pub struct Problems(pub BTreeMap<String, Vec<String>>);

impl Problems {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_owned())
            .or_default()
            .push(message.into());
    }

    fn collect(&mut self, field: &str, value: &Value) {
        match value {
            Value::String(s) => self.add(field, s.clone()),
            Value::Array(items) => items.iter().for_each(|i| self.collect(field, i)),
            Value::Object(map) => {
                for (key, inner) in map {
                    self.collect(&format!("{field}.{key}"), inner);
                }
            }
            other => self.add(field, other.to_string()),
        }
    }

    /// The messages about `field`.
    pub fn of(&self, field: &str) -> &[String] {
        self.0.get(field).map_or(&[], Vec::as_slice)
    }

    /// The messages about anything other than `fields` (shown at the top of a form); those
    /// about another field name it.
    pub fn general(&self, fields: &[&str]) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| !fields.contains(&k.as_str()))
            .flat_map(|(k, v)| {
                v.iter().map(move |m| match k.as_str() {
                    "detail" | "non_field_errors" => m.clone(),
                    field => format!("{field}: {m}"),
                })
            })
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Console {
    /// Sends one API request; `token` authenticates it, `client` gives the headers to forward.
    pub async fn call(
        &self,
        method: Method,
        path_and_query: &str,
        token: Option<&str>,
        client: &Client,
        body: Option<&Value>,
    ) -> Answer {
        match body {
            Some(json) => {
                let body = Body::from(json.to_string());
                self.call_with(
                    method,
                    path_and_query,
                    token,
                    client,
                    Some("application/json"),
                    body,
                )
                .await
            }
            None => {
                self.call_with(method, path_and_query, token, client, None, Body::empty())
                    .await
            }
        }
    }

    /// Sends one API request with `body` as it is (a stream, for an upload), of `content_type`.
    pub async fn call_with(
        &self,
        method: Method,
        path_and_query: &str,
        token: Option<&str>,
        client: &Client,
        content_type: Option<&str>,
        body: Body,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(path_and_query);
        for name in FORWARDED {
            if let Some(value) = client.headers.get(&name) {
                request = request.header(name, value);
            }
        }
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Token {token}"));
        }
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let Ok(mut request) = request.body(body) else {
            return Answer {
                status: StatusCode::BAD_REQUEST,
                body: Value::String("The console built an invalid request.".into()),
            };
        };
        request.extensions_mut().extend(client.extensions.clone());
        let response = match self.api.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), ANSWER_LIMIT)
            .await
            .unwrap_or_default();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Answer { status, body }
    }
}
