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

// Record identifiers (MS-XLS section 2.3).
const RT_BOF: u16 = 0x0809;
const RT_EOF: u16 = 0x000A;
const RT_INTERFACEHDR: u16 = 0x00E1;
const RT_MMS: u16 = 0x00C1;
const RT_INTERFACEEND: u16 = 0x00E2;
const RT_WRITEACCESS: u16 = 0x005C;
const RT_CODEPAGE: u16 = 0x0042;
const RT_DSF: u16 = 0x0161;
const RT_RRTABID: u16 = 0x013D;
const RT_FNGROUPCOUNT: u16 = 0x009C;
const RT_WINDOWPROTECT: u16 = 0x0019;
const RT_PROTECT: u16 = 0x0012;
const RT_PASSWORD: u16 = 0x0013;
const RT_PROT4REV: u16 = 0x01AF;
const RT_PROT4REVPASS: u16 = 0x01BC;
const RT_BACKUP: u16 = 0x0040;
const RT_HIDEOBJ: u16 = 0x008D;
const RT_WINDOW1: u16 = 0x003D;
const RT_DATEMODE: u16 = 0x0022;
const RT_PRECISION: u16 = 0x000E;
const RT_REFRESHALL: u16 = 0x01B7;
const RT_BOOKBOOL: u16 = 0x00DA;
const RT_FONT: u16 = 0x0031;
const RT_XF: u16 = 0x00E0;
const RT_STYLE: u16 = 0x0293;
const RT_USESELFS: u16 = 0x0160;
const RT_BOUNDSHEET: u16 = 0x0085;
const RT_COUNTRY: u16 = 0x008C;
const RT_SST: u16 = 0x00FC;
const RT_EXTSST: u16 = 0x00FF;
const RT_CALCMODE: u16 = 0x000D;
const RT_CALCCOUNT: u16 = 0x000C;
const RT_REFMODE: u16 = 0x000F;
const RT_ITERATION: u16 = 0x0011;
const RT_DELTA: u16 = 0x0010;
const RT_SAVERECALC: u16 = 0x005F;
const RT_GUTS: u16 = 0x0080;
const RT_DEFAULTROWHEIGHT: u16 = 0x0225;
const RT_WSBOOL: u16 = 0x0081;
const RT_DIMENSIONS: u16 = 0x0200;
const RT_WINDOW2: u16 = 0x023E;
const RT_NUMBER: u16 = 0x0203;
const RT_LABEL: u16 = 0x0204;
const RT_BOOLERR: u16 = 0x0205;

/// Largest data part of one BIFF8 record.
const MAX_RECORD_DATA: usize = 8224;
/// LABEL data before the characters: rw, col, ixfe, cch (u16 each) and flags (u8).
const LABEL_FIXED: usize = 9;
/// Excel's limit on the characters of one cell.
const MAX_CELL_CHARS: usize = 32_767;
/// Characters of a LABEL in the 8-bit form.
const MAX_LABEL_LATIN1: usize = min_usize(MAX_CELL_CHARS, MAX_RECORD_DATA - LABEL_FIXED);
/// UTF-16 code units of a LABEL in the UTF-16LE form.
const MAX_LABEL_UTF16: usize = min_usize(MAX_CELL_CHARS, (MAX_RECORD_DATA - LABEL_FIXED) / 2);
/// Data rows per sheet: 65,536 rows minus the header row.
const MAX_DATA_ROWS_PER_SHEET: u32 = 65_535;
/// Excel 97-2003 has 256 columns.
const MAX_COLUMNS: usize = 256;
/// Sheet data may not grow past this, leaving room for the globals so every
/// offset of the `Workbook` stream fits in 32 bits.
const MAX_SPOOL_LEN: u64 = u32::MAX as u64 - (64 << 20);
/// RRTABID holds one u16 per sheet and is left out when it would not fit in one record.
const MAX_TABID_SHEETS: usize = MAX_RECORD_DATA / 2;

