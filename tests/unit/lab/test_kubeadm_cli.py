"""Unit tests of the kubeadm STAND-IN CLI (lab/standin/kubeadm.py) with an in-memory API and a temporary root.

systemctl, crictl, port probes, etcd's /version and the API client are replaced by fakes; certificates,
keys, JWS and the certificate-key encryption are real.
"""
import base64
import copy
import os
import sys
import uuid

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# pylint: disable=wrong-import-position,redefined-outer-name
from lab.standin import kubeadm  # noqa: E402
from lab.standin import kubeadm_cluster as kcl  # noqa: E402
from lab.standin import kubeadm_env as env  # noqa: E402
from lab.standin import kubeadm_preflight as preflight  # noqa: E402
from lab.standin import kubeclient  # noqa: E402
from lab.standin import pki  # noqa: E402
from lab.standin.kubeclient import ApiError  # noqa: E402
from lab.standin.version import git_version, minor  # noqa: E402

GIT_VERSION = git_version()  # the release the stand-ins pretend to be, e.g. "v1.36.4"
NEXT_MINOR = "v1.%d.0" % (minor() + 1)

PKI = "/etc/kubernetes/pki"
INIT_CONFIG = """\
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
bootstrapTokens:
  - token: abcdef.0123456789abcdef
nodeRegistration:
  name: cp-1
  criSocket: unix:///run/containerd/containerd.sock
  kubeletExtraArgs:
    - name: node-ip
      value: 10.0.0.11
localAPIEndpoint:
  advertiseAddress: 10.0.0.11
  bindPort: 6443
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: @GIT_VERSION@
controlPlaneEndpoint: cp.lab.example:6443
imageRepository: registry.example/k8s
networking:
  serviceSubnet: 10.96.0.0/12
  podSubnet: 10.244.0.0/16
apiServer:
  certSANs: [api.extra.example, 10.0.0.100]
  extraArgs:
    - name: authorization-mode
      value: Node
    - name: authorization-mode
      value: Node,RBAC,Webhook
    - name: audit-log-maxage
      value: "7"
etcd:
  external:
    endpoints: [https://10.0.0.21:2379, https://10.0.0.22:2379]
    caFile: /etc/kubernetes/pki/etcd/ca.crt
    certFile: /etc/kubernetes/pki/apiserver-etcd-client.crt
    keyFile: /etc/kubernetes/pki/apiserver-etcd-client.key
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
maxPods: 50
""".replace("@GIT_VERSION@", GIT_VERSION)


# ---------------------------------------------------------------------------
# Fakes
# ---------------------------------------------------------------------------
class FakeApi:
    """An in-memory object store answering the paths the stand-in uses."""

    def __init__(self):
        self.objects = {}
        self.requests = []
        self.version = 0

    def _split(self, path):
        path = path.split("?")[0].rstrip("/")
        return path

    def collection_of(self, path):
        return path.rsplit("/", 1)[0]

    def get(self, path, creds):
        self.requests.append(("GET", path, creds))
        path = self._split(path)
        if path in ("/livez", "/readyz"):
            return "ok"
        if path in self.objects:
            return copy.deepcopy(self.objects[path])
        items = [copy.deepcopy(o) for p, o in self.objects.items() if self.collection_of(p) == path]
        if items or path.endswith("s"):
            if not any(p.startswith(path + "/") for p in self.objects) and not path.endswith(("secrets", "configmaps")):
                raise ApiError(404, "NotFound", f"{path} not found")
            return {"items": items}
        raise ApiError(404, "NotFound", f"{path} not found")

    def post(self, collection, obj, creds):
        self.requests.append(("POST", collection, creds))
        path = f"{collection}/{obj['metadata']['name']}"
        if path in self.objects:
            raise ApiError(409, "AlreadyExists", f"{obj['metadata']['name']} already exists")
        obj = copy.deepcopy(obj)
        self.version += 1
        obj["metadata"]["uid"] = str(uuid.uuid4())
        obj["metadata"]["resourceVersion"] = str(self.version)
        self.objects[path] = obj
        return copy.deepcopy(obj)

    def put(self, path, obj, creds):
        self.requests.append(("PUT", path, creds))
        if path not in self.objects:
            raise ApiError(404, "NotFound", f"{path} not found")
        obj = copy.deepcopy(obj)
        obj["metadata"]["uid"] = self.objects[path]["metadata"]["uid"]
        self.objects[path] = obj
        return copy.deepcopy(obj)

    def patch(self, path, patch, creds):
        self.requests.append(("PATCH", path, creds))
        if path not in self.objects:
            raise ApiError(404, "NotFound", f"{path} not found")

        def merge(base, change):
            for key, value in change.items():
                if isinstance(value, dict) and isinstance(base.get(key), dict):
                    merge(base[key], value)
                else:
                    base[key] = copy.deepcopy(value)
        merge(self.objects[path], patch)
        return copy.deepcopy(self.objects[path])

    def delete(self, path, creds):
        self.requests.append(("DELETE", path, creds))
        if path not in self.objects:
            raise ApiError(404, "NotFound", f'secrets "{path.rsplit("/", 1)[-1]}" not found')
        return self.objects.pop(path)


