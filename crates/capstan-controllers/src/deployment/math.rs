//! Replica arithmetic of the Deployment controller: maxSurge/maxUnavailable (D.40), the new RS's next
//! size (D.33, E.42), scaling events (D.38) and proportional scaling (D.39).

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::Error;
use crate::deployment::fields::{
    by_creation, desired_replicas_annotation, is_active, is_rolling_update, max_replicas_annotation, replicas,
    rs_available, rs_replicas, sum_spec,
};

/// The default `maxSurge` and `maxUnavailable` when a RollingUpdate strategy has none (A.1).
pub const DEFAULT_ROLLING_PERCENT: &str = "25%";

/// `value` (an int, or `"N%"` of `total`) as a count, rounding up or down.
pub fn scaled_value(value: &IntOrString, total: i32, round_up: bool, field: &'static str) -> Result<i32, Error> {
    match value {
        IntOrString::Int(n) => Ok(*n),
        IntOrString::String(s) => {
            let bad = |reason: &str| Error::InvalidIntOrPercent {
                field,
                value: s.clone(),
                reason: reason.to_owned(),
            };
            let digits = s
                .strip_suffix('%')
                .ok_or_else(|| bad("a string must be a percentage like \"25%\""))?;
            let pct: i64 = digits.parse().map_err(|_| bad("the percentage is not an integer"))?;
            let product = pct * i64::from(total);
            let v = if round_up {
                (product + 99).div_euclid(100)
            } else {
                product.div_euclid(100)
            };
            i32::try_from(v).map_err(|_| bad("the value is out of range"))
        }
    }
}

/// ResolveFenceposts (D.40): `maxSurge` rounded up and `maxUnavailable` rounded down against
/// `replicas`; a missing value counts as 0; if both come out 0, `maxUnavailable` becomes 1.
pub fn resolve_fenceposts(
    max_surge: Option<&IntOrString>,
    max_unavailable: Option<&IntOrString>,
    replicas: i32,
) -> Result<(i32, i32), Error> {
    let zero = IntOrString::Int(0);
    let surge = scaled_value(max_surge.unwrap_or(&zero), replicas, true, "maxSurge")?;
    let unavailable = scaled_value(max_unavailable.unwrap_or(&zero), replicas, false, "maxUnavailable")?;
    if surge == 0 && unavailable == 0 {
        return Ok((0, 1));
    }
    Ok((surge, unavailable))
}

fn rolling_params(d: &Deployment) -> (IntOrString, IntOrString) {
    let ru = d
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.rolling_update.as_ref());
    let default = || IntOrString::String(DEFAULT_ROLLING_PERCENT.to_owned());
    match ru {
        Some(ru) => (
            ru.max_surge.clone().unwrap_or_else(default),
            ru.max_unavailable.clone().unwrap_or_else(default),
        ),
        None => (default(), default()),
    }
}

/// The Deployment's `maxSurge` as a count: 0 for Recreate (D.40).
pub fn max_surge(d: &Deployment) -> Result<i32, Error> {
    if !is_rolling_update(d) {
        return Ok(0);
    }
    let (s, u) = rolling_params(d);
    Ok(resolve_fenceposts(Some(&s), Some(&u), replicas(d))?.0)
}

/// The Deployment's `maxUnavailable` as a count: 0 for Recreate or 0 replicas, at most `replicas` (D.40).
pub fn max_unavailable(d: &Deployment) -> Result<i32, Error> {
    let want = replicas(d);
    if !is_rolling_update(d) || want == 0 {
        return Ok(0);
    }
    let (s, u) = rolling_params(d);
    Ok(resolve_fenceposts(Some(&s), Some(&u), want)?.1.min(want))
}

