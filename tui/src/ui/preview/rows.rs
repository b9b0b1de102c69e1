//! The Rows tab: the first rows of a split as a table with column names and types,
//! scrolled sideways a column at a time, long cells cut with `…`, nested values compact;
//! above it, where the rows come from and which config/split they are.

use hubdex_ipc::{Rows, RowsSource, SplitRef};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use serde_json::Value;

use super::Body;
use super::text::fit;
use crate::format;
use crate::ui::theme::Theme;

/// The widest a column gets.
const MAX_COLUMN: usize = 32;
/// The narrowest a column gets.
const MIN_COLUMN: usize = 4;
/// Between two columns.
const SEPARATOR: &str = " │ ";
/// Characters of a nested value looked at before it is cut anyway.
const NESTED_BUDGET: usize = 200;

/// The tab's lines: source, split and the table's header stay on top, the rows scroll.
/// `first` is the first column shown.
pub(super) fn body(
    rows: &Rows,
    splits: &[SplitRef],
    first: usize,
    width: usize,
    theme: Theme,
) -> Body {
    let mut fixed = vec![Line::from(fit(source(&rows.source, theme), width))];
    let mut split = vec![
        Span::styled("config ", theme.dim()),
        Span::styled(rows.config.clone(), theme.accent()),
        Span::styled(" · split ", theme.dim()),
        Span::styled(rows.split.clone(), theme.accent()),
    ];
    if let Some(i) = splits
        .iter()
        .position(|s| s.config == rows.config && s.split == rows.split)
        && splits.len() > 1
    {
        split.push(Span::styled(
            format!(" ({} of {})", i + 1, splits.len()),
            theme.dim(),
        ));
    }
    fixed.push(Line::from(fit(split, width)));
    if rows.columns.is_empty() {
        return Body {
            fixed,
            lines: vec![Line::styled("this split has no columns", theme.dim())],
        };
    }
    let cells: Vec<Vec<String>> = rows
        .rows
        .iter()
        .map(|row| row.iter().map(cell).collect())
        .collect();
    let first = first.min(rows.columns.len() - 1);
    let shown = columns(rows, &cells, first, width);
    let last = first + shown.len();
    let mut where_ = format!(
        "{} · columns {}–{} of {}",
        format::count(rows.rows.len() as u64, "row"),
        first + 1,
        last,
        rows.columns.len()
    );
    if first > 0 {
        where_.push_str(" ‹");
    }
    if last < rows.columns.len() {
        where_.push_str(" ›");
    }
    fixed.push(Line::styled(format::truncate(&where_, width), theme.dim()));
    let line = |values: Vec<String>, style: Style| {
        let mut spans = Vec::new();
        for (i, (value, w)) in values.into_iter().zip(&shown).enumerate() {
            if i > 0 {
                spans.push(Span::styled(SEPARATOR, theme.dim()));
            }
            spans.push(Span::styled(
                format::pad_right(&format::truncate(&value, *w), *w),
                style,
            ));
        }
        Line::from(spans)
    };
    let range = first..last;
    fixed.push(line(
        rows.columns[range.clone()]
            .iter()
            .map(|c| c.name.clone())
            .collect(),
        theme.header(),
    ));
    fixed.push(line(
        rows.columns[range.clone()]
            .iter()
            .map(|c| c.dtype.clone())
            .collect(),
        theme.dim(),
    ));
    let mut lines: Vec<Line<'static>> = cells
        .iter()
        .map(|row| {
            line(
                range
                    .clone()
                    .map(|i| row.get(i).cloned().unwrap_or_default())
                    .collect(),
                Style::new(),
            )
        })
        .collect();
    if rows.rows.is_empty() {
        lines.push(Line::styled("this split has no rows", theme.dim()));
    } else if rows.truncated {
        lines.push(Line::styled(
            format::truncate("… the split has more rows", width),
            theme.dim(),
        ));
    }
    Body { fixed, lines }
}

/// Where the rows were read from, in words.
fn source(source: &RowsSource, theme: Theme) -> Vec<Span<'static>> {
    match source {
        RowsSource::LocalCache { path } => vec![
            Span::styled("from the local cache ", theme.ok()),
            Span::styled(path.clone(), theme.dim()),
        ],
        RowsSource::DatasetViewer { endpoint } => vec![
            Span::raw("from the dataset viewer "),
            Span::styled(endpoint.clone(), theme.dim()),
        ],
        RowsSource::RemoteParquet { path, bytes_read } => vec![
            Span::raw("from remote parquet "),
            Span::styled(path.clone(), theme.dim()),
            Span::raw(format!(" ({} read)", format::bytes(*bytes_read))),
        ],
    }
}

