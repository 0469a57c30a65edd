//! The file formats of an export and the writers behind them: one row of [`Cell`]s at a time,
//! straight to a file, whatever the number of rows.
//!
//! Every format neutralises spreadsheet formulas (OWASP "CSV injection"): a text cell that starts
//! with `=`, `+`, `-`, `@`, a tab or a carriage return is written with a leading `'`, so no
//! spreadsheet evaluates it, and a file re-saved as CSV stays harmless. Numbers stay numbers and
//! booleans booleans in xls and xlsx; timestamps are text in the API's RFC 3339 form.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::fs::File;
use std::io;
use std::path::Path;

use chrono::{DateTime, Utc};
use rust_xlsxwriter::{Workbook, XlsxError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::xls::{XlsCell, XlsWriter};
use crate::http::time;

/// A file format a client may ask for with `format=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// RFC 4180, UTF-8, CRLF line ends.
    Csv,
    /// Excel 97-2003 (BIFF8); rows past 65,535 continue on further sheets.
    Xls,
    /// Office Open XML; rows past 1,048,575 continue on further sheets.
    Xlsx,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Csv, Format::Xls, Format::Xlsx];

    pub fn parse(value: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.extension() == value)
    }

    /// The file extension, also the value of `format=`.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xls => "xls",
            Format::Xlsx => "xlsx",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xls => "application/vnd.ms-excel",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

/// One value of an exported row, borrowed from the row it came from.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell<'a> {
    Text(Cow<'a, str>),
    Int(i64),
    Bool(bool),
    Time(DateTime<Utc>),
    Empty,
}

impl<'a> Cell<'a> {
    pub fn text(value: &'a str) -> Self {
        Cell::Text(Cow::Borrowed(value))
    }

    pub fn int(value: Option<i64>) -> Self {
        value.map_or(Cell::Empty, Cell::Int)
    }

    pub fn time(value: Option<DateTime<Utc>>) -> Self {
        value.map_or(Cell::Empty, Cell::Time)
    }

    pub fn opt_text(value: Option<&'a str>) -> Self {
        value.map_or(Cell::Empty, Cell::text)
    }
}

/// `text`, or `'text` when a spreadsheet would read it as a formula.
pub fn neutralise(text: &str) -> Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

fn neutralised(headers: &[String]) -> Vec<String> {
    headers.iter().map(|h| neutralise(h).into_owned()).collect()
}