class FakeClient:
    def __init__(self, api, server, **creds):
        self.api, self.server, self.creds = api, server, creds
        if not server.startswith("https://"):
            raise ValueError(server)

    def get(self, path, query=None):
        del query
        return self.api.get(path, self.creds)

    def post(self, path, obj, query=None):
        del query
        return self.api.post(path, obj, self.creds)

    def put(self, path, obj, query=None):
        del query
        return self.api.put(path, obj, self.creds)

    def patch(self, path, obj, content_type=None, query=None):
        del content_type, query
        return self.api.patch(path, obj, self.creds)

    def delete(self, path, query=None):
        del query
        return self.api.delete(path, self.creds)


class Host:
    """A node: its root directory and recorded systemctl calls."""

    def __init__(self, root, name):
        self.root, self.name = str(root), name
        self.systemctl_calls = []
        self.on_restart = None

    def path(self, node_path):
        return self.root + node_path

    def write(self, node_path, data):
        real = self.path(node_path)
        os.makedirs(os.path.dirname(real), exist_ok=True)
        with open(real, "wb" if isinstance(data, bytes) else "w") as handle:
            handle.write(data)

    def read(self, node_path):
        with open(self.path(node_path), "rb") as handle:
            return handle.read()


@pytest.fixture
def lab(tmp_path, monkeypatch):
    """Fake API, clock and system hooks; returns a namespace with helpers."""
    api = FakeApi()
    clock = {"t": 0.0}
    state = {"host": None, "crictl_rc": 0, "ports": set(), "root": True, "etcd_error": None}

    def use(host):
        state["host"] = host
        monkeypatch.setenv("IRONSTONE_STANDIN_ROOT", host.root)
        monkeypatch.setattr(env, "hostname", lambda: host.name)

    def systemctl(*args):
        host = state["host"]
        host.systemctl_calls.append(args)
        if args[:1] == ("restart",) and host.on_restart:
            host.on_restart(host)
        return 0, "kubelet.service enabled"

    def sleep(seconds):
        clock["t"] += seconds

    def etcd_get(endpoint, material, timeout):
        del material, timeout
        if state["etcd_error"]:
            raise OSError(state["etcd_error"])
        return b'{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}'

    monkeypatch.setattr(env, "client", lambda server, **kw: FakeClient(api, server, **kw))
    monkeypatch.setattr(env, "systemctl", systemctl)
    monkeypatch.setattr(env, "unit_exists", lambda unit: True)
    monkeypatch.setattr(env, "unit_enabled", lambda unit: True)
    monkeypatch.setattr(env, "crictl", lambda endpoint, *a: (state["crictl_rc"], "" if state["crictl_rc"] == 0 else "connection refused"))
    monkeypatch.setattr(env, "is_root", lambda: state["root"])
    monkeypatch.setattr(env, "port_in_use", lambda port, address="": port in state["ports"])
    monkeypatch.setattr(env, "default_address", lambda: "10.0.0.99")
    monkeypatch.setattr(env, "sleep", sleep)
    monkeypatch.setattr(env, "monotonic", lambda: clock["t"])
    monkeypatch.setattr(preflight, "_etcd_get_version", etcd_get)

    class Lab:  # pylint: disable=too-few-public-methods
        pass
    ns = Lab()
    ns.api, ns.state, ns.clock, ns.use, ns.tmp = api, state, clock, use, tmp_path
    ns.config = tmp_path / "kubeadm.yaml"
    ns.config.write_text(INIT_CONFIG)
    ns.etcd_ca = pki.new_ca("etcd-ca")
    return ns


def new_host(lab, name, index):
    host = Host(lab.tmp / f"node{index}", name)
    host.write("/proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n")
    host.write("/proc/sys/net/ipv4/ip_forward", "1\n")
    os.makedirs(host.path("/etc/kubernetes/manifests"), exist_ok=True)
    return host


def control_plane_host(lab, name="cp-1", index=1):
    host = new_host(lab, name, index)
    ca, ca_key = lab.etcd_ca
    cert, key = pki.new_leaf(ca, ca_key, "kube-apiserver-etcd-client", client=True)
    host.write(f"{PKI}/etcd/ca.crt", pki.cert_pem(ca))
    host.write(f"{PKI}/apiserver-etcd-client.crt", pki.cert_pem(cert))
    host.write(f"{PKI}/apiserver-etcd-client.key", pki.key_pem(key))

    def register(h):
        node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": h.name, "labels": {"kubernetes.io/hostname": h.name}}}
        if f"/api/v1/nodes/{h.name}" not in lab.api.objects:
            lab.api.post("/api/v1/nodes", node, {})
    host.on_restart = register
    return host


def run(argv, capsys):
    rc = kubeadm.main(argv)
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


@pytest.fixture
def initialised(lab, capsys):
    host = control_plane_host(lab)
    lab.use(host)
    rc, out, err = run(["init", "--config", str(lab.config), "--upload-certs"], capsys)
    assert rc == 0, err
    lab.init_out = out
    return host


def cert_at(host, node_path):
    return pki.load_cert(host.read(node_path))


