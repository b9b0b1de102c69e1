//! `update` of every message, and render snapshots of every tab with real fixtures
//! (see `fixtures/README.md`).

use super::impact::combined_impact;
use super::*;
use crate::ui::testdata;
use hubdex_core::{GateMode, Gated};
use hubdex_ipc::{CommitList, FileList, Rows};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

const GSM8K_RECORD: &str = include_str!("fixtures/gsm8k-record.json");
const GSM8K_CARD: &str = include_str!("fixtures/gsm8k.md");
const GSM8K_FILES: &str = include_str!("fixtures/gsm8k-files.json");
const PROMPTS_CARD: &str = include_str!("fixtures/awesome-chatgpt-prompts.md");
const PROMPTS_COMMITS: &str = include_str!("fixtures/awesome-chatgpt-prompts-commits.json");
const PROMPTS_ROWS: &str = include_str!("fixtures/awesome-chatgpt-prompts-rows.json");
const ETT_ROWS: &str = include_str!("fixtures/ett-rows.json");
const DIFFUSION_CARD: &str = include_str!("fixtures/diffusion-book-cn.md");

fn now() -> DateTime<Utc> {
    testdata::now()
}

fn pane(width: u16, height: u16) -> Rect {
    Rect::new(0, 0, width, height)
}

fn gsm8k() -> Dataset {
    serde_json::from_str(GSM8K_RECORD).unwrap()
}

fn hit(id: &str) -> Dataset {
    testdata::hits()
        .into_iter()
        .find(|d| d.id.as_str() == id)
        .unwrap()
}

/// A card as the daemon sends it: the README without its front matter.
fn card(dataset: &str, readme: &str) -> Card {
    let markdown = match readme.strip_prefix("---\n") {
        Some(rest) => rest.split_once("\n---\n").map_or(rest, |(_, body)| body),
        None => readme,
    };
    Card {
        dataset: dataset.into(),
        commit: None,
        markdown: markdown.to_string(),
        fetched_at: now(),
        stale: None,
    }
}

fn files() -> FileList {
    serde_json::from_str(GSM8K_FILES).unwrap()
}

fn commits() -> CommitList {
    serde_json::from_str(PROMPTS_COMMITS).unwrap()
}

fn prompts_rows() -> Rows {
    serde_json::from_str(PROMPTS_ROWS).unwrap()
}

fn ett_rows() -> Rows {
    serde_json::from_str(ETT_ROWS).unwrap()
}

/// Sends `msg` to `p` in a pane of 80x22.
fn send(p: &mut Preview, msg: PreviewMsg) -> Vec<PreviewRequest> {
    p.update(msg, now(), pane(80, 22))
}

/// Answers `request` with `answer`.
fn answer(p: &mut Preview, request: &PreviewRequest, answer: Result<PreviewAnswer, String>) {
    let effects = send(
        p,
        PreviewMsg::Loaded {
            request: request.id,
            answer,
        },
    );
    assert!(effects.is_empty());
}

/// Shows `dataset` on `tab` and answers what that asks for with `data`.
fn loaded(dataset: Dataset, tab: Tab, data: PreviewAnswer) -> Preview {
    let mut p = Preview::default();
    send(&mut p, PreviewMsg::Select(tab));
    let requests = send(&mut p, PreviewMsg::Show(dataset));
    assert_eq!(requests.len(), 1, "{requests:?}");
    answer(&mut p, &requests[0], Ok(data));
    p
}

fn draw(p: &Preview, width: u16, height: u16, color: bool) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| {
            p.render(
                frame,
                frame.area(),
                Theme {
                    color,
                    light: false,
                },
                now(),
            )
        })
        .unwrap();
    terminal
}

fn text(p: &Preview, width: u16, height: u16) -> String {
    draw(p, width, height, true).backend().to_string()
}

/// Every line of a drawn screen, without the quotes TestBackend puts around them.
fn screen_lines(screen: &str) -> Vec<String> {
    screen
        .lines()
        .map(|l| {
            let l = l.strip_prefix('"').unwrap_or(l);
            match l.find("\" Hidden by multi-width symbols") {
                Some(end) => l[..end].to_string(),
                None => l.strip_suffix('"').unwrap_or(l).to_string(),
            }
        })
        .collect()
}

