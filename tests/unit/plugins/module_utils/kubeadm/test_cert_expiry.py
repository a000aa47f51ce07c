# -*- coding: utf-8 -*-
"""Unit tests of module_utils/kubeadm/cert_expiry.py: kubeadm certs check-expiration's text format (fixtures written
from kubeadm's printer: tabwriter columns, %-8v EXTERNALLY MANAGED, !MISSING! rows), the etcd role's certificates,
the renewal plan, the report table and the post-renewal check."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import datetime
import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.ironstone.k8s.plugins.module_utils.kubeadm import cert_expiry as ce
from ansible_collections.ironstone.k8s.plugins.module_utils.kubeadm.config import KubeadmConfigError

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
NOW = "2026-12-02T12:00:00Z"


def fixture(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return handle.read()


def names(rows):
    return [r["name"] for r in rows]


def pem(days, cn="etcd"):
    key = ec.generate_private_key(ec.SECP256R1())
    start = datetime.datetime(2026, 12, 1, tzinfo=datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=days)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def b64(data):
    return base64.b64encode(data).decode("ascii")


# --- parsing -------------------------------------------------------------------------------------------

def test_first_node_on_external_etcd():
    parsed = ce.parse_check_expiration(fixture("external_etcd_first.txt"))
    assert names(parsed["certificates"]) == ["admin.conf", "apiserver", "apiserver-kubelet-client", "controller-manager.conf",
                                             "front-proxy-client", "scheduler.conf", "super-admin.conf"]
    apiserver = parsed["certificates"][1]
    assert apiserver == {"name": "apiserver", "missing": False, "expires": "2027-11-30T10:15:00Z",
                         "expires_text": "Nov 30, 2027 10:15 UTC", "residual": "362d", "ca": "ca", "externally_managed": False}
    assert parsed["certificates"][4]["ca"] == "front-proxy-ca"
    assert names(parsed["authorities"]) == ["ca", "front-proxy-ca"]
    assert parsed["authorities"][0]["ca"] is None and parsed["authorities"][0]["residual"] == "9y"


def test_joined_node_missing_rows_and_invalid_residual():
    parsed = ce.parse_check_expiration(fixture("external_etcd_joined.txt"))
    rows = {r["name"]: r for r in parsed["certificates"]}
    assert rows["admin.conf"]["missing"] and rows["super-admin.conf"]["missing"]
    assert rows["admin.conf"]["expires"] is None and rows["admin.conf"]["ca"] is None
    assert rows["apiserver-kubelet-client"]["residual"] == "<invalid>"
    assert rows["apiserver-kubelet-client"]["expires"] == "2026-12-01T08:00:00Z"


def test_default_config_fallback_lists_etcd_rows_externally_managed():
    parsed = ce.parse_check_expiration(fixture("default_config_fallback.txt"))
    rows = {r["name"]: r for r in parsed["certificates"]}
    for name in ("apiserver-etcd-client", "etcd-healthcheck-client", "etcd-peer", "etcd-server"):
        assert rows[name]["ca"] == "etcd-ca" and rows[name]["externally_managed"] is True
    assert rows["front-proxy-client"]["externally_managed"] is True
    assert rows["apiserver"]["externally_managed"] is False
    cas = {r["name"]: r for r in parsed["authorities"]}
    assert cas["etcd-ca"]["externally_managed"] and not cas["ca"]["externally_managed"]


def test_trimmed_and_crlf_text_parses_the_same():
    text = fixture("stacked_etcd_trimmed.txt")
    parsed = ce.parse_check_expiration(text)
    assert len(parsed["certificates"]) == 11 and len(parsed["authorities"]) == 3
    assert ce.parse_check_expiration(text.replace("\n", "\r\n")) == parsed
    assert all(r["externally_managed"] is False for r in parsed["certificates"])


def test_table_without_ca_section():
    text = fixture("external_etcd_first.txt").split("\n\nCERTIFICATE AUTHORITY")[0]
    assert ce.parse_check_expiration(text)["authorities"] == []


@pytest.mark.parametrize("text, message", [
    ("", "has no CERTIFICATE table"),
    ("error execution phase: unable to read config\n", "has no CERTIFICATE table"),
    (None, "must be text"),
])
def test_refuses_text_without_table(text, message):
    with pytest.raises(ce.CertExpiryError, match=message):
        ce.parse_check_expiration(text)


def test_refuses_misaligned_unknown_zone_bad_flag_and_duplicates():
    good = fixture("external_etcd_first.txt")
    lines = good.splitlines()
    row = [i for i, ln in enumerate(lines) if ln.startswith("apiserver ")][0]
    shifted = list(lines)
    shifted[row] = "apiserver-with-a-long-name-x" + lines[row][len("apiserver-with-a-long-name-x"):]
    shifted[row] = shifted[row].replace("apiserver-with-a-long-name-x ", "apiserver-with-a-long-name-xN")
    with pytest.raises(ce.CertExpiryError, match="not aligned"):
        ce.parse_check_expiration("\n".join(shifted))
    with pytest.raises(ce.CertExpiryError, match="time zone CET"):
        ce.parse_check_expiration(good.replace("Nov 30, 2027 10:15 UTC", "Nov 30, 2027 10:15 CET"))
    bad_flag = list(lines)
    bad_flag[row] = lines[row].replace("no      ", "maybe   ")
    with pytest.raises(ce.CertExpiryError, match="not yes or no"):
        ce.parse_check_expiration("\n".join(bad_flag))
    twice = list(lines)
    twice.insert(row, lines[row])
    with pytest.raises(ce.CertExpiryError, match="lists apiserver twice"):
        ce.parse_check_expiration("\n".join(twice))
    assert issubclass(ce.CertExpiryError, KubeadmConfigError)


def test_expires_round_trip_and_bad_dates():
    moment = ce.parse_expires("Feb 03, 2027 04:05 UTC")
    assert moment == datetime.datetime(2027, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    assert ce.format_expires(moment) == "Feb 03, 2027 04:05 UTC"
    for text in ("Feb 30, 2027 04:05 UTC", "2027-02-03", "Foo 03, 2027 04:05 UTC"):
        with pytest.raises(ce.CertExpiryError):
            ce.parse_expires(text)


@pytest.mark.parametrize("seconds, text", [(-5, "<invalid>"), (-1, "0s"), (59, "59s"), (3599, "59m"), (86399, "23h"),
                                           (364 * 86400, "364d"), (3650 * 86400, "10y")])
def test_short_human_duration(seconds, text):
    assert ce.short_human_duration(seconds) == text


# --- etcd certificates ---------------------------------------------------------------------------------

def test_etcd_files_member_and_client_only():
    member = ce.etcd_files("/etc/kubernetes/pki/", True)
    assert names(member) == ["etcd-ca", "etcd-server", "etcd-peer", "etcd-healthcheck-client", "apiserver-etcd-client"]
    assert member[1]["path"] == "/etc/kubernetes/pki/etcd/server.crt"
    assert member[4]["path"] == "/etc/kubernetes/pki/apiserver-etcd-client.crt"
    assert names(ce.etcd_files("/etc/kubernetes/pki", False)) == ["etcd-ca", "apiserver-etcd-client"]
    assert not any(f["path"].endswith(".key") for f in member)
    with pytest.raises(ce.CertExpiryError, match="absolute"):
        ce.etcd_files("pki", True)


def test_etcd_certificates_bundle_missing_and_garbage():
    bundle = pem(3650, "new-ca") + pem(30, "old-ca")
    entries = ce.etcd_certificates([
        {"name": "etcd-ca", "path": "/p/etcd/ca.crt", "content": b64(bundle)},
        {"name": "etcd-server", "path": "/p/etcd/server.crt", "content": b64(pem(365))},
        {"name": "etcd-peer", "path": "/p/etcd/peer.crt", "content": None, "error": "not found"},
        {"name": "apiserver-etcd-client", "path": "/p/apiserver-etcd-client.crt", "content": b64(b"junk")},
    ])
    assert names(entries) == ["etcd-ca", "etcd-ca (2 of 2)", "etcd-server", "etcd-peer", "apiserver-etcd-client"]
    assert entries[0]["expires"] == "2036-11-28T00:00:00Z" and entries[1]["expires"] == "2026-12-31T00:00:00Z"
    assert entries[2]["expires_text"] == "Dec 01, 2027 00:00 UTC" and entries[2]["serial"]
    assert entries[3]["missing"] and entries[3]["error"] == "not found"
    assert entries[4]["missing"] and entries[4]["error"] == "not a PEM certificate"
    with pytest.raises(ce.CertExpiryError, match="name and a path"):
        ce.etcd_certificates([{"name": "x"}])


# --- plan ----------------------------------------------------------------------------------------------

def joined_plan(**kwargs):
    etcd = ce.etcd_certificates([{"name": "etcd-server", "path": "/p/etcd/server.crt", "content": b64(pem(20))}])
    return ce.plan(ce.parse_check_expiration(fixture("external_etcd_joined.txt")), etcd, now=NOW, **kwargs)


def test_plan_renews_inside_the_window_only():
    result = joined_plan(renew_before_days=60)
    assert result["renew"] == ["apiserver", "apiserver-kubelet-client"]
    assert result["targets"] == ["apiserver", "apiserver-kubelet-client"]
    assert result["due"] == ["apiserver", "apiserver-kubelet-client"]
    assert result["missing"] == ["admin.conf", "super-admin.conf"]
    assert result["etcd_due"] == ["etcd-server"] and result["ca_due"] == []
    rows = {r["name"]: r for r in result["rows"]}
    assert rows["apiserver"]["days_left"] == 43 and rows["apiserver"]["note"] == "expires within 60d"
    assert rows["apiserver-kubelet-client"]["note"] == "expired"
    assert rows["scheduler.conf"]["action"] == "keep"
    assert rows["admin.conf"]["action"] == "missing"
    assert rows["etcd-server"]["action"] == "etcd" and "etcd_renew_certs.yml" in rows["etcd-server"]["note"]
    assert rows["ca"]["action"] == "ca" and rows["ca"]["kind"] == "authority"


def test_plan_with_a_short_window_and_nothing_due():
    result = joined_plan(renew_before_days=1)
    assert result["renew"] == ["apiserver-kubelet-client"]
    first = ce.plan(ce.parse_check_expiration(fixture("external_etcd_first.txt")), None, 30, False, NOW)
    assert first["renew"] == [] and first["targets"] == []


def test_force_renews_all_that_kubeadm_can():
    result = joined_plan(force=True)
    assert result["targets"] == ["all"]
    assert result["renew"] == ["apiserver", "apiserver-kubelet-client", "controller-manager.conf", "front-proxy-client",
                               "scheduler.conf"]
    fallback = ce.plan(ce.parse_check_expiration(fixture("default_config_fallback.txt")), None, 60, True, NOW)
    assert "front-proxy-client" not in fallback["renew"] and "etcd-server" not in fallback["renew"]
    assert set(fallback["external"]) == {"apiserver-etcd-client", "etcd-healthcheck-client", "etcd-peer", "etcd-server",
                                         "front-proxy-client"}


def test_ca_inside_the_window_is_named_not_renewed():
    text = fixture("external_etcd_first.txt").replace("Nov 28, 2036 10:15 UTC   9y", "Dec 20, 2026 10:15 UTC   17d")
    result = ce.plan(ce.parse_check_expiration(text), None, 60, False, NOW)
    assert result["ca_due"] == ["ca", "front-proxy-ca"] and result["renew"] == []


@pytest.mark.parametrize("days", [0, -3, "x", True, 1.5, None])
def test_plan_refuses_a_bad_window(days):
    with pytest.raises(ce.CertExpiryError, match="kube_certs_renew_before_days"):
        ce.plan(ce.parse_check_expiration(fixture("external_etcd_first.txt")), None, days, False, NOW)


def test_plan_refuses_bad_input():
    with pytest.raises(ce.CertExpiryError, match="kube_certs_parse"):
        ce.plan({"rows": []}, None, 60, False, NOW)
    with pytest.raises(ce.CertExpiryError, match="force"):
        ce.plan(ce.parse_check_expiration(fixture("external_etcd_first.txt")), None, 60, "yes", NOW)
    with pytest.raises(ce.CertExpiryError, match="now"):
        ce.plan(ce.parse_check_expiration(fixture("external_etcd_first.txt")), None, 60, False, "tomorrow")


def test_window_given_as_text_number_is_accepted():
    assert joined_plan(renew_before_days="60")["window_days"] == 60


# --- table ---------------------------------------------------------------------------------------------

def test_table_lines_show_both_sources_and_actions():
    lines = ce.table_lines(joined_plan(), "cp2")
    assert lines[0].startswith("Certificate expiry on cp2 (") and "window 60d: renews apiserver, apiserver-kubelet-client" in lines[0]
    header = lines[2]
    assert header.split("   ")[0] == "CERTIFICATE" and header.endswith("ACTION")
    row = [ln for ln in lines if ln.startswith("apiserver ")][0]
    assert "Jan 15, 2027 08:00 UTC" in row and " 43d " in row and " kubeadm " in row and row.endswith("RENEW (expires within 60d)")
    missing = [ln for ln in lines if ln.startswith("!MISSING! admin.conf")][0]
    assert "MISSING (kubeadm finds no such file" in missing
    etcd = [ln for ln in lines if ln.startswith("etcd-server ")][0]
    assert " etcd-ca " in etcd and " etcd " in etcd and "run etcd_renew_certs.yml" in etcd
    assert "CERTIFICATE AUTHORITY   EXPIRES" in "\n".join(lines)
    assert all(ln == ln.rstrip() for ln in lines)
    # columns line up: every row's EXPIRES starts where the header's does
    start = header.index("EXPIRES")
    for ln in lines[3:lines.index("", 3)]:
        if not ln.startswith("!MISSING!"):
            assert ln[start - 1] == " " and ln[start] != " "


def test_table_in_check_mode_and_with_nothing_to_renew():
    assert any("WOULD RENEW" in ln for ln in ce.table_lines(joined_plan(), "cp2", check_mode=True))
    first = ce.plan(ce.parse_check_expiration(fixture("external_etcd_first.txt")), None, 60, False, NOW)
    lines = ce.table_lines(first, "cp1", True)
    assert lines[0].endswith("would renew nothing")
    with pytest.raises(ce.CertExpiryError):
        ce.table_lines({}, "cp1")


# --- after the renewal ---------------------------------------------------------------------------------

def test_renewal_check_moved_forward():
    before = joined_plan()
    after_text = (fixture("external_etcd_joined.txt").replace("Jan 15, 2027 08:00 UTC   43d", "Dec 02, 2027 12:00 UTC   365d")
                  .replace("Dec 01, 2026 08:00 UTC   <invalid>", "Dec 02, 2027 12:00 UTC   365d      "))
    result = ce.renewal_check(before, ce.parse_check_expiration(after_text), NOW)
    assert result["problems"] == []
    assert result["changes"] == ["apiserver: Jan 15, 2027 08:00 UTC -> Dec 02, 2027 12:00 UTC",
                                 "apiserver-kubelet-client: Dec 01, 2026 08:00 UTC -> Dec 02, 2027 12:00 UTC"]


def test_renewal_check_finds_what_did_not_move():
    before = joined_plan()
    unchanged = ce.parse_check_expiration(fixture("external_etcd_joined.txt"))
    result = ce.renewal_check(before, unchanged, NOW)
    assert len(result["problems"]) == 2 and "still expires within the 60d window" in result["problems"][0]
    lines = fixture("external_etcd_first.txt").splitlines()
    row = [i for i, ln in enumerate(lines) if ln.startswith("apiserver ")][0]
    lines[row] = "!MISSING! apiserver".ljust(len(lines[row]))
    gone = ce.parse_check_expiration("\n".join(lines))
    assert "apiserver is missing after the renewal" in ce.renewal_check(before, gone, NOW)["problems"]
    with pytest.raises(ce.CertExpiryError):
        ce.renewal_check({}, unchanged)
    with pytest.raises(ce.CertExpiryError):
        ce.renewal_check(before, {})


def test_plan_warnings_name_what_is_due_but_not_renewed_here():
    assert joined_plan()["warnings"] == ["The etcd certificates etcd-server expire within 60 days: run etcd_renew_certs.yml."]
    text = fixture("default_config_fallback.txt").replace("Nov 29, 2027 09:00 UTC   361d", "Dec 20, 2026 09:00 UTC   17d ")
    warnings = ce.plan(ce.parse_check_expiration(text), None, 60, False, NOW)["warnings"]
    assert len(warnings) == 1 and warnings[0].startswith("apiserver-etcd-client, etcd-healthcheck-client, etcd-peer, etcd-server expire")
    assert ce.plan(ce.parse_check_expiration(fixture("external_etcd_first.txt")), None, 60, False, NOW)["warnings"] == []
