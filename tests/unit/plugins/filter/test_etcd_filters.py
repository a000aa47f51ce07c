"""The etcd role's decisions (plugins/filter/etcd.py), with the cases the etcd and
etcd_ops Molecule scenarios go through and the edge cases they do not."""
import base64
import hashlib
import os

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.ironstone.k8s.plugins.filter import etcd as f
from ansible_collections.ironstone.k8s.plugins.module_utils.etcd.snapshot import snapshot_file_name

HOSTS = ['o1', 'o2', 'o3']


def members(hosts=None, **extra):
    hosts = HOSTS if hosts is None else hosts
    hostvars = dict((h, {'etcd_address': '10.0.0.%d' % (i + 1)}) for i, h in enumerate(hosts))
    for h, hv in extra.items():
        hostvars.setdefault(h, {}).update(hv)
    return f.etcd_members(hosts, hostvars, 2379, 2380)


def live(voters=(), learners=(), unstarted=(), healthy=True):
    out = [{'name': n, 'started': True, 'is_learner': False} for n in voters]
    out += [{'name': n, 'started': True, 'is_learner': True} for n in learners]
    out += [{'name': '', 'started': False, 'is_learner': True} for dummy in unstarted]
    return {'members': out, 'healthy': healthy}


def wal(**matched):
    return dict((h, {'etcd_wal': {'matched': n}}) for h, n in matched.items())


def slurp(config):
    return {'content': base64.b64encode(yaml.safe_dump(config).encode()).decode()}


class TestUrlsAndMembers:
    def test_ipv4_url(self):
        assert f.etcd_url('10.0.0.1', 2379) == 'https://10.0.0.1:2379'

    def test_ipv6_url_is_bracketed_once(self):
        assert f.etcd_url('fd00::1', '2380') == 'https://[fd00::1]:2380'
        assert f.etcd_url('[fd00::1]', 2380) == 'https://[fd00::1]:2380'

    def test_members_in_group_order_with_urls(self):
        got = members()
        assert [m['host'] for m in got] == HOSTS
        assert got[1] == {'host': 'o2', 'name': 'o2', 'address': '10.0.0.2',
                          'client_url': 'https://10.0.0.2:2379', 'peer_url': 'https://10.0.0.2:2380'}

    def test_host_without_etcd_name_or_address_uses_ansible_host_then_its_name(self):
        got = f.etcd_members(['a', 'b'], {'a': {'ansible_host': '192.0.2.7'}, 'b': {}}, 2379, 2380)
        assert (got[0]['name'], got[0]['address']) == ('a', '192.0.2.7')
        assert (got[1]['name'], got[1]['address'], got[1]['client_url']) == ('b', 'b', 'https://b:2379')

    def test_host_missing_from_hostvars_is_named_after_itself(self):
        assert f.etcd_members(['x'], {}, 1, 2)[0]['peer_url'] == 'https://x:2'

    def test_etcd_name_wins_over_host_name(self):
        got = members(o1={'etcd_name': 'alpha'})
        assert got[0]['name'] == 'alpha' and got[0]['host'] == 'o1'

    def test_ipv6_member(self):
        got = f.etcd_members(['v6'], {'v6': {'etcd_address': 'fd00:10::3'}}, 2379, 2380)[0]
        assert got['address'] == 'fd00:10::3'
        assert got['peer_url'] == 'https://[fd00:10::3]:2380'

    def test_empty_group(self):
        assert f.etcd_members(None, {}, 2379, 2380) == []
        assert f.etcd_initial_cluster([]) == ''

    def test_initial_cluster(self):
        assert f.etcd_initial_cluster(members(['o1', 'o2'])) == 'o1=https://10.0.0.1:2380,o2=https://10.0.0.2:2380'

    def test_client_urls_leave_out_hosts(self):
        assert f.etcd_client_urls(members(), ['o2']) == ['https://10.0.0.1:2379', 'https://10.0.0.3:2379']
        assert len(f.etcd_client_urls(members())) == 3

    def test_hosts_named_matches_exactly(self):
        ms = members(o1={'etcd_name': 'cp1'}, o2={'etcd_name': 'cp10'})
        assert f.etcd_hosts_named(ms, 'cp1') == ['o1']
        assert f.etcd_hosts_named(ms, ' cp1 ') == ['o1']
        assert f.etcd_hosts_named(ms, 'cp') == []
        assert f.etcd_hosts_named(ms, '') == []
        assert f.etcd_hosts_named(ms, None) == []


