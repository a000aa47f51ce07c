"""STAND-IN: object validation for the kube-apiserver stand-in (schema checks and a subset of semantic rules).

What this module does, and where it differs from a real kube-apiserver of the release in ``version.py``:

* Built-in kinds are checked against the OpenAPI schemas that the ``kubernetes-validate`` package ships
  for that minor (e.g. its ``v1.36.0-local`` directory for 1.36.x, the non-strict variant), read directly from its
  package directory (no CLI, no network).  Unknown fields are found by walking the object along the
  schema (``properties``, ``additionalProperties``, ``items``, ``$ref``, ``oneOf``), so that the
  ``fieldValidation`` setting (Strict / Warn / Ignore) decides what happens to them, as in the real server.
* The real server rejects wrongly typed values of built-in kinds while decoding
  (``json: cannot unmarshal string into Go struct field ...``, HTTP 400); the stand-in reports them as field
  errors in the CRD style instead (``spec.replicas: Invalid value: "string": spec.replicas in body must be
  of type integer: "string"``).
* The real server's Go validation code for built-in kinds is large; the stand-in implements the rules the
  collection's roles can hit (see ``_SEMANTIC_RULES``): metadata (name, namespace, labels, annotations),
  Deployment/DaemonSet/StatefulSet/ReplicaSet selectors against the template labels, a ``local``
  PersistentVolume's node affinity, StorageClass enums, Node taints, ConfigMap/Secret keys.  Everything
  else the real server would refuse may pass here.
* Custom resources are checked against the CRD's ``openAPIV3Schema`` the way the apiextensions server does
  for structural schemas: unknown fields are pruned (or refused with Strict) unless
  ``x-kubernetes-preserve-unknown-fields: true`` or ``additionalProperties`` allows them, ``null`` is
  pruned where the schema is not ``nullable``, and ``default`` values are applied.
  ``x-kubernetes-validations`` (CEL rules) are NOT evaluated by the stand-in; ``format`` is not checked.
"""
import copy
import importlib.util
import json
import os
import re
from functools import lru_cache

try:
    from ..version import KUBERNETES_VERSION
except ImportError:  # imported as a top-level module (tests that put this directory on sys.path)
    def _version_from_file():
        path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "version.py")
        with open(path, encoding="utf-8") as handle:
            return re.search(r'(?m)^KUBERNETES_VERSION = "([^"]+)"$', handle.read()).group(1)
    KUBERNETES_VERSION = _version_from_file()

FIELD_VALIDATION_MODES = ("Strict", "Warn", "Ignore")
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
CONFIGMAP_SIZE_LIMIT = 1024 * 1024

# Kinds that are cluster-scoped in Kubernetes 1.32 (everything else built in is namespaced).
CLUSTER_SCOPED_KINDS = frozenset((
    "APIService", "CertificateSigningRequest", "ClusterRole", "ClusterRoleBinding", "ClusterTrustBundle",
    "ComponentStatus", "CSIDriver", "CSINode", "CustomResourceDefinition", "DeviceClass", "FlowSchema",
    "IngressClass", "IPAddress", "MutatingWebhookConfiguration", "Namespace", "Node", "PersistentVolume",
    "PriorityClass", "PriorityLevelConfiguration", "RuntimeClass", "SelfSubjectAccessReview",
    "SelfSubjectReview", "SelfSubjectRulesReview", "ServiceCIDR", "StorageClass", "SubjectAccessReview",
    "TokenReview", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
    "ValidatingWebhookConfiguration", "VolumeAttachment", "VolumeAttributesClass",
))

_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


# --------------------------------------------------------------------------------------------------
# kubernetes-validate's schema files
# --------------------------------------------------------------------------------------------------

def schema_directory(version=KUBERNETES_VERSION):
    """The directory of kubernetes-validate's JSON schemas for a Kubernetes minor (``.../v1.36.0-local``).

    Found through the import system without importing the package (its ``__init__`` pulls in its CLI's
    dependencies, which the stand-in does not need).  None when the package is not installed.
    """
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        return None
    major_minor = ".".join(version.split(".")[:2])
    for location in spec.submodule_search_locations:
        path = os.path.join(location, "kubernetes-json-schema", "v%s.0-local" % major_minor)
        if os.path.isdir(path):
            return path
    return None


@lru_cache(maxsize=None)
def _definitions():
    directory = schema_directory()
    if directory is None:
        return None
    with open(os.path.join(directory, "_definitions.json"), encoding="utf-8") as handle:
        return json.load(handle)["$defs"]


