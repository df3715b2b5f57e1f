//! Server-side `Table` output (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`): the columns
//! `kubectl get` prints for each kind, with `-o wide` columns at priority 1.

use std::time::Duration;

use capstan_core::TypeKey;

use crate::discovery::ResourceInfo;
use capstan_core::k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

/// What a table row carries besides its cells (`includeObject`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// No object.
    None,
    /// The object's metadata as `PartialObjectMetadata` (the default).
    #[default]
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// Reads the `includeObject` query parameter.
    pub fn parse(s: Option<&str>) -> Self {
        match s {
            Some("None") => Self::None,
            Some("Object") => Self::Object,
            _ => Self::Metadata,
        }
    }
}

/// Whether an `Accept` header asks for a Table.
pub fn wants_table(accept: &str) -> bool {
    accept.split(',').next().is_some_and(|first| first.contains("as=Table"))
}

type Cell = fn(&Value) -> Value;

fn columns(type_key: &TypeKey) -> Vec<(&'static str, &'static str, u8, Cell)> {
    match (type_key.group.as_str(), type_key.kind.as_str()) {
        ("", "Pod") => vec![
            ("Name", "string", 0, name),
            ("Ready", "string", 0, pod_ready),
            ("Status", "string", 0, pod_status),
            ("Restarts", "string", 0, pod_restarts),
            ("Age", "string", 0, age),
            ("IP", "string", 1, |o| str_at(o, &["status", "podIP"], "<none>")),
            ("Node", "string", 1, |o| str_at(o, &["spec", "nodeName"], "<none>")),
        ],
        ("apps", "Deployment") => vec![
            ("Name", "string", 0, name),
            ("Ready", "string", 0, |o| {
                json!(format!(
                    "{}/{}",
                    int_at(o, &["status", "readyReplicas"]),
                    int_at(o, &["spec", "replicas"])
                ))
            }),
            ("Up-to-date", "integer", 0, |o| {
                json!(int_at(o, &["status", "updatedReplicas"]))
            }),
            ("Available", "integer", 0, |o| {
                json!(int_at(o, &["status", "availableReplicas"]))
            }),
            ("Age", "string", 0, age),
            ("Containers", "string", 1, containers),
            ("Images", "string", 1, images),
            ("Selector", "string", 1, selector),
        ],
        ("apps", "ReplicaSet") => vec![
            ("Name", "string", 0, name),
            ("Desired", "integer", 0, |o| json!(int_at(o, &["spec", "replicas"]))),
            ("Current", "integer", 0, |o| json!(int_at(o, &["status", "replicas"]))),
            ("Ready", "integer", 0, |o| {
                json!(int_at(o, &["status", "readyReplicas"]))
            }),
            ("Age", "string", 0, age),
            ("Containers", "string", 1, containers),
            ("Images", "string", 1, images),
            ("Selector", "string", 1, selector),
        ],
        ("", "Namespace") => vec![
            ("Name", "string", 0, name),
            ("Status", "string", 0, |o| str_at(o, &["status", "phase"], "Active")),
            ("Age", "string", 0, age),
        ],
        ("", "Node") => vec![
            ("Name", "string", 0, name),
            ("Status", "string", 0, node_status),
            ("Roles", "string", 0, |_| json!("<none>")),
            ("Age", "string", 0, age),
            ("Version", "string", 0, |o| {
                str_at(o, &["status", "nodeInfo", "kubeletVersion"], "")
            }),
            ("Internal-IP", "string", 1, |o| node_address(o, "InternalIP")),
            ("External-IP", "string", 1, |o| node_address(o, "ExternalIP")),
            ("OS-Image", "string", 1, |o| {
                str_at(o, &["status", "nodeInfo", "osImage"], "<unknown>")
            }),
            ("Kernel-Version", "string", 1, |o| {
                str_at(o, &["status", "nodeInfo", "kernelVersion"], "<unknown>")
            }),
            ("Container-Runtime", "string", 1, |o| {
                str_at(o, &["status", "nodeInfo", "containerRuntimeVersion"], "<unknown>")
            }),
        ],
        ("", "Event") => vec![
            ("Last Seen", "string", 0, |o| {
                let t = o["lastTimestamp"].as_str().or(o["eventTime"].as_str());
                json!(t.map(human_since).unwrap_or_else(|| "<unknown>".into()))
            }),
            ("Type", "string", 0, |o| str_at(o, &["type"], "")),
            ("Reason", "string", 0, |o| str_at(o, &["reason"], "")),
            ("Object", "string", 0, |o| {
                let kind = o["involvedObject"]["kind"].as_str().unwrap_or("").to_lowercase();
                json!(format!("{kind}/{}", o["involvedObject"]["name"].as_str().unwrap_or("")))
            }),
            ("Message", "string", 0, |o| str_at(o, &["message"], "")),
        ],
        ("coordination.k8s.io", "Lease") => vec![
            ("Name", "string", 0, name),
            ("Holder", "string", 0, |o| str_at(o, &["spec", "holderIdentity"], "")),
            ("Age", "string", 0, age),
        ],
        ("", "Service") => vec![
            ("Name", "string", 0, name),
            ("Type", "string", 0, |o| str_at(o, &["spec", "type"], "ClusterIP")),
            ("Cluster-IP", "string", 0, |o| {
                str_at(o, &["spec", "clusterIP"], "<none>")
            }),
            ("External-IP", "string", 0, service_external_ip),
            ("Port(s)", "string", 0, service_ports),
            ("Age", "string", 0, age),
            ("Selector", "string", 1, |o| {
                json!(labels_text(&o["spec"]["selector"], "<none>"))
            }),
        ],
        ("", "ConfigMap") => vec![
            ("Name", "string", 0, name),
            ("Data", "integer", 0, |o| {
                json!(map_len(&o["data"]) + map_len(&o["binaryData"]))
            }),
            ("Age", "string", 0, age),
        ],
        ("", "Secret") => vec![
            ("Name", "string", 0, name),
            ("Type", "string", 0, |o| str_at(o, &["type"], "Opaque")),
            ("Data", "integer", 0, |o| json!(map_len(&o["data"]))),
            ("Age", "string", 0, age),
        ],
        ("", "ServiceAccount") => vec![
            ("Name", "string", 0, name),
            ("Secrets", "integer", 0, |o| {
                json!(o["secrets"].as_array().map_or(0, Vec::len))
            }),
            ("Age", "string", 0, age),
        ],
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => vec![
            ("Name", "string", 0, name),
            ("Role", "string", 0, |o| {
                json!(format!(
                    "{}/{}",
                    o["roleRef"]["kind"].as_str().unwrap_or_default(),
                    o["roleRef"]["name"].as_str().unwrap_or_default()
                ))
            }),
            ("Age", "string", 0, age),
            ("Users", "string", 1, |o| json!(subjects_of(o, "User"))),
            ("Groups", "string", 1, |o| json!(subjects_of(o, "Group"))),
            ("ServiceAccounts", "string", 1, |o| {
                json!(subjects_of(o, "ServiceAccount"))
            }),
        ],
        _ => vec![("Name", "string", 0, name), ("Age", "string", 0, age)],
    }
}

