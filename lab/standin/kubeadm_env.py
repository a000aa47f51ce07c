"""STAND-IN: host access for the kubeadm stand-in (paths, systemd, crictl, ports, clock, API clients).

Every file the stand-in touches goes through ``host(path)``, which prepends the environment
variable ``IRONSTONE_STANDIN_ROOT`` (default: nothing), so that tests run in a temporary tree.
Everything that reaches outside the process (systemctl, crictl, port probes, the API client,
sleeping) is a module-level function that tests replace.
"""

import datetime
import os
import shutil
import socket
import subprocess
import sys
import time

from . import kubeclient


def root():
    return os.environ.get("IRONSTONE_STANDIN_ROOT", "")


def host(path):
    """The on-disk location of an absolute node path, under the test root when one is set."""
    prefix = root()
    if not prefix:
        return path
    return prefix.rstrip("/") + "/" + path.lstrip("/")


def unhost(path):
    """The node path of an on-disk location (inverse of host)."""
    prefix = root().rstrip("/")
    if prefix and path.startswith(prefix + "/"):
        return path[len(prefix):]
    return path


def read_text(path, default=None):
    try:
        with open(host(path), encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return default


def write_file(path, data, mode=0o644):
    """Write bytes or text to a node path, creating parent directories; returns the disk path."""
    real = host(path)
    os.makedirs(os.path.dirname(real), exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    fd = os.open(real, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(real, mode)
    return real


def exists(path):
    return os.path.exists(host(path))


def run_command(argv, timeout=30):
    """(returncode, stdout, stderr) of a command; 127 when it is missing."""
    if shutil.which(argv[0]) is None and not os.path.isabs(argv[0]):
        return 127, "", f"{argv[0]}: executable file not found in $PATH"
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 1, "", str(exc)
    return proc.returncode, proc.stdout, proc.stderr


def systemctl(*args):
    """systemctl <args>; returns (rc, output).  Replaced by tests."""
    rc, out, err = run_command(["systemctl", *args])
    return rc, out + err


def crictl(endpoint, *args):
    """crictl --runtime-endpoint <endpoint> <args>; returns (rc, output).  Replaced by tests."""
    rc, out, err = run_command(["crictl", "--runtime-endpoint", endpoint, *args])
    return rc, out + err


def unit_exists(unit):
    """Whether systemd knows the unit (kubeadm's ServiceCheck)."""
    rc, out = systemctl("list-unit-files", unit, "--no-legend", "--no-pager")
    return rc == 0 and unit in out


def unit_enabled(unit):
    rc, _out = systemctl("is-enabled", unit)
    return rc == 0


def is_root():
    return os.geteuid() == 0


def port_in_use(port, address=""):
    """True when something already listens on the TCP port (kubeadm's PortOpenCheck binds it)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((address, port))
    except OSError:
        return True
    finally:
        sock.close()
    return False


def hostname():
    return socket.gethostname().lower()


def default_address():
    """The IPv4 address of the interface that holds the default route (kubeadm's ChooseHostInterface)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.connect(("192.0.2.1", 9))  # TEST-NET-1: no packet is sent for a UDP connect
        return sock.getsockname()[0]
    except OSError:
        return "127.0.0.1"
    finally:
        sock.close()


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def sleep(seconds):
    time.sleep(seconds)


def monotonic():
    return time.monotonic()


def client(server, **kwargs):
    """A KubeClient; tests replace this with a fake factory."""
    return kubeclient.KubeClient(server, **kwargs)


# kubeadm's timeouts.kubernetesAPICall default: how long its API calls are retried.
API_CALL_RETRY_SECONDS = 60


def client_from_kubeconfig(disk_path):
    """A client from a kubeconfig file (a path on disk: apply host() to node paths first).

    Connection failures are retried for a minute, as kubeadm retries its API calls."""
    conf = kubeclient.load_kubeconfig(disk_path)
    return client(conf["server"], ca=conf["ca"], cert=conf["cert"], key=conf["key"],
                  token=conf["token"], insecure=conf["insecure"], retry_seconds=API_CALL_RETRY_SECONDS)


def out(text=""):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def err(text=""):
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def unlink(path):
    os.unlink(host(path))
