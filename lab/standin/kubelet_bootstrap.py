"""STAND-IN kubelet: client TLS bootstrap (what pkg/kubelet/certificate/bootstrap does) and the kubeconfig
loading the stand-in kubelet uses.

With a missing or unusable --kubeconfig and a --bootstrap-kubeconfig: generate (or reuse
`kubelet-client.key.tmp`) an EC P-256 key, POST a certificates.k8s.io/v1 CertificateSigningRequest
(signer kubernetes.io/kube-apiserver-client-kubelet, CN system:node:<name>, O system:nodes), poll it
until status.certificate is set, write `<cert-dir>/kubelet-client-<timestamp>.pem` (cert + key), point
the symlink `kubelet-client-current.pem` at it and write --kubeconfig referring to that file."""

import base64
import datetime
import os
import secrets
import string
import tempfile
import time

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from . import kubeclient

SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"
CSR_PATH = "/apis/certificates.k8s.io/v1/certificatesigningrequests"


class BootstrapError(Exception):
    """Worded like the real kubelet's error (the caller prefixes `failed to run Kubelet: `)."""


def host_path(path):
    root = os.environ.get("IRONSTONE_STANDIN_ROOT")
    if root and path and os.path.isabs(path):
        return os.path.join(root, path.lstrip("/"))
    return path


def split_pem(data):
    """(certificate PEM blocks, private key PEM blocks) of one PEM bundle."""
    certs, keys = [], []
    block = []
    for line in data.decode("ascii", "replace").splitlines():
        if line.startswith("-----BEGIN "):
            block = [line]
        elif block:
            block.append(line)
            if line.startswith("-----END "):
                text = "\n".join(block) + "\n"
                (certs if "CERTIFICATE" in block[0] else keys if "PRIVATE KEY" in block[0] else []).append(text)
                block = []
    return "".join(certs).encode("ascii"), "".join(keys).encode("ascii")


def load_kubeconfig(display_path):
    """kubeclient.load_kubeconfig of a kubeconfig whose absolute file references live under
    $IRONSTONE_STANDIN_ROOT in tests; cert and key are separated from combined PEM files."""
    real = host_path(display_path)
    if not os.environ.get("IRONSTONE_STANDIN_ROOT"):
        conf = kubeclient.load_kubeconfig(real)
    else:
        with open(real, encoding="utf-8") as handle:
            doc = yaml.safe_load(handle) or {}
        for section, keys in (("clusters", ("certificate-authority",)), ("users", ("client-certificate", "client-key"))):
            for entry in doc.get(section) or []:
                inner = entry.get(section[:-1]) or {}
                for key in keys:
                    if isinstance(inner.get(key), str):
                        inner[key] = host_path(inner[key])
        with tempfile.NamedTemporaryFile("w", suffix=".conf", dir=os.path.dirname(real), delete=False) as tmp:
            yaml.safe_dump(doc, tmp)
        try:
            conf = kubeclient.load_kubeconfig(tmp.name)
        finally:
            os.unlink(tmp.name)
    if conf.get("cert"):
        conf["cert"] = split_pem(conf["cert"])[0] or conf["cert"]
    if conf.get("key"):
        conf["key"] = split_pem(conf["key"])[1] or conf["key"]
    return conf


def client_from_conf(conf, timeout=10):
    return kubeclient.KubeClient(conf["server"], ca=conf["ca"], cert=conf["cert"], key=conf["key"],
                                 token=conf["token"], insecure=conf["insecure"], timeout=timeout)


def client_config_still_valid(display_path):
    """True if the kubeconfig exists and its client certificate is currently valid (isClientConfigStillValid)."""
    if not os.path.exists(host_path(display_path)):
        return False
    try:
        conf = load_kubeconfig(display_path)
    except (OSError, ValueError, KeyError, yaml.YAMLError):
        return False
    if conf.get("token"):
        return True
    if not conf.get("cert"):
        return False
    try:
        cert = x509.load_pem_x509_certificate(conf["cert"])
    except ValueError:
        return False
    # Debian bookworm's python3-cryptography (38) has only the naive-UTC properties.
    not_before = getattr(cert, "not_valid_before_utc", None) or cert.not_valid_before.replace(tzinfo=datetime.timezone.utc)
    not_after = getattr(cert, "not_valid_after_utc", None) or cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return not_before <= datetime.datetime.now(datetime.timezone.utc) < not_after


def _load_or_generate_key(path):
    if os.path.exists(path):
        with open(path, "rb") as handle:
            try:
                return serialization.load_pem_private_key(handle.read(), password=None)
            except ValueError:
                pass
    key = ec.generate_private_key(ec.SECP256R1())
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))
    return key


def csr_object(key, name):
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"),
                                    x509.NameAttribute(NameOID.COMMON_NAME, f"system:node:{name}")]))
           .sign(key, hashes.SHA256()))
    pem = csr.public_bytes(serialization.Encoding.PEM)
    suffix = "".join(secrets.choice(string.ascii_lowercase + string.digits) for dummy in range(5))
    return {
        "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
        "metadata": {"name": f"csr-{suffix}"},
        "spec": {"request": base64.b64encode(pem).decode("ascii"), "signerName": SIGNER,
                 "usages": ["digital signature", "client auth"]},
    }


