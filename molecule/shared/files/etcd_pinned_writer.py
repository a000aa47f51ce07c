# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE)
"""A lean background writer for Molecule scenarios: puts keys through fixed etcd endpoints.

Runs on the controller with the Python standard library only, through etcd's v3
JSON gateway over mutual TLS. Unlike a client with failover, every write is
pinned to one endpoint (round robin over --endpoint), so a failed write counts
against that endpoint: "0 failed writes on e2 and e3" means each of them took
every write sent to it.

  run     puts /<prefix>/<n> until SIGTERM (or --max-seconds). A write that an
          endpoint answers with an error or not at all is tried again on the
          same endpoint until --deadline seconds have passed since it began;
          then it FAILED. Every write is logged as one JSON line.
  report  reads the log, counts every acknowledged key through each endpoint
          (a range with count_only), and prints one JSON object: per endpoint
          writes, failed, retried, longest write (s), keys read back.
"""
from __future__ import absolute_import, division, print_function

import argparse
import base64
import http.client
import json
import signal
import ssl
import sys
import time
from urllib.parse import urlsplit


def b64(text):
    return base64.b64encode(text.encode('utf-8')).decode('ascii')


def prefix_end(prefix):
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def context(args):
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=args.ca)
    ctx.load_cert_chain(args.cert, args.key)
    return ctx


def post(ctx, endpoint, path, body, timeout):
    """POST JSON to one endpoint on a fresh connection; the answer, or an exception."""
    parts = urlsplit(endpoint)
    conn = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout, context=ctx)
    try:
        conn.request('POST', '/v3/' + path, body=json.dumps(body), headers={'Content-Type': 'application/json'})
        response = conn.getresponse()
        data = json.loads(response.read().decode('utf-8') or '{}')
    finally:
        conn.close()
    if response.status != 200 or 'error' in data:
        raise RuntimeError('HTTP %d: %s' % (response.status, data.get('message') or data.get('error')))
    return data


def run(args):
    ctx = context(args)
    stop = {'now': False}

    def on_term(signum, frame):  # pylint: disable=unused-argument
        stop['now'] = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    started = time.time()
    number = 0
    with open(args.log, 'a') as log:
        while not stop['now'] and time.time() - started < args.max_seconds:
            endpoint = args.endpoint[number % len(args.endpoint)]
            number += 1
            key = '%s/%08d' % (args.prefix, number)
            t0 = time.time()
            record = {'n': number, 'endpoint': endpoint, 'key': key, 't0': round(t0, 3), 'ok': False, 'errors': []}
            while time.time() - t0 < args.deadline:
                try:
                    post(ctx, endpoint, 'kv/put', {'key': b64(key), 'value': b64(str(t0))}, args.attempt_timeout)
                    record['ok'] = True
                    break
                except Exception as exc:  # pylint: disable=broad-except
                    record['errors'].append(str(exc)[:160])
                    time.sleep(0.2)
            record['seconds'] = round(time.time() - t0, 3)
            log.write(json.dumps(record) + '\n')
            log.flush()
            time.sleep(args.interval)
    return 0


def report(args):
    ctx = context(args)
    stats = {}
    with open(args.log) as log:
        records = [json.loads(line) for line in log if line.strip()]
    for endpoint in args.endpoint:
        mine = [r for r in records if r['endpoint'] == endpoint]
        try:
            answer = post(ctx, endpoint, 'kv/range', {'key': b64(args.prefix + '/'), 'range_end': b64(prefix_end(args.prefix + '/')),
                                                      'count_only': True}, args.attempt_timeout)
            read_back = int(answer.get('count') or 0)
        except Exception as exc:  # pylint: disable=broad-except
            read_back = 'error: %s' % exc
        stats[endpoint] = {
            'writes': len(mine),
            'failed': len([r for r in mine if not r['ok']]),
            'retried': len([r for r in mine if r['errors']]),
            'longest_s': max([r['seconds'] for r in mine] or [0]),
            'read_back': read_back,
        }
    out = {'endpoints': stats, 'acknowledged': len([r for r in records if r['ok']]),
           'errors': sorted(set(e for r in records for e in r['errors']))[:10]}
    print(json.dumps(out, sort_keys=True))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('action', choices=['run', 'report'])
    parser.add_argument('--ca', required=True)
    parser.add_argument('--cert', required=True)
    parser.add_argument('--key', required=True)
    parser.add_argument('--endpoint', action='append', required=True)
    parser.add_argument('--log', required=True)
    parser.add_argument('--prefix', default='/ironstone-writer')
    parser.add_argument('--deadline', type=float, default=10.0)
    parser.add_argument('--attempt-timeout', type=float, default=3.0)
    parser.add_argument('--interval', type=float, default=0.1)
    parser.add_argument('--max-seconds', type=float, default=600)
    args = parser.parse_args(argv)
    return run(args) if args.action == 'run' else report(args)


if __name__ == '__main__':
    sys.exit(main())
