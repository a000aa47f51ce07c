"""STAND-IN: the patch types and field management of the kube-apiserver stand-in.

* ``json_merge_patch``: RFC 7386 (``application/merge-patch+json``).
* ``json_patch``: RFC 6902 (``application/json-patch+json``) with the error texts of the JSON patch library
  the real server uses (evanphx/json-patch v4), including its quirks: negative array indices count from
  the end, and ``replace`` of a missing object key adds it instead of failing.
* ``strategic_merge_patch``: Kubernetes strategic merge patch for built-in kinds, driven by the
  ``x-kubernetes-patch-strategy`` / ``x-kubernetes-patch-merge-key`` extensions of the kind's OpenAPI schema.
  Directives: ``$patch: replace|delete|merge`` (maps and list elements), ``$retainKeys``,
  ``$deleteFromPrimitiveList/<field>``, ``$setElementOrder/<field>``; any other ``$`` directive fails with
  "not implemented by the stand-in".
* ``server_side_apply`` / ``update_managed_fields``: ``metadata.managedFields`` in the real FieldsV1 format,
  ownership, conflicts and removal of fields a manager stops applying.  This is a simplified model of
  sigs.k8s.io/structured-merge-diff; the known differences are listed in the functions' docstrings.
"""
import copy
import json

try:
    from . import validation
except ImportError:  # imported as a top-level module
    import validation  # type: ignore[no-redef]  # pylint: disable=import-error


class PatchError(ValueError):
    """A patch that cannot be applied; str() is the message the real server would answer with."""


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------

def json_equal(a, b):
    """JSON equality (unlike Python's ==, true is not 1)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _schema_for(obj, kind_schema):
    if kind_schema is not None:
        return kind_schema
    if isinstance(obj, dict):
        return validation.builtin_schema(obj.get("apiVersion"), obj.get("kind"))
    return None


def _go_map(value):
    """A JSON object as Go's %v prints a map (used in the texts of strategic merge patch errors)."""
    if isinstance(value, dict):
        return "map[%s]" % " ".join("%s:%s" % (k, _go_map(v)) for k, v in sorted(value.items()))
    if isinstance(value, list):
        return "[%s]" % " ".join(_go_map(v) for v in value)
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --------------------------------------------------------------------------------------------------
# RFC 7386 JSON merge patch
# --------------------------------------------------------------------------------------------------

def json_merge_patch(target, patch):
    """RFC 7386: objects merge recursively, ``null`` deletes a member, anything else (lists too) replaces.

    Returns a new value; neither argument is modified.
    """
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = json_merge_patch(result.get(key), value)
    return result


# --------------------------------------------------------------------------------------------------
# RFC 6902 JSON patch
# --------------------------------------------------------------------------------------------------

_MISSING = "missing value"
_INVALID_INDEX = "invalid index referenced"


class _OpError(Exception):
    pass


def _decode_token(token):
    return token.replace("~1", "/").replace("~0", "~")


def _atoi(key):
    text = key.strip()
    if text and (text.lstrip("+-").isdigit()) and text == key:
        return int(text)
    raise _OpError('strconv.Atoi: parsing "%s": invalid syntax' % key)


def _find_object(doc, path):
    """The container holding the last token of ``path`` and that token, or (None, '') (findObject)."""
    split = path.split("/")
    if len(split) < 2:
        return None, ""
    node = doc
    for part in split[1:-1]:
        part = _decode_token(part)
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list):
            try:
                index = _atoi(part)
            except _OpError:
                return None, ""
            if index < 0:
                index += len(node)
            if not 0 <= index < len(node):
                return None, ""
            node = node[index]
        else:
            return None, ""
        if not isinstance(node, (dict, list)):
            return None, ""
    return node, _decode_token(split[-1])


def _list_index(container, key, extra=0):
    index = _atoi(key)
    if index < 0:
        if index < -(len(container) + extra):
            raise _OpError("Unable to access invalid index: %d: %s" % (index, _INVALID_INDEX))
        index += len(container) + extra
    return index


def _get(container, key):
    if isinstance(container, dict):
        return container.get(key)
    index = _list_index(container, key)
    if index >= len(container):
        raise _OpError("Unable to access invalid index: %d: %s" % (_atoi(key), _INVALID_INDEX))
    return container[index]


def _add(container, key, value):
    if isinstance(container, dict):
        container[key] = value
        return
    if key == "-":
        container.append(value)
        return
    try:
        index = _atoi(key)
    except _OpError as exc:
        raise _OpError("value was not a proper array index: '%s': %s" % (key, exc)) from None
    if index > len(container) or index < -(len(container) + 1):
        raise _OpError("Unable to access invalid index: %d: %s" % (index, _INVALID_INDEX))
    if index < 0:
        index += len(container) + 1
    container.insert(index, value)


