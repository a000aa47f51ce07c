# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# Talk to etcd's v3 JSON gateway (grpc-gateway) with the Python standard library only.
#
# etcd >= 3.4 serves its v3 API as JSON under ``/v3/`` on every client URL.  This
# file holds:
#
# * ``EtcdClient``: HTTPS (client certificate) calls with endpoint failover,
#   member list/add/promote/remove, status, alarms, a health probe and a
#   streaming, verified snapshot download;
# * pure decision logic (``plan_member``, ``quorum``, member ID parsing,
#   snapshot retention, snapshot verification) that needs no network;
# * ``run_member``, ``run_info`` and ``run_snapshot``: what the
#   ``etcd_member``, ``etcd_info`` and ``etcd_snapshot`` modules do, taking an
#   ``EtcdClient`` so tests can point them at a stand-in server.
#
# No Ansible imports: the modules only parse arguments and report.
#
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
import datetime
import hashlib
import http.client
import json
import os
import re
import socket
import ssl
import time

from urllib.parse import urlsplit


API_PREFIX = '/v3'
MAX_MEMBER_ID = (1 << 64) - 1
SHA256_SIZE = 32
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

# etcdserver error texts that decide what to do next.
MSG_LEARNER_NOT_READY = 'in sync with leader'
MSG_NOT_LEARNER = 'can only promote a learner member'
# etcd's strict reconfig check refuses a member add, changing nothing, while the
# leader has not been connected to every voting member for 5 s (for example just
# after a promotion).
MSG_UNHEALTHY = 'unhealthy cluster'

PROMOTE_RETRY_INTERVAL = 2.0
ADD_RETRY_INTERVAL = 1.0
ADD_RETRY_TIMEOUT = 30.0


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------

class EtcdError(Exception):
    """Something went wrong; ``str(error)`` is a message fit for a user."""

    def __init__(self, message, endpoint=None, path=None, http_status=None, code=None, details=None):
        super(EtcdError, self).__init__(message)
        self.message = message
        self.endpoint = endpoint
        self.path = path
        self.http_status = http_status
        self.code = code
        self.details = details or {}

    def __str__(self):
        return self.message


class EtcdUnreachableError(EtcdError):
    """No endpoint could answer (connection, TLS, timeout or "unavailable")."""


class EtcdRefusedError(EtcdError):
    """The requested change is unsafe or impossible; nothing was changed."""


class SnapshotVerificationError(EtcdError):
    """A snapshot file is truncated or its sha256 trailer does not match."""


class _TransportError(Exception):
    """Internal: a request failed below HTTP (connect, TLS, read)."""

    def __init__(self, reason, sent):
        super(_TransportError, self).__init__(reason)
        self.reason = reason
        self.sent = sent


# --------------------------------------------------------------------------
# Small pure helpers
# --------------------------------------------------------------------------

def quorum(voting_members):
    """Votes needed for a decision in a cluster of ``voting_members`` voters."""
    return int(voting_members) // 2 + 1


def _to_int(value, default=0):
    """The gateway sends 64-bit numbers as strings and leaves out zeros."""
    if value is None or value == '':
        return default
    if isinstance(value, bool):
        return int(value)
    return int(value)


def parse_member_id(value):
    """Return the possible integer IDs ``value`` may mean, most likely first.

    etcd prints member IDs in hex (``etcdctl member list``) while the JSON
    gateway returns decimal strings.  Accepted forms: an int, ``0x``-prefixed
    hex, hex containing a-f, or a string of digits.  A string of digits that is
    16 characters or shorter could be either form, so both readings are
    returned and the caller matches them against real members.
    """
    if isinstance(value, bool):
        raise ValueError('member id %r is not a number; give the hex ID etcdctl prints or the decimal ID' % (value,))
    if isinstance(value, int):
        candidates = [value]
    else:
        text = str(value).strip().lower()
        if text.startswith('0x'):
            digits = text[2:]
            if not digits or not re.match(r'^[0-9a-f]+$', digits):
                raise ValueError('member id %r is not valid hex; give it as etcdctl prints it, e.g. 8e9e05c52164694d' % (value,))
            candidates = [int(digits, 16)]
        elif re.match(r'^[0-9]+$', text):
            candidates = [int(text, 10)]
            if len(text) <= 16:
                candidates.append(int(text, 16))
        elif re.match(r'^[0-9a-f]+$', text):
            candidates = [int(text, 16)]
        else:
            raise ValueError('member id %r is neither hex (as etcdctl prints it) nor decimal (as the etcd API returns it)' % (value,))
    result = []
    for candidate in candidates:
        if 0 < candidate <= MAX_MEMBER_ID and candidate not in result:
            result.append(candidate)
    if not result:
        raise ValueError('member id %r is out of range; etcd member IDs are non-zero 64-bit numbers' % (value,))
    return result


