# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
"""The storage bench's filters; the work is in plugins/module_utils/storage_bench.py."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.ironstone.k8s.plugins.module_utils import storage_bench


def storage_bench_targets(mounts, mount_root, root_dir):
    """The directories to bench on one node: its local volumes, then the root-disk directory."""
    return storage_bench.targets(mounts or [], mount_root, root_dir)


def storage_bench_fio_args(directory, runtime=10, size='64M', iodepth=16):
    """fio's argv for one directory."""
    try:
        return storage_bench.fio_args(directory, runtime, size, iodepth)
    except storage_bench.BenchError as exc:
        raise AnsibleFilterError(str(exc))


def storage_bench_table(hosts, hostvars):
    """The table's lines, from each host's local_storage_bench_node, local_storage_bench_found (targets) and
    local_storage_bench_runs (the registered fio runs, one per target, in the same order)."""
    rows = []
    for host in hosts:
        hv = hostvars[host]
        found = hv.get('local_storage_bench_found') or []
        runs = (hv.get('local_storage_bench_runs') or {}).get('results') or []
        for target, run in zip(found, runs):
            row = dict(target, node=str(hv.get('local_storage_bench_node') or host))
            if run.get('rc') != 0:
                row['error'] = (run.get('stderr') or run.get('msg') or 'fio failed').strip().splitlines()[-1][:160]
            else:
                try:
                    row.update(storage_bench.parse_fio(run.get('stdout') or ''))
                except storage_bench.BenchError as exc:
                    row['error'] = str(exc)[:160]
            rows.append(row)
    return storage_bench.table(rows)


class FilterModule(object):
    """Storage bench."""

    def filters(self):
        return {'storage_bench_targets': storage_bench_targets, 'storage_bench_fio_args': storage_bench_fio_args,
                'storage_bench_table': storage_bench_table}