def _remove(container, key):
    if isinstance(container, dict):
        if key not in container:
            raise _OpError("Unable to remove nonexistent key: %s: %s" % (key, _MISSING))
        del container[key]
        return
    index = _atoi(key)
    if index >= len(container) or index < -len(container):
        raise _OpError("Unable to access invalid index: %d: %s" % (index, _INVALID_INDEX))
    del container[index if index >= 0 else index + len(container)]


def _op_field(op, name, kind):
    value = op.get(name)
    if not isinstance(value, str):
        raise PatchError("%s operation failed to decode %s: %s" % (kind, name, _MISSING))
    return value


def _apply_op(doc, op):
    """Apply one operation to ``doc`` (mutated); returns the new document (replace of '' swaps it)."""
    kind = op.get("op") if isinstance(op, dict) else None
    if kind not in ("add", "remove", "replace", "move", "copy", "test"):
        raise PatchError("Unexpected kind: %s" % (kind if kind is not None else "unknown"))
    path = _op_field(op, "path", kind) if kind not in ("move", "copy") else None
    try:
        if kind == "add":
            if "value" not in op:
                raise PatchError("add operation, missing value field: %s" % _MISSING)
            container, key = _find_object(doc, path)
            if container is None:
                raise PatchError('add operation does not apply: doc is missing path: "%s": %s' % (path, _MISSING))
            try:
                _add(container, key, copy.deepcopy(op["value"]))
            except _OpError as exc:
                raise PatchError("error in add for path: '%s': %s" % (path, exc)) from None
        elif kind == "remove":
            container, key = _find_object(doc, path)
            if container is None:
                raise PatchError('remove operation does not apply: doc is missing path: "%s": %s' % (path, _MISSING))
            try:
                _remove(container, key)
            except _OpError as exc:
                raise PatchError("error in remove for path: '%s': %s" % (path, exc)) from None
        elif kind == "replace":
            if path == "":
                if not isinstance(op.get("value"), (dict, list)):
                    raise PatchError("replace operation value must be object or array")
                return copy.deepcopy(op["value"])
            container, key = _find_object(doc, path)
            if container is None:
                raise PatchError("replace operation does not apply: doc is missing path: %s: %s" % (path, _MISSING))
            try:
                _get(container, key)
            except _OpError:
                raise PatchError("replace operation does not apply: doc is missing key: %s: %s" % (path, _MISSING)) from None
            # Like the real server's library: replacing a missing object key adds it.
            if isinstance(container, dict):
                container[key] = copy.deepcopy(op.get("value"))
            else:
                container[_list_index(container, key)] = copy.deepcopy(op.get("value"))
        elif kind == "test":
            if path == "":
                if not json_equal(doc, op.get("value")):
                    raise PatchError("testing value %s failed: test failed" % path)
                return doc
            container, key = _find_object(doc, path)
            if container is None:
                raise PatchError("test operation does not apply: is missing path: %s: %s" % (path, _MISSING))
            try:
                actual = _get(container, key)
            except _OpError as exc:
                raise PatchError("error in test for path: '%s': %s" % (path, exc)) from None
            if actual is None and isinstance(container, dict) and key not in container:
                if op.get("value") is None:
                    return doc
                raise PatchError("testing value %s failed: test failed" % path)
            if not json_equal(actual, op.get("value")):
                raise PatchError("testing value %s failed: test failed" % path)
        else:
            doc = _move_or_copy(doc, op, kind)
    except _OpError as exc:
        raise PatchError(str(exc)) from None
    return doc


def _move_or_copy(doc, op, kind):
    source = _op_field(op, "from", kind)
    container, key = _find_object(doc, source)
    if container is None:
        raise PatchError("%s operation does not apply: doc is missing from path: %s: %s" % (kind, source, _MISSING))
    try:
        value = _get(container, key)
    except _OpError as exc:
        what = "path: '%s'" % key if kind == "move" else "from: '%s'" % source
        raise PatchError("error in %s for %s: %s" % (kind, what, exc)) from None
    if kind == "move":
        try:
            _remove(container, key)
        except _OpError as exc:
            raise PatchError("error in move for path: '%s': %s" % (key, exc)) from None
    else:
        value = copy.deepcopy(value)
    path = _op_field(op, "path", kind)
    target, tkey = _find_object(doc, path)
    if target is None:
        raise PatchError("%s operation does not apply: doc is missing destination path: %s: %s" % (kind, path, _MISSING))
    try:
        _add(target, tkey, value)
    except _OpError as exc:
        if kind == "move":
            raise PatchError("error in move for path: '%s': %s" % (path, exc)) from None
        raise PatchError("error while adding value during copy: %s" % exc) from None
    return doc


