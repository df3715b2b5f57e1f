//! Manifests: multi-document YAML or JSON files parsed into typed built-in objects.
//!
//! A manifest is what `kubectl apply -f` reads: YAML documents separated by `---` lines, or one
//! JSON object (JSON is YAML's flow style, so the same parser reads it). Each document becomes a
//! [`Document`] (its index, start line and JSON value); [`parse_manifests`] then types each one by
//! `apiVersion` and `kind` into an [`Object`]. A `v1 List` document contributes its `items`.
//!
//! Scalars follow YAML 1.2's core schema: only `true`/`false` are booleans, so `app: y` or
//! `country: no` stay strings (YAML 1.1's `yes`/`no`/`on`/`off`/`y`/`n` booleans are not inferred).
//!
//! # Limits
//! Input is untrusted, so parsing is bounded; going past a limit is a [`ManifestError`], never a
//! panic or unbounded memory:
//! - the whole text: [`MAX_MANIFEST_BYTES`] (16 MiB);
//! - one document: [`MAX_DOCUMENT_BYTES`] (3 MiB, the API server's request limit);
//! - nesting depth of one document: [`MAX_DEPTH`] (64 levels of mappings and sequences);
//! - at most [`MAX_NODES`] nodes per document and few aliases (the YAML parser's budget), which
//!   also stops "billion laughs" alias bombs.
//!
//! # Errors
//! Every error names the zero-based document index and a one-based line: the line of a YAML syntax
//! error where the parser reports one, otherwise the line where the document starts. Empty documents
//! (a `---` alone, or only comments) and `null` documents are skipped but still counted in the index.
//!
//! ```
//! use capstan_core::parse_documents;
//! let docs = parse_documents("a: 1\n---\n---\n# only a comment\nb: 2\n").unwrap();
//! assert_eq!(docs.len(), 2);
//! assert_eq!((docs[1].index, docs[1].line), (2, 5));
//! ```

use crate::builtin::{Object, builtin_type};

/// Largest manifest text accepted, in bytes (16 MiB).
pub const MAX_MANIFEST_BYTES: usize = 16 * 1024 * 1024;
/// Largest single document accepted, in bytes (3 MiB).
pub const MAX_DOCUMENT_BYTES: usize = 3 * 1024 * 1024;
/// Deepest nesting of mappings and sequences accepted in one document.
pub const MAX_DEPTH: usize = 64;
/// Most YAML nodes (mappings, sequences, scalars) accepted in one document.
pub const MAX_NODES: usize = 250_000;

/// One document of a manifest file, before it is typed.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// Zero-based index of the document in the file (empty documents are skipped but counted).
    pub index: usize,
    /// One-based line where the document starts.
    pub line: usize,
    /// The document as JSON.
    pub value: serde_json::Value,
}

/// A manifest could not be read. Always names the document index and line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("document {index} (line {line}): {reason}")]
pub struct ManifestError {
    /// Zero-based document index.
    pub index: usize,
    /// One-based line.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

impl ManifestError {
    fn new(index: usize, line: usize, reason: impl Into<String>) -> Self {
        Self {
            index,
            line,
            reason: reason.into(),
        }
    }
}

/// One `---`-separated stretch of the text.
struct Chunk<'a> {
    /// The text handed to the YAML parser.
    text: &'a str,
    /// Lines of the file before `text` begins.
    line_offset: usize,
    /// Whether the chunk was opened by a `---` marker (so it counts as a document even if empty).
    explicit: bool,
}

/// Whether a line is a document start marker (`---` alone or followed by blank).
fn start_marker(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("---")?;
    (rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n'])).then_some(rest)
}

/// Whether a line is a document end marker (`...`).
fn end_marker(line: &str) -> bool {
    line.strip_prefix("...")
        .is_some_and(|rest| rest.trim().is_empty() || rest.trim_start().starts_with('#'))
}

/// Splits the text at `---` and `...` lines.
fn split(text: &str) -> Vec<Chunk<'_>> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut start_line = 0;
    let mut explicit = false;
    let mut pos = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let line_start = pos;
        pos += line.len();
        if let Some(rest) = start_marker(line) {
            chunks.push(Chunk {
                text: &text[start..line_start],
                line_offset: start_line,
                explicit,
            });
            explicit = true;
            if rest.trim().is_empty() || rest.trim_start().starts_with('#') {
                (start, start_line) = (pos, i + 1);
            } else {
                // `--- {inline: content}`: the parser reads the marker line too.
                (start, start_line) = (line_start, i);
            }
        } else if end_marker(line) {
            chunks.push(Chunk {
                text: &text[start..line_start],
                line_offset: start_line,
                explicit,
            });
            (start, start_line, explicit) = (pos, i + 1, false);
        }
    }
    chunks.push(Chunk {
        text: &text[start..],
        line_offset: start_line,
        explicit,
    });
    chunks
}

/// The first line of real content (one-based, in the chunk), ignoring blanks, comments and
/// directives; `None` for an empty chunk.
fn first_content_line(chunk: &str) -> Option<usize> {
    chunk.lines().position(|l| {
        let t = l.trim();
        !(t.is_empty() || t.starts_with('#') || l.starts_with('%'))
    })
}

fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: MAX_DEPTH,
            max_nodes: MAX_NODES,
            max_aliases: 10_000,
            max_documents: 1,
        },
        with_snippet: false,
        strict_booleans: true,
    }
}

