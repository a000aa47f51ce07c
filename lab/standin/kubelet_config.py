"""STAND-IN kubelet: command-line flags, --node-labels/--register-with-taints validation and the
KubeletConfiguration (kubelet.config.k8s.io/v1beta1) file, with the real kubelet 1.32's messages.

Decoding follows the real kubelet: a v1beta1 file that fails STRICT decoding (unknown or duplicate
fields) is decoded leniently and the kubelet logs "Using lenient decoding as strict decoding failed";
set IRONSTONE_STANDIN_KUBELET_STRICT=1 to refuse such a file instead.  Wrong apiVersion/kind, wrong
value types and empty files are refused, as the real one refuses them.
"""

import os
import re

import yaml

KUBELET_API_VERSION = "kubelet.config.k8s.io/v1beta1"

CONFIG_DEPRECATION = ("This parameter should be set via the config file specified by the Kubelet's --config flag. "
                      "See https://kubernetes.io/docs/tasks/administer-cluster/kubelet-config-file/ for more information.")

# name -> (kind, deprecation message or None, config field it overrides or None)
FLAGS = {
    "bootstrap-kubeconfig": ("str", None, None),
    "kubeconfig": ("str", None, None),
    "config": ("str", None, None),
    "cert-dir": ("str", None, None),
    "hostname-override": ("str", None, None),
    "node-ip": ("str", None, None),
    "node-labels": ("labels", None, None),
    "provider-id": ("str", None, "providerID"),
    "v": ("int", None, None),
    "version": ("version", None, None),
    "help": ("bool", None, None),
    "pod-infra-container-image": ("str", "will be removed in 1.35. Image garbage collector will get sandbox image information from CRI.", None),
    "container-runtime-endpoint": ("str", CONFIG_DEPRECATION, "containerRuntimeEndpoint"),
    "register-with-taints": ("taints", CONFIG_DEPRECATION, "registerWithTaints"),
    "cgroup-driver": ("str", CONFIG_DEPRECATION, "cgroupDriver"),
    "pod-manifest-path": ("str", CONFIG_DEPRECATION, "staticPodPath"),
    "fail-swap-on": ("bool", CONFIG_DEPRECATION, "failSwapOn"),
    "max-pods": ("int", CONFIG_DEPRECATION, "maxPods"),
    "address": ("str", CONFIG_DEPRECATION, "address"),
    "port": ("int", CONFIG_DEPRECATION, "port"),
    "healthz-port": ("int", CONFIG_DEPRECATION, "healthzPort"),
    "healthz-bind-address": ("str", CONFIG_DEPRECATION, "healthzBindAddress"),
    "register-node": ("bool", CONFIG_DEPRECATION, "registerNode"),
    "node-status-update-frequency": ("duration", CONFIG_DEPRECATION, "nodeStatusUpdateFrequency"),
    # accepted; logged at start-up as having no effect in the stand-in
    "runtime-request-timeout": ("str", CONFIG_DEPRECATION, "runtimeRequestTimeout"),
    "feature-gates": ("str", CONFIG_DEPRECATION, None),
    "rotate-certificates": ("bool", CONFIG_DEPRECATION, "rotateCertificates"),
    "cluster-dns": ("str", CONFIG_DEPRECATION, None),
    "cluster-domain": ("str", CONFIG_DEPRECATION, "clusterDomain"),
    "resolv-conf": ("str", CONFIG_DEPRECATION, "resolvConf"),
}
NO_EFFECT_FLAGS = ("pod-infra-container-image", "runtime-request-timeout", "feature-gates", "rotate-certificates",
                   "cluster-dns", "cluster-domain", "resolv-conf")
SHORTHANDS = {"v": "v", "h": "help"}

