"""plugins/filter/gpu.py: the gpu stage's filters wrap plugins/module_utils/gpu_node.py (tested in
tests/unit/plugins/module_utils/test_gpu_node.py); errors come back as AnsibleFilterError with the same message."""
import os

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.ironstone.k8s.plugins.filter import gpu

FILTER_DIR = os.path.dirname(os.path.abspath(gpu.__file__))
NAMES = ["gpu_node_patches", "gpu_cluster_objects", "gpu_summary"]


def test_every_filter_is_registered_and_has_its_doc():
    filters = gpu.FilterModule().filters()
    assert sorted(filters) == sorted(NAMES)
    for name in NAMES:
        with open(os.path.join(FILTER_DIR, name + ".yml")) as handle:
            doc = yaml.safe_load(handle)
        assert doc["DOCUMENTATION"]["name"] == name
        assert doc["EXAMPLES"] and doc["RETURN"]["_value"]


def test_node_patches_through_the_filter():
    nodes = [{"metadata": {"name": "w1", "labels": {"team": "blue"}}, "spec": {}}]
    out = gpu.gpu_node_patches(nodes, [{"name": "w1", "labels": {"nvidia.com/gpu.present": "true", "nvidia.com/gpu.count": "1"},
                                        "taint": True}])
    patch = out["patches"][0]
    assert patch["metadata"]["labels"] == {"nvidia.com/gpu.count": "1", "nvidia.com/gpu.present": "true"}
    assert patch["metadata"]["annotations"]["ironstone.k8s/gpu-managed-taints"] == "nvidia.com/gpu:NoSchedule"
    assert patch["spec"]["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
    assert out["missing"] == []


def test_cluster_objects_through_the_filter_with_a_mirror():
    objects = gpu.gpu_cluster_objects({"version": "v0.17.4", "registry": "mirror.example:5000/nvidia", "runtime_class": "nvidia",
                                       "tolerations": [], "device_plugin": True})
    assert [o["kind"] for o in objects] == ["RuntimeClass", "DaemonSet"]
    assert objects[1]["spec"]["template"]["spec"]["containers"][0]["image"] == "mirror.example:5000/nvidia/k8s-device-plugin:v0.17.4"


@pytest.mark.parametrize("call, message", [
    (lambda: gpu.gpu_cluster_objects({"version": "latest", "registry": "nvcr.io/nvidia"}), "gpu_device_plugin_version 'latest'"),
    (lambda: gpu.gpu_node_patches([{"metadata": {"name": "w1"}}], [{"name": "w1", "labels": {"bad key": "x"}}]), "node w1: label key"),
])
def test_errors_are_filter_errors_with_the_message(call, message):
    with pytest.raises(AnsibleFilterError, match=message):
        call()


def test_summary_through_the_filter():
    said = gpu.gpu_summary([{"name": "e1", "gpus": [], "driver": {}, "toolkit": ""}])
    assert said["summary"] == "GPU nodes: none; without GPUs: e1; NVIDIA container toolkit on: none."
    assert said["toolkit_absent"].endswith("on: e1 (no GPU).")
