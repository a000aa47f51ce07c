"""Shared by the API stand-in's tests that start a throwaway real etcd and the API server stand-in: the
cluster PKI they need (cluster CA, etcd CA, serving and client certificates, one client certificate per node)
and a wait for a TCP port. Not a test module."""
import datetime
import ipaddress
import os
import socket
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID


def write_pki(directory, nodes):
    now = datetime.datetime.now(datetime.timezone.utc)

    def issue(name, cn, orgs, ca, server):
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs] + [x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        builder = (x509.CertificateBuilder().subject_name(subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1)))
        if ca is None:
            cert = builder.issuer_name(subject).add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256())
        else:
            usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH] if server else [ExtendedKeyUsageOID.CLIENT_AUTH]
            builder = builder.issuer_name(ca[0].subject).add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            if server:
                builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                                             x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            cert = builder.sign(ca[1], hashes.SHA256())
        with open(os.path.join(directory, name + ".crt"), "wb") as handle:
            handle.write(cert.public_bytes(serialization.Encoding.PEM))
        with open(os.path.join(directory, name + ".key"), "wb") as handle:
            handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
        return cert, key

    ca = issue("ca", "kubernetes", [], None, False)
    etcd_ca = issue("etcd-ca", "etcd-ca", [], None, False)
    issue("etcd-server", "etcd", [], etcd_ca, True)
    issue("etcd-client", "kube-apiserver-etcd-client", [], etcd_ca, False)
    issue("apiserver", "kube-apiserver", [], ca, True)
    issue("admin", "kubernetes-admin", ["system:masters"], ca, False)
    for node in nodes:
        issue("node-" + node, "system:node:" + node, ["system:nodes"], ca, False)


def wait_port(port, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.1)
    return False
