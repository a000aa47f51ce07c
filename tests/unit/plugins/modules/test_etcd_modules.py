# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

"""Run the etcd_member, etcd_info, etcd_snapshot and etcd_snapshot_info modules end to end.

The modules talk to tests/unit/etcd_standin.py, a STAND-IN for etcd's JSON
gateway (in-process http.server over mutual TLS), not to real etcd.  These
tests check argument handling, check mode and the JSON the modules print.
"""

import json
import os
import sys

import pytest

from ansible.module_utils.testing import patch_module_args
from ansible_collections.ironstone.k8s.plugins.module_utils.etcd import membership
from ansible_collections.ironstone.k8s.plugins.modules import etcd_info, etcd_member, etcd_snapshot, etcd_snapshot_info

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..')))
import etcd_standin as S  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture(scope='module')
def pki(tmp_path_factory):
    pytest.importorskip('cryptography')
    return S.make_pki(str(tmp_path_factory.mktemp('pki')))


@pytest.fixture
def standin(pki):
    cluster, servers = S.start_cluster(['etcd-1', 'etcd-2', 'etcd-3'], pki)
    yield cluster, servers
    for server in servers.values():
        server.stop()


def run(module, args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as info:
            module.main()
    out = json.loads(capsys.readouterr().out)
    out['_rc'] = info.value.code
    return out


def conn(pki, servers, names=('etcd-1', 'etcd-2', 'etcd-3')):
    return {'endpoints': [servers[n].url for n in names], 'ca_file': pki['ca_cert'], 'cert_file': pki['client_cert'],
            'key_file': pki['client_key'], 'timeout': 3}


def test_member_two_call_join_flow(pki, standin, capsys, monkeypatch):
    cluster, servers = standin
    monkeypatch.setattr(membership, 'PROMOTE_RETRY_INTERVAL', 0.01)
    args = dict(conn(pki, servers), name='etcd-4', peer_urls=['https://10.9.0.4:2380'])

    checked = run(etcd_member, dict(args, _ansible_check_mode=True), capsys)
    assert checked['_rc'] == 0 and checked['changed'] is True and checked['action'] == 'add'
    assert len(cluster.members) == 3

    added = run(etcd_member, args, capsys)
    assert added['_rc'] == 0 and added['changed'] is True and added['action'] == 'add'
    assert added['initial_cluster_state'] == 'existing' and added['initial_cluster'].endswith(',etcd-4=https://10.9.0.4:2380')
    new_id = int(added['member']['id_decimal'])

    cluster.start_member(new_id, 'etcd-4', ['https://10.9.0.4:2379'])
    cluster.promote_not_ready = 2
    promoted = run(etcd_member, dict(args, wait_timeout=30), capsys)
    assert promoted['_rc'] == 0 and promoted['changed'] is True and promoted['action'] == 'promote'
    assert promoted['attempts'] == 3 and promoted['member']['is_learner'] is False

    again = run(etcd_member, args, capsys)
    assert again['changed'] is False and again['action'] == 'none'


def test_member_refusal_is_a_failure_with_members(pki, standin, capsys):
    _cluster, servers = standin
    out = run(etcd_member, dict(conn(pki, servers), name='etcd-2', peer_urls=['https://10.9.9.9:2380']), capsys)
    assert out['_rc'] == 1 and out['failed'] is True
    assert out['msg'].startswith('etcd member etcd-2 (id ') and 'remove it first' in out['msg']
    assert [m['name'] for m in out['members']] == ['etcd-1', 'etcd-2', 'etcd-3']


def test_member_absent_must_exist(pki, standin, capsys):
    _cluster, servers = standin
    out = run(etcd_member, dict(conn(pki, servers), name='etcd-1x', state='absent'), capsys)
    assert out['_rc'] == 0 and out['changed'] is False and out['found'] is False
    out = run(etcd_member, dict(conn(pki, servers), name='etcd-1x', state='absent', must_exist=True), capsys)
    assert out['_rc'] == 1 and out['msg'] == 'no etcd member named etcd-1x; members are: etcd-1, etcd-2, etcd-3'


def test_member_argument_rules(pki, standin, capsys):
    _cluster, servers = standin
    out = run(etcd_member, dict(conn(pki, servers), name='etcd-4'), capsys)
    assert out['_rc'] == 1 and 'peer_urls' in out['msg']
    out = run(etcd_member, dict(conn(pki, servers), state='absent'), capsys)
    assert out['_rc'] == 1 and 'name, id' in out['msg']
    out = run(etcd_member, dict(conn(pki, servers), state='absent', id='not-an-id'), capsys)
    assert out['_rc'] == 1 and 'neither hex' in out['msg']
    args = conn(pki, servers)
    del args['key_file']
    out = run(etcd_member, dict(args, state='absent', name='x'), capsys)
    assert out['_rc'] == 1 and 'cert_file' in out['msg'] and 'key_file' in out['msg']


def test_info_module(pki, standin, capsys):
    _cluster, servers = standin
    args = conn(pki, servers)
    args['endpoints'] = [S.dead_endpoint()] + args['endpoints']
    out = run(etcd_info, args, capsys)
    assert out['_rc'] == 0 and out['changed'] is False and out['healthy'] is False
    assert [e['healthy'] for e in out['endpoints']] == [False, True, True, True]
    assert out['leader']['name'] == 'etcd-1' and out['quorum']['ok'] is True
    del args['endpoints'][0]
    out = run(etcd_info, args, capsys)
    assert out['healthy'] is True and out['alarms'] == []


def test_info_module_unreachable(pki, capsys):
    args = {'endpoints': [S.dead_endpoint()], 'ca_file': pki['ca_cert'], 'timeout': 2}
    out = run(etcd_info, args, capsys)
    assert out['_rc'] == 1 and out['msg'].startswith('no etcd endpoint is reachable')
    out = run(etcd_info, dict(args, fail_on_unreachable=False), capsys)
    assert out['_rc'] == 0 and out['healthy'] is False


def test_snapshot_module(pki, standin, capsys, tmp_path):
    _cluster, servers = standin
    args = dict(conn(pki, servers), dest_dir=str(tmp_path), keep=1)
    checked = run(etcd_snapshot, dict(args, _ansible_check_mode=True), capsys)
    assert checked['_rc'] == 0 and checked['changed'] is True and os.listdir(str(tmp_path)) == []
    out = run(etcd_snapshot, args, capsys)
    assert out['_rc'] == 0 and out['changed'] is True and out['deleted'] == []
    assert os.listdir(str(tmp_path)) == [os.path.basename(out['path'])]
    assert out['endpoint'] == servers['etcd-1'].url and out['size'] % 512 == 32


def test_snapshot_module_corrupt(pki, standin, capsys, tmp_path):
    cluster, servers = standin
    cluster.corrupt_snapshot = True
    out = run(etcd_snapshot, dict(conn(pki, servers), dest_dir=str(tmp_path)), capsys)
    assert out['_rc'] == 1 and 'is corrupt' in out['msg']
    assert os.listdir(str(tmp_path)) == []


def test_snapshot_info_module_checks_a_snapshot_taken_by_etcd_snapshot(pki, standin, capsys, tmp_path):
    _cluster, servers = standin
    taken = run(etcd_snapshot, dict(conn(pki, servers), dest_dir=str(tmp_path)), capsys)
    checked = run(etcd_snapshot_info, {'path': taken['path'], '_ansible_check_mode': True}, capsys)
    assert checked['_rc'] == 0 and checked['changed'] is False and checked['valid'] is True
    assert (checked['size'], checked['sha256'], checked['db_sha256']) == (taken['size'], taken['sha256'], taken['db_sha256'])
    assert checked['revision'] == taken['revision']


def test_snapshot_info_module_refuses_a_damaged_snapshot(pki, standin, capsys, tmp_path):
    _cluster, servers = standin
    taken = run(etcd_snapshot, dict(conn(pki, servers), dest_dir=str(tmp_path)), capsys)
    with open(taken['path'], 'r+b') as handle:
        handle.seek(100)
        byte = handle.read(1)
        handle.seek(100)
        handle.write(bytes([byte[0] ^ 0xff]))
    out = run(etcd_snapshot_info, {'path': taken['path']}, capsys)
    assert out['_rc'] == 1 and out['valid'] is False
    assert out['msg'].startswith('snapshot file %s is corrupt: the sha256 of its database is ' % taken['path'])
    out = run(etcd_snapshot_info, {'path': taken['path'], 'fail_on_invalid': False}, capsys)
    assert out['_rc'] == 0 and out['valid'] is False and out['sha256'] is None and 'is corrupt' in out['msg']


def test_snapshot_info_module_missing_file_and_directory(capsys, tmp_path):
    out = run(etcd_snapshot_info, {'path': str(tmp_path / 'absent.db')}, capsys)
    assert out['_rc'] == 1 and 'does not exist' in out['msg']
    out = run(etcd_snapshot_info, {'path': str(tmp_path)}, capsys)
    assert out['_rc'] == 1 and 'is a directory' in out['msg']
