//! The one table of key bindings. The dispatcher looks keys up here and the help overlay and
//! the footer hints are generated from it, so what the screen says is what the keys do.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Something a key asks the app to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Quit hubdex.
    Quit,
    /// Open or close the help overlay.
    Help,
    /// Leave the detail pane for the search box.
    Back,
    /// Move the focus to the detail pane.
    FocusDetail,
    /// Show or hide the detail pane on a narrow terminal.
    ToggleDetail,
    /// Move the selection up one row.
    SelectUp,
    /// Move the selection down one row.
    SelectDown,
    /// Move the selection up one page.
    PageUp,
    /// Move the selection down one page.
    PageDown,
    /// Select the first hit.
    First,
    /// Select the last hit.
    Last,
    /// Scroll the detail pane up one line.
    ScrollUp,
    /// Scroll the detail pane down one line.
    ScrollDown,
    /// Scroll the detail pane up one page.
    ScrollPageUp,
    /// Scroll the detail pane down one page.
    ScrollPageDown,
    /// Scroll the detail pane to its top.
    ScrollTop,
    /// Insert the typed character into the query (the fallback for printable keys).
    Type,
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
    /// Switch to the next sort order and search again.
    CycleSort,
    /// Ask the daemon to sync now.
    SyncNow,
}

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// Everywhere, the help overlay included.
    Anywhere,
    /// While the search box has the focus.
    Search,
    /// While the detail pane has the focus.
    Detail,
    /// While the help overlay is open.
    Help,
}

impl Context {
    /// The name shown in the help overlay.
    pub fn label(self) -> &'static str {
        match self {
            Context::Anywhere => "anywhere",
            Context::Search => "search",
            Context::Detail => "detail",
            Context::Help => "help",
        }
    }
}

/// A key with its modifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// How the key is written on screen: `Ctrl-S`, `↑`, `PgDn`, `?`.
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
            KeyCode::Backspace => "Backspace".to_string(),
            KeyCode::Delete => "Del".to_string(),
            KeyCode::F(n) => format!("F{n}"),
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

    fn matches(self, event: &KeyEvent) -> bool {
        let ctrl = event.modifiers.contains(KeyModifiers::CONTROL);
        let alt = event.modifiers.contains(KeyModifiers::ALT);
        if ctrl != self.ctrl || alt {
            return false;
        }
        match (self.code, event.code) {
            (KeyCode::Char(a), KeyCode::Char(b)) => a == b.to_ascii_lowercase() || a == b,
            (a, b) => a == b,
        }
    }
}

/// One binding: the keys, where they apply, what they do, and the words for the help.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// The keys that trigger it (empty for [`Command::Type`], which takes any printable key).
    pub keys: &'static [Key],
    /// Where it applies.
    pub context: Context,
    /// What it does.
    pub command: Command,
    /// The help overlay's description.
    pub help: &'static str,
    /// The footer's short description, for the bindings worth a hint.
    pub hint: Option<&'static str>,
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

    /// The keys as the footer writes them: `↑↓`, `Enter`.
    pub fn hint_label(&self) -> String {
        match self.keys {
            [a, b, ..] if matches!((a.code, b.code), (KeyCode::Up, KeyCode::Down)) => {
                "↑↓".to_string()
            }
            [first, ..] => first.label(),
            [] => String::new(),
        }
    }
}

const fn bind(
    keys: &'static [Key],
    context: Context,
    command: Command,
    help: &'static str,
    hint: Option<&'static str>,
) -> Binding {
    Binding {
        keys,
        context,
        command,
        help,
        hint,
    }
}

