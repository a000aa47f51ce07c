"""STAND-IN for crictl (cri-tools v1.<minor> of version.py) built on containerd's own client `ctr`.

Debian bookworm has no cri-tools package, so the lab ships this stand-in.  It does NOT speak the CRI
gRPC API: it asks the real containerd through `ctr` (Debian's containerd package) and prints what
crictl would print for the few subcommands the lab needs:

- `info`: succeeds only if containerd answers on the endpoint's socket and its
  `io.containerd.grpc.v1  cri` plugin has status `ok` (`ctr plugins ls`).  RuntimeReady is then true.
  NetworkReady is DERIVED FROM /etc/cni/net.d (true iff it holds a `*.conf` or `*.conflist` file),
  not from containerd's CRI status, which this stand-in cannot read.
- `version`: the server version `ctr version` reports (e.g. `1.6.20~ds1` for Debian's build).
- `ps` (`-a`, `-q`), `pods` (`-q`), `images` (`-q`): lists from `ctr -n k8s.io containers|tasks|images`; `ps` also
  lists the kubelet stand-in's static pod children (the kube-apiserver stand-in), from their runtime records in
  /run/ironstone-standin/containers ($IRONSTONE_STANDIN_RUNTIME_DIR), which are real processes but not containerd's.
- `inspect ID...` (`-o json`, the default): crictl's JSON (`status`, `info.pid`) for a containerd container of
  the k8s.io namespace (the PID from `ctr -n k8s.io tasks ls`) or a stand-in static pod child (its real PID);
  an ID may be a unique prefix; an unknown ID fails as crictl does (NotFound).
- `--version`.

The endpoint comes from `-r/--runtime-endpoint`, else `$CONTAINER_RUNTIME_ENDPOINT`, else
`runtime-endpoint:` in `/etc/crictl.yaml` (or `-c/--config`), else the default endpoints (with crictl's
deprecation warning; the stand-in then uses containerd's).  Anything else answers
"not implemented by the stand-in" and exits 1.  Paths can be prefixed with $IRONSTONE_STANDIN_ROOT for tests.
"""

import datetime
import glob
import json
import os
import re
import stat
import subprocess
import sys

import yaml

from .version import STANDIN_BANNER, minor

# cri-tools is released per Kubernetes minor (v1.<minor>.0 is what the builder packages).
CRICTL_VERSION = "v1.%d.0" % minor()
DEFAULT_ENDPOINTS = ["unix:///run/containerd/containerd.sock", "unix:///run/crio/crio.sock", "unix:///var/run/cri-dockerd.sock"]
K8S_NAMESPACE = "k8s.io"
CNI_CONF_DIR = "/etc/cni/net.d"
CNI_NOT_READY_MESSAGE = "Network plugin returns error: cni plugin not initialized"


class CrictlError(Exception):
    """A failure crictl reports as `level=fatal msg=...` and exit status 1."""


def host_path(path):
    """`path` under $IRONSTONE_STANDIN_ROOT when that is set (tests), else `path`."""
    root = os.environ.get("IRONSTONE_STANDIN_ROOT")
    if root and os.path.isabs(path):
        return os.path.join(root, path.lstrip("/"))
    return path


