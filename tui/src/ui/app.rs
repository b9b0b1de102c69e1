//! The TUI's state and its pure `update`: keys, clicks and daemon answers come in as
//! [`Action`]s, requests for the daemon go out as [`Effect`]s. Nothing here awaits or does I/O.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use crossterm::event::{KeyCode, KeyEvent, MouseButton, MouseEvent, MouseEventKind};
use hubdex_core::{Dataset, DatasetId, Facets, Order, Query, Sort, SortKey};
use hubdex_ipc::{
    DEFAULT_REVISION, DeleteParams, DownloadParams, Downloaded, Follow, Job, JobEvent, JobId,
    JobKind, JobParams, JobState, SearchRequest, SearchResponse, StartupProgress, Status,
    SyncReport, UpdateParams,
};
use ratatui::layout::{Position, Rect};

use super::keymap::{Command, Keymap, Mode};
use super::preview::{Preview, PreviewMsg, PreviewRequest, Tab};
use super::theme::Theme;
use super::view;
use crate::format;

/// Hits a new search asks for beyond the rows the table shows, so that moving down a little
/// needs no round trip. Every hit is a record the daemon reads from its store: just after a
/// restart, the first 200 hits of a common word took it a median 86 ms, 20 took 11 ms (1M
/// records).
const FIRST_PAGE_MARGIN: usize = 20;
/// Hits asked for at once when the selection nears the last hit loaded.
const MORE_PAGE: usize = 100;
/// How close to the last hit loaded the selection gets before more are asked for.
const MORE_AHEAD: usize = 10;
/// The most hits one request returns (the daemon's cap).
const MAX_PAGE: usize = 1_000;

/// How long a notice stays in the footer.
const NOTICE_SECONDS: i64 = 5;
/// How long the Hub URL (`o`) stays, long enough to copy it by hand.
const URL_SECONDS: i64 = 20;
/// Rows a mouse wheel notch scrolls.
const WHEEL: usize = 3;

/// The views, switched with keys or clicks on the tab bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The home: query, facets, results and the preview.
    Search,
    /// The followed datasets and what changed in them.
    Follows,
    /// Download, update and delete jobs.
    Jobs,
}

impl View {
    /// Every view, in tab-bar order.
    pub const ALL: [View; 3] = [View::Search, View::Follows, View::Jobs];

    /// The name on the tab bar.
    pub fn label(self) -> &'static str {
        match self {
            View::Search => "Search",
            View::Follows => "Follows",
            View::Jobs => "Jobs",
        }
    }
}

/// Which part of the Search view has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// The search box.
    Query,
    /// The results table.
    Results,
    /// The preview pane of the selected dataset.
    Preview,
    /// The facet bar.
    Facets,
}

/// Whether the daemon answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    /// It does.
    Connected,
    /// It stopped answering; the client task is reconnecting. The reason is for the log line.
    Lost(String),
    /// It is starting again and said what it does first (rebuilding its index, say); the
    /// client task reconnects once it answers.
    Starting(StartupProgress),
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

/// Whether the search on screen has more hits to load as the selection moves down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MoreHits {
    /// More are asked for when the selection nears the last hit loaded.
    Idle,
    /// The hits from this offset on are asked for.
    Asked(usize),
    /// The last ask failed or brought nothing; the next search starts over.
    Stopped,
}

/// A list loaded from the daemon (follows, jobs).
#[derive(Debug, Clone, PartialEq)]
pub enum Listed<T> {
    /// Asked for, no answer yet.
    Loading,
    /// The newest answer.
    Loaded(Vec<T>),
    /// The newest load failed; the message says why (`r` retries).
    Failed(String),
}

impl<T> Listed<T> {
    /// The items, empty while loading or failed.
    pub fn items(&self) -> &[T] {
        match self {
            Listed::Loaded(items) => items,
            Listed::Loading | Listed::Failed(_) => &[],
        }
    }
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

/// A mistake in the query as typed, placed for underlining.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryMistake {
    /// First character (0-based) of the mistake.
    pub start: usize,
    /// One past its last character.
    pub end: usize,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// A numbered search: answers carry the number back, so an older one can be told apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchJob {
    /// Increases with every search the app asks for.
    pub id: u64,
    /// What to ask the daemon.
    pub request: SearchRequest,
}

/// The download form (`d`): revision, include and exclude globs, force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadForm {
    /// The dataset to download.
    pub dataset: DatasetId,
    /// A branch, tag or commit.
    pub revision: String,
    /// Globs, separated by spaces or commas.
    pub include: String,
    /// Globs, separated by spaces or commas.
    pub exclude: String,
    /// Fetch again what the cache has.
    pub force: bool,
    /// The field with the cursor: 0 revision, 1 include, 2 exclude, 3 force.
    pub field: usize,
}

impl DownloadForm {
    /// The number of fields.
    pub const FIELDS: usize = 4;

    fn params(&self) -> JobParams {
        let globs = |text: &str| -> Vec<String> {
            text.split([',', ' '])
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        };
        let revision = self.revision.trim();
        JobParams::Download(DownloadParams {
            dataset: self.dataset.clone(),
            revision: if revision.is_empty() {
                DEFAULT_REVISION.to_string()
            } else {
                revision.to_string()
            },
            include: globs(&self.include),
            exclude: globs(&self.exclude),
            force: self.force,
        })
    }

    fn text_mut(&mut self) -> Option<&mut String> {
        match self.field {
            0 => Some(&mut self.revision),
            1 => Some(&mut self.include),
            2 => Some(&mut self.exclude),
            _ => None,
        }
    }
}

/// Something drawn over the views that takes the keyboard.
#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    /// The key help, scrolled this far.
    Help {
        /// First line shown.
        scroll: usize,
    },
    /// The download form.
    Download(DownloadForm),
    /// "Delete X, freeing N bytes?"
    ConfirmDelete {
        /// The dataset.
        dataset: DatasetId,
        /// Bytes it takes in the cache.
        bytes: u64,
    },
    /// The combined impact of the marked datasets.
    Combined(Vec<Dataset>),
}

/// Something the client task (or the terminal, for [`Effect::Copy`]) does for the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Run a search; a newer one queued before it starts replaces it.
    Search(SearchJob),
    /// Fetch the next hits of the search on screen (the job's offset on); runs beside the
    /// searches and never replaces one.
    MoreHits(SearchJob),
    /// Fetch one dataset's full record (its card data) for the preview.
    LoadDataset(DatasetId),
    /// Fetch the daemon's status.
    LoadStatus,
    /// Ask the daemon to sync now.
    SyncNow,
    /// Fetch the followed datasets.
    LoadFollows,
    /// Fetch what is in the Hugging Face cache.
    LoadDownloads,
    /// Fetch the jobs.
    LoadJobs,
    /// Follow a dataset.
    Follow(DatasetId),
    /// Stop following a dataset.
    Unfollow(DatasetId),
    /// Mark a followed dataset seen.
    MarkSeen(DatasetId),
    /// Queue a job.
    Submit(JobParams),
    /// Cancel a job.
    Cancel(JobId),
    /// Fetch what the preview pane asks for.
    Preview(PreviewRequest),
    /// Put text on the clipboard with OSC 52.
    Copy(String),
    /// Leave the TUI.
    Quit,
}

/// Everything that can change the app's state.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A key was pressed.
    Key(KeyEvent),
    /// The mouse clicked or scrolled.
    Mouse(MouseEvent),
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
    /// The next hits of the search on screen arrived.
    MoreHitsDone {
        /// The request as it was asked (its offset is where the hits go).
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
    /// The daemon does not answer yet, but reports what it does while it starts.
    DaemonStarting(StartupProgress),
    /// The daemon answers again.
    DaemonBack,
    /// The followed datasets arrived.
    FollowsLoaded(Result<Vec<Follow>, String>),
    /// What is in the cache arrived.
    DownloadsLoaded(Result<Vec<Downloaded>, String>),
    /// The jobs arrived.
    JobsLoaded(Result<Vec<Job>, String>),
    /// A follow or unfollow was answered.
    FollowDone {
        /// The dataset.
        id: DatasetId,
        /// True for a follow, false for an unfollow.
        follow: bool,
        /// Done, or why not.
        result: Result<(), String>,
    },
    /// A mark-seen was answered.
    MarkSeenDone(Result<Follow, String>),
    /// A job was queued (or refused).
    JobSubmitted(Result<Job, String>),
    /// A cancel was answered.
    JobCancelled(Result<Job, String>),
    /// A job changed (from the daemon's events).
    JobChanged(JobEvent),
    /// Something for the preview pane (an answer to one of its requests).
    Preview(PreviewMsg),
}

/// The whole state of the TUI.
#[derive(Debug, Clone)]
pub struct App {
    /// Colours and palette.
    pub theme: Theme,
    /// The key bindings in force.
    pub keymap: Arc<Keymap>,
    /// The clock, as of the last tick (injected so rendering never reads it).
    pub now: DateTime<Utc>,
    /// The terminal's size (columns, rows).
    pub size: (u16, u16),
    /// The view shown.
    pub view: View,
    /// What is drawn over it.
    pub overlay: Option<Overlay>,
    /// The query as typed.
    pub query: String,
    /// The text cursor, in characters from the start of the query.
    pub cursor: usize,
    /// The mistake in the query, when it has one (nothing is searched then).
    pub mistake: Option<QueryMistake>,
    /// The sort order.
    pub sort: Sort,
    /// The `sort:` of the last query that read, which wins over [`App::sort`] in the daemon.
    typed_sort: Option<Sort>,
    /// Which part of the Search view has the keyboard.
    pub focus: Focus,
    /// Whether a narrow terminal shows the preview pane.
    pub show_preview: bool,
    /// What the results pane shows.
    pub results: Results,
    /// The selected hit's index.
    pub selected: usize,
    /// The first hit shown in the table.
    pub offset: usize,
    /// The facet value chosen in the facet bar.
    pub facet: usize,
    /// Datasets marked for combining, with their records.
    pub marks: BTreeMap<DatasetId, Dataset>,
    /// The followed datasets.
    pub follows: Listed<Follow>,
    /// The selected row of the Follows view.
    pub follows_selected: usize,
    /// Ids of the followed datasets (marks in the results).
    pub followed: BTreeSet<String>,
    /// What is in the cache, by dataset id.
    pub downloads: HashMap<String, Downloaded>,
    /// The jobs, newest first.
    pub jobs: Listed<Job>,
    /// The selected row of the Jobs view.
    pub jobs_selected: usize,
    /// The preview pane.
    pub preview: Preview,
    /// The daemon's status, once known.
    pub status: Option<Status>,
    /// Whether the daemon answers.
    pub connection: Connection,
    /// A passing message for the footer.
    pub notice: Option<Notice>,
    /// Frame counter for spinners.
    pub spinner: usize,
    /// A dataset to select (and preview) once the search for it answers.
    pending_open: Option<DatasetId>,
    latest_request: u64,
    applied: Option<SearchJob>,
    more: MoreHits,
}

