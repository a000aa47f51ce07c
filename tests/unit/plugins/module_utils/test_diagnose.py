"""plugins/module_utils/diagnose.py and plugins/filter/diagnose.py: what diagnose.yml and netdebug.yml decide."""

import base64
import datetime
import json

import pytest
from ansible.errors import AnsibleFilterError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.ironstone.k8s.plugins.filter import diagnose as f
from ansible_collections.ironstone.k8s.plugins.module_utils import diagnose as d

NOW = "2026-12-02T12:00:00Z"


def pod(name, phase="Running", ready="True", statuses=None, ns="default", node="worker1", conditions=None):
    conds = conditions if conditions is not None else [{"type": "Ready", "status": ready}]
    return {"metadata": {"name": name, "namespace": ns}, "spec": {"nodeName": node, "containers": [{"name": "app"}]},
            "status": {"phase": phase, "conditions": conds, "containerStatuses": statuses or []}}


CRASH = pod("crashy", ready="False", statuses=[{
    "name": "app", "restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 80s"}},
    "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled", "finishedAt": "2026-12-02T11:59:00Z"}}}])
GOOD = pod("web", statuses=[{"name": "app", "restartCount": 0, "state": {"running": {}}, "containerID": "containerd://abc"}])
PENDING = pod("pending", phase="Pending", ready="False", node=None, conditions=[
    {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/5 nodes are available: 5 Insufficient cpu."}])
UNSEEN = pod("unseen", phase="Pending", ready="False", node=None, conditions=[])


def node(name, ready, pressure=None):
    conds = [{"type": "Ready", "status": ready, "reason": "KubeletNotReady" if ready != "True" else "KubeletReady",
              "message": "container runtime is down" if ready != "True" else ""}]
    if pressure:
        conds.append({"type": pressure, "status": "True"})
    return {"metadata": {"name": name}, "status": {"conditions": conds}}


def cert_pem(days):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime(2026, 12, 2, 12, 0, tzinfo=datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "etcd-ca")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(7).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=days)).sign(key, hashes.SHA256()))
    return base64.b64encode(cert.public_bytes(serialization.Encoding.PEM)).decode()


CHECK = """[check-expiration] Reading configuration from the "kubeadm-config" ConfigMap in namespace "kube-system"...

CERTIFICATE                EXPIRES                  RESIDUAL TIME   CERTIFICATE AUTHORITY   EXTERNALLY MANAGED
admin.conf                 Dec 20, 2026 12:00 UTC   18d             ca                      no
apiserver                  Dec 02, 2027 12:00 UTC   364d            ca                      no

CERTIFICATE AUTHORITY   EXPIRES                  RESIDUAL TIME   EXTERNALLY MANAGED
ca                      Nov 30, 2036 12:00 UTC   9y              no
"""


def test_describe_and_previous_log_targets():
    pods = {"items": [GOOD, CRASH, PENDING]}
    assert d.pods_to_describe(pods) == [{"namespace": "default", "name": "crashy"}, {"namespace": "default", "name": "pending"}]
    assert d.restarted_containers(pods) == [{"namespace": "default", "pod": "crashy", "container": "app", "restarts": 4}]
    assert d.pods_to_describe("not json: kubectl failed") == []
    assert d.pods_to_describe(json.dumps({"items": [CRASH]})) == [{"namespace": "default", "name": "crashy"}]


def test_summary_names_everything_wrong():
    events = [{"involvedObject": {"kind": "PersistentVolumeClaim", "namespace": "db", "name": "data"}, "reason": "WaitForFirstConsumer",
               "message": "waiting for first consumer to be created before binding", "lastTimestamp": "2026-12-02T11:00:00Z"},
              {"involvedObject": {"kind": "Pod", "namespace": "default", "name": "unseen"}, "reason": "FailedScheduling",
               "message": "0/5 nodes are available", "lastTimestamp": "2026-12-02T11:00:00Z"}]
    pvcs = [{"metadata": {"name": "data", "namespace": "db"}, "status": {"phase": "Pending"}},
            {"metadata": {"name": "ok", "namespace": "db"}, "status": {"phase": "Bound"}}]
    etcd = {"host": "cp1", "rc": 1, "stdout": json.dumps([{"endpoint": "https://10.0.0.11:2379", "health": True},
                                                         {"endpoint": "https://10.0.0.12:2379", "health": False,
                                                          "error": "context deadline exceeded"}]), "stderr": ""}
    certs = [{"host": "cp1", "check_expiration": CHECK, "error": "",
              "etcd": [{"item": {"name": "etcd-ca", "path": "/etc/kubernetes/pki/etcd/ca.crt"}, "content": cert_pem(10)},
                       {"item": {"name": "etcd-peer", "path": "/etc/kubernetes/pki/etcd/peer.crt"}, "failed": True,
                        "msg": "file not found: /etc/kubernetes/pki/etcd/peer.crt"}]}]
    result = f.diagnose_summary({"items": [GOOD, CRASH, PENDING, UNSEEN]}, [node("cp1", "True"), node("w1", "False", "DiskPressure")],
                                {"items": pvcs}, {"items": events}, etcd, certs, ["edge1"], 30, NOW, "kubectl get pvc failed\n")
    assert result["crashloop_pods"] == [{"namespace": "default", "name": "crashy", "container": "app", "restarts": 4,
                                         "exit_code": 137, "reason": "OOMKilled", "finished": "2026-12-02T11:59:00Z",
                                         "node": "worker1"}]
    assert result["not_ready_nodes"] == [{"name": "w1", "reason": "KubeletNotReady: container runtime is down",
                                          "pressure": ["DiskPressure"]}]
    assert [p["reason"] for p in result["pending_pods"]] == [
        "Unschedulable: 0/5 nodes are available: 5 Insufficient cpu.", "FailedScheduling: 0/5 nodes are available"]
    assert result["waiting_pvcs"][0]["reason"].startswith("WaitForFirstConsumer: waiting for first consumer")
    assert result["etcd_unhealthy"] == [{"endpoint": "https://10.0.0.12:2379", "error": "context deadline exceeded"}]
    assert [(c["name"], c["days_left"]) for c in result["expiring_certificates"]] == [("admin.conf", 18), ("etcd-ca", 10)]
    assert result["unreachable_hosts"] == ["edge1"] and result["api_errors"] == ["kubectl get pvc failed"]
    lines = f.diagnose_summary_lines(result)
    assert "  - default/crashy container app on worker1: 4 restarts, last exit code 137 (OOMKilled) at 2026-12-02T11:59:00Z" in lines
    assert "Unreachable hosts (not collected): 1" in lines and "  - edge1" in lines
    assert "Certificates expiring within 30d: 2" in lines


