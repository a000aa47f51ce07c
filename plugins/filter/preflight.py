# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

# Decisions of the preflight role that need task results (the rest of its checks
# are in plugins/module_utils/preflight, run by the preflight_check action).


def _first_line(text, limit=200):
    for line in str(text or '').splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= limit else line[:limit - 3] + '...'
    return ''


def preflight_unreachable(hosts, hostvars, stage_hosts, register='preflight_ping'):
    """One sentence per host of the enabled stages that the ping could not reach.

    A connection that answers with something other than a module result (a
    stopped container, a shell that prints on login) is reported with what it
    said instead of Ansible's "Module result deserialization failed".
    """
    out = []
    for host in hosts or []:
        if host not in (stage_hosts or []):
            continue
        result = (hostvars.get(host) or {}).get(register) or {}
        if not (result.get('unreachable') or result.get('failed')):
            continue
        msg = _first_line(result.get('msg'))
        if result.get('stderr') and (not msg or msg == 'non-zero return code'):
            msg = _first_line(result.get('stderr'))
        if not msg or 'deserialization' in msg.lower() or 'MODULE FAILURE' in msg:
            msg = (_first_line(result.get('module_stderr')) or _first_line(result.get('module_stdout'))
                   or msg or 'no answer')
        if not msg.endswith('...'):  # keep the mark of a line cut short
            msg = msg.rstrip('.')
        out.append('%s is unreachable: %s; check that it is up and that ansible_host, ansible_user and the '
                   'connection settings are right.' % (host, msg))
    return out


def _minor(text):
    match = re.search(r'v?1\.(\d+)\.(\d+)', str(text or ''))
    return (int(match.group(1)), match.group(0).lstrip('v')) if match else None


def preflight_version_skew(hosts, hostvars, versions, register='preflight_kubelet_version'):
    """One sentence per node whose running kubelet is more than one minor below its kube_version.

    Only nodes already in a cluster report a kubelet version (see the preflight role); kubeadm
    upgrades one minor at a time, and the kubelet may trail the control plane by no more.
    """
    out = []
    for host in hosts or []:
        result = (hostvars.get(host) or {}).get(register) or {}
        running = _minor(result.get('stdout'))
        wanted = _minor((versions or {}).get(host))
        if not running or not wanted:
            continue
        if wanted[0] - running[0] > 1:
            out.append('%s runs kubelet %s, but kube_version is %s, %d minor releases ahead; upgrade one minor at a '
                       'time (playbooks/upgrade.yml), or pin kube_version to 1.%d.x for this node.'
                       % (host, running[1], wanted[1], wanted[0] - running[0], running[0] + 1))
        elif wanted[0] < running[0]:
            out.append('%s runs kubelet %s, but kube_version is %s, an older minor; Kubernetes is not downgraded: '
                       'pin kube_version to the version the cluster runs.' % (host, running[1], wanted[1]))
    return out


class FilterModule(object):
    """The preflight role's decisions."""

    def filters(self):
        return {'preflight_unreachable': preflight_unreachable, 'preflight_version_skew': preflight_version_skew}