impl App {
    /// A fresh app showing "loading…", sized `size`, with the clock at `now`.
    pub fn new(theme: Theme, keymap: Arc<Keymap>, size: (u16, u16), now: DateTime<Utc>) -> App {
        App {
            theme,
            keymap,
            now,
            size,
            view: View::Search,
            overlay: None,
            query: String::new(),
            cursor: 0,
            mistake: None,
            sort: Sort::default(),
            typed_sort: None,
            focus: Focus::Query,
            show_preview: false,
            results: Results::Loading,
            selected: 0,
            offset: 0,
            facet: 0,
            marks: BTreeMap::new(),
            follows: Listed::Loading,
            follows_selected: 0,
            followed: BTreeSet::new(),
            downloads: HashMap::new(),
            jobs: Listed::Loading,
            jobs_selected: 0,
            preview: Preview::default(),
            status: None,
            connection: Connection::Connected,
            notice: None,
            spinner: 0,
            pending_open: None,
            latest_request: 0,
            applied: None,
            more: MoreHits::Idle,
        }
    }

    /// The hits on screen.
    pub fn hits(&self) -> &[Dataset] {
        match &self.results {
            Results::Loaded(response) => &response.hits,
            Results::Loading | Results::Failed(_) => &[],
        }
    }

    /// The facet counts of the results shown, when the daemon sent them.
    pub fn facets(&self) -> Option<&Facets> {
        match &self.results {
            Results::Loaded(response) => response.facets.as_ref(),
            Results::Loading | Results::Failed(_) => None,
        }
    }

    /// The selected hit.
    pub fn selected_hit(&self) -> Option<&Dataset> {
        self.hits().get(self.selected)
    }

    /// The selected job (the Jobs view lists newest first).
    pub fn selected_job(&self) -> Option<&Job> {
        self.jobs.items().get(self.jobs_selected)
    }

    /// The selected followed dataset.
    pub fn selected_follow(&self) -> Option<&Follow> {
        self.follows.items().get(self.follows_selected)
    }

    /// The order the daemon sorts the results in: a `sort:` typed in the query wins over
    /// the chosen one.
    pub fn results_sort(&self) -> Sort {
        self.typed_sort.unwrap_or(self.sort)
    }

    /// True while a search newer than the one shown is on its way.
    pub fn searching(&self) -> bool {
        self.applied.as_ref().map_or(0, |job| job.id) < self.latest_request
    }

    /// Where the keyboard is, for the keymap.
    pub fn mode(&self) -> Mode {
        if matches!(self.overlay, Some(Overlay::Help { .. })) {
            return Mode::Help;
        }
        match (self.view, self.focus) {
            (View::Follows, _) => Mode::Follows,
            (View::Jobs, _) => Mode::Jobs,
            (View::Search, Focus::Query) => Mode::Query,
            (View::Search, Focus::Results) => Mode::Results,
            (View::Search, Focus::Preview) => Mode::Preview,
            (View::Search, Focus::Facets) => Mode::Facets,
        }
    }

    /// True when the preview pane is on screen.
    pub fn preview_visible(&self) -> bool {
        self.view == View::Search && view::layout(self, self.screen()).preview.is_some()
    }

    /// The whole screen.
    pub fn screen(&self) -> Rect {
        Rect::new(0, 0, self.size.0, self.size.1)
    }

    /// The effects to start with: the first search, the status, follows, downloads, jobs.
    pub fn start(&mut self) -> Vec<Effect> {
        vec![
            self.search(),
            Effect::LoadStatus,
            Effect::LoadFollows,
            Effect::LoadDownloads,
            Effect::LoadJobs,
        ]
    }

    /// The facet values offered in the facet bar: `(query text, count)`.
    pub fn facet_chips(&self) -> Vec<(String, u64)> {
        let Some(facets) = self.facets() else {
            return Vec::new();
        };
        let mut chips = Vec::new();
        for (field, counts, take) in [
            ("task", &facets.task, 3),
            ("lang", &facets.language, 3),
            ("license", &facets.license, 2),
            ("size", &facets.size, 2),
        ] {
            for count in counts.iter().take(take) {
                chips.push((format!("{field}:{}", quoted(&count.value)), count.count));
            }
        }
        chips
    }

    /// A new search, of [`App::first_page`] hits.
    fn search(&mut self) -> Effect {
        self.search_for(self.first_page())
    }

    /// Hits a new search asks for: as many as the table shows and [`FIRST_PAGE_MARGIN`] more.
    fn first_page(&self) -> usize {
        view::table_rows(self).max(1) + FIRST_PAGE_MARGIN
    }

    fn search_for(&mut self, limit: usize) -> Effect {
        self.latest_request += 1;
        Effect::Search(SearchJob {
            id: self.latest_request,
            request: SearchRequest {
                query: self.query.trim().to_string(),
                sort: Some(self.sort),
                limit,
                offset: 0,
                facets: true,
            },
        })
    }

    /// Asks for the next [`MORE_PAGE`] hits when the search has more and the selection is
    /// within [`MORE_AHEAD`] of the last hit loaded, or the table has rows left empty (the
    /// terminal grew).
    fn more_hits(&mut self) -> Option<Effect> {
        let Results::Loaded(response) = &self.results else {
            return None;
        };
        let loaded = response.hits.len();
        if self.more != MoreHits::Idle || loaded as u64 >= response.total {
            return None;
        }
        let near_the_end =
            self.selected + MORE_AHEAD >= loaded || self.offset + view::table_rows(self) > loaded;
        if !near_the_end {
            return None;
        }
        let applied = self.applied.as_ref()?;
        let request = SearchRequest {
            limit: MORE_PAGE,
            offset: loaded,
            facets: false,
            ..applied.request.clone()
        };
        self.more = MoreHits::Asked(loaded);
        Some(Effect::MoreHits(SearchJob {
            id: applied.id,
            request,
        }))
    }

    /// Checks the query and searches when it reads; a mistake is shown where it is instead.
    fn query_changed(&mut self) -> Vec<Effect> {
        self.facet = 0;
        match Query::parse_strict(self.query.trim()) {
            Ok(query) => {
                self.mistake = None;
                self.typed_sort = query.sort;
                vec![self.search()]
            }
            Err(e) => {
                let lead = self.query.chars().count() - self.query.trim_start().chars().count();
                self.mistake = Some(QueryMistake {
                    start: lead + e.columns.0.saturating_sub(1),
                    end: lead + e.columns.1.saturating_sub(1),
                    message: e.to_string(),
                });
                Vec::new()
            }
        }
    }

    fn notify(&mut self, text: impl Into<String>, level: Level) {
        self.notify_for(text, level, NOTICE_SECONDS);
    }

    fn notify_for(&mut self, text: impl Into<String>, level: Level, seconds: i64) {
        self.notice = Some(Notice {
            text: text.into(),
            level,
            until: self.now + Duration::seconds(seconds),
        });
    }

