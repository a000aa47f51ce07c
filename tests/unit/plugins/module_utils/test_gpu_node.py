# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
"""Unit tests of plugins/module_utils/gpu_node.py: the GPU nodes' labels and taint, the device plugin
DaemonSet and the RuntimeClass, what the stage says; and the runtime stage's config.toml with containerd's
nvidia runtime for config versions 2 and 3 (container_runtime_nvidia_runtime)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import os
import shutil
import subprocess
import sys
import tomllib

import jinja2
import jinja2.nativetypes
import yaml
import pytest

from ansible_collections.ironstone.k8s.plugins.module_utils import gpu_node
from ansible_collections.ironstone.k8s.plugins.module_utils.gpu import gather_gpu_facts
from ansible_collections.ironstone.k8s.plugins.module_utils.gpu_node import GpuNodeError

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "unit"))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
from gpu_cases import case_sysfs  # noqa: E402  pylint: disable=wrong-import-position
from lab.standin.apiserver.patching import json_merge_patch  # noqa: E402  pylint: disable=wrong-import-position

T4 = {
    "nvidia.com/gpu.present": "true",
    "nvidia.com/gpu.count": "1",
    "nvidia.com/gpu.product": "Tesla-T4",
    "nvidia.com/gpu.memory": "15360",
    "accelerator": "nvidia-tesla-t4",
}
GPU_LABELS = "ironstone.k8s/gpu-managed-labels"
GPU_TAINTS = "ironstone.k8s/gpu-managed-taints"
NODE_LABELS = "ironstone.k8s/managed-labels"
NODE_TAINTS = "ironstone.k8s/managed-taints"
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
EDGE_TAINT = {"key": "node-role.kubernetes.io/edge", "effect": "NoSchedule"}
TOOLKIT = "/usr/bin/nvidia-container-runtime"


def node(name="w1", labels=None, annotations=None, taints=None):
    obj = {"apiVersion": "v1", "kind": "Node",
           "metadata": {"name": name, "labels": dict({"kubernetes.io/hostname": name}, **(labels or {})),
                        "annotations": dict(annotations or {})},
           "spec": {}}
    if taints is not None:
        obj["spec"]["taints"] = taints
    return obj


def apply(nodes, result):
    """The Nodes after the patches, as the API server's merge patch makes them."""
    out = dict((n["metadata"]["name"], copy.deepcopy(n)) for n in nodes)
    for patch in result["patches"]:
        body = dict((k, v) for k, v in patch.items() if k not in ("apiVersion", "kind"))
        out[patch["metadata"]["name"]] = json_merge_patch(out[patch["metadata"]["name"]], body)
    return out


def converge(nodes, wanted):
    """Patch once, then check a second computation wants nothing (idempotence)."""
    result = gpu_node.node_patches(nodes, wanted)
    after = apply(nodes, result)
    again = gpu_node.node_patches(list(after.values()), wanted)
    assert again["patches"] == [], again
    return result, after


# --------------------------------------------------------------------------
# labels
# --------------------------------------------------------------------------

def test_a_new_gpu_gets_the_five_labels_recorded_under_the_gpu_owner():
    result, after = converge([node()], [{"name": "w1", "labels": T4, "taint": False}])
    labels = after["w1"]["metadata"]["labels"]
    assert dict((k, labels[k]) for k in T4) == T4
    assert labels["kubernetes.io/hostname"] == "w1"
    assert after["w1"]["metadata"]["annotations"][GPU_LABELS] == ",".join(sorted(T4))
    assert NODE_LABELS not in after["w1"]["metadata"]["annotations"]
    patch = result["patches"][0]
    assert patch["apiVersion"] == "v1" and patch["kind"] == "Node" and patch["metadata"]["name"] == "w1"
    assert "spec" not in patch
    assert result["changes"] == ["w1: labels +accelerator=nvidia-tesla-t4 +nvidia.com/gpu.count=1 +nvidia.com/gpu.memory=15360 "
                                 "+nvidia.com/gpu.present=true +nvidia.com/gpu.product=Tesla-T4"]


