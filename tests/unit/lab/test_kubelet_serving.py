"""Unit tests of the kubelet STAND-IN's serving certificate (serverTLSBootstrap: true; lab/standin/kubelet_serving.py).

First against an in-memory API, then end to end: the stand-in kubelet's request, the collection's approver
(plugins/modules/kubelet_serving_csr.py through the python kubernetes client) and the kube-apiserver STAND-IN's signer,
against a throwaway real TLS etcd (client port 23796, peer 23806; API server 127.0.0.1:16456).  Not the real kubelet
nor the real kube-apiserver.
"""
import base64
import datetime
import ipaddress
import os
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import threading
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import standin_pki  # noqa: E402  pylint: disable=wrong-import-position
from lab.standin import kubelet  # noqa: E402  pylint: disable=wrong-import-position
from lab.standin import kubelet_config as kc  # noqa: E402  pylint: disable=wrong-import-position
from lab.standin import kubelet_node as kn  # noqa: E402  pylint: disable=wrong-import-position
from lab.standin import kubelet_serving as ks  # noqa: E402  pylint: disable=wrong-import-position
from lab.standin.kubeclient import ApiError, KubeClient  # noqa: E402  pylint: disable=wrong-import-position

ETCD = shutil.which("etcd")
PORT, ETCD_PORT, PEER_PORT = 16456, 23796, 23806
CSRS = "/apis/certificates.k8s.io/v1/certificatesigningrequests"


def _ca():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=10))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    return key, cert


def _sign(ca, request_pem, days=365, sans=None, start=None):
    ca_key, ca_cert = ca
    request = x509.load_pem_x509_csr(request_pem)
    start = start or datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    builder = (x509.CertificateBuilder().subject_name(request.subject).issuer_name(ca_cert.subject)
               .public_key(request.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=days))
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False))
    san = sans or request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return builder.add_extension(san, critical=False).sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


class SigningApi:
    """CSRs in memory: answered pending until approve() (or deny()), then signed with a test CA."""

    def __init__(self):
        self.ca = _ca()
        self.csrs = {}
        self.calls = []
        self.fail = None

    def post(self, path, obj):
        self.calls.append(("POST", path))
        if self.fail:
            raise self.fail
        assert path == CSRS
        self.csrs[obj["metadata"]["name"]] = dict(obj, status={})
        return self.csrs[obj["metadata"]["name"]]

    def get(self, path):
        self.calls.append(("GET", path))
        name = path.rsplit("/", 1)[-1]
        if name not in self.csrs:
            raise ApiError(404, "NotFound", f'certificatesigningrequests.certificates.k8s.io "{name}" not found')
        return self.csrs[name]

    def only(self):
        assert len(self.csrs) == 1
        return next(iter(self.csrs.values()))

    def approve(self, **kwargs):
        csr = self.only()
        csr["status"] = {"conditions": [{"type": "Approved", "status": "True"}],
                         "certificate": base64.b64encode(_sign(self.ca, base64.b64decode(csr["spec"]["request"]), **kwargs)).decode()}

    def deny(self):
        self.only()["status"] = {"conditions": [{"type": "Denied", "status": "True", "reason": "NoWay"}]}


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture(name="root")
def fixture_root(tmp_path, monkeypatch):
    monkeypatch.setenv("IRONSTONE_STANDIN_ROOT", str(tmp_path))
    return tmp_path


def manager(context=None, clock=None, node_ip="10.0.0.21"):
    logs = []
    return ks.ServingCertificate("/var/lib/kubelet/pki", "w1", node_ip, context, logs.append, clock or Clock()), logs


