"""Tests of the STAND-IN kubeadm's patches directory (kubeadm's --patches / patches.directory): the
file naming rule, JSON and merge patches applied to the static Pod manifests, strategic merge refused
as not implemented by the stand-in."""
import json

import pytest

from lab.standin import kubeadm_defaults as defaults
from lab.standin import kubeadm_manifests as manifests


@pytest.fixture(name="root")
def fixture_root(tmp_path, monkeypatch):
    monkeypatch.setenv("IRONSTONE_STANDIN_ROOT", str(tmp_path))
    return tmp_path


def write(root, name, content):
    directory = root / "etc" / "patches"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(content)


def test_file_names_pick_target_type_and_order(root):
    write(root, "kube-apiserver1+merge.yaml", "metadata: {labels: {b: '2'}}\n")
    write(root, "kube-apiserver0+json.json", json.dumps([{"op": "add", "path": "/x", "value": 1}]))
    write(root, "kube-scheduler.yaml", "spec: {}\n")
    write(root, "notes.txt", "ignored")
    found = manifests.read_patches("/etc/patches")
    assert [(kind, name) for kind, _patch, name in found["kube-apiserver"]] == [
        ("json", "kube-apiserver0+json.json"), ("merge", "kube-apiserver1+merge.yaml")]
    assert found["kube-scheduler"][0][0] == "strategic"
    assert set(found) == {"kube-apiserver", "kube-scheduler"}


def test_missing_directory_is_an_error(root):
    with pytest.raises(defaults.StandinError, match="could not list patch files"):
        manifests.read_patches("/etc/nowhere")


def test_json_patch_appends_a_flag_and_merge_patch_removes_a_key():
    pod = {"spec": {"containers": [{"command": ["kube-apiserver", "--a=1"]}]}, "metadata": {"labels": {"x": "1"}}}
    out = manifests.json_patch(pod, [{"op": "add", "path": "/spec/containers/0/command/-", "value": "--bind-address=10.0.0.1"}])
    assert out["spec"]["containers"][0]["command"] == ["kube-apiserver", "--a=1", "--bind-address=10.0.0.1"]
    assert pod["spec"]["containers"][0]["command"] == ["kube-apiserver", "--a=1"]
    assert manifests.merge_patch(pod, {"metadata": {"labels": {"x": None}}})["metadata"]["labels"] == {}
    with pytest.raises(defaults.StandinError, match="test failed"):
        manifests.json_patch(pod, [{"op": "test", "path": "/metadata/labels/x", "value": "2"}])
    with pytest.raises(defaults.StandinError, match="not implemented by the stand-in"):
        manifests.json_patch(pod, [{"op": "move", "from": "/a", "path": "/b"}])


def test_strategic_patches_are_not_implemented(root):
    write(root, "kube-apiserver.yaml", "spec: {}\n")
    patches = manifests.read_patches("/etc/patches")
    with pytest.raises(defaults.StandinError, match="not implemented by the stand-in"):
        manifests.apply_patches("kube-apiserver", {"spec": {}}, patches)