/// NewRSNewReplicas (D.33): the size the new RS should have next. RollingUpdate: its current size plus
/// `min(replicas + maxSurge − Σ spec.replicas, replicas − newRS.spec)`, unchanged when the first term
/// is ≤ 0. Recreate: `replicas`.
pub fn new_rs_new_replicas(d: &Deployment, all: &[&ReplicaSet], new_rs: &ReplicaSet) -> Result<i32, Error> {
    let want = replicas(d);
    if !is_rolling_update(d) {
        return Ok(want);
    }
    let current_new = rs_replicas(new_rs);
    let max_total = want.saturating_add(max_surge(d)?);
    let current_total = sum_spec(all.iter().copied());
    if current_total >= max_total {
        return Ok(current_new);
    }
    let up = (max_total - current_total).min(want - current_new);
    Ok(current_new + up)
}

/// E.42 step 2: the size to set on the new RS, or `None` when it should stay as it is. Scales up by
/// [`new_rs_new_replicas`], never past `replicas`; scales down to `replicas` when above it.
pub fn reconcile_new_rs(d: &Deployment, all: &[&ReplicaSet], new_rs: &ReplicaSet) -> Result<Option<i32>, Error> {
    let want = replicas(d);
    let current = rs_replicas(new_rs);
    if current == want {
        return Ok(None);
    }
    if current > want {
        return Ok(Some(want));
    }
    let next = new_rs_new_replicas(d, all, new_rs)?.min(want);
    Ok((next != current).then_some(next))
}

/// A scaling event (D.38): some active RS's `desired-replicas` annotation differs from `spec.replicas`.
/// RSs without a readable annotation are skipped.
pub fn is_scaling_event(d: &Deployment, all: &[&ReplicaSet]) -> bool {
    let want = replicas(d);
    all.iter()
        .filter(|rs| is_active(rs))
        .any(|rs| desired_replicas_annotation(rs).is_some_and(|desired| desired != want))
}

/// One RS's target size decided by [`scale`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScaleTo {
    /// The RS's name.
    pub name: String,
    /// Its `spec.replicas` now.
    pub from: i32,
    /// The size to set (the RS's replica annotations are refreshed too, D.36).
    pub to: i32,
}

/// Whether the new RS is saturated: its spec, its desired annotation, `spec.replicas` and its
/// available count all agree (D.39).
pub fn is_saturated(d: &Deployment, new_rs: Option<&ReplicaSet>) -> bool {
    let want = replicas(d);
    new_rs.is_some_and(|rs| {
        rs_replicas(rs) == want && desired_replicas_annotation(rs) == Some(want) && rs_available(rs) == want
    })
}

