"""STAND-IN: kubeadm's certs and kubeconfig phases, ``certs check-expiration`` and ``certs renew``.

Certificates and kubeconfigs as kubeadm 1.32 issues them (names, subjects, SANs, CAs).  With external
etcd the etcd CA, etcd certificates and ``apiserver-etcd-client`` are not generated or renewed here:
the etcd role provides them (kubeadm too skips them in external etcd mode).
"""

import base64
import datetime
import os
import posixpath

import yaml

from . import kubeadm_defaults as defaults
from . import kubeadm_env as env
from . import kubeconfig
from . import pki

KUBECONFIG_DIR = "/etc/kubernetes"
ADMIN_CONF = KUBECONFIG_DIR + "/admin.conf"
SUPER_ADMIN_CONF = KUBECONFIG_DIR + "/super-admin.conf"
KUBELET_CONF = KUBECONFIG_DIR + "/kubelet.conf"
BOOTSTRAP_KUBELET_CONF = KUBECONFIG_DIR + "/bootstrap-kubelet.conf"
KUBECONFIGS = {
    # file: (user CN, organizations, CA, renewal text)
    "admin.conf": ("kubernetes-admin", ["kubeadm:cluster-admins"],
                   "certificate embedded in the kubeconfig file for the admin to use and for kubeadm itself"),
    "super-admin.conf": ("kubernetes-super-admin", ["system:masters"], "certificate embedded in the kubeconfig file for the super-admin"),
    "controller-manager.conf": ("system:kube-controller-manager", [],
                                "certificate embedded in the kubeconfig file for the controller manager to use"),
    "scheduler.conf": ("system:kube-scheduler", [], "certificate embedded in the kubeconfig file for the scheduler manager to use"),
}
LEAVES = {
    # name: (CA, CN, organizations, server, client, renewal text)
    "apiserver": ("ca", "kube-apiserver", [], True, False, "certificate for serving the Kubernetes API"),
    "apiserver-kubelet-client": ("ca", "kube-apiserver-kubelet-client", ["kubeadm:cluster-admins"], False, True,
                                 "certificate for the API server to connect to kubelet"),
    "front-proxy-client": ("front-proxy-ca", "front-proxy-client", [], False, True, "certificate for the front proxy client"),
}
ETCD_CERTS = {
    "apiserver-etcd-client": ("etcd-ca", "apiserver-etcd-client", "certificate the apiserver uses to access etcd"),
    "etcd-healthcheck-client": ("etcd-ca", "etcd/healthcheck-client", "certificate for liveness probes to healthcheck etcd"),
    "etcd-peer": ("etcd-ca", "etcd/peer", "certificate for etcd nodes to communicate with each other"),
    "etcd-server": ("etcd-ca", "etcd/server", "certificate for serving etcd"),
}
CA_FILES = {"ca": "ca", "front-proxy-ca": "front-proxy-ca", "etcd-ca": "etcd/ca"}


def _path(cluster, name):
    return posixpath.join(cluster["certificatesDir"], name)


def _read(path):
    with open(env.host(path), "rb") as handle:
        return handle.read()


def _load_pair(cluster, base):
    return pki.load_cert(_read(_path(cluster, base + ".crt"))), pki.load_key(_read(_path(cluster, base + ".key")))


def _write_pair(cluster, base, cert, key):
    env.write_file(_path(cluster, base + ".crt"), pki.cert_pem(cert), mode=0o644)
    env.write_file(_path(cluster, base + ".key"), pki.key_pem(key), mode=0o600)


def _validity_days(cluster, field, default):
    value = cluster.get(field)
    return defaults.duration_seconds(value) / 86400 if value else default


def apiserver_sans(cluster, node_name, endpoint):
    domain = cluster["networking"]["dnsDomain"]
    names = [node_name, "kubernetes", "kubernetes.default", "kubernetes.default.svc", f"kubernetes.default.svc.{domain}",
             defaults.service_ip(cluster["networking"]["serviceSubnet"]), endpoint["advertiseAddress"]]
    if cluster.get("controlPlaneEndpoint"):
        names.append(defaults.endpoint_host_port(cluster["controlPlaneEndpoint"])[0])
    names += list(cluster["apiServer"].get("certSANs") or [])
    return names


