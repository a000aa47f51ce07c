"""STAND-IN kube-apiserver: label and field selectors of list and watch requests.

Label selectors: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, comma-separated
(all must hold).  Field selectors: `metadata.name`, `metadata.namespace` on every resource, plus
`spec.nodeName`, `status.phase` (pods), `type` (secrets, events), `involvedObject.*` (events),
`spec.signerName` (CSRs); operators `=`, `==`, `!=`.  Any other field → 400, as on the real server.
"""

import re


class SelectorError(ValueError):
    pass


_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"


def _split_top(text):
    """Split on commas outside parentheses."""
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def parse_labels(text):
    """A list of (key, op, values) requirements; raises SelectorError."""
    reqs = []
    if not text or not text.strip():
        return reqs
    for part in _split_top(text):
        match = re.fullmatch(r"(?P<key>%s)\s+(?P<op>in|notin)\s+\((?P<values>.*)\)" % _KEY, part)
        if match:
            values = [v.strip() for v in match.group("values").split(",") if v.strip()]
            for value in values:
                if not re.fullmatch(_VALUE, value):
                    raise SelectorError(f"unable to parse requirement: invalid label value: {value!r}")
            reqs.append((match.group("key"), match.group("op"), values))
            continue
        match = re.fullmatch(r"!\s*(?P<key>%s)" % _KEY, part)
        if match:
            reqs.append((match.group("key"), "!", []))
            continue
        match = re.fullmatch(r"(?P<key>%s)\s*(?P<op>==|!=|=)\s*(?P<value>.*)" % _KEY, part)
        if match:
            value = match.group("value").strip()
            if not re.fullmatch(_VALUE, value):
                raise SelectorError(f"unable to parse requirement: invalid label value: {value!r}")
            op = "!=" if match.group("op") == "!=" else "="
            reqs.append((match.group("key"), op, [value]))
            continue
        if re.fullmatch(_KEY, part):
            reqs.append((part, "exists", []))
            continue
        raise SelectorError(f"unable to parse requirement: {part!r}")
    return reqs


def match_labels(reqs, labels):
    labels = labels or {}
    for key, op, values in reqs:
        present = key in labels
        if op == "=" and (not present or labels[key] != values[0]):
            return False
        if op == "!=" and present and labels[key] == values[0]:
            return False
        if op == "in" and (not present or labels[key] not in values):
            return False
        if op == "notin" and present and labels[key] in values:
            return False
        if op == "exists" and not present:
            return False
        if op == "!" and present:
            return False
    return True


FIELDS_BY_KIND = {
    "Pod": {"spec.nodeName", "status.phase", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
            "status.podIP", "status.nominatedNodeName"},
    "Secret": {"type"},
    "Event": {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
              "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
              "reason", "reportingComponent", "source", "type"},
    "Node": {"spec.unschedulable"},
    "Namespace": {"status.phase"},
    "CertificateSigningRequest": {"spec.signerName"},
    "ReplicaSet": {"status.replicas"},
    "Job": {"status.successful"},
}


def parse_fields(text, kind):
    reqs = []
    if not text or not text.strip():
        return reqs
    allowed = {"metadata.name", "metadata.namespace"} | FIELDS_BY_KIND.get(kind, set())
    for part in _split_top(text):
        match = re.fullmatch(r"([A-Za-z.]+)\s*(==|!=|=)\s*(.*)", part)
        if not match:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
        field = match.group(1)
        if field not in allowed:
            raise SelectorError(f'field label not supported: {field}')
        reqs.append((field, "!=" if match.group(2) == "!=" else "=", match.group(3).strip()))
    return reqs


def _field_value(obj, path):
    if path == "source":
        return ((obj.get("source") or {}).get("component")) or ""
    value = obj
    for part in path.split("."):
        if not isinstance(value, dict):
            return ""
        value = value.get(part)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def match_fields(reqs, obj):
    for field, op, value in reqs:
        actual = _field_value(obj, field)
        if op == "=" and actual != value:
            return False
        if op == "!=" and actual == value:
            return False
    return True