def _group_file_part(api_version):
    """'apps/v1' -> ('apps', 'apps-v1'); 'v1' -> ('', 'v1'); 'rbac.authorization.k8s.io/v1' -> rbac-v1."""
    if "/" in api_version:
        group, version = api_version.split("/", 1)
        return group, "%s-%s" % (group.split(".")[0], version)
    return "", api_version


@lru_cache(maxsize=None)
def _builtin_schema_cached(api_version, kind):
    directory = schema_directory()
    definitions = _definitions()
    if directory is None or definitions is None or not kind or not api_version:
        return None
    group, suffix = _group_file_part(api_version)
    path = os.path.join(directory, "%s-%s.json" % (kind.lower(), suffix))
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as handle:
        schema = json.load(handle)
    version = api_version.split("/")[-1]
    gvks = schema.get("x-kubernetes-group-version-kind") or []
    if not any(g.get("group", "") == group and g.get("version") == version and g.get("kind") == kind for g in gvks):
        return None  # e.g. 'apps.example.com/v1' Deployment is not the built-in one
    schema["$defs"] = definitions
    return schema


def builtin_schema(api_version, kind):
    """The OpenAPI (JSON schema) of a built-in kind for KUBERNETES_VERSION's minor, or None when it is not built in.

    The result is the kind's top-level schema with ``$defs`` holding all definitions, so that every
    ``$ref`` in it (``/api/_definitions.json#/$defs/X`` or ``#/$defs/X``) resolves through ``resolve()``.
    It is cached and shared: treat it as read-only.
    """
    return _builtin_schema_cached(api_version or "", kind or "")


# --------------------------------------------------------------------------------------------------
# Schema navigation, shared with patching.py
# --------------------------------------------------------------------------------------------------

def resolve(schema, root):
    """Follow ``$ref``s; the referring schema's own keywords (``x-kubernetes-*``) win over the target's."""
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < 50:
        ref = schema["$ref"]
        name = ref.rsplit("/", 1)[-1]
        target = None
        if isinstance(root, dict):
            target = (root.get("$defs") or {}).get(name) or (root.get("definitions") or {}).get(name)
        if target is None:
            return {k: v for k, v in schema.items() if k != "$ref"}
        merged = dict(target)
        merged.update({k: v for k, v in schema.items() if k != "$ref"})
        schema = merged
        seen += 1
    return schema


def schema_types(schema):
    """The JSON types a (resolved) schema allows, without 'null'; empty set = any."""
    kind = schema.get("type") if isinstance(schema, dict) else None
    if kind is None:
        return set()
    if isinstance(kind, str):
        kind = [kind]
    return {t for t in kind if t != "null"}


def property_schema(schema, key, root):
    """The schema of field ``key`` of an object schema (``properties``, else ``additionalProperties``)."""
    schema = resolve(schema, root)
    if not isinstance(schema, dict):
        return None
    props = schema.get("properties") or {}
    if key in props:
        return resolve(props[key], root)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        return resolve(extra, root)
    return None


def items_schema(schema, root):
    schema = resolve(schema, root)
    if isinstance(schema, dict) and isinstance(schema.get("items"), dict):
        return resolve(schema["items"], root)
    return None


def is_map_schema(schema):
    """True for a granular map (``additionalProperties`` with no ``properties``), e.g. labels or data."""
    return (isinstance(schema, dict) and isinstance(schema.get("additionalProperties"), dict)
            and not schema.get("properties"))


# --------------------------------------------------------------------------------------------------
# Message helpers (texts of k8s.io/apimachinery/pkg/util/validation)
# --------------------------------------------------------------------------------------------------

def go_value(value):
    """A value as the real server's field errors print it (strings quoted, numbers bare, null -> "null")."""
    if value is None:
        return '"null"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def go_string_map(value):
    """A map[string]string as Go's %#v prints it: map[string]string{"a":"b"} (nil -> map[string]string(nil))."""
    if not value:
        return "map[string]string(nil)" if value is None else "map[string]string{}"
    return "map[string]string{%s}" % ", ".join(
        "%s:%s" % (json.dumps(k), json.dumps(str(v))) for k, v in sorted(value.items()))


def invalid(path, value, detail):
    return "%s: Invalid value: %s: %s" % (path, go_value(value), detail)


def required(path, detail=""):
    return "%s: Required value%s" % (path, ": " + detail if detail else "")


def unsupported(path, value, supported):
    return "%s: Unsupported value: %s: supported values: %s" % (
        path, go_value(value), ", ".join(json.dumps(s) for s in supported))


def _regex_error(msg, fmt, *examples):
    if not examples:
        return "%s (regex used for validation is '%s')" % (msg, fmt)
    text = msg + " (e.g. "
    for i, example in enumerate(examples):
        if i > 0:
            text += " or "
        text += "'" + example + "', "
    return text + "regex used for validation is '" + fmt + "')"


