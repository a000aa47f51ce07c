# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

"""Tests for plugins/module_utils/etcd/ (members, snapshot, client, membership, runner).

The pure logic (quorum, member IDs, exact matching, plan_member, retention,
snapshot verification) is tested on hand-written gateway samples in
tests/unit/fixtures/etcd (stand-ins, see its README).  EtcdClient is tested
against tests/unit/etcd_standin.py, a STAND-IN for etcd's JSON gateway (an
in-process http.server over mutual TLS with certificates made here), not
against real etcd; Molecule covers real etcd.
"""

import datetime
import hashlib
import json
import os
import stat
import sys

import pytest

from ansible_collections.ironstone.k8s.plugins.module_utils.etcd.client import EtcdClient, normalize_endpoint
from ansible_collections.ironstone.k8s.plugins.module_utils.etcd.errors import (
    EtcdError,
    EtcdRefusedError,
    EtcdUnreachableError,
    SnapshotVerificationError,
)
from ansible_collections.ironstone.k8s.plugins.module_utils.etcd.members import (
    build_initial_cluster,
    find_members_by_id,
    format_member_id,
    normalize_member,
    parse_member_id,
    plan_member,
    public_member,
    quorum,
)
from ansible_collections.ironstone.k8s.plugins.module_utils.etcd.membership import run_member
from ansible_collections.ironstone.k8s.plugins.module_utils.etcd.runner import run_info, run_snapshot, run_snapshot_info
from ansible_collections.ironstone.k8s.plugins.module_utils.etcd.snapshot import apply_retention, snapshot_file_name, verify_snapshot_file

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..')))
import etcd_standin as S  # noqa: E402  pylint: disable=wrong-import-position

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', 'fixtures', 'etcd')


