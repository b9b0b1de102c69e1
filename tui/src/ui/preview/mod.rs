//! The Preview pane of the selected dataset: tabs Card, Files, Commits, Rows and Impact, and
//! the combined impact of several marked datasets.
//!
//! A self-contained component in the app's Elm shape. The app owns one [`Preview`], feeds it
//! [`PreviewMsg`]s through [`Preview::update`], performs the [`PreviewRequest`]s it returns
//! (one RPC each) and feeds the answers back as [`PreviewMsg::Loaded`] with the request's id.
//! A tab's data is asked for only when the tab is first shown, and kept per dataset, so going
//! back to a dataset shows what was already loaded. Answers to requests the preview no longer
//! waits for (another dataset, a newer retry) are dropped.

mod card;
mod commits;
mod files;
mod impact;
mod markdown;
mod rows;
#[cfg(test)]
mod tests;
mod text;

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use hubdex_core::{Dataset, DatasetId};
use hubdex_ipc::{Card, CommitList, FileList, Rows, RowsRequest, SplitRef};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::theme::Theme;
use crate::format;

pub use impact::render_combined;

/// Rows asked for in the Rows tab.
pub const ROWS_LIMIT: usize = 50;
/// Datasets whose loaded tabs are kept, most recently shown first.
const CACHED_DATASETS: usize = 16;

/// The tabs of the pane, in the order they are shown and numbered (1–5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// The README rendered, after the card's metadata as properties.
    Card,
    /// The files of `main`, with sizes and what is downloaded.
    Files,
    /// The commit history of `main`.
    Commits,
    /// The first rows of a split.
    Rows,
    /// Size, popularity, licence and gating.
    Impact,
}

impl Tab {
    /// Every tab, in order.
    pub const ALL: [Tab; 5] = [Tab::Card, Tab::Files, Tab::Commits, Tab::Rows, Tab::Impact];

    /// The tab's name in the tab bar.
    pub fn label(self) -> &'static str {
        match self {
            Tab::Card => "Card",
            Tab::Files => "Files",
            Tab::Commits => "Commits",
            Tab::Rows => "Rows",
            Tab::Impact => "Impact",
        }
    }

    /// The tab with this number (1 is Card … 5 is Impact), as typed on the keyboard.
    pub fn from_number(n: u32) -> Option<Tab> {
        let index = usize::try_from(n.checked_sub(1)?).ok()?;
        Tab::ALL.get(index).copied()
    }

    fn index(self) -> usize {
        self as usize
    }

    fn next(self) -> Tab {
        Tab::ALL[(self.index() + 1) % Tab::ALL.len()]
    }

    fn prev(self) -> Tab {
        Tab::ALL[(self.index() + Tab::ALL.len() - 1) % Tab::ALL.len()]
    }
}

/// Where a tab's data is: not asked for yet, on its way, here, or failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Load<T> {
    /// Not asked for: the tab was never shown for this dataset.
    NotAsked,
    /// Asked for at this time; the answer is on its way.
    Loading(DateTime<Utc>),
    /// Here.
    Loaded(T),
    /// The daemon said it failed, and why.
    Failed(String),
}

impl<T> Load<T> {
    fn is_loading(&self) -> bool {
        matches!(self, Load::Loading(_))
    }
}

/// What the preview asks the client task to fetch (one RPC each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreviewLoad {
    /// `card(id)`.
    Card(DatasetId),
    /// `files(id, revision)`; `None` is `main`.
    Files(DatasetId, Option<String>),
    /// `commits(id, revision)`; `None` is `main`.
    Commits(DatasetId, Option<String>),
    /// `rows(request)`.
    Rows(RowsRequest),
}

/// A numbered [`PreviewLoad`]: send its answer back with the same `id` in
/// [`PreviewMsg::Loaded`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewRequest {
    /// Unique per preview; tells a current answer from a stale one.
    pub id: u64,
    /// What to fetch.
    pub load: PreviewLoad,
}

/// An answer of the daemon to a [`PreviewLoad`].
#[derive(Debug, Clone, PartialEq)]
pub enum PreviewAnswer {
    /// To [`PreviewLoad::Card`].
    Card(Card),
    /// To [`PreviewLoad::Files`].
    Files(FileList),
    /// To [`PreviewLoad::Commits`].
    Commits(CommitList),
    /// To [`PreviewLoad::Rows`].
    Rows(Rows),
}

