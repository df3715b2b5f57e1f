//! Field selectors (`metadata.name=web,status.phase!=Running`), as list and watch take them.

use std::fmt;

/// A parsed field selector: a conjunction of `field=value` / `field!=value` requirements.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct FieldSelector {
    /// The requirements, all of which must hold.
    pub requirements: Vec<FieldRequirement>,
}

/// One field requirement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldRequirement {
    /// Dotted field path, e.g. `status.phase`.
    pub field: String,
    /// `true` for `=`/`==`, `false` for `!=`.
    pub equals: bool,
    /// The value compared with.
    pub value: String,
}

/// A field selector could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid field selector {input:?}: {reason} (at {token:?})")]
pub struct FieldSelectorError {
    /// The whole selector text.
    pub input: String,
    /// The offending token.
    pub token: String,
    /// What is wrong with it.
    pub reason: String,
}

impl FieldSelector {
    /// Parses the string form.
    pub fn parse(text: &str) -> Result<Self, FieldSelectorError> {
        let _ = text;
        todo!("capstan-core helper")
    }

    /// Whether this selector has no requirements.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether a JSON object satisfies every requirement. A field that is absent compares as `""`.
    pub fn matches_json(&self, object: &serde_json::Value) -> bool {
        let _ = object;
        todo!("capstan-core helper")
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let _ = f;
        todo!("capstan-core helper")
    }
}
