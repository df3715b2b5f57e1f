//! JSON merge patch (RFC 7386): objects merge recursively, `null` removes, anything else replaces.

use serde_json::Value;

/// Applies a merge patch to `target`.
pub fn merge_patch(target: &Value, patch: &Value) -> Value {
    let Value::Object(p) = patch else {
        return patch.clone();
    };
    let mut out = match target {
        Value::Object(t) => t.clone(),
        _ => serde_json::Map::new(),
    };
    for (k, v) in p {
        if v.is_null() {
            out.remove(k);
        } else {
            let merged = merge_patch(out.get(k).unwrap_or(&Value::Null), v);
            out.insert(k.clone(), merged);
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_the_rfc_examples() {
        let target = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        let patch = json!({"a": "z", "c": {"f": null}});
        assert_eq!(merge_patch(&target, &patch), json!({"a": "z", "c": {"d": "e"}}));
        assert_eq!(
            merge_patch(&json!({"a": [1, 2]}), &json!({"a": [3]})),
            json!({"a": [3]})
        );
        assert_eq!(merge_patch(&json!({"a": "b"}), &json!(["c"])), json!(["c"]));
        assert_eq!(merge_patch(&json!([1]), &json!({"a": {"b": null}})), json!({"a": {}}));
    }

    proptest::proptest! {
        #[test]
        fn merging_a_document_into_itself_changes_nothing(keys in proptest::collection::btree_map("[a-c]{1,2}", 0i64..5, 0..6)) {
            let doc = serde_json::to_value(&keys).unwrap();
            proptest::prop_assert_eq!(merge_patch(&doc, &doc), doc);
        }
    }
}
