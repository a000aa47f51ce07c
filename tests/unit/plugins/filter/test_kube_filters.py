"""plugins/filter/kube.py: readiness and conditions of API objects."""

from ansible_collections.ironstone.k8s.plugins.filter import kube


def node(name, ready):
    conditions = [{"type": "MemoryPressure", "status": "False"}]
    if ready is not None:
        conditions.append({"type": "Ready", "status": ready, "reason": "KubeletReady"})
    return {"metadata": {"name": name}, "status": {"conditions": conditions}}


def test_not_ready_nodes_are_those_without_a_true_ready_condition():
    nodes = [node("w2", "False"), node("cp1", "True"), node("e1", None), node("w1", "Unknown"), {"metadata": {"name": "bare"}}]
    assert kube.kube_not_ready(nodes) == ["bare", "e1", "w1", "w2"]
    assert kube.kube_not_ready([]) == []


def test_condition_true_names_namespaced_and_cluster_objects():
    objects = [
        {"metadata": {"name": "installations.operator.tigera.io"},
         "status": {"conditions": [{"type": "NamesAccepted", "status": "True"}, {"type": "Established", "status": "True", "reason": "x"}]}},
        {"metadata": {"name": "apiservers.operator.tigera.io"}, "status": {"conditions": [{"type": "Established", "status": "False"}]}},
        {"metadata": {"name": "tigera-operator", "namespace": "tigera-operator"},
         "status": {"conditions": [{"type": "Available", "status": "True"}]}},
        {"metadata": {"name": "new"}},
    ]
    assert kube.kube_condition_true(objects, "Established") == ["installations.operator.tigera.io"]
    assert kube.kube_condition_true(objects, "Available") == ["tigera-operator/tigera-operator"]