def test_the_request_is_the_real_kubelets(root):  # pylint: disable=unused-argument
    serving, logs = manager(node_ip="10.0.0.21,fd00::21")
    api = SigningApi()
    assert serving.tick(api) == "requested"
    csr = api.only()
    assert csr["metadata"]["name"].startswith("csr-")
    assert csr["spec"]["signerName"] == "kubernetes.io/kubelet-serving"
    assert csr["spec"]["usages"] == ["digital signature", "server auth"]
    assert "username" not in csr["spec"]  # the API server sets the requester from the kubelet's credentials
    request = x509.load_pem_x509_csr(base64.b64decode(csr["spec"]["request"]))
    assert request.subject.rfc4514_string() == "CN=system:node:w1,O=system:nodes"
    san = request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["w1"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.0.0.21"), ipaddress.ip_address("fd00::21")]
    assert isinstance(request.public_key(), ec.EllipticCurvePublicKey)
    assert "Rotating certificates" in logs[0]


def test_waits_without_blocking_then_writes_the_issued_pair(root):
    serving, _logs = manager()
    api = SigningApi()
    assert serving.tick(api) == "requested"
    for dummy in range(3):
        assert serving.tick(api) == "waiting"  # one GET each, no sleeping
    assert len(api.csrs) == 1
    api.approve()
    assert serving.tick(api) == "issued"
    current = root / "var/lib/kubelet/pki/kubelet-server-current.pem"
    assert current.is_symlink() and os.readlink(current).startswith(str(root / "var/lib/kubelet/pki/kubelet-server-"))
    assert stat.S_IMODE(os.stat(current).st_mode) == 0o600
    pair = ks.load_current("/var/lib/kubelet/pki")
    assert pair is not None
    cert, key = pair
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    assert serving.tick(api) == "ok" and len(api.csrs) == 1  # nothing more to ask for
    assert ks.ServingCertificate("/var/lib/kubelet/pki", "w1", "10.0.0.21").tick(api) == "ok"  # a restarted kubelet keeps it


def test_a_denied_or_deleted_request_is_replaced_after_a_back_off(root):  # pylint: disable=unused-argument
    clock = Clock()
    serving, logs = manager(clock=clock)
    api = SigningApi()
    serving.tick(api)
    api.deny()
    assert serving.tick(api) == "replaced"
    assert any("denied" in line for line in logs)
    assert serving.tick(api) == "waiting" and len(api.csrs) == 1
    clock.now += ks.RETRY_SECONDS
    assert serving.tick(api) == "requested" and len(api.csrs) == 2
    api.csrs.clear()
    assert serving.tick(api) == "replaced"
    clock.now += ks.RETRY_SECONDS
    assert serving.tick(api) == "requested"


def test_api_errors_are_logged_once_a_minute_and_retried(root):  # pylint: disable=unused-argument
    clock = Clock()
    serving, logs = manager(clock=clock)
    api = SigningApi()
    api.fail = ApiError(403, "Forbidden", "nope")
    assert serving.tick(api) == "error"
    assert serving.tick(api) == "waiting"
    clock.now += ks.RETRY_SECONDS / 2
    serving.not_before = clock.now
    assert serving.tick(api) == "error"
    assert sum("will retry" in line for line in logs) == 1  # not again within the minute
    clock.now += ks.RETRY_SECONDS
    assert serving.tick(api) == "error"
    assert sum("will retry" in line for line in logs) == 2
    api.fail = None
    clock.now += ks.RETRY_SECONDS
    assert serving.tick(api) == "requested"


def test_rotation_due_or_other_sans_ask_again(root):  # pylint: disable=unused-argument
    serving, _logs = manager()
    api = SigningApi()
    serving.tick(api)
    old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=9)
    api.approve(days=10, start=old)  # 90% of its life is gone
    assert serving.tick(api) == "issued"
    pair = ks.load_current("/var/lib/kubelet/pki")
    assert ks.needs_new(pair, "w1", "10.0.0.21") == "the serving certificate is past 80% of its lifetime"
    assert serving.tick(api) == "requested"
    api.csrs.pop(next(n for n in api.csrs if n != serving.csr_name))
    api.approve(sans=x509.SubjectAlternativeName([x509.DNSName("w1")]))
    assert serving.tick(api) == "issued"
    pair = ks.load_current("/var/lib/kubelet/pki")
    assert ks.needs_new(pair, "w1", "10.0.0.21") == "the serving certificate's SANs differ from the node's addresses"
    assert ks.needs_new(None, "w1", "10.0.0.21") == "no serving certificate yet"


