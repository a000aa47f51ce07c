# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
"""Unit tests of plugins/module_utils/kubeadm/config.py (rendering) and certs.py (CA pin, kubeconfig expiry)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import copy
import datetime
import hashlib
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from ansible_collections.ironstone.k8s.plugins.module_utils.kubeadm import certs, config
from ansible_collections.ironstone.k8s.plugins.module_utils.kubeadm.config import KubeadmConfigError

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# The repository's STAND-IN for `kubeadm config validate` (lab/standin/kubeadm_config.py): a strict
# schema and semantic check written from kubeadm's API types, not kubeadm itself.
from lab.standin import kubeadm_config as standin_cfg  # noqa: E402  pylint: disable=wrong-import-position

VERSION = "1.32.3"
TOKEN = "abcdef.0123456789abcdef"
CERT_KEY = "0123456789abcdef" * 4
PIN = "sha256:" + "ab" * 32


def init_params(**changes):
    p = {
        "node_name": "cp-1",
        "advertise_address": "10.0.0.11",
        "cri_socket": "unix:///run/containerd/containerd.sock",
        "kubernetes_version": "1.32.3",
        "control_plane_endpoint": "api.lab.internal:6443",
        "pod_subnet": "10.244.0.0/16",
        "service_subnet": "10.96.0.0/12",
        "etcd_endpoints": ["https://10.0.0.21:2379", "https://etcd-2.lab.internal:2379"],
        "etcd_ca_file": "/etc/kubernetes/pki/etcd/ca.crt",
        "etcd_cert_file": "/etc/kubernetes/pki/apiserver-etcd-client.crt",
        "etcd_key_file": "/etc/kubernetes/pki/apiserver-etcd-client.key",
    }
    p.update(changes)
    return p


def join_params(**changes):
    p = {
        "node_name": "worker-1",
        "node_address": "10.0.0.31",
        "cri_socket": "unix:///run/containerd/containerd.sock",
        "api_server_endpoint": "api.lab.internal:6443",
        "token": TOKEN,
        "ca_cert_hashes": [PIN],
    }
    p.update(changes)
    return p


def docs_by_kind(docs):
    return dict((d["kind"], d) for d in docs)


def assert_valid(text):
    assert standin_cfg.validate(text, VERSION) == []


# --------------------------------------------------------------------------
# init
# --------------------------------------------------------------------------
def test_init_defaults():
    docs = config.init_documents(init_params())
    assert [d["kind"] for d in docs] == [
        "InitConfiguration", "ClusterConfiguration", "KubeletConfiguration", "KubeProxyConfiguration"]
    kinds = docs_by_kind(docs)
    init, cluster = kinds["InitConfiguration"], kinds["ClusterConfiguration"]
    assert init["apiVersion"] == cluster["apiVersion"] == "kubeadm.k8s.io/v1beta4"
    assert init["localAPIEndpoint"] == {"advertiseAddress": "10.0.0.11", "bindPort": 6443}
    assert init["nodeRegistration"] == {
        "name": "cp-1", "criSocket": "unix:///run/containerd/containerd.sock",
        "kubeletExtraArgs": [{"name": "node-ip", "value": "10.0.0.11"}]}
    assert "skipPhases" not in init
    assert cluster["clusterName"] == "kubernetes"
    assert cluster["kubernetesVersion"] == "v1.32.3"
    assert cluster["controlPlaneEndpoint"] == "api.lab.internal:6443"
    assert cluster["networking"] == {"podSubnet": "10.244.0.0/16", "serviceSubnet": "10.96.0.0/12",
                                     "dnsDomain": "cluster.local"}
    assert cluster["apiServer"] == {"certSANs": []}
    assert "controllerManager" not in cluster and "scheduler" not in cluster and "imageRepository" not in cluster
    assert cluster["etcd"] == {"external": {
        "endpoints": ["https://10.0.0.21:2379", "https://etcd-2.lab.internal:2379"],
        "caFile": "/etc/kubernetes/pki/etcd/ca.crt",
        "certFile": "/etc/kubernetes/pki/apiserver-etcd-client.crt",
        "keyFile": "/etc/kubernetes/pki/apiserver-etcd-client.key"}}
    assert kinds["KubeletConfiguration"] == {
        "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration", "cgroupDriver": "systemd",
        "serverTLSBootstrap": True}
    assert kinds["KubeProxyConfiguration"] == {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration"}
    assert_valid(config.dump(docs))


def test_init_everything():
    p = init_params(
        kubernetes_version="v1.32.3", bind_port=8443, cluster_name="lab", dns_domain="lab.local",
        cert_sans=["z.lab.internal", "10.0.0.10", "api.lab.internal", "z.lab.internal", "*.lab.internal"],
        node_taints=[{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
                     {"key": "dedicated", "value": "infra", "effect": "NoExecute"}],
        kubelet_extra_args={"v": 2, "max-pods": "200"},
        apiserver_extra_args={"audit-log-maxage": "30", "anonymous-auth": "false"},
        controller_manager_extra_args={"bind-address": "0.0.0.0"},
        scheduler_extra_args={"bind-address": "0.0.0.0"},
        image_repository="registry.lab.internal/k8s",
        kubelet_configuration={"maxPods": 200, "cgroupDriver": "systemd"},
        kube_proxy_configuration={"mode": "ipvs"},
        skip_phases=["addon/kube-proxy"], upload_certs=True)
    text = config.dump(config.init_documents(p))
    assert_valid(text)
    kinds = docs_by_kind(list(yaml.safe_load_all(text)))
    init, cluster = kinds["InitConfiguration"], kinds["ClusterConfiguration"]
    assert init["localAPIEndpoint"]["bindPort"] == 8443
    assert init["skipPhases"] == ["addon/kube-proxy"]
    assert init["nodeRegistration"]["taints"] == [
        {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
        {"key": "dedicated", "value": "infra", "effect": "NoExecute"}]
    assert init["nodeRegistration"]["kubeletExtraArgs"] == [
        {"name": "max-pods", "value": "200"}, {"name": "node-ip", "value": "10.0.0.11"}, {"name": "v", "value": "2"}]
    assert cluster["kubernetesVersion"] == "v1.32.3"
    assert cluster["clusterName"] == "lab"
    assert cluster["imageRepository"] == "registry.lab.internal/k8s"
    assert cluster["networking"]["dnsDomain"] == "lab.local"
    assert cluster["apiServer"]["certSANs"] == ["*.lab.internal", "10.0.0.10", "api.lab.internal", "z.lab.internal"]
    assert cluster["apiServer"]["extraArgs"] == [
        {"name": "anonymous-auth", "value": "false"}, {"name": "audit-log-maxage", "value": "30"}]
    assert cluster["controllerManager"] == {"extraArgs": [{"name": "bind-address", "value": "0.0.0.0"}]}
    assert cluster["scheduler"] == {"extraArgs": [{"name": "bind-address", "value": "0.0.0.0"}]}
    assert kinds["KubeletConfiguration"]["maxPods"] == 200
    assert kinds["KubeProxyConfiguration"]["mode"] == "ipvs"
    assert "upload" not in text.lower().replace("uploadcerts", "")  # a CLI flag, not a field


def test_kubelet_serving_certificates_are_bootstrapped_unless_turned_off():
    # serverTLSBootstrap: the kubelets ask for serving certificates from the cluster CA (kubernetes.io/kubelet-serving
    # CSRs, which the monitoring stage approves); kube_kubelet_configuration can turn it off.
    kubelet = docs_by_kind(config.init_documents(init_params()))["KubeletConfiguration"]
    assert kubelet["serverTLSBootstrap"] is True
    off = docs_by_kind(config.init_documents(init_params(kubelet_configuration={"serverTLSBootstrap": False})))
    assert off["KubeletConfiguration"]["serverTLSBootstrap"] is False
    assert "serverTLSBootstrap: true" in config.dump(config.init_documents(init_params()))


def test_taints_empty_list_vs_none():
    with_empty = config.dump(config.init_documents(init_params(node_taints=[])))
    assert "  taints: []\n" in with_empty
    assert_valid(with_empty)
    omitted = config.dump(config.init_documents(init_params(node_taints=None)))
    assert "taints" not in omitted


def test_dump_is_deterministic_and_headed():
    p = init_params(cert_sans=["b", "a"], apiserver_extra_args={"b": "1", "a": "2"})
    first = config.dump(config.init_documents(p))
    second = config.dump(config.init_documents(copy.deepcopy(p)))
    assert first == second
    lines = first.splitlines()
    assert lines[0] == "# Rendered by ironstone.k8s (control_plane role); do not edit: the next run rewrites it."
    assert lines[1] == "---"
    assert first.count("\n---\n") == 4


def test_dump_accepts_str_and_dict_subclasses():
    class Unsafe(str):
        pass

    class Mapping(dict):
        pass

    p = init_params(node_name=Unsafe("cp-1"), kubelet_configuration=Mapping({Unsafe("maxPods"): 10}))
    text = config.dump(config.init_documents(p))
    assert "name: cp-1\n" in text and "maxPods: 10" in text


def test_ipv6_and_dual_stack():
    p = init_params(advertise_address="fd00::11", control_plane_endpoint="[fd00::10]:6443",
                    pod_subnet="10.244.0.0/16,fd00:10:244::/56", service_subnet="10.96.0.0/12,fd00:10:96::/112",
                    etcd_endpoints=["https://[fd00::21]:2379"])
    text = config.dump(config.init_documents(p))
    assert_valid(text)
    assert "podSubnet: 10.244.0.0/16,fd00:10:244::/56" in text


def test_the_standin_check_bites():
    text = config.dump(config.init_documents(init_params()))
    mutated = text.replace("  bindPort: 6443\n", "  bindPort: 6443\n  bindPrt: 6443\n")
    assert mutated != text
    errors = standin_cfg.validate(mutated, VERSION)
    assert errors and "bindPrt" in errors[0]
    wrong_type = text.replace("bindPort: 6443", "bindPort: '6443'")
    assert standin_cfg.validate(wrong_type, VERSION)


@pytest.mark.parametrize("name, value, words", [
    ("node_name", "CP_1", "DNS-1123"),
    ("node_name", "", "non-empty"),
    ("advertise_address", "10.0.0.300", "IPv4 or IPv6"),
    ("bind_port", 0, "port number"),
    ("bind_port", 70000, "port number"),
    ("bind_port", True, "port number"),
    ("cri_socket", "/run/containerd/containerd.sock", "unix://"),
    ("kubernetes_version", "1.32", "release version"),
    ("kubernetes_version", "stable", "release version"),
    ("cluster_name", "Lab!", "DNS-1123"),
    ("control_plane_endpoint", "api.lab.internal", "host:port"),
    ("control_plane_endpoint", "fd00::1:6443", "host:port"),
    ("control_plane_endpoint", "api.lab.internal:0", "port number"),
    ("control_plane_endpoint", "API_server:6443", "neither"),
    ("pod_subnet", "10.244.0.0/33", "CIDR"),
    ("pod_subnet", "10.244.0.1/16", "CIDR"),
    ("service_subnet", "10.244.128.0/20", "overlaps pod_subnet"),
    ("service_subnet", "10.96.0.0/12,10.97.0.0/16", "one IPv4 and one IPv6"),
    ("dns_domain", "Cluster.Local", "DNS-1123"),
    ("cert_sans", "api.lab", "list"),
    ("cert_sans", ["bad_name"], "neither an IP address nor a DNS name"),
    ("etcd_endpoints", [], "non-empty list"),
    ("etcd_endpoints", ["http://10.0.0.21:2379"], "https://host:port"),
    ("etcd_endpoints", ["https://10.0.0.21"], "https://host:port"),
    ("etcd_endpoints", ["https://10.0.0.21:2379", "https://10.0.0.21:2379"], "twice"),
    ("etcd_ca_file", "pki/ca.crt", "absolute path"),
    ("etcd_cert_file", "cert.crt", "absolute path"),
    ("etcd_key_file", "key.key", "absolute path"),
    ("node_taints", {"key": "a"}, "list"),
    ("node_taints", [{"key": "a", "effect": "NoWay"}], "effect"),
    ("node_taints", [{"key": "a/b/c", "effect": "NoSchedule"}], "more than one"),
    ("node_taints", [{"key": "a", "value": "-x", "effect": "NoSchedule"}], "value"),
    ("node_taints", [{"key": "a", "effect": "NoSchedule", "operator": "Exists"}], "unknown field"),
    ("node_taints", [{"key": "a", "effect": "NoSchedule"}, {"key": "a", "effect": "NoSchedule"}], "twice"),
    ("kubelet_extra_args", {"--v": "2"}, "leading"),
    ("kubelet_extra_args", {"v": True}, "must be a string"),
    ("kubelet_extra_args", {"node-ip": "10.0.0.99"}, "does not include the node address"),
    ("kubelet_extra_args", ["v=2"], "mapping"),
    ("apiserver_extra_args", {"a": ["x"]}, "must be a string"),
    ("controller_manager_extra_args", {"": "x"}, "non-empty strings"),
    ("scheduler_extra_args", "v=2", "mapping"),
    ("image_repository", 5, "string"),
    ("kubelet_configuration", {"cgroupDriver": "cgroupfs"}, "cgroupDriver"),
    ("kubelet_configuration", {"kind": "Other"}, "must not set kind"),
    ("kubelet_configuration", {"serverTLSBootstrap": "yes"}, "serverTLSBootstrap must be true or false"),
    ("kube_proxy_configuration", {"apiVersion": "x"}, "must not set apiVersion"),
    ("kube_proxy_configuration", [], "mapping"),
    ("skip_phases", "addon/kube-proxy", "list"),
    ("upload_certs", "yes", "true or false"),
])
def test_init_validation(name, value, words):
    with pytest.raises(KubeadmConfigError) as caught:
        config.init_documents(init_params(**{name: value}))
    message = str(caught.value)
    assert name in message
    assert words in message


def test_init_is_a_valueerror_naming_missing_and_unknown():
    params = init_params()
    del params["pod_subnet"]
    with pytest.raises(ValueError, match="missing parameter.*pod_subnet"):
        config.init_documents(params)
    with pytest.raises(KubeadmConfigError, match="unknown parameter.*pod_cidr"):
        config.init_documents(init_params(pod_cidr="10.0.0.0/8"))
    with pytest.raises(KubeadmConfigError, match="mapping"):
        config.init_documents(["node_name"])


def test_init_dual_stack_node_ip_is_accepted():
    docs = config.init_documents(init_params(kubelet_extra_args={"node-ip": "10.0.0.11,fd00::11"}))
    assert docs[0]["nodeRegistration"]["kubeletExtraArgs"] == [{"name": "node-ip", "value": "10.0.0.11,fd00::11"}]


def test_bind_port_as_digits_and_none_means_default():
    docs = config.init_documents(init_params(bind_port="7443", cluster_name=None))
    assert docs[0]["localAPIEndpoint"]["bindPort"] == 7443
    assert docs[1]["clusterName"] == "kubernetes"


# --------------------------------------------------------------------------
# join
# --------------------------------------------------------------------------
def test_join_worker():
    doc = config.join_document(join_params())
    assert doc == {
        "apiVersion": "kubeadm.k8s.io/v1beta4",
        "kind": "JoinConfiguration",
        "nodeRegistration": {"name": "worker-1", "criSocket": "unix:///run/containerd/containerd.sock",
                             "kubeletExtraArgs": [{"name": "node-ip", "value": "10.0.0.31"}]},
        "discovery": {"bootstrapToken": {"token": TOKEN, "apiServerEndpoint": "api.lab.internal:6443",
                                         "caCertHashes": [PIN]}},
    }
    assert_valid(config.dump([doc]))
    # advertise_address is checked but only a control plane renders it
    assert "controlPlane" not in config.join_document(join_params(advertise_address="10.0.0.31"))


def test_join_control_plane():
    doc = config.join_document(join_params(control_plane=True, certificate_key=CERT_KEY, bind_port=7443,
                                           advertise_address="10.0.0.12", node_taints=[],
                                           ca_cert_hashes=[PIN, PIN, "sha256:" + "cd" * 32]))
    assert doc["controlPlane"] == {"localAPIEndpoint": {"advertiseAddress": "10.0.0.12", "bindPort": 7443},
                                   "certificateKey": CERT_KEY}
    assert doc["nodeRegistration"]["taints"] == []
    assert doc["discovery"]["bootstrapToken"]["caCertHashes"] == [PIN, "sha256:" + "cd" * 32]
    text = config.dump(doc)
    assert_valid(text)
    # advertise address defaults to the node address
    doc = config.join_document(join_params(control_plane=True, certificate_key=CERT_KEY))
    assert doc["controlPlane"]["localAPIEndpoint"] == {"advertiseAddress": "10.0.0.31", "bindPort": 6443}


@pytest.mark.parametrize("name, value, words", [
    ("node_name", "Worker 1", "DNS-1123"),
    ("node_address", "worker-1", "IPv4 or IPv6"),
    ("cri_socket", "containerd", "unix://"),
    ("api_server_endpoint", "https://api:6443", "host:port"),
    ("ca_cert_hashes", [], "non-empty list"),
    ("ca_cert_hashes", ["sha1:abcd"], "sha256:<64 hex digits>"),
    ("control_plane", "yes", "true or false"),
    ("advertise_address", "nope", "IPv4 or IPv6"),
    ("bind_port", "http", "port number"),
    ("node_taints", [{"key": "x", "effect": "Never"}], "effect"),
    ("kubelet_extra_args", {"node-ip": "10.9.9.9"}, "does not include"),
])
def test_join_validation(name, value, words):
    with pytest.raises(KubeadmConfigError) as caught:
        config.join_document(join_params(**{name: value}))
    assert name in str(caught.value) and words in str(caught.value)


def test_join_secrets_never_in_messages():
    bad_token = "ABCDEF.0123456789abcdef"
    with pytest.raises(KubeadmConfigError) as caught:
        config.join_document(join_params(token=bad_token))
    assert str(caught.value).endswith("token: the token is not of the form [a-z0-9]{6}.[a-z0-9]{16}")
    assert bad_token not in str(caught.value) and "0123456789abcdef" not in str(caught.value)
    with pytest.raises(KubeadmConfigError) as caught:
        config.join_document(join_params(token=12345))
    assert "12345" not in str(caught.value)
    bad_key = "zz" + CERT_KEY[2:]
    with pytest.raises(KubeadmConfigError) as caught:
        config.join_document(join_params(control_plane=True, certificate_key=bad_key))
    assert "certificate_key" in str(caught.value) and bad_key not in str(caught.value)
    with pytest.raises(KubeadmConfigError) as caught:
        config.join_document(join_params(certificate_key=CERT_KEY))
    assert "only for a control-plane join" in str(caught.value) and CERT_KEY not in str(caught.value)
    with pytest.raises(KubeadmConfigError, match="certificate_key: is required"):
        config.join_document(join_params(control_plane=True))
    # other errors of a join do not carry the secrets either
    with pytest.raises(KubeadmConfigError) as caught:
        config.join_document(join_params(control_plane=True, certificate_key=CERT_KEY, toke="x"))
    assert TOKEN not in str(caught.value) and CERT_KEY not in str(caught.value)


# --------------------------------------------------------------------------
# redact
# --------------------------------------------------------------------------
def test_redact():
    doc = config.join_document(join_params(control_plane=True, certificate_key=CERT_KEY))
    text = config.dump(doc)
    redacted = config.redact(text)
    assert TOKEN not in redacted and CERT_KEY not in redacted
    assert "token: <redacted>" in redacted and "certificateKey: <redacted>" in redacted
    assert PIN in redacted  # the CA pin is public
    command = "kubeadm join api:6443 --token %s --certificate-key=%s --control-plane" % (TOKEN, CERT_KEY)
    assert config.redact(command) == "kubeadm join api:6443 --token <redacted> --certificate-key=<redacted> " \
                                     "--control-plane"
    assert config.redact("--certificate-key %s" % CERT_KEY.upper()) == "--certificate-key <redacted>"
    diff = "-    token: %s\n+    token: ghijkl.0123456789abcdef\n" % TOKEN
    assert config.redact(diff) == "-    token: <redacted>\n+    token: <redacted>\n"
    # a 64-hex string elsewhere (a hash) and ordinary text stay
    plain = "sha256:%s node-1.lab.internal" % CERT_KEY
    assert config.redact(plain) == plain
    assert config.redact(None) == ""


# --------------------------------------------------------------------------
# certs
# --------------------------------------------------------------------------
def _cert(cn="kubernetes", orgs=(), days=10, issuer_key=None, key=None):
    key = key or ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)] + [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o)
                                                             for o in orgs]
    name = x509.Name(attrs)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=days))
            .sign(issuer_key or key, hashes.SHA256()))
    return cert, key, now + datetime.timedelta(days=days)


@pytest.fixture(scope="module")
def ca():
    cert, key, dummy = _cert()
    return cert, key


def test_ca_cert_hash_matches_an_independent_computation(ca):
    cert = ca[0]
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    expected = "sha256:" + hashlib.sha256(spki).hexdigest()
    assert certs.ca_cert_hash(pem) == expected
    assert certs.ca_cert_hash(pem.encode()) == expected
    # text around the block and a second certificate after it are ignored
    other = _cert(cn="other")[0].public_bytes(serialization.Encoding.PEM).decode()
    assert certs.ca_cert_hash("subject=CN=kubernetes\n" + pem + other) == expected


@pytest.fixture(scope="module")
def rsa_ca():
    return _cert(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))[0]


def test_ca_cert_hash_of_an_rsa_ca(rsa_ca):
    spki = rsa_ca.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    pem = rsa_ca.public_bytes(serialization.Encoding.PEM).decode()
    assert certs.ca_cert_hash(pem) == "sha256:" + hashlib.sha256(spki).hexdigest()


@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl is not installed")
@pytest.mark.parametrize("which", ["ec", "rsa"])
def test_ca_cert_hash_matches_openssl(which, ca, rsa_ca, tmp_path):
    cert = ca[0] if which == "ec" else rsa_ca
    pem = cert.public_bytes(serialization.Encoding.PEM)
    path = tmp_path / "ca.crt"
    path.write_bytes(pem)
    pubkey = subprocess.run(["openssl", "x509", "-pubkey", "-noout", "-in", str(path)],
                            check=True, capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pubkey,
                         check=True, capture_output=True).stdout
    assert certs.ca_cert_hash(pem.decode()) == "sha256:" + hashlib.sha256(der).hexdigest()


@pytest.mark.parametrize("text", ["", None, "hello", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
                                  "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"])
def test_ca_cert_hash_refuses_what_is_not_a_certificate(text):
    with pytest.raises(KubeadmConfigError, match="CA certificate"):
        certs.ca_cert_hash(text)


def _kubeconfig(user):
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "kubernetes", "cluster": {"server": "https://api:6443"}}],
        "contexts": [{"name": "admin@kubernetes", "context": {"cluster": "kubernetes", "user": "admin"}}],
        "current-context": "admin@kubernetes",
        "users": [{"name": "admin", "user": user}]})


def test_kubeconfig_client_expiry(ca):
    cert, _key, not_after = _cert(cn="kubernetes-admin", orgs=("kubeadm:cluster-admins", "extra"), days=30,
                                  issuer_key=ca[1])
    data = base64.b64encode(cert.public_bytes(serialization.Encoding.PEM)).decode()
    text = _kubeconfig({"client-certificate-data": data, "client-key-data": "eA=="})
    now = not_after - datetime.timedelta(seconds=3600.5)
    info = certs.kubeconfig_client_expiry(text, now=now)
    assert info == {"not_after": not_after.strftime("%Y-%m-%dT%H:%M:%SZ"), "seconds_left": 3600,
                    "subject_cn": "kubernetes-admin", "subject_o": ["kubeadm:cluster-admins", "extra"]}
    live = certs.kubeconfig_client_expiry(text)
    assert 29 * 86400 < live["seconds_left"] <= 30 * 86400
    assert certs.kubeconfig_client_expiry(text, now=not_after + datetime.timedelta(days=1))["seconds_left"] == -86400


def test_kubeconfig_client_expiry_none_and_errors():
    assert certs.kubeconfig_client_expiry("") is None
    assert certs.kubeconfig_client_expiry(None) is None
    assert certs.kubeconfig_client_expiry(_kubeconfig({"token": "abcdef.0123456789abcdef"})) is None
    assert certs.kubeconfig_client_expiry("apiVersion: v1\nkind: Config\nusers: []\n") is None
    with pytest.raises(KubeadmConfigError, match="base64"):
        certs.kubeconfig_client_expiry(_kubeconfig({"client-certificate-data": "!!!"}))
    with pytest.raises(KubeadmConfigError, match="client-certificate-data"):
        certs.kubeconfig_client_expiry(_kubeconfig({"client-certificate-data": base64.b64encode(b"hi").decode()}))
    with pytest.raises(KubeadmConfigError, match="not YAML"):
        certs.kubeconfig_client_expiry("users: [")
    with pytest.raises(KubeadmConfigError, match="mapping"):
        certs.kubeconfig_client_expiry("- a\n")


def test_ignore_preflight_errors_rendered_sorted_and_all_refused():
    init = config.init_documents(init_params(ignore_preflight_errors=['Port-6443']))[0]
    assert init['nodeRegistration']['ignorePreflightErrors'] == ['Port-6443']
    assert 'ignorePreflightErrors' not in config.init_documents(init_params())[0]['nodeRegistration']
    join = config.join_document(join_params(ignore_preflight_errors=['Port-6443', 'Port-6443']))
    assert join['nodeRegistration']['ignorePreflightErrors'] == ['Port-6443']
    assert_valid(config.dump(config.init_documents(init_params(ignore_preflight_errors=['Port-6443']))))
    for bad in (['all'], ['ALL'], ['a b']):
        with pytest.raises(config.KubeadmConfigError, match='ignore_preflight_errors'):
            config.init_documents(init_params(ignore_preflight_errors=bad))


def test_patches_directory_rendered_and_must_be_absolute():
    init = config.init_documents(init_params(patches_dir='/etc/ironstone/kubeadm/patches'))[0]
    assert init['patches'] == {'directory': '/etc/ironstone/kubeadm/patches'}
    join = config.join_document(join_params(patches_dir='/etc/ironstone/kubeadm/patches'))
    assert join['patches'] == {'directory': '/etc/ironstone/kubeadm/patches'}
    assert 'patches' not in config.init_documents(init_params())[0]
    assert_valid(config.dump(config.init_documents(init_params(patches_dir='/p'))))
    with pytest.raises(config.KubeadmConfigError, match='patches_dir'):
        config.init_documents(init_params(patches_dir='relative/dir'))


def test_redact_hides_the_certificate_key_kubeadm_init_prints_on_its_own_line():
    key = "34111134d5e13a0f817f4e58e69968f29e0ab5e3a6b2d4e7fad55fe245358e31"
    text = "[upload-certs] Using certificate key:\n%s\n[mark-control-plane] Marking\n" % key
    out = config.redact(text)
    assert key not in out
    assert out == "[upload-certs] Using certificate key:\n<redacted>\n[mark-control-plane] Marking\n"
    # as Ansible shows stdout_lines
    assert key not in config.redact('    "%s",' % key)
    # a CA pin is not a secret and stays
    assert config.redact("--discovery-token-ca-cert-hash sha256:%s" % key).endswith(key)
