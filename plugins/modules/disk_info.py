# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: disk_info
short_description: Report block devices and which of them are safe to hand to local storage
version_added: 0.1.0
author: ironstone.k8s contributors (@ironstone)
description:
  - Reads C(/sys/block), C(/proc/self/mountinfo), C(/proc/swaps), the udev database and C(blkid -p) to report every
    block device with its size, rotational flag, model, serial, transport, partitions, holders, mount points and any
    existing filesystem or partition-table signature.
  - When C(blkid) is missing or cannot probe a device, a small built-in magic-byte reader is used instead (GPT, MBR,
    ext2/3/4, xfs, btrfs, swap, LVM2, LUKS, Ceph bluestore).
  - "Each device gets RV(disks[].eligible) and, when not eligible, RV(disks[].reasons). A device is eligible only when ALL
    of these hold: (1) its type is C(disk) or C(loop) (C(ram), C(zram), C(rom) i.e. sr*, C(dm), C(md), C(nbd) and C(rbd)
    devices are reported but never eligible) and it is not a hidden device; (2) a C(loop) device is listed in
    O(devices); (3) it is non-rotational, or it is listed in O(devices); (4) its size is greater than 0 and it is not
    read-only; (5) it does not back C(/) (neither it, one of its partitions, nor a dm/md device stacked on it is mounted
    at C(/)); (6) it has no partitions, no holders, nothing mounted from it or its partitions and no active swap on it;
    (7) the signature probe succeeded and found no filesystem, partition-table or other signature."
  - A device whose node cannot be opened (for example a C(/sys/block) entry whose C(/dev) node was not passed into a
    container) is never reported as blank, because C(blkid -p) answers a missing path exactly like an empty device.
  - In a container whose C(/) is an overlay no disk backs C(/) and RV(root_disk) is null.
  - "With O(mount_root) it also returns RV(plan): what local storage must do with each listed device (and with O(auto), each
    eligible one). A device already holding a volume local storage made (xfs or ext4, mounted or listed in fstab at
    C(<mount_root>/<its UUID>)) is mounted and never formatted again; a blank eligible device is formatted; a device that
    is busy or unusable is refused; a device that only holds a filesystem, partition table or other signature is wiped
    when O(wipe_devices) names it and kept otherwise."
  - The module never writes anything.
options:
  devices:
    description:
      - Devices the user explicitly wants considered, as kernel names (C(sdb)), C(/dev) paths or C(/dev/disk/by-id) links
        (symlinks are resolved).
      - Listing a device lets a rotational disk or a loop device with a backing file become eligible; it never overrides
        the other conditions.
      - An entry that does not resolve to a whole block device makes the module fail.
    type: list
    elements: str
    default: []
  wipe_devices:
    description:
      - Devices whose filesystem, partition table or data local storage may erase, named as in O(devices). Each is also
        considered, like an entry of O(devices).
      - Only used for RV(plan), where such a device gets V(wipe) instead of V(keep).
    type: list
    elements: str
    default: []
  mount_root:
    description:
      - Directory under which local storage mounts each volume at C(<mount_root>/<filesystem UUID>).
      - When set, the module also returns RV(plan) and RV(volumes).
    type: path
  auto:
    description:
      - With O(mount_root), also plan every eligible device and every volume found under O(mount_root), not only the listed ones.
    type: bool
    default: false
  fstab:
    description:
      - The fstab file read to recognise volumes that are not mounted now. Change only for testing.
    type: path
    default: /etc/fstab
  sysfs_root:
    description:
      - Root of the sysfs tree to read (C(<sysfs_root>/block)). Change only for testing against a fixture tree.
    type: path
    default: /sys
  proc_root:
    description:
      - Root of the procfs tree to read (C(<proc_root>/self/mountinfo), C(<proc_root>/swaps)). Change only for testing.
    type: path
    default: /proc
  dev_root:
    description:
      - Directory holding the device nodes that are probed and used to resolve O(devices) symlinks. Change only for
        testing. Reported paths always use C(/dev/NAME).
    type: path
    default: /dev
  udev_data_dir:
    description:
      - Directory of the udev database (files C(b<major>:<minor>)), used for serial, model, bus and by-id links when sysfs
        lacks them. Change only for testing.
    type: path
    default: /run/udev/data
attributes:
  check_mode:
    support: full
    description: The module only reads; check mode returns the same results.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no diff.
  platform:
    platforms: posix
    support: full
    description: Linux hosts with sysfs and procfs.
notes:
  - Run with root privileges so that C(blkid -p) can open the devices; a device whose signature cannot be probed is
    not eligible (reason C(signature unknown)).
'''

EXAMPLES = r'''
- name: Find blank local SSDs
  ironstone.k8s.disk_info:
  register: disks

- name: Consider a rotational disk and a lab loop device too
  ironstone.k8s.disk_info:
    devices:
      - /dev/disk/by-id/ata-ST4000NM0035_ZC1234
      - /dev/loop3
  register: disks

- name: Plan local storage on two listed disks, one of which may be erased
  ironstone.k8s.disk_info:
    devices: [/dev/nvme1n1]
    wipe_devices: [/dev/nvme2n1]
    mount_root: /mnt/fast-disks
  register: storage

