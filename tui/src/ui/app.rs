//! The TUI's state and its pure `update`: keys and daemon answers come in as [`Action`]s,
//! requests for the daemon go out as [`Effect`]s. Nothing here awaits or does I/O.

use chrono::{DateTime, Duration, Utc};
use crossterm::event::{KeyCode, KeyEvent};
use hubdex_core::{Dataset, DatasetId, SortKey};
use hubdex_ipc::{SearchRequest, SearchResponse, Status, SyncReport};

use super::keymap::{self, Command, Context};
use super::theme::Theme;
use super::view;
use crate::format;

/// Hits asked for per search; the table scrolls through them.
pub const PAGE: usize = 200;

/// How long a notice stays in the footer.
const NOTICE_SECONDS: i64 = 5;

/// Which pane has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// The search box (and the results under it).
    Search,
    /// The detail pane of the selected dataset.
    Detail,
}

/// Whether the daemon answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    /// It does.
    Connected,
    /// It stopped answering; the client task is reconnecting. The reason is for the log line.
    Lost(String),
}

/// What the results pane shows.
#[derive(Debug, Clone, PartialEq)]
pub enum Results {
    /// No answer yet to the first search.
    Loading,
    /// The newest answer.
    Loaded(SearchResponse),
    /// The newest search failed; the message says why.
    Failed(String),
}

/// How a notice is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Plain news.
    Info,
    /// Good news.
    Ok,
    /// Something failed.
    Error,
}

/// A short message in the footer that goes away by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The words.
    pub text: String,
    /// How to draw them.
    pub level: Level,
    /// When to take it down.
    pub until: DateTime<Utc>,
}

/// A numbered search: answers carry the number back, so an older one can be told apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchJob {
    /// Increases with every search the app asks for.
    pub id: u64,
    /// What to ask the daemon.
    pub request: SearchRequest,
}

/// Something the client task does for the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Run a search; a newer one queued before it starts replaces it.
    Search(SearchJob),
    /// Fetch one dataset's full record for the detail pane.
    LoadDataset(DatasetId),
    /// Fetch the daemon's status.
    LoadStatus,
    /// Ask the daemon to sync now.
    SyncNow,
    /// Leave the TUI.
    Quit,
}

/// Everything that can change the app's state.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A key was pressed.
    Key(KeyEvent),
    /// Text was pasted.
    Paste(String),
    /// The terminal changed size.
    Resize {
        /// Columns.
        width: u16,
        /// Rows.
        height: u16,
    },
    /// Time passed (spinners, "5 min ago", notices).
    Tick(DateTime<Utc>),
    /// A search answered.
    SearchDone {
        /// The search as it was asked.
        job: SearchJob,
        /// The hits, or why there are none.
        result: Result<SearchResponse, String>,
    },
    /// A dataset's full record arrived.
    DatasetLoaded {
        /// The dataset asked for.
        id: DatasetId,
        /// The record, or why there is none.
        result: Result<Dataset, String>,
    },
    /// The daemon's status arrived.
    StatusLoaded(Status),
    /// The daemon answered a sync request: `true` when a sync started.
    SyncRequested(Result<bool, String>),
    /// A sync finished (well or not).
    SyncFinished(SyncReport),
    /// The daemon stopped answering.
    DaemonLost(String),
    /// The daemon answers again.
    DaemonBack,
}

