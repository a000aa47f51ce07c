"""STAND-IN: strict validator for kubeadm configuration files (lab and tests only).

This is NOT kubeadm.  It is the check the kubeadm stand-in of the Molecule
scenarios runs on a ``--config`` file, so that a role writing a file real
kubeadm would refuse fails here too.  Real kubeadm is exercised only where the
real binaries can be installed.

What it checks, for the pinned Kubernetes version:

* which ``apiVersion``/``kind`` pairs are accepted: ``kubeadm.k8s.io/v1beta4``
  from 1.31 on (Init, Cluster, Join, Reset and UpgradeConfiguration);
  ``kubeadm.k8s.io/v1beta3`` before 1.36 (Init, Cluster, JoinConfiguration);
  ``kubelet.config.k8s.io/v1beta1`` KubeletConfiguration and
  ``kubeproxy.config.k8s.io/v1alpha1`` KubeProxyConfiguration.  Anything else
  is refused, as is a document without apiVersion/kind or a kind given twice;
* every field of the kubeadm kinds, at every level, against a schema table
  written from the json tags and Go types of kubeadm's v1beta3/v1beta4 API
  types: unknown fields (a wrong-case name included) are refused the way
  ``kubeadm config validate`` refuses them (``strict decoding error: unknown
  field "apiServer.extraArgs[0].nmae"``), and wrong JSON types the way Go's
  decoder does (``json: cannot unmarshal string into Go struct field
  APIEndpoint.localAPIEndpoint.bindPort of type int32``).  Where Go stops at
  the first type error, this reports all of them;
* a subset of kubeadm's semantic validation, each rule naming its source next
  to the code: bootstrap token format, caCertHashes pins, Go durations,
  external etcd certificate/endpoint rules, kubernetesVersion, discovery,
  certificateKey, encryptionAlgorithm, imagePullPolicy, API endpoint address
  and port, absolute paths.

What it does NOT check:

* the KubeletConfiguration and KubeProxyConfiguration documents beyond their
  apiVersion/kind and that they are mappings: their fields are not validated;
* defaulting: kubeadm validates after filling defaults (node name from the
  hostname, detected CRI socket, ...); this validates only what the file sets;
* rules real kubeadm does not make at config time.  In particular a taint
  ``effect`` is not checked (kubeadm leaves that to the API server when the
  Node registers) and ``etcd.external.endpoints`` may be empty (kubeadm's
  validation accepts that; https endpoints without certificate files are also
  accepted, while certificate files require https endpoints);
* feature gate names, subnet sizes, image repository syntax, cert SANs,
  duplicate YAML keys, the corev1 ``fileKeyRef`` env source, and any network
  lookup (version labels such as ``stable`` are refused, not resolved).

API: ``validate(text, kubernetes_version)`` returns a list of error strings
(empty when valid); ``load(text, kubernetes_version)`` returns a dict of kind
to document, or raises ``ConfigError`` carrying the same messages.
"""
import ipaddress
import re
import urllib.parse

import yaml

KUBEADM_GROUP = "kubeadm.k8s.io"
COMPONENT_CONFIGS = {
    ("kubelet.config.k8s.io", "v1beta1"): ("KubeletConfiguration",),
    ("kubeproxy.config.k8s.io", "v1alpha1"): ("KubeProxyConfiguration",),
}


class ConfigError(Exception):
    """A kubeadm configuration file was refused; ``errors`` lists why."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


# ---------------------------------------------------------------------------
# Schema building blocks.  Scalars are named by a short string; the Go type
# printed in a type error is in GO_SCALARS.
# ---------------------------------------------------------------------------
GO_SCALARS = {
    "string": "string",
    "int32": "int32",
    "int": "int",
    "bool": "bool",
    "duration": "v1.Duration",      # metav1.Duration: a Go duration string
    "time": "v1.Time",              # metav1.Time: an RFC 3339 string
    "token": "v1.BootstrapTokenString",
    "quantity": "resource.Quantity",  # a string or a number
}
INT_RANGES = {"int32": (-(2 ** 31), 2 ** 31 - 1), "int": (-(2 ** 63), 2 ** 63 - 1)}


class Struct:
    """A Go struct: its qualified Go name and json field name -> type."""

    def __init__(self, go_name, fields):
        self.go_name = go_name
        self.name = go_name.rsplit(".", 1)[-1]
        self.fields = fields


class ListOf:
    """A Go slice of ``elem``."""

    def __init__(self, elem):
        self.elem = elem


class MapOf:
    """A Go ``map[string]value``."""

    def __init__(self, value):
        self.value = value


def go_type(spec):
    """The Go type name of a schema entry, as Go's json errors print it."""
    if isinstance(spec, Struct):
        return spec.go_name
    if isinstance(spec, ListOf):
        return "[]" + go_type(spec.elem)
    if isinstance(spec, MapOf):
        return "map[string]" + go_type(spec.value)
    return GO_SCALARS[spec]


