# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# The steps of cert_bundle's run() one at a time (module_utils/pki/plan.py,
# apply.py, report.py), on real files in tmp_path with real cryptography.

import datetime
import errno
import os

import pytest

pytest.importorskip('cryptography')

from ansible_collections.ironstone.k8s.plugins.module_utils.pki import apply as pki_apply  # noqa: E402
from ansible_collections.ironstone.k8s.plugins.module_utils.pki import report  # noqa: E402
from ansible_collections.ironstone.k8s.plugins.module_utils.pki.plan import plan_bundle  # noqa: E402
from ansible_collections.ironstone.k8s.plugins.module_utils.pki.spec import PkiError, normalize_spec  # noqa: E402

NOW = datetime.datetime(2025, 6, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)


def spec_for(path, **extra):
    params = {'path': str(path), 'certs': [{'name': 'node1/server', 'common_name': 'node1', 'sans': ['10.0.0.1'],
                                            'usages': ['server_auth']}]}
    params.update(extra)
    return normalize_spec(params)


def test_plan_on_an_empty_directory_reads_only(tmp_path):
    base = tmp_path / 'pki'
    warnings = []
    todo = plan_bundle(spec_for(base), NOW, warnings)
    assert not base.exists()
    assert todo['dir_changes'] == [str(base), str(base / 'node1')]
    assert todo['ca']['action'] == 'created'
    assert [(p['leaf']['name'], p['action'], p['new_key']) for p in todo['leaves']] == [('node1/server', 'created', True)]
    assert warnings == []


def test_plan_warns_about_a_leaf_renewed_on_every_run(tmp_path):
    spec = spec_for(tmp_path, renew_before_days=400)
    warnings = []
    plan_bundle(spec, NOW, warnings)
    assert len(warnings) == 1 and 'renewed on every run' in warnings[0]


def test_check_mode_steps_write_nothing_and_predict(tmp_path):
    spec = spec_for(tmp_path / 'pki')
    todo = plan_bundle(spec, NOW, [])
    ca_cert, ca_key = pki_apply.apply_ca(spec, todo['ca'], True, NOW)
    assert (ca_cert, ca_key) == (None, None)
    bundle, changed = pki_apply.apply_bundle(spec, todo['ca'], ca_cert, True, NOW)
    assert bundle == [None] and changed is True
    cert, key_fp = pki_apply.apply_leaf(todo['leaves'][0], ca_cert, ca_key, True, NOW)
    assert (cert, key_fp) == (None, None)
    entry = report.leaf_result(spec, todo['leaves'][0], cert, NOW)
    assert entry['serial'] is None and entry['not_after'] == '2026-06-01T12:00:00Z' and entry['reason'] == 'certificate and key missing'
    before, after = report.ca_lines(spec, todo['ca'], ca_cert, ca_key, NOW)
    assert before == ['ca.crt: absent', 'ca.key: absent']
    assert after[0].startswith('ca.crt: subject=CN=etcd-ca; notAfter=~2035-05-30T12:00:00Z; serial=(new)')
    assert after[1] == 'ca.key: ecdsa-p256 private key (new)'
    assert not (tmp_path / 'pki').exists()


def test_apply_steps_write_what_the_plan_says(tmp_path):
    spec = spec_for(tmp_path / 'pki')
    todo = plan_bundle(spec, NOW, [])
    for directory in todo['dir_changes']:
        pki_apply._ensure_dir(directory)  # pylint: disable=protected-access
    ca_cert, ca_key = pki_apply.apply_ca(spec, todo['ca'], False, NOW)
    bundle, changed = pki_apply.apply_bundle(spec, todo['ca'], ca_cert, False, NOW)
    assert changed and len(bundle) == 1
    cert, key_fp = pki_apply.apply_leaf(todo['leaves'][0], ca_cert, ca_key, False, NOW)
    assert cert.issuer == ca_cert.subject and key_fp
    assert sorted(os.listdir(str(tmp_path / 'pki'))) == ['ca-bundle.crt', 'ca.crt', 'ca.key', 'node1']
    again = plan_bundle(spec, NOW, [])
    assert again['dir_changes'] == [] and again['ca']['action'] == 'unchanged'
    assert again['leaves'][0]['action'] == 'unchanged'
    assert pki_apply.apply_bundle(spec, again['ca'], again['ca']['cert'], False, NOW)[1] is False


def test_a_failed_write_is_a_pki_error(tmp_path, monkeypatch):
    def full_disk(path, data, mode):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)

    monkeypatch.setattr(pki_apply, 'atomic_write', full_disk)
    with pytest.raises(PkiError, match=r'Cannot write .*ca\.key: No space left on device; check the directory permissions and free space\.'):
        pki_apply.run({'path': str(tmp_path / 'pki')})
