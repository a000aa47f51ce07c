"""Calico's Installation and APIServer as the collection renders them, checked against the tigera
operator's real CRD schemas (../shared/crds, or IRONSTONE_CRDS_DIR): unknown fields refused as the API
server refuses them, enums enforced, and the CRDs' x-kubernetes-validations rules run with a CEL
evaluator."""

import copy
import functools
import os

import pytest
import yaml

from ansible_collections.ironstone.k8s.plugins.module_utils import calico

jsonschema = pytest.importorskip("jsonschema")
celpy = pytest.importorskip("celpy")

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
CRDS_DIR = os.environ.get("IRONSTONE_CRDS_DIR") or os.path.join(ROOT, "..", "shared", "crds")
OPERATOR_DIR = os.path.join(CRDS_DIR, "tigera-operator-v1.42.4")


@functools.lru_cache(maxsize=None)
def _crd(name):
    path = os.path.join(OPERATOR_DIR, "operator.tigera.io_%s.yaml" % name)
    if not os.path.exists(path):
        pytest.skip("no CRD at %s: set IRONSTONE_CRDS_DIR to a directory holding tigera-operator-v1.42.4/" % path)
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _strict(node):
    """The openAPIV3Schema as JSON Schema, with undeclared properties refused (as the API server prunes or refuses them)."""
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key.startswith("x-kubernetes-") or key in ("description", "nullable"):
            continue
        if key == "properties":
            out[key] = dict((name, _strict(prop)) for name, prop in value.items())
        else:
            out[key] = _strict(value)
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if "properties" in node and "additionalProperties" not in node and not node.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out


def _rules(node, path=""):
    """(path, rule, message) of every x-kubernetes-validations rule of a schema."""
    found = []
    if isinstance(node, dict):
        for rule in node.get("x-kubernetes-validations", []):
            found.append((path, rule["rule"], rule.get("message", "")))
        for name, prop in (node.get("properties") or {}).items():
            found.extend(_rules(prop, path + "." + name))
    return found


def _at(obj, path):
    for name in [p for p in path.split(".") if p]:
        if not isinstance(obj, dict) or name not in obj:
            return None
        obj = obj[name]
    return obj


@functools.lru_cache(maxsize=None)
def _checker(kind_plural, version_name):
    """(JSON Schema validator, [(path, compiled CEL program, rule, message)]) of a CRD version."""
    crd = _crd(kind_plural)
    version = [v for v in crd["spec"]["versions"] if v["name"] == version_name]
    assert version, "the CRD does not serve %s" % version_name
    schema = version[0]["schema"]["openAPIV3Schema"]
    env = celpy.Environment()
    programs = [(path, env.program(env.compile(rule)), rule, message) for path, rule, message in _rules(schema)]
    return jsonschema.Draft7Validator(_strict(schema)), programs


def validate(kind_plural, obj):
    """Every schema error and failed CEL rule of ``obj`` against the CRD, as strings."""
    assert obj["kind"] == _crd(kind_plural)["spec"]["names"]["kind"]
    validator, programs = _checker(kind_plural, obj["apiVersion"].split("/")[1])
    errors = ["%s: %s" % ("/".join(str(p) for p in err.absolute_path), err.message) for err in validator.iter_errors(obj)]
    assert programs, "the CRD has no x-kubernetes-validations rule any more: check this test"
    for path, program, rule, message in programs:
        target = _at(obj, path)
        if target is None:
            continue
        result = program.evaluate({"self": celpy.json_to_cel(target)})
        if not bool(result):
            errors.append("%s: %s (%s)" % (path or "<root>", message, rule))
    return errors


BASE = {
    "version": "3.32.1",
    "network_mode": "vxlan-crosssubnet",
    "pod_subnet": "10.244.0.0/16",
    "ip_pools": [{}],
    "bgp": "",
    "mtu": 0,
    "linux_dataplane": "Iptables",
    "registry": "",
    "flex_volume_path": "",
    "node_address_autodetection_v4": {"kubernetes": "NodeInternalIP"},
    "installation_spec": {},
}


