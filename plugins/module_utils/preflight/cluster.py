# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
"""Preflight rules of the control_plane and nodes stages that no single argument spec can express.

``problems(host_vars, groups, stages, declared)`` returns ``[(level, sentence, hosts), ...]``;
``{host}`` in a sentence stands for the hosts it was found on (``hosts`` is None for a
sentence about the whole inventory). ``host_vars`` must already hold every name of
``VARIABLES`` for each host (its value, else the role's default): inventory.check fills
them in, from the argument specs where they declare them, else from the defaults here.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import re

from ansible_collections.ironstone.k8s.plugins.module_utils.preflight import values

# The Kubernetes minor releases the collection supports.
MIN_MINOR = 31
MAX_MINOR = 37
# name -> (role whose argument spec declares it, default when the spec does not declare it yet)
VARIABLES = {
    'kube_version': ('kube_common', '1.36.4'),
    'kube_pod_subnet': ('kube_common', '10.244.0.0/16'),
    'kube_service_subnet': ('kube_common', '10.96.0.0/12'),
    'kube_apiserver_endpoint': ('kube_common', ''),
    'kube_control_plane_allow_even': ('kube_common', False),
    'kube_node_address': ('kube_common', None),
    'kube_node_labels': ('node_join', {}),
    'kube_node_taints': ('node_join', {}),
    'edge_region': ('node_join', ''),
    'edge_zone': ('node_join', ''),
    'container_runtime_engine': ('container_runtime', 'containerd'),
    'container_runtime_cri_dockerd_enabled': ('container_runtime', True),
}
SUBNET_VARS = ('kube_pod_subnet', 'kube_service_subnet')
TAINT_EFFECTS = ('NoSchedule', 'PreferNoSchedule', 'NoExecute')
EDGE_LABELS = (('edge_region', 'topology.kubernetes.io/region'), ('edge_zone', 'topology.kubernetes.io/zone'))

_VERSION = re.compile(r'^1\.(\d+)\.(\d+)$')
# A DNS-1123 label and subdomain (lower case), and a label name or value (Kubernetes' qualified name part).
_DNS1123 = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')
_NAME = re.compile(r'^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$')
_PORT = re.compile(r'^[0-9]{1,5}$')
_IPV4ISH = re.compile(r'^[0-9.]+$')

LABEL_KEY_RULE = ("an optional DNS-1123 prefix and '/', then a name of up to 63 letters, digits, '-', '_' or '.' "
                  "that starts and ends with a letter or digit")
LABEL_VALUE_RULE = "up to 63 letters, digits, '-', '_' or '.' that start and end with a letter or digit, or empty"
# The same sentence as the runtime stage's rule, so that both stages enabled report it once.
DOCKER_WITHOUT_CRI_DOCKERD = (
    'container_runtime_engine is docker with container_runtime_cri_dockerd_enabled false on {host}, a Kubernetes '
    'node, but the kubelet (1.24 and later) can only use Docker Engine through cri-dockerd; enable cri-dockerd or '
    'use containerd.')


def _join(items):
    items = list(items)
    return ', '.join(items[:-1]) + ' and ' + items[-1] if len(items) > 1 else ''.join(items)


def _unique(hosts):
    out = []
    for host in hosts:
        if host not in out:
            out.append(host)
    return out


def is_label_key(key):
    if not isinstance(key, str) or not key:
        return False
    prefix, slash, name = key.rpartition('/')
    if slash and not (prefix and len(prefix) <= 253 and _DNS1123.match(prefix)):
        return False
    return len(name) <= 63 and bool(_NAME.match(name))


def is_label_value(value):
    return isinstance(value, str) and (value == '' or (len(value) <= 63 and bool(_NAME.match(value))))


def ip_literal(value):
    """The address of an IP literal (IPv6 may be in brackets), else None (a name, a template, anything else)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.startswith('[') and text.endswith(']'):
        text = text[1:-1]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def subnets(value):
    """([networks], host_bits) of a CIDR, or a dual-stack pair 'IPv4/N,IPv6/N'; None when it is not one."""
    if not isinstance(value, str) or not value.strip():
        return None
    parts = [p.strip() for p in value.split(',')]
    networks, host_bits = [], False
    for part in parts:
        if '/' not in part:
            return None
        try:
            network = ipaddress.ip_network(part, strict=False)
        except ValueError:
            return None
        host_bits = host_bits or str(network) != part
        networks.append(network)
    if len(networks) > 2 or len(set(n.version for n in networks)) != len(networks):
        return None
    return networks, host_bits


