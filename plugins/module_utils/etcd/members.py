# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# etcd member IDs and membership decisions; pure, no network.
#
# The gateway sends 64-bit integers (member IDs, revisions, sizes) as JSON
# strings holding decimal numbers and leaves out fields with a zero value;
# ``etcdctl`` prints member IDs in hex. ``plan_member`` decides what
# ``etcd_member`` does from a member list and, for removals, member health.

import re

MAX_MEMBER_ID = (1 << 64) - 1


def quorum(voting_members):
    """Votes needed for a decision in a cluster of ``voting_members`` voters."""
    return int(voting_members) // 2 + 1


def to_int(value, default=0):
    """The gateway sends 64-bit numbers as strings and leaves out zeros."""
    if value is None or value == '':
        return default
    if isinstance(value, bool):
        return int(value)
    return int(value)


def parse_member_id(value):
    """Return the possible integer IDs ``value`` may mean, most likely first.

    etcd prints member IDs in hex (``etcdctl member list``) while the JSON
    gateway returns decimal strings.  Accepted forms: an int, ``0x``-prefixed
    hex, hex containing a-f, or a string of digits.  A string of digits that is
    16 characters or shorter could be either form, so both readings are
    returned and the caller matches them against real members.
    """
    if isinstance(value, bool):
        raise ValueError('member id %r is not a number; give the hex ID etcdctl prints or the decimal ID' % (value,))
    if isinstance(value, int):
        candidates = [value]
    else:
        text = str(value).strip().lower()
        if text.startswith('0x'):
            digits = text[2:]
            if not digits or not re.match(r'^[0-9a-f]+$', digits):
                raise ValueError('member id %r is not valid hex; give it as etcdctl prints it, e.g. 8e9e05c52164694d' % (value,))
            candidates = [int(digits, 16)]
        elif re.match(r'^[0-9]+$', text):
            candidates = [int(text, 10)]
            if len(text) <= 16:
                candidates.append(int(text, 16))
        elif re.match(r'^[0-9a-f]+$', text):
            candidates = [int(text, 16)]
        else:
            raise ValueError('member id %r is neither hex (as etcdctl prints it) nor decimal (as the etcd API returns it)' % (value,))
    result = []
    for candidate in candidates:
        if 0 < candidate <= MAX_MEMBER_ID and candidate not in result:
            result.append(candidate)
    if not result:
        raise ValueError('member id %r is out of range; etcd member IDs are non-zero 64-bit numbers' % (value,))
    return result


def format_member_id(member_id):
    """(hex as etcdctl prints it, decimal string as the API returns it)."""
    member_id = int(member_id)
    return '%x' % member_id, str(member_id)


def normalize_url(url):
    return str(url).strip().rstrip('/')


def same_urls(first, second):
    return set(normalize_url(u) for u in first or []) == set(normalize_url(u) for u in second or [])


def normalize_member(raw):
    """Turn a gateway ``Member`` object into the dict used everywhere here.

    ``id_int`` is internal; ``public_member`` drops it before output.
    """
    member_id = to_int(raw.get('ID', raw.get('id')))
    id_hex, id_dec = format_member_id(member_id)
    name = raw.get('name') or ''
    return {
        'id_int': member_id,
        'id': id_hex,
        'id_decimal': id_dec,
        'name': name,
        'peer_urls': [normalize_url(u) for u in raw.get('peerURLs') or []],
        'client_urls': [normalize_url(u) for u in raw.get('clientURLs') or []],
        'is_learner': bool(raw.get('isLearner', False)),
        # An added member has no name until its etcd process starts and joins.
        'started': bool(name),
    }


def public_member(member):
    if member is None:
        return None
    return dict((k, v) for k, v in member.items() if k != 'id_int')


def describe_member(member):
    if member.get('name'):
        return '%s (id %s)' % (member['name'], member['id'])
    return 'unstarted member %s (peer URLs %s)' % (member['id'], ', '.join(member['peer_urls']) or 'none')


def member_names(members):
    return ', '.join(m['name'] or ('<unstarted %s>' % m['id']) for m in members) or '(none)'


