use proptest::prelude::*;

use super::*;
use crate::{SizeBucket, SortKey};

fn strict(input: &str) -> Query {
    Query::parse_strict(input).unwrap_or_else(|e| panic!("{input:?}: {e}"))
}

fn word(text: &str) -> Expr {
    Expr::Text(Text {
        text: text.to_string(),
        phrase: false,
        prefix: false,
        span: Span::default(),
    })
}

/// The expression with spans and prefix marks wiped, for structural comparison.
fn shape(expr: &Expr) -> Expr {
    match expr {
        Expr::And(parts) => Expr::And(parts.iter().map(shape).collect()),
        Expr::Or(parts) => Expr::Or(parts.iter().map(shape).collect()),
        Expr::Not(inner) => Expr::Not(Box::new(shape(inner))),
        Expr::Text(text) => Expr::Text(Text {
            span: Span::default(),
            prefix: false,
            ..text.clone()
        }),
        Expr::Filter(filter) => Expr::Filter(Filter {
            span: Span::default(),
            ..filter.clone()
        }),
    }
}

fn shape_of(input: &str) -> Option<Expr> {
    strict(input).expr.as_ref().map(shape)
}

fn keyword(field: Keyword, values: &[&str]) -> Expr {
    Expr::Filter(Filter {
        condition: Condition::Keyword {
            field,
            values: values.iter().map(|v| v.to_string()).collect(),
        },
        span: Span::default(),
    })
}

fn phrase(text: &str) -> Expr {
    Expr::Text(Text {
        text: text.to_string(),
        phrase: true,
        prefix: false,
        span: Span::default(),
    })
}

fn texts(query: &Query) -> Vec<&str> {
    query
        .words_typed()
        .iter()
        .map(|t| t.text.as_str())
        .collect()
}

#[test]
fn words_and_an_author_filter() {
    let q = strict("  math  author:openai word ");
    assert_eq!(texts(&q), ["math", "word"]);
    assert_eq!(
        shape_of("math author:OpenAI word"),
        Some(Expr::And(vec![
            word("math"),
            keyword(Keyword::Author, &["openai"]),
            word("word")
        ]))
    );
}

#[test]
fn the_last_word_is_a_prefix_unless_excluded_or_quoted() {
    let q = strict("reading compre");
    let words = q.words_typed();
    assert!(!words[0].prefix);
    assert!(words[1].prefix);
    assert!(strict("reading compre ").words_typed()[1].prefix);
    for input in ["reading -compre", "reading \"compre\"", "compre lang:en"] {
        let q = strict(input);
        assert!(q.words_typed().iter().all(|t| !t.prefix), "{input}");
    }
    let q = strict("squad OR squ");
    let Some(Expr::Or(alternatives)) = &q.expr else {
        panic!("{q:?}")
    };
    assert!(matches!(&alternatives[1], Expr::Text(t) if t.prefix));
}

#[test]
fn spans_point_at_what_was_typed() {
    let input = "héllo lang:ko \"a b\"";
    let q = strict(input);
    let Some(Expr::And(parts)) = &q.expr else {
        panic!("{q:?}")
    };
    let spans: Vec<&str> = parts
        .iter()
        .map(|p| match p {
            Expr::Text(t) => &input[t.span.start..t.span.end],
            Expr::Filter(f) => &input[f.span.start..f.span.end],
            _ => "",
        })
        .collect();
    assert_eq!(spans, ["héllo", "lang:ko", "\"a b\""]);
}

#[test]
fn phrases_exclusions_or_and_groups() {
    assert_eq!(
        shape_of("\"question answering\" -squad"),
        Some(Expr::And(vec![
            phrase("question answering"),
            Expr::Not(Box::new(word("squad")))
        ]))
    );
    // OR binds tighter than the implicit AND.
    assert_eq!(
        shape_of("squad OR quac lang:en"),
        Some(Expr::And(vec![
            Expr::Or(vec![word("squad"), word("quac")]),
            keyword(Keyword::Language, &["en"])
        ]))
    );
    assert_eq!(
        shape_of("(a b) OR c"),
        Some(Expr::Or(vec![
            Expr::And(vec![word("a"), word("b")]),
            word("c")
        ]))
    );
    assert_eq!(
        shape_of("-(lang:en OR lang:fr) x"),
        Some(Expr::And(vec![
            Expr::Not(Box::new(Expr::Or(vec![
                keyword(Keyword::Language, &["en"]),
                keyword(Keyword::Language, &["fr"])
            ]))),
            word("x")
        ]))
    );
    assert_eq!(
        shape_of("-\"machine translated\" -license:mit"),
        Some(Expr::And(vec![
            Expr::Not(Box::new(phrase("machine translated"))),
            Expr::Not(Box::new(keyword(Keyword::License, &["mit"])))
        ]))
    );
}

