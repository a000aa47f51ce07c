"""Unit tests of ``kubeadm kubeconfig user`` of the kubeadm STAND-IN (lab/standin/kubeadm_kubeconfig.py).

A temporary root holds the cluster CA; the printed kubeconfig is parsed and its client certificate checked
(subject, validity, signature by the CA) and handed to the kube-apiserver stand-in's authentication and
authorization.
"""
import base64
import datetime
import os
import sys

import pytest
import yaml
from cryptography.x509.oid import NameOID

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# pylint: disable=wrong-import-position,redefined-outer-name
from lab.standin import kubeadm  # noqa: E402
from lab.standin import kubeadm_env as env  # noqa: E402
from lab.standin import pki  # noqa: E402
from lab.standin.apiserver import server as apiserver  # noqa: E402

PKI = "/etc/kubernetes/pki"
CONFIG = """\
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: 10.0.0.11
  bindPort: 6444
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
clusterName: lab
"""


@pytest.fixture
def node(tmp_path, monkeypatch):
    """A node root with the cluster CA (cert and key) under /etc/kubernetes/pki."""
    root = tmp_path / "node"
    monkeypatch.setenv("IRONSTONE_STANDIN_ROOT", str(root))
    monkeypatch.setattr(env, "default_address", lambda: "10.0.0.99")
    monkeypatch.setattr(env, "hostname", lambda: "cp-1")
    ca, ca_key = pki.new_ca("kubernetes")
    env.write_file(f"{PKI}/ca.crt", pki.cert_pem(ca))
    env.write_file(f"{PKI}/ca.key", pki.key_pem(ca_key), mode=0o600)
    return {"root": root, "ca": ca, "tmp": tmp_path}


def run(argv, capsys):
    rc = kubeadm.main(argv)
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def write_config(node, text):
    path = node["tmp"] / "kubeadm.yaml"
    path.write_text(text)
    return str(path)


def client_cert(conf):
    return pki.load_cert(base64.b64decode(conf["users"][0]["user"]["client-certificate-data"]))


def subject_values(cert, oid):
    return [a.value for a in cert.subject.get_attributes_for_oid(oid)]


def test_user_kubeconfig_from_config(node, capsys):
    before = datetime.datetime.now(datetime.timezone.utc)
    rc, out, err = run(["kubeconfig", "user", "--client-name", "alice", "--org", "kubeadm:cluster-admins",
                        "--org=team-a,team-b", "--validity-period", "24h", "--config", write_config(node, CONFIG)], capsys)
    assert rc == 0, err
    assert err.splitlines()[0].startswith("STAND-IN")
    assert out.endswith("\n\n")  # fmt.Fprintln of the serialized kubeconfig
    conf = yaml.safe_load(out)
    assert conf["clusters"][0]["name"] == "lab"
    assert conf["clusters"][0]["cluster"]["server"] == "https://10.0.0.11:6444"
    assert base64.b64decode(conf["clusters"][0]["cluster"]["certificate-authority-data"]) == pki.cert_pem(node["ca"])
    assert conf["contexts"] == [{"context": {"cluster": "lab", "user": "alice"}, "name": "alice@lab"}]
    assert conf["current-context"] == "alice@lab"
    assert conf["users"][0]["name"] == "alice"
    cert = client_cert(conf)
    key = pki.load_key(base64.b64decode(conf["users"][0]["user"]["client-key-data"]))
    assert pki.keys_match(cert, key)
    assert pki.signed_by(cert, node["ca"])
    assert subject_values(cert, NameOID.COMMON_NAME) == ["alice"]
    assert subject_values(cert, NameOID.ORGANIZATION_NAME) == ["kubeadm:cluster-admins", "team-a", "team-b"]
    expires = pki.not_after_utc(cert)
    assert before + datetime.timedelta(hours=24) - datetime.timedelta(seconds=5) <= expires
    assert expires <= datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=24, seconds=5)
    # nothing is written on the node
    assert sorted(os.listdir(node["root"] / "etc" / "kubernetes" / "pki")) == ["ca.crt", "ca.key"]


def test_user_defaults_and_control_plane_endpoint(node, capsys):
    rc, out, err = run(["kubeconfig", "user", "--client-name=bob"], capsys)
    assert rc == 0, err
    conf = yaml.safe_load(out)
    assert conf["clusters"][0]["name"] == "kubernetes" and conf["current-context"] == "bob@kubernetes"
    assert conf["clusters"][0]["cluster"]["server"] == "https://10.0.0.99:6443"  # the default interface's address
    cert = client_cert(conf)
    assert subject_values(cert, NameOID.ORGANIZATION_NAME) == []  # kubeadm's default: no organization
    days = (pki.not_after_utc(cert) - datetime.datetime.now(datetime.timezone.utc)).total_seconds() / 86400
    assert 364.9 < days <= 365.0  # 8760h0m0s
    with_endpoint = CONFIG + "controlPlaneEndpoint: cp.lab.example\n"
    rc, out, err = run(["kubeconfig", "user", "--client-name=bob", "--config", write_config(node, with_endpoint)], capsys)
    assert rc == 0, err
    # the endpoint without a port takes the local API endpoint's bindPort, as GetControlPlaneEndpoint does
    assert yaml.safe_load(out)["clusters"][0]["cluster"]["server"] == "https://cp.lab.example:6444"


