//! Pure text formatting shared by the TUI and the CLI: numbers, dates, display widths, the
//! search table, the dataset card and the status report. Nothing here does I/O or reads the
//! clock; callers pass `now`.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use hubdex_core::Dataset;
use hubdex_ipc::{
    CatalogSync, SearchResponse, StartupProgress, StartupStep, Status, SyncKind, SyncProgress,
    WaitReason,
};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// The Hub's web endpoint, used for dataset URLs until the daemon says which one it syncs from.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// Frames of the braille spinner shown while something is under way.
pub const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// A count in at most four characters: `999`, `1.2k`, `35k`, `1.2M`, `3B`.
pub fn compact(n: u64) -> String {
    if n < 1000 {
        return n.to_string();
    }
    const UNITS: [(f64, &str); 3] = [(1e3, "k"), (1e6, "M"), (1e9, "B")];
    #[allow(clippy::cast_precision_loss)]
    let value = n as f64;
    for (i, (scale, suffix)) in UNITS.iter().enumerate() {
        let x = value / scale;
        if x < 9.95 {
            let one_decimal = format!("{x:.1}");
            let trimmed = one_decimal.strip_suffix(".0").unwrap_or(&one_decimal);
            return format!("{trimmed}{suffix}");
        }
        if x < 999.5 || i == UNITS.len() - 1 {
            return format!("{x:.0}{suffix}");
        }
    }
    n.to_string()
}

/// Bytes for people, in powers of 1000 as the Hub shows sizes: `999 B`, `1.5 kB`, `2.0 GB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if n < 1000 {
        return format!("{n} B");
    }
    #[allow(clippy::cast_precision_loss)]
    let mut value = n as f64 / 1000.0;
    let mut unit = 0;
    while value >= 999.95 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// An estimated byte count: marked `≈` and cut to the two significant digits an estimate
/// from a row count can claim: `≈650 kB`, `≈65 MB`, `≈6.5 GB`.
pub fn approx_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    #[allow(clippy::cast_precision_loss)]
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 99.5 && unit + 1 < UNITS.len() {
        if value < 999.5 {
            return format!("≈{:.0} {}", (value / 10.0).round() * 10.0, UNITS[unit]);
        }
        value /= 1000.0;
        unit += 1;
    }
    if value < 9.95 && unit > 0 {
        format!("≈{value:.1} {}", UNITS[unit])
    } else {
        format!("≈{value:.0} {}", UNITS[unit])
    }
}

/// A count with thousands separators: `12,345`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A count and its noun: `1 page`, `12,000 records`.
pub fn count(n: u64, noun: &str) -> String {
    format!("{} {noun}{}", thousands(n), if n == 1 { "" } else { "s" })
}

