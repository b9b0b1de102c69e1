//! Which files hold rows, and in which format: decided from the file name as the Hub's
//! `datasets` library does.

/// A data file format hubdex can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Apache Parquet.
    Parquet,
    /// Comma-separated values with a header line.
    Csv,
    /// Tab-separated values with a header line.
    Tsv,
    /// One JSON object per line (`.jsonl`, `.ndjson`).
    JsonLines,
    /// One JSON document: an array of objects, or an object holding one (`{"data": [...]}`).
    Json,
}

impl Format {
    /// The format's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Csv => "csv",
            Format::Tsv => "tsv",
            Format::JsonLines => "jsonl",
            Format::Json => "json",
        }
    }
}

/// How a file is compressed as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Not compressed.
    None,
    /// gzip (`.gz`).
    Gzip,
    /// Zstandard (`.zst`, `.zstd`).
    Zstd,
}

/// JSON files in dataset repos that describe the data rather than hold it.
const METADATA_JSON: [&str; 6] = [
    "dataset_infos.json",
    "dataset_info.json",
    "dataset_dict.json",
    "state.json",
    "config.json",
    "croissant.json",
];

/// The format and compression a file's name says, or `None` when it is not a data file
/// hubdex can read (parquet is read only uncompressed, as it compresses inside).
pub fn detect(name: &str) -> Option<(Format, Compression)> {
    let file = name.rsplit('/').next().unwrap_or(name).to_ascii_lowercase();
    if file.starts_with('.') || METADATA_JSON.contains(&file.as_str()) {
        return None;
    }
    let (stem, compression) = if let Some(stem) = file.strip_suffix(".gz") {
        (stem, Compression::Gzip)
    } else if let Some(stem) = file
        .strip_suffix(".zst")
        .or_else(|| file.strip_suffix(".zstd"))
    {
        (stem, Compression::Zstd)
    } else {
        (file.as_str(), Compression::None)
    };
    let format = match stem.rsplit_once('.')?.1 {
        "parquet" if compression == Compression::None => Format::Parquet,
        "csv" => Format::Csv,
        "tsv" => Format::Tsv,
        "jsonl" | "ndjson" => Format::JsonLines,
        "json" => Format::Json,
        _ => return None,
    };
    Some((format, compression))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_say_the_format() {
        assert_eq!(
            detect("data/train-00000-of-00001.parquet"),
            Some((Format::Parquet, Compression::None))
        );
        assert_eq!(
            detect("HumanEval.jsonl.gz"),
            Some((Format::JsonLines, Compression::Gzip))
        );
        assert_eq!(
            detect("x/PROMPTS.CSV.zst"),
            Some((Format::Csv, Compression::Zstd))
        );
        assert_eq!(detect("a.tsv"), Some((Format::Tsv, Compression::None)));
        assert_eq!(detect("data.json"), Some((Format::Json, Compression::None)));
        assert_eq!(detect("dataset_infos.json"), None);
        assert_eq!(detect("README.md"), None);
        assert_eq!(detect(".gitattributes"), None);
        assert_eq!(detect("x.parquet.gz"), None);
    }
}
