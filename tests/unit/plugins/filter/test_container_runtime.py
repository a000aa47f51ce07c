# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# Unit tests for plugins/filter/container_runtime.py: the container_runtime
# role's mirror, config-format and download decisions. The Molecule cases
# (runtime, runtime_docker, runtime_archive, runtime_v2) come first in each
# group, then the edge cases those scenarios do not reach.

import os

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.ironstone.k8s.plugins.filter import container_runtime as cr

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
CERTS = '/etc/containerd/certs.d'
PLAIN = {'skip_verify': False, 'ca_file': ''}


def mirror(url, **kw):
    return dict(PLAIN, url=url, **kw)


# --- mirror validation -------------------------------------------------------

def test_valid_mirrors_have_no_errors():
    mirrors = {'docker.io': ['https://mirror-a.example.com'],
               'registry.k8s.io': [{'url': 'https://k8s-mirror.example.com', 'skip_verify': True}],
               'registry.lab.example:5000': [{'url': 'http://10.0.0.5:5000', 'ca_file': '/etc/ssl/ca.pem'}],
               '_default': ['https://catch-all.example.com']}
    assert cr.mirror_errors(mirrors, {'docker.io': ['https://site.example.com']}) == []
    assert cr.mirror_errors({}, {}) == []
    assert cr.mirror_errors({}, None) == []


def test_mirror_without_scheme_names_variable_registry_and_fix():
    # The runtime_archive side effect expects both the bad URL and the fix.
    errors = cr.mirror_errors({'docker.io': ['mirror.example.com']})
    assert errors == ["container_runtime_registry_mirrors[docker.io] has mirror 'mirror.example.com' without an "
                      "http:// or https:// scheme; write it as https://mirror.example.com (or http:// for a "
                      "plain-HTTP mirror)."]


def test_extra_errors_name_the_extra_variable():
    errors = cr.mirror_errors({}, {'quay.io': [{'url': 'quay-mirror:5000'}]})
    assert len(errors) == 1
    assert errors[0].startswith('container_runtime_registry_mirrors_extra[quay.io] ')


@pytest.mark.parametrize('mirrors, expected', [
    ({'docker.io': 'https://m.example.com'}, 'container_runtime_registry_mirrors[docker.io] is '),
    ({'docker.io': [{'url': 'https://m', 'skip_tls': True}]}, 'has unknown keys skip_tls'),
    ({'docker.io': [{'skip_verify': True}]}, '[docker.io][0] has no url'),
    ({'docker.io': [{'url': 'https://m', 'skip_verify': 'yes'}]}, "has skip_verify 'yes'; write true or false"),
    ({'docker.io': [{'url': 'https://m', 'ca_file': 5}]}, 'has ca_file 5'),
    ({'docker.io': [42]}, '[docker.io][0] is 42'),
    ({'docker.io': ['ftp://m.example.com']}, "mirror 'ftp://m.example.com' without an http:// or https:// scheme"),
    ({'docker.io': ['https://']}, "mirror 'https://' without"),
    ({'https://docker.io': ['https://m']}, "registry 'https://docker.io', which is not a registry host name"),
    ({'docker.io/library': ['https://m']}, "registry 'docker.io/library'"),
    ({'': ['https://m']}, "registry ''"),
    (['docker.io'], 'must be a dict of registry names'),
])
def test_bad_mirrors_are_refused_with_one_sentence_each(mirrors, expected):
    errors = cr.mirror_errors(mirrors)
    assert len(errors) == 1
    assert expected in errors[0]
    assert errors[0].endswith('.')


def test_every_problem_is_reported_not_only_the_first():
    errors = cr.mirror_errors({'docker.io': ['a.example.com', 'b.example.com']}, {'quay.io': ['c.example.com']})
    assert [e.split(' has ')[0] for e in errors] == [
        'container_runtime_registry_mirrors[docker.io]', 'container_runtime_registry_mirrors[docker.io]',
        'container_runtime_registry_mirrors_extra[quay.io]']


@pytest.mark.parametrize('registry', ['docker.io', 'registry.k8s.io', 'localhost:5000', '10.0.0.5:5000',
                                      '[fd00::5]:5000', 'my-registry', '_default'])
def test_registry_host_names_accepted(registry):
    assert cr.mirror_errors({registry: ['https://m.example.com']}) == []


# --- merge -------------------------------------------------------------------

def test_string_mirror_is_normalized():
    assert cr.merge_mirrors({'docker.io': ['https://mirror-a.example.com']}) == {
        'docker.io': [mirror('https://mirror-a.example.com')]}


