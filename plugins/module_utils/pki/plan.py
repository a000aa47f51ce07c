# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# Decide, reading only, what cert_bundle must do: for the CA, each leaf and the
# CA bundle, whether it is unchanged, created, renewed or regenerated, and why;
# which modes to correct and which directories to create.

import datetime
import os

from ansible_collections.ironstone.k8s.plugins.module_utils.common.files import file_mode, read_if_exists
from ansible_collections.ironstone.k8s.plugins.module_utils.pki import crypto
from ansible_collections.ironstone.k8s.plugins.module_utils.pki.spec import CERT_MODE, DIR_MODE, KEY_MODE, PkiError


def _read(path):
    """Bytes of path, or None when it does not exist."""
    try:
        data = read_if_exists(path)
    except (IOError, OSError) as exc:
        raise PkiError('Cannot read %s: %s; fix its type or permissions.' % (path, exc.strerror or exc))
    if data is None and os.path.lexists(path):
        raise PkiError('Cannot read %s: it is a dangling link; fix its type or permissions.' % path)
    return data


def _check_dir_usable(path):
    """Fail before any write when a path that must be a directory is a file."""
    probe = path
    while probe and probe != os.path.dirname(probe):
        if os.path.lexists(probe):
            if not os.path.isdir(probe):
                raise PkiError('%s exists but is not a directory; move it away or choose another path.' % probe)
            return
        probe = os.path.dirname(probe)


def plan_ca(spec, now, warnings):
    ca = spec['ca']
    base = spec['path']
    plan = {
        'cert_path': os.path.join(base, ca['name'] + '.crt'),
        'key_path': os.path.join(base, ca['name'] + '.key'),
        'bundle_path': os.path.join(base, ca['name'] + '-bundle.crt'),
        'chmod': [],
    }
    cert_data = _read(plan['cert_path'])
    key_data = _read(plan['key_path'])
    cert = crypto.load_cert(cert_data) if cert_data is not None else None
    key = crypto.load_key(key_data) if key_data is not None else None
    plan['old_cert'] = cert
    plan['bundle_data'] = _read(plan['bundle_path'])
    if spec['regenerate_ca']:
        plan['action'] = 'regenerated' if (cert_data is not None or key_data is not None) else 'created'
        plan['reason'] = 'regenerate_ca=true' if plan['action'] == 'regenerated' else 'CA certificate and key missing'
        return plan
    if cert_data is None and key_data is None:
        # A fresh CA next to existing leaves would silently replace the trust of a running cluster.
        leftovers = [leaf['name'] for leaf in spec['certs'] if os.path.lexists(os.path.join(base, leaf['name'] + '.crt'))]
        if leftovers:
            raise PkiError('CA certificate and key are missing at %s and %s but leaf certificates exist (%s); restore the CA '
                           'or set regenerate_ca=true to start a new one.' % (plan['cert_path'], plan['key_path'], ', '.join(leftovers[:3])))
        plan['action'] = 'created'
        plan['reason'] = 'CA certificate and key missing'
        return plan
    if cert_data is not None and cert is None:
        raise PkiError('CA certificate at %s is not a readable PEM certificate; restore it or set regenerate_ca=true.' % plan['cert_path'])
    if key_data is None:
        raise PkiError('CA key missing at %s; restore it or set regenerate_ca=true.' % plan['key_path'])
    if key is None:
        raise PkiError('CA key at %s is not an unencrypted PEM private key; restore it or set regenerate_ca=true.' % plan['key_path'])
    if cert is None:
        raise PkiError('CA certificate missing at %s while its key exists at %s; restore the certificate or set regenerate_ca=true.'
                       % (plan['cert_path'], plan['key_path']))
    if crypto.public_der(key) != crypto.public_der(cert.public_key()):
        raise PkiError('CA key at %s does not match the CA certificate at %s; restore the matching key or set regenerate_ca=true.'
                       % (plan['key_path'], plan['cert_path']))
    if not crypto.is_ca(cert):
        raise PkiError('%s is not a CA certificate (basicConstraints CA:FALSE); restore the CA or set regenerate_ca=true.' % plan['cert_path'])
    plan['action'] = 'unchanged'
    plan['reason'] = ''
    plan['cert'] = cert
    plan['key'] = key
    not_after = crypto.not_after(cert)
    if not_after <= now:
        warnings.append('CA certificate %s expired on %s; it is NOT regenerated automatically: set regenerate_ca=true '
                        '(with ca_overlap) to replace it.' % (plan['cert_path'], crypto.iso(not_after)))
    elif not_after <= now + datetime.timedelta(days=spec['renew_before_days']):
        warnings.append('CA certificate %s expires on %s (within renew_before_days=%d); it is NOT regenerated automatically: '
                        'plan a CA rotation with regenerate_ca=true and ca_overlap=true.'
                        % (plan['cert_path'], crypto.iso(not_after), spec['renew_before_days']))
    if crypto.attr(cert.subject, crypto.NameOID.COMMON_NAME) != [ca['common_name']]:
        warnings.append('CA certificate %s has subject %s, not CN=%s from the spec; it is kept (set regenerate_ca=true to replace it).'
                        % (plan['cert_path'], cert.subject.rfc4514_string(), ca['common_name']))
    if crypto.key_type(key) != ca['key_type']:
        warnings.append('CA key %s is %s, not %s from the spec; it is kept (set regenerate_ca=true to replace it).'
                        % (plan['key_path'], crypto.key_type(key), ca['key_type']))
    for path, mode in ((plan['key_path'], KEY_MODE), (plan['cert_path'], CERT_MODE)):
        if file_mode(path) != mode:
            plan['chmod'].append((path, mode))
    return plan


