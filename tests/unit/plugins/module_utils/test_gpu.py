# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

"""Unit tests for module_utils/gpu.py.

Stand-ins: the sysfs trees described by tests/unit/fixtures/gpu/<case>/pci.json
are captured (h200x1) or hand-written after real hosts (all other cases, see the
README there) and are materialized into tmp_path by gpu_cases.case_sysfs(), and
nvidia-smi is replaced by a small fake shell script written to tmp_path that
prints a captured output file and exits with the captured status.
subprocess_run_command stands in for AnsibleModule.run_command.
"""

import os
import shutil
import stat
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..')))
from gpu_cases import case_sysfs  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.ironstone.k8s.plugins.module_utils import gpu
from ansible_collections.ironstone.k8s.plugins.module_utils.gpu import (
    GPU_MODELS,
    GpuFactsError,
    accelerator_for_product,
    command_runner,
    compute_labels,
    gather_gpu_facts,
    label_key_error,
    label_value_error,
    parse_nvidia_smi_csv,
    scan_sysfs,
    validate_labels,
)

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', 'fixtures', 'gpu')
QUERY = '--query-gpu=index,name,uuid,memory.total,driver_version,compute_cap,pci.bus_id,pci.device_id'


def subprocess_run_command(args, environ_update=None):
    """Stand-in for AnsibleModule.run_command: (rc, stdout, stderr)."""
    env = dict(os.environ, **(environ_update or {}))
    proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=env, check=False)
    return proc.returncode, proc.stdout, proc.stderr


TIMEOUT_BIN = shutil.which('timeout')
RUNNER = command_runner(subprocess_run_command, TIMEOUT_BIN)


def fixture(*parts):
    return os.path.join(FIXTURES, *parts)


def write_script(path, body):
    with open(path, 'w') as handle:
        handle.write('#!/bin/sh\n' + body)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return str(path)


def fake_nvidia_smi(tmp_path, stdout_file, rc):
    """A stand-in nvidia-smi: logs its arguments, prints a captured output, exits with the captured status."""
    log = tmp_path / 'nvidia-smi.args'
    return write_script(tmp_path / 'nvidia-smi', 'printf "%%s\\n" "$@" >> "%s"\ncat "%s"\nexit %d\n' % (log, stdout_file, rc)), log


def case_smi(tmp_path, case):
    """Fake nvidia-smi for a fixture case, or None when the case has no nvidia-smi."""
    stdout_file = fixture(case, 'nvidia-smi.stdout')
    if not os.path.exists(stdout_file):
        return None, None
    with open(fixture(case, 'nvidia-smi.rc')) as handle:
        rc = int(handle.read())
    return fake_nvidia_smi(tmp_path, stdout_file, rc)


def gather_case(tmp_path, case, **kwargs):
    smi, _log = case_smi(tmp_path, case)
    return gather_gpu_facts(sysfs_root=case_sysfs(tmp_path, case), nvidia_smi_path=smi, runner=RUNNER, **kwargs)


def make_sysfs(root, devices):
    """Build a sysfs PCI tree: devices are (address, vendor, device, class[, extra file names])."""
    for entry in devices:
        address, vendor, device, pci_class = entry[:4]
        path = root / 'bus' / 'pci' / 'devices' / address
        path.mkdir(parents=True)
        (path / 'vendor').write_text(u'0x%s\n' % vendor)
        (path / 'device').write_text(u'0x%s\n' % device)
        (path / 'class').write_text(u'0x%s\n' % pci_class)
        for extra in entry[4:]:
            (path / extra).write_text(u'')
    return str(root)


def labels(product, count, memory, accelerator):
    return {
        'nvidia.com/gpu.present': 'true',
        'nvidia.com/gpu.product': product,
        'nvidia.com/gpu.count': count,
        'nvidia.com/gpu.memory': memory,
        'accelerator': accelerator,
    }


EXPECTED_LABELS = {
    'none': {},
    't4': labels('Tesla-T4', '1', '15360', 'nvidia-tesla-t4'),
    'a100x8': labels('NVIDIA-A100-SXM4-80GB', '8', '81920', 'nvidia-a100-80gb'),
    'h100x8': labels('NVIDIA-H100-80GB-HBM3', '8', '81559', 'nvidia-h100-80gb'),
    'h200x1': labels('NVIDIA-H200', '1', '143771', 'nvidia-h200-141gb'),
    'driver_missing': labels('NVIDIA-L4', '2', '23034', 'nvidia-l4'),
    'driver_failing': labels('Tesla-V100-SXM2-16GB', '1', '16384', 'nvidia-tesla-v100'),
}


