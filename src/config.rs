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

/// The help heading of the options every command takes; the command line keeps these three
/// global and every other field to `kadro serve` (and bare `kadro`), whatever its attributes say.
pub const GLOBAL_OPTIONS: &str = "Global options";

/// Every setting of a kadro process: flags of `kadro serve` and `KADRO_*` variables, which
/// every other command reads too. `kadro serve --help` lists them with their variables.
#[derive(Clone, Debug, Args)]
pub struct Config {
    /// Database URL: `sqlite://FILE` (created if missing) or `postgres://USER@HOST:PORT/DB`.
    /// A secret: it may hold a password, so it is never shown in help, logs or errors.
    #[arg(
        long,
        env = "KADRO_DATABASE_URL",
        default_value = "sqlite://kadro.db",
        hide_env_values = true,
        global = true,
        help_heading = GLOBAL_OPTIONS
    )]
    pub database_url: Secret,

    /// A read replica of the PostgreSQL database (same form, a secret too): export rows are read
    /// from it, everything else from the primary. Unset: the primary serves every read.
    #[arg(long, env = "KADRO_DATABASE_REPLICA_URL", hide_env_values = true)]
    pub database_replica_url: Option<Secret>,

    /// Address and port to listen on.
    #[arg(long, env = "KADRO_BIND", default_value = "127.0.0.1:8000")]
    pub bind: String,

    /// Base of absolute links (pagination, export downloads); default: from the request's Host.
    #[arg(long, env = "KADRO_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Host names this server answers for, comma-separated, as Django's `ALLOWED_HOSTS`:
    /// `api.example.com`, `.example.com` (the domain and its subdomains), `*` (any). A request
    /// with another `Host` answers 400. Default: the bind address, `localhost`, `127.0.0.1` and
    /// the host of `KADRO_PUBLIC_URL`.
    #[arg(
        long,
        env = "KADRO_ALLOWED_HOSTS",
        value_delimiter = ',',
        global = true
    )]
    pub allowed_hosts: Vec<String>,

    /// Milliseconds a client has to send a request's head and body (and a new connection its
    /// first request); later, the connection is answered 408 or closed.
    #[arg(
        long,
        env = "KADRO_REQUEST_READ_TIMEOUT_MS",
        default_value_t = 10_000,
        value_parser = clap::value_parser!(u64).range(1..),
        global = true
    )]
    pub request_read_timeout_ms: u64,

    /// Milliseconds a kept-alive connection may wait for its next request before it is closed.
    #[arg(
        long,
        env = "KADRO_IDLE_TIMEOUT_MS",
        default_value_t = 75_000,
        value_parser = clap::value_parser!(u64).range(1..),
        global = true
    )]
    pub idle_timeout_ms: u64,

    /// Milliseconds a handler has to start its answer (the head; a download may stream longer);
    /// later, the request answers 504.
    #[arg(
        long,
        env = "KADRO_HANDLER_TIMEOUT_MS",
        default_value_t = 30_000,
        value_parser = clap::value_parser!(u64).range(1..),
        global = true
    )]
    pub handler_timeout_ms: u64,

    /// Most client connections open at once; further clients wait to be accepted. Default:
    /// the open-files soft limit less what the database pool and Commerce calls need.
    #[arg(long, env = "KADRO_MAX_CONNECTIONS", global = true)]
    pub max_connections: Option<usize>,

    /// Directory where export files are written.
    #[arg(long, env = "KADRO_EXPORT_DIR", default_value = "./exports")]
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
    #[arg(long, env = "KADRO_EXPORT_TTL_SECONDS", default_value_t = 86_400)]
    pub export_ttl_seconds: u64,

    /// Largest upload an import accepts, in bytes (413 past it); other bodies keep 1 MiB.
    #[arg(long, env = "KADRO_IMPORT_MAX_BYTES", default_value_t = 1 << 30)]
    pub import_max_bytes: u64,

    /// How long an import's key, status and error report live, in seconds from the upload; the
    /// periodic cleanup then deletes them (and an upload left behind by an unfinished import).
    #[arg(long, env = "KADRO_IMPORT_RETENTION_SECONDS", default_value_t = 86_400)]
    pub import_retention_seconds: u64,

    /// Rows an import writes per transaction: a restarted import resumes after the last
    /// committed batch. Larger batches mean fewer commits; smaller ones less work redone.
    #[arg(long, env = "KADRO_IMPORT_BATCH_ROWS", default_value_t = 1000,
        value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub import_batch_rows: u32,

    /// How long audit events are kept, in days; older ones are deleted by the periodic cleanup.
    #[arg(long, env = "KADRO_AUDIT_RETENTION_DAYS", default_value_t = 365)]
    pub audit_retention_days: u32,

    /// Timeout of each webhook delivery attempt, in milliseconds (connecting, sending and
    /// reading the answer's first bytes); a slower receiver counts as a failed attempt.
    #[arg(long, env = "KADRO_WEBHOOK_TIMEOUT_MS", default_value_t = 10_000)]
    pub webhook_timeout_ms: u64,

    /// Let webhooks use `http` URLs and private, loopback and link-local addresses (`1`);
    /// by default only `https` URLs on public addresses are accepted and delivered to.
    #[arg(
        long,
        env = "KADRO_WEBHOOK_ALLOW_PRIVATE",
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub webhook_allow_private: bool,

    /// Failed delivery attempts in a row (no 2xx in between) after which a webhook is
    /// deactivated and its unfinished deliveries are marked failed; `0` never deactivates.
    #[arg(long, env = "KADRO_WEBHOOK_DISABLE_AFTER", default_value_t = 100)]
    pub webhook_disable_after: u32,

    /// Base URL of the Commerce platform; unset: local mode (kadro is the system of record).
    #[arg(long, env = "KADRO_COMMERCE_URL")]
    pub commerce_url: Option<String>,

    /// Token sent to the Commerce platform as `Authorization: Token …`.
    #[arg(long, env = "KADRO_COMMERCE_TOKEN", hide_env_values = true)]
    pub commerce_token: Option<Secret>,

    /// Timeout of each Commerce call, in milliseconds.
    #[arg(long, env = "KADRO_COMMERCE_TIMEOUT_MS", default_value_t = 5_000)]
    pub commerce_timeout_ms: u64,

    /// Most Commerce calls in flight at once; further calls wait up to the timeout, then 502.
    #[arg(long, env = "KADRO_COMMERCE_MAX_IN_FLIGHT", default_value_t = 8)]
    pub commerce_max_in_flight: usize,

    /// Consecutive Commerce failures or timeouts that open the circuit breaker: while it is
    /// open, Commerce-dependent writes answer 502 at once.
    #[arg(long, env = "KADRO_COMMERCE_BREAKER_FAILURES", default_value_t = 5)]
    pub commerce_breaker_failures: u32,

    /// Milliseconds an open breaker waits before it lets one trial call through.
    #[arg(
        long,
        env = "KADRO_COMMERCE_BREAKER_COOLDOWN_MS",
        default_value_t = 5_000
    )]
    pub commerce_breaker_cooldown_ms: u64,

    /// Comma-separated service (Omnitron) tokens that act as superuser.
    #[arg(
        long,
        env = "KADRO_SERVICE_TOKENS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub service_tokens: Vec<Secret>,

    /// Key for signed download links; generated and stored in the database when unset.
    #[arg(long, env = "KADRO_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<Secret>,

    /// Minimum password length.
    #[arg(long, env = "KADRO_PASSWORD_MIN_LENGTH", default_value_t = 8)]
    pub password_min_length: usize,

    /// The retail store (id) of a staff created over SCIM without `retailStores`; unset, such
    /// a create is refused.
    #[arg(long, env = "KADRO_SCIM_DEFAULT_STORE")]
    pub scim_default_store: Option<i64>,

    /// Log filter, e.g. `info` or `kadro=debug,sqlx=warn`.
    #[arg(
        long,
        env = "KADRO_LOG",
        default_value = "info",
        global = true,
        help_heading = GLOBAL_OPTIONS
    )]
    pub log: String,

    /// Log line format.
    #[arg(
        long,
        env = "KADRO_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true,
        help_heading = GLOBAL_OPTIONS
    )]
    pub log_format: LogFormat,

    /// Background job workers in this process (0: this process runs no jobs).
    #[arg(long, env = "KADRO_WORKERS", default_value_t = 2)]
    pub workers: usize,

    /// Database connections in the pool.
    #[arg(long, env = "KADRO_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,

    /// SQLite only: megabytes SQLite may keep for the page caches of all the pool's
    /// connections together (a soft heap limit for the process; 0: none). Without it each
    /// connection keeps up to 2 MB of pages of its own, so memory grows with the pool size.
    #[arg(long, env = "KADRO_SQLITE_CACHE_MB", default_value_t = 24)]
    pub sqlite_cache_mb: u32,

    /// Milliseconds a token's caller may be reused without reading the database (0: never).
    /// Writes through this process forget them at once, and so do other nodes' changes on
    /// PostgreSQL (LISTEN/NOTIFY); on SQLite other processes' changes are seen within this time.
    #[arg(long, env = "KADRO_AUTH_CACHE_MS", default_value_t = 5_000)]
    pub auth_cache_ms: u64,

    /// Password hashes computed at once; further logins wait, other requests are unaffected.
    #[arg(long, env = "KADRO_HASH_CONCURRENCY", default_value_t = 2)]
    pub hash_concurrency: usize,

    /// Wrong passwords in a row that lock an account's login (0: no lockout).
    #[arg(
        long,
        env = "KADRO_LOGIN_MAX_FAILURES",
        default_value_t = 5,
        global = true
    )]
    pub login_max_failures: u32,

    /// Seconds the first lock lasts; each further lock doubles it, up to 15 minutes.
    #[arg(
        long,
        env = "KADRO_LOGIN_LOCKOUT_SECONDS",
        default_value_t = 60,
        global = true
    )]
    pub login_lockout_seconds: u64,

    /// Login attempts one client address may make a minute, both login endpoints together
    /// (0: no limit); counted in each process's memory.
    #[arg(
        long,
        env = "KADRO_LOGIN_RATE_PER_MINUTE",
        default_value_t = 300,
        global = true
    )]
    pub login_rate_per_minute: u32,

    /// Comma-separated proxy addresses or CIDR ranges whose `X-Forwarded-For` is believed.
    #[arg(
        long,
        env = "KADRO_TRUSTED_PROXIES",
        value_delimiter = ',',
        global = true
    )]
    pub trusted_proxies: Vec<String>,

    /// Seconds a token lives after it is issued; unset: tokens live until revoked (as DRF's).
    #[arg(long, env = "KADRO_TOKEN_TTL_SECONDS", global = true)]
    pub token_ttl_seconds: Option<u64>,
}

