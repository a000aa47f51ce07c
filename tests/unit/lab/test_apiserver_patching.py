"""Unit tests of the kube-apiserver STAND-IN's patching and field management (lab/standin/apiserver/patching.py)."""
import copy
import os
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from lab.standin.apiserver import patching as p  # noqa: E402  pylint: disable=wrong-import-position
from lab.standin.apiserver import validation as v  # noqa: E402  pylint: disable=wrong-import-position

needs_schemas = pytest.mark.skipif(v.schema_directory() is None, reason="kubernetes-validate is not installed")


# ---------------------------------------------------------------- RFC 7386 merge patch

@pytest.mark.parametrize("target, patch, result", [
    # the examples of RFC 7386 appendix A
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
])
def test_merge_patch_rfc7386_examples(target, patch, result):
    assert p.json_merge_patch(target, patch) == result


def test_merge_patch_does_not_mutate():
    target = {"metadata": {"labels": {"a": "1"}}, "data": {"x": "1"}}
    patch = {"metadata": {"labels": {"b": "2"}}, "data": None}
    before_t, before_p = copy.deepcopy(target), copy.deepcopy(patch)
    assert p.json_merge_patch(target, patch) == {"metadata": {"labels": {"a": "1", "b": "2"}}}
    assert target == before_t and patch == before_p


# ---------------------------------------------------------------- RFC 6902 JSON patch

def test_json_patch_operations():
    doc = {"foo": ["bar", "baz"], "a": {"b": 1}, "q": {"x": 1}}
    ops = [
        {"op": "add", "path": "/foo/1", "value": "qux"},
        {"op": "add", "path": "/foo/-", "value": "end"},
        {"op": "remove", "path": "/a/b"},
        {"op": "replace", "path": "/q/x", "value": 2},
        {"op": "copy", "from": "/q", "path": "/r"},
        {"op": "move", "from": "/foo/0", "path": "/first"},
        {"op": "test", "path": "/r/x", "value": 2},
        {"op": "add", "path": "/m~1n", "value": True},
        {"op": "test", "path": "/m~1n", "value": True},
    ]
    assert p.json_patch(doc, ops) == {"foo": ["qux", "baz", "end"], "a": {}, "q": {"x": 2}, "r": {"x": 2},
                                      "first": "bar", "m/n": True}
    assert doc == {"foo": ["bar", "baz"], "a": {"b": 1}, "q": {"x": 1}}


def test_json_patch_test_failure_message_and_atomicity():
    doc = {"metadata": {"labels": {"app": "web"}}}
    with pytest.raises(p.PatchError) as err:
        p.json_patch(doc, [{"op": "add", "path": "/metadata/labels/x", "value": "1"},
                           {"op": "test", "path": "/metadata/labels/app", "value": "db"}])
    assert str(err.value) == "testing value /metadata/labels/app failed: test failed"
    assert doc == {"metadata": {"labels": {"app": "web"}}}


def test_json_patch_test_is_type_strict():
    with pytest.raises(p.PatchError):
        p.json_patch({"a": 1}, [{"op": "test", "path": "/a", "value": True}])
    assert p.json_patch({"a": 1}, [{"op": "test", "path": "/a", "value": 1.0}]) == {"a": 1}


@pytest.mark.parametrize("ops, message", [
    ([{"op": "remove", "path": "/a/zz"}], "error in remove for path: '/a/zz': Unable to remove nonexistent key: zz: missing value"),
    ([{"op": "add", "path": "/nope/x", "value": 1}], 'add operation does not apply: doc is missing path: "/nope/x": missing value'),
    ([{"op": "add", "path": "/l/5", "value": 1}],
     "error in add for path: '/l/5': Unable to access invalid index: 5: invalid index referenced"),
    ([{"op": "replace", "path": "/l/9", "value": 1}], "replace operation does not apply: doc is missing key: /l/9: missing value"),
    ([{"op": "move", "from": "/zz", "path": "/y"}],
     "error in move for path: 'zz': Unable to remove nonexistent key: zz: missing value"),
    ([{"op": "frob", "path": "/a"}], "Unexpected kind: frob"),
    ([{"op": "test", "path": "/a/missing", "value": 1}], "testing value /a/missing failed: test failed"),
])
def test_json_patch_errors(ops, message):
    with pytest.raises(p.PatchError) as err:
        p.json_patch({"a": {"b": 1}, "l": [1, 2]}, ops)
    assert str(err.value) == message


