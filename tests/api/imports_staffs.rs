//! Bulk imports of Instore staffs: the staff API's rules per row, stores and groups linked,
//! create and upsert by username or remote_id, nothing written for a refused row.

use kadro::db::Query;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::imports::{error_report, finish, progress, send_file};
use crate::instore_support::{PASSWORD, geo, group, staff, store};
use crate::on_both_backends;

on_both_backends!(
    staffs_create_then_upsert_and_rerun,
    staff_rows_are_checked_with_the_api_rules,
    staffs_dry_run_writes_nothing,
    staffs_need_a_key_column,
);

const IMPORT: &str = "/api/v1/staffs/import/";

async fn import(app: &TestApp, query: &str, csv: &str) -> Value {
    let started = send_file(
        app,
        IMPORT,
        &app.token.clone(),
        query,
        "text/csv",
        csv.as_bytes().to_vec(),
    )
    .await;
    finish(app, IMPORT, started).await
}

/// (username, first_name, email, remote_id, is_active, has a password) of every staff.
type StaffLine = (Option<String>, String, String, Option<String>, bool, bool);

async fn staffs(app: &TestApp) -> Vec<StaffLine> {
    Query::new(
        "SELECT username, first_name, email, remote_id, is_active, \
         password_hash LIKE '$argon2id$%' FROM staffs ORDER BY id",
    )
    .fetch_all(&app.state.db)
    .await
    .unwrap()
}

/// The ids linked to the staff `username` through `table`.
async fn links(app: &TestApp, table: &str, other: &str, username: &str) -> Vec<i64> {
    Query::new(format!(
        "SELECT l.{other} FROM {table} l JOIN staffs s ON s.id = l.staff_id \
         WHERE s.username = $1 ORDER BY l.{other}"
    ))
    .bind(username)
    .scalars(&app.state.db)
    .await
    .unwrap()
}

async fn stores_of(app: &TestApp, username: &str) -> Vec<i64> {
    links(app, "staff_retail_stores", "retail_store_id", username).await
}

async fn groups_of(app: &TestApp, username: &str) -> Vec<i64> {
    links(app, "staff_permission_groups", "group_id", username).await
}

async fn staffs_create_then_upsert_and_rerun(app: TestApp) {
    let g = geo(&app).await;
    let (s1, s2) = (
        store(&app, g.township, "One").await,
        store(&app, g.township, "Two").await,
    );
    let cashiers = group(&app, "Cashiers", &[]).await;
    let csv = format!(
        "username,first_name,last_name,email,password,retail_stores,permission_groups,remote_id\n\
         alice,Alice,A,alice@example.com,{PASSWORD},{s1}|{s2},{cashiers},\n\
         ,Bob,B,bob@example.com,{PASSWORD},{s1},,r-bob\n"
    );
    let status = import(&app, "", &csv).await;
    assert_eq!(progress(&status), (2, 2, 0, 0), "{status}");
    assert_eq!(status["errors_url"], Value::Null);
    let expected = vec![
        (
            Some("alice".to_owned()),
            "Alice".to_owned(),
            "alice@example.com".to_owned(),
            None,
            true,
            true,
        ),
        (
            None,
            "Bob".to_owned(),
            "bob@example.com".to_owned(),
            Some("r-bob".to_owned()),
            true,
            true,
        ),
    ];
    assert_eq!(staffs(&app).await, expected);
    assert_eq!(stores_of(&app, "alice").await, vec![s1, s2]);
    assert_eq!(groups_of(&app, "alice").await, vec![cashiers]);
    // The staff API lists them; each creation is in the audit log.
    let (_, list) = app.get("/api/v1/staffs/?email=example.com").await;
    assert_eq!(list["count"], 2, "{list}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'staff.create'")
            .await,
        2
    );

    // create refuses a taken username (any case) and a taken remote_id, row by row.
    let again = csv.replace("alice,Alice", "ALICE,Alice");
    let status = import(&app, "mode=create", &again).await;
    assert_eq!(progress(&status), (2, 0, 0, 2), "{status}");
    let report = error_report(&app, &status).await;
    assert_eq!(
        report,
        "row,field,message\r\n\
         2,username,A staff with that username already exists.\r\n\
         3,remote_id,A staff with this remote_id already exists.\r\n"
    );
    assert_eq!(staffs(&app).await, expected);

    // upsert changes the named staffs with the row's cells (empty cells keep the field);
    // a new staff still needs the API's required fields.
    let changed = format!(
        "username,remote_id,first_name,retail_stores,is_active\n\
         alice,,Alicia,{s2},\n\
         ,r-bob,,,false\n\
         carol,,Carol,{s1},\n"
    );
    let status = import(&app, "mode=upsert", &changed).await;
    assert_eq!(progress(&status), (3, 0, 2, 1), "{status}");
    let report = error_report(&app, &status).await;
    for expected in [
        "4,last_name,This field is required.",
        "4,email,This field is required.",
        "4,password,This field is required.",
    ] {
        assert!(report.contains(expected), "{expected} not in {report}");
    }
    let after = staffs(&app).await;
    assert_eq!(after.len(), 2, "{after:?}");
    assert_eq!(after[0].1, "Alicia");
    assert!(!after[1].4, "bob is deactivated");
    assert_eq!(stores_of(&app, "alice").await, vec![s2]);
    assert_eq!(groups_of(&app, "alice").await, vec![cashiers]);

    // The same file again changes nothing and records no event but the import's own.
    let staff_events = "SELECT COUNT(*) FROM audit_events WHERE action NOT LIKE 'import.%'";
    let events = app.count(staff_events).await;
    let status = import(&app, "mode=upsert", &changed).await;
    assert_eq!(progress(&status), (3, 0, 0, 1), "{status}");
    assert_eq!(staffs(&app).await, after);
    assert_eq!(app.count(staff_events).await, events);
}

