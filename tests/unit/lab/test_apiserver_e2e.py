"""End-to-end tests of the kube-apiserver STAND-IN (lab/standin/apiserver) against a real, throwaway TLS etcd.

One single-member etcd 3.4 (client port 23790, peer 23800) and two API server instances
(127.0.0.1:16443 and :16444) sharing it are started once for the module; they are exercised
with the python `kubernetes` client, the stand-in's own KubeClient, and real kubectl when present.
"""
import base64
import datetime
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from lab.standin import apiserver  # noqa: E402  pylint: disable=wrong-import-position
from lab.standin.kubeclient import ApiError, KubeClient, APPLY_PATCH, JSON_PATCH, STRATEGIC_MERGE_PATCH  # noqa: E402  pylint: disable=wrong-import-position
from lab.standin import build_repo  # noqa: E402  pylint: disable=wrong-import-position
from lab.standin.version import KUBERNETES_VERSION, git_version  # noqa: E402  pylint: disable=wrong-import-position

ETCD = shutil.which("etcd")
ETCDCTL = shutil.which("etcdctl")
DOWNLOADS = os.environ.get("IRONSTONE_STANDIN_DOWNLOADS", os.path.join(ROOT, ".cache", "lab", "standin-state", "downloads"))


def _real_kubectl():
    """The real kubectl the tests drive the stand-in with.

    $IRONSTONE_KUBECTL when set; else Debian's kubectl of the stand-ins' own release (version.py), as the
    repository builder fetches it (verified, cached in its download directory, extracted once next to it);
    else, offline, /usr/local/bin/kubectl or PATH's kubectl, whatever its version (kubectl warns about a
    client/server skew beyond one minor only in `kubectl version`, which these tests do not run).
    """
    if os.environ.get("IRONSTONE_KUBECTL"):
        return os.environ["IRONSTONE_KUBECTL"]
    binary = os.path.join(DOWNLOADS, "kubectl-v%s" % KUBERNETES_VERSION, "kubectl-deb", "usr", "bin", "kubectl")
    if ETCD is not None and not os.access(binary, os.X_OK) and shutil.which("dpkg-deb"):
        work = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(binary))))
        try:
            deb, _info = build_repo.fetch_kubectl(KUBERNETES_VERSION, DOWNLOADS, "/tmp/kubectl.deb")
            shutil.rmtree(work + ".part", ignore_errors=True)
            os.makedirs(work + ".part")
            build_repo.extract_kubectl(deb, work + ".part")
            shutil.rmtree(work, ignore_errors=True)
            os.replace(work + ".part", work)
        except (build_repo.BuildError, OSError):
            pass
    if os.access(binary, os.X_OK):
        return binary
    return "/usr/local/bin/kubectl" if os.path.exists("/usr/local/bin/kubectl") else shutil.which("kubectl")


KUBECTL = _real_kubectl()
CRDS = os.environ.get("IRONSTONE_CRDS_DIR", os.path.join(ROOT, "..", "shared", "crds", "tigera-operator-v1.42.4"))
if not os.path.isdir(CRDS):
    CRDS = "/work/shared/crds/tigera-operator-v1.42.4"
PORT1, PORT2 = 16443, 16444
HAVE_VALIDATION = importlib.util.find_spec("lab.standin.apiserver.validation") is not None

pytestmark = pytest.mark.skipif(ETCD is None, reason="etcd binary not installed")