def format_member_id(member_id):
    """(hex as etcdctl prints it, decimal string as the API returns it)."""
    member_id = int(member_id)
    return '%x' % member_id, str(member_id)


def normalize_url(url):
    return str(url).strip().rstrip('/')


def same_urls(first, second):
    return set(normalize_url(u) for u in first or []) == set(normalize_url(u) for u in second or [])


def normalize_member(raw):
    """Turn a gateway ``Member`` object into the dict used everywhere here.

    ``id_int`` is internal; ``public_member`` drops it before output.
    """
    member_id = _to_int(raw.get('ID', raw.get('id')))
    id_hex, id_dec = format_member_id(member_id)
    name = raw.get('name') or ''
    return {
        'id_int': member_id,
        'id': id_hex,
        'id_decimal': id_dec,
        'name': name,
        'peer_urls': [normalize_url(u) for u in raw.get('peerURLs') or []],
        'client_urls': [normalize_url(u) for u in raw.get('clientURLs') or []],
        'is_learner': bool(raw.get('isLearner', False)),
        # An added member has no name until its etcd process starts and joins.
        'started': bool(name),
    }


def public_member(member):
    if member is None:
        return None
    return dict((k, v) for k, v in member.items() if k != 'id_int')


def describe_member(member):
    if member.get('name'):
        return '%s (id %s)' % (member['name'], member['id'])
    return 'unstarted member %s (peer URLs %s)' % (member['id'], ', '.join(member['peer_urls']) or 'none')


def member_names(members):
    return ', '.join(m['name'] or ('<unstarted %s>' % m['id']) for m in members) or '(none)'


def find_members_by_id(members, value):
    """Members whose ID equals ``value`` read as hex or decimal."""
    candidates = parse_member_id(value)
    return [m for m in members if m['id_int'] in candidates]


def build_initial_cluster(members, name, peer_urls):
    """``--initial-cluster`` value a new member must start with.

    Every member contributes ``name=peerURL`` for each peer URL; the member
    whose peer URLs equal ``peer_urls`` (the new one, still unnamed) is given
    ``name``.  Unstarted members other than the new one have no name and are
    left out (``plan_member`` refuses to add while such a member exists).
    """
    entries = []
    seen_new = False
    for member in members:
        if same_urls(member['peer_urls'], peer_urls):
            member_name = name
            seen_new = True
        else:
            member_name = member['name']
        if not member_name:
            continue
        for url in member['peer_urls']:
            entries.append('%s=%s' % (member_name, url))
    if not seen_new:
        for url in peer_urls:
            entries.append('%s=%s' % (name, normalize_url(url)))
    return ','.join(entries)


# --------------------------------------------------------------------------
# Membership decisions
# --------------------------------------------------------------------------

def _refuse(reason, member=None, found=None):
    return {'action': 'refuse', 'reason': reason, 'member': member, 'found': found}


def resolve_member(members, name=None, member_id=None, peer_urls=None):
    """Find the one member meant by name (exact) and/or id; never substring.

    Returns ``(member or None, refusal reason or None)``.  ``peer_urls`` lets
    a name find a member that was added but never started (it has no name
    yet) when its peer URLs match exactly.
    """
    if member_id is not None and str(member_id).strip() != '':
        matches = find_members_by_id(members, member_id)
        if len(matches) > 1:
            return None, ('member id %s is ambiguous: read as hex and as decimal it matches %s; '
                          'give it with a 0x prefix or as the full decimal ID' % (member_id, ' and '.join(describe_member(m) for m in matches)))
        if not matches:
            return None, None
        member = matches[0]
        if name and member['name'] and member['name'] != name:
            return None, ('member id %s belongs to member %s, not to %s; give a matching name and id, or only one of them'
                          % (member_id, member['name'], name))
        return member, None
    if name:
        matches = [m for m in members if m['name'] == name]
        if len(matches) > 1:
            return None, ('%d etcd members are named %s (%s); give the id of the one to act on'
                          % (len(matches), name, ', '.join(m['id'] for m in matches)))
        if matches:
            return matches[0], None
        if peer_urls:
            unstarted = [m for m in members if not m['started'] and same_urls(m['peer_urls'], peer_urls)]
            if len(unstarted) == 1:
                return unstarted[0], None
    return None, None


def plan_member(members, name=None, peer_urls=None, state='present', member_id=None, healthy=None, must_exist=False):
    """Decide what to do; pure, no network.

    ``members``: normalized members (``normalize_member``).
    ``healthy``: for ``state=absent``, a dict member ``id_int`` -> bool telling
    which members answered a health probe; members missing from it count as
    unhealthy.

    Returns a dict with ``action`` one of ``none``, ``pending_start``, ``add``,
    ``promote``, ``remove``, ``refuse``; plus ``member``, ``reason`` and
    ``found``.

    Adding always adds a *learner*: a learner does not vote, so adding it
    never changes the quorum.  The later promotion grows the voting set by one
    member that etcd has just confirmed is in sync with the leader.
    """
    if state == 'present':
        return _plan_present(members, name, peer_urls)
    if state == 'absent':
        return _plan_absent(members, name, peer_urls, member_id, healthy, must_exist)
    raise ValueError('state must be present or absent, not %r' % (state,))


