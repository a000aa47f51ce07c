"""STAND-IN kubelet: pods forced into a restart loop, and their container logs.  Not the real kubelet.

The stand-in runs no pod.  To give day-2 tooling (playbooks/diagnose.yml) a crash-looping pod to find, a Pod bound
to this node (`spec.nodeName`) that carries the annotation

    ironstone.k8s/stand-in-crash-loop: "<exit code 1-255>"

is played as if each of its containers started and exited with that code, again and again, with the kubelet's
back-off (10 s, doubled per restart, at most 300 s):

- status as the real kubelet writes it: `phase: Running` (restartPolicy Always/OnFailure; `Failed` after one
  attempt with Never), every container `ready: false`, `restartCount` growing, `state.waiting.reason:
  CrashLoopBackOff` with the real message, `lastState.terminated` (exitCode, reason `Error`, startedAt, finishedAt,
  containerID), conditions Ready/ContainersReady False (ContainersNotReady), a `BackOff` Warning event;
- each attempt's output written to the real kubelet's layout, `/var/log/pods/<ns>_<name>_<uid>/<container>/<n>.log`,
  in the CRI log format (`<RFC3339Nano> stderr F <line>`).  The lines are those of the optional annotation
  `ironstone.k8s/stand-in-crash-output` (one per line), after a first line starting `STAND-IN:`;
- `/containerLogs/<ns>/<pod>/<container>` on the kubelet port, which the API server stand-in proxies `pods/log`
  to, answers as the real kubelet does (`previous=true`, `tailLines`, `timestamps`; 404 for an unknown pod or
  container, 400 with the kubelet's messages when there is no such container instance).

An annotation value that is not an integer 1-255 is reported as the container waiting with
`CreateContainerConfigError`, naming the annotation.  Logs of containers the stand-in does not play (static pods'
children log to the kubelet's journal) answer 501.
"""

import datetime
import os
import shutil
import threading
import time
import urllib.parse

ANNOTATION = "ironstone.k8s/stand-in-crash-loop"
OUTPUT_ANNOTATION = "ironstone.k8s/stand-in-crash-output"
LOG_ROOT = "/var/log/pods"
INITIAL_BACKOFF = 10
MAX_BACKOFF = 300


def rfc3339(epoch, nano=False):
    when = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    if nano:
        return when.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def exit_code(value):
    """The exit code an annotation value asks for, or None when it is not an integer 1-255."""
    try:
        code = int(str(value).strip())
    except ValueError:
        return None
    return code if 1 <= code <= 255 else None


def backoff(restarts):
    return min(INITIAL_BACKOFF * (2 ** restarts), MAX_BACKOFF)


def container_id(uid, container, attempt):
    import hashlib  # pylint: disable=import-outside-toplevel
    return hashlib.sha256(f"{uid}/{container}/{attempt}".encode()).hexdigest()


class CrashLoop:  # pylint: disable=too-many-instance-attributes
    """The simulated life of one annotated pod."""

    def __init__(self, pod, now):
        meta = pod["metadata"]
        self.namespace, self.name, self.uid = meta.get("namespace", "default"), meta["name"], meta.get("uid", "")
        spec = pod.get("spec") or {}
        self.containers = [c.get("name", "") for c in spec.get("containers") or []]
        self.images = {c.get("name", ""): c.get("image", "") for c in spec.get("containers") or []}
        self.restart_policy = spec.get("restartPolicy") or "Always"
        self.host_network = bool(spec.get("hostNetwork"))
        self.created = now
        # Carry on from the status the API holds (the kubelet stand-in may have been restarted).
        statuses = ((pod.get("status") or {}).get("containerStatuses")) or []
        done = max([s.get("restartCount", 0) + 1 for s in statuses if (s.get("lastState") or {}).get("terminated")] or [0])
        self.attempts = done  # attempts finished
        self.last = {}  # container -> terminated dict of the last attempt
        for status in statuses:
            if (status.get("lastState") or {}).get("terminated"):
                self.last[status.get("name")] = status["lastState"]["terminated"]
        self.next_at = now
        self.code = None
        self.output = ""
        self.event_count = 0

    @property
    def dirname(self):
        return f"{self.namespace}_{self.name}_{self.uid}"

    def done(self):
        return self.restart_policy == "Never" and self.attempts >= 1


