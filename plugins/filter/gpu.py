# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
"""The gpu stage, as filters: the GPU nodes' label and taint patches, the RuntimeClass and device
plugin DaemonSet, and what the stage says.

The work is done in plugins/module_utils/gpu_node.py; these wrap its GpuNodeError into
AnsibleFilterError with the same message.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.ironstone.k8s.plugins.plugin_utils.filters import reraise_as_filter_error
from ansible_collections.ironstone.k8s.plugins.module_utils import gpu_node

_filter = reraise_as_filter_error(gpu_node.GpuNodeError)


@_filter
def gpu_node_patches(nodes, wanted):
    """patches / changes / missing: the Node merge patches of the GPU labels and taint (owner gpu)."""
    return gpu_node.node_patches(nodes, wanted)


@_filter
def gpu_cluster_objects(p):
    """The RuntimeClass nvidia and, unless device_plugin is false, the device plugin DaemonSet."""
    return gpu_node.cluster_objects(p)


def gpu_summary(states):
    """summary / toolkit_absent / warnings: what the stage found on the nodes."""
    return gpu_node.summary(states)


class FilterModule(object):
    """The gpu stage."""

    def filters(self):
        return {
            'gpu_node_patches': gpu_node_patches,
            'gpu_cluster_objects': gpu_cluster_objects,
            'gpu_summary': gpu_summary,
        }
