//! XLSX uploads. The first worksheet is turned into CSV once, by the job before its first
//! batch, so both formats share the row reader, the row numbers and resumption. Cells are
//! streamed from the sheet (only the workbook's shared strings are held in memory).
//!
//! Cells read as text the way they show: whole numbers without a decimal point (an id typed
//! in Excel is a number), booleans as `true`/`false`. A blank row between data rows stays a
//! row (so row numbers match the spreadsheet's); blank rows at the end are dropped.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use anyhow::Context;
use calamine::{DataRef, Reader, Xlsx};

/// The text of a cell.
fn text_of(value: &DataRef<'_>) -> String {
    match value {
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        DataRef::Float(f) => f.to_string(),
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::SharedString(s) => (*s).to_owned(),
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(d) => d.to_string(),
        DataRef::Error(e) => e.to_string(),
        DataRef::Empty => String::new(),
    }
}

/// Calls `each` with every row of the first sheet, from its first non-blank row, until it
/// answers false.
fn for_each_row(
    path: &Path,
    mut each: impl FnMut(&[String]) -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    let file = BufReader::new(File::open(path)?);
    let mut book = Xlsx::new(file).context("not an XLSX workbook")?;
    let sheet = book
        .sheet_names()
        .first()
        .cloned()
        .context("the workbook has no sheet")?;
    let mut cells = book.worksheet_cells_reader(&sheet)?;
    // The row being gathered (its sheet row) and the last row handed out.
    let mut current: Option<(u32, Vec<String>)> = None;
    let mut last: Option<u32> = None;
    let mut emit = |at: u32, row: Vec<String>, last: &mut Option<u32>| -> anyhow::Result<bool> {
        if let Some(before) = *last {
            for _ in before + 1..at {
                if !each(&[])? {
                    return Ok(false);
                }
            }
        }
        *last = Some(at);
        each(&row)
    };
    while let Some(cell) = cells.next_cell()? {
        let text = text_of(cell.get_value());
        if text.is_empty() {
            continue;
        }
        let (at, column) = cell.get_position();
        if let Some((row_at, _)) = &current
            && *row_at != at
        {
            let (row_at, row) = current.take().unwrap_or_default();
            if !emit(row_at, row, &mut last)? {
                return Ok(());
            }
        }
        let (_, row) = current.get_or_insert_with(|| (at, Vec::new()));
        let column = column as usize;
        if row.len() <= column {
            row.resize(column + 1, String::new());
        }
        row[column] = text;
    }
    if let Some((row_at, row)) = current {
        emit(row_at, row, &mut last)?;
    }
    Ok(())
}

/// The sheet's header row (empty when the sheet is).
pub fn header(path: &Path) -> anyhow::Result<Vec<String>> {
    let mut header = Vec::new();
    for_each_row(path, |row| {
        header = row.to_vec();
        Ok(false)
    })?;
    Ok(header)
}

/// Writes the first sheet of `from` as CSV at `to` (complete or not at all: written beside
/// it, then renamed).
pub fn to_csv(from: &Path, to: &Path) -> anyhow::Result<()> {
    let partial = to.with_extension("csv.partial");
    let mut out = csv::WriterBuilder::new()
        .flexible(true)
        .from_path(&partial)?;
    for_each_row(from, |row| {
        out.write_record(row)?;
        Ok(true)
    })?;
    out.flush()?;
    drop(out);
    File::open(&partial)?.sync_all()?;
    std::fs::rename(&partial, to)?;
    Ok(())
}
