# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
"""Decisions of the etcd role, as filters of inventory data and registered results.

Every function here is a pure function of its arguments (inventory data,
``hostvars``, the results the role registered), except ``etcd_file_contents``,
which reads files of the PKI directory on the controller (as the ``file``
lookup would), and ``etcd_snapshots_to_delete``, which lists a directory on the
controller. The role's YAML calls them and stays a sequence of steps.

``hostvars`` may be Ansible's HostVars or a plain dict of dicts (the unit tests).
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import hashlib
import os
import re

import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.ironstone.k8s.plugins.module_utils.etcd.snapshot import apply_retention
from ansible_collections.ironstone.k8s.plugins.module_utils.pki import guard as pki_guard

# What a member does in a run (etcd_member_mode).
BOOTSTRAP = 'bootstrap'   # a brand-new cluster: all members start together with state new
EXISTING = 'existing'     # has data and is (or, with the cluster down, may be) a voting member
PROMOTE = 'promote'       # has data but is still a learner: it is promoted
JOIN = 'join'             # the cluster exists and this member has no data: (re-)added as a learner
STALE = 'stale'           # has data but the live cluster does not list it
JOINING_MODES = (JOIN, PROMOTE)
INITIAL_KEYS = ('initial-cluster', 'initial-cluster-state', 'initial-cluster-token')
UNIT_FILE = '/etc/systemd/system/etcd.service'


def _get(mapping, key, default=None):
    """``mapping[key]`` for dicts and Ansible's lazy HostVars alike."""
    if mapping is None:
        return default
    try:
        value = mapping[key]
    except (KeyError, TypeError):
        return default
    # An undefined value in HostVars comes back as an Undefined object.
    if type(value).__name__.endswith('Undefined'):
        return default
    return value


def _host(hostvars, host):
    return _get(hostvars, host, {}) or {}


def _mode(hostvars, host):
    return _get(_host(hostvars, host), 'etcd_member_mode')


def _changed(result):
    return bool(_get(result or {}, 'changed', False))


# --------------------------------------------------------------------------
# Members and URLs
# --------------------------------------------------------------------------

def etcd_url_host(address):
    """An address as it goes into a URL: IPv6 in brackets (once)."""
    address = str(address).strip()
    if address.startswith('[') and address.endswith(']'):
        address = address[1:-1]
    return '[%s]' % address if ':' in address else address


def etcd_url(address, port, scheme='https'):
    """``https://<address>:<port>``, IPv6 addresses in brackets."""
    return '%s://%s:%d' % (scheme, etcd_url_host(address), int(port))


def etcd_members(hosts, hostvars, client_port, peer_port):
    """The members of the etcd group, in its order, from the inventory.

    A host without ``etcd_name`` is named after itself; one without
    ``etcd_address`` is reached at its ``ansible_host`` (or its name).
    """
    members = []
    for host in hosts or []:
        hv = _host(hostvars, host)
        name = _get(hv, 'etcd_name') or host
        address = _get(hv, 'etcd_address') or _get(hv, 'ansible_host') or host
        address = str(address).strip()
        if address.startswith('[') and address.endswith(']'):
            address = address[1:-1]
        members.append({
            'host': host,
            'name': str(name),
            'address': address,
            'client_url': etcd_url(address, client_port),
            'peer_url': etcd_url(address, peer_port),
        })
    return members


def etcd_initial_cluster(members):
    """``--initial-cluster`` of a new cluster made of these members."""
    return ','.join('%s=%s' % (m['name'], m['peer_url']) for m in members or [])


def etcd_client_urls(members, exclude_hosts=None):
    """Client URLs of the members whose hosts are not in ``exclude_hosts``."""
    exclude = set(exclude_hosts or [])
    return [m['client_url'] for m in members or [] if m['host'] not in exclude]


def etcd_hosts_named(members, name):
    """Inventory hosts of the member(s) with exactly this etcd name."""
    name = str(name or '').strip()
    return [m['host'] for m in members or [] if name and m['name'] == name]


# --------------------------------------------------------------------------
# Certificates and files
# --------------------------------------------------------------------------

