//! The opaque `cursor` of `Link` URLs: URL-safe base64 of a small JSON keyset position, like
//! the Hub's own (which is base64 of a Mongo keyset query).

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE_NO_PAD, URL_SAFE_NO_PAD_INDIFFERENT};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalog::{Position, Sort, SortValue, hex, parse_hex};

#[derive(Serialize, Deserialize)]
struct Wire {
    /// The sort the cursor belongs to.
    s: String,
    /// The last item's sort value.
    v: Value,
    /// The last item's `_id`.
    #[serde(rename = "_id")]
    object_id: String,
    /// The last item's record number (tie-break for duplicate `_id`s).
    n: u32,
}

/// The cursor for the page after `position`.
pub(crate) fn encode(sort: Sort, position: &Position) -> String {
    let v = match position.value {
        SortValue::None => Value::Null,
        SortValue::Count(n) => Value::from(n),
        SortValue::Time(t) => Value::from(t),
        SortValue::Score(s) => Value::from(s),
    };
    let wire = Wire {
        s: sort.name().to_string(),
        v,
        object_id: hex(&position.object_id),
        n: position.index,
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&wire).unwrap_or_default())
}

/// Reads a cursor made by [`encode`] for the same sort; the error says what to do instead.
pub(crate) fn decode(sort: Sort, cursor: &str) -> Result<Position, String> {
    let invalid = || {
        format!(
            "invalid `cursor` `{cursor}`: cursors are opaque; follow the `Link: <…>; rel=\"next\"` URL of the previous page verbatim"
        )
    };
    let bytes = URL_SAFE_NO_PAD_INDIFFERENT
        .decode(cursor)
        .map_err(|_| invalid())?;
    let wire: Wire = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if wire.s != sort.name() {
        return Err(format!(
            "this `cursor` continues a listing sorted by `{}`, not `{}`; follow the `Link` URL of the previous page verbatim",
            wire.s,
            sort.name()
        ));
    }
    let value = match sort {
        Sort::Default => wire.v.is_null().then_some(SortValue::None),
        Sort::Downloads | Sort::Likes => wire.v.as_u64().map(SortValue::Count),
        Sort::LastModified | Sort::CreatedAt => wire.v.as_i64().map(SortValue::Time),
        Sort::TrendingScore => wire.v.as_f64().map(SortValue::Score),
    }
    .ok_or_else(invalid)?;
    let object_id = parse_hex::<12>(&wire.object_id).ok_or_else(invalid)?;
    Ok(Position {
        value,
        object_id,
        index: wire.n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_kind_of_value() {
        let cases = [
            (Sort::Default, SortValue::None),
            (Sort::Downloads, SortValue::Count(u64::MAX)),
            (Sort::CreatedAt, SortValue::Time(1_646_263_744_000)),
            (Sort::TrendingScore, SortValue::Score(12.0)),
            (Sort::TrendingScore, SortValue::Score(0.125)),
        ];
        for (sort, value) in cases {
            let p = Position {
                value,
                object_id: [7; 12],
                index: 42,
            };
            let text = encode(sort, &p);
            assert!(
                text.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
            assert_eq!(decode(sort, &text), Ok(p));
        }
    }

    #[test]
    fn rejects_foreign_and_garbled_cursors() {
        let p = Position {
            value: SortValue::Count(3),
            object_id: [1; 12],
            index: 0,
        };
        let text = encode(Sort::Likes, &p);
        assert!(
            decode(Sort::Downloads, &text)
                .unwrap_err()
                .contains("sorted by `likes`")
        );
        assert!(
            decode(Sort::Likes, "not a cursor")
                .unwrap_err()
                .contains("opaque")
        );
        assert!(
            decode(Sort::Likes, "e30").is_err(),
            "`{{}}` is not a cursor"
        );
    }
}
