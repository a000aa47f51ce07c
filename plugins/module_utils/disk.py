# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# Block-device inventory for ironstone.k8s.disk_info.
#
# Plain Python, no Ansible imports. Everything is read from a sysfs tree, a
# procfs tree, a /dev tree and the udev database, each of which can be pointed
# at a fixture tree. Signature probing uses an injected ``blkid`` callable
# (``blkid(path) -> (rc, stdout, stderr)``, i.e. ``blkid -p -o export PATH``)
# and falls back to a small magic-byte reader.
#
# Eligibility rule (a device is eligible only when ALL of these hold):
#
# 1. its type is ``disk`` or ``loop`` (``ram``, ``zram``, ``rom`` (sr*), ``dm``,
#    ``md``, ``nbd`` and ``rbd`` devices are reported but never eligible) and it
#    is not a hidden device (e.g. an NVMe multipath path);
# 2. a ``loop`` device is listed in ``devices``;
# 3. it is non-rotational, or it is listed in ``devices``;
# 4. its size is greater than 0 and it is not read-only;
# 5. it does not back ``/`` (neither it, one of its partitions, nor a device
#    stacked on it such as dm/md is mounted at ``/``);
# 6. it has no partitions, no holders, nothing mounted from it or its
#    partitions, and no active swap on it or its partitions;
# 7. the signature probe succeeded and found no filesystem, partition-table or
#    other signature.
#
# Every failed condition adds one short string to ``reasons``.

import os
import re

from ansible_collections.ironstone.k8s.plugins.module_utils.disk_signature import SECTOR_SIZE, probe_signature

# Device types that are reported but can never be eligible, with the wording
# used in ``reasons``.
EXCLUDED_TYPES = {
    'ram': 'virtual device type: ram',
    'zram': 'virtual device type: zram',
    'dm': 'virtual device type: dm',
    'md': 'virtual device type: md',
    'rom': 'optical drive: rom',
    'nbd': 'network device type: nbd',
    'rbd': 'network device type: rbd',
}


class DiskError(Exception):
    """A problem the user has to fix (e.g. a listed device that does not exist)."""


def natural_key(name):
    """Sort key so nvme2n1 comes before nvme10n1."""
    return [int(part) if part.isdigit() else part for part in re.split(r'(\d+)', name)]


def read_text(path, default=None):
    try:
        with open(path, 'r') as handle:
            return handle.read().strip()
    except (IOError, OSError, UnicodeDecodeError):
        return default


def read_int(path, default=None):
    text = read_text(path)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        return default


def list_dir(path):
    try:
        return sorted(os.listdir(path), key=natural_key)
    except (IOError, OSError):
        return []


def _unescape_mount(text):
    """mountinfo escapes space, tab, newline and backslash as \\ooo octal."""
    return re.sub(r'\\([0-7]{3})', lambda m: chr(int(m.group(1), 8)), text)


def parse_mountinfo(text):
    """Parse /proc/self/mountinfo into a list of dicts (dev, root, mountpoint, fstype, source)."""
    mounts = []
    for line in (text or '').splitlines():
        fields = line.split()
        if len(fields) < 7 or '-' not in fields[6:]:
            continue
        sep = fields.index('-', 6)
        tail = fields[sep + 1:]
        mounts.append({
            'dev': fields[2],
            'root': _unescape_mount(fields[3]),
            'mountpoint': _unescape_mount(fields[4]),
            'fstype': tail[0] if tail else None,
            'source': _unescape_mount(tail[1]) if len(tail) > 1 else None,
        })
    return mounts


def parse_swaps(text):
    """Return the device/file names from /proc/swaps."""
    names = []
    for line in (text or '').splitlines()[1:]:
        fields = line.split()
        if fields:
            names.append(_unescape_mount(fields[0]))
    return names


def parse_udev_data(text):
    """Parse a udev database file (/run/udev/data/b<maj>:<min>) into (env dict, symlink list)."""
    env = {}
    links = []
    for line in (text or '').splitlines():
        if line.startswith('E:') and '=' in line:
            key, value = line[2:].split('=', 1)
            env[key] = value
        elif line.startswith('S:'):
            links.append(line[2:])
    return env, links


def device_type(name):
    """Classify a /sys/block entry by its kernel name."""
    prefixes = (
        ('loop', 'loop'), ('zram', 'zram'), ('ram', 'ram'), ('sr', 'rom'),
        ('dm-', 'dm'), ('md', 'md'), ('nbd', 'nbd'), ('rbd', 'rbd'),
    )
    for prefix, kind in prefixes:
        if name.startswith(prefix):
            return kind
    return 'disk'