def merge(*parts):
    """Fields of several dicts as one: Go's inline embedding."""
    out = {}
    for part in parts:
        out.update(part)
    return out


STRINGS = ListOf("string")
TYPE_META = {"apiVersion": "string", "kind": "string"}

# k8s.io/api/core/v1 and the bootstrap token API, shared by both versions.
TAINT = Struct("v1.Taint", {"key": "string", "value": "string", "effect": "string", "timeAdded": "time"})
KEY_SELECTOR = {"name": "string", "key": "string", "optional": "bool"}
ENV_VAR_SOURCE = Struct("v1.EnvVarSource", {
    "fieldRef": Struct("v1.ObjectFieldSelector", {"apiVersion": "string", "fieldPath": "string"}),
    "resourceFieldRef": Struct("v1.ResourceFieldSelector", {
        "containerName": "string", "resource": "string", "divisor": "quantity"}),
    "configMapKeyRef": Struct("v1.ConfigMapKeySelector", KEY_SELECTOR),
    "secretKeyRef": Struct("v1.SecretKeySelector", KEY_SELECTOR),
})
BOOTSTRAP_TOKEN = Struct("v1.BootstrapToken", {
    "token": "token", "description": "string", "ttl": "duration", "expires": "time",
    "usages": STRINGS, "groups": STRINGS,
})


