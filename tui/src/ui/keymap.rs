//! The one table of key bindings. The dispatcher looks keys up here and the help overlay and
//! the footer hints are generated from it, so what the screen says is what the keys do.
//! `config.toml`'s `[keys]` table rebinds commands by name; a key bound twice where both
//! bindings apply is refused at start-up with a message naming both.

use std::collections::BTreeMap;
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Something a key asks the app to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Command {
    /// Quit hubdex.
    Quit,
    /// Open or close the help overlay.
    Help,
    /// Ask the daemon to sync now.
    SyncNow,
    /// Focus the search box (on the Search view).
    FocusSearch,
    /// Show the Search view.
    ViewSearch,
    /// Show the Follows view.
    ViewFollows,
    /// Show the Jobs view.
    ViewJobs,
    /// Refresh what is shown, or retry what failed (a failed job, a failed load).
    Refresh,
    /// Move the selection up one row.
    Up,
    /// Move the selection down one row.
    Down,
    /// Move the selection up one page.
    PageUp,
    /// Move the selection down one page.
    PageDown,
    /// Select the first row.
    First,
    /// Select the last row.
    Last,
    /// Open the selection (the preview of a dataset, the dataset of a job or follow).
    Open,
    /// Leave the preview or the facet bar for the list.
    Back,
    /// Follow or unfollow the selected dataset.
    Follow,
    /// Download the selected dataset (opens a small form).
    Download,
    /// Update the selected downloaded dataset to its newest commit.
    Update,
    /// Delete the selected dataset from the cache (asks first).
    Delete,
    /// Copy the selected dataset's id to the clipboard (OSC 52).
    CopyId,
    /// Show the selected dataset's Hub URL.
    OpenUrl,
    /// Mark or unmark the selected dataset for combining.
    Mark,
    /// Combine the marked datasets' impact.
    Combine,
    /// Switch to the next sort order.
    CycleSort,
    /// Flip the sort direction (most first / least first).
    ReverseSort,
    /// Focus the facet bar to narrow the query.
    Facets,
    /// Show or hide the preview pane on a narrow terminal.
    TogglePreview,
    /// The next preview tab.
    NextTab,
    /// The previous preview tab.
    PrevTab,
    /// Preview tab 1 (Card).
    Tab1,
    /// Preview tab 2 (Files).
    Tab2,
    /// Preview tab 3 (Commits).
    Tab3,
    /// Preview tab 4 (Rows).
    Tab4,
    /// Preview tab 5 (Impact).
    Tab5,
    /// Mark the selected followed dataset seen.
    MarkSeen,
    /// Cancel the selected job.
    CancelJob,
    /// Move to the previous facet value.
    FacetLeft,
    /// Move to the next facet value.
    FacetRight,
    /// Add the chosen facet value to the query.
    FacetApply,
    /// Leave the search box for the results.
    LeaveSearch,
    /// Move the text cursor left.
    CursorLeft,
    /// Move the text cursor right.
    CursorRight,
    /// Move the text cursor to the start of the query.
    CursorStart,
    /// Move the text cursor to the end of the query.
    CursorEnd,
    /// Delete the character before the cursor.
    DeleteBack,
    /// Delete the character under the cursor.
    DeleteForward,
    /// Delete the word before the cursor.
    DeleteWord,
    /// Clear the query.
    ClearQuery,
    /// Close the help overlay.
    CloseHelp,
    /// Scroll the help up.
    HelpUp,
    /// Scroll the help down.
    HelpDown,
    /// Insert the typed character into the query (printable keys in the search box).
    Type,
}

/// Where a binding applies. Several apply at once; see [`Keymap::active`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Context {
    /// Everywhere, even while typing and over the help.
    Always,
    /// Everywhere except while typing or in a dialog.
    Global,
    /// Where a list has the keyboard (results, follows, jobs).
    List,
    /// Where a dataset is selected (results, preview, follows).
    Dataset,
    /// On the Search view, outside the search box.
    Browse,
    /// In the search box.
    Search,
    /// In the results table.
    Results,
    /// In the preview pane.
    Preview,
    /// In the facet bar.
    Facets,
    /// On the Follows view.
    Follows,
    /// On the Jobs view.
    Jobs,
    /// Over the help overlay.
    Help,
}