def json_patch(target, ops):
    """RFC 6902 operations add/remove/replace/move/copy/test, applied in order to a copy of ``target``.

    All or nothing: the first failing operation raises PatchError (the real server answers 422 with the
    message) and ``target`` is left as it was.
    """
    if not isinstance(ops, list):
        raise PatchError("json: cannot unmarshal %s into Go value of type jsonpatch.Patch" % (
            "object" if isinstance(ops, dict) else type(ops).__name__))
    doc = copy.deepcopy(target)
    for op in ops:
        doc = _apply_op(doc, op)
    return doc


# --------------------------------------------------------------------------------------------------
# Strategic merge patch
# --------------------------------------------------------------------------------------------------

_DELETE = object()
_DIRECTIVE_PREFIXES = ("$setElementOrder/", "$deleteFromPrimitiveList/")


def _patch_strategy(schema):
    if not isinstance(schema, dict):
        return (), None
    strategy = tuple(s.strip() for s in str(schema.get("x-kubernetes-patch-strategy", "")).split(",") if s.strip())
    return strategy, schema.get("x-kubernetes-patch-merge-key")


def _strip_directives(value):
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value if not (isinstance(v, dict) and "$patch" in v)]
    return copy.deepcopy(value)


def _smp_map(original, patch, schema, root):
    patch = dict(patch)
    directive = patch.pop("$patch", None)
    if directive == "delete":
        return _DELETE
    if directive == "replace":
        return _smp_map({}, patch, schema, root)
    if directive not in (None, "merge"):
        raise PatchError("unknown patch type: %s in map: %s" % (directive, _go_map(patch)))
    retain = patch.pop("$retainKeys", None)
    orders = {}
    deletions = {}
    for key in [k for k in patch if k.startswith("$")]:
        value = patch.pop(key)
        if key.startswith("$setElementOrder/"):
            orders[key[len("$setElementOrder/"):]] = value
        elif key.startswith("$deleteFromPrimitiveList/"):
            deletions[key[len("$deleteFromPrimitiveList/"):]] = value
        else:
            raise PatchError("strategic merge patch directive %s is not implemented by the stand-in" % key)
    result = dict(original)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
            continue
        merged = _smp_value(result.get(key), value, validation.property_schema(schema, key, root), root)
        if merged is _DELETE:
            result.pop(key, None)
        else:
            result[key] = merged
    for key, values in deletions.items():
        if isinstance(result.get(key), list):
            drop = values if isinstance(values, list) else [values]
            result[key] = [v for v in result[key] if not any(json_equal(v, d) for d in drop)]
    for key, order in orders.items():
        if isinstance(result.get(key), list) and isinstance(order, list):
            dummy, merge_key = _patch_strategy(validation.property_schema(schema, key, root))
            result[key] = _set_element_order(result[key], order, merge_key)
    if retain is not None:
        if not isinstance(retain, list):
            raise PatchError("$retainKeys must be a list of strings, not %s" % _go_map(retain))
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _set_element_order(items, order, merge_key):
    """Put the elements named in ``order`` in that order, in the slots they occupy; others stay where they are."""
    def ident(item):
        if merge_key and isinstance(item, dict):
            return json.dumps(item.get(merge_key), sort_keys=True)
        return json.dumps(item, sort_keys=True)
    rank = {}
    for position, entry in enumerate(order):
        rank.setdefault(ident(entry), position)
    slots = [i for i, item in enumerate(items) if ident(item) in rank]
    ordered = sorted((items[i] for i in slots), key=lambda item: rank[ident(item)])
    result = list(items)
    for slot, item in zip(slots, ordered):
        result[slot] = item
    return result


def _smp_value(original, patch, schema, root):
    if isinstance(patch, dict):
        if isinstance(schema, dict) and schema.get("x-kubernetes-map-type") == "atomic" and "$patch" not in patch:
            return _strip_directives(patch)
        return _smp_map(original if isinstance(original, dict) else {}, patch, schema, root)
    if isinstance(patch, list):
        strategy, merge_key = _patch_strategy(schema)
        if "merge" in strategy and isinstance(original, list):
            return _smp_list(original, patch, merge_key, validation.items_schema(schema, root), root)
        if any(isinstance(v, dict) and v.get("$patch") not in (None, "replace") for v in patch):
            # a `$patch: delete` element in a list that is not merged: nothing to delete from
            patch = [v for v in patch if not (isinstance(v, dict) and v.get("$patch") == "delete")]
        return [_smp_map({}, v, validation.items_schema(schema, root), root) if isinstance(v, dict) else copy.deepcopy(v)
                for v in patch if not (isinstance(v, dict) and v.get("$patch") == "replace" and len(v) == 1)]
    return copy.deepcopy(patch)