def load(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return json.load(handle)


def members_of(name):
    return [normalize_member(m) for m in load(name)['members']]


def by_name(members, name):
    return [m for m in members if m['name'] == name][0]


ETCD1 = 10276657743932975437  # 8e9e05c52164694d
ETCD2 = 9372538179322589801
ETCD3 = 10501334649042878790
LEARNER = 1609593391218120813


# --------------------------------------------------------------------------
# quorum and IDs
# --------------------------------------------------------------------------

@pytest.mark.parametrize('size,needed', [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (6, 4), (7, 4)])
def test_quorum(size, needed):
    assert quorum(size) == needed


def test_parse_member_id_hex_and_decimal_forms():
    assert parse_member_id('8e9e05c52164694d') == [ETCD1]
    assert parse_member_id('8E9E05C52164694D') == [ETCD1]
    assert parse_member_id('0x8e9e05c52164694d') == [ETCD1]
    assert parse_member_id(' 10276657743932975437 ') == [ETCD1]  # 20 digits: decimal only
    assert parse_member_id(ETCD1) == [ETCD1]


def test_parse_member_id_short_digits_are_both_readings():
    assert parse_member_id('12') == [12, 0x12]


@pytest.mark.parametrize('bad', ['', 'xyz', '0', '0x', '-5', '0x1' + '0' * 16, True, 'etcd-1'])
def test_parse_member_id_rejects(bad):
    with pytest.raises(ValueError):
        parse_member_id(bad)


def test_format_member_id():
    assert format_member_id(ETCD1) == ('8e9e05c52164694d', '10276657743932975437')
    assert format_member_id('255') == ('ff', '255')


def test_normalize_member_from_gateway_sample():
    members = members_of('member_list_pending_learner.json')
    assert [m['name'] for m in members] == ['etcd-1', 'etcd-2', 'etcd-3', '']
    first = members[0]
    assert first['id'] == '8e9e05c52164694d' and first['id_decimal'] == '10276657743932975437'
    assert first['is_learner'] is False and first['started'] is True
    pending = members[3]
    assert pending['is_learner'] is True and pending['started'] is False and pending['client_urls'] == []
    assert 'id_int' not in public_member(pending)


def test_find_members_by_id_in_both_forms():
    members = members_of('member_list_3.json')
    assert [m['name'] for m in find_members_by_id(members, '8e9e05c52164694d')] == ['etcd-1']
    assert [m['name'] for m in find_members_by_id(members, str(ETCD2))] == ['etcd-2']
    assert find_members_by_id(members, 'abcdef') == []


# --------------------------------------------------------------------------
# plan_member: present
# --------------------------------------------------------------------------

def test_present_existing_voter_is_noop():
    plan = plan_member(members_of('member_list_3.json'), 'etcd-2', ['https://10.0.0.12:2380/'])
    assert plan['action'] == 'none' and plan['member']['id_int'] == ETCD2


def test_present_missing_member_is_added():
    plan = plan_member(members_of('member_list_3.json'), 'etcd-4', ['https://10.0.0.14:2380'])
    assert plan['action'] == 'add' and plan['found'] is False


def test_present_unstarted_member_is_pending_start():
    plan = plan_member(members_of('member_list_pending_learner.json'), 'etcd-4', ['https://10.0.0.14:2380'])
    assert plan['action'] == 'pending_start'
    assert plan['member']['id_int'] == LEARNER


def test_present_started_learner_is_promoted():
    plan = plan_member(members_of('member_list_started_learner.json'), 'etcd-4', ['https://10.0.0.14:2380'])
    assert plan['action'] == 'promote' and plan['member']['id_int'] == LEARNER


def test_present_other_peer_urls_refused():
    plan = plan_member(members_of('member_list_3.json'), 'etcd-2', ['https://10.0.0.99:2380'])
    assert plan['action'] == 'refuse'
    assert 'https://10.0.0.12:2380' in plan['reason'] and 'remove it first' in plan['reason']


def test_present_peer_url_of_another_member_refused():
    plan = plan_member(members_of('member_list_3.json'), 'etcd-9', ['https://10.0.0.12:2380'])
    assert plan['action'] == 'refuse' and 'etcd-2' in plan['reason']


def test_present_add_refused_while_other_member_pending():
    plan = plan_member(members_of('member_list_pending_learner.json'), 'etcd-5', ['https://10.0.0.15:2380'])
    assert plan['action'] == 'refuse'
    assert 'finish or remove pending member %x first' % LEARNER in plan['reason']


def test_present_add_refused_while_started_learner_pending():
    plan = plan_member(members_of('member_list_started_learner.json'), 'etcd-5', ['https://10.0.0.15:2380'])
    assert plan['action'] == 'refuse' and 'finish or remove pending member etcd-4 first' in plan['reason']


def test_present_unstarted_with_overlapping_urls_refused():
    members = members_of('member_list_pending_learner.json')
    plan = plan_member(members, 'etcd-4', ['https://10.0.0.14:2380', 'https://10.0.0.24:2380'])
    assert plan['action'] == 'refuse' and 'overlapping' in plan['reason']


def test_present_needs_name_and_urls():
    with pytest.raises(ValueError):
        plan_member([], 'etcd-1', [])


def test_initial_cluster_names_the_new_member():
    members = members_of('member_list_pending_learner.json')
    assert build_initial_cluster(members, 'etcd-4', ['https://10.0.0.14:2380']) == (
        'etcd-1=https://10.0.0.11:2380,etcd-2=https://10.0.0.12:2380,etcd-3=https://10.0.0.13:2380,etcd-4=https://10.0.0.14:2380')
    # before the add (check mode) the new member is appended
    assert build_initial_cluster(members_of('member_list_3.json'), 'etcd-4', ['https://10.0.0.14:2380']).endswith(
        ',etcd-4=https://10.0.0.14:2380')


# --------------------------------------------------------------------------
# plan_member: absent
# --------------------------------------------------------------------------

ALL_HEALTHY = {ETCD1: True, ETCD2: True, ETCD3: True}


@pytest.mark.parametrize('name', ['etcd-1', 'etcd', 'etcd-', '1', 'etcd-1 '])
def test_absent_name_is_exact_never_substring(name):
    members = members_of('member_list_names.json')  # etcd-10, etcd-1b, xetcd-1
    plan = plan_member(members, name=name, state='absent', healthy={11: True, 12: True, 13: True})
    assert plan['action'] == 'none' and plan['found'] is False


def test_absent_exact_name_found_among_similar_names():
    members = members_of('member_list_names.json')
    plan = plan_member(members, name='etcd-10', state='absent', healthy={11: True, 12: True, 13: True})
    assert plan['action'] == 'remove' and plan['member']['name'] == 'etcd-10'


def test_absent_must_exist_lists_members():
    plan = plan_member(members_of('member_list_names.json'), name='etcd-1', state='absent', must_exist=True)
    assert plan['action'] == 'refuse'
    assert plan['reason'] == 'no etcd member named etcd-1; members are: etcd-10, etcd-1b, xetcd-1'


@pytest.mark.parametrize('member_id', ['8e9e05c52164694d', '0x8e9e05c52164694d', '10276657743932975437'])
def test_absent_by_id_in_either_form(member_id):
    plan = plan_member(members_of('member_list_3.json'), state='absent', member_id=member_id, healthy=ALL_HEALTHY)
    assert plan['action'] == 'remove' and plan['member']['name'] == 'etcd-1'


def test_absent_ambiguous_short_id_refused():
    members = [normalize_member({'ID': '12', 'name': 'a'}), normalize_member({'ID': '18', 'name': 'b'})]  # 0x12 == 18
    plan = plan_member(members, state='absent', member_id='12', healthy={12: True, 18: True})
    assert plan['action'] == 'refuse' and 'ambiguous' in plan['reason']


def test_absent_name_and_id_must_agree():
    plan = plan_member(members_of('member_list_3.json'), name='etcd-2', state='absent', member_id='8e9e05c52164694d',
                       healthy=ALL_HEALTHY)
    assert plan['action'] == 'refuse' and 'belongs to member etcd-1' in plan['reason']


def test_absent_unstarted_member_found_by_peer_urls():
    plan = plan_member(members_of('member_list_pending_learner.json'), name='etcd-4', peer_urls=['https://10.0.0.14:2380'],
                       state='absent')
    assert plan['action'] == 'remove' and plan['member']['id_int'] == LEARNER


def test_absent_learner_removal_ignores_health():
    plan = plan_member(members_of('member_list_started_learner.json'), name='etcd-4', state='absent', healthy={})
    assert plan['action'] == 'remove'


def test_absent_healthy_three_member_cluster_allows_removal():
    plan = plan_member(members_of('member_list_3.json'), name='etcd-3', state='absent', healthy=ALL_HEALTHY)
    assert plan['action'] == 'remove'


def test_absent_refused_when_remaining_would_lack_quorum():
    # etcd-2 is down; removing healthy etcd-3 leaves etcd-1 (healthy) + etcd-2 (down): 1 of 2, quorum 2
    plan = plan_member(members_of('member_list_3.json'), name='etcd-3', state='absent', healthy={ETCD1: True, ETCD3: True})
    assert plan['action'] == 'refuse'
    assert 'afterwards 1 of 2 voting members would be healthy but quorum needs 2' in plan['reason'] and 'etcd-2' in plan['reason']


def test_absent_removing_the_dead_member_is_allowed():
    plan = plan_member(members_of('member_list_3.json'), name='etcd-2', state='absent', healthy={ETCD1: True, ETCD3: True})
    assert plan['action'] == 'remove'


def test_absent_refused_without_current_quorum():
    members = members_of('member_list_3.json') + [normalize_member({'ID': '77', 'name': 'etcd-x', 'peerURLs': ['https://x:2380']})]
    # 4 voters, only etcd-1 and etcd-2 healthy: 2 < quorum(4)=3 now, although 2 >= quorum(3)=2 after removing dead etcd-x
    plan = plan_member(members, name='etcd-x', state='absent', healthy={ETCD1: True, ETCD2: True})
    assert plan['action'] == 'refuse' and 'no quorum now' in plan['reason']


def test_absent_two_members_one_left_is_allowed():
    members = members_of('member_list_3.json')[:2]
    assert plan_member(members, name='etcd-2', state='absent', healthy={ETCD1: True, ETCD2: True})['action'] == 'remove'


def test_absent_last_member_refused():
    members = members_of('member_list_3.json')[:1]
    plan = plan_member(members, name='etcd-1', state='absent', healthy={ETCD1: True})
    assert plan['action'] == 'refuse' and 'last member' in plan['reason']


def test_absent_last_voter_with_learner_refused():
    members = members_of('member_list_started_learner.json')
    members = [members[0], members[3]]
    plan = plan_member(members, name='etcd-1', state='absent', healthy={ETCD1: True, LEARNER: True})
    assert plan['action'] == 'refuse' and 'last voting member' in plan['reason']


# --------------------------------------------------------------------------
# snapshots: verification and retention
# --------------------------------------------------------------------------

def craft_snapshot(path, pages=2, corrupt=False, truncate=0):
    db = bytes((i * 7 + 3) % 256 for i in range(pages * 4096))
    data = db + hashlib.sha256(db).digest()
    if corrupt:
        data = data[:10] + bytes([data[10] ^ 1]) + data[11:]
    if truncate:
        data = data[:-truncate]
    with open(path, 'wb') as handle:
        handle.write(data)
    return data


def test_verify_snapshot_file_good(tmp_path):
    path = str(tmp_path / 'good.db')
    data = craft_snapshot(path)
    info = verify_snapshot_file(path, chunk_size=1000)  # chunks that split the trailer
    assert info == {'size': len(data), 'sha256': hashlib.sha256(data).hexdigest(), 'db_sha256': data[-32:].hex()}


def test_verify_snapshot_file_corrupt(tmp_path):
    path = str(tmp_path / 'bad.db')
    craft_snapshot(path, corrupt=True)
    with pytest.raises(SnapshotVerificationError, match='is corrupt'):
        verify_snapshot_file(path)


def test_verify_snapshot_file_truncated(tmp_path):
    path = str(tmp_path / 'short.db')
    craft_snapshot(path, truncate=1)
    with pytest.raises(SnapshotVerificationError, match='size mod 512 is 31'):
        verify_snapshot_file(path)


def test_verify_snapshot_file_tiny_and_missing(tmp_path):
    path = str(tmp_path / 'tiny.db')
    with open(path, 'wb') as handle:
        handle.write(b'x' * 32)
    with pytest.raises(SnapshotVerificationError, match='too short'):
        verify_snapshot_file(path)
    with pytest.raises(SnapshotVerificationError, match='cannot read'):
        verify_snapshot_file(str(tmp_path / 'absent.db'))


def test_snapshot_file_name_is_utc():
    when = datetime.datetime(2024, 1, 31, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))
    assert snapshot_file_name('etcd-snapshot', when, 42) == 'etcd-snapshot-20240131T020405Z-rev42.db'


