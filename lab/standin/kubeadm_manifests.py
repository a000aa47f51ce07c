"""STAND-IN: the static Pod manifests and kubelet files the kubeadm stand-in writes.

Shapes follow kubeadm 1.32: v1 Pods with hostNetwork, kubeadm's default flags (sorted, ``--name=value``)
merged with ``extraArgs`` (an override replaces the default of the same name), probes, volumes;
``/var/lib/kubelet/config.yaml`` from the user's KubeletConfiguration plus kubeadm's defaults;
``/var/lib/kubelet/kubeadm-flags.env``.  Node paths are written through ``kubeadm_env.host`` so the
files stay consistent inside a test root.
"""

import copy
import os
import posixpath
import re

import yaml

from . import kubeadm_defaults as defaults
from . import kubeadm_env as env

MANIFESTS_DIR = "/etc/kubernetes/manifests"
KUBELET_DIR = "/var/lib/kubelet"
KUBELET_CONFIG = KUBELET_DIR + "/config.yaml"
KUBELET_FLAGS_ENV = KUBELET_DIR + "/kubeadm-flags.env"
COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
CA_DIRS = [("ca-certs", "/etc/ssl/certs"), ("etc-ca-certificates", "/etc/ca-certificates"),
           ("usr-local-share-ca-certificates", "/usr/local/share/ca-certificates"),
           ("usr-share-ca-certificates", "/usr/share/ca-certificates")]


def pki(cluster, name):
    return env.host(posixpath.join(cluster["certificatesDir"], name))


def image(cluster, component):
    return f"{cluster['imageRepository']}/{component}:{cluster['kubernetesVersion']}"


def _probe(host, port, path, threshold, delay=10, period=10):
    probe = {"failureThreshold": threshold,
             "httpGet": {"host": host, "path": path, "port": port, "scheme": "HTTPS"},
             "periodSeconds": period, "timeoutSeconds": 15}
    if delay:
        probe["initialDelaySeconds"] = delay
    return probe


def _volumes(entries):
    mounts, volumes = [], []
    for name, path, kind, read_only in entries:
        mount = {"mountPath": env.host(path), "name": name}
        if read_only:
            mount["readOnly"] = True
        mounts.append(mount)
        volumes.append({"hostPath": {"path": env.host(path), "type": kind}, "name": name})
    return sorted(mounts, key=lambda m: m["name"]), sorted(volumes, key=lambda v: v["name"])


def _pod(component, cluster, command, probes, cpu, volume_entries, annotations=None):
    mounts, volumes = _volumes(volume_entries)
    container = {"command": [component] + [f"--{name}={value}" for name, value in command],
                 "image": image(cluster, component), "imagePullPolicy": "IfNotPresent", "name": component,
                 "resources": {"requests": {"cpu": cpu}}, "volumeMounts": mounts}
    container.update(probes)
    metadata = {"creationTimestamp": None, "labels": {"component": component, "tier": "control-plane"},
                "name": component, "namespace": "kube-system"}
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata,
            "spec": {"containers": [container], "hostNetwork": True, "priority": 2000001000,
                     "priorityClassName": "system-node-critical",
                     "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}, "volumes": volumes},
            "status": {}}


def _ca_volumes():
    return [(name, path, "DirectoryOrCreate", True) for name, path in CA_DIRS]


def apiserver_flags(cluster, endpoint):
    domain = cluster["networking"]["dnsDomain"]
    flags = {
        "advertise-address": endpoint["advertiseAddress"],
        "allow-privileged": "true",
        "authorization-mode": "Node,RBAC",
        "client-ca-file": pki(cluster, "ca.crt"),
        "enable-admission-plugins": "NodeRestriction",
        "enable-bootstrap-token-auth": "true",
        "kubelet-client-certificate": pki(cluster, "apiserver-kubelet-client.crt"),
        "kubelet-client-key": pki(cluster, "apiserver-kubelet-client.key"),
        "kubelet-preferred-address-types": "InternalIP,ExternalIP,Hostname",
        "proxy-client-cert-file": pki(cluster, "front-proxy-client.crt"),
        "proxy-client-key-file": pki(cluster, "front-proxy-client.key"),
        "requestheader-allowed-names": "front-proxy-client",
        "requestheader-client-ca-file": pki(cluster, "front-proxy-ca.crt"),
        "requestheader-extra-headers-prefix": "X-Remote-Extra-",
        "requestheader-group-headers": "X-Remote-Group",
        "requestheader-username-headers": "X-Remote-User",
        "secure-port": str(endpoint["bindPort"]),
        "service-account-issuer": f"https://kubernetes.default.svc.{domain}",
        "service-account-key-file": pki(cluster, "sa.pub"),
        "service-account-signing-key-file": pki(cluster, "sa.key"),
        "service-cluster-ip-range": cluster["networking"]["serviceSubnet"],
        "tls-cert-file": pki(cluster, "apiserver.crt"),
        "tls-private-key-file": pki(cluster, "apiserver.key"),
    }
    external = defaults.external_etcd(cluster)
    if not external:
        raise defaults.not_implemented("stacked etcd")
    flags["etcd-servers"] = ",".join(external.get("endpoints") or [])
    for flag, key in (("etcd-cafile", "caFile"), ("etcd-certfile", "certFile"), ("etcd-keyfile", "keyFile")):
        if external.get(key):
            flags[flag] = env.host(external[key])
    return defaults.merge_args(flags, cluster["apiServer"].get("extraArgs"))


