"""The STAND-IN persistent-volume binder's rules (lab/standin/apiserver/volumes.py), without a server."""
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from lab.standin.apiserver import volumes  # noqa: E402  pylint: disable=wrong-import-position

WFFC = {"metadata": {"name": "local-ssd"}, "provisioner": "kubernetes.io/no-provisioner", "volumeBindingMode": "WaitForFirstConsumer"}
IMMEDIATE = {"metadata": {"name": "fast"}, "provisioner": "kubernetes.io/no-provisioner", "volumeBindingMode": "Immediate"}
CLASSES = {"local-ssd": WFFC, "fast": IMMEDIATE}
NODES = {n: {"metadata": {"name": n, "labels": {"kubernetes.io/hostname": n}}} for n in ("w1", "e1")}


def claim(name="data", cls="local-ssd", size="100Mi", node=None, **spec):
    meta = {"name": name, "namespace": "db", "uid": "0123456789abcdef"}
    if node:
        meta["annotations"] = {volumes.SELECTED_NODE: node}
    body = {"storageClassName": cls, "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    body.update(spec)
    return {"metadata": meta, "spec": body}


def volume(name, node="w1", size="300Mi", cls="local-ssd", **extra):
    spec = {"storageClassName": cls, "capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem",
            "local": {"path": "/mnt/fast-disks/" + name},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}}
    spec.update(extra)
    return {"metadata": {"name": name}, "spec": spec}


def pod(name, claim_name, node=None):
    spec = {"volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": claim_name}}], "containers": [{"name": "c", "image": "x"}]}
    if node:
        spec["nodeName"] = node
    return {"metadata": {"name": name, "namespace": "db"}, "spec": spec}


def test_quantities():
    assert volumes.quantity_bytes("320Mi") == 320 * 2 ** 20
    assert volumes.quantity_bytes("1G") == 10 ** 9
    assert volumes.quantity_bytes("1.5Gi") == 3 * 2 ** 29
    assert volumes.quantity_bytes("12") == 12
    assert volumes.quantity_bytes("ten") is None
    assert volumes.quantity_bytes(None) is None


def test_a_claim_of_a_wait_for_first_consumer_class_waits_without_a_pod():
    assert volumes.waiting_reason(claim(), CLASSES, {}) == volumes.NO_CONSUMER
    assert volumes.NO_CONSUMER == ("WaitForFirstConsumer", "waiting for first consumer to be created before binding")


def test_with_an_unscheduled_pod_it_waits_for_that_pod():
    used = volumes.claims_used_by([pod("pg-0", "data")])
    assert used == {("db", "data"): ("pg-0", None)}
    assert volumes.waiting_reason(claim(), CLASSES, used) == ("WaitForPodScheduled", "waiting for pod pg-0 to be scheduled")


def test_no_wait_for_immediate_classes_selected_nodes_or_bound_claims():
    assert volumes.waiting_reason(claim(cls="fast"), CLASSES, {}) is None
    assert volumes.waiting_reason(claim(node="w1"), CLASSES, {}) is None
    assert volumes.waiting_reason(claim(volumeName="pv-1"), CLASSES, {}) is None
    assert volumes.waiting_reason(claim(cls="missing"), CLASSES, {}) is None


def test_no_binding_before_a_node_is_selected():
    assert volumes.volume_for(claim(), [volume("a")], CLASSES, NODES) is None


def test_binds_to_the_smallest_fitting_volume_on_the_selected_node():
    pvs = [volume("big", size="900Mi"), volume("small", size="200Mi"), volume("tiny", size="50Mi"), volume("elsewhere", node="e1", size="150Mi")]
    assert volumes.volume_for(claim(node="w1"), pvs, CLASSES, NODES)["metadata"]["name"] == "small"
    assert volumes.volume_for(claim(node="e1"), pvs, CLASSES, NODES)["metadata"]["name"] == "elsewhere"
    assert volumes.volume_for(claim(node="e1", size="200Mi"), pvs, CLASSES, NODES) is None


def test_volumes_that_do_not_fit_are_passed_over():
    taken = volume("taken", claimRef={"uid": "x"})
    released = dict(volume("released"), status={"phase": "Released"})
    other_class = volume("other", cls="fast")
    block = volume("block", volumeMode="Block")
    rwx = claim(node="w1", accessModes=["ReadWriteMany"])
    for pv in (taken, released, other_class, block):
        assert volumes.volume_for(claim(node="w1"), [pv], CLASSES, NODES) is None, pv["metadata"]["name"]
    assert volumes.volume_for(rwx, [volume("a")], CLASSES, NODES) is None
    assert volumes.volume_for(claim(node="gone"), [volume("a")], CLASSES, NODES) is None


def test_immediate_claims_bind_on_any_node():
    assert volumes.volume_for(claim(cls="fast"), [volume("f", cls="fast", node="e1")], CLASSES, NODES)["metadata"]["name"] == "f"


def test_volume_phases():
    assert volumes.volume_phase(volume("a"), set()) == "Available"
    bound = volume("b", claimRef={"uid": "u1"})
    assert volumes.volume_phase(bound, {"u1"}) == "Bound"
    assert volumes.volume_phase(bound, set()) == "Released"


def test_the_event_names_the_claim_and_is_written_once_per_reason():
    event = volumes.claim_event(claim(), *volumes.NO_CONSUMER, now="2026-12-02T00:00:00Z")
    assert event["involvedObject"]["kind"] == "PersistentVolumeClaim" and event["involvedObject"]["name"] == "data"
    assert event["reason"] == "WaitForFirstConsumer" and event["type"] == "Normal"
    assert event["metadata"]["name"] == volumes.event_name(claim(), "WaitForFirstConsumer") == "data.01234567.waitforfirstconsumer"
    assert event["metadata"]["namespace"] == "db"
