//! The one field validator of both contexts, with Django REST Framework's messages. Every
//! problem of a body is collected into one [`FieldErrors`] and answered at once, before
//! anything is written.

use super::error::{ApiError, FieldErrors};

/// Most ids one list field (`retail_stores`, `permissions`, ...) may carry; keeps a request
/// within what a single `IN (...)` may bind on either backend.
pub const MAX_IDS: usize = 1000;

/// DRF's message for a NUL character (U+0000), which PostgreSQL cannot store in text or JSON.
pub const NULL_CHARACTERS: &str = "Null characters are not allowed.";

/// Collects the field errors of one request body. A field is reported with its first problem:
/// once a field has an error, later checks of it are skipped (as DRF stops at a field's type
/// error), so a body read with a wrong type is not also told it is missing or blank.
#[derive(Debug, Default)]
pub struct Validator {
    errors: FieldErrors,
}

impl Validator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Goes on from the errors already found in a body (its fields of the wrong type).
    pub fn with_errors(errors: FieldErrors) -> Self {
        Self { errors }
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.errors.add(field, message);
    }

    pub fn has(&self, field: &str) -> bool {
        self.errors.contains(field)
    }

    /// Whether any field has an error so far.
    pub fn failed(&self) -> bool {
        !self.errors.is_empty()
    }

    /// A field a create (or a full update) must carry: absent is "This field is required.".
    /// Returns the value, for chaining further checks.
    pub fn required<'v, T>(&mut self, field: &str, value: Option<&'v T>) -> Option<&'v T> {
        if value.is_none() && !self.has(field) {
            self.add(field, "This field is required.");
        }
        value
    }

    /// A text of at most `max` characters, blank only when `allow_blank`, without NUL.
    pub fn text(&mut self, field: &str, value: &str, max: usize, allow_blank: bool) {
        if self.has(field) {
            return;
        }
        if let Some(problem) = text_problem(value, max, allow_blank) {
            self.add(field, problem);
        }
    }

    /// An email address (Django's `EmailField`: at most 254 characters); blank when allowed.
    pub fn email(&mut self, field: &str, value: &str, allow_blank: bool) {
        self.text(field, value, 254, allow_blank);
        if !self.has(field) && !value.is_empty() && !is_email(value) {
            self.add(field, "Enter a valid email address.");
        }
    }

    /// An integer that may not be negative (Omnitron ids).
    pub fn non_negative(&mut self, field: &str, value: Option<i64>) {
        if value.is_some_and(|v| v < 0) && !self.has(field) {
            self.add(field, "Ensure this value is greater than or equal to 0.");
        }
    }

    /// A list of ids of reasonable length.
    pub fn ids(&mut self, field: &str, ids: &[i64]) {
        if ids.len() > MAX_IDS && !self.has(field) {
            self.add(
                field,
                format!("Ensure this field has no more than {MAX_IDS} elements."),
            );
        }
    }

    /// Takes in the field errors of another check (the password policy, ...); any other
    /// error is passed on.
    pub fn absorb(&mut self, result: Result<(), ApiError>) -> Result<(), ApiError> {
        match result {
            Err(ApiError::Validation(errors)) => {
                self.errors.extend(errors);
                Ok(())
            }
            other => other,
        }
    }

    /// `Ok(())` when nothing was found, else the 400 naming every field.
    pub fn finish(self) -> Result<(), ApiError> {
        self.errors.into_result()
    }
}

/// What is wrong with a text value, if anything: NUL characters (PostgreSQL cannot store
/// them), blank when it may not be, or longer than `max` characters.
pub fn text_problem(value: &str, max: usize, allow_blank: bool) -> Option<String> {
    if value.contains('\0') {
        Some(NULL_CHARACTERS.into())
    } else if !allow_blank && value.trim().is_empty() {
        Some("This field may not be blank.".into())
    } else if value.chars().count() > max {
        Some(format!(
            "Ensure this field has no more than {max} characters."
        ))
    } else {
        None
    }
}

/// `local@domain.tld` as Django's `EmailValidator` reads it, letters beyond ASCII allowed: a
/// dot-atom local part of at most 64 bytes, then at least two domain labels of letters, digits
/// and inner hyphens, the last of two characters or more. (The `email_address` crate was
/// weighed: it accepts `_` and `!` in domain labels and one-letter top-level domains, which
/// Django refuses, so it would need these checks anyway.)
pub fn is_email(value: &str) -> bool {
    let Some((local, domain)) = value.rsplit_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels.last().is_some_and(|tld| tld.chars().count() >= 2);
    local_ok && domain_ok
}

