//! `render(&App, &mut Frame)`: draws the state, decides nothing. The layout is a pure
//! function of the app and its size, so `update` uses it too (page sizes, scroll limits).

use hubdex_core::SortKey;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Padding, Paragraph};

use super::app::{App, Connection, Focus, Level, Results};
use super::keymap::{self, Command, Context, KEYMAP};
use crate::format;

/// From this many columns on, the detail pane sits right of the results.
const WIDE: u16 = 120;
/// Widths of the numeric columns (their headers) and the date column.
const DOWNLOADS_W: usize = 9;
const LIKES_W: usize = 5;
const UPDATED_W: usize = 10;
/// Width of a field name in the detail pane.
const LABEL_W: usize = 10;

/// Where each part of the screen goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    /// The one-line search box.
    pub search: Rect,
    /// The results table, header row included.
    pub table: Rect,
    /// The detail pane, when shown.
    pub detail: Option<Rect>,
    /// The status line.
    pub status: Rect,
    /// Key hints or a notice.
    pub footer: Rect,
}

/// Splits `area` for `app`: the detail pane goes right on wide terminals, and below the
/// results on narrow ones while it has the focus or is toggled on.
pub fn layout(app: &App, area: Rect) -> Areas {
    let [search, body, status, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let (table, detail) = if area.width >= WIDE {
        let [table, detail] =
            Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)])
                .areas(body);
        (table, Some(detail))
    } else if app.focus == Focus::Detail || app.show_detail {
        let table_height = (body.height * 2 / 5).max(4).min(body.height);
        let [table, detail] =
            Layout::vertical([Constraint::Length(table_height), Constraint::Fill(1)]).areas(body);
        (table, Some(detail))
    } else {
        (body, None)
    };
    let table = Rect {
        x: table.x.saturating_add(1),
        width: table.width.saturating_sub(2),
        ..table
    };
    Areas {
        search,
        table,
        detail,
        status,
        footer,
    }
}

fn screen(app: &App) -> Rect {
    Rect::new(0, 0, app.size.0, app.size.1)
}

/// Rows of hits the table shows (its height without the header).
pub fn table_rows(app: &App) -> usize {
    usize::from(layout(app, screen(app)).table.height.saturating_sub(1))
}

/// The detail pane's frame: a border and a column of padding each side.
fn detail_block() -> Block<'static> {
    Block::bordered().padding(Padding::horizontal(1))
}

fn detail_inner(app: &App) -> Option<Rect> {
    layout(app, screen(app))
        .detail
        .map(|area| detail_block().inner(area))
}

/// Lines of text the detail pane shows at once (0 when it is hidden).
pub fn detail_rows(app: &App) -> usize {
    detail_inner(app).map_or(0, |inner| usize::from(inner.height))
}

/// How far the detail pane can scroll before its last line reaches the bottom.
pub fn detail_max_scroll(app: &App) -> usize {
    detail_inner(app).map_or(0, |inner| {
        detail_lines(app, usize::from(inner.width))
            .len()
            .saturating_sub(usize::from(inner.height))
    })
}

/// Draws the whole screen.
pub fn render(app: &App, frame: &mut Frame) {
    let areas = layout(app, frame.area());
    render_search(app, frame, areas.search);
    render_table(app, frame, areas.table);
    if let Some(area) = areas.detail {
        render_detail(app, frame, area);
    }
    frame.render_widget(
        Paragraph::new(status_line(app, areas.status.width)),
        areas.status,
    );
    frame.render_widget(
        Paragraph::new(footer_line(app, areas.footer.width)),
        areas.footer,
    );
    if app.help {
        render_help(app, frame, frame.area());
    }
}

fn spinner(app: &App) -> &'static str {
    format::SPINNER[app.spinner % format::SPINNER.len()]
}

