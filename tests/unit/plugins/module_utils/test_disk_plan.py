# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# Unit tests for module_utils/disk_plan.py: the local-storage plan disk_info
# returns, and the mounted volumes.
#
# The pure functions get hand-written disk entries shaped like gather_disks'
# output; the end-to-end cases run gather_disks on the stand-in FakeHost trees
# of test_disk.py (fabricated sysfs/procfs//dev, FakeBlkid replaying blkid).

import collections
import os

import pytest

from ansible_collections.ironstone.k8s.plugins.module_utils.disk import DiskError
from ansible_collections.ironstone.k8s.plugins.module_utils.disk_plan import (
    decide, in_fstab, is_volume, mounted_volumes, plan_devices, storage_view, volume_path,
)

from test_disk import FakeBlkid, FakeHost, build_lab_host, fixture_text  # noqa: E402  pylint: disable=import-error

ROOT = '/mnt/fast-disks'
UUID = '5b9d3e0c-7a41-4c6e-9f0b-2a1d3c4b5e6f'
StatVfs = collections.namedtuple('StatVfs', 'f_frsize f_blocks')


def disk(name, listed=True, eligible=False, reasons=(), uuid=None, fstype=None, mountpoints=()):
    return {'name': name, 'path': '/dev/' + name, 'listed': listed, 'eligible': eligible, 'reasons': list(reasons),
            'uuid': uuid, 'fstype': fstype, 'mountpoints': list(mountpoints)}


def actions(plan):
    return dict((entry['path'], entry['action']) for entry in plan)


# ------------------------------------------------------------------ what the storage scenario exercises

def test_blank_disk_is_formatted():
    (entry,) = plan_devices([disk('loop0', eligible=True)], ROOT)
    assert entry == {'path': '/dev/loop0', 'action': 'format', 'uuid': None, 'fstype': None, 'reasons': []}


def test_disk_with_a_filesystem_is_kept_unless_named_for_wiping():
    data = disk('loop2', reasons=['has signature: ext4'], uuid=UUID, fstype='ext4')
    (kept,) = plan_devices([data], ROOT)
    assert kept['action'] == 'keep' and kept['reasons'] == ['has signature: ext4'] and kept['uuid'] is None
    (wiped,) = plan_devices([data], ROOT, wipe=['/dev/loop2'])
    assert wiped['action'] == 'wipe' and wiped['fstype'] == 'ext4'


def test_busy_device_is_refused_with_only_the_blocking_reasons():
    busy = disk('loop2', reasons=['mounted at /mnt/seed', 'has signature: ext4'], uuid=UUID, fstype='ext4',
                mountpoints=['/mnt/seed'])
    (entry,) = plan_devices([busy], ROOT, wipe=['/dev/loop2'])
    assert entry['action'] == 'refuse'
    assert entry['reasons'] == ['mounted at /mnt/seed']


def test_volume_made_earlier_is_mounted_and_never_wiped():
    made = disk('loop0', reasons=['mounted at %s/%s' % (ROOT, UUID), 'has signature: xfs'], uuid=UUID, fstype='xfs',
                mountpoints=['%s/%s' % (ROOT, UUID)])
    (entry,) = plan_devices([made], ROOT, wipe=['/dev/loop0'])
    assert entry['action'] == 'mount' and entry['uuid'] == UUID and entry['fstype'] == 'xfs'


def test_volume_only_listed_in_fstab_is_mounted():
    made = disk('loop0', reasons=['has signature: xfs'], uuid=UUID, fstype='xfs')
    fstab = 'UUID=%s %s/%s xfs noatime,nofail,x-ironstone.local-storage 0 0\n' % (UUID, ROOT, UUID)
    (entry,) = plan_devices([made], ROOT, fstab=fstab, wipe=['/dev/loop0'])
    assert entry['action'] == 'mount' and entry['uuid'] == UUID


def test_auto_mode_adds_eligible_disks_and_earlier_volumes_only():
    disks = [
        disk('nvme1n1', listed=False, eligible=True),
        disk('nvme2n1', listed=False, uuid=UUID, fstype='xfs', reasons=['has signature: xfs'], mountpoints=['%s/%s' % (ROOT, UUID)]),
        disk('sdb', listed=False, uuid='1111', fstype='xfs', reasons=['has signature: xfs']),
        disk('sda', listed=False, reasons=['rotational']),
    ]
    assert plan_devices(disks, ROOT) == []
    assert actions(plan_devices(disks, ROOT, auto=True)) == {'/dev/nvme1n1': 'format', '/dev/nvme2n1': 'mount'}


