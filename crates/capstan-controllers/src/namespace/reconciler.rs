//! The namespace controller as a [`Reconciler`] over Namespaces: it empties a terminating namespace
//! and then lets it go.
//!
//! # Expected flow of one sync of namespace N
//! 1. N is gone, not being deleted, or no longer carries the `kubernetes` finalizer: done (an active
//!    N first gets its `default` ServiceAccount if it has none, as Kubernetes gives every namespace).
//! 2. For every namespaced kind it knows (owners first, see [`deletion_order`]), list N's objects from
//!    the store and delete each one not already being deleted, with Background propagation and a
//!    uid precondition. Objects that stay (graceful pods, finalizers) are counted as leftovers.
//! 3. Leftovers or failed deletes: record the Kubernetes deletion conditions on N's status (only when
//!    they changed) and check again shortly ([`RECHECK`]): graceful pods go within seconds under the
//!    simulated node agent. A failed delete is returned as an error, so it backs off and is logged.
//! 4. Nothing left: remove `kubernetes` from N's `spec.finalizers` (compare-and-swap on its
//!    resourceVersion); the store removes N once its finalizer lists are empty.
//!
//! The store refuses creates in a terminating namespace, so nothing new appears behind the pass.
//! Conflicts and "already gone" answers are the ordinary races of a level-triggered system: they
//! requeue quietly.

use std::time::Duration;

use capstan_core::{Resource, TypeKey};
use capstan_runtime::{Action, Context, ReconcileError, ReconcileRequest, Reconciler};
use capstan_store::{DeleteOutcome, DeleteParams, ListParams, Preconditions, PropagationPolicy, Store, StoreError};
use k8s_openapi::api::core::v1::{Namespace, NamespaceStatus, ServiceAccount};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use crate::namespace::logic::{
    Leftovers, conditions, conditions_changed, deletion_order, needs_emptying, without_namespace_finalizer,
};
use crate::writes::is_benign;

/// How soon a namespace whose content is still going away is checked again.
pub const RECHECK: Duration = Duration::from_millis(500);

/// Empties terminating namespaces of every kind in its list, then removes their `kubernetes`
/// finalizer.
#[derive(Clone, Debug)]
pub struct NamespaceReconciler {
    kinds: Vec<TypeKey>,
}

impl Default for NamespaceReconciler {
    /// A controller for Capstan's built-in namespaced kinds (Deployments, ReplicaSets, Pods, Events,
    /// Leases, ConfigMaps, Secrets, Services, ServiceAccounts) and, found at each pass, the
    /// namespaced kinds of the store's CustomResourceDefinitions.
    fn default() -> Self {
        Self {
            kinds: deletion_order(capstan_core::builtin_types()),
        }
    }
}

impl NamespaceReconciler {
    /// Also empties namespaces of `kinds` (a user's custom kinds that no CustomResourceDefinition in
    /// the store defines; cluster-scoped ones are ignored).
    pub fn with_kinds(self, kinds: impl IntoIterator<Item = TypeKey>) -> Self {
        Self {
            kinds: deletion_order(self.kinds.into_iter().chain(kinds)),
        }
    }

    /// The kinds it deletes, in deletion order.
    pub fn kinds(&self) -> &[TypeKey] {
        &self.kinds
    }

    /// One deletion pass over namespace `ns`: what is still there afterwards. Objects of the
    /// namespaced kinds defined by CustomResourceDefinitions in the store go first (every version
    /// they store), then the kinds of this controller's list.
    async fn delete_content(&self, store: &dyn Store, ns: &str) -> Leftovers {
        let mut leftovers = Leftovers::default();
        let params = ListParams {
            namespace: Some(ns.to_owned()),
            ..ListParams::default()
        };
        let custom = match custom_kinds(store).await {
            Ok(kinds) => kinds,
            Err(e) => {
                leftovers
                    .failures
                    .push(format!("listing customresourcedefinitions: {e}"));
                Vec::new()
            }
        };
        for kind in custom.iter().chain(&self.kinds) {
            let listed = match store.list(kind, &params).await {
                Ok(listed) => listed,
                Err(e) => {
                    leftovers.failures.push(format!("listing {}: {e}", kind.plural));
                    continue;
                }
            };
            for object in &listed.items {
                if is_deleting(object.json()) {
                    leftovers.record_remaining(kind, &finalizers(object.json()));
                    continue;
                }
                let delete = DeleteParams {
                    preconditions: Preconditions {
                        uid: object.meta_str("uid").map(str::to_owned),
                        resource_version: None,
                    },
                    propagation_policy: Some(PropagationPolicy::Background),
                    grace_period_seconds: None,
                };
                match store.delete(kind, object.key(), &delete).await {
                    Ok(DeleteOutcome::Deleted(_)) | Err(StoreError::NotFound { .. }) => {
                        tracing::debug!(namespace = ns, kind = %kind.kind, name = %object.key().name, "deleted");
                    }
                    Ok(DeleteOutcome::Pending(held)) => {
                        leftovers.record_remaining(kind, &finalizers(held.json()));
                    }
                    Err(e) if is_benign(&e) => leftovers.record_remaining(kind, &[]),
                    Err(e) => {
                        leftovers.record_remaining(kind, &[]);
                        leftovers
                            .failures
                            .push(format!("{} {}: {e}", kind.plural, object.key().name));
                    }
                }
            }
        }
        leftovers
    }
}