# -- PKI ------------------------------------------------------------------------------------------
def _pki(directory):
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives import hashes, serialization  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives.asymmetric import ec  # pylint: disable=import-outside-toplevel
    from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID  # pylint: disable=import-outside-toplevel
    import ipaddress  # pylint: disable=import-outside-toplevel
    now = datetime.datetime.now(datetime.timezone.utc)

    def write(name, cert, key):
        with open(os.path.join(directory, name + ".crt"), "wb") as handle:
            handle.write(cert.public_bytes(serialization.Encoding.PEM))
        with open(os.path.join(directory, name + ".key"), "wb") as handle:
            handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))

    def issue(name, cn, orgs, ca, server, client):
        key = ec.generate_private_key(ec.SECP256R1())
        attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs] + [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
        builder = (x509.CertificateBuilder().subject_name(x509.Name(attrs)).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
                   .not_valid_after(now + datetime.timedelta(days=2)))
        if ca is None:
            builder = builder.issuer_name(x509.Name(attrs)).add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            cert = builder.sign(key, hashes.SHA256())
        else:
            usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + ([ExtendedKeyUsageOID.CLIENT_AUTH] if client else [])
            builder = builder.issuer_name(ca[0].subject).add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            if server:
                builder = builder.add_extension(x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            cert = builder.sign(ca[1], hashes.SHA256())
        write(name, cert, key)
        return cert, key

    ca = issue("ca", "kubernetes", [], None, False, False)
    etcd_ca = issue("etcd-ca", "etcd-ca", [], None, False, False)
    issue("etcd-server", "etcd", [], etcd_ca, True, True)
    issue("etcd-client", "kube-apiserver-etcd-client", [], etcd_ca, False, True)
    issue("apiserver", "kube-apiserver", [], ca, True, False)
    issue("admin", "kubernetes-admin", ["system:masters"], ca, False, True)
    issue("reader", "jane", ["developers"], ca, False, True)
    issue("node1", "system:node:n1", ["system:nodes"], ca, False, True)
    other_ca = issue("other-ca", "other", [], None, False, False)
    issue("stranger", "mallory", ["system:masters"], other_ca, False, True)


class Env:
    def __init__(self, directory):
        self.dir = directory
        self.controllers = []

    def path(self, name):
        return os.path.join(self.dir, name)

    def read(self, name):
        with open(self.path(name), "rb") as handle:
            return handle.read()

    def client(self, who="admin", port=PORT1, token=None):
        if token is not None:
            return KubeClient(f"https://127.0.0.1:{port}", ca=self.read("ca.crt"), token=token)
        if who is None:
            return KubeClient(f"https://127.0.0.1:{port}", ca=self.read("ca.crt"))
        return KubeClient(f"https://127.0.0.1:{port}", ca=self.read("ca.crt"), cert=self.read(who + ".crt"), key=self.read(who + ".key"))

    def kubeconfig(self, port=PORT1, who="admin"):
        path = self.path(f"kubeconfig-{who}-{port}")
        if not os.path.exists(path):
            text = f"""apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "https://127.0.0.1:{port}", certificate-authority: {self.path('ca.crt')}}}}}]
users: [{{name: u, user: {{client-certificate: {self.path(who + '.crt')}, client-key: {self.path(who + '.key')}}}}}]
contexts: [{{name: x, context: {{cluster: c, user: u}}}}]
current-context: x
"""
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
        return path

    def etcdctl(self, *args):
        env = dict(os.environ, ETCDCTL_API="3")
        return subprocess.run([ETCDCTL, "--endpoints=https://127.0.0.1:23790", "--cacert", self.path("etcd-ca.crt"),
                               "--cert", self.path("etcd-client.crt"), "--key", self.path("etcd-client.key"), *args],
                              capture_output=True, text=True, env=env, check=False, timeout=20)

    def kubectl(self, *args, port=PORT1, stdin=None, who="admin"):
        return subprocess.run([KUBECTL, "--kubeconfig", self.kubeconfig(port, who), *args], input=stdin,
                              capture_output=True, text=True, check=False, timeout=60)


def _wait_port(port, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def server_flags(env, port):
    return [
        "--advertise-address=127.0.0.1", "--allow-privileged=true", "--authorization-mode=Node,RBAC",
        f"--client-ca-file={env.path('ca.crt')}", "--enable-admission-plugins=NodeRestriction",
        "--enable-bootstrap-token-auth=true", f"--etcd-cafile={env.path('etcd-ca.crt')}",
        f"--etcd-certfile={env.path('etcd-client.crt')}", f"--etcd-keyfile={env.path('etcd-client.key')}",
        "--etcd-servers=https://127.0.0.1:23799,https://127.0.0.1:23790",
        "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
        "--requestheader-allowed-names=front-proxy-client", "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        "--requestheader-group-headers=X-Remote-Group", "--requestheader-username-headers=X-Remote-User",
        f"--secure-port={port}", "--bind-address=127.0.0.1", "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        "--service-cluster-ip-range=10.96.0.0/12", f"--tls-cert-file={env.path('apiserver.crt')}",
        f"--tls-private-key-file={env.path('apiserver.key')}", "--v=0",
    ]


@pytest.fixture(scope="module", name="env")
def env_fixture(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("apiserver"))
    _pki(directory)
    e = Env(directory)
    etcd = subprocess.Popen([  # pylint: disable=consider-using-with
        ETCD, "--name=t", f"--data-dir={directory}/etcd", "--listen-client-urls=https://127.0.0.1:23790",
        "--advertise-client-urls=https://127.0.0.1:23790", "--listen-peer-urls=http://127.0.0.1:23800",
        "--initial-advertise-peer-urls=http://127.0.0.1:23800", "--initial-cluster=t=http://127.0.0.1:23800",
        f"--cert-file={e.path('etcd-server.crt')}", f"--key-file={e.path('etcd-server.key')}",
        f"--trusted-ca-file={e.path('etcd-ca.crt')}", "--client-cert-auth"],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(directory, "etcd.log"), "wb"))  # pylint: disable=consider-using-with
    servers = []
    try:
        assert _wait_port(23790), "etcd did not start"
        for port in (PORT1, PORT2):
            api, httpd, ctl = apiserver.build(apiserver.parse_flags(server_flags(e, port)), apiserver.Logger(-1))
            ctl.interval = 0.5
            stop = threading.Event()
            threading.Thread(target=apiserver.bootstrap, args=(api, api.log, stop), daemon=True).start()
            assert api.ready.wait(20)
            ctl.start()
            threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
            servers.append((httpd, ctl, stop))
        e.controllers = [ctl for dummy, ctl, dummy in servers]
        yield e
    finally:
        for httpd, ctl, stop in servers:
            stop.set()
            ctl.stop.set()
            httpd.shutdown()
            httpd.server_close()
        etcd.terminate()
        etcd.wait(10)


def _b64(text):
    return base64.b64encode(text.encode()).decode()


# -- basics -------------------------------------------------------------------------------------------
def test_version_and_health_anonymous(env):
    anon = env.client(None)
    version = anon.get("/version")
    assert version["gitVersion"] == git_version()
    assert anon.request("GET", "/livez") == "ok"
    with pytest.raises(ApiError) as err:
        anon.get("/api/v1/namespaces/default/configmaps")
    assert err.value.status == 403
    assert err.value.message == ('configmaps is forbidden: User "system:anonymous" cannot list resource "configmaps" '
                                 'in API group "" in the namespace "default"')
    with pytest.raises(ApiError) as err:
        anon.get("/api")
    assert err.value.status == 403 and 'cannot get path "/api"' in err.value.message


def test_default_namespaces_and_keys_in_etcd(env):
    names = {n["metadata"]["name"] for n in env.client().get("/api/v1/namespaces")["items"]}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names
    if ETCDCTL:
        keys = env.etcdctl("get", "/registry/namespaces/", "--prefix", "--keys-only").stdout.split()
        assert "/registry/namespaces/kube-system" in keys


def test_version_flag_and_unknown_flag(capsys):
    assert apiserver.main(["--version"]) == 0
    assert "Kubernetes %s STAND-IN" % git_version() in capsys.readouterr().out
    assert apiserver.main(["--etcd-servers=https://x:1", "--no-such-flag=1"]) == 1
    assert "Error: unknown flag: --no-such-flag" in capsys.readouterr().err


def test_missing_cert_file_names_it(env, capsys):
    flags = server_flags(env, 16449)
    flags = [f for f in flags if not f.startswith("--tls-cert-file")] + ["--tls-cert-file=/nonexistent/apiserver.crt"]
    assert apiserver.main(flags) == 1
    assert "/nonexistent/apiserver.crt" in capsys.readouterr().err
    flags = [f for f in server_flags(env, 16449) if not f.startswith("--etcd-keyfile")] + [f"--etcd-keyfile={env.path('admin.key')}"]
    assert apiserver.main(flags) == 1
    err = capsys.readouterr().err
    assert env.path("admin.key") in err and env.path("etcd-client.crt") in err


def test_crud_and_conflict_and_noop(env):
    c = env.client()
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1", "labels": {"a": "1"}}, "data": {"k": "v"}}
    created = c.post("/api/v1/namespaces/default/configmaps", cm)
    assert created["metadata"]["uid"] and created["metadata"]["creationTimestamp"]
    rv = created["metadata"]["resourceVersion"]
    with pytest.raises(ApiError) as err:
        c.post("/api/v1/namespaces/default/configmaps", cm)
    assert err.value.status == 409 and err.value.message == 'configmaps "c1" already exists'
    # a no-op merge patch keeps the resourceVersion
    same = c.patch("/api/v1/namespaces/default/configmaps/c1", {"data": {"k": "v"}})
    assert same["metadata"]["resourceVersion"] == rv
    changed = c.patch("/api/v1/namespaces/default/configmaps/c1", {"data": {"k": "w"}})
    assert int(changed["metadata"]["resourceVersion"]) > int(rv)
    stale = dict(created)
    stale["data"] = {"k": "x"}
    with pytest.raises(ApiError) as err:
        c.put("/api/v1/namespaces/default/configmaps/c1", stale)
    assert err.value.status == 409
    assert err.value.message == ('Operation cannot be fulfilled on configmaps "c1": the object has been modified; '
                                 'please apply your changes to the latest version and try again')
    ops = [{"op": "add", "path": "/data/j", "value": "1"}]
    assert c.patch("/api/v1/namespaces/default/configmaps/c1", ops, content_type=JSON_PATCH)["data"] == {"k": "w", "j": "1"}
    with pytest.raises(ApiError) as err:
        c.post("/api/v1/namespaces/nope/configmaps", dict(cm, metadata={"name": "z"}))
    assert err.value.status == 404 and err.value.message == 'namespaces "nope" not found'
    gen = c.post("/api/v1/namespaces/default/configmaps", {"metadata": {"generateName": "g-"}})
    assert gen["metadata"]["name"].startswith("g-") and len(gen["metadata"]["name"]) == 7
    deleted = c.delete("/api/v1/namespaces/default/configmaps/c1")
    assert deleted["metadata"]["name"] == "c1"
    assert not c.exists("/api/v1/namespaces/default/configmaps/c1")


def test_selectors(env):
    c = env.client()
    c.post("/api/v1/namespaces", {"metadata": {"name": "sel"}})
    for name, labels in (("a", {"app": "web", "tier": "fe"}), ("b", {"app": "db"}), ("c", {})):
        c.post("/api/v1/namespaces/sel/configmaps", {"metadata": {"name": name, "labels": labels}})

    def names(**query):
        items = c.get("/api/v1/namespaces/sel/configmaps", query=query)["items"]
        return sorted(i["metadata"]["name"] for i in items if i["metadata"]["name"] != "kube-root-ca.crt")
    assert names(labelSelector="app=web") == ["a"]
    assert names(labelSelector="app==web") == ["a"]
    assert names(labelSelector="app!=web") == ["b", "c"]
    assert names(labelSelector="app in (web,db)") == ["a", "b"]
    assert names(labelSelector="app notin (web)") == ["b", "c"]
    assert names(labelSelector="app") == ["a", "b"]
    assert names(labelSelector="!app") == ["c"]
    assert names(fieldSelector="metadata.name=b") == ["b"]
    assert names(fieldSelector="metadata.namespace=sel,metadata.name!=b") == ["a", "c"]
    with pytest.raises(ApiError) as err:
        names(fieldSelector="spec.nodeName=x")
    assert err.value.status == 400
    page = c.get("/api/v1/namespaces/sel/configmaps", query={"limit": "2"})
    assert len(page["items"]) == 2 and page["metadata"]["continue"]
    rest = c.get("/api/v1/namespaces/sel/configmaps", query={"limit": "2", "continue": page["metadata"]["continue"]})
    assert len(rest["items"]) >= 1
    # deleting the namespace deletes its contents
    c.delete("/api/v1/namespaces/sel")
    assert not c.exists("/api/v1/namespaces/sel")
    if ETCDCTL:
        assert env.etcdctl("get", "/registry/configmaps/sel/", "--prefix", "--keys-only").stdout.strip() == ""


def test_dry_run_stores_nothing(env):
    c = env.client()
    obj = c.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "dry"}}, query={"dryRun": "All"})
    assert obj["metadata"]["name"] == "dry"
    assert not c.exists("/api/v1/namespaces/default/configmaps/dry")
    if ETCDCTL:
        assert env.etcdctl("get", "/registry/configmaps/default/dry").stdout == ""