#[test]
fn a_lone_or_or_dash_is_text() {
    assert_eq!(
        shape_of("OR squad"),
        Some(Expr::And(vec![word("OR"), word("squad")]))
    );
    assert_eq!(
        shape_of("squad OR"),
        Some(Expr::And(vec![word("squad"), word("OR")]))
    );
    assert_eq!(
        shape_of("a - b"),
        Some(Expr::And(vec![word("a"), word("-"), word("b")]))
    );
    assert_eq!(
        shape_of("squad or quac").map(|e| matches!(e, Expr::And(p) if p.len() == 3)),
        Some(true)
    );
    assert_eq!(shape_of("--verbose"), Some(word("--verbose")));
}

#[test]
fn repeating_a_keyword_field_means_any_of_them() {
    assert_eq!(
        shape_of("lang:ko author:a lang:Japanese"),
        Some(Expr::And(vec![
            Expr::Or(vec![
                keyword(Keyword::Language, &["ko"]),
                keyword(Keyword::Language, &["ja"])
            ]),
            keyword(Keyword::Author, &["a"])
        ]))
    );
    assert_eq!(
        shape_of("lang:ko,ja,"),
        Some(keyword(Keyword::Language, &["ko", "ja"]))
    );
    // Comparisons all apply.
    assert_eq!(
        shape_of("likes:>10 likes:<100"),
        Some(Expr::And(vec![
            Expr::Filter(Filter {
                condition: Condition::Count {
                    field: Counter::Likes,
                    min: 11,
                    max: u64::MAX
                },
                span: Span::default()
            }),
            Expr::Filter(Filter {
                condition: Condition::Count {
                    field: Counter::Likes,
                    min: 0,
                    max: 99
                },
                span: Span::default()
            }),
        ]))
    );
}

#[test]
fn every_field_reads_its_values() {
    let condition = |input: &str| match strict(input).expr {
        Some(Expr::Filter(f)) => f.condition,
        other => panic!("{input}: {other:?}"),
    };
    assert_eq!(
        condition("task:Question_Answering"),
        Condition::Keyword {
            field: Keyword::Task,
            values: vec!["question-answering".into()]
        }
    );
    assert_eq!(
        condition("licence:\"CC-BY-4.0\""),
        Condition::Keyword {
            field: Keyword::License,
            values: vec!["cc-by-4.0".into()]
        }
    );
    assert_eq!(
        condition("tag:language:en"),
        Condition::Keyword {
            field: Keyword::Tag,
            values: vec!["language:en".into()]
        }
    );
    for (input, field) in [
        ("modality:image", Keyword::Modality),
        ("format:parquet", Keyword::Format),
        ("library:datasets", Keyword::Library),
        ("owner:nyu-mll", Keyword::Author),
    ] {
        assert!(matches!(condition(input), Condition::Keyword { field: f, .. } if f == field));
    }
    assert_eq!(
        condition("size:<1GB"),
        Condition::Size(SizeFilter::Bytes(0, 999_999_999))
    );
    assert_eq!(
        condition("size:1K<n<10K"),
        Condition::Size(SizeFilter::Bucket(SizeBucket::From1K))
    );
    assert_eq!(
        condition("downloads:>1k"),
        Condition::Count {
            field: Counter::Downloads,
            min: 1001,
            max: u64::MAX
        }
    );
    assert_eq!(
        condition("updated:<30d"),
        Condition::Time {
            field: TimeField::Updated,
            window: TimeFilter {
                after: Some(TimePoint::Ago(30 * 86_400)),
                before: None
            }
        }
    );
    assert!(matches!(
        condition("created:>2024-01-01"),
        Condition::Time {
            field: TimeField::Created,
            window: TimeFilter {
                after: Some(TimePoint::At(_)),
                before: None
            }
        }
    ));
    assert_eq!(
        condition("gated:no"),
        Condition::Flag {
            field: Flag::Gated,
            value: false
        }
    );
    assert_eq!(
        condition("followed:yes"),
        Condition::Flag {
            field: Flag::Followed,
            value: true
        }
    );
    assert_eq!(
        condition("downloaded:yes"),
        Condition::Flag {
            field: Flag::Downloaded,
            value: true
        }
    );
}