#[test]
fn showing_a_dataset_loads_only_the_active_tab() {
    let mut p = Preview::default();
    let requests = send(&mut p, PreviewMsg::Show(gsm8k()));
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].load, PreviewLoad::Card(gsm8k().id));
    assert!(p.loading());
    let again = send(&mut p, PreviewMsg::Select(Tab::Card));
    assert!(again.is_empty(), "a tab on its way is not asked for twice");
    let files = send(&mut p, PreviewMsg::Select(Tab::Files));
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].load, PreviewLoad::Files(gsm8k().id, None));
    assert_ne!(files[0].id, requests[0].id);
    assert!(send(&mut p, PreviewMsg::Select(Tab::Impact)).is_empty());
    let rows = send(&mut p, PreviewMsg::PrevTab);
    assert_eq!(p.tab(), Tab::Rows);
    assert_eq!(
        rows[0].load,
        PreviewLoad::Rows(RowsRequest {
            dataset: "openai/gsm8k".into(),
            config: None,
            split: None,
            limit: ROWS_LIMIT,
        })
    );
    let commits = send(&mut p, PreviewMsg::PrevTab);
    assert_eq!(commits[0].load, PreviewLoad::Commits(gsm8k().id, None));
}

#[test]
fn tabs_cycle_and_are_numbered_from_one() {
    let mut p = Preview::default();
    assert_eq!(p.tab(), Tab::Card);
    send(&mut p, PreviewMsg::PrevTab);
    assert_eq!(p.tab(), Tab::Impact);
    send(&mut p, PreviewMsg::NextTab);
    send(&mut p, PreviewMsg::NextTab);
    assert_eq!(p.tab(), Tab::Files);
    assert_eq!(Tab::from_number(1), Some(Tab::Card));
    assert_eq!(Tab::from_number(5), Some(Tab::Impact));
    assert_eq!(Tab::from_number(0), None);
    assert_eq!(Tab::from_number(6), None);
    // Without a dataset, nothing is asked for.
    assert!(send(&mut p, PreviewMsg::Select(Tab::Rows)).is_empty());
}

#[test]
fn answers_for_a_dataset_no_longer_shown_are_dropped() {
    let mut p = Preview::default();
    let first = send(&mut p, PreviewMsg::Show(gsm8k())).remove(0);
    let second = send(&mut p, PreviewMsg::Show(hit("glue"))).remove(0);
    answer(
        &mut p,
        &first,
        Ok(PreviewAnswer::Card(card("openai/gsm8k", GSM8K_CARD))),
    );
    assert!(
        p.loading(),
        "the answer for gsm8k must not fill glue's card"
    );
    assert!(text(&p, 80, 10).contains("loading card…"));
    answer(
        &mut p,
        &second,
        Ok(PreviewAnswer::Card(card("glue", "# GLUE"))),
    );
    assert!(!p.loading());
    assert!(text(&p, 80, 10).contains("GLUE"));
    // Back to gsm8k: its card was abandoned on the way, so it is asked for again.
    let again = send(&mut p, PreviewMsg::Show(gsm8k()));
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].load, PreviewLoad::Card(gsm8k().id));
    assert!(again[0].id > second.id);
}

#[test]
fn loaded_tabs_are_kept_per_dataset() {
    let mut p = loaded(
        gsm8k(),
        Tab::Card,
        PreviewAnswer::Card(card("openai/gsm8k", GSM8K_CARD)),
    );
    send(&mut p, PreviewMsg::Down(3));
    let glue = send(&mut p, PreviewMsg::Show(hit("glue")));
    assert_eq!(glue.len(), 1);
    let back = send(&mut p, PreviewMsg::Show(gsm8k()));
    assert!(back.is_empty(), "the card is cached: {back:?}");
    assert_eq!(p.current().unwrap().scroll[Tab::Card.index()], 3);
}

#[test]
fn the_cache_is_bounded() {
    let mut p = Preview::default();
    let hits = testdata::hits();
    for i in 0..CACHED_DATASETS + 4 {
        let mut d = hits[i % hits.len()].clone();
        d.id = DatasetId::new(format!("bench/dataset-{i}")).unwrap();
        send(&mut p, PreviewMsg::Show(d));
    }
    assert_eq!(p.entries.len(), CACHED_DATASETS);
    assert_eq!(p.dataset().unwrap().id.as_str(), "bench/dataset-19");
}