/// A binding's subjects of `kind`, comma-separated (`namespace/name` for service accounts).
fn subjects_of(o: &Value, kind: &str) -> String {
    o["subjects"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["kind"] == kind)
        .map(|s| {
            let name = s["name"].as_str().unwrap_or_default();
            match s["namespace"].as_str() {
                Some(ns) if kind == "ServiceAccount" => format!("{ns}/{name}"),
                _ => name.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The number of entries of a JSON map (0 when absent).
fn map_len(v: &Value) -> usize {
    v.as_object().map_or(0, serde_json::Map::len)
}

/// `k=v,k=v` of a JSON string map, or `none` when empty.
fn labels_text(v: &Value, none: &str) -> String {
    let pairs: Vec<String> = v
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    if pairs.is_empty() {
        none.to_owned()
    } else {
        pairs.join(",")
    }
}

/// kubectl's EXTERNAL-IP column: the external name, external IPs or load-balancer ingress.
fn service_external_ip(o: &Value) -> Value {
    let spec = &o["spec"];
    if spec["type"] == "ExternalName" {
        return str_at(o, &["spec", "externalName"], "<none>");
    }
    let mut ips: Vec<String> = spec["externalIPs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|ip| ip.as_str().map(str::to_owned))
        .collect();
    for ingress in o["status"]["loadBalancer"]["ingress"].as_array().into_iter().flatten() {
        if let Some(addr) = ingress["ip"].as_str().or(ingress["hostname"].as_str()) {
            ips.push(addr.to_owned());
        }
    }
    match (ips.is_empty(), spec["type"].as_str()) {
        (false, _) => json!(ips.join(",")),
        (true, Some("LoadBalancer")) => json!("<pending>"),
        (true, _) => json!("<none>"),
    }
}

/// kubectl's PORT(S) column: `80/TCP`, `80:30080/TCP` with a node port, comma-separated.
fn service_ports(o: &Value) -> Value {
    let ports: Vec<String> = o["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let protocol = p["protocol"].as_str().unwrap_or("TCP");
            match p["nodePort"].as_i64() {
                Some(node) => format!("{}:{node}/{protocol}", p["port"]),
                None => format!("{}/{protocol}", p["port"]),
            }
        })
        .collect();
    json!(if ports.is_empty() {
        "<none>".to_owned()
    } else {
        ports.join(",")
    })
}

/// The first address of `kind` a Node reports (`<none>` without one), as kubectl's wide columns.
fn node_address(o: &Value, kind: &str) -> Value {
    let found = o["status"]["addresses"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["type"] == kind))
        .and_then(|x| x["address"].as_str());
    json!(found.unwrap_or("<none>"))
}

/// Renders objects as a `meta.k8s.io/v1` Table.
pub fn table(type_key: &TypeKey, objects: &[&Value], resource_version: &str, include: IncludeObject) -> Value {
    let cols = columns(type_key);
    let defs: Vec<Value> = cols
        .iter()
        .map(|(n, ty, prio, _)| {
            let format = if *n == "Name" { "name" } else { "" };
            json!({"name": n, "type": ty, "format": format, "description": "", "priority": prio})
        })
        .collect();
    let rows = cols_rows(objects, include, |o| cols.iter().map(|(_, _, _, f)| f(o)).collect());
    finish_table(defs, rows, resource_version)
}

/// Renders objects of any served kind as a Table: a custom kind gets `Name`, its CRD version's
/// `additionalPrinterColumns`, then `Age` (unless a column already shows `.metadata.creationTimestamp`).
pub fn table_for(info: &ResourceInfo, objects: &[&Value], resource_version: &str, include: IncludeObject) -> Value {
    let Some(custom) = &info.custom else {
        return table(&info.type_key, objects, resource_version, include);
    };
    let printer = &custom.printer_columns;
    let with_age = !printer.iter().any(|c| c.json_path == ".metadata.creationTimestamp");
    let mut defs = vec![json!({"name": "Name", "type": "string", "format": "name",
        "description": "Name must be unique within a namespace.", "priority": 0})];
    defs.extend(printer.iter().map(|c| {
        json!({"name": c.name, "type": c.type_, "format": c.format, "description": c.description, "priority": c.priority})
    }));
    if with_age {
        defs.push(json!({"name": "Age", "type": "date", "format": "", "description": "", "priority": 0}));
    }
    let rows = cols_rows(objects, include, |o| {
        let mut cells = vec![name(o)];
        cells.extend(printer.iter().map(|c| printer_cell(o, c)));
        if with_age {
            cells.push(age(o));
        }
        cells
    });
    finish_table(defs, rows, resource_version)
}

/// The value at a printer column's JSONPath (`.spec.message`, also written `{.spec.message}`; indexes,
/// quoted keys and filters as [`jsonpath`] describes), or `None`.
pub fn simple_json_path<'a>(o: &'a Value, path: &str) -> Option<&'a Value> {
    jsonpath::first_match(o, path)
}

/// One printer-column cell: dates as an age, scalars as they are, anything else as JSON text;
/// `null` (kubectl prints `<none>`) when the path finds nothing.
fn printer_cell(o: &Value, c: &crate::crd::PrinterColumn) -> Value {
    match simple_json_path(o, &c.json_path) {
        None => Value::Null,
        Some(Value::String(s)) if c.type_ == "date" => json!(human_since(s)),
        Some(v @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) => v.clone(),
        Some(other) => json!(other.to_string()),
    }
}

fn cols_rows(objects: &[&Value], include: IncludeObject, cells_of: impl Fn(&Value) -> Vec<Value>) -> Vec<Value> {
    objects
        .iter()
        .map(|o| {
            let cells = cells_of(o);
            let mut row = json!({"cells": cells});
            match include {
                IncludeObject::None => {}
                IncludeObject::Metadata => {
                    row["object"] = json!({
                        "kind": "PartialObjectMetadata",
                        "apiVersion": "meta.k8s.io/v1",
                        "metadata": o.get("metadata").cloned().unwrap_or(json!({})),
                    });
                }
                IncludeObject::Object => row["object"] = (*o).clone(),
            }
            row
        })
        .collect()
}

fn finish_table(defs: Vec<Value>, rows: Vec<Value>, resource_version: &str) -> Value {
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": defs,
        "rows": rows,
    })
}

