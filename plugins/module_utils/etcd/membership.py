# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# What ``etcd_member`` does against a live cluster: read the members (and, for
# a removal, their health), let ``members.plan_member`` decide, then add a
# learner, promote it or remove a member, retrying while etcd says "not yet".

import time

from ansible_collections.ironstone.k8s.plugins.module_utils.etcd.errors import EtcdError, EtcdRefusedError, EtcdUnreachableError
from ansible_collections.ironstone.k8s.plugins.module_utils.etcd.members import (
    build_initial_cluster,
    describe_member,
    normalize_url,
    parse_member_id,
    plan_member,
    public_member,
    resolve_member,
)

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


def run_member(client, params, check_mode=False, sleep=time.sleep, clock=time.monotonic):
    """Make the membership match ``params``; return the module result."""
    state = params.get('state') or 'present'
    name = params.get('name')
    peer_urls = [normalize_url(u) for u in params.get('peer_urls') or []]
    member_id = params.get('id')
    if (params.get('wait_timeout') or 0) < 0:
        raise EtcdError('wait_timeout must be 0 or more seconds, not %d' % params['wait_timeout'])
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
