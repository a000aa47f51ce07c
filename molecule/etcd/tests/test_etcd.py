"""The etcd cluster of the Molecule scenario `etcd`, checked on real lab nodes.

Real etcd 3.4 from Debian 12 (the etcd-server package on e1; on e2 and e3 a release
archive repacked from the same distribution binaries), real TLS, real systemd.
No stand-ins. e4 was added as a 4th member and removed again by the side effect.
"""
import json
import os
import uuid

import pytest
import yaml

MEMBERS = {
    "e1": "172.30.40.11",
    "e2": "172.30.40.12",
    "e3": "172.30.40.13",
}
PKI = "/etc/kubernetes/pki"
ENV = ". /etc/etcd/etcdctl.env && "
CLIENT = "--cacert %s/etcd/ca.crt --cert %s/etcd/healthcheck-client.crt --key %s/etcd/healthcheck-client.key" % (PKI, PKI, PKI)


def short_name(host):
    return host.backend.get_hostname().rsplit("-", 1)[-1]


@pytest.fixture
def member(host):
    """The short name of a cluster member (the spare node e4 is skipped)."""
    name = short_name(host)
    if name not in MEMBERS:
        pytest.skip("%s is not an etcd member" % name)
    return name


def test_endpoint_health_cluster_shows_three_healthy_members(host, member):
    out = host.check_output(ENV + "etcdctl endpoint health --cluster -w json")
    health = json.loads(out)
    assert sorted(h["endpoint"] for h in health) == sorted("https://%s:2379" % a for a in MEMBERS.values())
    assert all(h["health"] for h in health), out


def test_three_voting_members_and_no_learner(host, member):
    members = json.loads(host.check_output(ENV + "etcdctl member list -w json"))["members"]
    assert sorted(m["name"] for m in members) == ["ironstone-mol-etcd-%s" % n for n in sorted(MEMBERS)]
    assert not any(m.get("isLearner") for m in members)


def test_a_key_put_through_this_member_reads_back_through_the_other_two(host, member):
    key = "/ironstone/verify/%s" % member
    value = uuid.uuid4().hex
    host.check_output(ENV + "etcdctl --endpoints https://%s:2379 put %s %s", MEMBERS[member], key, value)
    for other, address in MEMBERS.items():
        if other == member:
            continue
        got = host.check_output(ENV + "etcdctl --endpoints https://%s:2379 get --print-value-only %s", address, key)
        assert got.strip() == value, "read %r through %s" % (got, other)


def test_a_client_without_certificate_is_refused(host, member):
    url = "https://%s:2379/version" % MEMBERS[member]
    with_cert = host.run("curl -sS --max-time 5 %s %s" % (CLIENT, url))
    assert with_cert.rc == 0 and "etcdserver" in with_cert.stdout, with_cert.stderr
    without = host.run("curl -sS --max-time 5 --cacert %s/etcd/ca.crt %s" % (PKI, url))
    assert without.rc != 0, without.stdout
    assert "etcdserver" not in without.stdout


@pytest.mark.parametrize("port", [2379, 2380])
def test_plaintext_http_is_refused(host, member, port):
    answer = host.run("curl -s --max-time 5 -o /dev/stdout -w '\\n%%{http_code}' http://%s:%d/version" % (MEMBERS[member], port))
    body, _sep, code = answer.stdout.rpartition("\n")
    assert "etcdserver" not in body and "etcdcluster" not in body
    assert code != "200", answer.stdout


def test_tls_below_1_2_is_refused_and_tls_1_2_works(host, member):
    target = "%s:2379" % MEMBERS[member]
    tls11 = host.run("openssl s_client -connect %s -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' %s </dev/null" % (
        target, CLIENT.replace("--cacert", "-CAfile").replace("--cert", "-cert").replace("--key", "-key")))
    assert tls11.rc != 0
    assert "protocol version" in tls11.stdout + tls11.stderr, tls11.stdout + tls11.stderr
    tls12 = host.run("openssl s_client -connect %s -tls1_2 %s </dev/null" % (
        target, CLIENT.replace("--cacert", "-CAfile").replace("--cert", "-cert").replace("--key", "-key")))
    assert "Protocol  : TLSv1.2" in tls12.stdout, tls12.stdout + tls12.stderr
    assert "Cipher    : ECDHE-ECDSA-AES128-GCM-SHA256" in tls12.stdout


def test_a_cbc_cipher_outside_the_list_is_refused(host, member):
    result = host.run("openssl s_client -connect %s:2379 -tls1_2 -cipher ECDHE-ECDSA-AES128-SHA </dev/null" % MEMBERS[member])
    assert result.rc != 0
    assert "Cipher is (NONE)" in result.stdout or "handshake failure" in result.stdout + result.stderr


@pytest.mark.parametrize("name", ["server.key", "peer.key", "healthcheck-client.key"])
def test_member_key_files_are_0600_and_owned_by_etcd(host, member, name):
    key = host.file("%s/etcd/%s" % (PKI, name))
    assert key.exists
    assert key.mode == 0o600
    assert key.user == "etcd"


def test_apiserver_client_key_is_0600_and_owned_by_root(host):
    """Every control-plane node has it, also e4, which was outside the etcd group at converge."""
    key = host.file("%s/apiserver-etcd-client.key" % PKI)
    assert key.mode == 0o600
    assert key.user == "root"
    assert host.file("%s/apiserver-etcd-client.crt" % PKI).exists
    assert host.file("%s/etcd/ca.crt" % PKI).exists


