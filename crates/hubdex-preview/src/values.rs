//! Arrow cells as JSON values, the way a reader of the table expects to see them.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{
    DataType, Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use serde_json::{Map, Number, Value};

/// The cell at `row` of `array` as JSON: numbers, strings, booleans, lists, objects for
/// structs and maps; binary as `<binary: N bytes>`; dates, times and decimals as the text
/// Arrow prints for them; NaN and infinities as strings.
pub fn cell(array: &dyn Array, row: usize) -> Value {
    if array.is_null(row) {
        return Value::Null;
    }
    match array.data_type() {
        DataType::Null => Value::Null,
        DataType::Boolean => Value::Bool(array.as_boolean().value(row)),
        DataType::Int8 => array.as_primitive::<Int8Type>().value(row).into(),
        DataType::Int16 => array.as_primitive::<Int16Type>().value(row).into(),
        DataType::Int32 => array.as_primitive::<Int32Type>().value(row).into(),
        DataType::Int64 => array.as_primitive::<Int64Type>().value(row).into(),
        DataType::UInt8 => array.as_primitive::<UInt8Type>().value(row).into(),
        DataType::UInt16 => array.as_primitive::<UInt16Type>().value(row).into(),
        DataType::UInt32 => array.as_primitive::<UInt32Type>().value(row).into(),
        DataType::UInt64 => array.as_primitive::<UInt64Type>().value(row).into(),
        DataType::Float16 => float(f64::from(array.as_primitive::<Float16Type>().value(row))),
        DataType::Float32 => float(f64::from(array.as_primitive::<Float32Type>().value(row))),
        DataType::Float64 => float(array.as_primitive::<Float64Type>().value(row)),
        DataType::Utf8 => array.as_string::<i32>().value(row).into(),
        DataType::LargeUtf8 => array.as_string::<i64>().value(row).into(),
        DataType::Utf8View => array.as_string_view().value(row).into(),
        DataType::Binary => binary(array.as_binary::<i32>().value(row).len()),
        DataType::LargeBinary => binary(array.as_binary::<i64>().value(row).len()),
        DataType::BinaryView => binary(array.as_binary_view().value(row).len()),
        DataType::FixedSizeBinary(n) => binary(usize::try_from(*n).unwrap_or(0)),
        DataType::List(_) => list(array.as_list::<i32>().value(row).as_ref()),
        DataType::LargeList(_) => list(array.as_list::<i64>().value(row).as_ref()),
        DataType::FixedSizeList(_, _) => list(array.as_fixed_size_list().value(row).as_ref()),
        DataType::Struct(fields) => {
            let st = array.as_struct();
            let mut map = Map::new();
            for (field, column) in fields.iter().zip(st.columns()) {
                map.insert(field.name().clone(), cell(column.as_ref(), row));
            }
            Value::Object(map)
        }
        DataType::Map(_, _) => {
            let entries = array.as_map().value(row);
            let (keys, values) = (entries.column(0), entries.column(1));
            let mut map = Map::new();
            for i in 0..entries.len() {
                let key = match cell(keys.as_ref(), i) {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                map.insert(key, cell(values.as_ref(), i));
            }
            Value::Object(map)
        }
        DataType::Dictionary(_, _) => {
            let dict = array.as_any_dictionary();
            let keys = dict.normalized_keys();
            match keys.get(row) {
                Some(&key) => cell(dict.values().as_ref(), key),
                None => Value::Null,
            }
        }
        _ => text(array, row),
    }
}

/// Every cell of a list value.
fn list(values: &dyn Array) -> Value {
    Value::Array((0..values.len()).map(|i| cell(values, i)).collect())
}

fn float(value: f64) -> Value {
    Number::from_f64(value).map_or_else(|| Value::String(value.to_string()), Value::Number)
}

fn binary(len: usize) -> Value {
    Value::String(format!("<binary: {len} bytes>"))
}

/// What Arrow prints for the cell (dates, times, timestamps, decimals, intervals).
fn text(array: &dyn Array, row: usize) -> Value {
    match ArrayFormatter::try_new(array, &FormatOptions::default()) {
        Ok(formatter) => Value::String(formatter.value(row).to_string()),
        Err(_) => Value::String(format!("<{}>", array.data_type())),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        BinaryArray, Date32Array, Float64Array, Int64Array, ListArray, StringArray, StructArray,
    };
    use arrow::datatypes::{Field, Int32Type};
    use serde_json::json;

    use super::*;

    #[test]
    fn scalars_nulls_and_oddities() {
        let ints = Int64Array::from(vec![Some(3), None]);
        assert_eq!(cell(&ints, 0), json!(3));
        assert_eq!(cell(&ints, 1), Value::Null);
        let floats = Float64Array::from(vec![1.5, f64::NAN]);
        assert_eq!(cell(&floats, 0), json!(1.5));
        assert_eq!(cell(&floats, 1), json!("NaN"));
        let bytes = BinaryArray::from(vec![&b"abc"[..]]);
        assert_eq!(cell(&bytes, 0), json!("<binary: 3 bytes>"));
        let dates = Date32Array::from(vec![19_000]);
        assert_eq!(cell(&dates, 0), json!("2022-01-08"));
    }

    #[test]
    fn lists_and_structs_nest() {
        let list =
            ListArray::from_iter_primitive::<Int32Type, _, _>(vec![Some(vec![Some(1), None])]);
        assert_eq!(cell(&list, 0), json!([1, null]));
        let st = StructArray::from(vec![(
            Arc::new(Field::new("name", DataType::Utf8, true)),
            Arc::new(StringArray::from(vec!["x"])) as Arc<dyn Array>,
        )]);
        assert_eq!(cell(&st, 0), json!({"name": "x"}));
    }
}