LOOPBACK_SANS = ['localhost', '127.0.0.1', '::1']


def _unique(items):
    seen = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def etcd_cert_specs(members, validity_days, key_type):
    """cert_bundle specs: per member a server and a peer certificate, then kubeadm's two clients."""
    specs = []
    for m in members or []:
        for kind in ('server', 'peer'):
            specs.append({
                'name': 'members/%s/%s' % (m['host'], kind),
                'common_name': m['name'],
                'sans': _unique([m['name'], m['host'], m['address']] + LOOPBACK_SANS),
                'usages': ['server_auth', 'client_auth'],
                'validity_days': validity_days,
                'key_type': key_type,
            })
    for name, common_name in (('healthcheck-client', 'kube-etcd-healthcheck-client'),
                              ('apiserver-etcd-client', 'kube-apiserver-etcd-client')):
        specs.append({
            'name': name,
            'common_name': common_name,
            'organization': 'system:masters',
            'usages': ['client_auth'],
            'validity_days': validity_days,
            'key_type': key_type,
        })
    return specs


def etcd_file_contents(node_files, pki_dir, rendered):
    """dest -> wanted content of each node file.

    A file with ``template`` takes ``rendered[template]``; one with ``src``
    is read from ``pki_dir`` on the controller. A PKI file that does not
    exist yet (check mode on a fresh controller) reads as empty.
    """
    contents = {}
    for f in node_files or []:
        if 'template' in f:
            if f['template'] not in (rendered or {}):
                raise AnsibleFilterError('etcd_file_contents: no rendered text for template %s of %s' % (f['template'], f['dest']))
            contents[f['dest']] = rendered[f['template']]
            continue
        path = os.path.join(pki_dir, f['src'])
        if os.path.isfile(path):
            with open(path, 'r') as handle:
                contents[f['dest']] = handle.read()
        else:
            contents[f['dest']] = ''
    return contents


def _by_path(found):
    if isinstance(found, dict) and 'files' in found:
        found = found['files']
    if isinstance(found, dict):
        return found
    return dict((f['path'], f) for f in found or [])


def etcd_files_to_write(node_files, contents, found):
    """Dests of the node files whose content (sha1), mode, owner or group differ.

    ``found``: the registered result of one ``find`` with ``get_checksum``
    (or its ``files``, or a dict path -> stat).
    """
    have_all = _by_path(found)
    out = []
    for f in node_files or []:
        have = have_all.get(f['dest'], {})
        text = contents[f['dest']]
        want_sha1 = hashlib.sha1(text.encode('utf-8') if not isinstance(text, bytes) else text).hexdigest()
        if (have.get('checksum', '') != want_sha1 or have.get('mode', '') != f['mode']
                or have.get('pw_name', '') != f['owner'] or have.get('gr_name', '') != f['group']):
            out.append(f['dest'])
    return out


# --------------------------------------------------------------------------
# Membership: what each member does
# --------------------------------------------------------------------------

def _live_names(live, learner):
    return [m.get('name') for m in (live or {}).get('members') or []
            if m.get('started') and bool(m.get('is_learner')) == learner]


def _has_data(hostvars, host):
    return int(_get(_get(_host(hostvars, host), 'etcd_wal', {}) or {}, 'matched', 0) or 0) > 0


def _initial_keys(config_slurp):
    content = _get(config_slurp or {}, 'content')
    if not content:
        return {}
    try:
        config = yaml.safe_load(base64.b64decode(content)) or {}
    except (ValueError, yaml.YAMLError) as exc:
        raise AnsibleFilterError('etcd_member_plan: cannot read the current etcd config file: %s' % exc)
    if not isinstance(config, dict):
        return {}
    return dict((k, config[k]) for k in INITIAL_KEYS if k in config)


