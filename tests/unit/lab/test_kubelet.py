"""Unit tests of the kubelet STAND-IN: flags, --node-labels, KubeletConfiguration, Node object, Ready logic."""
import os
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from lab.standin import kubelet  # noqa: E402  pylint: disable=wrong-import-position
from lab.standin import kubelet_config as kc  # noqa: E402  pylint: disable=wrong-import-position
from lab.standin import kubelet_node as kn  # noqa: E402  pylint: disable=wrong-import-position
from lab.standin.version import git_version  # noqa: E402  pylint: disable=wrong-import-position

ALLOWED_SET = ("beta.kubernetes.io/arch, beta.kubernetes.io/instance-type, beta.kubernetes.io/os, "
               "failure-domain.beta.kubernetes.io/region, failure-domain.beta.kubernetes.io/zone, kubernetes.io/arch, "
               "kubernetes.io/hostname, kubernetes.io/os, node.kubernetes.io/instance-type, topology.kubernetes.io/region, "
               "topology.kubernetes.io/zone")
KUBEADM_CONFIG = """\
apiVersion: kubelet.config.k8s.io/v1beta1
authentication:
  anonymous:
    enabled: false
  webhook:
    cacheTTL: 0s
    enabled: true
  x509:
    clientCAFile: /etc/kubernetes/pki/ca.crt
authorization:
  mode: Webhook
  webhook:
    cacheAuthorizedTTL: 0s
    cacheUnauthorizedTTL: 0s
cgroupDriver: systemd
clusterDNS:
- 10.96.0.10
clusterDomain: cluster.local
containerRuntimeEndpoint: ""
cpuManagerReconcilePeriod: 0s
crashLoopBackOff: {}
evictionPressureTransitionPeriod: 0s
fileCheckFrequency: 0s
healthzBindAddress: 127.0.0.1
healthzPort: 10248
httpCheckFrequency: 0s
imageMaximumGCAge: 0s
imageMinimumGCAge: 0s
kind: KubeletConfiguration
logging:
  flushFrequency: 0
  options:
    json:
      infoBufferSize: "0"
    text:
      infoBufferSize: "0"
  verbosity: 0
memorySwap: {}
nodeStatusReportFrequency: 0s
nodeStatusUpdateFrequency: 0s
rotateCertificates: true
runtimeRequestTimeout: 0s
shutdownGracePeriod: 0s
shutdownGracePeriodCriticalPods: 0s
staticPodPath: /etc/kubernetes/manifests
streamingConnectionIdleTimeout: 0s
syncFrequency: 0s
volumeStatsAggPeriod: 0s
"""


def run_main(argv, capsys):
    rc = kubelet.main(argv)
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


# --- flags -------------------------------------------------------------------------------------------

def test_kubeadm_flags_parse():
    values, deprecated = kc.parse_flags([
        "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf", "--kubeconfig=/etc/kubernetes/kubelet.conf",
        "--config=/var/lib/kubelet/config.yaml", "--container-runtime-endpoint=unix:///run/containerd/containerd.sock",
        "--pod-infra-container-image=registry.k8s.io/pause:3.10", "--node-ip", "10.0.0.11", "--v=2",
        "--register-with-taints=node-role.kubernetes.io/control-plane:NoSchedule,dedicated=gpu:NoExecute",
        "--node-labels=a=b", "--node-labels=c=d,e"])
    assert values["kubeconfig"] == "/etc/kubernetes/kubelet.conf"
    assert values["node-ip"] == "10.0.0.11" and values["v"] == 2
    assert values["node-labels"] == {"a": "b", "c": "d", "e": ""}
    assert values["register-with-taints"] == [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
                                              {"key": "dedicated", "value": "gpu", "effect": "NoExecute"}]
    names = [name for name, dummy in deprecated]
    assert names == ["container-runtime-endpoint", "pod-infra-container-image", "register-with-taints"]
    assert dict(deprecated)["pod-infra-container-image"].startswith("will be removed in 1.35")


