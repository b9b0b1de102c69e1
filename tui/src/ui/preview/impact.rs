//! The Impact tab (size, popularity, licence, gating and freshness of one dataset, from its
//! catalog record) and the combined impact of several marked datasets.

use chrono::{DateTime, Utc};
use hubdex_core::{Dataset, DatasetId, GateMode, Gated};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use serde_json::Value;

use super::text::{self, Piece};
use crate::format;
use crate::ui::theme::Theme;

/// Width of a field's label.
const LABEL_W: usize = 11;

/// The Impact tab's lines for one dataset.
pub(super) fn lines(
    dataset: &Dataset,
    width: usize,
    theme: Theme,
    now: DateTime<Utc>,
) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let plain = Style::new();
    let mut field = |label: &str, value: String, style: Style| {
        out.extend(labelled(label, value, style, width, theme));
    };
    let (size, size_style) = match (declared_bytes(dataset), dataset.estimated_bytes()) {
        (Some((bytes, what)), _) => (format!("{} ({what})", format::bytes(bytes)), plain),
        (None, Some(bytes)) => (
            format!("≈ {} (estimated from rows)", format::bytes(bytes)),
            plain,
        ),
        (None, None) => ("unknown".to_string(), theme.dim()),
    };
    field("size", size, size_style);
    match dataset.row_range() {
        Some((low, high)) if low == high => field("rows", format::thousands(low), plain),
        Some(_) => {
            let bucket = dataset
                .size_bucket()
                .map_or_else(String::new, |b| b.to_string());
            field("rows", format!("{bucket} (size category)"), plain);
        }
        None => field("rows", "unknown".to_string(), theme.dim()),
    }
    field(
        "downloads",
        format!("{} (30 days)", format::thousands(dataset.downloads)),
        plain,
    );
    field("likes", format::thousands(dataset.likes), plain);
    if dataset.trending_score > 0.0 {
        field("trending", format!("{:.1}", dataset.trending_score), plain);
    }
    match licence(dataset) {
        Some(licence) => field("licence", licence, plain),
        None => field(
            "licence",
            "none declared: ask the owner before reuse".to_string(),
            theme.warn(),
        ),
    }
    let gated = match dataset.gated {
        Gated::Flag(false) => ("no".to_string(), plain),
        Gated::Flag(true) => ("yes: request access on the Hub".to_string(), theme.warn()),
        Gated::Mode(GateMode::Auto) => (
            "yes: access is granted once you accept the terms".to_string(),
            theme.warn(),
        ),
        Gated::Mode(GateMode::Manual) => (
            "yes: the owners approve each request".to_string(),
            theme.warn(),
        ),
    };
    field("gated", gated.0, gated.1);
    if dataset.private {
        field("private", "yes".to_string(), theme.warn());
    }
    if dataset.disabled {
        field(
            "disabled",
            "yes: its files cannot be read".to_string(),
            theme.error(),
        );
    }
    let when = |at: Option<DateTime<Utc>>| match at {
        Some(at) => format!("{} ({})", format::date(Some(at)), format::relative(at, now)),
        None => "unknown".to_string(),
    };
    field("updated", when(dataset.last_modified), plain);
    field("created", when(dataset.created_at), plain);
    out
}

/// A label and a value wrapped under it.
fn labelled(
    label: &str,
    value: String,
    style: Style,
    width: usize,
    theme: Theme,
) -> Vec<Line<'static>> {
    text::labelled(
        label,
        LABEL_W,
        Piece { text: value, style },
        width,
        theme.dim(),
    )
}

/// The licence: the `license:` tag, else the card's `license`.
fn licence(dataset: &Dataset) -> Option<String> {
    dataset.license().map(str::to_string).or_else(|| {
        let value = dataset.card_data.as_ref()?.get("license")?;
        match value {
            Value::String(s) => Some(s.clone()),
            Value::Array(items) => {
                let names: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
                (!names.is_empty()).then(|| names.join(", "))
            }
            _ => None,
        }
    })
}

/// The card's declared size with how the Impact tab words it.
fn declared_bytes(dataset: &Dataset) -> Option<(u64, &'static str)> {
    let (bytes, key) = dataset.declared_size()?;
    let what = if key == "download_size" {
        "download, declared"
    } else {
        "on disk, declared"
    };
    Some((bytes, what))
}