def _touch(directory, name):
    with open(os.path.join(directory, name), 'w') as handle:
        handle.write('x')


SNAPS = ['etcd-snapshot-20240101T000000Z-rev10.db', 'etcd-snapshot-20240102T000000Z-rev20.db',
         'etcd-snapshot-20240103T000000Z-rev30.db', 'etcd-snapshot-20240103T000000Z-rev31.db']
OTHERS = ['etcd-snapshot-manual.db', 'other-20240101T000000Z-rev1.db', 'etcd-snapshot-20240101T000000Z-rev10.db.bak', 'notes.txt']


def test_retention_keeps_newest_and_ignores_other_files(tmp_path):
    for name in SNAPS + OTHERS:
        _touch(str(tmp_path), name)
    deleted = apply_retention(str(tmp_path), 'etcd-snapshot', 2)
    assert deleted == [str(tmp_path / SNAPS[1]), str(tmp_path / SNAPS[0])]
    assert sorted(os.listdir(str(tmp_path))) == sorted(SNAPS[2:] + OTHERS)


def test_retention_check_mode_deletes_nothing_and_counts_pending(tmp_path):
    for name in SNAPS:
        _touch(str(tmp_path), name)
    pending = 'etcd-snapshot-20240104T000000Z-rev40.db'
    deleted = apply_retention(str(tmp_path), 'etcd-snapshot', 2, check_mode=True, pending=pending)
    assert deleted == [str(tmp_path / SNAPS[2]), str(tmp_path / SNAPS[1]), str(tmp_path / SNAPS[0])]
    assert sorted(os.listdir(str(tmp_path))) == sorted(SNAPS)


