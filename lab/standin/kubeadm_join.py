"""STAND-IN: ``kubeadm join`` (bootstrap-token discovery; worker and control-plane) of the kubeadm stand-in.

Discovery as kubeadm does it: an anonymous GET of ``kube-public/cluster-info`` without verifying the
server, the ``jws-kubeconfig-<token-id>`` detached JWS checked with the token secret, the CA pinned
against ``caCertHashes`` (SHA-256 of the DER SubjectPublicKeyInfo) unless unsafeSkipCAVerification,
then the same object fetched again over TLS verified with that CA.  File discovery is not implemented.
"""

import ssl

import yaml

from . import kubeadm_certs as certs
from . import kubeadm_cluster as cluster_api
from . import kubeadm_config
from . import kubeadm_defaults as defaults
from . import kubeadm_env as env
from . import kubeadm_manifests as manifests
from . import kubeadm_preflight as preflight
from . import kubeconfig
from . import pki
from .kubeadm_init import run_phase
from .kubeclient import ApiError
from .version import KUBERNETES_VERSION

TOKEN_USER = "tls-bootstrap-token-user"
CLUSTER_INFO = f"/api/v1/namespaces/{cluster_api.PUBLIC}/configmaps/cluster-info"


def config_from_flags(positionals, flags):
    """A JoinConfiguration document from `join <endpoint> --token ...` flags."""
    doc = {"apiVersion": defaults.API_V1BETA4, "kind": "JoinConfiguration",
           "discovery": {"bootstrapToken": {"apiServerEndpoint": positionals[0] if positionals else "",
                                            "token": flags.get("token", "")}}}
    token = doc["discovery"]["bootstrapToken"]
    if flags.get("discovery-token-ca-cert-hash"):
        token["caCertHashes"] = list(flags["discovery-token-ca-cert-hash"])
    if flags.get("discovery-token-unsafe-skip-ca-verification"):
        token["unsafeSkipCAVerification"] = True
    if flags.get("control-plane"):
        doc["controlPlane"] = {}
        if flags.get("certificate-key"):
            doc["controlPlane"]["certificateKey"] = flags["certificate-key"]
    return {"JoinConfiguration": doc}


def load(positionals, flags):
    if flags.get("config"):
        mixed = [f"--{n}" for n in ("token", "discovery-token-ca-cert-hash", "discovery-token-unsafe-skip-ca-verification",
                                    "control-plane", "certificate-key") if n in flags]
        if mixed or positionals:
            raise defaults.StandinError(f"can not mix '--config' with arguments {mixed + positionals}")
        kinds = defaults.read_config(flags["config"])
    else:
        if len(positionals) > 1:
            raise defaults.StandinError(f"accepts at most 1 arg(s), received {len(positionals)}")
        kinds = config_from_flags(positionals, flags)
        errors = kubeadm_config.validate(yaml.safe_dump(kinds["JoinConfiguration"]), KUBERNETES_VERSION)
        if errors:
            raise defaults.StandinError("\n".join(errors))
    join = defaults.join_configuration(kinds)
    if join.get("dryRun"):
        raise defaults.not_implemented("dryRun: true")
    return join


def _fetch_cluster_info(client):
    cm = client.get(CLUSTER_INFO)
    return cm.get("data") or {}


def discover(join):
    """(server URL, CA PEM) of the cluster, trusted through the token and the CA pins."""
    spec = join["discovery"]["bootstrapToken"]
    token_id, token_secret = cluster_api.split_token(spec["token"])
    endpoint = spec["apiServerEndpoint"]
    url = "https://" + endpoint
    timeout = defaults.duration_seconds(join["timeouts"]["discovery"])
    start = env.monotonic()
    last_error = None
    while True:
        try:
            data = _fetch_cluster_info(env.client(url, insecure=True))
            signature = data.get(f"jws-kubeconfig-{token_id}")
            if signature:
                break
            last_error = defaults.StandinError(
                f'there is no JWS signed token in the cluster-info ConfigMap. This token id "{token_id}" is invalid for this cluster, '
                'or it has expired. Use "kubeadm token create" on the control-plane node to create a new valid token')
        except (OSError, ssl.SSLError) as exc:
            last_error = defaults.StandinError(f'failed to request the cluster-info ConfigMap: Get "{url}{CLUSTER_INFO}?timeout=10s": {exc}')
        except ApiError as exc:
            last_error = defaults.StandinError(f"failed to request the cluster-info ConfigMap: {exc.message or exc}")
        if env.monotonic() - start >= timeout:
            raise last_error
        env.sleep(5)
    text = data.get("kubeconfig", "")
    if not cluster_api.jws_verify(signature, text, token_id, token_secret):
        raise defaults.StandinError("failed to verify JWS signature of received cluster info object, can't trust this API server")
    try:
        server, ca = kubeconfig.parse(text)
        ca_cert = pki.load_cert(ca)
    except ValueError as exc:
        raise defaults.StandinError(f"couldn't parse the kubeconfig file in the cluster-info ConfigMap: {exc}") from exc
    pin = pki.spki_pin(ca_cert)
    if not spec.get("unsafeSkipCAVerification"):
        pins = {p.lower() for p in spec.get("caCertHashes") or []}
        if pin.lower() not in pins:
            raise defaults.StandinError(f'cluster CA found in cluster-info ConfigMap is invalid: none of the public keys "{pin}" are pinned')
    # Now fetch it again, trusting the (pinned) CA, and make sure it is the same object.
    try:
        again = _fetch_cluster_info(env.client(url, ca=ca))
    except (OSError, ssl.SSLError, ApiError) as exc:
        raise defaults.StandinError(f"failed to request the cluster-info ConfigMap with the pinned CA: {exc}") from exc
    if again.get("kubeconfig") != text:
        raise defaults.StandinError("cluster-info ConfigMap changed between the insecure and the secure request, can't trust this API server")
    return server, ca