# ---------------------------------------------------------------------------
# CLI surface
# ---------------------------------------------------------------------------
def test_banner_and_version(capsys):
    rc, out, err = run(["version", "-o", "short"], capsys)
    assert rc == 0 and out == GIT_VERSION + "\n"
    assert err.splitlines()[0].startswith("STAND-IN")
    rc, out, _err = run(["version"], capsys)
    assert out.startswith('kubeadm version: &version.Info{Major:"1", Minor:"%d", GitVersion:"%s"' % (minor(), GIT_VERSION))
    assert "STAND-IN" in out
    assert yaml.safe_load(run(["version", "-o", "json"], capsys)[1])["clientVersion"]["gitVersion"] == GIT_VERSION


@pytest.mark.parametrize("argv,message", [
    (["frobnicate"], 'unknown command "frobnicate" for "kubeadm"'),
    (["init", "--bogus=1"], "unknown flag: --bogus"),
    (["token", "list", "--ttl", "1h"], "unknown flag: --ttl"),
    (["token", "nope"], 'unknown command "nope" for "kubeadm token"'),
    (["init", "--config"], "flag needs an argument: --config"),
])
def test_refusals(argv, message, capsys):
    rc, _out, err = run(argv, capsys)
    assert rc == 1
    assert message in err


def test_config_validate(tmp_path, capsys):
    good = tmp_path / "good.yaml"
    good.write_text(INIT_CONFIG)
    assert run(["config", "validate", "--config", str(good)], capsys)[0] == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(INIT_CONFIG.replace("  bindPort: 6443", "  bindPort: 6443\n  bindPortt: 1"))
    rc, _out, err = run(["config", "validate", "--config", str(bad)], capsys)
    assert rc == 1
    assert 'strict decoding error: unknown field "localAPIEndpoint.bindPortt"' in err


# ---------------------------------------------------------------------------
# init
# ---------------------------------------------------------------------------
def test_init_writes_pki(lab, initialised):
    host = initialised
    ca = cert_at(host, f"{PKI}/ca.crt")
    api = cert_at(host, f"{PKI}/apiserver.crt")
    assert pki.signed_by(api, ca)
    dns, ips = pki.sans_of(api)
    assert sorted(dns) == sorted(["cp-1", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                                  "kubernetes.default.svc.cluster.local", "cp.lab.example", "api.extra.example"])
    assert ips == ["10.96.0.1", "10.0.0.11", "10.0.0.100"]
    client = cert_at(host, f"{PKI}/apiserver-kubelet-client.crt")
    assert client.subject.rfc4514_string() == "CN=kube-apiserver-kubelet-client,O=kubeadm:cluster-admins"
    fp_ca = cert_at(host, f"{PKI}/front-proxy-ca.crt")
    assert pki.signed_by(cert_at(host, f"{PKI}/front-proxy-client.crt"), fp_ca)
    assert b"RSA PRIVATE KEY" in host.read(f"{PKI}/sa.key") and b"PUBLIC KEY" in host.read(f"{PKI}/sa.pub")
    assert oct(os.stat(host.path(f"{PKI}/ca.key")).st_mode & 0o777) == "0o600"
    # the external etcd files are untouched: still signed by the etcd CA of the test
    assert pki.signed_by(cert_at(host, f"{PKI}/apiserver-etcd-client.crt"), lab.etcd_ca[0])
    assert not os.path.exists(host.path(f"{PKI}/etcd/server.crt"))


@pytest.mark.parametrize("name,subject,server", [
    ("admin.conf", "CN=kubernetes-admin,O=kubeadm:cluster-admins", "https://cp.lab.example:6443"),
    ("super-admin.conf", "CN=kubernetes-super-admin,O=system:masters", "https://cp.lab.example:6443"),
    ("kubelet.conf", "CN=system:node:cp-1,O=system:nodes", "https://cp.lab.example:6443"),
    ("controller-manager.conf", "CN=system:kube-controller-manager", "https://10.0.0.11:6443"),
    ("scheduler.conf", "CN=system:kube-scheduler", "https://10.0.0.11:6443"),
])
def test_init_kubeconfigs(initialised, name, subject, server):
    path = initialised.path(f"/etc/kubernetes/{name}")
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    conf = kubeclient.load_kubeconfig(path)
    assert conf["server"] == server
    cert = pki.load_cert(conf["cert"])
    assert cert.subject.rfc4514_string() == subject
    assert pki.signed_by(cert, pki.load_cert(conf["ca"]))
    assert pki.keys_match(cert, pki.load_key(conf["key"]))


