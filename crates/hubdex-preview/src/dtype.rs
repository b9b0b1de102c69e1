//! Column types in words: from Arrow types, from the Hub's `datasets` features (the
//! `huggingface` schema metadata and the viewer's `features`), and from JSON values.

use arrow::datatypes::{DataType, Field, TimeUnit};
use serde_json::Value;

/// An Arrow type in words: `string`, `int64`, `list<float32>`, `struct<a: string>`.
pub fn arrow_dtype(data_type: &DataType) -> String {
    match data_type {
        DataType::Null => "null".into(),
        DataType::Boolean => "bool".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "string".into(),
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => "binary".into(),
        DataType::List(f) | DataType::LargeList(f) | DataType::ListView(f) => {
            format!("list<{}>", arrow_dtype(f.data_type()))
        }
        DataType::LargeListView(f) => format!("list<{}>", arrow_dtype(f.data_type())),
        DataType::FixedSizeList(f, n) => format!("list<{}>[{n}]", arrow_dtype(f.data_type())),
        DataType::Struct(fields) => struct_words(fields.iter().map(|f| f.as_ref())),
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => format!(
                "map<{}, {}>",
                arrow_dtype(kv[0].data_type()),
                arrow_dtype(kv[1].data_type())
            ),
            other => format!("map<{}>", arrow_dtype(other)),
        },
        DataType::Dictionary(_, value) => arrow_dtype(value),
        DataType::RunEndEncoded(_, value) => arrow_dtype(value.data_type()),
        DataType::Timestamp(unit, tz) => {
            let unit = unit_words(unit);
            match tz {
                Some(tz) => format!("timestamp[{unit}, tz={tz}]"),
                None => format!("timestamp[{unit}]"),
            }
        }
        DataType::Time32(unit) | DataType::Time64(unit) => format!("time[{}]", unit_words(unit)),
        DataType::Duration(unit) => format!("duration[{}]", unit_words(unit)),
        DataType::Decimal32(p, s)
        | DataType::Decimal64(p, s)
        | DataType::Decimal128(p, s)
        | DataType::Decimal256(p, s) => format!("decimal({p}, {s})"),
        other => other.to_string().to_lowercase(),
    }
}

fn unit_words(unit: &TimeUnit) -> &'static str {
    match unit {
        TimeUnit::Second => "s",
        TimeUnit::Millisecond => "ms",
        TimeUnit::Microsecond => "us",
        TimeUnit::Nanosecond => "ns",
    }
}

fn struct_words<'a>(fields: impl Iterator<Item = &'a Field>) -> String {
    let inner: Vec<String> = fields
        .map(|f| format!("{}: {}", f.name(), arrow_dtype(f.data_type())))
        .collect();
    format!("struct<{}>", inner.join(", "))
}

/// A `datasets` feature (as in `dataset_info.features` or the viewer's `features[].type`) in
/// words: `{"dtype":"string","_type":"Value"}` is `string`, a `List` of float32 is
/// `list<float32>`, `ClassLabel` is `class_label`, `Image` is `image`, a dict is a struct.
pub fn feature_dtype(feature: &Value) -> String {
    match feature {
        Value::Array(items) => match items.first() {
            Some(inner) => format!("list<{}>", feature_dtype(inner)),
            None => "list".into(),
        },
        Value::Object(map) => match map.get("_type").and_then(Value::as_str) {
            Some("Value") => map
                .get("dtype")
                .and_then(Value::as_str)
                .map_or_else(|| "value".into(), value_dtype),
            Some("ClassLabel") => "class_label".into(),
            Some("List" | "Sequence" | "LargeList") => match map.get("feature") {
                Some(inner) => format!("list<{}>", feature_dtype(inner)),
                None => "list".into(),
            },
            Some(kind @ ("Array2D" | "Array3D" | "Array4D" | "Array5D")) => {
                let dtype = map.get("dtype").and_then(Value::as_str).unwrap_or("?");
                format!("{}<{}>", kind.to_lowercase(), value_dtype(dtype))
            }
            Some(other) => snake(other),
            None => {
                let inner: Vec<String> = map
                    .iter()
                    .map(|(k, v)| format!("{k}: {}", feature_dtype(v)))
                    .collect();
                format!("struct<{}>", inner.join(", "))
            }
        },
        _ => "unknown".into(),
    }
}

