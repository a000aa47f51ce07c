"""Unit tests of the crictl STAND-IN (lab/standin/crictl.py) on recorded `ctr` output."""
import json
import os
import socket
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from lab.standin import crictl  # noqa: E402  pylint: disable=wrong-import-position
from lab.standin.version import minor  # noqa: E402  pylint: disable=wrong-import-position

# Recorded from Debian bookworm's containerd 1.6.20~ds1 (`ctr plugins ls`, shortened); ctr's tabwriter pads
# every cell, the last one included, so the lines end in spaces.
PLUGIN_ROWS = [("TYPE", "ID", "PLATFORMS", "STATUS"),
               ("io.containerd.content.v1", "content", "-", "ok"),
               ("io.containerd.snapshotter.v1", "aufs", "linux/amd64", "skip"),
               ("io.containerd.snapshotter.v1", "devmapper", "linux/amd64", "error"),
               ("io.containerd.snapshotter.v1", "overlayfs", "linux/amd64", "ok"),
               ("io.containerd.grpc.v1", "version", "-", "ok"),
               ("io.containerd.grpc.v1", "cri", "linux/amd64", "ok")]
PLUGINS_OK = "".join("%-32s%-25s%-15s%-10s\n" % row for row in PLUGIN_ROWS)
PLUGINS_CRI_ERROR = "".join("%-32s%-25s%-15s%-10s\n" % (row[:3] + ("error",) if row[1] == "cri" else row) for row in PLUGIN_ROWS)
# containerd configured with disabled_plugins = ["cri"] (Docker's default): no cri line at all.
PLUGINS_NO_CRI = "".join(line + "\n" for line in PLUGINS_OK.splitlines() if " cri " not in line)
VERSION = """\
Client:
  Version:  1.6.20~ds1
  Revision: 1.6.20~ds1-1+deb12u3
  Go version: go1.19.8

Server:
  Version:  1.6.20~ds1
  Revision: 1.6.20~ds1-1+deb12u3
  UUID: cb9c82dd-7712-4ab7-b509-9d773cc2a74f
"""
PAUSE_DIGEST = "sha256:ee6521f290b2168b6e0935a181d4cff9be1ac3f505666ef0e3c98fae8199917a"
PAUSE_ID = "sha256:873ed75102791e5b0b8a7fcd41606c92fcec98d56d05ead4ac5131650004c136"
LIST_TYPE = "application/vnd.docker.distribution.manifest.list.v2+json"
PLATFORMS = "linux/amd64,linux/arm/v7,linux/arm64,linux/ppc64le,linux/s390x,windows/amd64"
IMAGES = "".join("%-104s%-58s%-72s%-10s%-77s%-32s\n" % row for row in [
    ("REF", "TYPE", "DIGEST", "SIZE", "PLATFORMS", "LABELS"),
    ("registry.k8s.io/pause:3.10", LIST_TYPE, PAUSE_DIGEST, "314.0 KiB", PLATFORMS, "io.cri-containerd.image=managed"),
    ("registry.k8s.io/pause@" + PAUSE_DIGEST, LIST_TYPE, PAUSE_DIGEST, "314.0 KiB", PLATFORMS, "io.cri-containerd.image=managed"),
    (PAUSE_ID, LIST_TYPE, PAUSE_DIGEST, "314.0 KiB", PLATFORMS, "io.cri-containerd.image=managed"),
])


@pytest.fixture(name="root")
def fixture_root(tmp_path, monkeypatch):
    monkeypatch.setenv("IRONSTONE_STANDIN_ROOT", str(tmp_path))
    monkeypatch.delenv("CONTAINER_RUNTIME_ENDPOINT", raising=False)
    sock_dir = tmp_path / "run" / "containerd"
    sock_dir.mkdir(parents=True)
    sock = socket.socket(socket.AF_UNIX)  # pylint: disable=consider-using-with
    sock.bind(str(sock_dir / "containerd.sock"))
    yield tmp_path
    sock.close()


def fake_ctr(plugins=PLUGINS_OK, calls=None):
    def ctr(args, timeout=10.0):
        if calls is not None:
            calls.append(args)
        sub = [a for a in args if not a.startswith("-")]
        if "plugins" in args:
            return 0, plugins, ""
        if "version" in args:
            return 0, VERSION, ""
        if sub[-2:] == ["images", "ls"]:
            return 0, IMAGES, ""
        if "containers" in args:
            return 0, "CONTAINER    IMAGE    RUNTIME    \n", ""
        if "tasks" in args:
            return 0, "TASK    PID    STATUS    \n", ""
        return 1, "", "unexpected"
    return ctr


def test_parse_plugins_columns():
    rows = crictl.parse_plugins(PLUGINS_OK)
    assert {"type": "io.containerd.grpc.v1", "id": "cri", "platforms": "linux/amd64", "status": "ok"} in rows
    assert rows[0] == {"type": "io.containerd.content.v1", "id": "content", "platforms": "-", "status": "ok"}
    assert len(rows) == 6


def test_parse_version_takes_the_server_section():
    assert crictl.parse_version(VERSION) == "1.6.20~ds1"
    assert crictl.parse_version(VERSION.split("Server:", maxsplit=1)[0]) is None


