//! The Card tab: the card's metadata (`cardData`, the README's YAML front matter) as a
//! compact property list, then the README rendered.

use hubdex_core::Dataset;
use hubdex_ipc::Card;
use ratatui::style::Style;
use ratatui::text::Line;
use serde_json::Value;

use super::markdown::Doc;
use super::text::{self, Piece};
use super::{Body, stale_line};
use crate::ui::theme::Theme;

/// `cardData` keys shown first, in this order, with their labels.
const KNOWN: [(&str, &str); 12] = [
    ("pretty_name", "name"),
    ("license", "licence"),
    ("language", "languages"),
    ("task_categories", "tasks"),
    ("task_ids", "task ids"),
    ("size_categories", "size"),
    ("multilinguality", "multilingual"),
    ("source_datasets", "sources"),
    ("annotations_creators", "annotations"),
    ("language_creators", "text by"),
    ("paperswithcode_id", "papers"),
    ("tags", "tags"),
];
/// Keys never shown as properties: long structures the other tabs show better.
const SKIPPED: [&str; 3] = ["dataset_info", "train-eval-index", "extra_gated_fields"];
/// Width of a property's label.
const LABEL_W: usize = 13;

/// The tab's lines: a stale warning, the properties, then the README.
pub(super) fn body(dataset: &Dataset, card: &Card, doc: &Doc, width: usize, theme: Theme) -> Body {
    let mut lines: Vec<Line<'static>> = Vec::new();
    let properties = properties(dataset);
    for (label, value) in &properties {
        let value = Piece {
            text: value.clone(),
            style: Style::new(),
        };
        lines.extend(text::labelled(label, LABEL_W, value, width, theme.dim()));
    }
    if !properties.is_empty() {
        lines.push(Line::raw(""));
    }
    if doc.is_empty() {
        lines.push(Line::styled("this dataset has no README", theme.dim()));
    } else {
        lines.extend(doc.lines(width, theme));
    }
    Body {
        fixed: stale_line(card.stale.as_deref(), width, theme)
            .into_iter()
            .collect(),
        lines,
    }
}

/// The card's metadata as (label, value) pairs: known keys first, then other short ones.
fn properties(dataset: &Dataset) -> Vec<(String, String)> {
    let Some(Value::Object(data)) = &dataset.card_data else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, label) in KNOWN {
        if let Some(value) = data.get(key).and_then(words) {
            out.push((label.to_string(), value));
        }
    }
    if let Some(configs) = data.get("configs").and_then(Value::as_array) {
        let names: Vec<&str> = configs
            .iter()
            .filter_map(|c| c.get("config_name").and_then(Value::as_str))
            .collect();
        if !names.is_empty() {
            out.push(("configs".to_string(), names.join(", ")));
        }
    }
    for (key, value) in data {
        if KNOWN.iter().any(|(k, _)| k == key)
            || SKIPPED.contains(&key.as_str())
            || key == "configs"
        {
            continue;
        }
        if let Some(value) = words(value) {
            out.push((key.replace('_', " "), value));
        }
    }
    out
}

/// A scalar or a list of scalars in words; `None` for empty values and nested structures.
fn words(value: &Value) -> Option<String> {
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    };
    match value {
        Value::Array(items) => {
            let words: Vec<String> = items.iter().filter_map(scalar).collect();
            (!words.is_empty() && words.len() == items.len()).then(|| words.join(", "))
        }
        other => scalar(other),
    }
}
