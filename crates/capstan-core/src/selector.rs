//! Label selectors: structured (`matchLabels` + `matchExpressions`) and the string form used in URLs
//! and by kubectl (`app=web,tier!=db,env in (a,b),!legacy`): parse, format, match.
//!
//! The grammar is Kubernetes' (`k8s.io/apimachinery/pkg/labels`):
//!
//! ```text
//! selector    = requirement { "," requirement }
//! requirement = key ( "=" | "==" | "!=" ) value
//!             | key ( "in" | "notin" ) "(" value { "," value } ")"
//!             | key | "!" key
//! ```
//!
//! Whitespace around tokens is ignored. Keys are qualified names (`prefix/name`, prefix a DNS-1123
//! subdomain, name at most 63 characters of alphanumerics, `-`, `_`, `.`), values are empty or at most
//! 63 such characters. Requirements keep the order they were written in, so
//! `LabelSelector::parse(&s.to_string()) == Ok(s)` for every valid selector `s`, with one exception
//! the string form cannot express (in Kubernetes either): an `in`/`notin` set whose only value is the
//! empty string, which formats as `k in ()`, an error.
//!
//! ```
//! use std::collections::BTreeMap;
//! use capstan_core::LabelSelector;
//! let sel = LabelSelector::parse("app=web, tier!=db, env in (a,b), !legacy").unwrap();
//! let labels = BTreeMap::from([("app".to_string(), "web".to_string()), ("env".into(), "b".into())]);
//! assert!(sel.matches(&labels));
//! assert_eq!(sel.to_string(), "app=web,tier!=db,env in (a,b),!legacy");
//! ```

use std::collections::BTreeMap;
use std::fmt;

use crate::admission::names;

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

impl Requirement {
    /// Whether a label set satisfies this requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            Operator::Equals | Operator::In => value.is_some_and(|v| self.values.contains(v)),
            Operator::NotEquals | Operator::NotIn => value.is_none_or(|v| !self.values.contains(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
        }
    }

    /// Checks key and value syntax and the number of values the operator takes; returns the
    /// offending token and the reason.
    fn check(&self) -> Result<(), (String, String)> {
        if let Some(reason) = names::qualified_name_problem(&self.key) {
            return Err((self.key.clone(), format!("invalid label key: {reason}")));
        }
        let arity_ok = match self.operator {
            Operator::Equals | Operator::NotEquals => self.values.len() == 1,
            Operator::In | Operator::NotIn => !self.values.is_empty(),
            Operator::Exists | Operator::DoesNotExist => self.values.is_empty(),
        };
        if !arity_ok {
            let reason = match self.operator {
                Operator::Equals | Operator::NotEquals => "exactly one value is required",
                Operator::In | Operator::NotIn => "for 'in', 'notin' operators, values set can't be empty",
                Operator::Exists | Operator::DoesNotExist => "values set must be empty for exists and does not exist",
            };
            return Err((self.key.clone(), reason.to_owned()));
        }
        for v in &self.values {
            if let Some(reason) = names::label_value_problem(v) {
                return Err((v.clone(), format!("invalid label value: {reason}")));
            }
        }
        Ok(())
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first = self.values.first().map(String::as_str).unwrap_or("");
        match self.operator {
            Operator::Equals => write!(f, "{}={first}", self.key),
            Operator::NotEquals => write!(f, "{}!={first}", self.key),
            Operator::In => write!(f, "{} in ({})", self.key, self.values.join(",")),
            Operator::NotIn => write!(f, "{} notin ({})", self.key, self.values.join(",")),
            Operator::Exists => f.write_str(&self.key),
            Operator::DoesNotExist => write!(f, "!{}", self.key),
        }
    }
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

    /// A selector requiring each `key=value` of a label map (in key order), as `matchLabels` does.
    pub fn from_labels(labels: &BTreeMap<String, String>) -> Self {
        Self {
            requirements: labels
                .iter()
                .map(|(k, v)| Requirement {
                    key: k.clone(),
                    operator: Operator::Equals,
                    values: vec![v.clone()],
                })
                .collect(),
        }
    }

