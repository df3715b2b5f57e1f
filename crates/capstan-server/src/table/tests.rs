//! Tests of the Table rendering (kubectl's columns per kind).

use super::*;

#[test]
fn ages_read_like_kubectl() {
    let f = |s| human_duration(Duration::from_secs(s));
    assert_eq!(f(5), "5s");
    assert_eq!(f(200), "3m20s");
    assert_eq!(f(1500), "25m");
    assert_eq!(f(5 * 3600 + 180), "5h3m");
    assert_eq!(f(30 * 3600), "30h");
    assert_eq!(f(3 * 86_400 + 4 * 3600), "3d4h");
    assert_eq!(f(40 * 86_400), "40d");
}

#[test]
fn pod_table_has_kubectl_columns_and_wide_ones_at_priority_one() {
    let pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "n1"},
        "status": {"phase": "Running", "podIP": "10.0.0.1", "containerStatuses": [{"ready": true, "restartCount": 2}, {"ready": false, "restartCount": 1}]}});
    let t = table(
        &TypeKey::new("", "v1", "Pod", "pods", true),
        &[&pod],
        "7",
        IncludeObject::Metadata,
    );
    let names: Vec<&str> = t["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node"]);
    assert_eq!(t["columnDefinitions"][5]["priority"], 1);
    assert_eq!(t["rows"][0]["cells"][1], "1/2");
    assert_eq!(t["rows"][0]["cells"][2], "Running");
    assert_eq!(t["rows"][0]["cells"][3], "3");
    assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    assert!(wants_table(
        "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    ));
    assert!(!wants_table("application/json"));
}

#[test]
fn service_config_map_and_secret_tables_have_kubectl_columns() {
    let svc = json!({"metadata": {"name": "web"}, "spec": {"type": "NodePort", "clusterIP": "10.96.3.4",
        "selector": {"app": "web"},
        "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}, {"port": 53, "protocol": "UDP"}]}});
    let t = table(
        &TypeKey::new("", "v1", "Service", "services", true),
        &[&svc],
        "1",
        IncludeObject::None,
    );
    let cells = &t["rows"][0]["cells"];
    assert_eq!(cells[1], "NodePort");
    assert_eq!(cells[2], "10.96.3.4");
    assert_eq!(cells[3], "<none>");
    assert_eq!(cells[4], "80:30080/TCP,53/UDP");
    assert_eq!(cells[6], "app=web");
    let lb = json!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "ports": []}});
    let t = table(
        &TypeKey::new("", "v1", "Service", "services", true),
        &[&lb],
        "1",
        IncludeObject::None,
    );
    assert_eq!(t["rows"][0]["cells"][3], "<pending>");
    assert_eq!(t["rows"][0]["cells"][4], "<none>");

    let cm = json!({"metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}});
    let t = table(
        &TypeKey::new("", "v1", "ConfigMap", "configmaps", true),
        &[&cm],
        "1",
        IncludeObject::None,
    );
    assert_eq!(t["rows"][0]["cells"][1], 3);
    let secret = json!({"metadata": {"name": "s"}, "type": "Opaque", "data": {"a": "AA=="}});
    let t = table(
        &TypeKey::new("", "v1", "Secret", "secrets", true),
        &[&secret],
        "1",
        IncludeObject::None,
    );
    assert_eq!(t["rows"][0]["cells"][1], "Opaque");
    assert_eq!(t["rows"][0]["cells"][2], 1);
}

#[test]
fn simple_json_paths_and_node_wide_columns_read_nested_fields() {
    let o = json!({"spec": {"message": "hi", "n": 3}, "status": {"addresses": [
        {"type": "Hostname", "address": "node-1"}, {"type": "InternalIP", "address": "10.0.0.1"}]}});
    assert_eq!(simple_json_path(&o, ".spec.message"), Some(&json!("hi")));
    assert_eq!(simple_json_path(&o, "{.spec.n}"), Some(&json!(3)));
    assert_eq!(simple_json_path(&o, ".spec.missing"), None);
    assert_eq!(node_address(&o, "InternalIP"), "10.0.0.1");
    assert_eq!(node_address(&o, "ExternalIP"), "<none>");
    let node = TypeKey::new("", "v1", "Node", "nodes", false);
    let t = table(&node, &[&o], "1", IncludeObject::None);
    let wide: Vec<&Value> = t["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["priority"] == 1)
        .map(|c| &c["name"])
        .collect();
    assert_eq!(
        wide,
        [
            "Internal-IP",
            "External-IP",
            "OS-Image",
            "Kernel-Version",
            "Container-Runtime"
        ]
    );
}

#[test]
fn binding_tables_show_the_role_and_the_subjects_by_kind() {
    let binding = json!({"metadata": {"name": "b"}, "roleRef": {"kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "robot", "namespace": "default"},
                     {"kind": "User", "name": "alice"}, {"kind": "User", "name": "bob"}]});
    let t = table(
        &TypeKey::new("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true),
        &[&binding],
        "1",
        IncludeObject::None,
    );
    let cells = &t["rows"][0]["cells"];
    assert_eq!(cells[1], "ClusterRole/view");
    assert_eq!(cells[3], "alice,bob");
    assert_eq!(cells[4], "");
    assert_eq!(cells[5], "default/robot");
}
