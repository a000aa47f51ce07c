# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
"""The pruning of hosts.toml files: the role's `find contains:` pattern must match the
marker line its own template writes, under find's rule (each line, re.match from the
line's start), and must not match a hosts.toml the operator wrote."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

import jinja2
import yaml

ROLE = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'roles', 'container_runtime')


def _find_task():
    with open(os.path.join(ROLE, 'tasks', 'containerd.yml')) as fh:
        tasks = yaml.safe_load(fh)
    finds = [t for t in tasks if 'ansible.builtin.find' in t and t['ansible.builtin.find'].get('patterns') == 'hosts.toml']
    assert len(finds) == 1
    return finds[0]['ansible.builtin.find']


def _render_hosts_toml():
    with open(os.path.join(ROLE, 'templates', 'hosts.toml.j2')) as fh:
        template = jinja2.Environment(undefined=jinja2.ChainableUndefined).from_string(fh.read())
    return template.render(item={'registry': 'docker.io', 'server': 'https://registry-1.docker.io',
                                 'mirrors': [{'url': 'https://mirror.example.com', 'skip_verify': False, 'ca_file': ''}]})


def _find_matches(pattern, content):
    """ansible.builtin.find's contains test (read_whole_file false): any line, re.match."""
    prog = re.compile(pattern)
    return any(prog.match(line) for line in content.splitlines())


def test_the_pattern_matches_what_the_template_writes():
    content = _render_hosts_toml()
    assert content.startswith('# Managed by ironstone.k8s')
    assert _find_matches(_find_task()['contains'], content)


def test_the_pattern_does_not_match_an_operators_hosts_toml():
    theirs = 'server = "https://registry.example.com"\n\n[host."https://mirror.example.com"]\n  capabilities = ["pull"]\n'
    assert not _find_matches(_find_task()['contains'], theirs)
    # Nor one that merely mentions the collection further down a line.
    assert not _find_matches(_find_task()['contains'], 'server = "x" # copied from a host Managed by ironstone.k8s\n')


def test_the_old_pattern_would_never_have_matched():
    # The defect this guards against: without the leading '#', re.match never hits the marker line.
    assert not _find_matches('Managed by ironstone.k8s', _render_hosts_toml())