def _smp_list(original, patch, merge_key, item_schema, root):
    if any(isinstance(v, dict) and v.get("$patch") == "replace" for v in patch):
        return [_strip_directives(v) for v in patch if not (isinstance(v, dict) and v.get("$patch") == "replace")]
    result = copy.deepcopy(original)
    if not merge_key:
        # merge strategy without a key: a list of primitives, merged as a set
        for value in patch:
            if isinstance(value, dict):
                raise PatchError("strategic merge patch of a list of objects without a merge key is not implemented "
                                 "by the stand-in")
            if not any(json_equal(value, v) for v in result):
                result.append(copy.deepcopy(value))
        return result
    for item in patch:
        if not isinstance(item, dict):
            raise PatchError("map: %s does not contain declared merge key: %s" % (_go_map(item), merge_key))
        if merge_key not in item:
            raise PatchError("map: %s does not contain declared merge key: %s" % (_go_map(item), merge_key))
        matches = [i for i, v in enumerate(result) if isinstance(v, dict) and json_equal(v.get(merge_key), item[merge_key])]
        if item.get("$patch") == "delete":
            result = [v for i, v in enumerate(result) if i not in matches]
            continue
        if matches:
            merged = _smp_map(result[matches[0]], item, item_schema, root)
            if merged is _DELETE:
                result.pop(matches[0])
            else:
                result[matches[0]] = merged
        else:
            merged = _smp_map({}, item, item_schema, root)
            if merged is not _DELETE:
                result.append(merged)
    return result


def strategic_merge_patch(target, patch, kind_schema):
    """Kubernetes strategic merge patch of ``target`` (a new object is returned, nothing is mutated).

    Maps merge recursively and ``null`` deletes a key.  Lists whose schema says
    ``x-kubernetes-patch-strategy: merge`` merge by ``x-kubernetes-patch-merge-key`` (containers, env,
    volumes, volumeMounts by name/mountPath, ports by containerPort, ...) or, without a key, as a set of
    primitives (finalizers); every other list (args, command, tolerations, ...) is replaced.
    ``kind_schema`` is the kind's schema from ``validation.builtin_schema()``; None looks it up from the
    target's apiVersion/kind, and where there is none (custom resources, which the real server refuses
    strategic merge patches for) every list is replaced.
    """
    if not isinstance(patch, dict):
        raise PatchError("json: cannot unmarshal %s into Go value of type map[string]interface {}" % (
            "array" if isinstance(patch, list) else type(patch).__name__))
    root = _schema_for(target, kind_schema)
    result = _smp_map(copy.deepcopy(target) if isinstance(target, dict) else {}, patch, root, root)
    if result is _DELETE:
        raise PatchError("strategic merge patch $patch: delete of the whole object is not implemented by the stand-in")
    return result


# --------------------------------------------------------------------------------------------------
# Field sets (structured-merge-diff's model, in the FieldsV1 encoding)
# --------------------------------------------------------------------------------------------------

# Fields no manager owns (the real field manager strips them).
_STRIPPED_META = frozenset(("name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName",
                            "generation", "managedFields", "resourceVersion"))


def _list_kind(schema):
    """('map', keys) | ('set', None) | ('atomic', None): how server-side apply treats a list."""
    if not isinstance(schema, dict):
        return "atomic", None
    list_type = schema.get("x-kubernetes-list-type")
    if list_type == "map":
        return "map", list(schema.get("x-kubernetes-list-map-keys") or [])
    if list_type in ("set", "atomic"):
        return list_type, None
    strategy, merge_key = _patch_strategy(schema)
    if "merge" in strategy:
        return ("map", [merge_key]) if merge_key else ("set", None)
    return "atomic", None


def _key_element(item, keys):
    return "k:" + json.dumps({k: item[k] for k in keys if k in item}, sort_keys=True, separators=(",", ":"))


def _value_element(value):
    return "v:" + json.dumps(value, sort_keys=True, separators=(",", ":"))


