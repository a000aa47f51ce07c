# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE)
from __future__ import absolute_import, division, print_function
__metaclass__ = type

"""STAND-IN for etcd's v3 JSON gateway, for unit tests only.

This is NOT etcd.  It is a small in-process ``http.server`` that answers the
handful of ``/v3/...`` (and ``/v3beta/...``) POST calls the ironstone.k8s etcd
modules use, shaped like the grpc-gateway of etcd 3.4/3.5:

* 64-bit numbers as decimal strings, zero/false/empty fields left out;
* errors as ``{"error": msg, "code": <gRPC code>, "message": msg}`` with the
  HTTP status grpc-gateway maps that code to;
* ``maintenance/snapshot`` as a chunked stream of newline-separated
  ``{"result": {"blob": ...}}`` objects whose blobs concatenate to a fake
  database (a multiple of 4096 bytes) plus its 32-byte sha256.

Several servers can share one ``StandinCluster`` so each plays one member.
Knobs for tests: ``add_unhealthy`` (refuse that many member adds with
"unhealthy cluster", as etcd's strict reconfig check does while a voting member
has been connected for less than 5 s), ``promote_not_ready`` (reject that many promote calls as "not
in sync"), ``corrupt_snapshot``, ``snapshot_error_midway``, ``unhealthy``
(member ids whose range reads fail "unavailable"), ``permission_denied``
(range reads answer 403 like an RBAC-protected key), ``alarms``, ``hangup``
(paths whose requests are read and then dropped without an answer).

Real etcd behaviour is checked later in Molecule against etcd itself.
"""

import base64
import datetime
import hashlib
import ipaddress
import json
import os
import random
import socket
import ssl
import threading

from http.server import BaseHTTPRequestHandler, HTTPServer
from socketserver import ThreadingMixIn


GRPC_HTTP = {3: 400, 5: 404, 7: 403, 9: 400, 14: 503, 13: 500}


class StandinError(Exception):
    def __init__(self, code, message):
        super(StandinError, self).__init__(message)
        self.code = code
        self.message = message