def _serve_once(context):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    server = context.wrap_socket(listener, server_side=True)

    def accept():
        try:
            conn, _addr = server.accept()
            conn.close()
        except (OSError, ssl.SSLError):
            pass
    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    client = ssl.create_default_context()
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with client.wrap_socket(raw) as tls:
            der = tls.getpeercert(binary_form=True)
    thread.join(5)
    server.close()
    return x509.load_der_x509_certificate(der)


def test_the_tls_context_switches_to_the_issued_certificate(root):  # pylint: disable=unused-argument
    context = kubelet.serving_context("/var/lib/kubelet/pki", "w1", "10.0.0.21")
    assert "@" in _serve_once(context).subject.rfc4514_string()  # the self-signed kubelet.crt (CN=w1@<stamp>)
    serving, _logs = manager(context=context)
    assert serving.reload() is False
    api = SigningApi()
    serving.tick(api)
    api.approve()
    assert serving.tick(api) == "issued"
    served = _serve_once(context)
    assert served.subject.rfc4514_string() == "CN=system:node:w1,O=system:nodes"
    assert served.issuer == api.ca[1].subject


def test_the_kubelet_ticks_it_from_its_status_loop(root):  # pylint: disable=unused-argument
    ticks = []

    class Serving:
        def tick(self, client):
            ticks.append(client)
            return "waiting"

    class NoPods:
        removed = []
        pods = {}

    class Api:
        def post(self, path, obj):
            return dict(obj, metadata=dict(obj["metadata"], uid="u"))

        def get(self, path, query=None):
            if query is not None:  # the crash-loop pass lists this node's pods
                return {"items": []}
            raise ApiError(404, "NotFound", "nope")

        def patch(self, path, obj):
            return obj

        def put(self, path, obj):
            return obj

    api = Api()
    node = kubelet.Kubelet("w1", "10.0.0.21", kn.default_labels("w1"), [], dict(kc.DEFAULTS), lambda: api, NoPods(),
                           crictl=lambda args: (1, "", "down"), serving=Serving())
    node.sync()
    assert ticks == [api]


def test_server_tls_bootstrap_is_a_known_kubelet_configuration_field():
    config, warnings = kc.decode_config(
        "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nserverTLSBootstrap: true\n")
    assert config["serverTLSBootstrap"] is True and warnings == []


# --- end to end: stand-in kubelet request, the collection's approver, the API stand-in's signer ------------------------

class Env:
    def __init__(self, directory, ctl):
        self.dir = directory
        self.ctl = ctl

    def path(self, name):
        return os.path.join(self.dir, name)

    def read(self, name):
        with open(self.path(name), "rb") as handle:
            return handle.read()

    def client(self, who="admin"):
        return KubeClient(f"https://127.0.0.1:{PORT}", ca=self.read("ca.crt"), cert=self.read(who + ".crt"), key=self.read(who + ".key"))

    def kubeconfig(self):
        path = self.path("admin.conf")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(f"""apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "https://127.0.0.1:{PORT}", certificate-authority: {self.path('ca.crt')}}}}}]
users: [{{name: u, user: {{client-certificate: {self.path('admin.crt')}, client-key: {self.path('admin.key')}}}}}]
contexts: [{{name: x, context: {{cluster: c, user: u}}}}]
current-context: x
""")
        return path


