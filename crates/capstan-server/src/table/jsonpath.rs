//! The JSONPath that CRD printer columns (`additionalPrinterColumns[].jsonPath`) use, as kubectl
//! writes it: `.spec.message`, array indexes (`.spec.items[0].name`, `[-1]`), wildcards
//! (`.spec.items[*].name`), quoted or escaped keys (`.metadata.labels['app.kubernetes.io/name']`,
//! `.metadata.labels.app\.kubernetes\.io/name`) and filters (`.status.conditions[?(@.type=="Ready")].status`,
//! also `!=` and a bare `@.field` for "present"). A column shows the first value found.

use serde_json::Value;

/// One step of a path.
enum Step {
    Key(String),
    Index(i64),
    All,
    Filter { path: String, op: Op },
}

/// A filter's test on the value at its path.
enum Op {
    Present,
    Eq(String),
    Ne(String),
}

/// The first non-null value `path` finds in `o`, or `None` (also for a path it cannot parse).
pub fn first_match<'a>(o: &'a Value, path: &str) -> Option<&'a Value> {
    let p = path.trim();
    let p = p.strip_prefix('{').and_then(|x| x.strip_suffix('}')).unwrap_or(p);
    let mut rest = p.strip_prefix('$').unwrap_or(p);
    let mut current = vec![o];
    while !rest.is_empty() {
        let (step, tail) = next_step(rest)?;
        current = current.into_iter().flat_map(|v| apply(v, &step)).collect();
        rest = tail;
    }
    current.into_iter().find(|v| !v.is_null())
}

/// Removes the escapes of a key: `\.` is a dot inside the key.
fn unescape(key: &str) -> String {
    key.replace("\\.", ".")
}

fn next_step(s: &str) -> Option<(Step, &str)> {
    if let Some(r) = s.strip_prefix('.') {
        if r.starts_with('[') {
            return next_step(r);
        }
        let mut end = r.len();
        let mut escaped = false;
        for (i, c) in r.char_indices() {
            match c {
                '\\' if !escaped => escaped = true,
                '.' | '[' if !escaped => {
                    end = i;
                    break;
                }
                _ => escaped = false,
            }
        }
        let key = &r[..end];
        let step = match key {
            "" => return None,
            "*" => Step::All,
            k => Step::Key(unescape(k)),
        };
        return Some((step, &r[end..]));
    }
    let r = s.strip_prefix('[')?;
    if let Some(f) = r.strip_prefix("?(") {
        let close = f.find(")]")?;
        return Some((filter(&f[..close])?, &f[close + 2..]));
    }
    for quote in ['\'', '"'] {
        if let Some(q) = r.strip_prefix(quote) {
            let close = q.find(&format!("{quote}]"))?;
            return Some((Step::Key(unescape(&q[..close])), &q[close + 2..]));
        }
    }
    let close = r.find(']')?;
    let inner = r[..close].trim();
    let step = if inner == "*" {
        Step::All
    } else {
        Step::Index(inner.parse().ok()?)
    };
    Some((step, &r[close + 1..]))
}

/// Parses a filter's body: `@.path`, `@.path==value` or `@.path!=value` (value quoted or not).
fn filter(body: &str) -> Option<Step> {
    let body = body.trim();
    let (lhs, op) = if let Some((l, v)) = body.split_once("==") {
        (l, Op::Eq(literal(v)))
    } else if let Some((l, v)) = body.split_once("!=") {
        (l, Op::Ne(literal(v)))
    } else {
        (body, Op::Present)
    };
    let path = lhs.trim().strip_prefix('@')?.to_owned();
    Some(Step::Filter { path, op })
}

fn literal(v: &str) -> String {
    let v = v.trim();
    for quote in ['\'', '"'] {
        if let Some(inner) = v.strip_prefix(quote).and_then(|x| x.strip_suffix(quote)) {
            return inner.to_owned();
        }
    }
    v.to_owned()
}

