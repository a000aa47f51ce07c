# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# Declarative CA + leaf certificate management for ``ironstone.k8s.cert_bundle``.
#
# Plain Python on top of ``cryptography``; no Ansible imports.  The entry point is
# :func:`run`, which validates a spec, plans what has to change (reading only),
# and, unless in check mode, applies the plan with atomic writes.
#
# File layout under ``path`` (``<ca>`` is ``ca.name``, ``<leaf>`` each ``certs[].name``)::
#
#     <ca>.crt  <ca>.key  <ca>-bundle.crt  <leaf>.crt  <leaf>.key
#
# Private key material never leaves this module: results and diffs only carry
# key types and public-key fingerprints.

import datetime
import ipaddress
import os
import re
import stat
import tempfile
import traceback

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.x509.oid import ExtensionOID, NameOID
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError:
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()


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
# Backdate notBefore a little so that peers with a slightly late clock accept a fresh certificate.
BACKDATE = datetime.timedelta(minutes=5)

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


# ---------------------------------------------------------------------------
# Crypto helpers
# ---------------------------------------------------------------------------

def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def _not_after(cert):
    value = getattr(cert, 'not_valid_after_utc', None)
    if value is None:
        value = cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return value


def _iso(moment):
    return moment.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ') if moment else None


def _hex_colon(data):
    return ':'.join('%02X' % b for b in bytearray(data))


def _fingerprint(cert):
    return _hex_colon(cert.fingerprint(hashes.SHA256()))


def _serial(cert):
    return '%X' % cert.serial_number


def _public_der(key):
    if hasattr(key, 'public_key'):
        key = key.public_key()
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _public_fingerprint(key):
    digest = hashes.Hash(hashes.SHA256())
    digest.update(_public_der(key))
    return _hex_colon(digest.finalize())


def _key_type(key):
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return 'ecdsa-p256' if key.curve.name == 'secp256r1' else 'ecdsa-%s' % key.curve.name
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return 'rsa-%d' % key.key_size
    return type(key).__name__


def _generate_key(key_type):
    if key_type == 'ecdsa-p256':
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type.split('-')[1]))


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _cert_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def _load_cert(data):
    try:
        return x509.load_pem_x509_certificate(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None


def _load_key(data):
    try:
        return serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None


def _split_pem(data):
    """Parse every CERTIFICATE block of a PEM bundle; unreadable blocks are skipped."""
    found = []
    pattern = re.compile(br'-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----', re.S)
    for match in pattern.finditer(data or b''):
        cert = _load_cert(match.group(0) + b'\n')
        if cert is not None:
            found.append(cert)
    return found


def _attr(name, oid):
    return [a.value for a in name.get_attributes_for_oid(oid)]


def _cert_sans(cert):
    try:
        ext = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    except x509.ExtensionNotFound:
        return set()
    found = set()
    for general in ext:
        if isinstance(general, x509.DNSName):
            found.add(('DNS', general.value.lower()))
        elif isinstance(general, x509.IPAddress):
            found.add(('IP', str(general.value)))
        else:
            found.add((type(general).__name__, str(general.value)))
    return found


def _cert_usages(cert):
    try:
        ext = cert.extensions.get_extension_for_oid(ExtensionOID.EXTENDED_KEY_USAGE).value
    except x509.ExtensionNotFound:
        return set()
    return set(_USAGE_NAMES.get(oid.dotted_string, oid.dotted_string) for oid in ext)


def _is_ca(cert):
    try:
        return cert.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value.ca
    except x509.ExtensionNotFound:
        return False


def _signed_by(cert, issuer_public_key):
    """True when cert's signature verifies with issuer_public_key."""
    try:
        if isinstance(issuer_public_key, rsa.RSAPublicKey):
            issuer_public_key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm)
        elif isinstance(issuer_public_key, ec.EllipticCurvePublicKey):
            issuer_public_key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
        else:
            return False
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def _name(common_name, organization=None):
    attrs = []
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def _build_ca(spec_ca, key, now):
    subject = _name(spec_ca['common_name'])
    builder = (x509.CertificateBuilder()
               .subject_name(subject).issuer_name(subject)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - BACKDATE)
               .not_valid_after(now + datetime.timedelta(days=spec_ca['validity_days']))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                            crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    return builder.sign(key, hashes.SHA256())