def apiserver_pod(cluster, endpoint):
    address, port = endpoint["advertiseAddress"], endpoint["bindPort"]
    probes = {"livenessProbe": _probe(address, port, "/livez", 8),
              "readinessProbe": _probe(address, port, "/readyz", 3, delay=0, period=1),
              "startupProbe": _probe(address, port, "/livez", 24)}
    entries = _ca_volumes() + [("k8s-certs", cluster["certificatesDir"], "DirectoryOrCreate", True)]
    external = defaults.external_etcd(cluster) or {}
    etcd_dirs = []
    for key in ("caFile", "certFile", "keyFile"):
        if external.get(key):
            directory = posixpath.dirname(external[key])
            inside = [d for _n, d in CA_DIRS] + [cluster["certificatesDir"]]
            if directory not in etcd_dirs and not any(directory == d or directory.startswith(d + "/") for d in inside):
                etcd_dirs.append(directory)
    entries += [(f"etcd-certs-{i}", d, "DirectoryOrCreate", True) for i, d in enumerate(etcd_dirs)]
    annotations = {"kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint": defaults.join_host_port(address, port)}
    return _pod("kube-apiserver", cluster, apiserver_flags(cluster, endpoint), probes, "250m", entries, annotations)


def controller_manager_pod(cluster):
    kubeconfig = env.host("/etc/kubernetes/controller-manager.conf")
    flags = {
        "authentication-kubeconfig": kubeconfig,
        "authorization-kubeconfig": kubeconfig,
        "bind-address": "127.0.0.1",
        "client-ca-file": pki(cluster, "ca.crt"),
        "cluster-name": cluster["clusterName"],
        "cluster-signing-cert-file": pki(cluster, "ca.crt"),
        "cluster-signing-key-file": pki(cluster, "ca.key"),
        "controllers": "*,bootstrapsigner,tokencleaner",
        "kubeconfig": kubeconfig,
        "leader-elect": "true",
        "requestheader-client-ca-file": pki(cluster, "front-proxy-ca.crt"),
        "root-ca-file": pki(cluster, "ca.crt"),
        "service-account-private-key-file": pki(cluster, "sa.key"),
        "service-cluster-ip-range": cluster["networking"]["serviceSubnet"],
        "use-service-account-credentials": "true",
    }
    if cluster["networking"].get("podSubnet"):
        flags["allocate-node-cidrs"] = "true"
        flags["cluster-cidr"] = cluster["networking"]["podSubnet"]
    probes = {"livenessProbe": _probe("127.0.0.1", 10257, "/healthz", 8),
              "startupProbe": _probe("127.0.0.1", 10257, "/healthz", 24)}
    entries = _ca_volumes() + [
        ("flexvolume-dir", "/usr/libexec/kubernetes/kubelet-plugins/volume/exec", "DirectoryOrCreate", False),
        ("k8s-certs", cluster["certificatesDir"], "DirectoryOrCreate", True),
        ("kubeconfig", "/etc/kubernetes/controller-manager.conf", "FileOrCreate", True)]
    return _pod("kube-controller-manager", cluster, defaults.merge_args(flags, cluster["controllerManager"].get("extraArgs")),
                probes, "200m", entries)