#[test]
fn a_full_record_replaces_the_hit_but_not_the_other_way() {
    let mut p = Preview::default();
    let mut bare = gsm8k();
    bare.card_data = None;
    let first = send(&mut p, PreviewMsg::Show(bare.clone()));
    assert_eq!(first.len(), 1);
    assert!(send(&mut p, PreviewMsg::Show(gsm8k())).is_empty());
    assert_eq!(
        p.dataset().unwrap().pretty_name(),
        Some("Grade School Math 8K")
    );
    send(&mut p, PreviewMsg::Show(bare));
    assert_eq!(
        p.dataset().unwrap().pretty_name(),
        Some("Grade School Math 8K")
    );
    // The card still waits for the first request.
    assert!(p.loading());
}

#[test]
fn failures_show_the_error_and_retry_asks_again() {
    let mut p = Preview::default();
    send(&mut p, PreviewMsg::Select(Tab::Files));
    let request = send(&mut p, PreviewMsg::Show(gsm8k())).remove(0);
    answer(
        &mut p,
        &request,
        Err("cannot reach https://huggingface.co: connection refused".into()),
    );
    assert!(!p.loading());
    let screen = text(&p, 80, 10);
    assert!(
        screen.contains("cannot load the files: cannot reach"),
        "{screen}"
    );
    assert!(screen.contains("press r to retry"), "{screen}");
    let retry = send(&mut p, PreviewMsg::Retry);
    assert_eq!(retry.len(), 1);
    assert_eq!(retry[0].load, PreviewLoad::Files(gsm8k().id, None));
    assert!(p.loading());
    assert!(
        send(&mut p, PreviewMsg::Retry).is_empty(),
        "already on its way"
    );
    // The failed request's id is no longer waited for.
    answer(&mut p, &request, Ok(PreviewAnswer::Files(files())));
    assert!(p.loading());
    answer(&mut p, &retry[0], Ok(PreviewAnswer::Files(files())));
    assert!(text(&p, 80, 10).contains("4 files"));
    // Retry on a loaded tab refreshes it.
    assert_eq!(send(&mut p, PreviewMsg::Retry).len(), 1);
}

#[test]
fn an_answer_of_the_wrong_kind_is_a_failure() {
    let mut p = Preview::default();
    let request = send(&mut p, PreviewMsg::Show(gsm8k())).remove(0);
    answer(&mut p, &request, Ok(PreviewAnswer::Files(files())));
    let screen = text(&p, 80, 10);
    assert!(screen.contains("answered with something else"), "{screen}");
}

#[test]
fn clear_shows_nothing_and_drops_late_answers() {
    let mut p = Preview::default();
    let request = send(&mut p, PreviewMsg::Show(gsm8k())).remove(0);
    send(&mut p, PreviewMsg::Clear);
    assert!(p.dataset().is_none());
    assert!(!p.loading());
    answer(
        &mut p,
        &request,
        Ok(PreviewAnswer::Card(card("openai/gsm8k", GSM8K_CARD))),
    );
    assert!(text(&p, 80, 5).contains("select a dataset to preview it"));
    // Showing it again asks again: the answer was dropped.
    assert_eq!(send(&mut p, PreviewMsg::Show(gsm8k())).len(), 1);
}