/// Everything that changes the preview.
#[derive(Debug, Clone, PartialEq)]
pub enum PreviewMsg {
    /// Show this dataset (the selection moved, or its full record with `cardData` arrived:
    /// the same id keeps the tabs and scroll, and only replaces the record).
    Show(Dataset),
    /// Show nothing (no dataset is selected).
    Clear,
    /// The next tab, wrapping around.
    NextTab,
    /// The previous tab, wrapping around.
    PrevTab,
    /// This tab (a number key or a click on the tab bar).
    Select(Tab),
    /// Scroll the active tab down this many lines.
    Down(usize),
    /// Scroll the active tab up this many lines.
    Up(usize),
    /// Scroll the active tab to its top.
    Top,
    /// Scroll the active tab to its end.
    Bottom,
    /// Rows tab: show the columns one further left.
    Left,
    /// Rows tab: show the columns one further right.
    Right,
    /// Rows tab: the next config/split the source knows of.
    NextSplit,
    /// Rows tab: the previous config/split.
    PrevSplit,
    /// Ask again for the active tab's data (after a failure, or to refresh it).
    Retry,
    /// The daemon answered request `request`.
    Loaded {
        /// The [`PreviewRequest::id`] it answers.
        request: u64,
        /// The data, or the error message.
        answer: Result<PreviewAnswer, String>,
    },
}

/// A loaded card with its markdown parsed once.
#[derive(Debug, Clone)]
struct CardView {
    card: Card,
    doc: markdown::Doc,
}

/// Tabs that load something, as indexes into [`Entry::pending`].
const LOADING_TABS: [Tab; 4] = [Tab::Card, Tab::Files, Tab::Commits, Tab::Rows];

/// What the preview knows of one dataset.
#[derive(Debug, Clone)]
struct Entry {
    dataset: Dataset,
    card: Load<CardView>,
    files: Load<FileList>,
    commits: Load<CommitList>,
    rows: Load<Rows>,
    /// The config/split asked for; `None` lets the daemon pick.
    split: Option<SplitRef>,
    /// Every config/split the last rows answer listed.
    splits: Vec<SplitRef>,
    /// First line shown, per tab.
    scroll: [usize; 5],
    /// First column shown in the Rows tab.
    column: usize,
    /// The request each loading tab waits for, per tab of [`LOADING_TABS`].
    pending: [Option<u64>; 4],
}

impl Entry {
    fn new(dataset: Dataset) -> Entry {
        Entry {
            dataset,
            card: Load::NotAsked,
            files: Load::NotAsked,
            commits: Load::NotAsked,
            rows: Load::NotAsked,
            split: None,
            splits: Vec::new(),
            scroll: [0; 5],
            column: 0,
            pending: [None; 4],
        }
    }

    fn state(&self, tab: Tab) -> Option<(bool, bool)> {
        let (not_asked, loading) = match tab {
            Tab::Card => (matches!(self.card, Load::NotAsked), self.card.is_loading()),
            Tab::Files => (
                matches!(self.files, Load::NotAsked),
                self.files.is_loading(),
            ),
            Tab::Commits => (
                matches!(self.commits, Load::NotAsked),
                self.commits.is_loading(),
            ),
            Tab::Rows => (matches!(self.rows, Load::NotAsked), self.rows.is_loading()),
            Tab::Impact => return None,
        };
        Some((not_asked, loading))
    }

    /// Forgets requests on their way, so their answers are dropped and the tabs load again
    /// when shown next.
    fn abandon(&mut self) {
        if self.card.is_loading() {
            self.card = Load::NotAsked;
        }
        if self.files.is_loading() {
            self.files = Load::NotAsked;
        }
        if self.commits.is_loading() {
            self.commits = Load::NotAsked;
        }
        if self.rows.is_loading() {
            self.rows = Load::NotAsked;
        }
        self.pending = [None; 4];
    }
}

/// The Preview pane's state. Create one with [`Preview::default`].
#[derive(Debug, Clone, Default)]
pub struct Preview {
    /// The datasets recently shown, the one shown (or last shown) first.
    entries: VecDeque<Entry>,
    /// False after [`PreviewMsg::Clear`] until the next [`PreviewMsg::Show`].
    shown: bool,
    tab: TabState,
    next_request: u64,
}

