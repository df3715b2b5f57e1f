//! The seed manifest (examples/my-app.yaml) parses, defaults to Kubernetes' values and validates.

use capstan_core::k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use capstan_core::{Object, admit, parse_manifests};

const SEED: &str = include_str!("../../../examples/my-app.yaml");

#[test]
fn seed_manifest_defaults_to_kubernetes_values_and_validates() {
    let mut objects = parse_manifests(SEED).expect("the seed manifest parses");
    assert_eq!(objects.len(), 1);
    admit(&mut objects[0], None).expect("the seed manifest is valid");
    let Object::Deployment(d) = &objects[0] else {
        panic!("the seed is a Deployment, got {:?}", objects[0].type_key());
    };
    assert_eq!(d.metadata.name.as_deref(), Some("my-app"));
    assert_eq!(d.metadata.namespace.as_deref(), Some("default"));
    let spec = d.spec.as_ref().expect("spec");
    assert_eq!(spec.replicas, Some(3), "a given value is kept");
    assert_eq!(spec.revision_history_limit, Some(10));
    assert_eq!(spec.progress_deadline_seconds, Some(600));
    assert_eq!(spec.min_ready_seconds, Some(0));
    let strategy = spec.strategy.as_ref().expect("strategy");
    assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
    let ru = strategy.rolling_update.as_ref().expect("rollingUpdate");
    assert_eq!(ru.max_surge, Some(IntOrString::String("25%".into())));
    assert_eq!(ru.max_unavailable, Some(IntOrString::String("25%".into())));
    let selector = spec.selector.match_labels.as_ref().expect("matchLabels");
    assert_eq!(selector.get("app").map(String::as_str), Some("my-app"));

    let pod = spec.template.spec.as_ref().expect("template spec");
    assert_eq!(pod.restart_policy.as_deref(), Some("Always"));
    assert_eq!(pod.termination_grace_period_seconds, Some(30));
    assert_eq!(pod.dns_policy.as_deref(), Some("ClusterFirst"));
    assert_eq!(pod.scheduler_name.as_deref(), Some("default-scheduler"));
    assert_eq!(pod.security_context, Some(Default::default()));
    let c = &pod.containers[0];
    assert_eq!((c.name.as_str(), c.image.as_deref()), ("nginx", Some("nginx:latest")));
    assert_eq!(c.image_pull_policy.as_deref(), Some("Always"));
    assert_eq!(c.termination_message_path.as_deref(), Some("/dev/termination-log"));
    assert_eq!(c.termination_message_policy.as_deref(), Some("File"));
    let port = &c.ports.as_ref().expect("ports")[0];
    assert_eq!((port.container_port, port.protocol.as_deref()), (80, Some("TCP")));
}

#[test]
fn defaulting_the_seed_twice_changes_nothing() {
    let mut objects = parse_manifests(SEED).unwrap();
    admit(&mut objects[0], None).unwrap();
    let once = objects[0].clone();
    admit(&mut objects[0], Some(&once)).unwrap();
    assert_eq!(objects[0], once);
}

#[test]
fn unset_replicas_default_to_one() {
    let text = SEED.replace("  replicas: 3\n", "");
    let mut objects = parse_manifests(&text).unwrap();
    admit(&mut objects[0], None).unwrap();
    let Object::Deployment(d) = &objects[0] else {
        panic!("a Deployment")
    };
    assert_eq!(d.spec.as_ref().unwrap().replicas, Some(1));
}
