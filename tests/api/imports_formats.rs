//! Import uploads as a `multipart/form-data` form and as XLSX workbooks: the same job, rows and
//! report as a CSV body.

use reqwest::StatusCode;
use rust_xlsxwriter::Workbook;
use serde_json::json;

use crate::b2b_divisions::create_division;
use crate::helpers::TestApp;
use crate::imports::{error_report, finish, progress, send_file};
use crate::on_both_backends;

on_both_backends!(
    a_form_carries_the_file,
    xlsx_rows_are_imported_with_their_row_numbers,
);

const IMPORT: &str = "/api/v1/users/import/";
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const BOUNDARY: &str = "kadro-test-boundary";

/// A form with a `note` part and, when given, a `file` part (name, media type, bytes).
fn form(file: Option<(&str, Option<&str>, &[u8])>) -> Vec<u8> {
    let mut body =
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nignored\r\n")
            .into_bytes();
    if let Some((name, media_type, bytes)) = file {
        body.extend(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            )
            .bytes(),
        );
        if let Some(media_type) = media_type {
            body.extend(format!("Content-Type: {media_type}\r\n").bytes());
        }
        body.extend(b"\r\n");
        body.extend(bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{BOUNDARY}--\r\n").bytes());
    body
}

async fn send_form(app: &TestApp, body: Vec<u8>) -> (StatusCode, serde_json::Value) {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    send_file(app, IMPORT, &app.token.clone(), "", &content_type, body).await
}

async fn a_form_carries_the_file(app: TestApp) {
    let division = create_division(&app, "Main", "main", None).await;
    let csv = format!(
        "email,first_name,last_name,division,password\n\
         form@example.com,F,Orm,{division},a-good-password\n"
    );
    let started = send_form(
        &app,
        form(Some(("users.csv", Some("text/csv"), csv.as_bytes()))),
    )
    .await;
    let status = finish(&app, IMPORT, started).await;
    assert_eq!(progress(&status), (1, 1, 0, 0), "{status}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE email = 'form@example.com'")
            .await,
        1
    );

    // No `file` part; a part of another type; a broken form: nothing is recorded.
    let (status, body) = send_form(&app, form(None)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({"file": ["No file was submitted."]}));
    let (status, _) = send_form(&app, form(Some(("a.png", Some("image/png"), b"x")))).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, _) = send_form(&app, b"--nope\r\n".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A missing column is named, as for a CSV body.
    let started = send_form(&app, form(Some(("u.csv", None, b"first_name\nA\n")))).await;
    assert_eq!(started.0, StatusCode::BAD_REQUEST);
    assert_eq!(
        started.1,
        json!({"file": ["The column \"email\" is required."]})
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM imports").await, 1);
    let left = std::fs::read_dir(app.export_dir.0.join(".imports"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(
        left, 0,
        "the finished import's upload and the refused ones are gone"
    );
}

/// A workbook whose first sheet holds `rows` (numbers as numbers, text as text).
fn workbook(rows: &[Vec<json_cell::Cell>]) -> Vec<u8> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let (r, c) = (r as u32, c as u16);
            match cell {
                json_cell::Cell::Text(t) => sheet.write_string(r, c, t.as_str()).map(|_| ()),
                json_cell::Cell::Number(n) => sheet.write_number(r, c, *n).map(|_| ()),
                json_cell::Cell::Blank => Ok(()),
            }
            .unwrap();
        }
    }
    book.save_to_buffer().unwrap()
}

mod json_cell {
    pub enum Cell {
        Text(String),
        Number(f64),
        Blank,
    }
}

async fn xlsx_rows_are_imported_with_their_row_numbers(app: TestApp) {
    use json_cell::Cell::{Blank, Number, Text};
    let division = create_division(&app, "Main", "main", None).await;
    let hash = kadro::auth::password::hash_now("xlsx-pass-123").unwrap();
    let t = |s: &str| Text(s.to_owned());
    let user = |email: &str| {
        vec![
            t(email),
            t("X"),
            t("Lsx"),
            Number(division as f64),
            t(&hash),
        ]
    };
    let rows = vec![
        vec![
            t("email"),
            t("first_name"),
            t("last_name"),
            t("division"),
            t("password_hash"),
        ],
        user("one@example.com"),
        vec![Blank, Blank],
        user("three@example.com"),
        vec![
            t("four@example.com"),
            t("F"),
            t("Our"),
            Number(999999.0),
            t(&hash),
        ],
    ];
    let bytes = workbook(&rows);
    let started = send_file(&app, IMPORT, &app.token.clone(), "", XLSX, bytes.clone()).await;
    let status = finish(&app, IMPORT, started).await;
    assert_eq!(progress(&status), (4, 2, 0, 2), "{status}");
    let report = error_report(&app, &status).await;
    assert!(
        report.contains("\r\n3,email,This field may not be blank.\r\n"),
        "{report}"
    );
    assert!(
        report.contains("5,division,\"Invalid pk \"\"999999\"\" - object does not exist.\""),
        "{report}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE last_name = 'Lsx'")
            .await,
        2
    );

    // The same workbook as a form's part (known by its name) updates nothing in upsert mode.
    let body = form(Some((
        "users.xlsx",
        Some("application/octet-stream"),
        &bytes,
    )));
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let started = send_file(
        &app,
        IMPORT,
        &app.token.clone(),
        "mode=upsert",
        &content_type,
        body,
    )
    .await;
    let status = finish(&app, IMPORT, started).await;
    assert_eq!(progress(&status), (4, 0, 0, 2), "{status}");

    // A workbook without the required column, and a file that is no workbook: 400.
    let no_email = workbook(&[vec![t("first_name")], vec![t("A")]]);
    let (status, body) = send_file(&app, IMPORT, &app.token.clone(), "", XLSX, no_email).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({"file": ["The column \"email\" is required."]}));
    let (status, body) = send_file(
        &app,
        IMPORT,
        &app.token.clone(),
        "",
        XLSX,
        b"email\n".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"file": ["The file is not a readable XLSX workbook."]})
    );
}