- name: Show what local storage may use
  ansible.builtin.debug:
    msg: "{{ disks.eligible }}"
'''

RETURN = r'''
disks:
  description: Every device in C(/sys/block), in natural name order.
  returned: always
  type: list
  elements: dict
  sample:
    - name: nvme1n1
      path: /dev/nvme1n1
      dev: "259:3"
      type: disk
      transport: nvme
      size: 960197124096
      rotational: false
      read_only: false
      removable: false
      hidden: false
      model: SAMSUNG MZQL2960HCJR-00A07
      serial: S64FNE0R123456
      wwid: eui.36344630526012340025384500000001
      by_id: [/dev/disk/by-id/nvme-SAMSUNG_MZQL2960HCJR-00A07_S64FNE0R123456]
      backing_file: null
      partitions: []
      holders: []
      slaves: []
      mountpoints: []
      swap: []
      backs_root: false
      listed: false
      fstype: null
      pttype: null
      uuid: null
      signature: null
      signature_source: blkid
      eligible: true
      reasons: []
  contains:
    name:
      description: Kernel name.
      type: str
      returned: always
      sample: nvme1n1
    path:
      description: Device node path, always C(/dev/NAME).
      type: str
      returned: always
      sample: /dev/nvme1n1
    dev:
      description: C(major:minor).
      type: str
      returned: always
      sample: "259:3"
    type:
      description: One of C(disk), C(loop), C(ram), C(zram), C(rom), C(dm), C(md), C(nbd), C(rbd).
      type: str
      returned: always
      sample: disk
    transport:
      description: C(nvme), C(sata), C(sas), C(scsi), C(usb), C(virtio), C(xen), C(mmc), C(loop), C(virtual), C(nbd), C(rbd) or C(unknown).
      type: str
      returned: always
      sample: nvme
    size:
      description: Size in bytes.
      type: int
      returned: always
      sample: 960197124096
    rotational:
      description: Whether the kernel reports the device as rotational.
      type: bool
      returned: always
      sample: false
    read_only:
      description: Whether the device is read-only.
      type: bool
      returned: always
      sample: false
    removable:
      description: Whether the device has removable media.
      type: bool
      returned: always
      sample: false
    hidden:
      description: Whether the kernel hides the device (e.g. an NVMe multipath path).
      type: bool
      returned: always
      sample: false
    model:
      description: Model string, or null.
      type: str
      returned: always
      sample: SAMSUNG MZQL2960HCJR-00A07
    serial:
      description: Serial number, or null.
      type: str
      returned: always
      sample: S64FNE0R123456
    wwid:
      description: World-wide identifier, or null.
      type: str
      returned: always
      sample: eui.36344630526012340025384500000001
    by_id:
      description: C(/dev/disk/by-id) links pointing at the device.
      type: list
      elements: str
      returned: always
      sample: [/dev/disk/by-id/nvme-SAMSUNG_MZQL2960HCJR-00A07_S64FNE0R123456]
    backing_file:
      description: Backing file of a loop device, else null.
      type: str
      returned: always
      sample: /var/lib/lab/disk0.img
    partitions:
      description: Partitions with name, path, dev, number, size, holders and mountpoints.
      type: list
      elements: dict
      returned: always
      sample: [{name: sda1, path: /dev/sda1, dev: "8:1", number: 1, size: 536870912, holders: [], mountpoints: [/boot]}]
    holders:
      description: Devices holding this one (e.g. C(dm-0)).
      type: list
      elements: str
      returned: always
      sample: [dm-0]
    slaves:
      description: Devices this one is stacked on (dm/md).
      type: list
      elements: str
      returned: always
      sample: [sdb]
    mountpoints:
      description: Mount points of the device and its partitions.
      type: list
      elements: str
      returned: always
      sample: [/data]
    swap:
      description: The device or partitions of it that are active swap.
      type: list
      elements: str
      returned: always
      sample: [sda3]
    backs_root:
      description: Whether C(/) lives on this device, one of its partitions, or a device stacked on it.
      type: bool
      returned: always
      sample: false
    listed:
      description: Whether the device was named in O(devices).
      type: bool
      returned: always
      sample: false
    fstype:
      description: Filesystem or content signature (C(TYPE) from blkid), or null.
      type: str
      returned: always
      sample: xfs
    pttype:
      description: Partition-table type (C(PTTYPE) from blkid), or null.
      type: str
      returned: always
      sample: gpt
    uuid:
      description: Filesystem UUID (C(UUID) from blkid), or null when there is no filesystem or blkid did not report one.
      type: str
      returned: always
      sample: 5b9d3e0c-7a41-4c6e-9f0b-2a1d3c4b5e6f
    signature:
      description: RV(disks[].fstype), else RV(disks[].pttype), else C(ambiguous) when blkid found several, else null.
      type: str
      returned: always
      sample: xfs
    signature_source:
      description: C(blkid), C(magic), or null when the device was not or could not be probed.
      type: str
      returned: always
      sample: blkid
    eligible:
      description: Whether local storage may use the device (see the rule in the description).
      type: bool
      returned: always
      sample: true
    reasons:
      description: Why the device is not eligible; empty when eligible.
      type: list
      elements: str
      returned: always
      sample: ["rotational", "has signature: xfs"]
