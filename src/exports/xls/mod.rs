//! Streaming writer for Excel 97-2003 workbooks (`.xls`: BIFF8 records inside an
//! OLE Compound File).
//!
//! # Why this is hand-written
//!
//! No maintained Rust crate writes BIFF8: `calamine` (and Python's `xlrd`) only
//! read it, and the writer crates target `.xlsx`. BIFF8 for plain cell values is
//! small enough to emit by hand, so this module writes the records itself and
//! uses the [`cfb`] crate only for the Compound File container (version 3,
//! 512-byte sectors, because `xlrd` rejects version 4 containers).
//!
//! # Layout of the file
//!
//! The container holds one stream, `Workbook`, which is a sequence of BIFF
//! records (`u16` id, `u16` length, at most 8,224 bytes of data each):
//!
//! ```text
//! Workbook stream
//! ├── globals substream: BOF(globals) INTERFACEHDR MMS INTERFACEEND WRITEACCESS
//! │     CODEPAGE(1200 = UTF-16) DSF RRTABID FNGROUPCOUNT WINDOWPROTECT PROTECT
//! │     PASSWORD PROT4REV PROT4REVPASS BACKUP HIDEOBJ WINDOW1 DATEMODE PRECISION
//! │     REFRESHALL BOOKBOOL FONT x5 XF x17 (15 style XFs, the default cell XF,
//! │     a bold header XF) STYLE USESELFS BOUNDSHEET8 per sheet (absolute stream
//! │     offset of that sheet's BOF) COUNTRY SST(empty) EXTSST EOF
//! ├── Sheet1 substream: BOF(worksheet) CALCMODE CALCCOUNT REFMODE ITERATION
//! │     DELTA SAVERECALC GUTS DEFAULTROWHEIGHT WSBOOL DIMENSIONS
//! │     header row, data rows (LABEL / NUMBER / BOOLERR cell records, no ROW
//! │     records) WINDOW2 EOF
//! ├── Sheet2 substream ...
//! ```
//!
//! The globals need the offset of every sheet, which is only known once all rows
//! are written, and they must come first. So the sheet substreams are streamed
//! into an anonymous temporary file (created next to the output file) while
//! their byte count is tracked; each sheet's DIMENSIONS record is patched in
//! place when the sheet is closed. [`XlsWriter::finish`] then builds the globals
//! (about 1.5 KB plus ~22 bytes per sheet), writes them into the `Workbook`
//! stream and copies the temporary file after them. Memory use is therefore
//! independent of the number of rows; disk use is about twice the final size
//! until `finish` returns.
//!
//! Text cells are LABEL records (an inline `XLUnicodeString`, 8-bit "compressed"
//! form when every character is below U+0100, UTF-16LE otherwise) rather than
//! LABELSST, because a shared string table would have to hold every string in
//! memory until the end. The price is that one BIFF8 record holds at most 8,224
//! bytes, so a text cell keeps at most 8,215 characters in the 8-bit form and
//! 4,107 UTF-16 code units otherwise (never splitting a surrogate pair); longer
//! text is truncated. Numbers are NUMBER records, booleans BOOLERR records,
//! non-finite numbers become the `#NUM!` error, and empty cells (including
//! empty strings) are not written at all.
//!
//! Each sheet holds the header row plus at most 65,535 data rows (Excel's limit
//! is 65,536 rows); further rows go to "Sheet2", "Sheet3", ... The whole
//! `Workbook` stream must stay below 4 GiB (BOUNDSHEET8 offsets are 32-bit).

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use records::*;

mod records;
#[cfg(test)]
mod tests;

/// One cell of a data row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum XlsCell<'a> {
    /// A text cell; truncated to what fits in one BIFF8 LABEL record (see the
    /// module docs). An empty string is written as an empty cell.
    Text(&'a str),
    /// A numeric cell; NaN and infinities are written as the `#NUM!` error.
    Number(f64),
    /// A TRUE/FALSE cell.
    Bool(bool),
    /// No cell at all.
    Empty,
}

/// Size of the write buffer of the temporary file and of the copy buffer.
const IO_BUF: usize = 256 * 1024;