def _sysfs_devpath(sysfs_root, name):
    """The device's path below <sysfs>/devices (e.g. 'devices/pci0000:00/.../block/sda'), or ''."""
    real = os.path.realpath(os.path.join(sysfs_root, 'block', name))
    base = os.path.realpath(sysfs_root)
    rel = os.path.relpath(real, base)
    if rel.startswith('devices' + os.sep):
        return '/' + rel.replace(os.sep, '/')
    return ''


def detect_transport(name, kind, devpath, udev_env, block_dir):
    """Best-effort transport: nvme, sata, sas, scsi, usb, virtio, xen, mmc, loop, virtual, nbd, rbd or unknown."""
    if kind == 'loop':
        return 'loop'
    if kind in ('ram', 'zram', 'dm', 'md'):
        return 'virtual'
    if kind in ('nbd', 'rbd'):
        return kind
    if name.startswith('nvme') or '/nvme' in devpath:
        return 'nvme'
    if name.startswith('vd'):
        return 'virtio'
    if name.startswith('xvd'):
        return 'xen'
    if name.startswith('mmcblk'):
        return 'mmc'
    if '/usb' in devpath:
        return 'usb'
    bus = udev_env.get('ID_BUS')
    if bus in ('ata', 'usb', 'nvme'):
        return 'sata' if bus == 'ata' else bus
    if '/ata' in devpath:
        return 'sata'
    if os.path.exists(os.path.join(block_dir, 'device', 'sas_address')):
        return 'sas'
    if bus == 'scsi' or name.startswith(('sd', 'sr')):
        return 'scsi'
    if '/virtio' in devpath:
        return 'virtio'
    return 'unknown'


def _dev_link_target(path, dev_root):
    """Map a /dev/... path into dev_root and resolve symlinks; return the kernel name or None."""
    if dev_root != '/dev' and (path == '/dev' or path.startswith('/dev/')):
        path = os.path.join(dev_root, path[len('/dev/'):])
    real = os.path.realpath(path)
    if os.path.lexists(real) or os.path.islink(path):
        return os.path.basename(real)
    return None


class _Inventory(object):
    """Everything read from sysfs once: whole devices, partitions, dev numbers, dm names."""

    def __init__(self, sysfs_root):
        self.sysfs_root = sysfs_root
        self.block_root = os.path.join(sysfs_root, 'block')
        self.names = [n for n in list_dir(self.block_root) if os.path.isdir(os.path.join(self.block_root, n))]
        self.parent = {}        # partition name -> whole-device name
        self.partitions = {}    # whole-device name -> [partition names]
        self.dev_to_name = {}   # "maj:min" -> name (devices and partitions)
        self.dm_names = {}      # dm name (as in /dev/mapper) -> dm-N
        for name in self.names:
            block_dir = self.block_dir(name)
            self.partitions[name] = []
            dev = read_text(os.path.join(block_dir, 'dev'))
            if dev:
                self.dev_to_name[dev] = name
            dm_name = read_text(os.path.join(block_dir, 'dm', 'name'))
            if dm_name:
                self.dm_names[dm_name] = name
            for entry in list_dir(block_dir):
                if os.path.isfile(os.path.join(block_dir, entry, 'partition')):
                    self.partitions[name].append(entry)
                    self.parent[entry] = name
                    pdev = read_text(os.path.join(block_dir, entry, 'dev'))
                    if pdev:
                        self.dev_to_name[pdev] = entry

    def block_dir(self, name):
        if name in self.parent:
            return os.path.join(self.block_root, self.parent[name], name)
        return os.path.join(self.block_root, name)

    def known(self, name):
        return name in self.partitions or name in self.parent

    def resolve_source(self, source, dev_root):
        """Resolve a mount/swap source like /dev/sdb1 or /dev/mapper/vg-lv to a kernel name, or None."""
        if not source or not source.startswith('/dev/'):
            return None
        if source.startswith('/dev/mapper/'):
            mapped = self.dm_names.get(source[len('/dev/mapper/'):])
            if mapped:
                return mapped
        target = _dev_link_target(source, dev_root)
        if target and self.known(target):
            return target
        base = os.path.basename(source)
        return base if self.known(base) else None

    def lower_devices(self, name, seen=None):
        """``name`` plus everything under it: partition -> disk, dm/md -> slaves, recursively."""
        seen = set() if seen is None else seen
        if name in seen:
            return seen
        seen.add(name)
        if name in self.parent:
            self.lower_devices(self.parent[name], seen)
        for slave in list_dir(os.path.join(self.block_dir(name), 'slaves')):
            if self.known(slave):
                self.lower_devices(slave, seen)
        return seen


