# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# Filesystem and partition-table signatures on a block device, for
# ironstone.k8s.disk_info: ``blkid -p -o export`` through an injected callable
# (``blkid(path) -> (rc, stdout, stderr)``), and a small magic-byte reader
# (GPT, MBR, ext2/3/4, xfs, btrfs, swap, LVM2, LUKS, Ceph bluestore) that runs
# when blkid is missing, fails or finds nothing. Plain Python, no Ansible imports.

SECTOR_SIZE = 512

# How many bytes the magic reader needs: btrfs keeps its superblock at 64 KiB.
_MAGIC_READ = 0x10000 + 0x48

_EXT4_INCOMPAT = 0x0040 | 0x0080 | 0x0200 | 0x0400 | 0x1000 | 0x8000 | 0x10000
_EXT4_RO_COMPAT = 0x0008 | 0x0010 | 0x0020 | 0x0040 | 0x0400
_EXT3_COMPAT_JOURNAL = 0x0004


def parse_blkid_export(text):
    """Parse ``blkid -o export`` KEY=value lines."""
    values = {}
    for line in (text or '').splitlines():
        if '=' in line:
            key, value = line.split('=', 1)
            values[key.strip()] = value.strip()
    return values


def _ext_flavour(data):
    """Tell ext2/ext3/ext4 apart from the superblock feature flags (superblock at 1024)."""
    def le32(offset):
        chunk = data[offset:offset + 4]
        if len(chunk) < 4:
            return 0
        return chunk[0] | (chunk[1] << 8) | (chunk[2] << 16) | (chunk[3] << 24)

    compat = le32(1024 + 0x5C)
    incompat = le32(1024 + 0x60)
    ro_compat = le32(1024 + 0x64)
    if incompat & _EXT4_INCOMPAT or ro_compat & _EXT4_RO_COMPAT:
        return 'ext4'
    if compat & _EXT3_COMPAT_JOURNAL:
        return 'ext3'
    return 'ext2'


def detect_magic(data):
    """Identify a few well-known signatures in the first bytes of a device.

    Returns ``{'fstype': str|None, 'pttype': str|None}``; both None means blank
    as far as this reader can tell. Recognised: LUKS, xfs, Ceph bluestore,
    GPT (LBA1 for 512 and 4096-byte sectors), LVM2 PV, ext2/3/4, btrfs, swap and
    an MBR/boot-sector 0x55AA marker (reported as pttype ``dos``).
    """
    fstype = None
    pttype = None
    if data[0:6] == b'LUKS\xba\xbe':
        fstype = 'crypto_LUKS'
    elif data[0:4] == b'XFSB':
        fstype = 'xfs'
    elif data[0:22] == b'bluestore block device':
        fstype = 'ceph_bluestore'
    elif data[1080:1082] == b'\x53\xef':
        fstype = _ext_flavour(data)
    elif data[0x10040:0x10048] == b'_BHRfS_M':
        fstype = 'btrfs'
    elif data[4086:4096] in (b'SWAPSPACE2', b'SWAP-SPACE'):
        fstype = 'swap'
    else:
        for sector in range(4):
            base = sector * SECTOR_SIZE
            if data[base:base + 8] == b'LABELONE' and data[base + 24:base + 32] == b'LVM2 001':
                fstype = 'LVM2_member'
                break
    if data[512:520] == b'EFI PART' or data[4096:4104] == b'EFI PART':
        pttype = 'gpt'
    elif fstype is None and data[510:512] == b'\x55\xaa':
        pttype = 'dos'
    return {'fstype': fstype, 'pttype': pttype}


def read_magic(path):
    """Read the start of ``path`` and run detect_magic on it. Raises IOError/OSError when unreadable."""
    with open(path, 'rb') as handle:
        data = handle.read(_MAGIC_READ)
    return detect_magic(data)


def probe_signature(path, blkid=None):
    """Find an existing filesystem / partition-table signature on ``path``.

    Uses ``blkid(path) -> (rc, out, err)`` (``blkid -p -o export``) first:
    rc 0 = found, rc 2 with empty stderr = nothing found, rc 8 = ambiguous
    (several signatures), anything else = probe error. When blkid is not
    available, failed, or found nothing, the magic-byte reader runs as well.

    A device the magic reader cannot open is never reported as blank, even when
    blkid said "nothing found": ``blkid -p`` exits 2 with no message for a
    path that does not exist (e.g. a /sys/block entry whose node was not
    passed into a container).

    Returns a dict with fstype, pttype, uuid (the filesystem UUID blkid
    reported, else None), signature (fstype, else pttype, else ``ambiguous``,
    else None), source (blkid / magic / None) and error (None, or why nothing
    could be probed).
    """
    result = {'fstype': None, 'pttype': None, 'uuid': None, 'signature': None, 'source': None, 'error': None}
    blkid_clean = False
    errors = []
    if blkid is not None:
        try:
            rc, out, err = blkid(path)
        except (IOError, OSError) as exc:
            rc, out, err = None, '', str(exc)
        err = (err or '').strip()
        if rc == 0:
            values = parse_blkid_export(out)
            result['fstype'] = values.get('TYPE') or None
            result['pttype'] = values.get('PTTYPE') or None
            result['uuid'] = values.get('UUID') or None
            result['source'] = 'blkid'
        elif rc == 8:
            result['signature'] = 'ambiguous'
            result['source'] = 'blkid'
            return result
        elif rc == 2 and not err:
            blkid_clean = True
            result['source'] = 'blkid'
        else:
            errors.append('blkid rc=%s: %s' % (rc, err or 'no output'))
    if result['fstype'] is None and result['pttype'] is None:
        try:
            found = read_magic(path)
        except (IOError, OSError) as exc:
            result['source'] = None
            errors.append('cannot read %s: %s' % (path, exc.strerror or exc))
        else:
            if found['fstype'] or found['pttype']:
                result.update(found)
                result['source'] = 'magic'
            elif not blkid_clean:
                result['source'] = 'magic'
    if result['source'] is None:
        result['error'] = '; '.join(errors) or 'no probe available'
    result['signature'] = result['fstype'] or result['pttype']
    return result