/// Every binding, in the order the help overlay lists them. The first match wins.
pub const KEYMAP: &[Binding] = &[
    bind(
        &[],
        Context::Search,
        Command::Type,
        "type to search (results follow as you type)",
        None,
    ),
    bind(
        &[key(KeyCode::Up), key(KeyCode::Down)],
        Context::Search,
        Command::SelectUp,
        "move the selection up / down",
        Some("move"),
    ),
    bind(
        &[key(KeyCode::PageUp), key(KeyCode::PageDown)],
        Context::Search,
        Command::PageUp,
        "move the selection a page up / down",
        None,
    ),
    bind(
        &[key(KeyCode::Home), key(KeyCode::End)],
        Context::Search,
        Command::First,
        "select the first / last hit",
        None,
    ),
    bind(
        &[key(KeyCode::Enter)],
        Context::Search,
        Command::FocusDetail,
        "focus the details of the selected dataset",
        Some("details"),
    ),
    bind(
        &[key(KeyCode::Left), key(KeyCode::Right)],
        Context::Search,
        Command::CursorLeft,
        "move the cursor in the query",
        None,
    ),
    bind(
        &[ctrl('a'), ctrl('e')],
        Context::Search,
        Command::CursorStart,
        "cursor to the start / end of the query",
        None,
    ),
    bind(
        &[key(KeyCode::Backspace), key(KeyCode::Delete)],
        Context::Search,
        Command::DeleteBack,
        "delete before / under the cursor",
        None,
    ),
    bind(
        &[ctrl('w')],
        Context::Search,
        Command::DeleteWord,
        "delete the word before the cursor",
        None,
    ),
    bind(
        &[ctrl('u'), key(KeyCode::Esc)],
        Context::Search,
        Command::ClearQuery,
        "clear the query",
        None,
    ),
    bind(
        &[key(KeyCode::Up), key(KeyCode::Down), char('k'), char('j')],
        Context::Detail,
        Command::ScrollUp,
        "scroll the details up / down",
        Some("scroll"),
    ),
    bind(
        &[
            key(KeyCode::PageUp),
            key(KeyCode::PageDown),
            key(KeyCode::Home),
        ],
        Context::Detail,
        Command::ScrollPageUp,
        "scroll the details by a page, to the top",
        None,
    ),
    bind(
        &[key(KeyCode::Esc)],
        Context::Detail,
        Command::Back,
        "back to the search box",
        Some("back"),
    ),
    bind(&[char('q')], Context::Detail, Command::Quit, "quit", None),
    bind(
        &[key(KeyCode::Tab)],
        Context::Anywhere,
        Command::ToggleDetail,
        "show / hide the details (narrow terminal)",
        None,
    ),
    bind(
        &[ctrl('s')],
        Context::Anywhere,
        Command::CycleSort,
        "next sort: relevance, downloads, likes, …",
        Some("sort"),
    ),
    bind(
        &[ctrl('r')],
        Context::Anywhere,
        Command::SyncNow,
        "sync the catalog with the Hub now",
        Some("sync"),
    ),
    bind(
        &[char('?'), key(KeyCode::F(1))],
        Context::Anywhere,
        Command::Help,
        "open or close this help",
        Some("help"),
    ),
    bind(
        &[key(KeyCode::Esc), char('q')],
        Context::Help,
        Command::Help,
        "close this help",
        Some("close help"),
    ),
    bind(
        &[ctrl('c')],
        Context::Anywhere,
        Command::Quit,
        "quit",
        Some("quit"),
    ),
];

/// The command a key triggers in `context`, and the key's own character for
/// [`Command::Type`].
///
/// Bindings with several keys that mean opposite directions (↑ / ↓) resolve to the command
/// for the key pressed; see [`directional`].
pub fn lookup(context: Context, event: &KeyEvent) -> Option<Command> {
    let applies = |b: &&Binding| b.context == context || b.context == Context::Anywhere;
    for binding in KEYMAP.iter().filter(applies) {
        if let Some(index) = binding.keys.iter().position(|k| k.matches(event)) {
            return Some(directional(binding.command, index));
        }
    }
    let printable = matches!(event.code, KeyCode::Char(_))
        && !event
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
    (context == Context::Search && printable).then_some(Command::Type)
}

/// The command for the `index`-th key of a binding whose keys come in pairs of opposite
/// directions: the second key of `↑ / ↓` moves down.
fn directional(command: Command, index: usize) -> Command {
    use Command::*;
    match (command, index) {
        (SelectUp, 1) => SelectDown,
        (PageUp, 1) => PageDown,
        (First, 1) => Last,
        (CursorLeft, 1) => CursorRight,
        (CursorStart, 1) => CursorEnd,
        (DeleteBack, 1) => DeleteForward,
        (ScrollUp, 1 | 3) => ScrollDown,
        (ScrollPageUp, 1) => ScrollPageDown,
        (ScrollPageUp, 2) => ScrollTop,
        (command, _) => command,
    }
}