/// DRF's message for a primary key that names no row (or a row the caller may not see).
pub fn invalid_pk(id: i64) -> String {
    format!("Invalid pk \"{id}\" - object does not exist.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in [
            "a@b.co",
            "firstname.lastname@akinon.com",
            "first.last+tag@shop.example.com",
            "=cmd@shop.test",
            "zoë@exämple.de",
            "ç@örnek.com.tr",
        ] {
            assert!(is_email(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "a@b",
            "@b.com",
            "@c.de",
            "a@.com",
            "a@.de",
            "a@de.",
            "a b@c.com",
            "a b@c.d",
            "a@b..com",
            "a@b..c",
            "a@b,c.d",
            "a@b.c",
            // Once accepted by the B2B side only.
            "a<b@x.com",
            ".a@x.com",
            "a\"b@x.com",
            "a@-x.com",
            "a@x_y.com",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn text_limits() {
        let mut c = Validator::new();
        c.text("first_name", &"x".repeat(31), 30, false);
        c.text("last_name", "  ", 150, false);
        c.text("username", "a\0b", 150, false);
        c.text("remote_id", "", 255, true);
        let json = match c.finish() {
            Err(ApiError::Validation(e)) => e.to_json(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            json,
            serde_json::json!({
                "first_name": ["Ensure this field has no more than 30 characters."],
                "last_name": ["This field may not be blank."],
                "username": ["Null characters are not allowed."],
            })
        );
    }

    #[test]
    fn a_field_in_error_is_not_checked_again() {
        let mut v = Validator::with_errors(FieldErrors::single("name", "Not a valid string."));
        v.required("name", None::<&String>);
        v.text("name", "", 10, false);
        v.required("code", None::<&String>);
        let json = match v.finish() {
            Err(ApiError::Validation(e)) => e.to_json(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            json,
            serde_json::json!({
                "name": ["Not a valid string."],
                "code": ["This field is required."],
            })
        );
    }

    fn errors(v: Validator) -> serde_json::Value {
        match v.finish() {
            Ok(()) => serde_json::json!({}),
            Err(ApiError::Validation(e)) => e.to_json(),
            Err(other) => panic!("{other:?}"),
        }
    }

    /// Each limit is inclusive: the largest allowed value passes, one more fails.
    #[test]
    fn limits_are_inclusive() {
        let mut v = Validator::new();
        v.text("at_max", &"é".repeat(30), 30, false);
        v.text("over_max", &"é".repeat(31), 30, false);
        v.non_negative("zero", Some(0));
        v.non_negative("minus_one", Some(-1));
        v.non_negative("absent", None);
        v.ids("at_max_ids", &[7; MAX_IDS]);
        v.ids("over_max_ids", &[7; MAX_IDS + 1]);
        assert_eq!(
            errors(v),
            serde_json::json!({
                "over_max": ["Ensure this field has no more than 30 characters."],
                "minus_one": ["Ensure this value is greater than or equal to 0."],
                "over_max_ids": ["Ensure this field has no more than 1000 elements."],
            })
        );
        let local = "l".repeat(64);
        let label = "d".repeat(63);
        assert!(is_email(&format!("{local}@{label}.com")));
        assert!(!is_email(&format!("{local}l@x.com")), "local part over 64");
        assert!(!is_email(&format!("a@{label}d.com")), "label over 63");
        for bad in ["a.@x.com", "a..b@x.com", "a@x-.com", "a@x.c-m.", "a@x.c"] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    /// An email field: blank only where allowed, a field already in error is left alone, and
    /// a bad address is named once.
    #[test]
    fn email_fields() {
        let mut v = Validator::new();
        v.email("blank_allowed", "", true);
        v.email("blank_refused", "", false);
        v.email("good", "a@b.co", false);
        v.email("bad", "a@b", false);
        v.add("typed", "Not a valid string.");
        v.email("typed", "nope", false);
        v.non_negative("typed", Some(-1));
        v.ids("typed", &[1; MAX_IDS + 1]);
        assert!(v.failed() && v.has("bad") && !v.has("good"));
        assert_eq!(
            errors(v),
            serde_json::json!({
                "blank_refused": ["This field may not be blank."],
                "bad": ["Enter a valid email address."],
                "typed": ["Not a valid string."],
            })
        );
        assert!(!Validator::new().failed());
    }

    /// `absorb` keeps field errors for the combined answer and passes any other error on.
    #[test]
    fn absorb_merges_field_errors_only() {
        let mut v = Validator::new();
        v.add("a", "first");
        assert!(v.absorb(Ok(())).is_ok());
        assert!(
            v.absorb(Err(ApiError::Validation(FieldErrors::single(
                "b", "second"
            ))))
            .is_ok()
        );
        assert!(matches!(
            v.absorb(Err(ApiError::NotFound)),
            Err(ApiError::NotFound)
        ));
        assert_eq!(
            errors(v),
            serde_json::json!({"a": ["first"], "b": ["second"]})
        );
        assert_eq!(invalid_pk(42), "Invalid pk \"42\" - object does not exist.");
    }
}
