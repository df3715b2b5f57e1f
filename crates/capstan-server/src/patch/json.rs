//! JSON patch (RFC 6902): add, remove, replace, move, copy and test, addressed by JSON pointers.

use serde_json::Value;

use super::PatchError;

/// Applies a JSON patch (an array of operations) to `target`. All or nothing.
pub fn apply(target: &Value, patch: &Value) -> Result<Value, PatchError> {
    let ops = patch
        .as_array()
        .ok_or_else(|| PatchError("a JSON patch must be an array of operations".into()))?;
    let mut doc = target.clone();
    for (i, op) in ops.iter().enumerate() {
        apply_op(&mut doc, op).map_err(|e| PatchError(format!("operation {i}: {}", e.0)))?;
    }
    Ok(doc)
}

fn str_field<'a>(op: &'a Value, name: &str) -> Result<&'a str, PatchError> {
    op.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| PatchError(format!("missing string field {name:?}")))
}

fn apply_op(doc: &mut Value, op: &Value) -> Result<(), PatchError> {
    let kind = str_field(op, "op")?;
    let path = parse_pointer(str_field(op, "path")?)?;
    let value = || {
        op.get("value")
            .cloned()
            .ok_or_else(|| PatchError("missing \"value\"".into()))
    };
    match kind {
        "add" => add(doc, &path, value()?),
        "remove" => remove(doc, &path).map(|_| ()),
        "replace" => {
            let slot = get_mut(doc, &path)?;
            *slot = value()?;
            Ok(())
        }
        "move" => {
            let from = parse_pointer(str_field(op, "from")?)?;
            if path.len() > from.len() && path[..from.len()] == from[..] {
                return Err(PatchError("cannot move a value into itself".into()));
            }
            let v = remove(doc, &from)?;
            add(doc, &path, v)
        }
        "copy" => {
            let from = parse_pointer(str_field(op, "from")?)?;
            let v = get_mut(doc, &from)?.clone();
            add(doc, &path, v)
        }
        "test" => {
            let expected = value()?;
            if *get_mut(doc, &path)? == expected {
                Ok(())
            } else {
                Err(PatchError(format!("test failed at {}", str_field(op, "path")?)))
            }
        }
        other => Err(PatchError(format!("unknown operation {other:?}"))),
    }
}

/// Splits a JSON pointer into unescaped reference tokens.
pub fn parse_pointer(p: &str) -> Result<Vec<String>, PatchError> {
    if p.is_empty() {
        return Ok(Vec::new());
    }
    let rest = p
        .strip_prefix('/')
        .ok_or_else(|| PatchError(format!("invalid JSON pointer {p:?}")))?;
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn index(token: &str, len: usize, allow_end: bool) -> Result<usize, PatchError> {
    if allow_end && token == "-" {
        return Ok(len);
    }
    let bad = || PatchError(format!("invalid array index {token:?}"));
    if token.len() > 1 && token.starts_with('0') {
        return Err(bad());
    }
    let i: usize = token.parse().map_err(|_| bad())?;
    let max = if allow_end { len } else { len.saturating_sub(1) };
    if i > max || (!allow_end && len == 0) {
        return Err(PatchError(format!("array index {i} out of bounds")));
    }
    Ok(i)
}

fn get_mut<'a>(doc: &'a mut Value, path: &[String]) -> Result<&'a mut Value, PatchError> {
    let mut cur = doc;
    for t in path {
        cur = match cur {
            Value::Object(m) => m
                .get_mut(t)
                .ok_or_else(|| PatchError(format!("path element {t:?} not found")))?,
            Value::Array(a) => {
                let i = index(t, a.len(), false)?;
                &mut a[i]
            }
            _ => return Err(PatchError(format!("cannot descend into a scalar at {t:?}"))),
        };
    }
    Ok(cur)
}

fn add(doc: &mut Value, path: &[String], value: Value) -> Result<(), PatchError> {
    let Some((last, parent)) = path.split_last() else {
        *doc = value;
        return Ok(());
    };
    match get_mut(doc, parent)? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(a) => {
            let i = index(last, a.len(), true)?;
            a.insert(i, value);
            Ok(())
        }
        _ => Err(PatchError("cannot add a member to a scalar".into())),
    }
}

fn remove(doc: &mut Value, path: &[String]) -> Result<Value, PatchError> {
    let Some((last, parent)) = path.split_last() else {
        return Err(PatchError("cannot remove the whole document".into()));
    };
    match get_mut(doc, parent)? {
        Value::Object(m) => m
            .remove(last)
            .ok_or_else(|| PatchError(format!("path element {last:?} not found"))),
        Value::Array(a) => {
            let i = index(last, a.len(), false)?;
            Ok(a.remove(i))
        }
        _ => Err(PatchError("cannot remove a member of a scalar".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_patch_applies_every_operation_kind() {
        let doc = json!({"a": {"b": [1, 2]}, "c": "x"});
        let patch = json!([
            {"op": "add", "path": "/a/b/-", "value": 3},
            {"op": "add", "path": "/a/b/0", "value": 0},
            {"op": "replace", "path": "/c", "value": "y"},
            {"op": "copy", "from": "/c", "path": "/d"},
            {"op": "move", "from": "/d", "path": "/e~1f"},
            {"op": "remove", "path": "/a/b/1"},
            {"op": "test", "path": "/e~1f", "value": "y"},
        ]);
        assert_eq!(
            apply(&doc, &patch).unwrap(),
            json!({"a": {"b": [0, 2, 3]}, "c": "y", "e/f": "y"})
        );
    }

    #[test]
    fn a_failed_test_or_missing_path_rejects_the_whole_patch() {
        let doc = json!({"a": 1});
        assert!(apply(&doc, &json!([{"op": "test", "path": "/a", "value": 2}])).is_err());
        assert!(apply(&doc, &json!([{"op": "remove", "path": "/b"}])).is_err());
        assert!(apply(&doc, &json!([{"op": "replace", "path": "/x/y", "value": 1}])).is_err());
        assert!(apply(&doc, &json!({"op": "add"})).is_err());
        assert!(apply(&json!({"a": [1]}), &json!([{"op": "add", "path": "/a/5", "value": 1}])).is_err());
    }
}
