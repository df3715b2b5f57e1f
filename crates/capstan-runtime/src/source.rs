//! Where a controller's keys come from: its primary kind (filtered by [`Predicate`]s), the kinds it
//! owns (mapped to their controller owner), and the kinds it watches (mapped by a function).
//!
//! Users meet this module through [`Controller`](crate::Controller)'s `with_predicate`, `owns` and
//! `watches`; the built-in predicates live in [`predicate`].

use std::collections::BTreeSet;
use std::sync::Arc;

use capstan_core::{ObjectKey, Resource};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use crate::expectations::Expectations;
use crate::informer::{Change, InformerSet, Origin};

/// Decides whether a change to an object of the primary kind `K` should wake the controller.
///
/// Every hook defaults to `true` (let the event through), so a predicate overrides only the hook it
/// cares about: [`predicate::GenerationChanged`] is one `on_update`. A controller with several
/// predicates reconciles only when all of them agree; combine alternatives with [`predicate::or`].
///
/// Predicates filter **events**, not state: a filtered event is simply not enqueued, and the next
/// reconcile of the key still reads the full current state.
///
/// ```
/// use capstan_runtime::Predicate;
/// use k8s_openapi::api::core::v1::Pod;
///
/// /// Only wake up for Pods that are being deleted.
/// struct Deleting;
/// impl Predicate<Pod> for Deleting {
///     fn on_create(&self, _: &Pod) -> bool { false }
///     fn on_update(&self, _: &Pod, new: &Pod) -> bool { new.metadata.deletion_timestamp.is_some() }
/// }
/// ```
pub trait Predicate<K>: Send + Sync + 'static {
    /// An object appeared in the cache (on the first list, every object does).
    fn on_create(&self, object: &K) -> bool {
        let _ = object;
        true
    }

    /// An object changed.
    fn on_update(&self, old: &K, new: &K) -> bool {
        let _ = (old, new);
        true
    }

    /// An object disappeared (its last known state).
    fn on_delete(&self, object: &K) -> bool {
        let _ = object;
        true
    }
}

/// Built-in predicates.
pub mod predicate {
    use super::Predicate;
    use capstan_core::Resource;

    /// Lets updates through only when `metadata.generation` changed, i.e. the spec changed: status
    /// writes (including the controller's own) do not wake it. Creates and deletes pass.
    #[derive(Clone, Copy, Debug, Default)]
    pub struct GenerationChanged;

    impl<K: Resource> Predicate<K> for GenerationChanged {
        fn on_update(&self, old: &K, new: &K) -> bool {
            old.meta().generation != new.meta().generation
        }
    }

    /// Lets updates through only when the labels changed. Creates and deletes pass.
    #[derive(Clone, Copy, Debug, Default)]
    pub struct LabelsChanged;

    impl<K: Resource> Predicate<K> for LabelsChanged {
        fn on_update(&self, old: &K, new: &K) -> bool {
            old.meta().labels != new.meta().labels
        }
    }

    /// Lets updates through only when the annotations changed. Creates and deletes pass.
    #[derive(Clone, Copy, Debug, Default)]
    pub struct AnnotationsChanged;

    impl<K: Resource> Predicate<K> for AnnotationsChanged {
        fn on_update(&self, old: &K, new: &K) -> bool {
            old.meta().annotations != new.meta().annotations
        }
    }

    /// Either predicate: `or(GenerationChanged, LabelsChanged)` wakes on a spec or a label change.
    pub fn or<A, B>(a: A, b: B) -> Or<A, B> {
        Or(a, b)
    }

    /// The predicate built by [`or`].
    #[derive(Clone, Copy, Debug)]
    pub struct Or<A, B>(A, B);

    impl<K: 'static, A: Predicate<K>, B: Predicate<K>> Predicate<K> for Or<A, B> {
        fn on_create(&self, o: &K) -> bool {
            self.0.on_create(o) || self.1.on_create(o)
        }
        fn on_update(&self, old: &K, new: &K) -> bool {
            self.0.on_update(old, new) || self.1.on_update(old, new)
        }
        fn on_delete(&self, o: &K) -> bool {
            self.0.on_delete(o) || self.1.on_delete(o)
        }
    }
}

