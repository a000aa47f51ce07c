# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# The labels and taints the collection owns on a Node, as a JSON merge patch
# (RFC 7386, Content-Type application/merge-patch+json).
#
# Two annotations on the Node record what the collection set last time:
#   ironstone.k8s/managed-labels  comma-separated sorted label keys
#   ironstone.k8s/managed-taints  comma-separated sorted key:Effect
# A label or taint recorded there and no longer wanted is removed; one not
# recorded and not wanted is someone else's and stays.  A wanted value of None
# removes the label/taint whoever set it, and is not recorded.

import re

from ansible_collections.ironstone.k8s.plugins.module_utils.kubeadm.config import (
    KubeadmConfigError, TAINT_EFFECTS, _label_key_problem, _label_value_problem)

MANAGED_LABELS = 'ironstone.k8s/managed-labels'
MANAGED_TAINTS = 'ironstone.k8s/managed-taints'
# Another part of the collection that owns labels and taints of its own (the gpu role) records
# them under ironstone.k8s/<owner>-managed-labels and -taints, so that neither removes the other's.
_OWNER = re.compile(r'^[a-z][a-z0-9-]{0,30}$')


def managed_annotations(owner=''):
    """(labels annotation, taints annotation) of an owner; the node stage's without one."""
    if not owner:
        return MANAGED_LABELS, MANAGED_TAINTS
    if not isinstance(owner, str) or not _OWNER.match(owner):
        raise KubeadmConfigError('owner %r is not a short lower-case name' % (owner,))
    return 'ironstone.k8s/%s-managed-labels' % owner, 'ironstone.k8s/%s-managed-taints' % owner


def label_key_error(key):
    """Why ``key`` is not a valid label key, or None."""
    problem = _label_key_problem(key)
    return None if problem is None else 'label key %r: %s' % (key, problem)


def label_value_error(value):
    """Why ``value`` is not a valid label value, or None."""
    problem = _label_value_problem(value)
    return None if problem is None else 'label value %r: %s' % (value, problem)


def taint_error(key_effect, value):
    """Why "key:Effect" with ``value`` (None: a removal) is not a valid taint, or None."""
    if not isinstance(key_effect, str) or ':' not in key_effect:
        return 'taint %r: must be "key:Effect" (Effect one of %s)' % (key_effect, ', '.join(TAINT_EFFECTS))
    key, _sep, effect = key_effect.rpartition(':')
    problem = _label_key_problem(key)
    if problem:
        return 'taint %r: key %r: %s' % (key_effect, key, problem)
    if effect not in TAINT_EFFECTS:
        return 'taint %r: effect %r is not one of %s' % (key_effect, effect, ', '.join(TAINT_EFFECTS))
    if value is not None:
        problem = _label_value_problem(value)
        if problem:
            return 'taint %r: value %r: %s' % (key_effect, value, problem)
    return None


def _split(annotation):
    return set(part.strip() for part in str(annotation or '').split(',') if part.strip())


def _wanted_labels(labels):
    if labels is None:
        return {}
    if not isinstance(labels, dict):
        raise KubeadmConfigError('labels must be a mapping of key to value (null: remove), got %r' % (labels,))
    out = {}
    for key, value in labels.items():
        error = label_key_error(key)
        if error:
            raise KubeadmConfigError(error)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if value is not None:
            if not isinstance(value, str):
                raise KubeadmConfigError('label %s: the value must be a string (quote true/false), got %r'
                                         % (key, value))
            error = label_value_error(value)
            if error:
                raise KubeadmConfigError('label %s: %s' % (key, error))
        out[key] = value
    return out


def _wanted_taints(taints):
    if taints is None:
        return {}
    if not isinstance(taints, dict):
        raise KubeadmConfigError('taints must be a mapping of "key:Effect" to value (null: remove), got %r'
                                 % (taints,))
    out = {}
    for key_effect, value in taints.items():
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if value is not None and not isinstance(value, str):
            raise KubeadmConfigError('taint %s: the value must be a string, got %r' % (key_effect, value))
        error = taint_error(key_effect, value)
        if error:
            raise KubeadmConfigError(error)
        out[key_effect] = value
    return out


def _taint_id(taint):
    return '%s:%s' % (taint.get('key'), taint.get('effect'))


def _taint(key_effect, value, base=None):
    key, _sep, effect = key_effect.rpartition(':')
    out = dict(base or {})
    out['key'] = key
    out['effect'] = effect
    out.pop('value', None)
    if value:
        out['value'] = value
    # key, value, effect first, as the API server returns them, then the rest (timeAdded)
    ordered = dict((k, out[k]) for k in ('key', 'value', 'effect') if k in out)
    ordered.update((k, v) for k, v in out.items() if k not in ordered)
    return ordered


