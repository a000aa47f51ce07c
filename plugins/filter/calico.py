# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
"""Calico through the tigera operator, as filters: the release table, the operator's manifests,
and the Installation and APIServer resources.

The work is done in plugins/module_utils/calico.py; these wrap its CalicoError into
AnsibleFilterError with the same message.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.ironstone.k8s.plugins.plugin_utils.filters import reraise_as_filter_error
from ansible_collections.ironstone.k8s.plugins.module_utils import calico

_filter = reraise_as_filter_error(calico.CalicoError)


@_filter
def calico_release(version):
    """The operator release and manifests of a Calico version."""
    return calico.calico_release(version)


@_filter
def calico_sources(version, base_url, standin_url=''):
    """The manifests' URLs, for preflight's source check."""
    return calico.sources(version, base_url, standin_url)


@_filter
def calico_installation(p):
    """The Installation ``default``."""
    return calico.installation(p)


def calico_apiserver(_ignored=None):
    """The APIServer ``default``."""
    return calico.apiserver()


@_filter
def calico_load_manifests(texts):
    """Every YAML document of the manifests' texts, in order, empty ones left out. LibYAML's safe loader when
    PyYAML has it: the operator's CRDs are megabytes, which the pure-Python loader behind from_yaml_all takes
    seconds to read."""
    import yaml  # pylint: disable=import-outside-toplevel
    loader = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)
    docs = []
    for text in texts or []:
        try:
            docs.extend(doc for doc in yaml.load_all(str(text), Loader=loader) if doc)
        except yaml.YAMLError as exc:
            raise AnsibleFilterError('A Calico manifest is not valid YAML: %s' % exc)
    return docs


def calico_manifest_objects(documents, registry=''):
    """The operator manifests' objects, the operator image under ``registry``."""
    return calico.manifest_objects(documents, registry)


def calico_split_by_namespace(objects, namespaces):
    """{'ready': [...], 'pending': [...]}: pending objects are in a namespace the manifests create.
    No namespaces (None): nothing is held back, every object is ready, in its order."""
    if namespaces is None:
        return {'ready': list(objects or []), 'pending': []}
    ready, pending = calico.split_by_namespace(objects, namespaces)
    return {'ready': ready, 'pending': pending}


class FilterModule(object):
    """Calico."""

    def filters(self):
        return {
            'calico_release': calico_release,
            'calico_sources': calico_sources,
            'calico_installation': calico_installation,
            'calico_apiserver': calico_apiserver,
            'calico_load_manifests': calico_load_manifests,
            'calico_manifest_objects': calico_manifest_objects,
            'calico_split_by_namespace': calico_split_by_namespace,
        }