def test_unknown_flag_is_refused_like_the_real_kubelet(capsys):
    rc, _out, err = run_main(["--no-such-flag=1"], capsys)
    assert rc == 1
    lines = err.splitlines()
    assert "STAND-IN" in lines[0]
    assert '"command failed" err="failed to parse kubelet flag: unknown flag: --no-such-flag"' in lines[1]


def test_real_but_unimplemented_flag_says_so(capsys):
    rc, _out, err = run_main(["--root-dir=/var/lib/kubelet"], capsys)
    assert rc == 1 and "not implemented by the stand-in" in err


@pytest.mark.parametrize("spec", ["nokey", "k=v:Sometimes", ":NoSchedule"])
def test_bad_taints_are_refused(spec):
    with pytest.raises(kc.FlagError, match='invalid argument .* for "--register-with-taints" flag'):
        kc.parse_flags(["--register-with-taints=" + spec])


def test_missing_argument_and_shorthand():
    with pytest.raises(kc.FlagError, match="flag needs an argument: --config"):
        kc.parse_flags(["--config"])
    assert kc.parse_flags(["-v", "4"])[0]["v"] == 4
    with pytest.raises(kc.FlagError, match="unknown shorthand flag: 'x' in -x"):
        kc.parse_flags(["-x"])


def test_version(capsys):
    rc, out, _err = run_main(["--version"], capsys)
    assert rc == 0 and out.startswith("Kubernetes %s STAND-IN" % git_version())


# --- node labels ---------------------------------------------------------------------------------------

def test_restricted_label_refused_with_the_real_message(capsys):
    with pytest.raises(kc.ValidationError) as err:
        kc.validate_node_labels({"node-role.kubernetes.io/edge": "", "accelerator": "nvidia"})
    assert str(err.value) == (
        "unknown 'kubernetes.io' or 'k8s.io' labels specified with --node-labels: [node-role.kubernetes.io/edge]\n"
        "--node-labels in the 'kubernetes.io' namespace must begin with an allowed prefix "
        "(kubelet.kubernetes.io, node.kubernetes.io) or be in the specifically allowed set (" + ALLOWED_SET + ")")
    rc, _out, stderr = run_main(["--node-labels=node-role.kubernetes.io/edge="], capsys)
    assert rc == 1 and '"command failed" err="failed to validate kubelet flags: unknown \'kubernetes.io\'' in stderr


@pytest.mark.parametrize("labels", [
    {"accelerator": "nvidia"}, {"node.kubernetes.io/foo": "bar"}, {"x.node.kubernetes.io/foo": ""},
    {"kubelet.kubernetes.io/role": "x"}, {"topology.kubernetes.io/zone": "a"}, {"kubernetes.io/hostname": "n1"},
    {"example.com/team": "blue"}, {"beta.kubernetes.io/instance-type": "m5"}])
def test_allowed_labels(labels):
    kc.validate_node_labels(labels)


@pytest.mark.parametrize("key", ["node-role.kubernetes.io/worker", "kubernetes.io/role", "foo.k8s.io/x", "k8s.io/x",
                                 "node-restriction.kubernetes.io/x"])
def test_more_restricted_labels(key):
    with pytest.raises(kc.ValidationError, match=r"specified with --node-labels: \[" + key.replace(".", r"\.") + r"\]"):
        kc.validate_node_labels({key: "v"})


def test_label_syntax_errors():
    with pytest.raises(kc.ValidationError, match=r"invalid node labels: 'a/b/c' - a qualified name must consist"):
        kc.validate_node_labels({"a/b/c": "x"})
    with pytest.raises(kc.ValidationError, match=r"'bad value!' - a valid label must be an empty string"):
        kc.validate_node_labels({"ok": "bad value!"})
    with pytest.raises(kc.ValidationError, match="name part must be no more than 63 characters"):
        kc.validate_node_labels({"a" * 64: ""})


# --- KubeletConfiguration --------------------------------------------------------------------------------

