"""STAND-IN: ``kubeadm init`` and ``kubeadm init phase upload-certs`` of the kubeadm stand-in.

Phases in kubeadm 1.32's order: preflight, certs, kubeconfig, (etcd: external only), control-plane,
kubelet-start, wait-control-plane, upload-config, upload-certs, mark-control-plane, bootstrap-token,
kubelet-finalize, addons (CoreDNS and kube-proxy are not deployed by the stand-in), show-join-command.
"""

import ssl

from . import kubeadm_certs as certs
from . import kubeadm_cluster as cluster_api
from . import kubeadm_defaults as defaults
from . import kubeadm_env as env
from . import kubeadm_manifests as manifests
from . import kubeadm_preflight as preflight
from . import kubeconfig
from . import pki
from .kubeclient import ApiError

PHASES = ("preflight", "certs", "kubeconfig", "etcd", "control-plane", "kubelet-start", "wait-control-plane", "upload-config",
          "upload-certs", "mark-control-plane", "bootstrap-token", "kubelet-finalize", "addon", "show-join-command")
SKIPPABLE_SUBPHASES = ("addon/coredns", "addon/kube-proxy", "etcd/local")
KUBELET_PEM = "/var/lib/kubelet/pki/kubelet-client-current.pem"


class PhaseError(defaults.StandinError):
    def __init__(self, phase, message):
        super().__init__(f"error execution phase {phase}: {message}")


def run_phase(name, skip, func, *args):
    if name in skip:
        return None
    try:
        return func(*args)
    except PhaseError:
        raise
    except defaults.StandinError as exc:
        raise PhaseError(name, str(exc)) from exc
    except ApiError as exc:
        raise PhaseError(name, exc.message or str(exc)) from exc
    except OSError as exc:
        raise PhaseError(name, str(exc)) from exc


def check_skip_phases(skip):
    for name in skip:
        if name not in PHASES and name not in SKIPPABLE_SUBPHASES:
            if name.split("/")[0] in PHASES:
                raise defaults.not_implemented(f"skipping the sub-phase {name}")
            raise defaults.StandinError(f'the phase "{name}" does not exist: choose from {", ".join(PHASES)}')


def ca_pem(cluster):
    with open(env.host(f"{cluster['certificatesDir']}/ca.crt"), "rb") as handle:
        return handle.read()


def wait_control_plane(init, cluster):
    endpoint = init["localAPIEndpoint"]
    timeout = defaults.duration_seconds(init["timeouts"]["controlPlaneComponentHealthCheck"])
    env.out('[wait-control-plane] Waiting for the kubelet to boot up the control plane as static Pods from directory '
            f'"{manifests.MANIFESTS_DIR}"')
    env.out(f"[api-check] Waiting for a healthy API server. This can take up to {defaults.go_duration(timeout)}")
    client = env.client(defaults.local_server(endpoint), ca=ca_pem(cluster))
    start = env.monotonic()
    last = "context deadline exceeded"
    while True:
        try:
            if str(client.get("/livez")).strip() == "ok" and str(client.get("/readyz")).strip() == "ok":
                env.out(f"[api-check] The API server is healthy after {env.monotonic() - start:.3f}s")
                return
        except (OSError, ssl.SSLError, ApiError) as exc:
            last = str(exc) or last
        if env.monotonic() - start >= timeout:
            break
        env.sleep(1)
    env.out(f"[api-check] The API server is not healthy after {defaults.go_duration(timeout)}")
    env.err("")
    env.err("Unfortunately, an error has occurred, likely caused by:")
    env.err("\t- The kubelet is not running")
    env.err("\t- The kubelet is unhealthy due to a misconfiguration of the node in some way (required cgroups disabled)")
    env.err("")
    env.err("If you are on a systemd-powered system, you can try to troubleshoot the error with the following commands:")
    env.err("\t- 'systemctl status kubelet'")
    env.err("\t- 'journalctl -xeu kubelet'")
    raise defaults.StandinError(f"could not initialize a Kubernetes cluster: API server {defaults.local_server(endpoint)} "
                                f"is not healthy after {defaults.go_duration(timeout)}: {last}")


def admin_client():
    return env.client_from_kubeconfig(env.host(certs.ADMIN_CONF))


