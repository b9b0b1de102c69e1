//! The Commits tab: the history of `main`, newest first, one commit a line (two when the
//! pane is narrow): date, short hash, title, authors.

use chrono::{DateTime, Utc};
use hubdex_ipc::CommitList;
use ratatui::text::{Line, Span};

use super::text::fit;
use super::{Body, stale_line};
use crate::format;
use crate::ui::theme::Theme;

/// From this width on a commit takes one line.
const ONE_LINE: usize = 60;

/// The tab's lines: the count stays on top, the commits scroll.
pub(super) fn body(commits: &CommitList, width: usize, theme: Theme, now: DateTime<Utc>) -> Body {
    let mut fixed: Vec<Line<'static>> = stale_line(commits.stale.as_deref(), width, theme)
        .into_iter()
        .collect();
    let mut head = vec![Span::raw(format::count(
        commits.commits.len() as u64,
        "commit",
    ))];
    if let Some(last) = commits.commits.first() {
        head.push(Span::styled(
            format!(
                " on {} · the last one {}",
                commits.revision,
                format::relative(last.date, now)
            ),
            theme.dim(),
        ));
    }
    fixed.push(Line::from(fit(head, width)));
    let mut lines = Vec::new();
    for commit in &commits.commits {
        let date = Span::styled(commit.date.format("%Y-%m-%d ").to_string(), theme.dim());
        let hash = Span::styled(
            format!("{} ", commit.id.chars().take(7).collect::<String>()),
            theme.accent(),
        );
        let title = Span::raw(commit.title.clone());
        let authors = if commit.authors.is_empty() {
            Span::styled("unknown author", theme.dim())
        } else {
            Span::styled(commit.authors.join(", "), theme.header())
        };
        if width >= ONE_LINE {
            // The title gives way to the authors, which are short.
            let authors_w = format::width(&authors.content).min(width / 4);
            let longest = commits
                .commits
                .iter()
                .map(|c| format::width(&c.title))
                .max()
                .unwrap_or(0);
            let title_w = width
                .saturating_sub(10 + 1 + 7 + 1 + 2 + authors_w)
                .min(longest);
            lines.push(Line::from(vec![
                date,
                hash,
                Span::raw(format::pad_right(
                    &format::truncate(&title.content, title_w),
                    title_w,
                )),
                Span::raw("  "),
                Span::styled(format::truncate(&authors.content, authors_w), authors.style),
            ]));
        } else {
            lines.push(Line::from(fit(vec![date, hash, authors], width)));
            lines.push(Line::from(fit(vec![Span::raw("  "), title], width)));
        }
    }
    if commits.commits.is_empty() {
        lines.push(Line::styled("no commits", theme.dim()));
    }
    Body { fixed, lines }
}