def etcd_member_plan(host, hostvars, play_hosts, members, live, cluster_name):
    """What ``host`` does in this run, with the initial-* config keys it starts with.

    Reads, for the hosts of the play, ``etcd_wal`` (a find of the member's
    WAL files) and, for ``host``, ``etcd_config_current`` (a slurp of its
    config file). ``live``: the ``etcd_info`` result (``{}`` when skipped).

    Returns ``{mode, config_initial, live_complete}``.
    """
    live = live or {}
    live_members = live.get('members') or []
    voters = _live_names(live, learner=False)
    learners = _live_names(live, learner=True)
    me = [m for m in members or [] if m['host'] == host]
    name = me[0]['name'] if me else host
    has_data = _has_data(hostvars, host)
    cluster_exists = bool(live_members) or any(_has_data(hostvars, h) for h in play_hosts or [])

    if not cluster_exists:
        mode = BOOTSTRAP
    elif not has_data:
        mode = JOIN
    elif not live_members or name in voters:
        mode = EXISTING
    elif name in learners:
        mode = PROMOTE
    else:
        mode = STALE

    current = _initial_keys(_get(_host(hostvars, host), 'etcd_config_current')) if has_data else {}
    if len(current) == len(INITIAL_KEYS):
        initial = current
    else:
        initial = {
            'initial-cluster': etcd_initial_cluster(members),
            'initial-cluster-state': 'existing' if cluster_exists else 'new',
            'initial-cluster-token': cluster_name,
        }
    complete = bool(live.get('healthy')) and all(m['name'] in voters for m in members or [])
    return {'mode': mode, 'config_initial': initial, 'live_complete': complete}


def etcd_started_endpoints(members, hostvars, play_hosts, play_hosts_all, live):
    """Client URLs of the members that should be up once the start task ran.

    This run's members that have data (or all of a new cluster), and members
    outside this run that the live cluster lists as started. Not: members
    that join in this run, failed hosts.
    """
    play_hosts = list(play_hosts or [])
    play_hosts_all = list(play_hosts_all or [])
    started = [m.get('name') for m in (live or {}).get('members') or [] if m.get('started')]
    out = []
    for m in members or []:
        if m['host'] in play_hosts:
            up = _mode(hostvars, m['host']) in (BOOTSTRAP, EXISTING)
        else:
            up = m['host'] not in play_hosts_all and m['name'] in started
        if up:
            out.append(m['client_url'])
    return out


def joining_hosts(hostvars, hosts):
    """The hosts (in order) that join or are promoted in this run."""
    return [h for h in hosts or [] if _mode(hostvars, h) in JOINING_MODES]


def etcd_join_via(hostvars, play_hosts, host):
    """The member that membership changes go through: the first one that already had data."""
    for h in play_hosts or []:
        if _mode(hostvars, h) == EXISTING:
            return h
    return host


def etcd_expected_endpoints(members, hostvars, play_hosts_all, play_hosts, host):
    """Client URLs that must be healthy at ``host``'s turn of a ``serial: 1`` play.

    Every member except the failed hosts of the play and the members that
    join (or are promoted) later in the play, which are not up yet.
    """
    order = list(play_hosts_all or [])
    failed = [h for h in order if h not in (play_hosts or [])]
    later = order[order.index(host) + 1:] if host in order else []
    return etcd_client_urls(members, failed + joining_hosts(hostvars, later))


def etcd_restart_needed(results, mode, start_result):
    """Whether a running member must restart for what this run wrote.

    ``results``: registered results of the tasks whose change needs a restart
    (plain ones, or loops whose items say ``restart: false`` when a change
    of theirs does not).
    """
    if mode not in (EXISTING, PROMOTE) or _changed(start_result):
        return False
    for result in results or []:
        result = result or {}
        items = _get(result, 'results')
        if items is None:
            if _changed(result):
                return True
            continue
        for item in items:
            spec = _get(item, 'item')
            wants = spec.get('restart', True) if isinstance(spec, dict) else True
            if _changed(item) and wants:
                return True
    return False


def etcd_run_changed(hostvars, hosts, started_only=False):
    """Whether any of these hosts started (or, unless ``started_only``, joined or restarted) etcd in this run."""
    for h in hosts or []:
        hv = _host(hostvars, h)
        if _changed(_get(hv, 'etcd_start_result')):
            return True
        if not started_only and (_get(hv, 'etcd_member_mode') in JOINING_MODES or bool(_get(hv, 'etcd_restart_needed', False))):
            return True
    return False


