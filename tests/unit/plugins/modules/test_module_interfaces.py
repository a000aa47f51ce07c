# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

"""Module documentation against argument specs, the shared etcd main() and doc fragments, and meta/runtime.yml routing."""

import datetime
import inspect
import os

import pytest
import yaml

from ansible.module_utils import basic
from ansible_collections.ironstone.k8s.plugins.doc_fragments.etcd import ModuleDocFragment
from ansible_collections.ironstone.k8s.plugins.module_utils.etcd import runner
from ansible_collections.ironstone.k8s.plugins.module_utils.etcd.errors import EtcdError
from ansible_collections.ironstone.k8s.plugins.module_utils.etcd.membership import run_member
from ansible_collections.ironstone.k8s.plugins.module_utils.etcd.snapshot import (
    SNAPSHOT_NAME_PATTERN, apply_retention, expired_snapshots, snapshot_file_name, snapshot_name_re,
)
from ansible_collections.ironstone.k8s.plugins.module_utils.pki import spec as pki_spec
from ansible_collections.ironstone.k8s.plugins.modules import (
    cert_bundle, disk_info, etcd_info, etcd_member, etcd_snapshot, etcd_snapshot_info, gpu_info,
)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
ETCD_MODULES = {'etcd_member': etcd_member, 'etcd_info': etcd_info, 'etcd_snapshot': etcd_snapshot,
                'etcd_snapshot_info': etcd_snapshot_info}


class Captured(Exception):
    pass


def captured_spec(module, monkeypatch):
    """The argument_spec (and keyword arguments) the module's main() gives AnsibleModule."""
    seen = {}

    def fake_init(self, argument_spec, **kwargs):
        seen['spec'] = argument_spec
        seen['kwargs'] = kwargs
        raise Captured()

    monkeypatch.setattr(basic.AnsibleModule, '__init__', fake_init)
    monkeypatch.setattr(runner.AnsibleModule, '__init__', fake_init)
    with pytest.raises(Captured):
        module.main()
    return seen


def documented_options(module):
    doc = yaml.safe_load(module.DOCUMENTATION)
    options = dict(doc.get('options') or {})
    for fragment in doc.get('extends_documentation_fragment') or []:
        if fragment == 'ironstone.k8s.etcd':
            options.update(yaml.safe_load(ModuleDocFragment.DOCUMENTATION)['options'])
    return doc, options


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


@pytest.mark.parametrize('name', sorted(ETCD_MODULES) + ['cert_bundle', 'disk_info', 'gpu_info'])
def test_documentation_matches_argument_spec(name, monkeypatch):
    module = ETCD_MODULES.get(name) or {'cert_bundle': cert_bundle, 'disk_info': disk_info, 'gpu_info': gpu_info}[name]
    _doc, options = documented_options(module)
    compare(captured_spec(module, monkeypatch)['spec'], options, name)


@pytest.mark.parametrize('name', sorted(ETCD_MODULES))
def test_etcd_modules_share_main_and_attributes(name, monkeypatch):
    module = ETCD_MODULES[name]
    seen = captured_spec(module, monkeypatch)
    assert seen['spec'] == runner.module_argument_spec(name)
    assert seen['kwargs']['supports_check_mode'] is True
    talks_to_etcd = 'endpoints' in seen['spec']
    assert ('required_together' in seen['kwargs']) is talks_to_etcd
    doc, _options = documented_options(module)
    assert 'ironstone.k8s.etcd.attributes' in doc['extends_documentation_fragment']
    assert ('ironstone.k8s.etcd' in doc['extends_documentation_fragment']) is talks_to_etcd
    # Only the module-specific details are in the module; support levels come from the fragment.
    for attribute in doc['attributes'].values():
        assert set(attribute) == {'details'}, (name, attribute)
    source = inspect.getsource(module.main)
    assert "run_module('%s')" % name in source


def test_attributes_fragment():
    attributes = yaml.safe_load(ModuleDocFragment.ATTRIBUTES)['attributes']
    assert attributes['check_mode']['support'] == 'full'
    assert attributes['diff_mode']['support'] == 'none'
    assert attributes['platform']['platforms'] == 'posix'


def test_member_refuses_a_negative_wait_timeout_before_any_call():
    with pytest.raises(EtcdError, match='wait_timeout must be 0 or more seconds, not -1'):
        run_member(None, {'name': 'etcd-4', 'peer_urls': ['https://10.0.0.4:2380'], 'wait_timeout': -1})


