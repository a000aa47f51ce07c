"""STAND-IN: loading a kubeadm config file and filling kubeadm's defaults (v1beta3 read as v1beta4).

The file is checked by ``kubeadm_config.load`` first (strict schema and semantic subset); then the
documents are converted to v1beta4 shapes (extraArgs as lists of {name, value}; v1beta3 timeouts moved
to ``timeouts``) and defaulted the way kubeadm's SetDefaults_* and dynamic defaults do for the fields
the stand-in uses.
"""

import copy
import ipaddress
import re

from . import kubeadm_config
from . import kubeadm_env as env
from .version import KUBERNETES_VERSION, git_version

API_V1BETA4 = "kubeadm.k8s.io/v1beta4"
DEFAULT_CRI_SOCKET = "unix:///var/run/containerd/containerd.sock"
DEFAULT_TOKEN_GROUP = "system:bootstrappers:kubeadm:default-node-token"
CONTROL_PLANE_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
DEFAULT_TIMEOUTS = {
    "controlPlaneComponentHealthCheck": "4m0s",
    "kubeletHealthCheck": "4m0s",
    "kubernetesAPICall": "1m0s",
    "etcdAPICall": "2m0s",
    "tlsBootstrap": "5m0s",
    "discovery": "5m0s",
    "upgradeManifests": "5m0s",
}
NOT_IMPLEMENTED = "not implemented by the stand-in"


class StandinError(Exception):
    """A refusal the CLI prints and exits 1 on."""


def not_implemented(what):
    return StandinError(f"{what}: {NOT_IMPLEMENTED}")


_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def duration_seconds(text):
    """Seconds of a Go duration string ("4m0s", "1h30m", "0")."""
    text = str(text).strip()
    sign = -1 if text.startswith("-") else 1
    text = text.lstrip("+-")
    if text == "0":
        return 0.0
    total, pos = 0.0, 0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise StandinError(f'time: invalid duration "{text}"')
    return sign * total


def go_duration(seconds):
    """Go's Duration.String() for whole seconds: 24h0m0s, 4m0s, 30s."""
    seconds = int(seconds)
    if seconds == 0:
        return "0s"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def args_list(args):
    """[(name, value)] of v1beta4 list or v1beta3 map extraArgs (map sorted by name, as the conversion does)."""
    if not args:
        return []
    if isinstance(args, dict):
        return [(name, str(args[name])) for name in sorted(args)]
    return [(a.get("name"), str(a.get("value", ""))) for a in args]


def args_to_v1beta4(args):
    return [{"name": name, "value": value} for name, value in args_list(args)]


def merge_args(defaults, overrides):
    """kubeadm's argument building: an override replaces the default of the same name; later overrides win; sorted."""
    merged = dict(defaults)
    for name, value in args_list(overrides):
        merged[name] = value
    return [(name, merged[name]) for name in sorted(merged)]


def read_config(path):
    """Kind -> document of a config file, refused with kubeadm_config's messages."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise StandinError(f"unable to read config from {path!r} : open {path}: {exc.strerror.lower()}") from exc
    try:
        return kubeadm_config.load(text, KUBERNETES_VERSION)
    except kubeadm_config.ConfigError as exc:
        raise StandinError("\n".join(exc.errors)) from exc


def _to_v1beta4(doc):
    """A kubeadm document converted to v1beta4 shapes (a copy)."""
    doc = copy.deepcopy(doc or {})
    old = doc.get("apiVersion") == "kubeadm.k8s.io/v1beta3"
    if doc.get("apiVersion", "").startswith("kubeadm.k8s.io/"):
        doc["apiVersion"] = API_V1BETA4
    if not old:
        return doc
    for component in ("apiServer", "controllerManager", "scheduler"):
        section = doc.get(component)
        if isinstance(section, dict) and "extraArgs" in section:
            section["extraArgs"] = args_to_v1beta4(section["extraArgs"])
    local = (doc.get("etcd") or {}).get("local")
    if isinstance(local, dict) and "extraArgs" in local:
        local["extraArgs"] = args_to_v1beta4(local["extraArgs"])
    nro = doc.get("nodeRegistration")
    if isinstance(nro, dict) and "kubeletExtraArgs" in nro:
        nro["kubeletExtraArgs"] = args_to_v1beta4(nro["kubeletExtraArgs"])
    api_server = doc.get("apiServer")
    if isinstance(api_server, dict) and "timeoutForControlPlane" in api_server:
        doc.setdefault("_timeouts", {})["controlPlaneComponentHealthCheck"] = api_server.pop("timeoutForControlPlane")
    discovery = doc.get("discovery")
    if isinstance(discovery, dict) and "timeout" in discovery:
        doc.setdefault("timeouts", {})["discovery"] = discovery.pop("timeout")
    return doc


def _default_node_registration(nro, control_plane):
    nro = nro or {}
    nro.setdefault("name", env.hostname())
    nro["name"] = nro["name"].lower()
    nro.setdefault("criSocket", DEFAULT_CRI_SOCKET)
    nro.setdefault("imagePullPolicy", "IfNotPresent")
    if nro.get("taints") is None and control_plane:
        nro["taints"] = [dict(CONTROL_PLANE_TAINT)]
    nro.setdefault("taints", [])
    nro["kubeletExtraArgs"] = args_to_v1beta4(nro.get("kubeletExtraArgs"))
    return nro


def default_cluster(cluster):
    """ClusterConfiguration with kubeadm's defaults (v1beta4 shapes)."""
    cluster = _to_v1beta4(cluster)
    cluster.pop("_timeouts", None)
    cluster.setdefault("apiVersion", API_V1BETA4)
    cluster["kind"] = "ClusterConfiguration"
    version = cluster.get("kubernetesVersion") or git_version()
    if not version.startswith("v"):
        version = "v" + version
    cluster["kubernetesVersion"] = version
    networking = cluster.setdefault("networking", {})
    networking.setdefault("serviceSubnet", "10.96.0.0/12")
    networking.setdefault("dnsDomain", "cluster.local")
    cluster.setdefault("certificatesDir", "/etc/kubernetes/pki")
    cluster.setdefault("imageRepository", "registry.k8s.io")
    cluster.setdefault("clusterName", "kubernetes")
    cluster.setdefault("encryptionAlgorithm", "RSA-2048")
    cluster.setdefault("certificateValidityPeriod", "8760h0m0s")
    cluster.setdefault("caCertificateValidityPeriod", "87600h0m0s")
    cluster.setdefault("controlPlaneEndpoint", "")
    for component in ("apiServer", "controllerManager", "scheduler"):
        section = cluster.setdefault(component, {})
        section["extraArgs"] = args_to_v1beta4(section.get("extraArgs"))
    cluster.setdefault("dns", {})
    cluster.setdefault("proxy", {})
    etcd = cluster.setdefault("etcd", {})
    if not etcd.get("external") and "local" not in etcd:
        etcd["local"] = {"dataDir": "/var/lib/etcd"}
    return cluster


