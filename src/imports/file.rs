//! Reading an uploaded file: its header row (the columns, by the API's field names, in any
//! order) and its data rows in batches, on a blocking thread. UTF-8 with or without a byte
//! order mark, RFC 4180 quoting (a quoted cell may hold commas, quotes and newlines).

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use csv::StringRecord;

use crate::http::error::{ApiError, FieldErrors};

/// What rows a file holds: its required and known columns.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    pub name: &'static str,
    pub required: &'static [&'static str],
    /// At least one of these columns must be there (none when empty).
    pub one_of: &'static [&'static str],
    pub known: &'static [&'static str],
}

/// Where each known column is, and the columns nobody reads.
#[derive(Clone, Debug, Default)]
pub struct Columns {
    index: HashMap<&'static str, usize>,
    pub unknown: Vec<String>,
}

impl Columns {
    /// The cell of `column` in `record`, trimmed; `None` when the column is absent or the cell
    /// is empty (an empty cell leaves the field as it is).
    pub fn cell<'r>(&self, record: &'r StringRecord, column: &str) -> Option<&'r str> {
        let i = *self.index.get(column)?;
        record.get(i).map(str::trim).filter(|c| !c.is_empty())
    }
}

/// A data row and its number in the file (the header is row 1, as a spreadsheet counts).
pub type NumberedRow = (i64, Result<StringRecord, String>);

pub fn reader(path: &Path) -> std::io::Result<csv::Reader<File>> {
    let file = File::open(path)?;
    Ok(csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(file))
}

fn bad_file(message: impl Into<String>) -> ApiError {
    ApiError::Validation(FieldErrors::single("file", message))
}

/// The header row checked against `target`: a missing required column is a 400 naming it.
pub fn read_columns(path: &Path, target: Target) -> Result<Columns, ApiError> {
    let mut reader = reader(path).map_err(|e| ApiError::Internal(e.into()))?;
    let headers = reader
        .headers()
        .map_err(|_| bad_file("The header row is not valid UTF-8 CSV."))?
        .clone();
    columns_of(headers.iter(), target)
}

/// The columns of a header row, checked against `target`.
pub fn columns_of<'h>(
    headers: impl Iterator<Item = &'h str>,
    target: Target,
) -> Result<Columns, ApiError> {
    let headers: Vec<&str> = headers.collect();
    if headers.iter().all(|h| h.trim().is_empty()) {
        return Err(bad_file("The file is empty: a header row is required."));
    }
    let mut columns = Columns::default();
    for (i, name) in headers.iter().enumerate() {
        let name = name.trim_start_matches('\u{feff}').trim();
        match target.known.iter().find(|k| **k == name) {
            Some(known) => {
                columns.index.entry(known).or_insert(i);
            }
            None => columns.unknown.push(name.to_owned()),
        }
    }
    let mut errors = FieldErrors::new();
    for required in target.required {
        if !columns.index.contains_key(required) {
            errors.add("file", format!("The column \"{required}\" is required."));
        }
    }
    if !target.one_of.is_empty() && !target.one_of.iter().any(|c| columns.index.contains_key(c)) {
        let names: Vec<String> = target.one_of.iter().map(|c| format!("\"{c}\"")).collect();
        errors.add(
            "file",
            format!("One of the columns {} is required.", names.join(", ")),
        );
    }
    errors.into_result()?;
    Ok(columns)
}

/// Data rows in the file.
pub fn count_rows(path: PathBuf) -> std::io::Result<i64> {
    let mut reader = reader(&path)?;
    let mut record = csv::ByteRecord::new();
    let mut n = 0;
    while reader
        .read_byte_record(&mut record)
        .map_err(std::io::Error::other)?
    {
        n += 1;
    }
    Ok(n)
}

/// Data rows read so far, and the reader positioned after them.
pub struct Rows {
    reader: csv::Reader<File>,
    next: i64,
}

impl Rows {
    /// Opens the file after its first `skip` data rows (already imported).
    pub fn open(path: &Path, skip: i64) -> std::io::Result<Rows> {
        let mut reader = reader(path)?;
        let mut record = csv::ByteRecord::new();
        let mut skipped = 0;
        while skipped < skip
            && reader
                .read_byte_record(&mut record)
                .map_err(std::io::Error::other)?
        {
            skipped += 1;
        }
        Ok(Rows {
            reader,
            next: skipped + 2,
        })
    }

    /// Up to `n` rows; a row that is not valid UTF-8 comes as its error.
    pub fn batch(&mut self, n: usize) -> std::io::Result<Vec<NumberedRow>> {
        let mut rows = Vec::with_capacity(n);
        let mut record = csv::ByteRecord::new();
        while rows.len() < n {
            if !self
                .reader
                .read_byte_record(&mut record)
                .map_err(std::io::Error::other)?
            {
                break;
            }
            let row = StringRecord::from_byte_record(record.clone())
                .map_err(|_| "The row is not valid UTF-8.".to_owned());
            rows.push((self.next, row));
            self.next += 1;
        }
        Ok(rows)
    }
}
