"""Unit tests of the kube-apiserver STAND-IN's validation (lab/standin/apiserver/validation.py)."""
import copy
import os
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from lab.standin.apiserver import validation as v  # noqa: E402  pylint: disable=wrong-import-position
from lab.standin.version import minor  # noqa: E402  pylint: disable=wrong-import-position

yaml = pytest.importorskip("yaml")

needs_schemas = pytest.mark.skipif(v.schema_directory() is None, reason="kubernetes-validate is not installed")

# The upstream CRDs sit next to the project (../shared/crds); a git worktree of it one level deeper.
CRDS_DIR = os.environ.get("IRONSTONE_CRDS_DIR") or next(
    (d for d in (os.path.join(ROOT, "..", "shared", "crds"), os.path.join(ROOT, "..", "..", "shared", "crds"))
     if os.path.isdir(d)), os.path.join(ROOT, "..", "shared", "crds"))
INSTALLATION_CRD = os.path.join(CRDS_DIR, "tigera-operator-v1.42.4", "operator.tigera.io_installations.yaml")


_CACHE = {}


def _installation_schema():
    if not os.path.isfile(INSTALLATION_CRD):
        pytest.skip("the tigera operator's CRDs are not at %s (set IRONSTONE_CRDS_DIR)" % CRDS_DIR)
    if "installation" not in _CACHE:
        with open(INSTALLATION_CRD, encoding="utf-8") as handle:
            crd = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        _CACHE["installation"] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return copy.deepcopy(_CACHE["installation"])


def _deployment():
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
                     "template": {"metadata": {"labels": {"app": "web", "tier": "front"}}, "spec": {
                         "containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}],
                                         "resources": {"limits": {"cpu": "500m", "memory": 1073741824}}}],
                         "nodeSelector": {"kubernetes.io/os": "linux"}}}}}


# ---------------------------------------------------------------- schemas

@needs_schemas
def test_builtin_schema_lookup_and_cache():
    schema = v.builtin_schema("apps/v1", "Deployment")
    assert schema is v.builtin_schema("apps/v1", "Deployment")
    assert "$defs" in schema and "spec" in schema["properties"]
    assert v.builtin_schema("v1", "ConfigMap") is not None
    assert v.builtin_schema("storage.k8s.io/v1", "StorageClass") is not None
    assert v.builtin_schema("rbac.authorization.k8s.io/v1", "ClusterRole") is not None
    assert v.builtin_schema("apps.example.com/v1", "Deployment") is None
    assert v.builtin_schema("operator.tigera.io/v1", "Installation") is None
    assert v.builtin_schema("v1", "NoSuchKind") is None
    assert "v1.%d.0-local" % minor() in v.schema_directory()
    containers = v.property_schema(v.property_schema(v.property_schema(
        v.property_schema(schema, "spec", schema), "template", schema), "spec", schema), "containers", schema)
    assert containers["x-kubernetes-patch-merge-key"] == "name"


# ---------------------------------------------------------------- built-in kinds

@needs_schemas
def test_valid_builtin_objects_pass():
    objects = [
        _deployment(),
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kubeadm-config", "namespace": "kube-system"},
         "data": {"ClusterConfiguration": "apiVersion: kubeadm.k8s.io/v1beta4\n"}},
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "cp-1", "labels": {
            "node-role.kubernetes.io/control-plane": "", "kubernetes.io/hostname": "cp-1"}},
         "spec": {"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]},
         "status": {"capacity": {"cpu": "2", "memory": "4Gi"}, "conditions": [{"type": "Ready", "status": "True"}]}},
        {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "local-storage"},
         "provisioner": "kubernetes.io/no-provisioner", "volumeBindingMode": "WaitForFirstConsumer", "reclaimPolicy": "Retain"},
        {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv-1"},
         "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"], "local": {"path": "/mnt/disk1"},
                  "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                      {"key": "kubernetes.io/hostname", "operator": "In", "values": ["w-1"]}]}]}}}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tigera-operator"}},
    ]
    for obj in objects:
        cleaned, warnings, errors = v.validate_builtin(obj, "Strict")
        assert (warnings, errors) == ([], []), obj["kind"]
        assert cleaned == obj