def test_pods_fieldselector_and_status(env):
    c = env.client()
    pod = {"metadata": {"name": "p1"}, "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox"}]},
           "status": {"phase": "Running"}}
    created = c.post("/api/v1/namespaces/default/pods", pod)
    assert created["status"]["phase"] == "Pending"
    node_client = env.client("node1")
    status = node_client.patch("/api/v1/namespaces/default/pods/p1/status", {"status": {"phase": "Running"}})
    assert status["status"]["phase"] == "Running"
    # the main endpoint does not change status
    other = c.patch("/api/v1/namespaces/default/pods/p1", {"status": {"phase": "Failed"}, "metadata": {"labels": {"x": "y"}}})
    assert other["status"]["phase"] == "Running" and other["metadata"]["labels"] == {"x": "y"}
    items = c.get("/api/v1/pods", query={"fieldSelector": "spec.nodeName=n1,status.phase=Running"})["items"]
    assert [i["metadata"]["name"] for i in items] == ["p1"]


def test_generation_bumps_on_spec_change(env):
    c = env.client()
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d1"},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
                    "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    created = c.post("/apis/apps/v1/namespaces/default/deployments", dep)
    assert created["metadata"]["generation"] == 1
    labelled = c.patch("/apis/apps/v1/namespaces/default/deployments/d1", {"metadata": {"labels": {"l": "1"}}})
    assert labelled["metadata"]["generation"] == 1
    scaled = c.patch("/apis/apps/v1/namespaces/default/deployments/d1", {"spec": {"replicas": 3}}, content_type=STRATEGIC_MERGE_PATCH)
    assert scaled["metadata"]["generation"] == 2


