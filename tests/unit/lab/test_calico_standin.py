"""Unit tests of the Calico stage's STAND-IN pieces that need no etcd: toleration and node matching
(lab/standin/scheduling.py), the tigera operator's rendering and refusals (apiserver/tigera.py), the status the
simulated Deployment and DaemonSet controllers compute (apiserver/controllers.py) and the CNI configuration the
kubelet stand-in writes in the place of calico-node's install-cni (kubelet_node.py, kubelet.py)."""
import copy
import json
import os
import stat
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from lab.standin import kubelet  # noqa: E402  pylint: disable=wrong-import-position
from lab.standin import kubelet_config as kc  # noqa: E402  pylint: disable=wrong-import-position
from lab.standin import kubelet_node as kn  # noqa: E402  pylint: disable=wrong-import-position
from lab.standin import scheduling  # noqa: E402  pylint: disable=wrong-import-position
from lab.standin.apiserver import controllers, tigera  # noqa: E402  pylint: disable=wrong-import-position
from lab.standin.kubeclient import ApiError  # noqa: E402  pylint: disable=wrong-import-position


def node(name="n1", labels=None, taints=None, ready="True", unschedulable=False):
    obj = {"metadata": {"name": name, "labels": dict({"kubernetes.io/os": "linux"}, **(labels or {}))}, "spec": {}, "status": {}}
    if taints:
        obj["spec"]["taints"] = taints
    if unschedulable:
        obj["spec"]["unschedulable"] = True
    if ready is not None:
        obj["status"]["conditions"] = [{"type": "Ready", "status": ready}]
    return obj


# -- tolerations and node matching -------------------------------------------------------------------------
@pytest.mark.parametrize("toleration, taint, expected", [
    ({"operator": "Exists"}, {"key": "a", "value": "b", "effect": "NoSchedule"}, True),  # empty key + Exists: every taint
    ({"operator": "Exists"}, {"key": "a", "effect": "NoExecute"}, True),
    ({"key": "a", "operator": "Exists"}, {"key": "a", "value": "x", "effect": "NoExecute"}, True),  # empty effect: every effect
    ({"key": "a", "operator": "Exists", "effect": "NoSchedule"}, {"key": "a", "effect": "NoExecute"}, False),
    ({"key": "a", "operator": "Equal", "value": "b"}, {"key": "a", "value": "b", "effect": "NoSchedule"}, True),
    ({"key": "a", "value": "b"}, {"key": "a", "value": "b", "effect": "NoSchedule"}, True),  # no operator: Equal
    ({"key": "a", "value": "b"}, {"key": "a", "value": "c", "effect": "NoSchedule"}, False),
    ({"key": "a"}, {"key": "a", "effect": "NoSchedule"}, True),  # Equal with both values empty
    ({"key": "a"}, {"key": "a", "value": "v", "effect": "NoSchedule"}, False),
    ({"key": "b", "operator": "Exists"}, {"key": "a", "effect": "NoSchedule"}, False),
    ({"key": "a", "operator": "Gt", "value": "1"}, {"key": "a", "value": "2", "effect": "NoSchedule"}, False),  # unknown operator
])
def test_toleration_matching(toleration, taint, expected):
    assert scheduling.tolerates(toleration, taint) is expected


def test_only_no_schedule_and_no_execute_taints_keep_a_pod_away():
    taints = [{"key": "soft", "effect": "PreferNoSchedule"}, {"key": "hard", "effect": "NoSchedule"}, {"key": "evict", "effect": "NoExecute"}]
    assert scheduling.untolerated([], taints) == taints[1:]
    assert scheduling.untolerated([{"key": "hard", "operator": "Exists"}], taints) == taints[2:]
    assert not scheduling.untolerated([{"operator": "Exists"}], taints)


