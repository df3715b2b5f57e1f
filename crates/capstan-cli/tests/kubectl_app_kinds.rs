//! The real kubectl applies ordinary application manifests: a Deployment with the ConfigMap, Secret,
//! Service and ServiceAccount that usually travel with it. Capstan stores those kinds (no proxy, no
//! volumes) so that such manifests apply, list, describe and delete as on Kubernetes.

mod common;

use common::Cluster;

const APP: &str = "\
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config}
data: {greeting: hello}
---
apiVersion: v1
kind: Secret
metadata: {name: web-secret}
stringData: {password: s3cret}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: web
      containers:
      - name: web
        image: nginx:1.27
        ports: [{containerPort: 80}]
        envFrom: [{configMapRef: {name: web-config}}, {secretRef: {name: web-secret}}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
";

#[test]
fn a_manifest_with_config_map_secret_service_and_service_account_applies_and_deletes() {
    let c = Cluster::start(&["--in-memory"]);
    let app = c.write("app.yaml", APP);
    let out = c.ok(&["apply", "-f", &app]);
    for line in [
        "configmap/web-config created",
        "secret/web-secret created",
        "serviceaccount/web created",
        "deployment.apps/web created",
        "service/web created",
    ] {
        assert!(out.contains(line), "{out}");
    }
    // Applying again changes nothing.
    let again = c.ok(&["apply", "-f", &app]);
    assert!(again.contains("service/web unchanged"), "{again}");
    assert!(again.contains("configmap/web-config unchanged"), "{again}");

    // The Service got Kubernetes' defaults and a cluster IP from the service range.
    let ip = c.ok(&["get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"]);
    let ip: std::net::Ipv4Addr = ip.parse().unwrap_or_else(|_| panic!("cluster IP {ip:?}"));
    assert_eq!(&ip.octets()[..1], &[10]);
    let port = c.ok(&[
        "get",
        "svc",
        "web",
        "-o",
        "jsonpath={.spec.ports[0].protocol}/{.spec.ports[0].targetPort}",
    ]);
    assert_eq!(port, "TCP/80");
    // The Secret's stringData became base64 data.
    let password = c.ok(&["get", "secret", "web-secret", "-o", "jsonpath={.data.password}"]);
    assert_eq!(password, "czNjcmV0");
    let listed = c.ok(&["get", "cm,secret,sa,svc"]);
    for name in [
        "configmap/web-config",
        "secret/web-secret",
        "serviceaccount/web",
        "service/web",
    ] {
        assert!(listed.contains(name), "{listed}");
    }
    let all = c.ok(&["get", "all"]);
    assert!(all.contains("service/web"), "kubectl get all lists services: {all}");

    // Bad input is refused naming the field, and nothing is written.
    let bad = c.write(
        "bad.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: 1bad}\nspec:\n  ports: [{port: 70000}]\n",
    );
    let err = c.fails(&["apply", "-f", &bad]);
    assert!(
        err.contains("metadata.name") && err.contains("spec.ports[0].port"),
        "{err}"
    );
    c.fails(&["get", "svc", "1bad"]);

    // An immutable ConfigMap keeps its data.
    c.ok(&["create", "configmap", "frozen", "--from-literal=a=1"]);
    c.ok(&["patch", "configmap", "frozen", "-p", r#"{"immutable":true}"#]);
    let err = c.fails(&["patch", "configmap", "frozen", "-p", r#"{"data":{"a":"2"}}"#]);
    assert!(err.contains("immutable"), "{err}");

    let gone = c.ok(&["delete", "-f", &app]);
    assert!(gone.contains("service \"web\" deleted"), "{gone}");
    let left = c.ok(&["get", "cm,secret,sa,svc,deploy", "-o", "name"]);
    for name in [
        "web-config",
        "web-secret",
        "serviceaccount/web",
        "service/web",
        "deployment.apps/web",
    ] {
        assert!(!left.contains(name), "{name} still there: {left}");
    }
}

#[test]
fn typed_kubectl_commands_create_config_maps_secrets_and_services() {
    let c = Cluster::start(&["--in-memory"]);
    c.ok(&["create", "configmap", "settings", "--from-literal=mode=fast"]);
    assert_eq!(c.ok(&["get", "cm", "settings", "-o", "jsonpath={.data.mode}"]), "fast");
    c.ok(&["create", "secret", "generic", "token", "--from-literal=value=abc"]);
    assert_eq!(
        c.ok(&["get", "secret", "token", "-o", "jsonpath={.type} {.data.value}"]),
        "Opaque YWJj"
    );
    c.ok(&["create", "deployment", "api", "--image=nginx", "--port=8080"]);
    c.ok(&["expose", "deployment", "api", "--port=80", "--target-port=8080"]);
    assert_eq!(
        c.ok(&[
            "get",
            "svc",
            "api",
            "-o",
            "jsonpath={.spec.selector.app} {.spec.ports[0].targetPort}"
        ]),
        "api 8080"
    );
    c.ok(&["create", "service", "nodeport", "np", "--tcp=80:8080"]);
    let svc = c.ok(&["get", "svc", "np", "--no-headers"]);
    assert!(
        svc.contains("NodePort") && svc.contains("80:3"),
        "a node port in 30000-32767: {svc}"
    );
    c.ok(&["patch", "svc", "np", "-p", r#"{"spec":{"type":"ClusterIP"}}"#]);
    let port = c.ok(&["get", "svc", "np", "-o", "jsonpath={.spec.ports[0].nodePort}"]);
    assert_eq!(port, "", "a ClusterIP Service has no node port");
    c.ok(&["create", "serviceaccount", "robot"]);
    c.ok(&["get", "sa", "robot"]);
    let info = c.ok(&["cluster-info"]);
    assert!(info.contains("is running at"), "{info}");
}

#[test]
fn a_kind_the_server_does_not_serve_is_reported_as_kubernetes_reports_it() {
    let c = Cluster::start(&["--in-memory"]);
    let pvc = c.write(
        "pvc.yaml",
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nspec: {accessModes: [ReadWriteOnce]}\n",
    );
    let err = c.fails(&["apply", "-f", &pvc]);
    assert!(
        err.contains("no matches for kind \"PersistentVolumeClaim\" in version \"v1\""),
        "kubectl's own validation should pass through to the real error: {err}"
    );
    let custom = c.write(
        "foo.yaml",
        "apiVersion: example.com/v1\nkind: Foo\nmetadata: {name: x}\n",
    );
    let err = c.fails(&["apply", "-f", &custom]);
    assert!(err.contains("ensure CRDs are installed first"), "{err}");
}

/// What an operator's install manifest usually holds besides its Deployment.
const OPERATOR_RBAC: &str = "\
apiVersion: v1
kind: ServiceAccount
metadata: {name: operator}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: operator}
rules:
- apiGroups: [\"\", apps]
  resources: [pods, deployments]
  verbs: [get, list, watch, create, update, patch, delete]
- nonResourceURLs: [/healthz]
  verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: operator}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: operator}
subjects:
- {kind: ServiceAccount, name: operator, namespace: default}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: leader-election}
rules:
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [get, create, update]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: leader-election}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: leader-election}
subjects:
- {kind: ServiceAccount, name: operator}
";

#[test]
fn an_operators_rbac_manifest_applies_and_typed_rbac_commands_work() {
    let c = Cluster::start(&["--in-memory"]);
    let rbac = c.write("rbac.yaml", OPERATOR_RBAC);
    let out = c.ok(&["apply", "-f", &rbac]);
    for line in [
        "serviceaccount/operator created",
        "clusterrole.rbac.authorization.k8s.io/operator created",
        "clusterrolebinding.rbac.authorization.k8s.io/operator created",
        "role.rbac.authorization.k8s.io/leader-election created",
        "rolebinding.rbac.authorization.k8s.io/leader-election created",
    ] {
        assert!(out.contains(line), "{out}");
    }
    assert!(
        c.ok(&["apply", "-f", &rbac])
            .contains("clusterrole.rbac.authorization.k8s.io/operator unchanged")
    );
    let bindings = c.ok(&["get", "clusterrolebinding", "operator", "-o", "wide"]);
    assert!(
        bindings.contains("ClusterRole/operator") && bindings.contains("default/operator"),
        "{bindings}"
    );

    // The typed commands send protobuf.
    c.ok(&["create", "role", "reader", "--verb=get,list", "--resource=pods"]);
    c.ok(&["create", "rolebinding", "reader", "--role=reader", "--user=alice"]);
    c.ok(&[
        "create",
        "clusterrole",
        "viewer",
        "--verb=get",
        "--resource=deployments.apps",
    ]);
    c.ok(&[
        "create",
        "clusterrolebinding",
        "viewer",
        "--clusterrole=viewer",
        "--group=devs",
    ]);
    assert_eq!(
        c.ok(&["get", "role", "reader", "-o", "jsonpath={.rules[0].verbs}"]),
        r#"["get","list"]"#
    );

    // Kubernetes' rules: a binding's roleRef cannot change; a namespaced rule has no URLs.
    let err = c.fails(&[
        "patch",
        "rolebinding",
        "reader",
        "-p",
        r#"{"roleRef":{"name":"other"}}"#,
    ]);
    assert!(err.contains("cannot change roleRef"), "{err}");
    let bad = c.write(
        "bad-role.yaml",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: bad}\nrules:\n- nonResourceURLs: [/metrics]\n  verbs: [get]\n",
    );
    let err = c.fails(&["apply", "-f", &bad]);
    assert!(err.contains("rules[0].nonResourceURLs"), "{err}");
}
