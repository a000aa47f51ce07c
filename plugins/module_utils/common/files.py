# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# File helpers shared by the collection's module_utils: read a file that may be
# absent, and replace a file atomically (write a temporary file next to it,
# fsync, rename). Plain Python, no Ansible imports. Errors are the OSError the
# system raised; callers turn them into their own user-facing messages.

import errno
import os
import stat
import tempfile


def under_root(root, path):
    """``path`` (absolute, as on a host) inside the tree at ``root``; ``/`` for the host itself, a fixture tree in tests."""
    return os.path.join(root, path.lstrip('/'))


def read_if_exists(path, binary=True):
    """Content of ``path`` (bytes, or text with ``binary=False``), or None when nothing is there.

    "Nothing there" means the path or one of its parents does not exist (ENOENT,
    ENOTDIR). A dangling symbolic link counts as absent. Every other error
    (permissions, a directory, I/O) is raised.
    """
    try:
        with open(path, 'rb' if binary else 'r') as handle:
            return handle.read()
    except (IOError, OSError) as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        raise


def file_mode(path, default=None):
    """Permission bits of ``path`` (following links), or ``default`` when it cannot be stat'ed."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return default


class AtomicFile(object):
    """Context manager that replaces ``path`` with what is written inside the block.

    The content goes to a temporary file in the same directory, created with
    ``mode``. When the block ends without an exception the file is flushed,
    fsynced and renamed over ``path`` with ``rename`` (default ``os.replace``);
    when it raises, the temporary file is removed and ``path`` is untouched.

    ``tmp_path``: a fixed temporary name (created exclusively, never following
    a link; a leftover from an interrupted run is removed first) instead of a
    random ``.<name>.<random>.tmp``.
    """

    def __init__(self, path, mode, tmp_path=None, rename=os.replace):
        self.path = path
        self.mode = mode
        self.tmp_path = tmp_path
        self.rename = rename
        self._handle = None

    def open(self):
        """Create the temporary file and return its binary handle; OSError when that fails."""
        directory = os.path.dirname(os.path.abspath(self.path))
        if self.tmp_path is None:
            fd, self.tmp_path = tempfile.mkstemp(prefix='.%s.' % os.path.basename(self.path), suffix='.tmp', dir=directory)
        else:
            if os.path.lexists(self.tmp_path):
                os.unlink(self.tmp_path)
            fd = os.open(self.tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_NOFOLLOW', 0), self.mode)
        try:
            os.fchmod(fd, self.mode)
            self._handle = os.fdopen(fd, 'wb')
        except BaseException:
            os.close(fd)
            self._discard()
            raise
        return self._handle

    def __enter__(self):
        return self._handle if self._handle is not None else self.open()

    def __exit__(self, exc_type, exc_value, traceback):
        try:
            if exc_type is None:
                self._handle.flush()
                os.fsync(self._handle.fileno())
                self._handle.close()
                self.rename(self.tmp_path, self.path)
            else:
                self._handle.close()
        except BaseException:
            self._discard()
            raise
        finally:
            if not self._handle.closed:
                self._handle.close()
        if exc_type is not None:
            self._discard()
        return False

    def _discard(self):
        try:
            os.unlink(self.tmp_path)
        except OSError:
            pass


def atomic_write(path, data, mode, rename=os.replace):
    """Replace ``path`` with ``data`` (bytes, or text written as UTF-8) atomically, with permission bits ``mode``."""
    if not isinstance(data, bytes):
        data = data.encode('utf-8')
    with AtomicFile(path, mode, rename=rename) as handle:
        handle.write(data)
