//! The TUI, in the Elm shape: [`app`] holds the state and the pure `update`, [`view`] draws
//! it, [`client`] talks to the daemon, and [`run`] wires them to the terminal;
//! [`Harness`] wires them to an off-screen terminal instead, for measurements.

mod app;
mod client;
mod harness;
mod keymap;
mod preview;
mod terminal;
#[cfg(test)]
pub mod testdata;
mod theme;
mod view;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use chrono::Utc;
use crossterm::event::{Event, EventStream, KeyEventKind, MouseEventKind};
use futures::StreamExt;
use hubdex_ipc::HubdexClient;
use serde::Deserialize;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use app::{Action, App, Effect, update};
pub use harness::Harness;
use keymap::Keymap;
use theme::Theme;

/// How often the clock ticks (spinners, "5 min ago", notices).
const TICK: Duration = Duration::from_millis(250);
/// The most actions applied between two frames, so a flood cannot starve the screen.
const MAX_BATCH: usize = 1024;

/// The TUI's settings in `config.toml` (the daemon reads the rest of the file).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct UiConfig {
    /// `dark` (the default) or `light`.
    theme: Option<String>,
    /// Commands rebound: `follow = "w"`, `quit = ["q", "ctrl-q"]`.
    keys: BTreeMap<String, toml::Value>,
}

/// The TUI's settings read from `config_file`: the palette and the keymap. A missing file
/// means the defaults; a mistake (an unknown theme, a key conflict) is an error that says
/// what to change, reported before the screen is taken over.
pub fn load_settings(config_file: &Path) -> anyhow::Result<Settings> {
    let text = match std::fs::read_to_string(config_file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", config_file.display())),
    };
    let config: UiConfig = toml::from_str::<toml::Table>(&text)
        .map_err(anyhow::Error::from)
        .and_then(|table| {
            let mut wanted = toml::Table::new();
            for key in ["theme", "keys"] {
                if let Some(value) = table.get(key) {
                    wanted.insert(key.to_string(), value.clone());
                }
            }
            Ok(wanted.try_into::<UiConfig>()?)
        })
        .with_context(|| format!("cannot read {}", config_file.display()))?;
    let light = match config.theme.as_deref() {
        None | Some("dark") => false,
        Some("light") => true,
        Some(other) => anyhow::bail!(
            "{}: theme = \"{other}\" is not a theme; use \"dark\" or \"light\"",
            config_file.display()
        ),
    };
    let keymap = Keymap::with_overrides(&config.keys)
        .with_context(|| format!("in {}", config_file.display()))?;
    Ok(Settings {
        theme: Theme::from_env(light),
        keymap: Arc::new(keymap),
    })
}

/// What `config.toml` says about the TUI.
pub struct Settings {
    theme: Theme,
    keymap: Arc<Keymap>,
}