fn render_search(app: &App, frame: &mut Frame, area: Rect) {
    let theme = app.theme;
    let prompt = " / ";
    let mut right = vec![
        Span::styled("sort ", theme.dim()),
        Span::styled(app.sort.label(), theme.accent()),
        Span::raw(" "),
    ];
    if app.searching() {
        right.insert(0, Span::styled(format!("{} ", spinner(app)), theme.dim()));
    }
    let right = Line::from(right);
    let right_w = right.width();
    let available = usize::from(area.width)
        .saturating_sub(format::width(prompt) + right_w + 1)
        .max(1);
    let mut spans = vec![Span::styled(prompt, theme.prompt())];
    let cursor_x = if app.query.is_empty() {
        spans.push(Span::styled(
            format::truncate("type to search datasets · ? for help", available),
            theme.dim(),
        ));
        format::width(prompt)
    } else {
        // Scroll the query so the cursor stays visible.
        let chars: Vec<char> = app.query.chars().collect();
        let before = |s: usize| format::width(&chars[s..app.cursor].iter().collect::<String>());
        let mut start = 0;
        while start < app.cursor && before(start) >= available {
            start += 1;
        }
        let shown: String = chars[start..].iter().collect();
        spans.push(Span::raw(format::truncate(&shown, available)));
        format::width(prompt) + before(start)
    };
    let [left_area, right_area] = Layout::horizontal([
        Constraint::Fill(1),
        Constraint::Length(u16::try_from(right_w).unwrap_or(u16::MAX)),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(Line::from(spans)), left_area);
    frame.render_widget(Paragraph::new(right), right_area);
    if app.focus == Focus::Search && !app.help {
        let x = area
            .x
            .saturating_add(u16::try_from(cursor_x).unwrap_or(u16::MAX));
        frame.set_cursor_position(Position::new(x.min(area.right().saturating_sub(1)), area.y));
    }
}

fn render_table(app: &App, frame: &mut Frame, area: Rect) {
    let theme = app.theme;
    let width = usize::from(area.width);
    let id_w = width.saturating_sub(DOWNLOADS_W + LIKES_W + UPDATED_W + 3);
    let row = |id: Vec<Span<'static>>, id_width: usize, d: &str, l: &str, u: &str| {
        let mut spans = id;
        spans.push(Span::raw(format!(
            "{} {} {} {}",
            " ".repeat(id_w.saturating_sub(id_width)),
            format::pad_left(d, DOWNLOADS_W),
            format::pad_left(l, LIKES_W),
            format::pad_right(u, UPDATED_W)
        )));
        Line::from(spans)
    };
    let mut lines = vec![
        row(
            vec![Span::raw("id")],
            2,
            "downloads",
            "likes",
            date_column_label(app),
        )
        .style(theme.header()),
    ];
    let body_rows = usize::from(area.height.saturating_sub(1));
    match (&app.results, &app.connection) {
        (Results::Loading, Connection::Lost(_)) => {
            lines.push(Line::styled(
                "daemon unreachable — retrying…",
                theme.error(),
            ));
        }
        (Results::Loading, Connection::Connected) => {
            lines.push(Line::styled("loading…", theme.dim()));
        }
        (Results::Failed(message), _) => {
            for text in format::wrap(&format!("search failed: {message}"), width) {
                lines.push(Line::styled(text, theme.error()));
            }
        }
        (Results::Loaded(response), _) if response.hits.is_empty() => {
            let query = app.query.trim();
            let text = if query.is_empty() {
                "the catalog is empty; it fills in as the daemon syncs (Ctrl-R syncs now)"
                    .to_string()
            } else {
                format!("no dataset matches “{query}”; try fewer words")
            };
            for text in format::wrap(&text, width) {
                lines.push(Line::styled(text, theme.dim()));
            }
        }
        (Results::Loaded(response), _) => {
            let focused = app.focus == Focus::Search;
            for (i, hit) in response
                .hits
                .iter()
                .enumerate()
                .skip(app.offset)
                .take(body_rows)
            {
                let id = format::truncate(hit.id.as_str(), id_w);
                let id_width = format::width(&id);
                let id_spans = match id.split_once('/') {
                    Some((namespace, name)) => vec![
                        Span::styled(format!("{namespace}/"), theme.dim()),
                        Span::raw(name.to_string()),
                    ],
                    None => vec![Span::raw(id)],
                };
                let date = match app.sort {
                    SortKey::CreatedAt => hit.created_at,
                    _ => hit.last_modified,
                };
                let line = row(
                    id_spans,
                    id_width,
                    &format::compact(hit.downloads),
                    &format::compact(hit.likes),
                    &format::date(date),
                );
                lines.push(if i == app.selected {
                    line.style(theme.selected(focused))
                } else {
                    line
                });
            }
        }
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// The date column's header: `created` while sorting by creation, else `updated`.
fn date_column_label(app: &App) -> &'static str {
    match app.sort {
        SortKey::CreatedAt => "created",
        _ => "updated",
    }
}

/// The detail pane's text for the selected dataset, wrapped to `width` cells.
pub fn detail_lines(app: &App, width: usize) -> Vec<Line<'static>> {
    let theme = app.theme;
    let Some(d) = app.detail_record() else {
        return vec![Line::styled("nothing selected", theme.dim())];
    };
    let mut lines = Vec::new();
    if let Some(name) = d.pretty_name() {
        for text in format::wrap(name, width) {
            lines.push(Line::styled(text, theme.accent()));
        }
    }
    let value_w = width.saturating_sub(LABEL_W).max(1);
    let mut field = |name: &str, value: &str, style: Style| {
        for (i, text) in format::wrap(value, value_w).into_iter().enumerate() {
            let label = if i == 0 { name } else { "" };
            lines.push(Line::from(vec![
                Span::styled(format::pad_right(label, LABEL_W), theme.dim()),
                Span::styled(text, style),
            ]));
        }
    };
    let plain = Style::new();
    field("author", d.owner().unwrap_or("-"), plain);
    field("licence", d.license().unwrap_or("-"), plain);
    field(
        "downloads",
        &format!("{} (30 days)", format::thousands(d.downloads)),
        plain,
    );
    field("likes", &format::thousands(d.likes), plain);
    field("created", &format::date(d.created_at), plain);
    field("updated", &format::date(d.last_modified), plain);
    if d.gated.is_gated() {
        field("gated", "request access on the Hub", theme.warn());
    }
    let endpoint = app
        .status
        .as_ref()
        .map_or(format::DEFAULT_ENDPOINT, |s| s.endpoint.as_str());
    field("url", &d.id.web_url(endpoint), theme.accent());
    let tags = if d.tags.is_empty() {
        "-".to_string()
    } else {
        d.tags.join(" · ")
    };
    field("tags", &tags, theme.dim());
    lines.push(Line::raw(""));
    let description = d
        .description
        .as_deref()
        .map(format::clean_description)
        .filter(|t| !t.is_empty());
    match description {
        Some(text) => lines.extend(format::wrap(&text, width).into_iter().map(Line::raw)),
        None => lines.push(Line::styled("no description", theme.dim())),
    }
    lines
}

