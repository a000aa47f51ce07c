"""STAND-IN kube-apiserver: what the tigera operator (tigera/operator, run from the `tigera-operator` Deployment)
would make of an `operator.tigera.io/v1` Installation.  Pure functions; the loop that applies them is
`Controllers.tigera_operator` (controllers.py).  No operator and no Calico pod runs: the stand-in derives the
`calico-system/calico-node` DaemonSet, validates the Installation as far as the operator would refuse it
(IP pools, the kubeadm pod subnet, encapsulation against BGP), and writes the Installation's status.

Only the operator releases of `OPERATOR_RELEASES` are known (an operator image tag pins the Calico release it
installs); any other tag makes the Installation Degraded.  Calico Enterprise, non-Calico CNI or IPAM plugins,
IPv6 pools and the BPF/VPP dataplanes are "not implemented by the stand-in" (also Degraded).
"""

import ipaddress

import yaml

OPERATOR_RELEASES = {"v1.42.4": "v3.32.1"}  # tigera/operator image tag -> the Calico release it installs
OPERATOR_NAMESPACE = "tigera-operator"
OPERATOR_DEPLOYMENT = "tigera-operator"
NAMESPACE = "calico-system"
DAEMONSET = "calico-node"
SERVICE_ACCOUNT = "calico-node"
DEFAULT_REGISTRY = "quay.io/"
DEFAULT_IMAGE_PATH = "calico"
DEFAULT_POOL_CIDR = "192.168.0.0/16"
HOST_MTU = 1500  # STAND-IN: the host interface MTU assumed for Calico's MTU auto-detection
OVERHEAD = {"IPIP": 20, "IPIPCrossSubnet": 20, "VXLAN": 50, "VXLANCrossSubnet": 50, "None": 0}
ENCAPSULATION_MODES = {  # -> (CALICO_IPV4POOL_IPIP, CALICO_IPV4POOL_VXLAN)
    "IPIP": ("Always", "Never"), "IPIPCrossSubnet": ("CrossSubnet", "Never"), "VXLAN": ("Never", "Always"),
    "VXLANCrossSubnet": ("Never", "CrossSubnet"), "None": ("Never", "Never"),
}
AUTODETECTION = ("firstFound", "kubernetes", "interface", "skipInterface", "canReach", "cidrs")
STANDIN_ANNOTATION = "ironstone.k8s/stand-in"


