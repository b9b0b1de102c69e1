//! Previews of the real files in `tests/fixtures/`: local reads of every format, and remote
//! parquet reads through byte ranges.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use hubdex_preview::{PreviewError, RangeRead, Table, read_bytes, read_file, read_remote_parquet};
use serde_json::{Value, json};

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

const PROMPTS_CSV: &str = "fka__awesome-chatgpt-prompts/prompts.csv";
const PROMPTS_PARQUET: &str =
    "fka__awesome-chatgpt-prompts/refs-convert-parquet/default/train/0000.parquet";

fn names(table: &Table) -> Vec<(&str, &str)> {
    table
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.dtype.as_str()))
        .collect()
}

#[test]
fn the_hub_converters_parquet_matches_the_csv_it_came_from() {
    let csv = read_file(&fixture(PROMPTS_CSV), 5).unwrap();
    let parquet = read_file(&fixture(PROMPTS_PARQUET), 5).unwrap();
    assert_eq!(names(&csv), [("act", "string"), ("prompt", "string")]);
    assert_eq!(names(&parquet), names(&csv));
    assert_eq!(csv.rows.len(), 5);
    assert_eq!(csv.rows[0][0], json!("An Ethereum Developer"));
    assert_eq!(parquet.rows, csv.rows);
    assert!(csv.truncated && parquet.truncated);

    let all = read_file(&fixture(PROMPTS_PARQUET), 500).unwrap();
    assert_eq!(all.rows.len(), 203);
    assert!(!all.truncated);
}

#[test]
fn gzipped_jsonl_reads_to_the_end_or_the_limit() {
    let path = fixture("openai__openai_humaneval/HumanEval.jsonl.gz");
    let t = read_file(&path, 2).unwrap();
    let columns: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        columns,
        [
            "task_id",
            "prompt",
            "entry_point",
            "canonical_solution",
            "test"
        ]
    );
    assert_eq!(t.rows[1][0], json!("HumanEval/1"));
    assert!(t.truncated);
    let all = read_file(&path, 1000).unwrap();
    assert_eq!(all.rows.len(), 164);
    assert!(!all.truncated);
}

#[test]
fn jsonl_stops_reading_after_the_rows_it_needs() {
    let text = std::fs::read(fixture("openai__gsm8k/main/test.jsonl")).unwrap();
    let mut damaged = text.clone();
    damaged.extend_from_slice(b"{ this line is not json\n");
    let t = read_bytes("main/test.jsonl", Bytes::from(damaged.clone()), 3).unwrap();
    assert_eq!(names(&t), [("question", "string"), ("answer", "string")]);
    assert!(t.rows[0][0].as_str().unwrap().starts_with("Janet"));
    assert!(t.truncated);
    let err = read_bytes("main/test.jsonl", Bytes::from(damaged), 100).unwrap_err();
    assert!(err.to_string().contains("line 41"), "{err}");
}

#[test]
fn penguins_have_numbers_and_missing_values_in_every_format() {
    let parquet = read_file(&fixture("palmerpenguins/penguins.parquet"), 5).unwrap();
    let csv = read_file(&fixture("palmerpenguins/penguins.csv"), 5).unwrap();
    assert_eq!(parquet.columns.len(), 8);
    let dtype = |t: &Table, name: &str| {
        t.columns
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.dtype.clone())
            .unwrap()
    };
    assert_eq!(dtype(&parquet, "species"), "string");
    assert_eq!(dtype(&parquet, "bill_length_mm"), "float64");
    assert_eq!(dtype(&parquet, "year"), "int64");
    assert_eq!(dtype(&csv, "bill_length_mm"), "float64");
    assert_eq!(dtype(&csv, "year"), "int64");
    // Row 4 of the file has NA everywhere but species, island and year.
    assert_eq!(parquet.rows[3][2], Value::Null);
    assert_eq!(csv.rows[3][2], Value::Null);
    assert_eq!(parquet.rows[0][2], json!(39.1));
    assert_eq!(csv.rows[0][2], json!(39.1));

    let dir = tempfile::tempdir().unwrap();
    let zst = dir.path().join("penguins.csv.zst");
    let plain = std::fs::read(fixture("palmerpenguins/penguins.csv")).unwrap();
    std::fs::write(&zst, zstd::encode_all(&plain[..], 3).unwrap()).unwrap();
    assert_eq!(read_file(&zst, 5).unwrap(), csv);
}