@pytest.fixture(scope="module", name="env")
def env_fixture(tmp_path_factory):
    if ETCD is None:
        pytest.skip("etcd binary not installed")
    from lab.standin import apiserver  # pylint: disable=import-outside-toplevel
    directory = str(tmp_path_factory.mktemp("serving"))
    standin_pki.write_pki(directory, ("n1",))
    with open(os.path.join(directory, "etcd.log"), "wb") as log:
        etcd = subprocess.Popen([  # pylint: disable=consider-using-with
            ETCD, "--name=s", f"--data-dir={directory}/etcd", f"--listen-client-urls=https://127.0.0.1:{ETCD_PORT}",
            f"--advertise-client-urls=https://127.0.0.1:{ETCD_PORT}", f"--listen-peer-urls=http://127.0.0.1:{PEER_PORT}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{PEER_PORT}", f"--initial-cluster=s=http://127.0.0.1:{PEER_PORT}",
            f"--cert-file={directory}/etcd-server.crt", f"--key-file={directory}/etcd-server.key",
            f"--trusted-ca-file={directory}/etcd-ca.crt", "--client-cert-auth"], stdout=subprocess.DEVNULL, stderr=log)
    httpd = stop = None
    try:
        assert standin_pki.wait_port(ETCD_PORT), "etcd did not start"
        flags = [
            "--advertise-address=127.0.0.1", f"--client-ca-file={directory}/ca.crt", "--enable-bootstrap-token-auth=true",
            f"--etcd-cafile={directory}/etcd-ca.crt", f"--etcd-certfile={directory}/etcd-client.crt",
            f"--etcd-keyfile={directory}/etcd-client.key", f"--etcd-servers=https://127.0.0.1:{ETCD_PORT}",
            f"--secure-port={PORT}", "--bind-address=127.0.0.1", "--service-cluster-ip-range=10.96.0.0/12",
            f"--tls-cert-file={directory}/apiserver.crt", f"--tls-private-key-file={directory}/apiserver.key", "--v=0"]
        api, httpd, ctl = apiserver.build(apiserver.parse_flags(flags), apiserver.Logger(-1))
        stop = threading.Event()
        threading.Thread(target=apiserver.bootstrap, args=(api, api.log, stop), daemon=True).start()
        assert api.ready.wait(20)
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
        yield Env(directory, ctl)  # the controllers are run by hand (ctl.csrs()), not in their loop
    finally:
        if stop is not None:
            stop.set()
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        etcd.terminate()
        etcd.wait(10)


def _approver_run(env, nodes, check_mode=False):
    kubernetes_config = pytest.importorskip("kubernetes.config")
    from ansible_collections.ironstone.k8s.plugins.modules import kubelet_serving_csr  # pylint: disable=import-outside-toplevel

    class Module:
        params = {"nodes": nodes, "kubeconfig": env.kubeconfig(), "context": None}

    Module.check_mode = check_mode
    return kubelet_serving_csr.run(Module(), kubernetes_config.new_client_from_config(config_file=env.kubeconfig()))


