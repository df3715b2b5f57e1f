//! Defaulting: the values the Kubernetes API server fills in when a field is left unset.
//!
//! Each function only fills fields that are `None` (or empty where Kubernetes treats empty as unset),
//! so defaulting is idempotent: running it twice changes nothing the second time.
//!
//! | object | field | default |
//! |---|---|---|
//! | Deployment | `spec.replicas` | 1 |
//! | Deployment | `spec.strategy.type` | `RollingUpdate` |
//! | Deployment (RollingUpdate only) | `spec.strategy.rollingUpdate.maxSurge` / `maxUnavailable` | `25%` / `25%` |
//! | Deployment | `spec.revisionHistoryLimit` | 10 |
//! | Deployment | `spec.progressDeadlineSeconds` | 600 |
//! | Deployment | `spec.minReadySeconds` | 0 |
//! | ReplicaSet | `spec.replicas` | 1 |
//! | pod spec (Pods and templates) | `restartPolicy` | `Always` |
//! | pod spec | `terminationGracePeriodSeconds` | 30 |
//! | pod spec | `dnsPolicy` | `ClusterFirst` |
//! | pod spec | `schedulerName` | `default-scheduler` |
//! | pod spec | `securityContext` | `{}` |
//! | container (and init container) | `imagePullPolicy` | `Always` for `:latest` or no tag, else `IfNotPresent` |
//! | container | `terminationMessagePath` | `/dev/termination-log` |
//! | container | `terminationMessagePolicy` | `File` |
//! | container port | `protocol` | `TCP` |
//! | Namespace | `status.phase` | `Active` |
//! | Namespace (on create only) | `spec.finalizers` | contains `kubernetes` ([`NAMESPACE_FINALIZER`]) |
//!
//! The Namespace finalizer is filled on create only ([`default_object_on_create`]), as Kubernetes'
//! namespace strategy does: the namespace controller removes it while the namespace terminates, and
//! defaulting it on every write would put it straight back.

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, ReplicaSet, ReplicaSetSpec, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{
    Container, Namespace, NamespaceSpec, NamespaceStatus, Pod, PodSecurityContext, PodSpec, PodTemplateSpec,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::builtin::Object;

/// Default `spec.replicas` of Deployments and ReplicaSets.
pub const DEFAULT_REPLICAS: i32 = 1;
/// Default `spec.revisionHistoryLimit` of Deployments.
pub const DEFAULT_REVISION_HISTORY_LIMIT: i32 = 10;
/// Default `spec.progressDeadlineSeconds` of Deployments.
pub const DEFAULT_PROGRESS_DEADLINE_SECONDS: i32 = 600;
/// Default `maxSurge` and `maxUnavailable` of a RollingUpdate strategy.
pub const DEFAULT_ROLLING_PERCENT: &str = "25%";
/// Default `terminationGracePeriodSeconds` of a pod.
pub const DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS: i64 = 30;

/// The finalizer every new Namespace carries in `spec.finalizers`: the namespace controller removes
/// it once the terminating namespace's content is gone.
pub const NAMESPACE_FINALIZER: &str = "kubernetes";
/// `status.phase` of a Namespace that is not being deleted.
pub const NAMESPACE_ACTIVE: &str = "Active";
/// `status.phase` of a Namespace being deleted.
pub const NAMESPACE_TERMINATING: &str = "Terminating";

/// Fills every default of a built-in object (Deployment, ReplicaSet, Pod and Namespace have some;
/// the other kinds have none).
pub fn default_object(obj: &mut Object) {
    match obj {
        Object::Deployment(d) => default_deployment(d),
        Object::ReplicaSet(rs) => default_replica_set(rs),
        Object::Pod(p) => default_pod(p),
        Object::Namespace(ns) => default_namespace(ns),
        Object::Secret(secret) => super::core_kinds::default_secret(secret),
        _ => {}
    }
}

/// Fills what a built-in object gets only when it is created, after [`default_object`]: a
/// Namespace's `kubernetes` finalizer ([`default_namespace_on_create`]).
pub fn default_object_on_create(obj: &mut Object) {
    if let Object::Namespace(ns) = obj {
        default_namespace_on_create(ns);
    }
}

/// Fills a Namespace's defaults: `status.phase` `Active` when unset.
pub fn default_namespace(ns: &mut Namespace) {
    let status = ns.status.get_or_insert_with(NamespaceStatus::default);
    fill(&mut status.phase, NAMESPACE_ACTIVE);
}

/// Adds the `kubernetes` finalizer to a new Namespace's `spec.finalizers` (after any the creator
/// gave), so that deleting it waits for the namespace controller to empty it.
pub fn default_namespace_on_create(ns: &mut Namespace) {
    let finalizers = ns
        .spec
        .get_or_insert_with(NamespaceSpec::default)
        .finalizers
        .get_or_insert_with(Vec::new);
    if !finalizers.iter().any(|f| f == NAMESPACE_FINALIZER) {
        finalizers.push(NAMESPACE_FINALIZER.to_owned());
    }
}

/// Fills a Deployment's defaults, including its pod template's.
pub fn default_deployment(d: &mut Deployment) {
    let spec = d.spec.get_or_insert_with(DeploymentSpec::default);
    spec.replicas.get_or_insert(DEFAULT_REPLICAS);
    let strategy = spec.strategy.get_or_insert_with(DeploymentStrategy::default);
    if strategy.type_.as_deref().unwrap_or("").is_empty() {
        strategy.type_ = Some("RollingUpdate".to_owned());
    }
    if strategy.type_.as_deref() == Some("RollingUpdate") {
        let ru = strategy
            .rolling_update
            .get_or_insert_with(RollingUpdateDeployment::default);
        ru.max_unavailable
            .get_or_insert_with(|| IntOrString::String(DEFAULT_ROLLING_PERCENT.to_owned()));
        ru.max_surge
            .get_or_insert_with(|| IntOrString::String(DEFAULT_ROLLING_PERCENT.to_owned()));
    }
    spec.revision_history_limit
        .get_or_insert(DEFAULT_REVISION_HISTORY_LIMIT);
    spec.progress_deadline_seconds
        .get_or_insert(DEFAULT_PROGRESS_DEADLINE_SECONDS);
    spec.min_ready_seconds.get_or_insert(0);
    default_template(&mut spec.template);
}

/// Fills a ReplicaSet's defaults, including its pod template's.
pub fn default_replica_set(rs: &mut ReplicaSet) {
    let spec = rs.spec.get_or_insert_with(ReplicaSetSpec::default);
    spec.replicas.get_or_insert(DEFAULT_REPLICAS);
    if let Some(t) = spec.template.as_mut() {
        default_template(t);
    }
}

/// Fills a Pod's defaults (its spec's and its containers').
pub fn default_pod(p: &mut Pod) {
    default_pod_spec(p.spec.get_or_insert_with(PodSpec::default));
}

/// Fills the defaults of a pod template's spec (when it has one).
pub fn default_template(t: &mut PodTemplateSpec) {
    if let Some(spec) = t.spec.as_mut() {
        default_pod_spec(spec);
    }
}

fn fill(field: &mut Option<String>, value: &str) {
    if field.as_deref().unwrap_or("").is_empty() {
        *field = Some(value.to_owned());
    }
}

/// Fills a pod spec's defaults and those of its containers and init containers.
pub fn default_pod_spec(spec: &mut PodSpec) {
    fill(&mut spec.restart_policy, "Always");
    spec.termination_grace_period_seconds
        .get_or_insert(DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS);
    fill(&mut spec.dns_policy, "ClusterFirst");
    fill(&mut spec.scheduler_name, "default-scheduler");
    spec.security_context.get_or_insert_with(PodSecurityContext::default);
    for c in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten())
    {
        default_container(c);
    }
}