/// The active tab (a newtype so [`Preview`] can derive `Default`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TabState(Tab);

impl Default for TabState {
    fn default() -> Self {
        TabState(Tab::Card)
    }
}

/// What a tab shows: lines that stay on top, then lines that scroll.
struct Body {
    fixed: Vec<Line<'static>>,
    lines: Vec<Line<'static>>,
}

impl Preview {
    /// The dataset shown, if any.
    pub fn dataset(&self) -> Option<&Dataset> {
        self.current().map(|e| &e.dataset)
    }

    /// The active tab.
    pub fn tab(&self) -> Tab {
        self.tab.0
    }

    /// True while the active tab waits for the daemon.
    pub fn loading(&self) -> bool {
        self.current()
            .and_then(|e| e.state(self.tab.0))
            .is_some_and(|(_, loading)| loading)
    }

    fn current(&self) -> Option<&Entry> {
        self.entries.front().filter(|_| self.shown)
    }

    fn current_mut(&mut self) -> Option<&mut Entry> {
        self.entries.front_mut().filter(|_| self.shown)
    }

    /// Applies `msg` at time `now`. `area` is where the pane is drawn (the rectangle given
    /// to [`Preview::render`]); scrolling stops where the last line reaches its bottom.
    /// Returns what to fetch: perform each and answer with [`PreviewMsg::Loaded`].
    pub fn update(
        &mut self,
        msg: PreviewMsg,
        now: DateTime<Utc>,
        area: Rect,
    ) -> Vec<PreviewRequest> {
        match msg {
            PreviewMsg::Show(dataset) => {
                self.show(dataset);
                return self.load_active(now, false);
            }
            PreviewMsg::Clear => {
                if let Some(entry) = self.current_mut() {
                    entry.abandon();
                }
                self.shown = false;
            }
            PreviewMsg::NextTab => return self.select(self.tab.0.next(), now),
            PreviewMsg::PrevTab => return self.select(self.tab.0.prev(), now),
            PreviewMsg::Select(tab) => return self.select(tab, now),
            PreviewMsg::Down(n) => self.scroll_to(area, |s| s.saturating_add(n)),
            PreviewMsg::Up(n) => self.scroll_to(area, |s| s.saturating_sub(n)),
            PreviewMsg::Top => self.scroll_to(area, |_| 0),
            PreviewMsg::Bottom => self.scroll_to(area, |_| usize::MAX),
            PreviewMsg::Left => {
                if let Some(entry) = self.current_mut() {
                    entry.column = entry.column.saturating_sub(1);
                }
            }
            PreviewMsg::Right => {
                if let Some(entry) = self.current_mut()
                    && let Load::Loaded(rows) = &entry.rows
                {
                    let last = rows.columns.len().saturating_sub(1);
                    entry.column = (entry.column + 1).min(last);
                }
            }
            PreviewMsg::NextSplit => return self.switch_split(true, now),
            PreviewMsg::PrevSplit => return self.switch_split(false, now),
            PreviewMsg::Retry => return self.load_active(now, true),
            PreviewMsg::Loaded { request, answer } => self.loaded(request, answer),
        }
        Vec::new()
    }

    /// Makes `dataset` the one shown, from the cache when it was shown before.
    fn show(&mut self, dataset: Dataset) {
        let same = self
            .entries
            .front()
            .is_some_and(|e| e.dataset.id == dataset.id);
        if !same {
            if let Some(entry) = self.current_mut() {
                entry.abandon();
            }
            match self.entries.iter().position(|e| e.dataset.id == dataset.id) {
                Some(i) => {
                    if let Some(entry) = self.entries.remove(i) {
                        self.entries.push_front(entry);
                    }
                }
                None => {
                    self.entries.push_front(Entry::new(dataset.clone()));
                    self.entries.truncate(CACHED_DATASETS);
                }
            }
        }
        if let Some(entry) = self.entries.front_mut() {
            // A full record (with `cardData`) replaces a search hit, never the other way.
            if dataset.card_data.is_some() || entry.dataset.card_data.is_none() {
                entry.dataset = dataset;
            }
        }
        self.shown = true;
    }

    fn select(&mut self, tab: Tab, now: DateTime<Utc>) -> Vec<PreviewRequest> {
        self.tab = TabState(tab);
        self.load_active(now, false)
    }

