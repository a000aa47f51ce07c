# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
"""The PKI guard: one cluster per PKI directory, no silent CA swap, no orphaned members."""
from __future__ import absolute_import, division, print_function

import base64
import json
import os

import pytest

from ansible_collections.ironstone.k8s.plugins.filter import etcd as etcd_filters
from ansible_collections.ironstone.k8s.plugins.module_utils.pki import apply as pki_apply, crypto, guard

NAMES = ('etcd1', 'etcd2', 'etcd3')


def make_pki(path, names=NAMES, regenerate_ca=False):
    certs = [{'name': 'members/%s/server' % n, 'common_name': n, 'sans': [n], 'usages': ['server_auth', 'client_auth']}
             for n in names]
    return pki_apply.run({'path': str(path), 'ca': {'common_name': os.path.basename(str(path)) + '-ca'}, 'certs': certs,
                          'regenerate_ca': regenerate_ca})


def read(path, name):
    with open(os.path.join(str(path), name), 'rb') as handle:
        return handle.read()


def nodes_from(pki, names=NAMES, member=True):
    return dict((n, {'server': read(pki, 'members/%s/server.crt' % n), 'member': member}) for n in names)


def live(cluster_id='c0ffee', names=NAMES):
    members = [{'name': n, 'id': '%x' % (i + 1), 'peer_urls': ['https://%s:2380' % n]} for i, n in enumerate(names)]
    return {'cluster_id': cluster_id, 'members': members}


def group(names=NAMES):
    return [{'host': n, 'name': n, 'peer_url': 'https://%s:2380' % n} for n in names]


def record(name='prod', cluster_id='c0ffee', members=NAMES):
    return guard.identity_text(name, cluster_id, members)


# ---------------------------------------------------------------- identity record

def test_identity_text_is_stable_and_sorted():
    text = guard.identity_text('prod', 'c0ffee', ['b', 'a', 'a', ''])
    assert json.loads(text) == {'format': 1, 'cluster_name': 'prod', 'cluster_id': 'c0ffee', 'members': ['a', 'b']}
    assert text == guard.identity_text('prod', 'c0ffee', ['a', 'b'])


@pytest.mark.parametrize('text', ['{not json', '[1, 2]', '{"members": []}'])
def test_a_damaged_record_is_refused(text):
    with pytest.raises(guard.GuardError, match='delete it to record this cluster again'):
        guard.parse_identity(text)


def test_no_record_binds_nothing():
    assert guard.parse_identity('') is None
    assert guard.identity_problems(None, 'prod', '/p', NAMES, live()) == []


def test_a_record_of_another_cluster_name_is_refused():
    problems = guard.identity_problems(json.loads(record('lab')), 'bench', '/pki/lab', NAMES, {})
    assert len(problems) == 1
    text = problems[0]
    assert "recorded for the cluster named 'lab'" in text and "etcd_cluster_name is 'bench'" in text
    assert 'set etcd_cluster_name' in text and 'etcd_pki_dir' in text and 'Nothing was written' in text
    assert 'etcd1, etcd2, etcd3' in text and 'c0ffee' in text


def test_a_record_without_any_member_of_this_group_is_refused():
    # Same (default) cluster name, but the bench's b1..b3 against the lab's record.
    problems = guard.identity_problems(json.loads(record('ironstone')), 'ironstone', '/pki', ['b1', 'b2', 'b3'], {})
    assert len(problems) == 1 and 'none of its recorded members is in this etcd group (b1, b2, b3)' in problems[0]


def test_a_live_cluster_with_another_id_and_other_members_is_refused():
    problems = guard.identity_problems(json.loads(record('ironstone')), 'ironstone', '/pki', list(NAMES) + ['b1'],
                                       live('beef', ['b1']))
    assert len(problems) == 1 and 'cluster ID beef' in problems[0]


@pytest.mark.parametrize('names, live_result', [
    (NAMES, live()),                              # the same cluster
    (list(NAMES) + ['etcd4', 'etcd5'], live()),   # scale up
    (['etcd1', 'etcd4'], {}),                  # members replaced one at a time
    (NAMES, live('f00d')),                        # restored: a new cluster ID, the same members
    (NAMES, {}),                                  # the cluster is down or not made yet
])
def test_this_clusters_record_passes(names, live_result):
    assert guard.identity_problems(json.loads(record('prod')), 'prod', '/pki', names, live_result) == []