impl Context {
    /// The name shown in the help overlay.
    pub fn label(self) -> &'static str {
        match self {
            Context::Always | Context::Global => "anywhere",
            Context::List => "lists",
            Context::Dataset => "dataset",
            Context::Browse | Context::Results => "search",
            Context::Search => "query",
            Context::Preview => "preview",
            Context::Facets => "facets",
            Context::Follows => "follows",
            Context::Jobs => "jobs",
            Context::Help => "help",
        }
    }
}

/// A key with its modifiers. Letters are case-sensitive (`G` is not `g`) except with Ctrl.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    code: KeyCode,
    ctrl: bool,
}

const fn key(code: KeyCode) -> Key {
    Key { code, ctrl: false }
}

const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        ctrl: true,
    }
}

const fn char(c: char) -> Key {
    key(KeyCode::Char(c))
}

impl Key {
    /// How the key is written on screen and in `config.toml`: `Ctrl-S`, `↑`, `PgDn`, `?`.
    pub fn label(self) -> String {
        let name = match self.code {
            KeyCode::Up => "↑".to_string(),
            KeyCode::Down => "↓".to_string(),
            KeyCode::Left => "←".to_string(),
            KeyCode::Right => "→".to_string(),
            KeyCode::PageUp => "PgUp".to_string(),
            KeyCode::PageDown => "PgDn".to_string(),
            KeyCode::Home => "Home".to_string(),
            KeyCode::End => "End".to_string(),
            KeyCode::Enter => "Enter".to_string(),
            KeyCode::Esc => "Esc".to_string(),
            KeyCode::Tab => "Tab".to_string(),
            KeyCode::BackTab => "Shift-Tab".to_string(),
            KeyCode::Backspace => "Backspace".to_string(),
            KeyCode::Delete => "Del".to_string(),
            KeyCode::F(n) => format!("F{n}"),
            KeyCode::Char(' ') => "Space".to_string(),
            KeyCode::Char(c) if self.ctrl => c.to_ascii_uppercase().to_string(),
            KeyCode::Char(c) => c.to_string(),
            other => format!("{other:?}"),
        };
        if self.ctrl {
            format!("Ctrl-{name}")
        } else {
            name
        }
    }

    /// True when `event` is this key.
    pub fn matches(self, event: &KeyEvent) -> bool {
        let ctrl = event.modifiers.contains(KeyModifiers::CONTROL);
        let alt = event.modifiers.contains(KeyModifiers::ALT);
        if ctrl != self.ctrl || alt {
            return false;
        }
        match (self.code, event.code) {
            (KeyCode::Char(a), KeyCode::Char(b)) if self.ctrl => a.eq_ignore_ascii_case(&b),
            (a, b) => a == b,
        }
    }
}

/// A key name in `config.toml` nobody knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a key; write a character (`f`, `G`, `?`), `ctrl-x`, a name (enter, esc, tab, shift-tab, space, backspace, del, up, down, left, right, pgup, pgdn, home, end) or f1…f12"
)]
pub struct UnknownKey(pub String);