fn render_detail(app: &App, frame: &mut Frame, area: Rect) {
    let theme = app.theme;
    let focused = app.focus == Focus::Detail;
    let title = app
        .selected_hit()
        .map(|h| format::truncate(h.id.as_str(), usize::from(area.width).saturating_sub(4)))
        .unwrap_or_default();
    let block = detail_block()
        .border_style(theme.border(focused))
        .title(Line::styled(format!(" {title} "), theme.accent()));
    let inner = block.inner(area);
    let lines = detail_lines(app, usize::from(inner.width));
    let max_scroll = lines.len().saturating_sub(usize::from(inner.height));
    let scroll = app.detail_scroll.min(max_scroll);
    let mut block = block;
    if max_scroll > 0 {
        let position = format!(" {}/{} ", scroll + 1, max_scroll + 1);
        block = block.title_bottom(Line::styled(position, theme.dim()).right_aligned());
    }
    let visible: Vec<Line> = lines
        .into_iter()
        .skip(scroll)
        .take(usize::from(inner.height))
        .collect();
    frame.render_widget(Paragraph::new(visible).block(block), area);
}

fn status_line(app: &App, width: u16) -> Line<'static> {
    let theme = app.theme;
    let mut left: Vec<Span<'static>> = vec![Span::raw(" ")];
    match (&app.connection, &app.status) {
        (Connection::Lost(_), _) => {
            left.push(Span::styled("daemon unreachable — retrying", theme.error()));
        }
        (Connection::Connected, None) => left.push(Span::styled("connecting…", theme.dim())),
        (Connection::Connected, Some(status)) => {
            left.push(Span::raw(format!(
                "{} records",
                format::thousands(status.records)
            )));
            left.push(Span::styled(" · ", theme.dim()));
            let state = format::sync_state(status, app.now);
            let style = if status.syncing.is_some() {
                left.push(Span::styled(format!("{} ", spinner(app)), theme.accent()));
                theme.accent()
            } else if status.offline.is_some()
                || status.last_sync.as_ref().is_some_and(|r| !r.succeeded())
            {
                theme.warn()
            } else {
                theme.dim()
            };
            left.push(Span::styled(state, style));
        }
    }
    let right = match &app.results {
        Results::Loaded(response) => format!(
            "{} of {} · {} ",
            format::thousands(response.hits.len() as u64),
            format::thousands(response.total),
            format::millis(response.took_ms)
        ),
        Results::Loading | Results::Failed(_) => String::new(),
    };
    fit(left, right, usize::from(width), theme.dim())
}

