"""STAND-IN for the kubelet (the Kubernetes release of version.py) of the ironstone.k8s lab.  Not the real kubelet.

A long-running process for systemd (kubelet.service, Restart=always) that behaves like the real kubelet
where the collection and kubeadm can see it:

- flags: the real names kubeadm's drop-in, kubeadm-flags.env and KUBELET_EXTRA_ARGS use (see
  kubelet_config.FLAGS; the deprecated ones print pflag's deprecation line).  An unknown flag fails like the
  real one (`"command failed" err="failed to parse kubelet flag: unknown flag: --x"`, exit 1); a real kubelet
  flag the stand-in lacks fails with "not implemented by the stand-in".
- `--node-labels` validation, `--config` loading (missing file -> exit 1, so the unit crash-loops before
  `kubeadm init` as the real one does), swap check (failSwapOn), cgroupDriver check.
- TLS bootstrap from `--bootstrap-kubeconfig` (kubelet_bootstrap), Node registration, a status heartbeat and
  the node Lease every 10 s (nodeStatusUpdateFrequency), Ready from `crictl info` and /etc/cni/net.d.
- static pods from staticPodPath (kubelet_static): the kube-apiserver stand-in image is run as a child.
- the STAND-IN of calico-node's install-cni init container: while the runtime answers, /etc/cni/net.d has no CNI
  configuration and the DaemonSet calico-system/calico-node would run on this Node (scheduling.daemon_pod_fits), the status loop writes
  /etc/cni/net.d/10-calico.conflist (one GET of the DaemonSet per loop, only while no configuration exists).
- healthz on healthzBindAddress:healthzPort (`/healthz` -> ok, plain HTTP); the kubelet port (10250) is
  bound and speaks HTTPS with a self-signed serving certificate (pki/kubelet.crt): `/healthz` -> ok,
  `/containerLogs/...` (below), every other path -> 501 "not implemented by the stand-in".
- with `serverTLSBootstrap: true`, the serving certificate from a `kubernetes.io/kubelet-serving` CSR
  (kubelet_serving): requested from the status loop without blocking it, written to
  pki/kubelet-server-current.pem once approved and issued, and served on 10250 from then on.
- STAND-IN crash loops (kubelet_crashloop): pods bound to this node with the annotation
  `ironstone.k8s/stand-in-crash-loop: "<exit code>"` get the status of a container in CrashLoopBackOff and a log
  per attempt under /var/log/pods; `/containerLogs/<ns>/<pod>/<container>` on 10250 serves them to the API server
  (client certificate from `authentication.x509.clientCAFile` required, as the real kubelet's x509 authentication).

Differences from the real kubelet: it runs no containers (only stand-in images as child processes, which stop
with the kubelet), it does not rotate its client certificate, and it reports the host's cpu/memory as capacity.  Paths are
prefixed with $IRONSTONE_STANDIN_ROOT in tests; `ctr`/`crictl` calls go through replaceable functions.
"""

import contextlib
import datetime
import http.server
import io
import ipaddress
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from . import crictl as crictl_standin
from . import kubeclient
from . import kubelet_bootstrap as bootstrap
from . import kubelet_config as kconfig
from . import kubelet_crashloop as kcrash
from . import kubelet_node as knode
from . import kubelet_serving as kserving
from . import kubelet_static as kstatic
from . import scheduling
from .version import STANDIN_BANNER, git_version

host_path = bootstrap.host_path
CALICO_NODE_PATH = "/apis/apps/v1/namespaces/calico-system/daemonsets/calico-node"
_PID = os.getpid()
_LOG_LOCK = threading.Lock()
VERBOSITY = [0]


def klog(message, level="I", stream=None):
    """One klog-formatted line on stderr (the journal): `I0102 15:04:05.000000  pid kubelet.go:0] msg`."""
    now = datetime.datetime.now()
    line = f"{level}{now:%m%d %H:%M:%S.%f} {_PID:>7} standin_kubelet.py:0] {message}"
    with _LOG_LOCK:
        print(line, file=stream or sys.stderr, flush=True)


def raw_line(text):
    with _LOG_LOCK:
        print(text, file=sys.stderr, flush=True)


def _quote(text):
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def command_failed(err):
    klog('"command failed" err=' + _quote(err), "E")
    return 1


