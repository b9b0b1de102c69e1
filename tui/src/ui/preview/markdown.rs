//! A README's markdown for the terminal: parsed once with `pulldown-cmark` into blocks,
//! then wrapped to the pane's width at each draw. Headings, emphasis, lists, code, block
//! quotes and rules keep their shape; links show their text; tables are aligned when they
//! fit and become one "header: value" list per row when they do not; HTML tags are stripped
//! and their text kept.

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use super::text::{self, Piece};
use crate::format;
use crate::ui::theme::Theme;

/// How a run of inline text is emphasised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Mark {
    strong: bool,
    emphasis: bool,
    strike: bool,
    code: bool,
    link: bool,
    image: bool,
}

/// A run of text in one [`Mark`].
#[derive(Debug, Clone, PartialEq, Eq)]
struct Run {
    text: String,
    mark: Mark,
}

/// What a block of text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Paragraph,
    Heading(u8),
}

/// One block of the document, with the prefixes its containers (quotes, list items) give it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Block {
    /// Wrapped text.
    Text {
        kind: Kind,
        first: String,
        rest: String,
        runs: Vec<Run>,
    },
    /// Lines kept as they are (broken, never reflowed, when too wide).
    Code { prefix: String, lines: Vec<String> },
    /// A table's header and rows, as plain text cells.
    Table {
        prefix: String,
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    /// A horizontal rule.
    Rule { prefix: String },
    /// An empty line between blocks.
    Gap,
}

/// A parsed README.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Doc {
    blocks: Vec<Block>,
}

/// A container the blocks inside it are prefixed by.
#[derive(Debug, Clone)]
enum Container {
    Quote,
    List(Option<u64>),
    /// A list item: its marker on its first line, as many spaces on the others.
    Item {
        marker: String,
        used: bool,
    },
}

/// A table being read: its header, its rows, and the row being read.
#[derive(Default)]
struct TableBuild {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    row: Vec<String>,
}

/// The parser's state while building a [`Doc`].
#[derive(Default)]
struct Builder {
    blocks: Vec<Block>,
    containers: Vec<Container>,
    runs: Vec<Run>,
    kind: Option<Kind>,
    mark: Mark,
    strong: u32,
    emphasis: u32,
    code_block: Option<String>,
    table: Option<TableBuild>,
    html_block: Option<String>,
    metadata: bool,
}

impl Doc {
    /// Parses `markdown` (CommonMark with tables, strikethrough, task lists and footnotes).
    pub fn parse(markdown: &str) -> Doc {
        let options = Options::ENABLE_TABLES
            | Options::ENABLE_STRIKETHROUGH
            | Options::ENABLE_TASKLISTS
            | Options::ENABLE_FOOTNOTES
            | Options::ENABLE_YAML_STYLE_METADATA_BLOCKS;
        let mut b = Builder::default();
        for event in Parser::new_ext(markdown, options) {
            b.event(event);
        }
        b.flush();
        while b.blocks.last() == Some(&Block::Gap) {
            b.blocks.pop();
        }
        Doc { blocks: b.blocks }
    }

    /// True when the README has nothing to show.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// The document drawn in lines of at most `width` cells.
    pub fn lines(&self, width: usize, theme: Theme) -> Vec<Line<'static>> {
        let mut out = Vec::new();
        for block in &self.blocks {
            match block {
                Block::Text {
                    kind,
                    first,
                    rest,
                    runs,
                } => {
                    let base = match kind {
                        Kind::Paragraph => Style::new(),
                        Kind::Heading(1) => theme.accent().add_modifier(Modifier::UNDERLINED),
                        Kind::Heading(2) => theme.accent(),
                        Kind::Heading(_) => theme.header(),
                    };
                    let pieces: Vec<Piece> = runs
                        .iter()
                        .map(|run| Piece {
                            text: run.text.clone(),
                            style: style(base, run.mark, theme),
                        })
                        .collect();
                    out.extend(text::wrap(&pieces, width, first, rest, theme.dim()));
                }
                Block::Code { prefix, lines } => {
                    let room = width.saturating_sub(format::width(prefix) + 2).max(1);
                    for line in lines {
                        for part in text::hard_wrap(line, room) {
                            out.push(Line::from(vec![
                                Span::styled(format!("{prefix}  "), theme.dim()),
                                Span::styled(part, code_style(theme)),
                            ]));
                        }
                    }
                }
                Block::Table {
                    prefix,
                    header,
                    rows,
                } => table(&mut out, prefix, header, rows, width, theme),
                Block::Rule { prefix } => {
                    let room = width.saturating_sub(format::width(prefix));
                    out.push(Line::from(vec![
                        Span::styled(prefix.clone(), theme.dim()),
                        Span::styled("─".repeat(room), theme.dim()),
                    ]));
                }
                Block::Gap => out.push(Line::raw("")),
            }
        }
        out
    }
}

