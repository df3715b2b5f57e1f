//! Model check of the store: random sequences of creates, spec/label/status updates (from several
//! clients holding possibly stale copies), finalizer changes and deletes, with watchers started at
//! random past revisions and list-then-watch readers, checked step by step against a simple model.
//!
//! Properties:
//! - every write succeeds or fails exactly as the model says (NotFound, AlreadyExists, Conflict on a
//!   stale resourceVersion, Invalid for a finalizer added during deletion), and a failed or no-op
//!   write does not move the revision;
//! - generation bumps exactly when the spec changes; status writes change only status;
//! - finalizers hold a deleted object (deletionTimestamp set) until an update empties them;
//! - each watcher sees exactly the model's changes after its start revision, in order, filtered by
//!   its selector (enter = Added, leave = Deleted), or `Gone` if its start was compacted;
//! - a list at revision R plus a watch from R reconstructs the final state.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use capstan_core::{LabelSelector, ObjectKey, TypeKey};
use capstan_store::{
    DeleteOutcome, DeleteParams, ListParams, MemoryStore, PropagationPolicy, Revision, Store, StoreError, StoreOptions,
    StoredObject, Subresource, WatchEvent, WatchParams, WatchStream,
};
use futures::{FutureExt, StreamExt};
use proptest::prelude::*;
use serde_json::{Value, json};

const NAMES: [&str; 4] = ["a", "b", "c", "d"];
const APPS: [&str; 3] = ["a", "b", "c"];
const SELECTORS: [&str; 3] = ["", "app=a", "app in (a,b)"];
const CLIENTS: usize = 3;
const HISTORY: usize = 16;

fn kind() -> TypeKey {
    TypeKey::new("example.com", "v1", "Widget", "widgets", true)
}

fn key(name: usize) -> ObjectKey {
    ObjectKey::new("ns", NAMES[name])
}

#[derive(Clone, Debug)]
enum Op {
    Create { name: usize, app: usize, finalizer: bool },
    Refresh { client: usize, name: usize },
    SetSize { client: usize, name: usize, size: i64 },
    SetApp { client: usize, name: usize, app: usize },
    SetStatus { client: usize, name: usize, value: i64 },
    AddFinalizer { client: usize, name: usize },
    RemoveFinalizers { client: usize, name: usize },
    Delete { name: usize, policy: usize },
    Watch { back: u64, selector: usize },
    ListWatch { selector: usize },
}

fn op() -> impl Strategy<Value = Op> {
    let name = 0..NAMES.len();
    let client = 0..CLIENTS;
    prop_oneof![
        3 => (name.clone(), 0..APPS.len(), any::<bool>())
            .prop_map(|(name, app, finalizer)| Op::Create { name, app, finalizer }),
        2 => (client.clone(), name.clone()).prop_map(|(client, name)| Op::Refresh { client, name }),
        3 => (client.clone(), name.clone(), 0..3i64).prop_map(|(client, name, size)| Op::SetSize { client, name, size }),
        2 => (client.clone(), name.clone(), 0..APPS.len()).prop_map(|(client, name, app)| Op::SetApp { client, name, app }),
        2 => (client.clone(), name.clone(), 0..3i64)
            .prop_map(|(client, name, value)| Op::SetStatus { client, name, value }),
        1 => (client.clone(), name.clone()).prop_map(|(client, name)| Op::AddFinalizer { client, name }),
        2 => (client, name.clone()).prop_map(|(client, name)| Op::RemoveFinalizers { client, name }),
        2 => (name, 0..4usize).prop_map(|(name, policy)| Op::Delete { name, policy }),
        1 => (0..24u64, 0..SELECTORS.len()).prop_map(|(back, selector)| Op::Watch { back, selector }),
        1 => (0..SELECTORS.len()).prop_map(|selector| Op::ListWatch { selector }),
    ]
}

/// The model of one object.
#[derive(Clone, Debug, PartialEq)]
struct Obj {
    rev: Revision,
    app: usize,
    size: i64,
    status: Option<i64>,
    finalizers: Vec<String>,
    terminating: bool,
    generation: i64,
}

/// One change in the model's history.
#[derive(Clone, Debug)]
struct Change {
    rev: Revision,
    name: usize,
    prev: Option<Obj>,
    new: Obj,
    removed: bool,
}

#[derive(Default)]
struct Model {
    rev: Revision,
    objects: BTreeMap<usize, Obj>,
    log: Vec<Change>,
}

impl Model {
    fn compacted(&self) -> Revision {
        self.rev.saturating_sub(HISTORY as u64)
    }

