# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# Unit tests for plugins/filter/preflight.py: preflight_unreachable, the one
# sentence per stage host that the preflight ping could not reach.

import pytest

from ansible_collections.ironstone.k8s.plugins.filter import preflight
from ansible_collections.ironstone.k8s.plugins.filter.preflight import preflight_unreachable

TAIL = '; check that it is up and that ansible_host, ansible_user and the connection settings are right.'
OK = {'preflight_ping': {'ping': 'pong', 'changed': False}}


def test_registered_as_a_filter():
    assert preflight.FilterModule().filters() == {'preflight_unreachable': preflight_unreachable,
                                                  'preflight_version_skew': preflight.preflight_version_skew}


def test_every_host_answered():
    hostvars = {'a': OK, 'b': OK}
    assert preflight_unreachable(['a', 'b'], hostvars, ['a', 'b']) == []


def test_unreachable_host_with_its_message():
    hostvars = {'a': OK, 'b': {'preflight_ping': {
        'unreachable': True, 'changed': False,
        'msg': 'Failed to connect to the host via ssh: ssh: connect to host 10.0.0.2 port 22: Connection refused\n'}}}
    assert preflight_unreachable(['a', 'b'], hostvars, ['a', 'b']) == [
        'b is unreachable: Failed to connect to the host via ssh: ssh: connect to host 10.0.0.2 port 22: '
        'Connection refused' + TAIL]


def test_deserialization_failure_uses_module_stderr():
    hostvars = {'a': {'preflight_ping': {
        'failed': True,
        'msg': 'Module result deserialization failed: No start of json char found',
        'module_stderr': '\nError response from daemon: container abc is not running\nmore\n',
        'module_stdout': 'ignored'}}}
    assert preflight_unreachable(['a'], hostvars, ['a']) == [
        'a is unreachable: Error response from daemon: container abc is not running' + TAIL]


def test_module_failure_falls_back_to_module_stdout():
    hostvars = {'a': {'preflight_ping': {
        'failed': True, 'msg': 'MODULE FAILURE\nSee stdout/stderr for the exact error',
        'module_stderr': '', 'module_stdout': 'Welcome to node a!\n'}}}
    assert preflight_unreachable(['a'], hostvars, ['a']) == ['a is unreachable: Welcome to node a!' + TAIL]


def test_deserialization_failure_without_output_keeps_the_message():
    hostvars = {'a': {'preflight_ping': {'failed': True, 'msg': 'Module result deserialization failed.'}}}
    assert preflight_unreachable(['a'], hostvars, ['a']) == [
        'a is unreachable: Module result deserialization failed' + TAIL]


def test_no_message_at_all():
    hostvars = {'a': {'preflight_ping': {'unreachable': True}}}
    assert preflight_unreachable(['a'], hostvars, ['a']) == ['a is unreachable: no answer' + TAIL]


def test_hosts_outside_the_stages_are_ignored():
    down = {'preflight_ping': {'unreachable': True, 'msg': 'timed out'}}
    hostvars = {'a': down, 'b': down, 'c': OK}
    assert preflight_unreachable(['a', 'b', 'c'], hostvars, ['b', 'c']) == ['b is unreachable: timed out' + TAIL]
    assert preflight_unreachable(['a', 'b'], hostvars, []) == []
    assert preflight_unreachable(['a', 'b'], hostvars, None) == []


def test_hosts_in_play_order():
    down = {'preflight_ping': {'unreachable': True, 'msg': 'down'}}
    hostvars = {'x': down, 'y': down}
    found = preflight_unreachable(['y', 'x'], hostvars, ['x', 'y'])
    assert [m.split(' ')[0] for m in found] == ['y', 'x']


def test_skipped_or_missing_results_are_not_unreachable():
    hostvars = {'a': {'preflight_ping': {'skipped': True}}, 'b': {}}
    assert preflight_unreachable(['a', 'b', 'c'], hostvars, ['a', 'b', 'c']) == []


def test_other_register_name():
    hostvars = {'a': {'ping2': {'unreachable': True, 'msg': 'gone'}, 'preflight_ping': OK['preflight_ping']}}
    assert preflight_unreachable(['a'], hostvars, ['a'], 'ping2') == ['a is unreachable: gone' + TAIL]
    assert preflight_unreachable(['a'], hostvars, ['a']) == []


def test_long_message_is_cut_and_one_line():
    hostvars = {'a': {'preflight_ping': {'unreachable': True, 'msg': 'x' * 500 + '\nsecond line'}}}
    message = preflight_unreachable(['a'], hostvars, ['a'])[0]
    assert '\n' not in message
    assert 'x' * 198 not in message
    assert 'x' * 197 + '...' + TAIL in message


@pytest.mark.parametrize('hosts', [None, []])
def test_no_hosts(hosts):
    assert preflight_unreachable(hosts, {}, ['a']) == []


def test_a_failed_raw_probe_is_reported_with_what_the_connection_said():
    hostvars = {'cp1': {'preflight_ping': {'failed': True, 'rc': 1, 'msg': 'non-zero return code',
                                           'stderr': 'Error response from daemon: No such container: gone\n'}}}
    found = preflight_unreachable(['cp1'], hostvars, ['cp1'])
    assert found == ['cp1 is unreachable: Error response from daemon: No such container: gone; check that it is up and '
                     'that ansible_host, ansible_user and the connection settings are right.']


def test_version_skew_refuses_two_minors_ahead_and_downgrades():
    skew = preflight.preflight_version_skew
    hostvars = {
        'a': {'preflight_kubelet_version': {'stdout': 'Kubernetes v1.32.3'}},
        'b': {'preflight_kubelet_version': {'stdout': 'Kubernetes v1.33.1 STAND-IN (ironstone.k8s lab)'}},
        'c': {'preflight_kubelet_version': {'stdout': ''}},
        'd': {},
    }
    versions = {'a': '1.34.0', 'b': '1.34.0', 'c': '1.36.0', 'd': '1.36.0'}
    assert skew(['a', 'b', 'c', 'd'], hostvars, versions) == [
        'a runs kubelet 1.32.3, but kube_version is 1.34.0, 2 minor releases ahead; upgrade one minor at a time '
        '(playbooks/upgrade.yml), or pin kube_version to 1.33.x for this node.']
    assert skew(['a'], hostvars, {'a': '1.31.2'}) == [
        'a runs kubelet 1.32.3, but kube_version is 1.31.2, an older minor; Kubernetes is not downgraded: pin '
        'kube_version to the version the cluster runs.']
    assert skew(['a'], hostvars, {'a': '1.33.0'}) == []