def test_init_manifests(initialised):
    pod = yaml.safe_load(initialised.read("/etc/kubernetes/manifests/kube-apiserver.yaml"))
    container = pod["spec"]["containers"][0]
    assert pod["spec"]["hostNetwork"] is True and pod["kind"] == "Pod"
    assert container["image"] == "registry.example/k8s/kube-apiserver:" + GIT_VERSION
    command = container["command"]
    assert command[0] == "kube-apiserver"
    assert command[1:] == sorted(command[1:])
    root = initialised.root
    assert "--etcd-servers=https://10.0.0.21:2379,https://10.0.0.22:2379" in command
    assert f"--etcd-cafile={root}/etc/kubernetes/pki/etcd/ca.crt" in command
    assert f"--etcd-certfile={root}/etc/kubernetes/pki/apiserver-etcd-client.crt" in command
    assert f"--etcd-keyfile={root}/etc/kubernetes/pki/apiserver-etcd-client.key" in command
    assert "--authorization-mode=Node,RBAC,Webhook" in command and "--authorization-mode=Node" not in command
    assert "--audit-log-maxage=7" in command
    assert "--enable-bootstrap-token-auth=true" in command and "--secure-port=6443" in command
    assert "--service-account-issuer=https://kubernetes.default.svc.cluster.local" in command
    cm = yaml.safe_load(initialised.read("/etc/kubernetes/manifests/kube-controller-manager.yaml"))
    assert "--cluster-cidr=10.244.0.0/16" in cm["spec"]["containers"][0]["command"]
    assert os.path.exists(initialised.path("/etc/kubernetes/manifests/kube-scheduler.yaml"))


def test_init_kubelet_files_and_restart(initialised):
    config = yaml.safe_load(initialised.read("/var/lib/kubelet/config.yaml"))
    assert config["kind"] == "KubeletConfiguration" and config["maxPods"] == 50
    assert config["cgroupDriver"] == "systemd" and config["clusterDNS"] == ["10.96.0.10"]
    assert config["staticPodPath"] == "/etc/kubernetes/manifests" and config["rotateCertificates"] is True
    assert config["authentication"]["webhook"]["enabled"] is True and config["authorization"]["mode"] == "Webhook"
    flags = initialised.read("/var/lib/kubelet/kubeadm-flags.env").decode()
    assert flags == ('KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///run/containerd/containerd.sock '
                     '--node-ip=10.0.0.11"\n')
    assert ("restart", "kubelet") in initialised.systemctl_calls


def test_init_cluster_objects(lab, initialised):
    objects = lab.api.objects
    stored = yaml.safe_load(objects["/api/v1/namespaces/kube-system/configmaps/kubeadm-config"]["data"]["ClusterConfiguration"])
    assert stored["kind"] == "ClusterConfiguration" and stored["controlPlaneEndpoint"] == "cp.lab.example:6443"
    kubelet = yaml.safe_load(objects["/api/v1/namespaces/kube-system/configmaps/kubelet-config"]["data"]["kubelet"])
    assert kubelet["maxPods"] == 50
    secret = objects["/api/v1/namespaces/kube-system/secrets/bootstrap-token-abcdef"]
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert secret["type"] == "bootstrap.kubernetes.io/token"
    assert data["token-secret"] == "0123456789abcdef" and data["usage-bootstrap-signing"] == "true"
    assert data["auth-extra-groups"] == "system:bootstrappers:kubeadm:default-node-token"
    info = objects["/api/v1/namespaces/kube-public/configmaps/cluster-info"]["data"]
    assert kcl.jws_verify(info["jws-kubeconfig-abcdef"], info["kubeconfig"], "abcdef", "0123456789abcdef")
    for path in ("clusterroles/kubeadm:get-nodes", "clusterrolebindings/kubeadm:kubelet-bootstrap",
                 "clusterrolebindings/kubeadm:node-autoapprove-bootstrap",
                 "clusterrolebindings/kubeadm:node-autoapprove-certificate-rotation",
                 "namespaces/kube-public/roles/kubeadm:bootstrap-signer-clusterinfo",
                 "namespaces/kube-public/rolebindings/kubeadm:bootstrap-signer-clusterinfo"):
        assert f"/apis/rbac.authorization.k8s.io/v1/{path}" in objects
    node = objects["/api/v1/nodes/cp-1"]
    assert node["metadata"]["labels"]["node-role.kubernetes.io/control-plane"] == ""
    assert node["metadata"]["labels"]["node.kubernetes.io/exclude-from-external-load-balancers"] == ""
    assert node["spec"]["taints"] == [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]


def test_init_output_join_hash(lab, initialised):
    pin = pki.spki_pin(cert_at(initialised, f"{PKI}/ca.crt"))
    out = lab.init_out
    assert "Your Kubernetes control-plane has initialized successfully!" in out
    assert f"kubeadm join cp.lab.example:6443 --token abcdef.0123456789abcdef \\\n\t--discovery-token-ca-cert-hash {pin}" in out
    assert "--control-plane --certificate-key " in out
    assert "[addons] STAND-IN: CoreDNS and kube-proxy are not deployed by the stand-in" in out
    assert "[upload-certs] Using certificate key:\n" in out


def test_second_init_fails_preflight(lab, initialised, capsys):
    lab.state["ports"] = {6443, 10250}
    rc, _out, err = run(["init", "--config", str(lab.config)], capsys)
    assert rc == 1
    assert err.count("error execution phase preflight: [preflight] Some fatal errors occurred:") == 1
    assert "\t[ERROR Port-6443]: Port 6443 is in use" in err
    assert "[ERROR FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml]: /etc/kubernetes/manifests/kube-apiserver.yaml already exists" in err
    assert "[ERROR DirAvailable--etc-kubernetes-manifests]: /etc/kubernetes/manifests is not empty" in err
    assert "you can make a check non-fatal with `--ignore-preflight-errors=...`" in err
    del initialised


