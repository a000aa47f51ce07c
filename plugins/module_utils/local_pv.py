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
