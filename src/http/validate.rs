//! Field checks with DRF's messages, collected into one [`FieldErrors`].

use super::error::FieldErrors;

/// Collects the errors of one request body.
#[derive(Debug, Default)]
pub struct Validator {
    pub errors: FieldErrors,
}

impl Validator {
    pub fn new() -> Self {
        Self::default()
    }

    /// A present value that must be filled in (`required`: absent is an error too).
    pub fn required<'v, T>(&mut self, field: &str, value: Option<&'v T>) -> Option<&'v T> {
        if value.is_none() {
            self.errors.add(field, "This field is required.");
        }
        value
    }

    /// Checks a text: not blank (unless `allow_blank`), at most `max` characters, no NUL byte
    /// (PostgreSQL refuses it in text columns).
    pub fn text(&mut self, field: &str, value: &str, max: usize, allow_blank: bool) {
        if !allow_blank && value.trim().is_empty() {
            self.errors.add(field, "This field may not be blank.");
        }
        if value.chars().count() > max {
            self.errors.add(
                field,
                format!("Ensure this field has no more than {max} characters."),
            );
        }
        if value.contains('\0') {
            self.errors.add(field, "Null characters are not allowed.");
        }
    }

    /// A plausible email address (one `@`, a dotted domain, no spaces), at most 254 characters.
    pub fn email(&mut self, field: &str, value: &str) {
        self.text(field, value, 254, false);
        if !value.trim().is_empty() && !is_email(value) {
            self.errors.add(field, "Enter a valid email address.");
        }
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.errors.add(field, message);
    }

    pub fn has(&self, field: &str) -> bool {
        self.errors.contains(field)
    }

    pub fn finish(self) -> Result<(), super::error::ApiError> {
        self.errors.into_result()
    }
}

pub fn is_email(value: &str) -> bool {
    let Some((local, domain)) = value.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
        && !local.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.')
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
        assert!(is_email("firstname.lastname@akinon.com"));
        assert!(is_email("zoë@exämple.de"));
        for bad in [
            "", "a", "a@b", "a b@c.d", "@c.de", "a@.de", "a@de.", "a@b..c", "a@b,c.d",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }
}
