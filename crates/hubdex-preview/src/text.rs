//! First rows of csv, tsv, jsonl and json files, read as a stream: only the bytes the first
//! rows need are read.

use std::cell::RefCell;
use std::fmt;
use std::io::{BufRead, BufReader, Read};

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::dtype::json_dtype;
use crate::format::Format;
use crate::{Column, PreviewError, Table};

/// The longest line of a jsonl file a preview reads (a longer one is refused).
const MAX_LINE: u64 = 64 * 1024 * 1024;

/// Cell texts pandas (and so `datasets`' csv loader) reads as missing.
const MISSING: [&str; 9] = [
    "", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "<NA>",
];

/// The first `limit` rows of a text format read from `input`.
pub(crate) fn read(
    format: Format,
    input: impl Read,
    limit: usize,
    what: &str,
) -> Result<Table, PreviewError> {
    match format {
        Format::Csv => csv(input, b',', limit, what),
        Format::Tsv => csv(input, b'\t', limit, what),
        Format::JsonLines => json_lines(input, limit, what),
        Format::Json => json(input, limit, what),
        Format::Parquet => Err(PreviewError::UnknownFormat {
            name: what.to_string(),
        }),
    }
}

fn malformed(what: &str, format: &'static str, reason: impl fmt::Display) -> PreviewError {
    PreviewError::Malformed {
        what: what.to_string(),
        format,
        reason: reason.to_string(),
    }
}

fn csv(input: impl Read, delimiter: u8, limit: usize, what: &str) -> Result<Table, PreviewError> {
    let name = if delimiter == b'\t' { "tsv" } else { "csv" };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(input);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| malformed(what, name, e))?
        .iter()
        .map(str::to_string)
        .collect();
    let mut cells: Vec<Vec<Option<String>>> = Vec::new();
    let mut truncated = false;
    for record in reader.records() {
        let record = record.map_err(|e| malformed(what, name, e))?;
        if cells.len() == limit {
            truncated = true;
            break;
        }
        cells.push(
            (0..headers.len())
                .map(|i| {
                    record
                        .get(i)
                        .filter(|c| !MISSING.contains(c))
                        .map(str::to_string)
                })
                .collect(),
        );
    }
    let kinds: Vec<CsvKind> = (0..headers.len())
        .map(|i| CsvKind::of(cells.iter().filter_map(|row| row[i].as_deref())))
        .collect();
    let rows = cells
        .into_iter()
        .map(|row| {
            row.into_iter()
                .zip(&kinds)
                .map(|(c, kind)| c.map_or(Value::Null, |c| kind.value(c)))
                .collect()
        })
        .collect();
    let columns = headers
        .into_iter()
        .zip(&kinds)
        .map(|(name, kind)| Column {
            name,
            dtype: kind.dtype().to_string(),
        })
        .collect();
    Ok(Table {
        columns,
        rows,
        truncated,
    })
}

/// The type a csv column's texts all fit, as pandas would infer it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CsvKind {
    Null,
    Int,
    Float,
    Bool,
    Text,
}

impl CsvKind {
    fn of<'a>(texts: impl Iterator<Item = &'a str>) -> CsvKind {
        let mut kind = CsvKind::Null;
        for text in texts {
            let this = if text.parse::<i64>().is_ok() {
                CsvKind::Int
            } else if text.parse::<f64>().is_ok() {
                CsvKind::Float
            } else if matches!(text, "True" | "False" | "true" | "false") {
                CsvKind::Bool
            } else {
                CsvKind::Text
            };
            kind = match (kind, this) {
                (CsvKind::Null, k) => k,
                (a, b) if a == b => a,
                (CsvKind::Int | CsvKind::Float, CsvKind::Int | CsvKind::Float) => CsvKind::Float,
                _ => return CsvKind::Text,
            };
        }
        kind
    }

    fn dtype(self) -> &'static str {
        match self {
            CsvKind::Null => "null",
            CsvKind::Int => "int64",
            CsvKind::Float => "float64",
            CsvKind::Bool => "bool",
            CsvKind::Text => "string",
        }
    }

    fn value(self, text: String) -> Value {
        let parsed = match self {
            CsvKind::Int => text.parse::<i64>().ok().map(Value::from),
            CsvKind::Float => text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number),
            CsvKind::Bool => Some(Value::Bool(text.eq_ignore_ascii_case("true"))),
            CsvKind::Null | CsvKind::Text => None,
        };
        parsed.unwrap_or(Value::String(text))
    }
}

