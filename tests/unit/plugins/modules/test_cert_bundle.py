# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# Unit tests for plugins/modules/cert_bundle.py: argument handling, check mode, diff, warnings and failures
# through a real AnsibleModule. exit_json/fail_json/warn are replaced by stand-ins that raise, so the result dict can
# be inspected; everything else (files, crypto) is real.

import os
import stat

import pytest
import yaml

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.ironstone.k8s.plugins.modules import cert_bundle


class ExitJson(Exception):
    pass


class FailJson(Exception):
    pass


@pytest.fixture(autouse=True)
def stand_in_exits(monkeypatch):
    """Stand-ins for exit_json/fail_json/warn that raise with (or record) the result instead of printing and exiting."""
    warnings = []

    def warn(self, warning, **kwargs):
        warnings.append(warning)

    def exit_json(self, **kwargs):
        kwargs.setdefault('changed', False)
        kwargs['warnings'] = list(warnings)
        del warnings[:]
        raise ExitJson(kwargs)

    def fail_json(self, msg, **kwargs):
        kwargs['msg'] = msg
        raise FailJson(kwargs)

    monkeypatch.setattr(basic.AnsibleModule, 'exit_json', exit_json)
    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', fail_json)
    monkeypatch.setattr(basic.AnsibleModule, 'warn', warn)


def run_module(args):
    with patch_module_args(args):
        with pytest.raises((ExitJson, FailJson)) as caught:
            cert_bundle.main()
    return caught.type is ExitJson, caught.value.args[0]


def module_args(path, **extra):
    args = {
        'path': str(path),
        'certs': [
            {'name': 'node1/server', 'common_name': 'node1', 'sans': ['node1', '10.0.0.11', 'localhost', '127.0.0.1', '::1'],
             'usages': ['server_auth', 'client_auth']},
            {'name': 'apiserver-etcd-client', 'common_name': 'kube-apiserver-etcd-client', 'organization': 'system:masters',
             'usages': ['client_auth']},
        ],
    }
    args.update(extra)
    return args


def test_create_then_unchanged_with_defaults_applied(tmp_path):
    root = tmp_path / 'pki'
    ok, result = run_module(module_args(root))
    assert ok, result
    assert result['changed'] is True
    assert result['ca']['subject'] == 'CN=etcd-ca'
    assert result['ca']['path'] == str(root / 'ca.crt')
    assert 'diff' not in result
    assert stat.S_IMODE(os.stat(str(root / 'node1' / 'server.key')).st_mode) == 0o600

    ok, again = run_module(module_args(root))
    assert ok and again['changed'] is False
    assert [c['serial'] for c in again['certs']] == [c['serial'] for c in result['certs']]


def test_check_mode_and_diff(tmp_path):
    root = tmp_path / 'pki'
    ok, result = run_module(dict(module_args(root), _ansible_check_mode=True, _ansible_diff=True))
    assert ok and result['changed'] is True
    assert not root.exists()
    assert 'ca.crt: absent' in result['diff']['before']
    assert 'PRIVATE KEY' not in str(result)


def test_bad_usage_rejected_by_argument_spec(tmp_path):
    args = module_args(tmp_path / 'pki')
    args['certs'][0]['usages'] = ['code_signing']
    ok, result = run_module(args)
    assert not ok
    assert 'code_signing' in result['msg']
    assert not (tmp_path / 'pki').exists()


def test_traversal_rejected(tmp_path):
    args = module_args(tmp_path / 'pki')
    args['certs'][0]['name'] = '../x'
    ok, result = run_module(args)
    assert not ok
    assert 'escapes the PKI directory' in result['msg']
    assert not (tmp_path / 'pki').exists()


def test_missing_ca_key_fails(tmp_path):
    root = tmp_path / 'pki'
    run_module(module_args(root))
    (root / 'ca.key').unlink()
    ok, result = run_module(module_args(root))
    assert not ok
    assert result['msg'] == 'CA key missing at %s; restore it or set regenerate_ca=true.' % (root / 'ca.key')


def test_expiring_ca_warns(tmp_path):
    root = tmp_path / 'pki'
    run_module(module_args(root, ca={'validity_days': 10}))
    ok, result = run_module(module_args(root, ca={'validity_days': 10}))
    assert ok and result['changed'] is False
    assert any('NOT regenerated' in w for w in result['warnings'])


def test_documentation_matches_argument_spec():
    """Options in DOCUMENTATION mirror the argument_spec (names, types, defaults, choices, required)."""
    captured = {}

    def fake_init(self, argument_spec, **kwargs):
        captured['spec'] = argument_spec
        raise ExitJson({})

    doc = yaml.safe_load(cert_bundle.DOCUMENTATION)['options']
    original = basic.AnsibleModule.__init__
    try:
        basic.AnsibleModule.__init__ = fake_init
        with pytest.raises(ExitJson):
            cert_bundle.main()
    finally:
        basic.AnsibleModule.__init__ = original

    def compare(spec, docs, where):
        assert sorted(spec) == sorted(docs), where
        for name, arg in spec.items():
            entry = docs[name]
            assert entry['type'] == arg['type'], (where, name)
            assert entry.get('default') == arg.get('default'), (where, name)
            assert entry.get('required', False) == arg.get('required', False), (where, name)
            assert entry.get('choices') == arg.get('choices'), (where, name)
            assert entry.get('elements') == arg.get('elements'), (where, name)
            if 'options' in arg:
                compare(arg['options'], entry['suboptions'], where + '.' + name)

    compare(captured['spec'], doc, 'options')
