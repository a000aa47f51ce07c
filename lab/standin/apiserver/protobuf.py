"""STAND-IN kube-apiserver: decoding of Kubernetes protobuf request bodies for a few core kinds.

client-go's typed clients (kubectl's imperative `create configmap|secret|namespace|serviceaccount`,
`drain` (Eviction), `certificate approve|deny` (CertificateSigningRequest), `auth can-i|whoami`)
send `application/vnd.kubernetes.protobuf`: the `k8s\\0` magic, then a runtime.Unknown envelope
(typeMeta=1, raw=2) holding the object.  The stand-in knows the field numbers of ConfigMap, Secret,
Namespace, ServiceAccount, Eviction, CertificateSigningRequest, SelfSubjectAccessReview and
SelfSubjectReview (and ObjectMeta); every other protobuf body is refused with 415
"not implemented by the stand-in".  Answers are always JSON.
"""

import base64
import datetime

MAGIC = b"k8s\x00"


class ProtobufError(ValueError):
    pass


def _varint(data, pos):
    result, shift = 0, 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def fields(data):
    """Yield (field number, wire type, value) of one message."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            value = data[pos:pos + length]
            if len(value) != length:
                raise ProtobufError("truncated field")
            pos += length
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        yield number, wire, value


# type codes: s string, b bytes, i int, t bool, T Time, ms map<string,string>, mb map<string,bytes>,
# rs repeated string, ("m", schema) message, ("rm", schema) repeated message
OWNER_REF = {1: ("kind", "s"), 3: ("name", "s"), 4: ("uid", "s"), 5: ("apiVersion", "s"), 6: ("controller", "t"),
             7: ("blockOwnerDeletion", "t")}
OBJECT_META = {1: ("name", "s"), 2: ("generateName", "s"), 3: ("namespace", "s"), 5: ("uid", "s"), 6: ("resourceVersion", "s"),
               7: ("generation", "i"), 8: ("creationTimestamp", "T"), 11: ("labels", "ms"), 12: ("annotations", "ms"),
               13: ("ownerReferences", ("rm", OWNER_REF)), 14: ("finalizers", "rs")}
OBJECT_REF = {1: ("kind", "s"), 2: ("namespace", "s"), 3: ("name", "s"), 4: ("uid", "s"), 5: ("apiVersion", "s"),
              6: ("resourceVersion", "s"), 7: ("fieldPath", "s")}
DELETE_OPTIONS = {1: ("gracePeriodSeconds", "i"), 2: ("preconditions", ("m", {1: ("uid", "s"), 2: ("resourceVersion", "s")})),
                  3: ("orphanDependents", "t"), 4: ("propagationPolicy", "s"), 5: ("dryRun", "rs")}
CSR_CONDITION = {1: ("type", "s"), 6: ("status", "s"), 2: ("reason", "s"), 3: ("message", "s"), 4: ("lastUpdateTime", "T"),
                 5: ("lastTransitionTime", "T")}
CSR_SPEC = {1: ("request", "b"), 7: ("signerName", "s"), 8: ("expirationSeconds", "i"), 5: ("usages", "rs"), 2: ("username", "s"),
            3: ("uid", "s"), 4: ("groups", "rs")}
RESOURCE_ATTRIBUTES = {1: ("namespace", "s"), 2: ("verb", "s"), 3: ("group", "s"), 4: ("version", "s"), 5: ("resource", "s"),
                       6: ("subresource", "s"), 7: ("name", "s")}
NON_RESOURCE_ATTRIBUTES = {1: ("path", "s"), 2: ("verb", "s")}
KINDS = {
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): {
        1: ("metadata", ("m", OBJECT_META)),
        2: ("spec", ("m", {1: ("resourceAttributes", ("m", RESOURCE_ATTRIBUTES)), 2: ("nonResourceAttributes", ("m", NON_RESOURCE_ATTRIBUTES))}))},
    ("authentication.k8s.io/v1", "SelfSubjectReview"): {1: ("metadata", ("m", OBJECT_META))},
    ("policy/v1", "Eviction"): {1: ("metadata", ("m", OBJECT_META)), 2: ("deleteOptions", ("m", DELETE_OPTIONS))},
    ("certificates.k8s.io/v1", "CertificateSigningRequest"): {
        1: ("metadata", ("m", OBJECT_META)), 2: ("spec", ("m", CSR_SPEC)),
        3: ("status", ("m", {1: ("conditions", ("rm", CSR_CONDITION)), 2: ("certificate", "b")}))},
    ("v1", "ConfigMap"): {1: ("metadata", ("m", OBJECT_META)), 2: ("data", "ms"), 3: ("binaryData", "mb"), 4: ("immutable", "t")},
    ("v1", "Secret"): {1: ("metadata", ("m", OBJECT_META)), 2: ("data", "mb"), 3: ("type", "s"), 4: ("stringData", "ms"),
                       5: ("immutable", "t")},
    ("v1", "Namespace"): {1: ("metadata", ("m", OBJECT_META)), 2: ("spec", ("m", {1: ("finalizers", "rs")})),
                          3: ("status", ("m", {1: ("phase", "s")}))},
    ("v1", "ServiceAccount"): {1: ("metadata", ("m", OBJECT_META)), 2: ("secrets", ("rm", OBJECT_REF)),
                               3: ("imagePullSecrets", ("rm", {1: ("name", "s")})), 4: ("automountServiceAccountToken", "t")},
}


def _map_entry(raw):
    key, value = "", b""
    for number, dummy, item in fields(raw):
        if number == 1:
            key = item.decode("utf-8")
        elif number == 2:
            value = item
    return key, value


def _message(raw, schema):
    out = {}
    for number, dummy, value in fields(raw):
        if number not in schema:
            continue
        name, kind = schema[number]
        if kind == "s":
            if value:
                out[name] = value.decode("utf-8")
        elif kind == "b":
            if value:
                out[name] = base64.b64encode(value).decode("ascii")
        elif kind == "i":
            if value:
                out[name] = value
        elif kind == "t":
            out[name] = bool(value)
        elif kind == "T":
            seconds = 0
            for sub_number, dummy, sub in fields(value):
                if sub_number == 1:
                    seconds = sub
            if seconds:
                out[name] = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        elif kind == "ms":
            key, item = _map_entry(value)
            out.setdefault(name, {})[key] = item.decode("utf-8")
        elif kind == "mb":
            key, item = _map_entry(value)
            out.setdefault(name, {})[key] = base64.b64encode(item).decode("ascii")
        elif kind == "rs":
            out.setdefault(name, []).append(value.decode("utf-8"))
        elif kind[0] == "m":
            out[name] = _message(value, kind[1])
        elif kind[0] == "rm":
            out.setdefault(name, []).append(_message(value, kind[1]))
    return out


def decode(body):
    """The JSON-shaped object of a protobuf body; ProtobufError when the stand-in cannot decode it."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf magic prefix")
    api_version, kind, raw = "", "", b""
    for number, dummy, value in fields(body[len(MAGIC):]):
        if number == 1:
            for sub_number, dummy, sub in fields(value):
                if sub_number == 1:
                    api_version = sub.decode("utf-8")
                elif sub_number == 2:
                    kind = sub.decode("utf-8")
        elif number == 2:
            raw = value
    schema = KINDS.get((api_version, kind))
    if schema is None:
        raise ProtobufError(f"protobuf encoding of {api_version}/{kind} is not implemented by the stand-in (send JSON)")
    obj = {"apiVersion": api_version, "kind": kind}
    obj.update(_message(raw, schema))
    return obj
