# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# Filters of the diagnose role (playbooks/diagnose.yml, playbooks/netdebug.yml); the logic is in
# plugins/module_utils/diagnose.py.

from ansible_collections.ironstone.k8s.plugins.module_utils import diagnose as _d
from ansible_collections.ironstone.k8s.plugins.module_utils.kubeadm.cert_expiry import CertExpiryError
from ansible_collections.ironstone.k8s.plugins.plugin_utils.filters import reraise_as_filter_error

_ERRORS = (_d.DiagnoseError, CertExpiryError)


@reraise_as_filter_error(*_ERRORS)
def diagnose_pods_to_describe(pods):
    return _d.pods_to_describe(pods)


@reraise_as_filter_error(*_ERRORS)
def diagnose_restarted_containers(pods):
    return _d.restarted_containers(pods)


@reraise_as_filter_error(*_ERRORS)
def diagnose_summary(pods, nodes, pvcs, events, etcd=None, certs=None, unreachable=None, days=30, now=None, api_errors=''):
    return _d.summary(pods, nodes, pvcs, events, etcd, certs, unreachable, int(days), now, api_errors)


@reraise_as_filter_error(*_ERRORS)
def diagnose_etcd_cert_files(pki_dir, member):
    return _d.etcd_cert_files(pki_dir, member)


@reraise_as_filter_error(*_ERRORS)
def diagnose_summary_lines(result):
    return _d.summary_lines(result)


@reraise_as_filter_error(*_ERRORS)
def diagnose_pod_ref(value):
    namespace, name = _d.parse_pod_ref(value)
    return {'namespace': namespace, 'name': name}


@reraise_as_filter_error(*_ERRORS)
def diagnose_netdebug_options(count, seconds, capture_filter=''):
    return _d.netdebug_options(count, seconds, capture_filter)


@reraise_as_filter_error(*_ERRORS)
def diagnose_netdebug_target(pod, ref, container=''):
    return _d.netdebug_target(pod, ref, container)


class FilterModule(object):
    """Diagnosis of a running cluster."""

    def filters(self):
        return {'diagnose_pods_to_describe': diagnose_pods_to_describe,
                'diagnose_restarted_containers': diagnose_restarted_containers,
                'diagnose_summary': diagnose_summary, 'diagnose_etcd_cert_files': diagnose_etcd_cert_files, 'diagnose_summary_lines': diagnose_summary_lines,
                'diagnose_pod_ref': diagnose_pod_ref, 'diagnose_netdebug_options': diagnose_netdebug_options,
                'diagnose_netdebug_target': diagnose_netdebug_target}
