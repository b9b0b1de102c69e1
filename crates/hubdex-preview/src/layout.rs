//! Which config and split each data file of a repo belongs to, inferred from its path the
//! way the Hub's `datasets` library does for repos without a loading script.

use crate::PreviewError;
use crate::format::{Format, detect};

/// A data file of a dataset and the config and split it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    /// Its path in the repo (or snapshot folder), `/`-separated.
    pub path: String,
    /// The config (subset) it belongs to.
    pub config: String,
    /// The split it belongs to.
    pub split: String,
}

/// The words `datasets` recognises in file and folder names as splits, and the split each
/// one means.
const SPLIT_WORDS: [(&str, &str); 10] = [
    ("train", "train"),
    ("training", "train"),
    ("validation", "validation"),
    ("valid", "validation"),
    ("val", "validation"),
    ("dev", "validation"),
    ("test", "test"),
    ("testing", "test"),
    ("eval", "test"),
    ("evaluation", "test"),
];

fn split_word(word: &str) -> Option<&'static str> {
    let word = word.to_ascii_lowercase();
    SPLIT_WORDS
        .iter()
        .find(|(w, _)| *w == word)
        .map(|(_, split)| *split)
}

/// The data files among `paths`, each with its config and split, ordered so the file to
/// preview first comes first: parquet before other formats, then by path.
///
/// * The parquet export layout `{config}/{split}/0000.parquet` (and `partial-{split}`) names
///   both.
/// * Otherwise the split is the first split word (`train`, `validation`/`valid`/`dev`,
///   `test`/`eval`, …) among the file name's `-`/`_`/`.`-separated words, then among its
///   folders; `train` when there is none.
/// * The config is the top folder when it is neither `data` nor a split word; else
///   `default`.
pub fn data_files<'a>(paths: impl IntoIterator<Item = &'a str>) -> Vec<DataFile> {
    let mut files: Vec<(bool, DataFile)> = paths
        .into_iter()
        .filter(|p| !p.split('/').any(|s| s.starts_with('.')))
        .filter_map(|path| {
            let (format, _) = detect(path)?;
            let (config, split) = place(path);
            Some((
                format != Format::Parquet,
                DataFile {
                    path: path.to_string(),
                    config,
                    split,
                },
            ))
        })
        .collect();
    files.sort_by(|a, b| (a.0, &a.1.path).cmp(&(b.0, &b.1.path)));
    files.into_iter().map(|(_, f)| f).collect()
}

fn place(path: &str) -> (String, String) {
    let segments: Vec<&str> = path.split('/').collect();
    if let [config, split, file] = segments.as_slice()
        && let Some(stem) = file.strip_suffix(".parquet")
        && !stem.is_empty()
        && stem.bytes().all(|b| b.is_ascii_digit())
    {
        let split = split.strip_prefix("partial-").unwrap_or(split);
        return ((*config).to_string(), split.to_string());
    }
    let (folders, file) = segments.split_at(segments.len() - 1);
    let from_name = file[0]
        .split(['-', '_', '.'])
        .find_map(split_word)
        .or_else(|| folders.iter().rev().find_map(|f| split_word(f)));
    let split = from_name.unwrap_or("train").to_string();
    let config = match folders.first() {
        Some(top) if *top != "data" && split_word(top).is_none() => (*top).to_string(),
        _ => "default".to_string(),
    };
    (config, split)
}

/// Every config/split pair of `files`, configs in order (`default` first) and splits in the
/// order train, validation, test, then the others by name.
pub fn splits(files: &[DataFile]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = files
        .iter()
        .map(|f| (f.config.clone(), f.split.clone()))
        .collect();
    let rank = |split: &str| match split {
        "train" => 0,
        "validation" => 1,
        "test" => 2,
        _ => 3,
    };
    pairs.sort_by(|a, b| {
        (a.0 != "default", &a.0, rank(&a.1), &a.1).cmp(&(b.0 != "default", &b.0, rank(&b.1), &b.1))
    });
    pairs.dedup();
    pairs
}

/// The config and split to show: the ones asked for, else the default config (`default`,
/// else the first) and its `train` split (else its first). An asked-for pair that is not in
/// `available` is [`PreviewError::SplitNotFound`].
pub fn choose(
    dataset: &str,
    available: &[(String, String)],
    config: Option<&str>,
    split: Option<&str>,
) -> Result<(String, String), PreviewError> {
    let config = match config {
        Some(c) => c.to_string(),
        None => available
            .iter()
            .find(|(c, _)| c == "default")
            .or_else(|| available.first())
            .map(|(c, _)| c.clone())
            .unwrap_or_else(|| "default".to_string()),
    };
    let in_config: Vec<&String> = available
        .iter()
        .filter(|(c, _)| *c == config)
        .map(|(_, s)| s)
        .collect();
    let split = match split {
        Some(s) => s.to_string(),
        None => in_config
            .iter()
            .find(|s| s.as_str() == "train")
            .or_else(|| in_config.first())
            .map_or_else(|| "train".to_string(), |s| (*s).clone()),
    };
    if in_config.iter().any(|s| **s == split) {
        Ok((config, split))
    } else {
        Err(PreviewError::SplitNotFound {
            dataset: dataset.to_string(),
            config,
            split,
            available: describe(available),
        })
    }
}

/// `a/train, a/test` for messages; `nothing` when empty.
pub(crate) fn describe(available: &[(String, String)]) -> String {
    if available.is_empty() {
        return "nothing".to_string();
    }
    available
        .iter()
        .map(|(c, s)| format!("{c}/{s}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placed(path: &str) -> (String, String) {
        let files = data_files([path]);
        assert_eq!(files.len(), 1, "{path}");
        (files[0].config.clone(), files[0].split.clone())
    }

    #[test]
    fn paths_name_configs_and_splits() {
        let p = |c: &str, s: &str| (c.to_string(), s.to_string());
        assert_eq!(placed("default/train/0000.parquet"), p("default", "train"));
        assert_eq!(placed("en/partial-test/0003.parquet"), p("en", "test"));
        assert_eq!(
            placed("data/train-00000-of-00001.parquet"),
            p("default", "train")
        );
        assert_eq!(
            placed("main/test-00000-of-00001.parquet"),
            p("main", "test")
        );
        assert_eq!(placed("prompts.csv"), p("default", "train"));
        assert_eq!(placed("HumanEval.jsonl.gz"), p("default", "train"));
        assert_eq!(placed("data/dev.jsonl"), p("default", "validation"));
        assert_eq!(placed("validation/part-1.csv"), p("default", "validation"));
        assert!(data_files(["README.md", ".hidden/x.csv", "dataset_infos.json"]).is_empty());
    }

    #[test]
    fn parquet_comes_first_and_defaults_are_picked() {
        let files = data_files([
            "data/test.csv",
            "data/train.csv",
            "data/train.parquet",
            "extra/test.jsonl",
        ]);
        assert_eq!(files[0].path, "data/train.parquet");
        let available = splits(&files);
        assert_eq!(
            available,
            vec![
                ("default".into(), "train".into()),
                ("default".into(), "test".into()),
                ("extra".into(), "test".into())
            ]
        );
        assert_eq!(
            choose("d", &available, None, None).unwrap(),
            ("default".into(), "train".into())
        );
        assert_eq!(
            choose("d", &available, Some("extra"), None).unwrap(),
            ("extra".into(), "test".into())
        );
        let err = choose("d", &available, None, Some("dev")).unwrap_err();
        assert!(err.to_string().contains("default/test"), "{err}");
    }
}
