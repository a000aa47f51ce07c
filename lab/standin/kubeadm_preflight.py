"""STAND-IN: kubeadm's preflight checks, the subset the stand-in runs, with kubeadm 1.32's names and messages.

Checks and their severity as in kubeadm 1.32 (cmd/kubeadm/app/preflight/checks.go):
IsPrivilegedUser, CRI, Service-Kubelet (warning), Swap (a WARNING since 1.28: swap is supported with
cgroup v2), FileContent--proc-sys-net-ipv4-ip_forward, Port-*, DirAvailable/FileAvailable, and for
external etcd ExternalEtcdClientCertificates and ExternalEtcdVersion.  The bridge-nf-call-iptables
check is not run: kubeadm removed it in 1.30.
"""

import http.client
import os
import ssl
import tempfile
import urllib.parse

from . import kubeadm_defaults as defaults
from . import kubeadm_env as env
from . import pki


class PreflightError(defaults.StandinError):
    """Fatal preflight errors, printed the way kubeadm prints them."""

    def __init__(self, errors):
        lines = "".join(f"\t[ERROR {name}]: {message}\n" for name, message in errors)
        super().__init__("[preflight] Some fatal errors occurred:\n" + lines +
                         "[preflight] If you know what you are doing, you can make a check non-fatal with "
                         "`--ignore-preflight-errors=...`")
        self.errors = errors


def _label(path):
    return path.replace("/", "-")


class Checks:
    """Collects (name, message) errors and warnings."""

    def __init__(self, ignore):
        self.ignore = {name.lower() for name in ignore or []}
        self.errors, self.warnings = [], []

    def error(self, name, message):
        if "all" in self.ignore or name.lower() in self.ignore:
            self.warnings.append((name, message))
        else:
            self.errors.append((name, message))

    def warning(self, name, message):
        self.warnings.append((name, message))

    def finish(self):
        for name, message in self.warnings:
            env.err(f"\t[WARNING {name}]: {message}")
        if self.errors:
            raise PreflightError(self.errors)


def check_root(checks):
    if not env.is_root():
        checks.error("IsPrivilegedUser", "user is not running as root")


def check_cri(checks, socket):
    rc, output = env.crictl(socket, "info")
    if rc != 0:
        checks.error("CRI", f"container runtime is not running: output: {output}, error: exit status {rc}")


def check_kubelet_service(checks):
    if not env.unit_exists("kubelet.service"):
        checks.warning("Service-Kubelet", "kubelet service does not exist")
    elif not env.unit_enabled("kubelet.service"):
        checks.warning("Service-Kubelet", "kubelet service is not enabled, please run 'systemctl enable kubelet.service'")


def check_swap(checks):
    lines = (env.read_text("/proc/swaps", "") or "").splitlines()
    if len([line for line in lines if line.strip()]) > 1:
        checks.warning("Swap", "swap is supported for cgroup v2 only. The kubelet must be properly configured to use swap. "
                       "Please refer to https://kubernetes.io/docs/concepts/architecture/nodes/#swap-memory, or disable swap on the node")


def check_file_content(checks, path, content="1"):
    name = "FileContent-" + _label(path)
    text = env.read_text(path)
    if text is None:
        checks.error(name, f"{path} does not exist")
    elif text.strip() != content:
        checks.error(name, f"{path} contents are not set to {content}")


def check_port(checks, port):
    if env.port_in_use(port):
        checks.error(f"Port-{port}", f"Port {port} is in use")


def check_dir_available(checks, path):
    real = env.host(path)
    if os.path.isdir(real) and os.listdir(real):
        checks.error("DirAvailable-" + _label(path), f"{path} is not empty")


def check_file_available(checks, path):
    if env.exists(path):
        checks.error("FileAvailable-" + _label(path), f"{path} already exists")


