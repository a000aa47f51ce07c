"""Unit tests of the kube-apiserver STAND-IN's pure pieces (no etcd needed): flags, selectors, paths, protobuf, JWS."""
import base64
import hashlib
import hmac
import json
import os
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from lab.standin import apiserver  # noqa: E402  pylint: disable=wrong-import-position
from lab.standin.apiserver import controllers, protobuf, selectors, server, store  # noqa: E402  pylint: disable=wrong-import-position
from lab.standin.apiserver.etcd import prefix_end  # noqa: E402  pylint: disable=wrong-import-position
from lab.standin.version import git_version  # noqa: E402  pylint: disable=wrong-import-position

# The flags kubeadm 1.32 writes into /etc/kubernetes/manifests/kube-apiserver.yaml
KUBEADM_FLAGS = [
    "--advertise-address=192.168.1.10", "--allow-privileged=true", "--authorization-mode=Node,RBAC",
    "--client-ca-file=/etc/kubernetes/pki/ca.crt", "--enable-admission-plugins=NodeRestriction",
    "--enable-bootstrap-token-auth=true", "--etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt",
    "--etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt", "--etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key",
    "--etcd-servers=https://10.0.0.1:2379,https://10.0.0.2:2379,https://10.0.0.3:2379",
    "--kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt",
    "--kubelet-client-key=/etc/kubernetes/pki/apiserver-kubelet-client.key",
    "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
    "--proxy-client-cert-file=/etc/kubernetes/pki/front-proxy-client.crt",
    "--proxy-client-key-file=/etc/kubernetes/pki/front-proxy-client.key", "--requestheader-allowed-names=front-proxy-client",
    "--requestheader-client-ca-file=/etc/kubernetes/pki/front-proxy-ca.crt", "--requestheader-extra-headers-prefix=X-Remote-Extra-",
    "--requestheader-group-headers=X-Remote-Group", "--requestheader-username-headers=X-Remote-User", "--secure-port=6443",
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local", "--service-account-key-file=/etc/kubernetes/pki/sa.pub",
    "--service-account-signing-key-file=/etc/kubernetes/pki/sa.key", "--service-cluster-ip-range=10.96.0.0/12",
    "--tls-cert-file=/etc/kubernetes/pki/apiserver.crt", "--tls-private-key-file=/etc/kubernetes/pki/apiserver.key",
]


def test_kubeadm_flags_parse():
    values = apiserver.parse_flags(KUBEADM_FLAGS)
    assert values["etcd-servers"].split(",")[2] == "https://10.0.0.3:2379"
    assert values["allow-privileged"] is True and values["secure-port"] == "6443"


def test_flag_forms_and_errors():
    values = apiserver.parse_flags(["--v", "4", "--profiling", "--anonymous-auth=false", "-v=2", "--audit-log-maxage=30"])
    assert values["v"] == "2" and values["profiling"] is True and values["anonymous-auth"] is False
    with pytest.raises(apiserver.FlagError, match="^unknown flag: --insecure-port$"):
        apiserver.parse_flags(["--insecure-port=0"])
    with pytest.raises(apiserver.FlagError, match="flag needs an argument: --secure-port"):
        apiserver.parse_flags(["--secure-port"])
    with pytest.raises(apiserver.FlagError, match="invalid argument"):
        apiserver.parse_flags(["--allow-privileged=maybe"])


def test_main_messages(capsys):
    assert apiserver.main(["--insecure-port=0"]) == 1
    assert capsys.readouterr().err == "Error: unknown flag: --insecure-port\n"
    assert apiserver.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("Kubernetes %s STAND-IN" % git_version())
    assert apiserver.main(["--tls-cert-file=/x.crt", "--tls-private-key-file=/x.key"]) == 1
    assert "--etcd-servers must be specified" in capsys.readouterr().err


@pytest.mark.parametrize("selector,labels,expected", [
    ("a=b", {"a": "b"}, True), ("a==b", {"a": "c"}, False), ("a!=b", {}, True), ("a in (x, y)", {"a": "y"}, True),
    ("a notin (x)", {"a": "x"}, False), ("a", {"a": ""}, True), ("!a", {"a": ""}, False), ("a=b,c", {"a": "b"}, False),
    ("app.kubernetes.io/name=web", {"app.kubernetes.io/name": "web"}, True),
])
def test_label_selectors(selector, labels, expected):
    assert selectors.match_labels(selectors.parse_labels(selector), labels) is expected


def test_selector_errors():
    with pytest.raises(selectors.SelectorError):
        selectors.parse_labels("a=(b")
    with pytest.raises(selectors.SelectorError, match="field label not supported: spec.nodeName"):
        selectors.parse_fields("spec.nodeName=x", "ConfigMap")
    reqs = selectors.parse_fields("spec.nodeName=n1,status.phase!=Failed", "Pod")
    assert selectors.match_fields(reqs, {"spec": {"nodeName": "n1"}, "status": {"phase": "Running"}})


