//! Every validation rule has a failing example, and an invalid object reports every failure with its
//! field path (specs/apps.md section A; the rule's item number is cited where it has one).

use capstan_core::{FieldErrorType as T, Invalid, Object, admit, validate_status};
use serde_json::{Value, json};

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}]}
            }
        }
    })
}

fn replica_set() -> Value {
    let mut v = deployment();
    v["kind"] = json!("ReplicaSet");
    v
}

fn pod() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-1", "namespace": "default"},
        "spec": {"containers": [{"name": "web", "image": "nginx"}]}
    })
}

fn typed(v: &Value) -> Object {
    let api = v["apiVersion"].as_str().unwrap();
    let kind = v["kind"].as_str().unwrap();
    Object::from_json(api, kind, v.clone()).unwrap().unwrap()
}

/// Sets the value at a JSON pointer, creating objects on the way; `Value::Null` removes it.
fn set(mut v: Value, pointer: &str, new: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let mut cur = &mut v;
    for part in parent.split('/').skip(1) {
        cur = match cur {
            Value::Array(a) => &mut a[part.parse::<usize>().unwrap()],
            other => other.as_object_mut().unwrap().entry(part).or_insert(json!({})),
        };
    }
    match cur {
        Value::Array(a) => a[key.parse::<usize>().unwrap()] = new,
        other => {
            let map = other.as_object_mut().unwrap();
            if new.is_null() {
                map.remove(key);
            } else {
                map.insert(key.to_owned(), new);
            }
        }
    }
    v
}

fn admit_err(v: &Value, old: Option<&Value>) -> Invalid {
    let mut obj = typed(v);
    let old = old.map(|o| {
        let mut o = typed(o);
        admit(&mut o, None).expect("the old object is valid");
        o
    });
    admit(&mut obj, old.as_ref()).expect_err("the object must be rejected")
}

/// Asserts the object fails with exactly one error, at `field`, of kind `kind`, whose detail
/// contains `detail`.
fn rejects(v: Value, field: &str, kind: T, detail: &str) {
    let e = admit_err(&v, None);
    assert_eq!(e.errors.len(), 1, "expected one error at {field}, got {e}");
    let got = &e.errors[0];
    assert_eq!((got.field.as_str(), got.kind), (field, kind), "{e}");
    assert!(got.detail.contains(detail), "detail {:?} lacks {detail:?}", got.detail);
}

fn accepts(v: Value) {
    let mut obj = typed(&v);
    if let Err(e) = admit(&mut obj, None) {
        panic!("expected valid, got {e}");
    }
}

#[test]
fn the_base_objects_are_valid() {
    accepts(deployment());
    accepts(replica_set());
    accepts(pod());
}

#[test]
fn metadata_rules() {
    rejects(
        set(deployment(), "/metadata/name", json!("Web_1")),
        "metadata.name",
        T::Invalid,
        "RFC 1123 subdomain",
    );
    rejects(
        set(deployment(), "/metadata/name", Value::Null),
        "metadata.name",
        T::Required,
        "generateName",
    );
    let generated = set(
        set(deployment(), "/metadata/name", Value::Null),
        "/metadata/generateName",
        json!("web-"),
    );
    accepts(generated.clone());
    rejects(
        set(generated, "/metadata/generateName", json!("-web-")),
        "metadata.generateName",
        T::Invalid,
        "",
    );
    rejects(
        set(deployment(), "/metadata/namespace", Value::Null),
        "metadata.namespace",
        T::Required,
        "",
    );
    rejects(
        set(deployment(), "/metadata/namespace", json!("a.b")),
        "metadata.namespace",
        T::Invalid,
        "label",
    );
    rejects(
        set(deployment(), "/metadata/labels/-bad", json!("x")),
        "metadata.labels",
        T::Invalid,
        "name part",
    );
    rejects(
        set(deployment(), "/metadata/labels/ok", json!("bad value")),
        "metadata.labels",
        T::Invalid,
        "label",
    );
    rejects(
        set(deployment(), "/metadata/annotations/a b", json!("x")),
        "metadata.annotations",
        T::Invalid,
        "",
    );
    let big = "x".repeat(256 * 1024);
    rejects(
        set(deployment(), "/metadata/annotations/big", json!(big)),
        "metadata.annotations",
        T::TooLong,
        "262144",
    );
    rejects(
        set(deployment(), "/metadata/finalizers", json!(["ok/fin", "bad fin"])),
        "metadata.finalizers[1]",
        T::Invalid,
        "",
    );
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team.a"}});
    rejects(ns, "metadata.name", T::Invalid, "RFC 1123 label");
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team", "namespace": "x"}});
    rejects(ns, "metadata.namespace", T::Forbidden, "not allowed");
}

