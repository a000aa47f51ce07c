# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# The guard that runs before any certificate of a cluster is made or written:
# the controller's PKI directory is bound to one cluster (its identity record),
# the CA the live members present must be the controller's, and the etcd group
# must not leave live members out. Plain Python on top of ``pki.crypto``; it
# reads public certificates and the identity record only, never a key.
#
# The identity record, ``<pki dir>/identity.json``::
#
#     {"cluster_id": "cdf818194e3a8c32", "cluster_name": "prod-eu", "format": 1,
#      "members": ["etcd1", "etcd2", "etcd3"]}
#
# cluster_id is etcd's cluster ID in hex (null until the cluster has answered
# once); members are the names of the cluster's members, sorted.

import json
import os

from ansible_collections.ironstone.k8s.plugins.module_utils.pki import crypto

IDENTITY_FILE = 'identity.json'
IDENTITY_FORMAT = 1
RENEW_CA_HINT = 'playbooks/etcd_renew_certs.yml -e renew_ca=yes'
REMOVE_HINT = 'playbooks/remove_etcd_member.yml -e etcd_member=NAME'


class GuardError(Exception):
    """The identity record cannot be read; the message is user-facing."""


def identity_path(pki_dir):
    return os.path.join(os.path.abspath(os.path.expanduser(pki_dir)), IDENTITY_FILE)


def parse_identity(text, path=IDENTITY_FILE):
    """The record as a dict, or None for no record (missing or empty). Raises GuardError when it is not a record."""
    if text is None or not text.strip():
        return None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise GuardError('%s is not valid JSON (%s); restore it from a backup of the PKI directory, or delete it to '
                         'record this cluster again.' % (path, exc))
    if not isinstance(data, dict) or not isinstance(data.get('cluster_name'), str) or not isinstance(data.get('members', []), list):
        raise GuardError('%s is not an ironstone.k8s cluster identity record (cluster_name, cluster_id, members); restore it '
                         'from a backup of the PKI directory, or delete it to record this cluster again.' % path)
    return data


def read_identity(pki_dir):
    path = identity_path(pki_dir)
    try:
        with open(path, 'r') as handle:
            text = handle.read()
    except (IOError, OSError) as exc:
        if not os.path.lexists(path):
            return None
        raise GuardError('Cannot read %s: %s; fix its permissions.' % (path, exc.strerror or exc))
    return parse_identity(text, path)


def identity_text(cluster_name, cluster_id, members):
    """The record file's content: stable (sorted keys and members), so an unchanged cluster rewrites nothing."""
    record = {'format': IDENTITY_FORMAT, 'cluster_name': cluster_name, 'cluster_id': cluster_id or None,
              'members': sorted(set(m for m in members if m))}
    return json.dumps(record, indent=2, sort_keys=True) + '\n'


def live_names(live):
    """Names of the started members of an etcd_info result."""
    return sorted(set(m.get('name') for m in (live or {}).get('members') or [] if m.get('name')))


def _answered(live):
    return bool(live) and bool(live.get('cluster_id')) and bool(live.get('members'))


def _join(names):
    return ', '.join(names) if names else 'none'


def identity_problems(record, cluster_name, pki_dir, group_names, live):
    """Why the PKI directory belongs to another cluster (list of sentences; empty when it is this cluster's or unbound)."""
    if not record:
        return []
    recorded_name = record.get('cluster_name')
    recorded_id = record.get('cluster_id')
    recorded_members = sorted(record.get('members') or [])
    ours = set(group_names) | set(live_names(live))
    reason = None
    if recorded_name != cluster_name:
        reason = "it is recorded for the cluster named '%s', and this run's etcd_cluster_name is '%s'" % (recorded_name, cluster_name)
    elif _answered(live) and recorded_id and live['cluster_id'] != recorded_id and not set(recorded_members) & set(live_names(live)):
        reason = ('it is recorded for cluster ID %s, and the live cluster of this etcd group is cluster ID %s with other members (%s)'
                  % (recorded_id, live['cluster_id'], _join(live_names(live))))
    elif recorded_members and not set(recorded_members) & ours:
        reason = ('none of its recorded members is in this etcd group (%s)' % _join(sorted(group_names)))
    if reason is None:
        return []
    return ['The PKI directory %s belongs to another etcd cluster: %s. It holds the CA of %s (cluster ID %s, members %s), and one '
            'CA shared by two clusters lets each trust the other\'s clients. Give every cluster its own PKI directory: set '
            'etcd_cluster_name to a name of its own for this cluster (its PKI directory is then ~/.ironstone/pki/<etcd_cluster_name>), '
            'or point etcd_pki_dir at this cluster\'s own directory. Nothing was written.'
            % (pki_dir, reason, "'%s'" % recorded_name, recorded_id or 'not known yet', _join(recorded_members))]


def _verifying_ca(cert, cas):
    for ca in cas:
        if cert.issuer == ca.subject and crypto.signed_by(cert, ca.public_key()):
            return ca
    return None


