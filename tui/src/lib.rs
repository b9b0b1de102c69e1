//! The parts of the `hubdex` binary, as a library so that `hubdex-bench tui` can drive the
//! real TUI: [`ui::Harness`] runs the app state, its `update`, the render function and the
//! client task against a running daemon on an off-screen terminal.
//!
//! Only [`ui`] is meant to be used from outside; the other modules are the binary's own
//! (hidden from the docs, no stability promised).

#[doc(hidden)]
pub mod commands;
#[cfg(test)]
mod fakedaemon;
#[doc(hidden)]
pub mod format;
#[doc(hidden)]
pub mod jobs;
#[doc(hidden)]
pub mod launcher;
#[doc(hidden)]
pub mod logging;
pub mod ui;