def test_snapshot_info_result_reports_instead_of_failing_when_asked(tmp_path):
    params = {'path': str(tmp_path / 'missing.db'), 'fail_on_invalid': False}
    result = runner.snapshot_info_result(params)
    assert result['valid'] is False and result['changed'] is False and 'does not exist' in result['msg']
    with pytest.raises(EtcdError) as info:
        runner.snapshot_info_result(dict(params, fail_on_invalid=True))
    assert info.value.details == {'path': params['path'], 'valid': False}


def test_snapshot_name_pattern_is_public_and_matches_what_is_written():
    name = snapshot_file_name('etcd-snapshot', datetime.datetime(2024, 1, 31, 2, 0, 0), 48213)
    assert name == 'etcd-snapshot-20240131T020000Z-rev48213.db'
    assert snapshot_name_re('etcd-snapshot').match(name).groups() == ('20240131T020000Z', '48213')
    assert snapshot_name_re('etcd').match(name) is None  # the prefix is exact
    assert snapshot_name_re('a.b').match('axb-20240131T020000Z-rev1.db') is None
    assert '%s' in SNAPSHOT_NAME_PATTERN


def test_apply_retention_signature_is_stable():
    """Filter plugins import apply_retention from module_utils/etcd/snapshot.py."""
    assert list(inspect.signature(apply_retention).parameters) == ['directory', 'prefix', 'keep', 'check_mode', 'pending']


def test_expired_snapshots_is_pure_and_keeps_the_newest():
    names = ['etcd-snapshot-20240103T000000Z-rev30.db', 'etcd-snapshot-20240101T000000Z-rev10.db', 'notes.txt',
             'etcd-snapshot-20240102T000000Z-rev20.db', 'etcd-snapshot-20240102T000000Z-rev20.db.part', 'other-20240101T000000Z-rev1.db']
    older = ['etcd-snapshot-20240102T000000Z-rev20.db', 'etcd-snapshot-20240101T000000Z-rev10.db']
    assert expired_snapshots(names, 'etcd-snapshot', 1) == older
    assert expired_snapshots(names, 'etcd-snapshot', 3) == []
    pending = 'etcd-snapshot-20240104T000000Z-rev40.db'
    assert expired_snapshots(names, 'etcd-snapshot', 2, pending=pending) == older
    # The pending snapshot is never returned, even when its timestamp is the oldest.
    old_pending = 'etcd-snapshot-20230101T000000Z-rev1.db'
    assert old_pending not in expired_snapshots(names, 'etcd-snapshot', 1, pending=old_pending)
    with pytest.raises(ValueError, match='keep must be 0 or more, not -1'):
        expired_snapshots(names, 'etcd-snapshot', -1)


def test_cert_bundle_argument_spec_defaults_are_the_spec_defaults(tmp_path):
    spec = pki_spec.argument_spec()
    ca_defaults = dict((k, v['default']) for k, v in spec['ca']['options'].items())
    assert ca_defaults == pki_spec.CA_DEFAULTS
    normalized = pki_spec.normalize_spec({'path': str(tmp_path), 'certs': [
        {'name': 'a', 'common_name': 'a', 'usages': ['client_auth']}]})
    assert normalized['ca'] == ca_defaults
    leaf = normalized['certs'][0]
    for key in ('validity_days', 'key_type', 'organization', 'sans'):
        assert spec['certs']['options'][key].get('default') == leaf[key], key
    for key, default in pki_spec.TOP_DEFAULTS.items():
        assert spec[key]['default'] == default == normalized[key], key
    assert spec['certs']['options']['usages']['choices'] == list(pki_spec.USAGES)
    assert spec['ca']['options']['key_type']['choices'] == list(pki_spec.KEY_TYPES)


def test_facts_modules_are_deprecated_redirects_to_info_modules():
    with open(os.path.join(ROOT, 'meta', 'runtime.yml')) as handle:
        routing = yaml.safe_load(handle)['plugin_routing']['modules']
    assert sorted(routing) == ['disk_facts', 'gpu_facts']
    for old, entry in routing.items():
        new = old.replace('_facts', '_info')
        assert entry['redirect'] == 'ironstone.k8s.' + new
        assert entry['deprecation']['removal_version'] == '1.0.0'
        assert 'ironstone.k8s.' + new in entry['deprecation']['warning_text']
        assert os.path.isfile(os.path.join(ROOT, 'plugins', 'modules', new + '.py'))
        assert not os.path.exists(os.path.join(ROOT, 'plugins', 'modules', old + '.py'))
        assert yaml.safe_load({'disk_info': disk_info, 'gpu_info': gpu_info}[new].DOCUMENTATION)['module'] == new