def test_dict_mirror_keeps_skip_verify_and_ca_file():
    merged = cr.merge_mirrors({'registry.k8s.io': [
        {'url': 'https://k8s-mirror.example.com', 'skip_verify': True},
        {'url': 'https://ca-mirror.example.com', 'ca_file': '/etc/ssl/certs/root.pem'}]})
    assert merged == {'registry.k8s.io': [mirror('https://k8s-mirror.example.com', skip_verify=True),
                                          mirror('https://ca-mirror.example.com', ca_file='/etc/ssl/certs/root.pem')]}


def test_several_registries_keep_their_order_and_mirror_order():
    merged = cr.merge_mirrors({'registry.k8s.io': ['https://k1', 'https://k2'], 'docker.io': ['https://d1'],
                               'quay.io': ['https://q1']})
    assert list(merged) == ['registry.k8s.io', 'docker.io', 'quay.io']
    assert [m['url'] for m in merged['registry.k8s.io']] == ['https://k1', 'https://k2']


def test_empty_and_missing_give_no_mirrors():
    assert cr.merge_mirrors({}) == {}
    assert cr.merge_mirrors({}, {}) == {}
    assert cr.merge_mirrors(None, None) == {}
    assert cr.merge_mirrors({'docker.io': []}) == {'docker.io': []}


def test_extra_mirrors_come_first_and_keep_the_base_ones():
    base = {'docker.io': ['https://central.example.net'],
            'registry.k8s.io': [{'url': 'https://central.example.net', 'ca_file': '/etc/ssl/ca.pem'}]}
    merged = cr.merge_mirrors(base, {'docker.io': ['https://site-a.example.net']})
    assert merged == {'docker.io': [mirror('https://site-a.example.net'), mirror('https://central.example.net')],
                      'registry.k8s.io': [mirror('https://central.example.net', ca_file='/etc/ssl/ca.pem')]}


def test_extra_adds_registries_after_the_base_ones():
    merged = cr.merge_mirrors({'docker.io': ['https://d']}, {'ghcr.io': ['https://g'], 'quay.io': ['https://q']})
    assert list(merged) == ['docker.io', 'ghcr.io', 'quay.io']
    assert merged['ghcr.io'] == [mirror('https://g')]


def test_url_in_both_appears_once_where_and_as_extra_says():
    base = {'docker.io': ['https://a', {'url': 'https://b', 'skip_verify': True}]}
    merged = cr.merge_mirrors(base, {'docker.io': ['https://c', {'url': 'https://b', 'ca_file': '/ca.pem'}]})
    assert merged['docker.io'] == [mirror('https://c'), mirror('https://b', ca_file='/ca.pem'), mirror('https://a')]


def test_duplicate_url_in_one_list_is_kept_once_first_wins():
    merged = cr.merge_mirrors({'docker.io': ['https://a', {'url': 'https://a', 'skip_verify': True}, 'https://b']})
    assert merged['docker.io'] == [mirror('https://a'), mirror('https://b')]


def test_empty_extra_list_changes_nothing():
    base = {'docker.io': ['https://a']}
    assert cr.merge_mirrors(base, {'docker.io': []}) == cr.merge_mirrors(base)


def test_merge_does_not_modify_its_inputs():
    base = {'docker.io': ['https://a']}
    extra = {'docker.io': ['https://b']}
    cr.merge_mirrors(base, extra)
    assert base == {'docker.io': ['https://a']} and extra == {'docker.io': ['https://b']}


def test_merge_refuses_invalid_input_with_the_same_sentences():
    with pytest.raises(AnsibleFilterError, match=r"mirror 'mirror.example.com' without an http:// or https://"):
        cr.merge_mirrors({'docker.io': ['mirror.example.com']})


def test_sample_inventory_edge_keeps_central_mirrors_and_adds_its_own():
    # The inventory as Ansible reads it: all.yml and edge.yml group_vars.
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.vars.manager import VariableManager
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[os.path.join(ROOT, 'inventories', 'sample', 'hosts.yml')])
    variables = VariableManager(loader=loader, inventory=inventory)

    def merged(host):
        hostvars = variables.get_vars(host=inventory.get_host(host))
        return cr.merge_mirrors(hostvars['container_runtime_registry_mirrors'],
                                hostvars.get('container_runtime_registry_mirrors_extra', {}))

    edge, central = merged('edge-1.site-a.example.net'), merged('cp-1.dc1.example.net')
    assert [m['url'] for m in edge['docker.io']] == ['https://mirror.site-a.example.net',
                                                     'https://registry-mirror.example.net']
    assert edge['registry.k8s.io'] == central['registry.k8s.io'] == [
        mirror('https://registry-mirror.example.net', ca_file='{{ inventory_dir }}/files/registry-mirror-ca.pem')]
    assert [m['url'] for m in central['docker.io']] == ['https://registry-mirror.example.net']


# --- hosts.toml plan and server names ----------------------------------------

