//! The test harness: a real kadro on a random port, over a fresh database per test.

use std::path::PathBuf;
use std::time::Duration;

use kadro::app::App;
use kadro::auth::token::{self, AccountKind};
use kadro::b2b::accounts::{self, NewStaffAccount};
use kadro::config::{Config, Secret};
use kadro::db::Query;
use kadro::state::AppState;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database made for one test and removed when the test ends (even when it panics).
pub struct TestDb {
    pub url: String,
    sqlite_file: Option<PathBuf>,
    postgres: Option<(String, String)>,
}

impl TestDb {
    pub async fn create(backend: Backend) -> Option<TestDb> {
        let name = format!("kadro_test_{}", uuid::Uuid::new_v4().simple());
        match backend {
            Backend::Sqlite => {
                let file = std::env::temp_dir().join(format!("{name}.db"));
                Some(TestDb {
                    url: format!("sqlite://{}", file.display()),
                    sqlite_file: Some(file),
                    postgres: None,
                })
            }
            Backend::Postgres => {
                // Without the variable at build time the PostgreSQL variants are ignored
                // (`build.rs`); a binary built with it must run with it.
                let admin_url = std::env::var("KADRO_TEST_DATABASE_URL").expect(
                    "the tests were built with KADRO_TEST_DATABASE_URL set, but it is not set now",
                );
                let admin = match sqlx::PgPool::connect(&admin_url).await {
                    Ok(pool) => pool,
                    Err(e) if std::env::var("KADRO_TEST_REQUIRE_POSTGRES").is_err() => {
                        eprintln!(
                            "\n*** PostgreSQL at {admin_url} is unreachable ({e}): SKIPPING ***\n"
                        );
                        return None;
                    }
                    Err(e) => panic!("PostgreSQL is required but unreachable: {e}"),
                };
                let (base, _) = admin_url
                    .rsplit_once('/')
                    .expect("database URL with a database name");
                let template = postgres_template(&admin, base).await;
                sqlx::query(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
                    .execute(&admin)
                    .await
                    .expect("create test database");
                admin.close().await;
                Some(TestDb {
                    url: format!("{base}/{name}"),
                    sqlite_file: None,
                    postgres: Some((admin_url, name)),
                })
            }
        }
    }
}

/// The migrated database every PostgreSQL test database is copied from, named after the
/// migrations it holds: a test pays one file copy instead of running every migration (about
/// 4 s each on a loaded 2-core machine). Made once per set of migrations, by whichever test
/// process gets there first: it is built under a name of its own and renamed when complete,
/// so no test ever copies a half-migrated template.
async fn postgres_template(admin: &sqlx::PgPool, base_url: &str) -> String {
    static TEMPLATE: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    TEMPLATE
        .get_or_init(|| async {
            let name = format!("kadro_template_{:016x}", migrations_fingerprint());
            let exists = |name: String| async move {
                sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
                    .bind(name)
                    .fetch_one(admin)
                    .await
                    .expect("look up the template")
                    > 0
            };
            if exists(name.clone()).await {
                return name;
            }
            let building = format!("kadro_building_{}", uuid::Uuid::new_v4().simple());
            sqlx::query(&format!("CREATE DATABASE {building}"))
                .execute(admin)
                .await
                .expect("create the template");
            let db = kadro::db::Db::connect(
                &format!("{base_url}/{building}"),
                &kadro::db::DbOptions { max_connections: 1 },
            )
            .await
            .expect("connect to the template");
            db.migrate().await.expect("migrate the template");
            db.close().await;
            // A closed connection's server process may linger a moment, and a database with a
            // session cannot be renamed: end any, and try again until published.
            for _ in 0..50 {
                let _ = sqlx::query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                )
                .bind(&building)
                .execute(admin)
                .await;
                let renamed = sqlx::query(&format!("ALTER DATABASE {building} RENAME TO {name}"))
                    .execute(admin)
                    .await;
                if renamed.is_ok() {
                    return name;
                }
                if exists(name.clone()).await {
                    // Another test process published the same template first.
                    let _ =
                        sqlx::query(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
                            .execute(admin)
                            .await;
                    return name;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("the template {name} could not be published")
        })
        .await
        .clone()
}

/// A hash of the PostgreSQL migrations' names and texts.
fn migrations_fingerprint() -> u64 {
    use std::hash::{Hash, Hasher};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("migrations directory")
        .map(|e| e.expect("migration file").path())
        .collect();
    files.sort();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for file in files {
        file.file_name().hash(&mut hasher);
        std::fs::read(&file).expect("migration").hash(&mut hasher);
    }
    hasher.finish()
}

impl TestDb {
    /// PostgreSQL only: the administrator's URL and this database's name.
    pub fn postgres_admin(&self) -> Option<(&str, &str)> {
        self.postgres
            .as_ref()
            .map(|(admin, name)| (admin.as_str(), name.as_str()))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(file) = &self.sqlite_file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
            }
        }
        if let Some((admin_url, name)) = self.postgres.take() {
            // Drop runs outside any async context we may block, so use a thread of its own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async {
                    if let Ok(admin) = sqlx::PgPool::connect(&admin_url).await {
                        let _ =
                            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                                .execute(&admin)
                                .await;
                        admin.close().await;
                    }
                });
            })
            .join();
        }
    }
}

/// A running kadro with a superuser token.
pub struct TestApp {
    pub backend: Backend,
    pub base: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub jobs: kadro::jobs::worker::JobRunner,
    /// Token of the superuser `root@example.com`.
    pub token: String,
    pub stop: CancellationToken,
    pub server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    pub export_dir: tempdir::TempDirGuard,
    pub db: TestDb,
}

