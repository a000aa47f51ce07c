# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
"""What the collection's filter plugins share: turning the errors of the module_utils they wrap into
AnsibleFilterError with the same message."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import functools

from ansible.errors import AnsibleFilterError


def reraise_as_filter_error(*errors):
    """A decorator: the given exception types, raised by the filter, come back as AnsibleFilterError."""
    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            try:
                return func(*args, **kwargs)
            except errors as exc:
                raise AnsibleFilterError(str(exc))
        return wrapper
    return decorate
