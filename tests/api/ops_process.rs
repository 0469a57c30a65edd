//! Operations proved on the `kadro` binary: the values of the login and request metrics, JSON
//! logs that never hold a password or a token, `kadro migrate` run twice, and SIGTERM while
//! requests and an export are in flight.

use std::process::Command;
use std::time::{Duration, Instant};

use kadro::db::{Db, DbOptions, Query};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{Backend, TestDb, WAIT, tempdir::TempDirGuard, until, within};
use crate::per_backend;
use crate::process::{DEADLINE, Kadro, Stream, kadro, kadro_args, kadro_on, run_code};

per_backend!(
    logs_hold_no_secret_and_metrics_count_logins,
    migrate_twice_is_a_no_op,
    sigterm_drains_requests_and_releases_the_export,
);

const SERVICE_TOKEN: &str = "ops-test-service-token-5b1e";

/// The database password of [`with_db_password`].
const DB_PASSWORD: &str = "db-Secret-pass-8899";

/// A PostgreSQL `url` with [`DB_PASSWORD`] as its password (when it has none); a SQLite one as
/// it is.
fn with_db_password(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed)
            if parsed.scheme().starts_with("postgres") && parsed.password().is_none() =>
        {
            parsed.set_password(Some(DB_PASSWORD)).unwrap();
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// The value of the series `name` whose labels include `labels`; none when absent.
fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .find(|(series, _)| {
            let (series_name, series_labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (*series, ""),
            };
            series_name == name
                && labels.iter().all(|(k, v)| {
                    series_labels
                        .split(',')
                        .any(|p| p == format!("{k}=\"{v}\""))
                })
        })
        .and_then(|(_, value)| value.parse().ok())
}

/// The login counters that are not 0, as `KIND REASON VALUE` (`KIND locks VALUE` for the
/// lockouts), in a fixed order; every series must be shown, 0 included.
fn login_counts(text: &str) -> Vec<String> {
    let mut counts = Vec::new();
    for kind in ["user", "staff"] {
        let reasons = ["unknown_account", "wrong_password", "inactive", "locked"];
        let series = reasons
            .iter()
            .map(|r| {
                (
                    "kadro_login_failures_total",
                    vec![("kind", kind), ("reason", *r)],
                    *r,
                )
            })
            .chain([("kadro_login_lockouts_total", vec![("kind", kind)], "locks")]);
        for (name, labels, label) in series {
            let value = metric(text, name, &labels)
                .unwrap_or_else(|| panic!("{name} {labels:?} not shown: {text}"));
            if value != 0.0 {
                counts.push(format!("{kind} {label} {value}"));
            }
        }
    }
    counts
}

/// A served `kadro` on `db` with JSON logs at `level`, a service token and `extra` settings.
struct Served {
    child: Kadro,
    base: String,
    client: reqwest::Client,
    _exports: TempDirGuard,
}