@pytest.mark.parametrize('registry, server', [
    ('docker.io', 'https://registry-1.docker.io'),
    ('registry.k8s.io', 'https://registry.k8s.io'),
    ('quay.io', 'https://quay.io'),
    ('registry.lab.example:5000', 'https://registry.lab.example:5000'),
    ('10.0.0.5:5000', 'https://10.0.0.5:5000'),
    ('_default', None),
])
def test_registry_server(registry, server):
    assert cr.registry_server(registry) == server


def test_hosts_files_plan():
    merged = cr.merge_mirrors({'docker.io': ['https://mirror-a.example.com'],
                               'registry.k8s.io': [{'url': 'https://k8s-mirror.example.com', 'skip_verify': True}]})
    assert cr.hosts_files(merged, CERTS) == [
        {'registry': 'docker.io', 'dir': CERTS + '/docker.io', 'path': CERTS + '/docker.io/hosts.toml',
         'server': 'https://registry-1.docker.io', 'hosts': [mirror('https://mirror-a.example.com')], 'cas': []},
        {'registry': 'registry.k8s.io', 'dir': CERTS + '/registry.k8s.io',
         'path': CERTS + '/registry.k8s.io/hosts.toml', 'server': 'https://registry.k8s.io',
         'hosts': [mirror('https://k8s-mirror.example.com', skip_verify=True)], 'cas': []}]


def test_hosts_files_deliver_each_mirror_ca_from_the_controller():
    merged = cr.merge_mirrors({'registry.lab.example:5000': [
        {'url': 'https://10.0.0.5:5000/v2', 'ca_file': '/home/ops/pki/lab-ca.pem'}, 'https://plain.example.com']})
    plan = cr.hosts_files(merged, CERTS)[0]
    dest = CERTS + '/registry.lab.example:5000/ironstone-mirror-10.0.0.5_5000.crt'
    assert plan['cas'] == [{'src': '/home/ops/pki/lab-ca.pem', 'dest': dest}]
    assert plan['hosts'][0]['ca_path'] == dest
    assert 'ca_path' not in plan['hosts'][1]


def test_hosts_files_paths_match_find_results_with_a_trailing_slash():
    # find returns <certs_dir>/<registry>/hosts.toml; the stale-file step compares paths.
    plan = cr.hosts_files({'docker.io': []}, CERTS + '/')
    assert plan[0]['path'] == CERTS + '/docker.io/hosts.toml'
    assert plan[0]['dir'] == CERTS + '/docker.io'


def test_hosts_files_default_namespace_and_empty():
    assert cr.hosts_files({}, CERTS) == []
    plan = cr.hosts_files({'_default': [mirror('https://all.example.com')]}, CERTS)
    assert plan[0]['server'] is None and plan[0]['path'] == CERTS + '/_default/hosts.toml'


# --- containerd config format ------------------------------------------------

@pytest.mark.parametrize('output, version', [
    ('containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+b1', 2),  # Debian 12
    ('containerd github.com/containerd/containerd v1.7.24 88bf19b2105c8b17560993bee28a01ddc2f97182', 2),
    ('containerd github.com/containerd/containerd/v2 2.1.4~ds1 2.1.4~ds1-1', 3),  # Debian unstable
    ('containerd github.com/containerd/containerd/v2 v2.0.0 207ad711eabd375a01713109a8a197d197ff6542', 3),
    ('containerd containerd.io 1.7.27 05044ec0a9a75232cad458027ca83437aae3f4da\n', 2),  # docker-ce's containerd.io
    ('containerd github.com/containerd/containerd v10.1.0 x', 3),
])
def test_config_version(output, version):
    assert cr.config_version(output) == version


@pytest.mark.parametrize('output', ['', 'containerd: command not found', 'containerd github.com/x vX'])
def test_config_version_refuses_what_it_cannot_read(output):
    with pytest.raises(AnsibleFilterError, match="cannot read containerd's version"):
        cr.config_version(output)


# --- downloads ---------------------------------------------------------------

def catalogue(engine='containerd', source='archive', cni=True, cri_dockerd=True):
    """The role's download catalogue (vars/main.yml) after templating, for one choice of inputs."""
    archive = engine == 'containerd' and source == 'archive'
    return {
        'container_runtime_containerd_archive': {'url': 'http://m/containerd.tgz', 'sha256': 'a' * 64,
                                                 'dest': '/d/c', 'enabled': archive},
        'container_runtime_runc': {'url': 'http://m/runc', 'sha256': 'b' * 64, 'dest': '/d/r', 'enabled': archive},
        'container_runtime_cni_plugins': {'url': 'http://m/cni.tgz', 'sha256': 'c' * 64, 'dest': '/d/n',
                                          'enabled': archive and cni},
        'container_runtime_cri_dockerd': {'url': 'http://m/cri.tgz', 'sha256': '', 'dest': '/d/x',
                                          'enabled': engine == 'docker' and cri_dockerd, 'hint': 'set X to false'},
    }


