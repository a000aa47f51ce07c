# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE)
"""Background API watcher and its report, for the Molecule scenario cluster_ops.

Runs on the controller against the scenario's API endpoint (the server of the controller's
kubeconfig, with its client certificate), with the Python standard library and PyYAML.

  watch   lists Nodes (GET /api/v1/nodes) once a second until SIGTERM, through the kubeconfig's
          server and the --server endpoints in turn, as the nodes' haproxy fails over (a read fails
          only when no endpoint answers); each read is one JSON line: time, ok, endpoint, HTTP
          status or errors, milliseconds, number of Nodes.
  mark    appends an operation event (start or end) to the operations log.
  report  per operation window (and for the whole run): reads, failed reads, the longest gap
          between successful reads; as a Markdown table and as JSON (--json).
"""
from __future__ import absolute_import, division, print_function

import argparse
import base64
import json
import os
import signal
import ssl
import sys
import tempfile
import time
import http.client
from urllib.parse import urlsplit

import yaml


def load_kubeconfig(path):
    """(host, port, ssl context) from a kubeconfig with embedded certificate data."""
    with open(path) as handle:
        config = yaml.safe_load(handle)
    context_name = config.get('current-context')
    context = next(c['context'] for c in config['contexts'] if c['name'] == context_name)
    cluster = next(c['cluster'] for c in config['clusters'] if c['name'] == context['cluster'])
    user = next(u['user'] for u in config['users'] if u['name'] == context['user'])
    tmp = tempfile.mkdtemp(prefix='api-watch-')
    files = {}
    for name, key in (('ca', 'certificate-authority-data'), ('cert', 'client-certificate-data'), ('key', 'client-key-data')):
        source = cluster if name == 'ca' else user
        files[name] = os.path.join(tmp, name + '.pem')
        with os.fdopen(os.open(files[name], os.O_WRONLY | os.O_CREAT, 0o600), 'wb') as handle:
            handle.write(base64.b64decode(source[key]))
    ctx = ssl.create_default_context(cafile=files['ca'])
    ctx.load_cert_chain(files['cert'], files['key'])
    parts = urlsplit(cluster['server'])
    return parts.hostname, parts.port or 443, ctx


def _read(host, port, ctx, timeout):
    """(ok, status or error text, number of Nodes)."""
    conn = http.client.HTTPSConnection(host, port, context=ctx, timeout=timeout)
    try:
        conn.request('GET', '/api/v1/nodes?limit=500')
        answer = conn.getresponse()
        body = answer.read()
        if answer.status != 200:
            return False, 'HTTP %d' % answer.status, None
        return True, 200, len(json.loads(body).get('items') or [])
    except (OSError, ssl.SSLError, http.client.HTTPException, ValueError) as exc:
        return False, '%s: %s' % (type(exc).__name__, exc), None
    finally:
        conn.close()


def read_once(endpoints, ctx, timeout, first=0):
    """One read, through the endpoints in turn from ``first`` (as the nodes' haproxy fails over):
    it fails only when no endpoint answers."""
    start = time.time()
    entry = {'t': start, 'ok': False, 'errors': []}
    for step in range(len(endpoints)):
        index = (first + step) % len(endpoints)
        host, port = endpoints[index]
        ok, status, nodes = _read(host, port, ctx, timeout)
        if ok:
            entry.update(ok=True, status=status, nodes=nodes, endpoint='%s:%d' % (host, port), index=index)
            break
        entry['errors'].append('%s:%d %s' % (host, port, status))
    if not entry['ok']:
        entry['error'] = '; '.join(entry['errors'])
    entry['ms'] = round((time.time() - start) * 1000, 1)
    return entry


def watch(args):
    host, port, ctx = load_kubeconfig(args.kubeconfig)
    endpoints = [(host, port)]
    for server in args.server or []:
        parts = urlsplit(server)
        if (parts.hostname, parts.port or 443) not in endpoints:
            endpoints.append((parts.hostname, parts.port or 443))
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    deadline = time.time() + args.max_seconds
    first = 0
    with open(args.log, 'a') as log:
        while not stop and time.time() < deadline:
            began = time.time()
            entry = read_once(endpoints, ctx, args.timeout, first)
            first = entry.get('index', first)
            log.write(json.dumps(entry) + '\n')
            log.flush()
            left = args.interval - (time.time() - began)
            while left > 0 and not stop:
                time.sleep(min(left, 0.1))
                left = args.interval - (time.time() - began)
    return 0