def _walk_fields(value, schema, root, path, out):
    """Record every node below ``path``: out[path] = (kind, value); kind in leaf/struct/map/list/item."""
    schema = validation.resolve(schema, root) if isinstance(schema, dict) else None
    if isinstance(value, dict):
        if schema is not None and schema.get("x-kubernetes-map-type") == "atomic":
            out[path] = ("leaf", value)
            return
        out[path] = ("struct" if schema is not None and schema.get("properties") else "map", value)
        for key, child in value.items():
            _walk_fields(child, validation.property_schema(schema, key, root) if schema is not None else None,
                         root, path + ("f:" + key,), out)
    elif isinstance(value, list):
        kind, keys = _list_kind(schema)
        if kind == "map" and keys and all(isinstance(v, dict) for v in value):
            out[path] = ("list", value)
            item_schema = validation.items_schema(schema, root)
            for item in value:
                item_path = path + (_key_element(item, keys),)
                out[item_path] = ("item", item)
                for key, child in item.items():
                    _walk_fields(child, validation.property_schema(item_schema, key, root) if item_schema else None,
                                 root, item_path + ("f:" + key,), out)
        elif kind == "set" and all(not isinstance(v, (dict, list)) for v in value):
            out[path] = ("list", value)
            for item in value:
                out[path + (_value_element(item),)] = ("leaf", item)
        else:
            out[path] = ("leaf", value)
    else:
        out[path] = ("leaf", value)


def _fields(obj, root, ignore_status):
    """All nodes of an object, without the fields nobody owns (apiVersion, kind, metadata.name, ...)."""
    out = {}
    if not isinstance(obj, dict):
        return out
    for key, value in obj.items():
        if key in ("apiVersion", "kind") or (key == "status" and ignore_status):
            continue
        schema = validation.property_schema(root, key, root) if root else None
        if key == "metadata" and isinstance(value, dict):
            meta = {k: v for k, v in value.items() if k not in _STRIPPED_META}
            if not meta:
                continue
            sub = {}
            _walk_fields(meta, schema, root, ("f:metadata",), sub)
            sub[("f:metadata",)] = ("struct", meta)  # metadata itself is never owned
            out.update(sub)
            continue
        _walk_fields(value, schema, root, ("f:" + key,), out)
    return out


def _apply_set(nodes):
    """The field set an applied configuration claims: its leaves, list items and empty objects."""
    return {path for path, (kind, value) in nodes.items()
            if kind in ("leaf", "item") or (kind in ("map", "struct") and not value and path != ("f:metadata",))}


def _update_member_kinds(custom):
    # Objects of built-in kinds: a struct that is added is not itself owned (the real field manager compares
    # with a zero-valued Go object, where value structs already exist); maps and list items are.  Custom
    # resources are unstructured, so every added object is owned.
    return ("leaf", "item", "map", "struct") if custom else ("leaf", "item", "map")


def fields_to_set(fields_v1, prefix=()):
    """FieldsV1 JSON -> set of path tuples (``{"f:a": {".": {}, "f:b": {}}}`` -> {(f:a,), (f:a, f:b)})."""
    result = set()
    for key, value in (fields_v1 or {}).items():
        if key == ".":
            result.add(prefix)
            continue
        path = prefix + (key,)
        if not value:
            result.add(path)
        else:
            result |= fields_to_set(value, path)
    return result


def set_to_fields(paths):
    """Set of path tuples -> FieldsV1 JSON, keys sorted, "." for a member that also has children."""
    tree = {}
    for path in paths:
        node = tree
        for element in path:
            node = node.setdefault(element, {})

    def render(node, path):
        out = {}
        if node and path in paths and path:
            out["."] = {}
        for key in sorted(node):
            out[key] = render(node[key], path + (key,))
        return out
    return render(tree, ())


def path_string(path):
    """A field path as the real server prints it in conflicts: .spec.containers[name="c"].image."""
    text = ""
    for element in path:
        kind, dummy, rest = element.partition(":")
        if kind == "f":
            text += "." + rest
        elif kind == "k":
            key = json.loads(rest)
            text += "[" + ",".join("%s=%s" % (k, json.dumps(v)) for k, v in sorted(key.items())) + "]"
        elif kind == "v":
            text += "[=" + rest + "]"
        else:
            text += "[" + rest + "]"
    return text


def _entry_id(entry):
    operation = entry.get("operation")
    return (entry.get("manager"), operation, entry.get("apiVersion") if operation == "Update" else None,
            entry.get("subresource") or "")


def _manager_text(entry):
    text = json.dumps(entry.get("manager") or "")
    if entry.get("subresource"):
        text += " with subresource %s" % json.dumps(entry["subresource"])
    if entry.get("operation") == "Update":
        text += " using %s" % entry.get("apiVersion")
    return text


def _sorted_entries(entries):
    # The real server's order: by operation (Apply before Update), then time, manager, apiVersion.
    return sorted(entries, key=lambda e: (e.get("operation") or "", e.get("time") or "", e.get("manager") or "",
                                          e.get("apiVersion") or "", e.get("subresource") or ""))


