# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
"""etcd_config_problems: etcd's start-up rules and the keys etcd_extra_config may not change."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.ironstone.k8s.plugins.filter.etcd import (
    MAX_QUOTA_BACKEND_BYTES, PROTECTED_CONFIG_KEYS, etcd_config_problems)

# The role's defaults, as etcd_config_base renders them.
DEFAULTS = {
    'heartbeat-interval': 100,
    'election-timeout': 1000,
    'quota-backend-bytes': 8589934592,
    'snapshot-count': 10000,
    'client-transport-security': {'client-cert-auth': True, 'cert-file': '/etc/kubernetes/pki/etcd/server.crt'},
}


def config(**changes):
    merged = dict(DEFAULTS)
    merged.update({k.replace('_', '-'): v for k, v in changes.items()})
    return merged


def test_defaults_have_no_problem():
    assert etcd_config_problems(DEFAULTS, {}) == {'errors': [], 'warnings': []}


def test_quota_of_exactly_8_gib_is_allowed():
    assert MAX_QUOTA_BACKEND_BYTES == 8589934592
    assert etcd_config_problems(config(quota_backend_bytes=MAX_QUOTA_BACKEND_BYTES))['errors'] == []


def test_election_under_5_heartbeats_is_refused_with_the_fix():
    # The operator's case: heartbeat 2000 with election 1000, which etcd refuses at start-up.
    errors = etcd_config_problems(config(heartbeat_interval=2000, election_timeout=1000))['errors']
    assert len(errors) == 1
    assert 'election-timeout 1000 ms' in errors[0]
    assert 'heartbeat-interval 2000 ms' in errors[0]
    assert 'etcd_election_timeout to at least 10000' in errors[0]
    assert 'recommends 20000' in errors[0]


@pytest.mark.parametrize('election', [500, 999])
def test_election_between_5_and_10_heartbeats_warns_only(election):
    problems = etcd_config_problems(config(heartbeat_interval=100, election_timeout=election))
    assert problems['errors'] == []
    assert len(problems['warnings']) == 1 and 'recommends' in problems['warnings'][0]


def test_election_just_under_5_heartbeats_is_refused():
    assert len(etcd_config_problems(config(heartbeat_interval=100, election_timeout=499))['errors']) == 1


@pytest.mark.parametrize('quota', [0, -1, MAX_QUOTA_BACKEND_BYTES + 1, 'lots', None])
def test_bad_quota_is_refused(quota):
    errors = etcd_config_problems(config(quota_backend_bytes=quota))['errors']
    assert len(errors) == 1 and 'etcd_quota_backend_bytes' in errors[0]


@pytest.mark.parametrize('count', [0, -5, 'x', None, True])
def test_bad_snapshot_count_is_refused(count):
    errors = etcd_config_problems(config(snapshot_count=count))['errors']
    assert len(errors) == 1 and 'etcd_snapshot_count' in errors[0]


@pytest.mark.parametrize('key', ['heartbeat_interval', 'election_timeout'])
def test_non_positive_timing_is_refused(key):
    errors = etcd_config_problems(config(**{key: 0}))['errors']
    assert any(key.replace('_', '-') in e for e in errors)


def test_values_given_as_strings_are_read_as_numbers():
    assert etcd_config_problems(config(heartbeat_interval='100', election_timeout='1000'))['errors'] == []


@pytest.mark.parametrize('key', PROTECTED_CONFIG_KEYS)
def test_managed_key_in_extra_config_is_refused_by_name(key):
    errors = etcd_config_problems(DEFAULTS, {key: 'x'})['errors']
    assert len(errors) == 1
    assert 'etcd_extra_config sets %s,' % key in errors[0]
    assert 'etcd_extra_config_unsafe: true' in errors[0]


def test_switching_off_client_cert_auth_is_refused():
    extra = {'client-transport-security': {'client-cert-auth': False}}
    errors = etcd_config_problems(DEFAULTS, extra)['errors']
    assert errors and 'client-transport-security' in errors[0]


def test_opt_in_allows_managed_keys_but_not_etcd_rule_breaks():
    extra = {'listen-client-urls': 'http://0.0.0.0:2379'}
    assert etcd_config_problems(DEFAULTS, extra, allow_unsafe=True)['errors'] == []
    bad = config(heartbeat_interval=300, election_timeout=1000)
    assert len(etcd_config_problems(bad, extra, allow_unsafe=True)['errors']) == 1


def test_other_extra_keys_pass():
    extra = {'max-request-bytes': 10485760, 'experimental-initial-corrupt-check': True}
    assert etcd_config_problems(DEFAULTS, extra) == {'errors': [], 'warnings': []}


def test_several_problems_are_all_reported():
    bad = config(heartbeat_interval=2000, election_timeout=1000, snapshot_count=0)
    errors = etcd_config_problems(bad, {'peer-transport-security': {}})['errors']
    assert len(errors) == 3


def test_extra_config_that_is_not_a_dict_is_refused():
    errors = etcd_config_problems(DEFAULTS, ['a', 'b'])['errors']
    assert len(errors) == 1 and 'must be a dict' in errors[0]
