# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

"""Runs the gpu_info module the way Ansible does (a separate Python process reading its
arguments from a JSON file) against the fixture trees.

Stand-ins: the sysfs trees described in tests/unit/fixtures/gpu/ (see the README there),
materialized into tmp_path by gpu_cases.case_sysfs(), and a fake
nvidia-smi shell script in tmp_path that prints a captured output.
"""

import json
import os
import stat
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..')))
from gpu_cases import case_sysfs  # noqa: E402  pylint: disable=wrong-import-position

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..', '..', '..'))
MODULE = os.path.join(ROOT, 'plugins', 'modules', 'gpu_info.py')
COLLECTIONS = os.path.join(ROOT, '.ansible', 'collections')
FIXTURES = os.path.join(ROOT, 'tests', 'unit', 'fixtures', 'gpu')


def run_module(tmp_path, args, check_mode=False):
    args = dict(args)
    if check_mode:
        args['_ansible_check_mode'] = True
    args_file = tmp_path / 'args.json'
    args_file.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': args}))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([COLLECTIONS] + sys.path))
    proc = subprocess.run([sys.executable, MODULE, str(args_file)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, env=env, timeout=60, check=False)
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def fake_smi(tmp_path, case):
    path = tmp_path / 'nvidia-smi'
    with open(os.path.join(FIXTURES, case, 'nvidia-smi.rc')) as handle:
        rc = int(handle.read())
    path.write_text(u'#!/bin/sh\ncat "%s"\nexit %d\n' % (os.path.join(FIXTURES, case, 'nvidia-smi.stdout'), rc))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.mark.parametrize('check_mode', [False, True])
def test_module_h100x8(tmp_path, check_mode):
    rc, result = run_module(tmp_path, {
        'sysfs_root': case_sysfs(tmp_path, 'h100x8'),
        'nvidia_smi_path': fake_smi(tmp_path, 'h100x8'),
    }, check_mode=check_mode)
    assert rc == 0
    assert result['changed'] is False
    assert 'failed' not in result
    assert result['count'] == 8
    assert result['labels'] == {
        'nvidia.com/gpu.present': 'true',
        'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3',
        'nvidia.com/gpu.count': '8',
        'nvidia.com/gpu.memory': '81559',
        'accelerator': 'nvidia-h100-80gb',
    }


def test_module_driver_failing_is_not_failed(tmp_path):
    rc, result = run_module(tmp_path, {
        'sysfs_root': case_sysfs(tmp_path, 'driver_failing'),
        'nvidia_smi_path': fake_smi(tmp_path, 'driver_failing'),
    })
    assert rc == 0 and result['changed'] is False and 'failed' not in result
    assert result['driver']['error'].startswith('nvidia-smi exited with 9: NVIDIA-SMI has failed')
    assert result['labels']['accelerator'] == 'nvidia-tesla-v100'


def test_module_none_with_nvidia_smi_not_on_path(tmp_path):
    rc, result = run_module(tmp_path, {'sysfs_root': case_sysfs(tmp_path, 'none'),
                                       'nvidia_smi_path': str(tmp_path / 'absent')})
    assert rc == 0
    assert result['gpus'] == [] and result['labels'] == {} and result['count'] == 0


def test_module_fails_on_invalid_label(tmp_path):
    out = tmp_path / 'odd.csv'
    out.write_text(u'0, NVIDIA GeForce RTX 3090 (Ti), GPU-1, 24576, 550.54.15, 8.6, 00000000:01:00.0, 0x220410DE\n')
    smi = tmp_path / 'nvidia-smi'
    smi.write_text(u'#!/bin/sh\ncat "%s"\n' % out)
    smi.chmod(smi.stat().st_mode | stat.S_IXUSR)
    rc, result = run_module(tmp_path, {'sysfs_root': str(tmp_path), 'nvidia_smi_path': str(smi)})
    assert rc == 1
    assert result['failed'] is True
    assert 'NVIDIA-GeForce-RTX-3090-(Ti)' in result['msg']


def test_module_rejects_bad_timeout(tmp_path):
    rc, result = run_module(tmp_path, {'sysfs_root': str(tmp_path), 'timeout': 0})
    assert rc == 1 and 'timeout must be at least 1 second' in result['msg']
