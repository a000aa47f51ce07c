"""STAND-IN kubelet: the serving certificate of `serverTLSBootstrap: true`, as the real kubelet's server certificate
manager (pkg/kubelet/certificate, on client-go's certificate manager) gets it.  Not the real kubelet.

With serverTLSBootstrap the kubelet does not sign its own serving certificate: it creates an EC P-256 key (kept in
memory) and a certificates.k8s.io/v1 CertificateSigningRequest of the signer `kubernetes.io/kubelet-serving`, with the
subject `O=system:nodes, CN=system:node:<name>`, the node's host name as DNS SAN and its node IPs as IP SANs, and the
usages `digital signature` and `server auth` (plus `key encipherment` for an RSA key, which the stand-in never makes).
It is created with the kubelet's own client credentials, so the API server records `system:node:<name>` in
`system:nodes` as its requester.  Kubernetes never approves these requests by itself; once someone approves one and
the signer issues it, the kubelet writes `<cert-dir>/kubelet-server-<timestamp>.pem` (certificate and key, 0600),
points the symlink `kubelet-server-current.pem` at it and serves with it.

The kubelet keeps running while the request waits: ServingCertificate.tick() is called from the status loop, makes one
API call at most, and never blocks.  A request that is denied, failed or deleted is replaced by a new one after a
back-off.  A certificate past 80% of its lifetime, or whose SANs no longer match the node, is replaced the same way.
Unlike the real kubelet, the stand-in serves its self-signed `kubelet.crt` until the first certificate is issued (the
real one refuses TLS handshakes until then), and it does not persist a request across restarts (neither does the real
one: a restarted kubelet asks again).
"""

import base64
import datetime
import ipaddress
import os
import secrets
import string
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from . import kubeclient
from .kubelet_bootstrap import CSR_PATH, host_path, split_pem

SIGNER = "kubernetes.io/kubelet-serving"
PAIR_PREFIX = "kubelet-server"
CURRENT = PAIR_PREFIX + "-current.pem"
RETRY_SECONDS = 60.0
ROTATE_FRACTION = 0.8


def _utc(cert, which):
    value = getattr(cert, f"not_valid_{which}_utc", None)  # cryptography >= 42; bookworm's 38 has only the naive ones
    return value if value is not None else getattr(cert, f"not_valid_{which}").replace(tzinfo=datetime.timezone.utc)


def wanted_sans(name, node_ip):
    """(DNS names, IP addresses) the kubelet asks for: its host name and node IPs, as it reports them in its Node."""
    ips = []
    for part in (node_ip or "").split(","):
        part = part.strip()
        if part:
            try:
                ips.append(ipaddress.ip_address(part))
            except ValueError:
                pass
    return [name], ips


def usages_for(key):
    usages = ["digital signature", "server auth"]
    if isinstance(key, rsa.RSAPrivateKey):
        usages.insert(1, "key encipherment")
    return usages


def csr_object(key, name, node_ip):
    """The CertificateSigningRequest the kubelet posts (a random `csr-` name, as generateName gives)."""
    dns, ips = wanted_sans(name, node_ip)
    request = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"),
                                        x509.NameAttribute(NameOID.COMMON_NAME, f"system:node:{name}")]))
               .add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns] + [x509.IPAddress(i) for i in ips]),
                              critical=False)
               .sign(key, hashes.SHA256()))
    suffix = "".join(secrets.choice(string.ascii_lowercase + string.digits) for dummy in range(5))
    return {
        "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
        "metadata": {"name": f"csr-{suffix}"},
        "spec": {"request": base64.b64encode(request.public_bytes(serialization.Encoding.PEM)).decode("ascii"),
                 "signerName": SIGNER, "usages": usages_for(key)},
    }


def cert_sans(cert):
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set(), set()
    return set(san.get_values_for_type(x509.DNSName)), set(san.get_values_for_type(x509.IPAddress))


def load_current(cert_dir):
    """(certificate, key) of `<cert-dir>/kubelet-server-current.pem`, or None when absent or unreadable."""
    path = os.path.join(host_path(cert_dir), CURRENT)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        certs, keys = split_pem(data)
        return x509.load_pem_x509_certificate(certs), serialization.load_pem_private_key(keys, password=None)
    except (OSError, ValueError, TypeError):
        return None


def valid_now(cert, now=None):
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return _utc(cert, "before") <= now < _utc(cert, "after")