/// Splits a YAML (or JSON) text into documents, as JSON values. Bounded in size and nesting depth.
///
/// An empty text (or one with only comments) gives no documents.
pub fn parse_documents(text: &str) -> Result<Vec<Document>, ManifestError> {
    if text.len() > MAX_MANIFEST_BYTES {
        return Err(ManifestError::new(
            0,
            1,
            format!(
                "manifest is {} bytes, more than the limit of {MAX_MANIFEST_BYTES} bytes (16 MiB)",
                text.len()
            ),
        ));
    }
    let mut docs = Vec::new();
    let mut index = 0;
    for chunk in split(text) {
        let content = first_content_line(chunk.text);
        if content.is_none() && !chunk.explicit {
            // Text before the first `---`, or after a `...`, that holds nothing: not a document.
            continue;
        }
        let this = index;
        index += 1;
        let Some(first) = content else {
            continue;
        };
        let line = chunk.line_offset + first + 1;
        if chunk.text.len() > MAX_DOCUMENT_BYTES {
            return Err(ManifestError::new(
                this,
                line,
                format!(
                    "document is {} bytes, more than the limit of {MAX_DOCUMENT_BYTES} bytes (3 MiB)",
                    chunk.text.len()
                ),
            ));
        }
        let body: String;
        let parse_text = if chunk.text.lines().any(|l| l.starts_with('%')) {
            // Directives (`%YAML 1.2`) belong before the `---` the splitter consumed: drop them.
            body = chunk
                .text
                .split_inclusive('\n')
                .map(|l| if l.starts_with('%') { "\n" } else { l })
                .collect();
            body.as_str()
        } else {
            chunk.text
        };
        let value: serde_json::Value =
            serde_saphyr::from_str_with_options(parse_text, yaml_options()).map_err(|e| {
                let at = e
                    .location()
                    .and_then(|l| usize::try_from(l.line()).ok())
                    .filter(|&l| l > 0)
                    .map_or(line, |l| chunk.line_offset + l);
                let message = e.to_string();
                tracing::debug!(document = this, line = at, %message, "manifest YAML rejected");
                ManifestError::new(this, at, format!("invalid YAML: {message}"))
            })?;
        if value.is_null() {
            continue;
        }
        docs.push(Document {
            index: this,
            line,
            value,
        });
    }
    Ok(docs)
}

/// Types one JSON object by its `apiVersion` and `kind`. `what` names it in errors ("" for a
/// document, `items[3]: ` for a List item).
fn type_value(doc: &Document, what: &str, value: serde_json::Value) -> Result<Object, ManifestError> {
    let err = |reason: String| ManifestError::new(doc.index, doc.line, format!("{what}{reason}"));
    if !value.is_object() {
        return Err(err(format!(
            "expected a mapping (an object), found {}",
            json_type(&value)
        )));
    }
    let text_field = |name: &str| match value.get(name) {
        None | Some(serde_json::Value::Null) => Err(err(format!("missing `{name}`"))),
        Some(serde_json::Value::String(s)) if s.is_empty() => Err(err(format!("missing `{name}`"))),
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(err(format!("`{name}` must be a string, found {}", json_type(other)))),
    };
    let api_version = text_field("apiVersion")?;
    let kind = text_field("kind")?;
    if builtin_type(&api_version, &kind).is_none() {
        return Err(err(format!("unknown kind {kind:?} in apiVersion {api_version:?}")));
    }
    match Object::from_json(&api_version, &kind, value) {
        Ok(Some(obj)) => Ok(obj),
        Ok(None) => Err(err(format!("unknown kind {kind:?} in apiVersion {api_version:?}"))),
        Err(e) => Err(err(format!("invalid {kind}: {e}"))),
    }
}

fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a sequence",
        serde_json::Value::Object(_) => "a mapping",
    }
}

/// Parses a manifest into typed built-in objects, by `apiVersion` and `kind`.
///
/// # Errors
/// Everything [`parse_documents`] rejects; a document that is not a mapping; a missing or non-string
/// `apiVersion` or `kind`; a kind that is not built in; fields that do not decode as the kind's
/// (e.g. `replicas: three`); and a manifest with no objects at all ("no objects").
pub fn parse_manifests(text: &str) -> Result<Vec<Object>, ManifestError> {
    let docs = parse_documents(text)?;
    let mut objects = Vec::with_capacity(docs.len());
    for doc in &docs {
        let is_list = doc.value.get("apiVersion").and_then(|v| v.as_str()) == Some("v1")
            && doc.value.get("kind").and_then(|v| v.as_str()) == Some("List");
        if is_list {
            let items = doc
                .value
                .get("items")
                .and_then(|v| v.as_array())
                .cloned()
                .unwrap_or_default();
            for (i, item) in items.into_iter().enumerate() {
                objects.push(type_value(doc, &format!("items[{i}]: "), item)?);
            }
        } else {
            objects.push(type_value(doc, "", doc.value.clone())?);
        }
    }
    if objects.is_empty() {
        return Err(ManifestError::new(0, 1, "no objects (the manifest is empty)"));
    }
    Ok(objects)
}

/// Like [`parse_manifests`], from raw bytes: text that is not UTF-8 (binary garbage) is an error
/// naming the line of the first bad byte.
pub fn parse_manifest_bytes(bytes: &[u8]) -> Result<Vec<Object>, ManifestError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse_manifests(text),
        Err(e) => {
            let good = &bytes[..e.valid_up_to()];
            let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
            let index = good.split(|&b| b == b'\n').filter(|l| l.starts_with(b"---")).count();
            Err(ManifestError::new(
                index.saturating_sub(usize::from(bytes.starts_with(b"---"))),
                line,
                format!("not UTF-8 text (invalid byte at offset {})", e.valid_up_to()),
            ))
        }
    }
}

#[cfg(test)]
mod tests;