# Real kubelet 1.32 flags this stand-in does not implement (refused as "not implemented by the stand-in").
REAL_UNIMPLEMENTED_FLAGS = set("""
config-dir root-dir cloud-provider cloud-config seccomp-default lock-file exit-on-lock-contention
minimum-container-ttl-duration maximum-dead-containers-per-container maximum-dead-containers register-schedulable
keep-terminated-pod-volumes experimental-mounter-path experimental-allocatable-ignore-eviction enable-server
sync-frequency file-check-frequency http-check-frequency manifest-url manifest-url-header read-only-port
image-service-endpoint anonymous-auth authentication-token-webhook authentication-token-webhook-cache-ttl client-ca-file
authorization-mode authorization-webhook-cache-authorized-ttl authorization-webhook-cache-unauthorized-ttl tls-cert-file
tls-private-key-file rotate-server-certificates tls-cipher-suites tls-min-version registry-qps registry-burst event-qps
event-burst enable-debugging-handlers contention-profiling oom-score-adj volume-plugin-dir streaming-connection-idle-timeout
minimum-image-ttl-duration image-gc-high-threshold image-gc-low-threshold volume-stats-agg-period
kubelet-cgroups system-cgroups cgroups-per-qos cgroup-root cpu-manager-policy cpu-manager-policy-options
cpu-manager-reconcile-period qos-reserved topology-manager-policy hairpin-mode pod-cidr pod-max-pids runonce cpu-cfs-quota
cpu-cfs-quota-period enable-controller-attach-detach make-iptables-util-chains iptables-masquerade-bit iptables-drop-bit
container-log-max-size container-log-max-files allowed-unsafe-sysctls node-status-max-images kernel-memcg-notification
local-storage-capacity-isolation max-open-files kube-api-content-type kube-api-qps kube-api-burst serialize-image-pulls
eviction-hard eviction-soft eviction-soft-grace-period eviction-pressure-transition-period eviction-max-pod-grace-period
eviction-minimum-reclaim pods-per-core protect-kernel-defaults reserved-cpus topology-manager-scope
topology-manager-policy-options system-reserved kube-reserved enforce-node-allocatable system-reserved-cgroup
kube-reserved-cgroup memory-manager-policy reserved-memory runtime-cgroups image-credential-provider-config
image-credential-provider-bin-dir logging-format log-flush-frequency vmodule log-json-split-stream
log-json-info-buffer-size log-text-split-stream log-text-info-buffer-size
""".split())

KUBELET_LABEL_NAMESPACES = ["kubelet.kubernetes.io", "node.kubernetes.io"]
KUBELET_LABELS = sorted([
    "kubernetes.io/hostname", "topology.kubernetes.io/zone", "topology.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/region",
    "beta.kubernetes.io/instance-type", "node.kubernetes.io/instance-type",
    "kubernetes.io/os", "kubernetes.io/arch", "beta.kubernetes.io/os", "beta.kubernetes.io/arch",
])
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


class FlagError(Exception):
    """A command-line error; the real kubelet wraps it as `failed to parse kubelet flag: ...`."""


class ConfigError(Exception):
    """The text after `failed to load kubelet config file, path: P, error: `."""


class ValidationError(Exception):
    """A flag or configuration validation failure (already worded like the real kubelet)."""


# --- flags -------------------------------------------------------------------------------------------

def _bool(value, name):
    lowered = value.lower()
    if lowered in ("1", "t", "true"):
        return True
    if lowered in ("0", "f", "false"):
        return False
    raise FlagError(f'invalid argument "{value}" for "--{name}" flag: strconv.ParseBool: parsing "{value}": invalid syntax')


def parse_labels(value, into):
    """cliflag.ConfigurationMap: `k=v,k2=v2`; a pair without `=` is a key with an empty value."""
    for item in value.split(","):
        if not item:
            continue
        key, dummy, val = item.partition("=")
        into[key.strip()] = val.strip()
    return into


def parse_taints(value):
    """`key[=value]:Effect,...` as utilflag.RegisterWithTaintsVar parses it."""
    taints = []
    for spec in value.split(","):
        if not spec:
            continue
        rest, sep, effect = spec.rpartition(":")
        if not sep or not rest:
            raise FlagError(f"invalid taint spec: {spec}")
        key, dummy, val = rest.partition("=")
        if effect not in TAINT_EFFECTS:
            raise FlagError(f"invalid taint effect: {effect}, unsupported taint effect")
        errors = qualified_name_errors(key)
        if errors:
            raise FlagError("invalid taint key: " + "; ".join(errors))
        if val and label_value_errors(val):
            raise FlagError("invalid taint value: " + "; ".join(label_value_errors(val)))
        taint = {"key": key, "effect": effect}
        if val:
            taint["value"] = val
        taints.append(taint)
    return taints


