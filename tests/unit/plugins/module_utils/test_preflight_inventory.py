# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# Unit tests for plugins/module_utils/preflight/inventory.py (and the runtime and
# etcd rules it calls): every preflight problem of an inventory, in memory,
# against the roles' real argument specs.

import copy
import glob
import os

import pytest
import yaml

from ansible_collections.ironstone.k8s.plugins.module_utils import sources
from ansible_collections.ironstone.k8s.plugins.module_utils.preflight import inventory, kube_packages

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
SHA = 'a' * 64
ALL_STAGES = ['runtime', 'etcd', 'storage']


def _load_specs():
    specs = {}
    for path in sorted(glob.glob(os.path.join(ROOT, 'roles', '*', 'meta', 'argument_specs.yml'))):
        role = os.path.basename(os.path.dirname(os.path.dirname(path)))
        with open(path) as handle:
            specs[role] = yaml.safe_load(handle)['argument_specs']
    return specs


SPECS = _load_specs()
# Role-internal names (vars/main.yml keys, register: names) as load_roles finds them.
INTERNAL = {'etcd_client_url', 'etcd_cluster_members', 'preflight_ping', 'container_runtime_mirrors'}

BASE_GROUPS = {
    'all': ['cp1', 'w1', 'e1', 'e2', 'e3'],
    'ungrouped': [],
    'etcd': ['e1', 'e2', 'e3'],
    'kube_control_plane': ['cp1'],
    'kube_node': ['w1'],
}
BASE_VARS = {
    'cp1': {'ansible_host': '10.0.0.10'},
    'w1': {'ansible_host': '10.0.0.20'},
    'e1': {'ansible_host': '10.0.0.1'},
    'e2': {'ansible_host': '10.0.0.2'},
    'e3': {'ansible_host': '10.0.0.3'},
}


def run(set_vars=None, groups=None, stages=None, base_vars=None, **kw):
    """check() of the base inventory with set_vars ({host: {name: value}}) merged in."""
    host_vars = copy.deepcopy(BASE_VARS if base_vars is None else base_vars)
    for host, extra in (set_vars or {}).items():
        host_vars.setdefault(host, {}).update(extra)
    kw.setdefault('path_exists', lambda path: True)
    kw.setdefault('git_root', lambda path: None)
    kw.setdefault('home', '/home/op')
    return inventory.check(SPECS, INTERNAL, host_vars, copy.deepcopy(BASE_GROUPS if groups is None else groups),
                           ALL_STAGES if stages is None else stages, **kw)


def errors(*args, **kw):
    return run(*args, **kw)['errors']


def only(messages, text):
    """The one message containing text."""
    found = [m for m in messages if text in m]
    assert len(found) == 1, (text, messages)
    return found[0]


def assert_sentences(result):
    for message in result['errors'] + result.get('warnings', []):
        assert '\n' not in message, message
        assert inventory.HOSTS not in message, message
        assert message.endswith(('.', '?')), message
        assert message[0].isalpha() or message[0] == "'", message


def test_the_real_specs_are_loaded():
    assert set(SPECS) >= {'container_runtime', 'etcd', 'local_storage', 'preflight'}
    assert 'container_runtime_engine' in inventory.options_of(SPECS, 'container_runtime', 'main')
    assert 'etcd_apiserver_client_trust_only' in inventory.options_of(SPECS, 'etcd', 'apiserver_client')
    assert 'etcd_apiserver_client_trust_only' not in inventory.options_of(SPECS, 'etcd', 'main')
    assert 'kube_node_name' in inventory.declared_names(SPECS)


def test_a_clean_inventory_has_no_problems():
    result = run()
    assert result['errors'] == []
    assert result['warnings'] == []
    assert result['hosts'] == 5
    assert result['variables'] == 0


def test_hosts_counted_from_host_vars_without_an_all_group():
    groups = dict(BASE_GROUPS)
    del groups['all']
    result = run(groups=groups)
    assert result['hosts'] == 5
    assert result['errors'] == []


def test_unknown_stage_refused():
    message = only(errors(stages=['runtime', 'network']), 'network')
    assert message == ("preflight_stages names the stage 'network', which does not exist; "
                       "use calico, control_plane, etcd, gpu, kube_packages, local_volumes, monitoring, nodes, runtime, storage.")


# --- 1. spec validation per stage and host ------------------------------------

def test_spec_problem_on_the_host_that_uses_it():
    result = run({'w1': {'container_runtime_engine': 'podman'}})
    message = only(result['errors'], 'container_runtime_engine')
    assert message == ("container_runtime_engine is 'podman' on w1, which is not one of containerd, docker; "
                       "write one of those.")
    assert result['variables'] == 1


def test_same_problem_on_several_hosts_is_reported_once_with_all_hosts():
    result = run({h: {'container_runtime_engine': 'podman'} for h in ('cp1', 'w1')})
    engine = [m for m in result['errors'] if 'container_runtime_engine' in m]
    assert len(engine) == 1
    assert " on cp1 and w1, " in engine[0]
    assert result['variables'] == 2


def test_many_hosts_are_summarised():
    hosts = ['w%d' % i for i in range(1, 9)]
    groups = {'all': hosts, 'kube_node': hosts}
    base = {h: {'ansible_host': '10.0.1.%d' % i, 'container_runtime_swap': 'on'} for i, h in enumerate(hosts, 1)}
    message = only(errors(groups=groups, base_vars=base, stages=['runtime']), 'container_runtime_swap')
    assert ' on w1, w2, w3, w4, w5 and 3 more hosts, ' in message


