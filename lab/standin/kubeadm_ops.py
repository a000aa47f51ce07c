"""STAND-IN: ``kubeadm token``, ``reset`` and ``upgrade`` of the kubeadm stand-in."""

import os
import shutil
import sys

import yaml

from . import kubeadm_certs as certs
from . import kubeadm_cluster as cluster_api
from . import kubeadm_defaults as defaults
from . import kubeadm_env as env
from . import kubeadm_manifests as manifests
from . import kubeconfig
from . import pki
from .kubeadm_init import join_command
from .kubeclient import ApiError
from .version import git_version


def _client(flags):
    path = flags.get("kubeconfig") or env.host(certs.ADMIN_CONF)
    try:
        return env.client_from_kubeconfig(path), path
    except OSError as exc:
        raise defaults.StandinError(f'failed to load admin kubeconfig: open {path}: {exc.strerror.lower()}') from exc


# ---------------------------------------------------------------------------
# token
# ---------------------------------------------------------------------------
def token_create(positionals, flags):
    client, path = _client(flags)
    token = positionals[0] if positionals else cluster_api.generate_token()
    if len(positionals) > 1:
        raise defaults.StandinError(f"accepts at most 1 arg(s), received {len(positionals)}")
    spec = {"token": token, "ttl": flags.get("ttl", "24h0m0s"), "description": flags.get("description", ""),
            "usages": flags.get("usages", ["signing", "authentication"]),
            "groups": flags.get("groups", [defaults.DEFAULT_TOKEN_GROUP])}
    cluster_api.split_token(token)
    defaults.duration_seconds(spec["ttl"])
    try:
        cluster_api.create_token(client, spec)
    except ApiError as exc:
        raise defaults.StandinError(f"failed to create or update bootstrap token with name bootstrap-token-{token[:6]}: "
                                    f"{exc.message or exc}") from exc
    if flags.get("print-join-command"):
        with open(path, encoding="utf-8") as handle:
            server, ca = kubeconfig.parse(handle.read())
        host_port = server.split("://", 1)[-1].rstrip("/")
        key = flags.get("certificate-key")
        env.out(join_command(host_port, token, pki.spki_pin(pki.load_cert(ca)), bool(key), key, multiline=False))
    else:
        env.out(token)
    return 0


def token_list(flags):
    client, _path = _client(flags)
    rows = [["TOKEN", "TTL", "EXPIRES", "USAGES", "DESCRIPTION", "EXTRA GROUPS"]]
    for token in cluster_api.list_tokens(client):
        if token["expiration"]:
            expires = cluster_api.parse_rfc3339(token["expiration"])
            ttl = certs.short_human_duration(expires - env.now())
            shown = cluster_api.rfc3339(expires)
        else:
            ttl, shown = "<forever>", "<never>"
        rows.append([token["token"], ttl, shown, ",".join(token["usages"]), token["description"] or "<none>",
                     ",".join(token["groups"])])
    if len(rows) > 1:
        env.out(certs.tabulate(rows))
    return 0


def token_delete(positionals, flags):
    if not positionals:
        raise defaults.StandinError("missing argument; 'token delete' is missing token of form \"[a-z0-9]{6}\" or \"[a-z0-9]{6}.[a-z0-9]{16}\"")
    client, _path = _client(flags)
    for arg in positionals:
        token_id = arg.split(".")[0]
        if not (cluster_api.TOKEN_ID_RE.match(token_id) and (arg == token_id or cluster_api.TOKEN_RE.match(arg))):
            raise defaults.StandinError('given token didn\'t match pattern "[a-z0-9]{6}" or "[a-z0-9]{6}.[a-z0-9]{16}"')
        try:
            client.delete(f"/api/v1/namespaces/kube-system/secrets/bootstrap-token-{token_id}")
        except ApiError as exc:
            raise defaults.StandinError(f'failed to delete bootstrap token "{token_id}": {exc.message or exc}') from exc
        env.out(f'bootstrap token "{token_id}" deleted')
    return 0


# ---------------------------------------------------------------------------
# reset
# ---------------------------------------------------------------------------
RESET_FILES = [f"/etc/kubernetes/{name}" for name in
               ("admin.conf", "super-admin.conf", "kubelet.conf", "bootstrap-kubelet.conf", "controller-manager.conf", "scheduler.conf")]


def _clean_dir(path):
    real = env.host(path)
    if not os.path.isdir(real):
        return
    for entry in os.listdir(real):
        target = os.path.join(real, entry)
        if os.path.isdir(target) and not os.path.islink(target):
            shutil.rmtree(target)
        else:
            os.unlink(target)