pub mod tempdir {
    use std::path::PathBuf;
    /// A directory removed when the test ends.
    pub struct TempDirGuard(pub PathBuf);
    impl Drop for TempDirGuard {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

pub fn test_config(url: &str, export_dir: &std::path::Path) -> Config {
    let mut config = Config::defaults();
    config.database_url = Secret::new(url);
    config.database_replica_url = None;
    config.bind = "127.0.0.1:0".into();
    config.public_url = None;
    config.export_dir = export_dir.to_owned();
    config.export_store = None;
    config.s3_endpoint = None;
    config.aws_access_key_id = None;
    config.aws_secret_access_key = None;
    config.commerce_url = None;
    config.commerce_token = None;
    config.service_tokens = vec![];
    config.secret_key = None;
    config.workers = 0;
    config.db_max_connections = 8;
    config
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Starts kadro with `adjust` applied to the test configuration.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Option<TestApp> {
        Self::spawn_with_state(backend, adjust, |_| {}).await
    }

    /// Starts kadro with `adjust` applied to the test configuration and `replace` to the
    /// state it serves (to put in a store of the test's own, for example).
    pub async fn spawn_with_state(
        backend: Backend,
        adjust: impl FnOnce(&mut Config),
        replace: impl FnOnce(&mut AppState),
    ) -> Option<TestApp> {
        let db = TestDb::create(backend).await?;
        let export_dir =
            std::env::temp_dir().join(format!("kadro-exports-{}", uuid::Uuid::new_v4().simple()));
        let mut config = test_config(&db.url, &export_dir);
        adjust(&mut config);
        let mut app = App::build(config).await.expect("build app");
        replace(&mut app.state);
        let state = app.state.clone();
        let jobs = app.jobs.clone();
        let token = create_b2b_staff(&state, "root@example.com", true, None)
            .await
            .1;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let stop = CancellationToken::new();
        let server = tokio::spawn(app.serve(listener, stop.clone()));
        Some(TestApp {
            backend,
            base,
            client: reqwest::Client::builder()
                .timeout(2 * WAIT)
                .build()
                .expect("HTTP client"),
            state,
            jobs,
            token,
            stop,
            server: Some(server),
            export_dir: tempdir::TempDirGuard(export_dir),
            db,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends a request with `token` (none when `None`) and a JSON body when given.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, self.url(path));
        if let Some(token) = token {
            req = req.header("Authorization", format!("Token {token}"));
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let response = req.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, json)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(&self.token.clone()), None)
            .await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(&self.token.clone()), Some(body))
            .await
    }

    pub async fn count(&self, sql: &str) -> i64 {
        Query::new(sql)
            .scalar(&self.state.db)
            .await
            .expect("count query")
    }

    /// Runs queued jobs until none is due; returns how many steps ran.
    pub async fn drain_jobs(&self) -> usize {
        let stop = CancellationToken::new();
        let mut steps = 0;
        while self
            .jobs
            .run_one(&self.state, "test-worker", &stop)
            .await
            .expect("job step")
            != kadro::jobs::worker::Step::Idle
        {
            steps += 1;
            assert!(steps < 10_000, "job queue does not drain");
        }
        steps
    }
}

/// Creates a B2B staff account with a token; returns (id, token).
pub async fn create_b2b_staff(
    state: &AppState,
    email: &str,
    superuser: bool,
    division: Option<i64>,
) -> (i64, String) {
    let mut tx = state.db.begin().await.expect("begin");
    let id = accounts::insert_staff(
        &mut tx,
        NewStaffAccount {
            email,
            password_hash: "",
            is_superuser: superuser,
            division_id: division,
        },
    )
    .await
    .expect("insert staff");
    let token = token::issue(&mut tx, AccountKind::User, id)
        .await
        .expect("token");
    tx.commit().await.expect("commit");
    (id, token)
}

/// Declares each listed `async fn name(app: TestApp)` as two tests, `name::sqlite` and
/// `name::postgres`; the latter is ignored unless `KADRO_TEST_DATABASE_URL` was set when the
/// tests were built (`build.rs` sets the `kadro_pg` cfg).
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(app) = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Sqlite).await {
                    super::$name(app).await
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(not(kadro_pg), ignore = "KADRO_TEST_DATABASE_URL was not set when the tests were built")]
            async fn postgres() {
                if let Some(app) = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Postgres).await {
                    super::$name(app).await
                }
            }
        }
    )*};
}

/// Declares each listed `async fn name(backend: Backend)` as two tests; for tests that start
/// kadro with a configuration of their own.
#[macro_export]
macro_rules! per_backend {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(not(kadro_pg), ignore = "KADRO_TEST_DATABASE_URL was not set when the tests were built")]
            async fn postgres() {
                super::$name($crate::helpers::Backend::Postgres).await
            }
        }
    )*};
}

/// How long a test waits for anything (a task, a signal, a condition) before it fails.
pub const WAIT: Duration = Duration::from_secs(30);

/// Awaits `future`, failing the test when it takes longer than [`WAIT`].
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: not within {WAIT:?}"))
}

/// Checks `condition` every few milliseconds until it holds, failing after [`WAIT`].
pub async fn until<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    within(what, async {
        while !condition().await {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
}

/// The keys of a JSON object, sorted: for asserting a response's exact shape.
pub fn sorted_keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .expect("a JSON object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}