/// A scalar as the text a filter compares with.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn apply<'a>(v: &'a Value, step: &Step) -> Vec<&'a Value> {
    match step {
        Step::Key(k) => v.get(k.as_str()).into_iter().collect(),
        Step::Index(i) => {
            let Some(items) = v.as_array() else { return Vec::new() };
            let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
            let at = if *i < 0 { len + i } else { *i };
            usize::try_from(at)
                .ok()
                .and_then(|at| items.get(at))
                .into_iter()
                .collect()
        }
        Step::All => match v {
            Value::Array(items) => items.iter().collect(),
            Value::Object(map) => map.values().collect(),
            _ => Vec::new(),
        },
        Step::Filter { path, op } => {
            let Some(items) = v.as_array() else { return Vec::new() };
            items
                .iter()
                .filter(|item| {
                    let found = if path.is_empty() {
                        Some(*item)
                    } else {
                        first_match(item, path)
                    };
                    match (op, found) {
                        (Op::Present, found) => found.is_some(),
                        (Op::Eq(want), Some(f)) => text(f) == *want,
                        (Op::Ne(want), Some(f)) => text(f) != *want,
                        (Op::Eq(_), None) => false,
                        (Op::Ne(_), None) => true,
                    }
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object() -> Value {
        json!({
            "metadata": {"labels": {"app.kubernetes.io/name": "web"}},
            "spec": {"items": [{"name": "a", "n": 1}, {"name": "b", "n": 2}], "message": "hi"},
            "status": {"conditions": [
                {"type": "Progressing", "status": "True"},
                {"type": "Ready", "status": "False", "reason": "Waiting"},
            ]},
        })
    }

    #[test]
    fn printer_column_paths_read_indexes_wildcards_and_negative_indexes() {
        let o = object();
        assert_eq!(first_match(&o, ".spec.message"), Some(&json!("hi")));
        assert_eq!(first_match(&o, "{.spec.items[0].name}"), Some(&json!("a")));
        assert_eq!(first_match(&o, ".spec.items[-1].name"), Some(&json!("b")));
        assert_eq!(first_match(&o, ".spec.items[*].n"), Some(&json!(1)));
        assert_eq!(first_match(&o, ".spec.items[5].name"), None);
        assert_eq!(first_match(&o, "$.spec.message"), Some(&json!("hi")));
    }

    #[test]
    fn printer_column_paths_read_dotted_keys_quoted_or_escaped() {
        let o = object();
        assert_eq!(
            first_match(&o, ".metadata.labels['app.kubernetes.io/name']"),
            Some(&json!("web"))
        );
        assert_eq!(
            first_match(&o, r#".metadata.labels["app.kubernetes.io/name"]"#),
            Some(&json!("web"))
        );
        assert_eq!(
            first_match(&o, r".metadata.labels.app\.kubernetes\.io/name"),
            Some(&json!("web"))
        );
    }

    #[test]
    fn printer_column_filters_pick_the_matching_condition() {
        let o = object();
        assert_eq!(
            first_match(&o, r#".status.conditions[?(@.type=="Ready")].status"#),
            Some(&json!("False"))
        );
        assert_eq!(
            first_match(&o, ".status.conditions[?(@.type=='Ready')].reason"),
            Some(&json!("Waiting"))
        );
        assert_eq!(
            first_match(&o, r#".status.conditions[?(@.type!="Progressing")].type"#),
            Some(&json!("Ready"))
        );
        assert_eq!(
            first_match(&o, ".status.conditions[?(@.reason)].type"),
            Some(&json!("Ready"))
        );
        assert_eq!(first_match(&o, r#".status.conditions[?(@.type=="Gone")].status"#), None);
    }

    #[test]
    fn unparseable_paths_find_nothing_instead_of_failing() {
        let o = object();
        for bad in [
            "..spec",
            ".spec.items[x]",
            ".spec.items[0",
            ".status.conditions[?(@.type==\"Ready\"",
        ] {
            assert_eq!(first_match(&o, bad), None, "{bad}");
        }
    }
}