def test_hosts_text():
    assert inventory.hosts_text(['a']) == 'a'
    assert inventory.hosts_text(['a', 'b', 'c']) == 'a, b and c'
    assert inventory.hosts_text(list('abcdef')) == 'a, b, c, d, e and f'
    assert inventory.hosts_text(list('abcdefg')) == 'a, b, c, d, e and 2 more hosts'


def test_different_problems_on_different_hosts_are_separate():
    found = errors({'cp1': {'container_runtime_engine': 'podman'}, 'w1': {'container_runtime_engine': 'rkt'}})
    assert " 'podman' on cp1," in only(found, 'podman')
    assert " 'rkt' on w1," in only(found, 'rkt')


def test_runtime_variables_unchecked_when_runtime_stage_is_off():
    assert errors({'w1': {'container_runtime_engine': 'podman'}}, stages=['etcd', 'storage']) == []


def test_runtime_variables_unchecked_on_hosts_the_stage_does_not_configure():
    # e1 is only an etcd member: the runtime stage never runs there.
    assert errors({'e1': {'container_runtime_engine': 'podman'}}) == []


def test_etcd_main_spec_on_members():
    message = only(errors({'e2': {'etcd_client_port': 'abc'}}, stages=['etcd']), 'etcd_client_port')
    assert message == ("etcd_client_port is a string 'abc' on e2, but it must be a whole number; write digits only.")


def test_etcd_apiserver_client_spec_on_the_control_plane():
    found = errors({'cp1': {'etcd_apiserver_client_trust_only': 'maybe', 'etcd_client_port': 'abc'}}, stages=['etcd'])
    only(found, "etcd_apiserver_client_trust_only is 'maybe' on cp1")
    # etcd_client_port is not an input of the apiserver_client entry point.
    assert not [m for m in found if 'etcd_client_port' in m]


def test_storage_spec_on_kube_nodes_only():
    found = errors({'w1': {'local_storage_fstype': 'btrfs'}, 'cp1': {'local_storage_fstype': 'zfs'}}, stages=['storage'])
    only(found, "local_storage_fstype is 'btrfs' on w1")
    assert not [m for m in found if 'zfs' in m]


def test_preflight_spec_on_every_host():
    found = errors({'e1': {'ironstone_profile': 'staging'}}, stages=[])
    assert found == ["ironstone_profile is 'staging' on e1, which is not one of lab, production; write one of those."]


@pytest.mark.parametrize('value', [['x'], {'a': 1}])
def test_str_variable_given_a_list_or_dict(value):
    message = only(errors({'w1': {'container_runtime_sandbox_image': value}}), 'container_runtime_sandbox_image')
    assert 'must be a string' in message


def test_list_variable_given_a_string():
    message = only(errors({'w1': {'container_runtime_kernel_modules': 'overlay'}}), 'container_runtime_kernel_modules')
    assert "write it as ['overlay'] even for one item" in message


def test_ranges_from_the_inventory():
    found = errors({'e1': {'etcd_peer_port': 70000, 'etcd_quota_backend_bytes': 16 * 1024 ** 3,
                           'etcd_snapshot_count': 0}})
    assert 'between 1 and 65535' in only(found, 'etcd_peer_port is 70000')
    assert 'out of range' in only(found, 'etcd_quota_backend_bytes is %d on e1' % (16 * 1024 ** 3))
    assert 'at least 1' in only(found, 'etcd_snapshot_count is 0 on e1')


def test_minus_e_strings_are_accepted():
    # Values given with -e key=value are strings.
    assert errors({h: {'etcd_client_port': '2379', 'etcd_extra_config_unsafe': 'no'} for h in ('e1', 'e2', 'e3')}) == []


# --- 2. unknown variables -----------------------------------------------------

def test_unknown_variable_with_suggestion_fails_in_production():
    result = run({'w1': {'container_runtime_engin': 'docker'}})
    assert result['warnings'] == []
    assert result['errors'] == ['container_runtime_engin is set on w1 but is not a variable of any role; '
                                'did you mean container_runtime_engine?']


def test_unknown_variable_far_from_any_name_gets_no_suggestion():
    message = only(errors({'w1': {'etcd_frobnicate_everything': 1}}), 'etcd_frobnicate_everything')
    assert 'did you mean' not in message
    assert message.endswith('; remove it or check its spelling.')


def test_unknown_variable_on_several_hosts_is_one_message():
    found = errors({h: {'etcd_electon_timeout': 5000} for h in ('e1', 'e2', 'e3')})
    message = only(found, 'etcd_electon_timeout')
    assert 'set on e1, e2 and e3 but' in message
    assert 'did you mean etcd_election_timeout?' in message


def test_internal_names_are_not_reported():
    result = run({'e1': {'etcd_client_url': 'https://x', 'preflight_ping': {}, 'container_runtime_mirrors': []}})
    assert result['errors'] == [] and result['warnings'] == []


def test_variables_without_a_collection_prefix_are_not_reported():
    result = run({'w1': {'ntp_servers': ['a'], 'my_container_runtime_engin': 1, 'ansible_user': 'op'}})
    assert result['errors'] == [] and result['warnings'] == []


def test_unknown_variable_checked_even_when_its_stage_is_off():
    assert only(errors({'w1': {'local_storage_devics': []}}, stages=['runtime']), 'did you mean local_storage_devices?')


