//! Hostile request parts never panic the server's public decoders: protobuf bodies, JSON, merge,
//! strategic-merge and JSON patches, request paths and query strings. Each returns a typed error.

use std::time::Duration;

use capstan_server::Registry;
use capstan_server::body::{decode, parse_query};
use capstan_server::patch::{PatchKind, apply, json::parse_pointer};
use capstan_server::proto::decode_object;
use capstan_server::router::route;
use capstan_server::table::human_duration;
use capstan_server::table::jsonpath::first_match;
use proptest::prelude::*;
use serde_json::Value;

/// Small JSON values with the keys and operations patches use.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-3i64..5).prop_map(Value::from),
        prop_oneof![
            Just("add"),
            Just("remove"),
            Just("replace"),
            Just("move"),
            Just("copy"),
            Just("test"),
            Just("/a"),
            Just("/a/0"),
            Just("/a/-"),
            Just(""),
            Just("/"),
            Just("/a/1/b"),
            Just("replace"),
            Just("delete"),
            Just("merge"),
            Just("$retainKeys"),
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        let key = prop_oneof![
            Just("op".to_owned()),
            Just("path".to_owned()),
            Just("from".to_owned()),
            Just("value".to_owned()),
            Just("a".to_owned()),
            Just("containers".to_owned()),
            Just("name".to_owned()),
            Just("$patch".to_owned()),
            Just("$setElementOrder/containers".to_owned()),
            Just("$deleteFromPrimitiveList/finalizers".to_owned()),
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn printer_column_json_paths_never_panic(path in "[.\\[\\]?()@=!'\"*a-z0-9\\\\-]{0,80}") {
        let object: Value = serde_json::json!({
            "metadata": {"name": "x", "labels": {"a.b/c": "d"}},
            "spec": {"items": [{"name": "a"}, {"name": "b", "n": [1, 2]}], "a": {"b": null}},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}
        });
        let _ = first_match(&object, &path);
    }

    #[test]
    fn assembled_json_paths_never_panic(pieces in prop::collection::vec(prop_oneof![
        Just(".spec"), Just(".items"), Just(".status.conditions"), Just("[0]"), Just("[-1]"), Just("[7]"),
        Just("[*]"), Just("[?(@.type==\"Ready\")]"), Just("[?(@.n)]"), Just("[?(@"), Just("['a.b/c']"),
        Just(".labels.a\\.b/c"), Just("\\."), Just("["), Just("]"), Just("."), Just(".metadata"),
    ], 0..14)) {
        let object: Value = serde_json::json!({
            "metadata": {"name": "x", "labels": {"a.b/c": "d"}},
            "spec": {"items": [{"name": "a"}, {"name": "b", "n": [1, 2]}]},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}
        });
        let _ = first_match(&object, &pieces.concat());
    }
    #[test]
    fn protobuf_bodies_decode_or_fail_without_panicking(tail in prop::collection::vec(any::<u8>(), 0..96)) {
        let mut body = b"k8s\0".to_vec();
        body.extend_from_slice(&tail);
        let _ = decode_object(&body);
        let _ = decode_object(&tail);
    }

    #[test]
    fn patches_apply_or_fail_without_panicking(target in json_value(), patch in json_value()) {
        for kind in [PatchKind::Json, PatchKind::Merge, PatchKind::Strategic, PatchKind::Apply] {
            let _ = apply(kind, &target, &patch);
        }
    }

    #[test]
    fn paths_queries_pointers_and_bodies_never_panic(text in "[a-z0-9/~?=&%.{}-]{0,48}", secs in any::<u64>()) {
        let registry = Registry::builtin();
        let _ = route(&registry, &text);
        let _ = parse_query(Some(&text));
        let _ = parse_pointer(&text);
        for ct in ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf", &text] {
            let _ = decode(ct, text.as_bytes());
        }
        let _ = human_duration(Duration::from_secs(secs));
    }
}
