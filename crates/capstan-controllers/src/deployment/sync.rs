//! The order of one Deployment sync (D.30) as a decision, and the scaling event text.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};

use crate::deployment::fields::is_paused;
use crate::deployment::math::{ScaleTo, is_scaling_event};
use crate::deployment::rollback::rollback_to;

/// Which path a Deployment sync takes after claiming RSs and mapping pods (D.30 steps 5–10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncPath {
    /// The selector is empty: emit Warning `SelectingAll`, set `observedGeneration`, stop (step 2).
    SelectingAll,
    /// `deletionTimestamp` is set: recompute status only (step 5, B.19).
    StatusOnly,
    /// Paused: update the paused condition, then scale, clean up and write status (steps 6–7, G.47).
    Paused,
    /// The rollback annotation is present: run [`crate::deployment::rollback::rollback`] (step 8).
    Rollback,
    /// A scaling event: run [`crate::deployment::math::scale`], then status (step 9).
    Scale,
    /// Roll out with the strategy: [`crate::deployment::rolling`] or [`crate::deployment::recreate`].
    Rollout,
}

/// Chooses the sync path (D.30). `selector_is_empty` is whether the Deployment's selector selects
/// everything; `owned` are the RSs it claimed. Always update the paused condition
/// ([`crate::deployment::status::paused_condition`]) before acting on the path, except for the first two.
pub fn sync_path(d: &Deployment, selector_is_empty: bool, owned: &[&ReplicaSet]) -> SyncPath {
    if selector_is_empty {
        SyncPath::SelectingAll
    } else if d.metadata.deletion_timestamp.is_some() {
        SyncPath::StatusOnly
    } else if is_paused(d) {
        SyncPath::Paused
    } else if rollback_to(d).is_some() {
        SyncPath::Rollback
    } else if is_scaling_event(d, owned) {
        SyncPath::Scale
    } else {
        SyncPath::Rollout
    }
}

/// The Event reason for RS scaling.
pub const SCALING_REPLICA_SET: &str = "ScalingReplicaSet";

/// The Normal event message for scaling an RS, e.g. `Scaled up replica set web-5d4f8b7c9 to 3`;
/// `None` when the size does not change.
pub fn scaling_message(step: &ScaleTo) -> Option<String> {
    let direction = match step.to.cmp(&step.from) {
        std::cmp::Ordering::Greater => "up",
        std::cmp::Ordering::Less => "down",
        std::cmp::Ordering::Equal => return None,
    };
    Some(format!("Scaled {direction} replica set {} to {}", step.name, step.to))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployment::fields::testing::{deploy, rs};
    use crate::util::testing::ts;
    use crate::util::{DESIRED_REPLICAS_ANNOTATION, ROLLBACK_TO_ANNOTATION, set_annotation};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

    fn d() -> Deployment {
        deploy(3, IntOrString::Int(1), IntOrString::Int(0))
    }

    #[test]
    fn d30_paths_in_order() {
        let mut scaled = rs("a", 0, 2, 2);
        set_annotation(&mut scaled.metadata, DESIRED_REPLICAS_ANNOTATION, "2");
        assert_eq!(sync_path(&d(), true, &[]), SyncPath::SelectingAll);
        let mut deleting = d();
        deleting.metadata.deletion_timestamp = Some(Time(ts(0)));
        assert_eq!(sync_path(&deleting, false, &[&scaled]), SyncPath::StatusOnly);
        let mut paused = d();
        if let Some(s) = paused.spec.as_mut() {
            s.paused = Some(true);
        }
        set_annotation(&mut paused.metadata, ROLLBACK_TO_ANNOTATION, "0");
        assert_eq!(sync_path(&paused, false, &[&scaled]), SyncPath::Paused);
        let mut rolling_back = d();
        set_annotation(&mut rolling_back.metadata, ROLLBACK_TO_ANNOTATION, "0");
        assert_eq!(sync_path(&rolling_back, false, &[&scaled]), SyncPath::Rollback);
        assert_eq!(
            sync_path(&d(), false, &[&scaled]),
            SyncPath::Scale,
            "desired 2 != replicas 3 (D.38)"
        );
        assert_eq!(sync_path(&d(), false, &[&rs("b", 0, 3, 3)]), SyncPath::Rollout);
    }

    #[test]
    fn scaling_messages_name_the_direction_and_size() {
        let up = ScaleTo {
            name: "web-5d4f8b7c9".into(),
            from: 1,
            to: 3,
        };
        assert_eq!(
            scaling_message(&up).as_deref(),
            Some("Scaled up replica set web-5d4f8b7c9 to 3")
        );
        let down = ScaleTo {
            name: "web-x".into(),
            from: 3,
            to: 0,
        };
        assert_eq!(
            scaling_message(&down).as_deref(),
            Some("Scaled down replica set web-x to 0")
        );
        assert_eq!(
            scaling_message(&ScaleTo {
                name: "n".into(),
                from: 2,
                to: 2
            }),
            None
        );
    }
}
