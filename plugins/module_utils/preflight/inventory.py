# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
"""Every check preflight makes of the inventory, in memory, before any host is touched.

``check(...)`` takes the roles' argument specs, each host's variables (already
templated), the inventory groups and the enabled stages, and returns
``{'errors': [...], 'warnings': [...], 'hosts': N, 'variables': M}``. Each
message is one sentence naming what is wrong, the variable and its value, the
host or hosts, and what to do. Checks that need the controller's file system
(a CA file that must exist, a directory inside a git work tree) come in as
functions, so the whole of it is tested without one.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import difflib
import re

from ansible_collections.ironstone.k8s.plugins.module_utils.preflight import values

# The inventory groups the playbooks target.
KNOWN_GROUPS = ('etcd', 'kube_control_plane', 'kube_node', 'edge')
KUBE_GROUPS = ('kube_control_plane', 'kube_node', 'edge')
# Ansible's own groups.
BUILTIN_GROUPS = ('all', 'ungrouped')
# stage -> (role, entry point, groups whose hosts the stage configures with it)
STAGES = {
    'runtime': (('container_runtime', 'main', KUBE_GROUPS),),
    'etcd': (('etcd', 'main', ('etcd',)), ('etcd', 'apiserver_client', ('kube_control_plane',))),
    'storage': (('local_storage', 'main', ('kube_node',)),),
    'kube_packages': (('kube_common', 'main', KUBE_GROUPS), ('kube_packages', 'main', KUBE_GROUPS)),
    'control_plane': (('kube_common', 'main', KUBE_GROUPS), ('apiserver_proxy', 'main', KUBE_GROUPS),
                      ('control_plane', 'main', ('kube_control_plane',))),
    'nodes': (('kube_common', 'main', KUBE_GROUPS), ('apiserver_proxy', 'main', ('kube_node', 'edge')),
              ('node_join', 'main', ('kube_node', 'edge'))),
    'calico': (('kube_common', 'main', ('kube_control_plane',)), ('calico', 'main', ('kube_control_plane',))),
    'local_volumes': (('kube_common', 'main', ('kube_node',)), ('local_storage', 'objects', ('kube_node',))),
    'gpu': (('kube_common', 'main', KUBE_GROUPS), ('gpu', 'main', KUBE_GROUPS)),
    'monitoring': (('kube_common', 'main', ('kube_control_plane',)), ('metrics_server', 'main', ('kube_control_plane',)),
                   ('alerts', 'main', ('kube_control_plane',))),
}
# Variables with these prefixes belong to a role of the collection; `ironstone_` and
# `kube_node_name` are shared by the stages and declared in the preflight role; `edge_`
# belongs to node_join (edge_region, edge_zone, edge_taint).
PREFIXES = ('container_runtime_', 'etcd_', 'local_storage_', 'preflight_', 'ironstone_', 'kube_', 'edge_',
            'control_plane_', 'node_join_', 'apiserver_proxy_', 'calico_', 'gpu_', 'metrics_server_', 'alerts_')
# The Kubernetes node name of a host, when it differs from the inventory name.
NODE_NAME_VAR = 'kube_node_name'
# A Kubernetes node name: a DNS-1123 subdomain.
_DNS1123 = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')
_IPV4 = re.compile(r'^((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])$')
_IPV6 = re.compile(r'^[0-9a-fA-F:.]*:[0-9a-fA-F:.]*$')
_SHA256 = re.compile(r'^[0-9a-fA-F]{64}$')
_SYSCTL = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.\-/]*$')
RUNTIME_KEYS = ('runtime_type', 'binary_name')
# Placeholder for the host list in a message, filled once the same problem is known on every host.
HOSTS = '\x00'


def hosts_text(hosts):
    hosts = list(hosts)
    if len(hosts) == 1:
        return hosts[0]
    if len(hosts) <= 6:
        return ', '.join(hosts[:-1]) + ' and ' + hosts[-1]
    return '%s and %d more hosts' % (', '.join(hosts[:5]), len(hosts) - 5)


class Report(object):
    """Problems collected per message, with the hosts each one was found on."""

    def __init__(self):
        self._found = {}

    def add(self, level, message, host=None):
        entry = self._found.setdefault((level, message), [])
        if host is not None and host not in entry:
            entry.append(host)

    def result(self):
        out = {'errors': [], 'warnings': []}
        for (level, message), hosts in self._found.items():
            if HOSTS in message:
                message = message.replace(HOSTS, hosts_text(hosts))
            out[level].append(message)
        return out


def options_of(specs, role, entry_point=None):
    """The options of a role's entry point, or of all its entry points."""
    role_specs = specs.get(role) or {}
    points = [entry_point] if entry_point else list(role_specs)
    options = {}
    for point in points:
        options.update((role_specs.get(point) or {}).get('options') or {})
    return options


def declared_names(specs):
    names = set()
    for role in specs:
        names.update(options_of(specs, role))
    return names