class _Managed:
    """The decoded managedFields of an object: ordered entries with their field sets."""

    def __init__(self, entries):
        self.entries = []
        for entry in entries or ():
            if isinstance(entry, dict) and entry.get("manager") is not None:
                self.entries.append([dict(entry), fields_to_set(entry.get("fieldsV1"))])

    def find(self, ident):
        for pair in self.entries:
            if _entry_id(pair[0]) == ident:
                return pair
        return None

    def encode(self, original):
        """New managedFields; entries whose set did not change keep their original dicts (and times)."""
        originals = {}
        for entry in original or ():
            if isinstance(entry, dict):
                originals[_entry_id(entry)] = entry
        result = []
        for entry, paths in self.entries:
            if not paths:
                continue
            old = originals.get(_entry_id(entry))
            if old is not None and fields_to_set(old.get("fieldsV1")) == paths and old.get("time") == entry.get("time"):
                result.append(copy.deepcopy(old))
                continue
            entry = dict(entry)
            entry["fieldsType"] = "FieldsV1"
            entry["fieldsV1"] = set_to_fields(paths)
            result.append(entry)
        return _sorted_entries(result)


def _without_managed_fields(obj):
    if not isinstance(obj, dict):
        return obj
    result = dict(obj)
    if isinstance(result.get("metadata"), dict):
        meta = dict(result["metadata"])
        meta.pop("managedFields", None)
        result["metadata"] = meta
    return result


def _strip_nulls(value):
    if isinstance(value, dict):
        return {k: _strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_nulls(v) for v in value]
    return value


# --------------------------------------------------------------------------------------------------
# Server-side apply
# --------------------------------------------------------------------------------------------------

def _ssa_merge(live, applied, schema, root):
    schema = validation.resolve(schema, root) if isinstance(schema, dict) else None
    if isinstance(applied, dict) and isinstance(live, dict) and not (
            schema is not None and schema.get("x-kubernetes-map-type") == "atomic"):
        result = dict(live)
        for key, value in applied.items():
            sub = validation.property_schema(schema, key, root) if schema is not None else None
            result[key] = _ssa_merge(live.get(key), value, sub, root)
        return result
    if isinstance(applied, list) and isinstance(live, list):
        kind, keys = _list_kind(schema)
        if kind == "map" and keys and all(isinstance(v, dict) for v in applied + live):
            item_schema = validation.items_schema(schema, root)
            result = list(live)
            index = {_key_element(item, keys): i for i, item in enumerate(result)}
            for item in applied:
                element = _key_element(item, keys)
                if element in index:
                    result[index[element]] = _ssa_merge(result[index[element]], item, item_schema, root)
                else:
                    index[element] = len(result)
                    result.append(copy.deepcopy(item))
            return result
        if kind == "set":
            result = list(live)
            for item in applied:
                if not any(json_equal(item, v) for v in result):
                    result.append(copy.deepcopy(item))
            return result
    return copy.deepcopy(applied)


_GONE = object()


def _prune(value, schema, root, path, to_remove, protected):
    """Remove the nodes in ``to_remove`` below ``path`` unless a node in ``protected`` lies under them;
    objects and lists that become empty this way go too."""
    if path in to_remove and path not in protected:
        return _GONE
    schema = validation.resolve(schema, root) if isinstance(schema, dict) else None
    if isinstance(value, dict) and not (schema is not None and schema.get("x-kubernetes-map-type") == "atomic"):
        result = {}
        for key, child in value.items():
            sub = validation.property_schema(schema, key, root) if schema is not None else None
            pruned = _prune(child, sub, root, path + ("f:" + key,), to_remove, protected)
            if pruned is not _GONE:
                result[key] = pruned
        return _GONE if value and not result and path not in protected else result
    if isinstance(value, list):
        kind, keys = _list_kind(schema)
        result = []
        if kind == "map" and keys and all(isinstance(v, dict) for v in value):
            item_schema = validation.items_schema(schema, root)
            for item in value:
                item_path = path + (_key_element(item, keys),)
                if item_path in to_remove and item_path not in protected:
                    continue
                result.append(_prune_item(item, keys, item_schema, root, item_path, to_remove, protected))
        elif kind == "set":
            result = [v for v in value if path + (_value_element(v),) not in to_remove
                      or path + (_value_element(v),) in protected]
        else:
            return value
        return _GONE if value and not result and path not in protected else result
    return value


