//! The real TUI without a terminal: the [`App`], its `update`, the render function and the
//! client task, drawing on ratatui's `TestBackend`. It exists so `hubdex-bench tui` can time
//! what a user waits for (a key press until its frame, a query until its results are on
//! screen) against a real daemon; it applies key presses and the client task's answers the
//! way [`run`](super::run)'s loop does.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use crossterm::event::KeyEvent;
use hubdex_ipc::HubdexClient;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::mpsc;

use super::app::{Action, App, Effect, update};
use super::keymap::Keymap;
use super::theme::Theme;
use super::{MAX_BATCH, client, view};

/// The TUI on an off-screen terminal of a fixed size, talking to a daemon.
pub struct Harness {
    app: App,
    terminal: Terminal<TestBackend>,
    effects: mpsc::UnboundedSender<Effect>,
    actions: mpsc::UnboundedReceiver<Action>,
    quit: bool,
}

impl Harness {
    /// Starts the client task on `client` (reconnecting on `socket`), with the default keys
    /// and the dark theme at `width`×`height`, sends the app's first effects (the first
    /// search among them) and draws the first frame. Must run inside a tokio runtime.
    pub fn start(socket: &Path, client: HubdexClient, width: u16, height: u16) -> Harness {
        let (actions_tx, actions) = mpsc::unbounded_channel();
        let effects = client::spawn(
            client,
            socket.to_path_buf(),
            actions_tx,
            client::Config::default(),
        );
        let app = App::new(
            Theme::from_env(false),
            Arc::new(Keymap::default()),
            (width, height),
            Utc::now(),
        );
        let Ok(terminal) = Terminal::new(TestBackend::new(width, height));
        let mut harness = Harness {
            app,
            terminal,
            effects,
            actions,
            quit: false,
        };
        let first = harness.app.start();
        harness.perform(first);
        harness.draw();
        harness
    }

    /// Applies one key press (its effects go to the client task) and draws the frame that
    /// answers it: what a user waits for between pressing a key and seeing it.
    pub fn key(&mut self, key: KeyEvent) {
        let effects = update(&mut self.app, Action::Key(key));
        self.perform(effects);
        self.draw();
    }

    /// True while the newest search has not answered yet (its results are not on screen).
    pub fn searching(&self) -> bool {
        self.app.searching()
    }

    /// True once a key asked the TUI to quit.
    pub fn quit(&self) -> bool {
        self.quit
    }

    /// Waits up to `timeout` for the client task's next answer, applies it and everything
    /// else already waiting (as the TUI's loop does between two frames) and draws once.
    /// False when nothing came in time.
    pub async fn next_answer(&mut self, timeout: Duration) -> bool {
        let Ok(Some(first)) = tokio::time::timeout(timeout, self.actions.recv()).await else {
            return false;
        };
        self.apply(first);
        self.apply_waiting();
        self.draw();
        true
    }

    /// Applies the answers already waiting, without waiting for more, and draws when there
    /// were some. Returns how many there were.
    pub fn drain(&mut self) -> usize {
        let applied = self.apply_waiting();
        if applied > 0 {
            self.draw();
        }
        applied
    }

    /// The last frame as text, one line per row, styles dropped.
    pub fn screen(&self) -> String {
        let buffer = self.terminal.backend().buffer();
        let mut text = String::new();
        for y in 0..buffer.area.height {
            for x in 0..buffer.area.width {
                if let Some(cell) = buffer.cell((x, y)) {
                    text.push_str(cell.symbol());
                }
            }
            text.push('\n');
        }
        text
    }

    fn apply(&mut self, action: Action) {
        let effects = update(&mut self.app, action);
        self.perform(effects);
    }

    fn apply_waiting(&mut self) -> usize {
        let mut applied = 0;
        while applied < MAX_BATCH
            && !self.quit
            && let Ok(action) = self.actions.try_recv()
        {
            self.apply(action);
            applied += 1;
        }
        applied
    }

    /// Hands effects to the client task; the clipboard has no terminal here, so a copy is
    /// dropped.
    fn perform(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Quit => self.quit = true,
                Effect::Copy(_) => {}
                other => {
                    let _ = self.effects.send(other);
                }
            }
        }
    }

    fn draw(&mut self) {
        let app = &self.app;
        let Ok(_) = self.terminal.draw(|frame| view::render(app, frame));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakedaemon::FakeDaemon;
    use crossterm::event::{KeyCode, KeyModifiers};

    fn press(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
    }

    async fn settle(harness: &mut Harness) {
        for _ in 0..100 {
            if !harness.searching() {
                return;
            }
            harness.next_answer(Duration::from_secs(10)).await;
        }
        panic!("the search never answered");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn typed_keys_reach_the_screen_and_the_daemon_answers_them() {
        let dir = tempfile::tempdir().unwrap();
        let daemon = FakeDaemon::new();
        let server = daemon.clone().start(dir.path()).await;
        let client = hubdex_ipc::connect(&server.socket).await.unwrap();
        let mut harness = Harness::start(&server.socket, client, 80, 24);
        assert!(harness.searching(), "the first search is on its way");
        assert!(
            harness.screen().contains("loading…"),
            "{}",
            harness.screen()
        );
        settle(&mut harness).await;
        for c in "gsm".chars() {
            harness.key(press(c));
            assert!(harness.searching());
        }
        assert!(harness.screen().contains("gsm"), "{}", harness.screen());
        settle(&mut harness).await;
        assert_eq!(daemon.searches().last().map(String::as_str), Some("gsm"));
        assert!(
            harness.screen().contains("openai/gsm8k"),
            "{}",
            harness.screen()
        );
        harness.key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
        assert!(harness.quit());
    }
}