def test_validity_never_beyond_the_ca(node, capsys):
    rc, out, err = run(["kubeconfig", "user", "--client-name=carol", "--validity-period=876000h"], capsys)
    assert rc == 0, err
    assert ("WARNING: the specified certificate validity period 876000h0m0s is longer than the default duration "
            "8760h0m0s, this may increase security risks.") in err
    assert pki.not_after_utc(client_cert(yaml.safe_load(out))) == pki.not_after_utc(node["ca"])


@pytest.mark.usefixtures("node")
def test_missing_client_name(capsys):
    rc, out, err = run(["kubeconfig", "user", "--org", "x"], capsys)
    assert rc == 1 and out == ""
    assert 'required flag(s) "client-name" not set' in err
    rc, out, err = run(["kubeconfig", "user", "--client-name="], capsys)
    assert rc == 1 and out == ""
    assert "failure while creating  client certificate: unable to sign certificate: must specify a CommonName" in err


@pytest.mark.usefixtures("node")
@pytest.mark.parametrize("value, message", [
    ("1y", 'invalid argument "1y" for "--validity-period" flag: time: invalid duration "1y"'),
    ("24", 'invalid argument "24" for "--validity-period" flag: time: missing unit in duration "24"'),
    ("", 'invalid argument "" for "--validity-period" flag: time: invalid duration ""'),
])
def test_bad_validity(capsys, value, message):
    rc, out, err = run(["kubeconfig", "user", "--client-name=dave", f"--validity-period={value}"], capsys)
    assert rc == 1 and out == ""
    assert message in err


@pytest.mark.usefixtures("node")
def test_missing_ca_key(capsys):
    os.unlink(env.host(f"{PKI}/ca.key"))
    rc, out, err = run(["kubeconfig", "user", "--client-name=erin"], capsys)
    assert rc == 1 and out == ""
    assert ("couldn't create a kubeconfig; the CA files couldn't be loaded: failed to load key: couldn't load the private "
            "key file /etc/kubernetes/pki/ca.key: open /etc/kubernetes/pki/ca.key: no such file or directory") in err


def test_missing_ca_cert_in_the_configured_certificates_dir(node, capsys):
    config = CONFIG + "certificatesDir: /srv/pki\n"
    rc, out, err = run(["kubeconfig", "user", "--client-name=erin", "--config", write_config(node, config)], capsys)
    assert rc == 1 and out == ""
    assert ("couldn't create a kubeconfig; the CA files couldn't be loaded: failed to load certificate: couldn't load the "
            "certificate file /srv/pki/ca.crt: open /srv/pki/ca.crt: no such file or directory") in err


@pytest.mark.usefixtures("node")
def test_token_is_not_implemented(capsys):
    rc, out, err = run(["kubeconfig", "user", "--client-name=frank", "--token", "abcdef.0123456789abcdef"], capsys)
    assert rc == 1 and out == ""
    assert "not implemented by the stand-in" in err


def test_invalid_config_refused_by_the_strict_validator(node, capsys):
    bad = CONFIG.replace("  bindPort: 6444", "  bindPort: 6444\n  bindPortt: 1")
    rc, out, err = run(["kubeconfig", "user", "--client-name=gina", "--config", write_config(node, bad)], capsys)
    assert rc == 1 and out == ""
    assert 'strict decoding error: unknown field "localAPIEndpoint.bindPortt"' in err
    rc, out, err = run(["kubeconfig", "user", "--client-name=gina", "--config", str(node["tmp"] / "nope.yaml")], capsys)
    assert rc == 1 and "no such file or directory" in err


@pytest.mark.usefixtures("node")
@pytest.mark.parametrize("argv, message", [
    (["kubeconfig", "user", "--client-name=x", "extra"], 'unknown command "extra" for "kubeadm kubeconfig user"'),
    (["kubeconfig", "user", "--kubeconfig=/etc/kubernetes/admin.conf", "--client-name=x"], "unknown flag: --kubeconfig"),
    (["kubeconfig", "nope"], 'unknown command "nope" for "kubeadm kubeconfig"'),
])
def test_cli_refusals(capsys, argv, message):
    rc, dummy, err = run(argv, capsys)
    assert rc == 1 and message in err


def peercert_of(cert):
    """The subject of a certificate in the shape ssl.SSLSocket.getpeercert() returns it."""
    names = {NameOID.COMMON_NAME: "commonName", NameOID.ORGANIZATION_NAME: "organizationName"}
    return {"subject": tuple(((names[a.oid], a.value),) for a in cert.subject if a.oid in names)}


class PeerHandler:  # pylint: disable=too-few-public-methods
    """Just enough of a request handler for ApiServer.authenticate."""

    def __init__(self, cert):
        self.headers = {}
        self.request = self

        def getpeercert():
            return peercert_of(cert)
        self.getpeercert = getpeercert


@pytest.mark.usefixtures("node")
@pytest.mark.parametrize("orgs, admin", [(["kubeadm:cluster-admins"], True), ([], False), (["team-a"], False)])
def test_apiserver_authorizes_cluster_admins_org(capsys, orgs, admin):
    argv = ["kubeconfig", "user", "--client-name=hana"] + [f"--org={o}" for o in orgs]
    rc, out, err = run(argv, capsys)
    assert rc == 0, err
    user = apiserver.ApiServer.authenticate(None, PeerHandler(client_cert(yaml.safe_load(out))))
    assert user == {"name": "hana", "groups": orgs + ["system:authenticated"]}
    allowed = apiserver.ApiServer.allowed
    assert allowed(user, "delete", "secrets", "kube-system", "bootstrap-token-abcdef") is admin
    assert allowed(user, "create", "clusterrolebindings", None, None) is admin
    assert allowed(user, "list", "pods", "default")  # any authenticated user may read in the stand-in's table
