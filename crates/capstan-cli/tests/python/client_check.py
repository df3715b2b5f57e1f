"""The official Python client (`pip install kubernetes`) against `capstan up`: list, watch, create, 404.

Usage: client_check.py KUBECONFIG. Exits non-zero (with an assertion message) when anything differs.
"""
import sys
import threading
import time

from kubernetes import client, config, watch

config.load_kube_config(sys.argv[1])
core = client.CoreV1Api()
apps = client.AppsV1Api()

namespaces = [n.metadata.name for n in core.list_namespace().items]
assert "default" in namespaces, namespaces

pod = client.V1Pod(
    metadata=client.V1ObjectMeta(name="py-pod", labels={"from": "python"}),
    spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="nginx")]),
)
core.create_namespaced_pod("default", pod)
pods = [p.metadata.name for p in core.list_namespaced_pod("default", label_selector="from=python").items]
assert pods == ["py-pod"], pods

try:
    core.read_namespaced_pod("nope", "default")
    raise AssertionError("reading a missing pod should fail")
except client.exceptions.ApiException as e:
    assert e.status == 404, e.status


def scale_later():
    time.sleep(1)
    apps.patch_namespaced_deployment_scale("my-app", "default", {"spec": {"replicas": 7}})


threading.Thread(target=scale_later).start()
seen = []
for event in watch.Watch().stream(apps.list_namespaced_deployment, "default", timeout_seconds=4):
    seen.append((event["type"], event["object"].metadata.name, event["object"].spec.replicas))
assert ("ADDED", "my-app", 2) in seen, seen
assert ("MODIFIED", "my-app", 7) in seen, seen
print("python client ok:", seen)