def needs_new(pair, name, node_ip, now=None):
    """Why the current pair cannot serve (missing, expired, rotation due, other SANs), or None."""
    if pair is None:
        return "no serving certificate yet"
    cert, _key = pair
    now = now or datetime.datetime.now(datetime.timezone.utc)
    start, end = _utc(cert, "before"), _utc(cert, "after")
    if not valid_now(cert, now):
        return "the serving certificate is not valid now"
    if now >= start + (end - start) * ROTATE_FRACTION:
        return "the serving certificate is past 80% of its lifetime"
    dns, ips = wanted_sans(name, node_ip)
    if cert_sans(cert) != (set(dns), set(ips)):
        return "the serving certificate's SANs differ from the node's addresses"
    return None


def write_pair(cert_dir, cert_pem, key):
    """Write `kubelet-server-<timestamp>.pem` (0600) and point `kubelet-server-current.pem` at it; returns the latter."""
    real = host_path(cert_dir)
    os.makedirs(real, exist_ok=True)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    stamp = datetime.datetime.now().strftime("%Y-%m-%d-%H-%M-%S")
    dated = os.path.join(real, f"{PAIR_PREFIX}-{stamp}.pem")
    fd = os.open(dated, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(cert_pem.rstrip(b"\n") + b"\n" + key_pem)
    current = os.path.join(real, CURRENT)
    tmp_link = current + ".tmp"
    if os.path.lexists(tmp_link):
        os.unlink(tmp_link)
    os.symlink(dated, tmp_link)
    os.replace(tmp_link, current)
    return current


class ServingCertificate:  # pylint: disable=too-many-instance-attributes
    """The serving-certificate manager of one kubelet: tick() from the status loop, reload() into the TLS context."""

    def __init__(self, cert_dir, name, node_ip, context=None, log=print, clock=time.monotonic):  # pylint: disable=too-many-arguments
        self.cert_dir = cert_dir
        self.name = name
        self.node_ip = node_ip
        self.context = context
        self.log = log
        self.clock = clock
        self.key = None
        self.csr_name = None
        self.not_before = -1e9  # no new request before this (back-off after a denial or an error)
        self.last_error = -1e9
        self.serving = None  # path of the pair the TLS context serves, once it serves an issued one

    def reload(self):
        """Serve the current issued pair, if there is a usable one; True when the context now serves it."""
        pair = load_current(self.cert_dir)
        if self.context is None or pair is None or not valid_now(pair[0]):
            return False
        path = os.path.join(host_path(self.cert_dir), CURRENT)
        self.context.load_cert_chain(path)
        self.serving = os.path.realpath(path)
        return True

    def _error(self, what, err):
        now = self.clock()
        if now - self.last_error >= 60:
            self.last_error = now
            self.log(f'"{what}" err="{err}"')

    def tick(self, client):
        """One step: nothing while the current certificate is fine; else create, or look at, the request.
        Returns 'ok', 'requested', 'waiting', 'issued', 'replaced' (denied, failed or gone) or 'error'."""
        try:
            return self._tick(client)
        except (kubeclient.ApiError, OSError, ValueError) as err:
            self._error("kubernetes.io/kubelet-serving: certificate request failed, will retry", err)
            self.not_before = self.clock() + RETRY_SECONDS
            return "error"

    def _tick(self, client):
        if self.csr_name is None:
            reason = needs_new(load_current(self.cert_dir), self.name, self.node_ip)
            if reason is None:
                return "ok"
            if self.clock() < self.not_before:
                return "waiting"
            self.key = ec.generate_private_key(ec.SECP256R1())
            csr = csr_object(self.key, self.name, self.node_ip)
            created = client.post(CSR_PATH, csr)
            self.csr_name = (created or {}).get("metadata", {}).get("name", csr["metadata"]["name"])
            self.log(f'"kubernetes.io/kubelet-serving: Rotating certificates" reason="{reason}" csr="{self.csr_name}"')
            return "requested"
        try:
            obj = client.get(f"{CSR_PATH}/{self.csr_name}")
        except kubeclient.ApiError as err:
            if err.status != 404:
                raise
            self.log(f'"kubernetes.io/kubelet-serving: certificate request is gone, asking again" csr="{self.csr_name}"')
            return self._replace()
        status = obj.get("status") or {}
        for cond in status.get("conditions") or []:
            if cond.get("type") in ("Denied", "Failed") and cond.get("status", "True") == "True":
                self.log(f'"kubernetes.io/kubelet-serving: certificate request is {cond["type"].lower()}" csr="{self.csr_name}" '
                         f'reason="{cond.get("reason", "")}"')
                return self._replace()
        if not status.get("certificate"):
            return "waiting"
        path = write_pair(self.cert_dir, base64.b64decode(status["certificate"]), self.key)
        self.log(f'"kubernetes.io/kubelet-serving: certificate issued" csr="{self.csr_name}" path="{path}"')
        self.csr_name, self.key = None, None
        self.reload()
        return "issued"

    def _replace(self):
        self.csr_name, self.key = None, None
        self.not_before = self.clock() + RETRY_SECONDS
        return "replaced"
