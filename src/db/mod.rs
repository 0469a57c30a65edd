//! Storage: one code base over SQLite and PostgreSQL, chosen at run time from the URL.
//!
//! sqlx's `Any` driver cannot serve both dialects (placeholders, timestamps), so kadro keeps an
//! enum of the two real pools and writes each query once with `$n` placeholders, which both
//! SQLite and PostgreSQL understand. Dialect differences are small named branches on [`Dialect`].

mod counter;
pub mod list;
mod query;
mod value;

pub use counter::count_queries;
pub use query::{Query, Row, Scalar, Target};
pub use value::Arg;

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, PgPool, Postgres, Sqlite, SqlitePool, Transaction};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Which SQL dialect a query is written for, where the two differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// Case-insensitive `LIKE`: PostgreSQL's `ILIKE` uses the trigram indexes; SQLite's `LIKE`
    /// is already case-insensitive for ASCII.
    pub fn ilike(self) -> &'static str {
        match self {
            Dialect::Sqlite => "LIKE",
            Dialect::Postgres => "ILIKE",
        }
    }

    /// `column` equal to `placeholder`, ignoring case as Unicode does. PostgreSQL compares
    /// `lower()`s (its expression indexes); SQLite's `lower()` folds ASCII only, so SQLite
    /// compares under the `UNICODE_NOCASE` collation registered on every connection (its
    /// indexes are in migration 0009).
    pub fn same_text(self, column: &str, placeholder: &str) -> String {
        match self {
            Dialect::Sqlite => format!("{column} = {placeholder} COLLATE {UNICODE_NOCASE}"),
            Dialect::Postgres => format!("lower({column}) = lower({placeholder})"),
        }
    }

    /// An expression that is equal for texts equal but for case (for `GROUP BY`).
    pub fn folded(self, column: &str) -> String {
        match self {
            Dialect::Sqlite => format!("{column} COLLATE {UNICODE_NOCASE}"),
            Dialect::Postgres => format!("lower({column})"),
        }
    }

    /// Locks the selected rows until the transaction ends (PostgreSQL); SQLite's write
    /// transaction already excludes every other writer.
    pub fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => "FOR UPDATE",
        }
    }

    /// Row lock for a claim: PostgreSQL lets concurrent workers skip each other's rows; SQLite
    /// has a single writer, so the claiming `UPDATE` is already exclusive.
    pub fn skip_locked(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => "FOR UPDATE SKIP LOCKED",
        }
    }
}

/// The SQLite collation that compares texts ignoring case for all of Unicode (SQLite's own
/// `NOCASE` folds ASCII only), so lookups and uniqueness agree with PostgreSQL's `lower()`.
pub const UNICODE_NOCASE: &str = "UNICODE_NOCASE";

/// Compares two texts as [`UNICODE_NOCASE`] does.
fn unicode_nocase(a: &str, b: &str) -> std::cmp::Ordering {
    a.chars()
        .flat_map(char::to_lowercase)
        .cmp(b.chars().flat_map(char::to_lowercase))
}

/// A connection pool on one of the two backends, with the count of its [`Writes`].
#[derive(Clone, Debug)]
pub enum Db {
    /// The pool and the writer's turn: SQLite has one writer at a time, and waiting for the
    /// turn in line here is fair and prompt, where SQLite's own busy handler sleeps and retries.
    Sqlite(SqlitePool, Arc<Semaphore>, Writes),
    Postgres(PgPool, Writes),
}

/// How many writes went through one [`Db`]: bumped when a transaction commits and when a
/// statement run on the pool itself changes rows. Caches of this process (the token cache)
/// compare it to know that something may have changed, without reading the database.
#[derive(Clone, Debug, Default)]
pub struct Writes(Arc<AtomicU64>);

