# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
"""Preflight rules of the calico stage: what plugins/module_utils/calico.py would refuse to render,
and the manifests' pins."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.ironstone.k8s.plugins.module_utils import calico

_SHA256 = re.compile(r'^[0-9a-fA-F]{64}$')
# calico_* variable (or kube_pod_subnet) -> key of calico.problems()' settings.
SETTINGS = {
    'calico_version': 'version', 'calico_network_mode': 'network_mode', 'kube_pod_subnet': 'pod_subnet',
    'calico_ip_pools': 'ip_pools', 'calico_bgp': 'bgp', 'calico_mtu': 'mtu', 'calico_linux_dataplane': 'linux_dataplane',
    'calico_registry': 'registry', 'calico_flex_volume_path': 'flex_volume_path',
    'calico_node_address_autodetection_v4': 'node_address_autodetection_v4', 'calico_installation_spec': 'installation_spec',
}
VARIABLES = tuple(SETTINGS) + ('calico_manifest_sha256', 'calico_manifest_base_url', 'calico_standin_url', 'calico_standin_sha256')


# Enums the role's argument spec already checks (choices), so their message is not repeated.
SPEC_CHECKED = ('calico_network_mode is', 'calico_linux_dataplane is', 'calico_bgp is')


def problems(hv, profile):
    """(level, message) pairs for the host the stage runs for; '{host}' stands for it."""
    settings = dict((key, hv.get(name)) for name, key in SETTINGS.items())
    out = [('errors', 'On {host}: ' + message) for message in calico.problems(settings) if not message.startswith(SPEC_CHECKED)]
    try:
        manifests = calico.calico_release(hv.get('calico_version'))['manifests']
    except calico.CalicoError:
        return out
    standin = hv.get('calico_standin_url') or ''
    if standin and profile != 'lab':
        out.append(('errors', "{host} sets calico_standin_url '%s' in the %s profile; the stand-in manifests are for the lab "
                              "only: remove it." % (standin, profile)))
    url = hv.get('calico_manifest_base_url')
    if isinstance(url, str) and not re.match(r'^(https?|file)://', url):
        out.append(('errors', "{host} sets calico_manifest_base_url '%s', which is not an http(s):// or file:// URL." % url))
    sums = hv.get('calico_manifest_sha256') or {}
    if not isinstance(sums, dict):
        sums = {}
    missing = [name for name in manifests if not (isinstance(sums.get(name), str) and _SHA256.match(sums[name]))]
    if missing:
        # In the lab, with the stand-in repository, the real digests matter only if the real source answers.
        level = 'warnings' if (standin and profile == 'lab') else 'errors'
        out.append((level, "{host} installs Calico %s without a valid sha256 for %s; set calico_manifest_sha256 to "
                           "{file name: sha256} of the files at calico_manifest_base_url (sha256sum of each, downloaded "
                           "once from a machine you trust)." % (hv.get('calico_version'), ', '.join(missing))))
    unknown = sorted(set(sums) - set(manifests))
    if unknown:
        out.append(('errors', "{host} sets calico_manifest_sha256 for %s, which Calico %s does not have (%s)."
                              % (', '.join(unknown), hv.get('calico_version'), ', '.join(manifests))))
    if standin and profile == 'lab':
        ssums = hv.get('calico_standin_sha256') or {}
        smissing = [n for n in manifests if not (isinstance(ssums, dict) and isinstance(ssums.get(n), str) and _SHA256.match(ssums[n]))]
        if smissing:
            out.append(('errors', "{host} may fall back to the lab's stand-in manifests but calico_standin_sha256 lacks a "
                                  "sha256 for %s." % ', '.join(smissing)))
    return out
