//! Text helpers of the preview: styled spans cut or wrapped to a
//! width in terminal cells (CJK and emoji take two).

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthChar;

use crate::format;

/// `spans` cut to `width` cells, the last one ending in `…` when something was cut.
pub fn fit(spans: Vec<Span<'static>>, width: usize) -> Vec<Span<'static>> {
    let total: usize = spans.iter().map(|s| format::width(&s.content)).sum();
    if total <= width {
        return spans;
    }
    let mut out = Vec::new();
    let mut used = 0;
    for span in spans {
        let w = format::width(&span.content);
        if used + w < width {
            used += w;
            out.push(span);
            continue;
        }
        let cut = format::truncate(&span.content, width - used);
        if !cut.is_empty() {
            out.push(Span::styled(cut, span.style));
        }
        break;
    }
    out
}

/// A run of text in one style, the unit [`wrap`] works on.
#[derive(Debug, Clone, PartialEq)]
pub struct Piece {
    /// The words; `\n` forces a line break.
    pub text: String,
    /// How they are drawn.
    pub style: Style,
}

/// Styled text wrapped at spaces to lines of at most `width` cells; words wider than a line
/// are broken between characters. Every line starts with `first` (the first line) or `rest`
/// (the others), drawn in `prefix_style`.
pub fn wrap(
    pieces: &[Piece],
    width: usize,
    first: &str,
    rest: &str,
    prefix_style: Style,
) -> Vec<Line<'static>> {
    let mut w = Wrapper {
        lines: Vec::new(),
        line: Vec::new(),
        used: 0,
        room: width.saturating_sub(format::width(first)).max(1),
        width,
        first,
        rest,
        prefix_style,
    };
    // A space seen since the last word, to put before the next one on the same line.
    let mut space: Option<Style> = None;
    for piece in pieces {
        for (i, segment) in piece.text.split('\n').enumerate() {
            if i > 0 {
                w.finish();
                space = None;
            }
            let mut word = String::new();
            for c in segment.chars().chain(std::iter::once(' ')) {
                if !c.is_whitespace() {
                    word.push(c);
                    continue;
                }
                if !word.is_empty() {
                    w.word(&std::mem::take(&mut word), piece.style, space);
                }
                space = Some(piece.style);
            }
            // The space chained after the segment only counts when the text ended with one.
            if !segment.ends_with(char::is_whitespace) {
                space = None;
            }
        }
    }
    if !w.line.is_empty() || w.lines.is_empty() {
        w.finish();
    }
    w.lines
}

/// The state of [`wrap`].
struct Wrapper<'a> {
    lines: Vec<Line<'static>>,
    line: Vec<Span<'static>>,
    used: usize,
    room: usize,
    width: usize,
    first: &'a str,
    rest: &'a str,
    prefix_style: Style,
}

impl Wrapper<'_> {
    fn finish(&mut self) {
        let prefix = if self.lines.is_empty() {
            self.first
        } else {
            self.rest
        };
        let mut spans = vec![Span::styled(prefix.to_string(), self.prefix_style)];
        spans.append(&mut self.line);
        self.lines.push(Line::from(spans));
        self.used = 0;
        self.room = self.width.saturating_sub(format::width(self.rest)).max(1);
    }

    /// Adds `word`, after a space in style `space` when there was one and the line is not
    /// empty.
    fn word(&mut self, word: &str, style: Style, space: Option<Style>) {
        let w = format::width(word);
        let gap = usize::from(space.is_some() && self.used > 0);
        if self.used > 0 && self.used + gap + w > self.room {
            self.finish();
        } else if let (Some(space_style), 1) = (space, gap) {
            self.line.push(Span::styled(" ", space_style));
            self.used += 1;
        }
        if w <= self.room.saturating_sub(self.used) {
            self.line.push(Span::styled(word.to_string(), style));
            self.used += w;
            return;
        }
        for ch in word.chars() {
            let cw = ch.width().unwrap_or(0);
            if self.used > 0 && self.used + cw > self.room {
                self.finish();
            }
            self.line.push(Span::styled(ch.to_string(), style));
            self.used += cw;
        }
    }
}

/// `label` then `value` wrapped beside it, the labels `label_w` cells wide so values line
/// up (or just the label and a space when the pane is too narrow for that).
pub fn labelled(
    label: &str,
    label_w: usize,
    value: Piece,
    width: usize,
    label_style: Style,
) -> Vec<Line<'static>> {
    let w = if width >= label_w + 12 {
        label_w.max(format::width(label) + 1)
    } else {
        format::width(label) + 1
    };
    let first = format::pad_right(label, w);
    wrap(&[value], width, &first, &" ".repeat(w), label_style)
}

/// One line of unwrapped text broken between characters into lines of `width` cells (code
/// keeps its spaces and is never reflowed).
pub fn hard_wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    let mut line = String::new();
    let mut used = 0;
    for c in text.chars() {
        let c = if c == '\t' { ' ' } else { c };
        let cw = c.width().unwrap_or(0);
        if used + cw > width {
            out.push(std::mem::take(&mut line));
            used = 0;
        }
        line.push(c);
        used += cw;
    }
    out.push(line);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::style::Modifier;

    fn plain(lines: &[Line]) -> Vec<String> {
        lines.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn sizes_read_like_the_hub() {
        assert_eq!(format::bytes(0), "0 B");
        assert_eq!(format::bytes(999), "999 B");
        assert_eq!(format::bytes(104_186), "104.2 kB");
        assert_eq!(format::bytes(2_000_000_000), "2.0 GB");
        assert_eq!(format::bytes(999_999_999), "1.0 GB");
    }

    #[test]
    fn wrapping_keeps_styles_spaces_and_widths() {
        let bold = Style::new().add_modifier(Modifier::BOLD);
        let pieces = [
            Piece {
                text: "a ".into(),
                style: Style::new(),
            },
            Piece {
                text: "bold".into(),
                style: bold,
            },
            Piece {
                text: " word, then 中文字符 text".into(),
                style: Style::new(),
            },
        ];
        let lines = wrap(&pieces, 12, "• ", "  ", Style::new());
        assert_eq!(
            plain(&lines),
            ["• a bold", "  word, then", "  中文字符", "  text"]
        );
        for line in &lines {
            assert!(line.width() <= 12, "{line}");
        }
        assert!(
            lines[0]
                .spans
                .iter()
                .any(|s| s.content == "bold" && s.style == bold)
        );
    }

    #[test]
    fn wrapping_joins_pieces_without_a_space_between_them() {
        let pieces = [
            Piece {
                text: "foo".into(),
                style: Style::new(),
            },
            Piece {
                text: "bar, baz".into(),
                style: Style::new(),
            },
        ];
        assert_eq!(
            plain(&wrap(&pieces, 40, "", "", Style::new())),
            ["foobar, baz"]
        );
    }

    #[test]
    fn long_words_break_and_breaks_are_kept() {
        let pieces = [Piece {
            text: "https://huggingface.co/datasets\nnext".into(),
            style: Style::new(),
        }];
        let lines = plain(&wrap(&pieces, 10, "", "", Style::new()));
        assert_eq!(
            lines,
            ["https://hu", "ggingface.", "co/dataset", "s", "next"]
        );
        assert_eq!(hard_wrap("ab\tcd", 3), ["ab ", "cd"]);
    }

    #[test]
    fn fit_cuts_with_an_ellipsis() {
        let spans = vec![Span::raw("hello "), Span::raw("world")];
        let cut: String = fit(spans, 8)
            .iter()
            .map(|s| s.content.to_string())
            .collect();
        assert_eq!(cut, "hello w…");
    }
}