def test_kubeadm_written_config_decodes_cleanly():
    config, warnings = kc.decode_config(KUBEADM_CONFIG, strict=False)
    assert not warnings
    assert config["staticPodPath"] == "/etc/kubernetes/manifests"
    assert config["cgroupDriver"] == "systemd"
    assert config["port"] == 10250 and config["healthzPort"] == 10248
    kc.validate_config(config)


def test_unknown_fields_lenient_warning_or_strict_refusal(monkeypatch):
    text = KUBEADM_CONFIG + "bogusField: 1\n"
    _config, warnings = kc.decode_config(text.replace("  x509:\n", "  x509:\n    extra: 1\n"), strict=False)
    assert warnings == ['strict decoding error: unknown field "authentication.x509.extra", unknown field "bogusField"']
    monkeypatch.setenv("IRONSTONE_STANDIN_KUBELET_STRICT", "1")
    with pytest.raises(kc.ConfigError, match='strict decoding error: unknown field "bogusField"'):
        kc.decode_config(text)


def test_duplicate_fields_are_strict_errors():
    _config, warnings = kc.decode_config(KUBEADM_CONFIG + "cgroupDriver: cgroupfs\n", strict=False)
    assert 'key "cgroupDriver" already set in map' in warnings[0]


@pytest.mark.parametrize("header, message", [
    ("apiVersion: kubelet.config.k8s.io/v1\nkind: KubeletConfiguration\n",
     'no kind "KubeletConfiguration" is registered for version "kubelet.config.k8s.io/v1"'),
    ("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeProxyConfiguration\n", 'no kind "KubeProxyConfiguration"'),
    ("apiVersion: kubelet.config.k8s.io/v1beta1\n", "Object 'Kind' is missing"),
])
def test_wrong_kind_or_version_is_refused(header, message):
    with pytest.raises(kc.ConfigError, match=message):
        kc.decode_config(header + "port: 10250\n")


def test_wrong_types_are_refused():
    with pytest.raises(kc.ConfigError, match="cannot unmarshal string into Go struct field KubeletConfiguration.port of type int32"):
        kc.decode_config("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nport: ten\n")


def test_cgroup_driver_must_be_known():
    config, dummy = kc.decode_config("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: sysd\n")
    with pytest.raises(kc.ValidationError, match="cgroupDriver"):
        kc.validate_config(config)


