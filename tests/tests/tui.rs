//! The explorer end to end: the real `hubdex` binary in a real terminal (a tmux pane,
//! 120x40), against a real daemon it starts itself and a real fake Hub process serving the
//! catalog, one dataset repo and the dataset viewer. Keys go in with `tmux send-keys`, the
//! screen comes out with `tmux capture-pane -p`, polled in bounded loops.
//!
//! Needs `tmux` on the PATH (`.ci/run` installs it); without it the test says so and fails.

// Test code through and through: a panic with its location is the failure report.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hubdex_e2e::{FakeHubProcess, Home, bin};

/// How long one screen may take to show what is waited for: the harness's patience, as the
/// first screen waits for the daemon to import the embedded catalog (slow on a busy machine).
const SCREEN_PATIENCE: Duration = hubdex_e2e::PATIENCE;

/// A tmux server of the test's own (`-L`), killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts `command` in a detached 120x40 session.
    fn start(command: &str) -> Tmux {
        let socket = format!("hubdex-e2e-{}", std::process::id());
        let tmux = Tmux { socket };
        let status = tmux
            .cmd()
            .args([
                "new-session",
                "-d",
                "-x",
                "120",
                "-y",
                "40",
                "-s",
                "ui",
                command,
            ])
            .status()
            .expect("tmux is needed for this test: install it (apt-get install -y tmux)");
        assert!(status.success(), "tmux new-session failed: {status}");
        tmux
    }

    fn cmd(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.args(["-L", &self.socket, "-f", "/dev/null"])
            .env_remove("TMUX")
            .stdin(Stdio::null());
        cmd
    }

    /// Types `text` literally.
    fn type_text(&self, text: &str) {
        let status = self
            .cmd()
            .args(["send-keys", "-t", "ui", "-l", text])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Presses a key by tmux's name for it (`Enter`, `Escape`, `q`).
    fn press(&self, key: &str) {
        let status = self
            .cmd()
            .args(["send-keys", "-t", "ui", key])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// The screen as text.
    fn screen(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", "ui"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Polls the screen until `want` holds, failing with the screen and the daemon's log.
    fn wait_for(&self, what: &str, home: &Home, want: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if want(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < SCREEN_PATIENCE,
                "timed out waiting for {what}; the screen:\n{screen}\n--- daemon log ---\n{}",
                home.daemon_log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn wait_text(&self, text: &str, home: &Home) -> String {
        self.wait_for(&format!("“{text}”"), home, |s| s.contains(text))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

fn write(root: &Path, path: &str, text: &str) {
    let file = root.join(path);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(file, text).unwrap();
}

/// Quotes `s` for the shell tmux runs the command with.
fn sh(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[test]
fn the_explorer_searches_previews_follows_and_downloads_in_a_real_terminal() {
    // One real catalog dataset gets files on the fake Hub: a card and a CSV split.
    let repos = tempfile::tempdir().unwrap();
    write(
        repos.path(),
        "openai/gsm8k/README.md",
        "---\nlicense: mit\n---\n# GSM8K card for the TUI test\n\nGrade school math.\n",
    );
    write(
        repos.path(),
        "openai/gsm8k/data/train.csv",
        "question,answer\nWhat is two plus two?,4\nWhat is three times three?,9\n",
    );
    let repos_arg = repos.path().to_str().unwrap();
    let hub = FakeHubProcess::start(&["--repos", repos_arg]);
    let home = Home::new(&hub.url);
    home.write_config(&format!(
        "sync_on_start = false\nviewer_endpoint = \"{}/viewer\"\n",
        hub.url
    ));
    let env = [
        ("HUBDEX_HOME", home.path().to_str().unwrap().to_string()),
        ("HF_ENDPOINT", hub.url.clone()),
        (
            "HF_HOME",
            home.path().join("hf").to_str().unwrap().to_string(),
        ),
        ("HUBDEX_HTTP", "127.0.0.1:0".to_string()),
        ("HUBDEX_LOG", "info".to_string()),
    ];
    let mut command = String::from("env -u HF_TOKEN -u HF_HUB_CACHE -u XDG_RUNTIME_DIR");
    for (name, value) in &env {
        command.push_str(&format!(" {name}={}", sh(value)));
    }
    command.push_str(&format!(" {}", sh(bin("hubdex").to_str().unwrap())));
    let tmux = Tmux::start(&command);

    // The TUI starts the daemon, which serves the embedded catalog at once.
    tmux.wait_for("the first results", &home, |s| {
        s.contains("records") && s.contains("downloads")
    });
    tmux.type_text("openai/gsm8k");
    tmux.wait_for("openai/gsm8k first in the results", &home, |s| {
        let mut lines = s.lines().skip_while(|l| !l.contains("downloads likes"));
        lines.nth(1).is_some_and(|l| l.contains("openai/gsm8k"))
    });

    // Enter opens the preview on its Card tab; 2 is Files, 4 is Rows.
    tmux.press("Enter");
    tmux.wait_text("GSM8K card for the TUI test", &home);
    tmux.press("2");
    tmux.wait_text("train.csv", &home);
    tmux.press("4");
    tmux.wait_text("What is two plus two?", &home);

    // f follows; the Follows view lists it.
    tmux.press("f");
    tmux.wait_text("following openai/gsm8k", &home);
    tmux.press("F");
    tmux.wait_for("the Follows view", &home, |s| {
        s.contains("seen") && s.contains("openai/gsm8k")
    });
    tmux.press("F2");

    // d opens the download form; Enter starts it; the Jobs view shows it finish.
    tmux.press("d");
    tmux.wait_text("download openai/gsm8k", &home);
    tmux.press("Enter");
    // The job may finish before a screen shows it queued: any sign that it exists will do.
    tmux.wait_for("the job to be submitted", &home, |s| {
        ["queued", "running", "succeeded", "↓openai/gsm8k"]
            .iter()
            .any(|sign| s.contains(sign))
    });
    tmux.press("J");
    let screen = tmux.wait_for("the download to succeed", &home, |s| {
        s.contains("download openai/gsm8k") && s.contains("succeeded")
    });
    assert!(!screen.contains("failed"), "{screen}");
    assert!(
        home.hf_cache()
            .join("datasets--openai--gsm8k/snapshots")
            .exists(),
        "the files are in the Hugging Face cache"
    );

    // q quits and gives the terminal back.
    tmux.press("q");
    let start = Instant::now();
    while tmux
        .cmd()
        .args(["has-session", "-t", "ui"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        assert!(
            start.elapsed() < SCREEN_PATIENCE,
            "hubdex did not quit on q:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
