# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# The cert_bundle spec: what a CA and its leaf certificates must look like,
# validated with defaults filled in (``normalize_spec``), and the module's
# argument spec built from the same defaults (``argument_spec``).
#
# File layout under ``path`` (``<ca>`` is ``ca.name``, ``<leaf>`` each ``certs[].name``)::
#
#     <ca>.crt  <ca>.key  <ca>-bundle.crt  <leaf>.crt  <leaf>.key

import ipaddress
import os
import re

KEY_TYPES = ('ecdsa-p256', 'rsa-2048', 'rsa-4096')
# Extended key usage names accepted in a spec -> OID dotted string.
USAGES = {
    'server_auth': '1.3.6.1.5.5.7.3.1',
    'client_auth': '1.3.6.1.5.5.7.3.2',
}
_USAGE_NAMES = dict((v, k) for k, v in USAGES.items())

KEY_MODE = 0o600
CERT_MODE = 0o644
DIR_MODE = 0o700

CA_DEFAULTS = {'name': 'ca', 'common_name': 'etcd-ca', 'validity_days': 3650, 'key_type': 'ecdsa-p256'}
CERT_DEFAULTS = {'sans': [], 'organization': None, 'validity_days': 365, 'key_type': 'ecdsa-p256'}
TOP_DEFAULTS = {'renew_before_days': 30, 'force_leaves': False, 'regenerate_ca': False,
                'ca_overlap': True, 'prune_old_ca': False}

_COMPONENT_RE = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9._-]*$')
_DNS_LABEL_RE = re.compile(r'^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$')


class PkiError(Exception):
    """A spec or on-disk state problem that must stop the task; the message is user-facing."""


# ---------------------------------------------------------------------------
# Spec validation
# ---------------------------------------------------------------------------

def _check_int(value, what, minimum):
    if isinstance(value, bool) or not isinstance(value, int):
        raise PkiError('%s must be an integer, got %r; give a whole number.' % (what, value))
    if value < minimum:
        raise PkiError('%s must be at least %d, got %d; raise it.' % (what, minimum, value))
    return value


def _check_bool(value, what):
    if not isinstance(value, bool):
        raise PkiError('%s must be a boolean, got %r; use true or false.' % (what, value))
    return value


def _check_text(value, what, max_len=64):
    if not isinstance(value, str) or not value.strip():
        raise PkiError('%s must be a non-empty string, got %r; set it.' % (what, value))
    if len(value) > max_len:
        raise PkiError('%s %r is longer than %d characters (X.509 limit); shorten it.' % (what, value, max_len))
    return value


def _check_key_type(value, what):
    if value not in KEY_TYPES:
        raise PkiError('%s %r is not supported; use one of %s.' % (what, value, ', '.join(KEY_TYPES)))
    return value


def _check_name(value, what, allow_subdir):
    if not isinstance(value, str) or not value.strip():
        raise PkiError('%s must be a non-empty string, got %r; give a file basename such as "node1/server".' % (what, value))
    parts = value.split('/')
    if value.startswith('/') or '..' in parts or '\\' in value:
        raise PkiError('%s %r escapes the PKI directory; use a relative name without ".." such as "node1/server".' % (what, value))
    if not allow_subdir and len(parts) > 1:
        raise PkiError('%s %r must be a plain file basename without "/"; drop the directory part.' % (what, value))
    for part in parts:
        if not _COMPONENT_RE.match(part):
            raise PkiError('%s %r has an invalid path component %r; use letters, digits, ".", "_" and "-" '
                           '(not starting with "." or "-") separated by "/".' % (what, value, part))
    return value


def _normalize_san(value, what):
    """Return ('IP', compressed address) or ('DNS', lower-cased name)."""
    if not isinstance(value, str) or not value.strip():
        raise PkiError('%s must be a non-empty string, got %r; give a DNS name or an IP address.' % (what, value))
    text = value.strip()
    try:
        return ('IP', str(ipaddress.ip_address(text)))
    except ValueError:
        pass
    labels = text.lower().split('.')
    ok = all(_DNS_LABEL_RE.match(label) or (index == 0 and label == '*' and len(labels) > 1)
             for index, label in enumerate(labels))
    if not ok or len(text) > 253:
        raise PkiError('%s %r is neither an IP address nor a valid DNS name; fix the entry.' % (what, value))
    return ('DNS', text.lower())


