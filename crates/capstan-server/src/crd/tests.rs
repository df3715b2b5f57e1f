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

mod served_versions {
    use std::sync::Arc;

    use bytes::Bytes;
    use capstan_store::{MemoryStore, Store};
    use http::{Method, Request};
    use http_body_util::{BodyExt, Full};
    use serde_json::{Value, json};

    use crate::{ApiServer, ServerConfig};

    const CRD: &str = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.qa.example.com";

    async fn call(s: &ApiServer, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let bytes = body.map(|b| serde_json::to_vec(&b).unwrap()).unwrap_or_default();
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(bytes)))
            .unwrap();
        let resp = s.handle(req).await;
        let code = resp.status().as_u16();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (code, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    fn widget_crd(kind: &str, v2_served: bool) -> Value {
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.qa.example.com"},
            "spec": {"group": "qa.example.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "kind": kind},
                "versions": [{"name": "v1", "served": true, "storage": true},
                             {"name": "v2", "served": v2_served, "storage": false}]}})
    }

    /// Replaces the stored CRD's spec with `crd`'s (keeping its resourceVersion) and syncs.
    async fn update_crd(s: &ApiServer, crd: Value) {
        let (_, mut current) = call(s, Method::GET, CRD, None).await;
        current["spec"] = crd["spec"].clone();
        let (code, body) = call(s, Method::PUT, CRD, Some(current)).await;
        assert_eq!(code, 200, "{body}");
        s.sync_crds().await.unwrap();
    }

    #[tokio::test]
    async fn unserving_a_version_or_renaming_the_kind_keeps_the_custom_objects() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let s = ApiServer::new(store, ServerConfig::default());
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}});
        assert_eq!(call(&s, Method::POST, "/api/v1/namespaces", Some(ns)).await.0, 201);
        let crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
        let (code, body) = call(&s, Method::POST, crds, Some(widget_crd("Widget", true))).await;
        assert_eq!(code, 201, "{body}");
        s.sync_crds().await.unwrap();
        for v in ["v1", "v2"] {
            let w = json!({"apiVersion": format!("qa.example.com/{v}"), "kind": "Widget",
                "metadata": {"name": format!("w-{v}")}});
            let path = format!("/apis/qa.example.com/{v}/namespaces/default/widgets");
            let (code, body) = call(&s, Method::POST, &path, Some(w)).await;
            assert_eq!(code, 201, "{body}");
        }
        let w1 = "/apis/qa.example.com/v1/namespaces/default/widgets/w-v1";
        let w2 = "/apis/qa.example.com/v2/namespaces/default/widgets/w-v2";

        update_crd(&s, widget_crd("Widget", false)).await;
        assert_eq!(call(&s, Method::GET, w2, None).await.0, 404, "v2 is not served");
        update_crd(&s, widget_crd("Widget", true)).await;
        assert_eq!(
            call(&s, Method::GET, w2, None).await.0,
            200,
            "served again, w-v2 is still there"
        );

        update_crd(&s, widget_crd("Gadget", true)).await;
        update_crd(&s, widget_crd("Widget", true)).await;
        assert_eq!(
            call(&s, Method::GET, w1, None).await.0,
            200,
            "a kind rename deleted w-v1"
        );

        // Deleting the CRD still deletes its objects.
        assert!([200, 202].contains(&call(&s, Method::DELETE, CRD, None).await.0));
        s.sync_crds().await.unwrap();
        s.sync_crds().await.unwrap();
        assert_eq!(call(&s, Method::GET, CRD, None).await.0, 404);
        let widgets = capstan_core::TypeKey::new("qa.example.com", "v1", "Widget", "widgets", true);
        let objects = s.store().list(&widgets, &Default::default()).await.unwrap();
        assert!(objects.items.is_empty());
    }
}