fn code_style(theme: Theme) -> Style {
    theme.ok()
}

fn style(base: Style, mark: Mark, theme: Theme) -> Style {
    let mut style = base;
    if mark.strong {
        style = style.add_modifier(Modifier::BOLD);
    }
    if mark.emphasis {
        style = style.add_modifier(Modifier::ITALIC);
    }
    if mark.strike {
        style = style.add_modifier(Modifier::CROSSED_OUT);
    }
    if mark.code {
        style = style.patch(code_style(theme));
    }
    if mark.link {
        style = style.add_modifier(Modifier::UNDERLINED);
    }
    if mark.image {
        style = style.patch(theme.dim());
    }
    style
}

/// A table aligned in columns when it fits in `width`, else each row as "header: value"
/// lines.
fn table(
    out: &mut Vec<Line<'static>>,
    prefix: &str,
    header: &[String],
    rows: &[Vec<String>],
    width: usize,
    theme: Theme,
) {
    let room = width.saturating_sub(format::width(prefix));
    let columns = header
        .len()
        .max(rows.iter().map(Vec::len).max().unwrap_or(0));
    let cell = |row: &[String], i: usize| row.get(i).cloned().unwrap_or_default();
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            std::iter::once(header)
                .chain(rows.iter().map(Vec::as_slice))
                .map(|row| format::width(&cell(row, i)))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let total = widths.iter().sum::<usize>() + 3 * columns.saturating_sub(1);
    if total <= room {
        let line = |row: &[String], style: Style| {
            let mut spans = vec![Span::styled(prefix.to_string(), theme.dim())];
            for (i, w) in widths.iter().enumerate() {
                if i > 0 {
                    spans.push(Span::styled(" │ ", theme.dim()));
                }
                spans.push(Span::styled(format::pad_right(&cell(row, i), *w), style));
            }
            Line::from(spans)
        };
        out.push(line(header, theme.header()));
        let rule: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
        out.push(Line::from(vec![
            Span::styled(prefix.to_string(), theme.dim()),
            Span::styled(rule.join("─┼─"), theme.dim()),
        ]));
        for row in rows {
            out.push(line(row, Style::new()));
        }
        return;
    }
    for (n, row) in rows.iter().enumerate() {
        if n > 0 {
            out.push(Line::styled(prefix.to_string(), theme.dim()));
        }
        for i in 0..columns {
            let name = cell(header, i);
            let label = if name.is_empty() {
                String::new()
            } else {
                format!("{name}: ")
            };
            let pieces = [
                Piece {
                    text: label,
                    style: theme.header(),
                },
                Piece {
                    text: cell(row, i),
                    style: Style::new(),
                },
            ];
            out.extend(text::wrap(
                &pieces,
                width,
                prefix,
                &format!("{prefix}  "),
                theme.dim(),
            ));
        }
    }
}