def wait_for_kubelet(join, node_name):
    env.out("[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap")
    timeout = defaults.duration_seconds(join["timeouts"]["tlsBootstrap"])
    start = env.monotonic()
    while not env.exists(certs.KUBELET_CONF):
        if env.monotonic() - start >= timeout:
            raise defaults.StandinError(f"timed out waiting for the kubelet to write {certs.KUBELET_CONF} "
                                        f"(TLS bootstrap) after {defaults.go_duration(timeout)}")
        env.sleep(1)
    client = env.client_from_kubeconfig(env.host(certs.KUBELET_CONF))
    while True:
        try:
            client.get(f"/api/v1/nodes/{node_name}")
            break
        except (ApiError, OSError, ssl.SSLError) as exc:
            if env.monotonic() - start >= timeout:
                raise defaults.StandinError(f'timed out waiting for the Node "{node_name}" to register: {exc}') from exc
        env.sleep(1)
    try:
        env.unlink(certs.BOOTSTRAP_KUBELET_CONF)
    except OSError:
        pass


def join(positionals, flags):
    cfg = load(positionals, flags)
    nro = cfg["nodeRegistration"]
    control_plane = cfg.get("controlPlane")
    run_phase("preflight", [], preflight.join_checks, cfg, flags.get("ignore-preflight-errors"))

    def discovery():
        server, ca = discover(cfg)
        token = cfg["discovery"].get("tlsBootstrapToken") or cfg["discovery"]["bootstrapToken"]["token"]
        client = env.client(server, ca=ca, token=token)
        cluster = cluster_api.read_cluster_configuration(client)
        return server, ca, token, client, cluster

    server, ca, token, client, cluster = run_phase("preflight", [], discovery)
    defaults.check_version(cluster)
    if control_plane is not None:
        run_phase("control-plane-prepare", [], prepare_control_plane, cfg, cluster, client)

    def kubelet_start():
        env.write_file(cfg["caCertPath"], ca, mode=0o644)
        kubeconfig.write(certs.BOOTSTRAP_KUBELET_CONF, kubeconfig.build(server, ca, "kubernetes", TOKEN_USER, token=token))
        manifests.write_kubelet_files(cluster_api.read_kubelet_config(client), nro, register_taints=True)
        manifests.start_kubelet()
        wait_for_kubelet(cfg, nro["name"])

    run_phase("kubelet-start", [], kubelet_start)
    if control_plane is not None:
        env.out("[control-plane-join] Using external etcd - no local stacked instance added")
        timeout = defaults.duration_seconds(cfg["timeouts"]["kubernetesAPICall"])
        run_phase("control-plane-join", [], lambda: cluster_api.mark_control_plane(
            env.client_from_kubeconfig(env.host(certs.ADMIN_CONF)), nro["name"], nro["taints"], timeout))
        env.out("\nThis node has joined the cluster and a new control plane instance was created:\n\n"
                "* Certificate signing request was sent to apiserver and approval was received.\n"
                "* The Kubelet was informed of the new secure connection details.\n"
                "* Control plane label and taint were applied to the new node.\n"
                "* The Kubernetes control plane instances scaled up.\n\n"
                "To start administering your cluster from this node, you need to run the following as a regular user:\n\n"
                "\tmkdir -p $HOME/.kube\n\tsudo cp -i /etc/kubernetes/admin.conf $HOME/.kube/config\n"
                "\tsudo chown $(id -u):$(id -g) $HOME/.kube/config\n\n"
                "Run 'kubectl get nodes' to see this node join the cluster.\n")
    else:
        env.out("\nThis node has joined the cluster:\n"
                "* Certificate signing request was sent to apiserver and a response was received.\n"
                "* The Kubelet was informed of the new secure connection details.\n\n"
                "Run 'kubectl get nodes' on the control-plane to see this node join the cluster.\n")
    return 0


def prepare_control_plane(cfg, cluster, client):
    """download-certs, certs, kubeconfig and control-plane manifests of a joining control-plane node."""
    if not cluster.get("controlPlaneEndpoint"):
        raise defaults.StandinError("unable to add a new control plane instance to a cluster that doesn't have a stable "
                                    "controlPlaneEndpoint address\n\nPlease ensure that:\n"
                                    "* The cluster has a stable controlPlaneEndpoint address.\n"
                                    "* The certificates that must be shared among control plane instances are provided.\n")
    if not defaults.external_etcd(cluster):
        raise defaults.not_implemented("stacked etcd (etcd.local)")
    env.out("[preflight] Running pre-flight checks before initializing the new control plane instance")
    key = cfg["controlPlane"].get("certificateKey")
    if not key:
        raise defaults.not_implemented("control-plane join without --certificate-key (copying the certificates by hand)")
    files = cluster_api.download_certs(client, key)
    env.out(f'[download-certs] Saving the certificates to the folder: "{cluster["certificatesDir"]}"')
    certs.write_ca_files(cluster, files)
    node_name = cfg["nodeRegistration"]["name"]
    endpoint = cfg["controlPlane"]["localAPIEndpoint"]
    certs.certs_phase(cluster, node_name, endpoint)
    env.out(f'[certs] Valid certificates and keys now exist in "{cluster["certificatesDir"]}"')
    env.out("[kubeconfig] Generating kubeconfig files")
    certs.kubeconfig_phase(cluster, node_name, endpoint, ["admin.conf", "controller-manager.conf", "scheduler.conf"])
    manifests.write_manifests(cluster, endpoint, (cfg.get("patches") or {}).get("directory"))
    env.out("[check-etcd] Skipping etcd check in external mode")