def normalize_spec(params):
    """Validate and fill defaults; raise PkiError on the first problem. Touches no files."""
    path = params.get('path')
    if not isinstance(path, str) or not path.strip():
        raise PkiError('path must be a non-empty string, got %r; give the PKI directory on the controller.' % (path,))
    spec = {'path': os.path.abspath(os.path.expanduser(path))}
    for key, default in TOP_DEFAULTS.items():
        value = params.get(key)
        spec[key] = default if value is None else value
    _check_int(spec['renew_before_days'], 'renew_before_days', 0)
    for key in ('force_leaves', 'regenerate_ca', 'ca_overlap', 'prune_old_ca'):
        _check_bool(spec[key], key)
    if spec['regenerate_ca'] and spec['ca_overlap'] and spec['prune_old_ca']:
        raise PkiError('prune_old_ca=true conflicts with regenerate_ca=true and ca_overlap=true (the old CA would be kept and '
                       'dropped at once); prune in a later run after all leaves carry the new CA.')

    raw_ca = params.get('ca') or {}
    if not isinstance(raw_ca, dict):
        raise PkiError('ca must be a dict, got %r; give name/common_name/validity_days/key_type.' % (raw_ca,))
    unknown = sorted(set(raw_ca) - set(CA_DEFAULTS))
    if unknown:
        raise PkiError('ca has unknown keys %s; allowed are %s.' % (', '.join(unknown), ', '.join(sorted(CA_DEFAULTS))))
    ca = {}
    for key, default in CA_DEFAULTS.items():
        value = raw_ca.get(key)
        ca[key] = default if value is None else value
    _check_name(ca['name'], 'ca.name', allow_subdir=False)
    _check_text(ca['common_name'], 'ca.common_name')
    _check_int(ca['validity_days'], 'ca.validity_days', 1)
    _check_key_type(ca['key_type'], 'ca.key_type')
    spec['ca'] = ca

    raw_certs = params.get('certs')
    if raw_certs is None:
        raw_certs = []
    if not isinstance(raw_certs, list):
        raise PkiError('certs must be a list of dicts, got %r; give one dict per certificate.' % (raw_certs,))
    reserved = {ca['name'].lower(): 'the CA', (ca['name'] + '-bundle').lower(): 'the CA bundle'}
    seen = {}
    certs = []
    allowed = set(CERT_DEFAULTS) | set(['name', 'common_name', 'usages'])
    for index, raw in enumerate(raw_certs):
        where = 'certs[%d]' % index
        if not isinstance(raw, dict):
            raise PkiError('%s must be a dict, got %r; give name, common_name, sans and usages.' % (where, raw))
        unknown = sorted(set(raw) - allowed)
        if unknown:
            raise PkiError('%s has unknown keys %s; allowed are %s.' % (where, ', '.join(unknown), ', '.join(sorted(allowed))))
        leaf = {}
        for key, default in CERT_DEFAULTS.items():
            value = raw.get(key)
            leaf[key] = default if value is None else value
        leaf['name'] = _check_name(raw.get('name'), where + '.name', allow_subdir=True)
        where = 'certs[%d] (%s)' % (index, leaf['name'])
        folded = leaf['name'].lower()
        if folded in reserved:
            raise PkiError('%s name %r collides with %s files; rename the certificate.' % (where, leaf['name'], reserved[folded]))
        if folded in seen:
            raise PkiError('%s name %r is already used by certs[%d]; certificate names must be unique.' % (where, leaf['name'], seen[folded]))
        seen[folded] = index
        leaf['common_name'] = _check_text(raw.get('common_name'), where + '.common_name')
        if leaf['organization'] is not None:
            _check_text(leaf['organization'], where + '.organization')
        _check_int(leaf['validity_days'], where + '.validity_days', 1)
        _check_key_type(leaf['key_type'], where + '.key_type')
        if not isinstance(leaf['sans'], list):
            raise PkiError('%s.sans must be a list, got %r; give a list of DNS names and IP addresses.' % (where, leaf['sans']))
        sans = []
        for san_index, entry in enumerate(leaf['sans']):
            item = _normalize_san(entry, '%s.sans[%d]' % (where, san_index))
            if item not in sans:
                sans.append(item)
        leaf['sans'] = sans
        usages = raw.get('usages')
        if not isinstance(usages, list) or not usages:
            raise PkiError('%s.usages must be a non-empty list, got %r; use server_auth and/or client_auth.' % (where, usages))
        clean = []
        for usage in usages:
            if usage not in USAGES:
                raise PkiError('%s.usages has %r, which is not supported; use server_auth and/or client_auth.' % (where, usage))
            if usage not in clean:
                clean.append(usage)
        leaf['usages'] = clean
        certs.append(leaf)
    spec['certs'] = certs
    return spec


def argument_spec():
    """cert_bundle's argument spec; its defaults are the ones ``normalize_spec`` fills in."""
    key_type = dict(type='str', choices=list(KEY_TYPES))
    ca_options = dict(
        name=dict(type='str'),
        common_name=dict(type='str'),
        validity_days=dict(type='int'),
        key_type=dict(key_type),
    )
    for key, default in CA_DEFAULTS.items():
        ca_options[key]['default'] = default
    cert_options = dict(
        name=dict(type='str', required=True),
        common_name=dict(type='str', required=True),
        organization=dict(type='str', default=CERT_DEFAULTS['organization']),
        sans=dict(type='list', elements='str', default=list(CERT_DEFAULTS['sans'])),
        usages=dict(type='list', elements='str', required=True, choices=list(USAGES)),
        validity_days=dict(type='int', default=CERT_DEFAULTS['validity_days']),
        key_type=dict(key_type, default=CERT_DEFAULTS['key_type']),
    )
    spec = dict(
        path=dict(type='path', required=True),
        ca=dict(type='dict', apply_defaults=True, options=ca_options),
        certs=dict(type='list', elements='dict', default=[], options=cert_options),
    )
    for key, default in TOP_DEFAULTS.items():
        spec[key] = dict(type='int' if key == 'renew_before_days' else 'bool', default=default)
    return spec
