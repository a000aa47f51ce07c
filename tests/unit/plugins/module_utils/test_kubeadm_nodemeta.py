# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
"""Unit tests of plugins/module_utils/kubeadm/nodemeta.py (the labels and taints the collection owns on a Node)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import os
import sys

import pytest

from ansible_collections.ironstone.k8s.plugins.module_utils.kubeadm import nodemeta
from ansible_collections.ironstone.k8s.plugins.module_utils.kubeadm.config import KubeadmConfigError
from ansible_collections.ironstone.k8s.plugins.module_utils.kubeadm.nodemeta import (
    MANAGED_LABELS, MANAGED_TAINTS, node_meta_patch, node_meta_summary)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from lab.standin.apiserver.patching import json_merge_patch  # noqa: E402  pylint: disable=wrong-import-position

NOT_READY = {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule", "timeAdded": "2025-01-01T00:00:00Z"}
CONTROL_PLANE = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


def node(labels=None, annotations=None, taints=None):
    obj = {"apiVersion": "v1", "kind": "Node",
           "metadata": {"name": "cp-1", "labels": dict(labels or {"kubernetes.io/hostname": "cp-1"})}}
    if annotations is not None:
        obj["metadata"]["annotations"] = dict(annotations)
    if taints is not None:
        obj["spec"] = {"taints": copy.deepcopy(taints)}
    return obj


def applied(obj, patch):
    """The Node after the merge patch (the apiserver stand-in's RFC 7386 implementation)."""
    return json_merge_patch(copy.deepcopy(obj), patch)


def test_add_labels_and_taints():
    before = node(taints=[NOT_READY])
    patch = node_meta_patch(before, {"zone": "a", "ironstone.k8s/gpu": "true"},
                            {"dedicated:NoSchedule": "gpu", "b-first:NoExecute": ""})
    assert patch == {
        "metadata": {
            "labels": {"ironstone.k8s/gpu": "true", "zone": "a"},
            "annotations": {MANAGED_LABELS: "ironstone.k8s/gpu,zone",
                            MANAGED_TAINTS: "b-first:NoExecute,dedicated:NoSchedule"},
        },
        "spec": {"taints": [NOT_READY, {"key": "b-first", "effect": "NoExecute"},
                            {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]},
    }
    after = applied(before, patch)
    assert after["metadata"]["labels"]["kubernetes.io/hostname"] == "cp-1"
    # a second run has nothing to do
    assert node_meta_patch(after, {"zone": "a", "ironstone.k8s/gpu": "true"},
                           {"dedicated:NoSchedule": "gpu", "b-first:NoExecute": ""}) == {}


def test_noop_without_anything_managed():
    assert node_meta_patch(node(taints=[CONTROL_PLANE]), {}, {}) == {}
    assert node_meta_patch(node(), None, None) == {}


def test_change_a_value():
    before = node(labels={"zone": "a"}, annotations={MANAGED_LABELS: "zone"})
    assert node_meta_patch(before, {"zone": "b"}, {}) == {"metadata": {"labels": {"zone": "b"}}}


def test_null_removes_a_foreign_label_and_is_not_recorded():
    before = node(labels={"zone": "a", "old": "x"}, annotations={MANAGED_LABELS: "zone"})
    patch = node_meta_patch(before, {"zone": "a", "old": None, "absent": None}, {})
    assert patch == {"metadata": {"labels": {"old": None}}}
    after = applied(before, patch)
    assert "old" not in after["metadata"]["labels"]
    assert after["metadata"]["annotations"][MANAGED_LABELS] == "zone"


def test_previously_managed_label_is_removed_and_foreign_left_alone():
    before = node(labels={"zone": "a", "rack": "r1", "team": "x"}, annotations={MANAGED_LABELS: "rack,zone"})
    patch = node_meta_patch(before, {"zone": "a"}, {})
    assert patch == {"metadata": {"labels": {"rack": None}, "annotations": {MANAGED_LABELS: "zone"}}}
    after = applied(before, patch)
    assert after["metadata"]["labels"] == {"zone": "a", "team": "x"}


def test_recorded_but_already_gone_label_only_updates_the_annotation():
    before = node(labels={}, annotations={MANAGED_LABELS: "gone"})
    patch = node_meta_patch(before, {}, {})
    assert patch == {"metadata": {"annotations": {MANAGED_LABELS: None}}}
    assert node_meta_patch(applied(before, patch), {}, {}) == {}


def test_taints_keep_order_replace_in_place_and_remove_managed():
    taints = [{"key": "keep-me", "effect": "NoSchedule"},
              {"key": "dedicated", "value": "cpu", "effect": "NoSchedule"},
              NOT_READY,
              {"key": "retired", "effect": "NoExecute"},
              CONTROL_PLANE]
    before = node(annotations={MANAGED_TAINTS: "dedicated:NoSchedule,retired:NoExecute"}, taints=taints)
    patch = node_meta_patch(before, {}, {"dedicated:NoSchedule": "gpu", "a-new:PreferNoSchedule": "",
                                         "z-new:NoSchedule": "1"})
    assert patch["spec"]["taints"] == [
        {"key": "keep-me", "effect": "NoSchedule"},
        {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
        NOT_READY,
        CONTROL_PLANE,
        {"key": "a-new", "effect": "PreferNoSchedule"},
        {"key": "z-new", "value": "1", "effect": "NoSchedule"},
    ]
    assert patch["metadata"] == {"annotations": {
        MANAGED_TAINTS: "a-new:PreferNoSchedule,dedicated:NoSchedule,z-new:NoSchedule"}}
    assert "labels" not in patch["metadata"]


def test_taint_value_emptied_drops_the_value_and_keeps_other_fields():
    before = node(annotations={MANAGED_TAINTS: "x:NoExecute"},
                  taints=[{"key": "x", "value": "v", "effect": "NoExecute", "timeAdded": "2025-01-01T00:00:00Z"}])
    patch = node_meta_patch(before, {}, {"x:NoExecute": ""})
    assert patch == {"spec": {"taints": [{"key": "x", "effect": "NoExecute", "timeAdded": "2025-01-01T00:00:00Z"}]}}


def test_null_taint_removes_a_foreign_taint_same_key_other_effect_stays():
    before = node(taints=[CONTROL_PLANE, {"key": "node-role.kubernetes.io/control-plane", "effect": "NoExecute"}])
    patch = node_meta_patch(before, {}, {"node-role.kubernetes.io/control-plane:NoSchedule": None})
    assert patch == {"spec": {"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoExecute"}]}}


def test_removing_the_last_taint_gives_an_empty_list():
    before = node(annotations={MANAGED_TAINTS: "x:NoSchedule"}, taints=[{"key": "x", "effect": "NoSchedule"}])
    patch = node_meta_patch(before, {}, {})
    assert patch == {"metadata": {"annotations": {MANAGED_TAINTS: None}}, "spec": {"taints": []}}


def test_node_without_spec_or_annotations():
    patch = node_meta_patch({"metadata": {"name": "w"}}, {"a": 1}, {"t:NoSchedule": "v"})
    assert patch["metadata"]["labels"] == {"a": "1"}
    assert patch["spec"]["taints"] == [{"key": "t", "value": "v", "effect": "NoSchedule"}]


@pytest.mark.parametrize("missing", [None, {}])
def test_node_not_found(missing):
    with pytest.raises(KubeadmConfigError, match="node not found"):
        node_meta_patch(missing, {}, {})


@pytest.mark.parametrize("labels, taints, words", [
    ({"Bad Key": "x"}, {}, "label key"),
    ({"a/b/c": "x"}, {}, "more than one"),
    ({"UPPER.example.com/x": "x"}, {}, "prefix"),
    ({("x" * 64): "x"}, {}, "63"),
    ({"a": "-x"}, {}, "label value"),
    ({"a": "x" * 64}, {}, "label value"),
    ({"a": True}, {}, "must be a string"),
    (["a"], {}, "mapping"),
    ({}, {"x": "v"}, "key:Effect"),
    ({}, {"x:Never": "v"}, "effect"),
    ({}, {"bad key:NoSchedule": "v"}, "key"),
    ({}, {"x:NoSchedule": "bad value!"}, "value"),
    ({}, {"x:NoSchedule": ["v"]}, "must be a string"),
    ({}, ["x:NoSchedule"], "mapping"),
])
def test_validation(labels, taints, words):
    with pytest.raises(KubeadmConfigError, match=words):
        node_meta_patch(node(), labels, taints)


def test_exposed_checks():
    assert nodemeta.label_key_error("node-role.kubernetes.io/worker") is None
    assert nodemeta.label_key_error("a_b.C-1") is None
    assert "label key" in nodemeta.label_key_error("-a")
    assert "label key" in nodemeta.label_key_error("/a")
    assert "label key" in nodemeta.label_key_error("")
    assert "label key" in nodemeta.label_key_error("a" * 250 + ".com/x")
    assert nodemeta.label_value_error("") is None
    assert nodemeta.label_value_error("v1.2_3") is None
    assert "label value" in nodemeta.label_value_error("a b")
    assert "label value" in nodemeta.label_value_error(None)
    assert nodemeta.taint_error("dedicated:NoSchedule", "gpu") is None
    assert nodemeta.taint_error("dedicated:NoExecute", None) is None
    assert nodemeta.taint_error("dedicated:PreferNoSchedule", "") is None
    assert "effect" in nodemeta.taint_error("dedicated:noschedule", "")
    assert "key:Effect" in nodemeta.taint_error("dedicated", "")


def test_summary():
    before = node(labels={"old": "x"}, annotations={MANAGED_LABELS: "old", MANAGED_TAINTS: "gone:NoExecute"},
                  taints=[NOT_READY, {"key": "gone", "effect": "NoExecute"}])
    patch = node_meta_patch(before, {"zone": "a"}, {"x:NoSchedule": "", "y:NoExecute": "v"})
    assert node_meta_summary(patch, before) == \
        "labels -old +zone=a; taints +x:NoSchedule +y=v:NoExecute -gone:NoExecute"
    assert node_meta_summary(patch) == \
        "labels -old +zone=a; taints =[node.kubernetes.io/not-ready:NoSchedule, x:NoSchedule, y=v:NoExecute]"
    assert node_meta_summary({}) == "no change"
    only = {"metadata": {"annotations": {MANAGED_LABELS: "secret-ish"}}}
    assert "secret-ish" not in node_meta_summary(only)
    assert MANAGED_LABELS in node_meta_summary(only)


def test_an_owner_records_its_labels_apart_and_leaves_the_others_alone():
    node = {"metadata": {"name": "g1", "labels": {"pool": "gpu", "nvidia.com/gpu.count": "2", "nvidia.com/gpu.present": "true"},
                         "annotations": {"ironstone.k8s/managed-labels": "pool",
                                         "ironstone.k8s/gpu-managed-labels": "nvidia.com/gpu.count,nvidia.com/gpu.present"}}}
    # the GPU is gone: the gpu owner removes its labels and its record, the nodes stage's label stays
    patch = nodemeta.node_meta_patch(node, {}, {}, owner="gpu")
    assert patch == {"metadata": {"labels": {"nvidia.com/gpu.count": None, "nvidia.com/gpu.present": None},
                                  "annotations": {"ironstone.k8s/gpu-managed-labels": None}}}
    # the nodes stage wanting nothing of the GPU labels does not remove them
    assert nodemeta.node_meta_patch(node, {"pool": "gpu"}, {}) == {}
    with pytest.raises(nodemeta.KubeadmConfigError):
        nodemeta.node_meta_patch(node, {}, {}, owner="Bad Owner")
