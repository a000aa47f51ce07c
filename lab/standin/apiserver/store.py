"""STAND-IN kube-apiserver: the REST semantics of objects kept in etcd (no HTTP here).

create / get / list / update / patch / apply / delete / deletecollection / watch, with the real
server's rules that clients depend on: resourceVersion = etcd mod_revision; optimistic concurrency
with etcd transactions (409 Conflict); a write that changes nothing is skipped and keeps the
resourceVersion; generation bumps when the spec changes; status subresources; dryRun=All stores
nothing; fieldValidation Strict/Warn/Ignore; finalizers delay deletion; deleting a namespace deletes
its contents; deleting a CRD deletes its custom resources.  Objects are stored as JSON.
"""

import copy
import datetime
import ipaddress
import json
import random
import re
import time
import uuid

from . import selectors
from .etcd import EtcdError
from .registry import REVIEW_KINDS

from . import patching
from . import validation


class ApiError(Exception):
    """Becomes a meta/v1 Status answer."""

    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or []

    def status(self):
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": self.message}
        if self.reason:
            body["reason"] = self.reason  # an error that is no StatusError (a plain Go error) has none
        body["code"] = self.code
        if self.details is not None:
            body["details"] = self.details
        return body


def not_found(res, name):
    return ApiError(404, "NotFound", f'{res.group_resource} "{name}" not found',
                    {"name": name, "group": res.group or None, "kind": res.plural})


def conflict(res, name):
    return ApiError(409, "Conflict",
                    f'Operation cannot be fulfilled on {res.group_resource} "{name}": the object has been modified; '
                    "please apply your changes to the latest version and try again",
                    {"name": name, "group": res.group or None, "kind": res.plural})


def bad_request(message):
    return ApiError(400, "BadRequest", message)


def invalid(res, name, errors):
    causes = []
    for err in errors:
        field, dummy, rest = err.partition(": ")
        reason = "FieldValueInvalid"
        for word, code in (("Required value", "FieldValueRequired"), ("Unsupported value", "FieldValueNotSupported"),
                           ("Duplicate value", "FieldValueDuplicate"), ("Too long", "FieldValueTooLong"),
                           ("Forbidden", "FieldValueForbidden")):
            if rest.startswith(word):
                reason = code
        causes.append({"reason": reason, "message": rest or err, "field": field if rest else ""})
    joined = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
    details = {"name": name, "group": res.group or None, "kind": res.kind, "causes": causes}
    return ApiError(422, "Invalid", f'{res.qualified_kind} "{name}" is invalid: {joined}', details)


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def strip_for_compare(obj):
    obj = copy.deepcopy(obj)
    meta = obj.get("metadata") or {}
    meta.pop("resourceVersion", None)
    for entry in meta.get("managedFields") or []:
        entry.pop("time", None)
    return obj


STRICT_RE = re.compile(r'^(unknown|duplicate) field ')
UNKNOWN_RE = re.compile(r'^unknown field "(.*)"$')


def typed_patch_error(res, namespace, name, paths):
    """What server-side apply answers for fields the schema does not declare, whatever fieldValidation says:
    structured-merge-diff cannot convert the patch to a typed object, and the plain error becomes an HTTP 500
    without a reason (kubernetes/kubernetes#122480).  STAND-IN: list items are shown by index ([0]), where the
    real message names the items of keyed lists by their keys ([name="c"]), and the order of several errors is
    the stand-in's (sorted by path)."""
    errors = [f".{path}: field not declared in schema" for path in sorted(paths)]
    text = errors[0] if len(errors) == 1 else "errors:\n" + "\n".join("  " + e for e in errors)
    gvk = f"{res.group}/{res.version}, Kind={res.kind}"
    return ApiError(500, "", f"failed to create typed patch object ({namespace or ''}/{name}; {gvk}): {text}")


def _clean(obj):
    """Drop None-valued optional metadata and make sure it is a plain dict tree."""
    return json.loads(json.dumps(obj))


