"""The Calico stage against the kube-apiserver STAND-IN and a real, throwaway TLS etcd: the simulated Deployment and
DaemonSet status, the tigera operator stand-in, kubelet stand-ins playing calico-node's install-cni, and how the
server treats Installations with unknown fields (create, update, server-side apply, dryRun).

One single-member etcd (client port 23792, peer 23802) and one API server (127.0.0.1:16450) are started for the
module.  The controllers' loop is not started: the tests run its steps themselves (`tick`), so every write is
one the test asked for.  The tigera CRDs come from $IRONSTONE_CRDS_DIR (default <repo>/../shared/crds).
"""
import datetime
import http.client
import json
import os
import shutil
import stat
import subprocess
import sys
import threading
import time

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import standin_pki  # noqa: E402  pylint: disable=wrong-import-position
from lab.standin import apiserver  # noqa: E402  pylint: disable=wrong-import-position
from lab.standin import build_repo  # noqa: E402  pylint: disable=wrong-import-position
from lab.standin import kubelet  # noqa: E402  pylint: disable=wrong-import-position
from lab.standin import kubelet_config as kc  # noqa: E402  pylint: disable=wrong-import-position
from lab.standin import kubelet_node as kn  # noqa: E402  pylint: disable=wrong-import-position
from lab.standin.kubeclient import ApiError, KubeClient, APPLY_PATCH, STRATEGIC_MERGE_PATCH  # noqa: E402  pylint: disable=wrong-import-position

ETCD = shutil.which("etcd")
CRDS_BASE = os.environ.get("IRONSTONE_CRDS_DIR", os.path.join(ROOT, "..", "shared", "crds"))
CRDS = os.path.join(CRDS_BASE, "tigera-operator-v1.42.4")
PORT, ETCD_PORT, PEER_PORT = 16450, 23792, 23802
INSTALLATIONS = "/apis/operator.tigera.io/v1/installations"
APISERVERS = "/apis/operator.tigera.io/v1/apiservers"
DEPLOYMENTS = "/apis/apps/v1/namespaces/{ns}/deployments"
CALICO_NODE = "/apis/apps/v1/namespaces/calico-system/daemonsets/calico-node"
OPERATOR = "/apis/apps/v1/namespaces/tigera-operator/deployments/tigera-operator"

pytestmark = [pytest.mark.skipif(ETCD is None, reason="etcd binary not installed"),
              pytest.mark.skipif(not os.path.isdir(CRDS), reason=f"IRONSTONE_CRDS_DIR: {CRDS} not found")]


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

    def tick(self, times=1):
        """One pass of the simulated workload controllers and the operator stand-in (as the controllers' loop runs them)."""
        for dummy in range(times):
            self.ctl.deployments()
            self.ctl.daemonsets()
            self.ctl.tigera_operator()

    def raw(self, method, path, body, content_type="application/json"):
        """(status, headers, decoded body) of one request as admin, for the headers KubeClient does not return."""
        client = self.client()
        conn = http.client.HTTPSConnection("127.0.0.1", PORT, context=client.context, timeout=20)
        try:
            conn.request(method, path, body=json.dumps(body), headers={"Content-Type": content_type, "Accept": "application/json"})
            response = conn.getresponse()
            return response.status, response.getheaders(), json.loads(response.read() or b"null")
        finally:
            conn.close()


@pytest.fixture(scope="module", name="env")
def env_fixture(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("calico"))
    standin_pki.write_pki(directory, ("cp1", "w1", "x1"))
    with open(os.path.join(directory, "etcd.log"), "wb") as log:
        etcd = subprocess.Popen([  # pylint: disable=consider-using-with
            ETCD, "--name=c", f"--data-dir={directory}/etcd", f"--listen-client-urls=https://127.0.0.1:{ETCD_PORT}",
            f"--advertise-client-urls=https://127.0.0.1:{ETCD_PORT}", f"--listen-peer-urls=http://127.0.0.1:{PEER_PORT}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{PEER_PORT}", f"--initial-cluster=c=http://127.0.0.1:{PEER_PORT}",
            f"--cert-file={directory}/etcd-server.crt", f"--key-file={directory}/etcd-server.key",
            f"--trusted-ca-file={directory}/etcd-ca.crt", "--client-cert-auth"], stdout=subprocess.DEVNULL, stderr=log)
    httpd = stop = None
    try:
        if not standin_pki.wait_port(ETCD_PORT, 40):
            with open(os.path.join(directory, "etcd.log"), encoding="utf-8", errors="replace") as handle:
                pytest.fail("etcd did not start: " + handle.read()[-3000:])
        flags = ["--advertise-address=127.0.0.1", f"--client-ca-file={directory}/ca.crt", f"--etcd-cafile={directory}/etcd-ca.crt",
                 f"--etcd-certfile={directory}/etcd-client.crt", f"--etcd-keyfile={directory}/etcd-client.key",
                 f"--etcd-servers=https://127.0.0.1:{ETCD_PORT}", f"--secure-port={PORT}", "--bind-address=127.0.0.1",
                 f"--tls-cert-file={directory}/apiserver.crt", f"--tls-private-key-file={directory}/apiserver.key"]
        api, httpd, ctl = apiserver.build(apiserver.parse_flags(flags), apiserver.Logger(-1))
        stop = threading.Event()
        threading.Thread(target=apiserver.bootstrap, args=(api, api.log, stop), daemon=True).start()
        assert api.ready.wait(40), "the API server did not connect to etcd"
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
        env = Env(directory, ctl)
        admin = env.client()
        for name in ("operator.tigera.io_installations.yaml", "operator.tigera.io_apiservers.yaml"):
            with open(os.path.join(CRDS, name), encoding="utf-8") as handle:
                crd = yaml.safe_load(handle)
            admin.patch(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd['metadata']['name']}", crd,
                        content_type=APPLY_PATCH, query={"fieldManager": "test", "fieldValidation": "Strict"})
        yield env
    finally:
        if stop is not None:
            stop.set()
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        etcd.terminate()
        etcd.wait(10)


