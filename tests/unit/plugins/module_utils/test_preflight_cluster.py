# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# Unit tests for plugins/module_utils/preflight/cluster.py: the rules of the control_plane
# and nodes stages, through inventory.check. The control_plane and node_join roles'
# argument specs are faked here with the variables (and defaults) those roles declare.

import copy
import glob
import os

import pytest
import yaml

from ansible_collections.ironstone.k8s.plugins.module_utils.preflight import cluster, inventory

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
SHA = 'a' * 64


def _load_specs():
    specs = {}
    for path in sorted(glob.glob(os.path.join(ROOT, 'roles', '*', 'meta', 'argument_specs.yml'))):
        role = os.path.basename(os.path.dirname(os.path.dirname(path)))
        with open(path) as handle:
            specs[role] = yaml.safe_load(handle)['argument_specs']
    return specs


REAL_SPECS = _load_specs()
FAKE_SPECS = {
    'control_plane': {'main': {'options': {
        'kube_pod_subnet': {'type': 'str', 'default': '10.244.0.0/16'},
        'kube_service_subnet': {'type': 'str', 'default': '10.96.0.0/12'},
        'kube_apiserver_endpoint': {'type': 'str', 'default': ''},
        'kube_apiserver_port': {'type': 'int', 'default': 6443},
        'kube_control_plane_allow_even': {'type': 'bool', 'default': False},
        'kube_node_address': {'type': 'str', 'default': "{{ ansible_host }}"},
    }}},
    'node_join': {'main': {'options': {
        'kube_node_labels': {'type': 'dict', 'default': {}},
        'kube_node_taints': {'type': 'dict', 'default': {}},
        'edge_region': {'type': 'str', 'default': ''},
        'edge_zone': {'type': 'str', 'default': ''},
        'edge_taint': {'type': 'bool', 'default': True},
    }}},
}
SPECS = dict(REAL_SPECS, **{k: v for k, v in FAKE_SPECS.items() if k not in REAL_SPECS})
INTERNAL = {'etcd_client_url', 'etcd_cluster_members', 'preflight_ping', 'container_runtime_mirrors'}
STAGES = ['control_plane', 'nodes']

BASE_GROUPS = {
    'all': ['cp1', 'w1', 'x1', 'e1', 'e2', 'e3'],
    'ungrouped': [],
    'etcd': ['e1', 'e2', 'e3'],
    'kube_control_plane': ['cp1'],
    'kube_node': ['w1'],
    'edge': ['x1'],
}
BASE_VARS = {
    'cp1': {'ansible_host': '10.0.0.10'},
    'w1': {'ansible_host': '10.0.0.20'},
    'x1': {'ansible_host': '10.0.0.30'},
    'e1': {'ansible_host': '10.0.0.1', 'etcd_address': '10.0.0.1'},
    'e2': {'ansible_host': '10.0.0.2', 'etcd_address': '10.0.0.2'},
    'e3': {'ansible_host': '10.0.0.3', 'etcd_address': '10.0.0.3'},
}


def run(set_vars=None, groups=None, stages=None, base_vars=None, specs=None, **kw):
    """check() of the base inventory with set_vars ({host: {name: value}}, 'all' for every host) merged in."""
    host_vars = copy.deepcopy(BASE_VARS if base_vars is None else base_vars)
    for host, extra in (set_vars or {}).items():
        for target in (host_vars if host == 'all' else [host]):
            host_vars.setdefault(target, {}).update(extra)
    kw.setdefault('path_exists', lambda path: True)
    kw.setdefault('git_root', lambda path: None)
    kw.setdefault('home', '/home/op')
    return inventory.check(SPECS if specs is None else specs, INTERNAL, host_vars,
                           copy.deepcopy(BASE_GROUPS if groups is None else groups),
                           STAGES if stages is None else stages, **kw)


def errors(*args, **kw):
    return run(*args, **kw)['errors']


def only(messages, text):
    found = [m for m in messages if text in m]
    assert len(found) == 1, (text, messages)
    return found[0]


def assert_sentences(result):
    for message in result['errors'] + result['warnings']:
        assert '\n' not in message and '{host}' not in message and inventory.HOSTS not in message, message
        assert message.endswith('.'), message