eligible:
  description: Paths of the eligible devices.
  returned: always
  type: list
  elements: str
  sample: [/dev/nvme1n1, /dev/nvme2n1]
root_disk:
  description: The first physical device backing C(/), or null (e.g. in a container with an overlay C(/)).
  returned: always
  type: str
  sample: /dev/nvme0n1
root_disks:
  description: All physical devices backing C(/) (several for md/LVM across disks).
  returned: always
  type: list
  elements: str
  sample: [/dev/nvme0n1]
resolved:
  description: Each O(devices) entry, as given, mapped to the C(/dev/NAME) path of the whole device it names.
  returned: always
  type: dict
  sample: {"/dev/disk/by-id/nvme-Data_SSD_DATA0002": /dev/nvme2n1, "loop3": /dev/loop3}
plan:
  description:
    - What local storage must do with each listed device (and with O(auto), each eligible device and each volume under
      O(mount_root)), in the order of RV(disks).
    - RV(plan[].action) is V(mount) (a volume local storage made; never formatted again), V(format) (blank and eligible),
      V(refuse) (busy or unusable), V(wipe) (holds only a signature or partitions, and O(wipe_devices) names it) or V(keep)
      (holds a filesystem, partition table or data; left untouched).
  returned: when O(mount_root) is set
  type: list
  elements: dict
  sample: [{"path": /dev/nvme1n1, "action": format, "uuid": null, "fstype": null, "reasons": []},
           {"path": /dev/nvme2n1, "action": keep, "uuid": null, "fstype": ext4, "reasons": ["has signature: ext4"]}]
  contains:
    path:
      description: C(/dev/NAME) of the device.
      type: str
    action:
      description: V(mount), V(format), V(refuse), V(wipe) or V(keep).
      type: str
    uuid:
      description: Filesystem UUID of the volume for V(mount); null otherwise.
      type: str
    fstype:
      description: Filesystem on the device now, or null.
      type: str
    reasons:
      description: For V(refuse), what makes the device busy or unusable; otherwise why it is not eligible (empty when it is).
      type: list
      elements: str
volumes:
  description: The volumes mounted now at C(<mount_root>/<filesystem UUID>) on listed devices.
  returned: when O(mount_root) is set
  type: list
  elements: dict
  sample: [{"path": /mnt/fast-disks/0b3c5d1e-8f7a-4c2b-9e6d-1a2b3c4d5e6f, "capacity": 915456Mi, "capacity_bytes": 959925125120,
            "device": /dev/nvme1n1, "uuid": 0b3c5d1e-8f7a-4c2b-9e6d-1a2b3c4d5e6f, "fstype": xfs}]
  contains:
    path:
      description: Mount point.
      type: str
    capacity:
      description: Size of the filesystem as a Kubernetes quantity in Mi.
      type: str
    capacity_bytes:
      description: Size of the filesystem in bytes.
      type: int
    device:
      description: C(/dev/NAME) of the device.
      type: str
    uuid:
      description: Filesystem UUID.
      type: str
    fstype:
      description: Filesystem type.
      type: str
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ironstone.k8s.plugins.module_utils.disk import DiskError, gather_disks
from ansible_collections.ironstone.k8s.plugins.module_utils.disk_plan import storage_view


def make_blkid_runner(module):
    """Return ``path -> (rc, stdout, stderr)`` running ``blkid -p -o export``, or None when blkid is not installed."""
    blkid_bin = module.get_bin_path('blkid')
    if not blkid_bin:
        return None

    def run(path):
        return module.run_command([blkid_bin, '-p', '-o', 'export', path], environ_update={'LC_ALL': 'C'})
    return run


def main():
    module = AnsibleModule(
        argument_spec=dict(
            devices=dict(type='list', elements='str', default=[]),
            wipe_devices=dict(type='list', elements='str', default=[]),
            mount_root=dict(type='path'),
            auto=dict(type='bool', default=False),
            fstab=dict(type='path', default='/etc/fstab'),
            sysfs_root=dict(type='path', default='/sys'),
            proc_root=dict(type='path', default='/proc'),
            dev_root=dict(type='path', default='/dev'),
            udev_data_dir=dict(type='path', default='/run/udev/data'),
        ),
        supports_check_mode=True,
    )
    params = module.params

    blkid = make_blkid_runner(module)

    try:
        result = gather_disks(
            devices=params['devices'] + params['wipe_devices'],
            sysfs_root=params['sysfs_root'],
            proc_root=params['proc_root'],
            dev_root=params['dev_root'],
            udev_data_dir=params['udev_data_dir'],
            blkid=blkid,
        )
        if params['mount_root']:
            result.update(storage_view(result, params['mount_root'], wipe_devices=params['wipe_devices'], auto=params['auto'],
                                       fstab_path=params['fstab']))
    except DiskError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