def _rv(obj):
    return obj["metadata"]["resourceVersion"]


def _ready_node(client, name, labels=None, taints=None, ready="True"):
    """A Node (as admin) with a Ready condition of that status."""
    body = {"metadata": {"name": name, "labels": dict({"kubernetes.io/os": "linux", "kubernetes.io/hostname": name}, **(labels or {}))},
            "spec": {"taints": taints} if taints else {}}
    client.post("/api/v1/nodes", body)
    set_ready(client, name, ready)


def set_ready(client, name, ready):
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    client.patch(f"/api/v1/nodes/{name}/status", {"status": {"conditions": [
        {"type": "Ready", "status": ready, "reason": "KubeletReady" if ready == "True" else "KubeletNotReady", "message": "m",
         "lastHeartbeatTime": stamp, "lastTransitionTime": stamp}]}})


def _deployment(name, replicas=None, pod_spec=None, **spec):
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": dict({"selector": {"matchLabels": {"app": name}},
                          "template": {"metadata": {"labels": {"app": name}},
                                       "spec": dict({"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}, **(pod_spec or {}))}},
                         **spec)}
    if replicas is not None:
        body["spec"]["replicas"] = replicas
    return body


def _conditions(obj):
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or ()}


def _cleanup(client, *paths):
    for path in paths:
        try:
            client.delete(path)
        except ApiError as err:
            if err.status != 404:
                raise


# -- Deployment and DaemonSet status ----------------------------------------------------------------------
def test_deployment_status_is_written_once_through_the_status_subresource(env):
    c = env.client()
    c.post("/api/v1/namespaces", {"metadata": {"name": "dep"}})
    _ready_node(c, "dn1")
    path = DEPLOYMENTS.format(ns="dep")
    c.post(path, _deployment("web", replicas=2))
    c.post(path, _deployment("none", replicas=0))
    c.post(path, _deployment("default"))
    env.tick()
    web = c.get(path + "/web")
    status = web["status"]
    assert {k: status[k] for k in ("observedGeneration", "replicas", "updatedReplicas", "readyReplicas", "availableReplicas")} == {
        "observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2}
    assert "unavailableReplicas" not in status
    cond = _conditions(web)
    assert (cond["Available"]["status"], cond["Available"]["reason"]) == ("True", "MinimumReplicasAvailable")
    assert (cond["Progressing"]["status"], cond["Progressing"]["reason"]) == ("True", "NewReplicaSetAvailable")
    assert cond["Progressing"]["message"].startswith('ReplicaSet "web-') and cond["Progressing"]["message"].endswith('" has successfully progressed.')
    entries = [(m["manager"], m["operation"], m.get("subresource")) for m in web["metadata"]["managedFields"]]
    assert ("kube-controller-manager", "Update", "status") in entries
    assert web["metadata"]["generation"] == 1
    # replicas 0: Available with no counts (the real API's JSON leaves zero counts out); no replicas given: 1
    none = c.get(path + "/none")["status"]
    assert none["observedGeneration"] == 1 and not {"replicas", "availableReplicas", "readyReplicas"} & set(none)
    assert _conditions({"status": none})["Available"]["status"] == "True"
    assert c.get(path + "/default")["status"]["availableReplicas"] == 1
    # at rest: nothing is written again
    before = {n: _rv(c.get(f"{path}/{n}")) for n in ("web", "none", "default")}
    env.tick(2)
    assert {n: _rv(c.get(f"{path}/{n}")) for n in ("web", "none", "default")} == before
    # a new generation is observed
    scaled = c.patch(path + "/web", {"spec": {"replicas": 3}}, content_type=STRATEGIC_MERGE_PATCH)
    assert scaled["metadata"]["generation"] == 2 and scaled["status"]["observedGeneration"] == 1
    env.tick()
    status = c.get(path + "/web")["status"]
    assert (status["observedGeneration"], status["replicas"], status["availableReplicas"]) == (2, 3, 3)
    c.delete("/api/v1/namespaces/dep")
    c.delete("/api/v1/nodes/dn1")


def test_deployment_pods_need_a_node_that_takes_and_can_start_them(env):
    c = env.client()
    c.post("/api/v1/namespaces", {"metadata": {"name": "sched"}})
    _ready_node(c, "sn1", taints=[{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}])
    _ready_node(c, "sn2", ready="False")
    path = DEPLOYMENTS.format(ns="sched")
    c.post(path, _deployment("plain"))  # sn1 is tainted, sn2 NotReady (tainted not-ready by the node lifecycle controller)
    c.post(path, _deployment("tolerant", pod_spec={"tolerations": [{"operator": "Exists"}]}))  # sn1 takes it
    c.post(path, _deployment("hostnet", pod_spec={"tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists"}],
                                                  "nodeSelector": {"kubernetes.io/hostname": "sn2"}, "hostNetwork": True}))
    c.post(path, _deployment("podnet", pod_spec={"tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists"}],
                                                 "nodeSelector": {"kubernetes.io/hostname": "sn2"}}))
    c.post(path, _deployment("deadline", progressDeadlineSeconds=1))
    env.tick()
    plain = c.get(path + "/plain")
    assert plain["status"]["replicas"] == 1 and plain["status"]["unavailableReplicas"] == 1 and "availableReplicas" not in plain["status"]
    cond = _conditions(plain)
    assert (cond["Available"]["status"], cond["Available"]["reason"]) == ("False", "MinimumReplicasUnavailable")
    assert (cond["Progressing"]["status"], cond["Progressing"]["reason"]) == ("True", "ReplicaSetUpdated")
    assert c.get(path + "/tolerant")["status"]["availableReplicas"] == 1
    assert c.get(path + "/hostnet")["status"]["availableReplicas"] == 1  # on the host's network a NotReady node runs it
    assert "availableReplicas" not in c.get(path + "/podnet")["status"]  # the pod network needs the CNI a NotReady node lacks
    time.sleep(2.1)
    env.tick()
    cond = _conditions(c.get(path + "/deadline"))
    assert (cond["Progressing"]["status"], cond["Progressing"]["reason"]) == ("False", "ProgressDeadlineExceeded")
    # the node becomes Ready: the pending replicas become available
    set_ready(c, "sn2", "True")
    env.tick()
    assert c.get(path + "/plain")["status"]["availableReplicas"] == 1
    assert _conditions(c.get(path + "/deadline"))["Progressing"]["reason"] == "NewReplicaSetAvailable"
    c.delete("/api/v1/namespaces/sched")
    for node in ("sn1", "sn2"):
        c.delete(f"/api/v1/nodes/{node}")