def test_missing_config_file_message(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("IRONSTONE_STANDIN_ROOT", str(tmp_path))
    rc, _out, err = run_main(["--config=/var/lib/kubelet/config.yaml"], capsys)
    assert rc == 1
    assert ("failed to load kubelet config file, path: /var/lib/kubelet/config.yaml, error: failed to load Kubelet config "
            'file /var/lib/kubelet/config.yaml, error failed to read kubelet config file \\"/var/lib/kubelet/config.yaml\\", '
            "error: open /var/lib/kubelet/config.yaml: no such file or directory") in err


def test_no_kubeconfig_and_no_bootstrap_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("IRONSTONE_STANDIN_ROOT", str(tmp_path))
    (tmp_path / "var" / "lib" / "kubelet").mkdir(parents=True)
    (tmp_path / "var" / "lib" / "kubelet" / "config.yaml").write_text(KUBEADM_CONFIG)
    rc, _out, err = run_main(["--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
                              "--kubeconfig=/etc/kubernetes/kubelet.conf", "--config=/var/lib/kubelet/config.yaml",
                              "--node-ip=10.0.0.5"], capsys)
    assert rc == 1
    assert ("failed to run Kubelet: unable to load bootstrap kubeconfig: stat /etc/kubernetes/bootstrap-kubelet.conf: "
            "no such file or directory") in err


def test_flags_override_config():
    config, dummy = kc.decode_config(KUBEADM_CONFIG)
    values, dummy = kc.parse_flags(["--cgroup-driver=cgroupfs", "--register-with-taints=a=b:NoSchedule"])
    kc.apply_flag_overrides(config, values)
    assert config["cgroupDriver"] == "cgroupfs"
    assert config["registerWithTaints"] == [{"key": "a", "value": "b", "effect": "NoSchedule"}]


# --- Node object and Ready -------------------------------------------------------------------------------

def test_node_name_is_lower_cased():
    assert kn.node_name(None, "Worker-1.Example") == "worker-1.example"
    assert kn.node_name("CP-1", "other") == "cp-1"


def test_node_object():
    labels = dict(kn.default_labels("cp-1", "amd64"), accelerator="nvidia")
    taints = kc.parse_taints("node-role.kubernetes.io/control-plane:NoSchedule")
    node = kn.build_node("cp-1", labels, taints)
    assert node["metadata"]["name"] == "cp-1"
    assert node["metadata"]["labels"] == {
        "kubernetes.io/hostname": "cp-1", "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64", "accelerator": "nvidia"}
    assert node["spec"]["taints"] == [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
    status = kn.build_status(kn.NodeStatus().conditions(True, True), "10.0.0.11", "cp-1", "containerd://1.6.20~ds1")
    assert status["addresses"] == [{"type": "InternalIP", "address": "10.0.0.11"}, {"type": "Hostname", "address": "cp-1"}]
    assert status["nodeInfo"]["kubeletVersion"] == git_version()
    assert status["nodeInfo"]["containerRuntimeVersion"] == "containerd://1.6.20~ds1"
    assert status["daemonEndpoints"]["kubeletEndpoint"]["Port"] == 10250


def test_existing_node_gets_only_default_labels_reconciled():
    existing = {"metadata": {"labels": {"kubernetes.io/hostname": "cp-1", "kubernetes.io/os": "linux"}}}
    patch = kn.reconcile_existing(existing, kn.default_labels("cp-1", "amd64"))
    assert patch == {"metadata": {"labels": {"kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                                             "beta.kubernetes.io/arch": "amd64"}}}
    assert kn.reconcile_existing({"metadata": {"labels": kn.default_labels("cp-1", "amd64")}},
                                 kn.default_labels("cp-1", "amd64")) is None


@pytest.mark.parametrize("crictl_rc, cni, status, fragment", [
    (0, True, "True", "kubelet is posting ready status"),
    (0, False, "False", "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady "
                        "message:Network plugin returns error: cni plugin not initialized"),
    (1, True, "False", "container runtime is down"),
    (1, False, "False", "container runtime is down"),
])
def test_ready_condition_from_crictl_and_cni_dir(tmp_path, crictl_rc, cni, status, fragment):
    def fake_crictl(args):
        if args[-1] == "version":
            return 0, "Version:  0.1.0\nRuntimeName:  containerd\nRuntimeVersion:  1.6.20~ds1\nRuntimeApiVersion:  v1\n", ""
        return crictl_rc, "{}", "" if crictl_rc == 0 else "level=fatal msg=\"validate service connection\""
    runtime_ok, version, _err = kubelet.runtime_state("unix:///run/containerd/containerd.sock", fake_crictl)
    if cni:
        (tmp_path / "10-calico.conflist").write_text("{}")
    (tmp_path / "README").write_text("not a config")
    conds = {c["type"]: c for c in kn.NodeStatus().conditions(runtime_ok, kn.cni_configured(str(tmp_path)))}
    assert conds["Ready"]["status"] == status
    assert fragment in conds["Ready"]["message"]
    assert conds["Ready"]["reason"] == ("KubeletReady" if status == "True" else "KubeletNotReady")
    assert version == ("containerd://1.6.20~ds1" if crictl_rc == 0 else "")


def test_transition_time_kept_while_status_unchanged():
    tracker = kn.NodeStatus()
    first = {c["type"]: c for c in tracker.conditions(True, False)}
    tracker.transitions["Ready"] = ("False", "2000-01-01T00:00:00Z")
    again = {c["type"]: c for c in tracker.conditions(True, False)}
    assert again["Ready"]["lastTransitionTime"] == "2000-01-01T00:00:00Z"
    changed = {c["type"]: c for c in tracker.conditions(True, True)}
    assert changed["Ready"]["lastTransitionTime"] != "2000-01-01T00:00:00Z"
    assert first["MemoryPressure"]["reason"] == "KubeletHasSufficientMemory"


class FakeApi:
    """Records requests; nodes/leases/pods in memory."""

    def __init__(self):
        self.objects = {}
        self.calls = []

    def post(self, path, obj):
        from lab.standin.kubeclient import ApiError  # pylint: disable=import-outside-toplevel
        self.calls.append(("POST", path))
        key = path + "/" + obj["metadata"]["name"]
        if key in self.objects:
            raise ApiError(409, "AlreadyExists", "exists")
        obj = dict(obj, metadata=dict(obj["metadata"], uid="uid-1"))
        self.objects[key] = obj
        return obj

    def get(self, path, query=None):
        from lab.standin.kubeclient import ApiError  # pylint: disable=import-outside-toplevel
        self.calls.append(("GET", path))
        if path == "/api/v1/pods" and query is not None:
            return {"items": [o for o in self.objects.values() if o.get("kind") == "Pod"]}
        if path not in self.objects:
            raise ApiError(404, "NotFound", "not found")
        return self.objects[path]

    def put(self, path, obj):
        self.calls.append(("PUT", path))
        self.objects[path] = obj
        return obj

    def patch(self, path, obj):
        self.calls.append(("PATCH", path))
        return self.objects.get(path, obj)

    def delete(self, path):
        self.calls.append(("DELETE", path))
        self.objects.pop(path, None)


def test_register_heartbeat_and_lease(tmp_path, monkeypatch):
    monkeypatch.setenv("IRONSTONE_STANDIN_ROOT", str(tmp_path))
    api = FakeApi()

    class NoPods:
        removed = []
        pods = {}

    config = dict(kc.DEFAULTS)
    node = kubelet.Kubelet("cp-1", "10.0.0.11", kn.default_labels("cp-1"), [], config, lambda: api, NoPods(),
                           crictl=lambda args: (1, "", "down"))
    node.sync()
    assert ("POST", "/api/v1/nodes") in api.calls
    assert ("PATCH", "/api/v1/nodes/cp-1/status") in api.calls
    assert ("POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases") in api.calls
    lease = api.objects["/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/cp-1"]
    assert lease["spec"]["holderIdentity"] == "cp-1" and lease["spec"]["leaseDurationSeconds"] == 40
    assert lease["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    api.calls.clear()
    node.sync()
    assert ("PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/cp-1") in api.calls
    assert ("POST", "/api/v1/nodes") not in api.calls


def test_api_unreachable_is_logged_once_a_minute(capsys):
    def broken():
        raise OSError("connection refused")

    class NoPods:
        removed = []
        pods = {}

    node = kubelet.Kubelet("n1", "10.0.0.5", {}, [], dict(kc.DEFAULTS), broken, NoPods())
    node.sync()
    node.sync()
    err = capsys.readouterr().err
    assert err.count("Unable to register node with API server") == 1


def _free_port():
    import socket  # pylint: disable=import-outside-toplevel
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_standalone_kubelet_serves_healthz_runs_static_pod_and_stops_on_sigterm(tmp_path):
    import signal  # pylint: disable=import-outside-toplevel
    import ssl  # pylint: disable=import-outside-toplevel
    import subprocess  # pylint: disable=import-outside-toplevel
    import time  # pylint: disable=import-outside-toplevel
    import urllib.request  # pylint: disable=import-outside-toplevel
    healthz, port = _free_port(), _free_port()
    images = tmp_path / "images"
    images.mkdir()
    marker = tmp_path / "child.pid"
    (images / "kube-apiserver").write_text(
        f"#!{sys.executable}\nimport os, sys, time\nopen({str(marker)!r}, 'w').write(str(os.getpid()))\n"
        "print('apiserver stand-in child up', file=sys.stderr, flush=True)\ntime.sleep(600)\n")
    (images / "kube-apiserver").chmod(0o755)
    manifests = tmp_path / "etc" / "kubernetes" / "manifests"
    manifests.mkdir(parents=True)
    (manifests / "kube-apiserver.yaml").write_text(yaml_pod())
    (tmp_path / "var" / "lib" / "kubelet").mkdir(parents=True)
    (tmp_path / "var" / "lib" / "kubelet" / "config.yaml").write_text(
        KUBEADM_CONFIG.replace("healthzPort: 10248", f"healthzPort: {healthz}") + f"port: {port}\naddress: 127.0.0.1\n")
    env = dict(os.environ, IRONSTONE_STANDIN_ROOT=str(tmp_path), IRONSTONE_STANDIN_IMAGES=str(images), PYTHONPATH=ROOT)
    code = "import sys; from lab.standin import kubelet; sys.exit(kubelet.main())"
    proc = subprocess.Popen([sys.executable, "-c", code,  # pylint: disable=consider-using-with
                             "--config=/var/lib/kubelet/config.yaml", "--node-ip=10.0.0.5", "--hostname-override=Test-Node"],
                            env=env, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        deadline = time.time() + 20
        body = None
        while time.time() < deadline and body is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{healthz}/healthz", timeout=1) as resp:
                    body = resp.read().decode()
            except OSError:
                time.sleep(0.2)
        assert body == "ok"
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        # The HTTPS listener on the kubelet port may come up a moment after healthz.
        secure = None
        while time.time() < deadline and secure is None:
            try:
                with urllib.request.urlopen(f"https://127.0.0.1:{port}/healthz", timeout=2, context=context) as resp:
                    secure = resp.read()
            except OSError:
                time.sleep(0.2)
        assert secure == b"ok"
        while time.time() < deadline and not marker.exists():
            time.sleep(0.2)
        child = int(marker.read_text())
        os.kill(child, 0)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        err = proc.stderr.read()
        assert "STAND-IN" in err.splitlines()[0]
        assert "[kube-apiserver] apiserver stand-in child up" in err
        assert 'node="test-node"' in err
        with pytest.raises(OSError):
            for dummy in range(50):
                os.kill(child, 0)
                time.sleep(0.1)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def yaml_pod():
    return ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: kube-apiserver\n  namespace: kube-system\nspec:\n  containers:\n"
            "  - name: kube-apiserver\n    image: registry.k8s.io/kube-apiserver:" + git_version() + "\n"
            "    command: [kube-apiserver, --secure-port=6443]\n")


# --- the runtime endpoint: any unix socket, containerd's or cri-dockerd's ---------------------------------

CRI_DOCKERD = "unix:///run/cri-dockerd.sock"
CTR_PLUGINS = ("TYPE                            ID                       PLATFORMS      STATUS    \n"
               "io.containerd.grpc.v1           cri                      linux/amd64    ok        \n")
CTR_VERSION = "Client:\n  Version:  1.6.20~ds1\n\nServer:\n  Version:  1.6.20~ds1\n"


@pytest.fixture(name="runtime_root")
def fixture_runtime_root(tmp_path, monkeypatch):
    """A node root, the in-package crictl stand-in (no crictl on PATH) and a fake `ctr` recording its --address."""
    from lab.standin import crictl as crictl_standin  # pylint: disable=import-outside-toplevel
    monkeypatch.setenv("IRONSTONE_STANDIN_ROOT", str(tmp_path))
    monkeypatch.delenv("CONTAINER_RUNTIME_ENDPOINT", raising=False)
    real_which = kubelet.shutil.which
    monkeypatch.setattr(kubelet.shutil, "which", lambda name: None if name == "crictl" else real_which(name))
    addresses = []

    def fake_ctr(args, timeout=10.0):
        del timeout
        addresses.append(args[args.index("--address") + 1])
        return 0, CTR_PLUGINS if args[-2:] == ["plugins", "ls"] else CTR_VERSION, ""
    monkeypatch.setattr(crictl_standin, "run_ctr", fake_ctr)
    (tmp_path / "etc" / "cni" / "net.d").mkdir(parents=True)
    (tmp_path / "etc" / "cni" / "net.d" / "10-calico.conflist").write_text("{}")
    return tmp_path, addresses


def heartbeat_ready(config):
    """The Ready condition one heartbeat of a registered kubelet posts with this configuration."""
    api = FakeApi()

    class NoPods:
        removed = []
        pods = {}
    node = kubelet.Kubelet("w-1", "10.0.0.21", kn.default_labels("w-1"), [], config, lambda: api, NoPods())
    patches = []
    api.patch = lambda path, obj: patches.append((path, obj)) or obj
    node.sync()
    status = [obj["status"] for path, obj in patches if path == "/api/v1/nodes/w-1/status"][-1]
    return {c["type"]: c for c in status["conditions"]}["Ready"], status["nodeInfo"]["containerRuntimeVersion"]


def test_missing_cri_dockerd_socket_is_runtime_down(runtime_root):
    dummy, addresses = runtime_root
    ok, version, err = kubelet.runtime_state(CRI_DOCKERD)
    assert (ok, version) == (False, "")
    # crictl's fatal line (its msg= quotes escaped)
    assert ('level=fatal msg="validate service connection: validate CRI v1 runtime API for endpoint '
            '\\"unix:///run/cri-dockerd.sock\\": rpc error: code = Unavailable desc = connection error: desc = '
            '\\"transport: Error while dialing: dial unix /run/cri-dockerd.sock: connect: no such file or directory\\""') in err
    assert addresses == []  # nothing asked containerd's socket instead
    config, dummy = kc.decode_config(KUBEADM_CONFIG.replace('containerRuntimeEndpoint: ""',
                                                            f"containerRuntimeEndpoint: {CRI_DOCKERD}"))
    ready, version = heartbeat_ready(config)
    assert (ready["status"], ready["reason"]) == ("False", "KubeletNotReady")
    assert ready["message"] == kn.RUNTIME_DOWN == "container runtime is down, PLEG is not healthy: pleg has yet to be successful"
    assert version == ""


def test_existing_cri_dockerd_socket_answers(runtime_root):
    import socket  # pylint: disable=import-outside-toplevel
    root, addresses = runtime_root
    (root / "run").mkdir()
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(root / "run" / "cri-dockerd.sock"))
        # the deprecated flag (kubeadm-flags.env) overrides the "" kubeadm writes into config.yaml
        config, dummy = kc.decode_config(KUBEADM_CONFIG)
        values, dummy = kc.parse_flags([f"--container-runtime-endpoint={CRI_DOCKERD}"])
        kc.apply_flag_overrides(config, values)
        assert config["containerRuntimeEndpoint"] == CRI_DOCKERD
        ready, version = heartbeat_ready(config)
    assert (ready["status"], ready["reason"]) == ("True", "KubeletReady")
    assert version == "containerd://1.6.20~ds1"  # what the fake ctr reports
    assert addresses and set(addresses) == {str(root / "run" / "cri-dockerd.sock")}


def test_empty_runtime_endpoint_defaults_to_containerd():
    config, dummy = kc.decode_config(KUBEADM_CONFIG)
    assert config["containerRuntimeEndpoint"] == "unix:///run/containerd/containerd.sock"


def test_node_status_update_frequency_flag_overrides_the_config_and_is_validated():
    config, dummy = kc.decode_config(KUBEADM_CONFIG)
    values, dummy = kc.parse_flags(["--node-status-update-frequency=20s"])
    kc.apply_flag_overrides(config, values)
    assert config["nodeStatusUpdateFrequency"] == "20s"
    kc.validate_config(config)
    with pytest.raises(kc.FlagError, match='invalid argument "20" for "--node-status-update-frequency" flag: '
                                           'time: missing unit in duration "20"'):
        kc.parse_flags(["--node-status-update-frequency=20"])
