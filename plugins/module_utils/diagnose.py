# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

# The decisions of playbooks/diagnose.yml and playbooks/netdebug.yml (role diagnose), as pure
# functions on the JSON that kubectl, etcdctl and kubeadm print:
#
# - pods_to_describe / restarted_containers: what to collect beyond the listings;
# - summary: NotReady nodes, CrashLoopBackOff pods with their last exit reason, Pending pods
#   with their scheduling reason, PVCs not Bound, unhealthy etcd members, certificates that
#   expire within the window, and the hosts that could not be reached;
# - summary_lines: the summary as the playbook prints it;
# - netdebug_target: the checks of -e pod=NS/NAME and the container to enter.

import datetime
import json
import re

from ansible_collections.ironstone.k8s.plugins.module_utils.kubeadm import cert_expiry

NAME_RE = re.compile(r'^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$')


class DiagnoseError(ValueError):
    """An input the diagnosis cannot use; the message says which and why."""


def _items(doc, what):
    if doc is None or (isinstance(doc, str) and not doc.strip()):
        return []
    if isinstance(doc, str):
        try:
            doc = json.loads(doc)
        except ValueError:
            return []  # kubectl failed; its error is in the collection's errors.txt
    if isinstance(doc, dict):
        doc = doc.get('items', [])
    if not isinstance(doc, list):
        raise DiagnoseError('%s must be a list of objects or a kubectl List, not %s' % (what, type(doc).__name__))
    return [item for item in doc if isinstance(item, dict)]


def _meta(obj):
    return obj.get('metadata') or {}


def _ref(obj):
    meta = _meta(obj)
    return '%s/%s' % (meta.get('namespace', ''), meta.get('name', '')) if meta.get('namespace') else meta.get('name', '')


def _condition(obj, kind):
    for cond in (obj.get('status') or {}).get('conditions') or []:
        if cond.get('type') == kind:
            return cond
    return None


def _all_statuses(pod):
    status = pod.get('status') or {}
    return list(status.get('initContainerStatuses') or []) + list(status.get('containerStatuses') or [])


def pod_running_ready(pod):
    """True when the pod is Running and its Ready condition is True (or it Succeeded)."""
    phase = (pod.get('status') or {}).get('phase')
    if phase == 'Succeeded':
        return True
    ready = _condition(pod, 'Ready')
    return phase == 'Running' and ready is not None and ready.get('status') == 'True'


def pods_to_describe(pods):
    """[{namespace, name}] of the pods that are not Running and Ready, sorted."""
    out = [{'namespace': _meta(p).get('namespace', 'default'), 'name': _meta(p).get('name', '')}
           for p in _items(pods, 'pods') if not pod_running_ready(p)]
    return sorted(out, key=lambda r: (r['namespace'], r['name']))


def restarted_containers(pods):
    """[{namespace, pod, container, restarts}] of every container with restartCount > 0."""
    out = []
    for pod in _items(pods, 'pods'):
        for status in _all_statuses(pod):
            if int(status.get('restartCount') or 0) > 0:
                out.append({'namespace': _meta(pod).get('namespace', 'default'), 'pod': _meta(pod).get('name', ''),
                            'container': status.get('name', ''), 'restarts': int(status['restartCount'])})
    return sorted(out, key=lambda r: (r['namespace'], r['pod'], r['container']))


def _last_event(events, kind, namespace, name, reasons=None):
    best = None
    for event in events:
        obj = event.get('involvedObject') or {}
        if obj.get('kind') != kind or obj.get('name') != name or (namespace and obj.get('namespace') != namespace):
            continue
        if reasons and event.get('reason') not in reasons:
            continue
        stamp = event.get('lastTimestamp') or event.get('eventTime') or (event.get('metadata') or {}).get('creationTimestamp') or ''
        if best is None or stamp >= best[0]:
            best = (stamp, event)
    return best[1] if best else None


def not_ready_nodes(nodes):
    out = []
    for node in _items(nodes, 'nodes'):
        ready = _condition(node, 'Ready')
        if ready is not None and ready.get('status') == 'True':
            continue
        if ready is None:
            why = 'no Ready condition (the kubelet never reported)'
        else:
            why = '%s: %s' % (ready.get('reason') or 'Ready=%s' % ready.get('status'), ready.get('message') or '')
        pressure = [c['type'] for c in (node.get('status') or {}).get('conditions') or []
                    if c.get('type') in ('MemoryPressure', 'DiskPressure', 'PIDPressure') and c.get('status') == 'True']
        out.append({'name': _meta(node).get('name', ''), 'reason': why.strip().rstrip(':'), 'pressure': pressure})
    return sorted(out, key=lambda r: r['name'])