#[test]
fn sort_is_taken_out_of_the_condition() {
    let q = strict("license:mit size:<1GB sort:likes");
    assert_eq!(q.sort, Some(Sort::descending(SortKey::Likes)));
    assert!(matches!(&q.expr, Some(Expr::And(parts)) if parts.len() == 2));
    let q = strict("sort:downloads-asc");
    assert_eq!(q.sort, Some(Sort::ascending(SortKey::Downloads)));
    assert!(q.is_empty());
    assert!(Query::parse_strict("-sort:likes").is_err());
}

#[test]
fn unknown_fields_near_a_real_one_are_errors_with_a_suggestion() {
    let err = Query::parse_strict("lisense:mit").unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown field \"lisense\" at 1..8 — did you mean \"license\"?"
    );
    assert_eq!(err.span, Span { start: 0, end: 7 });
    let err = Query::parse_strict("säge downlods:>5").unwrap_err();
    assert_eq!(
        err.kind,
        QueryErrorKind::UnknownField {
            name: "downlods".into(),
            suggestion: "downloads"
        }
    );
    // Columns count characters, not bytes.
    assert_eq!(err.columns, (6, 14));
    // Leniently, the near miss is text.
    assert_eq!(shape_of_lenient("lisense:mit"), Some(word("lisense:mit")));
}

fn shape_of_lenient(input: &str) -> Option<Expr> {
    Query::parse(input).expr.as_ref().map(shape)
}

#[test]
fn bad_values_are_errors_that_say_how_to_write_them() {
    for input in [
        "downloads:lots",
        "likes:>many",
        "size:big",
        "updated:recently",
        "gated:maybe",
        "sort:stars",
        "lang:,",
    ] {
        let err = Query::parse_strict(input).unwrap_err();
        assert!(
            matches!(err.kind, QueryErrorKind::BadValue { .. }),
            "{input}: {err:?}"
        );
        assert_eq!(
            err.span,
            Span {
                start: 0,
                end: input.len()
            },
            "{input}"
        );
        assert!(err.to_string().contains(" — "), "{err}");
        // Leniently it is just text.
        assert_eq!(shape_of_lenient(input), Some(word(input)));
    }
}

#[test]
fn pasted_titles_stay_text() {
    for title in [
        "BAAD16: Bangla Authorship Attribution",
        "FB15k-237",
        "SGD-X v3: a dialogue benchmark",
        "Language: English",
        "Task1:sentiment",
        "https://huggingface.co/datasets/squad",
        "Size: large, License: see card",
    ] {
        let q = strict(title);
        assert!(
            q.words_typed().len() == title.split_whitespace().count(),
            "{title}: {q:?}"
        );
    }
}

#[test]
fn a_field_still_being_typed_is_ignored() {
    assert!(strict("author:").is_empty());
    assert_eq!(shape_of("squad lang:"), Some(word("squad")));
    // Not at the end, a field with nothing after the colon is a title's word.
    assert_eq!(
        shape_of("author: someone"),
        Some(Expr::And(vec![word("author:"), word("someone")]))
    );
}

#[test]
fn unbalanced_quotes_and_brackets_are_read_literally() {
    assert_eq!(
        shape_of("\"question ans"),
        Some(Expr::And(vec![word("question"), word("ans")]))
    );
    assert_eq!(
        shape_of("(squad OR quac"),
        Some(Expr::Or(vec![word("squad"), word("quac")]))
    );
    assert_eq!(
        shape_of("squad) lang:en)"),
        Some(Expr::And(vec![
            word("squad"),
            keyword(Keyword::Language, &["en"])
        ]))
    );
    assert_eq!(
        shape_of("f(x) 12\""),
        Some(Expr::And(vec![word("f(x)"), word("12\"")]))
    );
    assert_eq!(shape_of("(f(x))"), Some(word("f(x)")));
    assert_eq!(shape_of("\"\" ()"), None);
    assert_eq!(
        shape_of("author:\"open ai"),
        Some(Expr::And(vec![
            keyword(Keyword::Author, &["open"]),
            word("ai")
        ]))
    );
}