class TestCertSpecs:
    def test_server_and_peer_per_member_then_the_two_clients(self):
        specs = f.etcd_cert_specs(members(), 365, 'ecdsa-p256')
        assert [s['name'] for s in specs] == [
            'members/o1/server', 'members/o1/peer', 'members/o2/server', 'members/o2/peer',
            'members/o3/server', 'members/o3/peer', 'healthcheck-client', 'apiserver-etcd-client']
        assert specs[0]['sans'] == ['o1', '10.0.0.1', 'localhost', '127.0.0.1', '::1']
        assert specs[0]['common_name'] == 'o1'
        assert specs[0]['usages'] == ['server_auth', 'client_auth']
        assert all(s['validity_days'] == 365 and s['key_type'] == 'ecdsa-p256' for s in specs)
        assert specs[-1]['organization'] == 'system:masters' and specs[-1]['usages'] == ['client_auth']

    def test_sans_keep_name_and_host_when_they_differ(self):
        spec = f.etcd_cert_specs(members(['o1'], o1={'etcd_name': 'alpha'}), 1, 'rsa-2048')[0]
        assert spec['sans'][:3] == ['alpha', 'o1', '10.0.0.1'] and spec['common_name'] == 'alpha'

    def test_ipv6_loopback_is_not_repeated(self):
        spec = f.etcd_cert_specs(f.etcd_members(['h'], {'h': {'etcd_address': '::1'}}, 1, 2), 1, 'x')[0]
        assert spec['sans'] == ['h', '::1', 'localhost', '127.0.0.1']

    def test_no_members_still_gives_the_clients(self):
        assert [s['name'] for s in f.etcd_cert_specs([], 1, 'x')] == ['healthcheck-client', 'apiserver-etcd-client']


NODE_FILES = [
    {'dest': '/etc/systemd/system/etcd.service', 'template': 'etcd.service.j2', 'owner': 'root', 'group': 'root', 'mode': '0644'},
    {'dest': '/etc/kubernetes/pki/etcd/ca.crt', 'src': 'ca-bundle.crt', 'owner': 'etcd', 'group': 'etcd', 'mode': '0644'},
    {'dest': '/etc/kubernetes/pki/etcd/server.key', 'src': 'members/o1/server.key', 'owner': 'etcd', 'group': 'etcd', 'mode': '0600'},
]


def stat(path, text, mode='0644', owner='etcd', group='etcd'):
    return {'path': path, 'checksum': hashlib.sha1(text.encode()).hexdigest(), 'mode': mode, 'pw_name': owner, 'gr_name': group}