# --------------------------------------------------------------------------
# Day 2
# --------------------------------------------------------------------------

def etcd_remove_via(hostvars, play_hosts, remove_hosts):
    """The first host of the play, other than the one(s) removed, whose etcd_remove_live lists members ('' if none)."""
    for h in play_hosts or []:
        if h in (remove_hosts or []):
            continue
        live = _get(_host(hostvars, h), 'etcd_remove_live', {}) or {}
        if _get(live, 'members'):
            return h
    return ''


def etcd_snapshots_to_delete(directory, prefix, keep):
    """Snapshots in ``directory`` (on the controller) beyond the newest ``keep``.

    The same names and order as the ``etcd_snapshot`` module's retention
    (``apply_retention`` in check mode: nothing is deleted here). A directory
    that does not exist yet (check mode) has none.
    """
    if not os.path.isdir(directory):
        return []
    try:
        return apply_retention(directory, prefix, keep, check_mode=True)
    except ValueError as exc:
        raise AnsibleFilterError('etcd_backup_keep: %s' % exc)


def etcd_renewed_hosts(regenerated, hosts):
    """The hosts whose certificates a cert_bundle renewal (its ``regenerated`` list) replaced.

    A new shared health-check client certificate goes onto every member.
    """
    names = [r.get('name', '') for r in regenerated or []]
    if 'healthcheck-client' in names:
        return list(hosts or [])
    renewed = set(n.split('/')[1] for n in names if n.startswith('members/') and n.count('/') >= 2)
    return [h for h in hosts or [] if h in renewed]


# Keys of the etcd config that the role owns: TLS, client-certificate auth, the
# URLs, the certificate paths, the member's identity and the JSON gateway the
# modules use. etcd_extra_config may change them only with the named opt-in.
PROTECTED_CONFIG_KEYS = (
    'name', 'data-dir', 'listen-peer-urls', 'listen-client-urls', 'advertise-client-urls',
    'initial-advertise-peer-urls', 'initial-cluster', 'initial-cluster-state', 'initial-cluster-token',
    'client-transport-security', 'peer-transport-security', 'tls-min-version', 'enable-grpc-gateway',
)
UNSAFE_OPT_IN = 'etcd_extra_config_unsafe'
# etcd's documented maximum backend quota; past it etcd warns and performance suffers.
MAX_QUOTA_BACKEND_BYTES = 8 * 1024 ** 3
# etcd refuses an election timeout under 5 heartbeats; it recommends 10.
MIN_ELECTION_HEARTBEATS = 5
RECOMMENDED_ELECTION_HEARTBEATS = 10