def ensure_ca(cluster, name, common_name):
    """Use the CA on disk, or generate it; returns (cert, key)."""
    base = CA_FILES[name]
    if env.exists(_path(cluster, base + ".crt")) and env.exists(_path(cluster, base + ".key")):
        env.out(f"[certs] Using existing {name} certificate authority")
        return _load_pair(cluster, base)
    env.out(f'[certs] Generating "{name}" certificate and key')
    cert, key = pki.new_ca(common_name, days=_validity_days(cluster, "caCertificateValidityPeriod", pki.CA_DAYS),
                           algorithm=cluster["encryptionAlgorithm"])
    _write_pair(cluster, base, cert, key)
    return cert, key


def ensure_leaf(cluster, name, cas, sans=()):
    ca_name, common_name, orgs, server, client, _text = LEAVES[name]
    ca_cert, ca_key = cas[ca_name]
    if env.exists(_path(cluster, name + ".crt")) and env.exists(_path(cluster, name + ".key")):
        cert, _key = _load_pair(cluster, name)
        if pki.signed_by(cert, ca_cert):
            env.out(f"[certs] Using existing {name} certificate and key on disk")
            return
    env.out(f'[certs] Generating "{name}" certificate and key')
    cert, key = pki.new_leaf(ca_cert, ca_key, common_name, orgs, server=server, client=client, sans=sans,
                             days=_validity_days(cluster, "certificateValidityPeriod", pki.LEAF_DAYS),
                             algorithm=cluster["encryptionAlgorithm"])
    _write_pair(cluster, name, cert, key)
    if server:
        dns, ips = pki.sans_of(cert)
        env.out(f"[certs] {name} serving cert is signed for DNS names [{' '.join(sorted(dns))}] and IPs [{' '.join(ips)}]")


def ensure_sa(cluster):
    if env.exists(_path(cluster, "sa.key")):
        env.out("[certs] Using the existing \"sa\" key")
        return
    env.out('[certs] Generating "sa" key and public key')
    key = pki.new_key("RSA-2048" if cluster["encryptionAlgorithm"] != "ECDSA-P256" else "ECDSA-P256")
    env.write_file(_path(cluster, "sa.key"), pki.key_pem(key), mode=0o600)
    env.write_file(_path(cluster, "sa.pub"), pki.public_pem(key), mode=0o644)


def certs_phase(cluster, node_name, endpoint):
    """All control-plane certificates of this node (existing CAs and valid leaves are kept)."""
    env.out(f'[certs] Using certificateDir folder "{cluster["certificatesDir"]}"')
    if not defaults.external_etcd(cluster):
        raise defaults.not_implemented("stacked etcd (etcd.local)")
    cas = {"ca": ensure_ca(cluster, "ca", "kubernetes")}
    ensure_leaf(cluster, "apiserver", cas, apiserver_sans(cluster, node_name, endpoint))
    ensure_leaf(cluster, "apiserver-kubelet-client", cas)
    cas["front-proxy-ca"] = ensure_ca(cluster, "front-proxy-ca", "front-proxy-ca")
    ensure_leaf(cluster, "front-proxy-client", cas)
    for what in ("etcd/ca certificate authority", "etcd/server certificate", "etcd/peer certificate",
                 "etcd/healthcheck-client certificate", "apiserver-etcd-client certificate"):
        env.out(f"[certs] External etcd mode: Skipping {what} generation")
    ensure_sa(cluster)


def kubeconfig_for(cluster, file_name, server, node_name=None):
    """A kubeconfig dict with a fresh client certificate signed by the cluster CA."""
    ca_cert, ca_key = _load_pair(cluster, "ca")
    if file_name == "kubelet.conf":
        user, orgs = f"system:node:{node_name}", ["system:nodes"]
    else:
        user, orgs, _text = KUBECONFIGS[file_name]
    cert, key = pki.new_leaf(ca_cert, ca_key, user, orgs, client=True,
                             days=_validity_days(cluster, "certificateValidityPeriod", pki.LEAF_DAYS),
                             algorithm=cluster["encryptionAlgorithm"])
    return kubeconfig.build(server, pki.cert_pem(ca_cert), cluster["clusterName"], user, pki.cert_pem(cert), pki.key_pem(key))


def kubeconfig_phase(cluster, node_name, endpoint, files):
    env.out(f'[kubeconfig] Using kubeconfig folder "{KUBECONFIG_DIR}"')
    for file_name in files:
        path = f"{KUBECONFIG_DIR}/{file_name}"
        if env.exists(path):
            env.out(f'[kubeconfig] Using existing kubeconfig file: "{path}"')
            continue
        local = file_name in ("controller-manager.conf", "scheduler.conf")
        server = defaults.local_server(endpoint) if local else defaults.control_plane_server(cluster, endpoint)
        env.out(f'[kubeconfig] Writing "{file_name}" kubeconfig file')
        kubeconfig.write(path, kubeconfig_for(cluster, file_name, server, node_name))


