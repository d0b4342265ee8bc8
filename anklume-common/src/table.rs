//! Listings, as people read them (aligned columns under a header, control characters
//! escaped) and as programs do (CSV after RFC 4180, without a header, as `incus list -f csv`).

use crate::error::terminal_safe;

/// Columns aligned under `header`, two spaces apart, each cell escaped for the terminal.
pub fn aligned(header: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|cell| terminal_safe(cell)).collect())
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        padded.join("  ").trim_end().to_owned() + "\n"
    };
    let mut out = line(&header.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>());
    for row in &rows {
        out.push_str(&line(row));
    }
    out
}

/// One CSV line per row, control characters escaped as in the table: a name that came from
/// a backup or an instance reaches no terminal raw.
pub fn csv(rows: &[Vec<String>]) -> String {
    rows.iter()
        .map(|row| {
            let fields: Vec<String> = row.iter().map(|f| csv_field(&terminal_safe(f))).collect();
            fields.join(",") + "\n"
        })
        .collect()
}

/// A field, quoted only when it must be.
pub fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// `yes` or `no`, as the listings say it.
pub fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        let rows = vec![vec!["a".to_owned(), "b,c".to_owned()]];
        assert_eq!(csv(&rows), "a,\"b,c\"\n");
        let hostile = vec![vec!["web\x1b[2J".to_owned()]];
        assert!(!csv(&hostile).contains('\x1b'), "{:?}", csv(&hostile));
    }

    #[test]
    fn columns_line_up_under_the_header_and_escape_control_characters() {
        let rows = vec![vec!["web\x1b[2J".to_owned(), "1".to_owned()]];
        let text = aligned(&["NAME", "N"], &rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(!text.contains('\x1b'), "{text:?}");
        // The last column starts at the same place in the header and in the row.
        assert_eq!(lines[1].rfind('1'), lines[0].rfind('N'), "{text}");
    }
}