def test_end_to_end_request_approval_and_issue(env, root):
    admin = env.client()
    admin.post("/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
    admin.patch("/api/v1/nodes/n1/status", {"status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.21"},
                                                                     {"type": "Hostname", "address": "n1"}]}})
    serving = ks.ServingCertificate("/var/lib/kubelet/pki", "n1", "10.0.0.21", None, print)
    node = env.client("node-n1")
    assert serving.tick(node) == "requested"
    mine = serving.csr_name
    stored = admin.get(f"{CSRS}/{mine}")
    assert stored["spec"]["username"] == "system:node:n1" and "system:nodes" in stored["spec"]["groups"]
    # A forged request: the admin asks for a serving certificate naming n1 with an address n1 does not have.
    key = ec.generate_private_key(ec.SECP256R1())
    forged = (x509.CertificateSigningRequestBuilder()
              .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"),
                                       x509.NameAttribute(NameOID.COMMON_NAME, "system:node:n1")]))
              .add_extension(x509.SubjectAlternativeName([x509.DNSName("n1"), x509.IPAddress(ipaddress.ip_address("10.9.9.9"))]),
                             critical=False).sign(key, hashes.SHA256()))
    admin.post(CSRS, {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest", "metadata": {"name": "forged"},
                      "spec": {"request": base64.b64encode(forged.public_bytes(serialization.Encoding.PEM)).decode(),
                               "signerName": "kubernetes.io/kubelet-serving", "usages": ["digital signature", "server auth"]}})
    # And one from the node itself with the same foreign address.
    node.post(CSRS, {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest", "metadata": {"name": "foreign-san"},
                     "spec": {"request": base64.b64encode(forged.public_bytes(serialization.Encoding.PEM)).decode(),
                              "signerName": "kubernetes.io/kubelet-serving", "usages": ["digital signature", "server auth"]}})
    env.ctl.csrs()
    assert serving.tick(node) == "waiting"  # the stand-in signer issues nothing unapproved, as the real one

    check = _approver_run(env, ["n1"], check_mode=True)
    assert [e["name"] for e in check["approved"]] == [mine] and check["api_server"]["standin"] is True
    assert not admin.get(f"{CSRS}/{mine}").get("status", {}).get("conditions")

    result = _approver_run(env, ["n1"])
    assert result["changed"] is True and [e["name"] for e in result["approved"]] == [mine]
    reasons = dict((e["name"], e["reason"]) for e in result["refused"])
    assert sorted(reasons) == ["foreign-san", "forged"]
    assert reasons["forged"] == "its requester kubernetes-admin is not a node (system:node:<name>)"
    assert reasons["foreign-san"] == "it asks for 10.9.9.9, which the Node n1 does not report in status.addresses"
    env.ctl.csrs()
    assert serving.tick(node) == "issued"
    cert, _key = ks.load_current("/var/lib/kubelet/pki")
    assert cert.issuer.rfc4514_string() == "CN=kubernetes"
    assert "certificate" not in admin.get(f"{CSRS}/forged").get("status", {})

    again = _approver_run(env, ["n1"])
    assert again["changed"] is False and sorted(e["name"] for e in again["refused"]) == ["foreign-san", "forged"]
    assert [(e["name"], e["state"]) for e in again["done"]] == [(mine, "issued")]


# --- the monitoring stage's objects against the API stand-in (server-side apply, as kubernetes.core sends them) ---------

def _apply(client, obj, dry_run=False):
    from lab.standin.kubeclient import APPLY_PATCH  # pylint: disable=import-outside-toplevel
    group_version = obj["apiVersion"]
    plural = {"ServiceAccount": "serviceaccounts", "ClusterRole": "clusterroles", "RoleBinding": "rolebindings",
              "ClusterRoleBinding": "clusterrolebindings", "Service": "services", "Deployment": "deployments",
              "APIService": "apiservices", "PrometheusRule": "prometheusrules", "Namespace": "namespaces"}[obj["kind"]]
    base = f"/api/{group_version}" if "/" not in group_version else f"/apis/{group_version}"
    namespace = obj["metadata"].get("namespace")
    path = f"{base}/namespaces/{namespace}/{plural}/{obj['metadata']['name']}" if namespace else f"{base}/{plural}/{obj['metadata']['name']}"
    query = {"fieldManager": "ironstone", "force": "true"}
    if dry_run:
        query["dryRun"] = "All"
    return client.patch(path, obj, content_type=APPLY_PATCH, query=query)


def _objects():
    from ansible_collections.ironstone.k8s.plugins.module_utils import metrics_server  # pylint: disable=import-outside-toplevel
    return metrics_server, metrics_server.objects({"version": "0.8.1", "registry": "registry.k8s.io", "kubelet_insecure_tls": False})


