//! The real kubectl drives CustomResourceDefinitions against `capstan up`: a CRD is applied and
//! established, custom objects are applied, listed (with the CRD's printer columns), patched,
//! re-applied and deleted, an invalid CRD is refused, and deleting the CRD removes its objects and
//! the kind. Also the namespaces Kubernetes refuses to delete, and the wide Node columns.

mod common;

use std::time::Duration;

use common::Cluster;

const CRD: &str = "\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: greetings.demo.capstan.dev
spec:
  group: demo.capstan.dev
  scope: Namespaced
  names:
    plural: greetings
    kind: Greeting
    shortNames: [gr]
    categories: [greeters]
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
      subresources:
        status: {}
      additionalPrinterColumns:
        - name: Message
          type: string
          jsonPath: .spec.message
";

fn greetings(first_message: &str) -> String {
    format!(
        "\
apiVersion: demo.capstan.dev/v1
kind: Greeting
metadata: {{name: hello}}
spec: {{message: {first_message}}}
---
apiVersion: demo.capstan.dev/v1
kind: Greeting
metadata: {{name: goodbye}}
spec: {{message: see-you}}
"
    )
}

#[test]
fn kubectl_applies_a_crd_then_manages_its_custom_objects_and_deleting_the_crd_removes_them() {
    let c = Cluster::start(&["--in-memory"]);
    let crd = c.write("crd.yaml", CRD);
    let out = c.ok(&["apply", "-f", &crd]);
    assert!(
        out.contains("customresourcedefinition.apiextensions.k8s.io/greetings.demo.capstan.dev created"),
        "{out}"
    );
    c.ok(&[
        "wait",
        "--for=condition=Established",
        "--timeout=20s",
        "crd/greetings.demo.capstan.dev",
    ]);

    let resources = c.ok(&["api-resources", "--api-group=demo.capstan.dev"]);
    let line = resources
        .lines()
        .find(|l| l.starts_with("greetings"))
        .unwrap_or_default();
    assert!(
        line.contains("gr") && line.contains("demo.capstan.dev/v1") && line.contains("Greeting"),
        "{resources}"
    );

    let objs = c.write("greetings.yaml", &greetings("hi-there"));
    let out = c.ok(&["apply", "-f", &objs]);
    assert!(out.contains("greeting.demo.capstan.dev/hello created"), "{out}");
    assert!(out.contains("greeting.demo.capstan.dev/goodbye created"), "{out}");

    let table = c.ok(&["get", "greetings"]);
    let header = table.lines().next().unwrap_or_default();
    assert!(
        header.starts_with("NAME") && header.contains("MESSAGE") && header.contains("AGE"),
        "{table}"
    );
    assert!(
        table.lines().any(|l| l.starts_with("hello") && l.contains("hi-there")),
        "{table}"
    );
    assert!(c.ok(&["get", "gr", "goodbye"]).contains("see-you"));
    assert!(c.ok(&["get", "greeters"]).contains("hello"));

    let yaml = c.ok(&["get", "greeting", "hello", "-o", "yaml"]);
    assert!(
        yaml.contains("apiVersion: demo.capstan.dev/v1") && yaml.contains("message: hi-there"),
        "{yaml}"
    );

    let out = c.ok(&[
        "patch",
        "greeting",
        "hello",
        "--type=merge",
        "-p",
        r#"{"spec":{"message":"patched"}}"#,
    ]);
    assert!(out.contains("greeting.demo.capstan.dev/hello patched"), "{out}");
    assert_eq!(
        c.ok(&["get", "greeting", "hello", "-o", "jsonpath={.spec.message}"]),
        "patched"
    );
    let out = c.ok(&[
        "patch",
        "greeting",
        "hello",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"seen":true}}"#,
    ]);
    assert!(out.contains("patched"), "{out}");
    assert_eq!(
        c.ok(&["get", "greeting", "hello", "-o", "jsonpath={.status.seen}"]),
        "true"
    );

    // Re-applying: the patched object is brought back to the manifest, the other is unchanged.
    let out = c.ok(&["apply", "-f", &objs]);
    assert!(out.contains("greeting.demo.capstan.dev/hello configured"), "{out}");
    assert!(out.contains("greeting.demo.capstan.dev/goodbye unchanged"), "{out}");
    assert_eq!(
        c.ok(&["get", "greeting", "hello", "-o", "jsonpath={.spec.message}"]),
        "hi-there"
    );
    assert_eq!(
        c.ok(&["get", "greeting", "hello", "-o", "jsonpath={.status.seen}"]),
        "true"
    );

    let out = c.ok(&["delete", "greeting", "goodbye"]);
    assert!(out.contains("greeting.demo.capstan.dev \"goodbye\" deleted"), "{out}");
    assert!(!c.ok(&["get", "greetings"]).contains("goodbye"));

    // A CRD whose name is not <plural>.<group> is refused (422), naming the field.
    let bad = c.write(
        "bad.yaml",
        &CRD.replace("name: greetings.demo.capstan.dev", "name: hellos.demo.capstan.dev"),
    );
    let err = c.fails(&["apply", "-f", &bad]);
    assert!(err.contains("is invalid") && err.contains("metadata.name"), "{err}");
    let raw = c.fails(&["create", "-f", &bad, "-v=6"]);
    assert!(raw.contains("422"), "{raw}");

    let out = c.ok(&["delete", "crd", "greetings.demo.capstan.dev", "--timeout=30s"]);
    assert!(out.contains("deleted"), "{out}");
    let err = c.fails(&["get", "greetings"]);
    assert!(
        err.contains("the server doesn't have a resource type \"greetings\"")
            || err.contains("could not find the requested resource"),
        "{err}"
    );
    // The objects went with the CRD: defining the kind again finds none.
    c.ok(&["apply", "-f", &crd]);
    c.ok(&[
        "wait",
        "--for=condition=Established",
        "--timeout=20s",
        "crd/greetings.demo.capstan.dev",
    ]);
    let out = c.kubectl(&["get", "greetings", "-A"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("No resources found"),
        "{out:?}"
    );
}

