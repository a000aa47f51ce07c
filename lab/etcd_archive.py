"""An etcd release archive in the upstream layout, repacked from Debian's etcd packages.

The etcd role's archive install path (etcd_install_source: archive) takes a tarball
laid out like an upstream release: one top directory, etcd-vX.Y.Z-linux-amd64/,
holding etcd, etcdctl and, from 3.5 on, etcdutl. The lab cannot reach the upstream
release site, so it repacks the binaries of Debian's etcd-server and etcd-client
packages in that layout (a stand-in for the upstream tarball; the binaries in it
are Debian's real etcd). The archive is deterministic: the same packages always
give the same bytes, hence the same sha256.

Used by lab/bench.py (the host's own Debian release, through `apt-get download`)
and by the Molecule scenario etcd_ops (another Debian suite, through apt with a
private configuration, so the host's apt sources are not touched):

    python3 lab/etcd_archive.py --suite trixie --cache .cache/etcd-archive/trixie

prints one JSON object: name (the archive's file name), path, sha256, version.
Downloaded packages are kept under the cache directory: a later run with the
same cache downloads nothing.
"""
import argparse
import glob
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile

PACKAGES = ("etcd-server", "etcd-client")
# In the order an upstream release lists them; etcdutl exists from etcd 3.5 on.
BINARIES = ("etcd", "etcdctl", "etcdutl")
REQUIRED = ("etcd", "etcdctl")
DEFAULT_MIRROR = "http://deb.debian.org/debian"


class ArchiveError(Exception):
    """The packages could not be fetched or do not hold etcd's binaries."""


def archive_name(version, arch="amd64"):
    """The upstream name of a release archive: etcd-v3.5.16-linux-amd64.tar.gz."""
    return "etcd-v%s-linux-%s.tar.gz" % (version, arch)


def parse_version(text):
    """The version from the first line of `etcd --version` ("etcd Version: 3.5.16")."""
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 3 and words[0] == "etcd" and words[1] == "Version:":
            return words[2]
    raise ArchiveError("`etcd --version` did not print a version: %r" % text[:200])


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def extract_debs(debs, root):
    """Unpack the .deb files into root (dpkg-deb -x); return the paths of etcd's binaries found in usr/bin."""
    if not debs:
        raise ArchiveError("no .deb files to repack")
    for deb in debs:
        subprocess.run(["dpkg-deb", "-x", deb, root], check=True)
    found = {}
    for binary in BINARIES:
        path = os.path.join(root, "usr", "bin", binary)
        if os.path.isfile(path):
            found[binary] = path
    missing = [b for b in REQUIRED if b not in found]
    if missing:
        names = ", ".join(sorted(os.path.basename(d) for d in debs))
        raise ArchiveError("the packages %s hold no %s in /usr/bin" % (names, ", ".join(missing)))
    return found