def _as_int(value):
    if isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def etcd_config_problems(config, extra_config=None, allow_unsafe=False):
    """What is wrong with an etcd config before any member is restarted with it.

    ``config`` is the config file the role would write (``etcd_extra_config``
    already merged in); ``extra_config`` is ``etcd_extra_config`` itself, to
    name the keys it changes. Returns ``{'errors': [...], 'warnings': [...]}``,
    one sentence each: etcd's own start-up rules (election timeout at least 5
    heartbeats, positive snapshot count, quota positive and at most 8 GiB) and
    the keys that only ``etcd_extra_config_unsafe: true`` may change.
    """
    config = config or {}
    errors, warnings = [], []
    heartbeat = _as_int(config.get('heartbeat-interval'))
    election = _as_int(config.get('election-timeout'))
    if heartbeat is None or heartbeat <= 0:
        errors.append('heartbeat-interval (etcd_heartbeat_interval) must be a positive number of milliseconds, not %r.'
                      % (config.get('heartbeat-interval'),))
    if election is None or election <= 0:
        errors.append('election-timeout (etcd_election_timeout) must be a positive number of milliseconds, not %r.'
                      % (config.get('election-timeout'),))
    if heartbeat and election and heartbeat > 0 and election > 0:
        if election < MIN_ELECTION_HEARTBEATS * heartbeat:
            errors.append('election-timeout %d ms is less than %d x heartbeat-interval %d ms, which etcd refuses at start-up; '
                          'set etcd_election_timeout to at least %d (etcd recommends %d).'
                          % (election, MIN_ELECTION_HEARTBEATS, heartbeat, MIN_ELECTION_HEARTBEATS * heartbeat,
                             RECOMMENDED_ELECTION_HEARTBEATS * heartbeat))
        elif election < RECOMMENDED_ELECTION_HEARTBEATS * heartbeat:
            warnings.append('election-timeout %d ms is less than the %d x heartbeat-interval (%d ms) that etcd recommends.'
                            % (election, RECOMMENDED_ELECTION_HEARTBEATS, RECOMMENDED_ELECTION_HEARTBEATS * heartbeat))
    quota = _as_int(config.get('quota-backend-bytes'))
    if quota is None or quota <= 0 or quota > MAX_QUOTA_BACKEND_BYTES:
        errors.append('quota-backend-bytes (etcd_quota_backend_bytes) must be a positive number of bytes of at most %d (8 GiB, '
                      "etcd's documented maximum), not %r." % (MAX_QUOTA_BACKEND_BYTES, config.get('quota-backend-bytes')))
    snapshot_count = _as_int(config.get('snapshot-count'))
    if snapshot_count is None or snapshot_count <= 0:
        errors.append('snapshot-count (etcd_snapshot_count) must be a positive number of applied entries, not %r.'
                      % (config.get('snapshot-count'),))
    if extra_config is not None and not isinstance(extra_config, dict):
        errors.append('etcd_extra_config must be a dict of etcd config file keys, not %r.' % (extra_config,))
    elif extra_config and not allow_unsafe:
        for key in sorted(k for k in extra_config if k in PROTECTED_CONFIG_KEYS):
            errors.append('etcd_extra_config sets %s, which the role manages (TLS, client-certificate auth, URLs, certificate '
                          'paths and member identity); remove it, or set %s: true if you really mean to change it.'
                          % (key, UNSAFE_OPT_IN))
    return {'errors': errors, 'warnings': warnings}


# --------------------------------------------------------------------------
# The PKI guard: one cluster per PKI directory, no silent CA swap, no orphans
# --------------------------------------------------------------------------

def _first_answer(hostvars, play_hosts, key):
    for host in play_hosts or []:
        result = _get(_host(hostvars, host), key) or {}
        if _get(result, 'cluster_id') and _get(result, 'members'):
            return result
    return {}


def _guard_nodes(hostvars, play_hosts, members, live):
    names = dict((m['host'], m['name']) for m in members)
    started = set(pki_guard.live_names(live))
    nodes = {}
    for host in play_hosts or []:
        hv = _host(hostvars, host)
        paths = [f.get('path', '') for f in _get(_get(hv, 'etcd_guard_look') or {}, 'files') or []]
        server = _get(_get(hv, 'etcd_guard_server') or {}, 'content')
        name = names.get(host, host)
        nodes[name] = {'server': base64.b64decode(server) if server else None,
                       'member': any(p.endswith('.wal') for p in paths) or name in started}
    return nodes


def etcd_pki_guard(hostvars, play_hosts, members, cluster_name, pki_dir):
    """Before any certificate is made or written: why this run must stop, and the identity record to write.

    Reads ``<pki_dir>/identity.json`` and ``<pki_dir>/ca-bundle.crt`` on the controller, and per play host the
    registered ``etcd_guard_look`` (find: certificates and WAL files), ``etcd_guard_server`` (slurp of the server
    certificate) and ``etcd_guard_live`` (etcd_info with the node's own certificates). Returns
    ``{'errors': [...], 'record': text or ''}`` (see module_utils/pki/guard.py).
    """
    live = _first_answer(hostvars, play_hosts, 'etcd_guard_live')
    nodes = _guard_nodes(hostvars, play_hosts, members or [], live)
    return pki_guard.guard(pki_dir, cluster_name, members or [], live, nodes)