fn str_at(o: &Value, path: &[&str], default: &str) -> Value {
    let mut cur = o;
    for p in path {
        cur = &cur[*p];
    }
    json!(cur.as_str().filter(|s| !s.is_empty()).unwrap_or(default))
}

fn int_at(o: &Value, path: &[&str]) -> i64 {
    let mut cur = o;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_i64().unwrap_or(0)
}

fn name(o: &Value) -> Value {
    json!(o["metadata"]["name"].as_str().unwrap_or(""))
}

fn age(o: &Value) -> Value {
    json!(match o["metadata"]["creationTimestamp"].as_str() {
        Some(t) => human_since(t),
        None => "<unknown>".into(),
    })
}

fn pod_ready(o: &Value) -> Value {
    let total = o["spec"]["containers"].as_array().map_or(0, Vec::len);
    let ready = o["status"]["containerStatuses"]
        .as_array()
        .map_or(0, |cs| cs.iter().filter(|c| c["ready"].as_bool() == Some(true)).count());
    json!(format!("{ready}/{total}"))
}

fn pod_status(o: &Value) -> Value {
    if o["metadata"]["deletionTimestamp"].is_string() {
        return json!("Terminating");
    }
    let waiting = o["status"]["containerStatuses"].as_array().and_then(|cs| {
        cs.iter()
            .find_map(|c| c["state"]["waiting"]["reason"].as_str().filter(|r| !r.is_empty()))
    });
    if let Some(reason) = o["status"]["reason"].as_str().or(waiting) {
        return json!(reason);
    }
    str_at(o, &["status", "phase"], "Pending")
}

