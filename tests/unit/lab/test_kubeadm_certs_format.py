"""STAND-IN kubeadm (lab/standin/kubeadm_certs.py): `certs check-expiration` prints kubeadm's text format, so that
what the kube_certs role parses on the lab is what it parses on real hosts: text/tabwriter columns (minimum width 10,
padding 3), EXTERNALLY MANAGED as Go's %-8v (padded to 8), `!MISSING! <name>` rows, CAs sorted by name, and with
external etcd no etcd row at all (kubeadm's renewal manager leaves the etcd certificates out). `certs renew` of an etcd
certificate with external etcd says MISSING! as kubeadm does, and `renew all` skips them silently."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from test_kubeadm_cli import lab, initialised, run  # noqa: E402,F401  pylint: disable=unused-import,wrong-import-position

from ansible_collections.ironstone.k8s.plugins.module_utils.kubeadm import cert_expiry  # noqa: E402

from lab.standin import kubeadm_certs  # noqa: E402


def test_padding_of_the_last_column_matches_kubeadm():
    assert kubeadm_certs.yes_no(False) == "no      " and kubeadm_certs.yes_no(True) == "yes     "


def test_check_expiration_parses_with_the_roles_parser(lab, initialised, capsys):  # noqa: F811
    del lab
    rc, out, err = run(["certs", "check-expiration"], capsys)
    assert rc == 0, err
    parsed = cert_expiry.parse_check_expiration(out)
    names = [c["name"] for c in parsed["certificates"]]
    assert names == sorted(names)
    assert not any(n.startswith("etcd") or n == "apiserver-etcd-client" for n in names)
    assert [c["name"] for c in parsed["authorities"]] == ["ca", "front-proxy-ca"]
    rows = [ln for ln in out.splitlines() if ln.startswith(("apiserver ", "ca "))]
    assert rows and all(ln.endswith("no      ") for ln in rows)
    os.unlink(initialised.path("/etc/kubernetes/super-admin.conf"))
    rc, out, _err = run(["certs", "check-expiration"], capsys)
    missing = [ln for ln in out.splitlines() if ln.startswith("!MISSING! super-admin.conf")]
    assert len(missing) == 1 and missing[0].endswith(" ")
    assert [c for c in cert_expiry.parse_check_expiration(out)["certificates"] if c["missing"]][0]["name"] == "super-admin.conf"


def test_renew_of_external_etcd_certificates_is_kubeadms(lab, initialised, capsys):  # noqa: F811
    del lab, initialised
    rc, out, _err = run(["certs", "renew", "etcd-server"], capsys)
    assert rc == 0 and "MISSING! certificate for serving etcd" in out and "Done renewing" not in out
    rc, out, _err = run(["certs", "renew", "all"], capsys)
    assert rc == 0 and "etcd" not in out.split("Done renewing")[0].replace("kubeadm-config", "")
    assert "Done renewing certificates." in out


@pytest.mark.parametrize("name", ["apiserver"])
def test_single_renew_prints_no_done_line(lab, initialised, capsys, name):  # noqa: F811
    del lab, initialised
    rc, out, _err = run(["certs", "renew", name], capsys)
    assert rc == 0 and "certificate for serving the Kubernetes API renewed" in out and "Done renewing" not in out