def _describe_set_change(wanted, have):
    added = sorted(wanted - have)
    removed = sorted(have - wanted)
    return ' '.join(['+' + a for a in added] + ['-' + r for r in removed])


def _san_change(want, have):
    want_values = set(value for _kind, value in want)
    have_values = set(value for _kind, value in have)
    if want_values != have_values:
        return _describe_set_change(want_values, have_values)
    # Same values, different kinds (e.g. DNS:10.0.0.5 in the certificate): show the kinds.
    return _describe_set_change(set('%s:%s' % item for item in want), set('%s:%s' % item for item in have))


def plan_leaf(spec, leaf, ca_plan, now):
    base = spec['path']
    plan = {
        'leaf': leaf,
        'cert_path': os.path.join(base, leaf['name'] + '.crt'),
        'key_path': os.path.join(base, leaf['name'] + '.key'),
        'chmod': [],
    }
    cert_data = _read(plan['cert_path'])
    key_data = _read(plan['key_path'])
    cert = crypto.load_cert(cert_data) if cert_data is not None else None
    key = crypto.load_key(key_data) if key_data is not None else None
    plan['old_cert'] = cert
    plan['old_key_type'] = crypto.key_type(key) if key is not None else None
    plan['old_key_fp'] = crypto.public_fingerprint(key) if key is not None else None
    reasons = []
    if spec['force_leaves']:
        reasons.append('force_leaves=true')

    # Key: a new one only when missing, unreadable, of the wrong type or not matching the certificate.
    new_key = False
    if key_data is None:
        new_key = True
        if cert_data is not None:
            reasons.append('key missing')
    elif key is None:
        new_key = True
        reasons.append('key unreadable (not an unencrypted PEM private key)')
    elif crypto.key_type(key) != leaf['key_type']:
        new_key = True
        reasons.append('key type %s differs from spec %s' % (crypto.key_type(key), leaf['key_type']))
    elif cert is not None and crypto.public_der(key) != crypto.public_der(cert.public_key()):
        new_key = True
        reasons.append('key does not match certificate')

    if cert_data is None:
        reasons.append('certificate and key missing' if key_data is None else 'certificate missing')
    elif cert is None:
        reasons.append('certificate unreadable (not a PEM certificate)')
    else:
        have_cn = crypto.attr(cert.subject, crypto.NameOID.COMMON_NAME)
        if have_cn != [leaf['common_name']]:
            reasons.append('CN differs: %r -> %r' % (', '.join(have_cn), leaf['common_name']))
        have_o = crypto.attr(cert.subject, crypto.NameOID.ORGANIZATION_NAME)
        want_o = [leaf['organization']] if leaf['organization'] else []
        if have_o != want_o:
            reasons.append('O differs: %r -> %r' % (', '.join(have_o), ', '.join(want_o)))
        want_sans = set(leaf['sans'])
        have_sans = crypto.cert_sans(cert)
        if want_sans != have_sans:
            reasons.append('SANs differ: %s' % _san_change(want_sans, have_sans))
        want_usages = set(leaf['usages'])
        have_usages = crypto.cert_usages(cert)
        if want_usages != have_usages:
            reasons.append('usages differ: %s' % _describe_set_change(want_usages, have_usages))
        if ca_plan['action'] != 'unchanged':
            reasons.append('CA %s' % ca_plan['action'])
        elif cert.issuer != ca_plan['cert'].subject:
            reasons.append('issuer %s differs from CA subject %s' % (cert.issuer.rfc4514_string(), ca_plan['cert'].subject.rfc4514_string()))
        elif not crypto.signed_by(cert, ca_plan['cert'].public_key()):
            reasons.append('signature does not verify with the current CA key')
        not_after = crypto.not_after(cert)
        if not_after <= now:
            reasons.append('expired on %s' % crypto.iso(not_after))
        elif not_after <= now + datetime.timedelta(days=spec['renew_before_days']):
            reasons.append('expires on %s (within renew_before_days=%d)' % (crypto.iso(not_after), spec['renew_before_days']))

    plan['new_key'] = new_key
    plan['key'] = None if new_key else key
    plan['reasons'] = reasons
    if reasons:
        plan['action'] = 'created' if cert_data is None else 'renewed'
        if not new_key and file_mode(plan['key_path']) != KEY_MODE:
            plan['chmod'].append((plan['key_path'], KEY_MODE))
    else:
        plan['action'] = 'unchanged'
        plan['cert'] = cert
        for path, mode in ((plan['key_path'], KEY_MODE), (plan['cert_path'], CERT_MODE)):
            if file_mode(path) != mode:
                plan['chmod'].append((path, mode))
    return plan