def kubeadm_schema(api):
    """Kind -> Struct for ``kubeadm.k8s.io/<api>`` (api is v1beta3 or v1beta4).

    Written from the json tags and field types of
    cmd/kubeadm/app/apis/kubeadm/<api>/types.go in kubernetes/kubernetes.
    """
    beta4 = api == "v1beta4"

    def struct(name, fields):
        return Struct(f"{api}.{name}", fields)

    if beta4:
        # v1beta4: extra arguments are a list of {name, value}
        args = ListOf(struct("Arg", {"name": "string", "value": "string"}))
    else:
        # v1beta3: extra arguments are a map of flag name to value
        args = MapOf("string")
    api_endpoint = struct("APIEndpoint", {"advertiseAddress": "string", "bindPort": "int32"})
    host_path_mount = struct("HostPathMount", {
        "name": "string", "hostPath": "string", "mountPath": "string", "readOnly": "bool", "pathType": "string"})
    component = {"extraArgs": args, "extraVolumes": ListOf(host_path_mount)}
    env_vars = {}
    if beta4:
        env_var = struct("EnvVar", {"name": "string", "value": "string", "valueFrom": ENV_VAR_SOURCE})
        env_vars = {"extraEnvs": ListOf(env_var)}
        component = merge(component, env_vars)
    image_meta = {"imageRepository": "string", "imageTag": "string"}
    api_server = merge(component, {"certSANs": STRINGS})
    if not beta4:
        api_server["timeoutForControlPlane"] = "duration"
    dns = dict(image_meta)
    if beta4:
        dns["disabled"] = "bool"
    local_etcd = merge(image_meta, {"dataDir": "string", "extraArgs": args}, env_vars,
                       {"serverCertSANs": STRINGS, "peerCertSANs": STRINGS})
    external_etcd = {"endpoints": STRINGS, "caFile": "string", "certFile": "string", "keyFile": "string"}
    patches = struct("Patches", {"directory": "string"})
    node_registration = {
        "name": "string", "criSocket": "string", "taints": ListOf(TAINT), "kubeletExtraArgs": args,
        "ignorePreflightErrors": STRINGS, "imagePullPolicy": "string",
    }
    if beta4:
        node_registration["imagePullSerial"] = "bool"
    node_registration = struct("NodeRegistrationOptions", node_registration)

    cluster = {
        "etcd": struct("Etcd", {
            "local": struct("LocalEtcd", local_etcd),
            "external": struct("ExternalEtcd", external_etcd),
        }),
        "networking": struct("Networking", {"serviceSubnet": "string", "podSubnet": "string", "dnsDomain": "string"}),
        "kubernetesVersion": "string",
        "controlPlaneEndpoint": "string",
        "apiServer": struct("APIServer", api_server),
        "controllerManager": struct("ControlPlaneComponent", component),
        "scheduler": struct("ControlPlaneComponent", component),
        "dns": struct("DNS", dns),
        "certificatesDir": "string",
        "imageRepository": "string",
        "featureGates": MapOf("bool"),
        "clusterName": "string",
    }
    init = {
        "bootstrapTokens": ListOf(BOOTSTRAP_TOKEN),
        "nodeRegistration": node_registration,
        "localAPIEndpoint": api_endpoint,
        "certificateKey": "string",
        "skipPhases": STRINGS,
        "patches": patches,
    }
    discovery = {
        "bootstrapToken": struct("BootstrapTokenDiscovery", {
            "token": "string", "apiServerEndpoint": "string", "caCertHashes": STRINGS,
            "unsafeSkipCAVerification": "bool"}),
        "file": struct("FileDiscovery", {"kubeConfigPath": "string"}),
        "tlsBootstrapToken": "string",
    }
    if not beta4:
        discovery["timeout"] = "duration"
    join = {
        "nodeRegistration": node_registration,
        "caCertPath": "string",
        "discovery": struct("Discovery", discovery),
        "controlPlane": struct("JoinControlPlane", {"localAPIEndpoint": api_endpoint, "certificateKey": "string"}),
        "skipPhases": STRINGS,
        "patches": patches,
    }
    kinds = {"ClusterConfiguration": cluster, "InitConfiguration": init, "JoinConfiguration": join}
    if beta4:
        timeouts = struct("Timeouts", {name: "duration" for name in (
            "controlPlaneComponentHealthCheck", "kubeletHealthCheck", "kubernetesAPICall", "etcdAPICall",
            "tlsBootstrap", "discovery", "upgradeManifests")})
        cluster.update({
            "proxy": struct("Proxy", {"disabled": "bool"}),
            "encryptionAlgorithm": "string",
            "certificateValidityPeriod": "duration",
            "caCertificateValidityPeriod": "duration",
        })
        init.update({"dryRun": "bool", "timeouts": timeouts})
        join.update({"dryRun": "bool", "timeouts": timeouts})
        kinds["ResetConfiguration"] = {
            "cleanupTmpDir": "bool", "certificatesDir": "string", "criSocket": "string", "dryRun": "bool",
            "force": "bool", "ignorePreflightErrors": STRINGS, "skipPhases": STRINGS, "unmountFlags": STRINGS,
            "timeouts": timeouts,
        }
        pulls = {"imagePullPolicy": "string", "imagePullSerial": "bool"}
        kinds["UpgradeConfiguration"] = {
            "apply": struct("UpgradeApplyConfiguration", merge({
                "kubernetesVersion": "string", "allowExperimentalUpgrades": "bool", "allowRCUpgrades": "bool",
                "certificateRenewal": "bool", "dryRun": "bool", "etcdUpgrade": "bool", "forceUpgrade": "bool",
                "ignorePreflightErrors": STRINGS, "patches": patches, "printConfig": "bool", "skipPhases": STRINGS,
            }, pulls)),
            "diff": struct("UpgradeDiffConfiguration", {"kubernetesVersion": "string", "contextLines": "int"}),
            "node": struct("UpgradeNodeConfiguration", merge({
                "certificateRenewal": "bool", "dryRun": "bool", "etcdUpgrade": "bool",
                "ignorePreflightErrors": STRINGS, "skipPhases": STRINGS, "patches": patches,
            }, pulls)),
            "plan": struct("UpgradePlanConfiguration", {
                "kubernetesVersion": "string", "allowExperimentalUpgrades": "bool", "allowRCUpgrades": "bool",
                "dryRun": "bool", "ignorePreflightErrors": STRINGS, "printConfig": "bool"}),
            "timeouts": timeouts,
        }
    return {kind: struct(kind, merge(TYPE_META, fields)) for kind, fields in kinds.items()}


