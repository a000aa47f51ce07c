"""STAND-IN kube-apiserver: TEMPORARY minimal stand-ins for patching.py, tables.py and validation.py.

Used only while those modules (written separately) are absent; delete this file once they land.
Strategic merge patch is approximated by a JSON merge patch, server-side apply by a merge without
conflict detection, tables by NAME/AGE, built-in validation by nothing; custom-resource validation
prunes/refuses fields its structural schema does not declare.
"""

import copy
import datetime
import json


class PatchError(ValueError):
    pass


def json_merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = json_merge_patch(result.get(key), value)
    return result


def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def json_patch(target, ops):
    doc = copy.deepcopy(target)
    for op in ops:
        parts = _pointer(op.get("path", ""))
        parent = doc
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        last = parts[-1] if parts else None
        kind = op.get("op")
        try:
            if kind in ("add", "replace"):
                if isinstance(parent, list):
                    if last == "-":
                        parent.append(op["value"])
                    elif kind == "add":
                        parent.insert(int(last), op["value"])
                    else:
                        parent[int(last)] = op["value"]
                else:
                    if kind == "replace" and last not in parent:
                        raise PatchError(f"replace operation does not apply: doc is missing key: {op['path']}")
                    parent[last] = op["value"]
            elif kind == "remove":
                if isinstance(parent, list):
                    del parent[int(last)]
                else:
                    del parent[last]
            elif kind == "test":
                value = parent[int(last)] if isinstance(parent, list) else parent.get(last)
                if value != op.get("value"):
                    raise PatchError(f"testing value {op['path']} failed")
            else:
                raise PatchError(f"Unexpected kind: {kind}")
        except (KeyError, IndexError, ValueError, TypeError) as err:
            if isinstance(err, PatchError):
                raise
            raise PatchError(f"{kind} operation does not apply: doc is missing path: {op.get('path')}") from err
    return doc


def strategic_merge_patch(target, patch, kind_schema=None):  # pylint: disable=unused-argument
    return json_merge_patch(target, patch)


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def update_managed_fields(old, new, manager, operation, api_version=None, now=None, kind_schema=None, subresource=None):  # pylint: disable=unused-argument
    new = copy.deepcopy(new)
    fields = [f for f in (new.get("metadata", {}).get("managedFields") or []) if f.get("manager") != manager or f.get("operation") != operation]
    fields.append({"manager": manager, "operation": operation, "apiVersion": new.get("apiVersion"), "time": _now(),
                   "fieldsType": "FieldsV1", "fieldsV1": {}})
    new.setdefault("metadata", {})["managedFields"] = fields
    return new


def server_side_apply(live, applied, manager, force, kind_schema=None, now=None, ignore_status=True):  # pylint: disable=unused-argument
    merged = json_merge_patch(live or {}, applied)
    return update_managed_fields(live, merged, manager, "Apply"), []


def apply_conflict_message(conflicts):
    return f"Apply failed with {len(conflicts)} conflicts: " + "; ".join(conflicts)


def to_table(kind, group, objects, wide, crd_columns=None, now=None):  # pylint: disable=unused-argument
    rows = []
    for obj in objects:
        rows.append({"cells": [obj["metadata"]["name"], obj["metadata"].get("creationTimestamp", "")],
                     "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}})
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {},
            "columnDefinitions": [{"name": "Name", "type": "string", "format": "name", "description": "", "priority": 0},
                                  {"name": "Age", "type": "string", "format": "", "description": "", "priority": 0}],
            "rows": rows}


def builtin_schema(api_version, kind):  # pylint: disable=unused-argument
    return None


def validate_builtin(obj, field_validation, check_metadata=True):  # pylint: disable=unused-argument
    return obj, [], []


def _prune(value, schema, path, unknown):
    if path == "" and isinstance(value, dict):
        out = {k: v for k, v in value.items() if k in ("apiVersion", "kind", "metadata")}
        rest = {k: v for k, v in value.items() if k not in out}
        out.update(_prune(rest, dict(schema, properties={k: v for k, v in (schema.get("properties") or {}).items()
                                                         if k not in ("apiVersion", "kind", "metadata")}), ".", unknown))
        return out
    if path == ".":
        path = ""
    if not isinstance(schema, dict):
        return value
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return value
    if isinstance(value, dict):
        props = schema.get("properties")
        addl = schema.get("additionalProperties")
        out = {}
        for key, sub in value.items():
            sub_path = f"{path}.{key}" if path else key
            if props is not None and key in props:
                out[key] = _prune(sub, props[key], sub_path, unknown)
            elif isinstance(addl, dict):
                out[key] = _prune(sub, addl, sub_path, unknown)
            elif addl is True or (props is None and addl is None and schema.get("type") != "object"):
                out[key] = sub
            elif path == "" and key in ("apiVersion", "kind", "metadata"):
                out[key] = sub
            else:
                unknown.append(sub_path)
        return out
    if isinstance(value, list):
        return [_prune(item, schema.get("items") or {}, path, unknown) for item in value]
    return value


def validate_custom(obj, openapi_v3_schema, field_validation, check_metadata=True, namespaced=False):  # pylint: disable=unused-argument
    unknown = []
    cleaned = _prune(obj, openapi_v3_schema or {}, "", unknown)
    messages = [f'unknown field "{p}"' for p in unknown]
    if field_validation == "Strict":
        return obj, [], messages
    if field_validation == "Ignore":
        return cleaned, [], []
    return cleaned, messages, []


def validate_metadata(obj, namespaced):  # pylint: disable=unused-argument
    errors = []
    meta = obj.get("metadata") or {}
    size = len(json.dumps(meta.get("annotations") or {}))
    if size > 256 * 1024:
        errors.append("metadata.annotations: Too long: must have at most 262144 bytes")
    return errors