    /// Parses the string form. Errors name the offending token.
    pub fn parse(text: &str) -> Result<Self, SelectorError> {
        let err = |token: &str, reason: &str| SelectorError {
            input: text.to_owned(),
            token: token.to_owned(),
            reason: reason.to_owned(),
        };
        let tokens = lex(text);
        let mut requirements = Vec::new();
        let mut pos = 0;
        if tokens.is_empty() {
            return Ok(Self::default());
        }
        loop {
            let (req, next) = parse_requirement(&tokens, pos).map_err(|(t, r)| err(&t, &r))?;
            req.check().map_err(|(t, r)| err(&t, &r))?;
            requirements.push(req);
            pos = next;
            match tokens.get(pos) {
                None => break,
                Some(Token::Comma) => {
                    pos += 1;
                    if pos >= tokens.len() {
                        return Err(err(",", "expected a requirement after ','"));
                    }
                }
                Some(t) => return Err(err(&t.text(), "expected ',' or the end of the selector")),
            }
        }
        Ok(Self { requirements })
    }

    /// Converts a structured `metav1.LabelSelector` (matchLabels + matchExpressions).
    ///
    /// `matchLabels` become `=` requirements (in key order), then each expression in order. As in
    /// Kubernetes, `In`/`NotIn` need at least one value and `Exists`/`DoesNotExist` take none; keys and
    /// values must be valid label syntax. An empty structured selector matches everything.
    pub fn from_k8s(
        sel: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
    ) -> Result<Self, SelectorError> {
        let render = || serde_json::to_string(sel).unwrap_or_default();
        let mut out = sel.match_labels.as_ref().map(Self::from_labels).unwrap_or_default();
        for expr in sel.match_expressions.iter().flatten() {
            let operator = match expr.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(SelectorError {
                        input: render(),
                        token: other.to_owned(),
                        reason: "operator must be one of In, NotIn, Exists, DoesNotExist".to_owned(),
                    });
                }
            };
            out.requirements.push(Requirement {
                key: expr.key.clone(),
                operator,
                values: expr.values.clone().unwrap_or_default(),
            });
        }
        for req in &out.requirements {
            req.check().map_err(|(token, reason)| SelectorError {
                input: render(),
                token,
                reason,
            })?;
        }
        Ok(out)
    }

    /// Converts to a structured `metav1.LabelSelector`: `=` requirements become `matchLabels`,
    /// `!=` becomes a one-value `NotIn`, the others map one to one onto `matchExpressions`.
    pub fn to_k8s(&self) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;
        let mut labels = BTreeMap::new();
        let mut exprs = Vec::new();
        for r in &self.requirements {
            let (op, values) = match r.operator {
                Operator::Equals => {
                    labels.insert(r.key.clone(), r.values.first().cloned().unwrap_or_default());
                    continue;
                }
                Operator::NotEquals => ("NotIn", Some(r.values.clone())),
                Operator::In => ("In", Some(r.values.clone())),
                Operator::NotIn => ("NotIn", Some(r.values.clone())),
                Operator::Exists => ("Exists", None),
                Operator::DoesNotExist => ("DoesNotExist", None),
            };
            exprs.push(LabelSelectorRequirement {
                key: r.key.clone(),
                operator: op.to_owned(),
                values,
            });
        }
        k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
            match_labels: (!labels.is_empty()).then_some(labels),
            match_expressions: (!exprs.is_empty()).then_some(exprs),
        }
    }

    /// Whether a label set satisfies every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }
}

impl fmt::Display for LabelSelector {
    /// The string form, which [`LabelSelector::parse`] reads back to an equal selector.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for LabelSelector {
    type Err = SelectorError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// A lexical token of the string form.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Ident(String),
    Eq,
    DoubleEq,
    NotEq,
    Bang,
    Open,
    Close,
    Comma,
}

impl Token {
    fn text(&self) -> String {
        match self {
            Token::Ident(s) => s.clone(),
            Token::Eq => "=".into(),
            Token::DoubleEq => "==".into(),
            Token::NotEq => "!=".into(),
            Token::Bang => "!".into(),
            Token::Open => "(".into(),
            Token::Close => ")".into(),
            Token::Comma => ",".into(),
        }
    }
}

fn is_special(c: char) -> bool {
    matches!(c, '=' | '!' | '(' | ')' | ',')
}

