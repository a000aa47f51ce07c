"""STAND-IN kube-apiserver for the ironstone.k8s lab (not the real Kubernetes binary).

Started by the stand-in kubelet from the static pod manifest kubeadm writes, with that manifest's
flags.  It serves a subset of the Kubernetes 1.32 API over HTTPS and keeps every object in the real
external etcd through etcd's JSON gRPC gateway (objects stored as JSON; the real server uses
protobuf).  Anything outside the subset answers HTTP 501 "... is not implemented by the stand-in".

Watches are backed by etcd's streaming `/v3/watch`.  The work of kube-controller-manager that the
lab needs is simulated by background loops (see controllers.py).
"""

import ipaddress
import os
import signal
import ssl
import sys
import threading
import time

from ..version import STANDIN_BANNER, git_version
from . import controllers as controllers_mod
from .etcd import EtcdClient, EtcdError
from .registry import Registry
from .server import ApiServer, TLSServer
from .store import Store

# Every flag of kube-apiserver 1.32 that kubeadm writes or users commonly pass through extraArgs.
BOOL_FLAGS = {
    "allow-privileged", "enable-bootstrap-token-auth", "anonymous-auth", "profiling", "contention-profiling",
    "enable-aggregator-routing", "enable-garbage-collector", "enable-priority-and-fairness", "watch-cache",
    "service-account-lookup", "service-account-extend-token-expiration", "audit-log-compress",
    "audit-log-batch-throttle-enable", "audit-log-truncate-enabled", "audit-webhook-batch-throttle-enable",
    "audit-webhook-truncate-enabled", "disable-http2-serving", "permit-address-sharing", "permit-port-sharing",
    "encryption-provider-config-automatic-reload", "enable-logs-handler", "log-json-split-stream",
    "log-text-split-stream", "aggregator-reject-forwarding-redirect", "allow-metric-labels-manifest-enabled",
    "help",
}
VALUE_FLAGS = {
    "advertise-address", "authorization-mode", "client-ca-file", "enable-admission-plugins", "disable-admission-plugins",
    "admission-control-config-file", "etcd-cafile", "etcd-certfile", "etcd-keyfile", "etcd-servers", "etcd-prefix",
    "etcd-servers-overrides", "etcd-compaction-interval", "etcd-count-metric-poll-period", "etcd-db-metric-poll-interval",
    "etcd-healthcheck-timeout", "etcd-readycheck-timeout", "storage-backend", "storage-media-type",
    "kubelet-client-certificate", "kubelet-client-key", "kubelet-preferred-address-types", "kubelet-certificate-authority",
    "kubelet-timeout", "proxy-client-cert-file", "proxy-client-key-file", "requestheader-allowed-names",
    "requestheader-client-ca-file", "requestheader-extra-headers-prefix", "requestheader-group-headers",
    "requestheader-username-headers", "requestheader-uid-headers", "secure-port", "service-account-issuer",
    "service-account-key-file", "service-account-signing-key-file", "service-account-jwks-uri",
    "service-account-max-token-expiration", "api-audiences", "service-cluster-ip-range", "service-node-port-range",
    "tls-cert-file", "tls-private-key-file", "tls-cipher-suites", "tls-min-version", "tls-sni-cert-key", "cert-dir",
    "bind-address", "v", "vmodule", "feature-gates", "runtime-config", "encryption-provider-config",
    "audit-policy-file", "audit-log-path", "audit-log-maxage", "audit-log-maxbackup", "audit-log-maxsize",
    "audit-log-format", "audit-log-mode", "audit-log-version", "audit-log-batch-buffer-size", "audit-log-batch-max-size",
    "audit-log-batch-max-wait", "audit-log-batch-throttle-burst", "audit-log-batch-throttle-qps",
    "audit-log-truncate-max-batch-size", "audit-log-truncate-max-event-size", "audit-webhook-config-file",
    "audit-webhook-initial-backoff", "audit-webhook-mode", "audit-webhook-version", "audit-webhook-batch-buffer-size",
    "audit-webhook-batch-max-size", "audit-webhook-batch-max-wait", "audit-webhook-batch-throttle-burst",
    "audit-webhook-batch-throttle-qps", "audit-webhook-batch-initial-backoff", "audit-webhook-truncate-max-batch-size",
    "audit-webhook-truncate-max-event-size", "authentication-config", "authentication-token-webhook-cache-ttl",
    "authentication-token-webhook-config-file", "authentication-token-webhook-version", "authorization-config",
    "authorization-policy-file", "authorization-webhook-cache-authorized-ttl", "authorization-webhook-cache-unauthorized-ttl",
    "authorization-webhook-config-file", "authorization-webhook-version", "oidc-ca-file", "oidc-client-id",
    "oidc-groups-claim", "oidc-groups-prefix", "oidc-issuer-url", "oidc-required-claim", "oidc-signing-algs",
    "oidc-username-claim", "oidc-username-prefix", "token-auth-file", "egress-selector-config-file",
    "event-ttl", "default-not-ready-toleration-seconds", "default-unreachable-toleration-seconds",
    "max-mutating-requests-inflight", "max-requests-inflight", "min-request-timeout", "request-timeout",
    "shutdown-delay-duration", "shutdown-send-retry-after", "shutdown-watch-termination-grace-period",
    "livez-grace-period", "goaway-chance", "cors-allowed-origins", "external-hostname", "endpoint-reconciler-type",
    "delete-collection-workers", "default-watch-cache-size", "watch-cache-sizes", "lease-reuse-duration-seconds",
    "kubernetes-service-node-port", "max-connection-bytes-per-sec", "http2-max-streams-per-connection",
    "strict-transport-security-directives", "storage-initialization-timeout", "emulated-version",
    "peer-advertise-ip", "peer-advertise-port", "peer-ca-file", "identity-lease-duration-seconds",
    "identity-lease-renew-interval-seconds", "allow-metric-labels", "allow-metric-labels-manifest", "disabled-metrics",
    "show-hidden-metrics-for-version", "log-flush-frequency", "logging-format", "log-json-info-buffer-size",
    "log-text-info-buffer-size", "tracing-config-file", "debug-socket-path", "cloud-provider-gce-lb-src-cidrs",
    "cloud-provider-gce-l7lb-src-cidrs",
}
SHORT = {"v": "v", "h": "help"}