def _prune_item(item, keys, schema, root, path, to_remove, protected):
    """An associative list's item that stays (someone else owns part of it): its key fields stay too."""
    result = {}
    for key, child in item.items():
        if key in keys:
            result[key] = child
            continue
        sub = validation.property_schema(schema, key, root) if schema is not None else None
        pruned = _prune(child, sub, root, path + ("f:" + key,), to_remove, protected)
        if pruned is not _GONE:
            result[key] = pruned
    return result


def _prefixes(paths):
    result = set()
    for path in paths:
        for i in range(1, len(path) + 1):
            result.add(path[:i])
    return result


def _all_owned_set(obj, root, custom):
    nodes = _fields(obj, root, False)
    kinds = _update_member_kinds(custom)
    return {p for p, (kind, value) in nodes.items()
            if p != ("f:metadata",) and (kind in kinds or (kind == "struct" and not value))}


def server_side_apply(live, applied, manager, force, kind_schema, now, ignore_status=True):
    """Server-side apply of ``applied`` (the configuration) by ``manager``; returns ``(object, conflicts)``.

    * ``live`` None: the object is created from the configuration; the manager owns what it applied.
    * Fields in the configuration that another manager owns with a different value are conflicts,
      returned as messages ``conflict with "kubectl-client-side-apply" using v1: .data.key`` (the object
      is then returned unchanged); with ``force`` the ownership moves to this manager instead.
      ``apply_conflict_message(conflicts)`` gives the real server's whole 409 message.
    * Fields the manager applied before but no longer applies are removed from the object unless another
      manager owns them (or something below them), or the configuration still applies something below them.
    * Lists with ``x-kubernetes-list-type: map`` merge by key (owned as ``k:{...}``), ``set`` lists by value
      (``v:...``), every other list and ``x-kubernetes-map-type: atomic`` objects are atomic (owned whole).
    * Applying the same configuration again returns an object equal to ``live``, managedFields and their
      times included, so the caller can skip the write.
    * Not modelled: converting field sets between API versions, the "ancient-changes" cap of managers,
      ``null`` in a configuration (it is treated as not given), and the order of merged list items (new
      items are appended).  ``status`` is ignored (as on a main resource with a status subresource) unless
      ``ignore_status`` is false.  The caller checks ``metadata.resourceVersion`` before calling.
    ``kind_schema``: ``validation.builtin_schema()`` of the kind, or a CRD's ``openAPIV3Schema``; None looks up
    the built-in schema, and without one every object is a granular map and every list atomic.
    """
    applied = _strip_nulls(copy.deepcopy(applied))
    if isinstance(applied.get("metadata"), dict):
        for key in ("managedFields", "creationTimestamp", "uid", "generation", "resourceVersion", "selfLink"):
            applied["metadata"].pop(key, None)
    if ignore_status:
        applied.pop("status", None)
    root = _schema_for(applied, kind_schema)
    custom = not (isinstance(root, dict) and "$defs" in root)
    applied_set = _apply_set(_fields(applied, root, ignore_status))
    me = {"manager": manager, "operation": "Apply", "apiVersion": applied.get("apiVersion"), "time": now}
    if live is None:
        obj = copy.deepcopy(applied)
        managed = _Managed([])
        managed.entries.append([me, applied_set])
        entries = managed.encode([])
        if entries:
            obj.setdefault("metadata", {})["managedFields"] = entries
        return obj, []

    live_meta = live.get("metadata") if isinstance(live.get("metadata"), dict) else {}
    original_entries = live_meta.get("managedFields") or []
    managed = _Managed(original_entries)
    if not managed.entries:
        # An object nobody tracked yet: its fields belong to "before-first-apply", as in the real server.
        seeded = {"manager": "before-first-apply", "operation": "Update", "apiVersion": live.get("apiVersion"), "time": now}
        managed.entries.append([seeded, _all_owned_set(live, root, custom)])
    mine = managed.find(_entry_id(me))
    previous = mine[1] if mine else set()

    live_body = _without_managed_fields(copy.deepcopy(live))
    merged = _ssa_merge(live_body, applied, root, root)
    live_nodes = _fields(live_body, root, ignore_status)
    merged_nodes = _fields(merged, root, ignore_status)
    changed = {p for p in applied_set
               if p not in live_nodes or not json_equal(live_nodes[p][1], merged_nodes.get(p, (None, None))[1])}
    conflicts = []
    for pair in managed.entries:
        if pair is mine:
            continue
        clash = pair[1] & changed
        if not clash:
            continue
        if force:
            pair[1] = pair[1] - clash
        else:
            conflicts.extend("conflict with %s: %s" % (_manager_text(pair[0]), path_string(p))
                             for p in sorted(clash))
    if conflicts:
        return copy.deepcopy(live), conflicts

    others = set()
    for pair in managed.entries:
        if pair is not mine:
            others |= pair[1]
    to_remove = previous - applied_set - others
    if to_remove:
        # What is still owned stays, and so does every object and list above it: another manager's fields
        # and this configuration's own.  The previous set may hold an object itself ("." in FieldsV1), e.g.
        # after kubectl moved a client-side Update entry into its Apply entry; the configuration never
        # claims objects that have fields, so without its own prefixes such an object (the labels of
        # spec.template, say) would go with everything below it.
        merged = _prune(merged, root, root, (), to_remove, _prefixes(others | applied_set))
    if mine is None:
        mine = [me, applied_set]
        managed.entries.append(mine)
    else:
        mine[1] = applied_set
    object_changed = not json_equal(merged, live_body)
    if object_changed or applied_set != previous:
        mine[0] = dict(mine[0], time=now, apiVersion=applied.get("apiVersion"))
    entries = managed.encode(original_entries)
    if not object_changed and json_equal(entries, _sorted_entries(original_entries)):
        return copy.deepcopy(live), []
    result = copy.deepcopy(merged)
    if entries:
        result.setdefault("metadata", {})["managedFields"] = entries
    return result, []