/// The footer's hints for `context`: `(keys, words)` pairs from the table. Over the help
/// only closing it and quitting work, so only those are hinted.
pub fn hints(context: Context) -> Vec<(String, &'static str)> {
    KEYMAP
        .iter()
        .filter(|b| match (context, b.context) {
            (Context::Help, Context::Anywhere) => b.command == Command::Quit,
            (_, Context::Anywhere) => true,
            (wanted, own) => wanted == own,
        })
        .filter_map(|b| b.hint.map(|hint| (b.hint_label(), hint)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn keys_resolve_by_context() {
        let q = press(KeyCode::Char('q'), KeyModifiers::NONE);
        assert_eq!(lookup(Context::Search, &q), Some(Command::Type));
        assert_eq!(lookup(Context::Detail, &q), Some(Command::Quit));
        assert_eq!(lookup(Context::Help, &q), Some(Command::Help));
        let down = press(KeyCode::Down, KeyModifiers::NONE);
        assert_eq!(lookup(Context::Search, &down), Some(Command::SelectDown));
        assert_eq!(lookup(Context::Detail, &down), Some(Command::ScrollDown));
        let j = press(KeyCode::Char('j'), KeyModifiers::NONE);
        assert_eq!(lookup(Context::Detail, &j), Some(Command::ScrollDown));
        assert_eq!(lookup(Context::Search, &j), Some(Command::Type));
        let ctrl_c = press(KeyCode::Char('c'), KeyModifiers::CONTROL);
        for context in [Context::Search, Context::Detail, Context::Help] {
            assert_eq!(lookup(context, &ctrl_c), Some(Command::Quit));
        }
    }

    #[test]
    fn shifted_question_mark_opens_help_and_ctrl_letters_ignore_case() {
        let shifted = press(KeyCode::Char('?'), KeyModifiers::SHIFT);
        assert_eq!(lookup(Context::Search, &shifted), Some(Command::Help));
        let upper = press(
            KeyCode::Char('S'),
            KeyModifiers::CONTROL | KeyModifiers::SHIFT,
        );
        assert_eq!(lookup(Context::Search, &upper), Some(Command::CycleSort));
        let alt = press(KeyCode::Char('x'), KeyModifiers::ALT);
        assert_eq!(lookup(Context::Search, &alt), None);
    }

    #[test]
    fn every_key_in_the_table_reaches_its_command() {
        for binding in KEYMAP {
            assert!(!binding.help.is_empty());
            assert!(!binding.keys_label().is_empty());
            for (i, k) in binding.keys.iter().enumerate() {
                let modifiers = if k.ctrl {
                    KeyModifiers::CONTROL
                } else {
                    KeyModifiers::NONE
                };
                let context = match binding.context {
                    Context::Anywhere => Context::Search,
                    other => other,
                };
                assert_eq!(
                    lookup(context, &press(k.code, modifiers)),
                    Some(directional(binding.command, i)),
                    "{} in {context:?}",
                    k.label()
                );
            }
        }
    }

    #[test]
    fn labels_read_like_keys() {
        assert_eq!(ctrl('s').label(), "Ctrl-S");
        assert_eq!(key(KeyCode::PageDown).label(), "PgDn");
        assert_eq!(KEYMAP[1].keys_label(), "↑ / ↓");
        let search: Vec<String> = hints(Context::Search)
            .into_iter()
            .map(|(k, w)| format!("{k} {w}"))
            .collect();
        assert_eq!(
            search,
            [
                "↑↓ move",
                "Enter details",
                "Ctrl-S sort",
                "Ctrl-R sync",
                "? help",
                "Ctrl-C quit"
            ]
        );
        let help: Vec<String> = hints(Context::Help)
            .into_iter()
            .map(|(k, w)| format!("{k} {w}"))
            .collect();
        assert_eq!(help, ["Esc close help", "Ctrl-C quit"]);
    }
}