@pytest.mark.parametrize('profile, policy, level', [
    ('production', 'auto', 'errors'),
    ('lab', 'auto', 'warnings'),
    ('production', 'warn', 'warnings'),
    ('lab', 'fail', 'errors'),
    ('lab', 'bogus', 'warnings'),
    ('production', None, 'errors'),
])
def test_unknown_level_by_profile_and_policy(profile, policy, level):
    result = run({'w1': {'container_runtime_engin': 'docker'}}, profile=profile, unknown_policy=policy)
    other = 'warnings' if level == 'errors' else 'errors'
    assert len(result[level]) == 1 and 'did you mean container_runtime_engine?' in result[level][0]
    assert result[other] == []


def test_closest():
    assert inventory.closest('etcd_clinet_port', ['etcd_client_port', 'etcd_peer_port']) == 'etcd_client_port'
    assert inventory.closest('etcd_zzz', ['etcd_client_port']) is None


# --- 3. groups and hosts ------------------------------------------------------

@pytest.mark.parametrize('group, known', [
    ('kube-node', 'kube_node'),
    ('etcd-nodes', 'etcd'),
    ('control_plane', 'kube_control_plane'),
    ('kube_nodes', 'kube_node'),
    ('kube_ndoe', 'kube_node'),
    ('kube-control-plane', 'kube_control_plane'),
    ('ETCD', 'etcd'),
    ('edges', 'edge'),
])
def test_close_group_flags_misspellings(group, known):
    assert inventory.close_group(group) == known


@pytest.mark.parametrize('group', ['rack1', 'gpu', 'webservers', 'all', 'ungrouped', 'etcd', 'kube_node',
                                   'kube_control_plane', 'edge', 'monitoring'])
def test_close_group_leaves_other_groups(group):
    assert inventory.close_group(group) is None


def test_misspelt_group_reported_with_its_hosts():
    groups = dict(BASE_GROUPS, all=BASE_GROUPS['all'] + ['w2', 'w3'], **{'kube-node': ['w2', 'w3']})
    base = dict(BASE_VARS, w2={'ansible_host': '10.0.0.21'}, w3={'ansible_host': '10.0.0.22'})
    found = errors(groups=groups, base_vars=base)
    message = only(found, "'kube-node'")
    assert message == ("The inventory group 'kube-node' looks like a misspelling of 'kube_node', which the playbooks "
                       "use; rename it to kube_node (its hosts are w2 and w3).")
    # Their hosts are therefore in no known group either.
    only(found, 'w2 is in none of the groups')


def test_misspelt_empty_group_warns_in_lab():
    result = run(groups=dict(BASE_GROUPS, etcd_nodes=[]), profile='lab')
    assert result['errors'] == []
    message = only(result['warnings'], "'etcd_nodes'")
    assert message.endswith('(its hosts are none).')


def test_child_group_of_a_known_group_is_not_a_misspelling():
    # kube_node_gpu is a child of kube_node: its hosts are already in kube_node.
    groups = dict(BASE_GROUPS, kube_node_gpu=['w1'])
    result = run(groups=groups)
    assert result['errors'] == [] and result['warnings'] == []


def test_unrelated_groups_are_not_reported():
    groups = dict(BASE_GROUPS, rack1=['w1', 'e1'], gpu=['w1'], webservers=['cp1'])
    result = run(groups=groups)
    assert result['errors'] == [] and result['warnings'] == []


def test_host_in_no_known_group():
    groups = dict(BASE_GROUPS, all=BASE_GROUPS['all'] + ['stray'], ungrouped=['stray'])
    base = dict(BASE_VARS, stray={})
    result = run(groups=groups, base_vars=base)
    assert result['errors'] == ['stray is in none of the groups etcd, kube_control_plane, kube_node, edge, so no stage '
                                'would configure it; add it to one of them or remove it from the inventory.']
    assert run(groups=groups, base_vars=base, profile='lab')['warnings'] == result['errors']


# --- node names ---------------------------------------------------------------

def _worker(name, **hv):
    groups = dict(BASE_GROUPS, all=BASE_GROUPS['all'] + [name], kube_node=['w1', name])
    base = dict(BASE_VARS)
    base[name] = dict({'ansible_host': '10.0.0.30'}, **hv)
    return run(groups=groups, base_vars=base, stages=['runtime'])


def test_invalid_host_name_refused_as_node_name():
    result = _worker('Worker_1')
    assert result['errors'] == ["The host name 'Worker_1' cannot be a Kubernetes node name (a DNS-1123 subdomain: "
                                "lower-case letters, digits, '-' and '.'); rename the host or set kube_node_name for it."]


@pytest.mark.parametrize('name', ['worker-1', 'w1.example.com', '0node', 'a' * 63])
def test_valid_host_names(name):
    assert _worker(name)['errors'] == []


@pytest.mark.parametrize('name', ['-w1', 'w1-', 'w1_b', 'w1..b', 'W1', 'a' * 254])
def test_invalid_host_names(name):
    assert 'cannot be a Kubernetes node name' in only(_worker(name)['errors'], name[:20])


def test_invalid_host_name_accepted_with_a_valid_kube_node_name():
    result = _worker('Worker_1', kube_node_name='worker-1')
    assert result['errors'] == []
    assert result['variables'] == 1


@pytest.mark.parametrize('bad', ['Worker_1', 'worker-1\n', 'w 1'])
def test_invalid_kube_node_name_refused(bad):
    message = only(_worker('worker1', kube_node_name=bad)['errors'], 'sets kube_node_name')
    assert message.startswith('worker1 sets kube_node_name ')
    assert 'not a valid Kubernetes node name' in message
    assert '\n' not in message


def test_non_string_kube_node_name_is_a_type_error_not_a_wrong_name():
    found = _worker('Worker_1', kube_node_name=5)['errors']
    assert 'must be a string' in only(found, 'kube_node_name is a number 5 (YAML reads an unquoted number')
    message = only(found, 'Kubernetes node name')
    assert message.startswith("The host name 'Worker_1' cannot be")