def write_archive(binaries, version, out_dir, arch="amd64"):
    """Write the release archive of the binaries (name -> path) into out_dir; return its path.

    Entries are sorted, owned by 0:0, with mode 0755 and mtime 0, and the gzip
    header carries no name or time, so the bytes depend only on the binaries.
    """
    top = "etcd-v%s-linux-%s" % (version, arch)
    path = os.path.join(out_dir, archive_name(version, arch))
    partial = path + ".partial"
    with open(partial, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as zipped:
            with tarfile.open(fileobj=zipped, mode="w", format=tarfile.GNU_FORMAT) as tar:
                directory = tarfile.TarInfo(top)
                directory.type = tarfile.DIRTYPE
                directory.mode = 0o755
                tar.addfile(directory)
                for name in sorted(binaries):
                    with open(binaries[name], "rb") as handle:
                        data = handle.read()
                    info = tarfile.TarInfo("%s/%s" % (top, name))
                    info.size = len(data)
                    info.mode = 0o755
                    tar.addfile(info, io.BytesIO(data))
    os.replace(partial, path)
    return path


def binary_version(etcd_binary):
    result = subprocess.run([etcd_binary, "--version"], check=True, capture_output=True, text=True)
    return parse_version(result.stdout)


def repack(debs, out_dir, work_dir):
    """Repack etcd's binaries from the .deb files into out_dir; return (name, sha256, version).

    work_dir is emptied and used to unpack the packages.
    """
    shutil.rmtree(work_dir, ignore_errors=True)
    root = os.path.join(work_dir, "root")
    os.makedirs(root)
    os.makedirs(out_dir, exist_ok=True)
    binaries = extract_debs(debs, root)
    version = binary_version(binaries["etcd"])
    path = write_archive(binaries, version, out_dir)
    return os.path.basename(path), sha256_file(path), version


def apt_download_host(packages, dest):
    """Download packages with the host's own apt sources (`apt-get download`); return the .deb paths."""
    os.makedirs(dest, exist_ok=True)
    subprocess.run(["apt-get", "download"] + list(packages), cwd=dest, check=True, stdout=subprocess.DEVNULL)
    return sorted(glob.glob(os.path.join(dest, "*.deb")))


def apt_options(state_dir, suite, mirror=DEFAULT_MIRROR, arch="amd64"):
    """apt options for a private configuration under state_dir that reads only `deb MIRROR SUITE main`."""
    sources = os.path.join(state_dir, "sources.list")
    return {
        "sources": sources,
        "line": "deb %s %s main\n" % (mirror, suite),
        "options": ["-o", "Dir::Etc::SourceList=" + sources, "-o", "Dir::Etc::SourceParts=/dev/null",
                    "-o", "Dir::State::Lists=" + os.path.join(state_dir, "lists"),
                    "-o", "Dir::Cache=" + os.path.join(state_dir, "cache"),
                    "-o", "Dir::State::status=" + os.path.join(state_dir, "status"),
                    "-o", "APT::Architecture=" + arch, "-o", "APT::Architectures=" + arch,
                    # The downloads land in a directory of the invoking user, which apt's sandbox user cannot write.
                    "-o", "APT::Sandbox::User=root"],
    }


def apt_download_suite(packages, dest, suite, mirror=DEFAULT_MIRROR, arch="amd64"):
    """Download packages of another Debian suite with apt and a private configuration; return the .deb paths.

    apt checks the suite's signed Release file against the host's Debian archive
    keyring and each package against the hashes it lists. Nothing of the host's
    own apt configuration or state is changed.
    """
    state = os.path.join(os.path.dirname(os.path.abspath(dest)), "apt-" + suite)
    config = apt_options(state, suite, mirror, arch)
    for sub in ("lists/partial", "cache/archives/partial"):
        os.makedirs(os.path.join(state, sub), exist_ok=True)
    with open(config["sources"], "w") as handle:
        handle.write(config["line"])
    open(os.path.join(state, "status"), "a").close()
    try:
        subprocess.run(["apt-get", "-q"] + config["options"] + ["update"], check=True, stdout=subprocess.DEVNULL)
        partial = dest + ".partial"
        shutil.rmtree(partial, ignore_errors=True)
        os.makedirs(partial)
        subprocess.run(["apt-get", "-q"] + config["options"] + ["download"] + list(packages), cwd=partial, check=True,
                       stdout=subprocess.DEVNULL)
    except subprocess.CalledProcessError as exc:
        raise ArchiveError("apt could not download %s from %s %s: %s" % (" ".join(packages), mirror, suite, exc))
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(partial, dest)
    # The suite's package lists are only needed for this download.
    shutil.rmtree(state, ignore_errors=True)
    return sorted(glob.glob(os.path.join(dest, "*.deb")))


def cached_debs(debs_dir, packages=PACKAGES):
    """The cached .deb of each package, or None unless every package has exactly one."""
    found = []
    for package in packages:
        matches = glob.glob(os.path.join(debs_dir, "%s_*.deb" % package))
        if len(matches) != 1:
            return None
        found.append(matches[0])
    return sorted(found)


def build(cache, suite=None, mirror=DEFAULT_MIRROR):
    """The release archive of the suite's etcd (the host's own release without a suite), cached under cache.

    Returns {name, path, sha256, version, debs, downloaded}.
    """
    debs_dir = os.path.join(cache, "debs")
    out_dir = os.path.join(cache, "mirror")
    debs = cached_debs(debs_dir)
    downloaded = debs is None
    if downloaded:
        if suite:
            debs = apt_download_suite(PACKAGES, debs_dir, suite, mirror)
        else:
            shutil.rmtree(debs_dir, ignore_errors=True)
            debs = apt_download_host(PACKAGES, debs_dir)
        if cached_debs(debs_dir) is None:
            raise ArchiveError("apt did not leave one .deb of each of %s in %s" % (", ".join(PACKAGES), debs_dir))
    stamp = os.path.join(cache, "archive.json")
    inputs = [os.path.basename(d) for d in debs]
    if os.path.exists(stamp):
        with open(stamp) as handle:
            known = json.load(handle)
        if known.get("debs") == inputs and os.path.exists(known.get("path", "")) and sha256_file(known["path"]) == known.get("sha256"):
            return dict(known, downloaded=downloaded)
    name, sha256, version = repack(debs, out_dir, os.path.join(cache, "work"))
    shutil.rmtree(os.path.join(cache, "work"), ignore_errors=True)
    result = {"name": name, "path": os.path.join(out_dir, name), "sha256": sha256, "version": version, "debs": inputs}
    with open(stamp, "w") as handle:
        json.dump(result, handle, indent=1)
    return dict(result, downloaded=downloaded)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--cache", required=True, help="directory for the downloaded packages and the archive")
    parser.add_argument("--suite", help="Debian suite to take etcd from (default: the host's own apt sources)")
    parser.add_argument("--mirror", default=DEFAULT_MIRROR, help="Debian mirror for --suite")
    parser.add_argument("--expect-version", help="fail unless etcd's version starts with this (e.g. 3.5.)")
    opts = parser.parse_args(argv)
    try:
        result = build(os.path.abspath(opts.cache), opts.suite, opts.mirror)
    except (ArchiveError, subprocess.CalledProcessError, OSError) as exc:
        sys.stderr.write("etcd_archive: %s\n" % exc)
        return 1
    if opts.expect_version and not result["version"].startswith(opts.expect_version):
        sys.stderr.write("etcd_archive: %s holds etcd %s, not %s*\n" % (", ".join(result["debs"]), result["version"],
                                                                        opts.expect_version))
        return 1
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
