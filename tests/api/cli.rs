//! The `kadro` binary itself: first start, account and token commands, demo data, SIGTERM.

use std::process::Command;
use std::time::Duration;

use kadro::db::{Db, DbOptions, Query};

use crate::cli_start::start_and_stop;
use crate::helpers::{Backend, TestDb};
use crate::per_backend;
use crate::process::{DEADLINE, Kadro, Stream, kadro, kadro_on, run};

per_backend!(
    first_start_prints_a_working_curl_line,
    account_and_token_commands,
    seed_demo_runs_once,
    seed_bench_fills_both_apis,
    no_sqlx_notices_at_info,
);

async fn first_start_prints_a_working_curl_line(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let mut cmd = kadro(&db);
    cmd.args(["serve", "--bind", "127.0.0.1:0", "--workers", "1"]);
    let mut child = Kadro::spawn(cmd);
    let curl = child.wait_for_line("curl line", DEADLINE, |stream, line| {
        stream == Stream::Stdout && line.trim_start().starts_with("curl ")
    });
    let token = curl
        .split("Token ")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap()
        .to_owned();
    let url = curl.rsplit(' ').next().unwrap().to_owned();
    assert!(url.ends_with("/api/v1/auth/me/"), "{curl}");
    let stdout = child.text(Stream::Stdout);
    let docs = url.replace("/api/v1/auth/me/", "/api/docs/");
    assert!(stdout.contains(&format!("API docs: {docs}\n")), "{stdout}");
    let database = match backend {
        Backend::Sqlite => format!(
            "Database: SQLite {}",
            db.url.trim_start_matches("sqlite://")
        ),
        Backend::Postgres => "Database: PostgreSQL ".to_owned(),
    };
    assert!(stdout.contains(&database), "{stdout}");
    let response = reqwest::Client::builder()
        .timeout(DEADLINE)
        .build()
        .unwrap()
        .get(&url)
        .header("Authorization", format!("Token {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let me: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        (me["email"].as_str(), me["is_superuser"].as_bool()),
        (Some("admin@kadro.local"), Some(true))
    );
    // SIGTERM: a clean exit.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait(Duration::from_secs(15));
    assert!(exit.success(), "{exit:?}");
    // A second start makes no new superuser and, with one who can sign in, prints nothing
    // for the operator.
    let stdout = start_and_stop(&db);
    assert_eq!(stdout, "", "a second start prints no advice");
    let pool = Db::connect(&db.url, &DbOptions { max_connections: 1 })
        .await
        .unwrap();
    for (sql, expected) in [
        ("SELECT COUNT(*) FROM users", 1),
        ("SELECT COUNT(*) FROM users WHERE is_superuser = TRUE", 1),
        ("SELECT COUNT(*) FROM api_tokens", 1),
    ] {
        let count: i64 = Query::new(sql).scalar(&pool).await.unwrap();
        assert_eq!(count, expected, "{sql}");
    }
    pool.close().await;
    let (ok, stdout, _) = run(
        {
            let mut c = kadro(&db);
            c.arg("check");
            c
        },
        "",
    );
    assert!(ok && stdout.trim() == "ok", "{stdout}");
}

async fn account_and_token_commands(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let mut cmd = kadro(&db);
    cmd.args([
        "createsuperuser",
        "--email",
        "ops@example.com",
        "--password-stdin",
    ]);
    let (ok, stdout, stderr) = run(cmd, "correct horse battery\n");
    assert!(ok, "{stderr}");
    let id: i64 = stdout.trim().parse().expect("the id alone on stdout");
    let mut cmd = kadro(&db);
    cmd.args([
        "createsuperuser",
        "--email",
        "OPS@example.com",
        "--password-stdin",
    ]);
    let (ok, _, stderr) = run(cmd, "correct horse battery\n");
    assert!(!ok && stderr.contains("already exists"), "{stderr}");
    let mut cmd = kadro(&db);
    cmd.args([
        "staff",
        "create",
        "--email",
        "weak@example.com",
        "--password-stdin",
    ]);
    let (ok, _, _) = run(cmd, "12345\n");
    assert!(!ok, "a weak password is refused");
    let mut cmd = kadro(&db);
    cmd.args([
        "staff",
        "create",
        "--email",
        "staff@example.com",
        "--password-stdin",
    ]);
    let (ok, _, stderr) = run(cmd, "another good one\n");
    assert!(ok, "{stderr}");

    let mut cmd = kadro(&db);
    cmd.args(["token", "issue", "--email", "ops@example.com"]);
    let (ok, token, _) = run(cmd, "");
    assert!(ok);
    let token = token.trim().to_owned();
    assert_eq!(token.len(), 40);
    let pool = Db::connect(&db.url, &DbOptions { max_connections: 1 })
        .await
        .unwrap();
    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move { Query::new(sql).scalar::<i64>(&pool).await.unwrap() }
    };
    assert_eq!(
        count("SELECT COUNT(*) FROM users WHERE is_superuser = TRUE AND is_staff = TRUE").await,
        1
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM users WHERE is_superuser = FALSE AND is_staff = TRUE").await,
        1
    );
    let owner: i64 = Query::new("SELECT account_id FROM api_tokens")
        .scalar(&pool)
        .await
        .unwrap();
    assert_eq!(owner, id);
    let mut cmd = kadro(&db);
    cmd.args(["token", "revoke", &token]);
    assert!(run(cmd, "").0);
    assert_eq!(count("SELECT COUNT(*) FROM api_tokens").await, 0);
    let mut cmd = kadro(&db);
    cmd.args(["token", "revoke", &token]);
    assert!(!run(cmd, "").0, "revoking an unknown token fails");
    pool.close().await;
}

