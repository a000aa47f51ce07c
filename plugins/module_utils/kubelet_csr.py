# -*- coding: utf-8 -*-
# Copyright: ironstone.k8s contributors
# Apache License 2.0 (see LICENSE), a license compatible with the GNU General Public License version 3.
"""Which kubelet serving-certificate requests may be approved.

A kubelet with ``serverTLSBootstrap: true`` asks for its serving certificate with a
CertificateSigningRequest of the signer ``kubernetes.io/kubelet-serving``. Kubernetes signs
approved ones with the cluster CA (kube-controller-manager's csrsigning controller) but never
approves them itself: the requester names its own SANs, so whoever approves must check them.

``decide(csr, nodes, allowed)`` checks one request, as the API server's JSON gives it, against the
Node objects of the cluster and the node names the caller allows. A request is approved only when
every one of these holds, and refused with the first reason otherwise:

- the signer is ``kubernetes.io/kubelet-serving`` and the request is still pending (no Approved,
  Denied or Failed condition, no certificate);
- the requester (``spec.username``, set by the API server from the credentials that created it) is
  ``system:node:<name>`` for a ``<name>`` in ``allowed``, the Node exists, and ``spec.groups`` has
  ``system:nodes``;
- the PEM request parses, its signature is valid, and its subject is exactly
  ``O=system:nodes, CN=system:node:<name>`` for that same ``<name>``;
- it asks for no extension but subjectAltName, whose entries are only DNS names and IP addresses,
  at least one, each one reported by the Node in ``status.addresses`` (DNS names: Hostname,
  InternalDNS, ExternalDNS; IPs: InternalIP, ExternalIP);
- ``spec.usages`` is exactly digital signature and server auth, with key encipherment optional.

Plain Python over dicts; ``cryptography`` parses the x509 request.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import binascii
import ipaddress
import traceback

try:
    from cryptography import x509
    from cryptography.x509.oid import ExtensionOID, NameOID
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError:
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()

SIGNER = 'kubernetes.io/kubelet-serving'
NODE_USER_PREFIX = 'system:node:'
NODES_GROUP = 'system:nodes'
REQUIRED_USAGES = frozenset(('digital signature', 'server auth'))
OPTIONAL_USAGES = frozenset(('key encipherment',))
DNS_ADDRESS_TYPES = ('Hostname', 'InternalDNS', 'ExternalDNS')
IP_ADDRESS_TYPES = ('InternalIP', 'ExternalIP')
# The condition written on approval (as `kubectl certificate approve` writes KubectlApprove).
APPROVAL_REASON = 'IronstoneKubeletServingApprove'
APPROVAL_MESSAGE = ('Approved by ironstone.k8s.kubelet_serving_csr: the requester is the node it names, in system:nodes, '
                    'and every SAN is an address of that Node.')


def conditions(csr):
    """The condition types of a request whose status is True."""
    status = csr.get('status') or {}
    return set(c.get('type') for c in status.get('conditions') or [] if str(c.get('status', 'True')) == 'True')


def state(csr):
    """'issued', 'approved' (not signed yet), 'denied', 'failed' or 'pending'."""
    found = conditions(csr)
    if 'Denied' in found:
        return 'denied'
    if 'Failed' in found:
        return 'failed'
    if (csr.get('status') or {}).get('certificate'):
        return 'issued'
    if 'Approved' in found:
        return 'approved'
    return 'pending'


def requester(csr):
    """spec.username, or '' when absent."""
    return str((csr.get('spec') or {}).get('username') or '')


def node_of(csr):
    """The node name of a requester system:node:<name>, or None."""
    user = requester(csr)
    if user.startswith(NODE_USER_PREFIX) and len(user) > len(NODE_USER_PREFIX):
        return user[len(NODE_USER_PREFIX):]
    return None


def node_addresses(node):
    """(DNS names, IP addresses) a Node reports in status.addresses; IPs as ipaddress objects."""
    names, ips = set(), set()
    for entry in ((node or {}).get('status') or {}).get('addresses') or []:
        kind, value = entry.get('type'), str(entry.get('address') or '')
        if not value:
            continue
        if kind in DNS_ADDRESS_TYPES:
            names.add(value.lower())
        elif kind in IP_ADDRESS_TYPES:
            try:
                ips.add(ipaddress.ip_address(value))
            except ValueError:
                pass
    return names, ips


def _subject_problem(request, name):
    attributes = list(request.subject)
    common = [a.value for a in attributes if a.oid == NameOID.COMMON_NAME]
    organization = [a.value for a in attributes if a.oid == NameOID.ORGANIZATION_NAME]
    others = [a.oid.dotted_string for a in attributes if a.oid not in (NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME)]
    wanted = NODE_USER_PREFIX + name
    if common != [wanted] or organization != [NODES_GROUP] or others:
        return ('its x509 subject is %s, not O=%s, CN=%s'
                % (request.subject.rfc4514_string() or 'empty', NODES_GROUP, wanted))
    return None


def _sans(request):
    """(DNS names, IP strings, other entries) of the request's subjectAltName, and other requested extensions."""
    dns, ips, other, extensions = [], [], [], []
    for extension in request.extensions:
        if extension.oid != ExtensionOID.SUBJECT_ALTERNATIVE_NAME:
            extensions.append(getattr(extension.oid, '_name', None) or extension.oid.dotted_string)
            continue
        for entry in extension.value:
            if isinstance(entry, x509.DNSName):
                dns.append(entry.value)
            elif isinstance(entry, x509.IPAddress):
                ips.append(entry.value)
            else:
                other.append('%s %s' % (type(entry).__name__, entry.value))
    return dns, ips, other, extensions