def test_authz_reader_and_node(env):
    reader = env.client("reader")
    assert reader.get("/api/v1/namespaces/default")["metadata"]["name"] == "default"
    with pytest.raises(ApiError) as err:
        reader.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "r"}})
    assert err.value.status == 403
    assert err.value.message == ('configmaps is forbidden: User "jane" cannot create resource "configmaps" in API group "" '
                                 'in the namespace "default"')
    node = env.client("node1")
    node.post("/api/v1/nodes", {"metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}},
                                "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]}})
    assert env.client().get("/api/v1/nodes/n1")["status"]["addresses"][0]["address"] == "10.0.0.1"
    with pytest.raises(Exception):
        env.client("stranger").get("/api/v1/nodes")


def _token_secret(token_id, secret, expiration):
    data = {"token-id": token_id, "token-secret": secret, "usage-bootstrap-authentication": "true",
            "usage-bootstrap-signing": "true", "auth-extra-groups": "system:bootstrappers:kubeadm:default-node-token",
            "expiration": expiration}
    return {"apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
            "metadata": {"name": f"bootstrap-token-{token_id}", "namespace": "kube-system"},
            "data": {k: _b64(v) for k, v in data.items()}}


def test_bootstrap_tokens_and_cluster_info(env):
    c = env.client()
    later = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    past = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    c.post("/api/v1/namespaces/kube-system/secrets", _token_secret("abcdef", "0123456789abcdef", later))
    c.post("/api/v1/namespaces/kube-public/configmaps", {"metadata": {"name": "cluster-info"},
                                                         "data": {"kubeconfig": "apiVersion: v1\nkind: Config\n"}})
    boot = env.client(token="abcdef.0123456789abcdef")
    assert boot.get("/api/v1/namespaces/kube-public/configmaps/cluster-info")
    with pytest.raises(ApiError) as err:
        boot.get("/api/v1/namespaces/kube-system/secrets")
    assert err.value.status == 403
    assert 'User "system:bootstrap:abcdef"' in err.value.message
    with pytest.raises(ApiError) as err:
        env.client(token="abcdef.ffffffffffffffff").get("/api/v1/namespaces")
    assert err.value.status == 401
    # anonymous may read cluster-info and, once the signer ran, sees the JWS
    anon = env.client(None)
    deadline = time.time() + 10
    while time.time() < deadline:
        data = anon.get("/api/v1/namespaces/kube-public/configmaps/cluster-info")["data"]
        if "jws-kubeconfig-abcdef" in data:
            break
        time.sleep(0.2)
    assert "jws-kubeconfig-abcdef" in data and ".." in data["jws-kubeconfig-abcdef"]
    # an expired token is refused and its Secret deleted
    c.post("/api/v1/namespaces/kube-system/secrets", _token_secret("zzzzzz", "0123456789abcdef", past))
    with pytest.raises(ApiError) as err:
        env.client(token="zzzzzz.0123456789abcdef").get("/api/v1/namespaces")
    assert err.value.status == 401
    assert not c.exists("/api/v1/namespaces/kube-system/secrets/bootstrap-token-zzzzzz")


def test_watch(env):
    c = env.client()
    start = c.get("/api/v1/namespaces/default/configmaps")["metadata"]["resourceVersion"]
    events = []

    def watcher():
        import http.client  # pylint: disable=import-outside-toplevel
        conn = http.client.HTTPSConnection("127.0.0.1", PORT2, context=c.context, timeout=10)
        conn.request("GET", f"/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={start}&timeoutSeconds=3&labelSelector=w%3D1")
        response = conn.getresponse()
        for line in response:
            if line.strip():
                events.append(json.loads(line))
        conn.close()
    thread = threading.Thread(target=watcher)
    thread.start()
    time.sleep(0.5)
    c.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "w1", "labels": {"w": "1"}}})
    c.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "w2"}})
    c.patch("/api/v1/namespaces/default/configmaps/w1", {"data": {"a": "b"}})
    c.delete("/api/v1/namespaces/default/configmaps/w1")
    thread.join(10)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]


def test_two_servers_share_etcd(env):
    c1, c2 = env.client(port=PORT1), env.client(port=PORT2)
    c1.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "shared"}, "data": {"x": "1"}})
    assert c2.get("/api/v1/namespaces/default/configmaps/shared")["data"] == {"x": "1"}


