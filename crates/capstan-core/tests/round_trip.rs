//! YAML → typed → JSON → typed round-trips the built-in kinds without loss: for generated
//! Deployments and Pods, and for a corpus of realistic manifests of every built-in kind.

use std::collections::BTreeMap;

use capstan_core::k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use capstan_core::k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvVar, Pod, PodSpec, PodTemplateSpec, ResourceRequirements,
};
use capstan_core::k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use capstan_core::k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use capstan_core::k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use capstan_core::{Object, admit, parse_manifests};
use proptest::prelude::*;

/// YAML text → typed → JSON → typed, and typed → YAML → typed: every step gives the same object.
fn assert_round_trips(obj: &Object) {
    let json = obj.to_json().expect("encodes as JSON");
    assert!(json.get("apiVersion").is_some() && json.get("kind").is_some(), "{json}");
    let api = json["apiVersion"].as_str().unwrap_or_default().to_owned();
    let kind = json["kind"].as_str().unwrap_or_default().to_owned();
    let from_json = Object::from_json(&api, &kind, json.clone())
        .expect("decodes")
        .expect("built in");
    assert_eq!(&from_json, obj, "JSON round trip of {json}");
    let yaml = serde_saphyr::to_string(obj).expect("encodes as YAML");
    let from_yaml = parse_manifests(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    assert_eq!(from_yaml.len(), 1);
    assert_eq!(&from_yaml[0], obj, "YAML round trip of\n{yaml}");
}

fn dns_label() -> impl Strategy<Value = String> {
    "[a-z]([a-z0-9-]{0,10}[a-z0-9])?"
}

/// Label values, including ones a YAML writer must quote to keep them strings.
fn tricky_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9]([A-Za-z0-9_.-]{0,8}[A-Za-z0-9])?",
        proptest::sample::select(&["true", "no", "y", "null", "1.0", "0755", "1e3", "~", "", "25%"][..])
            .prop_map(String::from),
    ]
}

fn labels() -> impl Strategy<Value = BTreeMap<String, String>> {
    proptest::collection::btree_map(dns_label(), tricky_value(), 1..4)
}

fn container() -> impl Strategy<Value = Container> {
    (
        dns_label(),
        proptest::sample::select(&["nginx", "nginx:1.25", "registry:5000/app:v2", "busybox@sha256:abc"][..]),
        proptest::collection::vec(1..65535i32, 0..3),
        proptest::collection::btree_map("[A-Z_]{1,6}", tricky_value(), 0..3),
        proptest::option::of(proptest::sample::select(&["100m", "1", "0.5", "1Gi", "128Mi"][..])),
    )
        .prop_map(|(name, image, ports, env, cpu)| Container {
            name,
            image: Some(image.to_owned()),
            ports: (!ports.is_empty()).then(|| {
                ports
                    .into_iter()
                    .map(|p| ContainerPort {
                        container_port: p,
                        ..Default::default()
                    })
                    .collect()
            }),
            env: (!env.is_empty()).then(|| {
                env.into_iter()
                    .map(|(name, value)| EnvVar {
                        name,
                        value: Some(value),
                        ..Default::default()
                    })
                    .collect()
            }),
            resources: cpu.map(|q| ResourceRequirements {
                limits: Some(BTreeMap::from([("cpu".to_owned(), Quantity(q.to_owned()))])),
                ..Default::default()
            }),
            args: Some(vec!["--port=80".into(), "yes".into(), "3".into()]),
            ..Default::default()
        })
}

fn pod_spec() -> impl Strategy<Value = PodSpec> {
    (
        proptest::collection::vec(container(), 1..3),
        proptest::option::of(0..600i64),
        proptest::option::of(dns_label()),
    )
        .prop_map(|(containers, grace, node)| PodSpec {
            containers,
            termination_grace_period_seconds: grace,
            node_name: node,
            ..Default::default()
        })
}

fn meta() -> impl Strategy<Value = ObjectMeta> {
    (dns_label(), dns_label(), labels(), proptest::option::of(labels())).prop_map(|(name, ns, labels, ann)| {
        ObjectMeta {
            name: Some(name),
            namespace: Some(ns),
            labels: Some(labels),
            annotations: ann,
            ..Default::default()
        }
    })
}