def test_labels_from_gpu_info_on_the_t4_fixture(tmp_path):
    smi = tmp_path / "nvidia-smi"
    fixture = os.path.join(ROOT, "tests", "unit", "fixtures", "gpu", "t4", "nvidia-smi.stdout")
    smi.write_text("#!/bin/sh\ncat '%s'\n" % fixture)
    smi.chmod(0o755)

    def runner(args, timeout):
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
        return proc.returncode, proc.stdout, proc.stderr

    facts = gather_gpu_facts(sysfs_root=case_sysfs(tmp_path, "t4"), nvidia_smi_path=str(smi), runner=runner)
    assert facts["labels"] == T4
    _result, after = converge([node()], [{"name": "w1", "labels": facts["labels"], "taint": True}])
    assert after["w1"]["spec"]["taints"] == [GPU_TAINT]


def test_a_gpu_that_is_gone_loses_only_the_labels_the_stage_set():
    before = node(labels=dict(T4, team="blue", **{"ironstone.example/pool": "general"}),
                  annotations={GPU_LABELS: ",".join(sorted(T4)), NODE_LABELS: "ironstone.example/pool"})
    result, after = converge([before], [{"name": "w1", "labels": {}, "taint": False}])
    labels = after["w1"]["metadata"]["labels"]
    assert not set(T4) & set(labels)
    assert labels["team"] == "blue" and labels["ironstone.example/pool"] == "general"
    assert GPU_LABELS not in after["w1"]["metadata"]["annotations"]
    assert after["w1"]["metadata"]["annotations"][NODE_LABELS] == "ironstone.example/pool"
    assert result["changes"][0].startswith("w1: labels -accelerator -nvidia.com/gpu.count")


def test_labels_nobody_recorded_are_left_alone_when_no_gpu_is_found():
    # An accelerator label set by hand (or by the kubelet's --node-labels), never recorded by the stage.
    before = node(labels={"accelerator": "nvidia-tesla-t4", "nvidia.com/gpu.present": "true"})
    result, after = converge([before], [{"name": "w1", "labels": {}, "taint": False}])
    assert result["patches"] == []
    assert after["w1"]["metadata"]["labels"]["accelerator"] == "nvidia-tesla-t4"


def test_a_product_change_replaces_the_labels_and_drops_the_ones_no_longer_known():
    before = node(labels=T4, annotations={GPU_LABELS: ",".join(sorted(T4))})
    # An unknown product: gpu_info gives present and count only.
    wanted = {"nvidia.com/gpu.present": "true", "nvidia.com/gpu.count": "2"}
    result, after = converge([before], [{"name": "w1", "labels": wanted, "taint": False}])
    labels = after["w1"]["metadata"]["labels"]
    assert labels["nvidia.com/gpu.count"] == "2"
    assert "nvidia.com/gpu.product" not in labels and "accelerator" not in labels and "nvidia.com/gpu.memory" not in labels
    assert after["w1"]["metadata"]["annotations"][GPU_LABELS] == "nvidia.com/gpu.count,nvidia.com/gpu.present"
    h100 = dict(T4, **{"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3", "nvidia.com/gpu.memory": "81559",
                       "accelerator": "nvidia-h100-80gb", "nvidia.com/gpu.count": "8"})
    result, after = converge([after["w1"]], [{"name": "w1", "labels": h100, "taint": False}])
    assert dict((k, after["w1"]["metadata"]["labels"][k]) for k in h100) == h100
    assert "+accelerator=nvidia-h100-80gb" in result["changes"][0]


def test_labels_the_nodes_stage_also_owns_are_not_removed_by_the_gpu_stage():
    # kube_node_labels asked for accelerator too (recorded in the nodes stage's annotation).
    before = node(labels=T4, annotations={GPU_LABELS: ",".join(sorted(T4)), NODE_LABELS: "accelerator"})
    _result, after = converge([before], [{"name": "w1", "labels": {}, "taint": False}])
    labels = after["w1"]["metadata"]["labels"]
    assert labels["accelerator"] == "nvidia-tesla-t4"
    assert "nvidia.com/gpu.present" not in labels
    assert GPU_LABELS not in after["w1"]["metadata"]["annotations"]


def test_nodes_without_an_object_are_reported_and_others_patched_in_one_list():
    nodes = [node("w1"), node("cp1")]
    wanted = [{"name": "w1", "labels": T4, "taint": False}, {"name": "cp1", "labels": {}, "taint": True},
              {"name": "w9", "labels": T4, "taint": False}]
    result = gpu_node.node_patches(nodes, wanted)
    assert [p["metadata"]["name"] for p in result["patches"]] == ["w1"]
    assert result["missing"] == ["w9"]


def test_a_label_value_that_is_not_valid_is_refused_with_the_node_name():
    with pytest.raises(GpuNodeError, match="node w1: label nvidia.com/gpu.product"):
        gpu_node.node_patches([node()], [{"name": "w1", "labels": {"nvidia.com/gpu.product": "Tesla T4"}, "taint": False}])