impl Writes {
    pub fn count(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    fn bump(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

/// An open transaction; dropped without [`Tx::commit`] it rolls back (and, on SQLite, gives the
/// writer's turn to the next in line).
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>, OwnedSemaphorePermit, Writes),
    Postgres(Transaction<'static, Postgres>, Writes),
}

/// Expands `$body` once per backend with `$conn` bound to that backend's executor, so one
/// query text is type-checked against both drivers.
macro_rules! on_backend {
    ($target:expr, |$conn:ident| $body:expr) => {
        match $target {
            $crate::db::Db::Sqlite($conn, ..) => $body,
            $crate::db::Db::Postgres($conn, _) => $body,
        }
    };
}

/// How long a first connection to PostgreSQL may take before kadro gives up (start-up and
/// every command).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// A connection error in a few words, without sqlx's prefixes or repeated causes.
fn describe(err: &sqlx::Error) -> String {
    match err {
        sqlx::Error::Database(e) => e.message().to_owned(),
        sqlx::Error::Io(e) => match e.kind() {
            std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
            std::io::ErrorKind::TimedOut => "timed out".into(),
            _ => e.to_string(),
        },
        sqlx::Error::Configuration(e) => e.to_string(),
        sqlx::Error::PoolTimedOut => "no connection within the pool's timeout".into(),
        other => other.to_string(),
    }
}

/// Where `url` points, for people: the SQLite file (absolute once it exists) or PostgreSQL's
/// `HOST:PORT/DATABASE`, never a password.
pub fn location(url: &str) -> String {
    if let Ok(pg) = PgConnectOptions::from_str(url)
        && !url.starts_with("sqlite:")
    {
        let database = pg.get_database().unwrap_or_default();
        return format!("PostgreSQL {}:{}/{database}", pg.get_host(), pg.get_port());
    }
    match SqliteConnectOptions::from_str(url) {
        Ok(sqlite) => {
            let file = sqlite.get_filename();
            let file = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_owned());
            format!("SQLite {}", file.display())
        }
        Err(_) => "an unsupported database".into(),
    }
}

/// Pool sizing and connection settings.
#[derive(Clone, Debug)]
pub struct DbOptions {
    pub max_connections: u32,
}

impl Default for DbOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
        }
    }
}