def _build_leaf(leaf, key, ca_cert, ca_key, now):
    is_rsa = isinstance(key, rsa.RSAPrivateKey)
    builder = (x509.CertificateBuilder()
               .subject_name(_name(leaf['common_name'], leaf['organization']))
               .issuer_name(ca_cert.subject)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - BACKDATE)
               .not_valid_after(now + datetime.timedelta(days=leaf['validity_days']))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=is_rsa,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.ExtendedKeyUsage([x509.ObjectIdentifier(USAGES[u]) for u in leaf['usages']]), critical=False)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()), critical=False))
    if leaf['sans']:
        names = []
        for kind, value in leaf['sans']:
            if kind == 'IP':
                names.append(x509.IPAddress(ipaddress.ip_address(value)))
            else:
                names.append(x509.DNSName(value))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


# ---------------------------------------------------------------------------
# File helpers
# ---------------------------------------------------------------------------

def _read(path):
    """Bytes of path, or None when it does not exist."""
    try:
        with open(path, 'rb') as handle:
            return handle.read()
    except (IOError, OSError) as exc:
        if not os.path.lexists(path):
            return None
        raise PkiError('Cannot read %s: %s; fix its type or permissions.' % (path, exc.strerror or exc))


def _mode(path):
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None


def _atomic_write(path, data, mode):
    """Write data to a temp file next to path, chmod it, fsync, then rename over path."""
    directory = os.path.dirname(path)
    try:
        handle, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), suffix='.tmp', dir=directory)
    except OSError as exc:
        raise PkiError('Cannot create a temporary file in %s: %s; check the directory permissions.' % (directory, exc.strerror or exc))
    try:
        os.fchmod(handle, mode)
        with os.fdopen(handle, 'wb') as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise PkiError('Cannot write %s: %s; check the directory permissions and free space.' % (path, exc.strerror or exc))


def _ensure_dir(path):
    """Create path (and parents) with DIR_MODE; force DIR_MODE on path itself. True when something changed."""
    if os.path.isdir(path):
        if _mode(path) != DIR_MODE:
            _chmod(path, DIR_MODE)
            return True
        return False
    try:
        os.makedirs(path, DIR_MODE)
    except OSError as exc:
        raise PkiError('Cannot create directory %s: %s; check the parent permissions.' % (path, exc.strerror or exc))
    _chmod(path, DIR_MODE)
    return True


def _chmod(path, mode):
    try:
        os.chmod(path, mode)
    except OSError as exc:
        raise PkiError('Cannot set mode %04o on %s: %s; check its ownership.' % (mode, path, exc.strerror or exc))


def _check_dir_usable(path):
    """Fail before any write when a path that must be a directory is a file."""
    probe = path
    while probe and probe != os.path.dirname(probe):
        if os.path.lexists(probe):
            if not os.path.isdir(probe):
                raise PkiError('%s exists but is not a directory; move it away or choose another path.' % probe)
            return
        probe = os.path.dirname(probe)


# ---------------------------------------------------------------------------
# Planning
# ---------------------------------------------------------------------------

