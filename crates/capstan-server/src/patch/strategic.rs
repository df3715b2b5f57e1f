//! Strategic merge patch, as kubectl sends it for built-in kinds.
//!
//! Maps merge as in a JSON merge patch. Lists named in [`merge_key`] merge element by element on their
//! key (containers by `name`, ports by `containerPort`, conditions by `type`, ...); primitive lists in
//! [`is_merged_set`] are unions; every other list is replaced. The directives `$patch: replace|delete|merge`,
//! `$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>` and `$retainKeys` are honoured.

use serde_json::{Map, Value};

use super::PatchError;

/// The merge key of a list field, by its field name, as the Kubernetes types declare it.
pub fn merge_key(field: &str) -> Option<&'static str> {
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "resourceClaims"
        | "containerStatuses"
        | "initContainerStatuses"
        | "ephemeralContainerStatuses" => "name",
        "ports" => "containerPort",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "conditions" => "type",
        "ownerReferences" => "uid",
        "hostAliases" => "ip",
        "topologySpreadConstraints" => "topologyKey",
        "readinessGates" => "conditionType",
        "podIPs" | "hostIPs" => "ip",
        "addresses" => "type",
        _ => return None,
    })
}

/// Whether a primitive list field merges as a set (`patchStrategy: merge` without a key).
pub fn is_merged_set(field: &str) -> bool {
    field == "finalizers"
}

const SET_ORDER: &str = "$setElementOrder/";
const DELETE_PRIMITIVE: &str = "$deleteFromPrimitiveList/";