def apply_conflict_message(conflicts):
    """The real server's 409 message for the conflicts server_side_apply returned."""
    if len(conflicts) == 1:
        return "Apply failed with 1 conflict: %s" % conflicts[0]
    grouped = {}
    for text in conflicts:
        head, dummy, path = text.rpartition(": .")
        grouped.setdefault(head[len("conflict with "):], []).append("." + path)
    lines = []
    for manager in sorted(grouped):
        lines.append("conflicts with %s:" % manager)
        lines.extend("- %s" % p for p in grouped[manager])
    return "Apply failed with %d conflicts: %s" % (len(conflicts), "\n".join(lines))


# --------------------------------------------------------------------------------------------------
# Updates (create / update / patch)
# --------------------------------------------------------------------------------------------------

_AUTO = object()


def update_managed_fields(old, new, manager, operation, api_version, now, kind_schema=_AUTO, subresource=None):
    """managedFields after a create (``old`` None), update or patch by ``manager`` (operation "Update").

    The manager becomes owner of every field it added or changed (other managers lose those), fields the
    request removed leave every manager's set, and the entry's time is ``now``.  An unchanged object keeps
    its managedFields exactly.  As in the real server, managedFields sent in the request replace the
    stored ones when non-empty, and ``[{}]`` clears them.  ``kind_schema`` defaults to the built-in schema
    of ``new``'s kind (pass a CRD's ``openAPIV3Schema`` for custom resources).  Returns a new object.
    """
    result = copy.deepcopy(new)
    meta = result.setdefault("metadata", {})
    incoming = meta.get("managedFields")
    if incoming == [{}]:
        meta.pop("managedFields", None)
        return result
    old_meta = old.get("metadata") if isinstance(old, dict) and isinstance(old.get("metadata"), dict) else {}
    base = incoming if incoming else (old_meta.get("managedFields") or [])
    if old is not None and json_equal(_without_managed_fields(old), _without_managed_fields(new)):
        if base:
            meta["managedFields"] = copy.deepcopy(base)
        else:
            meta.pop("managedFields", None)
        return result
    root = _schema_for(new, None) if kind_schema is _AUTO else kind_schema
    custom = not (isinstance(root, dict) and "$defs" in root)
    kinds = _update_member_kinds(custom)
    old_nodes = _fields(_without_managed_fields(old), root, False) if old is not None else {}
    new_nodes = _fields(_without_managed_fields(new), root, False)
    added = {p for p, (kind, value) in new_nodes.items()
             if p not in old_nodes and p != ("f:metadata",) and (kind in kinds or (kind == "struct" and not value))}
    modified = {p for p, (kind, value) in new_nodes.items()
                if p in old_nodes and kind == "leaf" and not json_equal(old_nodes[p][1], value)}
    removed = {p for p in old_nodes if p not in new_nodes}
    managed = _Managed(base)
    me = {"manager": manager, "operation": operation, "apiVersion": api_version, "time": now}
    if subresource:
        me["subresource"] = subresource
    mine = managed.find(_entry_id(me))
    for pair in managed.entries:
        if pair is not mine:
            pair[1] = pair[1] - removed - added - modified
    if mine is None:
        mine = [me, set()]
        managed.entries.append(mine)
    mine[0] = dict(mine[0], time=now)
    mine[1] = (mine[1] - removed) | added | modified
    entries = managed.encode(base)
    if entries:
        meta["managedFields"] = entries
    else:
        meta.pop("managedFields", None)
    return result