def check_external_etcd(checks, external, timeout=10):
    """Files exist, pair matches, cert signed by the CA; every endpoint answers /version over TLS."""
    files = {key: external.get(key) for key in ("caFile", "certFile", "keyFile") if external.get(key)}
    material, ok = {}, True
    for key, path in files.items():
        data = env.read_text(path)
        if data is None:
            checks.error("ExternalEtcdClientCertificates", f"{path} doesn't exist")
            ok = False
        else:
            material[key] = data.encode("utf-8")
    if ok and "certFile" in files:
        try:
            cert = pki.load_cert(material["certFile"])
            key = pki.load_key(material["keyFile"])
        except ValueError as exc:
            checks.error("ExternalEtcdClientCertificates", f"failed to load {files['certFile']} or {files['keyFile']}: {exc}")
            return
        if not pki.keys_match(cert, key):
            checks.error("ExternalEtcdClientCertificates",
                         f"tls: private key {files['keyFile']} does not match public key of {files['certFile']}")
            ok = False
        if "caFile" in files:
            try:
                ca = pki.load_cert(material["caFile"])
            except ValueError as exc:
                checks.error("ExternalEtcdClientCertificates", f"failed to load {files['caFile']}: {exc}")
                return
            if not pki.signed_by(cert, ca):
                checks.error("ExternalEtcdClientCertificates",
                             f"{files['certFile']} is not signed by {files['caFile']}: x509: certificate signed by unknown authority")
                ok = False
    if not ok:
        return
    for endpoint in external.get("endpoints") or []:
        problem = etcd_version(endpoint, material, files, timeout)
        if problem:
            checks.error("ExternalEtcdVersion", problem)


def _etcd_get_version(endpoint, material, timeout):
    """GET <endpoint>/version; returns the body.  Replaced by tests."""
    parsed = urllib.parse.urlsplit(endpoint)
    if parsed.scheme == "https":
        context = ssl.create_default_context()
        if "caFile" in material:
            context.load_verify_locations(cadata=material["caFile"].decode("ascii"))
        context.check_hostname = True
        if "certFile" in material:
            with tempfile.NamedTemporaryFile("wb") as pem:
                os.chmod(pem.name, 0o600)
                pem.write(material["certFile"] + b"\n" + material["keyFile"])
                pem.flush()
                context.load_cert_chain(pem.name)
        conn = http.client.HTTPSConnection(parsed.hostname, parsed.port or 2379, context=context, timeout=timeout)
    else:
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port or 2379, timeout=timeout)
    try:
        conn.request("GET", "/version")
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise OSError(f"HTTP {response.status}")
        return body
    finally:
        conn.close()


def etcd_version(endpoint, material, files, timeout=10):
    """None when the endpoint answers /version, else kubeadm-shaped error text naming the endpoint and files."""
    url = endpoint.rstrip("/") + "/version"
    try:
        _etcd_get_version(endpoint, material, timeout)
    except (OSError, ssl.SSLError, http.client.HTTPException, ValueError) as exc:
        used = ", ".join(f"{key} {files[key]}" for key in ("caFile", "certFile", "keyFile") if key in files) or "no TLS files"
        return f'Get "{url}": {exc} (etcd.external {used})'
    return None


def init_checks(init, cluster, ignore):
    """kubeadm init's preflight (the stand-in's subset)."""
    env.out("[preflight] Running pre-flight checks")
    ignore = list(ignore or []) + list(init["nodeRegistration"].get("ignorePreflightErrors") or [])
    checks = Checks(ignore)
    check_root(checks)
    check_cri(checks, init["nodeRegistration"]["criSocket"])
    check_kubelet_service(checks)
    check_swap(checks)
    check_file_content(checks, "/proc/sys/net/ipv4/ip_forward")
    check_port(checks, init["localAPIEndpoint"]["bindPort"])
    check_port(checks, 10257)
    check_port(checks, 10259)
    check_port(checks, 10250)
    for component in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"):
        check_file_available(checks, f"/etc/kubernetes/manifests/{component}.yaml")
    check_dir_available(checks, "/etc/kubernetes/manifests")
    external = defaults.external_etcd(cluster)
    if external:
        check_external_etcd(checks, external)
    checks.finish()


def join_checks(join, ignore):
    """kubeadm join's preflight (the stand-in's subset)."""
    env.out("[preflight] Running pre-flight checks")
    ignore = list(ignore or []) + list(join["nodeRegistration"].get("ignorePreflightErrors") or [])
    checks = Checks(ignore)
    check_root(checks)
    check_file_available(checks, "/etc/kubernetes/kubelet.conf")
    check_file_available(checks, "/etc/kubernetes/bootstrap-kubelet.conf")
    check_cri(checks, join["nodeRegistration"]["criSocket"])
    check_kubelet_service(checks)
    check_swap(checks)
    check_file_content(checks, "/proc/sys/net/ipv4/ip_forward")
    check_port(checks, 10250)
    check_file_available(checks, join["caCertPath"])
    if join.get("controlPlane") is not None:
        check_port(checks, join["controlPlane"]["localAPIEndpoint"]["bindPort"])
        check_port(checks, 10257)
        check_port(checks, 10259)
        check_dir_available(checks, "/etc/kubernetes/manifests")
    checks.finish()
    return checks