def with_hosts(names, group, **more):
    """Groups and host variables with the extra hosts names added to group."""
    groups = copy.deepcopy(BASE_GROUPS)
    base = copy.deepcopy(BASE_VARS)
    for index, name in enumerate(names):
        groups['all'].append(name)
        groups.setdefault(group, []).append(name)
        base[name] = {'ansible_host': '10.0.1.%d' % (index + 1)}
    for group_name, hosts in more.items():
        groups[group_name] = hosts
    return groups, base


# --- the base --------------------------------------------------------------------

def test_the_fake_specs_are_only_used_where_the_roles_are_missing():
    for role in FAKE_SPECS:
        assert (SPECS[role] is REAL_SPECS[role]) if role in REAL_SPECS else (SPECS[role] is FAKE_SPECS[role])


def test_the_stages_are_known_and_target_their_groups():
    assert ('control_plane', 'main', ('kube_control_plane',)) in inventory.STAGES['control_plane']
    assert ('node_join', 'main', ('kube_node', 'edge')) in inventory.STAGES['nodes']
    for stage in ('kube_packages', 'control_plane', 'nodes'):
        assert ('kube_common', 'main', inventory.KUBE_GROUPS) in inventory.STAGES[stage]
    assert 'edge_' in inventory.PREFIXES


def test_a_clean_inventory_has_no_problems():
    result = run()
    assert result['errors'] == [] and result['warnings'] == []


@pytest.mark.parametrize('stages', [['control_plane'], ['nodes'], STAGES])
def test_check_works_without_the_control_plane_and_node_join_specs(stages):
    # The rules fall back to their own defaults; the variables are unknown to the other specs.
    specs = {k: v for k, v in REAL_SPECS.items() if k not in ('control_plane', 'node_join', 'kube_common')}
    assert run(specs=specs, stages=stages)['errors'] == []
    found = run({'cp1': {'kube_version': '1.30.0'}}, specs=specs, stages=stages)['errors']
    if 'control_plane' in stages:
        only(found, "cp1 sets kube_version '1.30.0'")
    found = errors({'all': {'kube_pod_subnet': '10.96.0.0/16'}}, specs=specs, stages=stages)
    only(found, 'kube_pod_subnet is set on cp1, w1, x1, e1, e2 and e3 but is not a variable of any role')
    only(found, "kube_pod_subnet '10.96.0.0/16' and kube_service_subnet '10.96.0.0/12' overlap")


def test_rules_are_off_without_their_stages():
    bad = {'all': {'kube_version': '1.30.0', 'kube_pod_subnet': '10.96.0.0/16'}}
    assert errors(bad, stages=['runtime', 'etcd', 'storage']) == []


def test_edge_misspelling_is_an_unknown_variable():
    found = errors({'x1': {'edge_regoin': 'eu-west'}})
    assert found == ['edge_regoin is set on x1 but is not a variable of any role; did you mean edge_region?']


def test_edge_variables_are_known():
    assert errors({'x1': {'edge_region': 'eu-west', 'edge_zone': 'eu-west-1a', 'edge_taint': False}}) == []


# --- a. kube_version -------------------------------------------------------------

@pytest.mark.parametrize('version', ['1.30.0', '1.38.1', '1.24.0'])
def test_kube_version_outside_the_supported_range(version):
    message = only(errors({'all': {'kube_version': version}}), 'kube_version')
    # '{host} sets', as the kube_packages rules write it.
    assert message == ("cp1, w1 and x1 sets kube_version '%s', but ironstone.k8s supports Kubernetes 1.31 to 1.37 only; "
                       "choose a release in that range." % version)
    assert (cluster.MIN_MINOR, cluster.MAX_MINOR) == (31, 37)


@pytest.mark.parametrize('version', ['1.31.0', '1.32.3', '1.37.9'])
def test_kube_version_inside_the_range(version):
    assert errors({'all': {'kube_version': version}}) == []


def test_kube_version_on_the_hosts_of_the_enabled_stages_only():
    found = errors({'cp1': {'kube_version': '1.30.0'}, 'w1': {'kube_version': '1.38.0'}}, stages=['nodes'])
    assert found == ["w1 sets kube_version '1.38.0', but ironstone.k8s supports Kubernetes 1.31 to 1.37 only; "
                     "choose a release in that range."]