def parse_flags(argv):
    """pflag-like parsing -> (values dict keyed by flag name, [(flag, deprecation message)] in order)."""
    values = {"node-labels": {}}
    deprecated = []
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--":
            if args:
                raise FlagError(f"unknown command {args[0]}")
            break
        if not arg.startswith("-") or arg == "-":
            raise ValidationError(f"unknown command {arg}")
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            name = name.replace("_", "-")
            if name not in FLAGS:
                if name in REAL_UNIMPLEMENTED_FLAGS:
                    raise ValidationError(f"flag --{name} (a real kubelet flag) is not implemented by the stand-in")
                raise FlagError(f"unknown flag: --{name}")
        else:
            short, eq, value = arg[1:].partition("=")
            if short[:1] not in SHORTHANDS:
                raise FlagError(f"unknown shorthand flag: '{short[:1]}' in {arg}")
            name = SHORTHANDS[short[:1]]
            if len(short) > 1 and not eq:
                value, eq = short[1:], "="
        kind, deprecation, _field = FLAGS[name]
        if not eq and kind not in ("bool", "version"):
            if not args:
                raise FlagError(f"flag needs an argument: --{name}")
            value = args.pop(0)
        if kind == "bool":
            values[name] = _bool(value, name) if eq else True
        elif kind == "version":
            values[name] = value if eq else "true"
        elif kind == "int":
            try:
                values[name] = int(value)
            except ValueError as err:
                raise FlagError(f'invalid argument "{value}" for "--{name}" flag: strconv.ParseInt: parsing "{value}": invalid syntax') from err
        elif kind == "duration":
            if not _DURATION_RE.match(value):
                detail = f'missing unit in duration "{value}"' if value.isdigit() else f'invalid duration "{value}"'
                raise FlagError(f'invalid argument "{value}" for "--{name}" flag: time: {detail}')
            values[name] = value
        elif kind == "labels":
            parse_labels(value, values["node-labels"])
        elif kind == "taints":
            try:
                values[name] = parse_taints(value)
            except FlagError as err:
                raise FlagError(f'invalid argument "{value}" for "--{name}" flag: {err}') from err
        else:
            values[name] = value
        if deprecation:
            deprecated.append((name, deprecation))
    return values, deprecated


# --- label syntax (k8s.io/apimachinery/pkg/util/validation) -----------------------------------------

_QNAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QNAME_RE = re.compile("^" + _QNAME_FMT + "$")
_DNS1123_SUB_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_DNS1123_SUB_RE = re.compile("^" + _DNS1123_SUB_FMT + "$")
_LABEL_VALUE_FMT = "(" + _QNAME_FMT + ")?"
_LABEL_VALUE_RE = re.compile("^" + _LABEL_VALUE_FMT + "$")
_QNAME_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
              "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '" + _QNAME_FMT + "')")


