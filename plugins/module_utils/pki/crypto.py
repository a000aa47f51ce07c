# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# X.509 helpers for cert_bundle on top of ``cryptography``: load, inspect, sign.
# Private keys only leave this file as PEM for the key files; everything that is
# reported carries key types and public-key fingerprints.

import datetime
import ipaddress
import re
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


from ansible_collections.ironstone.k8s.plugins.module_utils.pki.spec import USAGES

_USAGE_NAMES = dict((v, k) for k, v in USAGES.items())
# Backdate notBefore a little so that peers with a slightly late clock accept a fresh certificate.
BACKDATE = datetime.timedelta(minutes=5)


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def not_after(cert):
    value = getattr(cert, 'not_valid_after_utc', None)
    if value is None:
        value = cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return value


def iso(moment):
    return moment.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ') if moment else None


def hex_colon(data):
    return ':'.join('%02X' % b for b in bytearray(data))


def fingerprint(cert):
    return hex_colon(cert.fingerprint(hashes.SHA256()))


def key_id(cert, authority=False):
    """The subject (or, with authority, the authority) key identifier of cert, hex with colons; None when absent."""
    try:
        if authority:
            value = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
        else:
            value = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return None
    return hex_colon(value) if value else None


def serial(cert):
    return '%X' % cert.serial_number


def public_der(key):
    if hasattr(key, 'public_key'):
        key = key.public_key()
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def public_fingerprint(key):
    digest = hashes.Hash(hashes.SHA256())
    digest.update(public_der(key))
    return hex_colon(digest.finalize())


def key_type(key):
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return 'ecdsa-p256' if key.curve.name == 'secp256r1' else 'ecdsa-%s' % key.curve.name
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return 'rsa-%d' % key.key_size
    return type(key).__name__


def generate_key(key_type):
    if key_type == 'ecdsa-p256':
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type.split('-')[1]))


def key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def cert_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def load_cert(data):
    try:
        return x509.load_pem_x509_certificate(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None


def load_key(data):
    try:
        return serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None


def split_pem(data):
    """Parse every CERTIFICATE block of a PEM bundle; unreadable blocks are skipped."""
    found = []
    pattern = re.compile(br'-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----', re.S)
    for match in pattern.finditer(data or b''):
        cert = load_cert(match.group(0) + b'\n')
        if cert is not None:
            found.append(cert)
    return found


def attr(name, oid):
    return [a.value for a in name.get_attributes_for_oid(oid)]


def cert_sans(cert):
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


def cert_usages(cert):
    try:
        ext = cert.extensions.get_extension_for_oid(ExtensionOID.EXTENDED_KEY_USAGE).value
    except x509.ExtensionNotFound:
        return set()
    return set(_USAGE_NAMES.get(oid.dotted_string, oid.dotted_string) for oid in ext)


def is_ca(cert):
    try:
        return cert.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value.ca
    except x509.ExtensionNotFound:
        return False


def signed_by(cert, issuer_public_key):
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


def subject_name(common_name, organization=None):
    attrs = []
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def build_ca(spec_ca, key, now):
    subject = subject_name(spec_ca['common_name'])
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


def build_leaf(leaf, key, ca_cert, ca_key, now):
    is_rsa = isinstance(key, rsa.RSAPrivateKey)
    builder = (x509.CertificateBuilder()
               .subject_name(subject_name(leaf['common_name'], leaf['organization']))
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
