# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# Exceptions raised by the etcd module_utils; ``str(error)`` is a message fit for a user.


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
