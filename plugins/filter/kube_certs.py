# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
"""The kubeadm certificate report and renewal choice of the kube_certs role, as filters.

The work is done in plugins/module_utils/kubeadm/cert_expiry.py; these wrap its
CertExpiryError into AnsibleFilterError with the same message.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.ironstone.k8s.plugins.plugin_utils.filters import reraise_as_filter_error
from ansible_collections.ironstone.k8s.plugins.module_utils.kubeadm import cert_expiry

_filter = reraise_as_filter_error(cert_expiry.CertExpiryError)


@_filter
def kube_certs_parse(text):
    """The certificates and CAs of ``kubeadm certs check-expiration``'s text output."""
    return cert_expiry.parse_check_expiration(text)


@_filter
def kube_certs_etcd_files(pki_dir, etcd_member):
    """The etcd role's certificate files on a node: name and path."""
    return cert_expiry.etcd_files(pki_dir, bool(etcd_member))


@_filter
def kube_certs_etcd(slurped):
    """Expiry entries of the etcd role's certificates, from the results of a slurp loop over kube_certs_etcd_files."""
    if not isinstance(slurped, list):
        raise cert_expiry.CertExpiryError('kube_certs_etcd needs the results list of a slurp loop, not %s' % type(slurped).__name__)
    files = []
    for result in slurped:
        if not isinstance(result, dict) or not isinstance(result.get('item'), dict):
            raise cert_expiry.CertExpiryError('kube_certs_etcd needs the results of a slurp loop over kube_certs_etcd_files')
        item = result['item']
        failed = result.get('failed') or 'content' not in result
        files.append({'name': item.get('name'), 'path': item.get('path'),
                      'content': None if failed else result['content'],
                      'error': _slurp_error(result.get('msg')) if failed else None})
    return cert_expiry.etcd_certificates(files)


def _slurp_error(msg):
    text = str(msg or 'not found')
    return 'not found' if 'not found' in text or 'No such file' in text else text


@_filter
def kube_certs_plan(kubeadm, etcd=None, renew_before_days=60, force=False, now=None):
    """What to renew on one node and the state of every certificate."""
    return cert_expiry.plan(kubeadm, etcd, renew_before_days, force, now)


@_filter
def kube_certs_table(plan, host, check_mode=False):
    """The report of one node, as lines."""
    return cert_expiry.table_lines(plan, host, bool(check_mode))


@_filter
def kube_certs_renewal_check(before, after, now=None):
    """Problems and changes of a renewal: did every renewed certificate move forward?"""
    return cert_expiry.renewal_check(before, after, now)


class FilterModule(object):
    """kubeadm certificate expiry and renewal."""

    def filters(self):
        return {
            'kube_certs_parse': kube_certs_parse,
            'kube_certs_etcd_files': kube_certs_etcd_files,
            'kube_certs_etcd': kube_certs_etcd,
            'kube_certs_plan': kube_certs_plan,
            'kube_certs_table': kube_certs_table,
            'kube_certs_renewal_check': kube_certs_renewal_check,
        }
