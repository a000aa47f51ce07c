"""PersistentVolumes and the StorageClass of the local-SSD volumes: naming, objects and pruning."""

import pytest

from ansible_collections.ironstone.k8s.plugins.module_utils import local_pv

UUID_A = "0b9c6c1e-7d1a-4a51-9a51-6f8f4c1d2e3a"
UUID_B = "5f2d8a7e-1111-4c2b-8e2f-0a1b2c3d4e5f"


def volume(uuid, capacity="300Mi"):
    return {"path": "/mnt/fast-disks/" + uuid, "capacity": capacity, "capacity_bytes": 314572800, "device": "/dev/loop3",
            "uuid": uuid, "fstype": "xfs", "node": "ignored-inventory-name"}


def test_the_name_comes_from_node_and_uuid_and_is_stable():
    assert local_pv.pv_name("w1", UUID_A) == "local-w1-" + UUID_A
    assert local_pv.pv_name("W1", UUID_A.upper()) == "local-w1-" + UUID_A
    long_node = "n" * 250
    name = local_pv.pv_name(long_node, UUID_A)
    assert name.startswith("local-") and len(name) == len("local-") + 16
    assert name == local_pv.pv_name(long_node, UUID_A) != local_pv.pv_name(long_node, UUID_B)


def test_a_persistent_volume_is_pinned_to_its_node_with_the_filesystem_capacity():
    pv = local_pv.persistent_volume(volume(UUID_A), "w1", "local-ssd")
    assert pv["metadata"]["name"] == "local-w1-" + UUID_A
    assert pv["metadata"]["labels"] == {"ironstone.k8s/local-volume": "true", "ironstone.k8s/node": "w1"}
    spec = pv["spec"]
    assert spec["capacity"] == {"storage": "300Mi"}
    assert spec["local"] == {"path": "/mnt/fast-disks/" + UUID_A}
    assert (spec["volumeMode"], spec["persistentVolumeReclaimPolicy"], spec["storageClassName"]) == ("Filesystem", "Retain", "local-ssd")
    assert spec["nodeAffinity"] == {"required": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["w1"]}]}]}}


@pytest.mark.parametrize("change,text", [
    ({"capacity": "300 MB"}, "not a Kubernetes quantity"),
    ({"uuid": "not a uuid"}, "not a UUID"),
    ({"path": "mnt/x"}, "not absolute"),
    ({"capacity": ""}, "has no capacity"),
])
def test_bad_volume_records_are_refused(change, text):
    bad = dict(volume(UUID_A), **change)
    with pytest.raises(local_pv.LocalPVError) as err:
        local_pv.persistent_volume(bad, "w1", "local-ssd")
    assert text in str(err.value)


def test_all_volumes_sorted_and_duplicates_refused():
    pvs = local_pv.persistent_volumes({"w2": [volume(UUID_B)], "w1": [volume(UUID_A), volume(UUID_B)]}, "local-ssd")
    assert [p["metadata"]["name"] for p in pvs] == ["local-w1-" + UUID_A, "local-w1-" + UUID_B, "local-w2-" + UUID_B]
    with pytest.raises(local_pv.LocalPVError):
        local_pv.persistent_volumes({"w1": [volume(UUID_A), volume(UUID_A)]}, "local-ssd")


