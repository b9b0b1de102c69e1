//! Colours and emphasis. A value, not an environment lookup, so `NO_COLOR` and the palette
//! are decided once at start-up and render tests are deterministic.

use ratatui::style::{Color, Modifier, Style};

/// The styles the view uses. With `color` off only bold, dim, underline and reverse are
/// used; `light` picks colours that read on a light background.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// False when `NO_COLOR` is set.
    pub color: bool,
    /// True for the light palette (`theme = "light"` in `config.toml`).
    pub light: bool,
}

impl Default for Theme {
    fn default() -> Self {
        Theme::dark()
    }
}

impl Theme {
    /// Colours for a dark terminal background (the default).
    pub const fn dark() -> Theme {
        Theme {
            color: true,
            light: false,
        }
    }

    /// Colours for a light terminal background.
    pub const fn light() -> Theme {
        Theme {
            color: true,
            light: true,
        }
    }

    /// No colours at all, for `NO_COLOR`.
    pub const fn plain() -> Theme {
        Theme {
            color: false,
            light: false,
        }
    }

    /// The theme for this process: `name` from `config.toml` (`dark` or `light`), and no
    /// colour when `NO_COLOR` is set to anything non-empty (<https://no-color.org>).
    pub fn from_env(light: bool) -> Theme {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        if no_color {
            Theme::plain()
        } else if light {
            Theme::light()
        } else {
            Theme::dark()
        }
    }

    fn pick(self, dark: Style, light: Style, plain: Style) -> Style {
        match (self.color, self.light) {
            (false, _) => plain,
            (true, false) => dark,
            (true, true) => light,
        }
    }

    /// The `/` prompt of the search box.
    pub fn prompt(self) -> Style {
        self.accent()
    }

    /// Secondary text: namespaces, labels, hints.
    pub fn dim(self) -> Style {
        self.pick(
            Style::new().fg(Color::DarkGray),
            Style::new().fg(Color::Gray),
            Style::new().add_modifier(Modifier::DIM),
        )
    }

    /// Column headers and field names.
    pub fn header(self) -> Style {
        let bold = Style::new().add_modifier(Modifier::BOLD);
        self.pick(bold.fg(Color::Yellow), bold.fg(Color::Magenta), bold)
    }

    /// The selected row; `focused` when its pane has the keyboard.
    pub fn selected(self, focused: bool) -> Style {
        match (self.color, self.light, focused) {
            (true, false, true) => Style::new()
                .bg(Color::Blue)
                .fg(Color::White)
                .add_modifier(Modifier::BOLD),
            (true, false, false) => Style::new().bg(Color::DarkGray).fg(Color::White),
            (true, true, true) => Style::new()
                .bg(Color::LightBlue)
                .fg(Color::Black)
                .add_modifier(Modifier::BOLD),
            (true, true, false) => Style::new().bg(Color::Gray).fg(Color::Black),
            (false, _, true) => Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
            (false, _, false) => Style::new().add_modifier(Modifier::REVERSED),
        }
    }

    /// Pane borders; brighter around the focused pane.
    pub fn border(self, focused: bool) -> Style {
        match (self.color, focused) {
            (true, true) => self.pick(
                Style::new().fg(Color::Cyan),
                Style::new().fg(Color::Blue),
                Style::new(),
            ),
            (true, false) => self.dim(),
            (false, true) => Style::new().add_modifier(Modifier::BOLD),
            (false, false) => Style::new(),
        }
    }

    /// Titles and names that should stand out.
    pub fn accent(self) -> Style {
        let bold = Style::new().add_modifier(Modifier::BOLD);
        self.pick(bold.fg(Color::Cyan), bold.fg(Color::Blue), bold)
    }

    /// Failures: an unreachable daemon, a failed search, a mistake in the query.
    pub fn error(self) -> Style {
        let bold = Style::new().add_modifier(Modifier::BOLD);
        self.pick(bold.fg(Color::Red), bold.fg(Color::Red), bold)
    }

    /// Good news: a finished sync or job, a downloaded dataset.
    pub fn ok(self) -> Style {
        self.pick(
            Style::new().fg(Color::Green),
            Style::new().fg(Color::Green),
            Style::new(),
        )
    }

    /// Warnings: offline, a failed sync, followed datasets that changed.
    pub fn warn(self) -> Style {
        self.pick(
            Style::new().fg(Color::Yellow),
            Style::new().fg(Color::Magenta),
            Style::new().add_modifier(Modifier::BOLD),
        )
    }

    /// Key names in the footer and the help.
    pub fn key(self) -> Style {
        let bold = Style::new().add_modifier(Modifier::BOLD);
        self.pick(bold.fg(Color::Magenta), bold.fg(Color::Magenta), bold)
    }
}