#[test]
fn unknown_and_missing_files_say_what_is_wrong() {
    let err = read_file(&fixture("fka__awesome-chatgpt-prompts/README.md"), 5).unwrap_err();
    assert!(matches!(err, PreviewError::UnknownFormat { .. }), "{err}");
    let err = read_file(&fixture("nope.csv"), 5).unwrap_err();
    assert!(matches!(err, PreviewError::Io { .. }), "{err}");
    let err = read_bytes("x.parquet", Bytes::from_static(b"not parquet"), 5).unwrap_err();
    assert!(matches!(err, PreviewError::Malformed { .. }), "{err}");
}

/// A remote file held in memory that counts the bytes asked of it.
struct Counted {
    bytes: Bytes,
    served: AtomicU64,
    requests: AtomicU64,
}

impl RangeRead for Counted {
    fn size(&self) -> u64 {
        self.bytes.len() as u64
    }
    fn describe(&self) -> String {
        "default/train/0000.parquet".into()
    }
    async fn read_range(&self, start: u64, len: u64) -> Result<Bytes, PreviewError> {
        let (start, end) = (start as usize, (start + len) as usize);
        self.served.fetch_add(len, Ordering::SeqCst);
        self.requests.fetch_add(1, Ordering::SeqCst);
        Ok(self.bytes.slice(start..end))
    }
}

fn counted(path: &str) -> Counted {
    Counted {
        bytes: Bytes::from(std::fs::read(fixture(path)).expect("the fixture is readable")),
        served: AtomicU64::new(0),
        requests: AtomicU64::new(0),
    }
}

#[tokio::test]
async fn remote_parquet_reads_the_footer_and_first_row_group_only() {
    let file = counted(PROMPTS_PARQUET);
    let remote = read_remote_parquet(&file, 3, 10 * 1024 * 1024)
        .await
        .unwrap();
    let local = read_file(&fixture(PROMPTS_PARQUET), 3).unwrap();
    assert_eq!(remote.table, local);
    assert_eq!(remote.bytes_read, file.served.load(Ordering::SeqCst));
    // The file is smaller than the first tail read, so one request fetched everything.
    assert_eq!(remote.bytes_read, file.size());
    assert_eq!(file.requests.load(Ordering::SeqCst), 1);

    let err = read_remote_parquet(&file, 3, 1000).await.unwrap_err();
    assert!(matches!(err, PreviewError::TooBig { .. }), "{err}");

    let not_parquet = Counted {
        bytes: Bytes::from(std::fs::read(fixture(PROMPTS_CSV)).unwrap()),
        served: AtomicU64::new(0),
        requests: AtomicU64::new(0),
    };
    let err = read_remote_parquet(&not_parquet, 3, 1 << 20)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("PAR1"), "{err}");
}

#[tokio::test]
async fn a_remote_file_of_many_row_groups_costs_a_fraction_of_its_size() {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, RecordBatch, StringArray};
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;

    // The 203 prompts ten times over, in row groups of 20 rows, as large datasets are stored.
    let prompts = read_file(&fixture(PROMPTS_CSV), 1000).unwrap();
    let column = |i: usize| -> ArrayRef {
        Arc::new(StringArray::from_iter((0..10).flat_map(|_| {
            prompts
                .rows
                .iter()
                .map(|r| r[i].as_str().map(str::to_string))
        })))
    };
    let batch = RecordBatch::try_from_iter([("act", column(0)), ("prompt", column(1))]).unwrap();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(20))
        .build();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, batch.schema(), Some(props)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();

    let file = Counted {
        bytes: Bytes::from(out),
        served: AtomicU64::new(0),
        requests: AtomicU64::new(0),
    };
    let remote = read_remote_parquet(&file, 50, 1 << 20).await.unwrap();
    // Only the first row group is read: 20 rows, not 50, and far from the whole file.
    assert_eq!(remote.table.rows.len(), 20);
    assert_eq!(remote.table.rows, prompts.rows[..20]);
    assert!(remote.table.truncated);
    assert!(
        remote.bytes_read * 4 < file.size(),
        "read {} of {} bytes",
        remote.bytes_read,
        file.size()
    );
}
