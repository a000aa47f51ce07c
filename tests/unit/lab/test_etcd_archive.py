"""Unit tests of lab/etcd_archive.py: the etcd release archive repacked from Debian's etcd packages.

The packages here are tiny .deb files built with dpkg-deb from shell scripts that print what
`etcd --version` prints (the tests skip without dpkg-deb); apt is never called.
"""
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from lab import etcd_archive as ea  # noqa: E402  pylint: disable=wrong-import-position

needs_dpkg = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb is not installed")


def make_deb(where, package, version, binaries):
    """A .deb named like Debian's, holding /usr/bin/<name> scripts (etcd prints `etcd Version: <upstream>`)."""
    tree = os.path.join(where, "tree-" + package)
    os.makedirs(os.path.join(tree, "DEBIAN"))
    os.makedirs(os.path.join(tree, "usr", "bin"))
    with open(os.path.join(tree, "DEBIAN", "control"), "w") as handle:
        handle.write("Package: %s\nVersion: %s\nArchitecture: amd64\nMaintainer: t <t@example.org>\nDescription: test\n"
                     % (package, version))
    upstream = version.split("-")[0]
    for name in binaries:
        path = os.path.join(tree, "usr", "bin", name)
        with open(path, "w") as handle:
            handle.write("#!/bin/sh\necho 'etcd Version: %s'\necho 'Git SHA: Not provided'\n" % upstream if name == "etcd"
                         else "#!/bin/sh\necho %s\n" % name)
        os.chmod(path, 0o755)
    deb = os.path.join(where, "%s_%s_amd64.deb" % (package, version))
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", tree, deb], check=True, stdout=subprocess.DEVNULL)
    shutil.rmtree(tree)
    return deb


def debs_35(where):
    return [make_deb(where, "etcd-server", "3.5.16-4", ["etcd", "etcdutl"]),
            make_deb(where, "etcd-client", "3.5.16-4", ["etcdctl"])]


def test_parse_version():
    assert ea.parse_version("etcd Version: 3.5.16\nGit SHA: x\n") == "3.5.16"
    with pytest.raises(ea.ArchiveError, match="did not print a version"):
        ea.parse_version("something else")


def test_archive_name():
    assert ea.archive_name("3.5.16") == "etcd-v3.5.16-linux-amd64.tar.gz"


def test_write_archive_is_deterministic_and_upstream_shaped(tmp_path):
    binaries = {}
    for name in ("etcdctl", "etcd"):
        path = tmp_path / name
        path.write_bytes(b"binary " + name.encode())
        binaries[name] = str(path)
    os.makedirs(tmp_path / "a")
    os.makedirs(tmp_path / "b")
    first = ea.write_archive(binaries, "3.5.16", str(tmp_path / "a"))
    second = ea.write_archive(binaries, "3.5.16", str(tmp_path / "b"))
    assert os.path.basename(first) == "etcd-v3.5.16-linux-amd64.tar.gz"
    assert ea.sha256_file(first) == ea.sha256_file(second)
    with open(first, "rb") as handle:
        header = handle.read(10)
    assert header[4:8] == b"\x00\x00\x00\x00"  # gzip mtime 0
    with tarfile.open(first) as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == ["etcd-v3.5.16-linux-amd64", "etcd-v3.5.16-linux-amd64/etcd",
                                             "etcd-v3.5.16-linux-amd64/etcdctl"]
        assert all(m.uid == 0 and m.gid == 0 and m.mtime == 0 and m.mode == 0o755 for m in members)
        assert tar.extractfile("etcd-v3.5.16-linux-amd64/etcd").read() == b"binary etcd"
    assert not os.path.exists(first + ".partial")


@needs_dpkg
def test_repack_takes_etcdutl_when_the_release_has_it(tmp_path):
    debs = debs_35(str(tmp_path))
    name, sha256, version = ea.repack(debs, str(tmp_path / "mirror"), str(tmp_path / "work"))
    assert (name, version) == ("etcd-v3.5.16-linux-amd64.tar.gz", "3.5.16")
    path = tmp_path / "mirror" / name
    assert sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    with tarfile.open(str(path)) as tar:
        assert sorted(tar.getnames()) == ["etcd-v3.5.16-linux-amd64", "etcd-v3.5.16-linux-amd64/etcd",
                                          "etcd-v3.5.16-linux-amd64/etcdctl", "etcd-v3.5.16-linux-amd64/etcdutl"]
    # The same packages give the same archive, byte for byte.
    again = ea.repack(debs, str(tmp_path / "mirror2"), str(tmp_path / "work"))
    assert again == (name, sha256, version)


@needs_dpkg
def test_repack_of_34_has_no_etcdutl(tmp_path):
    debs = [make_deb(str(tmp_path), "etcd-server", "3.4.23-4+b6", ["etcd"]),
            make_deb(str(tmp_path), "etcd-client", "3.4.23-4+b6", ["etcdctl"])]
    name, _sha256, version = ea.repack(debs, str(tmp_path / "mirror"), str(tmp_path / "work"))
    assert (name, version) == ("etcd-v3.4.23-linux-amd64.tar.gz", "3.4.23")
    with tarfile.open(str(tmp_path / "mirror" / name)) as tar:
        assert "etcd-v3.4.23-linux-amd64/etcdutl" not in tar.getnames()