#[test]
fn built_queries_combine() {
    let q = Query::words("rajpurkar/squad  v2")
        .and(Query::filter(Condition::Keyword {
            field: Keyword::Author,
            values: vec!["rajpurkar".into()],
        }))
        .and(Query {
            expr: None,
            sort: Some(SortKey::Likes.into()),
        });
    assert_eq!(texts(&q), ["rajpurkar/squad", "v2"]);
    assert!(q.words_typed()[1].prefix);
    assert_eq!(q.sort, Some(SortKey::Likes.into()));
    assert!(matches!(&q.expr, Some(Expr::And(parts)) if parts.len() == 3));
    assert_eq!(Query::words("author:x").words_typed()[0].text, "author:x");
    assert!(Query::words("  ").is_empty());
}

#[test]
fn relative_times_resolve_against_now() {
    let now = DateTime::parse_from_rfc3339("2026-01-31T00:00:00Z")
        .unwrap()
        .to_utc();
    assert_eq!(
        TimePoint::Ago(86_400).resolve(now).to_rfc3339(),
        "2026-01-30T00:00:00+00:00"
    );
    assert_eq!(
        TimePoint::Ago(u64::MAX).resolve(now),
        DateTime::<Utc>::MIN_UTC
    );
}

/// Visits every span in the expression.
fn spans(expr: &Expr, out: &mut Vec<Span>) {
    match expr {
        Expr::And(parts) | Expr::Or(parts) => parts.iter().for_each(|p| spans(p, out)),
        Expr::Not(inner) => spans(inner, out),
        Expr::Text(text) => out.push(text.span),
        Expr::Filter(filter) => out.push(filter.span),
    }
}

/// Characters that steer the parser, mixed with ordinary ones.
fn query_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("OR".to_string()),
        Just("-".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just("\"".to_string()),
        Just(":".to_string()),
        Just(" ".to_string()),
        Just(",".to_string()),
        Just("..".to_string()),
        Just("lang:".to_string()),
        Just("size:".to_string()),
        Just("updated:<".to_string()),
        Just("sort:".to_string()),
        Just("lisense:".to_string()),
        "[a-z0-9<>=.]{1,6}",
        "\\PC{1,4}",
    ];
    prop::collection::vec(piece, 0..16).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn any_string_parses_without_panicking(input in "\\PC{0,64}") {
        let lenient = Query::parse(&input);
        match Query::parse_strict(&input) {
            Ok(query) => prop_assert_eq!(query, lenient),
            Err(err) => {
                prop_assert!(err.span.start <= err.span.end && err.span.end <= input.len());
                prop_assert!(input.is_char_boundary(err.span.start));
                prop_assert!(input.is_char_boundary(err.span.end));
                prop_assert!(!err.to_string().is_empty());
            }
        }
    }

    #[test]
    fn spans_are_inside_the_input(input in query_like()) {
        let query = Query::parse(&input);
        let mut found = Vec::new();
        if let Some(expr) = &query.expr {
            spans(expr, &mut found);
        }
        for span in found {
            prop_assert!(span.start < span.end, "{:?} in {:?}", span, input);
            prop_assert!(span.end <= input.len());
            prop_assert!(input.is_char_boundary(span.start) && input.is_char_boundary(span.end));
        }
        if let Err(err) = Query::parse_strict(&input) {
            prop_assert!(err.span.end <= input.len() && input.is_char_boundary(err.span.end));
        }
    }

    #[test]
    fn plain_words_come_back_in_order(words in prop::collection::vec("[a-z][a-z0-9]{0,8}", 1..8)) {
        let words: Vec<String> = words.into_iter().filter(|w| w != "or").collect();
        let input = words.join(" ");
        let query = Query::parse_strict(&input).unwrap();
        let typed: Vec<String> = query.words_typed().iter().map(|t| t.text.clone()).collect();
        prop_assert_eq!(typed, words.clone());
        let prefixes = query.words_typed().iter().filter(|t| t.prefix).count();
        prop_assert_eq!(prefixes, usize::from(!words.is_empty()));
    }
}