def test_no_ca_key_on_any_node(host):
    ca_key = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "pki", "ca.key")
    with open(ca_key) as handle:
        lines = [line.strip() for line in handle if line.strip() and not line.startswith("-----")]
    assert lines, "the CA key on the controller is empty"
    assert host.run("find / -xdev -name 'ca.key' -print -quit").stdout.strip() == ""
    found = host.run("grep -rlF -e %s /etc /root /var /opt /srv /home /usr/local /tmp", lines[0])
    assert found.rc == 1, "the CA key is on the node: %s" % found.stdout


def test_data_dir_is_0700_and_owned_by_etcd(host, member):
    data = host.file("/var/lib/etcd")
    assert data.mode == 0o700
    assert data.user == "etcd"
    assert host.file("/var/lib/etcd/member/snap/db").exists
    assert not host.file("/var/lib/etcd/default").exists


def test_listens_on_its_address_and_loopback_and_metrics_only_on_loopback(host, member):
    listening = host.check_output("ss -ltnH").split("\n")
    local = set(line.split()[3] for line in listening if line.strip())
    address = MEMBERS[member]
    assert {"%s:2379" % address, "127.0.0.1:2379", "%s:2380" % address, "127.0.0.1:2381"} <= local
    assert not [sock for sock in local if sock.endswith(":2381") and sock != "127.0.0.1:2381"]
    metrics = host.check_output("curl -s --max-time 5 http://127.0.0.1:2381/metrics")
    assert "etcd_server_has_leader 1" in metrics


def test_systemd_unit_is_hardened_and_runs_as_etcd(host, member):
    show = host.check_output("systemctl show etcd -p User -p NoNewPrivileges -p ProtectSystem -p ProtectHome "
                             "-p PrivateTmp -p CapabilityBoundingSet -p ActiveState -p UnitFileState -p FragmentPath")
    props = dict(line.split("=", 1) for line in show.splitlines())
    assert props["ActiveState"] == "active"
    assert props["UnitFileState"] == "enabled"
    assert props["FragmentPath"] == "/etc/systemd/system/etcd.service"
    assert props["User"] == "etcd"
    assert props["NoNewPrivileges"] == "yes"
    assert props["ProtectSystem"] == "strict"
    assert props["ProtectHome"] == "yes"
    assert props["PrivateTmp"] == "yes"
    assert props["CapabilityBoundingSet"] == ""
    assert host.check_output("ps -o user= -C etcd").strip() == "etcd"


def test_config_file_has_tls_and_tunables(host, member):
    config = yaml.safe_load(host.file("/etc/etcd/etcd.conf.yml").content_string)
    for side in ("client-transport-security", "peer-transport-security"):
        assert config[side]["client-cert-auth"] is True
        assert config[side]["trusted-ca-file"] == "%s/etcd/ca.crt" % PKI
    assert config["listen-metrics-urls"] == "http://127.0.0.1:2381"
    assert config["cipher-suites"] and all(s.startswith("TLS_ECDHE_") for s in config["cipher-suites"])
    assert config["tls-min-version"] == "TLS1.2"
    for key in ("heartbeat-interval", "election-timeout", "quota-backend-bytes", "snapshot-count", "auto-compaction-retention"):
        assert key in config
    assert host.file("/etc/etcd/etcd.conf.yml").mode == 0o640


def test_install_source_of_each_member(host, member):
    running = host.check_output("readlink -f /proc/$(systemctl show -p MainPID --value etcd)/exe")
    if member == "e1":
        assert running == "/usr/bin/etcd"
        assert host.package("etcd-server").is_installed
        assert not host.file("/usr/local/bin/etcd").exists
    else:
        # The release archive was unpacked into its own directory and its binaries copied into /usr/local/bin.
        assert running == "/usr/local/bin/etcd"
        assert not host.package("etcd-server").is_installed
        unpacked = host.check_output("ls -d /opt/etcd/*/").split()
        assert len(unpacked) == 1
        for binary in ("etcd", "etcdctl"):
            assert host.file("/usr/local/bin/" + binary).sha256sum == host.file(unpacked[0] + binary).sha256sum
            assert host.file("/usr/local/bin/" + binary).mode == 0o755


def test_etcdctl_env_sets_tls_but_leaves_endpoints_to_the_caller(host, member):
    env = host.file("/etc/etcd/etcdctl.env").content_string
    assert "export ETCDCTL_CACERT=%s/etcd/ca.crt" % PKI in env
    assert "ETCDCTL_ENDPOINTS" not in env


def test_removed_spare_node_runs_no_etcd(host):
    if short_name(host) != "e4":
        pytest.skip("only the spare node")
    assert not host.service("etcd").is_running
    assert not host.service("etcd").is_enabled


def test_snapshots_from_the_side_effect_are_kept_two(host, member):
    if member != "e1":
        pytest.skip("snapshots were taken on e1")
    snaps = host.check_output("ls /var/backups/etcd").split()
    assert len(snaps) == 2 and all(s.startswith("etcd-snapshot-") and s.endswith(".db") for s in snaps)


def test_the_refused_config_of_the_roll_stop_step_is_gone_and_etcd_does_not_loop(host, member):
    # The side effect rolled auto-compaction-mode "hourly" (refused by etcd at start-up) and then the fixed input.
    config = yaml.safe_load(host.file("/etc/etcd/etcd.conf.yml").content_string)
    assert config["auto-compaction-mode"] == "periodic"
    unit = dict(line.split("=", 1) for line in host.check_output(
        "systemctl show etcd --property ActiveState --property SubState --property NRestarts").splitlines())
    assert unit == {"ActiveState": "active", "SubState": "running", "NRestarts": "0"}, unit