def load_request(csr):
    """The x509 request of spec.request (base64 of PEM, as the API returns it), or raise ValueError."""
    raw = (csr.get('spec') or {}).get('request') or ''
    try:
        pem = base64.b64decode(raw, validate=True) if isinstance(raw, str) else bytes(raw)
    except (binascii.Error, ValueError):
        raise ValueError('spec.request is not base64') from None
    try:
        return x509.load_pem_x509_csr(pem)
    except ValueError:
        raise ValueError('spec.request is not a PEM certificate request') from None


def sans_of(csr):
    """{'dns': [...], 'ip': [...]} of a request, or empty lists when it does not parse (for reports)."""
    try:
        dns, ips, _other, _ext = _sans(load_request(csr))
    except ValueError:
        return {'dns': [], 'ip': []}
    return {'dns': dns, 'ip': [str(ip) for ip in ips]}


def decide(csr, nodes, allowed):
    """(True, '') when the request may be approved, else (False, reason): one clause naming what is wrong.

    ``nodes`` maps node names to Node objects (the cluster's), ``allowed`` is the node names the caller
    approves requests for.
    """
    spec = csr.get('spec') or {}
    if spec.get('signerName') != SIGNER:
        return False, 'its signer is %s, not %s' % (spec.get('signerName') or 'unset', SIGNER)
    current = state(csr)
    if current != 'pending':
        return False, 'it is already %s' % current
    user = requester(csr)
    name = node_of(csr)
    if name is None:
        return False, 'its requester %s is not a node (system:node:<name>)' % (user or '(unset)')
    if name not in set(allowed or ()):
        return False, 'its requester %s is not one of the nodes this run approves for' % user
    if name not in (nodes or {}):
        return False, 'its requester %s names a Node that does not exist' % user
    if NODES_GROUP not in (spec.get('groups') or []):
        return False, 'its requester %s is not in the group %s' % (user, NODES_GROUP)
    try:
        request = load_request(csr)
    except ValueError as exc:
        return False, str(exc)
    if not request.is_signature_valid:
        return False, 'the signature of its x509 request is not valid'
    problem = _subject_problem(request, name)
    if problem:
        return False, problem
    dns, ips, other, extensions = _sans(request)
    if extensions:
        return False, 'it asks for extensions other than subjectAltName (%s)' % ', '.join(sorted(extensions))
    if other:
        return False, 'its subjectAltName has entries that are neither DNS names nor IP addresses (%s)' % ', '.join(other)
    if not dns and not ips:
        return False, 'it names no DNS name or IP address'
    known_names, known_ips = node_addresses(nodes[name])
    foreign = [d for d in dns if d.lower() not in known_names] + [str(ip) for ip in ips if ip not in known_ips]
    if foreign:
        return False, ('it asks for %s, which the Node %s does not report in status.addresses'
                       % (', '.join(foreign), name))
    usages = list(spec.get('usages') or [])
    given = set(usages)
    if len(given) != len(usages) or not REQUIRED_USAGES <= given or given - REQUIRED_USAGES - OPTIONAL_USAGES:
        return False, ('its usages are %s, not digital signature and server auth (key encipherment optional)'
                       % (', '.join(usages) or 'none'))
    return True, ''


def approved(csr, now):
    """A copy of ``csr`` with the Approved condition added, as the body of its approval subresource."""
    body = dict(csr)
    status = dict(body.get('status') or {})
    entries = [c for c in status.get('conditions') or [] if c.get('type') != 'Approved']
    entries.append({'type': 'Approved', 'status': 'True', 'reason': APPROVAL_REASON, 'message': APPROVAL_MESSAGE,
                    'lastUpdateTime': now, 'lastTransitionTime': now})
    status['conditions'] = entries
    body['status'] = status
    return body


def plan(csrs, nodes, allowed):
    """Every kubelet-serving request sorted into what to do with it.

    Returns {'approve': [...], 'refuse': [...], 'done': [...]}: entries of name, node, requester, sans,
    usages and (refused ones) reason. Requests of other signers are left out; requests that are no
    longer pending (approved, issued, denied, failed) are listed in 'done' with their state.
    """
    out = {'approve': [], 'refuse': [], 'done': []}
    for csr in sorted(csrs or [], key=lambda c: ((c.get('metadata') or {}).get('creationTimestamp') or '',
                                                 (c.get('metadata') or {}).get('name') or '')):
        spec = csr.get('spec') or {}
        if spec.get('signerName') != SIGNER:
            continue
        entry = {'name': (csr.get('metadata') or {}).get('name'), 'node': node_of(csr), 'requester': requester(csr),
                 'usages': list(spec.get('usages') or []), 'sans': sans_of(csr)}
        current = state(csr)
        if current != 'pending':
            entry['state'] = current
            out['done'].append(entry)
            continue
        ok, reason = decide(csr, nodes, allowed)
        if ok:
            out['approve'].append(entry)
        else:
            entry['reason'] = reason
            out['refuse'].append(entry)
    return out


def nodes_without_certificate(csrs, allowed):
    """The allowed node names with no kubelet-serving request that is approved or issued."""
    served = set()
    for csr in csrs or []:
        if (csr.get('spec') or {}).get('signerName') == SIGNER and state(csr) in ('approved', 'issued'):
            served.add(node_of(csr))
    return sorted(n for n in set(allowed or ()) if n not in served)
