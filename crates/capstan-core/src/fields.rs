//! Field selectors (`metadata.name=web,status.phase!=Running`), as list and watch take them.
//!
//! Requirements are separated by commas; each is `field=value`, `field==value` or `field!=value`.
//! Whitespace around field names and values is ignored. As in Kubernetes, a backslash escapes a
//! `,`, `=`, `!` or `\` inside a value; [`FieldSelector`]'s `Display` escapes them back, so parse and
//! format round-trip.
//!
//! ```
//! use capstan_core::FieldSelector;
//! let sel = FieldSelector::parse("metadata.name=web,status.phase!=Running").unwrap();
//! let pod = serde_json::json!({"metadata": {"name": "web"}, "status": {"phase": "Pending"}});
//! assert!(sel.matches_json(&pod));
//! ```

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

impl FieldRequirement {
    /// Whether a JSON object satisfies this requirement (an absent field compares as `""`).
    pub fn matches_json(&self, object: &serde_json::Value) -> bool {
        (field_text(object, &self.field) == self.value) == self.equals
    }
}

/// The text of the value at a dotted path: strings as they are, numbers and booleans in JSON form,
/// absent or null as `""`, objects and arrays as their JSON text.
fn field_text(object: &serde_json::Value, path: &str) -> String {
    let mut cur = object;
    for part in path.split('.') {
        match cur.get(part) {
            Some(v) => cur = v,
            None => return String::new(),
        }
    }
    match cur {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Splits `text` at commas that are not escaped by a backslash.
fn split_unescaped(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ',' => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// Removes escaping backslashes; a trailing lone backslash is an error.
fn unescape(value: &str) -> Result<String, ()> {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.push(chars.next().ok_or(())?);
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// Escapes the characters the parser treats as syntax.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '=' | '!') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Finds the first unescaped operator in a term: returns (field, equals, raw value).
fn split_term(term: &str) -> Option<(&str, bool, &str)> {
    let b = term.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'!' if b.get(i + 1) == Some(&b'=') => return Some((&term[..i], false, &term[i + 2..])),
            b'=' if b.get(i + 1) == Some(&b'=') => return Some((&term[..i], true, &term[i + 2..])),
            b'=' => return Some((&term[..i], true, &term[i + 1..])),
            _ => i += 1,
        }
    }
    None
}

fn valid_field_path(field: &str) -> bool {
    !field.is_empty()
        && field.split('.').all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/'))
        })
}

impl FieldSelector {
    /// Parses the string form.
    pub fn parse(text: &str) -> Result<Self, FieldSelectorError> {
        let err = |token: &str, reason: &str| FieldSelectorError {
            input: text.to_owned(),
            token: token.to_owned(),
            reason: reason.to_owned(),
        };
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let mut requirements = Vec::new();
        for term in split_unescaped(text) {
            let Some((field, equals, raw)) = split_term(term) else {
                return Err(err(term.trim(), "expected field=value, field==value or field!=value"));
            };
            let field = field.trim();
            if !valid_field_path(field) {
                return Err(err(field, "expected a dotted field path such as metadata.name"));
            }
            let value = unescape(raw.trim()).map_err(|()| err(raw.trim(), "value ends with a lone '\\'"))?;
            requirements.push(FieldRequirement {
                field: field.to_owned(),
                equals,
                value,
            });
        }
        Ok(Self { requirements })
    }

    /// Whether this selector has no requirements.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether a JSON object satisfies every requirement. A field that is absent compares as `""`.
    pub fn matches_json(&self, object: &serde_json::Value) -> bool {
        self.requirements.iter().all(|r| r.matches_json(object))
    }

    /// The value this selector requires for `field` with `=`, if it has such a requirement (a store
    /// can use it to narrow a list, e.g. to one namespace or one name).
    pub fn exact(&self, field: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.equals && r.field == field)
            .map(|r| r.value.as_str())
    }
}

impl fmt::Display for FieldSelector {
    /// The string form (`=` and `!=`, values escaped), which [`FieldSelector::parse`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let op = if r.equals { "=" } else { "!=" };
            write!(f, "{}{op}{}", r.field, escape(&r.value))?;
        }
        Ok(())
    }
}

impl std::str::FromStr for FieldSelector {
    type Err = FieldSelectorError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_equals_double_equals_and_not_equals() {
        let sel = FieldSelector::parse(" metadata.name == web , status.phase!=Running,spec.nodeName=").unwrap();
        assert_eq!(sel.requirements.len(), 3);
        assert!(sel.requirements[0].equals && sel.requirements[0].value == "web");
        assert!(!sel.requirements[1].equals);
        assert_eq!(sel.requirements[2].value, "");
        assert_eq!(
            sel.to_string(),
            "metadata.name=web,status.phase!=Running,spec.nodeName="
        );
        assert_eq!(FieldSelector::parse(&sel.to_string()).unwrap(), sel);
    }

    #[test]
    fn absent_fields_compare_as_empty() {
        let pod = json!({"metadata": {"name": "p", "namespace": "default"}, "spec": {}});
        assert!(FieldSelector::parse("spec.nodeName=").unwrap().matches_json(&pod));
        assert!(!FieldSelector::parse("spec.nodeName!=").unwrap().matches_json(&pod));
        assert!(
            FieldSelector::parse("metadata.namespace=default,metadata.name=p")
                .unwrap()
                .matches_json(&pod)
        );
        assert!(!FieldSelector::parse("metadata.name=q").unwrap().matches_json(&pod));
        assert!(FieldSelector::parse("").unwrap().matches_json(&pod));
    }

    #[test]
    fn escaped_separators_stay_in_values() {
        let sel = FieldSelector::parse(r"metadata.name=a\,b\=c").unwrap();
        assert_eq!(sel.requirements[0].value, "a,b=c");
        assert_eq!(FieldSelector::parse(&sel.to_string()).unwrap(), sel);
        assert!(sel.matches_json(&json!({"metadata": {"name": "a,b=c"}})));
    }

    #[test]
    fn errors_name_the_offending_term() {
        let e = FieldSelector::parse("metadata.name=a,status.phase").unwrap_err();
        assert_eq!(e.token, "status.phase");
        let e = FieldSelector::parse("=x").unwrap_err();
        assert_eq!(e.token, "");
        let e = FieldSelector::parse("a..b=x").unwrap_err();
        assert_eq!(e.token, "a..b");
        let e = FieldSelector::parse(r"a=x\").unwrap_err();
        assert_eq!(e.token, r"x\");
        assert_eq!(FieldSelector::parse("a=b").unwrap().exact("a"), Some("b"));
    }
}
