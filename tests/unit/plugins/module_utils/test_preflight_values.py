# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# Unit tests for plugins/module_utils/preflight/values.py: strict checks of one
# value against one argument-spec option (type, list elements, choices, ranges).

import pytest

from ansible_collections.ironstone.k8s.plugins.module_utils.preflight import values

HOST = 'node1'


def check(name, value, option):
    return values.problems(name, value, option, HOST)


def one(name, value, option):
    found = check(name, value, option)
    assert len(found) == 1, found
    return found[0]


def assert_sentence(message):
    assert '\n' not in message
    assert message.endswith(('.', '?')), message


# --- as_bool / as_int ---------------------------------------------------------

@pytest.mark.parametrize('value, expected', [
    (True, True), (False, False),
    ('true', True), ('True', True), ('yes', True), ('on', True), ('1', True), (' YES ', True),
    ('false', False), ('no', False), ('off', False), ('0', False), ('Off', False),
])
def test_as_bool_accepts_booleans_and_their_words(value, expected):
    assert values.as_bool(value) == (True, expected)


@pytest.mark.parametrize('value', ['maybe', '', 'truee', 1, 0, None, [], {}, 1.0])
def test_as_bool_refuses_other_values(value):
    assert values.as_bool(value) == (False, None)


@pytest.mark.parametrize('value, expected', [
    (0, 0), (12, 12), (-3, -3), ('12', 12), (' 42 ', 42), ('+7', 7), ('-7', -7), (3.0, 3),
])
def test_as_int_accepts_whole_numbers_and_digit_strings(value, expected):
    ok, number = values.as_int(value)
    assert ok is True
    assert number == expected
    assert isinstance(number, int) and not isinstance(number, bool)


@pytest.mark.parametrize('value', [True, False, '12a', '1.5', 1.5, '', 'ten', None, [1], {'a': 1}])
def test_as_int_refuses_bools_and_non_digits(value):
    assert values.as_int(value) == (False, None)


# --- str / path ---------------------------------------------------------------

@pytest.mark.parametrize('kind', ['str', 'path'])
def test_string_accepted(kind):
    assert check('etcd_data_dir', '/var/lib/etcd', {'type': kind}) == []


@pytest.mark.parametrize('kind', ['str', 'path'])
def test_string_refuses_a_list(kind):
    message = one('etcd_data_dir', ['/a', '/b'], {'type': kind})
    assert message.startswith('etcd_data_dir is a list ')
    assert "'/a'" in message
    assert 'one value is expected' in message
    assert 'on node1' in message
    assert 'must be a string' in message
    assert_sentence(message)


def test_string_refuses_a_dict():
    message = one('etcd_name', {'a': 1}, {'type': 'str'})
    assert message.startswith('etcd_name is a dict ')
    assert 'one value is expected' in message


def test_string_is_the_default_type():
    message = one('etcd_name', 5, {})
    assert 'must be a string' in message


def test_string_refuses_a_number_with_the_quoting_hint():
    message = one('container_runtime_docker_log_max_size', 100, {'type': 'str'})
    assert 'is a number 100' in message
    assert 'YAML reads an unquoted number as a number' in message
    assert 'write one value in quotes' in message
    assert_sentence(message)


def test_string_refuses_a_decimal_with_the_quoting_hint():
    message = one('container_runtime_sandbox_image', 3.1, {'type': 'str'})
    assert 'is a decimal number 3.1' in message
    assert 'unquoted number' in message


def test_string_refuses_a_boolean_with_the_yes_no_hint():
    message = one('container_runtime_swap', False, {'type': 'str', 'choices': ['off', 'ignore']})
    assert 'is a boolean False' in message
    assert 'unquoted yes/no/on/off as a boolean' in message
    assert_sentence(message)


def test_string_refuses_null():
    message = one('etcd_name', None, {'type': 'str'})
    assert 'is empty (null)' in message


def test_raw_accepts_anything():
    for value in (None, [1], {'a': 1}, True, 'x'):
        assert check('anything', value, {'type': 'raw'}) == []


# --- bool ---------------------------------------------------------------------

@pytest.mark.parametrize('value', [True, False, 'true', 'false', 'yes', 'no', 'on', 'off', '1', '0'])
def test_bool_accepts_booleans_and_words(value):
    assert check('etcd_confirm', value, {'type': 'bool'}) == []


