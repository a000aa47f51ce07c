"""Day-2 node operations: the removal checks and the drain's blockers."""

import pytest

from ansible_collections.ironstone.k8s.plugins.module_utils import node_ops


def node(name, ready=True, control_plane=False):
    labels = {"kubernetes.io/hostname": name}
    if control_plane:
        labels[node_ops.CONTROL_PLANE_LABEL] = ""
    return {"metadata": {"name": name, "labels": labels},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


HOSTS = [{"host": h, "name": h, "address": "10.0.0.%d" % i} for i, h in enumerate(["cp1", "cp2", "cp3", "w1", "e1"], 1)]
CPS = ["cp1", "cp2", "cp3"]
ETCD = ["cp1", "cp2", "cp3"]


def cluster(**not_ready):
    return [node(n, ready=n not in not_ready, control_plane=n in CPS) for n in ["cp1", "cp2", "cp3", "w1", "e1"]]


def plan(name, nodes=None, hosts=None, cps=None, reachable=True):
    return node_ops.removal_plan(name, cluster() if nodes is None else nodes, HOSTS if hosts is None else hosts,
                                 CPS if cps is None else cps, ETCD, reachable)


def test_a_worker_removal_is_drained_from_the_first_control_plane_host():
    got = plan("w1")
    assert got == {"node": "w1", "host": "w1", "api_host": "cp1", "control_plane": False, "etcd": False,
                   "remaining_control_plane": ["cp1", "cp2", "cp3"], "reachable": True, "refused": None}


def test_a_control_plane_etcd_host_is_named_as_both_and_drained_elsewhere():
    got = plan("cp1")
    assert got["control_plane"] and got["etcd"] and got["refused"] is None
    assert got["api_host"] == "cp2"
    assert got["remaining_control_plane"] == ["cp2", "cp3"]


@pytest.mark.parametrize("name", ["", "  ", None, "w*", "w1,e1", "all", " w1", "w[1]"])
def test_anything_but_an_exact_node_name_is_refused(name):
    assert plan(name)["refused"]


def test_an_unknown_node_is_refused_with_the_nodes_listed():
    got = plan("w2")
    assert got["refused"].startswith("The cluster has no Node named w2.")
    assert "cp1, cp2, cp3, e1, w1" in got["refused"]
    assert set(got) == {"refused"}


def test_the_last_control_plane_node_is_refused():
    nodes = [node("cp1", control_plane=True), node("w1")]
    got = plan("cp1", nodes=nodes, hosts=HOSTS[:1] + HOSTS[3:4], cps=["cp1"])
    assert "last control-plane node" in got["refused"]


def test_a_removal_that_leaves_a_not_ready_control_plane_node_is_refused():
    got = node_ops.removal_plan("cp3", cluster(cp2=True), HOSTS, CPS, ETCD)
    assert "broken control plane: cp2 is not Ready" in got["refused"]
    # a worker may still go while a control-plane node is down
    assert node_ops.removal_plan("w1", cluster(cp2=True), HOSTS, CPS, ETCD)["refused"] is None


def test_a_node_without_an_inventory_host_needs_reachable_no():
    nodes = cluster() + [node("old")]
    assert "-e reachable=no" in plan("old", nodes=nodes)["refused"]
    got = plan("old", nodes=nodes, reachable=False)
    assert got["refused"] is None and got["host"] is None and not got["reachable"]


def test_two_hosts_with_one_node_name_are_refused():
    hosts = HOSTS + [{"host": "w1-again", "name": "w1", "address": "10.0.0.9"}]
    assert "More than one inventory host" in plan("w1", hosts=hosts)["refused"]


def test_a_control_plane_label_counts_even_when_the_inventory_forgot_the_group():
    got = plan("cp3", cps=["cp1", "cp2"])
    assert got["control_plane"] and got["remaining_control_plane"] == ["cp1", "cp2"]


def pod(name, node_name="w1", labels=None, ns="default", owner=None, phase="Running", mirror=False):
    meta = {"name": name, "namespace": ns, "labels": labels or {}}
    if owner:
        meta["ownerReferences"] = [{"kind": owner, "name": "x", "controller": True, "apiVersion": "apps/v1", "uid": "u"}]
    if mirror:
        meta["annotations"] = {node_ops.MIRROR_ANNOTATION: "abc"}
    return {"metadata": meta, "spec": {"nodeName": node_name}, "status": {"phase": phase}}


def pdb(name, selector, allowed, ns="default", current=1, desired=1):
    return {"metadata": {"name": name, "namespace": ns}, "spec": {"selector": selector},
            "status": {"disruptionsAllowed": allowed, "currentHealthy": current, "desiredHealthy": desired}}


def test_the_budget_that_holds_a_pod_is_named():
    pods = [pod("web-1", labels={"app": "web"}, owner="ReplicaSet"), pod("other", node_name="w2", labels={"app": "web"}),
            pod("calico-node-x", owner="DaemonSet"), pod("kube-apiserver-w1", mirror=True), pod("done", phase="Succeeded")]
    pdbs = [pdb("web", {"matchLabels": {"app": "web"}}, 0), pdb("web-elsewhere", {"matchLabels": {"app": "web"}}, 0, ns="prod"),
            pdb("loose", {"matchLabels": {"app": "web"}}, 1)]
    got = node_ops.drain_blockers(pods, pdbs, "w1")
    assert got == [{"pod": "default/web-1", "pdbs": ["default/web"],
                    "reason": "PodDisruptionBudget default/web allows 0 disruption(s): 1 healthy of 1 desired"}]
    message = node_ops.drain_message("w1", got, 30)
    assert "did not finish within 30s" in message and "default/web-1" in message and "default/web allows 0" in message


def test_a_pod_no_budget_holds_is_listed_with_another_reason():
    got = node_ops.drain_blockers([pod("stuck")], [], "w1")
    assert got[0]["pdbs"] == [] and "no PodDisruptionBudget holds it" in got[0]["reason"]
    assert node_ops.drain_message("w1", [], 5) == "The drain of w1 did not finish within 5s."


@pytest.mark.parametrize("selector,labels,expected", [
    (None, {"a": "1"}, False),
    ({}, {"a": "1"}, True),
    ({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}, True),
    ({"matchLabels": {"a": "1"}}, {"a": "2"}, False),
    ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "2"]}]}, {"a": "2"}, True),
    ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {}, True),
    ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {"a": "1"}, False),
    ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {"a": ""}, True),
    ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {"a": ""}, False),
])
def test_label_selectors(selector, labels, expected):
    assert node_ops.match_selector(selector, labels) is expected