def test_endpoint_resolution_order(root, monkeypatch):
    warnings = []
    assert crictl.resolve_endpoint(None, warn=warnings.append) == ("unix:///run/containerd/containerd.sock", True)
    assert "default endpoints" in warnings[0]
    (root / "etc").mkdir()
    (root / "etc" / "crictl.yaml").write_text("runtime-endpoint: unix:///run/other.sock\ntimeout: 10\n")
    assert crictl.resolve_endpoint(None) == ("unix:///run/other.sock", False)
    monkeypatch.setenv("CONTAINER_RUNTIME_ENDPOINT", "unix:///env.sock")
    assert crictl.resolve_endpoint(None)[0] == "unix:///env.sock"
    assert crictl.resolve_endpoint("unix:///flag.sock")[0] == "unix:///flag.sock"


def test_info_ready_runtime_and_cni_from_directory(root, capsys):
    assert crictl.main(["-r", "unix:///run/containerd/containerd.sock", "info"], ctr=fake_ctr()) == 0
    doc = json.loads(capsys.readouterr().out)
    conds = {c["type"]: c for c in doc["status"]["conditions"]}
    assert conds["RuntimeReady"]["status"] is True
    assert conds["NetworkReady"]["status"] is False
    assert conds["NetworkReady"]["reason"] == "NetworkPluginNotReady"
    assert conds["NetworkReady"]["message"] == "Network plugin returns error: cni plugin not initialized"
    (root / "etc" / "cni" / "net.d").mkdir(parents=True)
    (root / "etc" / "cni" / "net.d" / "10-flannel.conflist").write_text("{}")
    assert crictl.main(["--runtime-endpoint=unix:///run/containerd/containerd.sock", "info"], ctr=fake_ctr()) == 0
    conds = {c["type"]: c for c in json.loads(capsys.readouterr().out)["status"]["conditions"]}
    assert conds["NetworkReady"]["status"] is True


@pytest.mark.parametrize("plugins", [PLUGINS_CRI_ERROR, PLUGINS_NO_CRI])
def test_info_fails_without_a_working_cri_plugin(root, capsys, plugins):
    assert crictl.main(["-r", "unix:///run/containerd/containerd.sock", "info"], ctr=fake_ctr(plugins)) == 1
    err = capsys.readouterr().err
    assert "level=fatal" in err and "unknown service runtime.v1.RuntimeService" in err


def test_info_fails_like_the_real_one_when_the_socket_is_missing(root, capsys):
    calls = []
    assert crictl.main(["-r", "unix:///run/missing.sock", "info"], ctr=fake_ctr(calls=calls)) == 1
    err = capsys.readouterr().err
    assert ('validate service connection: validate CRI v1 runtime API for endpoint \\"unix:///run/missing.sock\\": '
            "rpc error: code = Unavailable desc = connection error") in err
    assert "connect: no such file or directory" in err
    assert not calls


def test_info_when_ctr_cannot_connect(root, capsys):
    def refused(args, timeout=10.0):
        return 1, "", ('ctr: failed to dial "/x": connection error: desc = "transport: error while dialing: '
                       'dial unix /run/containerd/containerd.sock: connect: connection refused"\n')
    assert crictl.main(["-r", "unix:///run/containerd/containerd.sock", "info"], ctr=refused) == 1
    assert "dial unix /run/containerd/containerd.sock: connect: connection refused" in capsys.readouterr().err


def test_version_passes_through_the_server_version(root, capsys):
    calls = []
    assert crictl.main(["-r", "unix:///run/containerd/containerd.sock", "version"], ctr=fake_ctr(calls=calls)) == 0
    assert capsys.readouterr().out == ("Version:  0.1.0\nRuntimeName:  containerd\nRuntimeVersion:  1.6.20~ds1\n"
                                       "RuntimeApiVersion:  v1\n")
    assert calls[0][:2] == ["--address", str(root / "run" / "containerd" / "containerd.sock")]


def test_images_groups_refs_by_image_id(root, capsys):
    assert crictl.main(["-r", "unix:///run/containerd/containerd.sock", "images"], ctr=fake_ctr()) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["IMAGE", "TAG", "IMAGE", "ID", "SIZE"]
    assert lines[1].split() == ["registry.k8s.io/pause", "3.10", "873ed75102791", "321.5kB"]
    assert len(lines) == 2


def test_ps_and_pods_print_headers(root, capsys):
    assert crictl.main(["-r", "unix:///run/containerd/containerd.sock", "ps", "-a"], ctr=fake_ctr()) == 0
    assert capsys.readouterr().out.split() == ["CONTAINER", "IMAGE", "CREATED", "STATE", "NAME", "ATTEMPT", "POD", "ID", "POD"]
    assert crictl.main(["-r", "unix:///run/containerd/containerd.sock", "pods"], ctr=fake_ctr()) == 0
    assert capsys.readouterr().out.split()[:3] == ["POD", "ID", "CREATED"]


def test_version_flag_and_unimplemented(root, capsys):
    assert crictl.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("crictl version v1.%d.0 STAND-IN" % minor())
    assert crictl.main(["-r", "unix:///run/containerd/containerd.sock", "exec", "x"], ctr=fake_ctr()) == 1
    assert "not implemented by the stand-in" in capsys.readouterr().err
    assert crictl.main(["--bogus", "info"]) == 1
    assert "not implemented by the stand-in" in capsys.readouterr().err
