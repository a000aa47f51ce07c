# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE)
"""Background writer and its report, for the Molecule scenario etcd_ops.

Runs on the controller against the real etcd members of the scenario, through
etcd's v3 JSON gateway over mutual TLS, with the Python standard library only.

  write   puts sequential keys (/ironstone-ops/w/00000001, ...) until SIGTERM.
          Its endpoints are the client URLs of the started voting members,
          synced from the member list every --sync-interval seconds (as
          etcd's clientv3 does), starting from the --endpoint URLs given.
          Write n starts at endpoint n mod N (round robin over the endpoints)
          and, when that endpoint cannot answer (connection, TLS, timeout,
          "unavailable", no leader), goes on to the next one, the way a client
          with several endpoints fails over. A write FAILS when no endpoint
          acknowledged it within --deadline seconds. Every write is logged as
          one JSON line: start and end time, key, ok, endpoint, revision and
          cluster id of the answer, and every error met on the way.
          The CA bundle and the client certificate are read again whenever
          their files change (a CA rotation, a renewed client certificate).
  mark    appends an operation event (start or end) to the operations log,
          with the cluster as seen at that moment (members, voters, healthy).
  wait    waits until a given number of voting members are all healthy.
  report  reads every key back from every member given and prints, per
          operation window: writes, failed writes, retried attempts, the
          longest gap between successful writes, keys lost and time taken.
"""
from __future__ import absolute_import, division, print_function

import argparse
import base64
import http.client
import json
import os
import signal
import socket
import ssl
import sys
import time
from urllib.parse import urlsplit

PREFIX = '/ironstone-ops/w/'


def b64(text):
    return base64.b64encode(text.encode('utf-8')).decode('ascii')


def unb64(text):
    return base64.b64decode(text).decode('utf-8')


def prefix_end(prefix):
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


class Unavailable(Exception):
    """The endpoint could not answer; try another one."""


class Client(object):
    """HTTPS JSON calls with a client certificate; files re-read when they change."""

    def __init__(self, ca_file, cert_file, key_file, timeout):
        self.files = (ca_file, cert_file, key_file)
        self.timeout = timeout
        self.context = None
        self.stamp = None
        self.connections = {}

    def _stamp(self):
        return tuple(os.stat(path).st_mtime_ns for path in self.files)

    def ssl_context(self):
        """The TLS context, built again when a file changed; a half-written file keeps the old one for now."""
        try:
            stamp = self._stamp()
        except OSError:
            stamp = self.stamp
        if self.context is None or stamp != self.stamp:
            try:
                context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.files[0])
                context.load_cert_chain(self.files[1], self.files[2])
            except (ssl.SSLError, OSError, ValueError):
                if self.context is None:
                    raise
                return self.context
            self.context, self.stamp = context, stamp
            for conn in self.connections.values():
                conn.close()
            self.connections = {}
        return self.context

    def drop(self, endpoint):
        conn = self.connections.pop(endpoint, None)
        if conn is not None:
            conn.close()

    def call(self, endpoint, path, body, timeout=None):
        """POST JSON; return the answer, raise Unavailable or RuntimeError."""
        context = self.ssl_context()
        raw, response = b'', None
        for fresh in (False, True):
            conn = self.connections.get(endpoint)
            reused = conn is not None
            try:
                if conn is None:
                    # A short connect timeout (a node that is gone answers nothing), a longer one for the answer.
                    parts = urlsplit(endpoint)
                    conn = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=min(1.0, timeout or self.timeout), context=context)
                    self.connections[endpoint] = conn
                    conn.connect()
                    conn.sock.settimeout(timeout or self.timeout)
                conn.request('POST', '/v3/' + path, body=json.dumps(body), headers={'Content-Type': 'application/json'})
                response = conn.getresponse()
                raw = response.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                # A kept-alive connection the server closed meanwhile: once more on a new one.
                self.drop(endpoint)
                if fresh or not reused:
                    raise Unavailable('%s: %s' % (type(exc).__name__, exc))
            except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
                self.drop(endpoint)
                raise Unavailable('%s: %s' % (type(exc).__name__, exc))
        try:
            data = json.loads(raw.decode('utf-8'))
        except ValueError:
            data = {'error': raw[:200].decode('utf-8', 'replace')}
        if response.status != 200:
            message = data.get('message') or data.get('error') or ('HTTP %d' % response.status)
            if response.status >= 500 or data.get('code') in (4, 14):
                raise Unavailable('HTTP %d: %s' % (response.status, message))
            raise RuntimeError('HTTP %d: %s' % (response.status, message))
        return data