def ensure_cluster_admins(super_client):
    """ClusterRoleBinding kubeadm:cluster-admins -> cluster-admin, created with super-admin.conf (kubeadm 1.29+)."""
    binding = cluster_api._binding("ClusterRoleBinding", "kubeadm:cluster-admins", "ClusterRole", "cluster-admin",  # pylint: disable=protected-access
                                   [cluster_api._group("kubeadm:cluster-admins")])  # pylint: disable=protected-access
    cluster_api.create_or_update(super_client, f"{cluster_api.RBAC}/clusterrolebindings", binding)


def kubelet_finalize():
    if not env.exists(KUBELET_PEM):
        return
    env.out(f'[kubelet-finalize] Updating "{certs.KUBELET_CONF}" to point to a rotatable kubelet client certificate and key')
    import yaml  # pylint: disable=import-outside-toplevel
    conf = yaml.safe_load(env.read_text(certs.KUBELET_CONF) or "") or {}
    for user in conf.get("users") or []:
        user["user"] = {"client-certificate": env.host(KUBELET_PEM), "client-key": env.host(KUBELET_PEM)}
    kubeconfig.write(certs.KUBELET_CONF, conf)


def join_command(server_host_port, token, ca_hash, control_plane=False, certificate_key=None, multiline=True):
    sep = " \\\n\t" if multiline else " "
    parts = [f"kubeadm join {server_host_port} --token {token}", f"--discovery-token-ca-cert-hash {ca_hash}"]
    if control_plane:
        parts.append("--control-plane" + (f" --certificate-key {certificate_key}" if certificate_key else ""))
    return sep.join(parts)


def success_text(cluster, init, token, ca_hash, certificate_key):
    endpoint = cluster.get("controlPlaneEndpoint") or defaults.join_host_port(
        init["localAPIEndpoint"]["advertiseAddress"], init["localAPIEndpoint"]["bindPort"])
    if ":" not in endpoint.split("]")[-1]:
        endpoint = defaults.join_host_port(endpoint, init["localAPIEndpoint"]["bindPort"])
    lines = ["", "Your Kubernetes control-plane has initialized successfully!", "",
             "To start using your cluster, you need to run the following as a regular user:", "",
             "  mkdir -p $HOME/.kube", "  sudo cp -i /etc/kubernetes/admin.conf $HOME/.kube/config",
             "  sudo chown $(id -u):$(id -g) $HOME/.kube/config", "",
             "Alternatively, if you are the root user, you can run:", "",
             "  export KUBECONFIG=/etc/kubernetes/admin.conf", "",
             "You should now deploy a pod network to the cluster.",
             'Run "kubectl apply -f [podnetwork].yaml" with one of the options listed at:',
             "  https://kubernetes.io/docs/concepts/cluster-administration/addons/", ""]
    if cluster.get("controlPlaneEndpoint"):
        if certificate_key:
            lines += ["You can now join any number of control-plane nodes running the following command on each as root:", "",
                      "  " + join_command(endpoint, token, ca_hash, True, certificate_key), "",
                      "Please note that the certificate-key gives access to cluster sensitive data, keep it secret!",
                      "As a safeguard, uploaded-certs will be deleted in two hours; If necessary, you can use",
                      '"kubeadm init phase upload-certs --upload-certs" to reload certs afterward.', ""]
        else:
            lines += ["You can now join any number of control-plane nodes by copying certificate authorities",
                      "and service account keys on each node and then running the following as root:", "",
                      "  " + join_command(endpoint, token, ca_hash, True), ""]
    lines += ["Then you can join any number of worker nodes by running the following on each as root:", "",
              join_command(endpoint, token, ca_hash)]
    return "\n".join(lines)


def load(config_path):
    kinds = defaults.read_config(config_path) if config_path else {}
    init, cluster, kubelet_doc = defaults.init_configuration(kinds)
    defaults.check_version(cluster)
    if not defaults.external_etcd(cluster):
        raise defaults.not_implemented("stacked etcd (etcd.local; configure etcd.external)")
    return init, cluster, kubelet_doc