fn int_or_string() -> impl Strategy<Value = IntOrString> {
    prop_oneof![
        (0..10i32).prop_map(IntOrString::Int),
        (0..100u32).prop_map(|p| IntOrString::String(format!("{p}%"))),
    ]
}

fn deployment() -> impl Strategy<Value = Deployment> {
    (
        meta(),
        labels(),
        proptest::option::of(0..50i32),
        proptest::option::of((int_or_string(), int_or_string())),
        pod_spec(),
    )
        .prop_map(|(metadata, sel, replicas, ru, spec)| Deployment {
            metadata,
            spec: Some(DeploymentSpec {
                replicas,
                selector: LabelSelector {
                    match_labels: Some(sel.clone()),
                    match_expressions: None,
                },
                strategy: ru.map(|(surge, unavailable)| DeploymentStrategy {
                    type_: Some("RollingUpdate".into()),
                    rolling_update: Some(RollingUpdateDeployment {
                        max_surge: Some(surge),
                        max_unavailable: Some(unavailable),
                    }),
                }),
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(sel),
                        ..Default::default()
                    }),
                    spec: Some(spec),
                },
                ..Default::default()
            }),
            status: None,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn generated_deployments_round_trip(d in deployment()) {
        let obj = Object::Deployment(d);
        assert_round_trips(&obj);
        // Defaulted objects round-trip too (whether or not they validate).
        let mut defaulted = obj.clone();
        let _ = admit(&mut defaulted, None);
        assert_round_trips(&defaulted);
    }

    #[test]
    fn generated_pods_round_trip(metadata in meta(), spec in pod_spec()) {
        let obj = Object::Pod(Pod { metadata, spec: Some(spec), status: None });
        assert_round_trips(&obj);
    }
}

const CORPUS: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: team-a
  labels: {kubernetes.io/metadata.name: team-a}
---
apiVersion: v1
kind: Node
metadata:
  name: node-1
  labels: {kubernetes.io/hostname: node-1, node-role.kubernetes.io/worker: ""}
spec:
  podCIDR: 10.244.1.0/24
  taints:
  - {key: dedicated, value: gpu, effect: NoSchedule}
status:
  capacity: {cpu: "4", memory: 16Gi, pods: "110"}
  conditions:
  - {type: Ready, status: "True", reason: KubeletReady, lastHeartbeatTime: "2024-05-01T10:00:00Z", lastTransitionTime: "2024-05-01T09:00:00Z"}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: team-a
  annotations:
    deployment.kubernetes.io/revision: "3"
    kubectl.kubernetes.io/last-applied-configuration: '{"apiVersion":"apps/v1","kind":"Deployment"}'
spec:
  replicas: 4
  paused: false
  minReadySeconds: 5
  selector:
    matchLabels: {app: api}
    matchExpressions:
    - {key: tier, operator: In, values: [backend, "1.0"]}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: "10%"}
  template:
    metadata:
      labels: {app: api, tier: backend}
      annotations: {prometheus.io/scrape: "true"}
    spec:
      serviceAccountName: api
      nodeSelector: {kubernetes.io/os: linux}
      tolerations:
      - {key: dedicated, operator: Equal, value: gpu, effect: NoSchedule, tolerationSeconds: 300}
      volumes:
      - name: config
        configMap: {name: api-config, defaultMode: 420}
      containers:
      - name: api
        image: ghcr.io/example/api:v1.2.3
        command: [/bin/api]
        args: ["--listen=:8080", "--verbose"]
        env:
        - {name: LOG_LEVEL, value: debug}
        - name: POD_NAME
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
        ports:
        - {name: http, containerPort: 8080, protocol: TCP}
        resources:
          requests: {cpu: 250m, memory: 64Mi}
          limits: {cpu: "1", memory: 128Mi}
        readinessProbe:
          httpGet: {path: /healthz, port: http}
          periodSeconds: 5
        livenessProbe:
          tcpSocket: {port: 8080}
          initialDelaySeconds: 10
        volumeMounts:
        - {name: config, mountPath: /etc/api, readOnly: true}