/// Streaming `.xls` (BIFF8) writer; see the module docs for the file layout.
#[derive(Debug)]
pub struct XlsWriter {
    /// The output container, opened by `create`; the `Workbook` stream is
    /// written into it by `finish`.
    cfb: cfb::CompoundFile<File>,
    /// Sheet substreams written so far.
    spool: Spool,
    /// Header row cell records (row 0), repeated on every sheet.
    header_records: Vec<u8>,
    /// Columns used by the header row.
    header_cols: u16,
    /// Offset in `spool` of each sheet's BOF record.
    sheet_offsets: Vec<u64>,
    /// Offset in `spool` of the current sheet's DIMENSIONS data.
    dims_pos: u64,
    /// Data rows on the current sheet.
    sheet_rows: u32,
    /// Columns used on the current sheet (last used column + 1).
    sheet_cols: u16,
    rows_written: u64,
    /// Reused record buffer.
    scratch: Vec<u8>,
}

/// The temporary file holding the sheet substreams, with its length.
#[derive(Debug)]
struct Spool {
    file: BufWriter<File>,
    len: u64,
}

impl Spool {
    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Overwrites bytes at `pos` (before the end) and returns to the end.
    fn patch(&mut self, pos: u64, bytes: &[u8]) -> io::Result<()> {
        self.file.seek(SeekFrom::Start(pos))?;
        self.file.write_all(bytes)?;
        self.file.seek(SeekFrom::Start(self.len))?;
        Ok(())
    }
}

impl XlsWriter {
    /// Starts a workbook at `path`; `headers` is the header row repeated at the
    /// top of every sheet (in bold).
    ///
    /// The file is created (or truncated) at once; it only becomes a valid
    /// workbook when [`finish`](Self::finish) succeeds. Fails with
    /// [`io::ErrorKind::InvalidInput`] when there are more than 256 headers.
    pub fn create(path: &Path, headers: &[String]) -> io::Result<Self> {
        if headers.len() > MAX_COLUMNS {
            return Err(too_many_columns(headers.len()));
        }
        let mut header_records = Vec::new();
        let mut header_cols = 0;
        for (col, header) in (0u16..).zip(headers) {
            if !header.is_empty() {
                push_label(&mut header_records, 0, col, XF_HEADER, header);
                header_cols = col + 1;
            }
        }

        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        let cfb = cfb::CompoundFile::create_with_version(cfb::Version::V3, file)?;
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let spool = Spool {
            file: BufWriter::with_capacity(IO_BUF, tempfile::tempfile_in(dir)?),
            len: 0,
        };

        let mut writer = XlsWriter {
            cfb,
            spool,
            header_records,
            header_cols,
            sheet_offsets: Vec::new(),
            dims_pos: 0,
            sheet_rows: 0,
            sheet_cols: 0,
            rows_written: 0,
            scratch: Vec::with_capacity(4096),
        };
        writer.start_sheet()?;
        Ok(writer)
    }