/// `left` then `right` flush right, cutting `left` with `…` when both do not fit.
fn fit(left: Vec<Span<'static>>, right: String, width: usize, right_style: Style) -> Line<'static> {
    let right_w = format::width(&right);
    let room = width.saturating_sub(right_w + 1);
    let mut spans = Vec::new();
    let mut used = 0;
    for span in left {
        let w = format::width(&span.content);
        if used + w <= room {
            used += w;
            spans.push(span);
        } else {
            let cut = format::truncate(&span.content, room.saturating_sub(used));
            used += format::width(&cut);
            spans.push(Span::styled(cut, span.style));
            break;
        }
    }
    if right_w + used < width {
        spans.push(Span::raw(" ".repeat(width - used - right_w)));
        spans.push(Span::styled(right, right_style));
    }
    Line::from(spans)
}

fn footer_line(app: &App, width: u16) -> Line<'static> {
    let theme = app.theme;
    if let Some(notice) = &app.notice {
        let style = match notice.level {
            Level::Info => theme.accent(),
            Level::Ok => theme.ok(),
            Level::Error => theme.error(),
        };
        let text = format::truncate(&notice.text, usize::from(width).saturating_sub(1));
        return Line::from(vec![Span::raw(" "), Span::styled(text, style)]);
    }
    let context = match (app.help, app.focus) {
        (true, _) => Context::Help,
        (false, Focus::Search) => Context::Search,
        (false, Focus::Detail) => Context::Detail,
    };
    let mut spans = vec![Span::raw(" ")];
    let mut used = 1;
    for (keys, words) in keymap::hints(context) {
        let w = format::width(&keys) + 1 + format::width(words) + 2;
        if used + w > usize::from(width) {
            break;
        }
        used += w;
        spans.push(Span::styled(keys, theme.key()));
        spans.push(Span::styled(format!(" {words}  "), theme.dim()));
    }
    Line::from(spans)
}