def run_ctr(args, timeout=10.0):
    """Run `ctr ARGS`; returns (returncode, stdout, stderr).  Replaceable in tests."""
    try:
        proc = subprocess.run(["ctr"] + list(args), check=False, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        return 127, "", "ctr: command not found (containerd's client is needed by the crictl stand-in)"
    except subprocess.TimeoutExpired:
        return 124, "", "context deadline exceeded"
    return proc.returncode, proc.stdout, proc.stderr


def _log(level, msg, stream=None):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    escaped = msg.replace("\\", "\\\\").replace('"', '\\"')
    print(f'time="{now}" level={level} msg="{escaped}"', file=stream or sys.stderr)


# --- endpoint ---------------------------------------------------------------------------------------

def resolve_endpoint(flag_value=None, config_path="/etc/crictl.yaml", env=None, warn=None):
    """The runtime endpoint crictl would use, and whether the deprecated defaults were taken."""
    env = os.environ if env is None else env
    if flag_value:
        return flag_value, False
    if env.get("CONTAINER_RUNTIME_ENDPOINT"):
        return env["CONTAINER_RUNTIME_ENDPOINT"], False
    path = host_path(config_path)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            conf = yaml.safe_load(handle) or {}
        if not isinstance(conf, dict):
            raise CrictlError(f"load config file: failed to unmarshal config file {config_path!r}")
        if conf.get("runtime-endpoint"):
            return str(conf["runtime-endpoint"]), False
    if warn is not None:
        warn("runtime connect using default endpoints: [" + " ".join(DEFAULT_ENDPOINTS) + "]. "
             "As the default settings are now deprecated, you should set the endpoint instead.")
    return DEFAULT_ENDPOINTS[0], True


def socket_path(endpoint):
    if endpoint.startswith("unix://"):
        return endpoint[len("unix://"):]
    if endpoint.startswith("/"):
        return endpoint
    raise CrictlError(f"protocol {endpoint.split('://')[0]!r} not supported by the stand-in (only unix:// endpoints; "
                      "not implemented by the stand-in)")


def _connection_error(endpoint, detail):
    return (f'validate service connection: validate CRI v1 runtime API for endpoint "{endpoint}": '
            f'rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: {detail}"')


def _dial_detail(path, ctr_stderr):
    """The `dial unix ...: connect: ...` part of a failed connection, like gRPC words it."""
    marker = "dial unix "
    if marker in ctr_stderr:
        detail = ctr_stderr[ctr_stderr.index(marker):].strip().rstrip('"')
        return detail
    return f"dial unix {path}: {ctr_stderr.strip() or 'connect: connection refused'}"


class Runtime:
    """containerd as seen through `ctr` at one endpoint."""

    def __init__(self, endpoint, timeout=2.0, ctr=None):
        self.endpoint = endpoint
        self.path = socket_path(endpoint)
        self.timeout = timeout
        self.ctr = ctr or run_ctr

    def _call(self, args, namespace=None):
        real_path = host_path(self.path)
        try:
            mode = os.stat(real_path).st_mode
        except FileNotFoundError as err:
            raise CrictlError(_connection_error(self.endpoint, f"dial unix {self.path}: connect: no such file or directory")) from err
        except PermissionError as err:
            raise CrictlError(_connection_error(self.endpoint, f"dial unix {self.path}: connect: permission denied")) from err
        if not stat.S_ISSOCK(mode):
            raise CrictlError(_connection_error(self.endpoint, f"dial unix {self.path}: connect: connection refused"))
        base = ["--address", real_path, "--connect-timeout", f"{self.timeout:g}s"]
        if namespace:
            base += ["--namespace", namespace]
        rc, out, err = self.ctr(base + list(args), timeout=self.timeout + 8)
        if rc == 127:
            raise CrictlError(err.strip())
        if rc != 0:
            if "permission denied" in err:
                raise CrictlError(_connection_error(self.endpoint, f"dial unix {self.path}: connect: permission denied"))
            if "failed to dial" in err or "connection error" in err or rc == 124:
                raise CrictlError(_connection_error(self.endpoint, _dial_detail(self.path, err)))
            raise CrictlError(f"rpc error: code = Unknown desc = {err.strip()}")
        return out

    def plugins(self):
        return parse_plugins(self._call(["plugins", "ls"]))

    def check_cri(self):
        """Raise CrictlError as crictl would when the CRI service is unusable."""
        plugins = self.plugins()
        cri = [p for p in plugins if p["type"] == "io.containerd.grpc.v1" and p["id"] == "cri"]
        if not cri:
            raise CrictlError(f'validate service connection: validate CRI v1 runtime API for endpoint "{self.endpoint}": '
                              "rpc error: code = Unimplemented desc = unknown service runtime.v1.RuntimeService")
        if cri[0]["status"] != "ok":
            raise CrictlError(f'validate service connection: validate CRI v1 runtime API for endpoint "{self.endpoint}": '
                              f"rpc error: code = Unimplemented desc = unknown service runtime.v1.RuntimeService "
                              f"(containerd's cri plugin status is {cri[0]['status']!r})")

    def server_version(self):
        return parse_version(self._call(["version"]))


# --- parsers of ctr output ----------------------------------------------------------------------------

def parse_plugins(text):
    """`ctr plugins ls` -> [{type, id, platforms, status}]."""
    rows = []
    for line in text.splitlines():
        fields = line.split()
        if not fields or fields[0] == "TYPE":
            continue
        if len(fields) < 4:
            continue
        rows.append({"type": fields[0], "id": fields[1], "platforms": fields[2], "status": fields[-1]})
    return rows


def parse_version(text):
    """`ctr version` -> the Server section's Version (None if the server section is missing)."""
    section = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped in ("Client:", "Server:"):
            section = stripped[:-1]
            continue
        if section == "Server" and stripped.startswith("Version:"):
            return stripped.split(":", 1)[1].strip()
    return None


def parse_table(text):
    """A ctr tabwriter listing -> list of dicts keyed by the header's column names (single-word cells)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return []
    header = lines[0].split()
    return [dict(zip(header, line.split())) for line in lines[1:]]


_UNITS = {"B": 1, "KiB": 1024, "MiB": 1024 ** 2, "GiB": 1024 ** 3, "TiB": 1024 ** 4,
          "kB": 1000, "KB": 1000, "MB": 1000 ** 2, "GB": 1000 ** 3}


def parse_images(text):
    """`ctr images ls` -> [{ref, type, digest, size_bytes}].  SIZE is two words (`311.4 KiB`)."""
    rows = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 5:
            continue
        size = 0
        try:
            size = int(float(fields[3]) * _UNITS.get(fields[4], 1))
        except ValueError:
            pass
        rows.append({"ref": fields[0], "type": fields[1], "digest": fields[2], "size_bytes": size})
    return rows


def human_size(size):
    """docker/go-units HumanSize (decimal, 4 significant digits), as crictl prints image sizes."""
    units = ["B", "kB", "MB", "GB", "TB", "PB"]
    value = float(size)
    index = 0
    while value >= 1000 and index < len(units) - 1:
        value /= 1000
        index += 1
    return f"{value:.4g}{units[index]}"


def ago(created):
    """crictl's `About a minute ago` style age of an RFC3339 time (or "" when unknown)."""
    if not created:
        return ""
    match = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)$", created)
    if not match:
        return ""
    when = datetime.datetime.fromisoformat(match.group(1) + ("+00:00" if match.group(2) == "Z" else match.group(2)))
    seconds = (datetime.datetime.now(datetime.timezone.utc) - when).total_seconds()
    if seconds < 60:
        return "Less than a second ago" if seconds < 1 else f"{int(seconds)} seconds ago"
    if seconds < 120:
        return "About a minute ago"
    if seconds < 3600:
        return f"{int(seconds // 60)} minutes ago"
    if seconds < 7200:
        return "About an hour ago"
    if seconds < 172800:
        return f"{int(seconds // 3600)} hours ago"
    return f"{int(seconds // 86400)} days ago"


