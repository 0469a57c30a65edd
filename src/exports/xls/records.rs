//! BIFF8 records of the `.xls` writer: record identifiers, the format's limits, and the
//! encoders of the cell records and of the workbook globals (MS-XLS).

use std::io;

// Record identifiers (MS-XLS section 2.3).
pub(super) const RT_BOF: u16 = 0x0809;
pub(super) const RT_EOF: u16 = 0x000A;
pub(super) const RT_INTERFACEHDR: u16 = 0x00E1;
pub(super) const RT_MMS: u16 = 0x00C1;
pub(super) const RT_INTERFACEEND: u16 = 0x00E2;
pub(super) const RT_WRITEACCESS: u16 = 0x005C;
pub(super) const RT_CODEPAGE: u16 = 0x0042;
pub(super) const RT_DSF: u16 = 0x0161;
pub(super) const RT_RRTABID: u16 = 0x013D;
pub(super) const RT_FNGROUPCOUNT: u16 = 0x009C;
pub(super) const RT_WINDOWPROTECT: u16 = 0x0019;
pub(super) const RT_PROTECT: u16 = 0x0012;
pub(super) const RT_PASSWORD: u16 = 0x0013;
pub(super) const RT_PROT4REV: u16 = 0x01AF;
pub(super) const RT_PROT4REVPASS: u16 = 0x01BC;
pub(super) const RT_BACKUP: u16 = 0x0040;
pub(super) const RT_HIDEOBJ: u16 = 0x008D;
pub(super) const RT_WINDOW1: u16 = 0x003D;
pub(super) const RT_DATEMODE: u16 = 0x0022;
pub(super) const RT_PRECISION: u16 = 0x000E;
pub(super) const RT_REFRESHALL: u16 = 0x01B7;
pub(super) const RT_BOOKBOOL: u16 = 0x00DA;
pub(super) const RT_FONT: u16 = 0x0031;
pub(super) const RT_XF: u16 = 0x00E0;
pub(super) const RT_STYLE: u16 = 0x0293;
pub(super) const RT_USESELFS: u16 = 0x0160;
pub(super) const RT_BOUNDSHEET: u16 = 0x0085;
pub(super) const RT_COUNTRY: u16 = 0x008C;
pub(super) const RT_SST: u16 = 0x00FC;
pub(super) const RT_EXTSST: u16 = 0x00FF;
pub(super) const RT_CALCMODE: u16 = 0x000D;
pub(super) const RT_CALCCOUNT: u16 = 0x000C;
pub(super) const RT_REFMODE: u16 = 0x000F;
pub(super) const RT_ITERATION: u16 = 0x0011;
pub(super) const RT_DELTA: u16 = 0x0010;
pub(super) const RT_SAVERECALC: u16 = 0x005F;
pub(super) const RT_GUTS: u16 = 0x0080;
pub(super) const RT_DEFAULTROWHEIGHT: u16 = 0x0225;
pub(super) const RT_WSBOOL: u16 = 0x0081;
pub(super) const RT_DIMENSIONS: u16 = 0x0200;
pub(super) const RT_WINDOW2: u16 = 0x023E;
pub(super) const RT_NUMBER: u16 = 0x0203;
pub(super) const RT_LABEL: u16 = 0x0204;
pub(super) const RT_BOOLERR: u16 = 0x0205;

/// Largest data part of one BIFF8 record.
pub(super) const MAX_RECORD_DATA: usize = 8224;
/// LABEL data before the characters: rw, col, ixfe, cch (u16 each) and flags (u8).
pub(super) const LABEL_FIXED: usize = 9;
/// Excel's limit on the characters of one cell.
pub(super) const MAX_CELL_CHARS: usize = 32_767;
/// Characters of a LABEL in the 8-bit form.
pub(super) const MAX_LABEL_LATIN1: usize = min_usize(MAX_CELL_CHARS, MAX_RECORD_DATA - LABEL_FIXED);
/// UTF-16 code units of a LABEL in the UTF-16LE form.
pub(super) const MAX_LABEL_UTF16: usize =
    min_usize(MAX_CELL_CHARS, (MAX_RECORD_DATA - LABEL_FIXED) / 2);
