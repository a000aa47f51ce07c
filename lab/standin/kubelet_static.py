"""STAND-IN kubelet: static pods and their mirror pods.

Only images the stand-in provides are run: a container whose image's last path component is NAME runs
`$IRONSTONE_STANDIN_IMAGES/NAME` (default /usr/lib/ironstone-standin/images) with the container's
`command[1:]` + `args`, e.g. kube-apiserver.  Kubernetes images must carry the stand-in's tag (v + version.py's, e.g. v1.36.4).
kube-controller-manager, kube-scheduler and etcd are not run: their mirror pods say Running/Ready and carry
`ironstone.k8s/stand-in: "simulated"` (the apiserver stand-in simulates their work).  Any other image is
reported Pending with ErrImagePull "image not provided by the stand-in".  A run child is restarted with
backoff 1, 2, 4 ... 30 s (reset after 10 minutes up), restarted when its manifest changes and stopped
(SIGTERM, then SIGKILL after 10 s) when the manifest is removed; its output goes to the kubelet's log.

A run child is a real process in the node's network namespace (what `hostNetwork: true` gives a real
kube-apiserver).  Each start gets a container ID (64 hex digits) reported as `standin://<id>` in the mirror pod's
status, and a record `$IRONSTONE_STANDIN_RUNTIME_DIR/<id>.json` (default /run/ironstone-standin/containers: pid,
names, start time) that the crictl stand-in's `ps` and `inspect` read, so `crictl inspect <id>` gives the real PID
(`info.pid`) to enter with nsenter.  The record goes when the child exits or is stopped."""

import datetime
import hashlib
import json
import os
import signal
import ssl
import subprocess
import threading
import time
import urllib.request

import yaml

from .version import git_version

DEFAULT_IMAGES = "/usr/lib/ironstone-standin/images"
DEFAULT_RUNTIME_DIR = "/run/ironstone-standin/containers"
SIMULATED = ("kube-controller-manager", "kube-scheduler", "etcd")
VERSIONED = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy")
NOT_PROVIDED = "image not provided by the stand-in"
MAX_BACKOFF = 30
STABLE_SECONDS = 600


def images_dir():
    return os.environ.get("IRONSTONE_STANDIN_IMAGES", DEFAULT_IMAGES)


def runtime_dir():
    return os.environ.get("IRONSTONE_STANDIN_RUNTIME_DIR", DEFAULT_RUNTIME_DIR)


def image_name_tag(image):
    """'registry.k8s.io/kube-apiserver:v1.36.4' -> ('kube-apiserver', 'v1.36.4')."""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    name, dummy, tag = last.partition(":")
    return name, tag


