//! Errors as an operator reads them: one line, in words, naming the command's options.

use crate::http::error::ApiError;

/// The whole chain of `error` on one line.
pub fn one_line(error: &anyhow::Error) -> String {
    format!("{error:#}").replace(['\r', '\n'], " ")
}

/// An API error in the words of a command whose options are named after the API's fields
/// (`first_name` → `--first-name`); `labels` renames the others (`retail_stores` →
/// `--store`). `not_found` is what "no such row" means here.
pub fn human(error: ApiError, labels: &[(&str, &str)], not_found: &str) -> anyhow::Error {
    let label = |field: &str| match labels.iter().find(|(f, _)| *f == field) {
        Some((_, label)) => (*label).to_owned(),
        None if field == "password" || field == "new_password" => "password".to_owned(),
        None if field == "non_field_errors" => String::new(),
        None => format!("--{}", field.replace('_', "-")),
    };
    match error {
        ApiError::Validation(errors) => {
            let parts: Vec<String> = errors
                .iter()
                .map(|(field, messages)| {
                    let label = label(field);
                    let text = messages.join(" ");
                    if label.is_empty() {
                        text
                    } else {
                        format!("{label}: {text}")
                    }
                })
                .collect();
            anyhow::anyhow!(parts.join("; "))
        }
        ApiError::BadRequest(detail) | ApiError::Domain { detail, .. } => anyhow::anyhow!(detail),
        ApiError::NotFound => anyhow::anyhow!(not_found.to_owned()),
        ApiError::Commerce(cause) => {
            anyhow::anyhow!("the Commerce platform could not be reached or refused: {cause}")
        }
        ApiError::Internal(cause) => cause,
        other => anyhow::anyhow!(other.to_string()),
    }
}

/// The password policy's refusal in words, for a prompt to show before asking again.
pub fn password_refusal(error: ApiError) -> String {
    one_line(&human(error, &[("password", ""), ("new_password", "")], ""))
}