def settings(**changes):
    out = copy.deepcopy(BASE)
    out.update(changes)
    return out


# ------------------------------------------------------------------ the validator itself


def test_the_validator_refuses_an_unknown_field_a_bad_enum_and_a_bad_name():
    good = calico.installation(settings())
    assert validate("installations", good) == []
    unknown = copy.deepcopy(good)
    unknown["spec"]["calicoVersion"] = "v3.26.1"
    assert any("calicoVersion" in e for e in validate("installations", unknown))
    bad_enum = copy.deepcopy(good)
    bad_enum["spec"]["calicoNetwork"]["ipPools"][0]["encapsulation"] = "VXLANAlways"
    assert any("VXLANAlways" in e for e in validate("installations", bad_enum))
    renamed = copy.deepcopy(good)
    renamed["metadata"]["name"] = "calico"
    assert any("resource name must be" in e for e in validate("installations", renamed))
    nested = copy.deepcopy(good)
    nested["spec"]["calicoNetwork"]["ipPools"][0]["color"] = "blue"
    assert any("color" in e for e in validate("installations", nested))


# ------------------------------------------------------------------ Installation


@pytest.mark.parametrize("mode,bgp,encapsulation", [
    ("bgp", "Enabled", "None"),
    ("ipip", "Enabled", "IPIP"),
    ("ipip-crosssubnet", "Enabled", "IPIPCrossSubnet"),
    ("vxlan", "Disabled", "VXLAN"),
    ("vxlan-crosssubnet", "Disabled", "VXLANCrossSubnet"),
])
def test_every_network_mode_renders_a_valid_installation(mode, bgp, encapsulation):
    obj = calico.installation(settings(network_mode=mode))
    assert validate("installations", obj) == []
    network = obj["spec"]["calicoNetwork"]
    assert network["bgp"] == bgp
    assert [p["encapsulation"] for p in network["ipPools"]] == [encapsulation]
    assert network["ipPools"][0]["cidr"] == "10.244.0.0/16"
    assert network["nodeAddressAutodetectionV4"] == {"kubernetes": "NodeInternalIP"}
    assert obj["metadata"] == {"name": "default"}
    assert "calicoVersion" not in obj["spec"]


def test_the_network_modes_are_the_documented_ones():
    assert sorted(calico.NETWORK_MODES) == ["bgp", "ipip", "ipip-crosssubnet", "vxlan", "vxlan-crosssubnet"]


def test_every_setting_lands_in_its_field_and_stays_valid():
    obj = calico.installation(settings(
        network_mode="ipip", bgp="Enabled", mtu=1400, linux_dataplane="Nftables", registry="mirror.example.com/",
        flex_volume_path="/usr/libexec/kubernetes/kubelet-plugins/volume/exec/nodeagent~uds",
        ip_pools=[{"blockSize": 24, "natOutgoing": "Disabled", "nodeSelector": "!has(edge)"},
                  {"name": "edge-pool", "cidr": "10.244.128.0/18", "encapsulation": "VXLAN", "nodeSelector": "has(edge)"}],
        node_address_autodetection_v4={"canReach": "172.30.0.1"},
        installation_spec={"calicoNetwork": {"hostPorts": "Disabled"}, "controlPlaneReplicas": 2}))
    assert validate("installations", obj) == []
    spec = obj["spec"]
    assert spec["registry"] == "mirror.example.com/"
    assert spec["flexVolumePath"].endswith("nodeagent~uds")
    assert spec["controlPlaneReplicas"] == 2
    network = spec["calicoNetwork"]
    assert (network["bgp"], network["mtu"], network["linuxDataplane"], network["hostPorts"]) == ("Enabled", 1400, "Nftables", "Disabled")
    assert network["ipPools"] == [
        {"name": "default-ipv4-ippool", "cidr": "10.244.0.0/16", "blockSize": 24, "encapsulation": "IPIP",
         "natOutgoing": "Disabled", "nodeSelector": "!has(edge)"},
        {"name": "edge-pool", "cidr": "10.244.128.0/18", "blockSize": 26, "encapsulation": "VXLAN",
         "natOutgoing": "Enabled", "nodeSelector": "has(edge)"}]
    assert network["nodeAddressAutodetectionV4"] == {"canReach": "172.30.0.1"}