#[test]
fn scrolling_stops_at_the_ends() {
    let mut p = loaded(
        gsm8k(),
        Tab::Card,
        PreviewAnswer::Card(card("openai/gsm8k", GSM8K_CARD)),
    );
    let area = pane(80, 22);
    let max = p.max_scroll(area);
    assert!(max > 50, "the GSM8K card is long: {max}");
    p.update(PreviewMsg::Down(5), now(), area);
    assert_eq!(p.current().unwrap().scroll[0], 5);
    p.update(PreviewMsg::Up(2), now(), area);
    assert_eq!(p.current().unwrap().scroll[0], 3);
    p.update(PreviewMsg::Down(10_000), now(), area);
    assert_eq!(p.current().unwrap().scroll[0], max);
    p.update(PreviewMsg::Up(1), now(), area);
    assert_eq!(p.current().unwrap().scroll[0], max - 1);
    p.update(PreviewMsg::Bottom, now(), area);
    let screen = text(&p, 80, 22);
    assert!(
        screen.contains("Thanks to @jon-tow for adding this dataset."),
        "{screen}"
    );
    p.update(PreviewMsg::Top, now(), area);
    assert_eq!(p.current().unwrap().scroll[0], 0);
    p.update(PreviewMsg::Up(3), now(), area);
    assert_eq!(p.current().unwrap().scroll[0], 0);
    // Each tab keeps its own scroll.
    p.update(PreviewMsg::Down(4), now(), area);
    p.update(PreviewMsg::Select(Tab::Impact), now(), area);
    assert_eq!(p.max_scroll(area), 0);
    p.update(PreviewMsg::Down(4), now(), area);
    assert_eq!(p.current().unwrap().scroll[Tab::Impact.index()], 0);
    assert_eq!(p.current().unwrap().scroll[Tab::Card.index()], 4);
}

#[test]
fn rows_scroll_sideways_by_column() {
    let mut p = loaded(gsm8k(), Tab::Rows, PreviewAnswer::Rows(ett_rows()));
    let screen = text(&p, 80, 24);
    assert!(screen.contains("columns 1–"), "{screen}");
    send(&mut p, PreviewMsg::Left);
    assert_eq!(p.current().unwrap().column, 0);
    for _ in 0..10 {
        send(&mut p, PreviewMsg::Right);
    }
    assert_eq!(p.current().unwrap().column, 4, "stops at the last column");
    let screen = text(&p, 80, 24);
    assert!(screen.contains("columns 5–5 of 5 ‹"), "{screen}");
    assert!(screen.contains("item_id"), "{screen}");
    assert!(!screen.contains("feat_static_cat"), "{screen}");
    send(&mut p, PreviewMsg::Left);
    assert_eq!(p.current().unwrap().column, 3);
}

#[test]
fn switching_splits_asks_for_the_next_one() {
    let mut rows = prompts_rows();
    // The splits the dataset viewer lists for ibm/duorc (its documented /splits example).
    let splits: Vec<SplitRef> = ["ParaphraseRC", "SelfRC"]
        .iter()
        .flat_map(|config| {
            ["train", "validation", "test"]
                .iter()
                .map(|split| SplitRef {
                    config: config.to_string(),
                    split: split.to_string(),
                })
        })
        .collect();
    rows.config = "ParaphraseRC".into();
    rows.split = "train".into();
    rows.splits = splits.clone();
    let mut p = loaded(gsm8k(), Tab::Rows, PreviewAnswer::Rows(rows.clone()));
    assert!(text(&p, 80, 10).contains("(1 of 6)"));
    send(&mut p, PreviewMsg::Right);
    let next = send(&mut p, PreviewMsg::NextSplit);
    assert_eq!(next.len(), 1);
    let PreviewLoad::Rows(request) = &next[0].load else {
        panic!("{next:?}")
    };
    assert_eq!(request.config.as_deref(), Some("ParaphraseRC"));
    assert_eq!(request.split.as_deref(), Some("validation"));
    assert!(
        send(&mut p, PreviewMsg::NextSplit).is_empty(),
        "one at a time"
    );
    assert_eq!(p.current().unwrap().column, 0);
    let mut validation = rows.clone();
    validation.split = "validation".into();
    answer(&mut p, &next[0], Ok(PreviewAnswer::Rows(validation)));
    assert!(text(&p, 80, 10).contains("(2 of 6)"));
    let back = send(&mut p, PreviewMsg::PrevSplit);
    let back2 = send(&mut p, PreviewMsg::Show(gsm8k()));
    assert!(back2.is_empty());
    let PreviewLoad::Rows(request) = &back[0].load else {
        panic!("{back:?}")
    };
    assert_eq!(request.split.as_deref(), Some("train"));
    // Wrapping backwards from the first split goes to the last.
    answer(&mut p, &back[0], Ok(PreviewAnswer::Rows(rows)));
    let last = send(&mut p, PreviewMsg::PrevSplit);
    let PreviewLoad::Rows(request) = &last[0].load else {
        panic!("{last:?}")
    };
    assert_eq!(
        (request.config.as_deref(), request.split.as_deref()),
        (Some("SelfRC"), Some("test"))
    );
    // A dataset with one split has nothing to switch to.
    let mut single = loaded(gsm8k(), Tab::Rows, PreviewAnswer::Rows(prompts_rows()));
    assert!(send(&mut single, PreviewMsg::NextSplit).is_empty());
}