/// Fills a container's defaults: pull policy (from the image tag), termination message path and
/// policy, and each port's protocol.
pub fn default_container(c: &mut Container) {
    if c.image_pull_policy.as_deref().unwrap_or("").is_empty() {
        let policy = if image_tag_is_latest(c.image.as_deref().unwrap_or("")) {
            "Always"
        } else {
            "IfNotPresent"
        };
        c.image_pull_policy = Some(policy.to_owned());
    }
    fill(&mut c.termination_message_path, "/dev/termination-log");
    fill(&mut c.termination_message_policy, "File");
    for p in c.ports.iter_mut().flatten() {
        fill(&mut p.protocol, "TCP");
    }
}

/// Whether an image reference means the `latest` tag: it says `:latest`, or it has neither a tag nor
/// a digest. `registry:5000/nginx` has no tag (the colon belongs to the registry host).
pub fn image_tag_is_latest(image: &str) -> bool {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    match last.split_once(':') {
        Some((_, tag)) => tag == "latest",
        None => digest.is_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policy_follows_the_image_tag() {
        for (image, latest) in [
            ("nginx", true),
            ("nginx:latest", true),
            ("nginx:1.25", false),
            ("registry:5000/nginx", true),
            ("registry:5000/team/nginx:v2", false),
            ("nginx@sha256:abcd", false),
            ("nginx:latest@sha256:abcd", true),
        ] {
            assert_eq!(image_tag_is_latest(image), latest, "{image}");
        }
    }

    #[test]
    fn deployment_defaults_fill_only_unset_fields_and_are_idempotent() {
        let mut d = Deployment {
            spec: Some(DeploymentSpec {
                replicas: Some(5),
                ..Default::default()
            }),
            ..Default::default()
        };
        default_deployment(&mut d);
        let once = d.clone();
        default_deployment(&mut d);
        assert_eq!(d, once);
        let spec = d.spec.as_ref().unwrap();
        assert_eq!(spec.replicas, Some(5));
        assert_eq!(spec.revision_history_limit, Some(10));
        let strategy = spec.strategy.as_ref().unwrap();
        assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
        let ru = strategy.rolling_update.as_ref().unwrap();
        assert_eq!(ru.max_surge, Some(IntOrString::String("25%".into())));
    }

    #[test]
    fn new_namespaces_get_the_kubernetes_finalizer_once_after_their_own() {
        let mut plain = Object::Namespace(Namespace::default());
        default_object(&mut plain);
        default_object_on_create(&mut plain);
        default_object_on_create(&mut plain);
        let Object::Namespace(ns) = &plain else {
            unreachable!("a namespace")
        };
        let spec = ns.spec.clone().unwrap_or_default();
        assert_eq!(spec.finalizers, Some(vec!["kubernetes".to_owned()]));
        assert_eq!(ns.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Active"));

        let mut own = Namespace {
            spec: Some(NamespaceSpec {
                finalizers: Some(vec!["example.com/cleanup".into()]),
            }),
            ..Default::default()
        };
        default_namespace_on_create(&mut own);
        assert_eq!(
            own.spec.and_then(|s| s.finalizers),
            Some(vec!["example.com/cleanup".to_owned(), "kubernetes".to_owned()])
        );
    }

    #[test]
    fn namespace_finalizers_are_not_defaulted_back_on_update() {
        let mut emptied = Object::Namespace(Namespace {
            spec: Some(NamespaceSpec {
                finalizers: Some(Vec::new()),
            }),
            ..Default::default()
        });
        default_object(&mut emptied);
        let Object::Namespace(ns) = &emptied else {
            unreachable!("a namespace")
        };
        assert_eq!(ns.spec.clone().and_then(|s| s.finalizers), Some(Vec::new()));
    }

    #[test]
    fn recreate_deployments_get_no_rolling_update_parameters() {
        let mut d = Deployment {
            spec: Some(DeploymentSpec {
                strategy: Some(DeploymentStrategy {
                    type_: Some("Recreate".into()),
                    rolling_update: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        default_deployment(&mut d);
        assert!(d.spec.unwrap().strategy.unwrap().rolling_update.is_none());
    }
}
