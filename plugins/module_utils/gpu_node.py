# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
"""The gpu stage's decisions, in plain Python: the Node labels and taint of each GPU node, the
NVIDIA device plugin DaemonSet and the RuntimeClass ``nvidia``, and what the stage says.

* Node metadata goes through plugins/module_utils/kubeadm/nodemeta.py with the owner ``gpu``:
  the labels and the taint the stage set are recorded in the Node's
  ``ironstone.k8s/gpu-managed-labels`` and ``-taints`` annotations, so that a label of a GPU that
  is gone is removed and nobody else's is.
* containerd's ``nvidia`` runtime is the runtime stage's (container_runtime_nvidia_runtime): it is
  written into config.toml, because in containerd 1.x an imported drop-in replaces a whole plugin
  section. This stage reports, per node, whether the toolkit is there and containerd has the runtime.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.ironstone.k8s.plugins.module_utils.kubeadm import nodemeta
from ansible_collections.ironstone.k8s.plugins.module_utils.kubeadm.config import KubeadmConfigError

OWNER = 'gpu'
TAINT_KEY = 'nvidia.com/gpu'
TAINT_VALUE = 'present'
TAINT_EFFECT = 'NoSchedule'
TAINT = '%s:%s' % (TAINT_KEY, TAINT_EFFECT)
PRESENT_LABEL = 'nvidia.com/gpu.present'

RUNTIME_NAME = 'nvidia'

NAMESPACE = 'kube-system'
# The name and selector of NVIDIA's static manifest (deployments/static/nvidia-device-plugin.yml), so
# that a device plugin deployed from it by hand is taken over rather than run twice on a node.
DAEMONSET_NAME = 'nvidia-device-plugin-daemonset'
DAEMONSET_SELECTOR = {'name': 'nvidia-device-plugin-ds'}
DAEMONSET_LABELS = {'app.kubernetes.io/name': 'nvidia-device-plugin', 'app.kubernetes.io/managed-by': 'ironstone'}
DEVICE_PLUGIN_IMAGE = 'k8s-device-plugin'
DEVICE_PLUGINS_DIR = '/var/lib/kubelet/device-plugins'
TOLERATION_KEYS = ('key', 'operator', 'value', 'effect', 'tolerationSeconds')
TOLERATION_OPERATORS = ('Exists', 'Equal')
TOLERATION_EFFECTS = ('', 'NoSchedule', 'PreferNoSchedule', 'NoExecute')

_VERSION = re.compile(r'^v\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?$')
_REGISTRY = re.compile(r'^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9]([-a-z0-9._]*[a-z0-9])?)*$')
_DNS1123 = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')


class GpuNodeError(Exception):
    """A setting or a node's state the gpu stage cannot work with; the message says what to do."""


# --------------------------------------------------------------------------
# Node labels and taint
# --------------------------------------------------------------------------

def wanted_meta(labels, taint):
    """(labels, taints) the gpu stage wants on a node: gpu_info's labels, and the GPU taint when
    ``taint`` is true and the node has GPUs. What it set before and does not want now goes."""
    labels = dict(labels or {})
    taints = {TAINT: TAINT_VALUE} if taint and labels.get(PRESENT_LABEL) == 'true' else {}
    return labels, taints


def _split(annotation):
    return set(part.strip() for part in str(annotation or '').split(',') if part.strip())


def _keep_others(node, patch):
    """Drop from ``patch`` the removals of labels and taints that the nodes stage also owns
    (recorded in its own annotations): those are kube_node_labels/kube_node_taints, not ours to remove."""
    meta = node.get('metadata') or {}
    annotations = meta.get('annotations') or {}
    labels_annotation, taints_annotation = nodemeta.managed_annotations('')
    theirs = _split(annotations.get(labels_annotation))
    labels = (patch.get('metadata') or {}).get('labels')
    if labels:
        for key in [k for k, v in labels.items() if v is None and k in theirs]:
            del labels[key]
        if not labels:
            del patch['metadata']['labels']
    if 'taints' in (patch.get('spec') or {}):
        theirs_t = _split(annotations.get(taints_annotation))
        current = list((node.get('spec') or {}).get('taints') or [])
        new = list(patch['spec']['taints'])
        new_ids = set('%s:%s' % (t.get('key'), t.get('effect')) for t in new)
        for position, taint in enumerate(current):
            taint_id = '%s:%s' % (taint.get('key'), taint.get('effect'))
            if taint_id in theirs_t and taint_id not in new_ids:
                new.insert(min(position, len(new)), taint)
        if new == current:
            del patch['spec']
        else:
            patch['spec']['taints'] = new
    if 'metadata' in patch and not patch['metadata']:
        del patch['metadata']
    return patch