class CrashLoops:
    """All crash-looping pods of this node; sync() from the status loop, logs() from the HTTP server."""

    def __init__(self, node_name, log, root=LOG_ROOT, clock=time.time):
        self.node_name = node_name
        self.log = log
        self.root = root
        self.clock = clock
        self.loops = {}  # uid -> CrashLoop
        self.lock = threading.Lock()

    # --- the status loop -------------------------------------------------------------------------
    def sync(self, client, node_ip):
        query = {"fieldSelector": f"spec.nodeName={self.node_name}"}
        pods = client.get("/api/v1/pods", query=query).get("items") or []
        seen = set()
        now = self.clock()
        for pod in pods:
            annotations = (pod.get("metadata") or {}).get("annotations") or {}
            if ANNOTATION not in annotations or (pod.get("metadata") or {}).get("deletionTimestamp"):
                continue
            uid = pod["metadata"].get("uid", "")
            seen.add(uid)
            with self.lock:
                loop = self.loops.get(uid)
                if loop is None:
                    loop = self.loops[uid] = CrashLoop(pod, now)
                    self.log(f'"STAND-IN: playing a crash-looping pod (no process runs)" pod="{loop.namespace}/{loop.name}"')
                loop.code = exit_code(annotations[ANNOTATION])
                loop.output = str(annotations.get(OUTPUT_ANNOTATION, ""))
                started = loop.code is not None and not loop.done() and now >= loop.next_at
                if started:
                    self._attempt(loop, now)
            status = self.status(loop, node_ip, now)
            client.patch(f"/api/v1/namespaces/{loop.namespace}/pods/{loop.name}/status", {"status": status})
            if started and loop.attempts > 1:
                self._event(client, loop, now)
        with self.lock:
            for uid in [u for u in self.loops if u not in seen]:
                loop = self.loops.pop(uid)
                shutil.rmtree(os.path.join(self.root, loop.dirname), ignore_errors=True)

    def _attempt(self, loop, now):
        attempt = loop.attempts
        for name in loop.containers:
            path = os.path.join(self.root, loop.dirname, name, f"{attempt}.log")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            lines = [f"STAND-IN: container {name} of pod {loop.namespace}/{loop.name}, attempt {attempt}: no process runs; "
                     f"the stand-in kubelet writes this log and reports exit code {loop.code}"]
            lines += [line for line in loop.output.splitlines() if line.strip()]
            with open(path, "w", encoding="utf-8") as handle:
                for index, line in enumerate(lines):
                    handle.write(f"{rfc3339(now + index * 1e-6, nano=True)} stderr F {line}\n")
            loop.last[name] = {"exitCode": loop.code, "reason": "Error", "startedAt": rfc3339(now),
                               "finishedAt": rfc3339(now), "containerID": "standin://" + container_id(loop.uid, name, attempt)}
        loop.attempts += 1
        loop.next_at = now + backoff(loop.attempts - 1)

    def status(self, loop, node_ip, now):
        with self.lock:
            restarts = max(loop.attempts - 1, 0)
            statuses = []
            for name in loop.containers:
                status = {"name": name, "image": loop.images.get(name, ""), "imageID": "", "ready": False, "started": False,
                          "restartCount": restarts, "lastState": {}}
                if loop.code is None:
                    status["state"] = {"waiting": {"reason": "CreateContainerConfigError", "message":
                                                   f"annotation {ANNOTATION} must be an exit code 1-255 (STAND-IN)"}}
                elif name not in loop.last:
                    status["state"] = {"waiting": {"reason": "ContainerCreating"}}
                elif loop.done():
                    status["state"] = {"terminated": dict(loop.last[name])}
                else:
                    delay = backoff(restarts)
                    status["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message":
                                                   f"back-off {delay}s restarting failed container={name} "
                                                   f"pod={loop.name}_{loop.namespace}({loop.uid})"}}
                    status["lastState"] = {"terminated": dict(loop.last[name])}
                statuses.append(status)
            names = " ".join(loop.containers)
            stamp = rfc3339(loop.created)
            conditions = [{"type": "PodReadyToStartContainers", "status": "True"}, {"type": "Initialized", "status": "True"},
                          {"type": "Ready", "status": "False", "reason": "ContainersNotReady",
                           "message": f"containers with unready status: [{names}]"},
                          {"type": "ContainersReady", "status": "False", "reason": "ContainersNotReady",
                           "message": f"containers with unready status: [{names}]"},
                          {"type": "PodScheduled", "status": "True"}]
            for cond in conditions:
                cond["lastProbeTime"] = None
                cond["lastTransitionTime"] = stamp
            status = {"phase": "Failed" if loop.done() else "Running", "conditions": conditions, "hostIP": node_ip,
                      "hostIPs": [{"ip": node_ip}], "startTime": stamp, "containerStatuses": statuses}
            if loop.host_network:
                status.update(podIP=node_ip, podIPs=[{"ip": node_ip}])
            return status

    def _event(self, client, loop, now):
        name = f"{loop.name}.{int(loop.created * 1e9):x}"  # the real kubelet's pod name + hex time, one per pod instance
        path = f"/api/v1/namespaces/{loop.namespace}/events"
        loop.event_count += 1
        event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": loop.namespace},
                 "involvedObject": {"kind": "Pod", "namespace": loop.namespace, "name": loop.name, "uid": loop.uid,
                                    "apiVersion": "v1", "fieldPath": f"spec.containers{{{loop.containers[0]}}}"},
                 "reason": "BackOff", "message": "Back-off restarting failed container "
                 f"{loop.containers[0]} in pod {loop.name}_{loop.namespace}({loop.uid})",
                 "type": "Warning", "source": {"component": "kubelet", "host": self.node_name},
                 "firstTimestamp": rfc3339(loop.created), "lastTimestamp": rfc3339(now), "count": loop.event_count}
        try:
            client.post(path, event)
        except Exception:  # pylint: disable=broad-except
            try:
                client.patch(f"{path}/{name}", {"count": loop.event_count, "lastTimestamp": rfc3339(now)})
            except Exception:  # pylint: disable=broad-except
                pass

    # --- /containerLogs ---------------------------------------------------------------------------
    def logs(self, path_and_query, get_pod):
        """(HTTP code, text) for `/containerLogs/<ns>/<pod>/<container>?...`; get_pod(ns, name) -> Pod or None."""
        parsed = urllib.parse.urlsplit(path_and_query)
        parts = parsed.path.split("/")[2:]
        query = urllib.parse.parse_qs(parsed.query)
        if len(parts) != 3 or not all(parts):
            return 404, "404 page not found\n"
        namespace, name, container = parts
        pod = get_pod(namespace, name)
        if pod is None or (pod.get("spec") or {}).get("nodeName") != self.node_name:
            return 404, f'pod "{name}" does not exist\n'
        if container not in [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]:
            return 404, f'container "{container}" not found in pod "{name}"\n'
        if query.get("follow", ["false"])[-1] in ("true", "1"):
            return 501, "follow is not implemented by the stand-in\n"
        previous = query.get("previous", ["false"])[-1] in ("true", "1")
        with self.lock:
            loop = self.loops.get(pod["metadata"].get("uid", ""))
            last = dict(loop.last.get(container) or {}) if loop else None
            attempts = loop.attempts if loop else 0
        if loop is None:
            return self._unplayed(pod, container, previous)
        if not last:
            if previous:
                return 400, f'previous terminated container "{container}" in pod "{name}" not found'
            return 400, f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating'
        path = os.path.join(self.root, loop.dirname, container, f"{attempts - 1}.log")
        try:
            with open(path, encoding="utf-8") as handle:
                lines = handle.read().splitlines()
        except OSError:
            return 400, f'failed to try resolving symlinks in path "{path}": no such file or directory'
        return 200, render_log(lines, query)

    def _unplayed(self, pod, container, previous):
        name = pod["metadata"]["name"]
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        status = next((s for s in statuses if s.get("name") == container), None)
        if status is None:
            return 400, f'container "{container}" in pod "{name}" is not available'
        if previous and not (status.get("lastState") or {}).get("terminated", {}).get("containerID"):
            return 400, f'previous terminated container "{container}" in pod "{name}" not found'
        waiting = (status.get("state") or {}).get("waiting")
        if waiting and not (status.get("lastState") or {}).get("terminated"):
            return 400, f'container "{container}" in pod "{name}" is waiting to start: {waiting.get("reason", "")}'
        return 501, (f'logs of container "{container}" in pod "{name}" are not implemented by the stand-in '
                     "(a static pod's child logs to the kubelet's journal)\n")


def render_log(lines, query):
    """The log text of CRI log lines, with tailLines, limitBytes and timestamps as the kubelet applies them."""
    out = []
    for line in lines:
        stamp, _stream, rest = (line.split(" ", 2) + ["", ""])[:3]
        text = rest.split(" ", 1)[1] if " " in rest else ""
        out.append((stamp + " " if query.get("timestamps", ["false"])[-1] in ("true", "1") else "") + text + "\n")
    tail = query.get("tailLines", [None])[-1]
    if tail is not None:
        try:
            count = int(tail)
        except ValueError:
            count = -1
        if count >= 0:
            out = out[len(out) - count:] if count else []
    text = "".join(out)
    limit = query.get("limitBytes", [None])[-1]
    if limit is not None and limit.isdigit():
        text = text.encode("utf-8")[:int(limit)].decode("utf-8", "ignore")
    return text
