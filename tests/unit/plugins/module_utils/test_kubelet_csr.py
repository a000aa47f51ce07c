# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE)
"""The kubelet serving-certificate approval rules, with real x509 requests made by cryptography."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from ansible_collections.ironstone.k8s.plugins.module_utils import kubelet_csr as kc

KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_KEY = ec.generate_private_key(ec.SECP256R1())


def node(name, *addresses):
    return {'metadata': {'name': name}, 'status': {'addresses': [{'type': t, 'address': a} for t, a in addresses]}}


NODES = {
    'w1': node('w1', ('InternalIP', '172.30.95.21'), ('Hostname', 'w1')),
    'cp1': node('cp1', ('InternalIP', '172.30.95.11'), ('ExternalIP', '203.0.113.7'), ('Hostname', 'cp1'),
                ('InternalDNS', 'cp1.internal.example'), ('ExternalDNS', 'cp1.example.com')),
    'v6': node('v6', ('InternalIP', 'fd00::21'), ('Hostname', 'v6')),
}
ALLOWED = ['w1', 'cp1', 'v6']


def subject(cn='system:node:w1', orgs=('system:nodes',), extra=()):
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    if cn is not None:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    attrs.extend(extra)
    return x509.Name(attrs)


def pem_request(name=None, dns=('w1',), ips=('172.30.95.21',), key=KEY, sans=None, extensions=(), **kwargs):
    builder = x509.CertificateSigningRequestBuilder().subject_name(name or subject(**kwargs))
    entries = list(sans) if sans is not None else [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if entries:
        builder = builder.add_extension(x509.SubjectAlternativeName(entries), critical=False)
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def csr(request=None, user='system:node:w1', groups=('system:nodes', 'system:authenticated'),
        usages=('digital signature', 'server auth'), signer=kc.SIGNER, status=None, name='csr-abcde', created='2026-01-01T00:00:00Z'):
    request = request if request is not None else pem_request()
    obj = {'apiVersion': 'certificates.k8s.io/v1', 'kind': 'CertificateSigningRequest',
           'metadata': {'name': name, 'resourceVersion': '7', 'creationTimestamp': created},
           'spec': {'request': base64.b64encode(request).decode('ascii'), 'signerName': signer, 'usages': list(usages),
                    'username': user, 'groups': list(groups)},
           'status': status or {}}
    if user is None:
        del obj['spec']['username']
    return obj


def refused(obj, nodes=None, allowed=None):
    ok, reason = kc.decide(obj, NODES if nodes is None else nodes, ALLOWED if allowed is None else allowed)
    assert not ok
    assert reason
    return reason


# --- what is approved ------------------------------------------------------------------------------

def test_the_real_kubelets_request_is_approved():
    assert kc.decide(csr(), NODES, ALLOWED) == (True, '')


def test_key_encipherment_is_optional():
    assert kc.decide(csr(usages=('key encipherment', 'digital signature', 'server auth')), NODES, ALLOWED) == (True, '')


def test_an_rsa_key_and_every_address_type_are_fine():
    request = pem_request(subject(cn='system:node:cp1'), dns=('cp1', 'cp1.internal.example', 'CP1.example.com'),
                          ips=('172.30.95.11', '203.0.113.7'), key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    assert kc.decide(csr(request, user='system:node:cp1'), NODES, ALLOWED) == (True, '')


def test_only_dns_or_only_ip_is_enough():
    assert kc.decide(csr(pem_request(ips=())), NODES, ALLOWED)[0]
    assert kc.decide(csr(pem_request(dns=())), NODES, ALLOWED)[0]


def test_ipv6_addresses_compare_as_addresses():
    request = pem_request(subject(cn='system:node:v6'), dns=('v6',), ips=('fd00:0:0:0:0:0:0:21',))
    assert kc.decide(csr(request, user='system:node:v6'), NODES, ALLOWED) == (True, '')


# --- who asks ----------------------------------------------------------------------------------------

@pytest.mark.parametrize('user', ['kubernetes-admin', 'system:serviceaccount:kube-system:x', 'system:node:', None])
def test_a_requester_that_is_not_a_node_is_refused(user):
    assert 'is not a node' in refused(csr(user=user))


def test_a_node_outside_the_list_is_refused():
    assert 'not one of the nodes' in refused(csr(), allowed=['cp1'])


def test_a_node_that_does_not_exist_is_refused():
    request = pem_request(subject(cn='system:node:ghost'), dns=('ghost',), ips=())
    assert 'does not exist' in refused(csr(request, user='system:node:ghost'), allowed=ALLOWED + ['ghost'])


def test_the_nodes_group_is_required():
    assert 'group system:nodes' in refused(csr(groups=('system:authenticated',)))


def test_one_node_cannot_ask_for_another():
    # cp1 (a real node) asks for a certificate naming w1 with w1's addresses.
    assert 'subject' in refused(csr(user='system:node:cp1'))


# --- the x509 request ----------------------------------------------------------------------------------

@pytest.mark.parametrize('name', [
    subject(cn='system:node:cp1'),
    subject(orgs=()),
    subject(orgs=('system:masters',)),
    subject(orgs=('system:nodes', 'system:masters')),
    subject(cn=None),
    subject(extra=[x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, 'ops')]),
    x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'system:node:w1'), x509.NameAttribute(NameOID.COMMON_NAME, 'w1')]),
], ids=['other-node', 'no-org', 'masters', 'extra-org', 'no-cn', 'extra-ou', 'two-cns'])
def test_the_subject_must_be_exactly_the_nodes(name):
    assert 'x509 subject' in refused(csr(pem_request(name=name)))


def test_a_san_the_node_does_not_have_is_refused():
    reason = refused(csr(pem_request(ips=('172.30.95.21', '10.0.0.9'))))
    assert '10.0.0.9' in reason and 'status.addresses' in reason
    assert 'kubernetes.default.svc' in refused(csr(pem_request(dns=('w1', 'kubernetes.default.svc'))))


def test_an_address_of_another_node_is_refused():
    assert '172.30.95.11' in refused(csr(pem_request(ips=('172.30.95.11',))))


@pytest.mark.parametrize('entry', [x509.RFC822Name('ops@example.com'), x509.UniformResourceIdentifier('spiffe://cluster/w1')],
                         ids=['email', 'uri'])
def test_san_entries_other_than_dns_and_ip_are_refused(entry):
    reason = refused(csr(pem_request(sans=[x509.DNSName('w1'), entry])))
    assert 'neither DNS names nor IP addresses' in reason


def test_a_request_without_sans_is_refused():
    assert 'no DNS name or IP address' in refused(csr(pem_request(dns=(), ips=())))


def test_other_extensions_are_refused():
    request = pem_request(extensions=[(x509.BasicConstraints(ca=True, path_length=None), True)])
    assert 'extensions other than subjectAltName' in refused(csr(request))


def test_a_request_signed_by_another_key_is_refused():
    # Take the subject and SANs of one request, and the signature of another over different bytes.
    good = x509.load_pem_x509_csr(pem_request())
    other = x509.load_pem_x509_csr(pem_request(key=OTHER_KEY, dns=('w1-other',)))
    der = good.tbs_certrequest_bytes
    # Rebuild a DER request: tbs of `good`, algorithm and signature of `other` (a signature that cannot verify).
    from cryptography.hazmat.primitives.serialization import Encoding  # pylint: disable=import-outside-toplevel
    other_der = other.public_bytes(Encoding.DER)
    forged = _der_request(der, other_der)
    pem = b'-----BEGIN CERTIFICATE REQUEST-----\n' + base64.encodebytes(forged) + b'-----END CERTIFICATE REQUEST-----\n'
    assert 'signature' in refused(csr(pem))


def _der_length(data, offset):
    first = data[offset]
    if first < 0x80:
        return first, offset + 1
    count = first & 0x7f
    return int.from_bytes(data[offset + 1:offset + 1 + count], 'big'), offset + 1 + count


def _der_encode_length(length):
    if length < 0x80:
        return bytes([length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, 'big')
    return bytes([0x80 | len(raw)]) + raw


def _der_request(tbs, other_der):
    """SEQUENCE { tbs, other's signatureAlgorithm, other's signature }."""
    _length, offset = _der_length(other_der, 1)
    inner = other_der[offset:]
    _tbs_length, tbs_start = _der_length(inner, 1)
    rest = inner[tbs_start + _tbs_length:]
    body = tbs + rest
    return b'\x30' + _der_encode_length(len(body)) + body


@pytest.mark.parametrize('raw, why', [('not base64!', 'not base64'), (base64.b64encode(b'hello').decode(), 'not a PEM')])
def test_a_request_that_does_not_parse_is_refused(raw, why):
    obj = csr()
    obj['spec']['request'] = raw
    assert why in refused(obj)


# --- usages, signer and state ------------------------------------------------------------------------------

@pytest.mark.parametrize('usages', [
    ('digital signature',),
    ('server auth',),
    ('digital signature', 'server auth', 'client auth'),
    ('digital signature', 'server auth', 'server auth'),
    ('digital signature', 'server auth', 'cert sign'),
    (),
], ids=['no-server-auth', 'no-signature', 'client-auth', 'duplicate', 'cert-sign', 'none'])
def test_usages_must_be_exactly_serving(usages):
    assert 'usages' in refused(csr(usages=usages))


def test_another_signer_is_not_approved():
    assert 'signer' in refused(csr(signer='kubernetes.io/kube-apiserver-client'))


@pytest.mark.parametrize('status, expected', [
    ({'conditions': [{'type': 'Approved', 'status': 'True'}]}, 'approved'),
    ({'conditions': [{'type': 'Approved', 'status': 'True'}], 'certificate': 'Zm9v'}, 'issued'),
    ({'conditions': [{'type': 'Denied', 'status': 'True'}]}, 'denied'),
    ({'conditions': [{'type': 'Failed', 'status': 'True'}]}, 'failed'),
    ({'conditions': [{'type': 'Approved', 'status': 'False'}]}, 'pending'),
    ({}, 'pending'),
])
def test_state(status, expected):
    assert kc.state(csr(status=status)) == expected
    if expected != 'pending':
        assert 'already ' + expected in refused(csr(status=status))


# --- the plan over a list ------------------------------------------------------------------------------------------

def test_plan_sorts_requests_and_ignores_other_signers():
    items = [
        csr(name='csr-good', created='2026-01-01T00:00:02Z'),
        csr(name='csr-admin', user='kubernetes-admin', groups=('kubeadm:cluster-admins', 'system:authenticated'),
            created='2026-01-01T00:00:01Z'),
        csr(name='csr-client', signer='kubernetes.io/kube-apiserver-client-kubelet'),
        csr(name='csr-old', status={'conditions': [{'type': 'Approved', 'status': 'True'}], 'certificate': 'Zm9v'}),
    ]
    result = kc.plan(items, NODES, ALLOWED)
    assert [e['name'] for e in result['approve']] == ['csr-good']
    assert result['approve'][0]['node'] == 'w1'
    assert result['approve'][0]['sans'] == {'dns': ['w1'], 'ip': ['172.30.95.21']}
    assert [(e['name'], e['node']) for e in result['refuse']] == [('csr-admin', None)]
    assert 'kubernetes-admin is not a node' in result['refuse'][0]['reason']
    assert [(e['name'], e['state']) for e in result['done']] == [('csr-old', 'issued')]


def test_plan_of_nothing():
    assert kc.plan([], NODES, ALLOWED) == {'approve': [], 'refuse': [], 'done': []}


def test_nodes_without_certificate():
    items = [csr(status={'conditions': [{'type': 'Approved', 'status': 'True'}], 'certificate': 'Zm9v'}),
             csr(pem_request(subject(cn='system:node:cp1'), dns=('cp1',), ips=()), user='system:node:cp1')]
    assert kc.nodes_without_certificate(items, ALLOWED) == ['cp1', 'v6']


def test_approval_body_adds_one_approved_condition():
    obj = csr(status={'conditions': [{'type': 'Approved', 'status': 'False'}]})
    body = kc.approved(obj, '2026-01-01T00:00:00Z')
    assert [c['type'] for c in body['status']['conditions']] == ['Approved']
    condition = body['status']['conditions'][0]
    assert condition['status'] == 'True' and condition['reason'] == kc.APPROVAL_REASON
    assert body['metadata']['resourceVersion'] == '7'
    assert obj['status']['conditions'][0]['status'] == 'False'  # the input is not changed


def test_sans_of_a_broken_request_is_empty():
    obj = csr()
    obj['spec']['request'] = 'Zm9v'
    assert kc.sans_of(obj) == {'dns': [], 'ip': []}


def test_node_addresses_ignore_junk():
    names, ips = kc.node_addresses(node('x', ('InternalIP', 'not-an-ip'), ('Hostname', ''), ('Hostname', 'X'), ('Other', '1.2.3.4')))
    assert names == {'x'} and ips == set()
