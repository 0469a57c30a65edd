//! The JSON body extractor: our error shapes for a wrong content type, a body over the limit,
//! malformed JSON and values of the wrong type.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;

use super::error::{ApiError, FieldErrors};

/// Largest accepted request body.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Like `axum::Json`, but every rejection is an [`ApiError`] in DRF's shape.
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_json_body(req, state).await?;
        parse_body(&bytes).map(Json)
    }
}

/// Checks the content type and reads the body within [`BODY_LIMIT`].
pub async fn read_json_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else if super::server::is_read_timeout(&rejection) {
            ApiError::RequestTimeout
        } else {
            ApiError::BadRequest(format!("Could not read the request body: {rejection}"))
        }
    })?;
    // An empty body with no content type is an empty object, as DRF treats it.
    if bytes.is_empty() && content_type.is_empty() {
        return Ok(Bytes::from_static(b"{}"));
    }
    if !is_json(&content_type) {
        return Err(ApiError::UnsupportedMediaType(content_type));
    }
    Ok(bytes)
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses a body: malformed JSON → `{"detail": "JSON parse error - …"}`; a value of the wrong
/// shape → `{"<field>": ["…"]}`.
pub fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("JSON parse error - {e}")))?;
    if !value.is_object() {
        return Err(ApiError::field(
            "non_field_errors",
            format!(
                "Invalid data. Expected a dictionary, but got {}.",
                json_type(&value)
            ),
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner().to_string();
        ApiError::Validation(field_error(&path, &inner))
    })
}

fn json_type(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "str",
        serde_json::Value::Array(_) => "list",
        serde_json::Value::Object(_) => "dict",
    }
}

/// Turns serde's message into DRF's wording, on the field it concerns.
fn field_error(path: &str, message: &str) -> FieldErrors {
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        return FieldErrors::single(field, "This field is required.");
    }
    let field = match path {
        "" | "." => "non_field_errors",
        other => other.split(['.', '[']).next().unwrap_or(other),
    };
    let expected = message.rsplit_once(", expected ").map_or("", |(_, e)| e);
    let text = if message.starts_with("invalid type: null") {
        "This field may not be null.".to_owned()
    } else if ["i64", "u64", "i32", "u32", "usize", "isize"]
        .iter()
        .any(|t| expected.starts_with(t))
    {
        "A valid integer is required.".to_owned()
    } else if expected.starts_with("a boolean") {
        "Must be a valid boolean.".to_owned()
    } else if expected.starts_with("a string") {
        "Not a valid string.".to_owned()
    } else if expected.starts_with("a sequence") {
        "Expected a list of items.".to_owned()
    } else if expected.starts_with("a map") || expected.starts_with("struct") {
        "Invalid data. Expected a dictionary.".to_owned()
    } else if let Some(rest) = message.strip_prefix("unknown variant `") {
        let value = rest.split('`').next().unwrap_or(rest);
        format!("\"{value}\" is not a valid choice.")
    } else if message.starts_with("invalid value: integer") || message.contains("out of range") {
        "Ensure this value is within the allowed range.".to_owned()
    } else {
        message.to_owned()
    };
    FieldErrors::single(field, text)
}

/// Deserializes a present field (even `null`) to `Some`, so a PATCH can tell "set to null"
/// (`Some(None)`) from "not sent" (`None`). Use with `#[serde(default)]`.
pub fn present<'de, T, D>(deserializer: D) -> Result<Option<T>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    T::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    struct Body {
        #[allow(dead_code)]
        division: i64,
    }

    fn message(bytes: &[u8]) -> serde_json::Value {
        match parse_body::<Body>(bytes) {
            Err(ApiError::Validation(e)) => e.to_json(),
            Err(ApiError::BadRequest(d)) => serde_json::json!({ "detail": d }),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn serde_errors_become_drf_field_errors() {
        assert_eq!(
            message(b"{}"),
            serde_json::json!({"division": ["This field is required."]})
        );
        assert_eq!(
            message(br#"{"division": "x"}"#),
            serde_json::json!({"division": ["A valid integer is required."]})
        );
        assert_eq!(
            message(br#"{"division": null}"#),
            serde_json::json!({"division": ["This field may not be null."]})
        );
        assert_eq!(
            message(b"[1]"),
            serde_json::json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]})
        );
        let malformed = message(b"{\"division\": ");
        assert!(
            malformed["detail"]
                .as_str()
                .unwrap()
                .starts_with("JSON parse error - ")
        );
    }
}