    fn select(&mut self, index: usize) {
        let last = self.hits().len().saturating_sub(1);
        self.selected = index.min(last);
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

    /// The dataset the dataset keys (`f`, `d`, `x`, …) act on: the selected hit, or the
    /// selected followed dataset.
    fn target(&self) -> Option<(DatasetId, Option<Dataset>)> {
        match self.view {
            View::Search => self.selected_hit().map(|d| (d.id.clone(), Some(d.clone()))),
            View::Follows => {
                let follow = self.selected_follow()?;
                let id = DatasetId::new(&follow.dataset).ok()?;
                Some((id, follow.current.clone()))
            }
            View::Jobs => None,
        }
    }

    /// Tells the preview which dataset is selected, when it shows one and that changed.
    fn sync_preview(&mut self) -> Vec<Effect> {
        if !self.preview_visible() {
            return Vec::new();
        }
        let shown = self.preview.dataset().map(|d| d.id.clone());
        match self.selected_hit().cloned() {
            Some(hit) if shown.as_ref() != Some(&hit.id) => self.preview_msg(PreviewMsg::Show(hit)),
            None if shown.is_some() => self.preview_msg(PreviewMsg::Clear),
            _ => Vec::new(),
        }
    }

    fn preview_msg(&mut self, msg: PreviewMsg) -> Vec<Effect> {
        let area = view::layout(self, self.screen())
            .preview
            .unwrap_or_default();
        self.preview
            .update(msg, self.now, area)
            .into_iter()
            .map(Effect::Preview)
            .collect()
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

    /// Shows `id` on the Search view: searches for it and selects it when it comes back.
    fn open_dataset(&mut self, id: DatasetId) -> Vec<Effect> {
        self.view = View::Search;
        self.overlay = None;
        self.query = id.to_string();
        self.cursor = self.query_len();
        self.focus = Focus::Results;
        self.pending_open = Some(id);
        self.query_changed()
    }
}

/// A facet value as the query language reads it: quoted when it has spaces or quotes.
fn quoted(value: &str) -> String {
    if value.contains([' ', '"', '(', ')', ',']) {
        format!("\"{}\"", value.replace('"', ""))
    } else {
        value.to_string()
    }
}

/// Applies `action` to `app` and says what the client task should do.
pub fn update(app: &mut App, action: Action) -> Vec<Effect> {
    let mut effects = match action {
        Action::Key(key) => on_key(app, key),
        Action::Mouse(mouse) => on_mouse(app, mouse),
        Action::Paste(text) => on_paste(app, &text),
        Action::Resize { width, height } => {
            app.size = (width, height);
            app.scroll_table();
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
        Action::SearchDone { job, result } => on_search_done(app, job, result),
        Action::MoreHitsDone { job, result } => on_more_hits(app, job, result),
        Action::DatasetLoaded { id, result } => match result {
            Ok(dataset) if app.selected_hit().is_some_and(|h| h.id == id) => {
                if app.preview_visible() {
                    app.preview_msg(PreviewMsg::Show(dataset))
                } else {
                    Vec::new()
                }
            }
            Ok(_) => Vec::new(),
            Err(message) => {
                app.notify(message, Level::Error);
                Vec::new()
            }
        },
        Action::StatusLoaded(status) => {
            app.status = Some(status);
            app.connection = Connection::Connected;
            Vec::new()
        }
        Action::SyncRequested(result) => {
            match result {
                Ok(true) => app.notify("sync started", Level::Info),
                Ok(false) => app.notify("a sync is already running", Level::Info),
                Err(message) => app.notify(message, Level::Error),
            }
            vec![Effect::LoadStatus]
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
            refresh_search(app)
        }
        Action::DaemonLost(reason) => {
            app.connection = Connection::Lost(reason);
            Vec::new()
        }
        Action::DaemonStarting(progress) => {
            app.connection = Connection::Starting(progress);
            Vec::new()
        }
        Action::DaemonBack => {
            app.connection = Connection::Connected;
            let mut effects = refresh_search(app);
            effects.extend([
                Effect::LoadStatus,
                Effect::LoadFollows,
                Effect::LoadDownloads,
                Effect::LoadJobs,
            ]);
            effects
        }
        Action::FollowsLoaded(result) => {
            match result {
                Ok(follows) => {
                    app.followed = follows.iter().map(|f| f.dataset.clone()).collect();
                    app.follows_selected =
                        app.follows_selected.min(follows.len().saturating_sub(1));
                    app.follows = Listed::Loaded(follows);
                }
                Err(message) => app.follows = Listed::Failed(message),
            }
            Vec::new()
        }
        Action::DownloadsLoaded(result) => {
            match result {
                Ok(list) => {
                    app.downloads = list
                        .into_iter()
                        .map(|d| (d.dataset.to_string(), d))
                        .collect();
                }
                Err(message) => tracing::warn!("downloads: {message}"),
            }
            Vec::new()
        }
        Action::JobsLoaded(result) => {
            match result {
                Ok(mut jobs) => {
                    jobs.sort_by_key(|job| std::cmp::Reverse(job.id));
                    app.jobs_selected = app.jobs_selected.min(jobs.len().saturating_sub(1));
                    app.jobs = Listed::Loaded(jobs);
                }
                Err(message) => app.jobs = Listed::Failed(message),
            }
            Vec::new()
        }
        Action::FollowDone { id, follow, result } => match result {
            Ok(()) => {
                if follow {
                    app.followed.insert(id.to_string());
                    app.notify(format!("following {id}"), Level::Ok);
                } else {
                    app.followed.remove(id.as_str());
                    app.notify(format!("no longer following {id}"), Level::Ok);
                }
                vec![Effect::LoadFollows]
            }
            Err(message) => {
                app.notify(message, Level::Error);
                Vec::new()
            }
        },
        Action::MarkSeenDone(result) => match result {
            Ok(follow) => {
                app.notify(format!("{} marked seen", follow.dataset), Level::Ok);
                vec![Effect::LoadFollows]
            }
            Err(message) => {
                app.notify(message, Level::Error);
                Vec::new()
            }
        },
        Action::JobSubmitted(result) => match result {
            Ok(job) => {
                let jobs_key = app.keymap.key_for(Command::ViewJobs);
                app.notify(
                    format!(
                        "job #{}: {} queued · {jobs_key} shows the jobs",
                        job.id,
                        crate::jobs::describe(&job)
                    ),
                    Level::Ok,
                );
                upsert_job(app, job);
                vec![Effect::LoadJobs]
            }
            Err(message) => {
                app.notify(message, Level::Error);
                Vec::new()
            }
        },
        Action::JobCancelled(result) => match result {
            Ok(job) => {
                app.notify(format!("job #{} cancelled", job.id), Level::Ok);
                upsert_job(app, job);
                Vec::new()
            }
            Err(message) => {
                app.notify(message, Level::Error);
                Vec::new()
            }
        },
        Action::JobChanged(event) => on_job_event(app, event),
        Action::Preview(msg) => app.preview_msg(msg),
    };
    effects.extend(app.sync_preview());
    effects.extend(app.more_hits());
    effects
}

/// Runs the search again, keeping the selected dataset selected: as many hits as are loaded
/// now, so that one further down stays in the list.
fn refresh_search(app: &mut App) -> Vec<Effect> {
    if app.mistake.is_some() {
        return Vec::new();
    }
    let limit = app.first_page().max(app.hits().len()).min(MAX_PAGE);
    vec![app.search_for(limit)]
}

fn upsert_job(app: &mut App, job: Job) {
    let mut jobs = app.jobs.items().to_vec();
    match jobs.iter_mut().find(|j| j.id == job.id) {
        Some(slot) => *slot = job,
        None => jobs.push(job),
    }
    jobs.sort_by_key(|job| std::cmp::Reverse(job.id));
    app.jobs = Listed::Loaded(jobs);
}

fn on_job_event(app: &mut App, event: JobEvent) -> Vec<Effect> {
    let mut effects = Vec::new();
    let mut jobs = app.jobs.items().to_vec();
    match jobs.iter_mut().find(|j| j.id == event.id) {
        Some(job) => {
            job.state = event.state;
            job.progress = event.progress.clone();
            job.error.clone_from(&event.error);
            app.jobs = Listed::Loaded(jobs);
        }
        None => effects.push(Effect::LoadJobs),
    }
    if event.state.is_finished() {
        // The summary and finish time come with the full job.
        effects.push(Effect::LoadJobs);
        effects.push(Effect::LoadDownloads);
        let what = format!("{} {}", event.kind, event.dataset);
        match event.state {
            JobState::Succeeded => app.notify(format!("job #{}: {what} done", event.id), Level::Ok),
            JobState::Failed => app.notify(
                format!(
                    "job #{}: {what} failed: {}",
                    event.id,
                    event.error.as_deref().unwrap_or("no reason given")
                ),
                Level::Error,
            ),
            _ => {}
        }
    }
    effects.dedup();
    effects
}

fn on_search_done(
    app: &mut App,
    job: SearchJob,
    result: Result<SearchResponse, String>,
) -> Vec<Effect> {
    if job.id > app.latest_request || app.applied.as_ref().is_some_and(|a| a.id >= job.id) {
        return Vec::new();
    }
    let same_query = app.applied.as_ref().is_some_and(|a| {
        a.request.query == job.request.query && a.request.sort == job.request.sort
    });
    let previous = app.selected_hit().map(|d| d.id.clone());
    app.applied = Some(job);
    app.more = MoreHits::Idle;
    match result {
        Ok(response) => {
            app.results = Results::Loaded(response);
            let wanted = app.pending_open.take();
            let keep = if same_query { previous } else { None };
            let index = wanted
                .as_ref()
                .or(keep.as_ref())
                .and_then(|id| app.hits().iter().position(|d| &d.id == id));
            if let (Some(id), None) = (&wanted, index) {
                app.notify(format!("{id} is not in the local catalog"), Level::Error);
            }
            app.offset = 0;
            app.select(index.unwrap_or(0));
            if wanted.is_some() && index.is_some() {
                return open_preview(app);
            }
        }
        Err(message) => {
            app.results = Results::Failed(message);
            app.selected = 0;
            app.offset = 0;
            app.pending_open = None;
        }
    }
    Vec::new()
}

/// Adds the next hits of the search on screen after those loaded, unless a newer search
/// replaced it meanwhile. A hit already listed (the catalog changed between the two asks)
/// is not listed twice.
fn on_more_hits(
    app: &mut App,
    job: SearchJob,
    result: Result<SearchResponse, String>,
) -> Vec<Effect> {
    let current = app.more == MoreHits::Asked(job.request.offset)
        && app.applied.as_ref().is_some_and(|a| a.id == job.id);
    if !current {
        return Vec::new();
    }
    app.more = match (result, &mut app.results) {
        (Ok(more), Results::Loaded(shown)) if shown.hits.len() == job.request.offset => {
            let listed: HashSet<DatasetId> = shown.hits.iter().map(|d| d.id.clone()).collect();
            let before = shown.hits.len();
            shown
                .hits
                .extend(more.hits.into_iter().filter(|d| !listed.contains(&d.id)));
            shown.total = more.total;
            if shown.hits.len() > before {
                MoreHits::Idle
            } else {
                MoreHits::Stopped
            }
        }
        (Ok(_), _) => MoreHits::Idle,
        (Err(message), _) => {
            app.notify(format!("cannot load more hits: {message}"), Level::Error);
            MoreHits::Stopped
        }
    };
    Vec::new()
}

/// Focuses the preview of the selected hit and asks for its full record.
fn open_preview(app: &mut App) -> Vec<Effect> {
    let Some(hit) = app.selected_hit() else {
        return Vec::new();
    };
    let id = hit.id.clone();
    app.focus = Focus::Preview;
    let mut effects = app.sync_preview();
    effects.push(Effect::LoadDataset(id));
    effects
}

fn on_paste(app: &mut App, text: &str) -> Vec<Effect> {
    let clean = |t: &str| -> String {
        t.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    };
    match &mut app.overlay {
        Some(Overlay::Download(form)) => {
            if let Some(field) = form.text_mut() {
                field.push_str(&clean(text));
            }
            Vec::new()
        }
        Some(_) => Vec::new(),
        None => {
            app.view = View::Search;
            app.focus = Focus::Query;
            app.insert(&clean(text));
            app.query_changed()
        }
    }
}

fn on_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    match app.overlay.clone() {
        Some(Overlay::Download(form)) => return on_form_key(app, form, key),
        Some(Overlay::ConfirmDelete { dataset, .. }) => {
            return match key.code {
                KeyCode::Char('y') | KeyCode::Enter => {
                    app.overlay = None;
                    vec![Effect::Submit(JobParams::Delete(DeleteParams {
                        dataset,
                        revision: None,
                        all: true,
                    }))]
                }
                KeyCode::Char('n') | KeyCode::Esc | KeyCode::Char('q') => {
                    app.overlay = None;
                    Vec::new()
                }
                _ => Vec::new(),
            };
        }
        Some(Overlay::Combined(_)) => {
            if matches!(
                key.code,
                KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q' | 'c')
            ) {
                app.overlay = None;
            }
            return Vec::new();
        }
        Some(Overlay::Help { .. }) | None => {}
    }
    let mode = app.mode();
    let Some(command) = app.keymap.lookup(mode, &key) else {
        if mode == Mode::Preview {
            return preview_key(app, key);
        }
        return Vec::new();
    };
    run_command(app, command, key)
}

/// Keys the preview pane understands that the keymap leaves to it (scrolling, columns).
fn preview_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    let page = view::layout(app, app.screen())
        .preview
        .map_or(1, |r| usize::from(r.height.saturating_sub(2)).max(1));
    let msg = match key.code {
        KeyCode::Down | KeyCode::Char('j') => PreviewMsg::Down(1),
        KeyCode::Up | KeyCode::Char('k') => PreviewMsg::Up(1),
        KeyCode::PageDown => PreviewMsg::Down(page),
        KeyCode::PageUp => PreviewMsg::Up(page),
        KeyCode::Home | KeyCode::Char('g') => PreviewMsg::Top,
        KeyCode::End | KeyCode::Char('G') => PreviewMsg::Bottom,
        KeyCode::Left | KeyCode::Char('h') => PreviewMsg::Left,
        KeyCode::Right | KeyCode::Char('l') => PreviewMsg::Right,
        KeyCode::Char(']') => PreviewMsg::NextSplit,
        KeyCode::Char('[') => PreviewMsg::PrevSplit,
        _ => return Vec::new(),
    };
    app.preview_msg(msg)
}

fn on_form_key(app: &mut App, mut form: DownloadForm, key: KeyEvent) -> Vec<Effect> {
    let ctrl = key
        .modifiers
        .contains(crossterm::event::KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Esc => {
            app.overlay = None;
            return Vec::new();
        }
        KeyCode::Char('c') if ctrl => return vec![Effect::Quit],
        KeyCode::Enter => {
            app.overlay = None;
            return vec![Effect::Submit(form.params())];
        }
        KeyCode::Tab | KeyCode::Down => form.field = (form.field + 1) % DownloadForm::FIELDS,
        KeyCode::BackTab | KeyCode::Up => {
            form.field = (form.field + DownloadForm::FIELDS - 1) % DownloadForm::FIELDS;
        }
        KeyCode::Char(' ') if form.field == 3 => form.force = !form.force,
        KeyCode::Backspace => {
            if let Some(text) = form.text_mut() {
                text.pop();
            }
        }
        KeyCode::Char('u') if ctrl => {
            if let Some(text) = form.text_mut() {
                text.clear();
            }
        }
        KeyCode::Char(c) if !ctrl => {
            if let Some(text) = form.text_mut() {
                text.push(c);
            }
        }
        _ => {}
    }
    app.overlay = Some(Overlay::Download(form));
    Vec::new()
}

/// Moves a list selection, clamped to `len`.
fn moved(selected: usize, command: Command, len: usize, page: usize) -> usize {
    let last = len.saturating_sub(1);
    match command {
        Command::Up => selected.saturating_sub(1),
        Command::Down => (selected + 1).min(last),
        Command::PageUp => selected.saturating_sub(page),
        Command::PageDown => (selected + page).min(last),
        Command::First => 0,
        Command::Last => last,
        _ => selected,
    }
    .min(last)
}

fn run_command(app: &mut App, command: Command, key: KeyEvent) -> Vec<Effect> {
    let page = view::table_rows(app).max(1);
    match command {
        Command::Quit => return vec![Effect::Quit],
        Command::Help => {
            app.overlay = match app.overlay {
                Some(Overlay::Help { .. }) => None,
                _ => Some(Overlay::Help { scroll: 0 }),
            };
        }
        Command::CloseHelp => app.overlay = None,
        Command::HelpUp | Command::HelpDown => {
            if let Some(Overlay::Help { scroll }) = &mut app.overlay {
                *scroll = if command == Command::HelpUp {
                    scroll.saturating_sub(1)
                } else {
                    (*scroll + 1).min(app.keymap.bindings().len())
                };
            }
        }
        Command::SyncNow => {
            app.notify("asking the daemon to sync…", Level::Info);
            return vec![Effect::SyncNow];
        }
        Command::FocusSearch => {
            app.view = View::Search;
            app.focus = Focus::Query;
            app.cursor = app.query_len();
        }
        Command::ViewSearch => app.view = View::Search,
        Command::ViewFollows => {
            app.view = View::Follows;
            return vec![Effect::LoadFollows];
        }
        Command::ViewJobs => {
            app.view = View::Jobs;
            return vec![Effect::LoadJobs];
        }
        Command::Refresh => return refresh(app),
        Command::Up
        | Command::Down
        | Command::PageUp
        | Command::PageDown
        | Command::First
        | Command::Last => match app.view {
            View::Search => {
                let len = app.hits().len();
                let index = moved(app.selected, command, len, page);
                app.select(index);
            }
            View::Follows => {
                let len = app.follows.items().len();
                app.follows_selected = moved(app.follows_selected, command, len, page);
            }
            View::Jobs => {
                let len = app.jobs.items().len();
                app.jobs_selected = moved(app.jobs_selected, command, len, page);
            }
        },
        Command::Open => match app.view {
            View::Search => return open_preview(app),
            View::Follows => {
                if let Some(id) = app
                    .selected_follow()
                    .and_then(|f| DatasetId::new(&f.dataset).ok())
                {
                    return app.open_dataset(id);
                }
            }
            View::Jobs => {
                if let Some(id) = app.selected_job().map(|j| j.params.dataset().clone()) {
                    return app.open_dataset(id);
                }
            }
        },
        Command::Back => {
            app.focus = Focus::Results;
        }
        Command::Follow => {
            if let Some((id, _)) = app.target() {
                return if app.followed.contains(id.as_str()) {
                    vec![Effect::Unfollow(id)]
                } else {
                    vec![Effect::Follow(id)]
                };
            }
        }
        Command::Download => {
            if let Some((dataset, _)) = app.target() {
                app.overlay = Some(Overlay::Download(DownloadForm {
                    dataset,
                    revision: DEFAULT_REVISION.to_string(),
                    include: String::new(),
                    exclude: String::new(),
                    force: false,
                    field: 0,
                }));
            }
        }
        Command::Update => {
            if let Some((id, _)) = app.target() {
                let Some(downloaded) = app.downloads.get(id.as_str()) else {
                    let d = app.keymap.key_for(Command::Download);
                    app.notify(
                        format!("{id} is not downloaded; {d} downloads it"),
                        Level::Error,
                    );
                    return Vec::new();
                };
                let branch = downloaded
                    .revisions
                    .iter()
                    .flat_map(|r| r.refs.iter())
                    .find(|r| !r.starts_with("refs/"))
                    .cloned()
                    .unwrap_or_else(|| DEFAULT_REVISION.to_string());
                return vec![Effect::Submit(JobParams::Update(UpdateParams {
                    dataset: id,
                    revision: branch,
                }))];
            }
        }
        Command::Delete => {
            if let Some((dataset, _)) = app.target() {
                match app.downloads.get(dataset.as_str()) {
                    Some(downloaded) => {
                        app.overlay = Some(Overlay::ConfirmDelete {
                            bytes: downloaded.size_on_disk,
                            dataset,
                        });
                    }
                    None => app.notify(format!("nothing of {dataset} is downloaded"), Level::Info),
                }
            }
        }
        Command::CopyId => {
            if let Some((id, _)) = app.target() {
                app.notify(format!("copied {id}"), Level::Ok);
                return vec![Effect::Copy(id.to_string())];
            }
        }
        Command::OpenUrl => {
            if let Some((id, _)) = app.target() {
                let endpoint = app
                    .status
                    .as_ref()
                    .map_or(format::DEFAULT_ENDPOINT, |s| s.endpoint.as_str());
                let url = id.web_url(endpoint);
                app.notify_for(url, Level::Info, URL_SECONDS);
            }
        }
        Command::Mark => {
            if let Some(hit) = app.selected_hit().cloned() {
                if app.marks.remove(&hit.id).is_none() {
                    app.marks.insert(hit.id.clone(), hit);
                }
                let next = app.selected + 1;
                app.select(next);
            }
        }
        Command::Combine => {
            if app.marks.len() < 2 {
                let mark = app.keymap.key_for(Command::Mark);
                app.notify(
                    format!("mark two or more datasets with {mark} to combine them"),
                    Level::Info,
                );
            } else {
                app.overlay = Some(Overlay::Combined(app.marks.values().cloned().collect()));
            }
        }
        Command::CycleSort => {
            let key = app.sort.key.next();
            app.sort = if key == SortKey::Relevance {
                Sort::descending(key)
            } else {
                Sort {
                    key,
                    order: app.sort.order,
                }
            };
            return refresh_search(app);
        }
        Command::ReverseSort => {
            if app.sort.key == SortKey::Relevance {
                app.notify("relevance only runs best first", Level::Info);
                return Vec::new();
            }
            app.sort.order = match app.sort.order {
                Order::Descending => Order::Ascending,
                Order::Ascending => Order::Descending,
            };
            return refresh_search(app);
        }
        Command::Facets => {
            if app.facet_chips().is_empty() {
                app.notify("no facets for these results", Level::Info);
            } else {
                app.focus = Focus::Facets;
                app.facet = app.facet.min(app.facet_chips().len() - 1);
            }
        }
        Command::FacetLeft => app.facet = app.facet.saturating_sub(1),
        Command::FacetRight => {
            app.facet = (app.facet + 1).min(app.facet_chips().len().saturating_sub(1));
        }
        Command::FacetApply => return apply_facet(app, app.facet),
        Command::TogglePreview => {
            app.show_preview = !app.show_preview;
            if !app.show_preview && app.focus == Focus::Preview {
                app.focus = Focus::Results;
            }
            app.scroll_table();
        }
        Command::NextTab => return tab(app, PreviewMsg::NextTab),
        Command::PrevTab => return tab(app, PreviewMsg::PrevTab),
        Command::Tab1 | Command::Tab2 | Command::Tab3 | Command::Tab4 | Command::Tab5 => {
            let n = match command {
                Command::Tab1 => 1,
                Command::Tab2 => 2,
                Command::Tab3 => 3,
                Command::Tab4 => 4,
                _ => 5,
            };
            if let Some(t) = Tab::from_number(n) {
                return tab(app, PreviewMsg::Select(t));
            }
        }
        Command::MarkSeen => {
            if let Some(id) = app
                .selected_follow()
                .and_then(|f| DatasetId::new(&f.dataset).ok())
            {
                return vec![Effect::MarkSeen(id)];
            }
        }
        Command::CancelJob => {
            if let Some(job) = app.selected_job() {
                if job.state.is_finished() {
                    let id = job.id;
                    app.notify(format!("job #{id} already finished"), Level::Info);
                } else {
                    return vec![Effect::Cancel(job.id)];
                }
            }
        }
        Command::LeaveSearch => {
            app.focus = Focus::Results;
            if key.code == KeyCode::Enter && app.selected_hit().is_some() {
                return open_preview(app);
            }
        }
        Command::Type => {
            if let KeyCode::Char(c) = key.code {
                app.view = View::Search;
                if app.focus != Focus::Query {
                    app.focus = Focus::Query;
                    app.cursor = app.query_len();
                }
                app.insert(c.encode_utf8(&mut [0; 4]));
                return app.query_changed();
            }
        }
        Command::CursorLeft => app.cursor = app.cursor.saturating_sub(1),
        Command::CursorRight => app.cursor = (app.cursor + 1).min(app.query_len()),
        Command::CursorStart => app.cursor = 0,
        Command::CursorEnd => app.cursor = app.query_len(),
        Command::DeleteBack => {
            if app.cursor > 0 {
                app.remove(app.cursor - 1, app.cursor);
                return app.query_changed();
            }
        }
        Command::DeleteForward => {
            if app.cursor < app.query_len() {
                app.remove(app.cursor, app.cursor + 1);
                return app.query_changed();
            }
        }
        Command::DeleteWord => {
            let start = app.word_start();
            if start < app.cursor {
                app.remove(start, app.cursor);
                return app.query_changed();
            }
        }
        Command::ClearQuery => {
            if !app.query.is_empty() {
                app.query.clear();
                app.cursor = 0;
                return app.query_changed();
            }
        }
    }
    Vec::new()
}

/// Switches the preview tab, showing the pane (and giving it the keyboard) when hidden.
fn tab(app: &mut App, msg: PreviewMsg) -> Vec<Effect> {
    if !app.preview_visible() {
        app.show_preview = true;
        app.scroll_table();
    }
    let mut effects = app.sync_preview();
    effects.extend(app.preview_msg(msg));
    effects
}

fn refresh(app: &mut App) -> Vec<Effect> {
    match app.view {
        View::Search => {
            let mut effects = refresh_search(app);
            effects.extend([
                Effect::LoadStatus,
                Effect::LoadDownloads,
                Effect::LoadFollows,
            ]);
            if app.focus == Focus::Preview {
                effects.extend(app.preview_msg(PreviewMsg::Retry));
            }
            effects
        }
        View::Follows => vec![Effect::LoadFollows],
        View::Jobs => match app.selected_job() {
            Some(job) if matches!(job.state, JobState::Failed | JobState::Cancelled) => {
                vec![Effect::Submit(job.params.clone())]
            }
            _ => vec![Effect::LoadJobs, Effect::LoadDownloads],
        },
    }
}

/// Adds facet chip `index` to the query and searches.
fn apply_facet(app: &mut App, index: usize) -> Vec<Effect> {
    let Some((text, _)) = app.facet_chips().into_iter().nth(index) else {
        return Vec::new();
    };
    let trimmed = app.query.trim_end().to_string();
    app.query = if trimmed.is_empty() {
        text
    } else {
        format!("{trimmed} {text}")
    };
    app.cursor = app.query_len();
    app.focus = Focus::Results;
    app.query_changed()
}

fn on_mouse(app: &mut App, mouse: MouseEvent) -> Vec<Effect> {
    if app.overlay.is_some() {
        if matches!(mouse.kind, MouseEventKind::Down(MouseButton::Left))
            && matches!(
                app.overlay,
                Some(Overlay::Help { .. } | Overlay::Combined(_))
            )
        {
            app.overlay = None;
        }
        return Vec::new();
    }
    let at = Position::new(mouse.column, mouse.row);
    let areas = view::layout(app, app.screen());
    if let Some(view) = view::view_tab_at(app, at) {
        if matches!(mouse.kind, MouseEventKind::Down(MouseButton::Left)) {
            app.view = view;
            return match view {
                View::Search => Vec::new(),
                View::Follows => vec![Effect::LoadFollows],
                View::Jobs => vec![Effect::LoadJobs],
            };
        }
        return Vec::new();
    }
    let wheel = match mouse.kind {
        MouseEventKind::ScrollDown => Some(true),
        MouseEventKind::ScrollUp => Some(false),
        _ => None,
    };
    let click = matches!(mouse.kind, MouseEventKind::Down(MouseButton::Left));
    if let Some(preview) = areas.preview.filter(|r| r.contains(at)) {
        if let Some(down) = wheel {
            return app.preview_msg(if down {
                PreviewMsg::Down(WHEEL)
            } else {
                PreviewMsg::Up(WHEEL)
            });
        }
        if click {
            app.focus = Focus::Preview;
            if let Some(t) = app.preview.tab_at(preview, at.x, at.y) {
                return app.preview_msg(PreviewMsg::Select(t));
            }
        }
        return Vec::new();
    }
    if app.view == View::Search {
        if click && areas.search.contains(at) {
            app.focus = Focus::Query;
            app.cursor = app.query_len();
            return Vec::new();
        }
        if click && let Some(i) = view::facet_at(app, at) {
            return apply_facet(app, i);
        }
    }
    if !areas.body.contains(at) {
        return Vec::new();
    }
    if let Some(down) = wheel {
        let command = if down { Command::Down } else { Command::Up };
        for _ in 0..WHEEL {
            run_command(app, command, KeyEvent::from(KeyCode::Null));
        }
        return Vec::new();
    }
    if click && let Some(row) = view::list_row_at(app, at) {
        match app.view {
            View::Search => {
                app.focus = Focus::Results;
                app.select(row);
            }
            View::Follows => {
                app.follows_selected = row.min(app.follows.items().len().saturating_sub(1));
            }
            View::Jobs => app.jobs_selected = row.min(app.jobs.items().len().saturating_sub(1)),
        }
    }
    Vec::new()
}

/// True when the job is a download or update that moved bytes (for the view's gauges).
pub fn transfers(job: &Job) -> bool {
    matches!(job.params.kind(), JobKind::Download | JobKind::Update)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::preview::{PreviewAnswer, PreviewLoad};
    use crate::ui::testdata;
    use crossterm::event::KeyModifiers;
    use hubdex_ipc::{DownloadedRevision, JobProgress};

    fn key(code: KeyCode) -> Action {
        Action::Key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn char(c: char) -> Action {
        key(KeyCode::Char(c))
    }

    fn ctrl(c: char) -> Action {
        Action::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
    }

    /// Types `text`: into the search box (`/` first when it lacks the focus), or the form.
    fn typed(app: &mut App, text: &str) -> Vec<Effect> {
        if app.overlay.is_none() && app.mode() != Mode::Query {
            update(app, char('/'));
        }
        text.chars().flat_map(|c| update(app, char(c))).collect()
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
            facets: Some(testdata::facets(&hits)),
            hits,
        }
    }

    fn app_at(width: u16, height: u16) -> App {
        App::new(
            Theme::dark(),
            Arc::new(Keymap::default()),
            (width, height),
            testdata::now(),
        )
    }

    /// An 80x24 app that has shown the fixture hits for the empty query, with the results
    /// focused.
    fn loaded() -> App {
        let mut app = app_at(80, 24);
        let start = app.start();
        let job = jobs(&start).remove(0);
        update(
            &mut app,
            Action::SearchDone {
                job,
                result: Ok(response(testdata::hits())),
            },
        );
        update(&mut app, key(KeyCode::Esc));
        app
    }

    fn id(text: &str) -> DatasetId {
        DatasetId::new(text).unwrap()
    }

    fn job(id: JobId, params: JobParams, state: JobState) -> Job {
        Job {
            id,
            params,
            state,
            progress: JobProgress::default(),
            error: None,
            summary: None,
            commit: None,
            created_at: testdata::now(),
            started_at: None,
            finished_at: None,
        }
    }

    fn download_params(dataset: &str) -> JobParams {
        JobParams::Download(DownloadParams {
            dataset: id(dataset),
            revision: "main".into(),
            include: Vec::new(),
            exclude: Vec::new(),
            force: false,
        })
    }

    fn downloaded(dataset: &str, bytes: u64) -> Downloaded {
        Downloaded {
            dataset: id(dataset),
            path: "/cache".into(),
            size_on_disk: bytes,
            revisions: vec![DownloadedRevision {
                commit: "abc".into(),
                refs: vec!["main".into()],
                files: 2,
                size: bytes,
                modified_at: None,
            }],
        }
    }

    fn follow(dataset: &str) -> Follow {
        Follow {
            dataset: dataset.into(),
            followed_at: testdata::now(),
            seen_at: testdata::now(),
            current: testdata::hits()
                .into_iter()
                .find(|d| d.id.as_str() == dataset),
            changes: Vec::new(),
        }
    }

    #[test]
    fn starts_loading_and_asks_for_search_status_follows_downloads_and_jobs() {
        let mut app = app_at(80, 24);
        assert_eq!(app.results, Results::Loading);
        assert_eq!(app.mode(), Mode::Query, "typing searches at once");
        let effects = app.start();
        let job = &jobs(&effects)[0];
        assert_eq!(job.request.query, "");
        assert_eq!(job.request.sort, Some(Sort::default()));
        assert!(job.request.facets);
        for wanted in [
            Effect::LoadStatus,
            Effect::LoadFollows,
            Effect::LoadDownloads,
            Effect::LoadJobs,
        ] {
            assert!(effects.contains(&wanted), "{wanted:?}");
        }
    }

    #[test]
    fn typing_searches_with_increasing_ids() {
        let mut app = loaded();
        let effects = typed(&mut app, "gsm");
        assert_eq!(
            app.focus,
            Focus::Query,
            "typing in the results focuses search"
        );
        let ids: Vec<u64> = jobs(&effects).iter().map(|j| j.id).collect();
        assert_eq!(ids.len(), 3);
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        let queries: Vec<String> = jobs(&effects)
            .into_iter()
            .map(|j| j.request.query)
            .collect();
        assert_eq!(queries, ["g", "gs", "gsm"]);
        assert!(app.searching());
    }

    #[test]
    fn slash_focuses_search_and_esc_enter_leave_it() {
        let mut app = loaded();
        update(&mut app, char('/'));
        assert_eq!(app.focus, Focus::Query);
        update(&mut app, char('q'));
        assert_eq!(app.query, "q", "q types in the search box");
        update(&mut app, key(KeyCode::Esc));
        assert_eq!(app.focus, Focus::Results);
        assert_eq!(update(&mut app, char('q')), [Effect::Quit]);
    }

    #[test]
    fn a_mistake_in_the_query_is_placed_and_not_searched() {
        let mut app = loaded();
        let effects = typed(&mut app, "lisense:mit");
        let mistake = app.mistake.clone().unwrap();
        assert_eq!((mistake.start, mistake.end), (0, 7), "{mistake:?}");
        assert!(
            mistake.message.contains("did you mean \"license\""),
            "{mistake:?}"
        );
        assert_eq!(
            jobs(&effects).last().unwrap().request.query,
            "lisense:",
            "the last search was before the value"
        );
        for _ in 0.."lisense:mit".len() {
            update(&mut app, key(KeyCode::Left));
        }
        update(&mut app, key(KeyCode::Delete));
        let effects = typed(&mut app, "L");
        assert_eq!(app.query, "Lisense:mit");
        assert!(app.mistake.is_some());
        assert!(jobs(&effects).is_empty());
        update(&mut app, ctrl('u'));
        assert!(app.mistake.is_none());
    }

    #[test]
    fn an_older_answer_never_overwrites_a_newer_one() {
        let mut app = loaded();
        let first = jobs(&typed(&mut app, "c")).remove(0);
        let second = jobs(&typed(&mut app, "4")).remove(0);
        let c4: Vec<Dataset> = testdata::hits()
            .into_iter()
            .filter(|d| d.id.as_str() == "allenai/c4")
            .collect();
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
    fn a_failed_search_says_why() {
        let mut app = loaded();
        let job = jobs(&typed(&mut app, "x")).remove(0);
        update(
            &mut app,
            Action::SearchDone {
                job,
                result: Err("bad query".into()),
            },
        );
        assert_eq!(app.results, Results::Failed("bad query".into()));
    }

    #[test]
    fn selection_moves_with_vim_keys_and_clamps() {
        let mut app = loaded();
        let n = app.hits().len();
        update(&mut app, char('k'));
        assert_eq!(app.selected, 0);
        update(&mut app, char('j'));
        update(&mut app, key(KeyCode::Down));
        assert_eq!(app.selected, 2);
        update(&mut app, key(KeyCode::PageDown));
        assert_eq!(app.selected, n - 1);
        update(&mut app, char('j'));
        assert_eq!(app.selected, n - 1);
        update(&mut app, char('g'));
        assert_eq!(app.selected, 0);
        update(&mut app, char('G'));
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
                height: 10,
            },
        );
        let rows = view::table_rows(&app);
        assert!(rows >= 1 && rows < app.hits().len(), "{rows} rows");
        update(&mut app, char('G'));
        assert_eq!(app.offset, app.hits().len() - rows);
        update(&mut app, char('g'));
        assert_eq!(app.offset, 0);
    }