impl std::str::FromStr for Key {
    type Err = UnknownKey;
    fn from_str(s: &str) -> Result<Key, UnknownKey> {
        let unknown = || UnknownKey(s.to_string());
        let lower = s.to_ascii_lowercase();
        if let Some(rest) = lower
            .strip_prefix("ctrl-")
            .or_else(|| lower.strip_prefix("ctrl+"))
            .or_else(|| lower.strip_prefix("c-"))
        {
            let mut chars = rest.chars();
            return match (chars.next(), chars.next()) {
                (Some(c), None) if !c.is_control() => Ok(ctrl(c)),
                _ => Err(unknown()),
            };
        }
        let mut chars = s.chars();
        if let (Some(c), None) = (chars.next(), chars.clone().next()) {
            return if c.is_control() {
                Err(unknown())
            } else {
                Ok(char(c))
            };
        }
        let code = match lower.as_str() {
            "enter" | "return" => KeyCode::Enter,
            "esc" | "escape" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "shift-tab" | "backtab" => KeyCode::BackTab,
            "space" => KeyCode::Char(' '),
            "backspace" => KeyCode::Backspace,
            "del" | "delete" => KeyCode::Delete,
            "up" | "↑" => KeyCode::Up,
            "down" | "↓" => KeyCode::Down,
            "left" | "←" => KeyCode::Left,
            "right" | "→" => KeyCode::Right,
            "pgup" | "pageup" => KeyCode::PageUp,
            "pgdn" | "pagedown" => KeyCode::PageDown,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            f if f.starts_with('f') => {
                let n: u8 = f[1..].parse().map_err(|_| unknown())?;
                if !(1..=12).contains(&n) {
                    return Err(unknown());
                }
                KeyCode::F(n)
            }
            _ => return Err(unknown()),
        };
        Ok(key(code))
    }
}

/// One binding: the keys, where they apply, what they do, and the words for the help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The keys that trigger it.
    pub keys: Vec<Key>,
    /// Where it applies.
    pub context: Context,
    /// What it does.
    pub command: Command,
    /// The name `config.toml` rebinds it by.
    pub name: &'static str,
    /// The help overlay's description.
    pub help: &'static str,
    /// The footer's short description, for the bindings worth a hint; lower ranks first.
    pub hint: Option<(u8, &'static str)>,
}

impl Binding {
    /// The keys as the help overlay writes them: `↑ / k`.
    pub fn keys_label(&self) -> String {
        if self.command == Command::Type {
            return "letters…".to_string();
        }
        self.keys
            .iter()
            .map(|k| k.label())
            .collect::<Vec<_>>()
            .join(" / ")
    }
}

/// Why `[keys]` in `config.toml` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeymapError {
    /// A name in `[keys]` is no command.
    #[error(
        "[keys] in config.toml: `{0}` is not a command; the help (`?`) lists them, e.g. follow, download, quit"
    )]
    UnknownCommand(String),
    /// A key in `[keys]` cannot be read.
    #[error("[keys] in config.toml: {command}: {source}")]
    BadKey {
        /// The command being rebound.
        command: String,
        /// What is wrong with the key.
        source: UnknownKey,
    },
    /// A command's value is neither a key nor a list of keys.
    #[error(
        "[keys] in config.toml: {0} must be a key (\"f\") or a list of keys ([\"f\", \"ctrl-f\"])"
    )]
    BadValue(String),
    /// Two commands share a key where both apply.
    #[error(
        "[keys] in config.toml: {key} is bound to both `{first}` and `{second}` ({where_}); bind one of them to another key"
    )]
    Conflict {
        /// The key.
        key: String,
        /// One command's name.
        first: &'static str,
        /// The other's.
        second: &'static str,
        /// Where both apply.
        where_: &'static str,
    },
}

/// Where the keyboard is, as far as the keymap cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Typing in the search box.
    Query,
    /// The results table.
    Results,
    /// The preview pane.
    Preview,
    /// The facet bar.
    Facets,
    /// The Follows view.
    Follows,
    /// The Jobs view.
    Jobs,
    /// The help overlay.
    Help,
}

impl Mode {
    const ALL: [Mode; 7] = [
        Mode::Query,
        Mode::Results,
        Mode::Preview,
        Mode::Facets,
        Mode::Follows,
        Mode::Jobs,
        Mode::Help,
    ];

    fn label(self) -> &'static str {
        match self {
            Mode::Query => "in the search box",
            Mode::Results => "in the results",
            Mode::Preview => "in the preview",
            Mode::Facets => "in the facet bar",
            Mode::Follows => "on the Follows view",
            Mode::Jobs => "on the Jobs view",
            Mode::Help => "over the help",
        }
    }
}

/// The bindings in force: the defaults with `[keys]` applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    bindings: Vec<Binding>,
}

