//! The RollingUpdate strategy (E.42–E.44): grow the new RS within the surge room, then shrink the old
//! RSs without dropping below `replicas − maxUnavailable` available pods.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};

use crate::Error;
use crate::deployment::fields::{by_creation, replicas, rs_available, rs_replicas, sum_available, sum_spec};
use crate::deployment::math::{ScaleTo, max_unavailable, reconcile_new_rs};

/// What one RollingUpdate sync does once the new RS exists (E.42–E.43).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RollingPlan {
    /// Scale the new RS to this size, write status and stop this sync (E.42).
    ScaleNew(i32),
    /// Scale these old RSs down (E.43), then write status.
    ScaleDownOld(Vec<ScaleTo>),
    /// Nothing to scale: write status, and run cleanup if the rollout is complete (E.45).
    Idle,
}

/// E.42–E.43 for a Deployment whose new RS exists: first the new RS, then the old RSs.
pub fn rolling_plan(d: &Deployment, new_rs: &ReplicaSet, old: &[&ReplicaSet]) -> Result<RollingPlan, Error> {
    let mut all: Vec<&ReplicaSet> = old.to_vec();
    all.push(new_rs);
    if let Some(size) = reconcile_new_rs(d, &all, new_rs)? {
        return Ok(RollingPlan::ScaleNew(size));
    }
    let down = old_rs_scale_down(d, Some(new_rs), old)?;
    Ok(if down.is_empty() {
        RollingPlan::Idle
    } else {
        RollingPlan::ScaleDownOld(down)
    })
}