# --------------------------------------------------------------------------
# write
# --------------------------------------------------------------------------

def sync_endpoints(client, endpoints, down_until):
    """Client URLs of the started voting members, asked of the cluster (clientv3's endpoint sync)."""
    now = time.time()
    for endpoint in [e for e in endpoints if down_until.get(e, 0) <= now] + [e for e in endpoints if down_until.get(e, 0) > now]:
        try:
            answer = client.call(endpoint, 'cluster/member/list', {})
        except (Unavailable, RuntimeError):
            continue
        urls = []
        for member in answer.get('members') or []:
            if member.get('name') and not member.get('isLearner'):
                urls.extend(u.rstrip('/') for u in member.get('clientURLs') or [])
        if urls:
            return sorted(urls)
    return endpoints


def write(args):
    client = Client(args.ca, args.cert, args.key, args.attempt_timeout)
    down_until = {}
    endpoints = sync_endpoints(client, list(args.endpoints), down_until)
    synced = time.time()
    stop = {'now': False}

    def on_term(signum, frame):  # pylint: disable=unused-argument
        stop['now'] = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    started = time.time()
    number = 0
    with open(args.log, 'a') as log:
        while not stop['now'] and time.time() - started < args.max_seconds:
            if time.time() - synced >= args.sync_interval:
                endpoints = sync_endpoints(client, endpoints, down_until)
                synced = time.time()
            number += 1
            key = '%s%08d' % (PREFIX, number)
            t0 = time.time()
            value = json.dumps({'n': number, 't': t0})
            record = {'n': number, 'key': key, 't0': round(t0, 4), 'ok': False, 'errors': []}
            first = number % len(endpoints)
            order = endpoints[first:] + endpoints[:first]
            while not record['ok'] and time.time() - t0 < args.deadline:
                now = time.time()
                # Endpoints that failed in the last seconds go last (a client balancer does the same).
                for endpoint in [e for e in order if down_until.get(e, 0) <= now] + [e for e in order if down_until.get(e, 0) > now]:
                    if time.time() - t0 >= args.deadline:
                        break
                    try:
                        answer = client.call(endpoint, 'kv/put', {'key': b64(key), 'value': b64(value)})
                    except (Unavailable, RuntimeError) as exc:
                        down_until[endpoint] = time.time() + 3.0
                        record['errors'].append([round(time.time(), 4), endpoint, str(exc)[:160]])
                        continue
                    header = answer.get('header') or {}
                    record.update(ok=True, endpoint=endpoint, rev=int(header.get('revision') or 0),
                                  cluster=header.get('cluster_id'))
                    break
                if not record['ok']:
                    time.sleep(0.1)
            record['t1'] = round(time.time(), 4)
            log.write(json.dumps(record) + '\n')
            log.flush()
            if record['ok']:
                time.sleep(args.interval)
    return 0


# --------------------------------------------------------------------------
# cluster state (mark, wait)
# --------------------------------------------------------------------------