def is_endpoint(value):
    """Whether value is host:port (a DNS-1123 name, an IPv4 address or [an IPv6 address]; port 1 to 65535)."""
    if not isinstance(value, str):
        return False
    if value.startswith('['):
        host, close, rest = value[1:].partition(']')
        if not close or not rest.startswith(':'):
            return False
        port = rest[1:]
        try:
            ok = ipaddress.ip_address(host).version == 6
        except ValueError:
            ok = False
    else:
        host, colon, port = value.rpartition(':')
        if not colon or not host:
            return False
        if _IPV4ISH.match(host):
            try:
                ipaddress.IPv4Address(host)
                ok = True
            except ValueError:
                ok = False
        else:
            ok = len(host) <= 253 and bool(_DNS1123.match(host.lower()))
    return ok and bool(_PORT.match(port)) and 1 <= int(port) <= 65535


def _version_problems(host_vars, hosts):
    by_version = {}
    for host in hosts:
        version = host_vars[host].get('kube_version')
        match = _VERSION.match(version) if isinstance(version, str) else None
        # A malformed version is the kube_packages rule's to report.
        if match and not MIN_MINOR <= int(match.group(1)) <= MAX_MINOR:
            by_version.setdefault(version, []).append(host)
    return [('errors', "{host} sets kube_version '%s', but ironstone.k8s supports Kubernetes 1.%d to 1.%d only; "
                       "choose a release in that range." % (version, MIN_MINOR, MAX_MINOR), hosts)
            for version, hosts in sorted(by_version.items())]


def _node_addresses(host_vars, groups, kube_hosts):
    """[(address, variable, host)] of the node addresses that are IP literals."""
    out = []
    for host in kube_hosts:
        value = host_vars[host].get('kube_node_address')
        if isinstance(value, str) and '{{' in value:
            continue  # the role's default, a template: known on the node only
        address = ip_literal(value)
        if address is not None:
            out.append((address, 'kube_node_address', host))
    for host in groups.get('etcd', []):
        if host in host_vars:
            address = ip_literal(host_vars[host].get('etcd_address'))
            if address is not None:
                out.append((address, 'etcd_address', host))
    return out


def _subnet_problems(host_vars, groups, kube_hosts):
    out = []
    parsed = {}
    for name in SUBNET_VARS:
        by_value = {}
        for host in kube_hosts:
            value = host_vars[host].get(name)
            key = values._show(value)
            entry = by_value.setdefault(key, (value, []))
            entry[1].append(host)
        if len(by_value) > 1:
            shown = '; '.join('%s on %s' % (key, _join(hosts)) for key, (value, hosts) in sorted(by_value.items()))
            out.append(('errors', "%s differs between hosts (%s), but the cluster has one; set the same %s for every "
                                  "host (in group_vars/all)." % (name, shown, name), None))
        for key, (value, hosts) in sorted(by_value.items()):
            found = subnets(value)
            if found is None:
                out.append(('errors', "%s is %s on {host}, which is not a CIDR such as %s (or a dual-stack pair "
                                      "'IPv4/N,IPv6/N'); write a network address and a prefix length."
                            % (name, key, VARIABLES[name][1]), hosts))
                continue
            networks, host_bits = found
            if host_bits:
                out.append(('warnings', "%s is %s on {host}, which has host bits set, so Kubernetes uses %s; write "
                                        "that." % (name, key, ','.join(str(n) for n in networks)), hosts))
            parsed.setdefault(name, []).append((key, hosts, networks))

    # The pod and service networks of each host must not overlap.
    overlapping = {}
    for host in kube_hosts:
        pod = subnets(host_vars[host].get('kube_pod_subnet'))
        service = subnets(host_vars[host].get('kube_service_subnet'))
        if pod and service and any(p.overlaps(s) for p in pod[0] for s in service[0]):
            pair = (host_vars[host]['kube_pod_subnet'], host_vars[host]['kube_service_subnet'])
            overlapping.setdefault(pair, []).append(host)
    for (pod, service), hosts in sorted(overlapping.items()):
        out.append(('errors', "kube_pod_subnet '%s' and kube_service_subnet '%s' overlap on {host}, so a Service address "
                              "could also be a Pod's; choose two ranges that do not overlap (the defaults are %s and %s)."
                    % (pod, service, VARIABLES['kube_pod_subnet'][1], VARIABLES['kube_service_subnet'][1]), hosts))

    # No node address may fall in either network.
    addresses = _node_addresses(host_vars, groups, kube_hosts)
    for name in SUBNET_VARS:
        for key, hosts, networks in parsed.get(name, []):
            inside = ['%s (%s of %s)' % (address, variable, owner) for address, variable, owner in addresses
                      if any(address in network for network in networks)]
            if inside:
                out.append(('errors', "%s is %s on {host}, which contains the node address%s %s, so traffic to %s "
                                      "would be routed into the cluster network; choose a range that no node address "
                                      "falls in." % (name, key, 'es' if len(inside) > 1 else '', _join(inside),
                                                     'them' if len(inside) > 1 else 'it'), hosts))
    return out


