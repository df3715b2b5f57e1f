//! Unit tests of manifest parsing.

use super::*;

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx
";

#[test]
fn documents_keep_their_index_and_start_line_and_empty_ones_are_counted() {
    let text = "# leading comment\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n---\n\n  # c\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n";
    let docs = parse_documents(text).unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!((docs[0].index, docs[0].line), (0, 3));
    assert_eq!((docs[1].index, docs[1].line), (3, 11));
}

#[test]
fn json_input_parses_as_one_document() {
    let objs = parse_manifests(r#"{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}"#).unwrap();
    assert_eq!(objs[0].meta().name.as_deref(), Some("x"));
}

#[test]
fn inline_content_after_the_marker_belongs_to_the_document() {
    let docs = parse_documents("--- {a: 1}\n--- {b: 2}\n").unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[1].value, serde_json::json!({"b": 2}));
    assert_eq!((docs[1].index, docs[1].line), (1, 2));
}

#[test]
fn syntax_errors_name_the_document_and_the_absolute_line() {
    let text = format!("{DEPLOYMENT}---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: [unclosed\n");
    let e = parse_manifests(&text).unwrap_err();
    assert_eq!(e.index, 1, "{e}");
    assert!(e.line >= 18, "{e}");
    assert!(e.reason.contains("invalid YAML"), "{e}");
}

#[test]
fn unknown_kinds_and_missing_fields_are_reported_with_the_document_start() {
    let text = format!("{DEPLOYMENT}---\n\napiVersion: example.com/v1\nkind: Greeting\n");
    let e = parse_manifests(&text).unwrap_err();
    assert_eq!((e.index, e.line), (1, 17));
    assert!(e.reason.contains("unknown kind \"Greeting\""), "{e}");
    let e = parse_manifests("kind: Pod\n").unwrap_err();
    assert!(e.reason.contains("missing `apiVersion`"), "{e}");
    let e = parse_manifests("apiVersion: v1\n").unwrap_err();
    assert!(e.reason.contains("missing `kind`"), "{e}");
    let e = parse_manifests("- a\n- b\n").unwrap_err();
    assert!(e.reason.contains("expected a mapping"), "{e}");
    let e = parse_manifests("apiVersion: apps/v1\nkind: Deployment\nspec: {replicas: three}\n").unwrap_err();
    assert!(e.reason.contains("invalid Deployment"), "{e}");
}

#[test]
fn empty_manifests_have_no_objects() {
    for text in ["", "\n\n", "# nothing\n", "---\n---\n", "~\n"] {
        let e = parse_manifests(text).unwrap_err();
        assert!(e.reason.contains("no objects"), "{text:?}: {e}");
    }
}

#[test]
fn lists_contribute_their_items() {
    let text = r#"{"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "b"}}]}"#;
    assert_eq!(parse_manifests(text).unwrap().len(), 2);
    let bad = r#"{"apiVersion": "v1", "kind": "List", "items": [{"kind": "Namespace"}]}"#;
    assert!(parse_manifests(bad).unwrap_err().reason.starts_with("items[0]: "));
}

#[test]
fn duplicate_keys_and_directives() {
    assert!(parse_documents("a: 1\na: 2\n").is_err());
    let docs = parse_documents("%YAML 1.2\n---\na: 1\n").unwrap();
    assert_eq!((docs[0].index, docs[0].line), (0, 3));
}

#[test]
fn non_utf8_bytes_are_rejected_with_their_line() {
    let e = parse_manifest_bytes(b"a: 1\nb: \xff\xfe\n").unwrap_err();
    assert_eq!(e.line, 2);
    assert!(e.reason.contains("not UTF-8"));
}