# --- commands -----------------------------------------------------------------------------------------

def cni_configured(conf_dir=CNI_CONF_DIR):
    real = host_path(conf_dir)
    return bool(glob.glob(os.path.join(real, "*.conf")) or glob.glob(os.path.join(real, "*.conflist")))


def info_document(network_ready):
    conditions = [
        {"type": "RuntimeReady", "status": True, "reason": "", "message": ""},
        {"type": "NetworkReady", "status": network_ready,
         "reason": "" if network_ready else "NetworkPluginNotReady",
         "message": "" if network_ready else CNI_NOT_READY_MESSAGE},
    ]
    return {
        "status": {"conditions": conditions},
        "lastCNILoadStatus": "OK" if network_ready else
        "cni config load failed: no network config found in /etc/cni/net.d: cni plugin not initialized: failed to load cni config",
        "ironstone.k8s/stand-in": "crictl STAND-IN: RuntimeReady from `ctr plugins ls`, NetworkReady from /etc/cni/net.d",
    }


def cmd_info(runtime, args):
    if args:
        raise CrictlError(f"info {' '.join(args)}: not implemented by the stand-in")
    runtime.check_cri()
    print(json.dumps(info_document(cni_configured()), indent=2))
    return 0


def cmd_version(runtime, args):
    if args:
        raise CrictlError(f"version {' '.join(args)}: not implemented by the stand-in")
    runtime.check_cri()
    version = runtime.server_version() or "unknown"
    print("Version:  0.1.0")
    print("RuntimeName:  containerd")
    print(f"RuntimeVersion:  {version}")
    print("RuntimeApiVersion:  v1")
    return 0