def _group_problems(host_vars, groups):
    out = []
    control_plane = [h for h in groups.get('kube_control_plane', []) if h in host_vars]
    edge = [h for h in groups.get('edge', []) if h in host_vars]
    nodes = _unique(h for g in ('kube_node', 'edge') for h in groups.get(g, []) if h in host_vars)
    both = [h for h in edge if h in control_plane]
    if both:
        out.append(('errors', "{host} is in both the kube_control_plane and the edge groups, but an edge node is a "
                              "worker with its own taint and topology labels; put it in one of the two groups.", both))
    if nodes and not control_plane:
        out.append(('errors', "The kube_control_plane group has no hosts, but %s (in kube_node or edge) must join a "
                              "control plane; add the control-plane hosts to kube_control_plane." % _join(nodes), None))
    count = len(control_plane)
    allow_even = bool(control_plane) and all(
        values.as_bool(host_vars[h].get('kube_control_plane_allow_even'))[1] is True for h in control_plane)
    if count >= 2 and count % 2 == 0 and not allow_even:
        if count == 2:
            out.append(('warnings', "The kube_control_plane group has 2 hosts (%s); two gain no fault tolerance over one, "
                                    "because a quorum of 2 needs both; use 1 or 3 hosts, or set "
                                    "kube_control_plane_allow_even: true if you mean it." % _join(control_plane), None))
        else:
            out.append(('errors', "The kube_control_plane group has %d hosts (%s); an even number gains no fault "
                                  "tolerance over one host fewer, so use %d or %d hosts, or set "
                                  "kube_control_plane_allow_even: true if you mean it."
                        % (count, _join(control_plane), count - 1, count + 1), None))
    return out