def test_malformed_kube_version_is_left_to_the_kube_packages_rule():
    assert errors({'cp1': {'kube_version': '1.30'}}, stages=['control_plane']) == []
    found = errors({'cp1': {'kube_version': '1.30'}}, stages=['control_plane', 'kube_packages'])
    assert len(found) == 1 and 'X.Y.Z' in found[0]


# --- b. subnets ------------------------------------------------------------------

@pytest.mark.parametrize('name', ['kube_pod_subnet', 'kube_service_subnet'])
@pytest.mark.parametrize('value', ['10.244.0.0', '10.244.0.0/33', 'ten/8', '', '10.0.0.0/8,10.1.0.0/16'])
def test_invalid_subnet_refused(name, value):
    message = only(errors({'all': {name: value}}), "%s is '%s' on" % (name, value))
    assert message == ("%s is '%s' on cp1, w1 and x1, which is not a CIDR such as %s (or a dual-stack "
                       "pair 'IPv4/N,IPv6/N'); write a network address and a prefix length."
                       % (name, value, cluster.VARIABLES[name][1]))


@pytest.mark.parametrize('pod, service', [
    ('10.244.0.0/16', '10.96.0.0/12'),
    ('192.168.0.0/16', '172.16.0.0/16'),
    ('10.244.0.0/16,fd00:10:244::/56', '10.96.0.0/12,fd00:10:96::/112'),
])
def test_valid_subnets_accepted(pod, service):
    result = run({'all': {'kube_pod_subnet': pod, 'kube_service_subnet': service}})
    assert result['errors'] == [] and result['warnings'] == []


def test_subnet_with_host_bits_warns():
    result = run({'all': {'kube_pod_subnet': '10.244.1.0/16'}})
    assert result['errors'] == []
    assert result['warnings'] == ["kube_pod_subnet is '10.244.1.0/16' on cp1, w1 and x1, which has host "
                                  "bits set, so Kubernetes uses 10.244.0.0/16; write that."]


@pytest.mark.parametrize('pod, service', [
    ('10.96.0.0/16', '10.96.0.0/12'),
    ('10.0.0.0/8', '10.96.0.0/12'),
    ('10.244.0.0/16,fd00::/56', '10.100.0.0/16,fd00::/112'),
])
def test_overlapping_subnets_refused(pod, service):
    base = {h: {'ansible_host': '192.168.0.%d' % i} for i, h in enumerate(BASE_VARS, 1)}
    found = errors({'all': {'kube_pod_subnet': pod, 'kube_service_subnet': service}}, base_vars=base)
    assert found == ["kube_pod_subnet '%s' and kube_service_subnet '%s' overlap on cp1, w1 and x1, so a "
                     "Service address could also be a Pod's; choose two ranges that do not overlap (the defaults are "
                     "10.244.0.0/16 and 10.96.0.0/12)." % (pod, service)]


def test_subnet_containing_a_node_address_refused():
    set_vars = {'all': {'kube_pod_subnet': '10.0.0.0/16'}, 'w1': {'kube_node_address': '10.0.0.20'},
                'x1': {'kube_node_address': '[fd00::30]'}}
    found = errors(set_vars)
    assert found == ["kube_pod_subnet is '10.0.0.0/16' on cp1, w1 and x1, which contains the node "
                     "addresses 10.0.0.20 (kube_node_address of w1), 10.0.0.1 (etcd_address of e1), 10.0.0.2 "
                     "(etcd_address of e2) and 10.0.0.3 (etcd_address of e3), so traffic to them would be routed into "
                     "the cluster network; choose a range that no node address falls in."]


def test_service_subnet_containing_one_node_address():
    found = errors({'all': {'kube_service_subnet': '10.0.0.16/28'}, 'w1': {'kube_node_address': '10.0.0.20'}})
    assert found == ["kube_service_subnet is '10.0.0.16/28' on cp1, w1 and x1, which contains the node "
                     "address 10.0.0.20 (kube_node_address of w1), so traffic to it would be routed into the cluster "
                     "network; choose a range that no node address falls in."]


def test_node_addresses_outside_the_subnets_accepted():
    assert errors({'w1': {'kube_node_address': '10.0.0.20'}, 'x1': {'kube_node_address': 'fd00::30'}}) == []


@pytest.mark.parametrize('address', ["{{ ansible_host }}", "{{ ansible_default_ipv4.address }}", 'node-1.example.com'])
def test_node_address_that_is_not_an_ip_literal_is_skipped(address):
    assert errors({'all': {'kube_pod_subnet': '10.0.0.0/16'}, 'w1': {'kube_node_address': address}},
                  base_vars=dict(BASE_VARS, e1={}, e2={}, e3={})) == []