impl Config {
    pub fn commerce_timeout(&self) -> Duration {
        Duration::from_millis(self.commerce_timeout_ms)
    }

    pub fn webhook_timeout(&self) -> Duration {
        Duration::from_millis(self.webhook_timeout_ms)
    }

    pub fn auth_cache(&self) -> Duration {
        Duration::from_millis(self.auth_cache_ms)
    }

    pub fn token_ttl(&self) -> Option<Duration> {
        self.token_ttl_seconds.map(Duration::from_secs)
    }

    pub fn audit_retention(&self) -> chrono::Duration {
        chrono::Duration::days(i64::from(self.audit_retention_days))
    }

    pub fn export_ttl(&self) -> Duration {
        Duration::from_secs(self.export_ttl_seconds)
    }

    pub fn import_retention(&self) -> chrono::Duration {
        chrono::Duration::seconds(i64::try_from(self.import_retention_seconds).unwrap_or(i64::MAX))
    }

    pub fn request_read_timeout(&self) -> Duration {
        Duration::from_millis(self.request_read_timeout_ms)
    }

    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms)
    }

    pub fn handler_timeout(&self) -> Duration {
        Duration::from_millis(self.handler_timeout_ms)
    }

    /// `KADRO_MAX_CONNECTIONS`, or what the open-files limit leaves after the descriptors the
    /// process needs besides its clients: each database connection (three for SQLite's file,
    /// journal and shared memory), each Commerce call, and a margin for export files, the
    /// listener and the runtime.
    pub fn max_connections(&self) -> usize {
        if let Some(max) = self.max_connections {
            return max.max(1);
        }
        let reserved =
            3 * self.db_max_connections as u64 + 2 * self.commerce_max_in_flight as u64 + 64;
        let limit = open_files_limit();
        usize::try_from(limit.saturating_sub(reserved).max(16)).unwrap_or(usize::MAX)
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

/// The soft limit on open files (1024 where it cannot be read).
fn open_files_limit() -> u64 {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, getrlimit};
        getrlimit(Resource::Nofile).current.unwrap_or(1 << 20)
    }
    #[cfg(not(unix))]
    {
        1024
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

    #[test]
    fn webhook_private_targets_are_refused_unless_allowed() {
        use clap::Parser;
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            config: Config,
        }
        assert!(!Config::defaults().webhook_allow_private);
        let allowed = Only::parse_from(["kadro", "--webhook-allow-private"]).config;
        assert!(allowed.webhook_allow_private);
    }
}