async fn seed_demo_runs_once(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let mut cmd = kadro(&db);
    cmd.arg("seed-demo");
    let (ok, stdout, stderr) = run(cmd, "");
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("demo data: 5 divisions, 24 users"),
        "{stdout}"
    );
    let mut cmd = kadro(&db);
    cmd.arg("seed-demo");
    let (ok, stdout, _) = run(cmd, "");
    assert!(
        ok && stdout.contains("nothing changed") && stdout.contains("not added"),
        "{stdout}"
    );
    let pool = Db::connect(&db.url, &DbOptions { max_connections: 1 })
        .await
        .unwrap();
    let listed: i64 = Query::new("SELECT CAST(SUM(n) AS BIGINT) FROM user_list_counts")
        .scalar(&pool)
        .await
        .unwrap();
    assert_eq!(listed, 24);
    pool.close().await;
}

/// A database URL with a password, as operators set it.
const URL_WITH_PASSWORD: &str = "postgres://kadro:hunter2@127.0.0.1:5432/kadro";

#[test]
fn serve_help_lists_every_setting() {
    let mut cmd = kadro_on(URL_WITH_PASSWORD);
    cmd.args(["serve", "--help"]);
    let (ok, help, _) = run(cmd, "");
    assert!(ok);
    assert!(
        !help.contains("hunter2"),
        "--help shows the password:\n{help}"
    );
    for var in [
        "KADRO_DATABASE_URL",
        "KADRO_BIND",
        "KADRO_PUBLIC_URL",
        "KADRO_EXPORT_DIR",
        "KADRO_COMMERCE_URL",
        "KADRO_COMMERCE_TOKEN",
        "KADRO_SERVICE_TOKENS",
        "KADRO_SECRET_KEY",
        "KADRO_LOG",
        "KADRO_LOG_FORMAT",
        "KADRO_PASSWORD_MIN_LENGTH",
    ] {
        assert!(help.contains(var), "--help does not mention {var}");
    }
    let mut cmd = kadro_on(URL_WITH_PASSWORD);
    cmd.arg("--help");
    let (ok, help, _) = run(cmd, "");
    assert!(ok && !help.contains("hunter2"), "{help}");
    for command in [
        "serve",
        "migrate",
        "check",
        "seed-demo",
        "createsuperuser",
        "staff",
        "user",
        "token",
        "instore",
    ] {
        assert!(help.contains(command), "--help does not mention {command}");
    }
}

