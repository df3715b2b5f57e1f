use super::*;

fn crd(name: &str, group: &str, plural: &str, kind: &str, created: &str) -> CustomResourceDefinition {
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": name, "creationTimestamp": created},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": plural, "kind": kind, "singular": kind.to_lowercase(), "shortNames": ["gr"]},
            "versions": [
                {"name": "v1", "served": true, "storage": true,
                 "subresources": {"status": {}},
                 "additionalPrinterColumns": [{"name": "Message", "type": "string", "jsonPath": ".spec.message"}]},
                {"name": "v2alpha1", "served": false, "storage": false},
            ],
        },
    }))
    .unwrap()
}

#[test]
fn a_crd_serves_each_served_version_with_its_names_subresources_and_columns() {
    let c = crd(
        "greetings.demo.capstan.dev",
        "demo.capstan.dev",
        "greetings",
        "Greeting",
        "2026-01-01T00:00:00Z",
    );
    let (registry, refused) = build(&Registry::builtin(), &[c]);
    assert!(refused.is_empty());
    let r = registry.find("demo.capstan.dev", "v1", "greetings").unwrap();
    assert_eq!(r.type_key.kind, "Greeting");
    assert!(r.type_key.namespaced && r.has_status);
    assert_eq!(r.all_short_names(), ["gr"]);
    assert_eq!(r.singular(), "greeting");
    let custom = r.custom.as_ref().unwrap();
    assert_eq!(custom.printer_columns[0].json_path, ".spec.message");
    assert!(registry.find("demo.capstan.dev", "v2alpha1", "greetings").is_none());
    assert!(registry.find("", "v1", "pods").is_some());
}

#[test]
fn a_crd_clashing_with_a_builtin_or_an_older_crd_is_not_served() {
    let lease = crd(
        "leases.coordination.k8s.io",
        "coordination.k8s.io",
        "leases",
        "Lease",
        "2026-01-01T00:00:00Z",
    );
    let old = crd(
        "greetings.demo.capstan.dev",
        "demo.capstan.dev",
        "greetings",
        "Greeting",
        "2026-01-01T00:00:00Z",
    );
    let same_kind = crd(
        "hellos.demo.capstan.dev",
        "demo.capstan.dev",
        "hellos",
        "Greeting",
        "2026-01-02T00:00:00Z",
    );
    let (registry, refused) = build(&Registry::builtin(), &[same_kind, lease, old]);
    let names: Vec<&str> = refused.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["leases.coordination.k8s.io", "hellos.demo.capstan.dev"]);
    assert!(registry.find("demo.capstan.dev", "v1", "greetings").is_some());
    assert!(registry.find("demo.capstan.dev", "v1", "hellos").is_none());
    assert_eq!(
        registry.find("coordination.k8s.io", "v1", "leases").unwrap().custom,
        None
    );
}

#[test]
fn an_accepted_crd_is_established_with_its_names_and_storage_version() {
    let c = crd(
        "greetings.demo.capstan.dev",
        "demo.capstan.dev",
        "greetings",
        "Greeting",
        "2026-01-01T00:00:00Z",
    );
    let s = desired_status(&c, &Value::Null, None);
    let cond = |t: &str| {
        s["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == t)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(cond("NamesAccepted"), "True");
    assert_eq!(cond("Established"), "True");
    assert_eq!(s["acceptedNames"]["plural"], "greetings");
    assert_eq!(s["storedVersions"], json!(["v1"]));
    // A second pass over the written status changes nothing that matters.
    let again = desired_status(&c, &s, None);
    assert_eq!(without_times(&again), without_times(&s));
    assert_eq!(
        again["conditions"][0]["lastTransitionTime"],
        s["conditions"][0]["lastTransitionTime"]
    );
    let refused = desired_status(&c, &s, Some("\"greetings\" is already in use"));
    assert_eq!(refused["conditions"][0]["status"], "False");
    assert_eq!(refused["conditions"][1]["status"], "False");
}