    #[test]
    fn enter_opens_the_preview_which_loads_its_tab_and_the_full_record() {
        let mut app = loaded();
        update(&mut app, char('j'));
        let hit = app.selected_hit().unwrap().clone();
        let effects = update(&mut app, key(KeyCode::Enter));
        assert_eq!(app.focus, Focus::Preview);
        assert!(app.preview_visible(), "the narrow preview opens");
        assert!(effects.contains(&Effect::LoadDataset(hit.id.clone())));
        let card = effects
            .iter()
            .find_map(|e| match e {
                Effect::Preview(r) => Some(r.clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!(card.load, PreviewLoad::Card(hit.id.clone()));
        // Tab 2 asks for the files; Esc goes back to the results.
        let effects = update(&mut app, char('2'));
        assert!(effects.iter().any(|e| matches!(
            e,
            Effect::Preview(r) if r.load == PreviewLoad::Files(hit.id.clone(), None)
        )));
        update(&mut app, key(KeyCode::Esc));
        assert_eq!(app.focus, Focus::Results);
    }

    #[test]
    fn moving_the_selection_moves_the_preview_on_a_wide_terminal() {
        let mut app = loaded();
        let effects = update(
            &mut app,
            Action::Resize {
                width: 160,
                height: 48,
            },
        );
        assert!(app.preview_visible());
        assert_eq!(app.preview.dataset().unwrap().id, app.hits()[0].id);
        assert!(effects.iter().any(|e| matches!(e, Effect::Preview(_))));
        update(&mut app, char('j'));
        assert_eq!(app.preview.dataset().unwrap().id, app.hits()[1].id);
    }

    #[test]
    fn preview_answers_reach_the_preview() {
        let mut app = loaded();
        let effects = update(&mut app, key(KeyCode::Enter));
        let request = effects
            .iter()
            .find_map(|e| match e {
                Effect::Preview(r) => Some(r.clone()),
                _ => None,
            })
            .unwrap();
        assert!(app.preview.loading());
        update(
            &mut app,
            Action::Preview(PreviewMsg::Loaded {
                request: request.id,
                answer: Err::<PreviewAnswer, _>("the Hub is offline".into()),
            }),
        );
        assert!(!app.preview.loading());
        // r retries the failed tab.
        let effects = update(&mut app, char('r'));
        assert!(effects.iter().any(|e| matches!(e, Effect::Preview(_))));
    }

    #[test]
    fn p_toggles_the_narrow_preview() {
        let mut app = loaded();
        let rows = view::table_rows(&app);
        update(&mut app, char('p'));
        assert!(app.preview_visible());
        assert!(view::table_rows(&app) < rows);
        update(&mut app, char('p'));
        assert!(!app.preview_visible());
        assert_eq!(view::table_rows(&app), rows);
    }

    #[test]
    fn f_follows_and_unfollows_the_selected_dataset() {
        let mut app = loaded();
        let first = app.hits()[0].id.clone();
        assert_eq!(update(&mut app, char('f')), [Effect::Follow(first.clone())]);
        let effects = update(
            &mut app,
            Action::FollowDone {
                id: first.clone(),
                follow: true,
                result: Ok(()),
            },
        );
        assert_eq!(effects, [Effect::LoadFollows]);
        assert!(app.followed.contains(first.as_str()));
        assert_eq!(
            update(&mut app, char('f')),
            [Effect::Unfollow(first.clone())]
        );
        update(
            &mut app,
            Action::FollowDone {
                id: first.clone(),
                follow: false,
                result: Ok(()),
            },
        );
        assert!(!app.followed.contains(first.as_str()));
        update(
            &mut app,
            Action::FollowDone {
                id: first,
                follow: true,
                result: Err("the daemon is busy".into()),
            },
        );
        assert_eq!(app.notice.as_ref().unwrap().level, Level::Error);
    }

    #[test]
    fn d_opens_the_download_form_and_enter_submits_it() {
        let mut app = loaded();
        let first = app.hits()[0].id.clone();
        update(&mut app, char('d'));
        assert!(matches!(app.overlay, Some(Overlay::Download(_))));
        update(&mut app, key(KeyCode::Backspace));
        update(&mut app, key(KeyCode::Backspace));
        update(&mut app, key(KeyCode::Backspace));
        update(&mut app, key(KeyCode::Backspace));
        typed(&mut app, "v1.0");
        update(&mut app, key(KeyCode::Tab));
        typed(&mut app, "*.parquet, README.md");
        update(&mut app, key(KeyCode::Tab));
        typed(&mut app, "test/*");
        update(&mut app, key(KeyCode::Tab));
        update(&mut app, char(' '));
        let effects = update(&mut app, key(KeyCode::Enter));
        assert_eq!(
            effects,
            [Effect::Submit(JobParams::Download(DownloadParams {
                dataset: first,
                revision: "v1.0".into(),
                include: vec!["*.parquet".into(), "README.md".into()],
                exclude: vec!["test/*".into()],
                force: true,
            }))]
        );
        assert!(app.overlay.is_none());
        update(&mut app, char('d'));
        update(&mut app, key(KeyCode::Esc));
        assert!(app.overlay.is_none(), "Esc cancels the form");
    }

    #[test]
    fn x_asks_before_deleting_and_says_how_much_is_freed() {
        let mut app = loaded();
        update(&mut app, char('x'));
        assert!(app.overlay.is_none(), "nothing downloaded, nothing to ask");
        assert!(app.notice.as_ref().unwrap().text.contains("nothing of"));
        let first = app.hits()[0].id.clone();
        update(
            &mut app,
            Action::DownloadsLoaded(Ok(vec![downloaded(first.as_str(), 1_500_000)])),
        );
        update(&mut app, char('x'));
        assert_eq!(
            app.overlay,
            Some(Overlay::ConfirmDelete {
                dataset: first.clone(),
                bytes: 1_500_000
            })
        );
        assert!(update(&mut app, char('n')).is_empty());
        assert!(app.overlay.is_none());
        update(&mut app, char('x'));
        assert_eq!(
            update(&mut app, char('y')),
            [Effect::Submit(JobParams::Delete(DeleteParams {
                dataset: first,
                revision: None,
                all: true
            }))]
        );
    }

    #[test]
    fn u_updates_only_what_is_downloaded() {
        let mut app = loaded();
        update(&mut app, char('u'));
        assert!(app.notice.as_ref().unwrap().text.contains("not downloaded"));
        let first = app.hits()[0].id.clone();
        update(
            &mut app,
            Action::DownloadsLoaded(Ok(vec![downloaded(first.as_str(), 10)])),
        );
        assert_eq!(
            update(&mut app, char('u')),
            [Effect::Submit(JobParams::Update(UpdateParams {
                dataset: first,
                revision: "main".into()
            }))]
        );
    }

    #[test]
    fn space_marks_and_c_combines_two_or_more() {
        let mut app = loaded();
        update(&mut app, char('c'));
        assert!(app.overlay.is_none());
        assert!(
            app.notice
                .as_ref()
                .unwrap()
                .text
                .contains("mark two or more")
        );
        update(&mut app, char(' '));
        assert_eq!(app.selected, 1, "marking moves down");
        update(&mut app, char(' '));
        assert_eq!(app.marks.len(), 2);
        update(&mut app, char('c'));
        match &app.overlay {
            Some(Overlay::Combined(datasets)) => assert_eq!(datasets.len(), 2),
            other => panic!("{other:?}"),
        }
        update(&mut app, key(KeyCode::Esc));
        assert!(app.overlay.is_none());
        update(&mut app, char('k'));
        update(&mut app, char(' '));
        assert_eq!(app.marks.len(), 1, "space again unmarks");
    }

    #[test]
    fn y_copies_the_id_and_o_shows_the_url() {
        let mut app = loaded();
        update(&mut app, Action::StatusLoaded(testdata::status()));
        let first = app.hits()[0].id.clone();
        assert_eq!(
            update(&mut app, char('y')),
            [Effect::Copy(first.to_string())]
        );
        update(&mut app, char('o'));
        assert_eq!(
            app.notice.as_ref().unwrap().text,
            format!("https://huggingface.co/datasets/{first}")
        );
    }

    #[test]
    fn s_cycles_the_sort_and_capital_s_flips_it() {
        let mut app = loaded();
        let mut seen = Vec::new();
        for _ in 0..SortKey::ALL.len() {
            let effects = update(&mut app, char('s'));
            seen.push(jobs(&effects)[0].request.sort.unwrap().key);
        }
        let mut want = SortKey::ALL.to_vec();
        want.rotate_left(1);
        assert_eq!(seen, want);
        update(&mut app, char('S'));
        assert!(app.notice.as_ref().unwrap().text.contains("relevance"));
        update(&mut app, char('s'));
        let effects = update(&mut app, char('S'));
        assert_eq!(
            jobs(&effects)[0].request.sort,
            Some(Sort::ascending(SortKey::Downloads))
        );
    }

    #[test]
    fn facets_narrow_the_query() {
        let mut app = loaded();
        let chips = app.facet_chips();
        assert!(!chips.is_empty());
        update(&mut app, char('n'));
        assert_eq!(app.focus, Focus::Facets);
        update(&mut app, key(KeyCode::Right));
        assert_eq!(app.facet, 1);
        update(&mut app, key(KeyCode::Left));
        let effects = update(&mut app, key(KeyCode::Enter));
        assert_eq!(jobs(&effects)[0].request.query, chips[0].0);
        assert_eq!(app.focus, Focus::Results);
    }

    #[test]
    fn views_switch_with_keys_and_load_their_lists() {
        let mut app = loaded();
        assert_eq!(update(&mut app, char('F')), [Effect::LoadFollows]);
        assert_eq!(app.view, View::Follows);
        assert_eq!(update(&mut app, char('J')), [Effect::LoadJobs]);
        assert_eq!(app.view, View::Jobs);
        update(&mut app, key(KeyCode::F(2)));
        assert_eq!(app.view, View::Search);
        update(&mut app, char('J'));
        update(&mut app, char('/'));
        assert_eq!((app.view, app.focus), (View::Search, Focus::Query));
    }

    #[test]
    fn follows_view_marks_seen_and_opens_the_dataset() {
        let mut app = loaded();
        update(&mut app, char('F'));
        update(
            &mut app,
            Action::FollowsLoaded(Ok(vec![follow("openai/gsm8k"), follow("allenai/c4")])),
        );
        assert!(app.followed.contains("allenai/c4"));
        update(&mut app, char('j'));
        assert_eq!(
            update(&mut app, char('m')),
            [Effect::MarkSeen(id("allenai/c4"))]
        );
        update(&mut app, Action::MarkSeenDone(Ok(follow("allenai/c4"))));
        assert_eq!(
            update(&mut app, char('f')),
            [Effect::Unfollow(id("allenai/c4"))]
        );
        let effects = update(&mut app, key(KeyCode::Enter));
        assert_eq!(app.view, View::Search);
        let search = jobs(&effects).remove(0);
        assert_eq!(search.request.query, "allenai/c4");
        let effects = update(
            &mut app,
            Action::SearchDone {
                job: search,
                result: Ok(response(testdata::hits())),
            },
        );
        assert_eq!(app.selected_hit().unwrap().id.as_str(), "allenai/c4");
        assert_eq!(app.focus, Focus::Preview);
        assert!(effects.contains(&Effect::LoadDataset(id("allenai/c4"))));
        update(&mut app, Action::FollowsLoaded(Err("no follows".into())));
        assert_eq!(app.follows, Listed::Failed("no follows".into()));
    }

    #[test]
    fn jobs_view_follows_events_cancels_and_retries() {
        let mut app = loaded();
        update(&mut app, char('J'));
        let running = job(1, download_params("openai/gsm8k"), JobState::Running);
        let failed = job(2, download_params("allenai/c4"), JobState::Failed);
        update(
            &mut app,
            Action::JobsLoaded(Ok(vec![running.clone(), failed])),
        );
        assert_eq!(app.selected_job().unwrap().id, 2, "newest first");
        let retried = update(&mut app, char('r'));
        assert_eq!(retried, [Effect::Submit(download_params("allenai/c4"))]);
        update(&mut app, char('j'));
        assert_eq!(update(&mut app, char('c')), [Effect::Cancel(1)]);
        let mut event = JobEvent::from(&running);
        event.progress.bytes_done = 50;
        event.progress.bytes_total = 100;
        assert!(update(&mut app, Action::JobChanged(event.clone())).is_empty());
        assert_eq!(app.selected_job().unwrap().progress.bytes_done, 50);
        event.state = JobState::Succeeded;
        let effects = update(&mut app, Action::JobChanged(event));
        assert_eq!(effects, [Effect::LoadJobs, Effect::LoadDownloads]);
        assert_eq!(app.notice.as_ref().unwrap().level, Level::Ok);
        update(&mut app, char('c'));
        assert!(
            app.notice
                .as_ref()
                .unwrap()
                .text
                .contains("already finished")
        );
        let opened = update(&mut app, key(KeyCode::Enter));
        assert_eq!(jobs(&opened)[0].request.query, "openai/gsm8k");
        // An event for an unknown job loads the list.
        let other = job(9, download_params("glue"), JobState::Queued);
        assert_eq!(
            update(&mut app, Action::JobChanged(JobEvent::from(&other))),
            [Effect::LoadJobs]
        );
    }

    #[test]
    fn submitted_and_cancelled_jobs_are_reported() {
        let mut app = loaded();
        let queued = job(3, download_params("glue"), JobState::Queued);
        update(&mut app, Action::JobSubmitted(Ok(queued.clone())));
        assert!(
            app.notice
                .as_ref()
                .unwrap()
                .text
                .starts_with("job #3: download glue")
        );
        assert_eq!(app.jobs.items().len(), 1);
        let mut cancelled = queued;
        cancelled.state = JobState::Cancelled;
        update(&mut app, Action::JobCancelled(Ok(cancelled)));
        assert_eq!(app.jobs.items()[0].state, JobState::Cancelled);
        update(&mut app, Action::JobSubmitted(Err("gated".into())));
        assert_eq!(app.notice.as_ref().unwrap().text, "gated");
        update(&mut app, Action::JobsLoaded(Err("down".into())));
        assert_eq!(app.jobs, Listed::Failed("down".into()));
    }

    #[test]
    fn help_opens_scrolls_and_swallows_other_keys() {
        let mut app = loaded();
        update(&mut app, char('?'));
        assert_eq!(app.mode(), Mode::Help);
        update(&mut app, char('j'));
        assert_eq!(app.overlay, Some(Overlay::Help { scroll: 1 }));
        assert!(update(&mut app, char('f')).is_empty());
        update(&mut app, char('q'));
        assert!(app.overlay.is_none());
        update(&mut app, char('/'));
        update(&mut app, key(KeyCode::F(1)));
        assert_eq!(app.mode(), Mode::Help, "F1 opens the help while typing");
        assert_eq!(update(&mut app, ctrl('c')), [Effect::Quit]);
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
        update(&mut app, ctrl('w'));
        assert_eq!(app.query, "open ");
        update(&mut app, ctrl('a'));
        assert!(update(&mut app, key(KeyCode::Backspace)).is_empty());
        typed(&mut app, "中");
        assert_eq!((app.query.as_str(), app.cursor), ("中open ", 1));
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
    fn a_refresh_keeps_the_selected_dataset_and_a_new_query_does_not() {
        let mut app = loaded();
        update(&mut app, char('j'));
        update(&mut app, char('j'));
        let selected = app.selected_hit().unwrap().id.clone();
        let effects = update(&mut app, char('r'));
        assert!(effects.contains(&Effect::LoadDownloads));
        let mut hits = testdata::hits();
        hits.rotate_left(1);
        update(
            &mut app,
            Action::SearchDone {
                job: jobs(&effects).remove(0),
                result: Ok(response(hits.clone())),
            },
        );
        assert_eq!(app.selected_hit().unwrap().id, selected);
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
    fn daemon_lost_and_back_change_the_status_and_reload_everything() {
        let mut app = loaded();
        update(&mut app, Action::DaemonLost("connection reset".into()));
        assert_eq!(app.connection, Connection::Lost("connection reset".into()));
        assert_eq!(app.hits().len(), 10, "the last results stay on screen");
        let effects = update(&mut app, Action::DaemonBack);
        assert_eq!(app.connection, Connection::Connected);
        for wanted in [Effect::LoadStatus, Effect::LoadFollows, Effect::LoadJobs] {
            assert!(effects.contains(&wanted), "{wanted:?}");
        }
        assert_eq!(jobs(&effects).len(), 1, "the search is run again");
        update(&mut app, Action::DaemonLost("connection reset".into()));
        update(&mut app, Action::StatusLoaded(testdata::status()));
        assert_eq!(app.connection, Connection::Connected);
        let rebuilding = StartupProgress {
            step: hubdex_ipc::StartupStep::RebuildingIndex {
                read: 10_000,
                of: 50_000,
            },
            since: testdata::now(),
        };
        update(&mut app, Action::DaemonStarting(rebuilding.clone()));
        assert_eq!(app.connection, Connection::Starting(rebuilding));
        assert_eq!(app.hits().len(), 10, "the last results stay on screen");
        update(&mut app, Action::DaemonBack);
        assert_eq!(app.connection, Connection::Connected);
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
            records: 2500,
            ..SyncReport::default()
        };
        let effects = update(&mut app, Action::SyncFinished(report));
        assert_eq!(
            app.notice.as_ref().unwrap().text,
            "sync finished: 2,500 records"
        );
        assert_eq!(jobs(&effects).len(), 1, "new records are searched");
    }

    #[test]
    fn notices_expire_with_the_clock() {
        let mut app = loaded();
        update(&mut app, Action::SyncRequested(Err("unreachable".into())));
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
    }

    #[test]
    fn a_failed_load_is_reported_and_a_late_record_is_not_shown() {
        let mut app = loaded();
        let first = app.hits()[0].id.clone();
        update(
            &mut app,
            Action::DatasetLoaded {
                id: first.clone(),
                result: Err("no such dataset".into()),
            },
        );
        assert_eq!(app.notice.as_ref().unwrap().level, Level::Error);
        update(&mut app, key(KeyCode::Enter));
        update(&mut app, key(KeyCode::Esc));
        update(&mut app, char('j'));
        let mut late = app.hits()[0].clone();
        late.description = Some("late".into());
        update(
            &mut app,
            Action::DatasetLoaded {
                id: first,
                result: Ok(late),
            },
        );
        assert_ne!(
            app.preview.dataset().unwrap().description.as_deref(),
            Some("late")
        );
    }

    #[test]
    fn the_mouse_selects_scrolls_and_switches_views() {
        use crossterm::event::MouseEvent;
        let mut app = loaded();
        let at = |kind, column, row| {
            Action::Mouse(MouseEvent {
                kind,
                column,
                row,
                modifiers: KeyModifiers::NONE,
            })
        };
        let table = view::layout(&app, app.screen()).table;
        update(
            &mut app,
            at(MouseEventKind::Down(MouseButton::Left), 10, table.y + 3),
        );
        assert_eq!(app.selected, 2);
        update(&mut app, at(MouseEventKind::ScrollDown, 10, table.y + 3));
        assert_eq!(app.selected, 5);
        update(&mut app, at(MouseEventKind::ScrollUp, 10, table.y + 3));
        assert_eq!(app.selected, 2);
        let tabs = view::layout(&app, app.screen()).tabs;
        let jobs_x = (0..app.size.0)
            .find(|x| view::view_tab_at(&app, Position::new(*x, tabs.y)) == Some(View::Jobs))
            .unwrap();
        let effects = update(
            &mut app,
            at(MouseEventKind::Down(MouseButton::Left), jobs_x, tabs.y),
        );
        assert_eq!((app.view, effects), (View::Jobs, vec![Effect::LoadJobs]));
    }

    #[test]
    fn clicks_on_the_preview_tabs_select_them() {
        use crossterm::event::MouseEvent;
        let mut app = loaded();
        update(
            &mut app,
            Action::Resize {
                width: 160,
                height: 48,
            },
        );
        let area = view::layout(&app, app.screen()).preview.unwrap();
        let (tab, rect) = app.preview.tab_rects(area)[2];
        let effects = update(
            &mut app,
            Action::Mouse(MouseEvent {
                kind: MouseEventKind::Down(MouseButton::Left),
                column: rect.x,
                row: rect.y,
                modifiers: KeyModifiers::NONE,
            }),
        );
        assert_eq!(app.preview.tab(), tab);
        assert_eq!(app.focus, Focus::Preview);
        assert!(effects.iter().any(|e| matches!(e, Effect::Preview(_))));
    }

    /// `n` datasets named after their place in a long list of matches, from `first` on.
    fn numbered(first: usize, n: usize) -> Vec<Dataset> {
        (first..first + n)
            .map(|i| Dataset::new(id(&format!("org/hit-{i:04}"))))
            .collect()
    }

    fn more_asked(effects: &[Effect]) -> Vec<SearchJob> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::MoreHits(job) => Some(job.clone()),
                _ => None,
            })
            .collect()
    }

    /// Moves the selection down until the next hits are asked for (at most 1,000 rows).
    fn down_until_more_is_asked(app: &mut App) -> SearchJob {
        (0..1_000)
            .find_map(|_| more_asked(&update(app, key(KeyCode::Down))).pop())
            .expect("more hits asked for within 1,000 rows")
    }

    /// Answers `more` with `hits`.
    fn more_arrived(app: &mut App, more: SearchJob, hits: Vec<Dataset>) {
        update(
            app,
            Action::MoreHitsDone {
                job: more,
                result: Ok(of_500(hits)),
            },
        );
    }

    /// A page of the 500 matches of a search, without facets.
    fn of_500(hits: Vec<Dataset>) -> SearchResponse {
        SearchResponse {
            total: 500,
            took_ms: 1.0,
            facets: None,
            hits,
        }
    }

    /// An 80x24 app that searched `speech`, of which 500 records match, and shows the
    /// first page; the results have the keyboard.
    fn first_page_of_many() -> (App, SearchJob) {
        let mut app = app_at(80, 24);
        app.start();
        let job = jobs(&typed(&mut app, "speech")).pop().unwrap();
        let hits = numbered(0, job.request.limit);
        let effects = update(
            &mut app,
            Action::SearchDone {
                job: job.clone(),
                result: Ok(SearchResponse {
                    total: 500,
                    took_ms: 1.0,
                    facets: Some(testdata::facets(&hits)),
                    hits,
                }),
            },
        );
        assert!(
            more_asked(&effects).is_empty(),
            "the top of the list is on screen"
        );
        update(&mut app, key(KeyCode::Esc));
        (app, job)
    }

    #[test]
    fn a_search_asks_for_a_screenful_and_more_come_as_the_selection_nears_the_end() {
        let (mut app, job) = first_page_of_many();
        let rows = view::table_rows(&app);
        assert!(rows >= 10, "80x24 shows {rows} rows");
        assert_eq!(job.request.limit, rows + FIRST_PAGE_MARGIN);
        assert_eq!(job.request.offset, 0);
        let first = job.request.limit;

        let more = down_until_more_is_asked(&mut app);
        assert_eq!(
            app.selected,
            first - MORE_AHEAD,
            "asked {MORE_AHEAD} rows before the end"
        );
        assert_eq!(more.id, job.id);
        assert_eq!(more.request.query, "speech");
        assert_eq!(more.request.sort, job.request.sort);
        assert_eq!(
            (more.request.offset, more.request.limit),
            (first, MORE_PAGE)
        );
        assert!(!more.request.facets, "the facets of the search stay");
        assert!(
            more_asked(&update(&mut app, key(KeyCode::Down))).is_empty(),
            "asked once while the answer is on its way"
        );

        more_arrived(&mut app, more, numbered(first, MORE_PAGE));
        assert_eq!(app.hits().len(), first + MORE_PAGE);
        assert!(app.facets().is_some(), "the facet bar stays");
        for _ in 0..MORE_AHEAD {
            update(&mut app, key(KeyCode::Down));
        }
        assert_eq!(
            app.selected_hit().unwrap().id.as_str(),
            format!("org/hit-{:04}", first + 1)
        );
    }

    #[test]
    fn more_hits_for_a_search_typed_over_are_dropped() {
        let (mut app, _) = first_page_of_many();
        let more = down_until_more_is_asked(&mut app);
        let offset = more.request.offset;
        // The newer search has as many hits, and asks for its next ones from the same offset.
        let newer = jobs(&typed(&mut app, "x")).pop().unwrap();
        update(
            &mut app,
            Action::SearchDone {
                job: newer,
                result: Ok(of_500(numbered(900, offset))),
            },
        );
        assert_eq!(down_until_more_is_asked(&mut app).request.offset, offset);
        more_arrived(&mut app, more, numbered(offset, MORE_PAGE));
        assert_eq!(app.hits().len(), offset, "only the newer search's hits");
        assert!(app.hits().iter().all(|d| d.id.as_str() >= "org/hit-0900"));
    }

    #[test]
    fn a_failed_or_empty_next_page_stops_asking_until_the_next_search() {
        for result in [
            Err("the daemon stopped answering".to_string()),
            Ok(of_500(Vec::new())),
        ] {
            let (mut app, _) = first_page_of_many();
            let loaded = app.hits().len();
            let more = down_until_more_is_asked(&mut app);
            let failed = result.is_err();
            let effects = update(&mut app, Action::MoreHitsDone { job: more, result });
            assert!(more_asked(&effects).is_empty(), "not asked again at once");
            if failed {
                assert_eq!(
                    app.notice.as_ref().unwrap().text,
                    "cannot load more hits: the daemon stopped answering"
                );
            }
            assert_eq!(app.hits().len(), loaded);
            for _ in 0..MORE_AHEAD {
                let effects = update(&mut app, key(KeyCode::Down));
                assert!(
                    more_asked(&effects).is_empty(),
                    "no ask after {result_kind}",
                    result_kind = if failed { "a failure" } else { "an empty page" }
                );
            }
            assert!(more_asked(&update(&mut app, Action::Tick(testdata::now()))).is_empty());

            let again = jobs(&typed(&mut app, "s")).pop().unwrap();
            let effects = update(
                &mut app,
                Action::SearchDone {
                    job: again,
                    result: Ok(of_500(numbered(0, 3))),
                },
            );
            assert_eq!(
                more_asked(&effects).len(),
                1,
                "a new search pages again (its 3 hits are all near the end)"
            );
        }
    }

    #[test]
    fn a_hit_listed_on_both_pages_is_listed_once() {
        let (mut app, _) = first_page_of_many();
        let more = down_until_more_is_asked(&mut app);
        let offset = more.request.offset;
        // A record was added at the top between the two asks: the page starts one early.
        more_arrived(&mut app, more, numbered(offset - 1, MORE_PAGE));
        let ids: Vec<&str> = app.hits().iter().map(|d| d.id.as_str()).collect();
        let unique: HashSet<&str> = ids.iter().copied().collect();
        assert_eq!(ids.len(), unique.len());
        assert_eq!(ids.len(), offset + MORE_PAGE - 1);
    }

    #[test]
    fn a_refresh_after_a_sync_asks_for_every_hit_loaded_so_the_selection_stays() {
        let (mut app, _) = first_page_of_many();
        let more = down_until_more_is_asked(&mut app);
        let offset = more.request.offset;
        more_arrived(&mut app, more, numbered(offset, MORE_PAGE));
        for _ in 0..2 * MORE_AHEAD {
            update(&mut app, key(KeyCode::Down));
        }
        let selected = app.selected_hit().unwrap().id.clone();
        let effects = update(&mut app, Action::SyncFinished(SyncReport::default()));
        let refresh = jobs(&effects).pop().unwrap();
        assert_eq!(refresh.request.limit, offset + MORE_PAGE);
        update(
            &mut app,
            Action::SearchDone {
                job: refresh,
                result: Ok(response(numbered(0, offset + MORE_PAGE))),
            },
        );
        assert_eq!(app.selected_hit().unwrap().id, selected);
    }

    #[test]
    fn a_taller_terminal_fills_its_table_with_more_hits() {
        let (mut app, job) = first_page_of_many();
        let effects = update(
            &mut app,
            Action::Resize {
                width: 80,
                height: 80,
            },
        );
        assert!(view::table_rows(&app) > job.request.limit);
        let more = more_asked(&effects)
            .pop()
            .expect("more hits for the empty rows");
        assert_eq!(more.request.offset, job.request.limit);
    }
}
