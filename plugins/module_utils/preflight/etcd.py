# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
"""Preflight rules of the etcd stage that no single argument spec can express.

``problems(...)`` returns ``[(level, sentence, hosts), ...]``; ``{host}`` in a
sentence stands for the hosts it was found on.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

from ansible_collections.ironstone.k8s.plugins.module_utils.preflight import values

_SHA256 = re.compile(r'^[0-9a-fA-F]{64}$')
_IPV4 = re.compile(r'^((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])$')
_IPV6 = re.compile(r'^[0-9a-fA-F:.]*:[0-9a-fA-F:.]*$')
# The etcd config keys preflight can rebuild from the role's variables.
CONFIG_VARS = (
    ('heartbeat-interval', 'etcd_heartbeat_interval'),
    ('election-timeout', 'etcd_election_timeout'),
    ('quota-backend-bytes', 'etcd_quota_backend_bytes'),
    ('snapshot-count', 'etcd_snapshot_count'),
)
DEFAULT_CLUSTER_NAME = 'ironstone'


def _join(hosts):
    return ', '.join(hosts[:-1]) + ' and ' + hosts[-1] if len(hosts) > 1 else ''.join(hosts)


def _default(specs, name):
    options = {}
    for point in (specs.get('etcd') or {}).values():
        options.update((point or {}).get('options') or {})
    return (options.get(name) or {}).get('default')


def _get(hv, specs, name):
    return hv[name] if name in hv else _default(specs, name)


def member_address(host, hv):
    address = hv.get('etcd_address') or hv.get('ansible_host') or host
    address = str(address).strip()
    if address.startswith('[') and address.endswith(']'):
        address = address[1:-1]
    return address


def _config_problems(config, extra, unsafe):
    from ansible_collections.ironstone.k8s.plugins.filter.etcd import etcd_config_problems
    return etcd_config_problems(config, extra, unsafe)


def pki_dir_of(hv, specs, home):
    """etcd_pki_dir as the role resolves it (its default names the cluster under ~/.ironstone/pki)."""
    if isinstance(hv.get('etcd_pki_dir'), str) and hv['etcd_pki_dir']:
        return hv['etcd_pki_dir']
    cluster = hv.get('etcd_cluster_name') if isinstance(hv.get('etcd_cluster_name'), str) else DEFAULT_CLUSTER_NAME
    return os.path.join(home, '.ironstone', 'pki', cluster or DEFAULT_CLUSTER_NAME)


def problems(specs, host_vars, groups, git_root=None, home='~'):
    out = []
    members = [h for h in groups.get('etcd', []) if h in host_vars]
    count = len(members)
    if count == 0 or count % 2 == 0:
        out.append(('errors', 'The etcd group has %d hosts (%s); etcd needs an odd number (1, 3, 5 or 7) to keep quorum, '
                              'so add or remove hosts in the etcd group.' % (count, ', '.join(members) or 'none'), None))

    by_address, by_name = {}, {}
    for host in members:
        hv = host_vars[host]
        address = member_address(host, hv)
        by_address.setdefault(address, []).append(host)
        name = str(hv.get('etcd_name') or host)
        by_name.setdefault(name, []).append(host)
        if not (_IPV4.match(address) or _IPV6.match(address)):
            out.append(('errors', "etcd_address is '%s' on {host}, but etcd binds to it, so it must be an IP address of the "
                                  "node, and it is not; set etcd_address (it defaults to ansible_host) to the node's IP address."
                        % address, [host]))
    for address, hosts in sorted(by_address.items()):
        if len(hosts) > 1:
            out.append(('errors', "%s share one address, etcd_address %s; give each etcd host its own etcd_address."
                        % (_join(hosts), address), None))
    for name, hosts in sorted(by_name.items()):
        if len(hosts) > 1:
            out.append(('errors', "%s share one member name, etcd_name '%s'; give each etcd host its own etcd_name "
                                  "(it defaults to the inventory host name)." % (_join(hosts), name), None))

    pki_dirs = {}
    for host in members:
        hv = host_vars[host]
        if _get(hv, specs, 'etcd_install_source') == 'archive':
            sha = hv.get('etcd_archive_sha256', '')
            if not (isinstance(sha, str) and _SHA256.fullmatch(sha)):
                out.append(('errors', "etcd_archive_sha256 is %s on {host}, but etcd_install_source archive needs the "
                                      "archive's 64-hex-digit sha256, because it is verified before anything is unpacked; "
                                      "set etcd_archive_sha256." % (values._show(sha),), [host]))
        config = {}
        for key, name in CONFIG_VARS:
            ok, number = values.as_int(_get(hv, specs, name))
            config[key] = number if ok else _get(hv, specs, name)
        extra = hv.get('etcd_extra_config', {})
        unsafe = values.as_bool(hv.get('etcd_extra_config_unsafe', False))[1]
        if isinstance(extra, dict):
            merged = dict(config)
            merged.update(extra)
            found = _config_problems(merged, extra, bool(unsafe))
            for message in found['errors']:
                out.append(('errors', message.rstrip('.') + ' (on {host}).', [host]))
            for message in found['warnings']:
                out.append(('warnings', message.rstrip('.') + ' (on {host}).', [host]))
        pki_dirs.setdefault(pki_dir_of(hv, specs, home), []).append(host)

    if git_root is not None:
        for path, hosts in sorted(pki_dirs.items()):
            root = git_root(path)
            if root:
                out.append(('errors', "etcd_pki_dir is '%s' for {host}, inside the git work tree %s where git would "
                                      "track it, and the etcd CA key must never land in a repository; set etcd_pki_dir outside it (the default is "
                                      "~/.ironstone/pki/<etcd_cluster_name>)." % (path, root), hosts))
    return out
