# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# HTTPS client for etcd's v3 JSON gateway (grpc-gateway), standard library only.
#
# etcd >= 3.4 serves its v3 API as JSON under ``/v3/`` on every client URL.
# Facts about the gateway that this code relies on (etcd 3.4/3.5):
#
# * 64-bit integers (member IDs, revisions, sizes) are JSON *strings* holding
#   decimal numbers; fields with a zero/false/empty value are left out.
# * errors are JSON ``{"error": "...", "code": <gRPC code>, "message": "..."}``
#   with an HTTP 4xx/5xx status.
# * ``/v3/maintenance/snapshot`` is a server stream: one JSON object per
#   message, ``{"result": {"blob": "<base64>", ...}}``, newline separated.  The
#   concatenated blobs are the bolt database followed by the 32-byte sha256 of
#   the database.
# * etcd RBAC authentication (``--auth``/tokens) is not handled: the gateway does
#   not map client certificate names to users, so this code supports clusters
#   secured by client-certificate TLS without RBAC.

import base64
import codecs
import http.client
import json
import os
import socket
import ssl

from urllib.parse import urlsplit

from ansible_collections.ironstone.k8s.plugins.module_utils.common.files import AtomicFile
from ansible_collections.ironstone.k8s.plugins.module_utils.etcd.errors import EtcdError, EtcdUnreachableError
from ansible_collections.ironstone.k8s.plugins.module_utils.etcd.members import format_member_id, normalize_member, normalize_url, to_int
from ansible_collections.ironstone.k8s.plugins.module_utils.etcd.snapshot import TrailerHasher

API_PREFIX = '/v3'
DEFAULT_ENDPOINTS = ['https://127.0.0.1:2379']

GRPC_CODE_NAMES = {
    1: 'Canceled', 2: 'Unknown', 3: 'InvalidArgument', 4: 'DeadlineExceeded', 5: 'NotFound',
    6: 'AlreadyExists', 7: 'PermissionDenied', 8: 'ResourceExhausted', 9: 'FailedPrecondition',
    10: 'Aborted', 11: 'OutOfRange', 12: 'Unimplemented', 13: 'Internal', 14: 'Unavailable',
    15: 'DataLoss', 16: 'Unauthenticated',
}
GRPC_UNAVAILABLE = 14
GRPC_PERMISSION_DENIED = 7

ALARM_NAMES = {0: 'NONE', 1: 'NOSPACE', 2: 'CORRUPT'}


class _TransportError(Exception):
    """Internal: a request failed below HTTP (connect, TLS, read)."""

    def __init__(self, reason, sent):
        super(_TransportError, self).__init__(reason)
        self.reason = reason
        self.sent = sent


def normalize_endpoint(endpoint):
    """``https://host:port`` from ``https://host:port/``, ``host:port``..."""
    text = str(endpoint).strip()
    if not text:
        raise ValueError('an etcd endpoint is empty; give URLs like https://10.0.0.1:2379')
    if '://' not in text:
        text = 'https://' + text
    parts = urlsplit(text)
    if parts.scheme not in ('http', 'https') or not parts.hostname:
        raise ValueError('etcd endpoint %r is not an http(s) URL; give URLs like https://10.0.0.1:2379' % (endpoint,))
    try:
        parts.port
    except ValueError:
        raise ValueError('etcd endpoint %r has an invalid port; give URLs like https://10.0.0.1:2379' % (endpoint,))
    return '%s://%s' % (parts.scheme, parts.netloc)


def _decode_error_body(raw):
    """(message, gRPC code) from a gateway error body, or (text, None)."""
    text = raw.decode('utf-8', 'replace').strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:300], None
    if not isinstance(data, dict):
        return text[:300], None
    error = data.get('error')
    if isinstance(error, dict):  # stream errors: {"error": {"grpc_code":..,"message":..}}
        return str(error.get('message') or error), error.get('grpc_code', error.get('code'))
    message = data.get('message') or error or text[:300]
    code = data.get('code')
    try:
        code = int(code) if code is not None else None
    except (TypeError, ValueError):
        code = None
    return str(message), code