/// Applies a strategic merge patch to `target`.
pub fn apply(target: &Value, patch: &Value) -> Result<Value, PatchError> {
    let Value::Object(p) = patch else {
        return Err(PatchError("a strategic merge patch must be a JSON object".into()));
    };
    let t = match target {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    Ok(merge_map(t, p)?.unwrap_or(Value::Null))
}

/// Merges patch map `p` into `t`. `Ok(None)` means the map is deleted (`$patch: delete`).
fn merge_map(mut t: Map<String, Value>, p: &Map<String, Value>) -> Result<Option<Value>, PatchError> {
    match p.get("$patch").and_then(Value::as_str) {
        Some("delete") => return Ok(None),
        Some("replace") => {
            let mut out = p.clone();
            out.remove("$patch");
            return Ok(Some(Value::Object(out)));
        }
        Some("merge") | None => {}
        Some(other) => return Err(PatchError(format!("unknown $patch directive {other:?}"))),
    }
    let mut orders: Vec<(String, Vec<Value>)> = Vec::new();
    for (k, v) in p {
        if k == "$patch" || k == "$retainKeys" {
            continue;
        }
        if let Some(field) = k.strip_prefix(SET_ORDER) {
            if let Value::Array(a) = v {
                orders.push((field.to_owned(), a.clone()));
            }
            continue;
        }
        if let Some(field) = k.strip_prefix(DELETE_PRIMITIVE) {
            if let (Some(Value::Array(cur)), Value::Array(del)) = (t.get_mut(field), v) {
                cur.retain(|x| !del.contains(x));
            }
            continue;
        }
        if v.is_null() {
            t.remove(k);
            continue;
        }
        let merged = match (t.remove(k), v) {
            (Some(Value::Object(tm)), Value::Object(pm)) => merge_map(tm, pm)?,
            (None, Value::Object(pm)) => merge_map(Map::new(), pm)?,
            (Some(Value::Array(ta)), Value::Array(pa)) => Some(merge_list(k, ta, pa)?),
            (None, Value::Array(pa)) => Some(merge_list(k, Vec::new(), pa)?),
            (_, other) => Some(other.clone()),
        };
        if let Some(m) = merged {
            t.insert(k.clone(), m);
        }
    }
    for (field, order) in orders {
        if let Some(Value::Array(items)) = t.get_mut(&field) {
            reorder(&field, items, &order);
        }
    }
    if let Some(Value::Array(keep)) = p.get("$retainKeys") {
        let keep: Vec<&str> = keep.iter().filter_map(Value::as_str).collect();
        t.retain(|k, _| keep.contains(&k.as_str()));
    }
    Ok(Some(Value::Object(t)))
}

fn directive(v: &Value) -> Option<&str> {
    v.get("$patch").and_then(Value::as_str)
}

fn merge_list(field: &str, mut t: Vec<Value>, p: &[Value]) -> Result<Value, PatchError> {
    if p.iter().any(|v| directive(v) == Some("replace")) {
        return Ok(Value::Array(
            p.iter().filter(|v| directive(v).is_none()).cloned().collect(),
        ));
    }
    if let Some(key) = merge_key(field)
        && p.iter().all(Value::is_object)
        && t.iter().all(Value::is_object)
    {
        {
            for item in p {
                let id = item.get(key);
                let pos = id.and_then(|id| t.iter().position(|x| x.get(key) == Some(id)));
                let Value::Object(pm) = item else { continue };
                match (directive(item), pos) {
                    (Some("delete"), Some(i)) => {
                        t.remove(i);
                    }
                    (Some("delete"), None) => {}
                    (_, Some(i)) => {
                        let existing = match t.remove(i) {
                            Value::Object(m) => m,
                            _ => Map::new(),
                        };
                        if let Some(m) = merge_map(existing, pm)? {
                            t.insert(i, m);
                        }
                    }
                    (_, None) => {
                        if let Some(m) = merge_map(Map::new(), pm)? {
                            t.push(m);
                        }
                    }
                }
            }
            return Ok(Value::Array(t));
        }
    }
    if is_merged_set(field) {
        for v in p {
            if !t.contains(v) {
                t.push(v.clone());
            }
        }
        return Ok(Value::Array(t));
    }
    Ok(Value::Array(p.to_vec()))
}

/// Orders `items` as `order` says (by merge key for object lists, by value for primitives); items
/// not in `order` keep their relative order after the ordered ones.
fn reorder(field: &str, items: &mut [Value], order: &[Value]) {
    let key = merge_key(field);
    let id_of = |v: &Value| -> Value {
        match key {
            Some(k) => v.get(k).cloned().unwrap_or(Value::Null),
            None => v.clone(),
        }
    };
    let order_ids: Vec<Value> = order.iter().map(&id_of).collect();
    let rank = |v: &Value| order_ids.iter().position(|o| *o == id_of(v)).unwrap_or(usize::MAX);
    items.sort_by_key(|v| rank(v));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Value {
        json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "nginx:1", "env": [{"name": "A", "value": "1"}], "ports": [{"containerPort": 80}]},
            {"name": "side", "image": "busybox"}
        ]}}}, "metadata": {"finalizers": ["a"]}})
    }

    #[test]
    fn containers_merge_by_name_and_keep_the_others() {
        let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:2"}]}}}});
        let out = apply(&deployment(), &patch).unwrap();
        let cs = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(cs[0]["image"], "nginx:2");
        assert_eq!(cs[0]["env"][0]["value"], "1");
        assert_eq!(cs[1]["name"], "side");
    }

    #[test]
    fn delete_and_replace_directives_and_element_order_are_honoured() {
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "side"}, {"name": "new"}],
            "containers": [{"name": "app", "$patch": "delete"}, {"name": "new", "image": "x"}]
        }}}, "metadata": {"finalizers": ["b"]}});
        let out = apply(&deployment(), &patch).unwrap();
        let cs = out["spec"]["template"]["spec"]["containers"].as_array().unwrap();
        let names: Vec<&str> = cs.iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["side", "new"]);
        assert_eq!(out["metadata"]["finalizers"], json!(["a", "b"]));
        let replace =
            json!({"spec": {"template": {"spec": {"containers": [{"$patch": "replace"}, {"name": "only"}]}}}});
        let out = apply(&deployment(), &replace).unwrap();
        assert_eq!(out["spec"]["template"]["spec"]["containers"], json!([{"name": "only"}]));
    }

    #[test]
    fn env_merges_by_name_ports_by_container_port_and_null_removes() {
        let patch = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "env": [{"name": "B", "value": "2"}], "ports": [{"containerPort": 80, "name": "http"}]}
        ]}}}, "metadata": {"finalizers": null}});
        let out = apply(&deployment(), &patch).unwrap();
        let c = &out["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["env"].as_array().unwrap().len(), 2);
        assert_eq!(c["ports"], json!([{"containerPort": 80, "name": "http"}]));
        assert!(out["metadata"].get("finalizers").is_none());
    }
}