def test_preflight_refusals(lab, capsys):
    host = control_plane_host(lab)
    lab.use(host)
    host.write("/proc/sys/net/ipv4/ip_forward", "0\n")
    host.write("/proc/swaps", "Filename Type Size Used Priority\n/swap.img file 100 0 -2\n")
    lab.state.update(root=False, crictl_rc=1)
    rc, _out, err = run(["init", "--config", str(lab.config)], capsys)
    assert rc == 1
    assert "[ERROR IsPrivilegedUser]: user is not running as root" in err
    assert "[ERROR FileContent--proc-sys-net-ipv4-ip_forward]: /proc/sys/net/ipv4/ip_forward contents are not set to 1" in err
    assert "[ERROR CRI]: container runtime is not running" in err
    # kubeadm 1.32: swap is a warning, not an error
    assert "[WARNING Swap]: swap is supported for cgroup v2 only" in err
    assert not os.path.exists(host.path(f"{PKI}/ca.crt"))
    rc, _out, err = run(["init", "--config", str(lab.config), "--ignore-preflight-errors=IsPrivilegedUser,CRI",
                         "--ignore-preflight-errors", "FileContent--proc-sys-net-ipv4-ip_forward"], capsys)
    assert rc == 0, err
    assert "[WARNING CRI]" in err


def test_external_etcd_preflight(lab, capsys):
    host = control_plane_host(lab)
    lab.use(host)
    other_key = pki.new_key()
    host.write(f"{PKI}/apiserver-etcd-client.key", pki.key_pem(other_key))
    rc, _out, err = run(["init", "--config", str(lab.config)], capsys)
    assert rc == 1
    assert "[ERROR ExternalEtcdClientCertificates]: tls: private key /etc/kubernetes/pki/apiserver-etcd-client.key" in err
    os.unlink(host.path(f"{PKI}/etcd/ca.crt"))
    rc, _out, err = run(["init", "--config", str(lab.config)], capsys)
    assert "[ERROR ExternalEtcdClientCertificates]: /etc/kubernetes/pki/etcd/ca.crt doesn't exist" in err
    host2 = control_plane_host(lab, index=2)
    lab.use(host2)
    lab.state["etcd_error"] = "connection refused"
    rc, _out, err = run(["init", "--config", str(lab.config)], capsys)
    assert rc == 1
    assert '[ERROR ExternalEtcdVersion]: Get "https://10.0.0.21:2379/version": connection refused' in err
    assert "certFile /etc/kubernetes/pki/apiserver-etcd-client.crt" in err


def test_etcd_signed_by_other_ca_refused(lab, capsys):
    host = control_plane_host(lab)
    lab.use(host)
    other_ca, other_key = pki.new_ca("other")
    cert, key = pki.new_leaf(other_ca, other_key, "x", client=True)
    host.write(f"{PKI}/apiserver-etcd-client.crt", pki.cert_pem(cert))
    host.write(f"{PKI}/apiserver-etcd-client.key", pki.key_pem(key))
    rc, _out, err = run(["init", "--config", str(lab.config)], capsys)
    assert rc == 1 and "is not signed by /etc/kubernetes/pki/etcd/ca.crt" in err


def test_invalid_and_stacked_configs_refused(lab, capsys):
    host = control_plane_host(lab)
    lab.use(host)
    bad = lab.tmp / "bad.yaml"
    bad.write_text(INIT_CONFIG.replace("certSANs:", "certSans:"))
    rc, _out, err = run(["init", "--config", str(bad)], capsys)
    assert rc == 1 and 'unknown field "apiServer.certSans"' in err
    stacked = lab.tmp / "stacked.yaml"
    stacked.write_text(INIT_CONFIG.split("etcd:", maxsplit=1)[0] + "etcd:\n  local:\n    dataDir: /var/lib/etcd\n")
    rc, _out, err = run(["init", "--config", str(stacked)], capsys)
    assert rc == 1 and "stacked etcd" in err and "not implemented by the stand-in" in err
    rc, _out, err = run(["init", "--config", str(lab.config), "--dry-run"], capsys)
    assert rc == 1 and "not implemented by the stand-in" in err


def test_wait_control_plane_timeout(lab, capsys, monkeypatch):
    host = control_plane_host(lab)
    lab.use(host)
    original = FakeApi.get

    def down(self, path, creds):
        if path in ("/livez", "/readyz"):
            raise OSError("connection refused")
        return original(self, path, creds)
    monkeypatch.setattr(FakeApi, "get", down)
    rc, _out, err = run(["init", "--config", str(lab.config)], capsys)
    assert rc == 1
    assert "error execution phase wait-control-plane: could not initialize a Kubernetes cluster" in err
    assert lab.clock["t"] >= 240


# ---------------------------------------------------------------------------
# upload-certs / join
# ---------------------------------------------------------------------------
def certs_secret(lab):
    return lab.api.objects["/api/v1/namespaces/kube-system/secrets/kubeadm-certs"]


def certificate_key_of(out):
    return out.split("[upload-certs] Using certificate key:\n", 1)[1].split("\n", 1)[0]