/// A span in a few characters, for ETAs and waits: `42s`, `4m05s`, `1h02m`.
pub fn short_span(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// What a daemon that does not answer yet is doing: `rebuilding the index, 42% of 1,500,000
/// records`. Short, for a spinner line or the status line at 80 columns.
pub fn startup_step(progress: &StartupProgress, now: DateTime<Utc>) -> String {
    match progress.step {
        StartupStep::RebuildingIndex { read, of } => format!(
            "rebuilding the index, {}% of {}",
            (read * 100).checked_div(of).unwrap_or(100).min(100),
            count(of, "record")
        ),
        StartupStep::CatchingUpIndex { read, of } => format!(
            "indexing the last sync: {} of {}",
            thousands(read),
            thousands(of)
        ),
        StartupStep::CompactingIndex => {
            let took = (now - progress.since).num_seconds().max(0).unsigned_abs();
            format!("compacting the index ({})", short_span(took))
        }
        StartupStep::ImportingSnapshot => "importing the embedded catalog".to_string(),
    }
}

/// A date as `YYYY-MM-DD`, or `-` when unknown.
pub fn date(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(|| "-".to_string(), |at| at.format("%Y-%m-%d").to_string())
}

/// How long ago (or how far ahead) `at` is from `now`, in words: `5 min ago`, `in 2 h`.
pub fn relative(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - at).num_seconds();
    let (amount, future) = (secs.unsigned_abs(), secs < 0);
    if amount < 60 {
        return if future { "in a moment" } else { "just now" }.to_string();
    }
    let span = if amount < 3600 {
        format!("{} min", amount / 60)
    } else if amount < 86_400 {
        format!("{} h", amount / 3600)
    } else {
        let days = amount / 86_400;
        format!("{days} day{}", if days == 1 { "" } else { "s" })
    };
    if future {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

/// A search time in milliseconds: `0.4 ms`, `12 ms`.
pub fn millis(ms: f64) -> String {
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

/// The display width of `s` in terminal cells (CJK characters take two).
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// `s` cut to at most `max` cells, ending in `…` when something was cut.
pub fn truncate(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > max - 1 {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

/// `s` padded with spaces on the right to `cells` cells.
pub fn pad_right(s: &str, cells: usize) -> String {
    format!("{s}{}", " ".repeat(cells.saturating_sub(width(s))))
}

/// `s` padded with spaces on the left to `cells` cells.
pub fn pad_left(s: &str, cells: usize) -> String {
    format!("{}{s}", " ".repeat(cells.saturating_sub(width(s))))
}

/// Text wrapped at word boundaries to lines of at most `cells` cells. Words longer than a
/// line (URLs, and CJK text, which has no spaces) are broken between characters. Line
/// breaks in `text` are kept; no line is ever wider than `cells`.
pub fn wrap(text: &str, cells: usize) -> Vec<String> {
    let cells = cells.max(1);
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        let mut used = 0;
        for word in paragraph.split_whitespace() {
            let w = width(word);
            if used > 0 && used + 1 + w <= cells {
                line.push(' ');
                line.push_str(word);
                used += 1 + w;
                continue;
            }
            if used > 0 {
                lines.push(std::mem::take(&mut line));
                used = 0;
            }
            if w <= cells {
                line.push_str(word);
                used = w;
                continue;
            }
            for c in word.chars() {
                let cw = c.width().unwrap_or(0);
                if used + cw > cells {
                    lines.push(std::mem::take(&mut line));
                    used = 0;
                }
                line.push(c);
                used += cw;
            }
        }
        lines.push(line);
    }
    lines
}

/// A README extract made readable: control characters dropped, each line trimmed, runs of
/// blank lines (the Hub's extracts are full of `\n\t\n\t\t`) folded into one.
pub fn clean_description(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let line: String = line
            .chars()
            .map(|c| if c == '\t' { ' ' } else { c })
            .filter(|c| !c.is_control())
            .collect();
        let line = line.trim();
        if line.is_empty() && out.last().is_none_or(String::is_empty) {
            continue;
        }
        out.push(line.to_string());
    }
    while out.last().is_some_and(String::is_empty) {
        out.pop();
    }
    out.join("\n")
}

/// Width of the `downloads` column (its header).
const DOWNLOADS_W: usize = 9;
/// Width of the `likes` column (its header).
const LIKES_W: usize = 5;
/// Width of the `updated` column (a date).
const UPDATED_W: usize = 10;
/// Spaces between CLI table columns.
const GAP: usize = 2;
/// The narrowest the id column gets, however narrow the terminal.
const MIN_ID_W: usize = 12;

/// The search hits as a table (id, downloads, likes, updated). With `max_width` (a
/// terminal's width) ids are truncated with `…` so rows fit; without it (a pipe) ids are
/// printed whole.
pub fn search_table(hits: &[Dataset], max_width: Option<usize>) -> String {
    let longest = hits
        .iter()
        .map(|d| width(d.id.as_str()))
        .max()
        .unwrap_or(0)
        .max(2);
    let fixed = DOWNLOADS_W + LIKES_W + UPDATED_W + 3 * GAP;
    let id_w = match max_width {
        Some(max) => longest.min(max.saturating_sub(fixed).max(MIN_ID_W)),
        None => longest,
    };
    let gap = " ".repeat(GAP);
    let mut out = String::new();
    let row = |out: &mut String, id: &str, downloads: &str, likes: &str, updated: &str| {
        let line = format!(
            "{}{gap}{}{gap}{}{gap}{}",
            pad_right(&truncate(id, id_w), id_w),
            pad_left(downloads, DOWNLOADS_W),
            pad_left(likes, LIKES_W),
            pad_right(updated, UPDATED_W),
        );
        out.push_str(line.trim_end());
        out.push('\n');
    };
    row(&mut out, "id", "downloads", "likes", "updated");
    for d in hits {
        row(
            &mut out,
            d.id.as_str(),
            &compact(d.downloads),
            &compact(d.likes),
            &date(d.last_modified),
        );
    }
    out
}

/// The line under a search table: `20 of 1,234 datasets · 3.1 ms`.
pub fn search_summary(response: &SearchResponse) -> String {
    format!(
        "{} of {} dataset{} · {}",
        thousands(response.hits.len() as u64),
        thousands(response.total),
        if response.total == 1 { "" } else { "s" },
        millis(response.took_ms)
    )
}

/// One dataset as `hubdex show` prints it: fields, then the description.
pub fn dataset_card(d: &Dataset, endpoint: &str) -> String {
    let mut out = String::new();
    let mut field = |name: &str, value: &str| {
        let _ = writeln!(out, "{} {value}", pad_right(name, 10));
    };
    field("id", d.id.as_str());
    if let Some(name) = d.pretty_name() {
        field("name", name);
    }
    field("author", d.owner().unwrap_or("-"));
    field("licence", d.license().unwrap_or("-"));
    field(
        "downloads",
        &format!("{} (last 30 days)", thousands(d.downloads)),
    );
    field("likes", &thousands(d.likes));
    field("created", &date(d.created_at));
    field("updated", &date(d.last_modified));
    if d.gated.is_gated() {
        field("gated", "yes: request access on the Hub");
    }
    field(
        "tags",
        &if d.tags.is_empty() {
            "-".to_string()
        } else {
            d.tags.join(", ")
        },
    );
    field("url", &d.id.web_url(endpoint));
    let description = d.description.as_deref().map(clean_description);
    if let Some(text) = description.filter(|t| !t.is_empty()) {
        out.push('\n');
        out.push_str(&text);
        out.push('\n');
    }
    out
}

/// The daemon's sync state in a few words, for the TUI's status line: `syncing 12,000
/// records, ends in 3 min`, `offline: <reason>`, `synced 5 min ago`. A wait counts down
/// from `now`, as the daemon sends no news while it waits.
pub fn sync_state(status: &Status, now: DateTime<Utc>) -> String {
    if let Some(progress) = &status.syncing {
        // The status line is short: a wait replaces the progress it holds up.
        if let Some(wait) = &progress.waiting {
            let left = short_span((wait.until - now).num_seconds().max(0).unsigned_abs());
            return match wait.reason {
                WaitReason::RateLimit => format!("sync paused {left}: Hub rate limit"),
                WaitReason::Retry => format!("sync retries in {left}: a request failed"),
            };
        }
        let records = count(progress.records, "record");
        return match sync_end(progress, now) {
            Some(end) => format!("syncing {records}, ends {}", relative(end, now)),
            None => format!("syncing {records}"),
        };
    }
    if let Some(reason) = &status.offline {
        return format!("offline: {reason}");
    }
    if status.compacting {
        return "synced; compacting the index".to_string();
    }
    match (&status.last_sync, status.last_success) {
        (Some(report), _) if !report.succeeded() => {
            format!("last sync failed {}", relative(report.finished_at, now))
        }
        (_, Some(at)) => format!("synced {}", relative(at, now)),
        _ => "not synced yet".to_string(),
    }
}

/// The full report `hubdex status` prints.
pub fn status_report(status: &Status, now: DateTime<Utc>) -> String {
    let mut out = String::new();
    let mut field = |name: &str, value: &str| {
        let _ = writeln!(out, "{} {value}", pad_right(name, 10));
    };
    field("records", &thousands(status.records));
    field("endpoint", &status.endpoint);
    let sync = match &status.syncing {
        Some(p) => running_sync(p, now),
        None if status.compacting => {
            "idle; compacting the search index (searches are slower until it ends)".to_string()
        }
        None => "idle".to_string(),
    };
    field("sync", &sync);
    let last = match &status.last_sync {
        Some(r) => {
            let when = timestamp(r.finished_at, now);
            match &r.error {
                None => format!(
                    "{when}, ok: {} pages, {} records",
                    thousands(r.pages),
                    thousands(r.records)
                ),
                Some(e) => format!("{when}, failed: {e}"),
            }
        }
        None => "never".to_string(),
    };
    field("last sync", &last);
    if let Some(at) = status.last_success
        && status.last_sync.as_ref().is_some_and(|r| !r.succeeded())
    {
        field("last ok", &timestamp(at, now));
    }
    catalog_fields(
        &status.catalog_sync,
        status.syncing.is_some(),
        now,
        &mut field,
    );
    let next = status
        .next_sync
        .map_or_else(|| "-".to_string(), |at| timestamp(at, now));
    field("next sync", &next);
    field("offline", status.offline.as_deref().unwrap_or("no"));
    field("http", status.http.as_deref().unwrap_or("off"));
    field("version", &status.version);
    out
}

/// A moment for `hubdex status`: `2026-04-01 11:55:00 UTC (5 min ago)`.
fn timestamp(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    format!(
        "{} ({})",
        at.format("%Y-%m-%d %H:%M:%S UTC"),
        relative(at, now)
    )
}

/// A running sync for `hubdex status`: what it walks, how far it is, when it should end,
/// and what it waits for.
fn running_sync(p: &SyncProgress, now: DateTime<Utc>) -> String {
    let mut out = format!(
        "running since {}: {}, {} pages, {} records",
        timestamp(p.started_at, now),
        walk_name(p.kind),
        thousands(p.pages),
        thousands(p.records)
    );
    if let Some(expected) = p.expected.filter(|e| *e > 0 && *e >= p.records) {
        let _ = write!(out, " of about {}", thousands(expected));
    }
    if let Some(end) = sync_end(p, now) {
        let _ = write!(out, ", ends {}", relative(end, now));
    }
    if p.resumed {
        out.push_str(", continuing an interrupted walk");
    }
    if p.rate_limit_waits > 0 {
        let _ = write!(
            out,
            "; waited for the Hub's rate limit {}",
            count(p.rate_limit_waits, "time")
        );
    }
    if let Some(wait) = &p.waiting {
        let _ = write!(out, "; now {}", wait.message);
    }
    out
}

/// When the daemon expects the running sync to end. An ETA past what a date can hold (a
/// stalled walk) is left out rather than trusted.
fn sync_end(p: &SyncProgress, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let eta = chrono::TimeDelta::try_seconds(i64::try_from(p.eta_seconds?).ok()?)?;
    now.checked_add_signed(eta)
}

/// What a sync of this kind walks, in a few words.
fn walk_name(kind: SyncKind) -> &'static str {
    match kind {
        SyncKind::Full => "walking the whole catalog",
        SyncKind::Incremental => "fetching what changed",
        SyncKind::Sweep => "walking the whole catalog to drop deleted datasets",
    }
}

/// The `catalog`, `next walk`, `last sweep` and `webhooks` lines of `hubdex status`: how
/// complete the local catalog is and what the next sync will do about it (decided when the
/// sync `running` now ends).
fn catalog_fields(
    sync: &CatalogSync,
    running: bool,
    now: DateTime<Utc>,
    field: &mut impl FnMut(&str, &str),
) {
    let when = |at| timestamp(at, now);
    let catalog = match (&sync.synced_endpoint, sync.complete, sync.last_full) {
        (Some(other), _, _) => {
            format!("incomplete: walked in full from {other}, not yet from this endpoint")
        }
        (None, true, Some(at)) => format!("complete: last walked in full {}", when(at)),
        (None, true, None) => "complete".to_string(),
        (None, false, _) => "incomplete: no walk of the whole catalog has finished yet".to_string(),
    };
    field("catalog", &catalog);
    let next = match (&sync.interrupted, sync.next_kind) {
        _ if running => "decided when the running sync ends".to_string(),
        (Some(walk), kind) => format!(
            "continues the interrupted walk ({}) after page {}, {} stored",
            walk_name(kind),
            thousands(walk.pages),
            count(walk.records, "record")
        ),
        (None, SyncKind::Incremental) => match sync.watermark {
            Some(at) => format!("fetches what changed since {}", when(at)),
            None => "fetches what changed".to_string(),
        },
        (None, SyncKind::Full) => "walks the whole catalog".to_string(),
        (None, SyncKind::Sweep) => {
            "walks the whole catalog and drops the datasets the Hub deleted".to_string()
        }
    };
    field("next walk", &next);
    field(
        "last sweep",
        &sync.last_sweep.map_or_else(|| "never".to_string(), when),
    );
    field(
        "webhooks",
        &format!(
            "{} accepted since the daemon started",
            thousands(sync.webhooks)
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use hubdex_core::DatasetId;
    use hubdex_ipc::{SyncReport, SyncWait};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn dataset(id: &str, downloads: u64, likes: u64) -> Dataset {
        let mut d = Dataset::new(DatasetId::new(id).unwrap());
        d.downloads = downloads;
        d.likes = likes;
        d.last_modified = Some(at("2026-03-23T10:00:00Z"));
        d
    }

    /// Fails naming the first of `lines` that `report` lacks.
    fn assert_lines(report: &str, lines: &[&str]) {
        for want in lines {
            assert!(report.contains(want), "missing {want:?} in\n{report}");
        }
    }

    fn status() -> Status {
        Status {
            version: "0.1.0".into(),
            records: 48_997,
            endpoint: "https://huggingface.co".into(),
            syncing: None,
            last_sync: None,
            last_success: None,
            offline: None,
            next_sync: None,
            http: Some("127.0.0.1:8719".into()),
            catalog_sync: Default::default(),
            compacting: false,
        }
    }

    #[test]
    fn estimated_bytes_are_marked_and_rounded_to_two_digits() {
        let cases = [
            (0, "≈0 B"),
            (650, "≈650 B"),
            (6_500, "≈6.5 kB"),
            (65_000, "≈65 kB"),
            (325_000, "≈330 kB"),
            (650_000, "≈650 kB"),
            (999_999, "≈1.0 MB"),
            (6_500_000_000, "≈6.5 GB"),
            (65_000_000_000_000, "≈65 TB"),
            (650_000_000_000_000_000, "≈650 PB"),
        ];
        for (n, want) in cases {
            assert_eq!(approx_bytes(n), want, "{n}");
        }
    }

    #[test]
    fn counts_are_compact() {
        let cases = [
            (0, "0"),
            (999, "999"),
            (1000, "1k"),
            (1252, "1.3k"),
            (9949, "9.9k"),
            (9950, "10k"),
            (35_000, "35k"),
            (774_515, "775k"),
            (999_499, "999k"),
            (999_500, "1M"),
            (1_148_800, "1.1M"),
            (12_345_678, "12M"),
            (3_000_000_000, "3B"),
            (u64::MAX, "18446744074B"),
        ];
        for (n, want) in cases {
            assert_eq!(compact(n), want, "compact({n})");
        }
    }

    #[test]
    fn a_starting_daemon_step_reads_short() {
        let now = Utc::now();
        let at = |step| StartupProgress {
            step,
            since: now - chrono::Duration::seconds(75),
        };
        let said = [
            StartupStep::RebuildingIndex {
                read: 630_000,
                of: 1_500_000,
            },
            StartupStep::RebuildingIndex { read: 0, of: 0 },
            StartupStep::CatchingUpIndex {
                read: 120_000,
                of: 250_000,
            },
            StartupStep::CompactingIndex,
            StartupStep::ImportingSnapshot,
        ]
        .map(|step| startup_step(&at(step), now));
        assert_eq!(
            said,
            [
                "rebuilding the index, 42% of 1,500,000 records",
                "rebuilding the index, 100% of 0 records",
                "indexing the last sync: 120,000 of 250,000",
                "compacting the index (1m15s)",
                "importing the embedded catalog",
            ]
        );
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(48_997), "48,997");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(count(1, "page"), "1 page");
        assert_eq!(count(12_000, "record"), "12,000 records");
    }

    #[test]
    fn dates_and_relative_times() {
        assert_eq!(date(Some(at("2022-01-25T15:34:18Z"))), "2022-01-25");
        assert_eq!(date(None), "-");
        let now = at("2026-04-01T12:00:00Z");
        assert_eq!(relative(at("2026-04-01T11:59:30Z"), now), "just now");
        assert_eq!(relative(at("2026-04-01T11:55:00Z"), now), "5 min ago");
        assert_eq!(relative(at("2026-04-01T09:00:00Z"), now), "3 h ago");
        assert_eq!(relative(at("2026-03-31T12:00:00Z"), now), "1 day ago");
        assert_eq!(relative(at("2026-03-20T12:00:00Z"), now), "12 days ago");
        assert_eq!(relative(at("2026-04-01T12:55:00Z"), now), "in 55 min");
    }

    #[test]
    fn truncation_respects_display_width() {
        assert_eq!(truncate("openai/gsm8k", 20), "openai/gsm8k");
        assert_eq!(truncate("openai/gsm8k", 12), "openai/gsm8k");
        assert_eq!(truncate("openai/gsm8k", 8), "openai/…");
        assert_eq!(truncate("openai/gsm8k", 1), "…");
        assert_eq!(truncate("openai/gsm8k", 0), "");
        // Each CJK character is two cells: never split one, never overflow.
        assert_eq!(truncate("中文医疗数据集", 7), "中文医…");
        assert_eq!(width(&truncate("中文医疗数据集", 7)), 7);
        assert_eq!(truncate("中文医疗数据集", 6), "中文…");
        assert_eq!(width(&truncate("中文医疗数据集", 6)), 5);
        assert_eq!(pad_right("中文", 6), "中文  ");
        assert_eq!(pad_left("1.2k", 9), "     1.2k");
    }

    #[test]
    fn wrapping_keeps_words_and_breaks_long_runs() {
        assert_eq!(
            wrap("the quick brown fox jumps", 10),
            ["the quick", "brown fox", "jumps"]
        );
        assert_eq!(wrap("a\n\nb", 10), ["a", "", "b"]);
        let cjk = wrap("纯文本数据，中文医疗数据集", 8);
        assert!(cjk.iter().all(|l| width(l) <= 8), "{cjk:?}");
        assert_eq!(cjk.concat(), "纯文本数据，中文医疗数据集");
        let url = wrap("see https://huggingface.co/datasets/openai/gsm8k now", 12);
        assert!(url.iter().all(|l| width(l) <= 12), "{url:?}");
        assert_eq!(url.first().map(String::as_str), Some("see"));
    }

    #[test]
    fn descriptions_lose_their_extraction_noise() {
        let raw = "\n\t\n\t\t\n\t\tMatter 0.1\n\t\n\nCurated records.\nDeduped.\n\n\t\n";
        assert_eq!(
            clean_description(raw),
            "Matter 0.1\n\nCurated records.\nDeduped."
        );
        assert_eq!(clean_description("  \n\t"), "");
    }

    #[test]
    fn table_fits_the_terminal_and_aligns_columns() {
        let hits = [
            dataset("openai/gsm8k", 774_515, 1252),
            dataset("mlfoundations/MINT-1T-PDF-CC-2024-18", 1_031_035, 26),
        ];
        let table = search_table(&hits, Some(50));
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines.iter().all(|l| width(l) <= 50), "{table}");
        assert!(lines[0].starts_with("id "));
        assert!(lines[2].starts_with("mlfoundations/MINT-… "), "{table}");
        assert!(lines[1].contains("775k") && lines[1].contains("1.3k"));
        assert!(lines[1].ends_with("2026-03-23"));
        // Right-aligned numbers end in the same column on every row.
        let end = |l: &str, s: &str| l.find(s).map(|i| width(&l[..i]) + width(s));
        assert_eq!(end(lines[0], "downloads"), end(lines[1], "775k"));
        assert_eq!(end(lines[0], "downloads"), end(lines[2], "1M"));

        let piped = search_table(&hits, None);
        assert!(piped.contains("mlfoundations/MINT-1T-PDF-CC-2024-18  "));
    }

    #[test]
    fn table_aligns_cjk_ids_by_width() {
        let hits = [dataset("中文/医疗数据集", 10, 1), dataset("a/b", 10, 1)];
        let table = search_table(&hits, None);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(width(lines[1]), width(lines[2]), "{table}");
    }

    #[test]
    fn sync_state_names_what_matters_most() {
        let now = at("2026-04-01T12:00:00Z");
        let mut s = status();
        assert_eq!(sync_state(&s, now), "not synced yet");
        s.last_success = Some(at("2026-04-01T11:55:00Z"));
        assert_eq!(sync_state(&s, now), "synced 5 min ago");
        s.compacting = true;
        assert_eq!(sync_state(&s, now), "synced; compacting the index");
        s.compacting = false;
        s.last_sync = Some(SyncReport {
            started_at: at("2026-04-01T11:50:00Z"),
            finished_at: at("2026-04-01T11:58:00Z"),
            pages: 1,
            records: 1000,
            error: Some("timed out".into()),
            ..SyncReport::default()
        });
        assert_eq!(sync_state(&s, now), "last sync failed 2 min ago");
        s.offline = Some("cannot reach https://huggingface.co".into());
        assert_eq!(
            sync_state(&s, now),
            "offline: cannot reach https://huggingface.co"
        );
        s.syncing = Some(SyncProgress {
            started_at: now,
            pages: 12,
            records: 12_000,
            ..SyncProgress::default()
        });
        assert_eq!(sync_state(&s, now), "syncing 12,000 records");
    }

    #[test]
    fn a_running_sync_says_when_it_ends_or_how_long_it_waits() {
        let now = at("2026-04-01T12:00:00Z");
        let mut s = status();
        let progress = SyncProgress {
            started_at: at("2026-04-01T11:50:00Z"),
            pages: 151,
            records: 151_000,
            kind: SyncKind::Sweep,
            expected: Some(1_049_000),
            eta_seconds: Some(200),
            ..SyncProgress::default()
        };
        s.syncing = Some(progress.clone());
        assert_eq!(
            sync_state(&s, now),
            "syncing 151,000 records, ends in 3 min"
        );

        // A wait says what the sync waits for instead, counting down while the daemon,
        // waiting, sends nothing new.
        let wait = SyncWait {
            reason: WaitReason::RateLimit,
            until: at("2026-04-01T12:04:05Z"),
            seconds: 245,
            message: "waiting for the Hub's rate limit, 245 s".into(),
        };
        s.syncing = Some(SyncProgress {
            waiting: Some(wait.clone()),
            ..progress.clone()
        });
        assert_eq!(sync_state(&s, now), "sync paused 4m05s: Hub rate limit");
        assert_eq!(
            sync_state(&s, at("2026-04-01T12:03:40Z")),
            "sync paused 25s: Hub rate limit"
        );
        assert_eq!(
            sync_state(&s, at("2026-04-01T12:05:00Z")),
            "sync paused 0s: Hub rate limit"
        );
        s.syncing = Some(SyncProgress {
            waiting: Some(SyncWait {
                reason: WaitReason::Retry,
                until: at("2026-04-01T12:00:12Z"),
                ..wait
            }),
            ..progress
        });
        assert_eq!(sync_state(&s, now), "sync retries in 12s: a request failed");
    }

    #[test]
    fn status_report_lists_every_field() {
        let now = Utc.with_ymd_and_hms(2026, 4, 1, 12, 0, 0).unwrap();
        let mut s = status();
        s.last_sync = Some(SyncReport {
            started_at: at("2026-04-01T11:50:00Z"),
            finished_at: at("2026-04-01T11:55:00Z"),
            pages: 54,
            records: 53_755,
            error: None,
            ..SyncReport::default()
        });
        s.last_success = Some(at("2026-04-01T11:55:00Z"));
        s.next_sync = Some(at("2026-04-01T12:55:00Z"));
        let report = status_report(&s, now);
        assert_lines(
            &report,
            &[
                "records    48,997",
                "endpoint   https://huggingface.co",
                "sync       idle",
                "last sync  2026-04-01 11:55:00 UTC (5 min ago), ok: 54 pages, 53,755 records",
                "next sync  2026-04-01 12:55:00 UTC (in 55 min)",
                "offline    no",
                "http       127.0.0.1:8719",
            ],
        );
    }

    #[test]
    fn status_report_says_how_complete_the_catalog_is_and_what_the_next_walk_does() {
        let now = at("2026-04-01T12:00:00Z");
        let mut s = status();
        let report = status_report(&s, now);
        assert_lines(
            &report,
            &[
                "catalog    incomplete: no walk of the whole catalog has finished yet",
                "next walk  walks the whole catalog",
                "last sweep never",
                "webhooks   0 accepted since the daemon started",
            ],
        );

        s.catalog_sync = CatalogSync {
            complete: true,
            watermark: Some(at("2026-04-01T11:50:00Z")),
            last_full: Some(at("2026-03-31T12:00:00Z")),
            last_sweep: Some(at("2026-03-31T12:00:00Z")),
            next_kind: SyncKind::Incremental,
            webhooks: 3,
            ..CatalogSync::default()
        };
        let report = status_report(&s, now);
        assert_lines(
            &report,
            &[
                "catalog    complete: last walked in full 2026-03-31 12:00:00 UTC (1 day ago)",
                "next walk  fetches what changed since 2026-04-01 11:50:00 UTC (10 min ago)",
                "last sweep 2026-03-31 12:00:00 UTC (1 day ago)",
                "webhooks   3 accepted since the daemon started",
            ],
        );

        s.catalog_sync.next_kind = SyncKind::Sweep;
        s.catalog_sync.interrupted = Some(Box::new(SyncProgress {
            pages: 120,
            records: 120_000,
            kind: SyncKind::Sweep,
            ..SyncProgress::default()
        }));
        assert!(status_report(&s, now).contains(
            "next walk  continues the interrupted walk (walking the whole catalog to drop deleted datasets) after page 120, 120,000 records stored"
        ));

        s.catalog_sync = CatalogSync {
            synced_endpoint: Some("https://huggingface.co".into()),
            next_kind: SyncKind::Full,
            ..CatalogSync::default()
        };
        s.endpoint = "http://mirror.local".into();
        assert!(status_report(&s, now).contains(
            "catalog    incomplete: walked in full from https://huggingface.co, not yet from this endpoint"
        ));
    }

    #[test]
    fn a_running_sync_shows_its_walk_its_progress_its_end_and_its_waits() {
        let now = at("2026-04-01T12:00:00Z");
        let mut s = status();
        s.syncing = Some(SyncProgress {
            started_at: at("2026-04-01T11:50:00Z"),
            pages: 300,
            records: 300_000,
            kind: SyncKind::Full,
            resumed: true,
            expected: Some(1_500_000),
            eta_seconds: Some(25 * 60),
            rate_limit_waits: 2,
            waiting: Some(SyncWait {
                reason: WaitReason::RateLimit,
                until: at("2026-04-01T12:00:42Z"),
                seconds: 42,
                message: "waiting for the Hub's rate limit, 42 s".into(),
            }),
        });
        let report = status_report(&s, now);
        assert!(report.contains("next walk  decided when the running sync ends"));
        let want = "sync       running since 2026-04-01 11:50:00 UTC (10 min ago): walking the whole catalog, 300 pages, 300,000 records of about 1,500,000, ends in 25 min, continuing an interrupted walk; waited for the Hub's rate limit 2 times; now waiting for the Hub's rate limit, 42 s";
        assert!(report.contains(want), "missing {want:?} in\n{report}");

        // A Hub that grew past the local catalog's size: no size, rather than a wrong one.
        // A stalled walk's ETA beyond any date: no end, and no panic.
        if let Some(p) = s.syncing.as_mut() {
            p.expected = Some(100_000);
            p.eta_seconds = Some(u64::MAX / 2);
        }
        let report = status_report(&s, now);
        assert!(!report.contains("of about"), "{report}");
        assert!(!report.contains(", ends "), "{report}");
    }

    #[test]
    fn card_shows_licence_tags_and_url() {
        let mut d = dataset("openai/gsm8k", 774_515, 1252);
        d.tags = vec!["license:mit".into(), "language:en".into()];
        d.description = Some("\n\t\n\t\tGSM8K\n\t\n\nGrade school math.".into());
        let card = dataset_card(&d, "https://huggingface.co");
        for want in [
            "author     openai",
            "licence    mit",
            "downloads  774,515 (last 30 days)",
            "tags       license:mit, language:en",
            "url        https://huggingface.co/datasets/openai/gsm8k",
            "\nGSM8K\n\nGrade school math.\n",
        ] {
            assert!(card.contains(want), "missing {want:?} in\n{card}");
        }
    }
}