def node_patches(nodes, wanted):
    """The Node merge patches that give each node its GPU labels and taint.

    ``nodes``: the Node objects (k8s_info's resources). ``wanted``: one entry per host, with
    ``name`` (the Node's name), ``labels`` (gpu_info's) and ``taint`` (bool). Returns
    ``patches`` (ready for kubernetes.core.k8s state=patched, merge_type=merge), ``changes``
    ("<node>: <what its patch does>", in the order of ``wanted``) and ``missing`` (names without a
    Node object)."""
    by_name = dict(((n.get('metadata') or {}).get('name'), n) for n in nodes or [])
    patches, changes, missing = [], [], []
    for entry in wanted or []:
        name = entry.get('name')
        node = by_name.get(name)
        if node is None:
            missing.append(name)
            continue
        labels, taints = wanted_meta(entry.get('labels'), entry.get('taint'))
        try:
            patch = nodemeta.node_meta_patch(node, labels, taints, OWNER)
        except KubeadmConfigError as exc:
            raise GpuNodeError('node %s: %s' % (name, exc))
        patch = _keep_others(node, patch)
        if not patch:
            continue
        changes.append('%s: %s' % (name, nodemeta.node_meta_summary(patch, node)))
        patch.setdefault('metadata', {})['name'] = name
        patch['apiVersion'] = 'v1'
        patch['kind'] = 'Node'
        patches.append(patch)
    return {'patches': patches, 'changes': changes, 'missing': sorted(missing)}


# --------------------------------------------------------------------------
# The cluster's objects
# --------------------------------------------------------------------------

def runtime_class():
    """The RuntimeClass ``nvidia`` (handler ``nvidia``, containerd's runtime of that name)."""
    return {
        'apiVersion': 'node.k8s.io/v1',
        'kind': 'RuntimeClass',
        'metadata': {'name': RUNTIME_NAME, 'labels': {'app.kubernetes.io/managed-by': 'ironstone'}},
        'handler': RUNTIME_NAME,
    }


def device_plugin_image(registry, version):
    """``<registry>/k8s-device-plugin:<version>``; refuses a version or registry it cannot use."""
    version = str(version or '')
    if not _VERSION.match(version):
        raise GpuNodeError('gpu_device_plugin_version %r is not a release tag like v0.17.4; '
                           'set it to a tag of nvcr.io/nvidia/k8s-device-plugin.' % (version,))
    registry = str(registry or '').strip().rstrip('/')
    if '://' in registry or not _REGISTRY.match(registry):
        raise GpuNodeError('gpu_registry %r is not a registry and path like nvcr.io/nvidia or mirror.example:5000/nvidia '
                           '(no scheme, lower case); set it to where k8s-device-plugin images are.' % (registry,))
    return '%s/%s:%s' % (registry, DEVICE_PLUGIN_IMAGE, version)


def _tolerations(extra):
    out = [{'key': TAINT_KEY, 'operator': 'Exists', 'effect': TAINT_EFFECT}]
    if extra is None:
        return out
    if not isinstance(extra, list):
        raise GpuNodeError('gpu_device_plugin_tolerations must be a list of tolerations, got %r.' % (extra,))
    for item in extra:
        if not isinstance(item, dict):
            raise GpuNodeError('gpu_device_plugin_tolerations: %r is not a toleration (a mapping).' % (item,))
        unknown = sorted(set(item) - set(TOLERATION_KEYS))
        if unknown:
            raise GpuNodeError('gpu_device_plugin_tolerations: %r has unknown fields %s; a toleration has %s.'
                               % (item, ', '.join(unknown), ', '.join(TOLERATION_KEYS)))
        operator = item.get('operator', 'Equal')
        if operator not in TOLERATION_OPERATORS:
            raise GpuNodeError('gpu_device_plugin_tolerations: operator %r of %r is not Exists or Equal.' % (operator, item))
        if item.get('effect', '') not in TOLERATION_EFFECTS:
            raise GpuNodeError('gpu_device_plugin_tolerations: effect %r of %r is not one of NoSchedule, PreferNoSchedule, '
                               'NoExecute (or empty for all).' % (item.get('effect'), item))
        if operator == 'Exists' and item.get('value'):
            raise GpuNodeError('gpu_device_plugin_tolerations: %r has a value with operator Exists; drop the value.' % (item,))
        if not item.get('key') and operator != 'Exists':
            raise GpuNodeError('gpu_device_plugin_tolerations: %r has no key; an empty key needs operator Exists.' % (item,))
        if item not in out:
            out.append(dict(item))
    return out