fn pod_restarts(o: &Value) -> Value {
    let n: i64 = o["status"]["containerStatuses"]
        .as_array()
        .map_or(0, |cs| cs.iter().map(|c| c["restartCount"].as_i64().unwrap_or(0)).sum());
    json!(n.to_string())
}

fn node_status(o: &Value) -> Value {
    let ready = o["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
        .map(|c| c["status"] == "True");
    let mut s = if ready == Some(true) { "Ready" } else { "NotReady" }.to_owned();
    if o["spec"]["unschedulable"].as_bool() == Some(true) {
        s.push_str(",SchedulingDisabled");
    }
    json!(s)
}

fn template_containers(o: &Value) -> Vec<&Value> {
    o["spec"]["template"]["spec"]["containers"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

fn containers(o: &Value) -> Value {
    let names: Vec<&str> = template_containers(o)
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    json!(names.join(","))
}

fn images(o: &Value) -> Value {
    let names: Vec<&str> = template_containers(o)
        .iter()
        .filter_map(|c| c["image"].as_str())
        .collect();
    json!(names.join(","))
}

fn selector(o: &Value) -> Value {
    let mut parts: Vec<String> = Vec::new();
    if let Some(m) = o["spec"]["selector"]["matchLabels"].as_object() {
        parts.extend(m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))));
    }
    if let Some(exprs) = o["spec"]["selector"]["matchExpressions"].as_array() {
        for e in exprs {
            let vals: Vec<&str> = e["values"]
                .as_array()
                .map(|v| v.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let key = e["key"].as_str().unwrap_or("");
            parts.push(match e["operator"].as_str().unwrap_or("") {
                "In" => format!("{key} in ({})", vals.join(",")),
                "NotIn" => format!("{key} notin ({})", vals.join(",")),
                "Exists" => key.to_owned(),
                _ => format!("!{key}"),
            });
        }
    }
    json!(if parts.is_empty() {
        "<none>".to_owned()
    } else {
        parts.join(",")
    })
}

fn human_since(t: &str) -> String {
    match t.parse::<Timestamp>() {
        Ok(ts) => human_duration(capstan_store::clock::since(ts)),
        Err(_) => "<unknown>".into(),
    }
}

/// Formats a duration as kubectl does for AGE: `45s`, `3m20s`, `25m`, `5h3m`, `3d4h`, `40d`, `2y`.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    let (m, h, days) = (s / 60, s / 3600, s / 86_400);
    if s < 120 {
        format!("{s}s")
    } else if m < 10 {
        if s.is_multiple_of(60) {
            format!("{m}m")
        } else {
            format!("{m}m{}s", s % 60)
        }
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        if m.is_multiple_of(60) {
            format!("{h}h")
        } else {
            format!("{h}h{}m", m % 60)
        }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        if h.is_multiple_of(24) {
            format!("{days}d")
        } else {
            format!("{days}d{}h", h % 24)
        }
    } else if days < 365 * 2 {
        format!("{days}d")
    } else if days < 365 * 8 {
        format!("{}y{}d", days / 365, days % 365)
    } else {
        format!("{}y", days / 365)
    }
}

pub mod jsonpath;

#[cfg(test)]
mod tests;