class StandinCluster(object):
    """Shared state of a fake cluster."""

    def __init__(self, version='3.4.23', db_pages=3, seed=7):
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.cluster_id = self.rng.getrandbits(63) | 1
        self.members = []          # list of dicts: ID(int), name, peerURLs, clientURLs, isLearner
        self.leader = None
        self.revision = 1
        self.raft_index = 10
        self.version = version
        self.kv = {}
        self.alarms = []           # list of (member id, 'NOSPACE'|'CORRUPT')
        self.promote_not_ready = 0
        self.promote_calls = 0
        self.add_unhealthy = 0     # refuse that many member adds as etcd's strict reconfig check does
        self.add_calls = 0
        self.corrupt_snapshot = False
        self.snapshot_error_midway = False
        self.unhealthy = set()
        self.permission_denied = False
        self.hangup = set()        # paths whose requests are read and then dropped without an answer
        self.calls = []            # (member id, path, body)
        self.db = bytes(self.rng.getrandbits(8) for _page_byte in range(db_pages * 4096))

    def new_id(self):
        return self.rng.getrandbits(64) or 1

    def add_member(self, name, peer_urls, client_urls=(), learner=False, member_id=None):
        member = {'ID': member_id or self.new_id(), 'name': name, 'peerURLs': list(peer_urls),
                  'clientURLs': list(client_urls), 'isLearner': learner}
        with self.lock:
            self.members.append(member)
            if self.leader is None and not learner and name:
                self.leader = member['ID']
        return member

    def find(self, member_id):
        for member in self.members:
            if member['ID'] == member_id:
                return member
        return None

    def start_member(self, member_id, name, client_urls):
        """What a new node's etcd does when it joins: publish name and client URLs."""
        with self.lock:
            member = self.find(member_id)
            member['name'] = name
            member['clientURLs'] = list(client_urls)

    def snapshot_bytes(self):
        db = bytearray(self.db)
        trailer = hashlib.sha256(bytes(db)).digest()
        if self.corrupt_snapshot:
            db[100] ^= 0xff
        return bytes(db) + trailer

    # -- JSON shaping like grpc-gateway (EmitDefaults off, uint64 as string) --

    @staticmethod
    def member_json(member):
        out = {'ID': str(member['ID'])}
        if member['name']:
            out['name'] = member['name']
        if member['peerURLs']:
            out['peerURLs'] = list(member['peerURLs'])
        if member['clientURLs']:
            out['clientURLs'] = list(member['clientURLs'])
        if member['isLearner']:
            out['isLearner'] = True
        return out

    def header(self, member_id):
        return {'cluster_id': str(self.cluster_id), 'member_id': str(member_id), 'revision': str(self.revision),
                'raft_term': '2'}

    # -- API ---------------------------------------------------------------

    def handle(self, member_id, path, body):
        self.calls.append((member_id, path, body))
        with self.lock:
            handler = {
                'cluster/member/list': self._member_list,
                'cluster/member/add': self._member_add,
                'cluster/member/promote': self._member_promote,
                'cluster/member/remove': self._member_remove,
                'maintenance/status': self._status,
                'maintenance/alarm': self._alarm,
                'kv/range': self._range,
                'kv/put': self._put,
            }.get(path)
            if handler is None:
                return None
            return handler(member_id, body)

    def _members_payload(self, member_id, extra=None):
        out = {'header': self.header(member_id), 'members': [self.member_json(m) for m in self.members]}
        out.update(extra or {})
        return out

    def _member_list(self, member_id, body):
        return self._members_payload(member_id)

    @staticmethod
    def _parse_id(body):
        try:
            return int(body.get('ID'))
        except (TypeError, ValueError):
            raise StandinError(3, 'bad ID')

    def _member_add(self, member_id, body):
        self.add_calls += 1
        if self.add_unhealthy > 0:
            self.add_unhealthy -= 1
            raise StandinError(14, 'etcdserver: unhealthy cluster')
        urls = body.get('peerURLs') or []
        if not urls:
            raise StandinError(3, 'etcdserver: member peer URL not given')
        for member in self.members:
            if set(urls) & set(member['peerURLs']):
                raise StandinError(9, 'etcdserver: Peer URLs already exists')
        learner = bool(body.get('isLearner'))
        if learner and any(m['isLearner'] for m in self.members):
            raise StandinError(9, 'etcdserver: too many learner members in cluster')
        member = {'ID': self.new_id(), 'name': '', 'peerURLs': list(urls), 'clientURLs': [], 'isLearner': learner}
        self.members.append(member)
        self.raft_index += 1
        return self._members_payload(member_id, {'member': self.member_json(member)})

    def _member_promote(self, member_id, body):
        self.promote_calls += 1
        member = self.find(self._parse_id(body))
        if member is None:
            raise StandinError(5, 'etcdserver: member not found')
        if not member['isLearner']:
            raise StandinError(9, 'etcdserver: can only promote a learner member')
        if self.promote_not_ready > 0 or not member['name']:
            self.promote_not_ready = max(0, self.promote_not_ready - 1)
            raise StandinError(9, 'etcdserver: can only promote a learner member which is in sync with leader')
        member['isLearner'] = False
        self.raft_index += 1
        return self._members_payload(member_id)

    def _member_remove(self, member_id, body):
        member = self.find(self._parse_id(body))
        if member is None:
            raise StandinError(5, 'etcdserver: member not found')
        self.members.remove(member)
        self.raft_index += 1
        return self._members_payload(member_id)

    def _status(self, member_id, body):
        member = self.find(member_id)
        out = {'header': self.header(member_id), 'version': self.version, 'dbSize': str(len(self.db)),
               'leader': str(self.leader or 0), 'raftIndex': str(self.raft_index), 'raftTerm': '2',
               'raftAppliedIndex': str(self.raft_index), 'dbSizeInUse': str(len(self.db) // 2)}
        if member is not None and member['isLearner']:
            out['isLearner'] = True
        if member_id in self.unhealthy:
            out['errors'] = ['etcdserver: no leader']
        return out

    def _alarm(self, member_id, body):
        out = {'header': self.header(member_id)}
        if self.alarms:
            out['alarms'] = [{'memberID': str(mid), 'alarm': kind} for mid, kind in self.alarms]
        return out

    def _range(self, member_id, body):
        if member_id in self.unhealthy:
            raise StandinError(14, 'etcdserver: request timed out')
        if self.permission_denied:
            raise StandinError(7, 'etcdserver: permission denied')
        key = base64.b64decode(body.get('key', ''))
        out = {'header': self.header(member_id)}
        if key in self.kv:
            out['kvs'] = [{'key': body['key'], 'value': base64.b64encode(self.kv[key]).decode('ascii')}]
            out['count'] = '1'
        return out

    def _put(self, member_id, body):
        key = base64.b64decode(body.get('key', ''))
        self.kv[key] = base64.b64decode(body.get('value', ''))
        self.revision += 1
        return {'header': self.header(member_id)}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):  # keep pytest output quiet
        pass

    def _send_json(self, status, payload):
        data = json.dumps(payload).encode('utf-8')
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_error_json(self, code, message):
        self._send_json(GRPC_HTTP.get(code, 500), {'error': message, 'code': code, 'message': message})

    def do_POST(self):  # noqa: N802 (http.server naming)
        length = int(self.headers.get('Content-Length') or 0)
        raw = self.rfile.read(length) if length else b''
        try:
            body = json.loads(raw.decode('utf-8') or '{}')
        except ValueError:
            self._send_error_json(3, 'invalid character in JSON body')
            return
        path = self.path
        for prefix in ('/v3/', '/v3beta/'):
            if path.startswith(prefix):
                path = path[len(prefix):]
                break
        else:
            self._send_plain(404, b'Not Found\n')
            return
        cluster = self.server.cluster
        member_id = self.server.member_id
        if path in cluster.hangup:
            cluster.calls.append((member_id, path, body))
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if path == 'maintenance/snapshot':
            cluster.calls.append((member_id, path, body))
            self._stream_snapshot(cluster, member_id)
            return
        try:
            payload = cluster.handle(member_id, path, body)
        except StandinError as exc:
            self._send_error_json(exc.code, exc.message)
            return
        if payload is None:
            self._send_plain(404, b'Not Found\n')
            return
        self._send_json(200, payload)

    def _send_plain(self, status, data):
        self.send_response(status)
        self.send_header('Content-Type', 'text/plain; charset=utf-8')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _chunk(self, data):
        self.wfile.write(b'%x\r\n' % len(data) + data + b'\r\n')

    def _stream_snapshot(self, cluster, member_id):
        data = cluster.snapshot_bytes()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Transfer-Encoding', 'chunked')
        self.end_headers()
        piece = 1000
        offset = 0
        while offset < len(data):
            blob = data[offset:offset + piece]
            offset += len(blob)
            message = {'result': {'header': cluster.header(member_id), 'remaining_bytes': str(len(data) - offset),
                                  'blob': base64.b64encode(blob).decode('ascii')}}
            if not message['result']['remaining_bytes'] or message['result']['remaining_bytes'] == '0':
                del message['result']['remaining_bytes']
            line = json.dumps(message).encode('utf-8') + b'\n'
            # split lines across HTTP chunks at odd places to exercise the client's stream parser
            self._chunk(line[:333])
            self._chunk(line[333:])
            if cluster.snapshot_error_midway and offset >= 2 * piece:
                self._chunk(json.dumps({'error': {'grpc_code': 14, 'http_code': 503, 'message': 'etcdserver: server stopped',
                                                  'http_status': 'Service Unavailable'}}).encode('utf-8') + b'\n')
                break
        self.wfile.write(b'0\r\n\r\n')
        self.wfile.flush()


class _Server(ThreadingMixIn, HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class StandinServer(object):
    """One stand-in member serving on 127.0.0.1:<random port>."""

    def __init__(self, cluster, member_id, pki=None):
        self.cluster = cluster
        self.member_id = member_id
        self.httpd = _Server(('127.0.0.1', 0), _Handler)
        self.httpd.cluster = cluster
        self.httpd.member_id = member_id
        scheme = 'http'
        if pki:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(pki['server_cert'], pki['server_key'])
            context.load_verify_locations(pki['ca_cert'])
            context.verify_mode = ssl.CERT_REQUIRED
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            scheme = 'https'
        self.url = '%s://127.0.0.1:%d' % (scheme, self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={'poll_interval': 0.05})
        self.thread.daemon = True
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def dead_endpoint(scheme='https'):
    """URL of a local port where nothing listens (connection refused)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return '%s://127.0.0.1:%d' % (scheme, port)


def make_pki(directory):
    """CA, server (127.0.0.1/localhost) and client certificates, EC P-256, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def key():
        return ec.generate_private_key(ec.SECP256R1())

    def write_key(path, private_key):
        with open(path, 'wb') as handle:
            handle.write(private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))

    def write_cert(path, cert):
        with open(path, 'wb') as handle:
            handle.write(cert.public_bytes(serialization.Encoding.PEM))

    def name(common):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    ca_key = key()
    ca_cert = (x509.CertificateBuilder().subject_name(name('standin-etcd-ca')).issuer_name(name('standin-etcd-ca'))
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                            encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))

    def leaf(common, usage, sans):
        leaf_key = key()
        builder = (x509.CertificateBuilder().subject_name(name(common)).issuer_name(ca_cert.subject)
                   .public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                                data_encipherment=False, key_agreement=True, key_cert_sign=False, crl_sign=False,
                                                encipher_only=False, decipher_only=False), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False))
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return leaf_key, builder.sign(ca_key, hashes.SHA256())

    server_key, server_cert = leaf('standin-etcd-server', ExtendedKeyUsageOID.SERVER_AUTH,
                                   [x509.DNSName('localhost'), x509.IPAddress(ipaddress.ip_address('127.0.0.1'))])
    client_key, client_cert = leaf('standin-etcd-client', ExtendedKeyUsageOID.CLIENT_AUTH, [])
    other_ca_key = key()
    other_ca = (x509.CertificateBuilder().subject_name(name('unrelated-ca')).issuer_name(name('unrelated-ca'))
                .public_key(other_ca_key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(other_ca_key, hashes.SHA256()))

    paths = {
        'ca_cert': os.path.join(directory, 'ca.pem'),
        'server_cert': os.path.join(directory, 'server.pem'),
        'server_key': os.path.join(directory, 'server-key.pem'),
        'client_cert': os.path.join(directory, 'client.pem'),
        'client_key': os.path.join(directory, 'client-key.pem'),
        'other_ca_cert': os.path.join(directory, 'other-ca.pem'),
    }
    write_cert(paths['ca_cert'], ca_cert)
    write_cert(paths['server_cert'], server_cert)
    write_key(paths['server_key'], server_key)
    write_cert(paths['client_cert'], client_cert)
    write_key(paths['client_key'], client_key)
    write_cert(paths['other_ca_cert'], other_ca)
    return paths


def start_cluster(names, pki=None, seed=7):
    """A StandinCluster with one started voting member (and server) per name.

    Returns (cluster, {name: StandinServer}); member i gets peer URL
    https://10.9.0.<i+1>:2380 and its server's URL as client URL.
    """
    cluster = StandinCluster(seed=seed)
    servers = {}
    for index, name in enumerate(names):
        member_id = cluster.new_id()
        server = StandinServer(cluster, member_id, pki)
        cluster.add_member(name, ['https://10.9.0.%d:2380' % (index + 1)], [server.url], member_id=member_id)
        servers[name] = server
    return cluster, servers