#[test]
fn the_example_crd_and_greeting_apply_with_kubectl_as_the_readme_says() {
    let c = Cluster::start(&["--in-memory"]);
    let crd = c.ok(&["apply", "-f", &common::example("greeting-crd.yaml")]);
    assert!(
        crd.contains("customresourcedefinition.apiextensions.k8s.io/greetings.example.com created"),
        "{crd}"
    );
    c.ok(&[
        "wait",
        "--for=condition=Established",
        "--timeout=20s",
        "crd/greetings.example.com",
    ]);
    let greeting = c.ok(&["apply", "-f", &common::example("greeting.yaml")]);
    assert!(greeting.contains("greeting.example.com/hello created"), "{greeting}");
    let table = c.ok(&["get", "greetings"]);
    assert!(
        table.contains("hello") && table.contains("Hello from Capstan"),
        "{table}"
    );
}

#[test]
fn the_system_namespaces_cannot_be_deleted_and_nodes_have_wide_columns() {
    let c = Cluster::start(&["--in-memory"]);
    for ns in ["default", "kube-system", "kube-public"] {
        let err = c.fails(&["delete", "namespace", ns]);
        assert!(
            err.contains(&format!(
                "namespaces \"{ns}\" is forbidden: this namespace may not be deleted"
            )),
            "{err}"
        );
    }
    assert!(c.ok(&["get", "namespace", "default"]).contains("Active"));
    let wide = c.ok(&["get", "nodes", "-o", "wide"]);
    let header = wide.lines().next().unwrap_or_default();
    for col in [
        "INTERNAL-IP",
        "EXTERNAL-IP",
        "OS-IMAGE",
        "KERNEL-VERSION",
        "CONTAINER-RUNTIME",
    ] {
        assert!(header.contains(col), "{wide}");
    }
    assert!(
        !c.ok(&["get", "nodes"])
            .lines()
            .next()
            .unwrap_or_default()
            .contains("INTERNAL-IP")
    );
}

#[test]
fn deleting_a_custom_resource_garbage_collects_what_it_owns() {
    let c = Cluster::start(&["--in-memory"]);
    c.ok(&["apply", "-f", &common::example("greeting-crd.yaml")]);
    c.ok(&[
        "wait",
        "--for=condition=Established",
        "--timeout=20s",
        "crd/greetings.example.com",
    ]);
    c.ok(&["apply", "-f", &common::example("greeting.yaml")]);
    let uid = c.ok(&["get", "greeting", "hello", "-o", "jsonpath={.metadata.uid}"]);
    let child = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello-text\n  ownerReferences:\n  - apiVersion: example.com/v1\n    kind: Greeting\n    name: hello\n    uid: {uid}\n    controller: true\ndata: {{text: hi}}\n"
    );
    let child = c.write("child.yaml", &child);
    c.ok(&["apply", "-f", &child]);
    c.ok(&["delete", "greeting", "hello"]);
    common::poll(
        Duration::from_secs(30),
        Duration::from_millis(200),
        "the ConfigMap owned by the deleted Greeting was not collected",
        || (!c.kubectl(&["get", "configmap", "hello-text"]).status.success()).then_some(()),
    );
}

#[test]
fn capstan_up_applies_a_crd_and_its_objects_from_its_manifests() {
    let (crd, greeting) = (common::example("greeting-crd.yaml"), common::example("greeting.yaml"));
    let c = Cluster::start(&["--in-memory", "-f", &crd, "-f", &greeting]);
    let table = common::poll(
        Duration::from_secs(20),
        Duration::from_millis(200),
        "the Greeting from capstan up's manifests did not appear",
        || {
            let out = c.kubectl(&["get", "greetings"]);
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.contains("hello").then_some(text)
        },
    );
    assert!(table.contains("Hello from Capstan"), "{table}");
}
