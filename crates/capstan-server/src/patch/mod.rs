//! PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch.

pub mod json;
pub mod merge;
pub mod strategic;

use serde_json::Value;

/// A patch could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PatchError(pub String);

/// The kinds of patch the server accepts, by `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchKind {
    /// `application/merge-patch+json`.
    Merge,
    /// `application/json-patch+json`.
    Json,
    /// `application/strategic-merge-patch+json`.
    Strategic,
    /// `application/apply-patch+yaml` (server-side apply, served as a merge of the applied fields).
    Apply,
}

impl PatchKind {
    /// The patch kind for a `Content-Type`, ignoring parameters.
    pub fn from_content_type(ct: &str) -> Option<Self> {
        match ct.split(';').next().unwrap_or("").trim() {
            "application/merge-patch+json" => Some(Self::Merge),
            "application/json-patch+json" => Some(Self::Json),
            "application/strategic-merge-patch+json" => Some(Self::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => Some(Self::Apply),
            _ => None,
        }
    }
}

/// Applies `patch` of `kind` to `target`, returning the patched document.
pub fn apply(kind: PatchKind, target: &Value, patch: &Value) -> Result<Value, PatchError> {
    match kind {
        PatchKind::Merge | PatchKind::Apply => Ok(merge::merge_patch(target, patch)),
        PatchKind::Json => json::apply(target, patch),
        PatchKind::Strategic => strategic::apply(target, patch),
    }
}
