"""containerd on a real lab node (real containerd and runc from Debian; no stand-ins)."""
import os


def test_containerd_active_and_enabled(host):
    svc = host.service("containerd")
    assert svc.is_running
    assert svc.is_enabled


def test_config_dump_has_systemd_cgroup_and_config_path(host):
    dump = host.check_output("containerd config dump")
    assert "SystemdCgroup = true" in dump
    assert 'config_path = "/etc/containerd/certs.d"' in dump
    assert 'sandbox_image = "registry.k8s.io/pause:3.10"' in dump
    assert "max_concurrent_downloads = 3" in dump


def test_mirror_hosts_toml(host):
    docker_io = host.file("/etc/containerd/certs.d/docker.io/hosts.toml")
    assert docker_io.exists
    assert 'server = "https://registry-1.docker.io"' in docker_io.content_string
    # The side effect switched docker.io from mirror-a to mirror-b.
    assert '[host."https://mirror-b.example.com"]' in docker_io.content_string
    assert "mirror-a" not in docker_io.content_string
    k8s = host.file("/etc/containerd/certs.d/registry.k8s.io/hosts.toml").content_string
    assert '[host."https://k8s-mirror.example.com"]' in k8s
    assert "skip_verify = true" in k8s
    # ca_file is a path on the controller; the role delivered a copy beside hosts.toml.
    ca_path = "/etc/containerd/certs.d/registry.k8s.io/ironstone-mirror-k8s-mirror.example.com.crt"
    assert 'ca = "%s"' % ca_path in k8s
    with open(os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "files", "mirror-ca.pem")) as handle:
        assert host.file(ca_path).content_string == handle.read()
    assert host.file(ca_path).mode == 0o644


def test_crictl_points_at_containerd(host):
    crictl = host.file("/etc/crictl.yaml").content_string
    assert "runtime-endpoint: unix:///run/containerd/containerd.sock" in crictl


def test_prerequisites_persisted(host):
    assert "overlay" in host.file("/etc/modules-load.d/ironstone-k8s.conf").content_string
    sysctl = host.file("/etc/sysctl.d/99-ironstone-k8s.conf").content_string
    assert "net.ipv4.ip_forward = 1" in sysctl
    assert host.file("/proc/sys/net/ipv4/ip_forward").content_string.strip() == "1"


def test_a_container_really_runs(host):
    host.check_output("ctr -n ironstone-test images import /root/hello-oci.tar")
    out = host.check_output(
        "ctr -n ironstone-test run --rm docker.io/ironstone/hello:1 hello-%s /bin/echo hello-from-containerd",
        host.check_output("date +%s%N"))
    assert out.strip() == "hello-from-containerd"


def test_side_effect_changed_only_that_mirror_and_restarted_once(host):
    started = int(host.file("/root/side_effect_started").content_string.strip())
    docker_io = host.file("/etc/containerd/certs.d/docker.io/hosts.toml")
    k8s = host.file("/etc/containerd/certs.d/registry.k8s.io/hosts.toml")
    config = host.file("/etc/containerd/config.toml")
    assert int(docker_io.mtime.timestamp()) >= started
    assert int(k8s.mtime.timestamp()) < started
    assert int(config.mtime.timestamp()) < started
    log = host.check_output("journalctl -u containerd --since @%s -o cat" % started)
    assert log.count("Started containerd") == 1, log