/// The whole state of the TUI.
#[derive(Debug, Clone)]
pub struct App {
    /// Colours or not.
    pub theme: Theme,
    /// The clock, as of the last tick (injected so rendering never reads it).
    pub now: DateTime<Utc>,
    /// The terminal's size (columns, rows).
    pub size: (u16, u16),
    /// The query as typed.
    pub query: String,
    /// The text cursor, in characters from the start of the query.
    pub cursor: usize,
    /// The sort order.
    pub sort: SortKey,
    /// Which pane has the keyboard.
    pub focus: Focus,
    /// Whether the help overlay is open.
    pub help: bool,
    /// Whether a narrow terminal shows the detail pane while searching.
    pub show_detail: bool,
    /// What the results pane shows.
    pub results: Results,
    /// The selected hit's index.
    pub selected: usize,
    /// The first hit shown in the table.
    pub offset: usize,
    /// The detail pane's first line.
    pub detail_scroll: usize,
    /// The full record of a dataset opened in the detail pane.
    pub detail: Option<Dataset>,
    /// The daemon's status, once known.
    pub status: Option<Status>,
    /// Whether the daemon answers.
    pub connection: Connection,
    /// A passing message for the footer.
    pub notice: Option<Notice>,
    /// Frame counter for spinners.
    pub spinner: usize,
    latest_request: u64,
    applied: Option<SearchJob>,
}

impl App {
    /// A fresh app showing "loading…", sized `size`, with the clock at `now`.
    pub fn new(theme: Theme, size: (u16, u16), now: DateTime<Utc>) -> App {
        App {
            theme,
            now,
            size,
            query: String::new(),
            cursor: 0,
            sort: SortKey::Relevance,
            focus: Focus::Search,
            help: false,
            show_detail: false,
            results: Results::Loading,
            selected: 0,
            offset: 0,
            detail_scroll: 0,
            detail: None,
            status: None,
            connection: Connection::Connected,
            notice: None,
            spinner: 0,
            latest_request: 0,
            applied: None,
        }
    }

    /// The hits on screen.
    pub fn hits(&self) -> &[Dataset] {
        match &self.results {
            Results::Loaded(response) => &response.hits,
            Results::Loading | Results::Failed(_) => &[],
        }
    }

    /// The selected hit.
    pub fn selected_hit(&self) -> Option<&Dataset> {
        self.hits().get(self.selected)
    }

    /// The record the detail pane shows: the full one when loaded, else the hit.
    pub fn detail_record(&self) -> Option<&Dataset> {
        let hit = self.selected_hit()?;
        Some(
            self.detail
                .as_ref()
                .filter(|d| d.id == hit.id)
                .unwrap_or(hit),
        )
    }

    /// True while a search newer than the one shown is on its way.
    pub fn searching(&self) -> bool {
        self.applied.as_ref().map_or(0, |job| job.id) < self.latest_request
    }

    /// The effects to start with: the first search and the status.
    pub fn start(&mut self) -> Vec<Effect> {
        vec![self.search(), Effect::LoadStatus]
    }

    fn search(&mut self) -> Effect {
        self.latest_request += 1;
        Effect::Search(SearchJob {
            id: self.latest_request,
            request: SearchRequest {
                query: self.query.trim().to_string(),
                sort: Some(self.sort.into()),
                limit: PAGE,
                offset: 0,
                facets: false,
            },
        })
    }

    fn notify(&mut self, text: impl Into<String>, level: Level) {
        self.notice = Some(Notice {
            text: text.into(),
            level,
            until: self.now + Duration::seconds(NOTICE_SECONDS),
        });
    }

    fn context(&self) -> Context {
        match (self.help, self.focus) {
            (true, _) => Context::Help,
            (false, Focus::Search) => Context::Search,
            (false, Focus::Detail) => Context::Detail,
        }
    }

    fn select(&mut self, index: usize) {
        let last = self.hits().len().saturating_sub(1);
        let index = index.min(last);
        if index != self.selected {
            self.detail_scroll = 0;
        }
        self.selected = index;
        self.scroll_table();
    }

    /// Keeps the selection inside the visible rows of the table.
    fn scroll_table(&mut self) {
        let rows = view::table_rows(self).max(1);
        let len = self.hits().len();
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + rows {
            self.offset = self.selected + 1 - rows;
        }
        self.offset = self.offset.min(len.saturating_sub(rows));
    }

    fn scroll_detail(&mut self, to: usize) {
        self.detail_scroll = to.min(view::detail_max_scroll(self));
    }