# ---------------------------------------------------------------------------
# check-expiration and renew
# ---------------------------------------------------------------------------
def short_human_duration(delta):
    """k8s.io/apimachinery duration.ShortHumanDuration."""
    seconds = int(delta.total_seconds())
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 24:
        return f"{hours}h"
    if hours < 24 * 365:
        return f"{hours // 24}d"
    return f"{hours // 24 // 365}y"


def tabulate(rows, minwidth=10, padding=3):
    """text/tabwriter with kubeadm's settings (minwidth 10, padding 3, spaces; the last column unpadded)."""
    widths = []
    for row in rows:
        for index, cell in enumerate(row[:-1]):
            width = max(minwidth, len(cell) + padding)
            if index >= len(widths):
                widths.append(width)
            else:
                widths[index] = max(widths[index], width)
    lines = []
    for row in rows:
        line = "".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])) + (row[-1] if row else "")
        lines.append(line)
    return "\n".join(lines)


def _expiry_cells(cert):
    expires = pki.not_after_utc(cert)
    return expires.strftime("%b %d, %Y %H:%M UTC"), short_human_duration(expires - env.now())


def _kubeconfig_cert(file_name):
    conf = yaml.safe_load(env.read_text(f"{KUBECONFIG_DIR}/{file_name}") or "") or {}
    users = conf.get("users") or []
    data = (users[0].get("user") or {}) if users else {}
    if not data.get("client-certificate-data"):
        raise ValueError("no embedded client certificate")
    return conf, pki.load_cert(base64.b64decode(data["client-certificate-data"])), data


def cluster_for_certs(args, verb):
    """ClusterConfiguration from the cluster (admin.conf), or kubeadm's defaults when unreachable."""
    from . import kubeadm_cluster  # pylint: disable=import-outside-toplevel
    try:
        client = env.client_from_kubeconfig(args.get("kubeconfig") or env.host(ADMIN_CONF))
        cm = client.get("/api/v1/namespaces/kube-system/configmaps/kubeadm-config")
        env.out(f'[{verb}] Reading configuration from the "kubeadm-config" ConfigMap in namespace "kube-system"...')
        env.out(f"[{verb}] Use 'kubeadm init phase upload-config --config your-config.yaml' to re-upload it.")
        return defaults.default_cluster(yaml.safe_load(cm["data"]["ClusterConfiguration"]))
    except (OSError, ValueError, KeyError, TypeError, kubeadm_cluster.ApiError) as exc:
        env.err(f"[{verb}] Error reading configuration from the Cluster. Falling back to default configuration ({exc})")
        return defaults.default_cluster({})


def _cert_list(cluster):
    """(name, CA name, kind, path) for check-expiration, sorted by name as kubeadm prints them."""
    entries = [(name, "ca", "conf", name) for name in KUBECONFIGS]
    entries += [(name, spec[0], "cert", name) for name, spec in LEAVES.items()]
    if not defaults.external_etcd(cluster):
        entries += [(name, spec[0], "cert", spec[1]) for name, spec in ETCD_CERTS.items()]
    return sorted(entries)


def yes_no(value):
    """EXTERNALLY MANAGED as kubeadm prints it: "%-8v" of yes/no, so padded to 8 characters."""
    return f"{'yes' if value else 'no':<8}"


def check_expiration(args):
    cluster = cluster_for_certs(args, "check-expiration")
    ca_keys = {name: env.exists(_path(cluster, base + ".key")) for name, base in CA_FILES.items()}
    rows = [["CERTIFICATE", "EXPIRES", "RESIDUAL TIME", "CERTIFICATE AUTHORITY", "EXTERNALLY MANAGED"]]
    for name, ca_name, kind, base in _cert_list(cluster):
        try:
            if kind == "conf":
                cert = _kubeconfig_cert(base)[1]
            else:
                cert = pki.load_cert(_read(_path(cluster, base + ".crt")))
        except (OSError, ValueError):
            rows.append([f"!MISSING! {name}", "", "", "", ""])
            continue
        expires, residual = _expiry_cells(cert)
        rows.append([name, expires, residual, ca_name, yes_no(not ca_keys.get(ca_name))])
    env.out()
    env.out(tabulate(rows))
    env.out()
    rows = [["CERTIFICATE AUTHORITY", "EXPIRES", "RESIDUAL TIME", "EXTERNALLY MANAGED"]]
    for name, base in sorted(CA_FILES.items()):
        if name == "etcd-ca" and defaults.external_etcd(cluster):
            continue
        try:
            cert = pki.load_cert(_read(_path(cluster, base + ".crt")))
        except (OSError, ValueError):
            rows.append([f"!MISSING! {name}", "", "", ""])
            continue
        expires, residual = _expiry_cells(cert)
        rows.append([name, expires, residual, yes_no(not ca_keys[name])])
    env.out(tabulate(rows))
    return 0


