//! The JSON body extractor. A wrong content type, a body over the limit and malformed JSON get
//! our error shapes; then the body is read field by field, as a DRF serializer reads its data:
//! every field of the wrong type is named in the same 400, and the checks that follow (the
//! [`Validator`] that [`Body::into_parts`] hands over) add their errors to that answer.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use serde_path_to_error::{Path, Segment};

use super::error::{ApiError, FieldErrors};
use super::validate::{NULL_CHARACTERS, Validator};

/// Largest accepted request body.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// A JSON object body read field by field: `T` holds every field that could be read (a field
/// of the wrong type is left out, as if it had not been sent), and the errors name each field
/// that could not. `T`'s fields should all be optional (`#[serde(default)]`), required ones
/// checked by the [`Validator`], so that every field is read whatever the others hold.
#[derive(Debug)]
pub struct Body<T> {
    value: T,
    errors: FieldErrors,
}

impl<T> Body<T> {
    /// A body whose every field was read, for callers that build one in code.
    pub fn new(value: T) -> Self {
        Self {
            value,
            errors: FieldErrors::new(),
        }
    }

    /// The fields read, and a validator already holding the errors of those that were not:
    /// the checks that follow add to it, and its `finish` answers for the whole body.
    pub fn into_parts(self) -> (T, Validator) {
        (self.value, Validator::with_errors(self.errors))
    }

    /// The same body with its fields moved into another shape (errors kept).
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Body<U> {
        Body {
            value: f(self.value),
            errors: self.errors,
        }
    }

    /// The fields read, or the 400 naming those that were not; for bodies with no further
    /// checks.
    pub fn into_inner(self) -> Result<T, ApiError> {
        self.errors.into_result()?;
        Ok(self.value)
    }
}

impl<T, S> FromRequest<S> for Body<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_json_body(req, state).await?;
        read_body(&bytes)
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

/// Reads a body: malformed JSON → `{"detail": "JSON parse error - …"}`; anything but an object
/// → `non_field_errors`; a field holding a NUL character is named and left out; then each
/// field of the wrong type is named and left out, until the rest reads. Each round leaves one
/// field out, so this ends within the body's field count.
pub fn read_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<Body<T>, ApiError> {
    let mut object: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("JSON parse error - {e}")))?;
    if !object.is_object() {
        return Err(ApiError::field(
            "non_field_errors",
            format!(
                "Invalid data. Expected a dictionary, but got {}.",
                python_type(&object)
            ),
        ));
    }
    let mut errors = FieldErrors::new();
    if let Some(fields) = object.as_object_mut() {
        if let Some(known) = struct_fields::<T>() {
            // Fields `T` does not read are ignored, as DRF ignores them: whatever they hold.
            fields.retain(|key, _| known.contains(&key.as_str()));
        }
        leave_out_null_characters(fields, &mut errors);
    }
    loop {
        let err = match serde_path_to_error::deserialize::<_, T>(&object) {
            Ok(value) => return Ok(Body { value, errors }),
            Err(err) => err,
        };
        if let Some(whole) = value_at_mut(&mut object, err.path()).and_then(integral_float) {
            // DRF's IntegerField takes `7.0` as 7: read it so where an integer was expected.
            *value_at_mut(&mut object, err.path()).expect("found above") = whole;
            continue;
        }
        let (field, message) = field_error(&object, err.path(), &err.inner().to_string());
        if errors.contains(&field) {
            // A field that cannot be left out (not optional) was named already.
            return Err(ApiError::Validation(errors));
        }
        let left_out = object
            .as_object_mut()
            .and_then(|fields| fields.remove(&field))
            .is_some();
        errors.add(field, message);
        if !left_out {
            // A required field is missing, or the body as a whole is wrong: nothing left to
            // leave out, so this is all that can be said.
            return Err(ApiError::Validation(errors));
        }
    }
}