async fn seed_bench_fills_both_apis(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let mut cmd = kadro(&db);
    cmd.args([
        "seed-bench",
        "--users",
        "1200",
        "--staffs",
        "300",
        "--divisions",
        "20",
        "--stores",
        "7",
        "--seed",
        "7",
    ]);
    let (ok, stdout, stderr) = run(cmd, "");
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("seeded "), "{stdout}");
    let pool = Db::connect(&db.url, &DbOptions { max_connections: 1 })
        .await
        .unwrap();
    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move { Query::new(sql).scalar::<i64>(&pool).await.unwrap() }
    };
    // 1,200 users plus the benchmark's own account; about 10% inactive, about 95% listed.
    assert_eq!(count("SELECT COUNT(*) FROM users").await, 1201);
    let inactive = count("SELECT COUNT(*) FROM users WHERE is_active = FALSE").await;
    assert!((60..=180).contains(&inactive), "{inactive}");
    let listed = count("SELECT CAST(SUM(n) AS BIGINT) FROM user_list_counts").await;
    assert_eq!(
        listed,
        count("SELECT COUNT(*) FROM users WHERE remote_id IS NOT NULL").await
    );
    assert!((1100..=1190).contains(&listed), "{listed}");
    assert_eq!(count("SELECT COUNT(*) FROM divisions").await, 20);
    assert_eq!(count("SELECT COUNT(*) FROM retail_stores").await, 7);
    assert_eq!(count("SELECT COUNT(*) FROM addresses").await, 7);
    assert_eq!(count("SELECT COUNT(*) FROM staffs").await, 301);
    assert_eq!(count("SELECT COUNT(*) FROM staffs s WHERE NOT EXISTS (SELECT 1 FROM staff_retail_stores l WHERE l.staff_id = s.id)").await, 0);
    assert_eq!(count("SELECT COUNT(*) FROM (SELECT staff_id FROM staff_retail_stores GROUP BY staff_id HAVING COUNT(*) > 3) x").await, 0);
    assert_eq!(count("SELECT COUNT(*) FROM staffs s WHERE NOT EXISTS (SELECT 1 FROM staff_permission_groups g WHERE g.staff_id = s.id)").await, 0);
    let shared = count("SELECT COUNT(*) FROM (SELECT lower(email) FROM staffs GROUP BY lower(email) HAVING COUNT(*) > 1) x").await;
    assert!((1..=12).contains(&shared), "{shared}");
    assert_eq!(
        count("SELECT COUNT(*) FROM staffs WHERE username = 'bench.staff'").await,
        1
    );
    pool.close().await;
}

/// A database that cannot be reached: one line naming the failure, never the password.
#[test]
fn connection_errors_do_not_echo_the_database_password() {
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    for (url, expected) in [
        (
            format!("postgres://kadro:hunter2@127.0.0.1:{closed_port}/kadro"),
            format!("kadro: cannot connect to 127.0.0.1:{closed_port}: connection refused\n"),
        ),
        (
            "postgres://kadro:hunter2@[not-an-address/kadro".to_owned(),
            "kadro: invalid database URL: invalid IPv6 address\n".to_owned(),
        ),
        (
            "mysql://kadro:hunter2@127.0.0.1/kadro".to_owned(),
            "kadro: unsupported database URL (expected sqlite:// or postgres://)\n".to_owned(),
        ),
        (
            "sqlite:///nonexistent-kadro-dir/kadro.db".to_owned(),
            "kadro: cannot open the SQLite database /nonexistent-kadro-dir/kadro.db: unable to \
             open database file\n"
                .to_owned(),
        ),
    ] {
        let mut cmd = kadro_on(&url);
        cmd.arg("check");
        let started = std::time::Instant::now();
        let (ok, stdout, stderr) = run(cmd, "");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{url}: {:?}",
            started.elapsed()
        );
        assert!(!ok, "{url}: {stdout}");
        assert_eq!(stderr, expected, "{url}");
        assert!(!stdout.contains("hunter2"), "{url} echoed:\n{stdout}");
    }
}

/// A second start on PostgreSQL logs no sqlx notice (`relation … already exists, skipping`).
async fn no_sqlx_notices_at_info(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    for _ in 0..2 {
        let mut cmd = kadro_on(&db.url);
        cmd.env("KADRO_LOG", "info").arg("check");
        let (ok, stdout, stderr) = run(cmd, "");
        assert!(ok && stdout == "ok\n", "{stderr}");
        assert!(!stderr.contains("sqlx"), "{stderr}");
    }
}