def _label_problems(host_vars, hosts, declared):
    out = []
    for host in hosts:
        hv = host_vars[host]
        labels = hv.get('kube_node_labels')
        if not isinstance(labels, dict):
            if 'kube_node_labels' not in declared and labels is not None:
                out.append(('errors', "kube_node_labels is %s on {host}, but it must be a dict of label keys to values "
                                      "(null removes a label)." % values._show(labels), [host]))
        else:
            for key, value in sorted(labels.items(), key=lambda kv: str(kv[0])):
                if not is_label_key(key):
                    out.append(('errors', "kube_node_labels on {host} has the key %s, which is not a Kubernetes label "
                                          "key (%s); fix the key." % (values._show(key), LABEL_KEY_RULE), [host]))
                elif value is not None and not is_label_value(value):
                    hint = '; write it in quotes' if not isinstance(value, str) else ''
                    out.append(('errors', "kube_node_labels[%s] on {host} is %s, which is not a Kubernetes label value "
                                          "(%s)%s, or write null to remove the label."
                                % (key, values._show(value), LABEL_VALUE_RULE, hint or '; fix it'), [host]))
        taints = hv.get('kube_node_taints')
        if not isinstance(taints, dict):
            if 'kube_node_taints' not in declared and taints is not None:
                out.append(('errors', "kube_node_taints is %s on {host}, but it must be a dict of 'key:Effect' to a "
                                      "value or null." % values._show(taints), [host]))
            continue
        for key, value in sorted(taints.items(), key=lambda kv: str(kv[0])):
            name, colon, effect = key.rpartition(':') if isinstance(key, str) else ('', '', '')
            if not colon:
                out.append(('errors', "kube_node_taints on {host} has the key %s, which is not key:Effect (such as "
                                      "dedicated:NoSchedule); add the effect." % values._show(key), [host]))
            elif not is_label_key(name):
                out.append(('errors', "kube_node_taints on {host} has the key %s, whose taint key %s is not a Kubernetes "
                                      "label-style key (%s); fix the key."
                            % (values._show(key), values._show(name), LABEL_KEY_RULE), [host]))
            elif effect not in TAINT_EFFECTS:
                out.append(('errors', "kube_node_taints on {host} has the key %s, with the unknown effect '%s'; use %s."
                            % (values._show(key), effect, _join(list(TAINT_EFFECTS)).replace(' and ', ' or ')),
                            [host]))
            elif value is not None and not is_label_value(value):
                hint = '; write it in quotes' if not isinstance(value, str) else '; fix it'
                out.append(('errors', "kube_node_taints[%s] on {host} is %s, which is not a taint value (%s)%s, or "
                                      "write null." % (key, values._show(value), LABEL_VALUE_RULE, hint), [host]))
    return out


def _edge_problems(host_vars, hosts, declared):
    out = []
    for host in hosts:
        for name, label in EDGE_LABELS:
            value = host_vars[host].get(name)
            if value is None or (not isinstance(value, str) and name in declared):
                continue  # unset, or the argument spec's type check reports it
            if not is_label_value(value):
                out.append(('errors', "%s is %s on {host}, which becomes the node label %s but is not a Kubernetes "
                                      "label value (%s); fix it." % (name, values._show(value), label, LABEL_VALUE_RULE),
                            [host]))
    return out


def _endpoint_problems(host_vars, hosts, declared):
    by_value = {}
    for host in hosts:
        value = host_vars[host].get('kube_apiserver_endpoint')
        if value in ('', None) or (not isinstance(value, str) and 'kube_apiserver_endpoint' in declared):
            continue
        if not is_endpoint(value):
            by_value.setdefault(values._show(value), []).append(host)
    return [('errors', "kube_apiserver_endpoint is %s on {host}, which is not host:port (a DNS name, an IPv4 address or "
                       "an [IPv6] address, then a port from 1 to 65535, such as lb.example.com:6443); write both, or leave "
                       "it empty." % shown, hosts)
            for shown, hosts in sorted(by_value.items())]


def _runtime_problems(host_vars, hosts):
    found = []
    for host in hosts:
        hv = host_vars[host]
        cri_dockerd = values.as_bool(hv.get('container_runtime_cri_dockerd_enabled'))
        if hv.get('container_runtime_engine') == 'docker' and cri_dockerd[0] and not cri_dockerd[1]:
            found.append(host)
    return [('errors', DOCKER_WITHOUT_CRI_DOCKERD, found)] if found else []


def problems(host_vars, groups, stages, declared=()):
    """The problems of the control_plane and nodes stages; see the module docstring.

    declared: the variables some argument spec declares (their types are checked there, not here).
    """
    groups = groups or {}

    def members(*names):
        return _unique(h for g in names for h in groups.get(g, []) if h in host_vars)

    kube_hosts = members('kube_control_plane', 'kube_node', 'edge')
    stage_hosts = _unique((members('kube_control_plane') if 'control_plane' in stages else [])
                          + (members('kube_node', 'edge') if 'nodes' in stages else []))
    out = []
    out.extend(_version_problems(host_vars, stage_hosts))
    out.extend(_subnet_problems(host_vars, groups, kube_hosts))
    out.extend(_group_problems(host_vars, groups))
    out.extend(_endpoint_problems(host_vars, stage_hosts, declared))
    out.extend(_runtime_problems(host_vars, stage_hosts))
    if 'nodes' in stages:
        out.extend(_label_problems(host_vars, members('kube_node', 'edge'), declared))
        out.extend(_edge_problems(host_vars, members('edge'), declared))
    return out