def test_bool_refuses_maybe():
    message = one('etcd_confirm', 'maybe', {'type': 'bool'})
    assert message == "etcd_confirm is 'maybe' on node1, which is not a boolean; write true or false."


@pytest.mark.parametrize('value', [2, 1, [True], {'x': True}, None, 'y'])
def test_bool_refuses_non_booleans(value):
    message = one('etcd_confirm', value, {'type': 'bool'})
    assert 'not a boolean' in message
    assert_sentence(message)


# --- int ----------------------------------------------------------------------

@pytest.mark.parametrize('value', [5, '5', ' 12 ', 0, 7.0])
def test_int_accepts_numbers_and_digit_strings(value):
    assert check('etcd_backup_keep_x', value, {'type': 'int'}) == []


@pytest.mark.parametrize('value, shown', [
    (True, 'a boolean True'), (False, 'a boolean False'), ('12a', "a string '12a'"),
    (1.5, 'a decimal number 1.5'), ([1], 'a list [1]'),
])
def test_int_refuses_bools_and_non_digits(value, shown):
    message = one('etcd_health_timeout', value, {'type': 'int'})
    assert message == ('etcd_health_timeout is %s on node1, but it must be a whole number; write digits only.' % shown)


# --- float --------------------------------------------------------------------

@pytest.mark.parametrize('value', [1, 1.5, '2.5', '3'])
def test_float_accepts_numbers(value):
    assert check('ratio', value, {'type': 'float'}) == []


@pytest.mark.parametrize('value', ['abc', [1.0], None, True, False])
def test_float_refuses_non_numbers_and_booleans(value):
    message = one('ratio', value, {'type': 'float'})
    assert 'must be a number' in message
    assert_sentence(message)


# --- list / dict --------------------------------------------------------------

def test_list_accepted():
    assert check('etcd_packages', ['etcd-server'], {'type': 'list', 'elements': 'str'}) == []


def test_list_refuses_a_string_and_shows_the_list_form():
    message = one('etcd_packages', 'etcd-server', {'type': 'list', 'elements': 'str'})
    assert message == ("etcd_packages is a string 'etcd-server' on node1, but it must be a list; "
                       "write it as ['etcd-server'] even for one item.")


def test_list_refuses_a_dict():
    message = one('etcd_packages', {'a': 1}, {'type': 'list'})
    assert 'is a dict' in message
    assert 'must be a list' in message


def test_list_elements_are_checked_each_with_its_index():
    found = check('etcd_packages', ['etcd-server', 5, ['x']], {'type': 'list', 'elements': 'str'})
    assert len(found) == 2
    assert found[0].startswith('etcd_packages[1] is a number 5')
    assert found[1].startswith("etcd_packages[2] is a list ['x']")


def test_list_without_elements_accepts_mixed_items():
    assert check('anything', [1, 'a', None], {'type': 'list'}) == []


def test_dict_accepted():
    assert check('container_runtime_sysctls', {'net.ipv4.ip_forward': '1'}, {'type': 'dict'}) == []


def test_dict_refuses_a_list():
    message = one('container_runtime_sysctls', ['net.ipv4.ip_forward=1'], {'type': 'dict'})
    assert message == ("container_runtime_sysctls is a list ['net.ipv4.ip_forward=1'] on node1, "
                       "but it must be a dict (key: value pairs).")


def test_dict_refuses_a_string():
    message = one('etcd_extra_config', 'a: 1', {'type': 'dict'})
    assert 'is a string' in message and 'must be a dict' in message


# --- choices ------------------------------------------------------------------

ENGINE = {'type': 'str', 'choices': ['containerd', 'docker']}


def test_choice_accepted():
    assert check('container_runtime_engine', 'docker', ENGINE) == []


def test_choice_refused_names_the_choices():
    message = one('container_runtime_engine', 'podman', ENGINE)
    assert message == ("container_runtime_engine is 'podman' on node1, which is not one of containerd, docker; "
                       "write one of those.")


def test_choice_is_case_sensitive():
    assert 'not one of' in one('container_runtime_engine', 'Docker', ENGINE)


