# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE)
"""kubelet_serving_csr: its documentation against its argument spec, and run() against an in-memory API
(the client's API classes replaced; the decisions are module_utils/kubelet_csr's, tested on their own)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import copy
import json

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible.module_utils import basic
from ansible_collections.ironstone.k8s.plugins.modules import kubelet_serving_csr as mod

KEY = ec.generate_private_key(ec.SECP256R1())


def request(node, ip):
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'system:nodes'),
                      x509.NameAttribute(NameOID.COMMON_NAME, 'system:node:' + node)])
    import ipaddress  # pylint: disable=import-outside-toplevel
    csr = (x509.CertificateSigningRequestBuilder().subject_name(name)
           .add_extension(x509.SubjectAlternativeName([x509.DNSName(node), x509.IPAddress(ipaddress.ip_address(ip))]), critical=False)
           .sign(KEY, hashes.SHA256()))
    return base64.b64encode(csr.public_bytes(serialization.Encoding.PEM)).decode()


def csr_obj(name, user, node, ip, signer='kubernetes.io/kubelet-serving'):
    return {'metadata': {'name': name, 'resourceVersion': '1'},
            'spec': {'request': request(node, ip), 'signerName': signer, 'usages': ['digital signature', 'server auth'],
                     'username': user, 'groups': ['system:nodes', 'system:authenticated']},
            'status': {}}


class Response(object):
    def __init__(self, obj):
        self.data = json.dumps(obj).encode()


class FakeApiException(Exception):
    def __init__(self, status, reason='', body=''):
        super(FakeApiException, self).__init__(status)
        self.status, self.reason, self.body = status, reason, body


class Cluster(object):
    def __init__(self, csrs, nodes, conflict_once=()):
        self.csrs = dict((c['metadata']['name'], c) for c in csrs)
        self.nodes = nodes
        self.approvals = []
        self.conflict_once = set(conflict_once)
        self.version = {'gitVersion': 'v1.36.4', 'standIn': 'STAND-IN'}


@pytest.fixture(name='cluster')
def fixture_cluster(monkeypatch):
    state = {}

    class Certificates(object):
        def __init__(self, api):
            self.c = api

        def list_certificate_signing_request(self, _preload_content=True):
            return Response({'items': list(self.c.csrs.values())})

        def read_certificate_signing_request(self, name, _preload_content=True):
            if name not in self.c.csrs:
                raise FakeApiException(404, 'Not Found')
            return Response(self.c.csrs[name])

        def replace_certificate_signing_request_approval(self, name, body, _preload_content=True):
            if name in self.c.conflict_once:
                self.c.conflict_once.discard(name)
                self.c.csrs[name]['metadata']['resourceVersion'] = '2'
                raise FakeApiException(409, 'Conflict')
            assert body['metadata']['resourceVersion'] == self.c.csrs[name]['metadata']['resourceVersion']
            self.c.approvals.append(name)
            self.c.csrs[name] = copy.deepcopy(body)
            return Response(body)

    class Core(object):
        def __init__(self, api):
            self.c = api

        def list_node(self, _preload_content=True):
            return Response({'items': self.c.nodes})

    class Version(object):
        def __init__(self, api):
            self.c = api

        def get_code(self, _preload_content=True):
            return Response(self.c.version)

    monkeypatch.setattr(mod.k8s_client, 'CertificatesV1Api', Certificates)
    monkeypatch.setattr(mod.k8s_client, 'CoreV1Api', Core)
    monkeypatch.setattr(mod.k8s_client, 'VersionApi', Version)
    monkeypatch.setattr(mod, 'ApiException', FakeApiException)
    return state


class Module(object):
    def __init__(self, nodes, check_mode=False):
        self.params = {'nodes': nodes, 'kubeconfig': '/k', 'context': None}
        self.check_mode = check_mode


NODES = [{'metadata': {'name': n}, 'status': {'addresses': [{'type': 'InternalIP', 'address': ip}, {'type': 'Hostname', 'address': n}]}}
         for n, ip in (('cp1', '10.0.0.11'), ('w1', '10.0.0.21'))]


def test_approves_the_nodes_and_refuses_the_forged(cluster):  # pylint: disable=unused-argument
    api = Cluster([csr_obj('csr-cp1', 'system:node:cp1', 'cp1', '10.0.0.11'),
                   csr_obj('csr-w1', 'system:node:w1', 'w1', '10.0.0.21'),
                   csr_obj('csr-forged', 'system:node:w1', 'w1', '10.0.0.99'),
                   csr_obj('csr-client', 'system:node:w1', 'w1', '10.0.0.21', signer='kubernetes.io/kube-apiserver-client-kubelet')],
                  NODES)
    result = mod.run(Module(['cp1', 'w1']), api)
    assert result['changed'] is True
    assert sorted(e['name'] for e in result['approved']) == ['csr-cp1', 'csr-w1']
    assert sorted(api.approvals) == ['csr-cp1', 'csr-w1']
    assert [e['name'] for e in result['refused']] == ['csr-forged']
    assert '10.0.0.99' in result['refused'][0]['reason']
    assert result['nodes_without_certificate'] == []
    assert result['api_server'] == {'git_version': 'v1.36.4', 'standin': True}
    approved = api.csrs['csr-w1']['status']['conditions']
    assert [(c['type'], c['status']) for c in approved] == [('Approved', 'True')]

    again = mod.run(Module(['cp1', 'w1']), api)
    assert again['changed'] is False and again['approved'] == []
    assert [e['name'] for e in again['refused']] == ['csr-forged']
    assert sorted((e['name'], e['state']) for e in again['done']) == [('csr-cp1', 'approved'), ('csr-w1', 'approved')]


def test_check_mode_reports_and_approves_nothing(cluster):  # pylint: disable=unused-argument
    api = Cluster([csr_obj('csr-w1', 'system:node:w1', 'w1', '10.0.0.21')], NODES)
    api.version = {'gitVersion': 'v1.36.4'}
    result = mod.run(Module(['cp1', 'w1'], check_mode=True), api)
    assert result['changed'] is True and [e['name'] for e in result['approved']] == ['csr-w1']
    assert api.approvals == [] and api.csrs['csr-w1']['status'] == {}
    assert result['nodes_without_certificate'] == ['cp1']
    assert result['api_server']['standin'] is False


def test_a_conflict_is_decided_again(cluster):  # pylint: disable=unused-argument
    api = Cluster([csr_obj('csr-w1', 'system:node:w1', 'w1', '10.0.0.21')], NODES, conflict_once=['csr-w1'])
    result = mod.run(Module(['w1']), api)
    assert api.approvals == ['csr-w1'] and result['changed'] is True


def test_nothing_pending_changes_nothing(cluster):  # pylint: disable=unused-argument
    result = mod.run(Module(['w1']), Cluster([], NODES))
    assert result['changed'] is False
    assert result['nodes_without_certificate'] == ['w1']


def test_documentation_matches_argument_spec(monkeypatch):
    seen = {}

    class Captured(Exception):
        pass

    def fake_init(self, argument_spec, **kwargs):
        seen['spec'], seen['kwargs'] = argument_spec, kwargs
        raise Captured()

    monkeypatch.setattr(basic.AnsibleModule, '__init__', fake_init)
    with pytest.raises(Captured):
        mod.main()
    options = yaml.safe_load(mod.DOCUMENTATION)['options']
    assert sorted(options) == sorted(seen['spec'])
    for name, arg in seen['spec'].items():
        assert options[name]['type'] == arg['type']
        assert options[name].get('required', False) == arg.get('required', False)
        assert options[name].get('elements') == arg.get('elements')
    assert seen['kwargs'] == {'supports_check_mode': True}
    yaml.safe_load(mod.EXAMPLES)
    yaml.safe_load(mod.RETURN)


def test_api_errors_are_worded():
    exc = FakeApiException(403, 'Forbidden', json.dumps({'message': 'csr is forbidden'}))
    assert mod._api_error(exc, 'approve') == 'The API server refused to approve: 403 Forbidden: csr is forbidden'  # pylint: disable=protected-access
