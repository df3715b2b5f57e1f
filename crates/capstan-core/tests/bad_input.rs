//! Bad manifest input gives a clear error naming the document and line: never a panic, never
//! unbounded memory.

use capstan_core::manifest::{MAX_DOCUMENT_BYTES, MAX_MANIFEST_BYTES};
use capstan_core::{parse_manifest_bytes, parse_manifests};

#[test]
fn an_empty_file_has_no_objects() {
    let e = parse_manifests("").unwrap_err();
    assert_eq!((e.index, e.line), (0, 1));
    assert!(e.to_string().contains("no objects"), "{e}");
}

#[test]
fn binary_garbage_is_rejected() {
    // Not UTF-8 at all.
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let e = parse_manifest_bytes(&garbage).unwrap_err();
    assert!(e.reason.contains("not UTF-8"), "{e}");
    // Valid UTF-8 but control characters and junk.
    let e = parse_manifests("\u{0}\u{1}\u{7f}@@@ ::: [[[ }}}").unwrap_err();
    assert_eq!(e.index, 0, "{e}");
}

#[test]
fn a_ten_mib_document_is_refused_by_size() {
    let doc = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: big}}\ndata:\n  blob: \"{}\"\n",
        "x".repeat(10 * 1024 * 1024)
    );
    let e = parse_manifests(&doc).unwrap_err();
    assert_eq!((e.index, e.line), (0, 1));
    assert!(e.reason.contains("more than the limit"), "{e}");
    assert!(doc.len() > MAX_DOCUMENT_BYTES && doc.len() < MAX_MANIFEST_BYTES);
    // The second document of a file is the one named.
    let two = format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: a}}\n---\n{doc}");
    let e = parse_manifests(&two).unwrap_err();
    assert_eq!((e.index, e.line), (1, 5));
}

#[test]
fn a_file_over_the_total_limit_is_refused_before_parsing() {
    let doc = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n";
    let text = doc.repeat(MAX_MANIFEST_BYTES / doc.len() + 1);
    let e = parse_manifests(&text).unwrap_err();
    assert!(e.reason.contains("16 MiB"), "{e}");
}

#[test]
fn deeply_nested_yaml_is_refused_by_depth() {
    let depth = 100_000;
    let flow = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let e = parse_manifests(&flow).unwrap_err();
    assert_eq!(e.index, 0);
    let maps = format!("{}1{}", "{a: ".repeat(depth), "}".repeat(depth));
    assert!(parse_manifests(&maps).is_err());
    let json = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
    assert!(parse_manifests(&json).is_err());
    let mut block = String::new();
    for i in 0..200 {
        block.push_str(&" ".repeat(i));
        block.push_str("a:\n");
    }
    let e = parse_manifests(&block).unwrap_err();
    assert!(e.to_string().contains("document 0"), "{e}");
}

#[test]
fn alias_bombs_are_refused() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let p = i - 1;
        text.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    assert!(parse_manifests(&text).is_err());
}

#[test]
fn unknown_kinds_name_the_kind_and_the_document() {
    let text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: example.com/v1\nkind: Greeting\nmetadata: {name: hi}\n";
    let e = parse_manifests(text).unwrap_err();
    assert_eq!((e.index, e.line), (1, 5));
    assert_eq!(
        e.to_string(),
        "document 1 (line 5): unknown kind \"Greeting\" in apiVersion \"example.com/v1\""
    );
}

#[test]
fn malformed_yaml_names_the_line_of_the_error() {
    let text = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n   bad: indentation\n";
    let e = parse_manifests(text).unwrap_err();
    assert_eq!(e.index, 0);
    assert!((4..=5).contains(&e.line), "{e}");
    assert!(e.reason.starts_with("invalid YAML"), "{e}");
}
