"""STAND-IN: the cluster PKI of the kubeadm stand-in (CA, leaf certificates, keys, pins, cert-key encryption).

Built with ``cryptography``.  Validity, key types, subjects and extensions follow what kubeadm
1.32 writes: RSA 2048 keys by default (ECDSA-P256 and larger RSA on request), CAs valid 10 years,
leaves 1 year, both backdated 5 minutes; keys in PKCS#1 / SEC1 PEM as kubeadm's keyutil writes them.
"""

import datetime
import hashlib
import ipaddress
import os
import secrets

from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
LEAF_DAYS = 365
BACKDATE = datetime.timedelta(minutes=5)


class PKIError(Exception):
    """A certificate or key problem, worded like kubeadm's."""


def not_after_utc(cert):
    """The certificate's notAfter as an aware UTC datetime (Debian 12's cryptography 38 has no *_utc properties)."""
    value = getattr(cert, "not_valid_after_utc", None)
    return value if value is not None else cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)


def new_key(algorithm="RSA-2048"):
    if algorithm == "ECDSA-P256":
        return ec.generate_private_key(ec.SECP256R1())
    bits = int(algorithm.split("-")[1]) if algorithm.startswith("RSA-") else 2048
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def key_pem(key):
    fmt = serialization.PrivateFormat.TraditionalOpenSSL  # "RSA PRIVATE KEY" / "EC PRIVATE KEY"
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())


def public_pem(key):
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def cert_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def load_cert(data):
    return x509.load_pem_x509_certificate(data)


def load_key(data):
    return serialization.load_pem_private_key(data, password=None)


def _name(common_name, organizations=()):
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def new_ca(common_name, key=None, days=CA_DAYS, algorithm="RSA-2048"):
    """A self-signed CA (kubeadm's NewSelfSignedCACert): returns (cert, key)."""
    key = key or new_key(algorithm)
    now = _now()
    name = _name(common_name)
    builder = (x509.CertificateBuilder()
               .subject_name(name).issuer_name(name)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - BACKDATE)
               .not_valid_after(now + datetime.timedelta(days=days))
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    return builder.sign(key, hashes.SHA256()), key


def split_sans(names):
    """DNS names and IP addresses of a SAN list (strings)."""
    dns, ips = [], []
    for name in names:
        if not name:
            continue
        try:
            ip = ipaddress.ip_address(name)
            if ip not in ips:
                ips.append(ip)
        except ValueError:
            if name not in dns:
                dns.append(name)
    return dns, ips


def new_leaf(ca_cert, ca_key, common_name, organizations=(), server=False, client=False, sans=(),
             key=None, days=LEAF_DAYS, algorithm="RSA-2048"):
    """A certificate signed by the CA (kubeadm's NewSignedCert): returns (cert, key)."""
    key = key or new_key(algorithm)
    now = _now()
    not_after = min(now + datetime.timedelta(days=days), not_after_utc(ca_cert))
    usages = []
    if server:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    if client:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    builder = (x509.CertificateBuilder()
               .subject_name(_name(common_name, organizations))
               .issuer_name(ca_cert.subject)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - BACKDATE)
               .not_valid_after(not_after)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                            key_encipherment=isinstance(key, rsa.RSAPrivateKey),
                                            data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False))
    dns, ips = split_sans(sans)
    if dns or ips:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(d) for d in dns] + [x509.IPAddress(i) for i in ips]), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def renew(ca_cert, ca_key, old_cert, key, days=LEAF_DAYS):
    """Reissue a leaf with the same subject, SANs and usages (kubeadm certs renew keeps the key)."""
    subject = old_cert.subject
    orgs = [a.value for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    common_names = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    try:
        eku = old_cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        eku = []
    sans = []
    try:
        san = old_cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans = [str(v) for v in san.get_values_for_type(x509.DNSName)] + [str(v) for v in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        pass
    return new_leaf(ca_cert, ca_key, common_names[0].value if common_names else "", orgs,
                    server=ExtendedKeyUsageOID.SERVER_AUTH in eku, client=ExtendedKeyUsageOID.CLIENT_AUTH in eku,
                    sans=sans, key=key, days=days)


def sans_of(cert):
    """(dns names, ip strings) of a certificate."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    return list(san.get_values_for_type(x509.DNSName)), [str(i) for i in san.get_values_for_type(x509.IPAddress)]


def keys_match(cert, key):
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    return cert.public_key().public_bytes(enc, pub) == key.public_key().public_bytes(enc, pub)


def signed_by(cert, ca_cert):
    """True when ca_cert's key signed cert."""
    if cert.issuer != ca_cert.subject:
        return False
    public = ca_cert.public_key()
    try:
        if isinstance(public, rsa.RSAPublicKey):
            public.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm)
        elif isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
        else:
            return False
    except InvalidSignature:
        return False
    return True


def spki_pin(cert):
    """kubeadm's CA pin: "sha256:" + hex SHA-256 of the DER SubjectPublicKeyInfo."""
    der = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()


# ---------------------------------------------------------------------------
# Certificate key (kubeadm init --upload-certs): AES-256-GCM, nonce prepended (cryptoutil.EncryptBytes)
# ---------------------------------------------------------------------------
def new_certificate_key():
    return secrets.token_hex(32)


def decode_certificate_key(key_hex):
    try:
        key = bytes.fromhex(key_hex)
    except ValueError as exc:
        raise PKIError(f"error decoding certificate key: encoding/hex: {exc}") from exc
    if len(key) != 32:
        raise PKIError(f"error decoding certificate key: invalid certificate key size {len(key)}, the key must be an AES key of size 32")
    return key


def encrypt(data, key_hex):
    key = decode_certificate_key(key_hex)
    nonce = os.urandom(12)
    return nonce + AESGCM(key).encrypt(nonce, data, None)


def decrypt(blob, key_hex):
    key = decode_certificate_key(key_hex)
    if len(blob) < 12:
        raise PKIError("size of data is less than the nonce size")
    try:
        return AESGCM(key).decrypt(blob[:12], blob[12:], None)
    except InvalidTag as exc:
        raise PKIError("cipher: message authentication failed") from exc
