//! Offset paging as the Director pages: `first` items after the opaque cursor `after`; a page
//! carries `data`, `pageInfo {startCursor, endCursor, hasNextPage}` and `totalCount`;
//! `endCursor` is empty on the last page. Cursors are base64 of the next offset.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

/// The page size when `first` is not given (the Director's server-side default).
pub(crate) const DEFAULT_SIZE: i64 = 200;
/// The largest page size accepted.
pub(crate) const MAX_SIZE: i64 = 200;

const CURSOR_PREFIX: &str = "director-sim:";

fn encode(offset: usize) -> String {
    STANDARD.encode(format!("{CURSOR_PREFIX}{offset}"))
}

fn decode(cursor: &str) -> Result<usize, String> {
    if cursor.is_empty() {
        return Ok(0);
    }
    let bytes = STANDARD.decode(cursor).unwrap_or_default();
    let text = String::from_utf8(bytes).unwrap_or_default();
    let offset = text
        .strip_prefix(CURSOR_PREFIX)
        .and_then(|n| n.parse().ok());
    offset.ok_or_else(|| format!("cursor is not correct: {cursor:?}"))
}

/// The page of `items` that `first` (a JSON number or null) and `after` (a cursor or null) ask
/// for.
pub(crate) fn page(
    items: &[Value],
    first: Option<&Value>,
    after: Option<&Value>,
) -> Result<Value, String> {
    let size = match first.filter(|f| !f.is_null()) {
        None => DEFAULT_SIZE,
        Some(first) => first.as_i64().unwrap_or(0),
    };
    if !(1..=MAX_SIZE).contains(&size) {
        return Err(format!(
            "page size must be between 1 and {MAX_SIZE}, not {size}"
        ));
    }
    let cursor = after.and_then(Value::as_str).unwrap_or_default();
    let offset = decode(cursor)?;
    let end = offset.saturating_add(size as usize).min(items.len());
    let data = items.get(offset..end).unwrap_or_default();
    let has_next = end < items.len();
    let end_cursor = if has_next { encode(end) } else { String::new() };
    Ok(json!({
        "data": data,
        "pageInfo": {"startCursor": cursor, "endCursor": end_cursor, "hasNextPage": has_next},
        "totalCount": items.len(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(n: usize) -> Vec<Value> {
        (0..n).map(|i| json!(i)).collect()
    }

    #[test]
    fn pages_walk_every_item_once_and_the_last_has_no_end_cursor() {
        let items = numbers(5);
        let first = page(&items, Some(&json!(2)), None).unwrap();
        assert_eq!(first["data"], json!([0, 1]));
        assert_eq!(first["pageInfo"]["hasNextPage"], true);
        let next = first["pageInfo"]["endCursor"].clone();
        let second = page(&items, Some(&json!(2)), Some(&next)).unwrap();
        assert_eq!(second["data"], json!([2, 3]));
        let last_cursor = second["pageInfo"]["endCursor"].clone();
        let last = page(&items, Some(&json!(2)), Some(&last_cursor)).unwrap();
        assert_eq!(last["data"], json!([4]));
        assert_eq!(
            last["pageInfo"],
            json!({"startCursor": last_cursor, "endCursor": "", "hasNextPage": false})
        );
        assert_eq!(last["totalCount"], 5);
    }

    #[test]
    fn sizes_default_to_200_and_bad_sizes_or_cursors_are_refused() {
        let items = numbers(250);
        let default = page(&items, Some(&Value::Null), None).unwrap();
        assert_eq!(default["data"].as_array().unwrap().len(), 200);
        assert!(page(&items, Some(&json!(0)), None).is_err());
        assert!(page(&items, Some(&json!(201)), None).is_err());
        let bad = page(&items, None, Some(&json!("bm9wZQ=="))).unwrap_err();
        assert!(bad.contains("cursor is not correct"), "{bad}");
    }
}
