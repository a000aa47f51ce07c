# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# Unit tests for plugins/module_utils/pki/ (ironstone.k8s.cert_bundle logic).
# Everything runs against real files in pytest's tmp_path and real cryptography; there are no stand-ins.

import copy
import datetime
import ipaddress
import json
import os
import stat

import pytest

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

from ansible_collections.ironstone.k8s.plugins.module_utils.pki import apply as pki_apply, spec as pki_spec


MEMBER_SANS = ['node1', '10.0.0.11', 'localhost', '127.0.0.1', '::1']


def etcd_spec(path, **extra):
    """The kubeadm external-etcd set for one member, as the role would build it."""
    spec = {
        'path': str(path),
        'certs': [
            {'name': 'node1/server', 'common_name': 'node1', 'sans': list(MEMBER_SANS), 'usages': ['server_auth', 'client_auth']},
            {'name': 'node1/peer', 'common_name': 'node1', 'sans': list(MEMBER_SANS), 'usages': ['server_auth', 'client_auth']},
            {'name': 'healthcheck-client', 'common_name': 'kube-etcd-healthcheck-client',
             'organization': 'system:masters', 'usages': ['client_auth']},
            {'name': 'apiserver-etcd-client', 'common_name': 'kube-apiserver-etcd-client',
             'organization': 'system:masters', 'usages': ['client_auth']},
        ],
    }
    spec.update(extra)
    return spec


def load_cert(path):
    with open(str(path), 'rb') as handle:
        return x509.load_pem_x509_certificate(handle.read())


def load_key(path):
    with open(str(path), 'rb') as handle:
        return serialization.load_pem_private_key(handle.read(), password=None)


def load_bundle(path):
    with open(str(path), 'rb') as handle:
        data = handle.read()
    blocks = data.split(b'-----END CERTIFICATE-----')
    return [x509.load_pem_x509_certificate(b + b'-----END CERTIFICATE-----\n') for b in blocks if b.strip()]


def pub(key_or_cert):
    key = key_or_cert.public_key()
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def mode(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


def verifies(cert, ca_cert):
    """Independent chain check: issuer name and ECDSA/RSA signature against the CA public key."""
    if cert.issuer != ca_cert.subject:
        return False
    key = ca_cert.public_key()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
        else:
            key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm)
    except Exception:  # pylint: disable=broad-except
        return False
    return True


def snapshot(root):
    """{relative path: (bytes, mtime_ns, mode)} for every file under root."""
    found = {}
    for dirpath, _dirs, files in os.walk(str(root)):
        for name in files:
            full = os.path.join(dirpath, name)
            with open(full, 'rb') as handle:
                found[os.path.relpath(full, str(root))] = (handle.read(), os.stat(full).st_mtime_ns, mode(full))
    return found


def by_name(result):
    return dict((c['name'], c) for c in result['certs'])


def issue_foreign_leaf(ca_subject_cn, leaf_key, sans, usages, days=365):
    """A leaf with the right subject/SANs/EKUs but signed by another CA that has the same subject."""
    other_key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'node1')]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_subject_cn)]))
               .public_key(leaf_key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=1))
               .not_valid_after(now + datetime.timedelta(days=days))
               .add_extension(x509.SubjectAlternativeName(sans), critical=False)
               .add_extension(x509.ExtendedKeyUsage(usages), critical=False))
    return builder.sign(other_key, hashes.SHA256())


# ---------------------------------------------------------------------------
# First run / idempotence
# ---------------------------------------------------------------------------