def test_daemonset_status_follows_the_nodes_their_labels_and_taints(env):
    c = env.client()
    c.post("/api/v1/namespaces", {"metadata": {"name": "ds"}})
    _ready_node(c, "a-cp", taints=[{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}])
    _ready_node(c, "a-w", labels={"disk": "ssd"})
    _ready_node(c, "a-down", ready="False")
    _ready_node(c, "a-soft", taints=[{"key": "soft", "value": "x", "effect": "PreferNoSchedule"}])

    def daemonset(name, pod_spec):
        return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name},
                "spec": {"selector": {"matchLabels": {"app": name}}, "template": {"metadata": {"labels": {"app": name}}, "spec": dict(
                    {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}, **pod_spec)}}}
    path = "/apis/apps/v1/namespaces/ds/daemonsets"
    c.post(path, daemonset("plain", {}))
    c.post(path, daemonset("all", {"tolerations": [{"operator": "Exists"}]}))
    c.post(path, daemonset("cp", {"tolerations": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}]}))
    c.post(path, daemonset("ssd", {"nodeSelector": {"disk": "ssd"}, "tolerations": [{"operator": "Exists"}]}))
    c.post(path, daemonset("hostnet", {"hostNetwork": True, "tolerations": [{"operator": "Exists"}]}))
    env.tick()

    def counts(name):
        status = c.get(f"{path}/{name}")["status"]
        return status["desiredNumberScheduled"], status["currentNumberScheduled"], status["numberReady"], status["numberMisscheduled"]
    assert counts("plain") == (2, 2, 2, 0)  # a-w, a-soft: not the control plane, not the NotReady node
    assert counts("all") == (4, 4, 3, 0)  # everywhere; not ready on the NotReady node (no pod network)
    assert counts("cp") == (3, 3, 3, 0)
    assert counts("ssd") == (1, 1, 1, 0)
    assert counts("hostnet") == (4, 4, 4, 0)
    status = c.get(f"{path}/all")["status"]
    assert (status["updatedNumberScheduled"], status["numberAvailable"], status["numberUnavailable"], status["observedGeneration"]) == (4, 3, 1, 1)
    # nodes change: recomputed
    _ready_node(c, "a-w2", labels={"disk": "ssd"})
    env.tick()
    assert counts("ssd") == (2, 2, 2, 0) and counts("plain") == (3, 3, 3, 0)
    before = _rv(c.get(f"{path}/ssd"))
    env.tick()
    assert _rv(c.get(f"{path}/ssd")) == before
    c.delete("/api/v1/namespaces/ds")
    for node in ("a-cp", "a-w", "a-down", "a-soft", "a-w2"):
        c.delete(f"/api/v1/nodes/{node}")


