# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# What cert_bundle reports: one-line summaries of certificates, keys and the CA
# bundle for the diff (never key material), and the result entries.

import datetime
import os

from ansible_collections.ironstone.k8s.plugins.module_utils.pki import crypto


def summary_cert(cert):
    if cert is None:
        return 'absent'
    sans = sorted('%s:%s' % s for s in crypto.cert_sans(cert))
    usages = sorted(crypto.cert_usages(cert))
    text = 'subject=%s; notAfter=%s; serial=%s' % (cert.subject.rfc4514_string(), crypto.iso(crypto.not_after(cert)), crypto.serial(cert))
    if sans:
        text += '; SANs=%s' % ', '.join(sans)
    if usages:
        text += '; usages=%s' % ', '.join(usages)
    return text


def _summary_planned_leaf(leaf, now):
    subject = crypto.subject_name(leaf['common_name'], leaf['organization']).rfc4514_string()
    text = 'subject=%s; notAfter=~%s; serial=(new)' % (subject, crypto.iso(now + datetime.timedelta(days=leaf['validity_days'])))
    sans = sorted('%s:%s' % s for s in leaf['sans'])
    if sans:
        text += '; SANs=%s' % ', '.join(sans)
    text += '; usages=%s' % ', '.join(sorted(leaf['usages']))
    return text


def _summary_key(key_type, public_fp):
    if key_type is None:
        return 'absent'
    return '%s private key (public key sha256 %s)' % (key_type, public_fp) if public_fp else '%s private key (new)' % key_type


def _summary_bundle(certs):
    if not certs:
        return 'absent'
    return '%d certificate(s): %s' % (len(certs), ' | '.join(
        '%s serial=%s notAfter=%s' % (c.subject.rfc4514_string(), crypto.serial(c), crypto.iso(crypto.not_after(c))) if c is not None
        else '(new CA)' for c in certs))


def _rel(spec, path):
    return os.path.relpath(path, spec['path'])


def _planned_ca_summary(spec, now):
    subject = crypto.subject_name(spec['ca']['common_name']).rfc4514_string()
    return 'subject=%s; notAfter=~%s; serial=(new)' % (subject, crypto.iso(now + datetime.timedelta(days=spec['ca']['validity_days'])))


def ca_lines(spec, ca_plan, ca_cert, ca_key, now):
    """Diff lines (before, after) for the CA certificate and key."""
    ca_name = spec['ca']['name']
    changing = ca_plan['action'] != 'unchanged'
    before = ['%s.crt: %s' % (ca_name, summary_cert(ca_plan['old_cert']))]
    if changing and ca_cert is None:
        after = ['%s.crt: %s' % (ca_name, _planned_ca_summary(spec, now))]
    else:
        after = ['%s.crt: %s' % (ca_name, summary_cert(ca_cert))]
    old_key = ca_plan.get('key')
    if old_key is not None:
        old_key_text = _summary_key(crypto.key_type(old_key), crypto.public_fingerprint(old_key))
    else:
        old_key_text = 'present' if os.path.lexists(ca_plan['key_path']) else 'absent'
    before.append('%s.key: %s' % (ca_name, old_key_text))
    if changing:
        after.append('%s.key: %s' % (ca_name, _summary_key(spec['ca']['key_type'], crypto.public_fingerprint(ca_key) if ca_key else None)))
    else:
        after.append(before[-1])
    return before, after


def bundle_lines(spec, ca_plan, bundle):
    """Diff lines (before, after) for the CA bundle."""
    ca_name = spec['ca']['name']
    old = _summary_bundle(crypto.split_pem(ca_plan['bundle_data'])) if ca_plan['bundle_data'] is not None else 'absent'
    return ['%s-bundle.crt: %s' % (ca_name, old)], ['%s-bundle.crt: %s' % (ca_name, _summary_bundle(bundle))]


def leaf_lines(leaf_plan, cert, key_fp_after, now):
    """Diff lines (before, after) for one leaf certificate and key."""
    leaf = leaf_plan['leaf']
    rel = leaf['name']
    before = ['%s.crt: %s' % (rel, summary_cert(leaf_plan['old_cert']))]
    after = ['%s.crt: %s' % (rel, summary_cert(cert) if cert is not None else _summary_planned_leaf(leaf, now))]
    if leaf_plan['old_key_type']:
        old_key_text = _summary_key(leaf_plan['old_key_type'], leaf_plan['old_key_fp'])
    else:
        old_key_text = 'present (unreadable)' if os.path.lexists(leaf_plan['key_path']) else 'absent'
    before.append('%s.key: %s' % (rel, old_key_text))
    if leaf_plan['action'] == 'unchanged' or not leaf_plan['new_key']:
        after.append(before[-1])
    else:
        after.append('%s.key: %s' % (rel, _summary_key(leaf['key_type'], key_fp_after)))
    return before, after


def leaf_reason(spec, leaf_plan):
    """Why a leaf was (re)issued, or which modes were corrected."""
    if leaf_plan['action'] == 'unchanged' and leaf_plan['chmod']:
        return 'permissions corrected on %s' % ', '.join(_rel(spec, p) for p, _m in leaf_plan['chmod'])
    return '; '.join(leaf_plan['reasons'])


def leaf_result(spec, leaf_plan, cert, now):
    """The RV(certs) entry of one leaf; ``cert`` is None in check mode for a leaf that would be issued."""
    leaf = leaf_plan['leaf']
    if cert is not None:
        not_after, serial, fingerprint = crypto.iso(crypto.not_after(cert)), crypto.serial(cert), crypto.fingerprint(cert)
    else:
        not_after, serial, fingerprint = crypto.iso(now + datetime.timedelta(days=leaf['validity_days'])), None, None
    return {
        'name': leaf['name'],
        'cert_path': leaf_plan['cert_path'],
        'key_path': leaf_plan['key_path'],
        'subject': crypto.subject_name(leaf['common_name'], leaf['organization']).rfc4514_string(),
        'not_after': not_after,
        'serial': serial,
        'fingerprint_sha256': fingerprint,
        'sans': [value for _kind, value in leaf['sans']],
        'usages': list(leaf['usages']),
        'key_type': leaf['key_type'],
        'new_key': leaf_plan['new_key'] and leaf_plan['action'] != 'unchanged',
        'action': leaf_plan['action'],
        'reason': leaf_reason(spec, leaf_plan),
    }


def ca_result(spec, ca_plan, ca_cert, bundle, now):
    """The RV(ca) entry; ``ca_cert`` is None in check mode for a CA that would be made."""
    if ca_cert is not None:
        result = {'subject': ca_cert.subject.rfc4514_string(), 'not_after': crypto.iso(crypto.not_after(ca_cert)),
                  'serial': crypto.serial(ca_cert), 'fingerprint_sha256': crypto.fingerprint(ca_cert)}
    else:
        result = {'subject': crypto.subject_name(spec['ca']['common_name']).rfc4514_string(),
                  'not_after': crypto.iso(now + datetime.timedelta(days=spec['ca']['validity_days'])),
                  'serial': None, 'fingerprint_sha256': None}
    result.update({
        'path': ca_plan['cert_path'],
        'key_path': ca_plan['key_path'],
        'bundle_path': ca_plan['bundle_path'],
        'bundle_size': len(bundle),
        'action': ca_plan['action'],
        'regenerated': ca_plan['action'] == 'regenerated',
        'reason': ca_plan['reason'],
    })
    return result
