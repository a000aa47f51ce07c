# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: etcd_snapshot_info
short_description: Check that an etcd snapshot file is intact before it is used
version_added: 0.1.0
author: ironstone.k8s contributors (@ironstone)
description:
  - Reads an etcd snapshot file (made by M(ironstone.k8s.etcd_snapshot) or C(etcdctl snapshot save)) and checks the sha256 trailer
    etcd appends to every snapshot against the database in front of it. Needs only the Python standard library and changes nothing.
  - A file that is missing, truncated (its size is not a database of 512-byte multiples plus 32 bytes) or whose trailer does not
    match fails the module with a message that says which, unless O(fail_on_invalid=false).
  - Run it on the host that holds the file, for example on the controller before a restore, so that a bad snapshot is refused
    before any etcd member is stopped.
extends_documentation_fragment:
  - ironstone.k8s.etcd.attributes
options:
  path:
    description:
      - The snapshot file.
    type: path
    required: true
  fail_on_invalid:
    description:
      - Fail when the file is not an intact snapshot. With V(false), report RV(valid=false) and the reason in RV(msg) instead.
    type: bool
    default: true
attributes:
  check_mode:
    details: The module only reads; it runs the same in check mode.
  platform:
    details: Run it on the host that holds the snapshot file.
seealso:
  - module: ironstone.k8s.etcd_snapshot
'''

EXAMPLES = r'''
- name: Refuse a damaged snapshot before anything is stopped
  ironstone.k8s.etcd_snapshot_info:
    path: /srv/backups/etcd/etcd-snapshot-20240131T020000Z-rev48213.db
  delegate_to: localhost
  register: snapshot

- name: Show what was checked
  ansible.builtin.debug:
    msg: "{{ snapshot.path }}: {{ snapshot.size }} bytes, sha256 {{ snapshot.sha256 }}"
'''

RETURN = r'''
path:
  description: The file that was checked.
  returned: always
  type: str
  sample: /srv/backups/etcd/etcd-snapshot-20240131T020000Z-rev48213.db
valid:
  description: Whether the file is an intact snapshot (always true unless O(fail_on_invalid=false)).
  returned: always
  type: bool
  sample: true
size:
  description: Size of the file in bytes, trailer included; null when it is not valid.
  returned: always
  type: int
  sample: 2101280
sha256:
  description: sha256 of the whole file (what C(sha256sum) prints); null when it is not valid.
  returned: always
  type: str
  sample: 9f2b5c0e0c7a1f3e8e6f9d1c0b7a6e5d4c3b2a1908f7e6d5c4b3a291807f6e5d
db_sha256:
  description: The sha256 trailer, which equals the sha256 of the database part; null when it is not valid.
  returned: always
  type: str
  sample: 3c2a1b0f9e8d7c6b5a49382716f5e4d3c2b1a0f9e8d7c6b5a4938271605f4e3d
revision:
  description: The store revision in the file name as M(ironstone.k8s.etcd_snapshot) writes it (C(...-rev<revision>.db)); null for
    other names or when the file is not valid.
  returned: always
  type: int
  sample: 48213
msg:
  description: What was found, in words; for an invalid file, why it is not valid.
  returned: always
  type: str
  sample: 'snapshot file /srv/backups/etcd/a.db is intact: its database matches its sha256 trailer 3c2a1b0f...'
'''

from ansible_collections.ironstone.k8s.plugins.module_utils.etcd.runner import run_module


def main():
    run_module('etcd_snapshot_info')


if __name__ == '__main__':
    main()