def test_python_client_dynamic_discovery(env):
    kubernetes = pytest.importorskip("kubernetes")
    from kubernetes import client as kclient, config as kconfig, dynamic  # pylint: disable=import-outside-toplevel
    api_client = kconfig.new_client_from_config(env.kubeconfig())
    dyn = dynamic.DynamicClient(api_client)
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    assert deployments.namespaced and "status" in list(deployments.subresources)
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    cms.create(body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dyn"}}, namespace="default")
    assert cms.get(name="dyn", namespace="default").metadata.name == "dyn"
    core = kclient.CoreV1Api(api_client)
    assert "default" in [n.metadata.name for n in core.list_namespace().items]
    assert kubernetes.__version__


def test_crd_then_cr_and_strict(env):
    c = env.client()
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.example.com"},
           "spec": {"group": "example.com", "scope": "Namespaced",
                    "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
                    "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
                                  "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                      "spec": {"type": "object", "properties": {"size": {"type": "integer"}}},
                                      "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}}]}}
    created = c.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    assert {x["type"]: x["status"] for x in created["status"]["conditions"]} == {"NamesAccepted": "True", "Established": "True"}
    bad = dict(crd, metadata={"name": "wrong.example.com"})
    with pytest.raises(ApiError) as err:
        c.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", bad)
    assert err.value.status == 422
    names = [r["name"] for r in c.get("/apis/example.com/v1")["resources"]]
    assert names == ["widgets", "widgets/status"]
    w = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 2}}
    c.post("/apis/example.com/v1/namespaces/default/widgets", w)
    with pytest.raises(ApiError) as err:
        c.post("/apis/example.com/v1/namespaces/default/widgets", dict(w, metadata={"name": "w2"}, spec={"sise": 1}),
               query={"fieldValidation": "Strict"})
    assert err.value.status == 400 and 'strict decoding error: unknown field "spec.sise"' in err.value.message
    warned = c.post("/apis/example.com/v1/namespaces/default/widgets", dict(w, metadata={"name": "w3"}, spec={"sise": 1}))
    assert warned["spec"] == {}
    with pytest.raises(ApiError) as err:
        c.patch("/apis/example.com/v1/namespaces/default/widgets/w", {"spec": {"size": 3}}, content_type=STRATEGIC_MERGE_PATCH)
    assert err.value.status == 415
    applied = c.patch("/apis/example.com/v1/namespaces/default/widgets/w4", {"apiVersion": "example.com/v1", "kind": "Widget",
                                                                             "metadata": {"name": "w4"}, "spec": {"size": 4}},
                      content_type=APPLY_PATCH, query={"fieldManager": "t"})
    assert applied["spec"] == {"size": 4}
    if ETCDCTL:
        assert "/registry/example.com/widgets/default/w" in env.etcdctl("get", "/registry/example.com/", "--prefix", "--keys-only").stdout
    c.delete("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com")
    if ETCDCTL:
        assert env.etcdctl("get", "/registry/example.com/", "--prefix", "--keys-only").stdout.strip() == ""


def test_tigera_installation_strict(env):
    path = os.path.join(CRDS, "operator.tigera.io_installations.yaml")
    if not os.path.exists(path):
        pytest.skip("IRONSTONE_CRDS_DIR: tigera CRDs not found")
    import yaml  # pylint: disable=import-outside-toplevel
    with open(path, encoding="utf-8") as handle:
        crd = yaml.safe_load(handle)
    c = env.client()
    c.patch(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd['metadata']['name']}", crd,
            content_type=APPLY_PATCH, query={"fieldManager": "test", "fieldValidation": "Strict"})
    inst = {"apiVersion": "operator.tigera.io/v1", "kind": "Installation", "metadata": {"name": "default"},
            "spec": {"calicoVersion": "v3.32.1"}}
    with pytest.raises(ApiError) as err:
        c.post("/apis/operator.tigera.io/v1/installations", inst, query={"fieldValidation": "Strict"})
    assert err.value.status == 400
    assert 'strict decoding error: unknown field "spec.calicoVersion"' in err.value.message
    ok = c.post("/apis/operator.tigera.io/v1/installations", dict(inst, spec={"variant": "Calico"}), query={"fieldValidation": "Strict"})
    assert ok["spec"]["variant"] == "Calico"


@pytest.mark.skipif(KUBECTL is None, reason="kubectl not installed")
def test_kubectl(env):
    manifest = """apiVersion: v1
kind: ConfigMap
metadata:
  name: kc
  namespace: default
data:
  a: "1"
"""
    out = env.kubectl("apply", "-f", "-", stdin=manifest)
    assert out.returncode == 0, out.stderr
    assert "configmap/kc created" in out.stdout
    out = env.kubectl("apply", "-f", "-", stdin=manifest)
    assert out.returncode == 0 and "unchanged" in out.stdout, out.stdout + out.stderr
    out = env.kubectl("apply", "--server-side", "-f", "-", stdin=manifest.replace("kc", "kcs"))
    assert out.returncode == 0 and "serverside-applied" in out.stdout, out.stderr
    out = env.kubectl("label", "configmap", "kc", "x=y")
    assert out.returncode == 0, out.stderr
    out = env.kubectl("get", "configmap", "kc", "-o", "json")
    assert json.loads(out.stdout)["metadata"]["labels"] == {"x": "y"}
    out = env.kubectl("get", "configmaps", "-o", "yaml")
    assert out.returncode == 0 and "name: kc" in out.stdout
    out = env.kubectl("get", "nodes", "-o", "wide")
    assert out.returncode == 0, out.stderr
    out = env.kubectl("delete", "configmap", "kc")
    assert out.returncode == 0 and 'configmap "kc" deleted' in out.stdout, out.stderr
    out = env.kubectl("create", "-f", "-", stdin=manifest.replace("kc", "kc3"))
    assert out.returncode == 0 and "configmap/kc3 created" in out.stdout, out.stderr
    out = env.kubectl("create", "-f", "-", stdin=manifest.replace("kc", "kc3"))
    assert out.returncode == 1 and 'configmaps "kc3" already exists' in out.stderr
    bad = """apiVersion: apps/v1
kind: Deployment
metadata: {name: typo, namespace: default}
spec:
  replcas: 2
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec: {containers: [{name: c, image: nginx}]}
"""
    out = env.kubectl("apply", "-f", "-", stdin=bad)
    if HAVE_VALIDATION:
        assert out.returncode == 1 and 'strict decoding error: unknown field "spec.replcas"' in out.stderr, out.stderr


