"""Unit tests of the kube-apiserver STAND-IN's server-side printing (lab/standin/apiserver/tables.py)."""
import os
import sys
from datetime import datetime, timezone

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from lab.standin.apiserver import tables as t  # noqa: E402  pylint: disable=wrong-import-position

NOW = datetime(2024, 1, 10, 12, 0, 0, tzinfo=timezone.utc)


def _names(table):
    return [c["name"] for c in table["columnDefinitions"]]


def _node(name, age_seconds=182, ready="True", **extra):
    created = datetime.fromtimestamp(NOW.timestamp() - age_seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    node = {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "creationTimestamp": created, "resourceVersion": "7",
                         "labels": extra.pop("labels", {"kubernetes.io/hostname": name})},
            "spec": extra.pop("spec", {}),
            "status": {"conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": ready}],
                       "addresses": [{"type": "InternalIP", "address": "10.0.0.11"}, {"type": "Hostname", "address": name}],
                       "nodeInfo": {"kubeletVersion": "v1.32.3", "osImage": "Debian GNU/Linux 12 (bookworm)",
                                    "kernelVersion": "6.1.0-18-amd64", "containerRuntimeVersion": "containerd://1.6.20"}}}
    node.update(extra)
    return node


@pytest.mark.parametrize("seconds, text", [
    (-5, "<invalid>"), (-1, "0s"), (0, "0s"), (5, "5s"), (119, "119s"), (120, "2m"), (182, "3m2s"), (599, "9m59s"),
    (600, "10m"), (179 * 60, "179m"), (3 * 3600, "3h"), (4 * 3600, "4h"), (5 * 3600 + 30 * 60, "5h30m"),
    (8 * 3600, "8h"), (47 * 3600, "47h"), (2 * 86400, "2d"), (3 * 86400 + 4 * 3600, "3d4h"), (8 * 86400, "8d"),
    (400 * 86400, "400d"), (800 * 86400, "2y70d"), (3 * 365 * 86400, "3y"), (9 * 365 * 86400, "9y"),
])
def test_human_duration_like_kubectl(seconds, text):
    assert t.human_duration(seconds) == text