def test_json_patch_library_quirks():
    # negative indices count from the end; replace of a missing object key adds it (evanphx/json-patch v4)
    assert p.json_patch({"l": [1, 2, 3]}, [{"op": "remove", "path": "/l/-1"}]) == {"l": [1, 2]}
    assert p.json_patch({"a": {}}, [{"op": "replace", "path": "/a/new", "value": 1}]) == {"a": {"new": 1}}
    assert p.json_patch({"a": {}}, [{"op": "test", "path": "/a/missing", "value": None}]) == {"a": {}}


def test_json_patch_needs_a_list():
    with pytest.raises(p.PatchError, match="cannot unmarshal object"):
        p.json_patch({}, {"op": "add"})


# ---------------------------------------------------------------- strategic merge patch

def _deployment():
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default", "labels": {"a": "1"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                     "containers": [{"name": "web", "image": "nginx:1", "args": ["-a", "-b"],
                                     "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                                     "ports": [{"containerPort": 80, "protocol": "TCP"}]},
                                    {"name": "side", "image": "busybox"}],
                     "tolerations": [{"key": "x", "operator": "Exists"}],
                     "volumes": [{"name": "v1", "emptyDir": {}}]}}}}


@needs_schemas
def test_smp_merges_containers_by_name_and_replaces_atomic_lists():
    schema = v.builtin_schema("apps/v1", "Deployment")
    patch = {"metadata": {"labels": {"a": None, "b": "2"}},
             "spec": {"replicas": 3, "template": {"spec": {
                 "containers": [{"name": "web", "image": "nginx:2", "args": ["-c"], "env": [{"name": "C", "value": "3"}]},
                                {"name": "new", "image": "alpine"}],
                 "tolerations": [{"key": "y", "operator": "Exists"}]}}}}
    target = _deployment()
    result = p.strategic_merge_patch(target, patch, schema)
    assert target == _deployment()
    spec = result["spec"]["template"]["spec"]
    assert result["metadata"]["labels"] == {"b": "2"}
    assert result["spec"]["replicas"] == 3
    assert [c["name"] for c in spec["containers"]] == ["web", "side", "new"]
    web = spec["containers"][0]
    assert web["image"] == "nginx:2"
    assert web["args"] == ["-c"]  # atomic list: replaced
    assert web["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}, {"name": "C", "value": "3"}]
    assert web["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert spec["tolerations"] == [{"key": "y", "operator": "Exists"}]  # x-kubernetes-list-type atomic


@needs_schemas
def test_smp_looks_up_the_builtin_schema_when_none_given():
    result = p.strategic_merge_patch(_deployment(), {"spec": {"template": {"spec": {"containers": [
        {"name": "side", "image": "busybox:2"}]}}}}, None)
    assert [c["image"] for c in result["spec"]["template"]["spec"]["containers"]] == ["nginx:1", "busybox:2"]


@needs_schemas
def test_smp_patch_delete_and_replace_directives():
    schema = v.builtin_schema("apps/v1", "Deployment")
    result = p.strategic_merge_patch(_deployment(), {"spec": {"template": {"spec": {
        "containers": [{"name": "side", "$patch": "delete"},
                       {"name": "web", "env": [{"name": "A", "$patch": "delete"}]}],
        "volumes": [{"name": "v2", "hostPath": {"path": "/x"}}, {"$patch": "replace"}]}}}}, schema)
    spec = result["spec"]["template"]["spec"]
    assert [c["name"] for c in spec["containers"]] == ["web"]
    assert spec["containers"][0]["env"] == [{"name": "B", "value": "2"}]
    assert spec["volumes"] == [{"name": "v2", "hostPath": {"path": "/x"}}]
    replaced = p.strategic_merge_patch(_deployment(), {"metadata": {"labels": {"$patch": "replace", "z": "9"}}}, schema)
    assert replaced["metadata"]["labels"] == {"z": "9"}
    deleted = p.strategic_merge_patch(_deployment(), {"spec": {"selector": {"$patch": "delete"}}}, schema)
    assert "selector" not in deleted["spec"]


@needs_schemas
def test_smp_set_element_order_retain_keys_and_primitive_lists():
    schema = v.builtin_schema("apps/v1", "Deployment")
    result = p.strategic_merge_patch(_deployment(), {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "side"}, {"name": "web"}],
        "containers": [{"name": "side", "image": "busybox:2"}]}}}}, schema)
    assert [c["name"] for c in result["spec"]["template"]["spec"]["containers"]] == ["side", "web"]
    target = _deployment()
    target["spec"]["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}
    result = p.strategic_merge_patch(target, {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}, schema)
    assert result["spec"]["strategy"] == {"type": "Recreate"}
    target["metadata"]["finalizers"] = ["a/x"]
    result = p.strategic_merge_patch(target, {"metadata": {"finalizers": ["b/y"]}}, schema)
    assert result["metadata"]["finalizers"] == ["a/x", "b/y"]  # merge strategy without key: a set
    result = p.strategic_merge_patch(result, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a/x"]}}, schema)
    assert result["metadata"]["finalizers"] == ["b/y"]


@needs_schemas
def test_smp_errors():
    schema = v.builtin_schema("apps/v1", "Deployment")
    with pytest.raises(p.PatchError, match="not implemented by the stand-in"):
        p.strategic_merge_patch(_deployment(), {"spec": {"$frobnicate": 1}}, schema)
    with pytest.raises(p.PatchError, match="does not contain declared merge key: name"):
        p.strategic_merge_patch(_deployment(), {"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}, schema)


def test_smp_without_schema_replaces_lists_and_merges_maps():
    target = {"apiVersion": "example.com/v1", "kind": "Thing", "spec": {"items": [1, 2], "m": {"a": 1}}}
    result = p.strategic_merge_patch(target, {"spec": {"items": [3], "m": {"b": 2}}}, None)
    assert result["spec"] == {"items": [3], "m": {"a": 1, "b": 2}}


# ---------------------------------------------------------------- field sets

def test_fields_v1_round_trip():
    fields = {"f:data": {".": {}, "f:key": {}}, "f:metadata": {"f:labels": {"f:app": {}}},
              "f:spec": {"f:containers": {'k:{"name":"c"}': {".": {}, "f:image": {}}}}}
    paths = p.fields_to_set(fields)
    assert ("f:data",) in paths and ("f:data", "f:key") in paths and ("f:metadata",) not in paths
    assert p.set_to_fields(paths) == fields
    assert p.path_string(("f:spec", "f:containers", 'k:{"name":"c"}', "f:image")) == '.spec.containers[name="c"].image'
    assert p.path_string(("f:metadata", "f:finalizers", 'v:"a/b"')) == '.metadata.finalizers[="a/b"]'


# ---------------------------------------------------------------- server-side apply

def _configmap(**data):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "default", "labels": {"app": "x"}},
            "data": dict(data)}


def _stored(obj, rv="1"):
    """What the server stores: the object plus server-set metadata."""
    obj = copy.deepcopy(obj)
    obj["metadata"].update({"uid": "u-1", "resourceVersion": rv, "creationTimestamp": "2024-01-01T00:00:00Z"})
    return obj


@needs_schemas
def test_ssa_first_apply_owns_what_it_applied():
    obj, conflicts = p.server_side_apply(None, _configmap(key="v"), "ansible", False, None, "2024-01-01T00:00:00Z")
    assert conflicts == []
    assert obj["data"] == {"key": "v"}
    assert obj["metadata"]["managedFields"] == [{
        "manager": "ansible", "operation": "Apply", "apiVersion": "v1", "time": "2024-01-01T00:00:00Z",
        "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:key": {}}, "f:metadata": {"f:labels": {"f:app": {}}}}}]


