# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: etcd_info
short_description: Report etcd cluster members, per-endpoint health, leader, alarms and quorum
version_added: 0.1.0
author: ironstone.k8s contributors (@ironstone)
description:
  - Reads an etcd 3.4+ cluster through its v3 JSON gateway, using only the Python standard library, and changes nothing.
  - For every endpoint in O(endpoints) it reports status (version, database size, leader flag, raft indexes, errors) and health.
    An endpoint is healthy when a linearizable read of key C(health) succeeds (an answer of "permission denied" counts as healthy),
    which is what C(etcdctl endpoint health) checks.
  - An endpoint that is down is reported unhealthy with its error; the module only fails when no endpoint answers at all, and not even
    then with O(fail_on_unreachable=false).
extends_documentation_fragment:
  - ironstone.k8s.etcd
  - ironstone.k8s.etcd.attributes
options:
  fail_on_unreachable:
    description:
      - Fail when none of the endpoints answers. With V(false), report RV(healthy=false) and the errors instead.
    type: bool
    default: true
attributes:
  check_mode:
    details: The module only reads; it runs the same in check mode.
  platform:
    details: Needs network access to the etcd client URLs.
seealso:
  - module: ironstone.k8s.etcd_member
  - module: ironstone.k8s.etcd_snapshot
'''

EXAMPLES = r'''
- name: Read the etcd cluster state
  ironstone.k8s.etcd_info:
    endpoints: ["https://10.0.0.11:2379", "https://10.0.0.12:2379", "https://10.0.0.13:2379"]
    ca_file: /etc/etcd/pki/ca.crt
    cert_file: /etc/etcd/pki/admin.crt
    key_file: /etc/etcd/pki/admin.key
  register: etcd

- name: Stop unless every endpoint is healthy and no alarm is raised
  ansible.builtin.assert:
    that:
      - etcd.healthy
      - etcd.quorum.ok
    fail_msg: "etcd is not healthy: {{ etcd.endpoints | rejectattr('healthy') | map(attribute='error') | list }} alarms={{ etcd.alarms }}"

- name: Report without failing when etcd is down (for example before the first start)
  ironstone.k8s.etcd_info:
    fail_on_unreachable: false
    ca_file: /etc/etcd/pki/ca.crt
    cert_file: /etc/etcd/pki/admin.crt
    key_file: /etc/etcd/pki/admin.key
  register: etcd_probe
'''

RETURN = r'''
healthy:
  description: True when every endpoint is healthy and no alarm is active (and the alarm list could be read).
  returned: always
  type: bool
  sample: true
members:
  description: Cluster members; empty when no endpoint answered.
  returned: always
  type: list
  elements: dict
  sample: [{"id": "8211f1d0f64f3269", "id_decimal": "9372538179322589801", "name": "etcd-1", "peer_urls": ["https://10.0.0.11:2380"],
            "client_urls": ["https://10.0.0.11:2379"], "is_learner": false, "started": true}]
  contains:
    id:
      description: Member ID in hex as etcdctl prints it.
      type: str
    id_decimal:
      description: Member ID in decimal as the etcd API returns it.
      type: str
    name:
      description: Member name; empty while a newly added member has not started.
      type: str
    peer_urls:
      description: Peer URLs.
      type: list
      elements: str
    client_urls:
      description: Client URLs.
      type: list
      elements: str
    is_learner:
      description: Whether the member is a non-voting learner.
      type: bool
    started:
      description: Whether the member has started and published its name.
      type: bool
endpoints:
  description: One entry per endpoint in O(endpoints), in that order.
  returned: always
  type: list
  elements: dict
  sample: [{"endpoint": "https://10.0.0.11:2379", "reachable": true, "healthy": true, "error": null, "version": "3.5.12",
            "db_size": 20480, "db_size_in_use": 16384, "is_leader": true, "is_learner": false, "raft_index": 812, "raft_term": 4,
            "raft_applied_index": 812, "errors": [], "member_id": "8211f1d0f64f3269", "member_name": "etcd-1", "revision": 590}]
  contains:
    endpoint:
      description: The endpoint URL.
      type: str
    reachable:
      description: Whether the endpoint answered the status call.
      type: bool
    healthy:
      description: Whether a linearizable read through this endpoint succeeded.
      type: bool
    error:
      description: Why the endpoint is unreachable or unhealthy; null when healthy.
      type: str
    version:
      description: etcd server version.
      type: str
    db_size:
      description: Backend database size in bytes.
      type: int
    db_size_in_use:
      description: Bytes of the database in use (etcd 3.4+); null when not reported.
      type: int
    is_leader:
      description: Whether this endpoint's member is the raft leader.
      type: bool
    is_learner:
      description: Whether this endpoint's member is a learner.
      type: bool
    raft_index:
      description: Raft index of the member.
      type: int
    raft_term:
      description: Raft term of the member.
      type: int
    raft_applied_index:
      description: Raft applied index of the member.
      type: int
    errors:
      description: Errors the member reports about itself.
      type: list
      elements: str
    member_id:
      description: ID (hex) of the member behind this endpoint.
      type: str
    member_name:
      description: Name of the member behind this endpoint.
      type: str
    revision:
      description: Current key-value store revision seen by this member.
      type: int
leader:
  description: The raft leader as seen by the first reachable endpoint; null when unknown (no leader, or nothing reachable).
  returned: always
  type: dict
  sample: {"id": "8211f1d0f64f3269", "id_decimal": "9372538179322589801", "name": "etcd-1"}
  contains:
    id:
      description: Leader member ID in hex.
      type: str
    id_decimal:
      description: Leader member ID in decimal.
      type: str
    name:
      description: Leader member name.
      type: str
alarms:
  description: Active alarms (V(NOSPACE), V(CORRUPT)).
  returned: always
  type: list
  elements: dict
  sample: [{"member_id": "8211f1d0f64f3269", "member_id_decimal": "9372538179322589801", "member_name": "etcd-1", "alarm": "NOSPACE"}]
quorum:
  description: Voting membership and how many voting members were confirmed healthy through O(endpoints); null when nothing answered.
  returned: always
  type: dict
  sample: {"voting_members": 3, "learners": 0, "needed": 2, "healthy_voting_members": 3, "fault_tolerance": 1, "ok": true}
  contains:
    voting_members:
      description: Number of voting (non-learner) members.
      type: int
    learners:
      description: Number of learners.
      type: int
    needed:
      description: Votes needed for quorum, C(voting_members // 2 + 1).
      type: int
    healthy_voting_members:
      description: Voting members whose endpoint in O(endpoints) is healthy. Members not in O(endpoints) are not counted.
      type: int
    fault_tolerance:
      description: How many voting members may fail without losing quorum.
      type: int
    ok:
      description: Whether RV(quorum.healthy_voting_members) reaches RV(quorum.needed).
      type: bool
cluster_id:
  description: Cluster ID in hex; null when nothing answered.
  returned: always
  type: str
  sample: cdf818194e3a8c32
alarm_error:
  description: Why the alarm list could not be read.
  returned: when reading alarms failed
  type: str
  sample: "no etcd endpoint could answer POST /v3/maintenance/alarm (...)"
msg:
  description: Why nothing could be reported.
  returned: when no endpoint answered and O(fail_on_unreachable=false)
  type: str
  sample: "no etcd endpoint is reachable (https://127.0.0.1:2379: cannot connect: Connection refused); check that etcd runs ..."
'''

from ansible_collections.ironstone.k8s.plugins.module_utils.etcd.runner import run_module


def main():
    run_module('etcd_info')


if __name__ == '__main__':
    main()
