# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
"""Strict checks of one inventory value against a role's argument spec.

Ansible's own argument-spec validation converts where it can: a list becomes its
string form, ``"maybe"`` raises but ``1`` becomes ``True``, a YAML ``off`` becomes
``False``. A role that receives a converted value writes it to a node. These
checks refuse instead, and say in one sentence what to write.

``problem(...)`` returns a sentence or None; nothing here touches a host.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

# Strings that mean a boolean when a value comes from `-e key=value` (always a string).
TRUE_WORDS = ('true', 'yes', 'on', '1')
FALSE_WORDS = ('false', 'no', 'off', '0')
_INT = re.compile(r'^[+-]?[0-9]+$')

# Ranges that a spec cannot express: variable -> (minimum, maximum), None for unbounded.
PORT = (1, 65535)
RANGES = {
    'container_runtime_max_concurrent_downloads': (1, 64),
    'container_runtime_docker_log_max_file': (1, 1000),
    'etcd_client_port': PORT,
    'etcd_peer_port': PORT,
    'etcd_metrics_port': PORT,
    'etcd_heartbeat_interval': (1, 60000),
    'etcd_election_timeout': (1, 300000),
    'etcd_quota_backend_bytes': (1, 8 * 1024 ** 3),
    'etcd_snapshot_count': (1, None),
    'etcd_ca_validity_days': (1, 36500),
    'etcd_cert_validity_days': (1, 36500),
    'etcd_cert_renew_before_days': (0, 36500),
    'etcd_health_timeout': (1, 3600),
    'etcd_promote_timeout': (1, 3600),
    'etcd_backup_keep': (1, None),
    'etcd_restore_bump_revision': (0, None),
    'preflight_source_timeout': (1, 300),
}


def _show(value):
    """A value as the operator wrote it, short."""
    text = repr(value)
    if isinstance(value, str) and value.isprintable():
        text = "'%s'" % value
    return text if len(text) <= 80 else text[:77] + '...'


def _type_name(value):
    if isinstance(value, bool):
        return 'a boolean'
    if isinstance(value, int):
        return 'a number'
    if isinstance(value, float):
        return 'a decimal number'
    if isinstance(value, str):
        return 'a string'
    if isinstance(value, (list, tuple)):
        return 'a list'
    if isinstance(value, dict):
        return 'a dict'
    if value is None:
        return 'empty (null)'
    return 'a %s' % type(value).__name__


def as_bool(value):
    """(ok, value): a real boolean, or one of the words that mean one (from -e)."""
    if isinstance(value, bool):
        return True, value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True, True
        if word in FALSE_WORDS:
            return True, False
    return False, None


def as_int(value):
    """(ok, value): a whole number, or a string of digits (from -e); never a boolean."""
    if isinstance(value, bool):
        return False, None
    if isinstance(value, int):
        return True, value
    if isinstance(value, float) and value.is_integer():
        return True, int(value)
    if isinstance(value, str) and _INT.match(value.strip()):
        return True, int(value.strip())
    return False, None


def _scalar_problem(name, value, kind, where):
    """Problem of a value that must be of the spec type `kind`, or None; `where` names the host."""
    if kind == 'raw':
        return None
    if kind in ('str', 'path'):
        if isinstance(value, str):
            return None
        hint = ''
        if isinstance(value, bool):
            hint = ' (YAML reads an unquoted yes/no/on/off as a boolean)'
        elif isinstance(value, (int, float)):
            hint = ' (YAML reads an unquoted number as a number)'
        elif isinstance(value, (list, dict)):
            hint = ', and one value is expected'
        return '%s is %s %s%s on %s, but it must be a string; write one value in quotes.' % (
            name, _type_name(value), _show(value), hint, where)
    if kind == 'bool':
        if as_bool(value)[0]:
            return None
        return '%s is %s on %s, which is not a boolean; write true or false.' % (name, _show(value), where)
    if kind == 'int':
        if as_int(value)[0]:
            return None
        return '%s is %s %s on %s, but it must be a whole number; write digits only.' % (
            name, _type_name(value), _show(value), where)
    if kind == 'float':
        if isinstance(value, bool):
            return '%s is %s on %s, but it must be a number.' % (name, _show(value), where)
        if isinstance(value, (int, float)):
            return None
        try:
            float(value)
            return None
        except (TypeError, ValueError):
            return '%s is %s on %s, but it must be a number.' % (name, _show(value), where)
    if kind == 'list':
        if isinstance(value, list):
            return None
        return '%s is %s %s on %s, but it must be a list; write it as [%s] even for one item.' % (
            name, _type_name(value), _show(value), where, _show(value))
    if kind == 'dict':
        if isinstance(value, dict):
            return None
        return '%s is %s %s on %s, but it must be a dict (key: value pairs).' % (
            name, _type_name(value), _show(value), where)
    return None


def _choice_problem(name, value, choices, where, kind):
    if not choices:
        return None
    candidates = [value]
    if kind == 'int':
        candidates.append(as_int(value)[1])
    if any(c in choices for c in candidates):
        return None
    return '%s is %s on %s, which is not one of %s; write one of those.' % (
        name, _show(value), where, ', '.join(str(c) for c in choices))


def _range_problem(name, value, where):
    bounds = RANGES.get(name)
    ok, number = as_int(value)
    if not bounds or not ok:
        return None
    low, high = bounds
    if (low is not None and number < low) or (high is not None and number > high):
        if high is None:
            wanted = 'at least %d' % low
        else:
            wanted = 'between %d and %d' % (low, high)
        return '%s is %d on %s, which is out of range; it must be %s.' % (name, number, where, wanted)
    return None


def problems(name, value, option, where):
    """Every problem of one value against its option spec (type, elements, choices, range), as sentences."""
    kind = option.get('type', 'str')
    found = _scalar_problem(name, value, kind, where)
    if found:
        return [found]
    out = []
    if kind == 'list':
        elements = option.get('elements')
        for index, item in enumerate(value):
            item_name = '%s[%d]' % (name, index)
            found = _scalar_problem(item_name, item, elements, where) if elements else None
            if found:
                out.append(found)
            elif option.get('choices'):
                found = _choice_problem(item_name, item, option['choices'], where, elements)
                if found:
                    out.append(found)
        return out
    found = _choice_problem(name, value, option.get('choices'), where, kind) or _range_problem(name, value, where)
    return [found] if found else []
