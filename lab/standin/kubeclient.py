"""STAND-IN support: a minimal Kubernetes API client for the lab's stand-in kubeadm and kubelet.

It reads a kubeconfig (client certificate, bearer token, or anonymous), speaks HTTPS with the
cluster CA, and sends JSON.  It is what the stand-ins use to reach the API stand-in (or a real API
server: nothing here is specific to the stand-in).  Standard library only, so that it runs from a
zipapp on a node.
"""

import base64
import http.client
import json
import os
import ssl
import tempfile
import time
import urllib.parse

import yaml

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


class ApiError(Exception):
    """A non-2xx answer: status code, the Status reason and its message."""

    def __init__(self, status, reason="", message="", body=None):
        super().__init__(f"{status} {reason}: {message}".strip())
        self.status = status
        self.reason = reason
        self.message = message
        self.body = body


def _material(user_or_cluster, key, base_dir):
    """Bytes of `<key>-data` (base64) or of the file `<key>`, or None."""
    data = user_or_cluster.get(key + "-data")
    if data:
        return base64.b64decode(data)
    path = user_or_cluster.get(key)
    if path:
        if not os.path.isabs(path):
            path = os.path.join(base_dir, path)
        with open(path, "rb") as handle:
            return handle.read()
    return None


def load_kubeconfig(path):
    """The current context's server, CA bytes, client cert/key bytes and token."""
    with open(path, encoding="utf-8") as handle:
        config = yaml.safe_load(handle) or {}
    base_dir = os.path.dirname(os.path.abspath(path))
    contexts = {c["name"]: c.get("context", {}) for c in config.get("contexts") or []}
    context = contexts.get(config.get("current-context"))
    if context is None:
        if len(contexts) != 1:
            raise ValueError(f"{path}: no current-context")
        context = next(iter(contexts.values()))
    clusters = {c["name"]: c.get("cluster", {}) for c in config.get("clusters") or []}
    users = {u["name"]: u.get("user", {}) or {} for u in config.get("users") or []}
    cluster = clusters.get(context.get("cluster"))
    if cluster is None:
        raise ValueError(f"{path}: context names an unknown cluster")
    user = users.get(context.get("user"), {})
    return {
        "server": cluster["server"],
        "ca": _material(cluster, "certificate-authority", base_dir),
        "insecure": bool(cluster.get("insecure-skip-tls-verify")),
        "cert": _material(user, "client-certificate", base_dir),
        "key": _material(user, "client-key", base_dir),
        "token": user.get("token"),
    }


class KubeClient:
    """JSON over HTTPS to one API server.  Every call returns the decoded body or raises ApiError."""

    def __init__(self, server, ca=None, cert=None, key=None, token=None, insecure=False, timeout=10, retry_seconds=0):
        parsed = urllib.parse.urlsplit(server)
        if parsed.scheme != "https":
            raise ValueError(f"API server URL must be https: {server}")
        self.server = server
        self.host = parsed.hostname
        self.port = parsed.port or 443
        self.token = token
        self.timeout = timeout
        # Connection failures (refused, reset, TLS closed) are retried for this long, as kubeadm
        # retries its API calls for timeouts.kubernetesAPICall; HTTP errors are never retried.
        self.retry_seconds = retry_seconds
        context = ssl.create_default_context()
        if insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif ca:
            context.load_verify_locations(cadata=ca.decode("ascii"))
        if cert and key:
            # ssl wants files: write the pair to a private temporary file and load it.
            with tempfile.NamedTemporaryFile("wb", delete=True) as pem:
                os.chmod(pem.name, 0o600)
                pem.write(cert + b"\n" + key)
                pem.flush()
                context.load_cert_chain(pem.name)
        self.context = context

    @classmethod
    def from_kubeconfig(cls, path, **kwargs):
        conf = load_kubeconfig(path)
        return cls(conf["server"], ca=conf["ca"], cert=conf["cert"], key=conf["key"],
                   token=conf["token"], insecure=conf["insecure"], **kwargs)

    def peer_certificates(self):
        """The DER certificate the server presents (for discovery before the CA is trusted)."""
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=self.timeout)
        try:
            conn.connect()
            return conn.sock.getpeercert(binary_form=True)
        finally:
            conn.close()

    def request(self, method, path, body=None, content_type="application/json", query=None):
        if query:
            path = path + "?" + urllib.parse.urlencode(query)
        headers = {"Accept": "application/json"}
        payload = None
        if body is not None:
            payload = body if isinstance(body, (bytes, str)) else json.dumps(body)
            if isinstance(payload, str):
                payload = payload.encode("utf-8")
            headers["Content-Type"] = content_type
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        deadline = time.monotonic() + self.retry_seconds
        while True:
            conn = http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=self.timeout)
            try:
                conn.request(method, path, body=payload, headers=headers)
                response = conn.getresponse()
                raw = response.read()
                break
            except (OSError, http.client.HTTPException):
                if time.monotonic() >= deadline:
                    raise
                time.sleep(1)
            finally:
                conn.close()
        try:
            decoded = json.loads(raw) if raw else None
        except ValueError:
            decoded = raw.decode("utf-8", "replace")
        if response.status >= 300:
            reason, message = "", ""
            if isinstance(decoded, dict):
                reason, message = decoded.get("reason", ""), decoded.get("message", "")
            else:
                message = decoded or ""
            raise ApiError(response.status, reason, message, decoded)
        return decoded

    def get(self, path, query=None):
        return self.request("GET", path, query=query)

    def post(self, path, obj, query=None):
        return self.request("POST", path, obj, query=query)

    def put(self, path, obj, query=None):
        return self.request("PUT", path, obj, query=query)

    def patch(self, path, obj, content_type=MERGE_PATCH, query=None):
        return self.request("PATCH", path, obj, content_type=content_type, query=query)

    def delete(self, path, query=None):
        return self.request("DELETE", path, query=query)

    def exists(self, path):
        try:
            self.get(path)
            return True
        except ApiError as err:
            if err.status == 404:
                return False
            raise
