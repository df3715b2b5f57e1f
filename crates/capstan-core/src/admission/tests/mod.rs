//! Unit tests of admission: update rules, JSON admission, metadata.

use serde_json::json;

use super::*;

fn pod_json(image: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": image}]}
    })
}

fn pod(image: &str) -> Object {
    let mut o = Object::from_json("v1", "Pod", pod_json(image)).unwrap().unwrap();
    admit(&mut o, None).unwrap();
    o
}

fn spec_mut(o: &mut Object) -> &mut k8s_openapi::api::core::v1::PodSpec {
    match o {
        Object::Pod(p) => p.spec.as_mut().unwrap(),
        _ => unreachable!("a pod"),
    }
}

#[test]
fn pod_updates_may_change_images_and_bind_a_node() {
    let old = pod("nginx:1");
    let mut new = old.clone();
    spec_mut(&mut new).containers[0].image = Some("nginx:2".into());
    spec_mut(&mut new).node_name = Some("node-1".into());
    admit(&mut new, Some(&old)).unwrap();
    let mut rebind = new.clone();
    spec_mut(&mut rebind).node_name = Some("node-2".into());
    let e = admit(&mut rebind, Some(&new)).unwrap_err();
    assert_eq!(e.errors[0].field, "spec");
}

#[test]
fn pod_updates_may_not_change_containers_or_other_spec_fields() {
    let old = pod("nginx");
    let mut renamed = old.clone();
    spec_mut(&mut renamed).containers[0].name = "d".into();
    assert_eq!(
        admit(&mut renamed, Some(&old)).unwrap_err().errors[0].field,
        "spec.containers"
    );
    let mut policy = old.clone();
    spec_mut(&mut policy).restart_policy = Some("Never".into());
    let e = admit(&mut policy, Some(&old)).unwrap_err();
    assert_eq!(e.errors[0].field, "spec");
    assert!(e.errors[0].detail.contains("may not change"));
    let mut deadline = old.clone();
    spec_mut(&mut deadline).active_deadline_seconds = Some(10);
    admit(&mut deadline, Some(&old)).unwrap();
    let mut longer = deadline.clone();
    spec_mut(&mut longer).active_deadline_seconds = Some(20);
    assert!(admit(&mut longer, Some(&deadline)).is_err());
}

#[test]
fn names_and_namespaces_are_immutable() {
    let old = pod("nginx");
    let mut new = old.clone();
    new.meta_mut().name = Some("q".into());
    let e = admit(&mut new, Some(&old)).unwrap_err();
    assert_eq!(e.errors[0].field, "metadata.name");
    assert_eq!(e.errors[0].detail, "field is immutable");
}

#[test]
fn admit_json_defaults_in_place_and_keeps_api_version_and_kind() {
    let mut v = pod_json("nginx:1.25");
    admit_json(&TypeKey::new("", "v1", "Pod", "pods", true), &mut v, None).unwrap();
    assert_eq!(v["apiVersion"], "v1");
    assert_eq!(v["kind"], "Pod");
    assert_eq!(v["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent");
    assert_eq!(v["spec"]["restartPolicy"], "Always");
}

#[test]
fn admit_json_reports_decode_errors_without_touching_the_value() {
    let t = TypeKey::new("", "v1", "Pod", "pods", true);
    let mut v = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": 5}});
    let before = v.clone();
    assert!(matches!(
        admit_json(&t, &mut v, None),
        Err(AdmissionError::Decode { .. })
    ));
    assert_eq!(v, before);
    let mut wrong_kind = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}});
    assert!(matches!(
        admit_json(&t, &mut wrong_kind, None),
        Err(AdmissionError::Decode { .. })
    ));
}

#[test]
fn admit_json_checks_only_metadata_of_custom_kinds() {
    let t = TypeKey::new("example.com", "v1", "Greeting", "greetings", true);
    let mut ok = json!({"metadata": {"name": "hi", "namespace": "default"}, "spec": {"anything": [1]}});
    admit_json(&t, &mut ok, None).unwrap();
    let mut bad = json!({"metadata": {"name": "Hi!", "labels": {"a": "-"}}});
    let Err(AdmissionError::Invalid(e)) = admit_json(&t, &mut bad, None) else {
        panic!("expected Invalid");
    };
    assert_eq!(e.qualified_kind, "Greeting.example.com");
    let fields: Vec<_> = e.errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["metadata.name", "metadata.namespace", "metadata.labels"]);
}

#[test]
fn namespaces_take_label_names_and_no_namespace() {
    let mut ns = Object::from_json(
        "v1",
        "Namespace",
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b", "namespace": "x"}}),
    )
    .unwrap()
    .unwrap();
    let e = admit(&mut ns, None).unwrap_err();
    let fields: Vec<_> = e.errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["metadata.name", "metadata.namespace"]);
    assert_eq!(e.qualified_kind, "Namespace");
}

#[test]
fn generate_name_stands_in_for_an_empty_name() {
    let mut meta = ObjectMeta {
        generate_name: Some("web-".into()),
        namespace: Some("default".into()),
        ..Default::default()
    };
    assert!(validate_metadata(&meta, true).is_empty());
    meta.generate_name = Some("Web-".into());
    assert_eq!(validate_metadata(&meta, true)[0].field, "metadata.generateName");
    meta.generate_name = None;
    assert_eq!(validate_metadata(&meta, true)[0].kind, FieldErrorType::Required);
}

#[test]
fn annotations_are_limited_to_256_kib_in_total() {
    let mut meta = ObjectMeta {
        name: Some("a".into()),
        ..Default::default()
    };
    let big = "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT / 2);
    meta.annotations = Some([("a".to_string(), big.clone()), ("b".to_string(), big)].into());
    let errs = validate_metadata(&meta, false);
    assert_eq!(errs.len(), 1);
    assert_eq!(
        (errs[0].field.as_str(), errs[0].kind),
        ("metadata.annotations", FieldErrorType::TooLong)
    );
}

#[test]
fn namespace_json_gets_the_kubernetes_finalizer_on_create_only() {
    let t = TypeKey::new("", "v1", "Namespace", "namespaces", false);
    let mut created = json!({"metadata": {"name": "team-a"}});
    admit_json(&t, &mut created, None).unwrap();
    assert_eq!(created["spec"]["finalizers"], json!(["kubernetes"]));
    assert_eq!(created["status"]["phase"], "Active");
    let mut emptied = created.clone();
    emptied["spec"]["finalizers"] = json!([]);
    admit_json(&t, &mut emptied, Some(&created)).unwrap();
    assert_eq!(emptied["spec"]["finalizers"], json!([]));
}