def qualified_name_errors(key):
    errors = []
    parts = key.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errors.append("prefix part must be non-empty")
        else:
            if len(prefix) > 253:
                errors.append("prefix part must be no more than 253 characters")
            if not _DNS1123_SUB_RE.match(prefix):
                errors.append("prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                              "'-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
                              "regex used for validation is '" + _DNS1123_SUB_FMT + "')")
    else:
        return ["a qualified name " + _QNAME_MSG + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errors.append("name part must be non-empty")
    elif len(name) > 63:
        errors.append("name part must be no more than 63 characters")
    if name and not _QNAME_RE.match(name):
        errors.append("name part " + _QNAME_MSG)
    return errors


def label_value_errors(value):
    errors = []
    if len(value) > 63:
        errors.append("must be no more than 63 characters")
    if not _LABEL_VALUE_RE.match(value):
        errors.append("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
                      "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
                      "regex used for validation is '" + _LABEL_VALUE_FMT + "')")
    return errors


def _label_namespace(key):
    return key.split("/", 1)[0] if "/" in key else ""


def is_kubernetes_label(key):
    namespace = _label_namespace(key)
    return any(namespace == ns or namespace.endswith("." + ns) for ns in ("kubernetes.io", "k8s.io"))


def is_kubelet_label(key):
    if key in KUBELET_LABELS:
        return True
    namespace = _label_namespace(key)
    return any(namespace == ns or namespace.endswith("." + ns) for ns in KUBELET_LABEL_NAMESPACES)


def validate_node_labels(labels):
    """Raise ValidationError (text after `failed to validate kubelet flags: `) like ValidateKubeletFlags."""
    unknown = sorted(k for k in labels if is_kubernetes_label(k) and not is_kubelet_label(k))
    if unknown:
        raise ValidationError(
            "unknown 'kubernetes.io' or 'k8s.io' labels specified with --node-labels: [" + " ".join(unknown) + "]\n"
            "--node-labels in the 'kubernetes.io' namespace must begin with an allowed prefix ("
            + ", ".join(KUBELET_LABEL_NAMESPACES) + ") or be in the specifically allowed set (" + ", ".join(KUBELET_LABELS) + ")")
    invalid = {}
    for key, value in labels.items():
        for err in qualified_name_errors(key):
            invalid.setdefault(key, []).append(err)
        for err in label_value_errors(value):
            invalid.setdefault(value, []).append(err)
    if invalid:
        raise ValidationError("invalid node labels: " + "; ".join(f"'{k}' - {', '.join(v)}" for k, v in sorted(invalid.items())))


# --- KubeletConfiguration ------------------------------------------------------------------------------

_STR, _INT, _BOOL, _LIST, _MAP, _OBJ, _DUR = "string", "int32", "bool", "[]", "map", "object", "duration"
CONFIG_FIELDS = {
    "enableServer": _BOOL, "staticPodPath": _STR, "podLogsDir": _STR, "syncFrequency": _DUR, "fileCheckFrequency": _DUR,
    "httpCheckFrequency": _DUR, "staticPodURL": _STR, "staticPodURLHeader": _MAP, "address": _STR, "port": _INT,
    "readOnlyPort": _INT, "tlsCertFile": _STR, "tlsPrivateKeyFile": _STR, "tlsCipherSuites": _LIST, "tlsMinVersion": _STR,
    "rotateCertificates": _BOOL, "serverTLSBootstrap": _BOOL, "authentication": _OBJ, "authorization": _OBJ,
    "registryPullQPS": _INT, "registryBurst": _INT, "eventRecordQPS": _INT, "eventBurst": _INT,
    "enableDebuggingHandlers": _BOOL, "enableContentionProfiling": _BOOL, "healthzPort": _INT, "healthzBindAddress": _STR,
    "oomScoreAdj": _INT, "clusterDomain": _STR, "clusterDNS": _LIST, "streamingConnectionIdleTimeout": _DUR,
    "nodeStatusUpdateFrequency": _DUR, "nodeStatusReportFrequency": _DUR, "nodeLeaseDurationSeconds": _INT,
    "imageMinimumGCAge": _DUR, "imageMaximumGCAge": _DUR, "imageGCHighThresholdPercent": _INT,
    "imageGCLowThresholdPercent": _INT, "volumeStatsAggPeriod": _DUR, "kubeletCgroups": _STR, "systemCgroups": _STR,
    "cgroupRoot": _STR, "cgroupsPerQOS": _BOOL, "cgroupDriver": _STR, "cpuManagerPolicy": _STR,
    "singleProcessOOMKill": _BOOL, "cpuManagerPolicyOptions": _MAP, "cpuManagerReconcilePeriod": _DUR,
    "memoryManagerPolicy": _STR, "topologyManagerPolicy": _STR, "topologyManagerScope": _STR,
    "topologyManagerPolicyOptions": _MAP, "qosReserved": _MAP, "runtimeRequestTimeout": _DUR, "hairpinMode": _STR,
    "maxPods": _INT, "podCIDR": _STR, "podPidsLimit": _INT, "resolvConf": _STR, "runOnce": _BOOL, "cpuCFSQuota": _BOOL,
    "cpuCFSQuotaPeriod": _DUR, "nodeStatusMaxImages": _INT, "maxOpenFiles": _INT, "contentType": _STR,
    "kubeAPIQPS": _INT, "kubeAPIBurst": _INT, "serializeImagePulls": _BOOL, "maxParallelImagePulls": _INT,
    "evictionHard": _MAP, "evictionSoft": _MAP, "evictionSoftGracePeriod": _MAP, "evictionPressureTransitionPeriod": _DUR,
    "evictionMaxPodGracePeriod": _INT, "evictionMinimumReclaim": _MAP, "podsPerCore": _INT,
    "enableControllerAttachDetach": _BOOL, "protectKernelDefaults": _BOOL, "makeIPTablesUtilChains": _BOOL,
    "iptablesMasqueradeBit": _INT, "iptablesDropBit": _INT, "featureGates": _MAP, "failSwapOn": _BOOL,
    "memorySwap": _OBJ, "containerLogMaxSize": _STR, "containerLogMaxFiles": _INT, "containerLogMaxWorkers": _INT,
    "containerLogMonitorInterval": _DUR, "configMapAndSecretChangeDetectionStrategy": _STR, "systemReserved": _MAP,
    "kubeReserved": _MAP, "reservedSystemCPUs": _STR, "showHiddenMetricsForVersion": _STR, "systemReservedCgroup": _STR,
    "kubeReservedCgroup": _STR, "enforceNodeAllocatable": _LIST, "allowedUnsafeSysctls": _LIST, "volumePluginDir": _STR,
    "providerID": _STR, "kernelMemcgNotification": _BOOL, "logging": _OBJ, "enableSystemLogHandler": _BOOL,
    "enableSystemLogQuery": _BOOL, "shutdownGracePeriod": _DUR, "shutdownGracePeriodCriticalPods": _DUR,
    "shutdownGracePeriodByPodPriority": _LIST, "crashLoopBackOff": _OBJ, "reservedMemory": _LIST,
    "enableProfilingHandler": _BOOL, "enableDebugFlagsHandler": _BOOL, "seccompDefault": _BOOL,
    "memoryThrottlingFactor": "float", "registerWithTaints": _LIST, "registerNode": _BOOL, "tracing": _OBJ,
    "localStorageCapacityIsolation": _BOOL, "containerRuntimeEndpoint": _STR, "imageServiceEndpoint": _STR,
    "failCgroupV1": _BOOL, "userNamespaces": _OBJ,
}
NESTED_FIELDS = {
    "authentication": {"x509": {"clientCAFile": _STR}, "webhook": {"enabled": _BOOL, "cacheTTL": _DUR},
                       "anonymous": {"enabled": _BOOL}},
    "authorization": {"mode": _STR, "webhook": {"cacheAuthorizedTTL": _DUR, "cacheUnauthorizedTTL": _DUR}},
    "memorySwap": {"swapBehavior": _STR},
    "tracing": {"endpoint": _STR, "samplingRatePerMillion": _INT},
    "crashLoopBackOff": {"maxContainerRestartPeriod": _DUR},
    "userNamespaces": {"idsPerPod": _INT},
    "logging": {"format": _STR, "flushFrequency": "durnum", "verbosity": _INT, "vmodule": _LIST,
                "options": {"text": {"splitStream": _BOOL, "infoBufferSize": _STR},
                            "json": {"splitStream": _BOOL, "infoBufferSize": _STR}}},
}
DEFAULTS = {
    "staticPodPath": "", "address": "0.0.0.0", "port": 10250, "healthzPort": 10248, "healthzBindAddress": "127.0.0.1",
    "cgroupDriver": "cgroupfs", "containerRuntimeEndpoint": "unix:///run/containerd/containerd.sock",
    "registerNode": True, "registerWithTaints": [], "failSwapOn": True, "maxPods": 110, "nodeLeaseDurationSeconds": 40,
    "nodeStatusUpdateFrequency": "10s", "providerID": "",
}
_DURATION_RE = re.compile(r"^-?(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$|^0$")


class _DupCheckLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
    """SafeLoader that records duplicate mapping keys (a strict decoding error in the real one)."""

    duplicates = None

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                self.duplicates.append(f'line {key_node.start_mark.line + 1}: key "{key}" already set in map')
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _go_type(value):
    return {str: "string", bool: "bool", int: "number", float: "number", list: "array", dict: "object"}.get(type(value), "null")


def _check(obj, schema, path, unknown, type_errors):
    for key, value in obj.items():
        dotted = f"{path}.{key}" if path else str(key)
        if key not in schema:
            unknown.append(f'unknown field "{dotted}"')
            continue
        want = schema[key]
        if isinstance(want, dict):
            if value is None:
                continue
            if not isinstance(value, dict):
                type_errors.append(f"json: cannot unmarshal {_go_type(value)} into Go struct field KubeletConfiguration.{dotted} of type struct")
                continue
            _check(value, want, dotted, unknown, type_errors)
        elif value is not None and not _type_ok(value, want):
            go_want = {"[]": "[]string", "map": "map[string]string", "duration": "v1.Duration", "object": "struct"}.get(want, want)
            type_errors.append(f"json: cannot unmarshal {_go_type(value)} into Go struct field KubeletConfiguration.{dotted} of type {go_want}")


def _type_ok(value, want):
    if want == _STR:
        return isinstance(value, str)
    if want == _INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if want == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if want == _BOOL:
        return isinstance(value, bool)
    if want == _LIST:
        return isinstance(value, list)
    if want in (_MAP, _OBJ):
        return isinstance(value, dict)
    if want == _DUR:
        return isinstance(value, str) and bool(_DURATION_RE.match(value))
    if want == "durnum":  # logging's TimeOrMetaDuration: nanoseconds or a duration string
        return (isinstance(value, int) and not isinstance(value, bool)) or _type_ok(value, _DUR)
    return True


def decode_config(text, strict=None):
    """(merged config dict with defaults, [warning lines]) or raise ConfigError."""
    if strict is None:
        strict = os.environ.get("IRONSTONE_STANDIN_KUBELET_STRICT") == "1"
    loader = _DupCheckLoader(text)
    loader.duplicates = []
    try:
        doc = loader.get_single_data()
    except yaml.YAMLError as err:
        raise ConfigError(f"failed to decode: yaml: {err}") from err
    finally:
        loader.dispose()
    if not isinstance(doc, dict):
        raise ConfigError("failed to decode: couldn't get version/kind; json parse error: "
                          "json: cannot unmarshal " + _go_type(doc) + " into Go value of type struct")
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    if not kind:
        raise ConfigError(f"failed to decode: Object 'Kind' is missing in '{text.strip()}'")
    if api_version != KUBELET_API_VERSION or kind != "KubeletConfiguration":
        raise ConfigError(f'failed to decode: no kind "{kind}" is registered for version "{api_version}" '
                          'in scheme "pkg/kubelet/apis/config/scheme/scheme.go:33"')
    body = {k: v for k, v in doc.items() if k not in ("apiVersion", "kind")}
    unknown, type_errors = [], []
    _check(body, dict(CONFIG_FIELDS, **NESTED_FIELDS), "", unknown, type_errors)
    if type_errors:
        raise ConfigError("failed to decode: " + type_errors[0])
    warnings = []
    strict_errors = unknown + loader.duplicates
    if strict_errors:
        message = "strict decoding error: " + ", ".join(strict_errors)
        if strict:
            raise ConfigError(f"failed lenient decoding: {message} (refused: IRONSTONE_STANDIN_KUBELET_STRICT=1)")
        warnings.append(message)
    config = dict(DEFAULTS)
    config.update({k: v for k, v in body.items() if k in CONFIG_FIELDS and v is not None})
    if not config.get("containerRuntimeEndpoint"):
        # SetDefaults_KubeletConfiguration: an empty endpoint (kubeadm writes "") is containerd's socket
        config["containerRuntimeEndpoint"] = DEFAULTS["containerRuntimeEndpoint"]
    for key in NESTED_FIELDS:
        if isinstance(body.get(key), dict):
            config[key] = body[key]
    return config, warnings


def load_config_file(display_path, real_path, strict=None):
    """Read and decode the --config file; errors worded like the real kubelet's file loader."""
    try:
        with open(real_path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as err:
        reason = err.strerror.lower() if err.strerror else str(err)
        raise ConfigError(f"failed to load Kubelet config file {display_path}, error failed to read kubelet config file "
                          f'"{display_path}", error: open {display_path}: {reason}') from err
    if not text:
        raise ConfigError(f'failed to load Kubelet config file {display_path}, error kubelet config file "{display_path}" was empty')
    try:
        return decode_config(text, strict=strict)
    except ConfigError as err:
        raise ConfigError(f"failed to load Kubelet config file {display_path}, error {err}") from err


def validate_config(config):
    """ValidateKubeletConfiguration's subset the stand-in acts on (raise ValidationError)."""
    errors = []
    for field, flag in (("port", "--port"), ("healthzPort", "--healthz-port")):
        value = config.get(field)
        if field == "healthzPort" and value == 0:
            continue
        if not isinstance(value, int) or not 1 <= value <= 65535:
            errors.append(f"invalid configuration: {field} ({flag}) {value} must be between 1 and 65535, inclusive")
    if config.get("cgroupDriver") not in ("systemd", "cgroupfs"):
        errors.append(f"invalid configuration: cgroupDriver (--cgroup-driver) {config.get('cgroupDriver')!r} must be "
                      "'systemd' or 'cgroupfs'")
    if config.get("maxPods", 110) < 0:
        errors.append("invalid configuration: maxPods (--max-pods) must not be a negative number")
    for taint in config.get("registerWithTaints") or []:
        if not isinstance(taint, dict) or taint.get("effect") not in TAINT_EFFECTS or not taint.get("key"):
            errors.append(f"invalid configuration: registerWithTaints entry {taint!r} needs a key and an effect in {list(TAINT_EFFECTS)}")
    if errors:
        raise ValidationError("[" + ", ".join(errors) + "]" if len(errors) > 1 else errors[0])


def apply_flag_overrides(config, values):
    """Flags override the config file (the real kubelet re-parses flags over it)."""
    for name, value in values.items():
        field = FLAGS.get(name, (None, None, None))[2]
        if field:
            config[field] = value
    return config
