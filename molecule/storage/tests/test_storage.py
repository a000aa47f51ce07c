"""Local-SSD storage on a real lab node, after converge, side effect and a container restart.

Real: systemd, mount(8)/libblkid, xfsprogs, the kernel's loop devices passed in as disks.
Stand-in: the disks are loop devices backed by sparse files, not SSDs.
"""
import json
import os

import pytest

ROOT = "/mnt/fast-disks"
OPTIONS = "noatime,nofail,x-ironstone.local-storage"


def _disks():
    path = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "loop_disks.json")
    with open(path) as handle:
        return [d["device"] for d in json.load(handle)]


DISKS = _disks()


def _probe(host, device):
    out = host.check_output("blkid -p -o export %s", device)
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


@pytest.mark.parametrize("index", range(len(DISKS)))
def test_volume_mounted_by_uuid_after_restart(host, index):
    device = DISKS[index]
    probe = _probe(host, device)
    assert probe["TYPE"] == "xfs"
    mountpoint = "%s/%s" % (ROOT, probe["UUID"])
    found = json.loads(host.check_output("findmnt --json --output SOURCE,FSTYPE,OPTIONS --mountpoint %s", mountpoint))
    (mount,) = found["filesystems"]
    assert mount["source"] == device
    assert mount["fstype"] == "xfs"
    assert "noatime" in mount["options"].split(",")
    fstab = host.file("/etc/fstab").content_string.splitlines()
    assert "UUID=%s %s xfs %s 0 0" % (probe["UUID"], mountpoint, OPTIONS) in fstab


def test_fstab_lists_each_volume_once(host):
    entries = [line for line in host.file("/etc/fstab").content_string.splitlines() if line.startswith("UUID=")]
    assert len(entries) == len(DISKS)


def test_node_really_restarted_and_mounts_came_back(host):
    """The file was written in the side effect before `docker restart`; PID 1 started after it."""
    uuid = _probe(host, DISKS[0])["UUID"]
    marker = host.file("%s/%s/before-restart.txt" % (ROOT, uuid))
    assert marker.content_string == "written before the restart\n"
    booted = int(host.check_output("stat -c %Y /proc/1"))
    assert booted >= marker.mtime.timestamp()
    # systemd-fstab-generator ignores device entries in containers; the role's unit mounted them.
    assert host.service("ironstone-local-storage-mounts.service").is_enabled
    assert host.check_output("systemctl is-active ironstone-local-storage-mounts.service") == "active"


def test_erased_data_disk_holds_a_new_filesystem(host):
    """Disk 2 had ext4 and keep.txt; local_storage_wipe_devices made it a fresh, empty xfs volume."""
    uuid = _probe(host, DISKS[2])["UUID"]
    assert not host.file("%s/%s/keep.txt" % (ROOT, uuid)).exists


def test_no_nvidia_gpu_in_pci_sysfs(host):
    """The premise of the gpu_info check in converge.yml: this node really has no NVIDIA display device."""
    script = (
        "for d in /sys/bus/pci/devices/*; do "
        "[ \"$(cat $d/vendor)\" = 0x10de ] && case \"$(cat $d/class)\" in 0x03*) echo $d;; esac; "
        "done; true"
    )
    assert host.check_output("sh -c %s", script) == ""
