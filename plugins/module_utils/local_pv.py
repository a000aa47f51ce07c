# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
"""The Kubernetes objects of the local-SSD volumes the storage stage prepared: a StorageClass
(kubernetes.io/no-provisioner, WaitForFirstConsumer, Retain) and one PersistentVolume per mounted
filesystem, and what to do with the PersistentVolumes whose disk is gone.

A PersistentVolume's name comes from its node's name and its filesystem's UUID, so a re-run finds
the same object instead of making another.  The collection marks its PersistentVolumes with the
label ``ironstone.k8s/local-volume``; others are never touched.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json
import re

MANAGED_LABEL = 'ironstone.k8s/local-volume'
NODE_LABEL = 'ironstone.k8s/node'
UUID_ANNOTATION = 'ironstone.k8s/filesystem-uuid'
PROVISIONER = 'kubernetes.io/no-provisioner'
_QUANTITY = re.compile(r'^[0-9]+(Ki|Mi|Gi|Ti|Pi|Ei)?$')
_UUID = re.compile(r'^[0-9A-Fa-f-]{8,36}$')
_DNS1123 = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')


class LocalPVError(Exception):
    """A volume record the collection cannot turn into a PersistentVolume."""


def pv_name(node, uuid):
    """``local-<node>-<uuid>``, lower case; a digest of both when that would not be a valid name."""
    name = ('local-%s-%s' % (node, uuid)).lower()
    if len(name) <= 253 and _DNS1123.match(name):
        return name
    digest = hashlib.sha256(('%s/%s' % (node, uuid)).encode('utf-8')).hexdigest()[:16]
    return 'local-%s' % digest


def storage_class(name, is_default=False):
    """The StorageClass of the local volumes."""
    obj = {
        'apiVersion': 'storage.k8s.io/v1', 'kind': 'StorageClass',
        'metadata': {'name': name, 'labels': {MANAGED_LABEL: 'true'}},
        'provisioner': PROVISIONER, 'volumeBindingMode': 'WaitForFirstConsumer', 'reclaimPolicy': 'Retain',
    }
    obj['metadata']['annotations'] = {'storageclass.kubernetes.io/is-default-class': 'true' if is_default else 'false'}
    return obj


def persistent_volume(volume, node, class_name):
    """The PersistentVolume of one mounted volume (a ``local_storage_volumes`` entry) on ``node``."""
    for key in ('path', 'capacity', 'uuid'):
        if not volume.get(key):
            raise LocalPVError('the volume %r has no %s; it is not one the storage stage published.' % (volume, key))
    if not _QUANTITY.match(str(volume['capacity'])):
        raise LocalPVError('the volume at %s has the capacity %r, which is not a Kubernetes quantity.' % (volume['path'], volume['capacity']))
    if not _UUID.match(str(volume['uuid'])):
        raise LocalPVError('the volume at %s has the filesystem UUID %r, which is not a UUID.' % (volume['path'], volume['uuid']))
    if not str(volume['path']).startswith('/'):
        raise LocalPVError('the volume path %r is not absolute.' % volume['path'])
    return {
        'apiVersion': 'v1', 'kind': 'PersistentVolume',
        'metadata': {
            'name': pv_name(node, volume['uuid']),
            'labels': {MANAGED_LABEL: 'true', NODE_LABEL: node},
            'annotations': {UUID_ANNOTATION: str(volume['uuid'])},
        },
        'spec': {
            'capacity': {'storage': str(volume['capacity'])},
            'volumeMode': 'Filesystem',
            'accessModes': ['ReadWriteOnce'],
            'persistentVolumeReclaimPolicy': 'Retain',
            'storageClassName': class_name,
            'local': {'path': volume['path']},
            'nodeAffinity': {'required': {'nodeSelectorTerms': [
                {'matchExpressions': [{'key': 'kubernetes.io/hostname', 'operator': 'In', 'values': [node]}]}]}},
        },
    }


def persistent_volumes(volumes_by_node, class_name):
    """Every PersistentVolume, sorted by name, from {node name: [volume, ...]}."""
    out = {}
    for node in sorted(volumes_by_node):
        for volume in volumes_by_node[node] or []:
            pv = persistent_volume(volume, node, class_name)
            if pv['metadata']['name'] in out:
                raise LocalPVError('two volumes on %s have the filesystem UUID %s.' % (node, volume['uuid']))
            out[pv['metadata']['name']] = pv
    return [out[name] for name in sorted(out)]


def prune_plan(existing, wanted_names, nodes, prune=False):
    """What to do with the collection's PersistentVolumes that no volume wants any more.

    ``existing`` are PersistentVolume objects (as the API returns them), ``wanted_names`` the
    names of the PersistentVolumes the volumes give, ``nodes`` the nodes whose disks were looked
    at (a PersistentVolume of a node not looked at this run is left alone).  Returns
    ``{'gone': [...], 'delete': [...], 'keep_claimed': [...]}``: names whose disk is gone, those to
    delete (only with ``prune``), and those kept because a claim is (or was) bound to them.
    """
    wanted = set(wanted_names)
    looked_at = set(nodes)
    plan = {'gone': [], 'delete': [], 'keep_claimed': []}
    for pv in existing or []:
        meta = pv.get('metadata') or {}
        labels = meta.get('labels') or {}
        if labels.get(MANAGED_LABEL) != 'true' or labels.get(NODE_LABEL) not in looked_at or meta.get('name') in wanted:
            continue
        name = meta.get('name')
        plan['gone'].append(name)
        phase = (pv.get('status') or {}).get('phase')
        if phase == 'Bound' or (pv.get('spec') or {}).get('claimRef'):
            plan['keep_claimed'].append(name)
        elif prune:
            plan['delete'].append(name)
    for key in plan:
        plan[key].sort()
    return plan


# sig-storage-local-static-provisioner, the alternative to the PersistentVolumes above
# (local_storage_provisioner: static-provisioner): a DaemonSet that discovers the mounts under the
# discovery directory on each node and makes their PersistentVolumes itself.
STATIC_PROVISIONER_IMAGE = 'sig-storage/local-volume-provisioner'
STATIC_PROVISIONER_NAME = 'local-static-provisioner'
_VERSION = re.compile(r'^v[0-9]+\.[0-9]+\.[0-9]+$')


def static_provisioner_objects(class_name, discovery_dir, version, registry='registry.k8s.io', namespace='kube-system', fstype=''):
    """ServiceAccount, ClusterRole and its binding, the ConfigMap of the class -> directory map, and the DaemonSet."""
    if not _VERSION.match(str(version)):
        raise LocalPVError('local_storage_static_provisioner_version must be vX.Y.Z (a release of '
                           'sig-storage-local-static-provisioner), not %r.' % (version,))
    if not str(discovery_dir).startswith('/'):
        raise LocalPVError('The discovery directory %r is not an absolute path.' % (discovery_dir,))
    if not _DNS1123.match(str(class_name)):
        raise LocalPVError('local_storage_class_name %r is not a valid StorageClass name.' % (class_name,))
    name, labels = STATIC_PROVISIONER_NAME, {'app.kubernetes.io/name': STATIC_PROVISIONER_NAME, MANAGED_LABEL: 'true'}
    image = '%s/%s:%s' % (str(registry).rstrip('/'), STATIC_PROVISIONER_IMAGE, version)
    entry = {'hostDir': str(discovery_dir), 'mountDir': str(discovery_dir), 'volumeMode': 'Filesystem'}
    if fstype:
        entry['fsType'] = str(fstype)
    # The provisioner reads its map as YAML; JSON is YAML, and keeps this module free of a YAML dependency.
    config = json.dumps({str(class_name): entry}, sort_keys=True)
    meta = {'name': name, 'namespace': namespace, 'labels': labels}
    rules = [
        {'apiGroups': [''], 'resources': ['persistentvolumes'], 'verbs': ['get', 'list', 'watch', 'create', 'delete']},
        {'apiGroups': [''], 'resources': ['nodes'], 'verbs': ['get', 'list', 'watch']},
        {'apiGroups': ['storage.k8s.io'], 'resources': ['storageclasses'], 'verbs': ['get', 'list', 'watch']},
        {'apiGroups': [''], 'resources': ['events'], 'verbs': ['create', 'update', 'patch']},
    ]
    container = {
        'name': 'provisioner', 'image': image,
        'securityContext': {'privileged': True},
        'env': [{'name': 'MY_NODE_NAME', 'valueFrom': {'fieldRef': {'fieldPath': 'spec.nodeName'}}},
                {'name': 'MY_NAMESPACE', 'valueFrom': {'fieldRef': {'fieldPath': 'metadata.namespace'}}}],
        'volumeMounts': [{'name': 'provisioner-config', 'mountPath': '/etc/provisioner/config', 'readOnly': True},
                         {'name': 'discovery', 'mountPath': str(discovery_dir), 'mountPropagation': 'HostToContainer'},
                         {'name': 'dev', 'mountPath': '/dev'}],
        'resources': {'requests': {'cpu': '10m', 'memory': '32Mi'}},
    }
    return [
        {'apiVersion': 'v1', 'kind': 'ServiceAccount', 'metadata': dict(meta)},
        {'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'ClusterRole', 'metadata': {'name': name, 'labels': labels}, 'rules': rules},
        {'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'ClusterRoleBinding', 'metadata': {'name': name, 'labels': labels},
         'roleRef': {'apiGroup': 'rbac.authorization.k8s.io', 'kind': 'ClusterRole', 'name': name},
         'subjects': [{'kind': 'ServiceAccount', 'name': name, 'namespace': namespace}]},
        {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': name + '-config', 'namespace': namespace, 'labels': labels},
         'data': {'storageClassMap': config}},
        {'apiVersion': 'apps/v1', 'kind': 'DaemonSet', 'metadata': dict(meta),
         'spec': {'selector': {'matchLabels': {'app.kubernetes.io/name': name}},
                  'template': {'metadata': {'labels': {'app.kubernetes.io/name': name}},
                               'spec': {'serviceAccountName': name, 'priorityClassName': 'system-node-critical',
                                        'nodeSelector': {'kubernetes.io/os': 'linux'},
                                        'containers': [container],
                                        'volumes': [{'name': 'provisioner-config', 'configMap': {'name': name + '-config'}},
                                                    {'name': 'discovery', 'hostPath': {'path': str(discovery_dir)}},
                                                    {'name': 'dev', 'hostPath': {'path': '/dev'}}]}}}},
    ]
