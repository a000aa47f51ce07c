"""STAND-IN kube-apiserver: HTTPS serving, authentication, simplified authorization, routing.

Authentication: client certificates verified against --client-ca-file (user = CN, groups = O),
bootstrap tokens (Secrets `kube-system/bootstrap-token-<id>`, when --enable-bootstrap-token-auth),
else anonymous.  Other bearer tokens (service-account JWTs, static tokens) are refused with 401: not
implemented by the stand-in.  Authorization is the simplified table of the stand-in contract (not
RBAC): system:masters and kubeadm:cluster-admins may do anything; system:nodes may write nodes,
pods, leases, events and CSRs and read everything; system:bootstrappers may create/read CSRs and
read the ConfigMaps kubeadm join reads; other authenticated users may read; anonymous users may
only reach the health/version endpoints and `kube-public/cluster-info`.
"""

import base64
import datetime
import hmac
import http.server
import json
import re
import ssl
import sys
import threading
import time
import urllib.parse

import yaml

from ..version import git_version
from . import openapi, protobuf
from .etcd import EtcdError
from .registry import REVIEW_KINDS
from .store import ApiError, bad_request, evict

from . import podlogs
from . import tables

ALL_ACCESS_GROUPS = {"system:masters", "kubeadm:cluster-admins"}
NODE_WRITABLE = {"nodes", "pods", "leases", "events", "certificatesigningrequests"}
READ_VERBS = {"get", "list", "watch"}
UNIMPLEMENTED_SUBRESOURCES = {"eviction", "binding", "scale", "exec", "proxy", "attach", "portforward", "token",
                              "ephemeralcontainers", "resize"}
MAX_REQUEST_BYTES = 3 * 1024 * 1024
TOKEN_RE = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")


def version_info():
    return {"major": "1", "minor": git_version().split(".")[1], "gitVersion": git_version(),
            "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
            "buildDate": "2025-03-11T19:52:21Z", "goVersion": "go1.23.6", "compiler": "gc",
            "platform": "linux/amd64", "standIn": "STAND-IN (ironstone.k8s lab; not the real kube-apiserver)"}


class DupDict(dict):
    """A JSON object that remembers duplicated keys (for fieldValidation)."""
    dups = ()


def _pairs(pairs):
    result = DupDict()
    dups = []
    for key, value in pairs:
        if key in result:
            dups.append(key)
        result[key] = value
    if dups:
        result.dups = dups
    return result


def _duplicates(value, path=""):
    found = []
    if isinstance(value, dict):
        for key in getattr(value, "dups", ()):
            found.append(f"{path}.{key}" if path else key)
        for key, sub in value.items():
            found.extend(_duplicates(sub, f"{path}.{key}" if path else key))
    elif isinstance(value, list):
        for item in value:
            found.extend(_duplicates(item, path))
    return found


def _plain(value):
    return json.loads(json.dumps(value))


class Request:
    """Parsed facts about one API request."""

    def __init__(self, method, path, query):
        self.method = method
        self.path = path
        self.query = query
        self.group = None
        self.version = None
        self.namespace = None
        self.plural = None
        self.name = None
        self.subresource = None
        self.resource = None
        self.verb = None

    def q(self, key, default=None):
        values = self.query.get(key)
        return values[-1] if values else default