def test_the_storage_class_waits_for_the_first_consumer_and_retains():
    sc = local_pv.storage_class("ssd-premium", is_default=True)
    assert (sc["provisioner"], sc["volumeBindingMode"], sc["reclaimPolicy"]) == ("kubernetes.io/no-provisioner", "WaitForFirstConsumer", "Retain")
    assert sc["metadata"]["annotations"] == {"storageclass.kubernetes.io/is-default-class": "true"}
    assert local_pv.storage_class("local-ssd")["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "false"


def existing(name, node, phase="Available", claim=False, managed=True):
    pv = {"metadata": {"name": name, "labels": {"ironstone.k8s/node": node}}, "spec": {}, "status": {"phase": phase}}
    if managed:
        pv["metadata"]["labels"]["ironstone.k8s/local-volume"] = "true"
    if claim:
        pv["spec"]["claimRef"] = {"name": "data", "namespace": "db"}
    return pv


def test_a_gone_disk_is_reported_and_deleted_only_with_prune_and_never_while_claimed():
    pvs = [existing("local-w1-a", "w1"), existing("local-w1-b", "w1", phase="Bound", claim=True),
           existing("local-w1-c", "w1", phase="Released", claim=True), existing("local-w1-keep", "w1"),
           existing("local-w2-x", "w2"), existing("someone-elses", "w1", managed=False)]
    wanted = ["local-w1-keep"]
    assert local_pv.prune_plan(pvs, wanted, ["w1"]) == {
        "gone": ["local-w1-a", "local-w1-b", "local-w1-c"], "delete": [], "keep_claimed": ["local-w1-b", "local-w1-c"]}
    assert local_pv.prune_plan(pvs, wanted, ["w1"], prune=True) == {
        "gone": ["local-w1-a", "local-w1-b", "local-w1-c"], "delete": ["local-w1-a"], "keep_claimed": ["local-w1-b", "local-w1-c"]}
    assert local_pv.prune_plan(pvs, wanted, [], prune=True) == {"gone": [], "delete": [], "keep_claimed": []}


def test_the_filters_read_each_hosts_volumes_under_its_node_name():
    from ansible_collections.ironstone.k8s.plugins.filter import local_pv as filters
    hostvars = {"inv-w1": {"local_storage_node_name": "w1", "local_storage_found": {"volumes": [volume(UUID_A)]}},
                "inv-w2": {"local_storage_node_name": "w2", "local_storage_found": {"volumes": []}}}
    objects = filters.local_pv_objects(["inv-w1", "inv-w2"], hostvars, "local-ssd")
    assert [o["kind"] for o in objects] == ["StorageClass", "PersistentVolume"]
    assert objects[1]["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == ["w1"]
    plan = filters.local_pv_prune_plan([existing("local-w2-old", "w2"), existing(objects[1]["metadata"]["name"], "w1")],
                                       objects, ["w1", "w2"], True)
    assert plan == {"gone": ["local-w2-old"], "delete": ["local-w2-old"], "keep_claimed": []}


# --- sig-storage-local-static-provisioner -----------------------------------------------------------------

def test_static_provisioner_objects_point_the_class_at_the_discovery_directory():
    import json  # pylint: disable=import-outside-toplevel
    objects = local_pv.static_provisioner_objects('local-ssd', '/mnt/fast-disks', 'v2.6.0')
    assert [o['kind'] for o in objects] == ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'DaemonSet']
    config = json.loads(objects[3]['data']['storageClassMap'])
    assert config == {'local-ssd': {'hostDir': '/mnt/fast-disks', 'mountDir': '/mnt/fast-disks', 'volumeMode': 'Filesystem'}}
    pod = objects[4]['spec']['template']['spec']
    container = pod['containers'][0]
    assert container['image'] == 'registry.k8s.io/sig-storage/local-volume-provisioner:v2.6.0'
    mounts = {m['name']: m for m in container['volumeMounts']}
    assert mounts['discovery']['mountPath'] == '/mnt/fast-disks' and mounts['discovery']['mountPropagation'] == 'HostToContainer'
    assert {v['name']: v.get('hostPath', {}).get('path') for v in pod['volumes']}['discovery'] == '/mnt/fast-disks'
    assert pod['serviceAccountName'] == objects[0]['metadata']['name'] == objects[2]['subjects'][0]['name']
    assert objects[2]['roleRef']['name'] == objects[1]['metadata']['name']
    pv_rule = [r for r in objects[1]['rules'] if r['resources'] == ['persistentvolumes']][0]
    assert set(pv_rule['verbs']) >= {'create', 'delete', 'list', 'watch'}
    assert all(o['metadata']['labels'][local_pv.MANAGED_LABEL] == 'true' for o in objects)


def test_static_provisioner_image_comes_from_the_mirror():
    objects = local_pv.static_provisioner_objects('ssd-premium', '/mnt/fast-disks', 'v2.6.0', registry='mirror.example:5000/k8s/')
    assert objects[4]['spec']['template']['spec']['containers'][0]['image'] == 'mirror.example:5000/k8s/sig-storage/local-volume-provisioner:v2.6.0'


@pytest.mark.parametrize('args, fragment', [
    (('local-ssd', '/mnt/fast-disks', 'latest'), 'must be vX.Y.Z'),
    (('local-ssd', 'mnt/fast-disks', 'v2.6.0'), 'not an absolute path'),
    (('Local_SSD', '/mnt/fast-disks', 'v2.6.0'), 'not a valid StorageClass name'),
])
def test_static_provisioner_bad_inputs(args, fragment):
    with pytest.raises(local_pv.LocalPVError, match=fragment):
        local_pv.static_provisioner_objects(*args)
