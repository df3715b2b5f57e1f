//! Tests of [`super`]: D.31–D.37.

use super::*;
use crate::deployment::fields::testing::{deploy, rs, tmpl};
use crate::deployment::fields::{rs_replicas, sum_spec};
use k8s_openapi::api::apps::v1::DeploymentStatus;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

fn pct(s: &str) -> IntOrString {
    IntOrString::String(s.into())
}

fn with_template(mut r: ReplicaSet, image: &str, hash: &str) -> ReplicaSet {
    let mut t = tmpl(image);
    if let Some(l) = t.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        l.insert(POD_TEMPLATE_HASH_LABEL.into(), hash.into());
    }
    if let Some(s) = r.spec.as_mut() {
        s.template = Some(t);
    }
    r
}

fn with_revision(mut r: ReplicaSet, rev: &str) -> ReplicaSet {
    set_annotation(&mut r.metadata, REVISION_ANNOTATION, rev);
    r
}

#[test]
fn d31_new_rs_is_the_oldest_with_an_equal_template_ignoring_the_hash() {
    let d = deploy(3, pct("25%"), pct("25%"));
    let a = with_template(rs("a", 10, 1, 1), "nginx:1", "h1");
    let b = with_template(rs("b", 5, 1, 1), "nginx:1", "h2");
    let c = with_template(rs("c", 1, 1, 1), "nginx:0", "h3");
    let (new_rs, old) = split_new_and_old(&d, &[&a, &b, &c]);
    assert_eq!(new_rs.and_then(|r| r.metadata.name.clone()), Some("b".into()));
    let names: Vec<_> = old.iter().filter_map(|r| r.metadata.name.clone()).collect();
    assert_eq!(names, vec!["c".to_owned(), "a".to_owned()], "old RSs oldest first");
}

#[test]
fn d34_skip_listed_annotations_are_not_copied() {
    let mut d = deploy(3, pct("25%"), pct("25%"));
    for k in SKIPPED_ANNOTATIONS {
        set_annotation(&mut d.metadata, k, "x");
    }
    set_annotation(&mut d.metadata, "team", "blue");
    let mut r = rs("a", 0, 1, 1);
    assert!(copy_deployment_annotations(&d, &mut r));
    let keys: Vec<_> = r.metadata.annotations.clone().unwrap_or_default().into_keys().collect();
    assert_eq!(keys, vec!["team".to_owned()]);
    assert!(!copy_deployment_annotations(&d, &mut r), "second copy is a no-op");
}

#[test]
fn d35_revision_is_max_plus_one_and_never_lowered() {
    let d = deploy(3, pct("25%"), pct("25%"));
    let old1 = with_revision(rs("o1", 0, 0, 0), "3");
    let old2 = rs("o2", 1, 0, 0);
    let new = new_replica_set(&d, &[&old1, &old2]).unwrap_or_default();
    assert_eq!(revision(&new.metadata), 4);
    let mut high = with_revision(rs("n", 0, 1, 1), "9");
    assert!(!set_new_rs_annotations(&d, &mut high, 4, true).unwrap_or(true));
    assert_eq!(revision(&high.metadata), 9);
    let junk = with_revision(rs("j", 0, 1, 1), "abc");
    assert_eq!(revision(&junk.metadata), 0, "unparsable counts as 0");
}

#[test]
fn d35_promoting_an_old_rs_appends_its_previous_revision_to_the_history() {
    let d = deploy(3, pct("25%"), pct("25%"));
    let mut r = with_revision(rs("a", 0, 1, 1), "2");
    assert!(set_new_rs_annotations(&d, &mut r, 5, true).unwrap_or(false));
    assert_eq!(annotation(&r.metadata, REVISION_ANNOTATION), Some("5"));
    assert_eq!(annotation(&r.metadata, REVISION_HISTORY_ANNOTATION), Some("2"));
    assert!(set_new_rs_annotations(&d, &mut r, 7, true).unwrap_or(false));
    assert_eq!(annotation(&r.metadata, REVISION_HISTORY_ANNOTATION), Some("2,5"));
}

#[test]
fn d35_revision_history_drops_oldest_entries_beyond_2000_chars() {
    let long: Vec<String> = (0..600).map(|i| i.to_string()).collect();
    let h = append_revision_history(Some(&long.join(",")), "99999");
    assert!(h.len() <= MAX_REVISION_HISTORY_CHARS);
    assert!(h.ends_with(",99999"));
    assert!(!h.starts_with("0,"), "oldest dropped first");
    assert_eq!(append_revision_history(None, "1"), "1");
}

#[test]
fn d32_new_rs_carries_the_hash_on_name_labels_selector_and_template() {
    let mut d = deploy(4, pct("25%"), pct("25%"));
    if let Some(s) = d.spec.as_mut() {
        s.min_ready_seconds = Some(5);
    }
    let r = new_replica_set(&d, &[]).unwrap_or_default();
    let hash = r
        .metadata
        .labels
        .clone()
        .unwrap_or_default()
        .get(POD_TEMPLATE_HASH_LABEL)
        .cloned();
    let hash = hash.unwrap_or_default();
    assert!(!hash.is_empty());
    assert_eq!(r.metadata.name, Some(format!("web-{hash}")));
    let spec = r.spec.clone().unwrap_or_default();
    assert_eq!(
        spec.selector
            .match_labels
            .unwrap_or_default()
            .get(POD_TEMPLATE_HASH_LABEL),
        Some(&hash)
    );
    let tl = spec
        .template
        .and_then(|t| t.metadata)
        .and_then(|m| m.labels)
        .unwrap_or_default();
    assert_eq!(tl.get(POD_TEMPLATE_HASH_LABEL), Some(&hash));
    assert_eq!(tl.get("app").map(String::as_str), Some("web"));
    // D.33: ControllerRef, minReadySeconds, replicas = min(replicas+surge − 0, replicas) = 4.
    assert_eq!(spec.min_ready_seconds, Some(5));
    assert_eq!(rs_replicas(&r), 4);
    let owner = controller_ref(&r.metadata).cloned().unwrap_or_default();
    assert_eq!((owner.kind.as_str(), owner.uid.as_str()), ("Deployment", "d-uid"));
    // D.36 on creation: desired = 4, max = 4 + 1.
    assert_eq!(desired_replicas_annotation(&r), Some(4));
    assert_eq!(max_replicas_annotation(&r), Some(5));
}