fn json_lines(input: impl Read, limit: usize, what: &str) -> Result<Table, PreviewError> {
    let mut input = BufReader::new(input);
    let mut records = Vec::new();
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        let read = (&mut input)
            .take(MAX_LINE)
            .read_until(b'\n', &mut line)
            .map_err(|e| malformed(what, "jsonl", e))?;
        if read == 0 {
            return Ok(table(records, false));
        }
        number += 1;
        if read as u64 == MAX_LINE && line.last() != Some(&b'\n') {
            return Err(malformed(
                what,
                "jsonl",
                format!("line {number} is longer than {MAX_LINE} bytes"),
            ));
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if records.len() == limit {
            return Ok(table(records, true));
        }
        let record: Record = serde_json::from_slice(&line)
            .map_err(|e| malformed(what, "jsonl", format!("line {number}: {e}")))?;
        records.push(record);
    }
}

/// The message a [`RowsSeed`] stops the parser with once it has enough rows.
const ENOUGH: &str = "hubdex-preview: enough rows";

fn json(input: impl Read, limit: usize, what: &str) -> Result<Table, PreviewError> {
    let collected = RefCell::new(Collected::default());
    let seed = RowsSeed {
        limit,
        out: &collected,
        top: true,
    };
    let mut de = serde_json::Deserializer::from_reader(BufReader::new(input));
    match seed.deserialize(&mut de) {
        Ok(()) => {}
        Err(e) if e.to_string().starts_with(ENOUGH) => {}
        Err(e) => return Err(malformed(what, "json", e)),
    }
    let collected = collected.into_inner();
    if !collected.found {
        return Err(malformed(
            what,
            "json",
            "it holds no array of rows (expected `[{...}, ...]` or `{\"data\": [{...}, ...]}`)",
        ));
    }
    Ok(table(collected.rows, collected.more))
}

#[derive(Default)]
struct Collected {
    rows: Vec<Record>,
    /// An array of rows was found.
    found: bool,
    /// It had more rows than the limit.
    more: bool,
}

/// Finds the first array of rows in a JSON document (the document itself, or a value of the
/// top-level object) and keeps its first `limit` elements, stopping the parser right after.
struct RowsSeed<'a> {
    limit: usize,
    out: &'a RefCell<Collected>,
    /// Only the document and the top object's values are searched.
    top: bool,
}