@needs_dpkg
def test_repack_refuses_packages_without_etcdctl(tmp_path):
    debs = [make_deb(str(tmp_path), "etcd-server", "3.5.16-4", ["etcd"])]
    with pytest.raises(ea.ArchiveError, match="hold no etcdctl"):
        ea.repack(debs, str(tmp_path / "mirror"), str(tmp_path / "work"))


def test_repack_refuses_no_packages(tmp_path):
    with pytest.raises(ea.ArchiveError, match="no .deb files"):
        ea.repack([], str(tmp_path / "mirror"), str(tmp_path / "work"))


def test_apt_options_are_private(tmp_path):
    config = ea.apt_options(str(tmp_path), "trixie")
    assert config["line"] == "deb http://deb.debian.org/debian trixie main\n"
    options = dict(o.split("=", 1) for o in config["options"] if o != "-o")
    assert options["Dir::Etc::SourceList"] == str(tmp_path / "sources.list")
    assert options["Dir::Etc::SourceParts"] == "/dev/null"
    assert options["Dir::State::Lists"].startswith(str(tmp_path))
    assert options["Dir::Cache"].startswith(str(tmp_path))
    assert options["Dir::State::status"].startswith(str(tmp_path))


@needs_dpkg
def test_build_uses_the_cached_packages_and_archive(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    os.makedirs(cache / "debs")
    debs_35(str(cache / "debs"))

    def no_download(*_args, **_kwargs):
        raise AssertionError("the cached packages must be used")

    monkeypatch.setattr(ea, "apt_download_suite", no_download)
    monkeypatch.setattr(ea, "apt_download_host", no_download)
    first = ea.build(str(cache), "trixie")
    assert first["downloaded"] is False and first["version"] == "3.5.16"
    assert first["debs"] == ["etcd-client_3.5.16-4_amd64.deb", "etcd-server_3.5.16-4_amd64.deb"]
    with open(cache / "archive.json") as handle:
        assert json.load(handle)["sha256"] == first["sha256"]
    # A second build reuses the archive (no repack).
    monkeypatch.setattr(ea, "repack", no_download)
    assert ea.build(str(cache), "trixie")["sha256"] == first["sha256"]


@needs_dpkg
def test_build_repacks_a_tampered_archive(tmp_path):
    cache = tmp_path / "cache"
    os.makedirs(cache / "debs")
    debs_35(str(cache / "debs"))
    first = ea.build(str(cache), "trixie")
    with open(first["path"], "ab") as handle:
        handle.write(b"x")
    again = ea.build(str(cache), "trixie")
    assert again["sha256"] == first["sha256"] == ea.sha256_file(again["path"])


@needs_dpkg
def test_build_downloads_when_the_cache_is_empty(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    calls = []

    def fake_download(packages, dest, suite, mirror=ea.DEFAULT_MIRROR):
        calls.append((tuple(packages), suite, mirror))
        os.makedirs(dest, exist_ok=True)
        return debs_35(dest)

    monkeypatch.setattr(ea, "apt_download_suite", fake_download)
    result = ea.build(str(cache), "trixie")
    assert result["downloaded"] is True
    assert calls == [(("etcd-server", "etcd-client"), "trixie", ea.DEFAULT_MIRROR)]


@needs_dpkg
def test_main_checks_the_version(tmp_path, capsys):
    cache = tmp_path / "cache"
    os.makedirs(cache / "debs")
    debs_35(str(cache / "debs"))
    assert ea.main(["--cache", str(cache), "--suite", "trixie", "--expect-version", "3.5."]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["name"] == "etcd-v3.5.16-linux-amd64.tar.gz"
    assert ea.main(["--cache", str(cache), "--suite", "trixie", "--expect-version", "3.6."]) == 1
    assert "holds etcd 3.5.16, not 3.6.*" in capsys.readouterr().err


def test_bench_uses_the_shared_repack(monkeypatch):
    sys.path.insert(0, os.path.join(ROOT, "lab"))
    try:
        import bench  # noqa: E402  pylint: disable=import-outside-toplevel
    finally:
        sys.path.remove(os.path.join(ROOT, "lab"))
    seen = []

    def fake_build(cache, suite=None, mirror=ea.DEFAULT_MIRROR):
        seen.append((cache, suite))
        return {"name": "etcd-v3.4.23-linux-amd64.tar.gz", "sha256": "ab" * 32}

    monkeypatch.setattr(bench, "etcd_archive_build", fake_build)
    assert bench.etcd_archive() == ("etcd-v3.4.23-linux-amd64.tar.gz", "ab" * 32)
    # The host's own release (bookworm's 3.4), cached where bench always kept it.
    assert seen == [(bench.BENCH, None)]


def test_gzip_member_has_no_name(tmp_path):
    path = ea.write_archive({"etcd": __file__, "etcdctl": __file__}, "0.0.1", str(tmp_path))
    with open(path, "rb") as handle:
        flags = handle.read(4)[3]
    assert flags & 0x08 == 0  # FNAME not set
    with gzip.open(path) as handle:
        assert handle.read(1)