#[test]
fn selector_rules_a3_a4() {
    rejects(
        set(deployment(), "/spec/selector", Value::Null),
        "spec.selector",
        T::Required,
        "",
    );
    rejects(
        set(deployment(), "/spec/selector", json!({"matchLabels": {}})),
        "spec.selector",
        T::Invalid,
        "empty selector is invalid for deployment",
    );
    let bad_expr = json!({"matchExpressions": [{"key": "app", "operator": "In", "values": []}]});
    rejects(
        set(deployment(), "/spec/selector", bad_expr),
        "spec.selector",
        T::Invalid,
        "values set can't be empty",
    );
    rejects(
        set(deployment(), "/spec/template/metadata/labels/app", json!("db")),
        "spec.template.metadata.labels",
        T::Invalid,
        "`selector` does not match template `labels`",
    );
    let expr = json!({"matchExpressions": [{"key": "app", "operator": "Exists"}]});
    accepts(set(deployment(), "/spec/selector", expr));
    for base in [deployment(), replica_set()] {
        let changed = set(base.clone(), "/spec/selector/matchLabels/tier", json!("x"));
        let changed = set(changed, "/spec/template/metadata/labels/tier", json!("x"));
        accepts(changed.clone());
        let e = admit_err(&changed, Some(&base));
        assert_eq!(e.errors.len(), 1, "{e}");
        assert_eq!(
            (e.errors[0].field.as_str(), e.errors[0].detail.as_str()),
            ("spec.selector", "field is immutable")
        );
    }
}

#[test]
fn template_rules_a5() {
    let t = "/spec/template/spec";
    rejects(
        set(deployment(), &format!("{t}/restartPolicy"), json!("OnFailure")),
        "spec.template.spec.restartPolicy",
        T::NotSupported,
        "\"Always\"",
    );
    rejects(
        set(deployment(), &format!("{t}/activeDeadlineSeconds"), json!(30)),
        "spec.template.spec.activeDeadlineSeconds",
        T::Forbidden,
        "",
    );
    rejects(
        set(replica_set(), "/spec/template", Value::Null),
        "spec.template",
        T::Required,
        "",
    );
}

#[test]
fn count_rules_a6() {
    rejects(
        set(deployment(), "/spec/replicas", json!(-1)),
        "spec.replicas",
        T::Invalid,
        "greater than or equal to 0",
    );
    rejects(
        set(replica_set(), "/spec/replicas", json!(-1)),
        "spec.replicas",
        T::Invalid,
        "greater than or equal to 0",
    );
    rejects(
        set(deployment(), "/spec/revisionHistoryLimit", json!(-1)),
        "spec.revisionHistoryLimit",
        T::Invalid,
        "",
    );
    accepts(set(deployment(), "/spec/revisionHistoryLimit", json!(0)));
    let e = admit_err(&set(deployment(), "/spec/minReadySeconds", json!(-5)), None);
    assert_eq!(e.errors[0].field, "spec.minReadySeconds", "{e}");
    rejects(
        set(deployment(), "/spec/minReadySeconds", json!(600)),
        "spec.progressDeadlineSeconds",
        T::Invalid,
        "greater than minReadySeconds",
    );
    let e = admit_err(&set(deployment(), "/spec/progressDeadlineSeconds", json!(-1)), None);
    let fields: Vec<_> = e.errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        ["spec.progressDeadlineSeconds", "spec.progressDeadlineSeconds"],
        "{e}"
    );
}