# ------------------------------------------------------------------ edge cases

def test_listed_disks_keep_inventory_order_and_unlisted_ones_are_left_out():
    disks = [disk('loop1', eligible=True), disk('loop2', listed=False, eligible=True), disk('loop3', reasons=['read-only'])]
    plan = plan_devices(disks, ROOT)
    assert [(e['path'], e['action']) for e in plan] == [('/dev/loop1', 'format'), ('/dev/loop3', 'refuse')]


def test_partitions_only_stand_in_the_way_like_a_signature():
    parted = disk('sdb', reasons=['has partitions: sdb1', 'has signature: gpt'])
    assert decide(parted, ROOT, '', set())['action'] == 'keep'
    assert decide(parted, ROOT, '', {'/dev/sdb'})['action'] == 'wipe'
    held = disk('sdb', reasons=['has partitions: sdb1', 'partition sdb1 held by dm-0'])
    assert decide(held, ROOT, '', {'/dev/sdb'}) == {'path': '/dev/sdb', 'action': 'refuse', 'uuid': None, 'fstype': None,
                                                    'reasons': ['partition sdb1 held by dm-0']}


def test_unprobeable_device_is_refused_even_when_named_for_wiping():
    unknown = disk('sdb', reasons=['signature unknown: cannot open /dev/sdb'])
    assert decide(unknown, ROOT, '', {'/dev/sdb'})['action'] == 'refuse'


@pytest.mark.parametrize('fstype', ['btrfs', 'vfat', None])
def test_other_filesystems_at_the_volume_path_are_not_volumes(fstype):
    other = disk('sdb', uuid=UUID, fstype=fstype, reasons=['has signature: x'])
    fstab = 'UUID=%s %s/%s %s defaults 0 0\n' % (UUID, ROOT, UUID, fstype)
    assert is_volume(other, ROOT, fstab) is False
    assert decide(other, ROOT, fstab, set())['action'] == 'keep'


@pytest.mark.parametrize('line, listed', [
    ('UUID=%s /mnt/fast-disks/%s xfs defaults 0 0' % (UUID, UUID), True),
    ('  UUID=%s\t/mnt/fast-disks/%s\txfs defaults 0 0' % (UUID, UUID), True),
    ('# UUID=%s /mnt/fast-disks/%s xfs defaults 0 0' % (UUID, UUID), False),
    ('UUID=%s /mnt/elsewhere/%s xfs defaults 0 0' % (UUID, UUID), False),
    ('UUID=%s /mnt/fast-disks/%s-old xfs defaults 0 0' % (UUID, UUID), False),
    ('UUID=%s /mnt/fast-disks/%s' % (UUID, UUID), True),  # the mount point may end the line
    ('UUID=%s /mnt/fast-disks/%sx xfs defaults 0 0' % (UUID, UUID), False),
    ('UUID=other /mnt/fast-disks/%s xfs defaults 0 0' % UUID, False),
])
def test_fstab_entry_must_name_the_uuid_at_its_volume_path(line, listed):
    assert in_fstab('/dev/sda1 / ext4 defaults 0 1\n' + line + '\n', UUID, volume_path(ROOT, UUID)) is listed


def test_fstab_match_escapes_regex_characters():
    assert in_fstab('UUID=a.b /m/a.b xfs defaults 0 0\n', 'a.b', '/m/a.b') is True
    assert in_fstab('UUID=axb /m/axb xfs defaults 0 0\n', 'a.b', '/m/a.b') is False
    assert in_fstab(None, 'a', '/m/a') is False


def test_volume_path_ignores_a_trailing_slash():
    assert volume_path('/mnt/fast-disks/', 'u') == volume_path('/mnt/fast-disks', 'u') == '/mnt/fast-disks/u'


def test_mounted_volumes_report_filesystem_size_of_listed_disks_only():
    path = '%s/%s' % (ROOT, UUID)
    disks = [
        disk('loop0', uuid=UUID, fstype='xfs', mountpoints=[path]),
        disk('loop1', uuid='u2', fstype='xfs', mountpoints=[]),  # formatted, not mounted (check mode)
        disk('loop2', listed=False, uuid='u3', fstype='ext4', mountpoints=['%s/u3' % ROOT]),
        disk('loop3', uuid='u4', fstype='ext4', mountpoints=['/mnt/seed']),
    ]
    calls = []

    def statvfs(where):
        calls.append(where)
        return StatVfs(4096, 78848)

    assert mounted_volumes(disks, ROOT, statvfs=statvfs) == [{
        'path': path, 'capacity': '308Mi', 'capacity_bytes': 4096 * 78848, 'device': '/dev/loop0', 'uuid': UUID, 'fstype': 'xfs'}]
    assert calls == [path]