def _plan_present(members, name, peer_urls):
    if not name or not peer_urls:
        raise ValueError('state=present needs name and peer_urls')
    wanted = set(normalize_url(u) for u in peer_urls)
    named = [m for m in members if m['name'] == name]
    if len(named) > 1:
        return _refuse('%d etcd members are named %s (ids %s); remove the extra ones with state=absent and id first'
                       % (len(named), name, ', '.join(m['id'] for m in named)), found=True)
    if named:
        member = named[0]
        if not same_urls(member['peer_urls'], wanted):
            return _refuse('etcd member %s (id %s) has peer URLs %s, not %s; remove it first with state=absent, then add it again'
                           % (name, member['id'], ', '.join(member['peer_urls']), ', '.join(sorted(wanted))), member=member, found=True)
        if member['is_learner']:
            return {'action': 'promote', 'member': member, 'reason': 'member %s is a learner; promote it once it is in sync' % name,
                    'found': True}
        return {'action': 'none', 'member': member, 'reason': 'member %s is a voting member with the wanted peer URLs' % name,
                'found': True}
    overlapping = [m for m in members if wanted & set(m['peer_urls'])]
    for member in overlapping:
        if member['started']:
            return _refuse('peer URL(s) %s already belong to etcd member %s (id %s); use other peer URLs or remove that member first'
                           % (', '.join(sorted(wanted & set(member['peer_urls']))), member['name'], member['id']), member=member, found=False)
        if not same_urls(member['peer_urls'], wanted):
            return _refuse('unstarted etcd member %s has peer URLs %s, overlapping the wanted %s; remove it first with state=absent and id=%s'
                           % (member['id'], ', '.join(member['peer_urls']), ', '.join(sorted(wanted)), member['id']), member=member, found=False)
        return {'action': 'pending_start', 'member': member, 'found': True,
                'reason': 'member %s was added (id %s) but its etcd has not started yet; start it with the returned initial_cluster'
                          % (name, member['id'])}
    pending = [m for m in members if not m['started'] or m['is_learner']]
    if pending:
        return _refuse('cannot add etcd member %s while %s is pending; finish or remove pending member %s first'
                       % (name, describe_member(pending[0]), pending[0]['name'] or pending[0]['id']), member=pending[0], found=False)
    return {'action': 'add', 'member': None, 'found': False, 'reason': 'member %s does not exist; add it as a learner' % name}


def _plan_absent(members, name, peer_urls, member_id, healthy, must_exist):
    if not name and (member_id is None or str(member_id).strip() == ''):
        raise ValueError('state=absent needs name or id')
    member, reason = resolve_member(members, name=name, member_id=member_id, peer_urls=peer_urls)
    if reason:
        return _refuse(reason, found=None)
    if member is None:
        wanted = name if name else 'with id %s' % member_id
        if must_exist:
            return _refuse('no etcd member named %s; members are: %s' % (wanted, member_names(members)) if name
                           else 'no etcd member %s; members are: %s' % (wanted, member_names(members)), found=False)
        return {'action': 'none', 'member': None, 'found': False, 'reason': 'no etcd member %s; nothing to remove' % (name or wanted)}
    if len(members) <= 1:
        return _refuse('refusing to remove %s: it is the last member of the cluster' % describe_member(member), member=member, found=True)
    if not member['is_learner']:
        healthy = healthy or {}
        voters = [m for m in members if not m['is_learner']]
        remaining = [m for m in voters if m['id_int'] != member['id_int']]
        if not remaining:
            return _refuse('refusing to remove %s: it is the last voting member; promote another member first' % describe_member(member),
                           member=member, found=True)
        healthy_now = [m for m in voters if healthy.get(m['id_int'])]
        healthy_after = [m for m in remaining if healthy.get(m['id_int'])]
        unhealthy_after = [m for m in remaining if not healthy.get(m['id_int'])]
        if len(healthy_now) < quorum(len(voters)):
            return _refuse('refusing to remove %s: the cluster has no quorum now (%d of %d voting members healthy, %d needed); '
                           'repair unhealthy members (%s) first' % (describe_member(member), len(healthy_now), len(voters), quorum(len(voters)),
                                                                    member_names([m for m in voters if not healthy.get(m['id_int'])])),
                           member=member, found=True)
        if len(healthy_after) < quorum(len(remaining)):
            return _refuse('refusing to remove %s: afterwards %d of %d voting members would be healthy but quorum needs %d; '
                           'repair unhealthy members (%s) first' % (describe_member(member), len(healthy_after), len(remaining),
                                                                    quorum(len(remaining)), member_names(unhealthy_after)),
                           member=member, found=True)
    return {'action': 'remove', 'member': member, 'found': True, 'reason': 'remove %s' % describe_member(member)}