def etcd_pki_identity(live, pki_dir, cluster_name, members=None):
    """The identity record to write after a change of membership or cluster ID, or '' when the one there is right."""
    try:
        record = pki_guard.read_identity(pki_dir)
    except pki_guard.GuardError as exc:
        raise AnsibleFilterError(str(exc))
    return pki_guard.next_record(record, cluster_name, live or {}, [m['name'] for m in members or []])


# --------------------------------------------------------------------------
# Rolling restarts: the gate before each member and the unit after its restart
# --------------------------------------------------------------------------

def etcd_roll_gate(members, hostvars, play_hosts_all, play_hosts, host):
    """What the health gate at ``host``'s turn of a ``serial: 1`` play checks.

    Unlike ``etcd_expected_endpoints``, the hosts of the play that failed are
    not left out: a member that this run restarted (or that failed) counts
    like any other, so the run cannot go on past it. Returns
    ``endpoints`` and ``voters`` (client URLs and names of every member except
    those that join or are promoted later in the play, which are not up yet),
    ``failed`` (hosts of the play that failed before this turn),
    ``touched_endpoints`` (client URLs of the members this run restarted,
    joined, rolled files onto or that failed before this turn: their being unhealthy stops the run at
    once) and ``untouched`` (the hosts after this one, in play order).
    """
    order = list(play_hosts_all or [])
    alive = list(play_hosts or [])
    index = order.index(host) if host in order else len(order)
    earlier, later = order[:index], order[index + 1:]
    failed = [h for h in earlier if h not in alive]
    skip = joining_hosts(hostvars, later)
    touched = [h for h in earlier if h in failed or _mode(hostvars, h) in JOINING_MODES
               or bool(_get(_host(hostvars, h), 'etcd_restart_needed', False))
               or bool(_get(_host(hostvars, h), 'etcd_rolled', None))]
    kept = [m for m in members or [] if m['host'] not in skip]
    return {
        'endpoints': [m['client_url'] for m in kept],
        'voters': [m['name'] for m in kept],
        'failed': failed,
        'touched_endpoints': [m['client_url'] for m in kept if m['host'] in touched],
        'untouched': later,
    }


REASON_MAX = 300
# Lines of systemd itself about the unit, as journalctl -u shows them.
_SYSTEMD_WORDS = ('etcd.service:', 'Failed to start', 'Started ', 'Stopped ', 'Stopping ', 'Starting ', 'Scheduled restart job',
                  'Main process exited', 'Failed with result', 'Consumed ')
# etcd 3.4's default (capnslog) lines carry a level letter: "... C | etcdmain: ...".
_CAPNSLOG_BAD = (' C | ', ' E | ', ' F | ', ' P | ')
_ZAP_BAD = ('fatal', 'panic', 'dpanic', 'error')
# Under systemd, capnslog writes to journald without the level letter: words that say a line is the error.
_ERROR_WORDS = re.compile(r'\b(error|errors|fatal|panic|failed|fail|invalid|cannot|unknown|unexpected|refused|denied)\b', re.I)


def _unit_properties(show_text):
    if isinstance(show_text, dict):
        return dict((str(k), str(v).strip()) for k, v in show_text.items())
    props = {}
    for line in str(show_text or '').splitlines():
        key, sep, value = line.partition('=')
        if sep:
            props[key.strip()] = value.strip()
    return props


def _trim(text, limit=REASON_MAX):
    text = ' '.join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3].rstrip() + '...'


def _etcd_error(line):
    """The message of an etcd log line at level error or worse, or None."""
    stripped = line.strip()
    if stripped.startswith('{'):
        try:
            entry = yaml.safe_load(stripped)
        except yaml.YAMLError:
            entry = None
        if isinstance(entry, dict) and str(entry.get('level', '')).lower() in _ZAP_BAD:
            parts = [str(entry.get('msg', ''))] + ['%s=%s' % (k, entry[k]) for k in ('error', 'err') if entry.get(k)]
            return ': '.join(p for p in parts if p)
        return None
    for mark in _CAPNSLOG_BAD:
        if mark in stripped:
            return stripped.split(mark, 1)[1]
    return None