def scheduler_pod(cluster):
    kubeconfig = env.host("/etc/kubernetes/scheduler.conf")
    flags = {"authentication-kubeconfig": kubeconfig, "authorization-kubeconfig": kubeconfig,
             "bind-address": "127.0.0.1", "kubeconfig": kubeconfig, "leader-elect": "true"}
    probes = {"livenessProbe": _probe("127.0.0.1", 10259, "/livez", 8),
              "readinessProbe": _probe("127.0.0.1", 10259, "/readyz", 3, delay=0, period=1),
              "startupProbe": _probe("127.0.0.1", 10259, "/livez", 24)}
    entries = [("kubeconfig", "/etc/kubernetes/scheduler.conf", "FileOrCreate", True)]
    return _pod("kube-scheduler", cluster, defaults.merge_args(flags, cluster["scheduler"].get("extraArgs")),
                probes, "100m", entries)


def dump(obj):
    return yaml.safe_dump(obj, default_flow_style=False, sort_keys=True)


# kubeadm's patches directory: files named target[suffix][+patchtype].(json|yaml), applied in name order.
PATCH_TARGETS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubeletconfiguration",
                 "corednsdeployment")
PATCH_FILE = re.compile(r"^(" + "|".join(re.escape(t) for t in PATCH_TARGETS)
                        + r")([^+]*)(?:\+(strategic|merge|json))?\.(json|yaml)$")
PATCH_MIME = {"strategic": "application/strategic-merge-patch+json", "merge": "application/merge-patch+json",
              "json": "application/json-patch+json"}


def read_patches(directory):
    """target -> [(patch type, patch, file name)] of a kubeadm patches directory (a node path), in name order."""
    if not directory:
        return {}
    real = env.host(directory)
    if not os.path.isdir(real):
        raise defaults.StandinError(f'could not list patch files for path "{directory}": open {directory}: '
                                    "no such file or directory")
    out = {}
    for name in sorted(os.listdir(real)):
        match = PATCH_FILE.match(name)
        if not match:
            env.out(f'[patches] Ignored file "{name}" in the patches directory: it does not match '
                    "target[suffix][+patchtype].extension with a known target")
            continue
        with open(os.path.join(real, name), encoding="utf-8") as handle:
            try:
                patch = yaml.safe_load(handle.read())
            except yaml.YAMLError as exc:
                raise defaults.StandinError(f'could not parse patch file "{posixpath.join(directory, name)}": {exc}')
        out.setdefault(match.group(1), []).append((match.group(3) or "strategic", patch, name))
    return out


def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise defaults.StandinError(f"JSON patch path {path!r} is not a JSON pointer")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def json_patch(doc, ops):
    """RFC 6902 add, remove, replace and test (what kubeadm patches use); the result is a new object."""
    doc = copy.deepcopy(doc)
    if not isinstance(ops, list):
        raise defaults.StandinError("a JSON patch must be a list of operations")
    for op in ops:
        kind, parts = op.get("op"), _pointer(op.get("path", ""))
        if kind not in ("add", "remove", "replace", "test") or not parts:
            raise defaults.StandinError(f"JSON patch operation {op!r}: not implemented by the stand-in")
        parent = doc
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        last = parts[-1]
        if isinstance(parent, list):
            index = len(parent) if last == "-" else int(last)
            if kind == "add":
                parent.insert(index, copy.deepcopy(op["value"]))
            elif kind == "remove":
                del parent[index]
            elif kind == "replace":
                parent[index] = copy.deepcopy(op["value"])
            elif parent[index] != op["value"]:
                raise defaults.StandinError(f"JSON patch test failed at {op['path']}")
        else:
            if kind == "add" or kind == "replace":
                if kind == "replace" and last not in parent:
                    raise defaults.StandinError(f"JSON patch replace: missing path {op['path']}")
                parent[last] = copy.deepcopy(op["value"])
            elif kind == "remove":
                del parent[last]
            elif parent.get(last) != op["value"]:
                raise defaults.StandinError(f"JSON patch test failed at {op['path']}")
    return doc


