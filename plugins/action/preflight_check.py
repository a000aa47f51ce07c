# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
"""Controller side of ironstone.k8s.preflight_check: gathers what the checks need
(the roles' argument specs, each host's variables templated with the roles'
defaults behind them, the groups) and reports what
plugins/module_utils/preflight finds. It never connects to a host."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import glob
import os
import subprocess
import time

import yaml

from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.ironstone.k8s.plugins.module_utils.preflight import inventory

ROLES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'roles')
# Variables read from every host besides those with a role prefix.
ALSO_READ = ('ansible_host', inventory.NODE_NAME_VAR)


def _load(path):
    try:
        with open(path) as handle:
            return yaml.safe_load(handle) or {}
    except (IOError, OSError):
        return {}


def _names_set_by_tasks(node, out):
    """Variables the roles' own tasks define (register, set_fact), which are not inputs."""
    if isinstance(node, list):
        for item in node:
            _names_set_by_tasks(item, out)
    elif isinstance(node, dict):
        if isinstance(node.get('register'), str):
            out.add(node['register'])
        facts = node.get('ansible.builtin.set_fact') or node.get('set_fact')
        if isinstance(facts, dict):
            out.update(k for k in facts if k != 'cacheable')
        for value in node.values():
            if isinstance(value, (list, dict)):
                _names_set_by_tasks(value, out)


def load_roles(roles_dir=ROLES_DIR):
    """(specs, defaults, internal): argument specs by role, role defaults, and role-internal names."""
    specs, defaults, internal = {}, {}, set()
    for role_dir in sorted(glob.glob(os.path.join(roles_dir, '*'))):
        role = os.path.basename(role_dir)
        specs[role] = _load(os.path.join(role_dir, 'meta', 'argument_specs.yml')).get('argument_specs') or {}
        defaults.update(_load(os.path.join(role_dir, 'defaults', 'main.yml')))
        internal.update(_load(os.path.join(role_dir, 'vars', 'main.yml')))
        for tasks in glob.glob(os.path.join(role_dir, 'tasks', '*.yml')) + glob.glob(os.path.join(role_dir, 'handlers', '*.yml')):
            _names_set_by_tasks(_load(tasks), internal)
    return specs, defaults, internal


def git_root(path):
    """The git work tree that contains path (or would, once created), else None."""
    current = os.path.abspath(os.path.expanduser(path))
    while True:
        if os.path.exists(os.path.join(current, '.git')):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def git_ignored(root, path):
    """Whether git ignores path in the work tree at root (True/False), or None when git cannot say."""
    try:
        run = subprocess.run(['git', '-C', root, 'check-ignore', '-q', os.path.abspath(os.path.expanduser(path))],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return {0: True, 1: False}.get(run.returncode)


def tracked_root(path):
    """The git work tree in which path would be tracked (it is inside and not ignored), else None.

    A path that git ignores (a build or cache directory listed in .gitignore) does not land in the
    repository; one that git cannot judge (no git on the controller) counts as tracked.
    """
    root = git_root(path)
    if root is None or git_ignored(root, path) is True:
        return None
    return root


def path_exists(path):
    return os.path.exists(os.path.expanduser(path))


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset(('stages', 'profile', 'unknown_variables'))

    def run(self, tmp=None, task_vars=None):
        started = time.time()
        result = super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        args = self._task.args
        stages = args.get('stages') or []
        profile = args.get('profile') or 'production'
        policy = args.get('unknown_variables') or 'auto'
        specs, defaults, internal = load_roles()
        hostvars = task_vars.get('hostvars') or {}
        groups = dict((name, list(hosts)) for name, hosts in (task_vars.get('groups') or {}).items())
        host_vars, unreadable = {}, []
        for host in groups.get('all', []):
            raw = hostvars.raw_get(host) if hasattr(hostvars, 'raw_get') else hostvars.get(host, {})
            context = dict(defaults)
            context.update(raw)
            templar = self._templar.copy_with_new_env(available_variables=context)
            values = {}
            for name in raw:
                if not (name.startswith(inventory.PREFIXES) or name in ALSO_READ):
                    continue
                try:
                    values[name] = templar.template(raw[name])
                except Exception as error:  # an input that cannot be evaluated is itself a problem
                    unreadable.append('%s on %s cannot be evaluated (%s); fix its value.'
                                      % (name, host, to_text(error).splitlines()[0][:200]))
            host_vars[host] = values
        found = inventory.check(specs, internal, host_vars, groups, stages, profile=profile, unknown_policy=policy,
                                path_exists=path_exists, git_root=tracked_root, home=os.path.expanduser('~'))
        errors = unreadable + found['errors']
        seconds = round(time.time() - started, 2)
        result.update(changed=False, errors=errors, hosts=found['hosts'], variables=found['variables'], seconds=seconds,
                      kube_versions=found.get('kube_versions', {}))
        if found['warnings']:
            result['warnings'] = found['warnings']
        summary = 'preflight checked %d hosts and %d variables in %.2f s' % (found['hosts'], found['variables'], seconds)
        if errors:
            result['failed'] = True
            result['msg'] = '%s and found %d problems, before touching any host: %s' % (
                summary, len(errors), ' '.join('(%d) %s' % (i + 1, e) for i, e in enumerate(errors)))
        else:
            result['msg'] = summary + ': no problems.'
        return result
