# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
"""Day-2 node operations: which node a removal means and whether it is safe, and which pods
(and which PodDisruptionBudgets) held up a drain.

Pure functions over the objects the API returns, so that the playbooks' decisions are unit
tested: playbooks/remove_node.yml and playbooks/reset.yml (role node_ops) call them through
plugins/filter/node_ops.py.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type


class NodeOpsError(Exception):
    """A refusal, with the message the operator sees."""


CONTROL_PLANE_LABEL = 'node-role.kubernetes.io/control-plane'
MIRROR_ANNOTATION = 'kubernetes.io/config.mirror'


def _meta(obj):
    return (obj or {}).get('metadata') or {}


def _ready(obj):
    """Whether a Node's or a Pod's Ready condition is True."""
    for cond in (obj.get('status') or {}).get('conditions') or []:
        if cond.get('type') == 'Ready':
            return cond.get('status') == 'True'
    return False


def match_selector(selector, labels):
    """Whether a metav1.LabelSelector selects these labels.

    ``None`` selects nothing; ``{}`` selects everything (policy/v1 PodDisruptionBudget semantics).
    """
    if selector is None:
        return False
    labels = labels or {}
    for key, value in (selector.get('matchLabels') or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get('matchExpressions') or []:
        key, op, values = expr.get('key'), expr.get('operator'), expr.get('values') or []
        if op == 'In':
            ok = key in labels and labels[key] in values
        elif op == 'NotIn':
            ok = key not in labels or labels[key] not in values
        elif op == 'Exists':
            ok = key in labels
        elif op == 'DoesNotExist':
            ok = key not in labels
        else:
            raise NodeOpsError('unknown label selector operator %r' % (op,))
        if not ok:
            return False
    return True


def _evictable(pod):
    """Pods kubectl drain evicts: not mirror pods, not DaemonSet pods, not finished."""
    meta = _meta(pod)
    if MIRROR_ANNOTATION in (meta.get('annotations') or {}):
        return False
    for ref in meta.get('ownerReferences') or []:
        if ref.get('controller') and ref.get('kind') == 'DaemonSet':
            return False
    return (pod.get('status') or {}).get('phase') not in ('Succeeded', 'Failed')


def _scaled(value, total):
    """An IntOrString of a budget: an int, or a percentage of ``total`` rounded up."""
    if isinstance(value, int):
        return value
    text = str(value)
    if text.endswith('%'):
        return -(-int(text[:-1]) * total // 100)
    return int(text)


def pdb_allowance(pdb, pods):
    """(allowed, healthy, desired) of a PodDisruptionBudget.

    From its status when the disruption controller has written it; otherwise worked out the way
    that controller does, from the pods of its namespace that its selector selects.
    """
    status = pdb.get('status') or {}
    if 'disruptionsAllowed' in status:
        return status['disruptionsAllowed'], status.get('currentHealthy', 0), status.get('desiredHealthy', 0)
    meta, spec = _meta(pdb), pdb.get('spec') or {}
    selected = [p for p in pods or [] if _meta(p).get('namespace') == meta.get('namespace')
                and match_selector(spec.get('selector'), _meta(p).get('labels'))
                and not _meta(p).get('deletionTimestamp')]
    healthy = sum(1 for p in selected if _ready(p))
    if 'minAvailable' in spec:
        desired = _scaled(spec['minAvailable'], len(selected))
    elif 'maxUnavailable' in spec:
        desired = max(0, len(selected) - _scaled(spec['maxUnavailable'], len(selected)))
    else:
        desired = 0
    return max(0, healthy - desired), healthy, desired


def drain_blockers(pods, pdbs, node):
    """What still holds ``node`` after a drain gave up.

    ``pods`` and ``pdbs`` are every Pod and PodDisruptionBudget (as the API lists them). Returns a
    list, sorted by pod, of ``{'pod': 'ns/name', 'pdbs': ['ns/pdb', ...], 'reason': text}`` for each
    pod still on the node that a drain evicts; ``pdbs`` names the budgets that select it and allow no
    disruption now.
    """
    budgets = []
    for pdb in pdbs or []:
        meta = _meta(pdb)
        budgets.append((meta.get('namespace'), meta.get('name'), (pdb.get('spec') or {}).get('selector'), pdb_allowance(pdb, pods)))
    out = []
    for pod in pods or []:
        if (pod.get('spec') or {}).get('nodeName') != node or not _evictable(pod):
            continue
        meta = _meta(pod)
        namespace, name = meta.get('namespace'), meta.get('name')
        holding, reasons = [], []
        for pdb_ns, pdb_name, selector, (allowed, healthy, desired) in budgets:
            if pdb_ns != namespace or not match_selector(selector, meta.get('labels')):
                continue
            if allowed < 1:
                holding.append('%s/%s' % (pdb_ns, pdb_name))
                reasons.append('PodDisruptionBudget %s/%s allows %d disruption(s): %d healthy of %d desired'
                               % (pdb_ns, pdb_name, allowed, healthy, desired))
        if not reasons:
            reasons.append('not evicted within the drain timeout (no PodDisruptionBudget holds it: look at its '
                           'termination grace period and finalizers)')
        out.append({'pod': '%s/%s' % (namespace, name), 'pdbs': sorted(holding), 'reason': '; '.join(reasons)})
    return sorted(out, key=lambda item: item['pod'])


def drain_message(node, blockers, timeout):
    """The failure message of a drain that did not finish."""
    if not blockers:
        return 'The drain of %s did not finish within %ss.' % (node, timeout)
    lines = ['The drain of %s did not finish within %ss; these pods are still on it:' % (node, timeout)]
    lines.extend('- %s: %s' % (item['pod'], item['reason']) for item in blockers)
    return '\n'.join(lines)


def removal_plan(node, nodes, hosts, control_plane_hosts, etcd_hosts, reachable=True):
    """Check a removal of ``node`` and say what it means.

    Returns the plan with ``refused`` None, or ``{'refused': message}``.
    """
    try:
        plan = _removal_plan(node, nodes, hosts, control_plane_hosts, etcd_hosts, reachable)
    except NodeOpsError as exc:
        return {'refused': str(exc)}
    plan['refused'] = None
    return plan


def _removal_plan(node, nodes, hosts, control_plane_hosts, etcd_hosts, reachable):
    """The plan of removal_plan, or NodeOpsError.

    ``nodes``: the cluster's Node objects; ``hosts``: ``[{'host', 'name', 'address'}]`` of the
    inventory's Kubernetes hosts (filter kube_nodes); ``control_plane_hosts`` / ``etcd_hosts``: the
    inventory groups. The name must match a Node exactly. A control-plane node is refused when it
    is the last one, or when another control-plane Node is not Ready (the removal would leave a
    broken control plane).
    """
    if not isinstance(node, str) or not node.strip():
        raise NodeOpsError('Say which node to remove: -e node=NAME (the exact Node name).')
    if node != node.strip() or any(ch in node for ch in '*?[],:!&'):
        raise NodeOpsError('%r is not a Node name: the name must match exactly, patterns are not accepted.' % (node,))
    by_name = dict((_meta(n).get('name'), n) for n in nodes or [])
    if node not in by_name:
        raise NodeOpsError('The cluster has no Node named %s. Its Nodes are: %s.' % (node, ', '.join(sorted(by_name)) or 'none'))
    matches = [h for h in hosts or [] if h.get('name') == node]
    if len(matches) > 1:
        raise NodeOpsError('More than one inventory host has the node name %s: %s.' % (node, ', '.join(h['host'] for h in matches)))
    host = matches[0]['host'] if matches else None
    if host is None and reachable:
        raise NodeOpsError('No inventory host has the node name %s, so its host cannot be reset. To delete only the Node '
                           'object (the host is gone), pass -e reachable=no.' % node)
    labels = _meta(by_name[node]).get('labels') or {}
    control_plane = (host in (control_plane_hosts or [])) or CONTROL_PLANE_LABEL in labels
    cp_names = set(h['name'] for h in hosts or [] if h['host'] in (control_plane_hosts or []))
    cp_names.update(name for name, obj in by_name.items() if CONTROL_PLANE_LABEL in (_meta(obj).get('labels') or {}))
    remaining = sorted(name for name in cp_names if name != node and name in by_name)
    if control_plane:
        if not remaining:
            raise NodeOpsError('%s is the last control-plane node: removing it would leave the cluster without an API '
                               'server. Refused.' % node)
        broken = [name for name in remaining if not _ready(by_name[name])]
        if broken:
            raise NodeOpsError('Removing %s would leave a broken control plane: %s %s not Ready. Bring %s back first.'
                               % (node, ', '.join(broken), 'is' if len(broken) == 1 else 'are', 'it' if len(broken) == 1 else 'them'))
    api_hosts = [h['host'] for h in hosts or [] if h['host'] in (control_plane_hosts or [])
                 and h['host'] != host and h['name'] != node and h['name'] in by_name]
    if not api_hosts:
        raise NodeOpsError('No other control-plane host of the inventory is a Node of the cluster, so nothing can drain %s.' % node)
    return {
        'node': node,
        'api_host': api_hosts[0],
        'host': host,
        'control_plane': bool(control_plane),
        'etcd': host in (etcd_hosts or []),
        'remaining_control_plane': remaining,
        'reachable': bool(reachable),
    }