def find_members_by_id(members, value):
    """Members whose ID equals ``value`` read as hex or decimal."""
    candidates = parse_member_id(value)
    return [m for m in members if m['id_int'] in candidates]


def build_initial_cluster(members, name, peer_urls):
    """``--initial-cluster`` value a new member must start with.

    Every member contributes ``name=peerURL`` for each peer URL; the member
    whose peer URLs equal ``peer_urls`` (the new one, still unnamed) is given
    ``name``.  Unstarted members other than the new one have no name and are
    left out (``plan_member`` refuses to add while such a member exists).
    """
    entries = []
    seen_new = False
    for member in members:
        if same_urls(member['peer_urls'], peer_urls):
            member_name = name
            seen_new = True
        else:
            member_name = member['name']
        if not member_name:
            continue
        for url in member['peer_urls']:
            entries.append('%s=%s' % (member_name, url))
    if not seen_new:
        for url in peer_urls:
            entries.append('%s=%s' % (name, normalize_url(url)))
    return ','.join(entries)


# --------------------------------------------------------------------------
# Membership decisions
# --------------------------------------------------------------------------

def _refuse(reason, member=None, found=None):
    return {'action': 'refuse', 'reason': reason, 'member': member, 'found': found}


def resolve_member(members, name=None, member_id=None, peer_urls=None):
    """Find the one member meant by name (exact) and/or id; never substring.

    Returns ``(member or None, refusal reason or None)``.  ``peer_urls`` lets
    a name find a member that was added but never started (it has no name
    yet) when its peer URLs match exactly.
    """
    if member_id is not None and str(member_id).strip() != '':
        matches = find_members_by_id(members, member_id)
        if len(matches) > 1:
            return None, ('member id %s is ambiguous: read as hex and as decimal it matches %s; '
                          'give it with a 0x prefix or as the full decimal ID' % (member_id, ' and '.join(describe_member(m) for m in matches)))
        if not matches:
            return None, None
        member = matches[0]
        if name and member['name'] and member['name'] != name:
            return None, ('member id %s belongs to member %s, not to %s; give a matching name and id, or only one of them'
                          % (member_id, member['name'], name))
        return member, None
    if name:
        matches = [m for m in members if m['name'] == name]
        if len(matches) > 1:
            return None, ('%d etcd members are named %s (%s); give the id of the one to act on'
                          % (len(matches), name, ', '.join(m['id'] for m in matches)))
        if matches:
            return matches[0], None
        if peer_urls:
            unstarted = [m for m in members if not m['started'] and same_urls(m['peer_urls'], peer_urls)]
            if len(unstarted) == 1:
                return unstarted[0], None
    return None, None


def plan_member(members, name=None, peer_urls=None, state='present', member_id=None, healthy=None, must_exist=False):
    """Decide what to do; pure, no network.

    ``members``: normalized members (``normalize_member``).
    ``healthy``: for ``state=absent``, a dict member ``id_int`` -> bool telling
    which members answered a health probe; members missing from it count as
    unhealthy.

    Returns a dict with ``action`` one of ``none``, ``pending_start``, ``add``,
    ``promote``, ``remove``, ``refuse``; plus ``member``, ``reason`` and
    ``found``.

    Adding always adds a *learner*: a learner does not vote, so adding it
    never changes the quorum.  The later promotion grows the voting set by one
    member that etcd has just confirmed is in sync with the leader.
    """
    if state == 'present':
        return _plan_present(members, name, peer_urls)
    if state == 'absent':
        return _plan_absent(members, name, peer_urls, member_id, healthy, must_exist)
    raise ValueError('state must be present or absent, not %r' % (state,))