def resolve_requested(entries, inventory, dev_root):
    """Turn the ``devices`` option (names, /dev paths, /dev/disk/by-* links) into kernel names.

    Returns (names in the order first listed, {entry: '/dev/NAME'}).
    """
    resolved = []
    mapping = {}
    for entry in entries or []:
        text = (entry or '').strip()
        if not text:
            continue
        if '/' in text:
            name = _dev_link_target(text, dev_root)
            if name is None or not inventory.known(name):
                name = os.path.basename(text) if inventory.known(os.path.basename(text)) else name
        else:
            name = text
            if not inventory.known(name):
                name = _dev_link_target(os.path.join('/dev', text), dev_root) or text
        if name is None or not inventory.known(name):
            raise DiskError(
                "The devices entry '%s' does not match any block device in %s; "
                "list a whole-disk name such as 'sdb', '/dev/nvme1n1' or a /dev/disk/by-id link that exists on this host."
                % (entry, inventory.block_root))
        if name in inventory.parent:
            raise DiskError(
                "The devices entry '%s' resolves to partition '%s'; list the whole disk '%s' instead."
                % (entry, name, inventory.parent[name]))
        mapping[entry] = '/dev/' + name
        if name not in resolved:
            resolved.append(name)
    return resolved, mapping


def _by_id_links(name, dev_root, udev_links):
    links = set('/dev/' + link for link in udev_links if link.startswith('disk/by-id/'))
    by_id = os.path.join(dev_root, 'disk', 'by-id')
    for link in list_dir(by_id):
        full = os.path.join(by_id, link)
        if os.path.islink(full) and os.path.basename(os.path.realpath(full)) == name:
            links.add('/dev/disk/by-id/' + link)
    return sorted(links)


def _first(*values):
    for value in values:
        if value:
            return value
    return None


