# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
"""The local volumes' StorageClass and PersistentVolumes, as filters.

The work is done in plugins/module_utils/local_pv.py; these wrap its LocalPVError into
AnsibleFilterError with the same message.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.ironstone.k8s.plugins.module_utils import local_pv


def local_pv_objects(hosts, hostvars, class_name, is_default=False):
    """The StorageClass, then every PersistentVolume of the hosts' volumes (``local_storage_found``), each
    under its node name (``local_storage_node_name``)."""
    by_node = {}
    for host in hosts:
        hv = hostvars[host]
        node = hv.get('local_storage_node_name')
        if not node:
            raise AnsibleFilterError('%s has no local_storage_node_name: run the objects entry point on it first.' % host)
        by_node.setdefault(str(node), []).extend((hv.get('local_storage_found') or {}).get('volumes') or [])
    try:
        return [local_pv.storage_class(class_name, bool(is_default))] + local_pv.persistent_volumes(by_node, class_name)
    except local_pv.LocalPVError as exc:
        raise AnsibleFilterError(str(exc))


def local_pv_prune_plan(existing, objects, nodes, prune=False):
    """gone / delete / keep_claimed: the collection's PersistentVolumes no volume wants any more."""
    wanted = [o['metadata']['name'] for o in objects or [] if o.get('kind') == 'PersistentVolume']
    return local_pv.prune_plan(existing, wanted, [str(n) for n in nodes or []], bool(prune))


def local_pv_static_provisioner(class_name, discovery_dir, version, registry='registry.k8s.io', fstype=''):
    """The objects of sig-storage-local-static-provisioner for the class and its discovery directory."""
    try:
        return local_pv.static_provisioner_objects(class_name, discovery_dir, version, registry, fstype=fstype)
    except local_pv.LocalPVError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    """Local volumes."""

    def filters(self):
        return {'local_pv_objects': local_pv_objects, 'local_pv_prune_plan': local_pv_prune_plan,
                'local_pv_static_provisioner': local_pv_static_provisioner}