def cluster_state(client, endpoints):
    """Members, voters and the healthy members, as seen from the endpoints."""
    state = {'members': [], 'voters': 0, 'learners': 0, 'healthy': [], 'cluster': None, 'errors': []}
    members = None
    for endpoint in endpoints:
        try:
            answer = client.call(endpoint, 'cluster/member/list', {}, timeout=3)
        except (Unavailable, RuntimeError) as exc:
            state['errors'].append('%s: %s' % (endpoint, exc))
            continue
        members = answer.get('members') or []
        state['cluster'] = (answer.get('header') or {}).get('cluster_id')
        break
    if members is None:
        return state
    for member in members:
        name = member.get('name') or '(unstarted %s)' % member.get('ID')
        learner = bool(member.get('isLearner'))
        state['members'].append({'name': name, 'id': member.get('ID'), 'learner': learner})
        state['learners' if learner else 'voters'] += 1
        for url in member.get('clientURLs') or []:
            try:
                client.call(url, 'kv/range', {'key': b64('health')}, timeout=3)
            except (Unavailable, RuntimeError) as exc:
                state['errors'].append('%s: %s' % (url, exc))
                continue
            state['healthy'].append(name)
            break
    return state


def mark(args):
    client = Client(args.ca, args.cert, args.key, 3)
    event = {'op': args.op, 'event': args.event, 't': round(time.time(), 4)}
    event.update(cluster_state(client, args.endpoints))
    for note in args.note or []:
        name, value = note.split('=', 1)
        event[name] = int(value) if value.isdigit() else value
    with open(args.ops_log, 'a') as log:
        log.write(json.dumps(event) + '\n')
    print(json.dumps(event))
    return 0


def wait(args):
    client = Client(args.ca, args.cert, args.key, 3)
    deadline = time.time() + args.timeout
    while True:
        state = cluster_state(client, args.endpoints)
        if state['voters'] == args.voters and state['learners'] == 0 and len(state['healthy']) == args.voters:
            print(json.dumps(state))
            return 0
        if time.time() > deadline:
            print(json.dumps(state))
            sys.stderr.write('the cluster did not get %d healthy voting members within %d s\n' % (args.voters, args.timeout))
            return 1
        time.sleep(2)


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------

def read_keys(client, endpoint):
    answer = client.call(endpoint, 'kv/range', {'key': b64(PREFIX), 'range_end': b64(prefix_end(PREFIX)), 'keys_only': True,
                                                'serializable': True}, timeout=60)
    return set(unb64(kv['key']) for kv in answer.get('kvs') or [])


def load_lines(path):
    out = []
    with open(path) as handle:
        for line in handle:
            line = line.strip()
            if line:
                out.append(json.loads(line))
    return out


def windows_from(events):
    """[(op, start event, end event)] in the order the operations started."""
    starts = {}
    result = []
    for event in events:
        if event['event'] == 'start':
            starts[event['op']] = event
        elif event['event'] == 'end' and event['op'] in starts:
            result.append((event['op'], starts.pop(event['op']), event))
    return result


def longest_gap(ok_times, start, end):
    """(seconds, from, to): the longest time inside [start, end] without an acknowledged write."""
    points = [start] + [t for t in ok_times if start <= t <= end] + [end]
    return max((b - a, a, b) for a, b in zip(points, points[1:]))


def classify(writes, present, windows):
    """Split OK keys into kept, rolled back by a restore (expected) and lost.

    A key is rolled back as expected when it was written to the cluster that a
    restore replaced (same cluster id as at the restore's start), after the
    revision of the snapshot it restored, and no member has it. Any other OK
    key that some member misses is lost.
    """
    restores = [(start, end, start.get('snapshot_revision', end.get('snapshot_revision'))) for _op, start, end in windows
                if 'snapshot_revision' in start or 'snapshot_revision' in end]
    lost, rolled_back = [], []
    for write in writes:
        if not write['ok']:
            continue
        missing = [name for name, keys in present.items() if write['key'] not in keys]
        if not missing:
            continue
        expected = False
        for start, end, revision in restores:
            if (len(missing) == len(present) and write['t1'] <= end['t'] and write.get('cluster') == start.get('cluster')
                    and write['rev'] > revision):
                expected = True
        (rolled_back if expected else lost).append((write, missing))
    return lost, rolled_back