class FlagError(Exception):
    pass


def parse_flags(argv):
    """pflag-like: --name=value, --name value, bool --name; unknown → FlagError (cobra's message)."""
    values = {}
    args = list(argv)
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg == "--":
            break
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
        elif arg.startswith("-") and len(arg) > 1:
            short, eq, value = arg[1:].partition("=")
            if short not in SHORT:
                raise FlagError(f"unknown shorthand flag: '{short[0]}' in {arg}")
            name = SHORT[short]
        else:
            raise FlagError(f'unknown command "{arg}" for "kube-apiserver"')
        if name == "version":
            values["version"] = value if eq else "true"
            continue
        if name in BOOL_FLAGS:
            if eq and value.lower() not in ("true", "false", "1", "0", "t", "f"):
                raise FlagError(f'invalid argument "{value}" for "--{name}" flag: strconv.ParseBool: parsing "{value}": invalid syntax')
            values[name] = (value.lower() in ("true", "1", "t")) if eq else True
            continue
        if name not in VALUE_FLAGS:
            raise FlagError(f"unknown flag: --{name}")
        if not eq:
            if index >= len(args):
                raise FlagError(f"flag needs an argument: --{name}")
            value = args[index]
            index += 1
        values[name] = value
    return values


class Logger:
    def __init__(self, verbosity):
        self.verbosity = verbosity
        self.lock = threading.Lock()

    def __call__(self, level, message):
        if level > self.verbosity:
            return
        stamp = time.strftime("%m%d %H:%M:%S", time.gmtime())
        with self.lock:
            sys.stderr.write(f"I{stamp} kube-apiserver STAND-IN] {message}\n")
            sys.stderr.flush()