/// The namespaced kinds the store's CustomResourceDefinitions define, one per version.
async fn custom_kinds(store: &dyn Store) -> Result<Vec<TypeKey>, StoreError> {
    let crds = store
        .list(&CustomResourceDefinition::type_key(), &ListParams::default())
        .await?;
    Ok(crds
        .items
        .iter()
        .flat_map(|crd| capstan_core::custom_kinds(crd.json()))
        .map(|k| k.type_key)
        .filter(|t| t.namespaced)
        .collect())
}

fn is_deleting(object: &Value) -> bool {
    object["metadata"]["deletionTimestamp"].is_string()
}

fn finalizers(object: &Value) -> Vec<String> {
    object["metadata"]["finalizers"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// Creates the `default` ServiceAccount of an active namespace if it has none, as Kubernetes'
/// service-account controller does (pods name it when they name no other).
async fn ensure_default_service_account(ctx: &Context<Namespace>, ns: &str) -> Result<(), ReconcileError> {
    let accounts = ctx.api::<ServiceAccount>(ns);
    if accounts.get_opt(DEFAULT_SERVICE_ACCOUNT).await?.is_some() {
        return Ok(());
    }
    let account = ServiceAccount {
        metadata: ObjectMeta {
            name: Some(DEFAULT_SERVICE_ACCOUNT.into()),
            namespace: Some(ns.into()),
            ..ObjectMeta::default()
        },
        ..ServiceAccount::default()
    };
    match accounts.create(&account).await {
        Ok(_) => {
            tracing::debug!(namespace = ns, "created the default service account");
            Ok(())
        }
        // Raced with another writer, or the namespace started terminating meanwhile.
        Err(StoreError::AlreadyExists { .. } | StoreError::NamespaceTerminating { .. }) => Ok(()),
        Err(e) => Err(ReconcileError::new(e)),
    }
}

/// The ServiceAccount every active namespace has.
pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";

/// Why a pass could not empty the namespace (its deletes failed).
#[derive(Debug, thiserror::Error)]
#[error("namespace {namespace}: deleting its content failed: {failures}")]
struct ContentDeletionFailed {
    namespace: String,
    failures: String,
}

#[capstan_runtime::async_trait]
impl Reconciler<Namespace> for NamespaceReconciler {
    async fn reconcile(&self, req: ReconcileRequest, ctx: &Context<Namespace>) -> Result<Action, ReconcileError> {
        let Some(ns) = ctx.cache().get(&req.key) else {
            return Ok(Action::done());
        };
        if !needs_emptying(&ns) {
            if ns.metadata.deletion_timestamp.is_none() {
                ensure_default_service_account(ctx, req.name()).await?;
            }
            return Ok(Action::done());
        }
        let name = req.name();
        let leftovers = self.delete_content(ctx.store().as_ref(), name).await;
        let api = ctx.api_all::<Namespace>();
        if leftovers.is_clear() {
            return match api.replace(&without_namespace_finalizer(&ns)).await {
                Ok(_) => {
                    tracing::info!(namespace = name, "namespace emptied; finalizer removed");
                    Ok(Action::done())
                }
                Err(StoreError::NotFound { .. }) => Ok(Action::done()),
                Err(e) => Err(ReconcileError::new(e)),
            };
        }
        let status = ns.status.clone().unwrap_or_default();
        let old = status.conditions.clone().unwrap_or_default();
        let new = conditions(&leftovers, &old, &ctx.now_time());
        if conditions_changed(&old, &new) {
            let mut updated = (*ns).clone();
            updated.status = Some(NamespaceStatus {
                conditions: Some(new),
                ..status
            });
            match api.replace_status(&updated).await {
                Ok(_) => {}
                // The next pass sees the newer namespace (or none).
                Err(e) if is_benign(&e) => tracing::debug!(namespace = name, error = %e, "status write skipped"),
                Err(e) => return Err(ReconcileError::new(e)),
            }
        }
        if !leftovers.failures.is_empty() {
            return Err(ReconcileError::new(ContentDeletionFailed {
                namespace: name.to_owned(),
                failures: leftovers.failures.join("; "),
            }));
        }
        tracing::debug!(namespace = name, remaining = ?leftovers.remaining, "namespace content still going");
        Ok(Action::requeue_after(RECHECK))
    }
}
