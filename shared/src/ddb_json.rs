//! DynamoDB JSON: the `{"S": "…"}` form of attribute values, for keys carried in step payloads
//! (continuations) and for the masking test vectors shared with the Glue job.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

/// An item (or key) as DynamoDB attribute values.
pub type Item = HashMap<String, AttributeValue>;

/// Writes an item as a DynamoDB JSON object, attribute names in sorted order (so the same item
/// always gives the same text, whatever the map's iteration order).
pub fn item_to_json(item: &Item) -> Value {
    Value::Object(sorted_map(item))
}

fn sorted_map(item: &Item) -> Map<String, Value> {
    let mut names: Vec<&String> = item.keys().collect();
    names.sort();
    names
        .into_iter()
        .map(|k| (k.clone(), to_json(&item[k])))
        .collect()
}

/// Compact JSON text with object keys sorted at every level: one text per value, whatever order
/// its maps were built or parsed in (for comparing documents byte for byte).
pub fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(&mut out, value);
    out
}

fn write_canonical(out: &mut String, value: &Value) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(out, &map[key]);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(out, item);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Reads an item from a DynamoDB JSON object; the error names the attribute path.
pub fn item_from_json(value: &Value) -> Result<Item, String> {
    let map = value.as_object().ok_or("an item must be a JSON object")?;
    map.iter()
        .map(|(k, v)| Ok((k.clone(), from_json(v).map_err(|e| format!("{k}: {e}"))?)))
        .collect()
}

/// One attribute value as DynamoDB JSON.
pub fn to_json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::B(b) => json!({ "B": STANDARD.encode(b.as_ref()) }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(_) => json!({ "NULL": true }),
        AttributeValue::Ss(v) => json!({ "SS": v }),
        AttributeValue::Ns(v) => json!({ "NS": v }),
        AttributeValue::Bs(v) => {
            json!({ "BS": v.iter().map(|b| STANDARD.encode(b.as_ref())).collect::<Vec<_>>() })
        }
        AttributeValue::L(v) => json!({ "L": v.iter().map(to_json).collect::<Vec<_>>() }),
        AttributeValue::M(m) => json!({ "M": sorted_map(m) }),
        _ => json!({ "NULL": true }),
    }
}

/// One attribute value from DynamoDB JSON.
pub fn from_json(value: &Value) -> Result<AttributeValue, String> {
    let map = value
        .as_object()
        .filter(|m| m.len() == 1)
        .ok_or("an attribute value must be an object with exactly one type key")?;
    let (kind, inner) = map.iter().next().ok_or("empty attribute value")?;
    let text = |v: &Value| {
        v.as_str()
            .map(str::to_string)
            .ok_or(format!("{kind} must hold a string"))
    };
    let texts = |v: &Value| -> Result<Vec<String>, String> {
        v.as_array()
            .ok_or(format!("{kind} must hold a list"))?
            .iter()
            .map(text)
            .collect()
    };
    let blob = |v: &Value| -> Result<Blob, String> {
        let encoded = text(v)?;
        STANDARD
            .decode(encoded)
            .map(Blob::new)
            .map_err(|e| format!("{kind} is not base64: {e}"))
    };
    Ok(match kind.as_str() {
        "S" => AttributeValue::S(text(inner)?),
        "N" => AttributeValue::N(text(inner)?),
        "B" => AttributeValue::B(blob(inner)?),
        "BOOL" => AttributeValue::Bool(inner.as_bool().ok_or("BOOL must hold true or false")?),
        "NULL" => AttributeValue::Null(true),
        "SS" => AttributeValue::Ss(texts(inner)?),
        "NS" => AttributeValue::Ns(texts(inner)?),
        "BS" => AttributeValue::Bs(
            inner
                .as_array()
                .ok_or("BS must hold a list")?
                .iter()
                .map(blob)
                .collect::<Result<_, _>>()?,
        ),
        "L" => AttributeValue::L(
            inner
                .as_array()
                .ok_or("L must hold a list")?
                .iter()
                .enumerate()
                .map(|(i, v)| from_json(v).map_err(|e| format!("[{i}]: {e}")))
                .collect::<Result<_, _>>()?,
        ),
        "M" => AttributeValue::M(item_from_json(inner)?),
        other => return Err(format!("unknown attribute type '{other}'")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips() {
        let doc = json!({
            "pk": {"S": "user-email|a@example.com"}, "n": {"N": "12.5"}, "b": {"B": "AAEC"},
            "t": {"BOOL": true}, "z": {"NULL": true}, "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1"]},
            "bs": {"BS": ["AAE="]}, "l": {"L": [{"S": "x"}, {"M": {"k": {"N": "1"}}}]},
            "m": {"M": {"inner": {"L": []}}}
        });
        let item = item_from_json(&doc).unwrap();
        assert_eq!(item["b"], AttributeValue::B(Blob::new(vec![0, 1, 2])));
        assert_eq!(item_to_json(&item), doc);
    }

    #[test]
    fn the_same_item_always_gives_the_same_text() {
        let doc = json!({"z": {"S": "1"}, "a": {"M": {"y": {"N": "2"}, "b": {"BOOL": true}}}});
        let text = item_to_json(&item_from_json(&doc).unwrap()).to_string();
        assert_eq!(
            text,
            r#"{"a":{"M":{"b":{"BOOL":true},"y":{"N":"2"}}},"z":{"S":"1"}}"#
        );
    }

    #[test]
    fn errors_name_the_attribute_path() {
        let err = item_from_json(&json!({"m": {"M": {"x": {"L": [{"Q": 1}]}}}})).unwrap_err();
        assert_eq!(err, "m: x: [0]: unknown attribute type 'Q'");
    }
}
