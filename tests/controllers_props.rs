//! Property: random sequences of user actions on a Deployment — scale, template change, killing a
//! pod by hand, pause and resume — always converge to the spec once the Deployment is resumed, and
//! at every pod event the number of active pods stays within the largest `replicas + maxSurge` the
//! user ever asked for. Every built-in controller runs on a MemoryStore with a paused clock.

mod controllers_support;

use std::time::Duration;

use capstan_store::DeleteParams;
use controllers_support::*;
use proptest::prelude::*;
use serde_json::json;

#[derive(Clone, Debug)]
enum Op {
    Scale(i32),
    Image(u8),
    Kill(usize),
    Pause(bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0i32..6).prop_map(Op::Scale),
        (0u8..3).prop_map(Op::Image),
        (0usize..8).prop_map(Op::Kill),
        any::<bool>().prop_map(Op::Pause),
    ]
}

const SURGE: i32 = 1;

async fn run(ops: Vec<(Op, u64)>) {
    let c = Cluster::start().await;
    let strategy =
        json!({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": SURGE, "maxUnavailable": 1}}});
    c.create_deployment(deployment("web", 3, "img:0", strategy)).await;
    c.wait_rolled_out("web", 3).await;
    let max_replicas = ops
        .iter()
        .filter_map(|(o, _)| if let Op::Scale(n) = o { Some(*n) } else { None })
        .chain([3])
        .max()
        .unwrap_or(3);
    let bound = usize::try_from(max_replicas + SURGE).unwrap_or(0);
    let watcher = BoundsWatcher::start(&c.store, bound, 0).await;
    let (mut replicas, mut image) = (3, 0u8);
    for (op, pause_ms) in ops {
        match op {
            Op::Scale(n) => {
                replicas = n;
                c.patch_deployment("web", json!({"spec": {"replicas": n}})).await;
            }
            Op::Image(i) => {
                image = i;
                let containers = json!([{"name": "main", "image": format!("img:{i}")}]);
                c.patch_deployment(
                    "web",
                    json!({"spec": {"template": {"spec": {"containers": containers}}}}),
                )
                .await;
            }
            Op::Kill(i) => {
                let s = c.snapshot().await;
                let active = s.active_pods();
                if !active.is_empty() {
                    let name = active[i % active.len()].metadata.name.clone().unwrap_or_default();
                    let _ = c.pods().delete(&name, &DeleteParams::default()).await;
                }
            }
            Op::Pause(p) => c.patch_deployment("web", json!({"spec": {"paused": p}})).await,
        }
        tokio::time::sleep(Duration::from_millis(pause_ms)).await;
    }
    c.patch_deployment("web", json!({"spec": {"paused": false}})).await;
    let want = format!("img:{image}");
    c.wait("converged to the spec", Duration::from_secs(600), |s| {
        s.rolled_out("web", replicas)
            && s.active_pods().iter().all(|p| {
                p.spec
                    .as_ref()
                    .and_then(|s| s.containers.first())
                    .and_then(|c| c.image.as_deref())
                    == Some(want.as_str())
            })
    })
    .await;
    watcher.assert_held();
    c.stop().await;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_user_actions_converge_within_the_surge_bound(ops in prop::collection::vec((op(), 0u64..4_000), 1..7)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().expect("runtime");
        rt.block_on(run(ops));
    }
}