def test_retention_nothing_to_delete(tmp_path):
    _touch(str(tmp_path), SNAPS[0])
    assert apply_retention(str(tmp_path), 'etcd-snapshot', 5) == []


# --------------------------------------------------------------------------
# EtcdClient against the stand-in gateway (mutual TLS)
# --------------------------------------------------------------------------

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


def client_for(pki, endpoints, **kwargs):
    return EtcdClient(endpoints, ca_file=pki['ca_cert'], cert_file=pki['client_cert'], key_file=pki['client_key'],
                      timeout=kwargs.pop('timeout', 5), **kwargs)


def test_client_lists_members_over_mutual_tls(pki, standin):
    cluster, servers = standin
    client = client_for(pki, [servers['etcd-1'].url])
    members = client.members()
    assert [m['name'] for m in members] == ['etcd-1', 'etcd-2', 'etcd-3']
    assert members[1]['id_int'] == cluster.members[1]['ID']
    assert members[1]['client_urls'] == [servers['etcd-2'].url]


def test_client_fails_over_from_dead_endpoint(pki, standin):
    _cluster, servers = standin
    dead = S.dead_endpoint()
    client = client_for(pki, [dead, servers['etcd-2'].url])
    assert len(client.members()) == 3
    assert client.last_endpoint == servers['etcd-2'].url


def test_client_all_endpoints_dead_names_each(pki):
    dead1, dead2 = S.dead_endpoint(), S.dead_endpoint()
    client = client_for(pki, [dead1, dead2], timeout=2)
    with pytest.raises(EtcdUnreachableError) as info:
        client.members()
    assert dead1 in str(info.value) and dead2 in str(info.value) and 'cannot connect' in str(info.value)


def test_client_wrong_ca_is_a_clear_tls_error(pki, standin):
    _cluster, servers = standin
    client = EtcdClient([servers['etcd-1'].url], ca_file=pki['other_ca_cert'], cert_file=pki['client_cert'],
                        key_file=pki['client_key'], timeout=5)
    with pytest.raises(EtcdUnreachableError, match='certificate verification failed.*check ca_file'):
        client.members()


