//! What a start tells the operator, and the README's tour run as written.

use std::process::Command;
use std::time::Duration;

use kadro::db::{Db, DbOptions, Query};

use crate::helpers::{Backend, TestDb};
use crate::per_backend;
use crate::process::{DEADLINE, Kadro, Stream, kadro, kadro_args, run_code};

per_backend!(
    later_start_says_how_to_make_a_superuser,
    readme_tour_runs_as_written
);

const HINT: &str = "No active superuser can sign in";

/// Serves on `db` until the `kadro listening` line, stops it with SIGTERM; returns stdout.
pub fn start_and_stop(db: &TestDb) -> String {
    let mut cmd = kadro(db);
    cmd.env("KADRO_LOG", "info")
        .args(["serve", "--bind", "127.0.0.1:0", "--workers", "0"]);
    let mut child = Kadro::spawn(cmd);
    child.wait_for_line("listening line", DEADLINE, |stream, line| {
        stream == Stream::Stderr && line.contains("kadro listening")
    });
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.wait(Duration::from_secs(15)).success());
    child.text(Stream::Stdout)
}

async fn later_start_says_how_to_make_a_superuser(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    // Demo data first: accounts exist, so no superuser is made, and the start says so.
    let (code, _, stderr) = kadro_args(&db, &["seed-demo"], "");
    assert_eq!(code, 0, "{stderr}");
    let stdout = start_and_stop(&db);
    assert!(stdout.contains(HINT), "{stdout}");
    assert!(
        stdout.contains("kadro createsuperuser --email")
            && stdout.contains("kadro token issue --email")
            && stdout.contains("/api/docs/"),
        "{stdout}"
    );
    let (code, _, stderr) = kadro_args(
        &db,
        &[
            "createsuperuser",
            "--email",
            "me@example.com",
            "--password-stdin",
        ],
        "a-long-passphrase\n",
    );
    assert_eq!(code, 0, "{stderr}");
    let stdout = start_and_stop(&db);
    assert!(!stdout.contains(HINT), "{stdout}");
    // A deactivated superuser cannot sign in: the hint is back.
    let pool = Db::connect(&db.url, &DbOptions { max_connections: 1 })
        .await
        .unwrap();
    Query::new("UPDATE users SET is_active = FALSE WHERE email = 'me@example.com'")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let stdout = start_and_stop(&db);
    assert!(stdout.contains(HINT), "{stdout}");
}

/// The README's "short tour", its lines as written but for `cargo run` (the built binary)
/// and the port; every `curl` must succeed.
async fn readme_tour_runs_as_written(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let readme = include_str!("../../README.md");
    let tour = readme
        .split("### A short tour")
        .nth(1)
        .and_then(|rest| rest.split("```sh\n").nth(1))
        .and_then(|rest| rest.split("```").next())
        .expect("the README's tour");
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut script = String::from("set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null' EXIT\n");
    for line in tour.lines() {
        let line = line
            .replace("cargo run -q -- ", "\"$KADRO\" ")
            .replace("cargo run -- ", "\"$KADRO\" ")
            .replace("127.0.0.1:8000", &format!("127.0.0.1:{port}"))
            .replace("$(curl ", "$(curl -sSf ");
        let line = match line.strip_prefix("curl ") {
            Some(rest) => format!("curl -sSf {rest}"),
            None => line,
        };
        if line.starts_with("cargo run &") {
            script.push_str(&format!(
                "\"$KADRO\" serve --bind 127.0.0.1:{port} >/dev/null &\n\
                 for _ in $(seq 600); do curl -s http://127.0.0.1:{port}/healthz >/dev/null && break; sleep 0.05; done\n"
            ));
        } else {
            assert!(!line.contains("cargo "), "untranslated line: {line}");
            script.push_str(&line);
            script.push('\n');
        }
    }
    let mut cmd = Command::new("bash");
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("KADRO_")) {
        cmd.env_remove(key);
    }
    cmd.env("KADRO", env!("CARGO_BIN_EXE_kadro"))
        .env("KADRO_DATABASE_URL", &db.url)
        .env("KADRO_LOG", "warn")
        .args(["-c", &script]);
    let (code, stdout, stderr) = run_code(cmd, "");
    assert_eq!(code, 0, "the tour failed:\n{script}\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("\"token\""),
        "the demo staff signed in:\n{stdout}"
    );
    // The caller is still an active superuser; the user it made is the one deactivated.
    let pool = Db::connect(&db.url, &DbOptions { max_connections: 1 })
        .await
        .unwrap();
    let active = |email: &'static str| {
        let pool = pool.clone();
        async move {
            Query::new(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM users WHERE email = $1 AND is_active = TRUE",
            )
            .bind(email)
            .scalar::<i64>(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(active("me@example.com").await, 1);
    assert_eq!(active("firstname.lastname@akinon.com").await, 0);
    pool.close().await;
}

/// Piped logs carry no colour codes; a request's line names the caller, the client, the
/// route, the status and the duration in milliseconds with one decimal.
#[tokio::test]
async fn request_lines_name_the_caller_without_colours() {
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let mut cmd = kadro(&db);
    cmd.env("KADRO_LOG", "info")
        .args(["serve", "--bind", "127.0.0.1:0", "--workers", "0"]);
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
        .unwrap();
    let url = curl.rsplit(' ').next().unwrap();
    let client = reqwest::Client::new();
    let me = client
        .get(url)
        .header("Authorization", format!("Token {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let docs = client
        .get(url.replace("/api/v1/auth/me/", "/api/docs/"))
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status(), 200);
    let line = child.wait_for_line("request line", DEADLINE, |stream, line| {
        stream == Stream::Stderr && line.contains("route=/api/v1/auth/me")
    });
    assert!(
        line.contains("client=127.0.0.1")
            && line.contains("caller=user:1")
            && line.contains("status=200"),
        "{line}"
    );
    let ms = line
        .split("duration_ms=")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    let (whole, tenth) = ms.split_once('.').unwrap_or((ms, ""));
    assert!(
        whole.chars().all(|c| c.is_ascii_digit()) && tenth.len() == 1,
        "{line}"
    );
    child.wait_for_line("docs line", DEADLINE, |stream, line| {
        stream == Stream::Stderr && line.contains("route=/api/docs")
    });
    let stderr = child.text(Stream::Stderr);
    assert!(
        !stderr.contains('\u{1b}'),
        "colour codes in piped logs:\n{stderr}"
    );
}
