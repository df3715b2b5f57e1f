//! The field table: for each protobuf message Capstan decodes, its fields' numbers, JSON names and
//! types, as in the `protobuf:"..."` tags of the Kubernetes Go types.

/// How one field decodes.
#[derive(Clone, Copy, Debug)]
pub(super) enum Ty {
    /// A string (`bytes` on the wire).
    Str,
    /// A bool (varint).
    Bool,
    /// An integer (varint, two's complement for negative int64).
    Int,
    /// A nested message of the named type.
    Msg(&'static str),
    /// `map<string,string>`.
    StrMap,
    /// `map<string,Quantity>`.
    QuantityMap,
    /// `map<string,bytes>` (base64 strings in JSON).
    BytesMap,
    /// `metav1.Time` (seconds).
    Time,
    /// `metav1.MicroTime`.
    MicroTime,
    /// `intstr.IntOrString`.
    IntOrString,
}

/// A field: number, JSON name, type, repeated.
pub(super) type Field = (u64, &'static str, Ty, bool);

use Ty::*;

/// The fields of `message`, or `None` for a message Capstan does not decode.
pub(super) fn fields(message: &str) -> Option<&'static [Field]> {
    Some(match message {
        "Namespace" => &[
            (1, "metadata", Msg("ObjectMeta"), false),
            (2, "spec", Msg("NamespaceSpec"), false),
            (3, "status", Msg("NamespaceStatus"), false),
        ],
        "NamespaceSpec" => &[(1, "finalizers", Str, true)],
        "NamespaceStatus" => &[(1, "phase", Str, false)],
        "Deployment" => &[
            (1, "metadata", Msg("ObjectMeta"), false),
            (2, "spec", Msg("DeploymentSpec"), false),
            (3, "status", Msg("DeploymentStatus"), false),
        ],
        "DeploymentSpec" => &[
            (1, "replicas", Int, false),
            (2, "selector", Msg("LabelSelector"), false),
            (3, "template", Msg("PodTemplateSpec"), false),
            (4, "strategy", Msg("DeploymentStrategy"), false),
            (5, "minReadySeconds", Int, false),
            (6, "revisionHistoryLimit", Int, false),
            (7, "paused", Bool, false),
            (9, "progressDeadlineSeconds", Int, false),
        ],
        "DeploymentStrategy" => &[
            (1, "type", Str, false),
            (2, "rollingUpdate", Msg("RollingUpdateDeployment"), false),
        ],
        "RollingUpdateDeployment" => &[
            (1, "maxUnavailable", IntOrString, false),
            (2, "maxSurge", IntOrString, false),
        ],
        "DeploymentStatus" | "ReplicaSetStatus" | "PodStatus" => &[],
        "ReplicaSet" => &[
            (1, "metadata", Msg("ObjectMeta"), false),
            (2, "spec", Msg("ReplicaSetSpec"), false),
            (3, "status", Msg("ReplicaSetStatus"), false),
        ],
        "ReplicaSetSpec" => &[
            (1, "replicas", Int, false),
            (2, "selector", Msg("LabelSelector"), false),
            (3, "template", Msg("PodTemplateSpec"), false),
            (4, "minReadySeconds", Int, false),
        ],
        "Pod" => &[
            (1, "metadata", Msg("ObjectMeta"), false),
            (2, "spec", Msg("PodSpec"), false),
            (3, "status", Msg("PodStatus"), false),
        ],
        "PodTemplateSpec" => &[
            (1, "metadata", Msg("ObjectMeta"), false),
            (2, "spec", Msg("PodSpec"), false),
        ],
        "PodSpec" => &[
            (2, "containers", Msg("Container"), true),
            (3, "restartPolicy", Str, false),
            (4, "terminationGracePeriodSeconds", Int, false),
            (5, "activeDeadlineSeconds", Int, false),
            (6, "dnsPolicy", Str, false),
            (7, "nodeSelector", StrMap, false),
            (8, "serviceAccountName", Str, false),
            (9, "serviceAccount", Str, false),
            (10, "nodeName", Str, false),
            (11, "hostNetwork", Bool, false),
            (12, "hostPID", Bool, false),
            (13, "hostIPC", Bool, false),
            (16, "hostname", Str, false),
            (17, "subdomain", Str, false),
            (19, "schedulerName", Str, false),
            (20, "initContainers", Msg("Container"), true),
            (21, "automountServiceAccountToken", Bool, false),
            (24, "priorityClassName", Str, false),
            (25, "priority", Int, false),
            (27, "shareProcessNamespace", Bool, false),
            (30, "enableServiceLinks", Bool, false),
            (31, "preemptionPolicy", Str, false),
        ],
        "Container" => &[
            (1, "name", Str, false),
            (2, "image", Str, false),
            (3, "command", Str, true),
            (4, "args", Str, true),
            (5, "workingDir", Str, false),
            (6, "ports", Msg("ContainerPort"), true),
            (7, "env", Msg("EnvVar"), true),
            (8, "resources", Msg("ResourceRequirements"), false),
            (13, "terminationMessagePath", Str, false),
            (14, "imagePullPolicy", Str, false),
            (16, "stdin", Bool, false),
            (17, "stdinOnce", Bool, false),
            (18, "tty", Bool, false),
            (20, "terminationMessagePolicy", Str, false),
        ],
        "ContainerPort" => &[
            (1, "name", Str, false),
            (2, "hostPort", Int, false),
            (3, "containerPort", Int, false),
            (4, "protocol", Str, false),
            (5, "hostIP", Str, false),
        ],
        "EnvVar" => &[(1, "name", Str, false), (2, "value", Str, false)],
        "ResourceRequirements" => &[(1, "limits", QuantityMap, false), (2, "requests", QuantityMap, false)],
        "ObjectMeta" => &[
            (1, "name", Str, false),
            (2, "generateName", Str, false),
            (3, "namespace", Str, false),
            (4, "selfLink", Str, false),
            (5, "uid", Str, false),
            (6, "resourceVersion", Str, false),
            (7, "generation", Int, false),
            (8, "creationTimestamp", Time, false),
            (9, "deletionTimestamp", Time, false),
            (10, "deletionGracePeriodSeconds", Int, false),
            (11, "labels", StrMap, false),
            (12, "annotations", StrMap, false),
            (13, "ownerReferences", Msg("OwnerReference"), true),
            (14, "finalizers", Str, true),
        ],
        "OwnerReference" => &[
            (1, "kind", Str, false),
            (3, "name", Str, false),
            (4, "uid", Str, false),
            (5, "apiVersion", Str, false),
            (6, "controller", Bool, false),
            (7, "blockOwnerDeletion", Bool, false),
        ],
        "LabelSelector" => &[
            (1, "matchLabels", StrMap, false),
            (2, "matchExpressions", Msg("LabelSelectorRequirement"), true),
        ],
        "LabelSelectorRequirement" => &[
            (1, "key", Str, false),
            (2, "operator", Str, false),
            (3, "values", Str, true),
        ],
        "Event" => &[
            (1, "metadata", Msg("ObjectMeta"), false),
            (2, "involvedObject", Msg("ObjectReference"), false),
            (3, "reason", Str, false),
            (4, "message", Str, false),
            (5, "source", Msg("EventSource"), false),
            (6, "firstTimestamp", Time, false),
            (7, "lastTimestamp", Time, false),
            (8, "count", Int, false),
            (9, "type", Str, false),
            (10, "eventTime", MicroTime, false),
            (11, "series", Msg("EventSeries"), false),
            (12, "action", Str, false),
            (13, "related", Msg("ObjectReference"), false),
            (14, "reportingComponent", Str, false),
            (15, "reportingInstance", Str, false),
        ],
        "ObjectReference" => &[
            (1, "kind", Str, false),
            (2, "namespace", Str, false),
            (3, "name", Str, false),
            (4, "uid", Str, false),
            (5, "apiVersion", Str, false),
            (6, "resourceVersion", Str, false),
            (7, "fieldPath", Str, false),
        ],
        "EventSource" => &[(1, "component", Str, false), (2, "host", Str, false)],
        "EventSeries" => &[(1, "count", Int, false), (2, "lastObservedTime", MicroTime, false)],
        "DeleteOptions" => &[
            (1, "gracePeriodSeconds", Int, false),
            (2, "preconditions", Msg("Preconditions"), false),
            (3, "orphanDependents", Bool, false),
            (4, "propagationPolicy", Str, false),
            (5, "dryRun", Str, true),
            (6, "ignoreStoreReadErrorWithClusterBreakingPotential", Bool, false),
        ],
        "Preconditions" => &[(1, "uid", Str, false), (2, "resourceVersion", Str, false)],
        "Eviction" => &[
            (1, "metadata", Msg("ObjectMeta"), false),
            (2, "deleteOptions", Msg("DeleteOptions"), false),
        ],
        "SelfSubjectAccessReview" => &[
            (1, "metadata", Msg("ObjectMeta"), false),
            (2, "spec", Msg("SelfSubjectAccessReviewSpec"), false),
            (3, "status", Msg("SubjectAccessReviewStatus"), false),
        ],
        "SelfSubjectAccessReviewSpec" => &[
            (1, "resourceAttributes", Msg("ResourceAttributes"), false),
            (2, "nonResourceAttributes", Msg("NonResourceAttributes"), false),
        ],
        "ResourceAttributes" => &[
            (1, "namespace", Str, false),
            (2, "verb", Str, false),
            (3, "group", Str, false),
            (4, "version", Str, false),
            (5, "resource", Str, false),
            (6, "subresource", Str, false),
            (7, "name", Str, false),
            (8, "fieldSelector", Msg("SelectorAttributes"), false),
            (9, "labelSelector", Msg("SelectorAttributes"), false),
        ],
        // FieldSelectorAttributes and LabelSelectorAttributes share this shape.
        "SelectorAttributes" => &[
            (1, "rawSelector", Str, false),
            (2, "requirements", Msg("LabelSelectorRequirement"), true),
        ],
        "NonResourceAttributes" => &[(1, "path", Str, false), (2, "verb", Str, false)],
        "SelfSubjectRulesReview" => &[
            (1, "metadata", Msg("ObjectMeta"), false),
            (2, "spec", Msg("SelfSubjectRulesReviewSpec"), false),
            (3, "status", Msg("SubjectRulesReviewStatus"), false),
        ],
        "SelfSubjectRulesReviewSpec" => &[(1, "namespace", Str, false)],
        "SubjectAccessReviewStatus" | "SubjectRulesReviewStatus" | "SelfSubjectReviewStatus" => &[],
        "SelfSubjectReview" => &[
            (1, "metadata", Msg("ObjectMeta"), false),
            (2, "status", Msg("SelfSubjectReviewStatus"), false),
        ],
        "ConfigMap" => &[
            (1, "metadata", Msg("ObjectMeta"), false),
            (2, "data", StrMap, false),
            (3, "binaryData", BytesMap, false),
            (4, "immutable", Bool, false),
        ],
        "Secret" => &[
            (1, "metadata", Msg("ObjectMeta"), false),
            (2, "data", BytesMap, false),
            (3, "type", Str, false),
            (4, "stringData", StrMap, false),
            (5, "immutable", Bool, false),
        ],
        "Service" => &[
            (1, "metadata", Msg("ObjectMeta"), false),
            (2, "spec", Msg("ServiceSpec"), false),
            (3, "status", Msg("ServiceStatus"), false),
        ],
        "ServiceSpec" => &[
            (1, "ports", Msg("ServicePort"), true),
            (2, "selector", StrMap, false),
            (3, "clusterIP", Str, false),
            (4, "type", Str, false),
            (5, "externalIPs", Str, true),
            (7, "sessionAffinity", Str, false),
            (8, "loadBalancerIP", Str, false),
            (9, "loadBalancerSourceRanges", Str, true),
            (10, "externalName", Str, false),
            (11, "externalTrafficPolicy", Str, false),
            (12, "healthCheckNodePort", Int, false),
            (13, "publishNotReadyAddresses", Bool, false),
            (14, "sessionAffinityConfig", Msg("SessionAffinityConfig"), false),
            (17, "ipFamilyPolicy", Str, false),
            (18, "clusterIPs", Str, true),
            (19, "ipFamilies", Str, true),
            (20, "allocateLoadBalancerNodePorts", Bool, false),
            (21, "loadBalancerClass", Str, false),
            (22, "internalTrafficPolicy", Str, false),
            (23, "trafficDistribution", Str, false),
        ],
        "ServicePort" => &[
            (1, "name", Str, false),
            (2, "protocol", Str, false),
            (3, "port", Int, false),
            (4, "targetPort", IntOrString, false),
            (5, "nodePort", Int, false),
            (6, "appProtocol", Str, false),
        ],
        "SessionAffinityConfig" => &[(1, "clientIP", Msg("ClientIPConfig"), false)],
        "ClientIPConfig" => &[(1, "timeoutSeconds", Int, false)],
        "ServiceStatus" => &[],
        "ServiceAccount" => &[
            (1, "metadata", Msg("ObjectMeta"), false),
            (2, "secrets", Msg("ObjectReference"), true),
            (3, "imagePullSecrets", Msg("LocalObjectReference"), true),
            (4, "automountServiceAccountToken", Bool, false),
        ],
        "LocalObjectReference" => &[(1, "name", Str, false)],
        _ => return None,
    })
}
