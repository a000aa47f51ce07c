# -*- coding: utf-8 -*-
"""Materialize the gpu_info fixture cases (tests/unit/fixtures/gpu) as sysfs trees.

Shared by the module_utils and module tests. The PCI trees are stored as
pci.json because their directory names contain ':', which collection file
names must not; see the README beside the fixtures.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'gpu')


def materialize_sysfs(root, case_dir):
    """Build a case's sysfs tree under ``root`` and return it as a string.

    Committed files under ``<case>/sys`` (module/nvidia/version) are copied; the PCI tree
    comes from ``<case>/pci.json`` (address -> {file name: content without the trailing
    newline, or {"symlink": target}}), since its directory names contain ':' which
    collection file names must not.
    """
    src = os.path.join(case_dir, 'sys')
    if os.path.isdir(src):
        shutil.copytree(src, str(root))
    devices = root / 'bus' / 'pci' / 'devices'
    devices.mkdir(parents=True, exist_ok=True)
    with open(os.path.join(case_dir, 'pci.json')) as handle:
        tree = json.load(handle)
    for address, files in tree.items():
        for name, content in files.items():
            path = devices / address / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, dict):
                os.symlink(content['symlink'], str(path))
            else:
                path.write_text(u'%s\n' % content)
    return str(root)


def case_sysfs(tmp_path, case):
    """The sysfs tree of a fixture case, materialized in tmp_path/sys."""
    return materialize_sysfs(tmp_path / 'sys', os.path.join(FIXTURES, case))
