# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
"""Day-2 node operations, as filters: the removal plan of a node and what held up a drain.

The work is done in plugins/module_utils/node_ops.py; these wrap its NodeOpsError into
AnsibleFilterError with the same message.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.ironstone.k8s.plugins.plugin_utils.filters import reraise_as_filter_error
from ansible_collections.ironstone.k8s.plugins.module_utils import node_ops

_filter = reraise_as_filter_error(node_ops.NodeOpsError)


@_filter
def node_ops_removal_plan(node, nodes, hosts, control_plane_hosts, etcd_hosts, reachable=True):
    """node / host / control_plane / etcd / remaining_control_plane / reachable, or a refusal."""
    return node_ops.removal_plan(node, nodes, hosts, control_plane_hosts, etcd_hosts, reachable)


@_filter
def node_ops_drain_blockers(pods, pdbs, node):
    """The pods still on the node after a drain, each with the budgets that hold it."""
    return node_ops.drain_blockers(pods, pdbs, node)


def node_ops_drain_message(blockers, node, timeout):
    """The message of a drain that did not finish."""
    return node_ops.drain_message(node, blockers, timeout)


class FilterModule(object):
    """Day-2 node operations."""

    def filters(self):
        return {
            'node_ops_removal_plan': node_ops_removal_plan,
            'node_ops_drain_blockers': node_ops_drain_blockers,
            'node_ops_drain_message': node_ops_drain_message,
        }
