"""Docker Engine on a real lab node (Debian's docker.io 20.10).

cri-dockerd is a STAND-IN here (a shell script in the upstream archive layout,
see prepare.yml): the tests prove its install path, service and socket, not
cri-dockerd itself.
"""
import json


def docker_info(host):
    return json.loads(host.check_output("docker info --format '{{json .}}'"))


def test_dockerd_active_and_enabled(host):
    assert host.service("docker").is_running
    assert host.service("docker").is_enabled


def test_cgroup_driver_is_systemd(host):
    assert docker_info(host)["CgroupDriver"] == "systemd"


def test_configured_mirrors_and_insecure_registries(host):
    registry = docker_info(host)["RegistryConfig"]
    assert "https://mirror-a.example.com/" in registry["Mirrors"]
    assert "registry.lab.example:5000" in registry["IndexConfigs"]


def test_daemon_json(host):
    daemon = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert daemon["exec-opts"] == ["native.cgroupdriver=systemd"]
    assert daemon["log-opts"] == {"max-size": "100m", "max-file": "5"}
    assert daemon["live-restore"] is True


def test_a_container_really_runs(host):
    host.check_output("docker import /root/hello-rootfs.tar ironstone/hello:1")
    out = host.check_output("docker run --rm ironstone/hello:1 /bin/echo hello-from-docker")
    assert out.strip() == "hello-from-docker"


def test_cri_dockerd_standin_installed_with_service_and_socket(host):
    binary = host.file("/usr/local/bin/cri-dockerd")
    assert binary.exists and binary.mode == 0o755
    assert "cri-dockerd stand-in" in binary.content_string
    service = host.file("/etc/systemd/system/cri-docker.service").content_string
    assert "--pod-infra-container-image=registry.k8s.io/pause:3.10" in service
    socket = host.service("cri-docker.socket")
    assert socket.is_enabled and socket.is_running
    assert host.socket("unix:///run/cri-dockerd.sock").is_listening
