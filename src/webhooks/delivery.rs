//! The delivery job: one attempt of one delivery, signed, under a timeout, to a checked
//! address; the outcome goes back to the outbox, which schedules the next attempt.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use reqwest::Url;
use sha2::Sha256;

use super::address::{self, SafeResolver};
use super::outbox::{self, Due, Outcome};
use crate::config::Config;
use crate::jobs::ClaimedJob;
use crate::jobs::worker::{JobError, JobHandler};
use crate::state::AppState;

/// How much of an answer's body is read (the start of an error answer is kept); a receiver
/// answering with more cannot hold a worker.
const BODY_READ_LIMIT: usize = 1024;
/// How much of an answer's body `last_error` keeps.
const ERROR_BODY_CHARS: usize = 200;

/// The client of every delivery: the attempt's timeout, no redirects (a redirect could lead
/// to an internal address), no proxy, and host names resolved to public addresses only unless
/// `KADRO_WEBHOOK_ALLOW_PRIVATE` is set.
pub fn client(config: &Config) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .timeout(config.webhook_timeout())
        .connect_timeout(config.webhook_timeout())
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("kadro-webhooks/", env!("CARGO_PKG_VERSION")));
    if !config.webhook_allow_private {
        builder = builder
            .https_only(true)
            .dns_resolver(Arc::new(SafeResolver));
    }
    Ok(builder.build()?)
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with the secret>`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// Runs `webhook.deliver` jobs: `{"delivery_id"}`.
pub struct Deliver;

#[async_trait::async_trait]
impl JobHandler for Deliver {
    async fn run(&self, state: &AppState, job: &ClaimedJob) -> Result<(), JobError> {
        let payload: serde_json::Value = serde_json::from_str(&job.payload)
            .map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
        let id = payload["delivery_id"]
            .as_i64()
            .ok_or_else(|| JobError::Permanent("no delivery_id".into()))?;
        // A deleted webhook took its deliveries; a finished delivery needs nothing.
        let Some(due) = outbox::due(&state.db, id).await? else {
            return Ok(());
        };
        if due.status != "pending" {
            return Ok(());
        }
        if !due.is_active {
            outbox::abandon(&state.db, &due, "The webhook is not active.").await?;
            return Ok(());
        }
        let outcome = attempt(state, &due).await;
        if let Some(error) = &outcome.error {
            tracing::info!(delivery = due.id, webhook = due.webhook_id, %error, "webhook delivery failed");
        }
        let disable_after = state.config.webhook_disable_after;
        outbox::record_attempt(&state.db, &due, &outcome, disable_after).await?;
        Ok(())
    }
}

/// One signed `POST` of the delivery's body.
async fn attempt(state: &AppState, due: &Due) -> Outcome {
    let allow_private = state.config.webhook_allow_private;
    if let Some(problem) = address::problem(&due.url, allow_private) {
        return failed(None, format!("refused: {problem}"));
    }
    let Ok(url) = Url::parse(&due.url) else {
        return failed(None, "refused: Enter a valid URL.".into());
    };
    let timestamp = crate::http::time::now().timestamp();
    let sent = state
        .webhook_client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("Kadro-Event-Id", due.event_id.to_string())
        .header(
            "Kadro-Signature",
            signature(&due.secret, timestamp, &due.payload),
        )
        .body(due.payload.clone())
        .send()
        .await;
    let mut response = match sent {
        Ok(response) => response,
        Err(e) => return failed(None, describe(&e)),
    };
    let status = response.status();
    let mut start = Vec::new();
    while start.len() < BODY_READ_LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => start.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) if status.is_success() => {
                tracing::debug!(error = %e, "webhook answer body not read to its end");
                break;
            }
            Err(e) => return failed(Some(status.as_u16()), describe(&e)),
        }
    }
    if status.is_success() {
        return Outcome {
            status_code: Some(status.as_u16()),
            error: None,
        };
    }
    let text: String = String::from_utf8_lossy(&start)
        .chars()
        .take(ERROR_BODY_CHARS)
        .collect();
    failed(Some(status.as_u16()), format!("answered {status}: {text}"))
}

fn failed(status_code: Option<u16>, error: String) -> Outcome {
    Outcome {
        status_code,
        error: Some(error),
    }
}

/// A transport error with its causes (the refused address is in a source).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut text = kind.to_owned();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.chars().take(500).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_of_timestamp_dot_body() {
        // Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            signature("whsec_test", 1_700_000_000, r#"{"a":1}"#),
            "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }
}