impl<'de> DeserializeSeed<'de> for RowsSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RowsSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of rows or an object holding one")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.out.borrow_mut().found = true;
        loop {
            if self.out.borrow().rows.len() == self.limit {
                return match seq.next_element::<IgnoredAny>()? {
                    Some(_) => {
                        self.out.borrow_mut().more = true;
                        Err(de::Error::custom(ENOUGH))
                    }
                    None => Err(de::Error::custom(ENOUGH)),
                };
            }
            match seq.next_element::<Record>()? {
                Some(row) => self.out.borrow_mut().rows.push(row),
                None => return Err(de::Error::custom(ENOUGH)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(_key) = map.next_key::<IgnoredAny>()? {
            if self.top {
                map.next_value_seed(RowsSeed {
                    limit: self.limit,
                    out: self.out,
                    top: false,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// One row of a JSON file: an object's fields in the file's order (`serde_json`'s map would
/// sort them), or any other value as a `value` field.
struct Record(Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for Record {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Record, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = Record;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON row")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Record, A::Error> {
                let mut fields = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, Value>()? {
                    fields.push((key, value));
                }
                Ok(Record(fields))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Record, A::Error> {
                let value = Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                Ok(Record::value(value))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Record, E> {
                Ok(Record::value(v.into()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Record, E> {
                Ok(Record::value(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Record, E> {
                Ok(Record::value(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Record, E> {
                Ok(Record::value(v.into()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Record, E> {
                Ok(Record::value(v.into()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Record, E> {
                Ok(Record::value(Value::Null))
            }
        }
        deserializer.deserialize_any(Fields)
    }
}

impl Record {
    fn value(value: Value) -> Record {
        Record(vec![("value".to_string(), value)])
    }
}

/// Rows of JSON records as a table: their fields are the columns, in order of first
/// appearance; a row without a field has null there.
fn table(records: Vec<Record>, truncated: bool) -> Table {
    let mut names: Vec<String> = Vec::new();
    for record in &records {
        for (key, _) in &record.0 {
            if !names.contains(key) {
                names.push(key.clone());
            }
        }
    }
    let rows: Vec<Vec<Value>> = records
        .into_iter()
        .map(|record| {
            let mut row = vec![Value::Null; names.len()];
            for (key, value) in record.0 {
                if let Some(i) = names.iter().position(|n| *n == key) {
                    row[i] = value;
                }
            }
            row
        })
        .collect();
    let columns = names
        .into_iter()
        .enumerate()
        .map(|(i, name)| Column {
            dtype: json_dtype(rows.iter().map(|row| &row[i])),
            name,
        })
        .collect();
    Table {
        columns,
        rows,
        truncated,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn json_arrays_and_data_objects_stop_after_the_limit() {
        let doc = br#"[{"a": 1}, {"a": 2, "b": "x"}, {"a": 3}]"#;
        let t = json(&doc[..], 2, "t.json").unwrap();
        assert_eq!(
            t.rows,
            vec![vec![json!(1), json!(null)], vec![json!(2), json!("x")]]
        );
        assert!(t.truncated);
        let t = json(&doc[..], 3, "t.json").unwrap();
        assert!(!t.truncated);
        assert_eq!(t.rows.len(), 3);

        let wrapped = br#"{"version": "1.0", "data": [{"q": "why"}, {"q": "how"}]}"#;
        let t = json(&wrapped[..], 1, "w.json").unwrap();
        assert_eq!(t.columns[0].name, "q");
        assert_eq!(t.rows, vec![vec![json!("why")]]);
        assert!(t.truncated);

        // A broken tail is never read once the rows are there.
        let broken = br#"[{"a": 1}, {"a": 2}, {"a": "#;
        assert_eq!(json(&broken[..], 1, "b.json").unwrap().rows.len(), 1);
        assert!(json(&b"{\"x\": 1}"[..], 1, "n.json").is_err());
    }

    #[test]
    fn jsonl_skips_blank_lines_and_names_the_bad_line() {
        let text = b"{\"a\": 1}\n\n{\"a\": 2}\n";
        let t = json_lines(&text[..], 5, "x.jsonl").unwrap();
        assert_eq!(t.rows.len(), 2);
        assert!(!t.truncated);
        let err = json_lines(&b"{\"a\": 1}\nnot json\n"[..], 5, "x.jsonl").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn csv_columns_get_types_and_missing_values_are_null() {
        let text = b"name,n,x,ok\na,1,1.5,true\nb,NA,2,false\n";
        let t = csv(&text[..], b',', 10, "t.csv").unwrap();
        let dtypes: Vec<&str> = t.columns.iter().map(|c| c.dtype.as_str()).collect();
        assert_eq!(dtypes, ["string", "int64", "float64", "bool"]);
        assert_eq!(
            t.rows[1],
            vec![json!("b"), json!(null), json!(2.0), json!(false)]
        );
    }
}