fn render_help(app: &App, frame: &mut Frame, area: Rect) {
    let theme = app.theme;
    let listed: Vec<_> = KEYMAP
        .iter()
        .filter(|b| b.context != Context::Help)
        .collect();
    let keys_w = listed
        .iter()
        .map(|b| format::width(&b.keys_label()))
        .max()
        .unwrap_or(0);
    let context_w = 9;
    let width = area.width.saturating_sub(4).min(80);
    let height = u16::try_from(listed.len() + 2)
        .unwrap_or(u16::MAX)
        .min(area.height.saturating_sub(2));
    let popup = Rect {
        x: area.x + (area.width.saturating_sub(width)) / 2,
        y: area.y + (area.height.saturating_sub(height)) / 2,
        width,
        height,
    };
    let close = KEYMAP
        .iter()
        .find(|b| b.context == Context::Help && b.command == Command::Help)
        .map(|b| format!(" {} / ? {} ", b.keys_label(), b.hint.unwrap_or("close")))
        .unwrap_or_default();
    let block = Block::bordered()
        .border_style(theme.border(true))
        .title(Line::styled(" keys ", theme.accent()))
        .title_bottom(Line::styled(close, theme.dim()).right_aligned());
    let inner = block.inner(popup);
    let help_w = usize::from(inner.width).saturating_sub(keys_w + context_w + 3);
    let mut lines = Vec::new();
    for binding in listed {
        lines.push(Line::from(vec![
            Span::raw(" "),
            Span::styled(
                format::pad_right(&binding.keys_label(), keys_w + 1),
                theme.key(),
            ),
            Span::styled(
                format::pad_right(binding.context.label(), context_w),
                theme.dim(),
            ),
            Span::raw(format::truncate(binding.help, help_w)),
        ]));
    }
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::app::{Action, Effect, update};
    use crate::ui::testdata;
    use crate::ui::theme::Theme;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use hubdex_core::DatasetId;
    use hubdex_ipc::{SearchResponse, SyncProgress};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::style::{Color, Modifier};

    fn app(width: u16, height: u16, color: bool) -> App {
        let mut app = App::new(Theme { color }, (width, height), testdata::now());
        let effects = app.start();
        for effect in effects {
            if let Effect::Search(job) = effect {
                update(
                    &mut app,
                    Action::SearchDone {
                        job,
                        result: Ok(SearchResponse {
                            total: 48_997,
                            took_ms: 2.4,
                            hits: testdata::hits(),
                            facets: None,
                        }),
                    },
                );
            }
        }
        update(&mut app, Action::StatusLoaded(testdata::status()));
        app
    }

    fn key(app: &mut App, code: KeyCode) {
        update(app, Action::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    }

    fn draw(app: &App) -> Terminal<TestBackend> {
        let mut terminal = Terminal::new(TestBackend::new(app.size.0, app.size.1)).unwrap();
        terminal.draw(|frame| render(app, frame)).unwrap();
        terminal
    }

    fn text(terminal: &Terminal<TestBackend>) -> String {
        terminal.backend().to_string()
    }

    #[test]
    fn first_frame_says_loading() {
        let app = App::new(Theme { color: true }, (80, 24), testdata::now());
        let screen = text(&draw(&app));
        assert!(screen.contains("loading…"), "{screen}");
        insta::assert_snapshot!("loading_80x24", screen);
    }

    #[test]
    fn results_80x24() {
        let mut app = app(80, 24, true);
        key(&mut app, KeyCode::Down);
        insta::assert_snapshot!("results_80x24", text(&draw(&app)));
    }

    #[test]
    fn results_with_detail_160x48() {
        let mut app = app(160, 48, true);
        key(&mut app, KeyCode::Down);
        key(&mut app, KeyCode::Down);
        key(&mut app, KeyCode::Down);
        insta::assert_snapshot!("results_160x48", text(&draw(&app)));
    }

    #[test]
    fn detail_below_results_80x24() {
        let mut app = app(80, 24, true);
        for _ in 0..4 {
            key(&mut app, KeyCode::Down);
        }
        key(&mut app, KeyCode::Enter);
        insta::assert_snapshot!("detail_80x24", text(&draw(&app)));
    }

    #[test]
    fn help_overlay_80x24() {
        let mut app = app(80, 24, true);
        key(&mut app, KeyCode::Char('?'));
        let screen = text(&draw(&app));
        for binding in KEYMAP.iter().filter(|b| b.context != Context::Help) {
            assert!(
                screen.contains(&binding.keys_label()),
                "help lacks {}",
                binding.keys_label()
            );
        }
        insta::assert_snapshot!("help_80x24", screen);
    }

    #[test]
    fn daemon_lost_and_syncing_status_lines() {
        let mut app = app(80, 24, true);
        update(&mut app, Action::DaemonLost("connection refused".into()));
        let screen = text(&draw(&app));
        assert!(screen.contains("daemon unreachable — retrying"), "{screen}");
        update(&mut app, Action::DaemonBack);
        let mut status = testdata::status();
        status.syncing = Some(SyncProgress {
            started_at: testdata::now(),
            pages: 12,
            records: 12_000,
            ..SyncProgress::default()
        });
        update(&mut app, Action::StatusLoaded(status));
        let screen = text(&draw(&app));
        assert!(
            screen.contains("syncing 12 pages / 12,000 records"),
            "{screen}"
        );
        insta::assert_snapshot!("syncing_80x24", screen);
    }

    #[test]
    fn offline_status_and_typed_query_80x24() {
        let mut app = app(80, 24, true);
        let mut status = testdata::status();
        status.offline = Some("cannot reach https://huggingface.co: connection refused".into());
        update(&mut app, Action::StatusLoaded(status));
        for c in "text generation".chars() {
            key(&mut app, KeyCode::Char(c));
        }
        let screen = text(&draw(&app));
        assert!(screen.contains("offline: cannot reach"), "{screen}");
        assert!(screen.contains(" / text generation"), "{screen}");
        insta::assert_snapshot!("offline_query_80x24", screen);
    }

    #[test]
    fn cjk_ids_are_cut_by_width() {
        let mut app = app(80, 24, true);
        if let Results::Loaded(response) = &mut app.results {
            // No real Hub id has CJK characters; this renames a real record to see that
            // double-width ids are cut at a cell boundary and the columns stay aligned.
            response.hits[1].id =
                DatasetId::new("中文医疗/中文医疗对话数据集和预训练百科数据以及奖励模型数据集合")
                    .unwrap();
        }
        let terminal = draw(&app);
        let screen = text(&terminal);
        let row = screen.lines().find(|l| l.contains("中文医疗/")).unwrap();
        assert!(row.contains('…'), "{row}");
        let header = screen.lines().nth(1).unwrap();
        let end = |l: &str, s: &str| l.find(s).map(|i| format::width(&l[..i]) + format::width(s));
        assert_eq!(end(header, "downloads"), end(row, "1.1M"), "{screen}");
        insta::assert_snapshot!("cjk_80x24", screen);
    }

    #[test]
    fn no_color_uses_no_colours_but_still_marks_the_selection() {
        let app = app(80, 24, false);
        let terminal = draw(&app);
        let buffer = terminal.backend().buffer();
        for cell in buffer.content() {
            assert_eq!(cell.fg, Color::Reset, "{cell:?}");
            assert_eq!(cell.bg, Color::Reset, "{cell:?}");
        }
        let selected_row = 2;
        let reversed = (0..80).any(|x| {
            buffer[(x, selected_row)]
                .modifier
                .contains(Modifier::REVERSED)
        });
        assert!(reversed, "the selection is not marked");
        insta::assert_debug_snapshot!("no_color_80x24_styles", buffer);
    }

    #[test]
    fn colour_theme_styles_80x24() {
        let app = app(80, 24, true);
        let terminal = draw(&app);
        let buffer = terminal.backend().buffer();
        assert!(buffer.content().iter().any(|c| c.bg == Color::Blue));
        insta::assert_debug_snapshot!("color_80x24_styles", buffer);
    }

    #[test]
    fn layout_fits_tiny_terminals_without_panicking() {
        for (w, h) in [(1, 1), (10, 3), (20, 5), (40, 10), (119, 30), (120, 30)] {
            let mut app = app(w, h, true);
            key(&mut app, KeyCode::Enter);
            key(&mut app, KeyCode::Char('?'));
            draw(&app);
        }
    }

    #[test]
    fn the_cursor_follows_the_query() {
        let mut app = app(80, 24, true);
        for c in "gsm8k".chars() {
            key(&mut app, KeyCode::Char(c));
        }
        key(&mut app, KeyCode::Left);
        let mut terminal = draw(&app);
        let position = terminal.get_cursor_position().unwrap();
        assert_eq!((position.x, position.y), (3 + 4, 0));
    }
}