# ---------------------------------------------------------------- CA

def test_members_with_certificates_of_the_controllers_ca_pass(tmp_path):
    make_pki(tmp_path / 'a')
    assert guard.ca_problems(read(tmp_path / 'a', 'ca-bundle.crt'), nodes_from(tmp_path / 'a'), '/pki') == []


def test_an_empty_pki_directory_against_members_with_certificates_is_refused(tmp_path):
    make_pki(tmp_path / 'a')
    problems = guard.ca_problems(b'', nodes_from(tmp_path / 'a'), str(tmp_path / 'new'))
    assert len(problems) == 1
    text = problems[0]
    key_id = crypto.key_id(crypto.load_cert(read(tmp_path / 'a', 'ca.crt')))
    assert 'etcd1, etcd2, etcd3 present certificates of the CA' in text and key_id in text
    assert 'holds no CA' in text and 'playbooks/etcd_renew_certs.yml -e renew_ca=yes' in text
    assert 'Nothing was written, on the controller or on any node' in text


def test_another_ca_on_the_controller_is_refused_naming_both(tmp_path):
    make_pki(tmp_path / 'a')
    make_pki(tmp_path / 'b')
    problems = guard.ca_problems(read(tmp_path / 'b', 'ca-bundle.crt'), nodes_from(tmp_path / 'a'), '/pki')
    ca_a = crypto.load_cert(read(tmp_path / 'a', 'ca.crt'))
    ca_b = crypto.load_cert(read(tmp_path / 'b', 'ca.crt'))
    assert len(problems) == 1
    assert crypto.key_id(ca_a) in problems[0] and crypto.key_id(ca_b) in problems[0]
    assert crypto.fingerprint(ca_b) in problems[0] and crypto.key_id(ca_a) != crypto.key_id(ca_b)


def test_the_same_ca_subject_with_another_key_is_refused(tmp_path):
    # An empty etcd_pki_dir under the same cluster name makes a CA with the same subject: only the key tells them apart.
    make_pki(tmp_path / 'a' / 'pki')
    make_pki(tmp_path / 'b' / 'pki')
    assert guard.ca_problems(read(tmp_path / 'b' / 'pki', 'ca-bundle.crt'), nodes_from(tmp_path / 'a' / 'pki'), '/pki') != []


def test_a_node_that_is_no_member_is_not_compared(tmp_path):
    # A host whose member was removed keeps its old certificates; the role may overwrite them.
    make_pki(tmp_path / 'a')
    make_pki(tmp_path / 'b')
    nodes = nodes_from(tmp_path / 'a', member=False)
    nodes['etcd4'] = {'server': None, 'member': True}
    assert guard.ca_problems(read(tmp_path / 'b', 'ca-bundle.crt'), nodes, '/pki') == []


def test_a_rotation_in_progress_passes_with_old_and_new_leaves(tmp_path):
    make_pki(tmp_path / 'a')
    old = nodes_from(tmp_path / 'a')
    make_pki(tmp_path / 'a', regenerate_ca=True)          # bundle = new CA + old CA
    new = nodes_from(tmp_path / 'a')
    mixed = {'etcd1': old['etcd1'], 'etcd2': new['etcd2'], 'etcd3': old['etcd3']}
    assert guard.ca_problems(read(tmp_path / 'a', 'ca-bundle.crt'), mixed, '/pki') == []
    # ... but once the old CA is pruned from the bundle, an old leaf no longer passes.
    assert guard.ca_problems(read(tmp_path / 'a', 'ca.crt'), mixed, '/pki') != []


# ---------------------------------------------------------------- orphans

def test_a_group_smaller_than_the_live_cluster_is_refused_with_the_orphans():
    problems = guard.orphan_problems(live(), group(['etcd1']))
    assert len(problems) == 1
    text = problems[0]
    assert 'has 3 members, and the etcd group lists 1: etcd2, etcd3 would be left out' in text
    assert 'remove_etcd_member.yml' in text and 'Nothing was written' in text


def test_an_unstarted_member_counts_by_its_peer_url():
    result = live()
    result['members'].append({'name': '', 'id': 'ab', 'peer_urls': ['https://etcd4:2380']})
    assert guard.orphan_problems(result, group(list(NAMES) + ['etcd4'])) == []
    assert 'unstarted member ab' in guard.orphan_problems(result, group(NAMES))[0]


