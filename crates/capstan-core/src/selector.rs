//! Label selectors: structured (`matchLabels` + `matchExpressions`) and the string form used in URLs
//! and by kubectl (`app=web,tier!=db,env in (a,b),!legacy`): parse, format, match.

use std::collections::BTreeMap;
use std::fmt;

/// A parsed label selector: a conjunction of requirements. The empty selector matches everything.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct LabelSelector {
    /// The requirements, all of which must hold.
    pub requirements: Vec<Requirement>,
}

/// One requirement on one label key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    /// The label key.
    pub key: String,
    /// The operator.
    pub operator: Operator,
    /// The values (one for `=`/`!=`, one or more for `in`/`notin`, none for exists/does-not-exist).
    pub values: Vec<String>,
}

/// A label selector operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `key=value` or `key==value`.
    Equals,
    /// `key!=value` (also matches objects without the key).
    NotEquals,
    /// `key in (a,b)`.
    In,
    /// `key notin (a,b)` (also matches objects without the key).
    NotIn,
    /// `key`.
    Exists,
    /// `!key`.
    DoesNotExist,
}

/// A selector could not be parsed or converted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid label selector {input:?}: {reason} (at {token:?})")]
pub struct SelectorError {
    /// The whole selector text (or a rendering of the structured selector).
    pub input: String,
    /// The offending token.
    pub token: String,
    /// What is wrong with it.
    pub reason: String,
}

impl LabelSelector {
    /// The selector that matches every object.
    pub fn everything() -> Self {
        Self::default()
    }

    /// Whether this selector has no requirements (matches everything).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Parses the string form. Errors name the offending token.
    pub fn parse(text: &str) -> Result<Self, SelectorError> {
        let _ = text;
        todo!("capstan-core helper")
    }

    /// Converts a structured `metav1.LabelSelector` (matchLabels + matchExpressions).
    pub fn from_k8s(
        sel: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
    ) -> Result<Self, SelectorError> {
        let _ = sel;
        todo!("capstan-core helper")
    }

    /// Whether a label set satisfies every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let _ = labels;
        todo!("capstan-core helper")
    }
}

impl fmt::Display for LabelSelector {
    /// The string form, which [`LabelSelector::parse`] reads back to an equal selector.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let _ = f;
        todo!("capstan-core helper")
    }
}