    fn commit(&mut self, name: usize, new: Option<Obj>, removed: bool) -> Revision {
        self.rev += 1;
        let prev = self.objects.get(&name).cloned();
        let mut new = new.or_else(|| prev.clone()).expect("a change has an object");
        new.rev = self.rev;
        if removed {
            self.objects.remove(&name);
        } else {
            self.objects.insert(name, new.clone());
        }
        self.log.push(Change {
            rev: self.rev,
            name,
            prev,
            new,
            removed,
        });
        self.rev
    }
}

fn selector_matches(selector: usize, app: usize) -> bool {
    match selector {
        0 => true,
        1 => app == 0,
        _ => app <= 1,
    }
}

/// What a watcher should see for `change`.
fn expected_event(selector: usize, change: &Change) -> Option<(&'static str, Revision, usize)> {
    let before = change.prev.as_ref().is_some_and(|p| selector_matches(selector, p.app));
    let after = selector_matches(selector, change.new.app);
    let kind = match (change.removed, before, after) {
        (true, true, _) => "Deleted",
        (true, false, _) => return None,
        (false, true, true) => "Modified",
        (false, false, true) => "Added",
        (false, true, false) => "Deleted",
        (false, false, false) => return None,
    };
    Some((kind, change.rev, change.name))
}

fn observed(event: &WatchEvent) -> (&'static str, Revision, usize) {
    let (kind, o) = match event {
        WatchEvent::Added(o) => ("Added", o),
        WatchEvent::Modified(o) => ("Modified", o),
        WatchEvent::Deleted(o) => ("Deleted", o),
        WatchEvent::Bookmark(r) => panic!("unexpected bookmark at {r}"),
    };
    let name = NAMES.iter().position(|n| *n == o.key().name).expect("a known name");
    (kind, o.revision(), name)
}

/// The model's view of a stored object.
fn as_model(o: &StoredObject) -> Obj {
    let j = o.json();
    let app = j["metadata"]["labels"]["app"].as_str().unwrap_or_default();
    Obj {
        rev: o.revision(),
        app: APPS.iter().position(|a| *a == app).expect("a known app"),
        size: j["spec"]["size"].as_i64().expect("spec.size"),
        status: j["status"]["value"].as_i64(),
        finalizers: j["metadata"]["finalizers"]
            .as_array()
            .map(|a| a.iter().filter_map(|f| f.as_str().map(str::to_owned)).collect())
            .unwrap_or_default(),
        terminating: j["metadata"]["deletionTimestamp"].is_string(),
        generation: j["metadata"]["generation"].as_i64().expect("generation"),
    }
}

struct Watcher {
    from: Revision,
    selector: usize,
    stream: WatchStream,
    /// For list-then-watch readers: the listed state (name → revision).
    snapshot: Option<BTreeMap<usize, Revision>>,
}