class TestNodeFiles:
    def test_contents_from_templates_and_pki(self, tmp_path):
        (tmp_path / 'ca-bundle.crt').write_text('CA\n')
        contents = f.etcd_file_contents(NODE_FILES, str(tmp_path), {'etcd.service.j2': '[Unit]\n'})
        assert contents == {'/etc/systemd/system/etcd.service': '[Unit]\n', '/etc/kubernetes/pki/etcd/ca.crt': 'CA\n',
                            # Check mode on a fresh controller: not made yet.
                            '/etc/kubernetes/pki/etcd/server.key': ''}

    def test_missing_rendered_template_is_an_error(self, tmp_path):
        with pytest.raises(AnsibleFilterError, match='etcd.service.j2'):
            f.etcd_file_contents(NODE_FILES[:1], str(tmp_path), {})

    def test_files_to_write_compares_content_mode_owner_and_group(self):
        contents = {NODE_FILES[0]['dest']: 'unit', NODE_FILES[1]['dest']: 'CA', NODE_FILES[2]['dest']: 'KEY'}
        found = {'files': [stat(NODE_FILES[0]['dest'], 'unit', owner='root', group='root'),
                           stat(NODE_FILES[1]['dest'], 'CA', mode='0600'),
                           stat(NODE_FILES[2]['dest'], 'KEY', mode='0600')]}
        assert f.etcd_files_to_write(NODE_FILES, contents, found) == ['/etc/kubernetes/pki/etcd/ca.crt']
        found['files'][2]['gr_name'] = 'root'
        assert f.etcd_files_to_write(NODE_FILES, contents, found)[-1] == '/etc/kubernetes/pki/etcd/server.key'
        found['files'][0]['checksum'] = 'other'
        assert f.etcd_files_to_write(NODE_FILES, contents, found['files'])[0] == '/etc/systemd/system/etcd.service'

    def test_a_fresh_node_needs_every_file(self):
        contents = dict((x['dest'], '') for x in NODE_FILES)
        assert f.etcd_files_to_write(NODE_FILES, contents, {'files': []}) == [x['dest'] for x in NODE_FILES]

    def test_found_may_be_a_dict_by_path(self):
        spec = [{'dest': '/c', 'owner': 'root', 'group': 'etcd', 'mode': '0640'}]
        assert f.etcd_files_to_write(spec, {'/c': 'x'}, {'/c': stat('/c', 'x', '0640', 'root', 'etcd')}) == []


class TestMemberPlan:
    def plan(self, host, hostvars, lv, play_hosts=None, ms=None):
        play_hosts = HOSTS if play_hosts is None else play_hosts
        return f.etcd_member_plan(host, hostvars, play_hosts, ms or members(), lv, 'molecule')

    def test_brand_new_cluster_bootstraps_with_state_new(self):
        got = self.plan('o1', wal(o1=0, o2=0, o3=0), {})
        assert got['mode'] == 'bootstrap'
        assert got['config_initial'] == {'initial-cluster': f.etcd_initial_cluster(members()),
                                         'initial-cluster-state': 'new', 'initial-cluster-token': 'molecule'}
        assert not got['live_complete']

    def test_converged_cluster_keeps_the_initial_keys_it_has(self):
        hv = wal(o1=1, o2=1, o3=1)
        kept = {'initial-cluster': 'o1=https://old:2380', 'initial-cluster-state': 'new', 'initial-cluster-token': 'molecule'}
        hv['o2']['etcd_config_current'] = slurp(dict(kept, name='o2'))
        got = self.plan('o2', hv, live(voters=HOSTS))
        assert got == {'mode': 'existing', 'config_initial': kept, 'live_complete': True}

    def test_config_without_all_initial_keys_is_rewritten(self):
        hv = wal(o1=1, o2=1, o3=1)
        hv['o2']['etcd_config_current'] = slurp({'initial-cluster-state': 'new'})
        got = self.plan('o2', hv, live(voters=HOSTS))
        assert got['config_initial']['initial-cluster-state'] == 'existing'

    def test_skipped_slurp_is_no_config(self):
        hv = wal(o1=1, o2=1, o3=1)
        hv['o1']['etcd_config_current'] = {'skipped': True, 'changed': False}
        assert self.plan('o1', hv, live(voters=HOSTS))['config_initial']['initial-cluster-state'] == 'existing'

    def test_member_whose_data_dir_was_lost_joins(self):
        # molecule etcd: e3 stopped and its data removed; the live cluster still lists it.
        got = self.plan('o3', wal(o1=1, o2=1, o3=0), live(voters=HOSTS, healthy=False))
        assert got['mode'] == 'join'
        assert got['config_initial']['initial-cluster-state'] == 'existing'

    def test_new_hosts_of_a_scale_up_join(self):
        hosts = HOSTS + ['o4', 'o5']
        hv = wal(o1=1, o2=1, o3=1, o4=0, o5=0)
        got = [self.plan(h, hv, live(voters=HOSTS), hosts, members(hosts))['mode'] for h in hosts]
        assert got == ['existing', 'existing', 'existing', 'join', 'join']
        assert not self.plan('o1', hv, live(voters=HOSTS), hosts, members(hosts))['live_complete']

    def test_rebuilt_node_joins_even_if_no_member_answers_but_others_have_data(self):
        assert self.plan('o3', wal(o1=1, o2=1, o3=0), {})['mode'] == 'join'

    def test_member_with_data_but_cluster_down_is_existing(self):
        assert self.plan('o1', wal(o1=1, o2=1, o3=1), {'members': [], 'healthy': False})['mode'] == 'existing'

    def test_learner_with_data_is_promoted(self):
        got = self.plan('o3', wal(o1=1, o2=1, o3=1), live(voters=['o1', 'o2'], learners=['o3']))
        assert got['mode'] == 'promote' and not got['live_complete']

    def test_member_with_data_that_the_cluster_does_not_list_is_stale(self):
        assert self.plan('o3', wal(o1=1, o2=1, o3=1), live(voters=['o1', 'o2']))['mode'] == 'stale'

    def test_unstarted_member_of_the_cluster_is_not_a_voter(self):
        assert self.plan('o3', wal(o1=1, o2=1, o3=1), live(voters=['o1', 'o2'], unstarted=['x']))['mode'] == 'stale'

    def test_renamed_member_is_found_by_its_etcd_name(self):
        ms = members(o1={'etcd_name': 'alpha'})
        got = self.plan('o1', wal(o1=1, o2=1, o3=1), live(voters=['alpha', 'o2', 'o3']), ms=ms)
        assert got['mode'] == 'existing' and got['live_complete']

    def test_failed_host_outside_the_play_hosts_does_not_make_a_cluster_exist(self):
        # o2 failed before its WAL was looked at: it has no etcd_wal, and is not in the play hosts.
        got = self.plan('o1', {'o1': {'etcd_wal': {'matched': 0}}}, {}, play_hosts=['o1', 'o3'])
        assert got['mode'] == 'bootstrap'

    def test_unhealthy_live_cluster_is_not_complete(self):
        assert not self.plan('o1', wal(o1=1, o2=1, o3=1), live(voters=HOSTS, healthy=False))['live_complete']

    def test_broken_config_file_says_so(self):
        hv = wal(o1=1, o2=1, o3=1)
        hv['o1']['etcd_config_current'] = {'content': base64.b64encode(b'a: [').decode()}
        with pytest.raises(AnsibleFilterError, match='current etcd config file'):
            self.plan('o1', hv, live(voters=HOSTS))