    fn byte_at(&self, cursor: usize) -> usize {
        self.query
            .char_indices()
            .nth(cursor)
            .map_or(self.query.len(), |(i, _)| i)
    }

    fn insert(&mut self, text: &str) {
        let at = self.byte_at(self.cursor);
        self.query.insert_str(at, text);
        self.cursor += text.chars().count();
    }

    /// Removes the characters `from..to` (character indexes) and puts the cursor at `from`.
    fn remove(&mut self, from: usize, to: usize) {
        let (a, b) = (self.byte_at(from), self.byte_at(to));
        self.query.replace_range(a..b, "");
        self.cursor = from;
    }

    fn query_len(&self) -> usize {
        self.query.chars().count()
    }

    /// The start of the word before the cursor, readline's `unix-word-rubout`.
    fn word_start(&self) -> usize {
        let chars: Vec<char> = self.query.chars().take(self.cursor).collect();
        let mut i = chars.len();
        while i > 0 && chars[i - 1].is_whitespace() {
            i -= 1;
        }
        while i > 0 && !chars[i - 1].is_whitespace() {
            i -= 1;
        }
        i
    }
}

/// Applies `action` to `app` and says what the client task should do.
pub fn update(app: &mut App, action: Action) -> Vec<Effect> {
    match action {
        Action::Key(key) => on_key(app, key),
        Action::Paste(text) => {
            if app.help || app.focus != Focus::Search {
                return Vec::new();
            }
            let text: String = text
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            app.insert(&text);
            vec![app.search()]
        }
        Action::Resize { width, height } => {
            app.size = (width, height);
            app.scroll_table();
            app.scroll_detail(app.detail_scroll);
            Vec::new()
        }
        Action::Tick(now) => {
            app.now = now;
            app.spinner = app.spinner.wrapping_add(1);
            if app.notice.as_ref().is_some_and(|n| n.until <= now) {
                app.notice = None;
            }
            Vec::new()
        }
        Action::SearchDone { job, result } => {
            on_search_done(app, job, result);
            Vec::new()
        }
        Action::DatasetLoaded { id, result } => {
            match result {
                Ok(dataset) if app.selected_hit().is_some_and(|h| h.id == id) => {
                    app.detail = Some(dataset);
                }
                Ok(_) => {}
                Err(message) => app.notify(message, Level::Error),
            }
            Vec::new()
        }
        Action::StatusLoaded(status) => {
            app.status = Some(status);
            app.connection = Connection::Connected;
            Vec::new()
        }
        Action::SyncRequested(result) => {
            match result {
                Ok(true) => app.notify("sync started", Level::Info),
                Ok(false) => app.notify("a sync is already running", Level::Info),
                Err(message) => app.notify(format!("cannot sync: {message}"), Level::Error),
            }
            Vec::new()
        }
        Action::SyncFinished(report) => {
            match &report.error {
                None => app.notify(
                    format!(
                        "sync finished: {} records",
                        format::thousands(report.records)
                    ),
                    Level::Ok,
                ),
                Some(error) => app.notify(format!("sync failed: {error}"), Level::Error),
            }
            vec![app.search(), Effect::LoadStatus]
        }
        Action::DaemonLost(reason) => {
            app.connection = Connection::Lost(reason);
            Vec::new()
        }
        Action::DaemonBack => {
            app.connection = Connection::Connected;
            vec![app.search(), Effect::LoadStatus]
        }
    }
}

fn on_search_done(app: &mut App, job: SearchJob, result: Result<SearchResponse, String>) {
    let newest_applied = app.applied.as_ref().map_or(0, |j| j.id);
    if job.id <= newest_applied {
        return;
    }
    // A refresh of the same search keeps the selected dataset selected; a new query starts
    // at its best match.
    let same_search = app.applied.as_ref().is_some_and(|j| {
        j.request.query == job.request.query && j.request.sort == job.request.sort
    });
    let keep = same_search
        .then(|| app.selected_hit().map(|h| h.id.clone()))
        .flatten();
    app.applied = Some(job);
    match result {
        Ok(response) => {
            let index = keep
                .and_then(|id| response.hits.iter().position(|h| h.id == id))
                .unwrap_or(0);
            if !same_search {
                app.selected = 0;
                app.offset = 0;
                app.detail_scroll = 0;
            }
            app.results = Results::Loaded(response);
            app.select(index);
            if app.hits().is_empty() {
                app.focus = Focus::Search;
            }
        }
        Err(message) => {
            app.results = Results::Failed(message);
            app.selected = 0;
            app.offset = 0;
            app.focus = Focus::Search;
        }
    }
}