class EtcdClient(object):
    """Client for etcd's v3 JSON gateway with failover across endpoints.

    ``call`` tries endpoints in order and moves on when one cannot be reached
    (connection refused, TLS failure, timeout) or answers "unavailable"
    (HTTP 503 / gRPC 14: no leader, timed out).  Other error answers are
    final and raise ``EtcdError`` at once.  Calls marked not idempotent
    (member add) only fail over when the request never reached the server.
    """

    def __init__(self, endpoints, ca_file=None, cert_file=None, key_file=None, timeout=10, api_prefix=API_PREFIX):
        if isinstance(endpoints, str):
            endpoints = [endpoints]
        if not endpoints:
            raise ValueError('no etcd endpoints given; give URLs like https://10.0.0.1:2379')
        self.endpoints = []
        for endpoint in endpoints:
            endpoint = normalize_endpoint(endpoint)
            if endpoint not in self.endpoints:
                self.endpoints.append(endpoint)
        self.ca_file = ca_file
        self.cert_file = cert_file
        self.key_file = key_file
        self.timeout = float(timeout)
        self.api_prefix = '/' + api_prefix.strip('/')
        self.last_endpoint = None
        self._ssl_context = None

    # -- transport ---------------------------------------------------------

    def ssl_context(self):
        """The TLS context (CA, client certificate), built once; raises EtcdError on bad files."""
        if self._ssl_context is None:
            for option, path in (('ca_file', self.ca_file), ('cert_file', self.cert_file), ('key_file', self.key_file)):
                if path and not os.path.isfile(path):
                    raise EtcdError('%s %s does not exist or is not a file; give the path of the PEM file on the managed node' % (option, path))
            if bool(self.cert_file) != bool(self.key_file):
                raise EtcdError('cert_file and key_file must be given together (client certificate and its key)')
            try:
                context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ca_file or None)
            except (ssl.SSLError, OSError) as exc:
                raise EtcdError('cannot load ca_file %s: %s; give a PEM file with the etcd CA certificate' % (self.ca_file, exc))
            if self.cert_file:
                try:
                    context.load_cert_chain(self.cert_file, self.key_file)
                except (ssl.SSLError, OSError) as exc:
                    raise EtcdError('cannot load client certificate %s with key %s: %s; check that both are PEM and belong together'
                                    % (self.cert_file, self.key_file, exc))
            self._ssl_context = context
        return self._ssl_context

    def _connection(self, endpoint):
        parts = urlsplit(endpoint)
        if parts.scheme == 'https':
            return http.client.HTTPSConnection(parts.hostname, parts.port or 2379, timeout=self.timeout, context=self.ssl_context())
        return http.client.HTTPConnection(parts.hostname, parts.port or 2379, timeout=self.timeout)

    def _url(self, path):
        return '%s/%s' % (self.api_prefix, path.lstrip('/'))

    def _open(self, endpoint, path, body):
        """POST and return (connection, response with HTTP 200).

        Raises ``_TransportError`` or ``EtcdError`` (error answer).
        """
        url = self._url(path)
        payload = json.dumps(body if body is not None else {}).encode('utf-8')
        conn = self._connection(endpoint)
        sent = False
        try:
            try:
                conn.connect()
            except ssl.SSLCertVerificationError as exc:
                raise _TransportError('TLS certificate verification failed (%s); check ca_file and that the endpoint host is in the server certificate'
                                      % (getattr(exc, 'verify_message', None) or exc), False)
            except ssl.SSLError as exc:
                raise _TransportError('TLS handshake failed (%s); check cert_file/key_file and that the endpoint speaks https' % exc, False)
            except socket.timeout:
                raise _TransportError('connection timed out after %gs' % self.timeout, False)
            except OSError as exc:
                raise _TransportError('cannot connect: %s' % (exc.strerror or exc), False)
            try:
                sent = True
                conn.request('POST', url, body=payload, headers={'Content-Type': 'application/json', 'Accept': 'application/json'})
                response = conn.getresponse()
            except socket.timeout:
                raise _TransportError('no answer within %gs' % self.timeout, sent)
            except (OSError, http.client.HTTPException) as exc:
                raise _TransportError('request failed: %s' % (exc or exc.__class__.__name__), sent)
            if response.status != 200:
                try:
                    raw = response.read()
                except (OSError, http.client.HTTPException):
                    raw = b''
                message, code = _decode_error_body(raw)
                raise self._answer_error(endpoint, url, response.status, message, code)
            return conn, response
        except Exception:
            conn.close()
            raise

    def _answer_error(self, endpoint, url, status, message, code):
        code_text = ''
        if code:
            code_text = ', gRPC code %s %s' % (code, GRPC_CODE_NAMES.get(code, ''))
        hint = ''
        if status == 404 and code is None:
            hint = ('; this URL does not serve the etcd v3 JSON gateway: point endpoints at etcd client URLs of etcd 3.4 or newer, '
                    'and where etcd runs with --config-file set enable-grpc-gateway: true in that file (etcd 3.4 leaves the gateway off then)')
        elif status in (401, 403) or code in (7, 16):
            hint = '; this client is not allowed to do that: check the client certificate (etcd RBAC auth is not supported)'
        text = 'etcd endpoint %s answered POST %s with HTTP %d%s: %s%s' % (endpoint, url, status, code_text, message or '(no message)', hint)
        return EtcdError(text.strip(), endpoint=endpoint, path=url, http_status=status, code=code)

    def _post(self, endpoint, path, body):
        conn, response = self._open(endpoint, path, body)
        try:
            try:
                raw = response.read()
            except socket.timeout:
                raise _TransportError('answer not complete within %gs' % self.timeout, True)
            except (OSError, http.client.HTTPException) as exc:
                raise _TransportError('reading the answer failed: %s' % exc, True)
        finally:
            conn.close()
        try:
            data = json.loads(raw.decode('utf-8'))
        except ValueError:
            raise EtcdError('etcd endpoint %s answered POST %s with something that is not JSON (%r); is this an etcd client URL?'
                            % (endpoint, self._url(path), raw[:100]), endpoint=endpoint, path=self._url(path), http_status=200)
        if not isinstance(data, dict):
            raise EtcdError('etcd endpoint %s answered POST %s with unexpected JSON %r' % (endpoint, self._url(path), data),
                            endpoint=endpoint, path=self._url(path), http_status=200)
        return data

    def _ordered(self, avoid):
        avoid = set(normalize_url(u) for u in avoid or [])
        return [e for e in self.endpoints if e not in avoid] + [e for e in self.endpoints if e in avoid]

    def call(self, path, body=None, endpoint=None, idempotent=True, avoid=None):
        """POST ``body`` to ``<api_prefix>/<path>``; return the decoded JSON.

        ``endpoint``: ask only this one.  ``avoid``: endpoints to try last.
        """
        targets = [normalize_endpoint(endpoint)] if endpoint else self._ordered(avoid)
        failures = []
        for target in targets:
            try:
                data = self._post(target, path, body)
            except _TransportError as exc:
                failures.append('%s: %s' % (target, exc.reason))
                if exc.sent and not idempotent:
                    raise EtcdUnreachableError('etcd endpoint %s failed during POST %s (%s); the change may or may not have been applied: '
                                               'check the member list before retrying' % (target, self._url(path), exc.reason),
                                               endpoint=target, path=self._url(path))
                continue
            except EtcdError as exc:
                if exc.http_status == 503 or exc.code == GRPC_UNAVAILABLE:
                    failures.append('%s: %s' % (target, exc.message))
                    if idempotent:
                        continue
                raise
            self.last_endpoint = target
            return data
        if len(targets) == 1:
            reason = failures[0].split(': ', 1)[1] if failures else 'no answer'
            raise EtcdUnreachableError('etcd endpoint %s could not answer POST %s: %s' % (targets[0], self._url(path), reason),
                                       endpoint=targets[0], path=self._url(path))
        raise EtcdUnreachableError('no etcd endpoint could answer POST %s (%s); check that etcd runs and that endpoints, ca_file, cert_file '
                                   'and key_file are right' % (self._url(path), '; '.join(failures)), path=self._url(path))

    # -- API ---------------------------------------------------------------

    def members(self, endpoint=None):
        data = self.call('cluster/member/list', {}, endpoint=endpoint)
        return [normalize_member(m) for m in data.get('members') or []]

    def member_add(self, peer_urls, learner=True):
        """Add a member; return (new member, members after)."""
        body = {'peerURLs': [normalize_url(u) for u in peer_urls]}
        if learner:
            body['isLearner'] = True
        data = self.call('cluster/member/add', body, idempotent=False)
        member = normalize_member(data.get('member') or {})
        members = [normalize_member(m) for m in data.get('members') or []]
        if not members:
            members = self.members()
        return member, members

    def member_promote(self, member_id):
        data = self.call('cluster/member/promote', {'ID': str(int(member_id))})
        return [normalize_member(m) for m in data.get('members') or []]

    def member_remove(self, member_id, avoid=None):
        data = self.call('cluster/member/remove', {'ID': str(int(member_id))}, avoid=avoid)
        return [normalize_member(m) for m in data.get('members') or []]

    def status(self, endpoint=None):
        data = self.call('maintenance/status', {}, endpoint=endpoint)
        header = data.get('header') or {}
        return {
            'endpoint': self.last_endpoint,
            'version': data.get('version', ''),
            'db_size': to_int(data.get('dbSize')),
            'db_size_in_use': to_int(data.get('dbSizeInUse'), None),
            'leader_int': to_int(data.get('leader')),
            'raft_index': to_int(data.get('raftIndex')),
            'raft_term': to_int(data.get('raftTerm')),
            'raft_applied_index': to_int(data.get('raftAppliedIndex'), None),
            'errors': list(data.get('errors') or []),
            'is_learner': bool(data.get('isLearner', False)),
            'member_id_int': to_int(header.get('member_id')),
            'cluster_id': format_member_id(to_int(header.get('cluster_id')))[0] if header.get('cluster_id') else None,
            'revision': to_int(header.get('revision')),
        }

    def revision(self, endpoint=None):
        """Current revision, from a range call's header."""
        data = self.call('kv/range', {'key': _b64('health'), 'count_only': True}, endpoint=endpoint)
        return to_int((data.get('header') or {}).get('revision'))

    def alarms(self, endpoint=None):
        data = self.call('maintenance/alarm', {'action': 'GET'}, endpoint=endpoint)
        result = []
        for alarm in data.get('alarms') or []:
            kind = alarm.get('alarm', 0)
            if isinstance(kind, int):
                kind = ALARM_NAMES.get(kind, str(kind))
            if kind == 'NONE':
                continue
            id_hex, id_dec = format_member_id(to_int(alarm.get('memberID')))
            result.append({'member_id': id_hex, 'member_id_decimal': id_dec, 'alarm': kind})
        return result

    def health(self, endpoint):
        """(healthy, error) like ``etcdctl endpoint health``.

        A linearizable range read of key ``health`` must go through the
        leader, so an answer proves the member is part of a quorum.  A
        "permission denied" answer still counts as healthy.
        """
        try:
            self.call('kv/range', {'key': _b64('health')}, endpoint=endpoint)
        except EtcdUnreachableError as exc:
            return False, exc.message
        except EtcdError as exc:
            if exc.code == GRPC_PERMISSION_DENIED or 'permission denied' in exc.message or 'user name is empty' in exc.message:
                return True, None
            return False, exc.message
        return True, None

    def member_healthy(self, member):
        """(healthy, error) trying each of the member's client URLs."""
        if not member['client_urls']:
            return False, 'member has no client URLs (not started)'
        error = None
        for url in member['client_urls']:
            ok, error = self.health(url)
            if ok:
                return True, None
        return False, error

    def snapshot(self, endpoint, dest_path):
        """Stream a snapshot from ``endpoint`` into ``dest_path``, verified.

        Writes ``.<name>.part`` next to ``dest_path`` (mode 0600), checks the
        sha256 trailer and renames it into place; on any failure the partial
        file is deleted.  Returns ``{'size', 'sha256', 'db_sha256'}``.
        """
        endpoint = normalize_endpoint(endpoint)
        directory, base = os.path.split(os.path.abspath(dest_path))
        target = AtomicFile(dest_path, 0o600, tmp_path=os.path.join(directory, '.%s.part' % base), rename=os.rename)
        try:
            target.open()
        except OSError as exc:
            raise EtcdError('cannot create %s: %s; check that dest_dir exists and is writable' % (target.tmp_path, exc))
        hasher = TrailerHasher()
        with target as handle:
            self._stream_snapshot(endpoint, handle, hasher)
            return hasher.verify('the snapshot streamed from %s' % endpoint)

    def _stream_snapshot(self, endpoint, handle, hasher):
        """Write the database blobs of the snapshot stream of ``endpoint`` to ``handle`` and ``hasher``."""
        try:
            conn, response = self._open(endpoint, 'maintenance/snapshot', {})
        except _TransportError as exc:
            raise EtcdUnreachableError('etcd endpoint %s could not start a snapshot: %s' % (endpoint, exc.reason), endpoint=endpoint)
        try:
            for message in _iter_json_stream(response, self.timeout):
                if 'error' in message:
                    text, code = _decode_error_body(json.dumps(message).encode('utf-8'))
                    raise EtcdError('etcd endpoint %s aborted the snapshot stream: %s (gRPC code %s); take the snapshot again'
                                    % (endpoint, text, code), endpoint=endpoint, code=code)
                blob = message.get('result', message).get('blob')
                if blob:
                    try:
                        data = base64.b64decode(blob)
                    except (TypeError, ValueError) as exc:
                        raise EtcdError('etcd endpoint %s sent a snapshot chunk that is not base64 (%s)' % (endpoint, exc), endpoint=endpoint)
                    handle.write(data)
                    hasher.update(data)
        except _TransportError as exc:
            raise EtcdUnreachableError('etcd endpoint %s broke off the snapshot after %d bytes: %s' % (endpoint, hasher.size, exc.reason),
                                       endpoint=endpoint)
        finally:
            conn.close()


