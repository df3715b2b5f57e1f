//! `apply`, `get` and `delete` against the in-process store: the same code the CLI runs over a
//! [`RemoteStore`](capstan_store::remote::RemoteStore).

use std::time::Duration;

use capstan_core::builtin_type;
use capstan_store::MemoryStore;
use serde_json::json;

use super::*;

fn deployment(replicas: i64) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "my-app", "labels": {"app": "my-app"}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "my-app"}},
            "template": {"metadata": {"labels": {"app": "my-app"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}}}})
}

fn deployments() -> TypeKey {
    builtin_type("apps/v1", "Deployment").unwrap()
}

async fn apply_text(store: &dyn Store, namespace: &str, docs: Vec<Value>) -> anyhow::Result<String> {
    let mut out = Vec::new();
    apply_documents(store, namespace, docs, &mut out).await?;
    Ok(String::from_utf8(out)?)
}

fn options(name: Option<&str>, watch: bool) -> GetOptions {
    GetOptions {
        kind: "deploy".into(),
        name: name.map(str::to_owned),
        watch,
        output: None,
        all_namespaces: false,
    }
}

#[tokio::test]
async fn apply_creates_then_reports_unchanged_then_configured_after_an_edit() {
    let store = MemoryStore::new();
    assert_eq!(
        apply_text(&store, "default", vec![deployment(2)]).await.unwrap(),
        "deployment.apps/my-app created\n"
    );
    assert_eq!(
        apply_text(&store, "default", vec![deployment(2)]).await.unwrap(),
        "deployment.apps/my-app unchanged\n"
    );
    let before = store
        .get(&deployments(), &ObjectKey::new("default", "my-app"))
        .await
        .unwrap();
    assert_eq!(
        apply_text(&store, "default", vec![deployment(5)]).await.unwrap(),
        "deployment.apps/my-app configured\n"
    );
    let after = store
        .get(&deployments(), &ObjectKey::new("default", "my-app"))
        .await
        .unwrap();
    assert_eq!(after.json()["spec"]["replicas"], 5);
    assert!(after.revision() > before.revision());
    assert_eq!(after.json()["metadata"]["uid"], before.json()["metadata"]["uid"]);
}

#[tokio::test]
async fn apply_puts_objects_in_the_given_namespace_unless_the_manifest_names_one() {
    let store = MemoryStore::new();
    let mut elsewhere = deployment(1);
    elsewhere["metadata"]["name"] = json!("other");
    elsewhere["metadata"]["namespace"] = json!("team-b");
    apply_text(&store, "team-a", vec![deployment(1), elsewhere])
        .await
        .unwrap();
    let t = deployments();
    assert!(store.get(&t, &ObjectKey::new("team-a", "my-app")).await.is_ok());
    assert!(store.get(&t, &ObjectKey::new("team-b", "other")).await.is_ok());
}

#[tokio::test]
async fn apply_refuses_unknown_kinds_and_nameless_objects_before_writing() {
    let store = MemoryStore::new();
    let widget = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}});
    let err = apply_text(&store, "default", vec![widget]).await.unwrap_err();
    assert!(err.to_string().contains("Widget"), "{err}");
    let mut nameless = deployment(1);
    nameless["metadata"] = json!({});
    let err = apply_text(&store, "default", vec![nameless]).await.unwrap_err();
    assert!(err.to_string().contains("metadata.name"), "{err}");
    assert_eq!(store.current_revision().await.unwrap(), 0);
}

#[tokio::test]
async fn get_prints_a_table_one_object_as_json_and_a_list_as_yaml() {
    let store = MemoryStore::new();
    apply_text(&store, "default", vec![deployment(2)]).await.unwrap();
    let t = deployments();
    let mut out = Vec::new();
    get_objects(
        &store,
        &t,
        Some("default"),
        &options(None, false),
        Format::Table,
        &mut out,
    )
    .await
    .unwrap();
    let table = String::from_utf8(out).unwrap();
    assert!(
        table.starts_with("NAME") && table.contains("UP-TO-DATE") && table.contains("my-app"),
        "{table}"
    );

    let mut out = Vec::new();
    get_objects(
        &store,
        &t,
        Some("default"),
        &options(Some("my-app"), false),
        Format::Json,
        &mut out,
    )
    .await
    .unwrap();
    let one: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(one["spec"]["replicas"], 2);

    let mut out = Vec::new();
    get_objects(&store, &t, None, &options(None, false), Format::Yaml, &mut out)
        .await
        .unwrap();
    let list: Value = serde_saphyr::from_str(&String::from_utf8(out).unwrap()).unwrap();
    assert_eq!(list["kind"], "DeploymentList");
    assert_eq!(list["items"][0]["metadata"]["name"], "my-app");
}

#[tokio::test]
async fn get_and_delete_of_a_missing_object_say_not_found_naming_it() {
    let store = MemoryStore::new();
    let t = deployments();
    let err = get_objects(
        &store,
        &t,
        Some("default"),
        &options(Some("nope"), false),
        Format::Table,
        &mut Vec::new(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Error from server (NotFound): deployments.apps \"nope\" not found"
    );
    let err = delete_object(&store, &t, "default", "nope", &mut Vec::new())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("(NotFound)"), "{err}");
}

#[tokio::test]
async fn delete_removes_the_object_and_says_so() {
    let store = MemoryStore::new();
    apply_text(&store, "default", vec![deployment(1)]).await.unwrap();
    let t = deployments();
    let mut out = Vec::new();
    delete_object(&store, &t, "default", "my-app", &mut out).await.unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), "deployment.apps/my-app deleted\n");
    assert!(matches!(
        store.get(&t, &ObjectKey::new("default", "my-app")).await,
        Err(StoreError::NotFound { .. })
    ));
}

#[tokio::test]
async fn get_watch_prints_each_later_change_of_the_named_object_only() {
    let store = std::sync::Arc::new(MemoryStore::new());
    let mut other = deployment(1);
    other["metadata"]["name"] = json!("other");
    apply_text(&*store, "default", vec![deployment(1), other.clone()])
        .await
        .unwrap();
    let watcher = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut out = Vec::new();
            let opts = options(Some("my-app"), true);
            let t = deployments();
            let run = get_objects(&*store, &t, Some("default"), &opts, Format::Json, &mut out);
            // The watch never ends by itself: stop it after the changes below have arrived.
            let _ = tokio::time::timeout(Duration::from_millis(500), run).await;
            out
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    other["spec"]["replicas"] = json!(9);
    apply_text(&*store, "default", vec![other, deployment(3)])
        .await
        .unwrap();
    let out = String::from_utf8(watcher.await.unwrap()).unwrap();
    let docs: Vec<Value> = serde_json::Deserializer::from_str(&out)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .unwrap();
    let replicas: Vec<&Value> = docs.iter().map(|d| &d["spec"]["replicas"]).collect();
    assert_eq!(replicas, [&json!(1), &json!(3)], "{out}");
    assert!(docs.iter().all(|d| d["metadata"]["name"] == "my-app"));
}

#[test]
fn kinds_resolve_by_plural_singular_short_name_and_group() {
    let r = Registry::builtin();
    for n in ["deployments", "deployment", "deploy", "Deployment", "deployments.apps"] {
        assert_eq!(resolve(&r, n).unwrap().type_key.kind, "Deployment", "{n}");
    }
    assert_eq!(resolve(&r, "po").unwrap().type_key.kind, "Pod");
    assert!(resolve(&r, "widgets").is_err());
    assert!(!resolve(&r, "ns").unwrap().type_key.namespaced);
}