# --------------------------------------------------------------------------
# Snapshots: verification and retention
# --------------------------------------------------------------------------

class _TrailerHasher(object):
    """sha256 of a byte stream except its last 32 bytes, which it keeps aside."""

    def __init__(self):
        self._db_hash = hashlib.sha256()
        self._file_hash = hashlib.sha256()
        self._tail = b''
        self.size = 0

    def update(self, data):
        if not data:
            return
        self.size += len(data)
        self._file_hash.update(data)
        tail = self._tail + data
        if len(tail) > SHA256_SIZE:
            self._db_hash.update(tail[:-SHA256_SIZE])
            tail = tail[-SHA256_SIZE:]
        self._tail = tail

    def verify(self, what):
        """Raise SnapshotVerificationError unless the trailer matches."""
        if self.size <= SHA256_SIZE:
            raise SnapshotVerificationError('%s is %d bytes: too short to be an etcd snapshot; take a new snapshot' % (what, self.size))
        if self.size % 512 != SHA256_SIZE:
            raise SnapshotVerificationError('%s is %d bytes, which is not a database plus a 32-byte sha256 trailer (size mod 512 is %d, expected 32); '
                                            'it is truncated or not an etcd snapshot; take a new snapshot' % (what, self.size, self.size % 512))
        expected = self._tail
        actual = self._db_hash.digest()
        if expected != actual:
            raise SnapshotVerificationError('%s is corrupt: the sha256 of its database is %s but its trailer says %s; take a new snapshot'
                                            % (what, _hex(actual), _hex(expected)))
        return {'size': self.size, 'sha256': self._file_hash.hexdigest(), 'db_sha256': _hex(expected)}


def _hex(data):
    return codecs.encode(data, 'hex').decode('ascii')


def verify_snapshot_file(path, chunk_size=1024 * 1024):
    """Check an etcd snapshot file's sha256 trailer.

    Returns ``{'size', 'sha256' (whole file), 'db_sha256' (the trailer)}`` or
    raises ``SnapshotVerificationError``.
    """
    hasher = _TrailerHasher()
    try:
        with open(path, 'rb') as handle:
            while True:
                data = handle.read(chunk_size)
                if not data:
                    break
                hasher.update(data)
    except (IOError, OSError) as exc:
        raise SnapshotVerificationError('cannot read snapshot file %s: %s' % (path, exc))
    return hasher.verify('snapshot file %s' % path)


def _snapshot_re(prefix):
    return re.compile(r'^%s-(\d{8}T\d{6}Z)-rev(\d+)\.db$' % re.escape(prefix))


def snapshot_file_name(prefix, when, revision):
    """``<prefix>-<UTC YYYYmmddTHHMMSSZ>-rev<revision>.db``"""
    if when.tzinfo is not None:
        when = when.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return '%s-%s-rev%d.db' % (prefix, when.strftime('%Y%m%dT%H%M%SZ'), int(revision))


def list_snapshots(directory, prefix):
    """Snapshot files made by this code in ``directory``, newest first.

    Only names of the exact form ``snapshot_file_name`` writes count, so
    unrelated files that merely share the prefix are never touched.
    """
    pattern = _snapshot_re(prefix)
    found = []
    for entry in os.listdir(directory):
        match = pattern.match(entry)
        full = os.path.join(directory, entry)
        if match and os.path.isfile(full) and not os.path.islink(full):
            found.append((match.group(1), int(match.group(2)), entry))
    found.sort(reverse=True)
    return [entry for _stamp, _rev, entry in found]


def apply_retention(directory, prefix, keep, check_mode=False, pending=None):
    """Keep the newest ``keep`` snapshots, delete older ones.

    ``pending``: name of a snapshot about to be written (check mode) that
    counts as the newest.  Returns the list of deleted (or, in check mode,
    to-be-deleted) paths.
    """
    keep = int(keep)
    if keep < 0:
        raise ValueError('keep must be 0 or more, not %d' % keep)
    names = list_snapshots(directory, prefix)
    if pending and pending not in names:
        names.insert(0, pending)
        names.sort(key=_sort_key_for(prefix), reverse=True)
    doomed = [n for n in names[keep:] if n != pending]
    deleted = []
    for name in doomed:
        path = os.path.join(directory, name)
        if not check_mode:
            try:
                os.unlink(path)
            except OSError as exc:
                raise EtcdError('cannot delete old snapshot %s: %s; fix its permissions or delete it by hand' % (path, exc),
                                details={'deleted': deleted})
        deleted.append(path)
    return deleted