@needs_schemas
def test_deployment_unknown_fields_follow_field_validation():
    obj = _deployment()
    obj["spec"]["replcas"] = 3
    obj["spec"]["template"]["spec"]["containers"][0]["imagee"] = "typo"
    # in the order of the document, as the real server's strict decoder reports them
    unknown = ['unknown field "spec.template.spec.containers[0].imagee"', 'unknown field "spec.replcas"']
    cleaned, warnings, errors = v.validate_builtin(obj, "Strict")
    assert errors == unknown and warnings == []
    cleaned, warnings, errors = v.validate_builtin(obj, "Warn")
    assert warnings == unknown and errors == []
    assert "replcas" not in cleaned["spec"] and "imagee" not in cleaned["spec"]["template"]["spec"]["containers"][0]
    assert cleaned == _deployment()
    cleaned, warnings, errors = v.validate_builtin(obj, "Ignore")
    assert (warnings, errors) == ([], []) and cleaned == _deployment()
    assert "replcas" in obj["spec"]  # the input is not modified
    assert v.unknown_fields(obj, v.builtin_schema("apps/v1", "Deployment")) == [
        "spec.template.spec.containers[0].imagee", "spec.replcas"]
    with pytest.raises(ValueError):
        v.validate_builtin(obj, "Lenient")


@needs_schemas
def test_deployment_type_error_is_always_an_error():
    obj = _deployment()
    obj["spec"]["replicas"] = "three"
    for mode in ("Strict", "Warn", "Ignore"):
        dummy, dummy, errors = v.validate_builtin(obj, mode)
        assert errors == ['spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"']
    obj = _deployment()
    obj["spec"]["strategy"]["rollingUpdate"]["maxSurge"] = True  # int-or-string
    dummy, dummy, errors = v.validate_builtin(obj, "Strict")
    assert errors == ['spec.strategy.rollingUpdate.maxSurge: Invalid value: "boolean": spec.strategy.rollingUpdate.maxSurge '
                      'in body must be of type integer,string: "boolean"']


@needs_schemas
def test_deployment_required_and_semantic_rules():
    obj = _deployment()
    obj["spec"]["selector"] = {"matchLabels": {"app": "db"}}
    dummy, dummy, errors = v.validate_builtin(obj, "Strict")
    assert errors == ['spec.template.metadata.labels: Invalid value: map[string]string{"app":"web", "tier":"front"}: '
                      '`selector` does not match template `labels`']
    obj["spec"]["selector"] = {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "back"]}]}
    assert v.validate_builtin(obj, "Strict")[2] == []
    del obj["spec"]["selector"]
    del obj["spec"]["template"]["spec"]["containers"][0]["name"]
    dummy, dummy, errors = v.validate_builtin(obj, "Strict")
    assert "spec.selector: Required value" in errors
    assert "spec.template.spec.containers[0].name: Required value" in errors
    obj = _deployment()
    obj["spec"]["replicas"] = -1
    obj["spec"]["template"]["spec"]["containers"][0]["image"] = ""
    dummy, dummy, errors = v.validate_builtin(obj, "Strict")
    assert errors == ["spec.replicas: Invalid value: -1: must be greater than or equal to 0",
                      "spec.template.spec.containers[0].image: Required value"]