def check_version(cluster):
    if cluster["kubernetesVersion"] != git_version():
        raise not_implemented(f"kubernetesVersion {cluster['kubernetesVersion']} (the stand-in deploys only {git_version()})")


def external_etcd(cluster):
    return (cluster.get("etcd") or {}).get("external")


def init_configuration(kinds):
    """(InitConfiguration, ClusterConfiguration, KubeletConfiguration or None) with defaults."""
    if "JoinConfiguration" in kinds and "InitConfiguration" not in kinds:
        raise StandinError("expected InitConfiguration and/or ClusterConfiguration; got JoinConfiguration")
    raw_init = kinds.get("InitConfiguration") or {}
    init = _to_v1beta4(raw_init)
    init.setdefault("apiVersion", API_V1BETA4)
    init["kind"] = "InitConfiguration"
    cluster_raw = kinds.get("ClusterConfiguration") or {}
    legacy_timeout = _to_v1beta4(cluster_raw).get("_timeouts", {})
    cluster = default_cluster(cluster_raw)
    init["nodeRegistration"] = _default_node_registration(init.get("nodeRegistration"), control_plane=True)
    endpoint = init.setdefault("localAPIEndpoint", {})
    endpoint.setdefault("advertiseAddress", env.default_address())
    endpoint.setdefault("bindPort", 6443)
    timeouts = dict(DEFAULT_TIMEOUTS, **legacy_timeout)
    timeouts.update(init.get("timeouts") or {})
    init["timeouts"] = timeouts
    if "bootstrapTokens" not in init:
        init["bootstrapTokens"] = [{}]
    for token in init["bootstrapTokens"]:
        token.setdefault("groups", [DEFAULT_TOKEN_GROUP])
        token.setdefault("usages", ["signing", "authentication"])
        if "expires" not in token:
            token.setdefault("ttl", "24h0m0s")
    return init, cluster, kinds.get("KubeletConfiguration")


def join_configuration(kinds):
    """JoinConfiguration with defaults (v1beta4 shapes)."""
    if "JoinConfiguration" not in kinds:
        raise StandinError("no JoinConfiguration kind was found in the YAML file")
    join = _to_v1beta4(kinds["JoinConfiguration"])
    control_plane = join.get("controlPlane")
    join["nodeRegistration"] = _default_node_registration(join.get("nodeRegistration"), control_plane=control_plane is not None)
    join.setdefault("caCertPath", "/etc/kubernetes/pki/ca.crt")
    discovery = join.setdefault("discovery", {})
    if discovery.get("file"):
        raise not_implemented("file discovery (discovery.file)")
    token = discovery.get("bootstrapToken") or {}
    discovery.setdefault("tlsBootstrapToken", token.get("token"))
    timeouts = dict(DEFAULT_TIMEOUTS)
    timeouts.update(join.get("timeouts") or {})
    join["timeouts"] = timeouts
    if control_plane is not None:
        endpoint = control_plane.setdefault("localAPIEndpoint", {})
        endpoint.setdefault("advertiseAddress", env.default_address())
        endpoint.setdefault("bindPort", 6443)
    return join


def service_ip(subnet, index=1):
    """The index-th address of the (first) service subnet: 10.96.0.1, 10.96.0.10."""
    network = ipaddress.ip_network(subnet.split(",")[0].strip(), strict=False)
    return str(network.network_address + index)


def endpoint_host_port(endpoint, default_port=6443):
    """(host, port) of "host", "host:port", "[v6]:port"."""
    if endpoint.startswith("["):
        host, _sep, rest = endpoint[1:].partition("]")
        return host, int(rest.lstrip(":") or default_port)
    if endpoint.count(":") == 1:
        host, port = endpoint.split(":")
        return host, int(port)
    return endpoint, default_port


def join_host_port(host, port):
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def control_plane_server(cluster, endpoint):
    """https URL of controlPlaneEndpoint if set, else of the local API endpoint."""
    if cluster.get("controlPlaneEndpoint"):
        host, port = endpoint_host_port(cluster["controlPlaneEndpoint"], endpoint["bindPort"])
        return "https://" + join_host_port(host, port)
    return local_server(endpoint)


def local_server(endpoint):
    return "https://" + join_host_port(endpoint["advertiseAddress"], endpoint["bindPort"])
