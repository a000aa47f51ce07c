"""The rolling restart's gate and the unit check after a restart (plugins/filter/etcd.py):
etcd_roll_gate, etcd_unit_failure and etcd_journal_reason."""
from ansible_collections.ironstone.k8s.plugins.filter import etcd as f

HOSTS = ['o1', 'o2', 'o3']


def members(hosts=None):
    hosts = HOSTS if hosts is None else hosts
    hostvars = dict((h, {'etcd_address': '10.0.0.%d' % (i + 1)}) for i, h in enumerate(hosts))
    return f.etcd_members(hosts, hostvars, 2379, 2380)


def url(n):
    return 'https://10.0.0.%d:2379' % n


def modes(**by_host):
    return dict((h, {'etcd_member_mode': m}) for h, m in by_host.items())


# What etcd 3.4 (capnslog) and systemd write to the journal when a config is refused at start-up.
REFUSED = '\n'.join([
    'Stopping etcd key-value store (molecule-etcd)...',
    "2026-12-01 12:36:01.000001 N | pkg/osutil: received terminated signal, shutting down...",
    'etcd.service: Deactivated successfully.',
    'Stopped etcd key-value store (molecule-etcd).',
    'Starting etcd key-value store (molecule-etcd)...',
    "[WARNING] Deprecated '--logger=capnslog' flag is set; use '--logger=zap' flag instead",
    '2026-12-01 12:36:01.842817 I | etcdmain: Loading server configuration from "/etc/etcd/etcd.conf.yml".',
    '2026-12-01 12:36:01.842886 E | etcdmain: error verifying flags, unknown auto-compaction-mode "hourly". See \'etcd --help\'.',
    'etcd.service: Main process exited, code=exited, status=1/FAILURE',
    'etcd.service: Failed with result \'exit-code\'.',
    'Failed to start etcd key-value store (molecule-etcd).',
])
# The same under systemd: capnslog writes to journald without timestamp or level letter.
REFUSED_JOURNALD = '\n'.join([
    'Stopped etcd.service - etcd key-value store (molecule-etcd).',
    'Starting etcd.service - etcd key-value store (molecule-etcd)...',
    'Loading server configuration from "/etc/etcd/etcd.conf.yml". Other configuration command line flags and environment '
    'variables will be ignored if provided.',
    'error verifying flags, unknown auto-compaction-mode "hourly". See \'etcd --help\'.',
    'etcd.service: Main process exited, code=exited, status=1/FAILURE',
    "etcd.service: Failed with result 'exit-code'.",
    'Failed to start etcd.service - etcd key-value store (molecule-etcd).',
    'etcd.service: Scheduled restart job, restart counter is at 4.',
    'Stopped etcd.service - etcd key-value store (molecule-etcd).',
    'Starting etcd.service - etcd key-value store (molecule-etcd)...',
    'Loading server configuration from "/etc/etcd/etcd.conf.yml". Other configuration command line flags and environment '
    'variables will be ignored if provided.',
])
SHOW_OK = 'ActiveState=active\nSubState=running\nNRestarts=0\nResult=success\nExecMainStatus=0\n'
SHOW_LOOP = 'ActiveState=activating\nSubState=auto-restart\nNRestarts=2\nResult=exit-code\nExecMainStatus=1\n'


class TestRollGate(object):
    def test_a_failed_host_is_checked_and_named(self):
        # o1 failed at its turn: at o2's turn its endpoint is still checked, and o2 must stop.
        gate = f.etcd_roll_gate(members(), modes(o1='existing', o2='existing', o3='existing'), HOSTS, ['o2', 'o3'], 'o2')
        assert gate['failed'] == ['o1']
        assert gate['endpoints'] == [url(1), url(2), url(3)]
        assert gate['voters'] == HOSTS
        assert gate['touched_endpoints'] == [url(1)]
        assert gate['untouched'] == ['o3']

    def test_the_expected_endpoints_filter_leaves_the_failed_host_out_and_the_gate_does_not(self):
        hostvars = modes(o1='existing', o2='existing', o3='existing')
        assert url(1) not in f.etcd_expected_endpoints(members(), hostvars, HOSTS, ['o2', 'o3'], 'o2')
        assert url(1) in f.etcd_roll_gate(members(), hostvars, HOSTS, ['o2', 'o3'], 'o2')['endpoints']

    def test_members_restarted_or_rolled_earlier_are_touched(self):
        hostvars = modes(o1='existing', o2='existing', o3='existing')
        hostvars['o1']['etcd_restart_needed'] = True
        hostvars['o2']['etcd_rolled'] = ['the CA bundle']
        gate = f.etcd_roll_gate(members(), hostvars, HOSTS, HOSTS, 'o3')
        assert gate['failed'] == []
        assert gate['touched_endpoints'] == [url(1), url(2)]
        assert gate['untouched'] == []

    def test_untouched_members_are_not_touched(self):
        hostvars = modes(o1='existing', o2='existing', o3='existing')
        gate = f.etcd_roll_gate(members(), hostvars, HOSTS, HOSTS, 'o3')
        assert gate['touched_endpoints'] == []

    def test_members_that_join_later_are_not_expected_yet(self):
        hosts = HOSTS + ['o4', 'o5']
        hostvars = modes(o1='existing', o2='existing', o3='existing', o4='join', o5='promote')
        gate = f.etcd_roll_gate(members(hosts), hostvars, hosts, hosts, 'o2')
        assert gate['endpoints'] == [url(1), url(2), url(3)]
        assert gate['voters'] == HOSTS
        assert gate['untouched'] == ['o3', 'o4', 'o5']
        # At o5's turn o4 has joined: it counts and was touched.
        gate = f.etcd_roll_gate(members(hosts), hostvars, hosts, hosts, 'o5')
        assert gate['endpoints'] == [url(n) for n in range(1, 6)]
        assert gate['touched_endpoints'] == [url(4)]