def _containers(runtime):
    """[(id, image, labels, created)] of the k8s.io namespace's containers."""
    rows = parse_table(runtime._call(["containers", "ls"], namespace=K8S_NAMESPACE))  # pylint: disable=protected-access
    result = []
    for row in rows:
        cid = row.get("CONTAINER")
        if not cid:
            continue
        labels, created = {}, ""
        try:
            detail = json.loads(runtime._call(["containers", "info", cid], namespace=K8S_NAMESPACE))  # pylint: disable=protected-access
            labels = detail.get("Labels") or {}
            created = detail.get("CreatedAt", "")
        except (CrictlError, ValueError):
            pass
        result.append((cid, row.get("IMAGE", ""), labels, created))
    return result


def _task_states(runtime):
    rows = parse_table(runtime._call(["tasks", "ls"], namespace=K8S_NAMESPACE))  # pylint: disable=protected-access
    return {row.get("TASK"): row.get("STATUS", "") for row in rows}


def _columns(rows, widths):
    widths = [max([width] + [len(str(row[i])) + 3 for row in rows if i < len(row) - 1]) for i, width in enumerate(widths)]
    for row in rows:
        print("".join(str(cell).ljust(width) if i < len(row) - 1 else str(cell)
                      for i, (cell, width) in enumerate(zip(row, widths))).rstrip())


def _options(args, allowed):
    opts = set()
    for arg in args:
        if arg in allowed:
            opts.add(allowed[arg])
        else:
            raise CrictlError(f"option {arg}: not implemented by the stand-in")
    return opts


def cmd_ps(runtime, args):
    opts = _options(args, {"-a": "all", "--all": "all", "-q": "quiet", "--quiet": "quiet"})
    runtime.check_cri()
    states = _task_states(runtime)
    rows = []
    for cid, image, labels, created in _containers(runtime):
        if labels.get("io.cri-containerd.kind") != "container":
            continue
        state = "CONTAINER_RUNNING" if states.get(cid) == "RUNNING" else "CONTAINER_EXITED"
        if state != "CONTAINER_RUNNING" and "all" not in opts:
            continue
        rows.append([cid[:13], image, ago(created), state.replace("CONTAINER_", "").title(),
                     labels.get("io.kubernetes.container.name", ""), labels.get("io.kubernetes.container.restartCount", "0"),
                     labels.get("io.kubernetes.pod.uid", "")[:13], labels.get("io.kubernetes.pod.name", "")])
    for record in standin_records():
        if not record["running"] and "all" not in opts:
            continue
        rows.append([record["id"][:13], record.get("image", ""), ago(record.get("createdAt", "")),
                     "Running" if record["running"] else "Exited", record.get("name", ""), record.get("attempt", 0),
                     "(stand-in)", record.get("podName", "")])
    if "quiet" in opts:
        for row in rows:
            print(row[0])
        return 0
    header = ["CONTAINER", "IMAGE", "CREATED", "STATE", "NAME", "ATTEMPT", "POD ID", "POD"]
    _columns([header] + rows, [20] * len(header))
    return 0


def cmd_pods(runtime, args):
    opts = _options(args, {"-q": "quiet", "--quiet": "quiet"})
    runtime.check_cri()
    states = _task_states(runtime)
    rows = []
    for cid, _image, labels, created in _containers(runtime):
        if labels.get("io.cri-containerd.kind") != "sandbox":
            continue
        state = "Ready" if states.get(cid) == "RUNNING" else "NotReady"
        rows.append([cid[:13], ago(created), state, labels.get("io.kubernetes.pod.name", ""),
                     labels.get("io.kubernetes.pod.namespace", ""), labels.get("io.kubernetes.pod.attempt", "0"), "(default)"])
    if "quiet" in opts:
        for row in rows:
            print(row[0])
        return 0
    header = ["POD ID", "CREATED", "STATE", "NAME", "NAMESPACE", "ATTEMPT", "RUNTIME"]
    _columns([header] + rows, [20] * len(header))
    return 0