def rfc3339(epoch=None):
    when = datetime.datetime.fromtimestamp(epoch if epoch is not None else time.time(), datetime.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


class StaticPod:  # pylint: disable=too-many-instance-attributes
    """One manifest file and, for a run image, its child process."""

    def __init__(self, path, data, manifest):
        self.path = path
        self.hash = hashlib.md5(data).hexdigest()  # nosec - an identity, as the kubelet's config hash
        self.manifest = manifest
        meta = manifest.get("metadata") or {}
        self.name = meta.get("name", "")
        self.namespace = meta.get("namespace") or "default"
        containers = (manifest.get("spec") or {}).get("containers") or [{}]
        self.container = containers[0]
        self.image = self.container.get("image", "")
        base, tag = image_name_tag(self.image)
        self.kind, self.reason, self.executable = "unavailable", NOT_PROVIDED, None
        if len(containers) != 1:
            self.reason = NOT_PROVIDED + " (only single-container static pods are supported)"
        elif base in VERSIONED and tag and tag != git_version():
            self.reason = f"{NOT_PROVIDED} (it provides {git_version()} only, not {tag})"
        elif base in SIMULATED:
            self.kind = "simulated"
        elif os.access(os.path.join(images_dir(), base), os.X_OK):
            self.kind, self.executable = "run", os.path.join(images_dir(), base)
        self.process = None
        self.restarts = 0
        self.started_at = None
        self.started_clock = 0.0
        self.created_at = time.time()
        self.backoff = 0
        self.next_start = 0.0
        self.last_exit = None
        self.container_id = ""

    @property
    def key(self):
        return (self.namespace, self.name)

    def argv(self):
        command = self.container.get("command") or []
        return [self.executable] + list(command[1:]) + list(self.container.get("args") or [])

    def env(self):
        env = dict(os.environ)
        for item in self.container.get("env") or []:
            if "value" in item:
                env[item["name"]] = str(item["value"])
        return env

    def running(self):
        return self.process is not None and self.process.poll() is None


def _forward(stream, prefix, log_line):
    for line in iter(stream.readline, ""):
        log_line(prefix + line.rstrip("\n"))
    stream.close()


def probe_url(pod):
    """Where readiness of a run apiserver is checked: https://<bind or 127.0.0.1>:<secure-port>/livez."""
    port, host = "6443", "127.0.0.1"
    for arg in list(pod.container.get("command") or []) + list(pod.container.get("args") or []):
        if arg.startswith("--secure-port="):
            port = arg.split("=", 1)[1]
        elif arg.startswith("--bind-address="):
            value = arg.split("=", 1)[1]
            if value not in ("0.0.0.0", "::", ""):
                host = value
    if ":" in host:
        host = f"[{host}]"
    return f"https://{host}:{port}/livez"


def http_probe(url, timeout=1.0):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as response:  # nosec - fixed local URL
            return response.status == 200
    except (OSError, ValueError):
        return False


class StaticPodManager:
    """Watches staticPodPath (scan()) and keeps the run children alive (tick())."""

    def __init__(self, pod_path, log, log_line, popen=subprocess.Popen, clock=time.monotonic, probe=http_probe):
        self.pod_path = pod_path
        self.log = log
        self.log_line = log_line
        self.popen = popen
        self.clock = clock
        self.probe = probe
        self.pods = {}  # path -> StaticPod
        self.removed = []  # (namespace, name) whose mirror pod must go

    def _files(self):
        if not self.pod_path:
            return []
        if os.path.isfile(self.pod_path):
            return [self.pod_path]
        try:
            names = sorted(os.listdir(self.pod_path))
        except OSError:
            return []
        return [os.path.join(self.pod_path, n) for n in names
                if not n.startswith(".") and os.path.isfile(os.path.join(self.pod_path, n))]

    def scan(self):
        seen = set()
        for path in self._files():
            try:
                with open(path, "rb") as handle:
                    data = handle.read()
            except OSError:
                continue
            seen.add(path)
            old = self.pods.get(path)
            if old is not None and old.hash == hashlib.md5(data).hexdigest():  # nosec
                continue
            try:
                manifest = yaml.safe_load(data)
                if not isinstance(manifest, dict) or manifest.get("kind") != "Pod" or not (manifest.get("metadata") or {}).get("name"):
                    raise ValueError("not a Pod with a metadata.name")
            except (yaml.YAMLError, ValueError) as err:
                self.log(f'"Could not process manifest file" err="{err}" path="{path}"', "E")
                continue
            pod = StaticPod(path, data, manifest)
            if old is not None:
                self.log(f'"Static pod manifest changed; restarting" pod="{old.namespace}/{old.name}" path="{path}"')
                self.stop(old)
                if old.key != pod.key:
                    self.removed.append(old.key)
            else:
                self.log(f'"Found static pod" pod="{pod.namespace}/{pod.name}" image="{pod.image}" handling="{pod.kind}"')
            self.pods[path] = pod
        for path in list(self.pods):
            if path not in seen:
                pod = self.pods.pop(path)
                self.log(f'"Static pod manifest removed; stopping" pod="{pod.namespace}/{pod.name}"')
                self.stop(pod)
                self.removed.append(pod.key)

    def start(self, pod):
        argv = pod.argv()
        self.log(f'"Starting static pod container" pod="{pod.namespace}/{pod.name}" command="{" ".join(argv[:1])}"')
        try:
            pod.process = self.popen(  # pylint: disable=consider-using-with
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=pod.env(), cwd="/")
        except OSError as err:
            self.log(f'"Failed to start static pod container" pod="{pod.namespace}/{pod.name}" err="{err}"', "E")
            pod.process = None
            self._schedule_restart(pod)
            return
        pod.started_at = time.time()
        pod.started_clock = self.clock()
        pod.container_id = hashlib.sha256(f"{pod.hash}/{pod.process.pid}/{pod.started_at}".encode()).hexdigest()
        self._record(pod)
        if pod.process.stdout is not None:
            threading.Thread(target=_forward, args=(pod.process.stdout, f"[{pod.name}] ", self.log_line), daemon=True).start()

    def _record(self, pod):
        """The runtime record the crictl stand-in reads (best effort: a failure is logged, the child keeps running)."""
        record = {"id": pod.container_id, "pid": pod.process.pid, "name": pod.container.get("name", pod.name),
                  "image": pod.image, "podName": pod.name, "podNamespace": pod.namespace, "attempt": pod.restarts,
                  "createdAt": rfc3339(pod.started_at), "stand-in": "a static pod child of the kubelet stand-in"}
        try:
            os.makedirs(runtime_dir(), exist_ok=True)
            tmp = os.path.join(runtime_dir(), f".{pod.container_id}.tmp")
            with open(tmp, "w", encoding="utf-8") as handle:
                json.dump(record, handle)
            os.replace(tmp, os.path.join(runtime_dir(), f"{pod.container_id}.json"))
        except OSError as err:
            self.log(f'"Could not write the runtime record" pod="{pod.namespace}/{pod.name}" err="{err}"', "E")

    @staticmethod
    def _forget(pod):
        if pod.container_id:
            try:
                os.unlink(os.path.join(runtime_dir(), f"{pod.container_id}.json"))
            except OSError:
                pass

    def _schedule_restart(self, pod):
        pod.backoff = 1 if pod.backoff == 0 else min(pod.backoff * 2, MAX_BACKOFF)
        pod.next_start = self.clock() + pod.backoff

    def tick(self):
        for pod in self.pods.values():
            if pod.kind != "run":
                continue
            if pod.process is not None and pod.process.poll() is not None:
                code = pod.process.returncode
                uptime = self.clock() - pod.started_clock
                if uptime >= STABLE_SECONDS:
                    pod.backoff = 0
                pod.last_exit = code
                pod.process = None
                self._forget(pod)
                pod.restarts += 1
                self._schedule_restart(pod)
                self.log(f'"Static pod container exited; restarting with back-off" pod="{pod.namespace}/{pod.name}" '
                         f'exitCode={code} backOff="{pod.backoff}s"', "E")
            if pod.process is None and self.clock() >= pod.next_start:
                self.start(pod)

    def stop(self, pod, grace=10.0):
        proc = pod.process
        pod.process = None
        self._forget(pod)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def stop_all(self):
        for pod in self.pods.values():
            self.stop(pod)

    # --- mirror pods ---------------------------------------------------------------------------------

    def mirror_pod(self, pod, node_name, node_uid):
        meta = pod.manifest.get("metadata") or {}
        annotations = dict(meta.get("annotations") or {})
        annotations.update({"kubernetes.io/config.hash": pod.hash, "kubernetes.io/config.mirror": pod.hash,
                            "kubernetes.io/config.seen": rfc3339(pod.created_at), "kubernetes.io/config.source": "file"})
        if pod.kind == "simulated":
            annotations["ironstone.k8s/stand-in"] = "simulated"
        spec = dict(pod.manifest.get("spec") or {})
        spec["nodeName"] = node_name
        return {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"{pod.name}-{node_name}", "namespace": pod.namespace,
                         "labels": dict(meta.get("labels") or {}), "annotations": annotations,
                         "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": node_name, "uid": node_uid,
                                              "controller": True}]},
            "spec": spec,
        }

    def pod_status(self, pod, node_ip):
        stamp = rfc3339()
        container = {"name": pod.container.get("name", pod.name), "image": pod.image, "imageID": "",
                     "restartCount": pod.restarts, "lastState": {}}
        phase, ready = "Running", False
        if pod.kind == "unavailable":
            phase = "Pending"
            container.update(ready=False, started=False, state={"waiting": {"reason": "ErrImagePull", "message": pod.reason}})
        elif pod.kind == "simulated":
            ready = True
            container.update(ready=True, started=True, containerID=f"standin://simulated/{pod.name}",
                             state={"running": {"startedAt": rfc3339(pod.created_at)}})
        elif pod.running():
            ready = self.probe(probe_url(pod))
            container.update(ready=ready, started=True, containerID=f"standin://{pod.container_id}",
                             state={"running": {"startedAt": rfc3339(pod.started_at)}})
        else:
            container.update(ready=False, started=False, state={"waiting": {
                "reason": "CrashLoopBackOff",
                "message": f"back-off {pod.backoff}s restarting failed container={container['name']} pod={pod.name}_{pod.namespace}"}})
            if pod.last_exit is not None:
                container["lastState"] = {"terminated": {"exitCode": pod.last_exit, "reason": "Error"}}
        flag = "True" if ready else "False"
        conditions = [{"type": "PodReadyToStartContainers", "status": "True" if pod.kind != "unavailable" else "False"},
                      {"type": "Initialized", "status": "True"}, {"type": "Ready", "status": flag},
                      {"type": "ContainersReady", "status": flag}, {"type": "PodScheduled", "status": "True"}]
        for cond in conditions:
            cond["lastProbeTime"] = None
            cond["lastTransitionTime"] = stamp
        return {"phase": phase, "conditions": conditions, "hostIP": node_ip, "hostIPs": [{"ip": node_ip}],
                "podIP": node_ip, "podIPs": [{"ip": node_ip}], "startTime": rfc3339(pod.created_at),
                "qosClass": "Burstable", "containerStatuses": [container]}
