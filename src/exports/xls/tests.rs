//! Round trips of the `.xls` writer through calamine: cells, limits, sheets and the container.

use super::*;
use calamine::{Data, Range, Reader, Xls, open_workbook};
use std::path::PathBuf;

fn headers(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

fn read(path: &Path) -> Vec<(String, Range<Data>)> {
    let mut wb: Xls<_> = open_workbook(path).expect("open xls with calamine");
    wb.sheet_names()
        .into_iter()
        .map(|name| {
            let range = wb.worksheet_range(&name).expect("read sheet");
            (name, range)
        })
        .collect()
}

fn cell(range: &Range<Data>, row: u32, col: u32) -> Data {
    range.get_value((row, col)).cloned().unwrap_or(Data::Empty)
}

fn rows(range: &Range<Data>) -> u32 {
    range.end().map_or(0, |(r, _)| r + 1)
}

fn text(s: &str) -> Data {
    Data::String(s.to_owned())
}

fn tmp_path(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

#[test]
fn mixed_cells_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = tmp_path(&dir, "mixed.xls");
    let mut w = XlsWriter::create(&path, &headers(&["id", "name", "score", "active"])).unwrap();
    w.write_row(&[
        XlsCell::Number(1.0),
        XlsCell::Text("Alice"),
        XlsCell::Number(-12.5),
        XlsCell::Bool(true),
    ])
    .unwrap();
    w.write_row(&[
        XlsCell::Number(2.0),
        XlsCell::Empty,
        XlsCell::Number(1e300),
        XlsCell::Bool(false),
    ])
    .unwrap();
    w.write_row(&[
        XlsCell::Number(3.0),
        XlsCell::Text("tab\tand\nnewline"),
        XlsCell::Empty,
        XlsCell::Text(""),
    ])
    .unwrap();
    w.write_row(&[XlsCell::Number(f64::NAN)]).unwrap();
    assert_eq!(w.rows_written(), 4);
    w.finish().unwrap();

    let sheets = read(&path);
    assert_eq!(sheets.len(), 1);
    let (name, r) = &sheets[0];
    assert_eq!(name, "Sheet1");
    assert_eq!(rows(r), 5);
    let expected = [
        [text("id"), text("name"), text("score"), text("active")],
        [
            Data::Float(1.0),
            text("Alice"),
            Data::Float(-12.5),
            Data::Bool(true),
        ],
        [
            Data::Float(2.0),
            Data::Empty,
            Data::Float(1e300),
            Data::Bool(false),
        ],
        [
            Data::Float(3.0),
            text("tab\tand\nnewline"),
            Data::Empty,
            Data::Empty,
        ],
        [
            Data::Error(calamine::CellErrorType::Num),
            Data::Empty,
            Data::Empty,
            Data::Empty,
        ],
    ];
    for (row, values) in (0u32..).zip(expected.iter()) {
        for (col, value) in (0u32..).zip(values.iter()) {
            assert_eq!(&cell(r, row, col), value, "cell ({row}, {col})");
        }
    }
}

#[test]
fn unicode_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = tmp_path(&dir, "unicode.xls");
    let values = [
        "Zoë",
        "Łódź",
        "東京",
        "🎉 party",
        "Ünïcödé ÿ",
        "mixed ascii и кириллица",
    ];
    let mut w = XlsWriter::create(&path, &headers(&["Name", "Città", "🎉"])).unwrap();
    for v in values {
        w.write_row(&[XlsCell::Text(v), XlsCell::Text(v), XlsCell::Text(v)])
            .unwrap();
    }
    w.finish().unwrap();

    let sheets = read(&path);
    let r = &sheets[0].1;
    assert_eq!(cell(r, 0, 1), text("Città"));
    assert_eq!(cell(r, 0, 2), text("🎉"));
    for (row, v) in (1u32..).zip(values) {
        for col in 0..3 {
            assert_eq!(cell(r, row, col), text(v));
        }
    }
}

/// Writes `n` rows of (index, "row {index}") and checks the sheet split.
fn check_split(n: u32, expected_sheets: &[u32]) {
    let dir = tempfile::tempdir().unwrap();
    let path = tmp_path(&dir, "split.xls");
    let mut w = XlsWriter::create(&path, &headers(&["n", "label"])).unwrap();
    for i in 0..n {
        let label = format!("row {i}");
        w.write_row(&[XlsCell::Number(f64::from(i)), XlsCell::Text(&label)])
            .unwrap();
    }
    assert_eq!(w.rows_written(), u64::from(n));
    w.finish().unwrap();

    let sheets = read(&path);
    let names: Vec<&str> = sheets.iter().map(|(n, _)| n.as_str()).collect();
    let expected_names: Vec<String> = (1..=expected_sheets.len())
        .map(|i| format!("Sheet{i}"))
        .collect();
    assert_eq!(names, expected_names);
    let mut total = 0;
    let mut next = 0u32;
    for ((_, r), &data_rows) in sheets.iter().zip(expected_sheets) {
        assert_eq!(rows(r), data_rows + 1);
        assert_eq!(cell(r, 0, 0), text("n"));
        assert_eq!(cell(r, 0, 1), text("label"));
        // First and last data row of every sheet continue the sequence.
        assert_eq!(cell(r, 1, 0), Data::Float(f64::from(next)));
        next += data_rows;
        let last = next - 1;
        assert_eq!(cell(r, data_rows, 0), Data::Float(f64::from(last)));
        assert_eq!(cell(r, data_rows, 1), text(&format!("row {last}")));
        total += data_rows;
    }
    assert_eq!(total, n);
}