RENEWABLE = sorted(list(KUBECONFIGS) + list(LEAVES) + list(ETCD_CERTS))


def renew(args, names):
    if len(names) != 1:
        raise defaults.StandinError("missing subcommand; \"renew\" is not meant to be run on its own" if not names
                                    else f'unknown command "{names[1]}" for "kubeadm certs renew {names[0]}"')
    target = names[0]
    if target != "all" and target not in RENEWABLE:
        raise defaults.StandinError(f'unknown command "{target}" for "kubeadm certs renew"')
    cluster = cluster_for_certs(args, "renew")
    env.out()
    targets = RENEWABLE if target == "all" else [target]
    cas = {}
    for name in targets:
        if name in ETCD_CERTS:
            if defaults.external_etcd(cluster):
                # kubeadm's renewal manager has no etcd certificates with external etcd: "renew all" skips
                # them silently, "renew <etcd certificate>" finds no such certificate.
                if target != "all":
                    env.out(f"MISSING! {ETCD_CERTS[name][2]}")
                continue
            raise defaults.not_implemented(f"renewing {name} (stacked etcd)")
        ca_name = "ca" if name in KUBECONFIGS else LEAVES[name][0]
        if ca_name not in cas:
            base = CA_FILES[ca_name]
            if not env.exists(_path(cluster, base + ".key")):
                env.out(f"Detected external {ca_name}, {name} can't be renewed")
                continue
            cas[ca_name] = _load_pair(cluster, base)
        ca_cert, ca_key = cas[ca_name]
        days = _validity_days(cluster, "certificateValidityPeriod", pki.LEAF_DAYS)
        if name in KUBECONFIGS:
            try:
                conf, old, user = _kubeconfig_cert(name)
            except (OSError, ValueError):
                env.out(f"MISSING! {KUBECONFIGS[name][2]}")
                continue
            key = pki.load_key(base64.b64decode(user["client-key-data"]))
            cert, key = pki.renew(ca_cert, ca_key, old, key, days=days)
            user["client-certificate-data"] = kubeconfig.b64(pki.cert_pem(cert))
            kubeconfig.write(f"{KUBECONFIG_DIR}/{name}", conf)
            env.out(f"{KUBECONFIGS[name][2]} renewed")
        else:
            try:
                old, key = _load_pair(cluster, name)
            except (OSError, ValueError):
                env.out(f"MISSING! {LEAVES[name][5]}")
                continue
            cert, key = pki.renew(ca_cert, ca_key, old, key, days=days)
            _write_pair(cluster, name, cert, key)
            env.out(f"{LEAVES[name][5]} renewed")
    if target == "all":
        env.out()
        env.out("Done renewing certificates. You must restart the kube-apiserver, kube-controller-manager, kube-scheduler and etcd, "
                "so that they can use the new certificates.")
    return 0


def certificate_expiry(path):
    """Days left of a certificate file (used by tests and upgrade plan)."""
    cert = pki.load_cert(_read(path))
    return (pki.not_after_utc(cert) - datetime.datetime.now(datetime.timezone.utc)).days


def write_ca_files(cluster, files):
    """Write the downloaded control-plane files (join --control-plane); external etcd files only if absent."""
    targets = {}
    from . import kubeadm_cluster  # pylint: disable=import-outside-toplevel
    for name, path in kubeadm_cluster.cert_files(cluster).items():
        targets[name] = path
    for name, content in files.items():
        path = targets.get(name)
        if path is None:
            continue
        if name.startswith("external-etcd") and env.exists(path):
            continue
        mode = 0o600 if path.endswith(".key") else 0o644
        env.write_file(path, content, mode=mode)
        os.chmod(env.host(path), mode)
