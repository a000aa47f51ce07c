"""Harness checks on real lab node containers (no stand-ins)."""
import pytest

NODES = ["n1", "n2"]


def test_systemd_is_running(host):
    state = host.run("systemctl is-system-running --wait").stdout.strip()
    assert state in ("running", "degraded"), host.run("systemctl --failed --no-legend").stdout


def test_pid1_is_systemd(host):
    assert host.file("/proc/1/comm").content_string.strip() == "systemd"


@pytest.mark.parametrize("peer", NODES)
def test_nodes_reach_each_other_by_name(host, peer):
    resolved = host.run("getent hosts %s", peer)
    assert resolved.rc == 0, "%s does not resolve" % peer
    assert host.run("ping -c1 -W2 %s", peer).rc == 0


def test_hostname_module_works_through_dbus(host):
    assert host.run("hostnamectl --static").stdout.strip() in NODES