/// A `Value` feature's dtype, with `datasets`' aliases made plain (`float` is float32,
/// `double` float64, `large_string` string).
fn value_dtype(dtype: &str) -> String {
    match dtype {
        "float" => "float32".into(),
        "double" => "float64".into(),
        "large_string" | "string_view" => "string".into(),
        "large_binary" => "binary".into(),
        "boolean" => "bool".into(),
        other => other.into(),
    }
}

/// `ClassLabel` → `class_label`.
fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The type of a column of JSON values in words: the narrowest of `int64`, `float64`,
/// `bool`, `string`, `list<…>`, `struct<…>` that holds every non-null value; `null` when
/// all are null; `json` when they disagree.
pub fn json_dtype<'a>(values: impl IntoIterator<Item = &'a Value>) -> String {
    let mut kind: Option<String> = None;
    for value in values {
        let this = match value {
            Value::Null => continue,
            Value::Bool(_) => "bool".to_string(),
            Value::Number(n) if n.is_i64() || n.is_u64() => "int64".to_string(),
            Value::Number(_) => "float64".to_string(),
            Value::String(_) => "string".to_string(),
            Value::Array(items) => format!("list<{}>", json_dtype(items)),
            Value::Object(map) => {
                let inner: Vec<String> = map
                    .iter()
                    .map(|(k, v)| format!("{k}: {}", json_dtype([v])))
                    .collect();
                format!("struct<{}>", inner.join(", "))
            }
        };
        kind = Some(match kind {
            None => this,
            Some(k) if k == this => k,
            Some(k) if is_number(&k) && is_number(&this) => "float64".to_string(),
            Some(_) => return "json".to_string(),
        });
    }
    kind.unwrap_or_else(|| "null".to_string())
}

fn is_number(kind: &str) -> bool {
    kind == "int64" || kind == "float64"
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use serde_json::json;

    #[test]
    fn arrow_types_read_as_words() {
        assert_eq!(arrow_dtype(&DataType::Utf8View), "string");
        assert_eq!(arrow_dtype(&DataType::Int64), "int64");
        let list = DataType::List(Arc::new(Field::new("item", DataType::Float32, true)));
        assert_eq!(arrow_dtype(&list), "list<float32>");
        let st = DataType::Struct(
            vec![
                Field::new("a", DataType::Utf8, true),
                Field::new("b", list, true),
            ]
            .into(),
        );
        assert_eq!(arrow_dtype(&st), "struct<a: string, b: list<float32>>");
        assert_eq!(
            arrow_dtype(&DataType::Timestamp(TimeUnit::Second, None)),
            "timestamp[s]"
        );
    }

    #[test]
    fn hub_features_read_as_words() {
        let ett = json!({"feature": {"feature": {"dtype": "float32", "_type": "Value"}, "_type": "List"}, "_type": "List"});
        assert_eq!(feature_dtype(&ett), "list<list<float32>>");
        assert_eq!(
            feature_dtype(&json!({"names": ["neg", "pos"], "_type": "ClassLabel"})),
            "class_label"
        );
        assert_eq!(feature_dtype(&json!({"_type": "Image"})), "image");
        assert_eq!(
            feature_dtype(&json!({"dtype": "double", "_type": "Value"})),
            "float64"
        );
        assert_eq!(
            feature_dtype(&json!({"text": {"dtype": "string", "_type": "Value"}})),
            "struct<text: string>"
        );
        assert_eq!(
            feature_dtype(&json!([{"dtype": "int32", "_type": "Value"}])),
            "list<int32>"
        );
    }

    #[test]
    fn json_columns_take_the_narrowest_type() {
        assert_eq!(json_dtype(&[json!(1), json!(null), json!(2)]), "int64");
        assert_eq!(json_dtype(&[json!(1), json!(2.5)]), "float64");
        assert_eq!(json_dtype(&[json!("a"), json!(1)]), "json");
        assert_eq!(json_dtype(&[json!([1, 2])]), "list<int64>");
        assert_eq!(json_dtype(&[json!(null)]), "null");
    }
}
