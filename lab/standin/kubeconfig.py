"""STAND-IN: kubeconfig files as kubeadm writes them (embedded certificates, one cluster/context/user)."""

import base64

import yaml

from . import kubeadm_env as env


def b64(data):
    return base64.b64encode(data).decode("ascii")


def build(server, ca_pem, cluster_name="kubernetes", user=None, cert_pem=None, key_pem=None, token=None):
    """A kubeconfig dict; without a user it is the cluster-info form (no contexts or users)."""
    config = {
        "apiVersion": "v1",
        "clusters": [{"cluster": {"certificate-authority-data": b64(ca_pem), "server": server}, "name": cluster_name}],
        "contexts": None,
        "current-context": "",
        "kind": "Config",
        "preferences": {},
        "users": None,
    }
    if user is not None:
        context = f"{user}@{cluster_name}"
        config["contexts"] = [{"context": {"cluster": cluster_name, "user": user}, "name": context}]
        config["current-context"] = context
        creds = {}
        if cert_pem is not None:
            creds = {"client-certificate-data": b64(cert_pem), "client-key-data": b64(key_pem)}
        if token is not None:
            creds = {"token": token}
        config["users"] = [{"name": user, "user": creds}]
    return config


def dump(config):
    return yaml.safe_dump(config, default_flow_style=False, sort_keys=False)


def write(path, config):
    """Write a kubeconfig with mode 0600 (kubeadm's WriteToDisk)."""
    return env.write_file(path, dump(config), mode=0o600)


def cluster_info_kubeconfig(server, ca_pem):
    """The kubeconfig stored in kube-public/cluster-info: name "" and no user."""
    return dump(build(server, ca_pem, cluster_name=""))


def parse(text):
    """(server, ca_pem bytes) of the first cluster of a kubeconfig string."""
    config = yaml.safe_load(text) or {}
    clusters = config.get("clusters") or []
    if not clusters:
        raise ValueError("no clusters in the kubeconfig")
    cluster = clusters[0].get("cluster") or {}
    return cluster.get("server", ""), base64.b64decode(cluster.get("certificate-authority-data", ""))
