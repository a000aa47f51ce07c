#!/usr/bin/env bash
# Build the lab node image without any container registry.
#
# Debian 12 (bookworm) made with debootstrap from Debian's archive, with
# systemd as PID 1, python3, dbus, sudo and an SSH server, imported with
# `docker import`. No user, key or host key is baked in: each container makes
# its own SSH host keys at boot, and scenarios that log in over SSH install
# their user and key per run (molecule/ssh).
# The tag carries a hash of this recipe, so the image is rebuilt only when
# the recipe (this file or LAB_DEBIAN_MIRROR/LAB_SUITE) changes.
# Prints the image tag on stdout.
set -euo pipefail

SUITE=${LAB_SUITE:-bookworm}
MIRROR=${LAB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${LAB_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
PACKAGES=systemd,systemd-sysv,dbus,python3,python3-apt,iproute2,iputils-ping,procps,ca-certificates,curl,kmod,sudo,less,gnupg,util-linux,xfsprogs,e2fsprogs,openssh-server


recipe=$( { cat "$0"; echo "$SUITE $MIRROR $SECURITY_MIRROR $PACKAGES"; } | sha256sum | cut -c1-12)
tag="ironstone-node:${SUITE}-${recipe}"

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "$tag"
  exit 0
fi

command -v debootstrap >/dev/null 2>&1 || {
  echo "lab: installing debootstrap" >&2
  { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; } ||
    { echo "lab: cannot install debootstrap; install it and retry" >&2; exit 1; }
}

root=$(mktemp -d "${TMPDIR:-/tmp}/ironstone-node.XXXXXX")
trap 'rm -rf "$root"' EXIT
echo "lab: building $tag with debootstrap from $MIRROR (about a minute)" >&2
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$MIRROR" >"$root.log" 2>&1 ||
  { echo "lab: debootstrap failed; see $root.log" >&2; trap - EXIT; exit 1; }

cat >"$root/etc/apt/sources.list" <<SOURCES
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
SOURCES
# Fresh apt lists in the image, so roles can install packages at once.
chroot "$root" apt-get -o APT::Sandbox::User=root update -qq >/dev/null
chroot "$root" apt-get clean
# A container has no consoles, no udev-managed hardware and no time to sync.
for unit in getty.target console-getty.service systemd-udevd.service systemd-udev-trigger.service \
            systemd-timesyncd.service systemd-networkd-wait-online.service systemd-firstboot.service \
            systemd-remount-fs.service sys-kernel-config.mount sys-kernel-debug.mount; do
  ln -sf /dev/null "$root/etc/systemd/system/$unit"
done
: >"$root/etc/machine-id"
# Host keys are per container: none in the image, made at the first boot.
rm -f "$root"/etc/ssh/ssh_host_*
mkdir -p "$root/etc/systemd/system/ssh.service.d"
cat >"$root/etc/systemd/system/ssh.service.d/host-keys.conf" <<'UNIT'
[Service]
ExecStartPre=
ExecStartPre=/usr/bin/ssh-keygen -A
ExecStartPre=/usr/sbin/sshd -t
UNIT
rm -f "$root/var/lib/dbus/machine-id"
rm -rf "$root"/var/cache/apt/*.bin "$root"/usr/share/doc/* "$root"/usr/share/man/*

tar -C "$root" -c . | docker import \
  --change 'ENV container=docker' \
  --change 'CMD ["/sbin/init"]' \
  - "$tag" >/dev/null
rm -f "$root.log"
echo "$tag"