# ---------------------------------------------------------------- fixtures


@pytest.mark.parametrize('case', sorted(EXPECTED_LABELS))
def test_fixture_labels(tmp_path, case):
    result = gather_case(tmp_path, case)
    assert result['labels'] == EXPECTED_LABELS[case]
    assert result['count'] == len(result['gpus'])
    assert result['mixed'] is False
    validate_labels(result['labels'])


def test_none(tmp_path):
    """A guest with an Intel VGA and virtio devices only: no GPUs is not an error."""
    result = gather_case(tmp_path, 'none')
    assert result == {
        'gpus': [],
        'count': 0,
        'mixed': False,
        'driver': {'present': False, 'version': None, 'error': None},
        'labels': {},
    }


def test_t4(tmp_path):
    result = gather_case(tmp_path, 't4')
    assert result['gpus'] == [{
        'index': 0,
        'product': 'Tesla T4',
        'memory_mib': 15360,
        'uuid': 'GPU-2d9a6c1e-7b3f-4e0a-a5c2-9f1b8e6d4c70',
        'pci_address': '0000:00:04.0',
        'device_id': '0x1eb8',
        'driver_version': '535.183.01',
        'compute_cap': '7.5',
        'accelerator': 'nvidia-tesla-t4',
        'source': 'nvidia-smi',
    }]
    assert result['driver'] == {'present': True, 'version': '535.183.01', 'error': None}


def test_nvidia_smi_called_with_the_documented_query(tmp_path):
    smi, log = case_smi(tmp_path, 't4')
    gather_gpu_facts(sysfs_root=case_sysfs(tmp_path, 't4'), nvidia_smi_path=smi, runner=RUNNER)
    assert log.read_text().splitlines() == [QUERY, '--format=csv,noheader,nounits']


def test_a100x8_ignores_nvswitches_and_bmc_vga(tmp_path):
    result = gather_case(tmp_path, 'a100x8')
    gpus = result['gpus']
    assert result['count'] == 8
    assert [g['index'] for g in gpus] == list(range(8))
    assert set(g['product'] for g in gpus) == set(['NVIDIA A100-SXM4-80GB'])
    assert set(g['memory_mib'] for g in gpus) == set([81920])
    assert set(g['source'] for g in gpus) == set(['nvidia-smi'])
    assert [g['pci_address'] for g in gpus] == [
        '0000:07:00.0', '0000:0f:00.0', '0000:47:00.0', '0000:4e:00.0',
        '0000:87:00.0', '0000:90:00.0', '0000:b7:00.0', '0000:bd:00.0']
    assert len(set(g['uuid'] for g in gpus)) == 8
    assert result['driver'] == {'present': True, 'version': '535.161.08', 'error': None}


def test_h100x8(tmp_path):
    result = gather_case(tmp_path, 'h100x8')
    gpus = result['gpus']
    assert result['count'] == 8
    assert set((g['product'], g['memory_mib'], g['compute_cap'], g['device_id']) for g in gpus) == set(
        [('NVIDIA H100 80GB HBM3', 81559, '9.0', '0x2330')])
    assert gpus[0]['pci_address'] == '0000:1b:00.0' and gpus[7]['pci_address'] == '0000:df:00.0'
    assert result['driver']['version'] == '550.90.07'


def test_h200x1_captured(tmp_path):
    result = gather_case(tmp_path, 'h200x1')
    assert result['gpus'] == [{
        'index': 0,
        'product': 'NVIDIA H200',
        'memory_mib': 143771,
        'uuid': 'GPU-7635588a-c48f-aace-5da1-0c7c1dc37364',
        'pci_address': '0000:00:06.0',
        'device_id': '0x2335',
        'driver_version': '580.159.04',
        'compute_cap': '9.0',
        'accelerator': 'nvidia-h200-141gb',
        'source': 'nvidia-smi',
    }]


def test_driver_missing_uses_sysfs(tmp_path):
    result = gather_case(tmp_path, 'driver_missing')
    assert result['driver'] == {'present': False, 'version': None, 'error': None}
    assert [(g['index'], g['product'], g['memory_mib'], g['pci_address'], g['uuid'], g['source']) for g in result['gpus']] == [
        (0, 'NVIDIA L4', 23034, '0000:00:03.0', None, 'sysfs'),
        (1, 'NVIDIA L4', 23034, '0000:00:04.0', None, 'sysfs'),
    ]


