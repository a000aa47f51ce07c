"""The storage bench's fio command line, report parsing, targets and table (plugins/module_utils/storage_bench.py)."""
import json

import pytest

from ansible_collections.ironstone.k8s.plugins.module_utils import storage_bench
from ansible_collections.ironstone.k8s.plugins.filter import storage_bench as bench_filters

REPORT = {"fio version": "fio-3.33", "jobs": [{"jobname": "randread", "read": {
    "iops": 15321.72, "clat_ns": {"mean": 1043211.5, "percentile": {"50.000000": 987136, "99.000000": 2342912, "99.900000": 4046848}}}}]}


def test_fio_args_are_4k_random_direct_reads_for_a_bounded_time():
    args = storage_bench.fio_args('/mnt/fast-disks/u1/', runtime=15, size='128M', iodepth=8)
    assert args[0] == 'fio'
    for wanted in ('--rw=randread', '--bs=4k', '--direct=1', '--ioengine=libaio', '--iodepth=8', '--size=128M',
                   '--runtime=15', '--time_based=1', '--unlink=1', '--output-format=json',
                   '--filename=/mnt/fast-disks/u1/ironstone-storage-bench.fio'):
        assert wanted in args, wanted


@pytest.mark.parametrize('kwargs, fragment', [
    ({'runtime': 0}, 'runtime must be 1 to 600'),
    ({'runtime': 601}, 'runtime must be 1 to 600'),
    ({'iodepth': 0}, 'iodepth must be 1 to 256'),
    ({'size': '64MB'}, 'like 64M'),
    ({'size': '0'}, 'like 64M'),
])
def test_bad_inputs_are_refused(kwargs, fragment):
    with pytest.raises(storage_bench.BenchError, match=fragment):
        storage_bench.fio_args('/data', **kwargs)


def test_relative_directories_are_refused():
    with pytest.raises(storage_bench.BenchError, match='absolute'):
        storage_bench.fio_args('data')


def test_report_parsing_reads_iops_mean_and_p99_completion_latency():
    assert storage_bench.parse_fio(json.dumps(REPORT)) == {'iops': 15322, 'lat_ms': 1.043, 'p99_ms': 2.343}


def test_report_after_a_notice_line_is_still_read():
    assert storage_bench.parse_fio('note: both iodepth >= 1 and synchronous I/O engine\n' + json.dumps(REPORT))['iops'] == 15322


def test_report_without_percentiles():
    report = {"jobs": [{"read": {"iops": 10, "clat_ns": {"mean": 2e6}}}]}
    assert storage_bench.parse_fio(json.dumps(report)) == {'iops': 10, 'lat_ms': 2.0, 'p99_ms': None}


@pytest.mark.parametrize('text', ['', 'fio: pid=0, err=22/file:filesetup.c', '{"jobs": []}'])
def test_no_report_is_an_error(text):
    with pytest.raises(storage_bench.BenchError, match='JSON report'):
        storage_bench.parse_fio(text)


MOUNTS = ['/ overlay overlay', '/mnt/fast-disks/b2 /dev/loop1 xfs', '/mnt/fast-disks/a1 /dev/nvme1n1 xfs',
          '/mnt/fast-disksX/c3 /dev/sdc ext4', '/proc proc proc']


def test_targets_are_the_volumes_under_the_mount_root_then_the_root_disk():
    found = storage_bench.targets(MOUNTS, '/mnt/fast-disks', '/var/lib/bench')
    assert [(t['type'], t['path'], t['loop']) for t in found] == [
        ('local volume', '/mnt/fast-disks/a1', False), ('local volume', '/mnt/fast-disks/b2', True),
        ('root disk (hostPath)', '/var/lib/bench', False)]


def test_table_lines():
    hostvars = {'w1': {'local_storage_bench_node': 'w1',
                       'local_storage_bench_found': storage_bench.targets(MOUNTS, '/mnt/fast-disks', '/var/lib/bench'),
                       'local_storage_bench_runs': {'results': [
                           {'rc': 0, 'stdout': json.dumps(REPORT)},
                           {'rc': 1, 'stdout': '', 'stderr': 'fio: looking for io_getevents\nfio: io_setup failed: Invalid argument'},
                           {'rc': 0, 'stdout': json.dumps(REPORT)}]}}}
    lines = bench_filters.storage_bench_table(['w1'], hostvars)
    assert lines[0].split() == ['node', 'type', 'IOPS', 'latency', 'ms', 'p99', 'ms', 'path']
    assert lines[1].split() == ['w1', 'local', 'volume', '15322', '1.043', '2.343', '/mnt/fast-disks/a1']
    assert '(loop device)' in lines[2] and 'io_setup failed: Invalid argument' in lines[2] and '15322' not in lines[2]
    assert lines[3].split()[:4] == ['w1', 'root', 'disk', '(hostPath)'] and lines[3].endswith('/var/lib/bench')
    assert len(lines) == 4
    # Columns line up: the IOPS figure starts where its header does.
    assert lines[1].index('15322') == lines[0].index('IOPS') == lines[3].index('15322')


def test_filter_errors_are_filter_errors():
    from ansible.errors import AnsibleFilterError  # pylint: disable=import-outside-toplevel
    with pytest.raises(AnsibleFilterError, match='iodepth'):
        bench_filters.storage_bench_fio_args('/data', 10, '64M', 0)