def closest(name, candidates):
    found = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.75)
    return found[0] if found else None


def _tokens(name):
    return [t for t in re.split(r'[-_.]+', name.lower()) if t]


def close_group(group):
    """The known group an inventory group name looks like a misspelling of, or None."""
    if group in KNOWN_GROUPS or group in BUILTIN_GROUPS:
        return None
    normal = '_'.join(_tokens(group))
    tokens = set(_tokens(group))
    for known in KNOWN_GROUPS:
        known_tokens = set(known.split('_'))
        if normal == known or normal.rstrip('s') == known or normal == known + 's':
            return known
        if known_tokens <= tokens or (len(tokens) > 1 and tokens <= known_tokens):
            return known
    return closest(normal, KNOWN_GROUPS)


def _truthy(hostvars, name, default):
    ok, value = values.as_bool(hostvars.get(name, default))
    return value if ok else default


def check(specs, internal, host_vars, groups, stages, profile='production', unknown_policy='auto',
          path_exists=None, git_root=None, home='~'):
    """All preflight problems of an inventory; see the module docstring."""
    report = Report()
    policy = unknown_policy if unknown_policy in ('fail', 'warn') else ('warn' if profile == 'lab' else 'fail')
    unknown_level = 'errors' if policy == 'fail' else 'warnings'
    groups = dict(groups or {})
    all_hosts = [h for h in groups.get('all', []) if h in host_vars] or sorted(host_vars)
    checked_vars = 0

    for stage in stages:
        if stage not in STAGES:
            report.add('errors', "preflight_stages names the stage '%s', which does not exist; use %s."
                       % (stage, ', '.join(sorted(STAGES))))

    # 1. Each value against the spec of every role that will use it on that host.
    plan = {}
    for host in all_hosts:
        plan[host] = dict(options_of(specs, 'preflight', 'main'))
    for stage in stages:
        for role, point, targets in STAGES.get(stage, ()):
            for group in targets:
                for host in groups.get(group, []):
                    if host in plan:
                        plan[host].update(options_of(specs, role, point))
    for host, options in plan.items():
        hv = host_vars[host]
        for name, option in sorted(options.items()):
            if name not in hv:
                continue
            checked_vars += 1
            for message in values.problems(name, hv[name], option, HOSTS):
                report.add('errors', message, host)

    # 2. Variables that no role declares.
    declared = declared_names(specs)
    known = declared | set(internal)
    for host in all_hosts:
        for name in sorted(host_vars[host]):
            if name.startswith(PREFIXES) and name not in known:
                suggestion = closest(name, declared)
                hint = ('did you mean %s?' % suggestion) if suggestion else 'remove it or check its spelling.'
                report.add(unknown_level, '%s is set on %s but is not a variable of any role; %s'
                           % (name, HOSTS, hint), host)

    # 3. Groups and hosts.
    for group in sorted(groups):
        looks_like = close_group(group)
        # A group whose hosts are all in the known group is one of its children (kube_node_gpu), not a misspelling.
        if looks_like and not (groups[group] and set(groups[group]) <= set(groups.get(looks_like, []))):
            report.add(unknown_level, "The inventory group '%s' looks like a misspelling of '%s', which the playbooks use; "
                                      "rename it to %s (its hosts are %s)."
                       % (group, looks_like, looks_like, hosts_text(groups[group]) if groups[group] else 'none'))
    in_known = set()
    for group in KNOWN_GROUPS:
        in_known.update(groups.get(group, []))
    for host in all_hosts:
        if host not in in_known:
            report.add(unknown_level, '%s is in none of the groups %s, so no stage would configure it; '
                                      'add it to one of them or remove it from the inventory.'
                       % (host, ', '.join(KNOWN_GROUPS)))
    kube_hosts = []
    for group in KUBE_GROUPS:
        kube_hosts.extend(h for h in groups.get(group, []) if h in host_vars and h not in kube_hosts)
    by_node_name = {}
    for host in kube_hosts:
        explicit = host_vars[host].get(NODE_NAME_VAR)
        explicit = explicit if isinstance(explicit, str) and explicit else None
        node_name = explicit or host
        by_node_name.setdefault(node_name, []).append(host)
        if len(node_name) > 253 or not _DNS1123.fullmatch(node_name):
            if explicit:
                report.add('errors', "%s sets %s %s, which is not a valid Kubernetes node name (a DNS-1123 subdomain: "
                                     "lower-case letters, digits, '-' and '.'); choose one that is."
                           % (host, NODE_NAME_VAR, values._show(node_name)))
            else:
                report.add('errors', "The host name '%s' cannot be a Kubernetes node name (a DNS-1123 subdomain: lower-case "
                                     "letters, digits, '-' and '.'); rename the host or set %s for it."
                           % (host, NODE_NAME_VAR))
    for node_name, hosts in sorted(by_node_name.items()):
        if len(hosts) > 1:
            report.add('errors', "%s share the Kubernetes node name %s; give each host its own %s."
                       % (hosts_text(hosts), values._show(node_name), NODE_NAME_VAR))

    # 4. Rules across variables and hosts, per stage.
    if 'runtime' in stages:
        _runtime_rules(report, host_vars, kube_hosts, path_exists)
    if 'etcd' in stages:
        _etcd_rules(report, specs, host_vars, groups, git_root, home)
    if 'storage' in stages:
        _storage_rules(report, host_vars, groups.get('kube_node', []))
    if 'kube_packages' in stages:
        _kube_packages_rules(report, specs, host_vars, kube_hosts, profile)
    if 'control_plane' in stages or 'nodes' in stages:
        _cluster_rules(report, specs, host_vars, groups, stages)
    if 'calico' in stages:
        _calico_rules(report, specs, host_vars, groups, profile)

    out = report.result()
    # Each Kubernetes node's kube_version, for the version-skew check against the kubelets already running.
    out['kube_versions'] = dict((host, _value(host_vars[host], specs, 'kube_packages', 'kube_version')) for host in kube_hosts)
    out['hosts'] = len(all_hosts)
    out['variables'] = checked_vars
    return out