    /// Asks for the active tab's data when it was never asked for (or, with `again`, when it
    /// is not already on its way).
    fn load_active(&mut self, now: DateTime<Utc>, again: bool) -> Vec<PreviewRequest> {
        let tab = self.tab.0;
        let Some(entry) = self.current() else {
            return Vec::new();
        };
        let Some((not_asked, loading)) = entry.state(tab) else {
            return Vec::new();
        };
        if loading || !(not_asked || again) {
            return Vec::new();
        }
        self.request(tab, now).into_iter().collect()
    }

    /// Marks `tab` of the current dataset as loading and returns the request for it.
    fn request(&mut self, tab: Tab, now: DateTime<Utc>) -> Option<PreviewRequest> {
        self.next_request += 1;
        let id = self.next_request;
        let entry = self.entries.front_mut().filter(|_| self.shown)?;
        let dataset = entry.dataset.id.clone();
        let load = match tab {
            Tab::Card => {
                entry.card = Load::Loading(now);
                PreviewLoad::Card(dataset)
            }
            Tab::Files => {
                entry.files = Load::Loading(now);
                PreviewLoad::Files(dataset, None)
            }
            Tab::Commits => {
                entry.commits = Load::Loading(now);
                PreviewLoad::Commits(dataset, None)
            }
            Tab::Rows => {
                entry.rows = Load::Loading(now);
                PreviewLoad::Rows(RowsRequest {
                    dataset: dataset.as_str().to_string(),
                    config: entry.split.as_ref().map(|s| s.config.clone()),
                    split: entry.split.as_ref().map(|s| s.split.clone()),
                    limit: ROWS_LIMIT,
                })
            }
            Tab::Impact => return None,
        };
        let slot = LOADING_TABS.iter().position(|t| *t == tab)?;
        entry.pending[slot] = Some(id);
        Some(PreviewRequest { id, load })
    }

    fn switch_split(&mut self, forward: bool, now: DateTime<Utc>) -> Vec<PreviewRequest> {
        let Some(entry) = self.current_mut() else {
            return Vec::new();
        };
        if entry.rows.is_loading() || entry.splits.len() < 2 {
            return Vec::new();
        }
        let current = match &entry.rows {
            Load::Loaded(rows) => entry
                .splits
                .iter()
                .position(|s| s.config == rows.config && s.split == rows.split),
            _ => entry
                .split
                .as_ref()
                .and_then(|want| entry.splits.iter().position(|s| s == want)),
        };
        let n = entry.splits.len();
        let next = match (current, forward) {
            (Some(i), true) => (i + 1) % n,
            (Some(i), false) => (i + n - 1) % n,
            (None, _) => 0,
        };
        entry.split = entry.splits.get(next).cloned();
        entry.column = 0;
        entry.scroll[Tab::Rows.index()] = 0;
        self.request(Tab::Rows, now).into_iter().collect()
    }

    /// Files an answer where it was asked for; drops it when nothing waits for it.
    fn loaded(&mut self, request: u64, answer: Result<PreviewAnswer, String>) {
        let Some(entry) = self.current_mut() else {
            return;
        };
        let Some(slot) = entry.pending.iter().position(|p| *p == Some(request)) else {
            return;
        };
        entry.pending[slot] = None;
        let tab = LOADING_TABS[slot];
        match (tab, answer) {
            (Tab::Card, Ok(PreviewAnswer::Card(card))) => {
                let doc = markdown::Doc::parse(&card.markdown);
                entry.card = Load::Loaded(CardView { card, doc });
            }
            (Tab::Files, Ok(PreviewAnswer::Files(files))) => entry.files = Load::Loaded(files),
            (Tab::Commits, Ok(PreviewAnswer::Commits(commits))) => {
                entry.commits = Load::Loaded(commits);
            }
            (Tab::Rows, Ok(PreviewAnswer::Rows(rows))) => {
                if !rows.splits.is_empty() {
                    entry.splits = rows.splits.clone();
                }
                entry.column = entry.column.min(rows.columns.len().saturating_sub(1));
                entry.rows = Load::Loaded(rows);
            }
            (tab, answer) => {
                let message = match answer {
                    Err(message) => message,
                    Ok(_) => "the daemon answered with something else; press r to retry".into(),
                };
                match tab {
                    Tab::Card => entry.card = Load::Failed(message),
                    Tab::Files => entry.files = Load::Failed(message),
                    Tab::Commits => entry.commits = Load::Failed(message),
                    Tab::Rows => entry.rows = Load::Failed(message),
                    Tab::Impact => {}
                }
            }
        }
    }

