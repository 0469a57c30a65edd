//! The timestamp format of the seeds: RFC 3339 UTC with microseconds (`…07.517766Z`).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;

/// The current time, truncated to microseconds so what is stored is what is returned.
pub fn now() -> DateTime<Utc> {
    let t = Utc::now();
    let micros = t.timestamp_micros();
    DateTime::from_timestamp_micros(micros).unwrap_or(t)
}

pub fn format(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// `#[serde(serialize_with = "timestamp")]` for a `DateTime<Utc>`.
pub fn timestamp<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(t))
}

/// `#[serde(serialize_with = "optional_timestamp")]` for an `Option<DateTime<Utc>>`.
pub fn optional_timestamp<S: Serializer>(
    t: &Option<DateTime<Utc>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&format(t)),
        None => s.serialize_none(),
    }
}