#[test]
fn clicks_on_the_tab_bar_pick_tabs() {
    let p = Preview::default();
    let area = Rect::new(10, 5, 60, 20);
    let rects = p.tab_rects(area);
    assert_eq!(rects.len(), 5);
    for (tab, rect) in &rects {
        assert_eq!(p.tab_at(area, rect.x, 5), Some(*tab));
        assert_eq!(p.tab_at(area, rect.right() - 1, 5), Some(*tab));
        assert_eq!(p.tab_at(area, rect.x, 6), None);
    }
    assert_eq!(p.tab_at(area, 10, 5), Some(Tab::Card));
    assert_eq!(p.tab_at(area, 9, 5), None);
    // The drawn labels are where the rectangles say.
    let mut p = Preview::default();
    send(&mut p, PreviewMsg::Select(Tab::Commits));
    for width in [80, 44, 30] {
        let screen = screen_lines(&text(&p, width, 3));
        for (tab, rect) in p.tab_rects(pane(width, 3)) {
            let cells: String = screen[0]
                .chars()
                .skip(usize::from(rect.x))
                .take(usize::from(rect.width))
                .collect();
            let number = (tab.index() + 1).to_string();
            assert!(
                cells.contains(&number) || cells.contains(tab.label()),
                "{width}: {tab:?} at {rect:?}: {cells:?}"
            );
        }
    }
}

#[test]
fn the_card_shows_properties_then_the_readme() {
    let p = loaded(
        gsm8k(),
        Tab::Card,
        PreviewAnswer::Card(card("openai/gsm8k", GSM8K_CARD)),
    );
    let screen = text(&p, 80, 24);
    for expected in [
        "name         Grade School Math 8K",
        "licence      mit",
        "languages    en",
        "tasks        text2text-generation",
        "size         1K<n<10K",
        "configs      main, socratic",
        "Dataset Card for GSM8K",
        "• Dataset Description",
        "  • Dataset Summary",
    ] {
        assert!(screen.contains(expected), "{expected}\n{screen}");
    }
    assert!(!screen.contains("---"), "front matter is not shown as text");
    insta::assert_snapshot!("card_80x24", screen);
    let mut p = p;
    p.update(PreviewMsg::Down(56), now(), pane(160, 48));
    insta::assert_snapshot!("card_160x48", text(&p, 160, 48));
}

#[test]
fn a_card_with_an_html_heading_and_an_emoji() {
    let dataset = Dataset {
        card_data: None,
        ..hit("openai/gsm8k")
    };
    let p = loaded(
        dataset,
        Tab::Card,
        PreviewAnswer::Card(card("fka/awesome-chatgpt-prompts", PROMPTS_CARD)),
    );
    let screen = text(&p, 40, 12);
    assert!(
        screen.contains("🧠 Awesome ChatGPT Prompts [CSV"),
        "{screen}"
    );
    assert!(!screen.contains("<p"), "{screen}");
    assert!(screen.contains("View All Prompts on GitHub"), "{screen}");
    insta::assert_snapshot!("card_html_emoji_40x12", screen);
}

#[test]
fn cjk_cards_wrap_by_width() {
    let dataset = hit("shibing624/medical");
    let p = loaded(
        dataset,
        Tab::Card,
        PreviewAnswer::Card(card(
            "HuggingFace-CN-community/Diffusion-book-cn",
            DIFFUSION_CARD,
        )),
    );
    let terminal = draw(&p, 40, 24, true);
    let screen = terminal.backend().to_string();
    assert!(screen.contains("《从零开始学扩散模型》"), "{screen}");
    // The glossary table fits in 40 cells, so it stays aligned.
    let row = screen_lines(&screen)
        .into_iter()
        .find(|l| l.starts_with("Corruption Process"))
        .unwrap();
    assert!(row.contains("│ 退化过程"), "{screen}");
    for line in screen_lines(&screen) {
        assert!(format::width(&line) <= 40, "{line}");
    }
    insta::assert_snapshot!("card_cjk_40x24", screen);
}

