//! `render(&App, &mut Frame)`: draws the state, decides nothing. The layout is a pure
//! function of the app and its size, so `update` uses it too (page sizes, mouse clicks).

use hubdex_core::{Dataset, Order, SortKey};
use hubdex_ipc::{ChangeKind, Follow, Job, JobState};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Padding, Paragraph};

use super::app::{App, Connection, Focus, Level, Listed, Overlay, Results, View, transfers};
use super::keymap::{Command, Mode};
use super::preview;
use crate::format;

/// From this many columns on, the preview pane sits right of the results.
const WIDE: u16 = 120;
/// Widths of the table's columns.
const MARKS_W: usize = 3;
const SIZE_W: usize = 8;
const DOWNLOADS_W: usize = 9;
const LIKES_W: usize = 5;
const UPDATED_W: usize = 10;
/// Lines of the Jobs and Follows views' detail box (border included).
const DETAIL_H: u16 = 7;

/// Where each part of the screen goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Areas {
    /// The tab bar of views.
    pub tabs: Rect,
    /// The one-line search box (Search view only).
    pub search: Rect,
    /// The facet bar or the query's mistake (Search view only).
    pub facets: Rect,
    /// Everything between the bars and the status line.
    pub body: Rect,
    /// The results table or the view's list, header row included.
    pub table: Rect,
    /// Where the preview pane draws, when shown (inside its frame).
    pub preview: Option<Rect>,
    /// The preview's frame (a rule on its edge).
    pub preview_frame: Option<Rect>,
    /// The detail box of the Follows and Jobs views.
    pub detail: Option<Rect>,
    /// The status line.
    pub status: Rect,
    /// Key hints or a notice.
    pub footer: Rect,
}

/// Splits `area` for `app`. On the Search view the preview goes right on wide terminals and
/// below the results on narrow ones, only while it has the focus or is toggled on.
pub fn layout(app: &App, area: Rect) -> Areas {
    let search_view = app.view == View::Search;
    let bars = if search_view { 2 } else { 0 };
    let [tabs, bar_area, body, status, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(bars),
        Constraint::Fill(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let [search, facets] =
        Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(bar_area);
    let mut areas = Areas {
        tabs,
        search,
        facets,
        body,
        table: body,
        status,
        footer,
        ..Areas::default()
    };
    match app.view {
        View::Search => {
            let wide = area.width >= WIDE;
            let shown = wide || app.show_preview || app.focus == Focus::Preview;
            if shown && body.height >= 4 {
                let (table, frame, borders) = if wide {
                    let [t, p] = Layout::horizontal([
                        Constraint::Percentage(55),
                        Constraint::Percentage(45),
                    ])
                    .areas(body);
                    (t, p, Borders::LEFT)
                } else {
                    let table_height = (body.height * 2 / 5).max(3).min(body.height);
                    let [t, p] =
                        Layout::vertical([Constraint::Length(table_height), Constraint::Fill(1)])
                            .areas(body);
                    (t, p, Borders::TOP)
                };
                areas.table = table;
                areas.preview_frame = Some(frame);
                areas.preview = Some(preview_block(borders).inner(frame));
            }
            areas.table = Rect {
                x: areas.table.x.saturating_add(1),
                width: areas.table.width.saturating_sub(2),
                ..areas.table
            };
        }
        View::Follows | View::Jobs => {
            let detail_h = if body.height > DETAIL_H * 2 {
                DETAIL_H
            } else {
                0
            };
            let [list, detail] =
                Layout::vertical([Constraint::Fill(1), Constraint::Length(detail_h)]).areas(body);
            areas.table = Rect {
                x: list.x.saturating_add(1),
                width: list.width.saturating_sub(2),
                ..list
            };
            areas.detail = (detail_h > 0).then_some(detail);
        }
    }
    areas
}

fn preview_block(borders: Borders) -> Block<'static> {
    let padding = if borders == Borders::LEFT {
        Padding::left(1)
    } else {
        Padding::ZERO
    };
    Block::new().borders(borders).padding(padding)
}

/// Rows of the list the body shows (its height without the header).
pub fn table_rows(app: &App) -> usize {
    usize::from(layout(app, app.screen()).table.height.saturating_sub(1))
}

/// The first row a list shows so that `selected` is visible in `rows` rows.
fn list_offset(selected: usize, rows: usize) -> usize {
    selected.saturating_sub(rows.saturating_sub(1))
}

/// The list row (an index into hits, follows or jobs) under `at`, if any.
pub fn list_row_at(app: &App, at: Position) -> Option<usize> {
    let table = layout(app, app.screen()).table;
    if !table.contains(at) || at.y == table.y {
        return None;
    }
    let line = usize::from(at.y - table.y - 1);
    let rows = table_rows(app);
    let (offset, len) = match app.view {
        View::Search => (app.offset, app.hits().len()),
        View::Follows => (
            list_offset(app.follows_selected, rows),
            app.follows.items().len(),
        ),
        View::Jobs => (list_offset(app.jobs_selected, rows), app.jobs.items().len()),
    };
    let index = offset + line;
    (index < len).then_some(index)
}

/// The view whose label on the tab bar is under `at`.
pub fn view_tab_at(app: &App, at: Position) -> Option<View> {
    let tabs = layout(app, app.screen()).tabs;
    if !tabs.contains(at) {
        return None;
    }
    view_tabs(app)
        .into_iter()
        .find(|(_, x, w)| at.x >= *x && at.x < x + w)
        .map(|(view, _, _)| view)
}

/// Each view's label on the tab bar with its column and width.
fn view_tabs(app: &App) -> Vec<(View, u16, u16)> {
    let mut x = u16::try_from(format::width(TITLE)).unwrap_or(u16::MAX);
    let mut out = Vec::new();
    for view in View::ALL {
        let w = u16::try_from(format::width(&view_label(app, view))).unwrap_or(u16::MAX);
        out.push((view, x, w));
        x = x.saturating_add(w).saturating_add(1);
    }
    out
}

const TITLE: &str = " hubdex ";

fn view_label(app: &App, view: View) -> String {
    let count = match view {
        View::Search => String::new(),
        View::Follows => {
            let changed = app
                .follows
                .items()
                .iter()
                .filter(|f| !f.changes.is_empty())
                .count();
            if changed > 0 {
                format!(" {changed}●")
            } else {
                String::new()
            }
        }
        View::Jobs => {
            let active = app
                .jobs
                .items()
                .iter()
                .filter(|j| !j.state.is_finished())
                .count();
            if active > 0 {
                format!(" {active}")
            } else {
                String::new()
            }
        }
    };
    format!(" {}{count} ", view.label())
}

/// The facet chip (an index into [`App::facet_chips`]) under `at`, if any.
pub fn facet_at(app: &App, at: Position) -> Option<usize> {
    let bar = layout(app, app.screen()).facets;
    if !bar.contains(at) || app.mistake.is_some() {
        return None;
    }
    facet_spans(app, usize::from(bar.width))
        .into_iter()
        .find(|(_, x, w)| usize::from(at.x - bar.x) >= *x && usize::from(at.x - bar.x) < x + w)
        .map(|(i, _, _)| i)
}

/// The chips that fit in `width` cells: (index, column, width).
fn facet_spans(app: &App, width: usize) -> Vec<(usize, usize, usize)> {
    let mut x = 1;
    let mut out = Vec::new();
    for (i, (text, count)) in app.facet_chips().into_iter().enumerate() {
        let w = format::width(&chip_text(&text, count));
        if x + w > width {
            break;
        }
        out.push((i, x, w));
        x += w + 1;
    }
    out
}

fn chip_text(text: &str, count: u64) -> String {
    format!("{text} {}", format::compact(count))
}

/// Draws the whole screen.
pub fn render(app: &App, frame: &mut Frame) {
    let areas = layout(app, frame.area());
    render_tabs(app, frame, areas.tabs);
    match app.view {
        View::Search => {
            render_search(app, frame, areas.search);
            render_facets(app, frame, areas.facets);
            render_table(app, frame, areas.table);
            if let (Some(inner), Some(outer)) = (areas.preview, areas.preview_frame) {
                let borders = if outer.width > inner.width {
                    Borders::LEFT
                } else {
                    Borders::TOP
                };
                let focused = app.focus == Focus::Preview;
                frame.render_widget(
                    preview_block(borders).border_style(app.theme.border(focused)),
                    outer,
                );
                app.preview.render(frame, inner, app.theme, app.now);
            }
        }
        View::Follows => render_follows(app, frame, &areas),
        View::Jobs => render_jobs(app, frame, &areas),
    }
    frame.render_widget(
        Paragraph::new(status_line(app, areas.status.width)),
        areas.status,
    );
    frame.render_widget(
        Paragraph::new(footer_line(app, areas.footer.width)),
        areas.footer,
    );
    match &app.overlay {
        None => {}
        Some(Overlay::Help { scroll }) => render_help(app, frame, frame.area(), *scroll),
        Some(Overlay::Download(form)) => render_form(app, frame, form),
        Some(Overlay::ConfirmDelete { dataset, bytes }) => {
            let text = format!(
                "Delete everything of {dataset} from the Hugging Face cache, freeing {}?",
                format::bytes(*bytes)
            );
            render_dialog(
                app,
                frame,
                " delete ",
                &text,
                "y / Enter delete · n / Esc keep",
            );
        }
        Some(Overlay::Combined(datasets)) => {
            let area = centered(frame.area(), 76, 20);
            frame.render_widget(Clear, area);
            let block = Block::bordered()
                .border_style(app.theme.border(true))
                .title(Line::styled(
                    format!(" combined impact of {} datasets ", datasets.len()),
                    app.theme.accent(),
                ))
                .title_bottom(Line::styled(" Esc close ", app.theme.dim()).right_aligned());
            let inner = block.inner(area);
            frame.render_widget(block, area);
            preview::render_combined(frame, inner, app.theme, datasets);
        }
    }
}

fn spinner(app: &App) -> &'static str {
    format::SPINNER[app.spinner % format::SPINNER.len()]
}

