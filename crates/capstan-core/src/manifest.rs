//! Manifests: multi-document YAML or JSON files parsed into typed built-in objects.

use crate::builtin::Object;

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

/// Splits a YAML (or JSON) text into documents, as JSON values. Bounded in size and nesting depth.
pub fn parse_documents(text: &str) -> Result<Vec<Document>, ManifestError> {
    let _ = text;
    todo!("capstan-core helper")
}

/// Parses a manifest into typed built-in objects, by `apiVersion` and `kind`.
pub fn parse_manifests(text: &str) -> Result<Vec<Object>, ManifestError> {
    let _ = text;
    todo!("capstan-core helper")
}