def test_driver_failing_reports_error_and_keeps_sysfs(tmp_path):
    result = gather_case(tmp_path, 'driver_failing')
    assert result['driver'] == {
        'present': True,
        'version': None,
        'error': "nvidia-smi exited with 9: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
                 "Make sure that the latest NVIDIA driver is installed and running.",
    }
    assert [(g['product'], g['memory_mib'], g['pci_address'], g['device_id'], g['source']) for g in result['gpus']] == [
        ('Tesla V100-SXM2-16GB', 16384, '0000:00:1e.0', '0x1db1', 'sysfs')]


@pytest.mark.parametrize('case', ['t4', 'a100x8', 'h100x8', 'h200x1'])
def test_sysfs_only_matches_nvidia_smi_labels(tmp_path, case):
    """The built-in device table gives the same labels as nvidia-smi for the fixtures that have both."""
    result = gather_gpu_facts(sysfs_root=case_sysfs(tmp_path, case), nvidia_smi_path=None)
    assert result['labels'] == EXPECTED_LABELS[case]
    assert set(g['source'] for g in result['gpus']) == set(['sysfs'])
    # The kernel module is loaded in these fixtures: its version is reported even without nvidia-smi.
    assert result['driver']['present'] is True
    assert result['driver']['version']


# ---------------------------------------------------------------- nvidia-smi failure modes


def test_driver_library_mismatch(tmp_path):
    out = tmp_path / 'mismatch.stdout'
    out.write_text(u'Failed to initialize NVML: Driver/library version mismatch\nNVML library version: 550.90\n')
    smi, _log = fake_nvidia_smi(tmp_path, str(out), 18)
    result = gather_gpu_facts(sysfs_root=case_sysfs(tmp_path, 'h100x8'), nvidia_smi_path=smi, runner=RUNNER)
    assert result['driver']['error'] == ('nvidia-smi exited with 18: Failed to initialize NVML: Driver/library version mismatch '
                                         'NVML library version: 550.90')
    assert result['driver']['version'] == '550.90.07'
    assert result['labels'] == EXPECTED_LABELS['h100x8']


def test_old_driver_without_compute_cap_is_retried(tmp_path):
    log = tmp_path / 'args'
    csv = tmp_path / 'old.csv'
    csv.write_text(u'0, Tesla T4, GPU-2d9a6c1e-7b3f-4e0a-a5c2-9f1b8e6d4c70, 15109, 470.256.02, 00000000:00:04.0, 0x1EB810DE\n')
    smi = write_script(tmp_path / 'nvidia-smi', (
        'echo "$1" >> "%s"\n'
        'case "$1" in *compute_cap*) cat "%s"; exit 2;; esac\n'
        'cat "%s"\n') % (log, fixture('nvidia-smi-invalid-field.stdout'), csv))
    result = gather_gpu_facts(sysfs_root=case_sysfs(tmp_path, 't4'), nvidia_smi_path=smi, runner=RUNNER)
    assert log.read_text().splitlines() == [
        QUERY, '--query-gpu=index,name,uuid,memory.total,driver_version,pci.bus_id,pci.device_id']
    assert result['driver'] == {'present': True, 'version': '470.256.02', 'error': None}
    # compute_cap comes from the device table through the PCI address match with sysfs.
    assert [(g['memory_mib'], g['compute_cap'], g['source']) for g in result['gpus']] == [(15109, '7.5', 'nvidia-smi')]
    assert result['labels']['nvidia.com/gpu.memory'] == '15109'


@pytest.mark.skipif(TIMEOUT_BIN is None, reason='needs the coreutils timeout command')
def test_nvidia_smi_timeout(tmp_path):
    smi = write_script(tmp_path / 'nvidia-smi', 'exec sleep 10\n')
    result = gather_gpu_facts(sysfs_root=case_sysfs(tmp_path, 't4'), nvidia_smi_path=smi, runner=RUNNER, timeout=1)
    assert result['driver']['error'] == '%s did not answer within 1 seconds' % smi
    assert result['labels'] == EXPECTED_LABELS['t4']


def test_command_runner_passes_timeout_and_c_locale():
    calls = []

    def run_command(args, environ_update=None):
        calls.append((args, environ_update))
        return 0, 'out', 'err'

    assert command_runner(run_command, '/usr/bin/timeout')(['/bin/nvidia-smi', '-L'], 7) == (0, 'out', 'err')
    assert command_runner(run_command)(['/bin/nvidia-smi', '-L'], 7) == (0, 'out', 'err')
    assert calls == [
        (['/usr/bin/timeout', '7', '/bin/nvidia-smi', '-L'], {'LC_ALL': 'C', 'LANG': 'C'}),
        (['/bin/nvidia-smi', '-L'], {'LC_ALL': 'C', 'LANG': 'C'}),
    ]