def _plan_ca(spec, now, warnings):
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
    cert = _load_cert(cert_data) if cert_data is not None else None
    key = _load_key(key_data) if key_data is not None else None
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
    if _public_der(key) != _public_der(cert.public_key()):
        raise PkiError('CA key at %s does not match the CA certificate at %s; restore the matching key or set regenerate_ca=true.'
                       % (plan['key_path'], plan['cert_path']))
    if not _is_ca(cert):
        raise PkiError('%s is not a CA certificate (basicConstraints CA:FALSE); restore the CA or set regenerate_ca=true.' % plan['cert_path'])
    plan['action'] = 'unchanged'
    plan['reason'] = ''
    plan['cert'] = cert
    plan['key'] = key
    not_after = _not_after(cert)
    if not_after <= now:
        warnings.append('CA certificate %s expired on %s; it is NOT regenerated automatically: set regenerate_ca=true '
                        '(with ca_overlap) to replace it.' % (plan['cert_path'], _iso(not_after)))
    elif not_after <= now + datetime.timedelta(days=spec['renew_before_days']):
        warnings.append('CA certificate %s expires on %s (within renew_before_days=%d); it is NOT regenerated automatically: '
                        'plan a CA rotation with regenerate_ca=true and ca_overlap=true.' % (plan['cert_path'], _iso(not_after), spec['renew_before_days']))
    if _attr(cert.subject, NameOID.COMMON_NAME) != [ca['common_name']]:
        warnings.append('CA certificate %s has subject %s, not CN=%s from the spec; it is kept (set regenerate_ca=true to replace it).'
                        % (plan['cert_path'], cert.subject.rfc4514_string(), ca['common_name']))
    if _key_type(key) != ca['key_type']:
        warnings.append('CA key %s is %s, not %s from the spec; it is kept (set regenerate_ca=true to replace it).'
                        % (plan['key_path'], _key_type(key), ca['key_type']))
    for path, mode in ((plan['key_path'], KEY_MODE), (plan['cert_path'], CERT_MODE)):
        if _mode(path) != mode:
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


def _plan_leaf(spec, leaf, ca_plan, now):
    base = spec['path']
    plan = {
        'leaf': leaf,
        'cert_path': os.path.join(base, leaf['name'] + '.crt'),
        'key_path': os.path.join(base, leaf['name'] + '.key'),
        'chmod': [],
    }
    cert_data = _read(plan['cert_path'])
    key_data = _read(plan['key_path'])
    cert = _load_cert(cert_data) if cert_data is not None else None
    key = _load_key(key_data) if key_data is not None else None
    plan['old_cert'] = cert
    plan['old_key_type'] = _key_type(key) if key is not None else None
    plan['old_key_fp'] = _public_fingerprint(key) if key is not None else None
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
    elif _key_type(key) != leaf['key_type']:
        new_key = True
        reasons.append('key type %s differs from spec %s' % (_key_type(key), leaf['key_type']))
    elif cert is not None and _public_der(key) != _public_der(cert.public_key()):
        new_key = True
        reasons.append('key does not match certificate')

    if cert_data is None:
        reasons.append('certificate and key missing' if key_data is None else 'certificate missing')
    elif cert is None:
        reasons.append('certificate unreadable (not a PEM certificate)')
    else:
        have_cn = _attr(cert.subject, NameOID.COMMON_NAME)
        if have_cn != [leaf['common_name']]:
            reasons.append('CN differs: %r -> %r' % (', '.join(have_cn), leaf['common_name']))
        have_o = _attr(cert.subject, NameOID.ORGANIZATION_NAME)
        want_o = [leaf['organization']] if leaf['organization'] else []
        if have_o != want_o:
            reasons.append('O differs: %r -> %r' % (', '.join(have_o), ', '.join(want_o)))
        want_sans = set(leaf['sans'])
        have_sans = _cert_sans(cert)
        if want_sans != have_sans:
            reasons.append('SANs differ: %s' % _san_change(want_sans, have_sans))
        want_usages = set(leaf['usages'])
        have_usages = _cert_usages(cert)
        if want_usages != have_usages:
            reasons.append('usages differ: %s' % _describe_set_change(want_usages, have_usages))
        if ca_plan['action'] != 'unchanged':
            reasons.append('CA %s' % ca_plan['action'])
        elif cert.issuer != ca_plan['cert'].subject:
            reasons.append('issuer %s differs from CA subject %s' % (cert.issuer.rfc4514_string(), ca_plan['cert'].subject.rfc4514_string()))
        elif not _signed_by(cert, ca_plan['cert'].public_key()):
            reasons.append('signature does not verify with the current CA key')
        not_after = _not_after(cert)
        if not_after <= now:
            reasons.append('expired on %s' % _iso(not_after))
        elif not_after <= now + datetime.timedelta(days=spec['renew_before_days']):
            reasons.append('expires on %s (within renew_before_days=%d)' % (_iso(not_after), spec['renew_before_days']))

    plan['new_key'] = new_key
    plan['key'] = None if new_key else key
    plan['reasons'] = reasons
    if reasons:
        plan['action'] = 'created' if cert_data is None else 'renewed'
        if not new_key and _mode(plan['key_path']) != KEY_MODE:
            plan['chmod'].append((plan['key_path'], KEY_MODE))
    else:
        plan['action'] = 'unchanged'
        plan['cert'] = cert
        for path, mode in ((plan['key_path'], KEY_MODE), (plan['cert_path'], CERT_MODE)):
            if _mode(path) != mode:
                plan['chmod'].append((path, mode))
    return plan