/// `scale()` (D.39): the sizes every RS should be set to after a scaling event. The returned list holds
/// each RS the rule touches (write the size and refresh the replica annotations of each).
///
/// At most one active RS: it gets `replicas` (if none is active: the new RS, else the newest old RS).
/// Saturated new RS: active old RSs go to 0. Otherwise, for RollingUpdate only, proportional scaling.
pub fn scale(d: &Deployment, new_rs: Option<&ReplicaSet>, old: &[&ReplicaSet]) -> Result<Vec<ScaleTo>, Error> {
    let want = replicas(d);
    let to = |rs: &ReplicaSet, n: i32| ScaleTo {
        name: rs.metadata.name.clone().unwrap_or_default(),
        from: rs_replicas(rs),
        to: n,
    };
    let mut all: Vec<&ReplicaSet> = old.to_vec();
    all.extend(new_rs);
    let active: Vec<&ReplicaSet> = all.iter().copied().filter(|rs| is_active(rs)).collect();
    let single = match active.len() {
        0 => new_rs.or_else(|| old.iter().copied().max_by(|a, b| by_creation(a, b))),
        1 => Some(active[0]),
        _ => None,
    };
    if active.len() <= 1 {
        return Ok(single
            .filter(|rs| rs_replicas(rs) != want)
            .map(|rs| vec![to(rs, want)])
            .unwrap_or_default());
    }
    if is_saturated(d, new_rs) {
        let new_name = new_rs.and_then(|n| n.metadata.name.as_deref());
        return Ok(active
            .iter()
            .filter(|rs| rs.metadata.name.as_deref() != new_name)
            .map(|rs| to(rs, 0))
            .collect());
    }
    if !is_rolling_update(d) {
        return Ok(Vec::new());
    }
    let surge = max_surge(d)?;
    let allowed = if want > 0 { want.saturating_add(surge) } else { 0 };
    let to_add = allowed - sum_spec(active.iter().copied());
    let mut sorted = active.clone();
    sorted.sort_by(|a, b| {
        rs_replicas(b).cmp(&rs_replicas(a)).then_with(|| {
            if to_add > 0 {
                by_creation(b, a)
            } else {
                by_creation(a, b)
            }
        })
    });
    let status_replicas = d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0);
    let mut added = 0i32;
    let mut sizes: Vec<i32> = Vec::with_capacity(sorted.len());
    for rs in &sorted {
        let current = rs_replicas(rs);
        let proportion = if to_add == 0 || to_add == added || current == 0 {
            0
        } else {
            let fraction = if want == 0 {
                -current
            } else {
                let annotated = max_replicas_annotation(rs).unwrap_or(status_replicas);
                if annotated == 0 {
                    0
                } else {
                    let exact = f64::from(current) * f64::from(allowed) / f64::from(annotated);
                    // ok: |exact| is bounded by i32::MAX² / 1, far inside f64's exact range for rounding.
                    (exact.round() as i64 - i64::from(current)).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
                }
            };
            let remaining = to_add - added;
            if to_add > 0 {
                fraction.min(remaining)
            } else {
                fraction.max(remaining)
            }
        };
        added += proportion;
        sizes.push(current + proportion);
    }
    if let Some(first) = sizes.first_mut()
        && to_add != 0
    {
        *first = (*first + to_add - added).max(0);
    }
    Ok(sorted.iter().zip(sizes).map(|(rs, n)| to(rs, n)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployment::fields::testing::{deploy, rs};
    use crate::util::{DESIRED_REPLICAS_ANNOTATION, MAX_REPLICAS_ANNOTATION, set_annotation};
    use k8s_openapi::api::apps::v1::DeploymentStrategy;
    use proptest::prelude::*;

    fn pct(s: &str) -> IntOrString {
        IntOrString::String(s.into())
    }

    fn annotated(mut r: ReplicaSet, desired: i32, max: i32) -> ReplicaSet {
        set_annotation(&mut r.metadata, DESIRED_REPLICAS_ANNOTATION, &desired.to_string());
        set_annotation(&mut r.metadata, MAX_REPLICAS_ANNOTATION, &max.to_string());
        r
    }

    fn recreate(mut d: Deployment) -> Deployment {
        if let Some(s) = d.spec.as_mut() {
            s.strategy = Some(DeploymentStrategy {
                type_: Some("Recreate".into()),
                rolling_update: None,
            });
        }
        d
    }

    #[test]
    fn d40_surge_rounds_up_unavailable_rounds_down() {
        assert_eq!(
            resolve_fenceposts(Some(&pct("25%")), Some(&pct("25%")), 10).ok(),
            Some((3, 2))
        );
        assert_eq!(
            resolve_fenceposts(Some(&pct("25%")), Some(&pct("25%")), 1).ok(),
            Some((1, 0))
        );
        assert_eq!(
            resolve_fenceposts(Some(&IntOrString::Int(2)), Some(&IntOrString::Int(0)), 5).ok(),
            Some((2, 0))
        );
    }

    #[test]
    fn d40_both_zero_means_max_unavailable_one() {
        assert_eq!(
            resolve_fenceposts(Some(&pct("10%")), Some(&pct("10%")), 3).ok(),
            Some((1, 0))
        );
        assert_eq!(
            resolve_fenceposts(Some(&pct("0%")), Some(&IntOrString::Int(0)), 3).ok(),
            Some((0, 1))
        );
        assert_eq!(resolve_fenceposts(None, None, 3).ok(), Some((0, 1)));
    }

    #[test]
    fn d40_invalid_percent_is_a_typed_error() {
        assert!(matches!(
            resolve_fenceposts(Some(&pct("abc")), None, 3),
            Err(Error::InvalidIntOrPercent { field: "maxSurge", .. })
        ));
        assert!(resolve_fenceposts(None, Some(&pct("x%")), 3).is_err());
    }

    #[test]
    fn d40_unavailable_is_capped_at_replicas_and_zero_for_zero_replicas_or_recreate() {
        let d = deploy(2, IntOrString::Int(1), IntOrString::Int(5));
        assert_eq!(max_unavailable(&d).ok(), Some(2));
        assert_eq!(
            max_unavailable(&deploy(0, IntOrString::Int(1), IntOrString::Int(5))).ok(),
            Some(0)
        );
        let r = recreate(deploy(4, IntOrString::Int(1), IntOrString::Int(1)));
        assert_eq!((max_surge(&r).ok(), max_unavailable(&r).ok()), (Some(0), Some(0)));
    }

    #[test]
    fn d33_new_rs_grows_by_the_surge_room_but_not_past_replicas() {
        let d = deploy(10, pct("25%"), pct("25%"));
        let old = rs("old", 0, 10, 10);
        let new = rs("new", 1, 0, 0);
        assert_eq!(new_rs_new_replicas(&d, &[&old, &new], &new).ok(), Some(3));
        let new2 = rs("new", 1, 3, 0);
        assert_eq!(
            new_rs_new_replicas(&d, &[&old, &new2], &new2).ok(),
            Some(3),
            "no room: unchanged"
        );
        let old_small = rs("old", 0, 1, 1);
        let new3 = rs("new", 1, 8, 8);
        assert_eq!(
            new_rs_new_replicas(&d, &[&old_small, &new3], &new3).ok(),
            Some(10),
            "capped at replicas"
        );
        let r = recreate(d);
        assert_eq!(new_rs_new_replicas(&r, &[&old, &new], &new).ok(), Some(10));
    }

    #[test]
    fn e42_new_rs_above_replicas_is_scaled_down_to_replicas() {
        let d = deploy(3, pct("25%"), pct("25%"));
        let new = rs("new", 1, 5, 5);
        assert_eq!(reconcile_new_rs(&d, &[&new], &new).ok(), Some(Some(3)));
        let exact = rs("new", 1, 3, 3);
        assert_eq!(reconcile_new_rs(&d, &[&exact], &exact).ok(), Some(None));
    }

    #[test]
    fn d38_scaling_event_is_an_active_rs_with_a_different_desired_annotation() {
        let d = deploy(5, pct("25%"), pct("25%"));
        let same = annotated(rs("a", 0, 3, 3), 5, 7);
        let other = annotated(rs("b", 0, 2, 2), 4, 5);
        let inactive = annotated(rs("c", 0, 0, 0), 4, 5);
        assert!(!is_scaling_event(&d, &[&same, &inactive]));
        assert!(is_scaling_event(&d, &[&same, &other]));
        assert!(
            !is_scaling_event(&d, &[&rs("plain", 0, 3, 3)]),
            "no annotation: not an event"
        );
    }

    #[test]
    fn d39_single_active_rs_gets_all_replicas() {
        let d = deploy(7, pct("25%"), pct("25%"));
        let a = rs("a", 0, 3, 3);
        let idle = rs("b", 1, 0, 0);
        let plan = scale(&d, Some(&idle), &[&a]).unwrap_or_default();
        assert_eq!(
            plan,
            vec![ScaleTo {
                name: "a".into(),
                from: 3,
                to: 7
            }]
        );
        let none_active = scale(&d, None, &[&rs("x", 0, 0, 0), &rs("y", 5, 0, 0)]).unwrap_or_default();
        assert_eq!(none_active[0].name, "y", "the newest old RS when there is no new RS");
        let prefer_new = scale(&d, Some(&idle), &[&rs("x", 0, 0, 0)]).unwrap_or_default();
        assert_eq!(prefer_new[0].name, "b");
    }

    #[test]
    fn d39_saturated_new_rs_scales_old_to_zero() {
        let d = deploy(4, pct("25%"), pct("25%"));
        let new = annotated(rs("new", 5, 4, 4), 4, 5);
        let old = rs("old", 0, 1, 1);
        let plan = scale(&d, Some(&new), &[&old]).unwrap_or_default();
        assert_eq!(
            plan,
            vec![ScaleTo {
                name: "old".into(),
                from: 1,
                to: 0
            }]
        );
    }

    #[test]
    fn d39_proportional_scaling_mid_rollout() {
        // 10 replicas, surge 3: old 8 + new 5 = 13 = allowed. Scale to 20: allowed 25 (surge 5).
        let d = deploy(20, pct("25%"), pct("25%"));
        let old = annotated(rs("old", 0, 8, 8), 10, 13);
        let new = annotated(rs("new", 5, 5, 0), 10, 13);
        let plan = scale(&d, Some(&new), &[&old]).unwrap_or_default();
        let total: i32 = plan.iter().map(|s| s.to).sum();
        assert_eq!(total, 25);
        let get = |n: &str| plan.iter().find(|s| s.name == n).map(|s| s.to);
        assert_eq!(get("old"), Some(15)); // round(8 * 25 / 13) = 15
        assert_eq!(get("new"), Some(10)); // round(5 * 25 / 13) = 10
    }

    #[test]
    fn d39_missing_max_annotation_uses_status_replicas_and_leftover_goes_to_the_largest() {
        let mut d = deploy(4, IntOrString::Int(0), IntOrString::Int(1));
        d.status = Some(k8s_openapi::api::apps::v1::DeploymentStatus {
            replicas: Some(6),
            ..Default::default()
        });
        let a = rs("a", 0, 3, 3);
        let b = rs("b", 1, 3, 3);
        let plan = scale(&d, Some(&b), &[&a]).unwrap_or_default();
        // to_add = 4 - 6 = -2; each gets round(3*4/6)-3 = -1.
        assert_eq!(plan.iter().map(|s| s.to).sum::<i32>(), 4);
        assert!(plan.iter().all(|s| s.to == 2));
    }

    proptest! {
        #[test]
        fn d39_proportional_scaling_sums_to_allowed_and_never_goes_negative(
            sizes in prop::collection::vec(0i32..50, 2..5),
            new_replicas in 0i32..100,
            surge in 0i32..5,
        ) {
            // A consistent mid-rollout state: the RSs were last scaled to a total of old_max.
            let d = deploy(new_replicas, IntOrString::Int(surge), IntOrString::Int(1));
            let old_max: i32 = sizes.iter().sum();
            let old_replicas = (old_max - surge).max(0);
            let rss: Vec<ReplicaSet> = sizes.iter().enumerate()
                .map(|(i, s)| annotated(rs(&format!("rs{i}"), i as i64, *s, *s), old_replicas, old_max))
                .collect();
            let (last, olds) = rss.split_last().ok_or_else(|| TestCaseError::fail("no rs"))?;
            let olds: Vec<&ReplicaSet> = olds.iter().collect();
            let plan = scale(&d, Some(last), &olds).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let active = sizes.iter().filter(|s| **s > 0).count();
            prop_assert!(plan.iter().all(|s| s.to >= 0));
            if active > 1 && !is_saturated(&d, Some(last)) {
                let allowed = if new_replicas > 0 { new_replicas + surge } else { 0 };
                let total: i32 = plan.iter().map(|s| s.to).sum();
                prop_assert_eq!(total, allowed);
            }
        }
    }
}
