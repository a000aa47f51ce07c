# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: etcd_snapshot
short_description: Save a verified etcd snapshot and keep the newest few
version_added: 0.1.0
author: ironstone.k8s contributors (@ironstone)
description:
  - Streams a snapshot from the first healthy endpoint in O(endpoints) through etcd's v3 JSON gateway, using only the Python
    standard library, into C(<dest_dir>/<prefix>-<UTC timestamp>-rev<revision>.db), for example
    C(/var/backups/etcd/etcd-snapshot-20240131T020000Z-rev48213.db). The revision is the store revision reported by that endpoint
    just before the snapshot started.
  - The file is written as a hidden C(.part) file with mode C(0600), checked against the sha256 trailer etcd appends to every
    snapshot, and only then renamed into place. A snapshot that fails the check is deleted and the module fails.
  - Afterwards only the newest O(keep) snapshot files named C(<prefix>-<timestamp>-rev<revision>.db) in O(dest_dir) are kept; other
    files in the directory are never touched.
  - Taking a snapshot always reports a change, since it writes a new file.
extends_documentation_fragment:
  - ironstone.k8s.etcd
  - ironstone.k8s.etcd.attributes
options:
  dest_dir:
    description:
      - Existing directory to save the snapshot in. Snapshots hold every key of the cluster (including Kubernetes secrets), so make it
        readable by root only.
    type: path
    required: true
  prefix:
    description:
      - Start of the snapshot file name; retention only considers files with this prefix.
    type: str
    default: etcd-snapshot
  keep:
    description:
      - How many snapshots with O(prefix) to keep in O(dest_dir), the new one included. Must be at least V(1).
    type: int
    default: 5
attributes:
  check_mode:
    details: Picks the endpoint and revision and reports the file it would write and the files it would delete, writing nothing.
  platform:
    details: Needs network access to the etcd client URLs.
seealso:
  - module: ironstone.k8s.etcd_info
  - module: ironstone.k8s.etcd_member
'''

EXAMPLES = r'''
- name: Make sure the backup directory exists and is private
  ansible.builtin.file:
    path: /var/backups/etcd
    state: directory
    owner: root
    mode: "0700"

- name: Save a snapshot and keep the last 7
  ironstone.k8s.etcd_snapshot:
    dest_dir: /var/backups/etcd
    keep: 7
    endpoints: ["https://10.0.0.11:2379", "https://10.0.0.12:2379"]
    ca_file: /etc/etcd/pki/ca.crt
    cert_file: /etc/etcd/pki/admin.crt
    key_file: /etc/etcd/pki/admin.key
  register: snap

- name: Show where it went
  ansible.builtin.debug:
    msg: "{{ snap.path }} ({{ snap.size }} bytes, revision {{ snap.revision }}, sha256 {{ snap.sha256 }})"
'''

RETURN = r'''
path:
  description: Path of the snapshot file (in check mode, the one it would write).
  returned: always
  type: str
  sample: /var/backups/etcd/etcd-snapshot-20240131T020000Z-rev48213.db
size:
  description: Size of the snapshot file in bytes, trailer included; null in check mode.
  returned: always
  type: int
  sample: 2101280
revision:
  description: Store revision reported by the endpoint just before the snapshot started.
  returned: always
  type: int
  sample: 48213
sha256:
  description: sha256 of the whole snapshot file (what C(sha256sum) prints); null in check mode.
  returned: always
  type: str
  sample: 9f2b5c0e0c7a1f3e8e6f9d1c0b7a6e5d4c3b2a1908f7e6d5c4b3a291807f6e5d
db_sha256:
  description: The sha256 trailer etcd appended, that is the sha256 of the database part; null in check mode.
  returned: always
  type: str
  sample: 3c2a1b0f9e8d7c6b5a49382716f5e4d3c2b1a0f9e8d7c6b5a4938271605f4e3d
endpoint:
  description: The endpoint the snapshot was taken from.
  returned: always
  type: str
  sample: https://10.0.0.11:2379
deleted:
  description: Older snapshot files deleted by retention (in check mode, the ones that would be deleted).
  returned: always
  type: list
  elements: str
  sample: [/var/backups/etcd/etcd-snapshot-20240125T020000Z-rev41007.db]
msg:
  description: What happened, in words.
  returned: always
  type: str
  sample: saved a verified snapshot of https://10.0.0.11:2379 (revision 48213) to /var/backups/etcd/etcd-snapshot-20240131T020000Z-rev48213.db
'''

from ansible_collections.ironstone.k8s.plugins.module_utils.etcd.runner import run_module


def main():
    run_module('etcd_snapshot')


if __name__ == '__main__':
    main()
