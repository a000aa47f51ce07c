# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# What local storage does with each disk that ``disk.gather_disks`` reported,
# and the volumes it has mounted; returned by ironstone.k8s.disk_info as
# ``plan`` and ``volumes`` when its ``mount_root`` option is set.
#
# A volume of local storage is a whole-disk xfs or ext4 filesystem mounted at
# ``<mount_root>/<filesystem UUID>``. Plain Python, no Ansible imports.

import os
import re

from ansible_collections.ironstone.k8s.plugins.module_utils.common.files import read_if_exists
from ansible_collections.ironstone.k8s.plugins.module_utils.disk import DiskError

# Filesystems local storage makes; a disk with one of these mounted (or listed
# in fstab) at <mount_root>/<its UUID> is a volume it made earlier.
VOLUME_FSTYPES = ('xfs', 'ext4')

# Reasons of ``gather_disks`` that only say the disk holds something: erasing
# it (local_storage_wipe_devices) clears them. Every other reason means the disk
# is busy or unusable.
_CONTENT_REASONS = re.compile(r'^has (signature|partitions): ')

MEBIBYTE = 1024 * 1024


def volume_path(mount_root, uuid):
    """Where the volume with filesystem ``uuid`` is mounted."""
    return '%s/%s' % (mount_root.rstrip('/'), uuid)


def in_fstab(fstab, uuid, path):
    """Whether ``fstab`` (its text) has an active line mounting ``UUID=<uuid>`` at ``path``."""
    pattern = r'(?m)^\s*UUID=%s\s+%s\s' % (re.escape(uuid), re.escape(path))
    return re.search(pattern, fstab or '') is not None


def is_volume(disk, mount_root, fstab):
    """Whether ``disk`` holds a volume made by local storage (mounted, or listed in fstab, at its UUID)."""
    if not disk.get('uuid') or disk.get('fstype') not in VOLUME_FSTYPES:
        return False
    path = volume_path(mount_root, disk['uuid'])
    return path in disk.get('mountpoints', []) or in_fstab(fstab, disk['uuid'], path)


def decide(disk, mount_root, fstab, wipe):
    """One plan entry: what to do with ``disk``; ``wipe`` holds the /dev paths that may be erased.

    Actions, in order of precedence:

    * ``mount``: a volume local storage made; never formatted again, even when in ``wipe``;
    * ``format``: blank and eligible;
    * ``refuse``: busy or unusable (mounted elsewhere, held, swap, backs /, read-only, unprobeable...);
      ``reasons`` then holds only what makes it so;
    * ``wipe``: only a signature or partitions stand in the way, and ``wipe`` names it;
    * ``keep``: holds a filesystem, partition table or data; left untouched.
    """
    blocking = [reason for reason in disk['reasons'] if not _CONTENT_REASONS.match(reason)]
    if is_volume(disk, mount_root, fstab):
        action = 'mount'
    elif disk['eligible']:
        action = 'format'
    elif blocking:
        action = 'refuse'
    elif disk['path'] in wipe:
        action = 'wipe'
    else:
        action = 'keep'
    return {
        'path': disk['path'],
        'action': action,
        'uuid': disk['uuid'] if action == 'mount' else None,
        'fstype': disk['fstype'],
        'reasons': blocking if action == 'refuse' else list(disk['reasons']),
    }


def plan_devices(disks, mount_root, fstab='', wipe=(), auto=False):
    """The plan for every listed disk and, with ``auto``, every eligible disk or earlier volume.

    ``disks``: ``gather_disks()['disks']``; ``wipe``: /dev paths that may be
    erased; ``fstab``: the text of /etc/fstab. Returns entries in the order of
    ``disks`` (see ``decide``).
    """
    plan = []
    for disk in disks:
        if disk['listed'] or (auto and (disk['eligible'] or is_volume(disk, mount_root, fstab))):
            plan.append(decide(disk, mount_root, fstab, set(wipe)))
    return plan


def mounted_volumes(disks, mount_root, statvfs=os.statvfs):
    """The volumes mounted now on listed disks: path, capacity (``<n>Mi``), capacity_bytes, device, uuid, fstype.

    The capacity is the filesystem's size (``f_frsize * f_blocks``), as in Ansible's mount facts.
    """
    volumes = []
    for disk in disks:
        if not disk['listed'] or not disk.get('uuid') or disk.get('fstype') not in VOLUME_FSTYPES:
            continue
        path = volume_path(mount_root, disk['uuid'])
        if path not in disk.get('mountpoints', []):
            continue
        stats = statvfs(path)
        size = stats.f_frsize * stats.f_blocks
        volumes.append({'path': path, 'capacity': '%dMi' % (size // MEBIBYTE), 'capacity_bytes': size,
                        'device': disk['path'], 'uuid': disk['uuid'], 'fstype': disk['fstype']})
    return volumes


def storage_view(inventory, mount_root, wipe_devices=(), auto=False, fstab_path='/etc/fstab', statvfs=os.statvfs):
    """``{'plan', 'volumes'}`` for ``inventory`` (what ``gather_disks`` returned, with the wipe devices among its ``devices``)."""
    try:
        fstab = read_if_exists(fstab_path, binary=False) or ''
    except (IOError, OSError) as exc:
        raise DiskError('Cannot read %s: %s; run with become, or fix the permissions of the file.' % (fstab_path, exc.strerror or exc))
    wipe = [inventory['resolved'][entry] for entry in wipe_devices or [] if entry in inventory['resolved']]
    return {'plan': plan_devices(inventory['disks'], mount_root, fstab, wipe, auto),
            'volumes': mounted_volumes(inventory['disks'], mount_root, statvfs)}