def reset(flags):
    if flags.get("cri-socket") is not None and not flags["cri-socket"]:
        raise defaults.StandinError("--cri-socket must not be empty")
    certificates_dir = "/etc/kubernetes/pki"
    if env.exists(certs.ADMIN_CONF):
        try:
            client = env.client_from_kubeconfig(env.host(certs.ADMIN_CONF))
            cm = client.get("/api/v1/namespaces/kube-system/configmaps/kubeadm-config")
            cluster = defaults.default_cluster(yaml.safe_load(cm["data"]["ClusterConfiguration"]))
            certificates_dir = cluster["certificatesDir"]
        except (OSError, ValueError, KeyError, TypeError, ApiError) as exc:
            env.err(f"W [reset] Unable to fetch the kubeadm-config ConfigMap from cluster: {exc}")
    else:
        env.err("W [reset] No kubeadm config, using etcd pod spec to get data directory")
    env.out("[reset] Reading configuration from the cluster...")
    env.out("[reset] FYI: You can look at this config file with 'kubectl -n kube-system get cm kubeadm-config -o yaml'")
    if not flags.get("force"):
        env.out("[reset] WARNING: Changes made to this host by 'kubeadm init' or 'kubeadm join' will be reverted.")
        sys.stdout.write("[reset] Are you sure you want to proceed? [y/N]: ")
        sys.stdout.flush()
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            raise defaults.StandinError("aborted reset operation")
    env.out("[preflight] Running pre-flight checks")
    env.out("[reset] No etcd config found. Assuming external etcd")
    env.out("[reset] Please, manually reset etcd to prevent further issues")
    env.out("[reset] Stopping the kubelet service")
    env.systemctl("stop", "kubelet")
    env.out('[reset] Unmounting mounted directories in "/var/lib/kubelet"')
    dirs = [manifests.MANIFESTS_DIR, manifests.KUBELET_DIR, certificates_dir]
    if flags.get("cleanup-tmp-dir"):
        dirs.append("/etc/kubernetes/tmp")
    env.out(f"[reset] Deleting contents of directories: [{' '.join(dirs)}]")
    for path in dirs:
        _clean_dir(path)
    env.out(f"[reset] Deleting files: [{' '.join(RESET_FILES)}]")
    for path in RESET_FILES:
        if os.path.lexists(env.host(path)):
            os.unlink(env.host(path))
    env.out("\nThe reset process does not perform cleanup of CNI plugin configuration,\n"
            "network filtering rules and kubeconfig files.\n\n"
            "For information on how to perform this cleanup manually, please see:\n"
            "    https://k8s.io/docs/reference/setup-tools/kubeadm/kubeadm-reset/\n")
    return 0


# ---------------------------------------------------------------------------
# upgrade
# ---------------------------------------------------------------------------
def _upgrade_cluster(flags):
    client, _path = _client(flags)
    cm = client.get("/api/v1/namespaces/kube-system/configmaps/kubeadm-config")
    env.out('[upgrade/config] Reading configuration from the "kubeadm-config" ConfigMap in namespace "kube-system"...')
    env.out("[upgrade/config] Use 'kubeadm init phase upload-config --config your-config.yaml' to re-upload it.")
    return client, defaults.default_cluster(yaml.safe_load(cm["data"]["ClusterConfiguration"]))


def upgrade_plan(flags):
    env.out("[preflight] Running pre-flight checks.")
    _client_obj, cluster = _upgrade_cluster(flags)
    env.out("[upgrade] Running cluster health checks")
    env.out("[upgrade] Fetching available versions to upgrade to")
    env.out(f"[upgrade/versions] Cluster version: {cluster['kubernetesVersion']}")
    env.out(f"[upgrade/versions] kubeadm version: {git_version()}")
    env.out("[upgrade/versions] STAND-IN: no version lookup on the internet; the only available version is the stand-in's own")
    env.out(f"[upgrade/versions] Target version: {git_version()}")
    minor = git_version().rsplit(".", 1)[0]
    env.out(f"[upgrade/versions] Latest version in the {minor} series: {git_version()}")
    env.out("")
    if cluster["kubernetesVersion"] == git_version():
        env.out("Awesome, you're up-to-date! Enjoy!")
    else:
        env.out(f"Upgrade to the latest version in the {minor} series:")
        env.out("")
        env.out(certs.tabulate([["COMPONENT", "NODE", "CURRENT", "TARGET"],
                                ["kube-apiserver", "", cluster["kubernetesVersion"], git_version()]]))
        env.out("")
        env.out("You can now apply the upgrade by executing the following command:")
        env.out("")
        env.out(f"\tkubeadm upgrade apply {git_version()}")
    return 0