SCHEMAS = {api: kubeadm_schema(api) for api in ("v1beta3", "v1beta4")}


def parse_version(version):
    """(major, minor, patch) of "1.33.2", "v1.33.2" or "1.33"."""
    match = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+][0-9A-Za-z.+-]*)?", str(version).strip())
    if not match:
        raise ValueError(f"not a Kubernetes version: {version!r}")
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def kubeadm_apis(minor):
    """kubeadm.k8s.io versions the kubeadm of 1.<minor> decodes."""
    apis = []
    if minor >= 31:
        apis.append("v1beta4")
    if minor < 36:
        apis.append("v1beta3")
    return apis


def gvk_string(group, version, kind):
    """A GVK the way kubeadm prints it with %#v."""
    return f'schema.GroupVersionKind{{Group:"{group}", Version:"{version}", Kind:"{kind}"}}'


# ---------------------------------------------------------------------------
# Go value parsers
# ---------------------------------------------------------------------------
DURATION_UNITS = ("ns", "us", "\u00b5s", "\u03bcs", "ms", "s", "m", "h")
DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)([^\d.]*)")


def go_duration_error(text):
    """The error time.ParseDuration gives for ``text``, or None if it parses."""
    quoted = '"' + text + '"'
    rest = text[1:] if text[:1] in ("-", "+") else text
    if rest == "0":
        return None
    if not rest:
        return f"time: invalid duration {quoted}"
    pos = 0
    while pos < len(rest):
        match = DURATION_PART.match(rest, pos)
        if not match:
            return f"time: invalid duration {quoted}"
        unit = match.group(2)
        if not unit:
            return f"time: missing unit in duration {quoted}"
        if unit not in DURATION_UNITS:
            # Go takes the unit up to the next digit or '.'
            return f'time: unknown unit "{unit}" in duration {quoted}'
        pos = match.end()
    return None


RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
# k8s.io/cluster-bootstrap/token/api BootstrapTokenPattern
BOOTSTRAP_TOKEN_PATTERN = r"\A([a-z0-9]{6})\.([a-z0-9]{16})\z"
BOOTSTRAP_TOKEN_RE = re.compile(r"([a-z0-9]{6})\.([a-z0-9]{16})")


def go_quote(text):
    """Go's %q for plain text (backslashes and quotes escaped)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def json_kind(value):
    """The JSON kind Go's json errors name for a decoded YAML value."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