    /// Appends one data row. After 65,535 data rows on a sheet, continues on a
    /// new sheet ("Sheet1", "Sheet2", ...), each starting with the header row.
    ///
    /// Fails with [`io::ErrorKind::InvalidInput`] when the row has more than
    /// 256 cells, and with an error when the workbook would exceed the 4 GiB
    /// BIFF8 stream limit.
    pub fn write_row(&mut self, row: &[XlsCell<'_>]) -> io::Result<()> {
        if row.len() > MAX_COLUMNS {
            return Err(too_many_columns(row.len()));
        }
        if self.spool.len > MAX_SPOOL_LEN {
            return Err(io::Error::other(
                "xls workbook too large: the BIFF8 Workbook stream is limited to 4 GiB",
            ));
        }
        if self.sheet_rows >= MAX_DATA_ROWS_PER_SHEET {
            self.finish_sheet()?;
            self.start_sheet()?;
        }
        // Row 0 is the header, so data rows are 1..=65_535.
        let rw = u16::try_from(self.sheet_rows + 1)
            .map_err(|_| io::Error::other("xls row index out of range"))?;

        self.scratch.clear();
        for (col, cell) in (0u16..).zip(row) {
            match *cell {
                XlsCell::Text(text) if !text.is_empty() => {
                    push_label(&mut self.scratch, rw, col, XF_CELL, text);
                }
                XlsCell::Number(value) if value.is_finite() => {
                    push_number(&mut self.scratch, rw, col, value);
                }
                XlsCell::Number(_) => push_boolerr(&mut self.scratch, rw, col, ERR_NUM, true),
                XlsCell::Bool(value) => {
                    push_boolerr(&mut self.scratch, rw, col, u8::from(value), false);
                }
                XlsCell::Text(_) | XlsCell::Empty => continue,
            }
            self.sheet_cols = self.sheet_cols.max(col + 1);
        }
        self.spool.write(&self.scratch)?;
        self.sheet_rows += 1;
        self.rows_written += 1;
        Ok(())
    }

    /// Writes the workbook globals and closes the container. Must be called; a
    /// writer dropped without finish leaves an unusable file that the caller
    /// deletes.
    pub fn finish(mut self) -> io::Result<()> {
        self.finish_sheet()?;
        let XlsWriter {
            mut cfb,
            spool,
            sheet_offsets,
            ..
        } = self;
        let globals = build_globals(&sheet_offsets)?;
        let mut remaining = spool.len;
        let mut sheets = spool.file.into_inner().map_err(|e| e.into_error())?;
        sheets.seek(SeekFrom::Start(0))?;

        let mut stream = cfb.create_stream("/Workbook")?;
        // The first write carries the globals together with the start of the
        // sheet data: cfb starts a stream whose first write is under 4 KiB in
        // the mini stream, and moving it out later leaves an orphaned mini FAT
        // that xlrd warns about.
        let mut chunk = globals;
        chunk.reserve(IO_BUF);
        loop {
            while chunk.len() < IO_BUF && remaining > 0 {
                let start = chunk.len();
                let take = (IO_BUF - start).min(usize::try_from(remaining).unwrap_or(usize::MAX));
                chunk.resize(start + take, 0);
                sheets.read_exact(&mut chunk[start..])?;
                remaining -= take as u64;
            }
            if chunk.is_empty() {
                break;
            }
            stream.write_all(&chunk)?;
            chunk.clear();
        }
        stream.flush()?;
        drop(stream);
        cfb.flush()
    }

    /// Data rows written so far (header rows not counted).
    pub fn rows_written(&self) -> u64 {
        self.rows_written
    }

    /// Opens a new sheet substream: BOF, sheet settings, a DIMENSIONS
    /// placeholder and the header row.
    fn start_sheet(&mut self) -> io::Result<()> {
        self.sheet_offsets.push(self.spool.len);
        let buf = &mut self.scratch;
        buf.clear();
        push_record(buf, RT_BOF, &bof(BOF_WORKSHEET));
        push_record(buf, RT_CALCMODE, &1u16.to_le_bytes());
        push_record(buf, RT_CALCCOUNT, &100u16.to_le_bytes());
        push_record(buf, RT_REFMODE, &1u16.to_le_bytes());
        push_record(buf, RT_ITERATION, &0u16.to_le_bytes());
        push_record(buf, RT_DELTA, &0.001f64.to_le_bytes());
        push_record(buf, RT_SAVERECALC, &1u16.to_le_bytes());
        push_record(buf, RT_GUTS, &[0; 8]);
        // Flags 0, default height 255 twips.
        push_record(buf, RT_DEFAULTROWHEIGHT, &[0x00, 0x00, 0xFF, 0x00]);
        push_record(buf, RT_WSBOOL, &0x04C1u16.to_le_bytes());
        self.dims_pos = self.spool.len + buf.len() as u64 + 4;
        push_record(buf, RT_DIMENSIONS, &dimensions(0, 0));
        buf.extend_from_slice(&self.header_records);
        self.spool.write(&self.scratch)?;
        self.sheet_rows = 0;
        self.sheet_cols = self.header_cols;
        Ok(())
    }

    /// Closes the current sheet substream and fills in its DIMENSIONS.
    fn finish_sheet(&mut self) -> io::Result<()> {
        let first = self.sheet_offsets.len() == 1;
        let buf = &mut self.scratch;
        buf.clear();
        push_record(buf, RT_WINDOW2, &window2(first));
        push_record(buf, RT_EOF, &[]);
        self.spool.write(&self.scratch)?;
        let used_rows = if self.sheet_cols == 0 {
            0
        } else {
            self.sheet_rows + 1
        };
        self.spool
            .patch(self.dims_pos, &dimensions(used_rows, self.sheet_cols))
    }
}

fn too_many_columns(count: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("xls supports at most {MAX_COLUMNS} columns, got {count}"),
    )
}
