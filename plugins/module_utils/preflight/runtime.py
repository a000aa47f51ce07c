# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
"""Preflight rules of the runtime stage that no single argument spec can express.

``problems(hostvars, path_exists)`` returns ``[(level, sentence), ...]`` for one
host; ``{host}`` in a sentence stands for the host (or hosts) it was found on.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.ironstone.k8s.plugins.module_utils.preflight import values

_SHA256 = re.compile(r'^[0-9a-fA-F]{64}$')
_SYSCTL = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.\-/]*$')
RUNTIME_KEYS = ('runtime_type', 'binary_name')
MIRROR_VARS = ('container_runtime_registry_mirrors', 'container_runtime_registry_mirrors_extra')


def _mirror_errors(mirrors, extra):
    from ansible_collections.ironstone.k8s.plugins.module_utils.container_runtime_mirrors import mirror_errors
    return mirror_errors(mirrors, extra)


def _needs_sha(hv, url_var, sha_var, what):
    sha = hv.get(sha_var, '')
    if isinstance(sha, str) and _SHA256.fullmatch(sha):
        return []
    return [('errors', "%s is %s on {host}, but %s needs its 64-hex-digit sha256 there, because every download is "
                       "verified before it is used; set %s." % (sha_var, values._show(sha), what, sha_var))]


def problems(hv, path_exists=None):
    out = []
    engine = hv.get('container_runtime_engine', 'containerd')
    cri_dockerd = values.as_bool(hv.get('container_runtime_cri_dockerd_enabled', True))
    if engine == 'docker' and cri_dockerd[0] and not cri_dockerd[1]:
        out.append(('errors', 'container_runtime_engine is docker with container_runtime_cri_dockerd_enabled false on '
                              '{host}, a Kubernetes node, but the kubelet (1.24 and later) can only use Docker Engine '
                              'through cri-dockerd; enable cri-dockerd or use containerd.'))
    if engine == 'containerd' and hv.get('container_runtime_containerd_source') == 'archive':
        out.extend(_needs_sha(hv, 'container_runtime_containerd_archive_url', 'container_runtime_containerd_archive_sha256',
                              'the containerd archive'))
        out.extend(_needs_sha(hv, 'container_runtime_runc_url', 'container_runtime_runc_sha256', 'the runc binary'))
    if isinstance(hv.get('container_runtime_cni_plugins_url'), str) and hv['container_runtime_cni_plugins_url']:
        out.extend(_needs_sha(hv, 'container_runtime_cni_plugins_url', 'container_runtime_cni_plugins_sha256',
                              'the CNI plugins archive'))
    if engine == 'docker' and (not cri_dockerd[0] or cri_dockerd[1]):
        out.extend(_needs_sha(hv, 'container_runtime_cri_dockerd_url', 'container_runtime_cri_dockerd_sha256',
                              'the cri-dockerd archive'))

    mirrors = hv.get(MIRROR_VARS[0], {})
    extra = hv.get(MIRROR_VARS[1], {})
    if isinstance(mirrors, dict) and isinstance(extra, dict):
        for message in _mirror_errors(mirrors, extra):
            out.append(('errors', message.rstrip('.') + ' (on {host}).'))
        for variable, value in ((MIRROR_VARS[0], mirrors), (MIRROR_VARS[1], extra)):
            for registry, entries in sorted(value.items()):
                for index, mirror in enumerate(entries if isinstance(entries, list) else []):
                    ca_file = mirror.get('ca_file') if isinstance(mirror, dict) else None
                    if isinstance(ca_file, str) and ca_file and path_exists is not None and not path_exists(ca_file):
                        out.append(('errors', "%s[%s][%d] on {host} has ca_file '%s', which does not exist on the "
                                              "controller; the role copies it from there to the nodes, so give the path "
                                              "of the registry's CA certificate on the controller."
                                    % (variable, registry, index, ca_file)))

    sysctls = hv.get('container_runtime_sysctls')
    if isinstance(sysctls, dict):
        for key, value in sorted(sysctls.items(), key=lambda kv: str(kv[0])):
            if not isinstance(key, str) or not _SYSCTL.fullmatch(key):
                out.append(('errors', "container_runtime_sysctls on {host} has the key %r, which is not a sysctl name "
                                      "such as net.ipv4.ip_forward." % (key,)))
            elif isinstance(value, (list, dict)) or value is None:
                out.append(('errors', "container_runtime_sysctls[%s] on {host} is %r; write one value in quotes, such as '1'."
                            % (key, value)))

    runtimes = hv.get('container_runtime_extra_runtimes')
    if isinstance(runtimes, dict):
        for name, runtime in sorted(runtimes.items(), key=lambda kv: str(kv[0])):
            if not isinstance(runtime, dict):
                out.append(('errors', 'container_runtime_extra_runtimes[%s] on {host} is %r; write a dict with '
                                      'binary_name and optional runtime_type.' % (name, runtime)))
                continue
            unknown = sorted(set(runtime) - set(RUNTIME_KEYS))
            if unknown:
                out.append(('errors', 'container_runtime_extra_runtimes[%s] on {host} has unknown keys %s; a runtime takes '
                                      'only binary_name and runtime_type.' % (name, ', '.join(map(str, unknown)))))
            if not isinstance(runtime.get('binary_name'), str) or not runtime.get('binary_name'):
                out.append(('errors', 'container_runtime_extra_runtimes[%s] on {host} has no binary_name; give the path '
                                      'or name of the runtime binary.' % (name,)))
    return out
