//! The Files tab: the repo's files as a tree with sizes, LFS and downloaded marks, and the
//! total and downloaded total on top.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use hubdex_ipc::FileList;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::text::fit;
use super::{Body, stale_line};
use crate::format;
use crate::ui::theme::Theme;

/// Width of the size column.
const SIZE_W: usize = 9;
/// Width of the size column and the marks after it (` lfs ✓`).
const RIGHT_W: usize = SIZE_W + 6;
/// Below this width only names and sizes are shown.
const NARROW: usize = 28;

/// The tab's lines: the summary stays on top, the tree scrolls.
pub(super) fn body(files: &FileList, width: usize, theme: Theme, now: DateTime<Utc>) -> Body {
    let mut fixed: Vec<Line<'static>> = stale_line(files.stale.as_deref(), width, theme)
        .into_iter()
        .collect();
    let mut summary = vec![
        Span::raw(format::count(files.files.len() as u64, "file")),
        Span::styled(" · ", theme.dim()),
        Span::raw(format::bytes(files.total_size)),
        Span::styled(" · ", theme.dim()),
    ];
    if files.downloaded_size == 0 {
        summary.push(Span::styled("nothing downloaded", theme.dim()));
    } else {
        let percent = files
            .downloaded_size
            .saturating_mul(100)
            .checked_div(files.total_size)
            .unwrap_or(100);
        summary.push(Span::styled(
            format!(
                "{} downloaded ({percent}%)",
                format::bytes(files.downloaded_size)
            ),
            theme.ok(),
        ));
    }
    fixed.push(Line::from(fit(summary, width)));
    let short: String = files.commit.chars().take(7).collect();
    fixed.push(Line::from(fit(
        vec![
            Span::styled(format!("{} @ ", files.revision), theme.dim()),
            Span::styled(short, theme.accent()),
            Span::styled(
                format!(" · listed {}", format::relative(files.fetched_at, now)),
                theme.dim(),
            ),
        ],
        width,
    )));
    let mut lines = tree(files, width, theme);
    if files.files.is_empty() {
        lines.push(Line::styled("this revision has no files", theme.dim()));
    } else if width >= NARROW {
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            format::truncate("lfs: stored with Git LFS · ✓ in the local cache", width),
            theme.dim(),
        ));
    }
    Body { fixed, lines }
}

/// One line per directory (with the size of what is under it) and per file, indented by
/// depth. The list is sorted by path, so each directory's files come together.
fn tree(files: &FileList, width: usize, theme: Theme) -> Vec<Line<'static>> {
    let mut dir_sizes: HashMap<&str, (u64, bool)> = HashMap::new();
    for file in &files.files {
        let mut end = 0;
        while let Some(i) = file.path[end..].find('/') {
            end += i;
            let entry = dir_sizes.entry(&file.path[..end]).or_insert((0, true));
            entry.0 = entry.0.saturating_add(file.size);
            entry.1 &= file.downloaded;
            end += 1;
        }
    }
    // Names take what they need, so sizes sit next to them on wide panes.
    let longest = files
        .files
        .iter()
        .map(|f| {
            let depth = f.path.matches('/').count();
            let name = f.path.rsplit('/').next().unwrap_or_default();
            2 * depth + format::width(name)
        })
        .max()
        .unwrap_or(0);
    let width = width.min(longest + 2 + RIGHT_W + 1);
    let mut lines = Vec::new();
    let mut open: Vec<&str> = Vec::new();
    for file in &files.files {
        let parts: Vec<&str> = file.path.split('/').collect();
        let (name, dirs) = parts.split_last().unwrap_or((&"", &[]));
        let common = open.iter().zip(dirs).take_while(|(a, b)| a == b).count();
        open.truncate(common);
        for (depth, dir) in dirs.iter().enumerate().skip(common) {
            open.push(dir);
            let path = parts[..=depth].join("/");
            let (size, downloaded) = dir_sizes.get(path.as_str()).copied().unwrap_or_default();
            let label = format!("{}{dir}/", "  ".repeat(depth));
            lines.push(entry(
                &label,
                size,
                false,
                downloaded,
                width,
                theme.accent(),
                theme,
            ));
        }
        let label = format!("{}{name}", "  ".repeat(dirs.len()));
        lines.push(entry(
            &label,
            file.size,
            file.lfs,
            file.downloaded,
            width,
            Style::new(),
            theme,
        ));
    }
    lines
}

fn entry(
    label: &str,
    size: u64,
    lfs: bool,
    downloaded: bool,
    width: usize,
    style: Style,
    theme: Theme,
) -> Line<'static> {
    if width < NARROW {
        let size = format::bytes(size);
        let name_w = width.saturating_sub(format::width(&size) + 1);
        return Line::from(vec![
            Span::styled(
                format::pad_right(&format::truncate(label, name_w), name_w),
                style,
            ),
            Span::raw(" "),
            Span::styled(size, theme.dim()),
        ]);
    }
    let name_w = width - RIGHT_W - 1;
    Line::from(vec![
        Span::styled(
            format::pad_right(&format::truncate(label, name_w), name_w),
            style,
        ),
        Span::raw(" "),
        Span::styled(format::pad_left(&format::bytes(size), SIZE_W), theme.dim()),
        Span::styled(if lfs { " lfs " } else { "     " }, theme.dim()),
        Span::styled(if downloaded { "✓" } else { " " }, theme.ok()),
    ])
}