def report(args):
    client = Client(args.ca, args.cert, args.key, 10)
    writes = load_lines(args.writer_log)
    events = load_lines(args.ops_log)
    windows = windows_from(events)
    present = {}
    wanted = set(w['key'] for w in writes if w['ok'])
    for attempt in range(5):
        for endpoint in args.read_from:
            present[endpoint] = read_keys(client, endpoint)
        if all(wanted <= keys for keys in present.values()) or attempt == 4:
            break
        time.sleep(2)
    lost, rolled_back = classify(writes, present, windows)
    lost_keys = set(w['key'] for w, _m in lost)
    rolled_keys = set(w['key'] for w, _m in rolled_back)
    ok_times = sorted(w['t1'] for w in writes if w['ok'])

    rows = []
    covered = set()
    for op, start, end in windows:
        inside = [w for w in writes if start['t'] <= w['t0'] <= end['t']]
        covered.update(w['n'] for w in inside)
        rows.append(summarize(op, inside, start['t'], end['t'], ok_times, lost_keys, rolled_keys, end))
    between = [w for w in writes if w['n'] not in covered]
    first, last = (writes[0]['t0'], writes[-1]['t1']) if writes else (0, 0)
    rows.append(summarize('(between operations)', between, None, None, [], lost_keys, rolled_keys, None))
    rows.append(summarize('whole run', writes, first, last, ok_times, lost_keys, rolled_keys, events[-1] if events else None))

    lines = render(rows, args, writes, present, rolled_back, lost)
    text = '\n'.join(lines) + '\n'
    sys.stdout.write(text)
    if args.out:
        with open(args.out, 'w') as handle:
            handle.write(text)
    if args.json_out:
        with open(args.json_out, 'w') as handle:
            json.dump({'rows': rows, 'lost': [w['key'] for w, _m in lost], 'rolled_back': len(rolled_back),
                       'members_read': sorted(present)}, handle, indent=1)
    return 0


def summarize(op, writes, start, end, ok_times, lost_keys, rolled_keys, end_event):
    ok = [w for w in writes if w['ok']]
    failed = [w for w in writes if not w['ok']]
    row = {
        'op': op,
        'writes': len(writes),
        'ok': len(ok),
        'failed': len(failed),
        'retried': sum(len(w['errors']) for w in ok),
        'lost': len([w for w in ok if w['key'] in lost_keys]),
        'rolled_back': len([w for w in ok if w['key'] in rolled_keys]),
        'gap': None,
        'gap_from': None,
        'gap_to': None,
        'seconds': round(end - start, 1) if start is not None and end is not None else None,
        'members': None,
        'healthy': None,
        'first_failure': None,
        'last_failure': None,
    }
    if start is not None and end is not None and end > start:
        gap, row['gap_from'], row['gap_to'] = longest_gap(ok_times, start, end)
        row['gap'] = round(gap, 2)
    if failed:
        row['first_failure'] = failed[0]['t0']
        row['last_failure'] = failed[-1]['t1']
    if end_event is not None:
        row['members'] = '%d (%d voting)' % (len(end_event['members']), end_event['voters'])
        row['healthy'] = '%d/%d' % (len(end_event['healthy']), len(end_event['members']))
    return row