class ConfigError(Exception):
    """The Installation cannot be rendered: the operator would report it Degraded with this reason and message."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason
        self.message = message


def not_implemented(what):
    return ConfigError("InvalidConfigurationError", f"STAND-IN: {what} is not implemented by the stand-in")


def operator_image(deployment):
    """(image, tag) of the operator Deployment's `tigera-operator` container (else its first container)."""
    containers = (((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    chosen = next((c for c in containers if c.get("name") == OPERATOR_DEPLOYMENT), containers[0] if containers else {})
    image = chosen.get("image") or ""
    reference = image.split("@", 1)[0]
    last = reference.rsplit("/", 1)[-1]
    tag = last.rsplit(":", 1)[1] if ":" in last else "latest"
    return image, tag


def deployment_available(deployment):
    return any(c.get("type") == "Available" and c.get("status") == "True"
               for c in (deployment.get("status") or {}).get("conditions") or ())


def platform_cidrs(kubeadm_config):
    """The pod subnets of kubeadm's ClusterConfiguration (`kube-system/kubeadm-config`), as the operator reads them."""
    if not kubeadm_config:
        return []
    try:
        cluster = yaml.safe_load((kubeadm_config.get("data") or {}).get("ClusterConfiguration") or "") or {}
    except yaml.YAMLError:
        return []
    subnet = ((cluster.get("networking") or {}) if isinstance(cluster, dict) else {}).get("podSubnet") or ""
    return [part.strip() for part in str(subnet).split(",") if part.strip()]


def _network(cidr):
    """net.ParseCIDR: an address and a prefix length (host bits may be set); ValueError otherwise."""
    if "/" not in str(cidr):
        raise ValueError(f"invalid CIDR address: {cidr}")
    return ipaddress.ip_network(cidr, strict=False)


def _within(outer, inner):
    """cidrWithinCidr: the pool's network address is in the platform CIDR and the pool is not larger."""
    try:
        container, pool = _network(outer), _network(inner)
    except ValueError:
        return False
    return pool.version == container.version and pool.network_address in container and pool.prefixlen >= container.prefixlen


def _platform_pools(platform):
    pools = []
    for cidr in platform:
        try:
            if _network(cidr).version == 4:
                pools.append({"cidr": cidr, "name": "default-ipv4-ippool" if not pools else ""})
        except ValueError:
            continue
    return pools


def _pool_name(cidr):
    net = _network(cidr)
    return f"{net.network_address}-{net.prefixlen}"


def _pools(network, platform):
    """The IPv4 pools the operator would manage, defaulted, after its platform and pool checks."""
    declared = network.get("ipPools")
    if declared is None:
        pools = _platform_pools(platform) or [{"cidr": DEFAULT_POOL_CIDR, "name": "default-ipv4-ippool"}]
    else:
        pools = [dict(p) for p in declared]
        for pool in pools:
            if platform and not any(_within(c, pool.get("cidr", "")) for c in platform):
                raise ConfigError("ResourceReadError", "error filling IP pool defaults: Could not resolve CalicoNetwork IPPool and "
                                  f"kubeadm configuration: IPPool {pool.get('cidr')} is not within the platform's configured pod "
                                  f"network CIDR(s) [{' '.join(platform)}]")
    cidrs, names = set(), set()
    bgp = network.get("bgp") or "Enabled"
    felix_routing = network.get("clusterRoutingMode") == "Felix"
    for pool in pools:
        cidr = pool.get("cidr") or ""
        try:
            net = _network(cidr)
        except ValueError as err:
            raise ConfigError("InvalidConfigurationError", f"error validating IP pool configuration: IP pool CIDR ({cidr}) is invalid: "
                                                           f"invalid CIDR address: {cidr}") from err
        if net.version != 4:
            raise not_implemented(f"the IPv6 IP pool {cidr}")
        pool.setdefault("encapsulation", "IPIP")
        pool.setdefault("natOutgoing", "Enabled")
        pool.setdefault("blockSize", 26)
        pool.setdefault("nodeSelector", "all()")
        if not pool.get("name"):
            pool["name"] = _pool_name(cidr)
        prefix = "error validating IP pool configuration: "
        if cidr in cidrs or pool["name"] in names:
            raise ConfigError("InvalidConfigurationError", f"{prefix}IP pool {cidr if cidr in cidrs else pool['name']} is specified more than once")
        cidrs.add(cidr)
        names.add(pool["name"])
        if not 20 <= int(pool["blockSize"]) <= 32:
            raise ConfigError("InvalidConfigurationError", f"{prefix}IPv4 pool block size must be greater than 19 and less than or equal to 32")
        if net.prefixlen > int(pool["blockSize"]):
            raise ConfigError("InvalidConfigurationError", f"{prefix}IP pool size is too small. It must be equal to or greater than the block size.")
        if bgp == "Disabled" and not felix_routing:
            if pool["encapsulation"] in ("IPIP", "IPIPCrossSubnet"):
                raise ConfigError("InvalidConfigurationError", "with BIRD cluster routing mode, IPIP encapsulation requires that BGP is enabled")
            if pool["encapsulation"] == "None":
                raise ConfigError("InvalidConfigurationError", "with BIRD cluster routing mode, unencapsulated IP pools require that BGP is enabled")
    return pools


def _autodetection(network):
    method = network.get("nodeAddressAutodetectionV4")
    if method is None:
        return "first-found"
    chosen = [key for key in AUTODETECTION if method.get(key) not in (None, False, "", [])]
    if len(chosen) > 1:
        raise ConfigError("InvalidConfigurationError", "STAND-IN: no more than one node address autodetection method can be specified "
                                                       f"per-family (nodeAddressAutodetectionV4 sets {', '.join(chosen)})")
    if not chosen:
        return "first-found"
    key, value = chosen[0], method[chosen[0]]
    return {"firstFound": "first-found", "kubernetes": "kubernetes-internal-ip", "interface": f"interface={value}",
            "skipInterface": f"skip-interface={value}", "canReach": f"can-reach={value}",
            "cidrs": "cidr=" + ",".join(value if isinstance(value, list) else [str(value)])}[key]


def resolve(installation, deployment, platform):
    """Everything the calico-node DaemonSet and the status follow from: a dict, or ConfigError."""
    image, tag = operator_image(deployment)
    calico = OPERATOR_RELEASES.get(tag)
    if calico is None:
        known = ", ".join(f"{k} (Calico {v})" for k, v in sorted(OPERATOR_RELEASES.items()))
        raise ConfigError("InvalidConfigurationError", f"STAND-IN: the tigera operator image {image} (tag {tag}) is not known to the "
                                                       f"stand-in, which knows only the operator releases {known}")
    spec = installation.get("spec") or {}
    variant = spec.get("variant") or "Calico"
    if variant != "Calico":
        raise not_implemented(f"variant {variant}")
    cni = spec.get("cni") or {}
    if (cni.get("type") or "Calico") != "Calico":
        raise not_implemented(f"the CNI plugin {cni.get('type')}")
    if ((cni.get("ipam") or {}).get("type") or "Calico") != "Calico":
        raise not_implemented(f"the IPAM plugin {cni['ipam']['type']}")
    registry = spec.get("registry") or ""
    if registry in ("", "UseDefault"):
        registry = DEFAULT_REGISTRY
    elif not registry.endswith("/"):
        raise ConfigError("InvalidConfigurationError", f'STAND-IN: Installation spec.registry "{registry}" must end with a slash ("/")')
    image_path = spec.get("imagePath") or ""
    if image_path in ("", "UseDefault"):
        image_path = DEFAULT_IMAGE_PATH
    network = spec.get("calicoNetwork") or {}
    dataplane = network.get("linuxDataplane") or "Iptables"
    if dataplane not in ("Iptables", "Nftables"):
        raise not_implemented(f"the {dataplane} dataplane")
    pools = _pools(network, platform)
    bgp = network.get("bgp") or "Enabled"
    first = pools[0] if pools else None
    return {
        "calico_version": calico, "operator_tag": tag, "variant": variant, "bgp": bgp, "dataplane": dataplane,
        "image_prefix": f"{registry}{image_path.strip('/')}/{spec.get('imagePrefix') or ''}", "pools": pools,
        "mtu": network.get("mtu"), "autodetection": _autodetection(network),
        "status_mtu": network.get("mtu") or HOST_MTU - OVERHEAD.get(first["encapsulation"] if first else "None", 0),
        "overrides": (((spec.get("calicoNodeDaemonSet") or {}).get("spec") or {}).get("template") or {}).get("spec") or {},
        "update_strategy": spec.get("nodeUpdateStrategy") or {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
    }


def calico_node_env(plan):
    """The calico-node container's environment, derived from the Installation (STAND-IN: the variables of a
    manifest-based install, which the real operator expresses partly as IPPool resources instead)."""
    env = [
        {"name": "DATASTORE_TYPE", "value": "kubernetes"},
        {"name": "WAIT_FOR_DATASTORE", "value": "true"},
        {"name": "CLUSTER_TYPE", "value": "k8s,operator,bgp" if plan["bgp"] == "Enabled" else "k8s,operator"},
        {"name": "CALICO_DISABLE_FILE_LOGGING", "value": "false"},
        {"name": "FELIX_DEFAULTENDPOINTTOHOSTACTION", "value": "ACCEPT"},
        {"name": "FELIX_HEALTHENABLED", "value": "true"},
        {"name": "NODENAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "CALICO_NETWORKING_BACKEND", "value": "bird" if plan["bgp"] == "Enabled" else "vxlan"},
        {"name": "IP", "value": "autodetect"},
        {"name": "IP_AUTODETECTION_METHOD", "value": plan["autodetection"]},
        {"name": "IP6", "value": "none"},
        {"name": "FELIX_IPV6SUPPORT", "value": "false"},
    ]
    if plan["pools"]:
        pool = plan["pools"][0]
        ipip, vxlan = ENCAPSULATION_MODES[pool["encapsulation"]]
        env += [
            {"name": "CALICO_IPV4POOL_CIDR", "value": pool["cidr"]},
            {"name": "CALICO_IPV4POOL_BLOCK_SIZE", "value": str(pool["blockSize"])},
            {"name": "CALICO_IPV4POOL_IPIP", "value": ipip},
            {"name": "CALICO_IPV4POOL_VXLAN", "value": vxlan},
            {"name": "CALICO_IPV4POOL_NAT_OUTGOING", "value": "true" if pool["natOutgoing"] == "Enabled" else "false"},
            {"name": "CALICO_IPV4POOL_NODE_SELECTOR", "value": pool["nodeSelector"]},
        ]
    if plan["mtu"]:
        env += [{"name": "FELIX_IPINIPMTU", "value": str(plan["mtu"])}, {"name": "FELIX_VXLANMTU", "value": str(plan["mtu"])}]
    if plan["dataplane"] == "Nftables":
        env.append({"name": "FELIX_NFTABLESMODE", "value": "Enabled"})
    return env


def owner_reference(installation):
    return {"apiVersion": "operator.tigera.io/v1", "kind": "Installation", "name": installation["metadata"]["name"],
            "uid": installation["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def namespace():
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": NAMESPACE, "labels": {"name": NAMESPACE, "pod-security.kubernetes.io/enforce": "privileged",
                                                       "pod-security.kubernetes.io/enforce-version": "latest"}}}


def service_account(installation):
    return {"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": SERVICE_ACCOUNT, "namespace": NAMESPACE, "ownerReferences": [owner_reference(installation)]}}


def daemonset(plan, installation):
    """The calico-node DaemonSet (one `calico-node` container, the `install-cni` init container)."""
    labels = {"k8s-app": DAEMONSET}
    version = plan["calico_version"]
    pod = {
        "serviceAccountName": SERVICE_ACCOUNT, "hostNetwork": True, "dnsPolicy": "ClusterFirstWithHostNet",
        "priorityClassName": "system-node-critical", "terminationGracePeriodSeconds": 5,
        "nodeSelector": {"kubernetes.io/os": "linux"}, "tolerations": [{"operator": "Exists"}],
        "initContainers": [{"name": "install-cni", "image": f"{plan['image_prefix']}cni:{version}", "command": ["/opt/cni/bin/install"],
                            "env": [{"name": "CNI_CONF_NAME", "value": "10-calico.conflist"}, {"name": "CNI_NET_DIR", "value": "/etc/cni/net.d"},
                                    {"name": "KUBERNETES_NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                            "securityContext": {"privileged": True}}],
        "containers": [{"name": "calico-node", "image": f"{plan['image_prefix']}node:{version}", "env": calico_node_env(plan),
                        "securityContext": {"privileged": True}}],
    }
    overrides = plan["overrides"]
    for key, value in (overrides.get("nodeSelector") or {}).items():
        pod["nodeSelector"].setdefault(key, value)
    for key in ("tolerations", "affinity"):
        if overrides.get(key) is not None:
            pod[key] = overrides[key]
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": DAEMONSET, "namespace": NAMESPACE, "labels": dict(labels),
                     "annotations": {STANDIN_ANNOTATION: "simulated: no pod runs; the kubelet stand-in plays install-cni"},
                     "ownerReferences": [owner_reference(installation)]},
        "spec": {"selector": {"matchLabels": dict(labels)}, "updateStrategy": plan["update_strategy"],
                 "template": {"metadata": {"labels": dict(labels)}, "spec": pod}},
    }


STATES = {"Ready": ("True", "False", "False"), "Progressing": ("False", "True", "False"), "Degraded": ("False", "False", "True")}


def conditions(previous, state, reason, message, generation, now):
    """Ready / Progressing / Degraded as the operator mirrors its TigeraStatus into the Installation's status;
    a condition keeps its lastTransitionTime while its status does not change."""
    before = {c.get("type"): c for c in previous or ()}
    result = []
    for kind, status in zip(("Ready", "Progressing", "Degraded"), STATES[state]):
        old = before.get(kind) or {}
        stamp = old.get("lastTransitionTime") if old.get("status") == status and old.get("lastTransitionTime") else now
        entry = {"type": kind, "status": status, "reason": reason, "message": message, "lastTransitionTime": stamp}
        if generation:
            entry["observedGeneration"] = generation
        result.append(entry)
    return result