def test_etcd_only_hosts_need_no_node_name():
    groups = dict(BASE_GROUPS, all=['cp1', 'w1', 'E_1', 'e2', 'e3'], etcd=['E_1', 'e2', 'e3'])
    base = dict(BASE_VARS, E_1=BASE_VARS['e1'])
    del base['e1']
    assert errors(groups=groups, base_vars=base) == []


def test_duplicate_node_names_name_both_hosts():
    groups = dict(BASE_GROUPS, kube_node=['w1', 'w2'], all=BASE_GROUPS['all'] + ['w2'])
    base = dict(BASE_VARS, w2={'ansible_host': '10.0.0.21', 'kube_node_name': 'w1'})
    message = only(errors(groups=groups, base_vars=base, stages=['runtime']), 'node name')
    assert 'w1 and w2' in message
    assert "'w1'" in message


# --- 4a. runtime rules --------------------------------------------------------

def runtime_errors(hv, host='w1', **kw):
    return run({host: hv}, stages=['runtime'], **kw)['errors']


def test_docker_without_cri_dockerd_refused():
    found = runtime_errors({'container_runtime_engine': 'docker', 'container_runtime_cri_dockerd_enabled': False,
                            'container_runtime_cri_dockerd_sha256': SHA})
    assert found == ['container_runtime_engine is docker with container_runtime_cri_dockerd_enabled false on w1, '
                     'a Kubernetes node, but the kubelet (1.24 and later) can only use Docker Engine through '
                     'cri-dockerd; enable cri-dockerd or use containerd.']


def test_docker_without_cri_dockerd_refused_from_a_string():
    found = runtime_errors({'container_runtime_engine': 'docker', 'container_runtime_cri_dockerd_enabled': 'off'})
    only(found, 'cri_dockerd_enabled false on w1')


def test_docker_with_cri_dockerd_needs_its_sha256():
    found = runtime_errors({'container_runtime_engine': 'docker'})
    message = only(found, 'container_runtime_cri_dockerd_sha256')
    assert message.startswith("container_runtime_cri_dockerd_sha256 is '' on w1, but the cri-dockerd archive needs")
    assert runtime_errors({'container_runtime_engine': 'docker', 'container_runtime_cri_dockerd_sha256': SHA}) == []


def test_containerd_archive_needs_both_sha256s():
    found = runtime_errors({'container_runtime_containerd_source': 'archive'})
    assert len(found) == 2
    only(found, "container_runtime_containerd_archive_sha256 is '' on w1, but the containerd archive needs")
    only(found, "container_runtime_runc_sha256 is '' on w1, but the runc binary needs")
    assert runtime_errors({'container_runtime_containerd_source': 'archive',
                           'container_runtime_containerd_archive_sha256': SHA.upper(),
                           'container_runtime_runc_sha256': SHA}) == []


@pytest.mark.parametrize('sha', ['a' * 63, 'g' * 64, SHA + '\n', 'sha256:' + SHA])
def test_malformed_sha256_refused(sha):
    found = runtime_errors({'container_runtime_containerd_source': 'archive',
                            'container_runtime_containerd_archive_sha256': sha,
                            'container_runtime_runc_sha256': SHA})
    message = only(found, 'container_runtime_containerd_archive_sha256')
    assert '\n' not in message


def test_package_source_needs_no_sha256():
    assert runtime_errors({'container_runtime_containerd_source': 'package'}) == []


def test_cni_plugins_url_needs_sha256():
    found = runtime_errors({'container_runtime_cni_plugins_url': 'https://example.com/cni.tgz'})
    only(found, "container_runtime_cni_plugins_sha256 is '' on w1, but the CNI plugins archive needs")


def test_mirror_ca_file_missing_on_the_controller():
    asked = []

    def exists(path):
        asked.append(path)
        return path == '/etc/ssl/good.pem'

    mirrors = {'docker.io': [{'url': 'https://m1.example.com', 'ca_file': '/etc/ssl/good.pem'},
                             {'url': 'https://m2.example.com', 'ca_file': '~/ca/missing.pem'}]}
    found = runtime_errors({'container_runtime_registry_mirrors': mirrors}, path_exists=exists)
    assert found == ["container_runtime_registry_mirrors[docker.io][1] on w1 has ca_file '~/ca/missing.pem', which does "
                     "not exist on the controller; the role copies it from there to the nodes, so give the path of the "
                     "registry's CA certificate on the controller."]
    assert sorted(asked) == ['/etc/ssl/good.pem', '~/ca/missing.pem']


def test_mirror_extra_ca_file_missing_is_named_by_its_variable():
    extra = {'registry.example.com:5000': [{'url': 'https://r.example.com', 'ca_file': '/nope.pem'}]}
    found = runtime_errors({'container_runtime_registry_mirrors_extra': extra}, path_exists=lambda p: False)
    only(found, 'container_runtime_registry_mirrors_extra[registry.example.com:5000][0] on w1')


def test_mirror_ca_file_not_checked_without_a_controller():
    mirrors = {'docker.io': [{'url': 'https://m1.example.com', 'ca_file': '/nope.pem'}]}
    assert runtime_errors({'container_runtime_registry_mirrors': mirrors}, path_exists=None) == []


def test_mirror_skip_verify_maybe_refused():
    mirrors = {'docker.io': [{'url': 'https://m1.example.com', 'skip_verify': 'maybe'}]}
    found = runtime_errors({'container_runtime_registry_mirrors': mirrors})
    assert found == ["container_runtime_registry_mirrors[docker.io][0] has skip_verify 'maybe'; write true or false "
                     "(on w1)."]