impl Served {
    fn start(db: &TestDb, level: &str, workers: u32, extra: &[(&str, &str)]) -> Served {
        let exports = TempDirGuard(
            std::env::temp_dir().join(format!("kadro-exports-{}", uuid::Uuid::new_v4().simple())),
        );
        let mut cmd = kadro(db);
        cmd.env("KADRO_LOG", level)
            .env("KADRO_LOG_FORMAT", "json")
            .env("KADRO_SERVICE_TOKENS", SERVICE_TOKEN)
            .env("KADRO_EXPORT_DIR", &exports.0);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd.args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--workers",
            &workers.to_string(),
        ]);
        let mut child = Kadro::spawn(cmd);
        let line = child.wait_for_line("start-up line", DEADLINE, |stream, line| {
            stream == Stream::Stderr && line.contains("kadro listening")
        });
        let line: Value = serde_json::from_str(&line).expect("a JSON log line");
        let base = format!("http://{}", line["fields"]["addr"].as_str().unwrap());
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        Served {
            child,
            base,
            client,
            _exports: exports,
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            req = req.header("Authorization", format!("Token {token}"));
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let response = req.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn service(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let (status, out) = self
            .call(method.clone(), path, Some(SERVICE_TOKEN), Some(body))
            .await;
        assert!(status.is_success(), "{method} {path}: {status} {out}");
        out
    }

    async fn metrics(&self) -> String {
        let response = self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.unwrap()
    }

    /// The export status at `path` once `done` holds for it; fails after twice [`WAIT`].
    async fn export_status(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + 2 * WAIT;
        loop {
            let (status, body) = self
                .call(reqwest::Method::GET, path, Some(SERVICE_TOKEN), None)
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            if done(&body) {
                return body;
            }
            assert!(Instant::now() < deadline, "export status: {body}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGTERM; the process must exit cleanly within `within`.
    fn terminate(&mut self, within: Duration) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        assert!(self.child.wait(within).success(), "a clean exit");
    }
}

async fn login(served: &Served, path: &str, body: Value) -> (StatusCode, Value) {
    served
        .call(reqwest::Method::POST, path, None, Some(body))
        .await
}

/// Logins (right, wrong, locked, unknown, inactive), password changes and tokens from the API
/// and the command line, all logged at `debug` in JSON: every line is JSON without colour codes,
/// request lines name their request id, no line holds a password, a token, a hash or the
/// database's password, and the login and request metrics count exactly.
async fn logs_hold_no_secret_and_metrics_count_logins(backend: Backend) {
    use reqwest::Method;
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let passwords = [
        "first-Secret-pass-4410",
        "second-Secret-pass-5521",
        "third-Secret-pass-6632",
        "fourth-Secret-pass-7743",
    ];
    // On PostgreSQL the URL carries a password (the test server trusts local connections).
    let url = with_db_password(&db.url);
    let debug_cli = |args: &[&str], stdin: &str| {
        let mut cmd = kadro(&db);
        cmd.env("KADRO_DATABASE_URL", &url)
            .env("KADRO_LOG", "debug")
            .env("KADRO_LOG_FORMAT", "json")
            .args(args);
        run_code(cmd, stdin)
    };
    let mut logs = String::new();
    let (code, stdout, stderr) = debug_cli(
        &[
            "createsuperuser",
            "--email",
            "root@example.com",
            "--password-stdin",
        ],
        &format!("{}\n", passwords[0]),
    );
    assert_eq!(code, 0, "{stderr}");
    logs.push_str(&stderr);
    let root: i64 = stdout.trim().parse().unwrap();

    // A database that cannot be reached names where it is, never its password.
    let mut cmd = kadro_on(&format!("postgres://kadro:{DB_PASSWORD}@127.0.0.1:1/kadro"));
    cmd.env("KADRO_LOG", "debug")
        .env("KADRO_LOG_FORMAT", "json")
        .arg("check");
    let (code, _, stderr) = run_code(cmd, "");
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("127.0.0.1:1"), "{stderr}");
    logs.push_str(&stderr);

    let settings = [
        ("KADRO_LOGIN_MAX_FAILURES", "2"),
        ("KADRO_DATABASE_URL", url.as_str()),
    ];
    let mut served = Served::start(&db, "debug", 0, &settings);
    let text = served.metrics().await;
    assert!(login_counts(&text).is_empty(), "{text}");
    for name in ["kadro_login_failures_total", "kadro_login_lockouts_total"] {
        assert!(text.contains(&format!("# HELP {name} ")), "{text}");
        assert!(text.contains(&format!("# TYPE {name} counter")), "{text}");
    }

    // B2B: two wrong passwords lock the account; the right one is then refused too.
    let user_login = "/api/v1/auth/login/";
    for password in ["wrong-pass-1", "wrong-pass-2", passwords[0]] {
        let body = json!({"email": "root@example.com", "password": password});
        let (status, _) = login(&served, user_login, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    assert_eq!(
        login_counts(&served.metrics().await),
        ["user wrong_password 2", "user locked 1", "user locks 1"]
    );
    served
        .service(
            Method::POST,
            &format!("/api/v1/users/{root}/unlock/"),
            json!({}),
        )
        .await;
    let body = json!({"email": "root@example.com", "password": passwords[0]});
    let (status, out) = login(&served, user_login, body).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    let user_token = out["token"].as_str().unwrap().to_owned();
    let (status, _) = served
        .call(Method::GET, "/api/v1/auth/me/", Some(&user_token), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let body = json!({"email": "nobody@example.com", "password": passwords[0]});
    let (status, _) = login(&served, user_login, body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Instore: a staff made with one password, changed to another, logged in with it.
    let id = |v: Value| v["id"].as_i64().unwrap();
    let country = id(served
        .service(
            Method::POST,
            "/api/v1/countries/",
            json!({"name": "Türkiye", "code": "TR"}),
        )
        .await);
    let city = id(served
        .service(
            Method::POST,
            "/api/v1/cities/",
            json!({"name": "City", "country": country, "omnitron_id": 2}),
        )
        .await);
    let township = id(served
        .service(
            Method::POST,
            "/api/v1/townships/",
            json!({"name": "Town", "city": city, "omnitron_id": 3}),
        )
        .await);
    let store = id(served
        .service(
            Method::POST,
            "/api/v1/retail_stores/",
            json!({"name": "Shop", "email": "shop@example.com", "remote_id": "shop",
                   "omnitron_id": 2,
                   "address": {"township": township, "line": "Line", "phone_number": "+32043843443"}}),
        )
        .await);
    let staff = id(served
        .service(
            Method::POST,
            "/api/v1/staffs/",
            json!({"retail_stores": [store], "first_name": "Jane", "last_name": "Doe",
                   "email": "jane@example.com", "username": "jane", "password": passwords[1],
                   "remote_id": "r-jane", "permission_groups": []}),
        )
        .await);
    served
        .service(
            Method::POST,
            "/api/v1/staffs/change_password/",
            json!({"staff": staff, "new_password": passwords[2]}),
        )
        .await;
    let staff_login = "/api/v1/staffs/login/";
    for password in ["wrong-pass-3", passwords[1]] {
        let body = json!({"username": "jane", "password": password, "retail_store": store});
        let (status, _) = login(&served, staff_login, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    // The second wrong one locked the staff; unlocked, it signs in, which counts nothing.
    let after_staff = [
        "user unknown_account 1",
        "user wrong_password 2",
        "user locked 1",
        "user locks 1",
        "staff wrong_password 2",
        "staff locks 1",
    ];
    assert_eq!(login_counts(&served.metrics().await), after_staff);
    served
        .service(
            Method::POST,
            &format!("/api/v1/staffs/{staff}/unlock/"),
            json!({}),
        )
        .await;
    let body = json!({"username": "jane", "password": passwords[2], "retail_store": store});
    let (status, out) = login(&served, staff_login, body).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    let staff_token = out["token"].as_str().unwrap().to_owned();
    assert_eq!(login_counts(&served.metrics().await), after_staff);
    // Deactivated, its right password is a failure of its own kind.
    let (status, _) = served
        .call(
            Method::DELETE,
            &format!("/api/v1/staffs/{staff}/"),
            Some(SERVICE_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let body = json!({"username": "jane", "password": passwords[2], "retail_store": store});
    let (status, _) = login(&served, staff_login, body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let counts = login_counts(&served.metrics().await);
    assert_eq!(
        counts[4..],
        [
            "staff wrong_password 2",
            "staff inactive 1",
            "staff locks 1"
        ]
    );

    // Request counts by value: three more `/healthz`, one more 401.
    let text = served.metrics().await;
    let healthz = [("method", "GET"), ("route", "/healthz"), ("status", "200")];
    let me_401 = [
        ("method", "GET"),
        ("route", "/api/v1/auth/me"),
        ("status", "401"),
    ];
    let before = metric(&text, "kadro_http_requests_total", &healthz).unwrap_or(0.0);
    let before_401 = metric(&text, "kadro_http_requests_total", &me_401).unwrap_or(0.0);
    for _ in 0..3 {
        served.call(Method::GET, "/healthz", None, None).await;
    }
    let response = served
        .client
        .get(format!("{}/api/v1/auth/me/", served.base))
        .header("Authorization", "Token not-a-token")
        .header("X-Request-Id", "ops-trace-4711")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["x-request-id"], "ops-trace-4711");
    let text = served.metrics().await;
    assert_eq!(
        metric(&text, "kadro_http_requests_total", &healthz),
        Some(before + 3.0),
        "{text}"
    );
    assert_eq!(
        metric(&text, "kadro_http_requests_total", &me_401),
        Some(before_401 + 1.0),
        "{text}"
    );
    let count = |labels: &[(&str, &str)]| {
        metric(&text, "kadro_http_request_duration_seconds_count", labels)
    };
    assert_eq!(count(&healthz), Some(before + 3.0));
    assert_eq!(
        metric(&text, "kadro_db_pool_max", &[]),
        Some(16.0),
        "{text}"
    );

    // The command line while the server runs: a new password and a token.
    let (code, _, stderr) = debug_cli(
        &[
            "user",
            "set-password",
            "root@example.com",
            "--password-stdin",
        ],
        &format!("{}\n", passwords[3]),
    );
    assert_eq!(code, 0, "{stderr}");
    logs.push_str(&stderr);
    let (code, cli_token, stderr) =
        debug_cli(&["token", "issue", "--email", "root@example.com"], "");
    assert_eq!(code, 0, "{stderr}");
    logs.push_str(&stderr);
    let cli_token = cli_token.trim().to_owned();
    let (status, _) = served
        .call(Method::GET, "/api/v1/auth/me/", Some(&cli_token), None)
        .await;
    assert_eq!(status, StatusCode::OK);

    served.terminate(Duration::from_secs(30));
    let server_logs = served.child.text(Stream::Stderr);
    assert!(
        server_logs.lines().count() > 20,
        "debug logging logs: {server_logs}"
    );
    for line in server_logs.lines() {
        assert!(
            !line.contains('\u{1b}'),
            "colour codes in a piped log: {line}"
        );
        let entry: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(entry["timestamp"].is_string(), "{line}");
        assert!(
            ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]
                .contains(&entry["level"].as_str().unwrap_or("")),
            "{line}"
        );
        assert!(entry["fields"].is_object(), "{line}");
    }
    // The request lines: one per request, with the caller, route, status and duration.
    let requests: Vec<Value> = server_logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["fields"]["message"] == "request")
        .collect();
    let me = requests
        .iter()
        .find(|e| e["span"]["route"] == "/api/v1/auth/me" && e["fields"]["status"] == 200)
        .expect("a request line for /auth/me/");
    assert_eq!(me["span"]["caller"], format!("user:{root}"), "{me}");
    assert_eq!(me["span"]["client"], "127.0.0.1", "{me}");
    assert!(me["fields"]["duration_ms"].is_number(), "{me}");
    // Each names its request id, the client's own when it sent one; so do the lines logged
    // while a request is handled (the lock of the B2B account).
    for line in &requests {
        let id = line["span"]["request_id"].as_str().unwrap_or("");
        assert!(!id.is_empty(), "{line}");
    }
    let traced: Vec<&Value> = requests
        .iter()
        .filter(|e| e["span"]["request_id"] == "ops-trace-4711")
        .collect();
    assert_eq!(traced.len(), 1, "{server_logs}");
    assert_eq!(
        traced[0]["span"]["route"], "/api/v1/auth/me",
        "{}",
        traced[0]
    );
    assert_eq!(traced[0]["fields"]["status"], 401, "{}", traced[0]);
    let locked = server_logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["fields"]["message"] == "login locked")
        .expect("a line for the lock");
    let lock_request = locked["span"]["request_id"].as_str().unwrap_or("");
    assert!(
        requests
            .iter()
            .any(|e| e["span"]["request_id"] == lock_request
                && e["span"]["route"] == "/api/v1/auth/login"),
        "{locked}"
    );
    logs.push_str(&server_logs);
    logs.push_str(&served.child.text(Stream::Stdout));
    for secret in passwords.iter().copied().chain([
        user_token.as_str(),
        staff_token.as_str(),
        cli_token.as_str(),
        SERVICE_TOKEN,
        "$argon2",
        "wrong-pass-",
        DB_PASSWORD,
    ]) {
        assert!(!logs.contains(secret), "{secret} in the logs");
    }
}

/// The second `kadro migrate` finds nothing to do: exit 0, the same migrations recorded, no
/// sqlx notice at the default level.
async fn migrate_twice_is_a_no_op(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let applied = || async {
        let pool = Db::connect(&db.url, &DbOptions { max_connections: 1 })
            .await
            .unwrap();
        let rows: Vec<(i64, bool)> =
            Query::new("SELECT version, success FROM _sqlx_migrations ORDER BY version")
                .fetch_all(&pool)
                .await
                .unwrap();
        pool.close().await;
        rows
    };
    let mut outputs = Vec::new();
    for _ in 0..2 {
        let mut cmd = kadro(&db);
        cmd.env_remove("KADRO_LOG").arg("migrate");
        let (code, stdout, stderr) = run_code(cmd, "");
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(stdout, "");
        assert_eq!(stderr, "migrations applied\n");
        outputs.push(applied().await);
    }
    let on_disk = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .count();
    assert_eq!(outputs[0].len(), on_disk, "{:?}", outputs[0]);
    assert!(outputs[0].iter().all(|(_, ok)| *ok));
    assert_eq!(outputs[0], outputs[1]);
    // A later start migrates nothing either and serves.
    let (code, stdout, stderr) = kadro_args(&db, &["check"], "");
    assert_eq!((code, stdout.as_str()), (0, "ok\n"), "{stderr}");
    assert_eq!(applied().await, outputs[0]);
}

/// SIGTERM while a request is being received and an export is being built: the request gets
/// its whole answer, the process exits 0, and the export job is released (queued, no lease)
/// or done, never left running; a new process then completes the export.
async fn sigterm_drains_requests_and_releases_the_export(backend: Backend) {
    use reqwest::Method;
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    // Enough audit events that building an `.xlsx` of them takes a while.
    let rows = 60_000;
    {
        let pool = Db::connect(&db.url, &DbOptions { max_connections: 1 })
            .await
            .unwrap();
        pool.migrate().await.unwrap();
        let series = match pool.dialect() {
            kadro::db::Dialect::Sqlite => {
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) SELECT i FROM n"
            }
            kadro::db::Dialect::Postgres => "SELECT i FROM generate_series(1, $1::bigint) AS g(i)",
        };
        Query::new(format!(
            "INSERT INTO audit_events (created_date, action, actor_kind, target_type, target_id, changes) \
             SELECT $2, 'user.update', 'cli', 'user', i, '{{\"first_name\": [\"a\", \"b\"]}}' FROM ({series}) AS s"
        ))
        .bind(rows as i64)
        .bind(kadro::http::time::now())
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    }
    let mut served = Served::start(&db, "info", 1, &[]);
    let fields = "action=user.update&fields=id&fields=created_date&fields=action&fields=actor_kind&fields=target_type\
        &fields=target_id&fields=changes";
    let (status, started) = served
        .call(
            Method::GET,
            &format!("/api/v1/audit-events/?{fields}&format=xlsx"),
            Some(SERVICE_TOKEN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let key = started["cache_key"].as_str().unwrap().to_owned();
    let status_path = format!("/api/v1/audit-events/?status_cache_key={key}");
    // The build has started and written rows.
    let progress = served
        .export_status(&status_path, |s| {
            s["status"] != "waiting" && s["progress"]["rows_written"] != 0
        })
        .await;
    assert_ne!(progress["status"], "failed", "{progress}");

    // A login whose body is still arriving, on a connection opened before the signal.
    let addr = served.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let body = r#"{"email": "nobody@example.com", "password": "whatever-it-is"}"#;
    let head = format!(
        "POST /api/v1/auth/login/ HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let interim = within("100 Continue", read_head(&mut stream)).await;
    assert!(interim.starts_with("HTTP/1.1 100"), "{interim}");
    stream.write_all(&body.as_bytes()[..10]).await.unwrap();
    stream.flush().await.unwrap();

    let status = Command::new("kill")
        .args(["-TERM", &served.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    served
        .child
        .wait_for_line("the shutdown line", DEADLINE, |_, line| {
            line.contains("shutting down")
        });
    until("the listener closes", || async {
        tokio::net::TcpStream::connect(&addr).await.is_err()
    })
    .await;
    stream.write_all(&body.as_bytes()[10..]).await.unwrap();
    let mut response = String::new();
    within("the answer", stream.read_to_string(&mut response))
        .await
        .unwrap();
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    assert!(response.contains("Unable to log in with provided credentials."));
    assert!(served.child.wait(DEADLINE).success(), "a clean exit");

    let pool = Db::connect(&db.url, &DbOptions { max_connections: 1 })
        .await
        .unwrap();
    let job: (String, Option<String>, i64) =
        Query::new("SELECT status, locked_by, attempts FROM jobs WHERE kind = 'export.build'")
            .fetch_one(&pool)
            .await
            .unwrap();
    let export: (String, i64) =
        Query::new("SELECT status, rows_written FROM exports WHERE cache_key = $1")
            .bind(key.as_str())
            .fetch_one(&pool)
            .await
            .unwrap();
    pool.close().await;
    eprintln!("at shutdown: job {job:?}, export {export:?}");
    let released = job.0 == "queued" && job.1.is_none() && job.2 == 0;
    let done = job.0 == "done" && export.0 == "completed";
    assert!(released || done, "job {job:?}, export {export:?}");
    let log = served.child.text(Stream::Stderr);
    if released {
        assert!(log.contains("job released at shutdown"), "{log}");
    }

    // The next process builds it (again, from the start) to the end.
    let served = Served::start(&db, "info", 1, &[]);
    let done = served
        .export_status(&status_path, |s| {
            s["status"] == "completed" || s["status"] == "failed"
        })
        .await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["progress"]["rows_written"], rows, "{done}");
}

/// Reads one response head (up to the blank line) byte by byte.
async fn read_head(stream: &mut tokio::net::TcpStream) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(stream.read_u8().await.unwrap());
    }
    String::from_utf8(head).unwrap()
}