# ---------------------------------------------------------------------------
# Structural (decode-time) checks
# ---------------------------------------------------------------------------
class Decoder:
    """Walks one document against its Struct, collecting decode errors."""

    def __init__(self):
        self.unknown = []       # paths as the strict decoder prints them
        self.type_errors = []   # full messages

    def type_error(self, value, struct, field_path, spec, detail=None):
        """Record a Go json UnmarshalTypeError."""
        shown = json_kind(value)
        if detail:
            shown = f"{shown} {detail}"
        self.type_errors.append(
            f"json: cannot unmarshal {shown} into Go struct field {struct.name}.{'.'.join(field_path)} of type {go_type(spec)}")

    def walk(self, value, spec, struct, strict_path, field_path):
        """Check ``value`` against ``spec``; ``struct`` is the innermost struct."""
        if value is None:
            return  # JSON null leaves a Go value at its zero value
        if isinstance(spec, Struct):
            if not isinstance(value, dict):
                self.type_error(value, struct, field_path, spec)
                return
            for key, item in value.items():
                key = str(key)
                child_strict = f"{strict_path}.{key}" if strict_path else key
                if key not in spec.fields:
                    self.unknown.append(child_strict)
                    continue
                self.walk(item, spec.fields[key], spec, child_strict, field_path + [key])
        elif isinstance(spec, ListOf):
            if not isinstance(value, list):
                self.type_error(value, struct, field_path, spec)
                if isinstance(value, dict) and isinstance(spec.elem, Struct) and spec.elem.name == "Arg":
                    self.type_errors[-1] += (" (in v1beta4 extraArgs/kubeletExtraArgs are a list of {name, value}; "
                                             "a map of flag to value is the v1beta3 form)")
                return
            for index, item in enumerate(value):
                self.walk(item, spec.elem, struct, f"{strict_path}[{index}]", field_path)
        elif isinstance(spec, MapOf):
            if not isinstance(value, dict):
                self.type_error(value, struct, field_path, spec)
                return
            for key, item in value.items():
                self.walk(item, spec.value, struct, f"{strict_path}.{key}", field_path + [str(key)])
        else:
            self.scalar(value, spec, struct, field_path)

    def scalar(self, value, spec, struct, field_path):
        """Check one scalar field."""
        if spec == "bool":
            if not isinstance(value, bool):
                self.type_error(value, struct, field_path, spec)
        elif spec in INT_RANGES:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.type_error(value, struct, field_path, spec)
            elif isinstance(value, float) or not INT_RANGES[spec][0] <= value <= INT_RANGES[spec][1]:
                self.type_error(value, struct, field_path, spec, detail=str(value))
        elif spec == "quantity":
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                self.type_error(value, struct, field_path, spec)
        else:
            if not isinstance(value, str):
                self.type_error(value, struct, field_path, spec)
            elif spec == "duration":
                # metav1.Duration.UnmarshalJSON uses time.ParseDuration
                error = go_duration_error(value)
                if error:
                    self.type_errors.append(error)
            elif spec == "time" and not RFC3339.fullmatch(value):
                # metav1.Time.UnmarshalJSON parses RFC 3339
                self.type_errors.append(f'parsing time {go_quote(value)} as "2006-01-02T15:04:05Z07:00": cannot parse')
            elif spec == "token" and value and not BOOTSTRAP_TOKEN_RE.fullmatch(value):
                # bootstraptoken/v1 BootstrapTokenString.UnmarshalJSON (NewBootstrapTokenString)
                self.type_errors.append(
                    f"the bootstrap token {go_quote(value)} was not of the form {go_quote(BOOTSTRAP_TOKEN_PATTERN)}")


# ---------------------------------------------------------------------------
# Semantic checks (subset of cmd/kubeadm/app/apis/kubeadm/validation)
# ---------------------------------------------------------------------------
def invalid(path, value, detail):
    """A field.Invalid error as field.Error.Error() prints it."""
    shown = go_quote(value) if isinstance(value, str) else str(value)
    return f"{path}: Invalid value: {shown}: {detail}"


def required(path, detail):
    """A field.Required error."""
    return f"{path}: Required value: {detail}"


def get(doc, *keys):
    """doc[k1][k2]... or None where a level is missing."""
    for key in keys:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def check_token(token, path):
    """validation.ValidateToken (bootstraputil.IsValidBootstrapToken)."""
    if not isinstance(token, str) or not BOOTSTRAP_TOKEN_RE.fullmatch(token):
        return [invalid(path, token if isinstance(token, str) else "", "the bootstrap token is invalid")]
    return []


def check_ca_cert_hash(pin):
    """util/pubkeypin Set.Allow, which kubeadm join runs on each caCertHashes entry."""
    parts = pin.split(":")
    if len(parts) != 2:
        return 'invalid hash, expected "format:hex-value". Known format(s) are: sha256'
    fmt, value = parts
    if fmt.lower() != "sha256":
        return f"unknown hash format {go_quote(fmt)}. Known format(s) are: sha256"
    if len(value) // 2 != 32:
        return f"invalid hash {go_quote(pin)}, expected a 32 byte SHA-256 hash, found {len(value) // 2} bytes"
    for char in value:
        if char not in "0123456789abcdefABCDEF":
            return (f"invalid hash {go_quote(pin)}, could not decode SHA-256 from hex: "
                    f"encoding/hex: invalid byte: U+{ord(char):04X} {char!r}")
    if len(value) % 2:
        return f"invalid hash {go_quote(pin)}, could not decode SHA-256 from hex: encoding/hex: odd length hex string"
    return None