def test_mirror_without_scheme_refused():
    found = runtime_errors({'container_runtime_registry_mirrors': {'docker.io': ['mirror.example.com']}})
    message = only(found, "mirror 'mirror.example.com' without an http:// or https:// scheme")
    assert message.endswith('(on w1).')


def test_sysctl_list_value_refused():
    found = runtime_errors({'container_runtime_sysctls': {'net.ipv4.ip_forward': ['1'], 'vm.swappiness': '10'}})
    assert found == ["container_runtime_sysctls[net.ipv4.ip_forward] on w1 is ['1']; write one value in quotes, "
                     "such as '1'."]


def test_sysctl_bad_key_refused():
    message = only(runtime_errors({'container_runtime_sysctls': {'net ipv4': '1'}}), 'not a sysctl name')
    assert "the key 'net ipv4'" in message


def test_extra_runtime_without_binary_name_refused():
    runtimes = {'nvidia': {'runtime_type': 'io.containerd.runc.v2'},
                'kata': {'binary_name': '/usr/bin/kata-runtime'}}
    found = runtime_errors({'container_runtime_extra_runtimes': runtimes})
    assert found == ['container_runtime_extra_runtimes[nvidia] on w1 has no binary_name; give the path or name of the '
                     'runtime binary.']


def test_extra_runtime_unknown_keys_and_non_dict():
    runtimes = {'a': {'binary_name': 'x', 'options': {}}, 'b': 'runsc'}
    found = runtime_errors({'container_runtime_extra_runtimes': runtimes})
    only(found, 'container_runtime_extra_runtimes[a] on w1 has unknown keys options;')
    only(found, "container_runtime_extra_runtimes[b] on w1 is 'runsc'; write a dict")


def test_runtime_rules_only_on_kube_hosts():
    # An etcd-only host is not configured by the runtime stage.
    assert runtime_errors({'container_runtime_engine': 'docker', 'container_runtime_cri_dockerd_enabled': False},
                          host='e1') == []


def test_runtime_rules_off_without_the_runtime_stage():
    assert errors({'w1': {'container_runtime_containerd_source': 'archive'}}, stages=['etcd']) == []


# --- 4b. etcd rules -----------------------------------------------------------

def etcd_run(set_vars=None, etcd_hosts=('e1', 'e2', 'e3'), **kw):
    groups = dict(BASE_GROUPS, etcd=list(etcd_hosts))
    return run(set_vars, groups=groups, stages=['etcd'], **kw)


@pytest.mark.parametrize('members, shown', [
    ((), '0 hosts (none)'),
    (('e1', 'e2'), '2 hosts (e1, e2)'),
    (('e1', 'e2', 'e3', 'cp1'), '4 hosts (e1, e2, e3, cp1)'),
])
def test_even_or_empty_etcd_group_refused(members, shown):
    message = only(etcd_run(etcd_hosts=members)['errors'], 'The etcd group')
    assert message == ('The etcd group has %s; etcd needs an odd number (1, 3, 5 or 7) to keep quorum, so add or '
                       'remove hosts in the etcd group.' % shown)


def test_single_member_is_fine():
    groups = dict(BASE_GROUPS, all=['cp1', 'w1', 'e1'], etcd=['e1'])
    assert run(groups=groups, stages=['etcd'])['errors'] == []


def test_etcd_group_not_checked_without_the_etcd_stage():
    groups = dict(BASE_GROUPS, all=['cp1', 'w1', 'e1', 'e2'], etcd=['e1', 'e2'])
    assert run(groups=groups, stages=['runtime'])['errors'] == []


@pytest.mark.parametrize('address', ['etcd1.example.com', '10.0.0', '300.1.1.1'])
def test_non_ip_etcd_address_refused(address):
    message = only(etcd_run({'e2': {'etcd_address': address}})['errors'], 'etcd_address is')
    assert message.startswith("etcd_address is '%s' on e2, but etcd binds to it" % address)


@pytest.mark.parametrize('address', ['192.168.1.5', 'fd00::5', '[fd00::6]'])
def test_ip_etcd_addresses_accepted(address):
    assert etcd_run({'e2': {'etcd_address': address}})['errors'] == []


def test_etcd_address_defaults_to_the_host_name():
    base = dict(BASE_VARS, e3={})
    message = only(etcd_run(base_vars=base)['errors'], 'etcd_address is')
    assert message.startswith("etcd_address is 'e3' on e3,")


def test_duplicate_etcd_address_names_both_hosts():
    found = etcd_run({'e3': {'etcd_address': '10.0.0.1'}})['errors']
    assert found == ['e1 and e3 share one address, etcd_address 10.0.0.1; give each etcd host its own etcd_address.']


def test_duplicate_etcd_name_names_both_hosts():
    found = etcd_run({'e1': {'etcd_name': 'm'}, 'e2': {'etcd_name': 'm'}})['errors']
    assert found == ["e1 and e2 share one member name, etcd_name 'm'; give each etcd host its own etcd_name (it defaults "
                     "to the inventory host name)."]


def test_etcd_archive_needs_sha256():
    found = etcd_run({'e1': {'etcd_install_source': 'archive'}, 'e2': {'etcd_install_source': 'archive'},
                      'e3': {'etcd_install_source': 'archive', 'etcd_archive_sha256': SHA}})['errors']
    message = only(found, 'etcd_archive_sha256')
    assert message.startswith("etcd_archive_sha256 is '' on e1 and e2, but etcd_install_source archive needs")