fn lex(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let tok = match c {
            '=' => {
                chars.next();
                if chars.peek() == Some(&'=') {
                    chars.next();
                    Token::DoubleEq
                } else {
                    Token::Eq
                }
            }
            '!' => {
                chars.next();
                if chars.peek() == Some(&'=') {
                    chars.next();
                    Token::NotEq
                } else {
                    Token::Bang
                }
            }
            '(' => {
                chars.next();
                Token::Open
            }
            ')' => {
                chars.next();
                Token::Close
            }
            ',' => {
                chars.next();
                Token::Comma
            }
            _ => {
                let mut s = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || is_special(c) {
                        break;
                    }
                    s.push(c);
                    chars.next();
                }
                Token::Ident(s)
            }
        };
        out.push(tok);
    }
    out
}

type ParseErr = (String, String);

fn describe(tok: Option<&Token>) -> String {
    tok.map(Token::text).unwrap_or_else(|| "<end>".to_owned())
}

/// Parses one requirement starting at `pos`; returns it and the position after it.
fn parse_requirement(tokens: &[Token], mut pos: usize) -> Result<(Requirement, usize), ParseErr> {
    let negated = tokens.get(pos) == Some(&Token::Bang);
    if negated {
        pos += 1;
    }
    let key = match tokens.get(pos) {
        Some(Token::Ident(k)) => k.clone(),
        other => return Err((describe(other), "expected a label key".to_owned())),
    };
    pos += 1;
    let req = |operator, values| Requirement {
        key: key.clone(),
        operator,
        values,
    };
    if negated {
        return Ok((req(Operator::DoesNotExist, vec![]), pos));
    }
    match tokens.get(pos) {
        None | Some(Token::Comma) => Ok((req(Operator::Exists, vec![]), pos)),
        Some(Token::Eq | Token::DoubleEq | Token::NotEq) => {
            let op = if tokens[pos] == Token::NotEq {
                Operator::NotEquals
            } else {
                Operator::Equals
            };
            pos += 1;
            match tokens.get(pos) {
                Some(Token::Ident(v)) => Ok((req(op, vec![v.clone()]), pos + 1)),
                // `key=` selects the empty value.
                None | Some(Token::Comma) => Ok((req(op, vec![String::new()]), pos)),
                Some(other) => Err((other.text(), "expected a label value".to_owned())),
            }
        }
        Some(Token::Ident(word)) if word == "in" || word == "notin" => {
            let op = if word == "in" { Operator::In } else { Operator::NotIn };
            pos += 1;
            if tokens.get(pos) != Some(&Token::Open) {
                return Err((describe(tokens.get(pos)), format!("expected '(' after '{word}'")));
            }
            pos += 1;
            let mut values = Vec::new();
            if tokens.get(pos) == Some(&Token::Close) {
                return Err((
                    ")".to_owned(),
                    "for 'in', 'notin' operators, values set can't be empty".to_owned(),
                ));
            }
            loop {
                // A value may be empty: `(a,)` holds "a" and "".
                match tokens.get(pos) {
                    Some(Token::Ident(v)) => {
                        values.push(v.clone());
                        pos += 1;
                    }
                    Some(Token::Comma | Token::Close) => values.push(String::new()),
                    other => return Err((describe(other), "expected a label value or ')'".to_owned())),
                }
                match tokens.get(pos) {
                    Some(Token::Comma) => pos += 1,
                    Some(Token::Close) => return Ok((req(op, values), pos + 1)),
                    other => return Err((describe(other), "expected ',' or ')'".to_owned())),
                }
            }
        }
        Some(other) => Err((
            other.text(),
            "expected one of '=', '==', '!=', 'in', 'notin', ',' after a key".to_owned(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn parses_every_operator_with_any_whitespace() {
        let sel = LabelSelector::parse(" a = b ,c==d, e!=f,g in ( x , y ),h notin(z),i,! j ").unwrap();
        let ops: Vec<_> = sel.requirements.iter().map(|r| r.operator).collect();
        assert_eq!(
            ops,
            [
                Operator::Equals,
                Operator::Equals,
                Operator::NotEquals,
                Operator::In,
                Operator::NotIn,
                Operator::Exists,
                Operator::DoesNotExist
            ]
        );
        assert_eq!(sel.requirements[3].values, ["x", "y"]);
        assert_eq!(sel.to_string(), "a=b,c=d,e!=f,g in (x,y),h notin (z),i,!j");
    }

    #[test]
    fn empty_text_is_the_everything_selector() {
        assert!(LabelSelector::parse("").unwrap().is_empty());
        assert!(LabelSelector::parse("   ").unwrap().matches(&labels(&[])));
    }

    #[test]
    fn errors_name_the_offending_token() {
        let cases = [
            ("a=b,", ","),
            ("a in b", "b"),
            ("a in ()", ")"),
            ("a in (b", "<end>"),
            ("a=(", "("),
            ("bad key!=x", "key"),
            ("-a=b", "-a"),
            ("a=-b", "-b"),
            ("a b", "b"),
            (",a", ","),
            ("!", "<end>"),
            ("!a=b", "="),
        ];
        for (text, token) in cases {
            let e = LabelSelector::parse(text).unwrap_err();
            assert_eq!(e.token, token, "{text}: {e}");
            assert!(e.to_string().contains(text), "{e}");
        }
    }

    #[test]
    fn key_and_value_syntax_is_checked() {
        assert!(LabelSelector::parse("example.com/app=web").is_ok());
        assert!(LabelSelector::parse("Example.com/app=web").is_err());
        assert!(LabelSelector::parse(&format!("a={}", "x".repeat(64))).is_err());
        assert!(LabelSelector::parse(&format!("a={}", "x".repeat(63))).is_ok());
        assert!(LabelSelector::parse("a=b_c.d-e").is_ok());
        assert!(LabelSelector::parse("a=").is_ok());
    }

    #[test]
    fn negative_operators_match_objects_without_the_key() {
        let sel = LabelSelector::parse("tier!=db,env notin (prod)").unwrap();
        assert!(sel.matches(&labels(&[])));
        assert!(sel.matches(&labels(&[("tier", "web"), ("env", "dev")])));
        assert!(!sel.matches(&labels(&[("tier", "db")])));
        assert!(!sel.matches(&labels(&[("env", "prod")])));
    }

    #[test]
    fn positive_operators_need_the_key() {
        let sel = LabelSelector::parse("app=web,env in (a,b),legacy").unwrap();
        assert!(sel.matches(&labels(&[("app", "web"), ("env", "b"), ("legacy", "")])));
        assert!(!sel.matches(&labels(&[("app", "web"), ("env", "b")])));
        assert!(!sel.matches(&labels(&[("app", "web"), ("env", "c"), ("legacy", "1")])));
        assert!(
            !LabelSelector::parse("!legacy")
                .unwrap()
                .matches(&labels(&[("legacy", "")]))
        );
    }

    #[test]
    fn structured_selectors_follow_kubernetes_rules() {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector as K8s, LabelSelectorRequirement as Req};
        let expr = |op: &str, values: Option<Vec<&str>>| K8s {
            match_labels: Some(labels(&[("app", "web")])),
            match_expressions: Some(vec![Req {
                key: "env".into(),
                operator: op.into(),
                values: values.map(|v| v.into_iter().map(String::from).collect()),
            }]),
        };
        let sel = LabelSelector::from_k8s(&expr("In", Some(vec!["a", "b"]))).unwrap();
        assert_eq!(sel.to_string(), "app=web,env in (a,b)");
        assert_eq!(LabelSelector::from_k8s(&sel.to_k8s()).unwrap(), sel);
        assert!(LabelSelector::from_k8s(&expr("In", Some(vec![]))).is_err());
        assert!(LabelSelector::from_k8s(&expr("NotIn", None)).is_err());
        assert!(LabelSelector::from_k8s(&expr("Exists", Some(vec!["a"]))).is_err());
        assert!(LabelSelector::from_k8s(&expr("DoesNotExist", None)).is_ok());
        let e = LabelSelector::from_k8s(&expr("Like", None)).unwrap_err();
        assert_eq!(e.token, "Like");
        assert!(LabelSelector::from_k8s(&K8s::default()).unwrap().is_empty());
    }
}