def _sort_key_for(prefix):
    pattern = _snapshot_re(prefix)

    def key(name):
        match = pattern.match(name)
        if not match:
            return ('', -1, name)
        return (match.group(1), int(match.group(2)), name)
    return key


# --------------------------------------------------------------------------
# HTTP client
# --------------------------------------------------------------------------

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
            'db_size': _to_int(data.get('dbSize')),
            'db_size_in_use': _to_int(data.get('dbSizeInUse'), None),
            'leader_int': _to_int(data.get('leader')),
            'raft_index': _to_int(data.get('raftIndex')),
            'raft_term': _to_int(data.get('raftTerm')),
            'raft_applied_index': _to_int(data.get('raftAppliedIndex'), None),
            'errors': list(data.get('errors') or []),
            'is_learner': bool(data.get('isLearner', False)),
            'member_id_int': _to_int(header.get('member_id')),
            'cluster_id': format_member_id(_to_int(header.get('cluster_id')))[0] if header.get('cluster_id') else None,
            'revision': _to_int(header.get('revision')),
        }

    def revision(self, endpoint=None):
        """Current revision, from a range call's header."""
        data = self.call('kv/range', {'key': _b64('health'), 'count_only': True}, endpoint=endpoint)
        return _to_int((data.get('header') or {}).get('revision'))

    def alarms(self, endpoint=None):
        data = self.call('maintenance/alarm', {'action': 'GET'}, endpoint=endpoint)
        result = []
        for alarm in data.get('alarms') or []:
            kind = alarm.get('alarm', 0)
            if isinstance(kind, int):
                kind = ALARM_NAMES.get(kind, str(kind))
            if kind == 'NONE':
                continue
            id_hex, id_dec = format_member_id(_to_int(alarm.get('memberID')))
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
        tmp_path = os.path.join(directory, '.%s.part' % base)
        hasher = _TrailerHasher()
        try:
            if os.path.lexists(tmp_path):  # left over from an interrupted run
                os.unlink(tmp_path)
            fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_NOFOLLOW', 0), 0o600)
        except OSError as exc:
            raise EtcdError('cannot create %s: %s; check that dest_dir exists and is writable' % (tmp_path, exc))
        try:
            with os.fdopen(fd, 'wb') as handle:
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
                        result = message.get('result', message)
                        blob = result.get('blob')
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
                handle.flush()
                os.fsync(handle.fileno())
            info = hasher.verify('the snapshot streamed from %s' % endpoint)
            os.rename(tmp_path, dest_path)
        except BaseException:
            try:
                os.unlink(tmp_path)
            except OSError:
                pass
            raise
        return info


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


# --------------------------------------------------------------------------
# What the modules do
# --------------------------------------------------------------------------

def connection_argument_spec():
    """Options shared by all etcd modules (doc fragment ironstone.k8s.etcd)."""
    return dict(
        endpoints=dict(type='list', elements='str', default=list(DEFAULT_ENDPOINTS)),
        ca_file=dict(type='path'),
        cert_file=dict(type='path'),
        key_file=dict(type='path'),
        timeout=dict(type='int', default=10),
    )


def client_from_params(params):
    if params.get('timeout') is not None and params['timeout'] <= 0:
        raise EtcdError('timeout must be a positive number of seconds, not %s' % params['timeout'])
    try:
        client = EtcdClient(params['endpoints'], ca_file=params.get('ca_file'), cert_file=params.get('cert_file'),
                            key_file=params.get('key_file'), timeout=params.get('timeout') or 10)
    except ValueError as exc:
        raise EtcdError(str(exc))
    # Load certificates now so a bad path fails with a clear message.
    if any(e.startswith('https://') for e in client.endpoints):
        client.ssl_context()
    return client