def test_etcd_archive_sha256_with_trailing_newline_refused():
    found = etcd_run({'e1': {'etcd_install_source': 'archive', 'etcd_archive_sha256': SHA + '\n'}})['errors']
    message = only(found, 'etcd_archive_sha256 is')
    assert '\n' not in message


def test_protected_extra_config_key_refused_without_unsafe():
    found = etcd_run({'e1': {'etcd_extra_config': {'data-dir': '/srv/etcd', 'log-level': 'debug'}}})['errors']
    assert found == ['etcd_extra_config sets data-dir, which the role manages (TLS, client-certificate auth, URLs, '
                     'certificate paths and member identity); remove it, or set etcd_extra_config_unsafe: true if you '
                     'really mean to change it (on e1).']


@pytest.mark.parametrize('unsafe', [True, 'yes', 'true'])
def test_protected_extra_config_key_allowed_with_unsafe(unsafe):
    result = etcd_run({'e1': {'etcd_extra_config': {'data-dir': '/srv/etcd'}, 'etcd_extra_config_unsafe': unsafe}})
    assert result['errors'] == []


def test_unsafe_maybe_is_refused_and_does_not_allow():
    found = etcd_run({'e1': {'etcd_extra_config': {'data-dir': '/srv/etcd'}, 'etcd_extra_config_unsafe': 'maybe'}})['errors']
    only(found, "etcd_extra_config_unsafe is 'maybe' on e1")
    only(found, 'etcd_extra_config sets data-dir')


def test_election_under_five_heartbeats_refused():
    found = etcd_run({h: {'etcd_heartbeat_interval': 200, 'etcd_election_timeout': 900} for h in ('e1', 'e2', 'e3')})
    message = only(found['errors'], 'election-timeout 900 ms')
    assert message == ('election-timeout 900 ms is less than 5 x heartbeat-interval 200 ms, which etcd refuses at '
                       'start-up; set etcd_election_timeout to at least 1000 (etcd recommends 2000) (on e1, e2 and e3).')


def test_election_under_ten_heartbeats_warns():
    result = etcd_run({'e1': {'etcd_heartbeat_interval': '200', 'etcd_election_timeout': '1500'}})
    assert result['errors'] == []
    assert only(result['warnings'], 'election-timeout 1500 ms').endswith('(on e1).')


def test_extra_config_overrides_the_variables():
    found = etcd_run({'e1': {'etcd_extra_config': {'election-timeout': 300}}})['errors']
    only(found, 'election-timeout 300 ms is less than 5 x heartbeat-interval 100 ms')


def test_pki_dir_inside_a_git_tree_reported_once_for_all_hosts():
    asked = []

    def root(path):
        asked.append(path)
        return '/home/op/src/infra' if path.startswith('/home/op/src/infra/') else None

    set_vars = {h: {'etcd_pki_dir': '/home/op/src/infra/pki'} for h in ('e1', 'e2', 'e3')}
    found = etcd_run(set_vars, git_root=root)['errors']
    assert found == ["etcd_pki_dir is '/home/op/src/infra/pki' for e1, e2 and e3, inside the git work tree "
                     "/home/op/src/infra where git would track it, and the etcd CA key must never land in a "
                     "repository; set etcd_pki_dir "
                     "outside it (the default is ~/.ironstone/pki/<etcd_cluster_name>)."]
    assert asked == ['/home/op/src/infra/pki']


def test_default_pki_dir_is_under_home_by_cluster_name():
    asked = []
    etcd_run({'e1': {'etcd_cluster_name': 'prod'}}, git_root=asked.append)
    assert sorted(asked) == ['/home/op/.ironstone/pki/ironstone', '/home/op/.ironstone/pki/prod']


def test_pki_dir_outside_a_git_tree_is_fine():
    assert etcd_run(git_root=lambda p: None)['errors'] == []


# --- 4c. storage rules --------------------------------------------------------

def test_storage_device_must_be_a_device_path():
    found = errors({'w1': {'local_storage_devices': ['/dev/sdb', 'sdc']}}, stages=['storage'])
    assert found == ["local_storage_devices on w1 names 'sdc', which is not a device path; write it as /dev/NAME."]


@pytest.mark.parametrize('root', ['mnt/disks', '/', '/etc', '/var/'])
def test_storage_mount_root_must_be_its_own_absolute_directory(root):
    message = only(errors({'w1': {'local_storage_mount_root': root}}, stages=['storage']), 'local_storage_mount_root')
    assert message.startswith("local_storage_mount_root is '%s' on w1;" % root)


# --- every message is one sentence --------------------------------------------

def test_every_message_is_one_sentence():
    groups = dict(BASE_GROUPS, all=BASE_GROUPS['all'] + ['Bad_Host', 'stray'], kube_node=['w1', 'Bad_Host'],
                  etcd=['e1', 'e2'], **{'kube-node': ['stray']})
    base = copy.deepcopy(BASE_VARS)
    base['Bad_Host'] = {'kube_node_name': 'Also_Bad\n'}
    base['stray'] = {'etcd_clinet_port': 1}
    base['w1'].update({
        'container_runtime_engine': 'docker', 'container_runtime_cri_dockerd_enabled': False,
        'container_runtime_sandbox_image': ['a\nb'], 'container_runtime_swap': False,
        'container_runtime_registry_mirrors': {'docker.io': [{'url': 'x', 'skip_verify': 'maybe', 'ca_file': '/n'}]},
        'container_runtime_sysctls': {'a b': '1', 'c': []},
        'container_runtime_extra_runtimes': {'x': {'foo': 1}},
        'local_storage_devices': 'sdb', 'local_storage_mount_root': '/etc',
    })
    base['e1'].update({'etcd_address': 'e1.example.com', 'etcd_install_source': 'archive', 'etcd_snapshot_count': 0,
                       'etcd_extra_config': {'name': 'x', 'election-timeout': 10}, 'etcd_pki_dir': '/repo/pki'})
    result = run(groups=groups, base_vars=base, stages=ALL_STAGES + ['bogus'], path_exists=lambda p: False,
                 git_root=lambda p: '/repo' if p.startswith('/repo') else None)
    assert len(result['errors']) >= 20
    assert len(set(result['errors'])) == len(result['errors'])
    assert_sentences(result)


