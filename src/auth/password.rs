//! Password hashing (Argon2id) off the async runtime, with bounded concurrency so a burst of
//! logins queues for a hashing slot instead of starving every other request.

use std::sync::{Arc, OnceLock};

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use tokio::sync::Semaphore;

use crate::http::error::{ApiError, FieldErrors};

#[derive(Clone, Debug)]
pub struct Passwords {
    slots: Arc<Semaphore>,
    min_length: usize,
}

impl Passwords {
    pub fn new(concurrency: usize, min_length: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(concurrency.max(1))),
            min_length,
        }
    }

    /// Argon2id PHC string for `password`.
    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|e| ApiError::Internal(e.into()))?;
        tokio::task::spawn_blocking(move || hash_now(&password))
            .await
            .map_err(|e| ApiError::Internal(e.into()))?
    }

    /// Whether `password` matches `hash`. An empty or unusable hash never matches, but costs the
    /// same time as a real check so the answer does not reveal whether an account exists.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, ApiError> {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|e| ApiError::Internal(e.into()))?;
        tokio::task::spawn_blocking(move || {
            let real = hash.filter(|h| h.starts_with("$argon2"));
            let (hash, genuine) = match real {
                Some(h) => (h, true),
                None => (dummy_hash().to_owned(), false),
            };
            let Ok(parsed) = PasswordHash::new(&hash) else {
                return false;
            };
            let ok = Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok();
            ok && genuine
        })
        .await
        .map_err(|e| ApiError::Internal(e.into()))
    }

    /// Checks the password policy; `field` names the field in the 400.
    pub fn validate(&self, field: &str, password: &str) -> Result<(), ApiError> {
        let mut errors = FieldErrors::new();
        let length = password.chars().count();
        if length < self.min_length {
            errors.add(
                field,
                format!(
                    "This password is too short. It must contain at least {} characters.",
                    self.min_length
                ),
            );
        }
        if !password.is_empty() && password.chars().all(|c| c.is_ascii_digit()) {
            errors.add(field, "This password is entirely numeric.");
        }
        if COMMON_PASSWORDS.contains(&password.to_lowercase().as_str()) {
            errors.add(field, "This password is too common.");
        }
        if length > 4096 {
            errors.add(field, "Ensure this field has no more than 4096 characters.");
        }
        errors.into_result()
    }
}

/// Hashes synchronously; for the CLI and for seeding, where no runtime thread is at stake.
pub fn hash_now(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("argon2: {e}")))
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_now("kadro-dummy-password").unwrap_or_default())
}

/// The most common passwords of public breach lists (a short excerpt of the list Django's
/// `CommonPasswordValidator` ships); lower case.
const COMMON_PASSWORDS: &[&str] = &[
    "password",
    "password1",
    "password12",
    "password123",
    "passw0rd",
    "p@ssw0rd",
    "12345678",
    "123456789",
    "1234567890",
    "qwerty123",
    "qwertyuiop",
    "1q2w3e4r",
    "1q2w3e4r5t",
    "iloveyou",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "welcome1",
    "welcome123",
    "admin123",
    "administrator",
    "letmein1",
    "trustno1",
    "dragon123",
    "monkey123",
    "superman",
    "starwars",
    "whatever",
    "qazwsxedc",
    "abcd1234",
    "abc12345",
    "11111111",
    "00000000",
    "88888888",
    "changeme",
    "master123",
    "asdfghjkl",
    "zaq12wsx",
    "michael1",
    "charlie1",
    "computer",
    "internet",
    "shadow123",
    "jennifer",
    "passport",
    "football1",
    "liverpool",
    "chelsea1",
    "arsenal1",
    "secret123",
    "default1",
    "test1234",
    "testtest",
    "q1w2e3r4",
    "qwerty12",
    "1qaz2wsx",
    "aa123456",
    "password!",
    "letmein!",
    "welcome!",
    "iloveyou1",
    "loveme123",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_then_verify() {
        let passwords = Passwords::new(2, 8);
        let hash = passwords.hash("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(
            passwords
                .verify("correct horse".into(), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(
            !passwords
                .verify("wrong horse".into(), Some(hash))
                .await
                .unwrap()
        );
        assert!(!passwords.verify("anything".into(), None).await.unwrap());
    }

    #[test]
    fn policy() {
        let passwords = Passwords::new(1, 8);
        assert!(passwords.validate("password", "kadro-is-fine").is_ok());
        assert!(passwords.validate("password", "short").is_err());
        assert!(passwords.validate("password", "123456789012").is_err());
        assert!(passwords.validate("password", "Password123").is_err());
    }
}