async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let store = Arc::new(MemoryStore::with_options(StoreOptions {
        history_limit: HISTORY,
        ..Default::default()
    }));
    let mut model = Model::default();
    let mut caches: HashMap<(usize, usize), Value> = HashMap::new();
    let mut watchers: Vec<Watcher> = Vec::new();

    for op in ops {
        let before = store.current_revision().await.unwrap();
        match op {
            Op::Create { name, app, finalizer } => {
                let mut obj = json!({
                    "metadata": {"name": NAMES[name], "namespace": "ns", "labels": {"app": APPS[app]}},
                    "spec": {"size": 0},
                    "status": {"value": 99},
                });
                if finalizer {
                    obj["metadata"]["finalizers"] = json!(["example.com/keep"]);
                }
                let result = store.create(&kind(), obj).await;
                if model.objects.contains_key(&name) {
                    prop_assert!(matches!(result, Err(StoreError::AlreadyExists { .. })), "{result:?}");
                } else {
                    let created = result.map_err(|e| TestCaseError::fail(e.to_string()))?;
                    let new = Obj {
                        rev: 0,
                        app,
                        size: 0,
                        status: None,
                        finalizers: if finalizer {
                            vec!["example.com/keep".into()]
                        } else {
                            vec![]
                        },
                        terminating: false,
                        generation: 1,
                    };
                    model.commit(name, Some(new), false);
                    prop_assert_eq!(as_model(&created), model.objects[&name].clone());
                }
            }
            Op::Refresh { client, name } => match store.get(&kind(), &key(name)).await {
                Ok(o) => {
                    prop_assert_eq!(as_model(&o), model.objects[&name].clone());
                    caches.insert((client, name), o.json().clone());
                }
                Err(e) => {
                    prop_assert!(matches!(e, StoreError::NotFound { .. }), "{e}");
                    prop_assert!(!model.objects.contains_key(&name));
                }
            },
            Op::SetSize { client, name, .. }
            | Op::SetApp { client, name, .. }
            | Op::SetStatus { client, name, .. }
            | Op::AddFinalizer { client, name }
            | Op::RemoveFinalizers { client, name } => {
                let Some(cached) = caches.get(&(client, name)).cloned() else {
                    continue;
                };
                let cached_rev: Revision = cached["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap();
                let mut sent = cached.clone();
                let mut subresource = Subresource::Main;
                let current = model.objects.get(&name).cloned();
                let mut next = current.clone();
                let finalizer = format!("example.com/client-{client}");
                match &op {
                    Op::SetSize { size, .. } => {
                        sent["spec"]["size"] = json!(size);
                        if let Some(n) = &mut next {
                            if n.size != *size {
                                n.generation += 1;
                            }
                            n.size = *size;
                        }
                    }
                    Op::SetApp { app, .. } => {
                        sent["metadata"]["labels"]["app"] = json!(APPS[*app]);
                        if let Some(n) = &mut next {
                            n.app = *app;
                        }
                    }
                    Op::SetStatus { value, .. } => {
                        subresource = Subresource::Status;
                        sent["status"] = json!({"value": value});
                        sent["spec"]["size"] = json!(77);
                        if let Some(n) = &mut next {
                            n.status = Some(*value);
                        }
                    }
                    Op::AddFinalizer { .. } => {
                        let mut list = sent["metadata"]["finalizers"].as_array().cloned().unwrap_or_default();
                        if !list.contains(&json!(finalizer)) {
                            list.push(json!(finalizer));
                        }
                        sent["metadata"]["finalizers"] = Value::Array(list);
                        if let Some(n) = &mut next
                            && !n.finalizers.contains(&finalizer)
                        {
                            n.finalizers.push(finalizer.clone());
                        }
                    }
                    _ => {
                        sent["metadata"]["finalizers"] = json!([]);
                        if let Some(n) = &mut next {
                            n.finalizers.clear();
                        }
                    }
                }
                let result = store.update(&kind(), sent, subresource).await;
                match (current, next) {
                    (None, _) | (_, None) => {
                        prop_assert!(matches!(result, Err(StoreError::NotFound { .. })), "{result:?}")
                    }
                    (Some(cur), Some(_)) if cur.rev != cached_rev => {
                        prop_assert!(matches!(result, Err(StoreError::Conflict { .. })), "{result:?}")
                    }
                    (Some(cur), Some(n)) if cur.terminating && n.finalizers.len() > cur.finalizers.len() => {
                        prop_assert!(matches!(result, Err(StoreError::Invalid(_))), "{result:?}")
                    }
                    (Some(cur), Some(n)) if n == cur => {
                        let o = result.map_err(|e| TestCaseError::fail(e.to_string()))?;
                        prop_assert_eq!(o.revision(), cur.rev, "a no-op update writes nothing");
                        caches.insert((client, name), o.json().clone());
                    }
                    (Some(cur), Some(n)) => {
                        let o = result.map_err(|e| TestCaseError::fail(e.to_string()))?;
                        let removed = cur.terminating && n.finalizers.is_empty();
                        model.commit(name, Some(n.clone()), removed);
                        let mut want = n;
                        want.rev = model.rev;
                        prop_assert_eq!(as_model(&o), want);
                        caches.insert((client, name), o.json().clone());
                    }
                }
            }
            Op::Delete { name, policy } => {
                let propagation_policy = match policy {
                    0 => None,
                    1 => Some(PropagationPolicy::Background),
                    2 => Some(PropagationPolicy::Foreground),
                    _ => Some(PropagationPolicy::Orphan),
                };
                let params = DeleteParams {
                    propagation_policy,
                    ..Default::default()
                };
                let result = store.delete(&kind(), &key(name), &params).await;
                let Some(cur) = model.objects.get(&name).cloned() else {
                    prop_assert!(matches!(result, Err(StoreError::NotFound { .. })), "{result:?}");
                    continue;
                };
                let outcome = result.map_err(|e| TestCaseError::fail(e.to_string()))?;
                let gc = ["orphan", "foregroundDeletion"];
                let mut finalizers: Vec<String> = cur
                    .finalizers
                    .iter()
                    .filter(|f| !gc.contains(&f.as_str()))
                    .cloned()
                    .collect();
                let keep = |f: &str| cur.finalizers.iter().any(|c| c == f);
                match propagation_policy {
                    Some(PropagationPolicy::Orphan) => finalizers.push("orphan".into()),
                    Some(PropagationPolicy::Foreground) => finalizers.push("foregroundDeletion".into()),
                    Some(PropagationPolicy::Background) => {}
                    None => {
                        finalizers.extend(gc.iter().filter(|f| keep(f)).map(|f| f.to_string()));
                    }
                }
                let mut n = cur.clone();
                n.finalizers = finalizers;
                if n.finalizers.is_empty() {
                    model.commit(name, Some(n), true);
                    prop_assert!(matches!(&outcome, DeleteOutcome::Deleted(o) if o.revision() == model.rev));
                } else if !cur.terminating || n.finalizers != cur.finalizers {
                    n.terminating = true;
                    model.commit(name, Some(n), false);
                    let DeleteOutcome::Pending(o) = &outcome else {
                        return Err(TestCaseError::fail("finalizers hold the object"));
                    };
                    prop_assert_eq!(as_model(o), model.objects[&name].clone());
                } else {
                    prop_assert!(matches!(&outcome, DeleteOutcome::Pending(o) if o.revision() == cur.rev));
                }
            }
            Op::Watch { back, selector } => {
                let from = model.rev.saturating_sub(back);
                let params = WatchParams {
                    from_revision: from,
                    label_selector: LabelSelector::parse(SELECTORS[selector]).unwrap(),
                    ..Default::default()
                };
                match store.watch(&kind(), &params).await {
                    Ok(stream) => {
                        prop_assert!(from >= model.compacted(), "watch from compacted {from} served");
                        watchers.push(Watcher {
                            from,
                            selector,
                            stream,
                            snapshot: None,
                        });
                    }
                    Err(StoreError::Gone { .. }) => {
                        prop_assert!(from < model.compacted(), "watch from {from} refused as Gone")
                    }
                    Err(e) => return Err(TestCaseError::fail(e.to_string())),
                }
            }
            Op::ListWatch { selector } => {
                let label_selector = LabelSelector::parse(SELECTORS[selector]).unwrap();
                let list = store
                    .list(
                        &kind(),
                        &ListParams {
                            label_selector: label_selector.clone(),
                            ..Default::default()
                        },
                    )
                    .await
                    .unwrap();
                prop_assert_eq!(list.revision, model.rev);
                let listed: Vec<(usize, Obj)> = list
                    .items
                    .iter()
                    .map(|o| (NAMES.iter().position(|n| *n == o.key().name).unwrap(), as_model(o)))
                    .collect();
                let want: Vec<(usize, Obj)> = model
                    .objects
                    .iter()
                    .filter(|(_, o)| selector_matches(selector, o.app))
                    .map(|(n, o)| (*n, o.clone()))
                    .collect();
                prop_assert_eq!(&listed, &want);
                let params = WatchParams {
                    from_revision: list.revision,
                    label_selector,
                    ..Default::default()
                };
                watchers.push(Watcher {
                    from: list.revision,
                    selector,
                    stream: store.watch(&kind(), &params).await.unwrap(),
                    snapshot: Some(listed.into_iter().map(|(n, o)| (n, o.rev)).collect()),
                });
            }
        }
        let after = store.current_revision().await.unwrap();
        prop_assert_eq!(after, model.rev, "revision after {:?} (was {})", op, before);
    }

    for mut w in watchers {
        let want: Vec<_> = model
            .log
            .iter()
            .filter(|c| c.rev > w.from)
            .filter_map(|c| expected_event(w.selector, c))
            .collect();
        let mut got = Vec::new();
        let mut folded = w.snapshot.clone();
        while got.len() < want.len() {
            let event = tokio::time::timeout(Duration::from_secs(5), w.stream.next())
                .await
                .map_err(|_| TestCaseError::fail(format!("watcher from {} stalled after {got:?}", w.from)))?;
            let event = event
                .ok_or_else(|| TestCaseError::fail("stream ended"))?
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let (kind, rev, name) = observed(&event);
            if let Some(state) = &mut folded {
                if kind == "Deleted" {
                    state.remove(&name);
                } else {
                    state.insert(name, rev);
                }
            }
            got.push((kind, rev, name));
        }
        prop_assert_eq!(
            &got,
            &want,
            "watcher from {} selector {:?}",
            w.from,
            SELECTORS[w.selector]
        );
        let extra = w.stream.next().now_or_never();
        prop_assert!(extra.is_none(), "extra event {extra:?}");
        if let Some(state) = folded {
            let final_state: BTreeMap<usize, Revision> = model
                .objects
                .iter()
                .filter(|(_, o)| selector_matches(w.selector, o.app))
                .map(|(n, o)| (*n, o.rev))
                .collect();
            prop_assert_eq!(state, final_state, "list at {} + watch != final state", w.from);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn store_matches_the_model(ops in proptest::collection::vec(op(), 1..80)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(run(ops))?;
    }
}