class TestStartedAndExpectedEndpoints:
    def test_started_are_the_members_with_data_not_the_joiners(self):
        hv = {'o1': {'etcd_member_mode': 'existing'}, 'o2': {'etcd_member_mode': 'existing'}, 'o3': {'etcd_member_mode': 'join'}}
        got = f.etcd_started_endpoints(members(), hv, HOSTS, HOSTS, live(voters=HOSTS))
        assert got == ['https://10.0.0.1:2379', 'https://10.0.0.2:2379']

    def test_new_cluster_starts_all(self):
        hv = dict((h, {'etcd_member_mode': 'bootstrap'}) for h in HOSTS)
        assert len(f.etcd_started_endpoints(members(), hv, HOSTS, HOSTS, {})) == 3

    def test_failed_host_is_not_waited_for(self):
        hv = dict((h, {'etcd_member_mode': 'existing'}) for h in HOSTS)
        got = f.etcd_started_endpoints(members(), hv, ['o1', 'o3'], HOSTS, live(voters=HOSTS))
        assert got == ['https://10.0.0.1:2379', 'https://10.0.0.3:2379']

    def test_member_outside_the_run_counts_when_the_cluster_lists_it_started(self):
        hv = {'o1': {'etcd_member_mode': 'existing'}}
        assert f.etcd_started_endpoints(members(), hv, ['o1'], ['o1'], live(voters=['o1', 'o2'])) == [
            'https://10.0.0.1:2379', 'https://10.0.0.2:2379']
        assert f.etcd_started_endpoints(members(), hv, ['o1'], ['o1'], {}) == ['https://10.0.0.1:2379']

    def test_expected_at_each_turn_of_a_scale_up(self):
        hosts = HOSTS + ['o4', 'o5']
        hv = dict((h, {'etcd_member_mode': 'existing'}) for h in HOSTS)
        hv.update({'o4': {'etcd_member_mode': 'join'}, 'o5': {'etcd_member_mode': 'join'}})
        ms = members(hosts)
        at = dict((h, f.etcd_expected_endpoints(ms, hv, hosts, hosts, h)) for h in hosts)
        assert len(at['o1']) == 3 and len(at['o4']) == 4 and len(at['o5']) == 5

    def test_expected_leaves_out_failed_hosts_and_later_learners(self):
        hv = {'o1': {'etcd_member_mode': 'existing'}, 'o2': {}, 'o3': {'etcd_member_mode': 'promote'}}
        assert f.etcd_expected_endpoints(members(), hv, HOSTS, ['o1', 'o3'], 'o1') == ['https://10.0.0.1:2379']
        assert len(f.etcd_expected_endpoints(members(), hv, HOSTS, ['o1', 'o3'], 'o3')) == 2

    def test_expected_for_a_host_outside_the_play(self):
        assert len(f.etcd_expected_endpoints(members(), {}, HOSTS, HOSTS, 'elsewhere')) == 3


