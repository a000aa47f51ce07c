# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# Certificates the kubeadm roles look at: the CA's public-key pin that
# "kubeadm join" checks (--discovery-token-ca-cert-hash) and the expiry of the
# client certificate embedded in a kubeconfig.  Uses ``cryptography``.

import base64
import binascii
import datetime
import hashlib
import re

from ansible_collections.ironstone.k8s.plugins.module_utils.kubeadm.config import KubeadmConfigError

PEM_CERT_RE = re.compile(r'-----BEGIN CERTIFICATE-----\s+[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----')


def _x509():
    try:
        from cryptography import x509
    except ImportError:
        raise KubeadmConfigError('the Python library cryptography is required on the controller')
    return x509


def _der_item(data, pos):
    """(start of content, end of item) of the DER item at ``pos``."""
    if pos + 2 > len(data):
        raise ValueError('truncated DER')
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7f
        if not 0 < count <= 4 or pos + count > len(data):
            raise ValueError('bad DER length')
        length = int(binascii.hexlify(data[pos:pos + count]), 16)
        pos += count
    if pos + length > len(data):
        raise ValueError('truncated DER')
    return pos, pos + length


def _raw_spki(der):
    """The DER bytes of the SubjectPublicKeyInfo of a certificate, as it is encoded there.

    kubeadm hashes x509.Certificate.RawSubjectPublicKeyInfo: the bytes as they
    are in the certificate, not a re-encoding of the key.
    """
    body, _end = _der_item(der, 0)           # Certificate SEQUENCE
    pos, _tbs_end = _der_item(der, body)     # tbsCertificate SEQUENCE
    if der[pos] == 0xa0:                     # [0] version
        pos = _der_item(der, pos)[1]
    for _field in ('serialNumber', 'signature', 'issuer', 'validity', 'subject'):
        pos = _der_item(der, pos)[1]
    if der[pos] != 0x30:
        raise ValueError('no SubjectPublicKeyInfo')
    return der[pos:_der_item(der, pos)[1]]


def _load_pem_cert(pem_text, what):
    if isinstance(pem_text, bytes):
        pem_text = pem_text.decode('ascii', 'replace')
    match = PEM_CERT_RE.search(pem_text or '') if isinstance(pem_text, str) else None
    if not match:
        raise KubeadmConfigError('%s is not a PEM certificate (no BEGIN CERTIFICATE block)' % what)
    x509 = _x509()
    try:
        return x509.load_pem_x509_certificate(match.group(0).encode('ascii'))
    except ValueError as exc:
        raise KubeadmConfigError('%s is not a valid PEM certificate: %s' % (what, exc))


def ca_cert_hash(pem_text):
    """"sha256:<hex>" of the DER SubjectPublicKeyInfo of the (first) certificate of ``pem_text``."""
    cert = _load_pem_cert(pem_text, 'the CA certificate')
    from cryptography.hazmat.primitives import serialization
    der = cert.public_bytes(serialization.Encoding.DER)
    try:
        spki = _raw_spki(bytearray(der))
    except (ValueError, IndexError):
        spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    return 'sha256:' + hashlib.sha256(bytes(spki)).hexdigest()


def _not_after(cert):
    value = getattr(cert, 'not_valid_after_utc', None)  # cryptography >= 42
    if value is None:
        value = cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)  # naive UTC before
    return value


def kubeconfig_client_expiry(kubeconfig_text, now=None):
    """Expiry of the first user's client-certificate-data, or None (no such data, empty text).

    ``now`` (an aware datetime, default: the current time) is what seconds_left counts from.
    """
    if not kubeconfig_text or not str(kubeconfig_text).strip():
        return None
    import yaml
    try:
        doc = yaml.safe_load(kubeconfig_text)
    except yaml.YAMLError as exc:
        raise KubeadmConfigError('the kubeconfig is not YAML: %s' % (exc,))
    if not isinstance(doc, dict):
        raise KubeadmConfigError('the kubeconfig is not a mapping')
    users = doc.get('users') or []
    if not isinstance(users, list):
        raise KubeadmConfigError('the kubeconfig\'s users is not a list')
    if not users:
        return None
    user = (users[0] or {}).get('user') if isinstance(users[0], dict) else None
    data = (user or {}).get('client-certificate-data') if isinstance(user, dict) else None
    if not data:
        return None
    try:
        pem = base64.b64decode(''.join(str(data).split()), validate=True).decode('ascii')
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise KubeadmConfigError('the kubeconfig\'s client-certificate-data is not base64 of a PEM certificate')
    cert = _load_pem_cert(pem, 'the kubeconfig\'s client-certificate-data')
    from cryptography.x509.oid import NameOID
    not_after = _not_after(cert)
    if now is None:
        now = datetime.datetime.now(datetime.timezone.utc)
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    orgs = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return {
        'not_after': not_after.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'),
        'seconds_left': int((not_after - now).total_seconds() // 1),
        'subject_cn': cns[0].value if cns else None,
        'subject_o': [o.value for o in orgs],
    }