def _bundle_certs(spec, ca_plan, current_cert, now):
    """Ordered list of CA certificates the bundle must hold: the current CA first."""
    wanted = [current_cert]
    if ca_plan['action'] == 'regenerated':
        if spec['ca_overlap'] and ca_plan['old_cert'] is not None and _not_after(ca_plan['old_cert']) > now:
            wanted.append(ca_plan['old_cert'])
        return wanted
    if ca_plan['action'] == 'created' or spec['prune_old_ca'] or current_cert is None:
        return wanted
    current_fp = _fingerprint(current_cert)
    for old in _split_pem(ca_plan['bundle_data']):
        fp = _fingerprint(old)
        if fp != current_fp and _not_after(old) > now and _is_ca(old) and fp not in [_fingerprint(c) for c in wanted[1:]]:
            wanted.append(old)
    return wanted


# ---------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------

def _summary_cert(cert):
    if cert is None:
        return 'absent'
    sans = sorted('%s:%s' % s for s in _cert_sans(cert))
    usages = sorted(_cert_usages(cert))
    text = 'subject=%s; notAfter=%s; serial=%s' % (cert.subject.rfc4514_string(), _iso(_not_after(cert)), _serial(cert))
    if sans:
        text += '; SANs=%s' % ', '.join(sans)
    if usages:
        text += '; usages=%s' % ', '.join(usages)
    return text


def _summary_planned_leaf(leaf, now):
    subject = _name(leaf['common_name'], leaf['organization']).rfc4514_string()
    text = 'subject=%s; notAfter=~%s; serial=(new)' % (subject, _iso(now + datetime.timedelta(days=leaf['validity_days'])))
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
        '%s serial=%s notAfter=%s' % (c.subject.rfc4514_string(), _serial(c), _iso(_not_after(c))) if c is not None
        else '(new CA)' for c in certs))


def _rel(spec, path):
    return os.path.relpath(path, spec['path'])


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------

