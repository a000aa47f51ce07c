"""STAND-IN: ``kubeadm kubeconfig user`` of the kubeadm stand-in (kubeadm 1.32's behaviour, client certificates only).

Like the real command it reads the optional ``--config`` (InitConfiguration and/or ClusterConfiguration,
checked by the strict validator), loads the cluster CA from ``<certificatesDir>/ca.crt`` and ``ca.key``,
signs a client certificate (CN = ``--client-name``, O = ``--org``, valid for ``--validity-period`` from
now) and prints a kubeconfig with the certificates embedded.  It writes nothing to disk.  ``--token``
(a token kubeconfig) answers "not implemented by the stand-in".
"""

import posixpath
import re

from . import kubeadm_defaults as defaults
from . import kubeadm_env as env
from . import kubeconfig
from . import pki
from .kubeadm_flags import FlagError

DEFAULT_VALIDITY = "8760h0m0s"
DEFAULT_VALIDITY_SECONDS = 8760 * 3600
BARE_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


def parse_validity(text):
    """Seconds of the --validity-period flag (a Go duration), refused with pflag's wording."""
    try:
        if BARE_NUMBER.match(text) and text.lstrip("+-") not in ("0", "0.0"):
            raise defaults.StandinError(f'time: missing unit in duration "{text}"')
        return defaults.duration_seconds(text)
    except defaults.StandinError as exc:
        message = str(exc)
        if "missing unit" not in message:
            message = f'time: invalid duration "{text}"'
        raise FlagError(f'invalid argument "{text}" for "--validity-period" flag: {message}') from exc


def load_configuration(flags):
    """(InitConfiguration, ClusterConfiguration) with kubeadm's defaults, from --config or the defaults alone."""
    path = flags.get("config")
    kinds = defaults.read_config(path) if path else {}
    init, cluster, dummy = defaults.init_configuration(kinds)
    return init, cluster


def read_ca_file(node_path):
    with open(env.host(node_path), "rb") as handle:
        return handle.read()


def load_ca(certificates_dir):
    """(cert, key) of the cluster CA; errors worded like pkiutil.TryLoadCertAndKeyFromDisk's."""
    cert_path, key_path = posixpath.join(certificates_dir, "ca.crt"), posixpath.join(certificates_dir, "ca.key")
    prefix = "couldn't create a kubeconfig; the CA files couldn't be loaded: "
    try:
        data = read_ca_file(cert_path)
    except OSError as exc:
        raise defaults.StandinError(f"{prefix}failed to load certificate: couldn't load the certificate file {cert_path}: "
                                    f"open {cert_path}: {exc.strerror.lower()}") from exc
    try:
        cert = pki.load_cert(data)
    except ValueError as exc:
        raise defaults.StandinError(f"{prefix}failed to load certificate: couldn't load the certificate file {cert_path}: "
                                    f"error reading {cert_path}: data does not contain any valid RSA or ECDSA certificates") from exc
    try:
        data = read_ca_file(key_path)
    except OSError as exc:
        raise defaults.StandinError(f"{prefix}failed to load key: couldn't load the private key file {key_path}: "
                                    f"open {key_path}: {exc.strerror.lower()}") from exc
    try:
        key = pki.load_key(data)
    except (ValueError, TypeError) as exc:
        raise defaults.StandinError(f"{prefix}failed to load key: couldn't load the private key file {key_path}: "
                                    f"error reading private key file {key_path}: "
                                    "data does not contain a valid RSA or ECDSA private key") from exc
    return cert, key


def user(positionals, flags):
    """kubeadm kubeconfig user: print a kubeconfig with a new client certificate for --client-name."""
    del positionals  # cobra.NoArgs: refused by the CLI before we get here
    validity = parse_validity(flags.get("validity-period", DEFAULT_VALIDITY))
    if "client-name" not in flags:
        raise FlagError('required flag(s) "client-name" not set')
    client_name = flags["client-name"]
    init, cluster = load_configuration(flags)
    if validity > DEFAULT_VALIDITY_SECONDS:
        env.err(f"W{env.now():%m%d %H:%M:%S.%f} WARNING: the specified certificate validity period "
                f"{defaults.go_duration(validity)} is longer than the default duration {DEFAULT_VALIDITY}, "
                "this may increase security risks.")
    if flags.get("token"):
        raise defaults.not_implemented("kubeadm kubeconfig user --token (a kubeconfig with token authentication)")
    ca_cert, ca_key = load_ca(cluster["certificatesDir"])
    server = defaults.control_plane_server(cluster, init["localAPIEndpoint"])
    if not client_name:
        raise defaults.StandinError("failure while creating  client certificate: unable to sign certificate: "
                                    "must specify a CommonName")
    try:
        cert, key = pki.new_leaf(ca_cert, ca_key, client_name, flags.get("org", []), client=True,
                                 days=validity / 86400, algorithm=cluster["encryptionAlgorithm"])
    except ValueError as exc:  # cryptography refuses a notAfter before notBefore; Go would sign it
        raise defaults.not_implemented(f"a --validity-period that ends before the certificate's start ({exc})") from exc
    config = kubeconfig.build(server, pki.cert_pem(ca_cert), cluster["clusterName"], client_name,
                              pki.cert_pem(cert), pki.key_pem(key))
    env.out(kubeconfig.dump(config))
    return 0