status:
  observedGeneration: 7
  replicas: 4
  updatedReplicas: 4
  readyReplicas: 4
  availableReplicas: 4
  conditions:
  - {type: Available, status: "True", reason: MinimumReplicasAvailable, message: Deployment has minimum availability., lastUpdateTime: "2024-05-01T10:00:00Z", lastTransitionTime: "2024-05-01T10:00:00Z"}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: api-5d4f8
  namespace: team-a
  labels: {app: api, pod-template-hash: 5d4f8}
  ownerReferences:
  - {apiVersion: apps/v1, kind: Deployment, name: api, uid: 0b6f5d0e-1111-2222-3333-444455556666, controller: true, blockOwnerDeletion: true}
spec:
  replicas: 2
  selector:
    matchLabels: {app: api, pod-template-hash: 5d4f8}
  template:
    metadata:
      labels: {app: api, pod-template-hash: 5d4f8}
    spec:
      containers:
      - {name: api, image: "nginx:1.25"}
status: {replicas: 2, fullyLabeledReplicas: 2, readyReplicas: 1, availableReplicas: 1, observedGeneration: 1}
---
apiVersion: v1
kind: Pod
metadata:
  name: api-5d4f8-x2k9p
  generateName: api-5d4f8-
  namespace: team-a
  uid: 9a1f2d3c-aaaa-bbbb-cccc-ddddeeeeffff
  resourceVersion: "1234"
  creationTimestamp: "2024-05-01T10:00:00Z"
  deletionTimestamp: "2024-05-01T11:00:00Z"
  deletionGracePeriodSeconds: 30
  finalizers: [example.com/cleanup]
spec:
  nodeName: node-1
  containers:
  - {name: api, image: nginx}
status:
  phase: Running
  podIP: 10.244.1.7
  startTime: "2024-05-01T10:00:01Z"
  conditions:
  - {type: Ready, status: "True", lastTransitionTime: "2024-05-01T10:00:05Z"}
  containerStatuses:
  - name: api
    image: nginx
    imageID: ""
    ready: true
    restartCount: 2
    started: true
    state: {running: {startedAt: "2024-05-01T10:00:04Z"}}
    lastState: {terminated: {exitCode: 137, reason: OOMKilled, startedAt: "2024-05-01T09:59:00Z", finishedAt: "2024-05-01T10:00:00Z"}}
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: capstan-controller-manager, namespace: kube-system}
spec:
  holderIdentity: manager-1_7f3c
  leaseDurationSeconds: 15
  acquireTime: "2024-05-01T10:00:00.000000Z"
  renewTime: "2024-05-01T10:00:10.123456Z"
  leaseTransitions: 3
---
apiVersion: v1
kind: Event
metadata: {name: api.17c9a3b2, namespace: team-a}
involvedObject: {apiVersion: apps/v1, kind: Deployment, name: api, namespace: team-a}
reason: ScalingReplicaSet
message: Scaled up replica set api-5d4f8 to 2
type: Normal
count: 1
firstTimestamp: "2024-05-01T10:00:00Z"
lastTimestamp: "2024-05-01T10:00:00Z"
eventTime: "2024-05-01T10:00:00.123456Z"
reportingComponent: deployment-controller
reportingInstance: manager-1
source: {component: deployment-controller}
"#;

#[test]
fn a_corpus_of_realistic_manifests_round_trips_every_builtin_kind() {
    let objects = parse_manifests(CORPUS).expect("the corpus parses");
    let kinds: Vec<String> = objects.iter().map(|o| o.type_key().kind).collect();
    assert_eq!(
        kinds,
        ["Namespace", "Node", "Deployment", "ReplicaSet", "Pod", "Lease", "Event"]
    );
    for obj in &objects {
        assert_round_trips(obj);
    }
}

#[test]
fn corpus_fields_survive_as_written() {
    let objects = parse_manifests(CORPUS).unwrap();
    let json = objects[2].to_json().unwrap();
    assert_eq!(json["spec"]["selector"]["matchExpressions"][0]["values"][1], "1.0");
    assert_eq!(
        json["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"],
        "250m"
    );
    assert_eq!(json["spec"]["strategy"]["rollingUpdate"]["maxSurge"], 1);
    assert_eq!(json["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"], "10%");
    let lease = objects[5].to_json().unwrap();
    assert_eq!(lease["spec"]["renewTime"], "2024-05-01T10:00:10.123456Z");
}