def test_the_role_default_node_address_is_a_template_and_skipped():
    assert errors({'all': {'kube_service_subnet': '10.0.0.0/12'}},
                  base_vars=dict(BASE_VARS, e1={}, e2={}, e3={})) == []


def test_disagreeing_subnets_refused_naming_the_hosts():
    found = errors({'w1': {'kube_pod_subnet': '10.200.0.0/16'}, 'x1': {'kube_pod_subnet': '10.200.0.0/16'}})
    assert found == ["kube_pod_subnet differs between hosts ('10.200.0.0/16' on w1 and x1; '10.244.0.0/16' on cp1), "
                     "but the cluster has one; set the same kube_pod_subnet for every host (in group_vars/all)."]


def test_disagreeing_service_subnets_each_checked():
    found = errors({'cp1': {'kube_service_subnet': '10.244.0.0/20'}})
    only(found, "kube_service_subnet differs between hosts ('10.244.0.0/20' on cp1; '10.96.0.0/12' on w1 and x1)")
    assert only(found, 'overlap on').startswith("kube_pod_subnet '10.244.0.0/16' and kube_service_subnet "
                                                "'10.244.0.0/20' overlap on cp1,")


# --- c, d, e. groups ---------------------------------------------------------------

def test_host_in_control_plane_and_edge_refused():
    groups = dict(BASE_GROUPS, edge=['x1', 'cp1'])
    assert errors(groups=groups) == ["cp1 is in both the kube_control_plane and the edge groups, but an edge node is a "
                                     "worker with its own taint and topology labels; put it in one of the two groups."]


def test_host_in_control_plane_and_kube_node_is_fine():
    assert errors(groups=dict(BASE_GROUPS, kube_node=['w1', 'cp1'])) == []


def test_nodes_without_a_control_plane_refused():
    groups = dict(BASE_GROUPS, kube_control_plane=[], all=['w1', 'x1', 'e1', 'e2', 'e3'])
    base = {h: v for h, v in BASE_VARS.items() if h != 'cp1'}
    found = errors(groups=groups, base_vars=base, stages=['nodes'])
    assert found == ['The kube_control_plane group has no hosts, but w1 and x1 (in kube_node or edge) must join a '
                     'control plane; add the control-plane hosts to kube_control_plane.']
    groups['edge'] = []
    only(errors(groups=groups, base_vars=base, stages=['nodes']), 'but w1 (in kube_node or edge) must join')


def test_a_control_plane_without_nodes_is_fine():
    assert errors(groups=dict(BASE_GROUPS, kube_node=[], edge=[], all=['cp1', 'e1', 'e2', 'e3'])) == []


def test_two_control_plane_hosts_warn():
    groups, base = with_hosts(['cp2'], 'kube_control_plane')
    result = run(groups=groups, base_vars=base)
    assert result['errors'] == []
    assert result['warnings'] == ['The kube_control_plane group has 2 hosts (cp1 and cp2); two gain no fault tolerance '
                                  'over one, because a quorum of 2 needs both; use 1 or 3 hosts, or set '
                                  'kube_control_plane_allow_even: true if you mean it.']


@pytest.mark.parametrize('count', [4, 6])
def test_even_control_plane_refused(count):
    extra = ['cp%d' % i for i in range(2, count + 1)]
    groups, base = with_hosts(extra, 'kube_control_plane')
    found = errors(groups=groups, base_vars=base)
    assert found == ['The kube_control_plane group has %d hosts (%s); an even number gains no fault tolerance over one '
                     'host fewer, so use %d or %d hosts, or set kube_control_plane_allow_even: true if you mean it.'
                     % (count, ', '.join(['cp1'] + extra[:-1]) + ' and ' + extra[-1], count - 1, count + 1)]


@pytest.mark.parametrize('count', [1, 3, 5])
def test_odd_control_plane_accepted(count):
    groups, base = with_hosts(['cp%d' % i for i in range(2, count + 1)], 'kube_control_plane')
    result = run(groups=groups, base_vars=base)
    assert result['errors'] == [] and result['warnings'] == []


