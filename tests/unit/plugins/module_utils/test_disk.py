# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# Unit tests for module_utils/disk.py and module_utils/disk_signature.py.
#
# Stand-ins used here: sysfs, procfs, /dev and udev trees are fabricated in
# tmp_path by ``FakeHost``; ``FakeBlkid`` stands in for ``blkid -p -o export``
# and replays the captured-style outputs in tests/unit/fixtures/disk/; the
# "device" files probed by the magic reader are small regular files written by
# the tests.

import os
import struct

import pytest

from ansible_collections.ironstone.k8s.plugins.module_utils import disk as disk_utils
from ansible_collections.ironstone.k8s.plugins.module_utils.disk import DiskError, gather_disks, parse_mountinfo, parse_swaps
from ansible_collections.ironstone.k8s.plugins.module_utils.disk_signature import detect_magic, probe_signature, read_magic

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', 'fixtures', 'disk')


def fixture_text(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


BLANK = (2, '', '')


class FakeBlkid(object):
    """Stand-in for ``blkid -p -o export PATH``: answers by device name, records calls."""

    def __init__(self, answers=None):
        self.answers = answers or {}
        self.calls = []

    def __call__(self, path):
        name = os.path.basename(path)
        self.calls.append(name)
        return self.answers.get(name, BLANK)


class FakeHost(object):
    """Stand-in host: fabricates <tmp>/sys, <tmp>/proc, <tmp>/dev and <tmp>/udev trees."""

    def __init__(self, root):
        self.root = str(root)
        self.sys = os.path.join(self.root, 'sys')
        self.proc = os.path.join(self.root, 'proc')
        self.dev = os.path.join(self.root, 'dev')
        self.udev = os.path.join(self.root, 'udev')
        for path in (os.path.join(self.sys, 'block'), os.path.join(self.proc, 'self'), self.dev, self.udev):
            os.makedirs(path)
        self.mountinfo('')

    @staticmethod
    def _write(path, text):
        if not os.path.isdir(os.path.dirname(path)):
            os.makedirs(os.path.dirname(path))
        with open(path, 'w') as handle:
            handle.write(text + '\n')

    def block(self, name, dev, sectors=0, rotational=0, devpath=None, model=None, serial=None, ro=0,
              partitions=(), holders=(), slaves=(), dm_name=None, backing_file=None, hidden=0, node=True):
        """Create /sys/block/<name> as a symlink into /sys/devices/<devpath>/block/<name>, like the kernel does.

        partitions: iterable of (name, "maj:min", sectors, number).
        node: also create an (empty) /dev/<name> file, as a host's /dev has a node for every /sys/block entry.
        """
        devpath = devpath or 'devices/virtual/block'
        real = os.path.join(self.sys, devpath, 'block', name) if not devpath.endswith('/block') else \
            os.path.join(self.sys, devpath, name)
        os.makedirs(real)
        os.symlink(os.path.relpath(real, os.path.join(self.sys, 'block')), os.path.join(self.sys, 'block', name))
        self._write(os.path.join(real, 'dev'), dev)
        self._write(os.path.join(real, 'size'), str(sectors))
        self._write(os.path.join(real, 'ro'), str(ro))
        self._write(os.path.join(real, 'removable'), '0')
        self._write(os.path.join(real, 'hidden'), str(hidden))
        self._write(os.path.join(real, 'queue', 'rotational'), str(rotational))
        if model is not None:
            self._write(os.path.join(real, 'device', 'model'), model)
        if serial is not None:
            self._write(os.path.join(real, 'device', 'serial'), serial)
        if dm_name is not None:
            self._write(os.path.join(real, 'dm', 'name'), dm_name)
        if backing_file is not None:
            self._write(os.path.join(real, 'loop', 'backing_file'), backing_file)
        for sub, entries in (('holders', holders), ('slaves', slaves)):
            os.makedirs(os.path.join(real, sub))
            for entry in entries:
                self._write(os.path.join(real, sub, entry), '')
        for pname, pdev, psectors, number in partitions:
            self._write(os.path.join(real, pname, 'dev'), pdev)
            self._write(os.path.join(real, pname, 'size'), str(psectors))
            self._write(os.path.join(real, pname, 'partition'), str(number))
            os.makedirs(os.path.join(real, pname, 'holders'))
        if node:
            self.dev_file(name)
        return real

    def mountinfo(self, text):
        self._write(os.path.join(self.proc, 'self', 'mountinfo'), text.rstrip('\n'))

    def swaps(self, text):
        self._write(os.path.join(self.proc, 'swaps'), text.rstrip('\n'))

    def dev_file(self, name, data=b''):
        with open(os.path.join(self.dev, name), 'wb') as handle:
            handle.write(data)

    def by_id(self, link, target):
        path = os.path.join(self.dev, 'disk', 'by-id')
        if not os.path.isdir(path):
            os.makedirs(path)
        os.symlink('../../' + target, os.path.join(path, link))

    def gather(self, **kwargs):
        return gather_disks(sysfs_root=self.sys, proc_root=self.proc, dev_root=self.dev,
                            udev_data_dir=self.udev, **kwargs)


NVME_PCI = 'devices/pci0000:00/0000:00:1d.0/nvme/nvme%d'
ATA_PATH = 'devices/pci0000:00/0000:00:17.0/ata%d/host%d/target%d:0:0/%d:0:0:0'


def build_lab_host(host):
    """The main scenario: NVMe root disk, two blank NVMe, HDD, xfs disk, mounted disk, LVM, loops, sr0, zram."""
    host.block('nvme0n1', '259:0', 1000215216, devpath=NVME_PCI % 0, model='Root SSD', serial='ROOT0001',
               partitions=[('nvme0n1p1', '259:1', 1048576, 1), ('nvme0n1p2', '259:2', 999164000, 2)])
    host.block('nvme1n1', '259:3', 1875385008, devpath=NVME_PCI % 1, model='Data SSD', serial='DATA0001')
    host.block('nvme2n1', '259:4', 1875385008, devpath=NVME_PCI % 2, model='Data SSD', serial='DATA0002')
    host.block('sda', '8:0', 7814037168, rotational=1, devpath=ATA_PATH % (1, 0, 0, 0), model='ST4000NM0035')
    host.block('sdb', '8:16', 937703088, devpath=ATA_PATH % (2, 1, 1, 1))
    host.block('sdc', '8:32', 937703088, devpath=ATA_PATH % (3, 2, 2, 2))
    host.block('sdd', '8:48', 937703088, devpath=ATA_PATH % (4, 3, 3, 3), holders=['dm-0'])
    host.block('dm-0', '253:0', 937697280, slaves=['sdd'], dm_name='vg-data')
    host.block('loop0', '7:0', 204800, backing_file='/var/lib/lab/disk0.img')
    host.block('loop1', '7:1', 0)
    host.block('sr0', '11:0', 2097152, rotational=1, devpath=ATA_PATH % (5, 4, 4, 4), model='DVD-ROM')
    host.block('zram0', '252:0', 0)
    host.mountinfo(fixture_text('mountinfo_host.txt'))
    host.swaps('Filename\tType\tSize\tUsed\tPriority')
    host.by_id('nvme-Data_SSD_DATA0002', 'nvme2n1')
    return FakeBlkid({
        'nvme0n1': (0, fixture_text('blkid_gpt.txt'), ''),
        'sdb': (0, fixture_text('blkid_xfs.txt'), ''),
        'sdc': (0, fixture_text('blkid_ext4.txt'), ''),
        'sdd': (0, fixture_text('blkid_lvm.txt'), ''),
    })


def by_name(result):
    return dict((d['name'], d) for d in result['disks'])


def test_lab_host_unlisted(tmp_path):
    """Stand-in FakeHost/FakeBlkid: every scenario device gets the documented eligibility and reasons."""
    host = FakeHost(tmp_path)
    blkid = build_lab_host(host)
    result = host.gather(blkid=blkid)
    disks = by_name(result)

    assert result['eligible'] == ['/dev/nvme1n1', '/dev/nvme2n1']
    assert result['root_disk'] == '/dev/nvme0n1'
    assert result['root_disks'] == ['/dev/nvme0n1']
    assert [d['name'] for d in result['disks']] == [
        'dm-0', 'loop0', 'loop1', 'nvme0n1', 'nvme1n1', 'nvme2n1', 'sda', 'sdb', 'sdc', 'sdd', 'sr0', 'zram0']

    root = disks['nvme0n1']
    assert root['backs_root'] is True
    assert root['eligible'] is False
    assert root['reasons'] == ['backs /', 'has partitions: nvme0n1p1, nvme0n1p2',
                               'mounted at /boot/efi, /', 'has signature: gpt']
    assert [p['name'] for p in root['partitions']] == ['nvme0n1p1', 'nvme0n1p2']
    assert root['partitions'][1]['mountpoints'] == ['/']
    assert root['partitions'][1]['number'] == 2
    assert root['partitions'][0]['size'] == 1048576 * 512
    assert root['pttype'] == 'gpt' and root['fstype'] is None

    blank = disks['nvme1n1']
    assert blank['eligible'] is True and blank['reasons'] == []
    assert blank['size'] == 1875385008 * 512
    assert blank['rotational'] is False
    assert blank['transport'] == 'nvme'
    assert blank['model'] == 'Data SSD' and blank['serial'] == 'DATA0001'
    assert blank['signature'] is None and blank['signature_source'] == 'blkid'
    assert disks['nvme2n1']['by_id'] == ['/dev/disk/by-id/nvme-Data_SSD_DATA0002']

    assert disks['sda']['reasons'] == ['rotational']
    assert disks['sda']['transport'] == 'sata'
    assert disks['sdb']['reasons'] == ['has signature: xfs']
    assert disks['sdc']['reasons'] == ['mounted at /data', 'has signature: ext4']
    assert disks['sdd']['reasons'] == ['held by dm-0', 'has signature: LVM2_member']

    # dm-0 is mounted through its /dev/mapper name (the mountinfo dev number 0:55 matches nothing).
    assert disks['dm-0']['type'] == 'dm'
    assert disks['dm-0']['slaves'] == ['sdd']
    assert disks['dm-0']['reasons'] == ['virtual device type: dm', 'mounted at /srv']

    assert disks['loop0']['transport'] == 'loop'
    assert disks['loop0']['backing_file'] == '/var/lib/lab/disk0.img'
    assert disks['loop0']['reasons'] == ['loop device not listed in devices']
    assert disks['loop1']['reasons'] == ['loop device not listed in devices', 'size 0']
    assert disks['sr0']['type'] == 'rom'
    assert disks['sr0']['reasons'] == ['optical drive: rom', 'rotational']
    assert disks['zram0']['reasons'] == ['virtual device type: zram', 'size 0']

    # Optical drives and empty devices are never probed.
    assert 'sr0' not in blkid.calls and 'loop1' not in blkid.calls and 'zram0' not in blkid.calls
    assert 'nvme1n1' in blkid.calls


def test_lab_host_listed_devices(tmp_path):
    """Stand-in FakeHost/FakeBlkid: listing makes the HDD and the backed loop device eligible, nothing else."""
    host = FakeHost(tmp_path)
    blkid = build_lab_host(host)
    devices = ['sda', '/dev/loop0', 'loop1', '/dev/disk/by-id/nvme-Data_SSD_DATA0002', '/dev/sdb', 'zram0']
    result = host.gather(devices=devices, blkid=blkid)
    disks = by_name(result)

    assert result['eligible'] == ['/dev/loop0', '/dev/nvme1n1', '/dev/nvme2n1', '/dev/sda']
    assert disks['sda']['listed'] is True and disks['sda']['reasons'] == []
    assert disks['nvme2n1']['listed'] is True
    assert disks['nvme1n1']['listed'] is False
    assert disks['loop0']['eligible'] is True
    assert disks['loop1']['reasons'] == ['size 0']
    assert disks['sdb']['reasons'] == ['has signature: xfs']
    assert disks['zram0']['reasons'] == ['virtual device type: zram', 'size 0']
    assert result['resolved'] == {'sda': '/dev/sda', '/dev/loop0': '/dev/loop0', 'loop1': '/dev/loop1',
                                  '/dev/disk/by-id/nvme-Data_SSD_DATA0002': '/dev/nvme2n1',
                                  '/dev/sdb': '/dev/sdb', 'zram0': '/dev/zram0'}


def test_filesystem_uuid_reported(tmp_path):
    """Stand-in FakeHost/FakeBlkid: the blkid UUID is reported for filesystems, null for blank and table-only disks."""
    host = FakeHost(tmp_path)
    disks = by_name(host.gather(blkid=build_lab_host(host)))
    assert disks['sdb']['uuid'] == '5b9d3e0c-7a41-4c6e-9f0b-2a1d3c4b5e6f'
    assert disks['sdc']['uuid'] == '8e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b'
    assert disks['nvme1n1']['uuid'] is None
    assert disks['nvme0n1']['uuid'] is None


def test_device_without_node_is_not_blank(tmp_path):
    """Stand-in FakeHost: in a lab container /sys/block lists the host's vda but /dev has no vda node.

    Real ``blkid -p`` exits 2 without a message for a missing path, the same answer as "nothing found",
    so FakeBlkid answers BLANK here; the device must still not be eligible.
    """
    host = FakeHost(tmp_path)
    host.block('vda', '254:0', 1000000, devpath='devices/pci0000:00/0000:00:04.0/virtio2', node=False)
    host.block('loop3', '7:3', 655360, backing_file='/root/.cache/disk.img')
    disks = by_name(host.gather(devices=['loop3'], blkid=FakeBlkid()))
    assert disks['vda']['eligible'] is False
    assert disks['vda']['reasons'] == ['signature unknown: cannot read %s/vda: No such file or directory' % host.dev]
    assert disks['loop3']['eligible'] is True


def test_held_partition_is_a_reason(tmp_path):
    """Stand-in FakeHost: a partition used by device-mapper (e.g. an active LVM PV) is named in the reasons."""
    host = FakeHost(tmp_path)
    real = host.block('sde', '8:64', 1000000, devpath=ATA_PATH % (6, 5, 5, 5), partitions=[('sde1', '8:65', 990000, 1)])
    host._write(os.path.join(real, 'sde1', 'holders', 'dm-3'), '')
    disks = by_name(host.gather(blkid=FakeBlkid({'sde': (0, fixture_text('blkid_gpt.txt'), '')})))
    assert disks['sde']['reasons'] == ['has partitions: sde1', 'partition sde1 held by dm-3', 'has signature: gpt']
    assert disks['sde']['partitions'][0]['holders'] == ['dm-3']


def test_unknown_listed_device_fails(tmp_path):
    """Stand-in FakeHost: a devices entry that matches nothing is an error naming the entry."""
    host = FakeHost(tmp_path)
    build_lab_host(host)
    with pytest.raises(DiskError) as err:
        host.gather(devices=['/dev/disk/by-id/does-not-exist'])
    assert "'/dev/disk/by-id/does-not-exist'" in str(err.value)


def test_listed_partition_fails(tmp_path):
    """Stand-in FakeHost: a partition is not a disk; the error names the whole disk to list instead."""
    host = FakeHost(tmp_path)
    build_lab_host(host)
    with pytest.raises(DiskError) as err:
        host.gather(devices=['/dev/nvme0n1p1'])
    assert "partition 'nvme0n1p1'" in str(err.value)
    assert "'nvme0n1'" in str(err.value)


def test_container_overlay_root(tmp_path):
    """Stand-in FakeHost: with an overlay / nothing backs /, but bind-mounted partitions still count as mounted."""
    host = FakeHost(tmp_path)
    blkid = build_lab_host(host)
    host.mountinfo(fixture_text('mountinfo_container.txt'))
    result = host.gather(blkid=blkid)
    disks = by_name(result)
    assert result['root_disk'] is None
    assert result['root_disks'] == []
    assert not any(d['backs_root'] for d in result['disks'])
    assert disks['nvme0n1']['reasons'] == ['has partitions: nvme0n1p1, nvme0n1p2', 'mounted at /etc/hosts',
                                           'has signature: gpt']
    assert result['eligible'] == ['/dev/nvme1n1', '/dev/nvme2n1']


def test_root_on_lvm_over_partition(tmp_path):
    """Stand-in FakeHost: / on dm-1 over sda2 makes sda the root disk and dm-1 backs / too."""
    host = FakeHost(tmp_path)
    host.block('sda', '8:0', 1000000, devpath=ATA_PATH % (1, 0, 0, 0),
               partitions=[('sda1', '8:1', 2048, 1), ('sda2', '8:2', 990000, 2)])
    host.block('dm-1', '253:1', 990000, slaves=['sda2'], dm_name='vg0-root')
    host.block('nvme0n1', '259:0', 1000000, devpath=NVME_PCI % 0)
    host.mountinfo(fixture_text('mountinfo_lvm_root.txt'))
    result = host.gather(blkid=FakeBlkid())
    disks = by_name(result)
    assert result['root_disk'] == '/dev/sda'
    assert disks['sda']['backs_root'] is True
    assert disks['dm-1']['backs_root'] is True
    assert disks['nvme0n1']['backs_root'] is False
    assert 'backs /' in disks['sda']['reasons']
    assert 'mounted at /boot' in disks['sda']['reasons']
    assert result['eligible'] == ['/dev/nvme0n1']


def test_root_on_md_mirror(tmp_path):
    """Stand-in FakeHost: / on md0 mirrored over two disks reports both as root disks."""
    host = FakeHost(tmp_path)
    for index, name in enumerate(('nvme0n1', 'nvme1n1')):
        host.block(name, '259:%d' % (index * 2), 1000000, devpath=NVME_PCI % index,
                   partitions=[(name + 'p1', '259:%d' % (index * 2 + 1), 990000, 1)])
    host.block('md0', '9:0', 990000, slaves=['nvme0n1p1', 'nvme1n1p1'])
    host.mountinfo('30 1 9:0 / / rw,relatime shared:1 - ext4 /dev/md0 rw')
    result = host.gather(blkid=FakeBlkid())
    assert result['root_disks'] == ['/dev/nvme0n1', '/dev/nvme1n1']
    assert result['root_disk'] == '/dev/nvme0n1'
    assert by_name(result)['md0']['reasons'] == ['virtual device type: md', 'backs /', 'mounted at /']


def test_blkid_missing_falls_back_to_magic(tmp_path):
    """Stand-in FakeHost: without blkid, signatures come from the device files written here."""
    host = FakeHost(tmp_path)
    host.block('nvme1n1', '259:3', 1000000, devpath=NVME_PCI % 1)
    host.block('nvme2n1', '259:4', 1000000, devpath=NVME_PCI % 2)
    host.block('nvme3n1', '259:5', 1000000, devpath=NVME_PCI % 3, node=False)
    host.dev_file('nvme1n1', b'\0' * 8192)
    host.dev_file('nvme2n1', b'XFSB' + b'\0' * 8188)
    # nvme3n1 has no device node: it cannot be probed, so it must not be eligible.
    disks = by_name(host.gather(blkid=None))
    assert disks['nvme1n1']['eligible'] is True
    assert disks['nvme1n1']['signature_source'] == 'magic'
    assert disks['nvme2n1']['reasons'] == ['has signature: xfs']
    assert disks['nvme2n1']['signature_source'] == 'magic'
    assert len(disks['nvme3n1']['reasons']) == 1
    assert disks['nvme3n1']['reasons'][0].startswith('signature unknown: cannot read ')


def test_probe_signature_blkid_outcomes(tmp_path):
    """Stand-in blkid answers: error, ambiguous, clean-but-magic-finds-something, clean."""
    ext4 = bytearray(4096)
    ext4[1080:1082] = b'\x53\xef'
    ext4[1024 + 0x60:1024 + 0x64] = struct.pack('<I', 0x0040)
    (tmp_path / 'ext').write_bytes(bytes(ext4))
    (tmp_path / 'zero').write_bytes(b'\0' * 4096)

    def answer(rc, out='', err=''):
        return lambda path: (rc, out, err)

    failed = probe_signature(str(tmp_path / 'missing'), answer(2, '', 'blkid: error: /dev/x: Permission denied'))
    assert failed['signature'] is None and failed['source'] is None
    assert 'blkid rc=2: blkid: error: /dev/x: Permission denied' in failed['error']
    assert 'cannot read' in failed['error']

    ambiguous = probe_signature(str(tmp_path / 'zero'), answer(8, '', 'ambivalent result'))
    assert ambiguous['signature'] == 'ambiguous'

    second_opinion = probe_signature(str(tmp_path / 'ext'), answer(2))
    assert second_opinion['fstype'] == 'ext4' and second_opinion['source'] == 'magic'

    # Real `blkid -p /dev/missing` exits 2 with no message, exactly like "nothing found" (seen in a lab
    # container, where /sys/block lists the host's vda but /dev has no vda node). A device the magic
    # reader cannot open is therefore never reported as blank.
    unopened = probe_signature(str(tmp_path / 'missing'), answer(2))
    assert unopened['signature'] is None and unopened['source'] is None
    assert unopened['error'].startswith('cannot read ')

    clean = probe_signature(str(tmp_path / 'zero'), answer(2))
    assert clean == {'fstype': None, 'pttype': None, 'uuid': None, 'signature': None, 'source': 'blkid', 'error': None}

    found = probe_signature(str(tmp_path / 'zero'), answer(0, 'DEVNAME=/dev/x\nTYPE=crypto_LUKS\nUSAGE=crypto\n'))
    assert found['signature'] == 'crypto_LUKS' and found['source'] == 'blkid'

    def raising(path):
        raise OSError(2, 'No such file or directory')
    fallback = probe_signature(str(tmp_path / 'ext'), raising)
    assert fallback['fstype'] == 'ext4' and fallback['source'] == 'magic'


def _ext_image(compat=0, incompat=0, ro_compat=0):
    data = bytearray(4096)
    data[1080:1082] = b'\x53\xef'
    struct.pack_into('<III', data, 1024 + 0x5C, compat, incompat, ro_compat)
    return bytes(data)


def _at(offset, payload, size=8192):
    data = bytearray(size)
    data[offset:offset + len(payload)] = payload
    return bytes(data)


@pytest.mark.parametrize('data, fstype, pttype', [
    (_ext_image(compat=0x4, incompat=0x2c2), 'ext4', None),
    (_ext_image(compat=0x4, incompat=0x2), 'ext3', None),
    (_ext_image(), 'ext2', None),
    (_at(0, b'XFSB'), 'xfs', None),
    (_at(512, b'EFI PART'), None, 'gpt'),
    (_at(4096, b'EFI PART'), None, 'gpt'),
    (_at(510, b'\x55\xaa'), None, 'dos'),
    # A boot-sector 0x55AA in front of a recognised filesystem is not reported as an MBR table.
    (_ext_image(incompat=0x40)[:510] + b'\x55\xaa' + _ext_image(incompat=0x40)[512:], 'ext4', None),
    (_at(512, b'LABELONE' + b'\0' * 16 + b'LVM2 001'), 'LVM2_member', None),
    (_at(4086, b'SWAPSPACE2'), 'swap', None),
    (_at(0x10040, b'_BHRfS_M', 0x10100), 'btrfs', None),
    (_at(0, b'LUKS\xba\xbe'), 'crypto_LUKS', None),
    (_at(0, b'bluestore block device\n'), 'ceph_bluestore', None),
    (bytes(8192), None, None),
    (b'XFS', None, None),
    (b'', None, None),
])
def test_magic_reader_files(tmp_path, data, fstype, pttype):
    """Small device stand-in files written here; read_magic must name exactly the signature planted."""
    path = tmp_path / 'image'
    path.write_bytes(data)
    assert read_magic(str(path)) == {'fstype': fstype, 'pttype': pttype}


def test_magic_reader_gpt_wins_over_protective_mbr():
    """A GPT disk carries a protective MBR (0x55AA); it must be reported as gpt, not dos."""
    data = bytearray(8192)
    data[510:512] = b'\x55\xaa'
    data[512:520] = b'EFI PART'
    assert detect_magic(bytes(data)) == {'fstype': None, 'pttype': 'gpt'}


def test_magic_reader_unreadable(tmp_path):
    with pytest.raises((IOError, OSError)):
        read_magic(str(tmp_path / 'nope'))


def test_parse_mountinfo_fields_and_escapes():
    mounts = parse_mountinfo(fixture_text('mountinfo_lvm_root.txt') + 'garbage line\n')
    assert len(mounts) == 3
    assert mounts[0] == {'dev': '253:1', 'root': '/', 'mountpoint': '/', 'fstype': 'xfs', 'source': '/dev/mapper/vg0-root'}
    assert mounts[2]['mountpoint'] == '/mnt/with space'
    # Optional fields (shared:N master:N) vary in number; the part after '-' must still be found.
    line = '40 25 8:17 / /a rw shared:4 master:1 propagate_from:2 - btrfs /dev/sdb1 rw'
    assert parse_mountinfo(line)[0]['source'] == '/dev/sdb1'


def test_swap_and_udev_data(tmp_path):
    """Stand-in FakeHost with a udev database entry: serial/model/bus from udev, swap partition blocks the disk."""
    host = FakeHost(tmp_path)
    host.block('sde', '8:64', 937703088, devpath='devices/platform/host9/target9:0:0/9:0:0:0')
    host.block('sdf', '8:80', 937703088, devpath=ATA_PATH % (6, 5, 5, 5),
               partitions=[('sdf1', '8:81', 2048, 1), ('sdf2', '8:82', 16777216, 2)])
    with open(os.path.join(host.udev, 'b8:64'), 'w') as handle:
        handle.write(fixture_text('udev_sde.txt'))
    host.swaps(fixture_text('swaps.txt'))
    disks = by_name(host.gather(blkid=FakeBlkid({'sdf': (0, 'PTTYPE=gpt\n', '')})))
    sde = disks['sde']
    assert sde['serial'] == 'PHYF1234567X480BGN'
    assert sde['model'] == 'INTEL_SSDSC2KB480G8'
    assert sde['wwid'] == '0x55cd2e41512345678'
    assert sde['transport'] == 'sata'
    assert sde['by_id'] == ['/dev/disk/by-id/ata-INTEL_SSDSC2KB480G8_PHYF1234567X480BGN',
                            '/dev/disk/by-id/wwn-0x55cd2e41512345678']
    assert sde['eligible'] is True
    assert disks['sdf']['swap'] == ['sdf2']
    assert 'active swap on sdf2' in disks['sdf']['reasons']
    assert parse_swaps(fixture_text('swaps.txt')) == ['/dev/sdf2', '/swapfile']


def test_read_only_and_hidden(tmp_path):
    """Stand-in FakeHost: read-only and hidden (multipath path) devices are reported, never eligible."""
    host = FakeHost(tmp_path)
    host.block('nvme0n1', '259:0', 1000, devpath=NVME_PCI % 0, ro=1)
    host.block('nvme0c0n1', '259:9', 1000, devpath=NVME_PCI % 0, hidden=1)
    disks = by_name(host.gather(blkid=FakeBlkid()))
    assert disks['nvme0n1']['reasons'] == ['read-only']
    assert disks['nvme0c0n1']['reasons'] == ['hidden device']


def test_transport_detection():
    transport = disk_utils.detect_transport
    assert transport('vda', 'disk', '/devices/pci0000:00/0000:00:02.0/virtio1/block/vda', {}, '/nonexistent') == 'virtio'
    assert transport('sdg', 'disk', '/devices/pci0000:00/0000:00:14.0/usb2/2-1/host7/block/sdg', {}, '/x') == 'usb'
    assert transport('sdh', 'disk', '/devices/pci0000:00/0000:00:03.0/virtio2/host0/target0:0:0/block/sdh', {}, '/x') == 'scsi'
    assert transport('xvdb', 'disk', '/devices/vbd-51728/block/xvdb', {}, '/x') == 'xen'
    assert transport('sdi', 'disk', '', {'ID_BUS': 'usb'}, '/x') == 'usb'
    assert transport('nbd0', 'nbd', '', {}, '/x') == 'nbd'
    assert transport('foo0', 'disk', '', {}, '/x') == 'unknown'
