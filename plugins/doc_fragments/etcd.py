# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """Connection options (DOCUMENTATION) and attributes (ATTRIBUTES) shared by the ironstone.k8s etcd modules."""

    DOCUMENTATION = r'''
options:
  endpoints:
    description:
      - etcd client URLs to talk to, tried in order; the next one is used when one cannot be reached,
        fails TLS, times out or answers "unavailable" (no leader).
      - A URL without a scheme gets C(https://).
      - The modules use etcd's v3 JSON gateway under C(/v3/), served on every client URL of etcd 3.4 and newer.
    type: list
    elements: str
    default: ['https://127.0.0.1:2379']
  ca_file:
    description:
      - PEM file with the CA certificate that signed the etcd server certificates.
      - When not set, the system trust store is used.
    type: path
  cert_file:
    description:
      - PEM client certificate presented to etcd (etcd runs with C(--client-cert-auth)).
      - Must be given together with O(key_file).
    type: path
  key_file:
    description:
      - PEM private key of O(cert_file), unencrypted.
      - Must be given together with O(cert_file).
    type: path
  timeout:
    description:
      - Seconds to wait to connect to an endpoint and for each answer (or each piece of a snapshot stream).
    type: int
    default: 10
notes:
  - Needs only the Python standard library on the managed node; no etcd or gRPC client is installed.
  - etcd RBAC authentication (C(etcdctl auth enable)) is not supported; the cluster must be secured with client-certificate TLS.
  - Needs etcd 3.4 or newer (learner members and the C(/v3/) gateway path).
'''

    # Every etcd module supports check mode and produces no diff; a module says what
    # it does in check mode under attributes.check_mode.details.
    ATTRIBUTES = r'''
options: {}
attributes:
  check_mode:
    support: full
    description: Can run in check mode and then reports what it would change without changing anything.
  diff_mode:
    support: none
    description: No diff is produced.
  platform:
    platforms: posix
    support: full
    description: Runs on any POSIX host with Python 3; needs only the Python standard library.
'''