fn render_tabs(app: &App, frame: &mut Frame, area: Rect) {
    let theme = app.theme;
    let mut spans = vec![Span::styled(TITLE, theme.accent())];
    for view in View::ALL {
        let style = if view == app.view {
            theme.selected(true)
        } else {
            theme.dim()
        };
        spans.push(Span::styled(view_label(app, view), style));
        spans.push(Span::raw(" "));
    }
    let marks = if app.marks.is_empty() {
        String::new()
    } else {
        format!("{} marked ", app.marks.len())
    };
    frame.render_widget(
        Paragraph::new(fit(spans, marks, usize::from(area.width), theme.accent())),
        area,
    );
}

fn sort_label(app: &App) -> String {
    let sort = app.results_sort();
    let arrow = match (sort.key, sort.order) {
        (SortKey::Relevance, _) => "",
        (_, Order::Descending) => " ↓",
        (_, Order::Ascending) => " ↑",
    };
    format!("{}{arrow}", sort.key.label())
}

fn render_search(app: &App, frame: &mut Frame, area: Rect) {
    let theme = app.theme;
    let prompt = " / ";
    let mut right = vec![
        Span::styled("sort ", theme.dim()),
        Span::styled(sort_label(app), theme.accent()),
        Span::raw(" "),
    ];
    if app.searching() || (app.preview_visible() && app.preview.loading()) {
        right.insert(0, Span::styled(format!("{} ", spinner(app)), theme.dim()));
    }
    let right = Line::from(right);
    let right_w = right.width();
    let available = usize::from(area.width)
        .saturating_sub(format::width(prompt) + right_w + 1)
        .max(1);
    let typing = app.focus == Focus::Query && app.overlay.is_none();
    let mut spans = vec![Span::styled(prompt, theme.prompt())];
    let cursor_x = if app.query.is_empty() {
        let help = app.keymap.key_for(Command::Help);
        let hint = if typing {
            format!("type to search datasets · {help} for help")
        } else {
            format!("press / to search · {help} for help")
        };
        spans.push(Span::styled(
            format::truncate(&hint, available),
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
        let mut used = 0;
        let mut run = String::new();
        let mut run_bad = false;
        let bad = |i: usize| {
            app.mistake
                .as_ref()
                .is_some_and(|m| i >= m.start && i < m.end)
        };
        for (i, c) in chars.iter().enumerate().skip(start) {
            let w = format::width(c.encode_utf8(&mut [0; 4]));
            if used + w > available {
                break;
            }
            if bad(i) != run_bad && !run.is_empty() {
                spans.push(query_span(std::mem::take(&mut run), run_bad, app));
            }
            run_bad = bad(i);
            run.push(*c);
            used += w;
        }
        if !run.is_empty() {
            spans.push(query_span(run, run_bad, app));
        }
        format::width(prompt) + before(start)
    };
    let [left_area, right_area] = Layout::horizontal([
        Constraint::Fill(1),
        Constraint::Length(u16::try_from(right_w).unwrap_or(u16::MAX)),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(Line::from(spans)), left_area);
    frame.render_widget(Paragraph::new(right), right_area);
    if typing {
        let x = area
            .x
            .saturating_add(u16::try_from(cursor_x).unwrap_or(u16::MAX));
        frame.set_cursor_position(Position::new(x.min(area.right().saturating_sub(1)), area.y));
    }
}

fn query_span(text: String, bad: bool, app: &App) -> Span<'static> {
    if bad {
        Span::styled(text, app.theme.error().add_modifier(Modifier::UNDERLINED))
    } else {
        Span::raw(text)
    }
}

fn render_facets(app: &App, frame: &mut Frame, area: Rect) {
    let theme = app.theme;
    let width = usize::from(area.width);
    if let Some(mistake) = &app.mistake {
        let text = format::truncate(&format!(" ✗ {}", mistake.message), width);
        frame.render_widget(Paragraph::new(Line::styled(text, theme.error())), area);
        return;
    }
    let chips = app.facet_chips();
    let mut spans = vec![Span::raw(" ")];
    let focused = app.focus == Focus::Facets;
    for (i, _, _) in facet_spans(app, width) {
        let (text, count) = &chips[i];
        let style = if focused && i == app.facet {
            theme.selected(true)
        } else {
            theme.dim()
        };
        let (field, value) = text.split_once(':').unwrap_or(("", text));
        if style == theme.dim() {
            spans.push(Span::styled(format!("{field}:"), theme.dim()));
            spans.push(Span::raw(value.to_string()));
            spans.push(Span::styled(
                format!(" {}", format::compact(*count)),
                theme.dim(),
            ));
        } else {
            spans.push(Span::styled(chip_text(text, *count), style));
        }
        spans.push(Span::raw(" "));
    }
    if chips.is_empty() {
        let hint = match app.results {
            Results::Loaded(_) => "no facets",
            _ => "",
        };
        spans.push(Span::styled(hint, theme.dim()));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The first `task_categories` of a record, for the task column.
fn task(d: &Dataset) -> &str {
    d.tag_values("task_categories").next().unwrap_or("")
}

fn render_table(app: &App, frame: &mut Frame, area: Rect) {
    let theme = app.theme;
    let width = usize::from(area.width);
    let fixed = MARKS_W + SIZE_W + DOWNLOADS_W + LIKES_W + UPDATED_W + 4;
    let task_w = match width {
        w if w >= fixed + 50 => 18,
        w if w >= fixed + 34 => 12,
        _ => 0,
    };
    let id_w = width.saturating_sub(fixed + task_w + usize::from(task_w > 0));
    let row =
        |marks: Vec<Span<'static>>, id: Vec<Span<'static>>, id_width: usize, cells: [&str; 5]| {
            let [t, s, d, l, u] = cells;
            let mut spans = marks;
            spans.extend(id);
            let task = if task_w > 0 {
                format!(
                    " {}",
                    format::pad_right(&format::truncate(t, task_w), task_w)
                )
            } else {
                String::new()
            };
            spans.push(Span::raw(format!(
                "{}{task} {} {} {} {}",
                " ".repeat(id_w.saturating_sub(id_width)),
                format::pad_left(s, SIZE_W),
                format::pad_left(d, DOWNLOADS_W),
                format::pad_left(l, LIKES_W),
                format::pad_right(u, UPDATED_W)
            )));
            Line::from(spans)
        };
    let date_label = match app.sort.key {
        SortKey::CreatedAt => "created",
        _ => "updated",
    };
    let mut lines = vec![
        row(
            vec![Span::raw("   ")],
            vec![Span::raw("id")],
            2,
            ["task", "size", "downloads", "likes", date_label],
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
        (Results::Loading, Connection::Starting(progress)) => {
            let step = format::startup_step(progress, app.now);
            for text in format::wrap(&format!("{} daemon starting: {step}", spinner(app)), width) {
                lines.push(Line::styled(text, theme.dim()));
            }
        }
        (Results::Loading, Connection::Connected) => {
            lines.push(Line::styled(
                format!("{} loading…", spinner(app)),
                theme.dim(),
            ));
        }
        (Results::Failed(message), _) => {
            let retry = app.keymap.key_for(Command::Refresh);
            for text in format::wrap(
                &format!("search failed: {message} ({retry} retries)"),
                width,
            ) {
                lines.push(Line::styled(text, theme.error()));
            }
        }
        (Results::Loaded(response), _) if response.hits.is_empty() => {
            let query = app.query.trim();
            let sync = app.keymap.key_for(Command::SyncNow);
            let text = if query.is_empty() {
                format!("the catalog is empty; it fills in as the daemon syncs ({sync} syncs now)")
            } else {
                format!("no dataset matches “{query}”; try fewer words")
            };
            for text in format::wrap(&text, width) {
                lines.push(Line::styled(text, theme.dim()));
            }
        }
        (Results::Loaded(response), _) => {
            let focused = app.focus == Focus::Results;
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
                let date = match app.sort.key {
                    SortKey::CreatedAt => hit.created_at,
                    _ => hit.last_modified,
                };
                let marks = vec![
                    Span::styled(
                        if app.marks.contains_key(&hit.id) {
                            "+"
                        } else {
                            " "
                        },
                        theme.accent(),
                    ),
                    Span::styled(
                        if app.followed.contains(hit.id.as_str()) {
                            "★"
                        } else {
                            " "
                        },
                        theme.warn(),
                    ),
                    Span::styled(
                        if app.downloads.contains_key(hit.id.as_str()) {
                            "↓"
                        } else {
                            " "
                        },
                        theme.ok(),
                    ),
                ];
                // Sizes the card does not declare are estimates from rows: say so.
                let size = match hit.declared_size() {
                    Some((bytes, _)) => format::bytes(bytes),
                    None => hit
                        .estimated_bytes()
                        .map(format::approx_bytes)
                        .unwrap_or_default(),
                };
                let line = row(
                    marks,
                    id_spans,
                    id_width,
                    [
                        task(hit),
                        &size,
                        &format::compact(hit.downloads),
                        &format::compact(hit.likes),
                        &format::date(date),
                    ],
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

/// What changed in a followed dataset, in a few words.
fn change_words(follow: &Follow) -> String {
    if follow.changes.is_empty() {
        return "no changes since last seen".to_string();
    }
    follow
        .changes
        .iter()
        .map(|c| {
            let what = match c.what {
                ChangeKind::Commit => "new commits",
                ChangeKind::Modified => "modified",
                ChangeKind::Downloads => "downloads",
                ChangeKind::Likes => "likes",
                ChangeKind::License => "licence",
                ChangeKind::Gated => "gating",
                ChangeKind::Removed => "removed from the Hub",
            };
            match (&c.before, &c.after, c.what) {
                (_, _, ChangeKind::Commit | ChangeKind::Removed) => what.to_string(),
                (Some(b), Some(a), _) => format!("{what} {b} → {a}"),
                (None, Some(a), _) => format!("{what} → {a}"),
                _ => what.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

fn list_state<T>(
    app: &App,
    listed: &Listed<T>,
    noun: &str,
    empty: &str,
    width: usize,
) -> Option<Vec<Line<'static>>> {
    let theme = app.theme;
    let retry = app.keymap.key_for(Command::Refresh);
    let text = match listed {
        Listed::Loading => {
            return Some(vec![Line::styled(
                format!("{} loading {noun}…", spinner(app)),
                theme.dim(),
            )]);
        }
        Listed::Failed(message) => {
            return Some(
                format::wrap(
                    &format!("cannot load {noun}: {message} ({retry} retries)"),
                    width,
                )
                .into_iter()
                .map(|t| Line::styled(t, theme.error()))
                .collect(),
            );
        }
        Listed::Loaded(items) if items.is_empty() => empty.to_string(),
        Listed::Loaded(_) => return None,
    };
    Some(
        format::wrap(&text, width)
            .into_iter()
            .map(|t| Line::styled(t, theme.dim()))
            .collect(),
    )
}

fn render_follows(app: &App, frame: &mut Frame, areas: &Areas) {
    let theme = app.theme;
    let area = areas.table;
    let width = usize::from(area.width);
    let follow_key = app.keymap.key_for(Command::Follow);
    let empty = format!("you follow no dataset yet; {follow_key} on a search result follows it");
    let id_w = (width / 3).clamp(10, 40);
    let seen_w = 14;
    let changes_w = width.saturating_sub(id_w + seen_w + 4);
    let mut lines = vec![Line::styled(
        format!(
            "  {} {} {}",
            format::pad_right("dataset", id_w),
            format::pad_right("changes", changes_w),
            format::pad_right("seen", seen_w)
        ),
        theme.header(),
    )];
    if let Some(state) = list_state(app, &app.follows, "follows", &empty, width) {
        lines.extend(state);
    } else {
        let rows = table_rows(app);
        let offset = list_offset(app.follows_selected, rows);
        for (i, follow) in app
            .follows
            .items()
            .iter()
            .enumerate()
            .skip(offset)
            .take(rows)
        {
            let changed = !follow.changes.is_empty();
            let mark = Span::styled(if changed { "● " } else { "  " }, theme.warn());
            let words = change_words(follow);
            let line = Line::from(vec![
                mark,
                Span::raw(format::pad_right(
                    &format::truncate(&follow.dataset, id_w),
                    id_w,
                )),
                Span::raw(" "),
                Span::styled(
                    format::pad_right(&format::truncate(&words, changes_w), changes_w),
                    if changed { Style::new() } else { theme.dim() },
                ),
                Span::raw(" "),
                Span::styled(
                    format::pad_right(&format::relative(follow.seen_at, app.now), seen_w),
                    theme.dim(),
                ),
            ]);
            lines.push(if i == app.follows_selected {
                line.style(theme.selected(true))
            } else {
                line
            });
        }
    }
    frame.render_widget(Paragraph::new(lines), area);
    if let (Some(detail), Some(follow)) = (areas.detail, app.selected_follow()) {
        let block = Block::bordered()
            .border_style(theme.border(false))
            .title(Line::styled(
                format!(" {} ", follow.dataset),
                theme.accent(),
            ));
        let inner = block.inner(detail);
        let w = usize::from(inner.width);
        let mut text = vec![Line::from(vec![
            Span::styled("followed ", theme.dim()),
            Span::raw(format::relative(follow.followed_at, app.now)),
            Span::styled(" · seen ", theme.dim()),
            Span::raw(format::relative(follow.seen_at, app.now)),
        ])];
        for line in format::wrap(&change_words(follow), w) {
            text.push(Line::raw(line));
        }
        frame.render_widget(Paragraph::new(text).block(block), detail);
    }
}

/// A progress bar of `width` cells.
fn gauge(done: u64, total: u64, width: usize) -> String {
    let filled = if total == 0 {
        0
    } else {
        usize::try_from((u128::from(done.min(total)) * width as u128 / u128::from(total)) as u64)
            .unwrap_or(width)
    };
    format!(
        "{}{}",
        "█".repeat(filled),
        "░".repeat(width - filled.min(width))
    )
}

fn job_state_style(app: &App, state: JobState) -> Style {
    match state {
        JobState::Queued => app.theme.dim(),
        JobState::Running => app.theme.accent(),
        JobState::Succeeded => app.theme.ok(),
        JobState::Failed => app.theme.error(),
        JobState::Cancelled => app.theme.warn(),
    }
}

fn job_progress(job: &Job) -> (String, String) {
    let p = &job.progress;
    if !transfers(job) || p.bytes_total == 0 {
        return (String::new(), String::new());
    }
    let pct = p.bytes_done.saturating_mul(100) / p.bytes_total;
    let mut rate = String::new();
    if job.state == JobState::Running && p.rate > 0.0 {
        rate = format!("{}/s", format::bytes(p.rate as u64));
        if let Some(eta) = p.eta_secs {
            rate.push_str(&format!(" ETA {}", format::short_span(eta)));
        }
    }
    (
        format!("{} {pct:>3}%", gauge(p.bytes_done, p.bytes_total, 10)),
        rate,
    )
}

fn render_jobs(app: &App, frame: &mut Frame, areas: &Areas) {
    let theme = app.theme;
    let area = areas.table;
    let width = usize::from(area.width);
    let download = app.keymap.key_for(Command::Download);
    let empty = format!("no jobs yet; {download} on a search result downloads a dataset");
    let state_w = 9;
    let gauge_w = 15;
    let rate_w = if width >= 100 { 22 } else { 0 };
    let what_w = width.saturating_sub(5 + state_w + gauge_w + rate_w + 4);
    let mut lines = vec![Line::styled(
        format!(
            "{} {} {} {}{}",
            format::pad_left("#", 4),
            format::pad_right("job", what_w),
            format::pad_right("state", state_w),
            format::pad_right("progress", gauge_w),
            if rate_w > 0 {
                format!(" {}", format::pad_right("rate", rate_w))
            } else {
                String::new()
            }
        ),
        theme.header(),
    )];
    if let Some(state) = list_state(app, &app.jobs, "jobs", &empty, width) {
        lines.extend(state);
    } else {
        let rows = table_rows(app);
        let offset = list_offset(app.jobs_selected, rows);
        for (i, job) in app.jobs.items().iter().enumerate().skip(offset).take(rows) {
            let (bar, rate) = job_progress(job);
            let mut spans = vec![
                Span::styled(format::pad_left(&format!("#{}", job.id), 4), theme.dim()),
                Span::raw(" "),
                Span::raw(format::pad_right(
                    &format::truncate(&crate::jobs::describe(job), what_w),
                    what_w,
                )),
                Span::raw(" "),
                Span::styled(
                    format::pad_right(job.state.as_str(), state_w),
                    job_state_style(app, job.state),
                ),
                Span::raw(" "),
                Span::raw(format::pad_right(&bar, gauge_w)),
            ];
            if rate_w > 0 {
                spans.push(Span::styled(
                    format!(
                        " {}",
                        format::pad_right(&format::truncate(&rate, rate_w), rate_w)
                    ),
                    theme.dim(),
                ));
            }
            let line = Line::from(spans);
            lines.push(if i == app.jobs_selected {
                line.style(theme.selected(true))
            } else {
                line
            });
        }
    }
    frame.render_widget(Paragraph::new(lines), area);
    if let (Some(detail), Some(job)) = (areas.detail, app.selected_job()) {
        let block = Block::bordered()
            .border_style(theme.border(false))
            .title(Line::styled(format!(" job #{} ", job.id), theme.accent()));
        let inner = block.inner(detail);
        let w = usize::from(inner.width);
        let p = &job.progress;
        let mut text = vec![Line::from(vec![
            Span::styled(
                job.state.as_str().to_string(),
                job_state_style(app, job.state),
            ),
            Span::styled(
                format!(
                    " · {} of {} files · {} of {}",
                    p.files_done,
                    p.files_total,
                    format::bytes(p.bytes_done),
                    format::bytes(p.bytes_total)
                ),
                theme.dim(),
            ),
        ])];
        let (_, rate) = job_progress(job);
        if !rate.is_empty() {
            text.push(Line::raw(rate));
        }
        if let Some(error) = &job.error {
            let retry = app.keymap.key_for(Command::Refresh);
            for line in format::wrap(&format!("{error} ({retry} retries)"), w) {
                text.push(Line::styled(line, theme.error()));
            }
        } else if let Some(summary) = &job.summary {
            for line in format::wrap(summary, w) {
                text.push(Line::raw(line));
            }
        }
        for file in &p.active {
            text.push(Line::styled(
                format::truncate(
                    &format!(
                        "{} {}",
                        gauge(file.bytes_done, file.bytes_total, 8),
                        file.path
                    ),
                    w,
                ),
                theme.dim(),
            ));
        }
        frame.render_widget(Paragraph::new(text).block(block), detail);
    }
}

fn status_line(app: &App, width: u16) -> Line<'static> {
    let theme = app.theme;
    let mut left: Vec<Span<'static>> = vec![Span::raw(" ")];
    match (&app.connection, &app.status) {
        (Connection::Lost(_), _) => {
            left.push(Span::styled(
                "daemon unreachable — reconnecting",
                theme.error(),
            ));
        }
        (Connection::Starting(progress), _) => {
            left.push(Span::styled(format!("{} ", spinner(app)), theme.accent()));
            left.push(Span::styled(
                format!("daemon: {}", format::startup_step(progress, app.now)),
                theme.accent(),
            ));
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
    let right = match (&app.results, app.view) {
        (Results::Loaded(response), View::Search) => format!(
            "{} of {} · {} ",
            format::thousands(response.hits.len() as u64),
            format::thousands(response.total),
            format::millis(response.took_ms)
        ),
        _ => String::new(),
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
    let mut spans = vec![Span::raw(" ")];
    let mut used = 1;
    let hints = match &app.overlay {
        Some(Overlay::Download(_)) => vec![
            ("Tab".to_string(), "next field"),
            ("Enter".to_string(), "start"),
            ("Esc".to_string(), "cancel"),
        ],
        Some(Overlay::ConfirmDelete { .. }) => {
            vec![("y".to_string(), "delete"), ("n".to_string(), "keep")]
        }
        Some(Overlay::Combined(_)) => vec![("Esc".to_string(), "close")],
        _ => app.keymap.hints(app.mode()),
    };
    for (keys, words) in hints {
        let w = format::width(&keys) + 1 + format::width(words) + 2;
        if used + w > usize::from(width) {
            break;
        }
        used += w;
        spans.push(Span::styled(keys, theme.key()));
        spans.push(Span::styled(format!(" {words}  "), theme.dim()));
    }
    if app.mode() == Mode::Preview {
        let more = if app.preview.tab() == preview::Tab::Rows {
            "↑↓ scroll  ←→ columns  [ ] split"
        } else {
            "↑↓ scroll"
        };
        if used + format::width(more) < usize::from(width) {
            spans.push(Span::styled(more, theme.dim()));
        }
    }
    Line::from(spans)
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width.saturating_sub(2));
    let height = height.min(area.height.saturating_sub(2));
    Rect {
        x: area.x + (area.width.saturating_sub(width)) / 2,
        y: area.y + (area.height.saturating_sub(height)) / 2,
        width,
        height,
    }
}

fn render_dialog(app: &App, frame: &mut Frame, title: &str, text: &str, keys: &str) {
    let theme = app.theme;
    let area = centered(frame.area(), 60, 7);
    let block = Block::bordered()
        .border_style(theme.border(true))
        .title(Line::styled(title.to_string(), theme.accent()))
        .title_bottom(Line::styled(format!(" {keys} "), theme.dim()).right_aligned())
        .padding(Padding::horizontal(1));
    let inner = block.inner(area);
    let lines: Vec<Line> = format::wrap(text, usize::from(inner.width))
        .into_iter()
        .map(Line::raw)
        .collect();
    frame.render_widget(Clear, area);
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn render_form(app: &App, frame: &mut Frame, form: &super::app::DownloadForm) {
    let theme = app.theme;
    let area = centered(frame.area(), 64, 9);
    let block = Block::bordered()
        .border_style(theme.border(true))
        .title(Line::styled(
            format!(" download {} ", form.dataset),
            theme.accent(),
        ))
        .title_bottom(Line::styled(" Enter start · Esc cancel ", theme.dim()).right_aligned())
        .padding(Padding::horizontal(1));
    let inner = block.inner(area);
    let value_w = usize::from(inner.width).saturating_sub(12);
    let field = |i: usize, label: &str, value: String, hint: &str| -> Line<'static> {
        let active = form.field == i;
        let shown = if value.is_empty() && !active {
            Span::styled(format::truncate(hint, value_w), theme.dim())
        } else {
            let mut v = value;
            if active {
                v.push('▏');
            }
            Span::raw(format::truncate(&v, value_w))
        };
        let label_style = if active {
            theme.selected(true)
        } else {
            theme.dim()
        };
        Line::from(vec![
            Span::styled(format::pad_right(label, 10), label_style),
            Span::raw("  "),
            shown,
        ])
    };
    let lines = vec![
        field(0, "revision", form.revision.clone(), "main"),
        field(
            1,
            "include",
            form.include.clone(),
            "every file (globs: *.parquet data/*)",
        ),
        field(2, "exclude", form.exclude.clone(), "nothing"),
        field(
            3,
            "force",
            if form.force {
                "[x] fetch again"
            } else {
                "[ ] fetch again"
            }
            .to_string(),
            "",
        ),
        Line::raw(""),
        Line::styled(
            format::truncate(
                "Tab / ↑↓ move · Space toggles force",
                usize::from(inner.width),
            ),
            theme.dim(),
        ),
    ];
    frame.render_widget(Clear, area);
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn render_help(app: &App, frame: &mut Frame, area: Rect, scroll: usize) {
    let theme = app.theme;
    let listed = app.keymap.bindings();
    let keys_w = listed
        .iter()
        .map(|b| format::width(&b.keys_label()))
        .max()
        .unwrap_or(0)
        .min(22);
    let context_w = 9;
    let popup = centered(
        area,
        96,
        u16::try_from(listed.len() + 2).unwrap_or(u16::MAX),
    );
    let block = Block::bordered()
        .border_style(theme.border(true))
        .title(Line::styled(" keys ", theme.accent()))
        .title_bottom(
            Line::styled(
                " ↑↓ scroll · Esc close · [keys] in config.toml rebinds ",
                theme.dim(),
            )
            .right_aligned(),
        );
    let inner = block.inner(popup);
    let help_w = usize::from(inner.width).saturating_sub(keys_w + context_w + 3);
    let rows = usize::from(inner.height);
    let scroll = scroll.min(listed.len().saturating_sub(rows));
    let mut lines = Vec::new();
    for binding in listed.iter().skip(scroll).take(rows) {
        lines.push(Line::from(vec![
            Span::raw(" "),
            Span::styled(
                format::pad_right(&format::truncate(&binding.keys_label(), keys_w), keys_w + 1),
                theme.key(),
            ),
            Span::styled(
                format::pad_right(binding.context.label(), context_w),
                theme.dim(),
            ),
            Span::raw(format::truncate(
                &format!("{} ({})", binding.help, binding.name),
                help_w,
            )),
        ]));
    }
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::app::{Action, Effect, update};
    use crate::ui::keymap::Keymap;
    use crate::ui::preview::{PreviewAnswer, PreviewLoad, PreviewMsg};
    use crate::ui::testdata;
    use crate::ui::theme::Theme;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use hubdex_core::DatasetId;
    use hubdex_ipc::{
        Card, Change, Downloaded, JobParams, JobProgress, SearchResponse, SyncProgress, SyncWait,
        WaitReason,
    };
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::style::Color;
    use std::sync::Arc;

    /// Performs the preview's requests as the fake daemon would answer them: a card.
    fn answer(app: &mut App, effects: Vec<Effect>) {
        for effect in effects {
            if let Effect::Preview(request) = effect {
                let answer = match request.load {
                    PreviewLoad::Card(id) => Ok(PreviewAnswer::Card(Card {
                        dataset: id.to_string(),
                        commit: None,
                        markdown: format!("# {id}\n\nA dataset card with **bold** words.\n"),
                        fetched_at: testdata::now(),
                        stale: None,
                    })),
                    _ => Err("not in this test".to_string()),
                };
                let more = update(
                    app,
                    Action::Preview(PreviewMsg::Loaded {
                        request: request.id,
                        answer,
                    }),
                );
                answer_more(app, more);
            }
        }
    }

    fn answer_more(app: &mut App, effects: Vec<Effect>) {
        if effects.iter().any(|e| matches!(e, Effect::Preview(_))) {
            answer(app, effects);
        }
    }

    fn app_with(width: u16, height: u16, theme: Theme) -> App {
        let mut app = App::new(
            theme,
            Arc::new(Keymap::default()),
            (width, height),
            testdata::now(),
        );
        let effects = app.start();
        for effect in effects {
            if let Effect::Search(job) = effect {
                let hits = testdata::hits();
                let more = update(
                    &mut app,
                    Action::SearchDone {
                        job,
                        result: Ok(SearchResponse {
                            total: 48_997,
                            took_ms: 2.4,
                            facets: Some(testdata::facets(&hits)),
                            hits,
                        }),
                    },
                );
                answer(&mut app, more);
            }
        }
        update(&mut app, Action::StatusLoaded(testdata::status()));
        update(
            &mut app,
            Action::FollowsLoaded(Ok(vec![
                follow("openai/gsm8k", true),
                follow("glue", false),
            ])),
        );
        update(
            &mut app,
            Action::DownloadsLoaded(Ok(vec![Downloaded {
                dataset: DatasetId::new("allenai/c4").unwrap(),
                path: "/cache".into(),
                size_on_disk: 1_234_567_890,
                revisions: Vec::new(),
            }])),
        );
        update(&mut app, Action::JobsLoaded(Ok(jobs())));
        app
    }

    fn app(width: u16, height: u16) -> App {
        let mut app = app_with(width, height, Theme::dark());
        key(&mut app, KeyCode::Esc);
        app
    }

    fn follow(dataset: &str, changed: bool) -> hubdex_ipc::Follow {
        let changes = if changed {
            vec![
                Change {
                    what: hubdex_ipc::ChangeKind::Commit,
                    before: None,
                    after: None,
                },
                Change {
                    what: hubdex_ipc::ChangeKind::Downloads,
                    before: Some("1,204".into()),
                    after: Some("1,530".into()),
                },
            ]
        } else {
            Vec::new()
        };
        hubdex_ipc::Follow {
            dataset: dataset.into(),
            followed_at: testdata::now() - chrono::Duration::days(30),
            seen_at: testdata::now() - chrono::Duration::days(3),
            current: None,
            changes,
        }
    }

    fn jobs() -> Vec<hubdex_ipc::Job> {
        let base = |id, dataset: &str, state| hubdex_ipc::Job {
            id,
            params: JobParams::Download(hubdex_ipc::DownloadParams {
                dataset: DatasetId::new(dataset).unwrap(),
                revision: "main".into(),
                include: Vec::new(),
                exclude: Vec::new(),
                force: false,
            }),
            state,
            progress: JobProgress::default(),
            error: None,
            summary: None,
            commit: None,
            created_at: testdata::now(),
            started_at: None,
            finished_at: None,
        };
        let mut running = base(3, "allenai/c4", JobState::Running);
        running.progress = JobProgress {
            files_total: 4,
            files_done: 1,
            bytes_total: 800_000_000,
            bytes_done: 360_000_000,
            rate: 12_500_000.0,
            eta_secs: Some(35),
            active: vec![hubdex_ipc::FileProgress {
                path: "en/c4-train.00001-of-01024.json.gz".into(),
                bytes_done: 100_000_000,
                bytes_total: 319_000_000,
            }],
            ..JobProgress::default()
        };
        let mut failed = base(2, "glue", JobState::Failed);
        failed.error =
            Some("the Hub refused the download: gated dataset; request access on the Hub".into());
        let mut done = base(1, "openai/gsm8k", JobState::Succeeded);
        done.summary = Some("3 files, 4.2 MB fetched".into());
        vec![running, failed, done]
    }

    fn key(app: &mut App, code: KeyCode) {
        let effects = update(app, Action::Key(KeyEvent::new(code, KeyModifiers::NONE)));
        answer(app, effects);
    }

    /// Types `text` one key at a time.
    fn type_text(app: &mut App, text: &str) {
        for c in text.chars() {
            key(app, KeyCode::Char(c));
        }
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
        let app = App::new(
            Theme::dark(),
            Arc::new(Keymap::default()),
            (80, 24),
            testdata::now(),
        );
        let screen = text(&draw(&app));
        assert!(screen.contains("loading…"), "{screen}");
        insta::assert_snapshot!("loading_80x24", screen);
    }

    #[test]
    fn search_80x24() {
        let mut app = app(80, 24);
        key(&mut app, KeyCode::Down);
        let screen = text(&draw(&app));
        assert!(screen.contains("★"), "followed mark: {screen}");
        assert!(screen.contains("↓"), "downloaded mark: {screen}");
        assert!(screen.contains("task:"), "facet bar: {screen}");
        assert!(screen.contains("10 of 48,997"), "{screen}");
        insta::assert_snapshot!("search_80x24", screen);
    }

    #[test]
    fn sizes_the_card_does_not_declare_are_shown_as_estimates() {
        let mut app = app(80, 24);
        let Results::Loaded(response) = &mut app.results else {
            panic!("no results");
        };
        let declared = response.hits[0].id.to_string();
        response.hits[0].card_data =
            Some(serde_json::json!({"dataset_info": {"download_size": 2_100_000}}));
        let estimated = response.hits[1].id.to_string();
        assert!(response.hits[1].declared_size().is_none());
        let screen = text(&draw(&app));
        let row = |id: &str| {
            screen
                .lines()
                .find(|line| line.contains(id))
                .unwrap_or_else(|| panic!("{id} is not on screen: {screen}"))
                .to_string()
        };
        assert!(row(&declared).contains(" 2.1 MB"), "{screen}");
        assert!(!row(&declared).contains('≈'), "{screen}");
        assert!(row(&estimated).contains('≈'), "{screen}");
    }

    #[test]
    fn search_with_preview_160x48() {
        let mut app = app(160, 48);
        key(&mut app, KeyCode::Down);
        key(&mut app, KeyCode::Down);
        key(&mut app, KeyCode::Char(' '));
        let screen = text(&draw(&app));
        assert!(screen.contains("Card"), "the preview's tabs: {screen}");
        assert!(screen.contains("1 marked"), "{screen}");
        insta::assert_snapshot!("search_160x48", screen);
    }

    #[test]
    fn preview_below_results_80x24() {
        let mut app = app(80, 24);
        for _ in 0..4 {
            key(&mut app, KeyCode::Down);
        }
        key(&mut app, KeyCode::Enter);
        let screen = text(&draw(&app));
        assert!(screen.contains("Card"), "{screen}");
        insta::assert_snapshot!("preview_80x24", screen);
    }

    #[test]
    fn follows_view_80x24_and_160x48() {
        for (w, h) in [(80, 24), (160, 48)] {
            let mut app = app(w, h);
            key(&mut app, KeyCode::Char('F'));
            let screen = text(&draw(&app));
            assert!(
                screen.contains("new commits · downloads 1,204 → 1,530"),
                "{screen}"
            );
            insta::assert_snapshot!(format!("follows_{w}x{h}"), screen);
        }
    }

    #[test]
    fn jobs_view_80x24_and_160x48() {
        for (w, h) in [(80, 24), (160, 48)] {
            let mut app = app(w, h);
            key(&mut app, KeyCode::Char('J'));
            key(&mut app, KeyCode::Down);
            let screen = text(&draw(&app));
            assert!(screen.contains("45%"), "{screen}");
            assert!(
                screen.contains("gated dataset"),
                "the failed job's error: {screen}"
            );
            insta::assert_snapshot!(format!("jobs_{w}x{h}"), screen);
        }
    }

    #[test]
    fn help_overlay_80x24_lists_the_keymap() {
        let mut app = app(80, 24);
        key(&mut app, KeyCode::Char('?'));
        let screen = text(&draw(&app));
        assert!(
            screen.contains("search: focus the search box (search)"),
            "{screen}"
        );
        insta::assert_snapshot!("help_80x24", screen);
        // Scrolling reaches the last binding.
        for _ in 0..100 {
            key(&mut app, KeyCode::Down);
        }
        let screen = text(&draw(&app));
        let last = app.keymap.bindings().last().unwrap();
        assert!(screen.contains(last.help), "{screen}");
    }

    #[test]
    fn help_160x48() {
        let mut app = app(160, 48);
        key(&mut app, KeyCode::Char('?'));
        let first = text(&draw(&app));
        insta::assert_snapshot!("help_160x48", first);
        let mut seen = first;
        for _ in 0..app.keymap.bindings().len() {
            key(&mut app, KeyCode::Down);
            seen.push_str(&text(&draw(&app)));
        }
        for binding in app.keymap.bindings() {
            assert!(seen.contains(binding.help), "help lacks {}", binding.help);
        }
    }

    #[test]
    fn download_form_and_delete_confirmation_80x24() {
        let mut app = app(80, 24);
        key(&mut app, KeyCode::Char('d'));
        let screen = text(&draw(&app));
        assert!(screen.contains("download Salesforce/wikitext"), "{screen}");
        insta::assert_snapshot!("download_form_80x24", screen);
        key(&mut app, KeyCode::Esc);
        let c4 = app
            .hits()
            .iter()
            .position(|d| d.id.as_str() == "allenai/c4")
            .unwrap();
        for _ in 0..c4 {
            key(&mut app, KeyCode::Down);
        }
        key(&mut app, KeyCode::Char('x'));
        let screen = text(&draw(&app));
        assert!(screen.contains("freeing 1.2 GB"), "{screen}");
        insta::assert_snapshot!("confirm_delete_80x24", screen);
    }

    #[test]
    fn combined_impact_overlay_80x24() {
        let mut app = app(80, 24);
        key(&mut app, KeyCode::Char(' '));
        key(&mut app, KeyCode::Char(' '));
        key(&mut app, KeyCode::Char('c'));
        let screen = text(&draw(&app));
        assert!(screen.contains("combined impact of 2 datasets"), "{screen}");
        insta::assert_snapshot!("combined_80x24", screen);
    }

    #[test]
    fn a_query_mistake_is_underlined_where_it_is() {
        let mut app = app(80, 24);
        key(&mut app, KeyCode::Char('/'));
        type_text(&mut app, "gsm lisense:mit");
        let terminal = draw(&app);
        let screen = text(&terminal);
        assert!(screen.contains("did you mean \"license\""), "{screen}");
        let buffer = terminal.backend().buffer();
        let search_y = layout(&app, app.screen()).search.y;
        let underlined: String = (0..80)
            .filter(|x| {
                buffer[(*x, search_y)]
                    .modifier
                    .contains(Modifier::UNDERLINED)
            })
            .map(|x| buffer[(x, search_y)].symbol().to_string())
            .collect();
        assert_eq!(underlined, "lisense");
        assert!(screen.contains(" / gsm lisense:mit"), "{screen}");
        insta::assert_snapshot!("query_mistake_80x24", screen);
    }

    #[test]
    fn daemon_lost_and_syncing_status_lines() {
        let mut app = app(80, 24);
        update(&mut app, Action::DaemonLost("connection refused".into()));
        let screen = text(&draw(&app));
        assert!(
            screen.contains("daemon unreachable — reconnecting"),
            "{screen}"
        );
        // A daemon restarting after an upgrade says what takes it so long, whole at 80 columns.
        let rebuilding = hubdex_ipc::StartupProgress {
            step: hubdex_ipc::StartupStep::RebuildingIndex {
                read: 630_000,
                of: 1_500_000,
            },
            since: testdata::now(),
        };
        update(&mut app, Action::DaemonStarting(rebuilding));
        let screen = text(&draw(&app));
        assert!(
            screen.contains("daemon: rebuilding the index, 42% of 1,500,000 records"),
            "{screen}"
        );
        update(&mut app, Action::DaemonBack);
        let mut status = testdata::status();
        status.syncing = Some(SyncProgress {
            started_at: testdata::now(),
            pages: 12,
            records: 12_000,
            ..SyncProgress::default()
        });
        update(&mut app, Action::StatusLoaded(status.clone()));
        let screen = text(&draw(&app));
        assert!(screen.contains("syncing 12,000 records"), "{screen}");
        // At 80 columns the wait fits whole beside the result count.
        if let Some(progress) = status.syncing.as_mut() {
            progress.waiting = Some(SyncWait {
                reason: WaitReason::RateLimit,
                until: testdata::now() + chrono::TimeDelta::seconds(245),
                seconds: 245,
                message: "waiting for the Hub's rate limit, 245 s".into(),
            });
        }
        update(&mut app, Action::StatusLoaded(status));
        let screen = text(&draw(&app));
        assert!(
            screen.contains("sync paused 4m05s: Hub rate limit"),
            "{screen}"
        );
        insta::assert_snapshot!("syncing_80x24", screen);
    }

    #[test]
    fn offline_status_and_typed_query_80x24() {
        let mut app = app(80, 24);
        let mut status = testdata::status();
        status.offline = Some("cannot reach https://huggingface.co: connection refused".into());
        update(&mut app, Action::StatusLoaded(status));
        key(&mut app, KeyCode::Char('/'));
        type_text(&mut app, "text generation");
        let screen = text(&draw(&app));
        assert!(screen.contains("offline: cannot reach"), "{screen}");
        assert!(screen.contains(" / text generation"), "{screen}");
        insta::assert_snapshot!("offline_query_80x24", screen);
    }

    #[test]
    fn the_header_shows_the_sort_typed_in_the_query() {
        let mut app = app(80, 24);
        key(&mut app, KeyCode::Char('/'));
        type_text(&mut app, "gsm sort:likes-asc");
        let screen = text(&draw(&app));
        let header = screen.lines().find(|line| line.contains(" / gsm")).unwrap();
        assert!(header.contains("sort likes ↑ "), "{header:?}");
    }

    #[test]
    fn cjk_ids_are_cut_by_width() {
        let mut app = app(80, 24);
        if let Results::Loaded(response) = &mut app.results {
            // No real Hub id has CJK characters; this renames a real record to see that
            // double-width ids are cut at a cell boundary and the columns stay aligned.
            response.hits[1].id =
                DatasetId::new("中文医疗/中文医疗对话数据集和预训练百科数据以及奖励模型数据集合")
                    .unwrap();
        }
        let screen = text(&draw(&app));
        let row = screen.lines().find(|l| l.contains("中文医疗/")).unwrap();
        assert!(row.contains('…'), "{row}");
        let header = screen.lines().find(|l| l.contains("downloads")).unwrap();
        let end = |l: &str, s: &str| l.find(s).map(|i| format::width(&l[..i]) + format::width(s));
        assert_eq!(end(header, "downloads"), end(row, "1.1M"), "{screen}");
        insta::assert_snapshot!("cjk_80x24", screen);
    }

    fn assert_no_colours(terminal: &Terminal<TestBackend>) {
        for cell in terminal.backend().buffer().content() {
            assert_eq!(cell.fg, Color::Reset, "{cell:?}");
            assert_eq!(cell.bg, Color::Reset, "{cell:?}");
        }
    }

    #[test]
    fn no_color_uses_no_colours_but_still_marks_the_selection_in_every_view() {
        for (w, h) in [(80, 24), (160, 48)] {
            let mut app = app_with(w, h, Theme::plain());
            key(&mut app, KeyCode::Esc);
            let terminal = draw(&app);
            assert_no_colours(&terminal);
            let buffer = terminal.backend().buffer();
            let table = layout(&app, app.screen()).table;
            let selected_row = table.y + 1;
            assert!(
                (0..w).any(|x| buffer[(x, selected_row)]
                    .modifier
                    .contains(Modifier::REVERSED)),
                "the selection is not marked"
            );
            insta::assert_snapshot!(format!("no_color_search_{w}x{h}"), text(&terminal));
            for view_key in ['F', 'J', '?'] {
                key(&mut app, KeyCode::Char(view_key));
                assert_no_colours(&draw(&app));
            }
        }
        let app = app_with(80, 24, Theme::plain());
        insta::assert_debug_snapshot!("no_color_80x24_styles", draw(&app).backend().buffer());
    }

    #[test]
    fn the_light_theme_differs_from_the_dark_one() {
        let dark = draw(&app_with(80, 24, Theme::dark()));
        let light = draw(&app_with(80, 24, Theme::light()));
        assert!(
            dark.backend()
                .buffer()
                .content()
                .iter()
                .any(|c| c.bg == Color::Blue)
        );
        assert!(
            light
                .backend()
                .buffer()
                .content()
                .iter()
                .any(|c| c.bg == Color::LightBlue)
        );
        assert_eq!(text(&dark), text(&light), "only the colours change");
        insta::assert_debug_snapshot!("color_80x24_styles", dark.backend().buffer());
    }

    #[test]
    fn layout_fits_tiny_terminals_and_nothing_overlaps_at_80x24() {
        for (w, h) in [
            (1, 1),
            (10, 3),
            (20, 5),
            (40, 10),
            (80, 24),
            (119, 30),
            (120, 30),
        ] {
            let mut app = app(w, h);
            key(&mut app, KeyCode::Enter);
            draw(&app);
            for view_key in ['F', 'J', '?'] {
                key(&mut app, KeyCode::Char(view_key));
                draw(&app);
            }
        }
        for focused_preview in [false, true] {
            let mut app = app(80, 24);
            if focused_preview {
                key(&mut app, KeyCode::Enter);
            }
            let a = layout(&app, app.screen());
            let mut rects = vec![a.tabs, a.search, a.facets, a.table, a.status, a.footer];
            rects.extend(a.preview_frame);
            for (i, r) in rects.iter().enumerate() {
                assert!(r.bottom() <= 24 && r.right() <= 80, "{r:?}");
                for s in &rects[i + 1..] {
                    assert!(!r.intersects(*s), "{r:?} overlaps {s:?}");
                }
            }
            assert_eq!(
                a.preview.is_some(),
                focused_preview,
                "the preview is a toggle"
            );
        }
    }

    #[test]
    fn the_cursor_follows_the_query() {
        let mut app = app_with(80, 24, Theme::dark());
        type_text(&mut app, "gsm8k");
        key(&mut app, KeyCode::Left);
        let mut terminal = draw(&app);
        let position = terminal.get_cursor_position().unwrap();
        let search = layout(&app, app.screen()).search;
        assert_eq!((position.x, position.y), (3 + 4, search.y));
    }

    #[test]
    fn gauges_and_sizes_read_well() {
        assert_eq!(gauge(50, 100, 10), "█████░░░░░");
        assert_eq!(gauge(0, 0, 4), "░░░░");
        assert_eq!(gauge(200, 100, 4), "████");
        assert_eq!(format::bytes(999), "999 B");
        assert_eq!(format::bytes(1_234_567_890), "1.2 GB");
        assert_eq!(format::short_span(3725), "1h02m");
    }
}