@pytest.mark.parametrize('count', [2, 4])
@pytest.mark.parametrize('allow', [True, 'yes'])
def test_even_control_plane_allowed(count, allow):
    groups, base = with_hosts(['cp%d' % i for i in range(2, count + 1)], 'kube_control_plane')
    result = run({'all': {'kube_control_plane_allow_even': allow}}, groups=groups, base_vars=base)
    assert result['errors'] == [] and result['warnings'] == []


def test_even_control_plane_allowed_on_some_hosts_only_is_refused():
    groups, base = with_hosts(['cp2', 'cp3', 'cp4'], 'kube_control_plane')
    only(errors({'cp1': {'kube_control_plane_allow_even': True}}, groups=groups, base_vars=base), 'has 4 hosts')


# --- f, g. labels and taints ---------------------------------------------------------

@pytest.mark.parametrize('key', ['bad key', 'role/', '/role', '-role', 'role-', 'Example.com/role', 'a/b/c',
                                 'x' * 64, ('p' * 254) + '/role', '', 5])
def test_invalid_label_key_refused(key):
    message = only(errors({'w1': {'kube_node_labels': {key: 'a'}}}), 'kube_node_labels')
    shown = "'%s'" % key if isinstance(key, str) else str(key)
    assert message.startswith('kube_node_labels on w1 has the key %s' % shown[:30])
    assert ', which is not a Kubernetes label key (' in message
    assert message.endswith('); fix the key.')


@pytest.mark.parametrize('key', ['role', 'node-role.kubernetes.io/worker', 'example.com/gpu.model', 'A_b.C-d',
                                 'x' * 63, ('p' * 63 + '.') * 3 + 'p' * 61 + '/n'])
def test_valid_label_keys(key):
    assert errors({'w1': {'kube_node_labels': {key: 'v'}}}) == []


@pytest.mark.parametrize('value', ['a b', '-a', 'a-', 'x' * 64, 'a/b'])
def test_invalid_label_value_refused(value):
    message = only(errors({'x1': {'kube_node_labels': {'role': value}}}), 'kube_node_labels')
    assert message == ("kube_node_labels[role] on x1 is '%s', which is not a Kubernetes label value (up to 63 letters, "
                       "digits, '-', '_' or '.' that start and end with a letter or digit, or empty); fix it, or write "
                       "null to remove the label." % value)


def test_label_value_that_is_not_a_string_refused():
    message = only(errors({'w1': {'kube_node_labels': {'gpu': True}}}), 'kube_node_labels')
    assert message.startswith('kube_node_labels[gpu] on w1 is True, which is not a Kubernetes label value (')
    assert message.endswith('; write it in quotes, or write null to remove the label.')


@pytest.mark.parametrize('value', ['', 'worker', 'a.b_c-D', 'x' * 63, None])
def test_valid_label_values(value):
    assert errors({'w1': {'kube_node_labels': {'role': value}}}) == []


def test_labels_not_a_dict_refused_by_the_spec():
    found = errors({'w1': {'kube_node_labels': ['role=worker']}})
    assert found == ["kube_node_labels is a list ['role=worker'] on w1, but it must be a dict (key: value pairs)."]


def test_labels_not_a_dict_refused_without_the_spec():
    specs = {k: v for k, v in REAL_SPECS.items() if k not in ('control_plane', 'node_join')}
    found = errors({'w1': {'kube_node_labels': ['role=worker'], 'kube_node_taints': 'x'}}, specs=specs)
    only(found, "kube_node_labels is ['role=worker'] on w1, but it must be a dict of label keys to values (null "
                "removes a label).")
    only(found, "kube_node_taints is 'x' on w1, but it must be a dict of 'key:Effect' to a value or null.")


def test_labels_checked_on_the_nodes_stage_hosts_only():
    bad = {'kube_node_labels': {'bad key': 'a'}}
    assert errors({'cp1': bad}) == []
    assert errors({'w1': bad}, stages=['control_plane']) == []
    message = only(errors({'w1': bad, 'x1': bad}), 'bad key')
    assert message.startswith("kube_node_labels on w1 and x1 has the key 'bad key',")


@pytest.mark.parametrize('key, effect', [('dedicated:NoScheduled', 'NoScheduled'), ('gpu:noschedule', 'noschedule'),
                                         ('gpu:', '')])
