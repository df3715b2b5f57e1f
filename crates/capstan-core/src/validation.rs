//! Field-level validation errors, collected rather than stopped at the first (like Kubernetes'
//! `field.ErrorList`), and the [`Invalid`] error that carries them.

use std::fmt;

/// What is wrong with one field, in Kubernetes' vocabulary (`metav1.CauseType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FieldErrorType {
    /// `FieldValueRequired`: "Required value".
    Required,
    /// `FieldValueInvalid`: "Invalid value".
    Invalid,
    /// `FieldValueForbidden`: "Forbidden".
    Forbidden,
    /// `FieldValueNotSupported`: "Unsupported value".
    NotSupported,
    /// `FieldValueDuplicate`: "Duplicate value".
    Duplicate,
    /// `FieldValueTooLong`: "Too long".
    TooLong,
}

impl FieldErrorType {
    /// The `reason` string Kubernetes puts in a `Status` cause, e.g. `FieldValueRequired`.
    pub fn cause_reason(self) -> &'static str {
        match self {
            Self::Required => "FieldValueRequired",
            Self::Invalid => "FieldValueInvalid",
            Self::Forbidden => "FieldValueForbidden",
            Self::NotSupported => "FieldValueNotSupported",
            Self::Duplicate => "FieldValueDuplicate",
            Self::TooLong => "FieldValueTooLong",
        }
    }

    /// The human phrase Kubernetes prints, e.g. "Required value".
    pub fn phrase(self) -> &'static str {
        match self {
            Self::Required => "Required value",
            Self::Invalid => "Invalid value",
            Self::Forbidden => "Forbidden",
            Self::NotSupported => "Unsupported value",
            Self::Duplicate => "Duplicate value",
            Self::TooLong => "Too long",
        }
    }
}

/// One failed field: its path (`spec.template.metadata.labels`), what is wrong, the offending value
/// (when there is one) and a detail message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted field path, with list indexes in brackets: `spec.template.spec.containers[0].name`.
    pub field: String,
    /// What kind of problem it is.
    pub kind: FieldErrorType,
    /// The offending value, rendered as text, when there is one.
    pub value: Option<String>,
    /// Why it is wrong.
    pub detail: String,
}

impl FieldError {
    /// A new field error.
    pub fn new(
        field: impl Into<String>,
        kind: FieldErrorType,
        value: Option<String>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            kind,
            value,
            detail: detail.into(),
        }
    }

    /// `Required value` at `field`.
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(field, FieldErrorType::Required, None, detail)
    }

    /// `Invalid value` at `field`.
    pub fn invalid(field: impl Into<String>, value: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(field, FieldErrorType::Invalid, Some(value.into()), detail)
    }

    /// `Forbidden` at `field`.
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(field, FieldErrorType::Forbidden, None, detail)
    }
}

impl fmt::Display for FieldError {
    /// Formats as Kubernetes does: `spec.replicas: Invalid value: -1: must be greater than or equal to 0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message())
    }
}

/// The longest offending value a message repeats in full; longer ones are cut (a 100 KB label must not
/// make a 200 KB error).
pub const MAX_SHOWN_VALUE: usize = 256;

impl FieldError {
    /// The message without the field path: `Invalid value: "-1": must be greater than or equal to 0`,
    /// as a `Status` cause carries it. Values over [`MAX_SHOWN_VALUE`] bytes are shortened.
    pub fn message(&self) -> String {
        let mut out = self.kind.phrase().to_owned();
        if let Some(v) = &self.value {
            if v.len() > MAX_SHOWN_VALUE {
                let mut cut = MAX_SHOWN_VALUE;
                while !v.is_char_boundary(cut) {
                    cut -= 1;
                }
                out.push_str(&format!(": {:?}... ({} bytes in all)", &v[..cut], v.len()));
            } else {
                out.push_str(&format!(": {v:?}"));
            }
        }
        if !self.detail.is_empty() {
            out.push_str(": ");
            out.push_str(&self.detail);
        }
        out
    }
}

/// An object failed admission: every failed field, not only the first.
///
/// Displays as the API server's 422 message: `Deployment.apps "web" is invalid: [spec.replicas: ...,
/// spec.selector: ...]`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Invalid {
    /// The kind, qualified by group as Kubernetes prints it (`Deployment.apps`, `Pod`).
    pub qualified_kind: String,
    /// The object's name (may be empty when the name itself is missing).
    pub name: String,
    /// Every failed field, in the order found.
    pub errors: Vec<FieldError>,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?} is invalid: ", self.qualified_kind, self.name)?;
        if self.errors.len() == 1 {
            write!(f, "{}", self.errors[0])
        } else {
            f.write_str("[")?;
            for (i, e) in self.errors.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{e}")?;
            }
            f.write_str("]")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_like_kubernetes_and_cut_huge_values() {
        let e = FieldError::invalid("spec.replicas", "-1", "must be greater than or equal to 0");
        assert_eq!(
            e.to_string(),
            "spec.replicas: Invalid value: \"-1\": must be greater than or equal to 0"
        );
        let huge = FieldError::invalid("metadata.labels", "é".repeat(60_000), "too long");
        let msg = huge.message();
        assert!(msg.len() < 400, "{} bytes", msg.len());
        assert!(msg.contains("(120000 bytes in all)"), "{msg}");
    }
}
