"""Build a tiny OCI image archive from a local static busybox, with no registry.

Usage: make_oci_image.py BUSYBOX OUT.tar IMAGE_NAME [--rootfs-tar ROOTFS.tar]

The archive is an OCI image layout (oci-layout, index.json, blobs/sha256/*)
that `ctr images import` accepts; the index names the image through the
io.containerd.image.name annotation. With --rootfs-tar the plain root
filesystem tarball is written too, for `docker import`.
"""
import hashlib
import io
import json

import platform
import sys
import tarfile

ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def rootfs_tar(busybox):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in ("bin",):
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tar.addfile(info)
        info = tar.gettarinfo(busybox, arcname="bin/busybox")
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mtime = 0
        with open(busybox, "rb") as handle:
            tar.addfile(info, handle)
        for applet in ("sh", "echo", "cat", "hostname"):
            link = tarfile.TarInfo("bin/" + applet)
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            tar.addfile(link)
    return buf.getvalue()


def blob(out, data, media_type):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo("blobs/sha256/" + digest.split(":", 1)[1])
    info.size = len(data)
    out.addfile(info, io.BytesIO(data))
    return {"mediaType": media_type, "digest": digest, "size": len(data)}


def main(argv):
    busybox, target, name = argv[1:4]
    layer = rootfs_tar(busybox)
    if "--rootfs-tar" in argv:
        with open(argv[argv.index("--rootfs-tar") + 1], "wb") as handle:
            handle.write(layer)
    with tarfile.open(target, "w") as out:
        layer_desc = blob(out, layer, "application/vnd.oci.image.layer.v1.tar")
        config = {
            "architecture": ARCH, "os": "linux",
            "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
            "rootfs": {"type": "layers", "diff_ids": [layer_desc["digest"]]},
        }
        config_desc = blob(out, json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json")
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": config_desc, "layers": [layer_desc]}
        manifest_desc = blob(out, json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json")
        manifest_desc["annotations"] = {"io.containerd.image.name": name,
                                        "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1]}
        manifest_desc["platform"] = {"architecture": ARCH, "os": "linux"}
        for member, data in (("oci-layout", {"imageLayoutVersion": "1.0.0"}),
                             ("index.json", {"schemaVersion": 2, "manifests": [manifest_desc]})):
            raw = json.dumps(data).encode()
            info = tarfile.TarInfo(member)
            info.size = len(raw)
            out.addfile(info, io.BytesIO(raw))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