def is_abs(path):
    """validation.isAbs on Linux."""
    return isinstance(path, str) and path.startswith("/")


def check_api_endpoint(endpoint, path):
    """validation.ValidateAPIEndpoint, for the fields the file sets."""
    errors = []
    address = get(endpoint, "advertiseAddress")
    if address:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            errors.append(invalid(f"{path}.advertiseAddress", address, "ip address is not valid"))
    port = get(endpoint, "bindPort")
    if port is not None and not 0 < port < 65536:
        errors.append(invalid(f"{path}.bindPort", port, "port number is not valid"))
    return errors


def check_certificate_key(key, path):
    """validation.ValidateCertificateKey: hex of a 32-byte AES key."""
    if not key:
        return []
    if len(key) % 2 or any(c not in "0123456789abcdefABCDEF" for c in key):
        return [invalid(path, key, "certificate key decoding error: encoding/hex: invalid byte or odd length")]
    if len(key) // 2 != 32:
        return [invalid(path, key, f"invalid certificate key size {len(key) // 2}, the key must be an AES key of size 32")]
    return []


def check_node_registration(nro, path):
    """validation.ValidateNodeRegistrationOptions, for the fields set (no taint check there either)."""
    policy = get(nro, "imagePullPolicy")
    # validation.ValidateImagePullPolicy
    if policy and policy not in ("Always", "IfNotPresent", "Never"):
        return [invalid(f"{path}.imagePullPolicy", policy, "invalid pull policy; supported values: Always, IfNotPresent, Never")]
    return []


def check_kubernetes_version(version, minor):
    """util.KubernetesReleaseVersion and config.NormalizeKubernetesVersion.

    A release version may be given with or without the leading "v"; labels
    (stable, latest, ci/...) need a network lookup, which the stand-in refuses.
    kubeadm of 1.<minor> deploys control planes of 1.<minor-1> and newer.
    """
    match = re.fullmatch(r"v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)([-\w.+]*)?", version)
    if not match:
        return [invalid("kubernetesVersion", version,
                        "not a release version v<major>.<minor>.<patch> (labels such as stable need a network lookup)")]
    major, got_minor = int(match.group(1)), int(match.group(2))
    if (major, got_minor) < (1, minor - 1):
        return [f"this version of kubeadm only supports deploying clusters with the control plane version >= 1.{minor - 1}.0. "
                f"Current version: v{version.lstrip('v')}"]
    return []


def check_etcd(etcd):
    """validation.ValidateEtcd."""
    errors = []
    local, external = get(etcd, "local"), get(etcd, "external")
    if local is not None and external is not None:
        return [invalid("etcd", "", ".Etcd.Local and .Etcd.External are mutually exclusive")]
    if local is not None:
        data_dir = get(local, "dataDir")
        if data_dir and not is_abs(data_dir):
            errors.append(invalid("etcd.local.dataDir", data_dir, "path is not absolute"))
        errors += check_args(get(local, "extraArgs"), "etcd.local.extraArgs")
    if external is not None:
        files = {name: get(external, name) or "" for name in ("caFile", "certFile", "keyFile")}
        require_https = any(files.values())
        if bool(files["certFile"]) != bool(files["keyFile"]):
            errors.append(invalid("etcd.external", "",
                                  "either both or none of .Etcd.External.CertFile and .Etcd.External.KeyFile must be set"))
        if files["certFile"] and files["keyFile"] and not files["caFile"]:
            errors.append(invalid("etcd.external", "",
                                  "setting .Etcd.External.CertFile and .Etcd.External.KeyFile requires .Etcd.External.CAFile"))
        # validation.ValidateURLs
        for url in get(external, "endpoints") or []:
            scheme = urllib.parse.urlsplit(url).scheme
            if require_https and scheme != "https":
                errors.append(invalid("etcd.external.endpoints", url, "the URL must be using the HTTPS scheme"))
            if not scheme:
                errors.append(invalid("etcd.external.endpoints", url, "the URL without scheme is not allowed"))
        for name, value in files.items():
            if value and not is_abs(value):
                errors.append(invalid(f"etcd.external.{name}", value, "path is not absolute"))
    return errors