def test_mtu_zero_and_empty_strings_leave_the_fields_out():
    spec = calico.installation(settings())["spec"]
    assert "mtu" not in spec["calicoNetwork"]
    assert "registry" not in spec and "flexVolumePath" not in spec


@pytest.mark.parametrize("changes,expected", [
    ({"installation_spec": {"calicoVersion": "v3.26.1"}}, "calico_installation_spec.calicoVersion: there is no spec.calicoVersion"),
    ({"ip_pools": [{"encapsulation": "VXLANAlways"}]}, "calico_ip_pools[0].encapsulation is 'VXLANAlways'"),
    ({"ip_pools": [{"natOutgoing": True}]}, "calico_ip_pools[0].natOutgoing is True"),
    ({"ip_pools": [{"colour": "red"}]}, "calico_ip_pools[0] has colour, which the Installation CRD does not know"),
    ({"ip_pools": [{"cidr": "10.96.0.0/16"}]}, "calico_ip_pools[0].cidr 10.96.0.0/16 is outside kube_pod_subnet 10.244.0.0/16"),
    ({"ip_pools": [{"cidr": "10.244.0.1/16"}]}, "calico_ip_pools[0].cidr: '10.244.0.1/16' is not a network address"),
    ({"ip_pools": [{}, {}]}, "calico_ip_pools[1] has no cidr"),
    ({"ip_pools": [{"blockSize": 33}]}, "calico_ip_pools[0].blockSize is 33"),
    ({"ip_pools": [{"cidr": "10.244.0.0/24", "blockSize": 20}]}, "blockSize 20 is larger than the pool"),
    ({"ip_pools": [{"name": "a"}, {"name": "a", "cidr": "10.244.1.0/24"}]}, "names the pool 'a' more than once"),
    ({"ip_pools": []}, "calico_ip_pools must be a list of at least one pool"),
    ({"network_mode": "overlay"}, "calico_network_mode is 'overlay'"),
    ({"bgp": "On"}, "calico_bgp is 'On'"),
    ({"network_mode": "ipip", "bgp": "Disabled"}, "calico_ip_pools[0] uses IPIP encapsulation with BGP disabled"),
    ({"ip_pools": [{"encapsulation": "None"}]}, "calico_ip_pools[0] uses None encapsulation with BGP disabled"),
    ({"mtu": 100}, "calico_mtu is 100"),
    ({"linux_dataplane": "ebpf"}, "calico_linux_dataplane is 'ebpf'"),
    ({"registry": "mirror.example.com"}, "calico_registry is 'mirror.example.com'; the operator needs a registry that ends in '/'"),
    ({"node_address_autodetection_v4": {}}, "calico_node_address_autodetection_v4 is {}"),
    ({"version": "3.26.1"}, "calico_version '3.26.1' is not in the collection's release table"),
    ({"pod_subnet": "10.244.0.0/33"}, "kube_pod_subnet: '10.244.0.0/33' is not a network address"),
])
def test_bad_settings_are_refused_naming_the_variable(changes, expected):
    found = calico.problems(settings(**changes))
    assert found, changes
    assert any(expected in message for message in found), found
    with pytest.raises(calico.CalicoError):
        calico.installation(settings(**changes))


def test_good_settings_have_no_problems():
    assert calico.problems(settings()) == []


# ------------------------------------------------------------------ APIServer


def test_the_apiserver_is_valid_and_named_default():
    obj = calico.apiserver()
    assert validate("apiservers", obj) == []
    renamed = copy.deepcopy(obj)
    renamed["metadata"]["name"] = "mine"
    assert validate("apiservers", renamed)


# ------------------------------------------------------------------ the release table


def test_known_versions_map_to_their_operator_release():
    assert calico.calico_release("3.32.1") == {"operator": "1.42.4", "calico": "3.32.1",
                                               "manifests": ["operator-crds.yaml", "tigera-operator.yaml"]}
    assert calico.calico_release("v3.31.3")["operator"] == "1.40.3"