#[test]
fn max_rows_fit_in_one_sheet() {
    check_split(65_535, &[65_535]);
}

#[test]
fn one_more_row_opens_sheet2() {
    check_split(65_536, &[65_535, 1]);
}

#[test]
fn many_rows_split_into_three_sheets() {
    check_split(140_000, &[65_535, 65_535, 8_930]);
}

#[test]
fn long_strings_are_truncated_to_one_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = tmp_path(&dir, "long.xls");
    let latin = "é".repeat(100_000);
    let wide = "東".repeat(100_000);
    // The emoji would straddle the UTF-16 limit and must be dropped whole.
    let straddle = format!("{}🎉tail", "a".repeat(MAX_LABEL_UTF16 - 1));
    let mut w = XlsWriter::create(&path, &headers(&["text"])).unwrap();
    w.write_row(&[XlsCell::Text(&latin)]).unwrap();
    w.write_row(&[XlsCell::Text(&wide)]).unwrap();
    w.write_row(&[XlsCell::Text(&straddle)]).unwrap();
    w.write_row(&[XlsCell::Text("after")]).unwrap();
    w.finish().unwrap();

    let sheets = read(&path);
    let r = &sheets[0].1;
    assert_eq!(cell(r, 1, 0), text(&"é".repeat(MAX_LABEL_LATIN1)));
    assert_eq!(cell(r, 2, 0), text(&"東".repeat(MAX_LABEL_UTF16)));
    assert_eq!(cell(r, 3, 0), text(&"a".repeat(MAX_LABEL_UTF16 - 1)));
    assert_eq!(cell(r, 4, 0), text("after"));
}

#[test]
fn label_records_never_exceed_the_record_limit() {
    for s in ["x".repeat(40_000), "ж".repeat(40_000), "🎉".repeat(40_000)] {
        let mut buf = Vec::new();
        push_label(&mut buf, 1, 2, XF_CELL, &s);
        let len = usize::from(u16::from_le_bytes([buf[2], buf[3]]));
        assert_eq!(len, buf.len() - 4);
        assert!(len <= MAX_RECORD_DATA, "{len}");
    }
}

#[test]
fn too_many_columns_is_invalid_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = tmp_path(&dir, "wide.xls");
    let many: Vec<String> = (0..257).map(|i| format!("c{i}")).collect();
    let err = XlsWriter::create(&path, &many).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);

    let mut w = XlsWriter::create(&path, &many[..256]).unwrap();
    let row = vec![XlsCell::Number(1.0); 257];
    let err = w.write_row(&row).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    w.write_row(&row[..256]).unwrap();
    w.finish().unwrap();
    let sheets = read(&path);
    let r = &sheets[0].1;
    assert_eq!(cell(r, 0, 255), text("c255"));
    assert_eq!(cell(r, 1, 255), Data::Float(1.0));
}

#[test]
fn container_is_v3_without_orphan_mini_fat() {
    let dir = tempfile::tempdir().unwrap();
    let path = tmp_path(&dir, "v3.xls");
    let mut w = XlsWriter::create(&path, &headers(&["a"])).unwrap();
    for i in 0..500 {
        w.write_row(&[XlsCell::Number(f64::from(i))]).unwrap();
    }
    w.finish().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    let u32_at =
        |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    assert_eq!(u16_at(0x1A), 3, "major version");
    assert_eq!(u16_at(0x1E), 9, "512-byte sectors");
    // The Workbook stream (> 4 KiB) lives in regular sectors only.
    assert_eq!(u32_at(0x40), 0, "mini FAT sectors");
    assert_eq!(read(&path)[0].1.height(), 501);
}

#[test]
fn empty_workbook_opens() {
    let dir = tempfile::tempdir().unwrap();
    let path = tmp_path(&dir, "empty.xls");
    XlsWriter::create(&path, &[]).unwrap().finish().unwrap();
    let sheets = read(&path);
    assert_eq!(sheets.len(), 1);
    assert_eq!(sheets[0].0, "Sheet1");
    assert!(sheets[0].1.is_empty());
}