def test_client_without_client_certificate_is_rejected(pki, standin):
    _cluster, servers = standin
    client = EtcdClient([servers['etcd-1'].url], ca_file=pki['ca_cert'], timeout=5)
    with pytest.raises(EtcdUnreachableError):
        client.members()


def test_client_missing_cert_file_message(pki, tmp_path):
    client = EtcdClient(['https://127.0.0.1:1'], ca_file=pki['ca_cert'], cert_file=str(tmp_path / 'nope.pem'),
                        key_file=pki['client_key'])
    with pytest.raises(EtcdError, match='cert_file .*nope.pem does not exist'):
        client.members()


def test_client_fails_over_on_unavailable_answer(pki, standin):
    cluster, servers = standin
    cluster.unhealthy.add(cluster.members[0]['ID'])
    client = client_for(pki, [servers['etcd-1'].url, servers['etcd-3'].url])
    client.call('kv/range', {'key': 'aGVhbHRo'})
    assert client.last_endpoint == servers['etcd-3'].url
    ok, error = client.health(servers['etcd-1'].url)
    assert ok is False and 'HTTP 503' in error and 'request timed out' in error
    assert client.health(servers['etcd-3'].url) == (True, None)


def test_client_health_counts_permission_denied_as_healthy(pki, standin):
    cluster, servers = standin
    cluster.permission_denied = True
    client = client_for(pki, [servers['etcd-1'].url])
    assert client.health(servers['etcd-1'].url) == (True, None)


def test_client_error_json_becomes_clear_message(pki, standin):
    cluster, servers = standin
    client = client_for(pki, [servers['etcd-1'].url, servers['etcd-2'].url])
    with pytest.raises(EtcdError) as info:
        client.member_promote(cluster.members[1]['ID'])
    error = info.value
    assert not isinstance(error, EtcdUnreachableError)
    assert error.http_status == 400 and error.code == 9
    assert str(error) == ('etcd endpoint %s answered POST /v3/cluster/member/promote with HTTP 400, gRPC code 9 FailedPrecondition: '
                          'etcdserver: can only promote a learner member' % servers['etcd-1'].url)
    # a final answer is not retried on the next endpoint
    assert [c[1] for c in cluster.calls].count('cluster/member/promote') == 1


def test_client_not_found_and_wrong_path(pki, standin):
    _cluster, servers = standin
    client = client_for(pki, [servers['etcd-1'].url])
    with pytest.raises(EtcdError, match='gRPC code 5 NotFound: etcdserver: member not found'):
        client.member_remove(12345)
    with pytest.raises(EtcdError, match='HTTP 404: Not Found; this URL does not serve the etcd v3 JSON gateway') as info:
        client.call('no/such/call', {})
    # Real etcd 3.4 started with --config-file answers 404 on /v3/ unless the file enables the gateway.
    assert 'enable-grpc-gateway: true' in str(info.value)


def test_client_v3beta_prefix(pki, standin):
    _cluster, servers = standin
    client = client_for(pki, [servers['etcd-1'].url], api_prefix='/v3beta')
    assert len(client.members()) == 3


def test_client_status_alarms_and_revision(pki, standin):
    cluster, servers = standin
    cluster.alarms.append((cluster.members[2]['ID'], 'NOSPACE'))
    client = client_for(pki, [servers['etcd-2'].url])
    status = client.status(servers['etcd-2'].url)
    assert status['version'] == '3.4.23' and status['member_id_int'] == cluster.members[1]['ID']
    assert status['leader_int'] == cluster.members[0]['ID'] and status['db_size'] == len(cluster.db)
    assert status['revision'] == 1 and status['raft_index'] == 10
    hex_id = '%x' % cluster.members[2]['ID']
    assert client.alarms() == [{'member_id': hex_id, 'member_id_decimal': str(cluster.members[2]['ID']), 'alarm': 'NOSPACE'}]
    client.call('kv/put', {'key': 'YQ==', 'value': 'Yg=='})
    assert client.revision() == 2


def test_client_add_is_not_retried_when_the_answer_is_lost(pki, standin):
    cluster, servers = standin
    cluster.hangup.add('cluster/member/add')
    client = client_for(pki, [servers['etcd-1'].url, servers['etcd-2'].url])
    with pytest.raises(EtcdUnreachableError, match='may or may not have been applied'):
        client.member_add(['https://10.9.0.9:2380'])
    assert [c[1] for c in cluster.calls].count('cluster/member/add') == 1
    # an idempotent call whose answer is lost moves on to the next endpoint
    cluster.hangup = {'cluster/member/list'}
    with pytest.raises(EtcdUnreachableError, match='no etcd endpoint could answer'):
        client.members()
    assert [c[1] for c in cluster.calls].count('cluster/member/list') == 2