def test_upload_certs_secret(lab, initialised):
    secret = certs_secret(lab)
    key = certificate_key_of(lab.init_out)
    assert sorted(secret["data"]) == sorted(["ca.crt", "ca.key", "sa.key", "sa.pub", "front-proxy-ca.crt", "front-proxy-ca.key",
                                             "external-etcd-ca.crt", "external-etcd.crt", "external-etcd.key"])
    blob = base64.b64decode(secret["data"]["ca.key"])
    assert pki.decrypt(blob, key) == initialised.read(f"{PKI}/ca.key")
    owner = secret["metadata"]["ownerReferences"][0]
    assert owner["kind"] == "Secret" and owner["name"].startswith("bootstrap-token-") and owner["controller"] is True
    token = lab.api.objects[f"/api/v1/namespaces/kube-system/secrets/{owner['name']}"]
    assert owner["uid"] == token["metadata"]["uid"]
    expires = kcl.parse_rfc3339(base64.b64decode(token["data"]["expiration"]).decode())
    assert 7100 < (expires - env.now()).total_seconds() <= 7200


def worker_join_args(lab, host):
    pin = pki.spki_pin(cert_at(host, f"{PKI}/ca.crt"))
    return ["join", "cp.lab.example:6443", "--token", "abcdef.0123456789abcdef", "--discovery-token-ca-cert-hash", pin]


def kubelet_bootstrap(lab):
    """A fake kubelet: on restart it 'bootstraps' (writes kubelet.conf) and registers its Node."""
    def on_restart(host):
        host.write("/etc/kubernetes/kubelet.conf", host.read("/etc/kubernetes/bootstrap-kubelet.conf"))
        lab.api.objects[f"/api/v1/nodes/{host.name}"] = {"apiVersion": "v1", "kind": "Node",
                                                         "metadata": {"name": host.name, "uid": "x"}}
    return on_restart


def test_join_worker(lab, initialised, capsys):
    args = worker_join_args(lab, initialised)
    worker = new_host(lab, "w-1", 5)
    worker.on_restart = kubelet_bootstrap(lab)
    lab.use(worker)
    rc, out, err = run(args, capsys)
    assert rc == 0, err
    assert "This node has joined the cluster:" in out
    assert worker.read(f"{PKI}/ca.crt") == initialised.read(f"{PKI}/ca.crt")
    assert not os.path.exists(worker.path("/etc/kubernetes/bootstrap-kubelet.conf"))
    conf = yaml.safe_load(worker.read("/etc/kubernetes/kubelet.conf"))
    assert conf["users"][0] == {"name": "tls-bootstrap-token-user", "user": {"token": "abcdef.0123456789abcdef"}}
    assert yaml.safe_load(worker.read("/var/lib/kubelet/config.yaml"))["maxPods"] == 50
    assert "--hostname-override" not in worker.read("/var/lib/kubelet/kubeadm-flags.env").decode()
    insecure = [r for r in lab.api.requests if r[1].endswith("cluster-info") and r[2].get("insecure")]
    pinned = [r for r in lab.api.requests if r[1].endswith("cluster-info") and r[2].get("ca")]
    assert insecure and pinned


def test_join_wrong_pin_refused(lab, initialised, capsys):
    args = worker_join_args(lab, initialised)
    args[-1] = "sha256:" + "ab" * 32
    worker = new_host(lab, "w-1", 5)
    lab.use(worker)
    rc, _out, err = run(args, capsys)
    assert rc == 1
    pin = pki.spki_pin(cert_at(initialised, f"{PKI}/ca.crt"))
    assert f'cluster CA found in cluster-info ConfigMap is invalid: none of the public keys "{pin}" are pinned' in err
    assert not os.path.exists(worker.path(f"{PKI}/ca.crt"))


def test_join_unknown_token_refused(lab, initialised, capsys):
    args = worker_join_args(lab, initialised)
    args[3] = "zzzzzz.0123456789abcdef"
    lab.use(new_host(lab, "w-1", 5))
    rc, _out, err = run(args, capsys)
    assert rc == 1
    assert ('there is no JWS signed token in the cluster-info ConfigMap. This token id "zzzzzz" is invalid for this cluster, '
            'or it has expired. Use "kubeadm token create" on the control-plane node to create a new valid token') in err


def test_join_bad_signature_refused(lab, initialised, capsys):
    args = worker_join_args(lab, initialised)
    args[3] = "abcdef.0123456789abcdex"
    lab.use(new_host(lab, "w-1", 5))
    rc, _out, err = run(args, capsys)
    assert rc == 1 and "failed to verify JWS signature" in err


def test_join_preflight_refuses_joined_node(lab, initialised, capsys):
    args = worker_join_args(lab, initialised)
    rc, _out, err = run(args, capsys)  # on the control plane itself
    assert rc == 1
    assert "[ERROR FileAvailable--etc-kubernetes-kubelet.conf]: /etc/kubernetes/kubelet.conf already exists" in err
    assert "[ERROR FileAvailable--etc-kubernetes-pki-ca.crt]: /etc/kubernetes/pki/ca.crt already exists" in err


def join_control_plane(lab, initialised, capsys, key=None):
    args = worker_join_args(lab, initialised) + ["--control-plane", "--certificate-key", key or certificate_key_of(lab.init_out)]
    cp2 = new_host(lab, "cp-2", 6)
    cp2.on_restart = kubelet_bootstrap(lab)
    lab.use(cp2)
    return cp2, run(args, capsys)