def check_args(args, path):
    """validation.ValidateExtraArgs (v1beta4 list form): every argument has a name."""
    if not isinstance(args, list):
        return []
    return [invalid(path, f"index {index}", "argument has no name")
            for index, arg in enumerate(args) if isinstance(arg, dict) and not arg.get("name")]


def check_cluster(doc, minor):
    """validation.ValidateClusterConfiguration (subset)."""
    errors = []
    version = doc.get("kubernetesVersion")
    if version:
        errors += check_kubernetes_version(version, minor)
    errors += check_etcd(doc.get("etcd"))
    for component in ("apiServer", "controllerManager", "scheduler"):
        errors += check_args(get(doc, component, "extraArgs"), f"{component}.extraArgs")
    certificates_dir = doc.get("certificatesDir")
    if certificates_dir and not is_abs(certificates_dir):
        errors.append(invalid("certificatesDir", certificates_dir, "path is not absolute"))
    algorithm = doc.get("encryptionAlgorithm")
    known = ["ECDSA-P256", "RSA-2048", "RSA-3072", "RSA-4096"]
    if algorithm and algorithm not in known:
        errors.append(invalid("encryptionAlgorithm", algorithm,
                              f"Invalid encryption algorithm {go_quote(algorithm)}. Must be one of [{' '.join(known)}]"))
    return errors


def check_init(doc):
    """validation.ValidateInitConfiguration (subset)."""
    errors = []
    for index, token in enumerate(doc.get("bootstrapTokens") or []):
        # the token's format is checked when it is decoded; TTL and Expires are exclusive
        if isinstance(token, dict) and token.get("ttl") is not None and token.get("expires") is not None:
            errors.append(invalid(f"bootstrapTokens.{index}", "", "the BootstrapToken .TTL and .Expires fields are mutually exclusive"))
    errors += check_node_registration(doc.get("nodeRegistration"), "nodeRegistration")
    errors += check_args(get(doc, "nodeRegistration", "kubeletExtraArgs"), "nodeRegistration.kubeletExtraArgs")
    errors += check_api_endpoint(doc.get("localAPIEndpoint"), "localAPIEndpoint")
    errors += check_certificate_key(doc.get("certificateKey"), "certificateKey")
    return errors


def check_join(doc):
    """validation.ValidateJoinConfiguration and ValidateDiscovery, plus the pin check of kubeadm join."""
    errors = []
    discovery = doc.get("discovery") or {}
    token, file = discovery.get("bootstrapToken"), discovery.get("file")
    if token is None and file is None:
        errors.append(invalid("discovery", "", "bootstrapToken or file must be set"))
    if token is not None and file is not None:
        errors.append(invalid("discovery", "", "bootstrapToken and file cannot both be set"))
    if token is not None:
        path = "discovery.bootstrapToken"
        if not token.get("apiServerEndpoint"):
            errors.append(required(path, "APIServerEndpoint is not set"))
        hashes = token.get("caCertHashes") or []
        if not hashes and not token.get("unsafeSkipCAVerification"):
            errors.append(invalid(f"{path}.caCertHashes", "",
                                  "using token-based discovery without caCertHashes can be unsafe. Set unsafeSkipCAVerification "
                                  "as true in your kubeadm config file or pass --discovery-token-unsafe-skip-ca-verification flag to continue"))
        errors += check_token(token.get("token"), f"{path}.token")
        for pin in hashes:
            error = check_ca_cert_hash(pin)
            if error:
                errors.append(f"{path}.caCertHashes: {error}")
    if discovery.get("tlsBootstrapToken"):
        # defaulted from bootstrapToken.token when unset, validated when set
        errors += check_token(discovery["tlsBootstrapToken"], "discovery.tlsBootstrapToken")
    errors += check_node_registration(doc.get("nodeRegistration"), "nodeRegistration")
    errors += check_args(get(doc, "nodeRegistration", "kubeletExtraArgs"), "nodeRegistration.kubeletExtraArgs")
    control_plane = doc.get("controlPlane")
    if control_plane is not None:
        errors += check_api_endpoint(control_plane.get("localAPIEndpoint"), "controlPlane.localAPIEndpoint")
        errors += check_certificate_key(control_plane.get("certificateKey"), "controlPlane.certificateKey")
    ca_cert_path = doc.get("caCertPath")
    if ca_cert_path and (not is_abs(ca_cert_path) or not ca_cert_path.endswith(".crt")):
        errors.append(invalid("caCertPath", ca_cert_path, "the ca certificate path must be an absolute path"))
    return errors