class FakeClock(object):
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def member_params(**kwargs):
    params = {'state': 'present', 'name': None, 'peer_urls': None, 'id': None, 'must_exist': False, 'wait_timeout': 120}
    params.update(kwargs)
    return params


def test_join_flow_add_learner_then_promote_after_not_in_sync(pki, standin):
    cluster, servers = standin
    client = client_for(pki, [servers['etcd-1'].url, servers['etcd-2'].url])
    params = member_params(name='etcd-4', peer_urls=['https://10.9.0.4:2380'])

    first = run_member(client, params)
    assert first['changed'] is True and first['action'] == 'add'
    assert first['member']['is_learner'] is True and first['member']['name'] == ''
    assert first['initial_cluster'] == ('etcd-1=https://10.9.0.1:2380,etcd-2=https://10.9.0.2:2380,etcd-3=https://10.9.0.3:2380,'
                                        'etcd-4=https://10.9.0.4:2380')
    assert first['initial_cluster_state'] == 'existing'
    new_id = int(first['member']['id_decimal'])
    assert first['member']['id'] == '%x' % new_id
    assert [b for _m, p, b in cluster.calls if p == 'cluster/member/add'] == [{'peerURLs': ['https://10.9.0.4:2380'], 'isLearner': True}]

    again = run_member(client, params)  # node not started yet
    assert again['changed'] is False and again['action'] == 'pending_start'
    assert again['initial_cluster'] == first['initial_cluster']

    new_server = S.StandinServer(cluster, new_id, pki)
    try:
        cluster.start_member(new_id, 'etcd-4', [new_server.url])
        cluster.promote_not_ready = 2
        clock = FakeClock()
        third = run_member(client, params, sleep=clock.sleep, clock=clock)
        assert third['changed'] is True and third['action'] == 'promote' and third['attempts'] == 3
        assert clock.sleeps == [2.0, 2.0]
        assert third['member']['is_learner'] is False and third['member']['name'] == 'etcd-4'
        assert cluster.find(new_id)['isLearner'] is False

        fourth = run_member(client, params)
        assert fourth['changed'] is False and fourth['action'] == 'none'
    finally:
        new_server.stop()


def test_add_retries_while_etcd_says_unhealthy_cluster(pki, standin):
    """Stand-in answers "unhealthy cluster" twice, as etcd's strict reconfig check does just after a promotion."""
    cluster, servers = standin
    cluster.add_unhealthy = 2
    client = client_for(pki, [servers['etcd-1'].url])
    clock = FakeClock()
    added = run_member(client, member_params(name='etcd-4', peer_urls=['https://10.9.0.4:2380']), sleep=clock.sleep, clock=clock)
    assert added['changed'] is True and added['action'] == 'add' and added['attempts'] == 3
    assert clock.sleeps == [1.0, 1.0] and cluster.add_calls == 3
    assert [m['name'] for m in cluster.members].count('') == 1


def test_add_gives_up_on_unhealthy_cluster_after_the_retry_window(pki, standin):
    cluster, servers = standin
    cluster.add_unhealthy = 1000
    client = client_for(pki, [servers['etcd-1'].url])
    clock = FakeClock()
    with pytest.raises(EtcdError, match='unhealthy cluster'):
        run_member(client, member_params(name='etcd-4', peer_urls=['https://10.9.0.4:2380']), sleep=clock.sleep, clock=clock)
    assert cluster.add_calls == 31 and len(cluster.members) == 3


def test_promote_gives_up_after_wait_timeout(pki, standin):
    cluster, servers = standin
    learner_id = cluster.new_id()
    cluster.add_member('etcd-4', ['https://10.9.0.4:2380'], ['https://10.9.0.4:2379'], learner=True, member_id=learner_id)
    cluster.promote_not_ready = 1000
    client = client_for(pki, [servers['etcd-1'].url])
    clock = FakeClock()
    with pytest.raises(EtcdError, match=r'did not get in sync with the leader within 7s \(5 promote attempts\)'):
        run_member(client, member_params(name='etcd-4', peer_urls=['https://10.9.0.4:2380'], wait_timeout=7),
                   sleep=clock.sleep, clock=clock)
    assert clock.sleeps == [2.0, 2.0, 2.0, 1.0]
    assert cluster.find(learner_id)['isLearner'] is True


