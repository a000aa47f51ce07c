"""Unit tests of the kubelet STAND-IN's TLS bootstrap against an in-memory API that signs with a test CA."""
import base64
import datetime
import os
import sys

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from lab.standin import kubelet_bootstrap as kb  # noqa: E402  pylint: disable=wrong-import-position


def make_ca():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=10))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    return key, cert


class SigningApi:
    """Accepts a CSR, answers it unsigned on the first GET and signed on the next ones."""

    def __init__(self, ca_key, ca_cert, deny=False):
        self.ca_key, self.ca_cert, self.deny = ca_key, ca_cert, deny
        self.csrs = {}
        self.gets = 0

    def post(self, path, obj):
        assert path == kb.CSR_PATH
        self.csrs[obj["metadata"]["name"]] = obj
        return obj

    def get(self, path):
        name = path.rsplit("/", 1)[-1]
        obj = dict(self.csrs[name])
        self.gets += 1
        if self.deny:
            obj["status"] = {"conditions": [{"type": "Denied", "status": "True", "reason": "NoWay", "message": "denied by test"}]}
            return obj
        if self.gets < 2:
            return obj
        request = x509.load_pem_x509_csr(base64.b64decode(obj["spec"]["request"]))
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(request.subject).issuer_name(self.ca_cert.subject)
                .public_key(request.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=365))
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .sign(self.ca_key, hashes.SHA256()))
        obj["status"] = {"certificate": base64.b64encode(cert.public_bytes(serialization.Encoding.PEM)).decode()}
        return obj


@pytest.fixture(name="root")
def fixture_root(tmp_path, monkeypatch):
    monkeypatch.setenv("IRONSTONE_STANDIN_ROOT", str(tmp_path))
    return tmp_path


def write_bootstrap(root, ca_cert):
    doc = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "kubernetes", "cluster": {
            "server": "https://10.0.0.11:6443",
            "certificate-authority-data": base64.b64encode(ca_cert.public_bytes(serialization.Encoding.PEM)).decode()}}],
        "contexts": [{"name": "tls-bootstrap-token-user@kubernetes",
                      "context": {"cluster": "kubernetes", "user": "tls-bootstrap-token-user"}}],
        "current-context": "tls-bootstrap-token-user@kubernetes",
        "users": [{"name": "tls-bootstrap-token-user", "user": {"token": "abcdef.0123456789abcdef"}}],
    }
    path = root / "etc" / "kubernetes" / "bootstrap-kubelet.conf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc))


def test_bootstrap_writes_cert_symlink_and_kubeconfig(root, monkeypatch):
    monkeypatch.setattr(kb.time, "sleep", lambda _s: None)
    ca_key, ca_cert = make_ca()
    write_bootstrap(root, ca_cert)
    api = SigningApi(ca_key, ca_cert)
    seen_conf = {}

    def factory(conf):
        seen_conf.update(conf)
        return api

    logs = []
    assert kb.load_client_cert("/etc/kubernetes/kubelet.conf", "/etc/kubernetes/bootstrap-kubelet.conf",
                               "/var/lib/kubelet/pki", "worker-1", logs.append, client_factory=factory) is True
    assert seen_conf["token"] == "abcdef.0123456789abcdef" and seen_conf["server"] == "https://10.0.0.11:6443"
    (csr,) = list(api.csrs.values())
    assert csr["metadata"]["name"].startswith("csr-")
    assert csr["spec"]["signerName"] == "kubernetes.io/kube-apiserver-client-kubelet"
    assert csr["spec"]["usages"] == ["digital signature", "client auth"]
    request = x509.load_pem_x509_csr(base64.b64decode(csr["spec"]["request"]))
    assert request.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "system:node:worker-1"
    assert request.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:nodes"
    assert isinstance(request.public_key(), ec.EllipticCurvePublicKey) and request.public_key().curve.name == "secp256r1"

    pki = root / "var" / "lib" / "kubelet" / "pki"
    current = pki / "kubelet-client-current.pem"
    assert current.is_symlink()
    target = os.readlink(current)
    assert os.path.basename(target).startswith("kubelet-client-2") and target.endswith(".pem")
    pem = current.read_bytes()
    assert b"BEGIN CERTIFICATE" in pem and b"BEGIN EC PRIVATE KEY" in pem
    assert not (pki / "kubelet-client.key.tmp").exists()
    assert oct(os.stat(target).st_mode & 0o777) == "0o600"

    conf = yaml.safe_load((root / "etc" / "kubernetes" / "kubelet.conf").read_text())
    assert conf["users"] == [{"name": "default-auth", "user": {
        "client-certificate": "/var/lib/kubelet/pki/kubelet-client-current.pem",
        "client-key": "/var/lib/kubelet/pki/kubelet-client-current.pem"}}]
    assert conf["clusters"][0]["cluster"]["server"] == "https://10.0.0.11:6443"
    assert conf["clusters"][0]["cluster"]["certificate-authority-data"]
    assert conf["current-context"] == "default-context"

    # the written kubeconfig loads (paths resolved under the test root), cert and key separated
    loaded = kb.load_kubeconfig("/etc/kubernetes/kubelet.conf")
    assert loaded["cert"].count(b"BEGIN CERTIFICATE") == 1 and b"PRIVATE KEY" not in loaded["cert"]
    assert b"EC PRIVATE KEY" in loaded["key"]
    assert kb.client_from_conf(loaded).server == "https://10.0.0.11:6443"  # ssl accepted the cert/key pair
    # a second start finds a valid client config and does not bootstrap again
    assert kb.client_config_still_valid("/etc/kubernetes/kubelet.conf")
    assert kb.load_client_cert("/etc/kubernetes/kubelet.conf", "/etc/kubernetes/bootstrap-kubelet.conf",
                               "/var/lib/kubelet/pki", "worker-1", logs.append,
                               client_factory=lambda conf: pytest.fail("bootstrapped twice")) is False


def test_denied_csr_fails(root, monkeypatch):
    monkeypatch.setattr(kb.time, "sleep", lambda _s: None)
    ca_key, ca_cert = make_ca()
    write_bootstrap(root, ca_cert)
    with pytest.raises(kb.BootstrapError, match="certificate signing request is denied, reason: NoWay"):
        kb.load_client_cert("/etc/kubernetes/kubelet.conf", "/etc/kubernetes/bootstrap-kubelet.conf",
                            "/var/lib/kubelet/pki", "worker-1", lambda _m: None,
                            client_factory=lambda conf: SigningApi(ca_key, ca_cert, deny=True))
    # the key is kept for the next attempt, as the real kubelet keeps kubelet-client.key.tmp
    assert (root / "var" / "lib" / "kubelet" / "pki" / "kubelet-client.key.tmp").exists()


def test_wait_times_out():
    class Never:
        def get(self, _path):
            return {"status": {}}
    clock = iter(range(0, 1000, 10))
    with pytest.raises(kb.BootstrapError, match="timed out waiting"):
        kb.wait_for_certificate(Never(), "csr-x", timeout=30, sleep=lambda _s: None, clock=lambda: next(clock))


def test_missing_bootstrap_file(root):
    with pytest.raises(kb.BootstrapError) as err:
        kb.load_client_cert("/etc/kubernetes/kubelet.conf", "/etc/kubernetes/bootstrap-kubelet.conf",
                            "/var/lib/kubelet/pki", "n", lambda _m: None)
    assert str(err.value) == "unable to load bootstrap kubeconfig: stat /etc/kubernetes/bootstrap-kubelet.conf: no such file or directory"