/// The default cell XF (index 15, after the 15 style XFs).
const XF_CELL: u16 = 15;
/// The bold XF of the header row.
const XF_HEADER: u16 = 16;
/// BOOLERR error code of `#NUM!`.
const ERR_NUM: u8 = 0x24;

const BOF_GLOBALS: u16 = 0x0005;
const BOF_WORKSHEET: u16 = 0x0010;

/// Size of the write buffer of the temporary file and of the copy buffer.
const IO_BUF: usize = 256 * 1024;

const fn min_usize(a: usize, b: usize) -> usize {
    if a < b { a } else { b }
}

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

/// Appends one record: id, data length, data. `data` must fit in one record.
fn push_record(buf: &mut Vec<u8>, id: u16, data: &[u8]) {
    debug_assert!(data.len() <= MAX_RECORD_DATA);
    buf.extend_from_slice(&id.to_le_bytes());
    buf.extend_from_slice(&(data.len() as u16).to_le_bytes());
    buf.extend_from_slice(data);
}

/// Appends the cell header (rw, col, ixfe) of a cell record.
fn push_cell_header(buf: &mut Vec<u8>, id: u16, len: u16, rw: u16, col: u16, xf: u16) {
    buf.extend_from_slice(&id.to_le_bytes());
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(&rw.to_le_bytes());
    buf.extend_from_slice(&col.to_le_bytes());
    buf.extend_from_slice(&xf.to_le_bytes());
}

fn push_number(buf: &mut Vec<u8>, rw: u16, col: u16, value: f64) {
    push_cell_header(buf, RT_NUMBER, 14, rw, col, XF_CELL);
    buf.extend_from_slice(&value.to_le_bytes());
}

fn push_boolerr(buf: &mut Vec<u8>, rw: u16, col: u16, value: u8, is_error: bool) {
    push_cell_header(buf, RT_BOOLERR, 8, rw, col, XF_CELL);
    buf.push(value);
    buf.push(u8::from(is_error));
}

/// Appends a LABEL record whose XLUnicodeString holds as much of `text` as fits
/// in one record (see `MAX_LABEL_LATIN1` and `MAX_LABEL_UTF16`).
fn push_label(buf: &mut Vec<u8>, rw: u16, col: u16, xf: u16, text: &str) {
    let start = buf.len();
    push_cell_header(buf, RT_LABEL, 0, rw, col, xf);
    let cch_pos = buf.len();
    buf.extend_from_slice(&[0, 0]);
    let latin1 = text
        .chars()
        .take(MAX_LABEL_LATIN1)
        .all(|c| u32::from(c) < 0x100);
    let mut units = 0usize;
    if latin1 {
        buf.push(0);
        for c in text.chars().take(MAX_LABEL_LATIN1) {
            // Checked above: every character taken is below U+0100.
            buf.push(u32::from(c) as u8);
            units += 1;
        }
    } else {
        buf.push(1);
        let mut pair = [0u16; 2];
        for c in text.chars() {
            let encoded = c.encode_utf16(&mut pair);
            if units + encoded.len() > MAX_LABEL_UTF16 {
                break;
            }
            for unit in encoded.iter() {
                buf.extend_from_slice(&unit.to_le_bytes());
            }
            units += encoded.len();
        }
    }
    // Both bounded by MAX_LABEL_* (< 8224), so they fit in u16.
    let data_len = (buf.len() - start - 4) as u16;
    buf[start + 2..start + 4].copy_from_slice(&data_len.to_le_bytes());
    buf[cch_pos..cch_pos + 2].copy_from_slice(&(units as u16).to_le_bytes());
}

/// BIFF8 BOF data for a substream of type `dt`.
fn bof(dt: u16) -> [u8; 16] {
    let mut data = [0u8; 16];
    data[0..2].copy_from_slice(&0x0600u16.to_le_bytes()); // BIFF8
    data[2..4].copy_from_slice(&dt.to_le_bytes());
    data[4..6].copy_from_slice(&0x0DBBu16.to_le_bytes()); // rupBuild
    data[6..8].copy_from_slice(&0x07CCu16.to_le_bytes()); // rupYear 1996
    // bfh (file history flags) 0, sfo (lowest BIFF version) 6.
    data[12..16].copy_from_slice(&6u32.to_le_bytes());
    data
}

