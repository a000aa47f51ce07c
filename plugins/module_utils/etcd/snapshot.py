# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# etcd snapshot files: sha256 trailer verification, file names and retention.
#
# A snapshot is the bolt database followed by the 32-byte sha256 of the
# database. Files are named ``<prefix>-<UTC YYYYmmddTHHMMSSZ>-rev<revision>.db``
# (``SNAPSHOT_NAME_PATTERN``); retention only ever deletes files of that form.

import codecs
import datetime
import hashlib
import os
import re

from ansible_collections.ironstone.k8s.plugins.module_utils.etcd.errors import EtcdError, SnapshotVerificationError

SHA256_SIZE = 32
# ``%s`` is the escaped prefix; group 1 is the UTC timestamp, group 2 the revision.
SNAPSHOT_NAME_PATTERN = r'^%s-(\d{8}T\d{6}Z)-rev(\d+)\.db$'


class TrailerHasher(object):
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
    hasher = TrailerHasher()
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


def snapshot_name_re(prefix):
    return re.compile(SNAPSHOT_NAME_PATTERN % re.escape(prefix))


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
    pattern = snapshot_name_re(prefix)
    found = []
    for entry in os.listdir(directory):
        match = pattern.match(entry)
        full = os.path.join(directory, entry)
        if match and os.path.isfile(full) and not os.path.islink(full):
            found.append((match.group(1), int(match.group(2)), entry))
    found.sort(reverse=True)
    return [entry for _stamp, _rev, entry in found]


def expired_snapshots(names, prefix, keep, pending=None):
    """The snapshot names retention deletes from ``names``: all but the newest ``keep``, newest first.

    Pure (no file system): ``names`` are file names; those not of the form
    ``snapshot_file_name`` writes for ``prefix`` are ignored. ``pending``, a
    snapshot about to be written, counts among the newest and is never returned.
    """
    keep = int(keep)
    if keep < 0:
        raise ValueError('keep must be 0 or more, not %d' % keep)
    pattern = snapshot_name_re(prefix)
    candidates = set(name for name in names if pattern.match(name))
    if pending:
        candidates.add(pending)
    ordered = sorted(candidates, key=_sort_key_for(prefix), reverse=True)
    return [name for name in ordered[keep:] if name != pending]


def apply_retention(directory, prefix, keep, check_mode=False, pending=None):
    """Keep the newest ``keep`` snapshots, delete older ones.

    ``pending``: name of a snapshot about to be written (check mode) that
    counts as the newest.  Returns the list of deleted (or, in check mode,
    to-be-deleted) paths.
    """
    doomed = expired_snapshots(list_snapshots(directory, prefix), prefix, keep, pending=pending)
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
    pattern = snapshot_name_re(prefix)

    def key(name):
        match = pattern.match(name)
        if not match:
            return ('', -1, name)
        return (match.group(1), int(match.group(2)), name)
    return key