# --------------------------------------------------------------------------
# taint
# --------------------------------------------------------------------------

def test_the_taint_is_added_on_gpu_nodes_only_and_recorded():
    nodes = [node("w1", taints=[EDGE_TAINT]), node("cp1")]
    wanted = [{"name": "w1", "labels": T4, "taint": True}, {"name": "cp1", "labels": {}, "taint": True}]
    result, after = converge(nodes, wanted)
    assert after["w1"]["spec"]["taints"] == [EDGE_TAINT, GPU_TAINT]
    assert after["w1"]["metadata"]["annotations"][GPU_TAINTS] == "nvidia.com/gpu:NoSchedule"
    assert "taints" not in after["cp1"]["spec"]
    assert [p["metadata"]["name"] for p in result["patches"]] == ["w1"]
    assert "taints +nvidia.com/gpu=present:NoSchedule" in result["changes"][0]


def test_the_taint_goes_when_turned_off_or_when_the_gpu_is_gone():
    tainted = node(labels=T4, taints=[EDGE_TAINT, GPU_TAINT],
                   annotations={GPU_LABELS: ",".join(sorted(T4)), GPU_TAINTS: "nvidia.com/gpu:NoSchedule"})
    for labels in (T4, {}):
        result, after = converge([tainted], [{"name": "w1", "labels": labels, "taint": labels == {}}])
        assert after["w1"]["spec"]["taints"] == [EDGE_TAINT]
        assert GPU_TAINTS not in after["w1"]["metadata"]["annotations"]
        assert "taints -nvidia.com/gpu=present:NoSchedule" in result["changes"][0]


def test_a_gpu_taint_set_by_someone_else_is_not_removed():
    by_hand = node(labels=T4, taints=[GPU_TAINT], annotations={GPU_LABELS: ",".join(sorted(T4))})
    result, after = converge([by_hand], [{"name": "w1", "labels": T4, "taint": False}])
    assert result["patches"] == []
    assert after["w1"]["spec"]["taints"] == [GPU_TAINT]
    # nor one the nodes stage owns (kube_node_taints), although the gpu stage recorded it too
    both = node(labels=T4, taints=[GPU_TAINT, EDGE_TAINT],
                annotations={GPU_LABELS: ",".join(sorted(T4)), GPU_TAINTS: "nvidia.com/gpu:NoSchedule",
                             NODE_TAINTS: "nvidia.com/gpu:NoSchedule"})
    _result, after = converge([both], [{"name": "w1", "labels": T4, "taint": False}])
    assert after["w1"]["spec"]["taints"] == [GPU_TAINT, EDGE_TAINT]
    assert GPU_TAINTS not in after["w1"]["metadata"]["annotations"]


# --------------------------------------------------------------------------
# the RuntimeClass and the device plugin
# --------------------------------------------------------------------------

SETTINGS = {"version": "v0.17.4", "registry": "nvcr.io/nvidia", "runtime_class": "nvidia", "tolerations": []}


def test_the_runtime_class_selects_containerds_nvidia_runtime():
    rc = gpu_node.runtime_class()
    assert rc["apiVersion"] == "node.k8s.io/v1" and rc["kind"] == "RuntimeClass"
    assert rc["metadata"]["name"] == "nvidia" and rc["handler"] == "nvidia"


