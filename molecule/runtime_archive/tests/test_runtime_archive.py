"""containerd installed from release archives on a real lab node.

The archives are a stand-in for an upstream release mirror: they are repacked
from Debian's own containerd, runc and CNI plugin binaries and served inside
the node (molecule/runtime_archive/prepare.yml). The containerd that runs is real.
"""


def test_containerd_from_the_archive_is_running(host):
    svc = host.service("containerd")
    assert svc.is_running and svc.is_enabled
    assert "ExecStart={ path=/usr/local/bin/containerd" in host.check_output("systemctl show -p ExecStart containerd")
    assert host.file("/usr/local/sbin/runc").mode == 0o755


def test_no_distribution_package_is_installed(host):
    assert not host.package("containerd").is_installed
    assert not host.package("runc").is_installed


def test_binaries_match_the_verified_archive(host):
    sums = dict(reversed(line.split()) for line in host.file("/srv/mirror/SHA256SUMS").content_string.splitlines())
    cached = host.check_output("sha256sum /var/cache/ironstone/downloads/container_runtime_containerd_archive-*").split()[0]
    assert cached == sums["./containerd-linux-amd64.tar.gz"]
    runc = host.check_output("sha256sum /usr/local/sbin/runc").split()[0]
    assert runc == sums["runc.amd64"]


def test_cni_plugins_unpacked(host):
    assert host.file("/opt/cni/bin/bridge").exists
    assert host.file("/opt/cni/bin/host-local").exists


def test_a_container_really_runs(host):
    host.check_output("/usr/local/bin/ctr -n ironstone-test images import /root/hello-oci.tar")
    out = host.check_output(
        "/usr/local/bin/ctr -n ironstone-test run --rm docker.io/ironstone/hello:1 hello-archive /bin/echo hello-from-archive")
    assert out.strip() == "hello-from-archive"