def etcd_journal_reason(journal_text, limit=REASON_MAX):
    """The reason etcd gives in ``journalctl -u etcd -o cat`` output, trimmed to ``limit`` characters.

    The last line of etcd's own at level error or worse (a capnslog level
    letter or a zap JSON level); else etcd's last line with a word such as
    error, invalid or unknown (capnslog under journald drops the level
    letter); else etcd's last line that is not systemd's; else systemd's last
    line; '' for no lines.
    """
    lines = [line for line in str(journal_text or '').splitlines() if line.strip() and not line.startswith('-- ')]
    if not lines:
        return ''
    systemd = [line for line in lines if any(word in line for word in _SYSTEMD_WORDS)]
    own = [line for line in lines if line not in systemd]
    for line in reversed(own):
        message = _etcd_error(line)
        if message:
            return _trim(message, limit)
    for line in reversed(own):
        if _ERROR_WORDS.search(line):
            return _trim(line, limit)
    return _trim((own or systemd)[-1], limit)


def etcd_unit_failure(show_text, journal_text='', restart_result=None):
    """Whether etcd's unit failed or loops after a restart, and why.

    ``show_text``: the unit's properties after the restart, as the
    ``status`` that ``ansible.builtin.systemd_service`` returns (a dict) or
    the output of ``systemctl show etcd`` (``Key=value`` lines), with
    ActiveState, SubState, NRestarts and Result; ``journal_text``: ``journalctl -u etcd -o cat`` since just before
    it; ``restart_result``: the registered restart (a failed restart counts as
    a failure). Returns ``failed``, ``state`` (``ActiveState/SubState``),
    ``restarts`` (automatic restarts since the restart), ``result`` and
    ``reason`` (from the journal, trimmed; '' when it did not fail).
    """
    props = _unit_properties(show_text)
    active, sub = props.get('ActiveState', ''), props.get('SubState', '')
    result = props.get('Result', '')
    restarts = _as_int(props.get('NRestarts')) or 0
    restart_failed = bool(_get(restart_result or {}, 'failed', False))
    # Type=notify: once the restart returned, a member that came back is active/running and has not looped.
    failed = restart_failed or (active, sub) != ('active', 'running') or restarts > 0 or result not in ('', 'success')
    reason = ''
    if failed:
        reason = etcd_journal_reason(journal_text)
        if not reason:
            reason = _trim(_get(restart_result or {}, 'msg', '') or 'etcd wrote nothing to the journal')
    return {'failed': failed, 'state': '%s/%s' % (active or '?', sub or '?'), 'restarts': restarts,
            'result': result or '?', 'reason': reason}


class FilterModule(object):
    """The etcd role's decisions."""

    def filters(self):
        return {
            'etcd_url': etcd_url,
            'etcd_members': etcd_members,
            'etcd_initial_cluster': etcd_initial_cluster,
            'etcd_client_urls': etcd_client_urls,
            'etcd_hosts_named': etcd_hosts_named,
            'etcd_cert_specs': etcd_cert_specs,
            'etcd_file_contents': etcd_file_contents,
            'etcd_files_to_write': etcd_files_to_write,
            'etcd_member_plan': etcd_member_plan,
            'etcd_started_endpoints': etcd_started_endpoints,
            'etcd_join_via': etcd_join_via,
            'etcd_expected_endpoints': etcd_expected_endpoints,
            'etcd_restart_needed': etcd_restart_needed,
            'etcd_run_changed': etcd_run_changed,
            'etcd_remove_via': etcd_remove_via,
            'etcd_snapshots_to_delete': etcd_snapshots_to_delete,
            'etcd_renewed_hosts': etcd_renewed_hosts,
            'etcd_config_problems': etcd_config_problems,
            'etcd_pki_guard': etcd_pki_guard,
            'etcd_pki_identity': etcd_pki_identity,
            'etcd_roll_gate': etcd_roll_gate,
            'etcd_journal_reason': etcd_journal_reason,
            'etcd_unit_failure': etcd_unit_failure,
        }