def parse_resource_path(path):
    """(group, version, namespace, plural, name, subresource) or None for non-resource paths."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    if not rest:
        return None
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    plural = rest[0]
    name = rest[1] if len(rest) > 1 else None
    sub = "/".join(rest[2:]) if len(rest) > 2 else None
    return group, version, namespace, plural, name, sub


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kube-apiserver-STAND-IN"
    sys_version = ""

    def setup(self):
        try:
            self.request.do_handshake()
        except (ssl.SSLError, OSError) as err:
            self.server.api.log(4, f"TLS handshake error from {self.client_address[0]}: {err}")
            self.request.close()
            raise ConnectionAbortedError from err
        super().setup()

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        self.server.api.log(3, "%s %s" % (self.address_string(), format % args))

    def do_GET(self):
        self.server.api.handle(self, "GET")

    def do_POST(self):
        self.server.api.handle(self, "POST")

    def do_PUT(self):
        self.server.api.handle(self, "PUT")

    def do_PATCH(self):
        self.server.api.handle(self, "PATCH")

    def do_DELETE(self):
        self.server.api.handle(self, "DELETE")

    def do_HEAD(self):
        self.server.api.handle(self, "HEAD")

    def do_OPTIONS(self):
        self.server.api.handle(self, "OPTIONS")


class TLSServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, context, api):
        self.context = context
        self.api = api
        super().__init__(address, Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request, client_address):
        err = sys.exc_info()[1]
        if isinstance(err, (ConnectionError, ssl.SSLError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class ApiServer:
    """Ties the store, the registry and the HTTP handler together."""

    def __init__(self, store, registry, options, log):
        self.store = store
        self.registry = registry
        self.etcd = store.etcd
        self.options = options
        self.log = log
        self.ready = threading.Event()

    # -- answers ----------------------------------------------------------------------------------
    @staticmethod
    def send_json(handler, code, body, headers=(), content_type="application/json"):
        payload = json.dumps(body, separators=(",", ":")).encode("utf-8") if not isinstance(body, bytes) else body
        handler.send_response(code)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(payload)))
        handler.send_header("Cache-Control", "no-cache, private")
        for key, value in headers:
            handler.send_header(key, value)
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(payload)

    def send_text(self, handler, code, text):
        self.send_json(handler, code, text.encode("utf-8"), content_type="text/plain; charset=utf-8")

    # -- authentication ---------------------------------------------------------------------------
    def authenticate(self, handler):
        """{'name', 'groups'}; raises ApiError 401."""
        header = handler.headers.get("Authorization", "")
        cert = None
        try:
            cert = handler.request.getpeercert()
        except (ValueError, AttributeError):
            cert = None
        if cert:
            subject = {}
            for rdn in cert.get("subject", ()):
                for key, value in rdn:
                    subject.setdefault(key, []).append(value)
            name = (subject.get("commonName") or [""])[0]
            groups = list(subject.get("organizationName") or [])
            return {"name": name, "groups": groups + ["system:authenticated"]}
        if header.lower().startswith("bearer "):
            return self._token_user(header[7:].strip())
        if header:
            raise ApiError(401, "Unauthorized", "Unauthorized")
        return {"name": "system:anonymous", "groups": ["system:unauthenticated"]}

    def _token_user(self, token):
        match = TOKEN_RE.match(token)
        if not match or not self.options.get("enable_bootstrap_token_auth"):
            # service-account and static tokens: not implemented by the stand-in
            raise ApiError(401, "Unauthorized", "Unauthorized")
        token_id, secret = match.groups()
        key = f"/registry/secrets/kube-system/bootstrap-token-{token_id}"
        kv, dummy = self.etcd.get(key)
        if kv is None:
            raise ApiError(401, "Unauthorized", "Unauthorized")
        obj = json.loads(kv.value)
        data = {k: base64.b64decode(v).decode("utf-8", "replace") for k, v in (obj.get("data") or {}).items()}
        if obj.get("type") != "bootstrap.kubernetes.io/token" or data.get("token-id") != token_id:
            raise ApiError(401, "Unauthorized", "Unauthorized")
        if not hmac.compare_digest(data.get("token-secret", ""), secret):
            raise ApiError(401, "Unauthorized", "Unauthorized")
        if token_expired(data.get("expiration")):
            # simulating kube-controller-manager's tokencleaner
            self.etcd.delete(key, kv.mod_revision)
            self.log(1, f"bootstrap token {token_id} expired: Secret kube-system/bootstrap-token-{token_id} deleted")
            raise ApiError(401, "Unauthorized", "Unauthorized")
        if data.get("usage-bootstrap-authentication") != "true":
            raise ApiError(401, "Unauthorized", "Unauthorized")
        groups = ["system:bootstrappers"]
        for extra in (data.get("auth-extra-groups") or "").split(","):
            extra = extra.strip()
            if extra.startswith("system:bootstrappers:") and extra not in groups:
                groups.append(extra)
        return {"name": f"system:bootstrap:{token_id}", "groups": groups + ["system:authenticated"]}

    # -- authorization ----------------------------------------------------------------------------
    @staticmethod
    def allowed(user, verb, plural=None, namespace=None, name=None, path=None):
        groups = set(user["groups"])
        if groups & ALL_ACCESS_GROUPS:
            return True
        if path is not None:
            if path.rstrip("/") in ("/livez", "/readyz", "/healthz", "/version") or path.startswith(("/livez/", "/readyz/", "/healthz/")):
                return True
            return "system:authenticated" in groups and (path.startswith(("/api", "/apis", "/openapi")) or path == "/")
        if plural == "configmaps" and verb == "get" and (namespace, name) == ("kube-public", "cluster-info"):
            return True
        if plural in ("selfsubjectaccessreviews", "selfsubjectreviews") and verb == "create":
            return "system:authenticated" in groups
        if "system:authenticated" not in groups:
            return False
        if "system:nodes" in groups:
            return plural in NODE_WRITABLE or verb in READ_VERBS
        if "system:bootstrappers" in groups:
            if plural == "certificatesigningrequests":
                return verb in ("create", "get", "list", "watch")
            # What kubeadm's RBAC grants the default node token: its config maps, the Node lookup of a
            # join (kubeadm:get-nodes) and, for a control-plane join, the kubeadm-certs Secret
            # (the kubeadm:kubeadm-certs Role).
            if plural == "nodes" and verb == "get":
                return True
            if plural == "secrets" and verb == "get" and (namespace, name) == ("kube-system", "kubeadm-certs"):
                return True
            return plural == "configmaps" and verb == "get" and (namespace, name) in (
                ("kube-system", "kubeadm-config"), ("kube-system", "kubelet-config"))
        return verb in READ_VERBS

    @staticmethod
    def forbidden(user, verb, res, plural, namespace, name, subresource, path=None):
        who = f'User "{user["name"]}"'
        if path is not None:
            return ApiError(403, "Forbidden", f'forbidden: {who} cannot {verb.lower()} path "{path}"', {})
        group = res.group if res else ""
        resource = plural + (f"/{subresource}" if subresource else "")
        scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
        target = f'{(res.group_resource if res else plural)} "{name}"' if name else (res.group_resource if res else plural)
        return ApiError(403, "Forbidden", f'{target} is forbidden: {who} cannot {verb} resource "{resource}" in API group "{group}" {scope}',
                        {"name": name, "group": group or None, "kind": plural} if name else {"group": group or None, "kind": plural})

    # -- dispatch ----------------------------------------------------------------------------------
    def handle(self, handler, method):
        parsed = urllib.parse.urlsplit(handler.path)
        path = parsed.path
        query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        length = int(handler.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BYTES:
            handler.close_connection = True
            left = length
            while left > 0:  # drain the body so that the client reads the answer
                chunk = handler.rfile.read(min(left, 1 << 20))
                if not chunk:
                    break
                left -= len(chunk)
            self.send_json(handler, 413, ApiError(413, "RequestEntityTooLarge",
                                                  f"Request entity too large: limit is {MAX_REQUEST_BYTES}").status())
            return
        if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raw = self._read_chunked(handler)
        else:
            raw = handler.rfile.read(length) if length else b""
        try:
            user = self.authenticate(handler)
            self.route(handler, method, path, query, raw, user)
        except ApiError as err:
            self.send_json(handler, err.code, err.status(), err.headers)
        except EtcdError as err:
            self.log(0, f"etcd error: {err}")
            code = 503 if err.unavailable else 500
            self.send_json(handler, code, ApiError(code, "ServiceUnavailable" if code == 503 else "InternalError",
                                                   f"etcdserver: {err}").status())
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True
        except Exception as err:  # pylint: disable=broad-except
            import traceback  # pylint: disable=import-outside-toplevel
            self.log(0, f"internal error on {method} {handler.path}: {traceback.format_exc()}")
            try:
                self.send_json(handler, 500, ApiError(500, "InternalError", f"Internal error occurred: {err}").status())
            except OSError:
                pass

    @staticmethod
    def _read_chunked(handler):
        data = b""
        while True:
            size = int(handler.rfile.readline().strip().split(b";")[0], 16)
            if size == 0:
                handler.rfile.readline()
                return data
            data += handler.rfile.read(size)
            handler.rfile.readline()

    def route(self, handler, method, path, query, raw, user):
        if path in ("/livez", "/healthz", "/readyz") or path.startswith(("/livez/", "/healthz/", "/readyz/")):
            if path.startswith("/readyz") or path.startswith("/healthz"):
                if not self.ready.is_set() or not self.etcd.status_ok():
                    reason = self.etcd.last_error or "not ready"
                    self.send_text(handler, 500, f"[-]etcd failed: reason withheld\n[-]standin-etcd: {reason}\nreadyz check failed\n")
                    return
            self.send_text(handler, 200, "ok")
            return
        resource_path = parse_resource_path(path)
        if resource_path is None:
            if not self.allowed(user, method, path=path):
                if "system:authenticated" not in user["groups"] and user["name"] != "system:anonymous":
                    raise ApiError(401, "Unauthorized", "Unauthorized")
                raise self.forbidden(user, method.lower(), None, None, None, None, None, path=path)
            if method not in ("GET", "HEAD"):
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
            self.non_resource(handler, path)
            return
        group, version, namespace, plural, name, sub = resource_path
        verb = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method)
        if verb is None:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        watching = _truthy(query.get("watch", [""])[-1])
        if name is None:
            verb = {"get": "watch" if watching else "list", "delete": "deletecollection"}.get(verb, verb)
            if verb in ("update", "patch"):
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        elif watching and verb == "get":
            verb = "watch"
        res = self.registry.lookup(group, version, plural)
        if not self.allowed(user, verb, plural, namespace, name):
            raise self.forbidden(user, verb, res, plural, namespace, name, sub)
        if res is None:
            known_gv = any(r.group == group and r.version == version for r in self.registry.all())
            if known_gv:
                raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        if res.namespaced and namespace is None and name is not None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        if not res.namespaced and namespace is not None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        if sub == "log" and res.kind == "Pod" and res.group == "":
            if verb != "get":
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
            text = podlogs.pod_log(self.store, res, self.registry.lookup("", "v1", "nodes"), self.options, namespace, name, query)
            self.send_json(handler, 200, text, content_type="text/plain")
            return
        if sub is not None and sub not in res.subresources and not (sub == "eviction" and res.kind == "Pod" and verb == "create") \
                and not (sub == "scale" and res.kind in ("Deployment", "StatefulSet", "ReplicaSet") and verb in ("get", "update", "patch")):
            if sub in UNIMPLEMENTED_SUBRESOURCES:
                raise ApiError(501, "NotImplemented", f"{res.plural}/{sub} is not implemented by the stand-in")
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        req = Request(method, path, query)
        req.resource, req.namespace, req.name, req.subresource, req.verb = res, namespace, name, sub, verb
        self.resource_request(handler, req, raw, user)

    # -- non-resource -----------------------------------------------------------------------------
    def non_resource(self, handler, path):
        path = path.rstrip("/") or "/"
        if path == "/version":
            self.send_json(handler, 200, version_info())
        elif path == "/api":
            address = self.options.get("advertise_address") or "127.0.0.1"
            self.send_json(handler, 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": f"{address}:{self.options.get('secure_port', 6443)}"}]})
        elif path == "/apis":
            groups = [self._group_doc(g, vs, p) for g, vs, p in self.registry.groups() if g]
            self.send_json(handler, 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        elif path == "/api/v1":
            self.send_json(handler, 200, self._resource_list("", "v1"))
        elif path.startswith("/apis/"):
            parts = path.split("/")[2:]
            for group, versions, preferred in self.registry.groups():
                if group and group == parts[0]:
                    if len(parts) == 1:
                        doc = self._group_doc(group, versions, preferred)
                        doc.update({"kind": "APIGroup", "apiVersion": "v1"})
                        self.send_json(handler, 200, doc)
                        return
                    if len(parts) == 2 and parts[1] in versions:
                        self.send_json(handler, 200, self._resource_list(group, parts[1]))
                        return
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        elif path == "/":
            paths = ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/version"]
            paths += [f"/apis/{g}" for g, dummy, dummy in self.registry.groups() if g]
            paths += [f"/apis/{g}/{v}" for g, vs, dummy in self.registry.groups() if g for v in vs]
            self.send_json(handler, 200, {"paths": sorted(paths)})
        elif path == "/openapi/v3":
            self.send_json(handler, 200, openapi.root(self.registry))
        elif path.startswith("/openapi/v3/"):
            rest = path[len("/openapi/v3/"):]
            for group, versions, dummy in self.registry.groups():
                for version in versions:
                    if openapi.gv_path(group, version) == rest:
                        self.send_json(handler, 200, openapi.document(self.registry, group, version))
                        return
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        elif path.startswith("/openapi"):
            raise ApiError(404, "NotFound", "the server could not find the requested resource (OpenAPI is not implemented by the stand-in)", {})
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})

    @staticmethod
    def _group_doc(group, versions, preferred):
        return {"name": group,
                "versions": [{"groupVersion": f"{group}/{v}", "version": v} for v in versions],
                "preferredVersion": {"groupVersion": f"{group}/{preferred}", "version": preferred}}

    def _resource_list(self, group, version):
        resources = []
        for res in self.registry.all():
            if res.group != group or res.version != version:
                continue
            entry = {"name": res.plural, "singularName": res.singular, "namespaced": res.namespaced,
                     "kind": res.kind, "verbs": list(res.verbs)}
            if res.short_names:
                entry["shortNames"] = list(res.short_names)
            if res.categories:
                entry["categories"] = list(res.categories)
            resources.append(entry)
            for sub in res.subresources:
                resources.append({"name": f"{res.plural}/{sub}", "singularName": "", "namespaced": res.namespaced,
                                  "kind": res.kind, "verbs": ["get", "patch", "update"]})
            if res.kind == "Pod" and not res.group:
                resources.append({"name": "pods/eviction", "singularName": "", "namespaced": True, "group": "policy",
                                  "version": "v1", "kind": "Eviction", "verbs": ["create"]})
            if res.kind in ("Deployment", "StatefulSet", "ReplicaSet") and res.group == "apps":
                resources.append({"name": f"{res.plural}/scale", "singularName": "", "namespaced": True, "group": "autoscaling",
                                  "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]})
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}" if group else version,
                "resources": resources}

    # -- resources --------------------------------------------------------------------------------
    def _decode_body(self, handler, raw, req, yaml_ok=False):  # pylint: disable=unused-argument
        ctype = (handler.headers.get("Content-Type") or "application/json").split(";")[0].strip()
        if ctype == "application/vnd.kubernetes.protobuf" and raw:
            try:
                return protobuf.decode(raw), []
            except protobuf.ProtobufError as err:
                raise ApiError(415, "UnsupportedMediaType", f"the body of the request could not be decoded: {err}") from err
        if ctype not in ("application/json", "application/yaml", "application/apply-patch+yaml", "application/json-patch+json",
                         "application/merge-patch+json", "application/strategic-merge-patch+json", "*/*", ""):
            # protobuf / CBOR request bodies: not implemented by the stand-in; 415 makes client-go fall back to JSON
            raise ApiError(415, "UnsupportedMediaType",
                           f'the body of the request was in an unknown format - accepted media types include: application/json, application/yaml '
                           f'({ctype} is not implemented by the stand-in)')
        if not raw:
            raise bad_request("the body of the request was empty")
        try:
            if ctype in ("application/yaml", "application/apply-patch+yaml") or (yaml_ok and ctype.endswith("yaml")):
                body = yaml.safe_load(raw.decode("utf-8"))
                dups = []
            else:
                body = json.loads(raw.decode("utf-8"), object_pairs_hook=_pairs)
                dups = _duplicates(body)
                body = _plain(body)
        except (ValueError, yaml.YAMLError) as err:
            raise bad_request(f"error decoding request body: {err}") from err
        return body, dups

    @staticmethod
    def _field_validation(req):
        value = req.q("fieldValidation", "") or "Warn"
        if value not in ("Strict", "Warn", "Ignore"):
            raise bad_request(f"fieldValidation parameter unsupported: {value}. Supported values are Ignore, Warn and Strict")
        return value

    @staticmethod
    def _dry_run(req):
        values = req.query.get("dryRun") or []
        for value in values:
            if value != "All":
                raise bad_request(f'Invalid dry run value: "{value}" (supported: "All")')
        return bool(values)

    @staticmethod
    def _manager(handler, req, required=False):
        manager = req.q("fieldManager")
        if manager is None:
            if required:
                raise bad_request("PATCH, application/apply-patch+yaml requires fieldManager to be set")
            agent = handler.headers.get("User-Agent") or "unknown"
            manager = agent.split("/")[0] or "unknown"
        if len(manager) > 128:
            raise bad_request("fieldManager: Too long: may not be more than 128 characters")
        return manager

    def resource_request(self, handler, req, raw, user):
        res, verb = req.resource, req.verb
        store = self.store
        headers = []
        if req.subresource == "scale":
            self.scale(handler, req, raw)
            return
        if res.kind in REVIEW_KINDS:
            if verb != "create" or req.name is not None:
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
            body, dummy = self._decode_body(handler, raw, req)
            self._check_type(res, body)
            self.send_json(handler, 201, self.review(res, body, user))
            return
        if verb in ("get", "list", "watch"):
            if verb == "get" and req.subresource in (None, "status", "approval"):
                obj = store.must_read(res, req.namespace, req.name)
                self.send_object(handler, req, 200, obj)
            elif verb == "list":
                limit = int(req.q("limit", "0") or 0)
                items, revision, token = store.list(res, req.namespace, req.q("labelSelector", ""), req.q("fieldSelector", ""),
                                                    limit, req.q("continue") or None)
                meta = {"resourceVersion": str(revision)}
                if token:
                    meta["continue"] = token
                body = {"kind": res.list_kind, "apiVersion": res.api_version, "metadata": meta, "items": items}
                if res.crd is None:
                    for item in items:
                        item.pop("kind", None)
                        item.pop("apiVersion", None)
                self.send_list(handler, req, body, items)
            else:
                self.watch(handler, req)
            return
        dry_run = self._dry_run(req)
        if verb in ("create", "update", "patch") and req.q("force") is not None and not (verb == "patch" and
                                                                                         "apply-patch" in (handler.headers.get("Content-Type") or "")):
            raise bad_request("force flag is only allowed for apply patches" if verb == "patch" else "force flag is not allowed for this request")
        if verb == "create" and req.subresource == "eviction" and res.kind == "Pod":
            body, dummy = self._decode_body(handler, raw, req)
            result = evict(store, res, self.registry.lookup("policy", "v1", "poddisruptionbudgets"), req.namespace, req.name,
                           body, dry_run)
            self.send_json(handler, 201, result)
        elif verb == "create":
            if req.name is not None:
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
            field_validation = self._field_validation(req)
            body, dups = self._decode_body(handler, raw, req)
            headers += self._dups(res, dups, field_validation)
            self._check_type(res, body)
            obj, warnings = store.create(res, req.namespace, body, user, self._manager(handler, req), field_validation, dry_run)
            self.send_object(handler, req, 201, obj, headers + _warning_headers(warnings))
        elif verb == "update":
            field_validation = self._field_validation(req)
            body, dups = self._decode_body(handler, raw, req)
            headers += self._dups(res, dups, field_validation)
            self._check_type(res, body)
            allow_create = res.kind in ("Event", "Endpoints", "Lease", "EndpointSlice", "Node")
            obj, warnings, created = store.update(res, req.namespace, req.name, body, self._manager(handler, req), field_validation,
                                                  dry_run, req.subresource, allow_create=allow_create, user=user)
            self.send_object(handler, req, 201 if created else 200, obj, headers + _warning_headers(warnings))
        elif verb == "patch":
            ctype = (handler.headers.get("Content-Type") or "").split(";")[0].strip()
            patch_type = {"application/json-patch+json": "json", "application/merge-patch+json": "merge",
                          "application/strategic-merge-patch+json": "strategic", "application/apply-patch+yaml": "apply"}.get(ctype)
            if patch_type is None or (patch_type == "strategic" and res.crd is not None):
                accepted = "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
                if res.crd is None:
                    accepted = ("application/json-patch+json, application/merge-patch+json, "
                                "application/strategic-merge-patch+json, application/apply-patch+yaml")
                raise ApiError(415, "UnsupportedMediaType",
                               f"the body of the request was in an unknown format - accepted media types include: {accepted}")
            field_validation = self._field_validation(req)
            body, dups = self._decode_body(handler, raw, req, yaml_ok=patch_type == "apply")
            headers += self._dups(res, dups, field_validation)
            force = _truthy(req.q("force", "false"))
            manager = self._manager(handler, req, required=patch_type == "apply")
            obj, warnings, created = store.patch(res, req.namespace, req.name, patch_type, body, manager, field_validation, dry_run,
                                                 req.subresource, force, user)
            self.send_object(handler, req, 201 if created else 200, obj, headers + _warning_headers(warnings))
        elif verb == "delete":
            options = {}
            if raw:
                try:
                    options = json.loads(raw)
                except ValueError as err:
                    raise bad_request(f"error decoding DeleteOptions: {err}") from err
            if req.subresource is not None:
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
            obj = store.delete(res, req.namespace, req.name, options, dry_run or "All" in (options.get("dryRun") or []))
            self.send_object(handler, req, 200, obj)
        elif verb == "deletecollection":
            deleted, revision = store.delete_collection(res, req.namespace, req.q("labelSelector", ""), req.q("fieldSelector", ""),
                                                        None, dry_run)
            self.send_json(handler, 200, {"kind": res.list_kind, "apiVersion": res.api_version,
                                          "metadata": {"resourceVersion": str(revision)}, "items": deleted})
        else:
            raise ApiError(501, "NotImplemented", f"{verb} {res.plural} is not implemented by the stand-in")

    def review(self, res, body, user):
        """SelfSubjectAccessReview / SubjectAccessReview / SelfSubjectReview against the stand-in's authorization table."""
        spec = body.get("spec") or {}
        result = {"kind": res.kind, "apiVersion": res.api_version, "metadata": {"creationTimestamp": None}}
        if res.kind == "SelfSubjectReview":
            result["status"] = {"userInfo": {"username": user["name"], "groups": list(user["groups"])}}
            return result
        subject = user
        if res.kind == "SubjectAccessReview":
            if not spec.get("user") and not spec.get("groups"):
                raise ApiError(422, "Invalid", 'SubjectAccessReview.authorization.k8s.io "" is invalid: spec.user: Invalid value: "": '
                               "at least one of user or group must be specified")
            subject = {"name": spec.get("user", ""), "groups": list(spec.get("groups") or []) + ["system:authenticated"]}
        attrs = spec.get("resourceAttributes")
        non_resource = spec.get("nonResourceAttributes")
        if attrs:
            verb = attrs.get("verb", "")
            allowed = self.allowed(subject, verb, attrs.get("resource", ""), attrs.get("namespace") or None, attrs.get("name") or None)
        elif non_resource:
            allowed = self.allowed(subject, non_resource.get("verb", "get").upper(), path=non_resource.get("path", ""))
        else:
            raise ApiError(422, "Invalid", f'{res.kind}.authorization.k8s.io "" is invalid: spec.resourceAttributes: '
                           "Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified")
        result["spec"] = spec
        result["status"] = {"allowed": allowed, "reason": "the stand-in's simplified authorization table (not RBAC)" if allowed else ""}
        return result

    @staticmethod
    def _scale_of(obj):
        selector = (obj.get("spec") or {}).get("selector") or {}
        parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
        for expr in selector.get("matchExpressions") or []:
            op = {"In": "in", "NotIn": "notin"}.get(expr.get("operator"))
            if op:
                parts.append(f"{expr['key']} {op} ({','.join(expr.get('values') or [])})")
            elif expr.get("operator") == "Exists":
                parts.append(expr["key"])
            else:
                parts.append("!" + expr["key"])
        meta = obj["metadata"]
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in meta},
                "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 1)},
                "status": {"replicas": (obj.get("status") or {}).get("replicas", 0), "selector": ",".join(parts)}}

    def scale(self, handler, req, raw):
        """The autoscaling/v1 Scale subresource of deployments, statefulsets and replicasets."""
        res, store = req.resource, self.store
        parent = store.must_read(res, req.namespace, req.name)
        current = self._scale_of(parent)
        if req.verb == "get":
            self.send_json(handler, 200, current)
            return
        if req.verb not in ("update", "patch"):
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        body, dummy = self._decode_body(handler, raw, req)
        if req.verb == "update":
            wanted = body
        else:
            ctype = (handler.headers.get("Content-Type") or "").split(";")[0].strip()
            if ctype == "application/json-patch+json":
                wanted = store_patching().json_patch(current, body)
            elif ctype in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
                wanted = store_patching().json_merge_patch(current, body)
            else:
                raise ApiError(415, "UnsupportedMediaType", f"{ctype} patches of the scale subresource are not implemented by the stand-in")
        expected = (wanted.get("metadata") or {}).get("resourceVersion")
        if req.verb == "update" and expected and expected != parent["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {res.group_resource} "{req.name}": the object has been '
                           "modified; please apply your changes to the latest version and try again")
        replicas = (wanted.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise ApiError(422, "Invalid", f'Scale.autoscaling "{req.name}" is invalid: spec.replicas: Invalid value: {json.dumps(replicas)}: '
                           "must be greater than or equal to 0")
        updated = json.loads(json.dumps(parent))
        updated.setdefault("spec", {})["replicas"] = replicas
        obj, dummy, dummy = store.update(res, req.namespace, req.name, updated, self._manager(handler, req), "Ignore", self._dry_run(req),
                                         old=parent)
        self.send_json(handler, 200, self._scale_of(obj))

    @staticmethod
    def _dups(res, dups, field_validation):
        if not dups:
            return []
        messages = [f'duplicate field "{d}"' for d in dups]
        if field_validation == "Strict":
            raise bad_request(f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}: strict decoding error: '
                              + ", ".join(messages))
        if field_validation == "Warn":
            return _warning_headers(messages)
        return []

    @staticmethod
    def _check_type(res, body):
        if not isinstance(body, dict):
            raise bad_request("the body of the request must be a JSON object")
        api_version, kind = body.get("apiVersion"), body.get("kind")
        if api_version and api_version != res.api_version:
            raise bad_request(f"the API version in the data ({api_version}) does not match the expected API version ({res.api_version})")
        if kind and kind != res.kind:
            raise bad_request(f"the kind in the data ({kind}) does not match the expected kind ({res.kind})")

    # -- output ------------------------------------------------------------------------------------
    @staticmethod
    def _wants_table(handler):
        accept = handler.headers.get("Accept") or ""
        for part in accept.split(","):
            params = [p.strip() for p in part.split(";")]
            if "as=Table" in params and "g=meta.k8s.io" in params and ("v=v1" in params or "v=v1beta1" in params):
                return "v1beta1" if "v=v1beta1" in params and "v=v1" not in params else "v1"
            if params and params[0] in ("application/json", "*/*", "application/*", ""):
                return None
        return None

    def _table(self, handler, req, objects):  # pylint: disable=unused-argument
        res = req.resource
        columns = None
        if res.crd is not None:
            columns = res.crd_version().get("additionalPrinterColumns")
        table = tables.to_table(res.kind, res.group, objects, True, columns, datetime.datetime.now(datetime.timezone.utc))
        include = req.q("includeObject", "Metadata")
        for row, obj in zip(table.get("rows") or [], objects):
            if include == "None":
                row.pop("object", None)
            elif include == "Object":
                full = dict(obj)
                full.setdefault("apiVersion", res.api_version)
                full.setdefault("kind", res.kind)
                row["object"] = full
            else:
                row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {})}
        table.setdefault("kind", "Table")
        table.setdefault("apiVersion", "meta.k8s.io/v1")
        return table

    def send_object(self, handler, req, code, obj, headers=()):
        if self._wants_table(handler):
            table = self._table(handler, req, [obj])
            table["metadata"] = {"resourceVersion": obj.get("metadata", {}).get("resourceVersion", "")}
            self.send_json(handler, code, table, headers)
            return
        self.send_json(handler, code, obj, headers)

    def send_list(self, handler, req, body, items):
        if self._wants_table(handler):
            table = self._table(handler, req, items)
            table["metadata"] = body["metadata"]
            self.send_json(handler, 200, table)
            return
        self.send_json(handler, 200, body)

    def watch(self, handler, req):
        timeout = req.q("timeoutSeconds")
        try:
            seconds = float(timeout) if timeout else 1800.0
        except ValueError as err:
            raise bad_request(f"invalid timeoutSeconds: {timeout}") from err
        table = self._wants_table(handler)
        res = req.resource
        if req.name is not None:
            field = f"metadata.name={req.name}"
            selector = req.q("fieldSelector", "")
            field_selector = f"{selector},{field}" if selector else field
        else:
            field_selector = req.q("fieldSelector", "")
        # validate selectors before starting the stream
        self.store.list(res, req.namespace, req.q("labelSelector", ""), field_selector, limit=1)
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.send_header("Cache-Control", "no-cache, private")
        handler.end_headers()
        handler.close_connection = True

        def send(kind, obj):
            if table and kind != "ERROR":
                obj = self._table(handler, req, [obj])
            line = json.dumps({"type": kind, "object": obj}, separators=(",", ":")).encode("utf-8") + b"\n"
            try:
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                handler.wfile.flush()
                return True
            except OSError:
                return False

        try:
            self.store.watch(res, req.namespace, req.q("resourceVersion"), req.q("labelSelector", ""), field_selector,
                             time.monotonic() + seconds, send)
        except ApiError as err:
            send("ERROR", err.status())
        except Exception as err:  # pylint: disable=broad-except
            self.log(0, f"watch {req.path}: {err}")
            send("ERROR", ApiError(500, "InternalError", f"Internal error occurred: {err}").status())
        try:
            handler.wfile.write(b"0\r\n\r\n")
            handler.wfile.flush()
        except OSError:
            pass


def store_patching():
    from . import store as store_mod  # pylint: disable=import-outside-toplevel
    return store_mod.patching


def _truthy(value):
    return str(value).lower() in ("1", "true", "yes")


def _warning_headers(warnings):
    return [("Warning", '299 - "%s"' % w.replace("\\", "\\\\").replace('"', '\\"')) for w in warnings]


def token_expired(expiration):
    if not expiration:
        return False
    try:
        when = datetime.datetime.fromisoformat(expiration.replace("Z", "+00:00"))
    except ValueError:
        return True
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when <= datetime.datetime.now(datetime.timezone.utc)