def gather_disks(devices=None, sysfs_root='/sys', proc_root='/proc', dev_root='/dev',
                 udev_data_dir='/run/udev/data', blkid=None):
    """Inventory every /sys/block device and decide eligibility (see module docstring for the rule).

    Returns a dict with ``disks`` (list of dicts), ``eligible`` (list of /dev paths),
    ``root_disk`` (/dev path or None), ``root_disks`` (all physical devices backing /)
    and ``resolved`` ({``devices`` entry: /dev path it names}).
    Raises DiskError when an entry in ``devices`` cannot be resolved to a whole device.
    """
    inventory = _Inventory(sysfs_root)
    requested, resolved = resolve_requested(devices, inventory, dev_root)

    mounts = parse_mountinfo(read_text(os.path.join(proc_root, 'self', 'mountinfo'), ''))
    mounted_at = {}
    root_name = None
    for mount in mounts:
        name = inventory.dev_to_name.get(mount['dev']) or inventory.resolve_source(mount['source'], dev_root)
        if name is None:
            if mount['mountpoint'] == '/':
                root_name = None
            continue
        mounted_at.setdefault(name, [])
        if mount['mountpoint'] not in mounted_at[name]:
            mounted_at[name].append(mount['mountpoint'])
        if mount['mountpoint'] == '/':
            root_name = name
    swaps = set()
    for source in parse_swaps(read_text(os.path.join(proc_root, 'swaps'), '')):
        name = inventory.resolve_source(source, dev_root)
        if name:
            swaps.add(name)

    backs_root = inventory.lower_devices(root_name) if root_name else set()
    root_disks = sorted((n for n in backs_root if n not in inventory.parent
                         and not list_dir(os.path.join(inventory.block_dir(n), 'slaves'))), key=natural_key)

    disks = []
    for name in inventory.names:
        block_dir = inventory.block_dir(name)
        kind = device_type(name)
        dev = read_text(os.path.join(block_dir, 'dev'))
        size = read_int(os.path.join(block_dir, 'size'), 0) * SECTOR_SIZE
        udev_env, udev_links = parse_udev_data(read_text(os.path.join(udev_data_dir, 'b' + dev), '') if dev else '')
        devpath = _sysfs_devpath(sysfs_root, name)

        partitions = []
        all_mounts = list(mounted_at.get(name, []))
        swap_on = [name] if name in swaps else []
        for part in inventory.partitions[name]:
            part_dir = inventory.block_dir(part)
            part_mounts = mounted_at.get(part, [])
            all_mounts.extend(m for m in part_mounts if m not in all_mounts)
            if part in swaps:
                swap_on.append(part)
            partitions.append({
                'name': part,
                'path': '/dev/' + part,
                'dev': read_text(os.path.join(part_dir, 'dev')),
                'number': read_int(os.path.join(part_dir, 'partition')),
                'size': read_int(os.path.join(part_dir, 'size'), 0) * SECTOR_SIZE,
                'holders': list_dir(os.path.join(part_dir, 'holders')),
                'mountpoints': list(part_mounts),
            })

        disk = {
            'name': name,
            'path': '/dev/' + name,
            'dev': dev,
            'type': kind,
            'transport': detect_transport(name, kind, devpath, udev_env, block_dir),
            'size': size,
            'rotational': read_text(os.path.join(block_dir, 'queue', 'rotational')) == '1',
            'read_only': read_text(os.path.join(block_dir, 'ro')) == '1',
            'removable': read_text(os.path.join(block_dir, 'removable')) == '1',
            'hidden': read_text(os.path.join(block_dir, 'hidden')) == '1',
            'model': _first(read_text(os.path.join(block_dir, 'device', 'model')), udev_env.get('ID_MODEL')),
            'serial': _first(read_text(os.path.join(block_dir, 'device', 'serial')),
                             read_text(os.path.join(block_dir, 'serial')),
                             udev_env.get('ID_SERIAL_SHORT'), udev_env.get('ID_SERIAL')),
            'wwid': _first(read_text(os.path.join(block_dir, 'wwid')),
                           read_text(os.path.join(block_dir, 'device', 'wwid')), udev_env.get('ID_WWN')),
            'by_id': _by_id_links(name, dev_root, udev_links),
            'backing_file': read_text(os.path.join(block_dir, 'loop', 'backing_file')) if kind == 'loop' else None,
            'partitions': partitions,
            'holders': list_dir(os.path.join(block_dir, 'holders')),
            'slaves': list_dir(os.path.join(block_dir, 'slaves')),
            'mountpoints': all_mounts,
            'swap': swap_on,
            'backs_root': name in backs_root,
            'listed': name in requested,
        }

        probe_path = os.path.join(dev_root, name)
        if size > 0 and kind != 'rom':
            probe = probe_signature(probe_path, blkid)
        else:
            probe = {'fstype': None, 'pttype': None, 'uuid': None, 'signature': None, 'source': None, 'error': None}
        disk['fstype'] = probe['fstype']
        disk['pttype'] = probe['pttype']
        disk['uuid'] = probe['uuid']
        disk['signature'] = probe['signature']
        disk['signature_source'] = probe['source']

        reasons = []
        if kind in EXCLUDED_TYPES:
            reasons.append(EXCLUDED_TYPES[kind])
        if disk['hidden']:
            reasons.append('hidden device')
        if kind == 'loop' and not disk['listed']:
            reasons.append('loop device not listed in devices')
        if disk['rotational'] and not disk['listed']:
            reasons.append('rotational')
        if size <= 0:
            reasons.append('size 0')
        if disk['read_only']:
            reasons.append('read-only')
        if disk['backs_root']:
            reasons.append('backs /')
        if partitions:
            reasons.append('has partitions: ' + ', '.join(p['name'] for p in partitions))
        if disk['holders']:
            reasons.append('held by ' + ', '.join(disk['holders']))
        for part in partitions:
            if part['holders']:
                reasons.append('partition %s held by %s' % (part['name'], ', '.join(part['holders'])))
        if all_mounts:
            reasons.append('mounted at ' + ', '.join(all_mounts))
        if swap_on:
            reasons.append('active swap on ' + ', '.join(swap_on))
        if probe['signature']:
            reasons.append('has signature: ' + probe['signature'])
        elif probe['error']:
            reasons.append('signature unknown: ' + probe['error'])
        disk['eligible'] = not reasons
        disk['reasons'] = reasons
        disks.append(disk)

    return {
        'disks': disks,
        'eligible': [d['path'] for d in disks if d['eligible']],
        'root_disk': '/dev/' + root_disks[0] if root_disks else None,
        'root_disks': ['/dev/' + n for n in root_disks],
        'resolved': resolved,
    }