#[test]
fn strategy_rules_a7_a8() {
    let s = "/spec/strategy";
    rejects(
        set(deployment(), &format!("{s}/type"), json!("BlueGreen")),
        "spec.strategy.type",
        T::NotSupported,
        "\"Recreate\"",
    );
    let recreate = json!({"type": "Recreate", "rollingUpdate": {"maxSurge": 1}});
    rejects(
        set(deployment(), s, recreate),
        "spec.strategy.rollingUpdate",
        T::Forbidden,
        "Recreate",
    );
    accepts(set(deployment(), s, json!({"type": "Recreate"})));
    let ru = |surge: Value, unavailable: Value| {
        set(
            deployment(),
            s,
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}),
        )
    };
    let surge = "spec.strategy.rollingUpdate.maxSurge";
    let unavailable = "spec.strategy.rollingUpdate.maxUnavailable";
    rejects(ru(json!(-1), json!(1)), surge, T::Invalid, "greater than or equal to 0");
    rejects(ru(json!("x%"), json!(1)), surge, T::Invalid, "percent");
    rejects(ru(json!("10"), json!(1)), surge, T::Invalid, "percent");
    rejects(ru(json!(1), json!("101%")), unavailable, T::Invalid, "100%");
    rejects(
        ru(json!(0), json!(0)),
        unavailable,
        T::Invalid,
        "may not be 0 when `maxSurge` is 0",
    );
    rejects(
        ru(json!("0%"), json!(0)),
        unavailable,
        T::Invalid,
        "may not be 0 when `maxSurge` is 0",
    );
    accepts(ru(json!("0%"), json!("1%")));
    accepts(ru(json!(200), json!("100%")));
}

