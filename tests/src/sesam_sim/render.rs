//! How the node prints config: pretty JSON with a 4-space indent and its own key order (`_id`,
//! then `type`, then the other keys reverse-sorted, at every level), so that clients must compare
//! parsed JSON rather than bytes.

use serde_json::{Map, Value};

const INDENT: &str = "    ";

/// `value` printed the node's way, ending with a newline.
pub(crate) fn pretty(value: &Value) -> String {
    let mut out = String::new();
    write(&mut out, value, 0);
    out.push('\n');
    out
}

fn write(out: &mut String, value: &Value, depth: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => write_object(out, map, depth),
        Value::Array(items) if !items.is_empty() => write_array(out, items, depth),
        scalar => out.push_str(&serde_json::to_string(scalar).expect("JSON prints")),
    }
}

fn write_object(out: &mut String, map: &Map<String, Value>, depth: usize) {
    out.push('{');
    for (n, key) in key_order(map).into_iter().enumerate() {
        separate(out, n, depth + 1);
        out.push_str(&serde_json::to_string(key).expect("a key prints"));
        out.push_str(": ");
        write(out, &map[key], depth + 1);
    }
    close(out, depth, '}');
}

fn write_array(out: &mut String, items: &[Value], depth: usize) {
    out.push('[');
    for (n, item) in items.iter().enumerate() {
        separate(out, n, depth + 1);
        write(out, item, depth + 1);
    }
    close(out, depth, ']');
}

/// A comma before every item but the first, then a new indented line.
fn separate(out: &mut String, n: usize, depth: usize) {
    if n > 0 {
        out.push(',');
    }
    newline(out, depth);
}

fn close(out: &mut String, depth: usize, bracket: char) {
    newline(out, depth);
    out.push(bracket);
}

fn newline(out: &mut String, depth: usize) {
    out.push('\n');
    out.push_str(&INDENT.repeat(depth));
}

/// `_id`, `type`, then the other keys in reverse order.
fn key_order(map: &Map<String, Value>) -> Vec<&String> {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| b.cmp(a)));
    keys
}

fn rank(key: &str) -> u8 {
    match key {
        "_id" => 0,
        "type" => 1,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_print_id_and_type_first_then_keys_reversed() {
        let value = json!({"a": 1, "type": "pipe", "z": [true, {}], "_id": "p", "m": {"b": null, "c": "x"}});
        let expected = r#"{
    "_id": "p",
    "type": "pipe",
    "z": [
        true,
        {}
    ],
    "m": {
        "c": "x",
        "b": null
    },
    "a": 1
}
"#;
        assert_eq!(pretty(&value), expected);
        let parsed: Value = serde_json::from_str(&pretty(&value)).unwrap();
        assert_eq!(parsed, value);
    }
}