#[test]
fn d33_new_rs_starts_within_the_surge_room() {
    let d = deploy(10, pct("20%"), pct("0%"));
    let old = rs("old", 0, 10, 10);
    let r = new_replica_set(&d, &[&old]).unwrap_or_default();
    assert_eq!(rs_replicas(&r), 2);
    assert!(sum_spec([&old, &r]) <= 12);
}

#[test]
fn d36_existing_new_rs_gets_min_ready_seconds_and_copied_annotations() {
    let mut d = deploy(3, pct("25%"), pct("25%"));
    set_annotation(&mut d.metadata, "note", "v2");
    if let Some(s) = d.spec.as_mut() {
        s.min_ready_seconds = Some(9);
    }
    let current = with_revision(rs("n", 0, 3, 3), "1");
    let updated = sync_existing_new_rs(&d, &current, &[])
        .ok()
        .flatten()
        .unwrap_or_default();
    assert_eq!(updated.spec.and_then(|s| s.min_ready_seconds), Some(9));
    assert_eq!(annotation(&updated.metadata, "note"), Some("v2"));
    let mut synced = current.clone();
    set_annotation(&mut synced.metadata, "note", "v2");
    if let Some(s) = synced.spec.as_mut() {
        s.min_ready_seconds = Some(9);
    }
    assert!(
        sync_existing_new_rs(&d, &synced, &[]).ok().flatten().is_none(),
        "in sync: no write"
    );
}

#[test]
fn d36_scaling_sets_desired_and_max_annotations() {
    let d = deploy(8, pct("25%"), pct("25%"));
    let r = rs("a", 0, 3, 3);
    let scaled = scaled_replica_set(&d, &r, 5).ok().flatten().unwrap_or_default();
    assert_eq!(rs_replicas(&scaled), 5);
    assert_eq!(desired_replicas_annotation(&scaled), Some(8));
    assert_eq!(max_replicas_annotation(&scaled), Some(10));
    assert!(scaled_replica_set(&d, &scaled, 5).ok().flatten().is_none());
}

#[test]
fn d37_collision_adopts_our_equal_rs_or_bumps_the_count() {
    let mut d = deploy(3, pct("25%"), pct("25%"));
    let mut ours = with_template(rs("web-x", 0, 1, 1), "nginx:1", "zz");
    ours.metadata.owner_references = Some(vec![new_controller_ref("apps/v1", "Deployment", &d.metadata)]);
    assert_eq!(on_already_exists(&d, &ours), Collision::AdoptExisting);
    let foreign = with_template(rs("web-x", 0, 1, 1), "nginx:1", "zz");
    assert_eq!(
        on_already_exists(&d, &foreign),
        Collision::BumpCollisionCount(1),
        "nil becomes 1"
    );
    d.status = Some(DeploymentStatus {
        collision_count: Some(4),
        ..Default::default()
    });
    let different = with_template(ours.clone(), "nginx:9", "zz");
    assert_eq!(on_already_exists(&d, &different), Collision::BumpCollisionCount(5));
    let h1 = new_replica_set(&d, &[]).unwrap_or_default().metadata.name;
    d.status = Some(DeploymentStatus {
        collision_count: Some(5),
        ..Default::default()
    });
    let h2 = new_replica_set(&d, &[]).unwrap_or_default().metadata.name;
    assert_ne!(h1, h2, "the next attempt produces a new hash");
}

#[test]
fn g49_last_revision_is_the_second_highest() {
    let a = with_revision(rs("a", 0, 0, 0), "1");
    let b = with_revision(rs("b", 0, 0, 0), "3");
    let c = with_revision(rs("c", 0, 0, 0), "2");
    assert_eq!(last_revision(&[&a, &b, &c]), 2);
    assert_eq!(max_revision(&[&a, &b, &c]), 3);
    assert_eq!(last_revision(&[&a]), 0);
}

#[test]
fn d31_a_rolled_back_template_with_empty_resources_finds_its_old_rs() {
    // `kubectl rollout undo` copies the old RS's template through Go types, which adds `resources: {}`.
    let mut d = deploy(3, pct("25%"), pct("25%"));
    if let Some(c) = d
        .spec
        .as_mut()
        .and_then(|s| s.template.spec.as_mut())
        .and_then(|p| p.containers.first_mut())
    {
        c.resources = Some(Default::default());
    }
    let image = d
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|p| p.containers.first())
        .and_then(|c| c.image.clone())
        .unwrap_or_default();
    let old = with_template(rs("old", 10, 0, 0), &image, "h1");
    let other = with_template(rs("other", 5, 1, 1), "something:else", "h2");
    let (new_rs, _) = split_new_and_old(&d, &[&old, &other]);
    assert_eq!(new_rs.and_then(|r| r.metadata.name.clone()), Some("old".into()));
}