def test_node_table_wide():
    nodes = [
        _node("cp-1", labels={"node-role.kubernetes.io/control-plane": "", "kubernetes.io/hostname": "cp-1"},
              spec={"unschedulable": True}),
        _node("w-1", age_seconds=2 * 86400, ready="False"),
        _node("w-2", age_seconds=30, labels={"node-role.kubernetes.io/worker": "", "node-role.kubernetes.io/infra": "",
                                             "kubernetes.io/role": "edge"}),
    ]
    nodes[2]["status"] = {}
    table = t.to_table("Node", "", nodes, True, None, NOW)
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert _names(table) == ["Name", "Status", "Roles", "Age", "Version", "Internal-IP", "External-IP", "OS-Image",
                             "Kernel-Version", "Container-Runtime"]
    assert [c["priority"] for c in table["columnDefinitions"]] == [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    assert table["columnDefinitions"][0]["format"] == "name"
    assert all(c["type"] == "string" for c in table["columnDefinitions"])
    rows = [r["cells"] for r in table["rows"]]
    assert rows[0] == ["cp-1", "Ready,SchedulingDisabled", "control-plane", "3m2s", "v1.32.3", "10.0.0.11", "<none>",
                       "Debian GNU/Linux 12 (bookworm)", "6.1.0-18-amd64", "containerd://1.6.20"]
    assert rows[1][:5] == ["w-1", "NotReady", "<none>", "2d", "v1.32.3"]
    assert rows[2] == ["w-2", "Unknown", "edge,infra,worker", "30s", "", "<none>", "<none>", "<unknown>", "<unknown>",
                       "<unknown>"]
    obj = table["rows"][0]["object"]
    assert obj["kind"] == "PartialObjectMetadata" and obj["apiVersion"] == "meta.k8s.io/v1"
    assert obj["metadata"]["name"] == "cp-1" and obj["metadata"]["resourceVersion"] == "7"


def test_node_table_without_wide_columns():
    table = t.to_table("Node", "", [_node("cp-1")], False, None, NOW)
    assert _names(table) == ["Name", "Status", "Roles", "Age", "Version"]
    assert table["rows"][0]["cells"] == ["cp-1", "Ready", "<none>", "3m2s", "v1.32.3"]


def test_pod_table():
    pod = {"metadata": {"name": "kube-apiserver-cp-1", "creationTimestamp": "2024-01-10T11:00:00Z"},
           "spec": {"nodeName": "cp-1", "containers": [{"name": "a"}, {"name": "b"}]},
           "status": {"phase": "Running", "podIP": "10.0.0.11", "containerStatuses": [
               {"name": "a", "ready": True, "restartCount": 2, "state": {"running": {}},
                "lastState": {"terminated": {"finishedAt": "2024-01-10T11:55:00Z"}}},
               {"name": "b", "ready": False, "restartCount": 1, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}}
    table = t.to_table("Pod", "", [pod], True, None, NOW)
    assert _names(table) == ["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node", "Readiness Gates"]
    assert table["rows"][0]["cells"] == ["kube-apiserver-cp-1", "1/2", "CrashLoopBackOff", "3 (5m ago)", "60m",
                                         "10.0.0.11", "cp-1", "<none>", "<none>"]
    pending = {"metadata": {"name": "p", "creationTimestamp": "2024-01-10T11:59:50Z", "deletionTimestamp": "x"},
               "spec": {"containers": [{"name": "a"}]}, "status": {"phase": "Pending"}}
    assert t.to_table("Pod", "", [pending], False, None, NOW)["rows"][0]["cells"] == ["p", "0/1", "Terminating", "0", "10s"]


def test_simple_builtin_tables():
    created = "2024-01-10T11:00:00Z"
    ns = t.to_table("Namespace", "", [{"metadata": {"name": "kube-system", "creationTimestamp": created},
                                       "status": {"phase": "Active"}}], False, None, NOW)
    assert _names(ns) == ["Name", "Status", "Age"] and ns["rows"][0]["cells"] == ["kube-system", "Active", "60m"]
    cm = t.to_table("ConfigMap", "", [{"metadata": {"name": "c", "creationTimestamp": created}, "data": {"a": "1", "b": "2"}}],
                    False, None, NOW)
    assert _names(cm) == ["Name", "Data", "Age"] and cm["rows"][0]["cells"] == ["c", 2, "60m"]
    assert cm["columnDefinitions"][1]["type"] == "integer"
    secret = t.to_table("Secret", "", [{"metadata": {"name": "bootstrap-token-abcdef", "creationTimestamp": created},
                                        "type": "bootstrap.kubernetes.io/token", "data": {"a": "", "b": "", "c": ""}}],
                        False, None, NOW)
    assert _names(secret) == ["Name", "Type", "Data", "Age"]
    assert secret["rows"][0]["cells"] == ["bootstrap-token-abcdef", "bootstrap.kubernetes.io/token", 3, "60m"]


def test_workload_tables():
    deployment = {"metadata": {"name": "coredns", "creationTimestamp": "2024-01-10T11:00:00Z"},
                  "spec": {"replicas": 2, "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
                           "template": {"spec": {"containers": [{"name": "coredns", "image": "registry.k8s.io/coredns:v1.11.3"}]}}},
                  "status": {"readyReplicas": 1, "updatedReplicas": 2, "availableReplicas": 1}}
    table = t.to_table("Deployment", "apps", [deployment], True, None, NOW)
    assert _names(table) == ["Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images", "Selector"]
    assert table["rows"][0]["cells"] == ["coredns", "1/2", 2, 1, "60m", "coredns", "registry.k8s.io/coredns:v1.11.3",
                                         "k8s-app=kube-dns"]
    daemonset = {"metadata": {"name": "kube-proxy", "creationTimestamp": "2024-01-10T11:00:00Z"},
                 "spec": {"selector": {"matchLabels": {"k8s-app": "kube-proxy"}}, "template": {"spec": {
                     "nodeSelector": {"kubernetes.io/os": "linux"}, "containers": [{"name": "kube-proxy", "image": "kp"}]}}},
                 "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                            "updatedNumberScheduled": 3, "numberAvailable": 2}}
    table = t.to_table("DaemonSet", "apps", [daemonset], False, None, NOW)
    assert _names(table) == ["Name", "Desired", "Current", "Ready", "Up-to-date", "Available", "Node Selector", "Age"]
    assert table["rows"][0]["cells"] == ["kube-proxy", 3, 3, 2, 3, 2, "kubernetes.io/os=linux", "60m"]


def test_service_storage_and_volume_tables():
    svc = {"metadata": {"name": "kubernetes", "creationTimestamp": "2024-01-10T11:00:00Z"},
           "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "ports": [{"port": 443, "protocol": "TCP"}]}}
    table = t.to_table("Service", "", [svc], False, None, NOW)
    assert _names(table) == ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age"]
    assert table["rows"][0]["cells"] == ["kubernetes", "ClusterIP", "10.96.0.1", "<none>", "443/TCP", "60m"]
    svc["spec"].update({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}]})
    assert t.to_table("Service", "", [svc], False, None, NOW)["rows"][0]["cells"][4] == "80:30080/TCP"
    sc = {"metadata": {"name": "local", "creationTimestamp": "2024-01-10T11:00:00Z",
                       "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
          "provisioner": "kubernetes.io/no-provisioner", "volumeBindingMode": "WaitForFirstConsumer"}
    table = t.to_table("StorageClass", "storage.k8s.io", [sc], False, None, NOW)
    assert _names(table) == ["Name", "Provisioner", "ReclaimPolicy", "VolumeBindingMode", "AllowVolumeExpansion", "Age"]
    assert table["rows"][0]["cells"] == ["local (default)", "kubernetes.io/no-provisioner", "Delete", "WaitForFirstConsumer",
                                         False, "60m"]
    pv = {"metadata": {"name": "pv-1", "creationTimestamp": "2024-01-10T11:00:00Z"},
          "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
                   "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "local",
                   "claimRef": {"namespace": "default", "name": "data"}},
          "status": {"phase": "Bound"}}
    table = t.to_table("PersistentVolume", "", [pv], True, None, NOW)
    assert _names(table) == ["Name", "Capacity", "Access Modes", "Reclaim Policy", "Status", "Claim", "StorageClass",
                             "VolumeAttributesClass", "Reason", "Age", "VolumeMode"]
    assert table["rows"][0]["cells"] == ["pv-1", "10Gi", "RWO,RWX", "Retain", "Bound", "default/data", "local", "<unset>", "",
                                         "60m", "<unset>"]


def test_csr_and_crd_tables():
    csr = {"metadata": {"name": "csr-abcde", "creationTimestamp": "2024-01-10T11:59:00Z"},
           "spec": {"signerName": "kubernetes.io/kube-apiserver-client-kubelet", "username": "system:bootstrap:abcdef"},
           "status": {"conditions": [{"type": "Approved", "status": "True"}], "certificate": "LS0t"}}
    table = t.to_table("CertificateSigningRequest", "certificates.k8s.io", [csr], False, None, NOW)
    assert _names(table) == ["Name", "Age", "SignerName", "Requestor", "RequestedDuration", "Condition"]
    assert table["rows"][0]["cells"] == ["csr-abcde", "60s", "kubernetes.io/kube-apiserver-client-kubelet",
                                         "system:bootstrap:abcdef", "<none>", "Approved,Issued"]
    csr["status"] = {}
    csr["spec"]["expirationSeconds"] = 3600
    assert t.to_table("CertificateSigningRequest", "certificates.k8s.io", [csr], False, None, NOW)["rows"][0]["cells"][4:] == [
        "60m", "Pending"]
    crd = {"metadata": {"name": "installations.operator.tigera.io", "creationTimestamp": "2024-01-10T11:00:00Z"}}
    table = t.to_table("CustomResourceDefinition", "apiextensions.k8s.io", [crd], False, None, NOW)
    assert _names(table) == ["Name", "Created At"] and table["columnDefinitions"][1]["type"] == "date"
    assert table["rows"][0]["cells"] == ["installations.operator.tigera.io", "2024-01-10T11:00:00Z"]


def test_other_builtin_kinds_get_name_and_age():
    table = t.to_table("PriorityClass", "scheduling.k8s.io", [{"metadata": {"name": "x", "creationTimestamp": "2024-01-10T11:00:00Z"}}],
                       False, None, NOW)
    assert _names(table) == ["Name", "Age"] and table["rows"][0]["cells"] == ["x", "60m"]


def test_custom_resource_columns():
    obj = {"apiVersion": "operator.tigera.io/v1", "kind": "TigeraStatus",
           "metadata": {"name": "calico", "creationTimestamp": "2024-01-08T12:00:00Z"},
           "spec": {"replicas": 3, "labels": {"k.io/x": "y"}, "items": [{"n": "a"}, {"n": "b"}]},
           "status": {"conditions": [{"type": "Available", "status": "True"}, {"type": "Degraded", "status": "False"}]}}
    columns = [
        {"name": "Available", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Available")].status'},
        {"name": "Degraded", "type": "string", "jsonPath": ".status.conditions[?(@.type=='Degraded')].status"},
        {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
        {"name": "First", "type": "string", "jsonPath": ".spec.items[0].n", "priority": 1},
        {"name": "Label", "type": "string", "jsonPath": ".spec.labels['k.io/x']"},
        {"name": "Missing", "type": "string", "jsonPath": ".status.nothing"},
        {"name": "Since", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]
    table = t.to_table("TigeraStatus", "operator.tigera.io", [obj], True, columns, NOW)
    assert _names(table) == ["Name", "Available", "Degraded", "Replicas", "First", "Label", "Missing", "Since"]
    assert table["columnDefinitions"][3]["type"] == "integer" and table["columnDefinitions"][4]["priority"] == 1
    assert table["rows"][0]["cells"] == ["calico", "True", "False", 3, "a", "y", None, "2d"]
    assert _names(t.to_table("TigeraStatus", "operator.tigera.io", [obj], False, columns, NOW))[4] == "Label"
    default = t.to_table("TigeraStatus", "operator.tigera.io", [obj], False, None, NOW)
    assert _names(default) == ["Name", "Age"] and default["rows"][0]["cells"] == ["calico", "2d"]


def test_jsonpath_subset():
    obj = {"a": {"b": [{"c": 1, "t": "x"}, {"c": 2, "t": "y"}]}}
    assert t.jsonpath(obj, ".a.b[*].c") == [1, 2]
    assert t.jsonpath(obj, "{.a.b[-1].c}") == [2]
    assert t.jsonpath(obj, '.a.b[?(@.t=="y")].c') == [2]
    assert t.jsonpath(obj, ".a.b[?(@.t)].c") == [1, 2]
    assert t.jsonpath(obj, ".a.nope") == []
    with pytest.raises(ValueError, match="not supported by the stand-in"):
        t.jsonpath(obj, ".a..c")