# The role that carries the settings shared by the Kubernetes stages (kube_version, ...).
SHARED_ROLE = 'kube_common'


def _value(hv, specs, role, name):
    """A host's value of a role variable, else the role's default (or the shared role's)."""
    if name in hv:
        return hv[name]
    options = options_of(specs, role)
    if name not in options:
        options = options_of(specs, SHARED_ROLE)
    return (options.get(name) or {}).get('default')


def _runtime_rules(report, host_vars, hosts, path_exists):
    from ansible_collections.ironstone.k8s.plugins.module_utils.preflight import runtime
    for host in hosts:
        for level, message in runtime.problems(host_vars[host], path_exists):
            report.add(level, message.replace('{host}', HOSTS), host)


def _kube_packages_rules(report, specs, host_vars, hosts, profile):
    from ansible_collections.ironstone.k8s.plugins.module_utils.preflight import kube_packages
    for host in hosts:
        hv = dict(host_vars[host])
        for name in kube_packages.VARIABLES:
            hv.setdefault(name, _value(host_vars[host], specs, 'kube_packages', name))
        for level, message in kube_packages.problems(hv, profile):
            report.add(level, message.replace('{host}', HOSTS), host)


def _cluster_rules(report, specs, host_vars, groups, stages):
    from ansible_collections.ironstone.k8s.plugins.module_utils.preflight import cluster
    filled = {}
    for host, hv in host_vars.items():
        filled[host] = dict(hv)
        for name, (role, default) in cluster.VARIABLES.items():
            if name not in hv:
                # The role's default; until a role declares the variable, the default the rules know.
                declared = name in options_of(specs, role) or name in options_of(specs, SHARED_ROLE)
                filled[host][name] = _value(hv, specs, role, name) if declared else default
    for level, message, hosts in cluster.problems(filled, groups, stages, declared_names(specs)):
        for host in hosts or [None]:
            report.add(level, message.replace('{host}', HOSTS), host)


def _calico_rules(report, specs, host_vars, groups, profile):
    # The stage renders once, with the variables of the first control-plane node (the play's host).
    from ansible_collections.ironstone.k8s.plugins.module_utils.preflight import calico
    hosts = [h for h in groups.get('kube_control_plane', []) if h in host_vars]
    if not hosts:
        return
    hv = dict(host_vars[hosts[0]])
    for name in calico.VARIABLES:
        hv.setdefault(name, _value(host_vars[hosts[0]], specs, 'calico', name))
    for level, message in calico.problems(hv, profile):
        report.add(level, message.replace('{host}', hosts[0]))


def _etcd_rules(report, specs, host_vars, groups, git_root, home):
    from ansible_collections.ironstone.k8s.plugins.module_utils.preflight import etcd
    for level, message, hosts in etcd.problems(specs, host_vars, groups, git_root, home):
        for host in hosts or [None]:
            report.add(level, message.replace('{host}', HOSTS), host)


def _storage_rules(report, host_vars, hosts):
    for host in hosts:
        hv = host_vars.get(host, {})
        for name in ('local_storage_devices', 'local_storage_wipe_devices'):
            devices = hv.get(name)
            if not isinstance(devices, list):
                continue
            for device in devices:
                if isinstance(device, str) and not device.startswith('/dev/'):
                    report.add('errors', "%s on %s names '%s', which is not a device path; write it as /dev/NAME."
                               % (name, HOSTS, device), host)
        root = hv.get('local_storage_mount_root')
        if isinstance(root, str) and (not root.startswith('/') or root.rstrip('/') in ('', '/etc', '/usr', '/var', '/boot')):
            report.add('errors', "local_storage_mount_root is '%s' on %s; it must be an absolute directory of its own, "
                                 "such as /mnt/fast-disks." % (root, HOSTS), host)