/// The field names of `T` when it is a plain struct (serde hands them to the deserializer);
/// `None` for anything else (a map, a flattened struct), whose fields are all kept.
fn struct_fields<T: DeserializeOwned>() -> Option<&'static [&'static str]> {
    use serde::de::{Error, Visitor};
    struct Probe<'a>(&'a mut Option<&'static [&'static str]>);
    impl<'de> serde::Deserializer<'de> for Probe<'_> {
        type Error = serde::de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = Some(fields);
            Err(Error::custom("fields found"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
    let mut fields = None;
    let _ = T::deserialize(Probe(&mut fields));
    fields
}

/// Names and leaves out every field holding a NUL character anywhere: in a string or a key,
/// at any depth (a division's `extra_data` too). PostgreSQL cannot store one and DRF refuses
/// it; refusing it here spares every handler from checking.
fn leave_out_null_characters(fields: &mut Map<String, Value>, errors: &mut FieldErrors) {
    let holding: Vec<String> = fields
        .iter()
        .filter(|(key, value)| key.contains('\0') || holds_null_character(value))
        .map(|(key, _)| key.clone())
        .collect();
    for field in holding {
        fields.remove(&field);
        errors.add(field, NULL_CHARACTERS);
    }
}

/// Whether a NUL character is in `value` or below it (serde_json caps nesting at 128 levels).
fn holds_null_character(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(holds_null_character),
        Value::Object(map) => map
            .iter()
            .any(|(key, value)| key.contains('\0') || holds_null_character(value)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// The top-level field a serde error concerns, and DRF's wording for it.
fn field_error(body: &Value, path: &Path, message: &str) -> (String, String) {
    let top = path.iter().find_map(|segment| match segment {
        Segment::Map { key } => Some(key.clone()),
        _ => None,
    });
    if let Some(rest) = message.strip_prefix("missing field `") {
        let missing = rest.split('`').next().unwrap_or(rest).to_owned();
        return (top.unwrap_or(missing), "This field is required.".to_owned());
    }
    let field = top.unwrap_or_else(|| "non_field_errors".to_owned());
    let given = value_at(body, path).map_or("NoneType", python_type);
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
        format!("Expected a list of items but got type \"{given}\".")
    } else if expected.starts_with("a map") {
        format!("Expected a dictionary of items but got type \"{given}\".")
    } else if expected.starts_with("struct") {
        "Invalid data. Expected a dictionary.".to_owned()
    } else if let Some(rest) = message.strip_prefix("unknown variant `") {
        let value = rest.split('`').next().unwrap_or(rest);
        format!("\"{value}\" is not a valid choice.")
    } else if message.starts_with("invalid value: integer") || message.contains("out of range") {
        "Ensure this value is within the allowed range.".to_owned()
    } else {
        message.to_owned()
    };
    (field, text)
}

/// The value `path` leads to inside `body`, if it is there.
fn value_at<'v>(body: &'v Value, path: &Path) -> Option<&'v Value> {
    path.iter().try_fold(body, |value, segment| match segment {
        Segment::Map { key } => value.get(key.as_str()),
        Segment::Seq { index } => value.get(*index),
        _ => Some(value),
    })
}

/// The value `path` leads to inside `body`, to change it.
fn value_at_mut<'v>(body: &'v mut Value, path: &Path) -> Option<&'v mut Value> {
    path.iter().try_fold(body, |value, segment| match segment {
        Segment::Map { key } => value.get_mut(key.as_str()),
        Segment::Seq { index } => value.get_mut(*index),
        _ => Some(value),
    })
}

/// A float without a fractional part (`7.0`), as the integer it stands for.
fn integral_float(value: &mut Value) -> Option<Value> {
    let float = value.as_f64().filter(|_| value.is_f64())?;
    let fits = float.fract() == 0.0 && float.abs() < 9.0e15;
    fits.then(|| Value::from(float as i64))
}