def test_the_daemonset_runs_the_pinned_plugin_on_gpu_nodes():
    ds = gpu_node.device_plugin_daemonset(SETTINGS)
    assert ds["apiVersion"] == "apps/v1" and ds["kind"] == "DaemonSet"
    assert ds["metadata"]["namespace"] == "kube-system"
    pod = ds["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "nvcr.io/nvidia/k8s-device-plugin:v0.17.4"
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert pod["priorityClassName"] == "system-node-critical"
    assert pod["runtimeClassName"] == "nvidia"
    assert pod["volumes"][0]["hostPath"]["path"] == "/var/lib/kubelet/device-plugins"
    assert pod["containers"][0]["volumeMounts"][0]["mountPath"] == "/var/lib/kubelet/device-plugins"
    selector = ds["spec"]["selector"]["matchLabels"]
    assert all(ds["spec"]["template"]["metadata"]["labels"][k] == v for k, v in selector.items())
    assert ds["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "ironstone"


@pytest.mark.parametrize("registry, image", [
    ("mirror.example:5000/nvidia", "mirror.example:5000/nvidia/k8s-device-plugin:v0.17.4"),
    ("registry.local/mirrors/nvcr/nvidia/", "registry.local/mirrors/nvcr/nvidia/k8s-device-plugin:v0.17.4"),
])
def test_the_image_comes_from_the_mirror(registry, image):
    ds = gpu_node.device_plugin_daemonset(dict(SETTINGS, registry=registry))
    assert ds["spec"]["template"]["spec"]["containers"][0]["image"] == image


@pytest.mark.parametrize("settings, message", [
    (dict(SETTINGS, version="0.17.4"), "gpu_device_plugin_version '0.17.4'"),
    (dict(SETTINGS, version="latest"), "gpu_device_plugin_version 'latest'"),
    (dict(SETTINGS, registry="https://nvcr.io/nvidia"), "gpu_registry 'https://nvcr.io/nvidia'"),
    (dict(SETTINGS, registry=""), "gpu_registry ''"),
    (dict(SETTINGS, runtime_class="Nvidia"), "gpu_device_plugin_runtime_class 'Nvidia'"),
    (dict(SETTINGS, tolerations=[{"key": "a", "operater": "Exists"}]), "unknown fields operater"),
    (dict(SETTINGS, tolerations=[{"key": "a", "operator": "In"}]), "operator 'In'"),
    (dict(SETTINGS, tolerations=[{"key": "a", "operator": "Exists", "value": "x"}]), "value with operator Exists"),
    (dict(SETTINGS, tolerations="node-role.kubernetes.io/edge"), "must be a list"),
])
def test_settings_the_plugin_cannot_use_are_refused_by_name(settings, message):
    with pytest.raises(GpuNodeError, match=message.replace("(", "\\(").replace(".", "\\.")):
        gpu_node.cluster_objects(settings)


def test_extra_tolerations_and_the_default_runtime():
    edge = {"key": "node-role.kubernetes.io/edge", "operator": "Exists", "effect": "NoSchedule"}
    ds = gpu_node.device_plugin_daemonset(dict(SETTINGS, runtime_class="", tolerations=[edge, edge]))
    pod = ds["spec"]["template"]["spec"]
    assert pod["tolerations"][1:] == [edge]
    assert "runtimeClassName" not in pod


def test_cluster_objects_with_and_without_the_device_plugin():
    assert [o["kind"] for o in gpu_node.cluster_objects(SETTINGS)] == ["RuntimeClass", "DaemonSet"]
    assert [o["kind"] for o in gpu_node.cluster_objects(dict(SETTINGS, device_plugin=False))] == ["RuntimeClass"]


def test_the_objects_are_valid_for_the_api_server():
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    extra = [{"key": "x", "operator": "Equal", "value": "y", "effect": "NoExecute", "tolerationSeconds": 30}]
    for obj in gpu_node.cluster_objects(dict(SETTINGS, tolerations=extra)):
        kubernetes_validate.validate(obj, "1.36.0", strict=True)


# --------------------------------------------------------------------------
# containerd's nvidia runtime: the runtime stage writes it into config.toml
# --------------------------------------------------------------------------

def role_config(version, runtimes=None):
    """config.toml as the container_runtime role renders it, with container_runtime_runtimes."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.join(ROOT, "roles", "container_runtime", "templates")),
                             keep_trailing_newline=True)
    env.filters["comment"] = lambda text: "# " + text
    return env.get_template("config.toml.j2").render(
        container_runtime_config_version=version, ansible_managed="Ansible managed",
        container_runtime_sandbox_image="registry.k8s.io/pause:3.10", container_runtime_max_concurrent_downloads=3,
        container_runtime_runtimes=runtimes or {}, container_runtime_certs_dir="/etc/containerd/certs.d")


def role_runtimes(probe_stdout, enabled=True, extra=None):
    """container_runtime_runtimes as the role's vars/main.yml computes it."""
    env = jinja2.Environment()
    env.filters["combine"] = lambda a, b: dict(a, **b)
    env.filters["bool"] = bool
    with open(os.path.join(ROOT, "roles", "container_runtime", "vars", "main.yml"), encoding="utf-8") as handle:
        expression = yaml.safe_load(handle)["container_runtime_runtimes"]
    native = jinja2.nativetypes.NativeEnvironment()
    native.filters.update(env.filters)
    return native.from_string(expression).render(
        container_runtime_nvidia_runtime=enabled, container_runtime_nvidia_probe={"stdout": probe_stdout},
        container_runtime_extra_runtimes=extra or {})


@pytest.mark.parametrize("version, section", [(2, "io.containerd.grpc.v1.cri"), (3, "io.containerd.cri.v1.runtime")])
def test_the_nvidia_runtime_is_in_the_cri_section_of_the_config_version(version, section):
    config = tomllib.loads(role_config(version, role_runtimes(TOOLKIT + "\n")))
    runtimes = config["plugins"][section]["containerd"]["runtimes"]
    assert runtimes["nvidia"] == {"runtime_type": "io.containerd.runc.v2", "options": {"BinaryName": TOOLKIT, "SystemdCgroup": True}}
    assert runtimes["runc"]["options"]["SystemdCgroup"] is True
    assert config["plugins"][section]["containerd"]["default_runtime_name"] == "runc"


def test_no_toolkit_or_turned_off_means_no_nvidia_runtime_and_extra_runtimes_win():
    assert role_runtimes("") == {}
    assert role_runtimes(TOOLKIT, enabled=False) == {}
    assert role_runtimes(TOOLKIT) == {"nvidia": {"binary_name": TOOLKIT}}
    mine = {"nvidia": {"binary_name": "/opt/nv/bin/nvidia-container-runtime"}, "kata": {"binary_name": "/usr/bin/kata"}}
    assert role_runtimes(TOOLKIT, extra=mine) == mine
    runtimes = tomllib.loads(role_config(2))["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]
    assert list(runtimes) == ["runc"]


@pytest.mark.skipif(shutil.which("containerd") is None, reason="no containerd binary here")
def test_the_real_containerd_loads_the_config_with_the_nvidia_runtime(tmp_path):
    """With the containerd of this machine (Debian 12: 1.6, config version 2): config.toml with the nvidia
    runtime loads, and its config dump has the toolkit's BinaryName beside the role's settings."""
    version = subprocess.run(["containerd", "--version"], capture_output=True, text=True, check=True).stdout
    if " v2." in version or " 2." in version.split("containerd", 2)[-1][:6]:
        pytest.skip("containerd 2.x reads version 3")
    path = tmp_path / "config.toml"
    path.write_text(role_config(2, role_runtimes(TOOLKIT)))
    dump = subprocess.run(["containerd", "--config", str(path), "config", "dump"], capture_output=True, text=True, check=True).stdout
    cri = tomllib.loads(dump)["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["containerd"]["runtimes"]["nvidia"]["options"] == {"BinaryName": TOOLKIT, "SystemdCgroup": True}
    assert cri["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is True
    assert cri["sandbox_image"] == "registry.k8s.io/pause:3.10"


# --------------------------------------------------------------------------
# what the stage says
# --------------------------------------------------------------------------

def test_the_summary_names_gpus_toolkits_and_absences_per_node():
    t4 = {"product": "Tesla T4", "device_id": "0x1eb8"}
    states = [
        {"name": "w1", "gpus": [t4], "driver": {"present": True, "version": "535.183.01"}, "toolkit": TOOLKIT},
        {"name": "w2", "gpus": [t4, t4, {"product": None, "device_id": "0x9999"}], "driver": {"present": False}, "toolkit": ""},
        {"name": "cp1", "gpus": [], "driver": {"present": False}, "toolkit": ""},
    ]
    said = gpu_node.summary(states)
    assert said["summary"] == ("GPU nodes: w1 1x Tesla T4 (driver 535.183.01), w2 2x Tesla T4 + 1x unknown GPU 0x9999; "
                               "without GPUs: cp1; NVIDIA container toolkit on: w1.")
    assert said["toolkit_absent"] == ("No NVIDIA container toolkit (nvidia-container-runtime not found on PATH), so no nvidia "
                                      "runtime in containerd, on: cp1 (no GPU), w2 (has GPUs: GPU pods cannot run there).")
    assert len(said["warnings"]) == 2 and all(w.startswith("w2 has GPUs but no NVIDIA") for w in said["warnings"])
    assert gpu_node.summary(states[:1])["toolkit_absent"] == ""
    without_runtime = gpu_node.summary([dict(states[0], runtime=False)])["warnings"]
    assert without_runtime == ["w1 has the NVIDIA container toolkit (%s) but containerd has no nvidia runtime: run "
                               "playbooks/runtime.yml (container_runtime_nvidia_runtime: true adds it), then this stage again." % TOOLKIT]
    assert gpu_node.summary([dict(states[0], runtime=True)])["warnings"] == []
