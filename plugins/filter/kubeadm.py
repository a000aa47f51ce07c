# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
"""kubeadm configuration files, the CA pin, kubeconfig expiry and Node labels/taints, as filters.

The work is done in plugins/module_utils/kubeadm; these wrap its
KubeadmConfigError into AnsibleFilterError with the same message.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.ironstone.k8s.plugins.plugin_utils.filters import reraise_as_filter_error
from ansible_collections.ironstone.k8s.plugins.module_utils.kubeadm import certs, config, nodemeta

_filter = reraise_as_filter_error(config.KubeadmConfigError)


@_filter
def kubeadm_init_config(p):
    """YAML text of kubeadm init's configuration (Init, Cluster, Kubelet and KubeProxyConfiguration)."""
    return config.dump(config.init_documents(p))


@_filter
def kubeadm_join_config(p):
    """YAML text of kubeadm join's JoinConfiguration."""
    return config.dump([config.join_document(p)])


@_filter
def kubeadm_redact(text):
    """``text`` with bootstrap tokens and certificate keys replaced by <redacted>."""
    return config.redact(text)


@_filter
def kube_ca_cert_hash(pem):
    """kubeadm's discovery-token-ca-cert-hash of a PEM CA certificate."""
    return certs.ca_cert_hash(pem)


@_filter
def kube_kubeconfig_expiry(text):
    """Expiry of a kubeconfig's client certificate, or None."""
    return certs.kubeconfig_client_expiry(text)


@_filter
def kube_node_meta_patch(node, labels, taints, owner=''):
    """Merge patch of the labels and taints the collection owns on a Node ({} when none is needed)."""
    return nodemeta.node_meta_patch(node, labels, taints, owner)


@_filter
def kube_node_meta_summary(patch, node=None):
    """Short text of what a kube_node_meta_patch patch does."""
    return nodemeta.node_meta_summary(patch, node)


class FilterModule(object):
    """kubeadm configuration and Node metadata."""

    def filters(self):
        return {
            'kubeadm_init_config': kubeadm_init_config,
            'kubeadm_join_config': kubeadm_join_config,
            'kubeadm_redact': kubeadm_redact,
            'kube_ca_cert_hash': kube_ca_cert_hash,
            'kube_kubeconfig_expiry': kube_kubeconfig_expiry,
            'kube_node_meta_patch': kube_node_meta_patch,
            'kube_node_meta_summary': kube_node_meta_summary,
        }