def test_healthy_cluster_says_none_everywhere():
    etcd = {"host": "cp1", "rc": 0, "stdout": json.dumps([{"endpoint": "https://10.0.0.11:2379", "health": True}])}
    lines = d.summary_lines(d.summary([GOOD], [node("cp1", "True")], [], [], etcd, [], [], 30, NOW))
    assert all(line.endswith(": none") for line in lines), lines


def test_etcd_not_answering_is_unhealthy():
    assert d.etcd_unhealthy({})[0]["error"].startswith("etcd health was not collected")
    rows = d.etcd_unhealthy({"host": "cp1", "rc": 124, "stdout": "", "stderr": "context deadline exceeded"})
    assert rows == [{"endpoint": "(etcdctl on cp1)", "error": "context deadline exceeded"}]


def test_unreadable_check_expiration_is_reported_not_fatal():
    rows = d.expiring_certificates([{"host": "cp2", "check_expiration": "error: no kubeadm-config", "etcd": []}], 30, NOW)
    assert rows[0]["host"] == "cp2" and "no CERTIFICATE table" in rows[0]["note"]
    rows = d.expiring_certificates([{"host": "cp3", "check_expiration": "", "error": "kubeadm certs check-expiration failed: x"}], 30, NOW)
    assert rows[0]["note"] == "kubeadm certs check-expiration failed: x"


@pytest.mark.parametrize("value, message", [
    ("", "needs the pod"), (None, "needs the pod"), ("web", "NAMESPACE/NAME"), ("a/b/c", "NAMESPACE/NAME"),
    ("/web", "NAMESPACE/NAME"), ("Default/Web", "lower-case"), ("ns/we b", "lower-case")])
def test_bad_pod_refs_are_refused(value, message):
    with pytest.raises(AnsibleFilterError, match=message):
        f.diagnose_pod_ref(value)


def test_pod_ref_and_options():
    assert f.diagnose_pod_ref(" kube-system/kube-apiserver-cp1 ") == {"namespace": "kube-system", "name": "kube-apiserver-cp1"}
    assert f.diagnose_netdebug_options("10", 20, "tcp port 80") == {"count": 10, "seconds": 20, "filter": ["tcp", "port", "80"]}
    for count, seconds in ((0, 1), ("x", 1), (1, 0), (1, 3601), (True, 1)):
        with pytest.raises(AnsibleFilterError):
            f.diagnose_netdebug_options(count, seconds, "")
    with pytest.raises(AnsibleFilterError, match="one line"):
        f.diagnose_netdebug_options(1, 1, "port 80\nrm")


def test_netdebug_target_checks_the_pod():
    target = f.diagnose_netdebug_target(GOOD, "default/web")
    assert target == {"namespace": "default", "name": "web", "node": "worker1", "container": "app", "container_id": "abc",
                      "runtime": "containerd"}
    with pytest.raises(AnsibleFilterError, match="pod default/gone not found"):
        f.diagnose_netdebug_target({}, "default/gone")
    with pytest.raises(AnsibleFilterError, match="not scheduled"):
        f.diagnose_netdebug_target(PENDING, "default/pending")
    with pytest.raises(AnsibleFilterError, match="no running container"):
        f.diagnose_netdebug_target(CRASH, "default/crashy")
    with pytest.raises(AnsibleFilterError, match="container side of pod default/web is not running"):
        f.diagnose_netdebug_target(GOOD, "default/web", "side")
    with pytest.raises(AnsibleFilterError, match=r"not running \(phase Succeeded\)"):
        f.diagnose_netdebug_target(pod("done", phase="Succeeded"), "default/done")


def test_etcd_cert_files_are_public_certificates_only():
    files = f.diagnose_etcd_cert_files("/etc/kubernetes/pki", True)
    assert all(item["path"].endswith(".crt") for item in files) and {"etcd-ca", "apiserver-etcd-client"} <= {i["name"] for i in files}
    with pytest.raises(AnsibleFilterError):
        f.diagnose_etcd_cert_files("relative", False)


def test_cert_files_read_on_the_node_are_taken_as_they_are():
    files = d.slurped_files([{"name": "etcd-ca", "path": "/p/etcd/ca.crt", "content": cert_pem(5)},
                             {"name": "etcd-peer", "path": "/p/etcd/peer.crt", "error": "not found"}])
    rows = d.expiring_certificates([{"host": "cp1", "check_expiration": "", "error": "", "etcd": files}], 30, NOW)
    assert [(r["name"], r["source"], r["days_left"]) for r in rows] == [("etcd-ca", "etcd", 5)]
