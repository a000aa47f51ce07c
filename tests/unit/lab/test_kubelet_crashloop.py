"""STAND-IN tests: the kubelet stand-in's crash-looping pods, its /containerLogs, the API server stand-in's pods/log
checks and crictl's inspect of static pod children.  No container runs: these test the stand-ins, not Kubernetes."""

import json
import os

import pytest

from lab.standin import crictl
from lab.standin import kubelet_crashloop as kc
from lab.standin.apiserver import podlogs
from lab.standin.apiserver.store import ApiError


def _pod(containers=("app",), annotations=None, node="worker1", policy="Always"):
    return {"metadata": {"name": "crashy", "namespace": "default", "uid": "u-1",
                         "annotations": {kc.ANNOTATION: "3", kc.OUTPUT_ANNOTATION: "panic: boom\ngoroutine 1"}
                         if annotations is None else annotations},
            "spec": {"nodeName": node, "restartPolicy": policy,
                     "containers": [{"name": c, "image": "busybox"} for c in containers]}}


class Api:
    def __init__(self, pods):
        self.pods = pods
        self.patches = []
        self.posts = []

    def get(self, path, query=None):
        assert query == {"fieldSelector": "spec.nodeName=worker1"}
        return {"items": self.pods}

    def patch(self, path, body):
        self.patches.append((path, body))
        return body

    def post(self, path, body):
        self.posts.append((path, body))
        return body


class Clock:
    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self):
        return self.now


def _loops(tmp_path, clock):
    return kc.CrashLoops("worker1", lambda *a: None, root=str(tmp_path), clock=clock)