    fn scroll_to(&mut self, area: Rect, to: impl FnOnce(usize) -> usize) {
        let tab = self.tab.0;
        let max = self.max_scroll(area);
        if let Some(entry) = self.current_mut() {
            let scroll = &mut entry.scroll[tab.index()];
            *scroll = to((*scroll).min(max)).min(max);
        }
    }

    /// How far the active tab scrolls in `area` before its last line reaches the bottom.
    fn max_scroll(&self, area: Rect) -> usize {
        let Some(entry) = self.current() else {
            return 0;
        };
        let body_area = body_area(area);
        // Line counts do not depend on colours or the clock.
        let body = self.body(entry, body_area, Theme::plain(), DateTime::UNIX_EPOCH);
        let height = usize::from(body_area.height).saturating_sub(body.fixed.len());
        body.lines.len().saturating_sub(height)
    }

    /// Where each tab's label is in the tab bar of a pane drawn in `area`, for mouse clicks.
    pub fn tab_rects(&self, area: Rect) -> Vec<(Tab, Rect)> {
        let mut x = area.x;
        let mut out = Vec::new();
        for (tab, label) in tab_labels(self.tab.0, area.width) {
            let w = u16::try_from(format::width(&label)).unwrap_or(u16::MAX);
            let w = w.min(area.right().saturating_sub(x));
            if w == 0 || area.height == 0 {
                break;
            }
            out.push((tab, Rect::new(x, area.y, w, 1)));
            x = x.saturating_add(w).saturating_add(1);
        }
        out
    }

    /// The tab whose label is at (`column`, `row`) in a pane drawn in `area`: where a mouse
    /// click lands.
    pub fn tab_at(&self, area: Rect, column: u16, row: u16) -> Option<Tab> {
        self.tab_rects(area)
            .into_iter()
            .find(|(_, r)| r.y == row && column >= r.x && column < r.right())
            .map(|(tab, _)| tab)
    }

    /// Draws the pane in `area`: the tab bar on the first line, the active tab under it.
    /// `now` drives the spinner and "3 days ago".
    pub fn render(&self, frame: &mut Frame, area: Rect, theme: Theme, now: DateTime<Utc>) {
        if area.width == 0 || area.height == 0 {
            return;
        }
        let mut bar = Vec::new();
        for (i, (tab, label)) in tab_labels(self.tab.0, area.width).into_iter().enumerate() {
            if i > 0 {
                bar.push(Span::styled("│", theme.dim()));
            }
            let style = if tab == self.tab.0 {
                theme.selected(true)
            } else {
                theme.dim()
            };
            bar.push(Span::styled(label, style));
        }
        let bar = text::fit(bar, usize::from(area.width));
        let bar_w: usize = bar.iter().map(|s| format::width(&s.content)).sum();
        frame.render_widget(Paragraph::new(Line::from(bar)), Rect { height: 1, ..area });
        let inner = body_area(area);
        if inner.height == 0 {
            return;
        }
        let Some(entry) = self.current() else {
            let line = Line::styled(
                format::truncate("select a dataset to preview it", usize::from(inner.width)),
                theme.dim(),
            );
            frame.render_widget(Paragraph::new(line), inner);
            return;
        };
        let body = self.body(entry, inner, theme, now);
        let height = usize::from(inner.height);
        let fixed: Vec<Line> = body.fixed.into_iter().take(height).collect();
        let room = height - fixed.len();
        let max_scroll = body.lines.len().saturating_sub(room);
        let scroll = entry.scroll[self.tab.0.index()].min(max_scroll);
        let mut lines = fixed;
        lines.extend(body.lines.into_iter().skip(scroll).take(room));
        frame.render_widget(Paragraph::new(lines), inner);
        if max_scroll > 0 {
            // Where the scroll is, right of the tabs when there is room for it.
            let mark = format!(" {}/{} ", scroll + 1, max_scroll + 1);
            let w = u16::try_from(format::width(&mark)).unwrap_or(u16::MAX);
            if bar_w + usize::from(w) < usize::from(area.width) {
                let at = Rect::new(area.right() - w, area.y, w, 1);
                frame.render_widget(Paragraph::new(Span::styled(mark, theme.dim())), at);
            }
        }
    }

