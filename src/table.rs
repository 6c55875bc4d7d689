//! Plain text tables for the terminal (status, migrate's report, verify's latencies):
//! comfy-table, with no borders, one space between columns and numbers aligned right, so a
//! long name widens its column instead of pushing the rest out of line.

use comfy_table::presets::NOTHING;
use comfy_table::{CellAlignment, Table};

/// A borderless table with `header`; columns whose index is in `right` align right.
pub fn plain(header: &[&str], right: &[usize]) -> Table {
    let mut t = Table::new();
    t.load_preset(NOTHING).set_header(header.to_vec());
    for i in 0..header.len() {
        if let Some(c) = t.column_mut(i) {
            // One space between columns: none before the first, one after each.
            c.set_padding((0, 1));
            if right.contains(&i) {
                c.set_cell_alignment(CellAlignment::Right);
            }
        }
    }
    t
}

/// The table's lines, each without trailing spaces, ending in a newline.
pub fn lines(t: &Table) -> String {
    let mut out = String::new();
    for line in t.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_cell_widens_its_column_and_numbers_align_right() {
        let mut t = plain(&["table", "rows"], &[1]);
        t.add_row(vec!["a", "7"]);
        t.add_row(vec!["a_much_longer_table_name_than_twenty", "1234"]);
        assert_eq!(
            lines(&t),
            "table                                rows\n\
             a                                       7\n\
             a_much_longer_table_name_than_twenty 1234\n"
        );
    }
}
