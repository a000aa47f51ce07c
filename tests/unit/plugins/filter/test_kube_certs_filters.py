# -*- coding: utf-8 -*-
"""Unit tests of plugins/filter/kube_certs.py: the filters are registered, call module_utils/kubeadm/cert_expiry.py,
read slurp loop results and turn CertExpiryError into AnsibleFilterError; each has its documentation file."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import datetime
import os

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.ironstone.k8s.plugins.filter import kube_certs

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
FIXTURES = os.path.join(ROOT, "tests", "unit", "plugins", "module_utils", "kubeadm", "fixtures")
NAMES = ["kube_certs_parse", "kube_certs_etcd_files", "kube_certs_etcd", "kube_certs_plan", "kube_certs_table",
         "kube_certs_renewal_check"]
NOW = "2026-12-02T12:00:00Z"


def fixture(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return handle.read()


def pem_b64(days):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "etcd")])
    start = datetime.datetime(2026, 12, 1, tzinfo=datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(start).not_valid_after(start + datetime.timedelta(days=days))
            .sign(key, hashes.SHA256()))
    return base64.b64encode(cert.public_bytes(serialization.Encoding.PEM)).decode("ascii")


def test_registered():
    filters = kube_certs.FilterModule().filters()
    assert sorted(filters) == sorted(NAMES)
    for name in NAMES:
        assert filters[name] is getattr(kube_certs, name)


@pytest.mark.parametrize("name", NAMES)
def test_each_filter_has_its_documentation(name):
    with open(os.path.join(ROOT, "plugins", "filter", name + ".yml"), encoding="utf-8") as handle:
        doc = yaml.safe_load(handle)
    assert sorted(doc) == ["DOCUMENTATION", "EXAMPLES", "RETURN"]
    assert doc["DOCUMENTATION"]["name"] == name
    assert "_input" in doc["DOCUMENTATION"]["options"]
    assert "_value" in doc["RETURN"]
    yaml.safe_load(doc["EXAMPLES"])


def test_slurp_results_to_report():
    files = kube_certs.kube_certs_etcd_files("/etc/kubernetes/pki", True)
    results = [{"item": files[0], "content": pem_b64(3650), "failed": False},
               {"item": files[1], "content": pem_b64(20), "failed": False},
               {"item": files[2], "failed": True, "msg": "file not found: /etc/kubernetes/pki/etcd/peer.crt"},
               {"item": files[3], "failed": True, "msg": "Permission denied"},
               {"item": files[4], "content": pem_b64(365), "failed": False}]
    etcd = kube_certs.kube_certs_etcd(results)
    assert [e["name"] for e in etcd] == ["etcd-ca", "etcd-server", "etcd-peer", "etcd-healthcheck-client", "apiserver-etcd-client"]
    assert etcd[2]["error"] == "not found" and etcd[3]["error"] == "Permission denied"
    plan = kube_certs.kube_certs_plan(kube_certs.kube_certs_parse(fixture("external_etcd_joined.txt")), etcd, 60, False, NOW)
    assert plan["etcd_due"] == ["etcd-server"] and plan["renew"] == ["apiserver", "apiserver-kubelet-client"]
    lines = kube_certs.kube_certs_table(plan, "cp2", True)
    assert any("unreadable: Permission denied" in ln for ln in lines)
    check = kube_certs.kube_certs_renewal_check(plan, kube_certs.kube_certs_parse(fixture("external_etcd_joined.txt")), NOW)
    assert len(check["problems"]) == 2


@pytest.mark.parametrize("call", [
    lambda: kube_certs.kube_certs_parse("nothing here"),
    lambda: kube_certs.kube_certs_etcd_files("relative", True),
    lambda: kube_certs.kube_certs_etcd({"results": []}),
    lambda: kube_certs.kube_certs_etcd([{"content": "x"}]),
    lambda: kube_certs.kube_certs_plan(kube_certs.kube_certs_parse(fixture("external_etcd_first.txt")), None, 0),
    lambda: kube_certs.kube_certs_table({}, "cp1"),
    lambda: kube_certs.kube_certs_renewal_check({}, {}),
])
def test_errors_become_filter_errors(call):
    with pytest.raises(AnsibleFilterError):
        call()