@needs_schemas
def test_ssa_reapply_changes_nothing():
    first, dummy = p.server_side_apply(None, _configmap(key="v"), "ansible", False, None, "2024-01-01T00:00:00Z")
    live = _stored(first)
    again, conflicts = p.server_side_apply(live, _configmap(key="v"), "ansible", False, None, "2024-02-02T00:00:00Z")
    assert conflicts == []
    assert again == live
    assert again["metadata"]["managedFields"][0]["time"] == "2024-01-01T00:00:00Z"


@needs_schemas
def test_ssa_change_refreshes_time_and_drops_fields_no_longer_applied():
    first, dummy = p.server_side_apply(None, _configmap(key="v", old="o"), "ansible", False, None, "t1")
    second, conflicts = p.server_side_apply(_stored(first), _configmap(key="w"), "ansible", False, None, "t2")
    assert conflicts == []
    assert second["data"] == {"key": "w"}
    assert second["metadata"]["uid"] == "u-1"
    entry = second["metadata"]["managedFields"][0]
    assert entry["time"] == "t2"
    assert entry["fieldsV1"] == {"f:data": {"f:key": {}}, "f:metadata": {"f:labels": {"f:app": {}}}}


@needs_schemas
def test_ssa_keeps_removed_field_another_manager_owns():
    first, dummy = p.server_side_apply(None, _configmap(key="v", shared="s"), "ansible", False, None, "t1")
    live = _stored(first)
    edited = copy.deepcopy(live)
    edited["data"]["shared"] = "edited"
    live = p.update_managed_fields(live, edited, "kubectl-edit", "Update", "v1", "t2")
    result, conflicts = p.server_side_apply(live, _configmap(key="v"), "ansible", False, None, "t3")
    assert conflicts == []
    assert result["data"] == {"key": "v", "shared": "edited"}