def test_check_mode_changes_nothing(pki, standin):
    cluster, servers = standin
    client = client_for(pki, [servers['etcd-1'].url])
    result = run_member(client, member_params(name='etcd-4', peer_urls=['https://10.9.0.4:2380']), check_mode=True)
    assert result['changed'] is True and result['action'] == 'add' and result['member']['id'] is None
    result = run_member(client, member_params(name='etcd-3', state='absent'), check_mode=True)
    assert result['changed'] is True and result['action'] == 'remove'
    assert [m['name'] for m in result['members']] == ['etcd-1', 'etcd-2']
    assert len(cluster.members) == 3
    assert not [c for c in cluster.calls if c[1] in ('cluster/member/add', 'cluster/member/remove', 'cluster/member/promote')]


def test_remove_member_probes_health(pki, standin):
    cluster, servers = standin
    client = client_for(pki, [servers['etcd-3'].url, servers['etcd-1'].url])
    removed_id = cluster.members[2]['ID']
    result = run_member(client, member_params(state='absent', id='%x' % removed_id))
    assert result['changed'] is True and result['action'] == 'remove' and result['found'] is True
    assert [m['name'] for m in result['members']] == ['etcd-1', 'etcd-2']
    assert cluster.find(removed_id) is None
    # the removal was sent through a member other than the one being removed
    assert [m for m, p, _b in cluster.calls if p == 'cluster/member/remove'] == [cluster.members[0]['ID']]


def test_remove_refused_when_quorum_would_be_lost(pki, standin):
    cluster, servers = standin
    servers['etcd-2'].stop()
    client = client_for(pki, [servers['etcd-1'].url], timeout=2)
    with pytest.raises(EtcdRefusedError) as info:
        run_member(client, member_params(state='absent', name='etcd-3'))
    assert 'quorum needs 2' in str(info.value) and 'etcd-2' in str(info.value)
    assert 'etcd-2' in info.value.details['health_errors']
    assert len(cluster.members) == 3


def test_remove_missing_member(pki, standin):
    _cluster, servers = standin
    client = client_for(pki, [servers['etcd-1'].url])
    result = run_member(client, member_params(state='absent', name='etcd-30'))
    assert result['changed'] is False and result['found'] is False and result['action'] == 'none'
    with pytest.raises(EtcdRefusedError, match='no etcd member named etcd-30; members are: etcd-1, etcd-2, etcd-3'):
        run_member(client, member_params(state='absent', name='etcd-30', must_exist=True))


def test_snapshot_stream_good(pki, standin, tmp_path):
    cluster, servers = standin
    client = client_for(pki, [servers['etcd-2'].url])
    dest = str(tmp_path / 'snap.db')
    info = client.snapshot(servers['etcd-2'].url, dest)
    with open(dest, 'rb') as handle:
        data = handle.read()
    assert data == cluster.snapshot_bytes()
    assert info['size'] == len(data) and len(data) % 512 == 32
    assert info['sha256'] == hashlib.sha256(data).hexdigest()
    assert verify_snapshot_file(dest)['sha256'] == info['sha256']
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o600
    assert os.listdir(str(tmp_path)) == ['snap.db']


def test_snapshot_stream_corrupt_is_deleted(pki, standin, tmp_path):
    cluster, servers = standin
    cluster.corrupt_snapshot = True
    client = client_for(pki, [servers['etcd-1'].url])
    with pytest.raises(SnapshotVerificationError, match='is corrupt'):
        client.snapshot(servers['etcd-1'].url, str(tmp_path / 'snap.db'))
    assert os.listdir(str(tmp_path)) == []


def test_snapshot_stream_error_midway_is_deleted(pki, standin, tmp_path):
    cluster, servers = standin
    cluster.snapshot_error_midway = True
    client = client_for(pki, [servers['etcd-1'].url])
    with pytest.raises(EtcdError, match='aborted the snapshot stream: etcdserver: server stopped'):
        client.snapshot(servers['etcd-1'].url, str(tmp_path / 'snap.db'))
    assert os.listdir(str(tmp_path)) == []


def test_run_snapshot_picks_first_healthy_and_rotates(pki, standin, tmp_path):
    cluster, servers = standin
    cluster.unhealthy.add(cluster.members[0]['ID'])
    for name in SNAPS:
        _touch(str(tmp_path), name)
    client = client_for(pki, [S.dead_endpoint(), servers['etcd-1'].url, servers['etcd-3'].url])
    when = datetime.datetime(2024, 2, 1, 2, 0, 0, tzinfo=datetime.timezone.utc)
    params = {'dest_dir': str(tmp_path), 'prefix': 'etcd-snapshot', 'keep': 2}

    planned = run_snapshot(client, params, check_mode=True, now=when)
    assert planned['changed'] is True and planned['endpoint'] == servers['etcd-3'].url and planned['size'] is None
    assert planned['path'] == str(tmp_path / 'etcd-snapshot-20240201T020000Z-rev1.db')
    assert len(planned['deleted']) == 3
    assert sorted(os.listdir(str(tmp_path))) == sorted(SNAPS)

    result = run_snapshot(client, params, now=when)
    assert result['changed'] is True and result['path'] == planned['path'] and result['revision'] == 1
    assert result['deleted'] == planned['deleted']
    assert sorted(os.listdir(str(tmp_path))) == sorted([SNAPS[3], os.path.basename(result['path'])])
    assert verify_snapshot_file(result['path'])['sha256'] == result['sha256']
    with pytest.raises(EtcdError, match='already exists'):
        run_snapshot(client, params, now=when)


