//! Run-time configuration: flags and `KADRO_*` environment variables (a flag wins).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

/// A value that must never reach a log line or a `Debug` print.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Every setting of a kadro process. `--help` lists them with their variables.
#[derive(Clone, Debug, Args)]
pub struct Config {
    /// Database URL: `sqlite://FILE` (created if missing) or `postgres://USER@HOST:PORT/DB`.
    /// A secret: it may hold a password, so it is never shown in help, logs or errors.
    #[arg(
        long,
        env = "KADRO_DATABASE_URL",
        default_value = "sqlite://kadro.db",
        global = true,
        hide_env_values = true
    )]
    pub database_url: Secret,

    /// Address and port to listen on.
    #[arg(
        long,
        env = "KADRO_BIND",
        default_value = "127.0.0.1:8000",
        global = true
    )]
    pub bind: String,

    /// Base of absolute links (pagination, export downloads); default: from the request's Host.
    #[arg(long, env = "KADRO_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,

    /// Directory where export files are written.
    #[arg(
        long,
        env = "KADRO_EXPORT_DIR",
        default_value = "./exports",
        global = true
    )]
    pub export_dir: PathBuf,

    /// Where finished export files are kept: `file://DIR` or `s3://BUCKET/PREFIX`; default:
    /// `file://` + the export directory. With S3 the export directory holds scratch files only.
    #[arg(long, env = "KADRO_EXPORT_STORE", global = true)]
    pub export_store: Option<String>,

    /// Endpoint of an S3-compatible service (e.g. `http://127.0.0.1:9000`); default: AWS S3.
    #[arg(long, env = "KADRO_S3_ENDPOINT", global = true)]
    pub s3_endpoint: Option<String>,

    /// Region of the S3 bucket.
    #[arg(
        long,
        env = "KADRO_S3_REGION",
        default_value = "us-east-1",
        global = true
    )]
    pub s3_region: String,

    /// S3 access key id (the standard AWS variable).
    #[arg(long, env = "AWS_ACCESS_KEY_ID", global = true, hide_env_values = true)]
    pub aws_access_key_id: Option<Secret>,

    /// S3 secret access key (the standard AWS variable); never shown or logged.
    #[arg(
        long,
        env = "AWS_SECRET_ACCESS_KEY",
        global = true,
        hide_env_values = true
    )]
    pub aws_secret_access_key: Option<Secret>,

    /// How long export keys and files live, in seconds.
    #[arg(
        long,
        env = "KADRO_EXPORT_TTL_SECONDS",
        default_value_t = 86_400,
        global = true
    )]
    pub export_ttl_seconds: u64,

    /// Base URL of the Commerce platform; unset: local mode (kadro is the system of record).
    #[arg(long, env = "KADRO_COMMERCE_URL", global = true)]
    pub commerce_url: Option<String>,

    /// Token sent to the Commerce platform as `Authorization: Token …`.
    #[arg(
        long,
        env = "KADRO_COMMERCE_TOKEN",
        global = true,
        hide_env_values = true
    )]
    pub commerce_token: Option<Secret>,

    /// Timeout of each Commerce call, in milliseconds.
    #[arg(
        long,
        env = "KADRO_COMMERCE_TIMEOUT_MS",
        default_value_t = 5_000,
        global = true
    )]
    pub commerce_timeout_ms: u64,

    /// Most Commerce calls in flight at once; further calls wait up to the timeout, then 502.
    #[arg(
        long,
        env = "KADRO_COMMERCE_MAX_IN_FLIGHT",
        default_value_t = 8,
        global = true
    )]
    pub commerce_max_in_flight: usize,

    /// Consecutive Commerce failures or timeouts that open the circuit breaker: while it is
    /// open, Commerce-dependent writes answer 502 at once.
    #[arg(
        long,
        env = "KADRO_COMMERCE_BREAKER_FAILURES",
        default_value_t = 5,
        global = true
    )]
    pub commerce_breaker_failures: u32,

    /// Milliseconds an open breaker waits before it lets one trial call through.
    #[arg(
        long,
        env = "KADRO_COMMERCE_BREAKER_COOLDOWN_MS",
        default_value_t = 5_000,
        global = true
    )]
    pub commerce_breaker_cooldown_ms: u64,

    /// Comma-separated service (Omnitron) tokens that act as superuser.
    #[arg(
        long,
        env = "KADRO_SERVICE_TOKENS",
        value_delimiter = ',',
        global = true,
        hide_env_values = true
    )]
    pub service_tokens: Vec<Secret>,

    /// Key for signed download links; generated and stored in the database when unset.
    #[arg(long, env = "KADRO_SECRET_KEY", global = true, hide_env_values = true)]
    pub secret_key: Option<Secret>,

    /// Minimum password length.
    #[arg(
        long,
        env = "KADRO_PASSWORD_MIN_LENGTH",
        default_value_t = 8,
        global = true
    )]
    pub password_min_length: usize,

    /// Log filter, e.g. `info` or `kadro=debug,sqlx=warn`.
    #[arg(long, env = "KADRO_LOG", default_value = "info", global = true)]
    pub log: String,

    /// Log line format.
    #[arg(
        long,
        env = "KADRO_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,

    /// Background job workers in this process (0: this process runs no jobs).
    #[arg(long, env = "KADRO_WORKERS", default_value_t = 2, global = true)]
    pub workers: usize,

    /// Database connections in the pool.
    #[arg(
        long,
        env = "KADRO_DB_MAX_CONNECTIONS",
        default_value_t = 16,
        global = true
    )]
    pub db_max_connections: u32,

    /// Milliseconds a token's caller may be reused without reading the database (0: never).
    /// Writes through this process forget them at once; other processes' changes are seen
    /// within this time.
    #[arg(long, env = "KADRO_AUTH_CACHE_MS", default_value_t = 0, global = true)]
    pub auth_cache_ms: u64,

    /// Password hashes computed at once; further logins wait, other requests are unaffected.
    #[arg(
        long,
        env = "KADRO_HASH_CONCURRENCY",
        default_value_t = 2,
        global = true
    )]
    pub hash_concurrency: usize,
}

impl Config {
    pub fn commerce_timeout(&self) -> Duration {
        Duration::from_millis(self.commerce_timeout_ms)
    }

    pub fn auth_cache(&self) -> Duration {
        Duration::from_millis(self.auth_cache_ms)
    }

    pub fn export_ttl(&self) -> Duration {
        Duration::from_secs(self.export_ttl_seconds)
    }

    /// Settings with their defaults, as if no flag or variable were given.
    pub fn defaults() -> Self {
        use clap::Parser;
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            config: Config,
        }
        Only::parse_from(["kadro"]).config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_print_hides_the_database_password() {
        let mut config = Config::defaults();
        config.database_url = Secret::new("postgres://kadro:hunter2@db.internal:5432/kadro");
        let printed = format!("{config:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("database_url: Secret(***)"), "{printed}");
    }
}