def test_nvidia_smi_path_missing(tmp_path):
    missing = str(tmp_path / 'no-such-nvidia-smi')
    result = gather_gpu_facts(sysfs_root=case_sysfs(tmp_path, 'driver_missing'), nvidia_smi_path=missing)
    assert result['driver']['present'] is False
    assert missing in result['driver']['error']
    assert result['count'] == 2


def test_no_devices_found(tmp_path):
    out = tmp_path / 'none.stdout'
    out.write_text(u'No devices were found\n')
    smi, _log = fake_nvidia_smi(tmp_path, str(out), 6)
    result = gather_gpu_facts(sysfs_root=case_sysfs(tmp_path, 'none'), nvidia_smi_path=smi, runner=RUNNER)
    assert result['gpus'] == [] and result['labels'] == {}
    assert result['driver']['error'] == 'nvidia-smi exited with 6: No devices were found'


def test_gpu_missing_from_nvidia_smi_is_appended_from_sysfs(tmp_path):
    out = tmp_path / 'one.csv'
    out.write_text(u'0, NVIDIA L4, GPU-1, 23034, 550.54.15, 8.9, 00000000:00:03.0, 0x27B810DE\n')
    smi, _log = fake_nvidia_smi(tmp_path, str(out), 0)
    result = gather_gpu_facts(sysfs_root=case_sysfs(tmp_path, 'driver_missing'), nvidia_smi_path=smi, runner=RUNNER)
    assert [(g['index'], g['pci_address'], g['source']) for g in result['gpus']] == [
        (0, '0000:00:03.0', 'nvidia-smi'), (None, '0000:00:04.0', 'sysfs')]
    assert result['labels']['nvidia.com/gpu.count'] == '2'


def test_parse_not_available_values():
    gpus = parse_nvidia_smi_csv('0, A100-SXM4-40GB, [N/A], [Not Supported], 460.32.03, [N/A], 00000000:07:00.0, 0x20B010DE\n')
    assert gpus[0]['uuid'] is None and gpus[0]['memory_mib'] is None and gpus[0]['compute_cap'] is None
    # Drivers before 470 print the product without "NVIDIA"; the accelerator still maps.
    assert gpus[0]['accelerator'] == 'nvidia-tesla-a100'
    assert gpus[0]['device_id'] == '0x20b0'


def test_parse_rejects_wrong_field_count():
    with pytest.raises(GpuFactsError, match='2 fields where 8 were asked for'):
        parse_nvidia_smi_csv('0, Tesla T4\n')


# ---------------------------------------------------------------- sysfs details


def test_unknown_device_id_is_not_guessed(tmp_path):
    root = make_sysfs(tmp_path / 'sys', [('0000:01:00.0', '10de', '1c82', '030000'), ('0000:01:00.1', '10de', '0fb9', '040300')])
    result = gather_gpu_facts(sysfs_root=root)
    assert result['gpus'] == [{
        'index': 0, 'product': None, 'memory_mib': None, 'uuid': None, 'pci_address': '0000:01:00.0',
        'device_id': '0x1c82', 'driver_version': None, 'compute_cap': None, 'accelerator': None, 'source': 'sysfs',
    }]
    # The HDMI audio function (class 0x0403) is not a GPU; unknown products get no product/memory/accelerator labels.
    assert result['labels'] == {'nvidia.com/gpu.present': 'true', 'nvidia.com/gpu.count': '1'}


def test_sriov_virtual_functions_are_skipped(tmp_path):
    root = make_sysfs(tmp_path / 'sys', [
        ('0000:07:00.0', '10de', '20b2', '030200'),
        ('0000:07:00.4', '10de', '20b2', '030200', 'physfn'),
        ('0000:07:00.5', '10de', '20b2', '030200', 'physfn'),
    ])
    assert [g['pci_address'] for g in scan_sysfs(root)] == ['0000:07:00.0']


def test_missing_sysfs_root(tmp_path):
    assert scan_sysfs(str(tmp_path / 'nothing')) == []