@needs_schemas
def test_ssa_conflict_with_another_manager_and_force():
    created = _stored(p.update_managed_fields(None, _configmap(key="v"), "kubectl-client-side-apply", "Update", "v1", "t1"))
    result, conflicts = p.server_side_apply(created, _configmap(key="new"), "ansible", False, None, "t2")
    assert conflicts == ['conflict with "kubectl-client-side-apply" using v1: .data.key']
    assert result == created
    assert p.apply_conflict_message(conflicts) == (
        'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: .data.key')
    forced, conflicts = p.server_side_apply(created, _configmap(key="new"), "ansible", True, None, "t2")
    assert conflicts == []
    assert forced["data"] == {"key": "new"}
    owners = {e["manager"]: e["fieldsV1"] for e in forced["metadata"]["managedFields"]}
    assert owners["ansible"] == {"f:data": {"f:key": {}}, "f:metadata": {"f:labels": {"f:app": {}}}}
    # the Update manager loses data.key and keeps the rest (the data map itself, the label whose value the
    # configuration did not change: that one is now shared)
    assert owners["kubectl-client-side-apply"] == {"f:data": {}, "f:metadata": {"f:labels": {".": {}, "f:app": {}}}}


@needs_schemas
def test_ssa_same_value_is_shared_not_a_conflict():
    created = _stored(p.update_managed_fields(None, _configmap(key="v"), "kubectl-create", "Update", "v1", "t1"))
    result, conflicts = p.server_side_apply(created, _configmap(key="v"), "ansible", False, None, "t2")
    assert conflicts == []
    assert result["data"] == {"key": "v"}
    managers = [e["manager"] for e in result["metadata"]["managedFields"]]
    assert managers == ["ansible", "kubectl-create"]  # Apply entries sort before Update entries


@needs_schemas
def test_ssa_two_appliers_conflict_without_using():
    first, dummy = p.server_side_apply(None, _configmap(key="v"), "one", False, None, "t1")
    dummy, conflicts = p.server_side_apply(_stored(first), _configmap(key="w"), "two", False, None, "t2")
    assert conflicts == ['conflict with "one": .data.key']