    /// The active tab's lines for a body of `area`'s width.
    fn body(&self, entry: &Entry, area: Rect, theme: Theme, now: DateTime<Utc>) -> Body {
        let width = usize::from(area.width);
        let scrolled = |lines| Body {
            fixed: Vec::new(),
            lines,
        };
        match self.tab.0 {
            Tab::Card => match &entry.card {
                Load::Loaded(view) => {
                    card::body(&entry.dataset, &view.card, &view.doc, width, theme)
                }
                other => scrolled(state_lines(other, "card", width, theme, now)),
            },
            Tab::Files => match &entry.files {
                Load::Loaded(files) => files::body(files, width, theme, now),
                other => scrolled(state_lines(other, "files", width, theme, now)),
            },
            Tab::Commits => match &entry.commits {
                Load::Loaded(commits) => commits::body(commits, width, theme, now),
                other => scrolled(state_lines(other, "commits", width, theme, now)),
            },
            Tab::Rows => match &entry.rows {
                Load::Loaded(rows) => rows::body(rows, &entry.splits, entry.column, width, theme),
                other => scrolled(state_lines(other, "rows", width, theme, now)),
            },
            Tab::Impact => scrolled(impact::lines(&entry.dataset, width, theme, now)),
        }
    }
}

/// The body of a pane drawn in `area`: all but the tab bar.
fn body_area(area: Rect) -> Rect {
    Rect {
        y: area.y.saturating_add(1),
        height: area.height.saturating_sub(1),
        ..area
    }
}

/// The tab bar's labels for `width` cells: numbered when they fit, else the active tab's
/// name and the others' numbers.
fn tab_labels(active: Tab, width: u16) -> Vec<(Tab, String)> {
    let full: Vec<(Tab, String)> = Tab::ALL
        .iter()
        .map(|t| (*t, format!(" {} {} ", t.index() + 1, t.label())))
        .collect();
    let total = |labels: &[(Tab, String)]| {
        labels.iter().map(|(_, l)| format::width(l)).sum::<usize>() + labels.len() - 1
    };
    if total(&full) <= usize::from(width) {
        return full;
    }
    let named: Vec<(Tab, String)> = Tab::ALL
        .iter()
        .map(|t| (*t, format!(" {} ", t.label())))
        .collect();
    if total(&named) <= usize::from(width) {
        return named;
    }
    Tab::ALL
        .iter()
        .map(|t| {
            let label = if *t == active {
                format!(" {} {} ", t.index() + 1, t.label())
            } else {
                format!(" {} ", t.index() + 1)
            };
            (*t, label)
        })
        .collect()
}

/// What a tab shows while its data is not here: a spinner, or the error and how to retry.
fn state_lines<T>(
    load: &Load<T>,
    what: &str,
    width: usize,
    theme: Theme,
    now: DateTime<Utc>,
) -> Vec<Line<'static>> {
    match load {
        Load::NotAsked | Load::Loaded(_) => Vec::new(),
        Load::Loading(since) => {
            let frame = usize::try_from(now.timestamp_millis().rem_euclid(1000) / 100).unwrap_or(0);
            let spinner = format::SPINNER[frame % format::SPINNER.len()];
            let waited = (now - *since).num_seconds();
            let mut text = format!("{spinner} loading {what}…");
            if waited >= 2 {
                text.push_str(&format!(" {waited} s"));
            }
            vec![Line::styled(format::truncate(&text, width), theme.dim())]
        }
        Load::Failed(message) => {
            let mut lines: Vec<Line<'static>> =
                format::wrap(&format!("cannot load the {what}: {message}"), width)
                    .into_iter()
                    .map(|l| Line::styled(l, theme.error()))
                    .collect();
            lines.push(Line::from(vec![
                Span::styled("press ", theme.dim()),
                Span::styled("r", theme.key()),
                Span::styled(" to retry", theme.dim()),
            ]));
            lines
        }
    }
}

/// A line saying this is an older copy and why, when it is.
fn stale_line(stale: Option<&str>, width: usize, theme: Theme) -> Option<Line<'static>> {
    stale.map(|why| {
        Line::styled(
            format::truncate(&format!("stale copy: {why}"), width),
            theme.warn().add_modifier(Modifier::BOLD),
        )
    })
}