# ------------------------------------------------------------------ end to end on a stand-in host

def lab_view(tmp_path, devices, wipe=(), auto=False, fstab=None, mountinfo_extra=''):
    host = FakeHost(tmp_path)
    blkid = build_lab_host(host)
    if mountinfo_extra:
        host.mountinfo(fixture_text('mountinfo_host.txt') + mountinfo_extra)
    fstab_path = os.path.join(str(tmp_path), 'fstab')
    if fstab is not None:
        with open(fstab_path, 'w') as handle:
            handle.write(fstab)
    inventory = host.gather(devices=list(devices) + list(wipe), blkid=blkid)
    return storage_view(inventory, ROOT, wipe_devices=wipe, auto=auto, fstab_path=fstab_path,
                        statvfs=lambda path: StatVfs(4096, 1024))


def test_lab_host_plan(tmp_path):
    """nvme1n1 blank, sdb xfs (not ours), sdc mounted at /data, sdd held by LVM, by-id link for nvme2n1 to wipe."""
    view = lab_view(tmp_path, ['nvme1n1', 'sdb', 'sdc', 'sdd'], wipe=['/dev/disk/by-id/nvme-Data_SSD_DATA0002'])
    assert actions(view['plan']) == {'/dev/nvme1n1': 'format', '/dev/nvme2n1': 'format', '/dev/sdb': 'keep',
                                     '/dev/sdc': 'refuse', '/dev/sdd': 'refuse'}
    refused = dict((e['path'], e['reasons']) for e in view['plan'] if e['action'] == 'refuse')
    assert refused == {'/dev/sdc': ['mounted at /data'], '/dev/sdd': ['held by dm-0']}
    assert view['volumes'] == []


def test_lab_host_wipe_resolves_names_like_devices(tmp_path):
    view = lab_view(tmp_path, [], wipe=['sdb'])
    assert actions(view['plan']) == {'/dev/sdb': 'wipe'}


def test_lab_host_earlier_volume_from_fstab_and_from_mount(tmp_path):
    fstab = 'UUID=%s %s/%s xfs noatime,nofail 0 0\n' % (UUID, ROOT, UUID)
    view = lab_view(tmp_path, ['sdb'], wipe=['sdb'], fstab=fstab)
    assert view['plan'][0]['action'] == 'mount' and view['plan'][0]['uuid'] == UUID
    mounted = '40 26 8:16 / %s/%s rw,noatime shared:8 - xfs /dev/sdb rw\n' % (ROOT, UUID)
    view = lab_view(tmp_path / 'again', ['sdb'], mountinfo_extra=mounted)
    assert view['plan'][0]['action'] == 'mount'
    assert view['volumes'] == [{'path': '%s/%s' % (ROOT, UUID), 'capacity': '4Mi', 'capacity_bytes': 4096 * 1024,
                                'device': '/dev/sdb', 'uuid': UUID, 'fstype': 'xfs'}]


def test_lab_host_auto(tmp_path):
    view = lab_view(tmp_path, [], auto=True)
    assert actions(view['plan']) == {'/dev/nvme1n1': 'format', '/dev/nvme2n1': 'format'}


def test_missing_device_is_refused_before_any_plan(tmp_path):
    with pytest.raises(DiskError, match="'/dev/no-such-disk' does not match any block device"):
        lab_view(tmp_path, ['nvme1n1', '/dev/no-such-disk'])
    with pytest.raises(DiskError, match="'nope' does not match any block device"):
        lab_view(tmp_path / 'wipe', ['nvme1n1'], wipe=['nope'])


def test_missing_fstab_reads_as_empty_and_unreadable_fstab_fails(tmp_path):
    assert actions(lab_view(tmp_path, ['nvme1n1'])['plan']) == {'/dev/nvme1n1': 'format'}
    inventory = {'disks': [], 'resolved': {}}
    with pytest.raises(DiskError, match='Cannot read %s' % tmp_path):
        storage_view(inventory, ROOT, fstab_path=str(tmp_path))  # a directory


def test_blkid_stand_in_is_used(tmp_path):
    """The end-to-end cases really probe through FakeBlkid (a stand-in for blkid -p)."""
    host = FakeHost(tmp_path)
    blkid = build_lab_host(host)
    assert isinstance(blkid, FakeBlkid)
    host.gather(devices=['sdb'], blkid=blkid)
    assert 'sdb' in blkid.calls
