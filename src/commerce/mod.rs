//! The Commerce platform client (CONTRACT §6): the calls of seed 004, with timeouts and one
//! pooled HTTP client for the whole process.
//!
//! Without `KADRO_COMMERCE_URL` kadro runs in local mode: it is the system of record, a user's
//! `remote_id` is its own id and no call is made ([`Commerce::Local`]).

mod guard;
pub mod jobs;

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use crate::config::{Config, Secret};
pub use guard::{CommerceGuard, GuardSettings, Refused};

/// Why a Commerce call failed; every case answers 502 `api_connection_error`.
#[derive(Debug, thiserror::Error)]
pub enum CommerceError {
    #[error("Commerce answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("Commerce unreachable: {0}")]
    Transport(String),
    #[error("Commerce answered something unreadable: {0}")]
    Invalid(String),
    #[error("Commerce not called: {0:?}")]
    Refused(Refused),
}

impl CommerceError {
    /// Whether the failure says Commerce is unhealthy (what the breaker counts): no answer, a
    /// server error or an unreadable answer. A 4xx is Commerce refusing this request.
    fn is_outage(&self) -> bool {
        match self {
            CommerceError::Status { status, .. } => *status >= 500,
            CommerceError::Transport(_) | CommerceError::Invalid(_) => true,
            CommerceError::Refused(_) => false,
        }
    }

    fn outcome(&self) -> &'static str {
        match self {
            CommerceError::Status { status, .. } if *status >= 500 => "server_error",
            CommerceError::Status { .. } => "refused_request",
            CommerceError::Transport(_) => "unreachable",
            CommerceError::Invalid(_) => "invalid_answer",
            CommerceError::Refused(Refused::Open) => "breaker_open",
            CommerceError::Refused(Refused::Busy) => "busy",
        }
    }
}

impl From<CommerceError> for crate::http::error::ApiError {
    fn from(e: CommerceError) -> Self {
        crate::http::error::ApiError::Commerce(e.to_string())
    }
}

#[derive(Clone, Debug)]
pub enum Commerce {
    Local,
    Remote(Remote),
}

#[derive(Clone, Debug)]
pub struct Remote {
    client: reqwest::Client,
    base: String,
    token: Option<Secret>,
    guard: Arc<CommerceGuard>,
}

/// The profile sent on registration and on profile updates.
#[derive(Debug, Serialize)]
pub struct Profile<'a> {
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub phone_number: &'a str,
}

impl Commerce {
    pub fn from_config(config: &Config) -> anyhow::Result<Commerce> {
        let Some(base) = config
            .commerce_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
        else {
            return Ok(Commerce::Local);
        };
        let client = reqwest::Client::builder()
            .timeout(config.commerce_timeout())
            .connect_timeout(config.commerce_timeout().min(Duration::from_secs(5)))
            .pool_idle_timeout(Duration::from_secs(90))
            .user_agent(concat!("kadro/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Commerce::Remote(Remote {
            client,
            base: base.trim_end_matches('/').to_owned(),
            token: config.commerce_token.clone(),
            guard: Arc::new(CommerceGuard::new(GuardSettings {
                max_in_flight: config.commerce_max_in_flight,
                breaker_failures: config.commerce_breaker_failures.max(1),
                cooldown: Duration::from_millis(config.commerce_breaker_cooldown_ms),
                queue_wait: config.commerce_timeout(),
            })),
        }))
    }

    pub fn is_local(&self) -> bool {
        matches!(self, Commerce::Local)
    }
}

impl Remote {
    /// The bulkhead and breaker in front of Commerce.
    pub fn guard(&self) -> &CommerceGuard {
        &self.guard
    }

    /// One call through the bulkhead and the breaker.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, CommerceError> {
        let result = match self.guard.enter().await {
            Ok(pass) => {
                let result = self.send_now(method, path, body).await;
                let outage = result.as_ref().err().is_some_and(CommerceError::is_outage);
                self.guard.finish(pass, !outage);
                result
            }
            Err(refused) => Err(CommerceError::Refused(refused)),
        };
        let outcome = result.as_ref().err().map_or("ok", CommerceError::outcome);
        metrics::counter!("kadro_commerce_calls_total", "outcome" => outcome).increment(1);
        result
    }

    async fn send_now(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, CommerceError> {
        let mut request = self
            .client
            .request(method, format!("{}{}", self.base, path));
        if let Some(token) = &self.token {
            request = request.header("Authorization", format!("Token {}", token.expose()));
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| CommerceError::Transport(e.to_string()))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| CommerceError::Transport(e.to_string()))?;
        if !status.is_success() {
            return Err(CommerceError::Status {
                status: status.as_u16(),
                body: text.chars().take(500).collect(),
            });
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| CommerceError::Invalid(e.to_string()))
    }

    /// `POST /users/registration`; the Commerce id when the answer carries one.
    pub async fn register(
        &self,
        profile: &Profile<'_>,
        password: &str,
    ) -> Result<Option<i64>, CommerceError> {
        let mut body =
            serde_json::to_value(profile).map_err(|e| CommerceError::Invalid(e.to_string()))?;
        body["password"] = json!(password);
        let answer = self
            .send(reqwest::Method::POST, "/users/registration", Some(&body))
            .await?;
        Ok(answer.get("id").and_then(Value::as_i64))
    }

    /// `PATCH /users/profile`.
    pub async fn update_profile(&self, profile: &Profile<'_>) -> Result<(), CommerceError> {
        let body =
            serde_json::to_value(profile).map_err(|e| CommerceError::Invalid(e.to_string()))?;
        self.send(reqwest::Method::PATCH, "/users/profile", Some(&body))
            .await
            .map(|_| ())
    }

    /// `PATCH /users/{remote_id}/` with `{"is_active": …}`.
    pub async fn set_active(&self, remote_id: i64, is_active: bool) -> Result<(), CommerceError> {
        let body = json!({ "is_active": is_active });
        self.send(
            reqwest::Method::PATCH,
            &format!("/users/{remote_id}/"),
            Some(&body),
        )
        .await
        .map(|_| ())
    }

    /// `GET /users/?email=…`: the id of the first result.
    pub async fn find_id_by_email(&self, email: &str) -> Result<Option<i64>, CommerceError> {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("email", email)
            .finish();
        let answer = self
            .send(reqwest::Method::GET, &format!("/users/?{query}"), None)
            .await?;
        Ok(answer
            .get("results")
            .and_then(|r| r.get(0))
            .and_then(|u| u.get("id"))
            .and_then(Value::as_i64))
    }
}