fn on_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    let Some(command) = keymap::lookup(app.context(), &key) else {
        return Vec::new();
    };
    if app.help && !matches!(command, Command::Quit | Command::Help) {
        return Vec::new();
    }
    let page = view::table_rows(app).max(1);
    let detail_page = view::detail_rows(app).max(1);
    match command {
        Command::Quit => return vec![Effect::Quit],
        Command::Help => app.help = !app.help,
        Command::Back => app.focus = Focus::Search,
        Command::FocusDetail => {
            let Some(hit) = app.selected_hit() else {
                return Vec::new();
            };
            let id = hit.id.clone();
            app.focus = Focus::Detail;
            app.detail_scroll = 0;
            if app.detail.as_ref().is_none_or(|d| d.id != id) {
                return vec![Effect::LoadDataset(id)];
            }
        }
        Command::ToggleDetail => {
            app.show_detail = !app.show_detail;
            app.scroll_table();
        }
        Command::SelectUp => app.select(app.selected.saturating_sub(1)),
        Command::SelectDown => app.select(app.selected + 1),
        Command::PageUp => app.select(app.selected.saturating_sub(page)),
        Command::PageDown => app.select(app.selected + page),
        Command::First => app.select(0),
        Command::Last => app.select(usize::MAX),
        Command::ScrollUp => app.scroll_detail(app.detail_scroll.saturating_sub(1)),
        Command::ScrollDown => app.scroll_detail(app.detail_scroll + 1),
        Command::ScrollPageUp => app.scroll_detail(app.detail_scroll.saturating_sub(detail_page)),
        Command::ScrollPageDown => app.scroll_detail(app.detail_scroll + detail_page),
        Command::ScrollTop => app.scroll_detail(0),
        Command::Type => {
            if let KeyCode::Char(c) = key.code {
                app.insert(c.encode_utf8(&mut [0; 4]));
                return vec![app.search()];
            }
        }
        Command::CursorLeft => app.cursor = app.cursor.saturating_sub(1),
        Command::CursorRight => app.cursor = (app.cursor + 1).min(app.query_len()),
        Command::CursorStart => app.cursor = 0,
        Command::CursorEnd => app.cursor = app.query_len(),
        Command::DeleteBack => {
            if app.cursor > 0 {
                app.remove(app.cursor - 1, app.cursor);
                return vec![app.search()];
            }
        }
        Command::DeleteForward => {
            if app.cursor < app.query_len() {
                app.remove(app.cursor, app.cursor + 1);
                return vec![app.search()];
            }
        }
        Command::DeleteWord => {
            let start = app.word_start();
            if start < app.cursor {
                app.remove(start, app.cursor);
                return vec![app.search()];
            }
        }
        Command::ClearQuery => {
            if !app.query.is_empty() {
                app.query.clear();
                app.cursor = 0;
                return vec![app.search()];
            }
        }
        Command::CycleSort => {
            app.sort = app.sort.next();
            return vec![app.search()];
        }
        Command::SyncNow => {
            app.notify("asking the daemon to sync…", Level::Info);
            return vec![Effect::SyncNow];
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::testdata;
    use crossterm::event::KeyModifiers;
    use hubdex_core::Sort;

    fn key(code: KeyCode) -> Action {
        Action::Key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn ctrl(c: char) -> Action {
        Action::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
    }

    fn typed(app: &mut App, text: &str) -> Vec<Effect> {
        text.chars()
            .flat_map(|c| update(app, key(KeyCode::Char(c))))
            .collect()
    }

    fn jobs(effects: &[Effect]) -> Vec<SearchJob> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Search(job) => Some(job.clone()),
                _ => None,
            })
            .collect()
    }

    fn response(hits: Vec<Dataset>) -> SearchResponse {
        SearchResponse {
            total: hits.len() as u64 * 10,
            took_ms: 1.5,
            hits,
            facets: None,
        }
    }

    /// An 80x24 app that has shown the fixture hits for the empty query.
    fn loaded() -> App {
        let mut app = App::new(Theme { color: true }, (80, 24), testdata::now());
        let start = app.start();
        let job = jobs(&start).remove(0);
        update(
            &mut app,
            Action::SearchDone {
                job,
                result: Ok(response(testdata::hits())),
            },
        );
        app
    }

    #[test]
    fn starts_loading_and_asks_for_the_first_search_and_the_status() {
        let mut app = App::new(Theme { color: false }, (80, 24), testdata::now());
        assert_eq!(app.results, Results::Loading);
        let effects = app.start();
        let job = &jobs(&effects)[0];
        assert_eq!(job.request.query, "");
        assert_eq!(job.request.sort, Some(SortKey::Relevance.into()));
        assert!(effects.contains(&Effect::LoadStatus));
    }

    #[test]
    fn typing_searches_with_increasing_ids() {
        let mut app = loaded();
        let effects = typed(&mut app, "gsm");
        let ids: Vec<u64> = jobs(&effects).iter().map(|j| j.id).collect();
        assert_eq!(ids.len(), 3);
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        let queries: Vec<String> = jobs(&effects)
            .into_iter()
            .map(|j| j.request.query)
            .collect();
        assert_eq!(queries, ["g", "gs", "gsm"]);
        assert_eq!(app.query, "gsm");
        assert!(app.searching());
    }

    #[test]
    fn an_older_answer_never_overwrites_a_newer_one() {
        let mut app = loaded();
        let first = jobs(&typed(&mut app, "c")).remove(0);
        let second = jobs(&typed(&mut app, "4")).remove(0);
        let c4 = testdata::hits()
            .into_iter()
            .filter(|d| d.id.as_str() == "allenai/c4")
            .collect::<Vec<_>>();
        update(
            &mut app,
            Action::SearchDone {
                job: second,
                result: Ok(response(c4.clone())),
            },
        );
        assert!(!app.searching());
        update(
            &mut app,
            Action::SearchDone {
                job: first,
                result: Ok(response(testdata::hits())),
            },
        );
        assert_eq!(app.hits(), &c4[..], "the stale answer for `c` was applied");
    }

    #[test]
    fn a_newer_answer_may_arrive_before_an_older_one_is_asked_for() {
        let mut app = loaded();
        let jobs = jobs(&typed(&mut app, "ab"));
        update(
            &mut app,
            Action::SearchDone {
                job: jobs[0].clone(),
                result: Ok(response(testdata::hits()[..2].to_vec())),
            },
        );
        assert_eq!(app.hits().len(), 2, "an intermediate answer is shown");
        assert!(app.searching(), "while the newest is still on its way");
        update(
            &mut app,
            Action::SearchDone {
                job: jobs[1].clone(),
                result: Err("bad query".into()),
            },
        );
        assert_eq!(app.results, Results::Failed("bad query".into()));
    }

    #[test]
    fn selection_moves_and_clamps() {
        let mut app = loaded();
        let n = app.hits().len();
        update(&mut app, key(KeyCode::Up));
        assert_eq!(app.selected, 0);
        update(&mut app, key(KeyCode::Down));
        update(&mut app, key(KeyCode::Down));
        assert_eq!(app.selected, 2);
        update(&mut app, key(KeyCode::PageDown));
        assert_eq!(app.selected, n - 1);
        update(&mut app, key(KeyCode::Down));
        assert_eq!(app.selected, n - 1);
        update(&mut app, key(KeyCode::Home));
        assert_eq!(app.selected, 0);
        update(&mut app, key(KeyCode::End));
        assert_eq!(app.selected, n - 1);
        update(&mut app, key(KeyCode::PageUp));
        assert_eq!(app.selected, 0);
    }

    #[test]
    fn the_table_scrolls_to_keep_the_selection_visible() {
        let mut app = loaded();
        update(
            &mut app,
            Action::Resize {
                width: 80,
                height: 8,
            },
        );
        let rows = view::table_rows(&app);
        assert!(rows >= 1 && rows < app.hits().len(), "{rows} rows");
        update(&mut app, key(KeyCode::End));
        assert_eq!(app.offset, app.hits().len() - rows);
        update(&mut app, key(KeyCode::Home));
        assert_eq!(app.offset, 0);
        for _ in 0..rows {
            update(&mut app, key(KeyCode::Down));
        }
        assert_eq!(app.offset, 1);
    }

    #[test]
    fn enter_focuses_the_detail_and_loads_the_full_record() {
        let mut app = loaded();
        update(&mut app, key(KeyCode::Down));
        let id = app.selected_hit().unwrap().id.clone();
        let effects = update(&mut app, key(KeyCode::Enter));
        assert_eq!(app.focus, Focus::Detail);
        assert_eq!(effects, [Effect::LoadDataset(id.clone())]);
        let mut full = app.selected_hit().unwrap().clone();
        full.card_data = Some(serde_json::json!({"pretty_name": "Full Name"}));
        update(
            &mut app,
            Action::DatasetLoaded {
                id,
                result: Ok(full),
            },
        );
        assert_eq!(
            app.detail_record().unwrap().pretty_name(),
            Some("Full Name")
        );
        // ↑/↓ now scroll the detail, not the selection.
        let selected = app.selected;
        update(&mut app, key(KeyCode::Down));
        assert_eq!(app.selected, selected);
        // Esc goes back; Enter again needs no second load.
        update(&mut app, key(KeyCode::Esc));
        assert_eq!(app.focus, Focus::Search);
        assert!(update(&mut app, key(KeyCode::Enter)).is_empty());
    }

    #[test]
    fn enter_with_no_hits_does_nothing() {
        let mut app = App::new(Theme { color: true }, (80, 24), testdata::now());
        assert!(update(&mut app, key(KeyCode::Enter)).is_empty());
        assert_eq!(app.focus, Focus::Search);
    }

    #[test]
    fn a_record_for_another_selection_is_not_shown() {
        let mut app = loaded();
        let first = app.hits()[0].id.clone();
        update(&mut app, key(KeyCode::Enter));
        update(&mut app, key(KeyCode::Esc));
        update(&mut app, key(KeyCode::Down));
        let mut full = app.hits()[0].clone();
        full.description = Some("late".into());
        update(
            &mut app,
            Action::DatasetLoaded {
                id: first,
                result: Ok(full),
            },
        );
        assert_ne!(
            app.detail_record().unwrap().description.as_deref(),
            Some("late")
        );
    }

    #[test]
    fn detail_scroll_is_clamped_to_the_text() {
        let mut app = loaded();
        update(&mut app, key(KeyCode::Enter));
        for _ in 0..500 {
            update(&mut app, key(KeyCode::Char('j')));
        }
        let max = view::detail_max_scroll(&app);
        assert_eq!(app.detail_scroll, max);
        update(&mut app, key(KeyCode::Home));
        assert_eq!(app.detail_scroll, 0);
    }

    #[test]
    fn esc_in_search_clears_the_query_and_does_nothing_when_empty() {
        let mut app = loaded();
        assert!(update(&mut app, key(KeyCode::Esc)).is_empty());
        assert_eq!(app.focus, Focus::Search);
        typed(&mut app, "glue");
        let effects = update(&mut app, key(KeyCode::Esc));
        assert_eq!(app.query, "");
        assert_eq!(jobs(&effects)[0].request.query, "");
    }

    #[test]
    fn q_quits_only_outside_the_search_box() {
        let mut app = loaded();
        let effects = update(&mut app, key(KeyCode::Char('q')));
        assert!(!effects.contains(&Effect::Quit));
        assert_eq!(app.query, "q");
        update(&mut app, key(KeyCode::Enter));
        assert_eq!(app.focus, Focus::Detail);
        assert_eq!(update(&mut app, key(KeyCode::Char('q'))), [Effect::Quit]);
    }

    #[test]
    fn ctrl_c_quits_anywhere() {
        let mut app = loaded();
        assert_eq!(update(&mut app, ctrl('c')), [Effect::Quit]);
        update(&mut app, key(KeyCode::Char('?')));
        assert!(app.help);
        assert_eq!(update(&mut app, ctrl('c')), [Effect::Quit]);
        update(&mut app, key(KeyCode::Esc));
        update(&mut app, key(KeyCode::Enter));
        assert_eq!(update(&mut app, ctrl('c')), [Effect::Quit]);
    }

    #[test]
    fn help_swallows_other_keys_and_closes() {
        let mut app = loaded();
        update(&mut app, key(KeyCode::Char('?')));
        assert!(app.help);
        assert!(update(&mut app, key(KeyCode::Char('x'))).is_empty());
        assert!(update(&mut app, ctrl('s')).is_empty());
        assert_eq!(app.query, "");
        assert_eq!(app.sort, SortKey::Relevance);
        update(&mut app, key(KeyCode::Char('q')));
        assert!(!app.help);
        update(&mut app, key(KeyCode::F(1)));
        assert!(app.help);
        update(&mut app, key(KeyCode::Esc));
        assert!(!app.help);
    }

    #[test]
    fn editing_keys_move_the_cursor_and_delete() {
        let mut app = loaded();
        typed(&mut app, "open math");
        update(&mut app, key(KeyCode::Left));
        update(&mut app, key(KeyCode::Left));
        let effects = update(&mut app, key(KeyCode::Backspace));
        assert_eq!(app.query, "open mth");
        assert_eq!(jobs(&effects)[0].request.query, "open mth");
        update(&mut app, key(KeyCode::Delete));
        assert_eq!(app.query, "open mh");
        update(&mut app, ctrl('e'));
        let effects = update(&mut app, ctrl('w'));
        assert_eq!(app.query, "open ");
        assert_eq!(jobs(&effects)[0].request.query, "open");
        update(&mut app, ctrl('a'));
        assert!(update(&mut app, key(KeyCode::Backspace)).is_empty());
        typed(&mut app, "中");
        assert_eq!(app.query, "中open ");
        assert_eq!(app.cursor, 1);
        update(&mut app, ctrl('u'));
        assert_eq!((app.query.as_str(), app.cursor), ("", 0));
        assert!(update(&mut app, ctrl('u')).is_empty());
    }

    #[test]
    fn paste_inserts_one_line_and_searches() {
        let mut app = loaded();
        let effects = update(&mut app, Action::Paste("openai\ngsm8k".into()));
        assert_eq!(app.query, "openai gsm8k");
        assert_eq!(jobs(&effects)[0].request.query, "openai gsm8k");
    }

    #[test]
    fn sort_cycling_re_searches() {
        let mut app = loaded();
        let mut seen = Vec::new();
        for _ in 0..SortKey::ALL.len() {
            let effects = update(&mut app, ctrl('s'));
            seen.push(jobs(&effects)[0].request.sort);
        }
        let want: Vec<Option<Sort>> = [
            SortKey::Downloads,
            SortKey::Likes,
            SortKey::LastModified,
            SortKey::CreatedAt,
            SortKey::TrendingScore,
            SortKey::Relevance,
        ]
        .into_iter()
        .map(|key| Some(key.into()))
        .collect();
        assert_eq!(seen, want);
    }

    #[test]
    fn a_refresh_keeps_the_selected_dataset_and_a_new_query_does_not() {
        let mut app = loaded();
        update(&mut app, key(KeyCode::Down));
        update(&mut app, key(KeyCode::Down));
        let id = app.selected_hit().unwrap().id.clone();
        let effects = update(&mut app, Action::DaemonBack);
        let mut hits = testdata::hits();
        hits.rotate_left(1);
        update(
            &mut app,
            Action::SearchDone {
                job: jobs(&effects).remove(0),
                result: Ok(response(hits.clone())),
            },
        );
        assert_eq!(app.selected_hit().unwrap().id, id);
        let job = jobs(&typed(&mut app, "x")).remove(0);
        update(
            &mut app,
            Action::SearchDone {
                job,
                result: Ok(response(hits)),
            },
        );
        assert_eq!(app.selected, 0);
    }

    #[test]
    fn daemon_lost_and_back_change_the_status() {
        let mut app = loaded();
        assert_eq!(app.status, None);
        update(&mut app, Action::DaemonLost("connection reset".into()));
        assert_eq!(app.connection, Connection::Lost("connection reset".into()));
        assert_eq!(app.hits().len(), 10, "the last results stay on screen");
        let effects = update(&mut app, Action::DaemonBack);
        assert_eq!(app.connection, Connection::Connected);
        assert!(effects.contains(&Effect::LoadStatus));
        assert_eq!(jobs(&effects).len(), 1, "the search is run again");
        update(&mut app, Action::DaemonLost("connection reset".into()));
        update(&mut app, Action::StatusLoaded(testdata::status()));
        assert_eq!(app.status, Some(testdata::status()));
        assert_eq!(
            app.connection,
            Connection::Connected,
            "a status answer means the daemon is back"
        );
    }

    #[test]
    fn sync_requests_and_results_are_reported() {
        let mut app = loaded();
        assert_eq!(update(&mut app, ctrl('r')), [Effect::SyncNow]);
        update(&mut app, Action::SyncRequested(Ok(false)));
        assert_eq!(
            app.notice.as_ref().unwrap().text,
            "a sync is already running"
        );
        let report = SyncReport {
            started_at: testdata::now(),
            finished_at: testdata::now(),
            pages: 3,
            records: 2500,
            error: None,
            ..SyncReport::default()
        };
        let effects = update(&mut app, Action::SyncFinished(report));
        assert_eq!(
            app.notice.as_ref().unwrap().text,
            "sync finished: 2,500 records"
        );
        assert_eq!(app.notice.as_ref().unwrap().level, Level::Ok);
        assert_eq!(jobs(&effects).len(), 1, "new records are searched");
    }

    #[test]
    fn notices_expire_with_the_clock() {
        let mut app = loaded();
        update(
            &mut app,
            Action::SyncRequested(Err("daemon unreachable".into())),
        );
        assert!(app.notice.is_some());
        update(
            &mut app,
            Action::Tick(testdata::now() + Duration::seconds(1)),
        );
        assert!(app.notice.is_some());
        update(
            &mut app,
            Action::Tick(testdata::now() + Duration::seconds(6)),
        );
        assert!(app.notice.is_none());
        assert_eq!(app.now, testdata::now() + Duration::seconds(6));
    }

    #[test]
    fn a_failed_load_is_reported() {
        let mut app = loaded();
        let id = app.hits()[0].id.clone();
        update(
            &mut app,
            Action::DatasetLoaded {
                id,
                result: Err("no such dataset".into()),
            },
        );
        assert_eq!(app.notice.as_ref().unwrap().level, Level::Error);
    }

    #[test]
    fn tab_toggles_the_narrow_detail_pane() {
        let mut app = loaded();
        let rows = view::table_rows(&app);
        update(&mut app, key(KeyCode::Tab));
        assert!(app.show_detail);
        assert!(view::table_rows(&app) < rows);
        update(&mut app, key(KeyCode::Tab));
        assert_eq!(view::table_rows(&app), rows);
    }
}
