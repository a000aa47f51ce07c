"""Unit tests of the kubelet STAND-IN's static pods: a tiny python script stands in for the image."""
import os
import stat
import sys
import time

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
if os.path.dirname(__file__) not in sys.path:
    sys.path.insert(0, os.path.dirname(__file__))

from lab.standin import kubelet_static as ks  # noqa: E402  pylint: disable=wrong-import-position
from lab.standin.version import git_version  # noqa: E402  pylint: disable=wrong-import-position

IMAGE_SCRIPT = """#!{python}
import os, signal, sys, time
out = os.environ["STANDIN_TEST_OUT"]
with open(out, "a") as f:
    f.write(" ".join(sys.argv[1:]) + "\\n")
print("child started", file=sys.stderr, flush=True)
if "--exit-now" in sys.argv:
    sys.exit(3)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
while True:
    time.sleep(0.1)
"""


def manifest(name="kube-apiserver", image="registry.k8s.io/kube-apiserver:" + git_version(), flags=("--secure-port=6443",), extra=None):
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": "kube-system", "labels": {"component": name, "tier": "control-plane"},
                        "annotations": {"kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint": "10.0.0.11:6443"}},
           "spec": {"hostNetwork": True, "containers": [{"name": name, "image": image, "command": [name] + list(flags)}]}}
    if extra:
        pod["spec"]["containers"][0]["args"] = list(extra)
    return yaml.safe_dump(pod)


@pytest.fixture(name="env")
def fixture_env(tmp_path, monkeypatch):
    images = tmp_path / "images"
    images.mkdir()
    script = images / "kube-apiserver"
    script.write_text(IMAGE_SCRIPT.format(python=sys.executable))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    out = tmp_path / "child.out"
    monkeypatch.setenv("IRONSTONE_STANDIN_IMAGES", str(images))
    monkeypatch.setenv("STANDIN_TEST_OUT", str(out))
    logs, lines = [], []
    manager = ks.StaticPodManager(str(manifests), lambda msg, level="I": logs.append(msg), lines.append,
                                  probe=lambda url: True)
    yield manager, manifests, out, logs, lines
    manager.stop_all()


