//! List and watch semantics of the memory engine: key order, paging, history, selectors, Gone.

use super::*;

#[tokio::test]
async fn lists_are_in_key_order_filtered_and_paged_at_one_revision() {
    let store = MemoryStore::new();
    for name in ["c", "a", "d", "b"] {
        let labels = if name == "d" {
            json!({"app": "x"})
        } else {
            json!({"app": "web"})
        };
        store.create(&widgets(), widget(name, labels)).await.unwrap();
    }
    let mut other = widget("a", json!({}));
    other["metadata"]["namespace"] = json!("other");
    store.create(&widgets(), other).await.unwrap();
    let all = store.list(&widgets(), &ListParams::default()).await.unwrap();
    let names: Vec<String> = all.items.iter().map(|o| o.key().to_string()).collect();
    assert_eq!(names, ["ns/a", "ns/b", "ns/c", "ns/d", "other/a"]);
    assert_eq!(all.revision, 5);

    let params = ListParams {
        namespace: Some("ns".into()),
        label_selector: LabelSelector::parse("app=web").unwrap(),
        limit: Some(2),
        ..Default::default()
    };
    let first = store.list(&widgets(), &params).await.unwrap();
    assert_eq!(first.items.len(), 2);
    let token = first.continue_token.clone().expect("more pages");
    // Changes after the first page do not leak into the second.
    store
        .delete(&widgets(), &key("c"), &DeleteParams::default())
        .await
        .unwrap();
    store
        .create(&widgets(), widget("bb", json!({"app": "web"})))
        .await
        .unwrap();
    let second = store
        .list(
            &widgets(),
            &ListParams {
                continue_token: Some(token),
                ..params.clone()
            },
        )
        .await
        .unwrap();
    let names: Vec<&str> = second.items.iter().map(|o| o.key().name.as_str()).collect();
    assert_eq!(names, ["c"]);
    assert_eq!(second.revision, first.revision);
    assert!(second.continue_token.is_none());
}

#[tokio::test]
async fn continue_token_from_a_compacted_revision_is_gone() {
    let store = MemoryStore::new();
    for name in ["a", "b", "c"] {
        store.create(&widgets(), widget(name, json!({}))).await.unwrap();
    }
    let page = store
        .list(
            &widgets(),
            &ListParams {
                limit: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    store.create(&widgets(), widget("d", json!({}))).await.unwrap();
    store.compact(4).await.unwrap();
    let err = store
        .list(
            &widgets(),
            &ListParams {
                continue_token: page.continue_token,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Gone {
                requested: 3,
                oldest: 4
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn watch_replays_history_then_follows_live_changes() {
    let store = MemoryStore::new();
    let a = store.create(&widgets(), widget("a", json!({}))).await.unwrap();
    let mut v = a.json().clone();
    v["spec"]["size"] = json!(2);
    store.update(&widgets(), v, Subresource::Main).await.unwrap();
    let mut w = store
        .watch(
            &widgets(),
            &WatchParams {
                from_revision: 1,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(matches!(next_event(&mut w).await, WatchEvent::Modified(o) if o.revision() == 2));
    store
        .delete(&widgets(), &key("a"), &DeleteParams::default())
        .await
        .unwrap();
    match next_event(&mut w).await {
        WatchEvent::Deleted(o) => {
            assert_eq!(o.revision(), 3);
            assert_eq!(o.json()["spec"]["size"], 2, "the last state");
        }
        other => panic!("expected Deleted, got {other:?}"),
    }
}

#[tokio::test]
async fn watch_turns_selector_enter_and_leave_into_added_and_deleted() {
    let store = MemoryStore::new();
    let a = store
        .create(&widgets(), widget("a", json!({"app": "x"})))
        .await
        .unwrap();
    let mut w = store
        .watch(
            &widgets(),
            &WatchParams {
                from_revision: 1,
                label_selector: LabelSelector::parse("app=web").unwrap(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut v = a.json().clone();
    v["metadata"]["labels"] = json!({"app": "web"});
    let b = store.update(&widgets(), v, Subresource::Main).await.unwrap();
    assert!(matches!(next_event(&mut w).await, WatchEvent::Added(o) if o.revision() == 2));
    let mut v = b.json().clone();
    v["metadata"]["labels"] = json!({"app": "db"});
    store.update(&widgets(), v, Subresource::Main).await.unwrap();
    assert!(
        matches!(next_event(&mut w).await, WatchEvent::Deleted(o) if o.revision() == 3 && o.labels()["app"] == "db")
    );
}

#[tokio::test]
async fn watch_from_a_compacted_revision_is_gone() {
    let store = MemoryStore::with_options(StoreOptions {
        history_limit: 2,
        ..Default::default()
    });
    for name in ["a", "b", "c", "d"] {
        store.create(&widgets(), widget(name, json!({}))).await.unwrap();
    }
    assert_eq!(store.compacted_revision(), 2);
    let params = |from_revision| WatchParams {
        from_revision,
        ..Default::default()
    };
    let err = store.watch(&widgets(), &params(1)).await.err().expect("Gone");
    assert!(
        matches!(
            err,
            StoreError::Gone {
                requested: 1,
                oldest: 2
            }
        ),
        "{err}"
    );
    let mut w = store.watch(&widgets(), &params(2)).await.unwrap();
    assert!(matches!(next_event(&mut w).await, WatchEvent::Added(o) if o.revision() == 3));
}

#[tokio::test]
async fn a_watcher_that_falls_behind_is_ended_with_gone() {
    let store = MemoryStore::with_options(StoreOptions {
        watch_buffer: 4,
        ..Default::default()
    });
    let mut w = store.watch(&widgets(), &WatchParams::default()).await.unwrap();
    for i in 0..10 {
        store
            .create(&widgets(), widget(&format!("w{i}"), json!({})))
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(5), w.next()).await.unwrap() {
            Some(Ok(event)) => seen.push(event.revision()),
            Some(Err(e)) => {
                assert!(matches!(e, StoreError::Gone { .. }), "{e}");
                break;
            }
            None => panic!("ended without Gone"),
        }
    }
    assert!(w.next().await.is_none(), "the stream ends after Gone");
    assert!(seen.len() < 10);
}

#[tokio::test(start_paused = true)]
async fn bookmarks_carry_the_latest_revision() {
    let store = MemoryStore::with_options(StoreOptions {
        bookmark_interval: Duration::from_secs(1),
        ..Default::default()
    });
    store.create(&widgets(), widget("a", json!({}))).await.unwrap();
    let mut w = store
        .watch(
            &widgets(),
            &WatchParams {
                from_revision: 1,
                bookmarks: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // A write of another kind moves the revision; the bookmark reports it.
    store.create(&pods(), pod("p", None)).await.unwrap();
    assert!(matches!(next_event(&mut w).await, WatchEvent::Bookmark(2)));
}