def crashloop_pods(pods):
    out = []
    for pod in _items(pods, 'pods'):
        for status in _all_statuses(pod):
            waiting = (status.get('state') or {}).get('waiting') or {}
            if waiting.get('reason') != 'CrashLoopBackOff':
                continue
            last = (status.get('lastState') or {}).get('terminated') or {}
            out.append({'namespace': _meta(pod).get('namespace', ''), 'name': _meta(pod).get('name', ''),
                        'container': status.get('name', ''), 'restarts': int(status.get('restartCount') or 0),
                        'exit_code': last.get('exitCode'), 'reason': last.get('reason') or '',
                        'finished': last.get('finishedAt') or '', 'node': (pod.get('spec') or {}).get('nodeName') or ''})
    return sorted(out, key=lambda r: (r['namespace'], r['name'], r['container']))


def pending_pods(pods, events):
    out = []
    for pod in _items(pods, 'pods'):
        if (pod.get('status') or {}).get('phase') != 'Pending':
            continue
        meta = _meta(pod)
        scheduled = _condition(pod, 'PodScheduled')
        if scheduled is not None and scheduled.get('status') == 'False':
            reason = '%s: %s' % (scheduled.get('reason') or 'Unschedulable', scheduled.get('message') or '')
        elif scheduled is None and not (pod.get('spec') or {}).get('nodeName'):
            event = _last_event(events, 'Pod', meta.get('namespace'), meta.get('name'), ('FailedScheduling',))
            reason = ('FailedScheduling: %s' % event.get('message', '')) if event else 'not scheduled: no scheduler has looked at it yet'
        else:
            waiting = [s for s in _all_statuses(pod) if (s.get('state') or {}).get('waiting')]
            if waiting:
                state = waiting[0]['state']['waiting']
                reason = 'scheduled on %s; container %s waiting: %s %s' % (
                    (pod.get('spec') or {}).get('nodeName'), waiting[0].get('name'), state.get('reason', ''), state.get('message', ''))
            else:
                reason = 'scheduled on %s; the kubelet has not started it' % (pod.get('spec') or {}).get('nodeName')
        out.append({'namespace': meta.get('namespace', ''), 'name': meta.get('name', ''), 'reason': reason.strip().rstrip(':')})
    return sorted(out, key=lambda r: (r['namespace'], r['name']))


def waiting_pvcs(pvcs, events):
    out = []
    for pvc in _items(pvcs, 'pvcs'):
        phase = (pvc.get('status') or {}).get('phase') or 'Pending'
        if phase == 'Bound':
            continue
        meta = _meta(pvc)
        event = _last_event(events, 'PersistentVolumeClaim', meta.get('namespace'), meta.get('name'))
        reason = ('%s: %s' % (event.get('reason', ''), event.get('message', ''))) if event else 'no event'
        out.append({'namespace': meta.get('namespace', ''), 'name': meta.get('name', ''), 'phase': phase, 'reason': reason})
    return sorted(out, key=lambda r: (r['namespace'], r['name']))


def etcd_unhealthy(etcd):
    """Rows of unhealthy members from {host, rc, stdout, stderr} of `etcdctl endpoint health --cluster -w json`."""
    if not etcd:
        return [{'endpoint': '(none)', 'error': 'etcd health was not collected: no etcd member answered'}]
    out = []
    text = (etcd.get('stdout') or '').strip()
    rows = []
    if text:
        try:
            rows = json.loads(text)
        except ValueError:
            rows = []
            out.append({'endpoint': '(etcdctl on %s)' % etcd.get('host', '?'), 'error': 'unreadable output: %s' % text[:200]})
    if not isinstance(rows, list):
        rows = []
    for row in rows:
        if isinstance(row, dict) and not row.get('health'):
            out.append({'endpoint': row.get('endpoint', '?'), 'error': row.get('error') or 'unhealthy'})
    if not rows and not out:
        out.append({'endpoint': '(etcdctl on %s)' % etcd.get('host', '?'),
                    'error': (etcd.get('stderr') or etcd.get('msg') or 'no answer').strip()[:300]})
    elif etcd.get('rc') not in (0, None):
        # etcdctl exits 1 when a member is unhealthy; the rows say which. Add stderr when no row did.
        if not out:
            out.append({'endpoint': '(etcdctl on %s)' % etcd.get('host', '?'), 'error': (etcd.get('stderr') or '').strip()[:300]})
    return out


