# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: etcd_member
short_description: Add, promote or remove an etcd cluster member safely
version_added: 0.1.0
author: ironstone.k8s contributors (@ironstone)
description:
  - Manages one member of an existing etcd 3.4+ cluster through etcd's v3 JSON gateway, using only the Python standard library.
  - O(state=present) adds a missing member as a B(learner) (a non-voting member, so adding never changes the quorum) and returns the
    C(initial_cluster) string and C(initial_cluster_state=existing) the new member must start with. Once etcd runs on the new node,
    calling the module again promotes the learner to a voting member, retrying while etcd says the learner is not in sync with the
    leader yet, for at most O(wait_timeout) seconds.
  - A member that was added but whose etcd has not started yet (it has no name) is reported with RV(action=pending_start) and
    nothing changes, so the flow can be re-run safely.
  - O(state=absent) removes the member found by exact name or by id. It refuses to remove the last member, or a voting member when
    the remaining healthy voting members would be fewer than the quorum of the smaller cluster (each member is probed through its
    client URLs, so they must be reachable from the managed node).
  - Names are matched exactly, never as substrings (C(etcd-1) never matches C(etcd-10)).
  - Refuses to add a member while another member is pending (added but not started, or still a learner); etcd allows one learner.
extends_documentation_fragment:
  - ironstone.k8s.etcd
  - ironstone.k8s.etcd.attributes
options:
  name:
    description:
      - Member name, as given to etcd with C(--name) on that node. Matched exactly.
      - Required with O(state=present). With O(state=absent), O(name) or O(id) is required.
    type: str
  peer_urls:
    description:
      - Peer URLs of the member (C(--initial-advertise-peer-urls)), for example C(https://10.0.0.13:2380).
      - Required with O(state=present). With O(state=absent) they let O(name) find a member that was added but never started.
    type: list
    elements: str
  state:
    description:
      - V(present) adds the member as a learner or promotes it; V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  id:
    description:
      - Member ID for O(state=absent), in hex as C(etcdctl member list) prints it (C(8e9e05c52164694d)) or in decimal as the etcd
        API returns it. A digits-only value is matched in both readings; if that matches two members the module fails.
    type: str
  must_exist:
    description:
      - With O(state=absent), fail when no such member exists instead of reporting RV(found=false) without change.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to keep retrying the promotion of a learner while etcd answers that it is not in sync with the leader yet.
      - V(0) tries once.
    type: int
    default: 120
attributes:
  check_mode:
    details: Reads the member list (and member health for removals) and reports the action it would take without changing anything.
  platform:
    details: Needs network access to the etcd client URLs.
seealso:
  - module: ironstone.k8s.etcd_info
  - module: ironstone.k8s.etcd_snapshot
'''

EXAMPLES = r'''
# Joining a new member is a two-call flow with etcd started in between.
- name: 1) Add etcd-4 as a learner (no change if it is already there)
  ironstone.k8s.etcd_member:
    name: etcd-4
    peer_urls: ["https://10.0.0.14:2380"]
    endpoints: ["https://10.0.0.11:2379", "https://10.0.0.12:2379", "https://10.0.0.13:2379"]
    ca_file: /etc/etcd/pki/ca.crt
    cert_file: /etc/etcd/pki/admin.crt
    key_file: /etc/etcd/pki/admin.key
  delegate_to: "{{ groups['etcd'][0] }}"
  register: join

- name: 2) Start etcd on the new node with the cluster it must join
  ansible.builtin.template:
    src: etcd.env.j2   # uses join.initial_cluster and join.initial_cluster_state (existing)
    dest: /etc/etcd/etcd.env
    mode: "0600"
  when: join.action in ['add', 'pending_start']
  # ... then start the etcd service on the new node