class TestJoinAndRestart:
    def test_joiners_in_order(self):
        hv = {'o1': {'etcd_member_mode': 'existing'}, 'o2': {'etcd_member_mode': 'promote'}, 'o3': {'etcd_member_mode': 'join'}}
        assert f.joining_hosts(hv, HOSTS) == ['o2', 'o3']
        assert f.joining_hosts(hv, []) == []

    def test_join_goes_through_the_first_member_that_had_data(self):
        hv = {'o1': {'etcd_member_mode': 'join'}, 'o2': {'etcd_member_mode': 'existing'}, 'o3': {'etcd_member_mode': 'existing'}}
        assert f.etcd_join_via(hv, HOSTS, 'o1') == 'o2'

    def test_join_via_falls_back_to_the_host_itself(self):
        assert f.etcd_join_via({'o1': {'etcd_member_mode': 'join'}}, ['o1'], 'o1') == 'o1'

    def loop(self, *items):
        return {'changed': any(c for c, dummy in items), 'results': [{'changed': c, 'item': i} for c, i in items]}

    def test_restart_for_changed_config_package_or_binaries(self):
        for i in range(3):
            results = [{'changed': False}] * 3 + [self.loop(), self.loop()]
            results[i] = {'changed': True}
            assert f.etcd_restart_needed(results, 'existing', {'changed': False})

    def test_restart_only_for_files_that_say_so(self):
        env = {'dest': '/etc/etcd/etcdctl.env', 'restart': False}
        cert = {'dest': '/etc/kubernetes/pki/etcd/server.crt', 'restart': True}
        assert not f.etcd_restart_needed([self.loop((True, env)), self.loop()], 'existing', {})
        assert f.etcd_restart_needed([self.loop((True, env)), self.loop((True, cert))], 'promote', {})
        assert not f.etcd_restart_needed([self.loop((False, cert))], 'existing', {})

    def test_loop_items_that_are_not_specs_count(self):
        assert f.etcd_restart_needed([self.loop((True, 'etcd'))], 'existing', {})

    def test_skipped_tasks_do_not_restart(self):
        assert not f.etcd_restart_needed([{'skipped': True, 'changed': False}, {}, None], 'existing', {})

    def test_no_restart_when_just_started_or_not_running_yet(self):
        changed = [{'changed': True}]
        assert not f.etcd_restart_needed(changed, 'existing', {'changed': True})
        for mode in ('join', 'bootstrap', 'stale'):
            assert not f.etcd_restart_needed(changed, mode, {'changed': False})

    def test_run_changed(self):
        quiet = {'etcd_member_mode': 'existing', 'etcd_restart_needed': False, 'etcd_start_result': {'changed': False}}
        assert not f.etcd_run_changed({'o1': quiet, 'o2': quiet}, ['o1', 'o2'])
        assert f.etcd_run_changed({'o1': quiet, 'o2': dict(quiet, etcd_restart_needed=True)}, ['o1', 'o2'])
        assert not f.etcd_run_changed({'o1': quiet, 'o2': dict(quiet, etcd_restart_needed=True)}, ['o1', 'o2'], started_only=True)
        assert f.etcd_run_changed({'o1': dict(quiet, etcd_start_result={'changed': True})}, ['o1'], started_only=True)
        assert f.etcd_run_changed({'o1': dict(quiet, etcd_member_mode='join')}, ['o1'])
        # A failed host has nothing registered.
        assert not f.etcd_run_changed({}, ['o2'])