def wait_for_certificate(client, csr_name, timeout=300.0, interval=1.0, sleep=time.sleep, clock=time.monotonic):
    deadline = clock() + timeout
    while True:
        obj = client.get(f"{CSR_PATH}/{csr_name}")
        status = obj.get("status") or {}
        for cond in status.get("conditions") or []:
            if cond.get("type") in ("Denied", "Failed") and cond.get("status", "True") == "True":
                raise BootstrapError(f"certificate signing request is {cond['type'].lower()}, reason: {cond.get('reason', '')}, "
                                     f"message: {cond.get('message', '')}")
        if status.get("certificate"):
            return base64.b64decode(status["certificate"])
        if clock() >= deadline:
            raise BootstrapError(f"timed out waiting for the certificate of CertificateSigningRequest {csr_name} "
                                 "(is the CSR approved and signed?)")
        sleep(interval)


def write_kubeconfig(path, bootstrap_conf_doc, pem_display_path):
    """The kubeconfig the real kubelet writes after bootstrapping (default-cluster/default-auth)."""
    cluster = {"server": bootstrap_conf_doc["server"]}
    if bootstrap_conf_doc.get("certificate-authority-data"):
        cluster["certificate-authority-data"] = bootstrap_conf_doc["certificate-authority-data"]
    elif bootstrap_conf_doc.get("certificate-authority"):
        cluster["certificate-authority"] = bootstrap_conf_doc["certificate-authority"]
    if bootstrap_conf_doc.get("insecure-skip-tls-verify"):
        cluster["insecure-skip-tls-verify"] = True
    doc = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"cluster": cluster, "name": "default-cluster"}],
        "contexts": [{"context": {"cluster": "default-cluster", "namespace": "default", "user": "default-auth"},
                      "name": "default-context"}],
        "current-context": "default-context", "preferences": {},
        "users": [{"name": "default-auth", "user": {"client-certificate": pem_display_path, "client-key": pem_display_path}}],
    }
    real = host_path(path)
    os.makedirs(os.path.dirname(real), exist_ok=True)
    tmp = real + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        yaml.safe_dump(doc, handle, default_flow_style=False)
    os.replace(tmp, real)


def _bootstrap_cluster(display_path):
    """The current context's cluster entry of the bootstrap kubeconfig, as written (for the new kubeconfig)."""
    with open(host_path(display_path), encoding="utf-8") as handle:
        doc = yaml.safe_load(handle) or {}
    contexts = {c["name"]: c.get("context", {}) for c in doc.get("contexts") or []}
    context = contexts.get(doc.get("current-context")) or (next(iter(contexts.values())) if len(contexts) == 1 else {})
    clusters = {c["name"]: c.get("cluster", {}) for c in doc.get("clusters") or []}
    return clusters.get(context.get("cluster")) or {}


def load_client_cert(kubeconfig, bootstrap_kubeconfig, cert_dir, name, log, timeout=300.0, client_factory=client_from_conf):
    """bootstrap.LoadClientCert: nothing to do if --kubeconfig is valid, else bootstrap.  Returns True if it bootstrapped."""
    if client_config_still_valid(kubeconfig):
        return False
    log("Using bootstrap kubeconfig to generate TLS client cert, key and kubeconfig file")
    if not os.path.exists(host_path(bootstrap_kubeconfig)):
        raise BootstrapError(f"unable to load bootstrap kubeconfig: stat {bootstrap_kubeconfig}: no such file or directory")
    try:
        conf = load_kubeconfig(bootstrap_kubeconfig)
        cluster_doc = _bootstrap_cluster(bootstrap_kubeconfig)
    except (OSError, ValueError, KeyError, yaml.YAMLError) as err:
        raise BootstrapError(f"unable to load bootstrap kubeconfig: {err}") from err
    real_cert_dir = host_path(cert_dir)
    key_path = os.path.join(real_cert_dir, "kubelet-client.key.tmp")
    key = _load_or_generate_key(key_path)
    client = client_factory(conf)
    csr = csr_object(key, name)
    try:
        created = client.post(CSR_PATH, csr)
    except kubeclient.ApiError as err:
        raise BootstrapError(f"unable to create certificate signing request: {err.message or err}") from err
    csr_name = (created or {}).get("metadata", {}).get("name", csr["metadata"]["name"])
    log(f'"Waiting for client certificate to be issued" csr="{csr_name}"')
    cert_pem = wait_for_certificate(client, csr_name, timeout=timeout)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    stamp = datetime.datetime.now().strftime("%Y-%m-%d-%H-%M-%S")
    dated = os.path.join(real_cert_dir, f"kubelet-client-{stamp}.pem")
    fd = os.open(dated, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(cert_pem.rstrip(b"\n") + b"\n" + key_pem)
    current = os.path.join(real_cert_dir, "kubelet-client-current.pem")
    tmp_link = current + ".tmp"
    if os.path.lexists(tmp_link):
        os.unlink(tmp_link)
    os.symlink(dated, tmp_link)
    os.replace(tmp_link, current)
    os.unlink(key_path)
    write_kubeconfig(kubeconfig, dict(cluster_doc, server=conf["server"]), os.path.join(cert_dir, "kubelet-client-current.pem"))
    log(f'"Client certificate written" path="{os.path.join(cert_dir, "kubelet-client-current.pem")}"')
    return True