def test_run_snapshot_rejects_bad_settings(pki, tmp_path):
    client = client_for(pki, ['https://127.0.0.1:1'])
    with pytest.raises(EtcdError, match='dest_dir .* does not exist'):
        run_snapshot(client, {'dest_dir': str(tmp_path / 'missing'), 'keep': 1})
    with pytest.raises(EtcdError, match='keep must be 1 or more'):
        run_snapshot(client, {'dest_dir': str(tmp_path), 'keep': 0})


def test_run_info_reports_down_endpoint_without_failing(pki, standin):
    cluster, servers = standin
    cluster.alarms.append((cluster.members[0]['ID'], 'NOSPACE'))
    servers['etcd-3'].stop()
    client = client_for(pki, [servers['etcd-1'].url, servers['etcd-2'].url, servers['etcd-3'].url], timeout=2)
    info = run_info(client, {'fail_on_unreachable': True})
    assert info['healthy'] is False
    assert [e['healthy'] for e in info['endpoints']] == [True, True, False]
    assert info['endpoints'][2]['error'].startswith('etcd endpoint %s could not answer' % servers['etcd-3'].url)
    assert info['endpoints'][0]['is_leader'] is True and info['endpoints'][1]['is_leader'] is False
    assert info['endpoints'][1]['member_name'] == 'etcd-2'
    assert info['leader']['name'] == 'etcd-1'
    assert info['alarms'][0]['alarm'] == 'NOSPACE' and info['alarms'][0]['member_name'] == 'etcd-1'
    assert info['quorum'] == {'voting_members': 3, 'learners': 0, 'needed': 2, 'healthy_voting_members': 2,
                              'fault_tolerance': 1, 'ok': True}


def test_run_info_nothing_reachable(pki):
    client = client_for(pki, [S.dead_endpoint()], timeout=2)
    with pytest.raises(EtcdUnreachableError, match='no etcd endpoint is reachable'):
        run_info(client, {'fail_on_unreachable': True})
    info = run_info(client, {'fail_on_unreachable': False})
    assert info['healthy'] is False and info['members'] == [] and info['endpoints'][0]['reachable'] is False


def test_normalize_endpoint():
    assert normalize_endpoint('10.0.0.1:2379') == 'https://10.0.0.1:2379'
    assert normalize_endpoint('https://[::1]:2379/') == 'https://[::1]:2379'
    with pytest.raises(ValueError):
        normalize_endpoint('ftp://x:1')
    with pytest.raises(ValueError):
        normalize_endpoint('https://x:notaport')


def test_run_snapshot_never_deletes_the_new_file(pki, standin, tmp_path):
    _cluster, servers = standin
    future = 'etcd-snapshot-20990101T000000Z-rev1.db'
    _touch(str(tmp_path), future)
    client = client_for(pki, [servers['etcd-1'].url])
    result = run_snapshot(client, {'dest_dir': str(tmp_path), 'prefix': 'etcd-snapshot', 'keep': 1})
    assert result['deleted'] == []
    assert sorted(os.listdir(str(tmp_path))) == sorted([future, os.path.basename(result['path'])])


def test_run_snapshot_info_reads_revision_from_the_name(tmp_path):
    path = str(tmp_path / 'etcd-snapshot-20240131T020000Z-rev4821.db')
    data = craft_snapshot(path)
    info = run_snapshot_info({'path': path})
    assert info['valid'] is True and info['changed'] is False and info['revision'] == 4821
    assert info['sha256'] == hashlib.sha256(data).hexdigest()
    other = str(tmp_path / 'manual.db')
    craft_snapshot(other)
    assert run_snapshot_info({'path': other})['revision'] is None


def test_run_snapshot_info_refuses_truncated_and_corrupt(tmp_path):
    path = str(tmp_path / 'etcd-snapshot-20240131T020000Z-rev1.db')
    craft_snapshot(path, truncate=100)
    with pytest.raises(SnapshotVerificationError, match='truncated'):
        run_snapshot_info({'path': path})
    craft_snapshot(path, corrupt=True)
    with pytest.raises(SnapshotVerificationError, match='is corrupt'):
        run_snapshot_info({'path': path})