def run_crictl(args, timeout=15):
    """crictl ARGS -> (rc, stdout, stderr): the crictl on PATH if any, else the in-package stand-in."""
    binary = shutil.which("crictl")
    if binary:
        try:
            proc = subprocess.run([binary] + list(args), check=False, capture_output=True, text=True, timeout=timeout)
            return proc.returncode, proc.stdout, proc.stderr
        except subprocess.TimeoutExpired:
            return 124, "", "timed out"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = crictl_standin.main(list(args))
    return rc, out.getvalue(), err.getvalue()


def runtime_state(endpoint, crictl=run_crictl):
    """(runtime ok, containerRuntimeVersion like 'containerd://1.6.20~ds1' or '', error text)."""
    rc, _out, err = crictl(["--runtime-endpoint", endpoint, "info"])
    if rc != 0:
        return False, "", err.strip()
    rc, out, _err = crictl(["--runtime-endpoint", endpoint, "version"])
    version = ""
    if rc == 0:
        fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
        name, ver = fields.get("RuntimeName", "").strip(), fields.get("RuntimeVersion", "").strip()
        if name and ver:
            version = f"{name}://{ver}"
    return True, version, ""


def swap_lines(path="/proc/swaps"):
    try:
        with open(host_path(path), encoding="ascii") as handle:
            return [line.strip() for line in handle.readlines()[1:] if line.strip()]
    except OSError:
        return []


# --- HTTP servers --------------------------------------------------------------------------------------

class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "kubelet-standin"

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        return

    def _reply(self, code, body, ctype="text/plain; charset=utf-8"):
        data = body.encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # pylint: disable=invalid-name
        if self.path.split("?", 1)[0] == "/healthz":
            self._reply(200, "ok")
        elif self.server.secure and self.path.startswith("/containerLogs/"):
            self._container_logs()
        elif self.server.secure:
            self._reply(501, json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 501,
                                         "reason": "NotImplemented", "message": f"{self.path}: not implemented by the stand-in"}),
                        "application/json")
        else:
            self._reply(404, "404 page not found\n")

    def _container_logs(self):
        try:
            cert = self.request.getpeercert()
        except (ValueError, AttributeError):
            cert = None
        if not cert:  # x509 authentication; anonymous requests are refused (authentication.anonymous is off)
            self._reply(401, "Unauthorized")
            return
        kubelet = getattr(self.server, "kubelet", None)
        if kubelet is None:
            self._reply(503, "the kubelet has no API client (standalone mode)")
            return
        code, text = kubelet.crashloops.logs(self.path, kubelet.get_pod)
        self._reply(code, text)


def _serve(address, port, context=None):
    family = http.server.ThreadingHTTPServer
    server_class = type("Server", (family,), {"address_family": 10 if ":" in address else 2, "daemon_threads": True})
    server = server_class((address, port), _Handler)
    server.secure = context is not None
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def require_client_certs(context, client_ca_file):
    """Ask for client certificates verified against authentication.x509.clientCAFile (optional at the TLS level:
    /healthz stays open, /containerLogs answers 401 without one)."""
    if client_ca_file and os.path.exists(host_path(client_ca_file)):
        context.load_verify_locations(host_path(client_ca_file))
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def serving_context(cert_dir, hostname, node_ip):
    """Self-signed serving certificate `<cert-dir>/kubelet.crt|key`, generated like the real kubelet's if absent."""
    crt, key_path = os.path.join(host_path(cert_dir), "kubelet.crt"), os.path.join(host_path(cert_dir), "kubelet.key")
    if not (os.path.exists(crt) and os.path.exists(key_path)):
        os.makedirs(os.path.dirname(crt), exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        stamp = int(time.time())
        now = datetime.datetime.now(datetime.timezone.utc)
        sans = [x509.DNSName(hostname)]
        for ip in node_ip.split(","):
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(ip)))
            except ValueError:
                pass
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{hostname}@{stamp}")]))
                .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{hostname}-ca@{stamp}")]))
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=365))
                .add_extension(x509.SubjectAlternativeName(sans), critical=False)
                .sign(key, hashes.SHA256()))
        with open(crt, "wb") as handle:
            handle.write(cert.public_bytes(serialization.Encoding.PEM))
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(crt, key_path)
    return context