def run_member(client, params, check_mode=False, sleep=time.sleep, clock=time.monotonic):
    """Make the membership match ``params``; return the module result."""
    state = params.get('state') or 'present'
    name = params.get('name')
    peer_urls = [normalize_url(u) for u in params.get('peer_urls') or []]
    member_id = params.get('id')
    if state == 'present' and (not name or not peer_urls):
        raise EtcdError('state=present needs name and peer_urls')
    if state == 'absent' and not name and not member_id:
        raise EtcdError('state=absent needs name or id')
    if member_id:
        try:
            parse_member_id(member_id)
        except ValueError as exc:
            raise EtcdError(str(exc))

    members = client.members()
    healthy = None
    health_errors = {}
    if state == 'absent':
        target, reason = resolve_member(members, name=name, member_id=member_id, peer_urls=peer_urls)
        if target is not None and not reason and not target['is_learner'] and len(members) > 1:
            healthy = {}
            for member in members:
                if member['is_learner']:
                    continue
                ok, error = client.member_healthy(member)
                healthy[member['id_int']] = ok
                if not ok:
                    health_errors[member['name'] or member['id']] = error
    plan = plan_member(members, name=name, peer_urls=peer_urls, state=state, member_id=member_id,
                       healthy=healthy, must_exist=bool(params.get('must_exist')))

    result = {
        'changed': False,
        'action': plan['action'],
        'found': bool(plan.get('found')),
        'member': public_member(plan.get('member')),
        'members': [public_member(m) for m in members],
        'initial_cluster': None,
        'initial_cluster_state': None,
        'msg': plan.get('reason'),
    }
    if plan['action'] == 'refuse':
        details = dict(result)
        if health_errors:
            details['health_errors'] = health_errors
        raise EtcdRefusedError(plan['reason'], details=details)

    if state == 'present':
        result['initial_cluster_state'] = 'existing'

    if plan['action'] == 'add':
        result['changed'] = True
        if check_mode:
            new = {'id': None, 'id_decimal': None, 'name': name, 'peer_urls': peer_urls, 'client_urls': [],
                   'is_learner': True, 'started': False}
            result['member'] = new
            result['initial_cluster'] = build_initial_cluster(members, name, peer_urls)
            result['msg'] = 'would add %s as a learner' % name
            return result
        new, after, attempts = _add_when_ready(client, peer_urls, sleep, clock)
        result['attempts'] = attempts
        result['member'] = public_member(new)
        result['members'] = [public_member(m) for m in after]
        result['initial_cluster'] = build_initial_cluster(after, name, peer_urls)
        result['msg'] = ('added %s as learner %s; start etcd on it with initial_cluster_state=existing and the returned initial_cluster, '
                         'then run this again to promote it' % (name, new['id']))
        return result

    if plan['action'] == 'pending_start':
        result['initial_cluster'] = build_initial_cluster(members, name, peer_urls)
        return result

    if plan['action'] == 'none':
        if state == 'present':
            result['initial_cluster'] = build_initial_cluster(members, name, peer_urls)
        return result

    if plan['action'] == 'promote':
        result['changed'] = True
        member = plan['member']
        if check_mode:
            result['msg'] = 'would promote learner %s once it is in sync with the leader' % describe_member(member)
            result['initial_cluster'] = build_initial_cluster(members, name, peer_urls)
            return result
        changed, after, attempts = _promote_when_ready(client, member, int(params.get('wait_timeout') or 0), sleep, clock)
        result['changed'] = changed
        result['attempts'] = attempts
        result['members'] = [public_member(m) for m in after]
        result['member'] = public_member(_by_id(after, member['id_int']) or dict(member, is_learner=False))
        result['initial_cluster'] = build_initial_cluster(after, name, peer_urls)
        result['msg'] = 'promoted %s to a voting member' % describe_member(member) if changed else \
            '%s was already promoted by someone else' % describe_member(member)
        return result

    if plan['action'] == 'remove':
        result['changed'] = True
        member = plan['member']
        if check_mode:
            result['msg'] = 'would remove %s' % describe_member(member)
            result['members'] = [public_member(m) for m in members if m['id_int'] != member['id_int']]
            return result
        after = client.member_remove(member['id_int'], avoid=member['client_urls'])
        if not after:
            after = [m for m in client.members() if m['id_int'] != member['id_int']]
        result['members'] = [public_member(m) for m in after]
        result['msg'] = 'removed %s' % describe_member(member)
        return result

    raise EtcdError('internal error: unknown action %s' % plan['action'])


def _by_id(members, member_id):
    for member in members:
        if member['id_int'] == member_id:
            return member
    return None


def _add_when_ready(client, peer_urls, sleep, clock):
    """Add a learner, retrying while etcd refuses with "unhealthy cluster".

    That refusal comes from etcd's strict reconfig check before anything is
    proposed, so trying again is safe. Returns (new member, members after, attempts).
    """
    deadline = clock() + ADD_RETRY_TIMEOUT
    attempts = 0
    while True:
        attempts += 1
        try:
            new, after = client.member_add(peer_urls, learner=True)
            return new, after, attempts
        except EtcdUnreachableError:
            raise
        except EtcdError as exc:
            if MSG_UNHEALTHY not in exc.message or clock() >= deadline:
                raise
        sleep(ADD_RETRY_INTERVAL)


def _promote_when_ready(client, member, wait_timeout, sleep, clock):
    """Promote ``member``, retrying while etcd says it is not in sync yet.

    Returns (changed, members after, attempts).
    """
    deadline = clock() + max(0, wait_timeout)
    attempts = 0
    while True:
        attempts += 1
        try:
            after = client.member_promote(member['id_int'])
            if not after:
                after = client.members()
            return True, after, attempts
        except EtcdError as exc:
            retryable = MSG_LEARNER_NOT_READY in exc.message or isinstance(exc, EtcdUnreachableError)
            if not retryable and MSG_NOT_LEARNER in exc.message:
                current = client.members()
                now = _by_id(current, member['id_int'])
                if now is not None and not now['is_learner']:
                    return False, current, attempts
                raise
            if not retryable:
                raise
            remaining = deadline - clock()
            if remaining <= 0:
                raise EtcdError('learner %s did not get in sync with the leader within %ds (%d promote attempts); check that etcd runs on '
                                'that node, that it can reach the peer URLs of the other members, and its logs; raise wait_timeout for a '
                                'large database. Last answer: %s' % (describe_member(member), wait_timeout, attempts, exc.message),
                                details={'attempts': attempts})
            sleep(min(PROMOTE_RETRY_INTERVAL, remaining))


