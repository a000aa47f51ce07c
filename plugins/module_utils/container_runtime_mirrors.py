# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
"""Validation of container_runtime_registry_mirrors and its _extra, shared by the
container_runtime role's filters and by preflight. One sentence per problem."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible.module_utils.common.text.converters import to_text

MIRRORS_VAR = 'container_runtime_registry_mirrors'
EXTRA_VAR = 'container_runtime_registry_mirrors_extra'
MIRROR_KEYS = ('url', 'skip_verify', 'ca_file')
DEFAULT_NAMESPACE = '_default'

_URL = re.compile(r'^https?://[^/\s]+')
_REGISTRY = re.compile(r'^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$')


def _mirror_problems(variable, registry, index, mirror):
    """Problems of one mirror entry, as sentences (empty when it is valid)."""
    where = '%s[%s][%d]' % (variable, registry, index)
    if isinstance(mirror, dict):
        unknown = sorted(set(mirror) - set(MIRROR_KEYS))
        if unknown:
            return ['%s has unknown keys %s; a mirror dict takes only url, skip_verify and ca_file.'
                    % (where, ', '.join(to_text(k) for k in unknown))]
        url = mirror.get('url')
        if not isinstance(url, str) or not url:
            return ['%s has no url; give each mirror dict a url such as https://mirror.example.com.' % where]
        problems = []
        if not isinstance(mirror.get('skip_verify', False), bool):
            problems.append('%s has skip_verify %r; write true or false.' % (where, mirror['skip_verify']))
        if not isinstance(mirror.get('ca_file', ''), str):
            problems.append('%s has ca_file %r; write the path of the CA certificate on the controller.' % (where, mirror['ca_file']))
    elif isinstance(mirror, str):
        url, problems = mirror, []
    else:
        return ['%s is %r; write a mirror URL or a dict with url, skip_verify and ca_file.' % (where, mirror)]
    if not _URL.match(url):
        problems.append(
            "%s[%s] has mirror '%s' without an http:// or https:// scheme; write it as https://%s "
            "(or http:// for a plain-HTTP mirror)." % (variable, registry, url, url))
    return problems


def _mirrors_problems(variable, mirrors):
    if mirrors is None:
        return []
    if not isinstance(mirrors, dict):
        return ['%s must be a dict of registry names to lists of mirrors, not %r.' % (variable, mirrors)]
    problems = []
    for registry, entries in mirrors.items():
        if not isinstance(registry, str) or (registry != DEFAULT_NAMESPACE and not _REGISTRY.match(registry)):
            problems.append(
                "%s has registry '%s', which is not a registry host name; write the host name and optional port "
                "only, such as docker.io or registry.example.com:5000 (or _default for every registry)."
                % (variable, registry))
            continue
        if not isinstance(entries, list):
            problems.append('%s[%s] is %r; write a list of mirrors, even for one mirror.' % (variable, registry, entries))
            continue
        for index, mirror in enumerate(entries):
            problems.extend(_mirror_problems(variable, registry, index, mirror))
    return problems


def mirror_errors(mirrors, extra=None):
    """Every problem of container_runtime_registry_mirrors and its _extra, one sentence each."""
    return _mirrors_problems(MIRRORS_VAR, mirrors) + _mirrors_problems(EXTRA_VAR, extra)
