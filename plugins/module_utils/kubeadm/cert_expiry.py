# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# The expiry report and renewal choice of playbooks/kube_certs.yml (role kube_certs):
#
# - parse_check_expiration: the text of ``kubeadm certs check-expiration`` (its two
#   tables, CERTIFICATE / EXPIRES / RESIDUAL TIME / CERTIFICATE AUTHORITY /
#   EXTERNALLY MANAGED and the CA table, text/tabwriter-aligned, with
#   ``!MISSING! <name>`` rows) as a list of entries;
# - etcd_certificates: the etcd role's certificates on a node (PEM read from the
#   node), through the PKI helpers cert_bundle uses;
# - plan: what to renew (inside the window, or everything kubeadm can renew with
#   force) and why not the rest;
# - table_lines: the report, one table per node;
# - renewal_check: after a renewal, did every renewed certificate move forward?
#
# Pure functions on text and dicts; nothing here reads files or runs programs.

import base64
import binascii
import datetime
import re

from ansible_collections.ironstone.k8s.plugins.module_utils.kubeadm.config import KubeadmConfigError

CERT_HEADER = ('CERTIFICATE', 'EXPIRES', 'RESIDUAL TIME', 'CERTIFICATE AUTHORITY', 'EXTERNALLY MANAGED')
CA_HEADER = ('CERTIFICATE AUTHORITY', 'EXPIRES', 'RESIDUAL TIME', 'EXTERNALLY MANAGED')
MISSING = '!MISSING! '
MONTHS = ('Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec')
# Go's "Jan 02, 2006 15:04 MST" of a UTC time.
EXPIRES_RE = re.compile(r'^(?P<mon>[A-Z][a-z]{2}) (?P<day>\d{2}), (?P<year>\d{4}) (?P<hour>\d{2}):(?P<minute>\d{2}) (?P<zone>\S+)$')
# The etcd role's files in kubeadm's external-etcd layout, relative to the PKI directory:
# the CA bundle and member certificates on etcd members, the API server's client on control-plane nodes.
ETCD_MEMBER_FILES = (('etcd-ca', 'etcd/ca.crt'), ('etcd-server', 'etcd/server.crt'), ('etcd-peer', 'etcd/peer.crt'),
                     ('etcd-healthcheck-client', 'etcd/healthcheck-client.crt'))
ETCD_CLIENT_FILES = (('etcd-ca', 'etcd/ca.crt'), ('apiserver-etcd-client', 'apiserver-etcd-client.crt'))
ETCD_PLAYBOOK = 'etcd_renew_certs.yml'


