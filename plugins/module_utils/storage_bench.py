# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
"""The storage bench (playbooks/storage_bench.yml): what fio is asked, what its JSON report says, and the table.

Each target is a directory: a local volume the storage stage mounted (``<mount_root>/<uuid>``), or a directory
on the root disk, where a hostPath volume would live. fio reads 4 KiB blocks at random, with direct I/O
(``O_DIRECT``: the page cache does not answer for the disk), for a bounded time, from a file it lays out
first and deletes after.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import re

FILE_NAME = 'ironstone-storage-bench.fio'
_SIZE = re.compile(r'^[1-9][0-9]*[KMG]?$')


class BenchError(Exception):
    """A bench input or fio report that cannot be used."""


def fio_args(directory, runtime=10, size='64M', iodepth=16, fio='fio'):
    """The fio command line of one target: 4 KiB random reads, direct I/O, libaio, time-based for ``runtime`` s."""
    if not str(directory).startswith('/'):
        raise BenchError('The bench directory %r is not an absolute path.' % (directory,))
    runtime, iodepth = int(runtime), int(iodepth)
    if not 1 <= runtime <= 600:
        raise BenchError('local_storage_bench_runtime must be 1 to 600 seconds, not %d.' % runtime)
    if not 1 <= iodepth <= 256:
        raise BenchError('local_storage_bench_iodepth must be 1 to 256, not %d.' % iodepth)
    if not _SIZE.match(str(size)):
        raise BenchError('local_storage_bench_size must be a number with an optional K, M or G suffix (like 64M), not %r.' % (size,))
    return [fio, '--name=randread', '--filename=%s/%s' % (str(directory).rstrip('/'), FILE_NAME), '--rw=randread', '--bs=4k',
            '--direct=1', '--ioengine=libaio', '--iodepth=%d' % iodepth, '--size=%s' % size, '--runtime=%d' % runtime,
            '--time_based=1', '--unlink=1', '--output-format=json']


def _percentile(clat, point):
    for key, value in (clat.get('percentile') or {}).items():
        try:
            if abs(float(key) - point) < 1e-6:
                return value
        except ValueError:
            continue
    return None


def parse_fio(text):
    """{iops, lat_ms (mean completion latency), p99_ms} of the read side of fio's JSON report."""
    try:
        report = json.loads(text[text.index('{'):]) if isinstance(text, str) else text
        read = report['jobs'][0]['read']
    except (ValueError, KeyError, IndexError, TypeError):
        raise BenchError('fio did not print a JSON report with a read job: %s' % str(text)[:300])
    clat = read.get('clat_ns') or {}
    p99 = _percentile(clat, 99.0)
    return {'iops': int(round(float(read.get('iops') or 0))),
            'lat_ms': round(float(clat.get('mean') or 0) / 1e6, 3),
            'p99_ms': round(float(p99) / 1e6, 3) if p99 is not None else None}


def targets(mounts, mount_root, root_dir):
    """The bench targets of one node from ``findmnt -rn -o TARGET,SOURCE,FSTYPE`` lines: every mount under the mount
    root (a local volume; ``loop`` when a loop device backs it), then the root-disk directory."""
    found = []
    prefix = str(mount_root).rstrip('/') + '/'
    for line in mounts:
        parts = line.split()
        if len(parts) < 2 or not parts[0].startswith(prefix):
            continue
        source = parts[1]
        found.append({'type': 'local volume', 'path': parts[0], 'device': source,
                      'loop': source.startswith('/dev/loop'), 'fstype': parts[2] if len(parts) > 2 else ''})
    found.sort(key=lambda t: t['path'])
    found.append({'type': 'root disk (hostPath)', 'path': str(root_dir), 'device': '', 'loop': False, 'fstype': ''})
    return found


def table(rows):
    """The seed's table, one line per node and target: node, type, IOPS, mean and p99 latency in ms, path."""
    header = ('node', 'type', 'IOPS', 'latency ms', 'p99 ms', 'path')
    lines = [header]
    for row in rows:
        kind = row['type'] + (' (loop device)' if row.get('loop') else '')
        if row.get('error'):
            lines.append((row['node'], kind, '-', '-', '-', '%s: %s' % (row['path'], row['error'])))
            continue
        p99 = row.get('p99_ms')
        lines.append((row['node'], kind, str(row['iops']), '%.3f' % row['lat_ms'], '-' if p99 is None else '%.3f' % p99, row['path']))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    out = []
    for line in lines:
        out.append('  '.join(cell.ljust(widths[i]) for i, cell in enumerate(line[:-1])) + '  ' + line[-1])
    return out