def bundle_certs(spec, ca_plan, current_cert, now):
    """Ordered list of CA certificates the bundle must hold: the current CA first."""
    wanted = [current_cert]
    if ca_plan['action'] == 'regenerated':
        if spec['ca_overlap'] and ca_plan['old_cert'] is not None and crypto.not_after(ca_plan['old_cert']) > now:
            wanted.append(ca_plan['old_cert'])
        return wanted
    if ca_plan['action'] == 'created' or spec['prune_old_ca'] or current_cert is None:
        return wanted
    current_fp = crypto.fingerprint(current_cert)
    for old in crypto.split_pem(ca_plan['bundle_data']):
        fp = crypto.fingerprint(old)
        if fp != current_fp and crypto.not_after(old) > now and crypto.is_ca(old) and fp not in [crypto.fingerprint(c) for c in wanted[1:]]:
            wanted.append(old)
    return wanted


def plan_bundle(spec, now, warnings):
    """Everything cert_bundle must do, read-only: ``{'ca', 'leaves', 'dir_changes'}``; appends to ``warnings``."""
    base = spec['path']
    _check_dir_usable(base)
    for leaf in spec['certs']:
        _check_dir_usable(os.path.dirname(os.path.join(base, leaf['name'])))
    ca_plan = plan_ca(spec, now, warnings)
    leaf_plans = [plan_leaf(spec, leaf, ca_plan, now) for leaf in spec['certs']]
    for leaf in spec['certs']:
        if leaf['validity_days'] <= spec['renew_before_days']:
            warnings.append('certs %s has validity_days=%d, not more than renew_before_days=%d, so it is renewed on every run; '
                            'raise validity_days or lower renew_before_days.' % (leaf['name'], leaf['validity_days'], spec['renew_before_days']))
    dir_changes = []
    for directory in [base] + sorted(set(os.path.dirname(p['cert_path']) for p in leaf_plans) - set([base])):
        if not os.path.isdir(directory) or file_mode(directory) != DIR_MODE:
            dir_changes.append(directory)
    return {'ca': ca_plan, 'leaves': leaf_plans, 'dir_changes': dir_changes}