#[test]
fn stale_copies_say_why() {
    let mut c = card("openai/gsm8k", GSM8K_CARD);
    c.stale = Some("the Hub did not answer: connection refused".into());
    let p = loaded(gsm8k(), Tab::Card, PreviewAnswer::Card(c));
    let screen = text(&p, 80, 6);
    assert!(
        screen.contains("stale copy: the Hub did not answer: connection refused"),
        "{screen}"
    );
    let mut f = files();
    f.stale = Some("offline".into());
    let p = loaded(gsm8k(), Tab::Files, PreviewAnswer::Files(f));
    assert!(text(&p, 80, 6).contains("stale copy: offline"));
}

#[test]
fn files_tree_80x24_and_160x48() {
    let p = loaded(gsm8k(), Tab::Files, PreviewAnswer::Files(files()));
    let screen = text(&p, 80, 24);
    for expected in [
        "4 files · 1.2 MB · 414.8 kB downloaded (35%)",
        "main @ e53f048",
        "main/",
        "  test-00000-of-00001.parquet",
        "408.5 kB lfs ✓",
        "749.7 kB",
    ] {
        assert!(screen.contains(expected), "{expected}\n{screen}");
    }
    insta::assert_snapshot!("files_80x24", screen);
    insta::assert_snapshot!("files_160x48", text(&p, 160, 48));
    // Narrow panes keep names and sizes.
    let narrow = text(&p, 24, 10);
    assert!(narrow.contains("README.md"), "{narrow}");
}

#[test]
fn commits_80x24_and_160x48() {
    let p = loaded(gsm8k(), Tab::Commits, PreviewAnswer::Commits(commits()));
    let screen = text(&p, 80, 24);
    assert!(screen.contains("23 commits on main"), "{screen}");
    assert!(
        screen.contains("2025-01-06 68ba769 Update prompts.csv"),
        "{screen}"
    );
    assert!(screen.contains("fka"), "{screen}");
    insta::assert_snapshot!("commits_80x24", screen);
    insta::assert_snapshot!("commits_160x48", text(&p, 160, 48));
    let narrow = text(&p, 40, 10);
    assert!(narrow.contains("2025-09-02 9995d53 bugfyi"), "{narrow}");
}

#[test]
fn rows_80x24_and_160x48() {
    let p = loaded(gsm8k(), Tab::Rows, PreviewAnswer::Rows(prompts_rows()));
    let screen = text(&p, 80, 24);
    for expected in [
        "from the local cache",
        "config default · split train",
        "act",
        "string",
    ] {
        assert!(screen.contains(expected), "{expected}\n{screen}");
    }
    assert!(screen.contains("An Ethereum Developer"), "{screen}");
    assert!(screen.contains('…'), "long prompts are cut: {screen}");
    insta::assert_snapshot!("rows_80x24", screen);
    let p = loaded(gsm8k(), Tab::Rows, PreviewAnswer::Rows(ett_rows()));
    let screen = text(&p, 160, 48);
    assert!(screen.contains("from the dataset viewer"), "{screen}");
    assert!(screen.contains("list<list<float32>>"), "{screen}");
    assert!(
        screen.contains("[0]"),
        "nested values are compact: {screen}"
    );
    insta::assert_snapshot!("rows_160x48", screen);
}

#[test]
fn impact_80x24_and_160x48() {
    let mut p = Preview::default();
    send(&mut p, PreviewMsg::Select(Tab::Impact));
    assert!(send(&mut p, PreviewMsg::Show(gsm8k())).is_empty());
    let screen = text(&p, 80, 24);
    for expected in [
        "size       11.3 MB (download, declared)",
        "rows       17,584",
        "downloads  774,515 (30 days)",
        "likes      1,252",
        "licence    mit",
        "gated      no",
        "updated    2026-03-23 (38 days ago)",
    ] {
        assert!(screen.contains(expected), "{expected}\n{screen}");
    }
    insta::assert_snapshot!("impact_80x24", screen);
    let mut glue = hit("KakologArchives/KakologArchives");
    glue.gated = Gated::Mode(GateMode::Manual);
    send(&mut p, PreviewMsg::Show(glue));
    let screen = text(&p, 160, 48);
    assert!(
        screen.contains("yes: the owners approve each request"),
        "{screen}"
    );
    insta::assert_snapshot!("impact_160x48", screen);
}