- name: 3) Promote the learner once it has caught up (waits up to 5 minutes)
  ironstone.k8s.etcd_member:
    name: etcd-4
    peer_urls: ["https://10.0.0.14:2380"]
    wait_timeout: 300
    endpoints: ["https://10.0.0.11:2379", "https://10.0.0.12:2379", "https://10.0.0.13:2379"]
    ca_file: /etc/etcd/pki/ca.crt
    cert_file: /etc/etcd/pki/admin.crt
    key_file: /etc/etcd/pki/admin.key
  delegate_to: "{{ groups['etcd'][0] }}"

- name: Remove a member by its hex ID as etcdctl prints it, failing if it does not exist
  ironstone.k8s.etcd_member:
    id: 8e9e05c52164694d
    state: absent
    must_exist: true
    ca_file: /etc/etcd/pki/ca.crt
    cert_file: /etc/etcd/pki/admin.crt
    key_file: /etc/etcd/pki/admin.key

- name: Remove etcd-2 by name (refused if that would lose quorum)
  ironstone.k8s.etcd_member:
    name: etcd-2
    state: absent
    ca_file: /etc/etcd/pki/ca.crt
    cert_file: /etc/etcd/pki/admin.crt
    key_file: /etc/etcd/pki/admin.key
'''

RETURN = r'''
action:
  description:
    - What was done (or, in check mode, would be done).
    - V(add) added a learner; V(pending_start) the member was added earlier and its etcd has not started yet; V(promote) promoted
      a learner; V(remove) removed the member; V(none) nothing to do.
  returned: always
  type: str
  sample: add
found:
  description: Whether the member existed before this run.
  returned: always
  type: bool
  sample: false
member:
  description: The member acted on; null when there is none (for example O(state=absent) and not found).
  returned: always
  type: dict
  sample: {"id": "8e9e05c52164694d", "id_decimal": "10276657743932975437", "name": "", "peer_urls": ["https://10.0.0.14:2380"],
           "client_urls": [], "is_learner": true, "started": false}
  contains:
    id:
      description: Member ID in hex as etcdctl prints it; null in check mode for a member not added yet.
      type: str
    id_decimal:
      description: Member ID in decimal as the etcd API returns it.
      type: str
    name:
      description: Member name; empty while the member has not started.
      type: str
    peer_urls:
      description: Peer URLs.
      type: list
      elements: str
    client_urls:
      description: Client URLs; empty while the member has not started.
      type: list
      elements: str
    is_learner:
      description: Whether the member is a non-voting learner.
      type: bool
    started:
      description: Whether the member's etcd has started and published its name.
      type: bool
members:
  description: All members after the change (in check mode, as they would be), each shaped like RV(member).
  returned: always
  type: list
  elements: dict
  sample: [{"id": "8211f1d0f64f3269", "id_decimal": "9372538179322589801", "name": "etcd-1", "peer_urls": ["https://10.0.0.11:2380"],
            "client_urls": ["https://10.0.0.11:2379"], "is_learner": false, "started": true}]
initial_cluster:
  description: Value for the new member's C(--initial-cluster), C(name=peerURL) for every member including the new one.
  returned: when O(state=present)
  type: str
  sample: etcd-1=https://10.0.0.11:2380,etcd-2=https://10.0.0.12:2380,etcd-3=https://10.0.0.13:2380,etcd-4=https://10.0.0.14:2380
initial_cluster_state:
  description: Value for the new member's C(--initial-cluster-state); always V(existing) as the cluster exists.
  returned: when O(state=present)
  type: str
  sample: existing
attempts:
  description: Number of add calls made (etcd refuses an add with "unhealthy cluster" until the leader has been connected to every
    voting member for 5 seconds; the module retries that for up to 30 seconds), or of promote calls made.
  returned: when a member was added or a learner was promoted
  type: int
  sample: 3
msg:
  description: What happened, in words.
  returned: always
  type: str
  sample: added etcd-4 as learner 8e9e05c52164694d; start etcd on it with initial_cluster_state=existing and the returned initial_cluster
'''

from ansible_collections.ironstone.k8s.plugins.module_utils.etcd.runner import run_module


def main():
    run_module('etcd_member')


if __name__ == '__main__':
    main()