def test_resource_paths():
    assert server.parse_resource_path("/api/v1/namespaces/default/pods/p/status") == ("", "v1", "default", "pods", "p", "status")
    assert server.parse_resource_path("/api/v1/namespaces/kube-system") == ("", "v1", None, "namespaces", "kube-system", None)
    assert server.parse_resource_path("/api/v1/namespaces/x/status") == ("", "v1", None, "namespaces", "x", "status")
    assert server.parse_resource_path("/apis/apps/v1/deployments") == ("apps", "v1", None, "deployments", None, None)
    assert server.parse_resource_path("/apis/apps/v1") is None
    assert prefix_end("/registry/pods/") == b"/registry/pods0"


def _field(number, payload):
    key = bytes([(number << 3) | 2])
    return key + bytes([len(payload)]) + payload


def test_protobuf_configmap():
    meta = _field(1, b"cm") + _field(3, b"default") + _field(11, _field(1, b"app") + _field(2, b"web"))
    raw = _field(1, meta) + _field(2, _field(1, b"k") + _field(2, b"v")) + _field(2, _field(1, b"e") + _field(2, b""))
    envelope = protobuf.MAGIC + _field(1, _field(1, b"v1") + _field(2, b"ConfigMap")) + _field(2, raw)
    obj = protobuf.decode(envelope)
    assert obj == {"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v", "e": ""},
                   "metadata": {"name": "cm", "namespace": "default", "labels": {"app": "web"}}}
    other = protobuf.MAGIC + _field(1, _field(1, b"apps/v1") + _field(2, b"Deployment")) + _field(2, b"")
    with pytest.raises(protobuf.ProtobufError, match="not implemented by the stand-in"):
        protobuf.decode(other)


def _unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_detached_jws():
    jws = controllers.detached_jws("kubeconfig-text", "abcdef", "0123456789abcdef")
    header, empty, signature = jws.split(".")
    assert empty == ""
    assert json.loads(_unb64url(header)) == {"alg": "HS256", "kid": "abcdef"}
    payload = base64.urlsafe_b64encode(b"kubeconfig-text").rstrip(b"=").decode()
    expected = hmac.new(b"0123456789abcdef", f"{header}.{payload}".encode(), hashlib.sha256).digest()
    assert _unb64url(signature) == expected


def test_crd_basic_validation():
    crd = {"metadata": {"name": "things.example.com"},
           "spec": {"group": "example.com", "scope": "Namespaced", "names": {"plural": "things", "kind": "Thing"},
                    "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {"type": "object"}}}]}}
    assert not store.validate_crd(crd)
    crd["spec"]["versions"].append({"name": "v2", "served": True, "storage": True, "schema": {"openAPIV3Schema": {"type": "object"}}})
    assert any("exactly one version marked as storage version" in e for e in store.validate_crd(crd))
    crd["spec"]["versions"] = [{"name": "v1", "served": True, "storage": True}]
    assert any("openAPIV3Schema: Required value" in e for e in store.validate_crd(crd))
    assert any('must be spec.names.plural+"."+spec.group' in e
               for e in store.validate_crd(dict(crd, metadata={"name": "wrong.example.com"})))


def test_token_expiry():
    assert server.token_expired("2000-01-01T00:00:00Z")
    assert not server.token_expired("2999-01-01T00:00:00Z")
    assert not server.token_expired(None)


def test_authorization_table():
    allowed = server.ApiServer.allowed
    admin = {"name": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]}
    node = {"name": "system:node:n1", "groups": ["system:nodes", "system:authenticated"]}
    boot = {"name": "system:bootstrap:abcdef", "groups": ["system:bootstrappers", "system:authenticated"]}
    anon = {"name": "system:anonymous", "groups": ["system:unauthenticated"]}
    reader = {"name": "jane", "groups": ["system:authenticated"]}
    assert allowed(admin, "delete", "secrets", "kube-system", "x")
    assert allowed(node, "patch", "nodes", None, "n1") and allowed(node, "get", "secrets", "x", "y")
    assert not allowed(node, "create", "configmaps", "default", None)
    assert allowed(boot, "create", "certificatesigningrequests") and not allowed(boot, "get", "secrets", "kube-system", "x")
    assert allowed(boot, "get", "configmaps", "kube-system", "kubeadm-config")
    assert allowed(anon, "get", "configmaps", "kube-public", "cluster-info") and not allowed(anon, "list", "configmaps", "kube-public")
    assert allowed(anon, "GET", path="/readyz") and not allowed(anon, "GET", path="/api")
    assert allowed(reader, "list", "pods", "default") and not allowed(reader, "update", "pods", "default", "p")