def _plan_present(members, name, peer_urls):
    if not name or not peer_urls:
        raise ValueError('state=present needs name and peer_urls')
    wanted = set(normalize_url(u) for u in peer_urls)
    named = [m for m in members if m['name'] == name]
    if len(named) > 1:
        return _refuse('%d etcd members are named %s (ids %s); remove the extra ones with state=absent and id first'
                       % (len(named), name, ', '.join(m['id'] for m in named)), found=True)
    if named:
        member = named[0]
        if not same_urls(member['peer_urls'], wanted):
            return _refuse('etcd member %s (id %s) has peer URLs %s, not %s; remove it first with state=absent, then add it again'
                           % (name, member['id'], ', '.join(member['peer_urls']), ', '.join(sorted(wanted))), member=member, found=True)
        if member['is_learner']:
            return {'action': 'promote', 'member': member, 'reason': 'member %s is a learner; promote it once it is in sync' % name,
                    'found': True}
        return {'action': 'none', 'member': member, 'reason': 'member %s is a voting member with the wanted peer URLs' % name,
                'found': True}
    overlapping = [m for m in members if wanted & set(m['peer_urls'])]
    for member in overlapping:
        if member['started']:
            return _refuse('peer URL(s) %s already belong to etcd member %s (id %s); use other peer URLs or remove that member first'
                           % (', '.join(sorted(wanted & set(member['peer_urls']))), member['name'], member['id']), member=member, found=False)
        if not same_urls(member['peer_urls'], wanted):
            return _refuse('unstarted etcd member %s has peer URLs %s, overlapping the wanted %s; remove it first with state=absent and id=%s'
                           % (member['id'], ', '.join(member['peer_urls']), ', '.join(sorted(wanted)), member['id']), member=member, found=False)
        return {'action': 'pending_start', 'member': member, 'found': True,
                'reason': 'member %s was added (id %s) but its etcd has not started yet; start it with the returned initial_cluster'
                          % (name, member['id'])}
    pending = [m for m in members if not m['started'] or m['is_learner']]
    if pending:
        return _refuse('cannot add etcd member %s while %s is pending; finish or remove pending member %s first'
                       % (name, describe_member(pending[0]), pending[0]['name'] or pending[0]['id']), member=pending[0], found=False)
    return {'action': 'add', 'member': None, 'found': False, 'reason': 'member %s does not exist; add it as a learner' % name}


def _plan_absent(members, name, peer_urls, member_id, healthy, must_exist):
    if not name and (member_id is None or str(member_id).strip() == ''):
        raise ValueError('state=absent needs name or id')
    member, reason = resolve_member(members, name=name, member_id=member_id, peer_urls=peer_urls)
    if reason:
        return _refuse(reason, found=None)
    if member is None:
        wanted = name if name else 'with id %s' % member_id
        if must_exist:
            return _refuse('no etcd member named %s; members are: %s' % (wanted, member_names(members)) if name
                           else 'no etcd member %s; members are: %s' % (wanted, member_names(members)), found=False)
        return {'action': 'none', 'member': None, 'found': False, 'reason': 'no etcd member %s; nothing to remove' % (name or wanted)}
    if len(members) <= 1:
        return _refuse('refusing to remove %s: it is the last member of the cluster' % describe_member(member), member=member, found=True)
    if not member['is_learner']:
        healthy = healthy or {}
        voters = [m for m in members if not m['is_learner']]
        remaining = [m for m in voters if m['id_int'] != member['id_int']]
        if not remaining:
            return _refuse('refusing to remove %s: it is the last voting member; promote another member first' % describe_member(member),
                           member=member, found=True)
        healthy_now = [m for m in voters if healthy.get(m['id_int'])]
        healthy_after = [m for m in remaining if healthy.get(m['id_int'])]
        unhealthy_after = [m for m in remaining if not healthy.get(m['id_int'])]
        if len(healthy_now) < quorum(len(voters)):
            return _refuse('refusing to remove %s: the cluster has no quorum now (%d of %d voting members healthy, %d needed); '
                           'repair unhealthy members (%s) first' % (describe_member(member), len(healthy_now), len(voters), quorum(len(voters)),
                                                                    member_names([m for m in voters if not healthy.get(m['id_int'])])),
                           member=member, found=True)
        if len(healthy_after) < quorum(len(remaining)):
            return _refuse('refusing to remove %s: afterwards %d of %d voting members would be healthy but quorum needs %d; '
                           'repair unhealthy members (%s) first' % (describe_member(member), len(healthy_after), len(remaining),
                                                                    quorum(len(remaining)), member_names(unhealthy_after)),
                           member=member, found=True)
    return {'action': 'remove', 'member': member, 'found': True, 'reason': 'remove %s' % describe_member(member)}