def image_rows(images):
    """crictl's rows (repo, tag, short id, size) from `ctr images ls` rows of the k8s.io namespace."""
    by_target = {}
    for image in images:
        if image["ref"].startswith("sha256:"):
            by_target[image["digest"]] = image["ref"]
    rows = []
    for image in images:
        ref = image["ref"]
        if ref.startswith("sha256:") or "@" in ref:
            continue
        repo, dummy, tag = ref.rpartition(":")
        if "/" in tag or not repo:
            repo, tag = ref, "<none>"
        image_id = by_target.get(image["digest"], image["digest"]).split(":", 1)[-1]
        rows.append([repo, tag, image_id[:13], human_size(image["size_bytes"])])
    return rows


def cmd_images(runtime, args):
    opts = _options(args, {"-q": "quiet", "--quiet": "quiet"})
    runtime.check_cri()
    images = parse_images(runtime._call(["images", "ls"], namespace=K8S_NAMESPACE))  # pylint: disable=protected-access
    rows = image_rows(images)
    if "quiet" in opts:
        by_target = {i["digest"]: i["ref"] for i in images if i["ref"].startswith("sha256:")}
        for image in images:
            if not image["ref"].startswith("sha256:") and "@" not in image["ref"]:
                print(by_target.get(image["digest"], image["digest"]))
        return 0
    header = ["IMAGE", "TAG", "IMAGE ID", "SIZE"]
    _columns([header] + rows, [42, 20, 20, 10])
    return 0


RUNTIME_DIR = "/run/ironstone-standin/containers"


def standin_records():
    """The kubelet stand-in's runtime records of its static pod children (real processes), newest first."""
    directory = host_path(os.environ.get("IRONSTONE_STANDIN_RUNTIME_DIR", RUNTIME_DIR))
    records = []
    for path in glob.glob(os.path.join(directory, "*.json")):
        try:
            with open(path, encoding="utf-8") as handle:
                record = json.load(handle)
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and record.get("id") and isinstance(record.get("pid"), int):
            record["running"] = os.path.exists(f"/proc/{record['pid']}")
            records.append(record)
    return sorted(records, key=lambda r: r.get("createdAt", ""), reverse=True)


def _task_pids(runtime):
    rows = parse_table(runtime._call(["tasks", "ls"], namespace=K8S_NAMESPACE))  # pylint: disable=protected-access
    return {row.get("TASK"): (row.get("PID", "0"), row.get("STATUS", "")) for row in rows}


def _inspect_one(runtime, wanted, containers, records):
    matches = [c for c in containers if c[0].startswith(wanted)]
    matches += [("standin", r) for r in records if r["id"].startswith(wanted)]
    if len(matches) != 1:
        if matches:
            raise CrictlError(f'getting the status of the container "{wanted}": rpc error: code = NotFound desc = '
                              f'an error occurred when try to find container "{wanted}": ambiguous ID')
        raise CrictlError(f'getting the status of the container "{wanted}": rpc error: code = NotFound desc = '
                          f'an error occurred when try to find container "{wanted}": not found')
    if matches[0][0] == "standin":
        record = matches[0][1]
        state = "CONTAINER_RUNNING" if record["running"] else "CONTAINER_EXITED"
        return {"status": {"id": record["id"], "metadata": {"attempt": record.get("attempt", 0), "name": record.get("name", "")},
                           "state": state, "createdAt": record.get("createdAt", ""), "image": {"image": record.get("image", "")},
                           "labels": {"io.kubernetes.pod.name": record.get("podName", ""),
                                      "io.kubernetes.pod.namespace": record.get("podNamespace", ""),
                                      "io.kubernetes.container.name": record.get("name", "")}},
                "info": {"pid": record["pid"] if record["running"] else 0, "runtimeType": "ironstone-standin",
                         "ironstone.k8s/stand-in": "a static pod child of the kubelet stand-in: a real process, not a "
                                                   "containerd container"}}
    cid, image, labels, created = matches[0]
    pid, status = _task_pids(runtime).get(cid, ("0", ""))
    state = "CONTAINER_RUNNING" if status == "RUNNING" else "CONTAINER_EXITED"
    return {"status": {"id": cid, "metadata": {"attempt": int(labels.get("io.kubernetes.container.restartCount", "0") or 0),
                                               "name": labels.get("io.kubernetes.container.name", "")},
                       "state": state, "createdAt": created, "image": {"image": image}, "labels": labels},
            "info": {"pid": int(pid) if state == "CONTAINER_RUNNING" and pid.isdigit() else 0,
                     "ironstone.k8s/stand-in": "crictl STAND-IN: from `ctr -n k8s.io containers info` and `tasks ls`"}}


