# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# What the etcd modules do, and their arguments.
#
# Each module's ``main()`` is ``run_module('<module name>')``: it builds the
# AnsibleModule from ``MODULES``, makes an ``EtcdClient`` from the connection
# options (doc fragment ironstone.k8s.etcd) where the module talks to etcd,
# runs the module's function and reports, turning ``EtcdError`` into
# ``fail_json``. The functions take an ``EtcdClient`` (or only the
# parameters), so tests can point them at a stand-in server.

import datetime
import os
import re

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ironstone.k8s.plugins.module_utils.etcd.client import DEFAULT_ENDPOINTS, EtcdClient
from ansible_collections.ironstone.k8s.plugins.module_utils.etcd.errors import EtcdError, EtcdUnreachableError, SnapshotVerificationError
from ansible_collections.ironstone.k8s.plugins.module_utils.etcd.members import format_member_id, public_member, quorum
from ansible_collections.ironstone.k8s.plugins.module_utils.etcd.membership import run_member
from ansible_collections.ironstone.k8s.plugins.module_utils.etcd.snapshot import apply_retention, snapshot_file_name, verify_snapshot_file


def connection_argument_spec():
    """Options shared by the etcd modules that talk to etcd (doc fragment ironstone.k8s.etcd)."""
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


def _ask_reachable(client, reachable, call):
    """``call(client)`` through the reachable endpoints only, then the client's own list again."""
    saved = client.endpoints
    client.endpoints = reachable
    try:
        return call(client)
    finally:
        client.endpoints = saved


def _members_from(client, reachable):
    return _ask_reachable(client, reachable, lambda c: c.members())


def _alarms_from(client, reachable):
    return _ask_reachable(client, reachable, lambda c: c.alarms())


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


def snapshot_info_result(params):
    """``run_snapshot_info``, or with ``fail_on_invalid=false`` a result with ``valid=false`` instead of an error."""
    try:
        return run_snapshot_info(params)
    except EtcdError as exc:
        if params.get('fail_on_invalid', True):
            raise EtcdError(exc.message, details={'path': params['path'], 'valid': False})
        return {'changed': False, 'path': params['path'], 'valid': False, 'size': None, 'sha256': None, 'db_sha256': None,
                'revision': None, 'msg': exc.message}


# name: (run function, whether it takes an EtcdClient, module-specific options, AnsibleModule keyword arguments)
MODULES = {
    'etcd_member': (run_member, True, dict(
        name=dict(type='str'),
        peer_urls=dict(type='list', elements='str'),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        id=dict(type='str'),
        must_exist=dict(type='bool', default=False),
        wait_timeout=dict(type='int', default=120),
    ), dict(required_if=[('state', 'present', ['name', 'peer_urls']), ('state', 'absent', ['name', 'id'], True)])),
    'etcd_info': (lambda client, params, check_mode: run_info(client, params), True, dict(
        fail_on_unreachable=dict(type='bool', default=True),
    ), {}),
    'etcd_snapshot': (run_snapshot, True, dict(
        dest_dir=dict(type='path', required=True),
        prefix=dict(type='str', default='etcd-snapshot'),
        keep=dict(type='int', default=5),
    ), {}),
    'etcd_snapshot_info': (lambda params, check_mode: snapshot_info_result(params), False, dict(
        path=dict(type='path', required=True),
        fail_on_invalid=dict(type='bool', default=True),
    ), {}),
}


def module_argument_spec(name):
    """The full argument spec of etcd module ``name``."""
    _run, uses_client, options, _kwargs = MODULES[name]
    spec = connection_argument_spec() if uses_client else {}
    spec.update(options)
    return spec


def run_module(name):
    """The ``main()`` of etcd module ``name``: parse the arguments, run, report."""
    run, uses_client, _options, kwargs = MODULES[name]
    if uses_client:
        kwargs = dict(kwargs, required_together=[('cert_file', 'key_file')])
    module = AnsibleModule(argument_spec=module_argument_spec(name), supports_check_mode=True, **kwargs)
    try:
        if uses_client:
            result = run(client_from_params(module.params), module.params, check_mode=module.check_mode)
        else:
            result = run(module.params, check_mode=module.check_mode)
    except EtcdError as exc:
        details = dict((k, v) for k, v in exc.details.items() if k not in ('msg', 'changed'))
        module.fail_json(msg=str(exc), **details)
    module.exit_json(**result)