def run(params, check_mode=False, now=None):
    """Validate, plan and (unless check_mode) apply a cert_bundle spec.

    Returns a dict with changed, ca, certs, regenerated, warnings and diff.
    Raises PkiError (nothing written) for spec problems or a CA that would need regenerate_ca.
    """
    if not HAS_CRYPTOGRAPHY:
        raise PkiError('The cryptography Python library is required on the controller; install it (pip install cryptography).')
    spec = normalize_spec(params)
    now = (now or _utcnow()).replace(microsecond=0)
    warnings = []
    base = spec['path']

    # ---- plan (read-only) -------------------------------------------------
    _check_dir_usable(base)
    for leaf in spec['certs']:
        _check_dir_usable(os.path.dirname(os.path.join(base, leaf['name'])))
    ca_plan = _plan_ca(spec, now, warnings)
    leaf_plans = [_plan_leaf(spec, leaf, ca_plan, now) for leaf in spec['certs']]
    for leaf in spec['certs']:
        if leaf['validity_days'] <= spec['renew_before_days']:
            warnings.append('certs %s has validity_days=%d, not more than renew_before_days=%d, so it is renewed on every run; '
                            'raise validity_days or lower renew_before_days.' % (leaf['name'], leaf['validity_days'], spec['renew_before_days']))

    dir_changes = []
    for directory in [base] + sorted(set(os.path.dirname(p['cert_path']) for p in leaf_plans) - set([base])):
        if not os.path.isdir(directory) or _mode(directory) != DIR_MODE:
            dir_changes.append(directory)

    before_lines = []
    after_lines = []

    # ---- apply (or predict) the CA ----------------------------------------
    ca_changing = ca_plan['action'] != 'unchanged'
    if not check_mode:
        for directory in dir_changes:
            _ensure_dir(directory)
    if ca_changing:
        if check_mode:
            ca_cert, ca_key = None, None
        else:
            ca_key = _generate_key(spec['ca']['key_type'])
            ca_cert = _build_ca(spec['ca'], ca_key, now)
            _atomic_write(ca_plan['key_path'], _key_pem(ca_key), KEY_MODE)
            _atomic_write(ca_plan['cert_path'], _cert_pem(ca_cert), CERT_MODE)
    else:
        ca_cert, ca_key = ca_plan['cert'], ca_plan['key']
    if not check_mode:
        for path, mode in ca_plan['chmod']:
            _chmod(path, mode)

    ca_name = spec['ca']['name']
    before_lines.append('%s.crt: %s' % (ca_name, _summary_cert(ca_plan['old_cert'])))
    if ca_changing and ca_cert is None:
        after_lines.append('%s.crt: subject=%s; notAfter=~%s; serial=(new)' % (
            ca_name, _name(spec['ca']['common_name']).rfc4514_string(),
            _iso(now + datetime.timedelta(days=spec['ca']['validity_days']))))
    else:
        after_lines.append('%s.crt: %s' % (ca_name, _summary_cert(ca_cert)))
    old_ca_key = ca_plan.get('key')
    before_lines.append('%s.key: %s' % (ca_name, _summary_key(_key_type(old_ca_key), _public_fingerprint(old_ca_key))
                                        if old_ca_key is not None else ('present' if os.path.lexists(ca_plan['key_path']) else 'absent')))
    if ca_changing:
        after_lines.append('%s.key: %s' % (ca_name, _summary_key(spec['ca']['key_type'], _public_fingerprint(ca_key) if ca_key else None)))
    else:
        after_lines.append(before_lines[-1])

    # ---- bundle -----------------------------------------------------------
    bundle = _bundle_certs(spec, ca_plan, ca_cert, now)
    old_bundle = _split_pem(ca_plan['bundle_data'])
    if ca_cert is not None:
        bundle_pem = b''.join(_cert_pem(c) for c in bundle)
        bundle_changed = bundle_pem != ca_plan['bundle_data']
        if not bundle_changed and _mode(ca_plan['bundle_path']) != CERT_MODE:
            bundle_changed = True
    else:
        bundle_pem = None
        bundle_changed = True
    if bundle_changed and not check_mode:
        _atomic_write(ca_plan['bundle_path'], bundle_pem, CERT_MODE)
    before_lines.append('%s-bundle.crt: %s' % (ca_name, _summary_bundle(old_bundle) if ca_plan['bundle_data'] is not None else 'absent'))
    after_lines.append('%s-bundle.crt: %s' % (ca_name, _summary_bundle(bundle)))

    # ---- leaves -----------------------------------------------------------
    certs_out = []
    regenerated = []
    if ca_changing:
        regenerated.append({'name': ca_name, 'reason': ca_plan['reason']})
    changed = bool(dir_changes) or ca_changing or bundle_changed or bool(ca_plan['chmod'])
    for plan in leaf_plans:
        leaf = plan['leaf']
        rel = leaf['name']
        key_type_after = leaf['key_type']
        key_fp_after = None
        if plan['action'] == 'unchanged':
            cert = plan['cert']
            key_fp_after = plan['old_key_fp']
        elif check_mode:
            cert = None
            key_fp_after = None if plan['new_key'] else plan['old_key_fp']
        else:
            key = _generate_key(leaf['key_type']) if plan['new_key'] else plan['key']
            cert = _build_leaf(leaf, key, ca_cert, ca_key, now)
            if plan['new_key']:
                _atomic_write(plan['key_path'], _key_pem(key), KEY_MODE)
            _atomic_write(plan['cert_path'], _cert_pem(cert), CERT_MODE)
            key_fp_after = _public_fingerprint(key)
        if not check_mode:
            for path, mode in plan['chmod']:
                _chmod(path, mode)
        if plan['action'] != 'unchanged' or plan['chmod']:
            changed = True
        reason = '; '.join(plan['reasons'])
        if plan['action'] == 'unchanged' and plan['chmod']:
            reason = 'permissions corrected on %s' % ', '.join(_rel(spec, p) for p, _m in plan['chmod'])
        if plan['action'] != 'unchanged':
            regenerated.append({'name': rel, 'reason': reason})
        if cert is not None:
            not_after = _iso(_not_after(cert))
            serial, fingerprint = _serial(cert), _fingerprint(cert)
        else:
            not_after = _iso(now + datetime.timedelta(days=leaf['validity_days']))
            serial, fingerprint = None, None
        certs_out.append({
            'name': rel,
            'cert_path': plan['cert_path'],
            'key_path': plan['key_path'],
            'subject': _name(leaf['common_name'], leaf['organization']).rfc4514_string(),
            'not_after': not_after,
            'serial': serial,
            'fingerprint_sha256': fingerprint,
            'sans': [value for _kind, value in leaf['sans']],
            'usages': list(leaf['usages']),
            'key_type': leaf['key_type'],
            'new_key': plan['new_key'] and plan['action'] != 'unchanged',
            'action': plan['action'],
            'reason': reason,
        })
        before_lines.append('%s.crt: %s' % (rel, _summary_cert(plan['old_cert'])))
        after_lines.append('%s.crt: %s' % (rel, _summary_cert(cert) if cert is not None else _summary_planned_leaf(leaf, now)))
        before_lines.append('%s.key: %s' % (rel, _summary_key(plan['old_key_type'], plan['old_key_fp'])
                                            if plan['old_key_type'] else ('present (unreadable)' if os.path.lexists(plan['key_path']) else 'absent')))
        if plan['action'] == 'unchanged' or not plan['new_key']:
            after_lines.append(before_lines[-1])
        else:
            after_lines.append('%s.key: %s' % (rel, _summary_key(key_type_after, key_fp_after)))

    if ca_cert is not None:
        ca_out = {'subject': ca_cert.subject.rfc4514_string(), 'not_after': _iso(_not_after(ca_cert)),
                  'serial': _serial(ca_cert), 'fingerprint_sha256': _fingerprint(ca_cert)}
    else:
        ca_out = {'subject': _name(spec['ca']['common_name']).rfc4514_string(),
                  'not_after': _iso(now + datetime.timedelta(days=spec['ca']['validity_days'])),
                  'serial': None, 'fingerprint_sha256': None}
    ca_out.update({
        'path': ca_plan['cert_path'],
        'key_path': ca_plan['key_path'],
        'bundle_path': ca_plan['bundle_path'],
        'bundle_size': len(bundle),
        'action': ca_plan['action'],
        'regenerated': ca_plan['action'] == 'regenerated',
        'reason': ca_plan['reason'],
    })
    return {
        'changed': changed,
        'ca': ca_out,
        'certs': certs_out,
        'regenerated': regenerated,
        'warnings': warnings,
        'diff': {
            'before_header': base,
            'after_header': base,
            'before': '\n'.join(before_lines) + '\n',
            'after': '\n'.join(after_lines) + '\n',
        },
    }
