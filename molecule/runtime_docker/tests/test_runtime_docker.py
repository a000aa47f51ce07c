"""Docker Engine on a real lab node (Debian's docker.io 20.10; no stand-ins)."""
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