def run_info(client, params):
    """Everything ``etcd_info`` reports."""
    fail_on_unreachable = params.get('fail_on_unreachable', True)
    endpoints = []
    statuses = {}
    for endpoint in client.endpoints:
        entry = {'endpoint': endpoint, 'reachable': False, 'healthy': False, 'error': None, 'version': None, 'db_size': None,
                 'db_size_in_use': None, 'is_leader': False, 'is_learner': False, 'raft_index': None, 'raft_term': None,
                 'raft_applied_index': None, 'errors': [], 'member_id': None, 'member_name': None, 'revision': None}
        try:
            status = client.status(endpoint)
        except EtcdError as exc:
            entry['error'] = exc.message
            endpoints.append(entry)
            continue
        statuses[endpoint] = status
        entry.update({
            'reachable': True,
            'version': status['version'],
            'db_size': status['db_size'],
            'db_size_in_use': status['db_size_in_use'],
            'is_leader': bool(status['leader_int']) and status['leader_int'] == status['member_id_int'],
            'is_learner': status['is_learner'],
            'raft_index': status['raft_index'],
            'raft_term': status['raft_term'],
            'raft_applied_index': status['raft_applied_index'],
            'errors': status['errors'],
            'member_id': format_member_id(status['member_id_int'])[0] if status['member_id_int'] else None,
            'revision': status['revision'],
        })
        healthy, error = client.health(endpoint)
        entry['healthy'] = healthy
        entry['error'] = error
        endpoints.append(entry)

    if not statuses:
        message = 'no etcd endpoint is reachable (%s); check that etcd runs and that endpoints, ca_file, cert_file and key_file are right' % (
            '; '.join('%s: %s' % (e['endpoint'], e['error']) for e in endpoints))
        if fail_on_unreachable:
            raise EtcdUnreachableError(message, details={'endpoints': endpoints})
        return {'changed': False, 'healthy': False, 'members': [], 'endpoints': endpoints, 'leader': None, 'alarms': [],
                'quorum': None, 'cluster_id': None, 'msg': message}

    reachable = list(statuses)
    members = []
    try:
        members = client.members(reachable[0]) if len(reachable) == 1 else _members_from(client, reachable)
    except EtcdError as exc:
        return _partial_info(endpoints, statuses, 'cannot list members: %s' % exc.message, fail_on_unreachable)
    by_id = dict((m['id_int'], m) for m in members)
    for entry in endpoints:
        if entry['member_id']:
            member = by_id.get(int(entry['member_id'], 16))
            entry['member_name'] = member['name'] if member else None

    alarms = []
    alarm_error = None
    try:
        alarms = _alarms_from(client, reachable)
    except EtcdError as exc:
        alarm_error = exc.message
    for alarm in alarms:
        member = by_id.get(int(alarm['member_id'], 16))
        alarm['member_name'] = member['name'] if member else None

    leader = None
    for status in statuses.values():
        if status['leader_int']:
            member = by_id.get(status['leader_int'])
            id_hex, id_dec = format_member_id(status['leader_int'])
            leader = {'id': id_hex, 'id_decimal': id_dec, 'name': member['name'] if member else None}
            break

    voters = [m for m in members if not m['is_learner']]
    healthy_ids = set()
    for entry in endpoints:
        if entry['healthy'] and entry['member_id']:
            healthy_ids.add(int(entry['member_id'], 16))
    healthy_voters = [m for m in voters if m['id_int'] in healthy_ids]
    quorum_info = {
        'voting_members': len(voters),
        'learners': len(members) - len(voters),
        'needed': quorum(len(voters)) if voters else 0,
        'healthy_voting_members': len(healthy_voters),
        'fault_tolerance': max(0, len(voters) - quorum(len(voters))) if voters else 0,
        'ok': bool(voters) and len(healthy_voters) >= quorum(len(voters)),
    }
    all_healthy = all(e['healthy'] for e in endpoints) and not alarms and alarm_error is None
    result = {
        'changed': False,
        'healthy': all_healthy,
        'members': [public_member(m) for m in members],
        'endpoints': endpoints,
        'leader': leader,
        'alarms': alarms,
        'quorum': quorum_info,
        'cluster_id': next((s['cluster_id'] for s in statuses.values() if s['cluster_id']), None),
    }
    if alarm_error:
        result['alarm_error'] = alarm_error
    return result