/// The name DRF's messages give a JSON value's type (Python's).
fn python_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
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
    struct Required {
        #[allow(dead_code)]
        division: i64,
    }

    #[derive(serde::Deserialize, Debug, Default)]
    #[serde(default)]
    struct Division {
        name: Option<String>,
        parent: Option<i64>,
        is_active: Option<bool>,
        stores: Option<Vec<i64>>,
        extra_data: Option<serde_json::Map<String, Value>>,
    }

    fn message<T: DeserializeOwned>(bytes: &[u8]) -> Value {
        match read_body::<T>(bytes).and_then(Body::into_inner) {
            Err(ApiError::Validation(e)) => e.to_json(),
            Err(ApiError::BadRequest(d)) => serde_json::json!({ "detail": d }),
            other => panic!("unexpected {:?}", other.err()),
        }
    }

    #[test]
    fn serde_errors_become_drf_field_errors() {
        assert_eq!(
            message::<Required>(b"{}"),
            serde_json::json!({"division": ["This field is required."]})
        );
        assert_eq!(
            message::<Required>(br#"{"division": "x"}"#),
            serde_json::json!({"division": ["A valid integer is required."]})
        );
        assert_eq!(
            message::<Required>(br#"{"division": null}"#),
            serde_json::json!({"division": ["This field may not be null."]})
        );
        assert_eq!(
            message::<Required>(b"[1]"),
            serde_json::json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]})
        );
        let malformed = message::<Required>(b"{\"division\": ");
        assert!(
            malformed["detail"]
                .as_str()
                .unwrap()
                .starts_with("JSON parse error - ")
        );
    }

    #[test]
    fn every_wrong_field_is_named_and_the_rest_is_read() {
        let body = br#"{"name": 5, "parent": "x", "is_active": "yes", "stores": "1,2",
            "extra_data": [1]}"#;
        assert_eq!(
            message::<Division>(body),
            serde_json::json!({
                "name": ["Not a valid string."],
                "parent": ["A valid integer is required."],
                "is_active": ["Must be a valid boolean."],
                "stores": ["Expected a list of items but got type \"str\"."],
                "extra_data": ["Expected a dictionary of items but got type \"list\"."],
            })
        );
        let (read, v) = read_body::<Division>(br#"{"name": "Main", "stores": [1, "two"]}"#)
            .unwrap()
            .into_parts();
        assert_eq!(read.name.as_deref(), Some("Main"));
        assert!(read.stores.is_none() && v.has("stores"));
    }

    #[test]
    fn unknown_fields_are_ignored_whatever_they_hold() {
        let (read, v) = read_body::<Division>(br#"{"name": "Main", "other": "a\u0000b"}"#)
            .unwrap()
            .into_parts();
        assert_eq!(read.name.as_deref(), Some("Main"));
        assert!(!v.failed());
    }

    #[test]
    fn an_integral_float_reads_as_an_integer() {
        let (read, v) = read_body::<Division>(br#"{"parent": 7.0, "stores": [1.0, 2]}"#)
            .unwrap()
            .into_parts();
        assert_eq!((read.parent, read.stores), (Some(7), Some(vec![1, 2])));
        assert!(!v.failed());
        assert_eq!(
            message::<Division>(br#"{"parent": 7.5}"#),
            serde_json::json!({"parent": ["A valid integer is required."]})
        );
    }

    #[test]
    fn null_characters_are_refused_at_any_depth() {
        let body = br#"{"name": "a\u0000", "stores": "x", "parent": 3,
            "extra_data": {"deep": [{"k": "v\u0000"}]}, "is_active": {"k\u0000": 1}}"#;
        assert_eq!(
            message::<Division>(body),
            serde_json::json!({
                "name": ["Null characters are not allowed."],
                "extra_data": ["Null characters are not allowed."],
                "is_active": ["Null characters are not allowed."],
                "stores": ["Expected a list of items but got type \"str\"."],
            })
        );
    }
}