def test_wrong_type_is_reported_instead_of_the_choice():
    message = one('container_runtime_engine', ['docker'], ENGINE)
    assert 'must be a string' in message
    assert 'not one of' not in message


def test_int_choice_accepts_its_digit_string():
    option = {'type': 'int', 'choices': [1, 3, 5]}
    assert check('members', '3', option) == []
    assert check('members', 3, option) == []
    assert 'not one of 1, 3, 5' in one('members', '4', option)


STAGES = {'type': 'list', 'elements': 'str', 'choices': ['runtime', 'etcd', 'storage']}


def test_list_elements_with_choices_accepted():
    assert check('preflight_stages', ['runtime', 'etcd'], STAGES) == []
    assert check('preflight_stages', [], STAGES) == []


def test_list_elements_with_choices_each_refused():
    found = check('preflight_stages', ['runtime', 'etc', 'storag'], STAGES)
    assert found == [
        "preflight_stages[1] is 'etc' on node1, which is not one of runtime, etcd, storage; write one of those.",
        "preflight_stages[2] is 'storag' on node1, which is not one of runtime, etcd, storage; write one of those.",
    ]


def test_list_element_of_wrong_type_is_reported_once_not_also_as_a_choice():
    found = check('preflight_stages', [True], STAGES)
    assert len(found) == 1
    assert found[0].startswith('preflight_stages[0] is a boolean True')


# --- ranges -------------------------------------------------------------------

@pytest.mark.parametrize('name', ['etcd_client_port', 'etcd_peer_port', 'etcd_metrics_port'])
@pytest.mark.parametrize('value', [1, 2379, 65535, '2380'])
def test_ports_in_range(name, value):
    assert check(name, value, {'type': 'int'}) == []


@pytest.mark.parametrize('value, shown', [(0, 0), (65536, 65536), ('70000', 70000), (-1, -1)])
def test_ports_out_of_range(value, shown):
    message = one('etcd_client_port', value, {'type': 'int'})
    assert message == ('etcd_client_port is %d on node1, which is out of range; it must be between 1 and 65535.' % shown)


def test_quota_over_8_gib_refused():
    limit = 8 * 1024 ** 3
    assert check('etcd_quota_backend_bytes', limit, {'type': 'int'}) == []
    message = one('etcd_quota_backend_bytes', limit + 1, {'type': 'int'})
    assert 'out of range' in message
    assert 'between 1 and %d' % limit in message


def test_zero_snapshot_count_refused_with_no_upper_bound():
    message = one('etcd_snapshot_count', 0, {'type': 'int'})
    assert message == 'etcd_snapshot_count is 0 on node1, which is out of range; it must be at least 1.'
    assert check('etcd_snapshot_count', 10 ** 9, {'type': 'int'}) == []


def test_renew_before_days_may_be_zero():
    assert check('etcd_cert_renew_before_days', 0, {'type': 'int'}) == []
    assert 'out of range' in one('etcd_cert_renew_before_days', -1, {'type': 'int'})


def test_variables_without_a_range_take_any_whole_number():
    assert check('some_other_count', 10 ** 12, {'type': 'int'}) == []


def test_range_not_checked_when_type_is_wrong():
    message = one('etcd_client_port', '70000a', {'type': 'int'})
    assert 'whole number' in message
    assert 'out of range' not in message


# --- wording ------------------------------------------------------------------

def test_long_values_are_shortened():
    message = one('etcd_packages', 'x' * 200, {'type': 'list'})
    assert 'x' * 200 not in message
    assert '...' in message
    assert_sentence(message)


@pytest.mark.parametrize('value, option', [
    ('containerd\n', ENGINE),
    ('a\nb', {'type': 'list'}),
    ('line1\nline2', {'type': 'bool'}),
    ('1\n2', {'type': 'int'}),
])
def test_a_value_with_a_newline_stays_one_line(value, option):
    # A YAML block scalar (|) ends in a newline; the message must still be one line.
    message = one('container_runtime_engine', value, option)
    assert_sentence(message)
    assert '\\n' in message


def test_where_is_used_verbatim():
    message = values.problems('etcd_confirm', 'maybe', {'type': 'bool'}, 'a, b and c')[0]
    assert ' on a, b and c, ' in message