def _max_len_error(length):
    return "must be no more than %d characters" % length


_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL_RE = re.compile("^" + _DNS1123_LABEL_FMT + "$")
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + r"(\." + _DNS1123_LABEL_FMT + ")*"
_DNS1123_SUBDOMAIN_RE = re.compile("^" + _DNS1123_SUBDOMAIN_FMT + "$")
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_DNS1035_LABEL_RE = re.compile("^" + _DNS1035_LABEL_FMT + "$")
_QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QUALIFIED_NAME_RE = re.compile("^" + _QUALIFIED_NAME_FMT + "$")
_QUALIFIED_NAME_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', "
                       "and must start and end with an alphanumeric character")
_LABEL_VALUE_FMT = "(" + _QUALIFIED_NAME_FMT + ")?"
_LABEL_VALUE_RE = re.compile("^" + _LABEL_VALUE_FMT + "$")
_CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"
_CONFIG_KEY_RE = re.compile("^" + _CONFIG_KEY_FMT + "$")


def dns1123_subdomain_errors(value):
    errs = []
    if len(value) > 253:
        errs.append(_max_len_error(253))
    if not _DNS1123_SUBDOMAIN_RE.match(value):
        errs.append(_regex_error("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                                 "'-' or '.', and must start and end with an alphanumeric character",
                                 _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def dns1123_label_errors(value):
    errs = []
    if len(value) > 63:
        errs.append(_max_len_error(63))
    if not _DNS1123_LABEL_RE.match(value):
        errs.append(_regex_error("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                                 "and must start and end with an alphanumeric character",
                                 _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def dns1035_label_errors(value):
    errs = []
    if len(value) > 63:
        errs.append(_max_len_error(63))
    if not _DNS1035_LABEL_RE.match(value):
        errs.append(_regex_error("a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
                                 "start with an alphabetic character, and end with an alphanumeric character",
                                 _DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


def path_segment_errors(value):
    if value in (".", ".."):
        return ["may not be '%s'" % value]
    return ["may not contain '%s'" % c for c in ("/", "%") if c in value]


def qualified_name_errors(value):
    """IsQualifiedName: ``[prefix/]name`` with a DNS-1123 subdomain prefix and a name of at most 63 characters."""
    errs = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in dns1123_subdomain_errors(prefix))
    else:
        return ["a qualified name " + _regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part " + _max_len_error(63))
    if not _QUALIFIED_NAME_RE.match(name):
        errs.append("name part " + _regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc"))
    return errs


def label_value_errors(value):
    errs = []
    if len(value) > 63:
        errs.append(_max_len_error(63))
    if not _LABEL_VALUE_RE.match(value):
        errs.append(_regex_error("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
                                 "or '.', and must start and end with an alphanumeric character",
                                 _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def config_key_errors(value):
    errs = []
    if len(value) > 253:
        errs.append(_max_len_error(253))
    if not _CONFIG_KEY_RE.match(value):
        errs.append(_regex_error("a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                                 _CONFIG_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    if value == ".":
        errs.append("must not be '.'")
    elif value == "..":
        errs.append("must not be '..'")
    elif value.startswith(".."):
        errs.append("must not start with '..'")
    return errs


# --------------------------------------------------------------------------------------------------
# metadata
# --------------------------------------------------------------------------------------------------

# Name rules of the real server per kind: most kinds use DNS-1123 subdomains; these differ.
_NAME_RULES = {
    "Namespace": dns1123_label_errors,
    "Service": dns1035_label_errors,
    "Role": path_segment_errors,
    "ClusterRole": path_segment_errors,
    "RoleBinding": path_segment_errors,
    "ClusterRoleBinding": path_segment_errors,
}


def validate_metadata(obj, namespaced, name_rule=None):
    """ObjectMeta checks of the real server (ValidateObjectMeta), as field error strings.

    * ``metadata.name`` is required unless ``generateName`` is given; it must be a DNS-1123 subdomain
      (at most 253 characters) for most kinds, a DNS-1123 label for Namespace, a DNS-1035 label for
      Service and a path segment for the RBAC kinds (``name_rule`` overrides: a function returning messages).
    * a namespaced object's ``metadata.namespace``, when given, must be a DNS-1123 label
      (cluster-scoped objects: the field is ignored, as the real server clears it).
    * label keys are qualified names (optional DNS-1123 subdomain prefix of at most 253 characters, '/',
      name of at most 63 characters matching ``([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]``); values at most
      63 characters, empty or the same pattern.
    * annotation keys are qualified names; all annotations together at most 262144 bytes.
    """
    errors = []
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    if not isinstance(meta, dict):
        return [required("metadata.name", "name or generateName is required")]
    rule = name_rule or _NAME_RULES.get(obj.get("kind"), dns1123_subdomain_errors)
    name = meta.get("name")
    if not name:
        if not meta.get("generateName"):
            errors.append(required("metadata.name", "name or generateName is required"))
    elif not isinstance(name, str):
        errors.append(invalid("metadata.name", name, "must be a string"))
    else:
        errors.extend(invalid("metadata.name", name, msg) for msg in rule(name))
    namespace = meta.get("namespace")
    if namespaced and namespace:
        errors.extend(invalid("metadata.namespace", namespace, msg) for msg in dns1123_label_errors(str(namespace)))
    labels = meta.get("labels")
    if isinstance(labels, dict):
        for key, value in labels.items():
            errors.extend(invalid("metadata.labels", key, msg) for msg in qualified_name_errors(str(key)))
            if value is not None:
                errors.extend(invalid("metadata.labels", value, msg) for msg in label_value_errors(str(value)))
    annotations = meta.get("annotations")
    if isinstance(annotations, dict):
        total = 0
        for key, value in annotations.items():
            errors.extend(invalid("metadata.annotations", key, msg) for msg in qualified_name_errors(str(key).lower()))
            total += len(str(key).encode("utf-8")) + len(str(value if value is not None else "").encode("utf-8"))
        if total > TOTAL_ANNOTATION_SIZE_LIMIT:
            errors.append("metadata.annotations: Too long: must have at most %d bytes" % TOTAL_ANNOTATION_SIZE_LIMIT)
    return errors


# --------------------------------------------------------------------------------------------------
# The schema walker
# --------------------------------------------------------------------------------------------------

_DROP = object()


def _json_type(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def _type_matches(value, types):
    actual = _json_type(value)
    if actual in types:
        return True
    if actual == "integer" and "number" in types:
        return True
    return actual == "number" and "integer" in types and float(value).is_integer()


def _join(path, key):
    return key if not path else "%s.%s" % (path, key)


class _Walk:
    """One validation pass: collects field errors and unknown-field paths, builds the cleaned object."""

    def __init__(self, root, custom, defaults):
        self.root = root
        self.custom = custom          # CRD semantics (pruning, nullable, defaults)
        self.defaults = defaults
        self.errors = []
        self.unknown = []

    def value(self, value, schema, path, unknown_check=True):
        schema = resolve(schema, self.root)
        if not isinstance(schema, dict) or not schema:
            return value
        if value is None:
            if self.custom and not schema.get("nullable"):
                return _DROP
            return None
        if schema.get("x-kubernetes-int-or-string"):
            if _json_type(value) not in ("integer", "string"):
                self.type_error(path, value, "integer,string")
                return value
        types = schema_types(schema)
        if types and not _type_matches(value, types):
            self.type_error(path, value, ",".join(sorted(types)))
            return value
        if "oneOf" in schema and not self.custom:
            return self.one_of_builtin(value, schema, path, unknown_check)
        self.scalar_checks(value, schema, path)
        if isinstance(value, dict):
            value = self.object(value, schema, path, unknown_check)
        elif isinstance(value, list):
            value = self.array(value, schema, path, unknown_check)
        self.combinators(value, schema, path)
        return value

    def type_error(self, path, value, expected):
        actual = _json_type(value)
        self.errors.append('%s: Invalid value: "%s": %s in body must be of type %s: "%s"' % (
            path, actual, path, expected, actual))

    def one_of_builtin(self, value, schema, path, unknown_check):
        # Built-in oneOf is only IntOrString / Quantity style type unions.
        branches = [resolve(b, self.root) for b in schema["oneOf"]]
        for branch in branches:
            types = schema_types(branch)
            if not types or _type_matches(value, types):
                return self.value(value, branch, path, unknown_check)
        expected = sorted({t for b in branches for t in schema_types(b)})
        self.type_error(path, value, ",".join(expected))
        return value

    def scalar_checks(self, value, schema, path):
        enum = schema.get("enum")
        if enum is not None and value not in enum and not (path in ("apiVersion", "kind") and not self.custom):
            self.errors.append(unsupported(path, value, enum))
        if isinstance(value, str):
            pattern = schema.get("pattern")
            if pattern and not re.search(pattern, value):
                self.errors.append(invalid(path, value, "%s in body should match '%s'" % (path, pattern)))
            if "maxLength" in schema and len(value) > schema["maxLength"]:
                self.errors.append("%s: Too long: may not be longer than %d" % (path, schema["maxLength"]))
            if "minLength" in schema and len(value) < schema["minLength"]:
                self.errors.append(invalid(path, value, "%s in body should be at least %d chars long" % (
                    path, schema["minLength"])))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            self.number_checks(value, schema, path)

    def number_checks(self, value, schema, path):
        if "minimum" in schema:
            if schema.get("exclusiveMinimum") is True and value <= schema["minimum"]:
                self.errors.append(invalid(path, value, "%s in body should be greater than %s" % (path, schema["minimum"])))
            elif value < schema["minimum"]:
                self.errors.append(invalid(path, value, "%s in body should be greater than or equal to %s" % (
                    path, schema["minimum"])))
        if "maximum" in schema:
            if schema.get("exclusiveMaximum") is True and value >= schema["maximum"]:
                self.errors.append(invalid(path, value, "%s in body should be less than %s" % (path, schema["maximum"])))
            elif value > schema["maximum"]:
                self.errors.append(invalid(path, value, "%s in body should be less than or equal to %s" % (
                    path, schema["maximum"])))
        multiple = schema.get("multipleOf")
        if multiple and (value / multiple) != int(value / multiple):
            self.errors.append(invalid(path, value, "%s in body should be a multiple of %s" % (path, multiple)))

    def combinators(self, value, schema, path):
        """allOf / anyOf / oneOf / not of structural CRD schemas: value checks only (no pruning)."""
        for sub in schema.get("allOf") or ():
            self.errors.extend(self.sub_errors(value, sub, path))
        if schema.get("anyOf") and not schema.get("x-kubernetes-int-or-string"):
            if all(self.sub_errors(value, sub, path) for sub in schema["anyOf"]):
                self.errors.append(invalid(path, value, "%s must validate at least one schema (anyOf)" % path))
        if schema.get("oneOf") and self.custom:
            passing = sum(1 for sub in schema["oneOf"] if not self.sub_errors(value, sub, path))
            if passing != 1:
                self.errors.append(invalid(path, value, "%s must validate one and only one schema (oneOf)" % path))
        if isinstance(schema.get("not"), dict) and not self.sub_errors(value, schema["not"], path):
            self.errors.append(invalid(path, value, "%s must not validate the schema (not)" % path))

    def sub_errors(self, value, sub, path):
        walker = _Walk(self.root, self.custom, False)
        walker.value(copy.deepcopy(value), sub, path, unknown_check=False)
        return walker.errors

    def object(self, value, schema, path, unknown_check):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
        embedded = bool(schema.get("x-kubernetes-embedded-resource"))
        if not self.custom and not props and extra is None:
            return value  # free-form built-in object (RawExtension, FieldsV1, ...)
        if self.custom and self.defaults:
            for key, sub in props.items():
                sub = resolve(sub, self.root)
                if key not in value and isinstance(sub, dict) and "default" in sub:
                    value[key] = copy.deepcopy(sub["default"])
        result = {}
        for key, item in value.items():
            if key in props or self.custom:
                child = _join(path, key)
            else:
                child = "%s[%s]" % (path, key)  # a built-in map's entry, as field.Path.Key prints it
            if key in props:
                cleaned = self.value(item, props[key], child, unknown_check)
            elif embedded and key in ("apiVersion", "kind", "metadata"):
                cleaned = item
            elif isinstance(extra, dict):
                cleaned = self.value(item, extra, child, unknown_check)
            elif extra is True or preserve:
                cleaned = item
            else:
                if unknown_check:
                    self.unknown.append(_join(path, key))
                continue
            if cleaned is not _DROP:
                result[key] = cleaned
        for key in schema.get("required") or ():
            if result.get(key) is None:
                self.errors.append(required(_join(path, key)))
        if "maxProperties" in schema and len(result) > schema["maxProperties"]:
            self.errors.append("%s: Too many: %d: must have at most %d items" % (path, len(result), schema["maxProperties"]))
        if "minProperties" in schema and len(result) < schema["minProperties"]:
            self.errors.append(invalid(path, len(result), "%s in body should have at least %d properties" % (
                path, schema["minProperties"])))
        return result

    def array(self, value, schema, path, unknown_check):
        items = schema.get("items")
        result = []
        for index, item in enumerate(value):
            cleaned = self.value(item, items, "%s[%d]" % (path, index), unknown_check) if isinstance(items, dict) else item
            result.append(None if cleaned is _DROP else cleaned)
        if "maxItems" in schema and len(result) > schema["maxItems"]:
            self.errors.append("%s: Too many: %d: must have at most %d items" % (path, len(result), schema["maxItems"]))
        if "minItems" in schema and len(result) < schema["minItems"]:
            self.errors.append(invalid(path, len(result), "%s in body should have at least %d items" % (
                path, schema["minItems"])))
        list_type = schema.get("x-kubernetes-list-type")
        if schema.get("uniqueItems") or list_type == "set":
            seen = []
            for index, item in enumerate(result):
                if item in seen:
                    self.errors.append("%s[%d]: Duplicate value: %s" % (path, index, go_value(item)))
                else:
                    seen.append(item)
        elif list_type == "map" and self.custom:
            keys = schema.get("x-kubernetes-list-map-keys") or []
            seen = []
            for index, item in enumerate(result):
                if isinstance(item, dict):
                    key = {k: item.get(k) for k in keys}
                    if key in seen:
                        self.errors.append("%s[%d]: Duplicate value: %s" % (path, index, go_value(key)))
                    seen.append(key)
        return result


def _finish(walker, cleaned, field_validation):
    if field_validation not in FIELD_VALIDATION_MODES:
        raise ValueError("fieldValidation must be one of Strict, Warn, Ignore, not %r" % (field_validation,))
    warnings = []
    errors = []
    unknown = ['unknown field "%s"' % path for path in walker.unknown]
    if field_validation == "Strict":
        errors.extend(unknown)
    elif field_validation == "Warn":
        warnings.extend(unknown)
    errors.extend(walker.errors)
    return cleaned, warnings, errors


def unknown_fields(obj, schema):
    """Dotted paths of the fields of ``obj`` that ``schema`` does not declare, e.g.
    ``spec.template.spec.containers[0].imagee``.

    ``schema`` is either a built-in schema from ``builtin_schema()`` (free-form objects such as
    RawExtension allow anything) or a CRD ``openAPIV3Schema`` (an object without ``properties`` allows
    nothing unless ``x-kubernetes-preserve-unknown-fields`` or ``additionalProperties`` says so;
    ``apiVersion``, ``kind`` and ``metadata`` are always allowed at the top).
    """
    custom = "$defs" not in schema
    walker = _Walk(schema, custom, False)
    body = copy.deepcopy(obj)
    if custom and isinstance(body, dict):
        for key in ("apiVersion", "kind", "metadata"):
            body.pop(key, None)
    walker.value(body, schema, "")
    return walker.unknown


# --------------------------------------------------------------------------------------------------
# Semantic rules of built-in kinds (the real server implements them in Go, not in the OpenAPI schema)
# --------------------------------------------------------------------------------------------------

def _selector_matches(selector, labels):
    labels = labels or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or ():
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and (key not in labels or labels[key] not in values):
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _rule_workload(obj):
    """apps/v1 workloads: a non-empty selector that matches the pod template's labels (ValidateDeploymentSpec
    and friends), replicas >= 0, at least one container, each with a DNS-1123 label name and an image."""
    errors = []
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return errors
    replicas = spec.get("replicas")
    if isinstance(replicas, int) and not isinstance(replicas, bool) and replicas < 0:
        errors.append(invalid("spec.replicas", replicas, "must be greater than or equal to 0"))
    selector = spec.get("selector")
    template = spec.get("template") if isinstance(spec.get("template"), dict) else {}
    labels = (template.get("metadata") or {}).get("labels") if isinstance(template.get("metadata"), dict) else None
    if isinstance(selector, dict):
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            errors.append(invalid("spec.selector", selector, "empty selector is invalid for %s" % obj.get("kind", "").lower()))
        elif not _selector_matches(selector, labels if isinstance(labels, dict) else {}):
            errors.append("spec.template.metadata.labels: Invalid value: %s: `selector` does not match template `labels`"
                          % go_string_map(labels if isinstance(labels, dict) else None))
    pod_spec = template.get("spec")
    if isinstance(pod_spec, dict):
        errors.extend(_pod_spec_errors(pod_spec, "spec.template.spec"))
    return errors


def _pod_spec_errors(pod_spec, path):
    errors = []
    containers = pod_spec.get("containers")
    if isinstance(containers, list) and not containers:
        errors.append(required(path + ".containers"))
    for field in ("initContainers", "containers"):
        seen = set()
        for index, container in enumerate(pod_spec.get(field) or ()):
            if not isinstance(container, dict):
                continue
            cpath = "%s.%s[%d]" % (path, field, index)
            name = container.get("name")
            if isinstance(name, str) and name:
                errors.extend(invalid(cpath + ".name", name, msg) for msg in dns1123_label_errors(name))
                if name in seen:
                    errors.append("%s.name: Duplicate value: %s" % (cpath, go_value(name)))
                seen.add(name)
            if not container.get("image"):
                errors.append(required(cpath + ".image"))
    for index, toleration in enumerate(pod_spec.get("tolerations") or ()):
        if isinstance(toleration, dict):
            errors.extend(_toleration_errors(toleration, "%s.tolerations[%d]" % (path, index)))
    return errors


def _toleration_errors(toleration, path):
    """ValidateTolerations: a qualified-name key; an empty key only with Exists; Equal (or no operator) with a
    label value, Exists with no value; tolerationSeconds only for NoExecute; a known effect."""
    errors = []
    key = toleration.get("key") or ""
    operator = toleration.get("operator") or ""
    value = toleration.get("value") or ""
    effect = toleration.get("effect") or ""
    if key:
        errors.extend(invalid(path + ".key", key, msg) for msg in qualified_name_errors(str(key)))
    elif operator != "Exists":
        errors.append(invalid(path + ".operator", operator,
                              'operator must be Exists when `key` is empty, which means "match all values and all keys"'))
    if toleration.get("tolerationSeconds") is not None and effect != "NoExecute":
        errors.append(invalid(path + ".effect", effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
    if operator in ("", "Equal"):
        errors.extend(invalid(path + ".operator", value, msg) for msg in label_value_errors(str(value)))
    elif operator == "Exists":
        if value:
            errors.append(invalid(path + ".operator", value, "value must be empty when `operator` is 'Exists'"))
    else:
        errors.append(unsupported(path + ".operator", operator, ("Equal", "Exists")))
    if effect and effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
        errors.append(unsupported(path + ".effect", effect, ("NoSchedule", "PreferNoSchedule", "NoExecute")))
    return errors


def _rule_pod(obj):
    spec = obj.get("spec")
    return _pod_spec_errors(spec, "spec") if isinstance(spec, dict) else []


def _rule_persistent_volume(obj):
    """A ``local`` PersistentVolume must say which node it is on (ValidatePersistentVolumeSpec)."""
    spec = obj.get("spec")
    if isinstance(spec, dict) and spec.get("local") is not None and not spec.get("nodeAffinity"):
        return [required("spec.nodeAffinity", "Local volume requires node affinity")]
    return []


def _rule_storage_class(obj):
    """StorageClass enums and the provisioner's syntax (ValidateStorageClass)."""
    errors = []
    provisioner = obj.get("provisioner")
    if isinstance(provisioner, str) and provisioner:
        errors.extend(invalid("provisioner", provisioner, msg) for msg in qualified_name_errors(provisioner.lower()))
    policy = obj.get("reclaimPolicy")
    if policy is not None and policy not in ("Delete", "Retain"):
        errors.append(unsupported("reclaimPolicy", policy, ("Delete", "Retain")))
    mode = obj.get("volumeBindingMode")
    if mode is not None and mode not in ("Immediate", "WaitForFirstConsumer"):
        errors.append(unsupported("volumeBindingMode", mode, ("Immediate", "WaitForFirstConsumer")))
    return errors


def _rule_node(obj):
    """Node taints: qualified-name keys, label-value values and a known effect (validateNodeTaints).
    Node labels are checked by validate_metadata like every object's."""
    errors = []
    spec = obj.get("spec")
    taints = spec.get("taints") if isinstance(spec, dict) else None
    for index, taint in enumerate(taints or ()):
        if not isinstance(taint, dict):
            continue
        tpath = "spec.taints[%d]" % index
        key = taint.get("key")
        if not key:
            errors.append(required(tpath + ".key"))
        else:
            errors.extend(invalid(tpath + ".key", key, msg) for msg in qualified_name_errors(str(key)))
        if taint.get("value"):
            errors.extend(invalid(tpath + ".value", taint["value"], msg) for msg in label_value_errors(str(taint["value"])))
        effect = taint.get("effect")
        if not effect:
            errors.append(required(tpath + ".effect"))
        elif effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            errors.append(unsupported(tpath + ".effect", effect, ("NoSchedule", "PreferNoSchedule", "NoExecute")))
    return errors


def _rule_config_keys(obj):
    """ConfigMap/Secret keys are config keys, unique across data and binaryData, 1 MiB in total (ConfigMap)."""
    errors = []
    total = 0
    seen = set()
    for field in ("data", "binaryData", "stringData"):
        data = obj.get(field)
        if not isinstance(data, dict):
            continue
        for key, value in data.items():
            errors.extend(invalid("%s[%s]" % (field, key), key, msg) for msg in config_key_errors(str(key)))
            if obj.get("kind") == "ConfigMap":
                if key in seen:
                    errors.append(invalid("data[%s]" % key, key, "duplicate of key present in binaryData"))
                seen.add(key)
                total += len(str(value or ""))
    if total > CONFIGMAP_SIZE_LIMIT:
        errors.append("[]: Too long: must have at most %d bytes" % CONFIGMAP_SIZE_LIMIT)
    return errors


_SEMANTIC_RULES = {
    "Deployment": _rule_workload,
    "DaemonSet": _rule_workload,
    "StatefulSet": _rule_workload,
    "ReplicaSet": _rule_workload,
    "Pod": _rule_pod,
    "PersistentVolume": _rule_persistent_volume,
    "StorageClass": _rule_storage_class,
    "Node": _rule_node,
    "ConfigMap": _rule_config_keys,
    "Secret": _rule_config_keys,
}


# --------------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------------

def validate_builtin(obj, field_validation, check_metadata=True):
    """Validate a built-in object; returns ``(cleaned_obj, warnings, errors)``.

    ``field_validation`` is the request's fieldValidation: ``Strict`` -> each unknown field is an error
    ``unknown field "spec.replcas"`` (the real server answers 400 ``strict decoding error: <those, joined by
    ", ">``; errors that start with ``unknown field`` are those); ``Warn`` -> the same texts are warnings;
    ``Ignore`` -> silently dropped.  ``cleaned_obj`` never contains unknown fields.  The other errors
    (types, required fields, the semantic rules above, metadata unless ``check_metadata`` is false) are
    field errors that the real server answers with 422 ``<Kind> "<name>" is invalid: [...]``.
    An apiVersion/kind that is not built into that Kubernetes release gives ``(copy, [], [])``.
    """
    schema = builtin_schema(obj.get("apiVersion"), obj.get("kind")) if isinstance(obj, dict) else None
    if schema is None:
        return _finish(_Walk(None, False, False), copy.deepcopy(obj), field_validation)
    walker = _Walk(schema, False, False)
    cleaned = walker.value(copy.deepcopy(obj), schema, "")
    if check_metadata:
        walker.errors.extend(validate_metadata(cleaned, obj.get("kind") not in CLUSTER_SCOPED_KINDS))
    rule = _SEMANTIC_RULES.get(obj.get("kind"))
    if rule is not None:
        walker.errors.extend(rule(cleaned))
    return _finish(walker, cleaned, field_validation)


def validate_custom(obj, openapi_v3_schema, field_validation, check_metadata=True, namespaced=False, apply_defaults=True):
    """Validate a custom resource against its CRD version's ``openAPIV3Schema``; ``(cleaned, warnings, errors)``.

    Structural-schema semantics of the apiextensions server: every object is treated as
    ``additionalProperties: false`` unless the schema gives ``additionalProperties`` or
    ``x-kubernetes-preserve-unknown-fields: true``; unknown fields follow ``field_validation`` as in
    ``validate_builtin``; ``null`` is pruned unless ``nullable: true``; ``default``s are filled in
    (``apply_defaults``).  ``apiVersion`` and ``kind`` are always allowed; ``metadata`` is checked against
    the built-in ObjectMeta schema (unknown fields) and by ``validate_metadata`` (names: DNS-1123 subdomain),
    not by the CRD's schema.  Type, enum, required, pattern, length, min/max, items and properties
    errors are reported in the real server's format.  ``x-kubernetes-validations`` (CEL) are ignored.
    """
    walker = _Walk(openapi_v3_schema, True, apply_defaults)
    body = copy.deepcopy(obj)
    head = {key: body.pop(key) for key in ("apiVersion", "kind", "metadata") if key in body}
    schema = dict(resolve(openapi_v3_schema, openapi_v3_schema) or {})
    props = dict(schema.get("properties") or {})
    for key in ("apiVersion", "kind", "metadata"):
        props.pop(key, None)
    schema["properties"] = props
    schema["required"] = [k for k in schema.get("required") or () if k not in ("apiVersion", "kind", "metadata")]
    cleaned = walker.value(body, schema, "")
    if cleaned is _DROP or not isinstance(cleaned, dict):
        cleaned = {} if cleaned is _DROP else cleaned
    meta = head.get("metadata")
    if isinstance(meta, dict):
        meta_schema = {"$defs": _definitions() or {}, "$ref": "#/$defs/" + _OBJECT_META}
        meta_walker = _Walk(meta_schema, False, False)
        head["metadata"] = meta_walker.value(meta, meta_schema, "metadata")
        walker.unknown.extend(meta_walker.unknown)
        walker.errors.extend(meta_walker.errors)
    result = dict(head)
    if isinstance(cleaned, dict):
        result.update(cleaned)
    if check_metadata:
        walker.errors.extend(validate_metadata(result, namespaced, name_rule=dns1123_subdomain_errors))
    return _finish(walker, result, field_validation)