@pytest.mark.parametrize("version", ["3.26.1", "3.32", "latest", None, "", "v3.32.1.1"])
def test_unknown_versions_are_refused_with_the_known_ones(version):
    with pytest.raises(calico.CalicoError) as err:
        calico.calico_release(version)
    assert "3.31.2, 3.31.3, 3.31.6, 3.32.1" in str(err.value)


def test_the_table_is_well_formed():
    for version, entry in calico.RELEASES.items():
        assert [int(x) for x in version.split(".")] and len(version.split(".")) == 3
        assert len(entry["operator"].split(".")) == 3 and entry["operator"].startswith("1.")
    operators = [calico.RELEASES[v]["operator"] for v in sorted(calico.RELEASES, key=lambda v: [int(x) for x in v.split(".")])]
    assert operators == sorted(operators, key=lambda v: [int(x) for x in v.split(".")]), "a newer Calico needs a newer operator"


# ------------------------------------------------------------------ manifests


DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "tigera-operator", "namespace": "tigera-operator"},
              "spec": {"template": {"spec": {"containers": [{"name": "tigera-operator", "image": "quay.io/tigera/operator:v1.42.4"}]}}}}
NAMESPACE = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tigera-operator"}}
CRD = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "installations.operator.tigera.io"}}


def test_manifest_objects_drop_empty_documents_and_mirror_the_operator_image():
    objects = calico.manifest_objects([None, NAMESPACE, {}, DEPLOYMENT], "mirror.example.com:5000/")
    assert [o["kind"] for o in objects] == ["Namespace", "Deployment"]
    assert objects[1]["spec"]["template"]["spec"]["containers"][0]["image"] == "mirror.example.com:5000/tigera/operator:v1.42.4"
    assert DEPLOYMENT["spec"]["template"]["spec"]["containers"][0]["image"] == "quay.io/tigera/operator:v1.42.4"
    assert calico.manifest_objects([DEPLOYMENT])[0] == DEPLOYMENT


def test_a_manifest_document_that_is_not_an_object_is_refused():
    with pytest.raises(calico.CalicoError):
        calico.manifest_objects(["just text"])
    with pytest.raises(calico.CalicoError):
        calico.manifest_objects([{"kind": "Namespace"}])


@pytest.mark.parametrize("image,expected", [
    ("quay.io/tigera/operator:v1.42.4", "m.example/tigera/operator:v1.42.4"),
    ("tigera/operator:v1.42.4", "m.example/tigera/operator:v1.42.4"),
    ("localhost/operator:1", "m.example/operator:1"),
    ("registry:5000/a/b:1", "m.example/a/b:1"),
])
def test_mirror_image(image, expected):
    assert calico.mirror_image(image, "m.example/") == expected


def test_objects_in_a_namespace_the_manifests_create_wait_in_check_mode():
    ready, pending = calico.split_by_namespace([CRD, NAMESPACE, DEPLOYMENT], ["default", "kube-system"])
    assert (ready, pending) == ([CRD, NAMESPACE], [DEPLOYMENT])
    ready, pending = calico.split_by_namespace([CRD, NAMESPACE, DEPLOYMENT], ["tigera-operator"])
    assert (ready, pending) == ([CRD, NAMESPACE, DEPLOYMENT], [])


def test_sources_name_each_manifest_and_its_stand_in():
    found = calico.sources("3.32.1", "https://mirror.example/calico/", "http://lab:8099")
    assert found == [
        {"stage": "calico", "variable": "calico_manifest_base_url", "name": "operator-crds.yaml",
         "url": "https://mirror.example/calico/operator-crds.yaml",
         "standin_url": "http://lab:8099/calico/v3.32.1/manifests/operator-crds.yaml"},
        {"stage": "calico", "variable": "calico_manifest_base_url", "name": "tigera-operator.yaml",
         "url": "https://mirror.example/calico/tigera-operator.yaml",
         "standin_url": "http://lab:8099/calico/v3.32.1/manifests/tigera-operator.yaml"}]
    assert [s["standin_url"] for s in calico.sources("3.32.1", "https://x")] == ["", ""]