def test_kubelet_csr_bootstrap(env):
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives import hashes, serialization  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives.asymmetric import ec  # pylint: disable=import-outside-toplevel
    from cryptography.x509.oid import NameOID  # pylint: disable=import-outside-toplevel
    later = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    env.client().post("/api/v1/namespaces/kube-system/secrets", _token_secret("csrtok", "0123456789abcdef", later))
    boot = env.client(token="csrtok.0123456789abcdef")
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder().subject_name(x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"), x509.NameAttribute(NameOID.COMMON_NAME, "system:node:n2")]))
        .sign(key, hashes.SHA256()))
    pem = csr.public_bytes(serialization.Encoding.PEM)
    created = boot.post("/apis/certificates.k8s.io/v1/certificatesigningrequests", {
        "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest", "metadata": {"generateName": "csr-"},
        "spec": {"request": base64.b64encode(pem).decode(), "signerName": "kubernetes.io/kube-apiserver-client-kubelet",
                 "usages": ["digital signature", "client auth"]}})
    assert created["spec"]["username"] == "system:bootstrap:csrtok"
    assert "system:bootstrappers" in created["spec"]["groups"]
    name = created["metadata"]["name"]
    deadline = time.time() + 10
    while time.time() < deadline:
        got = boot.get(f"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}")
        if got.get("status", {}).get("certificate"):
            break
        time.sleep(0.2)
    assert [c["type"] for c in got["status"]["conditions"]] == ["Approved"]
    cert_pem = base64.b64decode(got["status"]["certificate"])
    cert = x509.load_pem_x509_certificate(cert_pem)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "system:node:n2"
    node = KubeClient(f"https://127.0.0.1:{PORT1}", ca=env.read("ca.crt"), cert=cert_pem, key=key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    lease = node.post("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
                      {"metadata": {"name": "n2"}, "spec": {"holderIdentity": "n2", "leaseDurationSeconds": 40}})
    assert lease["spec"]["holderIdentity"] == "n2"


def test_big_crd_create_apply_and_annotation_limit(env):
    path = os.path.join(CRDS, "operator.tigera.io_apiservers.yaml")
    if not os.path.exists(path):
        pytest.skip("IRONSTONE_CRDS_DIR: tigera CRDs not found")
    import yaml  # pylint: disable=import-outside-toplevel
    with open(path, encoding="utf-8") as handle:
        crd = yaml.safe_load(handle)
    c = env.client()
    created = c.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    rv = created["metadata"]["resourceVersion"]
    again = c.patch(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd['metadata']['name']}", crd,
                    content_type=APPLY_PATCH, query={"fieldManager": "test", "force": "true"})
    assert again["metadata"]["name"] == crd["metadata"]["name"]
    noop = c.patch(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd['metadata']['name']}", crd,
                   content_type=APPLY_PATCH, query={"fieldManager": "test", "force": "true"})
    assert noop["metadata"]["resourceVersion"] == again["metadata"]["resourceVersion"]
    assert int(rv) <= int(noop["metadata"]["resourceVersion"])
    big = {"metadata": {"name": "big", "annotations": {"a": "x" * (256 * 1024)}}}
    with pytest.raises(ApiError) as err:
        c.post("/api/v1/namespaces/default/configmaps", big)
    assert err.value.status == 422 and "metadata.annotations: Too long" in err.value.message
    big_path = os.path.join(CRDS, "operator.tigera.io_installations.yaml")
    if KUBECTL and os.path.exists(big_path):
        out = env.kubectl("apply", "-f", big_path)
        assert out.returncode == 1 and "Too long" in out.stderr, out.stderr


def test_python_client_watch(env):
    pytest.importorskip("kubernetes")
    from kubernetes import client as kclient, config as kconfig, watch  # pylint: disable=import-outside-toplevel
    core = kclient.CoreV1Api(kconfig.new_client_from_config(env.kubeconfig(port=PORT2)))
    rv = core.list_namespaced_config_map("default").metadata.resource_version
    env.client().post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "pw"}})
    seen = []
    for event in watch.Watch().stream(core.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=2):
        seen.append((event["type"], event["object"].metadata.name))
    assert ("ADDED", "pw") in seen


def test_not_ready_while_etcd_unreachable(env):
    messages = []
    flags = [f for f in server_flags(env, 16446) if not f.startswith("--etcd-servers")] + ["--etcd-servers=https://127.0.0.1:23798"]
    api, httpd, dummy = apiserver.build(apiserver.parse_flags(flags), lambda level, msg: messages.append(msg))
    stop = threading.Event()
    threading.Thread(target=apiserver.bootstrap, args=(api, api.log, stop), daemon=True).start()
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    try:
        anon = KubeClient("https://127.0.0.1:16446", ca=env.read("ca.crt"))
        assert anon.request("GET", "/livez") == "ok"
        with pytest.raises(ApiError) as err:
            anon.request("GET", "/readyz")
        assert err.value.status == 500
        time.sleep(0.3)
        assert any("https://127.0.0.1:23798" in m and "refused" in m.lower() for m in messages), messages
    finally:
        stop.set()
        httpd.shutdown()
        httpd.server_close()


def test_unsupported_paths_are_explicit(env):
    c = env.client()
    c.post("/api/v1/namespaces/default/pods", {"metadata": {"name": "p501"}, "spec": {"containers": [{"name": "c", "image": "x"}]}})
    with pytest.raises(ApiError) as err:
        c.get("/api/v1/namespaces/default/pods/p501/exec")
    assert err.value.status == 501 and "not implemented by the stand-in" in err.value.message
    with pytest.raises(ApiError) as err:
        c.get("/api/v1/namespaces/default/pods/p501/log", {"follow": "true"})
    assert err.value.status == 501 and "not implemented by the stand-in" in err.value.message
    # pods/log (proxied to the kubelet, kubelet_crashloop.py): the real registry's checks come first
    c.post("/api/v1/namespaces/default/pods", {"metadata": {"name": "two"}, "spec": {"containers": [
        {"name": "a", "image": "x"}, {"name": "b", "image": "x"}]}})
    with pytest.raises(ApiError) as err:
        c.get("/api/v1/namespaces/default/pods/two/log")
    assert err.value.status == 400 and err.value.message == "a container name must be specified for pod two, choose one of: [a b]"
    with pytest.raises(ApiError) as err:
        c.get("/api/v1/namespaces/default/pods/two/log", {"container": "z"})
    assert err.value.status == 400 and err.value.message == "container z is not valid for pod two"
    with pytest.raises(ApiError) as err:
        c.get("/api/v1/namespaces/default/pods/gone/log")
    assert err.value.status == 404
    with pytest.raises(ApiError) as err:
        c.get("/apis/nope.example.com/v1/things")
    assert err.value.status == 404