def _now(now):
    if now in (None, ''):
        return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    if isinstance(now, datetime.datetime):
        return now if now.tzinfo else now.replace(tzinfo=datetime.timezone.utc)
    try:
        return datetime.datetime.strptime(now, '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError):
        raise DiagnoseError('now must be a time like 2026-01-31T12:00:00Z, not %r' % (now,))


def slurped_files(results):
    """The etcd certificate files as cert_expiry.etcd_certificates takes them, from a loop of slurp results."""
    files = []
    for result in results or []:
        item = result.get('item') if isinstance(result, dict) else None
        if not isinstance(item, dict):
            files.append(result)
            continue
        entry = {'name': item.get('name'), 'path': item.get('path')}
        if result.get('content') is not None and not result.get('failed'):
            entry['content'] = result['content']
        else:
            msg = str(result.get('msg') or 'not found')
            entry['error'] = 'not found' if 'not found' in msg or 'No such file' in msg else msg
        files.append(entry)
    return files


def etcd_cert_files(pki_dir, member):
    """(name, path) dicts of the etcd role's certificates on a node (cert_expiry's list)."""
    try:
        return cert_expiry.etcd_files(pki_dir, bool(member))
    except cert_expiry.CertExpiryError as err:
        raise DiagnoseError(str(err))


def expiring_certificates(certs, days=30, now=None):
    """Certificates expiring within ``days``, from per-host {host, check_expiration (text or ''), etcd (slurped files),
    error}; rows {host, name, source, expires, days_left}, plus a row per host whose report could not be read."""
    moment = _now(now)
    out = []
    for item in certs or []:
        host = item.get('host', '?')
        entries = []
        if item.get('check_expiration'):
            try:
                parsed = cert_expiry.parse_check_expiration(item['check_expiration'])
                entries += [dict(e, source='kubeadm') for e in parsed['certificates'] + parsed['authorities']]
            except cert_expiry.CertExpiryError as err:
                out.append({'host': host, 'name': '(kubeadm certs check-expiration)', 'source': 'kubeadm', 'expires': '',
                            'days_left': None, 'note': str(err)})
        elif item.get('error'):
            out.append({'host': host, 'name': '(kubeadm certs check-expiration)', 'source': 'kubeadm', 'expires': '',
                        'days_left': None, 'note': item['error']})
        if item.get('etcd'):
            entries += [dict(e, source='etcd') for e in cert_expiry.etcd_certificates(slurped_files(item['etcd']))]
        for entry in entries:
            if entry.get('missing') or not entry.get('expires'):
                if entry.get('source') == 'etcd' and entry.get('error') not in (None, 'not found'):
                    out.append({'host': host, 'name': entry['name'], 'source': 'etcd', 'expires': '', 'days_left': None,
                                'note': entry['error']})
                continue
            expires = datetime.datetime.strptime(entry['expires'], '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc)
            left = (expires - moment).total_seconds()
            if left < days * 86400:
                out.append({'host': host, 'name': entry['name'], 'source': entry['source'], 'expires': entry['expires'],
                            'days_left': int(left // 86400), 'note': 'expired' if left < 0 else 'expires within %dd' % days})
    return sorted(out, key=lambda r: (r['host'], r['name']))


def summary(pods, nodes, pvcs, events, etcd=None, certs=None, unreachable=None, days=30, now=None, api_errors=''):
    """Everything the summary shows, as lists of dicts (see the module comment)."""
    event_list = _items(events, 'events')
    return {
        'api_errors': [line.strip() for line in str(api_errors or '').splitlines() if line.strip()],
        'not_ready_nodes': not_ready_nodes(nodes),
        'crashloop_pods': crashloop_pods(pods),
        'pending_pods': pending_pods(pods, event_list),
        'waiting_pvcs': waiting_pvcs(pvcs, event_list),
        'etcd_unhealthy': etcd_unhealthy(etcd),
        'expiring_certificates': expiring_certificates(certs, days, now),
        'unreachable_hosts': sorted(set(unreachable or [])),
        'window_days': days,
    }


def summary_lines(result):
    """The summary as printed: one heading per check, with 'none' or one line per finding."""
    def section(title, rows, fmt):
        lines = ['%s: %s' % (title, 'none' if not rows else len(rows))]
        lines += ['  - ' + fmt(r) for r in rows]
        return lines

    lines = []
    lines += section('kubectl calls that failed', [{'e': e} for e in result.get('api_errors', [])], lambda r: r['e'])
    lines += section('Unreachable hosts (not collected)', [{'h': h} for h in result['unreachable_hosts']], lambda r: r['h'])
    lines += section('NotReady nodes', result['not_ready_nodes'],
                     lambda r: '%s: %s%s' % (r['name'], r['reason'], (' (pressure: %s)' % ', '.join(r['pressure'])) if r['pressure'] else ''))
    lines += section('CrashLoopBackOff pods', result['crashloop_pods'],
                     lambda r: '%s/%s container %s on %s: %d restarts, last exit code %s (%s)%s' % (
                         r['namespace'], r['name'], r['container'], r['node'] or '?', r['restarts'], r['exit_code'],
                         r['reason'] or 'no reason', (' at %s' % r['finished']) if r['finished'] else ''))
    lines += section('Pending pods', result['pending_pods'], lambda r: '%s/%s: %s' % (r['namespace'], r['name'], r['reason']))
    lines += section('PVCs not Bound', result['waiting_pvcs'],
                     lambda r: '%s/%s (%s): %s' % (r['namespace'], r['name'], r['phase'], r['reason']))
    lines += section('Unhealthy etcd members', result['etcd_unhealthy'], lambda r: '%s: %s' % (r['endpoint'], r['error']))
    lines += section('Certificates expiring within %dd' % result['window_days'], result['expiring_certificates'],
                     lambda r: '%s %s (%s): %s%s' % (r['host'], r['name'], r['source'], r['note'],
                                                     (', %s, %dd left' % (r['expires'], r['days_left'])) if r['expires'] else ''))
    return lines


def parse_pod_ref(value):
    """'NS/NAME' -> (ns, name); refuses anything else with the reason."""
    if value is None or not str(value).strip():
        raise DiagnoseError('netdebug needs the pod to capture on: -e pod=NAMESPACE/NAME')
    text = str(value).strip()
    parts = text.split('/')
    if len(parts) != 2 or not all(parts):
        raise DiagnoseError('pod must be NAMESPACE/NAME, not %r' % text)
    for part in parts:
        if len(part) > 253 or not NAME_RE.match(part):
            raise DiagnoseError('pod must be NAMESPACE/NAME of lower-case DNS names, not %r' % text)
    return parts[0], parts[1]


def netdebug_options(count, seconds, capture_filter):
    """The validated bounds and filter of a capture."""
    def whole(value, name, low, high):
        if isinstance(value, bool):
            raise DiagnoseError('%s must be a whole number, not %r' % (name, value))
        try:
            number = int(str(value).strip())
        except (TypeError, ValueError):
            raise DiagnoseError('%s must be a whole number, not %r' % (name, value))
        if not low <= number <= high:
            raise DiagnoseError('%s must be between %d and %d, not %d' % (name, low, high, number))
        return number

    text = '' if capture_filter is None else str(capture_filter)
    if '\n' in text or len(text) > 1000:
        raise DiagnoseError('filter must be one line of pcap-filter syntax, not %r' % text[:80])
    return {'count': whole(count, 'count', 1, 1000000), 'seconds': whole(seconds, 'seconds', 1, 3600),
            'filter': text.split()}


def netdebug_target(pod, ref, container=''):
    """{namespace, name, node, container, container_id} of a running pod's container, or DiagnoseError."""
    if not isinstance(pod, dict) or not pod:
        raise DiagnoseError('pod %s not found' % ref)
    status = pod.get('status') or {}
    node = (pod.get('spec') or {}).get('nodeName')
    if not node:
        raise DiagnoseError('pod %s is not scheduled on a node (phase %s)' % (ref, status.get('phase', '?')))
    if status.get('phase') != 'Running':
        raise DiagnoseError('pod %s is not running (phase %s)' % (ref, status.get('phase', '?')))
    running = [s for s in status.get('containerStatuses') or [] if 'running' in (s.get('state') or {}) and s.get('containerID')]
    if container:
        chosen = [s for s in running if s.get('name') == container]
        if not chosen:
            raise DiagnoseError('container %s of pod %s is not running (running: %s)' % (
                container, ref, ', '.join(s.get('name', '') for s in running) or 'none'))
    else:
        chosen = running
        if not chosen:
            raise DiagnoseError('pod %s has no running container' % ref)
    cid = chosen[0]['containerID']
    return {'namespace': _meta(pod).get('namespace'), 'name': _meta(pod).get('name'), 'node': node,
            'container': chosen[0].get('name'), 'container_id': cid.split('://', 1)[-1], 'runtime': cid.split('://', 1)[0]}
