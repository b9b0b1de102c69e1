//! The RFC 8288 `Link` header, as far as pagination needs it: the `rel="next"` target.

/// The target of the first link with relation `next` in a `Link` header value, if any.
///
/// Handles several comma-separated links, unquoted and space-separated `rel` values, commas
/// inside `<…>` and quoted parameters; a malformed entry is skipped, not fatal.
pub(crate) fn next_link(value: &str) -> Option<&str> {
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        if rest.is_empty() {
            return None;
        }
        let Some(after_open) = rest.strip_prefix('<') else {
            rest = skip_entry(rest);
            continue;
        };
        let close = after_open.find('>')?;
        let target = after_open[..close].trim();
        let (params, tail) = split_params(&after_open[close + 1..]);
        if !target.is_empty() && has_rel_next(params) {
            return Some(target);
        }
        rest = tail;
    }
}

/// Splits `; rel="next", <…>` into this entry's parameters and the rest of the header,
/// at the first comma outside quotes.
fn split_params(s: &str) -> (&str, &str) {
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => return (&s[..i], &s[i..]),
            _ => {}
        }
    }
    (s, "")
}

/// Skips a malformed entry up to the next comma outside quotes.
fn skip_entry(s: &str) -> &str {
    split_params(s).1
}

/// True when the parameters hold `rel` with `next` among its space-separated values.
fn has_rel_next(params: &str) -> bool {
    params.split(';').any(|param| {
        param.split_once('=').is_some_and(|(key, value)| {
            key.trim().eq_ignore_ascii_case("rel")
                && value
                    .trim()
                    .trim_matches('"')
                    .split_ascii_whitespace()
                    .any(|rel| rel.eq_ignore_ascii_case("next"))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_single_next_link() {
        let h = r#"<https://huggingface.co/api/datasets?limit=1000&sort=downloads&cursor=eyJ9>; rel="next""#;
        assert_eq!(
            next_link(h),
            Some("https://huggingface.co/api/datasets?limit=1000&sort=downloads&cursor=eyJ9")
        );
    }

    #[test]
    fn picks_next_among_several_relations() {
        let h = r#"<http://h/api/datasets?p=0>; rel="first", <http://h/api/datasets?p=2>; rel="next", <http://h/api/datasets?p=9>; rel="last""#;
        assert_eq!(next_link(h), Some("http://h/api/datasets?p=2"));
        let prev_first = r#"<http://h/a?p=1>; rel="prev",<http://h/a?p=3>;rel="next""#;
        assert_eq!(next_link(prev_first), Some("http://h/a?p=3"));
    }

    #[test]
    fn no_next_relation_means_the_last_page() {
        assert_eq!(next_link(""), None);
        assert_eq!(next_link(r#"<http://h/a?p=0>; rel="first""#), None);
        assert_eq!(
            next_link(r#"<http://h/a?p=0>; rel="prev", <http://h/b>; title="next""#),
            None
        );
        assert_eq!(next_link(r#"<http://h/nextpage>; rel="nextish""#), None);
    }

    #[test]
    fn accepts_unquoted_and_multi_valued_rel_and_commas_in_urls() {
        assert_eq!(
            next_link("<http://h/a?c=1>; REL=next"),
            Some("http://h/a?c=1")
        );
        assert_eq!(
            next_link(r#"<http://h/a>; rel="last next""#),
            Some("http://h/a")
        );
        let comma = r#"<http://h/a?filter=a,b>; title="x, y"; rel="next""#;
        assert_eq!(next_link(comma), Some("http://h/a?filter=a,b"));
    }

    #[test]
    fn skips_malformed_entries() {
        assert_eq!(next_link(r#"http://h/a; rel="next""#), None);
        assert_eq!(next_link(r#"<http://h/a; rel="next""#), None);
        assert_eq!(next_link(r#"<>; rel="next""#), None);
        assert_eq!(
            next_link(r#"garbage; rel="next", <http://h/b>; rel="next""#),
            Some("http://h/b")
        );
    }
}
