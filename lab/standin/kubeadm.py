"""STAND-IN: the kubeadm command line of the ironstone.k8s lab (not the real kubeadm).

It implements the subset of kubeadm (the release of version.py; modelled on 1.32) the collection's roles
use, against the lab's stand-in kubelet and kube-apiserver (or anything speaking the Kubernetes API):
``version``, ``config validate``,
``init`` (external etcd only), ``init phase upload-certs``, ``join``, ``token create|list|delete|generate``,
``certs certificate-key|check-expiration|renew``, ``kubeconfig user``, ``upgrade plan|apply|node`` and ``reset``.  Other
commands and flags are refused the way cobra refuses them; options the stand-in cannot honour answer
"not implemented by the stand-in".  The first line on stderr is the STAND-IN banner.
"""

import json
import sys

import yaml

from . import kubeadm_certs as certs
from . import kubeadm_cluster as cluster_api
from . import kubeadm_config
from . import kubeadm_defaults as defaults
from . import kubeadm_env as env
from . import kubeadm_init
from . import kubeadm_join
from . import kubeadm_kubeconfig
from . import kubeadm_ops as ops
from . import pki
from .kubeadm_flags import BOOL, LIST, STRING, FlagError, parse
from .kubeclient import ApiError
from .version import KUBERNETES_VERSION, STANDIN_BANNER, git_version

STACK_HINT = "To see the stack trace of this error execute with --v=5 or higher"
GIT_COMMIT = "0000000000000000000000000000000000000000"


def version_info():
    major, minor, _patch = KUBERNETES_VERSION.split(".")
    return {"major": major, "minor": minor, "gitVersion": git_version(), "gitCommit": GIT_COMMIT, "gitTreeState": "clean",
            "buildDate": "2025-03-11T19:52:21Z", "goVersion": "go1.23.6", "compiler": "gc", "platform": "linux/amd64"}


def cmd_version(_pos, flags):
    output = flags.get("output", "")
    info = version_info()
    if output == "short":
        env.out(info["gitVersion"])
    elif output == "json":
        env.out(json.dumps({"clientVersion": info}, indent=2))
    elif output == "yaml":
        env.out(yaml.safe_dump({"clientVersion": info}, default_flow_style=False, sort_keys=False).rstrip())
    elif output == "":
        fields = ", ".join(f'{k[0].upper() + k[1:]}:"{v}"' for k, v in info.items())
        env.out(f"kubeadm version: &version.Info{{{fields}}}")
        env.out(f"kubeadm {git_version()} {STANDIN_BANNER}")
    else:
        raise defaults.StandinError(f"invalid output format: {output}")
    return 0


def cmd_config_validate(_pos, flags):
    path = flags.get("config")
    if not path:
        raise defaults.StandinError("the --config flag is mandatory")
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise defaults.StandinError(f"open {path}: {exc.strerror.lower()}") from exc
    errors = kubeadm_config.validate(text, KUBERNETES_VERSION)
    if errors:
        raise defaults.StandinError("\n".join(errors))
    env.out("ok")
    return 0


def cmd_certificate_key(_pos, _flags):
    env.out(pki.new_certificate_key())
    return 0


def cmd_token_generate(_pos, _flags):
    env.out(cluster_api.generate_token())
    return 0


