//! Password hashing (Argon2id) off the async runtime, on a small fixed pool of threads: a
//! burst of logins queues for a hashing thread instead of starving every other request, and
//! the 19 MiB working memory of each hash stays with those few threads (tokio's blocking pool
//! would spread it over up to 512 threads, each keeping its own allocator arena).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};

use std::cell::RefCell;

use argon2::password_hash::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD as PHC_B64;
use rand::RngCore;
use subtle::ConstantTimeEq;

use crate::http::error::{ApiError, FieldErrors};

type HashJob = Box<dyn FnOnce() + Send>;

/// Hashing threads fed by one queue; they end when the last [`Passwords`] is dropped.
#[derive(Debug)]
struct HashPool {
    queue: Mutex<mpsc::Sender<HashJob>>,
}

impl HashPool {
    fn new(threads: usize) -> Self {
        let (sender, receiver) = mpsc::channel::<HashJob>();
        let receiver = Arc::new(Mutex::new(receiver));
        for n in 0..threads.max(1) {
            let receiver = Arc::clone(&receiver);
            let spawned = std::thread::Builder::new()
                .name(format!("kadro-hash-{n}"))
                .spawn(move || {
                    loop {
                        let job = match receiver.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        Self {
            queue: Mutex::new(sender),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: HashJob = Box::new(move || {
            let _ = done.send(work());
        });
        self.queue
            .lock()
            .map_err(|_| ApiError::Internal(anyhow::anyhow!("hashing queue poisoned")))?
            .send(job)
            .map_err(|_| ApiError::Internal(anyhow::anyhow!("no hashing thread")))?;
        result
            .await
            .map_err(|_| ApiError::Internal(anyhow::anyhow!("hashing thread stopped")))
    }
}

#[derive(Clone, Debug)]
pub struct Passwords {
    pool: Arc<HashPool>,
    min_length: usize,
    /// Password checks started, real or against the dummy hash (tests count them).
    verifications: Arc<AtomicU64>,
}

impl Passwords {
    /// `concurrency` hashing threads.
    pub fn new(concurrency: usize, min_length: usize) -> Self {
        Self {
            pool: Arc::new(HashPool::new(concurrency)),
            min_length,
            verifications: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Argon2id PHC string for `password`.
    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        self.pool.run(move || hash_now(&password)).await?
    }

    /// Whether `password` matches `hash`. An empty or unusable hash never matches, but costs the
    /// same time as a real check so the answer does not reveal whether an account exists.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, ApiError> {
        self.verifications.fetch_add(1, Ordering::Relaxed);
        self.pool
            .run(move || {
                if let Some(legacy) = hash.as_deref().filter(|h| super::legacy::is_legacy(h)) {
                    return super::legacy::verify_legacy(&password, legacy);
                }
                let real = hash.filter(|h| h.starts_with("$argon2"));
                let (hash, genuine) = match real {
                    Some(h) => (h, true),
                    None => (dummy_hash().to_owned(), false),
                };
                verify_now(&password, &hash) && genuine
            })
            .await
    }

    /// How many passwords this process has checked so far (each costs one Argon2 hash).
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
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
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let params = Params::default();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2_into(
        Algorithm::Argon2id,
        Version::V0x13,
        &params,
        password.as_bytes(),
        &salt,
        &mut out,
    )
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("argon2: {e}")))?;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        PHC_B64.encode(salt),
        PHC_B64.encode(out)
    ))
}

/// Checks `password` against a PHC string of any Argon2 variant and parameters.
fn verify_now(password: &str, phc: &str) -> bool {
    let check = || -> Option<bool> {
        let parsed = PasswordHash::new(phc).ok()?;
        let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
        let version = match parsed.version {
            Some(v) => Version::try_from(v).ok()?,
            None => Version::default(),
        };
        let params = Params::try_from(&parsed).ok()?;
        let mut salt = [0u8; 64];
        let salt = parsed.salt?.decode_b64(&mut salt).ok()?;
        let expected = parsed.hash?;
        let mut out = vec![0u8; expected.len()];
        argon2_into(
            algorithm,
            version,
            &params,
            password.as_bytes(),
            salt,
            &mut out,
        )
        .ok()?;
        Some(bool::from(out.as_slice().ct_eq(expected.as_bytes())))
    };
    check().unwrap_or(false)
}

thread_local! {
    /// Argon2's working memory (19 MiB with the default parameters), kept by each hashing
    /// thread instead of allocated and freed for every hash: a login storm then costs no more
    /// memory than one hash per hashing thread.
    static ARGON2_MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

fn argon2_into(
    algorithm: Algorithm,
    version: Version,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    ARGON2_MEMORY.with(|memory| {
        let mut blocks = memory.borrow_mut();
        let needed = params.block_count();
        if blocks.len() < needed {
            blocks.resize(needed, Block::default());
        }
        Argon2::new(algorithm, version, params.clone()).hash_password_into_with_memory(
            password,
            salt,
            out,
            &mut blocks[..needed],
        )
    })
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
    fn verifies_hashes_made_elsewhere() {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let salt = SaltString::encode_b64(b"sixteen byte salt").unwrap();
        let params = Params::new(8 * 1024, 1, 1, None).unwrap();
        for algorithm in [Algorithm::Argon2id, Algorithm::Argon2i] {
            let phc = Argon2::new(algorithm, Version::V0x13, params.clone())
                .hash_password(b"from elsewhere", &salt)
                .unwrap()
                .to_string();
            assert!(verify_now("from elsewhere", &phc), "{phc}");
            assert!(!verify_now("From elsewhere", &phc));
        }
        let ours = hash_now("ours").unwrap();
        assert!(
            ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{ours}"
        );
        assert!(PasswordHash::new(&ours).is_ok());
        assert!(!verify_now("ours", "$argon2id$garbage"));
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