/// Runs the TUI on this terminal until the user quits, talking to the daemon through
/// `client` (and reconnecting on `socket` when it goes away).
pub async fn run(socket: &Path, client: HubdexClient, settings: Settings) -> anyhow::Result<()> {
    let (actions_tx, mut actions) = mpsc::unbounded_channel();
    let effects = client::spawn(
        client,
        socket.to_path_buf(),
        actions_tx,
        client::Config::default(),
    );
    let mut sigterm = signal(SignalKind::terminate()).context("cannot watch for SIGTERM")?;
    let mut sighup = signal(SignalKind::hangup()).context("cannot watch for SIGHUP")?;
    let mut terminal = terminal::enter().context("cannot set up the terminal")?;
    let size = terminal.size().context("cannot read the terminal size")?;
    let mut app = App::new(
        settings.theme,
        settings.keymap,
        (size.width, size.height),
        Utc::now(),
    );
    let send = |effects_out: Vec<Effect>| -> bool {
        for effect in effects_out {
            match effect {
                Effect::Quit => return true,
                Effect::Copy(text) => copy(&text),
                other => {
                    let _ = effects.send(other);
                }
            }
        }
        false
    };
    send(app.start());
    let mut events = EventStream::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        terminal
            .draw(|frame| view::render(&app, frame))
            .context("cannot draw on the terminal")?;
        let first = tokio::select! {
            event = events.next() => match event {
                Some(Ok(event)) => translate(event),
                Some(Err(e)) => return Err(e).context("cannot read the terminal"),
                None => return Ok(()),
            },
            action = actions.recv() => match action {
                Some(action) => Some(action),
                None => anyhow::bail!("the connection to the daemon stopped; restart hubdex"),
            },
            _ = tick.tick() => Some(Action::Tick(Utc::now())),
            _ = sigterm.recv() => return Ok(()),
            _ = sighup.recv() => return Ok(()),
        };
        let mut quit = first.is_some_and(|action| send(update(&mut app, action)));
        // Apply everything already waiting before drawing again.
        for _ in 0..MAX_BATCH {
            if quit {
                break;
            }
            let next = tokio::select! {
                biased;
                Some(Ok(event)) = events.next() => translate(event),
                Some(action) = actions.recv() => Some(action),
                () = std::future::ready(()) => break,
            };
            quit = next.is_some_and(|action| send(update(&mut app, action)));
        }
        if quit {
            return Ok(());
        }
    }
}

/// The action for a terminal event, if it is one the app cares about.
fn translate(event: Event) -> Option<Action> {
    match event {
        Event::Key(key) if key.kind != KeyEventKind::Release => Some(Action::Key(key)),
        Event::Mouse(mouse) if !matches!(mouse.kind, MouseEventKind::Moved) => {
            Some(Action::Mouse(mouse))
        }
        Event::Paste(text) => Some(Action::Paste(text)),
        Event::Resize(width, height) => Some(Action::Resize { width, height }),
        _ => None,
    }
}

/// The OSC 52 sequence that puts `text` on the clipboard of the terminal, wherever it runs
/// (over SSH too); inside tmux (`$TMUX` set) wrapped for tmux's passthrough.
fn osc52(text: &str, tmux: bool) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(text);
    let sequence = format!("\x1b]52;c;{encoded}\x07");
    if tmux {
        format!("\x1bPtmux;{}\x1b\\", sequence.replace('\x1b', "\x1b\x1b"))
    } else {
        sequence
    }
}

/// Puts `text` on the clipboard through the terminal.
fn copy(text: &str) {
    let tmux = std::env::var_os("TMUX").is_some_and(|v| !v.is_empty());
    let mut out = std::io::stdout();
    if let Err(e) = out
        .write_all(osc52(text, tmux).as_bytes())
        .and_then(|()| out.flush())
    {
        tracing::warn!("cannot write the clipboard sequence: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osc52_carries_the_text_and_wraps_for_tmux() {
        assert_eq!(
            osc52("openai/gsm8k", false),
            "\x1b]52;c;b3BlbmFpL2dzbThr\x07"
        );
        assert_eq!(osc52("a", true), "\x1bPtmux;\x1b\x1b]52;c;YQ==\x07\x1b\\");
    }

    #[test]
    fn settings_come_from_config_toml_next_to_the_daemon_settings() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        let settings = load_settings(&file).unwrap();
        assert_eq!(*settings.keymap, Keymap::default());
        std::fs::write(
            &file,
            "sync_interval = \"2h\"\ntheme = \"light\"\n[keys]\nfollow = \"w\"\n[jobs]\n",
        )
        .unwrap();
        let settings = load_settings(&file).unwrap();
        assert_eq!(settings.keymap.key_for(keymap::Command::Follow), "w");
        std::fs::write(&file, "theme = \"solarized\"\n").unwrap();
        let err = load_settings(&file).err().unwrap().to_string();
        assert!(err.contains("\"dark\" or \"light\""), "{err}");
        std::fs::write(&file, "[keys]\nfollow = \"d\"\n").unwrap();
        let err = format!("{:#}", load_settings(&file).err().unwrap());
        assert!(
            err.contains("bound to both `follow` and `download`"),
            "{err}"
        );
    }
}