def test_taint_with_an_unknown_effect_refused(key, effect):
    message = only(errors({'w1': {'kube_node_taints': {key: 'x'}}}), 'kube_node_taints')
    assert message == ("kube_node_taints on w1 has the key '%s', with the unknown effect '%s'; use NoSchedule, "
                       "PreferNoSchedule or NoExecute." % (key, effect))


def test_taint_without_an_effect_refused():
    assert errors({'w1': {'kube_node_taints': {'dedicated': 'gpu'}}}) == [
        "kube_node_taints on w1 has the key 'dedicated', which is not key:Effect (such as dedicated:NoSchedule); "
        "add the effect."]


def test_taint_with_a_bad_key_refused():
    message = only(errors({'w1': {'kube_node_taints': {'bad key:NoSchedule': None}}}), 'kube_node_taints')
    assert message.startswith("kube_node_taints on w1 has the key 'bad key:NoSchedule', whose taint key 'bad key' is "
                              "not a Kubernetes label-style key (")


@pytest.mark.parametrize('value', ['a b', 'x' * 64, 5])
def test_taint_with_a_bad_value_refused(value):
    message = only(errors({'x1': {'kube_node_taints': {'dedicated:NoExecute': value}}}), 'kube_node_taints')
    assert message.startswith('kube_node_taints[dedicated:NoExecute] on x1 is %s, which is not a taint value ('
                              % ("'%s'" % value if isinstance(value, str) else value))
    assert message.endswith(', or write null.')


@pytest.mark.parametrize('taints', [{'dedicated:NoSchedule': 'gpu'}, {'example.com/edge:PreferNoSchedule': ''},
                                    {'node.kubernetes.io/out-of-service:NoExecute': None}])
def test_valid_taints(taints):
    assert errors({'w1': {'kube_node_taints': taints}, 'x1': {'kube_node_taints': taints}}) == []


# --- h. node names (already inventory.py's section 3) ---------------------------------

def test_invalid_node_names_refused_once_with_these_stages():
    groups = dict(BASE_GROUPS, all=BASE_GROUPS['all'] + ['Edge_1'], edge=['x1', 'Edge_1'])
    base = dict(BASE_VARS, Edge_1={'ansible_host': '10.0.0.31'})
    assert errors(groups=groups, base_vars=base) == [
        "The host name 'Edge_1' cannot be a Kubernetes node name (a DNS-1123 subdomain: lower-case letters, digits, "
        "'-' and '.'); rename the host or set kube_node_name for it."]
    assert errors(groups=groups, base_vars=dict(base, Edge_1={'kube_node_name': 'edge-1'})) == []


# --- i. kube_apiserver_endpoint ---------------------------------------------------------

@pytest.mark.parametrize('endpoint', ['lb.example', 'lb.example:0', 'lb.example:65536', 'lb.example:', ':6443',
                                      'lb_1.example:6443', '300.1.1.1:6443', 'fd00::1:6443', '[fd00::1]',
                                      '[10.0.0.1]:6443', 'https://lb.example:6443', 'lb.example:64a3'])
def test_bad_apiserver_endpoint_refused(endpoint):
    found = errors({'all': {'kube_apiserver_endpoint': endpoint}})
    assert found == ["kube_apiserver_endpoint is '%s' on cp1, w1 and x1, which is not host:port (a DNS name, an IPv4 "
                     "address or an [IPv6] address, then a port from 1 to 65535, such as lb.example.com:6443); write "
                     "both, or leave it empty." % endpoint]


@pytest.mark.parametrize('endpoint', ['', 'lb.example.com:6443', 'LB.Example.com:443', '10.0.0.5:6443', '[fd00::5]:6443',
                                      'lb:1', 'lb:65535'])
def test_good_apiserver_endpoint_accepted(endpoint):
    assert errors({'all': {'kube_apiserver_endpoint': endpoint}}) == []


def test_apiserver_endpoint_not_a_string_is_a_spec_error_only():
    found = errors({'cp1': {'kube_apiserver_endpoint': 6443}})
    assert found == ['kube_apiserver_endpoint is a number 6443 (YAML reads an unquoted number as a number) on cp1, but '
                     'it must be a string; write one value in quotes.']


# --- j. Docker Engine without cri-dockerd -----------------------------------------------------

DOCKER_NO_CRI = {'container_runtime_engine': 'docker', 'container_runtime_cri_dockerd_enabled': False}