def cmd_inspect(runtime, args):
    ids, rest = [], list(args)
    while rest:
        arg = rest.pop(0)
        if arg in ("-o", "--output"):
            if not rest:
                raise CrictlError(f"flag needs an argument: {arg}")
            if rest.pop(0) != "json":
                raise CrictlError("only -o json is implemented by the stand-in")
        elif arg in ("-o=json", "--output=json"):
            continue
        elif arg.startswith("-"):
            raise CrictlError(f"option {arg}: not implemented by the stand-in")
        else:
            ids.append(arg)
    if not ids:
        raise CrictlError("ID cannot be empty")
    runtime.check_cri()
    containers = [c for c in _containers(runtime) if c[2].get("io.cri-containerd.kind") == "container"]
    records = standin_records()
    for wanted in ids:
        print(json.dumps(_inspect_one(runtime, wanted, containers, records), indent=2))
    return 0


COMMANDS = {"inspect": cmd_inspect, "info": cmd_info, "version": cmd_version, "ps": cmd_ps, "pods": cmd_pods, "images": cmd_images}


def parse_global(argv):
    """(endpoint flag, config path, timeout seconds, command, command args)."""
    endpoint, config, timeout = None, "/etc/crictl.yaml", 2.0
    args = list(argv)
    while args and args[0].startswith("-"):
        arg = args.pop(0)
        name, eq, value = arg.partition("=")
        if name in ("-r", "--runtime-endpoint", "-c", "--config", "-t", "--timeout"):
            if not eq:
                if not args:
                    raise CrictlError(f"flag needs an argument: {name}")
                value = args.pop(0)
            if name in ("-r", "--runtime-endpoint"):
                endpoint = value
            elif name in ("-c", "--config"):
                config = value
            else:
                timeout = parse_duration(value)
        elif name in ("-D", "--debug"):
            continue
        elif name in ("-v", "--version"):
            return endpoint, config, timeout, "--version", []
        elif name in ("-h", "--help"):
            return endpoint, config, timeout, "--help", []
        else:
            raise CrictlError(f"flag provided but not defined: {name} (not implemented by the stand-in)")
    if not args:
        return endpoint, config, timeout, "--help", []
    return endpoint, config, timeout, args[0], args[1:]


def parse_duration(value):
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for suffix in ("ms", "s", "m", "h"):
        if value.endswith(suffix):
            try:
                return float(value[:-len(suffix)]) * units[suffix]
            except ValueError:
                break
    try:
        return float(value)
    except ValueError as err:
        raise CrictlError(f'invalid value "{value}" for flag -timeout: parse error') from err


def main(argv=None, ctr=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        endpoint_flag, config, timeout, command, args = parse_global(argv)
        if command == "--version":
            print(f"crictl version {CRICTL_VERSION} {STANDIN_BANNER}")
            return 0
        if command == "--help":
            print(f"crictl {CRICTL_VERSION} {STANDIN_BANNER}\nCommands implemented: {', '.join(sorted(COMMANDS))}")
            return 0
        if command not in COMMANDS:
            raise CrictlError(f"command {command!r}: not implemented by the stand-in")
        endpoint, _defaulted = resolve_endpoint(endpoint_flag, config, warn=lambda msg: _log("warning", msg))
        runtime = Runtime(endpoint, timeout=timeout, ctr=ctr)
        return COMMANDS[command](runtime, args)
    except CrictlError as err:
        _log("fatal", str(err))
        return 1


if __name__ == "__main__":
    sys.exit(main())
