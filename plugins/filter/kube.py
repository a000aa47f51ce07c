# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# The Kubernetes stages' view of the inventory: which host is which node, at what address.
# (kubeadm's configuration is rendered by plugins/filter/kubeadm.py.)


def _get(hostvars, host, name):
    value = (hostvars.get(host) or {}).get(name) if hasattr(hostvars, 'get') else None
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return value


def kube_host_port(address, port):
    """host:port, with an IPv6 address in brackets."""
    address = str(address).strip()
    if ':' in address and not address.startswith('['):
        address = '[%s]' % address
    return '%s:%s' % (address, port)


def kube_nodes(hosts, hostvars):
    """The Kubernetes nodes of these hosts, in order: host, name (kube_node_name, else the
    inventory name) and address (kube_node_address, else ansible_host, else the name)."""
    out = []
    for host in hosts or []:
        name = _get(hostvars, host, 'kube_node_name') or host
        address = _get(hostvars, host, 'kube_node_address') or _get(hostvars, host, 'ansible_host') or host
        address = str(address).strip()
        if address.startswith('[') and address.endswith(']'):
            address = address[1:-1]
        out.append({'host': host, 'name': str(name), 'address': address})
    return out


def kube_not_ready(nodes):
    """Names of the Node objects whose Ready condition is not True, sorted."""
    out = []
    for node in nodes or []:
        conditions = (node.get('status') or {}).get('conditions') or []
        ready = [c for c in conditions if c.get('type') == 'Ready']
        if not ready or ready[-1].get('status') != 'True':
            out.append((node.get('metadata') or {}).get('name', ''))
    return sorted(out)


def kube_condition_true(objects, condition):
    """``namespace/name`` (``name`` when cluster-scoped) of the objects whose condition ``condition`` is True."""
    out = []
    for obj in objects or []:
        conditions = (obj.get('status') or {}).get('conditions') or []
        if any(c.get('type') == condition and c.get('status') == 'True' for c in conditions):
            meta = obj.get('metadata') or {}
            out.append(('%s/%s' % (meta['namespace'], meta.get('name'))) if meta.get('namespace') else meta.get('name'))
    return out


class FilterModule(object):
    """The Kubernetes stages' view of the inventory."""

    def filters(self):
        return {'kube_nodes': kube_nodes, 'kube_host_port': kube_host_port, 'kube_not_ready': kube_not_ready,
                'kube_condition_true': kube_condition_true}