# --- the running kubelet -------------------------------------------------------------------------------

class Kubelet:  # pylint: disable=too-many-instance-attributes
    """Registration, heartbeat, lease and mirror pods against one API client."""

    def __init__(self, name, node_ip, labels, taints, config, client_factory, pods, crictl=run_crictl, serving=None):
        self.name = name
        self.node_ip = node_ip
        self.labels = labels
        self.taints = taints
        self.config = config
        self.client_factory = client_factory
        self.client = None
        self.pods = pods
        self.crictl = crictl
        self.node_uid = None
        self.node = None  # the Node as the API server last returned it (labels and taints change after registration)
        self.status = knode.NodeStatus()
        self.last_error = {}
        self.mirrors = {}  # (ns, name) -> config hash of the mirror pod we created
        self.serving = serving  # kubelet_serving.ServingCertificate with serverTLSBootstrap, else None
        self.crashloops = kcrash.CrashLoops(name, klog, root=host_path(kcrash.LOG_ROOT))

    def get_pod(self, namespace, name):
        try:
            return self._client().get(f"/api/v1/namespaces/{namespace}/pods/{name}")
        except kubeclient.ApiError as err:
            if err.status == 404:
                return None
            raise

    def _api_failed(self, what, err):
        now = time.monotonic()
        if now - self.last_error.get(what, -1e9) >= 60:
            self.last_error[what] = now
            klog(f'"{what}" err={_quote(err)}', "E")

    def _client(self):
        if self.client is None:
            self.client = self.client_factory()
        return self.client

    def register(self):
        client = self._client()
        node = knode.build_node(self.name, self.labels, self.taints, self.config.get("providerID", ""))
        try:
            created = client.post("/api/v1/nodes", node)
            klog(f'"Successfully registered node" node="{self.name}"')
        except kubeclient.ApiError as err:
            if err.status != 409:
                raise
            existing = client.get(f"/api/v1/nodes/{self.name}")
            patch = knode.reconcile_existing(existing, knode.default_labels(self.name))
            created = client.patch(f"/api/v1/nodes/{self.name}", patch) if patch else existing
            klog(f'"Node was previously registered" node="{self.name}"')
        self.node_uid = created["metadata"].get("uid", "")
        self._remember(created)

    def _remember(self, node):
        if isinstance(node, dict) and isinstance(node.get("metadata"), dict) and node["metadata"].get("name") == self.name:
            self.node = node

    def install_cni(self, conf_dir):
        """STAND-IN of calico-node's install-cni init container (no pod runs): when the calico-node DaemonSet exists
        and would run on this Node, write the CNI configuration it would write.  True when one was written."""
        try:
            daemonset = self._client().get(CALICO_NODE_PATH)
        except kubeclient.ApiError as err:
            if err.status != 404:
                self._api_failed("Unable to read DaemonSet calico-system/calico-node", err)
            return False
        node = self.node or knode.build_node(self.name, self.labels, self.taints)
        pod_spec = ((daemonset.get("spec") or {}).get("template") or {}).get("spec") or {}
        if not scheduling.daemon_pod_fits(pod_spec, node):
            return False
        mtu = knode.calico_mtu(daemonset)
        try:
            path = knode.write_calico_conflist(conf_dir, self.name, mtu)
        except OSError as err:
            self._api_failed("Unable to write the CNI configuration", err)
            return False
        raw_line(f"STAND-IN: wrote {path} (mtu {mtu}) as calico-node's install-cni container would: the DaemonSet "
                 f"calico-system/calico-node runs on node {self.name} (no pod is run by the stand-in)")
        return True

    def heartbeat(self):
        endpoint = self.config["containerRuntimeEndpoint"]
        runtime_ok, version, err = runtime_state(endpoint, self.crictl)
        if not runtime_ok:
            self._api_failed("Container runtime not ready", err)
        conf_dir = host_path("/etc/cni/net.d")
        network_ok = knode.cni_configured(conf_dir)
        if runtime_ok and not network_ok and self.install_cni(conf_dir):  # no pod (no init container) without a runtime
            network_ok = knode.cni_configured(conf_dir)
        conditions = self.status.conditions(runtime_ok, network_ok)
        status = knode.build_status(conditions, self.node_ip, self.name, version, self.config.get("maxPods", 110),
                                    self.config.get("port", 10250))
        client = self._client()
        self._remember(client.patch(f"/api/v1/nodes/{self.name}/status", {"status": status}))
        self.renew_lease()

    def renew_lease(self):
        client = self._client()
        path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{self.name}"
        duration = self.config.get("nodeLeaseDurationSeconds", 40)
        try:
            existing = client.get(path)
        except kubeclient.ApiError as err:
            if err.status != 404:
                raise
            client.post("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
                        knode.build_lease(self.name, self.node_uid, duration))
            return
        client.put(path, knode.build_lease(self.name, self.node_uid, duration, existing))

    def sync_mirrors(self):
        client = self._client()
        for key in list(self.pods.removed):
            namespace, name = key
            try:
                client.delete(f"/api/v1/namespaces/{namespace}/pods/{name}-{self.name}")
            except kubeclient.ApiError as err:
                if err.status != 404:
                    raise
            self.mirrors.pop(key, None)
            self.pods.removed.remove(key)
        for pod in list(self.pods.pods.values()):
            path = f"/api/v1/namespaces/{pod.namespace}/pods/{pod.name}-{self.name}"
            if self.mirrors.get(pod.key) != pod.hash:
                try:
                    existing = client.get(path)
                except kubeclient.ApiError as err:
                    if err.status != 404:
                        raise
                    existing = None
                if existing is not None and (existing["metadata"].get("annotations") or {}).get("kubernetes.io/config.mirror") != pod.hash:
                    client.delete(path)
                    existing = None
                if existing is None:
                    client.post(f"/api/v1/namespaces/{pod.namespace}/pods", self.pods.mirror_pod(pod, self.name, self.node_uid))
                self.mirrors[pod.key] = pod.hash
            client.patch(path + "/status", {"status": self.pods.pod_status(pod, self.node_ip)})

    def sync(self):
        """One pass: register if needed, heartbeat + lease, mirror pods.  API failures are logged once a minute."""
        try:
            if self.node_uid is None:
                self.register()
            self.heartbeat()
            self.sync_mirrors()
            self.crashloops.sync(self._client(), self.node_ip)
            if self.serving is not None:
                self.serving.tick(self._client())
        except (kubeclient.ApiError, OSError, ssl.SSLError, ValueError) as err:
            what = "Unable to register node with API server" if self.node_uid is None else "Error updating node status, will retry"
            self._api_failed(what, err)