#[test]
fn container_rules() {
    let c = "/spec/template/spec/containers";
    rejects(
        set(deployment(), c, json!([])),
        "spec.template.spec.containers",
        T::Required,
        "at least one container",
    );
    rejects(
        set(deployment(), &format!("{c}/0/name"), json!("")),
        "spec.template.spec.containers[0].name",
        T::Required,
        "",
    );
    rejects(
        set(deployment(), &format!("{c}/0/name"), json!("Web")),
        "spec.template.spec.containers[0].name",
        T::Invalid,
        "RFC 1123 label",
    );
    rejects(
        set(deployment(), &format!("{c}/0/image"), Value::Null),
        "spec.template.spec.containers[0].image",
        T::Required,
        "",
    );
    let twins = json!([{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]);
    rejects(
        set(deployment(), c, twins),
        "spec.template.spec.containers[1].name",
        T::Duplicate,
        "",
    );
    rejects(
        set(deployment(), &format!("{c}/0/imagePullPolicy"), json!("Sometimes")),
        "spec.template.spec.containers[0].imagePullPolicy",
        T::NotSupported,
        "",
    );
    rejects(
        set(deployment(), &format!("{c}/0/ports/0/containerPort"), json!(70000)),
        "spec.template.spec.containers[0].ports[0].containerPort",
        T::Invalid,
        "65535",
    );
    rejects(
        set(deployment(), &format!("{c}/0/ports/0/protocol"), json!("HTTP")),
        "spec.template.spec.containers[0].ports[0].protocol",
        T::NotSupported,
        "",
    );
}

#[test]
fn pod_rules() {
    rejects(
        set(pod(), "/spec/restartPolicy", json!("Sometimes")),
        "spec.restartPolicy",
        T::NotSupported,
        "\"OnFailure\"",
    );
    accepts(set(pod(), "/spec/restartPolicy", json!("Never")));
    rejects(
        set(pod(), "/spec/dnsPolicy", json!("Google")),
        "spec.dnsPolicy",
        T::NotSupported,
        "",
    );
    rejects(
        set(pod(), "/spec/terminationGracePeriodSeconds", json!(-1)),
        "spec.terminationGracePeriodSeconds",
        T::Invalid,
        "",
    );
    rejects(
        set(pod(), "/spec/activeDeadlineSeconds", json!(0)),
        "spec.activeDeadlineSeconds",
        T::Invalid,
        "",
    );
    rejects(
        set(pod(), "/spec/nodeName", json!("Node_1")),
        "spec.nodeName",
        T::Invalid,
        "",
    );
    rejects(
        set(
            pod(),
            "/spec/initContainers",
            json!([{"name": "web", "image": "busybox"}]),
        ),
        "spec.initContainers[0].name",
        T::Duplicate,
        "",
    );
    // A pod without a spec is defaulted to an empty one, which lacks containers.
    rejects(set(pod(), "/spec", Value::Null), "spec.containers", T::Required, "");
}

#[test]
fn every_failure_is_reported_with_its_path() {
    let mut v = set(deployment(), "/metadata/name", json!("Bad_Name"));
    v = set(v, "/spec/replicas", json!(-3));
    v = set(v, "/spec/template/metadata/labels/app", json!("other"));
    v = set(v, "/spec/template/spec/restartPolicy", json!("Never"));
    v = set(
        v,
        "/spec/template/spec/containers",
        json!([{"name": "a", "image": "x"}, {"name": "a"}]),
    );
    v = set(
        v,
        "/spec/strategy",
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}),
    );
    let e = admit_err(&v, None);
    assert_eq!(e.qualified_kind, "Deployment.apps");
    assert_eq!(e.name, "Bad_Name");
    let got: Vec<_> = e.errors.iter().map(|e| (e.field.as_str(), e.kind)).collect();
    assert_eq!(
        got,
        [
            ("metadata.name", T::Invalid),
            ("spec.replicas", T::Invalid),
            ("spec.template.metadata.labels", T::Invalid),
            ("spec.template.spec.restartPolicy", T::NotSupported),
            ("spec.template.spec.containers[1].name", T::Duplicate),
            ("spec.template.spec.containers[1].image", T::Required),
            ("spec.strategy.rollingUpdate.maxUnavailable", T::Invalid),
        ],
        "{e}"
    );
    let text = e.to_string();
    assert!(
        text.starts_with("Deployment.apps \"Bad_Name\" is invalid: [metadata.name: Invalid value"),
        "{text}"
    );
}

#[test]
fn status_rules_a10() {
    let with_status = |status: Value| typed(&set(deployment(), "/status", status));
    let ok = with_status(
        json!({"replicas": 3, "updatedReplicas": 3, "readyReplicas": 2, "availableReplicas": 2, "collisionCount": 1}),
    );
    validate_status(&ok, None).unwrap();
    let bad = with_status(
        json!({"replicas": 2, "updatedReplicas": 3, "readyReplicas": 1, "availableReplicas": 2, "collisionCount": 0}),
    );
    let e = validate_status(&bad, Some(&ok)).unwrap_err();
    let got: Vec<_> = e.errors.iter().map(|e| (e.field.as_str(), e.detail.as_str())).collect();
    assert_eq!(
        got,
        [
            ("status.updatedReplicas", "cannot be greater than status.replicas"),
            ("status.availableReplicas", "cannot be greater than readyReplicas"),
            ("status.collisionCount", "cannot be decremented"),
        ]
    );
    let negative = with_status(json!({"replicas": -1}));
    assert_eq!(
        validate_status(&negative, None).unwrap_err().errors[0].field,
        "status.replicas"
    );
    let rs = typed(&set(
        replica_set(),
        "/status",
        json!({"replicas": 1, "readyReplicas": 2, "availableReplicas": 1}),
    ));
    let e = validate_status(&rs, None).unwrap_err();
    assert_eq!(e.errors[0].field, "status.readyReplicas", "{e}");
}
