//! What `capstan get` prints (a table rendered from the objects, YAML or JSON) and how store
//! errors read on one line, as kubectl words them.

use std::io::Write;

use anyhow::anyhow;
use capstan_core::TypeKey;
use capstan_server::table::{IncludeObject, table};
use capstan_store::StoreError;
use serde_json::Value;

/// How `get` prints objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The kind's columns, as `kubectl get` shows them.
    Table,
    /// Each object (or list) as YAML.
    Yaml,
    /// Each object (or list) as indented JSON.
    Json,
}

impl Format {
    /// Reads `-o`: none is a table; `yaml` and `json` are the other choices.
    pub fn parse(output: Option<&str>) -> anyhow::Result<Self> {
        match output {
            None => Ok(Self::Table),
            Some("yaml") => Ok(Self::Yaml),
            Some("json") => Ok(Self::Json),
            Some(other) => Err(anyhow!("unknown output format {other:?} (use yaml or json)")),
        }
    }
}

/// Prints one document (an object or a list) as YAML or JSON.
pub fn print_value(out: &mut dyn Write, v: &Value, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(v)?)?,
        Format::Yaml => write!(out, "{}", serde_saphyr::to_string(v)?)?,
        Format::Table => return Err(anyhow!("a table is printed from objects, not from one document")),
    }
    Ok(())
}

/// Prints objects of kind `type_key` in the kind's columns (those `kubectl get` shows without `-o
/// wide`), with a header line when `headers`, and a leading NAMESPACE column when
/// `namespace_column`.
pub fn print_table(
    out: &mut dyn Write,
    type_key: &TypeKey,
    objects: &[&Value],
    headers: bool,
    namespace_column: bool,
) -> anyhow::Result<()> {
    let rendered = table(type_key, objects, "", IncludeObject::Metadata);
    let cols: Vec<(usize, String)> = rendered["columnDefinitions"]
        .as_array()
        .map(|c| {
            c.iter()
                .enumerate()
                .filter(|(_, d)| d["priority"].as_i64().unwrap_or(0) == 0)
                .map(|(i, d)| (i, d["name"].as_str().unwrap_or("").to_uppercase()))
                .collect()
        })
        .unwrap_or_default();
    let mut rows: Vec<Vec<String>> = Vec::new();
    if headers {
        let mut h: Vec<String> = cols.iter().map(|(_, n)| n.clone()).collect();
        if namespace_column {
            h.insert(0, "NAMESPACE".into());
        }
        rows.push(h);
    }
    for row in rendered["rows"].as_array().into_iter().flatten() {
        let mut cells: Vec<String> = cols
            .iter()
            .map(|(i, _)| match &row["cells"][*i] {
                Value::String(s) => s.clone(),
                Value::Null => "<none>".into(),
                other => other.to_string(),
            })
            .collect();
        if namespace_column {
            let ns = row["object"]["metadata"]["namespace"].as_str().unwrap_or("");
            cells.insert(0, ns.to_owned());
        }
        rows.push(cells);
    }
    let widths: Vec<usize> = (0..rows.first().map_or(0, Vec::len))
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    for r in rows {
        let line: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        writeln!(out, "{}", line.join("   ").trim_end())?;
    }
    Ok(())
}

/// `deployments.apps`, or `pods` for the core group, as Kubernetes names a resource in messages.
pub fn resource_name(t: &TypeKey) -> String {
    if t.group.is_empty() {
        t.plural.clone()
    } else {
        format!("{}.{}", t.plural, t.group)
    }
}

/// `deployment.apps/my-app`, or `pod/web`, as kubectl names an object it acted on.
pub fn object_label(t: &TypeKey, name: &str) -> String {
    format!("{}/{name}", capstan_server::status::qualified(t).to_lowercase())
}

/// A store error as one line in kubectl's words (`Error from server (NotFound): deployments.apps
/// "web" not found`); an `Invalid` error lists every field that failed.
pub fn explain(e: &StoreError) -> anyhow::Error {
    let message = match e {
        StoreError::NotFound { type_key, key } if key.name.is_empty() => {
            format!("Error from server (NotFound): {} not found", resource_name(type_key))
        }
        StoreError::NotFound { type_key, key } => format!(
            "Error from server (NotFound): {} \"{}\" not found",
            resource_name(type_key),
            key.name
        ),
        StoreError::AlreadyExists { type_key, key } => format!(
            "Error from server (AlreadyExists): {} \"{}\" already exists",
            resource_name(type_key),
            key.name
        ),
        StoreError::Conflict { type_key, key, message } => format!(
            "Error from server (Conflict): Operation cannot be fulfilled on {} \"{}\": {message}",
            resource_name(type_key),
            key.name
        ),
        StoreError::Invalid(invalid) => format!("Error from server (Invalid): {invalid}"),
        StoreError::Unavailable(m) => format!("API server unavailable: {m}"),
        other => format!("Error from server ({}): {other}", other.reason()),
    };
    anyhow!(message)
}

#[cfg(test)]
mod tests {
    use capstan_core::{FieldError, Invalid, ObjectKey};
    use serde_json::json;

    use super::*;

    fn deployments() -> TypeKey {
        TypeKey::new("apps", "v1", "Deployment", "deployments", true)
    }

    #[test]
    fn store_errors_read_as_kubectl_words_them_on_one_line() {
        let not_found = StoreError::NotFound {
            type_key: deployments(),
            key: ObjectKey::new("default", "nope"),
        };
        assert_eq!(
            explain(&not_found).to_string(),
            "Error from server (NotFound): deployments.apps \"nope\" not found"
        );
        let invalid = StoreError::Invalid(Invalid {
            qualified_kind: "Deployment.apps".into(),
            name: "web".into(),
            errors: vec![
                FieldError::invalid("spec.replicas", "-1", "must be greater than or equal to 0"),
                FieldError::required("spec.selector", ""),
            ],
        });
        let text = explain(&invalid).to_string();
        assert!(
            text.starts_with("Error from server (Invalid): Deployment.apps \"web\" is invalid"),
            "{text}"
        );
        assert!(
            text.contains("spec.replicas") && text.contains("spec.selector"),
            "{text}"
        );
        assert!(!text.contains('\n'), "{text}");
        let down = StoreError::Unavailable("https://127.0.0.1:1: connecting: Connection refused".into());
        assert!(explain(&down).to_string().contains("Connection refused"));
    }

    #[test]
    fn tables_show_the_default_columns_and_an_optional_namespace_column() {
        let o = json!({"metadata": {"name": "my-app", "namespace": "team-a"},
            "spec": {"replicas": 2}, "status": {"readyReplicas": 1}});
        let mut out = Vec::new();
        print_table(&mut out, &deployments(), &[&o], true, true).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("NAMESPACE   NAME"), "{text}");
        assert!(
            lines[0].contains("UP-TO-DATE") && !lines[0].contains("IMAGES"),
            "{text}"
        );
        assert!(lines[1].starts_with("team-a") && lines[1].contains("my-app") && lines[1].contains("1/2"));
        assert!(Format::parse(Some("wide")).is_err());
        assert_eq!(object_label(&deployments(), "x"), "deployment.apps/x");
    }
}