def _version_requested(value):
    return value not in (None, "false", "False", "0")


def main(argv=None):  # pylint: disable=too-many-return-statements,too-many-branches,too-many-statements,too-many-locals
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        values, deprecated = kconfig.parse_flags(argv)
    except kconfig.FlagError as err:
        klog(f'"kubelet {STANDIN_BANNER}" version="{git_version()}"')
        return command_failed(f"failed to parse kubelet flag: {err}")
    except kconfig.ValidationError as err:
        klog(f'"kubelet {STANDIN_BANNER}" version="{git_version()}"')
        return command_failed(str(err))
    if _version_requested(values.get("version")):
        print(f"Kubernetes {git_version()} {STANDIN_BANNER}")
        return 0
    if values.get("help"):
        print(f"kubelet {STANDIN_BANNER}\n\nFlags implemented: " + ", ".join("--" + f for f in sorted(kconfig.FLAGS)))
        return 0
    klog(f'"kubelet {STANDIN_BANNER}" version="{git_version()}"')
    VERBOSITY[0] = values.get("v", 0)
    for name, message in deprecated:
        raw_line(f"Flag --{name} has been deprecated, {message}")
    try:
        kconfig.validate_node_labels(values["node-labels"])
    except kconfig.ValidationError as err:
        return command_failed(f"failed to validate kubelet flags: {err}")
    if "pod-infra-container-image" in values:
        klog('"--pod-infra-container-image will not be pruned by the image garbage collector in kubelet and should also be set in the remote runtime"')
    config = dict(kconfig.DEFAULTS)
    if values.get("config"):
        path = values["config"]
        try:
            config, warnings = kconfig.load_config_file(path, host_path(path))
        except kconfig.ConfigError as err:
            return command_failed(f"failed to load kubelet config file, path: {path}, error: {err}")
        for warning in warnings:
            klog('"Using lenient decoding as strict decoding failed" err=' + _quote(warning))
    kconfig.apply_flag_overrides(config, values)
    try:
        kconfig.validate_config(config)
    except kconfig.ValidationError as err:
        return command_failed(f"failed to validate kubelet configuration, error: {err}, path: {values.get('config', '')}")
    for name in kconfig.NO_EFFECT_FLAGS:
        if name in values:
            klog(f'"Flag accepted but has no effect in the stand-in" flag="--{name}"', "W")
    if config.get("failSwapOn", True) and swap_lines():
        return command_failed("failed to run Kubelet: running with swap on is not supported, please disable swap or set "
                              f"--fail-swap-on flag to false. /proc/swaps contained: {swap_lines()}")
    try:
        name = knode.node_name(values.get("hostname-override"))
    except ValueError as err:
        return command_failed(f"failed to run Kubelet: {err}")
    node_ip = values.get("node-ip") or knode.default_route_ip()
    for ip in node_ip.split(","):
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            return command_failed(f'failed to run Kubelet: failed to parse node IP "{node_ip}": invalid IP address {ip!r}')
    cert_dir = values.get("cert-dir", "/var/lib/kubelet/pki")

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    kubeconfig = values.get("kubeconfig")
    if kubeconfig:
        if values.get("bootstrap-kubeconfig"):
            try:
                bootstrap.load_client_cert(kubeconfig, values["bootstrap-kubeconfig"], cert_dir, name,
                                           lambda msg: klog(msg if msg.startswith('"') else _quote(msg)))
            except bootstrap.BootstrapError as err:
                return command_failed(f"failed to run Kubelet: {err}")
            except (kubeclient.ApiError, OSError, ssl.SSLError) as err:
                return command_failed(f"failed to run Kubelet: unable to bootstrap the client certificate: {err}")
        elif not os.path.exists(host_path(kubeconfig)):
            return command_failed(f"failed to run Kubelet: invalid kubeconfig: stat {kubeconfig}: no such file or directory")
    else:
        klog('"No API server defined - no node status update will be sent"')

    servers = []
    serving = None
    try:
        if config.get("healthzPort"):
            servers.append(_serve(config.get("healthzBindAddress", "127.0.0.1"), config["healthzPort"]))
        context = serving_context(cert_dir, name, node_ip)
        require_client_certs(context, ((config.get("authentication") or {}).get("x509") or {}).get("clientCAFile"))
        if kubeconfig and config.get("serverTLSBootstrap"):
            serving = kserving.ServingCertificate(cert_dir, name, node_ip, context, klog)
            serving.reload()
        servers.append(_serve(config.get("address", "0.0.0.0"), config.get("port", 10250), context))
    except OSError as err:
        for server in servers:
            server.shutdown()
        return command_failed(f"failed to run Kubelet: failed to listen: {err}")

    static_path = config.get("staticPodPath") or ""
    pods = kstatic.StaticPodManager(host_path(static_path) if static_path else "", klog, raw_line)
    kubelet = None
    if kubeconfig:
        kubelet = Kubelet(name, node_ip, dict(knode.default_labels(name), **values["node-labels"]),
                          config.get("registerWithTaints") or [], config,
                          lambda: bootstrap.client_from_conf(bootstrap.load_kubeconfig(kubeconfig)), pods, serving=serving)
    if kubelet is not None and len(servers) > 0:
        servers[-1].kubelet = kubelet
    klog(f'"Kubelet stand-in started" node="{name}" nodeIP="{node_ip}" staticPodPath="{static_path}"')
    last_scan = last_sync = -1e9
    try:
        while not stop.is_set():
            now = time.monotonic()
            if now - last_scan >= 2:
                pods.scan()
                last_scan = now
            pods.tick()
            if kubelet is not None and config.get("registerNode", True) and now - last_sync >= 10:
                kubelet.sync()
                last_sync = time.monotonic()
            stop.wait(1)
    finally:
        klog('"Shutting down the kubelet stand-in; stopping static pod children"')
        pods.stop_all()
        for server in servers:
            server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
