# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
"""Preflight rules of the kube_packages stage that no single argument spec can express."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

_VERSION = re.compile(r'^1\.(\d+)\.(\d+)$')
_SHA256 = re.compile(r'^[0-9a-fA-F]{64}$')
_REVISION = re.compile(r'^[0-9][0-9A-Za-z.+~]*$')
# The variables the rules read (each host's value, else the role's default).
VARIABLES = ('kube_version', 'kube_packages_source', 'kube_packages_names', 'kube_packages_binary_sha256',
             'kube_packages_crictl_sha256', 'kube_packages_apt_base_url', 'kube_packages_apt_revision',
             'kube_packages_binary_base_url', 'kube_packages_standin_url', 'kube_packages_standin_sha256')
# The oldest minor version whose packages pkgs.k8s.io serves.
OLDEST_MINOR = 24


def _show(value):
    return repr(value) if not isinstance(value, str) else "'%s'" % value


def problems(hv, profile):
    """(level, message) pairs for one host; '{host}' stands for the host list."""
    out = []
    version = hv.get('kube_version')
    match = _VERSION.match(str(version)) if isinstance(version, str) else None
    if not match:
        out.append(('errors', "{host} sets kube_version %s, which is not a Kubernetes release X.Y.Z (for example 1.32.3); "
                              "pin an exact release." % _show(version)))
    elif int(match.group(1)) < OLDEST_MINOR:
        out.append(('errors', "{host} sets kube_version %s; pkgs.k8s.io serves 1.%d and later only; choose a supported release."
                              % (_show(version), OLDEST_MINOR)))
    revision = hv.get('kube_packages_apt_revision')
    if hv.get('kube_packages_source') == 'apt' and not (isinstance(revision, str) and _REVISION.match(revision)):
        out.append(('errors', "{host} sets kube_packages_apt_revision %s, which is not a Debian revision (pkgs.k8s.io uses '1.1')."
                              % _show(revision)))
    for name in ('kube_packages_apt_base_url', 'kube_packages_binary_base_url'):
        url = hv.get(name)
        if isinstance(url, str) and not re.match(r'^(https?|file)://', url):
            out.append(('errors', "{host} sets %s %s, which is not an http(s):// or file:// URL." % (name, _show(url))))
    standin = hv.get('kube_packages_standin_url') or ''
    if standin and profile != 'lab':
        out.append(('errors', "{host} sets kube_packages_standin_url %s in the %s profile; the stand-in Kubernetes is for the "
                              "lab only: remove it." % (_show(standin), profile)))
    if hv.get('kube_packages_source') == 'binary':
        names = list(hv.get('kube_packages_names') or []) + ['crictl']
        sums = dict(hv.get('kube_packages_binary_sha256') or {})
        sums['crictl'] = hv.get('kube_packages_crictl_sha256') or ''
        missing = [n for n in names if not (isinstance(sums.get(n), str) and _SHA256.match(sums[n]))]
        if missing:
            # In the lab, with a stand-in repository, the real digests matter only if the real source answers.
            level = 'warnings' if (standin and profile == 'lab') else 'errors'
            variables = ', '.join(('kube_packages_crictl_sha256' if n == 'crictl' else 'kube_packages_binary_sha256.%s' % n)
                                  for n in missing)
            out.append((level, "{host} installs Kubernetes release binaries without a valid sha256 for %s; set %s "
                               "(the digests dl.k8s.io publishes next to each binary)." % (', '.join(missing), variables)))
        unknown = sorted(set(hv.get('kube_packages_binary_sha256') or {}) - {'kubeadm', 'kubelet', 'kubectl'})
        if unknown:
            out.append(('errors', "{host} sets kube_packages_binary_sha256 for %s, which the stage does not install "
                                  "(kubeadm, kubelet, kubectl)." % ', '.join(unknown)))
        if standin and profile == 'lab':
            ssums = hv.get('kube_packages_standin_sha256') or {}
            smissing = [n for n in names if not (isinstance(ssums.get(n), str) and _SHA256.match(ssums[n]))]
            if smissing:
                out.append(('errors', "{host} may fall back to the lab's stand-in binaries but kube_packages_standin_sha256 "
                                      "lacks a sha256 for %s." % ', '.join(smissing)))
    return out
