//! Hostile input never panics a public parser or admission function: every outcome is `Ok` or a
//! typed error. Strings are drawn from the characters each grammar cares about, so that the
//! generator reaches deep into the parsers rather than failing at the first byte.

use capstan_core::admission::defaults::image_tag_is_latest;
use capstan_core::admission::names::{
    dns1123_label_problem, dns1123_subdomain_problem, label_value_problem, qualified_name_problem,
};
use capstan_core::{FieldSelector, LabelSelector, admit_json, builtin_types, parse_documents, parse_manifests};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Text made of the characters a label or field selector is built from.
fn selector_text() -> impl Strategy<Value = String> {
    proptest::string::string_regex(r"[a-z0-9=!,() ./_-]{0,40}|(in|notin|!|=|==|!=|\(|\)|,| |a|b/c)*").unwrap()
}

/// Text made of YAML's structural characters.
fn yaml_text() -> impl Strategy<Value = String> {
    proptest::string::string_regex(
        r"(---\n|- |: |\{|\}|\[|\]|&a |\*a|!!str |'|\x22|#|\n|  |apiVersion|kind|v1|Pod|x|1)*",
    )
    .unwrap()
}

/// Small JSON values, with the keys admission looks at.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-z0-9.-]{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        let key = prop_oneof![
            Just("metadata".to_owned()),
            Just("spec".to_owned()),
            Just("name".to_owned()),
            Just("labels".to_owned()),
            Just("replicas".to_owned()),
            Just("selector".to_owned()),
            Just("template".to_owned()),
            Just("containers".to_owned()),
            "[a-z]{1,6}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn selector_parsers_return_errors_instead_of_panicking(text in selector_text()) {
        let _ = LabelSelector::parse(&text);
        let _ = FieldSelector::parse(&text);
        let _ = dns1123_label_problem(&text);
        let _ = dns1123_subdomain_problem(&text);
        let _ = image_tag_is_latest(&text);
        let _ = qualified_name_problem(&text);
        let _ = label_value_problem(&text);
    }

    #[test]
    fn arbitrary_strings_never_panic_the_parsers(text in any::<String>()) {
        let _ = LabelSelector::parse(&text);
        let _ = FieldSelector::parse(&text);
        let _ = parse_documents(&text);
        let _ = parse_manifests(&text);
    }

    #[test]
    fn manifest_parsers_return_errors_instead_of_panicking(text in yaml_text()) {
        let _ = parse_documents(&text);
        let _ = parse_manifests(&text);
    }

    #[test]
    fn admission_of_arbitrary_json_never_panics(new in json_value(), old in json_value(), kind in 0usize..16) {
        let types = builtin_types();
        let type_key = &types[kind % types.len()];
        let mut obj = new.clone();
        let _ = admit_json(type_key, &mut obj, Some(&old));
        let mut obj = json!({"metadata": {"name": "web", "namespace": "default"}, "spec": new});
        let _ = admit_json(type_key, &mut obj, None);
    }
}