async fn staff_rows_are_checked_with_the_api_rules(app: TestApp) {
    let g = geo(&app).await;
    let shop = store(&app, g.township, "Shop").await;
    staff(&app, "kept@example.com", Some("kept"), &[shop], &[]).await;
    let head =
        "username,first_name,last_name,email,password,retail_stores,permission_groups,is_staff\n";
    let ok = |name: &str| format!("{name},F,L,{name}@example.com,{PASSWORD},{shop},,");
    let rows = [
        ok("fine"),
        format!("bad name,F,L,x@example.com,{PASSWORD},{shop},,"),
        format!("dup,F,L,not-an-email,{PASSWORD},{shop},,"),
        ok("fine"),
        format!("short,F,L,s@example.com,short,{shop},,"),
        format!("nostore,F,L,n@example.com,{PASSWORD},999999,,"),
        format!("nogroup,F,L,n@example.com,{PASSWORD},{shop},888888,"),
        format!("wrongtype,F,L,w@example.com,{PASSWORD},x,,maybe"),
        format!(",F,L,k@example.com,{PASSWORD},{shop},,"),
        ok("KEPT"),
    ];
    let csv = format!("{head}{}\n", rows.join("\n"));
    let status = import(&app, "", &csv).await;
    assert_eq!(progress(&status), (10, 1, 0, 9), "{status}");
    let report = error_report(&app, &status).await;
    let lines: Vec<&str> = report.lines().collect();
    for expected in [
        "3,username,\"Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.\"",
        "4,email,Enter a valid email address.",
        "5,username,This username appears on an earlier row of the file.",
        "6,password,This password is too short. It must contain at least 8 characters.",
        "7,retail_stores,\"Invalid pk \"\"999999\"\" - object does not exist.\"",
        "8,permission_groups,\"Invalid pk \"\"888888\"\" - object does not exist.\"",
        "9,is_staff,Must be a valid boolean.",
        "10,username,A row needs a username or a remote_id.",
        "11,username,A staff with that username already exists.",
    ] {
        assert!(lines.contains(&expected), "{expected} not in {report}");
    }
    assert!(
        report.contains("\n9,retail_stores,"),
        "the wrong id type is named too: {report}"
    );
    // Only the good row and the one made before; no link of a refused row.
    assert_eq!(app.count("SELECT COUNT(*) FROM staffs").await, 2);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM staff_retail_stores").await,
        2
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM staff_permission_groups")
            .await,
        0
    );
    assert!(!report.contains(PASSWORD));
}

async fn staffs_dry_run_writes_nothing(app: TestApp) {
    let g = geo(&app).await;
    let shop = store(&app, g.township, "Shop").await;
    let csv = format!(
        "username,first_name,last_name,email,password,retail_stores\n\
         dry,F,L,dry@example.com,{PASSWORD},{shop}\n\
         bad,F,L,bad,{PASSWORD},{shop}\n"
    );
    let events = app.count("SELECT COUNT(*) FROM audit_events").await;
    let status = import(&app, "dry_run=true", &csv).await;
    assert_eq!(status["dry_run"], true);
    assert_eq!(progress(&status), (2, 1, 0, 1), "{status}");
    assert_eq!(app.count("SELECT COUNT(*) FROM staffs").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM staff_retail_stores").await,
        0
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE action LIKE 'staff.%'")
            .await,
        0
    );
    assert!(app.count("SELECT COUNT(*) FROM audit_events").await >= events);
}

async fn staffs_need_a_key_column(app: TestApp) {
    let (status, body) = send_file(
        &app,
        IMPORT,
        &app.token.clone(),
        "",
        "text/csv",
        b"first_name,email\nA,a@example.com\n".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"file": ["One of the columns \"username\", \"remote_id\" is required."]})
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM imports").await, 0);
}