/// DIMENSIONS data: rows 0..rows, columns 0..cols.
fn dimensions(rows: u32, cols: u16) -> [u8; 14] {
    let mut data = [0u8; 14];
    data[4..8].copy_from_slice(&rows.to_le_bytes());
    data[10..12].copy_from_slice(&cols.to_le_bytes());
    data
}

/// WINDOW2 data of a worksheet; the first sheet is the selected, active one.
fn window2(first: bool) -> [u8; 18] {
    // Show gridlines, row/column headings, zeros, outline; default grid colour.
    let mut flags: u16 = 0x0002 | 0x0004 | 0x0010 | 0x0020 | 0x0080;
    if first {
        flags |= 0x0200 | 0x0400; // fSelected, fPaged (active)
    }
    let mut data = [0u8; 18];
    data[0..2].copy_from_slice(&flags.to_le_bytes());
    data[6..8].copy_from_slice(&0x0040u16.to_le_bytes()); // icvHdr: automatic
    data
}

/// FONT data: Arial 10pt, normal or bold.
fn font(bold: bool) -> Vec<u8> {
    let mut data = Vec::with_capacity(21);
    data.extend_from_slice(&200u16.to_le_bytes()); // height in twips
    data.extend_from_slice(&0u16.to_le_bytes()); // attributes
    data.extend_from_slice(&0x7FFFu16.to_le_bytes()); // colour: automatic
    data.extend_from_slice(&(if bold { 700u16 } else { 400 }).to_le_bytes());
    data.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // escapement, underline, family, charset, reserved
    let name = b"Arial";
    data.push(name.len() as u8);
    data.push(0); // 8-bit characters
    data.extend_from_slice(name);
    data
}

/// XF data with the default alignment, no borders and no fill.
fn xf(font: u16, flags: u16, used: u8) -> [u8; 20] {
    let mut data = [0u8; 20];
    data[0..2].copy_from_slice(&font.to_le_bytes());
    // data[2..4]: number format 0, "General".
    data[4..6].copy_from_slice(&flags.to_le_bytes());
    data[6] = 0x20; // horizontal general, vertical bottom
    data[9] = used;
    data[18..20].copy_from_slice(&0x20C0u16.to_le_bytes()); // pattern colours: automatic
    data
}