# -- Installations with unknown fields, server-side apply -------------------------------------------------------
def _installation(spec):
    return {"apiVersion": "operator.tigera.io/v1", "kind": "Installation", "metadata": {"name": "default"}, "spec": spec}


def test_installation_with_an_unknown_field_is_refused_where_the_real_server_refuses_it(env):
    c = env.client()
    bad = _installation({"variant": "Calico", "calicoVersion": "v3.32.1"})
    # create and update with fieldValidation=Strict (what kubectl sends): 400, dryRun=All too
    for query in ({"fieldValidation": "Strict"}, {"fieldValidation": "Strict", "dryRun": "All"}):
        with pytest.raises(ApiError) as err:
            c.post(INSTALLATIONS, bad, query=query)
        assert err.value.status == 400
        assert err.value.message == ('Installation in version "v1" cannot be handled as a Installation: strict decoding error: '
                                     'unknown field "spec.calicoVersion"')
    assert not c.exists(INSTALLATIONS + "/default")
    # server-side apply: refused whatever fieldValidation says, dryRun=All too (structured-merge-diff's typed conversion)
    expected = ("failed to create typed patch object (/default; operator.tigera.io/v1, Kind=Installation): "
                ".spec.calicoVersion: field not declared in schema")
    for query in ({}, {"fieldValidation": "Ignore"}, {"fieldValidation": "Warn"}, {"fieldValidation": "Strict"}, {"dryRun": "All"}):
        with pytest.raises(ApiError) as err:
            c.patch(INSTALLATIONS + "/default", bad, content_type=APPLY_PATCH, query=dict(query, fieldManager="ironstone"))
        assert (err.value.status, err.value.reason, err.value.message) == (500, "", expected), query
        assert "reason" not in err.value.body
    assert not c.exists(INSTALLATIONS + "/default")
    two = _installation({"calicoVersion": "x", "calicoNetwork": {"mtu": 1400, "ipPools": [{"cidr": "10.0.0.0/16", "natOutgoin": "Enabled"}]}})
    with pytest.raises(ApiError) as err:
        c.patch(INSTALLATIONS + "/default", two, content_type=APPLY_PATCH, query={"fieldManager": "ironstone"})
    assert err.value.message.endswith("Kind=Installation): errors:\n  .spec.calicoNetwork.ipPools[0].natOutgoin: field not declared in schema"
                                      "\n  .spec.calicoVersion: field not declared in schema")
    # the default fieldValidation (Warn) of create: accepted, the field pruned, a warning sent (as the real server does)
    code, headers, body = env.raw("POST", INSTALLATIONS, bad)
    assert code == 201 and "calicoVersion" not in body["spec"]
    assert ("Warning", '299 - "unknown field \\"spec.calicoVersion\\""') in headers
    # update (PUT) with Strict: 400, nothing changes
    current = c.get(INSTALLATIONS + "/default")
    with pytest.raises(ApiError) as err:
        c.put(INSTALLATIONS + "/default", dict(current, spec={"variant": "Calico", "calicoVersion": "v3"}), query={"fieldValidation": "Strict"})
    assert err.value.status == 400 and 'unknown field "spec.calicoVersion"' in err.value.message
    assert _rv(c.get(INSTALLATIONS + "/default")) == _rv(current)
    with pytest.raises(ApiError) as err:
        c.patch(INSTALLATIONS + "/default", bad, content_type=APPLY_PATCH, query={"fieldManager": "ironstone"})
    assert err.value.status == 500 and _rv(c.get(INSTALLATIONS + "/default")) == _rv(current)
    c.delete(INSTALLATIONS + "/default")