impl Db {
    /// Opens a pool for `url` (`sqlite://path` or `postgres://…`). A SQLite file is created when
    /// missing, in WAL mode with foreign keys on and a busy timeout. A PostgreSQL server that
    /// does not answer within [`CONNECT_TIMEOUT`] is an error at once, in words an operator can
    /// act on (`cannot connect to HOST:PORT: connection refused`); the URL is never repeated.
    pub async fn connect(url: &str, options: &DbOptions) -> anyhow::Result<Db> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let connect = PgConnectOptions::from_str(url)
                .map_err(|e| anyhow::anyhow!("invalid database URL: {}", describe(&e)))?;
            let server = format!("{}:{}", connect.get_host(), connect.get_port());
            // One connection first, bounded: the pool would retry a refused connection until
            // its acquire timeout and then report only that it timed out.
            match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&connect)).await
            {
                Ok(Ok(probe)) => probe.close().await?,
                Ok(Err(e)) => anyhow::bail!("cannot connect to {server}: {}", describe(&e)),
                Err(_) => anyhow::bail!(
                    "cannot connect to {server}: no answer within {} s",
                    CONNECT_TIMEOUT.as_secs()
                ),
            }
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(Duration::from_secs(10))
                .connect_lazy_with(connect);
            Ok(Db::Postgres(pool, Writes::default()))
        } else if url.starts_with("sqlite:") {
            let connect = SqliteConnectOptions::from_str(url)
                .map_err(|e| anyhow::anyhow!("invalid database URL: {}", describe(&e)))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                // REGEXP (sqlx's, on the `regex` crate) answers case-insensitive "contains"
                // for non-ASCII text, which SQLite's LIKE compares case-sensitively.
                .with_regexp()
                .collation(UNICODE_NOCASE, unicode_nocase);
            let file = connect.get_filename().display().to_string();
            let pool = SqlitePoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(connect)
                .await
                .map_err(|e| {
                    anyhow::anyhow!("cannot open the SQLite database {file}: {}", describe(&e))
                })?;
            Ok(Db::Sqlite(
                pool,
                Arc::new(Semaphore::new(1)),
                Writes::default(),
            ))
        } else {
            anyhow::bail!("unsupported database URL (expected sqlite:// or postgres://)")
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Db::Sqlite(..) => Dialect::Sqlite,
            Db::Postgres(..) => Dialect::Postgres,
        }
    }

    /// The writes that went through this pool (shared by its clones).
    pub fn writes(&self) -> &Writes {
        match self {
            Db::Sqlite(_, _, writes) | Db::Postgres(_, writes) => writes,
        }
    }

    /// The PostgreSQL pool, for what only PostgreSQL offers (`LISTEN`).
    pub fn postgres(&self) -> Option<&PgPool> {
        match self {
            Db::Postgres(pool, _) => Some(pool),
            Db::Sqlite(..) => None,
        }
    }

    /// Applies the embedded migrations of this backend's dialect.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            Db::Sqlite(pool, ..) => sqlx::migrate!("migrations/sqlite").run(pool).await?,
            Db::Postgres(pool, _) => sqlx::migrate!("migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        counter::counted();
        Ok(match self {
            // IMMEDIATE takes the write lock up front (waiting out the busy timeout): a deferred
            // transaction that reads first fails at once with SQLITE_BUSY when it tries to write
            // after another connection committed.
            Db::Sqlite(pool, writer, writes) => {
                let turn = Arc::clone(writer)
                    .acquire_owned()
                    .await
                    .map_err(|_| sqlx::Error::PoolClosed)?;
                let tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                Tx::Sqlite(tx, turn, writes.clone())
            }
            Db::Postgres(pool, writes) => Tx::Postgres(pool.begin().await?, writes.clone()),
        })
    }

    /// SQLite only: caps what SQLite keeps for the page caches of all of this process's
    /// connections at `mb` megabytes (`PRAGMA soft_heap_limit`, process-wide; 0: no cap). Past
    /// it SQLite reuses cached pages instead of allocating more, so memory does not grow with
    /// the pool: each connection would otherwise keep up to 2 MB of pages of its own.
    pub async fn limit_sqlite_cache(&self, mb: u32) -> Result<(), sqlx::Error> {
        if matches!(self, Db::Sqlite(..)) && mb > 0 {
            let bytes = u64::from(mb) * 1024 * 1024;
            Query::new(format!("PRAGMA soft_heap_limit = {bytes}"))
                .scalar::<i64>(self)
                .await?;
        }
        Ok(())
    }

    /// Cheap round trip for readiness probes.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        // A read: `execute` on the pool would count a changed row as one of its writes.
        Query::new("SELECT CAST(1 AS BIGINT)")
            .scalar::<i64>(self)
            .await
            .map(|_| ())
    }

    pub async fn close(&self) {
        on_backend!(self, |pool| pool.close().await)
    }

    /// The pool's connections now: (open, idle); open minus idle are in use.
    pub fn pool_use(&self) -> (u32, usize) {
        on_backend!(self, |pool| (pool.size(), pool.num_idle()))
    }
}

impl Tx {
    pub fn dialect(&self) -> Dialect {
        match self {
            Tx::Sqlite(..) => Dialect::Sqlite,
            Tx::Postgres(..) => Dialect::Postgres,
        }
    }

    /// Commits a transaction that only keeps records nothing cached depends on (login
    /// guards): unlike [`Tx::commit`] it is not counted as one of the pool's writes, so the
    /// token cache keeps what it holds.
    pub async fn commit_bookkeeping(self) -> Result<(), sqlx::Error> {
        counter::counted();
        match self {
            Tx::Sqlite(tx, _turn, _) => tx.commit().await,
            Tx::Postgres(tx, _) => tx.commit().await,
        }
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        counter::counted();
        let writes = match self {
            Tx::Sqlite(tx, _turn, writes) => {
                tx.commit().await?;
                writes
            }
            Tx::Postgres(tx, writes) => {
                tx.commit().await?;
                writes
            }
        };
        writes.bump();
        Ok(())
    }
}

/// Maps a database error of either backend to "this row broke a unique constraint".
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.is_unique_violation())
}

/// Maps a database error of either backend to "this row references a missing row".
pub fn is_foreign_key_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.is_foreign_key_violation())
}