def device_plugin_daemonset(p):
    """The NVIDIA device plugin DaemonSet (apps/v1) in kube-system, on the nodes labelled
    ``nvidia.com/gpu.present=true``, tolerating the GPU taint.

    ``p``: ``version``, ``registry``, ``runtime_class`` (the RuntimeClass its pods run with;
    empty: the node's default runtime) and ``tolerations`` (more tolerations)."""
    image = device_plugin_image(p.get('registry'), p.get('version'))
    runtime = str(p.get('runtime_class') or '')
    if runtime and not _DNS1123.match(runtime):
        raise GpuNodeError('gpu_device_plugin_runtime_class %r is not a RuntimeClass name; use nvidia, or empty for '
                           "the node's default runtime." % (runtime,))
    labels = dict(DAEMONSET_LABELS, **{'app.kubernetes.io/version': p.get('version')})
    pod_spec = {
        'priorityClassName': 'system-node-critical',
        'nodeSelector': {PRESENT_LABEL: 'true'},
        'tolerations': _tolerations(p.get('tolerations')),
        'containers': [{
            'name': 'nvidia-device-plugin-ctr',
            'image': image,
            # A node whose driver is not working gets no GPUs advertised instead of a crash loop.
            'env': [{'name': 'FAIL_ON_INIT_ERROR', 'value': 'false'}],
            'securityContext': {'allowPrivilegeEscalation': False, 'capabilities': {'drop': ['ALL']}},
            'volumeMounts': [{'name': 'device-plugin', 'mountPath': DEVICE_PLUGINS_DIR}],
        }],
        'volumes': [{'name': 'device-plugin', 'hostPath': {'path': DEVICE_PLUGINS_DIR, 'type': 'Directory'}}],
    }
    if runtime:
        pod_spec['runtimeClassName'] = runtime
    return {
        'apiVersion': 'apps/v1',
        'kind': 'DaemonSet',
        'metadata': {'name': DAEMONSET_NAME, 'namespace': NAMESPACE, 'labels': labels},
        'spec': {
            'selector': {'matchLabels': dict(DAEMONSET_SELECTOR)},
            'updateStrategy': {'type': 'RollingUpdate'},
            'template': {
                'metadata': {'labels': dict(DAEMONSET_SELECTOR, **DAEMONSET_LABELS)},
                'spec': pod_spec,
            },
        },
    }


def cluster_objects(p):
    """What the stage applies: the RuntimeClass, then (``device_plugin`` true) the DaemonSet."""
    objects = [runtime_class()]
    if p.get('device_plugin', True):
        objects.append(device_plugin_daemonset(p))
    return objects


# --------------------------------------------------------------------------
# What the stage says
# --------------------------------------------------------------------------

def _gpu_text(gpus):
    counts, order = {}, []
    for gpu in gpus or []:
        name = gpu.get('product') or 'unknown GPU %s' % (gpu.get('device_id') or '?')
        if name not in counts:
            order.append(name)
        counts[name] = counts.get(name, 0) + 1
    return ' + '.join('%dx %s' % (counts[name], name) for name in order)


def summary(states):
    """``summary``: one line, which nodes have which GPUs and which have the toolkit (by name);
    ``toolkit_absent``: one line naming each node without the NVIDIA container toolkit (empty
    when every node has it); ``warnings``: GPU nodes without a driver or without the toolkit, and
    nodes with the toolkit whose containerd has no nvidia runtime (a state's ``runtime`` False)."""
    gpu_nodes, plain, toolkit, absent, warnings = [], [], [], [], []
    for state in sorted(states or [], key=lambda s: str(s.get('name'))):
        name = state.get('name')
        gpus = state.get('gpus') or []
        driver = state.get('driver') or {}
        if gpus:
            text = '%s %s' % (name, _gpu_text(gpus))
            if driver.get('version'):
                text += ' (driver %s)' % driver['version']
            gpu_nodes.append(text)
            if not driver.get('present'):
                warnings.append('%s has GPUs but no NVIDIA driver (no nvidia-smi, no nvidia kernel module); '
                                'this stage installs no drivers: install them, then run it again.' % name)
            elif driver.get('error'):
                warnings.append('%s: %s' % (name, driver['error']))
        else:
            plain.append(name)
        if state.get('toolkit'):
            toolkit.append(name)
            if state.get('runtime') is False:
                warnings.append('%s has the NVIDIA container toolkit (%s) but containerd has no nvidia runtime: run '
                                'playbooks/runtime.yml (container_runtime_nvidia_runtime: true adds it), then this stage again.'
                                % (name, state['toolkit']))
        else:
            absent.append('%s (%s)' % (name, 'has GPUs: GPU pods cannot run there' if gpus else 'no GPU'))
            if gpus:
                warnings.append('%s has GPUs but no NVIDIA container toolkit (nvidia-container-runtime not on PATH); '
                                'install nvidia-container-toolkit there, then run this stage again.' % name)
    line = 'GPU nodes: %s; without GPUs: %s; NVIDIA container toolkit on: %s.' % (
        ', '.join(gpu_nodes) or 'none', ', '.join(plain) or 'none', ', '.join(toolkit) or 'none')
    absent_line = ''
    if absent:
        absent_line = ('No NVIDIA container toolkit (nvidia-container-runtime not found on PATH), so no nvidia runtime '
                       'in containerd, on: %s.' % ', '.join(absent))
    return {'summary': line, 'toolkit_absent': absent_line, 'warnings': warnings}