def test_join_control_plane(lab, initialised, capsys, monkeypatch):
    monkeypatch.setattr(env, "default_address", lambda: "10.0.0.12")
    cp2, (rc, out, err) = join_control_plane(lab, initialised, capsys)
    assert rc == 0, err
    assert "a new control plane instance was created" in out
    for name in ("ca.crt", "ca.key", "sa.key", "sa.pub", "front-proxy-ca.crt", "front-proxy-ca.key",
                 "etcd/ca.crt", "apiserver-etcd-client.crt", "apiserver-etcd-client.key"):
        assert cp2.read(f"{PKI}/{name}") == initialised.read(f"{PKI}/{name}"), name
    api = cert_at(cp2, f"{PKI}/apiserver.crt")
    assert pki.signed_by(api, cert_at(initialised, f"{PKI}/ca.crt"))
    assert "cp-2" in pki.sans_of(api)[0] and "10.0.0.12" in pki.sans_of(api)[1]
    assert api.serial_number != cert_at(initialised, f"{PKI}/apiserver.crt").serial_number
    assert os.path.exists(cp2.path("/etc/kubernetes/admin.conf"))
    assert not os.path.exists(cp2.path("/etc/kubernetes/super-admin.conf"))
    pod = yaml.safe_load(cp2.read("/etc/kubernetes/manifests/kube-apiserver.yaml"))
    assert "--advertise-address=10.0.0.12" in pod["spec"]["containers"][0]["command"]
    flags = cp2.read("/var/lib/kubelet/kubeadm-flags.env").decode()
    assert "--register-with-taints=node-role.kubernetes.io/control-plane:NoSchedule" in flags
    node = lab.api.objects["/api/v1/nodes/cp-2"]
    assert "node-role.kubernetes.io/control-plane" in node["metadata"]["labels"]


def test_join_control_plane_keeps_existing_etcd_files(lab, initialised, capsys):
    cp2 = new_host(lab, "cp-2", 6)
    cp2.write(f"{PKI}/etcd/ca.crt", b"role-provided\n")
    args = worker_join_args(lab, initialised) + ["--control-plane", "--certificate-key", certificate_key_of(lab.init_out)]
    cp2.on_restart = kubelet_bootstrap(lab)
    lab.use(cp2)
    rc, _out, err = run(args, capsys)
    assert rc == 0, err
    assert cp2.read(f"{PKI}/etcd/ca.crt") == b"role-provided\n"


def test_join_control_plane_wrong_key(lab, initialised, capsys):
    _cp2, (rc, _out, err) = join_control_plane(lab, initialised, capsys, key=pki.new_certificate_key())
    assert rc == 1
    assert "error decoding secret data with provided key: cipher: message authentication failed" in err


def test_join_control_plane_expired_certs(lab, initialised, capsys):
    owner = certs_secret(lab)["metadata"]["ownerReferences"][0]["name"]
    token = lab.api.objects[f"/api/v1/namespaces/kube-system/secrets/{owner}"]
    token["data"]["expiration"] = base64.b64encode(b"2020-01-01T00:00:00Z").decode()
    _cp2, (rc, _out, err) = join_control_plane(lab, initialised, capsys)
    assert rc == 1 and kcl.CERTS_NOT_FOUND in err
    del lab.api.objects["/api/v1/namespaces/kube-system/secrets/kubeadm-certs"]
    lab.use(new_host(lab, "cp-3", 7))
    args = worker_join_args(lab, initialised) + ["--control-plane", "--certificate-key", certificate_key_of(lab.init_out)]
    rc, _out, err = run(args, capsys)
    assert rc == 1 and kcl.CERTS_NOT_FOUND in err


def test_init_phase_upload_certs_renews_secret(lab, initialised, capsys):
    key = pki.new_certificate_key()
    rc, out, err = run(["init", "phase", "upload-certs", "--upload-certs", "--certificate-key", key], capsys)
    assert rc == 0, err
    assert out.endswith(f"[upload-certs] Using certificate key:\n{key}\n")
    assert pki.decrypt(base64.b64decode(certs_secret(lab)["data"]["sa.key"]), key) == initialised.read(f"{PKI}/sa.key")