def test_mixed_majority_wins(tmp_path):
    root = make_sysfs(tmp_path / 'sys', [
        ('0000:00:03.0', '10de', '1eb8', '030200'),
        ('0000:00:04.0', '10de', '20f1', '030200'),
        ('0000:00:05.0', '10de', '20f1', '030200'),
    ])
    result = gather_gpu_facts(sysfs_root=root)
    assert result['mixed'] is True
    assert result['labels'] == labels('NVIDIA-A100-PCIE-40GB', '3', '40960', 'nvidia-tesla-a100')


def test_mixed_tie_first_gpu_wins(tmp_path):
    root = make_sysfs(tmp_path / 'sys', [('0000:00:03.0', '10de', '27b8', '030200'), ('0000:00:04.0', '10de', '1eb8', '030200')])
    result = gather_gpu_facts(sysfs_root=root)
    assert result['mixed'] is True
    assert result['labels'] == labels('NVIDIA-L4', '2', '23034', 'nvidia-l4')


# ---------------------------------------------------------------- labels


@pytest.mark.parametrize('key', [
    'accelerator', 'nvidia.com/gpu.product', 'a', 'A_b.c-d', 'k8s.io/x', 'a' * 63, ('a' * 63 + '.') * 3 + 'b' * 61 + '/n',
])
def test_valid_label_keys(key):
    assert label_key_error(key) is None


@pytest.mark.parametrize('key', [
    '', '/name', 'prefix/', 'a/b/c', 'Nvidia.com/gpu', 'nvidia_com/gpu', '-nvidia.com/gpu', 'nvidia.com./gpu',
    'name-', '_name', 'gpu product', 'a' * 64, ('a' * 63 + '.') * 4 + 'b/n', 'nvidia.com/' + 'a' * 64,
    'name\n', 42,
])
def test_invalid_label_keys(key):
    assert label_key_error(key) is not None


@pytest.mark.parametrize('value', ['', 'true', '8', 'NVIDIA-A100-SXM4-80GB', 'a.b_c-d', 'x' * 63])
def test_valid_label_values(value):
    assert label_value_error(value) is None


@pytest.mark.parametrize('value', [
    'NVIDIA A100', '-x', 'x-', '.x', 'x' * 64, 'NVIDIA-GeForce-RTX-3090-(Ti)', 'true\n', 8, None,
])
def test_invalid_label_values(value):
    assert label_value_error(value) is not None


def test_validate_labels_names_every_problem():
    with pytest.raises(GpuFactsError) as excinfo:
        validate_labels({'ok': 'fine', 'bad key!': 'x', 'good': 'bad value'})
    message = str(excinfo.value)
    assert "'bad key!'" in message and "'bad value'" in message and "'fine'" not in message


def test_product_that_cannot_be_a_label_fails_clearly():
    gpus = parse_nvidia_smi_csv('0, NVIDIA GeForce RTX 3090 (Ti), GPU-1, 24576, 550.54.15, 8.6, 00000000:01:00.0, 0x220410DE\n')
    with pytest.raises(GpuFactsError, match=r"NVIDIA-GeForce-RTX-3090-\(Ti\)"):
        compute_labels(gpus)


@pytest.mark.parametrize('device_id', sorted(GPU_MODELS))
def test_device_table_gives_valid_labels(device_id):
    product, memory, accelerator, compute_cap = GPU_MODELS[device_id]
    assert accelerator_for_product(product) == accelerator
    assert label_value_error(gpu.product_label_value(product)) is None
    assert label_value_error(accelerator) is None and accelerator.startswith('nvidia-')
    assert memory > 0 and compute_cap.count('.') == 1


@pytest.mark.parametrize('product, accelerator', [
    ('Tesla T4', 'nvidia-tesla-t4'),
    ('Tesla V100-SXM2-32GB', 'nvidia-tesla-v100'),
    ('NVIDIA A100-SXM4-40GB', 'nvidia-tesla-a100'),
    ('A100-SXM4-40GB', 'nvidia-tesla-a100'),
    ('NVIDIA A100 80GB PCIe', 'nvidia-a100-80gb'),
    ('NVIDIA A100-SXM4-80GB', 'nvidia-a100-80gb'),
    ('NVIDIA L4', 'nvidia-l4'),
    ('NVIDIA H100 PCIe', 'nvidia-h100-80gb'),
    ('NVIDIA H100 80GB HBM3', 'nvidia-h100-80gb'),
    ('NVIDIA H200', 'nvidia-h200-141gb'),
    ('NVIDIA GeForce RTX 4090', None),
    (None, None),
])
def test_accelerator_mapping(product, accelerator):
    assert accelerator_for_product(product) == accelerator