def test_an_unknown_selector_operator_is_an_error():
    with pytest.raises(node_ops.NodeOpsError):
        node_ops.match_selector({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}, {"a": "2"})


def ready_pod(name, ready=True, **kw):
    p = pod(name, **kw)
    p["status"]["conditions"] = [{"type": "Ready", "status": "True" if ready else "False"}]
    return p


def test_without_a_status_the_allowance_is_worked_out_from_the_pods():
    pods = [ready_pod("web-1", labels={"app": "web"}, owner="ReplicaSet"),
            ready_pod("web-2", node_name="w2", labels={"app": "web"}, owner="ReplicaSet")]
    bare = {"metadata": {"name": "web", "namespace": "default"}, "spec": {"selector": {"matchLabels": {"app": "web"}}}}
    assert node_ops.pdb_allowance(dict(bare, spec=dict(bare["spec"], minAvailable=2)), pods) == (0, 2, 2)
    assert node_ops.pdb_allowance(dict(bare, spec=dict(bare["spec"], minAvailable=1)), pods) == (1, 2, 1)
    assert node_ops.pdb_allowance(dict(bare, spec=dict(bare["spec"], maxUnavailable="50%")), pods) == (1, 2, 1)
    assert node_ops.pdb_allowance(dict(bare, spec=dict(bare["spec"], minAvailable="100%")), pods) == (0, 2, 2)
    held = node_ops.drain_blockers(pods, [dict(bare, spec=dict(bare["spec"], minAvailable=2))], "w1")
    assert held[0]["pdbs"] == ["default/web"] and "2 healthy of 2 desired" in held[0]["reason"]
    assert node_ops.drain_blockers(pods, [dict(bare, spec=dict(bare["spec"], minAvailable=1))], "w1")[0]["pdbs"] == []