def test_node_lifecycle_taints_are_implied_by_the_ready_condition():
    assert not scheduling.node_taints(node(ready="True"))
    assert {(t["key"], t["effect"]) for t in scheduling.node_taints(node(ready="False"))} == {
        ("node.kubernetes.io/not-ready", "NoSchedule"), ("node.kubernetes.io/not-ready", "NoExecute")}
    assert {t["key"] for t in scheduling.node_taints(node(ready=None))} == {"node.kubernetes.io/not-ready"}  # not reported yet
    assert {t["key"] for t in scheduling.node_taints(node(ready="Unknown"))} == {"node.kubernetes.io/unreachable"}
    cordoned = scheduling.node_taints(node(unschedulable=True))
    assert cordoned == [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]
    # one the node already carries is not doubled
    assert len(scheduling.node_taints(node(ready="False", taints=[{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]))) == 2


def test_selector_affinity_and_node_name():
    n = node(labels={"zone": "a", "cpus": "8"})
    assert scheduling.fits({"nodeSelector": {"zone": "a"}}, n) and not scheduling.fits({"nodeSelector": {"zone": "b"}}, n)
    assert not scheduling.fits({"nodeSelector": {"gpu": ""}}, n)
    assert scheduling.fits({"nodeName": "n1"}, n) and not scheduling.fits({"nodeName": "n2"}, n)

    def affinity(*terms):
        return {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}}}
    assert scheduling.fits(affinity({"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}), n)
    assert not scheduling.fits(affinity({"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]}), n)
    assert scheduling.fits(affinity({"matchExpressions": [{"key": "gpu", "operator": "DoesNotExist"}]}), n)
    assert scheduling.fits(affinity({"matchExpressions": [{"key": "cpus", "operator": "Gt", "values": ["4"]}]}), n)
    assert not scheduling.fits(affinity({"matchExpressions": [{"key": "cpus", "operator": "Lt", "values": ["4"]}]}), n)
    assert scheduling.fits(affinity({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}), n)
    # terms are ORed, an empty term matches nothing
    assert scheduling.fits(affinity({}, {"matchExpressions": [{"key": "zone", "operator": "Exists"}]}), n)
    assert not scheduling.fits(affinity({}), n)


def test_daemon_pods_get_the_daemonset_controllers_tolerations():
    down = node(ready="False")
    cordoned = node(unschedulable=True)
    # not-ready is tolerated for NoExecute only: a DaemonSet without tolerations stays off a NotReady node
    assert not scheduling.daemon_pod_fits({}, down)
    assert scheduling.daemon_pod_fits({}, cordoned)
    assert not scheduling.fits({}, cordoned)
    network = node(taints=[{"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}])
    assert scheduling.daemon_pod_fits({"hostNetwork": True}, network) and not scheduling.daemon_pod_fits({}, network)
    assert scheduling.daemon_pod_fits({"tolerations": [{"operator": "Exists"}]}, down)
    assert scheduling.pod_ready_on({"hostNetwork": True}, down) and not scheduling.pod_ready_on({}, down)


# -- deployment and daemonset status -------------------------------------------------------------------------
def deployment(replicas=None, pod_spec=None, **spec):
    body = {"metadata": {"name": "web", "namespace": "default", "generation": 3},
            "spec": dict({"template": {"metadata": {"labels": {"app": "web"}}, "spec": dict({"containers": [{"name": "c", "image": "x"}]},
                                                                                            **(pod_spec or {}))}}, **spec)}
    if replicas is not None:
        body["spec"]["replicas"] = replicas
    return body


def test_max_unavailable_follows_the_strategy():
    assert controllers.max_unavailable({}, 4) == 1 and controllers.max_unavailable({}, 1) == 0  # 25% rounded down
    assert controllers.max_unavailable({"strategy": {"type": "Recreate"}}, 4) == 0
    assert controllers.max_unavailable({"strategy": {"rollingUpdate": {"maxUnavailable": "50%"}}}, 3) == 1
    assert controllers.max_unavailable({"strategy": {"rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}}}, 3) == 1
    assert controllers.max_unavailable({"strategy": {"rollingUpdate": {"maxUnavailable": 5}}}, 2) == 2


def test_deployment_status_and_its_progress_deadline():
    ready = [node()]
    status = controllers.deployment_status(deployment(replicas=2), ready, "2030-01-01T00:00:00Z")
    assert status["observedGeneration"] == 3 and status["availableReplicas"] == 2 and "unavailableReplicas" not in status
    assert [c["type"] for c in status["conditions"]] == ["Available", "Progressing"]
    # the same again keeps the conditions (and their times) as they are
    dep = deployment(replicas=2)
    dep["status"] = status
    assert controllers.deployment_status(dep, ready, "2030-01-01T00:05:00Z") == status
    # no node takes it: pending, then timed out after progressDeadlineSeconds
    pending = deployment(progressDeadlineSeconds=60)
    pending["status"] = controllers.deployment_status(pending, [node(ready="False")], "2030-01-01T00:00:00Z")
    assert pending["status"]["unavailableReplicas"] == 1
    reasons = {c["type"]: c["reason"] for c in pending["status"]["conditions"]}
    assert reasons == {"Available": "MinimumReplicasUnavailable", "Progressing": "ReplicaSetUpdated"}
    assert controllers.deployment_status(pending, [], "2030-01-01T00:00:59Z")["conditions"][1]["reason"] == "ReplicaSetUpdated"
    late = controllers.deployment_status(pending, [], "2030-01-01T00:01:01Z")["conditions"][1]
    assert (late["status"], late["reason"]) == ("False", "ProgressDeadlineExceeded") and late["message"].endswith("has timed out progressing.")
    paused = controllers.deployment_status(deployment(paused=True), ready, "2030-01-01T00:00:00Z")["conditions"][1]
    assert (paused["status"], paused["reason"]) == ("Unknown", "DeploymentPaused")


def test_daemonset_status_counts():
    ds = {"metadata": {"name": "d", "generation": 2}, "spec": {"template": {"spec": {"tolerations": [{"operator": "Exists"}]}}}}
    status = controllers.daemonset_status(ds, [node("a"), node("b", ready="False"), node("c", labels={"kubernetes.io/os": "windows"})])
    assert status == {"currentNumberScheduled": 3, "desiredNumberScheduled": 3, "numberMisscheduled": 0, "numberReady": 2,
                      "observedGeneration": 2, "updatedNumberScheduled": 3, "numberAvailable": 2, "numberUnavailable": 1}
    empty = controllers.daemonset_status(dict(ds, spec={"template": {"spec": {"nodeSelector": {"x": "y"}}}}), [node("a")])
    assert empty == {"currentNumberScheduled": 0, "desiredNumberScheduled": 0, "numberMisscheduled": 0, "numberReady": 0, "observedGeneration": 2}


# -- the tigera operator stand-in ------------------------------------------------------------------------------
OPERATOR = {"spec": {"template": {"spec": {"containers": [{"name": "tigera-operator", "image": "quay.io/tigera/operator:v1.42.4"}]}}}}


def installation(spec=None):
    return {"metadata": {"name": "default", "uid": "u-1", "generation": 1}, "spec": spec or {}}


def operator(image):
    dep = copy.deepcopy(OPERATOR)
    dep["spec"]["template"]["spec"]["containers"][0]["image"] = image
    return dep


def env_of(plan):
    return {e["name"]: e.get("value") for e in tigera.calico_node_env(plan)}


def test_operator_image_tags():
    assert tigera.operator_image(OPERATOR) == ("quay.io/tigera/operator:v1.42.4", "v1.42.4")
    assert tigera.operator_image(operator("registry.lab:5000/tigera/operator:v1.42.4"))[1] == "v1.42.4"
    assert tigera.operator_image(operator("registry.lab:5000/tigera/operator"))[1] == "latest"
    assert tigera.operator_image(operator("quay.io/tigera/operator:v1.42.4@sha256:" + "a" * 64))[1] == "v1.42.4"
    with pytest.raises(tigera.ConfigError) as err:
        tigera.resolve(installation(), operator("quay.io/tigera/operator:v1.41.0"), [])
    assert "v1.41.0" in err.value.message and "v1.42.4 (Calico v3.32.1)" in err.value.message and err.value.message.startswith("STAND-IN:")


def test_defaults_give_the_operators_pool():
    plan = tigera.resolve(installation(), OPERATOR, [])
    assert plan["calico_version"] == "v3.32.1" and plan["image_prefix"] == "quay.io/calico/"
    values = env_of(plan)
    assert (values["CALICO_IPV4POOL_CIDR"], values["CALICO_IPV4POOL_BLOCK_SIZE"], values["CALICO_IPV4POOL_IPIP"],
            values["CALICO_IPV4POOL_VXLAN"], values["CALICO_IPV4POOL_NAT_OUTGOING"], values["CALICO_NETWORKING_BACKEND"],
            values["IP_AUTODETECTION_METHOD"]) == ("192.168.0.0/16", "26", "Always", "Never", "true", "bird", "first-found")
    assert "FELIX_IPINIPMTU" not in values and plan["status_mtu"] == 1480
    # kubeadm's pod subnet when the Installation names no pools; none at all for an empty list
    assert env_of(tigera.resolve(installation(), OPERATOR, ["10.244.0.0/16"]))["CALICO_IPV4POOL_CIDR"] == "10.244.0.0/16"
    assert "CALICO_IPV4POOL_CIDR" not in env_of(tigera.resolve(installation({"calicoNetwork": {"ipPools": []}}), OPERATOR, []))


@pytest.mark.parametrize("encapsulation, ipip, vxlan, mtu", [
    ("IPIP", "Always", "Never", 1480), ("IPIPCrossSubnet", "CrossSubnet", "Never", 1480), ("VXLAN", "Never", "Always", 1450),
    ("VXLANCrossSubnet", "Never", "CrossSubnet", 1450), ("None", "Never", "Never", 1500)])
def test_encapsulation_modes(encapsulation, ipip, vxlan, mtu):
    plan = tigera.resolve(installation({"calicoNetwork": {"ipPools": [{"cidr": "10.1.0.0/16", "encapsulation": encapsulation}]}}), OPERATOR, [])
    values = env_of(plan)
    assert (values["CALICO_IPV4POOL_IPIP"], values["CALICO_IPV4POOL_VXLAN"], plan["status_mtu"]) == (ipip, vxlan, mtu)


def test_network_settings_reach_calico_node():
    spec = {"registry": "mirror.lab/", "imagePath": "mirrored", "calicoNetwork": {
        "bgp": "Disabled", "mtu": 1400, "linuxDataplane": "Nftables", "nodeAddressAutodetectionV4": {"kubernetes": "NodeInternalIP"},
        "ipPools": [{"cidr": "10.1.0.0/16", "encapsulation": "VXLAN", "natOutgoing": "Disabled", "blockSize": 28}]},
        "calicoNodeDaemonSet": {"spec": {"template": {"spec": {
            "nodeSelector": {"kubernetes.io/os": "other", "pool": "a"}, "tolerations": [{"key": "x", "operator": "Exists"}]}}}}}
    plan = tigera.resolve(installation(spec), OPERATOR, [])
    values = env_of(plan)
    assert (values["CALICO_NETWORKING_BACKEND"], values["CLUSTER_TYPE"], values["FELIX_IPINIPMTU"], values["FELIX_VXLANMTU"],
            values["IP_AUTODETECTION_METHOD"], values["CALICO_IPV4POOL_NAT_OUTGOING"], values["CALICO_IPV4POOL_BLOCK_SIZE"],
            values["FELIX_NFTABLESMODE"]) == ("vxlan", "k8s,operator", "1400", "1400", "kubernetes-internal-ip", "false", "28", "Enabled")
    ds = tigera.daemonset(plan, installation(spec))
    pod = ds["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "mirror.lab/mirrored/node:v3.32.1"
    assert pod["initContainers"][0]["image"] == "mirror.lab/mirrored/cni:v3.32.1"
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux", "pool": "a"}  # added, the default key kept
    assert pod["tolerations"] == [{"key": "x", "operator": "Exists"}]  # replaced
    methods = (({"interface": "eth.*"}, "interface=eth.*"), ({"skipInterface": "lo"}, "skip-interface=lo"),
               ({"canReach": "10.0.0.1"}, "can-reach=10.0.0.1"), ({"firstFound": True}, "first-found"),
               ({"cidrs": ["10.0.0.0/8", "192.168.0.0/16"]}, "cidr=10.0.0.0/8,192.168.0.0/16"))
    for method, expected in methods:
        got = tigera.resolve(installation({"calicoNetwork": {"nodeAddressAutodetectionV4": method}}), OPERATOR, [])
        assert env_of(got)["IP_AUTODETECTION_METHOD"] == expected


@pytest.mark.parametrize("spec, platform, fragment", [
    ({"calicoNetwork": {"ipPools": [{"cidr": "192.168.0.0/16"}]}}, ["10.244.0.0/16"],
     "IPPool 192.168.0.0/16 is not within the platform's configured pod network CIDR(s) [10.244.0.0/16]"),
    ({"calicoNetwork": {"ipPools": [{"cidr": "10.244.0.0/8"}]}}, ["10.244.0.0/16"], "is not within the platform's"),
    ({"calicoNetwork": {"bgp": "Disabled"}}, [], "with BIRD cluster routing mode, IPIP encapsulation requires that BGP is enabled"),
    ({"calicoNetwork": {"bgp": "Disabled", "ipPools": [{"cidr": "10.1.0.0/16", "encapsulation": "None"}]}}, [],
     "unencapsulated IP pools require that BGP is enabled"),
    ({"calicoNetwork": {"ipPools": [{"cidr": "10.1.0.0/16", "blockSize": 19}]}}, [], "block size must be greater than 19"),
    ({"calicoNetwork": {"ipPools": [{"cidr": "10.1.0.0/27"}]}}, [], "IP pool size is too small"),
    ({"calicoNetwork": {"ipPools": [{"cidr": "10.1.0.0/16"}, {"cidr": "10.1.0.0/16", "name": "b"}]}}, [], "specified more than once"),
    ({"calicoNetwork": {"ipPools": [{"cidr": "10.1.0.0"}]}}, [], "IP pool CIDR (10.1.0.0) is invalid"),
    ({"calicoNetwork": {"ipPools": [{"cidr": "fd00::/48"}]}}, [], "IPv6 IP pool fd00::/48 is not implemented by the stand-in"),
    ({"calicoNetwork": {"linuxDataplane": "BPF"}}, [], "the BPF dataplane is not implemented by the stand-in"),
    ({"variant": "TigeraSecureEnterprise"}, [], "variant TigeraSecureEnterprise is not implemented by the stand-in"),
    ({"cni": {"type": "AmazonVPC"}}, [], "the CNI plugin AmazonVPC is not implemented"),
    ({"registry": "mirror.lab"}, [], 'spec.registry "mirror.lab" must end with a slash'),
    ({"calicoNetwork": {"nodeAddressAutodetectionV4": {"firstFound": True, "interface": "eth0"}}}, [], "no more than one node address"),
])
def test_what_the_operator_refuses(spec, platform, fragment):
    with pytest.raises(tigera.ConfigError) as err:
        tigera.resolve(installation(spec), OPERATOR, platform)
    assert fragment in err.value.message


def test_felix_cluster_routing_allows_ipip_without_bgp_and_vxlan_needs_no_bgp():
    tigera.resolve(installation({"calicoNetwork": {"bgp": "Disabled", "clusterRoutingMode": "Felix"}}), OPERATOR, [])
    tigera.resolve(installation({"calicoNetwork": {"bgp": "Disabled", "ipPools": [{"cidr": "10.1.0.0/16", "encapsulation": "VXLAN"}]}}),
                   OPERATOR, [])


def test_kubeadm_pod_subnets():
    config = {"data": {"ClusterConfiguration": "networking:\n  podSubnet: 10.244.0.0/16,fd00:10:244::/56\n"}}
    assert tigera.platform_cidrs(config) == ["10.244.0.0/16", "fd00:10:244::/56"]
    assert tigera.platform_cidrs(None) == [] and tigera.platform_cidrs({"data": {"ClusterConfiguration": ": ["}}) == []


def test_conditions_keep_their_transition_times():
    first = tigera.conditions(None, "Progressing", "ResourceNotReady", "waiting", 1, "2030-01-01T00:00:00Z")
    assert [(c["type"], c["status"]) for c in first] == [("Ready", "False"), ("Progressing", "True"), ("Degraded", "False")]
    later = tigera.conditions(first, "Ready", "AllObjectsAvailable", "All objects are available", 2, "2030-01-01T00:01:00Z")
    times = {c["type"]: c["lastTransitionTime"] for c in later}
    assert times == {"Ready": "2030-01-01T00:01:00Z", "Progressing": "2030-01-01T00:01:00Z", "Degraded": "2030-01-01T00:00:00Z"}
    assert all(c["observedGeneration"] == 2 for c in later)


# -- the kubelet's install-cni -----------------------------------------------------------------------------------
def calico_daemonset(env=None, pod_spec=None):
    return {"spec": {"template": {"spec": dict({"nodeSelector": {"kubernetes.io/os": "linux"}, "tolerations": [{"operator": "Exists"}],
                                                "containers": [{"name": "calico-node", "image": "quay.io/calico/node:v3.32.1",
                                                                "env": env or []}]}, **(pod_spec or {}))}}}


def test_calico_mtu_comes_from_the_felix_variables():
    assert kn.calico_mtu(calico_daemonset()) == 0
    assert kn.calico_mtu(calico_daemonset([{"name": "FELIX_VXLANMTU", "value": "1410"}])) == 1410
    assert kn.calico_mtu(calico_daemonset([{"name": "FELIX_IPINIPMTU", "value": "1420"}, {"name": "FELIX_VXLANMTU", "value": "1410"}])) == 1420
    assert kn.calico_mtu(calico_daemonset([{"name": "FELIX_IPINIPMTU", "valueFrom": {"configMapKeyRef": {"name": "x", "key": "y"}}}])) == 0


class FakeApi:
    """A Node store and the calico-node DaemonSet (or none), counting the DaemonSet GETs."""

    def __init__(self, daemonset=None):
        self.daemonset = daemonset
        self.nodes = {}
        self.ds_gets = 0

    def post(self, path, obj):
        obj = copy.deepcopy(obj)
        obj["metadata"]["uid"] = "uid-1"
        if path == "/api/v1/nodes":
            self.nodes[obj["metadata"]["name"]] = obj
        return obj

    def get(self, path, query=None):
        if path == "/api/v1/pods":
            return {"items": []}
        if path == kubelet.CALICO_NODE_PATH:
            self.ds_gets += 1
            if self.daemonset is None:
                raise ApiError(404, "NotFound", "not found")
            return self.daemonset
        raise ApiError(404, "NotFound", "not found")

    def patch(self, path, obj):
        name = path.split("/")[4]
        self.nodes[name]["status"] = obj["status"]
        return copy.deepcopy(self.nodes[name])

    def put(self, _path, obj):
        return obj


def run_kubelet(tmp_path, monkeypatch, api, labels=None, taints=()):
    class NoPods:
        removed = []
        pods = {}
    monkeypatch.setenv("IRONSTONE_STANDIN_ROOT", str(tmp_path))
    node_ = kubelet.Kubelet("w-1", "10.0.0.21", labels or kn.default_labels("w-1"), list(taints), dict(kc.DEFAULTS), lambda: api, NoPods(),
                            crictl=lambda args: (0, "RuntimeName: containerd\nRuntimeVersion: 1.7.24\n", ""))
    return node_


def ready_of(api):
    return {c["type"]: c["status"] for c in api.nodes["w-1"]["status"]["conditions"]}["Ready"]


def test_install_cni_writes_calicos_configuration_once(tmp_path, monkeypatch, capsys):
    api = FakeApi()
    node_ = run_kubelet(tmp_path, monkeypatch, api, taints=[{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}])
    conf = tmp_path / "etc" / "cni" / "net.d" / "10-calico.conflist"
    node_.sync()
    assert api.ds_gets == 1 and not conf.exists() and ready_of(api) == "False"
    node_.sync()
    assert api.ds_gets == 2  # one GET a loop while there is no CNI configuration
    api.daemonset = calico_daemonset([{"name": "FELIX_IPINIPMTU", "value": "1440"}])
    capsys.readouterr()
    node_.sync()
    assert ready_of(api) == "True"  # the same status update sees the configuration
    assert stat.S_IMODE(conf.stat().st_mode) == 0o644 and os.listdir(conf.parent) == ["10-calico.conflist"]
    written = json.loads(conf.read_text())
    assert written == {"name": "k8s-pod-network", "cniVersion": "0.3.1", "plugins": [
        {"type": "calico", "log_level": "info", "datastore_type": "kubernetes", "nodename": "w-1", "mtu": 1440,
         "ipam": {"type": "calico-ipam", "assign_ipv4": "true"}, "policy": {"type": "k8s"},
         "kubernetes": {"kubeconfig": "/etc/cni/net.d/calico-kubeconfig"}},
        {"type": "bandwidth", "capabilities": {"bandwidth": True}},
        {"type": "portmap", "snat": True, "capabilities": {"portMappings": True}}]}
    lines = [line for line in capsys.readouterr().err.splitlines() if "install-cni" in line]
    assert len(lines) == 1 and lines[0].startswith("STAND-IN: wrote ") and str(conf) in lines[0]
    gets = api.ds_gets
    conf.write_text("{}")
    node_.sync()
    assert api.ds_gets == gets and conf.read_text() == "{}"  # a configuration exists: no GET, nothing rewritten


def test_no_install_cni_while_the_runtime_is_down(tmp_path, monkeypatch):
    api = FakeApi(calico_daemonset())
    node_ = run_kubelet(tmp_path, monkeypatch, api)
    node_.crictl = lambda args: (1, "", "connection refused")
    node_.sync()
    assert api.ds_gets == 0 and not (tmp_path / "etc" / "cni" / "net.d").exists() and ready_of(api) == "False"
    node_.crictl = lambda args: (0, "RuntimeName: containerd\nRuntimeVersion: 1.7.24\n", "")
    node_.sync()
    assert api.ds_gets == 1 and ready_of(api) == "True"


def test_an_existing_cni_configuration_is_left_alone(tmp_path, monkeypatch):
    (tmp_path / "etc" / "cni" / "net.d").mkdir(parents=True)
    (tmp_path / "etc" / "cni" / "net.d" / "10-flannel.conflist").write_text("{}")
    api = FakeApi(calico_daemonset())
    node_ = run_kubelet(tmp_path, monkeypatch, api)
    node_.sync()
    assert api.ds_gets == 0 and not (tmp_path / "etc" / "cni" / "net.d" / "10-calico.conflist").exists() and ready_of(api) == "True"


CONTROL_PLANE = [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]


@pytest.mark.parametrize("labels, taints, pod_spec", [
    ({"kubernetes.io/hostname": "w-1", "kubernetes.io/os": "windows"}, (), None),  # the nodeSelector does not match
    (None, CONTROL_PLANE, {"tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists"}]}),  # a taint not tolerated
    (None, (), {"tolerations": []}),  # NotReady (no CNI yet) and nothing tolerates not-ready:NoSchedule
])
def test_no_configuration_where_calico_node_would_not_run(tmp_path, monkeypatch, labels, taints, pod_spec):
    api = FakeApi(calico_daemonset(pod_spec=pod_spec))
    node_ = run_kubelet(tmp_path, monkeypatch, api, labels=labels, taints=taints)
    node_.sync()
    node_.sync()
    assert api.ds_gets == 2 and not (tmp_path / "etc" / "cni" / "net.d").exists() and ready_of(api) == "False"
    # the same DaemonSet, tolerating everything on a matching node: written
    if labels is None:
        api.daemonset = calico_daemonset()
        node_.sync()
        assert ready_of(api) == "True"


def test_the_write_is_atomic(tmp_path, monkeypatch):
    path = kn.write_calico_conflist(str(tmp_path / "net.d"), "n1", 0)
    with open(path, encoding="utf-8") as handle:
        assert json.load(handle)["plugins"][0]["nodename"] == "n1"

    def broken(*_args):
        raise OSError("disk full")
    monkeypatch.setattr(kn.os, "replace", broken)
    with pytest.raises(OSError):
        kn.write_calico_conflist(str(tmp_path / "net.d"), "n2", 0)
    assert os.listdir(tmp_path / "net.d") == ["10-calico.conflist"]  # the old file intact, no temporary file left
    with open(path, encoding="utf-8") as handle:
        assert json.load(handle)["plugins"][0]["nodename"] == "n1"