/// What several datasets weigh together: the numbers a user checks before combining them
/// into one training mix.
#[derive(Debug, Clone, PartialEq)]
pub struct CombinedImpact {
    /// The datasets, in the order given.
    pub datasets: Vec<DatasetId>,
    /// Sum of the sizes that are known, declared or estimated.
    pub total_bytes: u64,
    /// True when some of those sizes are estimates from row counts.
    pub estimated: bool,
    /// Datasets whose size is unknown (not in `total_bytes`).
    pub unknown_size: Vec<DatasetId>,
    /// Summed downloads over the last 30 days.
    pub downloads: u64,
    /// Summed likes.
    pub likes: u64,
    /// Each licence and the datasets under it, most common first; `None` is "no licence
    /// declared".
    pub licences: Vec<(Option<String>, Vec<DatasetId>)>,
    /// Datasets that need an access request.
    pub gated: Vec<DatasetId>,
}

impl CombinedImpact {
    /// True when the datasets do not all share one declared licence.
    pub fn licences_differ(&self) -> bool {
        self.licences.len() > 1 || self.licences.iter().any(|(l, _)| l.is_none())
    }
}

/// The combined impact of `datasets`.
pub fn combined_impact(datasets: &[Dataset]) -> CombinedImpact {
    let mut out = CombinedImpact {
        datasets: datasets.iter().map(|d| d.id.clone()).collect(),
        total_bytes: 0,
        estimated: false,
        unknown_size: Vec::new(),
        downloads: 0,
        likes: 0,
        licences: Vec::new(),
        gated: Vec::new(),
    };
    for d in datasets {
        match (declared_bytes(d), d.estimated_bytes()) {
            (Some((bytes, _)), _) => out.total_bytes = out.total_bytes.saturating_add(bytes),
            (None, Some(bytes)) => {
                out.total_bytes = out.total_bytes.saturating_add(bytes);
                out.estimated = true;
            }
            (None, None) => out.unknown_size.push(d.id.clone()),
        }
        out.downloads = out.downloads.saturating_add(d.downloads);
        out.likes = out.likes.saturating_add(d.likes);
        let licence = licence(d);
        match out.licences.iter_mut().find(|(l, _)| *l == licence) {
            Some((_, ids)) => ids.push(d.id.clone()),
            None => out.licences.push((licence, vec![d.id.clone()])),
        }
        if d.gated.is_gated() {
            out.gated.push(d.id.clone());
        }
    }
    out.licences.sort_by_key(|l| std::cmp::Reverse(l.1.len()));
    out
}

fn ids(list: &[DatasetId]) -> String {
    list.iter()
        .map(DatasetId::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The combined impact of `datasets` as lines of at most `width` cells.
pub fn combined_lines(datasets: &[Dataset], width: usize, theme: Theme) -> Vec<Line<'static>> {
    let c = combined_impact(datasets);
    let plain = Style::new();
    let mut out: Vec<Line<'static>> = format::wrap(
        &format!(
            "combined impact of {}: {}",
            format::count(c.datasets.len() as u64, "dataset"),
            ids(&c.datasets)
        ),
        width,
    )
    .into_iter()
    .map(|l| Line::styled(l, theme.accent()))
    .collect();
    out.push(Line::raw(""));
    let mut field = |label: &str, value: String, style: Style| {
        out.extend(labelled(label, value, style, width, theme));
    };
    let mut size = format::bytes(c.total_bytes);
    if c.estimated {
        size = format!("≈ {size} (some estimated from rows)");
    }
    field("size", size, plain);
    if !c.unknown_size.is_empty() {
        field("no size", ids(&c.unknown_size), theme.warn());
    }
    field(
        "downloads",
        format!("{} (30 days, summed)", format::thousands(c.downloads)),
        plain,
    );
    field(
        "likes",
        format!("{} (summed)", format::thousands(c.likes)),
        plain,
    );
    if c.licences_differ() {
        field(
            "licences",
            "differ: check each one allows the use you mean".to_string(),
            theme.warn(),
        );
        for (licence, list) in &c.licences {
            let name = licence.as_deref().unwrap_or("none declared");
            field("", format!("{name}: {}", ids(list)), plain);
        }
    } else if let Some((Some(licence), _)) = c.licences.first() {
        field("licence", format!("all {licence}"), plain);
    }
    if c.gated.is_empty() {
        field("gated", "none".to_string(), plain);
    } else {
        field(
            "gated",
            format!("{}: request access to each", ids(&c.gated)),
            theme.warn(),
        );
    }
    out
}

/// Draws the combined impact of `datasets` in `area` (what the app shows on `c` for the
/// marked datasets).
pub fn render_combined(frame: &mut Frame, area: Rect, theme: Theme, datasets: &[Dataset]) {
    let lines: Vec<Line> = combined_lines(datasets, usize::from(area.width), theme)
        .into_iter()
        .take(usize::from(area.height))
        .collect();
    frame.render_widget(Paragraph::new(lines), area);
}
