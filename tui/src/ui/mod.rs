//! The TUI, in the Elm shape: [`app`] holds the state and the pure `update`, [`view`] draws
//! it, [`client`] talks to the daemon, and [`run`] wires them to the terminal.

mod app;
mod client;
mod keymap;
mod terminal;
#[cfg(test)]
pub mod testdata;
mod theme;
mod view;

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use crossterm::event::{Event, EventStream, KeyEventKind};
use futures::StreamExt;
use hubdex_ipc::HubdexClient;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use app::{Action, App, Effect, update};
use theme::Theme;

/// How often the clock ticks (spinners, "5 min ago", notices).
const TICK: Duration = Duration::from_millis(250);
/// The most actions applied between two frames, so a flood cannot starve the screen.
const MAX_BATCH: usize = 1024;

/// Runs the TUI on this terminal until the user quits, talking to the daemon through
/// `client` (and reconnecting on `socket` when it goes away).
pub async fn run(socket: &Path, client: HubdexClient) -> anyhow::Result<()> {
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
    let mut app = App::new(Theme::from_env(), (size.width, size.height), Utc::now());
    let send = |effects_out: Vec<Effect>| -> bool {
        for effect in effects_out {
            if effect == Effect::Quit {
                return true;
            }
            let _ = effects.send(effect);
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
        Event::Paste(text) => Some(Action::Paste(text)),
        Event::Resize(width, height) => Some(Action::Resize { width, height }),
        _ => None,
    }
}
