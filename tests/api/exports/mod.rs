//! Exports: the flow on the lists, the three formats read back, links, lifecycle.

mod formats;
mod lifecycle;
mod lists;
mod replica;
pub mod s3;

use std::io::Cursor;
use std::path::Path;

use calamine::{Data, Reader, Xls, Xlsx, open_workbook_from_rs};
use chrono::{DateTime, Utc};
use kadro::db::Query;
use kadro::http::time;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::TestApp;

/// Starts an export with `query` on the staff-users list; its cache key.
pub async fn start_export(app: &TestApp, query: &str) -> String {
    let (status, body) = app.get(&format!("/api/v1/staff-users/?{query}")).await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    let key = body["cache_key"].as_str().expect("cache_key").to_owned();
    assert_eq!(key.len(), 32);
    assert!(key.chars().all(|c| c.is_ascii_hexdigit()), "{key}");
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    key
}

pub async fn export_status(app: &TestApp, key: &str) -> (StatusCode, Value) {
    app.get(&format!("/api/v1/staff-users/?status_cache_key={key}"))
        .await
}

/// Runs the queued export job(s), checks the export completed and downloads the file without
/// a token; (content type, content disposition, bytes).
pub async fn build_and_download(app: &TestApp, key: &str) -> (String, String, Vec<u8>) {
    app.drain_jobs().await;
    let (status, body) = export_status(app, key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "completed", "{body}");
    assert_eq!(body["is_ready"], true);
    let url = body["url"].as_str().expect("url");
    assert!(url.starts_with(&app.url("/export_file/")), "{url}");
    let response = app.client.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let header = |name: &str| {
        response.headers()[name]
            .to_str()
            .map(str::to_owned)
            .unwrap()
    };
    let (content_type, disposition) = (header("content-type"), header("content-disposition"));
    let bytes = response.bytes().await.unwrap().to_vec();
    (content_type, disposition, bytes)
}

/// A sheet as text: numbers without a fraction as integers, booleans as `true`/`false`.
pub type Sheet = Vec<Vec<String>>;

pub fn cell_text(d: &Data) -> String {
    match d {
        Data::String(s) => s.clone(),
        Data::Float(f) if f.fract() == 0.0 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::Empty => String::new(),
        other => format!("{other:?}"),
    }
}

/// The sheets of a workbook (xls or xlsx) with their raw cells.
pub fn read_workbook(ext: &str, bytes: &[u8]) -> Vec<(String, Vec<Vec<Data>>)> {
    fn sheets<R: Reader<Cursor<Vec<u8>>>>(mut book: R) -> Vec<(String, Vec<Vec<Data>>)>
    where
        R::Error: std::fmt::Debug,
    {
        book.sheet_names()
            .into_iter()
            .map(|name| {
                let range = book.worksheet_range(&name).expect("sheet");
                (name, range.rows().map(<[Data]>::to_vec).collect())
            })
            .collect()
    }
    let data = Cursor::new(bytes.to_vec());
    match ext {
        "xls" => sheets::<Xls<_>>(open_workbook_from_rs(data).expect("an xls workbook")),
        "xlsx" => sheets::<Xlsx<_>>(open_workbook_from_rs(data).expect("an xlsx workbook")),
        other => panic!("not a workbook format: {other}"),
    }
}

pub fn read_csv(bytes: &[u8]) -> Sheet {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes);
    reader
        .records()
        .map(|r| r.expect("csv record").iter().map(str::to_owned).collect())
        .collect()
}

/// Any format as one sheet of text (the sheets of a workbook one after the other, each with
/// its header row).
pub fn read_text(ext: &str, bytes: &[u8]) -> Sheet {
    match ext {
        "csv" => read_csv(bytes),
        _ => read_workbook(ext, bytes)
            .into_iter()
            .flat_map(|(_, rows)| rows)
            .map(|row| row.iter().map(cell_text).collect())
            .collect(),
    }
}

pub async fn insert_division(app: &TestApp, name: &str, kind: &str) -> i64 {
    Query::new(
        "INSERT INTO divisions (name, division_type, is_active, extra_data, created_date, \
         modified_date) VALUES ($1, $2, TRUE, '{}', $3, $3) RETURNING id",
    )
    .bind(name)
    .bind(kind)
    .bind(time::now())
    .scalar(&app.state.db)
    .await
    .unwrap()
}

/// A B2B account to insert.
pub struct Account<'a> {
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub phone_number: &'a str,
    pub division: Option<i64>,
    pub is_staff: bool,
    pub remote_id: Option<i64>,
    pub last_login: Option<DateTime<Utc>>,
}

impl Default for Account<'_> {
    fn default() -> Self {
        Account {
            email: "someone@example.com",
            first_name: "",
            last_name: "",
            phone_number: "",
            division: None,
            is_staff: true,
            remote_id: None,
            last_login: None,
        }
    }
}

pub async fn insert_account(app: &TestApp, a: Account<'_>) -> i64 {
    Query::new(
        "INSERT INTO users (email, first_name, last_name, phone_number, division_id, is_active, \
         is_staff, remote_id, language, date_joined, last_login) \
         VALUES ($1, $2, $3, $4, $5, TRUE, $6, $7, 'tr', $8, $9) RETURNING id",
    )
    .bind(a.email)
    .bind(a.first_name)
    .bind(a.last_name)
    .bind(a.phone_number)
    .bind(a.division)
    .bind(a.is_staff)
    .bind(a.remote_id)
    .bind(time::now())
    .bind(a.last_login)
    .scalar(&app.state.db)
    .await
    .unwrap()
}

/// Inserts `n` staff users `bulk{i}@example.com` with one multi-row INSERT per 500 rows.
pub async fn insert_many_staff(app: &TestApp, n: usize) {
    let now = time::now();
    let mut tx = app.state.db.begin().await.unwrap();
    for start in (0..n).step_by(500) {
        let mut q =
            Query::new("INSERT INTO users (email, is_active, is_staff, date_joined) VALUES ")
                .bind(now);
        for i in start..(start + 500).min(n) {
            if i > start {
                q.push(", ");
            }
            q.push("(")
                .push_bind(format!("bulk{i}@example.com"))
                .push(", TRUE, TRUE, $1)");
        }
        q.execute(&mut tx).await.unwrap();
    }
    tx.commit().await.unwrap();
}

/// Regular files under `dir`, at any depth.
pub fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}
