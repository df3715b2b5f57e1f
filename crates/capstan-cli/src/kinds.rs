//! Which kind a command means: the built-in kinds, then the kinds the server's
//! CustomResourceDefinitions define (read through the same [`Store`] as everything else).

use anyhow::anyhow;
use capstan_core::k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use capstan_core::{Resource, TypeKey, builtin_type};
use capstan_server::discovery::Registry;
use capstan_store::{ListParams, Store};
use serde_json::Value;

use crate::commands::resolve;

/// One kind a CustomResourceDefinition defines, with the names a user may type for it.
struct CustomKind {
    type_key: TypeKey,
    names: Vec<String>,
    storage: bool,
}

/// The kinds of every CustomResourceDefinition in `store`, one per version.
async fn custom_kinds(store: &dyn Store) -> anyhow::Result<Vec<CustomKind>> {
    let crds = store
        .list(&CustomResourceDefinition::type_key(), &ListParams::default())
        .await?;
    Ok(crds.items.iter().flat_map(|crd| kinds_of(crd.json())).collect())
}

fn kinds_of(crd: &Value) -> Vec<CustomKind> {
    let names = &crd["spec"]["names"];
    let mut typed: Vec<String> = names["plural"].as_str().map(str::to_owned).into_iter().collect();
    typed.extend(names["kind"].as_str().map(str::to_ascii_lowercase));
    typed.extend(names["singular"].as_str().map(str::to_owned));
    typed.extend(
        names["shortNames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_owned)),
    );
    capstan_core::custom_kinds(crd)
        .into_iter()
        .map(|k| CustomKind {
            type_key: k.type_key,
            names: typed.clone(),
            storage: k.storage,
        })
        .collect()
}

/// The kind of a manifest's `apiVersion` and `kind`.
pub async fn of_manifest(store: &dyn Store, api_version: &str, kind: &str) -> anyhow::Result<TypeKey> {
    if let Some(t) = builtin_type(api_version, kind) {
        return Ok(t);
    }
    custom_kinds(store)
        .await?
        .into_iter()
        .map(|c| c.type_key)
        .find(|t| t.kind == kind && t.api_version() == api_version)
        .ok_or_else(|| {
            anyhow!("no kind {kind:?} in apiVersion {api_version:?} (is its CustomResourceDefinition applied?)")
        })
}

/// The kind a user names on the command line: plural, singular, short name or kind, optionally
/// with its group (`greetings.example.com`); a custom kind's storage version.
pub async fn by_name(store: &dyn Store, name: &str) -> anyhow::Result<TypeKey> {
    if let Ok(info) = resolve(&Registry::builtin(), name) {
        return Ok(info.type_key.clone());
    }
    let lower = name.to_ascii_lowercase();
    let (base, group) = match lower.split_once('.') {
        Some((b, g)) => (b.to_owned(), Some(g.to_owned())),
        None => (lower.clone(), None),
    };
    let mut matches: Vec<CustomKind> = custom_kinds(store)
        .await?
        .into_iter()
        .filter(|c| group.as_ref().is_none_or(|g| *g == c.type_key.group) && c.names.contains(&base))
        .collect();
    matches.sort_by_key(|c| !c.storage);
    matches
        .into_iter()
        .next()
        .map(|c| c.type_key)
        .ok_or_else(|| anyhow!("the server doesn't have a resource type \"{name}\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_store::MemoryStore;
    use serde_json::json;

    async fn store_with_greetings() -> MemoryStore {
        let store = MemoryStore::new();
        let crd = json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "greetings.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                     "names": {"plural": "greetings", "kind": "Greeting", "shortNames": ["gr"]},
                     "versions": [{"name": "v1", "served": true, "storage": false},
                                  {"name": "v2", "served": true, "storage": true}]}
        });
        store
            .create(&CustomResourceDefinition::type_key(), crd)
            .await
            .expect("create crd");
        store
    }

    #[tokio::test]
    async fn custom_kinds_resolve_by_every_name_to_their_storage_version() {
        let store = store_with_greetings().await;
        for name in ["greetings", "greeting", "Greeting", "gr", "greetings.example.com"] {
            let t = by_name(&store, name).await.expect(name);
            assert_eq!((t.kind.as_str(), t.version.as_str()), ("Greeting", "v2"), "{name}");
            assert!(t.namespaced);
        }
        assert_eq!(by_name(&store, "deploy").await.expect("built-in").kind, "Deployment");
        let err = by_name(&store, "widgets").await.expect_err("unknown");
        assert!(
            err.to_string().contains("doesn't have a resource type \"widgets\""),
            "{err}"
        );
        assert!(by_name(&store, "greetings.other.io").await.is_err());
    }

    #[tokio::test]
    async fn manifests_of_custom_kinds_resolve_by_api_version() {
        let store = store_with_greetings().await;
        let t = of_manifest(&store, "example.com/v1", "Greeting").await.expect("v1");
        assert_eq!(t.version, "v1");
        let err = of_manifest(&store, "example.com/v3", "Greeting").await.expect_err("v3");
        assert!(err.to_string().contains("CustomResourceDefinition"), "{err}");
        assert_eq!(of_manifest(&store, "v1", "Pod").await.expect("pod").plural, "pods");
    }
}