/// A file being written row by row. Blocking I/O: run it off the async runtime.
pub trait SheetWriter {
    fn write_row(&mut self, row: &[Cell<'_>]) -> io::Result<()>;
    /// Completes the file; a writer dropped without `finish` leaves an unusable file.
    fn finish(self: Box<Self>) -> io::Result<()>;
}

/// Starts a file of `format` at `path` with `headers` as its first row.
pub fn create(format: Format, path: &Path, headers: &[String]) -> io::Result<Box<dyn SheetWriter>> {
    Ok(match format {
        Format::Csv => Box::new(CsvSheet::create(path, headers)?),
        Format::Xls => Box::new(XlsSheet {
            out: XlsWriter::create(path, &neutralised(headers))?,
        }),
        Format::Xlsx => Box::new(XlsxSheet::create(path, headers).map_err(xlsx_error)?),
    })
}

struct CsvSheet {
    out: csv::Writer<File>,
    buf: String,
}

impl CsvSheet {
    fn create(path: &Path, headers: &[String]) -> io::Result<Self> {
        let mut out = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .buffer_capacity(256 * 1024)
            .from_writer(File::create(path)?);
        out.write_record(neutralised(headers))?;
        Ok(CsvSheet {
            out,
            buf: String::new(),
        })
    }
}

impl SheetWriter for CsvSheet {
    fn write_row(&mut self, row: &[Cell<'_>]) -> io::Result<()> {
        for cell in row {
            self.buf.clear();
            match cell {
                Cell::Text(text) => self.buf.push_str(&neutralise(text)),
                Cell::Int(n) => {
                    let _ = write!(self.buf, "{n}");
                }
                Cell::Bool(b) => self.buf.push_str(if *b { "true" } else { "false" }),
                Cell::Time(t) => self.buf.push_str(&time::format(t)),
                Cell::Empty => {}
            }
            self.out.write_field(&self.buf)?;
        }
        self.out.write_record(None::<&[u8]>)?;
        Ok(())
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        self.out.into_inner().map_err(|e| e.into_error())?;
        Ok(())
    }
}

struct XlsSheet {
    out: XlsWriter,
}

impl SheetWriter for XlsSheet {
    fn write_row(&mut self, row: &[Cell<'_>]) -> io::Result<()> {
        let text: Vec<Option<Cow<'_, str>>> = row
            .iter()
            .map(|cell| match cell {
                Cell::Text(t) => Some(neutralise(t)),
                Cell::Time(t) => Some(Cow::Owned(time::format(t))),
                _ => None,
            })
            .collect();
        let cells: Vec<XlsCell<'_>> = row
            .iter()
            .zip(&text)
            .map(|(cell, text)| match (cell, text) {
                (_, Some(text)) => XlsCell::Text(text),
                (Cell::Int(n), _) => XlsCell::Number(*n as f64),
                (Cell::Bool(b), _) => XlsCell::Bool(*b),
                _ => XlsCell::Empty,
            })
            .collect();
        self.out.write_row(&cells)
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        self.out.finish()
    }
}

/// Data rows per xlsx sheet: 1,048,576 rows minus the header.
const XLSX_ROWS_PER_SHEET: u32 = 1_048_575;

struct XlsxSheet {
    book: Workbook,
    path: std::path::PathBuf,
    headers: Vec<String>,
    bold: rust_xlsxwriter::Format,
    sheet: usize,
    /// Data rows on the current sheet.
    rows: u32,
}

impl XlsxSheet {
    fn create(path: &Path, headers: &[String]) -> Result<Self, XlsxError> {
        let mut book = Workbook::new();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            book.set_tempdir(dir)?;
        }
        let mut sheet = XlsxSheet {
            book,
            path: path.to_owned(),
            headers: neutralised(headers),
            bold: rust_xlsxwriter::Format::new().set_bold(),
            sheet: 0,
            rows: 0,
        };
        sheet.add_sheet()?;
        // Fail now rather than after the last row when the file cannot be written.
        File::create(path).map_err(XlsxError::IoError)?;
        Ok(sheet)
    }

    fn add_sheet(&mut self) -> Result<(), XlsxError> {
        let sheet = self.book.add_worksheet_with_constant_memory()?;
        for (col, header) in (0u16..).zip(&self.headers) {
            sheet.write_string_with_format(0, col, header, &self.bold)?;
        }
        self.sheet = self.book.worksheets().len() - 1;
        self.rows = 0;
        Ok(())
    }

    fn write(&mut self, row: &[Cell<'_>]) -> Result<(), XlsxError> {
        if self.rows >= XLSX_ROWS_PER_SHEET {
            self.add_sheet()?;
        }
        self.rows += 1;
        let r = self.rows;
        let sheet = self.book.worksheet_from_index(self.sheet)?;
        for (col, cell) in (0u16..).zip(row) {
            match cell {
                Cell::Text(t) if !t.is_empty() => {
                    sheet.write_string(r, col, neutralise(t))?;
                }
                Cell::Int(n) => {
                    sheet.write_number(r, col, *n as f64)?;
                }
                Cell::Bool(b) => {
                    sheet.write_boolean(r, col, *b)?;
                }
                Cell::Time(t) => {
                    sheet.write_string(r, col, time::format(t))?;
                }
                Cell::Text(_) | Cell::Empty => {}
            }
        }
        Ok(())
    }
}

impl SheetWriter for XlsxSheet {
    fn write_row(&mut self, row: &[Cell<'_>]) -> io::Result<()> {
        self.write(row).map_err(xlsx_error)
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        let path = self.path.clone();
        self.book.save(&path).map_err(xlsx_error)
    }
}

fn xlsx_error(e: XlsxError) -> io::Error {
    match e {
        XlsxError::IoError(e) => e,
        other => io::Error::other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised() {
        for risky in ["=1+1", "+49 30 1234", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralise(risky), format!("'{risky}"));
        }
        for safe in ["", "plain", "a=b", "'quoted", "Zoë"] {
            assert!(matches!(neutralise(safe), Cow::Borrowed(s) if s == safe));
        }
    }

    #[test]
    fn formats_parse_from_their_extension() {
        assert_eq!(Format::parse("xls"), Some(Format::Xls));
        assert_eq!(Format::parse("csv"), Some(Format::Csv));
        assert_eq!(Format::parse("xlsx"), Some(Format::Xlsx));
        assert_eq!(Format::parse("json"), None);
        assert_eq!(Format::parse("XLS"), None);
    }
}
