//! Query strings as the Hub reads them: repeated keys, `expand[]`, lenient booleans, and the
//! raw parameters that `Link` URLs must repeat.

use crate::catalog::{Position, Sort};
use crate::cursor;
use crate::render::{Props, expandable, expandable_names};

/// A parsed `GET /api/datasets` request.
#[derive(Debug)]
pub(crate) struct ListRequest {
    pub search: Vec<String>,
    pub author: Vec<String>,
    pub filter: Vec<String>,
    pub gated: Option<bool>,
    pub sort: Sort,
    pub limit: usize,
    pub props: Props,
    pub after: Option<Position>,
    /// The request's own parameters, still encoded, without `cursor`: the next page's URL
    /// repeats them.
    pub link_query: String,
}

/// One `key=value` of a query string.
struct Param<'a> {
    raw: &'a str,
    key: String,
    value: String,
}

fn params(raw: &str) -> Vec<Param<'_>> {
    raw.split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
            Param {
                raw: piece,
                key: percent_decode(key),
                value: percent_decode(value),
            }
        })
        .collect()
}

/// Decodes `application/x-www-form-urlencoded` text: `+` is a space, `%XX` a byte.
pub(crate) fn percent_decode(text: &str) -> String {
    decode(text, true)
}

/// Decodes one URL path segment: `%XX` is a byte (so `%2F` is `/`), `+` stays `+`.
pub(crate) fn decode_path_segment(text: &str) -> String {
    decode(text, false)
}