@pytest.mark.parametrize('kwargs, expected', [
    ({}, ['container_runtime_containerd_archive', 'container_runtime_runc', 'container_runtime_cni_plugins']),
    ({'cni': False}, ['container_runtime_containerd_archive', 'container_runtime_runc']),
    ({'source': 'package'}, []),
    ({'engine': 'docker'}, ['container_runtime_cri_dockerd']),
    ({'engine': 'docker', 'cri_dockerd': False}, []),
])
def test_enabled_downloads(kwargs, expected):
    downloads = cr.enabled_downloads(catalogue(**kwargs), 'runtime')
    assert [d['var'] for d in downloads] == expected
    assert all('url' in d and 'dest' in d for d in downloads)
    # What preflight's source_check reads: the stage and the variable to point at a mirror.
    assert [(d['stage'], d['variable']) for d in downloads] == [('runtime', name + '_url') for name in expected]


def test_enabled_downloads_reads_templated_booleans():
    entries = {'a': {'enabled': 'True'}, 'b': {'enabled': 'False'}, 'c': {'enabled': 'false'}, 'd': {}}
    assert [d['var'] for d in cr.enabled_downloads(entries, 'runtime')] == ['a']


def test_checksum_errors():
    assert cr.checksum_errors(cr.enabled_downloads(catalogue(), 'runtime')) == []
    errors = cr.checksum_errors(cr.enabled_downloads(catalogue(engine='docker'), 'runtime'))
    assert errors == ["container_runtime_cri_dockerd_sha256 must be the 64-hex-digit sha256 of http://m/cri.tgz "
                      "(got ''); every download is verified before anything is installed."]
    assert len(cr.checksum_errors([{'var': 'v', 'url': 'u', 'sha256': 'A' * 63}])) == 1
    assert len(cr.checksum_errors([{'var': 'v', 'url': 'u', 'sha256': 'g' * 64}])) == 1
    assert cr.checksum_errors([{'var': 'v', 'url': 'u', 'sha256': 'ABCDEF0123' * 6 + 'abcd'}]) == []


def item(var, **kw):
    return dict({'var': var, 'url': 'http://m/' + var}, **kw)


def test_download_errors_name_url_variables_and_say_nothing_was_installed():
    results = [
        {'item': item('container_runtime_containerd_archive'), 'failed': True,
         'msg': 'The checksum for /tmp/x did not match 1111; it was 2222.'},
        {'item': item('container_runtime_runc'), 'changed': False},
    ]
    assert cr.download_errors(results) == [
        'container_runtime_containerd_archive: http://m/container_runtime_containerd_archive could not be used '
        '(The checksum for /tmp/x did not match 1111; it was 2222.); check container_runtime_containerd_archive_url '
        'and container_runtime_containerd_archive_sha256. Nothing was installed.']


def test_download_errors_add_the_hint_and_survive_a_missing_msg():
    errors = cr.download_errors([{'item': item('container_runtime_cri_dockerd', hint='set X to false'),
                                  'failed': True}])
    assert errors == ['container_runtime_cri_dockerd: http://m/container_runtime_cri_dockerd could not be used '
                      '(unknown error); check container_runtime_cri_dockerd_url and container_runtime_cri_dockerd_sha256, '
                      'or set X to false. Nothing was installed.']
    assert cr.download_errors([]) == cr.download_errors(None) == []


def test_unfetched_in_check_mode_on_a_fresh_host():
    # The cache did not exist, so every download was skipped.
    results = [{'item': item('a'), 'skipped': True, 'changed': False}, {'item': item('b'), 'skipped': True}]
    assert cr.unfetched(results, True) == ['a', 'b']


def test_unfetched_in_check_mode_with_a_new_version_to_fetch():
    # The cache exists: get_url previews the new archive (changed) and finds the cached one (ok).
    results = [{'item': item('a'), 'changed': True}, {'item': item('b'), 'changed': False}]
    assert cr.unfetched(results, True) == ['a']


def test_nothing_is_unfetched_outside_check_mode_or_on_a_converged_host():
    assert cr.unfetched([{'item': item('a'), 'changed': True}], False) == []
    assert cr.unfetched([{'item': item('a'), 'changed': False}], True) == []
    assert cr.unfetched([], True) == cr.unfetched(None, True) == []


def test_filter_plugin_exposes_every_filter_under_the_role_prefix():
    filters = cr.FilterModule().filters()
    assert all(name.startswith('container_runtime_') for name in filters)
    assert filters['container_runtime_merge_mirrors'] is cr.merge_mirrors
    assert len(filters) == 8