class TestDay2:
    def test_removal_goes_through_the_first_other_member_that_answered(self):
        hv = {'o1': {'etcd_remove_live': {'members': []}}, 'o2': {'etcd_remove_live': {'members': [{'name': 'o1'}]}},
              'o3': {'etcd_remove_live': {'skipped': True}}}
        assert f.etcd_remove_via(hv, HOSTS, []) == 'o2'
        assert f.etcd_remove_via(hv, HOSTS, ['o2']) == ''
        assert f.etcd_remove_via(hv, ['o1', 'o3'], []) == ''

    def test_removed_host_is_never_the_way(self):
        hv = dict((h, {'etcd_remove_live': {'members': [{'name': h}]}}) for h in HOSTS)
        assert f.etcd_remove_via(hv, HOSTS, ['o1']) == 'o2'

    def names(self, prefix, *stamps):
        import datetime
        return [snapshot_file_name(prefix, datetime.datetime(2026, 1, 1, 0, 0, s), 100 + s) for s in stamps]

    def test_retention_keeps_the_newest_and_leaves_other_files_alone(self, tmp_path):
        names = self.names('etcd-snapshot', 1, 2, 3)
        for name in names + ['etcd-snapshot-notes.db', 'other-20260101T000000Z-rev1.db']:
            (tmp_path / name).write_text('x')
        doomed = f.etcd_snapshots_to_delete(str(tmp_path), 'etcd-snapshot', 2)
        assert doomed == [str(tmp_path / names[0])]
        # Nothing is deleted by the filter itself.
        assert sorted(os.listdir(str(tmp_path))) == sorted(names + ['etcd-snapshot-notes.db', 'other-20260101T000000Z-rev1.db'])

    def test_retention_with_fewer_snapshots_than_kept(self, tmp_path):
        for name in self.names('p', 1):
            (tmp_path / name).write_text('x')
        assert f.etcd_snapshots_to_delete(str(tmp_path), 'p', 5) == []

    def test_retention_of_a_directory_not_made_yet(self, tmp_path):
        assert f.etcd_snapshots_to_delete(str(tmp_path / 'none'), 'p', 1) == []

    def test_retention_refuses_a_negative_keep(self, tmp_path):
        with pytest.raises(AnsibleFilterError, match='etcd_backup_keep'):
            f.etcd_snapshots_to_delete(str(tmp_path), 'p', -1)

    def test_renewed_hosts(self):
        regenerated = [{'name': 'members/o2/server'}, {'name': 'members/o2/peer'}, {'name': 'apiserver-etcd-client'}]
        assert f.etcd_renewed_hosts(regenerated, HOSTS) == ['o2']
        assert f.etcd_renewed_hosts(regenerated + [{'name': 'healthcheck-client'}], HOSTS) == HOSTS
        assert f.etcd_renewed_hosts([{'name': 'ca'}], HOSTS) == []
        assert f.etcd_renewed_hosts(None, HOSTS) == []


def test_every_filter_is_registered():
    names = f.FilterModule().filters()
    assert names['etcd_member_plan'] is f.etcd_member_plan
    public = [n for n in dir(f) if n.startswith('etcd_') and callable(getattr(f, n)) and n != 'etcd_url_host']
    assert sorted(names) == sorted(public)
