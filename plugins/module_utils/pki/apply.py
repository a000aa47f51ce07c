# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# The entry point of ``ironstone.k8s.cert_bundle``: ``run`` validates a spec,
# plans what has to change (reading only, ``plan.plan_bundle``) and, unless in
# check mode, applies the plan with atomic writes: directories, then the CA, the
# CA bundle and each leaf. Plain Python on top of ``cryptography``; no Ansible
# imports. Private key material never leaves this package: results and diffs
# only carry key types and public-key fingerprints.

import os

from ansible_collections.ironstone.k8s.plugins.module_utils.common.files import atomic_write, file_mode
from ansible_collections.ironstone.k8s.plugins.module_utils.pki import crypto, report
from ansible_collections.ironstone.k8s.plugins.module_utils.pki.plan import bundle_certs, plan_bundle
from ansible_collections.ironstone.k8s.plugins.module_utils.pki.spec import CERT_MODE, DIR_MODE, KEY_MODE, PkiError, normalize_spec


def _write(path, data, mode):
    try:
        atomic_write(path, data, mode)
    except (IOError, OSError) as exc:
        raise PkiError('Cannot write %s: %s; check the directory permissions and free space.' % (path, exc.strerror or exc))


def _chmod(path, mode):
    try:
        os.chmod(path, mode)
    except OSError as exc:
        raise PkiError('Cannot set mode %04o on %s: %s; check its ownership.' % (mode, path, exc.strerror or exc))


def _ensure_dir(path):
    """Create path (and parents) with DIR_MODE; force DIR_MODE on path itself. True when something changed."""
    if os.path.isdir(path):
        if file_mode(path) != DIR_MODE:
            _chmod(path, DIR_MODE)
            return True
        return False
    try:
        os.makedirs(path, DIR_MODE)
    except OSError as exc:
        raise PkiError('Cannot create directory %s: %s; check the parent permissions.' % (path, exc.strerror or exc))
    _chmod(path, DIR_MODE)
    return True


def apply_ca(spec, ca_plan, check_mode, now):
    """Make or reuse the CA; returns (certificate, key), both None in check mode for a CA that would be made."""
    if ca_plan['action'] == 'unchanged':
        ca_cert, ca_key = ca_plan['cert'], ca_plan['key']
    elif check_mode:
        ca_cert, ca_key = None, None
    else:
        ca_key = crypto.generate_key(spec['ca']['key_type'])
        ca_cert = crypto.build_ca(spec['ca'], ca_key, now)
        _write(ca_plan['key_path'], crypto.key_pem(ca_key), KEY_MODE)
        _write(ca_plan['cert_path'], crypto.cert_pem(ca_cert), CERT_MODE)
    if not check_mode:
        for path, mode in ca_plan['chmod']:
            _chmod(path, mode)
    return ca_cert, ca_key


def apply_bundle(spec, ca_plan, ca_cert, check_mode, now):
    """Write the CA bundle when it differs; returns (certificates in it, whether it changed)."""
    bundle = bundle_certs(spec, ca_plan, ca_cert, now)
    if ca_cert is None:
        return bundle, True
    bundle_pem = b''.join(crypto.cert_pem(c) for c in bundle)
    changed = bundle_pem != ca_plan['bundle_data'] or file_mode(ca_plan['bundle_path']) != CERT_MODE
    if changed and not check_mode:
        _write(ca_plan['bundle_path'], bundle_pem, CERT_MODE)
    return bundle, changed


def apply_leaf(leaf_plan, ca_cert, ca_key, check_mode, now):
    """Issue or keep one leaf; returns (certificate or None in check mode, public-key fingerprint after)."""
    leaf = leaf_plan['leaf']
    if leaf_plan['action'] == 'unchanged':
        cert, key_fp = leaf_plan['cert'], leaf_plan['old_key_fp']
    elif check_mode:
        cert, key_fp = None, None if leaf_plan['new_key'] else leaf_plan['old_key_fp']
    else:
        key = crypto.generate_key(leaf['key_type']) if leaf_plan['new_key'] else leaf_plan['key']
        cert = crypto.build_leaf(leaf, key, ca_cert, ca_key, now)
        if leaf_plan['new_key']:
            _write(leaf_plan['key_path'], crypto.key_pem(key), KEY_MODE)
        _write(leaf_plan['cert_path'], crypto.cert_pem(cert), CERT_MODE)
        key_fp = crypto.public_fingerprint(key)
    if not check_mode:
        for path, mode in leaf_plan['chmod']:
            _chmod(path, mode)
    return cert, key_fp


def run(params, check_mode=False, now=None):
    """Validate, plan and (unless check_mode) apply a cert_bundle spec.

    Returns a dict with changed, ca, certs, regenerated, warnings and diff.
    Raises PkiError (nothing written) for spec problems or a CA that would need regenerate_ca.
    """
    if not crypto.HAS_CRYPTOGRAPHY:
        raise PkiError('The cryptography Python library is required on the controller; install it (pip install cryptography).')
    spec = normalize_spec(params)
    now = (now or crypto.utcnow()).replace(microsecond=0)
    warnings = []
    todo = plan_bundle(spec, now, warnings)
    ca_plan = todo['ca']

    if not check_mode:
        for directory in todo['dir_changes']:
            _ensure_dir(directory)
    ca_cert, ca_key = apply_ca(spec, ca_plan, check_mode, now)
    before, after = report.ca_lines(spec, ca_plan, ca_cert, ca_key, now)
    bundle, bundle_changed = apply_bundle(spec, ca_plan, ca_cert, check_mode, now)
    lines = report.bundle_lines(spec, ca_plan, bundle)
    before += lines[0]
    after += lines[1]

    ca_changing = ca_plan['action'] != 'unchanged'
    changed = bool(todo['dir_changes']) or ca_changing or bundle_changed or bool(ca_plan['chmod'])
    regenerated = [{'name': spec['ca']['name'], 'reason': ca_plan['reason']}] if ca_changing else []
    certs = []
    for leaf_plan in todo['leaves']:
        cert, key_fp = apply_leaf(leaf_plan, ca_cert, ca_key, check_mode, now)
        changed = changed or leaf_plan['action'] != 'unchanged' or bool(leaf_plan['chmod'])
        entry = report.leaf_result(spec, leaf_plan, cert, now)
        if leaf_plan['action'] != 'unchanged':
            regenerated.append({'name': entry['name'], 'reason': entry['reason']})
        certs.append(entry)
        lines = report.leaf_lines(leaf_plan, cert, key_fp, now)
        before += lines[0]
        after += lines[1]

    return {
        'changed': changed,
        'ca': report.ca_result(spec, ca_plan, ca_cert, bundle, now),
        'certs': certs,
        'regenerated': regenerated,
        'warnings': warnings,
        'diff': {'before_header': spec['path'], 'after_header': spec['path'],
                 'before': '\n'.join(before) + '\n', 'after': '\n'.join(after) + '\n'},
    }