def wait_for(predicate, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_apiserver_runs_restarts_on_change_and_stops_on_removal(env):
    manager, manifests, out, _logs, lines = env
    (manifests / "kube-apiserver.yaml").write_text(manifest(extra=["--v=2"]))
    (manifests / ".hidden.yaml").write_text("garbage")
    manager.scan()
    manager.tick()
    (pod,) = manager.pods.values()
    assert pod.kind == "run" and pod.running()
    assert wait_for(lambda: out.exists() and out.read_text() == "--secure-port=6443 --v=2\n")
    assert wait_for(lambda: "[kube-apiserver] child started" in lines)
    first_pid = pod.process.pid

    (manifests / "kube-apiserver.yaml").write_text(manifest(flags=("--secure-port=7443",)))
    manager.scan()
    manager.tick()
    (pod2,) = manager.pods.values()
    assert pod2.running() and pod2.process.pid != first_pid
    assert wait_for(lambda: out.read_text().splitlines()[-1] == "--secure-port=7443")
    assert ks.probe_url(pod2) == "https://127.0.0.1:7443/livez"

    proc = pod2.process
    (manifests / "kube-apiserver.yaml").unlink()
    manager.scan()
    assert proc.poll() is not None
    assert not manager.pods and manager.removed == [("kube-system", "kube-apiserver")]


def test_crashing_child_is_restarted_with_backoff(env):
    manager, manifests, _out, logs, _lines = env
    (manifests / "kube-apiserver.yaml").write_text(manifest(flags=("--exit-now",)))
    now = [100.0]
    manager.clock = lambda: now[0]
    manager.scan()
    manager.tick()
    (pod,) = manager.pods.values()
    assert wait_for(lambda: pod.process.poll() is not None)
    manager.tick()
    assert pod.process is None and pod.restarts == 1 and pod.backoff == 1 and pod.last_exit == 3
    status = manager.pod_status(pod, "10.0.0.11")
    assert status["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert status["conditions"][2] == {"type": "Ready", "status": "False", "lastProbeTime": None,
                                       "lastTransitionTime": status["conditions"][2]["lastTransitionTime"]}
    manager.tick()
    assert pod.process is None  # still backing off
    now[0] += 1
    manager.tick()
    assert pod.process is not None
    assert wait_for(lambda: pod.process.poll() is not None)
    manager.tick()
    assert pod.backoff == 2
    for dummy in range(6):
        pod.backoff = min(pod.backoff * 2, ks.MAX_BACKOFF)
    assert pod.backoff == 30
    assert any("exitCode=3" in msg for msg in logs)


def test_mirror_pods(env):
    manager, manifests, _out, _logs, _lines = env
    (manifests / "kube-apiserver.yaml").write_text(manifest())
    (manifests / "kube-scheduler.yaml").write_text(manifest("kube-scheduler", "registry.k8s.io/kube-scheduler:" + git_version()))
    (manifests / "etcd.yaml").write_text(manifest("etcd", "registry.k8s.io/etcd:3.5.16-0"))
    (manifests / "haproxy.yaml").write_text(manifest("haproxy", "docker.io/library/haproxy:2.8"))
    (manifests / "old-cm.yaml").write_text(manifest("kube-controller-manager", "registry.k8s.io/kube-controller-manager:v1.31.0"))
    manager.scan()
    manager.tick()
    pods = {p.name: p for p in manager.pods.values()}
    assert {n: p.kind for n, p in pods.items()} == {
        "kube-apiserver": "run", "kube-scheduler": "simulated", "etcd": "simulated",
        "haproxy": "unavailable", "kube-controller-manager": "unavailable"}
    mirror = manager.mirror_pod(pods["kube-apiserver"], "cp-1", "uid-9")
    meta = mirror["metadata"]
    assert meta["name"] == "kube-apiserver-cp-1" and meta["namespace"] == "kube-system"
    assert meta["annotations"]["kubernetes.io/config.source"] == "file"
    assert meta["annotations"]["kubernetes.io/config.mirror"] == pods["kube-apiserver"].hash
    assert meta["annotations"]["kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint"] == "10.0.0.11:6443"
    assert "ironstone.k8s/stand-in" not in meta["annotations"]
    assert meta["ownerReferences"] == [{"apiVersion": "v1", "kind": "Node", "name": "cp-1", "uid": "uid-9", "controller": True}]
    assert mirror["spec"]["nodeName"] == "cp-1"

    running = manager.pod_status(pods["kube-apiserver"], "10.0.0.11")
    assert running["phase"] == "Running" and running["containerStatuses"][0]["ready"] is True
    manager.probe = lambda url: False
    assert manager.pod_status(pods["kube-apiserver"], "10.0.0.11")["containerStatuses"][0]["ready"] is False

    sched = manager.mirror_pod(pods["kube-scheduler"], "cp-1", "uid-9")
    assert sched["metadata"]["annotations"]["ironstone.k8s/stand-in"] == "simulated"
    assert manager.pod_status(pods["kube-scheduler"], "10.0.0.11")["phase"] == "Running"

    pending = manager.pod_status(pods["haproxy"], "10.0.0.11")
    assert pending["phase"] == "Pending"
    waiting = pending["containerStatuses"][0]["state"]["waiting"]
    assert waiting == {"reason": "ErrImagePull", "message": "image not provided by the stand-in"}
    old = manager.pod_status(pods["kube-controller-manager"], "10.0.0.11")["containerStatuses"][0]["state"]["waiting"]
    assert "v1.31.0" in old["message"]


def test_bad_manifest_is_logged_and_skipped(env):
    manager, manifests, _out, logs, _lines = env
    (manifests / "broken.yaml").write_text("kind: Pod\nmetadata: {}\n")
    manager.scan()
    assert not manager.pods
    assert any("Could not process manifest file" in msg for msg in logs)


def test_mirror_sync_creates_replaces_and_deletes(env):
    from lab.standin import kubelet  # pylint: disable=import-outside-toplevel
    from test_kubelet import FakeApi  # pylint: disable=import-outside-toplevel
    manager, manifests, _out, _logs, _lines = env
    (manifests / "kube-scheduler.yaml").write_text(manifest("kube-scheduler", "registry.k8s.io/kube-scheduler:" + git_version()))
    manager.scan()
    api = FakeApi()
    node = kubelet.Kubelet("cp-1", "10.0.0.11", {}, [], {}, lambda: api, manager)
    node.node_uid = "uid-1"
    node.sync_mirrors()
    path = "/api/v1/namespaces/kube-system/pods/kube-scheduler-cp-1"
    assert path in api.objects
    assert ("PATCH", path + "/status") in api.calls
    first_hash = api.objects[path]["metadata"]["annotations"]["kubernetes.io/config.mirror"]
    (manifests / "kube-scheduler.yaml").write_text(manifest("kube-scheduler", "registry.k8s.io/kube-scheduler:" + git_version(),
                                                            flags=("--v=3",)))
    manager.scan()
    node.sync_mirrors()
    assert ("DELETE", path) in api.calls
    assert api.objects[path]["metadata"]["annotations"]["kubernetes.io/config.mirror"] != first_hash
    (manifests / "kube-scheduler.yaml").unlink()
    manager.scan()
    node.sync_mirrors()
    assert path not in api.objects and not manager.removed
