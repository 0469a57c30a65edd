//! What happens around an import's rows: its audit events, the cleanup of its upload and
//! report, and an import interrupted by a killed process.

use kadro::db::Query;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::b2b_divisions::create_division;
use crate::helpers::{Backend, TestApp, until};
use crate::imports::{finish, send_file};
use crate::{on_both_backends, per_backend};

on_both_backends!(start_and_finish_are_audited);

per_backend!(expired_imports_are_cleaned_up);

on_both_backends!(a_killed_server_s_import_resumes_without_duplicates);

const IMPORT: &str = "/api/v1/users/import/";

async fn upload(app: &TestApp, query: &str, csv: &str) -> (StatusCode, Value) {
    let token = app.token.clone();
    send_file(
        app,
        IMPORT,
        &token,
        query,
        "text/csv",
        csv.as_bytes().to_vec(),
    )
    .await
}

async fn events(app: &TestApp, action: &str) -> Vec<Value> {
    let (status, list) = app
        .get(&format!("/api/v1/audit-events/?action={action}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["results"].as_array().unwrap().clone()
}

async fn start_and_finish_are_audited(app: TestApp) {
    let division = create_division(&app, "Main", "main", None).await;
    let hash = kadro::auth::password::hash_now("audited-pass").unwrap();
    let csv = format!(
        "email,first_name,last_name,division,password,password_hash\n\
         a@example.com,Ann,Lee,{division},a-good-password,\n\
         b@example.com,Bob,Ray,{division},,\"{hash}\"\n\
         not-an-email,Cy,Ray,{division},a-good-password,\n"
    );
    let status = finish(&app, IMPORT, upload(&app, "", &csv).await).await;
    let id: i64 = Query::new("SELECT id FROM imports")
        .scalar(&app.state.db)
        .await
        .unwrap();
    let root: i64 = Query::new("SELECT id FROM users WHERE email = 'root@example.com'")
        .scalar(&app.state.db)
        .await
        .unwrap();
    assert_eq!(status["progress"]["failed"], 1, "{status}");

    let started = events(&app, "import.start").await;
    assert_eq!(started.len(), 1, "{started:?}");
    let e = &started[0];
    assert_eq!(e["actor"]["kind"], "user", "{e}");
    assert_eq!(e["actor"]["id"], root, "{e}");
    assert_eq!(e["target"], json!({"type": "import", "id": id}), "{e}");
    assert_eq!(
        e["changes"],
        json!({"kind": [null, "users"], "mode": [null, "create"], "dry_run": [null, false],
               "format": [null, "csv"]})
    );

    // The worker acts for the account that asked.
    let finished = events(&app, "import.finish").await;
    assert_eq!(finished.len(), 1, "{finished:?}");
    let e = &finished[0];
    assert_eq!(e["actor"]["kind"], "user", "{e}");
    assert_eq!(e["actor"]["id"], root, "{e}");
    assert_eq!(e["target"], json!({"type": "import", "id": id}), "{e}");
    assert_eq!(
        e["changes"],
        json!({"kind": [null, "users"], "mode": [null, "create"], "dry_run": [null, false],
               "status": [null, "completed"], "rows_total": [null, 3], "rows_done": [null, 3],
               "created": [null, 2], "updated": [null, 0], "failed": [null, 1],
               "reason": [null, null]})
    );

    // A dry run in upsert mode is recorded as one; no row's content reaches the log.
    let status = finish(
        &app,
        IMPORT,
        upload(&app, "mode=upsert&dry_run=true", &csv).await,
    )
    .await;
    assert_eq!(status["dry_run"], true);
    let finished = events(&app, "import.finish").await;
    assert_eq!(finished.len(), 2);
    assert_eq!(finished[0]["changes"]["mode"], json!([null, "upsert"]));
    assert_eq!(finished[0]["changes"]["dry_run"], json!([null, true]));
    let log: Vec<(String,)> = Query::new("SELECT changes FROM audit_events")
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    for (changes,) in log {
        for secret in [
            "a-good-password",
            &hash,
            "pbkdf2",
            "argon2",
            "a@example.com",
        ] {
            assert!(!changes.contains(secret), "{changes}");
        }
    }
}

fn uploads(app: &TestApp) -> Vec<String> {
    match std::fs::read_dir(app.export_dir.0.join(".imports")) {
        Ok(dir) => dir
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => vec![],
    }
}

async fn expired_imports_are_cleaned_up(backend: crate::helpers::Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.import_retention_seconds = 600).await else {
        return;
    };
    let division = create_division(&app, "Main", "main", None).await;
    let csv = format!(
        "email,first_name,last_name,division,password\n\
         a@example.com,Ann,Lee,{division},a-good-password\n\
         not-an-email,Cy,Ray,{division},a-good-password\n"
    );
    // A finished import keeps its status and report, not its upload.
    let done = finish(&app, IMPORT, upload(&app, "", &csv).await).await;
    let errors_url = done["errors_url"].as_str().unwrap().to_owned();
    assert_eq!(uploads(&app), Vec::<String>::new());
    let done_key: String = Query::new("SELECT cache_key FROM imports")
        .scalar(&app.state.db)
        .await
        .unwrap();
    // An import that has not run yet keeps its upload until it expires.
    let (status, body) = upload(&app, "", &csv).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let waiting_key = body["cache_key"].as_str().unwrap().to_owned();
    assert_eq!(uploads(&app), vec![format!("{waiting_key}.csv")]);
    let expires: Vec<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> =
        Query::new("SELECT created_at, expires_at FROM imports")
            .fetch_all(&app.state.db)
            .await
            .unwrap();
    for (created, expires) in &expires {
        let lifetime = (*expires - *created).num_seconds();
        assert!((595..=600).contains(&lifetime), "{lifetime}");
    }
    let first_expiry = expires.iter().map(|e| e.1).min().unwrap();

    // The cleanup, as the workers' periodic task runs it: nothing before the expiry...
    let cleanup = |at| kadro::exports::cleanup::run_once(&app.state, at);
    let cleaned = cleanup(first_expiry - chrono::Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(cleaned.imports, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM import_errors").await, 1);
    let response = app.client.get(&errors_url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // ...everything after it: rows, reports, the upload left behind.
    let later = expires.iter().map(|e| e.1).max().unwrap() + chrono::Duration::seconds(1);
    let cleaned = cleanup(later).await.unwrap();
    assert_eq!(cleaned.imports, 2);
    assert_eq!(app.count("SELECT COUNT(*) FROM imports").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM import_errors").await, 0);
    assert_eq!(uploads(&app), Vec::<String>::new());
    for key in [&done_key, &waiting_key] {
        let (status, _) = app.get(&format!("{IMPORT}?status_cache_key={key}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let response = app.client.get(&errors_url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    // The deleted import's job finds nothing to do; the imported user stays.
    app.drain_jobs().await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM jobs WHERE kind = 'import.run' AND status <> 'done'")
            .await,
        0
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE email = 'a@example.com'")
            .await,
        1
    );
    let cleaned = cleanup(later).await.unwrap();
    assert_eq!(cleaned.imports, 0);
}

/// Holds an import still inside a batch: a trigger of the test's own stops the insert of
/// `email` until the process is killed. On PostgreSQL the insert waits for an advisory lock
/// that the returned connection holds; SQLite has no waiting, so the insert counts a join too
/// large to ever finish (holding the write lock, as a slow batch would).
async fn brake(app: &TestApp, email: &str) -> Option<sqlx::PgConnection> {
    use sqlx::Connection;
    let run = |sql: String| async move {
        Query::new(sql).execute(&app.state.db).await.unwrap();
    };
    match app.backend {
        Backend::Postgres => {
            let mut holder = sqlx::PgConnection::connect(&app.db.url).await.unwrap();
            sqlx::query("SELECT pg_advisory_lock(7161)")
                .execute(&mut holder)
                .await
                .unwrap();
            run("CREATE FUNCTION import_brake() RETURNS trigger AS $$ \
                 BEGIN PERFORM pg_advisory_xact_lock(7161); RETURN NEW; END $$ LANGUAGE plpgsql"
                .into())
            .await;
            run(format!(
                "CREATE TRIGGER import_brake BEFORE INSERT ON users FOR EACH ROW \
                 WHEN (NEW.email = '{email}') EXECUTE FUNCTION import_brake()"
            ))
            .await;
            Some(holder)
        }
        Backend::Sqlite => {
            run("CREATE TABLE import_brake (n INTEGER)".into()).await;
            run(
                "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 1000) \
                 INSERT INTO import_brake SELECT n FROM c"
                    .into(),
            )
            .await;
            run(format!(
                "CREATE TRIGGER import_brake BEFORE INSERT ON users WHEN NEW.email = '{email}' \
                 BEGIN SELECT COUNT(*) FROM import_brake a, import_brake b, import_brake c, \
                 import_brake d; END"
            ))
            .await;
            None
        }
    }
}

/// Whether the brake holds a batch: an insert waits for the lock (PostgreSQL), or someone
/// holds SQLite's write lock.
async fn braked(app: &TestApp) -> bool {
    use sqlx::Connection;
    match app.backend {
        Backend::Postgres => {
            app.count("SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
                .await
                == 1
        }
        Backend::Sqlite => {
            let mut probe = sqlx::SqliteConnection::connect(&app.db.url).await.unwrap();
            sqlx::query("PRAGMA busy_timeout = 0")
                .execute(&mut probe)
                .await
                .unwrap();
            let held = sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut probe)
                .await
                .is_err();
            if !held {
                sqlx::query("ROLLBACK").execute(&mut probe).await.unwrap();
            }
            held
        }
    }
}

/// `kadro serve` on the test's database running import jobs in batches of 10 rows.
fn serve(app: &TestApp) -> crate::process::Kadro {
    let mut cmd = crate::process::kadro(&app.db);
    cmd.env("KADRO_EXPORT_DIR", &app.export_dir.0)
        .env("KADRO_IMPORT_BATCH_ROWS", "10")
        .args(["serve", "--bind", "127.0.0.1:0", "--workers", "1"]);
    crate::process::Kadro::spawn(cmd)
}

async fn import_state(app: &TestApp) -> (String, i64, i64, i64) {
    Query::new("SELECT status, rows_done, created, failed FROM imports")
        .fetch_one(&app.state.db)
        .await
        .unwrap()
}

async fn a_killed_server_s_import_resumes_without_duplicates(app: TestApp) {
    let division = create_division(&app, "Main", "main", None).await;
    let hash = kadro::auth::password::hash_now("resumed-pass").unwrap();
    let mut csv = String::from("email,first_name,last_name,division,password_hash\n");
    for n in 0..60 {
        csv.push_str(&format!("u{n}@example.com,U,{n},{division},\"{hash}\"\n"));
    }
    // Batches of 10: the third (rows u20..u29) stops at u25, its first five rows written.
    let holder = brake(&app, "u25@example.com").await;
    let (status, body) = upload(&app, "", &csv).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let key = body["cache_key"].as_str().unwrap().to_owned();

    let first = serve(&app);
    until("two batches committed", || async {
        import_state(&app).await.1 == 20
    })
    .await;
    until("the third batch held", || braked(&app)).await;
    drop(first); // SIGKILL, in the middle of the third batch's transaction

    // Let the brake go: the killed process's transaction is rolled back, nothing of it stays.
    if let Some(mut holder) = holder {
        sqlx::query("SELECT pg_advisory_unlock_all()")
            .execute(&mut holder)
            .await
            .unwrap();
    }
    // (On PostgreSQL this waits until the killed process's connection has ended.)
    let drop_brake = match app.backend {
        Backend::Postgres => "DROP TRIGGER import_brake ON users",
        Backend::Sqlite => "DROP TRIGGER import_brake",
    };
    Query::new(drop_brake).execute(&app.state.db).await.unwrap();
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE email LIKE 'u%'")
            .await,
        20
    );
    assert_eq!(import_state(&app).await, ("processing".into(), 20, 20, 0));
    let job = "SELECT attempts FROM jobs WHERE kind = 'import.run' AND status = 'running'";
    assert_eq!(app.count(job).await, 1);

    // The dead worker's lease runs out; another process takes the job and resumes.
    Query::new("UPDATE jobs SET locked_until = $1 WHERE kind = 'import.run'")
        .bind(kadro::http::time::now() - chrono::Duration::seconds(1))
        .execute(&app.state.db)
        .await
        .unwrap();
    let _second = serve(&app);
    let done = "SELECT COUNT(*) FROM jobs WHERE kind = 'import.run' AND status = 'done'";
    until("the import's job done", || async {
        app.count(done).await == 1
    })
    .await;
    assert_eq!(import_state(&app).await, ("completed".into(), 60, 60, 0));
    assert_eq!(
        app.count("SELECT COUNT(DISTINCT email) FROM users WHERE email LIKE 'u%'")
            .await,
        60
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE email LIKE 'u%'")
            .await,
        60
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM import_errors").await, 0);
    assert_eq!(
        app.count("SELECT attempts FROM jobs WHERE kind = 'import.run' AND status = 'done'")
            .await,
        2
    );
    let (_, status) = app.get(&format!("{IMPORT}?status_cache_key={key}")).await;
    assert_eq!(status["progress"]["rows_done"], 60, "{status}");
    assert_eq!(uploads(&app), Vec::<String>::new());
}
