//! First rows of a parquet file through the `parquet` crate's Arrow reader.

use arrow::array::RecordBatch;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};
use parquet::file::metadata::ParquetMetaData;
use parquet::file::reader::ChunkReader;
use serde_json::Value;

use crate::dtype::{arrow_dtype, feature_dtype};
use crate::values::cell;
use crate::{Column, PreviewError, Table};

/// The first `limit` rows of a parquet file. With `metadata` the footer is not read again;
/// with `first_group_only` nothing past the first row group is read.
pub(crate) fn read<R: ChunkReader + 'static>(
    input: R,
    metadata: Option<ArrowReaderMetadata>,
    first_group_only: bool,
    limit: usize,
    what: &str,
) -> Result<Table, PreviewError> {
    let malformed = |e: parquet::errors::ParquetError| PreviewError::Malformed {
        what: what.to_string(),
        format: "parquet",
        reason: e.to_string(),
    };
    let builder = match metadata {
        Some(metadata) => ParquetRecordBatchReaderBuilder::new_with_metadata(input, metadata),
        None => ParquetRecordBatchReaderBuilder::try_new(input).map_err(malformed)?,
    };
    let total = u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
    let features = hub_features(builder.metadata());
    let columns: Vec<Column> = builder
        .schema()
        .fields()
        .iter()
        .map(|field| Column {
            name: field.name().clone(),
            dtype: features
                .as_ref()
                .and_then(|f| f.get(field.name()))
                .map_or_else(|| arrow_dtype(field.data_type()), feature_dtype),
        })
        .collect();
    let groups = builder.metadata().num_row_groups();
    let mut builder = builder.with_batch_size(limit.max(1)).with_limit(limit);
    if first_group_only && groups > 0 {
        builder = builder.with_row_groups(vec![0]);
    }
    let reader = builder.build().map_err(malformed)?;
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| PreviewError::Malformed {
            what: what.to_string(),
            format: "parquet",
            reason: e.to_string(),
        })?;
        push_rows(&batch, limit, &mut rows);
        if rows.len() >= limit {
            break;
        }
    }
    Ok(Table {
        truncated: total > rows.len() as u64,
        columns,
        rows,
    })
}

fn push_rows(batch: &RecordBatch, limit: usize, rows: &mut Vec<Vec<Value>>) {
    for row in 0..batch.num_rows() {
        if rows.len() >= limit {
            return;
        }
        rows.push(
            batch
                .columns()
                .iter()
                .map(|column| cell(column.as_ref(), row))
                .collect(),
        );
    }
}

/// The `datasets` features the Hub's converter stores in the `huggingface` schema metadata
/// (`{"info": {"features": {...}}}`), by column name.
fn hub_features(metadata: &ParquetMetaData) -> Option<serde_json::Map<String, Value>> {
    let text = metadata
        .file_metadata()
        .key_value_metadata()?
        .iter()
        .find(|kv| kv.key == "huggingface")?
        .value
        .as_deref()?;
    let mut value: Value = serde_json::from_str(text).ok()?;
    let features = value
        .pointer_mut("/info/features")
        .map(Value::take)
        .or_else(|| value.get_mut("features").map(Value::take))?;
    match features {
        Value::Object(map) => Some(map),
        _ => None,
    }
}