/// The queue priority of keys enqueued by a (re)list: below fresh watch events (priority 0), so that
/// the flood of keys after a start or a relist does not delay a user's new change.
pub const LIST_PRIORITY: i32 = -100;

/// The queue priority of a change from `origin`.
fn priority(origin: Origin) -> i32 {
    match origin {
        Origin::List => LIST_PRIORITY,
        Origin::Watch => 0,
    }
}

/// Adds a key to the controller's queue with a priority.
pub(crate) type Enqueue = Arc<dyn Fn(ObjectKey, i32) + Send + Sync>;

/// What a source needs when the manager wires it up.
pub(crate) struct SourceEnv<'a> {
    pub(crate) informers: &'a InformerSet,
    pub(crate) enqueue: Enqueue,
    pub(crate) expectations: Expectations,
}

/// A source of keys, type-erased at registration.
pub(crate) type Source = Box<dyn FnOnce(&SourceEnv<'_>) + Send>;

/// The primary kind: each change that passes every predicate enqueues the object's own key.
pub(crate) fn primary<K: Resource>(predicates: Vec<Arc<dyn Predicate<K>>>) -> Source {
    Box::new(move |env: &SourceEnv<'_>| {
        let enqueue = env.enqueue.clone();
        env.informers
            .get_or_create::<K>()
            .add_handler(Arc::new(move |change: &Change<K>, origin: Origin| {
                let (pass, obj) = match change {
                    Change::Created(o) => (predicates.iter().all(|p| p.on_create(o)), o),
                    Change::Updated { old, new } => (predicates.iter().all(|p| p.on_update(old, new)), new),
                    Change::Deleted(o) => (predicates.iter().all(|p| p.on_delete(o)), o),
                };
                if pass {
                    enqueue(obj.object_key(), priority(origin));
                }
            }));
    })
}

/// The key of `child`'s controller owner when that owner is of kind `O`.
///
/// Matches the owner reference with `controller: true` by kind and API group (any version, as
/// Kubernetes' garbage collector does). The owner lives in the child's namespace, or is
/// cluster-scoped.
pub fn controller_owner_key<O: Resource, C: Resource>(child: &C) -> Option<ObjectKey> {
    let owner = child
        .meta()
        .owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))?;
    let group = owner.api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
    if owner.kind != O::KIND || group != O::GROUP {
        return None;
    }
    let namespace = if O::NAMESPACED {
        child.meta().namespace.clone().unwrap_or_default()
    } else {
        String::new()
    };
    Some(ObjectKey::new(namespace, owner.name.clone()))
}

/// A controller owner reference to `owner`, for a child's `metadata.ownerReferences`
/// (`controller: true`, `blockOwnerDeletion: true`). `None` when the owner has no uid yet (it was
/// never stored).
pub fn controller_reference<O: Resource>(owner: &O) -> Option<OwnerReference> {
    let meta = owner.meta();
    Some(OwnerReference {
        api_version: O::type_key().api_version(),
        kind: O::KIND.to_owned(),
        name: meta.name.clone()?,
        uid: meta.uid.clone()?,
        controller: Some(true),
        block_owner_deletion: Some(true),
    })
}

/// An owned kind: each change enqueues the child's controller owner of kind `O`, and feeds the
/// controller's [`Expectations`].
pub(crate) fn owned<O: Resource, C: Resource>() -> Source {
    Box::new(move |env: &SourceEnv<'_>| {
        let enqueue = env.enqueue.clone();
        let exp = env.expectations.clone();
        env.informers
            .get_or_create::<C>()
            .add_handler(Arc::new(move |change: &Change<C>, origin: Origin| {
                let mut keys = BTreeSet::new();
                match change {
                    Change::Created(c) => {
                        if let Some(k) = controller_owner_key::<O, C>(c) {
                            exp.creation_observed(&k);
                            keys.insert(k);
                        }
                    }
                    Change::Updated { old, new } => {
                        let new_key = controller_owner_key::<O, C>(new);
                        if old.meta().deletion_timestamp.is_none()
                            && new.meta().deletion_timestamp.is_some()
                            && let Some(k) = &new_key
                        {
                            exp.deletion_observed(k);
                        }
                        keys.extend(controller_owner_key::<O, C>(old));
                        keys.extend(new_key);
                    }
                    Change::Deleted(c) => {
                        if let Some(k) = controller_owner_key::<O, C>(c) {
                            if c.meta().deletion_timestamp.is_none() {
                                exp.deletion_observed(&k);
                            }
                            keys.insert(k);
                        }
                    }
                }
                keys.into_iter().for_each(|k| enqueue(k, priority(origin)));
            }));
    })
}