def test_first_run_creates_ca_and_leaves_with_modes_sans_and_ekus(tmp_path):
    root = tmp_path / 'pki'
    result = pki_apply.run(etcd_spec(root))

    assert result['changed'] is True
    assert result['ca']['action'] == 'created'
    assert result['ca']['regenerated'] is False
    assert [c['action'] for c in result['certs']] == ['created'] * 4
    assert sorted(r['name'] for r in result['regenerated']) == sorted(['ca', 'node1/server', 'node1/peer', 'healthcheck-client',
                                                                       'apiserver-etcd-client'])

    assert mode(root) == 0o700
    assert mode(root / 'node1') == 0o700
    assert mode(root / 'ca.key') == 0o600
    assert mode(root / 'ca.crt') == 0o644
    assert mode(root / 'ca-bundle.crt') == 0o644
    for name in ('node1/server', 'node1/peer', 'healthcheck-client', 'apiserver-etcd-client'):
        assert mode(root / (name + '.key')) == 0o600
        assert mode(root / (name + '.crt')) == 0o644
    # Atomic writes leave no temporary files behind.
    assert sorted(snapshot(root)) == sorted(['ca.crt', 'ca.key', 'ca-bundle.crt', 'node1/server.crt', 'node1/server.key',
                                             'node1/peer.crt', 'node1/peer.key', 'healthcheck-client.crt', 'healthcheck-client.key',
                                             'apiserver-etcd-client.crt', 'apiserver-etcd-client.key'])

    ca = load_cert(root / 'ca.crt')
    assert ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == 'etcd-ca'
    assert ca.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value.ca is True
    assert pub(load_key(root / 'ca.key')) == pub(ca)
    assert isinstance(load_key(root / 'ca.key'), ec.EllipticCurvePrivateKey)
    assert [c.fingerprint(hashes.SHA256()) for c in load_bundle(root / 'ca-bundle.crt')] == [ca.fingerprint(hashes.SHA256())]

    server = load_cert(root / 'node1/server.crt')
    sans = server.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    assert sorted(sans.get_values_for_type(x509.DNSName)) == ['localhost', 'node1']
    assert sorted(str(ip) for ip in sans.get_values_for_type(x509.IPAddress)) == ['10.0.0.11', '127.0.0.1', '::1']
    assert ipaddress.ip_address('::1') in sans.get_values_for_type(x509.IPAddress)
    ekus = list(server.extensions.get_extension_for_oid(ExtensionOID.EXTENDED_KEY_USAGE).value)
    assert set(ekus) == set([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH])
    assert server.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value.ca is False
    assert verifies(server, ca)
    assert pub(load_key(root / 'node1/server.key')) == pub(server)

    client = load_cert(root / 'apiserver-etcd-client.crt')
    assert client.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == 'system:masters'
    assert client.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == 'kube-apiserver-etcd-client'
    assert list(client.extensions.get_extension_for_oid(ExtensionOID.EXTENDED_KEY_USAGE).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    with pytest.raises(x509.ExtensionNotFound):
        client.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    assert verifies(client, ca)

    # Returned values describe the files on disk.
    out = by_name(result)
    assert out['node1/server']['serial'] == '%X' % server.serial_number
    assert out['node1/server']['cert_path'] == str(root / 'node1/server.crt')
    assert out['node1/server']['sans'] == MEMBER_SANS
    assert result['ca']['fingerprint_sha256'].replace(':', '').lower() == ca.fingerprint(hashes.SHA256()).hex()


def test_second_run_is_unchanged(tmp_path):
    root = tmp_path / 'pki'
    first = pki_apply.run(etcd_spec(root))
    before = snapshot(root)
    second = pki_apply.run(etcd_spec(root))

    assert second['changed'] is False
    assert second['regenerated'] == []
    assert second['warnings'] == []
    assert second['ca']['action'] == 'unchanged'
    assert second['ca']['fingerprint_sha256'] == first['ca']['fingerprint_sha256']
    assert [c['action'] for c in second['certs']] == ['unchanged'] * 4
    assert [(c['serial'], c['fingerprint_sha256']) for c in second['certs']] == [(c['serial'], c['fingerprint_sha256']) for c in first['certs']]
    assert snapshot(root) == before
    assert second['diff']['before'] == second['diff']['after']


def test_spec_order_and_case_of_sans_do_not_matter(tmp_path):
    root = tmp_path / 'pki'
    pki_apply.run(etcd_spec(root))
    spec = etcd_spec(root)
    spec['certs'][0]['sans'] = ['::1', 'NODE1', '127.0.0.1', 'localhost', '10.0.0.11', 'node1', '0:0:0:0:0:0:0:1']
    assert pki_apply.run(spec)['changed'] is False


# ---------------------------------------------------------------------------
# Renewal reasons
# ---------------------------------------------------------------------------

def test_changed_san_renews_only_that_cert_and_keeps_its_key(tmp_path):
    root = tmp_path / 'pki'
    first = by_name(pki_apply.run(etcd_spec(root)))
    old_key = (root / 'node1/server.key').read_bytes()
    spec = etcd_spec(root)
    spec['certs'][0]['sans'] = ['node1', '10.0.0.5', 'localhost', '127.0.0.1', '::1']

    result = pki_apply.run(spec)
    out = by_name(result)

    assert result['changed'] is True
    assert out['node1/server']['action'] == 'renewed'
    assert 'SANs differ' in out['node1/server']['reason']
    assert '+10.0.0.5' in out['node1/server']['reason'] and '-10.0.0.11' in out['node1/server']['reason']
    assert out['node1/server']['new_key'] is False
    assert result['regenerated'] == [{'name': 'node1/server', 'reason': out['node1/server']['reason']}]
    for name in ('node1/peer', 'healthcheck-client', 'apiserver-etcd-client'):
        assert out[name]['action'] == 'unchanged'
        assert out[name]['serial'] == first[name]['serial']
    assert (root / 'node1/server.key').read_bytes() == old_key
    server = load_cert(root / 'node1/server.crt')
    assert ipaddress.ip_address('10.0.0.5') in server.extensions.get_extension_for_oid(
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value.get_values_for_type(x509.IPAddress)
    assert pub(server) == pub(load_key(root / 'node1/server.key'))
    assert '10.0.0.5' in result['diff']['after'] and '10.0.0.5' not in result['diff']['before']


def test_dns_san_removal_is_named_in_reason(tmp_path):
    root = tmp_path / 'pki'
    spec = etcd_spec(root)
    spec['certs'][0]['sans'] = ['node1-old', 'node1']
    pki_apply.run(spec)
    spec['certs'][0]['sans'] = ['node1', '10.0.0.5']
    out = by_name(pki_apply.run(spec))
    assert out['node1/server']['reason'] == 'SANs differ: +10.0.0.5 -node1-old'


@pytest.mark.parametrize('field, value, expected', [
    ('usages', ['server_auth'], 'usages differ: -client_auth'),
    ('common_name', 'node1.example', "CN differs: 'node1' -> 'node1.example'"),
    ('organization', 'ops', "O differs: '' -> 'ops'"),
])
def test_subject_and_usage_changes_renew(tmp_path, field, value, expected):
    root = tmp_path / 'pki'
    pki_apply.run(etcd_spec(root))
    spec = etcd_spec(root)
    spec['certs'][1][field] = value
    out = by_name(pki_apply.run(spec))
    assert out['node1/peer']['action'] == 'renewed'
    assert out['node1/peer']['reason'] == expected
    assert out['node1/server']['action'] == 'unchanged'


def test_cert_near_expiry_is_renewed(tmp_path):
    root = tmp_path / 'pki'
    spec = etcd_spec(root, renew_before_days=5)
    spec['certs'][2]['validity_days'] = 10
    pki_apply.run(spec)
    assert pki_apply.run(spec)['changed'] is False  # 10 days left > 5 days window
    old_serial = load_cert(root / 'healthcheck-client.crt').serial_number

    spec['renew_before_days'] = 30
    result = pki_apply.run(spec)
    out = by_name(result)
    assert out['healthcheck-client']['action'] == 'renewed'
    assert 'within renew_before_days=30' in out['healthcheck-client']['reason']
    assert load_cert(root / 'healthcheck-client.crt').serial_number != old_serial
    assert [c['action'] for c in result['certs'] if c['name'] != 'healthcheck-client'] == ['unchanged'] * 3
    assert any('healthcheck-client' in w and 'every run' in w for w in result['warnings'])


def test_force_leaves_reissues_all_leaves_keeps_keys_and_ca(tmp_path):
    root = tmp_path / 'pki'
    first = pki_apply.run(etcd_spec(root))
    keys = dict((c['name'], (root / (c['name'] + '.key')).read_bytes()) for c in first['certs'])
    result = pki_apply.run(etcd_spec(root, force_leaves=True))
    assert result['ca']['action'] == 'unchanged'
    assert result['ca']['fingerprint_sha256'] == first['ca']['fingerprint_sha256']
    assert all(c['action'] == 'renewed' and c['reason'] == 'force_leaves=true' for c in result['certs'])
    assert all(a['serial'] != b['serial'] for a, b in zip(first['certs'], result['certs']))
    assert dict((n, (root / (n + '.key')).read_bytes()) for n in keys) == keys


def test_key_mismatch_gets_new_key(tmp_path):
    root = tmp_path / 'pki'
    pki_apply.run(etcd_spec(root))
    stranger = ec.generate_private_key(ec.SECP256R1())
    stranger_pem = stranger.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption())
    (root / 'node1/peer.key').write_bytes(stranger_pem)

    out = by_name(pki_apply.run(etcd_spec(root)))
    assert out['node1/peer']['action'] == 'renewed'
    assert out['node1/peer']['reason'] == 'key does not match certificate'
    assert out['node1/peer']['new_key'] is True
    new_key = load_key(root / 'node1/peer.key')
    assert pub(new_key) != pub(stranger)
    assert pub(new_key) == pub(load_cert(root / 'node1/peer.crt'))
    assert mode(root / 'node1/peer.key') == 0o600
    assert pki_apply.run(etcd_spec(root))['changed'] is False


def test_missing_leaf_key_gets_new_key(tmp_path):
    root = tmp_path / 'pki'
    pki_apply.run(etcd_spec(root))
    (root / 'healthcheck-client.key').unlink()
    out = by_name(pki_apply.run(etcd_spec(root)))
    assert out['healthcheck-client']['action'] == 'renewed'
    assert out['healthcheck-client']['reason'] == 'key missing'
    assert pub(load_key(root / 'healthcheck-client.key')) == pub(load_cert(root / 'healthcheck-client.crt'))


def test_key_type_change_replaces_key(tmp_path):
    root = tmp_path / 'pki'
    pki_apply.run(etcd_spec(root))
    spec = etcd_spec(root)
    spec['certs'][3]['key_type'] = 'rsa-2048'
    out = by_name(pki_apply.run(spec))
    assert out['apiserver-etcd-client']['reason'] == 'key type ecdsa-p256 differs from spec rsa-2048'
    key = load_key(root / 'apiserver-etcd-client.key')
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    cert = load_cert(root / 'apiserver-etcd-client.crt')
    assert pub(cert) == pub(key)
    assert verifies(cert, load_cert(root / 'ca.crt'))
    assert pki_apply.run(spec)['changed'] is False


def test_leaf_signed_by_other_ca_with_same_subject_is_renewed(tmp_path):
    root = tmp_path / 'pki'
    pki_apply.run(etcd_spec(root))
    key = load_key(root / 'node1/server.key')
    sans = [x509.DNSName('node1'), x509.IPAddress(ipaddress.ip_address('10.0.0.11')), x509.DNSName('localhost'),
            x509.IPAddress(ipaddress.ip_address('127.0.0.1')), x509.IPAddress(ipaddress.ip_address('::1'))]
    forged = issue_foreign_leaf('etcd-ca', key, sans, [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH])
    (root / 'node1/server.crt').write_bytes(forged.public_bytes(serialization.Encoding.PEM))

    out = by_name(pki_apply.run(etcd_spec(root)))
    assert out['node1/server']['action'] == 'renewed'
    assert out['node1/server']['reason'] == 'signature does not verify with the current CA key'
    assert verifies(load_cert(root / 'node1/server.crt'), load_cert(root / 'ca.crt'))


def test_unreadable_leaf_cert_is_renewed(tmp_path):
    root = tmp_path / 'pki'
    pki_apply.run(etcd_spec(root))
    (root / 'node1/peer.crt').write_bytes(b'garbage\n')
    out = by_name(pki_apply.run(etcd_spec(root)))
    assert out['node1/peer']['action'] == 'renewed'
    assert 'certificate unreadable' in out['node1/peer']['reason']


def test_wrong_modes_are_corrected(tmp_path):
    root = tmp_path / 'pki'
    pki_apply.run(etcd_spec(root))
    os.chmod(str(root / 'node1/server.key'), 0o644)
    os.chmod(str(root / 'ca.key'), 0o640)
    os.chmod(str(root), 0o755)
    result = pki_apply.run(etcd_spec(root))
    assert result['changed'] is True
    assert by_name(result)['node1/server']['action'] == 'unchanged'
    assert 'permissions corrected' in by_name(result)['node1/server']['reason']
    assert mode(root / 'node1/server.key') == 0o600
    assert mode(root / 'ca.key') == 0o600
    assert mode(root) == 0o700
    assert pki_apply.run(etcd_spec(root))['changed'] is False


# ---------------------------------------------------------------------------
# Check mode and diff
# ---------------------------------------------------------------------------

def test_check_mode_on_empty_directory_writes_nothing(tmp_path):
    root = tmp_path / 'pki'
    result = pki_apply.run(etcd_spec(root), check_mode=True)
    assert result['changed'] is True
    assert result['ca']['action'] == 'created'
    assert result['ca']['fingerprint_sha256'] is None
    assert [c['action'] for c in result['certs']] == ['created'] * 4
    assert not root.exists()


def test_check_mode_reports_renewal_and_leaves_files_untouched(tmp_path):
    root = tmp_path / 'pki'
    pki_apply.run(etcd_spec(root))
    before = snapshot(root)
    spec = etcd_spec(root)
    spec['certs'][0]['sans'] = ['node1', '10.0.0.5']
    (root / 'healthcheck-client.key').unlink()
    before = snapshot(root)

    result = pki_apply.run(spec, check_mode=True)
    out = by_name(result)
    assert result['changed'] is True
    assert out['node1/server']['action'] == 'renewed'
    assert out['node1/server']['serial'] is None
    assert '+10.0.0.5' in out['node1/server']['reason']
    assert out['healthcheck-client']['new_key'] is True
    assert out['node1/peer']['action'] == 'unchanged'
    assert snapshot(root) == before
    assert 'IP:10.0.0.5' in result['diff']['after']


def test_check_mode_ca_regeneration_predicts_all_leaves_and_writes_nothing(tmp_path):
    root = tmp_path / 'pki'
    pki_apply.run(etcd_spec(root))
    before = snapshot(root)
    result = pki_apply.run(etcd_spec(root, regenerate_ca=True), check_mode=True)
    assert result['ca']['action'] == 'regenerated'
    assert all(c['action'] == 'renewed' and c['reason'] == 'CA regenerated' for c in result['certs'])
    assert snapshot(root) == before


def test_results_and_diff_never_contain_key_material(tmp_path):
    root = tmp_path / 'pki'
    results = [pki_apply.run(etcd_spec(root), check_mode=True), pki_apply.run(etcd_spec(root)), pki_apply.run(etcd_spec(root, force_leaves=True))]
    dumped = json.dumps(results)
    assert 'PRIVATE KEY' not in dumped
    for key_file in ('ca.key', 'node1/server.key', 'apiserver-etcd-client.key'):
        body = ''.join(line for line in (root / key_file).read_text().splitlines() if '-----' not in line)
        assert body[:40] not in dumped
        der = load_key(root / key_file).private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption())
        assert der.hex()[-64:] not in dumped.lower().replace(':', '')
    diff = results[1]['diff']
    assert 'ca.crt: absent' in diff['before']
    assert 'node1/server.crt: subject=CN=node1' in diff['after']
    assert 'node1/server.key: ecdsa-p256 private key' in diff['after']