@needs_schemas
def test_tolerations_are_validated():
    obj = _deployment()
    path = "spec.template.spec.tolerations"
    good = [{"operator": "Exists"}, {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"},
            {"key": "a", "value": "b", "effect": "NoExecute", "tolerationSeconds": 30}, {"key": "a", "operator": "Equal", "value": "b"}]
    obj["spec"]["template"]["spec"]["tolerations"] = good
    assert not v.validate_builtin(obj, "Strict")[2]
    obj["spec"]["template"]["spec"]["tolerations"] = [
        {"operator": "Equal", "value": "x"}, {"key": "a", "operator": "Exists", "value": "b"}, {"key": "a", "operator": "Gt", "value": "1"},
        {"key": "a", "operator": "Exists", "effect": "Sometimes"}, {"key": "a", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 5},
        {"key": "bad key!", "operator": "Exists"}]
    errors = v.validate_builtin(obj, "Strict")[2]
    assert errors[0] == (f'{path}[0].operator: Invalid value: "Equal": operator must be Exists when `key` is empty, which means '
                         '"match all values and all keys"')
    assert errors[1] == f'{path}[1].operator: Invalid value: "b": value must be empty when `operator` is \'Exists\''
    assert errors[2] == f'{path}[2].operator: Unsupported value: "Gt": supported values: "Equal", "Exists"'
    assert errors[3] == f'{path}[3].effect: Unsupported value: "Sometimes": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"'
    assert errors[4] == f'{path}[4].effect: Invalid value: "NoSchedule": effect must be \'NoExecute\' when `tolerationSeconds` is set'
    assert errors[5].startswith(f'{path}[5].key: Invalid value: "bad key!": ') and len(errors) == 6


@needs_schemas
def test_local_persistent_volume_needs_node_affinity():
    obj = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv-1"},
           "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"], "local": {"path": "/mnt/disk1"}}}
    assert v.validate_builtin(obj, "Strict")[2] == ["spec.nodeAffinity: Required value: Local volume requires node affinity"]
    obj["spec"] = {"capacity": {"storage": "1Gi"}, "hostPath": {"path": "/x"}}
    assert v.validate_builtin(obj, "Strict")[2] == []


@needs_schemas
def test_storage_class_enums():
    obj = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "sc"},
           "provisioner": "kubernetes.io/no-provisioner", "volumeBindingMode": "Lazy", "reclaimPolicy": "Recycle"}
    assert v.validate_builtin(obj, "Strict")[2] == [
        'reclaimPolicy: Unsupported value: "Recycle": supported values: "Delete", "Retain"',
        'volumeBindingMode: Unsupported value: "Lazy": supported values: "Immediate", "WaitForFirstConsumer"']
    del obj["provisioner"]
    obj["volumeBindingMode"] = "Immediate"
    obj["reclaimPolicy"] = "Delete"
    assert v.validate_builtin(obj, "Strict")[2] == ["provisioner: Required value"]


@needs_schemas
def test_node_labels_and_taints():
    obj = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "w-1", "labels": {
        "ironstone.k8s/pool": "has space", "bad/key/x": "ok"}},
        "spec": {"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedules"}]}}
    errors = v.validate_builtin(obj, "Strict")[2]
    assert errors[0].startswith('metadata.labels: Invalid value: "has space": a valid label must be an empty string or consist '
                                "of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
                                "character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is ")
    assert errors[1].startswith('metadata.labels: Invalid value: "bad/key/x": a qualified name must consist of')
    assert errors[2] == ('spec.taints[0].effect: Unsupported value: "NoSchedules": supported values: "NoSchedule", '
                         '"PreferNoSchedule", "NoExecute"')
    assert len(errors) == 3


@needs_schemas
def test_configmap_keys():
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"bad key": "x", "ok.key": "y"}}
    assert v.validate_builtin(obj, "Strict")[2] == [
        "data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, '-', '_' or "
        "'.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"]


def test_unknown_builtin_kind_passes_unchanged():
    obj = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"x": 1}}
    assert v.validate_builtin(obj, "Strict") == (obj, [], [])


# ---------------------------------------------------------------- metadata

