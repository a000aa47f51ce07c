"""STAND-IN kubelet: the Node object, its status (Ready from `crictl info` and /etc/cni/net.d) and the
node Lease, built like the real kubelet 1.32 builds them.  The capacity it reports is the host's
(cpu count, MemTotal), the rest of the status is what the lab needs, nothing is measured.

Also the CNI configuration that calico-node's install-cni init container writes (the STAND-IN of that
container: no pod runs; see Kubelet.install_cni in kubelet.py)."""

import datetime
import glob
import json
import os
import tempfile
import platform
import socket
import struct

from .version import git_version

READY_MESSAGE = "kubelet is posting ready status"
NETWORK_NOT_READY = ("container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady "
                     "message:Network plugin returns error: cni plugin not initialized")
RUNTIME_DOWN = "container runtime is down, PLEG is not healthy: pleg has yet to be successful"


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def node_name(hostname_override=None, hostname=None):
    """nodeutil.GetHostname: the override or the hostname, trimmed and lower-cased."""
    name = (hostname_override or hostname or socket.gethostname()).strip()
    if not name:
        raise ValueError("empty hostname is invalid")
    return name.lower()


def go_arch(machine=None):
    machine = machine or platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x"}.get(machine, machine)


def default_labels(name, arch=None):
    arch = arch or go_arch()
    return {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": arch,
            "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": arch}


def default_route_ip(route_file="/proc/net/route"):
    """The source address of the default route (what the kubelet picks without --node-ip)."""
    try:
        with open(route_file, encoding="ascii") as handle:
            for line in handle.readlines()[1:]:
                fields = line.split()
                if len(fields) > 2 and fields[1] == "00000000":
                    gateway = socket.inet_ntoa(struct.pack("<L", int(fields[2], 16)))
                    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                        sock.connect((gateway if gateway != "0.0.0.0" else "192.0.2.1", 9))
                        return sock.getsockname()[0]
    except (OSError, ValueError):
        pass
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


def os_image(path="/etc/os-release"):
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def _read(path, default=""):
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read().strip()
    except OSError:
        return default


def capacity(max_pods=110):
    mem_kib = 0
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    try:
        stats = os.statvfs("/")
        storage = stats.f_blocks * stats.f_frsize // 1024
    except OSError:
        storage = 0
    return {"cpu": str(os.cpu_count() or 1), "memory": f"{mem_kib}Ki", "ephemeral-storage": f"{storage}Ki",
            "hugepages-1Gi": "0", "hugepages-2Mi": "0", "pods": str(max_pods)}


def node_info(runtime_version):
    return {
        "machineID": _read("/etc/machine-id"), "systemUUID": _read("/sys/class/dmi/id/product_uuid"),
        "bootID": _read("/proc/sys/kernel/random/boot_id"), "kernelVersion": platform.release(),
        "osImage": os_image(), "containerRuntimeVersion": runtime_version, "kubeletVersion": git_version(),
        "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": go_arch(),
    }


def cni_configured(conf_dir):
    return bool(glob.glob(os.path.join(conf_dir, "*.conf")) or glob.glob(os.path.join(conf_dir, "*.conflist")))


CALICO_CONFLIST = "10-calico.conflist"
CALICO_MTU_VARIABLES = ("FELIX_IPINIPMTU", "FELIX_VXLANMTU")