/// E.43: how far to scale each old RS down.
///
/// 1. `maxScaledDown = Σ spec − (replicas − maxUnavailable) − (newRS.spec − newRS.available)`; nothing
///    when ≤ 0. 2. Remove unhealthy replicas (`spec − available`) from old RSs, oldest first, up to
///    `maxScaledDown`. 3. Scale the remaining old RSs down, oldest first, by
///    `Σ available − minAvailable` when positive. Returns only the RSs whose size changes.
pub fn old_rs_scale_down(
    d: &Deployment,
    new_rs: Option<&ReplicaSet>,
    old: &[&ReplicaSet],
) -> Result<Vec<ScaleTo>, Error> {
    if sum_spec(old.iter().copied()) == 0 {
        return Ok(Vec::new());
    }
    let mut all: Vec<&ReplicaSet> = old.to_vec();
    all.extend(new_rs);
    let min_available = replicas(d) - max_unavailable(d)?;
    let new_unavailable = new_rs.map(|n| (rs_replicas(n) - rs_available(n)).max(0)).unwrap_or(0);
    let max_scaled_down = sum_spec(all.iter().copied()) - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return Ok(Vec::new());
    }
    let mut sorted = old.to_vec();
    sorted.sort_by(|a, b| by_creation(a, b));
    let mut sizes: Vec<i32> = sorted.iter().map(|rs| rs_replicas(rs)).collect();

    let mut cleaned = 0;
    for (rs, size) in sorted.iter().zip(sizes.iter_mut()) {
        if cleaned >= max_scaled_down {
            break;
        }
        let unhealthy = (*size - rs_available(rs)).max(0);
        if *size == 0 || unhealthy == 0 {
            continue;
        }
        let n = unhealthy.min(max_scaled_down - cleaned);
        *size -= n;
        cleaned += n;
    }

    let available = sum_available(all.iter().copied());
    if available > min_available {
        let total = available - min_available;
        let mut scaled = 0;
        for size in sizes.iter_mut() {
            if scaled >= total {
                break;
            }
            if *size == 0 {
                continue;
            }
            let n = (*size).min(total - scaled);
            *size -= n;
            scaled += n;
        }
    }
    Ok(sorted
        .iter()
        .zip(sizes)
        .filter(|(rs, size)| rs_replicas(rs) != *size)
        .map(|(rs, size)| ScaleTo {
            name: rs.metadata.name.clone().unwrap_or_default(),
            from: rs_replicas(rs),
            to: size,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployment::fields::testing::{deploy, rs};
    use crate::deployment::math::max_surge;
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    use proptest::prelude::*;

    fn set(r: &mut ReplicaSet, spec: i32, avail: i32) {
        if let Some(s) = r.spec.as_mut() {
            s.replicas = Some(spec);
        }
        if let Some(s) = r.status.as_mut() {
            s.replicas = spec;
            s.available_replicas = Some(avail);
            s.ready_replicas = Some(avail);
        }
    }

    #[test]
    fn e42_new_rs_scaled_up_first_and_sync_stops() {
        let d = deploy(4, IntOrString::Int(1), IntOrString::Int(1));
        let old = rs("old", 0, 4, 4);
        let new = rs("new", 1, 0, 0);
        assert_eq!(rolling_plan(&d, &new, &[&old]).ok(), Some(RollingPlan::ScaleNew(1)));
    }

    #[test]
    fn e43_unhealthy_old_replicas_go_first_then_available_above_minimum() {
        // replicas 4, maxUnavailable 1: min available 3. Old A: 2 spec / 1 available, old B: 2/2, new 1/1.
        let d = deploy(4, IntOrString::Int(1), IntOrString::Int(1));
        let a = rs("a", 0, 2, 1);
        let b = rs("b", 1, 2, 2);
        let new = rs("new", 2, 1, 1);
        let plan = old_rs_scale_down(&d, Some(&new), &[&b, &a]).unwrap_or_default();
        // max_scaled_down = 5 - 3 - 0 = 2: A loses its unhealthy one (2 -> 1). Available 4 - 3 = 1 more:
        // A goes 1 -> 0.
        assert_eq!(
            plan,
            vec![ScaleTo {
                name: "a".into(),
                from: 2,
                to: 0
            }]
        );
    }

    #[test]
    fn e43_nothing_when_the_new_rs_is_unavailable() {
        let d = deploy(3, IntOrString::Int(1), IntOrString::Int(0));
        let old = rs("old", 0, 3, 3);
        let new = rs("new", 1, 1, 0);
        assert!(
            old_rs_scale_down(&d, Some(&new), &[&old])
                .unwrap_or_default()
                .is_empty()
        );
        assert_eq!(rolling_plan(&d, &new, &[&old]).ok(), Some(RollingPlan::Idle));
    }

    fn arb_bound() -> impl Strategy<Value = IntOrString> {
        prop_oneof![
            (0i32..4).prop_map(IntOrString::Int),
            prop::sample::select(vec!["0%", "10%", "25%", "50%", "100%"]).prop_map(|s| IntOrString::String(s.into())),
        ]
    }

    proptest! {
        /// E.44: during a rollout without a user scale, Σ spec ≤ replicas + maxSurge and
        /// Σ available ≥ replicas − maxUnavailable at every step; the rollout converges.
        #[test]
        fn e44_rolling_update_keeps_both_bounds_and_converges(
            want in 0i32..15,
            surge in arb_bound(),
            unavailable in arb_bound(),
            growth in prop::collection::vec(0u8..=255, 200),
        ) {
            let d = deploy(want, surge, unavailable);
            let ms = max_surge(&d).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mu = max_unavailable(&d).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut old = rs("old", 0, want, want);
            let mut new = rs("new", 1, 0, 0);
            let mut done = false;
            for g in growth {
                match rolling_plan(&d, &new, &[&old]).map_err(|e| TestCaseError::fail(e.to_string()))? {
                    RollingPlan::ScaleNew(n) => {
                        let avail = rs_available(&new).min(n);
                        set(&mut new, n, avail);
                    }
                    RollingPlan::ScaleDownOld(steps) => {
                        for s in steps {
                            // The RS deletes unavailable pods first (C.25 rule 3).
                            let avail = rs_available(&old).min(s.to);
                            set(&mut old, s.to, avail);
                        }
                    }
                    RollingPlan::Idle => {}
                }
                let total = rs_replicas(&old) + rs_replicas(&new);
                let available = rs_available(&old) + rs_available(&new);
                prop_assert!(total <= want + ms, "total {} > {} + {}", total, want, ms);
                prop_assert!(available >= want - mu, "available {} < {} - {}", available, want, mu);
                if rs_replicas(&old) == 0 && rs_replicas(&new) == want && rs_available(&new) == want {
                    done = true;
                    break;
                }
                // New pods become available: some of the gap, at least one.
                let gap = rs_replicas(&new) - rs_available(&new);
                if gap > 0 {
                    let grow = (gap * i32::from(g) / 255).max(1);
                    let (n, a) = (rs_replicas(&new), rs_available(&new) + grow);
                    set(&mut new, n, a);
                }
            }
            prop_assert!(done, "rollout did not converge");
        }
    }
}
