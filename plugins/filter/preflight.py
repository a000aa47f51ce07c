# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

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


class FilterModule(object):
    """The preflight role's decisions."""

    def filters(self):
        return {'preflight_unreachable': preflight_unreachable}