def _b64(text):
    return base64.b64encode(text.encode('utf-8')).decode('ascii')


def _iter_json_stream(response, timeout, chunk_size=64 * 1024):
    """Yield JSON objects from a grpc-gateway server stream.

    Objects are normally newline separated; ``raw_decode`` also copes with
    any other whitespace (or none) between them.
    """
    decoder = json.JSONDecoder()
    text_decoder = codecs.getincrementaldecoder('utf-8')()
    buffer = ''
    while True:
        try:
            chunk = response.read1(chunk_size) if hasattr(response, 'read1') else response.read(chunk_size)
        except socket.timeout:
            raise _TransportError('no data for %gs' % timeout, True)
        except (OSError, http.client.HTTPException) as exc:
            raise _TransportError(str(exc) or exc.__class__.__name__, True)
        final = not chunk
        buffer += text_decoder.decode(chunk, final=final)
        position = 0
        while True:
            while position < len(buffer) and buffer[position] in ' \t\r\n':
                position += 1
            if position >= len(buffer):
                break
            try:
                obj, end = decoder.raw_decode(buffer, position)
            except ValueError:
                if final:
                    raise _TransportError('stream ended inside a message (%d characters left over)' % (len(buffer) - position), True)
                break
            if not isinstance(obj, dict):
                raise _TransportError('stream carried unexpected JSON %r' % (obj,), True)
            yield obj
            position = end
        buffer = buffer[position:]
        if final:
            return