impl Builder {
    fn event(&mut self, event: Event<'_>) {
        if self.metadata {
            if matches!(event, Event::End(TagEnd::MetadataBlock(_))) {
                self.metadata = false;
            }
            return;
        }
        if let Some(code) = &mut self.code_block {
            match event {
                Event::Text(t) => code.push_str(&t),
                Event::End(TagEnd::CodeBlock) => {
                    let code = self.code_block.take().unwrap_or_default();
                    let lines = code
                        .trim_end_matches('\n')
                        .lines()
                        .map(String::from)
                        .collect();
                    let prefix = self.prefix(false);
                    self.blocks.push(Block::Code { prefix, lines });
                    self.gap();
                }
                _ => {}
            }
            return;
        }
        if let Some(html) = &mut self.html_block {
            match event {
                Event::Html(t) | Event::Text(t) => html.push_str(&t),
                Event::End(TagEnd::HtmlBlock) => {
                    let html = self.html_block.take().unwrap_or_default();
                    self.html(&html);
                }
                _ => {}
            }
            return;
        }
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(t) => self.text(&t),
            Event::Code(t) => {
                let mark = Mark {
                    code: true,
                    ..self.mark
                };
                self.push(&t, mark);
            }
            Event::InlineMath(t) | Event::DisplayMath(t) => {
                let mark = Mark {
                    code: true,
                    ..self.mark
                };
                self.push(&t, mark);
            }
            Event::Html(t) | Event::InlineHtml(t) => {
                let stripped = strip_tags(&t);
                if t.to_ascii_lowercase().starts_with("<br") {
                    self.push("\n", self.mark);
                } else if !stripped.is_empty() {
                    self.text(&stripped);
                }
            }
            Event::SoftBreak => self.text(" "),
            Event::HardBreak => self.push("\n", self.mark),
            Event::Rule => {
                self.flush();
                let prefix = self.prefix(false);
                self.blocks.push(Block::Rule { prefix });
                self.gap();
            }
            Event::FootnoteReference(label) => self.text(&format!("[{label}]")),
            Event::TaskListMarker(done) => self.text(if done { "[x] " } else { "[ ] " }),
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph => self.flush(),
            Tag::Heading { level, .. } => {
                self.flush();
                self.kind = Some(Kind::Heading(heading_level(level)));
            }
            Tag::BlockQuote(_) => {
                self.flush();
                self.containers.push(Container::Quote);
            }
            Tag::CodeBlock(_) => {
                self.flush();
                self.code_block = Some(String::new());
            }
            Tag::HtmlBlock => {
                self.flush();
                self.html_block = Some(String::new());
            }
            Tag::List(first) => {
                self.flush();
                self.containers.push(Container::List(first));
            }
            Tag::Item => {
                self.flush();
                let marker = match self.containers.iter_mut().rev().find_map(|c| match c {
                    Container::List(n) => Some(n),
                    _ => None,
                }) {
                    Some(Some(n)) => {
                        let marker = format!("{n}. ");
                        *n += 1;
                        marker
                    }
                    _ => "• ".to_string(),
                };
                self.containers.push(Container::Item {
                    marker,
                    used: false,
                });
            }
            Tag::FootnoteDefinition(label) => {
                self.flush();
                self.text(&format!("[{label}] "));
            }
            Tag::Table(_) => {
                self.flush();
                self.table = Some(TableBuild::default());
            }
            Tag::TableHead | Tag::TableRow | Tag::TableCell => {}
            Tag::Emphasis => {
                self.emphasis += 1;
                self.mark.emphasis = true;
            }
            Tag::Strong => {
                self.strong += 1;
                self.mark.strong = true;
            }
            Tag::Strikethrough => self.mark.strike = true,
            Tag::Link { .. } => self.mark.link = true,
            Tag::Image { .. } => {
                self.mark.image = true;
                self.push("[image: ", self.mark);
            }
            Tag::MetadataBlock(_) => self.metadata = true,
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph | TagEnd::FootnoteDefinition => {
                self.flush();
                if !self.in_tight_item() {
                    self.gap();
                }
            }
            TagEnd::Heading(_) => {
                self.flush();
                self.gap();
            }
            TagEnd::BlockQuote(_) => {
                self.flush();
                self.containers.pop();
                self.gap();
            }
            TagEnd::List(_) => {
                self.flush();
                self.containers.pop();
                if !self
                    .containers
                    .iter()
                    .any(|c| matches!(c, Container::List(_)))
                {
                    self.gap();
                }
            }
            TagEnd::Item => {
                self.flush();
                self.containers.pop();
            }
            TagEnd::Table => {
                if let Some(TableBuild { header, rows, .. }) = self.table.take() {
                    let prefix = self.prefix(false);
                    self.blocks.push(Block::Table {
                        prefix,
                        header,
                        rows,
                    });
                    self.gap();
                }
            }
            TagEnd::TableHead => {
                if let Some(t) = &mut self.table {
                    t.header = std::mem::take(&mut t.row);
                }
            }
            TagEnd::TableRow => {
                if let Some(t) = &mut self.table {
                    let row = std::mem::take(&mut t.row);
                    t.rows.push(row);
                }
            }
            TagEnd::TableCell => {
                if let Some(t) = &mut self.table {
                    let cell: String = self.runs.drain(..).map(|r| r.text).collect();
                    t.row
                        .push(cell.split_whitespace().collect::<Vec<_>>().join(" "));
                }
            }
            TagEnd::Emphasis => {
                self.emphasis = self.emphasis.saturating_sub(1);
                self.mark.emphasis = self.emphasis > 0;
            }
            TagEnd::Strong => {
                self.strong = self.strong.saturating_sub(1);
                self.mark.strong = self.strong > 0;
            }
            TagEnd::Strikethrough => self.mark.strike = false,
            TagEnd::Link => self.mark.link = false,
            TagEnd::Image => {
                self.push("]", self.mark);
                self.mark.image = false;
            }
            _ => {}
        }
    }

    /// True inside a list item whose paragraphs are not separated by blank lines.
    fn in_tight_item(&self) -> bool {
        matches!(self.containers.last(), Some(Container::Item { .. }))
    }

    fn text(&mut self, t: &str) {
        self.push(t, self.mark);
    }

    fn push(&mut self, t: &str, mark: Mark) {
        if t.is_empty() {
            return;
        }
        match self.runs.last_mut() {
            Some(last) if last.mark == mark => last.text.push_str(t),
            _ => self.runs.push(Run {
                text: t.to_string(),
                mark,
            }),
        }
    }

    /// A raw HTML block: its text without tags, as paragraphs (bold when it held a heading).
    fn html(&mut self, html: &str) {
        let lower = html.to_ascii_lowercase();
        let heading = ["<h1", "<h2", "<h3"].iter().any(|h| lower.contains(h));
        let text = strip_tags(&html.replace("<br>", "\n").replace("<br/>", "\n"));
        for paragraph in text.split("\n\n") {
            let paragraph = paragraph.trim();
            if paragraph.is_empty() {
                continue;
            }
            if heading {
                self.kind = Some(Kind::Heading(1));
            }
            self.text(paragraph);
            self.flush();
            self.gap();
        }
    }

    /// Ends the text block being built, if any.
    fn flush(&mut self) {
        if self.table.is_some() {
            return;
        }
        let kind = self.kind.take().unwrap_or(Kind::Paragraph);
        if self.runs.iter().all(|r| r.text.trim().is_empty()) {
            self.runs.clear();
            return;
        }
        let runs = std::mem::take(&mut self.runs);
        let rest = self.prefix(false);
        let first = self.prefix(true);
        self.blocks.push(Block::Text {
            kind,
            first,
            rest,
            runs,
        });
    }

    /// The prefix of a line in the current containers; `first` takes the innermost unused
    /// list item's marker (and marks it used).
    fn prefix(&mut self, first: bool) -> String {
        let mut out = String::new();
        for container in &mut self.containers {
            match container {
                Container::Quote => out.push_str("│ "),
                Container::List(_) => {}
                Container::Item { marker, used } => {
                    if first && !*used {
                        out.push_str(marker);
                        *used = true;
                    } else {
                        out.push_str(&" ".repeat(format::width(marker)));
                    }
                }
            }
        }
        out
    }

    /// An empty line, unless the document is empty or already ends with one.
    fn gap(&mut self) {
        if !matches!(self.blocks.last(), None | Some(Block::Gap)) {
            self.blocks.push(Block::Gap);
        }
    }
}

fn heading_level(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// `html` without its tags and comments, with the common entities decoded.
fn strip_tags(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |end| &after[end + 3..]);
        } else if rest.starts_with('<') {
            rest = rest.find('>').map_or("", |end| &rest[end + 1..]);
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            out.push_str(&rest[..end]);
            rest = &rest[end..];
        }
    }
    out.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}