/// A mapping function from an object of a watched kind to the keys it affects.
pub(crate) type Mapper<W> = Arc<dyn Fn(&W) -> Vec<ObjectKey> + Send + Sync>;

/// A watched kind: each change enqueues whatever `mapper` returns for the old and the new state.
pub(crate) fn watched<W: Resource>(mapper: Mapper<W>) -> Source {
    Box::new(move |env: &SourceEnv<'_>| {
        let enqueue = env.enqueue.clone();
        env.informers
            .get_or_create::<W>()
            .add_handler(Arc::new(move |change: &Change<W>, origin: Origin| {
                let mut keys = BTreeSet::new();
                match change {
                    Change::Created(o) | Change::Deleted(o) => keys.extend(mapper(o)),
                    Change::Updated { old, new } => {
                        keys.extend(mapper(old));
                        keys.extend(mapper(new));
                    }
                }
                keys.into_iter().for_each(|k| enqueue(k, priority(origin)));
            }));
    })
}

#[cfg(test)]
mod tests {
    use super::predicate::*;
    use super::*;
    use k8s_openapi::api::apps::v1::ReplicaSet;
    use k8s_openapi::api::core::v1::Pod;

    fn pod_owned_by(kind: &str, api_version: &str, controller: bool) -> Pod {
        let mut p = Pod::default();
        p.metadata.namespace = Some("ns".into());
        p.metadata.name = Some("web-1".into());
        p.metadata.owner_references = Some(vec![OwnerReference {
            api_version: api_version.into(),
            kind: kind.into(),
            name: "web".into(),
            uid: "u".into(),
            controller: Some(controller),
            ..Default::default()
        }]);
        p
    }

    #[test]
    fn a_child_maps_to_its_controller_owner_of_the_right_kind_only() {
        let p = pod_owned_by("ReplicaSet", "apps/v1", true);
        assert_eq!(
            controller_owner_key::<ReplicaSet, Pod>(&p),
            Some(ObjectKey::new("ns", "web"))
        );
        assert_eq!(controller_owner_key::<Pod, Pod>(&p), None);
        let not_controller = pod_owned_by("ReplicaSet", "apps/v1", false);
        assert_eq!(controller_owner_key::<ReplicaSet, Pod>(&not_controller), None);
        let other_group = pod_owned_by("ReplicaSet", "example.com/v1", true);
        assert_eq!(controller_owner_key::<ReplicaSet, Pod>(&other_group), None);
    }

    #[test]
    fn generation_changed_ignores_status_only_updates_but_passes_creates() {
        let mut a = Pod::default();
        a.metadata.generation = Some(1);
        let mut b = a.clone();
        b.metadata.resource_version = Some("2".into());
        assert!(!Predicate::<Pod>::on_update(&GenerationChanged, &a, &b));
        b.metadata.generation = Some(2);
        assert!(Predicate::<Pod>::on_update(&GenerationChanged, &a, &b));
        assert!(Predicate::<Pod>::on_create(&GenerationChanged, &a));
    }

    #[test]
    fn or_passes_when_either_side_passes() {
        let a = Pod::default();
        let mut b = a.clone();
        b.metadata.labels = Some([("app".to_string(), "web".to_string())].into());
        let p = or(GenerationChanged, LabelsChanged);
        assert!(Predicate::<Pod>::on_update(&p, &a, &b));
        assert!(!Predicate::<Pod>::on_update(&p, &a, &a));
        assert!(!Predicate::<Pod>::on_update(&AnnotationsChanged, &a, &b));
    }
}
