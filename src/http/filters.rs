//! Django-filter style query parameters: exact, case-insensitive contains, boolean and enum.
//!
//! Each list has a typed filter struct that implements [`FromQuery`]; handlers receive it
//! already parsed through the [`Filter`] extractor. Every bad value is collected and answered
//! at once as a 400 naming the parameters. An empty value means "no filter", as in
//! django-filter. What a filter does to SQL is `db::list`'s business.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::error::{ApiError, FieldErrors};
use super::request::RequestUrl;

/// A list filter read from the query string; unknown parameters are ignored.
pub trait FromQuery: Sized {
    fn from_query(p: &mut FilterParser<'_>) -> Self;

    /// Parses `url`: the filter, or the 400 naming every bad parameter.
    fn parse(url: &RequestUrl) -> Result<Self, ApiError> {
        let mut p = FilterParser::new(url);
        let filter = Self::from_query(&mut p);
        p.finish()?;
        Ok(filter)
    }
}

/// Lists without filters.
impl FromQuery for () {
    fn from_query(_: &mut FilterParser<'_>) -> Self {}
}

/// The typed filter of a list request.
#[derive(Clone, Debug)]
pub struct Filter<F>(pub F);

impl<S: Send + Sync, F: FromQuery> FromRequestParts<S> for Filter<F> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let url = RequestUrl::from_request_parts(parts, state).await?;
        F::parse(&url).map(Filter)
    }
}

pub struct FilterParser<'a> {
    url: &'a RequestUrl,
    errors: FieldErrors,
}

impl<'a> FilterParser<'a> {
    pub fn new(url: &'a RequestUrl) -> Self {
        Self {
            url,
            errors: FieldErrors::new(),
        }
    }

    fn value(&self, name: &str) -> Option<&'a str> {
        self.url.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    /// A case-insensitive "contains" filter; the text is bound, never spliced into SQL (a NUL
    /// character never gets here: [`RequestUrl`] refuses it).
    pub fn text(&mut self, name: &str) -> Option<String> {
        self.value(name).map(str::to_owned)
    }

    pub fn integer(&mut self, name: &str) -> Option<i64> {
        let raw = self.value(name)?;
        // A number without a fractional part (`7.0`) is that integer, as django-filter reads it.
        let whole = || {
            raw.parse::<f64>()
                .ok()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        };
        match raw.parse::<i64>().ok().or_else(whole) {
            Some(v) => Some(v),
            None => {
                self.errors.add(name, "Enter a number.");
                None
            }
        }
    }

    /// A date and time (RFC 3339, or a date meaning its midnight UTC).
    pub fn datetime(&mut self, name: &str) -> Option<chrono::DateTime<chrono::Utc>> {
        let raw = self.value(name)?;
        let parsed = chrono::DateTime::parse_from_rfc3339(raw)
            .map(|t| t.to_utc())
            .ok()
            .or_else(|| {
                chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                    .ok()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map(|t| t.and_utc())
            });
        if parsed.is_none() {
            self.errors.add(name, "Enter a valid date/time.");
        }
        parsed
    }

    pub fn boolean(&mut self, name: &str) -> Option<bool> {
        let raw = self.value(name)?;
        match parse_bool(raw) {
            Some(v) => Some(v),
            None => {
                self.errors.add(
                    name,
                    format!("Select a valid choice. {raw} is not one of the available choices."),
                );
                None
            }
        }
    }

    pub fn choice(&mut self, name: &str, choices: &[&'static str]) -> Option<&'static str> {
        let raw = self.value(name)?;
        match choices.iter().find(|c| **c == raw) {
            Some(c) => Some(*c),
            None => {
                self.errors.add(
                    name,
                    format!("Select a valid choice. {raw} is not one of the available choices."),
                );
                None
            }
        }
    }

    /// Ends parsing: the 400 listing every bad parameter, if any.
    pub fn finish(self) -> Result<(), ApiError> {
        self.errors.into_result()
    }
}

/// Django's boolean spellings.
pub fn parse_bool(raw: &str) -> Option<bool> {
    match raw {
        "true" | "True" | "1" => Some(true),
        "false" | "False" | "0" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn django_booleans() {
        for t in ["true", "True", "1"] {
            assert_eq!(parse_bool(t), Some(true));
        }
        for f in ["false", "False", "0"] {
            assert_eq!(parse_bool(f), Some(false));
        }
        assert_eq!(parse_bool("yes"), None);
    }
}