/// `url` with a password in its user part: its own if it has one, else `secret` (the test
/// server trusts local connections, so an added password changes nothing but the text).
fn with_password(url: &str, secret: &str) -> (String, String) {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (userinfo, host) = rest
        .split_once('@')
        .expect("a user in the test database URL");
    match userinfo.split_once(':') {
        Some((_, password)) if !password.is_empty() => (url.to_owned(), password.to_owned()),
        _ => {
            let user = userinfo.split(':').next().unwrap_or(userinfo);
            (
                format!("{scheme}://{user}:{secret}@{host}"),
                secret.to_owned(),
            )
        }
    }
}

/// The database password never reaches a log line, at the most verbose level and in either
/// format: not at start, not in a request's lines, not in a database error's, not at shutdown,
/// and not when the database named does not exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(kadro_pg),
    ignore = "KADRO_TEST_DATABASE_URL was not set when the tests were built"
)]
async fn logs_never_show_the_database_password() {
    let Some(db) = TestDb::create(Backend::Postgres).await else {
        return;
    };
    let (url, password) = with_password(&db.url, "hunter2-in-the-url");
    let (replica, replica_password) = with_password(&db.url, "hunter3-of-the-replica");
    let token = "log-secrets-service-token";
    for format in ["json", "text"] {
        let mut cmd = kadro_on(&url);
        cmd.env("KADRO_LOG", "trace")
            .env("KADRO_LOG_FORMAT", format)
            .env("KADRO_DATABASE_REPLICA_URL", &replica)
            .env("KADRO_SERVICE_TOKENS", token)
            .args(["serve", "--bind", "127.0.0.1:0", "--workers", "1"]);
        let mut server = Kadro::spawn(cmd);
        let listening = server.wait_for_line("start-up line", DEADLINE, |stream, line| {
            stream == Stream::Stderr && line.contains("kadro listening")
        });
        let addr = listening
            .split(|c: char| c == '"' || c.is_whitespace() || c == '=')
            .find(|part| part.starts_with("127.0.0.1:"))
            .unwrap_or_else(|| panic!("no address in {listening}"))
            .to_owned();
        let client = reqwest::Client::builder()
            .timeout(DEADLINE)
            .build()
            .unwrap();
        let get = |path: &str| {
            client
                .get(format!("http://{addr}{path}"))
                .header("Authorization", format!("Token {token}"))
                .send()
        };
        assert_eq!(get("/api/v1/divisions/").await.unwrap().status(), 200);
        assert_eq!(get("/readyz").await.unwrap().status(), 200);
        if format == "text" {
            // A database error: logged with its cause.
            let pool = Db::connect(&db.url, &DbOptions { max_connections: 1 })
                .await
                .unwrap();
            Query::new("ALTER TABLE divisions RENAME TO divisions_gone")
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
            assert_eq!(get("/api/v1/divisions/").await.unwrap().status(), 500);
            server.wait_for_line("internal error line", DEADLINE, |_, line| {
                line.contains("internal error")
            });
        }
        let status = Command::new("kill")
            .args(["-TERM", &server.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        assert!(server.wait(Duration::from_secs(15)).success());
        for stream in [Stream::Stdout, Stream::Stderr] {
            let text = server.text(stream);
            assert!(!text.is_empty() || stream == Stream::Stdout);
            for secret in [&password, &replica_password] {
                assert!(!text.contains(secret.as_str()), "{format}:\n{text}");
            }
        }
    }
    // A database that does not exist on a server that answers.
    let (base, _) = url.rsplit_once('/').unwrap();
    let mut cmd = kadro_on(&format!("{base}/kadro_no_such_database"));
    cmd.env("KADRO_LOG", "trace").arg("check");
    let (ok, stdout, stderr) = run(cmd, "");
    assert!(!ok);
    assert!(
        !stdout.contains(&password) && !stderr.contains(&password),
        "{stdout}{stderr}"
    );
    assert!(stderr.contains("kadro_no_such_database"), "{stderr}");
    // Nor in `--help`, which shows the other settings' values from the environment.
    for args in [&["--help"][..], &["serve", "--help"]] {
        let mut cmd = kadro_on(&url);
        cmd.env("KADRO_DATABASE_REPLICA_URL", &replica).args(args);
        let (ok, help, _) = run(cmd, "");
        assert!(ok, "{help}");
        for secret in [&password, &replica_password] {
            assert!(!help.contains(secret.as_str()), "{args:?}:\n{help}");
        }
    }
}
