//! Properties of label selectors: the string form round-trips, and structured and string selectors
//! match the same label sets as a direct reading of Kubernetes' rules.

use std::collections::BTreeMap;

use capstan_core::k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector as K8sSelector, LabelSelectorRequirement,
};
use capstan_core::{LabelSelector, Operator, Requirement};
use proptest::prelude::*;

fn label_key() -> impl Strategy<Value = String> {
    let name = "[A-Za-z0-9]([A-Za-z0-9_.-]{0,8}[A-Za-z0-9])?";
    let prefix = proptest::option::of("[a-z0-9]([a-z0-9-]{0,5}[a-z0-9])?(\\.[a-z0-9]{1,4}){0,2}");
    (prefix, name).prop_map(|(p, n)| match p {
        Some(p) => format!("{p}/{n}"),
        None => n,
    })
}

fn label_value() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "[A-Za-z0-9]([A-Za-z0-9_.-]{0,8}[A-Za-z0-9])?"]
}

fn requirement() -> impl Strategy<Value = Requirement> {
    let op = prop_oneof![
        Just(Operator::Equals),
        Just(Operator::NotEquals),
        Just(Operator::In),
        Just(Operator::NotIn),
        Just(Operator::Exists),
        Just(Operator::DoesNotExist),
    ];
    (label_key(), op, proptest::collection::vec(label_value(), 1..4)).prop_map(|(key, operator, mut values)| {
        match operator {
            Operator::Equals | Operator::NotEquals => values.truncate(1),
            Operator::Exists | Operator::DoesNotExist => values.clear(),
            // The string form cannot write a set whose only value is empty (`k in ()` is an error,
            // as in Kubernetes).
            Operator::In | Operator::NotIn if values == [""] => values = vec!["v".into()],
            Operator::In | Operator::NotIn => {}
        }
        Requirement { key, operator, values }
    })
}

const KEYS: &[&str] = &["app", "tier", "example.com/env", "x"];
const VALUES: &[&str] = &["", "a", "b", "web"];

fn small_key() -> impl Strategy<Value = String> {
    proptest::sample::select(KEYS).prop_map(String::from)
}

fn small_value() -> impl Strategy<Value = String> {
    proptest::sample::select(VALUES).prop_map(String::from)
}

fn labels() -> impl Strategy<Value = BTreeMap<String, String>> {
    proptest::collection::btree_map(small_key(), small_value(), 0..4)
}

fn structured() -> impl Strategy<Value = K8sSelector> {
    let expr = (
        small_key(),
        proptest::sample::select(&["In", "NotIn", "Exists", "DoesNotExist"][..]),
        proptest::collection::vec(small_value().prop_filter("non-empty", |v| !v.is_empty()), 1..3),
    )
        .prop_map(|(key, op, values)| LabelSelectorRequirement {
            key,
            operator: op.to_owned(),
            values: matches!(op, "In" | "NotIn").then_some(values),
        });
    (
        proptest::option::of(proptest::collection::btree_map(small_key(), small_value(), 0..3)),
        proptest::option::of(proptest::collection::vec(expr, 0..3)),
    )
        .prop_map(|(match_labels, match_expressions)| K8sSelector {
            match_labels,
            match_expressions,
        })
}

/// The string form of a structured selector, written by hand (not with `Display`).
fn string_form(sel: &K8sSelector) -> String {
    let mut parts = Vec::new();
    for (k, v) in sel.match_labels.iter().flatten() {
        parts.push(format!("{k} = {v}"));
    }
    for e in sel.match_expressions.iter().flatten() {
        let values = e.values.clone().unwrap_or_default().join(", ");
        parts.push(match e.operator.as_str() {
            "In" => format!("{} in ({values})", e.key),
            "NotIn" => format!("{} notin ({values})", e.key),
            "Exists" => e.key.clone(),
            _ => format!("!{}", e.key),
        });
    }
    parts.join(" , ")
}

/// Kubernetes' rules read directly off the structured selector.
fn oracle(sel: &K8sSelector, labels: &BTreeMap<String, String>) -> bool {
    let labels_ok = sel.match_labels.iter().flatten().all(|(k, v)| labels.get(k) == Some(v));
    let exprs_ok = sel.match_expressions.iter().flatten().all(|e| {
        let values = e.values.clone().unwrap_or_default();
        match (e.operator.as_str(), labels.get(&e.key)) {
            ("In", Some(v)) => values.contains(v),
            ("In", None) => false,
            ("NotIn", Some(v)) => !values.contains(v),
            ("NotIn", None) => true,
            ("Exists", found) => found.is_some(),
            (_, found) => found.is_none(),
        }
    });
    labels_ok && exprs_ok
}

proptest! {
    #[test]
    fn parse_of_format_is_identity(reqs in proptest::collection::vec(requirement(), 0..6)) {
        let sel = LabelSelector { requirements: reqs };
        let text = sel.to_string();
        prop_assert_eq!(LabelSelector::parse(&text), Ok(sel), "text: {}", text);
    }

    #[test]
    fn structured_and_string_selectors_match_alike(sel in structured(), set in labels()) {
        let from_struct = LabelSelector::from_k8s(&sel).expect("generated selectors are valid");
        let text = string_form(&sel);
        let from_text = LabelSelector::parse(&text).expect("the string form parses");
        let expected = oracle(&sel, &set);
        prop_assert_eq!(from_struct.matches(&set), expected, "structured {:?} on {:?}", sel, set);
        prop_assert_eq!(from_text.matches(&set), expected, "string {} on {:?}", text, set);
        prop_assert_eq!(&from_text, &from_struct);
        // And back to the structured form, which selects the same sets.
        let back = LabelSelector::from_k8s(&from_struct.to_k8s()).expect("converted back");
        prop_assert_eq!(back.matches(&set), expected);
    }

    #[test]
    fn garbage_never_panics_the_parser(text in "[a-z=!(), ]{0,30}") {
        // Either parses or names a token; a parsed selector formats to something that parses equal.
        if let Ok(sel) = LabelSelector::parse(&text) {
            prop_assert_eq!(LabelSelector::parse(&sel.to_string()), Ok(sel));
        }
    }
}

fn field_requirement() -> impl Strategy<Value = capstan_core::fields::FieldRequirement> {
    (
        "[a-z][a-zA-Z]{0,6}(\\.[a-z][a-zA-Z]{0,6}){0,2}",
        any::<bool>(),
        "[a-zA-Z0-9,=!\\\\ .-]{0,8}".prop_map(|v| v.trim().to_owned()),
    )
        .prop_map(|(field, equals, value)| capstan_core::fields::FieldRequirement { field, equals, value })
}

proptest! {
    #[test]
    fn field_selectors_round_trip_even_with_separators_in_values(
        reqs in proptest::collection::vec(field_requirement(), 0..4)
    ) {
        let sel = capstan_core::FieldSelector { requirements: reqs };
        let text = sel.to_string();
        prop_assert_eq!(capstan_core::FieldSelector::parse(&text), Ok(sel), "text: {}", text);
    }
}