def calico_mtu(daemonset):
    """The pod network MTU calico-node's install-cni puts in the CNI configuration: the calico-node container's
    FELIX_IPINIPMTU / FELIX_VXLANMTU, or 0 (Calico's "auto-detect")."""
    containers = (((daemonset.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    for container in containers:
        if container.get("name") != "calico-node":
            continue
        env = {e.get("name"): e.get("value") for e in container.get("env") or () if "value" in e}
        for name in CALICO_MTU_VARIABLES:
            try:
                return int(env[name])
            except (KeyError, TypeError, ValueError):
                continue
    return 0


def calico_conflist(node, mtu=0):
    """The CNI configuration list (JSON) calico-node's install-cni writes for the Kubernetes datastore."""
    return {
        "name": "k8s-pod-network",
        "cniVersion": "0.3.1",
        "plugins": [
            {"type": "calico", "log_level": "info", "datastore_type": "kubernetes", "nodename": node, "mtu": mtu,
             "ipam": {"type": "calico-ipam", "assign_ipv4": "true"}, "policy": {"type": "k8s"},
             "kubernetes": {"kubeconfig": "/etc/cni/net.d/calico-kubeconfig"}},
            {"type": "bandwidth", "capabilities": {"bandwidth": True}},
            {"type": "portmap", "snat": True, "capabilities": {"portMappings": True}},
        ],
    }


def write_atomically(path, data, mode=0o644):
    """Write data to path through a temporary file in the same directory and a rename (readers never see half)."""
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o755, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_calico_conflist(conf_dir, node, mtu=0):
    """<conf_dir>/10-calico.conflist, mode 0644, written atomically; returns its path."""
    path = os.path.join(conf_dir, CALICO_CONFLIST)
    write_atomically(path, (json.dumps(calico_conflist(node, mtu), indent=2) + "\n").encode("utf-8"))
    return path


def ready_condition(runtime_ok, network_ok):
    """(status, reason, message) of the Ready condition."""
    if not runtime_ok:
        return "False", "KubeletNotReady", RUNTIME_DOWN
    if not network_ok:
        return "False", "KubeletNotReady", NETWORK_NOT_READY
    return "True", "KubeletReady", READY_MESSAGE


class NodeStatus:
    """Keeps condition transition times across heartbeats."""

    PRESSURE = (("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"))

    def __init__(self):
        self.transitions = {}

    def conditions(self, runtime_ok, network_ok):
        stamp = now_rfc3339()
        result = []
        wanted = [(t, "False", r, m) for t, r, m in self.PRESSURE] + [("Ready",) + ready_condition(runtime_ok, network_ok)]
        for ctype, status, reason, message in wanted:
            previous = self.transitions.get(ctype)
            if previous is None or previous[0] != status:
                self.transitions[ctype] = (status, stamp)
            result.append({"type": ctype, "status": status, "reason": reason, "message": message,
                           "lastHeartbeatTime": stamp, "lastTransitionTime": self.transitions[ctype][1]})
        return result


def build_status(conditions, node_ip, name, runtime_version, max_pods=110, port=10250):
    cap = capacity(max_pods)
    return {
        "capacity": cap, "allocatable": dict(cap), "conditions": conditions,
        "addresses": [{"type": "InternalIP", "address": ip} for ip in node_ip.split(",") if ip] + [{"type": "Hostname", "address": name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
        "nodeInfo": node_info(runtime_version),
    }


def build_node(name, labels, taints, provider_id=""):
    """The Node the kubelet POSTs at registration (status goes through the status subresource)."""
    node = {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": dict(labels),
                     "annotations": {"volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
        "spec": {},
    }
    if taints:
        node["spec"]["taints"] = [dict(t) for t in taints]
    if provider_id:
        node["spec"]["providerID"] = provider_id
    return node


def reconcile_existing(existing, wanted_defaults):
    """The merge patch (or None) updating an existing Node's default labels, as updateDefaultLabels does.
    Like the real kubelet, --node-labels and taints are applied only when the Node is first created."""
    labels = (existing.get("metadata") or {}).get("labels") or {}
    changes = {k: v for k, v in wanted_defaults.items() if labels.get(k) != v}
    if not changes:
        return None
    return {"metadata": {"labels": changes}}


def build_lease(name, node_uid, duration=40, existing=None):
    lease = existing or {
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": name, "namespace": "kube-node-lease",
                     "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": name, "uid": node_uid}]},
        "spec": {},
    }
    lease["spec"]["holderIdentity"] = name
    lease["spec"]["leaseDurationSeconds"] = duration
    lease["spec"]["renewTime"] = now_micro()
    return lease