@pytest.mark.parametrize("obj, namespaced, errors", [
    ({"kind": "ConfigMap", "metadata": {"name": "ok.name-1"}}, True, []),
    ({"kind": "ConfigMap", "metadata": {"generateName": "x-"}}, True, []),
    ({"kind": "ConfigMap", "metadata": {}}, True, ["metadata.name: Required value: name or generateName is required"]),
    ({"kind": "ConfigMap", "metadata": {"name": "Bad_Name"}}, True, [
        'metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric '
        "characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
        "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"]),
    ({"kind": "Namespace", "metadata": {"name": "a.b"}}, False, [
        'metadata.name: Invalid value: "a.b": a lowercase RFC 1123 label must consist of lower case alphanumeric characters '
        "or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
        "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"]),
    ({"kind": "Service", "metadata": {"name": "1abc"}}, True, [
        'metadata.name: Invalid value: "1abc": a DNS-1035 label must consist of lower case alphanumeric characters or '
        "'-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
        "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"]),
    ({"kind": "ClusterRole", "metadata": {"name": "system:node"}}, False, []),
    ({"kind": "ClusterRole", "metadata": {"name": "a/b"}}, False, ["metadata.name: Invalid value: \"a/b\": may not contain '/'"]),
    ({"kind": "ConfigMap", "metadata": {"name": "c", "namespace": "Kube_System"}}, True, [
        'metadata.namespace: Invalid value: "Kube_System": a lowercase RFC 1123 label must consist of lower case '
        "alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
        "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"]),
    ({"kind": "Node", "metadata": {"name": "n", "namespace": "Whatever"}}, False, []),
])
def test_validate_metadata_names(obj, namespaced, errors):
    assert v.validate_metadata(obj, namespaced) == errors


def test_validate_metadata_lengths():
    long_name = "a" * 254
    assert v.validate_metadata({"kind": "Pod", "metadata": {"name": long_name}}, True) == [
        'metadata.name: Invalid value: "%s": must be no more than 253 characters' % long_name]
    labels = {"example.com/" + "k" * 64: "v" * 64, "a" * 254 + "/k": ""}
    errors = v.validate_metadata({"kind": "Pod", "metadata": {"name": "p", "labels": labels}}, True)
    assert errors[0].endswith("name part must be no more than 63 characters")
    assert errors[1].endswith(": must be no more than 63 characters") and '"' + "v" * 64 + '"' in errors[1]
    assert errors[2].endswith("prefix part must be no more than 253 characters")
    assert len(errors) == 3
    annotations = {"big": "x" * (256 * 1024)}
    assert v.validate_metadata({"kind": "Pod", "metadata": {"name": "p", "annotations": annotations}}, True) == [
        "metadata.annotations: Too long: must have at most 262144 bytes"]
    annotations = {"big": "x" * (256 * 1024 - 3)}
    assert v.validate_metadata({"kind": "Pod", "metadata": {"name": "p", "annotations": annotations}}, True) == []


# ---------------------------------------------------------------- custom resources

def _installation():
    return {"apiVersion": "operator.tigera.io/v1", "kind": "Installation", "metadata": {"name": "default"},
            "spec": {"variant": "Calico", "registry": "quay.io/",
                     "calicoNetwork": {"bgp": "Disabled", "linuxDataplane": "Iptables",
                                       "ipPools": [{"name": "default-ipv4-ippool", "cidr": "10.244.0.0/16",
                                                    "encapsulation": "VXLAN", "natOutgoing": "Enabled",
                                                    "nodeSelector": "all()", "blockSize": 26}]},
                     "controlPlaneReplicas": 1,
                     "controlPlaneTolerations": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]}}


def test_valid_installation_passes_with_defaults_applied():
    schema = _installation_schema()
    cleaned, warnings, errors = v.validate_custom(_installation(), schema, "Strict")
    assert (warnings, errors) == ([], [])
    expected = _installation()
    expected["spec"]["calicoNetwork"]["ipPools"][0]["disableBGPExport"] = False  # the schema's default
    assert cleaned == expected
    assert v.validate_custom(_installation(), schema, "Strict", apply_defaults=False)[0] == _installation()


def test_installation_unknown_field():
    schema = _installation_schema()
    obj = _installation()
    obj["spec"]["calicoVersion"] = "v3.32.1"
    obj["metadata"]["labelz"] = {"a": "b"}
    cleaned, warnings, errors = v.validate_custom(obj, schema, "Strict")
    assert errors == ['unknown field "spec.calicoVersion"', 'unknown field "metadata.labelz"'] and warnings == []
    cleaned, warnings, errors = v.validate_custom(obj, schema, "Warn")
    assert warnings == ['unknown field "spec.calicoVersion"', 'unknown field "metadata.labelz"'] and errors == []
    assert "calicoVersion" not in cleaned["spec"] and "labelz" not in cleaned["metadata"]
    cleaned, warnings, errors = v.validate_custom(obj, schema, "Ignore")
    assert (warnings, errors) == ([], []) and "calicoVersion" not in cleaned["spec"]
    assert v.unknown_fields(obj, schema) == ["spec.calicoVersion"]