def test_server_side_apply_dry_run_no_op_and_force(env):
    c = env.client()
    good = _installation({"variant": "Calico", "calicoNetwork": {"ipPools": [{"cidr": "10.244.0.0/16", "encapsulation": "VXLAN"}]}})
    try:
        dry = c.patch(INSTALLATIONS + "/default", good, content_type=APPLY_PATCH, query={"fieldManager": "ironstone", "dryRun": "All"})
        assert dry["spec"]["variant"] == "Calico" and not c.exists(INSTALLATIONS + "/default")
        created = c.patch(INSTALLATIONS + "/default", good, content_type=APPLY_PATCH, query={"fieldManager": "ironstone"})
        same = c.patch(INSTALLATIONS + "/default", good, content_type=APPLY_PATCH, query={"fieldManager": "ironstone"})
        assert _rv(same) == _rv(created)
        changed = _installation({"variant": "Calico", "calicoNetwork": {"ipPools": [{"cidr": "10.244.0.0/16", "encapsulation": "IPIP"}]}})
        dry = c.patch(INSTALLATIONS + "/default", changed, content_type=APPLY_PATCH, query={"fieldManager": "ironstone", "dryRun": "All"})
        assert dry["spec"]["calicoNetwork"]["ipPools"][0]["encapsulation"] == "IPIP"
        assert c.get(INSTALLATIONS + "/default")["spec"]["calicoNetwork"]["ipPools"][0]["encapsulation"] == "VXLAN"
        assert _rv(c.get(INSTALLATIONS + "/default")) == _rv(created)
        # another manager: a conflict on the field ironstone owns, unless forced
        with pytest.raises(ApiError) as err:
            c.patch(INSTALLATIONS + "/default", _installation({"variant": "TigeraSecureEnterprise"}), content_type=APPLY_PATCH,
                    query={"fieldManager": "other"})
        assert err.value.status == 409 and "conflict" in err.value.message.lower() and ".spec.variant" in err.value.message
        forced = c.patch(INSTALLATIONS + "/default", _installation({"variant": "TigeraSecureEnterprise"}), content_type=APPLY_PATCH,
                         query={"fieldManager": "other", "force": "true"})
        assert forced["spec"]["variant"] == "TigeraSecureEnterprise"
        owners = {m["manager"]: json.dumps(m.get("fieldsV1")) for m in forced["metadata"]["managedFields"]}
        assert "f:variant" in owners["other"] and "f:variant" not in owners["ironstone"]
        assert "f:calicoNetwork" in owners["ironstone"]
    finally:
        _cleanup(c, INSTALLATIONS + "/default")


# -- the tigera operator stand-in and the kubelets' install-cni -------------------------------------------------
class Runtime:
    """A node root of its own for each kubelet stand-in (IRONSTONE_STANDIN_ROOT is read per call)."""

    def __init__(self, base, monkeypatch):
        self.base = base
        self.monkeypatch = monkeypatch

    def root(self, name):
        return os.path.join(str(self.base), name)

    def sync(self, node):
        self.monkeypatch.setenv("IRONSTONE_STANDIN_ROOT", self.root(node.name))
        node.sync()

    def conflist(self, name):
        return os.path.join(self.root(name), "etc", "cni", "net.d", "10-calico.conflist")


class Counting:
    """Wraps a KubeClient, counting GETs of the calico-node DaemonSet."""

    def __init__(self, client):
        self.client = client
        self.ds_gets = 0

    def __getattr__(self, name):
        return getattr(self.client, name)

    def get(self, path, query=None):
        if path == kubelet.CALICO_NODE_PATH:
            self.ds_gets += 1
        return self.client.get(path, query)


def _kubelet(env, name, labels=None, taints=()):
    class NoPods:
        removed = []
        pods = {}
    client = Counting(env.client("node-" + name))

    def runtime_up(args):
        del args
        return 0, "RuntimeName: containerd\nRuntimeVersion: 1.7.24\n", ""
    node = kubelet.Kubelet(name, f"10.0.0.{len(name) + 10}", labels or kn.default_labels(name), list(taints), dict(kc.DEFAULTS),
                           lambda: client, NoPods(), crictl=runtime_up)
    return node, client


def _operator_objects():
    return list(yaml.safe_load_all(build_repo.calico_manifests(CRDS_BASE)["tigera-operator.yaml"]))


def _apply_operator(c, image=None):
    for obj in _operator_objects():
        if obj["kind"] == "Deployment" and image:
            obj["spec"]["template"]["spec"]["containers"][0]["image"] = image
        meta = obj["metadata"]
        plural = {"Namespace": "namespaces", "ServiceAccount": "serviceaccounts", "ClusterRole": "clusterroles",
                  "ClusterRoleBinding": "clusterrolebindings", "Deployment": "deployments"}[obj["kind"]]
        prefix = "/api/v1" if obj["apiVersion"] == "v1" else "/apis/" + obj["apiVersion"]
        scope = f"/namespaces/{meta['namespace']}" if meta.get("namespace") else ""
        c.patch(f"{prefix}{scope}/{plural}/{meta['name']}", obj, content_type=APPLY_PATCH,
                query={"fieldManager": "ironstone", "fieldValidation": "Strict", "force": "true"})


def _ready_condition(c, name):
    return _conditions(c.get(f"/api/v1/nodes/{name}"))["Ready"]["status"]