def _version_tuple(text):
    from .kubeadm_config import parse_version  # pylint: disable=import-outside-toplevel
    return parse_version(text)


def _node_endpoint():
    """This node's API endpoint from its kube-apiserver manifest annotation, or None for a worker."""
    text = env.read_text(f"{manifests.MANIFESTS_DIR}/kube-apiserver.yaml")
    if not text:
        return None
    pod = yaml.safe_load(text) or {}
    annotation = ((pod.get("metadata") or {}).get("annotations") or {}).get(
        "kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint", "")
    host, port = defaults.endpoint_host_port(annotation)
    return {"advertiseAddress": host, "bindPort": port}


def upgrade_apply(positionals, flags):
    if len(positionals) != 1:
        raise defaults.StandinError("missing one or more required arguments. Required arguments: [version]")
    target = positionals[0] if positionals[0].startswith("v") else "v" + positionals[0]
    try:
        wanted = _version_tuple(target)
    except ValueError as exc:
        raise defaults.StandinError(f"[upgrade/version] FATAL: {exc}") from exc
    client, cluster = _upgrade_cluster(flags)
    own = _version_tuple(git_version())
    if wanted != own:
        if wanted > own:
            why = (f'Specified version to upgrade to "{target}" is higher than the kubeadm version "{git_version()}". '
                   "Upgrade kubeadm first using the tool you used to install kubeadm")
        else:
            why = f'Specified version to upgrade to "{target}" is lower than the kubeadm version "{git_version()}": {defaults.NOT_IMPLEMENTED}'
        raise defaults.StandinError("[upgrade/version] FATAL: the --version argument is invalid due to these errors:\n\n\t- "
                                    + why + "\n\nCan be bypassed if you pass the --force flag")
    if not flags.get("yes"):
        sys.stdout.write("[upgrade] Are you sure you want to proceed? [y/N]: ")
        sys.stdout.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            raise defaults.StandinError("won't proceed; the user didn't answer (Y|y) in order to continue")
    endpoint = _node_endpoint()
    if endpoint is None:
        raise defaults.StandinError("couldn't find the kube-apiserver manifest on this node: 'kubeadm upgrade apply' runs on a control-plane node")
    env.out(f'[upgrade] Upgrading your Static Pod-hosted control plane to version "{target}"...')
    cluster["kubernetesVersion"] = target
    manifests.write_manifests(cluster, endpoint)
    cm = client.get("/api/v1/namespaces/kube-system/configmaps/kubeadm-config")
    stored = yaml.safe_load(cm["data"]["ClusterConfiguration"]) or {}
    stored["kubernetesVersion"] = target
    cm["data"]["ClusterConfiguration"] = yaml.safe_dump(stored, default_flow_style=False, sort_keys=True)
    client.put("/api/v1/namespaces/kube-system/configmaps/kubeadm-config", cm)
    env.out("[addons] STAND-IN: CoreDNS and kube-proxy are not deployed by the stand-in")
    env.out("")
    env.out(f'[upgrade] SUCCESS! A control plane node of your cluster was upgraded to "{target}".')
    env.out("")
    env.out("[upgrade] Now please proceed with upgrading the rest of the nodes by following the right order.")
    return 0


def upgrade_node(flags):
    path = flags.get("kubeconfig")
    if not path:
        path = env.host(certs.ADMIN_CONF) if env.exists(certs.ADMIN_CONF) else env.host(certs.KUBELET_CONF)
    client = env.client_from_kubeconfig(path)
    cm = client.get("/api/v1/namespaces/kube-system/configmaps/kubeadm-config")
    env.out('[upgrade] Reading configuration from the "kubeadm-config" ConfigMap in namespace "kube-system"...')
    cluster = defaults.default_cluster(yaml.safe_load(cm["data"]["ClusterConfiguration"]))
    env.out("[preflight] Running pre-flight checks")
    endpoint = _node_endpoint()
    if endpoint is not None:
        env.out("[upgrade/control-plane] Upgrading control plane instance")
        manifests.write_manifests(cluster, endpoint)
    else:
        env.out("[upgrade] Skipping phase. Not a control plane node.")
    kubelet = cluster_api.read_kubelet_config(client)
    env.out(f'[kubelet-start] Writing kubelet configuration to file "{manifests.KUBELET_CONFIG}"')
    env.write_file(manifests.KUBELET_CONFIG, kubelet, mode=0o644)
    env.out("[upgrade] The configuration for this node was successfully upgraded!")
    env.out("[upgrade] Now you should go ahead and upgrade the kubelet package using your package manager.")
    return 0