fn decode(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' if plus_is_space => out.push(b' '),
            b'%' => {
                let digit = |at: usize| bytes.get(at).and_then(|&b| (b as char).to_digit(16));
                match digit(i + 1)
                    .zip(digit(i + 2))
                    .map(|(h, l)| (h * 16 + l) as u8)
                {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads a boolean the way Hub clients write them: `true`/`false` (httpx, huggingface.js),
/// `True`/`False` (old requests-based clients) or `1`/`0`.
pub(crate) fn boolean(key: &str, value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(format!(
            "`{key}` must be a boolean (true or false; True, False, 1 and 0 work too), got `{value}`"
        )),
    }
}

fn expand(value: &str, props: &mut Option<Props>) -> Result<(), String> {
    let prop = expandable(value).ok_or_else(|| {
        format!(
            "invalid `expand` value `{value}`; valid values are: {}",
            expandable_names()
        )
    })?;
    *props = Some(props.unwrap_or(Props::NONE).with(prop));
    Ok(())
}

/// Parses the query string of `GET /api/datasets`. A parameter with an empty value counts as
/// absent; unknown parameters are ignored, as the Hub ignores them.
pub(crate) fn list_request(raw: &str, page_size: usize) -> Result<ListRequest, String> {
    let mut request = ListRequest {
        search: Vec::new(),
        author: Vec::new(),
        filter: Vec::new(),
        gated: None,
        sort: Sort::Default,
        limit: page_size,
        props: Props::LIST,
        after: None,
        link_query: String::new(),
    };
    let mut full = false;
    let mut expanded = None;
    let mut cursor = None;
    let mut kept = Vec::new();
    for p in params(raw) {
        if p.key == "cursor" {
            cursor = Some(p.value);
            continue;
        }
        kept.push(link_safe(p.raw));
        if p.value.is_empty() {
            continue;
        }
        match p.key.as_str() {
            "search" => request.search.push(p.value),
            "author" => request.author.push(p.value),
            "filter" => request.filter.push(p.value),
            "gated" => request.gated = Some(boolean("gated", &p.value)?),
            "full" => full = boolean("full", &p.value)?,
            "expand" | "expand[]" => expand(&p.value, &mut expanded)?,
            "sort" => {
                request.sort = Sort::parse(&p.value).ok_or_else(|| {
                    format!(
                        "invalid `sort` value `{}`; valid values are: {} (always descending)",
                        p.value,
                        Sort::NAMES
                    )
                })?;
            }
            "limit" => request.limit = limit(&p.value, page_size)?,
            _ => {}
        }
    }
    request.props = match (expanded, full) {
        (Some(props), _) => props,
        (None, true) => Props::FULL,
        (None, false) => Props::LIST,
    };
    if let Some(text) = cursor.filter(|c| !c.is_empty()) {
        request.after = Some(cursor::decode(request.sort, &text)?);
    }
    request.link_query = kept.join("&");
    Ok(request)
}

/// A raw query parameter made safe inside `Link: <…>; rel="next"`: `,` and `;` separate
/// links and their parameters, and some clients split on them before finding the `<…>`, so
/// they (and anything else outside plain URL characters) are percent-encoded. The encoded
/// form decodes to the same value.
fn link_safe(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        let plain = b.is_ascii_alphanumeric() || b"-._~%=+!$'()*:@/?&[]".contains(&b);
        if plain {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `limit`: a positive integer, capped at the page size.
fn limit(value: &str, page_size: usize) -> Result<usize, String> {
    let error = || {
        format!(
            "`limit` must be a whole number from 1 to {page_size} (larger values are capped), got `{value}`"
        )
    };
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(error());
    }
    match value.parse::<usize>() {
        Ok(0) => Err(error()),
        Ok(n) => Ok(n.min(page_size)),
        // Only digits, so the number is too large to hold: cap it.
        Err(_) => Ok(page_size),
    }
}

/// Parses the query string of a dataset info request: `expand` (and `expand[]`) choose the
/// properties; `full` and `blobs` are accepted and change nothing.
pub(crate) fn info_props(raw: &str) -> Result<Props, String> {
    let mut expanded = None;
    for p in params(raw) {
        if !p.value.is_empty() && matches!(p.key.as_str(), "expand" | "expand[]") {
            expand(&p.value, &mut expanded)?;
        }
    }
    Ok(expanded.unwrap_or(Props::INFO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::Prop;

    #[test]
    fn decodes_percent_and_plus() {
        assert_eq!(percent_decode("a+b%2Fc%3C%3e"), "a b/c<>");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("caf%C3%A9"), "café");
        assert_eq!(
            decode_path_segment("refs%2Fconvert%2Fparquet+x"),
            "refs/convert/parquet+x"
        );
    }

    #[test]
    fn reads_repeated_and_bracketed_keys() {
        let r = list_request(
            "search=a&search=B&filter=language%3Aen&filter=x&expand[]=likes&expand=author&gated=True",
            1000,
        )
        .unwrap();
        assert_eq!(r.search, ["a", "B"]);
        assert_eq!(r.filter, ["language:en", "x"]);
        assert_eq!(r.gated, Some(true));
        assert_eq!(r.props, Props::NONE.with(Prop::Likes).with(Prop::Author));
    }

    #[test]
    fn booleans_accept_what_clients_send() {
        for (text, value) in [
            ("true", true),
            ("True", true),
            ("1", true),
            ("false", false),
            ("False", false),
            ("0", false),
        ] {
            assert_eq!(boolean("full", text), Ok(value));
        }
        assert!(boolean("full", "yes").unwrap_err().contains("`full`"));
    }

    #[test]
    fn limit_is_capped_and_validated() {
        assert_eq!(list_request("limit=5", 1000).unwrap().limit, 5);
        assert_eq!(list_request("limit=5000", 1000).unwrap().limit, 1000);
        assert_eq!(
            list_request("limit=99999999999999999999999", 10)
                .unwrap()
                .limit,
            10
        );
        assert_eq!(list_request("", 1000).unwrap().limit, 1000);
        for bad in ["limit=0", "limit=-1", "limit=ten", "limit=1.5"] {
            assert!(
                list_request(bad, 1000).unwrap_err().contains("`limit`"),
                "{bad}"
            );
        }
    }

    #[test]
    fn link_query_keeps_everything_but_the_cursor() {
        let r = list_request("sort=likes&cursor=&search=a%2Fb&direction=-1", 1000).unwrap();
        assert_eq!(r.link_query, "sort=likes&search=a%2Fb&direction=-1");
        assert_eq!(r.sort, Sort::Likes);
    }

    #[test]
    fn link_query_encodes_what_would_split_a_link_header() {
        let r = list_request("search=a,b&filter=x;y&sort=likes", 1000).unwrap();
        assert_eq!(r.link_query, "search=a%2Cb&filter=x%3By&sort=likes");
        assert_eq!(r.search, ["a,b"]);
        let again = list_request(&r.link_query, 1000).unwrap();
        assert_eq!((again.search, again.filter), (r.search, r.filter));
    }

    #[test]
    fn unknown_values_are_named_in_the_error() {
        let e = list_request("expand=author&expand=bogus", 1000).unwrap_err();
        assert!(
            e.contains("`bogus`") && e.contains("downloadsAllTime"),
            "{e}"
        );
        let e = list_request("sort=stars", 1000).unwrap_err();
        assert!(e.contains("`stars`") && e.contains("trendingScore"), "{e}");
        assert!(info_props("expand=nope").is_err());
        assert_eq!(info_props("full=true&blobs=1").unwrap(), Props::INFO);
    }

    #[test]
    fn full_adds_card_data_and_expand_wins_over_it() {
        assert_eq!(list_request("full=1", 10).unwrap().props, Props::FULL);
        assert_eq!(
            list_request("full=true&expand=likes", 10).unwrap().props,
            Props::NONE.with(Prop::Likes)
        );
    }
}