/// Data rows per sheet: 65,536 rows minus the header row.
pub(super) const MAX_DATA_ROWS_PER_SHEET: u32 = 65_535;
/// Excel 97-2003 has 256 columns.
pub(super) const MAX_COLUMNS: usize = 256;
/// Sheet data may not grow past this, leaving room for the globals so every
/// offset of the `Workbook` stream fits in 32 bits.
pub(super) const MAX_SPOOL_LEN: u64 = u32::MAX as u64 - (64 << 20);
/// RRTABID holds one u16 per sheet and is left out when it would not fit in one record.
pub(super) const MAX_TABID_SHEETS: usize = MAX_RECORD_DATA / 2;

/// The default cell XF (index 15, after the 15 style XFs).
pub(super) const XF_CELL: u16 = 15;
/// The bold XF of the header row.
pub(super) const XF_HEADER: u16 = 16;
/// BOOLERR error code of `#NUM!`.
pub(super) const ERR_NUM: u8 = 0x24;

pub(super) const BOF_GLOBALS: u16 = 0x0005;
pub(super) const BOF_WORKSHEET: u16 = 0x0010;

pub(super) const fn min_usize(a: usize, b: usize) -> usize {
    if a < b { a } else { b }
}

/// Appends one record: id, data length, data. `data` must fit in one record.
pub(super) fn push_record(buf: &mut Vec<u8>, id: u16, data: &[u8]) {
    debug_assert!(data.len() <= MAX_RECORD_DATA);
    buf.extend_from_slice(&id.to_le_bytes());
    buf.extend_from_slice(&(data.len() as u16).to_le_bytes());
    buf.extend_from_slice(data);
}

/// Appends the cell header (rw, col, ixfe) of a cell record.
pub(super) fn push_cell_header(buf: &mut Vec<u8>, id: u16, len: u16, rw: u16, col: u16, xf: u16) {
    buf.extend_from_slice(&id.to_le_bytes());
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(&rw.to_le_bytes());
    buf.extend_from_slice(&col.to_le_bytes());
    buf.extend_from_slice(&xf.to_le_bytes());
}

pub(super) fn push_number(buf: &mut Vec<u8>, rw: u16, col: u16, value: f64) {
    push_cell_header(buf, RT_NUMBER, 14, rw, col, XF_CELL);
    buf.extend_from_slice(&value.to_le_bytes());
}

pub(super) fn push_boolerr(buf: &mut Vec<u8>, rw: u16, col: u16, value: u8, is_error: bool) {
    push_cell_header(buf, RT_BOOLERR, 8, rw, col, XF_CELL);
    buf.push(value);
    buf.push(u8::from(is_error));
}

/// Appends a LABEL record whose XLUnicodeString holds as much of `text` as fits
/// in one record (see `MAX_LABEL_LATIN1` and `MAX_LABEL_UTF16`).
pub(super) fn push_label(buf: &mut Vec<u8>, rw: u16, col: u16, xf: u16, text: &str) {
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
pub(super) fn bof(dt: u16) -> [u8; 16] {
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
pub(super) fn dimensions(rows: u32, cols: u16) -> [u8; 14] {
    let mut data = [0u8; 14];
    data[4..8].copy_from_slice(&rows.to_le_bytes());
    data[10..12].copy_from_slice(&cols.to_le_bytes());
    data
}

/// WINDOW2 data of a worksheet; the first sheet is the selected, active one.
pub(super) fn window2(first: bool) -> [u8; 18] {
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
pub(super) fn font(bold: bool) -> Vec<u8> {
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
pub(super) fn xf(font: u16, flags: u16, used: u8) -> [u8; 20] {
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
pub(super) fn build_globals(sheet_offsets: &[u64]) -> io::Result<Vec<u8>> {
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
