"""STAND-IN kube-apiserver: a client of etcd's v3 JSON gRPC gateway.

The real kube-apiserver speaks gRPC to etcd.  The stand-in uses the JSON gateway that every etcd
3.4+ member serves on its client URL (`POST /v3/kv/range`, `/v3/kv/put`, `/v3/kv/deleterange`,
`/v3/kv/txn`, the streaming `/v3/watch`), over TLS with the client certificate, key and CA given by
`--etcd-certfile`, `--etcd-keyfile` and `--etcd-cafile`, so that a wrong endpoint, SAN or certificate
fails as it would for the real server.  Keys and values travel base64-encoded; revisions are strings.
Several `--etcd-servers` endpoints: a request that cannot reach one endpoint is retried on the next.
"""

import base64
import http.client
import json
import queue
import socket
import ssl
import threading
import urllib.parse


class EtcdError(Exception):
    """An error answered by etcd (code/message of the gateway) or no endpoint reachable."""

    def __init__(self, message, unavailable=False):
        super().__init__(message)
        self.unavailable = unavailable


def b64(data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return base64.b64encode(data).decode("ascii")


def unb64(text):
    return base64.b64decode(text or "")


def prefix_end(prefix):
    """The range_end that selects every key starting with prefix."""
    raw = bytearray(prefix.encode("utf-8"))
    while raw:
        if raw[-1] < 0xFF:
            raw[-1] += 1
            return bytes(raw)
        raw.pop()
    return b"\0"


class KV:
    """One key-value of a range answer."""

    __slots__ = ("key", "value", "mod_revision", "create_revision")

    def __init__(self, raw):
        self.key = unb64(raw.get("key")).decode("utf-8")
        self.value = unb64(raw.get("value"))
        self.mod_revision = int(raw.get("mod_revision") or 0)
        self.create_revision = int(raw.get("create_revision") or 0)


class EtcdClient:
    """Thread-safe: each thread keeps its own keep-alive connection to the current endpoint."""

    def __init__(self, endpoints, ca_file=None, cert_file=None, key_file=None, timeout=10):
        self.endpoints = [e.strip() for e in endpoints if e.strip()]
        if not self.endpoints:
            raise ValueError("--etcd-servers must be specified")
        self.timeout = timeout
        self.context = ssl.create_default_context()
        if ca_file:
            self.context.load_verify_locations(ca_file)
        if cert_file and key_file:
            self.context.load_cert_chain(cert_file, key_file)
        self._current = 0
        self._local = threading.local()
        self.last_error = None

    # -- transport -----------------------------------------------------------------------------
    def _connect(self, endpoint, timeout):
        parsed = urllib.parse.urlsplit(endpoint)
        if parsed.scheme == "https":
            return http.client.HTTPSConnection(parsed.hostname, parsed.port or 2379, context=self.context, timeout=timeout)
        if parsed.scheme == "http":
            return http.client.HTTPConnection(parsed.hostname, parsed.port or 2379, timeout=timeout)
        raise EtcdError(f"etcd endpoint {endpoint}: unsupported scheme", unavailable=True)

    def _conn(self, index):
        conns = getattr(self._local, "conns", None)
        if conns is None:
            conns = self._local.conns = {}
        conn = conns.get(index)
        if conn is None:
            conn = conns[index] = self._connect(self.endpoints[index], self.timeout)
        return conn

    def _drop(self, index):
        conns = getattr(self._local, "conns", {})
        conn = conns.pop(index, None)
        if conn is not None:
            conn.close()

    def call(self, path, body):
        """POST body (a dict) to path on the first endpoint that answers; the decoded answer."""
        payload = json.dumps(body).encode("utf-8")
        errors = []
        count = len(self.endpoints)
        start = self._current
        for step in range(count):
            index = (start + step) % count
            for attempt in range(2):  # a kept-alive connection may have been closed by the peer
                try:
                    conn = self._conn(index)
                    conn.request("POST", path, body=payload, headers={"Content-Type": "application/json"})
                    response = conn.getresponse()
                    raw = response.read()
                except (OSError, http.client.HTTPException, ssl.SSLError) as err:
                    self._drop(index)
                    if attempt == 0 and isinstance(err, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)):
                        continue
                    errors.append(f"{self.endpoints[index]}: {err}")
                    break
                self._current = index
                try:
                    answer = json.loads(raw) if raw else {}
                except ValueError:
                    answer = {"error": raw.decode("utf-8", "replace")}
                if response.status != 200 or "error" in answer and "header" not in answer:
                    message = answer.get("message") or answer.get("error") or f"HTTP {response.status}"
                    if response.status in (502, 503, 504):
                        errors.append(f"{self.endpoints[index]}: {message}")
                        break
                    raise EtcdError(f"etcd {self.endpoints[index]}: {message}")
                self.last_error = None
                return answer
        self.last_error = "; ".join(errors)
        raise EtcdError("no etcd endpoint reachable: " + self.last_error, unavailable=True)

    # -- KV --------------------------------------------------------------------------------------
    def get(self, key):
        """(KV or None, header revision)."""
        answer = self.call("/v3/kv/range", {"key": b64(key)})
        kvs = answer.get("kvs") or []
        return (KV(kvs[0]) if kvs else None), int(answer["header"]["revision"])

    def list(self, prefix, revision=0, limit=0, start_key=None):
        """(list of KV, header revision, more) for the keys under prefix (a string ending in '/')."""
        body = {"key": b64(start_key or prefix), "range_end": b64(prefix_end(prefix))}
        if revision:
            body["revision"] = str(revision)
        if limit:
            body["limit"] = str(limit)
        answer = self.call("/v3/kv/range", body)
        kvs = [KV(raw) for raw in answer.get("kvs") or []]
        return kvs, int(answer["header"]["revision"]), bool(answer.get("more"))

    def count(self, prefix):
        answer = self.call("/v3/kv/range", {"key": b64(prefix), "range_end": b64(prefix_end(prefix)), "count_only": True})
        return int(answer.get("count") or 0)

    def create(self, key, value):
        """Put key only if absent: the new revision, or None when the key exists."""
        answer = self.call("/v3/kv/txn", {
            "compare": [{"key": b64(key), "target": "CREATE", "result": "EQUAL", "create_revision": "0"}],
            "success": [{"request_put": {"key": b64(key), "value": b64(value)}}],
        })
        if not answer.get("succeeded"):
            return None
        return int(answer["header"]["revision"])

    def update(self, key, value, mod_revision):
        """Put key only if its mod_revision is unchanged: the new revision, or None on conflict."""
        answer = self.call("/v3/kv/txn", {
            "compare": [{"key": b64(key), "target": "MOD", "result": "EQUAL", "mod_revision": str(mod_revision)}],
            "success": [{"request_put": {"key": b64(key), "value": b64(value)}}],
        })
        if not answer.get("succeeded"):
            return None
        return int(answer["header"]["revision"])

    def delete(self, key, mod_revision=None):
        """Delete key (if mod_revision is given, only if unchanged): the revision, or None when not deleted."""
        if mod_revision is None:
            answer = self.call("/v3/kv/deleterange", {"key": b64(key)})
            if int(answer.get("deleted") or 0) == 0:
                return None
            return int(answer["header"]["revision"])
        answer = self.call("/v3/kv/txn", {
            "compare": [{"key": b64(key), "target": "MOD", "result": "EQUAL", "mod_revision": str(mod_revision)}],
            "success": [{"request_delete_range": {"key": b64(key)}}],
        })
        if not answer.get("succeeded"):
            return None
        return int(answer["header"]["revision"])

    def status_ok(self):
        """True when some endpoint answers a range request (used by /readyz)."""
        try:
            self.call("/v3/kv/range", {"key": b64("/registry/health"), "count_only": True})
            return True
        except EtcdError:
            return False

    # -- watch -----------------------------------------------------------------------------------
    def watch(self, prefix, start_revision, stop, poll=1.0):
        """Yield event dicts {type: PUT|DELETE, kv: KV, prev: KV|None, revision} from start_revision,
        or {'compacted': rev}; yield None about every `poll` seconds so the caller can check time;
        ends when stop() is true.  Backed by the streaming /v3/watch of the gateway."""
        body = json.dumps({"create_request": {
            "key": b64(prefix), "range_end": b64(prefix_end(prefix)),
            "start_revision": str(start_revision), "prev_kv": True}}).encode("utf-8")
        last_error = None
        count = len(self.endpoints)
        for step in range(count):
            index = (self._current + step) % count
            try:
                conn = self._connect(self.endpoints[index], self.timeout)
                conn.request("POST", "/v3/watch", body=body, headers={"Content-Type": "application/json"})
                response = conn.getresponse()
            except (OSError, http.client.HTTPException) as err:
                last_error = f"{self.endpoints[index]}: {err}"
                continue
            break
        else:
            raise EtcdError("no etcd endpoint reachable: " + str(last_error), unavailable=True)
        chunks = queue.Queue()

        def reader():
            try:
                while True:
                    chunk = response.read1(65536)
                    chunks.put(("data", chunk))
                    if not chunk:
                        return
            except Exception as err:  # pylint: disable=broad-except
                chunks.put(("error", err))

        threading.Thread(target=reader, daemon=True, name="etcd-watch-reader").start()
        try:
            buffer = b""
            decoder = json.JSONDecoder()
            while not stop():
                try:
                    kind, chunk = chunks.get(timeout=poll)
                except queue.Empty:
                    yield None
                    continue
                if kind == "error":
                    if stop():
                        return
                    raise EtcdError(f"etcd watch: {chunk}", unavailable=True)
                if not chunk:
                    raise EtcdError("etcd watch stream closed", unavailable=True)
                buffer += chunk
                while True:
                    text = buffer.lstrip()
                    if not text:
                        buffer = b""
                        break
                    try:
                        decoded = text.decode("utf-8")
                        message, end = decoder.raw_decode(decoded)
                    except (ValueError, UnicodeDecodeError):
                        buffer = text
                        break
                    buffer = decoded[end:].encode("utf-8")
                    result = message.get("result") or {}
                    if "error" in message:
                        raise EtcdError(f"etcd watch: {message['error']}")
                    if result.get("compact_revision") and result.get("canceled"):
                        yield {"compacted": int(result["compact_revision"])}
                        return
                    for event in result.get("events") or []:
                        kv = KV(event.get("kv") or {})
                        prev = KV(event["prev_kv"]) if event.get("prev_kv") else None
                        yield {"type": event.get("type", "PUT"), "kv": kv, "prev": prev, "revision": kv.mod_revision}
                yield None
        finally:
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except (OSError, AttributeError):
                pass
            conn.close()