/// The widths of the columns shown from `first` on: as many as fit in `width`, the last
/// one narrowed to what is left (or widened into it when it is the table's last), and at
/// least one.
fn columns(rows: &Rows, cells: &[Vec<String>], first: usize, width: usize) -> Vec<usize> {
    let mut widths = Vec::new();
    let mut used = 0;
    let widest = |i: usize, column: &hubdex_ipc::Column| {
        cells
            .iter()
            .filter_map(|row| row.get(i))
            .map(|c| format::width(c))
            .chain([format::width(&column.name), format::width(&column.dtype)])
            .max()
            .unwrap_or(0)
    };
    for (i, column) in rows.columns.iter().enumerate().skip(first) {
        let natural = widest(i, column).clamp(MIN_COLUMN, MAX_COLUMN);
        let gap = if widths.is_empty() {
            0
        } else {
            format::width(SEPARATOR)
        };
        let room = width.saturating_sub(used + gap);
        if widths.is_empty() {
            widths.push(natural.min(width.max(1)));
            used = widths[0];
            continue;
        }
        if room >= natural {
            widths.push(natural);
            used += gap + natural;
        } else {
            if room >= MIN_COLUMN + 2 {
                widths.push(room);
            }
            break;
        }
    }
    if first + widths.len() == rows.columns.len()
        && let (Some(last), Some(column)) = (widths.last_mut(), rows.columns.last())
    {
        let room = width.saturating_sub(used) + *last;
        *last = (*last).max(widest(rows.columns.len() - 1, column).min(room));
    }
    widths
}

/// A value on one line: strings as they are (line breaks shown as `⏎`), nested values as
/// compact JSON-like text, media as their kind.
fn cell(value: &Value) -> String {
    match value {
        Value::String(s) => s.replace("\r\n", "⏎").replace(['\n', '\r'], "⏎"),
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        nested => {
            let mut out = String::new();
            compact(nested, &mut out);
            out
        }
    }
}

/// `value` as compact text, stopping once [`NESTED_BUDGET`] characters are written (the cell
/// is cut to its column anyway).
fn compact(value: &Value, out: &mut String) {
    if out.len() > NESTED_BUDGET {
        return;
    }
    match value {
        Value::Object(map) if map.contains_key("src") => {
            let kind = match (map.get("width"), map.get("height")) {
                (Some(w), Some(h)) => format!("image {w}×{h}"),
                _ => map
                    .get("type")
                    .and_then(Value::as_str)
                    .map_or("media", |t| t.split('/').next().unwrap_or("media"))
                    .to_string(),
            };
            out.push_str(&format!("<{kind}>"));
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, value)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(key);
                out.push_str(": ");
                compact(value, out);
                if out.len() > NESTED_BUDGET {
                    return;
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                compact(item, out);
                if out.len() > NESTED_BUDGET {
                    return;
                }
            }
            out.push(']');
        }
        Value::String(s) => {
            out.push('"');
            out.push_str(&cell(&Value::String(
                s.chars().take(NESTED_BUDGET).collect(),
            )));
            out.push('"');
        }
        scalar => out.push_str(&cell(scalar)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_values_and_media_are_compact() {
        assert_eq!(cell(&json!([0])), "[0]");
        assert_eq!(
            cell(&json!({"a": [1, 2], "b": "x"})),
            "{a: [1, 2], b: \"x\"}"
        );
        assert_eq!(
            cell(&json!({"src": "https://x/image.jpg", "height": 256, "width": 256})),
            "<image 256×256>"
        );
        assert_eq!(
            cell(&json!([{"src": "https://x/a.wav", "type": "audio/wav"}])),
            "[<audio>]"
        );
        assert_eq!(cell(&json!("two\nlines")), "two⏎lines");
        assert_eq!(cell(&json!(null)), "null");
        let long = json!((0..1000).collect::<Vec<u32>>());
        assert!(cell(&long).len() < NESTED_BUDGET + 10);
    }
}