# ---------------------------------------------------------------------------
# CA handling
# ---------------------------------------------------------------------------

def test_expiring_ca_only_warns_and_is_kept(tmp_path):
    root = tmp_path / 'pki'
    spec = etcd_spec(root, ca={'validity_days': 10})
    first = pki_apply.run(spec)
    second = pki_apply.run(spec)
    assert second['changed'] is False
    assert second['ca']['action'] == 'unchanged'
    assert second['ca']['fingerprint_sha256'] == first['ca']['fingerprint_sha256']
    assert any('expires on' in w and 'NOT regenerated' in w for w in second['warnings'])


def test_ca_spec_drift_only_warns(tmp_path):
    root = tmp_path / 'pki'
    first = pki_apply.run(etcd_spec(root))
    second = pki_apply.run(etcd_spec(root, ca={'common_name': 'other-ca', 'key_type': 'rsa-2048'}))
    assert second['changed'] is False
    assert second['ca']['fingerprint_sha256'] == first['ca']['fingerprint_sha256']
    assert len([w for w in second['warnings'] if 'regenerate_ca=true' in w]) == 2


def test_missing_ca_key_fails_clearly_and_writes_nothing(tmp_path):
    root = tmp_path / 'pki'
    pki_apply.run(etcd_spec(root))
    (root / 'ca.key').unlink()
    spec = etcd_spec(root)
    spec['certs'].append({'name': 'node2/server', 'common_name': 'node2', 'usages': ['server_auth']})
    before = snapshot(root)
    with pytest.raises(pki_spec.PkiError) as err:
        pki_apply.run(spec)
    assert str(err.value) == 'CA key missing at %s; restore it or set regenerate_ca=true.' % (root / 'ca.key')
    assert snapshot(root) == before
    assert not (root / 'node2').exists()