def mark(args):
    with open(args.ops_log, 'a') as log:
        log.write(json.dumps({'t': time.time(), 'op': args.op, 'event': args.event}) + '\n')
    return 0


def load_lines(path):
    out = []
    if os.path.exists(path):
        with open(path) as handle:
            for line in handle:
                line = line.strip()
                if line:
                    out.append(json.loads(line))
    return out


def window_stats(reads, start, end):
    inside = [r for r in reads if start <= r['t'] <= end]
    ok_times = [r['t'] for r in inside if r['ok']]
    points = [start] + ok_times + [end]
    gap = max(b - a for a, b in zip(points, points[1:])) if len(points) > 1 else 0.0
    failed = [r for r in inside if not r['ok']]
    return {'reads': len(inside), 'failed': len(failed), 'longest_gap_s': round(gap, 1),
            'seconds': round(end - start, 1), 'errors': sorted(set(r.get('error') or str(r.get('status')) for r in failed))[:3]}


def report(args):
    reads = load_lines(args.log)
    events = load_lines(args.ops_log)
    if not reads:
        sys.stderr.write('no reads in %s\n' % args.log)
        return 1
    starts, rows = {}, []
    for event in events:
        if event['event'] == 'start':
            starts[event['op']] = event['t']
        elif event['op'] in starts:
            row = window_stats(reads, starts.pop(event['op']), event['t'])
            row['op'] = event['op']
            rows.append(row)
    total = window_stats(reads, reads[0]['t'], reads[-1]['t'])
    total['op'] = 'whole scenario'
    result = {'operations': rows, 'total': total}
    if args.json:
        print(json.dumps(result))
        return 0
    played = {}
    if args.rows:
        with open(args.rows) as handle:
            for row in json.load(handle):
                played[row['op']] = row
    print('| operation | time | rc | API reads | failed reads | longest gap | nodes changed | changed on the others |')
    print('|---|---|---|---|---|---|---|---|')
    for row in rows + [total]:
        run = played.get(row['op'])
        if run:
            recap = dict((host, int(n)) for host, n in (run.get('recap') or {}).items() if host != 'localhost')
            touched = sorted(host for host, n in recap.items() if n > 0)
            # The hosts the operation is not meant to change, and what it changed on them anyway.
            others = [host for host in recap if host not in (run.get('targets') or [])]
            cells = ('%.1f s' % run['seconds'], str(run['rc']), ', '.join(touched) or '-',
                     '%d on %d hosts' % (sum(recap[host] for host in others), len(others)))
        else:
            cells = ('%.1f s' % row['seconds'], '', '', '')
        values = (row['op'], cells[0], cells[1], row['reads'], row['failed'], row['longest_gap_s'], cells[2], cells[3])
        print('| %s | %s | %s | %d | %d | %.1f s | %s | %s |' % values)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest='command', required=True)
    p = sub.add_parser('watch')
    p.add_argument('--kubeconfig', required=True)
    p.add_argument('--log', required=True)
    p.add_argument('--interval', type=float, default=1.0)
    p.add_argument('--timeout', type=float, default=2.0)
    p.add_argument('--server', action='append', help='more API endpoints (https://HOST:PORT), tried after the kubeconfig\'s')
    p.add_argument('--max-seconds', type=float, default=3600)
    p.set_defaults(func=watch)
    p = sub.add_parser('mark')
    p.add_argument('--ops-log', required=True)
    p.add_argument('--op', required=True)
    p.add_argument('--event', choices=['start', 'end'], required=True)
    p.set_defaults(func=mark)
    p = sub.add_parser('report')
    p.add_argument('--log', required=True)
    p.add_argument('--ops-log', required=True)
    p.add_argument('--json', action='store_true')
    p.add_argument('--rows', help='JSON list of {op, seconds, rc, recap} of the operations (verify.yml)')
    p.set_defaults(func=report)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == '__main__':
    sys.exit(main())