def test_operator_renders_calico_node_and_kubelets_become_ready(env, tmp_path, monkeypatch, capsys):  # pylint: disable=too-many-statements
    c = env.client()
    runtime = Runtime(tmp_path, monkeypatch)
    cp1, cp1_api = _kubelet(env, "cp1", taints=[{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}])
    w1, w1_api = _kubelet(env, "w1")
    x1, dummy = _kubelet(env, "x1", labels={"kubernetes.io/hostname": "x1", "kubernetes.io/os": "windows"})
    for node in (cp1, w1, x1):
        runtime.sync(node)
        assert _ready_condition(c, node.name) == "False"  # no CNI configuration yet
    assert (cp1_api.ds_gets, w1_api.ds_gets) == (1, 1)  # one GET per loop while none exists (404 for now)
    c.post(INSTALLATIONS, _installation({"calicoNetwork": {"ipPools": [{"cidr": "10.244.0.0/16", "encapsulation": "VXLANCrossSubnet",
                                                                        "blockSize": 24}], "mtu": 1440}}))
    c.post(APISERVERS, {"apiVersion": "operator.tigera.io/v1", "kind": "APIServer", "metadata": {"name": "default"}, "spec": {}})
    env.tick()
    assert not c.exists("/api/v1/namespaces/calico-system")  # no operator yet
    # an operator release the stand-in does not know: Degraded, nothing rendered
    _apply_operator(c, image="quay.io/tigera/operator:v1.99.0")
    env.tick()
    degraded = _conditions(c.get(INSTALLATIONS + "/default"))
    assert degraded["Degraded"]["status"] == "True" and "v1.99.0" in degraded["Degraded"]["message"]
    assert degraded["Ready"]["status"] == "False" and not c.exists("/api/v1/namespaces/calico-system")
    # the operator of the manifest: calico-system rendered from the Installation
    _apply_operator(c)
    env.tick(2)  # the DaemonSet is rendered in the first pass, its status written in the second
    operator = c.get(OPERATOR)
    assert _conditions(operator)["Available"]["status"] == "True"  # hostNetwork, tolerates every taint: runs on NotReady nodes
    ns = c.get("/api/v1/namespaces/calico-system")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    ds = c.get(CALICO_NODE)
    inst = c.get(INSTALLATIONS + "/default")
    assert ds["metadata"]["ownerReferences"][0] == {"apiVersion": "operator.tigera.io/v1", "kind": "Installation", "name": "default",
                                                    "uid": inst["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}
    pod = ds["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"} and pod["tolerations"] == [{"operator": "Exists"}]
    assert pod["hostNetwork"] is True and pod["serviceAccountName"] == "calico-node"
    container = pod["containers"][0]
    assert container["name"] == "calico-node" and container["image"] == "quay.io/calico/node:v3.32.1"
    env_vars = {e["name"]: e.get("value") for e in container["env"]}
    assert {k: env_vars[k] for k in ("CALICO_IPV4POOL_CIDR", "CALICO_IPV4POOL_BLOCK_SIZE", "CALICO_IPV4POOL_IPIP", "CALICO_IPV4POOL_VXLAN",
                                     "CALICO_NETWORKING_BACKEND", "FELIX_IPINIPMTU", "FELIX_VXLANMTU", "CALICO_IPV4POOL_NAT_OUTGOING",
                                     "IP_AUTODETECTION_METHOD")} == {
        "CALICO_IPV4POOL_CIDR": "10.244.0.0/16", "CALICO_IPV4POOL_BLOCK_SIZE": "24", "CALICO_IPV4POOL_IPIP": "Never",
        "CALICO_IPV4POOL_VXLAN": "CrossSubnet", "CALICO_NETWORKING_BACKEND": "bird", "FELIX_IPINIPMTU": "1440", "FELIX_VXLANMTU": "1440",
        "CALICO_IPV4POOL_NAT_OUTGOING": "true", "IP_AUTODETECTION_METHOD": "first-found"}
    assert c.exists("/api/v1/namespaces/calico-system/serviceaccounts/calico-node")
    env.ctl.namespaces()  # the other controllers still do their part in the new namespace
    assert c.exists("/api/v1/namespaces/calico-system/serviceaccounts/default")
    status = c.get(CALICO_NODE)["status"]
    assert (status["desiredNumberScheduled"], status["numberReady"]) == (2, 2)  # cp1 and w1, not the windows node x1
    inst = c.get(INSTALLATIONS + "/default")
    cond = _conditions(inst)
    assert cond["Progressing"]["status"] == "True" and cond["Ready"]["status"] == "False" and cond["Degraded"]["status"] == "False"
    assert "cp1, w1" in cond["Progressing"]["message"]
    assert (inst["status"]["calicoVersion"], inst["status"]["variant"], inst["status"]["mtu"]) == ("v3.32.1", "Calico", 1440)
    assert _conditions(c.get(APISERVERS + "/default"))["Ready"]["status"] == "False"
    # the kubelets play install-cni; the node the DaemonSet does not run on writes nothing
    capsys.readouterr()
    for node in (cp1, w1, x1):
        runtime.sync(node)
    for name in ("cp1", "w1"):
        path = runtime.conflist(name)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
        with open(path, encoding="utf-8") as handle:
            conf = json.load(handle)
        assert conf["name"] == "k8s-pod-network" and conf["cniVersion"] == "0.3.1"
        assert conf["plugins"][0] == {"type": "calico", "log_level": "info", "datastore_type": "kubernetes", "nodename": name, "mtu": 1440,
                                      "ipam": {"type": "calico-ipam", "assign_ipv4": "true"}, "policy": {"type": "k8s"},
                                      "kubernetes": {"kubeconfig": "/etc/cni/net.d/calico-kubeconfig"}}
        assert [p["type"] for p in conf["plugins"]] == ["calico", "bandwidth", "portmap"]
        assert _ready_condition(c, name) == "True"
        assert sorted(os.listdir(os.path.dirname(path))) == ["10-calico.conflist"]  # no temporary file left
    assert not os.path.exists(runtime.conflist("x1")) and _ready_condition(c, "x1") == "False"
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("STAND-IN:")]
    assert len(lines) == 2 and all("install-cni" in line for line in lines)
    gets = (cp1_api.ds_gets, w1_api.ds_gets)
    for node in (cp1, w1):
        runtime.sync(node)
    assert (cp1_api.ds_gets, w1_api.ds_gets) == gets  # a CNI configuration exists: no more GETs, nothing rewritten
    # every node calico-node runs on is Ready: the Installation and the APIServer are Ready
    env.tick()
    inst = c.get(INSTALLATIONS + "/default")
    cond = _conditions(inst)
    assert (cond["Ready"]["status"], cond["Ready"]["reason"]) == ("True", "AllObjectsAvailable")
    assert cond["Ready"]["observedGeneration"] == inst["metadata"]["generation"]
    assert cond["Progressing"]["status"] == "False" and cond["Degraded"]["status"] == "False"
    api = c.get(APISERVERS + "/default")
    assert api["status"]["state"] == "Ready" and _conditions(api)["Ready"]["status"] == "True"
    # at rest: no write at all
    watched = [INSTALLATIONS + "/default", APISERVERS + "/default", CALICO_NODE, OPERATOR, "/api/v1/namespaces/calico-system",
               "/api/v1/namespaces/calico-system/serviceaccounts/calico-node"]
    before = {p: _rv(c.get(p)) for p in watched}
    env.tick(3)
    assert {p: _rv(c.get(p)) for p in watched} == before
    # the Installation changes: calico-node follows, the status too
    c.patch(INSTALLATIONS + "/default", {"spec": {"registry": "registry.lab.example/", "calicoNetwork": {
        "bgp": "Disabled", "mtu": None, "nodeAddressAutodetectionV4": {"kubernetes": "NodeInternalIP"},
        "ipPools": [{"cidr": "10.244.0.0/16", "encapsulation": "VXLAN", "natOutgoing": "Disabled"}]}}})
    env.tick()
    container = c.get(CALICO_NODE)["spec"]["template"]["spec"]["containers"][0]
    env_vars = {e["name"]: e.get("value") for e in container["env"]}
    assert container["image"] == "registry.lab.example/calico/node:v3.32.1"
    assert (env_vars["CALICO_NETWORKING_BACKEND"], env_vars["CALICO_IPV4POOL_VXLAN"], env_vars["CALICO_IPV4POOL_NAT_OUTGOING"],
            env_vars["IP_AUTODETECTION_METHOD"], env_vars["CALICO_IPV4POOL_BLOCK_SIZE"]) == ("vxlan", "Always", "false", "kubernetes-internal-ip", "26")
    assert "FELIX_IPINIPMTU" not in env_vars
    env.tick()
    inst = c.get(INSTALLATIONS + "/default")
    assert inst["status"]["mtu"] == 1450 and _conditions(inst)["Ready"]["status"] == "True"
    # an operator image of an unknown release: Degraded, naming it
    _apply_operator(c, image="quay.io/tigera/operator:v1.43.0")
    env.tick()
    cond = _conditions(c.get(INSTALLATIONS + "/default"))
    assert cond["Degraded"]["status"] == "True" and "v1.43.0" in cond["Degraded"]["message"] and cond["Ready"]["status"] == "False"
    _apply_operator(c)
    env.tick()
    assert _conditions(c.get(INSTALLATIONS + "/default"))["Ready"]["status"] == "True"
    c.delete(INSTALLATIONS + "/default")
    c.delete(APISERVERS + "/default")
    c.delete("/api/v1/namespaces/calico-system")
    c.delete("/api/v1/namespaces/tigera-operator")
    for node in ("cp1", "w1", "x1"):
        c.delete(f"/api/v1/nodes/{node}")


def test_operator_checks_pools_against_kubeadm_and_bgp(env):
    c = env.client()
    _apply_operator(c)
    _ready_node(c, "k1")
    cluster = yaml.safe_dump({"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "ClusterConfiguration",
                              "networking": {"podSubnet": "10.244.0.0/16", "serviceSubnet": "10.96.0.0/12"}})
    c.post("/api/v1/namespaces/kube-system/configmaps", {"metadata": {"name": "kubeadm-config"}, "data": {"ClusterConfiguration": cluster}})
    try:
        env.tick()
        c.post(INSTALLATIONS, _installation({"calicoNetwork": {"ipPools": [{"cidr": "192.168.0.0/16"}]}}))
        env.tick()
        cond = _conditions(c.get(INSTALLATIONS + "/default"))["Degraded"]
        assert cond["status"] == "True" and cond["reason"] == "ResourceReadError"
        assert cond["message"].endswith("IPPool 192.168.0.0/16 is not within the platform's configured pod network CIDR(s) [10.244.0.0/16]")
        assert not c.exists(CALICO_NODE)
        # no pools given: kubeadm's pod subnet
        c.patch(INSTALLATIONS + "/default", {"spec": {"calicoNetwork": {"ipPools": None}}})
        env.tick()
        env_vars = {e["name"]: e.get("value") for e in c.get(CALICO_NODE)["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert (env_vars["CALICO_IPV4POOL_CIDR"], env_vars["CALICO_IPV4POOL_IPIP"]) == ("10.244.0.0/16", "Always")
        # BGP off with the default (IPIP) encapsulation: refused as the operator refuses it
        c.patch(INSTALLATIONS + "/default", {"spec": {"calicoNetwork": {"bgp": "Disabled"}}})
        env.tick()
        cond = _conditions(c.get(INSTALLATIONS + "/default"))["Degraded"]
        assert cond["status"] == "True" and cond["message"] == "with BIRD cluster routing mode, IPIP encapsulation requires that BGP is enabled"
    finally:
        _cleanup(c, INSTALLATIONS + "/default", "/api/v1/namespaces/kube-system/configmaps/kubeadm-config", "/api/v1/namespaces/calico-system",
                 "/api/v1/namespaces/tigera-operator", "/api/v1/nodes/k1")


def test_operator_waits_quietly_without_its_crds(env, monkeypatch):
    c = env.client()
    _apply_operator(c)
    _ready_node(c, "q1")
    asked = []
    real = env.ctl.registry.lookup

    def lookup(group, version, plural):
        if group == "operator.tigera.io":
            asked.append(plural)
            return None  # as before the CRDs are applied
        return real(group, version, plural)
    monkeypatch.setattr(env.ctl.registry, "lookup", lookup)
    try:
        env.tick(2)  # the operator is Available, but nothing it watches is served: nothing happens, nothing is raised
        assert _conditions(c.get(OPERATOR))["Available"]["status"] == "True"
        assert set(asked) == {"installations", "apiservers"}
        assert not c.exists("/api/v1/namespaces/calico-system")
    finally:
        _cleanup(c, "/api/v1/namespaces/tigera-operator", "/api/v1/nodes/q1")


# -- the STAND-IN persistent-volume binder (controllers.volumes) on the same server ----------------------
def _local_pv(name, node, size):
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
            "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem",
                     "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "local-ssd", "local": {"path": "/mnt/fast-disks/" + name},
                     "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                         {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}}}


def test_a_wait_for_first_consumer_claim_waits_with_its_reason_then_binds_on_the_selected_node(env):
    admin = env.client()
    admin.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "db"}})
    admin.post("/apis/storage.k8s.io/v1/storageclasses", {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "local-ssd"},
        "provisioner": "kubernetes.io/no-provisioner", "volumeBindingMode": "WaitForFirstConsumer", "reclaimPolicy": "Retain"})
    _ready_node(admin, "w1", labels={"kubernetes.io/hostname": "w1"})
    for name, node, size in (("pv-w1", "w1", "300Mi"), ("pv-x1", "x1", "300Mi")):
        admin.post("/api/v1/persistentvolumes", _local_pv(name, node, size))
    admin.post("/api/v1/namespaces/db/persistentvolumeclaims", {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
        "spec": {"storageClassName": "local-ssd", "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "100Mi"}}}})
    env.ctl.volumes()
    env.ctl.volumes()
    events = admin.get("/api/v1/namespaces/db/events")["items"]
    assert [(e["reason"], e["involvedObject"]["name"]) for e in events] == [("WaitForFirstConsumer", "data")]
    assert admin.get("/api/v1/namespaces/db/persistentvolumeclaims/data")["status"]["phase"] == "Pending"
    assert {pv["metadata"]["name"]: pv["status"]["phase"] for pv in admin.get("/api/v1/persistentvolumes")["items"]} == {
        "pv-w1": "Available", "pv-x1": "Available"}
    admin.post("/api/v1/namespaces/db/pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pg-0"}, "spec": {
        "containers": [{"name": "pg", "image": "postgres"}], "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]}})
    env.ctl.volumes()
    reasons = sorted(e["reason"] for e in admin.get("/api/v1/namespaces/db/events")["items"])
    assert reasons == ["WaitForFirstConsumer", "WaitForPodScheduled"]
    # In the scheduler's place (the stand-in runs none): the node picked for the pod.
    admin.patch("/api/v1/namespaces/db/persistentvolumeclaims/data", {"metadata": {"annotations": {"volume.kubernetes.io/selected-node": "w1"}}})
    env.ctl.volumes()
    claim = admin.get("/api/v1/namespaces/db/persistentvolumeclaims/data")
    assert claim["spec"]["volumeName"] == "pv-w1"
    assert claim["status"] == {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "300Mi"}}
    pv = admin.get("/api/v1/persistentvolumes/pv-w1")
    assert pv["status"]["phase"] == "Bound" and pv["spec"]["claimRef"]["name"] == "data"
    admin.delete("/api/v1/namespaces/db/pods/pg-0")
    admin.delete("/api/v1/namespaces/db/persistentvolumeclaims/data")
    env.ctl.volumes()
    assert admin.get("/api/v1/persistentvolumes/pv-w1")["status"]["phase"] == "Released"
    assert admin.get("/api/v1/persistentvolumes/pv-x1")["status"]["phase"] == "Available"