class CertExpiryError(KubeadmConfigError):
    """The check-expiration text or an input cannot be used; the message says which and why."""


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def _iso(moment):
    return moment.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def _parse_iso(text, what):
    try:
        return datetime.datetime.strptime(text, '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError):
        raise CertExpiryError('%s is not a time like 2026-01-31T12:00:00Z: %r' % (what, text))


def _now(now):
    if now is None or now == '':
        return _utcnow()
    if isinstance(now, datetime.datetime):
        return now if now.tzinfo else now.replace(tzinfo=datetime.timezone.utc)
    return _parse_iso(now, 'now')


def parse_expires(text):
    """kubeadm's EXPIRES cell ("Dec 30, 2026 23:36 UTC") as an aware datetime."""
    match = EXPIRES_RE.match(text or '')
    if not match or match.group('mon') not in MONTHS:
        raise CertExpiryError('kubeadm certs check-expiration printed an EXPIRES value this collection cannot read: %r' % (text,))
    if match.group('zone') != 'UTC':
        raise CertExpiryError('kubeadm certs check-expiration printed an expiry in time zone %s (%r); kubeadm prints '
                              'certificate times in UTC' % (match.group('zone'), text))
    try:
        return datetime.datetime(int(match.group('year')), MONTHS.index(match.group('mon')) + 1, int(match.group('day')),
                                 int(match.group('hour')), int(match.group('minute')), tzinfo=datetime.timezone.utc)
    except ValueError:
        raise CertExpiryError('kubeadm certs check-expiration printed an impossible date: %r' % (text,))


def format_expires(moment):
    """The inverse of parse_expires (minutes, UTC)."""
    moment = moment.astimezone(datetime.timezone.utc)
    return '%s %02d, %04d %02d:%02d UTC' % (MONTHS[moment.month - 1], moment.day, moment.year, moment.hour, moment.minute)


def short_human_duration(seconds):
    """Kubernetes' ShortHumanDuration (what kubeadm prints as RESIDUAL TIME)."""
    seconds = int(seconds)
    if seconds < -1:
        return '<invalid>'
    if seconds < 0:
        return '0s'
    if seconds < 60:
        return '%ds' % seconds
    minutes = seconds // 60
    if minutes < 60:
        return '%dm' % minutes
    hours = minutes // 60
    if hours < 24:
        return '%dh' % hours
    if hours < 24 * 365:
        return '%dd' % (hours // 24)
    return '%dy' % (hours // 24 // 365)


def _header_columns(line, header):
    """Start offsets of the header's titles in ``line``, or None when the line is not that header."""
    if ' '.join(line.split()) != ' '.join(header):
        return None
    starts, pos = [], 0
    for title in header:
        pos = line.index(title, pos)
        starts.append(pos)
        pos += len(title)
    return starts


def _cells(line, starts, lineno):
    cells = []
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else None
        if index and len(line) > start and line[start - 1] != ' ':
            raise CertExpiryError('line %d of kubeadm certs check-expiration is not aligned with its header: %r' % (lineno, line))
        cells.append(line[start:end].strip())
    return cells


def _yes_no(value, lineno):
    if value not in ('yes', 'no'):
        raise CertExpiryError('line %d of kubeadm certs check-expiration has EXTERNALLY MANAGED %r, not yes or no' % (lineno, value))
    return value == 'yes'


def _entry(cells, is_ca, lineno):
    name = cells[0]
    if name.startswith(MISSING):
        name = name[len(MISSING):].strip()
        if not name or any(cells[1:]):
            raise CertExpiryError('line %d of kubeadm certs check-expiration is a !MISSING! row with more than a name' % lineno)
        return {'name': name, 'missing': True, 'expires': None, 'expires_text': '', 'residual': '',
                'ca': None, 'externally_managed': None}
    if not name or ' ' in name:
        raise CertExpiryError('line %d of kubeadm certs check-expiration has no certificate name: %r' % (lineno, cells))
    expires_text, residual = cells[1], cells[2]
    expires = parse_expires(expires_text)
    ca = None if is_ca else cells[3]
    if not is_ca and not ca:
        raise CertExpiryError('line %d of kubeadm certs check-expiration (%s) names no certificate authority' % (lineno, name))
    return {'name': name, 'missing': False, 'expires': _iso(expires), 'expires_text': expires_text, 'residual': residual,
            'ca': ca, 'externally_managed': _yes_no(cells[-1], lineno)}


def parse_check_expiration(text):
    """The entries of ``kubeadm certs check-expiration``'s text output.

    Returns {'certificates': [...], 'authorities': [...]}: per row name, missing, expires (ISO 8601,
    UTC, minutes as kubeadm prints them), expires_text, residual, ca (certificates only) and
    externally_managed. Lines outside the two tables ("[check-expiration] Reading configuration ...")
    are ignored; a text without the certificate table, a row out of line with its header, an
    unknown time format or a name seen twice is refused.
    """
    if isinstance(text, bytes):
        text = text.decode('utf-8', 'replace')
    if not isinstance(text, str):
        raise CertExpiryError('the output of kubeadm certs check-expiration must be text, not %s' % type(text).__name__)
    result = {'certificates': None, 'authorities': None}
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index].rstrip('\r')
        for key, header in (('certificates', CERT_HEADER), ('authorities', CA_HEADER)):
            starts = _header_columns(line, header)
            if starts is None:
                continue
            if result[key] is not None:
                raise CertExpiryError('kubeadm certs check-expiration printed the %s table twice' % key)
            rows, seen = [], set()
            index += 1
            while index < len(lines) and lines[index].strip():
                entry = _entry(_cells(lines[index].rstrip('\r'), starts, index + 1), key == 'authorities', index + 1)
                if entry['name'] in seen:
                    raise CertExpiryError('kubeadm certs check-expiration lists %s twice' % entry['name'])
                seen.add(entry['name'])
                rows.append(entry)
                index += 1
            result[key] = rows
            break
        index += 1
    if result['certificates'] is None:
        first = [ln for ln in lines if ln.strip()][:3]
        raise CertExpiryError('the output of kubeadm certs check-expiration has no CERTIFICATE table (it began with %r); '
                              'run it on the node to see why' % (first,))
    result['authorities'] = result['authorities'] or []
    return result


def etcd_files(pki_dir, etcd_member):
    """(name, path) of the etcd role's certificates on a node: the member's (etcd group) or the API server's client."""
    pki_dir = (pki_dir or '').rstrip('/')
    if not pki_dir.startswith('/'):
        raise CertExpiryError('the PKI directory must be an absolute path, not %r' % (pki_dir,))
    files = list(ETCD_MEMBER_FILES) + [ETCD_CLIENT_FILES[1]] if etcd_member else list(ETCD_CLIENT_FILES)
    return [{'name': name, 'path': '%s/%s' % (pki_dir, rel)} for name, rel in files]


def etcd_certificates(files):
    """Expiry entries of the etcd role's certificate files.

    ``files``: dicts with name, path and either content (base64 of the PEM file, as slurp returns it)
    or error (why it could not be read). A CA bundle gives one entry per certificate: the current CA
    as ``etcd-ca``, older ones kept for a rotation overlap as ``etcd-ca (2 of 2)`` and so on.
    Uses the PKI helpers of cert_bundle (module_utils/pki/crypto.py).
    """
    from ansible_collections.ironstone.k8s.plugins.module_utils.pki import crypto
    if not crypto.HAS_CRYPTOGRAPHY:
        raise CertExpiryError('the Python library cryptography is required on the controller')
    if not isinstance(files, list):
        raise CertExpiryError('the etcd certificate files must be a list, not %s' % type(files).__name__)
    entries = []
    for item in files:
        if not isinstance(item, dict) or not item.get('name') or not item.get('path'):
            raise CertExpiryError('each etcd certificate file needs a name and a path, not %r' % (item,))
        base = {'name': item['name'], 'path': item['path'], 'ca': 'etcd-ca', 'externally_managed': True,
                'missing': False, 'error': None, 'expires': None, 'expires_text': '', 'residual': '', 'serial': None}
        if item.get('content') is None:
            base.update(missing=True, error=str(item.get('error') or 'not found'))
            entries.append(base)
            continue
        try:
            data = base64.b64decode(item['content'], validate=False)
        except (binascii.Error, ValueError, TypeError):
            data = b''
        certs = crypto.split_pem(data)
        if not certs:
            base.update(missing=True, error='not a PEM certificate')
            entries.append(base)
            continue
        for position, cert in enumerate(certs):
            entry = dict(base)
            if position:
                entry['name'] = '%s (%d of %d)' % (item['name'], position + 1, len(certs))
            moment = crypto.not_after(cert)
            entry.update(expires=_iso(moment), expires_text=format_expires(moment), serial=crypto.serial(cert))
            entries.append(entry)
    return entries


def _check_window(renew_before_days):
    if isinstance(renew_before_days, bool):
        raise CertExpiryError('kube_certs_renew_before_days must be a whole number of days, not %r' % (renew_before_days,))
    try:
        days = int(renew_before_days)
    except (TypeError, ValueError):
        raise CertExpiryError('kube_certs_renew_before_days must be a whole number of days, not %r' % (renew_before_days,))
    if str(days) != str(renew_before_days).strip() or days < 1:
        raise CertExpiryError('kube_certs_renew_before_days must be a whole number of days of at least 1, not %r' % (renew_before_days,))
    return days


def _days(seconds):
    return int(seconds // 86400)


def plan(kubeadm, etcd=None, renew_before_days=60, force=False, now=None):
    """What to renew on one control-plane node, and the state of every other certificate.

    ``kubeadm``: parse_check_expiration's result; ``etcd``: etcd_certificates' entries (shown, never
    renewed here: etcd_renew_certs.yml does that). A kubeadm certificate is renewed when it expires
    within ``renew_before_days`` or, with ``force``, whatever its expiry; never when it is missing or
    externally managed (its CA key is not on the node), which kubeadm cannot renew.

    Returns rows (every certificate, CA and etcd certificate with source, kind, days_left, due and
    action: renew, keep, missing, external, ca or etcd), renew (names), targets (the arguments of
    ``kubeadm certs renew``: ``all`` with force, else the names), due, missing, external, etcd_due
    and ca_due (names) and warnings (sentences about what is due but not renewed here).
    """
    if not isinstance(kubeadm, dict) or not isinstance(kubeadm.get('certificates'), list):
        raise CertExpiryError('the kubeadm entries must be the result of kube_certs_parse')
    window = _check_window(renew_before_days)
    if not isinstance(force, bool):
        raise CertExpiryError('force must be true or false, not %r' % (force,))
    moment = _now(now)
    limit = window * 86400
    rows = []

    def timing(entry):
        if entry.get('missing') or not entry.get('expires'):
            return None, None, False
        seconds = int((_parse_iso(entry['expires'], 'expires of %s' % entry['name']) - moment).total_seconds())
        return seconds, _days(seconds), seconds < limit

    for entry in kubeadm['certificates']:
        seconds, days_left, due = timing(entry)
        row = dict(entry, source='kubeadm', kind='certificate', seconds_left=seconds, days_left=days_left, due=due)
        if entry.get('missing'):
            row.update(action='missing', note='kubeadm finds no such file, so it cannot renew it')
        elif entry.get('externally_managed'):
            row.update(action='external', note='externally managed: its CA key (%s) is not on this node' % entry['ca'])
        elif force:
            row.update(action='renew', note='forced, %s' % ('%dd left' % days_left if not due else 'within %dd' % window))
        elif due:
            row.update(action='renew', note='expires within %dd' % window if seconds >= 0 else 'expired')
        else:
            row.update(action='keep', note='%dd left, outside the %dd window' % (days_left, window))
        rows.append(row)
    for entry in kubeadm.get('authorities') or []:
        seconds, days_left, due = timing(entry)
        row = dict(entry, ca=None, source='kubeadm', kind='authority', seconds_left=seconds, days_left=days_left, due=due)
        if entry.get('missing'):
            note = 'missing'
        elif due:
            note = 'CA expires within %dd: kubeadm certs renew does not renew CAs, rotate it by hand' % window
        else:
            note = 'CAs are not renewed by kubeadm certs renew'
        row.update(action='ca', note=note)
        rows.append(row)
    for entry in etcd or []:
        seconds, days_left, due = timing(entry)
        row = dict(entry, source='etcd', kind='authority' if entry['name'].startswith('etcd-ca') else 'certificate',
                   seconds_left=seconds, days_left=days_left, due=due)
        if entry.get('missing'):
            note = 'unreadable: %s' % entry.get('error') if entry.get('error') not in (None, 'not found') else 'missing'
        elif due:
            note = 'expires within %dd: run %s' % (window, ETCD_PLAYBOOK)
        else:
            note = 'renewed by %s' % ETCD_PLAYBOOK
        row.update(action='etcd', note=note)
        rows.append(row)

    renew = [r['name'] for r in rows if r['action'] == 'renew']
    due = [r['name'] for r in rows if r['source'] == 'kubeadm' and r['kind'] == 'certificate' and r['due']]
    etcd_due = [r['name'] for r in rows if r['source'] == 'etcd' and r['due']]
    ca_due = [r['name'] for r in rows if r['action'] == 'ca' and r['due']]
    external_due = [r['name'] for r in rows if r['action'] == 'external' and r['due']]
    warnings = []
    if etcd_due:
        warnings.append('The etcd certificates %s expire within %d days: run %s.' % (', '.join(etcd_due), window, ETCD_PLAYBOOK))
    if ca_due:
        warnings.append('The CAs %s expire within %d days: kubeadm certs renew does not renew CAs; rotate them by hand '
                        '(kubeadm\'s manual certificate rotation).' % (', '.join(ca_due), window))
    if external_due:
        warnings.append('%s expire within %d days but are externally managed (their CA key is not on this node): renew them '
                        'with that CA.' % (', '.join(external_due), window))
    return {
        'rows': rows,
        'renew': renew,
        'targets': (['all'] if force else renew) if renew else [],
        'due': due,
        'missing': [r['name'] for r in rows if r['source'] == 'kubeadm' and r['missing']],
        'external': [r['name'] for r in rows if r['action'] == 'external'],
        'etcd_due': etcd_due,
        'ca_due': ca_due,
        'warnings': warnings,
        'window_days': window,
        'force': force,
        'now': _iso(moment),
    }


def tabulate(rows, minwidth=10, padding=3):
    """Columns aligned as kubeadm aligns them (text/tabwriter: minimum width 10, padding 3)."""
    widths = []
    for row in rows:
        for index, cell in enumerate(row[:-1]):
            width = max(minwidth, len(cell) + padding)
            if index >= len(widths):
                widths.append(width)
            else:
                widths[index] = max(widths[index], width)
    return [''.join(cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])) + row[-1] for row in rows]


def _action_text(row, check_mode):
    if row['action'] == 'renew':
        return '%s (%s)' % ('WOULD RENEW' if check_mode else 'RENEW', row['note'])
    return '%s (%s)' % ({'keep': 'keep', 'missing': 'MISSING', 'external': 'cannot renew', 'ca': 'keep',
                         'etcd': 'etcd role'}[row['action']], row['note'])


def table_lines(result, host, check_mode=False):
    """The report of one node: a title line, the certificate table and the CA table.

    The title reads "Certificate expiry on HOST (...)"; each row ends with its SOURCE (kubeadm or
    etcd) and what this run does with it.
    """
    if not isinstance(result, dict) or not isinstance(result.get('rows'), list):
        raise CertExpiryError('the report needs the result of kube_certs_plan')
    moment = _parse_iso(result['now'], 'now')
    verb = 'would renew' if check_mode else 'renews'
    title = 'Certificate expiry on %s (kubeadm certs check-expiration and the etcd role\'s certificates, %s); window %dd%s: %s %s' % (
        host, format_expires(moment), result['window_days'], ', force' if result['force'] else '',
        verb, ', '.join(result['renew']) if result['renew'] else 'nothing')

    def cells(row, with_ca):
        if row['missing']:
            expires, residual = '', ''
        else:
            expires = row['expires_text'] or format_expires(_parse_iso(row['expires'], 'expires'))
            residual = short_human_duration(row['seconds_left'])
        base = [('!MISSING! ' if row['missing'] else '') + row['name'], expires, residual]
        if with_ca:
            base.append(row['ca'] or '')
        return base + [row['source'], _action_text(row, check_mode)]

    certs = [r for r in result['rows'] if r['kind'] == 'certificate']
    cas = [r for r in result['rows'] if r['kind'] == 'authority']
    lines = [title, '']
    lines += tabulate([['CERTIFICATE', 'EXPIRES', 'RESIDUAL TIME', 'CERTIFICATE AUTHORITY', 'SOURCE', 'ACTION']]
                      + [cells(r, True) for r in certs])
    lines.append('')
    lines += tabulate([['CERTIFICATE AUTHORITY', 'EXPIRES', 'RESIDUAL TIME', 'SOURCE', 'ACTION']] + [cells(r, False) for r in cas])
    return [line.rstrip() for line in lines]


def renewal_check(before, after, now=None):
    """Whether a renewal did what was planned: every renewed certificate moved forward.

    ``before``: plan's result from before the renewal; ``after``: parse_check_expiration's result
    from after it. Returns problems (sentences; empty when all is well) and changes (one line per
    renewed certificate: name, old and new expiry).
    """
    if not isinstance(before, dict) or 'renew' not in before:
        raise CertExpiryError('the first argument must be the result of kube_certs_plan')
    if not isinstance(after, dict) or not isinstance(after.get('certificates'), list):
        raise CertExpiryError('the second argument must be the result of kube_certs_parse')
    moment = _now(now)
    old = dict((r['name'], r) for r in before['rows'] if r['source'] == 'kubeadm' and r['kind'] == 'certificate')
    new = dict((e['name'], e) for e in after['certificates'])
    problems, changes = [], []
    for name in before['renew']:
        entry = new.get(name)
        if entry is None or entry['missing']:
            problems.append('%s is missing after the renewal' % name)
            continue
        was = _parse_iso(old[name]['expires'], 'expires')
        now_expires = _parse_iso(entry['expires'], 'expires')
        changes.append('%s: %s -> %s' % (name, old[name]['expires_text'], entry['expires_text']))
        if now_expires < was:
            problems.append('%s expires earlier after the renewal (%s) than before (%s)'
                            % (name, entry['expires_text'], old[name]['expires_text']))
        elif (now_expires - moment).total_seconds() < before['window_days'] * 86400:
            problems.append('%s still expires within the %dd window after the renewal (%s): is kubeadm\'s certificate validity '
                            'shorter than kube_certs_renew_before_days?' % (name, before['window_days'], entry['expires_text']))
    return {'problems': problems, 'changes': changes}