/// Builds the workbook globals substream, with each BOUNDSHEET8 pointing at
/// the absolute stream offset of its sheet (`sheet_offsets` are relative to
/// the end of the globals).
fn build_globals(sheet_offsets: &[u64]) -> io::Result<Vec<u8>> {
    let mut g = Vec::with_capacity(2048 + sheet_offsets.len() * 24);
    push_record(&mut g, RT_BOF, &bof(BOF_GLOBALS));
    push_record(&mut g, RT_INTERFACEHDR, &1200u16.to_le_bytes());
    push_record(&mut g, RT_MMS, &[0, 0]);
    push_record(&mut g, RT_INTERFACEEND, &[]);
    let mut access = Vec::with_capacity(112);
    let user = b"kadro";
    access.extend_from_slice(&(user.len() as u16).to_le_bytes());
    access.push(0);
    access.extend_from_slice(user);
    access.resize(112, b' ');
    push_record(&mut g, RT_WRITEACCESS, &access);
    push_record(&mut g, RT_CODEPAGE, &1200u16.to_le_bytes());
    push_record(&mut g, RT_DSF, &[0, 0]);
    if sheet_offsets.len() <= MAX_TABID_SHEETS {
        let ids: Vec<u8> = (1u16..)
            .take(sheet_offsets.len())
            .flat_map(u16::to_le_bytes)
            .collect();
        push_record(&mut g, RT_RRTABID, &ids);
    }
    push_record(&mut g, RT_FNGROUPCOUNT, &14u16.to_le_bytes());
    push_record(&mut g, RT_WINDOWPROTECT, &[0, 0]);
    push_record(&mut g, RT_PROTECT, &[0, 0]);
    push_record(&mut g, RT_PASSWORD, &[0, 0]);
    push_record(&mut g, RT_PROT4REV, &[0, 0]);
    push_record(&mut g, RT_PROT4REVPASS, &[0, 0]);
    push_record(&mut g, RT_BACKUP, &[0, 0]);
    push_record(&mut g, RT_HIDEOBJ, &[0, 0]);
    let mut window1 = [0u8; 18];
    window1[4..6].copy_from_slice(&0x4000u16.to_le_bytes()); // width
    window1[6..8].copy_from_slice(&0x2000u16.to_le_bytes()); // height
    window1[8..10].copy_from_slice(&0x0038u16.to_le_bytes()); // scroll bars, tabs
    window1[14..16].copy_from_slice(&1u16.to_le_bytes()); // one selected tab
    window1[16..18].copy_from_slice(&600u16.to_le_bytes()); // tab bar ratio
    push_record(&mut g, RT_WINDOW1, &window1);
    push_record(&mut g, RT_DATEMODE, &[0, 0]);
    push_record(&mut g, RT_PRECISION, &1u16.to_le_bytes());
    push_record(&mut g, RT_REFRESHALL, &[0, 0]);
    push_record(&mut g, RT_BOOKBOOL, &[0, 0]);
    // Fonts 0-3 are the defaults; index 4 does not exist in BIFF, so the fifth
    // record is font 5, the bold header font.
    for _ in 0..4 {
        push_record(&mut g, RT_FONT, &font(false));
    }
    push_record(&mut g, RT_FONT, &font(true));
    // 15 style XFs as Excel writes them, then the cell XFs.
    push_record(&mut g, RT_XF, &xf(0, 0xFFF5, 0x00));
    for font in [1, 1, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] {
        push_record(&mut g, RT_XF, &xf(font, 0xFFF5, 0xF4));
    }
    push_record(&mut g, RT_XF, &xf(0, 0x0001, 0x00)); // 15: cell default
    push_record(&mut g, RT_XF, &xf(5, 0x0001, 0x08)); // 16: cell, own (bold) font
    // "Normal" built-in style on XF 0.
    push_record(&mut g, RT_STYLE, &[0x00, 0x80, 0x00, 0xFF]);
    push_record(&mut g, RT_USESELFS, &[0, 0]);

    let mut ply_positions = Vec::with_capacity(sheet_offsets.len());
    let mut sheet = Vec::with_capacity(24);
    for index in 1..=sheet_offsets.len() {
        let name = format!("Sheet{index}");
        sheet.clear();
        sheet.extend_from_slice(&[0; 4]); // lbPlyPos, patched below
        sheet.extend_from_slice(&[0, 0]); // visible worksheet
        sheet.push(name.len() as u8);
        sheet.push(0); // 8-bit characters
        sheet.extend_from_slice(name.as_bytes());
        ply_positions.push(g.len() + 4);
        push_record(&mut g, RT_BOUNDSHEET, &sheet);
    }
    push_record(&mut g, RT_COUNTRY, &[1, 0, 1, 0]);
    // An empty shared string table (cells use inline LABEL strings).
    push_record(&mut g, RT_SST, &[0; 8]);
    push_record(&mut g, RT_EXTSST, &8u16.to_le_bytes());
    push_record(&mut g, RT_EOF, &[]);

    let globals_len = g.len() as u64;
    for (&pos, &offset) in ply_positions.iter().zip(sheet_offsets) {
        let absolute = u32::try_from(globals_len + offset)
            .map_err(|_| io::Error::other("xls workbook too large: sheet offset exceeds 4 GiB"))?;
        g[pos..pos + 4].copy_from_slice(&absolute.to_le_bytes());
    }
    Ok(g)
}

#[cfg(test)]
mod tests {
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
}
