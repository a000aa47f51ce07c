"""Unit tests of the kubeadm STAND-IN's PKI helpers, JWS and flag parser (real cryptography, no cluster)."""
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from lab.standin import kubeadm_cluster as kcl  # noqa: E402  pylint: disable=wrong-import-position
from lab.standin import kubeadm_flags as kf  # noqa: E402  pylint: disable=wrong-import-position
from lab.standin import pki  # noqa: E402  pylint: disable=wrong-import-position


def test_ca_and_leaf_are_signed_and_match():
    ca, ca_key = pki.new_ca("kubernetes")
    leaf, key = pki.new_leaf(ca, ca_key, "kube-apiserver", server=True, sans=["cp-1", "10.0.0.11"])
    assert pki.signed_by(leaf, ca)
    assert pki.keys_match(leaf, key)
    other, dummy = pki.new_ca("other")
    assert not pki.signed_by(leaf, other)
    assert pki.sans_of(leaf) == (["cp-1"], ["10.0.0.11"])
    assert (ca.not_valid_after_utc - ca.not_valid_before_utc).days >= 3650
    assert (leaf.not_valid_after_utc - leaf.not_valid_before_utc).days == 365
    assert ca_key.key_size == 2048


def test_renew_keeps_subject_sans_and_key():
    ca, ca_key = pki.new_ca("kubernetes")
    old, key = pki.new_leaf(ca, ca_key, "kube-apiserver-kubelet-client", ["kubeadm:cluster-admins"], client=True, sans=["a"])
    new, new_key = pki.renew(ca, ca_key, old, key)
    assert new.subject == old.subject
    assert new.serial_number != old.serial_number
    assert pki.sans_of(new) == pki.sans_of(old)
    assert new_key is key


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl missing")
def test_spki_pin_matches_openssl(tmp_path):
    ca, _key = pki.new_ca("kubernetes")
    path = tmp_path / "ca.crt"
    path.write_bytes(pki.cert_pem(ca))
    pub = subprocess.run(["openssl", "x509", "-pubkey", "-noout", "-in", str(path)], capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub, capture_output=True, check=True).stdout
    digest = subprocess.run(["sha256sum"], input=der, capture_output=True, check=True).stdout.split()[0].decode()
    assert pki.spki_pin(ca) == "sha256:" + digest


def test_certificate_key_roundtrip_and_wrong_key():
    key = pki.new_certificate_key()
    assert len(key) == 64
    blob = pki.encrypt(b"secret data", key)
    assert pki.decrypt(blob, key) == b"secret data"
    with pytest.raises(pki.PKIError, match="message authentication failed"):
        pki.decrypt(blob, pki.new_certificate_key())
    with pytest.raises(pki.PKIError, match="size 3"):
        pki.encrypt(b"x", "abcdef")


def test_jws_detached_verify_and_refuse():
    payload = "apiVersion: v1\nkind: Config\n"
    sig = kcl.jws_detached(payload, "abcdef", "0123456789abcdef")
    header, empty, _signature = sig.split(".")
    assert empty == "" and header
    assert kcl.jws_verify(sig, payload, "abcdef", "0123456789abcdef")
    assert not kcl.jws_verify(sig, payload, "abcdef", "0123456789abcdeX")
    assert not kcl.jws_verify(sig, payload + " ", "abcdef", "0123456789abcdef")
    assert not kcl.jws_verify(sig, payload, "zzzzzz", "0123456789abcdef")


def test_generated_token_format():
    token = kcl.generate_token()
    assert kcl.TOKEN_RE.match(token)


def test_flag_parser_forms():
    flags = {"config": kf.STRING, "upload-certs": kf.BOOL, "skip-phases": kf.LIST}
    assert kf.parse(["--config=a", "--upload-certs"], flags) == ([], {"config": "a", "upload-certs": True})
    assert kf.parse(["--config", "a", "x", "--skip-phases", "a,b", "--skip-phases=c"], flags) == (
        ["x"], {"config": "a", "skip-phases": ["a", "b", "c"]})
    assert kf.parse(["--upload-certs=false"], flags)[1] == {"upload-certs": False}
    with pytest.raises(kf.FlagError, match="^unknown flag: --nope$"):
        kf.parse(["--nope=1"], flags)
    with pytest.raises(kf.FlagError, match="flag needs an argument: --config"):
        kf.parse(["--config"], flags)
    assert kf.parse(["-ojson"], {"output": kf.STRING}, {"o": "output"})[1] == {"output": "json"}
    with pytest.raises(kf.FlagError, match="unknown shorthand flag: 'z'"):
        kf.parse(["-z"], flags)