def test_crash_loop_status_grows_with_backoff_and_writes_logs(tmp_path):
    clock = Clock()
    loops = _loops(tmp_path, clock)
    api = Api([_pod()])
    loops.sync(api, "10.0.0.21")
    status = api.patches[-1][1]["status"]
    assert api.patches[-1][0] == "/api/v1/namespaces/default/pods/crashy/status"
    cont = status["containerStatuses"][0]
    assert status["phase"] == "Running" and cont["ready"] is False and cont["restartCount"] == 0
    assert cont["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert cont["lastState"]["terminated"]["exitCode"] == 3 and cont["lastState"]["terminated"]["reason"] == "Error"
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "False"
    assert (tmp_path / "default_crashy_u-1" / "app" / "0.log").read_text().count(" stderr F ") == 3
    clock.now += 5  # inside the 10 s back-off: no new attempt
    loops.sync(api, "10.0.0.21")
    assert api.patches[-1][1]["status"]["containerStatuses"][0]["restartCount"] == 0
    clock.now += 6
    loops.sync(api, "10.0.0.21")
    assert api.patches[-1][1]["status"]["containerStatuses"][0]["restartCount"] == 1
    assert "back-off 20s" in api.patches[-1][1]["status"]["containerStatuses"][0]["state"]["waiting"]["message"]
    assert api.posts and api.posts[-1][1]["reason"] == "BackOff"


def test_bad_annotation_and_never_policy(tmp_path):
    clock = Clock()
    loops = _loops(tmp_path, clock)
    api = Api([_pod(annotations={kc.ANNOTATION: "zero"})])
    loops.sync(api, "10.0.0.21")
    assert api.patches[-1][1]["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CreateContainerConfigError"
    loops = _loops(tmp_path, clock)
    api = Api([_pod(policy="Never")])
    loops.sync(api, "10.0.0.21")
    clock.now += 1000
    loops.sync(api, "10.0.0.21")
    status = api.patches[-1][1]["status"]
    assert status["phase"] == "Failed" and status["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 3


def test_deleted_pod_forgotten_and_logs_removed(tmp_path):
    loops = _loops(tmp_path, Clock())
    api = Api([_pod()])
    loops.sync(api, "10.0.0.21")
    api.pods = []
    loops.sync(api, "10.0.0.21")
    assert not loops.loops and not (tmp_path / "default_crashy_u-1").exists()


def test_container_logs_like_the_kubelet(tmp_path):
    loops = _loops(tmp_path, Clock())
    pod = _pod(containers=("app", "side"))
    loops.sync(Api([pod]), "10.0.0.21")

    def get(ns, name):
        return pod if (ns, name) == ("default", "crashy") else None

    code, text = loops.logs("/containerLogs/default/crashy/app?previous=true", get)
    assert code == 200 and text.splitlines()[1:] == ["panic: boom", "goroutine 1"] and text.startswith("STAND-IN:")
    code, text = loops.logs("/containerLogs/default/crashy/app?tailLines=1&timestamps=true", get)
    assert code == 200 and text.endswith(" goroutine 1\n") and text[:4] == "2027"
    assert loops.logs("/containerLogs/default/gone/app", get) == (404, 'pod "gone" does not exist\n')
    assert loops.logs("/containerLogs/default/crashy/nope", get)[0] == 404
    plain = dict(pod, metadata=dict(pod["metadata"], uid="u-2", annotations={}),
                 status={"containerStatuses": [{"name": "app", "state": {"running": {}}, "lastState": {}}]})
    code, text = loops.logs("/containerLogs/default/crashy/app?previous=true", lambda ns, n: plain)
    assert (code, text) == (400, 'previous terminated container "app" in pod "crashy" not found')


def test_apiserver_container_checks():
    one, two = _pod(), _pod(containers=("a", "b"))
    assert podlogs.pick_container(one, "") == "app"
    with pytest.raises(ApiError) as err:
        podlogs.pick_container(two, "")
    assert err.value.code == 400 and err.value.message == \
        "a container name must be specified for pod crashy, choose one of: [a b]"
    with pytest.raises(ApiError) as err:
        podlogs.pick_container(two, "c")
    assert err.value.message == "container c is not valid for pod crashy"
    with pytest.raises(ApiError) as err:
        podlogs.validate_query({"follow": ["true"]})
    assert err.value.code == 501
    node = {"status": {"addresses": [{"type": "Hostname", "address": "w1"}, {"type": "InternalIP", "address": "10.0.0.21"}]}}
    assert podlogs.kubelet_address(node, ["InternalIP", "Hostname"]) == "10.0.0.21"


def test_crictl_inspect_answers_the_static_pod_child_pid(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("IRONSTONE_STANDIN_RUNTIME_DIR", str(tmp_path))
    cid = "ab" * 32
    record = {"id": cid, "pid": os.getpid(), "name": "kube-apiserver", "podName": "kube-apiserver", "podNamespace": "kube-system"}
    (tmp_path / f"{cid}.json").write_text(json.dumps(record))

    class Runtime:
        def check_cri(self):
            return None

        def _call(self, args, namespace=None):
            return "CONTAINER IMAGE RUNTIME\n" if args[0] == "containers" else "TASK PID STATUS\n"

    assert crictl.cmd_inspect(Runtime(), ["abab"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["info"]["pid"] == os.getpid() and doc["status"]["state"] == "CONTAINER_RUNNING"
    with pytest.raises(crictl.CrictlError, match="not found"):
        crictl.cmd_inspect(Runtime(), ["ffff"])


def test_event_table_row_like_kubectl_get_events():
    import datetime as dt
    from lab.standin.apiserver import tables
    event = {"metadata": {"name": "crashy.1"}, "type": "Warning", "reason": "BackOff", "message": "Back-off restarting",
             "involvedObject": {"kind": "Pod", "name": "crashy", "fieldPath": "spec.containers{app}"},
             "source": {"component": "kubelet", "host": "worker1"}, "count": 3,
             "firstTimestamp": "2026-12-02T12:00:00Z", "lastTimestamp": "2026-12-02T12:05:00Z"}
    row = tables._event_row(event, dt.datetime(2026, 12, 2, 12, 10, tzinfo=dt.timezone.utc))  # pylint: disable=protected-access
    assert row[:4] == ["5m (x3 over 10m)", "Warning", "BackOff", "pod/crashy"] and row[6] == "Back-off restarting"