# --- mirrors: one validation for the role's filter and for preflight -----------

def test_filter_and_preflight_share_the_mirror_validation():
    from ansible_collections.ironstone.k8s.plugins.filter import container_runtime
    from ansible_collections.ironstone.k8s.plugins.module_utils import container_runtime_mirrors
    bad = {'docker.io': [{'url': 'https://m.example.com', 'skip_verify': 'maybe'}], 'bad host!': []}
    expected = container_runtime_mirrors.mirror_errors(bad, {})
    assert len(expected) == 2
    assert container_runtime.mirror_errors(bad, {}) == expected
    found = runtime_errors({'container_runtime_registry_mirrors': bad})
    assert found == [m.rstrip('.') + ' (on w1).' for m in expected]


def test_mirrors_of_the_wrong_type_are_a_spec_error_only():
    found = runtime_errors({'container_runtime_registry_mirrors': ['https://m.example.com']})
    assert found == ["container_runtime_registry_mirrors is a list ['https://m.example.com'] on w1, but it must be a "
                     "dict (key: value pairs)."]


# The kube_packages stage: its argument spec through inventory.check, its own rules and the stand-in choice.
KP_SHA = 'b' * 64


def kp_check(set_vars=None, profile='production'):
    host_vars = copy.deepcopy(BASE_VARS)
    for host, extra in (set_vars or {}).items():
        host_vars[host].update(extra)
    return inventory.check(SPECS, INTERNAL, host_vars, copy.deepcopy(BASE_GROUPS), ['kube_packages'], profile=profile,
                           path_exists=lambda p: True, git_root=lambda p: None, home='/home/op')


def test_defaults_are_clean():
    result = kp_check()
    assert result['errors'] == [] and result['warnings'] == []


def test_wrong_type_and_choice_are_refused_on_kube_hosts():
    result = kp_check({'cp1': {'kube_packages_source': 'snap'}, 'w1': {'kube_packages_names': 'kubeadm'}})
    only(result['errors'], 'kube_packages_source')
    only(result['errors'], 'kube_packages_names')


def test_version_must_be_exact():
    message = only(kp_check({'cp1': {'kube_version': '1.32'}})['errors'], 'kube_version')
    assert "'1.32'" in message and 'X.Y.Z' in message
    only(kp_check({'cp1': {'kube_version': '1.20.4'}})['errors'], '1.24 and later')


def test_binaries_need_every_sha256():
    result = kp_check({'w1': {'kube_packages_source': 'binary', 'kube_packages_binary_sha256': {'kubeadm': KP_SHA}}})
    message = only(result['errors'], 'without a valid sha256')
    assert 'kubelet, kubectl, crictl' in message and 'kube_packages_crictl_sha256' in message and message.startswith('w1 ')


def test_binaries_with_every_sha256_pass():
    sums = {'kubeadm': KP_SHA, 'kubelet': KP_SHA, 'kubectl': KP_SHA}
    result = kp_check({'w1': {'kube_packages_source': 'binary', 'kube_packages_binary_sha256': sums,
                              'kube_packages_crictl_sha256': KP_SHA}})
    assert result['errors'] == []


def test_unknown_binary_in_sha256_map():
    sums = {'kubeadm': KP_SHA, 'kubelet': KP_SHA, 'kubectl': KP_SHA, 'kubeproxy': KP_SHA}
    only(kp_check({'w1': {'kube_packages_source': 'binary', 'kube_packages_binary_sha256': sums,
                          'kube_packages_crictl_sha256': KP_SHA}})['errors'], 'kubeproxy')


def test_standin_url_is_refused_in_production_only():
    only(kp_check({'cp1': {'kube_packages_standin_url': 'http://10.0.0.5:8080'}})['errors'], 'lab only')
    assert kp_check({'cp1': {'kube_packages_standin_url': 'http://10.0.0.5:8080'}}, profile='lab')['errors'] == []


def test_lab_binary_with_standin_needs_standin_sums_and_only_warns_for_real_ones():
    hv = {'kube_packages_source': 'binary', 'kube_packages_standin_url': 'http://10.0.0.5:8080'}
    result = kp_check({'w1': dict(hv)}, profile='lab')
    only(result['warnings'], 'without a valid sha256')
    only(result['errors'], 'kube_packages_standin_sha256')
    hv['kube_packages_standin_sha256'] = {'kubeadm': KP_SHA, 'kubelet': KP_SHA, 'kubectl': KP_SHA, 'crictl': KP_SHA}
    assert kp_check({'w1': hv}, profile='lab')['errors'] == []


def test_rule_messages_are_sentences():
    for level, message in kube_packages.problems({'kube_version': 'latest', 'kube_packages_source': 'apt',
                                                  'kube_packages_apt_revision': None,
                                                  'kube_packages_apt_base_url': 'pkgs.k8s.io'}, 'production'):
        assert level == 'errors' and message.endswith('.') and '{host}' in message