def test_installation_value_errors():
    schema = _installation_schema()
    obj = _installation()
    pool = obj["spec"]["calicoNetwork"]["ipPools"][0]
    pool["encapsulation"] = "Bogus"
    pool["blockSize"] = "26"
    obj["spec"]["calicoNetwork"]["bgp"] = "On"
    obj["spec"]["calicoNetwork"]["ipPools"].append({"encapsulation": "IPIP"})
    dummy, dummy, errors = v.validate_custom(obj, schema, "Strict")
    assert errors == [
        'spec.calicoNetwork.bgp: Unsupported value: "On": supported values: "Enabled", "Disabled"',
        'spec.calicoNetwork.ipPools[0].encapsulation: Unsupported value: "Bogus": supported values: "IPIPCrossSubnet", '
        '"IPIP", "VXLAN", "VXLANCrossSubnet", "None"',
        'spec.calicoNetwork.ipPools[0].blockSize: Invalid value: "string": spec.calicoNetwork.ipPools[0].blockSize in body '
        'must be of type integer: "string"',
        "spec.calicoNetwork.ipPools[1].cidr: Required value",
    ]


def test_custom_schema_keywords():
    schema = {"type": "object", "properties": {"spec": {"type": "object", "required": ["size"], "properties": {
        "size": {"type": "integer", "minimum": 1, "maximum": 10},
        "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 5},
        "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "port": {"x-kubernetes-int-or-string": True},
        "maybe": {"type": "string", "nullable": True},
        "gone": {"type": "string"},
    }}}}
    obj = {"apiVersion": "x.io/v1", "kind": "T", "metadata": {"name": "t"},
           "spec": {"size": 11, "name": "abcdef1", "tags": ["a", "b", "c"], "free": {"anything": {"goes": 1}},
                    "labels": {"a": "b", "c": 1}, "port": "http", "maybe": None, "gone": None}}
    cleaned, dummy, errors = v.validate_custom(obj, schema, "Strict")
    assert errors == [
        "spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10",
        "spec.name: Invalid value: \"abcdef1\": spec.name in body should match '^[a-z]+$'",
        "spec.name: Too long: may not be longer than 5",
        "spec.tags: Too many: 3: must have at most 2 items",
        'spec.labels.c: Invalid value: "integer": spec.labels.c in body must be of type string: "integer"',
    ]
    assert cleaned["spec"]["free"] == {"anything": {"goes": 1}}
    assert cleaned["spec"]["maybe"] is None and "gone" not in cleaned["spec"]  # null pruned unless nullable
    obj["spec"] = {"port": 8080}
    assert v.validate_custom(obj, schema, "Strict")[2] == ["spec.size: Required value"]
    obj["spec"] = {"size": 1, "port": [1]}
    assert v.validate_custom(obj, schema, "Strict")[2] == [
        'spec.port: Invalid value: "array": spec.port in body must be of type integer,string: "array"']
    obj["metadata"] = {"name": "Bad"}
    obj["spec"] = {"size": 1}
    errors = v.validate_custom(obj, schema, "Strict")[2]
    assert len(errors) == 1 and errors[0].startswith('metadata.name: Invalid value: "Bad": a lowercase RFC 1123 subdomain')
    assert v.validate_custom(obj, schema, "Strict", check_metadata=False)[2] == []


def test_custom_object_without_properties_allows_nothing():
    schema = {"type": "object", "properties": {"spec": {"type": "object"}}}
    obj = {"apiVersion": "x.io/v1", "kind": "T", "metadata": {"name": "t"}, "spec": {"a": 1}, "extra": 2}
    cleaned, dummy, errors = v.validate_custom(obj, schema, "Strict")
    assert errors == ['unknown field "spec.a"', 'unknown field "extra"']
    assert cleaned == {"apiVersion": "x.io/v1", "kind": "T", "metadata": {"name": "t"}, "spec": {}}
    assert obj["spec"] == {"a": 1} and obj["extra"] == 2  # the input is not modified
