"""containerd 2.x on a real lab node, configured with config format version 3.

containerd's binaries come from Debian unstable, repacked as a release archive
(a stand-in for the upstream mirror) and installed through the archive path;
the containerd that runs is real.
"""


def test_containerd_2_is_running(host):
    assert host.service("containerd").is_running
    version = host.check_output("/usr/local/bin/containerd --version")
    assert " v2." in version or " 2." in version, version


def test_config_uses_format_3(host):
    config = host.file("/etc/containerd/config.toml").content_string
    assert "version = 3" in config
    assert 'plugins."io.containerd.cri.v1.images"' in config


def test_config_dump_has_systemd_cgroup_sandbox_and_config_path(host):
    dump = host.check_output("/usr/local/bin/containerd config dump")
    assert "SystemdCgroup = true" in dump
    assert "config_path = '/etc/containerd/certs.d'" in dump or 'config_path = "/etc/containerd/certs.d"' in dump
    assert "registry.k8s.io/pause:3.10" in dump
    assert "max_concurrent_downloads = 3" in dump


def test_a_container_really_runs(host):
    host.check_output("/usr/local/bin/ctr -n ironstone-test images import /root/hello-oci.tar")
    out = host.check_output(
        "/usr/local/bin/ctr -n ironstone-test run --rm docker.io/ironstone/hello:1 hello-v2 /bin/echo hello-from-containerd-2")
    assert out.strip() == "hello-from-containerd-2"
