# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
"""The monitoring stage as filters: metrics-server's objects and image, the PodRestarts PrometheusRule, the
check for the PrometheusRule CRD, the rule file written without it, and the summary of the kubelet
serving-certificate approvals.

The work is done in plugins/module_utils/metrics_server.py; these wrap its MonitoringError into
AnsibleFilterError with the same message.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.ironstone.k8s.plugins.plugin_utils.filters import reraise_as_filter_error
from ansible_collections.ironstone.k8s.plugins.module_utils import metrics_server

_filter = reraise_as_filter_error(metrics_server.MonitoringError)


@_filter
def metrics_server_objects(p):
    """metrics-server's objects, the Deployment last."""
    return metrics_server.objects(p)


@_filter
def metrics_server_image(registry, version):
    """The image metrics-server runs."""
    return metrics_server.image(registry, version)


@_filter
def alerts_pod_restart_rule(p):
    """The PrometheusRule of the PodRestarts alert."""
    return metrics_server.pod_restart_rule(p)


def alerts_crd_served(crds, version='v1'):
    """True when the PrometheusRule CRD is among ``crds``, Established and serving ``version``."""
    return metrics_server.crd_serves(crds, version)


def alerts_rule_file(rule, kubeconfig=''):
    """The rule file's text."""
    return metrics_server.rule_file(rule, kubeconfig)


def metrics_server_csr_summary(result, check_mode=False):
    """One sentence about a kubelet_serving_csr result (approved, refused with reasons, nodes without a certificate)."""
    result = result or {}
    if result.get('skipped'):
        return 'Kubelet serving certificates: not approved by this stage (metrics_server_approve_kubelet_serving is false).'
    approved = result.get('approved') or []
    refused = result.get('refused') or []
    verb = 'would approve' if check_mode else 'approved'
    parts = ['%s %d (%s)' % (verb, len(approved), ', '.join('%s for %s' % (e['name'], e['node']) for e in approved) or 'none')]
    if refused:
        parts.append('left pending %d: %s' % (len(refused), '; '.join('%s: %s' % (e['name'], e['reason']) for e in refused)))
    without = result.get('nodes_without_certificate') or []
    if without:
        parts.append('no approved or issued request from %s' % ', '.join(without))
    return 'Kubelet serving certificates: ' + '; '.join(parts) + '.'


class FilterModule(object):
    """The monitoring stage."""

    def filters(self):
        return {
            'metrics_server_objects': metrics_server_objects,
            'metrics_server_image': metrics_server_image,
            'metrics_server_csr_summary': metrics_server_csr_summary,
            'alerts_pod_restart_rule': alerts_pod_restart_rule,
            'alerts_crd_served': alerts_crd_served,
            'alerts_rule_file': alerts_rule_file,
        }
