"""The ssh scenario: the site converged by an unprivileged controller user over SSH.

Real nodes (Debian 12 containers with systemd and sshd), real SSH as the user ops with
sudo, a real etcd 3.4 cluster and containerd from Debian's packages. No stand-ins.
The node checks run as root through the harness's docker connection; the controller
checks read the controller user's HOME on this machine.
"""
import json
import os
import pwd
import stat

import pytest

CTL_USER = "ironstone-ctl"
CTL_HOME = "/home/ironstone-ctl"
PKI_DIR = os.path.join(CTL_HOME, ".ironstone", "pki", "molecule-ssh")
NODES = {"s1": "172.30.80.11", "s2": "172.30.80.12", "s3": "172.30.80.13"}
ETCDCTL = ". /etc/etcd/etcdctl.env && etcdctl"


def _tree(path):
    yield path
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            yield os.path.join(root, name)


def test_everything_in_the_controller_users_home_belongs_to_it():
    uid = pwd.getpwnam(CTL_USER).pw_uid
    foreign = [p for p in _tree(CTL_HOME) if os.lstat(p).st_uid != uid]
    assert foreign == [], "not owned by %s: %s" % (CTL_USER, foreign)


def test_the_pki_dir_and_its_files_belong_to_the_controller_user():
    uid = pwd.getpwnam(CTL_USER).pw_uid
    paths = list(_tree(PKI_DIR))
    assert os.path.isfile(os.path.join(PKI_DIR, "ca.key")), "no CA key under %s: %s" % (PKI_DIR, paths)
    assert len(paths) > 10, paths
    assert [p for p in paths if os.lstat(p).st_uid != uid] == []


def test_the_keys_on_the_controller_are_0600():
    keys = [p for p in _tree(PKI_DIR) if p.endswith(".key")]
    # The CA, and per member a server and a peer key, plus the client keys.
    assert len(keys) >= 1 + 2 * len(NODES), keys
    loose = {p: oct(stat.S_IMODE(os.lstat(p).st_mode)) for p in keys if stat.S_IMODE(os.lstat(p).st_mode) != 0o600}
    assert loose == {}


def test_the_site_logged_in_as_ops_with_its_key_and_never_as_root(host):
    log = host.check_output("journalctl -u ssh --no-pager -o cat")
    assert "Accepted publickey for ops from" in log, log[-2000:]
    assert "for root from" not in log


@pytest.mark.parametrize("path,owner", [
    ("/etc/kubernetes/pki/etcd/server.key", "etcd"),
    ("/etc/kubernetes/pki/etcd/peer.key", "etcd"),
    ("/etc/kubernetes/pki/apiserver-etcd-client.key", "root"),
])
def test_the_keys_on_the_node_have_the_owners_only_root_can_give(host, path, owner):
    """ops could not have written them so: the stage plays became root on the node."""
    f = host.file(path)
    assert (f.user, f.mode) == (owner, 0o600)


def test_etcd_is_healthy_with_three_voting_members(host):
    health = json.loads(host.check_output(ETCDCTL + " endpoint health --cluster -w json"))
    assert sorted(h["endpoint"] for h in health) == sorted("https://%s:2379" % a for a in NODES.values())
    assert all(h["health"] for h in health), health
    members = json.loads(host.check_output(ETCDCTL + " member list -w json"))["members"]
    assert sorted(m["name"] for m in members) == sorted(NODES)
    assert not any(m.get("isLearner") for m in members)


def test_containerd_runs(host):
    assert host.service("containerd").is_running


@pytest.mark.parametrize("node", ["s1"])
def test_the_loop_disk_is_a_mounted_local_volume(host, node):
    if host.backend.get_hostname().rsplit("-", 1)[-1] != node:
        pytest.skip("only %s has a loop disk" % node)
    mounts = host.check_output("findmnt -rn -o TARGET,FSTYPE")
    assert any(line.startswith("/mnt/fast-disks/") for line in mounts.splitlines()), mounts