SEMANTIC = {
    "ClusterConfiguration": check_cluster,
    "InitConfiguration": lambda doc, minor: check_init(doc),
    "JoinConfiguration": lambda doc, minor: check_join(doc),
}


# ---------------------------------------------------------------------------
# Documents
# ---------------------------------------------------------------------------
class _Loader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
    """SafeLoader that keeps timestamps as strings, as sigs.k8s.io/yaml does."""


def _timestamp_as_string(loader, node):
    return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_string)


def _check_document(doc, minor, seen, kinds):
    """Errors of one non-empty document; records its kind in ``kinds``."""
    if not isinstance(doc, dict):
        return [f"invalid configuration: a document must be a mapping, got {json_kind(doc)}"]
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str) or not api_version or not kind:
        return [f"invalid configuration for GroupVersionKind {gvk_string('', str(api_version or ''), str(kind or ''))}: "
                "kind and apiVersion is mandatory information that must be specified"]
    group, _sep, version = api_version.rpartition("/")
    gvk = gvk_string(group, version, kind)
    if (group, version, kind) in seen:
        return [f"invalid configuration: kind {go_quote(kind)} is specified twice in YAML file"]
    seen.add((group, version, kind))
    kinds[kind] = doc
    if kind in COMPONENT_CONFIGS.get((group, version), ()):
        return []  # component configs: apiVersion/kind and mapping only
    schema = SCHEMAS.get(version, {}).get(kind) if group == KUBEADM_GROUP else None
    if schema is None or version not in ("v1beta3", "v1beta4"):
        return [f"unknown configuration {gvk}"]
    if version not in kubeadm_apis(minor):
        if version == "v1beta3":
            # kubeadm's validateSupportedVersion for an API it no longer reads
            return [f"your configuration file uses an old API spec: {go_quote(api_version)} (kind: {go_quote(kind)}). "
                    "Please use kubeadm v1.35 instead and run 'kubeadm config migrate --old-config old.yaml "
                    "--new-config new.yaml'."]
        return [f"unknown configuration {gvk}"]
    decoder = Decoder()
    decoder.walk(doc, schema, schema, "", [])
    prefix = f"error unmarshaling configuration {gvk}: "
    errors = [prefix + message for message in decoder.type_errors]
    if decoder.unknown:
        errors.append(prefix + "strict decoding error: " + ", ".join(f'unknown field "{path}"' for path in decoder.unknown))
    if not errors and kind in SEMANTIC:
        errors += SEMANTIC[kind](doc, minor)
    return errors


def _validate(text, kubernetes_version):
    minor = parse_version(kubernetes_version)[1]
    try:
        documents = list(yaml.load_all(text, Loader=_Loader))  # nosec: SafeLoader subclass
    except yaml.YAMLError as exc:
        return [f"error converting YAML to JSON: {exc}"], {}
    errors, seen, kinds = [], set(), {}
    for doc in documents:
        if doc is None:
            continue  # empty documents are skipped, as kubeadm splits them
        errors += _check_document(doc, minor, seen, kinds)
    if not kinds and not errors:
        errors.append("no configuration documents found")
    return errors, kinds


def validate(text, kubernetes_version):
    """Errors of a multi-document kubeadm config for the pinned version ([] if valid)."""
    return _validate(text, kubernetes_version)[0]


def load(text, kubernetes_version):
    """Kind -> document of a valid config; raises ConfigError otherwise."""
    errors, kinds = _validate(text, kubernetes_version)
    if errors:
        raise ConfigError(errors)
    return kinds