def init(flags):
    if flags.get("dry-run"):
        raise defaults.not_implemented("kubeadm init --dry-run")
    init_cfg, cluster, kubelet_doc = load(flags.get("config"))
    if init_cfg.get("dryRun"):
        raise defaults.not_implemented("dryRun: true")
    skip = list(flags.get("skip-phases") or []) + list(init_cfg.get("skipPhases") or [])
    check_skip_phases(skip)
    if "addon" in skip:
        skip += ["addon/coredns", "addon/kube-proxy"]
    nro = init_cfg["nodeRegistration"]
    endpoint = init_cfg["localAPIEndpoint"]
    env.out(f"[init] Using Kubernetes version: {cluster['kubernetesVersion']}")
    run_phase("preflight", skip, preflight.init_checks, init_cfg, cluster, flags.get("ignore-preflight-errors"))
    if "preflight" not in skip:
        env.out("[preflight] Pulling images required for setting up a Kubernetes cluster")
        env.out("[preflight] STAND-IN: no image is pulled (the kubelet stand-in runs the control plane from local programs)")
    run_phase("certs", skip, certs.certs_phase, cluster, nro["name"], endpoint)
    run_phase("kubeconfig", skip, certs.kubeconfig_phase, cluster, nro["name"], endpoint,
              ["admin.conf", "super-admin.conf", "kubelet.conf", "controller-manager.conf", "scheduler.conf"])
    run_phase("control-plane", skip, manifests.write_manifests, cluster, endpoint,
              (init_cfg.get("patches") or {}).get("directory"))
    kubelet_config = manifests.kubelet_configuration(cluster, kubelet_doc)

    def kubelet_start():
        manifests.write_kubelet_files(kubelet_config, nro, register_taints=False)
        manifests.start_kubelet()

    run_phase("kubelet-start", skip, kubelet_start)
    run_phase("wait-control-plane", skip, wait_control_plane, init_cfg, cluster)

    def upload_config():
        ensure_cluster_admins(env.client_from_kubeconfig(env.host(certs.SUPER_ADMIN_CONF)))
        cluster_api.upload_config(admin_client(), cluster, kubelet_config)

    run_phase("upload-config", skip, upload_config)
    certificate_key = None
    if flags.get("upload-certs") and "upload-certs" not in skip:
        certificate_key = flags.get("certificate-key") or init_cfg.get("certificateKey") or pki.new_certificate_key()
        run_phase("upload-certs", skip, cluster_api.upload_certs, admin_client(), cluster, certificate_key)
    elif "upload-certs" not in skip:
        env.out("[upload-certs] Skipping phase. Please see --upload-certs")
    timeout = defaults.duration_seconds(init_cfg["timeouts"]["kubernetesAPICall"])
    run_phase("mark-control-plane", skip, lambda: cluster_api.mark_control_plane(admin_client(), nro["name"], nro["taints"], timeout))
    ca = ca_pem(cluster)
    server = defaults.control_plane_server(cluster, endpoint)
    tokens = run_phase("bootstrap-token", skip, lambda: cluster_api.bootstrap_token_phase(admin_client(), init_cfg, server, ca)) or []
    run_phase("kubelet-finalize", skip, kubelet_finalize)
    if "addon/coredns" not in skip or "addon/kube-proxy" not in skip:
        env.out("[addons] STAND-IN: CoreDNS and kube-proxy are not deployed by the stand-in")
    if "show-join-command" not in skip:
        token = tokens[0] if tokens else (init_cfg["bootstrapTokens"][0].get("token") or "<token>")
        env.out(success_text(cluster, init_cfg, token, pki.spki_pin(pki.load_cert(ca)), certificate_key))
    return 0


def upload_certs_phase(flags):
    """kubeadm init phase upload-certs --upload-certs [--config F] [--certificate-key K]."""
    if not flags.get("upload-certs"):
        env.out("[upload-certs] Skipping phase. Please see --upload-certs")
        return 0
    if flags.get("config"):
        init_cfg, cluster, _kubelet = load(flags["config"])
        key = flags.get("certificate-key") or init_cfg.get("certificateKey")
    else:
        client = env.client_from_kubeconfig(flags.get("kubeconfig") or env.host(certs.ADMIN_CONF))
        cluster = cluster_api.read_cluster_configuration(client)
        key = flags.get("certificate-key")
    key = key or pki.new_certificate_key()
    client = env.client_from_kubeconfig(flags.get("kubeconfig") or env.host(certs.ADMIN_CONF))
    run_phase("upload-certs", [], cluster_api.upload_certs, client, cluster, key)
    return 0