fn bind(
    keys: &[Key],
    context: Context,
    command: Command,
    name: &'static str,
    help: &'static str,
    hint: Option<(u8, &'static str)>,
) -> Binding {
    Binding {
        keys: keys.to_vec(),
        context,
        command,
        name,
        help,
        hint,
    }
}

impl Default for Keymap {
    fn default() -> Self {
        use Command as C;
        use Context as X;
        use KeyCode as K;
        let bindings = vec![
            bind(
                &[],
                X::Search,
                C::Type,
                "type",
                "type to search (results follow as you type)",
                None,
            ),
            bind(
                &[key(K::Enter), key(K::Esc), key(K::Down)],
                X::Search,
                C::LeaveSearch,
                "leave_search",
                "leave the search box for the results",
                Some((1, "results")),
            ),
            bind(
                &[key(K::Left)],
                X::Search,
                C::CursorLeft,
                "cursor_left",
                "cursor left",
                None,
            ),
            bind(
                &[key(K::Right)],
                X::Search,
                C::CursorRight,
                "cursor_right",
                "cursor right",
                None,
            ),
            bind(
                &[ctrl('a'), key(K::Home)],
                X::Search,
                C::CursorStart,
                "cursor_start",
                "cursor to the start of the query",
                None,
            ),
            bind(
                &[ctrl('e'), key(K::End)],
                X::Search,
                C::CursorEnd,
                "cursor_end",
                "cursor to the end of the query",
                None,
            ),
            bind(
                &[key(K::Backspace)],
                X::Search,
                C::DeleteBack,
                "delete_back",
                "delete before the cursor",
                None,
            ),
            bind(
                &[key(K::Delete)],
                X::Search,
                C::DeleteForward,
                "delete_forward",
                "delete under the cursor",
                None,
            ),
            bind(
                &[ctrl('w')],
                X::Search,
                C::DeleteWord,
                "delete_word",
                "delete the word before the cursor",
                None,
            ),
            bind(
                &[ctrl('u')],
                X::Search,
                C::ClearQuery,
                "clear_query",
                "clear the query",
                Some((2, "clear")),
            ),
            bind(
                &[key(K::Up), char('k')],
                X::List,
                C::Up,
                "up",
                "move up",
                Some((1, "move")),
            ),
            bind(
                &[key(K::Down), char('j')],
                X::List,
                C::Down,
                "down",
                "move down",
                None,
            ),
            bind(
                &[key(K::PageUp), ctrl('b')],
                X::List,
                C::PageUp,
                "page_up",
                "a page up",
                None,
            ),
            bind(
                &[key(K::PageDown), ctrl('f')],
                X::List,
                C::PageDown,
                "page_down",
                "a page down",
                None,
            ),
            bind(
                &[char('g'), key(K::Home)],
                X::List,
                C::First,
                "first",
                "to the first row",
                None,
            ),
            bind(
                &[char('G'), key(K::End)],
                X::List,
                C::Last,
                "last",
                "to the last row",
                None,
            ),
            bind(
                &[key(K::Enter)],
                X::Results,
                C::Open,
                "open",
                "open the preview of the selected dataset",
                Some((2, "open")),
            ),
            bind(
                &[char('/')],
                X::Global,
                C::FocusSearch,
                "search",
                "search: focus the search box",
                Some((0, "search")),
            ),
            bind(
                &[char('f')],
                X::Dataset,
                C::Follow,
                "follow",
                "follow / unfollow the dataset",
                Some((3, "follow")),
            ),
            bind(
                &[char('d')],
                X::Dataset,
                C::Download,
                "download",
                "download the dataset (revision, include, exclude, force)",
                Some((4, "download")),
            ),
            bind(
                &[char('u')],
                X::Dataset,
                C::Update,
                "update",
                "update the downloaded dataset to its newest commit",
                None,
            ),
            bind(
                &[char('x')],
                X::Dataset,
                C::Delete,
                "delete",
                "delete the dataset from the cache (asks first)",
                None,
            ),
            bind(
                &[char('y')],
                X::Dataset,
                C::CopyId,
                "copy",
                "copy the id to the clipboard (OSC 52)",
                None,
            ),
            bind(
                &[char('o')],
                X::Dataset,
                C::OpenUrl,
                "url",
                "show the dataset's Hub URL",
                None,
            ),
            bind(
                &[char(' ')],
                X::Browse,
                C::Mark,
                "mark",
                "mark / unmark for combining",
                None,
            ),
            bind(
                &[char('c')],
                X::Browse,
                C::Combine,
                "combine",
                "combined impact of the marked datasets",
                None,
            ),
            bind(
                &[char('s')],
                X::Browse,
                C::CycleSort,
                "sort",
                "next sort: relevance, downloads, likes, …",
                Some((5, "sort")),
            ),
            bind(
                &[char('S')],
                X::Browse,
                C::ReverseSort,
                "reverse_sort",
                "flip the sort: most first / least first",
                None,
            ),
            bind(
                &[char('n')],
                X::Browse,
                C::Facets,
                "facets",
                "narrow by a facet (task, language, licence, size)",
                None,
            ),
            bind(
                &[char('p')],
                X::Browse,
                C::TogglePreview,
                "toggle_preview",
                "show / hide the preview (narrow terminal)",
                None,
            ),
            bind(
                &[key(K::Tab)],
                X::Browse,
                C::NextTab,
                "next_tab",
                "next preview tab",
                None,
            ),
            bind(
                &[key(K::BackTab)],
                X::Browse,
                C::PrevTab,
                "prev_tab",
                "previous preview tab",
                None,
            ),
            bind(
                &[char('1')],
                X::Browse,
                C::Tab1,
                "tab_card",
                "preview tab: Card",
                None,
            ),
            bind(
                &[char('2')],
                X::Browse,
                C::Tab2,
                "tab_files",
                "preview tab: Files",
                None,
            ),
            bind(
                &[char('3')],
                X::Browse,
                C::Tab3,
                "tab_commits",
                "preview tab: Commits",
                None,
            ),
            bind(
                &[char('4')],
                X::Browse,
                C::Tab4,
                "tab_rows",
                "preview tab: Rows",
                None,
            ),
            bind(
                &[char('5')],
                X::Browse,
                C::Tab5,
                "tab_impact",
                "preview tab: Impact",
                None,
            ),
            bind(
                &[key(K::Esc)],
                X::Preview,
                C::Back,
                "back",
                "back to the results",
                Some((1, "back")),
            ),
            bind(
                &[key(K::Left)],
                X::Facets,
                C::FacetLeft,
                "facet_left",
                "previous facet value",
                Some((1, "choose")),
            ),
            bind(
                &[key(K::Right)],
                X::Facets,
                C::FacetRight,
                "facet_right",
                "next facet value",
                None,
            ),
            bind(
                &[key(K::Enter)],
                X::Facets,
                C::FacetApply,
                "facet_apply",
                "add the facet value to the query",
                Some((2, "narrow")),
            ),
            bind(
                &[key(K::Esc)],
                X::Facets,
                C::Back,
                "facet_back",
                "leave the facet bar",
                Some((3, "back")),
            ),
            bind(
                &[key(K::Enter)],
                X::Follows,
                C::Open,
                "follows_open",
                "open the followed dataset",
                Some((2, "open")),
            ),
            bind(
                &[char('m')],
                X::Follows,
                C::MarkSeen,
                "mark_seen",
                "mark seen (its changes start over)",
                Some((3, "seen")),
            ),
            bind(
                &[key(K::Enter)],
                X::Jobs,
                C::Open,
                "jobs_open",
                "open the job's dataset",
                Some((2, "open")),
            ),
            bind(
                &[char('c')],
                X::Jobs,
                C::CancelJob,
                "cancel",
                "cancel the job",
                Some((3, "cancel")),
            ),
            bind(
                &[char('r')],
                X::Global,
                C::Refresh,
                "refresh",
                "refresh; retry a failed job or load",
                Some((6, "refresh")),
            ),
            bind(
                &[key(K::F(2))],
                X::Global,
                C::ViewSearch,
                "view_search",
                "the Search view",
                None,
            ),
            bind(
                &[char('F'), key(K::F(3))],
                X::Global,
                C::ViewFollows,
                "view_follows",
                "the Follows view",
                Some((7, "follows")),
            ),
            bind(
                &[char('J'), key(K::F(4))],
                X::Global,
                C::ViewJobs,
                "view_jobs",
                "the Jobs view",
                Some((8, "jobs")),
            ),
            bind(
                &[char('?')],
                X::Global,
                C::Help,
                "help",
                "open this help",
                Some((9, "help")),
            ),
            bind(
                &[char('q')],
                X::Global,
                C::Quit,
                "quit",
                "quit",
                Some((10, "quit")),
            ),
            bind(
                &[key(K::F(1))],
                X::Always,
                C::Help,
                "help_always",
                "open or close this help, even while typing",
                None,
            ),
            bind(
                &[ctrl('r')],
                X::Always,
                C::SyncNow,
                "sync",
                "sync the catalog with the Hub now",
                None,
            ),
            bind(
                &[ctrl('c')],
                X::Always,
                C::Quit,
                "quit_always",
                "quit, even while typing",
                None,
            ),
            bind(
                &[key(K::Esc), char('q'), char('?')],
                X::Help,
                C::CloseHelp,
                "close_help",
                "close this help",
                Some((0, "close help")),
            ),
            bind(
                &[char('k'), key(K::Up)],
                X::Help,
                C::HelpUp,
                "help_up",
                "scroll the help up",
                None,
            ),
            bind(
                &[char('j'), key(K::Down)],
                X::Help,
                C::HelpDown,
                "help_down",
                "scroll the help down",
                None,
            ),
        ];
        Keymap { bindings }
    }
}

impl Keymap {
    /// Every binding, in the order the help lists them.
    pub fn bindings(&self) -> &[Binding] {
        &self.bindings
    }

    /// The defaults with `[keys]` from `config.toml` applied: each entry names a command
    /// (as the help's `name` column) and gives a key or a list of keys.
    pub fn with_overrides(table: &BTreeMap<String, toml::Value>) -> Result<Keymap, KeymapError> {
        let mut keymap = Keymap::default();
        for (name, value) in table {
            let binding = keymap
                .bindings
                .iter_mut()
                .find(|b| b.name == name && b.command != Command::Type)
                .ok_or_else(|| KeymapError::UnknownCommand(name.clone()))?;
            let texts: Vec<&str> = match value {
                toml::Value::String(s) => vec![s.as_str()],
                toml::Value::Array(items) => items
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .ok_or_else(|| KeymapError::BadValue(name.clone()))
                    })
                    .collect::<Result<_, _>>()?,
                _ => return Err(KeymapError::BadValue(name.clone())),
            };
            binding.keys = texts
                .into_iter()
                .map(|t| {
                    t.parse().map_err(|source| KeymapError::BadKey {
                        command: name.clone(),
                        source,
                    })
                })
                .collect::<Result<_, _>>()?;
        }
        keymap.check()?;
        Ok(keymap)
    }

    /// Refuses a key bound to two commands where both apply.
    fn check(&self) -> Result<(), KeymapError> {
        for mode in Mode::ALL {
            let contexts = active(mode);
            let live: Vec<&Binding> = self
                .bindings
                .iter()
                .filter(|b| contexts.contains(&b.context))
                .collect();
            for (i, a) in live.iter().enumerate() {
                for b in &live[i + 1..] {
                    if let Some(k) = a.keys.iter().find(|k| b.keys.contains(k)) {
                        return Err(KeymapError::Conflict {
                            key: k.label(),
                            first: a.name,
                            second: b.name,
                            where_: mode.label(),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// The command `event` triggers in `mode`. Printable keys in the search box type; in
    /// the results an unbound printable key starts typing a query (see [`Command::Type`]).
    pub fn lookup(&self, mode: Mode, event: &KeyEvent) -> Option<Command> {
        let contexts = active(mode);
        let found = self
            .bindings
            .iter()
            .filter(|b| contexts.contains(&b.context))
            .find(|b| b.keys.iter().any(|k| k.matches(event)))
            .map(|b| b.command);
        if found.is_some() {
            return found;
        }
        let printable = matches!(event.code, KeyCode::Char(_))
            && !event
                .modifiers
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        (printable && matches!(mode, Mode::Query | Mode::Results)).then_some(Command::Type)
    }

    /// The first key of `command`'s binding, for messages (`press d to download`).
    pub fn key_for(&self, command: Command) -> String {
        self.bindings
            .iter()
            .find(|b| b.command == command)
            .and_then(|b| b.keys.first())
            .map_or_else(|| "?".to_string(), |k| k.label())
    }

    /// The footer's five most useful keys in `mode`: `(key, words)` pairs.
    pub fn hints(&self, mode: Mode) -> Vec<(String, &'static str)> {
        let contexts = active(mode);
        let mut hinted: Vec<(u8, usize, String, &'static str)> = self
            .bindings
            .iter()
            .enumerate()
            .filter(|(_, b)| contexts.contains(&b.context))
            .filter_map(|(i, b)| {
                let (rank, words) = b.hint?;
                let first = b.keys.first()?.label();
                Some((rank, i, first, words))
            })
            .collect();
        hinted.sort_by_key(|(rank, i, _, _)| (*rank, *i));
        hinted
            .into_iter()
            .take(5)
            .map(|(_, _, keys, words)| (keys, words))
            .collect()
    }
}

/// The contexts in force in `mode`, most specific first.
pub fn active(mode: Mode) -> &'static [Context] {
    use Context as X;
    match mode {
        Mode::Query => &[X::Search, X::Always],
        Mode::Results => &[
            X::Results,
            X::Browse,
            X::Dataset,
            X::List,
            X::Global,
            X::Always,
        ],
        Mode::Preview => &[X::Preview, X::Browse, X::Dataset, X::Global, X::Always],
        Mode::Facets => &[X::Facets, X::Global, X::Always],
        Mode::Follows => &[X::Follows, X::Dataset, X::List, X::Global, X::Always],
        Mode::Jobs => &[X::Jobs, X::List, X::Global, X::Always],
        Mode::Help => &[X::Help, X::Always],
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    fn plain(c: char) -> KeyEvent {
        press(KeyCode::Char(c), KeyModifiers::NONE)
    }

    fn table(text: &str) -> BTreeMap<String, toml::Value> {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn the_default_keymap_has_no_conflicts() {
        Keymap::default().check().unwrap();
    }

    #[test]
    fn keys_resolve_by_mode() {
        let map = Keymap::default();
        assert_eq!(map.lookup(Mode::Query, &plain('q')), Some(Command::Type));
        assert_eq!(map.lookup(Mode::Results, &plain('q')), Some(Command::Quit));
        assert_eq!(
            map.lookup(Mode::Help, &plain('q')),
            Some(Command::CloseHelp)
        );
        assert_eq!(map.lookup(Mode::Results, &plain('j')), Some(Command::Down));
        assert_eq!(map.lookup(Mode::Query, &plain('j')), Some(Command::Type));
        assert_eq!(
            map.lookup(Mode::Results, &plain('c')),
            Some(Command::Combine)
        );
        assert_eq!(
            map.lookup(Mode::Jobs, &plain('c')),
            Some(Command::CancelJob)
        );
        assert_eq!(map.lookup(Mode::Results, &plain('a')), Some(Command::Type));
        assert_eq!(map.lookup(Mode::Jobs, &plain('a')), None);
        let ctrl_c = press(KeyCode::Char('c'), KeyModifiers::CONTROL);
        for mode in Mode::ALL {
            assert_eq!(map.lookup(mode, &ctrl_c), Some(Command::Quit), "{mode:?}");
        }
    }

    #[test]
    fn letters_are_case_sensitive_and_ctrl_letters_are_not() {
        let map = Keymap::default();
        let shifted_g = press(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(map.lookup(Mode::Results, &shifted_g), Some(Command::Last));
        assert_eq!(map.lookup(Mode::Results, &plain('g')), Some(Command::First));
        let shifted = press(KeyCode::Char('?'), KeyModifiers::SHIFT);
        assert_eq!(map.lookup(Mode::Results, &shifted), Some(Command::Help));
        let upper = press(
            KeyCode::Char('R'),
            KeyModifiers::CONTROL | KeyModifiers::SHIFT,
        );
        assert_eq!(map.lookup(Mode::Query, &upper), Some(Command::SyncNow));
        let alt = press(KeyCode::Char('x'), KeyModifiers::ALT);
        assert_eq!(map.lookup(Mode::Query, &alt), None);
    }

    #[test]
    fn every_key_in_the_table_reaches_its_command() {
        let map = Keymap::default();
        for binding in map.bindings() {
            assert!(!binding.help.is_empty());
            let mode = Mode::ALL
                .into_iter()
                .find(|m| active(*m).contains(&binding.context))
                .unwrap();
            for k in &binding.keys {
                let modifiers = if k.ctrl {
                    KeyModifiers::CONTROL
                } else {
                    KeyModifiers::NONE
                };
                assert_eq!(
                    map.lookup(mode, &press(k.code, modifiers)),
                    Some(binding.command),
                    "{} in {mode:?}",
                    k.label()
                );
            }
        }
    }

    #[test]
    fn config_rebinds_a_command() {
        let map =
            Keymap::with_overrides(&table("follow = \"w\"\nquit = [\"Q\", \"ctrl-q\"]")).unwrap();
        assert_eq!(
            map.lookup(Mode::Results, &plain('w')),
            Some(Command::Follow)
        );
        assert_eq!(map.lookup(Mode::Results, &plain('f')), Some(Command::Type));
        assert_eq!(map.lookup(Mode::Results, &plain('Q')), Some(Command::Quit));
        let ctrl_q = press(KeyCode::Char('q'), KeyModifiers::CONTROL);
        assert_eq!(map.lookup(Mode::Jobs, &ctrl_q), Some(Command::Quit));
        assert_eq!(map.key_for(Command::Follow), "w");
    }

    #[test]
    fn conflicts_and_mistakes_in_config_are_explained() {
        let err = Keymap::with_overrides(&table("follow = \"d\"")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "[keys] in config.toml: d is bound to both `follow` and `download` (in the results); bind one of them to another key"
        );
        let err = Keymap::with_overrides(&table("folow = \"w\"")).unwrap_err();
        assert!(
            err.to_string().contains("`folow` is not a command"),
            "{err}"
        );
        let err = Keymap::with_overrides(&table("follow = \"ctrl-\"")).unwrap_err();
        assert!(err.to_string().contains("is not a key"), "{err}");
        let err = Keymap::with_overrides(&table("follow = 3")).unwrap_err();
        assert!(err.to_string().contains("must be a key"), "{err}");
        // A key used in two places that never apply together is fine.
        Keymap::with_overrides(&table("cancel = \"x\"")).unwrap();
    }

    #[test]
    fn key_names_read_and_write() {
        for (text, label) in [
            ("ctrl-s", "Ctrl-S"),
            ("pgdn", "PgDn"),
            ("G", "G"),
            ("space", "Space"),
            ("f5", "F5"),
            ("shift-tab", "Shift-Tab"),
        ] {
            assert_eq!(text.parse::<Key>().unwrap().label(), label);
        }
        assert!("f13".parse::<Key>().is_err());
        assert!("hyper".parse::<Key>().is_err());
    }

    #[test]
    fn the_footer_hints_five_keys_per_mode() {
        let map = Keymap::default();
        let results: Vec<String> = map
            .hints(Mode::Results)
            .into_iter()
            .map(|(k, w)| format!("{k} {w}"))
            .collect();
        assert_eq!(
            results,
            ["/ search", "↑ move", "Enter open", "f follow", "d download"]
        );
        let help: Vec<String> = map
            .hints(Mode::Help)
            .into_iter()
            .map(|(k, w)| format!("{k} {w}"))
            .collect();
        assert_eq!(help, ["Esc close help"]);
        for mode in Mode::ALL {
            assert!(map.hints(mode).len() <= 5);
        }
    }
}