KUBECONFIG_FLAG = {"kubeconfig": STRING}
# command path -> (flags, shorthands, handler(positionals, flags), max positionals or None)
COMMANDS = {
    ("version",): ({"output": STRING}, {"o": "output"}, cmd_version, 0),
    ("config", "validate"): ({"config": STRING}, {}, cmd_config_validate, 0),
    ("init",): ({"config": STRING, "upload-certs": BOOL, "certificate-key": STRING, "skip-phases": LIST,
                 "ignore-preflight-errors": LIST, "dry-run": BOOL}, {}, lambda p, f: kubeadm_init.init(f), 0),
    ("init", "phase", "upload-certs"): ({"upload-certs": BOOL, "config": STRING, "certificate-key": STRING, "kubeconfig": STRING},
                                        {}, lambda p, f: kubeadm_init.upload_certs_phase(f), 0),
    ("join",): ({"config": STRING, "ignore-preflight-errors": LIST, "token": STRING, "discovery-token-ca-cert-hash": LIST,
                 "discovery-token-unsafe-skip-ca-verification": BOOL, "control-plane": BOOL, "certificate-key": STRING},
                {}, kubeadm_join.join, None),
    ("token", "create"): ({"ttl": STRING, "description": STRING, "groups": LIST, "usages": LIST, "print-join-command": BOOL,
                           "certificate-key": STRING, "kubeconfig": STRING}, {}, ops.token_create, None),
    ("token", "list"): (KUBECONFIG_FLAG, {}, lambda p, f: ops.token_list(f), 0),
    ("token", "delete"): (KUBECONFIG_FLAG, {}, ops.token_delete, None),
    ("token", "generate"): ({}, {}, cmd_token_generate, 0),
    ("certs", "certificate-key"): ({}, {}, cmd_certificate_key, 0),
    ("certs", "check-expiration"): (KUBECONFIG_FLAG, {}, lambda p, f: certs.check_expiration(f), 0),
    ("certs", "renew"): (KUBECONFIG_FLAG, {}, lambda p, f: certs.renew(f, p), None),
    ("kubeconfig", "user"): ({"client-name": STRING, "org": LIST, "validity-period": STRING, "config": STRING, "token": STRING},
                             {}, kubeadm_kubeconfig.user, 0),
    ("upgrade", "plan"): (KUBECONFIG_FLAG, {}, lambda p, f: ops.upgrade_plan(f), 0),
    ("upgrade", "apply"): ({"yes": BOOL, "kubeconfig": STRING}, {"y": "yes"}, ops.upgrade_apply, None),
    ("upgrade", "node"): (KUBECONFIG_FLAG, {}, lambda p, f: ops.upgrade_node(f), 0),
    ("reset",): ({"force": BOOL, "cri-socket": STRING, "cleanup-tmp-dir": BOOL}, {"f": "force"}, lambda p, f: ops.reset(f), 0),
}
GROUPS = {(): "kubeadm"}
for _path in COMMANDS:
    for _n in range(1, len(_path)):
        GROUPS[_path[:_n]] = "kubeadm " + " ".join(_path[:_n])


def resolve(argv):
    """(command path, remaining argv); the path words are the leading non-flag words that name commands."""
    path, rest, index = (), [], 0
    words = list(argv)
    while index < len(words):
        word = words[index]
        if word.startswith("-"):
            rest.append(word)
            index += 1
            continue
        candidate = path + (word,)
        if candidate in COMMANDS or candidate in GROUPS:
            if path in COMMANDS and candidate not in COMMANDS and candidate not in GROUPS:
                break
            path = candidate
            index += 1
            continue
        if path in COMMANDS:
            break
        raise FlagError(f'unknown command "{word}" for "{GROUPS.get(path, "kubeadm")}"')
    return path, rest + words[index:]


def usage(path):
    subs = sorted({p[len(path)] for p in COMMANDS if p[:len(path)] == path and len(p) > len(path)})
    name = GROUPS.get(path) or "kubeadm " + " ".join(path)
    text = [f"{name} (STAND-IN: {STANDIN_BANNER})", "", "Available Commands:"] + [f"  {s}" for s in subs]
    return "\n".join(text)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    env.err(STANDIN_BANNER)
    try:
        path, rest = resolve(argv)
        if path not in COMMANDS:
            _pos, flags = parse(rest, {})
            env.out(usage(path))
            return 0 if flags.get("help") or not path else 1
        spec_flags, short, handler, max_pos = COMMANDS[path]
        positionals, flags = parse(rest, spec_flags, short)
        if flags.get("help"):
            env.out(f"kubeadm {' '.join(path)} (STAND-IN) flags: " + " ".join(f"--{n}" for n in sorted(spec_flags)))
            return 0
        if max_pos == 0 and positionals:
            raise FlagError(f'unknown command "{positionals[0]}" for "kubeadm {" ".join(path)}"')
        return handler(positionals, flags)
    except FlagError as exc:
        env.err(str(exc))
        env.err(STACK_HINT)
        return 1
    except defaults.StandinError as exc:
        env.err(str(exc))
        env.err(STACK_HINT)
        return 1
    except ApiError as exc:
        env.err(exc.message or str(exc))
        env.err(STACK_HINT)
        return 1
    except OSError as exc:
        env.err(str(exc))
        env.err(STACK_HINT)
        return 1


if __name__ == "__main__":
    sys.exit(main())