def test_metrics_server_objects_apply_and_the_deployment_becomes_ready(env):
    _ms, objects = _objects()
    admin = env.client()
    admin.post("/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "ready-1", "labels": {"kubernetes.io/os": "linux"}}})
    admin.patch("/api/v1/nodes/ready-1/status", {"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}})
    builtin = [o for o in objects if o["kind"] != "APIService"]
    for obj in builtin:
        _apply(admin, obj, dry_run=True)
    assert not admin.exists("/apis/apps/v1/namespaces/kube-system/deployments/metrics-server")  # the dry run stored nothing
    first = [_apply(admin, obj) for obj in builtin]
    again = [_apply(admin, obj) for obj in builtin]
    assert [o["metadata"]["resourceVersion"] for o in first] == [o["metadata"]["resourceVersion"] for o in again]
    env.ctl.deployments()
    deployment = admin.get("/apis/apps/v1/namespaces/kube-system/deployments/metrics-server")
    status = deployment["status"]
    # What kubernetes.core's wait for a Deployment checks (waiter.deployment_ready).
    assert deployment["spec"]["replicas"] == status["replicas"] == status["availableReplicas"] == 1
    assert status["observedGeneration"] == deployment["metadata"]["generation"] and not status.get("unavailableReplicas")
    assert [c["status"] for c in status["conditions"] if c["type"] == "Available"] == ["True"]


def test_the_apiservice_applies_when_the_standin_serves_it(env):
    _ms, objects = _objects()
    admin = env.client()
    groups = [g["name"] for g in admin.get("/apis")["groups"]]
    if "apiregistration.k8s.io" not in groups:
        pytest.skip("the kube-apiserver STAND-IN does not serve apiregistration.k8s.io/v1 APIService "
                    "(lab/standin/apiserver/registry.py BUILTIN)")
    apiservice = [o for o in objects if o["kind"] == "APIService"][0]
    _apply(admin, apiservice, dry_run=True)
    stored = _apply(admin, apiservice)
    assert _apply(admin, apiservice)["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]
    assert admin.get("/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io")["spec"]["service"]["name"] == "metrics-server"


def test_the_prometheusrule_applies_against_a_test_crd(env):
    metrics_server, _objs = _objects()
    admin = env.client()
    admin.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", TEST_PROMETHEUSRULE_CRD)
    deadline = time.time() + 10
    while time.time() < deadline and "monitoring.coreos.com" not in [g["name"] for g in admin.get("/apis")["groups"]]:
        time.sleep(0.2)
    rule = metrics_server.pod_restart_rule({"namespaces": "prod|staging", "namespace": "monitoring", "labels": {}})
    _apply(admin, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring"}})
    stored = _apply(admin, rule)
    assert stored["spec"]["groups"][0]["rules"][0]["annotations"]["summary"].startswith("Pod {{ $labels.pod }}")
    assert _apply(admin, rule)["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]
    bad = dict(rule, spec={"groups": [{"name": "x", "rules": [{"alert": "A", "expr": "up", "unknown": 1}]}]})
    with pytest.raises(ApiError) as err:
        _apply(admin, bad, dry_run=True)
    assert "unknown" in err.value.message


# A TEST CRD (not prometheus-operator's): the PrometheusRule fields the stage renders, in a structural schema.
TEST_PROMETHEUSRULE_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "prometheusrules.monitoring.coreos.com", "labels": {"ironstone.k8s/test-crd": "true"}},
    "spec": {"group": "monitoring.coreos.com", "scope": "Namespaced",
             "names": {"kind": "PrometheusRule", "plural": "prometheusrules", "singular": "prometheusrule", "listKind": "PrometheusRuleList"},
             "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                 "type": "object", "properties": {"spec": {"type": "object", "properties": {"groups": {"type": "array", "items": {
                     "type": "object", "required": ["name"], "properties": {
                         "name": {"type": "string"},
                         "rules": {"type": "array", "items": {"type": "object", "required": ["expr"], "properties": {
                             "alert": {"type": "string"}, "expr": {"type": "string"}, "for": {"type": "string"},
                             "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                             "annotations": {"type": "object", "additionalProperties": {"type": "string"}}}}}}}}}}}}}}]},
}