def _as_bytes(text):
    text = text or b''
    return text if isinstance(text, bytes) else text.encode('utf-8')


def _ca_label(ca):
    return "'%s' (key id %s, sha256 %s)" % (ca.subject.rfc4514_string(), crypto.key_id(ca) or 'none', crypto.fingerprint(ca))


def ca_problems(controller_bundle, nodes, pki_dir):
    """Why the controller's CA is not the one the cluster's members present (list of sentences).

    ``controller_bundle``: PEM text of ``<pki dir>/ca-bundle.crt`` (current CA first, CAs kept for an overlap after it),
    or empty. ``nodes``: name -> {'server': PEM of the server certificate the member presents, 'member': whether it is a
    member of the cluster (has data, or the live cluster lists it)}. A member passes when its server certificate was
    signed by a CA of the bundle; members without a server certificate are not compared.
    """
    if not crypto.HAS_CRYPTOGRAPHY:
        return ['The cryptography Python library is required on the controller to compare CAs; install it (pip install cryptography).']
    controller_cas = crypto.split_pem(_as_bytes(controller_bundle))
    foreign = {}
    for name in sorted(nodes):
        node = nodes[name] or {}
        if not node.get('member') or not node.get('server'):
            continue
        server = crypto.load_cert(_as_bytes(node['server']))
        if server is None or _verifying_ca(server, controller_cas) is not None:
            continue
        label = "'%s' (key id %s)" % (server.issuer.rfc4514_string(), crypto.key_id(server, authority=True) or 'none')
        foreign.setdefault(label, []).append(name)
    if not foreign:
        return []
    have = 'holds the CA %s' % _ca_label(controller_cas[0]) if controller_cas else 'holds no CA'
    shown = '; '.join('%s present certificates of the CA %s' % (_join(names), label) for label, names in sorted(foreign.items()))
    return ['The etcd members %s, but the controller\'s PKI directory %s %s. Certificates from it would replace the CA of a '
            'running cluster and cut its members and clients off from each other. The only way to change the CA is %s (a '
            'rotation with a trust overlap); otherwise point etcd_pki_dir back at the directory that holds this cluster\'s CA. '
            'Nothing was written, on the controller or on any node.' % (shown, pki_dir, have, RENEW_CA_HINT)]


def orphan_problems(live, group_members):
    """Live members that the etcd group leaves out (list of sentences). ``group_members``: dicts with name and peer_url."""
    if not _answered(live):
        return []
    names = set(m.get('name') for m in group_members)
    peers = set(m.get('peer_url') for m in group_members)
    orphans = []
    for member in live.get('members') or []:
        if member.get('name'):
            if member['name'] not in names:
                orphans.append(member['name'])
        elif not set(member.get('peer_urls') or []) & peers:
            orphans.append('(unstarted member %s, peer URLs %s)' % (member.get('id'), ', '.join(member.get('peer_urls') or [])))
    if not orphans:
        return []
    return ['The live etcd cluster (ID %s) has %d members, and the etcd group lists %d: %s would be left out. Converging '
            'without them would take their certificates and membership from the PKI and orphan them. Add them to the etcd '
            'group, or remove them first with %s (one member per run). Nothing was written.'
            % (live.get('cluster_id'), len(live.get('members') or []), len(group_members), _join(sorted(orphans)), REMOVE_HINT)]


def guard(pki_dir, cluster_name, group_members, live, nodes, record_text=None, bundle_text=None):
    """Everything the guard decides: ``{'errors': [...], 'record': text to write or ''}``.

    ``record_text``/``bundle_text``: the identity record and CA bundle, read from ``pki_dir`` when None.
    """
    errors = []
    try:
        record = read_identity(pki_dir) if record_text is None else parse_identity(record_text, identity_path(pki_dir))
    except GuardError as exc:
        return {'errors': [str(exc)], 'record': ''}
    if bundle_text is None:
        bundle_path = os.path.join(os.path.abspath(os.path.expanduser(pki_dir)), 'ca-bundle.crt')
        try:
            with open(bundle_path, 'rb') as handle:
                bundle_text = handle.read()
        except (IOError, OSError):
            bundle_text = b''
    group_names = [m.get('name') for m in group_members]
    errors += identity_problems(record, cluster_name, pki_dir, group_names, live)
    errors += ca_problems(bundle_text, nodes, pki_dir)
    errors += orphan_problems(live, group_members)
    return {'errors': errors, 'record': '' if errors else next_record(record, cluster_name, live, group_names)}


def next_record(record, cluster_name, live, fallback_members):
    """The record to write now, or '' to keep the one there: the live cluster's ID and members when it answered,
    else the etcd group's names for a directory not bound yet."""
    if _answered(live):
        text = identity_text(cluster_name, live['cluster_id'], live_names(live))
    elif record:
        return ''
    else:
        text = identity_text(cluster_name, None, fallback_members)
    if record and identity_text(record.get('cluster_name'), record.get('cluster_id'), record.get('members') or []) == text \
            and record.get('format') == IDENTITY_FORMAT:
        return ''
    return text