SRC = [{'stage': 'kube_packages', 'variable': 'kube_packages_apt_base_url',
        'url': 'https://pkgs.k8s.io/core:/stable:/v1.32/deb/Release.key',
        'standin_url': 'http://10.0.0.5:8080/core:/stable:/v1.32/deb/Release.key'},
       {'stage': 'etcd', 'variable': 'etcd_archive_url', 'url': 'http://mirror/etcd.tgz'}]


def test_lab_uses_the_standin_only_when_the_real_source_is_down_and_the_standin_answers():
    down_real = {SRC[0]['url']: (False, 'timed out'), SRC[0]['standin_url']: (True, 'HTTP 200'),
                 SRC[1]['url']: (True, 'HTTP 200')}
    standins = sources.plan_standins(SRC, down_real, 'lab')
    assert list(standins) == ['kube_packages'] and 'stand-in' in standins['kube_packages']
    assert sources.plan_standins(SRC, down_real, 'production') == {}
    up_real = dict(down_real, **{SRC[0]['url']: (True, 'HTTP 200')})
    assert sources.plan_standins(SRC, up_real, 'lab') == {}
    both_down = dict(down_real, **{SRC[0]['standin_url']: (False, 'refused')})
    assert sources.plan_standins(SRC, both_down, 'lab') == {}


def test_check_with_standins_probes_the_standin_in_the_lab_only():
    probed = []

    def opener(url, method, timeout):
        probed.append(url)
        if 'pkgs.k8s.io' in url:
            raise OSError('unreachable')
        return type('R', (), {'status': 200})()

    results, skips, failure, standins = sources.check_with_standins(SRC, 'lab', opener=opener)
    assert set(probed) == {SRC[0]['url'], SRC[0]['standin_url'], SRC[1]['url']}
    assert list(standins) == ['kube_packages'] and skips == {} and failure is None
    probed[:] = []
    results, skips, failure, standins = sources.check_with_standins(SRC, 'production', opener=opener)
    assert SRC[0]['standin_url'] not in probed and standins == {}
    assert 'pkgs.k8s.io' in failure and 'kube_packages_apt_base_url' in failure


# ---------------------------------------------------------------------------- calico stage

CALICO_SUMS = {'operator-crds.yaml': SHA, 'tigera-operator.yaml': 'b' * 64}


def calico_errors(cp1_vars, profile='production'):
    merged = dict({'calico_manifest_sha256': CALICO_SUMS}, **cp1_vars)
    result = run({'cp1': merged}, stages=['calico'], profile=profile)
    assert_sentences(result)
    return result


def test_calico_defaults_with_their_pins_pass():
    assert calico_errors({})['errors'] == []


@pytest.mark.parametrize('cp1_vars,text', [
    ({'calico_installation_spec': {'calicoVersion': 'v3.26.1'}}, 'calico_installation_spec.calicoVersion: there is no spec.calicoVersion'),
    ({'calico_ip_pools': [{'encapsulation': 'VXLANAlways'}]}, "calico_ip_pools[0].encapsulation is 'VXLANAlways'"),
    ({'calico_version': '3.26.1'}, "calico_version '3.26.1' is not in the collection's release table"),
    ({'calico_ip_pools': [{'cidr': '10.96.0.0/16'}]}, 'outside kube_pod_subnet 10.244.0.0/16'),
    ({'kube_pod_subnet': '10.32.0.0/16', 'calico_ip_pools': [{'cidr': '10.244.0.0/16'}]}, 'outside kube_pod_subnet 10.32.0.0/16'),
    ({'calico_registry': 'mirror.example.com'}, "calico_registry is 'mirror.example.com'"),
    ({'calico_manifest_sha256': {'tigera-operator.yaml': SHA}}, 'without a valid sha256 for operator-crds.yaml'),
    ({'calico_manifest_sha256': dict(CALICO_SUMS, **{'calico.yaml': SHA})}, 'calico_manifest_sha256 for calico.yaml'),
    ({'calico_standin_url': 'http://lab:8099'}, 'the stand-in manifests are for the lab only'),
    ({'calico_manifest_base_url': 'raw.githubusercontent.com/x'}, 'is not an http(s):// or file:// URL'),
])
def test_calico_inputs_are_refused_naming_the_variable_and_the_host(cp1_vars, text):
    message = only(calico_errors(cp1_vars)['errors'], text)
    assert 'cp1' in message


def test_calico_network_mode_is_checked_by_the_argument_spec():
    message = only(calico_errors({'calico_network_mode': 'overlay'})['errors'], 'calico_network_mode')
    assert 'overlay' in message


def test_calico_in_the_lab_may_use_the_stand_in_pins():
    result = calico_errors({'calico_manifest_sha256': {}, 'calico_standin_url': 'http://lab:8099',
                            'calico_standin_sha256': CALICO_SUMS}, profile='lab')
    assert result['errors'] == []
    assert any('without a valid sha256' in w for w in result['warnings'])
    missing = calico_errors({'calico_manifest_sha256': {}, 'calico_standin_url': 'http://lab:8099'}, profile='lab')
    assert any('calico_standin_sha256 lacks a sha256 for operator-crds.yaml, tigera-operator.yaml' in e for e in missing['errors'])


def test_calico_variables_are_known_to_preflight():
    result = run({'cp1': {'calico_netwrk_mode': 'bgp', 'calico_manifest_sha256': CALICO_SUMS}}, stages=['calico'])
    assert 'did you mean calico_network_mode?' in only(result['errors'], 'calico_netwrk_mode')