def render(rows, args, writes, present, rolled_back, lost):
    header = ('operation', 'time s', 'writes', 'failed', 'retried', 'longest gap s', 'keys lost', 'members after', 'healthy')
    table = [header]
    for row in rows:
        table.append((row['op'], fmt(row['seconds']), str(row['writes']), str(row['failed']), str(row['retried']), fmt(row['gap']),
                      str(row['lost']) + (' (+%d rolled back)' % row['rolled_back'] if row['rolled_back'] else ''),
                      row['members'] or '-', row['healthy'] or '-'))
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = [
        'etcd_ops: operations under a background writer (real etcd, TLS, JSON gateway)',
        'writer: %d writes, one key each, round robin over the voting members (endpoints synced from the member list) with failover;'
        % len(writes),
        'a write FAILS when no endpoint acknowledged it within %.1f s; "retried" counts attempts that hit an unavailable endpoint'
        % args.deadline,
        'before another one acknowledged the write; "longest gap" is the longest time without an acknowledged write.',
        'keys lost: OK keys missing on at least one of the %d members read back (%s).' % (len(present), ', '.join(sorted(present))),
        '',
    ]
    for index, row in enumerate(table):
        lines.append(' | '.join(cell.ljust(widths[i]) for i, cell in enumerate(row)))
        if index == 0:
            lines.append('-+-'.join('-' * w for w in widths))
    lines.append('')
    if rolled_back:
        lines.append('%d keys were rolled back by the restore as expected: acknowledged after the snapshot was taken and before the '
                     'cluster was replaced by the restored one; no member has them.' % len(rolled_back))
    for row in rows[:-2]:
        if row['gap'] is not None and row['gap'] >= 1.0:
            lines.append('%s: no write was acknowledged for %.1f s, from %s to %s.' % (
                row['op'], row['gap'], clock(row['gap_from']), clock(row['gap_to'])))
        if row['failed'] and row['first_failure']:
            lines.append('%s: writes failed from %s to %s (%.1f s).' % (
                row['op'], clock(row['first_failure']), clock(row['last_failure']), row['last_failure'] - row['first_failure']))
    if lost:
        lines.append('')
        lines.append('LOST KEYS (first 20):')
        for write, missing in lost[:20]:
            lines.append('  %s rev %s via %s at %s, missing on %s' % (write['key'], write.get('rev'), write.get('endpoint'),
                                                                      clock(write['t1']), ', '.join(missing)))
    return lines


def fmt(value):
    return '-' if value is None else ('%.1f' % value if isinstance(value, float) else str(value))


def clock(stamp):
    return time.strftime('%H:%M:%S', time.gmtime(stamp)) + ('%.2f' % (stamp % 1))[1:]


# --------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--ca', required=True, help='CA bundle (re-read when it changes)')
    parser.add_argument('--cert', required=True, help='client certificate')
    parser.add_argument('--key', required=True, help='client key')
    parser.add_argument('--endpoint', dest='endpoints', action='append', required=True, help='client URL of a member (repeat)')
    sub = parser.add_subparsers(dest='command')
    sub.required = True
    p_write = sub.add_parser('write')
    p_write.add_argument('--log', required=True)
    p_write.add_argument('--interval', type=float, default=0.05, help='pause after each acknowledged write')
    p_write.add_argument('--deadline', type=float, default=5.0, help='seconds a write may take, failover included')
    p_write.add_argument('--attempt-timeout', type=float, default=2.0)
    p_write.add_argument('--max-seconds', type=float, default=3600, help='stop by itself after this long')
    p_write.add_argument('--sync-interval', type=float, default=2.0, help='seconds between endpoint syncs from the member list')
    p_mark = sub.add_parser('mark')
    p_mark.add_argument('--ops-log', required=True)
    p_mark.add_argument('--op', required=True)
    p_mark.add_argument('--event', choices=['start', 'end'], required=True)
    p_mark.add_argument('--note', action='append', help='name=value recorded with the event')
    p_wait = sub.add_parser('wait')
    p_wait.add_argument('--voters', type=int, required=True)
    p_wait.add_argument('--timeout', type=int, default=120)
    p_report = sub.add_parser('report')
    p_report.add_argument('--read-from', action='append', required=True, help='client URL of a member to read every key back from (repeat)')
    p_report.add_argument('--writer-log', required=True)
    p_report.add_argument('--ops-log', required=True)
    p_report.add_argument('--deadline', type=float, default=5.0, help='the writer\'s --deadline, for the legend')
    p_report.add_argument('--out')
    p_report.add_argument('--json-out')
    args = parser.parse_args(argv)
    socket.setdefaulttimeout(10)
    return {'write': write, 'mark': mark, 'wait': wait, 'report': report}[args.command](args)


if __name__ == '__main__':
    sys.exit(main())
