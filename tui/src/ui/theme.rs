//! Colours and emphasis. A value, not an environment lookup, so `NO_COLOR` is decided once
//! at start-up and render tests are deterministic.

use ratatui::style::{Color, Modifier, Style};

/// The styles the view uses. With `color` off only bold, dim and reverse are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// False when `NO_COLOR` is set.
    pub color: bool,
}

impl Theme {
    /// The theme for this process: no colour when `NO_COLOR` is set to anything non-empty
    /// (<https://no-color.org>).
    pub fn from_env() -> Theme {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Theme { color: !no_color }
    }

    fn pick(self, colored: Style, plain: Style) -> Style {
        if self.color { colored } else { plain }
    }

    /// The `/` prompt of the search box.
    pub fn prompt(self) -> Style {
        let bold = Style::new().add_modifier(Modifier::BOLD);
        self.pick(bold.fg(Color::Cyan), bold)
    }

    /// Secondary text: namespaces, labels, hints.
    pub fn dim(self) -> Style {
        self.pick(
            Style::new().fg(Color::DarkGray),
            Style::new().add_modifier(Modifier::DIM),
        )
    }

    /// Column headers and field names.
    pub fn header(self) -> Style {
        let bold = Style::new().add_modifier(Modifier::BOLD);
        self.pick(bold.fg(Color::Yellow), bold)
    }

    /// The selected row; `focused` when the results, not the detail pane, have the focus.
    pub fn selected(self, focused: bool) -> Style {
        match (self.color, focused) {
            (true, true) => Style::new()
                .bg(Color::Blue)
                .fg(Color::White)
                .add_modifier(Modifier::BOLD),
            (true, false) => Style::new().bg(Color::DarkGray).fg(Color::White),
            (false, true) => Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
            (false, false) => Style::new().add_modifier(Modifier::REVERSED),
        }
    }

    /// Pane borders; brighter around the focused pane.
    pub fn border(self, focused: bool) -> Style {
        match (self.color, focused) {
            (true, true) => Style::new().fg(Color::Cyan),
            (true, false) => Style::new().fg(Color::DarkGray),
            (false, true) => Style::new().add_modifier(Modifier::BOLD),
            (false, false) => Style::new(),
        }
    }

    /// Titles and names that should stand out.
    pub fn accent(self) -> Style {
        let bold = Style::new().add_modifier(Modifier::BOLD);
        self.pick(bold.fg(Color::Cyan), bold)
    }

    /// Failures: an unreachable daemon, a failed search.
    pub fn error(self) -> Style {
        let bold = Style::new().add_modifier(Modifier::BOLD);
        self.pick(bold.fg(Color::Red), bold)
    }

    /// Good news: a finished sync, a live connection.
    pub fn ok(self) -> Style {
        self.pick(Style::new().fg(Color::Green), Style::new())
    }

    /// Warnings: offline, a sync that failed.
    pub fn warn(self) -> Style {
        self.pick(
            Style::new().fg(Color::Yellow),
            Style::new().add_modifier(Modifier::BOLD),
        )
    }

    /// Key names in the footer and the help.
    pub fn key(self) -> Style {
        let bold = Style::new().add_modifier(Modifier::BOLD);
        self.pick(bold.fg(Color::Magenta), bold)
    }
}