class Store:
    """Objects of every resource, stored in etcd."""

    def __init__(self, etcd, registry, service_cidr="10.96.0.0/12", log=None):
        self.etcd = etcd
        self.registry = registry
        self.service_net = ipaddress.ip_network(service_cidr.split(",")[0].strip(), strict=False)
        self.log = log or (lambda *a: None)

    # -- raw access ----------------------------------------------------------------------------
    def read(self, res, namespace, name):
        """The object (resourceVersion set) or None."""
        kv, dummy = self.etcd.get(res.storage_key(namespace, name))
        if kv is None:
            return None
        return self._decode(kv)

    @staticmethod
    def _decode(kv):
        obj = json.loads(kv.value)
        obj.setdefault("metadata", {})["resourceVersion"] = str(kv.mod_revision)
        return obj

    @staticmethod
    def _encode(obj):
        obj = copy.deepcopy(obj)
        obj.get("metadata", {}).pop("resourceVersion", None)
        return json.dumps(obj, separators=(",", ":"))

    def must_read(self, res, namespace, name):
        obj = self.read(res, namespace, name)
        if obj is None:
            raise not_found(res, name)
        return obj

    # -- list --------------------------------------------------------------------------------------
    def list(self, res, namespace, label_selector="", field_selector="", limit=0, continue_token=None):
        labels = self._labels(label_selector)
        fields = self._fields(field_selector, res)
        prefix = res.storage_prefix(namespace)
        revision, start = 0, None
        if continue_token:
            try:
                token = json.loads(_b64d(continue_token))
                revision, start = int(token["rv"]), token["start"]
            except (ValueError, KeyError, TypeError) as err:
                raise bad_request("continue key is not valid: " + str(err)) from err
            if not start.startswith(prefix):
                raise bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
        items, more = [], False
        list_revision = revision
        while True:
            kvs, header, more = self.etcd.list(prefix, revision=revision, limit=(limit + 1) if limit else 0, start_key=start)
            if not list_revision:
                list_revision = header
                revision = header
            for kv in kvs:
                if limit and len(items) >= limit:
                    more = True
                    break
                obj = self._decode(kv)
                if selectors.match_labels(labels, obj.get("metadata", {}).get("labels")) and selectors.match_fields(fields, obj):
                    items.append((kv.key, obj))
            else:
                if more and kvs and (not limit or len(items) < limit):
                    start = kvs[-1].key + "\0"
                    continue
            break
        next_token = None
        if limit and more and items:
            next_token = _b64e(json.dumps({"rv": list_revision, "start": items[-1][0] + "\0"}))
        return [obj for dummy, obj in items], list_revision, next_token

    @staticmethod
    def _labels(text):
        try:
            return selectors.parse_labels(text)
        except selectors.SelectorError as err:
            raise bad_request(f"unable to parse requirement: {err}".replace("unable to parse requirement: unable", "unable")) from err

    @staticmethod
    def _fields(text, res):
        try:
            return selectors.parse_fields(text, res.kind)
        except selectors.SelectorError as err:
            raise bad_request(str(err)) from err

    # -- validation -----------------------------------------------------------------------------
    @staticmethod
    def unknown_fields(res, obj):
        """Paths of the fields of obj that its schema does not declare (metadata included)."""
        if res.crd is not None:
            dummy, warnings, dummy = validation.validate_custom(obj, res.version_schema() or {}, "Warn", check_metadata=False,
                                                                namespaced=res.namespaced, apply_defaults=False)
        else:
            dummy, warnings, dummy = validation.validate_builtin(obj, "Warn", check_metadata=False)
        return [m.group(1) for m in (UNKNOWN_RE.match(w) for w in warnings) if m]

    def validate(self, res, obj, field_validation, name=None):
        """(cleaned obj, warnings); raises 400 for strict decoding errors, 422 for invalid objects."""
        errors = []
        if res.crd is not None:
            cleaned, warnings, more = validation.validate_custom(obj, res.version_schema() or {}, field_validation,
                                                                 check_metadata=True, namespaced=res.namespaced)
        else:
            errors = list(validation.validate_metadata(obj, res.namespaced))
            cleaned, warnings, more = validation.validate_builtin(obj, field_validation, check_metadata=False)
        strict = [e for e in more if STRICT_RE.match(e)]
        errors.extend(e for e in more if not STRICT_RE.match(e))
        if strict:
            raise bad_request(f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}: '
                              f'strict decoding error: {", ".join(strict)}')
        if errors:
            raise invalid(res, name or obj.get("metadata", {}).get("name", ""), errors)
        return cleaned, list(warnings)

    # -- helpers --------------------------------------------------------------------------------
    def namespace_must_exist(self, namespace):
        if not namespace:
            return
        kv, dummy = self.etcd.get(f"/registry/namespaces/{namespace}")
        if kv is None:
            raise ApiError(404, "NotFound", f'namespaces "{namespace}" not found', {"name": namespace, "kind": "namespaces"})
        ns = json.loads(kv.value)
        if ns.get("metadata", {}).get("deletionTimestamp") or ns.get("status", {}).get("phase") == "Terminating":
            raise ApiError(403, "Forbidden", f"unable to create new content in namespace {namespace} because it is being terminated",
                           {"name": namespace, "kind": "namespaces"})

    @staticmethod
    def _spec_changed(res, old, new):
        if res.crd is not None or res.kind == "CustomResourceDefinition":
            def strip(o):
                return {k: v for k, v in o.items() if k not in ("metadata", "status")}
            return strip(old) != strip(new)
        return old.get("spec") != new.get("spec")

    def prepare_create(self, res, obj, user, dry_run):
        """Kind-specific rules of the real strategies' PrepareForCreate (status reset, CSR requester)."""
        kind = res.kind
        if "status" in res.subresources and kind not in ("Node", "CustomResourceDefinition", "Namespace"):
            obj.pop("status", None)
        if kind == "Namespace":
            obj["status"] = {"phase": "Active"}
            spec = obj.setdefault("spec", {})
            if "kubernetes" not in (spec.get("finalizers") or []):
                spec["finalizers"] = (spec.get("finalizers") or []) + ["kubernetes"]
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
        elif kind == "Pod":
            obj["status"] = {"phase": "Pending", "qosClass": _qos(obj.get("spec") or {})}
            for container in (obj.get("spec") or {}).get("containers") or []:
                container.setdefault("terminationMessagePath", "/dev/termination-log")
                container.setdefault("terminationMessagePolicy", "File")
        elif kind == "CertificateSigningRequest":
            spec = obj.setdefault("spec", {})
            spec["username"] = user["name"]
            spec["groups"] = list(user["groups"]) + (["system:authenticated"] if "system:authenticated" not in user["groups"] else [])
            spec.pop("uid", None)
            obj["status"] = {}
        elif kind == "CustomResourceDefinition":
            names = obj.setdefault("spec", {}).setdefault("names", {})
            names.setdefault("singular", str(names.get("kind", "")).lower())
            names.setdefault("listKind", f"{names.get('kind', '')}List")
            obj["status"] = crd_status(obj, None)
        elif kind == "Service":
            self._allocate_service(obj, dry_run)
        elif kind == "Secret":
            obj.setdefault("type", "Opaque")

    def _allocate_service(self, svc, dry_run):
        spec = svc.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        for port in spec.get("ports") or []:
            port.setdefault("protocol", "TCP")
            if "targetPort" not in port and "port" in port:
                port["targetPort"] = port["port"]
        if spec["type"] == "ExternalName":
            return
        wanted = spec.get("clusterIP") or ((spec.get("clusterIPs") or [None])[0])
        if wanted == "None":
            spec["clusterIP"] = "None"
            spec["clusterIPs"] = ["None"]
        else:
            if wanted:
                try:
                    address = ipaddress.ip_address(wanted)
                except ValueError as err:
                    raise _svc_invalid(svc, f'spec.clusterIPs: Invalid value: ["{wanted}"]: must be a valid IP address') from err
                if address not in self.service_net:
                    raise _svc_invalid(svc, f'spec.clusterIPs: Invalid value: ["{wanted}"]: failed to allocate IP {wanted}: '
                                            f'the provided IP ({wanted}) is not in the valid range. The range of valid IPs is {self.service_net}')
                if not dry_run and self.etcd.create(f"/registry/standin/serviceips/{wanted}", svc["metadata"]["name"]) is None:
                    raise _svc_invalid(svc, f'spec.clusterIPs: Invalid value: ["{wanted}"]: failed to allocate IP {wanted}: provided IP is already allocated')
                chosen = wanted
            else:
                chosen = None
                hosts = self.service_net.num_addresses - 2
                # like the real allocator, dynamic addresses avoid the low "static" band (where kube-dns asks for .10)
                static = min(max(16, hosts // 16), 256) if hosts > 32 else 1
                for dummy in range(64):
                    candidate = str(self.service_net.network_address + random.randint(static + 1, max(static + 1, min(hosts, static + 4094))))
                    if dry_run or self.etcd.create(f"/registry/standin/serviceips/{candidate}", svc["metadata"]["name"]) is not None:
                        chosen = candidate
                        break
                if chosen is None:
                    raise ApiError(500, "InternalError", "failed to allocate a serviceIP: range is full")
            spec["clusterIP"] = chosen
            spec["clusterIPs"] = [chosen]
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
        if spec["type"] in ("NodePort", "LoadBalancer"):
            spec.setdefault("externalTrafficPolicy", "Cluster")
            for port in spec.get("ports") or []:
                if "nodePort" not in port:
                    port["nodePort"] = random.randint(30000, 32767)

    def release_service(self, svc):
        ip = (svc.get("spec") or {}).get("clusterIP")
        if ip and ip != "None":
            self.etcd.delete(f"/registry/standin/serviceips/{ip}")

    # -- create ---------------------------------------------------------------------------------
    def create(self, res, namespace, obj, user, manager, field_validation="Warn", dry_run=False, validated=False):
        """(stored object, warnings)."""
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        if res.namespaced:
            if meta.get("namespace") and meta["namespace"] != namespace:
                raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if meta.get("resourceVersion"):
            raise bad_request("resourceVersion should not be set on objects to be created")
        if not meta.get("name"):
            if meta.get("generateName"):
                meta["name"] = meta["generateName"] + "".join(random.choice("bcdfghjklmnpqrstvwxz2456789") for dummy in range(5))
            else:
                raise invalid(res, "", ["metadata.name: Required value: name or generateName is required"])
        obj["apiVersion"] = res.api_version
        obj["kind"] = res.kind
        warnings = []
        if not validated:
            obj, warnings = self.validate(res, obj, field_validation)
            meta = obj["metadata"]
        if res.namespaced:
            self.namespace_must_exist(namespace)
        if res.kind == "CustomResourceDefinition":
            errors = validate_crd(obj)
            if errors:
                raise invalid(res, meta["name"], errors)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        for key in ("deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            meta.pop(key, None)
        if res.generation:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        self.prepare_create(res, obj, user, dry_run)
        if res.kind == "CustomResourceDefinition" and not dry_run:
            self._crd_names_free(obj)
        if not validated:
            obj = managed(None, obj, res, manager)
        obj = _clean(obj)
        if dry_run:
            return obj, warnings
        revision = self.etcd.create(res.storage_key(namespace, meta["name"]), self._encode(obj))
        if revision is None:
            if res.kind == "Service":
                pass
            raise ApiError(409, "AlreadyExists", f'{res.group_resource} "{meta["name"]}" already exists',
                           {"name": meta["name"], "group": res.group or None, "kind": res.plural})
        obj["metadata"]["resourceVersion"] = str(revision)
        return obj, warnings

    def _crd_names_free(self, crd):
        spec = crd["spec"]
        for other in self.registry.custom(force=True):
            if other.group == spec["group"] and other.plural == spec["names"]["plural"]:
                raise ApiError(409, "AlreadyExists", f'customresourcedefinitions.apiextensions.k8s.io "{crd["metadata"]["name"]}" already exists')

    # -- update -----------------------------------------------------------------------------------
    def update(self, res, namespace, name, obj, manager, field_validation="Warn", dry_run=False,
               subresource=None, operation="Update", validated=False, old=None, allow_create=False, user=None):
        """PUT semantics.  (object, warnings, created)."""
        meta = obj.setdefault("metadata", {})
        if meta.get("name") and meta["name"] != name:
            raise bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")
        if res.namespaced and meta.get("namespace") and meta["namespace"] != namespace:
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        meta["name"] = name
        if old is None:
            old = self.read(res, namespace, name)
        if old is None:
            if allow_create and subresource is None:
                meta.pop("resourceVersion", None)
                created, warnings = self.create(res, namespace, obj, user or {"name": "", "groups": []}, manager,
                                                field_validation, dry_run, validated)
                return created, warnings, True
            raise not_found(res, name)
        expected = meta.get("resourceVersion")
        if expected and expected != old["metadata"]["resourceVersion"]:
            raise conflict(res, name)
        obj["apiVersion"] = res.api_version
        obj["kind"] = res.kind
        warnings = []
        if not validated:
            obj, warnings = self.validate(res, obj, field_validation, name)
        new = self._merge_update(res, old, obj, subresource)
        if res.kind == "CustomResourceDefinition":
            errors = validate_crd(new, old)
            if errors:
                raise invalid(res, name, errors)
            new["status"] = crd_status(new, old)
        if operation != "Apply":
            new = managed(old, new, res, manager, subresource if subresource in ("status", "approval") else None)
        new = _clean(new)
        return self._write(res, namespace, name, old, new, dry_run) + (warnings, False)

    def _merge_update(self, res, old, obj, subresource):
        """The new object: immutable metadata from old; status or spec kept per the endpoint."""
        if subresource in ("status", "approval"):
            new = copy.deepcopy(old)
            status = copy.deepcopy(obj.get("status") or {})
            if subresource == "approval":
                status = dict(new.get("status") or {}, conditions=status.get("conditions") or [])
            new["status"] = status
            if subresource == "status":
                # the real status strategies also take metadata changes other than identity? no: labels/annotations kept from old
                pass
            return new
        new = copy.deepcopy(obj)
        meta, old_meta = new["metadata"], old["metadata"]
        for key in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
            if key in old_meta:
                meta[key] = old_meta[key]
            else:
                meta.pop(key, None)
        if res.namespaced:
            meta["namespace"] = old_meta.get("namespace")
        meta["resourceVersion"] = old_meta["resourceVersion"]
        if "status" in res.subresources and res.kind not in ("Namespace",):
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        if res.kind == "Namespace":
            new["status"] = copy.deepcopy(old.get("status") or {"phase": "Active"})
            new["spec"] = copy.deepcopy(old.get("spec") or {})
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
        if res.kind == "CertificateSigningRequest":
            new["spec"] = copy.deepcopy(old.get("spec") or {})
        if res.kind == "Service":
            spec, old_spec = new.setdefault("spec", {}), old.get("spec") or {}
            for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
                if key in old_spec and key not in spec:
                    spec[key] = old_spec[key]
            if spec.get("clusterIP") != old_spec.get("clusterIP"):
                raise invalid(res, meta["name"], [f'spec.clusterIPs[0]: Invalid value: []string{{"{spec.get("clusterIP")}"}}: may not change once set'])
        if res.generation:
            generation = int(old_meta.get("generation") or 1)
            if self._spec_changed(res, old, new):
                generation += 1
            meta["generation"] = generation
        else:
            meta.pop("generation", None)
        return new

    def _write(self, res, namespace, name, old, new, dry_run):
        """(object,) — skips a no-op; deletes an object whose last finalizer went away while deleting."""
        if strip_for_compare(new) == strip_for_compare(old):
            return (old,)
        if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
            if dry_run:
                return (new,)
            if self.etcd.delete(res.storage_key(namespace, name), int(old["metadata"]["resourceVersion"])) is None:
                raise conflict(res, name)
            self._after_delete(res, new)
            return (new,)
        if dry_run:
            return (new,)
        revision = self.etcd.update(res.storage_key(namespace, name), self._encode(new), int(old["metadata"]["resourceVersion"]))
        if revision is None:
            raise conflict(res, name)
        new["metadata"]["resourceVersion"] = str(revision)
        return (new,)

    # -- patch ----------------------------------------------------------------------------------
    def patch(self, res, namespace, name, patch_type, body, manager, field_validation="Warn", dry_run=False,
              subresource=None, force=False, user=None):
        """(object, warnings, created)."""
        for dummy in range(10):
            try:
                return self._patch_once(res, namespace, name, patch_type, body, manager, field_validation,
                                        dry_run, subresource, force, user)
            except ApiError as err:
                if err.code == 409 and err.reason == "Conflict" and not _has_rv(body, patch_type) and not _manager_conflict(err):
                    time.sleep(random.uniform(0.01, 0.05))
                    continue
                raise
        raise conflict(res, name)

    def _patch_once(self, res, namespace, name, patch_type, body, manager, field_validation, dry_run, subresource, force, user):
        old = self.read(res, namespace, name)
        if patch_type == "apply":
            return self._apply(res, namespace, name, old, body, manager, field_validation, dry_run, subresource, force, user)
        if old is None:
            raise not_found(res, name)
        base = copy.deepcopy(old)
        try:
            if patch_type == "json":
                if not isinstance(body, list):
                    raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
                patched = patching.json_patch(base, body)
            elif patch_type == "merge":
                if not isinstance(body, dict):
                    raise bad_request("json: cannot unmarshal into Go value of type map[string]interface {}")
                patched = patching.json_merge_patch(base, body)
            elif patch_type == "strategic":
                if not isinstance(body, dict):
                    raise bad_request("json: cannot unmarshal into Go value of type map[string]interface {}")
                patched = patching.strategic_merge_patch(base, body, kind_schema(res))
            else:
                raise ApiError(415, "UnsupportedMediaType", f"unsupported patch type {patch_type}")
        except patching.PatchError as err:
            raise ApiError(422, "Invalid", str(err)) from err
        if not isinstance(patched, dict):
            raise bad_request("patched object is not an object")
        patched.setdefault("metadata", {})
        if patched["metadata"].get("resourceVersion") is None:
            patched["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if patched.get("metadata", {}).get("name", name) != name:
            raise bad_request(f"the name of the object ({patched['metadata']['name']}) does not match the name on the URL ({name})")
        obj, warnings, dummy = self.update(res, namespace, name, patched, manager, field_validation, dry_run, subresource,
                                           "Update", old=old, user=user)
        return obj, warnings, False

    def _apply(self, res, namespace, name, old, applied, manager, field_validation, dry_run, subresource, force, user):
        if not isinstance(applied, dict):
            raise bad_request("error decoding YAML: the body of an apply patch must be an object")
        meta = applied.get("metadata") or {}
        if meta.get("name") and meta["name"] != name:
            raise bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")
        if not applied.get("apiVersion") or not applied.get("kind"):
            raise bad_request("invalid object type: " + ("/, Kind=" if not applied.get("kind") else str(applied.get("kind"))))
        if applied["apiVersion"] != res.api_version or applied["kind"] != res.kind:
            raise bad_request(f"the API version in the data ({applied['apiVersion']}) does not match the expected API version ({res.api_version})"
                              if applied["apiVersion"] != res.api_version else
                              f"the kind in the data ({applied['kind']}) does not match the expected kind ({res.kind})")
        if res.namespaced and meta.get("namespace") and meta["namespace"] != namespace:
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        applied.setdefault("metadata", {})["name"] = name
        if res.namespaced:
            applied["metadata"]["namespace"] = namespace
        unknown = self.unknown_fields(res, applied)
        if unknown:
            raise typed_patch_error(res, namespace if res.namespaced else None, name, unknown)
        cleaned, warnings = self.validate(res, applied, field_validation, name)
        live = None
        if old is not None:
            live = copy.deepcopy(old)
        merged, conflicts = patching.server_side_apply(live, cleaned, manager, force, kind_schema(res), now_rfc3339(),
                                                       ignore_status=subresource != "status")
        if conflicts and not force:
            raise ApiError(409, "Conflict", patching.apply_conflict_message(conflicts),
                           {"causes": [{"reason": "FieldManagerConflict", "message": c.split(": ", 1)[0],
                                        "field": c.rsplit(": ", 1)[-1]} for c in conflicts]})
        merged.setdefault("metadata", {})
        if old is None:
            if subresource:
                raise not_found(res, name)
            merged["metadata"].pop("resourceVersion", None)
            self.validate(res, merged, "Ignore", name)
            obj, dummy = self.create(res, namespace, merged, user or {"name": "", "groups": []}, manager, "Ignore", dry_run, validated=True)
            return obj, warnings, True
        merged["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        self.validate(res, merged, "Ignore", name)
        obj, dummy, dummy = self.update(res, namespace, name, merged, manager, "Ignore", dry_run, subresource, "Apply",
                                        validated=True, old=old, user=user)
        return obj, warnings, False

    # -- delete ---------------------------------------------------------------------------------
    def delete(self, res, namespace, name, options=None, dry_run=False):
        """The object as deleted (or as marked for deletion when finalizers remain)."""
        options = options or {}
        for dummy in range(10):
            old = self.must_read(res, namespace, name)
            pre = options.get("preconditions") or {}
            if pre.get("uid") and pre["uid"] != old["metadata"].get("uid"):
                raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {res.group_resource} "{name}": '
                               f'Precondition failed: UID in precondition: {pre["uid"]}, UID in object meta: {old["metadata"].get("uid")}')
            if pre.get("resourceVersion") and pre["resourceVersion"] != old["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {res.group_resource} "{name}": '
                               f'Precondition failed: ResourceVersion in precondition: {pre["resourceVersion"]}, '
                               f'ResourceVersion in object meta: {old["metadata"]["resourceVersion"]}')
            meta = old["metadata"]
            if res.kind == "Namespace":
                if name in ("default", "kube-system", "kube-public") and not dry_run:
                    raise ApiError(403, "Forbidden", f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                                   {"name": name, "kind": "namespaces"})
                return self._delete_namespace(res, old, dry_run)
            if meta.get("finalizers"):
                if meta.get("deletionTimestamp"):
                    return old
                marked = copy.deepcopy(old)
                marked["metadata"]["deletionTimestamp"] = now_rfc3339()
                marked["metadata"]["deletionGracePeriodSeconds"] = 0
                if dry_run:
                    return marked
                revision = self.etcd.update(res.storage_key(namespace, name), self._encode(marked), int(meta["resourceVersion"]))
                if revision is None:
                    continue
                marked["metadata"]["resourceVersion"] = str(revision)
                return marked
            if dry_run:
                return old
            if res.kind == "CustomResourceDefinition":
                self._delete_custom_resources(old)
            revision = self.etcd.delete(res.storage_key(namespace, name), int(meta["resourceVersion"]))
            if revision is None:
                continue
            self._after_delete(res, old)
            if options.get("propagationPolicy") == "Orphan" or options.get("orphanDependents") is True:
                self._orphan(meta.get("uid"))
            return old
        raise conflict(res, name)

    def _orphan(self, uid):
        """propagationPolicy=Orphan: drop the deleted owner from its dependents' ownerReferences."""
        for other in self.registry.all():
            if other.kind in REVIEW_KINDS or other.kind == "CustomResourceDefinition":
                continue
            kvs, dummy, dummy = self.etcd.list(other.storage_prefix())
            for kv in kvs:
                obj = json.loads(kv.value)
                refs = obj.get("metadata", {}).get("ownerReferences") or []
                kept = [r for r in refs if r.get("uid") != uid]
                if len(kept) != len(refs):
                    if kept:
                        obj["metadata"]["ownerReferences"] = kept
                    else:
                        obj["metadata"].pop("ownerReferences")
                    self.etcd.update(kv.key, self._encode(obj), kv.mod_revision)

    def _after_delete(self, res, obj):
        if res.kind == "Service":
            self.release_service(obj)

    def _delete_custom_resources(self, crd):
        spec = crd["spec"]
        prefix = f"/registry/{spec['group']}/{spec['names']['plural']}/"
        self.etcd.call("/v3/kv/deleterange", {"key": _b64e_raw(prefix), "range_end": _b64e_raw(_prefix_end(prefix))})

    def _delete_namespace(self, res, old, dry_run):
        name = old["metadata"]["name"]
        marked = copy.deepcopy(old)
        marked["metadata"].setdefault("deletionTimestamp", now_rfc3339())
        marked["status"] = {"phase": "Terminating"}
        if dry_run:
            return marked
        revision = self.etcd.update(res.storage_key(None, name), self._encode(marked), int(old["metadata"]["resourceVersion"]))
        if revision is None:
            raise conflict(res, name)
        marked["metadata"]["resourceVersion"] = str(revision)
        # simulating the namespace controller: delete every namespaced object, then the namespace
        for other in self.registry.all():
            if not other.namespaced:
                continue
            kvs, dummy, dummy = self.etcd.list(other.storage_prefix(name))
            for kv in kvs:
                obj = json.loads(kv.value)
                self.etcd.delete(kv.key)
                self._after_delete(other, obj)
        self.etcd.delete(res.storage_key(None, name))
        return marked

    def delete_collection(self, res, namespace, label_selector="", field_selector="", options=None, dry_run=False):
        items, revision, dummy = self.list(res, namespace, label_selector, field_selector)
        deleted = []
        for item in items:
            try:
                deleted.append(self.delete(res, namespace, item["metadata"]["name"], options, dry_run))
            except ApiError as err:
                if err.code != 404:
                    raise
        return deleted, revision

    # -- watch ----------------------------------------------------------------------------------
    def watch(self, res, namespace, resource_version, label_selector, field_selector, deadline, send):
        """Stream events to send(type, obj) until deadline; send returns False when the client is gone."""
        labels = self._labels(label_selector)
        fields = self._fields(field_selector, res)
        prefix = res.storage_prefix(namespace)
        if resource_version in (None, "", "0"):
            items, revision, dummy = self.list(res, namespace, label_selector, field_selector)
            for item in items:
                if not send("ADDED", item):
                    return
            start = revision + 1
        else:
            try:
                start = int(resource_version) + 1
            except ValueError as err:
                raise bad_request(f"invalid resource version: {resource_version}") from err
        gone = {"stop": False}

        def stop():
            return gone["stop"] or time.monotonic() > deadline

        try:
            for event in self.etcd.watch(prefix, start, stop):
                if event is None:
                    continue
                if "compacted" in event:
                    send("ERROR", {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                   "message": f"too old resource version: {start - 1} ({event['compacted']})",
                                   "reason": "Expired", "code": 410})
                    return
                kv, prev = event["kv"], event["prev"]
                if event["type"] == "DELETE":
                    if prev is None:
                        continue
                    obj = json.loads(prev.value)
                    obj.setdefault("metadata", {})["resourceVersion"] = str(kv.mod_revision)
                    kind = "DELETED"
                    matches_now = False
                    matched_before = self._match(labels, fields, obj)
                else:
                    obj = self._decode(kv)
                    matches_now = self._match(labels, fields, obj)
                    matched_before = False
                    if prev is not None:
                        before = json.loads(prev.value)
                        matched_before = self._match(labels, fields, before)
                    kind = "MODIFIED" if prev is not None else "ADDED"
                if kind == "DELETED":
                    if not matched_before:
                        continue
                elif matches_now and not matched_before and kind == "MODIFIED":
                    kind = "ADDED"
                elif not matches_now and matched_before:
                    kind = "DELETED"
                elif not matches_now:
                    continue
                if not send(kind, obj):
                    gone["stop"] = True
                    return
        except EtcdError as err:
            send("ERROR", {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                           "message": str(err), "reason": "InternalError", "code": 500})

    @staticmethod
    def _match(labels, fields, obj):
        return selectors.match_labels(labels, obj.get("metadata", {}).get("labels")) and selectors.match_fields(fields, obj)


def kind_schema(res):
    """The schema patching.py wants: a CRD version's openAPIV3Schema or the built-in kind's schema."""
    if res.crd is not None:
        return res.version_schema() or {}
    return validation.builtin_schema(res.api_version, res.kind)


def managed(old, new, res, manager, subresource=None):
    """metadata.managedFields after a create/update/patch (operation Update)."""
    if res.crd is not None:
        return patching.update_managed_fields(old, new, manager, "Update", res.api_version, now_rfc3339(),
                                              kind_schema=kind_schema(res), subresource=subresource)
    return patching.update_managed_fields(old, new, manager, "Update", res.api_version, now_rfc3339(), subresource=subresource)


def _manager_conflict(err):
    """A server-side apply conflict between field managers (answered at once, never retried like a stale write)."""
    return any(c.get("reason") == "FieldManagerConflict" for c in (err.details or {}).get("causes") or ())


def _has_rv(body, patch_type):
    if patch_type == "json" or not isinstance(body, dict):
        return False
    return bool((body.get("metadata") or {}).get("resourceVersion"))


def _svc_invalid(svc, message):
    name = svc["metadata"]["name"]
    field, dummy, rest = message.partition(": ")
    return ApiError(422, "Invalid", f'Service "{name}" is invalid: {message}',
                    {"name": name, "kind": "Service", "causes": [{"reason": "FieldValueInvalid", "message": rest, "field": field}]})


def _qos(spec):
    containers = spec.get("containers") or []
    requests = [c.get("resources", {}).get("requests") or {} for c in containers]
    limits = [c.get("resources", {}).get("limits") or {} for c in containers]
    if not any(requests) and not any(limits):
        return "BestEffort"
    guaranteed = all(lim.get("cpu") and lim.get("memory") and (not req or req == {k: lim[k] for k in req})
                     for req, lim in zip(requests, limits))
    return "Guaranteed" if guaranteed else "Burstable"


def _b64e(text):
    import base64  # pylint: disable=import-outside-toplevel
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii")


def _b64d(text):
    import base64  # pylint: disable=import-outside-toplevel
    return base64.urlsafe_b64decode(text.encode("ascii")).decode("utf-8")


def _b64e_raw(data):
    import base64  # pylint: disable=import-outside-toplevel
    if isinstance(data, str):
        data = data.encode("utf-8")
    return base64.b64encode(data).decode("ascii")


def _prefix_end(prefix):
    from .etcd import prefix_end  # pylint: disable=import-outside-toplevel
    return prefix_end(prefix)


# -- CRDs ---------------------------------------------------------------------------------------
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def validate_crd(crd, old=None):
    """The basic checks of the real CRD validation (names, group, scope, versions, schema)."""
    errors = []
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group") or ""
    name = crd.get("metadata", {}).get("name", "")
    if not group:
        errors.append("spec.group: Required value")
    elif not DNS1123_SUBDOMAIN.match(group) or "." not in group:
        errors.append(f'spec.group: Invalid value: "{group}": should be a domain with at least one dot')
    plural = names.get("plural") or ""
    if not plural:
        errors.append("spec.names.plural: Required value")
    elif not DNS1123_LABEL.match(plural):
        errors.append(f'spec.names.plural: Invalid value: "{plural}": a lowercase RFC 1123 label must consist of lower case '
                      "alphanumeric characters or '-', and must start and end with an alphanumeric character")
    if not names.get("kind"):
        errors.append("spec.names.kind: Required value")
    if plural and group and name != f"{plural}.{group}":
        errors.append(f'metadata.name: Invalid value: "{name}": must be spec.names.plural+"."+spec.group')
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        if not spec.get("scope"):
            errors.append("spec.scope: Required value")
        else:
            errors.append(f'spec.scope: Unsupported value: "{spec.get("scope")}": supported values: "Cluster", "Namespaced"')
    versions = spec.get("versions") or []
    if not versions:
        errors.append("spec.versions: Invalid value: null: must have exactly one version marked as storage version")
    else:
        storage = [v for v in versions if v.get("storage")]
        if len(storage) != 1:
            errors.append(f"spec.versions: Invalid value: {json.dumps(versions)[:80]}...: must have exactly one version marked as storage version")
        for index, version in enumerate(versions):
            if not version.get("name"):
                errors.append(f"spec.versions[{index}].name: Required value")
            if "served" not in version:
                errors.append(f"spec.versions[{index}].served: Required value")
            if not ((version.get("schema") or {}).get("openAPIV3Schema")):
                errors.append(f"spec.versions[{index}].schema.openAPIV3Schema: Required value: schemas are required")
    if old is not None:
        old_spec = old.get("spec") or {}
        if old_spec.get("group") != group:
            errors.append(f'spec.group: Invalid value: "{group}": field is immutable')
        if old_spec.get("scope") != spec.get("scope"):
            errors.append(f'spec.scope: Invalid value: "{spec.get("scope")}": field is immutable')
    return errors


def crd_status(crd, old):
    """What the apiextensions controllers would write (names accepted, established)."""
    spec = crd.get("spec") or {}
    names = dict(spec.get("names") or {})
    names.setdefault("singular", names.get("kind", "").lower())
    names.setdefault("listKind", names.get("kind", "") + "List")
    old_status = (old or {}).get("status") or {}
    old_conditions = {c.get("type"): c for c in old_status.get("conditions") or []}
    stamp = now_rfc3339()

    def condition(kind, reason, message):
        previous = old_conditions.get(kind)
        if previous and previous.get("status") == "True":
            return previous
        return {"type": kind, "status": "True", "lastTransitionTime": stamp, "reason": reason, "message": message}

    stored = list(old_status.get("storedVersions") or [])
    for version in spec.get("versions") or []:
        if version.get("storage") and version.get("name") not in stored:
            stored.append(version["name"])
    return {
        "acceptedNames": names,
        "conditions": [condition("NamesAccepted", "NoConflicts", "no conflicts found"),
                       condition("Established", "InitialNamesAccepted", "the initial names have been accepted")],
        "storedVersions": stored,
    }


# -- eviction (policy/v1 Eviction on pods/eviction) ---------------------------------------------------
def _selector_matches(selector, labels):
    """A metav1.LabelSelector (policy/v1: an empty selector matches every pod; null matches none)."""
    if selector is None:
        return False
    labels = labels or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _pod_ready(pod):
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in (pod.get("status") or {}).get("conditions") or [])


def _scaled(value, total, round_up=True):
    if isinstance(value, int):
        return value
    text = str(value)
    if text.endswith("%"):
        fraction = int(text[:-1]) * total / 100.0
        whole = int(fraction)
        return whole + 1 if round_up and fraction > whole else whole
    return int(text)


def evict(store, pod_res, pdb_res, namespace, name, body, dry_run=False):
    """Evict a pod, honouring its PodDisruptionBudget.  The budget's allowed disruptions are computed from
    the pods' Ready conditions at request time (there is no disruption controller in the stand-in)."""
    if not isinstance(body, dict) or body.get("kind") not in (None, "Eviction"):
        raise bad_request("the body of the request must be a policy/v1 Eviction")
    if (body.get("metadata") or {}).get("name") not in (None, name):
        raise bad_request("name in URL does not match name in Eviction object")
    pod = store.must_read(pod_res, namespace, name)
    options = body.get("deleteOptions") or {}
    phase = (pod.get("status") or {}).get("phase")
    if phase not in ("Succeeded", "Failed", "Pending") and not pod["metadata"].get("deletionTimestamp"):
        pdbs = [p for p in store.list(pdb_res, namespace)[0]
                if _selector_matches((p.get("spec") or {}).get("selector"), pod["metadata"].get("labels"))]
        if len(pdbs) > 1:
            raise ApiError(500, "InternalError", "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.")
        if pdbs:
            pdb = pdbs[0]
            spec = pdb.get("spec") or {}
            selected = [p for p in store.list(pod_res, namespace)[0]
                        if _selector_matches(spec.get("selector"), p["metadata"].get("labels"))
                        and not p["metadata"].get("deletionTimestamp")]
            expected = len(selected)
            healthy = sum(1 for p in selected if _pod_ready(p))
            if "minAvailable" in spec:
                desired = _scaled(spec["minAvailable"], expected)
            elif "maxUnavailable" in spec:
                desired = max(0, expected - _scaled(spec["maxUnavailable"], expected))
            else:
                desired = 0
            allowed = healthy - desired
            if _pod_ready(pod) and allowed <= 0 or not _pod_ready(pod) and healthy < desired:
                raise ApiError(429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.",
                               {"causes": [{"reason": "DisruptionBudget",
                                            "message": f"The disruption budget {pdb['metadata']['name']} needs {desired} healthy pods "
                                                       f"and has {healthy} currently"}]})
    store.delete(pod_res, namespace, name, options, dry_run)
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