def _read_file(flag, path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as err:
        raise FlagError(f"--{flag}: cannot read {path}: {err.strerror}") from err


def build(values, log):
    """(ApiServer, TLSServer, Controllers); raises FlagError for bad flags or files."""
    for required in ("etcd-servers",):
        if not values.get(required):
            raise FlagError(f"--{required} must be specified")
    cert, key = values.get("tls-cert-file"), values.get("tls-private-key-file")
    if not cert or not key:
        raise FlagError("--tls-cert-file and --tls-private-key-file must be specified (self-signed serving certificates are not implemented by the stand-in)")
    for flag in ("tls-cert-file", "tls-private-key-file", "client-ca-file", "etcd-cafile", "etcd-certfile", "etcd-keyfile",
                 "service-account-key-file", "service-account-signing-key-file", "requestheader-client-ca-file",
                 "proxy-client-cert-file", "proxy-client-key-file", "kubelet-client-certificate", "kubelet-client-key",
                 "encryption-provider-config", "audit-policy-file", "admission-control-config-file"):
        if values.get(flag):
            for path in values[flag].split(","):
                _read_file(flag, path)
    for cert_flag, key_flag in (("kubelet-client-certificate", "kubelet-client-key"), ("proxy-client-cert-file", "proxy-client-key-file"),
                                ("etcd-certfile", "etcd-keyfile")):
        if values.get(cert_flag) and values.get(key_flag):
            probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            try:
                probe.load_cert_chain(values[cert_flag], values[key_flag])
            except (ssl.SSLError, ValueError) as err:
                raise FlagError(f"--{cert_flag}={values[cert_flag]} / --{key_flag}={values[key_flag]}: not a matching PEM certificate "
                                f"and key: {err}") from err
        elif values.get(cert_flag) or values.get(key_flag):
            raise FlagError(f"--{cert_flag} and --{key_flag} must be given together")
    for ca_flag in ("etcd-cafile", "requestheader-client-ca-file"):
        if values.get(ca_flag):
            probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            try:
                probe.load_verify_locations(values[ca_flag])
            except (ssl.SSLError, ValueError) as err:
                raise FlagError(f"--{ca_flag}={values[ca_flag]}: not a PEM CA bundle: {err}") from err
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (ssl.SSLError, ValueError) as err:
        raise FlagError(f"failed to load serving certificate --tls-cert-file={cert} --tls-private-key-file={key}: {err}") from err
    if values.get("client-ca-file"):
        try:
            context.load_verify_locations(values["client-ca-file"])
        except ssl.SSLError as err:
            raise FlagError(f"--client-ca-file={values['client-ca-file']}: not a PEM CA bundle: {err}") from err
        context.verify_mode = ssl.CERT_OPTIONAL
    context.set_alpn_protocols(["http/1.1"])
    try:
        etcd = EtcdClient(values["etcd-servers"].split(","), values.get("etcd-cafile"), values.get("etcd-certfile"),
                          values.get("etcd-keyfile"))
    except (ssl.SSLError, ValueError, OSError) as err:
        raise FlagError(f"etcd client TLS (--etcd-cafile/--etcd-certfile/--etcd-keyfile): {err}") from err
    cidr = values.get("service-cluster-ip-range", "10.96.0.0/12")
    try:
        net = ipaddress.ip_network(cidr.split(",")[0], strict=False)
    except ValueError as err:
        raise FlagError(f"--service-cluster-ip-range: invalid CIDR {cidr}: {err}") from err
    options = {
        "advertise_address": values.get("advertise-address"),
        "secure_port": int(values.get("secure-port", "6443")),
        "enable_bootstrap_token_auth": values.get("enable-bootstrap-token-auth", False),
        "client_ca_file": values.get("client-ca-file"),
        "first_service_ip": str(net.network_address + 1),
        # pods/log is proxied to the kubelets with these (apiserver/podlogs.py)
        "kubelet_client_certificate": values.get("kubelet-client-certificate"),
        "kubelet_client_key": values.get("kubelet-client-key"),
        "kubelet_certificate_authority": values.get("kubelet-certificate-authority"),
        "kubelet_preferred_address_types": [t for t in (values.get("kubelet-preferred-address-types") or "").split(",") if t],
    }
    registry = Registry(etcd)
    store = Store(etcd, registry, cidr, log)
    api = ApiServer(store, registry, options, log)
    bind = values.get("bind-address", "0.0.0.0")
    try:
        httpd = TLSServer((bind, options["secure_port"]), context, api)
    except OSError as err:
        raise FlagError(f"failed to listen on {bind}:{options['secure_port']}: {err}") from err
    ctl = controllers_mod.Controllers(etcd, options, log, registry=registry, store=store)
    return api, httpd, ctl


DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def bootstrap(api, log, stop):
    """Wait for etcd (logging why it is unreachable), create the default namespaces, become ready."""
    import json  # pylint: disable=import-outside-toplevel
    import uuid  # pylint: disable=import-outside-toplevel
    from .store import now_rfc3339  # pylint: disable=import-outside-toplevel
    delay = 1.0
    while not stop.is_set():
        try:
            for name in DEFAULT_NAMESPACES:
                key = f"/registry/namespaces/{name}"
                if api.etcd.get(key)[0] is None:
                    obj = {"kind": "Namespace", "apiVersion": "v1",
                           "metadata": {"name": name, "uid": str(uuid.uuid4()), "creationTimestamp": now_rfc3339(),
                                        "labels": {"kubernetes.io/metadata.name": name}},
                           "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}
                    api.etcd.create(key, json.dumps(obj, separators=(",", ":")))  # None: another server won the race
            api.ready.set()
            log(0, "connected to etcd; default namespaces present; ready")
            return
        except EtcdError as err:
            log(0, f"etcd not reachable, retrying in {delay:.0f}s: {err}")
            stop.wait(delay)
            delay = min(delay * 2, 10.0)


VENDOR_DIR = "/usr/lib/ironstone-standin/vendor"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if os.path.isdir(VENDOR_DIR) and VENDOR_DIR not in sys.path:
        sys.path.insert(0, VENDOR_DIR)  # kubernetes-validate and its dependencies, on a node
    try:
        values = parse_flags(argv)
    except FlagError as err:
        sys.stderr.write(f"Error: {err}\n")
        return 1
    if values.get("help"):
        sys.stdout.write(f"kube-apiserver {STANDIN_BANNER}\nUsage:\n  kube-apiserver [flags]\n")
        return 0
    if "version" in values:
        if values["version"] == "raw":
            sys.stdout.write(f"version.Info{{GitVersion:\"{git_version()}\", StandIn:\"{STANDIN_BANNER}\"}}\n")
        elif values["version"] in ("true", ""):
            sys.stdout.write(f"Kubernetes {git_version()} {STANDIN_BANNER}\n")
        elif values["version"] != "false":
            sys.stderr.write(f'Error: invalid argument "{values["version"]}" for "--version" flag\n')
            return 1
        if values["version"] != "false":
            return 0
    try:
        verbosity = int(values.get("v", "0"))
    except ValueError:
        sys.stderr.write(f'Error: invalid argument "{values.get("v")}" for "-v, --v" flag: strconv.ParseInt: parsing "{values.get("v")}": invalid syntax\n')
        return 1
    log = Logger(verbosity)
    log(0, f"kube-apiserver {git_version()} {STANDIN_BANNER}")
    try:
        api, httpd, ctl = build(values, log)
    except FlagError as err:
        sys.stderr.write(f"Error: {err}\n")
        return 1
    for flag in ("encryption-provider-config", "audit-policy-file", "audit-webhook-config-file", "authentication-config",
                 "authorization-config", "oidc-issuer-url", "token-auth-file", "authentication-token-webhook-config-file",
                 "authorization-webhook-config-file", "admission-control-config-file", "egress-selector-config-file"):
        if values.get(flag):
            log(0, f"WARNING: --{flag} is accepted but its effect is not implemented by the stand-in")
    stop = threading.Event()

    def terminate(signum, frame):  # pylint: disable=unused-argument
        log(0, f"received signal {signum}, shutting down")
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, terminate)
    threading.Thread(target=bootstrap, args=(api, log, stop), daemon=True, name="bootstrap").start()
    threading.Thread(target=lambda: (api.ready.wait(), ctl.start()), daemon=True, name="controllers-start").start()
    log(0, f"serving securely on {values.get('bind-address', '0.0.0.0')}:{values.get('secure-port', '6443')}")
    try:
        httpd.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        ctl.stop.set()
        httpd.server_close()
    return 0