# ---------------------------------------------------------------------------
# token, certs, upgrade, reset
# ---------------------------------------------------------------------------
def test_token_commands(lab, initialised, capsys):
    rc, out, _err = run(["token", "create", "--ttl", "1h", "--description", "for w-2"], capsys)
    assert rc == 0
    token = out.strip()
    assert kcl.TOKEN_RE.match(token)
    rc, out, _err = run(["token", "list"], capsys)
    lines = out.splitlines()
    assert lines[0].split() == ["TOKEN", "TTL", "EXPIRES", "USAGES", "DESCRIPTION", "EXTRA", "GROUPS"]
    row = [line for line in lines if line.startswith(token)][0]
    assert " 59m " in row or " 1h " in row
    assert "authentication,signing" in row and "for w-2" in row
    rc, out, _err = run(["token", "create", "--print-join-command"], capsys)
    pin = pki.spki_pin(cert_at(initialised, f"{PKI}/ca.crt"))
    assert out.startswith("kubeadm join cp.lab.example:6443 --token ") and out.strip().endswith(f"--discovery-token-ca-cert-hash {pin}")
    rc, out, _err = run(["token", "delete", token.split(".")[0]], capsys)
    assert rc == 0 and f'bootstrap token "{token[:6]}" deleted' in out
    assert f"/api/v1/namespaces/kube-system/secrets/bootstrap-token-{token[:6]}" not in lab.api.objects
    rc, _out, err = run(["token", "delete", "nosuch"], capsys)
    assert rc == 1 and 'failed to delete bootstrap token "nosuch"' in err
    rc, _out, err = run(["token", "create", "--usages", "signing", "--groups", "system:bootstrappers:x"], capsys)
    assert rc == 1 and "--usages includes \"authentication\"" in err


def test_certs_check_expiration_and_renew(lab, initialised, capsys):
    del lab
    rc, out, err = run(["certs", "check-expiration"], capsys)
    assert rc == 0, err
    lines = out.splitlines()
    header = [line for line in lines if line.startswith("CERTIFICATE ")][0]
    assert header.split("   ")[0] == "CERTIFICATE" and "EXTERNALLY MANAGED" in header
    names = [line.split()[0] for line in lines if line and not line.startswith(("CERTIFICATE", "["))]
    assert names[:8] == ["admin.conf", "apiserver", "apiserver-kubelet-client", "controller-manager.conf", "front-proxy-client",
                         "scheduler.conf", "super-admin.conf", "ca"]
    assert "apiserver-etcd-client" not in names
    assert any(line.startswith("apiserver ") and " 364d " in line and " ca " in line and line.endswith("no      ") for line in lines)
    before = cert_at(initialised, f"{PKI}/apiserver.crt")
    rc, out, _err = run(["certs", "renew", "apiserver"], capsys)
    assert rc == 0 and "certificate for serving the Kubernetes API renewed" in out
    after = cert_at(initialised, f"{PKI}/apiserver.crt")
    assert after.serial_number != before.serial_number and pki.sans_of(after) == pki.sans_of(before)
    assert after.subject == before.subject
    rc, out, _err = run(["certs", "renew", "apiserver-etcd-client"], capsys)
    assert rc == 0 and "MISSING! certificate the apiserver uses to access etcd" in out
    conf_before = kubeclient.load_kubeconfig(initialised.path("/etc/kubernetes/admin.conf"))
    rc, out, _err = run(["certs", "renew", "all"], capsys)
    assert rc == 0 and "Done renewing certificates." in out
    conf_after = kubeclient.load_kubeconfig(initialised.path("/etc/kubernetes/admin.conf"))
    assert conf_after["cert"] != conf_before["cert"] and conf_after["key"] == conf_before["key"]
    rc, _out, err = run(["certs", "renew", "bogus"], capsys)
    assert rc == 1 and 'unknown command "bogus"' in err


def test_upgrade(lab, initialised, capsys):
    rc, out, _err = run(["upgrade", "plan"], capsys)
    assert rc == 0 and "Awesome, you're up-to-date! Enjoy!" in out
    rc, _out, err = run(["upgrade", "apply", NEXT_MINOR, "--yes"], capsys)
    assert rc == 1 and 'Specified version to upgrade to "%s" is higher than the kubeadm version "%s"' % (NEXT_MINOR, GIT_VERSION) in err
    os.unlink(initialised.path("/etc/kubernetes/manifests/kube-scheduler.yaml"))
    rc, out, err = run(["upgrade", "apply", GIT_VERSION, "-y"], capsys)
    assert rc == 0, err
    assert 'SUCCESS! A control plane node of your cluster was upgraded to "%s"' % GIT_VERSION in out
    assert os.path.exists(initialised.path("/etc/kubernetes/manifests/kube-scheduler.yaml"))
    rc, out, err = run(["upgrade", "node"], capsys)
    assert rc == 0, err
    del lab


def test_reset_wipes_node(lab, initialised, capsys):
    initialised.write("/var/lib/kubelet/pki/kubelet-client-current.pem", b"x")
    initialised.write("/etc/cni/net.d/10-x.conflist", "{}")
    rc, out, err = run(["reset", "-f"], capsys)
    assert rc == 0, err
    assert ("stop", "kubelet") in initialised.systemctl_calls
    assert os.listdir(initialised.path(PKI)) == []  # etcd/ and apiserver-etcd-client.* included
    assert os.listdir(initialised.path("/etc/kubernetes/manifests")) == []
    assert os.path.isdir(initialised.path("/var/lib/kubelet")) and os.listdir(initialised.path("/var/lib/kubelet")) == []
    for name in ("admin.conf", "super-admin.conf", "kubelet.conf", "controller-manager.conf", "scheduler.conf"):
        assert not os.path.exists(initialised.path(f"/etc/kubernetes/{name}"))
    assert os.path.exists(initialised.path("/etc/cni/net.d/10-x.conflist"))
    assert "does not perform cleanup of CNI plugin configuration" in out
    # a reset node can be initialised again (with the etcd files back in place)
    del lab
