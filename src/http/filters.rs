//! Django-filter style query parameters: exact, case-insensitive contains, boolean and enum.
//!
//! Each list reads its filters through a [`FilterParser`] into a typed struct; every bad value
//! is collected and answered at once as a 400 naming the parameters. An empty value means "no
//! filter", as in django-filter.

use super::error::{ApiError, FieldErrors};
use super::request::RequestUrl;

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

    /// A case-insensitive "contains" filter; the text is bound, never spliced into SQL.
    pub fn text(&mut self, name: &str) -> Option<String> {
        let value = self.value(name)?;
        // PostgreSQL refuses NUL in text: answer it as the bad input it is, not a 500.
        if value.contains('\0') {
            self.errors.add(name, "Null characters are not allowed.");
            return None;
        }
        Some(value.to_owned())
    }

    pub fn integer(&mut self, name: &str) -> Option<i64> {
        let raw = self.value(name)?;
        match raw.parse::<i64>() {
            Ok(v) => Some(v),
            Err(_) => {
                self.errors.add(name, "Enter a number.");
                None
            }
        }
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

/// `%value%` for a `LIKE … ESCAPE '\'`, with the pattern characters of the value escaped so
/// `50%` matches the text "50%" and not everything.
pub fn contains_pattern(value: &str) -> String {
    let mut pattern = String::with_capacity(value.len() + 2);
    pattern.push('%');
    for ch in value.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(ch);
    }
    pattern.push('%');
    pattern
}

/// `format=json` is the only renderer; any other value is a 404, as in DRF.
pub fn check_renderer(url: &RequestUrl) -> Result<(), ApiError> {
    match url.get("format") {
        None | Some("json") | Some("") => Ok(()),
        Some(_) => Err(ApiError::NotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_pattern_escapes_wildcards() {
        assert_eq!(contains_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }

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
