"""STAND-IN kube-apiserver: a minimal OpenAPI v3 discovery (`/openapi/v3`, `/openapi/v3/<gv>`).

Only what kubectl (1.32 and 1.36 checked) reads is served: one document per group/version whose paths carry the
operations (with `x-kubernetes-group-version-kind`) and their query parameters, so that kubectl
finds server-side field validation (`fieldValidation`) supported.  No schemas (`components` is
empty): kubectl falls back to its compiled-in types for client-side apply, and `kubectl explain`
is not supported by the stand-in.  `/openapi/v2` is not implemented (404).
"""

import hashlib
import json

from ..version import git_version

COMMON_QUERY = ["pretty"]
WRITE_QUERY = ["dryRun", "fieldManager", "fieldValidation"]


def _params(names):
    return [{"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}} for n in names]


def gv_path(group, version):
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def document(registry, group, version):
    paths = {}
    for res in registry.all():
        if res.group != group or res.version != version:
            continue
        base = "/" + gv_path(group, version)
        collection = f"{base}/namespaces/{{namespace}}/{res.plural}" if res.namespaced else f"{base}/{res.plural}"
        item = collection + "/{name}"
        patch_types = ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]

        def op(action, query, body=None, kind=res.kind):
            entry = {"x-kubernetes-action": action, "x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": kind},
                     "parameters": _params(COMMON_QUERY + query),
                     "responses": {"200": {"description": "OK"}, "401": {"description": "Unauthorized"}}}
            if body:
                entry["requestBody"] = {"content": {t: {"schema": {"type": "object"}} for t in body}, "required": True}
            return entry
        paths[collection] = {
            "get": op("list", ["labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "timeoutSeconds", "watch"]),
            "post": op("post", WRITE_QUERY, ["*/*"]),
            "delete": op("deletecollection", ["labelSelector", "fieldSelector", "dryRun"]),
        }
        paths[item] = {
            "get": op("get", []),
            "put": op("put", WRITE_QUERY, ["*/*"]),
            "patch": op("patch", WRITE_QUERY + ["force"], patch_types),
            "delete": op("delete", ["dryRun", "gracePeriodSeconds", "propagationPolicy"]),
        }
        for sub in res.subresources:
            paths[f"{item}/{sub}"] = {"get": op("get", []), "put": op("put", WRITE_QUERY, ["*/*"]),
                                      "patch": op("patch", WRITE_QUERY + ["force"], patch_types)}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes (STAND-IN)", "version": git_version()},
            "paths": paths, "components": {"schemas": {}}}


def root(registry):
    result = {}
    for group, versions, dummy in registry.groups():
        for version in versions:
            doc = json.dumps(document(registry, group, version), sort_keys=True)
            digest = hashlib.sha512(doc.encode("utf-8")).hexdigest()[:128]
            result[gv_path(group, version)] = {"serverRelativeURL": f"/openapi/v3/{gv_path(group, version)}?hash={digest.upper()}"}
    return {"paths": result}