#[test]
fn combined_impact_sums_and_flags_differences() {
    let mut gated = hit("allenai/c4");
    gated.gated = Gated::Mode(GateMode::Auto);
    let datasets = [gsm8k(), hit("glue"), gated, hit("jamesqijingsong/zidian")];
    let c = combined_impact(&datasets);
    assert_eq!(c.datasets.len(), 4);
    assert_eq!(
        c.downloads,
        datasets.iter().map(|d| d.downloads).sum::<u64>()
    );
    assert_eq!(c.gated, [datasets[2].id.clone()]);
    assert!(c.licences_differ());
    let mit = c
        .licences
        .iter()
        .find(|(l, _)| l.as_deref() == Some("mit"))
        .unwrap();
    assert!(mit.1.contains(&gsm8k().id));
    assert!(c.total_bytes >= 11_290_661, "{}", c.total_bytes);
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal
        .draw(|frame| render_combined(frame, frame.area(), Theme::dark(), &datasets))
        .unwrap();
    let screen = terminal.backend().to_string();
    assert!(screen.contains("combined impact of 4 datasets"), "{screen}");
    assert!(screen.contains("licences   differ"), "{screen}");
    assert!(screen.contains("allenai/c4: request access"), "{screen}");
    insta::assert_snapshot!("combined_80x24", screen);
    let same = combined_impact(&[gsm8k(), hit("openai/gsm8k")]);
    assert!(!same.licences_differ());
}

#[test]
fn loading_shows_a_spinner() {
    let mut p = Preview::default();
    send(&mut p, PreviewMsg::Select(Tab::Commits));
    send(&mut p, PreviewMsg::Show(gsm8k()));
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let later = now() + chrono::Duration::seconds(3);
    terminal
        .draw(|frame| p.render(frame, frame.area(), Theme::dark(), later))
        .unwrap();
    let screen = terminal.backend().to_string();
    assert!(screen.contains("loading commits… 3 s"), "{screen}");
    assert!(
        format::SPINNER.iter().any(|s| screen.contains(s)),
        "{screen}"
    );
    insta::assert_snapshot!("loading_80x24", screen);
}

#[test]
fn no_color_uses_no_colours() {
    let p = loaded(gsm8k(), Tab::Files, PreviewAnswer::Files(files()));
    let terminal = draw(&p, 80, 24, false);
    let buffer = terminal.backend().buffer();
    for cell in buffer.content() {
        assert_eq!(cell.fg, Color::Reset, "{cell:?}");
        assert_eq!(cell.bg, Color::Reset, "{cell:?}");
    }
    let active = (0..80).any(|x| {
        buffer[(x, 0)]
            .modifier
            .contains(ratatui::style::Modifier::REVERSED)
    });
    assert!(active, "the active tab is marked without colour");
    insta::assert_debug_snapshot!("files_no_color_80x24", buffer);
}

#[test]
fn tiny_panes_never_panic_or_overflow() {
    let mut previews = vec![Preview::default()];
    previews.push(loaded(
        gsm8k(),
        Tab::Card,
        PreviewAnswer::Card(card("openai/gsm8k", GSM8K_CARD)),
    ));
    previews.push(loaded(gsm8k(), Tab::Files, PreviewAnswer::Files(files())));
    previews.push(loaded(
        gsm8k(),
        Tab::Commits,
        PreviewAnswer::Commits(commits()),
    ));
    previews.push(loaded(gsm8k(), Tab::Rows, PreviewAnswer::Rows(ett_rows())));
    let mut impact = Preview::default();
    send(&mut impact, PreviewMsg::Select(Tab::Impact));
    send(&mut impact, PreviewMsg::Show(gsm8k()));
    previews.push(impact);
    for p in &previews {
        for (w, h) in [(1, 1), (2, 2), (5, 3), (12, 4), (20, 6), (33, 8), (80, 24)] {
            let screen = text(p, w, h);
            for line in screen_lines(&screen) {
                assert!(format::width(&line) <= usize::from(w), "{w}x{h}: {line}");
            }
        }
    }
}