@pytest.mark.parametrize('names', [NAMES, list(NAMES) + ['etcd4', 'etcd5']])
def test_a_group_that_lists_every_live_member_passes(names):
    assert guard.orphan_problems(live(), group(names)) == []


def test_no_answer_means_no_orphan_check():
    assert guard.orphan_problems({'cluster_id': None, 'members': []}, group(['etcd1'])) == []


# ---------------------------------------------------------------- the whole guard and the record it writes

def test_guard_records_the_group_first_then_the_live_cluster(tmp_path):
    make_pki(tmp_path)
    first = guard.guard(str(tmp_path), 'prod', group(), {}, {})
    assert first['errors'] == [] and json.loads(first['record'])['cluster_id'] is None
    (tmp_path / 'identity.json').write_text(first['record'])
    again = guard.guard(str(tmp_path), 'prod', group(), {}, {})
    assert again == {'errors': [], 'record': ''}
    answered = guard.guard(str(tmp_path), 'prod', group(), live(), nodes_from(tmp_path))
    assert answered['errors'] == [] and json.loads(answered['record'])['cluster_id'] == 'c0ffee'


def test_guard_refuses_and_writes_no_record(tmp_path):
    make_pki(tmp_path)
    (tmp_path / 'identity.json').write_text(record('prod'))
    result = guard.guard(str(tmp_path), 'other', group(['etcd1']), live(), nodes_from(tmp_path))
    assert result['record'] == '' and len(result['errors']) == 2   # another cluster's directory, and orphans


def test_next_record_follows_membership_changes(tmp_path):
    current = json.loads(record('prod'))
    grown = guard.next_record(current, 'prod', live(names=list(NAMES) + ['etcd4']), NAMES)
    assert json.loads(grown)['members'] == list(NAMES) + ['etcd4']
    assert json.loads(guard.next_record(current, 'prod', live('f00d'), NAMES))['cluster_id'] == 'f00d'
    assert guard.next_record(current, 'prod', live(), NAMES) == ''
    assert guard.next_record(current, 'prod', {}, ['x']) == ''


# ---------------------------------------------------------------- the filters

def test_filter_reads_the_guard_results_of_each_host(tmp_path):
    make_pki(tmp_path / 'a')
    make_pki(tmp_path / 'b')
    cert_dir = '/etc/kubernetes/pki/etcd'
    hostvars = {}
    for n in NAMES:
        hostvars[n] = {
            'etcd_guard_look': {'files': [{'path': cert_dir + '/server.crt'}, {'path': cert_dir + '/ca.crt'},
                                          {'path': '/var/lib/etcd/member/wal/0.wal'}]},
            'etcd_guard_server': {'content': base64.b64encode(read(tmp_path / 'a', 'members/%s/server.crt' % n)).decode()},
            'etcd_guard_live': {'skipped': True} if n != 'etcd2' else live(),
        }
    ok = etcd_filters.etcd_pki_guard(hostvars, NAMES, group(), 'prod', str(tmp_path / 'a'))
    assert ok['errors'] == [] and json.loads(ok['record'])['cluster_id'] == 'c0ffee'
    swapped = etcd_filters.etcd_pki_guard(hostvars, NAMES, group(), 'prod', str(tmp_path / 'b'))
    assert len(swapped['errors']) == 1 and 'renew_ca=yes' in swapped['errors'][0]
    # Without data and without a live cluster, nodes are not members: a fresh PKI directory may be used.
    for n in NAMES:
        hostvars[n]['etcd_guard_look']['files'].pop()
        hostvars[n]['etcd_guard_live'] = {'skipped': True}
    assert etcd_filters.etcd_pki_guard(hostvars, NAMES, group(), 'prod', str(tmp_path / 'empty'))['errors'] == []


def test_identity_filter(tmp_path):
    assert json.loads(etcd_filters.etcd_pki_identity(live(), str(tmp_path), 'prod', group()))['members'] == list(NAMES)
    (tmp_path / 'identity.json').write_text(record('prod'))
    assert etcd_filters.etcd_pki_identity(live(), str(tmp_path), 'prod', group()) == ''
    (tmp_path / 'identity.json').write_text('{broken')
    with pytest.raises(Exception, match='not valid JSON'):
        etcd_filters.etcd_pki_identity(live(), str(tmp_path), 'prod', group())