def _same_taint(a, b):
    return ((a.get('key'), a.get('effect'), a.get('value') or '')
            == (b.get('key'), b.get('effect'), b.get('value') or ''))


def node_meta_patch(node, labels, taints, owner=''):
    """The merge patch that makes ``node`` carry ``labels`` and ``taints``; {} when it already does.

    ``owner`` names who records them (see managed_annotations)."""
    labels_annotation, taints_annotation = managed_annotations(owner)
    if not node or not isinstance(node, dict):
        raise KubeadmConfigError('node not found')
    wanted_labels = _wanted_labels(labels)
    wanted_taints = _wanted_taints(taints)
    meta = node.get('metadata') or {}
    current_labels = meta.get('labels') or {}
    annotations = meta.get('annotations') or {}
    current_taints = list((node.get('spec') or {}).get('taints') or [])

    # labels
    keep = dict((k, v) for k, v in wanted_labels.items() if v is not None)
    remove = set(k for k, v in wanted_labels.items() if v is None)
    remove |= _split(annotations.get(labels_annotation)) - set(keep)
    label_patch = {}
    for key in sorted(keep):
        if current_labels.get(key) != keep[key]:
            label_patch[key] = keep[key]
    for key in sorted(remove):
        if key in current_labels:
            label_patch[key] = None

    # taints
    keep_t = dict((k, v) for k, v in wanted_taints.items() if v is not None)
    remove_t = set(k for k, v in wanted_taints.items() if v is None)
    remove_t |= _split(annotations.get(taints_annotation)) - set(keep_t)
    new_taints, placed = [], set()
    for taint in current_taints:
        taint_id = _taint_id(taint)
        if taint_id in remove_t:
            continue
        if taint_id in keep_t:
            if taint_id in placed:
                continue  # a duplicate: keep the first
            new_taints.append(_taint(taint_id, keep_t[taint_id], taint))
            placed.add(taint_id)
        else:
            new_taints.append(taint)
    for taint_id in sorted(keep_t):
        if taint_id not in placed:
            new_taints.append(_taint(taint_id, keep_t[taint_id]))
    taints_changed = (len(new_taints) != len(current_taints)
                      or not all(_same_taint(a, b) for a, b in zip(new_taints, current_taints)))

    # bookkeeping
    annotation_patch = {}
    for name, managed in ((labels_annotation, keep), (taints_annotation, keep_t)):
        value = ','.join(sorted(managed))
        if value:
            if annotations.get(name) != value:
                annotation_patch[name] = value
        elif name in annotations:
            annotation_patch[name] = None

    patch = {}
    if label_patch or annotation_patch:
        patch['metadata'] = {}
        if label_patch:
            patch['metadata']['labels'] = label_patch
        if annotation_patch:
            patch['metadata']['annotations'] = annotation_patch
    if taints_changed:
        patch['spec'] = {'taints': new_taints}
    return patch


def _taint_text(taint):
    if taint.get('value'):
        return '%s=%s:%s' % (taint.get('key'), taint.get('value'), taint.get('effect'))
    return '%s:%s' % (taint.get('key'), taint.get('effect'))


def node_meta_summary(patch, node=None):
    """Short text of what ``patch`` does: "labels +a=1 -b; taints +x:NoSchedule".

    Taint changes are shown as additions/removals when ``node`` (the Node the
    patch was computed from) is given, else as the new list ("taints =[...]").
    Annotation values are not shown.
    """
    if not patch:
        return 'no change'
    parts = []
    meta = patch.get('metadata') or {}
    labels = meta.get('labels') or {}
    if labels:
        items = []
        for key in sorted(labels):
            if labels[key] is None:
                items.append('-%s' % key)
            else:
                items.append('+%s=%s' % (key, labels[key]))
        parts.append('labels ' + ' '.join(items))
    if 'taints' in (patch.get('spec') or {}):
        new = patch['spec']['taints'] or []
        if node:
            old = list(((node.get('spec') or {}).get('taints')) or [])
            old_text = set(_taint_text(t) for t in old)
            new_text = set(_taint_text(t) for t in new)
            items = ['+' + t for t in sorted(new_text - old_text)] + ['-' + t for t in sorted(old_text - new_text)]
            parts.append('taints ' + (' '.join(items) if items else 'reordered'))
        else:
            parts.append('taints =[%s]' % ', '.join(_taint_text(t) for t in new))
    if not parts and meta.get('annotations'):
        parts.append('bookkeeping annotations only (%s)' % ', '.join(sorted(meta['annotations'])))
    return '; '.join(parts)