class TestUnitFailure(object):
    def test_a_unit_that_runs_has_not_failed(self):
        assert f.etcd_unit_failure(SHOW_OK, REFUSED, {'changed': True}) == {
            'failed': False, 'state': 'active/running', 'restarts': 0, 'result': 'success', 'reason': ''}

    def test_a_restart_loop_fails_with_etcds_reason(self):
        out = f.etcd_unit_failure(SHOW_LOOP, REFUSED, {'failed': False})
        assert out['failed']
        assert out['state'] == 'activating/auto-restart'
        assert out['restarts'] == 2
        assert out['result'] == 'exit-code'
        assert out['reason'] == 'etcdmain: error verifying flags, unknown auto-compaction-mode "hourly". See \'etcd --help\'.'

    def test_a_failed_restart_fails_even_if_the_unit_looks_fine_now(self):
        out = f.etcd_unit_failure(SHOW_OK, '', {'failed': True, 'msg': 'Unable to restart service etcd: Job for etcd.service failed'})
        assert out['failed']
        assert out['reason'] == 'Unable to restart service etcd: Job for etcd.service failed'

    def test_the_status_dict_of_systemd_service(self):
        status = {'ActiveState': 'activating', 'SubState': 'auto-restart', 'NRestarts': '3', 'Result': 'exit-code', 'Id': 'etcd.service'}
        out = f.etcd_unit_failure(status, REFUSED_JOURNALD)
        assert out['failed'] and out['restarts'] == 3 and out['state'] == 'activating/auto-restart'
        assert out['reason'].startswith('error verifying flags, unknown auto-compaction-mode')
        running = {'ActiveState': 'active', 'SubState': 'running', 'NRestarts': '0', 'Result': 'success'}
        assert not f.etcd_unit_failure(running, REFUSED_JOURNALD)['failed']

    def test_restarts_since_the_restart_count(self):
        show = SHOW_OK.replace('NRestarts=0', 'NRestarts=1')
        assert f.etcd_unit_failure(show, REFUSED)['failed']

    def test_a_failed_unit_without_journal_says_so(self):
        out = f.etcd_unit_failure('ActiveState=failed\nSubState=failed\nNRestarts=0\nResult=exit-code\n', '')
        assert out['failed'] and out['state'] == 'failed/failed'
        assert out['reason'] == 'etcd wrote nothing to the journal'

    def test_unreadable_show_output_is_a_failure(self):
        # No state at all (systemctl could not be asked): not taken for a running unit.
        assert f.etcd_unit_failure('', '')['failed']


class TestJournalReason(object):
    def test_the_last_error_of_etcd_wins_over_systemds_lines(self):
        assert f.etcd_journal_reason(REFUSED).startswith('etcdmain: error verifying flags, unknown auto-compaction-mode')

    def test_under_journald_the_error_words_find_the_line(self):
        # The loop is starting again: the last line of etcd's is "Loading ...", not the reason.
        assert f.etcd_journal_reason(REFUSED_JOURNALD) == (
            'error verifying flags, unknown auto-compaction-mode "hourly". See \'etcd --help\'.')

    def test_critical_lines_count(self):
        text = '2026-12-01 12:36:01.993005 C | etcdmain: error parsing CompactionRetention: time: invalid duration "abc"'
        assert f.etcd_journal_reason(text) == 'etcdmain: error parsing CompactionRetention: time: invalid duration "abc"'

    def test_zap_json_lines(self):
        text = '{"level":"info","msg":"starting"}\n{"level":"fatal","ts":1.5,"caller":"etcdmain/etcd.go:271","msg":"discovery failed","error":"bad"}'
        assert f.etcd_journal_reason(text) == 'discovery failed: error=bad'

    def test_without_an_error_line_the_last_line_of_etcd(self):
        text = 'Starting etcd\nunexpected error setting up listen-metrics-urls: URL scheme must be http\netcd.service: Main process exited'
        assert f.etcd_journal_reason(text) == 'unexpected error setting up listen-metrics-urls: URL scheme must be http'

    def test_only_systemd_lines(self):
        assert f.etcd_journal_reason("etcd.service: Failed with result 'exit-code'.") == "etcd.service: Failed with result 'exit-code'."

    def test_trimmed(self):
        reason = f.etcd_journal_reason('2026-12-01 C | etcdmain: ' + 'x' * 1000)
        assert len(reason) == f.REASON_MAX and reason.endswith('...')
        assert f.etcd_journal_reason('a\n  b   c  \n', limit=4) == 'b c'

    def test_empty(self):
        assert f.etcd_journal_reason('') == ''
        assert f.etcd_journal_reason(None) == ''
        assert f.etcd_journal_reason('-- No entries --') == ''