@pytest.mark.parametrize('damage, message', [
    ('foreign_key', 'does not match the CA certificate'),
    ('garbage_cert', 'is not a readable PEM certificate'),
    ('no_cert', 'CA certificate missing at'),
])
def test_damaged_ca_fails_without_regenerate(tmp_path, damage, message):
    root = tmp_path / 'pki'
    pki_apply.run(etcd_spec(root))
    if damage == 'foreign_key':
        other = ec.generate_private_key(ec.SECP256R1())
        (root / 'ca.key').write_bytes(other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
    elif damage == 'garbage_cert':
        (root / 'ca.crt').write_bytes(b'not a cert')
    else:
        (root / 'ca.crt').unlink()
    before = snapshot(root)
    with pytest.raises(pki_spec.PkiError, match=message) as err:
        pki_apply.run(etcd_spec(root))
    assert 'regenerate_ca=true' in str(err.value)
    assert snapshot(root) == before


def test_regenerate_ca_with_overlap_bundles_both_and_reissues_all_leaves(tmp_path):
    root = tmp_path / 'pki'
    pki_apply.run(etcd_spec(root))
    old_ca = load_cert(root / 'ca.crt')
    old_leaf_keys = dict((n, pub(load_key(root / (n + '.key')))) for n in ('node1/server', 'node1/peer'))

    result = pki_apply.run(etcd_spec(root, regenerate_ca=True))
    new_ca = load_cert(root / 'ca.crt')
    assert result['ca']['action'] == 'regenerated'
    assert result['ca']['regenerated'] is True
    assert new_ca.fingerprint(hashes.SHA256()) != old_ca.fingerprint(hashes.SHA256())
    assert pub(load_key(root / 'ca.key')) == pub(new_ca) != pub(old_ca)
    bundle = load_bundle(root / 'ca-bundle.crt')
    assert [c.fingerprint(hashes.SHA256()) for c in bundle] == [new_ca.fingerprint(hashes.SHA256()), old_ca.fingerprint(hashes.SHA256())]
    assert result['ca']['bundle_size'] == 2
    for cert in result['certs']:
        assert cert['action'] == 'renewed'
        assert cert['reason'] == 'CA regenerated'
        leaf = load_cert(root / (cert['name'] + '.crt'))
        assert verifies(leaf, new_ca) and not verifies(leaf, old_ca)
    # Leaf keys were still good, so they are kept.
    assert dict((n, pub(load_key(root / (n + '.key')))) for n in old_leaf_keys) == old_leaf_keys
    assert result['regenerated'][0] == {'name': 'ca', 'reason': 'regenerate_ca=true'}

    # Later runs keep the overlap bundle until pruned.
    again = pki_apply.run(etcd_spec(root))
    assert again['changed'] is False
    assert len(load_bundle(root / 'ca-bundle.crt')) == 2

    pruned = pki_apply.run(etcd_spec(root, prune_old_ca=True))
    assert pruned['changed'] is True
    assert [c['action'] for c in pruned['certs']] == ['unchanged'] * 4
    assert [c.fingerprint(hashes.SHA256()) for c in load_bundle(root / 'ca-bundle.crt')] == [new_ca.fingerprint(hashes.SHA256())]
    assert pki_apply.run(etcd_spec(root))['changed'] is False


def test_regenerate_ca_without_overlap_bundle_has_only_new_ca(tmp_path):
    root = tmp_path / 'pki'
    pki_apply.run(etcd_spec(root))
    result = pki_apply.run(etcd_spec(root, regenerate_ca=True, ca_overlap=False))
    new_ca = load_cert(root / 'ca.crt')
    assert [c.fingerprint(hashes.SHA256()) for c in load_bundle(root / 'ca-bundle.crt')] == [new_ca.fingerprint(hashes.SHA256())]
    assert result['ca']['bundle_size'] == 1


def test_lost_ca_with_existing_leaves_fails_instead_of_creating(tmp_path):
    root = tmp_path / 'pki'
    pki_apply.run(etcd_spec(root))
    (root / 'ca.key').unlink()
    (root / 'ca.crt').unlink()
    before = snapshot(root)
    with pytest.raises(pki_spec.PkiError, match='but leaf certificates exist .node1/server, node1/peer, healthcheck-client.; restore the CA'):
        pki_apply.run(etcd_spec(root))
    assert snapshot(root) == before
    recovered = pki_apply.run(etcd_spec(root, regenerate_ca=True))
    assert recovered['ca']['action'] == 'created'
    assert all(c['action'] == 'renewed' and c['reason'] == 'CA created' for c in recovered['certs'])


def test_regenerate_ca_recovers_missing_ca_key(tmp_path):
    root = tmp_path / 'pki'
    pki_apply.run(etcd_spec(root))
    (root / 'ca.key').unlink()
    result = pki_apply.run(etcd_spec(root, regenerate_ca=True))
    assert result['ca']['action'] == 'regenerated'
    assert pub(load_key(root / 'ca.key')) == pub(load_cert(root / 'ca.crt'))
    assert pki_apply.run(etcd_spec(root))['changed'] is False


# ---------------------------------------------------------------------------
# Spec validation
# ---------------------------------------------------------------------------

def _mutate(spec, where, value):
    target = spec
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    return spec


@pytest.mark.parametrize('where, value, message', [
    (('certs', 0, 'usages'), ['server_auth', 'code_signing'], "usages has 'code_signing', which is not supported"),
    (('certs', 0, 'usages'), [], 'usages must be a non-empty list'),
    (('certs', 0, 'name'), '', 'name must be a non-empty string'),
    (('certs', 1, 'name'), 'node1/server', "already used by certs[0]"),
    (('certs', 1, 'name'), 'NODE1/Server', "already used by certs[0]"),
    (('certs', 0, 'name'), '../x', 'escapes the PKI directory'),
    (('certs', 0, 'name'), 'node1/../../x', 'escapes the PKI directory'),
    (('certs', 0, 'name'), '/etc/x', 'escapes the PKI directory'),
    (('certs', 0, 'name'), 'node1/.hidden', 'invalid path component'),
    (('certs', 0, 'name'), 'node1//server', 'invalid path component'),
    (('certs', 0, 'name'), 'ca', 'collides with the CA files'),
    (('certs', 0, 'name'), 'ca-bundle', 'collides with the CA bundle files'),
    (('certs', 0, 'common_name'), '', 'common_name must be a non-empty string'),
    (('certs', 0, 'common_name'), 'x' * 65, 'longer than 64 characters'),
    (('certs', 0, 'sans'), ['node1', 'bad name'], 'neither an IP address nor a valid DNS name'),
    (('certs', 0, 'sans'), ['10.0.0.0/24'], 'neither an IP address nor a valid DNS name'),
    (('certs', 0, 'validity_days'), 0, 'validity_days must be at least 1'),
    (('certs', 0, 'key_type'), 'dsa-1024', 'is not supported'),
    (('ca',), {'name': 'sub/ca'}, 'plain file basename'),
    (('ca',), {'key_type': 'rsa-1024'}, 'is not supported'),
    (('renew_before_days',), -1, 'renew_before_days must be at least 0'),
    (('regenerate_ca',), 'yes', 'regenerate_ca must be a boolean'),
])
def test_invalid_spec_fails_before_writing(tmp_path, where, value, message):
    root = tmp_path / 'pki'
    spec = _mutate(etcd_spec(root), where, value)
    with pytest.raises(pki_spec.PkiError) as err:
        pki_apply.run(spec)
    assert message in str(err.value)
    assert not root.exists()
    assert not (tmp_path / 'x').exists()


def test_prune_conflicts_with_overlapping_regeneration(tmp_path):
    root = tmp_path / 'pki'
    with pytest.raises(pki_spec.PkiError, match='prune_old_ca=true conflicts'):
        pki_apply.run(etcd_spec(root, regenerate_ca=True, prune_old_ca=True))
    assert not root.exists()


def test_invalid_leaf_after_valid_ones_writes_nothing_in_existing_dir(tmp_path):
    root = tmp_path / 'pki'
    pki_apply.run(etcd_spec(root))
    before = snapshot(root)
    spec = etcd_spec(root, force_leaves=True)
    spec['certs'].append({'name': 'node2/server', 'common_name': 'node2', 'usages': ['peer_auth']})
    with pytest.raises(pki_spec.PkiError):
        pki_apply.run(spec)
    assert snapshot(root) == before


def test_path_that_is_a_file_fails(tmp_path):
    target = tmp_path / 'file'
    target.write_text('x')
    with pytest.raises(pki_spec.PkiError, match='is not a directory'):
        pki_apply.run(etcd_spec(target))


def test_normalize_spec_fills_defaults(tmp_path):
    leaf_in = {'name': 'a', 'common_name': 'a', 'usages': ['client_auth'], 'sans': ['2001:DB8::1', 'A.Example']}
    spec = pki_spec.normalize_spec({'path': str(tmp_path), 'certs': [leaf_in]})
    assert spec['ca'] == {'name': 'ca', 'common_name': 'etcd-ca', 'validity_days': 3650, 'key_type': 'ecdsa-p256'}
    assert spec['renew_before_days'] == 30 and spec['ca_overlap'] is True and spec['regenerate_ca'] is False
    leaf = spec['certs'][0]
    assert leaf['sans'] == [('IP', '2001:db8::1'), ('DNS', 'a.example')]
    assert leaf['validity_days'] == 365 and leaf['key_type'] == 'ecdsa-p256' and leaf['organization'] is None


def test_spec_is_not_mutated(tmp_path):
    spec = etcd_spec(tmp_path / 'pki')
    original = copy.deepcopy(spec)
    pki_apply.run(spec)
    assert spec == original