def _members_from(client, reachable):
    saved = client.endpoints
    client.endpoints = reachable
    try:
        return client.members()
    finally:
        client.endpoints = saved


def _alarms_from(client, reachable):
    saved = client.endpoints
    client.endpoints = reachable
    try:
        return client.alarms()
    finally:
        client.endpoints = saved


def _partial_info(endpoints, statuses, message, fail_on_unreachable):
    if fail_on_unreachable:
        raise EtcdUnreachableError(message, details={'endpoints': endpoints})
    return {'changed': False, 'healthy': False, 'members': [], 'endpoints': endpoints, 'leader': None, 'alarms': [],
            'quorum': None, 'cluster_id': next((s['cluster_id'] for s in statuses.values() if s['cluster_id']), None), 'msg': message}


def run_snapshot(client, params, check_mode=False, now=None):
    """Take, verify and rotate a snapshot; return the module result."""
    dest_dir = params['dest_dir']
    prefix = params.get('prefix') or 'etcd-snapshot'
    keep = int(params.get('keep') if params.get('keep') is not None else 5)
    if keep < 1:
        raise EtcdError('keep must be 1 or more (the new snapshot is always kept), not %d' % keep)
    if '/' in prefix or prefix.startswith('.') or '\0' in prefix:
        raise EtcdError('prefix %r is not a plain file name start: it must not contain "/" or start with "."; use e.g. etcd-snapshot' % prefix)
    if not os.path.isdir(dest_dir):
        raise EtcdError('dest_dir %s does not exist or is not a directory; create it first (mode 0700, snapshots hold all cluster data)'
                        % dest_dir)
    if not check_mode and not os.access(dest_dir, os.W_OK | os.X_OK):
        raise EtcdError('dest_dir %s is not writable by this user; fix its ownership or run with become' % dest_dir)

    failures = []
    chosen = None
    status = None
    for endpoint in client.endpoints:
        healthy, error = client.health(endpoint)
        if not healthy:
            failures.append('%s: %s' % (endpoint, error))
            continue
        try:
            status = client.status(endpoint)
        except EtcdError as exc:
            failures.append('%s: %s' % (endpoint, exc.message))
            continue
        chosen = endpoint
        break
    if chosen is None:
        raise EtcdUnreachableError('no healthy etcd endpoint to take a snapshot from (%s)' % '; '.join(failures))

    when = now or datetime.datetime.now(datetime.timezone.utc)
    name = snapshot_file_name(prefix, when, status['revision'])
    path = os.path.join(dest_dir, name)
    if os.path.exists(path):
        raise EtcdError('snapshot file %s already exists; wait a second and run again' % path)
    result = {'changed': True, 'path': path, 'endpoint': chosen, 'revision': status['revision'], 'size': None, 'sha256': None,
              'db_sha256': None, 'deleted': []}
    if check_mode:
        result['deleted'] = apply_retention(dest_dir, prefix, keep, check_mode=True, pending=name)
        result['msg'] = 'would save a snapshot of %s to %s' % (chosen, path)
        return result
    info = client.snapshot(chosen, path)
    result.update(info)
    # pending=name: the new snapshot is never deleted, even if older files carry later timestamps
    result['deleted'] = apply_retention(dest_dir, prefix, keep, pending=name)
    result['msg'] = 'saved a verified snapshot of %s (revision %d) to %s' % (chosen, status['revision'], path)
    return result


def run_snapshot_info(params):
    """Check a snapshot file that is already on disk; return the module result.

    Raises ``SnapshotVerificationError`` for a file that is missing, truncated
    or whose sha256 trailer does not match its database, and ``EtcdError`` for
    a path that is not a regular file.
    """
    path = params['path']
    if os.path.isdir(path):
        raise EtcdError('snapshot path %s is a directory; give the path of one snapshot file (a .db file made by etcd_snapshot or '
                        'etcdctl snapshot save)' % path)
    if os.path.exists(path) and not os.path.isfile(path):
        raise EtcdError('snapshot path %s is not a regular file; give the path of one snapshot file' % path)
    if not os.path.exists(path):
        raise SnapshotVerificationError('snapshot file %s does not exist; give the path of a snapshot made by etcd_snapshot or '
                                        'etcdctl snapshot save' % path)
    info = verify_snapshot_file(path)
    match = re.search(r'-rev(\d+)\.db$', os.path.basename(path))
    result = {
        'changed': False,
        'path': path,
        'valid': True,
        'size': info['size'],
        'sha256': info['sha256'],
        'db_sha256': info['db_sha256'],
        'revision': int(match.group(1)) if match else None,
        'msg': 'snapshot file %s is intact: its database matches its sha256 trailer %s' % (path, info['db_sha256']),
    }
    return result
