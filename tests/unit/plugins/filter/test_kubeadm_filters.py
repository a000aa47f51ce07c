# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
"""Unit tests of plugins/filter/kubeadm.py: the filters are registered, call module_utils/kubeadm and turn
KubeadmConfigError into AnsibleFilterError; each has its documentation file."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import os

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.ironstone.k8s.plugins.filter import kubeadm
from ansible_collections.ironstone.k8s.plugins.module_utils.kubeadm import config

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
NAMES = ["kubeadm_init_config", "kubeadm_join_config", "kubeadm_redact", "kube_ca_cert_hash",
         "kube_kubeconfig_expiry", "kube_node_meta_patch", "kube_node_meta_summary"]
TOKEN = "abcdef.0123456789abcdef"
JOIN = {"node_name": "w-1", "node_address": "10.0.0.31", "cri_socket": "unix:///run/containerd/containerd.sock",
        "api_server_endpoint": "10.0.0.10:6443", "token": TOKEN, "ca_cert_hashes": ["sha256:" + "0" * 64]}
INIT = {"node_name": "cp-1", "advertise_address": "10.0.0.11", "cri_socket": "unix:///run/containerd/containerd.sock",
        "kubernetes_version": "1.32.3", "control_plane_endpoint": "10.0.0.10:6443", "pod_subnet": "10.244.0.0/16",
        "service_subnet": "10.96.0.0/12", "etcd_endpoints": ["https://10.0.0.21:2379"],
        "etcd_ca_file": "/etc/kubernetes/pki/etcd/ca.crt",
        "etcd_cert_file": "/etc/kubernetes/pki/apiserver-etcd-client.crt",
        "etcd_key_file": "/etc/kubernetes/pki/apiserver-etcd-client.key"}


def test_registered():
    filters = kubeadm.FilterModule().filters()
    assert sorted(filters) == sorted(NAMES)
    for name in NAMES:
        assert filters[name] is getattr(kubeadm, name)


@pytest.mark.parametrize("name", NAMES)
def test_each_filter_has_its_documentation(name):
    with open(os.path.join(ROOT, "plugins", "filter", name + ".yml"), encoding="utf-8") as handle:
        doc = yaml.safe_load(handle)
    assert sorted(doc) == ["DOCUMENTATION", "EXAMPLES", "RETURN"]
    assert doc["DOCUMENTATION"]["name"] == name
    assert "_input" in doc["DOCUMENTATION"]["options"]
    assert "_value" in doc["RETURN"]
    yaml.safe_load(doc["EXAMPLES"])


def test_init_and_join_render_text():
    text = kubeadm.kubeadm_init_config(INIT)
    assert text == config.dump(config.init_documents(INIT))
    assert text.startswith("# Rendered by ironstone.k8s")
    join = kubeadm.kubeadm_join_config(JOIN)
    assert join == config.dump([config.join_document(JOIN)])
    assert TOKEN not in kubeadm.kubeadm_redact(join)


def test_errors_become_filter_errors_with_the_same_message():
    with pytest.raises(AnsibleFilterError) as caught:
        kubeadm.kubeadm_init_config(dict(INIT, bind_port=0))
    with pytest.raises(config.KubeadmConfigError) as direct:
        config.init_documents(dict(INIT, bind_port=0))
    assert caught.value.message == str(direct.value)
    with pytest.raises(AnsibleFilterError, match="token is not of the form"):
        kubeadm.kubeadm_join_config(dict(JOIN, token="x"))
    with pytest.raises(AnsibleFilterError, match="PEM certificate"):
        kubeadm.kube_ca_cert_hash("nope")
    with pytest.raises(AnsibleFilterError, match="not YAML"):
        kubeadm.kube_kubeconfig_expiry("users: [")
    with pytest.raises(AnsibleFilterError, match="node not found"):
        kubeadm.kube_node_meta_patch(None, {}, {})


def test_certificate_filters():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=2))
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    assert kubeadm.kube_ca_cert_hash(pem).startswith("sha256:") and len(kubeadm.kube_ca_cert_hash(pem)) == 71
    assert kubeadm.kube_kubeconfig_expiry("") is None


def test_node_meta_filters():
    node = {"metadata": {"name": "w-1", "labels": {}}}
    patch = kubeadm.kube_node_meta_patch(node, {"zone": "a"}, {})
    assert patch == {"metadata": {"labels": {"zone": "a"},
                                  "annotations": {"ironstone.k8s/managed-labels": "zone"}}}
    assert kubeadm.kube_node_meta_summary(patch) == "labels +zone=a"
    assert kubeadm.kube_node_meta_summary({}, node) == "no change"
