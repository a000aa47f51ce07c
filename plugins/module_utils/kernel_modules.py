# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# Kernel modules for ironstone.k8s.node_prereqs: whether a module is loaded or
# built in (read from /proc, /sys and modules.builtin under a root that tests
# point at a fixture tree), and loading the missing ones with modprobe through
# an injected runner. Plain Python, no Ansible imports.

import os

from ansible_collections.ironstone.k8s.plugins.module_utils.common.files import read_if_exists, under_root

# Module states.
LOADED = 'loaded'
BUILTIN = 'builtin'
LOADED_NOW = 'loaded_now'
MISSING = 'missing'

# Built-in modules without parameters have neither a /proc/modules line nor a
# /sys/module directory; for the usual Kubernetes modules something else in
# /proc shows that the kernel has them.
_BUILTIN_EVIDENCE = {
    # br_netfilter registers the net.bridge.bridge-nf-* sysctls.
    'br_netfilter': ('path', 'proc/sys/net/bridge'),
    # overlay registers the "overlay" filesystem type.
    'overlay': ('filesystem', 'overlay'),
}


def _read_text(path):
    return read_if_exists(path, binary=False)


def normalize_module(name):
    # The kernel treats "-" and "_" in module names as the same character and
    # lists them with "_".
    return name.replace('-', '_')


def read_proc_modules(root):
    """Names listed in <root>/proc/modules, or None when the file does not exist."""
    text = _read_text(under_root(root, '/proc/modules'))
    if text is None:
        return None
    return set(line.split()[0] for line in text.splitlines() if line.strip())


def _builtin_evidence(root, name):
    evidence = _BUILTIN_EVIDENCE.get(name)
    if evidence is None:
        return False
    kind, what = evidence
    if kind == 'path':
        return os.path.exists(under_root(root, what))
    text = _read_text(under_root(root, '/proc/filesystems')) or ''
    return any(line.split() and line.split()[-1] == what for line in text.splitlines())


def _listed_builtin(root, name):
    """Whether <root>/lib/modules/<release>/modules.builtin names the module."""
    release = (_read_text(under_root(root, '/proc/sys/kernel/osrelease')) or '').strip()
    if not release:
        return False
    text = _read_text(under_root(root, '/lib/modules/%s/modules.builtin' % release)) or ''
    for line in text.splitlines():
        base = os.path.basename(line.strip())
        if base.endswith('.ko'):
            base = base[:-3]
        if base and normalize_module(base) == name:
            return True
    return False


def module_state(root, name):
    """LOADED, BUILTIN or None (absent) for one module."""
    name = normalize_module(name)
    listed = read_proc_modules(root)
    if listed is not None and name in listed:
        return LOADED
    if (os.path.isdir(under_root(root, '/sys/module/%s' % name)) or _listed_builtin(root, name)
            or _builtin_evidence(root, name)):
        return BUILTIN
    return None


def ensure_modules(kernel_modules, root, check_mode, runner, which):
    """Load what is missing. Returns (states, changed, missing) with missing as {name: reason}."""
    states = {}
    missing = {}
    changed = False
    has_proc_modules = os.path.exists(under_root(root, '/proc/modules'))
    modprobe = None
    for name in kernel_modules:
        if name in states:
            continue
        state = module_state(root, name)
        if state is not None:
            states[name] = {'state': state}
            continue
        if not has_proc_modules:
            reason = 'no loadable-module support in this kernel: /proc/modules is missing'
        else:
            if modprobe is None:
                modprobe = which('modprobe') or ''
            if not modprobe:
                reason = 'modprobe is not installed'
            elif check_mode:
                # Check mode reports the state a successful modprobe would give.
                states[name] = {'state': LOADED_NOW}
                changed = True
                continue
            else:
                rc, out, err = runner([modprobe, name])
                if rc != 0:
                    detail = ' '.join((err or out or '').split()) or 'no output'
                    reason = 'modprobe %s failed with exit code %s: %s' % (name, rc, detail)
                elif module_state(root, name) is None:
                    reason = 'modprobe %s succeeded but the module is still not listed in /proc/modules or /sys/module' % name
                else:
                    states[name] = {'state': LOADED_NOW}
                    changed = True
                    continue
        states[name] = {'state': MISSING}
        missing[name] = reason
    return states, changed, missing