@pytest.mark.skipif(KUBECTL is None, reason="kubectl not installed")
def test_kubectl_imperative_create_uses_protobuf(env):
    for args in (("create", "configmap", "pb", "--from-literal=a=b", "--from-literal=e="),
                 ("create", "secret", "generic", "pbs", "--from-literal=p=q"),
                 ("create", "namespace", "pbns"), ("create", "serviceaccount", "pbsa")):
        out = env.kubectl(*args)
        assert out.returncode == 0, out.stderr
    assert env.client().get("/api/v1/namespaces/default/configmaps/pb")["data"] == {"a": "b", "e": ""}
    secret = env.client().get("/api/v1/namespaces/default/secrets/pbs")
    assert secret["type"] == "Opaque" and base64.b64decode(secret["data"]["p"]) == b"q"
    out = env.kubectl("create", "deployment", "pbd", "--image=nginx")
    assert out.returncode == 1 and "not implemented by the stand-in" in out.stderr
    out = env.kubectl("apply", "--dry-run=server", "-f", "-", stdin="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dryk, namespace: default}\n")
    assert out.returncode == 0 and "(server dry run)" in out.stdout
    assert not env.client().exists("/api/v1/namespaces/default/configmaps/dryk")


@pytest.mark.skipif(not HAVE_VALIDATION, reason="validation.py (built-in schemas) not present")
def test_field_validation_of_builtin_kinds(env):
    import http.client  # pylint: disable=import-outside-toplevel
    c = env.client()
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "fv"},
           "spec": {"replcas": 2, "selector": {"matchLabels": {"a": "b"}},
                    "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    with pytest.raises(ApiError) as err:
        c.post("/apis/apps/v1/namespaces/default/deployments", dep, query={"fieldValidation": "Strict"})
    assert err.value.status == 400
    assert err.value.message == ('Deployment in version "v1" cannot be handled as a Deployment: '
                                 'strict decoding error: unknown field "spec.replcas"')
    conn = http.client.HTTPSConnection("127.0.0.1", PORT1, context=c.context, timeout=10)
    conn.request("POST", "/apis/apps/v1/namespaces/default/deployments", body=json.dumps(dep),
                 headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    body = json.loads(response.read())
    conn.close()
    assert response.status == 201 and "replcas" not in body["spec"]
    assert response.getheader("Warning") == '299 - "unknown field \\"spec.replcas\\""'
    ignored = c.post("/apis/apps/v1/namespaces/default/deployments", dict(dep, metadata={"name": "fv2"}),
                     query={"fieldValidation": "Ignore"})
    assert "replcas" not in ignored["spec"]
    bad = dict(dep, metadata={"name": "fv3"}, spec=dict(dep["spec"], replicas="three"))
    bad["spec"].pop("replcas")
    with pytest.raises(ApiError) as err:
        c.post("/apis/apps/v1/namespaces/default/deployments", bad)
    assert err.value.status == 422 and err.value.message.startswith('Deployment.apps "fv3" is invalid: ')


@pytest.mark.skipif(KUBECTL is None, reason="kubectl not installed")
def test_kubectl_client_side_then_server_side_apply(env):
    manifest = """apiVersion: apps/v1
kind: Deployment
metadata: {name: mig, namespace: default, labels: {app: mig}}
spec:
  replicas: 2
  selector: {matchLabels: {app: mig}}
  template:
    metadata: {labels: {app: mig}}
    spec: {containers: [{name: c, image: nginx}]}
"""
    assert env.kubectl("apply", "-f", "-", stdin=manifest).returncode == 0
    out = env.kubectl("apply", "--server-side", "-f", "-", stdin=manifest)
    assert out.returncode == 0 and "Warning" not in out.stderr, out.stderr
    out = env.kubectl("apply", "--server-side", "-f", "-", stdin=manifest.replace("replicas: 2", "replicas: 3"))
    assert out.returncode == 0, out.stderr


def test_eviction_and_scale(env):
    c = env.client()
    c.post("/api/v1/namespaces", {"metadata": {"name": "ev"}})
    for name in ("e1", "e2"):
        c.post("/api/v1/namespaces/ev/pods", {"metadata": {"name": name, "labels": {"app": "e"}},
                                              "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "x"}]}})
        c.patch(f"/api/v1/namespaces/ev/pods/{name}/status", {"status": {"phase": "Running", "conditions": [
            {"type": "Ready", "status": "True"}]}})
    c.post("/apis/policy/v1/namespaces/ev/poddisruptionbudgets", {"metadata": {"name": "pdb"},
                                                                  "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "e"}}}})
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "e1", "namespace": "ev"}}
    with pytest.raises(ApiError) as err:
        c.post("/api/v1/namespaces/ev/pods/e1/eviction", eviction)
    assert err.value.status == 429 and "disruption budget" in err.value.message
    c.patch("/apis/policy/v1/namespaces/ev/poddisruptionbudgets/pdb", {"spec": {"minAvailable": 1}})
    assert c.post("/api/v1/namespaces/ev/pods/e1/eviction", eviction)["status"] == "Success"
    assert not c.exists("/api/v1/namespaces/ev/pods/e1")
    resources = {r["name"]: r for r in c.get("/api/v1")["resources"]}
    assert resources["pods/eviction"]["kind"] == "Eviction"
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "sc"},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "s"}},
                    "template": {"metadata": {"labels": {"a": "s"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    c.post("/apis/apps/v1/namespaces/ev/deployments", dep)
    scale = c.get("/apis/apps/v1/namespaces/ev/deployments/sc/scale")
    assert scale["spec"]["replicas"] == 1 and scale["status"]["selector"] == "a=s"
    if KUBECTL:
        out = env.kubectl("scale", "-n", "ev", "deployment/sc", "--replicas=3")
        assert out.returncode == 0, out.stderr
    else:
        c.patch("/apis/apps/v1/namespaces/ev/deployments/sc/scale", {"spec": {"replicas": 3}})
    got = c.get("/apis/apps/v1/namespaces/ev/deployments/sc")
    assert got["spec"]["replicas"] == 3 and got["metadata"]["generation"] == 2
    c.delete("/api/v1/namespaces/ev")


@pytest.mark.skipif(KUBECTL is None, reason="kubectl not installed")
def test_kubectl_drain_and_certificate_approve(env):
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives import hashes, serialization  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives.asymmetric import ec  # pylint: disable=import-outside-toplevel
    from cryptography.x509.oid import NameOID  # pylint: disable=import-outside-toplevel
    c = env.client()
    c.post("/api/v1/nodes", {"metadata": {"name": "dn"}})
    c.post("/api/v1/namespaces", {"metadata": {"name": "dr"}})
    c.post("/api/v1/namespaces/dr/pods", {"metadata": {"name": "dp"}, "spec": {"nodeName": "dn", "containers": [{"name": "c", "image": "x"}]}})
    c.patch("/api/v1/namespaces/dr/pods/dp/status", {"status": {"phase": "Running"}})
    out = env.kubectl("drain", "dn", "--force", "--timeout=20s")
    assert out.returncode == 0 and "node/dn drained" in out.stdout, out.stderr
    assert c.get("/api/v1/nodes/dn")["spec"]["unschedulable"] is True
    assert not c.exists("/api/v1/namespaces/dr/pods/dp")
    key = ec.generate_private_key(ec.SECP256R1())
    request = (x509.CertificateSigningRequestBuilder().subject_name(x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"), x509.NameAttribute(NameOID.COMMON_NAME, "system:node:dn")]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("dn")]), critical=False).sign(key, hashes.SHA256()))
    env.client("node1").post("/apis/certificates.k8s.io/v1/certificatesigningrequests", {
        "metadata": {"name": "serving-dn"}, "spec": {
            "request": base64.b64encode(request.public_bytes(serialization.Encoding.PEM)).decode(),
            "signerName": "kubernetes.io/kubelet-serving", "usages": ["digital signature", "server auth"]}})
    time.sleep(1.2)
    assert "certificate" not in c.get("/apis/certificates.k8s.io/v1/certificatesigningrequests/serving-dn").get("status", {})
    out = env.kubectl("certificate", "approve", "serving-dn")
    assert out.returncode == 0, out.stderr
    deadline = time.time() + 10
    while time.time() < deadline:
        status = c.get("/apis/certificates.k8s.io/v1/certificatesigningrequests/serving-dn").get("status", {})
        if status.get("certificate"):
            break
        time.sleep(0.2)
    cert = x509.load_pem_x509_certificate(base64.b64decode(status["certificate"]))
    assert cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName) == ["dn"]


def test_process_banner_and_wrong_etcd_ca(env):
    flags = [f for f in server_flags(env, 16447) if not f.startswith(("--etcd-cafile", "--etcd-servers"))]
    flags += [f"--etcd-cafile={env.path('ca.crt')}", "--etcd-servers=https://127.0.0.1:23790"]
    code = "import sys; sys.path.insert(0, %r); from lab.standin.apiserver import main; sys.exit(main(sys.argv[1:]))" % ROOT
    proc = subprocess.Popen([sys.executable, "-c", code, *flags], stderr=subprocess.PIPE, text=True)  # pylint: disable=consider-using-with
    try:
        first = proc.stderr.readline()
        assert "STAND-IN" in first
        deadline = time.time() + 15
        seen = ""
        while time.time() < deadline and "CERTIFICATE_VERIFY_FAILED" not in seen:
            seen += proc.stderr.readline()
        assert "https://127.0.0.1:23790" in seen and "CERTIFICATE_VERIFY_FAILED" in seen, seen
        anon = KubeClient("https://127.0.0.1:16447", ca=env.read("ca.crt"))
        with pytest.raises(ApiError) as err:
            anon.request("GET", "/readyz")
        assert err.value.status == 500
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
        proc.stderr.close()


def test_garbage_collection_of_dependents(env):
    c = env.client()
    node = c.post("/api/v1/nodes", {"metadata": {"name": "gcnode"}})
    ref = {"apiVersion": "v1", "kind": "Node", "name": "gcnode", "uid": node["metadata"]["uid"], "controller": True}
    c.post("/api/v1/namespaces/kube-system/pods", {"metadata": {"name": "mirror-gcnode", "ownerReferences": [ref]},
                                                   "spec": {"nodeName": "gcnode", "containers": [{"name": "c", "image": "x"}]}})
    owner = c.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "gc-owner"}})
    oref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "gc-owner", "uid": owner["metadata"]["uid"]}
    c.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "gc-orphan", "ownerReferences": [oref]}})
    c.request("DELETE", "/api/v1/namespaces/default/configmaps/gc-owner", body={"propagationPolicy": "Orphan"})
    c.delete("/api/v1/nodes/gcnode")
    env.controllers[0].garbage_collector(force=True)
    deadline = time.time() + 15
    while time.time() < deadline and c.exists("/api/v1/namespaces/kube-system/pods/mirror-gcnode"):
        time.sleep(0.3)
    assert not c.exists("/api/v1/namespaces/kube-system/pods/mirror-gcnode")
    orphan = c.get("/api/v1/namespaces/default/configmaps/gc-orphan")
    assert "ownerReferences" not in orphan["metadata"]


def test_request_too_large(env):
    with pytest.raises(ApiError) as err:
        env.client().post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "huge"}, "data": {"a": "x" * (3 * 1024 * 1024)}})
    assert err.value.status == 413


@pytest.mark.skipif(KUBECTL is None, reason="kubectl not installed")
def test_kubectl_auth_can_i_and_whoami(env):
    out = env.kubectl("auth", "can-i", "create", "configmaps")
    assert out.returncode == 0 and out.stdout.strip() == "yes", out.stderr
    out = env.kubectl("auth", "can-i", "create", "configmaps", who="reader")
    assert out.returncode == 1 and out.stdout.strip() == "no", out.stderr
    out = env.kubectl("auth", "whoami", "-o", "json", who="reader")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["status"]["userInfo"]["username"] == "jane"