@pytest.mark.parametrize('stages, hosts', [(['nodes'], 'w1 and x1'), (['control_plane'], 'cp1'),
                                           (STAGES, 'cp1, w1 and x1')])
def test_docker_without_cri_dockerd_refused(stages, hosts):
    found = errors({'all': DOCKER_NO_CRI}, stages=stages)
    assert found == ['container_runtime_engine is docker with container_runtime_cri_dockerd_enabled false on %s, a '
                     'Kubernetes node, but the kubelet (1.24 and later) can only use Docker Engine through cri-dockerd; '
                     'enable cri-dockerd or use containerd.' % hosts]


@pytest.mark.parametrize('hv', [{'container_runtime_engine': 'docker'},
                                {'container_runtime_engine': 'docker', 'container_runtime_cri_dockerd_enabled': 'yes'},
                                {'container_runtime_engine': 'containerd', 'container_runtime_cri_dockerd_enabled': False}])
def test_docker_with_cri_dockerd_or_containerd_accepted(hv):
    assert errors({'w1': hv}) == []


def test_docker_without_cri_dockerd_reported_once_with_the_runtime_stage():
    found = errors({'w1': dict(DOCKER_NO_CRI, container_runtime_cri_dockerd_sha256=SHA)}, stages=['runtime', 'nodes'])
    assert len(found) == 1 and 'container_runtime_cri_dockerd_enabled false on w1' in found[0]


# --- k. edge region and zone -------------------------------------------------------------------

@pytest.mark.parametrize('name, label', [('edge_region', 'topology.kubernetes.io/region'),
                                         ('edge_zone', 'topology.kubernetes.io/zone')])
@pytest.mark.parametrize('value', ['eu west', 'x' * 64, '-eu'])
def test_bad_edge_topology_refused(name, label, value):
    found = errors({'x1': {name: value}})
    assert found == ["%s is '%s' on x1, which becomes the node label %s but is not a Kubernetes label value (up to 63 "
                     "letters, digits, '-', '_' or '.' that start and end with a letter or digit, or empty); fix it."
                     % (name, value, label)]


@pytest.mark.parametrize('value', ['', 'eu-west-1', 'Zone_A.1'])
def test_good_edge_topology_accepted(value):
    assert errors({'x1': {'edge_region': value, 'edge_zone': value}}) == []


def test_edge_topology_checked_on_edge_hosts_only():
    assert errors({'w1': {'edge_region': 'eu west'}}) == []
    assert errors({'x1': {'edge_region': 'eu west'}}, stages=['control_plane']) == []


# --- the helpers and every message ---------------------------------------------------------------

def test_helpers():
    assert cluster.is_label_key('kubernetes.io/hostname') and not cluster.is_label_key('kubernetes.io/')
    assert cluster.is_label_value('') and not cluster.is_label_value(None)
    assert str(cluster.ip_literal('[fd00::1]')) == 'fd00::1' and cluster.ip_literal('{{ x }}') is None
    assert cluster.subnets('10.244.0.0/16')[1] is False and cluster.subnets('10.244.0.1/16')[1] is True
    assert cluster.subnets('10.0.0.0/8,10.1.0.0/16') is None and cluster.subnets(None) is None
    assert cluster.is_endpoint('[::1]:6443') and not cluster.is_endpoint(None)


def test_every_message_is_one_sentence_naming_its_variable():
    groups, base = with_hosts(['cp2', 'cp3', 'cp4'], 'kube_control_plane', edge=['x1', 'cp1'])
    base['w1'].update({'kube_node_labels': {'bad key': 'a b', 'r': 'a b'}, 'kube_node_address': '10.0.0.20',
                       'kube_node_taints': {'a': 'b', 'b:NoScheduled': 'c', 'c:NoSchedule': 'a b', 'B B:NoSchedule': ''}})
    base['x1'].update({'edge_region': 'eu west', 'edge_zone': '-z', 'kube_apiserver_endpoint': 'lb.example'})
    base['cp1'].update(dict(DOCKER_NO_CRI, kube_version='1.30.0', kube_pod_subnet='10.0.0.0/8'))
    base['cp2'].update({'kube_service_subnet': 'nope', 'kube_pod_subnet': '10.96.1.0/16'})
    result = run(groups=groups, base_vars=base)
    assert_sentences(result)
    assert len(result['errors']) >= 16, result['errors']
    assert len(result['warnings']) == 1