@needs_schemas
def test_ssa_deployment_merges_containers_by_name_and_removes_unapplied_one():
    config = _deployment()
    first, dummy = p.server_side_apply(None, config, "ansible", False, None, "t1")
    fields = first["metadata"]["managedFields"][0]["fieldsV1"]
    containers = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert set(containers) == {'k:{"name":"web"}', 'k:{"name":"side"}'}
    assert containers['k:{"name":"web"}']["."] == {}
    assert fields["f:spec"]["f:selector"] == {}  # atomic map
    assert fields["f:spec"]["f:template"]["f:spec"]["f:tolerations"] == {}  # atomic list
    live = _stored(first)
    live["spec"]["template"]["spec"]["containers"][0]["terminationMessagePath"] = "/dev/termination-log"  # defaulted
    smaller = _deployment()
    smaller["spec"]["template"]["spec"]["containers"].pop()
    smaller["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    result, conflicts = p.server_side_apply(live, smaller, "ansible", False, None, "t2")
    assert conflicts == []
    containers = result["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["web"]
    assert containers[0]["image"] == "nginx:2"
    assert containers[0]["terminationMessagePath"] == "/dev/termination-log"


@needs_schemas
def test_ssa_ignores_status_and_server_fields_in_the_config():
    config = _configmap(key="v")
    config["metadata"]["resourceVersion"] = "42"
    config["status"] = {"x": 1}
    obj, dummy = p.server_side_apply(None, config, "m", False, None, "t")
    assert "status" not in obj and "resourceVersion" not in obj["metadata"]


@needs_schemas
def test_ssa_object_without_managed_fields_belongs_to_before_first_apply():
    live = _stored(_configmap(key="v"))
    dummy, conflicts = p.server_side_apply(live, _configmap(key="w"), "ansible", False, None, "t")
    assert conflicts == ['conflict with "before-first-apply" using v1: .data.key']


# ---------------------------------------------------------------- update_managed_fields

@needs_schemas
def test_update_managed_fields_create_update_and_no_change():
    created = p.update_managed_fields(None, _configmap(key="v"), "kubectl-create", "Update", "v1", "t1")
    assert created["metadata"]["managedFields"] == [{
        "manager": "kubectl-create", "operation": "Update", "apiVersion": "v1", "time": "t1", "fieldsType": "FieldsV1",
        "fieldsV1": {"f:data": {".": {}, "f:key": {}}, "f:metadata": {"f:labels": {".": {}, "f:app": {}}}}}]
    live = _stored(created)
    same = p.update_managed_fields(live, copy.deepcopy(live), "other", "Update", "v1", "t2")
    assert same["metadata"]["managedFields"] == live["metadata"]["managedFields"]
    changed = copy.deepcopy(live)
    changed["data"]["key"] = "w"
    changed["data"]["more"] = "m"
    del changed["metadata"]["labels"]
    updated = p.update_managed_fields(live, changed, "editor", "Update", "v1", "t3")
    owners = {e["manager"]: e for e in updated["metadata"]["managedFields"]}
    assert owners["kubectl-create"]["fieldsV1"] == {"f:data": {}}  # a member without children
    assert owners["kubectl-create"]["time"] == "t1"
    assert owners["editor"]["fieldsV1"] == {"f:data": {"f:key": {}, "f:more": {}}}
    assert owners["editor"]["time"] == "t3"


@needs_schemas
def test_update_managed_fields_request_can_clear_them():
    created = _stored(p.update_managed_fields(None, _configmap(key="v"), "a", "Update", "v1", "t1"))
    cleared = copy.deepcopy(created)
    cleared["metadata"]["managedFields"] = [{}]
    assert "managedFields" not in p.update_managed_fields(created, cleared, "a", "Update", "v1", "t2")["metadata"]


@needs_schemas
def test_update_managed_fields_deployment_lists_by_key():
    created = p.update_managed_fields(None, _deployment(), "kubectl-create", "Update", "apps/v1", "t1")
    fields = created["metadata"]["managedFields"][0]["fieldsV1"]
    web = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"web"}']
    assert web["."] == {} and "f:image" in web
    assert web["f:env"]['k:{"name":"A"}'] == {".": {}, "f:name": {}, "f:value": {}}
    assert "." not in fields["f:spec"]  # a value struct of a built-in kind is not owned itself


# ---------------------------------------------------------------- kubectl: client-side apply, then server-side apply

def _csa_deployment(replicas=2):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "mig", "namespace": "default", "labels": {"app": "mig"}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "mig"}},
                     "template": {"metadata": {"labels": {"app": "mig"}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


def _csa_created():
    """What ``kubectl apply`` (client-side) creates: the object with its last-applied annotation, owned by
    "kubectl-client-side-apply" through an Update entry (maps such as the labels are owned with ".")."""
    obj = _csa_deployment()
    obj["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": "{}"}
    return _stored(p.update_managed_fields(None, obj, "kubectl-client-side-apply", "Update", "apps/v1", "t1"))


def _csa_upgrade(live, csa_managers=("kubectl-client-side-apply", "kubectl"), ssa_manager="kubectl"):
    """kubectl's CSA -> SSA migration (csaupgrade): the Update entries of the client-side managers are merged
    into the apply manager's Apply entry, sent as a patch (an Update) that replaces metadata.managedFields."""
    paths, kept, api_version = set(), [], "apps/v1"
    for entry in live["metadata"]["managedFields"]:
        csa = entry["manager"] in csa_managers and entry["operation"] == "Update" and not entry.get("subresource")
        ssa = entry["manager"] == ssa_manager and entry["operation"] == "Apply" and not entry.get("subresource")
        if csa or ssa:
            paths |= p.fields_to_set(entry["fieldsV1"])
            api_version = entry["apiVersion"]
        else:
            kept.append(entry)
    kept.append({"manager": ssa_manager, "operation": "Apply", "apiVersion": api_version, "time": "t-mig",
                 "fieldsType": "FieldsV1", "fieldsV1": p.set_to_fields(paths)})
    patched = copy.deepcopy(live)
    patched["metadata"]["managedFields"] = kept
    return _stored(p.update_managed_fields(live, patched, ssa_manager, "Update", "apps/v1", "t-mig"),
                   rv=str(int(live["metadata"]["resourceVersion"]) + 1))


def _owners(obj):
    return {(e["manager"], e["operation"]): p.fields_to_set(e["fieldsV1"]) for e in obj["metadata"]["managedFields"]}


LABELS = ("f:spec", "f:template", "f:metadata", "f:labels")


@needs_schemas
def test_ssa_after_kubectl_csa_migration_keeps_maps_still_applied():
    live = _csa_created()
    first, conflicts = p.server_side_apply(live, _csa_deployment(), "kubectl", False, None, "t2")
    assert conflicts == []
    live = _csa_upgrade(_stored(first, rv="2"))
    # the migrated Apply entry owns the maps themselves ("."), as the client-side Update entry did
    migrated = _owners(live)
    assert list(migrated) == [("kubectl", "Apply")]
    assert LABELS in migrated[("kubectl", "Apply")] and LABELS + ("f:app",) in migrated[("kubectl", "Apply")]
    assert ("f:metadata", "f:annotations") in migrated[("kubectl", "Apply")]
    second, conflicts = p.server_side_apply(live, _csa_deployment(replicas=3), "kubectl", False, None, "t3")
    assert conflicts == []
    assert second["spec"]["replicas"] == 3
    assert second["spec"]["template"]["metadata"]["labels"] == {"app": "mig"}
    assert second["spec"]["selector"] == {"matchLabels": {"app": "mig"}}
    assert second["metadata"]["labels"] == {"app": "mig"}
    assert second["spec"]["template"]["spec"]["containers"] == [{"name": "c", "image": "nginx"}]
    # the annotation only the apply manager owned (through the migration) and no longer applies goes
    assert "annotations" not in second["metadata"]
    # the apply manager now owns what it applied; the labels map stays because its key is still owned
    owned = _owners(second)[("kubectl", "Apply")]
    assert LABELS + ("f:app",) in owned and LABELS not in owned
    third, conflicts = p.server_side_apply(_stored(second, rv="3"), _csa_deployment(replicas=3), "kubectl", False, None, "t4")
    assert conflicts == [] and third == _stored(second, rv="3")


@needs_schemas
def test_ssa_after_kubectl_csa_without_migration_keeps_fields_of_the_update_entry():
    live = _csa_created()
    first, conflicts = p.server_side_apply(live, _csa_deployment(), "kubectl", False, None, "t2")
    assert conflicts == []
    live = _stored(first, rv="2")
    dummy, conflicts = p.server_side_apply(live, _csa_deployment(replicas=3), "kubectl", False, None, "t3")
    assert conflicts == ['conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas']
    second, conflicts = p.server_side_apply(live, _csa_deployment(replicas=3), "kubectl", True, None, "t3")
    assert conflicts == []
    assert second["spec"]["replicas"] == 3
    assert second["spec"]["template"]["metadata"]["labels"] == {"app": "mig"}
    assert second["metadata"]["annotations"] == {"kubectl.kubernetes.io/last-applied-configuration": "{}"}
    owners = _owners(second)
    assert ("f:spec", "f:replicas") not in owners[("kubectl-client-side-apply", "Update")]
    assert LABELS in owners[("kubectl-client-side-apply", "Update")]


@needs_schemas
def test_ssa_prune_keeps_map_holding_applied_field_and_drops_the_rest():
    """A map the apply manager owned itself ("." from a migration) but no longer claims stays while a key
    below it is still applied; the keys it owned and no longer applies go, other managers' keys stay."""
    live = _csa_deployment()
    live["spec"]["template"]["metadata"]["labels"].update({"old": "1", "theirs": "2"})
    live = _stored(p.update_managed_fields(None, live, "kubectl-client-side-apply", "Update", "apps/v1", "t1"))
    edited = copy.deepcopy(live)
    edited["spec"]["template"]["metadata"]["labels"]["theirs"] = "3"
    live = _stored(p.update_managed_fields(live, edited, "editor", "Update", "apps/v1", "t2"), rv="2")
    live = _csa_upgrade(live)
    result, conflicts = p.server_side_apply(live, _csa_deployment(), "kubectl", False, None, "t3")
    assert conflicts == []
    assert result["spec"]["template"]["metadata"]["labels"] == {"app": "mig", "theirs": "3"}