def merge_patch(doc, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def apply_patches(target, obj, patches):
    """obj with the patches of target applied, saying so as kubeadm does."""
    for kind, patch, name in patches.get(target, []):
        if kind == "json":
            obj = json_patch(obj, patch)
        elif kind == "merge":
            obj = merge_patch(obj, patch)
        else:
            raise defaults.not_implemented(f"strategic merge patches ({name}); write it as +json or +merge")
        env.out(f'[patches] Applied patch of type "{PATCH_MIME[kind]}" to target "{target}"')
    return obj


def write_manifests(cluster, endpoint, patches_dir=None):
    """Write the three control-plane static Pods, with the patches of patches_dir; returns their node paths."""
    env.out(f'[control-plane] Using manifest folder "{MANIFESTS_DIR}"')
    patches = read_patches(patches_dir)
    pods = {"kube-apiserver": apiserver_pod(cluster, endpoint),
            "kube-controller-manager": controller_manager_pod(cluster),
            "kube-scheduler": scheduler_pod(cluster)}
    pods = {name: apply_patches(name, pod, patches) for name, pod in pods.items()}
    paths = []
    for component in COMPONENTS:
        env.out(f'[control-plane] Creating static Pod manifest for "{component}"')
        path = f"{MANIFESTS_DIR}/{component}.yaml"
        env.write_file(path, dump(pods[component]), mode=0o600)
        paths.append(path)
    return paths


def _deep_merge(base, override):
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolv_conf():
    """kubeadm points the kubelet at systemd-resolved's upstream file when that service runs."""
    if os.path.exists(env.host("/run/systemd/resolve/resolv.conf")):
        return "/run/systemd/resolve/resolv.conf"
    return "/etc/resolv.conf"


def kubelet_configuration(cluster, user_doc=None):
    """The KubeletConfiguration kubeadm stores (kube-system/kubelet-config) and writes: user fields win."""
    base = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"cacheTTL": "0s", "enabled": True},
                           "x509": {"clientCAFile": posixpath.join(cluster["certificatesDir"], "ca.crt")}},
        "authorization": {"mode": "Webhook", "webhook": {"cacheAuthorizedTTL": "0s", "cacheUnauthorizedTTL": "0s"}},
        "cgroupDriver": "systemd",
        "clusterDNS": [defaults.service_ip(cluster["networking"]["serviceSubnet"], 10)],
        "clusterDomain": cluster["networking"]["dnsDomain"],
        "containerRuntimeEndpoint": "",
        "cpuManagerReconcilePeriod": "0s",
        "evictionPressureTransitionPeriod": "0s",
        "fileCheckFrequency": "0s",
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        "httpCheckFrequency": "0s",
        "imageMaximumGCAge": "0s",
        "imageMinimumGCAge": "0s",
        "logging": {"flushFrequency": 0, "options": {"json": {"infoBufferSize": "0"}, "text": {"infoBufferSize": "0"}},
                    "verbosity": 0},
        "memorySwap": {},
        "nodeStatusReportFrequency": "0s",
        "nodeStatusUpdateFrequency": "0s",
        "resolvConf": resolv_conf(),
        "rotateCertificates": True,
        "runtimeRequestTimeout": "0s",
        "shutdownGracePeriod": "0s",
        "shutdownGracePeriodCriticalPods": "0s",
        "staticPodPath": MANIFESTS_DIR,
        "streamingConnectionIdleTimeout": "0s",
        "syncFrequency": "0s",
        "volumeStatsAggPeriod": "0s",
    }
    user = {k: v for k, v in (user_doc or {}).items() if k not in ("apiVersion", "kind")}
    return _deep_merge(base, user)


def taint_string(taint):
    key = taint["key"]
    if taint.get("value"):
        key += "=" + taint["value"]
    return f"{key}:{taint.get('effect', '')}"


def kubelet_flags(nro, register_taints):
    """KUBELET_KUBEADM_ARGS of a nodeRegistration (kubeadm's buildKubeletArgMap)."""
    flags = {"container-runtime-endpoint": nro["criSocket"]}
    if nro["name"] != env.hostname():
        flags["hostname-override"] = nro["name"]
    if register_taints and nro.get("taints"):
        flags["register-with-taints"] = ",".join(taint_string(t) for t in nro["taints"])
    return defaults.merge_args(flags, nro.get("kubeletExtraArgs"))


def write_kubelet_files(kubelet_config, nro, register_taints):
    """config.yaml (a dict or the YAML text of kubelet-config) and kubeadm-flags.env."""
    text = kubelet_config if isinstance(kubelet_config, str) else dump(kubelet_config)
    env.out(f'[kubelet-start] Writing kubelet configuration to file "{KUBELET_CONFIG}"')
    env.write_file(KUBELET_CONFIG, text, mode=0o644)
    flags = " ".join(f"--{name}={value}" for name, value in kubelet_flags(nro, register_taints))
    env.out(f'[kubelet-start] Writing kubelet environment file with flags to file "{KUBELET_FLAGS_ENV}"')
    env.write_file(KUBELET_FLAGS_ENV, f'KUBELET_KUBEADM_ARGS="{flags}"\n', mode=0o644)


def start_kubelet():
    env.out("[kubelet-start] Starting the kubelet")
    rc, output = env.systemctl("restart", "kubelet")
    if rc != 0:
        env.err(f"\t[WARNING]: Couldn't restart kubelet: {output.strip()}")
