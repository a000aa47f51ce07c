"""The etcd role's argument specs: every entry point validates every role
default it reads (through its task files, the role's derived vars and the
templates they render), and the specs' defaults are those of defaults/main.yml."""
import os
import re

import pytest
import yaml

ROLE = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'roles', 'etcd')
NAME = re.compile(r'\betcd_[a-z0-9_]+\b')
INCLUDE = re.compile(r'(?:import_tasks|include_tasks):\s*([\w.]+\.yml)')
TEMPLATE = re.compile(r'\b([\w.]+\.j2)\b')


def load(*parts):
    with open(os.path.join(ROLE, *parts)) as handle:
        return handle.read()


def code(text):
    """Text without its comment lines (which may name variables in passing)."""
    return '\n'.join(line for line in text.splitlines() if not line.lstrip().startswith('#'))


DEFAULTS = yaml.safe_load(load('defaults', 'main.yml'))
DERIVED = dict((k, code(yaml.safe_dump(v))) for k, v in yaml.safe_load(load('vars', 'main.yml')).items())
SPECS = yaml.safe_load(load('meta', 'argument_specs.yml'))['argument_specs']


def reads(entry_point):
    """Role defaults that an entry point reads, directly or through derived vars and templates."""
    files, texts, seen_files = [entry_point + '.yml'], [], set()
    while files:
        name = files.pop()
        if name in seen_files:
            continue
        seen_files.add(name)
        text = code(load('tasks', name))
        texts.append(text)
        files.extend(INCLUDE.findall(text))
    names, todo, seen_templates = set(), list(texts), set()
    while todo:
        text = todo.pop()
        for template in TEMPLATE.findall(text):
            if template not in seen_templates:
                seen_templates.add(template)
                todo.append(code(load('templates', template)))
        for name in NAME.findall(text):
            if name in names:
                continue
            names.add(name)
            if name in DERIVED:
                todo.append(DERIVED[name])
    return names & set(DEFAULTS)


def test_every_task_file_that_plays_call_has_an_entry_point():
    playbooks = os.path.join(ROLE, '..', '..', 'playbooks')
    called = set()
    for name in os.listdir(playbooks):
        with open(os.path.join(playbooks, name)) as handle:
            # Only the etcd role's task files (the other roles' entry points are theirs).
            called.update(re.findall(r'name:\s*ironstone\.k8s\.etcd\s*\n\s*tasks_from:\s*(\w+)', handle.read()))
    assert called <= set(SPECS), called - set(SPECS)
    for ep in SPECS:
        assert os.path.isfile(os.path.join(ROLE, 'tasks', ep + '.yml')), ep


@pytest.mark.parametrize('entry_point', sorted(SPECS))
def test_entry_point_validates_every_default_it_reads(entry_point):
    options = set(SPECS[entry_point].get('options') or {})
    missing = reads(entry_point) - options
    assert not missing, '%s reads %s without validating them' % (entry_point, sorted(missing))


@pytest.mark.parametrize('entry_point', sorted(SPECS))
def test_spec_defaults_are_those_of_defaults_main(entry_point):
    for name, spec in (SPECS[entry_point].get('options') or {}).items():
        if spec.get('required'):
            assert name not in DEFAULTS, name
            continue
        assert name in DEFAULTS, '%s: %s has no default in defaults/main.yml' % (entry_point, name)
        assert spec.get('default') == DEFAULTS[name], '%s: %s' % (entry_point, name)


def test_the_reading_finds_derived_and_template_variables():
    # backup reads etcd_client_url (vars) -> etcd_address; main renders etcd.conf.yml.j2 -> etcd_config_base -> etcd_extra_config.
    assert {'etcd_address', 'etcd_client_port', 'etcd_backup_keep'} <= reads('backup')
    assert 'etcd_extra_config' in reads('main')
    assert 'etcd_backup_keep' not in reads('main')
